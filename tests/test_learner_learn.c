/* test_learner_learn: the learner learns. A 2-D point (no walls, s' = clip(s + 0.2 a) to
 * [-2, 2]^2, phi(s) = s) with a fixed buffer of random-action episodes and future-style goal
 * relabeling from that buffer: a few thousand updates must make the deterministic policy reach
 * goals it was never shown much better than a random policy does. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "learner_core.h"
#include "rng.h"
#include "testutil.h"

enum { N_EPISODES = 400, T = 25, BATCH = 256, EVAL_PAIRS = 20, EVAL_STEPS = 30 };
#define ARENA 2.0f
#define STEP 0.2f

static float clip(float x, float lo, float hi) {
    return x < lo ? lo : (x > hi ? hi : x);
}

static void point_step(const float *s, const float *a, float *out) {
    for (int j = 0; j < 2; j++) out[j] = clip(s[j] + STEP * clip(a[j], -1.0f, 1.0f), -ARENA, ARENA);
}

typedef struct {
    float pos[N_EPISODES][T + 1][2]; /* states s_0..s_T */
    float act[N_EPISODES][T][2];
} buffer_t;

static void fill_buffer(buffer_t *buf, rng_t *rng) {
    for (int e = 0; e < N_EPISODES; e++) {
        for (int j = 0; j < 2; j++) buf->pos[e][0][j] = (2.0f * rng_uniform(rng) - 1.0f) * ARENA;
        for (int t = 0; t < T; t++) {
            for (int j = 0; j < 2; j++) buf->act[e][t][j] = 2.0f * rng_uniform(rng) - 1.0f;
            point_step(buf->pos[e][t], buf->act[e][t], buf->pos[e][t + 1]);
        }
    }
}

typedef struct {
    float obs[BATCH * 2], act[BATCH * 2], next_obs[BATCH * 2], goal[BATCH * 2];
} batch_buf_t;

/* Transition (e, t) uniform; goal phi(s_k), k uniform in t+1..T with probability 0.8, else a
 * state from a random episode of the buffer. */
static void sample_batch(const buffer_t *buf, batch_buf_t *bb, learner_batch_t *b, rng_t *rng) {
    for (int i = 0; i < BATCH; i++) {
        int e = (int)rng_below(rng, N_EPISODES), t = (int)rng_below(rng, T);
        const float *g;
        if (rng_uniform(rng) < 0.8f)
            g = buf->pos[e][t + 1 + (int)rng_below(rng, (uint64_t)(T - t))];
        else
            g = buf->pos[rng_below(rng, N_EPISODES)][rng_below(rng, T + 1)];
        for (int j = 0; j < 2; j++) {
            bb->obs[2 * i + j] = buf->pos[e][t][j];
            bb->act[2 * i + j] = buf->act[e][t][j];
            bb->next_obs[2 * i + j] = buf->pos[e][t + 1][j];
            bb->goal[2 * i + j] = g[j];
        }
    }
    learner_batch_t x = {BATCH,   bb->obs,      bb->act,  bb->next_obs,
                         bb->obs, bb->next_obs, bb->goal, NULL};
    *b = x;
}

/* Deterministic action tanh(mean) of the learner's policy, by a plain forward of its block. */
static void policy_mode(learner_t *L, const float *s, const float *g, float *a) {
    nn_mlp_t *p = learner_net(L, LEARNER_NET_POLICY);
    float x[64], y[64];
    x[0] = s[0], x[1] = s[1], x[2] = g[0], x[3] = g[1];
    for (int l = 0; l < p->n_layers; l++) {
        int ni = p->sizes[l], no = p->sizes[l + 1];
        for (int j = 0; j < no; j++) {
            float v = p->b[l][j];
            for (int i = 0; i < ni; i++) v += x[i] * p->W[l][i * no + j];
            y[j] = (l + 1 < p->n_layers && v < 0.0f) ? 0.0f : v;
        }
        memcpy(x, y, (size_t)no * sizeof(float));
    }
    a[0] = tanhf(x[0]), a[1] = tanhf(x[1]);
}

