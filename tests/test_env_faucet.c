/* Tests of the faucet env: start state and authors' goal, observation against MuJoCo's own site
 * positions, the handle end on its circle, goal sampling, workspace and hinge limits,
 * determinism, 10,000 wandering random steps without blow-up, and a scripted hand (written here)
 * that turns the handle to its goal and then reaches the hand goal, for the fixed goal and for
 * random goals. */
#include "env.h"
#include "env_internal.h"
#include "testutil.h"
#include <math.h>
#include <mujoco/mujoco.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define DIM 6
/* The scene as documented in models/faucet.xml. */
#define HINGE_X 0.0f
#define HINGE_Y 0.8f
#define HANDLE_Z 0.125f
#define ARM 0.175f /* hinge axis to handle end */

static char err[512];

static env_t *make(env_goal_mode_t mode, uint64_t seed) {
    env_t *env = env_new("faucet", mode, seed, err, sizeof err);
    if (!env) fprintf(stderr, "env_new: %s\n", err);
    return env;
}

static float clampf(float x, float lo, float hi) {
    return x < lo ? lo : (x > hi ? hi : x);
}

static float dist3(const float *a, const float *b) {
    float s = 0;
    for (int i = 0; i < 3; i++) s += (a[i] - b[i]) * (a[i] - b[i]);
    return sqrtf(s);
}

/* Handle angle about the hinge, world frame: -pi/2 at the start (pointing at the robot, -y),
 * 0 fully open (+x). */
static float handle_angle(const float *end) {
    return atan2f(end[1] - HINGE_Y, end[0] - HINGE_X);
}

