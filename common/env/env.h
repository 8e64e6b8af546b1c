/* env: the goal-conditioned environment API (GoalEnv-like) shared by actors, tests and benches.
 * An env exposes an observation, the achieved goal phi(s), the desired goal g and their distance.
 * Errors are negative return codes with a message written to the caller's err buffer. */
#ifndef ODAC_ENV_H
#define ODAC_ENV_H
#include <stddef.h>
#include <stdint.h>

#define ENV_NAME_MAX 32
#define ENV_DIAG_MAX 4

typedef enum { ENV_GOAL_FIXED = 0, ENV_GOAL_RANDOM = 1 } env_goal_mode_t;

/* Static description of an env kind (immutable; like mjModel). */
typedef struct {
    char name[ENV_NAME_MAX];
    int obs_dim;
    int goal_dim;
    int action_dim;
    int horizon;
    float action_low, action_high; /* same bounds for every action dim */
    float success_threshold;       /* success: final distance < threshold */
    int substeps;                  /* physics steps per env step; 0 for box2d */
    int n_diag;                    /* extra diagnostics reported beside the distance */
    const char *diag_names[ENV_DIAG_MAX];
} env_spec_t;

/* What one step reports beside the next observation and achieved goal. */
typedef struct {
    float distance;           /* env's distance between achieved and desired goal */
    int horizon_reached;      /* 1 on the step that reaches the horizon (a time limit) */
    float diag[ENV_DIAG_MAX]; /* e.g. hand-to-goal and puck-to-goal distances */
} env_step_info_t;

typedef struct env env_t;

/* Names of all envs, NULL-terminated. */
const char *const *env_names(void);
/* Spec of an env kind by name; 0 on success, -1 with a message for an unknown name. */
int env_spec_lookup(const char *name, env_spec_t *out, char *err, size_t errcap);

/* Directory holding the MJCF models: the last env_set_models_dir() value, else $ODAC_MODELS_DIR,
 * else <directory of this executable>/../share/odac/models (build tree and install prefix alike).
 */
void env_set_models_dir(const char *dir);
const char *env_models_dir(void);

/* Creates an env; NULL with a message on failure (unknown name, model that fails to load). */
env_t *env_new(const char *name, env_goal_mode_t goal_mode, uint64_t seed, char *err,
               size_t errcap);
void env_free(env_t *env); /* accepts NULL */
const env_spec_t *env_spec(const env_t *env);

/* Starts an episode. Buffers are the caller's: obs[obs_dim], achieved_goal[goal_dim],
 * desired_goal[goal_dim]. Allocates nothing. */
void env_reset(env_t *env, float *obs, float *achieved_goal, float *desired_goal);
/* Steps action[action_dim] (clipped to the bounds). Returns 0, or -1 with a message for a
 * non-finite action (the env is left unchanged). Allocates nothing. */
int env_step(env_t *env, const float *action, float *obs, float *achieved_goal,
             env_step_info_t *info, char *err, size_t errcap);
/* Action noise (the authors' noisy-action wrapper, used on box2d): every env_step adds
 * std * N(0, 1) to each coordinate of the clipped action, from a stream of the env's own seed,
 * and clips the sum to the action bounds again. std 0 (the default) turns it off and draws
 * nothing. 0, or -1 with a message for a negative or non-finite std (or env NULL). */
int env_set_action_noise(env_t *env, float std, char *err, size_t errcap);
/* Distance between an achieved and a desired goal as this env defines it. */
float env_distance(const env_t *env, const float *achieved_goal, const float *desired_goal);

/* A batch of n envs of one kind stepped together; rows are env-major (n x dim). */
typedef struct env_batch env_batch_t;
env_batch_t *env_batch_new(const char *name, env_goal_mode_t goal_mode, int n, uint64_t seed,
                           char *err, size_t errcap);
void env_batch_free(env_batch_t *batch);
int env_batch_size(const env_batch_t *batch);
env_t *env_batch_get(env_batch_t *batch, int i);
/* Steps every env with actions[n x action_dim]; obs, achieved_goal: n x dim; info[n]. */
int env_batch_step(env_batch_t *batch, const float *actions, float *obs, float *achieved_goal,
                   env_step_info_t *info, char *err, size_t errcap);

#endif
