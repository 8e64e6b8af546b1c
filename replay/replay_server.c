/* replay_server: the libuv loop that connects a shard to its ZeroMQ sockets.
 *
 * The one idea: ZMQ_FD only signals edges, so every wakeup (socket fd, idle continuation) runs
 * pump(), which keeps reading, serving and re-checking ZMQ_EVENTS on both sockets until a pass
 * makes no progress. A socket is then either drained or deliberately left unread (inserts held
 * back by the rate limiter, request queue full); both conditions only change through work that
 * pump() itself does, so nothing is missed. pump() handles a bounded number of messages per call
 * and continues from a uv_idle handle, so timers and signals are never starved. */
#include "replay_server.h"
#include "curve.h"
#include "heartbeat.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>
#include <zmq.h>

#include "log.h"
#include "wire.h"
#include "zmq_uv.h"

#define PUMP_BUDGET 256 /* messages handled per pump() call */

typedef enum { REQ_SAMPLE = 0, REQ_STATS = 1 } request_kind_t;

typedef struct {
    zmq_msg_t identity; /* the ROUTER's routing id of the requesting peer */
    request_kind_t kind;
    uint64_t request_id;
    uint32_t batch_size;
    uint64_t deadline_ns; /* answer with SampleError EXPIRED after this (0: none) */
} pending_t;

#define REPLAY_INSERT_KERNEL_BUF (32 * 1024) /* bytes of episodes the kernel holds */
#define REPLAY_REQUEST_HWM 64                /* messages queued per requesting peer */

struct replay_server {
    replay_server_config_t cfg;
    replay_shard_t *shard;
    void *zctx, *insert_sock, *sample_sock;
    uv_loop_t loop;
    uv_poll_t insert_poll, sample_poll;
    uv_timer_t stats_timer, ckpt_timer, child_timer, heartbeat_timer, expire_timer;
    heartbeat_t heartbeat;
    pid_t ckpt_child; /* background checkpoint writer, 0 when none */
    uint64_t child_start_ns;
    int64_t child_transitions, child_episodes;
    uv_signal_t sigterm, sigint;
    uv_async_t stop_async;
    uv_idle_t idle;
    int loop_ready, handles_ready;
    pending_t *pending; /* ring of max_pending requests, oldest at pending_head */
    int pending_head, pending_count;
    int insert_blocked; /* inserts are currently held back by the rate limiter */
    size_t max_episode_bytes;
    int stopping, final_rc;
    uint64_t log_inserted, log_sampled; /* counters at the previous stats line */
    uint64_t log_time_ns;
    uint64_t expired, refused;            /* sample requests answered with an error */
    uint64_t ratio_changes, ratio_log_ns; /* ratio changes taken, and when the last was logged */
};

void replay_server_config_defaults(replay_server_config_t *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->shard.capacity = 1000000;
    cfg->shard.min_size = 1000;
    cfg->shard.samples_per_insert = 256;
    cfg->shard.tolerance = 0; /* replay_default_tolerance() */
    cfg->shard.future_p = 0.8f;
    cfg->shard.max_batch = 4096;
    cfg->checkpoint_every_s = 300;
    cfg->stats_every_s = 10;
    cfg->max_pending = 256;
    cfg->insert_hwm = 4;
}

replay_shard_t *replay_server_shard(replay_server_t *s) {
    return s->shard;
}

/* Logs a rejection when its count reaches 1, 10, 100, ...: a flood cannot drown the log. */
static void note_reject(replay_server_t *s, wire_reject_t reason, const char *what,
                        const char *msg) {
    replay_shard_count_reject(s->shard, reason);
    uint64_t n = s->shard->counters.rejected[reason];
    uint64_t p = 1;
    while (p < n && p <= UINT64_MAX / 10) p *= 10;
    if (n == p)
        log_warn("rejected %s (%s, %llu so far): %s", what, wire_reject_name(reason),
                 (unsigned long long)n, msg);
}

