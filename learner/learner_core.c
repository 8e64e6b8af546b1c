/* learner_core: creation of the learner and one ODAC update (ODAC.md "One update").
 *
 * The one idea: every loss is computed from the parameters as they were before the update (as the
 * reference code does: all losses first, then the optimizer steps in the order alpha, policy, Q1,
 * Q2, model, then Polyak), so learner_compute is a pure function of the state, the batch and the
 * noise, and learner_update = draw noise + compute + step. Only the needed work is done: the
 * targets use inference passes (no activations kept, no gradients), the policy's gradient flows
 * through the critics with input gradients only (no critic parameter gradients), and all buffers
 * are carved from one block at creation, so an update allocates nothing. */
#include "learner_internal.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ALIGN_BYTES 64
#define RNG_STREAM_INIT 0x1ea4e401ULL
#define RNG_STREAM_NOISE 0x1ea4e402ULL

/* ---- one block for every buffer ---- */

typedef struct {
    char *base; /* NULL while measuring */
    size_t off;
} arena_t;

static void *carve_bytes(arena_t *a, size_t bytes) {
    bytes = ((bytes ? bytes : 1) + ALIGN_BYTES - 1) / ALIGN_BYTES * ALIGN_BYTES;
    void *p = a->base ? a->base + a->off : NULL;
    a->off += bytes;
    return p;
}

static float *carve(arena_t *a, size_t n) {
    return carve_bytes(a, n * sizeof(float));
}

/* Assigns (or, with a->base NULL, measures) every per-row buffer and gradient. */
static void layout(learner_t *L, arena_t *a) {
    const learner_config_t *c = &L->cfg;
    size_t B = (size_t)c->batch_size, O = (size_t)c->obs_dim, G = (size_t)c->goal_dim,
           A = (size_t)c->action_dim, M = (size_t)L->model_out;
    L->sg = carve(a, 2 * B * (O + G));
    L->sga = carve(a, 2 * B * (O + G + A));
    L->nsga = carve(a, B * (O + G + A));
    L->sa = carve(a, B * (O + A));
    L->norm_obs = carve(a, B * O);
    L->norm_next_obs = carve(a, B * O);
    L->norm_goals = carve(a, B * G);
    L->noise_policy = carve(a, B * A);
    L->noise_next = carve(a, B * A);
    L->head = carve(a, 2 * B * 2 * A);
    L->pi_action = carve(a, B * A);
    L->pi_u = carve(a, B * A);
    L->pi_logp = carve(a, B);
    L->next_action = carve(a, B * A);
    L->next_logp = carve(a, B);
    L->q1_data = carve(a, 2 * B);
    L->q2_data = carve(a, 2 * B);
    L->qbar1 = carve(a, B);
    L->qbar2 = carve(a, B);
    L->reward = carve(a, B);
    L->v_next = carve(a, B);
    L->discount = carve(a, B);
    L->target = carve(a, B);
    L->model_output = carve(a, B * M);
    L->model_mean = carve(a, B * G);
    L->model_log_std_rows = carve(a, B * G);
    L->zeros_goal = carve(a, G);
    L->log_std_bounded = carve(a, G);
    L->row_scratch = carve(a, B);
    L->d_q = carve(a, B);
    L->d_q2 = carve(a, B);
    L->d_q_pi = carve(a, B);
    L->d_sgpa = carve(a, B * (O + G + A));
    L->selected = carve_bytes(a, B * sizeof(int));
    L->d_action = carve(a, B * A);
    L->d_logp = carve(a, B);
    L->d_head = carve(a, B * 2 * A);
    L->d_model_mean = carve(a, B * G);
    L->d_model_output = carve(a, B * M);
    L->d_log_std_rows = carve(a, B * G);
    L->g_policy = carve(a, L->policy.n_params);
    L->g_q1 = carve(a, L->q1.n_params);
    L->g_q2 = carve(a, L->q2.n_params);
    L->g_model = carve(a, L->has_model ? L->model.n_params : 0);
    L->g_log_std = carve(a, G);
    L->model_log_std = carve(a, G);
}

static char *arena_block(learner_t *L) {
    return (char *)L->sg;
} /* first carved buffer */

/* ---- creation ---- */

