/* learner_core: the ODAC learner's math (ODAC.md): one update of the tanh-Gaussian policy, the twin
 * critics with Polyak targets, the entropy temperature and the outcome model p_psi(g | s, a) on a
 * batch (s, a, s', phi(s), phi(s'), g), for the six variants of the paper's ablation table and the
 * HER baselines; per-update statistics; the policy's flat parameter block for publishing; and a
 * checkpoint of the whole state that resumes bit-identically.
 *
 * The process around it (sockets, batches from replay, publishing, schedule) lives elsewhere: this
 * module only does arithmetic on buffers it is given. Everything is allocated by learner_new; an
 * update allocates nothing. Random numbers (policy noise) come from the learner's own rng, seeded
 * from the config, so a run is reproducible from its seed. Not thread-safe: one thread at a time.
 */
#ifndef ODAC_LEARNER_CORE_H
#define ODAC_LEARNER_CORE_H
#include <stddef.h>
#include <stdint.h>
#include "env.h"
#include "nn.h"

#define LEARNER_MAX_HIDDEN (NN_MAX_LAYERS - 1)

/* The variants of ODAC.md's table. */
typedef enum {
    LEARNER_ODAC = 0,           /* learned p_psi, computed gamma_q */
    LEARNER_FIXED_MODEL = 1,    /* fixed N(g; phi(s), I), computed gamma_q */
    LEARNER_FIXED_DISCOUNT = 2, /* learned p_psi, gamma_q = gamma */
    LEARNER_BOTH_FIXED = 3,     /* fixed model, gamma_q = gamma */
    LEARNER_HER_SPARSE = 4,     /* r = -1[||phi(s') - g|| > eps], y = c r + gamma V' */
    LEARNER_HER_DISTANCE = 5,   /* r = -||phi(s') - g||, y = c r + gamma V' */
    LEARNER_N_VARIANTS
} learner_variant_t;

/* Static description of a learner (immutable once the learner exists). */
typedef struct {
    learner_variant_t variant;
    int obs_dim, goal_dim, action_dim;
    int batch_size; /* largest batch an update takes (rows); default 256 */
    int policy_hidden[LEARNER_MAX_HIDDEN], n_policy_hidden; /* default [64, 64] */
    int critic_hidden[LEARNER_MAX_HIDDEN], n_critic_hidden; /* default [64, 64] */
    int model_hidden[LEARNER_MAX_HIDDEN], n_model_hidden;   /* default [64, 64] */
    float gamma;                 /* prior probability of not terminating; 0.99 */
    float tau;                   /* Polyak rate of the target critics, every update; 1e-3 */
    float lr_policy;             /* Adam learning rates: 1e-3 */
    float lr_critic;             /* 1e-3 */
    float lr_alpha;              /* 1e-3 */
    float lr_model;              /* 1e-2 (reference code) */
    int reward_scale_auto;       /* 0: c = reward_scale; 1: c = reward_scale_k / EMA(max |r|)
                                  * for the model variants (HER variants keep reward_scale) */
    float reward_scale;          /* constant c; default 1 */
    float reward_scale_k;        /* k of the auto scale (reference code: 1, 10, 100) */
    float reward_scale_momentum; /* EMA momentum of max |r|; 0.999 */
    int clamp_discount;   /* 1: gamma_q = min(gamma_q, gamma) ("upper-bound discount by prior") */
    int time_kl_sign;     /* -1: y = ... - KL (derivation, default); +1: + KL (reference code) */
    int fixed_alpha;      /* 1: alpha stays at alpha_init; 0: tuned to target_entropy */
    float alpha_init;     /* initial (or fixed) alpha; 1 */
    float target_entropy; /* NAN: -action_dim */
    int model_state_log_std; /* 1: the model's log-std is a second head (state-dependent) */
    /* Bounds of the model's log-std, applied smoothly: log_std = min + (max - min) (tanh(raw) +
     * 1) / 2, so the gradient never vanishes at a bound (a hard clamp stuck there). */
    float model_log_std_min, model_log_std_max; /* default [-2, 2] */
    /* 0: the outcome model is a diagonal Gaussian (the paper's); 1: a diagonal Laplace, its
     * log-scale in the same bounds: log p(g | s, a) falls linearly with each dim's error instead
     * of quadratically, so a goal far away does not dwarf the last metre's differences. The fixed
     * model of the ablations is then Laplace(g; phi(s), 1). */
    int model_laplace;
    float her_eps; /* success threshold of her-sparse, in goal units */
    /* 1: critic targets clipped to the values the rewards allow: her-sparse [-c / (1 - gamma), 0],
     * her-distance <= 0, the model variants <= c r_max (the model's largest density). */
    int clip_target;
    /* 1: networks see observations and goals standardised by their running mean and std over
     * the batches served (clipped to +-norm_clip); the outcome model's mean and the rewards stay
     * in raw goal units. */
    int normalize;
    float norm_clip; /* 5 */
    /* Exploration the actors are told in every weights message (not used by the update): the
     * probability of a uniformly random action per step, and the std of Gaussian noise added to
     * the policy's sampled action (then clipped to the action bounds). */
    float explore_random_eps, explore_action_noise;
    long long explore_random_steps; /* actors' uniformly random first env steps */
    /* Updates per env step the replay shards' rate limiters hold the run to: every sample
     * request carries updates_per_step x batch_size sampled transitions per inserted one, which
     * shards started without their own --samples-per-insert follow. 1: the paper's. */
    float updates_per_step;
    uint64_t seed;
    /* Threads of one update (the caller's included): each network pass and the optimizer steps
     * are split between them with every sum kept whole (nn_mlp_work_set_pool), so the weights
     * after any number of updates are bit for bit those of 1 thread. */
    int threads;
    /* The pool is started only when the widest hidden layer (policy, critics, model) has at least
     * this many units; narrower networks run on one thread whatever `threads` says. Default 256;
     * per env (learner_config_for_env) 0 where a local run's actor leaves the learner a second
     * core (box2d, window: measured there). 0: always. */
    int pool_min_width;
    /* How the pool's threads share an update: below this widest hidden layer, as two lanes, the
     * policy and the outcome model's passes and critic 1's on one thread, critic 2's on another,
     * every pass whole (few syncs: the way small networks gain); at or above it, every pass is
     * cut between all the threads. Measured at 2 threads (bench-learner, a 2-core Xeon VM):
     * box2d's 64,64 1.60-1.62x with lanes against 0.99x cut; ant's 400,300 1.61x with lanes
     * against 1.86x cut. 0: always cut; a large value: always lanes. */
    int lanes_below_width;
} learner_config_t;