/* ---- inserts ---- */

static void handle_episode(replay_server_t *s, wire_msg_t *m) {
    char tag[WIRE_TAG_MAX], err[256];
    if (m->n_parts != 2 || m->dropped_parts || strcmp(wire_msg_tag(m, 0, tag), WIRE_TAG_EPISODE)) {
        note_reject(s, WIRE_REJECT_FRAMES, "insert", "expected [episode][Episode]");
        return;
    }
    size_t len = wire_msg_size(m, 1);
    if (len > s->max_episode_bytes) {
        snprintf(err, sizeof err, "%zu bytes, the largest episode of this env is %zu", len,
                 s->max_episode_bytes);
        note_reject(s, WIRE_REJECT_OVERSIZED, "episode", err);
        return;
    }
    wire_reject_t reason;
    Odac__Episode *ep =
        wire_decode_episode(wire_msg_data(m, 1), len, &s->cfg.shard.dims, &reason, err, sizeof err);
    if (!ep) {
        note_reject(s, reason, "episode", err);
        return;
    }
    if (replay_shard_insert(s->shard, ep, err, sizeof err) != 0)
        log_warn("rejected episode: %s", err);
    odac__episode__free_unpacked(ep, NULL);
}

/* Reads one episode if the limiter allows; 1 when a message was consumed. */
static int pump_insert(replay_server_t *s) {
    if (!zmq_uv_readable(s->insert_sock)) return 0;
    if (!replay_shard_can_insert(s->shard)) {
        if (!s->insert_blocked) s->shard->counters.insert_waits++;
        s->insert_blocked = 1;
        return 0;
    }
    s->insert_blocked = 0;
    wire_msg_t m;
    if (wire_recv(s->insert_sock, &m, 0) != 1) return 0;
    handle_episode(s, &m);
    wire_msg_close(&m);
    return 1;
}

/* ---- requests ---- */

static void send_stats(replay_server_t *s, zmq_msg_t *identity) {
    Odac__ShardStats st;
    replay_shard_stats(s->shard, &st);
    if (wire_send(s->sample_sock, identity, WIRE_TAG_SHARD_STATS, &st.base, ZMQ_DONTWAIT) != 0)
        log_warn("stats reply not sent: %s", zmq_strerror(errno));
}

static void send_batch(replay_server_t *s, pending_t *p) {
    char err[256];
    int B = (int)p->batch_size;
    if (replay_shard_sample(s->shard, B, err, sizeof err) != 0) {
        log_error("sample failed: %s", err); /* cannot happen once can_sample said yes */
        return;
    }
    const wire_dims_t *d = &s->cfg.shard.dims;
    const replay_shard_batch_t *b = &s->shard->batch;
    Odac__SampleBatch msg;
    odac__sample_batch__init(&msg);
    Odac__ShardStats st;
    replay_shard_stats(s->shard, &st);
    msg.protocol_version = WIRE_PROTOCOL_VERSION;
    msg.request_id = p->request_id;
    msg.batch_size = (uint32_t)B;
    msg.n_observations = msg.n_next_observations = (size_t)B * d->obs_dim;
    msg.n_actions = (size_t)B * d->action_dim;
    msg.n_achieved_goals = msg.n_next_achieved_goals = msg.n_goals = (size_t)B * d->goal_dim;
    msg.observations = b->obs;
    msg.next_observations = b->next_obs;
    msg.actions = b->actions;
    msg.achieved_goals = b->achieved_goal;
    msg.next_achieved_goals = b->next_achieved_goal;
    msg.goals = b->goal;
    msg.stats = &st;
    if (wire_send(s->sample_sock, &p->identity, WIRE_TAG_SAMPLE_BATCH, &msg.base, ZMQ_DONTWAIT) !=
        0)
        log_warn("batch reply %llu not sent: %s", (unsigned long long)p->request_id,
                 zmq_strerror(errno));
}

