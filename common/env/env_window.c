/* window: a mocap-driven hand closes a sliding window by pushing its handle (after Meta-World
 * Window Close). One env step moves the hand's mocap target by 0.01 * action (clipped to the
 * workspace below) and runs 5 physics steps of 0.002 s; the hand follows the target through a
 * connect constraint. Model: models/window.xml (its header comment gives the scene's frame).
 *
 * Observation = achieved goal (6-D, metres): hand centre xyz ++ handle centre xyz.
 * Goal, ENV_GOAL_FIXED (authors' values): hand (0.32, 0.66, 0.07), handle (0.115, 0.69, 0.16),
 * i.e. the window closed (the handle at the slide's limit) and the hand withdrawn below it.
 * ENV_GOAL_RANDOM: the handle anywhere on its travel, x uniform in [0.115, 0.315], and the hand
 * uniform in the box x in [-0.1, 0.4], y in [0.5, 0.65], z in [0.05, 0.25] (free space that
 * never overlaps the handle), sampled per episode. The start state is the same in both modes:
 * hand (0.4, 0.6, 0.2), window open with the handle at (0.315, 0.69, 0.16).
 * Why that start and not Meta-World's hand (0, 0.6, 0.2): from there the hand must go round to the
 * handle's +x side before pushing it 0.2 m and coming back, and a scripted hand moving at full
 * speed first met the goal at step 87 of the 100 (Meta-World's own notes say its v1 window close
 * was rarely solvable within the path length); random warm-up never touched the handle, so no
 * relabeled goal ever showed it moving. From (0.4, 0.6, 0.2) the script succeeds at step 53.
 * Distance: L2 over the 6-D goal; success when it is below 0.05. Diagnostics: hand-to-goal and
 * handle-to-goal distances (3-D each).
 *
 * The mocap target accumulates the actions, as in the authors' envs; it is not observed. */
#include "env_internal.h"
#include <mujoco/mujoco.h>
#include <stdio.h>
#include <stdlib.h>

#define WIN_DIM 6
#define WIN_SUBSTEPS 5
#define WIN_MAX_LEAD 0.04   /* most the target may lead the hand by, per axis (m) */
#define WIN_MOVE_SCALE 0.01 /* hand target displacement per unit action per env step (m) */

static const double win_fixed_goal[WIN_DIM] = {0.32, 0.66, 0.07, 0.115, 0.69, 0.16};
/* Random goals: hand box, and the handle's x travel (y, z are fixed by the slide). */
static const double win_hand_goal_low[3] = {-0.1, 0.5, 0.05};
static const double win_hand_goal_high[3] = {0.4, 0.65, 0.25};
static const double win_handle_x_closed = 0.115, win_handle_x_open = 0.315;
/* Workspace of the hand target: above the table (z >= 0.05 keeps the hand, radius 2 cm, off it) and
 * in front of the pane (y <= 0.70 lets the hand reach the handle bar at y = 0.69). */
static const double win_target_low[3] = {-0.3, 0.4, 0.05};
static const double win_target_high[3] = {0.6, 0.70, 0.30};

typedef struct {
    env_mj_t mj; /* first member: see env_mj_of() */
    mjModel *m;  /* mj's model and data, typed */
    mjData *d;
    env_goal_mode_t goal_mode;
    rng_t rng;
    int hand_body, mocap;
    int hand_qpos, hand_dof; /* addresses of hand_x; y and z follow */
    int slide_qpos;          /* qpos address of the window slide */
    double hand_lift;        /* force on the hand's z slide that cancels its weight (N) */
    double handle0[3];       /* handle centre at slide position 0 */
    double slide_axis[3];    /* slide direction, world frame */
    double goal[WIN_DIM];
} window_t;

static void win_destroy(void *state) {
    window_t *s = state;
    if (!s) return;
    env_mj_close(&s->mj);
    free(s);
}

static int win_find(const window_t *s, int type, const char *name, char *err, size_t errcap) {
    return env_mj_name2id(&s->mj, type, name, err, errcap);
}

/* The hand hangs from the world on three world-axis slides: its position is
 * body_pos + (qx, qy, qz). */
static int win_check_hand(window_t *s, char *err, size_t errcap) {
    static const char *const slides[3] = {"hand_x", "hand_y", "hand_z"};
    return env_mj_hand_slides(&s->mj, s->hand_body, slides, "window", &s->hand_qpos, &s->hand_dof,
                              err, errcap);
}