/* Defaults of ODAC.md (dims 0: the caller must set obs_dim, goal_dim, action_dim). */
void learner_config_default(learner_config_t *cfg);
/* Defaults plus the authors' per-env settings of ODAC.md's table (hidden sizes; Ant's auto reward
 * scale x100 and discount clamp) for spec->name, with the dims of the spec and her_eps = its
 * success threshold (the process gets the spec from env_spec_lookup). 0, or -1 with a message for
 * an env name the table lacks. */
int learner_config_for_env(learner_config_t *cfg, const env_spec_t *spec, char *err, size_t errcap);
/* The widest hidden layer of the policy, the critics and the outcome model. */
int learner_config_widest_hidden(const learner_config_t *cfg);
/* 0 if usable, else -1 with a message naming the bad field. */
int learner_config_validate(const learner_config_t *cfg, char *err, size_t errcap);
/* "odac", "fixed-model", "fixed-discount", "both-fixed", "her-sparse", "her-distance". */
const char *learner_variant_name(learner_variant_t v);
/* 0 and *out on success, -1 with a message for an unknown name. */
int learner_variant_parse(const char *name, learner_variant_t *out, char *err, size_t errcap);
/* 1 for variants with a learned outcome model, a fixed one, any model (not HER); 1 for variants
 * whose discount is computed (gamma_q) rather than gamma. */
int learner_variant_learns_model(learner_variant_t v);
int learner_variant_uses_model(learner_variant_t v);
int learner_variant_dynamic_discount(learner_variant_t v);

/* One batch of B rows (borrowed for the duration of the call). Rewards are never given: the
 * learner computes them for whatever goal each row carries. */
typedef struct {
    int B;
    const float *obs;                /* (B, obs_dim) s */
    const float *actions;            /* (B, action_dim) a */
    const float *next_obs;           /* (B, obs_dim) s' */
    const float *achieved_goal;      /* (B, goal_dim) phi(s) */
    const float *next_achieved_goal; /* (B, goal_dim) phi(s') */
    const float *goals;              /* (B, goal_dim) g, possibly relabeled */
    const float *done;               /* (B) 1 for a true terminal, or NULL: none (timeouts are not
                                      * terminals) */
} learner_batch_t;

typedef struct learner learner_t;

/* Creates a learner (networks initialised from cfg->seed); NULL with a message on a bad config or
 * allocation failure. The config is copied. */