/* Answers a sample request with an error instead of a batch (the requester stops waiting). */
static void send_sample_error(replay_server_t *s, zmq_msg_t *identity, uint64_t request_id,
                              Odac__SampleError__Code code, const char *message) {
    Odac__SampleError e = ODAC__SAMPLE_ERROR__INIT;
    e.protocol_version = WIRE_PROTOCOL_VERSION;
    e.request_id = request_id;
    e.code = code;
    e.message = (char *)message; /* packed, not modified */
    if (wire_send(s->sample_sock, identity, WIRE_TAG_SAMPLE_ERROR, &e.base, ZMQ_DONTWAIT) != 0)
        log_warn("error reply %llu not sent: %s", (unsigned long long)request_id,
                 zmq_strerror(errno));
}

static uint64_t now_ns(void);

static int pending_from(replay_server_t *s, zmq_msg_t *identity) {
    size_t n = zmq_msg_size(identity);
    for (int i = 0; i < s->pending_count; i++) {
        pending_t *p = &s->pending[(s->pending_head + i) % s->cfg.max_pending];
        if (zmq_msg_size(&p->identity) == n &&
            memcmp(zmq_msg_data(&p->identity), zmq_msg_data(identity), n) == 0)
            return 1;
    }
    return 0;
}

/* Takes the learner's ratio (a validated request's) when this shard follows it. */
static void follow_ratio(replay_server_t *s, double samples_per_insert) {
    if (!s->cfg.follow_learner_ratio || samples_per_insert <= 0 ||
        samples_per_insert == s->shard->cfg.samples_per_insert)
        return;
    char err[256];
    if (replay_shard_set_ratio(s->shard, samples_per_insert, err, sizeof err) != 0) {
        log_warn("%s", err);
        return;
    }
    /* One line per change, at most one per 10 s: a client alternating ratios cannot flood it. */
    uint64_t t = now_ns();
    if (s->ratio_changes++ == 0 || t - s->ratio_log_ns >= 10000000000u) {
        s->ratio_log_ns = t;
        log_info("rate limiter: %g samples per insert (the learner's), tolerance %g (%llu "
                 "change(s) so far)",
                 s->shard->cfg.samples_per_insert, s->shard->limiter.tolerance,
                 (unsigned long long)s->ratio_changes);
    }
}

static void handle_request(replay_server_t *s, wire_msg_t *m) {
    char tag[WIRE_TAG_MAX], err[256];
    if (m->n_parts < 2 || m->n_parts > 3 || m->dropped_parts) {
        note_reject(s, WIRE_REJECT_FRAMES, "request", "expected [tag][payload]");
        return;
    }
    wire_msg_tag(m, 1, tag);
    if (!strcmp(tag, WIRE_TAG_STATS_REQUEST)) {
        /* Answered at once unless this client has requests queued (replies keep their order). */
        if (!pending_from(s, &m->part[0])) {
            send_stats(s, &m->part[0]);
            return;
        }
        pending_t *p = &s->pending[(s->pending_head + s->pending_count) % s->cfg.max_pending];
        zmq_msg_init(&p->identity);
        zmq_msg_move(&p->identity, &m->part[0]);
        p->kind = REQ_STATS;
        s->pending_count++;
        return;
    }
    if (strcmp(tag, WIRE_TAG_SAMPLE_REQUEST) || m->n_parts != 3) {
        note_reject(s, WIRE_REJECT_FRAMES, "request", "unknown tag or missing payload");
        return;
    }
    wire_reject_t reason;
    Odac__SampleRequest *req = wire_decode_sample_request(wire_msg_data(m, 2), wire_msg_size(m, 2),
                                                          &reason, err, sizeof err);
    if (!req) {
        note_reject(s, reason, "sample request", err);
        s->refused++;
        send_sample_error(s, &m->part[0], 0, ODAC__SAMPLE_ERROR__CODE__REFUSED, err);
        return;
    }
    if (req->batch_size > (uint32_t)s->cfg.shard.max_batch) {
        snprintf(err, sizeof err, "batch size %u exceeds this shard's --max-batch %d",
                 req->batch_size, s->cfg.shard.max_batch);
        note_reject(s, WIRE_REJECT_OVERSIZED, "sample request", err);
        s->refused++;
        send_sample_error(s, &m->part[0], req->request_id, ODAC__SAMPLE_ERROR__CODE__REFUSED, err);
        odac__sample_request__free_unpacked(req, NULL);
        return;
    }
    follow_ratio(s, req->samples_per_insert);
    pending_t *p = &s->pending[(s->pending_head + s->pending_count) % s->cfg.max_pending];
    zmq_msg_init(&p->identity);
    zmq_msg_move(&p->identity, &m->part[0]);
    p->kind = REQ_SAMPLE;
    p->request_id = req->request_id;
    p->batch_size = req->batch_size;
    p->deadline_ns = req->timeout_ms ? now_ns() + (uint64_t)req->timeout_ms * 1000000u : 0;
    odac__sample_request__free_unpacked(req, NULL);
    if (s->pending_count > 0 || !replay_shard_can_sample(s->shard, (int)p->batch_size))
        s->shard->counters.sample_waits++;
    s->pending_count++;
}

