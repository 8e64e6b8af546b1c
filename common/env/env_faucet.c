/* faucet: stub (not implemented yet); lets the registry in env.c link. */
#include "env_internal.h"
#include <stdio.h>

static int faucet_create(void **state, env_goal_mode_t goal_mode, rng_t rng, char *err,
                         size_t errcap) {
    (void)goal_mode;
    (void)rng;
    *state = NULL;
    if (err && errcap) snprintf(err, errcap, "faucet: not implemented yet");
    return -1;
}
static void faucet_destroy(void *state) {
    (void)state;
}
static void faucet_reset(void *state, float *obs, float *achieved_goal, float *desired_goal) {
    (void)state;
    (void)obs;
    (void)achieved_goal;
    (void)desired_goal;
}
static void faucet_step(void *state, const float *action, float *obs, float *achieved_goal,
                        env_step_info_t *info) {
    (void)state;
    (void)action;
    (void)obs;
    (void)achieved_goal;
    (void)info;
}
static float faucet_distance(const void *state, const float *achieved_goal,
                             const float *desired_goal) {
    (void)state;
    (void)achieved_goal;
    (void)desired_goal;
    return 0.0f;
}

const env_ops_t env_faucet_ops = {
    .spec = {.name = "faucet",
             .obs_dim = 6,
             .goal_dim = 6,
             .action_dim = 3,
             .horizon = 100,
             .action_low = -1.0f,
             .action_high = 1.0f,
             .success_threshold = 0.05f,
             .substeps = 5,
             .n_diag = 2,
             .diag_names = {"hand_dist", "handle_dist"}},
    .create = faucet_create,
    .destroy = faucet_destroy,
    .reset = faucet_reset,
    .step = faucet_step,
    .distance = faucet_distance,
};
