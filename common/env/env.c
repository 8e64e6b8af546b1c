/* env: the registry behind env.h. It finds an env kind by name among the six implementations'
 * ops, and does what every env shares: validating and clipping actions, counting steps to the
 * horizon, and stepping a batch. Nothing here allocates after env_new / env_batch_new. */
#include "env_internal.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const env_ops_t *const g_ops[] = {&env_box2d_ops,      &env_ant_ops,    &env_sawyer_push_ops,
                                         &env_fetch_push_ops, &env_window_ops, &env_faucet_ops};
#define N_ENVS ((int)(sizeof g_ops / sizeof g_ops[0]))

static const char *const g_names[N_ENVS + 1] = {env_box2d_ops.spec.name,
                                                env_ant_ops.spec.name,
                                                env_sawyer_push_ops.spec.name,
                                                env_fetch_push_ops.spec.name,
                                                env_window_ops.spec.name,
                                                env_faucet_ops.spec.name,
                                                NULL};

struct env {
    const env_ops_t *ops;
    void *state;
    int steps;              /* steps since the last reset */
    float *clipped_action;  /* [action_dim], scratch for env_step */
    float action_noise_std; /* env_set_action_noise; 0: none */
    rng_t action_noise_rng; /* its own stream, so noise leaves the env's other draws alone */
};

struct env_batch {
    int n;
    env_t **envs; /* [n] */
};

const char *const *env_names(void) {
    return g_names;
}

static const env_ops_t *find_ops(const char *name, char *err, size_t errcap) {
    for (int i = 0; name && i < N_ENVS; i++)
        if (strcmp(g_ops[i]->spec.name, name) == 0) return g_ops[i];
    char known[256] = "";
    for (int i = 0; i < N_ENVS; i++) {
        size_t len = strlen(known);
        snprintf(known + len, sizeof known - len, "%s%s", i ? ", " : "", g_ops[i]->spec.name);
    }
    snprintf(err, errcap, "env: unknown env '%s' (known: %s)", name ? name : "(null)", known);
    return NULL;
}

int env_spec_lookup(const char *name, env_spec_t *out, char *err, size_t errcap) {
    const env_ops_t *ops = find_ops(name, err, errcap);
    if (!ops) return -1;
    *out = ops->spec;
    return 0;
}

env_t *env_new_stream(const char *name, env_goal_mode_t goal_mode, uint64_t seed, uint64_t stream,
                      char *err, size_t errcap) {
    const env_ops_t *ops = find_ops(name, err, errcap);
    if (!ops) return NULL;
    if (goal_mode != ENV_GOAL_FIXED && goal_mode != ENV_GOAL_RANDOM) {
        snprintf(err, errcap, "env: invalid goal mode %d for '%s'", (int)goal_mode, name);
        return NULL;
    }
    env_t *env = calloc(1, sizeof *env);
    float *clipped = calloc((size_t)ops->spec.action_dim, sizeof *clipped);
    if (!env || !clipped) {
        snprintf(err, errcap, "env: out of memory creating '%s'", name);
        free(env);
        free(clipped);
        return NULL;
    }
    rng_t rng;
    rng_seed(&rng, seed, stream);
    if (ops->create(&env->state, goal_mode, rng, err, errcap) != 0) {
        free(env);
        free(clipped);
        return NULL;
    }
    env->ops = ops;
    env->clipped_action = clipped;
    rng_seed(&env->action_noise_rng, seed, stream ^ 0xac710e0ULL);
    return env;
}

env_t *env_new(const char *name, env_goal_mode_t goal_mode, uint64_t seed, char *err,
               size_t errcap) {
    return env_new_stream(name, goal_mode, seed, 0, err, errcap);
}

void env_free(env_t *env) {
    if (!env) return;
    env->ops->destroy(env->state);
    free(env->clipped_action);
    free(env);
}

const env_spec_t *env_spec(const env_t *env) {
    return &env->ops->spec;
}

env_mj_t *env_mj_of(env_t *env) {
    if (!env || env->ops->spec.substeps <= 0 || !env->state) return NULL;
    env_mj_t *mj = env->state; /* a MuJoCo env's state starts with its env_mj_t */
    return mj->magic == ENV_MJ_MAGIC ? mj : NULL;
}

int env_steps_taken(const env_t *env) {
    return env->steps;
}

void env_reset(env_t *env, float *obs, float *achieved_goal, float *desired_goal) {
    env->steps = 0;
    env->ops->reset(env->state, obs, achieved_goal, desired_goal);
}