learner_t *learner_new(const learner_config_t *cfg, char *err, size_t errcap);
void learner_free(learner_t *L); /* accepts NULL */
const learner_config_t *learner_config(const learner_t *L);
/* Updates done so far (restored by learner_load). */
long long learner_updates(const learner_t *L);

/* One ODAC update (ODAC.md "One update"). Returns 0; or -1 with a message, the learner unchanged,
 * for a malformed batch (B outside [1, batch_size], NULL buffer, non-finite value) or when the
 * losses come out non-finite (divergence: the step is skipped). Allocates nothing. Runs with
 * denormals flushed to zero (nn_denormals_flush), the caller's mode restored on return. */
int learner_update(learner_t *L, const learner_batch_t *batch, char *err, size_t errcap);

/* ---- statistics: accumulated every update, summarised (and reset) on request ---- */
typedef struct {
    double mean, min, max;
} learner_stat_t;

typedef struct {
    long long updates; /* updates accumulated in this summary (0: all fields 0) */
    learner_stat_t critic_loss, policy_loss, alpha, entropy; /* entropy: -mean log pi(a~|s,g) */
    learner_stat_t model_nll, model_log_std; /* learned model only; mean log-std over dims/rows */
    learner_stat_t reward;                   /* r over rows (before the scale c) */
    learner_stat_t reward_scale;             /* c */
    learner_stat_t discount;                 /* gamma_q over rows */
    learner_stat_t q;                        /* Q_i(s, g, a) over rows and both critics */
    learner_stat_t target;                   /* y over rows */
} learner_summary_t;

/* Fills out with the statistics since the previous call, and starts a new accumulation. */
void learner_stats_summary(learner_t *L, learner_summary_t *out);

/* ---- policy weights, for publishing to actors (common/policy.h loads them) ---- */
/* The policy's parameter block (borrowed; changes with every update) and its length. */
const float *learner_policy_params(const learner_t *L, size_t *n_params);
/* Layer sizes of the policy MLP: sizes[0] = obs_dim + goal_dim (input is obs ++ goal), hidden
 * sizes, sizes[n] = 2 * action_dim (mean ++ raw log-std). sizes holds NN_MAX_LAYERS + 1 ints;
 * returns n, the number of linear layers. */
int learner_policy_layers(const learner_t *L, int *sizes);
/* Threads each update actually runs on: cfg.threads, or 1 where the networks are narrower than
 * cfg.pool_min_width, or 2 where they run as two lanes (cfg.lanes_below_width). */
int learner_threads_used(const learner_t *L);
/* 1 when those threads run the update as two lanes (cfg.lanes_below_width), 0 otherwise. */
int learner_lanes(const learner_t *L);

/* ---- input normalisation, frozen into weights messages ---- */
/* The mean and std (obs_dim, goal_dim; borrowed, change with every update) the networks' inputs
 * are standardised with, or NULL for both when cfg.normalize is 0. */
void learner_normalization(const learner_t *L, const float **obs_mean, const float **obs_std,
                           const float **goal_mean, const float **goal_std);

/* ---- checkpoint (common/ckpt_file.h: versioned, checksummed, written atomically) ---- */
/* Writes every network and target, Adam moments and steps, log-alpha, the reward normaliser, the
 * update counter and the rng state. 0, or -1 with a message (the previous file at path is kept). */
int learner_save(const learner_t *L, const char *path, char *err, size_t errcap);
/* Restores a checkpoint written by learner_save for the same config (variant, dims, hidden sizes;
 * hyperparameters such as learning rates may differ). 0; or -1 with a message, the learner
 * unchanged, for a missing, corrupt, truncated or mismatched file. */
int learner_load(learner_t *L, const char *path, char *err, size_t errcap);
/* The same with the caller's record (record_len bytes, e.g. the process's counters) in the same
 * file, so the learner's state and the record always come from one save. learner_load_with
 * refuses a file whose record is not exactly record_len bytes (record NULL: skips the record);
 * learner_save/learner_load are these with no record. */
int learner_save_with(const learner_t *L, const char *path, const void *record, size_t record_len,
                      char *err, size_t errcap);
int learner_load_with(learner_t *L, const char *path, void *record, size_t record_len, char *err,
                      size_t errcap);

/* ---- the pieces of an update, exposed for tests and tools ---- */

/* Optimal dynamic discount gamma_q = sigmoid(V' - c r + log(gamma / (1 - gamma))), clamped to
 * gamma when clamp is set (ODAC.md step 4); computed in double. */
