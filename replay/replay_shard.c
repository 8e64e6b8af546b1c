/* replay_shard: a shard's store, rate limiter, counters and checkpoints, with no sockets.
 *
 * Checkpoint payload (little-endian, native floats), written through ckpt_file (atomic,
 * versioned, checksummed):
 *   header: env name[32], u32 obs_dim, goal_dim, action_dim, horizon, shard_id,
 *           counters (replay_shard_counters_t fields as u64), limiter inserted/sampled (u64),
 *           rng state (4 x u64), evicted episodes (u64), first stored seq (u64),
 *           stored episodes (u64)
 *   then per episode, oldest first: u32 T, u64 policy_version, observations (T+1) x obs_dim,
 *           achieved goals (T+1) x goal_dim, actions T x action_dim, desired goal goal_dim. */
#include "replay_shard.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ckpt_file.h"

#define CKPT_MAGIC 0x4f445250u /* "ODRP" */
#define CKPT_VERSION 1u

static replay_store_t *new_store(const replay_shard_config_t *cfg, char *err, size_t errcap) {
    replay_store_config_t sc = {.obs_dim = (int)cfg->dims.obs_dim,
                                .goal_dim = (int)cfg->dims.goal_dim,
                                .action_dim = (int)cfg->dims.action_dim,
                                .horizon = (int)cfg->dims.horizon,
                                .capacity = cfg->capacity,
                                .future_p = cfg->future_p,
                                .env_goal_p = cfg->env_goal_p,
                                .goal_sampler = cfg->goal_sampler,
                                .goal_sampler_ctx = cfg->goal_sampler_ctx};
    return replay_store_new(&sc, err, errcap);
}

double replay_default_tolerance(const replay_shard_config_t *cfg) {
    double t = 4.0 * (cfg->samples_per_insert > 0 ? cfg->samples_per_insert : 0) *
               (double)cfg->dims.horizon;
    return t > cfg->max_batch ? t : (double)cfg->max_batch;
}

replay_shard_t *replay_shard_new(const replay_shard_config_t *cfg, char *err, size_t errcap) {
    if (cfg->max_batch < 1 || cfg->max_batch > (int)WIRE_MAX_BATCH) {
        snprintf(err, errcap, "replay shard: max batch %d outside [1, %u]", cfg->max_batch,
                 WIRE_MAX_BATCH);
        return NULL;
    }
    if (cfg->min_size > cfg->capacity) {
        snprintf(err, errcap, "replay shard: min size %lld exceeds the capacity %lld",
                 (long long)cfg->min_size, (long long)cfg->capacity);
        return NULL;
    }
    replay_shard_config_t c = *cfg;
    int tolerance_auto = c.tolerance <= 0;
    if (tolerance_auto) c.tolerance = replay_default_tolerance(&c);
    cfg = &c;
    if (cfg->samples_per_insert > 0 && cfg->tolerance < cfg->max_batch / 2.0) {
        snprintf(err, errcap,
                 "replay shard: tolerance %g is below half the max batch (%d): sampling and "
                 "inserting could both be refused forever",
                 cfg->tolerance, cfg->max_batch);
        return NULL;
    }
    replay_shard_t *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errcap, "replay shard: out of memory");
        return NULL;
    }
    s->cfg = *cfg;
    s->tolerance_auto = tolerance_auto;
    s->store = new_store(cfg, err, errcap);
    if (!s->store) goto fail;
    if (replay_ratelimit_init(&s->limiter, cfg->samples_per_insert, cfg->tolerance, cfg->min_size,
                              err, errcap) != 0)
        goto fail;
    rng_seed(&s->rng, cfg->seed, 0x5245504c00000000ULL + cfg->shard_id);
    size_t B = (size_t)cfg->max_batch, od = cfg->dims.obs_dim, gd = cfg->dims.goal_dim,
           ad = cfg->dims.action_dim;
    replay_shard_batch_t *b = &s->batch;
    b->obs = malloc(sizeof(float) * B * od);
    b->next_obs = malloc(sizeof(float) * B * od);
    b->actions = malloc(sizeof(float) * B * ad);
    b->achieved_goal = malloc(sizeof(float) * B * gd);
    b->next_achieved_goal = malloc(sizeof(float) * B * gd);
    b->goal = malloc(sizeof(float) * B * gd);
    if (!b->obs || !b->next_obs || !b->actions || !b->achieved_goal || !b->next_achieved_goal ||
        !b->goal) {
        snprintf(err, errcap, "replay shard: out of memory for batch buffers");
        goto fail;
    }
    b->view = (replay_batch_t){
        b->obs, b->actions, b->next_obs, b->achieved_goal, b->next_achieved_goal, b->goal};
    for (int i = 0; i < REPLAY_N_REASONS; i++) {
        odac__reject_count__init(&s->reject_msgs[i]);
        s->reject_ptrs[i] = &s->reject_msgs[i];
    }
    return s;
