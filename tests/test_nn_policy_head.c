/* test_nn_policy_head: the tanh-squashed Gaussian head against the direct formula
 * log N(u) - sum log(1 - tanh(u)^2) evaluated in double here, its backward against central finite
 * differences of that formula, and the diagonal Gaussian log-density and its backward likewise. */
#include "nn.h"
#include "testutil.h"
#include <math.h>
#include <stdio.h>
#include <string.h>

static int close_to(double a, double b, double atol, double rtol) {
    return fabs(a - b) <= atol + rtol * fabs(b);
}

static double clampd(double x, double lo, double hi) {
    return x < lo ? lo : (x > hi ? hi : x);
}

/* Direct formula in double for row i: u, action = tanh(u) and log_prob. With literal set the
 * correction is log(1 - tanh(u)^2) as written; otherwise the same quantity as -2 log cosh(u),
 * which keeps full precision at large |u| (1 - tanh^2 cancels there, and finite differences with
 * a small step would magnify that). */
static double ref_row(const double *head, const float *noise, int A, double *u, double *action,
                      int literal) {
    double lp = 0;
    for (int j = 0; j < A; j++) {
        double mean = head[j], ls = clampd(head[A + j], NN_LOG_STD_MIN, NN_LOG_STD_MAX);
        double std = exp(ls);
        double uj = mean + std * noise[j];
        double z = (uj - mean) / std;
        double t = tanh(uj);
        double log_jac = literal ? log(1 - t * t) : -2 * log(cosh(uj));
        lp += -0.5 * z * z - log(std) - 0.5 * log(2 * M_PI) - log_jac;
        if (u) u[j] = uj;
        if (action) action[j] = t;
    }
    return lp;
}

enum { B = 4, A = 3 };

/* Heads covering ordinary values, both clamps and a large |u| where 1 - tanh(u)^2 underflows in
 * float (the stable form must still be finite and right). */
static const float head[B * 2 * A] = {
    0.3f,  -0.7f, 1.1f,  -0.5f, 0.2f,  -1.3f, /* row 0 */
    -1.2f, 0.05f, 0.6f,  0.4f,  -2.0f, 1.5f,  /* row 1 */
    0.1f,  0.2f,  -0.3f, -25.f, 3.0f,  -0.8f, /* row 2: log_std clamped low and high */
    9.5f,  -8.0f, 0.0f,  -1.0f, 0.1f,  -3.0f, /* row 3: |u| about 9 */
};
static const float noise[B * A] = {
    0.5f, -1.2f, 0.3f, 1.7f, -0.4f, -0.9f, -0.6f, 0.8f, 1.1f, 0.2f, -0.3f, 0.7f,
};

static void test_forward_vs_direct(void) {
    float action[B * A], lp[B], u[B * A], mode[B * A];
    nn_tanh_gaussian_forward(head, noise, B, A, action, lp, u);
    for (int i = 0; i < B; i++) {
        double hd[2 * A], ud[A], ad[A];
        for (int k = 0; k < 2 * A; k++) hd[k] = head[i * 2 * A + k];
        double want = ref_row(hd, noise + i * A, A, ud, ad, 1);
        CU_ASSERT(isfinite(lp[i]));
        CU_ASSERT(close_to(lp[i], want, 2e-4, 1e-5));
        if (!close_to(lp[i], want, 2e-4, 1e-5)) printf("\n row %d: %g vs %g", i, lp[i], want);
        for (int j = 0; j < A; j++) {
            CU_ASSERT(close_to(u[i * A + j], ud[j], 1e-6, 1e-6));
            CU_ASSERT(close_to(action[i * A + j], ad[j], 1e-6, 1e-6));
        }
    }
    /* NULL outputs are skipped; the rest are unchanged. */
    float lp2[B];
    nn_tanh_gaussian_forward(head, noise, B, A, NULL, lp2, NULL);
    CU_ASSERT_EQUAL(memcmp(lp, lp2, sizeof lp), 0);
    nn_tanh_gaussian_mode(head, B, A, mode);
    for (int i = 0; i < B; i++)
        for (int j = 0; j < A; j++)
            CU_ASSERT(close_to(mode[i * A + j], tanh((double)head[i * 2 * A + j]), 1e-7, 1e-6));
}

/* loss = sum c_a * action + sum c_l * log_prob, as a function of the head with noise fixed. */
static double ref_loss(const double *hd, const float *c_a, const float *c_l) {
    double s = 0;
    for (int i = 0; i < B; i++) {
        double ad[A];
        double lp = ref_row(hd + i * 2 * A, noise + i * A, A, NULL, ad, 0);
        if (c_l) s += c_l[i] * lp;
        if (c_a)
            for (int j = 0; j < A; j++) s += c_a[i * A + j] * ad[j];
    }
    return s;
}

