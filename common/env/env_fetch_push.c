/* fetch-push: stub (not implemented yet); lets the registry in env.c link. */
#include "env_internal.h"
#include <stdio.h>

static int fetch_push_create(void **state, env_goal_mode_t goal_mode, rng_t rng, char *err,
                             size_t errcap) {
    (void)goal_mode;
    (void)rng;
    *state = NULL;
    if (err && errcap) snprintf(err, errcap, "fetch-push: not implemented yet");
    return -1;
}
static void fetch_push_destroy(void *state) {
    (void)state;
}
static void fetch_push_reset(void *state, float *obs, float *achieved_goal, float *desired_goal) {
    (void)state;
    (void)obs;
    (void)achieved_goal;
    (void)desired_goal;
}
static void fetch_push_step(void *state, const float *action, float *obs, float *achieved_goal,
                            env_step_info_t *info) {
    (void)state;
    (void)action;
    (void)obs;
    (void)achieved_goal;
    (void)info;
}
static float fetch_push_distance(const void *state, const float *achieved_goal,
                                 const float *desired_goal) {
    (void)state;
    (void)achieved_goal;
    (void)desired_goal;
    return 0.0f;
}

const env_ops_t env_fetch_push_ops = {
    .spec = {.name = "fetch-push",
             .obs_dim = 21,
             .goal_dim = 3,
             .action_dim = 3,
             .horizon = 50,
             .action_low = -1.0f,
             .action_high = 1.0f,
             .success_threshold = 0.05f,
             .substeps = 20,
             .n_diag = 2,
             .diag_names = {"gripper_block_dist", "block_goal_dist"}},
    .create = fetch_push_create,
    .destroy = fetch_push_destroy,
    .reset = fetch_push_reset,
    .step = fetch_push_step,
    .distance = fetch_push_distance,
};
