/* test_env_box2d: the point robot around the 4 x 4 box: it never enters the grown obstacle or
 * leaves the arena, moves exactly 0.2 * action in free space, slides along a face it pushes into,
 * stops at the arena's edge, can go around to the goal, random goals cover the free space, and
 * the optional action noise has the stated law (Gaussian, added to the clipped action, clipped
 * again). */
#include "env.h"
#include "env_internal.h"
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

/* The open square the centre must avoid: the obstacle [-2, 2]^2 grown by the radius 0.5. */
#define BLOCKED 2.5
static int inside_obstacle(double x, double y) {
    return fabs(x) < BLOCKED - TOL && fabs(y) < BLOCKED - TOL;
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
    CU_ASSERT_DOUBLE_EQUAL(spec->success_threshold, 0.6, 1e-7); /* the authors' radius */
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
                tunnels += fmin(BLOCKED - fabs(x), BLOCKED - fabs(y)) > 0.1 + TOL;
            }
            near_obstacle += fabs(pos[0]) <= BLOCKED + TOL && fabs(pos[1]) <= BLOCKED + TOL;
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

/* Drives the robot from the start (-3.5, -2) to (-2.6, 0), 0.1 left of the obstacle's grown
 * left face x = -2.5. */
static void go_left_of_obstacle(env_t *env, float pos[2]) {
    for (int t = 0; t < 4; t++) step(env, 1.0f, 0.0f, pos);
    step(env, 0.5f, 0.0f, pos);
    for (int t = 0; t < 10; t++) step(env, 0.0f, 1.0f, pos);
    CU_ASSERT_DOUBLE_EQUAL(pos[0], -2.6, TOL);
    CU_ASSERT_DOUBLE_EQUAL(pos[1], 0.0, TOL);
}

