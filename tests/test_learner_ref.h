/* test_learner_ref: independent scalar reference computations (in double) for the learner tests:
 * an MLP forward read straight from a parameter block, the tanh-Gaussian sample and log-density,
 * a diagonal Gaussian log-density, and random batches. Written from ODAC.md, not from the code
 * under test. */
#ifndef ODAC_TEST_LEARNER_REF_H
#define ODAC_TEST_LEARNER_REF_H
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "learner_core.h"
#include "rng.h"

#define REF_MAX_WIDTH 512

/* out[sizes[n_layers]] = MLP(in) with layer l's W (sizes[l] x sizes[l+1], row-major (in, out)) then
 * b, ReLU on hidden layers; params is the flat block. */
static inline void ref_mlp(const float *params, const int *sizes, int n_layers, const double *in,
                           double *out) {
    double a[REF_MAX_WIDTH], b[REF_MAX_WIDTH];
    memcpy(a, in, (size_t)sizes[0] * sizeof(double));
    const float *p = params;
    for (int l = 0; l < n_layers; l++) {
        int ni = sizes[l], no = sizes[l + 1];
        const float *W = p, *bias = p + (size_t)ni * no;
        for (int j = 0; j < no; j++) {
            double s = bias[j];
            for (int i = 0; i < ni; i++) s += a[i] * W[(size_t)i * no + j];
            b[j] = (l + 1 < n_layers && s < 0.0) ? 0.0 : s;
        }
        memcpy(a, b, (size_t)no * sizeof(double));
        p += (size_t)ni * no + no;
    }
    memcpy(out, a, (size_t)sizes[n_layers] * sizeof(double));
}

static inline void ref_mlp_net(const nn_mlp_t *m, const double *in, double *out) {
    ref_mlp(m->params, m->sizes, m->n_layers, in, out);
}

/* Sample a = tanh(mu + sigma eps) from head (2A) = [mu | raw log-std] and its log-probability
 * log N(u; mu, sigma) - sum log(1 - tanh(u)^2) (direct formula; fine for moderate u). */
static inline double ref_tanh_gaussian(const double *head, const float *eps, int A, double *a) {
    double lp = 0.0;
    for (int j = 0; j < A; j++) {
        double ls = head[A + j];
        if (ls < -20.0) ls = -20.0;
        if (ls > 2.0) ls = 2.0;
        double sd = exp(ls), u = head[j] + sd * eps[j];
        a[j] = tanh(u);
        lp += -0.5 * ((u - head[j]) / sd) * ((u - head[j]) / sd) - ls - 0.5 * log(2.0 * M_PI);
        lp -= log(1.0 - a[j] * a[j]);
    }
    return lp;
}

/* sum_j log N(x_j; mean_j, exp(log_std_j)). */
static inline double ref_gauss_logpdf(const double *x, const double *mean, const double *log_std,
                                      int D) {
    double s = 0.0;
    for (int j = 0; j < D; j++) {
        double z = (x[j] - mean[j]) / exp(log_std[j]);
        s += -0.5 * z * z - log_std[j] - 0.5 * log(2.0 * M_PI);
    }
    return s;
}

static inline double ref_logaddexp(double a, double b) {
    double m = a > b ? a : b;
    return m + log(exp(a - m) + exp(b - m));
}

static inline double ref_kl_bern(double p, double q) {
    double k = 0.0;
    if (p > 0) k += p * log(p / q);
    if (p < 1) k += (1 - p) * log((1 - p) / (1 - q));
    return k;
}

/* A batch of B random rows owning its buffers (values uniform in [-scale, scale]). */
typedef struct {
    learner_batch_t b;
    float *buf;
} ref_batch_t;

static inline void ref_batch_random(ref_batch_t *rb, const learner_config_t *c, int B, rng_t *rng,
                                    float scale) {
    int O = c->obs_dim, G = c->goal_dim, A = c->action_dim;
    size_t n = (size_t)B * (2 * O + A + 3 * G);
    rb->buf = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) rb->buf[i] = (2.0f * rng_uniform(rng) - 1.0f) * scale;
    float *p = rb->buf;
    memset(&rb->b, 0, sizeof rb->b);
    rb->b.B = B;
    rb->b.obs = p;
    p += (size_t)B * O;
    rb->b.actions = p;
    p += (size_t)B * A;
    rb->b.next_obs = p;
    p += (size_t)B * O;
    rb->b.achieved_goal = p;
    p += (size_t)B * G;
    rb->b.next_achieved_goal = p;
    p += (size_t)B * G;
    rb->b.goals = p;
}

static inline void ref_batch_free(ref_batch_t *rb) {
    free(rb->buf);
}

#endif
