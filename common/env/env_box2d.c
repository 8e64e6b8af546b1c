/* env_box2d: a point robot (a disc of radius 0.5) in the arena [-4, 4]^2 that must go around the
 * square obstacle [-2, 2]^2 in its centre (the authors' multiworld Point2D box wall with
 * wall_thickness 2.0). Plain C, no physics engine: the robot's centre lives in the arena minus the
 * open square (-2.5, 2.5)^2 (the obstacle grown by the robot's radius); a step moves it by
 * 0.2 * action, clipped to the arena, and a move whose segment would enter the grown square stops
 * on the face it hits while keeping the motion along that face (sliding, no tunnelling).
 * Observation = achieved goal = the centre (2-D). Success: final distance < 0.6 (the authors').
 * The authors' noisy-action wrapper is env_set_action_noise (env.h), available to every env. */
#include "env_internal.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARENA 4.0      /* the centre stays in [-ARENA, ARENA]^2 */
#define BLOCKED 2.5    /* the centre stays out of the open square (-BLOCKED, BLOCKED)^2 */
#define STEP_SCALE 0.2 /* displacement per unit action */

typedef struct {
    env_goal_mode_t goal_mode;
    rng_t rng;
    double pos[2];  /* robot centre */
    double goal[2]; /* desired centre */
} box2d_t;

static const double k_start[2] = {-3.5, -2.0};
static const double k_goal[2] = {3.5, 2.0};

static int in_obstacle(const double p[2]) {
    return fabs(p[0]) < BLOCKED && fabs(p[1]) < BLOCKED;
}

/* Open interval (t0, t1) of times at which x0 + t*dx lies strictly inside (-BLOCKED, BLOCKED);
 * empty (t0 >= t1) when it never does. */
static void slab(double x0, double dx, double *t0, double *t1) {
    if (dx == 0.0) {
        int inside = fabs(x0) < BLOCKED;
        *t0 = inside ? -INFINITY : INFINITY;
        *t1 = inside ? INFINITY : -INFINITY;
        return;
    }
    double a = (-BLOCKED - x0) / dx, b = (BLOCKED - x0) / dx;
    *t0 = a < b ? a : b;
    *t1 = a < b ? b : a;
}

/* Moves from p (outside the open square) towards q (inside the arena) at a constant velocity over
 * the step. If the segment enters the open square, the coordinate whose face it crosses stops on
 * that face while the other keeps its full motion (sliding along the face); if the slide passes
 * the face's corner before the step ends, the stopped coordinate moves on for the time left. */
static void move_with_obstacle(double p[2], const double q[2]) {
    const double d[2] = {q[0] - p[0], q[1] - p[1]};
    double t0[2], t1[2];
    slab(p[0], d[0], &t0[0], &t1[0]);
    slab(p[1], d[1], &t0[1], &t1[1]);
    double enter = t0[0] > t0[1] ? t0[0] : t0[1], leave = t1[0] < t1[1] ? t1[0] : t1[1];
    double next[2] = {q[0], q[1]};
    if (enter < leave && enter < 1.0 && leave > 0.0) {
        int k = t0[0] > t0[1] ? 0 : 1; /* the face crossed last on entry is the one hit */
        int o = 1 - k;
        double face = d[k] > 0 ? -BLOCKED : BLOCKED;
        next[k] = face;
        if (t1[o] < 1.0) next[k] += d[k] * (1.0 - t1[o]); /* past the corner: free again */
        if (in_obstacle(next)) next[k] = face;            /* rounding at a corner */
    }
    p[0] = next[0];
    p[1] = next[1];
}

static void sample_free_point(rng_t *rng, double out[2]) {
    do {
        out[0] = -ARENA + 2.0 * ARENA * rng_uniform(rng);
        out[1] = -ARENA + 2.0 * ARENA * rng_uniform(rng);
    } while (in_obstacle(out));
}

static int box2d_create(void **state, env_goal_mode_t goal_mode, rng_t rng, char *err,
                        size_t errcap) {
    (void)err;
    (void)errcap;
    box2d_t *s = calloc(1, sizeof *s);
    if (!s) return -1;
    s->goal_mode = goal_mode;
    s->rng = rng;
    memcpy(s->pos, k_start, sizeof s->pos);
    memcpy(s->goal, k_goal, sizeof s->goal);
    *state = s;
    return 0;
}

static void box2d_destroy(void *state) {
    free(state);
}

static float box2d_distance(const void *state, const float *achieved, const float *desired) {
    (void)state;
    float dx = achieved[0] - desired[0], dy = achieved[1] - desired[1];
    return sqrtf(dx * dx + dy * dy);
}

static void box2d_reset(void *state, float *obs, float *achieved_goal, float *desired_goal) {
    box2d_t *s = state;
    memcpy(s->pos, k_start, sizeof s->pos);
    if (s->goal_mode == ENV_GOAL_RANDOM) sample_free_point(&s->rng, s->goal);
    for (int i = 0; i < 2; i++) {
        obs[i] = achieved_goal[i] = (float)s->pos[i];
        desired_goal[i] = (float)s->goal[i];
    }
}

static void box2d_step(void *state, const float *action, float *obs, float *achieved_goal,
                       env_step_info_t *info) {
    box2d_t *s = state;
    double q[2];
    for (int i = 0; i < 2; i++) {
        q[i] = s->pos[i] + STEP_SCALE * action[i];
        q[i] = q[i] < -ARENA ? -ARENA : (q[i] > ARENA ? ARENA : q[i]);
    }
    move_with_obstacle(s->pos, q);
    float goal[2];
    for (int i = 0; i < 2; i++) {
        obs[i] = achieved_goal[i] = (float)s->pos[i];
        goal[i] = (float)s->goal[i];
    }
    info->distance = box2d_distance(s, achieved_goal, goal);
}

const env_ops_t env_box2d_ops = {
    .spec =
        {
            .name = "box2d",
            .obs_dim = 2,
            .goal_dim = 2,
            .action_dim = 2,
            .horizon = 100,
            .action_low = -1.0f,
            .action_high = 1.0f,
            .success_threshold = 0.6f, /* the authors' success radius */
            .substeps = 0,
            .n_diag = 0,
        },
    .create = box2d_create,
    .destroy = box2d_destroy,
    .reset = box2d_reset,
    .step = box2d_step,
    .distance = box2d_distance,
};
