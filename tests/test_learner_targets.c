/* test_learner_targets: the critic targets of every variant (ODAC.md steps 1-5, HER rows) against a
 * direct scalar computation in this file; the soft-max identity of the optimal discount and its
 * optimality over a grid; config defaults, validation messages and batch checks. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "learner_core.h"
#include "test_learner_ref.h"
#include "testutil.h"

/* ---- the closed form ---- */

static void test_softmax_identity(void) {
    const double gammas[] = {0.5, 0.9, 0.99, 0.999};
    const double crs[] = {-50.0, -3.0, -0.2, 0.0, 0.7, 4.0, 30.0};
    const double vs[] = {-80.0, -5.0, -0.5, 0.0, 1.5, 10.0, 60.0};
    learner_config_t cfg;
    learner_config_default(&cfg);
    cfg.variant = LEARNER_ODAC;
    cfg.time_kl_sign = -1;
    cfg.clamp_discount = 0;
    for (size_t gi = 0; gi < sizeof gammas / sizeof gammas[0]; gi++) {
        cfg.gamma = (float)gammas[gi];
        double gamma = cfg.gamma; /* the float the learner uses */
        for (size_t ri = 0; ri < sizeof crs / sizeof crs[0]; ri++) {
            for (size_t vi = 0; vi < sizeof vs / sizeof vs[0]; vi++) {
                /* reward r with scale c = 2: c r = crs[ri] */
                float r = (float)(crs[ri] / 2.0), v = (float)vs[vi], disc, y;
                learner_targets(&cfg, 1, &r, &v, NULL, 2.0f, &disc, &y);
                double cr = 2.0 * r;
                double want = ref_logaddexp(cr + log(1.0 - gamma), v + log(gamma));
                CU_ASSERT_DOUBLE_EQUAL(y, want, 1e-5 * (1.0 + fabs(want)));
                double q = 1.0 / (1.0 + exp(-(v - cr + log(gamma / (1.0 - gamma)))));
                CU_ASSERT_DOUBLE_EQUAL(disc, q, 1e-6);
                CU_ASSERT_DOUBLE_EQUAL(learner_dynamic_discount(cr, v, gamma, 0), q, 1e-12);
            }
        }
    }
}

/* (1 - q) c r - KL(Bern(q) || Bern(gamma)) + q V' */
static double objective(double q, double cr, double v, double gamma) {
    return (1.0 - q) * cr - ref_kl_bern(q, gamma) + q * v;
}

