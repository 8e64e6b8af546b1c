/* test_nn_simd: the SIMD paths of nn (nn_set_simd) and rng_normal_fill against independent
 * double-precision computations written here, and against the portable paths: MLP forward and
 * backward on the hand-written kernels over shapes that reach every kernel case (narrow and wide
 * layers, row and column remainders, the dot-product and broadcast forms, transposed weights,
 * fused ReLU masks and bias sums, a large layer with one and two BLAS threads),
 * nn_mlp_backward_set, Adam, the tanh-Gaussian head across chunk boundaries and the accuracy of
 * its exp/tanh/softplus, and Box-Muller normals against the libm formula. On a CPU without
 * AVX-512 both runs take the portable paths and the checks still hold. */
#include "nn.h"
#include "testutil.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* |a - b| <= atol + rtol |b| */
static int close_to(double a, double b, double atol, double rtol) {
    return fabs(a - b) <= atol + rtol * fabs(b);
}

static void fill_uniform(rng_t *r, float *x, size_t n, float lo, float hi) {
    for (size_t i = 0; i < n; i++) x[i] = lo + (hi - lo) * rng_uniform(r);
}

/* ---- MLP against a double-precision forward and backward ---- */

/* Reference for the loss sum(c * mlp(x)): out (B, sizes[L]), dparams (n_params) and din
 * (B, sizes[0]) in double, by textbook backpropagation over the parameter layout of nn.h. */
static void ref_mlp(const int *sizes, int L, const double *params, const double *x, int B,
                    const float *c, double *out, double *dparams, double *din) {
    double *act[NN_MAX_LAYERS + 1] = {NULL};
    const double *W[NN_MAX_LAYERS], *b[NN_MAX_LAYERS];
    size_t off = 0, off_W[NN_MAX_LAYERS], off_b[NN_MAX_LAYERS];
    for (int l = 0; l < L; l++) {
        off_W[l] = off;
        W[l] = params + off;
        off += (size_t)sizes[l] * sizes[l + 1];
        off_b[l] = off;
        b[l] = params + off;
        off += sizes[l + 1];
    }
    for (int l = 0; l <= L; l++) act[l] = calloc((size_t)B * sizes[l], sizeof(double));
    memcpy(act[0], x, sizeof(double) * B * sizes[0]);
    for (int l = 0; l < L; l++) {
        int in = sizes[l], o = sizes[l + 1];
        for (int i = 0; i < B; i++)
            for (int k = 0; k < o; k++) {
                double s = b[l][k];
                for (int j = 0; j < in; j++) s += act[l][i * in + j] * W[l][j * o + k];
                act[l + 1][i * o + k] = l + 1 < L && s < 0 ? 0 : s;
            }
    }
    memcpy(out, act[L], sizeof(double) * B * sizes[L]);
    memset(dparams, 0, sizeof(double) * off);
    double *g = malloc(sizeof(double) * B * sizes[L]);
    for (int i = 0; i < B * sizes[L]; i++) g[i] = c[i];
    for (int l = L - 1; l >= 0; l--) {
        int in = sizes[l], o = sizes[l + 1];
        for (int i = 0; i < B; i++)
            for (int k = 0; k < o; k++) {
                double gk = g[i * o + k];
                if (l + 1 < L && act[l + 1][i * o + k] <= 0) gk = 0; /* through the ReLU */
                g[i * o + k] = gk;
                dparams[off_b[l] + k] += gk;
                for (int j = 0; j < in; j++)
                    dparams[off_W[l] + j * o + k] += act[l][i * in + j] * gk;
            }
        double *gin = calloc((size_t)B * in, sizeof(double));
        for (int i = 0; i < B; i++)
            for (int j = 0; j < in; j++)
                for (int k = 0; k < o; k++) gin[i * in + j] += g[i * o + k] * W[l][j * o + k];
        free(g);
        g = gin;
    }
    memcpy(din, g, sizeof(double) * B * sizes[0]);
    free(g);
    for (int l = 0; l <= L; l++) free(act[l]);
}

typedef struct {
    float *out, *dp, *din, *dp_set, *din_set, *out_infer;
} mlp_result_t;