fail:
    replay_shard_free(s);
    return NULL;
}

void replay_shard_free(replay_shard_t *s) {
    if (!s) return;
    replay_store_free(s->store);
    free(s->batch.obs);
    free(s->batch.next_obs);
    free(s->batch.actions);
    free(s->batch.achieved_goal);
    free(s->batch.next_achieved_goal);
    free(s->batch.goal);
    free(s);
}

int replay_shard_insert(replay_shard_t *s, const Odac__Episode *ep, char *err, size_t errcap) {
    const wire_dims_t *d = &s->cfg.dims;
    size_t T = ep->length;
    if (T < 1 || T > d->horizon || ep->n_observations != (T + 1) * d->obs_dim ||
        ep->n_achieved_goals != (T + 1) * d->goal_dim || ep->n_actions != T * d->action_dim ||
        ep->n_desired_goal != d->goal_dim) {
        snprintf(err, errcap, "episode of length %zu does not match the run's dims", T);
        replay_shard_count_reject(s, WIRE_REJECT_DIMS);
        return -1;
    }
    if (replay_store_insert(s->store, (int)T, ep->observations, ep->achieved_goals, ep->actions,
                            ep->desired_goal, ep->policy_version, err, errcap) < 0) {
        replay_shard_count_reject(s, WIRE_REJECT_DIMS);
        return -1;
    }
    replay_ratelimit_on_insert(&s->limiter, (int64_t)T);
    s->counters.inserted_transitions += T;
    s->counters.inserted_episodes++;
    if (ep->policy_version > s->counters.max_policy_version)
        s->counters.max_policy_version = ep->policy_version;
    return 0;
}

void replay_shard_count_reject(replay_shard_t *s, wire_reject_t reason) {
    if ((int)reason > 0 && (int)reason < REPLAY_N_REASONS) s->counters.rejected[reason]++;
}

int replay_shard_can_sample(const replay_shard_t *s, int B) {
    return replay_store_size_transitions(s->store) > 0 &&
           replay_ratelimit_can_sample(&s->limiter, B);
}

int replay_shard_can_insert(const replay_shard_t *s) {
    return replay_ratelimit_can_insert(&s->limiter);
}

int replay_shard_set_ratio(replay_shard_t *s, double samples_per_insert, char *err, size_t errcap) {
    if (!(samples_per_insert > 0)) {
        snprintf(err, errcap, "replay shard: samples per insert %g must be above 0",
                 samples_per_insert);
        return -1;
    }
    replay_shard_config_t c = s->cfg;
    c.samples_per_insert = samples_per_insert;
    if (s->tolerance_auto) c.tolerance = replay_default_tolerance(&c);
    if (replay_ratelimit_set_ratio(&s->limiter, c.samples_per_insert, c.tolerance, err, errcap))
        return -1;
    s->cfg = c;
    return 0;
}

int replay_shard_sample(replay_shard_t *s, int B, char *err, size_t errcap) {
    if (B < 1 || B > s->cfg.max_batch) {
        snprintf(err, errcap, "batch size %d outside [1, %d]", B, s->cfg.max_batch);
        return -1;
    }
    if (replay_store_sample(s->store, &s->rng, B, &s->batch.view, NULL, err, errcap) != 0)
        return -1;
    replay_ratelimit_on_sample(&s->limiter, B);
    s->counters.sampled_transitions += (uint64_t)B;
    return 0;
}

