/* learner_server: the odac-learner process. One thread: a zmq_poll loop that keeps sample requests
 * in flight to every shard, updates on whichever batch is ready, publishes weights, reads actor
 * stats, logs progress and checkpoints. Waiting only happens when no batch is ready, and that
 * time is measured (learner_busy_pct). */
#include "learner_server.h"
#include "ckpt_file.h"
#include "curve.h"
#include "env.h"
#include "flags.h"
#include "heartbeat.h"
#include "learner_core.h"
#include "learner_video.h"
#include "log.h"
#include "nn.h"
#include "tfevents.h"
#include "wire.h"
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_SHARDS 16
#define MAX_ACTORS 1024
#define MAX_READY 64
#define LEARNER_STATS_HWM 256 /* actor stats queued before the learner reads them */

typedef struct {
    char env[FLAGS_STR_MAX], variant[FLAGS_STR_MAX], config[FLAGS_STR_MAX];
    char run_dir[FLAGS_STR_MAX], run_id[FLAGS_STR_MAX], shards[FLAGS_STR_MAX];
    char weights_bind[FLAGS_STR_MAX], stats_bind[FLAGS_STR_MAX], status_endpoint[FLAGS_STR_MAX];
    char hidden[FLAGS_STR_MAX], model_hidden[FLAGS_STR_MAX], heartbeat_file[FLAGS_STR_MAX];
    char run_token[FLAGS_STR_MAX], keys[FLAGS_STR_MAX];
    int insecure;
    double request_timeout_s;
    long long seed, max_env_steps, batch_size, publish_every, checkpoint_every, prefetch, threads,
        pool_min_width;
    long long time_kl_sign, max_updates, video_every;
    int resume, check, clamp_discount, model_state_log_std, normalize, clip_target;
    int tensorboard;
    double target_distance, log_every_s, gamma, tau, lr_policy, lr_critic, lr_alpha, lr_model;
    double reward_scale, reward_scale_k, fixed_alpha, target_entropy, her_eps, model_std_min;
    double model_std_max;
    double norm_clip, random_eps, action_noise;
    long long random_steps;
} options_t;

#define MAX_PREFETCH 16

/* A sample request waiting for its answer. */
typedef struct {
    uint64_t id;
    double sent_s;
} request_t;

typedef struct {
    void *sock;
    char endpoint[FLAGS_STR_MAX];
    request_t in_flight[MAX_PREFETCH]; /* requests sent and not answered, oldest first */
    int n_in_flight;
    double retry_at;     /* no requests before this (the shard refused the last one) */
    double silent_since; /* > 0: requests timed out and no answer came since */
    double last_refusal_log;
    uint64_t batches, size_transitions, inserted, sample_waits;
    uint64_t timeouts, expired, refused, late;
    uint64_t inserted_offset; /* added to the shard's count after it went back (restart) */
} shard_t;

typedef struct {
    uint32_t id;
    uint64_t env_steps, episodes, policy_version, dropped;
    double last_seen; /* now_s() of its last stats */
} actor_info_t;

/* The columns of progress.csv (names and formats: progress_cols below). */
enum {
    COL_WALL_TIME,
    COL_ENV_STEPS,
    COL_UPDATES,
    COL_UPDATES_PER_S,
    COL_ENV_STEPS_PER_S,
    COL_EVAL_DISTANCE_MEAN,
    COL_EVAL_DISTANCE_STD,
    COL_EVAL_SUCCESS_RATE,
    COL_EVAL_POLICY_VERSION,
    COL_CRITIC_LOSS,
    COL_POLICY_LOSS,
    COL_ALPHA,
    COL_ENTROPY,
    COL_MODEL_NLL,
    COL_MODEL_LOG_STD,
    COL_REWARD_MEAN,
    COL_DISCOUNT_MEAN,
    COL_DISCOUNT_MIN,
    COL_REWARD_SCALE,
    COL_Q_MEAN,
    COL_TARGET_MEAN,
    COL_REPLAY_SIZE,
    COL_POLICY_LAG,
    COL_BUSY_PCT,
    COL_ACTOR_ENV_STEPS,
    COL_EPISODES_DROPPED,
    N_FIXED_COLS
};
#define PROGRESS_MAX_COLS (N_FIXED_COLS + ENV_DIAG_MAX)

/* One progress row: names, the cells as written to progress.csv, each read back as a float. */
typedef struct {
    int n;
    const char *name[PROGRESS_MAX_COLS];
    char cell[PROGRESS_MAX_COLS][48];
    float value[PROGRESS_MAX_COLS]; /* each cell read back (strtof): what TensorBoard gets */
    char diag_name[ENV_DIAG_MAX][64];
} progress_row_t;

typedef struct {
    options_t o;
    learner_config_t cfg;
    env_spec_t spec;
    wire_dims_t dims;
    learner_t *learner;
    void *zctx, *pub, *stats_pull, *status_sock;
    shard_t shards[MAX_SHARDS];
    int n_shards, next_shard;
    Odac__SampleBatch *ready[MAX_READY];
    int ready_head, n_ready;
    actor_info_t actors[MAX_ACTORS];
    int n_actors;
    uint64_t retired_env_steps;  /* steps of actors that restarted (their counters reset) */
    uint64_t restored_env_steps; /* env steps when the checkpoint we resumed from was written */
    uint64_t publish_version, request_id;
    wire_rejects_t rejects;  /* batches and stats refused by the wire decoders, by reason */
    uint64_t rejected_token; /* stats without this run's token */
    double last_token_log;
    uint64_t token_unlogged;
    /* evaluation */
    int have_eval;
    Odac__EvalReport last_eval;    /* its diag_mean points nowhere: the values are in eval_diag */
    float eval_diag[ENV_DIAG_MAX]; /* the env's diagnostics in the last evaluation (NaN: none) */
    double best_eval;
    /* timing */
    double start_wall, wall_offset, first_batch_time, idle_s, busy_s;
    double last_log, last_publish_time, last_log_updates_t;
    long long last_log_updates;
    uint64_t last_log_env_steps;
    char run_path[FLAGS_STR_MAX * 2 + 8];
    FILE *progress;
    progress_row_t last_row; /* the last row written (n 0: none yet), for status queries */
    tfevents_t *events;      /* TensorBoard event file of this process (NULL: --no-tensorboard) */
    heartbeat_t heartbeat;
    learner_video_t video; /* --video-every */
    int video_due;         /* an evaluation made a video due: film at the next loop turn */
} server_t;

static volatile sig_atomic_t stop_signal;
static void on_signal(int sig) {
    stop_signal = sig;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int parse_hidden(const char *text, int *out, int *n, const char *what, char *err,
                        size_t errcap) {
    *n = 0;
    const char *p = text;
    while (*p) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || *p == '+' || *p == '-' || *p == ' ' || v < 1 || v > 4096 ||
            *n >= LEARNER_MAX_HIDDEN) {
            snprintf(err, errcap, "--%s '%s': expected 1..%d comma-separated sizes in [1, 4096]",
                     what, text, LEARNER_MAX_HIDDEN);
            return -1;
        }
        out[(*n)++] = (int)v;
        if (*end && *end != ',') {
            snprintf(err, errcap, "--%s '%s': unexpected '%c'", what, text, *end);
            return -1;
        }
        if (*end == ',' && !end[1]) {
            snprintf(err, errcap, "--%s '%s': trailing comma (expected sizes like 400,300)", what,
                     text);
            return -1;
        }
        p = *end == ',' ? end + 1 : end;
    }
    if (*n == 0) {
        snprintf(err, errcap, "--%s: empty", what);
        return -1;
    }
    return 0;
}

static void format_hidden(char *out, size_t cap, const int *h, int n) {
    size_t len = 0;
    out[0] = '\0';
    for (int i = 0; i < n; i++) len += snprintf(out + len, cap - len, "%s%d", i ? "," : "", h[i]);
}

/* The option table over s->o; the hyperparameter defaults are filled from the per-env config
 * before the second parse, so flags only override what the user set. */
