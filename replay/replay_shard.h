/* replay_shard: one shard's state without sockets: the episode store, the rate limiter, the
 * sampling RNG and the counters reported as ShardStats, plus checkpoint save and restore.
 * The server (replay_server.h) feeds it decoded messages; tests and benches drive it directly. */
#ifndef ODAC_REPLAY_SHARD_H
#define ODAC_REPLAY_SHARD_H
#include <stddef.h>
#include <stdint.h>

#include "odac.pb-c.h"
#include "replay_ratelimit.h"
#include "replay_store.h"
#include "rng.h"
#include "wire.h"

/* Rejection reasons counted by a shard: the wire layer's (index = wire_reject_t). */
#define REPLAY_N_REASONS ((int)WIRE_REJECT_COUNT_)

typedef struct {
    wire_dims_t dims; /* env name and dims every episode must match */
    uint32_t shard_id;
    int64_t capacity;          /* transitions */
    int64_t min_size;          /* inserted transitions before the first sample */
    double samples_per_insert; /* sampled transitions per inserted transition; <= 0: no limit */
    double tolerance; /* rate-limiter band half-width, sampled transitions; <= 0: default */
    float future_p, env_goal_p;
    replay_goal_sampler_fn goal_sampler; /* needed when env_goal_p > 0 */
    void *goal_sampler_ctx;
    uint64_t seed;
    int max_batch; /* largest batch a request may ask for */
} replay_shard_config_t;

typedef struct {
    uint64_t inserted_transitions, inserted_episodes, sampled_transitions;
    uint64_t rejected[REPLAY_N_REASONS];
    uint64_t sample_waits, insert_waits, max_policy_version;
} replay_shard_counters_t;

/* A batch's float arrays, allocated once for max_batch rows (shapes as in replay_batch_t). */
typedef struct {
    float *obs, *actions, *next_obs, *achieved_goal, *next_achieved_goal, *goal;
    replay_batch_t view;
} replay_shard_batch_t;

typedef struct {
    replay_shard_config_t cfg;
    replay_store_t *store;
    replay_ratelimit_t limiter;
    int tolerance_auto; /* cfg.tolerance was the default: it follows the ratio */
    rng_t rng;
    replay_shard_counters_t counters;
    replay_shard_batch_t batch; /* the buffers sample() fills */
    /* Storage behind stats messages (no allocation when stats are built). */
    Odac__RejectCount reject_msgs[REPLAY_N_REASONS];
    Odac__RejectCount *reject_ptrs[REPLAY_N_REASONS];
} replay_shard_t;

/* The default band half-width: four full episodes' worth of samples (4 * samples_per_insert *
 * horizon), so a learner at the target ratio runs that far ahead of the actors before it waits,
 * and at least max_batch so the limiter can never deadlock. */
double replay_default_tolerance(const replay_shard_config_t *cfg);

/* Allocates the store and batch buffers (tolerance <= 0 takes replay_default_tolerance). */
replay_shard_t *replay_shard_new(const replay_shard_config_t *cfg, char *err, size_t errcap);
void replay_shard_free(replay_shard_t *shard); /* accepts NULL */

/* Stores a decoded, validated episode (wire_decode_episode against cfg.dims). 0, or -1 with a
 * message (the reason counted as dims). */
int replay_shard_insert(replay_shard_t *shard, const Odac__Episode *ep, char *err, size_t errcap);
void replay_shard_count_reject(replay_shard_t *shard, wire_reject_t reason);

/* 1 when a batch of B may be served now (the store is not empty and the limiter allows it). */
int replay_shard_can_sample(const replay_shard_t *shard, int B);
int replay_shard_can_insert(const replay_shard_t *shard);
/* Moves the rate limiter to a new ratio (sampled transitions per inserted one, > 0), keeping its
 * excess (replay_ratelimit_set_ratio); a default tolerance follows the ratio. 0, or -1 with a
 * message. */
int replay_shard_set_ratio(replay_shard_t *shard, double samples_per_insert, char *err,
                           size_t errcap);
/* Samples B <= max_batch relabeled transitions into shard->batch; 0, or -1 with a message. */
int replay_shard_sample(replay_shard_t *shard, int B, char *err, size_t errcap);

/* Fills stats from the counters; the message borrows storage inside shard (valid until the next
 * call). */
void replay_shard_stats(replay_shard_t *shard, Odac__ShardStats *stats);
/* The shard's checkpoint file in dir ("<dir>/replay-shard-<id>.ckpt") into path[cap]. */
void replay_shard_checkpoint_path(const replay_shard_t *shard, const char *dir, char *path,
                                  size_t cap);
/* Writes everything stored and every counter atomically to the checkpoint in dir. */
int replay_shard_save(replay_shard_t *shard, const char *dir, char *err, size_t errcap);
/* Restores from the checkpoint in dir into an empty shard. Returns 1 when restored, 0 when there
 * is no checkpoint, -1 with a message when it exists but is unreadable, corrupt, truncated or was
 * written for other dims (the shard is then left empty). */
int replay_shard_load(replay_shard_t *shard, const char *dir, char *err, size_t errcap);

#endif
