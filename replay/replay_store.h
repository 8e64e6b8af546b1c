/* replay_store: one shard's episode store. Episodes live in preallocated row arrays used as a
 * ring (oldest evicted first, whole episodes only); sampling draws transitions uniformly over
 * everything stored and relabels each goal at sample time (ODAC.md, "Goal relabeling").
 *
 * Layout: an episode of length T occupies T+1 consecutive rows of the row arrays: row start+t
 * holds s_t, phi(s_t) and (for t < T) a_t. An episode never wraps around the end of the arrays;
 * when it would, the rows left at the end become a gap freed with the next eviction. Nothing is
 * allocated after replay_store_new: inserting and sampling copy into preallocated memory. */
#ifndef ODAC_REPLAY_STORE_H
#define ODAC_REPLAY_STORE_H
#include <stddef.h>
#include <stdint.h>

#include "rng.h"

/* Fills goal[goal_dim] with a goal drawn from the env's goal distribution. */
typedef void (*replay_goal_sampler_fn)(void *ctx, rng_t *rng, float *goal);

typedef struct {
    int obs_dim, goal_dim, action_dim;
    int horizon;      /* longest accepted episode, in transitions */
    int64_t capacity; /* most transitions stored at once; >= horizon */
    float future_p;   /* P(goal = phi(s_k), k uniform over t+1..T) */
    float env_goal_p; /* P(goal drawn by goal_sampler); needs goal_sampler when > 0 */
    replay_goal_sampler_fn goal_sampler; /* may be NULL when env_goal_p == 0 */
    void *goal_sampler_ctx;
} replay_store_config_t;

/* Where a sampled batch is written; every buffer is the caller's, rows are batch-major. */
typedef struct {
    float *obs;                /* B x obs_dim: s_t */
    float *actions;            /* B x action_dim: a_t */
    float *next_obs;           /* B x obs_dim: s_{t+1} */
    float *achieved_goal;      /* B x goal_dim: phi(s_t) */
    float *next_achieved_goal; /* B x goal_dim: phi(s_{t+1}) */
    float *goal;               /* B x goal_dim: relabeled goal */
} replay_batch_t;

/* Where each sampled goal came from; tests and stats use it. */
typedef enum {
    REPLAY_GOAL_FUTURE = 0,
    REPLAY_GOAL_OWN = 1,
    REPLAY_GOAL_ENV = 2
} replay_goal_kind_t;

/* Optional per-sample provenance (each array B long), for tests and diagnostics. */
typedef struct {
    uint64_t *episode_id; /* store's insertion sequence number of the episode */
    int32_t *t;           /* step index of s_t in its episode */
    int32_t *goal_step;   /* k for REPLAY_GOAL_FUTURE, else -1 */
    uint8_t *goal_kind;   /* replay_goal_kind_t */
} replay_sample_trace_t;

/* A read-only view of one stored episode (pointers into the store; valid until the next insert). */
typedef struct {
    uint64_t seq; /* insertion sequence number (0 for the first episode ever stored) */
    uint64_t policy_version;
    int length;                 /* T */
    const float *obs;           /* (T+1) x obs_dim */
    const float *achieved_goal; /* (T+1) x goal_dim */
    const float *actions;       /* T x action_dim */
    const float *desired_goal;  /* goal_dim */
} replay_episode_view_t;

typedef struct replay_store replay_store_t;

/* Allocates every buffer for cfg->capacity transitions; NULL with a message on bad config or
 * out of memory. */
replay_store_t *replay_store_new(const replay_store_config_t *cfg, char *err, size_t errcap);
void replay_store_free(replay_store_t *store); /* accepts NULL */
const replay_store_config_t *replay_store_config(const replay_store_t *store);

/* Inserts one episode of T transitions (1 <= T <= horizon), evicting oldest episodes first until
 * it fits. obs: (T+1) x obs_dim, achieved_goal: (T+1) x goal_dim, actions: T x action_dim,
 * desired_goal: goal_dim; all copied. Values are not checked here (the wire layer does).
 * Returns the number of episodes evicted (>= 0), or -1 with a message for a bad length. */
int replay_store_insert(replay_store_t *store, int T, const float *obs, const float *achieved_goal,
                        const float *actions, const float *desired_goal, uint64_t policy_version,
                        char *err, size_t errcap);

/* Samples B transitions uniformly over stored transitions, relabeling each goal, into out
 * (and trace when not NULL). Uses rng only. Returns 0, or -1 with a message when empty. */
int replay_store_sample(replay_store_t *store, rng_t *rng, int B, const replay_batch_t *out,
                        const replay_sample_trace_t *trace, char *err, size_t errcap);

int64_t replay_store_size_transitions(const replay_store_t *store);
int64_t replay_store_size_episodes(const replay_store_t *store);
uint64_t replay_store_evicted_episodes(const replay_store_t *store);
/* Number of episodes inserted since creation (the next episode's seq). */
uint64_t replay_store_next_seq(const replay_store_t *store);

/* The i-th stored episode, 0 = oldest; returns 0, or -1 when i is out of range. */
int replay_store_episode(const replay_store_t *store, int64_t i, replay_episode_view_t *view);

/* Restores counters that a checkpoint carries (the episodes themselves are re-inserted). */
void replay_store_set_counters(replay_store_t *store, uint64_t next_seq, uint64_t evicted);

#endif