learner_t *learner_new(const learner_config_t *cfg, char *err, size_t errcap) {
    if (learner_config_validate(cfg, err, errcap)) return NULL;
    learner_t *L = calloc(1, sizeof *L);
    if (!L) {
        snprintf(err, errcap, "learner: out of memory");
        return NULL;
    }
    L->cfg = *cfg;
    const learner_config_t *c = &L->cfg;
    int O = c->obs_dim, G = c->goal_dim, A = c->action_dim;
    L->has_model = learner_variant_learns_model(c->variant);
    L->model_out = c->model_state_log_std ? 2 * G : G;
    L->target_entropy = isnan(c->target_entropy) ? -(float)A : c->target_entropy;
    L->log_alpha = logf(c->alpha_init);

    rng_t init;
    rng_seed(&init, c->seed, RNG_STREAM_INIT);
    rng_seed(&L->rng, c->seed, RNG_STREAM_NOISE);
    int bad = 0;
    bad |= nn_mlp_init(&L->policy, O + G, c->policy_hidden, c->n_policy_hidden, 2 * A, &init);
    bad |= nn_mlp_init(&L->q1, O + G + A, c->critic_hidden, c->n_critic_hidden, 1, &init);
    bad |= nn_mlp_init(&L->q2, O + G + A, c->critic_hidden, c->n_critic_hidden, 1, &init);
    bad |= nn_mlp_init(&L->q1_target, O + G + A, c->critic_hidden, c->n_critic_hidden, 1, &init);
    bad |= nn_mlp_init(&L->q2_target, O + G + A, c->critic_hidden, c->n_critic_hidden, 1, &init);
    if (L->has_model)
        bad |=
            nn_mlp_init(&L->model, O + A, c->model_hidden, c->n_model_hidden, L->model_out, &init);
    if (bad) goto oom;
    memcpy(L->q1_target.params, L->q1.params, L->q1.n_params * sizeof(float));
    memcpy(L->q2_target.params, L->q2.params, L->q2.n_params * sizeof(float));

    bad |= nn_adam_init(&L->adam_policy, L->policy.n_params, c->lr_policy);
    bad |= nn_adam_init(&L->adam_q1, L->q1.n_params, c->lr_critic);
    bad |= nn_adam_init(&L->adam_q2, L->q2.n_params, c->lr_critic);
    bad |= nn_adam_init(&L->adam_alpha, 1, c->lr_alpha);
    if (L->has_model) {
        bad |= nn_adam_init(&L->adam_model, L->model.n_params, c->lr_model);
        bad |= nn_adam_init(&L->adam_log_std, (size_t)G, c->lr_model);
    }
    int B = c->batch_size;
    bad |= nn_mlp_work_init(&L->w_policy, &L->policy, 2 * B);
    bad |= nn_mlp_work_init(&L->w_q1, &L->q1, 2 * B);
    bad |= nn_mlp_work_init(&L->w_q2, &L->q2, 2 * B);
    bad |= nn_mlp_work_init(&L->w_infer_q, &L->q1, B);
    bad |= nn_mlp_work_init(&L->w_infer_q2, &L->q2, B);
    if (L->has_model) bad |= nn_mlp_work_init(&L->w_model, &L->model, B);
    int widest = learner_config_widest_hidden(c);
    if (!bad && c->threads > 1 && widest >= c->pool_min_width) {
        /* Two lanes need two threads: more would only spin. */
        L->lanes = widest < c->lanes_below_width;
        L->pool = nn_pool_new(L->lanes ? 2 : c->threads);
        if (!L->pool) {
            snprintf(err, errcap, "learner: cannot start %d threads", c->threads);
            learner_free(L);
            return NULL;
        }
        nn_mlp_work_t *works[] = {&L->w_policy,  &L->w_q1,       &L->w_q2,
                                  &L->w_infer_q, &L->w_infer_q2, &L->w_model};
        for (size_t i = 0; i < sizeof works / sizeof works[0]; i++)
            if (works[i]->max_batch && !L->lanes) bad |= nn_mlp_work_set_pool(works[i], L->pool);
    }
    L->obs_norm = normalizer_new(O, c->norm_clip, NORMALIZER_DEFAULT_EPS);
    L->goal_norm = normalizer_new(G, c->norm_clip, NORMALIZER_DEFAULT_EPS);
    if (!L->obs_norm || !L->goal_norm) goto oom;
    if (bad) goto oom;

    arena_t a = {NULL, 0};
    layout(L, &a);
    void *block = NULL;
    if (posix_memalign(&block, ALIGN_BYTES, a.off) != 0) goto oom;
    memset(block, 0, a.off);
    a.base = block;
    a.off = 0;
    layout(L, &a);
    /* The model's log-std starts at 0 (sigma = 1) or the nearest value its bounds allow;
     * zeros_goal stays 0. */
    for (int j = 0; j < G; j++) L->model_log_std[j] = learner_raw_log_std(c, 0.0f);
    learner_stats_reset(&L->stats);
    return L;
oom:
    snprintf(err, errcap, "learner: out of memory creating networks (%s)",
             learner_variant_name(c->variant));
    learner_free(L);
    return NULL;
}

void learner_free(learner_t *L) {
    if (!L) return;
    free(arena_block(L));
    normalizer_free(L->obs_norm);
    normalizer_free(L->goal_norm);
    nn_mlp_t *nets[] = {&L->policy, &L->q1, &L->q2, &L->q1_target, &L->q2_target, &L->model};
    for (size_t i = 0; i < sizeof nets / sizeof nets[0]; i++) nn_mlp_free(nets[i]);
    nn_adam_t *adams[] = {&L->adam_policy, &L->adam_q1,      &L->adam_q2,
                          &L->adam_model,  &L->adam_log_std, &L->adam_alpha};
    for (size_t i = 0; i < sizeof adams / sizeof adams[0]; i++) nn_adam_free(adams[i]);
    nn_mlp_work_t *works[] = {&L->w_policy, &L->w_q1,      &L->w_q2,
                              &L->w_model,  &L->w_infer_q, &L->w_infer_q2};
    for (size_t i = 0; i < sizeof works / sizeof works[0]; i++) nn_mlp_work_free(works[i]);
    nn_pool_free(L->pool);
    free(L);
}

const learner_config_t *learner_config(const learner_t *L) {
    return &L->cfg;
}
long long learner_updates(const learner_t *L) {
    return L->updates;
}

/* ---- batch checks and input packing ---- */

static int check_rows(const float *p, size_t n, const char *name, char *err, size_t errcap) {
    if (!p) {
        snprintf(err, errcap, "learner: batch %s is NULL", name);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(p[i])) {
            snprintf(err, errcap, "learner: batch %s[%zu] is not finite", name, i);
            return -1;
        }
    }
    return 0;
}

static int check_batch(const learner_t *L, const learner_batch_t *b, char *err, size_t errcap) {
    const learner_config_t *c = &L->cfg;
    if (!b || b->B < 1 || b->B > c->batch_size) {
        snprintf(err, errcap, "learner: batch of %d rows (1 to %d)", b ? b->B : 0, c->batch_size);
        return -1;
    }
    size_t B = (size_t)b->B;
    if (check_rows(b->obs, B * c->obs_dim, "obs", err, errcap) ||
        check_rows(b->actions, B * c->action_dim, "actions", err, errcap) ||
        check_rows(b->next_obs, B * c->obs_dim, "next_obs", err, errcap) ||
        check_rows(b->achieved_goal, B * c->goal_dim, "achieved_goal", err, errcap) ||
        check_rows(b->next_achieved_goal, B * c->goal_dim, "next_achieved_goal", err, errcap) ||
        check_rows(b->goals, B * c->goal_dim, "goals", err, errcap))
        return -1;
    if (b->done && check_rows(b->done, B, "done", err, errcap)) return -1;
    return 0;
}