/* Answers queued requests from the oldest while the limiter allows; returns how many. */
static int serve_pending(replay_server_t *s) {
    int served = 0;
    while (s->pending_count > 0) {
        pending_t *p = &s->pending[s->pending_head];
        if (p->kind == REQ_SAMPLE) {
            if (!replay_shard_can_sample(s->shard, (int)p->batch_size)) {
                if (!p->deadline_ns || now_ns() < p->deadline_ns) break;
                s->expired++;
                send_sample_error(s, &p->identity, p->request_id, ODAC__SAMPLE_ERROR__CODE__EXPIRED,
                                  "held back by the rate limiter past its timeout");
            } else {
                send_batch(s, p);
            }
        } else {
            send_stats(s, &p->identity);
        }
        zmq_msg_close(&p->identity);
        s->pending_head = (s->pending_head + 1) % s->cfg.max_pending;
        s->pending_count--;
        served++;
    }
    return served;
}

static int pump_request(replay_server_t *s) {
    if (s->pending_count >= s->cfg.max_pending || !zmq_uv_readable(s->sample_sock)) return 0;
    wire_msg_t m;
    if (wire_recv(s->sample_sock, &m, 0) != 1) return 0;
    handle_request(s, &m);
    wire_msg_close(&m);
    return 1;
}

static void on_idle(uv_idle_t *h);

static void pump(replay_server_t *s) {
    if (s->stopping) return;
    int budget = PUMP_BUDGET, progress;
    do {
        progress = serve_pending(s);
        int n = pump_request(s);
        progress += n;
        budget -= n;
        if (n) progress += serve_pending(s);
        n = pump_insert(s);
        progress += n;
        budget -= n;
    } while (progress && budget > 0);
    /* Out of budget with work left: continue on the next loop iteration. */
    if (progress)
        uv_idle_start(&s->idle, on_idle);
    else
        uv_idle_stop(&s->idle);
}

static void on_idle(uv_idle_t *h) {
    pump(h->data);
}

static void on_poll(uv_poll_t *h, int status, int events) {
    (void)status;
    (void)events;
    pump(h->data);
}

/* ---- timers, checkpoints, shutdown ---- */

static uint64_t now_ns(void) {
    return uv_hrtime();
}