static int build_table(options_t *o, flag_t *t) {
    int n = 0;
#define F(name, type, dest, lo, hi, help) t[n++] = (flag_t){name, type, dest, lo, hi, help}
    F("env", FLAG_STRING, o->env, 0, -1, "environment (box2d, ant, sawyer-push, fetch-push, ...)");
    F("variant", FLAG_STRING, o->variant, 0, -1,
      "odac, fixed-model, fixed-discount, both-fixed, her-sparse, her-distance");
    F("config", FLAG_STRING, o->config, 0, -1, "JSON file whose keys are these option names");
    F("run-dir", FLAG_STRING, o->run_dir, 0, -1, "directory holding runs");
    F("run-id", FLAG_STRING, o->run_id, 0, -1, "run name (default <env>-<variant>-<seed>)");
    F("shards", FLAG_STRING, o->shards, 0, -1, "comma-separated sample endpoints of the shards");
    F("weights-bind", FLAG_STRING, o->weights_bind, 0, -1, "PUB endpoint for policy weights");
    F("stats-bind", FLAG_STRING, o->stats_bind, 0, -1, "PULL endpoint for actor stats");
    F("status-endpoint", FLAG_STRING, o->status_endpoint, 0, -1,
      "endpoint the learner binds for `odac status` queries (ROUTER; CURVE with --keys; empty: "
      "none)");
    F("resume", FLAG_BOOL, &o->resume, 0, -1, "continue the run from its checkpoint");
    F("check", FLAG_BOOL, &o->check, 0, -1,
      "validate the options, config and env, then exit (0: it would start; 2: why not)");
    F("seed", FLAG_INT, &o->seed, 0, 2147483647, "run seed");
    F("max-env-steps", FLAG_INT, &o->max_env_steps, 1, 1e13, "stop after this many env steps");
    F("max-updates", FLAG_INT, &o->max_updates, 0, 1e13,
      "stop after this many updates (0: no limit)");
    F("target-distance", FLAG_DOUBLE, &o->target_distance, 0, 1e9,
      "stop when the evaluation final distance mean is at most this (0: never)");
    F("batch-size", FLAG_INT, &o->batch_size, 1, WIRE_MAX_BATCH, "transitions per update");
    F("hidden", FLAG_STRING, o->hidden, 0, -1, "policy and critic hidden sizes, e.g. 400,300");
    F("model-hidden", FLAG_STRING, o->model_hidden, 0, -1, "outcome model hidden sizes");
    F("gamma", FLAG_DOUBLE, &o->gamma, 0.5, 0.99999, "prior probability of not terminating");
    F("tau", FLAG_DOUBLE, &o->tau, 1e-6, 1, "Polyak rate of the target critics");
    F("lr-policy", FLAG_DOUBLE, &o->lr_policy, 1e-7, 1, "policy learning rate");
    F("lr-critic", FLAG_DOUBLE, &o->lr_critic, 1e-7, 1, "critic learning rate");
    F("lr-alpha", FLAG_DOUBLE, &o->lr_alpha, 1e-7, 1, "temperature learning rate");
    F("lr-model", FLAG_DOUBLE, &o->lr_model, 1e-7, 1, "outcome model learning rate");
    F("reward-scale", FLAG_DOUBLE, &o->reward_scale, 1e-6, 1e6, "constant reward scale c");
    F("reward-scale-k", FLAG_DOUBLE, &o->reward_scale_k, 0, 1e6,
      "auto reward scale c = k / EMA(max|r|) (0: constant scale)");
    F("clamp-discount", FLAG_BOOL, &o->clamp_discount, 0, -1, "clamp gamma_q by the prior gamma");
    F("time-kl-sign", FLAG_INT, &o->time_kl_sign, -1, 1, "-1 derivation, +1 authors' code");
    F("fixed-alpha", FLAG_DOUBLE, &o->fixed_alpha, 0, 1e6, "fixed temperature (0: auto-tuned)");
    F("target-entropy", FLAG_DOUBLE, &o->target_entropy, -1e3, 1e3,
      "entropy the tuned temperature aims at (nats; default -action_dim, SAC's)");
    F("model-state-log-std", FLAG_BOOL, &o->model_state_log_std, 0, -1,
      "state-dependent outcome model log-std");
    F("her-eps", FLAG_DOUBLE, &o->her_eps, 0, 1e6, "success threshold of her-sparse");
    F("model-std-min", FLAG_DOUBLE, &o->model_std_min, 1e-6, 1e6,
      "smallest std of the outcome model (goal units; smooth bound)");
    F("model-std-max", FLAG_DOUBLE, &o->model_std_max, 1e-6, 1e6,
      "largest std of the outcome model (goal units; smooth bound)");
    F("clip-target", FLAG_BOOL, &o->clip_target, 0, -1,
      "clip critic targets to the range the rewards allow");
    F("normalize", FLAG_BOOL, &o->normalize, 0, -1,
      "standardise observations and goals by their running mean and std");
    F("norm-clip", FLAG_DOUBLE, &o->norm_clip, 1e-3, 1e6, "clip of standardised inputs");
    F("random-eps", FLAG_DOUBLE, &o->random_eps, 0, 1,
      "actors: probability of a uniformly random action per step");
    F("action-noise", FLAG_DOUBLE, &o->action_noise, 0, 10,
      "actors: std of Gaussian noise added to sampled actions");
    F("random-steps", FLAG_INT, &o->random_steps, 0, 1e12,
      "actors: uniformly random actions for each actor's first K env steps");
    F("publish-every", FLAG_INT, &o->publish_every, 1, 1e9, "updates between weight broadcasts");
    F("checkpoint-every", FLAG_INT, &o->checkpoint_every, 1, 1e12, "updates between checkpoints");
    F("prefetch", FLAG_INT, &o->prefetch, 1, MAX_PREFETCH, "sample requests in flight per shard");
    F("request-timeout-s", FLAG_DOUBLE, &o->request_timeout_s, 0.05, 3600,
      "a shard answers a sample request within this (batch or error); no answer by 1.5x + 0.5 s "
      "and the request is sent again (a restarted shard lost it)");
    F("keys", FLAG_STRING, o->keys, 0, -1,
      "directory of CURVE keys (odac keygen): every socket authenticated and encrypted, only "
      "allowed_clients admitted (empty: none)");
    F("insecure", FLAG_BOOL, &o->insecure, 0, -1,
      "allow endpoints off loopback without --keys (anyone who reaches them is trusted)");
    F("run-token", FLAG_STRING, o->run_token, 0, -1,
      "the run's token (ODAC_RUN_TOKEN; the launcher sets it): actor stats without it are "
      "ignored, so only the run's own actors count and can end it (empty: any sender)");
    F("log-every-s", FLAG_DOUBLE, &o->log_every_s, 0.1, 3600, "seconds between progress rows");
    F("video-every", FLAG_INT, &o->video_every, 0, 1e9,
      "every N evaluations, film one deterministic episode of the current policy into "
      "runs/<run-id>/videos/update_U.mp4 (odac eval --video in a child process; 0: never)");
    F("tensorboard", FLAG_BOOL, &o->tensorboard, 0, -1,
      "also write every progress row to runs/<run-id>/events.out.tfevents.* (TensorBoard scalars "
      "at step = updates; a new file per start; --no-tensorboard: none)");
    F("threads", FLAG_INT, &o->threads, 1, 64,
      "threads of each update: the learner's own pool (OpenBLAS stays single-threaded); on "
      "CPUs without AVX-512 the products run on OpenBLAS with this many threads instead");
    F("pool-min-width", FLAG_INT, &o->pool_min_width, 0, 1e6,
      "use --threads only when the widest hidden layer has at least this many units, else one "
      "thread (at 64,64 a second thread gains nothing and takes the actors' core; 0: always)");
    F("heartbeat-file", FLAG_STRING, o->heartbeat_file, 0, -1,
      "file touched every few seconds from the main loop (health checks)");
#undef F
    return n;
}

static void options_from_config(options_t *o, const learner_config_t *c) {
    format_hidden(o->hidden, sizeof o->hidden, c->policy_hidden, c->n_policy_hidden);
    format_hidden(o->model_hidden, sizeof o->model_hidden, c->model_hidden, c->n_model_hidden);
    o->batch_size = c->batch_size;
    o->gamma = c->gamma;
    o->tau = c->tau;
    o->lr_policy = c->lr_policy;
    o->lr_critic = c->lr_critic;
    o->lr_alpha = c->lr_alpha;
    o->lr_model = c->lr_model;
    o->reward_scale = c->reward_scale;
    o->reward_scale_k = c->reward_scale_auto ? c->reward_scale_k : 0;
    o->clamp_discount = c->clamp_discount;
    o->time_kl_sign = c->time_kl_sign;
    o->fixed_alpha = c->fixed_alpha ? c->alpha_init : 0;
    o->target_entropy = isnan(c->target_entropy) ? -(double)c->action_dim : c->target_entropy;
    o->model_state_log_std = c->model_state_log_std;
    o->her_eps = c->her_eps;
    o->model_std_min = exp(c->model_log_std_min);
    o->model_std_max = exp(c->model_log_std_max);
    o->clip_target = c->clip_target;
    o->normalize = c->normalize;
    o->norm_clip = c->norm_clip;
    o->random_eps = c->explore_random_eps;
    o->action_noise = c->explore_action_noise;
    o->random_steps = c->explore_random_steps;
    o->threads = c->threads;
    o->pool_min_width = c->pool_min_width;
}