void replay_shard_stats(replay_shard_t *s, Odac__ShardStats *st) {
    odac__shard_stats__init(st);
    const replay_shard_counters_t *c = &s->counters;
    st->protocol_version = WIRE_PROTOCOL_VERSION;
    st->shard_id = s->cfg.shard_id;
    st->size_transitions = (uint64_t)replay_store_size_transitions(s->store);
    st->size_episodes = (uint64_t)replay_store_size_episodes(s->store);
    st->inserted_transitions = c->inserted_transitions;
    st->inserted_episodes = c->inserted_episodes;
    st->sampled_transitions = c->sampled_transitions;
    st->evicted_episodes = replay_store_evicted_episodes(s->store);
    /* Every reason is listed, zeros included, so readers see the full set. */
    for (int i = 1; i < REPLAY_N_REASONS; i++) {
        s->reject_msgs[i].reason = (char *)wire_reject_name((wire_reject_t)i);
        s->reject_msgs[i].count = c->rejected[i];
    }
    st->n_rejected = REPLAY_N_REASONS - 1;
    st->rejected = s->reject_ptrs + 1;
    st->sample_waits = c->sample_waits;
    st->insert_waits = c->insert_waits;
    st->max_policy_version = c->max_policy_version;
}

void replay_shard_checkpoint_path(const replay_shard_t *s, const char *dir, char *path,
                                  size_t cap) {
    snprintf(path, cap, "%s/replay-shard-%u.ckpt", dir, s->cfg.shard_id);
}

/* ---- checkpoint ---- */

typedef struct {
    char env_name[32];
    uint32_t obs_dim, goal_dim, action_dim, horizon, shard_id, pad;
    replay_shard_counters_t counters;
    uint64_t limiter_inserted, limiter_sampled;
    uint64_t rng_state[4];
    uint64_t evicted, first_seq, n_episodes;
} ckpt_header_t;

int replay_shard_save(replay_shard_t *s, const char *dir, char *err, size_t errcap) {
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        snprintf(err, errcap, "checkpoint dir %s: %s", dir, strerror(errno));
        return -1;
    }
    char path[1024];
    replay_shard_checkpoint_path(s, dir, path, sizeof path);
    ckpt_writer_t *w = ckpt_writer_open(path, CKPT_MAGIC, CKPT_VERSION, err, errcap);
    if (!w) return -1;
    const wire_dims_t *d = &s->cfg.dims;
    ckpt_header_t h;
    memset(&h, 0, sizeof h);
    snprintf(h.env_name, sizeof h.env_name, "%s", d->env_name);
    h.obs_dim = d->obs_dim;
    h.goal_dim = d->goal_dim;
    h.action_dim = d->action_dim;
    h.horizon = d->horizon;
    h.shard_id = s->cfg.shard_id;
    h.counters = s->counters;
    h.limiter_inserted = s->limiter.inserted;
    h.limiter_sampled = s->limiter.sampled;
    memcpy(h.rng_state, s->rng.s, sizeof h.rng_state);
    h.evicted = replay_store_evicted_episodes(s->store);
    h.n_episodes = (uint64_t)replay_store_size_episodes(s->store);
    h.first_seq = replay_store_next_seq(s->store) - h.n_episodes;
    ckpt_writer_write(w, &h, sizeof h);
    for (int64_t i = 0; i < (int64_t)h.n_episodes; i++) {
        replay_episode_view_t v;
        replay_store_episode(s->store, i, &v);
        uint32_t T = (uint32_t)v.length;
        ckpt_writer_write(w, &T, sizeof T);
        ckpt_writer_write(w, &v.policy_version, sizeof v.policy_version);
        ckpt_writer_write(w, v.obs, sizeof(float) * (T + 1) * d->obs_dim);
        ckpt_writer_write(w, v.achieved_goal, sizeof(float) * (T + 1) * d->goal_dim);
        ckpt_writer_write(w, v.actions, sizeof(float) * T * d->action_dim);
        ckpt_writer_write(w, v.desired_goal, sizeof(float) * d->goal_dim);
    }
    return ckpt_writer_commit(&w, err, errcap);
}