/* dst row i = a row i ++ b row i (++ c row i when c is non-NULL). */
static void concat_rows(float *dst, int B, const float *a, int na, const float *b, int nb,
                        const float *c, int nc) {
    size_t w = (size_t)na + nb + (c ? nc : 0);
    for (int i = 0; i < B; i++) {
        float *d = dst + (size_t)i * w;
        memcpy(d, a + (size_t)i * na, (size_t)na * sizeof(float));
        memcpy(d + na, b + (size_t)i * nb, (size_t)nb * sizeof(float));
        if (c) memcpy(d + na + nb, c + (size_t)i * nc, (size_t)nc * sizeof(float));
    }
}

/* Overwrites the action columns of rows (B, O+G+A) with actions (B, A). */
static void set_action_cols(float *rows, int B, int OG, const float *actions, int A) {
    for (int i = 0; i < B; i++)
        memcpy(rows + (size_t)i * (OG + A) + OG, actions + (size_t)i * A,
               (size_t)A * sizeof(float));
}

/* ---- the outcome model's smooth log-std bound ---- */

float learner_bounded_log_std(const learner_config_t *cfg, float raw) {
    float lo = cfg->model_log_std_min, hi = cfg->model_log_std_max;
    return lo + (hi - lo) * 0.5f * (tanhf(raw) + 1.0f);
}

float learner_raw_log_std(const learner_config_t *cfg, float log_std) {
    float lo = cfg->model_log_std_min, hi = cfg->model_log_std_max;
    double x = 2.0 * ((double)log_std - lo) / ((double)hi - lo) - 1.0; /* tanh(raw) */
    x = x < -0.999 ? -0.999 : (x > 0.999 ? 0.999 : x);
    return (float)atanh(x);
}

/* d log_std / d raw of the bound: (max - min) / 2 * sech^2(raw), in double so it stays positive
 * far into the tails (1 - tanhf^2 rounds to 0 beyond |raw| ~ 9, which would make it stick). */
static inline float bound_slope(const learner_config_t *cfg, float raw) {
    double ch = cosh((double)raw);
    return (float)(0.5 * ((double)cfg->model_log_std_max - cfg->model_log_std_min) / (ch * ch));
}

/* The global raw log-std is kept within +-LOG_STD_RAW_MAX after each step: the bound there is
 * within 1e-5 of its range's end, and the gradient (sech^2 ~ 2.5e-5) still turns Adam around as
 * soon as the data asks for a wider or narrower model. */
#define LOG_STD_RAW_MAX 6.0f

/* ---- step 1: rewards (and the outcome model's forward pass and loss) ---- */

/* The outcome model's family (learner_core.h: model_laplace): Gaussian or Laplace, same strides. */
static void model_log_density(const learner_config_t *c, const float *x, const float *mean,
                              const float *log_std, int stride, int B, int G, float *out) {
    if (c->model_laplace)
        nn_laplace_log_density(x, mean, log_std, stride, B, G, out);
    else
        nn_gaussian_log_density(x, mean, log_std, stride, B, G, out);
}

static void model_log_density_backward(const learner_config_t *c, const float *x, const float *mean,
                                       const float *log_std, int stride, const float *dout, int B,
                                       int G, float *d_mean, float *d_log_std) {
    if (c->model_laplace)
        nn_laplace_log_density_backward(x, mean, log_std, stride, dout, B, G, d_mean, d_log_std);
    else
        nn_gaussian_log_density_backward(x, mean, log_std, stride, dout, B, G, d_mean, d_log_std);
}

/* Fills L->reward (B). For the learned model also runs its forward pass (kept for backward),
 * model_mean and the clamped log-std, and returns the model loss -mean log p(phi(s') | s, a). */
static double compute_rewards(learner_t *L, const learner_batch_t *b) {
    const learner_config_t *c = &L->cfg;
    int B = b->B, G = c->goal_dim;
    if (L->has_model) {
        int M = L->model_out;
        nn_mlp_forward(&L->model, &L->w_model, L->sa, B, L->model_output);
        for (int i = 0; i < B; i++)
            for (int j = 0; j < G; j++)
                L->model_mean[(size_t)i * G + j] =
                    b->achieved_goal[(size_t)i * G + j] + L->model_output[(size_t)i * M + j];
        const float *log_std;
        int stride;
        if (c->model_state_log_std) {
            for (int i = 0; i < B; i++)
                for (int j = 0; j < G; j++)
                    L->model_log_std_rows[(size_t)i * G + j] =
                        learner_bounded_log_std(c, L->model_output[(size_t)i * M + G + j]);
            log_std = L->model_log_std_rows;
            stride = G;
        } else {
            for (int j = 0; j < G; j++)
                L->log_std_bounded[j] = learner_bounded_log_std(c, L->model_log_std[j]);
            log_std = L->log_std_bounded;
            stride = 0;
        }
        model_log_density(c, b->goals, L->model_mean, log_std, stride, B, G, L->reward);
        model_log_density(c, b->next_achieved_goal, L->model_mean, log_std, stride, B, G,
                          L->row_scratch);
        double nll = 0.0;
        for (int i = 0; i < B; i++) nll -= L->row_scratch[i];
        return nll / B;
    }
    if (learner_variant_uses_model(c->variant)) { /* fixed N(g; phi(s), I) or Laplace */
        model_log_density(c, b->goals, b->achieved_goal, L->zeros_goal, 0, B, G, L->reward);
        return 0.0;
    }
    for (int i = 0; i < B; i++) { /* HER: distance between phi(s') and g */
        double d2 = 0.0;
        for (int j = 0; j < G; j++) {
            double d =
                (double)b->next_achieved_goal[(size_t)i * G + j] - b->goals[(size_t)i * G + j];
            d2 += d * d;
        }
        double d = sqrt(d2);
        L->reward[i] =
            c->variant == LEARNER_HER_SPARSE ? (d > c->her_eps ? -1.0f : 0.0f) : (float)-d;
    }
    return 0.0;
}