static void test_discount_maximises_objective(void) {
    const double cases[][3] = {{-2.0, -1.0, 0.99}, {0.5, -3.0, 0.99}, {-10.0, -12.0, 0.9},
                               {1.0, 1.0, 0.95},   {-0.3, 2.0, 0.8},  {-4.0, -8.5, 0.99}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        double cr = cases[k][0], v = cases[k][1], gamma = cases[k][2];
        double q_star = learner_dynamic_discount(cr, v, gamma, 0);
        const int N = 200000;
        double best = -INFINITY, q_best = 0.0;
        for (int i = 1; i < N; i++) {
            double q = (double)i / N;
            double j = objective(q, cr, v, gamma);
            if (j > best) best = j, q_best = q;
        }
        CU_ASSERT(objective(q_star, cr, v, gamma) >= best - 1e-12);
        CU_ASSERT_DOUBLE_EQUAL(q_star, q_best, 2.0 / N);
        /* Clamped: never above gamma, and equal to the unclamped value below it. */
        double qc = learner_dynamic_discount(cr, v, gamma, 1);
        CU_ASSERT(qc <= gamma);
        CU_ASSERT_DOUBLE_EQUAL(qc, fmin(q_star, gamma), 1e-15);
    }
    CU_ASSERT_DOUBLE_EQUAL(learner_bernoulli_kl(0.3, 0.3), 0.0, 1e-15);
    CU_ASSERT_DOUBLE_EQUAL(learner_bernoulli_kl(0.0, 0.99), -log(0.01), 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(learner_bernoulli_kl(1.0, 0.99), -log(0.99), 1e-12);
}

/* ---- targets of each variant on a hand-made batch ---- */

enum { O = 2, G = 2, A = 2, B = 5 };
/* Hand-made rows: s, a, s', phi(s) = s, phi(s') = s', g. Row 2's goal is phi(s') (a HER success),
 * row 3's is 0.3 away from it. */
static const float obs[B * O] = {0.1f, -0.2f, 1.0f, 0.5f, -0.7f, 0.3f, 0.0f, 0.0f, 2.0f, -1.0f};
static const float act[B * A] = {0.5f, -0.5f, -0.9f, 0.2f, 0.1f, 0.8f, 0.0f, 0.3f, -0.4f, -0.6f};
static const float nobs[B * O] = {0.2f,  -0.3f, 0.8f,  0.55f, -0.68f,
                                  0.46f, 0.0f,  0.06f, 1.92f, -1.12f};
static const float goals[B * G] = {1.0f,  1.0f, -2.0f, 0.5f, -0.68f,
                                   0.46f, 0.3f, 0.06f, 1.5f, -1.0f};
static const float done_rows[B] = {0, 0, 0, 1, 0};

static learner_config_t tiny_config(learner_variant_t v) {
    learner_config_t c;
    learner_config_default(&c);
    c.variant = v;
    c.obs_dim = O;
    c.goal_dim = G;
    c.action_dim = A;
    c.batch_size = 8;
    c.policy_hidden[0] = 6, c.n_policy_hidden = 1;
    c.critic_hidden[0] = 5, c.critic_hidden[1] = 4, c.n_critic_hidden = 2;
    c.model_hidden[0] = 7, c.n_model_hidden = 1;
    c.her_eps = 0.25f;
    c.seed = 11;
    return c;
}

/* The learner's targets for the hand-made batch vs the scalar computation; done_on uses done;
 * v_shift is added to the target critics' output bias (moves V'). */
static void check_variant_shift(learner_config_t cfg, int done_on, float v_shift) {
    char err[256];
    learner_t *L = learner_new(&cfg, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(L);
    learner_set_log_alpha(L, -1.3f);
    /* Move the target critics away from the critics, so using the wrong ones shows. */
    rng_t rng;
    rng_seed(&rng, 5, 0);
    for (int t = LEARNER_NET_Q1_TARGET; t <= LEARNER_NET_Q2_TARGET; t++) {
        nn_mlp_t *m = learner_net(L, (learner_net_id_t)t);
        for (size_t i = 0; i < m->n_params; i++) m->params[i] += 0.3f * (rng_uniform(&rng) - 0.5f);
        m->b[m->n_layers - 1][0] += v_shift;
    }
    float *log_std = learner_model_log_std(L);
    /* Raw values: the second lies far past the bound, where the smooth bound saturates. */
    if (log_std) log_std[0] = 0.4f, log_std[1] = -2.6f;
    float noise_pi[B * A], noise_next[B * A];
    for (int i = 0; i < B * A; i++) {
        noise_pi[i] = rng_normal(&rng);
        noise_next[i] = rng_normal(&rng);
    }
    learner_batch_t b = {B, obs, act, nobs, obs, nobs, goals, done_on ? done_rows : NULL};
    learner_losses_t losses;
    CU_ASSERT_EQUAL_FATAL(learner_compute(L, &b, noise_pi, noise_next, &losses, err, sizeof err),
                          0);
    learner_rows_t rows;
    learner_last_rows(L, &rows);

    double alpha = exp(-1.3f), gamma = cfg.gamma;
    double r[B], v[B];
    for (int i = 0; i < B; i++) {
        const float *s = obs + i * O, *a = act + i * A, *s2 = nobs + i * O, *g = goals + i * G;
        double gd[G], s2d[G];
        for (int j = 0; j < G; j++) gd[j] = g[j], s2d[j] = s2[j];
        if (cfg.variant == LEARNER_ODAC || cfg.variant == LEARNER_FIXED_DISCOUNT) {
            /* log-std bounds [-2, 2]: -2 + 4 (tanh(raw) + 1) / 2 = 2 tanh(raw) */
            double in[O + A], f[G], mean[G], ls[G] = {2.0 * tanh(0.4), 2.0 * tanh(-2.6)};
            for (int j = 0; j < O; j++) in[j] = s[j];
            for (int j = 0; j < A; j++) in[O + j] = a[j];
            ref_mlp_net(learner_net(L, LEARNER_NET_MODEL), in, f);
            for (int j = 0; j < G; j++) mean[j] = s[j] + f[j];
            r[i] = ref_gauss_logpdf(gd, mean, ls, G);
        } else if (cfg.variant == LEARNER_FIXED_MODEL || cfg.variant == LEARNER_BOTH_FIXED) {
            double mean[G] = {s[0], s[1]}, ls[G] = {0.0, 0.0};
            r[i] = ref_gauss_logpdf(gd, mean, ls, G);
        } else {
            double d = hypot(s2d[0] - gd[0], s2d[1] - gd[1]);
            r[i] = cfg.variant == LEARNER_HER_SPARSE ? (d > cfg.her_eps ? -1.0 : 0.0) : -d;
        }
        double in[O + G + A], head[2 * A], an[A], q1, q2;
        for (int j = 0; j < O; j++) in[j] = s2[j];
        for (int j = 0; j < G; j++) in[O + j] = g[j];
        ref_mlp_net(learner_net(L, LEARNER_NET_POLICY), in, head);
        double lp = ref_tanh_gaussian(head, noise_next + i * A, A, an);
        for (int j = 0; j < A; j++) in[O + G + j] = an[j];
        ref_mlp_net(learner_net(L, LEARNER_NET_Q1_TARGET), in, &q1);
        ref_mlp_net(learner_net(L, LEARNER_NET_Q2_TARGET), in, &q2);
        v[i] = fmin(q1, q2) - alpha * lp;
    }
    double c = cfg.reward_scale;
    if (cfg.reward_scale_auto) {
        double m = 0.0;
        for (int i = 0; i < B; i++) m = fmax(m, fabs(r[i]));
        c = cfg.reward_scale_k / m; /* the first batch starts the EMA at max |r| */
    }
    CU_ASSERT_DOUBLE_EQUAL(losses.reward_scale, c, 1e-6 * c);
    int n_clamped = 0;
    for (int i = 0; i < B; i++) {
        double d = done_on ? done_rows[i] : 0.0, cr = c * r[i], gq, y;
        switch (cfg.variant) {
        case LEARNER_ODAC:
        case LEARNER_FIXED_MODEL:
            gq = 1.0 / (1.0 + exp(-(v[i] - cr + log(gamma / (1.0 - gamma)))));
            if (cfg.clamp_discount && gq > gamma) gq = gamma, n_clamped++;
            y = (1.0 - gq) * cr + cfg.time_kl_sign * ref_kl_bern(gq, gamma) + (1.0 - d) * gq * v[i];
            break;
        case LEARNER_FIXED_DISCOUNT:
        case LEARNER_BOTH_FIXED:
            gq = gamma;
            y = (1.0 - gamma) * cr + (1.0 - d) * gamma * v[i];
            break;
        default:
            gq = gamma;
            y = cr + (1.0 - d) * gamma * v[i];
        }
        CU_ASSERT_DOUBLE_EQUAL(rows.reward[i], r[i], 1e-4 * (1.0 + fabs(r[i])));
        CU_ASSERT_DOUBLE_EQUAL(rows.v_next[i], v[i], 1e-4 * (1.0 + fabs(v[i])));
        CU_ASSERT_DOUBLE_EQUAL(rows.discount[i], gq, 1e-5);
        CU_ASSERT_DOUBLE_EQUAL(rows.target[i], y, 1e-4 * (1.0 + fabs(y)));
    }
    if (cfg.variant == LEARNER_HER_SPARSE) { /* rows 2 (at the goal) and 3 (0.3 > eps away) */
        CU_ASSERT_EQUAL(rows.reward[2], 0.0f);
        CU_ASSERT_EQUAL(rows.reward[3], -1.0f);
    }
    if (cfg.clamp_discount) CU_ASSERT(n_clamped > 0 && n_clamped < B);
    learner_free(L);
}

static void check_variant(learner_config_t cfg, int done_on) {
    check_variant_shift(cfg, done_on, 0.0f);
}

static void test_targets_odac(void) {
    check_variant(tiny_config(LEARNER_ODAC), 0);
}
static void test_targets_odac_done(void) {
    check_variant(tiny_config(LEARNER_ODAC), 1);
}
static void test_targets_fixed_model(void) {
    check_variant(tiny_config(LEARNER_FIXED_MODEL), 0);
}
static void test_targets_fixed_discount(void) {
    check_variant(tiny_config(LEARNER_FIXED_DISCOUNT), 1);
}
static void test_targets_both_fixed(void) {
    check_variant(tiny_config(LEARNER_BOTH_FIXED), 0);
}
static void test_targets_her_sparse(void) {
    check_variant(tiny_config(LEARNER_HER_SPARSE), 1);
}
static void test_targets_her_distance(void) {
    check_variant(tiny_config(LEARNER_HER_DISTANCE), 0);
}

static void test_targets_options(void) {
    learner_config_t c = tiny_config(LEARNER_ODAC);
    c.time_kl_sign = +1; /* the reference code's sign */
    check_variant(c, 0);
    c = tiny_config(LEARNER_ODAC);
    c.clamp_discount = 1;
    /* V' about -50: rows whose c r is above V' + log(gamma / (1 - gamma)) keep their computed
     * discount, row 0 (r about -60) is clamped to gamma. */
    check_variant_shift(c, 0, -50.0f);
    c = tiny_config(LEARNER_ODAC);
    c.reward_scale_auto = 1;
    c.reward_scale_k = 10.0f;
    check_variant(c, 1);
    c = tiny_config(LEARNER_HER_DISTANCE);
    c.reward_scale = 3.0f;
    check_variant(c, 0);
}

/* The auto scale's EMA: m_1 = max|r_1|, m_2 = 0.999 m_1 + 0.001 max|r_2|, c = k / m. */
/* |r| of row i under the fixed model N(g; phi(s), I) (G = 2): |g - s|^2 / 2 + log(2 pi). */
static double fixed_model_abs_reward(int i) {
    double dx = goals[2 * i] - obs[2 * i], dy = goals[2 * i + 1] - obs[2 * i + 1];
    return fabs(-0.5 * (dx * dx + dy * dy) - log(2.0 * M_PI));
}

static void test_reward_scale_ema(void) {
    learner_config_t c = tiny_config(LEARNER_FIXED_MODEL);
    c.reward_scale_auto = 1;
    c.reward_scale_k = 100.0f;
    char err[256];
    learner_t *L = learner_new(&c, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(L);
    learner_batch_t b = {B, obs, act, nobs, obs, nobs, goals, NULL};
    double m1 = 0.0;
    for (int i = 0; i < B; i++) m1 = fmax(m1, fixed_model_abs_reward(i));
    CU_ASSERT_EQUAL_FATAL(learner_update(L, &b, err, sizeof err), 0);
    learner_batch_t b2 = b; /* second batch: rows 2.. only (a different max) */
    b2.B = 2;
    b2.obs += 2 * O, b2.actions += 2 * A, b2.next_obs += 2 * O, b2.achieved_goal += 2 * G;
    b2.next_achieved_goal += 2 * G, b2.goals += 2 * G;
    double m2 = 0.0;
    for (int i = 2; i < 4; i++) m2 = fmax(m2, fixed_model_abs_reward(i));
    float noise[B * A] = {0};
    learner_losses_t losses;
    CU_ASSERT_EQUAL_FATAL(learner_compute(L, &b2, noise, noise, &losses, err, sizeof err), 0);
    double m = 0.999 * m1 + 0.001 * m2;
    CU_ASSERT_DOUBLE_EQUAL(losses.reward_ema, m, 1e-5);
    CU_ASSERT_DOUBLE_EQUAL(losses.reward_scale, 100.0 / m, 1e-4);
    learner_free(L);
    /* The HER variants keep the constant scale (their rewards are in [-1, 0] or distances). */
    c = tiny_config(LEARNER_HER_DISTANCE);
    c.reward_scale_auto = 1;
    c.reward_scale_k = 100.0f;
    c.reward_scale = 2.0f;
    L = learner_new(&c, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(L);
    CU_ASSERT_EQUAL_FATAL(learner_compute(L, &b, noise, noise, &losses, err, sizeof err), 0);
    CU_ASSERT_DOUBLE_EQUAL(losses.reward_scale, 2.0, 1e-12);
    learner_free(L);
}

/* ---- config ---- */

static void expect_invalid(learner_config_t c, const char *field) {
    char err[256] = "";
    CU_ASSERT_EQUAL(learner_config_validate(&c, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, field));
    learner_t *L = learner_new(&c, err, sizeof err);
    CU_ASSERT_PTR_NULL(L);
    learner_free(L);
}

static void test_config(void) {
    learner_config_t c;
    learner_config_default(&c);
    CU_ASSERT_EQUAL(c.batch_size, 256);
    CU_ASSERT_DOUBLE_EQUAL(c.gamma, 0.99, 1e-7);
    CU_ASSERT_DOUBLE_EQUAL(c.tau, 1e-3, 1e-10);
    CU_ASSERT_DOUBLE_EQUAL(c.lr_policy, 1e-3, 1e-10);
    CU_ASSERT_DOUBLE_EQUAL(c.lr_critic, 1e-3, 1e-10);
    CU_ASSERT_DOUBLE_EQUAL(c.lr_alpha, 1e-3, 1e-10);
    CU_ASSERT_DOUBLE_EQUAL(c.lr_model, 1e-2, 1e-9);
    CU_ASSERT_EQUAL(c.time_kl_sign, -1);
    char err[256];
    CU_ASSERT_EQUAL(learner_config_validate(&c, err, sizeof err), -1); /* dims not set */
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "obs_dim"));

    env_spec_t ant = {
        .name = "ant", .obs_dim = 30, .goal_dim = 15, .action_dim = 8, .success_threshold = 0.7f};
    CU_ASSERT_EQUAL_FATAL(learner_config_for_env(&c, &ant, err, sizeof err), 0);
    CU_ASSERT_EQUAL(c.obs_dim, 30);
    CU_ASSERT_EQUAL(c.goal_dim, 15);
    CU_ASSERT_EQUAL(c.action_dim, 8);
    CU_ASSERT_EQUAL(c.n_policy_hidden, 2);
    CU_ASSERT_EQUAL(c.policy_hidden[0], 64); /* measured with the Laplace model: learner_config.c */
    CU_ASSERT_EQUAL(c.critic_hidden[1], 64);
    CU_ASSERT_EQUAL(c.model_hidden[0], 64);
    CU_ASSERT_EQUAL(c.model_laplace, 1); /* measured, learner_config.c */
    CU_ASSERT_EQUAL(c.reward_scale_auto, 1);
    CU_ASSERT_DOUBLE_EQUAL(c.reward_scale_k, 100.0, 0.0);
    CU_ASSERT_EQUAL(c.clamp_discount, 1);
    CU_ASSERT_DOUBLE_EQUAL(c.her_eps, 0.7, 1e-7);
    CU_ASSERT_DOUBLE_EQUAL(c.gamma, 0.99, 1e-7); /* the paper's: 0.95 not measured on ant */
    CU_ASSERT_DOUBLE_EQUAL(c.updates_per_step, 1.0, 0.0); /* the paper's */
    CU_ASSERT_EQUAL(learner_config_validate(&c, err, sizeof err), 0);
    env_spec_t box = {
        .name = "box2d", .obs_dim = 2, .goal_dim = 2, .action_dim = 2, .success_threshold = 0.5f};
    CU_ASSERT_EQUAL_FATAL(learner_config_for_env(&c, &box, err, sizeof err), 0);
    CU_ASSERT_EQUAL(c.policy_hidden[0], 64);
    CU_ASSERT_EQUAL(c.reward_scale_auto, 0);
    CU_ASSERT_EQUAL(c.clamp_discount, 1); /* project choice, learner_config.c */
    CU_ASSERT_DOUBLE_EQUAL(c.model_log_std_min, log(0.3), 1e-6); /* measured, learner_config.c */
    CU_ASSERT_DOUBLE_EQUAL(c.gamma, 0.95, 1e-7);                 /* measured, learner_config.c */
    env_spec_t fetch = {.name = "fetch-push",
                        .obs_dim = 25,
                        .goal_dim = 3,
                        .action_dim = 3,
                        .success_threshold = 0.05f};
    CU_ASSERT_EQUAL_FATAL(learner_config_for_env(&c, &fetch, err, sizeof err), 0);
    CU_ASSERT_EQUAL(c.clamp_discount, 0); /* window's settings, measured: learner_config.c */
    CU_ASSERT_DOUBLE_EQUAL(c.explore_random_eps, 0.3, 1e-7);
    CU_ASSERT_EQUAL(c.explore_random_steps, 20000);
    CU_ASSERT_DOUBLE_EQUAL(c.gamma, 0.95, 1e-7); /* measured, learner_config.c */
    /* window: the unclamped target (its clamped optimum is the hand-only plateau), c = 1, a std
     * floor of 0.05 and exploration (measured, learner_config.c) */
    env_spec_t window = {
        .name = "window", .obs_dim = 6, .goal_dim = 6, .action_dim = 3, .success_threshold = 0.05f};
    CU_ASSERT_EQUAL_FATAL(learner_config_for_env(&c, &window, err, sizeof err), 0);
    CU_ASSERT_EQUAL(c.clamp_discount, 0);
    CU_ASSERT_EQUAL(c.reward_scale_auto, 0);
    CU_ASSERT_DOUBLE_EQUAL(c.reward_scale, 1.0, 0.0);
    CU_ASSERT_DOUBLE_EQUAL(c.model_log_std_min, log(0.05), 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(c.explore_random_eps, 0.3, 1e-7);
    CU_ASSERT_DOUBLE_EQUAL(c.explore_action_noise, 0.2, 1e-7);
    CU_ASSERT_DOUBLE_EQUAL(c.gamma, 0.95, 1e-7);
    CU_ASSERT_DOUBLE_EQUAL(c.updates_per_step, 2.0, 0.0); /* measured, learner_config.c */
    CU_ASSERT_EQUAL(c.model_laplace, 0);                  /* the paper's Gaussian */
    CU_ASSERT_EQUAL(learner_config_validate(&c, err, sizeof err), 0);
    env_spec_t sawyer = {.name = "sawyer-push",
                         .obs_dim = 4,
                         .goal_dim = 4,
                         .action_dim = 2,
                         .success_threshold = 0.05f};
    CU_ASSERT_EQUAL_FATAL(learner_config_for_env(&c, &sawyer, err, sizeof err), 0);
    CU_ASSERT_EQUAL(c.clamp_discount, 0); /* window's settings, measured: learner_config.c */
    /* faucet: window's settings (measured, learner_config.c) */
    env_spec_t faucet = {
        .name = "faucet", .obs_dim = 6, .goal_dim = 6, .action_dim = 3, .success_threshold = 0.05f};
    CU_ASSERT_EQUAL_FATAL(learner_config_for_env(&c, &faucet, err, sizeof err), 0);
    CU_ASSERT_EQUAL(c.clamp_discount, 0);
    CU_ASSERT_EQUAL(c.reward_scale_auto, 0);
    CU_ASSERT_DOUBLE_EQUAL(c.model_log_std_min, log(0.05), 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(c.explore_random_eps, 0.3, 1e-7);
    CU_ASSERT_DOUBLE_EQUAL(c.explore_action_noise, 0.2, 1e-7);
    CU_ASSERT_DOUBLE_EQUAL(c.updates_per_step, 1.0, 0.0);
    env_spec_t bad = {.name = "pong", .obs_dim = 2, .goal_dim = 2, .action_dim = 2};
    CU_ASSERT_EQUAL(learner_config_for_env(&c, &bad, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "pong"));

    learner_config_t ok = tiny_config(LEARNER_ODAC), t;
    CU_ASSERT_EQUAL(learner_config_validate(&ok, err, sizeof err), 0);
    t = ok, t.gamma = 1.0f, expect_invalid(t, "gamma");
    t = ok, t.tau = 0.0f, expect_invalid(t, "tau");
    t = ok, t.batch_size = 0, expect_invalid(t, "batch_size");
    t = ok, t.goal_dim = -1, expect_invalid(t, "goal_dim");
    t = ok, t.lr_model = NAN, expect_invalid(t, "lr_model");
    t = ok, t.time_kl_sign = 0, expect_invalid(t, "time_kl_sign");
    t = ok, t.critic_hidden[1] = 0, expect_invalid(t, "critic_hidden");
    t = ok, t.n_model_hidden = LEARNER_MAX_HIDDEN + 1, expect_invalid(t, "model_hidden");
    t = ok, t.reward_scale = -1.0f, expect_invalid(t, "reward_scale");
    t = ok, t.variant = (learner_variant_t)17, expect_invalid(t, "variant");
    t = ok, t.her_eps = 0.0f, expect_invalid(t, "her_eps");
    t = ok, t.updates_per_step = 0.0f, expect_invalid(t, "updates_per_step");
    t = ok, t.updates_per_step = 65.0f, expect_invalid(t, "updates_per_step");
    t = ok, t.updates_per_step = NAN, expect_invalid(t, "updates_per_step");
    t = ok, t.model_laplace = 2, expect_invalid(t, "model_laplace");

    for (int v = 0; v < LEARNER_N_VARIANTS; v++) {
        learner_variant_t parsed;
        CU_ASSERT_EQUAL(learner_variant_parse(learner_variant_name((learner_variant_t)v), &parsed,
                                              err, sizeof err),
                        0);
        CU_ASSERT_EQUAL(parsed, v);
    }
    learner_variant_t parsed;
    CU_ASSERT_EQUAL(learner_variant_parse("sac", &parsed, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "sac"));
}

/* Malformed batches are refused and leave the learner as it was. */
static void test_bad_batch(void) {
    learner_config_t c = tiny_config(LEARNER_ODAC);
    char err[256];
    learner_t *L = learner_new(&c, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(L);
    size_t n;
    const float *p = learner_policy_params(L, &n);
    float before = p[3];
    float bad_obs[B * O];
    memcpy(bad_obs, obs, sizeof bad_obs);
    bad_obs[7] = NAN;
    learner_batch_t b = {B, bad_obs, act, nobs, obs, nobs, goals, NULL};
    CU_ASSERT_EQUAL(learner_update(L, &b, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "obs"));
    b.obs = obs;
    b.goals = NULL;
    CU_ASSERT_EQUAL(learner_update(L, &b, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "goals"));
    b.goals = goals;
    b.B = 9; /* above batch_size 8 */
    CU_ASSERT_EQUAL(learner_update(L, &b, err, sizeof err), -1);
    b.B = 0;
    CU_ASSERT_EQUAL(learner_update(L, &b, err, sizeof err), -1);
    CU_ASSERT_EQUAL(learner_updates(L), 0);
    CU_ASSERT_EQUAL(p[3], before);
    b.B = B;
    CU_ASSERT_EQUAL(learner_update(L, &b, err, sizeof err), 0);
    CU_ASSERT_EQUAL(learner_updates(L), 1);
    CU_ASSERT(p[3] != before);
    /* A diverged critic (infinite output): the step is refused, nothing moves. */
    before = p[3];
    nn_mlp_t *q1 = learner_net(L, LEARNER_NET_Q1);
    q1->b[q1->n_layers - 1][0] = INFINITY;
    CU_ASSERT_EQUAL(learner_update(L, &b, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "non-finite"));
    CU_ASSERT_EQUAL(learner_updates(L), 1);
    CU_ASSERT_EQUAL(p[3], before);
    learner_free(L);
}

/* Statistics: one update's summary matches its rows; a summary resets the accumulation. */
static void test_stats(void) {
    learner_config_t c = tiny_config(LEARNER_ODAC);
    char err[256];
    learner_t *L = learner_new(&c, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(L);
    learner_batch_t b = {B, obs, act, nobs, obs, nobs, goals, NULL};
    CU_ASSERT_EQUAL_FATAL(learner_update(L, &b, err, sizeof err), 0);
    learner_rows_t rows;
    learner_last_rows(L, &rows);
    double rs = 0, rmin = INFINITY, rmax = -INFINITY, ds = 0, ys = 0;
    for (int i = 0; i < B; i++) {
        rs += rows.reward[i], ys += rows.target[i], ds += rows.discount[i];
        rmin = fmin(rmin, rows.reward[i]), rmax = fmax(rmax, rows.reward[i]);
    }
    learner_summary_t s;
    learner_stats_summary(L, &s);
    CU_ASSERT_EQUAL(s.updates, 1);
    CU_ASSERT_DOUBLE_EQUAL(s.reward.mean, rs / B, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(s.reward.min, rmin, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(s.reward.max, rmax, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(s.target.mean, ys / B, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(s.discount.mean, ds / B, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(s.alpha.mean, 1.0, 1e-6); /* alpha_init, before its first step */
    CU_ASSERT_DOUBLE_EQUAL(s.reward_scale.mean, 1.0, 0.0);
    CU_ASSERT(s.model_nll.mean != 0.0);
    CU_ASSERT_DOUBLE_EQUAL(s.model_log_std.mean, 0.0, 1e-7); /* log-std starts at 0 */
    CU_ASSERT(s.critic_loss.min <= s.critic_loss.mean && s.critic_loss.mean <= s.critic_loss.max);
    for (int k = 0; k < 3; k++) CU_ASSERT_EQUAL_FATAL(learner_update(L, &b, err, sizeof err), 0);
    learner_stats_summary(L, &s);
    CU_ASSERT_EQUAL(s.updates, 3);
    CU_ASSERT(s.alpha.min < s.alpha.max); /* alpha moved */
    learner_stats_summary(L, &s);
    CU_ASSERT_EQUAL(s.updates, 0);
    CU_ASSERT_EQUAL(s.critic_loss.mean, 0.0);
    learner_free(L);
}

/* Regression (issue: her-sparse's critic diverged on fetch-push, q_mean +4,183 with every reward
 * in [-1, 0]): with clip_target, no target leaves the range the rewards allow, whatever V' the
 * target critics extrapolate to; without it the target follows V'. */
static void test_target_clip(void) {
    learner_config_t c;
    learner_config_default(&c);
    c.obs_dim = 2, c.goal_dim = 3, c.action_dim = 2;
    c.gamma = 0.98f;
    double gamma = c.gamma;
    const float v[4] = {4183.0f, 0.5f, -20.0f, -1e4f}; /* V' from a diverging critic */
    const float r_sparse[4] = {-1.0f, 0.0f, -1.0f, -1.0f};
    float disc[4], y[4];
    c.variant = LEARNER_HER_SPARSE;
    c.clip_target = 0;
    learner_targets(&c, 4, r_sparse, v, NULL, 1.0f, disc, y);
    CU_ASSERT(y[0] > 4000.0f); /* unclipped: the divergence feeds itself */
    c.clip_target = 1;
    learner_targets(&c, 4, r_sparse, v, NULL, 1.0f, disc, y);
    CU_ASSERT_EQUAL(y[0], 0.0f);
    CU_ASSERT_EQUAL(y[1], 0.0f);
    CU_ASSERT_DOUBLE_EQUAL(y[2], -1.0 + gamma * -20.0, 1e-4);
    CU_ASSERT_DOUBLE_EQUAL(y[3], -1.0 / (1.0 - gamma), 1e-3);
    /* scale c = 2: rewards in [-2, 0], values in [-2 / (1 - gamma), 0] */
    learner_targets(&c, 4, r_sparse, v, NULL, 2.0f, disc, y);
    CU_ASSERT_DOUBLE_EQUAL(y[3], -2.0 / (1.0 - gamma), 2e-3);

    c.variant = LEARNER_HER_DISTANCE;
    const float r_dist[4] = {-0.3f, -0.01f, -0.2f, -1.0f};
    learner_targets(&c, 4, r_dist, v, NULL, 1.0f, disc, y);
    CU_ASSERT_EQUAL(y[0], 0.0f);
    CU_ASSERT_DOUBLE_EQUAL(y[3], -1.0 + gamma * -1e4, 1e-1); /* no lower bound */

    /* ODAC with a learned model: r <= r_max = -G (log_std_min + log(2 pi) / 2). */
    c.variant = LEARNER_ODAC;
    c.model_log_std_min = logf(0.01f);
    double r_max = -3.0 * (log(0.01) + 0.5 * log(2.0 * M_PI));
    double lo, hi;
    learner_target_bounds(&c, 0.5, &lo, &hi);
    CU_ASSERT_DOUBLE_EQUAL(hi, 0.5 * r_max, 1e-5);
    CU_ASSERT(isinf(lo) && lo < 0);
    const float r_odac[4] = {10.0f, -50.0f, 3.0f, 0.0f};
    learner_targets(&c, 4, r_odac, v, NULL, 0.5f, disc, y);
    CU_ASSERT_DOUBLE_EQUAL(y[0], 0.5 * r_max, 1e-4);
    for (int i = 0; i < 4; i++) CU_ASSERT(y[i] <= 0.5 * r_max + 1e-4);
    c.variant = LEARNER_FIXED_MODEL; /* N(phi(s), I): r_max = -G log(2 pi) / 2 */
    learner_target_bounds(&c, 1.0, &lo, &hi);
    CU_ASSERT_DOUBLE_EQUAL(hi, -1.5 * log(2.0 * M_PI), 1e-9);
    /* The Laplace family peaks at 1 / 2b per dim: r_max = -G (log_scale_min + log 2). */
    c.model_laplace = 1;
    learner_target_bounds(&c, 1.0, &lo, &hi); /* fixed Laplace(phi(s), 1) */
    CU_ASSERT_DOUBLE_EQUAL(hi, -3.0 * log(2.0), 1e-9);
    c.variant = LEARNER_ODAC;
    learner_target_bounds(&c, 0.5, &lo, &hi);
    CU_ASSERT_DOUBLE_EQUAL(hi, 0.5 * -3.0 * (log(0.01) + log(2.0)), 1e-5);
    c.model_laplace = 0;

    /* The robot tasks clip by default, box2d keeps its measured setting. */
    env_spec_t fp = {.name = "fetch-push",
                     .obs_dim = 25,
                     .goal_dim = 3,
                     .action_dim = 3,
                     .success_threshold = 0.05f};
    char err[256];
    CU_ASSERT_EQUAL_FATAL(learner_config_for_env(&c, &fp, err, sizeof err), 0);
    CU_ASSERT_EQUAL(c.clip_target, 1);
    CU_ASSERT_EQUAL(c.normalize, 1);
    CU_ASSERT_DOUBLE_EQUAL(c.her_eps, 0.05, 1e-7);
}

int main(void) {
    const test_case_t cases[] = {
        {"targets are clipped to what the rewards allow", test_target_clip},
        {"soft-max identity of the optimal discount", test_softmax_identity},
        {"closed-form discount maximises the objective", test_discount_maximises_objective},
        {"targets: odac", test_targets_odac},
        {"targets: odac with terminals", test_targets_odac_done},
        {"targets: fixed-model", test_targets_fixed_model},
        {"targets: fixed-discount", test_targets_fixed_discount},
        {"targets: both-fixed", test_targets_both_fixed},
        {"targets: her-sparse", test_targets_her_sparse},
        {"targets: her-distance", test_targets_her_distance},
        {"targets: kl sign, clamp, auto scale, constant scale", test_targets_options},
        {"auto reward scale EMA", test_reward_scale_ema},
        {"config defaults, per-env table, validation", test_config},
        {"malformed batches are refused", test_bad_batch},
        {"statistics summary", test_stats},
        {NULL, NULL}};
    return test_run_suite("learner_targets", cases);
}
