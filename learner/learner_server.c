/* learner_server: the odac-learner process as a library (learner_server.h), on a libuv loop like
 * the replay's. One thread: every wakeup (a socket's fd, the tick timer, the idle continuation)
 * runs turn(), which keeps sample requests in flight to every shard, reads what the sockets hold
 * (ZMQ_FD only signals edges, so turn() reads until ZMQ_EVENTS says empty), does one update on a
 * ready batch, publishes weights, logs progress and checkpoints. While batches are ready an idle
 * handle runs the next turn at once (the loop still polls fds and timers between turns); with none
 * the loop sleeps until a socket or the timer wakes it, and that time is measured
 * (learner_busy_pct). */
#include "learner_server.h"
#include "ckpt_file.h"
#include "curve.h"
#include "env.h"
#include "flags.h"
#include "heartbeat.h"
#include "learner_core.h"
#include "learner_options.h"
#include "learner_video.h"
#include "log.h"
#include "nn.h"
#include "tfevents.h"
#include "wire.h"
#include "zmq_uv.h"
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#define MAX_SHARDS 16
#define MAX_ACTORS 1024
#define MAX_READY 64
#define LEARNER_STATS_HWM 256 /* actor stats queued before the learner reads them */
#define TICK_MS 50            /* timer: expiry, retries, publishing, progress, heartbeat */

/* A sample request waiting for its answer. */
typedef struct {
    uint64_t id;
    double sent_s;
} request_t;