static void result_alloc(mlp_result_t *r, size_t n_out, size_t n_params, size_t n_in) {
    r->out = malloc(sizeof(float) * n_out);
    r->out_infer = malloc(sizeof(float) * n_out);
    r->dp = malloc(sizeof(float) * n_params);
    r->dp_set = malloc(sizeof(float) * n_params);
    r->din = malloc(sizeof(float) * n_in);
    r->din_set = malloc(sizeof(float) * n_in);
}

static void result_free(mlp_result_t *r) {
    free(r->out), free(r->out_infer), free(r->dp), free(r->dp_set), free(r->din), free(r->din_set);
}

/* Runs forward, infer, backward (into 0.25 everywhere) and backward_set (into garbage). */
static void run_mlp(nn_mlp_t *m, nn_mlp_work_t *w, const float *x, const float *c, int B,
                    mlp_result_t *r) {
    nn_mlp_forward(m, w, x, B, r->out);
    for (size_t i = 0; i < m->n_params; i++) r->dp[i] = 0.25f, r->dp_set[i] = 1e9f;
    nn_mlp_backward(m, w, c, B, r->dp, r->din);
    nn_mlp_backward_set(m, w, c, B, r->dp_set, r->din_set);
    nn_mlp_infer(m, w, x, B, r->out_infer);
}

/* One architecture and batch: the SIMD and portable paths each against the double reference,
 * backward_set against backward, infer against forward, and the two paths against each other. */
static void check_arch(int in_dim, const int *hidden, int n_hidden, int out_dim, int B,
                       uint64_t seed) {
    rng_t r;
    rng_seed(&r, seed, 3);
    nn_mlp_t m;
    CU_ASSERT_EQUAL_FATAL(nn_mlp_init(&m, in_dim, hidden, n_hidden, out_dim, &r), 0);
    nn_mlp_work_t w;
    CU_ASSERT_EQUAL_FATAL(nn_mlp_work_init(&w, &m, B + 2), 0);
    size_t P = m.n_params, n_in = (size_t)B * in_dim, n_out = (size_t)B * out_dim;
    float *x = malloc(sizeof(float) * n_in), *c = malloc(sizeof(float) * n_out);
    fill_uniform(&r, x, n_in, -1.5f, 1.5f);
    fill_uniform(&r, c, n_out, -1.0f, 1.0f);
    double *pd = malloc(sizeof(double) * P), *xd = malloc(sizeof(double) * n_in);
    double *ref_out = malloc(sizeof(double) * n_out), *ref_dp = malloc(sizeof(double) * P);
    double *ref_din = malloc(sizeof(double) * n_in);
    for (size_t i = 0; i < P; i++) pd[i] = m.params[i];
    for (size_t i = 0; i < n_in; i++) xd[i] = x[i];
    ref_mlp(m.sizes, m.n_layers, pd, xd, B, c, ref_out, ref_dp, ref_din);

    mlp_result_t res[2];
    for (int simd = 0; simd < 2; simd++) {
        nn_set_simd(simd);
        result_alloc(&res[simd], n_out, P, n_in);
        run_mlp(&m, &w, x, c, B, &res[simd]);
        mlp_result_t *q = &res[simd];
        int bad = 0;
        for (size_t i = 0; i < n_out; i++) {
            bad += !close_to(q->out[i], ref_out[i], 1e-5, 1e-5);
            bad += q->out_infer[i] != q->out[i];
        }
        for (size_t i = 0; i < P; i++) {
            bad += !close_to(q->dp[i] - 0.25, ref_dp[i], 5e-5, 1e-4);
            bad += !close_to(q->dp_set[i], ref_dp[i], 5e-5, 1e-4);
        }
        for (size_t i = 0; i < n_in; i++) {
            bad += !close_to(q->din[i], ref_din[i], 2e-5, 1e-4);
            bad += q->din_set[i] != q->din[i]; /* the same computation */
        }
        if (bad)
            printf("\n  in %d hidden %d.. out %d B %d simd %d: %d mismatches", in_dim,
                   n_hidden ? hidden[0] : 0, out_dim, B, simd, bad);
        CU_ASSERT_EQUAL(bad, 0);
    }
    /* backward_set from garbage = backward from zero, exactly (both paths). */
    for (int simd = 0; simd < 2; simd++) {
        nn_set_simd(simd);
        float *zero_dp = calloc(P, sizeof(float));
        nn_mlp_forward(&m, &w, x, B, res[simd].out);
        nn_mlp_backward(&m, &w, c, B, zero_dp, NULL);
        nn_mlp_backward_set(&m, &w, c, B, res[simd].dp_set, NULL);
        int differ = 0;
        for (size_t i = 0; i < P; i++) differ += zero_dp[i] != res[simd].dp_set[i];
        CU_ASSERT_EQUAL(differ, 0);
        free(zero_dp);
    }
    for (size_t i = 0; i < n_out; i++)
        CU_ASSERT(close_to(res[1].out[i], res[0].out[i], 1e-5, 1e-5));
    for (size_t i = 0; i < n_in; i++) CU_ASSERT(close_to(res[1].din[i], res[0].din[i], 2e-5, 1e-4));
    nn_set_simd(1);
    result_free(&res[0]), result_free(&res[1]);
    free(x), free(c), free(pd), free(xd), free(ref_out), free(ref_dp), free(ref_din);
    nn_mlp_work_free(&w);
    nn_mlp_free(&m);
}

