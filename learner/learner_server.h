/* learner_server: the odac-learner process around learner_core. It takes the run configuration
 * (flags, ODAC_* environment, JSON config), keeps batch requests in flight to every replay shard,
 * runs ODAC updates, publishes policy weights to the actors, collects their stats and evaluation
 * reports, writes runs/<run-id>/{variant.json, progress.csv, learner.ckpt}, and stops the run on
 * success or at its env-step budget. */
#ifndef ODAC_LEARNER_SERVER_H
#define ODAC_LEARNER_SERVER_H
#include "env.h"
#include "learner_core.h"
#include "learner_options.h"
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

typedef struct learner_server learner_server_t;

/* Sets a run up from an odac-learner command line (argv[0] skipped; flags, ODAC_* environment,
 * --config file; learner_options.h): validates it, creates runs/<run-id>, restores the checkpoint
 * with --resume, binds and connects the sockets. NULL when there is nothing to run, with the
 * process's exit status in *exit_code: 0 after --help or --check, 2 for a bad configuration, 1 when
 * resuming or the loop failed (each logged). handle_signals: SIGTERM/SIGINT stop the run. */
learner_server_t *learner_server_new(int argc, char **argv, int handle_signals, int *exit_code);
/* Trains until the run finishes (stop rule or budget: LEARNER_FINISHED_FILE written, actors told)
 * or it is stopped; the last checkpoint is written either way. Returns the exit status: 0, or 1
 * when the final checkpoint failed. */
int learner_server_run(learner_server_t *s);
/* Asks a running server to stop (as SIGTERM does); safe from any thread. */
void learner_server_stop(learner_server_t *s);
void learner_server_free(learner_server_t *s); /* accepts NULL */

/* Updates done so far; safe from any thread while the server runs. */
long long learner_server_updates(const learner_server_t *s);
/* Why the run finished, NULL when it did not (stopped, or still running). After run returned. */
const char *learner_server_finished(const learner_server_t *s);

typedef enum {
    LEARNER_ENDPOINT_WEIGHTS,
    LEARNER_ENDPOINT_STATS,
    LEARNER_ENDPOINT_STATUS
} learner_endpoint_t;
/* The endpoint a socket is bound to (resolves port 0 and "*"); -1 when there is none. */
int learner_server_endpoint(learner_server_t *s, learner_endpoint_t which, char *out, size_t cap);

/* The server's counters (for tests; after run returned, or from the loop's thread). */
typedef struct {
    long long updates;
    uint64_t env_steps, rejected_token, rejected_wire, shard_timeouts, shard_refused, batches;
    uint64_t publish_version;
    int n_actors;
} learner_server_counters_t;
void learner_server_counters(const learner_server_t *s, learner_server_counters_t *c);

/* The whole process: new, run, free; returns its exit status (0: run finished or stopped by a
 * signal after a checkpoint; 2: bad configuration; 1: runtime failure). */
int learner_server_main(int argc, char **argv);

#endif
