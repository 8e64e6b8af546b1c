/* test_nn_mlp: linear layers, ReLU and the MLP checked against a double-precision reference MLP
 * written here, and their backward passes against central finite differences of that reference.
 * Also: inference equals forward, the parameter block round-trips through a file and nn_mlp_bind,
 * sizes, initialisation bounds and flop counts. */
#include "nn.h"
#include "testutil.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Reference forward in double: out (B, sizes[L]) from x (B, sizes[0]) and a double copy of the
 * parameter block laid out as nn.h says (per layer W (in, out) row-major then b). */
static void ref_forward(const int *sizes, int L, const double *params, const double *x, int B,
                        double *out) {
    int widest = 0;
    for (int l = 0; l <= L; l++)
        if (sizes[l] > widest) widest = sizes[l];
    double *cur = malloc(sizeof(double) * B * widest), *next = malloc(sizeof(double) * B * widest);
    memcpy(cur, x, sizeof(double) * B * sizes[0]);
    const double *p = params;
    for (int l = 0; l < L; l++) {
        int in = sizes[l], o = sizes[l + 1];
        const double *W = p, *b = p + (size_t)in * o;
        for (int i = 0; i < B; i++)
            for (int k = 0; k < o; k++) {
                double s = b[k];
                for (int j = 0; j < in; j++) s += cur[i * in + j] * W[j * o + k];
                if (l + 1 < L && s < 0) s = 0;
                next[i * o + k] = s;
            }
        p += (size_t)in * o + o;
        double *t = cur;
        cur = next;
        next = t;
    }
    memcpy(out, cur, sizeof(double) * B * sizes[L]);
    free(cur);
    free(next);
}

/* Scalar loss sum(c * mlp(x)) in double. */
static double ref_loss(const int *sizes, int L, const double *params, const double *x, int B,
                       const float *c) {
    int o = sizes[L];
    double *out = malloc(sizeof(double) * B * o);
    ref_forward(sizes, L, params, x, B, out);
    double s = 0;
    for (int i = 0; i < B * o; i++) s += c[i] * out[i];
    free(out);
    return s;
}

static void fill_uniform(rng_t *r, float *x, size_t n, float lo, float hi) {
    for (size_t i = 0; i < n; i++) x[i] = lo + (hi - lo) * rng_uniform(r);
}

/* |a - b| <= atol + rtol |b| */
static int close_to(double a, double b, double atol, double rtol) {
    return fabs(a - b) <= atol + rtol * fabs(b);
}

/* Forward, backward (params and input) of an MLP against the double reference and its central
 * finite differences. */