static void test_mlp_learner_shapes(void) {
    int h64[] = {64, 64};
    check_arch(4, h64, 2, 4, 37, 1); /* box2d policy: narrow head (dot), 64 x 64 broadcast */
    check_arch(6, h64, 2, 1, 29, 2); /* box2d critic: scalar output, dot input gradient */
    check_arch(4, h64, 2, 2, 6, 3);  /* box2d model, exactly one tile of rows */
}

static void test_mlp_every_kernel_case(void) {
    /* 20 -> 5: dot forward (K 20 with a tail), transposed weight gradient (out < 16 <= in);
     * 5 -> 40: broadcast forward with K 5, dot input gradient with the ReLU gate and bias sums;
     * 40 -> 130: three column blocks (64, 64, 2), transposed weights with 16 x 16 blocks and edges;
     * 130 -> 3: dot forward with K 130, broadcast input gradient from a 3 x 130 transpose. */
    int h[] = {5, 40, 130};
    check_arch(20, h, 3, 3, 41, 4);
    check_arch(20, h, 3, 3, 1, 5);
    int h2[] = {17, 16, 15};
    for (int B = 1; B <= 7; B++) check_arch(33, h2, 3, 14, B, 6 + B);
    int h3[] = {48, 31};
    check_arch(1, h3, 2, 15, 17, 20);  /* one input column, widest dot output */
    check_arch(3, NULL, 0, 1, 23, 21); /* one linear layer */
}

/* A layer above 128 x 128 weights takes the kernels with one BLAS thread and OpenBLAS with two:
 * both right. */
static void test_mlp_large_layer_threads(void) {
    int h[] = {150, 140};
    int threads = nn_get_threads();
    nn_set_threads(1);
    check_arch(12, h, 2, 2, 9, 30);
    nn_set_threads(2);
    check_arch(12, h, 2, 2, 9, 31);
    nn_set_threads(threads);
}

/* ---- Adam ---- */

static void test_adam_paths_agree(void) {
    enum { N = 1037, STEPS = 7 };
    rng_t r;
    rng_seed(&r, 40, 0);
    float p[2][N], g[N];
    fill_uniform(&r, p[0], N, -1, 1);
    memcpy(p[1], p[0], sizeof p[0]);
    nn_adam_t a[2];
    for (int k = 0; k < 2; k++) CU_ASSERT_EQUAL_FATAL(nn_adam_init(&a[k], N, 1e-2f), 0);
    for (int s = 0; s < STEPS; s++) {
        fill_uniform(&r, g, N, -3, 3);
        for (int k = 0; k < 2; k++) {
            nn_set_simd(k);
            nn_adam_step(&a[k], p[k], g);
        }
    }
    nn_set_simd(1);
    for (int i = 0; i < N; i++) CU_ASSERT(close_to(p[1][i], p[0][i], 1e-6, 1e-6));
    nn_adam_free(&a[0]), nn_adam_free(&a[1]);
}

/* ---- tanh-Gaussian head ---- */