static void log_stats(replay_server_t *s) {
    const replay_shard_counters_t *c = &s->shard->counters;
    uint64_t t = now_ns();
    double dt = (double)(t - s->log_time_ns) * 1e-9;
    if (dt <= 0) dt = 1e-9;
    char rej[256];
    size_t off = 0;
    for (int i = 1; i < REPLAY_N_REASONS && off < sizeof rej; i++)
        off += (size_t)snprintf(rej + off, sizeof rej - off, "%s%s=%llu", i > 1 ? "," : "",
                                wire_reject_name((wire_reject_t)i),
                                (unsigned long long)c->rejected[i]);
    log_info("size %lld transitions in %lld episodes; inserted %llu (%.0f/s), sampled %llu "
             "(%.0f/s), evicted %llu episodes, rejected {%s}, sample waits %llu, insert waits "
             "%llu, queued requests %d, expired %llu, refused %llu, limiter excess %.0f",
             (long long)replay_store_size_transitions(s->shard->store),
             (long long)replay_store_size_episodes(s->shard->store),
             (unsigned long long)c->inserted_transitions,
             (double)(c->inserted_transitions - s->log_inserted) / dt,
             (unsigned long long)c->sampled_transitions,
             (double)(c->sampled_transitions - s->log_sampled) / dt,
             (unsigned long long)replay_store_evicted_episodes(s->shard->store), rej,
             (unsigned long long)c->sample_waits, (unsigned long long)c->insert_waits,
             s->pending_count, (unsigned long long)s->expired, (unsigned long long)s->refused,
             replay_ratelimit_excess(&s->shard->limiter));
    s->log_inserted = c->inserted_transitions;
    s->log_sampled = c->sampled_transitions;
    s->log_time_ns = t;
}

static void on_heartbeat_timer(uv_timer_t *h) {
    replay_server_t *s = h->data;
    heartbeat_beat(&s->heartbeat);
}

/* Requests held back by the limiter expire even when nothing else wakes the loop. */
static void on_expire_timer(uv_timer_t *h) {
    replay_server_t *s = h->data;
    if (s->pending_count > 0) pump(s);
}

static void on_stats_timer(uv_timer_t *h) {
    log_stats(h->data);
}

static int checkpoint(replay_server_t *s) {
    if (!s->cfg.checkpoint_dir[0]) return 0;
    char err[512];
    uint64_t t0 = now_ns();
    if (replay_shard_save(s->shard, s->cfg.checkpoint_dir, err, sizeof err) != 0) {
        log_error("checkpoint failed: %s", err);
        return -1;
    }
    log_info("checkpoint written: %lld transitions in %lld episodes, %.3f s",
             (long long)replay_store_size_transitions(s->shard->store),
             (long long)replay_store_size_episodes(s->shard->store),
             (double)(now_ns() - t0) * 1e-9);
    return 0;
}

/* Periodic checkpoints are written by a forked child from a copy-on-write snapshot of the
 * shard, so the loop keeps serving while ~200 MB go to disk. The child closes every inherited
 * descriptor (ZeroMQ's listeners included, so a restarted shard can bind again), dies with its
 * parent, touches nothing but the shard's memory and its file, and leaves with _exit. */
static void on_child_timer(uv_timer_t *h) {
    replay_server_t *s = h->data;
    int status;
    pid_t r = waitpid(s->ckpt_child, &status, WNOHANG);
    if (r == 0) return;
    uv_timer_stop(&s->child_timer);
    if (r == s->ckpt_child && WIFEXITED(status) && WEXITSTATUS(status) == 0)
        log_info("checkpoint written in the background: %lld transitions in %lld episodes, "
                 "%.3f s",
                 (long long)s->child_transitions, (long long)s->child_episodes,
                 (double)(now_ns() - s->child_start_ns) * 1e-9);
    else
        log_error("background checkpoint failed (status %d); the previous checkpoint is kept",
                  status);
    s->ckpt_child = 0;
}

/* Stops a background checkpoint still being written: the final save, of newer state, replaces
 * its file anyway, and waiting for it could outlast the launcher's grace period. Killing it is
 * safe: it writes only <file>.tmp, renamed over the checkpoint as its very last step. */