int replay_shard_load(replay_shard_t *s, const char *dir, char *err, size_t errcap) {
    char path[1024];
    replay_shard_checkpoint_path(s, dir, path, sizeof path);
    int missing = 0;
    char rerr[512];
    ckpt_reader_t *r =
        ckpt_reader_open(path, CKPT_MAGIC, CKPT_VERSION, &missing, rerr, sizeof rerr);
    if (!r) {
        if (missing) return 0;
        snprintf(err, errcap, "replay %s", rerr);
        return -1;
    }
    const wire_dims_t *d = &s->cfg.dims;
    float *buf = NULL;
    replay_store_t *store = NULL;
    ckpt_header_t h;
    if (ckpt_reader_read(r, &h, sizeof h) != 0) {
        snprintf(err, errcap, "replay checkpoint %s: header truncated", path);
        goto fail;
    }
    h.env_name[sizeof h.env_name - 1] = 0;
    if (strcmp(h.env_name, d->env_name) != 0 || h.obs_dim != d->obs_dim ||
        h.goal_dim != d->goal_dim || h.action_dim != d->action_dim || h.horizon != d->horizon) {
        snprintf(err, errcap,
                 "replay checkpoint %s: written for env %s (obs %u goal %u action %u horizon "
                 "%u), this run is %s (obs %u goal %u action %u horizon %u)",
                 path, h.env_name, h.obs_dim, h.goal_dim, h.action_dim, h.horizon, d->env_name,
                 d->obs_dim, d->goal_dim, d->action_dim, d->horizon);
        goto fail;
    }
    if (!(h.rng_state[0] | h.rng_state[1] | h.rng_state[2] | h.rng_state[3])) {
        /* xoshiro256 from an all-zero state returns only zeros: sampling would never end. */
        snprintf(err, errcap, "replay checkpoint %s: sampling rng state is all zero", path);
        goto fail;
    }
    store = new_store(&s->cfg, err, errcap);
    if (!store) goto fail;
    size_t H = d->horizon;
    size_t max_floats = (H + 1) * (d->obs_dim + d->goal_dim) + H * d->action_dim + d->goal_dim;
    buf = malloc(sizeof(float) * max_floats);
    if (!buf) {
        snprintf(err, errcap, "replay checkpoint: out of memory");
        goto fail;
    }
    replay_store_set_counters(store, h.first_seq, h.evicted);
    for (uint64_t i = 0; i < h.n_episodes; i++) {
        uint32_t T;
        uint64_t policy_version;
        if (ckpt_reader_read(r, &T, sizeof T) != 0 ||
            ckpt_reader_read(r, &policy_version, sizeof policy_version) != 0) {
            snprintf(err, errcap, "replay checkpoint %s: episode %llu truncated", path,
                     (unsigned long long)i);
            goto fail;
        }
        if (T < 1 || T > H) {
            snprintf(err, errcap, "replay checkpoint %s: episode %llu has length %u", path,
                     (unsigned long long)i, T);
            goto fail;
        }
        size_t n_obs = (T + 1) * (size_t)d->obs_dim, n_ag = (T + 1) * (size_t)d->goal_dim,
               n_act = T * (size_t)d->action_dim;
        size_t n = n_obs + n_ag + n_act + d->goal_dim;
        if (ckpt_reader_read(r, buf, sizeof(float) * n) != 0) {
            snprintf(err, errcap, "replay checkpoint %s: episode %llu truncated", path,
                     (unsigned long long)i);
            goto fail;
        }
        /* Older episodes than the capacity allows (a smaller --capacity) are evicted here. */
        if (replay_store_insert(store, (int)T, buf, buf + n_obs, buf + n_obs + n_ag,
                                buf + n_obs + n_ag + n_act, policy_version, err, errcap) < 0)
            goto fail;
    }
    if (ckpt_reader_remaining(r) != 0) {
        snprintf(err, errcap, "replay checkpoint %s: %zu unexpected bytes after the episodes", path,
                 ckpt_reader_remaining(r));
        goto fail;
    }
    free(buf);
    ckpt_reader_close(&r);
    replay_store_free(s->store);
    s->store = store;
    s->counters = h.counters;
    s->limiter.inserted = h.limiter_inserted;
    s->limiter.sampled = h.limiter_sampled;
    memcpy(s->rng.s, h.rng_state, sizeof h.rng_state);
    return 1;
fail:
    free(buf);
    replay_store_free(store);
    ckpt_reader_close(&r);
    return -1;
}
