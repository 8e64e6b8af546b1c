/* test_env_ant: the MuJoCo ant: the authors' model settings (gear 120, hips +-30 degrees, ankles
 * 30-70 degrees, RK4), its start (torso at z 0.75) with the authors' reset noise (U(-0.1, 0.1) on
 * qpos, 0.1 N(0, 1) on qvel) checked by its statistics, the goal, the distance and xy diagnostic
 * against a direct computation, no NaN or blow-up over 10,000 random steps, and the authors' goal
 * pose is one the model can hold: started in it, a PD controller on the goal joint angles keeps
 * the ant within 0.1 of the goal for 100 steps (and without control it does not stay there). */
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

/* The start keyframe, as ant.xml writes it. */
static const double k_start[NQ] = {0, 0, 0.75, 1, 0, 0, 0, 0, 0.8, 0, -0.8, 0, -0.8, 0, 0.8};

#define DEG (M_PI / 180.0)

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
    CU_ASSERT_EQUAL(m->opt.integrator, mjINT_RK4);
    for (int i = 0; i < m->nu; i++) {
        CU_ASSERT_DOUBLE_EQUAL(m->actuator_ctrlrange[2 * i], -1.0, 1e-12);
        CU_ASSERT_DOUBLE_EQUAL(m->actuator_ctrlrange[2 * i + 1], 1.0, 1e-12);
        CU_ASSERT_DOUBLE_EQUAL(m->actuator_gear[6 * i], 120.0, 1e-12);
        /* Actuator i drives hinge i + 1 (qpos 7 + i): hip1 ankle1 hip2 ... ankle4. */
        CU_ASSERT_EQUAL(m->jnt_qposadr[m->actuator_trnid[2 * i]], 7 + i);
    }
    /* Joint ranges: hips +-30 degrees; ankles 30 to 70 degrees, negative for legs 2 and 3. */
    for (int j = 1; j <= 8; j++) {
        int ankle = j % 2 == 0, negative = j == 4 || j == 6;
        double lo = ankle ? (negative ? -70 : 30) : -30, hi = ankle ? (negative ? -30 : 70) : 30;
        CU_ASSERT_EQUAL(m->jnt_type[j], mjJNT_HINGE);
        CU_ASSERT_EQUAL(m->jnt_limited[j], 1);
        CU_ASSERT_DOUBLE_EQUAL(m->jnt_range[2 * j], lo * DEG, 1e-5);
        CU_ASSERT_DOUBLE_EQUAL(m->jnt_range[2 * j + 1], hi * DEG, 1e-5);
    }
    int key = mj_name2id(m, mjOBJ_KEY, "start");
    CU_ASSERT_FATAL(key >= 0);
    for (int i = 0; i < NQ; i++) CU_ASSERT_DOUBLE_EQUAL(m->key_qpos[NQ * key + i], k_start[i], 0);
    float obs[OBS], ag[NQ], dg[NQ];
    env_reset(env, obs, ag, dg);
    for (int i = 0; i < NQ; i++) CU_ASSERT_DOUBLE_EQUAL(dg[i], k_goal[i], 1e-6);
    /* The start plus the reset noise: every qpos within 0.1 of the keyframe (the quaternion,
     * normalised, within 0.1 / 0.9), qvel within 6 standard deviations, not all zero. */
    for (int i = 0; i < NQ; i++) /* normalising may take a quaternion part up to 0.1 / 0.9 */
        CU_ASSERT(fabs(obs[i] - k_start[i]) <= (i >= 3 && i < 7 ? 0.1 / 0.9 : 0.1) + 1e-6);
    double qnorm = 0.0, speed = 0.0;
    for (int i = 3; i < 7; i++) qnorm += obs[i] * obs[i];
    CU_ASSERT_DOUBLE_EQUAL(qnorm, 1.0, 1e-6);
    for (int i = 0; i < NV; i++) {
        CU_ASSERT(fabsf(obs[NQ + i]) < 0.6f);
        speed += fabs(obs[NQ + i]);
    }
    CU_ASSERT(speed > 0.0);
    const mjData *d = mj->data;
    for (int i = 0; i < NQ; i++) CU_ASSERT_EQUAL(obs[i], (float)d->qpos[i]);
    for (int i = 0; i < NV; i++) CU_ASSERT_EQUAL(obs[NQ + i], (float)d->qvel[i]);
    /* Idle: it drops 0.25 onto its feet and keeps standing (it does not fall through). */
    char err[ERRCAP];
    env_step_info_t info;
    float zero[8] = {0}, x0 = obs[0], y0 = obs[1];
    double min_z = obs[2];
    for (int t = 0; t < 20; t++) {
        env_step(env, zero, obs, ag, &info, err, sizeof err);
        min_z = fmin(min_z, obs[2]);
    }
    CU_ASSERT(min_z < 0.6);   /* it did drop */
    CU_ASSERT(obs[2] > 0.2f); /* and stands */
    CU_ASSERT(fabsf(obs[0] - x0) < 0.1f && fabsf(obs[1] - y0) < 0.1f);
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