/* Gradient of the model loss into g_model (and g_log_std), from compute_rewards' forward pass. */
static void model_backward(learner_t *L, const learner_batch_t *b) {
    const learner_config_t *c = &L->cfg;
    int B = b->B, G = c->goal_dim, M = L->model_out;
    for (int i = 0; i < B; i++) L->row_scratch[i] = -1.0f / (float)B; /* d loss / d log p rows */
    memset(L->g_log_std, 0, (size_t)G * sizeof(float));
    const float *dout;
    if (c->model_state_log_std) {
        memset(L->d_log_std_rows, 0, (size_t)B * G * sizeof(float));
        model_log_density_backward(c, b->next_achieved_goal, L->model_mean, L->model_log_std_rows,
                                   G, L->row_scratch, B, G, L->d_model_mean, L->d_log_std_rows);
        for (int i = 0; i < B; i++) {
            for (int j = 0; j < G; j++) {
                float raw = L->model_output[(size_t)i * M + G + j];
                L->d_model_output[(size_t)i * M + j] = L->d_model_mean[(size_t)i * G + j];
                L->d_model_output[(size_t)i * M + G + j] =
                    L->d_log_std_rows[(size_t)i * G + j] * bound_slope(c, raw);
            }
        }
        dout = L->d_model_output;
    } else {
        model_log_density_backward(c, b->next_achieved_goal, L->model_mean, L->log_std_bounded, 0,
                                   L->row_scratch, B, G, L->d_model_mean, L->g_log_std);
        for (int j = 0; j < G; j++) L->g_log_std[j] *= bound_slope(c, L->model_log_std[j]);
        dout = L->d_model_mean; /* mean = phi(s) + f: d f = d mean */
    }
    nn_mlp_backward_set(&L->model, &L->w_model, dout, B, L->g_model, NULL);
}

/* ---- one update's computation ---- */

/* Moves the rows listed in rows (n, increasing) of each activation of w, counted from row
 * `first`, to rows first, first + 1, ... (in place: row k moves to first + k <= its own index). */
static void compact_rows(const nn_mlp_t *m, nn_mlp_work_t *w, int first, const int *rows, int n) {
    for (int l = 0; l <= m->n_layers; l++) {
        size_t width = (size_t)m->sizes[l];
        float *base = w->act[l] + (size_t)first * width;
        for (int k = 0; k < n; k++)
            if (rows[k] != k)
                memcpy(base + (size_t)k * width, base + (size_t)rows[k] * width,
                       width * sizeof(float));
    }
}

/* A view of w whose activations start at row `first` (for a backward over those rows). */
static nn_mlp_work_t work_from_row(const nn_mlp_t *m, const nn_mlp_work_t *w, int first) {
    nn_mlp_work_t v = *w;
    for (int l = 0; l <= m->n_layers; l++) v.act[l] = w->act[l] + (size_t)first * m->sizes[l];
    return v;
}

/* ---- what an update records and steps ---- */

static void record_stats(learner_t *L, const learner_losses_t *res, int B) {
    learner_stats_t *s = &L->stats;
    const learner_config_t *c = &L->cfg;
    s->updates++;
    learner_acc_add(&s->critic_loss, res->critic_loss);
    learner_acc_add(&s->policy_loss, res->policy_loss);
    learner_acc_add(&s->alpha, exp((double)L->log_alpha));
    double logp = 0.0;
    for (int i = 0; i < B; i++) logp += L->pi_logp[i];
    learner_acc_add(&s->entropy, -logp / B);
    if (L->has_model) {
        learner_acc_add(&s->model_nll, res->model_loss);
        double ls = 0.0;
        int G = c->goal_dim;
        if (c->model_state_log_std) {
            for (size_t i = 0; i < (size_t)B * G; i++) ls += L->model_log_std_rows[i];
            ls /= (double)B * G;
        } else {
            for (int j = 0; j < G; j++) ls += L->log_std_bounded[j];
            ls /= G;
        }
        learner_acc_add(&s->model_log_std, ls);
    }
    learner_acc_add(&s->reward_scale, res->reward_scale);
    for (int i = 0; i < B; i++) {
        learner_acc_add(&s->reward, L->reward[i]);
        learner_acc_add(&s->discount, L->discount[i]);
        learner_acc_add(&s->q, L->q1_data[i]);
        learner_acc_add(&s->q, L->q2_data[i]);
        learner_acc_add(&s->target, L->target[i]);
    }
}

/* The optimizer's step of network k (0 policy, 1 Q1, 2 Q2, 3 model) on its parameters [lo, hi):
 * Adam, then (critics) Polyak, so each element's updates run in order on one thread. Bounds
 * other than n_params are multiples of 16, as nn_adam_step_range wants. */
static void step_net(learner_t *L, int k, int lo, int hi) {
    nn_mlp_t *nets[4] = {&L->policy, &L->q1, &L->q2, &L->model};
    nn_mlp_t *targets[4] = {NULL, &L->q1_target, &L->q2_target, NULL};
    nn_adam_t *adams[4] = {&L->adam_policy, &L->adam_q1, &L->adam_q2, &L->adam_model};
    float *grads[4] = {L->g_policy, L->g_q1, L->g_q2, L->g_model};
    nn_adam_step_range(adams[k], nets[k]->params, grads[k], lo, hi);
    if (targets[k])
        nn_polyak(targets[k]->params + lo, nets[k]->params + lo, (size_t)(hi - lo), L->cfg.tau);
}

static int n_params_of(const learner_t *L, int k) {
    const nn_mlp_t *nets[4] = {&L->policy, &L->q1, &L->q2, L->has_model ? &L->model : NULL};
    return nets[k] ? (int)nets[k]->n_params : 0;
}

/* Without lanes the optimizer steps in chunks claimed by the pool's threads, a chunk being one
 * block of one network's parameters (step_net). */