static void check_mlp(int in_dim, const int *hidden, int n_hidden, int out_dim, int B,
                      uint64_t seed) {
    rng_t r;
    rng_seed(&r, seed, 1);
    nn_mlp_t m;
    CU_ASSERT_EQUAL_FATAL(nn_mlp_init(&m, in_dim, hidden, n_hidden, out_dim, &r), 0);
    nn_mlp_work_t w;
    CU_ASSERT_EQUAL_FATAL(nn_mlp_work_init(&w, &m, B + 3), 0);
    int L = m.n_layers;
    size_t P = m.n_params;
    float *x = malloc(sizeof(float) * B * in_dim), *c = malloc(sizeof(float) * B * out_dim);
    float *c_copy = malloc(sizeof(float) * B * out_dim);
    float *out = malloc(sizeof(float) * B * out_dim), *din = malloc(sizeof(float) * B * in_dim);
    float *din2 = malloc(sizeof(float) * B * in_dim);
    float *dp = malloc(sizeof(float) * P), *dp2 = malloc(sizeof(float) * P);
    double *pd = malloc(sizeof(double) * P), *xd = malloc(sizeof(double) * B * in_dim);
    double *ref = malloc(sizeof(double) * B * out_dim);
    fill_uniform(&r, x, (size_t)B * in_dim, -1.5f, 1.5f);
    fill_uniform(&r, c, (size_t)B * out_dim, -1.0f, 1.0f);
    memcpy(c_copy, c, sizeof(float) * B * out_dim);
    for (size_t i = 0; i < P; i++) pd[i] = m.params[i];
    for (int i = 0; i < B * in_dim; i++) xd[i] = x[i];

    nn_mlp_forward(&m, &w, x, B, out);
    ref_forward(m.sizes, L, pd, xd, B, ref);
    for (int i = 0; i < B * out_dim; i++) CU_ASSERT(close_to(out[i], ref[i], 1e-5, 1e-5));
    for (int i = 0; i < B * in_dim; i++) CU_ASSERT_EQUAL(w.act[0][i], x[i]);

    /* dparams is accumulated: start from 0.25 everywhere and subtract it afterwards. */
    for (size_t i = 0; i < P; i++) dp[i] = 0.25f;
    for (int i = 0; i < B * in_dim; i++) din[i] = 1e9f; /* overwritten */
    nn_mlp_backward(&m, &w, c, B, dp, din);
    CU_ASSERT_EQUAL(memcmp(c, c_copy, sizeof(float) * B * out_dim), 0); /* dout is read only */

    const double h = 1e-6;
    int bad = 0;
    for (size_t i = 0; i < P; i++) {
        double keep = pd[i];
        pd[i] = keep + h;
        double lp = ref_loss(m.sizes, L, pd, xd, B, c);
        pd[i] = keep - h;
        double lm = ref_loss(m.sizes, L, pd, xd, B, c);
        pd[i] = keep;
        double fd = (lp - lm) / (2 * h);
        if (!close_to(dp[i] - 0.25, fd, 2e-5, 1e-4)) {
            if (bad++ < 5) printf("\n  param %zu: backward %g fd %g", i, dp[i] - 0.25, fd);
        }
    }
    for (int i = 0; i < B * in_dim; i++) {
        double keep = xd[i];
        xd[i] = keep + h;
        double lp = ref_loss(m.sizes, L, pd, xd, B, c);
        xd[i] = keep - h;
        double lm = ref_loss(m.sizes, L, pd, xd, B, c);
        xd[i] = keep;
        double fd = (lp - lm) / (2 * h);
        if (!close_to(din[i], fd, 2e-5, 1e-4)) {
            if (bad++ < 10) printf("\n  input %d: backward %g fd %g", i, din[i], fd);
        }
    }
    CU_ASSERT_EQUAL(bad, 0);

    /* Skipping one output leaves the other unchanged. */
    nn_mlp_backward(&m, &w, c, B, NULL, din2);
    CU_ASSERT_EQUAL(memcmp(din, din2, sizeof(float) * B * in_dim), 0);
    for (size_t i = 0; i < P; i++) dp2[i] = 0.25f;
    nn_mlp_backward(&m, &w, c, B, dp2, NULL);
    CU_ASSERT_EQUAL(memcmp(dp, dp2, sizeof(float) * P), 0);

    free(x), free(c), free(c_copy), free(out), free(din), free(din2), free(dp), free(dp2);
    free(pd), free(xd), free(ref);
    nn_mlp_work_free(&w);
    nn_mlp_free(&m);
}

static void test_mlp_two_hidden(void) {
    int hidden[] = {7, 6};
    check_mlp(5, hidden, 2, 3, 4, 11);
}

static void test_mlp_scalar_output(void) { /* out_dim 1 takes the sgemv / outer-product paths */
    int hidden[] = {9, 8};
    check_mlp(4, hidden, 2, 1, 5, 12);
}

static void test_mlp_deep_and_single(void) {
    int hidden[] = {6, 5, 7, 4};
    check_mlp(3, hidden, 4, 2, 3, 13);
    check_mlp(4, NULL, 0, 3, 6, 14); /* a single linear layer */
    check_mlp(4, NULL, 0, 1, 1, 15);
}