static void test_slides_along_face(void) {
    float pos[2], goal[2];
    env_t *env = make(ENV_GOAL_FIXED, 1, pos, goal);
    go_left_of_obstacle(env, pos);
    /* Diagonally into the left face: x stops on the face, y moves its full 0.1. */
    step(env, 1.0f, 0.5f, pos);
    CU_ASSERT_DOUBLE_EQUAL(pos[0], -2.5, TOL);
    CU_ASSERT_DOUBLE_EQUAL(pos[1], 0.1, TOL);
    step(env, 1.0f, 0.5f, pos);
    CU_ASSERT_DOUBLE_EQUAL(pos[0], -2.5, TOL);
    CU_ASSERT_DOUBLE_EQUAL(pos[1], 0.2, TOL);
    step(env, 1.0f, -1.0f, pos);
    CU_ASSERT_DOUBLE_EQUAL(pos[0], -2.5, TOL);
    CU_ASSERT_DOUBLE_EQUAL(pos[1], 0.0, TOL);
    /* Straight into the face: no motion at all. */
    step(env, 1.0f, 0.0f, pos);
    CU_ASSERT_DOUBLE_EQUAL(pos[0], -2.5, TOL);
    CU_ASSERT_DOUBLE_EQUAL(pos[1], 0.0, TOL);
    /* Slide up past the corner (-2.5, 2.5), then the robot is free to move right above the
     * obstacle: 12 steps of (1, 1) slide to (-2.5, 2.4). */
    for (int t = 0; t < 12; t++) step(env, 1.0f, 1.0f, pos);
    CU_ASSERT_DOUBLE_EQUAL(pos[0], -2.5, TOL);
    CU_ASSERT_DOUBLE_EQUAL(pos[1], 2.4, TOL);
    /* The 13th goes from (-2.5, 2.4) to y = 2.6, clearing the corner halfway: x moves right for
     * the second half of the step. */
    step(env, 1.0f, 1.0f, pos);
    CU_ASSERT_DOUBLE_EQUAL(pos[1], 2.6, TOL);
    CU_ASSERT_DOUBLE_EQUAL(pos[0], -2.4, TOL);
    /* Down into the top face: y stops at 2.5, x moves its full 0.1. */
    step(env, 0.5f, -1.0f, pos);
    CU_ASSERT_DOUBLE_EQUAL(pos[0], -2.3, TOL);
    CU_ASSERT_DOUBLE_EQUAL(pos[1], 2.5, TOL);
    /* The old 2 x 2 obstacle's grown face (x = -1.5) no longer exists, but the new one does:
     * from (-2.3, 2.5) straight down is blocked. */
    step(env, 0.0f, -1.0f, pos);
    CU_ASSERT_DOUBLE_EQUAL(pos[0], -2.3, TOL);
    CU_ASSERT_DOUBLE_EQUAL(pos[1], 2.5, TOL);
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

/* A scripted path around the obstacle (up the left side to y = 3, above the grown square, right
 * along y = 3, then down to the goal: 25 + 35 + 5 = 65 steps) succeeds within the horizon;
 * straight towards the obstacle, the robot stops at it. */
static void test_scripted_path_reaches_goal(void) {
    char err[ERRCAP];
    float pos[2], goal[2], ag[2];
    env_t *env = make(ENV_GOAL_FIXED, 1, pos, goal);
    const env_spec_t *spec = env_spec(env);
    env_step_info_t info = {0};
    int t = 0, blocked_moves = 0;
    for (; t < spec->horizon; t++) {
        float target[2] = {goal[0], goal[1]};
        if (pos[0] < goal[0] - 1e-4f) { /* not yet past the obstacle: go over it at y = 3 */
            target[0] = pos[1] < 3.0f - 1e-4f ? pos[0] : goal[0];
            target[1] = 3.0f;
        }
        float a[2] = {(target[0] - pos[0]) / 0.2f, (target[1] - pos[1]) / 0.2f};
        float before[2] = {pos[0], pos[1]};
        CU_ASSERT_EQUAL(env_step(env, a, pos, ag, &info, err, sizeof err), 0);
        blocked_moves += pos[0] == before[0] && pos[1] == before[1];
        if (info.distance < 1e-4f) break;
    }
    CU_ASSERT_EQUAL(t, 64); /* the 65th step arrives */
    CU_ASSERT_EQUAL(blocked_moves, 0);
    CU_ASSERT(info.distance < spec->success_threshold);
    /* Straight right from (-3.5, 0): the obstacle stops the robot at its grown left face. */
    env_reset(env, pos, ag, goal);
    for (t = 0; t < 10; t++) step(env, 0.0f, 1.0f, pos);
    for (t = 0; t < 30; t++) step(env, 1.0f, 0.0f, pos);
    CU_ASSERT_DOUBLE_EQUAL(pos[0], -2.5, TOL);
    CU_ASSERT_DOUBLE_EQUAL(pos[1], 0.0, TOL);
    /* Along y = 2 (the straight line's height at the goal) the robot is stopped too. */
    env_reset(env, pos, ag, goal);
    for (t = 0; t < 20; t++) step(env, 0.0f, 1.0f, pos);
    for (t = 0; t < 40; t++) step(env, 1.0f, 0.0f, pos);
    CU_ASSERT_DOUBLE_EQUAL(pos[0], -2.5, TOL);
    CU_ASSERT_DOUBLE_EQUAL(pos[1], 2.0, TOL);
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
        band += fabsf(goal[0]) < BLOCKED;
        repeats += goal[0] == prev[0] && goal[1] == prev[1];
        prev[0] = goal[0];
        prev[1] = goal[1];
        CU_ASSERT_DOUBLE_EQUAL(pos[0], -3.5, 1e-7);
    }
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT_EQUAL(repeats, 0);
    /* Uniform on the free area 64 - 25 = 39: P(x > 0) = 1/2; P(|x| < 2.5) = 5 * (2 * 1.5) / 39
     * (the bands above and below the grown square are 5 wide and 1.5 high). */
    CU_ASSERT(fabs((double)right / n - 0.5) < 0.04);
    CU_ASSERT(fabs((double)band / n - 15.0 / 39.0) < 0.04);
    env_free(env);
}

/* Action noise. The default (0) and an explicit 0 leave motion exact. With std 0.1 and zero
 * action, one step from the start moves 0.2 * N(0, 0.1^2) per coordinate: mean 0, std 0.02, the
 * coordinates uncorrelated. With action (1, 1) the noisy action is clipped again, so a coordinate
 * moves 0.2 * min(1, 1 + n), n ~ N(0, 0.1^2): mean 0.2 * (1 - 0.1 / sqrt(2 pi)) = 0.19202 (without
 * the second clip it would be 0.2), never more than 0.2, and less than 0.2 half the time. */
