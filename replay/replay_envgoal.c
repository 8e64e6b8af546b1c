/* replay_envgoal: env goal sampling through env_reset with ENV_GOAL_RANDOM; the observation and
 * achieved-goal outputs of the reset go to scratch buffers allocated once. */
#include "replay_envgoal.h"

#include <stdio.h>
#include <stdlib.h>

#include "env.h"

uint64_t replay_env_goals_seed(uint64_t seed, uint32_t shard_id) {
    return seed ^ (0x9e3779b97f4a7c15ULL * ((uint64_t)shard_id + 0x474f414cULL));
}

struct replay_env_goals {
    env_t *env;
    float *obs, *achieved_goal; /* obs_dim, goal_dim scratch */
};

replay_env_goals_t *replay_env_goals_new(const char *env_name, uint64_t seed, uint32_t shard_id,
                                         int goal_dim, char *err, size_t errcap) {
    replay_env_goals_t *g = calloc(1, sizeof *g);
    if (!g) {
        snprintf(err, errcap, "env goals: out of memory");
        return NULL;
    }
    g->env = env_new(env_name, ENV_GOAL_RANDOM, replay_env_goals_seed(seed, shard_id), err, errcap);
    if (!g->env) goto fail;
    const env_spec_t *spec = env_spec(g->env);
    if (spec->goal_dim != goal_dim) {
        snprintf(err, errcap, "env goals: env %s has goal size %d, the run's is %d", env_name,
                 spec->goal_dim, goal_dim);
        goto fail;
    }
    g->obs = malloc(sizeof(float) * (size_t)spec->obs_dim);
    g->achieved_goal = malloc(sizeof(float) * (size_t)spec->goal_dim);
    if (!g->obs || !g->achieved_goal) {
        snprintf(err, errcap, "env goals: out of memory");
        goto fail;
    }
    return g;
fail:
    replay_env_goals_free(g);
    return NULL;
}

void replay_env_goals_free(replay_env_goals_t *g) {
    if (!g) return;
    env_free(g->env);
    free(g->obs);
    free(g->achieved_goal);
    free(g);
}

void replay_env_goals_sample(void *ctx, rng_t *rng, float *goal) {
    (void)rng;
    replay_env_goals_t *g = ctx;
    env_reset(g->env, g->obs, g->achieved_goal, goal);
}