/* The reset noise over 2,000 resets: qpos - start is U(-0.1, 0.1) on the 11 non-quaternion
 * entries (never beyond 0.1; mean 0; std 0.1 / sqrt(3) = 0.0577), qvel is 0.1 N(0, 1) on all 14
 * (mean 0, std 0.1, about 0.3% beyond 3 std), entries uncorrelated; the quaternion is a unit
 * one near upright (each imaginary part about U(-0.1, 0.1) / 1.0). Successive resets differ. */
static void test_reset_noise(void) {
    env_t *env = make(ENV_GOAL_FIXED, 21);
    float obs[OBS], ag[NQ], dg[NQ], prev[OBS] = {0};
    const int n = 2000;
    double sum[OBS] = {0}, sq[OBS] = {0}, cross = 0.0, beyond = 0.0;
    int over = 0, repeats = 0, bad_norm = 0;
    for (int k = 0; k < n; k++) {
        env_reset(env, obs, ag, dg);
        double dev[OBS];
        for (int i = 0; i < OBS; i++) dev[i] = obs[i] - (i < NQ ? k_start[i] : 0.0);
        for (int i = 0; i < OBS; i++) {
            sum[i] += dev[i];
            sq[i] += dev[i] * dev[i];
        }
        for (int i = 0; i < NQ; i++) over += (i < 3 || i >= 7) && fabs(dev[i]) > 0.1 + 1e-6;
        for (int i = 0; i < NV; i++) beyond += fabs(dev[NQ + i]) > 0.3;
        cross += dev[0] * dev[1] + dev[NQ] * dev[NQ + 1];
        double qn = 0.0;
        for (int i = 3; i < 7; i++) qn += (double)obs[i] * obs[i];
        bad_norm += fabs(qn - 1.0) > 1e-6;
        repeats += memcmp(obs, prev, sizeof obs) == 0;
        memcpy(prev, obs, sizeof obs);
    }
    int bad_qpos = 0, bad_qvel = 0, bad_quat = 0;
    for (int i = 0; i < OBS; i++) {
        double mean = sum[i] / n, sd = sqrt(sq[i] / n - mean * mean);
        if (i < NQ && (i < 3 || i >= 7)) /* se of the mean 0.0013, of the std 0.0009 */
            bad_qpos += fabs(mean) > 0.006 || fabs(sd - 0.1 / sqrt(3.0)) > 0.004;
        else if (i >= 4 && i < 7)
            bad_quat += fabs(mean) > 0.006 || sd < 0.05 || sd > 0.06;
        else if (i >= NQ) /* se of the mean 0.0022, of the std 0.0016 */
            bad_qvel += fabs(mean) > 0.01 || fabs(sd - 0.1) > 0.007;
    }
    CU_ASSERT_EQUAL(over, 0);
    CU_ASSERT_EQUAL(bad_qpos, 0);
    CU_ASSERT_EQUAL(bad_qvel, 0);
    CU_ASSERT_EQUAL(bad_quat, 0);
    CU_ASSERT_EQUAL(bad_norm, 0);
    CU_ASSERT_EQUAL(repeats, 0);
    /* P(|N(0, 1)| > 3) = 0.0027 of 14 n draws: 75 expected, sd 9. */
    CU_ASSERT(beyond > 40 && beyond < 110);
    /* Correlation of x with y and of two qvel entries: 2n products of variances 1.1e-5, 1e-4. */
    CU_ASSERT(fabs(cross / n) < 0.001);
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
    double worst = 0.0, past_limit = 0.0;
    const mjModel *m = mj->model;
    for (int t = 0; t < 100; t++) {
        for (int j = 0; j < 8; j++)
            a[j] = pd ? (float)(kp * (k_goal[7 + j] - obs[7 + j]) - kd * obs[NQ + 6 + j]) : 0.0f;
        CU_ASSERT_EQUAL(env_step(env, a, obs, ag, &info, err, sizeof err), 0);
        worst = fmax(worst, dist15(ag, k_goal));
        for (int j = 0; j < 8; j++) {
            double lo = m->jnt_range[2 * (j + 1)], hi = m->jnt_range[2 * (j + 1) + 1];
            past_limit = fmax(past_limit, fmax(lo - obs[7 + j], obs[7 + j] - hi));
        }
    }
    if (pd) CU_ASSERT(past_limit < 0.05); /* the soft limits give way only a little */
    env_free(env);
    return worst;
}

