/* Tests of the window env: start state and authors' goal, observation against MuJoCo's own site
 * positions, goal sampling, workspace and slide limits, determinism, 10,000 wandering random
 * steps without blow-up, and a scripted hand (written here) that closes the window and reaches
 * the fixed goal and random goals. */
#include "env.h"
#include "env_internal.h"
#include "testutil.h"
#include "window_script.h"
#include <math.h>
#include <mujoco/mujoco.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define DIM 6
#define HANDLE_CLOSED_X 0.115f
#define HANDLE_OPEN_X 0.315f

static char err[512];

static env_t *make(env_goal_mode_t mode, uint64_t seed) {
    env_t *env = env_new("window", mode, seed, err, sizeof err);
    if (!env) fprintf(stderr, "env_new: %s\n", err);
    return env;
}

static void test_spec(void) {
    env_spec_t spec;
    CU_ASSERT_EQUAL_FATAL(env_spec_lookup("window", &spec, err, sizeof err), 0);
    CU_ASSERT_EQUAL(spec.obs_dim, DIM);
    CU_ASSERT_EQUAL(spec.goal_dim, DIM);
    CU_ASSERT_EQUAL(spec.action_dim, 3);
    CU_ASSERT_EQUAL(spec.horizon, 100);
    CU_ASSERT_EQUAL(spec.substeps, 5);
    CU_ASSERT_DOUBLE_EQUAL(spec.success_threshold, 0.05, 1e-7);
    CU_ASSERT_EQUAL(spec.n_diag, 2);
}

