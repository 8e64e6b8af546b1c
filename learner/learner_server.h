/* learner_server: the odac-learner process around learner_core. It takes the run configuration
 * (flags, ODAC_* environment, JSON config), keeps batch requests in flight to every replay shard,
 * runs ODAC updates, publishes policy weights to the actors, collects their stats and evaluation
 * reports, writes runs/<run-id>/{variant.json, progress.csv, learner.ckpt}, and stops the run on
 * success or at its env-step budget. */
#ifndef ODAC_LEARNER_SERVER_H
#define ODAC_LEARNER_SERVER_H
#include "env.h"
#include "learner_core.h"
#include <stddef.h>
#include <stdint.h>

/* The file runs/<run-id>/LEARNER_FINISHED_FILE holds why the run finished (stop rule or
 * budget); it is written before the actors are told and removed when a learner starts, so
 * exit 0 with it means "run finished", without it "stopped" (a signal). */
#define LEARNER_FINISHED_FILE "run_finished"

/* The run's counters, kept in learner.ckpt as the record of learner_save_with (read it back
 * with learner_load_with and sizeof this struct): publish_version is the version of the last
 * weights published before the save (the checkpoint's policy may have had updates since). */
typedef struct {
    double wall_time_s;
    uint64_t env_steps, publish_version;
    double best_eval; /* best evaluation final distance mean so far (INFINITY: none) */
} learner_progress_record_t;

/* What odac-learner would train with for this command line (argv[0] skipped; flags, ODAC_*
 * environment, --config file, e.g. {"odac-learner", "--config=RUN/variant.json"}): the learner
 * config and the env's spec, parsed and validated as the process does. 0, or -1 with a message. */
int learner_server_parse_config(int argc, char **argv, learner_config_t *cfg, env_spec_t *spec,
                                char *err, size_t errcap);

/* The whole process: returns its exit status (0: run finished or stopped by a signal after a
 * checkpoint; 2: bad configuration; 1: runtime failure). */
int learner_server_main(int argc, char **argv);

#endif