static void check_backward(const float *c_a, const float *c_l) {
    float u[B * A], d_head[B * 2 * A];
    nn_tanh_gaussian_forward(head, noise, B, A, NULL, NULL, u);
    nn_tanh_gaussian_backward(head, noise, u, c_a, c_l, B, A, d_head);
    double hd[B * 2 * A];
    for (int k = 0; k < B * 2 * A; k++) hd[k] = head[k];
    const double h = 1e-6;
    int bad = 0;
    for (int k = 0; k < B * 2 * A; k++) {
        double keep = hd[k];
        hd[k] = keep + h;
        double lp = ref_loss(hd, c_a, c_l);
        hd[k] = keep - h;
        double lm = ref_loss(hd, c_a, c_l);
        hd[k] = keep;
        double fd = (lp - lm) / (2 * h);
        if (!close_to(d_head[k], fd, 1e-4, 1e-4) && bad++ < 5)
            printf("\n  head %d: backward %g fd %g", k, d_head[k], fd);
    }
    CU_ASSERT_EQUAL(bad, 0);
    /* Clamped log_std entries (row 2, j = 0 and 1) get exactly zero. */
    CU_ASSERT_EQUAL(d_head[2 * 2 * A + A + 0], 0.0f);
    CU_ASSERT_EQUAL(d_head[2 * 2 * A + A + 1], 0.0f);
}

static const float c_action[B * A] = {0.3f,  -0.5f, 1.0f,  0.7f, -0.2f, 0.4f,
                                      -1.1f, 0.6f,  0.25f, 0.9f, -0.8f, 0.5f};
static const float c_logp[B] = {0.6f, -1.3f, 0.45f, 1.2f};

static void test_backward_action_only(void) {
    check_backward(c_action, NULL);
}
static void test_backward_log_prob_only(void) {
    check_backward(NULL, c_logp);
}
static void test_backward_both(void) {
    check_backward(c_action, c_logp);
}

/* ---- diagonal Gaussian and Laplace log-densities ---- */

enum { GB = 3, GD = 4 };
static const float gx[GB * GD] = {0.3f,  -1.0f, 2.0f,  0.5f, 1.5f, 0.0f,
                                  -0.7f, 0.2f,  -2.2f, 0.9f, 0.1f, 1.0f};
static const float gmean[GB * GD] = {0.1f,  -0.5f, 1.0f,  0.5f, 1.0f, 0.6f,
                                     -0.2f, -0.3f, -1.0f, 1.4f, 0.4f, 0.0f};
static const float gls_row[GB * GD] = {0.2f,  -0.5f, 1.0f, -2.0f, 0.0f,  0.7f,
                                       -1.1f, 0.3f,  1.9f, -0.4f, 0.05f, -1.5f};
static const float gdout[GB] = {0.8f, -1.4f, 0.35f};

/* sum over rows of dout_i * log density (Gaussian, or Laplace with scale exp(ls)), in double. */
static double ref_density_loss(int laplace, const double *mean, const double *ls, int stride,
                               double *per_row) {
    double s = 0;
    for (int i = 0; i < GB; i++) {
        double r = 0;
        for (int j = 0; j < GD; j++) {
            double sd = exp(ls[i * stride + j]), d = gx[i * GD + j] - mean[i * GD + j];
            r += laplace ? -fabs(d) / sd - log(2 * sd)
                         : -d * d / (2 * sd * sd) - log(sqrt(2 * M_PI) * sd);
        }
        if (per_row) per_row[i] = r;
        s += gdout[i] * r;
    }
    return s;
}