static int config_from_options(learner_config_t *c, const options_t *o, char *err, size_t errcap) {
    if (learner_variant_parse(o->variant, &c->variant, err, errcap) != 0) return -1;
    if (parse_hidden(o->hidden, c->policy_hidden, &c->n_policy_hidden, "hidden", err, errcap) ||
        parse_hidden(o->model_hidden, c->model_hidden, &c->n_model_hidden, "model-hidden", err,
                     errcap))
        return -1;
    memcpy(c->critic_hidden, c->policy_hidden, sizeof c->critic_hidden);
    c->n_critic_hidden = c->n_policy_hidden;
    c->batch_size = (int)o->batch_size;
    c->gamma = (float)o->gamma;
    c->tau = (float)o->tau;
    c->lr_policy = (float)o->lr_policy;
    c->lr_critic = (float)o->lr_critic;
    c->lr_alpha = (float)o->lr_alpha;
    c->lr_model = (float)o->lr_model;
    c->reward_scale = (float)o->reward_scale;
    c->reward_scale_auto = o->reward_scale_k > 0;
    if (c->reward_scale_auto) c->reward_scale_k = (float)o->reward_scale_k;
    c->clamp_discount = o->clamp_discount;
    if (o->time_kl_sign == 0) {
        snprintf(err, errcap, "--time-kl-sign must be -1 or +1");
        return -1;
    }
    c->time_kl_sign = (int)o->time_kl_sign;
    c->fixed_alpha = o->fixed_alpha > 0;
    if (c->fixed_alpha) c->alpha_init = (float)o->fixed_alpha;
    c->target_entropy = (float)o->target_entropy;
    c->model_state_log_std = o->model_state_log_std;
    c->her_eps = (float)o->her_eps;
    if (!(o->model_std_max > o->model_std_min)) {
        snprintf(err, errcap, "--model-std-max %g must be above --model-std-min %g",
                 o->model_std_max, o->model_std_min);
        return -1;
    }
    c->model_log_std_min = (float)log(o->model_std_min);
    c->model_log_std_max = (float)log(o->model_std_max);
    c->clip_target = o->clip_target;
    c->normalize = o->normalize;
    c->norm_clip = (float)o->norm_clip;
    c->explore_random_eps = (float)o->random_eps;
    c->explore_action_noise = (float)o->action_noise;
    c->explore_random_steps = o->random_steps;
    c->threads = (int)o->threads;
    c->pool_min_width = (int)o->pool_min_width;
    c->seed = (uint64_t)o->seed;
    return learner_config_validate(c, err, errcap);
}

/* ---- shards and batches ---- */

static int request_batches(server_t *s) {
    double t = now_s();
    for (int k = 0; k < s->n_shards; k++) {
        shard_t *sh = &s->shards[k];
        if (t < sh->retry_at) continue;
        while (sh->n_in_flight < s->o.prefetch && s->n_ready < MAX_READY) {
            Odac__SampleRequest req = ODAC__SAMPLE_REQUEST__INIT;
            req.protocol_version = WIRE_PROTOCOL_VERSION;
            req.request_id = ++s->request_id;
            req.batch_size = (uint32_t)s->o.batch_size;
            req.timeout_ms = (uint32_t)(s->o.request_timeout_s * 1000);
            if (wire_send(sh->sock, NULL, WIRE_TAG_SAMPLE_REQUEST, &req.base, ZMQ_DONTWAIT) != 0)
                break; /* shard not connected yet: try again on the next pass */
            sh->in_flight[sh->n_in_flight++] = (request_t){req.request_id, t};
        }
    }
    return 0;
}

/* Takes request id off the shard's in-flight list; 0 when it was not there (answered late). */
static int answered(shard_t *sh, uint64_t id) {
    for (int i = 0; i < sh->n_in_flight; i++)
        if (sh->in_flight[i].id == id) {
            memmove(&sh->in_flight[i], &sh->in_flight[i + 1],
                    sizeof *sh->in_flight * (size_t)(sh->n_in_flight - i - 1));
            sh->n_in_flight--;
            return 1;
        }
    return 0;
}

/* A live shard answers every request within its timeout (a batch or an error), so a request
 * unanswered well past it was lost: the shard restarted or the link broke. Forget it, so that
 * request_batches sends a new one, and say so once until the shard answers again. */
static void expire_requests(server_t *s) {
    double t = now_s(), limit = 1.5 * s->o.request_timeout_s + 0.5;
    for (int k = 0; k < s->n_shards; k++) {
        shard_t *sh = &s->shards[k];
        int lost = 0;
        while (sh->n_in_flight > 0 && t - sh->in_flight[0].sent_s > limit) {
            answered(sh, sh->in_flight[0].id);
            lost++;
        }
        if (!lost) continue;
        sh->timeouts += (uint64_t)lost;
        if (sh->silent_since <= 0) {
            sh->silent_since = t - limit;
            log_warn("shard %s: no answer to %d sample request(s) within %.1f s (restarted or "
                     "unreachable?): asking again",
                     sh->endpoint, lost, limit);
        }
    }
}

/* Bookkeeping of any answer from a shard (batch or error). */
static void shard_answered(shard_t *sh, uint64_t id) {
    if (!answered(sh, id)) sh->late++;
    if (sh->silent_since > 0) {
        log_info("shard %s answers again after %.1f s without answers", sh->endpoint,
                 now_s() - sh->silent_since);
        sh->silent_since = 0;
    }
}

static void handle_sample_error(server_t *s, shard_t *sh, wire_msg_t *m) {
    char err[512];
    wire_reject_t reason;
    Odac__SampleError *e = wire_decode_sample_error(wire_msg_data(m, 1), wire_msg_size(m, 1),
                                                    &reason, err, sizeof err);
    if (!e) {
        wire_rejects_note(&s->rejects, reason, "shard error reply", err);
        return;
    }
    shard_answered(sh, e->request_id);
    if (e->code == ODAC__SAMPLE_ERROR__CODE__EXPIRED) {
        sh->expired++; /* the rate limiter held it back: ask again at once */
    } else {
        sh->refused++;
        double t = now_s();
        sh->retry_at = t + 1.0; /* a refusal repeats: do not flood the shard */
        if (t - sh->last_refusal_log >= 10) {
            log_error("shard %s refuses sample requests (%llu so far): %.200s", sh->endpoint,
                      (unsigned long long)sh->refused, e->message);
            sh->last_refusal_log = t;
        }
    }
    odac__sample_error__free_unpacked(e, NULL);
}

static void receive_from_shard(server_t *s, shard_t *sh) {
    wire_msg_t m;
    while (s->n_ready < MAX_READY && wire_recv(sh->sock, &m, 0) == 1) {
        char tag[WIRE_TAG_MAX], err[512];
        wire_reject_t reason;
        if (m.n_parts == 2 && !strcmp(wire_msg_tag(&m, 0, tag), WIRE_TAG_SAMPLE_ERROR)) {
            handle_sample_error(s, sh, &m);
            wire_msg_close(&m);
            continue;
        }
        if (m.n_parts != 2 || strcmp(tag, WIRE_TAG_SAMPLE_BATCH) != 0) {
            snprintf(err, sizeof err, "shard %s: %d parts, tag '%.31s'", sh->endpoint, m.n_parts,
                     tag);
            wire_rejects_note(&s->rejects, WIRE_REJECT_FRAMES, "shard message", err);
            wire_msg_close(&m);
            continue;
        }
        Odac__SampleBatch *b = wire_decode_sample_batch(wire_msg_data(&m, 1), wire_msg_size(&m, 1),
                                                        &s->dims, &reason, err, sizeof err);
        wire_msg_close(&m);
        if (!b) {
            wire_rejects_note(&s->rejects, reason, "batch", err);
            continue;
        }
        shard_answered(sh, b->request_id);
        if (b->stats) {
            sh->size_transitions = b->stats->size_transitions;
            uint64_t ins = b->stats->inserted_transitions + sh->inserted_offset;
            if (ins < sh->inserted) {
                /* A shard restored from its checkpoint counts from there: the env steps after
                 * it were still taken, so the run's count does not go back. */
                log_warn("shard %s: inserted transitions went back from %llu to %llu (restarted "
                         "from its checkpoint?)",
                         sh->endpoint, (unsigned long long)sh->inserted,
                         (unsigned long long)(ins - sh->inserted_offset));
                sh->inserted_offset += sh->inserted - ins;
                ins = sh->inserted;
            }
            sh->inserted = ins;
            sh->sample_waits = b->stats->sample_waits;
        }
        sh->batches++;
        s->ready[(s->ready_head + s->n_ready) % MAX_READY] = b;
        s->n_ready++;
    }
}

/* ---- actors ---- */

/* Env steps of the run: transitions the shards have stored (what training can use). Actors'
 * own counters run ahead by the episodes still in flight or held back by the rate limiter, and
 * include evaluation episodes, so they are reported but do not drive the budget. */
static uint64_t total_env_steps(const server_t *s) {
    uint64_t sum = 0;
    for (int k = 0; k < s->n_shards; k++) sum += s->shards[k].inserted;
    return sum > s->restored_env_steps ? sum : s->restored_env_steps;
}

