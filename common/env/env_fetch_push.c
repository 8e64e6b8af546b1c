/* fetch-push: a closed 3-D gripper pushes a box-shaped block to a target on a table (after the
 * Fetch Push task). The gripper follows a mocap target through a connect constraint; one env step
 * moves the target by 0.05 * action (clipped to a workspace above the table) and runs 20 physics
 * steps of 0.002 s. Model: models/fetch_push.xml (table top z = 0.4, block centre at rest z =
 * 0.425).
 *
 * Observation (21-D, world frame, metres, radians, m/s, rad/s):
 *   [0:3]   gripper grip point position
 *   [3:6]   block centre position
 *   [6:9]   block position minus gripper position
 *   [9:12]  block rotation as Euler angles (roll, pitch, yaw) with R = Rz(yaw) Ry(pitch) Rx(roll)
 *   [12:15] block linear velocity
 *   [15:18] block angular velocity
 *   [18:21] gripper linear velocity
 * Achieved goal: block centre position (3-D). Distance: L2 over the 3-D goal; success below 0.05.
 * Diagnostics: gripper-to-block distance, and how far the block has moved from its start.
 *
 * Start state is fixed in both goal modes: block at (0, 0, 0.425), gripper at (-0.1, 0, 0.5).
 * Goals: the authors' Fetch Push samples a goal per episode (the paper's version). ENV_GOAL_RANDOM
 * does so here: uniform in the disc of radius 0.15 around the block's start (xy), z = 0.425 (the
 * block's resting centre height). ENV_GOAL_FIXED uses the fixed goal (0.1, 0.1, 0.425), 0.141 from
 * the block's start. */
#include "env_internal.h"
#include <math.h>
#include <mujoco/mujoco.h>
#include <stdio.h>
#include <stdlib.h>

#define FP_OBS_DIM 21
#define FP_GOAL_DIM 3
#define FP_SUBSTEPS 20
#define FP_MAX_LEAD 0.08     /* most the target may lead the gripper by, per axis (m) */
#define FP_MOVE_SCALE 0.05   /* gripper target displacement per unit action per env step (m) */
#define FP_BLOCK_Z 0.425     /* block centre height at rest on the table */
#define FP_GOAL_RADIUS 0.15  /* random goals: disc radius around the block's start */
#define FP_FIXED_GOAL_X 0.10 /* fixed goal (ENV_GOAL_FIXED) */
#define FP_FIXED_GOAL_Y 0.10

/* Workspace of the gripper target: over the table (x in [-0.4, 0.4], y in [-0.5, 0.5]), with the
 * fingertips (1 cm below the grip point) kept at least 1 cm above the table top. */
static const double fp_target_low[3] = {-0.35, -0.45, 0.42};
static const double fp_target_high[3] = {0.35, 0.45, 0.70};

typedef struct {
    env_mj_t mj; /* first member: see env_mj_of() */
    mjModel *m;  /* mj's model and data, typed */
    mjData *d;
    env_goal_mode_t goal_mode;
    rng_t rng;
    int gripper_body, block_body, mocap;
    int gripper_qpos;    /* qpos address of gripper_x; y and z follow */
    int gripper_dof;     /* dof address of gripper_x; y and z follow */
    int block_qpos;      /* qpos address of the block's free joint */
    int block_dof;       /* dof address of the block's free joint */
    double gripper_lift; /* force on the z slide that cancels the gripper's weight (N) */
    double block_start[3];
    double goal[3];
} fetch_push_t;

static double clampd(double x, double lo, double hi) {
    return x < lo ? lo : (x > hi ? hi : x);
}

static void fp_destroy(void *state) {
    fetch_push_t *s = state;
    if (!s) return;
    env_mj_close(&s->mj);
    free(s);
}

static int fp_find(const fetch_push_t *s, int type, const char *name, char *err, size_t errcap) {
    return env_mj_name2id(&s->mj, type, name, err, errcap);
}