static double clampd(double x, double lo, double hi) {
    return x < lo ? lo : (x > hi ? hi : x);
}

/* 300 rows of 3 actions: 900 elements, so chunks of the flat elements split rows. Heads cover
 * both log-std clamps and |u| up to about 12; each path against the formula in double. */
static void test_head_against_double(void) {
    enum { B = 300, A = 3 };
    static float head[B * 2 * A], noise[B * A], d_action[B * A], d_logp[B];
    static float action[B * A], u[B * A], lp[B], d_head[B * 2 * A], mode[B * A];
    rng_t r;
    rng_seed(&r, 50, 0);
    fill_uniform(&r, head, B * 2 * A, -4, 4);
    for (int i = 0; i < B; i++) /* log-stds from -23 to 5: both clamps */
        for (int j = 0; j < A; j++) head[i * 2 * A + A + j] = -23.0f + 28.0f * rng_uniform(&r);
    for (int i = 0; i < 20; i++) head[i * 2 * A] = 12.0f * (2.0f * rng_uniform(&r) - 1.0f);
    for (int i = 0; i < B * A; i++) noise[i] = rng_normal(&r);
    fill_uniform(&r, d_action, B * A, -1, 1);
    fill_uniform(&r, d_logp, B, -1, 1);
    for (int simd = 0; simd < 2; simd++) {
        nn_set_simd(simd);
        nn_tanh_gaussian_forward(head, noise, B, A, action, lp, u);
        nn_tanh_gaussian_backward(head, noise, u, d_action, d_logp, B, A, d_head);
        nn_tanh_gaussian_mode(head, B, A, mode);
        int bad = 0;
        for (int i = 0; i < B; i++) {
            double want_lp = 0;
            for (int j = 0; j < A; j++) {
                double mean = head[i * 2 * A + j], raw = head[i * 2 * A + A + j];
                double ls = clampd(raw, NN_LOG_STD_MIN, NN_LOG_STD_MAX), e = noise[i * A + j];
                double ud = mean + exp(ls) * e, t = tanh(ud);
                /* log(1 - tanh^2) as -2 log cosh, stable at large |u| */
                double log_cosh = fabs(ud) + log1p(exp(-2 * fabs(ud))) - log(2.0);
                want_lp += -0.5 * e * e - ls - 0.5 * log(2 * M_PI) + 2 * log_cosh;
                bad += !close_to(u[i * A + j], ud, 1e-6, 1e-6);
                bad += !close_to(action[i * A + j], t, 1e-7, 3e-7);
                bad += !close_to(mode[i * A + j], tanh(mean), 1e-7, 3e-7);
                double du = 2 * t * d_logp[i] + d_action[i * A + j] * (1 - t * t);
                double dls = raw < NN_LOG_STD_MIN || raw > NN_LOG_STD_MAX
                                 ? 0.0
                                 : du * exp(raw) * e - d_logp[i];
                bad += !close_to(d_head[i * 2 * A + j], du, 1e-6, 1e-5);
                bad += !close_to(d_head[i * 2 * A + A + j], dls, 1e-6, 1e-5);
            }
            bad += !close_to(lp[i], want_lp, 1e-5, 1e-6);
        }
        if (bad) printf("\n  simd %d: %d mismatches", simd, bad);
        CU_ASSERT_EQUAL(bad, 0);
        /* NULL outputs are skipped, the others unchanged */
        float lp2[B], d_head2[B * 2 * A];
        nn_tanh_gaussian_forward(head, noise, B, A, NULL, lp2, NULL);
        CU_ASSERT_EQUAL(memcmp(lp, lp2, sizeof lp2), 0);
        nn_tanh_gaussian_backward(head, noise, u, NULL, d_logp, B, A, d_head2);
        for (int i = 0; i < B; i++)
            for (int j = 0; j < A; j++) {
                double t = tanh((double)u[i * A + j]);
                CU_ASSERT(close_to(d_head2[i * 2 * A + j], 2 * t * d_logp[i], 1e-6, 1e-5));
            }
    }
    nn_set_simd(1);
}

/* Units in the last place of a float near x. */
static double ulp_of(double x) {
    float f = (float)fabs(x);
    return (double)nextafterf(f, INFINITY) - f;
}