/* nn_linear_* against direct sums and finite differences of a double loss sum(c * out). */
static void test_linear(void) {
    enum { B = 3, I = 4, O = 5 };
    rng_t r;
    rng_seed(&r, 21, 0);
    float x[B * I], W[I * O], b[O], out[B * O], c[B * O], din[B * I], dW[I * O], db[O];
    fill_uniform(&r, x, B * I, -1, 1);
    fill_uniform(&r, W, I * O, -1, 1);
    fill_uniform(&r, b, O, -1, 1);
    fill_uniform(&r, c, B * O, -1, 1);
    nn_linear_forward(out, x, W, b, B, I, O);
    for (int i = 0; i < B; i++)
        for (int k = 0; k < O; k++) {
            double s = b[k];
            for (int j = 0; j < I; j++) s += (double)x[i * I + j] * W[j * O + k];
            CU_ASSERT(close_to(out[i * O + k], s, 1e-6, 1e-6));
        }
    for (int i = 0; i < I * O; i++) dW[i] = 1.0f;
    for (int i = 0; i < O; i++) db[i] = -1.0f;
    nn_linear_backward(din, dW, db, c, x, W, B, I, O);
    /* loss = sum_ik c_ik (b_k + sum_j x_ij W_jk) is linear: exact gradients by hand. */
    for (int j = 0; j < I; j++)
        for (int k = 0; k < O; k++) {
            double g = 0;
            for (int i = 0; i < B; i++) g += (double)x[i * I + j] * c[i * O + k];
            CU_ASSERT(close_to(dW[j * O + k] - 1.0, g, 1e-6, 1e-5));
        }
    for (int k = 0; k < O; k++) {
        double g = 0;
        for (int i = 0; i < B; i++) g += c[i * O + k];
        CU_ASSERT(close_to(db[k] + 1.0, g, 1e-6, 1e-5));
    }
    for (int i = 0; i < B; i++)
        for (int j = 0; j < I; j++) {
            double g = 0;
            for (int k = 0; k < O; k++) g += (double)c[i * O + k] * W[j * O + k];
            CU_ASSERT(close_to(din[i * I + j], g, 1e-6, 1e-5));
        }
    float din2[B * I];
    nn_linear_backward(din2, NULL, NULL, c, x, W, B, I, O);
    CU_ASSERT_EQUAL(memcmp(din, din2, sizeof din), 0);
}

static void test_relu(void) {
    float x[] = {-2.0f, -0.0f, 0.0f, 1e-30f, 3.5f, -1e-30f};
    float y[6], dx[6] = {1, 2, 3, 4, 5, 6};
    memcpy(y, x, sizeof x);
    nn_relu_forward(y, 6);
    float want_y[] = {0, 0, 0, 1e-30f, 3.5f, 0};
    float want_dx[] = {0, 0, 0, 4, 5, 0};
    for (int i = 0; i < 6; i++) CU_ASSERT_EQUAL(y[i], want_y[i]);
    nn_relu_backward(dx, y, 6);
    for (int i = 0; i < 6; i++) CU_ASSERT_EQUAL(dx[i], want_dx[i]);
}

