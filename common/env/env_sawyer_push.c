/* env_sawyer_push: a hand at a fixed height pushes a puck on a table (models/sawyer_push.xml).
 * The hand is a mocap body: an action a in [-1, 1]^2 moves its target by 0.02 * a, clipped to
 * x in [-0.1, 0.1], y in [0.55, 0.65], and the hand slides there in a straight line over the env
 * step's 50 physics steps of 0.002 s. Observation = achieved goal = (hand x, hand y, puck x,
 * puck y). The distance is L2 over those 4 numbers; hand and puck distances are diagnostics. */
#include "env_internal.h"
#include <math.h>
#include <mujoco/mujoco.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SAWYER_SUBSTEPS 50
#define SAWYER_HAND_STEP 0.02 /* hand displacement per unit action per env step */

static const double k_hand_lo[2] = {-0.1, 0.55};
static const double k_hand_hi[2] = {0.1, 0.65};
static const double k_hand_start_wish[2] = {0.0, 0.4}; /* clipped into the hand box */
static const double k_puck_start[2] = {0.0, 0.6};
static const float k_goal[4] = {-0.05f, 0.6f, 0.15f, 0.7f}; /* hand xy, puck xy */
/* Random-goal variant: hand goal uniform in the hand box, puck goal uniform in this box (what the
 * pusher can reach), redrawn while the puck goal would overlap the pusher at the hand goal. */
static const double k_puck_goal_lo[2] = {-0.15, 0.55};
static const double k_puck_goal_hi[2] = {0.15, 0.7};
#define PUSHER_HALF_X 0.06
#define PUSHER_HALF_Y 0.019
#define PUCK_RADIUS 0.03

typedef struct {
    env_mj_t mj; /* first member: see env_mj_of() */
    env_goal_mode_t goal_mode;
    rng_t rng;
    int hand_mocap; /* mocap index of the hand body */
    int puck_qpos;  /* qpos address of the puck's free joint */
    double hand_z;  /* the hand's fixed height (from the model) */
    float goal[4];  /* desired goal of the current episode */
} sawyer_t;

static int sawyer_create(void **state, env_goal_mode_t goal_mode, rng_t rng, char *err,
                         size_t errcap) {
    sawyer_t *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errcap, "env sawyer-push: out of memory");
        return -1;
    }
    if (env_mj_open(&s->mj, "sawyer_push.xml", SAWYER_SUBSTEPS, err, errcap) != 0) {
        free(s);
        return -1;
    }
    const mjModel *m = s->mj.model;
    int hand = env_mj_name2id(&s->mj, mjOBJ_BODY, "hand", err, errcap);
    int puck = env_mj_name2id(&s->mj, mjOBJ_JOINT, "puck", err, errcap);
    if (hand < 0 || puck < 0 || m->body_mocapid[hand] < 0 || m->jnt_type[puck] != mjJNT_FREE) {
        if (hand >= 0 && puck >= 0)
            snprintf(err, errcap,
                     "env sawyer-push: the model needs a mocap body 'hand' and a "
                     "free joint 'puck'");
        env_mj_close(&s->mj);
        free(s);
        return -1;
    }
    s->hand_mocap = m->body_mocapid[hand];
    s->puck_qpos = m->jnt_qposadr[puck];
    s->hand_z = m->body_pos[3 * hand + 2];
    s->goal_mode = goal_mode;
    s->rng = rng;
    memcpy(s->goal, k_goal, sizeof s->goal);
    *state = s;
    return 0;
}

static void sawyer_destroy(void *state) {
    sawyer_t *s = state;
    if (!s) return;
    env_mj_close(&s->mj);
    free(s);
}

static float norm2(float dx, float dy) {
    return sqrtf(dx * dx + dy * dy);
}

static float sawyer_distance(const void *state, const float *achieved, const float *desired) {
    (void)state;
    float sum = 0.0f;
    for (int i = 0; i < 4; i++) sum += (achieved[i] - desired[i]) * (achieved[i] - desired[i]);
    return sqrtf(sum);
}

