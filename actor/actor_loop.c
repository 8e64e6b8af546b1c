/* actor_loop: actor_run, the odac-actor process's loop, on libuv like the learner's and the
 * replay's. An idle handle steps the envs (about a millisecond of actor_step calls per turn, so
 * the loop looks at signals and timers between them); a 1 s timer beats the heartbeat and logs
 * the rate; SIGTERM/SIGINT end the loop, and the last stats go out before actor_run returns. The
 * actor's sockets are only used with ZMQ_DONTWAIT inside actor_step (its backpressure wait is one
 * bounded <= 10 ms slice per call), so the loop needs no poll handle of its own. */
#include "actor.h"
#include "heartbeat.h"
#include "log.h"
#include <signal.h>
#include <stdio.h>
#include <uv.h>

#define STEP_SLICE_NS 1000000ull /* env stepping per loop turn */

typedef struct {
    actor_t *a;
    uv_loop_t loop;
    uv_idle_t idle;
    uv_timer_t tick;
    uv_signal_t sigterm, sigint;
    heartbeat_t heartbeat;
    int rc, finished;
    char *err;
    size_t errcap;
    uint64_t log_ns, steps_at_log;
} actor_loop_t;

static void on_idle(uv_idle_t *h) {
    actor_loop_t *l = h->data;
    uint64_t t0 = uv_hrtime();
    do {
        int rc = actor_step(l->a, l->err, l->errcap);
        if (rc != ACTOR_RUNNING) {
            l->rc = rc < 0 ? -1 : 0;
            l->finished = 1;
            uv_stop(&l->loop);
            return;
        }
    } while (uv_hrtime() - t0 < STEP_SLICE_NS);
}

static void on_tick(uv_timer_t *h) {
    actor_loop_t *l = h->data;
    heartbeat_beat(&l->heartbeat);
    uint64_t t = uv_hrtime();
    double dt = (double)(t - l->log_ns) * 1e-9;
    if (dt < 10.0) return;
    actor_counters_t c;
    actor_get_counters(l->a, &c);
    log_info("env steps %llu (%.0f/s), episodes %llu, sent %llu, dropped %llu, policy %llu, "
             "weights rejected %llu",
             (unsigned long long)c.env_steps, (double)(c.env_steps - l->steps_at_log) / dt,
             (unsigned long long)c.episodes, (unsigned long long)c.episodes_sent,
             (unsigned long long)c.episodes_dropped, (unsigned long long)c.policy_version,
             (unsigned long long)c.weights_rejected);
    l->steps_at_log = c.env_steps;
    l->log_ns = t;
}

static void on_signal(uv_signal_t *h, int signum) {
    (void)signum;
    actor_loop_t *l = h->data;
    uv_stop(&l->loop);
}

static void on_close(uv_handle_t *h) {
    (void)h;
}

int actor_run(actor_t *a, int handle_signals, char *err, size_t errcap) {
    actor_loop_t l = {.a = a, .err = err, .errcap = errcap};
    int rc = uv_loop_init(&l.loop);
    if (rc != 0) {
        snprintf(err, errcap, "uv_loop_init: %s", uv_strerror(rc));
        return -1;
    }
    const actor_config_t *cfg = actor_config(a);
    heartbeat_init(&l.heartbeat, cfg->heartbeat_file);
    heartbeat_beat(&l.heartbeat);
    l.log_ns = uv_hrtime();
    uv_idle_init(&l.loop, &l.idle);
    uv_timer_init(&l.loop, &l.tick);
    uv_signal_init(&l.loop, &l.sigterm);
    uv_signal_init(&l.loop, &l.sigint);
    l.idle.data = l.tick.data = l.sigterm.data = l.sigint.data = &l;
    uv_idle_start(&l.idle, on_idle);
    uv_timer_start(&l.tick, on_tick, 1000, 1000);
    if (handle_signals) {
        uv_signal_start(&l.sigterm, on_signal, SIGTERM);
        uv_signal_start(&l.sigint, on_signal, SIGINT);
    }
    uv_run(&l.loop, UV_RUN_DEFAULT); /* until on_idle or on_signal stops it */
    uv_close((uv_handle_t *)&l.idle, on_close);
    uv_close((uv_handle_t *)&l.tick, on_close);
    uv_close((uv_handle_t *)&l.sigterm, on_close);
    uv_close((uv_handle_t *)&l.sigint, on_close);
    uv_run(&l.loop, UV_RUN_DEFAULT); /* runs the close callbacks */
    uv_loop_close(&l.loop);
    if (!l.finished) actor_finish(a); /* stopped by a signal */
    return l.rc;
}