static uint64_t episodes_dropped(const server_t *s) {
    uint64_t sum = 0;
    for (int i = 0; i < s->n_actors; i++) sum += s->actors[i].dropped;
    return sum;
}

static uint64_t actor_env_steps(const server_t *s) {
    uint64_t sum = s->retired_env_steps;
    for (int i = 0; i < s->n_actors; i++) sum += s->actors[i].env_steps;
    return sum;
}

/* Equal strings, in time independent of where they differ. */
static int token_matches(const char *want, const char *got) {
    size_t n = strlen(want), m = strlen(got);
    unsigned diff = n != m;
    for (size_t i = 0; i < n; i++)
        diff |= (unsigned char)want[i] ^ (unsigned char)got[i < m ? i : 0];
    return diff == 0;
}

static void note_token_reject(server_t *s, uint32_t actor_id) {
    s->rejected_token++;
    double t = now_s();
    if (t - s->last_token_log < 1.0) {
        s->token_unlogged++;
        return;
    }
    log_warn("ignored actor stats (claiming actor %u) without this run's token (%llu in all, %llu "
             "not logged since the last line): not from this run's actors",
             actor_id, (unsigned long long)s->rejected_token,
             (unsigned long long)s->token_unlogged);
    s->token_unlogged = 0;
    s->last_token_log = t;
}

static void receive_stats(server_t *s) {
    wire_msg_t m;
    while (wire_recv(s->stats_pull, &m, 0) == 1) {
        char tag[WIRE_TAG_MAX], err[512];
        wire_reject_t reason;
        Odac__ActorStats *st = NULL;
        reason = WIRE_REJECT_FRAMES;
        if (m.n_parts == 2 && !strcmp(wire_msg_tag(&m, 0, tag), WIRE_TAG_ACTOR_STATS))
            st = wire_decode_actor_stats(wire_msg_data(&m, 1), wire_msg_size(&m, 1), &reason, err,
                                         sizeof err);
        else
            snprintf(err, sizeof err, "unexpected message of %d parts", m.n_parts);
        wire_msg_close(&m);
        if (!st) {
            wire_rejects_note(&s->rejects, reason, "actor stats", err);
            continue;
        }
        if (s->o.run_token[0] && !token_matches(s->o.run_token, st->run_token)) {
            note_token_reject(s, st->actor_id);
            odac__actor_stats__free_unpacked(st, NULL);
            continue;
        }
        actor_info_t *a = NULL;
        for (int i = 0; i < s->n_actors; i++)
            if (s->actors[i].id == st->actor_id) a = &s->actors[i];
        if (!a && s->n_actors < MAX_ACTORS) {
            a = &s->actors[s->n_actors++];
            memset(a, 0, sizeof *a);
            a->id = st->actor_id;
            log_info("actor %u joined", st->actor_id);
        }
        if (a) {
            if (st->env_steps < a->env_steps) s->retired_env_steps += a->env_steps; /* restart */
            a->env_steps = st->env_steps;
            a->episodes = st->episodes;
            a->policy_version = st->policy_version;
            a->dropped = st->episodes_dropped;
            a->last_seen = now_s();
        }
        if (st->eval && st->eval->episodes > 0) {
            s->last_eval = *st->eval;
            s->last_eval.base.descriptor = NULL;
            s->last_eval.n_diag_mean = 0;
            s->last_eval.diag_mean = NULL;
            for (int d = 0; d < ENV_DIAG_MAX; d++)
                s->eval_diag[d] = (size_t)d < st->eval->n_diag_mean ? st->eval->diag_mean[d] : NAN;
            s->have_eval = 1;
            if (st->eval->final_distance_mean < s->best_eval)
                s->best_eval = st->eval->final_distance_mean;
            if (learner_video_on_eval(&s->video)) s->video_due = 1;
        }
        odac__actor_stats__free_unpacked(st, NULL);
    }
}

static double policy_lag(const server_t *s) {
    if (!s->n_actors) return 0;
    double sum = 0;
    for (int i = 0; i < s->n_actors; i++)
        sum += s->publish_version > s->actors[i].policy_version
                   ? (double)(s->publish_version - s->actors[i].policy_version)
                   : 0;
    return sum / s->n_actors;
}

/* ---- weights ---- */

static void publish(server_t *s, int run_finished) {
    int sizes[NN_MAX_LAYERS + 1];
    int n = learner_policy_layers(s->learner, sizes);
    Odac__LayerShape shapes[NN_MAX_LAYERS], *shape_ptrs[NN_MAX_LAYERS];
    for (int l = 0; l < n; l++) {
        odac__layer_shape__init(&shapes[l]);
        shapes[l].rows = (uint32_t)sizes[l];
        shapes[l].cols = (uint32_t)sizes[l + 1];
        shape_ptrs[l] = &shapes[l];
    }
    size_t n_params;
    const float *params = learner_policy_params(s->learner, &n_params);
    Odac__PolicyWeights w = ODAC__POLICY_WEIGHTS__INIT;
    w.protocol_version = WIRE_PROTOCOL_VERSION;
    w.version = ++s->publish_version;
    w.env_name = s->spec.name;
    w.n_layers = (size_t)n;
    w.layers = shape_ptrs;
    w.n_data = n_params;
    w.data = (float *)params; /* packed, not modified */
    w.env_steps = total_env_steps(s);
    w.run_finished = run_finished;
    const float *om, *os, *gm, *gs;
    learner_normalization(s->learner, &om, &os, &gm, &gs);
    if (om) { /* packed, not modified */
        w.n_obs_mean = w.n_obs_std = (size_t)s->cfg.obs_dim;
        w.n_goal_mean = w.n_goal_std = (size_t)s->cfg.goal_dim;
        w.obs_mean = (float *)om, w.obs_std = (float *)os;
        w.goal_mean = (float *)gm, w.goal_std = (float *)gs;
        w.norm_clip = s->cfg.norm_clip;
    }
    w.explore_random_eps = s->cfg.explore_random_eps;
    w.explore_action_noise = s->cfg.explore_action_noise;
    w.explore_random_steps = (uint64_t)s->cfg.explore_random_steps;
    if (wire_send_single(s->pub, &w.base, ZMQ_DONTWAIT) != 0)
        log_warn("publishing weights failed: %s", zmq_strerror(zmq_errno()));
    s->last_publish_time = now_s();
}

/* ---- progress and checkpoints ---- */

static double wall_time(const server_t *s) {
    return s->wall_offset + now_s() - s->start_wall;
}

/* The progress columns, in progress.csv's order, with the format each is written in; the env's
 * diagnostics follow as eval_<name>_mean (%.4f). progress.csv and the TensorBoard event file are
 * both written from one progress_row_t: the CSV gets the formatted cells, the event file each cell
 * read back as a float (so TensorBoard shows exactly the CSV's numbers). Integer counts are held as
 * doubles (exact below 2^53) and written with %.0f. */
static const struct {
    const char *name, *fmt;
} progress_cols[N_FIXED_COLS] = {
    [COL_WALL_TIME] = {"wall_time_s", "%.2f"},
    [COL_ENV_STEPS] = {"env_steps", "%.0f"},
    [COL_UPDATES] = {"updates", "%.0f"},
    [COL_UPDATES_PER_S] = {"updates_per_s", "%.1f"},
    [COL_ENV_STEPS_PER_S] = {"env_steps_per_s", "%.1f"},
    [COL_EVAL_DISTANCE_MEAN] = {"eval_distance_mean", "%.4f"},
    [COL_EVAL_DISTANCE_STD] = {"eval_distance_std", "%.4f"},
    [COL_EVAL_SUCCESS_RATE] = {"eval_success_rate", "%.3f"},
    [COL_EVAL_POLICY_VERSION] = {"eval_policy_version", "%.0f"},
    [COL_CRITIC_LOSS] = {"critic_loss", "%.5g"},
    [COL_POLICY_LOSS] = {"policy_loss", "%.5g"},
    [COL_ALPHA] = {"alpha", "%.5g"},
    [COL_ENTROPY] = {"entropy", "%.5g"},
    [COL_MODEL_NLL] = {"model_nll", "%.5g"},
    [COL_MODEL_LOG_STD] = {"model_log_std", "%.5g"},
    [COL_REWARD_MEAN] = {"reward_mean", "%.5g"},
    [COL_DISCOUNT_MEAN] = {"dynamic_discount_mean", "%.5g"},
    [COL_DISCOUNT_MIN] = {"dynamic_discount_min", "%.5g"},
    [COL_REWARD_SCALE] = {"reward_scale", "%.5g"},
    [COL_Q_MEAN] = {"q_mean", "%.5g"},
    [COL_TARGET_MEAN] = {"target_mean", "%.5g"},
    [COL_REPLAY_SIZE] = {"replay_size", "%.0f"},
    [COL_POLICY_LAG] = {"policy_lag", "%.2f"},
    [COL_BUSY_PCT] = {"learner_busy_pct", "%.1f"},
    [COL_ACTOR_ENV_STEPS] = {"actor_env_steps", "%.0f"},
    [COL_EPISODES_DROPPED] = {"episodes_dropped", "%.0f"},
};

