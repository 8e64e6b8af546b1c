/* window: stub (not implemented yet); lets the registry in env.c link. */
#include "env_internal.h"
#include <stdio.h>

static int window_create(void **state, env_goal_mode_t goal_mode, rng_t rng, char *err,
                         size_t errcap) {
    (void)goal_mode;
    (void)rng;
    *state = NULL;
    if (err && errcap) snprintf(err, errcap, "window: not implemented yet");
    return -1;
}
static void window_destroy(void *state) {
    (void)state;
}
static void window_reset(void *state, float *obs, float *achieved_goal, float *desired_goal) {
    (void)state;
    (void)obs;
    (void)achieved_goal;
    (void)desired_goal;
}
static void window_step(void *state, const float *action, float *obs, float *achieved_goal,
                        env_step_info_t *info) {
    (void)state;
    (void)action;
    (void)obs;
    (void)achieved_goal;
    (void)info;
}
static float window_distance(const void *state, const float *achieved_goal,
                             const float *desired_goal) {
    (void)state;
    (void)achieved_goal;
    (void)desired_goal;
    return 0.0f;
}

const env_ops_t env_window_ops = {
    .spec = {.name = "window",
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
    .create = window_create,
    .destroy = window_destroy,
    .reset = window_reset,
    .step = window_step,
    .distance = window_distance,
};