static void stop_child(replay_server_t *s) {
    if (s->ckpt_child <= 0) return;
    if (waitpid(s->ckpt_child, NULL, WNOHANG) == 0) {
        log_info("stopping the background checkpoint (pid %d): the final save replaces it",
                 (int)s->ckpt_child);
        kill(s->ckpt_child, SIGKILL);
        waitpid(s->ckpt_child, NULL, 0);
    }
    s->ckpt_child = 0;
    uv_timer_stop(&s->child_timer);
}

static void on_ckpt_timer(uv_timer_t *h) {
    replay_server_t *s = h->data;
    if (s->ckpt_child > 0) {
        log_warn("previous background checkpoint still running: skipping this one");
        return;
    }
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        signal(SIGTERM, SIG_DFL);
        signal(SIGINT, SIG_DFL);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) _exit(1);
        if (close_range(3, ~0u, 0) != 0)
            for (int fd = 3; fd < 65536; fd++) close(fd);
        char err[512];
        if (replay_shard_save(s->shard, s->cfg.checkpoint_dir, err, sizeof err) != 0) {
            log_error("checkpoint failed: %s", err);
            _exit(1);
        }
        _exit(0);
    }
    if (pid < 0) {
        log_warn("fork for a background checkpoint failed (%s): writing it in the loop",
                 strerror(errno));
        checkpoint(s);
        pump(s); /* the save took a while: read what arrived meanwhile */
        return;
    }
    s->ckpt_child = pid;
    s->child_start_ns = now_ns();
    s->child_transitions = replay_store_size_transitions(s->shard->store);
    s->child_episodes = replay_store_size_episodes(s->shard->store);
    uv_timer_start(&s->child_timer, on_child_timer, 20, 20);
}

static void begin_stop(replay_server_t *s, const char *why) {
    if (s->stopping) return;
    log_info("stopping (%s)", why);
    log_stats(s);
    stop_child(s); /* then the final save, of the newest state, replaces its file */
    s->final_rc = checkpoint(s) == 0 ? 0 : -1;
    s->stopping = 1;
    uv_stop(&s->loop);
}

static void on_signal(uv_signal_t *h, int signum) {
    begin_stop(h->data, signum == SIGTERM ? "SIGTERM" : "SIGINT");
}

static void on_stop_async(uv_async_t *h) {
    begin_stop(h->data, "stop requested");
}

void replay_server_stop(replay_server_t *s) {
    uv_async_send(&s->stop_async);
}

/* ---- construction ---- */

int replay_server_endpoint(replay_server_t *s, int sample, char *out, size_t cap) {
    size_t len = cap;
    return zmq_getsockopt(sample ? s->sample_sock : s->insert_sock, ZMQ_LAST_ENDPOINT, out, &len);
}

