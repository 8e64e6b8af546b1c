/* replay_server: a shard served over ZeroMQ from a libuv event loop.
 *
 * Sockets: a PULL socket at insert_bind receives [episode][Episode] from actors' PUSH sockets; a
 * ROUTER socket at sample_bind receives [sample_request][SampleRequest] and [stats_request][...]
 * from learners' DEALER sockets and answers [sample_batch][SampleBatch] /
 * [shard_stats][ShardStats], in order per client. Requests the rate limiter holds back wait in a
 * queue; while inserts are held back the PULL socket is simply not read, so ZeroMQ pushes back on
 * the actors. Timers log stats and write checkpoints; SIGTERM/SIGINT (when asked for) and
 * replay_server_stop() write a final checkpoint and end replay_server_run(). */
#ifndef ODAC_REPLAY_SERVER_H
#define ODAC_REPLAY_SERVER_H
#include <stddef.h>

#include "replay_shard.h"

typedef struct {
    replay_shard_config_t shard;
    char insert_bind[256];     /* e.g. tcp://0.0.0.0:5601 */
    char sample_bind[256];     /* e.g. tcp://0.0.0.0:5602 */
    char checkpoint_dir[512];  /* empty: no checkpoints */
    double checkpoint_every_s; /* <= 0: only at shutdown */
    double stats_every_s;      /* <= 0: no periodic stats lines */
    int fresh;          /* start empty when the checkpoint is absent or bad (else bad is fatal) */
    int handle_signals; /* install SIGTERM/SIGINT handlers on the loop */
    int max_pending;    /* queued requests before the ROUTER socket is no longer read */
    int insert_hwm;     /* PULL receive high-water mark, in messages */
    char heartbeat_file[512]; /* touched from the loop every few seconds; empty: none */
    char keys_dir[512];       /* CURVE keys (common/curve.h); empty: none */
    /* 1: the rate limiter takes the ratio sample requests carry (the learner's updates per env
     * step x batch size) in place of shard.samples_per_insert, which then holds only until the
     * first such request. 0 (default): the shard keeps its own. */
    int follow_learner_ratio;
} replay_server_config_t;

/* Defaults for everything but the shard's dims and the bind addresses. */
void replay_server_config_defaults(replay_server_config_t *cfg);

typedef struct replay_server replay_server_t;

/* Creates the shard, restores its checkpoint (see fresh), binds both sockets. NULL with a
 * message on failure. */
replay_server_t *replay_server_new(const replay_server_config_t *cfg, char *err, size_t errcap);
/* Runs the loop until stopped; returns 0 after a clean stop (final checkpoint written), -1 when
 * the final checkpoint failed. */
int replay_server_run(replay_server_t *server);
/* Asks a running server to stop; safe from any thread. */
void replay_server_stop(replay_server_t *server);
void replay_server_free(replay_server_t *server); /* accepts NULL */
/* The shard (for tests in the same thread as the loop, or after run returned). */
replay_shard_t *replay_server_shard(replay_server_t *server);
/* The endpoint a socket is actually bound to (resolves port 0 / "*"), for tests. */
int replay_server_endpoint(replay_server_t *server, int sample, char *out, size_t cap);

#endif