static void step_job(void *ctx, int tid, int nthreads) {
    (void)tid;
    learner_t *L = ctx;
    int size[4], count[4], total = 0;
    for (int k = 0; k < 4; k++) {
        int n = n_params_of(L, k);
        size[k] = nn_chunk_size(n, 16, nthreads);
        count[k] = n > 0 ? (n + size[k] - 1) / size[k] : 0;
        total += count[k];
    }
    for (int i; (i = nn_claim(&L->step_next, total)) >= 0;) {
        int k = 0;
        while (i >= count[k]) i -= count[k++];
        int n = n_params_of(L, k), lo = i * size[k];
        step_net(L, k, lo, lo + size[k] < n ? lo + size[k] : n);
    }
}

/* What an update keeps of a batch once its losses are known to be finite: the batch enters the
 * statistics the next update standardises with (cfg.normalize), and the stats accumulate. */
static void record_batch(learner_t *L, const learner_batch_t *b, const learner_losses_t *res) {
    if (L->cfg.normalize) {
        normalizer_update(L->obs_norm, b->obs, b->B);
        normalizer_update(L->goal_norm, b->goals, b->B);
    }
    record_stats(L, res, b->B); /* alpha as used by this update's losses */
}

/* ---- one update's computation, in stages ----
 * The update's passes form two chains that meet three times: the policy's (its forward, later its
 * backward) and the outcome model's (forward, later backward) are independent of each other, and
 * the twin critics' passes are two copies of one chain. So the stages below are written per lane:
 * lane 0 holds the policy and critic 1, lane 1 the model and critic 2, and in phase 3 lane 0
 * computes the targets and the critic loss, lane 1 the policy loss and its row selection. On one
 * thread the lanes run one after the other; with lanes on (learner_t.lanes) each runs whole on
 * its own pool thread with a barrier between phases, every pass whole on one thread, so the bits
 * are those of one thread. In an update (u.step) the lanes also step their own networks as soon
 * as those are done with, where phase 3 found every loss finite, and lane 1 records the batch:
 * the work the update does after its passes is then shared out too. */

typedef struct {
    learner_t *L;
    const learner_batch_t *b;
    const float *noise_policy, *noise_next;
    float *sg, *nsg, *sga, *sgpa, *head, *next_head; /* views into L's buffers (B rows each) */
    float alpha;
    int n_sel[2];
    learner_losses_t res;
    int step;    /* lanes step the networks and record the batch where the losses are finite */
    int stepped; /* they did */
    nn_barrier_t bar;
} update_t;

static int losses_finite(const learner_losses_t *r) {
    return isfinite(r->critic_loss) && isfinite(r->policy_loss) && isfinite(r->alpha_loss) &&
           isfinite(r->model_loss) && isfinite(r->reward_scale);
}

/* Phase 1, lane 0: a~ ~ pi(.|s,g) (reparameterised, kept for backward) and a' ~ pi(.|s',g) (for
 * the target; no gradient flows through its rows) from one policy pass over 2B rows; the critic
 * inputs (s', g, a') and (s, g, a~). */
static void policy_forward(update_t *u) {
    learner_t *L = u->L;
    const learner_config_t *c = &L->cfg;
    const int B = u->b->B, OG = c->obs_dim + c->goal_dim, A = c->action_dim;
    nn_mlp_forward(&L->policy, &L->w_policy, u->sg, 2 * B, u->head);
    nn_tanh_gaussian_forward(u->head, u->noise_policy, B, A, L->pi_action, L->pi_logp, L->pi_u);
    nn_tanh_gaussian_forward(u->next_head, u->noise_next, B, A, L->next_action, L->next_logp, NULL);
    concat_rows(L->nsga, B, u->nsg, OG, L->next_action, A, NULL, 0);
    memcpy(u->sgpa, u->sga, (size_t)B * (OG + A) * sizeof(float));
    set_action_cols(u->sgpa, B, OG, L->pi_action, A);
}

/* Phase 2, critics k0 .. k0 + n - 1: Qbar_k(s', g, a') (inference only) and one pass of Q_k over
 * (s, g, a) and (s, g, a~) rows, kept for backward. Two at once go side by side on the pool
 * (nn_mlp_infer2, nn_mlp_forward2). */
static void critic_forward(update_t *u, int k0, int n) {
    learner_t *L = u->L;
    int B = u->b->B;
    nn_mlp_t *qt[2] = {&L->q1_target, &L->q2_target}, *q[2] = {&L->q1, &L->q2};
    nn_mlp_work_t *wi[2] = {&L->w_infer_q, &L->w_infer_q2}, *w[2] = {&L->w_q1, &L->w_q2};
    float *qbar[2] = {L->qbar1, L->qbar2}, *qa[2] = {L->q1_data, L->q2_data};
    if (n == 1) {
        nn_mlp_infer(qt[k0], wi[k0], L->nsga, B, qbar[k0]);
        nn_mlp_forward(q[k0], w[k0], u->sga, 2 * B, qa[k0]);
        return;
    }
    const float *const next[2] = {L->nsga, L->nsga}, *const in[2] = {u->sga, u->sga};
    const int rows[2] = {B, B}, rows2[2] = {2 * B, 2 * B};
    nn_mlp_infer2((const nn_mlp_t *const *)qt, wi, next, rows, qbar);
    nn_mlp_forward2((const nn_mlp_t *const *)q, w, in, rows2, qa);
}