/* obs[4] = achieved_goal[4] = (hand x, hand y, puck x, puck y). */
static void sawyer_observe(const sawyer_t *s, float *obs, float *achieved_goal) {
    const mjData *d = s->mj.data;
    const double *hand = d->mocap_pos + 3 * s->hand_mocap, *puck = d->qpos + s->puck_qpos;
    const float v[4] = {(float)hand[0], (float)hand[1], (float)puck[0], (float)puck[1]};
    memcpy(obs, v, sizeof v);
    memcpy(achieved_goal, v, sizeof v);
}

static double uniform(rng_t *rng, double lo, double hi) {
    return lo + (hi - lo) * rng_uniform(rng);
}

static void sample_goal(sawyer_t *s) {
    double g[4];
    do {
        g[0] = uniform(&s->rng, k_hand_lo[0], k_hand_hi[0]);
        g[1] = uniform(&s->rng, k_hand_lo[1], k_hand_hi[1]);
        g[2] = uniform(&s->rng, k_puck_goal_lo[0], k_puck_goal_hi[0]);
        g[3] = uniform(&s->rng, k_puck_goal_lo[1], k_puck_goal_hi[1]);
    } while (fabs(g[2] - g[0]) < PUSHER_HALF_X + PUCK_RADIUS &&
             fabs(g[3] - g[1]) < PUSHER_HALF_Y + PUCK_RADIUS);
    for (int i = 0; i < 4; i++) s->goal[i] = (float)g[i];
}

static void sawyer_reset(void *state, float *obs, float *achieved_goal, float *desired_goal) {
    sawyer_t *s = state;
    const mjModel *m = s->mj.model;
    mjData *d = s->mj.data;
    mj_resetData(m, d);
    double hand[3] = {k_hand_start_wish[0], k_hand_start_wish[1], s->hand_z};
    env_clip_box(hand, k_hand_lo, k_hand_hi, 2);
    memcpy(d->mocap_pos + 3 * s->hand_mocap, hand, sizeof hand);
    d->qpos[s->puck_qpos + 0] = k_puck_start[0];
    d->qpos[s->puck_qpos + 1] = k_puck_start[1];
    mj_forward(m, d);
    if (s->goal_mode == ENV_GOAL_RANDOM) sample_goal(s);
    sawyer_observe(s, obs, achieved_goal);
    memcpy(desired_goal, s->goal, sizeof s->goal);
}

static void sawyer_step(void *state, const float *action, float *obs, float *achieved_goal,
                        env_step_info_t *info) {
    sawyer_t *s = state;
    const double *hand = ((mjData *)s->mj.data)->mocap_pos + 3 * s->hand_mocap;
    double target[3] = {hand[0] + SAWYER_HAND_STEP * action[0],
                        hand[1] + SAWYER_HAND_STEP * action[1], s->hand_z};
    env_clip_box(target, k_hand_lo, k_hand_hi, 2);
    env_mj_step_mocap_to(&s->mj, s->hand_mocap, target);
    sawyer_observe(s, obs, achieved_goal);
    info->distance = sawyer_distance(s, achieved_goal, s->goal);
    info->diag[0] = norm2(achieved_goal[0] - s->goal[0], achieved_goal[1] - s->goal[1]);
    info->diag[1] = norm2(achieved_goal[2] - s->goal[2], achieved_goal[3] - s->goal[3]);
}

const env_ops_t env_sawyer_push_ops = {
    .spec =
        {
            .name = "sawyer-push",
            .obs_dim = 4,
            .goal_dim = 4,
            .action_dim = 2,
            .horizon = 100,
            .action_low = -1.0f,
            .action_high = 1.0f,
            /* Project's choice: 4-D distance < 0.05 (hand and puck each within a few cm). */
            .success_threshold = 0.05f,
            .substeps = SAWYER_SUBSTEPS,
            .n_diag = 2,
            .diag_names = {"hand_distance", "puck_distance"},
        },
    .create = sawyer_create,
    .destroy = sawyer_destroy,
    .reset = sawyer_reset,
    .step = sawyer_step,
    .distance = sawyer_distance,
};