/* The columns' names (n of them: the fixed ones, then the env's diagnostics). */
static void progress_names(const server_t *s, progress_row_t *r) {
    r->n = 0;
    for (int c = 0; c < N_FIXED_COLS; c++) r->name[r->n++] = progress_cols[c].name;
    for (int d = 0; d < s->spec.n_diag; d++) {
        snprintf(r->diag_name[d], sizeof r->diag_name[d], "eval_%s_mean", s->spec.diag_names[d]);
        r->name[r->n++] = r->diag_name[d];
    }
}

static void progress_cell(progress_row_t *r, int c, const char *fmt, double v) {
    snprintf(r->cell[c], sizeof r->cell[c], fmt, v);
    r->value[c] = strtof(r->cell[c], NULL);
}

static double busy_pct(const server_t *s) {
    if (s->first_batch_time <= 0) return 0;
    double span = now_s() - s->first_batch_time;
    return span > 0 ? 100.0 * (1.0 - s->idle_s / span) : 100.0;
}

static void log_progress(server_t *s) {
    double t = now_s();
    double dt = t - s->last_log_updates_t;
    long long updates = learner_updates(s->learner);
    uint64_t env_steps = total_env_steps(s);
    double ups = dt > 0 ? (double)(updates - s->last_log_updates) / dt : 0;
    double eps = dt > 0 && env_steps >= s->last_log_env_steps
                     ? (double)(env_steps - s->last_log_env_steps) / dt
                     : 0;
    learner_summary_t sum;
    learner_stats_summary(s->learner, &sum);
    uint64_t replay_size = 0;
    for (int k = 0; k < s->n_shards; k++) replay_size += s->shards[k].size_transitions;
    double lag = policy_lag(s);
    double ev_mean = s->have_eval ? s->last_eval.final_distance_mean : NAN;
    double ev_std = s->have_eval ? s->last_eval.final_distance_std : NAN;
    double ev_succ = s->have_eval ? s->last_eval.success_rate : NAN;
    char rejects[256];
    uint64_t timeouts = 0, refused = 0;
    for (int k = 0; k < s->n_shards; k++) {
        timeouts += s->shards[k].timeouts;
        refused += s->shards[k].refused;
    }
    double v[N_FIXED_COLS] = {
        [COL_WALL_TIME] = wall_time(s),
        [COL_ENV_STEPS] = (double)env_steps,
        [COL_UPDATES] = (double)updates,
        [COL_UPDATES_PER_S] = ups,
        [COL_ENV_STEPS_PER_S] = eps,
        [COL_EVAL_DISTANCE_MEAN] = ev_mean,
        [COL_EVAL_DISTANCE_STD] = ev_std,
        [COL_EVAL_SUCCESS_RATE] = ev_succ,
        [COL_EVAL_POLICY_VERSION] = (double)(s->have_eval ? s->last_eval.policy_version : 0),
        [COL_CRITIC_LOSS] = sum.critic_loss.mean,
        [COL_POLICY_LOSS] = sum.policy_loss.mean,
        [COL_ALPHA] = sum.alpha.mean,
        [COL_ENTROPY] = sum.entropy.mean,
        [COL_MODEL_NLL] = sum.model_nll.mean,
        [COL_MODEL_LOG_STD] = sum.model_log_std.mean,
        [COL_REWARD_MEAN] = sum.reward.mean,
        [COL_DISCOUNT_MEAN] = sum.discount.mean,
        [COL_DISCOUNT_MIN] = sum.discount.min,
        [COL_REWARD_SCALE] = sum.reward_scale.mean,
        [COL_Q_MEAN] = sum.q.mean,
        [COL_TARGET_MEAN] = sum.target.mean,
        [COL_REPLAY_SIZE] = (double)replay_size,
        [COL_POLICY_LAG] = lag,
        [COL_BUSY_PCT] = busy_pct(s),
        [COL_ACTOR_ENV_STEPS] = (double)actor_env_steps(s),
        [COL_EPISODES_DROPPED] = (double)episodes_dropped(s),
    };
    progress_row_t *row = &s->last_row;
    progress_names(s, row);
    for (int c = 0; c < N_FIXED_COLS; c++) progress_cell(row, c, progress_cols[c].fmt, v[c]);
    for (int d = 0; d < s->spec.n_diag; d++)
        progress_cell(row, N_FIXED_COLS + d, "%.4f", s->have_eval ? (double)s->eval_diag[d] : NAN);
    if (s->progress) {
        for (int c = 0; c < row->n; c++) {
            if (c) fputc(',', s->progress);
            fputs(row->cell[c], s->progress);
        }
        fputc('\n', s->progress);
        fflush(s->progress);
    }
    if (s->events) {
        char err[512];
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        if (tfevents_write_scalars(s->events, (int64_t)updates,
                                   (double)now.tv_sec + 1e-9 * (double)now.tv_nsec, row->name,
                                   row->value, row->n, err, sizeof err) != 0) {
            log_error("TensorBoard events off for the rest of the run: %s", err);
            tfevents_close(&s->events);
        }
    }
    log_info("updates %lld (%.0f/s, %d thr) | env steps %llu (%.0f/s) | eval dist %.3f +- %.3f, "
             "success "
             "%.2f | Lq %.4g Lpi %.4g alpha %.3g gamma_q %.3f c %.3g | replay %llu | lag %.1f | "
             "busy %.0f%% | rejected {%s,token=%llu} | shard requests timed out %llu, refused %llu",
             updates, ups, learner_threads_used(s->learner), (unsigned long long)env_steps, eps,
             ev_mean, ev_std, ev_succ, sum.critic_loss.mean, sum.policy_loss.mean, sum.alpha.mean,
             sum.discount.mean, sum.reward_scale.mean, (unsigned long long)replay_size, lag,
             busy_pct(s), wire_rejects_format(&s->rejects, rejects, sizeof rejects),
             (unsigned long long)s->rejected_token, (unsigned long long)timeouts,
             (unsigned long long)refused);
    s->last_log = t;
    s->last_log_updates_t = t;
    s->last_log_updates = updates;
    s->last_log_env_steps = env_steps;
}

/* ---- status queries (odac status) ---- */

/* The arrays a Status points into (fill_status allocates them, status_buffers_free frees them). */
typedef struct {
    char **progress_names, **shard_endpoints;
    double *progress_values, *actor_seconds;
    uint64_t *u64; /* the shards' and the actors' counters, one block */
    uint32_t *u32; /* the shards' requests in flight, then the actors' ids */
    protobuf_c_boolean *silent;
} status_buffers_t;

static void status_buffers_free(status_buffers_t *b) {
    free(b->progress_names);
    free(b->shard_endpoints);
    free(b->progress_values);
    free(b->actor_seconds);
    free(b->u64);
    free(b->u32);
    free(b->silent);
}

/* Fills st (its lists in b; ev holds the last evaluation) with how the run is doing now. 0, or -1
 * when out of memory (b is then still to be freed). */