/* Phase 3, lane 0: V', the reward scale, the targets, the critic loss and its output gradients. */
static void critic_loss(update_t *u) {
    learner_t *L = u->L;
    const learner_config_t *c = &L->cfg;
    const int B = u->b->B;
    learner_losses_t *res = &u->res;
    for (int i = 0; i < B; i++)
        L->v_next[i] = fminf(L->qbar1[i], L->qbar2[i]) - u->alpha * L->next_logp[i];

    /* Reward scale c (auto: k / EMA of max |r|; the first batch starts the EMA). */
    double max_abs = 0.0;
    for (int i = 0; i < B; i++) max_abs = fmax(max_abs, fabs((double)L->reward[i]));
    double mom = c->reward_scale_momentum;
    res->reward_ema = L->reward_ema_init ? mom * L->reward_ema + (1.0 - mom) * max_abs : max_abs;
    /* The auto scale is ODAC's (its log densities span orders of magnitude); the HER rewards are
     * already in [-1, 0] or distances and keep the constant scale. */
    int auto_scale = c->reward_scale_auto && learner_variant_uses_model(c->variant);
    res->reward_scale =
        auto_scale ? c->reward_scale_k / fmax(res->reward_ema, 1e-6) : (double)c->reward_scale;

    /* Discounts and targets (no gradient through them). */
    learner_targets(c, B, L->reward, L->v_next, u->b->done, (float)res->reward_scale, L->discount,
                    L->target);

    /* The critic loss sum_k mean (Q_k(s, g, a) - y)^2 over the first B rows of each pass. */
    float *const q_all[2] = {L->q1_data, L->q2_data};
    float *const d_q[2] = {L->d_q, L->d_q2};
    for (int k = 0; k < 2; k++) {
        double sq = 0.0;
        for (int i = 0; i < B; i++) {
            float diff = q_all[k][i] - L->target[i];
            sq += (double)diff * diff;
            d_q[k][i] = 2.0f * diff / (float)B;
        }
        res->critic_loss += sq / B;
    }
}

/* Phase 3, lane 1: the policy and alpha losses, the policy loss's output gradients, and which
 * critic gives each row's min Q(a~). */
static void policy_loss(update_t *u) {
    learner_t *L = u->L;
    const learner_config_t *c = &L->cfg;
    const int B = u->b->B;
    learner_losses_t *res = &u->res;
    /* The policy loss mean(alpha log pi(a~) - min_k Q_k(s, g, a~)); Q_k(s, g, a~) sit in rows
     * B.. of each pass's output. The gradient reaches a~ through input gradients only, and each
     * row only through the critic that gives its min: selected lists Q1's rows, then Q2's. */
    const float *q1_pi = L->q1_data + B, *q2_pi = L->q2_data + B;
    double pl = 0.0, logp_sum = 0.0;
    for (int i = 0; i < B; i++) {
        pl += (double)u->alpha * L->pi_logp[i] - fminf(q1_pi[i], q2_pi[i]);
        logp_sum += L->pi_logp[i];
        L->d_logp[i] = u->alpha / (float)B;
        L->d_q_pi[i] = -1.0f / (float)B;
    }
    res->policy_loss = pl / B;
    u->n_sel[0] = u->n_sel[1] = 0;
    for (int i = 0; i < B; i++)
        if (!(q2_pi[i] < q1_pi[i])) L->selected[u->n_sel[0]++] = i; /* ties go to Q1 */
    for (int i = 0; i < B; i++)
        if (q2_pi[i] < q1_pi[i]) L->selected[u->n_sel[0] + u->n_sel[1]++] = i;

    /* Alpha loss -mean(log_alpha (log pi + target_entropy)), log pi detached. */
    double mean_logp = logp_sum / B;
    res->alpha_loss = -(double)L->log_alpha * (mean_logp + L->target_entropy);
    L->g_log_alpha = c->fixed_alpha ? 0.0f : (float)-(mean_logp + L->target_entropy);
}

/* Phase 4, critics k0 .. k0 + n - 1: each one's parameter gradients from the critic loss (first B
 * rows), then the input gradients of its selected a~ rows (compacted to follow row B; no
 * parameter gradients), which land in d_sgpa after those of the critics before it. */
static void critic_backward(update_t *u, int k0, int n) {
    learner_t *L = u->L;
    const learner_config_t *c = &L->cfg;
    int B = u->b->B, OGA = c->obs_dim + c->goal_dim + c->action_dim;
    nn_mlp_t *q[2] = {&L->q1, &L->q2};
    nn_mlp_work_t *w[2] = {&L->w_q1, &L->w_q2}, views[2];
    nn_mlp_work_t *const vp[2] = {&views[0], &views[1]};
    float *const g[2] = {L->g_q1, L->g_q2}, *const din[2] = {NULL, NULL},
                 *const d_in[2] = {L->d_sgpa, L->d_sgpa + (size_t)u->n_sel[0] * OGA};
    const float *const dq[2] = {L->d_q, L->d_q2}, *const dq_pi[2] = {L->d_q_pi, L->d_q_pi};
    const int rows[2] = {B, B}, first[2] = {0, u->n_sel[0]};
    if (n == 1) nn_mlp_backward_set(q[k0], w[k0], dq[k0], B, g[k0], NULL);
    if (n == 2) nn_mlp_backward2((const nn_mlp_t *const *)q, w, dq, rows, g, din);
    for (int k = k0; k < k0 + n; k++) {
        if (u->n_sel[k]) compact_rows(q[k], w[k], B, L->selected + first[k], u->n_sel[k]);
        views[k] = work_from_row(q[k], w[k], B);
        if (n == 1 && u->n_sel[k])
            nn_mlp_backward(q[k], &views[k], L->d_q_pi, u->n_sel[k], NULL, d_in[k]);
    }
    if (n == 2) nn_mlp_backward2((const nn_mlp_t *const *)q, vp, dq_pi, u->n_sel, NULL, d_in);
}

/* Phase 5, lane 0: the policy's gradient from d loss / d a~ (gathered back to batch order) and
 * d loss / d log pi, over the (s, g) rows. */
static void policy_backward(update_t *u) {
    learner_t *L = u->L;
    const learner_config_t *c = &L->cfg;
    int B = u->b->B, A = c->action_dim, OG = c->obs_dim + c->goal_dim;
    for (int r = 0; r < B; r++)
        memcpy(L->d_action + (size_t)L->selected[r] * A, L->d_sgpa + (size_t)r * (OG + A) + OG,
               (size_t)A * sizeof(float));
    nn_tanh_gaussian_backward(u->head, u->noise_policy, L->pi_u, L->d_action, L->d_logp, B, A,
                              L->d_head);
    nn_mlp_backward_set(&L->policy, &L->w_policy, L->d_head, B, L->g_policy, NULL);
}

