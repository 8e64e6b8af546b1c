/* faucet: a mocap-driven hand opens a faucet by turning its handle about a vertical hinge (after
 * Meta-World Faucet Open). One env step moves the hand's mocap target by 0.01 * action (clipped to
 * the workspace below) and runs 5 physics steps of 0.002 s; the hand follows the target through a
 * connect constraint. Model: models/faucet.xml (hinge axis x = 0, y = 0.8; handle arm 0.175 m long
 * at height 0.125, turning through 90 degrees; its header comment gives the scene's frame).
 *
 * Observation = achieved goal (6-D, metres): hand centre xyz ++ handle end xyz.
 * Goal, ENV_GOAL_FIXED (authors' values): hand (0, 0.625, 0.125), handle end (0.175, 0.8, 0.125),
 * i.e. the handle turned fully open (at the hinge's limit) and the hand where the handle end began.
 * ENV_GOAL_RANDOM: the handle at a uniform angle of its 90-degree travel, and the hand uniform in
 * the box x in [-0.2, 0.2], y in [0.45, 0.58], z in [0.05, 0.25] (free space in front of the
 * faucet, clear of the handle at any angle), sampled per episode. The start state is the same in
 * both modes: hand (0, 0.6, 0.2), handle end at (0, 0.625, 0.125).
 * That start is Meta-World v1's (Faucet Open v1, whose horizon is 150); from v2's (0, 0.4, 0.2)
 * a scripted hand at full speed first met the goal at step 81 of our 100, from v1's at step 66.
 * Distance: L2 over the 6-D goal; success when it is below 0.05. Diagnostics: hand-to-goal and
 * handle-end-to-goal distances (3-D each).
 *
 * The mocap target accumulates the actions, as in the authors' envs; it is not observed. */
#include "env_internal.h"
#include <math.h>
#include <mujoco/mujoco.h>
#include <stdio.h>
#include <stdlib.h>

#define FAU_DIM 6
#define FAU_SUBSTEPS 5
#define FAU_MAX_LEAD 0.04   /* most the target may lead the hand by, per axis (m) */
#define FAU_MOVE_SCALE 0.01 /* hand target displacement per unit action per env step (m) */

static const double fau_fixed_goal[FAU_DIM] = {0.0, 0.625, 0.125, 0.175, 0.8, 0.125};
/* Random goals: hand box; the handle's angle is drawn from the hinge's range. */
static const double fau_hand_goal_low[3] = {-0.2, 0.45, 0.05};
static const double fau_hand_goal_high[3] = {0.2, 0.58, 0.25};
/* Workspace of the hand target: above the table (z >= 0.05 keeps the hand, radius 2 cm, off it),
 * all around the faucet. */
static const double fau_target_low[3] = {-0.4, 0.35, 0.05};
static const double fau_target_high[3] = {0.4, 0.95, 0.30};

typedef struct {
    env_mj_t mj; /* first member: see env_mj_of() */
    mjModel *m;  /* mj's model and data, typed */
    mjData *d;
    env_goal_mode_t goal_mode;
    rng_t rng;
    int hand_body, mocap;
    int hand_qpos, hand_dof;   /* addresses of hand_x; y and z follow */
    int hinge_qpos;            /* qpos address of the handle hinge */
    double hand_lift;          /* force on the hand's z slide that cancels its weight (N) */
    double hinge_lo, hinge_hi; /* hinge range (rad) */
    double anchor[3];          /* a point on the hinge axis, world frame */
    double axis[3];            /* hinge axis (unit), world frame */
    double arm0[3];            /* handle end minus anchor at hinge angle 0 */
    double goal[FAU_DIM];
} faucet_t;

static void fau_destroy(void *state) {
    faucet_t *s = state;
    if (!s) return;
    env_mj_close(&s->mj);
    free(s);
}

static int fau_find(const faucet_t *s, int type, const char *name, char *err, size_t errcap) {
    return env_mj_name2id(&s->mj, type, name, err, errcap);
}

/* The hand hangs from the world on three world-axis slides: its position is
 * body_pos + (qx, qy, qz). */
static int fau_check_hand(faucet_t *s, char *err, size_t errcap) {
    static const char *const slides[3] = {"hand_x", "hand_y", "hand_z"};
    return env_mj_hand_slides(&s->mj, s->hand_body, slides, "faucet", &s->hand_qpos, &s->hand_dof,
                              err, errcap);
}

