/* test_env_box2d: the point robot around the box: it never enters the grown obstacle or leaves
 * the arena, moves exactly 0.2 * action in free space, slides along a face it pushes into,
 * stops at the arena's edge, can go around to the goal, and random goals cover the free space. */
#include "env.h"
#include "rng.h"
#include "testutil.h"
#include <math.h>
#include <string.h>

#define ERRCAP 256
#define TOL 1e-5

static env_t *make(env_goal_mode_t mode, uint64_t seed, float pos[2], float goal[2]) {
    char err[ERRCAP];
    env_t *env = env_new("box2d", mode, seed, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(env);
    float ag[2];
    env_reset(env, pos, ag, goal);
    return env;
}

static void step(env_t *env, float ax, float ay, float pos[2]) {
    char err[ERRCAP];
    float action[2] = {ax, ay}, ag[2];
    env_step_info_t info;
    CU_ASSERT_EQUAL_FATAL(env_step(env, action, pos, ag, &info, err, sizeof err), 0);
    CU_ASSERT_EQUAL(pos[0], ag[0]);
    CU_ASSERT_EQUAL(pos[1], ag[1]);
}

/* The open square the centre must avoid: the obstacle [-1, 1]^2 grown by the radius 0.5. */
static int inside_obstacle(double x, double y) {
    return fabs(x) < 1.5 - TOL && fabs(y) < 1.5 - TOL;
}

static void test_start_and_goal(void) {
    float pos[2], goal[2];
    env_t *env = make(ENV_GOAL_FIXED, 1, pos, goal);
    CU_ASSERT_DOUBLE_EQUAL(pos[0], -3.5, 1e-7);
    CU_ASSERT_DOUBLE_EQUAL(pos[1], -2.0, 1e-7);
    CU_ASSERT_DOUBLE_EQUAL(goal[0], 3.5, 1e-7);
    CU_ASSERT_DOUBLE_EQUAL(goal[1], 2.0, 1e-7);
    const env_spec_t *spec = env_spec(env);
    CU_ASSERT_EQUAL(spec->substeps, 0);
    CU_ASSERT_DOUBLE_EQUAL(spec->success_threshold, 0.5, 1e-7);
    env_free(env);
}

/* Many random (and over-large, hence clipped) actions: the centre stays in the arena, out of the
 * grown obstacle, moves at most 0.2 per coordinate, and no straight move crosses the obstacle. */
static void test_random_walk_stays_free(void) {
    rng_t rng;
    rng_seed(&rng, 2024, 0);
    float pos[2], goal[2];
    env_t *env = make(ENV_GOAL_FIXED, 1, pos, goal);
    int violations = 0, tunnels = 0, near_obstacle = 0;
    for (int episode = 0; episode < 300; episode++) {
        env_reset(env, pos, (float[2]){0}, goal);
        /* Each episode drifts in one random direction, so walks reach the obstacle's faces. */
        float bias_x = 2.0f * rng_uniform(&rng) - 1.0f, bias_y = 2.0f * rng_uniform(&rng) - 1.0f;
        for (int t = 0; t < 100; t++) {
            float prev[2] = {pos[0], pos[1]};
            step(env, bias_x + 1.5f * (2.0f * rng_uniform(&rng) - 1.0f),
                 bias_y + 1.5f * (2.0f * rng_uniform(&rng) - 1.0f), pos);
            violations += fabsf(pos[0]) > 4.0f || fabsf(pos[1]) > 4.0f;
            violations += inside_obstacle(pos[0], pos[1]);
            violations +=
                fabsf(pos[0] - prev[0]) > 0.2f + TOL || fabsf(pos[1] - prev[1]) > 0.2f + TOL;
            /* The chord of a move may cut a corner it slid around (by at most 0.1 in each
             * coordinate for a move of at most 0.2 per coordinate), never go deeper. */
            for (int k = 1; k < 20; k++) {
                double f = k / 20.0, x = prev[0] + f * (pos[0] - prev[0]);
                double y = prev[1] + f * (pos[1] - prev[1]);
                tunnels += fmin(1.5 - fabs(x), 1.5 - fabs(y)) > 0.1 + TOL;
            }
            near_obstacle += fabsf(pos[0]) <= 1.5f + TOL && fabsf(pos[1]) <= 1.5f + TOL;
        }
    }
    CU_ASSERT_EQUAL(violations, 0);
    CU_ASSERT_EQUAL(tunnels, 0);
    CU_ASSERT(near_obstacle > 50); /* the walks did touch the obstacle's boundary */
    env_free(env);
}

static void test_free_motion_is_exact(void) {
    float pos[2], goal[2];
    env_t *env = make(ENV_GOAL_FIXED, 1, pos, goal);
    step(env, 0.5f, -0.25f, pos);
    CU_ASSERT_DOUBLE_EQUAL(pos[0], -3.5 + 0.1, TOL);
    CU_ASSERT_DOUBLE_EQUAL(pos[1], -2.0 - 0.05, TOL);
    step(env, 2.0f, 1.0f, pos); /* clipped to (1, 1) */
    CU_ASSERT_DOUBLE_EQUAL(pos[0], -3.4 + 0.2, TOL);
    CU_ASSERT_DOUBLE_EQUAL(pos[1], -2.05 + 0.2, TOL);
    env_free(env);
}

/* Drives the robot from the start (-3.5, -2) to (-1.7, 0), left of the obstacle. */
static void go_left_of_obstacle(env_t *env, float pos[2]) {
    for (int t = 0; t < 9; t++) step(env, 1.0f, 0.0f, pos);
    for (int t = 0; t < 10; t++) step(env, 0.0f, 1.0f, pos);
    CU_ASSERT_DOUBLE_EQUAL(pos[0], -1.7, TOL);
    CU_ASSERT_DOUBLE_EQUAL(pos[1], 0.0, TOL);
}

static void test_slides_along_face(void) {
    float pos[2], goal[2];
    env_t *env = make(ENV_GOAL_FIXED, 1, pos, goal);
    go_left_of_obstacle(env, pos);
    /* Diagonally into the left face: x stops on the face, y moves its full 0.1. */
    step(env, 1.0f, 0.5f, pos);
    CU_ASSERT_DOUBLE_EQUAL(pos[0], -1.5, TOL);
    CU_ASSERT_DOUBLE_EQUAL(pos[1], 0.1, TOL);
    step(env, 1.0f, 0.5f, pos);
    CU_ASSERT_DOUBLE_EQUAL(pos[0], -1.5, TOL);
    CU_ASSERT_DOUBLE_EQUAL(pos[1], 0.2, TOL);
    step(env, 1.0f, -1.0f, pos);
    CU_ASSERT_DOUBLE_EQUAL(pos[0], -1.5, TOL);
    CU_ASSERT_DOUBLE_EQUAL(pos[1], 0.0, TOL);
    /* Straight into the face: no motion at all. */
    step(env, 1.0f, 0.0f, pos);
    CU_ASSERT_DOUBLE_EQUAL(pos[0], -1.5, TOL);
    CU_ASSERT_DOUBLE_EQUAL(pos[1], 0.0, TOL);
    /* Slide up past the corner, then the robot is free to move right above the obstacle. */
    for (int t = 0; t < 8; t++) step(env, 1.0f, 1.0f, pos);
    /* The last of those went from (-1.5, 1.4) to y = 1.6, clearing the corner halfway: x moved
     * right for the second half of the step. */
    CU_ASSERT_DOUBLE_EQUAL(pos[1], 1.6, TOL);
    CU_ASSERT_DOUBLE_EQUAL(pos[0], -1.4, TOL);
    /* Down into the top face: y stops at 1.5, x moves its full 0.1. */
    step(env, 0.5f, -1.0f, pos);
    CU_ASSERT_DOUBLE_EQUAL(pos[0], -1.3, TOL);
    CU_ASSERT_DOUBLE_EQUAL(pos[1], 1.5, TOL);
    env_free(env);
}

static void test_arena_edge(void) {
    float pos[2], goal[2];
    env_t *env = make(ENV_GOAL_FIXED, 1, pos, goal);
    for (int t = 0; t < 5; t++) step(env, -1.0f, 0.3f, pos);
    CU_ASSERT_DOUBLE_EQUAL(pos[0], -4.0, TOL);
    CU_ASSERT_DOUBLE_EQUAL(pos[1], -2.0 + 5 * 0.06, TOL);
    for (int t = 0; t < 20; t++) step(env, 0.0f, -1.0f, pos);
    CU_ASSERT_DOUBLE_EQUAL(pos[0], -4.0, TOL);
    CU_ASSERT_DOUBLE_EQUAL(pos[1], -4.0, TOL);
    env_free(env);
}

/* A scripted path around the obstacle (up the left side, then right along y = 2) succeeds
 * within the horizon; straight towards the obstacle, the robot stops at it. */
static void test_scripted_path_reaches_goal(void) {
    char err[ERRCAP];
    float pos[2], goal[2], ag[2];
    env_t *env = make(ENV_GOAL_FIXED, 1, pos, goal);
    const env_spec_t *spec = env_spec(env);
    env_step_info_t info = {0};
    int t = 0;
    for (; t < spec->horizon; t++) {
        float target_x = pos[1] < 2.0f - 1e-4f ? -3.5f : goal[0];
        float a[2] = {(target_x - pos[0]) / 0.2f, (goal[1] - pos[1]) / 0.2f};
        CU_ASSERT_EQUAL(env_step(env, a, pos, ag, &info, err, sizeof err), 0);
        if (info.distance < 1e-4f) break;
    }
    CU_ASSERT(t < spec->horizon);
    CU_ASSERT(info.distance < spec->success_threshold);
    /* Straight right from (-3.5, 0): the obstacle stops the robot at its left face. */
    env_reset(env, pos, ag, goal);
    for (t = 0; t < 10; t++) step(env, 0.0f, 1.0f, pos);
    for (t = 0; t < 30; t++) step(env, 1.0f, 0.0f, pos);
    CU_ASSERT_DOUBLE_EQUAL(pos[0], -1.5, TOL);
    CU_ASSERT_DOUBLE_EQUAL(pos[1], 0.0, TOL);
    env_free(env);
}

/* Random goals: never inside the grown obstacle, inside the arena, spread over it (about half
 * on each side in x, some in the bands above and below the obstacle), redrawn per reset. */
static void test_random_goals(void) {
    float pos[2], goal[2], ag[2], prev[2] = {0, 0};
    env_t *env = make(ENV_GOAL_RANDOM, 5, pos, goal);
    int bad = 0, right = 0, band = 0, repeats = 0, n = 4000;
    for (int i = 0; i < n; i++) {
        env_reset(env, pos, ag, goal);
        bad += inside_obstacle(goal[0], goal[1]) || fabsf(goal[0]) > 4.0f || fabsf(goal[1]) > 4.0f;
        right += goal[0] > 0.0f;
        band += fabsf(goal[0]) < 1.5f;
        repeats += goal[0] == prev[0] && goal[1] == prev[1];
        prev[0] = goal[0];
        prev[1] = goal[1];
        CU_ASSERT_DOUBLE_EQUAL(pos[0], -3.5, 1e-7);
    }
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT_EQUAL(repeats, 0);
    /* Uniform on the free area 64 - 9 = 55: P(x > 0) = 1/2; P(|x| < 1.5) = 3 * 5 / 55. */
    CU_ASSERT(fabs((double)right / n - 0.5) < 0.04);
    CU_ASSERT(fabs((double)band / n - 15.0 / 55.0) < 0.04);
    env_free(env);
}

int main(void) {
    const test_case_t cases[] = {{"start and goal", test_start_and_goal},
                                 {"random walk stays free", test_random_walk_stays_free},
                                 {"free motion is exact", test_free_motion_is_exact},
                                 {"slides along a face", test_slides_along_face},
                                 {"arena edge", test_arena_edge},
                                 {"scripted path reaches goal", test_scripted_path_reaches_goal},
                                 {"random goals", test_random_goals},
                                 {NULL, NULL}};
    return test_run_suite("env_box2d", cases);
}