static void test_action_noise(void) {
    char err[ERRCAP];
    float pos[2], goal[2], ag[2];
    env_t *env = make(ENV_GOAL_FIXED, 3, pos, goal);
    step(env, 0.5f, 0.5f, pos);
    CU_ASSERT_DOUBLE_EQUAL(pos[0], -3.4, TOL); /* default: no noise */
    CU_ASSERT_DOUBLE_EQUAL(pos[1], -1.9, TOL);
    CU_ASSERT_EQUAL(env_set_action_noise(env, 0.1f, err, sizeof err), 0);
    const int n = 4000;
    double sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
    for (int i = 0; i < n; i++) {
        env_reset(env, pos, ag, goal);
        step(env, 0.0f, 0.0f, pos);
        double dx = pos[0] + 3.5, dy = pos[1] + 2.0;
        sx += dx, sy += dy, sxx += dx * dx, syy += dy * dy, sxy += dx * dy;
    }
    double mx = sx / n, my = sy / n;
    double sdx = sqrt(sxx / n - mx * mx), sdy = sqrt(syy / n - my * my);
    double corr = (sxy / n - mx * my) / (sdx * sdy);
    /* Standard errors: mean 0.02 / sqrt(4000) = 3.2e-4, std about 2.2e-4, corr 0.016. */
    CU_ASSERT(fabs(mx) < 1.3e-3 && fabs(my) < 1.3e-3);
    CU_ASSERT(fabs(sdx - 0.02) < 1e-3 && fabs(sdy - 0.02) < 1e-3);
    CU_ASSERT(fabs(corr) < 0.07);
    double sum_move = 0.0, most = 0.0;
    int short_moves = 0;
    for (int i = 0; i < n; i++) {
        env_reset(env, pos, ag, goal);
        step(env, 1.0f, 1.0f, pos);
        double dx = pos[0] + 3.5, dy = pos[1] + 2.0;
        sum_move += dx + dy;
        most = fmax(most, fmax(dx, dy));
        short_moves += (dx < 0.2 - 1e-6) + (dy < 0.2 - 1e-6);
    }
    /* The mean of 2n coordinates: std of one 0.2 * 0.1 * 0.58 = 0.0117, of the mean 1.3e-4. */
    CU_ASSERT_DOUBLE_EQUAL(sum_move / (2 * n), 0.2 * (1.0 - 0.1 / sqrt(2.0 * M_PI)), 6e-4);
    CU_ASSERT(most <= 0.2 + TOL);
    CU_ASSERT(fabs((double)short_moves / (2 * n) - 0.5) < 0.03);
    /* Same seed and noise: the same noisy trajectory; noise off again: exact motion. */
    env_t *twin = make(ENV_GOAL_FIXED, 3, pos, goal);
    env_t *again = make(ENV_GOAL_FIXED, 3, pos, goal);
    CU_ASSERT_EQUAL(env_set_action_noise(twin, 0.3f, err, sizeof err), 0);
    CU_ASSERT_EQUAL(env_set_action_noise(again, 0.3f, err, sizeof err), 0);
    float p1[2], p2[2];
    int same = 0;
    for (int t = 0; t < 20; t++) {
        step(twin, 0.3f, 0.4f, p1);
        step(again, 0.3f, 0.4f, p2);
        same += p1[0] == p2[0] && p1[1] == p2[1];
    }
    CU_ASSERT_EQUAL(same, 20);
    CU_ASSERT(fabs(p1[0] - (-3.5 + 20 * 0.06)) > 1e-3 || fabs(p1[1] - (-2.0 + 20 * 0.08)) > 1e-3);
    CU_ASSERT_EQUAL(env_set_action_noise(twin, 0.0f, err, sizeof err), 0);
    env_reset(twin, pos, ag, goal);
    step(twin, 0.3f, 0.4f, pos);
    CU_ASSERT_DOUBLE_EQUAL(pos[0], -3.5 + 0.06, TOL);
    CU_ASSERT_DOUBLE_EQUAL(pos[1], -2.0 + 0.08, TOL);
    /* Bad values and other envs are refused with a message. */
    err[0] = '\0';
    CU_ASSERT_EQUAL(env_set_action_noise(twin, -0.1f, err, sizeof err), -1);
    CU_ASSERT(err[0] != '\0');
    CU_ASSERT_EQUAL(env_set_action_noise(twin, NAN, err, sizeof err), -1);
    CU_ASSERT_EQUAL(env_set_action_noise(NULL, 0.1f, err, sizeof err), -1);
    env_free(again);
    env_free(twin);
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
                                 {"action noise", test_action_noise},
                                 {NULL, NULL}};
    return test_run_suite("env_box2d", cases);
}
