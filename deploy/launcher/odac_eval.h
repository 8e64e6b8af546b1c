/* odac_eval: the launcher's `odac eval RUN_DIR|CHECKPOINT` command (see odac_eval.c). */
#ifndef ODAC_EVAL_H
#define ODAC_EVAL_H

/* argv[0] is "eval"; returns the exit status (0: evaluated; 1: the checkpoint or run cannot be
 * used; 2: bad flags). */
int odac_eval_main(int argc, char **argv);

#endif
