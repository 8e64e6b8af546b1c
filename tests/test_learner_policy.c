/* test_learner_policy: the learner's published policy block drives common/policy (the actors'
 * inference) to the actions a scalar forward of ODAC.md's tanh-Gaussian gives, deterministic and
 * stochastic; bad blocks and batch sizes are refused. */
#include <math.h>
#include <string.h>
#include "learner_core.h"
#include "policy.h"
#include "test_learner_ref.h"
#include "testutil.h"

enum { O = 3, G = 2, A = 2, B = 5 };

static void test_policy_matches_learner(void) {
    learner_config_t c;
    learner_config_default(&c);
    c.obs_dim = O, c.goal_dim = G, c.action_dim = A;
    c.batch_size = 8;
    c.policy_hidden[0] = 8, c.policy_hidden[1] = 6, c.n_policy_hidden = 2;
    c.seed = 4;
    char err[256];
    learner_t *L = learner_new(&c, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(L);
    rng_t rng;
    rng_seed(&rng, 8, 0);
    ref_batch_t rb;
    ref_batch_random(&rb, &c, 8, &rng, 1.0f);
    for (int k = 0; k < 3; k++) CU_ASSERT_EQUAL(learner_update(L, &rb.b, err, sizeof err), 0);

    int sizes[NN_MAX_LAYERS + 1];
    int n_layers = learner_policy_layers(L, sizes);
    CU_ASSERT_EQUAL_FATAL(n_layers, 3);
    CU_ASSERT_EQUAL(sizes[0], O + G);
    CU_ASSERT_EQUAL(sizes[1], 8);
    CU_ASSERT_EQUAL(sizes[2], 6);
    CU_ASSERT_EQUAL(sizes[3], 2 * A);
    size_t n;
    const float *params = learner_policy_params(L, &n);
    policy_t *p = policy_new(O, G, A, c.policy_hidden, c.n_policy_hidden, B, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CU_ASSERT_EQUAL_FATAL(policy_param_count(p), n);
    CU_ASSERT_EQUAL_FATAL(policy_load_params(p, params, n), 0);

    const float *obs = rb.b.obs, *goal = rb.b.goals;
    float det[B * A], sto[B * A], noise[B * A];
    CU_ASSERT_EQUAL(policy_act(p, obs, goal, B, 1, NULL, det), 0);
    rng_t act_rng, ref_rng;
    rng_seed(&act_rng, 31, 2);
    ref_rng = act_rng;
    CU_ASSERT_EQUAL(policy_act(p, obs, goal, B, 0, &act_rng, sto), 0);
    rng_normal_fill(&ref_rng, noise, B * A);
    int differs = 0;
    for (int i = 0; i < B; i++) {
        double in[O + G], head[2 * A], a[A];
        for (int j = 0; j < O; j++) in[j] = obs[i * O + j];
        for (int j = 0; j < G; j++) in[O + j] = goal[i * G + j];
        ref_mlp(params, sizes, n_layers, in, head);
        ref_tanh_gaussian(head, noise + i * A, A, a);
        for (int j = 0; j < A; j++) {
            CU_ASSERT_DOUBLE_EQUAL(det[i * A + j], tanh(head[j]), 1e-5);
            CU_ASSERT_DOUBLE_EQUAL(sto[i * A + j], a[j], 1e-5);
            differs |= fabsf(det[i * A + j] - sto[i * A + j]) > 1e-3f;
        }
    }
    CU_ASSERT(differs);

    /* Refusals leave the loaded weights as they were. */
    float bad[4096];
    memcpy(bad, params, n * sizeof(float));
    CU_ASSERT_EQUAL(policy_load_params(p, bad, n - 1), -1);
    bad[n / 2] = NAN;
    CU_ASSERT_EQUAL(policy_load_params(p, bad, n), -1);
    float again[B * A];
    CU_ASSERT_EQUAL(policy_act(p, obs, goal, B, 1, NULL, again), 0);
    CU_ASSERT_EQUAL(memcmp(again, det, sizeof det), 0);
    CU_ASSERT_EQUAL(policy_act(p, obs, goal, B + 1, 1, NULL, again), -1);
    CU_ASSERT_EQUAL(policy_act(p, obs, goal, 0, 1, NULL, again), -1);
    CU_ASSERT_EQUAL(policy_act(p, obs, goal, 1, 0, NULL, again), -1); /* stochastic needs an rng */
    int hidden_bad[1] = {0};
    CU_ASSERT_PTR_NULL(policy_new(O, G, A, hidden_bad, 1, B, err, sizeof err));
    policy_free(NULL);
    policy_free(p);
    ref_batch_free(&rb);
    learner_free(L);
}

int main(void) {
    const test_case_t cases[] = {
        {"common/policy acts as the learner's policy", test_policy_matches_learner}, {NULL, NULL}};
    return test_run_suite("learner_policy", cases);
}