/* Index of the first non-finite entry of action[n], or -1. */
static int first_non_finite(const float *action, int n) {
    for (int i = 0; i < n; i++)
        if (!isfinite(action[i])) return i;
    return -1;
}

static float clip_action(const env_spec_t *spec, float a) {
    return a < spec->action_low ? spec->action_low
                                : (a > spec->action_high ? spec->action_high : a);
}

int env_step(env_t *env, const float *action, float *obs, float *achieved_goal,
             env_step_info_t *info, char *err, size_t errcap) {
    const env_spec_t *spec = &env->ops->spec;
    int bad = first_non_finite(action, spec->action_dim);
    if (bad >= 0) {
        snprintf(err, errcap, "env %s: action[%d] is not finite (%g)", spec->name, bad,
                 (double)action[bad]);
        return -1;
    }
    for (int i = 0; i < spec->action_dim; i++)
        env->clipped_action[i] = clip_action(spec, action[i]);
    if (env->action_noise_std > 0.0f) /* on the clipped action, then clipped again */
        for (int i = 0; i < spec->action_dim; i++)
            env->clipped_action[i] =
                clip_action(spec, env->clipped_action[i] +
                                      env->action_noise_std * rng_normal(&env->action_noise_rng));
    memset(info, 0, sizeof *info);
    env->ops->step(env->state, env->clipped_action, obs, achieved_goal, info);
    env->steps++;
    /* 1 from the step that reaches the horizon on, until the next reset. */
    info->horizon_reached = env->steps >= spec->horizon;
    return 0;
}

int env_set_action_noise(env_t *env, float std, char *err, size_t errcap) {
    if (!env || !isfinite(std) || std < 0.0f) {
        snprintf(err, errcap, "env%s%s: action noise std must be finite and >= 0 (got %g)",
                 env ? " " : "", env ? env->ops->spec.name : " (NULL)", (double)std);
        return -1;
    }
    env->action_noise_std = std;
    return 0;
}

float env_distance(const env_t *env, const float *achieved_goal, const float *desired_goal) {
    return env->ops->distance(env->state, achieved_goal, desired_goal);
}

env_batch_t *env_batch_new(const char *name, env_goal_mode_t goal_mode, int n, uint64_t seed,
                           char *err, size_t errcap) {
    if (n <= 0) {
        snprintf(err, errcap, "env: batch size must be positive (got %d)", n);
        return NULL;
    }
    env_batch_t *batch = calloc(1, sizeof *batch);
    env_t **envs = calloc((size_t)n, sizeof *envs);
    if (!batch || !envs) {
        snprintf(err, errcap, "env: out of memory creating a batch of %d '%s'", n, name);
        free(batch);
        free(envs);
        return NULL;
    }
    batch->n = n;
    batch->envs = envs;
    for (int i = 0; i < n; i++) {
        envs[i] = env_new_stream(name, goal_mode, seed, (uint64_t)i, err, errcap);
        if (!envs[i]) {
            env_batch_free(batch);
            return NULL;
        }
    }
    return batch;
}

void env_batch_free(env_batch_t *batch) {
    if (!batch) return;
    for (int i = 0; i < batch->n; i++) env_free(batch->envs[i]);
    free(batch->envs);
    free(batch);
}

int env_batch_size(const env_batch_t *batch) {
    return batch->n;
}

env_t *env_batch_get(env_batch_t *batch, int i) {
    return i >= 0 && i < batch->n ? batch->envs[i] : NULL;
}

int env_batch_step(env_batch_t *batch, const float *actions, float *obs, float *achieved_goal,
                   env_step_info_t *info, char *err, size_t errcap) {
    const env_spec_t *spec = &batch->envs[0]->ops->spec;
    const int adim = spec->action_dim, odim = spec->obs_dim, gdim = spec->goal_dim;
    /* Check every action first, so a bad row leaves the whole batch unchanged. */
    for (int i = 0; i < batch->n; i++) {
        int bad = first_non_finite(actions + (size_t)i * adim, adim);
        if (bad >= 0) {
            snprintf(err, errcap, "env %s: batch env %d: action[%d] is not finite (%g)", spec->name,
                     i, bad, (double)actions[(size_t)i * adim + bad]);
            return -1;
        }
    }
    for (int i = 0; i < batch->n; i++)
        env_step(batch->envs[i], actions + (size_t)i * adim, obs + (size_t)i * odim,
                 achieved_goal + (size_t)i * gdim, &info[i], err, errcap);
    return 0;
}
