/* learner_targets: the critic targets of ODAC.md steps 4-5 and of the HER baselines, from rewards
 * and next-state values. The one idea: with x = V' - c r + log(gamma / (1 - gamma)) the optimal
 * discount is sigmoid(x), and its logs are -softplus(-x) and -softplus(x), so the KL term stays
 * finite for any x; everything per row is done in double (B rows: negligible beside the GEMMs). */
#include "learner_core.h"
#include <math.h>

static double softplus(double x) {
    return fmax(x, 0.0) + log1p(exp(-fabs(x)));
}

double learner_dynamic_discount(double scaled_reward, double v_next, double gamma, int clamp) {
    double x = v_next - scaled_reward + log(gamma / (1.0 - gamma));
    double q = 1.0 / (1.0 + exp(-x));
    if (clamp && q > gamma) q = gamma;
    return q;
}

double learner_bernoulli_kl(double p, double q) {
    double kl = 0.0;
    if (p > 0.0) kl += p * log(p / q);
    if (p < 1.0) kl += (1.0 - p) * log((1.0 - p) / (1.0 - q));
    return kl;
}

/* Target of one row with the computed discount: (1 - gq) c r + sign KL(gq || gamma) + (1 - done)
 * gq V'. The KL uses log gq and log(1 - gq) from softplus (exact for the unclamped sigmoid). */
static double dynamic_target(double cr, double v_next, double done, double gamma, int clamp,
                             int kl_sign, double *discount) {
    double log_prior_odds = log(gamma / (1.0 - gamma));
    double x = v_next - cr + log_prior_odds;
    double gq, log_gq, log_1m_gq;
    if (clamp && x > log_prior_odds) { /* sigmoid(x) > gamma: clamped to the prior */
        gq = gamma;
        log_gq = log(gamma);
        log_1m_gq = log1p(-gamma);
    } else {
        gq = 1.0 / (1.0 + exp(-x));
        log_gq = -softplus(-x);
        log_1m_gq = -softplus(x);
    }
    double kl = gq * (log_gq - log(gamma)) + (1.0 - gq) * (log_1m_gq - log1p(-gamma));
    *discount = gq;
    return (1.0 - gq) * cr + kl_sign * kl + (1.0 - done) * gq * v_next;
}

void learner_target_bounds(const learner_config_t *cfg, double scale, double *lo, double *hi) {
    /* The model's largest log density per dim is -(log-std + peak): peak 1/2 log 2 pi for the
     * Gaussian, log 2 for the Laplace (its log-scale in the log-std's place). */
    double peak = cfg->model_laplace ? log(2.0) : 0.5 * log(2.0 * M_PI), G = cfg->goal_dim;
    *lo = -INFINITY;
    *hi = INFINITY;
    switch (cfg->variant) {
    case LEARNER_HER_SPARSE:
        *lo = -scale / (1.0 - cfg->gamma);
        *hi = 0.0;
        break;
    case LEARNER_HER_DISTANCE:
        *hi = 0.0;
        break;
    case LEARNER_ODAC:
    case LEARNER_FIXED_DISCOUNT:
        *hi = scale * -G * ((double)cfg->model_log_std_min + peak);
        break;
    default: /* the fixed N(phi(s), I) (or Laplace(phi(s), 1)) */
        *hi = scale * -G * peak;
        break;
    }
}

void learner_targets(const learner_config_t *cfg, int B, const float *reward, const float *v_next,
                     const float *done, float scale, float *discount, float *target) {
    double gamma = cfg->gamma, c = scale;
    double lo = -INFINITY, hi = INFINITY;
    if (cfg->clip_target) learner_target_bounds(cfg, c, &lo, &hi);
    for (int i = 0; i < B; i++) {
        double cr = c * (double)reward[i], v = v_next[i];
        double d = done ? (double)done[i] : 0.0;
        double gq, y;
        switch (cfg->variant) {
        case LEARNER_ODAC:
        case LEARNER_FIXED_MODEL:
            y = dynamic_target(cr, v, d, gamma, cfg->clamp_discount, cfg->time_kl_sign, &gq);
            break;
        case LEARNER_FIXED_DISCOUNT:
        case LEARNER_BOTH_FIXED: /* gamma_q = gamma: the KL term is 0 */
            gq = gamma;
            y = (1.0 - gamma) * cr + (1.0 - d) * gamma * v;
            break;
        default: /* HER: y = c r + gamma V' */
            gq = gamma;
            y = cr + (1.0 - d) * gamma * v;
            break;
        }
        discount[i] = (float)gq;
        target[i] = (float)(y < lo ? lo : (y > hi ? hi : y));
    }
}