/* The head's tanh over a sweep of u (noise 0, so u is the mean exactly), within 2 ulp of tanh in
 * double, and its log-prob within 4 ulp of the size of its terms. */
static void test_head_math_accuracy(void) {
    enum { N = 4001 };
    static float head[N * 2], noise[N], action[N], lp[N];
    for (int i = 0; i < N; i++) {
        double t = (i - (N - 1) / 2) / 100.0;      /* -20 .. 20 */
        head[2 * i] = (float)(t * fabs(t) / 20.0); /* denser near 0 */
        head[2 * i + 1] = 0.0f;                    /* log-std 0 */
        noise[i] = 0.0f;
    }
    for (int simd = 0; simd < 2; simd++) {
        nn_set_simd(simd);
        nn_tanh_gaussian_forward(head, noise, N, 1, action, lp, NULL);
        double worst_tanh = 0, worst_lp = 0;
        for (int i = 0; i < N; i++) {
            double u = head[2 * i], t = tanh(u);
            double log_cosh = fabs(u) + log1p(exp(-2 * fabs(u))) - log(2.0);
            double want_lp = -0.5 * log(2 * M_PI) + 2 * log_cosh;
            double e_t = fabs(action[i] - t) / ulp_of(t);
            /* a sum of terms of about 1 + 2|u|, which can cancel: ulps of that scale */
            double e_lp = fabs(lp[i] - want_lp) / ulp_of(fmax(fabs(want_lp), 1 + 2 * fabs(u)));
            if (e_t > worst_tanh) worst_tanh = e_t;
            if (e_lp > worst_lp) worst_lp = e_lp;
        }
        if (worst_tanh > 2 || worst_lp > 4)
            printf("\n  simd %d: tanh %.2f ulp, log-prob %.2f ulp", simd, worst_tanh, worst_lp);
        CU_ASSERT(worst_tanh <= 2.0);
        CU_ASSERT(worst_lp <= 4.0);
    }
    nn_set_simd(1);
}

/* ---- normals ---- */

/* rng_normal_fill against Box-Muller evaluated with libm from the same uniforms: for lengths
 * around its block of 64 pairs and odd lengths (the last from rng_normal). */
static void test_normal_fill_matches_libm(void) {
    const int lengths[] = {1, 2, 3, 127, 128, 129, 130, 20001};
    static float out[20001];
    for (size_t t = 0; t < sizeof lengths / sizeof *lengths; t++) {
        int n = lengths[t];
        rng_t a, b;
        rng_seed(&a, 60 + t, 7);
        b = a;
        rng_normal_fill(&a, out, n);
        int bad = 0, i = 0;
        for (; i + 1 < n; i += 2) {
            double u1 = ((double)(rng_next(&b) >> 11) + 1.0) / 9007199254740992.0;
            double u2 = (double)(rng_next(&b) >> 11) / 9007199254740992.0;
            double r = sqrt(-2.0 * log(u1));
            float want_c = (float)(r * cos(2 * M_PI * u2)),
                  want_s = (float)(r * sin(2 * M_PI * u2));
            bad += fabs(out[i] - want_c) > ulp_of(want_c) + 1e-30;
            bad += fabs(out[i + 1] - want_s) > ulp_of(want_s) + 1e-30;
        }
        if (i < n) bad += out[i] != rng_normal(&b);
        CU_ASSERT_EQUAL(bad, 0);
        CU_ASSERT_EQUAL(memcmp(&a, &b, sizeof a), 0); /* the same draws consumed */
    }
}

int main(void) {
    const test_case_t cases[] = {
        {"mlp kernels on the learner's shapes", test_mlp_learner_shapes},
        {"mlp kernels: every case", test_mlp_every_kernel_case},
        {"mlp large layer with 1 and 2 threads", test_mlp_large_layer_threads},
        {"adam simd and portable agree", test_adam_paths_agree},
        {"tanh-gaussian head against double", test_head_against_double},
        {"head tanh and log-prob accuracy", test_head_math_accuracy},
        {"normal fill matches libm box-muller", test_normal_fill_matches_libm},
        {NULL, NULL},
    };
    return test_run_suite("nn_simd", cases);
}
