/* fetch-push: a closed 3-D gripper pushes a box-shaped block to a target on a table (after the
 * Fetch Push task, as the paper registers it: FetchPush-FixedInit-FixedGoal-x0p15-y0p15). The
 * gripper follows a mocap target through a connect constraint; one env step moves the target by
 * 0.05 * action (clipped to a workspace above the table) and runs 20 physics steps of 0.002 s, so
 * the control step is dt = 0.04 s. Model: models/fetch_push.xml (table top z = 0.4, block centre at
 * rest z = 0.425; the table is large enough that the block cannot be pushed off it in an episode).
 *
 * Observation (25-D, the standard Fetch layout; world frame, metres, radians; velocities times
 * dt, i.e. displacements per control step):
 *   [0:3]   gripper grip point position
 *   [3:6]   block centre position
 *   [6:9]   block position minus gripper position
 *   [9:11]  finger positions: constant 0, 0. The model's fingers are fixed to the gripper (no
 *           finger joints); the Fetch Push gripper is blocked closed, where each finger joint
 *           reads 0 (the joint's closed end), so the constants are those of a closed gripper.
 *   [11:14] block rotation as Euler angles (e0, e1, e2) with R = Rx(e0) Ry(e1) Rz(e2) (Fetch's
 *           mat2euler convention)
 *   [14:17] block linear velocity relative to the gripper's, times dt (Fetch subtracts the
 *           gripper's velocity from the object's)
 *   [17:20] block angular velocity (world frame), times dt
 *   [20:23] gripper linear velocity, times dt
 *   [23:25] finger velocities times dt: constant 0, 0 (no finger joints, see [9:11])
 * Achieved goal: block centre position (3-D). Distance: L2 over the 3-D goal; success below 0.05.
 * Diagnostics: gripper-to-block distance, and how far the block has moved from its start.
 *
 * Start state is fixed in both goal modes: block at (0, 0, 0.425), gripper at (-0.1, 0, 0.5), the
 * block 0.1 in front of it. Goals: ENV_GOAL_FIXED is the paper's x0p15-y0p15: the gripper's start
 * xy plus (0.15, 0.15), at the block's resting height: (0.05, 0.15, 0.425), 0.158 from the block's
 * start. ENV_GOAL_RANDOM samples a goal per episode (the standard Fetch Push): uniform in the
 * disc of radius 0.15 around the block's start (xy), z = 0.425. */
#include "env_internal.h"
#include <math.h>
#include <mujoco/mujoco.h>
#include <stdio.h>
#include <stdlib.h>

#define FP_OBS_DIM 25
#define FP_GOAL_DIM 3
#define FP_SUBSTEPS 20
#define FP_MAX_LEAD 0.08      /* most the target may lead the gripper by, per axis (m) */
#define FP_MOVE_SCALE 0.05    /* gripper target displacement per unit action per env step (m) */
#define FP_BLOCK_Z 0.425      /* block centre height at rest on the table */
#define FP_GOAL_RADIUS 0.15   /* random goals: disc radius around the block's start */
#define FP_FIXED_GOAL_DX 0.15 /* fixed goal (ENV_GOAL_FIXED): offset from the gripper's start */
#define FP_FIXED_GOAL_DY 0.15

/* Workspace of the gripper target: 0.3 around the block's start in x and y (the goals lie within
 * 0.15 of it, and the gripper works from behind the block), with the fingertips (1 cm below the
 * grip point) kept at least 1 cm above the table top. The table (x, y in [-0.7, 0.7]) reaches 0.4
 * beyond it on every side: the block, pushed at the gripper's full speed against any edge of the
 * workspace, slides to rest within 0.6 of the centre. */
static const double fp_target_low[3] = {-0.30, -0.30, 0.42};
static const double fp_target_high[3] = {0.30, 0.30, 0.70};

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
    double dt;           /* control step: substeps x timestep (s) */
    double gripper_start[3];
    double block_start[3];
    double goal[3];
} fetch_push_t;

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
    s->dt = FP_SUBSTEPS * m->opt.timestep;
    for (int i = 0; i < 3; i++) {
        s->block_start[i] = m->qpos0[s->block_qpos + i];
        s->gripper_start[i] = m->body_pos[3 * s->gripper_body + i] + m->qpos0[s->gripper_qpos + i];
    }
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

/* Writes obs[25] and achieved_goal[3] from qpos and qvel alone (mj_step leaves xpos and xmat
 * one integration behind, so they are not used). */
static void fp_observe(const fetch_push_t *s, float *obs, float *achieved_goal) {
    const mjData *d = s->d;
    const double dt = s->dt;
    double grip[3], r[9];
    fp_gripper_pos(s, grip);
    const double *block = d->qpos + s->block_qpos; /* centre position */
    const double *q = d->qpos + s->block_qpos + 3; /* orientation (w, x, y, z) */
    const double *vel = d->qvel + s->block_dof;    /* linear (world), angular (body frame) */
    const double *gvel = d->qvel + s->gripper_dof; /* slides x, y, z */
    mju_quat2Mat(r, q);                            /* row-major body-to-world */
    for (int i = 0; i < 3; i++) {
        double spin = r[3 * i] * vel[3] + r[3 * i + 1] * vel[4] + r[3 * i + 2] * vel[5];
        obs[i] = (float)grip[i];
        obs[3 + i] = (float)block[i];
        obs[6 + i] = (float)(block[i] - grip[i]);
        obs[14 + i] = (float)((vel[i] - gvel[i]) * dt);
        obs[17 + i] = (float)(spin * dt);
        obs[20 + i] = (float)(gvel[i] * dt);
        achieved_goal[i] = (float)block[i];
    }
    obs[9] = obs[10] = 0.0f;  /* fingers: closed, no joints */
    obs[23] = obs[24] = 0.0f; /* and still */
    /* R = Rx(e0) Ry(e1) Rz(e2): r[2] = sin e1, r[5] = -sin e0 cos e1, r[8] = cos e0 cos e1,
     * r[1] = -cos e1 sin e2, r[0] = cos e1 cos e2; at cos e1 = 0, e0 = 0 and e2 from r[3], r[4]. */
    double ce1 = sqrt(r[8] * r[8] + r[5] * r[5]);
    if (ce1 > 1e-9) {
        obs[11] = (float)atan2(-r[5], r[8]);
        obs[12] = (float)atan2(r[2], ce1);
        obs[13] = (float)atan2(-r[1], r[0]);
    } else {
        obs[11] = 0.0f;
        obs[12] = (float)atan2(r[2], ce1);
        obs[13] = (float)atan2(r[3], r[4]);
    }
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
        s->goal[0] = s->gripper_start[0] + FP_FIXED_GOAL_DX;
        s->goal[1] = s->gripper_start[1] + FP_FIXED_GOAL_DY;
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
