/* test_env_sawyer_push: the hand moves 0.02 * action and stays in its box, starts where ENVS.md
 * says, the puck stays on the table through 10,000 random steps, and a scripted pusher written
 * here brings the puck and then the hand to their goals within the horizon. */
#include "env.h"
#include "env_internal.h"
#include "rng.h"
#include "testutil.h"
#include <math.h>
#include <mujoco/mujoco.h>
#include <string.h>

#define ERRCAP 512
#define TOL 1e-6

static env_t *make(env_goal_mode_t mode, uint64_t seed) {
    char err[ERRCAP] = "";
    env_t *env = env_new("sawyer-push", mode, seed, err, sizeof err);
    if (!env) fprintf(stderr, "env_new(sawyer-push): %s\n", err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(env);
    return env;
}

static void step(env_t *env, float ax, float ay, float obs[4], env_step_info_t *info) {
    char err[ERRCAP];
    float a[2] = {ax, ay}, ag[4];
    CU_ASSERT_EQUAL_FATAL(env_step(env, a, obs, ag, info, err, sizeof err), 0);
    CU_ASSERT_EQUAL(memcmp(obs, ag, sizeof ag), 0);
}

static void test_start_goal_and_hand_motion(void) {
    env_t *env = make(ENV_GOAL_FIXED, 1);
    float obs[4], ag[4], dg[4];
    env_reset(env, obs, ag, dg);
    const float want_obs[4] = {0.0f, 0.55f, 0.0f, 0.6f}, want_goal[4] = {-0.05f, 0.6f, 0.15f, 0.7f};
    for (int i = 0; i < 4; i++) {
        CU_ASSERT_DOUBLE_EQUAL(obs[i], want_obs[i], 1e-4);
        CU_ASSERT_DOUBLE_EQUAL(dg[i], want_goal[i], 1e-7);
    }
    env_step_info_t info;
    /* Away from the puck (down-left is clipped at y = 0.55): x moves 0.02 * a. */
    step(env, -0.5f, -1.0f, obs, &info);
    CU_ASSERT_DOUBLE_EQUAL(obs[0], -0.01, TOL);
    CU_ASSERT_DOUBLE_EQUAL(obs[1], 0.55, TOL);
    for (int t = 0; t < 10; t++) step(env, -1.0f, 0.0f, obs, &info);
    CU_ASSERT_DOUBLE_EQUAL(obs[0], -0.1, TOL); /* clipped at the box's edge */
    step(env, 0.0f, 0.5f, obs, &info);
    CU_ASSERT_DOUBLE_EQUAL(obs[1], 0.56, TOL);
    for (int t = 0; t < 10; t++) step(env, 0.0f, 1.0f, obs, &info);
    CU_ASSERT_DOUBLE_EQUAL(obs[1], 0.65, TOL);
    /* The hand at x = -0.1 passed left of the puck, which has not moved. */
    CU_ASSERT_DOUBLE_EQUAL(obs[2], 0.0, 1e-3);
    CU_ASSERT_DOUBLE_EQUAL(obs[3], 0.6, 1e-3);
    /* Distance and diagnostics against a direct computation. */
    double hand = hypot(obs[0] - dg[0], obs[1] - dg[1]),
           puck = hypot(obs[2] - dg[2], obs[3] - dg[3]);
    CU_ASSERT_DOUBLE_EQUAL(info.diag[0], hand, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(info.diag[1], puck, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(info.distance, sqrt(hand * hand + puck * puck), 1e-6);
    env_free(env);
}

/* 10,000 random steps: finite, hand in its box, puck on the table (upright, near the hand's
 * reach) and the hand never overlapping it by more than a few millimetres. */
static void test_random_steps_stay_sane(void) {
    env_t *env = make(ENV_GOAL_FIXED, 2);
    env_mj_t *mj = env_mj_of(env);
    CU_ASSERT_PTR_NOT_NULL_FATAL(mj);
    const mjData *d = mj->data;
    rng_t rng;
    rng_seed(&rng, 31, 0);
    float obs[4], ag[4], dg[4];
    env_step_info_t info;
    int bad = 0, off_table = 0, outside_box = 0, overlaps = 0;
    double puck_moved = 0.0, worst_gap = 1.0;
    for (int t = 0; t < 10000; t++) {
        if (t % 100 == 0) env_reset(env, obs, ag, dg);
        step(env, 2.0f * rng_uniform(&rng) - 1.0f, 2.0f * rng_uniform(&rng) - 1.0f, obs, &info);
        for (int i = 0; i < 4; i++) bad += !isfinite(obs[i]);
        outside_box += obs[0] < -0.1f - TOL || obs[0] > 0.1f + TOL || obs[1] < 0.55f - TOL ||
                       obs[1] > 0.65f + TOL;
        /* puck: qpos[0:3] position, [3:7] quaternion; upright means its axis stays vertical */
        const double *q = d->qpos;
        double tilt = 2.0 * (q[4] * q[4] + q[5] * q[5]); /* 1 - cos(tilt angle) */
        off_table +=
            fabs(q[2] - 0.02) > 0.005 || tilt > 0.05 || fabs(q[0]) > 0.5 || fabs(q[1] - 0.6) > 0.5;
        /* pusher: box half sizes (0.06, 0.019) around the hand; puck radius 0.03 */
        double dx = fmax(fabs(q[0] - obs[0]) - 0.06, 0.0),
               dy = fmax(fabs(q[1] - obs[1]) - 0.019, 0.0);
        overlaps += hypot(dx, dy) < 0.03 - 0.005;
        worst_gap = fmin(worst_gap, hypot(dx, dy) - 0.03);
        puck_moved = fmax(puck_moved, hypot(q[0], q[1] - 0.6));
    }
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT_EQUAL(outside_box, 0);
    CU_ASSERT_EQUAL(off_table, 0);
    CU_ASSERT_EQUAL(overlaps, 0);
    fprintf(stderr, "\n  deepest pusher-puck overlap %.4f m, %d steps over 5 mm\n", -worst_gap,
            overlaps);
    CU_ASSERT(puck_moved > 0.02); /* random pushing did push the puck */
    env_free(env);
}

/* Scripted pushing: waypoints for the hand, each reached by full-speed steps. Side-push the puck
 * from (0, 0.6) to x = 0.15, then push it up from below to y ~ 0.7, then park the hand at its
 * goal. The pusher is 0.12 wide and 0.038 deep, the puck's radius 0.03 (models/sawyer_push.xml). */
static void test_scripted_push_reaches_goal(void) {
    env_t *env = make(ENV_GOAL_FIXED, 1);
    const env_spec_t *spec = env_spec(env);
    float obs[4], ag[4], dg[4];
    env_reset(env, obs, ag, dg);
    const double waypoints[][2] = {
        {-0.1, 0.55},               /* left, below the puck */
        {-0.1, 0.6},                /* level with the puck, to its left */
        {0.15 - 0.06 - 0.03, 0.6},  /* side-push until the puck's centre is at x = 0.15 */
        {0.15 - 0.06 - 0.03, 0.55}, /* back down */
        {0.1, 0.55},                /* under the puck */
        {0.1, 0.65},                /* push up: the puck's centre ends at 0.65 + 0.049 */
        {0.1, 0.6},                 /* back off */
        {-0.05, 0.6},               /* park at the hand goal */
    };
    const int n_way = (int)(sizeof waypoints / sizeof waypoints[0]);
    env_step_info_t info = {0};
    int t = 0;
    for (int w = 0; w < n_way && t < spec->horizon; w++) {
        while (t < spec->horizon &&
               hypot(waypoints[w][0] - obs[0], waypoints[w][1] - obs[1]) > 1e-5) {
            step(env, (float)((waypoints[w][0] - obs[0]) / 0.02),
                 (float)((waypoints[w][1] - obs[1]) / 0.02), obs, &info);
            t++;
        }
    }
    fprintf(stderr,
            "\n  scripted push: %d steps, hand (%.4f, %.4f) puck (%.4f, %.4f), distance %.4f\n", t,
            obs[0], obs[1], obs[2], obs[3], info.distance);
    CU_ASSERT(t < spec->horizon);
    CU_ASSERT(info.diag[0] < 1e-4); /* hand at its goal */
    CU_ASSERT(info.diag[1] < 0.02); /* puck within 2 cm of its goal */
    CU_ASSERT(info.distance < spec->success_threshold);
    env_free(env);
}

static void test_random_goals(void) {
    env_t *env = make(ENV_GOAL_RANDOM, 4);
    float obs[4], ag[4], dg[4];
    int bad = 0;
    double sum = 0.0;
    for (int k = 0; k < 500; k++) {
        env_reset(env, obs, ag, dg);
        bad += dg[0] < -0.1f || dg[0] > 0.1f || dg[1] < 0.55f || dg[1] > 0.65f;
        bad += dg[2] < -0.15f || dg[2] > 0.15f || dg[3] < 0.55f || dg[3] > 0.7f;
        /* the puck goal never lies under the pusher at the hand goal */
        bad += fabsf(dg[2] - dg[0]) < 0.09f && fabsf(dg[3] - dg[1]) < 0.049f;
        sum += dg[2];
    }
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT(fabs(sum / 500) < 0.03);
    env_free(env);
}

int main(void) {
    const test_case_t cases[] = {{"start, goal and hand motion", test_start_goal_and_hand_motion},
                                 {"10,000 random steps stay sane", test_random_steps_stay_sane},
                                 {"scripted push reaches goal", test_scripted_push_reaches_goal},
                                 {"random goals", test_random_goals},
                                 {NULL, NULL}};
    return test_run_suite("env_sawyer_push", cases);
}