double learner_dynamic_discount(double scaled_reward, double v_next, double gamma, int clamp);
/* The range of values a target can take given the rewards the variant allows, for the reward
 * scale c: her-sparse [-c / (1 - gamma), 0]; her-distance [-inf, 0]; the model variants
 * [-inf, c r_max] with r_max the largest log density of the model (-G (log_std_min + log(2 pi) / 2)
 * for the learned one, -G log(2 pi) / 2 for the fixed N(phi(s), I)). Entropy bonuses are not
 * counted: with alpha tuned to a target entropy of -|A| they are small and negative. */
void learner_target_bounds(const learner_config_t *cfg, double scale, double *lo, double *hi);
/* The smooth bound of the model's log-std: min + (max - min) (tanh(raw) + 1) / 2, and its raw
 * value for a given log-std (clipped inside the range). */
float learner_bounded_log_std(const learner_config_t *cfg, float raw);
float learner_raw_log_std(const learner_config_t *cfg, float log_std);
/* KL(Bern(p) || Bern(q)) with 0 log 0 = 0. */
double learner_bernoulli_kl(double p, double q);
/* Discounts (B) and targets (B) from rewards r (B), V' (B), done (B or NULL) and the scale c, by
 * cfg's variant, gamma, clamp and time_kl_sign (ODAC.md step 5 and the HER rows); with
 * cfg->clip_target, each target is clipped to learner_target_bounds. */
void learner_targets(const learner_config_t *cfg, int B, const float *reward, const float *v_next,
                     const float *done, float scale, float *discount, float *target);

typedef enum {
    LEARNER_NET_POLICY = 0,
    LEARNER_NET_Q1,
    LEARNER_NET_Q2,
    LEARNER_NET_Q1_TARGET,
    LEARNER_NET_Q2_TARGET,
    LEARNER_NET_MODEL, /* f_psi(s, a): input obs ++ action; output goal_dim (2 goal_dim with the
                        * state-dependent log-std) */
    LEARNER_N_NETS
} learner_net_id_t;

/* What learner_compute found on a batch (the losses are those the update descends). */
typedef struct {
    double critic_loss;  /* sum_i mean (Q_i - y)^2 */
    double policy_loss;  /* mean(alpha log pi - min_i Q_i) */
    double alpha_loss;   /* -mean(log_alpha (log pi + target_entropy)) */
    double model_loss;   /* -mean log p_psi(phi(s') | s, a) (learned model; else 0) */
    double reward_scale; /* c used for the targets */
    double reward_ema;   /* EMA of max |r| after this batch (auto scale) */
} learner_losses_t;

/* Everything one update computes, from the current state and the given noise, without changing
 * the learner's parameters or counters: rewards, V', discounts, targets and the four losses, and
 * the gradients into the learner's gradient buffers (learner_grad). noise_policy (B, A) draws
 * a~ ~ pi(.|s,g) and noise_next (B, A) draws a' ~ pi(.|s',g). 0 or -1 with a message. */
int learner_compute(learner_t *L, const learner_batch_t *batch, const float *noise_policy,
                    const float *noise_next, learner_losses_t *out, char *err, size_t errcap);
/* The network id (NULL when the variant has none, e.g. the model of the HER variants); its
 * parameters may be changed by tests. */
nn_mlp_t *learner_net(learner_t *L, learner_net_id_t id);
/* Gradient of the last learner_compute wrt the net's parameters (n_params floats; NULL for target
 * nets and absent nets). */
const float *learner_grad(const learner_t *L, learner_net_id_t id);
/* The model's global raw log-std vector (goal_dim; NULL without one; the log-std used is its
 * smooth bound, learner_bounded_log_std) and its gradient. */
float *learner_model_log_std(learner_t *L);
const float *learner_model_log_std_grad(const learner_t *L);
/* log alpha (settable for tests) and the gradient of the alpha loss wrt it. */
float learner_log_alpha(const learner_t *L);
void learner_set_log_alpha(learner_t *L, float log_alpha);
float learner_log_alpha_grad(const learner_t *L);
/* Per-row results of the last learner_compute (B of them): r, V', gamma_q, y. */
typedef struct {
    const float *reward, *v_next, *discount, *target;
} learner_rows_t;
void learner_last_rows(const learner_t *L, learner_rows_t *out);
/* GEMM floating point operations of one update on B rows (forward and backward products). */
double learner_update_flops(const learner_t *L, int B);

#endif
