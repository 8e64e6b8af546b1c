/* learner_stats: running sums, minima and maxima of the per-update statistics, cheap enough to feed
 * every update, turned into means on request (learner_stats_summary) and then reset. */
#include "learner_internal.h"
#include <math.h>
#include <string.h>

void learner_acc_reset(learner_acc_t *a) {
    a->sum = 0.0;
    a->min = INFINITY;
    a->max = -INFINITY;
    a->n = 0;
}

void learner_acc_add(learner_acc_t *a, double x) {
    a->sum += x;
    if (x < a->min) a->min = x;
    if (x > a->max) a->max = x;
    a->n++;
}

void learner_stats_reset(learner_stats_t *s) {
    s->updates = 0;
    learner_acc_t *all[] = {&s->critic_loss, &s->policy_loss,  &s->alpha,
                            &s->entropy,     &s->model_nll,    &s->model_log_std,
                            &s->reward,      &s->reward_scale, &s->discount,
                            &s->q,           &s->target};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) learner_acc_reset(all[i]);
}

static learner_stat_t summarise(const learner_acc_t *a) {
    learner_stat_t s = {0.0, 0.0, 0.0};
    if (a->n > 0) {
        s.mean = a->sum / (double)a->n;
        s.min = a->min;
        s.max = a->max;
    }
    return s;
}

void learner_stats_summary(learner_t *L, learner_summary_t *out) {
    const learner_stats_t *s = &L->stats;
    memset(out, 0, sizeof *out);
    out->updates = s->updates;
    out->critic_loss = summarise(&s->critic_loss);
    out->policy_loss = summarise(&s->policy_loss);
    out->alpha = summarise(&s->alpha);
    out->entropy = summarise(&s->entropy);
    out->model_nll = summarise(&s->model_nll);
    out->model_log_std = summarise(&s->model_log_std);
    out->reward = summarise(&s->reward);
    out->reward_scale = summarise(&s->reward_scale);
    out->discount = summarise(&s->discount);
    out->q = summarise(&s->q);
    out->target = summarise(&s->target);
    learner_stats_reset(&L->stats);
}