static void test_spec(void) {
    env_spec_t spec;
    CU_ASSERT_EQUAL_FATAL(env_spec_lookup("faucet", &spec, err, sizeof err), 0);
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
    const float start[DIM] = {0.0f, 0.6f, 0.2f, HINGE_X, HINGE_Y - ARM, HANDLE_Z};
    const float goal[DIM] = {0.0f, 0.625f, 0.125f, 0.175f, 0.8f, 0.125f}; /* authors' values */
    for (int i = 0; i < DIM; i++) {
        CU_ASSERT_DOUBLE_EQUAL(obs[i], start[i], 1e-6);
        CU_ASSERT_DOUBLE_EQUAL(ag[i], obs[i], 0);
        CU_ASSERT_DOUBLE_EQUAL(dg[i], goal[i], 1e-6);
    }
    /* The goal handle end lies on the handle's circle, at the hinge's open limit (+90 deg). */
    CU_ASSERT_DOUBLE_EQUAL(hypotf(dg[3] - HINGE_X, dg[4] - HINGE_Y), ARM, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(handle_angle(dg + 3) - handle_angle(obs + 3), M_PI / 2, 1e-6);
    const float zero[3] = {0, 0, 0};
    env_step_info_t info;
    for (int t = 0; t < 20; t++) env_step(env, zero, obs, ag, &info, err, sizeof err);
    for (int i = 0; i < DIM; i++) CU_ASSERT_DOUBLE_EQUAL(obs[i], start[i], 1e-4);
    env_free(env);
}

static void act_toward(const float *hand, const float *target, float gain, float *act) {
    for (int i = 0; i < 3; i++) act[i] = clampf(gain * (target[i] - hand[i]) / 0.01f, -1, 1);
}

/* Turns the handle to the goal angle, then brings the hand to the hand goal. The hand pushes the
 * arm at radius R from the clockwise side: it goes to a point in front of and left of the start
 * handle, steps in beside the arm, then follows the arm round, aiming a little ahead of it
 * (less near the goal, as the handle coasts), backs away from the arm and goes to the goal. */
typedef struct {
    int phase;
} turner_t;

static void turner_act(turner_t *c, const float *obs, const float *goal, float *act) {
    const float R = 0.14f, beside = atanf(0.03f / R); /* hand radius 0.02 + arm radius 0.01 */
    const float *hand = obs;
    float angle = handle_angle(obs + 3), goal_angle = handle_angle(goal + 3);
    float target[3] = {goal[0], goal[1], goal[2]};
    float gain = 1.0f;
    if (c->phase == 2 && angle >= goal_angle - 0.03f) c->phase = 3;
    switch (c->phase) {
    case 0: /* in front of the handle, to its clockwise side */
        target[0] = HINGE_X + R * cosf(angle - beside - 0.4f);
        target[1] = HINGE_Y + R * sinf(angle - beside - 0.4f) - 0.05f;
        target[2] = HANDLE_Z;
        if (dist3(hand, target) < 0.01f) c->phase = 1;
        break;
    case 1: /* beside the arm */
        target[0] = HINGE_X + R * cosf(angle - beside - 0.1f);
        target[1] = HINGE_Y + R * sinf(angle - beside - 0.1f);
        target[2] = HANDLE_Z;
        if (dist3(hand, target) < 0.008f) c->phase = 2;
        break;
    case 2: { /* turn; the hand's target leads it, so ease off well before the goal */
        float ahead = fminf(0.12f, 2.0f * (goal_angle - angle));
        if (goal_angle - angle < 0.25f) gain = 0.3f;
        target[0] = HINGE_X + R * cosf(angle - beside + ahead);
        target[1] = HINGE_Y + R * sinf(angle - beside + ahead);
        target[2] = HANDLE_Z;
        break;
    }
    case 3: { /* back away from the arm, toward the robot */
        float a = angle - beside - 0.35f;
        target[0] = HINGE_X + R * cosf(a);
        target[1] = HINGE_Y + R * sinf(a) - 0.03f;
        target[2] = HANDLE_Z;
        if (dist3(hand, target) < 0.015f) c->phase = 4;
        break;
    }
    default: /* the hand goal */
        break;
    }
    act_toward(hand, target, gain, act);
}

static void test_scripted_turn_fixed_goal(void) {
    env_t *env = make(ENV_GOAL_FIXED, 2);
    CU_ASSERT_PTR_NOT_NULL_FATAL(env);
    const env_spec_t *spec = env_spec(env);
    float obs[DIM], ag[DIM], dg[DIM], act[3];
    env_step_info_t info;
    env_reset(env, obs, ag, dg);
    turner_t turner = {0};
    int first_success = -1;
    for (int t = 0; t < spec->horizon; t++) {
        turner_act(&turner, obs, dg, act);
        CU_ASSERT_EQUAL_FATAL(env_step(env, act, obs, ag, &info, err, sizeof err), 0);
        if (first_success < 0 && info.distance < spec->success_threshold) first_success = t;
    }
    printf("\n  faucet fixed goal: distance %.4f (hand %.4f, handle end %.4f), first success at "
           "step %d\n",
           info.distance, info.diag[0], info.diag[1], first_success);
    CU_ASSERT(info.horizon_reached);
    CU_ASSERT(info.distance < spec->success_threshold);
    CU_ASSERT(info.diag[1] < 0.01f); /* the handle end */
    CU_ASSERT(info.diag[0] < 0.02f); /* the hand */
    CU_ASSERT(first_success >= 0);
    env_free(env);
}

static void test_scripted_random_goals(void) {
    env_t *env = make(ENV_GOAL_RANDOM, 3);
    CU_ASSERT_PTR_NOT_NULL_FATAL(env);
    const env_spec_t *spec = env_spec(env);
    float obs[DIM], ag[DIM], dg[DIM], act[3];
    env_step_info_t info;
    int reached = 0;
    for (int e = 0; e < 6; e++) {
        env_reset(env, obs, ag, dg);
        turner_t turner = {0};
        for (int t = 0; t < spec->horizon; t++) {
            turner_act(&turner, obs, dg, act);
            env_step(env, act, obs, ag, &info, err, sizeof err);
        }
        reached += info.distance < spec->success_threshold;
    }
    CU_ASSERT_EQUAL(reached, 6);
    env_free(env);
}

/* Observation = MuJoCo's own site positions (after mj_forward) while the handle turns; the
 * handle end stays on its circle. */
static void test_obs_matches_mujoco(void) {
    env_t *env = make(ENV_GOAL_FIXED, 4);
    CU_ASSERT_PTR_NOT_NULL_FATAL(env);
    env_mj_t *mj = env_mj_of(env);
    CU_ASSERT_PTR_NOT_NULL_FATAL(mj);
    const mjModel *m = mj->model;
    mjData *d = mj->data;
    int hand = mj_name2id(m, mjOBJ_SITE, "hand"), end = mj_name2id(m, mjOBJ_SITE, "handle_end");
    CU_ASSERT_FATAL(hand >= 0 && end >= 0);
    float obs[DIM], ag[DIM], dg[DIM], act[3];
    env_step_info_t info;
    env_reset(env, obs, ag, dg);
    turner_t turner = {0};
    int checked_while_turning = 0;
    for (int t = 0; t < 80; t++) {
        float before = handle_angle(obs + 3);
        turner_act(&turner, obs, dg, act);
        env_step(env, act, obs, ag, &info, err, sizeof err);
        mj_forward(m, d);
        for (int i = 0; i < 3; i++) {
            CU_ASSERT_DOUBLE_EQUAL(obs[i], d->site_xpos[3 * hand + i], 1e-5);
            CU_ASSERT_DOUBLE_EQUAL(obs[3 + i], d->site_xpos[3 * end + i], 1e-5);
        }
        CU_ASSERT_DOUBLE_EQUAL(hypotf(obs[3] - HINGE_X, obs[4] - HINGE_Y), ARM, 1e-5);
        CU_ASSERT_DOUBLE_EQUAL(obs[5], HANDLE_Z, 1e-5);
        checked_while_turning += fabsf(handle_angle(obs + 3) - before) > 0.01f;
        double s = 0;
        for (int i = 0; i < DIM; i++) s += (ag[i] - dg[i]) * (ag[i] - dg[i]);
        CU_ASSERT_DOUBLE_EQUAL(info.distance, sqrt(s), 1e-5);
        CU_ASSERT_DOUBLE_EQUAL(env_distance(env, ag, dg), sqrt(s), 1e-5);
        CU_ASSERT_DOUBLE_EQUAL(info.diag[0], dist3(ag, dg), 1e-5);
        CU_ASSERT_DOUBLE_EQUAL(info.diag[1], dist3(ag + 3, dg + 3), 1e-5);
    }
    CU_ASSERT(checked_while_turning >= 5);
    env_free(env);
}

/* The hand target moves exactly 0.01 per unit action and stays in the workspace; the hinge's
 * open stop holds against a hand that keeps pushing. */
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
    const float right[3] = {1, 0, 0};
    for (int t = 0; t < 5; t++) env_step(env, right, obs, ag, &info, err, sizeof err);
    CU_ASSERT_DOUBLE_EQUAL(d->mocap_pos[3 * mocap], 0.05, 1e-9);
    const float zero[3] = {0, 0, 0};
    for (int t = 0; t < 5; t++) env_step(env, zero, obs, ag, &info, err, sizeof err);
    CU_ASSERT_DOUBLE_EQUAL(obs[0], 0.05, 0.002);
    const float corners[4][3] = {{-1, -1, -1}, {1, -1, 1}, {1, -1, -1}, {-1, -1, 1}};
    const double lo[3] = {-0.4, 0.35, 0.05}, hi[3] = {0.4, 0.95, 0.30};
    for (int c = 0; c < 4; c++) {
        for (int t = 0; t < 100; t++) env_step(env, corners[c], obs, ag, &info, err, sizeof err);
        for (int i = 0; i < 3; i++)
            CU_ASSERT_DOUBLE_EQUAL(d->mocap_pos[3 * mocap + i], corners[c][i] > 0 ? hi[i] : lo[i],
                                   1e-9);
    }
    /* Turn the handle fully open, then keep pushing it round for 60 steps. */
    env_reset(env, obs, ag, dg);
    turner_t turner = {0};
    for (int t = 0; t < 100 && turner.phase < 3; t++) {
        turner_act(&turner, obs, dg, act);
        env_step(env, act, obs, ag, &info, err, sizeof err);
    }
    CU_ASSERT_EQUAL(turner.phase, 3);
    const float push[3] = {0, 1, 0}; /* the hand is on the arm's -y side */
    float max_angle = handle_angle(obs + 3);
    for (int t = 0; t < 60; t++) {
        env_step(env, push, obs, ag, &info, err, sizeof err);
        max_angle = fmaxf(max_angle, handle_angle(obs + 3));
    }
    CU_ASSERT(max_angle < 0.12f); /* within 7 degrees of the stop */
    env_free(env);
}