static int fp_create(void **state, env_goal_mode_t goal_mode, rng_t rng, char *err, size_t errcap) {
    *state = NULL;
    fetch_push_t *s = calloc(1, sizeof(*s));
    if (!s) {
        if (err && errcap) snprintf(err, errcap, "fetch-push: out of memory");
        return -1;
    }
    s->goal_mode = goal_mode;
    s->rng = rng;
    if (env_mj_open(&s->mj, "fetch_push.xml", FP_SUBSTEPS, err, errcap) != 0) goto fail;
    s->m = s->mj.model;
    s->d = s->mj.data;
    const mjModel *m = s->m;
    int gx, block_joint;
    if ((s->gripper_body = fp_find(s, mjOBJ_BODY, "gripper", err, errcap)) < 0 ||
        (s->block_body = fp_find(s, mjOBJ_BODY, "block", err, errcap)) < 0 ||
        (gx = fp_find(s, mjOBJ_JOINT, "gripper_x", err, errcap)) < 0 ||
        (block_joint = fp_find(s, mjOBJ_JOINT, "block", err, errcap)) < 0)
        goto fail;
    int target = fp_find(s, mjOBJ_BODY, "gripper_target", err, errcap);
    if (target < 0) goto fail;
    s->mocap = m->body_mocapid[target];
    if (s->mocap < 0 || m->jnt_type[block_joint] != mjJNT_FREE) {
        if (err && errcap) snprintf(err, errcap, "fetch-push: unexpected model structure");
        goto fail;
    }
    /* The observation reads the three slides as consecutive world-axis coordinates. */
    static const char *const slides[3] = {"gripper_x", "gripper_y", "gripper_z"};
    if (env_mj_hand_slides(&s->mj, s->gripper_body, slides, "fetch-push", &s->gripper_qpos,
                           &s->gripper_dof, err, errcap) != 0)
        goto fail;
    s->block_qpos = m->jnt_qposadr[block_joint];
    s->block_dof = m->jnt_dofadr[block_joint];
    s->gripper_lift = m->body_subtreemass[s->gripper_body] * -m->opt.gravity[2];
    for (int i = 0; i < 3; i++) s->block_start[i] = m->qpos0[s->block_qpos + i];
    *state = s;
    return 0;
fail:
    fp_destroy(s);
    return -1;
}

/* Gripper grip point in world coordinates: its body hangs from the world on three slides along
 * the world axes, so the position is the body's offset plus the slide positions. */
static void fp_gripper_pos(const fetch_push_t *s, double *grip) {
    for (int i = 0; i < 3; i++)
        grip[i] = s->m->body_pos[3 * s->gripper_body + i] + s->d->qpos[s->gripper_qpos + i];
}

/* Writes obs[21] and achieved_goal[3] from qpos and qvel alone (mj_step leaves xpos and xmat
 * one integration behind, so they are not used). */
static void fp_observe(const fetch_push_t *s, float *obs, float *achieved_goal) {
    const mjData *d = s->d;
    double grip[3], rot[9];
    fp_gripper_pos(s, grip);
    const double *block = d->qpos + s->block_qpos; /* centre position */
    const double *q = d->qpos + s->block_qpos + 3; /* orientation (w, x, y, z) */
    const double *vel = d->qvel + s->block_dof;    /* linear (world), angular (body frame) */
    const double *gvel = d->qvel + s->gripper_dof; /* slides x, y, z */
    mju_quat2Mat(rot, q);                          /* row-major body-to-world */
    for (int i = 0; i < 3; i++) {
        obs[i] = (float)grip[i];
        obs[3 + i] = (float)block[i];
        obs[6 + i] = (float)(block[i] - grip[i]);
        obs[12 + i] = (float)vel[i];
        obs[15 + i] =
            (float)(rot[3 * i] * vel[3] + rot[3 * i + 1] * vel[4] + rot[3 * i + 2] * vel[5]);
        obs[18 + i] = (float)gvel[i];
        achieved_goal[i] = (float)block[i];
    }
    double w = q[0], x = q[1], y = q[2], z = q[3];
    obs[9] = (float)atan2(2.0 * (w * x + y * z), 1.0 - 2.0 * (x * x + y * y));
    obs[10] = (float)asin(clampd(2.0 * (w * y - z * x), -1.0, 1.0));
    obs[11] = (float)atan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z));
}

