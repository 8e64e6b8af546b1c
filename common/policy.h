/* policy: the actor-side tanh-Gaussian policy pi(a | s, g), inference only. It is built from the
 * same sizes as the learner's policy MLP (input obs ++ goal, hidden layers, output mean ++ raw
 * log-std of 2 * action_dim) and loads the learner's flat parameter block (learner_policy_params)
 * as published, so actors never link the learner. All buffers are allocated by policy_new:
 * policy_load_params and policy_act allocate nothing. */
#ifndef ODAC_POLICY_H
#define ODAC_POLICY_H
#include <stddef.h>
#include "rng.h"

typedef struct policy policy_t;

/* A policy for batches of up to max_batch rows, its parameters zero until policy_load_params.
 * NULL with a message on bad sizes or allocation failure. */
policy_t *policy_new(int obs_dim, int goal_dim, int action_dim, const int *hidden, int n_hidden,
                     int max_batch, char *err, size_t errcap);
void policy_free(policy_t *p); /* accepts NULL */
/* Floats a parameter block for these sizes holds (nn_mlp_param_count of the MLP). */
size_t policy_param_count(const policy_t *p);
/* Copies n floats of data (layout of nn_mlp_t.params: per layer W (in, out) then b) into the
 * policy. 0; or -1, the policy unchanged, when n is not policy_param_count or a value is not
 * finite. */
int policy_load_params(policy_t *p, const float *data, size_t n);
/* Input normalisation of the weights in use: the network sees clip((obs - obs_mean) / obs_std,
 * +-clip) ++ the same of the goal (normalizer.h). The arrays (obs_dim, obs_dim, goal_dim,
 * goal_dim) are copied; obs_mean NULL turns normalisation off (the default). 0, or -1, the
 * policy unchanged, for a NULL array among the others, a non-finite value, a std or clip that is
 * not positive. */
int policy_set_normalization(policy_t *p, const float *obs_mean, const float *obs_std,
                             const float *goal_mean, const float *goal_std, float clip);
/* actions (B, action_dim) for obs (B, obs_dim) and goal (B, goal_dim): tanh(mean) when
 * deterministic (rng unused, may be NULL), else tanh(mean + std * noise) with noise ~ N(0, 1) from
 * rng (B * action_dim draws, row-major, as the learner draws its policy noise). 0, or -1 when B is
 * outside [1, max_batch] or a buffer is NULL. */
int policy_act(policy_t *p, const float *obs, const float *goal, int B, int deterministic,
               rng_t *rng, float *actions);

#endif