/* The authors' goal angles against their ranges: hip1 (0.5455 > 30 degrees = 0.5236), ankle1
 * (0.4918 < 0.5236) and hip3 (-0.5421 < -0.5236) lie 0.019 to 0.032 past a limit, the other five
 * inside (MuJoCo's soft limits let a loaded joint go that far, see below). */
static void test_goal_against_joint_ranges(void) {
    env_t *env = make(ENV_GOAL_FIXED, 1);
    const mjModel *m = env_mj_of(env)->model;
    int outside = 0, outside_mask = 0;
    double worst = 0.0;
    for (int j = 0; j < 8; j++) {
        double lo = m->jnt_range[2 * (j + 1)], hi = m->jnt_range[2 * (j + 1) + 1];
        double past = fmax(lo - k_goal[7 + j], k_goal[7 + j] - hi);
        if (past > 0) {
            outside++;
            outside_mask |= 1 << j;
            worst = fmax(worst, past);
        }
    }
    CU_ASSERT_EQUAL(outside, 3);
    CU_ASSERT_EQUAL(outside_mask, (1 << 0) | (1 << 1) | (1 << 4)); /* hip1, ankle1, hip3 */
    CU_ASSERT_DOUBLE_EQUAL(worst, 30 * DEG - 0.49176, 1e-5);       /* ankle1, 0.0318 */
    env_free(env);
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
        CU_ASSERT(fabsf(obs[0]) <= 0.1f); /* the start, with reset noise */
    }
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT(max_abs <= 5.0 && max_abs > 4.5);
    CU_ASSERT(fabs(sum_x / n) < 0.5); /* uniform on [-5, 5]: mean 0, sd of the mean ~0.13 */
    env_free(env);
}

int main(void) {
    const test_case_t cases[] = {{"start, goal and distance", test_start_goal_and_distance},
                                 {"reset noise", test_reset_noise},
                                 {"10,000 random steps stay sane", test_random_steps_stay_sane},
                                 {"goal against joint ranges", test_goal_against_joint_ranges},
                                 {"goal pose can be held", test_goal_pose_can_be_held},
                                 {"random goals", test_random_goals},
                                 {NULL, NULL}};
    return test_run_suite("env_ant", cases);
}