static int fau_create(void **state, env_goal_mode_t goal_mode, rng_t rng, char *err,
                      size_t errcap) {
    *state = NULL;
    faucet_t *s = calloc(1, sizeof(*s));
    if (!s) {
        if (err && errcap) snprintf(err, errcap, "faucet: out of memory");
        return -1;
    }
    s->goal_mode = goal_mode;
    s->rng = rng;
    if (env_mj_open(&s->mj, "faucet.xml", FAU_SUBSTEPS, err, errcap) != 0) goto fail;
    s->m = s->mj.model;
    s->d = s->mj.data;
    const mjModel *m = s->m;
    int target, hinge, handle_end;
    if ((s->hand_body = fau_find(s, mjOBJ_BODY, "hand", err, errcap)) < 0 ||
        (target = fau_find(s, mjOBJ_BODY, "hand_target", err, errcap)) < 0 ||
        (hinge = fau_find(s, mjOBJ_JOINT, "handle_hinge", err, errcap)) < 0 ||
        (handle_end = fau_find(s, mjOBJ_SITE, "handle_end", err, errcap)) < 0 ||
        fau_check_hand(s, err, errcap) < 0)
        goto fail;
    s->mocap = m->body_mocapid[target];
    if (s->mocap < 0 || m->jnt_type[hinge] != mjJNT_HINGE || !m->jnt_limited[hinge] ||
        m->qpos0[m->jnt_qposadr[hinge]] != 0 ||
        m->site_bodyid[handle_end] != m->jnt_bodyid[hinge] ||
        m->body_parentid[m->jnt_bodyid[hinge]] != 0) {
        if (err && errcap) snprintf(err, errcap, "faucet: unexpected model structure");
        goto fail;
    }
    s->hinge_qpos = m->jnt_qposadr[hinge];
    s->hinge_lo = m->jnt_range[2 * hinge];
    s->hinge_hi = m->jnt_range[2 * hinge + 1];
    s->hand_lift = m->body_subtreemass[s->hand_body] * -m->opt.gravity[2];
    /* The handle end turns rigidly about the hinge axis: record the axis and the end's offset
     * from it at hinge angle 0. */
    mj_resetData(s->m, s->d);
    mj_kinematics(s->m, s->d);
    for (int i = 0; i < 3; i++) {
        s->anchor[i] = s->d->xanchor[3 * hinge + i];
        s->axis[i] = s->d->xaxis[3 * hinge + i];
        s->arm0[i] = s->d->site_xpos[3 * handle_end + i] - s->anchor[i];
    }
    *state = s;
    return 0;
fail:
    fau_destroy(s);
    return -1;
}

/* Handle end position at hinge angle q: the arm rotated by q about the axis (Rodrigues). */
static void fau_handle_end(const faucet_t *s, double q, double *end) {
    const double *k = s->axis, *v = s->arm0;
    double c = cos(q), sn = sin(q), kv = k[0] * v[0] + k[1] * v[1] + k[2] * v[2];
    double kxv[3] = {k[1] * v[2] - k[2] * v[1], k[2] * v[0] - k[0] * v[2],
                     k[0] * v[1] - k[1] * v[0]};
    for (int i = 0; i < 3; i++)
        end[i] = s->anchor[i] + v[i] * c + kxv[i] * sn + k[i] * kv * (1.0 - c);
}

/* Writes the 6-D achieved goal (also the observation) from qpos alone: mj_step leaves xpos and
 * site_xpos one integration behind. */
static void fau_observe(const faucet_t *s, float *obs, float *achieved_goal) {
    const double *qpos = s->d->qpos;
    double end[3];
    fau_handle_end(s, qpos[s->hinge_qpos], end);
    for (int i = 0; i < 3; i++) {
        double hand = s->m->body_pos[3 * s->hand_body + i] + qpos[s->hand_qpos + i];
        obs[i] = achieved_goal[i] = (float)hand;
        obs[3 + i] = achieved_goal[3 + i] = (float)end[i];
    }
}

static void fau_reset(void *state, float *obs, float *achieved_goal, float *desired_goal) {
    faucet_t *s = state;
    mj_resetData(s->m, s->d); /* qpos0 and the mocap target at the hand's start */
    s->d->qfrc_applied[s->hand_dof + 2] = s->hand_lift;
    if (s->goal_mode == ENV_GOAL_RANDOM) {
        for (int i = 0; i < 3; i++)
            s->goal[i] = fau_hand_goal_low[i] + (fau_hand_goal_high[i] - fau_hand_goal_low[i]) *
                                                    (double)rng_uniform(&s->rng);
        double q = s->hinge_lo + (s->hinge_hi - s->hinge_lo) * (double)rng_uniform(&s->rng);
        fau_handle_end(s, q, s->goal + 3);
    } else {
        for (int i = 0; i < FAU_DIM; i++) s->goal[i] = fau_fixed_goal[i];
    }
    mj_forward(s->m, s->d);
    fau_observe(s, obs, achieved_goal);
    for (int i = 0; i < FAU_DIM; i++) desired_goal[i] = (float)s->goal[i];
}

static void fau_step(void *state, const float *action, float *obs, float *achieved_goal,
                     env_step_info_t *info) {
    faucet_t *s = state;
    /* The mocap target accumulates the scaled actions, kept within FAU_MAX_LEAD of the hand
     * and inside the workspace. Free motion at full speed needs a lead of about 0.03 (one step
     * plus the hand's lag), so the bound only acts against an obstacle, where it caps the
     * constraint force. The target glides there in a straight line over the physics steps. */
    double here[3];
    for (int i = 0; i < 3; i++)
        here[i] = s->m->body_pos[3 * s->hand_body + i] + s->d->qpos[s->hand_qpos + i];
    env_mj_drive_mocap(&s->mj, s->mocap, here, action, FAU_MOVE_SCALE, FAU_MAX_LEAD, fau_target_low,
                       fau_target_high);
    fau_observe(s, obs, achieved_goal);
    env_hand_object_info(achieved_goal, s->goal, info);
}

static float fau_distance(const void *state, const float *achieved_goal,
                          const float *desired_goal) {
    (void)state;
    return env_l2_distance(achieved_goal, desired_goal, FAU_DIM);
}

const env_ops_t env_faucet_ops = {
    .spec = {.name = "faucet",
             .obs_dim = FAU_DIM,
             .goal_dim = FAU_DIM,
             .action_dim = 3,
             .horizon = 100,
             .action_low = -1.0f,
             .action_high = 1.0f,
             .success_threshold = 0.05f,
             .substeps = FAU_SUBSTEPS,
             .n_diag = 2,
             .diag_names = {"hand_dist", "handle_end_dist"}},
    .create = fau_create,
    .destroy = fau_destroy,
    .reset = fau_reset,
    .step = fau_step,
    .distance = fau_distance,
};
