/* test_learner_grad: the gradients an update descends, against central finite differences of the
 * losses learner_compute reports: critic loss wrt both critics, policy loss wrt the policy, outcome
 * model loss wrt the model (global and state-dependent log-std) and alpha loss wrt log-alpha. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "learner_core.h"
#include "test_learner_ref.h"
#include "testutil.h"

enum { B = 6 };

typedef enum { LOSS_CRITIC, LOSS_POLICY, LOSS_MODEL, LOSS_ALPHA } loss_id_t;

typedef struct {
    learner_t *L;
    ref_batch_t batch;
    float noise_pi[64], noise_next[64];
} fixture_t;

static void fixture_init_family(fixture_t *f, learner_variant_t variant, int state_log_std,
                                int laplace) {
    learner_config_t c;
    learner_config_default(&c);
    c.model_laplace = laplace;
    c.variant = variant;
    c.obs_dim = 3, c.goal_dim = 2, c.action_dim = 2;
    c.batch_size = 16;
    c.policy_hidden[0] = 8, c.policy_hidden[1] = 8, c.n_policy_hidden = 2;
    c.critic_hidden[0] = 8, c.critic_hidden[1] = 6, c.n_critic_hidden = 2;
    c.model_hidden[0] = 8, c.n_model_hidden = 1;
    c.model_state_log_std = state_log_std;
    c.seed = 3;
    char err[256];
    f->L = learner_new(&c, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(f->L);
    learner_set_log_alpha(f->L, -0.5f);
    rng_t rng;
    rng_seed(&rng, 77, 1);
    ref_batch_random(&f->batch, &c, B, &rng, 1.0f);
    for (int i = 0; i < B * c.action_dim; i++) {
        f->noise_pi[i] = rng_normal(&rng);
        f->noise_next[i] = rng_normal(&rng);
    }
    float *ls = learner_model_log_std(f->L);
    if (ls) ls[0] = 0.3f, ls[1] = -0.4f;
}

static void fixture_init(fixture_t *f, learner_variant_t variant, int state_log_std) {
    fixture_init_family(f, variant, state_log_std, 0);
}

static double loss_of(fixture_t *f, loss_id_t which) {
    learner_losses_t l;
    char err[256];
    int rc = learner_compute(f->L, &f->batch.b, f->noise_pi, f->noise_next, &l, err, sizeof err);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    switch (which) {
    case LOSS_CRITIC:
        return l.critic_loss;
    case LOSS_POLICY:
        return l.policy_loss;
    case LOSS_MODEL:
        return l.model_loss;
    default:
        return l.alpha_loss;
    }
}

/* Relative error ||fd - analytic|| / (||fd|| + ||analytic||) over every parameter in params (n),
 * whose analytic gradient is grad (copied before perturbing). */
static double check_params(fixture_t *f, loss_id_t which, float *params, const float *grad_live,
                           size_t n, double h) {
    loss_of(f, which);
    float *grad = malloc(n * sizeof(float));
    memcpy(grad, grad_live, n * sizeof(float));
    double num = 0.0, den_fd = 0.0, den_an = 0.0;
    for (size_t i = 0; i < n; i++) {
        float saved = params[i];
        params[i] = saved + (float)h;
        double up = loss_of(f, which);
        params[i] = saved - (float)h;
        double down = loss_of(f, which);
        params[i] = saved;
        /* the perturbation actually applied, in float */
        double step = (double)(saved + (float)h) - (double)(saved - (float)h);
        double fd = (up - down) / step;
        num += (fd - grad[i]) * (fd - grad[i]);
        den_fd += fd * fd;
        den_an += (double)grad[i] * grad[i];
    }
    free(grad);
    CU_ASSERT(den_an > 0.0); /* a gradient that is all zero would pass trivially */
    double rel = sqrt(num) / (sqrt(den_fd) + sqrt(den_an) + 1e-30);
    return rel;
}

static void fixture_free(fixture_t *f) {
    learner_free(f->L);
    ref_batch_free(&f->batch);
}

#define H 2e-3
#define TOL 1e-3

