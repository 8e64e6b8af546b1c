/* test_nn_optim: Adam against values worked out by hand for three steps (and against the
 * textbook bias-corrected formula in double over many steps), Polyak averaging, and denormals
 * flushed to zero on the calling thread only between nn_denormals_flush and its restore. */
#include "nn.h"
#include "testutil.h"
#include <math.h>
#include <string.h>

static void test_adam_defaults(void) {
    nn_adam_t a;
    CU_ASSERT_EQUAL_FATAL(nn_adam_init(&a, 5, 3e-4f), 0);
    CU_ASSERT_EQUAL(a.n, 5);
    CU_ASSERT_EQUAL(a.t, 0);
    CU_ASSERT_EQUAL(a.lr, 3e-4f);
    CU_ASSERT_EQUAL(a.beta1, 0.9f);
    CU_ASSERT_EQUAL(a.beta2, 0.999f);
    CU_ASSERT_EQUAL(a.eps, 1e-8f);
    for (int i = 0; i < 5; i++) CU_ASSERT(a.m[i] == 0.0f && a.v[i] == 0.0f);
    nn_adam_free(&a);
    nn_adam_free(&a);
    nn_adam_free(NULL);
}

/* Three steps of lr 0.1 on p = 1 with gradients 0.5, -1, 2, by hand:
 *  t=1: m = 0.05, v = 0.00025; mhat = 0.5, vhat = 0.25; p = 1 - 0.1 * 0.5 / 0.5 = 0.9
 *  t=2: m = 0.045 - 0.1 = -0.055, v = 0.00024975 + 0.001 = 0.00124975;
 *       mhat = -0.055 / 0.19 = -0.28947368, vhat = 0.00124975 / 0.001999 = 0.62518759,
 *       sqrt = 0.79068805; p = 0.9 + 0.1 * 0.28947368 / 0.79068805 = 0.93661035
 *  t=3: m = -0.0495 + 0.2 = 0.1505, v = 0.00124850025 + 0.004 = 0.00524850025;
 *       mhat = 0.1505 / 0.271 = 0.55535055, vhat = 0.00524850025 / 0.002997001 = 1.75125075,
 *       sqrt = 1.32334831; p = 0.93661035 - 0.1 * 0.55535055 / 1.32334831 = 0.89464479
 * A second parameter with a zero gradient never moves; a third with gradient 1e-8 shows where eps
 * goes (torch adds it to sqrt(vhat)): t=1 gives mhat = sqrt(vhat) = 1e-8, so a step of lr / 2. */
static void test_adam_by_hand(void) {
    nn_adam_t a;
    CU_ASSERT_EQUAL_FATAL(nn_adam_init(&a, 3, 0.1f), 0);
    float p[3] = {1.0f, -2.0f, 0.0f};
    float g1[3] = {0.5f, 0.0f, 1e-8f}, g2[3] = {-1.0f, 0.0f, 0.0f}, g3[3] = {2.0f, 0.0f, 0.0f};
    nn_adam_step(&a, p, g1);
    CU_ASSERT_EQUAL(a.t, 1);
    CU_ASSERT_DOUBLE_EQUAL(p[0], 0.9, 1e-6);
    CU_ASSERT_EQUAL(p[1], -2.0f);
    CU_ASSERT_DOUBLE_EQUAL(p[2], -0.05, 1e-6);
    nn_adam_step(&a, p, g2);
    CU_ASSERT_DOUBLE_EQUAL(p[0], 0.93661035, 2e-6);
    nn_adam_step(&a, p, g3);
    CU_ASSERT_EQUAL(a.t, 3);
    CU_ASSERT_DOUBLE_EQUAL(p[0], 0.89464479, 2e-6);
    CU_ASSERT_EQUAL(p[1], -2.0f);
    nn_adam_free(&a);
}

/* Many steps against the textbook formula in double, with changing gradients. */
static void test_adam_long_run(void) {
    enum { N = 4, STEPS = 200 };
    nn_adam_t a;
    CU_ASSERT_EQUAL_FATAL(nn_adam_init(&a, N, 1e-2f), 0);
    float p[N] = {0.5f, -1.0f, 2.0f, 0.0f}, g[N];
    double pd[N], m[N] = {0}, v[N] = {0};
    for (int i = 0; i < N; i++) pd[i] = p[i];
    double max_err = 0;
    for (int t = 1; t <= STEPS; t++) {
        for (int i = 0; i < N; i++) g[i] = (float)(sin(0.37 * t + i) * (i + 1) * 0.3);
        nn_adam_step(&a, p, g);
        for (int i = 0; i < N; i++) {
            m[i] = 0.9 * m[i] + 0.1 * g[i];
            v[i] = 0.999 * v[i] + 0.001 * (double)g[i] * g[i];
            double mhat = m[i] / (1 - pow(0.9, t)), vhat = v[i] / (1 - pow(0.999, t));
            pd[i] -= 1e-2 * mhat / (sqrt(vhat) + 1e-8);
            double e = fabs(p[i] - pd[i]);
            if (e > max_err) max_err = e;
        }
    }
    CU_ASSERT(max_err < 1e-4);
    nn_adam_free(&a);
}

static void test_polyak(void) {
    float target[4] = {1.0f, 2.0f, 3.0f, -4.0f};
    const float source[4] = {3.0f, 2.0f, -1.0f, 0.0f};
    nn_polyak(target, source, 4, 0.25f);
    const float want[4] = {1.5f, 2.0f, 2.0f, -3.0f};
    for (int i = 0; i < 4; i++) CU_ASSERT_DOUBLE_EQUAL(target[i], want[i], 1e-7);
    nn_polyak(target, source, 4, 1.0f); /* tau 1 copies */
    for (int i = 0; i < 4; i++) CU_ASSERT_EQUAL(target[i], source[i]);
    float keep[4];
    memcpy(keep, target, sizeof keep);
    nn_polyak(target, (const float[4]){9, 9, 9, 9}, 4, 0.0f); /* tau 0 keeps */
    CU_ASSERT_EQUAL(memcmp(keep, target, sizeof keep), 0);
}

/* A product of normal floats whose exact value is a denormal: 0 while flushed, else the denormal.
 * volatile keeps the compiler from folding it. */
static float denormal_product(void) {
    volatile float a = 1e-20f, b = 1e-20f;
    return a * b;
}

static void test_denormals_flush(void) {
    float before = denormal_product();
    unsigned mode = nn_denormals_flush();
    float flushed = denormal_product();
    nn_denormals_restore(mode);
    float after = denormal_product();
    CU_ASSERT(before > 0.0f && before < 1.2e-38f);
    CU_ASSERT_EQUAL(after, before);
#if defined(__x86_64__) || defined(__i386__)
    CU_ASSERT_EQUAL(flushed, 0.0f);
#else
    CU_ASSERT_EQUAL(flushed, before); /* a no-op elsewhere */
#endif
}

int main(void) {
    const test_case_t cases[] = {
        {"adam defaults", test_adam_defaults},
        {"adam three steps by hand", test_adam_by_hand},
        {"adam vs textbook formula", test_adam_long_run},
        {"polyak", test_polyak},
        {"denormals flushed, then restored", test_denormals_flush},
        {NULL, NULL},
    };
    return test_run_suite("nn_optim", cases);
}