static int win_create(void **state, env_goal_mode_t goal_mode, rng_t rng, char *err,
                      size_t errcap) {
    *state = NULL;
    window_t *s = calloc(1, sizeof(*s));
    if (!s) {
        if (err && errcap) snprintf(err, errcap, "window: out of memory");
        return -1;
    }
    s->goal_mode = goal_mode;
    s->rng = rng;
    if (env_mj_open(&s->mj, "window.xml", WIN_SUBSTEPS, err, errcap) != 0) goto fail;
    s->m = s->mj.model;
    s->d = s->mj.data;
    const mjModel *m = s->m;
    int target, slide, handle;
    if ((s->hand_body = win_find(s, mjOBJ_BODY, "hand", err, errcap)) < 0 ||
        (target = win_find(s, mjOBJ_BODY, "hand_target", err, errcap)) < 0 ||
        (slide = win_find(s, mjOBJ_JOINT, "window_slide", err, errcap)) < 0 ||
        (handle = win_find(s, mjOBJ_SITE, "handle", err, errcap)) < 0 ||
        win_check_hand(s, err, errcap) < 0)
        goto fail;
    s->mocap = m->body_mocapid[target];
    if (s->mocap < 0 || m->jnt_type[slide] != mjJNT_SLIDE || m->qpos0[m->jnt_qposadr[slide]] != 0 ||
        m->site_bodyid[handle] != m->jnt_bodyid[slide]) {
        if (err && errcap) snprintf(err, errcap, "window: unexpected model structure");
        goto fail;
    }
    s->slide_qpos = m->jnt_qposadr[slide];
    s->hand_lift = m->body_subtreemass[s->hand_body] * -m->opt.gravity[2];
    /* The handle moves rigidly along the slide: record where it is at slide position 0. */
    mj_resetData(s->m, s->d);
    mj_kinematics(s->m, s->d);
    for (int i = 0; i < 3; i++) {
        s->handle0[i] = s->d->site_xpos[3 * handle + i];
        s->slide_axis[i] = s->d->xaxis[3 * slide + i];
    }
    *state = s;
    return 0;
fail:
    win_destroy(s);
    return -1;
}

/* Writes the 6-D achieved goal (also the observation) from qpos alone: mj_step leaves xpos and
 * site_xpos one integration behind. */
static void win_observe(const window_t *s, float *obs, float *achieved_goal) {
    const double *qpos = s->d->qpos;
    double slide = qpos[s->slide_qpos];
    for (int i = 0; i < 3; i++) {
        double hand = s->m->body_pos[3 * s->hand_body + i] + qpos[s->hand_qpos + i];
        double handle = s->handle0[i] + slide * s->slide_axis[i];
        obs[i] = achieved_goal[i] = (float)hand;
        obs[3 + i] = achieved_goal[3 + i] = (float)handle;
    }
}

static void win_reset(void *state, float *obs, float *achieved_goal, float *desired_goal) {
    window_t *s = state;
    mj_resetData(s->m, s->d); /* qpos0 and the mocap target at the hand's start */
    s->d->qfrc_applied[s->hand_dof + 2] = s->hand_lift;
    if (s->goal_mode == ENV_GOAL_RANDOM) {
        for (int i = 0; i < 3; i++)
            s->goal[i] = win_hand_goal_low[i] + (win_hand_goal_high[i] - win_hand_goal_low[i]) *
                                                    (double)rng_uniform(&s->rng);
        s->goal[3] = win_handle_x_closed +
                     (win_handle_x_open - win_handle_x_closed) * (double)rng_uniform(&s->rng);
        s->goal[4] = win_fixed_goal[4];
        s->goal[5] = win_fixed_goal[5];
    } else {
        for (int i = 0; i < WIN_DIM; i++) s->goal[i] = win_fixed_goal[i];
    }
    mj_forward(s->m, s->d);
    win_observe(s, obs, achieved_goal);
    for (int i = 0; i < WIN_DIM; i++) desired_goal[i] = (float)s->goal[i];
}

static void win_step(void *state, const float *action, float *obs, float *achieved_goal,
                     env_step_info_t *info) {
    window_t *s = state;
    /* The mocap target accumulates the scaled actions, kept within WIN_MAX_LEAD of the hand
     * and inside the workspace. Free motion at full speed needs a lead of about 0.03 (one step
     * plus the hand's lag), so the bound only acts against an obstacle, where it caps the
     * constraint force. The target glides there in a straight line over the physics steps. */
    double here[3];
    for (int i = 0; i < 3; i++)
        here[i] = s->m->body_pos[3 * s->hand_body + i] + s->d->qpos[s->hand_qpos + i];
    env_mj_drive_mocap(&s->mj, s->mocap, here, action, WIN_MOVE_SCALE, WIN_MAX_LEAD, win_target_low,
                       win_target_high);
    win_observe(s, obs, achieved_goal);
    env_hand_object_info(achieved_goal, s->goal, info);
}

static float win_distance(const void *state, const float *achieved_goal,
                          const float *desired_goal) {
    (void)state;
    return env_l2_distance(achieved_goal, desired_goal, WIN_DIM);
}

const env_ops_t env_window_ops = {
    .spec = {.name = "window",
             .obs_dim = WIN_DIM,
             .goal_dim = WIN_DIM,
             .action_dim = 3,
             .horizon = 100,
             .action_low = -1.0f,
             .action_high = 1.0f,
             .success_threshold = 0.05f,
             .substeps = WIN_SUBSTEPS,
             .n_diag = 2,
             .diag_names = {"hand_dist", "handle_dist"}},
    .create = win_create,
    .destroy = win_destroy,
    .reset = win_reset,
    .step = win_step,
    .distance = win_distance,
};