static void test_critic_grad(void) {
    fixture_t f;
    fixture_init(&f, LEARNER_ODAC, 0);
    for (int k = LEARNER_NET_Q1; k <= LEARNER_NET_Q2; k++) {
        nn_mlp_t *q = learner_net(f.L, (learner_net_id_t)k);
        double rel = check_params(&f, LOSS_CRITIC, q->params, learner_grad(f.L, k), q->n_params, H);
        printf("\n    critic Q%d: relative error %.2e ", k, rel);
        CU_ASSERT(rel < TOL);
    }
    fixture_free(&f);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Shifts Q2's output bias so that min(Q1, Q2)(s, g, a~) is Q1 on about half the rows and Q2 on
 * the rest (both paths of the policy gradient are then exercised); checks it with a scalar
 * forward. */
static void split_min_critic(fixture_t *f) {
    const learner_config_t *c = learner_config(f->L);
    int O = c->obs_dim, G = c->goal_dim, A = c->action_dim;
    double diff[B], sorted[B];
    nn_mlp_t *q2 = learner_net(f->L, LEARNER_NET_Q2);
    for (int pass = 0; pass < 2; pass++) {
        int n_q2 = 0;
        for (int i = 0; i < B; i++) {
            double in[16], head[8], a[4], q1, q2v;
            for (int j = 0; j < O; j++) in[j] = f->batch.b.obs[i * O + j];
            for (int j = 0; j < G; j++) in[O + j] = f->batch.b.goals[i * G + j];
            ref_mlp_net(learner_net(f->L, LEARNER_NET_POLICY), in, head);
            ref_tanh_gaussian(head, f->noise_pi + i * A, A, a);
            for (int j = 0; j < A; j++) in[O + G + j] = a[j];
            ref_mlp_net(learner_net(f->L, LEARNER_NET_Q1), in, &q1);
            ref_mlp_net(q2, in, &q2v);
            diff[i] = sorted[i] = q2v - q1;
            n_q2 += q2v < q1;
        }
        if (pass == 1) {
            CU_ASSERT(n_q2 > 0 && n_q2 < B);
            break;
        }
        qsort(sorted, B, sizeof sorted[0], cmp_double);
        /* halfway between two middle differences: no row sits on the tie */
        q2->b[q2->n_layers - 1][0] -= (float)(0.5 * (sorted[B / 2 - 1] + sorted[B / 2]));
    }
    (void)diff;
}

static void test_policy_grad(void) {
    const learner_variant_t variants[] = {LEARNER_ODAC, LEARNER_HER_SPARSE};
    for (int v = 0; v < 2; v++) {
        fixture_t f;
        fixture_init(&f, variants[v], 0);
        split_min_critic(&f);
        nn_mlp_t *p = learner_net(f.L, LEARNER_NET_POLICY);
        double rel = check_params(&f, LOSS_POLICY, p->params, learner_grad(f.L, LEARNER_NET_POLICY),
                                  p->n_params, H);
        printf("\n    policy (%s): relative error %.2e ", learner_variant_name(variants[v]), rel);
        CU_ASSERT(rel < TOL);
        fixture_free(&f);
    }
}

static void test_model_grad(void) {
    for (int state = 0; state < 2; state++) {
        fixture_t f;
        fixture_init(&f, LEARNER_ODAC, state);
        nn_mlp_t *m = learner_net(f.L, LEARNER_NET_MODEL);
        CU_ASSERT_PTR_NOT_NULL_FATAL(m);
        double rel = check_params(&f, LOSS_MODEL, m->params, learner_grad(f.L, LEARNER_NET_MODEL),
                                  m->n_params, H);
        printf("\n    model (%s log-std): relative error %.2e ", state ? "state" : "global", rel);
        CU_ASSERT(rel < TOL);
        if (!state) {
            float *ls = learner_model_log_std(f.L);
            CU_ASSERT_PTR_NOT_NULL_FATAL(ls);
            rel = check_params(&f, LOSS_MODEL, ls, learner_model_log_std_grad(f.L), 2, H);
            printf("log-std: %.2e ", rel);
            CU_ASSERT(rel < TOL);
            /* A raw log-std far past the lower bound (-2) still gets its gradient: the smooth
             * bound never sticks (a hard clamp gave 0 there, and Adam's momentum kept it out). */
            ls[1] = -3.0f;
            rel = check_params(&f, LOSS_MODEL, ls, learner_model_log_std_grad(f.L), 2, H);
            printf("past the bound: %.2e ", rel);
            CU_ASSERT(rel < TOL);
            CU_ASSERT(learner_model_log_std_grad(f.L)[1] != 0.0f);
            CU_ASSERT(learner_model_log_std_grad(f.L)[0] != 0.0f);
        } else {
            CU_ASSERT_PTR_NULL(learner_model_log_std(f.L));
        }
        fixture_free(&f);
    }
    /* The Laplace model: its mean and log-scale gradients, global and state-dependent. */
    for (int state = 0; state < 2; state++) {
        fixture_t f;
        fixture_init_family(&f, LEARNER_ODAC, state, 1);
        nn_mlp_t *m = learner_net(f.L, LEARNER_NET_MODEL);
        double rel = check_params(&f, LOSS_MODEL, m->params, learner_grad(f.L, LEARNER_NET_MODEL),
                                  m->n_params, H);
        printf("\n    laplace model (%s log-scale): relative error %.2e ",
               state ? "state" : "global", rel);
        CU_ASSERT(rel < TOL);
        if (!state) {
            float *ls = learner_model_log_std(f.L);
            rel = check_params(&f, LOSS_MODEL, ls, learner_model_log_std_grad(f.L), 2, H);
            printf("log-scale: %.2e ", rel);
            CU_ASSERT(rel < TOL);
        }
        fixture_free(&f);
    }
    /* variants without a learned model have none */
    fixture_t f;
    fixture_init(&f, LEARNER_FIXED_MODEL, 0);
    CU_ASSERT_PTR_NULL(learner_net(f.L, LEARNER_NET_MODEL));
    CU_ASSERT_DOUBLE_EQUAL(loss_of(&f, LOSS_MODEL), 0.0, 0.0);
    fixture_free(&f);
}

static void test_alpha_grad(void) {
    fixture_t f;
    fixture_init(&f, LEARNER_ODAC, 0);
    for (int k = 0; k < 3; k++) {
        float la = -1.0f + 0.8f * k;
        learner_set_log_alpha(f.L, la);
        loss_of(&f, LOSS_ALPHA);
        double an = learner_log_alpha_grad(f.L);
        double h = 1e-2;
        learner_set_log_alpha(f.L, la + (float)h);
        double up = loss_of(&f, LOSS_ALPHA);
        learner_set_log_alpha(f.L, la - (float)h);
        double down = loss_of(&f, LOSS_ALPHA);
        double fd = (up - down) / ((double)(la + (float)h) - (double)(la - (float)h));
        CU_ASSERT_DOUBLE_EQUAL(fd, an, 1e-4 * (1.0 + fabs(an)));
        CU_ASSERT(an != 0.0);
    }
    fixture_free(&f);
}

int main(void) {
    const test_case_t cases[] = {{"critic loss gradient", test_critic_grad},
                                 {"policy loss gradient", test_policy_grad},
                                 {"outcome model loss gradient", test_model_grad},
                                 {"alpha loss gradient", test_alpha_grad},
                                 {NULL, NULL}};
    return test_run_suite("learner_grad", cases);
}
