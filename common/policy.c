/* policy: actor-side inference of the tanh-Gaussian policy from a published flat parameter block
 * (one nn MLP inference pass on obs ++ goal, then tanh(mean) or a reparameterised sample). */
#include "policy.h"
#include "nn.h"
#include "normalizer.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct policy {
    int obs_dim, goal_dim, action_dim, max_batch;
    nn_mlp_t net;
    nn_mlp_work_t work;
    float *input; /* (max_batch, obs_dim + goal_dim) obs ++ goal */
    float *head;  /* (max_batch, 2 action_dim) mean ++ raw log-std */
    float *noise; /* (max_batch, action_dim) */
    int normalize;
    float norm_clip;
    float *obs_mean, *obs_std, *goal_mean, *goal_std; /* (obs_dim), (obs_dim), (goal_dim) x 2 */
};

policy_t *policy_new(int obs_dim, int goal_dim, int action_dim, const int *hidden, int n_hidden,
                     int max_batch, char *err, size_t errcap) {
    if (obs_dim <= 0 || goal_dim <= 0 || action_dim <= 0 || max_batch <= 0 || n_hidden < 0 ||
        n_hidden + 1 > NN_MAX_LAYERS || (n_hidden > 0 && !hidden)) {
        snprintf(err, errcap,
                 "policy: bad sizes (obs %d, goal %d, action %d, %d hidden layers, batch %d)",
                 obs_dim, goal_dim, action_dim, n_hidden, max_batch);
        return NULL;
    }
    for (int l = 0; l < n_hidden; l++) {
        if (hidden[l] <= 0) {
            snprintf(err, errcap, "policy: hidden[%d] = %d", l, hidden[l]);
            return NULL;
        }
    }
    policy_t *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(err, errcap, "policy: out of memory");
        return NULL;
    }
    p->obs_dim = obs_dim;
    p->goal_dim = goal_dim;
    p->action_dim = action_dim;
    p->max_batch = max_batch;
    rng_t init;
    rng_seed(&init, 0, 0);
    if (nn_mlp_init(&p->net, obs_dim + goal_dim, hidden, n_hidden, 2 * action_dim, &init) ||
        nn_mlp_work_init(&p->work, &p->net, max_batch))
        goto oom;
    memset(p->net.params, 0, p->net.n_params * sizeof(float));
    p->input = malloc((size_t)max_batch * (obs_dim + goal_dim) * sizeof(float));
    p->head = malloc((size_t)max_batch * 2 * action_dim * sizeof(float));
    p->noise = malloc((size_t)max_batch * action_dim * sizeof(float));
    p->obs_mean = calloc((size_t)obs_dim, sizeof(float));
    p->obs_std = calloc((size_t)obs_dim, sizeof(float));
    p->goal_mean = calloc((size_t)goal_dim, sizeof(float));
    p->goal_std = calloc((size_t)goal_dim, sizeof(float));
    if (!p->input || !p->head || !p->noise || !p->obs_mean || !p->obs_std || !p->goal_mean ||
        !p->goal_std)
        goto oom;
    return p;
oom:
    snprintf(err, errcap, "policy: out of memory");
    policy_free(p);
    return NULL;
}

void policy_free(policy_t *p) {
    if (!p) return;
    nn_mlp_free(&p->net);
    nn_mlp_work_free(&p->work);
    free(p->input);
    free(p->head);
    free(p->noise);
    free(p->obs_mean);
    free(p->obs_std);
    free(p->goal_mean);
    free(p->goal_std);
    free(p);
}

size_t policy_param_count(const policy_t *p) {
    return p->net.n_params;
}

int policy_load_params(policy_t *p, const float *data, size_t n) {
    if (!data || n != p->net.n_params) return -1;
    for (size_t i = 0; i < n; i++)
        if (!isfinite(data[i])) return -1;
    memcpy(p->net.params, data, n * sizeof(float));
    return 0;
}

static int all_finite_positive(const float *x, int n, int positive) {
    for (int i = 0; i < n; i++)
        if (!isfinite(x[i]) || (positive && !(x[i] > 0.0f))) return 0;
    return 1;
}

int policy_set_normalization(policy_t *p, const float *obs_mean, const float *obs_std,
                             const float *goal_mean, const float *goal_std, float clip) {
    if (!obs_mean) {
        p->normalize = 0;
        return 0;
    }
    int O = p->obs_dim, G = p->goal_dim;
    if (!obs_std || !goal_mean || !goal_std || !(clip > 0.0f) || !isfinite(clip) ||
        !all_finite_positive(obs_mean, O, 0) || !all_finite_positive(obs_std, O, 1) ||
        !all_finite_positive(goal_mean, G, 0) || !all_finite_positive(goal_std, G, 1))
        return -1;
    memcpy(p->obs_mean, obs_mean, (size_t)O * sizeof(float));
    memcpy(p->obs_std, obs_std, (size_t)O * sizeof(float));
    memcpy(p->goal_mean, goal_mean, (size_t)G * sizeof(float));
    memcpy(p->goal_std, goal_std, (size_t)G * sizeof(float));
    p->norm_clip = clip;
    p->normalize = 1;
    return 0;
}

int policy_act(policy_t *p, const float *obs, const float *goal, int B, int deterministic,
               rng_t *rng, float *actions) {
    if (B < 1 || B > p->max_batch || !obs || !goal || !actions || (!deterministic && !rng))
        return -1;
    int O = p->obs_dim, G = p->goal_dim, A = p->action_dim;
    for (int i = 0; i < B; i++) {
        float *row = p->input + (size_t)i * (O + G);
        if (p->normalize) {
            normalizer_apply(p->obs_mean, p->obs_std, p->norm_clip, O, obs + (size_t)i * O, row, 1);
            normalizer_apply(p->goal_mean, p->goal_std, p->norm_clip, G, goal + (size_t)i * G,
                             row + O, 1);
        } else {
            memcpy(row, obs + (size_t)i * O, (size_t)O * sizeof(float));
            memcpy(row + O, goal + (size_t)i * G, (size_t)G * sizeof(float));
        }
    }
    nn_mlp_infer(&p->net, &p->work, p->input, B, p->head);
    if (deterministic) {
        nn_tanh_gaussian_mode(p->head, B, A, actions);
    } else {
        rng_normal_fill(rng, p->noise, B * A);
        nn_tanh_gaussian_forward(p->head, p->noise, B, A, actions, NULL, NULL);
    }
    return 0;
}