/* Phase `phase` (1-5) of lane `lane`, or with lane -1 of both lanes on this thread (the critics
 * side by side on the pool where it splits passes). */
static void run_phase(update_t *u, int phase, int lane) {
    learner_t *L = u->L;
    int k0 = lane < 0 ? 0 : lane, n = lane < 0 ? 2 : 1;
    switch (phase) {
    case 1:
        if (lane <= 0) policy_forward(u);
        if (lane != 0) /* r = log p(g | s, a) (or the HER reward); the model's forward and loss */
            u->res.model_loss = compute_rewards(L, u->b);
        break;
    case 2:
        critic_forward(u, k0, n);
        break;
    case 3:
        if (lane <= 0) critic_loss(u);
        if (lane != 0) policy_loss(u);
        break;
    case 4:
        if (lane <= 0) u->stepped = u->step && L->lanes && losses_finite(&u->res);
        critic_backward(u, k0, n);
        if (lane >= 0 && u->step && losses_finite(&u->res)) /* lanes: step the critic now */
            step_net(L, 1 + lane, 0, n_params_of(L, 1 + lane));
        break;
    case 5:
        if (lane <= 0) policy_backward(u);
        if (lane != 0 && L->has_model) model_backward(L, u->b); /* max likelihood of phi(s') */
        if (lane >= 0 && u->step && losses_finite(&u->res)) {
            int k = lane == 0 ? 0 : 3;
            step_net(L, k, 0, n_params_of(L, k));
            if (lane == 1) record_batch(L, u->b, &u->res);
        }
        break;
    }
}

#define N_PHASES 5

/* Lanes on: pool threads 0 and 1 take a lane each, with a barrier after each phase but the
 * last; the other threads (if any) have nothing to do. */
static void lanes_job(void *ctx, int tid, int nthreads) {
    (void)nthreads;
    update_t *u = ctx;
    if (tid > 1) return;
    for (int phase = 1; phase <= N_PHASES; phase++) {
        run_phase(u, phase, tid);
        if (phase < N_PHASES) nn_barrier_wait(&u->bar);
    }
}

/* learner_compute on a batch already checked; with step, the lanes (if on) also step the
 * networks and record the batch where the losses are finite, and it returns 1 when they did. */
static int compute(learner_t *L, const learner_batch_t *b, const float *noise_policy,
                   const float *noise_next, int step, learner_losses_t *out) {
    const learner_config_t *c = &L->cfg;
    const int B = b->B, O = c->obs_dim, G = c->goal_dim, A = c->action_dim, OG = O + G,
              OGA = O + G + A;
    update_t u;
    memset(&u, 0, sizeof u);
    u.L = L;
    u.b = b;
    u.noise_policy = noise_policy;
    u.noise_next = noise_next;
    u.step = step;
    u.alpha = expf(L->log_alpha);
    L->last_B = B;

    /* Inputs. With B < batch_size the two halves of the 2B-row passes must be adjacent, so the
     * second half starts at row B (not at batch_size). */
    u.sg = L->sg, u.nsg = L->sg + (size_t)B * OG;
    u.sga = L->sga, u.sgpa = L->sga + (size_t)B * OGA;
    u.head = L->head, u.next_head = L->head + (size_t)B * 2 * A;
    /* What the networks see: s, s' and g standardised (cfg.normalize) or raw. The model's mean
     * phi(s) + f and the rewards use the raw goals of the batch. */
    const float *obs = b->obs, *next_obs = b->next_obs, *goals = b->goals;
    if (c->normalize) {
        const normalizer_t *no = L->obs_norm, *ng = L->goal_norm;
        normalizer_apply(no->mean, no->std, no->clip, O, b->obs, L->norm_obs, B);
        normalizer_apply(no->mean, no->std, no->clip, O, b->next_obs, L->norm_next_obs, B);
        normalizer_apply(ng->mean, ng->std, ng->clip, G, b->goals, L->norm_goals, B);
        obs = L->norm_obs, next_obs = L->norm_next_obs, goals = L->norm_goals;
    }
    concat_rows(u.sg, B, obs, O, goals, G, NULL, 0);
    concat_rows(u.nsg, B, next_obs, O, goals, G, NULL, 0);
    concat_rows(u.sga, B, obs, O, goals, G, b->actions, A);
    if (L->has_model) concat_rows(L->sa, B, obs, O, b->actions, A, NULL, 0);

    if (L->lanes) {
        nn_barrier_init(&u.bar, 2);
        nn_pool_run(L->pool, lanes_job, &u);
    } else {
        for (int phase = 1; phase <= N_PHASES; phase++) run_phase(&u, phase, -1);
    }
    *out = u.res;
    return u.stepped;
}

int learner_compute(learner_t *L, const learner_batch_t *b, const float *noise_policy,
                    const float *noise_next, learner_losses_t *out, char *err, size_t errcap) {
    if (check_batch(L, b, err, errcap)) return -1;
    if (!noise_policy || !noise_next) {
        snprintf(err, errcap, "learner: noise buffers are NULL");
        return -1;
    }
    learner_losses_t res;
    unsigned fp_mode = nn_denormals_flush(); /* nn.h; restored for the caller */
    compute(L, b, noise_policy, noise_next, 0, &res);
    nn_denormals_restore(fp_mode);
    if (out) *out = res;
    return 0;
}

/* ---- the update ---- */