static void check_density(int laplace, int stride) {
    const float *ls = gls_row; /* stride 0 uses the first row as the shared vector */
    int n_ls = stride ? GB * GD : GD;
    float out[GB], d_mean[GB * GD], d_ls[GB * GD];
    double md[GB * GD], lsd[GB * GD], want[GB];
    for (int k = 0; k < GB * GD; k++) md[k] = gmean[k];
    for (int k = 0; k < n_ls; k++) lsd[k] = ls[k];
    if (laplace)
        nn_laplace_log_density(gx, gmean, ls, stride, GB, GD, out);
    else
        nn_gaussian_log_density(gx, gmean, ls, stride, GB, GD, out);
    ref_density_loss(laplace, md, lsd, stride, want);
    for (int i = 0; i < GB; i++) CU_ASSERT(close_to(out[i], want[i], 1e-5, 1e-5));
    for (int k = 0; k < GB * GD; k++) d_mean[k] = 1e9f; /* overwritten */
    for (int k = 0; k < n_ls; k++) d_ls[k] = 0.5f;      /* accumulated */
    if (laplace) /* gx[3] == gmean[3]: the kink, where both sides of the difference agree on 0 */
        nn_laplace_log_density_backward(gx, gmean, ls, stride, gdout, GB, GD, d_mean, d_ls);
    else
        nn_gaussian_log_density_backward(gx, gmean, ls, stride, gdout, GB, GD, d_mean, d_ls);
    const double h = 1e-6;
    int bad = 0;
    for (int k = 0; k < GB * GD; k++) {
        double keep = md[k];
        md[k] = keep + h;
        double lp = ref_density_loss(laplace, md, lsd, stride, NULL);
        md[k] = keep - h;
        double lm = ref_density_loss(laplace, md, lsd, stride, NULL);
        md[k] = keep;
        double fd = (lp - lm) / (2 * h);
        if (!close_to(d_mean[k], fd, 1e-4, 1e-4) && bad++ < 5)
            printf("\n  mean %d: %g vs %g", k, d_mean[k], fd);
    }
    for (int k = 0; k < n_ls; k++) {
        double keep = lsd[k];
        lsd[k] = keep + h;
        double lp = ref_density_loss(laplace, md, lsd, stride, NULL);
        lsd[k] = keep - h;
        double lm = ref_density_loss(laplace, md, lsd, stride, NULL);
        lsd[k] = keep;
        double fd = (lp - lm) / (2 * h);
        if (!close_to(d_ls[k] - 0.5, fd, 1e-4, 1e-4) && bad++ < 10)
            printf("\n  log_std %d: %g vs %g", k, d_ls[k] - 0.5, fd);
    }
    CU_ASSERT_EQUAL(bad, 0);
    /* NULL skips an output. */
    float d_mean2[GB * GD];
    if (laplace)
        nn_laplace_log_density_backward(gx, gmean, ls, stride, gdout, GB, GD, d_mean2, NULL);
    else
        nn_gaussian_log_density_backward(gx, gmean, ls, stride, gdout, GB, GD, d_mean2, NULL);
    CU_ASSERT_EQUAL(memcmp(d_mean, d_mean2, sizeof d_mean), 0);
}

static void test_density_shared_log_std(void) {
    check_density(0, 0);
}
static void test_density_per_row_log_std(void) {
    check_density(0, GD);
}
static void test_laplace_shared_log_scale(void) {
    check_density(1, 0);
}
static void test_laplace_per_row_log_scale(void) {
    check_density(1, GD);
}

/* The point of the Laplace model: its log density falls linearly with the error, so 1 -> 0 gains
 * as much as 7 -> 6 (the Gaussian's gains 1 against 13). */
static void test_laplace_is_linear_in_the_error(void) {
    float mean[1] = {0.0f}, ls[1] = {0.0f}, x[4] = {0.0f, 1.0f, 6.0f, 7.0f}, out[4], g[4];
    for (int i = 0; i < 4; i++) {
        nn_laplace_log_density(x + i, mean, ls, 0, 1, 1, out + i);
        nn_gaussian_log_density(x + i, mean, ls, 0, 1, 1, g + i);
    }
    CU_ASSERT_DOUBLE_EQUAL(out[0] - out[1], out[2] - out[3], 1e-5);
    CU_ASSERT_DOUBLE_EQUAL(out[0], -logf(2.0f), 1e-6);
    CU_ASSERT_DOUBLE_EQUAL((g[2] - g[3]) / (g[0] - g[1]), 13.0, 1e-4);
}

int main(void) {
    const test_case_t cases[] = {
        {"tanh gaussian forward vs direct formula", test_forward_vs_direct},
        {"tanh gaussian backward, d_action only", test_backward_action_only},
        {"tanh gaussian backward, d_log_prob only", test_backward_log_prob_only},
        {"tanh gaussian backward, both", test_backward_both},
        {"gaussian log-density, shared log_std", test_density_shared_log_std},
        {"gaussian log-density, per-row log_std", test_density_per_row_log_std},
        {"laplace log-density, shared log-scale", test_laplace_shared_log_scale},
        {"laplace log-density, per-row log-scale", test_laplace_per_row_log_scale},
        {"laplace log-density is linear in the error", test_laplace_is_linear_in_the_error},
        {NULL, NULL},
    };
    return test_run_suite("nn_policy_head", cases);
}
