/* learner_internal: the learner's state, shared by the learner_*.c files of this module (not part
 * of the API: other modules use learner_core.h). */
#ifndef ODAC_LEARNER_INTERNAL_H
#define ODAC_LEARNER_INTERNAL_H
#include "learner_core.h"
#include "normalizer.h"
#include "rng.h"

/* Running sum/min/max of one statistic. */
typedef struct {
    double sum, min, max;
    long long n;
} learner_acc_t;

typedef struct {
    long long updates;
    learner_acc_t critic_loss, policy_loss, alpha, entropy, model_nll, model_log_std;
    learner_acc_t reward, reward_scale, discount, q, target;
} learner_stats_t;

struct learner {
    learner_config_t cfg;
    int has_model; /* learned outcome model (odac, fixed-discount) */
    int model_out; /* model's output width: G, or 2G with the state-dependent log-std */
    float target_entropy;

    /* Networks (each owns one contiguous parameter block) and their Adam states. */
    nn_mlp_t policy, q1, q2, q1_target, q2_target, model;
    nn_adam_t adam_policy, adam_q1, adam_q2, adam_model, adam_log_std, adam_alpha;
    float *model_log_std; /* (G) global raw log-std (learned model without a state-dependent
                           * head); the log-std used is learner_bounded_log_std of it */
    float log_alpha;

    /* Gradients (each n_params of its net). */
    float *g_policy, *g_q1, *g_q2, *g_model, *g_log_std;
    float g_log_alpha;

    /* Work buffers of the forward passes (activations kept for backward). */
    /* w_policy, w_q1, w_q2 hold 2 batch_size rows: one pass serves two row sets (below). */
    nn_mlp_work_t w_policy, w_q1, w_q2, w_model, w_infer_q, w_infer_q2;
    nn_pool_t *pool;      /* cfg.threads - 1 workers; NULL for one thread */
    int lanes;            /* the update's two lanes on two pool threads, passes whole (compute) */
    atomic_int step_next; /* step_job's claim counter, 0 before each run */

    /* Reward normaliser (auto scale): EMA of max |r|, 0 before the first batch. */
    double reward_ema;
    int reward_ema_init;

    /* Running mean/std of the observations and goals of the batches served (cfg.normalize). */
    normalizer_t *obs_norm, *goal_norm;

    long long updates;
    rng_t rng; /* policy noise */

    /* Per-row buffers, all sized for cfg.batch_size rows. */
    /* One policy pass covers 2B rows, (s, g) then (s', g); one pass of each critic covers 2B
     * rows, (s, g, a) then (s, g, a~): each block holds the first B rows then the second B. */
    float *sg;                         /* (2B, O+G): s ++ g, then s' ++ g */
    float *sga;                        /* (2B, O+G+A): s ++ g ++ a, then s ++ g ++ a~ */
    float *nsga;                       /* (B, O+G+A): s' ++ g ++ a' */
    float *sa;                         /* (B, O+A): s ++ a (model input) */
    float *norm_obs, *norm_next_obs;   /* (B, O) s, s' as the networks see them (normalize) */
    float *norm_goals;                 /* (B, G) g as the networks see it (normalize) */
    float *noise_policy, *noise_next;  /* (B, A) */
    float *head;                       /* (2B, 2A) policy outputs on (s, g), then on (s', g) */
    float *pi_action, *pi_u, *pi_logp; /* (B, A), (B, A), (B) a~ */
    float *next_action, *next_logp;    /* (B, A), (B) a' */
    float *q1_data, *q2_data;          /* (2B) Q_i(s, g, a), then Q_i(s, g, a~) */
    float *qbar1, *qbar2;              /* (B) Qbar_i(s', g, a') */
    float *reward, *v_next, *discount, *target; /* (B) */
    float *model_output;                        /* (B, model_out) */
    float *model_mean;                          /* (B, G) phi(s) + f(s, a) */
    float *model_log_std_rows; /* (B, G) bounded log-std per row (state-dependent head) */
    float *zeros_goal;         /* (G) zeros: log-std of the fixed N(phi(s), I) */
    float *log_std_bounded;    /* (G) the global log-std after its smooth bound */
    float *row_scratch;        /* (B) */
    float *d_q, *d_q2;         /* (B) d loss / d Q_1 and Q_2 */
    float *d_q_pi;             /* (B) d policy loss / d min_k Q_k(s, g, a~): -1 / B */
    float *d_sgpa;             /* (B, O+G+A) input gradients of Q_1 (its selected rows), then Q_2 */
    int *selected;             /* (B) the rows whose min_i Q_i(a~) is Q_1, then those of Q_2 */
    float *d_action, *d_logp;  /* (B, A), (B) */
    float *d_head;             /* (B, 2A) */
    float *d_model_mean;       /* (B, G) */
    float *d_model_output;     /* (B, model_out) */
    float *d_log_std_rows;     /* (B, G) */
    int last_B;                /* rows of the last learner_compute */

    learner_stats_t stats;
};

/* learner_stats.c */
void learner_acc_reset(learner_acc_t *a);
void learner_acc_add(learner_acc_t *a, double x);
void learner_stats_reset(learner_stats_t *s);

#endif