static int update(learner_t *L, const learner_batch_t *b, char *err, size_t errcap) {
    const learner_config_t *c = &L->cfg;
    if (check_batch(L, b, err, errcap)) return -1;
    int B = b->B, A = c->action_dim;
    rng_t saved = L->rng;
    /* Noise for a~ ~ pi(.|s,g), then for a' ~ pi(.|s',g). */
    rng_normal_fill(&L->rng, L->noise_policy, B * A);
    rng_normal_fill(&L->rng, L->noise_next, B * A);
    learner_losses_t res;
    int stepped = compute(L, b, L->noise_policy, L->noise_next, 1, &res);
    if (!losses_finite(&res)) {
        L->rng = saved;
        snprintf(err, errcap,
                 "learner: non-finite loss at update %lld (critic %g, policy %g, alpha %g, model "
                 "%g, reward scale %g): step skipped",
                 L->updates, res.critic_loss, res.policy_loss, res.alpha_loss, res.model_loss,
                 res.reward_scale);
        return -1;
    }
    L->reward_ema = res.reward_ema;
    L->reward_ema_init = 1;
    if (!stepped) record_batch(L, b, &res);

    /* The reference code steps alpha, policy, Q1, Q2, model, then Polyak; each touches its own
     * parameters, so the blocks can be shared out between threads (step_job), or the lanes have
     * stepped their own. */
    if (!c->fixed_alpha) nn_adam_step(&L->adam_alpha, &L->log_alpha, &L->g_log_alpha);
    if (!stepped) {
        atomic_store(&L->step_next, 0);
        nn_pool_run(L->pool, step_job, L);
    }
    nn_adam_advance(&L->adam_policy);
    nn_adam_advance(&L->adam_q1);
    nn_adam_advance(&L->adam_q2);
    if (L->has_model) {
        nn_adam_advance(&L->adam_model);
        if (!c->model_state_log_std) {
            nn_adam_step(&L->adam_log_std, L->model_log_std, L->g_log_std);
            for (int j = 0; j < c->goal_dim; j++)
                L->model_log_std[j] =
                    fmaxf(-LOG_STD_RAW_MAX, fminf(LOG_STD_RAW_MAX, L->model_log_std[j]));
        }
    }
    L->updates++;
    return 0;
}

int learner_update(learner_t *L, const learner_batch_t *b, char *err, size_t errcap) {
    unsigned fp_mode = nn_denormals_flush(); /* nn.h; restored for the caller */
    int rc = update(L, b, err, errcap);
    nn_denormals_restore(fp_mode);
    return rc;
}

/* ---- accessors ---- */

void learner_normalization(const learner_t *L, const float **obs_mean, const float **obs_std,
                           const float **goal_mean, const float **goal_std) {
    int on = L->cfg.normalize;
    *obs_mean = on ? L->obs_norm->mean : NULL;
    *obs_std = on ? L->obs_norm->std : NULL;
    *goal_mean = on ? L->goal_norm->mean : NULL;
    *goal_std = on ? L->goal_norm->std : NULL;
}

const float *learner_policy_params(const learner_t *L, size_t *n_params) {
    if (n_params) *n_params = L->policy.n_params;
    return L->policy.params;
}

int learner_threads_used(const learner_t *L) {
    return nn_pool_threads(L->pool);
}

int learner_lanes(const learner_t *L) {
    return L->lanes;
}

int learner_policy_layers(const learner_t *L, int *sizes) {
    for (int l = 0; l <= L->policy.n_layers; l++) sizes[l] = L->policy.sizes[l];
    return L->policy.n_layers;
}

nn_mlp_t *learner_net(learner_t *L, learner_net_id_t id) {
    switch (id) {
    case LEARNER_NET_POLICY:
        return &L->policy;
    case LEARNER_NET_Q1:
        return &L->q1;
    case LEARNER_NET_Q2:
        return &L->q2;
    case LEARNER_NET_Q1_TARGET:
        return &L->q1_target;
    case LEARNER_NET_Q2_TARGET:
        return &L->q2_target;
    case LEARNER_NET_MODEL:
        return L->has_model ? &L->model : NULL;
    default:
        return NULL;
    }
}

const float *learner_grad(const learner_t *L, learner_net_id_t id) {
    switch (id) {
    case LEARNER_NET_POLICY:
        return L->g_policy;
    case LEARNER_NET_Q1:
        return L->g_q1;
    case LEARNER_NET_Q2:
        return L->g_q2;
    case LEARNER_NET_MODEL:
        return L->has_model ? L->g_model : NULL;
    default:
        return NULL;
    }
}

float *learner_model_log_std(learner_t *L) {
    return L->has_model && !L->cfg.model_state_log_std ? L->model_log_std : NULL;
}

const float *learner_model_log_std_grad(const learner_t *L) {
    return L->has_model && !L->cfg.model_state_log_std ? L->g_log_std : NULL;
}

float learner_log_alpha(const learner_t *L) {
    return L->log_alpha;
}
void learner_set_log_alpha(learner_t *L, float log_alpha) {
    L->log_alpha = log_alpha;
}
float learner_log_alpha_grad(const learner_t *L) {
    return L->g_log_alpha;
}

void learner_last_rows(const learner_t *L, learner_rows_t *out) {
    out->reward = L->reward;
    out->v_next = L->v_next;
    out->discount = L->discount;
    out->target = L->target;
}

/* 2 B in out of the first linear layer of m (the input-gradient product a backward skips when
 * din is not wanted). */
static double first_layer_flops(const nn_mlp_t *m, int B) {
    return 2.0 * B * m->sizes[0] * m->sizes[1];
}

double learner_update_flops(const learner_t *L, int B) {
    double fp = nn_mlp_flops_forward(&L->policy, B), fq = nn_mlp_flops_forward(&L->q1, B);
    /* policy: forward over (s, g) and (s', g) rows; backward with parameter gradients (no din)
     * over the (s, g) rows. */
    double f = 2.0 * fp + fp + (fp - first_layer_flops(&L->policy, B));
    /* critics: 2 target inferences; 2 forwards over 2B rows; 2 parameter backwards (no din) for
     * the critic loss; input-only backwards over B rows in all for the policy loss. */
    f += 2.0 * fq;
    f += 2.0 * (2.0 * fq);
    f += 2.0 * (fq + (fq - first_layer_flops(&L->q1, B)));
    f += fq;
    if (L->has_model) {
        double fm = nn_mlp_flops_forward(&L->model, B);
        f += fm + fm + (fm - first_layer_flops(&L->model, B));
    }
    return f;
}