static int fill_status(server_t *s, Odac__Status *st, Odac__EvalReport *ev, status_buffers_t *b) {
    int ns = s->n_shards, na = s->n_actors, nc = s->last_row.n;
    memset(b, 0, sizeof *b);
    b->progress_names = calloc((size_t)nc + 1, sizeof *b->progress_names);
    b->progress_values = calloc((size_t)nc + 1, sizeof *b->progress_values);
    b->shard_endpoints = calloc((size_t)ns + 1, sizeof *b->shard_endpoints);
    b->actor_seconds = calloc((size_t)na + 1, sizeof *b->actor_seconds);
    b->u64 = calloc(6 * (size_t)ns + 5 * (size_t)na + 1, sizeof *b->u64);
    b->u32 = calloc((size_t)ns + (size_t)na + 1, sizeof *b->u32);
    b->silent = calloc((size_t)ns + 1, sizeof *b->silent);
    if (!b->progress_names || !b->progress_values || !b->shard_endpoints || !b->actor_seconds ||
        !b->u64 || !b->u32 || !b->silent)
        return -1;
    st->protocol_version = WIRE_PROTOCOL_VERSION;
    st->run_id = s->o.run_id;
    st->env_name = s->spec.name;
    st->variant = s->o.variant;
    st->wall_time_s = wall_time(s);
    st->learner_threads = (uint32_t)learner_threads_used(s->learner);
    st->updates = (uint64_t)learner_updates(s->learner);
    st->env_steps = total_env_steps(s);
    st->max_env_steps = (uint64_t)s->o.max_env_steps;
    st->target_distance = s->o.target_distance;
    st->publish_version = s->publish_version;
    st->best_eval = s->best_eval;
    if (s->have_eval) {
        ev->episodes = s->last_eval.episodes;
        ev->final_distance_mean = s->last_eval.final_distance_mean;
        ev->final_distance_std = s->last_eval.final_distance_std;
        ev->success_rate = s->last_eval.success_rate;
        ev->policy_version = s->last_eval.policy_version;
        ev->n_diag_mean = (size_t)s->spec.n_diag;
        ev->diag_mean = s->eval_diag; /* packed, not modified */
        st->last_eval = ev;
    }
    for (int c = 0; c < nc; c++) {
        b->progress_names[c] = (char *)s->last_row.name[c]; /* packed, not modified */
        b->progress_values[c] = s->last_row.value[c];
    }
    st->n_progress_names = st->n_progress_values = (size_t)nc;
    st->progress_names = b->progress_names;
    st->progress_values = b->progress_values;
    uint64_t *size = b->u64, *ins = size + ns, *batches = ins + ns, *waits = batches + ns,
             *timeouts = waits + ns, *refused = timeouts + ns;
    for (int k = 0; k < ns; k++) {
        const shard_t *sh = &s->shards[k];
        b->shard_endpoints[k] = (char *)sh->endpoint; /* packed, not modified */
        size[k] = sh->size_transitions;
        ins[k] = sh->inserted;
        batches[k] = sh->batches;
        waits[k] = sh->sample_waits;
        timeouts[k] = sh->timeouts;
        refused[k] = sh->refused;
        b->u32[k] = (uint32_t)sh->n_in_flight;
        b->silent[k] = sh->silent_since > 0;
    }
    st->n_shard_endpoints = st->n_shard_size_transitions = st->n_shard_inserted_transitions =
        st->n_shard_batches = st->n_shard_sample_waits = st->n_shard_requests_timed_out =
            st->n_shard_requests_refused = st->n_shard_in_flight = st->n_shard_silent = (size_t)ns;
    st->shard_endpoints = b->shard_endpoints;
    st->shard_size_transitions = size;
    st->shard_inserted_transitions = ins;
    st->shard_batches = batches;
    st->shard_sample_waits = waits;
    st->shard_requests_timed_out = timeouts;
    st->shard_requests_refused = refused;
    st->shard_in_flight = b->u32;
    st->shard_silent = b->silent;
    uint64_t *a_steps = refused + ns, *a_eps = a_steps + na, *a_ver = a_eps + na,
             *a_lag = a_ver + na, *a_drop = a_lag + na;
    double t = now_s();
    for (int i = 0; i < na; i++) {
        const actor_info_t *a = &s->actors[i];
        b->u32[ns + i] = a->id;
        a_steps[i] = a->env_steps;
        a_eps[i] = a->episodes;
        a_ver[i] = a->policy_version;
        a_lag[i] =
            s->publish_version > a->policy_version ? s->publish_version - a->policy_version : 0;
        a_drop[i] = a->dropped;
        b->actor_seconds[i] = t - a->last_seen;
    }
    st->n_actor_ids = st->n_actor_env_steps = st->n_actor_episodes = st->n_actor_policy_versions =
        st->n_actor_policy_lags = st->n_actor_episodes_dropped = st->n_actor_seconds_since_stats =
            (size_t)na;
    st->actor_ids = b->u32 + ns;
    st->actor_env_steps = a_steps;
    st->actor_episodes = a_eps;
    st->actor_policy_versions = a_ver;
    st->actor_policy_lags = a_lag;
    st->actor_episodes_dropped = a_drop;
    st->actor_seconds_since_stats = b->actor_seconds;
    st->rejected_token = s->rejected_token;
    uint64_t wire = 0;
    for (int r = 0; r < WIRE_REJECT_COUNT_; r++) wire += s->rejects.count[r];
    st->rejected_wire = wire;
    return 0;
}

/* Answers the status requests waiting on the status socket, at most 16 per call so that a flood
 * of them cannot starve training; a malformed request is counted (rejected) and not answered. */
static void answer_status(server_t *s) {
    wire_msg_t m;
    for (int i = 0; i < 16 && wire_recv(s->status_sock, &m, 0) == 1; i++) {
        char tag[WIRE_TAG_MAX], err[512];
        wire_reject_t reason = WIRE_REJECT_FRAMES;
        Odac__StatusRequest *req = NULL;
        if (m.n_parts == 3 && !m.dropped_parts &&
            !strcmp(wire_msg_tag(&m, 1, tag), WIRE_TAG_STATUS_REQUEST))
            req = wire_decode_status_request(wire_msg_data(&m, 2), wire_msg_size(&m, 2), &reason,
                                             err, sizeof err);
        else
            snprintf(err, sizeof err, "status socket: a message of %d parts", m.n_parts);
        if (!req) {
            wire_rejects_note(&s->rejects, reason, "status request", err);
            wire_msg_close(&m);
            continue;
        }
        odac__status_request__free_unpacked(req, NULL);
        Odac__Status st = ODAC__STATUS__INIT;
        Odac__EvalReport ev = ODAC__EVAL_REPORT__INIT;
        status_buffers_t b;
        if (fill_status(s, &st, &ev, &b) != 0)
            log_warn("status request not answered: out of memory");
        else if (wire_send(s->status_sock, &m.part[0], WIRE_TAG_STATUS, &st.base, ZMQ_DONTWAIT))
            log_warn("status reply not sent: %s", zmq_strerror(zmq_errno()));
        status_buffers_free(&b);
        wire_msg_close(&m);
    }
}

/* The process's counters (learner_progress_record_t, learner_server.h: odac eval reads them too),
 * saved inside learner.ckpt (learner_save_with) so that they always belong to the learner state
 * beside them. */
typedef learner_progress_record_t progress_record_t;

static int save_checkpoint(server_t *s) {
    char path[sizeof s->run_path + 32], err[1024];
    progress_record_t rec = {wall_time(s), total_env_steps(s), s->publish_version, s->best_eval};
    snprintf(path, sizeof path, "%s/learner.ckpt", s->run_path);
    if (learner_save_with(s->learner, path, &rec, sizeof rec, err, sizeof err) != 0) {
        log_error("checkpoint failed: %s", err);
        return -1;
    }
    snprintf(path, sizeof path, "%s/progress.ckpt", s->run_path);
    unlink(path); /* an older odac's separate counters file, now inside learner.ckpt */
    log_info("checkpoint written at update %lld", learner_updates(s->learner));
    return 0;
}

static int load_checkpoint(server_t *s, char *err, size_t errcap) {
    char path[sizeof s->run_path + 32];
    snprintf(path, sizeof path, "%s/learner.ckpt", s->run_path);
    if (access(path, F_OK) != 0) {
        log_warn("--resume: no checkpoint at %s yet; starting the run from scratch", path);
        return 0;
    }
    progress_record_t rec;
    if (learner_load_with(s->learner, path, &rec, sizeof rec, err, errcap) != 0) return -1;
    s->wall_offset = rec.wall_time_s;
    s->publish_version = rec.publish_version;
    s->best_eval = rec.best_eval;
    s->restored_env_steps = rec.env_steps;
    log_info("resumed from %s/learner.ckpt at update %lld, %llu env steps", s->run_path,
             learner_updates(s->learner), (unsigned long long)rec.env_steps);
    return 0;
}

