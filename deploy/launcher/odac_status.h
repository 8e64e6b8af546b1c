/* odac_status: the launcher's `odac status ENDPOINT` command (see odac_status.c). */
#ifndef ODAC_STATUS_H
#define ODAC_STATUS_H

/* argv[0] is "status"; returns the exit status (0: answered; 1: no answer or a refused answer;
 * 2: bad flags). */
int odac_status_main(int argc, char **argv);

#endif