replay_server_t *replay_server_new(const replay_server_config_t *cfg, char *err, size_t errcap) {
    if (cfg->max_pending < 1) {
        snprintf(err, errcap, "replay server: max pending requests must be >= 1");
        return NULL;
    }
    replay_server_t *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errcap, "replay server: out of memory");
        return NULL;
    }
    s->cfg = *cfg;
    const wire_dims_t *d = &cfg->shard.dims;
    s->max_episode_bytes = wire_max_episode_bytes(d);
    s->pending = calloc((size_t)cfg->max_pending, sizeof *s->pending);
    s->shard = s->pending ? replay_shard_new(&cfg->shard, err, errcap) : NULL;
    if (!s->shard) {
        if (!s->pending) snprintf(err, errcap, "replay server: out of memory");
        goto fail;
    }
    if (cfg->checkpoint_dir[0]) {
        char path[1024], lerr[768];
        replay_shard_checkpoint_path(s->shard, cfg->checkpoint_dir, path, sizeof path);
        int rc = replay_shard_load(s->shard, cfg->checkpoint_dir, lerr, sizeof lerr);
        if (rc == 1) {
            log_info("restored %s: %lld transitions in %lld episodes, %llu inserted, %llu "
                     "sampled so far",
                     path, (long long)replay_store_size_transitions(s->shard->store),
                     (long long)replay_store_size_episodes(s->shard->store),
                     (unsigned long long)s->shard->counters.inserted_transitions,
                     (unsigned long long)s->shard->counters.sampled_transitions);
        } else if (rc == 0) {
            log_info("no checkpoint at %s: starting empty", path);
        } else if (cfg->fresh) {
            log_warn("%s; starting empty (--fresh)", lerr);
        } else {
            snprintf(err, errcap, "%s (start with --fresh to discard it and begin empty)", lerr);
            goto fail;
        }
    }
    s->zctx = zmq_ctx_new();
    if (!s->zctx) {
        snprintf(err, errcap, "zmq_ctx_new: %s", zmq_strerror(zmq_errno()));
        goto fail;
    }
    if (cfg->keys_dir[0] && curve_enable(s->zctx, cfg->keys_dir, NULL, err, errcap) != 0) goto fail;
    /* Few episodes wait between an actor and the store while the rate limiter holds inserts
     * back (a small queue and kernel buffer), so stored data is fresh and backpressure reaches
     * the actors within a round. */
    s->insert_sock =
        wire_socket_limited(s->zctx, ZMQ_PULL, cfg->insert_bind, 1, cfg->insert_hwm,
                            REPLAY_INSERT_KERNEL_BUF, s->max_episode_bytes, err, errcap);
    if (!s->insert_sock) goto fail;
    /* Requests are tiny; each peer may queue a bounded number of them. */
    s->sample_sock =
        wire_socket_limited(s->zctx, ZMQ_ROUTER, cfg->sample_bind, 1, REPLAY_REQUEST_HWM, 0,
                            WIRE_MAX_REQUEST_BYTES, err, errcap);
    if (!s->sample_sock) goto fail;
    int rc = uv_loop_init(&s->loop);
    if (rc != 0) {
        snprintf(err, errcap, "uv_loop_init: %s", uv_strerror(rc));
        goto fail;
    }
    s->loop_ready = 1;
    if (zmq_uv_poll_start(&s->loop, &s->insert_poll, s->insert_sock, s, on_poll, err, errcap) !=
            0 ||
        zmq_uv_poll_start(&s->loop, &s->sample_poll, s->sample_sock, s, on_poll, err, errcap) != 0)
        goto fail;
    uv_idle_init(&s->loop, &s->idle);
    s->idle.data = s;
    uv_timer_init(&s->loop, &s->stats_timer);
    s->stats_timer.data = s;
    uv_timer_init(&s->loop, &s->ckpt_timer);
    s->ckpt_timer.data = s;
    uv_timer_init(&s->loop, &s->child_timer);
    s->child_timer.data = s;
    uv_timer_init(&s->loop, &s->heartbeat_timer);
    s->heartbeat_timer.data = s;
    uv_timer_init(&s->loop, &s->expire_timer);
    s->expire_timer.data = s;
    uv_timer_start(&s->expire_timer, on_expire_timer, 50, 50);
    uv_async_init(&s->loop, &s->stop_async, on_stop_async);
    s->stop_async.data = s;
    uv_signal_init(&s->loop, &s->sigterm);
    s->sigterm.data = s;
    uv_signal_init(&s->loop, &s->sigint);
    s->sigint.data = s;
    s->handles_ready = 1;
    heartbeat_init(&s->heartbeat, cfg->heartbeat_file);
    if (cfg->heartbeat_file[0]) {
        heartbeat_beat(&s->heartbeat);
        uv_timer_start(&s->heartbeat_timer, on_heartbeat_timer, 1000, 1000);
    }
    if (cfg->stats_every_s > 0) {
        uint64_t ms = (uint64_t)(cfg->stats_every_s * 1000);
        uv_timer_start(&s->stats_timer, on_stats_timer, ms ? ms : 1, ms ? ms : 1);
    }
    if (cfg->checkpoint_dir[0] && cfg->checkpoint_every_s > 0) {
        uint64_t ms = (uint64_t)(cfg->checkpoint_every_s * 1000);
        uv_timer_start(&s->ckpt_timer, on_ckpt_timer, ms ? ms : 1, ms ? ms : 1);
    }
    if (cfg->handle_signals) {
        uv_signal_start(&s->sigterm, on_signal, SIGTERM);
        uv_signal_start(&s->sigint, on_signal, SIGINT);
    }
    s->log_inserted = s->shard->counters.inserted_transitions;
    s->log_sampled = s->shard->counters.sampled_transitions;
    s->log_time_ns = now_ns();
    return s;