static void test_infer_equals_forward(void) {
    rng_t r;
    rng_seed(&r, 31, 0);
    int hidden[] = {32, 24, 16};
    nn_mlp_t m;
    CU_ASSERT_EQUAL_FATAL(nn_mlp_init(&m, 10, hidden, 3, 4, &r), 0);
    nn_mlp_work_t w;
    CU_ASSERT_EQUAL_FATAL(nn_mlp_work_init(&w, &m, 64), 0);
    enum { B = 37 };
    float x[B * 10], y[B * 10], o1[B * 4], o2[B * 4], o3[B * 4], c[B * 4];
    float d1[B * 10], d2[B * 10];
    fill_uniform(&r, x, sizeof x / sizeof *x, -2, 2);
    fill_uniform(&r, y, sizeof y / sizeof *y, -2, 2);
    fill_uniform(&r, c, sizeof c / sizeof *c, -1, 1);
    nn_mlp_forward(&m, &w, x, B, o1);
    nn_mlp_backward(&m, &w, c, B, NULL, d1);
    nn_mlp_infer(&m, &w, x, B, o2);
    CU_ASSERT_EQUAL(memcmp(o1, o2, sizeof o1), 0);
    /* An inference between a forward and its backward does not disturb the kept activations. */
    nn_mlp_forward(&m, &w, x, B, o1);
    nn_mlp_infer(&m, &w, y, B, o3);
    nn_mlp_backward(&m, &w, c, B, NULL, d2);
    CU_ASSERT_EQUAL(memcmp(d1, d2, sizeof d1), 0);
    CU_ASSERT_NOT_EQUAL(memcmp(o1, o3, sizeof o1), 0);
    nn_mlp_work_free(&w);
    nn_mlp_free(&m);
}

/* The parameter block is the whole network: write it to a file, read it into a fresh block, bind
 * a copy of the struct to it and get the same outputs bit for bit. */
