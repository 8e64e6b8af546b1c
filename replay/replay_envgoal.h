/* replay_envgoal: draws goals from an env's own goal distribution (its reset with random goals),
 * for the optional env-goal fraction of relabeling. Costs one env reset per drawn goal. */
#ifndef ODAC_REPLAY_ENVGOAL_H
#define ODAC_REPLAY_ENVGOAL_H
#include <stddef.h>
#include <stdint.h>

#include "rng.h"

typedef struct replay_env_goals replay_env_goals_t;

/* An env of this name with random goals, seeded from (seed, shard_id); its goal size must be
 * goal_dim. NULL with a message on failure. */
replay_env_goals_t *replay_env_goals_new(const char *env_name, uint64_t seed, uint32_t shard_id,
                                         int goal_dim, char *err, size_t errcap);
/* The env seed used for (seed, shard_id), so tests can rebuild the same goal stream. */
uint64_t replay_env_goals_seed(uint64_t seed, uint32_t shard_id);
void replay_env_goals_free(replay_env_goals_t *goals); /* accepts NULL */
/* A replay_goal_sampler_fn: ctx is a replay_env_goals_t; fills goal[goal_dim]. The env's own
 * seeded stream is used, rng is not. Allocates nothing. */
void replay_env_goals_sample(void *ctx, rng_t *rng, float *goal);

#endif