static void test_random_goals(void) {
    env_t *env = make(ENV_GOAL_RANDOM, 6);
    CU_ASSERT_PTR_NOT_NULL_FATAL(env);
    float obs[DIM], ag[DIM], dg[DIM];
    float lo[3] = {1e9f, 1e9f, 1e9f}, hi[3] = {-1e9f, -1e9f, -1e9f};
    float min_angle = 1e9f, max_angle = -1e9f;
    for (int e = 0; e < 300; e++) {
        env_reset(env, obs, ag, dg);
        for (int i = 0; i < 3; i++) lo[i] = fminf(lo[i], dg[i]), hi[i] = fmaxf(hi[i], dg[i]);
        CU_ASSERT_DOUBLE_EQUAL(hypotf(dg[3] - HINGE_X, dg[4] - HINGE_Y), ARM, 1e-5);
        CU_ASSERT_DOUBLE_EQUAL(dg[5], HANDLE_Z, 1e-6);
        float a = handle_angle(dg + 3);
        min_angle = fminf(min_angle, a);
        max_angle = fmaxf(max_angle, a);
        CU_ASSERT_DOUBLE_EQUAL(obs[4], HINGE_Y - ARM, 1e-6); /* the start stays fixed */
    }
    const float want_lo[3] = {-0.2f, 0.45f, 0.05f}, want_hi[3] = {0.2f, 0.58f, 0.25f};
    for (int i = 0; i < 3; i++) {
        CU_ASSERT(lo[i] >= want_lo[i] - 1e-6f && hi[i] <= want_hi[i] + 1e-6f);
        CU_ASSERT(hi[i] - lo[i] > 0.9f * (want_hi[i] - want_lo[i]));
    }
    CU_ASSERT(min_angle >= -M_PI / 2 - 1e-5 && max_angle <= 1e-5);
    CU_ASSERT(max_angle - min_angle > 0.9f * M_PI / 2);
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

/* 10,000 random steps in episodes of 100, each with its own drift (every other one heading into
 * the handle from the left, then sweeping right, so the handle turns): finite, in the workspace,
 * the handle end on its circle and within its travel. */
static void test_random_steps_stable(void) {
    env_t *env = make(ENV_GOAL_RANDOM, 12);
    CU_ASSERT_PTR_NOT_NULL_FATAL(env);
    float obs[DIM], ag[DIM], dg[DIM], drift[3] = {0, 0, 0};
    env_step_info_t info;
    rng_t rng;
    rng_seed(&rng, 12, 1);
    int bad = 0, off_circle = 0, outside = 0;
    float max_angle = -10.0f;
    for (int t = 0; t < 10000; t++) {
        if (t % 100 == 0) {
            env_reset(env, obs, ag, dg);
            for (int i = 0; i < 3; i++) drift[i] = 1.2f * rng_uniform(&rng) - 0.6f;
        }
        if (t % 200 == 0) {
            drift[0] = -0.3f;
            drift[1] = 0.8f;
            drift[2] = -0.25f;
        }
        if (t % 200 == 30) {
            drift[0] = 0.8f;
            drift[1] = 0.3f;
            drift[2] = 0.0f;
        }
        float act[3];
        for (int i = 0; i < 3; i++) act[i] = drift[i] + 1.6f * rng_uniform(&rng) - 0.8f;
        CU_ASSERT_EQUAL(env_step(env, act, obs, ag, &info, err, sizeof err), 0);
        for (int i = 0; i < DIM; i++) bad += !isfinite(obs[i]);
        bad += !isfinite(info.distance);
        off_circle += fabsf(hypotf(obs[3] - HINGE_X, obs[4] - HINGE_Y) - ARM) > 1e-4f ||
                      fabsf(obs[5] - HANDLE_Z) > 1e-4f;
        float a = handle_angle(obs + 3);
        off_circle += a < -M_PI / 2 - 0.1f || a > 0.1f;
        outside += obs[0] < -0.42f || obs[0] > 0.42f || obs[1] < 0.33f || obs[1] > 0.97f ||
                   obs[2] < 0.03f || obs[2] > 0.32f;
        max_angle = fmaxf(max_angle, a);
    }
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT_EQUAL(off_circle, 0);
    CU_ASSERT_EQUAL(outside, 0);
    CU_ASSERT(max_angle > -M_PI / 2 + 0.2f); /* the wandering hand did turn the handle */
    env_free(env);
}

/* A missing model file, or a model without an element the env needs, fails env_new with a
 * message naming it (and frees what was made: the sanitizer build checks for leaks). */
static void test_bad_model(void) {
    char path[1024], text[16384];
    snprintf(path, sizeof path, "%s/faucet.xml", env_models_dir());
    FILE *f = fopen(path, "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    CU_ASSERT_FATAL(n > 0 && n < sizeof text - 1);
    text[n] = '\0';
    const char *dir = test_tmpdir("faucet");
    env_set_models_dir(dir);
    CU_ASSERT_PTR_NULL(env_new("faucet", ENV_GOAL_FIXED, 1, err, sizeof err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "faucet.xml"));
    /* The same model with one element renamed. */
    char *at = strstr(text, "name=\"handle_hinge\"");
    CU_ASSERT_PTR_NOT_NULL_FATAL(at);
    snprintf(path, sizeof path, "%s/faucet.xml", dir);
    f = fopen(path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fwrite(text, 1, (size_t)(at - text), f);
    fputs("name=\"handle_pivot\"", f);
    fputs(at + strlen("name=\"handle_hinge\""), f);
    fclose(f);
    CU_ASSERT_PTR_NULL(env_new("faucet", ENV_GOAL_FIXED, 1, err, sizeof err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "'handle_hinge'"));
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
        {"scripted_turn_fixed_goal", test_scripted_turn_fixed_goal},
        {"scripted_random_goals", test_scripted_random_goals},
        {"obs_matches_mujoco", test_obs_matches_mujoco},
        {"motion_workspace_and_stop", test_motion_workspace_and_stop},
        {"random_goals", test_random_goals},
        {"determinism", test_determinism},
        {"random_steps_stable", test_random_steps_stable},
        {NULL, NULL},
    };
    return test_run_suite("env_faucet", cases);
}