static int mkdir_p(const char *path) {
    char tmp[FLAGS_STR_MAX * 3];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, 0755) != 0 && errno != EEXIST) return -1;
            *p = '/';
        }
    return mkdir(tmp, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

/* On resume, progress rows written after the checkpoint describe updates that are being redone:
 * keep the header and the rows up to the checkpoint's update count, drop the rest. */
static int cut_progress(const char *path, long long updates, char *err, size_t errcap) {
    FILE *f = fopen(path, "r+");
    if (!f) {
        snprintf(err, errcap, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    char line[4096];
    long keep = 0;
    int row = 0, cut = 0;
    long long dropped = 0;
    while (fgets(line, sizeof line, f)) {
        long long u = 0;
        if (row++ > 0 && !cut) {
            /* updates is the third column */
            const char *c = strchr(line, ',');
            c = c ? strchr(c + 1, ',') : NULL;
            cut = !c || sscanf(c + 1, "%lld", &u) != 1 || u > updates;
        }
        if (cut)
            dropped++;
        else
            keep = ftell(f);
    }
    int rc = 0;
    if (dropped && (fflush(f) != 0 || ftruncate(fileno(f), keep) != 0)) {
        snprintf(err, errcap, "cannot cut %s back to the checkpoint: %s", path, strerror(errno));
        rc = -1;
    }
    fclose(f);
    if (dropped && rc == 0)
        log_info("progress.csv cut back to the checkpoint (update %lld): %lld later row(s) dropped",
                 updates, dropped);
    return rc;
}

/* The run finished (as opposed to stopped): written before the actors are told, so the
 * launcher can tell the two apart. */
static void mark_finished(server_t *s, const char *why) {
    char path[sizeof s->run_path + 32];
    snprintf(path, sizeof path, "%s/%s", s->run_path, LEARNER_FINISHED_FILE);
    FILE *f = fopen(path, "w");
    if (!f || fprintf(f, "%s\n", why) < 0 || fclose(f) != 0)
        log_error("cannot write %s: %s", path, strerror(errno));
}

/* ---- setup ---- */

/* A learner command line (flags, ODAC_* environment, --config file) over the table: the defaults,
 * the env's defaults, then what was set; fills the learner config and the env spec. 0; 1 for
 * --help (usage printed); -1 with a message. */
static int parse_options(options_t *o, learner_config_t *cfg, env_spec_t *spec, flag_t *table,
                         int *n_table, int argc, char **argv, char *err, size_t errcap) {
    int n = *n_table = build_table(o, table);
    const char *usage = "usage: odac-learner [options]\nThe ODAC learner of a run (see README).";
    /* Defaults that do not depend on the env. */
    snprintf(o->env, sizeof o->env, "box2d");
    snprintf(o->variant, sizeof o->variant, "odac");
    snprintf(o->run_dir, sizeof o->run_dir, "runs");
    snprintf(o->weights_bind, sizeof o->weights_bind, "tcp://127.0.0.1:5555");
    snprintf(o->stats_bind, sizeof o->stats_bind, "tcp://127.0.0.1:5556");
    snprintf(o->status_endpoint, sizeof o->status_endpoint, "tcp://127.0.0.1:5557");
    snprintf(o->shards, sizeof o->shards, "tcp://127.0.0.1:5561");
    o->max_env_steps = 1000000;
    o->publish_every = 100;
    o->checkpoint_every = 20000;
    o->prefetch = 4;
    o->request_timeout_s = 2;
    o->log_every_s = 5;
    o->tensorboard = 1;
    learner_config_default(cfg);
    options_from_config(o, cfg);
    /* First pass: which env; then its defaults; second pass: what the user set wins. */
    int rc = flags_parse(table, n, argc, argv, usage, NULL, NULL, err, errcap);
    if (rc != 0) return rc;
    if (env_spec_lookup(o->env, spec, err, errcap) != 0) return -1;
    if (learner_config_for_env(cfg, spec, err, errcap) != 0) return -1;
    options_from_config(o, cfg);
    if (flags_parse(table, n, argc, argv, usage, NULL, NULL, err, errcap) != 0) return -1;
    if (config_from_options(cfg, o, err, errcap) != 0) return -1;
    return 0;
}

int learner_server_parse_config(int argc, char **argv, learner_config_t *cfg, env_spec_t *spec,
                                char *err, size_t errcap) {
    options_t *o = calloc(1, sizeof *o);
    flag_t table[64];
    int n;
    if (!o) {
        snprintf(err, errcap, "out of memory");
        return -1;
    }
    int rc = parse_options(o, cfg, spec, table, &n, argc, argv, err, errcap);
    free(o);
    if (rc == 1) {
        snprintf(err, errcap, "--help is not a configuration");
        return -1;
    }
    return rc;
}

static int setup(server_t *s, int argc, char **argv, int *exit_code) {
    options_t *o = &s->o;
    char err[1024];
    flag_t table[64];
    int n;
    int rc = parse_options(o, &s->cfg, &s->spec, table, &n, argc, argv, err, sizeof err);
    if (rc == 1) return *exit_code = 0, -1;
    if (rc != 0) goto bad;
    snprintf(s->dims.env_name, sizeof s->dims.env_name, "%s", s->spec.name);
    s->dims.obs_dim = (uint32_t)s->spec.obs_dim;
    s->dims.goal_dim = (uint32_t)s->spec.goal_dim;
    s->dims.action_dim = (uint32_t)s->spec.action_dim;
    s->dims.horizon = (uint32_t)s->spec.horizon;
    const char *eps[] = {o->weights_bind, o->stats_bind, o->shards, o->status_endpoint};
    if (curve_check_exposure(eps, o->status_endpoint[0] ? 4 : 3, o->keys[0] != 0, o->insecure, err,
                             sizeof err) != 0)
        goto bad;
    if (strlen(o->run_token) > WIRE_MAX_TOKEN) {
        snprintf(err, sizeof err, "--run-token is longer than %d bytes", WIRE_MAX_TOKEN);
        goto bad;
    }
    if (!o->run_id[0])
        snprintf(o->run_id, sizeof o->run_id, "%s-%s-%lld", o->env, o->variant, o->seed);
    if (strchr(o->run_id, '/') || !strcmp(o->run_id, "..") || !strcmp(o->run_id, ".")) {
        snprintf(err, sizeof err, "--run-id '%s' must be a plain name", o->run_id);
        goto bad;
    }
    snprintf(s->run_path, sizeof s->run_path, "%s/%s", o->run_dir, o->run_id);
    if (o->check) {
        nn_set_threads(1);
        learner_t *probe = learner_new(&s->cfg, err, sizeof err);
        if (!probe) goto bad;
        learner_free(probe);
        log_info("configuration ok: env %s, variant %s, hidden %s, batch %lld", o->env, o->variant,
                 o->hidden, o->batch_size);
        return *exit_code = 0, -1;
    }
    if (mkdir_p(s->run_path) != 0) {
        snprintf(err, sizeof err, "cannot create %s: %s", s->run_path, strerror(errno));
        goto bad;
    }
    char path[sizeof s->run_path + 32];
    snprintf(path, sizeof path, "%s/variant.json", s->run_path);
    if (flags_write_json(table, n, path, err, sizeof err) != 0) goto bad;
    if (learner_video_init(&s->video, o->video_every, s->run_path, err, sizeof err) != 0) goto bad;

    /* The pool splits the hand-written kernels' work; without them (no AVX-512) OpenBLAS does
     * the products and is the one to give the threads to. */
    int narrow = learner_config_widest_hidden(&s->cfg) < s->cfg.pool_min_width;
    if (!nn_simd_enabled()) {
        s->cfg.threads = 1;
        nn_set_threads(narrow ? 1 : (int)o->threads);
    } else {
        nn_set_threads(1);
    }
    s->learner = learner_new(&s->cfg, err, sizeof err);
    if (!s->learner) goto bad;
    if (o->resume && load_checkpoint(s, err, sizeof err) != 0) {
        log_error("cannot resume: %s", err);
        return *exit_code = 1, -1;
    }

    s->zctx = zmq_ctx_new();
    if (o->keys[0] && curve_enable(s->zctx, o->keys, "learner", err, sizeof err) != 0) goto bad;
    /* Inbound frames are bounded by what each socket carries: subscriptions on the PUB, small
     * stats on the PULL (and few of them queued), batches of our size from the shards. */
    s->pub = wire_socket_limited(s->zctx, ZMQ_PUB, o->weights_bind, 1, 16, 0,
                                 WIRE_MAX_REQUEST_BYTES, err, sizeof err);
    if (!s->pub) goto bad;
    s->stats_pull = wire_socket_limited(s->zctx, ZMQ_PULL, o->stats_bind, 1, LEARNER_STATS_HWM, 0,
                                        WIRE_MAX_ACTOR_STATS_BYTES, err, sizeof err);
    if (!s->stats_pull) goto bad;
    if (o->status_endpoint[0]) {
        /* Requests are tiny; a peer sending a larger frame is dropped before it is buffered. An
         * endpoint the user chose must bind; the default one may be taken by another learner on
         * this machine, and then this one runs without a status socket. */
        s->status_sock = wire_socket_limited(s->zctx, ZMQ_ROUTER, o->status_endpoint, 1, 16, 0,
                                             WIRE_MAX_REQUEST_BYTES, err, sizeof err);
        if (!s->status_sock && flags_was_set(table, n, "status-endpoint")) goto bad;
        if (!s->status_sock)
            log_error("no status socket (odac status) for this run: %s (set --status-endpoint)",
                      err);
        else
            log_info("status endpoint %s (odac status %s%s%s)", o->status_endpoint,
                     o->status_endpoint, o->keys[0] ? " --keys " : "", o->keys);
    }
    char list[FLAGS_STR_MAX];
    snprintf(list, sizeof list, "%s", o->shards);
    for (char *save = NULL, *ep = strtok_r(list, ",", &save); ep; ep = strtok_r(NULL, ",", &save)) {
        if (s->n_shards == MAX_SHARDS) {
            snprintf(err, sizeof err, "--shards: at most %d shards", MAX_SHARDS);
            goto bad;
        }
        shard_t *sh = &s->shards[s->n_shards++];
        snprintf(sh->endpoint, sizeof sh->endpoint, "%s", ep);
        sh->sock = wire_socket_limited(s->zctx, ZMQ_DEALER, ep, 0, 64, 0,
                                       wire_max_batch_bytes(&s->dims, (uint32_t)o->batch_size), err,
                                       sizeof err);
        if (!sh->sock) goto bad;
    }
    if (s->n_shards == 0) {
        snprintf(err, sizeof err, "--shards: no endpoint given");
        goto bad;
    }
    snprintf(path, sizeof path, "%s/progress.csv", s->run_path);
    int existed = access(path, F_OK) == 0;
    if (o->resume && existed && cut_progress(path, learner_updates(s->learner), err, sizeof err))
        goto bad;
    snprintf(path, sizeof path, "%s/%s", s->run_path, LEARNER_FINISHED_FILE);
    unlink(path); /* this run goes on */
    snprintf(path, sizeof path, "%s/progress.csv", s->run_path);
    s->progress = fopen(path, o->resume ? "a" : "w");
    if (!s->progress) {
        snprintf(err, sizeof err, "cannot write %s: %s", path, strerror(errno));
        goto bad;
    }
    if (!o->resume || !existed) {
        /* then one eval_<name>_mean column per env diagnostic (e.g. ant's eval_xy_distance_mean) */
        static progress_row_t header;
        progress_names(s, &header);
        for (int c = 0; c < header.n; c++)
            fprintf(s->progress, "%s%s", c ? "," : "", header.name[c]);
        fputc('\n', s->progress);
    }
    if (o->tensorboard) {
        /* A new file per start: a resumed run never rewrites what earlier files hold. The step of
         * every event is the update count, so the SessionLog START at the checkpoint's updates +
         * 1 makes TensorBoard drop exactly the earlier files' points that progress.csv was cut
         * back from (rows after the checkpoint, cut_progress). */
        s->events = tfevents_open(s->run_path, err, sizeof err);
        if (!s->events) {
            log_error("no TensorBoard events for this run: %s", err);
        } else {
            struct timespec now;
            clock_gettime(CLOCK_REALTIME, &now);
            if (o->resume &&
                tfevents_write_session_start(s->events, learner_updates(s->learner) + 1,
                                             (double)now.tv_sec + 1e-9 * (double)now.tv_nsec, err,
                                             sizeof err) != 0) {
                log_error("TensorBoard events off: %s", err);
                tfevents_close(&s->events);
            } else {
                log_info("TensorBoard events: %s", tfevents_path(s->events));
            }
        }
    }
    log_info("run %s: env %s, variant %s, hidden %s, batch %lld, %d shard(s), %d thread(s)%s%s; "
             "writing %s",
             o->run_id, o->env, o->variant, o->hidden, o->batch_size, s->n_shards,
             narrow ? 1 : (int)o->threads,
             narrow && o->threads > 1 ? " (--threads applies from --pool-min-width units up)" : "",
             nn_simd_enabled() ? "" : " (OpenBLAS's: no AVX-512)", s->run_path);
    if (!o->run_token[0])
        log_warn("no --run-token (ODAC_RUN_TOKEN): stats from any sender count, and any sender's "
                 "evaluation can end the run");
    return 0;
bad:
    log_error("%s", err);
    *exit_code = 2;
    return -1;
}

static void teardown(server_t *s) {
    while (s->n_ready > 0) {
        odac__sample_batch__free_unpacked(s->ready[s->ready_head], NULL);
        s->ready_head = (s->ready_head + 1) % MAX_READY;
        s->n_ready--;
    }
    for (int k = 0; k < s->n_shards; k++)
        if (s->shards[k].sock) zmq_close(s->shards[k].sock);
    if (s->pub) zmq_close(s->pub);
    if (s->stats_pull) zmq_close(s->stats_pull);
    if (s->status_sock) zmq_close(s->status_sock);
    if (s->zctx) zmq_ctx_term(s->zctx);
    if (s->progress) fclose(s->progress);
    tfevents_close(&s->events);
    learner_video_poll(&s->video, 1);
    learner_free(s->learner);
}

/* ---- the loop ---- */

static const char *finished_reason(server_t *s) {
    if (s->o.target_distance > 0 && s->have_eval &&
        s->last_eval.final_distance_mean <= s->o.target_distance)
        return "evaluation final distance reached the target";
    if (total_env_steps(s) >= (uint64_t)s->o.max_env_steps) return "env step budget reached";
    if (s->o.max_updates > 0 && learner_updates(s->learner) >= s->o.max_updates)
        return "update budget reached";
    return NULL;
}

int learner_server_main(int argc, char **argv) {
    log_set_component("learner");
    static server_t server; /* large: actor table and options */
    server_t *s = &server;
    s->best_eval = INFINITY;
    int exit_code = 0;
    if (setup(s, argc, argv, &exit_code) != 0) {
        teardown(s);
        return exit_code;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    s->start_wall = now_s();
    s->last_log = s->last_log_updates_t = s->start_wall;
    s->last_log_updates = learner_updates(s->learner);
    publish(s, 0);
    const char *done = NULL;
    long long since_publish = 0, since_ckpt = 0;
    zmq_pollitem_t items[MAX_SHARDS + 2];
    heartbeat_init(&s->heartbeat, s->o.heartbeat_file);
    while (!stop_signal && !(done = finished_reason(s))) {
        heartbeat_beat(&s->heartbeat);
        expire_requests(s);
        request_batches(s);
        /* Wait only when there is nothing to learn from. */
        int timeout = s->n_ready > 0 ? 0 : 100;
        for (int k = 0; k < s->n_shards; k++)
            items[k] = (zmq_pollitem_t){s->shards[k].sock, 0, ZMQ_POLLIN, 0};
        items[s->n_shards] = (zmq_pollitem_t){s->stats_pull, 0, ZMQ_POLLIN, 0};
        int n_items = s->n_shards + 1;
        if (s->status_sock) items[n_items++] = (zmq_pollitem_t){s->status_sock, 0, ZMQ_POLLIN, 0};
        double t0 = now_s();
        int rc = zmq_poll(items, n_items, timeout);
        if (s->n_ready == 0 && s->first_batch_time > 0) s->idle_s += now_s() - t0;
        if (rc < 0 && zmq_errno() != EINTR) {
            log_error("poll failed: %s", zmq_strerror(zmq_errno()));
            exit_code = 1;
            break;
        }
        for (int k = 0; k < s->n_shards; k++)
            if (items[k].revents & ZMQ_POLLIN) receive_from_shard(s, &s->shards[k]);
        if (items[s->n_shards].revents & ZMQ_POLLIN) receive_stats(s);
        if (s->status_sock && (items[s->n_shards + 1].revents & ZMQ_POLLIN)) answer_status(s);

        if (s->n_ready > 0) {
            if (s->first_batch_time <= 0) {
                s->first_batch_time = now_s();
                log_info("first batch arrived: training");
            }
            Odac__SampleBatch *b = s->ready[s->ready_head];
            s->ready_head = (s->ready_head + 1) % MAX_READY;
            s->n_ready--;
            learner_batch_t batch = {
                (int)b->batch_size, b->observations,        b->actions, b->next_observations,
                b->achieved_goals,  b->next_achieved_goals, b->goals,   NULL};
            char err[512];
            double u0 = now_s();
            if (learner_update(s->learner, &batch, err, sizeof err) != 0)
                log_warn("update skipped: %s", err);
            s->busy_s += now_s() - u0;
            odac__sample_batch__free_unpacked(b, NULL);
            since_publish++;
            since_ckpt++;
        }
        if (since_publish >= s->o.publish_every || now_s() - s->last_publish_time > 1.0) {
            publish(s, 0);
            since_publish = 0;
        }
        if (since_ckpt >= s->o.checkpoint_every) {
            save_checkpoint(s);
            since_ckpt = 0;
        }
        learner_video_poll(&s->video, 0);
        if (s->video_due) { /* the checkpoint first: the child films what it holds */
            char err[512];
            s->video_due = 0;
            if (save_checkpoint(s) == 0) {
                since_ckpt = 0;
                if (learner_video_start(&s->video, learner_updates(s->learner), err, sizeof err))
                    log_warn("video: %s", err);
            }
        }
        if (now_s() - s->last_log >= s->o.log_every_s) log_progress(s);
    }
    if (done) log_info("run finished: %s", done);
    if (stop_signal) log_info("stopping on %s", strsignal(stop_signal));
    receive_stats(s);
    log_progress(s);
    if (save_checkpoint(s) != 0) exit_code = 1;
    if (done && exit_code == 0) mark_finished(s, done);
    if (done) {
        /* Tell the actors; PUB drops for peers that are slow to read, so say it a few times. */
        for (int i = 0; i < 5; i++) {
            publish(s, 1);
            zmq_poll(NULL, 0, 100);
        }
    }
    log_info("best evaluation final distance %.4f; results in %s", s->best_eval, s->run_path);
    teardown(s);
    return exit_code;
}
