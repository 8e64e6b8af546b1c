/* Tests of the fetch-push env: the standard Fetch observation layout (25-D, velocities times the
 * control step 0.04 s, constant finger state) checked against MuJoCo's own kinematics, the
 * paper's fixed goal (gripper start + (0.15, 0.15)), goal sampling, workspace clipping,
 * determinism, 10,000 random steps without blow-up, full-speed pushes that cannot drive the block
 * off the table, and a scripted pusher (written here) that must bring at least 80% of random
 * goals within 0.05. */
#include "env.h"
#include "env_internal.h"
#include "testutil.h"
#include <math.h>
#include <mujoco/mujoco.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define OBS 25
#define GOAL 3
#define TABLE_Z 0.4
#define TABLE_HALF 0.7 /* the table spans x, y in [-0.7, 0.7] */
#define BLOCK_HALF 0.025
#define DT 0.04 /* control step: 20 physics steps of 0.002 s */

static char err[512];

static env_t *make(env_goal_mode_t mode, uint64_t seed) {
    env_t *env = env_new("fetch-push", mode, seed, err, sizeof err);
    if (!env) fprintf(stderr, "env_new: %s\n", err);
    return env;
}

static float clampf(float x, float lo, float hi) {
    return x < lo ? lo : (x > hi ? hi : x);
}

static void test_spec(void) {
    env_spec_t spec;
    CU_ASSERT_EQUAL_FATAL(env_spec_lookup("fetch-push", &spec, err, sizeof err), 0);
    CU_ASSERT_EQUAL(spec.obs_dim, OBS);
    CU_ASSERT_EQUAL(spec.goal_dim, GOAL);
    CU_ASSERT_EQUAL(spec.action_dim, 3);
    CU_ASSERT_EQUAL(spec.horizon, 50);
    CU_ASSERT_EQUAL(spec.substeps, 20);
    CU_ASSERT_DOUBLE_EQUAL(spec.success_threshold, 0.05, 1e-7);
    CU_ASSERT_DOUBLE_EQUAL(spec.action_low, -1.0, 0);
    CU_ASSERT_DOUBLE_EQUAL(spec.action_high, 1.0, 0);
    CU_ASSERT_EQUAL(spec.n_diag, 2);
}

/* The fixed start state and the paper's fixed goal (FetchPush-FixedInit-FixedGoal-x0p15-y0p15:
 * the gripper's start xy plus (0.15, 0.15), at the block's resting height). */
