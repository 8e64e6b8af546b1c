/* env_internal: what each env implementation provides to the registry in env.c. Not public. */
#ifndef ODAC_ENV_INTERNAL_H
#define ODAC_ENV_INTERNAL_H
#include "env.h"
#include "rng.h"

typedef struct {
    env_spec_t spec;
    /* Allocates the implementation's state into *state; 0 or -1 with a message. */
    int (*create)(void **state, env_goal_mode_t goal_mode, rng_t rng, char *err, size_t errcap);
    void (*destroy)(void *state);
    void (*reset)(void *state, float *obs, float *achieved_goal, float *desired_goal);
    /* action is already finite and clipped to the spec's bounds. Fills obs, achieved_goal,
     * info->distance and info->diag; the registry sets horizon_reached. */
    void (*step)(void *state, const float *action, float *obs, float *achieved_goal,
                 env_step_info_t *info);
    float (*distance)(const void *state, const float *achieved_goal, const float *desired_goal);
} env_ops_t;

extern const env_ops_t env_box2d_ops;
extern const env_ops_t env_ant_ops;
extern const env_ops_t env_sawyer_push_ops;
extern const env_ops_t env_fetch_push_ops;
extern const env_ops_t env_window_ops;
extern const env_ops_t env_faucet_ops;

/* Loads <models dir>/<file> with MuJoCo; NULL with a message naming the file and MuJoCo's error.
 * Declared with void* so this header needs no MuJoCo include; returns an mjModel*. */
void *env_mj_load_model(const char *file, char *err, size_t errcap);

/* ---- Appended by the env implementation (env.c, env_mujoco.c): shared MuJoCo helpers. ---- */

/* The MuJoCo handles of an env. A MuJoCo env's state struct starts with this struct (first
 * member), so env_mj_of() can find them; fill it with env_mj_open(). */
#define ENV_MJ_MAGIC 0x6f646d6au /* "odmj" */
typedef struct {
    unsigned magic; /* ENV_MJ_MAGIC once opened */
    void *model;    /* mjModel* */
    void *data;     /* mjData* */
    int substeps;   /* physics steps per env step */
} env_mj_t;

/* Loads <models dir>/<file>, makes its mjData and records substeps; 0 or -1 with a message. */
int env_mj_open(env_mj_t *mj, const char *file, int substeps, char *err, size_t errcap);
/* Frees the model and data (accepts a zeroed or already closed struct). */
void env_mj_close(env_mj_t *mj);
/* Id of a named model element (type is an mjtObj, e.g. mjOBJ_BODY); -1 with a message naming
 * the element and the model when it is missing. */
int env_mj_name2id(const env_mj_t *mj, int type, const char *name, char *err, size_t errcap);
/* Runs substeps x mj_step with the current controls. */
void env_mj_step(env_mj_t *mj);
/* Runs substeps x mj_step while mocap body mocap_id moves in a straight line from its current
 * position to target[3], reaching it on the last physics step (a kinematic hand driven by an
 * action; moving gradually keeps contacts gentle). */
void env_mj_step_mocap_to(env_mj_t *mj, int mocap_id, const double target[3]);
/* Clips p[n] into the box [lo[i], hi[i]] coordinate-wise. */
void env_clip_box(double *p, const double *lo, const double *hi, int n);

/* For tests and benches: the MuJoCo handles of an env, NULL for a non-MuJoCo env (box2d). */
env_mj_t *env_mj_of(env_t *env);
/* Creates env i of a batch: env_new() is env_new_stream(..., stream 0); env_batch_new() gives env
 * i the stream i of the batch's seed, so a batch equals envs made one by one with these streams. */
env_t *env_new_stream(const char *name, env_goal_mode_t goal_mode, uint64_t seed, uint64_t stream,
                      char *err, size_t errcap);
/* The number of steps since the last env_reset(). */
int env_steps_taken(const env_t *env);

/* The hand of the mocap-driven envs (window, faucet, fetch-push): the mocap target moves by
 * scale * action, stays within max_lead of the hand's position `here` (so pushing against an
 * obstacle caps the constraint force instead of dragging the hand through it) and inside
 * [low, high], then glides there in a straight line over the physics steps. */
void env_mj_drive_mocap(env_mj_t *mj, int mocap, const double *here, const float *action,
                        double scale, double max_lead, const double *low, const double *high);
/* Checks that body hangs from the world on three consecutive world-axis slide joints named
 * slides[0..2] (x, y, z), so its position is body_pos + qpos[*qpos_adr .. + 2]; sets the qpos and
 * dof addresses of the first slide. 0, or -1 with a message naming env. */
int env_mj_hand_slides(const env_mj_t *mj, int body, const char *const slides[3], const char *env,
                       int *qpos_adr, int *dof_adr, char *err, size_t errcap);
/* L2 distance between two goal vectors of n floats. */
float env_l2_distance(const float *a, const float *b, int n);
/* The step info of a 6-D goal hand xyz ++ object xyz (window, faucet): distance over all 6,
 * diag[0] the hand's and diag[1] the object's 3-D distance to the goal. */
void env_hand_object_info(const float *achieved_goal, const double *goal, env_step_info_t *info);

#endif
