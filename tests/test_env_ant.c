/* test_env_ant: the MuJoCo ant: its start and goal, the distance and xy diagnostic against a
 * direct computation, no NaN or blow-up over 10,000 random steps, and the authors' goal pose is
 * one the model can hold: started in it, a PD controller on the goal joint angles keeps the ant
 * within 0.1 of the goal for 100 steps (and without control it does not stay there). */
#include "env.h"
#include "env_internal.h"
#include "rng.h"
#include "testutil.h"
#include <math.h>
#include <mujoco/mujoco.h>
#include <string.h>

#define ERRCAP 512
#define NQ 15
#define NV 14
#define OBS (NQ + NV)

/* The ODAC authors' ant goal, as ENVS.md lists it. */
static const double k_goal[NQ] = {5.0,      5.0,      0.55826,  0.99472,  -0.06550,
                                  0.05404,  0.05769,  0.54550,  0.49176,  0.43606,
                                  -1.06352, -0.54213, -0.72605, -0.00647, 0.99494};

static env_t *make(env_goal_mode_t mode, uint64_t seed) {
    char err[ERRCAP] = "";
    env_t *env = env_new("ant", mode, seed, err, sizeof err);
    if (!env) fprintf(stderr, "env_new(ant): %s\n", err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(env);
    return env;
}

static double dist15(const float *a, const double *b) {
    double s = 0.0;
    for (int i = 0; i < NQ; i++) s += (a[i] - b[i]) * (a[i] - b[i]);
    return sqrt(s);
}

static void test_start_goal_and_distance(void) {
    env_t *env = make(ENV_GOAL_FIXED, 1);
    const env_spec_t *spec = env_spec(env);
    CU_ASSERT_EQUAL(spec->obs_dim, OBS);
    CU_ASSERT_EQUAL(spec->goal_dim, NQ);
    CU_ASSERT_EQUAL(spec->substeps, 5);
    env_mj_t *mj = env_mj_of(env);
    CU_ASSERT_PTR_NOT_NULL_FATAL(mj);
    const mjModel *m = mj->model;
    CU_ASSERT_DOUBLE_EQUAL(m->opt.timestep, 0.01, 1e-12);
    CU_ASSERT_EQUAL(m->nu, 8);
    for (int i = 0; i < m->nu; i++) {
        CU_ASSERT_DOUBLE_EQUAL(m->actuator_ctrlrange[2 * i], -1.0, 1e-12);
        CU_ASSERT_DOUBLE_EQUAL(m->actuator_ctrlrange[2 * i + 1], 1.0, 1e-12);
    }
    float obs[OBS], ag[NQ], dg[NQ];
    env_reset(env, obs, ag, dg);
    for (int i = 0; i < NQ; i++) CU_ASSERT_DOUBLE_EQUAL(dg[i], k_goal[i], 1e-6);
    /* Standing at the origin, upright, at rest. */
    CU_ASSERT_DOUBLE_EQUAL(obs[0], 0.0, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(obs[1], 0.0, 1e-9);
    CU_ASSERT(obs[2] > 0.3f && obs[2] < 0.8f);
    CU_ASSERT_DOUBLE_EQUAL(obs[3], 1.0, 1e-9);
    for (int i = 0; i < NV; i++) CU_ASSERT_EQUAL(obs[NQ + i], 0.0f);
    const mjData *d = mj->data;
    for (int i = 0; i < NQ; i++) CU_ASSERT_EQUAL(obs[i], (float)d->qpos[i]);
    /* Idle: it keeps standing (the feet rest on the floor, it does not fall through). */
    char err[ERRCAP];
    env_step_info_t info;
    float zero[8] = {0};
    for (int t = 0; t < 20; t++) env_step(env, zero, obs, ag, &info, err, sizeof err);
    CU_ASSERT(obs[2] > 0.2f);
    CU_ASSERT(fabsf(obs[0]) < 0.05f && fabsf(obs[1]) < 0.05f);
    /* Distance: 15-D L2 to the goal; diag[0]: the xy distance. */
    CU_ASSERT_DOUBLE_EQUAL(info.distance, dist15(ag, k_goal), 1e-4);
    CU_ASSERT_DOUBLE_EQUAL(info.diag[0], hypot(ag[0] - 5.0, ag[1] - 5.0), 1e-4);
    CU_ASSERT_EQUAL(memcmp(obs, ag, sizeof ag), 0);
    for (int i = 0; i < NV; i++) CU_ASSERT_EQUAL(obs[NQ + i], (float)d->qvel[i]);
    env_free(env);
}

/* 10,000 random steps (100 episodes): everything finite and bounded. */
static void test_random_steps_stay_sane(void) {
    env_t *env = make(ENV_GOAL_FIXED, 3);
    rng_t rng;
    rng_seed(&rng, 77, 0);
    float obs[OBS], ag[NQ], dg[NQ], a[8];
    env_step_info_t info;
    char err[ERRCAP];
    int bad = 0;
    double max_speed = 0.0, max_xy = 0.0, min_z = 1e9, max_z = -1e9;
    for (int t = 0; t < 10000; t++) {
        if (t % 100 == 0) env_reset(env, obs, ag, dg);
        for (int i = 0; i < 8; i++) a[i] = 2.0f * rng_uniform(&rng) - 1.0f;
        CU_ASSERT_EQUAL(env_step(env, a, obs, ag, &info, err, sizeof err), 0);
        for (int i = 0; i < OBS; i++) bad += !isfinite(obs[i]);
        bad += !isfinite(info.distance);
        for (int i = 0; i < NV; i++) max_speed = fmax(max_speed, fabs(obs[NQ + i]));
        max_xy = fmax(max_xy, fmax(fabs(obs[0]), fabs(obs[1])));
        min_z = fmin(min_z, obs[2]);
        max_z = fmax(max_z, obs[2]);
    }
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT(max_speed < 100.0);
    CU_ASSERT(max_xy < 10.0);
    CU_ASSERT(min_z > 0.0 && max_z < 3.0);
    env_free(env);
}

/* Puts the ant in the goal pose at rest (a test-only use of the MuJoCo state), then steps with
 * the controller: PD on the goal joint angles when pd is set, else zero torque. Returns the
 * largest 15-D distance to the goal over 100 env steps. */
static double hold_goal_pose(int pd) {
    env_t *env = make(ENV_GOAL_FIXED, 1);
    float obs[OBS], ag[NQ], dg[NQ], a[8];
    env_reset(env, obs, ag, dg);
    env_mj_t *mj = env_mj_of(env);
    CU_ASSERT_PTR_NOT_NULL_FATAL(mj);
    mjData *d = mj->data;
    for (int i = 0; i < NQ; i++) d->qpos[i] = k_goal[i];
    mju_zero(d->qvel, NV);
    mj_forward(mj->model, d);
    for (int i = 0; i < NQ; i++) obs[i] = (float)d->qpos[i];
    for (int i = 0; i < NV; i++) obs[NQ + i] = 0.0f;
    /* Gains per rad and per rad/s, in action units (1 = full torque); the controller acts once per
     * env step (0.05 s), so they stay modest. */
    const double kp = 2.0, kd = 0.2;
    char err[ERRCAP];
    env_step_info_t info;
    double worst = 0.0;
    for (int t = 0; t < 100; t++) {
        for (int j = 0; j < 8; j++)
            a[j] = pd ? (float)(kp * (k_goal[7 + j] - obs[7 + j]) - kd * obs[NQ + 6 + j]) : 0.0f;
        CU_ASSERT_EQUAL(env_step(env, a, obs, ag, &info, err, sizeof err), 0);
        worst = fmax(worst, dist15(ag, k_goal));
    }
    env_free(env);
    return worst;
}

static void test_goal_pose_can_be_held(void) {
    double held = hold_goal_pose(1);
    CU_ASSERT(held < 0.1);
    /* Sensitivity: without control the legs fold and the ant leaves the pose. */
    double idle = hold_goal_pose(0);
    CU_ASSERT(idle > 0.2);
    fprintf(stderr, "\n  ant goal pose: max 15-D distance %.4f held by PD, %.4f idle\n", held,
            idle);
}

static void test_random_goals(void) {
    env_t *env = make(ENV_GOAL_RANDOM, 8);
    float obs[OBS], ag[NQ], dg[NQ];
    double sum_x = 0.0, max_abs = 0.0;
    int n = 500, bad = 0;
    for (int k = 0; k < n; k++) {
        env_reset(env, obs, ag, dg);
        sum_x += dg[0];
        max_abs = fmax(max_abs, fmax(fabs(dg[0]), fabs(dg[1])));
        for (int i = 2; i < NQ; i++) bad += fabs(dg[i] - k_goal[i]) > 1e-6;
        CU_ASSERT_DOUBLE_EQUAL(obs[0], 0.0, 1e-9);
    }
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT(max_abs <= 5.0 && max_abs > 4.5);
    CU_ASSERT(fabs(sum_x / n) < 0.5); /* uniform on [-5, 5]: mean 0, sd of the mean ~0.13 */
    env_free(env);
}

int main(void) {
    const test_case_t cases[] = {{"start, goal and distance", test_start_goal_and_distance},
                                 {"10,000 random steps stay sane", test_random_steps_stay_sane},
                                 {"goal pose can be held", test_goal_pose_can_be_held},
                                 {"random goals", test_random_goals},
                                 {NULL, NULL}};
    return test_run_suite("env_ant", cases);
}