/* Mean final distance over the evaluation pairs; L NULL: uniform random actions. */
static double evaluate(learner_t *L, const float (*pairs)[4], rng_t *rng) {
    double total = 0.0;
    for (int k = 0; k < EVAL_PAIRS; k++) {
        float s[2] = {pairs[k][0], pairs[k][1]};
        const float *g = &pairs[k][2];
        for (int t = 0; t < EVAL_STEPS; t++) {
            float a[2];
            if (L)
                policy_mode(L, s, g, a);
            else
                a[0] = 2.0f * rng_uniform(rng) - 1.0f, a[1] = 2.0f * rng_uniform(rng) - 1.0f;
            point_step(s, a, s);
        }
        total += hypot(s[0] - g[0], s[1] - g[1]);
    }
    return total / EVAL_PAIRS;
}

static void learn(learner_variant_t variant, int updates) {
    static buffer_t buf;
    static batch_buf_t bb;
    rng_t rng;
    rng_seed(&rng, 2021, 0);
    fill_buffer(&buf, &rng);
    learner_config_t c;
    learner_config_default(&c);
    c.variant = variant;
    c.obs_dim = c.goal_dim = c.action_dim = 2;
    c.batch_size = BATCH;
    c.gamma = 0.9f; /* a shorter horizon than 0.99: values settle within the test's updates */
    c.alpha_init = 0.1f;
    c.tau = 0.005f; /* targets that follow faster than 1e-3: a few thousand updates suffice */
    c.seed = 1;
    char err[256];
    learner_t *L = learner_new(&c, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(L);
    float pairs[EVAL_PAIRS][4];
    for (int k = 0; k < EVAL_PAIRS; k++) {
        do {
            for (int j = 0; j < 4; j++) pairs[k][j] = (2.0f * rng_uniform(&rng) - 1.0f) * 1.8f;
        } while (hypot(pairs[k][0] - pairs[k][2], pairs[k][1] - pairs[k][3]) < 1.0);
    }
    double before = evaluate(L, pairs, NULL);
    double random = evaluate(NULL, pairs, &rng);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    learner_batch_t b;
    for (int u = 0; u < updates; u++) {
        sample_batch(&buf, &bb, &b, &rng);
        CU_ASSERT_EQUAL_FATAL(learner_update(L, &b, err, sizeof err), 0);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    double after = evaluate(L, pairs, NULL);
    learner_summary_t s;
    learner_stats_summary(L, &s);
    printf("\n    %s: final distance %.3f after %d updates (%.1f s), untrained %.3f, random %.3f; "
           "alpha %.3f, discount %.3f, model log-std %.2f ",
           learner_variant_name(variant), after, updates, secs, before, random, s.alpha.mean,
           s.discount.mean, s.model_log_std.mean);
    /* Seen over seeds 1-6: ODAC 0.013-0.022 at 5,000 updates, her-distance 0.01-0.08 at 2,000;
     * random 1.9-2.4. */
    CU_ASSERT(after < 0.25 * random);
    CU_ASSERT(after < 0.3);
    learner_free(L);
}

static void test_learn_odac(void) {
    /* 5,000 updates: on a machine without AVX-512 (OpenBLAS path) 2,000 left ODAC at 0.20-0.42
     * over seeds 1-6 (still improving); 5,000 reach 0.013-0.022 there. */
    learn(LEARNER_ODAC, 5000);
}
static void test_learn_her_distance(void) {
    learn(LEARNER_HER_DISTANCE, 2000);
}

int main(void) {
    nn_set_threads(1); /* small products: threads only add overhead (and the machine is shared) */
    const test_case_t cases[] = {
        {"odac reaches goals on a 2-D point", test_learn_odac},
        {"her-distance reaches goals on a 2-D point", test_learn_her_distance},
        {NULL, NULL}};
    return test_run_suite("learner_learn", cases);
}