fail:
    replay_server_free(s);
    return NULL;
}

int replay_server_run(replay_server_t *s) {
    char ins[256] = "", smp[256] = "";
    replay_server_endpoint(s, 0, ins, sizeof ins);
    replay_server_endpoint(s, 1, smp, sizeof smp);
    const replay_shard_config_t *c = &s->cfg.shard;
    log_info("shard %u serving env %s (obs %u goal %u action %u horizon %u): inserts on %s, "
             "samples on %s; capacity %lld, min size %lld, samples per insert %g, tolerance %g, "
             "future p %g, env goal p %g",
             c->shard_id, c->dims.env_name, c->dims.obs_dim, c->dims.goal_dim, c->dims.action_dim,
             c->dims.horizon, ins, smp, (long long)c->capacity, (long long)c->min_size,
             c->samples_per_insert, s->shard->limiter.tolerance, c->future_p, c->env_goal_p);
    if (s->cfg.follow_learner_ratio)
        log_info("the rate limiter follows the ratio the learner's sample requests carry");
    pump(s); /* anything queued before the loop started */
    while (!s->stopping) uv_run(&s->loop, UV_RUN_DEFAULT);
    return s->final_rc;
}

static void on_close(uv_handle_t *h) {
    (void)h;
}

void replay_server_free(replay_server_t *s) {
    if (!s) return;
    stop_child(s);
    if (s->handles_ready) {
        uv_close((uv_handle_t *)&s->insert_poll, on_close);
        uv_close((uv_handle_t *)&s->sample_poll, on_close);
        uv_close((uv_handle_t *)&s->idle, on_close);
        uv_close((uv_handle_t *)&s->stats_timer, on_close);
        uv_close((uv_handle_t *)&s->ckpt_timer, on_close);
        uv_close((uv_handle_t *)&s->child_timer, on_close);
        uv_close((uv_handle_t *)&s->heartbeat_timer, on_close);
        uv_close((uv_handle_t *)&s->expire_timer, on_close);
        uv_close((uv_handle_t *)&s->stop_async, on_close);
        uv_close((uv_handle_t *)&s->sigterm, on_close);
        uv_close((uv_handle_t *)&s->sigint, on_close);
    } else if (s->loop_ready) {
        if (s->insert_poll.data) uv_close((uv_handle_t *)&s->insert_poll, on_close);
        if (s->sample_poll.data) uv_close((uv_handle_t *)&s->sample_poll, on_close);
    }
    if (s->loop_ready) {
        uv_run(&s->loop, UV_RUN_DEFAULT); /* runs the close callbacks */
        uv_loop_close(&s->loop);
    }
    for (int i = 0; i < s->pending_count; i++)
        zmq_msg_close(&s->pending[(s->pending_head + i) % s->cfg.max_pending].identity);
    free(s->pending);
    if (s->insert_sock) zmq_close(s->insert_sock);
    if (s->sample_sock) zmq_close(s->sample_sock);
    if (s->zctx) zmq_ctx_term(s->zctx);
    replay_shard_free(s->shard);
    free(s);
}
