/* learner_server: the odac-learner process around learner_core. It takes the run configuration
 * (flags, ODAC_* environment, JSON config), keeps batch requests in flight to every replay shard,
 * runs ODAC updates, publishes policy weights to the actors, collects their stats and evaluation
 * reports, writes runs/<run-id>/{variant.json, progress.csv, learner.ckpt}, and stops the run on
 * success or at its env-step budget. */
#ifndef ODAC_LEARNER_SERVER_H
#define ODAC_LEARNER_SERVER_H

/* The file runs/<run-id>/LEARNER_FINISHED_FILE holds why the run finished (stop rule or
 * budget); it is written before the actors are told and removed when a learner starts, so
 * exit 0 with it means "run finished", without it "stopped" (a signal). */
#define LEARNER_FINISHED_FILE "run_finished"

/* The whole process: returns its exit status (0: run finished or stopped by a signal after a
 * checkpoint; 2: bad configuration; 1: runtime failure). */
int learner_server_main(int argc, char **argv);

#endif