typedef struct {
    void *sock;
    char endpoint[FLAGS_STR_MAX];
    request_t in_flight[LEARNER_MAX_PREFETCH]; /* requests sent and not answered, oldest first */
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
    COL_Q_MAX,
    COL_Q_BOUND,
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

struct learner_server {
    learner_options_t o;
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
    /* the loop */
    uv_loop_t loop;
    uv_poll_t shard_poll[MAX_SHARDS], stats_poll, status_poll;
    uv_timer_t tick;
    uv_idle_t idle;
    uv_async_t stop_async;
    uv_signal_t sigterm, sigint;
    int loop_ready, handles_ready, n_shard_polls, handle_signals;
    int stopping;
    const char *done; /* why the run finished (NULL: it did not, or not yet) */
    char stop_why[64];
    long long since_publish, since_ckpt;
    double idle_since;        /* > 0: no batch was ready at the end of the last turn (then) */
    long long updates_shared; /* learner_updates for other threads (atomic) */
};
typedef struct learner_server server_t;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
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
            req.samples_per_insert = s->o.updates_per_step * (double)s->o.batch_size;
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
    [COL_Q_MAX] = {"q_max", "%.5g"},
    [COL_Q_BOUND] = {"q_bound", "%.5g"},
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
    /* The most any value can be given the rewards (the clip's upper end at the scale in force):
     * q_max above it is the critic overestimating, whether or not --clip-target is on. */
    double q_lo, q_hi;
    learner_target_bounds(learner_config(s->learner), sum.reward_scale.mean, &q_lo, &q_hi);
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
        [COL_Q_MAX] = sum.updates > 0 ? sum.q.max : NAN,
        [COL_Q_BOUND] = sum.updates > 0 ? q_hi : NAN,
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

static int setup(server_t *s, int argc, char **argv, int *exit_code) {
    learner_options_t *o = &s->o;
    char err[1024];
    flag_t table[LEARNER_MAX_FLAGS];
    int n;
    int rc = learner_options_parse(o, &s->cfg, &s->spec, table, &n, argc, argv, err, sizeof err);
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
    log_info("run %s: env %s, variant %s, hidden %s, batch %lld, %d shard(s), %d thread(s)%s%s%s; "
             "writing %s",
             o->run_id, o->env, o->variant, o->hidden, o->batch_size, s->n_shards,
             learner_threads_used(s->learner), learner_lanes(s->learner) ? " as two lanes" : "",
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

/* Something waits on a socket that turn() reads (receive_from_shard stops at MAX_READY). */
static int input_waiting(server_t *s) {
    if (s->n_ready < MAX_READY)
        for (int k = 0; k < s->n_shards; k++)
            if (zmq_uv_readable(s->shards[k].sock)) return 1;
    return zmq_uv_readable(s->stats_pull) || (s->status_sock && zmq_uv_readable(s->status_sock));
}

static void begin_stop(server_t *s, const char *why) {
    if (s->stopping) return;
    snprintf(s->stop_why, sizeof s->stop_why, "%s", why);
    s->stopping = 1;
    uv_stop(&s->loop);
}

/* One update on the oldest ready batch. */
static void update_once(server_t *s) {
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
    s->since_publish++;
    s->since_ckpt++;
    __atomic_store_n(&s->updates_shared, learner_updates(s->learner), __ATOMIC_RELAXED);
}

static void on_idle(uv_idle_t *h);

/* One turn of the loop (what every wakeup runs; see the top of the file). */
static void turn(server_t *s) {
    if (s->stopping) return;
    double t0 = now_s();
    if (s->idle_since > 0) {
        s->idle_s += t0 - s->idle_since;
        s->idle_since = 0;
    }
    expire_requests(s);
    request_batches(s);
    for (int k = 0; k < s->n_shards; k++)
        if (zmq_uv_readable(s->shards[k].sock)) receive_from_shard(s, &s->shards[k]);
    if (zmq_uv_readable(s->stats_pull)) receive_stats(s);
    if (s->status_sock && zmq_uv_readable(s->status_sock)) answer_status(s);
    if (s->n_ready > 0) update_once(s);
    if (s->since_publish >= s->o.publish_every || now_s() - s->last_publish_time > 1.0) {
        publish(s, 0);
        s->since_publish = 0;
    }
    if (s->since_ckpt >= s->o.checkpoint_every) {
        save_checkpoint(s);
        s->since_ckpt = 0;
    }
    learner_video_poll(&s->video, 0);
    if (s->video_due) { /* the checkpoint first: the child films what it holds */
        char err[512];
        s->video_due = 0;
        if (save_checkpoint(s) == 0) {
            s->since_ckpt = 0;
            if (learner_video_start(&s->video, learner_updates(s->learner), err, sizeof err))
                log_warn("video: %s", err);
        }
    }
    if (now_s() - s->last_log >= s->o.log_every_s) log_progress(s);
    if ((s->done = finished_reason(s)) != NULL) {
        begin_stop(s, "run finished");
        return;
    }
    /* Sends and receives above may have consumed the fds' edges: look again before sleeping. */
    int more = s->n_ready > 0 || input_waiting(s);
    if (s->n_ready == 0 && s->first_batch_time > 0) s->idle_since = now_s();
    if (more)
        uv_idle_start(&s->idle, on_idle);
    else
        uv_idle_stop(&s->idle);
}

static void on_idle(uv_idle_t *h) {
    turn(h->data);
}

static void on_poll(uv_poll_t *h, int status, int events) {
    (void)status;
    (void)events;
    turn(h->data);
}

static void on_tick(uv_timer_t *h) {
    server_t *s = h->data;
    heartbeat_beat(&s->heartbeat);
    turn(s);
}

static void on_signal(uv_signal_t *h, int signum) {
    server_t *s = h->data;
    char why[64];
    snprintf(why, sizeof why, "stopping on %s", strsignal(signum));
    begin_stop(s, why);
}

static void on_stop_async(uv_async_t *h) {
    begin_stop(h->data, "stop requested");
}

void learner_server_stop(learner_server_t *s) {
    uv_async_send(&s->stop_async);
}

long long learner_server_updates(const learner_server_t *s) {
    return __atomic_load_n(&s->updates_shared, __ATOMIC_RELAXED);
}

static int start_loop(server_t *s, char *err, size_t errcap) {
    int rc = uv_loop_init(&s->loop);
    if (rc != 0) {
        snprintf(err, errcap, "uv_loop_init: %s", uv_strerror(rc));
        return -1;
    }
    s->loop_ready = 1;
    for (int k = 0; k < s->n_shards; k++, s->n_shard_polls++)
        if (zmq_uv_poll_start(&s->loop, &s->shard_poll[k], s->shards[k].sock, s, on_poll, err,
                              errcap) != 0)
            return -1;
    if (zmq_uv_poll_start(&s->loop, &s->stats_poll, s->stats_pull, s, on_poll, err, errcap) != 0)
        return -1;
    if (s->status_sock &&
        zmq_uv_poll_start(&s->loop, &s->status_poll, s->status_sock, s, on_poll, err, errcap) != 0)
        return -1;
    uv_idle_init(&s->loop, &s->idle);
    s->idle.data = s;
    uv_timer_init(&s->loop, &s->tick);
    s->tick.data = s;
    uv_async_init(&s->loop, &s->stop_async, on_stop_async);
    s->stop_async.data = s;
    uv_signal_init(&s->loop, &s->sigterm);
    s->sigterm.data = s;
    uv_signal_init(&s->loop, &s->sigint);
    s->sigint.data = s;
    s->handles_ready = 1;
    uv_timer_start(&s->tick, on_tick, TICK_MS, TICK_MS);
    if (s->handle_signals) {
        uv_signal_start(&s->sigterm, on_signal, SIGTERM);
        uv_signal_start(&s->sigint, on_signal, SIGINT);
    }
    return 0;
}

learner_server_t *learner_server_new(int argc, char **argv, int handle_signals, int *exit_code) {
    log_set_component("learner");
    server_t *s = calloc(1, sizeof *s);
    if (!s) {
        log_error("out of memory");
        *exit_code = 1;
        return NULL;
    }
    s->best_eval = INFINITY;
    s->handle_signals = handle_signals;
    *exit_code = 0;
    if (setup(s, argc, argv, exit_code) != 0) {
        learner_server_free(s);
        return NULL;
    }
    char err[256];
    if (start_loop(s, err, sizeof err) != 0) {
        log_error("%s", err);
        *exit_code = 1;
        learner_server_free(s);
        return NULL;
    }
    __atomic_store_n(&s->updates_shared, learner_updates(s->learner), __ATOMIC_RELAXED);
    return s;
}

int learner_server_run(learner_server_t *s) {
    s->start_wall = now_s();
    s->last_log = s->last_log_updates_t = s->start_wall;
    s->last_log_updates = learner_updates(s->learner);
    heartbeat_init(&s->heartbeat, s->o.heartbeat_file);
    heartbeat_beat(&s->heartbeat);
    publish(s, 0);
    turn(s);
    while (!s->stopping) uv_run(&s->loop, UV_RUN_DEFAULT);
    if (s->done)
        log_info("run finished: %s", s->done);
    else
        log_info("%s", s->stop_why);
    receive_stats(s);
    log_progress(s);
    int exit_code = save_checkpoint(s) != 0 ? 1 : 0;
    if (s->done && exit_code == 0) mark_finished(s, s->done);
    if (s->done) {
        /* Tell the actors; PUB drops for peers that are slow to read, so say it a few times. */
        for (int i = 0; i < 5; i++) {
            publish(s, 1);
            zmq_poll(NULL, 0, 100);
        }
    }
    log_info("best evaluation final distance %.4f; results in %s", s->best_eval, s->run_path);
    return exit_code;
}

const char *learner_server_finished(const learner_server_t *s) {
    return s->done;
}

int learner_server_endpoint(learner_server_t *s, learner_endpoint_t which, char *out, size_t cap) {
    void *sock = which == LEARNER_ENDPOINT_WEIGHTS  ? s->pub
                 : which == LEARNER_ENDPOINT_STATS  ? s->stats_pull
                 : which == LEARNER_ENDPOINT_STATUS ? s->status_sock
                                                    : NULL;
    size_t len = cap;
    if (!sock) return -1;
    return zmq_getsockopt(sock, ZMQ_LAST_ENDPOINT, out, &len);
}

void learner_server_counters(const learner_server_t *s, learner_server_counters_t *c) {
    memset(c, 0, sizeof *c);
    c->updates = learner_updates(s->learner);
    c->env_steps = total_env_steps(s);
    c->rejected_token = s->rejected_token;
    for (int r = 0; r < WIRE_REJECT_COUNT_; r++) c->rejected_wire += s->rejects.count[r];
    for (int k = 0; k < s->n_shards; k++) {
        c->shard_timeouts += s->shards[k].timeouts;
        c->shard_refused += s->shards[k].refused;
        c->batches += s->shards[k].batches;
    }
    c->n_actors = s->n_actors;
    c->publish_version = s->publish_version;
}

static void on_close(uv_handle_t *h) {
    (void)h;
}

void learner_server_free(learner_server_t *s) {
    if (!s) return;
    if (s->handles_ready) {
        uv_close((uv_handle_t *)&s->idle, on_close);
        uv_close((uv_handle_t *)&s->tick, on_close);
        uv_close((uv_handle_t *)&s->stop_async, on_close);
        uv_close((uv_handle_t *)&s->sigterm, on_close);
        uv_close((uv_handle_t *)&s->sigint, on_close);
    }
    if (s->loop_ready) {
        for (int k = 0; k < s->n_shard_polls; k++)
            if (s->shard_poll[k].data) uv_close((uv_handle_t *)&s->shard_poll[k], on_close);
        if (s->stats_poll.data) uv_close((uv_handle_t *)&s->stats_poll, on_close);
        if (s->status_poll.data) uv_close((uv_handle_t *)&s->status_poll, on_close);
        uv_run(&s->loop, UV_RUN_DEFAULT); /* runs the close callbacks */
        uv_loop_close(&s->loop);
    }
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
    free(s);
}

int learner_server_main(int argc, char **argv) {
    int exit_code;
    learner_server_t *s = learner_server_new(argc, argv, 1, &exit_code);
    if (!s) return exit_code;
    exit_code = learner_server_run(s);
    learner_server_free(s);
    return exit_code;
}
