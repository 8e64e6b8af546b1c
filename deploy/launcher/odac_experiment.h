/* odac_experiment: the launcher's `odac experiment SPEC|PRESET` and `odac plot RUN_DIR...`
 * commands (see odac_experiment.c). */
#ifndef ODAC_EXPERIMENT_H
#define ODAC_EXPERIMENT_H

/* argv[0] is "experiment"; returns the exit status (0: every cell finished and the results are
 * written; 1: a cell failed or the results could not be written; 2: a bad spec or flags, nothing
 * started; 130: stopped by a signal, run it again to go on). */
int odac_experiment_main(int argc, char **argv);

/* argv[0] is "plot"; 0: written; 1: a run could not be read or a result not written; 2: flags. */
int odac_plot_main(int argc, char **argv);

#endif