static void test_param_block_round_trip(void) {
    rng_t r;
    rng_seed(&r, 41, 0);
    int hidden[] = {20, 12};
    nn_mlp_t m;
    CU_ASSERT_EQUAL_FATAL(nn_mlp_init(&m, 6, hidden, 2, 3, &r), 0);
    CU_ASSERT_EQUAL(m.n_params, nn_mlp_param_count(6, hidden, 2, 3));
    char path[600];
    snprintf(path, sizeof path, "%s/params.bin", test_tmpdir("nn"));
    FILE *f = fopen(path, "wb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT_EQUAL(fwrite(m.params, sizeof(float), m.n_params, f), m.n_params);
    fclose(f);
    float *block = malloc(sizeof(float) * m.n_params);
    f = fopen(path, "rb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT_EQUAL(fread(block, sizeof(float), m.n_params, f), m.n_params);
    fclose(f);
    remove(path);

    nn_mlp_t view = m;
    nn_mlp_bind(&view, block);
    CU_ASSERT_EQUAL(view.owns_params, 0);
    CU_ASSERT_EQUAL(view.n_params, m.n_params);
    CU_ASSERT_PTR_EQUAL(view.W[0], block);
    for (int l = 0; l < m.n_layers; l++) {
        CU_ASSERT_EQUAL(view.W[l] - view.params, m.W[l] - m.params);
        CU_ASSERT_EQUAL(view.b[l] - view.params, m.b[l] - m.params);
    }
    nn_mlp_work_t w;
    CU_ASSERT_EQUAL_FATAL(nn_mlp_work_init(&w, &m, 8), 0);
    float x[8 * 6], o1[8 * 3], o2[8 * 3];
    fill_uniform(&r, x, 8 * 6, -1, 1);
    nn_mlp_forward(&m, &w, x, 8, o1);
    nn_mlp_forward(&view, &w, x, 8, o2);
    CU_ASSERT_EQUAL(memcmp(o1, o2, sizeof o1), 0);
    /* A change to the bound block shows in the view only. */
    block[view.b[1] - view.params] += 1.0f;
    nn_mlp_infer(&view, &w, x, 8, o2);
    CU_ASSERT_NOT_EQUAL(memcmp(o1, o2, sizeof o1), 0);
    nn_mlp_free(&view); /* borrows: frees nothing (ASan would report a double free) */
    CU_ASSERT_PTR_NULL(view.params);
    free(block);
    nn_mlp_work_free(&w);
    nn_mlp_free(&m);
    nn_mlp_free(&m); /* a second free is harmless */
    nn_mlp_free(NULL);
}

static void test_sizes_init_flops(void) {
    int hidden[] = {400, 300};
    size_t want = 53 * 400 + 400 + 400 * 300 + 300 + 300 * 1 + 1;
    CU_ASSERT_EQUAL(nn_mlp_param_count(53, hidden, 2, 1), want);
    int bad_hidden[] = {4, 0};
    CU_ASSERT_EQUAL(nn_mlp_param_count(53, bad_hidden, 2, 1), 0);
    CU_ASSERT_EQUAL(nn_mlp_param_count(0, hidden, 2, 1), 0);
    CU_ASSERT_EQUAL(nn_mlp_param_count(3, hidden, NN_MAX_LAYERS, 1), 0);
    rng_t r;
    rng_seed(&r, 51, 0);
    nn_mlp_t m;
    CU_ASSERT_EQUAL(nn_mlp_init(&m, 3, bad_hidden, 2, 1, &r), -1);
    nn_mlp_free(&m);
    CU_ASSERT_EQUAL(nn_mlp_init(&m, 3, hidden, 2, 1, NULL), -1);
    nn_mlp_free(&m);
    CU_ASSERT_EQUAL_FATAL(nn_mlp_init(&m, 53, hidden, 2, 1, &r), 0);
    CU_ASSERT_EQUAL(m.n_layers, 3);
    CU_ASSERT_EQUAL(m.n_params, want);
    CU_ASSERT_EQUAL(m.owns_params, 1);
    CU_ASSERT_PTR_EQUAL(m.b[2] + 1, m.params + want); /* the block ends with the last bias */
    /* PyTorch's nn.Linear init: W and b uniform in +-1/sqrt(fan_in); mean near 0, spread near
     * bound/sqrt(3). */
    for (int l = 0; l < m.n_layers; l++) {
        double bound = 1.0 / sqrt(m.sizes[l]), s = 0, s2 = 0;
        size_t nw = (size_t)m.sizes[l] * m.sizes[l + 1];
        int outside = 0;
        for (size_t i = 0; i < nw; i++) {
            outside += fabs(m.W[l][i]) > bound;
            s += m.W[l][i];
            s2 += (double)m.W[l][i] * m.W[l][i];
        }
        for (int i = 0; i < m.sizes[l + 1]; i++) outside += fabs(m.b[l][i]) > bound;
        CU_ASSERT_EQUAL(outside, 0);
        double sd = sqrt(s2 / nw);
        CU_ASSERT(fabs(s / nw) < 4 * bound / sqrt(3.0 * nw));
        CU_ASSERT(fabs(sd - bound / sqrt(3.0)) < 0.1 * bound);
    }
    CU_ASSERT_DOUBLE_EQUAL(nn_mlp_flops_forward(&m, 256), 2.0 * 256 * (53 * 400 + 400 * 300 + 300),
                           0.5);
    nn_mlp_work_t w;
    CU_ASSERT_EQUAL(nn_mlp_work_init(&w, &m, 0), -1);
    nn_mlp_work_free(&w);
    nn_mlp_free(&m);
}

static void test_threads(void) {
    nn_set_threads(1);
    CU_ASSERT_EQUAL(nn_get_threads(), 1);
    nn_set_threads(0);
    CU_ASSERT_EQUAL(nn_get_threads(), 1);
}

int main(void) {
    const test_case_t cases[] = {
        {"linear forward/backward", test_linear},
        {"relu forward/backward", test_relu},
        {"mlp two hidden layers vs finite differences", test_mlp_two_hidden},
        {"mlp scalar output vs finite differences", test_mlp_scalar_output},
        {"mlp deep and single-layer vs finite differences", test_mlp_deep_and_single},
        {"infer equals forward", test_infer_equals_forward},
        {"param block round trip and bind", test_param_block_round_trip},
        {"sizes, init and flops", test_sizes_init_flops},
        {"threads", test_threads},
        {NULL, NULL},
    };
    return test_run_suite("nn_mlp", cases);
}
