/* env_internal: what each env implementation provides to the registry in env.c. Not public. */
#ifndef ODAC_ENV_INTERNAL_H
#define ODAC_ENV_INTERNAL_H
#include "env.h"
#include "rng.h"

typedef struct {
    env_spec_t spec;
    /* Allocates the implementation's state into *state; 0 or -1 with a message. */
    int (*create)(void **state, env_goal_mode_t goal_mode, rng_t rng, char *err, size_t errcap);
    void (*destroy)(void *state);
    void (*reset)(void *state, float *obs, float *achieved_goal, float *desired_goal);
    /* action is already finite and clipped to the spec's bounds. Fills obs, achieved_goal,
     * info->distance and info->diag; the registry sets horizon_reached. */
    void (*step)(void *state, const float *action, float *obs, float *achieved_goal,
                 env_step_info_t *info);
    float (*distance)(const void *state, const float *achieved_goal, const float *desired_goal);
} env_ops_t;

extern const env_ops_t env_box2d_ops;
extern const env_ops_t env_ant_ops;
extern const env_ops_t env_sawyer_push_ops;
extern const env_ops_t env_fetch_push_ops;
extern const env_ops_t env_window_ops;
extern const env_ops_t env_faucet_ops;

/* Loads <models dir>/<file> with MuJoCo; NULL with a message naming the file and MuJoCo's error.
 * Declared with void* so this header needs no MuJoCo include; returns an mjModel*. */
void *env_mj_load_model(const char *file, char *err, size_t errcap);

#endif