static void fp_reset(void *state, float *obs, float *achieved_goal, float *desired_goal) {
    fetch_push_t *s = state;
    mj_resetData(s->m, s->d); /* qpos0 and the mocap target at the gripper's start */
    s->d->qfrc_applied[s->gripper_dof + 2] = s->gripper_lift;
    if (s->goal_mode == ENV_GOAL_RANDOM) {
        double r = FP_GOAL_RADIUS * sqrt((double)rng_uniform(&s->rng));
        double a = 2.0 * M_PI * (double)rng_uniform(&s->rng);
        s->goal[0] = s->block_start[0] + r * cos(a);
        s->goal[1] = s->block_start[1] + r * sin(a);
    } else {
        s->goal[0] = FP_FIXED_GOAL_X;
        s->goal[1] = FP_FIXED_GOAL_Y;
    }
    s->goal[2] = FP_BLOCK_Z;
    mj_forward(s->m, s->d);
    fp_observe(s, obs, achieved_goal);
    for (int i = 0; i < FP_GOAL_DIM; i++) desired_goal[i] = (float)s->goal[i];
}

static double fp_dist3(const double *a, const double *b) {
    double dx = a[0] - b[0], dy = a[1] - b[1], dz = a[2] - b[2];
    return sqrt(dx * dx + dy * dy + dz * dz);
}

static void fp_step(void *state, const float *action, float *obs, float *achieved_goal,
                    env_step_info_t *info) {
    fetch_push_t *s = state;
    /* The mocap target accumulates the scaled actions, kept within FP_MAX_LEAD of the gripper
     * and inside the workspace. Free motion at full speed needs a lead of about 0.075 (one step
     * plus the gripper's lag), so the bound only acts against an obstacle, where it caps the
     * constraint force. The target glides there in a straight line over the physics steps. */
    double here[3];
    fp_gripper_pos(s, here);
    env_mj_drive_mocap(&s->mj, s->mocap, here, action, FP_MOVE_SCALE, FP_MAX_LEAD, fp_target_low,
                       fp_target_high);
    fp_observe(s, obs, achieved_goal);
    const double *block = s->d->qpos + s->block_qpos;
    double grip[3];
    fp_gripper_pos(s, grip);
    info->distance = (float)fp_dist3(block, s->goal);
    info->diag[0] = (float)fp_dist3(block, grip);
    double dx = block[0] - s->block_start[0], dy = block[1] - s->block_start[1];
    info->diag[1] = (float)sqrt(dx * dx + dy * dy);
}

static float fp_distance(const void *state, const float *achieved_goal, const float *desired_goal) {
    (void)state;
    return env_l2_distance(achieved_goal, desired_goal, FP_GOAL_DIM);
}

const env_ops_t env_fetch_push_ops = {
    .spec = {.name = "fetch-push",
             .obs_dim = FP_OBS_DIM,
             .goal_dim = FP_GOAL_DIM,
             .action_dim = 3,
             .horizon = 50,
             .action_low = -1.0f,
             .action_high = 1.0f,
             .success_threshold = 0.05f,
             .substeps = FP_SUBSTEPS,
             .n_diag = 2,
             .diag_names = {"gripper_block_dist", "block_moved_dist"}},
    .create = fp_create,
    .destroy = fp_destroy,
    .reset = fp_reset,
    .step = fp_step,
    .distance = fp_distance,
};