static void test_reset_fixed(void) {
    env_t *env = make(ENV_GOAL_FIXED, 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(env);
    float obs[OBS], ag[GOAL], dg[GOAL];
    env_reset(env, obs, ag, dg);
    const float grip[3] = {-0.1f, 0.0f, 0.5f}, block[3] = {0.0f, 0.0f, 0.425f};
    const float goal[3] = {-0.1f + 0.15f, 0.0f + 0.15f, 0.425f};
    for (int i = 0; i < 3; i++) {
        CU_ASSERT_DOUBLE_EQUAL(obs[i], grip[i], 1e-6);
        CU_ASSERT_DOUBLE_EQUAL(obs[3 + i], block[i], 1e-6);
        CU_ASSERT_DOUBLE_EQUAL(obs[6 + i], block[i] - grip[i], 1e-6);
        CU_ASSERT_DOUBLE_EQUAL(obs[11 + i], 0.0, 1e-6); /* block upright */
        CU_ASSERT_DOUBLE_EQUAL(obs[14 + i], 0.0, 1e-9); /* at rest */
        CU_ASSERT_DOUBLE_EQUAL(obs[17 + i], 0.0, 1e-9);
        CU_ASSERT_DOUBLE_EQUAL(obs[20 + i], 0.0, 1e-9);
        CU_ASSERT_DOUBLE_EQUAL(ag[i], block[i], 1e-6);
        CU_ASSERT_DOUBLE_EQUAL(dg[i], goal[i], 1e-6);
    }
    /* Fingers: a closed gripper's joint positions and velocities, 0. */
    CU_ASSERT_EQUAL(obs[9], 0.0f);
    CU_ASSERT_EQUAL(obs[10], 0.0f);
    CU_ASSERT_EQUAL(obs[23], 0.0f);
    CU_ASSERT_EQUAL(obs[24], 0.0f);
    CU_ASSERT_DOUBLE_EQUAL(env_distance(env, ag, dg), sqrt(0.05 * 0.05 + 0.15 * 0.15), 1e-6);
    /* The block resting on the table: its bottom face at the table top. */
    CU_ASSERT_DOUBLE_EQUAL(obs[5] - BLOCK_HALF, TABLE_Z, 1e-6);
    /* Doing nothing leaves everything (nearly) in place: the gripper's weight is cancelled. */
    const float zero[3] = {0, 0, 0};
    env_step_info_t info;
    for (int t = 0; t < 10; t++)
        CU_ASSERT_EQUAL(env_step(env, zero, obs, ag, &info, err, sizeof err), 0);
    for (int i = 0; i < 3; i++) {
        CU_ASSERT_DOUBLE_EQUAL(obs[i], grip[i], 1e-4);
        CU_ASSERT_DOUBLE_EQUAL(obs[3 + i], block[i], 1e-3);
    }
    env_free(env);
}

/* Rotation matrix (row-major) from the observation's Euler angles in Fetch's convention,
 * R = Rx(e0) Ry(e1) Rz(e2), built from elementary rotations (independent of the env's
 * matrix-to-Euler formula). */
static void euler_to_mat(const float *e, double *r) {
    double c0 = cos(e[0]), s0 = sin(e[0]), c1 = cos(e[1]), s1 = sin(e[1]);
    double c2 = cos(e[2]), s2 = sin(e[2]);
    double rx[9] = {1, 0, 0, 0, c0, -s0, 0, s0, c0};
    double ry[9] = {c1, 0, s1, 0, 1, 0, -s1, 0, c1};
    double rz[9] = {c2, -s2, 0, s2, c2, 0, 0, 0, 1};
    double ryz[9];
    mju_mulMatMat(ryz, ry, rz, 3, 3, 3);
    mju_mulMatMat(r, rx, ryz, 3, 3, 3);
}

/* After a push that tips and spins the block, every observation entry agrees with what MuJoCo
 * computes for the same state (positions from mj_forward, velocities from mj_objectVelocity,
 * times the control step 0.04 s; the block's linear velocity relative to the gripper's). */
static void test_obs_matches_mujoco(void) {
    env_t *env = make(ENV_GOAL_FIXED, 2);
    CU_ASSERT_PTR_NOT_NULL_FATAL(env);
    env_mj_t *mj = env_mj_of(env);
    CU_ASSERT_PTR_NOT_NULL_FATAL(mj);
    const mjModel *m = mj->model;
    mjData *d = mj->data;
    int gripper = mj_name2id(m, mjOBJ_BODY, "gripper"), block = mj_name2id(m, mjOBJ_BODY, "block");
    CU_ASSERT_FATAL(gripper >= 0 && block >= 0);
    CU_ASSERT_DOUBLE_EQUAL(m->opt.timestep * env_spec(env)->substeps, DT, 1e-12);
    float obs[OBS], ag[GOAL], dg[GOAL];
    env_step_info_t info;
    env_reset(env, obs, ag, dg);
    /* Down beside the block, then a fast diagonal sweep through it. */
    const float script[][3] = {{0, 0, -1},   {0, 0, -1},   {0, 0, -0.5f}, {1, 0.4f, 0},
                               {1, 0.4f, 0}, {1, 0.5f, 0}, {0.3f, 1, 0}};
    int checked_moving = 0, checked_tilted = 0;
    for (int t = 0; t < (int)(sizeof script / sizeof script[0]); t++) {
        CU_ASSERT_EQUAL_FATAL(env_step(env, script[t], obs, ag, &info, err, sizeof err), 0);
        mj_forward(m, d);
        double rot[9], vel[6], gvel[6];
        euler_to_mat(obs + 11, rot);
        mj_objectVelocity(m, d, mjOBJ_BODY, block, vel, 0); /* (angular, linear), world */
        mj_objectVelocity(m, d, mjOBJ_BODY, gripper, gvel, 0);
        for (int i = 0; i < 3; i++) {
            CU_ASSERT_DOUBLE_EQUAL(obs[i], d->xpos[3 * gripper + i], 1e-5);
            CU_ASSERT_DOUBLE_EQUAL(obs[3 + i], d->xpos[3 * block + i], 1e-5);
            CU_ASSERT_DOUBLE_EQUAL(obs[6 + i], d->xpos[3 * block + i] - d->xpos[3 * gripper + i],
                                   1e-5);
            /* 1e-4 m/s (as velocities) is 4e-6 per step. */
            CU_ASSERT_DOUBLE_EQUAL(obs[14 + i], (vel[3 + i] - gvel[3 + i]) * DT, 4e-6);
            CU_ASSERT_DOUBLE_EQUAL(obs[17 + i], vel[i] * DT, 4e-6);
            CU_ASSERT_DOUBLE_EQUAL(obs[20 + i], gvel[3 + i] * DT, 4e-6);
            CU_ASSERT_DOUBLE_EQUAL(ag[i], obs[3 + i], 0);
        }
        CU_ASSERT(obs[9] == 0.0f && obs[10] == 0.0f && obs[23] == 0.0f && obs[24] == 0.0f);
        for (int i = 0; i < 9; i++) CU_ASSERT_DOUBLE_EQUAL(rot[i], d->xmat[9 * block + i], 1e-5);
        /* Moving: block speed over 0.05 m/s or spin over 0.05 rad/s (times DT). */
        float block_move = fabsf(obs[14] + obs[20]) + fabsf(obs[15] + obs[21]);
        if (block_move + fabsf(obs[17]) + fabsf(obs[18]) + fabsf(obs[19]) > 0.05f * DT)
            checked_moving++;
        /* Tilted and turned: the conventions Rx Ry Rz and Rz Ry Rx differ only then. */
        if ((fabsf(obs[11]) > 0.01f || fabsf(obs[12]) > 0.01f) && fabsf(obs[13]) > 0.01f)
            checked_tilted++;
        /* Distance and diagnostics, computed independently. */
        double dist = 0, gb = 0;
        for (int i = 0; i < 3; i++) {
            dist += (ag[i] - dg[i]) * (ag[i] - dg[i]);
            gb += obs[6 + i] * obs[6 + i];
        }
        CU_ASSERT_DOUBLE_EQUAL(info.distance, sqrt(dist), 1e-5);
        CU_ASSERT_DOUBLE_EQUAL(env_distance(env, ag, dg), sqrt(dist), 1e-5);
        CU_ASSERT_DOUBLE_EQUAL(info.diag[0], sqrt(gb), 1e-5);
        CU_ASSERT_DOUBLE_EQUAL(info.diag[1], sqrt(obs[3] * obs[3] + obs[4] * obs[4]), 1e-5);
    }
    CU_ASSERT(checked_moving >= 2); /* the comparisons covered a moving, turning block */
    CU_ASSERT(checked_tilted >= 1);
    env_free(env);
}

/* One full action moves the mocap target by exactly 0.05; the gripper follows at that pace; the
 * target stays in the workspace however long the agent pushes against its walls. */
static void test_motion_and_workspace(void) {
    env_t *env = make(ENV_GOAL_FIXED, 3);
    CU_ASSERT_PTR_NOT_NULL_FATAL(env);
    env_mj_t *mj = env_mj_of(env);
    const mjModel *m = mj->model;
    const mjData *d = mj->data;
    int mocap = m->body_mocapid[mj_name2id(m, mjOBJ_BODY, "gripper_target")];
    CU_ASSERT_FATAL(mocap >= 0);
    float obs[OBS], ag[GOAL], dg[GOAL];
    env_step_info_t info;
    env_reset(env, obs, ag, dg);
    const float up_y[3] = {0, 1, 0};
    for (int t = 0; t < 4; t++) env_step(env, up_y, obs, ag, &info, err, sizeof err);
    CU_ASSERT_DOUBLE_EQUAL(d->mocap_pos[3 * mocap + 1], 0.2, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(obs[1], 0.2, 0.03); /* moving at full speed, the gripper lags */
    const float zero[3] = {0, 0, 0};
    for (int t = 0; t < 3; t++) env_step(env, zero, obs, ag, &info, err, sizeof err);
    CU_ASSERT_DOUBLE_EQUAL(obs[1], 0.2, 0.002); /* and settles at the target */
    /* Out-of-range actions are clipped to [-1, 1] by the registry: 4 steps of -7 move 0.2. */
    const float big[3] = {0, -7, 0};
    for (int t = 0; t < 4; t++) env_step(env, big, obs, ag, &info, err, sizeof err);
    CU_ASSERT_DOUBLE_EQUAL(d->mocap_pos[3 * mocap + 1], 0.0, 1e-9);
    /* Press into every corner of the workspace for a long time. */
    const float corners[4][3] = {{-1, -1, -1}, {1, 1, 1}, {1, -1, -1}, {-1, 1, 1}};
    const double lo[3] = {-0.30, -0.30, 0.42}, hi[3] = {0.30, 0.30, 0.70};
    for (int c = 0; c < 4; c++) {
        for (int t = 0; t < 40; t++) env_step(env, corners[c], obs, ag, &info, err, sizeof err);
        for (int i = 0; i < 3; i++) {
            double want = corners[c][i] > 0 ? hi[i] : lo[i];
            CU_ASSERT_DOUBLE_EQUAL(d->mocap_pos[3 * mocap + i], want, 1e-9);
            CU_ASSERT_DOUBLE_EQUAL(obs[i], want, 0.01);
        }
    }
    env_free(env);
}

/* Random goals: on the table (block centre height), within 0.15 of the block's start, and spread
 * over the whole disc. */
static void test_random_goals(void) {
    env_t *env = make(ENV_GOAL_RANDOM, 4);
    CU_ASSERT_PTR_NOT_NULL_FATAL(env);
    float obs[OBS], ag[GOAL], dg[GOAL];
    int quadrant[4] = {0, 0, 0, 0}, far = 0, near = 0;
    double sx = 0, sy = 0;
    const int n = 400;
    for (int e = 0; e < n; e++) {
        env_reset(env, obs, ag, dg);
        double r = sqrt(dg[0] * dg[0] + dg[1] * dg[1]); /* block starts at (0, 0) */
        CU_ASSERT(r <= 0.15 + 1e-6);
        CU_ASSERT_DOUBLE_EQUAL(dg[2], TABLE_Z + BLOCK_HALF, 1e-6);
        quadrant[(dg[0] >= 0) + 2 * (dg[1] >= 0)]++;
        far += r > 0.12;  /* area fraction 0.36 */
        near += r < 0.05; /* area fraction 0.11 */
        sx += dg[0];
        sy += dg[1];
        CU_ASSERT_DOUBLE_EQUAL(ag[0], 0.0, 1e-6); /* the start stays fixed */
    }
    for (int q = 0; q < 4; q++) CU_ASSERT(quadrant[q] > n / 8);
    CU_ASSERT(far > n / 5 && far < n / 2);
    CU_ASSERT(near > 0 && near < n / 5);
    CU_ASSERT(fabs(sx / n) < 0.02 && fabs(sy / n) < 0.02);
    env_free(env);
}

/* Same seed, same actions: bit-identical trajectories; another seed: other goals. */
static void test_determinism(void) {
    env_t *a = make(ENV_GOAL_RANDOM, 77), *b = make(ENV_GOAL_RANDOM, 77);
    env_t *c = make(ENV_GOAL_RANDOM, 78);
    CU_ASSERT_FATAL(a && b && c);
    float oa[OBS], ob[OBS], oc[OBS], ga[GOAL], gb[GOAL], gc[GOAL], da[GOAL], db[GOAL], dc[GOAL];
    env_step_info_t ia, ib;
    rng_t rng;
    rng_seed(&rng, 5, 0);
    int goals_differ = 0;
    for (int e = 0; e < 3; e++) {
        env_reset(a, oa, ga, da);
        env_reset(b, ob, gb, db);
        env_reset(c, oc, gc, dc);
        CU_ASSERT_EQUAL(memcmp(da, db, sizeof da), 0);
        goals_differ += memcmp(da, dc, sizeof da) != 0;
        for (int t = 0; t < 50; t++) {
            float act[3];
            for (int i = 0; i < 3; i++) act[i] = 2.0f * rng_uniform(&rng) - 1.0f;
            env_step(a, act, oa, ga, &ia, err, sizeof err);
            env_step(b, act, ob, gb, &ib, err, sizeof err);
            CU_ASSERT_EQUAL(memcmp(oa, ob, sizeof oa), 0);
            CU_ASSERT_EQUAL(memcmp(ga, gb, sizeof ga), 0);
            CU_ASSERT_EQUAL(memcmp(&ia, &ib, sizeof ia), 0);
        }
    }
    CU_ASSERT_EQUAL(goals_differ, 3);
    env_free(a);
    env_free(b);
    env_free(c);
}

/* 10,000 uniformly random steps (episodes of 50): every value finite and physically sane. */
static void test_random_steps_stable(void) {
    env_t *env = make(ENV_GOAL_RANDOM, 6);
    CU_ASSERT_PTR_NOT_NULL_FATAL(env);
    float obs[OBS], ag[GOAL], dg[GOAL];
    env_step_info_t info;
    rng_t rng;
    rng_seed(&rng, 6, 1);
    int bad = 0, out_of_workspace = 0, block_moved = 0;
    float max_speed = 0, max_spin = 0, min_z = 1, max_z = 0;
    for (int t = 0; t < 10000; t++) {
        if (t % 50 == 0) env_reset(env, obs, ag, dg);
        float act[3];
        for (int i = 0; i < 3; i++) act[i] = 2.0f * rng_uniform(&rng) - 1.0f;
        CU_ASSERT_EQUAL(env_step(env, act, obs, ag, &info, err, sizeof err), 0);
        for (int i = 0; i < OBS; i++) bad += !isfinite(obs[i]);
        bad += !isfinite(info.distance) || !isfinite(info.diag[0]) || !isfinite(info.diag[1]);
        out_of_workspace += obs[0] < -0.32f || obs[0] > 0.32f || obs[1] < -0.32f ||
                            obs[1] > 0.32f || obs[2] < 0.40f || obs[2] > 0.72f;
        /* No launch: the block stays on the table (its centre above the table top; on the
         * floor it would be at 0.025), below 1 m, and slower than 10 m/s and 200 rad/s
         * (squeezed under the gripper it may hop a few centimetres). */
        bad += obs[5] <= TABLE_Z || obs[5] > 1.0f;
        min_z = fminf(min_z, obs[5]);
        max_z = fmaxf(max_z, obs[5]);
        float v[3];
        for (int i = 0; i < 3; i++) v[i] = (obs[14 + i] + obs[20 + i]) / (float)DT; /* block */
        max_speed = fmaxf(max_speed, sqrtf(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]));
        max_spin = fmaxf(
            max_spin, sqrtf(obs[17] * obs[17] + obs[18] * obs[18] + obs[19] * obs[19]) / (float)DT);
        block_moved += info.diag[1] > 0.01f;
    }
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT_EQUAL(out_of_workspace, 0);
    CU_ASSERT(max_speed < 10.0f);
    CU_ASSERT(max_spin < 200.0f);
    CU_ASSERT(block_moved > 0); /* random motion does reach the block sometimes */
    printf("\n  random steps: block z in [%.4f, %.4f], max speed %.2f m/s, spin %.1f rad/s\n",
           min_z, max_z, max_speed, max_spin);
    env_free(env);
}

/* The block cannot be pushed off the table: from behind the block (in contact, or 0.2 back for a
 * run-up), the gripper drives at full speed in each of 16 directions for the whole episode. The
 * block's centre stays above the table top and at least 0.1 inside its edges; the pushes do carry
 * it well beyond the old table's edge (x = 0.4, y = 0.5), where it used to fall. */
static void test_block_stays_on_table(void) {
    env_t *env = make(ENV_GOAL_FIXED, 10);
    CU_ASSERT_PTR_NOT_NULL_FATAL(env);
    float obs[OBS], ag[GOAL], dg[GOAL];
    env_step_info_t info;
    int off = 0, near_edge = 0, far_pushes = 0;
    double min_z = 1.0, reach = 0.0;
    for (int k = 0; k < 16; k++) {
        const float ux = (float)cos(2.0 * M_PI * k / 16), uy = (float)sin(2.0 * M_PI * k / 16);
        for (int run_up = 0; run_up < 2; run_up++) {
            env_reset(env, obs, ag, dg);
            const float back = run_up ? 0.2f : 0.06f;
            int pushing = 0;
            double episode_reach = 0.0;
            for (int t = 0; t < 50; t++) {
                const float *grip = obs, *block = obs + 3;
                float act[3] = {ux, uy, clampf((0.425f - grip[2]) / 0.05f, -1, 1)};
                if (!pushing) { /* over to the start point, then down */
                    float ex = block[0] - back * ux - grip[0], ey = block[1] - back * uy - grip[1];
                    float e = sqrtf(ex * ex + ey * ey);
                    act[0] = clampf(ex / 0.05f, -1, 1);
                    act[1] = clampf(ey / 0.05f, -1, 1);
                    act[2] = clampf(((e < 0.01f ? 0.425f : 0.5f) - grip[2]) / 0.05f, -1, 1);
                    if (e > 0.02f && grip[2] < 0.48f) act[0] = act[1] = 0.0f;
                    pushing = e < 0.01f && grip[2] < 0.435f;
                }
                CU_ASSERT_EQUAL(env_step(env, act, obs, ag, &info, err, sizeof err), 0);
                min_z = fmin(min_z, ag[2]);
                off += ag[2] <= TABLE_Z;
                near_edge += fabsf(ag[0]) > TABLE_HALF - 0.1 || fabsf(ag[1]) > TABLE_HALF - 0.1;
                episode_reach = fmax(episode_reach, fmax(fabs(ag[0]), fabs(ag[1])));
            }
            reach = fmax(reach, episode_reach);
            far_pushes += fabs(ag[0]) > 0.4 || fabs(ag[1]) > 0.5;
        }
    }
    printf("\n  full-speed pushes: block z min %.4f, farthest |x| or |y| %.3f, %d of 32 past the "
           "old table's edge\n",
           min_z, reach, far_pushes);
    CU_ASSERT_EQUAL(off, 0);
    CU_ASSERT_EQUAL(near_edge, 0);
    CU_ASSERT(far_pushes >= 8);
    env_free(env);
}

/* A scripted pusher: go (high) to the point behind the block on the goal-block line, lower to
 * push height, then push along the line, slowing near the goal; re-approach when the gripper
 * drifts off the line. Acts on the observation and desired goal only. */
typedef struct {
    int pushing;
} pusher_t;

static void pusher_act(pusher_t *p, const float *obs, const float *goal, float *act) {
    const float *grip = obs, *block = obs + 3;
    const float high = 0.5f, low = 0.425f, behind = 0.06f, contact = 0.045f;
    float ux = goal[0] - block[0], uy = goal[1] - block[1];
    float n = sqrtf(ux * ux + uy * uy);
    act[0] = act[1] = act[2] = 0.0f;
    if (n < 0.005f) return; /* there: stay still */
    ux /= n;
    uy /= n;
    float rx = grip[0] - block[0], ry = grip[1] - block[1];
    float along = rx * ux + ry * uy, across = -rx * uy + ry * ux;
    if (p->pushing && (fabsf(across) > 0.02f || along > -0.02f)) p->pushing = 0;
    if (!p->pushing) {
        float ex = block[0] - behind * ux - grip[0], ey = block[1] - behind * uy - grip[1];
        float e = sqrtf(ex * ex + ey * ey);
        float z = e < 0.01f ? low : high;
        act[0] = clampf(ex / 0.05f, -1, 1);
        act[1] = clampf(ey / 0.05f, -1, 1);
        act[2] = clampf((z - grip[2]) / 0.05f, -1, 1);
        if (e > 0.02f && grip[2] < high - 0.02f) act[0] = act[1] = 0.0f; /* lift first */
        if (e < 0.01f && grip[2] < low + 0.01f) p->pushing = 1;
        return;
    }
    float advance = fminf(0.5f * n, 0.02f); /* slow near the goal: the block slides on */
    float tx = block[0] - contact * ux + advance * ux, ty = block[1] - contact * uy + advance * uy;
    act[0] = clampf((tx - grip[0]) / 0.05f, -1, 1);
    act[1] = clampf((ty - grip[1]) / 0.05f, -1, 1);
    act[2] = clampf((low - grip[2]) / 0.05f, -1, 1);
}

static void test_scripted_push_reaches_goals(void) {
    env_t *env = make(ENV_GOAL_RANDOM, 8);
    CU_ASSERT_PTR_NOT_NULL_FATAL(env);
    const env_spec_t *spec = env_spec(env);
    float obs[OBS], ag[GOAL], dg[GOAL];
    env_step_info_t info;
    const int episodes = 20;
    int successes = 0, far_goals = 0, far_successes = 0;
    for (int e = 0; e < episodes; e++) {
        env_reset(env, obs, ag, dg);
        float start_dist = env_distance(env, ag, dg);
        pusher_t pusher = {0};
        for (int t = 0; t < spec->horizon; t++) {
            float act[3];
            pusher_act(&pusher, obs, dg, act);
            CU_ASSERT_EQUAL(env_step(env, act, obs, ag, &info, err, sizeof err), 0);
        }
        CU_ASSERT_EQUAL(info.horizon_reached, 1);
        int ok = info.distance < spec->success_threshold;
        successes += ok;
        if (start_dist > 0.08f) {
            far_goals++;
            far_successes += ok;
        }
    }
    printf("\n  scripted push: %d/%d goals reached (%d/%d of those > 0.08 away)\n", successes,
           episodes, far_successes, far_goals);
    CU_ASSERT(successes >= (episodes * 8 + 9) / 10);
    CU_ASSERT(far_goals >= 5);
    CU_ASSERT(far_successes * 10 >= far_goals * 8);
    /* The fixed goal too. */
    env_t *fixed = make(ENV_GOAL_FIXED, 9);
    CU_ASSERT_PTR_NOT_NULL_FATAL(fixed);
    env_reset(fixed, obs, ag, dg);
    pusher_t pusher = {0};
    for (int t = 0; t < spec->horizon; t++) {
        float act[3];
        pusher_act(&pusher, obs, dg, act);
        env_step(fixed, act, obs, ag, &info, err, sizeof err);
    }
    CU_ASSERT(info.distance < spec->success_threshold);
    env_free(fixed);
    env_free(env);
}

/* A missing model file, or a model without an element the env needs, fails env_new with a
 * message naming it (and frees what was made: the sanitizer build checks for leaks). */
static void test_bad_model(void) {
    char path[1024], text[16384];
    snprintf(path, sizeof path, "%s/fetch_push.xml", env_models_dir());
    FILE *f = fopen(path, "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    CU_ASSERT_FATAL(n > 0 && n < sizeof text - 1);
    text[n] = '\0';
    const char *dir = test_tmpdir("fetch_push");
    env_set_models_dir(dir);
    CU_ASSERT_PTR_NULL(env_new("fetch-push", ENV_GOAL_FIXED, 1, err, sizeof err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "fetch_push.xml"));
    /* The same model with one element renamed. */
    char *at = strstr(text, "name=\"gripper_x\"");
    CU_ASSERT_PTR_NOT_NULL_FATAL(at);
    snprintf(path, sizeof path, "%s/fetch_push.xml", dir);
    f = fopen(path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fwrite(text, 1, (size_t)(at - text), f);
    fputs("name=\"gripper_u\"", f);
    fputs(at + strlen("name=\"gripper_x\""), f);
    fclose(f);
    CU_ASSERT_PTR_NULL(env_new("fetch-push", ENV_GOAL_FIXED, 1, err, sizeof err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "'gripper_x'"));
    remove(path);
    rmdir(dir);
    env_set_models_dir(NULL);
    env_t *env = make(ENV_GOAL_FIXED, 1); /* the real models again */
    CU_ASSERT_PTR_NOT_NULL(env);
    env_free(env);
}

int main(void) {
    const test_case_t cases[] = {
        {"spec", test_spec},
        {"bad_model", test_bad_model},
        {"reset_fixed", test_reset_fixed},
        {"obs_matches_mujoco", test_obs_matches_mujoco},
        {"motion_and_workspace", test_motion_and_workspace},
        {"random_goals", test_random_goals},
        {"determinism", test_determinism},
        {"random_steps_stable", test_random_steps_stable},
        {"block_stays_on_table", test_block_stays_on_table},
        {"scripted_push_reaches_goals", test_scripted_push_reaches_goals},
        {NULL, NULL},
    };
    return test_run_suite("env_fetch_push", cases);
}
