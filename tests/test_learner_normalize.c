/* test_learner_normalize: observation and goal normalisation. The normaliser's mean and std equal
 * a two-pass computation over the rows it saw (with its std floor and clip); a learner with
 * normalize on accumulates exactly the batches of its successful updates; the actors' policy,
 * given the published statistics, acts as the reference MLP on hand-standardised inputs; and a
 * checkpoint restores the statistics so a resumed learner continues bit-identically. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "learner_core.h"
#include "normalizer.h"
#include "policy.h"
#include "test_learner_ref.h"
#include "testutil.h"

enum { O = 3, G = 2, A = 2, B = 16, UPDATES = 4 };

/* mean and std (population, floored at eps) of column j of rows (n, dim), in two passes. */
static void two_pass(const float *rows, int n, int dim, int j, double eps, double *mean,
                     double *std) {
    double s = 0.0, v = 0.0;
    for (int i = 0; i < n; i++) s += rows[(size_t)i * dim + j];
    *mean = s / n;
    for (int i = 0; i < n; i++) {
        double d = rows[(size_t)i * dim + j] - *mean;
        v += d * d;
    }
    v /= n;
    *std = sqrt(v > eps * eps ? v : eps * eps);
}

static void test_normalizer_stats(void) {
    enum { N = 300, D = 3 };
    static float rows[N * D];
    rng_t rng;
    rng_seed(&rng, 3, 0);
    for (int i = 0; i < N; i++) {
        rows[i * D] = 40.0f + 7.0f * rng_normal(&rng); /* large offset and scale */
        rows[i * D + 1] = 0.425f;                      /* a constant (resting height) */
        rows[i * D + 2] = 0.001f * rng_normal(&rng);   /* below the floor */
    }
    normalizer_t *n = normalizer_new(D, 5.0f, 0.01f);
    CU_ASSERT_PTR_NOT_NULL_FATAL(n);
    CU_ASSERT_EQUAL(n->mean[0], 0.0f); /* identity before any data */
    CU_ASSERT_EQUAL(n->std[0], 1.0f);
    normalizer_update(n, rows, 100); /* in two pieces: the sums carry over */
    normalizer_update(n, rows + 100 * D, N - 100);
    for (int j = 0; j < D; j++) {
        double mean, std;
        two_pass(rows, N, D, j, 0.01, &mean, &std);
        CU_ASSERT_DOUBLE_EQUAL(n->mean[j], mean, 1e-5 * (1.0 + fabs(mean)));
        CU_ASSERT_DOUBLE_EQUAL(n->std[j], std, 1e-4 * std);
    }
    CU_ASSERT_DOUBLE_EQUAL(n->std[1], 0.01, 1e-6); /* the floor, not 0 */
    float in[D] = {40.0f + 70.0f, 0.425f, -1.0f}, out[D];
    normalizer_apply(n->mean, n->std, n->clip, D, in, out, 1);
    CU_ASSERT_EQUAL(out[0], 5.0f); /* ten stds out: clipped */
    CU_ASSERT_DOUBLE_EQUAL(out[1], (0.425f - n->mean[1]) / 0.01f, 1e-3);
    CU_ASSERT_EQUAL(out[2], -5.0f);
    CU_ASSERT_PTR_NULL(normalizer_new(0, 5.0f, 0.01f));
    CU_ASSERT_PTR_NULL(normalizer_new(3, 0.0f, 0.01f));
    normalizer_free(n);
    normalizer_free(NULL);
}

static learner_config_t config(int normalize) {
    learner_config_t c;
    learner_config_default(&c);
    c.variant = LEARNER_HER_SPARSE;
    c.obs_dim = O, c.goal_dim = G, c.action_dim = A;
    c.batch_size = B;
    c.policy_hidden[0] = c.critic_hidden[0] = 8;
    c.policy_hidden[1] = c.critic_hidden[1] = 6;
    c.normalize = normalize;
    c.seed = 9;
    return c;
}

/* Batches whose inputs sit far from 0 with unequal scales, as raw robot observations do. */
static void shifted_batch(ref_batch_t *rb, const learner_config_t *c, rng_t *rng) {
    ref_batch_random(rb, c, B, rng, 1.0f);
    float *obs = (float *)rb->b.obs, *goals = (float *)rb->b.goals;
    for (int i = 0; i < B; i++) {
        for (int j = 0; j < O; j++) obs[i * O + j] = 10.0f * (float)j + (j + 1) * obs[i * O + j];
        for (int j = 0; j < G; j++) goals[i * G + j] = 0.5f + 0.05f * goals[i * G + j];
    }
}