static void test_reset_fixed(void) {
    env_t *env = make(ENV_GOAL_FIXED, 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(env);
    float obs[DIM], ag[DIM], dg[DIM];
    env_reset(env, obs, ag, dg);
    const float start[DIM] = {0.4f, 0.6f, 0.2f, HANDLE_OPEN_X, HANDLE_Y, HANDLE_Z};
    const float goal[DIM] = {0.32f, 0.66f, 0.07f, 0.115f, 0.69f, 0.16f}; /* authors' values */
    for (int i = 0; i < DIM; i++) {
        CU_ASSERT_DOUBLE_EQUAL(obs[i], start[i], 1e-6);
        CU_ASSERT_DOUBLE_EQUAL(ag[i], obs[i], 0);
        CU_ASSERT_DOUBLE_EQUAL(dg[i], goal[i], 1e-6);
    }
    /* Standing still keeps the hand where it is (its weight is cancelled). */
    const float zero[3] = {0, 0, 0};
    env_step_info_t info;
    for (int t = 0; t < 20; t++) env_step(env, zero, obs, ag, &info, err, sizeof err);
    for (int i = 0; i < DIM; i++) CU_ASSERT_DOUBLE_EQUAL(obs[i], start[i], 1e-4);
    env_free(env);
}

/* The authors' goal is a reachable state: the scripted hand closes the window and then stands at
 * the goal hand position, within the success threshold before the horizon. */
static void test_scripted_close_fixed_goal(void) {
    env_t *env = make(ENV_GOAL_FIXED, 2);
    CU_ASSERT_PTR_NOT_NULL_FATAL(env);
    const env_spec_t *spec = env_spec(env);
    float obs[DIM], ag[DIM], dg[DIM], act[3];
    env_step_info_t info;
    env_reset(env, obs, ag, dg);
    closer_t closer = {0};
    int first_success = -1;
    for (int t = 0; t < spec->horizon; t++) {
        closer_act(&closer, obs, dg, act);
        CU_ASSERT_EQUAL_FATAL(env_step(env, act, obs, ag, &info, err, sizeof err), 0);
        if (first_success < 0 && info.distance < spec->success_threshold) first_success = t;
    }
    printf("\n  window fixed goal: distance %.4f (hand %.4f, handle %.4f), first success at "
           "step %d\n",
           info.distance, info.diag[0], info.diag[1], first_success);
    CU_ASSERT(info.horizon_reached);
    CU_ASSERT(info.distance < spec->success_threshold);
    CU_ASSERT(info.diag[1] < 0.01f); /* handle: the window is closed */
    CU_ASSERT(info.diag[0] < 0.02f); /* hand */
    CU_ASSERT(first_success >= 0);
    env_free(env);
}

/* Random goals are reachable states too: the same script reaches each of 6 of them. */
static void test_scripted_random_goals(void) {
    env_t *env = make(ENV_GOAL_RANDOM, 3);
    CU_ASSERT_PTR_NOT_NULL_FATAL(env);
    const env_spec_t *spec = env_spec(env);
    float obs[DIM], ag[DIM], dg[DIM], act[3];
    env_step_info_t info;
    int reached = 0;
    for (int e = 0; e < 6; e++) {
        env_reset(env, obs, ag, dg);
        closer_t closer = {0};
        for (int t = 0; t < spec->horizon; t++) {
            closer_act(&closer, obs, dg, act);
            env_step(env, act, obs, ag, &info, err, sizeof err);
        }
        reached += info.distance < spec->success_threshold;
    }
    CU_ASSERT_EQUAL(reached, 6);
    env_free(env);
}

/* Observation = MuJoCo's own site positions (after mj_forward) while the handle moves. */
static void test_obs_matches_mujoco(void) {
    env_t *env = make(ENV_GOAL_FIXED, 4);
    CU_ASSERT_PTR_NOT_NULL_FATAL(env);
    env_mj_t *mj = env_mj_of(env);
    CU_ASSERT_PTR_NOT_NULL_FATAL(mj);
    const mjModel *m = mj->model;
    mjData *d = mj->data;
    int hand = mj_name2id(m, mjOBJ_SITE, "hand"), handle = mj_name2id(m, mjOBJ_SITE, "handle");
    CU_ASSERT_FATAL(hand >= 0 && handle >= 0);
    float obs[DIM], ag[DIM], dg[DIM], act[3];
    env_step_info_t info;
    env_reset(env, obs, ag, dg);
    closer_t closer = {0};
    int checked_while_moving = 0;
    for (int t = 0; t < 80; t++) {
        float before = obs[3];
        closer_act(&closer, obs, dg, act);
        env_step(env, act, obs, ag, &info, err, sizeof err);
        mj_forward(m, d);
        for (int i = 0; i < 3; i++) {
            CU_ASSERT_DOUBLE_EQUAL(obs[i], d->site_xpos[3 * hand + i], 1e-5);
            CU_ASSERT_DOUBLE_EQUAL(obs[3 + i], d->site_xpos[3 * handle + i], 1e-5);
        }
        checked_while_moving += fabsf(obs[3] - before) > 1e-3f;
        /* Distance and diagnostics, computed independently. */
        double s = 0;
        for (int i = 0; i < DIM; i++) s += (ag[i] - dg[i]) * (ag[i] - dg[i]);
        CU_ASSERT_DOUBLE_EQUAL(info.distance, sqrt(s), 1e-5);
        CU_ASSERT_DOUBLE_EQUAL(env_distance(env, ag, dg), sqrt(s), 1e-5);
        CU_ASSERT_DOUBLE_EQUAL(info.diag[0], dist3(ag, dg), 1e-5);
        CU_ASSERT_DOUBLE_EQUAL(info.diag[1], dist3(ag + 3, dg + 3), 1e-5);
    }
    CU_ASSERT(checked_while_moving >= 5);
    env_free(env);
}

/* The hand target moves exactly 0.01 per unit action, stays in its workspace, and the window's
 * closed stop holds against a hand that keeps pushing. */
static void test_motion_workspace_and_stop(void) {
    env_t *env = make(ENV_GOAL_FIXED, 5);
    CU_ASSERT_PTR_NOT_NULL_FATAL(env);
    env_mj_t *mj = env_mj_of(env);
    const mjModel *m = mj->model;
    const mjData *d = mj->data;
    int mocap = m->body_mocapid[mj_name2id(m, mjOBJ_BODY, "hand_target")];
    CU_ASSERT_FATAL(mocap >= 0);
    float obs[DIM], ag[DIM], dg[DIM], act[3];
    env_step_info_t info;
    env_reset(env, obs, ag, dg);
    const float down[3] = {0, 0, -1};
    for (int t = 0; t < 5; t++) env_step(env, down, obs, ag, &info, err, sizeof err);
    CU_ASSERT_DOUBLE_EQUAL(d->mocap_pos[3 * mocap + 2], 0.15, 1e-9);
    const float zero[3] = {0, 0, 0};
    for (int t = 0; t < 5; t++) env_step(env, zero, obs, ag, &info, err, sizeof err);
    CU_ASSERT_DOUBLE_EQUAL(obs[2], 0.15, 0.002);
    /* Every corner of the workspace. */
    const float corners[4][3] = {{-1, -1, -1}, {1, 1, 1}, {1, -1, -1}, {-1, 1, 1}};
    const double lo[3] = {-0.3, 0.4, 0.05}, hi[3] = {0.6, 0.70, 0.30};
    for (int c = 0; c < 4; c++) {
        for (int t = 0; t < 100; t++) env_step(env, corners[c], obs, ag, &info, err, sizeof err);
        for (int i = 0; i < 3; i++)
            CU_ASSERT_DOUBLE_EQUAL(d->mocap_pos[3 * mocap + i], corners[c][i] > 0 ? hi[i] : lo[i],
                                   1e-9);
    }
    /* Close the window, then keep pushing toward -x for 100 steps. */
    env_reset(env, obs, ag, dg);
    closer_t closer = {0};
    while (closer.phase < 3) {
        closer_act(&closer, obs, dg, act);
        env_step(env, act, obs, ag, &info, err, sizeof err);
    }
    const float push[3] = {-1, 0, 0};
    float min_x = obs[3];
    for (int t = 0; t < 100; t++) {
        env_step(env, push, obs, ag, &info, err, sizeof err);
        min_x = fminf(min_x, obs[3]);
        /* Hand and handle touch along x (0.01 + 0.02 apart): penetration stays below 1 cm. */
        CU_ASSERT(obs[0] - obs[3] > 0.02f);
    }
    CU_ASSERT(min_x > HANDLE_CLOSED_X - 0.01f);
    env_free(env);
}

static void test_random_goals(void) {
    env_t *env = make(ENV_GOAL_RANDOM, 6);
    CU_ASSERT_PTR_NOT_NULL_FATAL(env);
    float obs[DIM], ag[DIM], dg[DIM];
    float lo[DIM], hi[DIM];
    for (int i = 0; i < DIM; i++) lo[i] = 1e9f, hi[i] = -1e9f;
    for (int e = 0; e < 300; e++) {
        env_reset(env, obs, ag, dg);
        for (int i = 0; i < DIM; i++) lo[i] = fminf(lo[i], dg[i]), hi[i] = fmaxf(hi[i], dg[i]);
        CU_ASSERT_DOUBLE_EQUAL(obs[3], HANDLE_OPEN_X, 1e-6); /* the start stays fixed */
    }
    const float want_lo[DIM] = {-0.1f, 0.5f, 0.05f, HANDLE_CLOSED_X, HANDLE_Y, HANDLE_Z};
    const float want_hi[DIM] = {0.4f, 0.65f, 0.25f, HANDLE_OPEN_X, HANDLE_Y, HANDLE_Z};
    for (int i = 0; i < DIM; i++) {
        float span = want_hi[i] - want_lo[i];
        CU_ASSERT(lo[i] >= want_lo[i] - 1e-6f && hi[i] <= want_hi[i] + 1e-6f);
        if (span > 0) CU_ASSERT(hi[i] - lo[i] > 0.9f * span); /* spread over the range */
    }
    env_free(env);
}

static void test_determinism(void) {
    env_t *a = make(ENV_GOAL_RANDOM, 9), *b = make(ENV_GOAL_RANDOM, 9);
    env_t *c = make(ENV_GOAL_RANDOM, 10);
    CU_ASSERT_FATAL(a && b && c);
    float oa[DIM], ob[DIM], oc[DIM], ga[DIM], gb[DIM], gc[DIM], da[DIM], db[DIM], dc[DIM];
    env_step_info_t ia, ib;
    rng_t rng;
    rng_seed(&rng, 11, 0);
    int goals_differ = 0;
    for (int e = 0; e < 3; e++) {
        env_reset(a, oa, ga, da);
        env_reset(b, ob, gb, db);
        env_reset(c, oc, gc, dc);
        CU_ASSERT_EQUAL(memcmp(da, db, sizeof da), 0);
        goals_differ += memcmp(da, dc, sizeof da) != 0;
        for (int t = 0; t < 100; t++) {
            float act[3];
            for (int i = 0; i < 3; i++) act[i] = 2.0f * rng_uniform(&rng) - 1.0f;
            env_step(a, act, oa, ga, &ia, err, sizeof err);
            env_step(b, act, ob, gb, &ib, err, sizeof err);
            CU_ASSERT_EQUAL(memcmp(oa, ob, sizeof oa), 0);
            CU_ASSERT_EQUAL(memcmp(&ia, &ib, sizeof ia), 0);
        }
    }
    CU_ASSERT_EQUAL(goals_differ, 3);
    env_free(a);
    env_free(b);
    env_free(c);
}

/* 10,000 random steps in episodes of 100, each with its own drift (every other one sweeping along
 * the window, so the hand hits the handle): finite, in the workspace, the handle on its track. */
static void test_random_steps_stable(void) {
    env_t *env = make(ENV_GOAL_RANDOM, 12);
    CU_ASSERT_PTR_NOT_NULL_FATAL(env);
    float obs[DIM], ag[DIM], dg[DIM], drift[3] = {0, 0, 0};
    env_step_info_t info;
    rng_t rng;
    rng_seed(&rng, 12, 1);
    int bad = 0, off_track = 0, outside = 0;
    float min_handle = 1, max_handle = 0;
    for (int t = 0; t < 10000; t++) {
        if (t % 100 == 0) {
            env_reset(env, obs, ag, dg);
            for (int i = 0; i < 3; i++) drift[i] = 1.2f * rng_uniform(&rng) - 0.6f;
        }
        if (t % 200 == 0) { /* every other episode sweeps right, then left along the window */
            drift[0] = 0.8f;
            drift[1] = 0.4f;
            drift[2] = -0.1f;
        }
        if (t % 200 == 50) {
            drift[0] = -0.8f;
            drift[2] = 0.0f;
        }
        float act[3];
        for (int i = 0; i < 3; i++) act[i] = drift[i] + 1.6f * rng_uniform(&rng) - 0.8f;
        CU_ASSERT_EQUAL(env_step(env, act, obs, ag, &info, err, sizeof err), 0);
        for (int i = 0; i < DIM; i++) bad += !isfinite(obs[i]);
        bad += !isfinite(info.distance);
        off_track += fabsf(obs[4] - HANDLE_Y) > 1e-4f || fabsf(obs[5] - HANDLE_Z) > 1e-4f;
        off_track += obs[3] < HANDLE_CLOSED_X - 0.01f || obs[3] > HANDLE_OPEN_X + 0.01f;
        outside += obs[0] < -0.32f || obs[0] > 0.62f || obs[1] < 0.38f || obs[1] > 0.72f ||
                   obs[2] < 0.03f || obs[2] > 0.32f;
        min_handle = fminf(min_handle, obs[3]);
        max_handle = fmaxf(max_handle, obs[3]);
    }
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT_EQUAL(off_track, 0);
    CU_ASSERT_EQUAL(outside, 0);
    CU_ASSERT(min_handle < HANDLE_OPEN_X - 0.02f); /* the wandering hand did move the window */
    env_free(env);
}

/* A missing model file, or a model without an element the env needs, fails env_new with a
 * message naming it (and frees what was made: the sanitizer build checks for leaks). */
static void test_bad_model(void) {
    char path[1024], text[16384];
    snprintf(path, sizeof path, "%s/window.xml", env_models_dir());
    FILE *f = fopen(path, "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    CU_ASSERT_FATAL(n > 0 && n < sizeof text - 1);
    text[n] = '\0';
    const char *dir = test_tmpdir("window");
    env_set_models_dir(dir);
    CU_ASSERT_PTR_NULL(env_new("window", ENV_GOAL_FIXED, 1, err, sizeof err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "window.xml"));
    /* The same model with one element renamed. */
    char *at = strstr(text, "name=\"handle\" size");
    CU_ASSERT_PTR_NOT_NULL_FATAL(at);
    snprintf(path, sizeof path, "%s/window.xml", dir);
    f = fopen(path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fwrite(text, 1, (size_t)(at - text), f);
    fputs("name=\"knob\" size", f);
    fputs(at + strlen("name=\"handle\" size"), f);
    fclose(f);
    CU_ASSERT_PTR_NULL(env_new("window", ENV_GOAL_FIXED, 1, err, sizeof err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "'handle'"));
    remove(path);
    rmdir(dir);
    env_set_models_dir(NULL);
    env_t *env = make(ENV_GOAL_FIXED, 1); /* the real models again */
    CU_ASSERT_PTR_NOT_NULL(env);
    env_free(env);
}

int main(void) {
    const test_case_t cases[] = {
        {"spec", test_spec},
        {"bad_model", test_bad_model},
        {"reset_fixed", test_reset_fixed},
        {"scripted_close_fixed_goal", test_scripted_close_fixed_goal},
        {"scripted_random_goals", test_scripted_random_goals},
        {"obs_matches_mujoco", test_obs_matches_mujoco},
        {"motion_workspace_and_stop", test_motion_workspace_and_stop},
        {"random_goals", test_random_goals},
        {"determinism", test_determinism},
        {"random_steps_stable", test_random_steps_stable},
        {NULL, NULL},
    };
    return test_run_suite("env_window", cases);
}