static void test_learner_accumulates_batches(void) {
    learner_config_t c = config(1);
    char err[256];
    learner_t *L = learner_new(&c, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(L);
    rng_t rng;
    rng_seed(&rng, 4, 0);
    static float all_obs[UPDATES * B * O], all_goals[UPDATES * B * G];
    for (int k = 0; k < UPDATES; k++) {
        ref_batch_t rb;
        shifted_batch(&rb, &c, &rng);
        memcpy(all_obs + k * B * O, rb.b.obs, sizeof(float) * B * O);
        memcpy(all_goals + k * B * G, rb.b.goals, sizeof(float) * B * G);
        CU_ASSERT_EQUAL(learner_update(L, &rb.b, err, sizeof err), 0);
        ref_batch_free(&rb);
    }
    /* A refused batch leaves the statistics alone. */
    ref_batch_t bad;
    shifted_batch(&bad, &c, &rng);
    ((float *)bad.b.obs)[0] = NAN;
    CU_ASSERT_EQUAL(learner_update(L, &bad.b, err, sizeof err), -1);
    ref_batch_free(&bad);
    const float *om, *os, *gm, *gs;
    learner_normalization(L, &om, &os, &gm, &gs);
    CU_ASSERT_FATAL(om && os && gm && gs);
    for (int j = 0; j < O; j++) {
        double mean, std;
        two_pass(all_obs, UPDATES * B, O, j, NORMALIZER_DEFAULT_EPS, &mean, &std);
        CU_ASSERT_DOUBLE_EQUAL(om[j], mean, 1e-4 * (1.0 + fabs(mean)));
        CU_ASSERT_DOUBLE_EQUAL(os[j], std, 1e-3 * std);
    }
    for (int j = 0; j < G; j++) {
        double mean, std;
        two_pass(all_goals, UPDATES * B, G, j, NORMALIZER_DEFAULT_EPS, &mean, &std);
        CU_ASSERT_DOUBLE_EQUAL(gm[j], mean, 1e-4 * (1.0 + fabs(mean)));
        CU_ASSERT_DOUBLE_EQUAL(gs[j], std, 1e-3 * std);
    }
    learner_free(L);
    /* Off: nothing is published. */
    learner_config_t off = config(0);
    L = learner_new(&off, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(L);
    learner_normalization(L, &om, &os, &gm, &gs);
    CU_ASSERT(!om && !os && !gm && !gs);
    learner_free(L);
}

/* The actors' policy with the published statistics = the reference MLP on standardised inputs. */
static void test_policy_uses_published_stats(void) {
    learner_config_t c = config(1);
    char err[256];
    learner_t *L = learner_new(&c, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(L);
    rng_t rng;
    rng_seed(&rng, 5, 0);
    ref_batch_t rb;
    for (int k = 0; k < 3; k++) {
        shifted_batch(&rb, &c, &rng);
        CU_ASSERT_EQUAL(learner_update(L, &rb.b, err, sizeof err), 0);
        ref_batch_free(&rb);
    }
    shifted_batch(&rb, &c, &rng);
    const float *om, *os, *gm, *gs;
    learner_normalization(L, &om, &os, &gm, &gs);
    size_t n;
    const float *params = learner_policy_params(L, &n);
    int sizes[NN_MAX_LAYERS + 1];
    int n_layers = learner_policy_layers(L, sizes);
    policy_t *p = policy_new(O, G, A, c.policy_hidden, c.n_policy_hidden, B, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CU_ASSERT_EQUAL_FATAL(policy_load_params(p, params, n), 0);
    CU_ASSERT_EQUAL_FATAL(policy_set_normalization(p, om, os, gm, gs, c.norm_clip), 0);
    float act[B * A];
    CU_ASSERT_EQUAL(policy_act(p, rb.b.obs, rb.b.goals, B, 1, NULL, act), 0);
    for (int i = 0; i < B; i++) {
        double in[O + G], head[2 * A];
        for (int j = 0; j < O; j++) {
            double z = (rb.b.obs[i * O + j] - om[j]) / os[j];
            in[j] = fmax(-c.norm_clip, fmin(c.norm_clip, z));
        }
        for (int j = 0; j < G; j++) {
            double z = (rb.b.goals[i * G + j] - gm[j]) / gs[j];
            in[O + j] = fmax(-c.norm_clip, fmin(c.norm_clip, z));
        }
        ref_mlp(params, sizes, n_layers, in, head);
        for (int j = 0; j < A; j++) CU_ASSERT_DOUBLE_EQUAL(act[i * A + j], tanh(head[j]), 1e-5);
    }
    /* Bad statistics are refused and the policy keeps what it had. */
    float bad_std[O] = {1.0f, 0.0f, 1.0f};
    CU_ASSERT_EQUAL(policy_set_normalization(p, om, bad_std, gm, gs, c.norm_clip), -1);
    CU_ASSERT_EQUAL(policy_set_normalization(p, om, os, NULL, gs, c.norm_clip), -1);
    CU_ASSERT_EQUAL(policy_set_normalization(p, om, os, gm, gs, 0.0f), -1);
    float again[B * A];
    CU_ASSERT_EQUAL(policy_act(p, rb.b.obs, rb.b.goals, B, 1, NULL, again), 0);
    CU_ASSERT_EQUAL(memcmp(act, again, sizeof act), 0);
    /* Turned off, the raw inputs go in and the actions change. */
    CU_ASSERT_EQUAL(policy_set_normalization(p, NULL, NULL, NULL, NULL, 0.0f), 0);
    CU_ASSERT_EQUAL(policy_act(p, rb.b.obs, rb.b.goals, B, 1, NULL, again), 0);
    CU_ASSERT_NOT_EQUAL(memcmp(act, again, sizeof act), 0);
    ref_batch_free(&rb);
    policy_free(p);
    learner_free(L);
}

static void test_checkpoint_keeps_stats(void) {
    learner_config_t c = config(1);
    char err[256], path[512];
    snprintf(path, sizeof path, "%s/learner.ckpt", test_tmpdir("normalize"));
    learner_t *a = learner_new(&c, err, sizeof err), *b = learner_new(&c, err, sizeof err);
    CU_ASSERT_FATAL(a && b);
    rng_t rng;
    rng_seed(&rng, 6, 0);
    ref_batch_t rb;
    for (int k = 0; k < 3; k++) {
        shifted_batch(&rb, &c, &rng);
        CU_ASSERT_EQUAL(learner_update(a, &rb.b, err, sizeof err), 0);
        ref_batch_free(&rb);
    }
    CU_ASSERT_EQUAL_FATAL(learner_save(a, path, err, sizeof err), 0);
    CU_ASSERT_EQUAL_FATAL(learner_load(b, path, err, sizeof err), 0);
    const float *am, *as, *ag, *ags, *bm, *bs, *bg, *bgs;
    learner_normalization(a, &am, &as, &ag, &ags);
    learner_normalization(b, &bm, &bs, &bg, &bgs);
    CU_ASSERT_EQUAL(memcmp(am, bm, O * sizeof(float)), 0);
    CU_ASSERT_EQUAL(memcmp(as, bs, O * sizeof(float)), 0);
    CU_ASSERT_EQUAL(memcmp(ag, bg, G * sizeof(float)), 0);
    CU_ASSERT_EQUAL(memcmp(ags, bgs, G * sizeof(float)), 0);
    shifted_batch(&rb, &c, &rng);
    CU_ASSERT_EQUAL(learner_update(a, &rb.b, err, sizeof err), 0);
    CU_ASSERT_EQUAL(learner_update(b, &rb.b, err, sizeof err), 0);
    ref_batch_free(&rb);
    size_t na, nb;
    const float *pa = learner_policy_params(a, &na), *pb = learner_policy_params(b, &nb);
    CU_ASSERT_EQUAL_FATAL(na, nb);
    CU_ASSERT_EQUAL(memcmp(pa, pb, na * sizeof(float)), 0);
    learner_free(a);
    learner_free(b);
    remove(path);
}

int main(void) {
    const test_case_t cases[] = {
        {"normaliser mean, std floor and clip", test_normalizer_stats},
        {"learner accumulates the batches it updated on", test_learner_accumulates_batches},
        {"policy standardises with the published statistics", test_policy_uses_published_stats},
        {"checkpoint restores the statistics", test_checkpoint_keeps_stats},
        {NULL, NULL}};
    return test_run_suite("learner_normalize", cases);
}
