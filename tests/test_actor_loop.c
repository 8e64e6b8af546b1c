/* Actor loop, in one process: a fake replay shard (PULL), a fake learner (PUB for weights, PULL
 * for stats) and the actor library driven step by step on box2d over inproc sockets. Checks
 * recorded episodes against an independent replay of their actions in a fresh env, round-robin
 * spreading and backpressure, that published weights drive the actions (an analytic policy whose
 * action the test computes itself), that bad weights are counted and ignored, evaluation
 * reports, run_finished, seeding and flag validation. No sleeps: loops poll and are bounded. */
#include "actor.h"
#include "testutil.h"
#include "wire.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

static char err[1024];
static const wire_dims_t dims = {"box2d", 2, 2, 2, 100};
enum { H = 100, MAX_STEPS = 200000, MAX_KEPT = 256 };

/* ---- fixture: fake shards and fake learner ---- */

typedef struct {
    void *ctx;
    void *shard[2]; /* PULL, bound (NULL when the test leaves the endpoint unbound) */
    void *pub;      /* PUB, bound */
    void *stats;    /* PULL, bound */
    char shard_ep[2][64], pub_ep[64], stats_ep[64];
    Odac__Episode *got[MAX_KEPT]; /* episodes received, in arrival order */
    int got_shard[MAX_KEPT];      /* which shard each came from */
    int n_got;
    int n_from[2];            /* episodes received per shard, kept or not */
    uint64_t first_ids[2][4]; /* ids of the first 4 episodes each shard received */
    int reserved_fd[2];       /* the port held for an unbound tcp shard, or -1 */
} fixture_t;

static int g_fixture_id = 0;

static void *bind_socket(void *ctx, int type, const char *ep) {
    void *s = wire_socket(ctx, type, ep, 1, 0, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    return s;
}

/* A loopback tcp endpoint nobody listens on: a plain socket bound to an ephemeral port but never
 * listening holds the port (connections to it are refused) until *fd is closed, synchronously,
 * so a later bind on it succeeds. */
static void reserve_tcp_endpoint(char *out, size_t cap, int *fd) {
    *fd = socket(AF_INET, SOCK_STREAM, 0);
    CU_ASSERT_FATAL(*fd >= 0);
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    CU_ASSERT_FATAL(bind(*fd, (struct sockaddr *)&addr, sizeof addr) == 0);
    socklen_t n = sizeof addr;
    CU_ASSERT_FATAL(getsockname(*fd, (struct sockaddr *)&addr, &n) == 0);
    snprintf(out, cap, "tcp://127.0.0.1:%d", (int)ntohs(addr.sin_port));
}

/* Endpoints unique to this fixture. Shard k is bound on inproc when bind_shard[k]; otherwise it
 * is a tcp endpoint nobody listens on (inproc would queue to an unbound peer regardless of
 * ZMQ_IMMEDIATE; tcp, as in a deployment, refuses). */
static void fixture_open(fixture_t *f, int n_shards, const int *bind_shard) {
    memset(f, 0, sizeof *f);
    int id = g_fixture_id++;
    f->ctx = zmq_ctx_new();
    CU_ASSERT_PTR_NOT_NULL_FATAL(f->ctx);
    f->reserved_fd[0] = f->reserved_fd[1] = -1;
    for (int k = 0; k < n_shards; k++) {
        if (bind_shard[k]) {
            snprintf(f->shard_ep[k], sizeof f->shard_ep[k], "inproc://shard-%d-%d", id, k);
            f->shard[k] = bind_socket(f->ctx, ZMQ_PULL, f->shard_ep[k]);
        } else {
            reserve_tcp_endpoint(f->shard_ep[k], sizeof f->shard_ep[k], &f->reserved_fd[k]);
        }
    }
    snprintf(f->pub_ep, sizeof f->pub_ep, "inproc://weights-%d", id);
    snprintf(f->stats_ep, sizeof f->stats_ep, "inproc://stats-%d", id);
    f->pub = bind_socket(f->ctx, ZMQ_PUB, f->pub_ep);
    f->stats = bind_socket(f->ctx, ZMQ_PULL, f->stats_ep);
}

static void fixture_close(fixture_t *f) {
    for (int i = 0; i < f->n_got; i++) odac__episode__free_unpacked(f->got[i], NULL);
    for (int k = 0; k < 2; k++) {
        if (f->shard[k]) zmq_close(f->shard[k]);
        if (f->reserved_fd[k] >= 0) close(f->reserved_fd[k]);
    }
    zmq_close(f->pub);
    zmq_close(f->stats);
    zmq_ctx_term(f->ctx);
}

static void config_for(const fixture_t *f, int n_shards, actor_config_t *cfg) {
    actor_config_default(cfg);
    snprintf(cfg->env_name, sizeof cfg->env_name, "box2d");
    cfg->actor_id = 3;
    cfg->num_envs = 2;
    snprintf(cfg->shards, sizeof cfg->shards, "%s%s%s", f->shard_ep[0], n_shards > 1 ? "," : "",
             n_shards > 1 ? f->shard_ep[1] : "");
    snprintf(cfg->weights, sizeof cfg->weights, "%s", f->pub_ep);
    snprintf(cfg->stats, sizeof cfg->stats, "%s", f->stats_ep);
    cfg->random_steps = 0;
    cfg->eval_every = 0;
    cfg->seed = 11;
    cfg->stats_interval_ms = 100000000; /* only explicit, eval and final stats in tests */
}

/* Receives every episode waiting on the bound shards (validated against box2d's dims). */
static void drain_shards(fixture_t *f) {
    for (int k = 0; k < 2; k++) {
        if (!f->shard[k]) continue;
        wire_msg_t m;
        while (wire_recv(f->shard[k], &m, 0) == 1) {
            char tag[WIRE_TAG_MAX];
            CU_ASSERT_EQUAL(m.n_parts, 2);
            CU_ASSERT_STRING_EQUAL(wire_msg_tag(&m, 0, tag), WIRE_TAG_EPISODE);
            wire_reject_t reason = WIRE_OK;
            Odac__Episode *e = wire_decode_episode(wire_msg_data(&m, 1), wire_msg_size(&m, 1),
                                                   &dims, &reason, err, sizeof err);
            CU_ASSERT_PTR_NOT_NULL(e);
            if (e && f->n_from[k] < 4) f->first_ids[k][f->n_from[k]] = e->episode_id;
            if (e) f->n_from[k]++;
            if (e && f->n_got < MAX_KEPT) {
                f->got_shard[f->n_got] = k;
                f->got[f->n_got++] = e;
            } else if (e) {
                odac__episode__free_unpacked(e, NULL);
            }
            wire_msg_close(&m);
        }
    }
}

/* Receives stats messages; returns the number read, the last one decoded in *last (caller
 * frees) and the last one carrying an evaluation in *with_eval (caller frees). */
static int drain_stats(fixture_t *f, Odac__ActorStats **last, Odac__ActorStats **with_eval) {
    int n = 0;
    wire_msg_t m;
    while (wire_recv(f->stats, &m, 0) == 1) {
        char tag[WIRE_TAG_MAX];
        CU_ASSERT_EQUAL(m.n_parts, 2);
        CU_ASSERT_STRING_EQUAL(wire_msg_tag(&m, 0, tag), WIRE_TAG_ACTOR_STATS);
        wire_reject_t reason;
        Odac__ActorStats *s = wire_decode_actor_stats(wire_msg_data(&m, 1), wire_msg_size(&m, 1),
                                                      &reason, err, sizeof err);
        CU_ASSERT_PTR_NOT_NULL(s);
        wire_msg_close(&m);
        if (!s) continue;
        n++;
        if (with_eval && s->eval) {
            if (*with_eval) odac__actor_stats__free_unpacked(*with_eval, NULL);
            *with_eval = s;
            continue;
        }
        if (last) {
            if (*last) odac__actor_stats__free_unpacked(*last, NULL);
            *last = s;
        } else {
            odac__actor_stats__free_unpacked(s, NULL);
        }
    }
    return n;
}

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* ---- weights the test builds itself ---- */

/* An analytic policy for box2d (input x = obs ++ goal, 4 wide) with ReLU hidden layers of the
 * given widths (each >= 4): the first layer computes h = relu(x + 10) = x + 10 on its first 4
 * units (|x| <= 4 in the arena), later hidden layers pass those 4 units through, and the output
 * is mean_j = 0.1 * (goal_j - obs_j), log_std_j = log_std. So the deterministic action is
 * tanh(0.1 * (goal - obs)), computed independently by expected_action(). Returns the packed
 * PolicyWeights (caller frees) and its length in *len. */
/* The run's word that weights messages may carry beside the parameters: exploration (random eps)
 * and a normaliser with mean 0 and the same std for every obs and goal dim (0: none). */
typedef struct {
    float random_eps, norm_std;
} weights_extras_t;

static uint8_t *make_weights_with(const int *hidden, int n_hidden, float log_std, uint64_t version,
                                  const char *env_name, int run_finished, const weights_extras_t *x,
                                  size_t *len) {
    int n_layers = n_hidden + 1;
    int width[10];
    width[0] = 4;
    for (int l = 0; l < n_hidden; l++) width[l + 1] = hidden[l];
    width[n_layers] = 4; /* 2 * action_dim */
    size_t n_data = 0;
    for (int l = 0; l < n_layers; l++) n_data += (size_t)width[l] * width[l + 1] + width[l + 1];
    float *data = calloc(n_data, sizeof(float));
    Odac__LayerShape shapes[10], *shape_ptrs[10];
    float *p = data;
    for (int l = 0; l < n_layers; l++) {
        int in = width[l], out = width[l + 1];
        odac__layer_shape__init(&shapes[l]);
        shapes[l].rows = (uint32_t)in;
        shapes[l].cols = (uint32_t)out;
        shape_ptrs[l] = &shapes[l];
        float *W = p, *b = p + (size_t)in * out; /* W is (in, out) row-major */
        if (l < n_hidden) {
            for (int i = 0; i < 4; i++) W[i * out + i] = 1.0f;
            if (l == 0)
                for (int i = 0; i < 4; i++) b[i] = 10.0f;
        } else {
            /* h[0..1] = obs + 10, h[2..3] = goal + 10 */
            for (int j = 0; j < 2; j++) {
                W[(2 + j) * out + j] = 0.1f;
                W[j * out + j] = -0.1f;
                b[2 + j] = log_std;
            }
        }
        p += (size_t)in * out + out;
    }
    Odac__PolicyWeights w = ODAC__POLICY_WEIGHTS__INIT;
    w.protocol_version = WIRE_PROTOCOL_VERSION;
    w.version = version;
    w.env_name = (char *)env_name;
    w.n_layers = (size_t)n_layers;
    w.layers = shape_ptrs;
    w.n_data = n_data;
    w.data = data;
    w.run_finished = run_finished;
    float zeros[2] = {0.0f, 0.0f}, stds[2] = {x->norm_std, x->norm_std};
    if (x->norm_std > 0.0f) {
        w.n_obs_mean = w.n_obs_std = w.n_goal_mean = w.n_goal_std = 2;
        w.obs_mean = w.goal_mean = zeros;
        w.obs_std = w.goal_std = stds;
        w.norm_clip = 5.0f;
    }
    w.explore_random_eps = x->random_eps;
    *len = odac__policy_weights__get_packed_size(&w);
    uint8_t *buf = malloc(*len + 1);
    odac__policy_weights__pack(&w, buf);
    free(data);
    return buf;
}

static uint8_t *make_weights(const int *hidden, int n_hidden, float log_std, uint64_t version,
                             const char *env_name, int run_finished, size_t *len) {
    const weights_extras_t none = {0.0f, 0.0f};
    return make_weights_with(hidden, n_hidden, log_std, version, env_name, run_finished, &none,
                             len);
}

static void expected_action(const float *obs, const float *goal, float *action) {
    for (int j = 0; j < 2; j++) action[j] = tanhf(0.1f * (goal[j] - obs[j]));
}

static void publish(fixture_t *f, const uint8_t *buf, size_t len) {
    CU_ASSERT_EQUAL(zmq_send(f->pub, buf, len, ZMQ_DONTWAIT), (int)len);
}

/* Steps (publishing buf every step when non-NULL) until done(counters) or the bounds run out;
 * 1 when done. */
typedef int (*until_fn)(const actor_counters_t *c, const void *arg);
static int step_until(actor_t *a, fixture_t *f, const uint8_t *buf, size_t len, until_fn done,
                      const void *arg) {
    double t0 = now_s();
    actor_counters_t c;
    for (int i = 0; i < MAX_STEPS && now_s() - t0 < 30.0; i++) {
        if (buf) publish(f, buf, len);
        int rc = actor_step(a, err, sizeof err);
        CU_ASSERT(rc >= 0);
        drain_shards(f);
        actor_get_counters(a, &c);
        if (done(&c, arg)) return 1;
        if (rc != ACTOR_RUNNING) return 0;
    }
    return 0;
}

static int version_is(const actor_counters_t *c, const void *arg) {
    return c->policy_version == *(const uint64_t *)arg;
}
static int episodes_at_least(const actor_counters_t *c, const void *arg) {
    return c->episodes >= *(const uint64_t *)arg;
}
static int rejected_for(const actor_counters_t *c, const void *arg) {
    return c->weights_rejected_by_reason[*(const wire_reject_t *)arg] > 0;
}

/* Replays the episode's actions in a fresh fixed-goal box2d and checks every recorded obs. */
static void check_episode_against_env(const Odac__Episode *e) {
    env_t *env = env_new("box2d", ENV_GOAL_FIXED, 0, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(env);
    float obs[2], ag[2], goal[2];
    env_reset(env, obs, ag, goal);
    CU_ASSERT_EQUAL(memcmp(e->observations, obs, sizeof obs), 0);
    CU_ASSERT_EQUAL(memcmp(e->desired_goal, goal, sizeof goal), 0);
    int mismatches = 0;
    for (uint32_t t = 0; t < e->length; t++) {
        env_step_info_t info;
        CU_ASSERT_EQUAL(env_step(env, e->actions + 2 * t, obs, ag, &info, err, sizeof err), 0);
        mismatches += memcmp(e->observations + 2 * (t + 1), obs, sizeof obs) != 0;
    }
    CU_ASSERT_EQUAL(mismatches, 0);
    env_free(env);
}

/* ---- tests ---- */

static void test_episodes_recorded_and_spread(void) {
    fixture_t f;
    fixture_open(&f, 2, (int[]){1, 1});
    actor_config_t cfg;
    config_for(&f, 2, &cfg);
    cfg.num_envs = 3;
    cfg.random_steps = 1000000;
    cfg.send_queue = 1; /* raised to a round's share (2 per shard): nothing may drop */
    actor_t *a = actor_new(&cfg, f.ctx, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    uint64_t want = 12; /* 4 rounds of 3 */
    CU_ASSERT(step_until(a, &f, NULL, 0, episodes_at_least, &want));
    drain_shards(&f);
    actor_counters_t c;
    actor_get_counters(a, &c);
    CU_ASSERT_EQUAL(c.episodes, 12);
    CU_ASSERT_EQUAL(c.env_steps, 12 * H);
    CU_ASSERT_EQUAL(c.episodes_sent, 12);
    CU_ASSERT_EQUAL(c.episodes_dropped, 0);
    CU_ASSERT_EQUAL_FATAL(f.n_got, 12);
    int per_shard[2] = {0, 0}, seen[12] = {0};
    for (int i = 0; i < f.n_got; i++) {
        const Odac__Episode *e = f.got[i];
        per_shard[f.got_shard[i]]++;
        CU_ASSERT_EQUAL(e->actor_id, 3);
        CU_ASSERT_EQUAL(e->policy_version, 0);
        CU_ASSERT_EQUAL(e->length, H);
        CU_ASSERT_EQUAL(e->n_observations, (H + 1) * 2);
        CU_ASSERT_EQUAL(e->n_achieved_goals, (H + 1) * 2);
        CU_ASSERT_EQUAL(e->n_actions, H * 2);
        CU_ASSERT_EQUAL(memcmp(e->achieved_goals, e->observations, (H + 1) * 2 * sizeof(float)), 0);
        int out_of_bounds = 0;
        double sum = 0;
        for (int k = 0; k < H * 2; k++) {
            out_of_bounds += e->actions[k] < -1.0f || e->actions[k] > 1.0f;
            sum += e->actions[k];
        }
        CU_ASSERT_EQUAL(out_of_bounds, 0);
        CU_ASSERT(fabs(sum / (H * 2)) < 0.25); /* uniform on [-1, 1]: mean 0, sd 0.04 */
        CU_ASSERT_FATAL(e->episode_id < 12);
        seen[e->episode_id]++;
        /* round robin: episode k goes to shard k mod 2 */
        CU_ASSERT_EQUAL((int)(e->episode_id % 2), f.got_shard[i]);
        check_episode_against_env(e);
    }
    for (int k = 0; k < 12; k++) CU_ASSERT_EQUAL(seen[k], 1);
    CU_ASSERT_EQUAL(per_shard[0], 6);
    CU_ASSERT_EQUAL(per_shard[1], 6);
    CU_ASSERT_EQUAL(c.sent_per_shard[0], 6);
    CU_ASSERT_EQUAL(c.sent_per_shard[1], 6);
    /* Envs of one actor explore differently. */
    CU_ASSERT_NOT_EQUAL(memcmp(f.got[0]->actions, f.got[1]->actions, H * 2 * sizeof(float)), 0);

    actor_send_stats(a);
    Odac__ActorStats *last = NULL;
    CU_ASSERT_EQUAL(drain_stats(&f, &last, NULL), 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(last);
    CU_ASSERT_EQUAL(last->actor_id, 3);
    CU_ASSERT_EQUAL(last->env_steps, 12 * H);
    CU_ASSERT_EQUAL(last->episodes, 12);
    CU_ASSERT_EQUAL(last->policy_version, 0);
    CU_ASSERT_PTR_NULL(last->eval);
    odac__actor_stats__free_unpacked(last, NULL);
    actor_free(a);
    fixture_close(&f);
}

static void test_weights_drive_actions(void) {
    fixture_t f;
    fixture_open(&f, 1, (int[]){1});
    actor_config_t cfg;
    config_for(&f, 1, &cfg);
    actor_t *a = actor_new(&cfg, f.ctx, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    size_t len;
    uint8_t *w7 = make_weights((int[]){8}, 1, -20.0f, 7, "box2d", 0, &len);
    uint64_t v = 7;
    CU_ASSERT_FATAL(step_until(a, &f, w7, len, version_is, &v));
    actor_counters_t c;
    actor_get_counters(a, &c);
    CU_ASSERT_EQUAL(c.has_policy, 1);
    CU_ASSERT(c.weights_applied >= 1);
    CU_ASSERT_EQUAL(c.weights_rejected, 0);
    uint64_t want = c.episodes + 6; /* the round under way, then two under version 7 */
    CU_ASSERT(step_until(a, &f, NULL, 0, episodes_at_least, &want));
    drain_shards(&f);
    int checked = 0, bad = 0;
    for (int i = 0; i < f.n_got; i++) {
        const Odac__Episode *e = f.got[i];
        if (e->policy_version != 7) {
            CU_ASSERT_EQUAL(e->policy_version, 0);
            continue;
        }
        checked++;
        for (uint32_t t = 0; t < e->length; t++) {
            float want_a[2];
            expected_action(e->observations + 2 * t, e->desired_goal, want_a);
            for (int j = 0; j < 2; j++) bad += fabsf(e->actions[2 * t + j] - want_a[j]) > 1e-4f;
        }
        check_episode_against_env(e);
    }
    CU_ASSERT(checked >= 4);
    CU_ASSERT_EQUAL(bad, 0);

    /* New hidden sizes rebuild the policy; the actions still follow it. */
    uint8_t *w9 = make_weights((int[]){16, 6}, 2, -20.0f, 9, "box2d", 0, &len);
    v = 9;
    CU_ASSERT_FATAL(step_until(a, &f, w9, len, version_is, &v));
    actor_get_counters(a, &c);
    want = c.episodes + 4;
    int before = f.n_got;
    CU_ASSERT(step_until(a, &f, NULL, 0, episodes_at_least, &want));
    checked = bad = 0;
    for (int i = before; i < f.n_got; i++) {
        const Odac__Episode *e = f.got[i];
        if (e->policy_version != 9) continue;
        checked++;
        for (uint32_t t = 0; t < e->length; t++) {
            float want_a[2];
            expected_action(e->observations + 2 * t, e->desired_goal, want_a);
            for (int j = 0; j < 2; j++) bad += fabsf(e->actions[2 * t + j] - want_a[j]) > 1e-4f;
        }
    }
    CU_ASSERT(checked >= 2);
    CU_ASSERT_EQUAL(bad, 0);

    actor_send_stats(a);
    Odac__ActorStats *last = NULL;
    drain_stats(&f, &last, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(last);
    CU_ASSERT_EQUAL(last->policy_version, 9);
    CU_ASSERT_EQUAL(last->policy_lag, 0);
    odac__actor_stats__free_unpacked(last, NULL);
    free(w7);
    free(w9);
    actor_free(a);
    fixture_close(&f);
}

/* Counts, over the episodes recorded under version, the actions that equal
 * tanh(gain (goal - obs)) (the analytic policy on inputs scaled by gain / 0.1) and all actions. */
static void count_policy_actions(const fixture_t *f, int from, uint64_t version, float gain,
                                 int *match, int *total) {
    *match = *total = 0;
    for (int i = from; i < f->n_got; i++) {
        const Odac__Episode *e = f->got[i];
        if (e->policy_version != version) continue;
        for (uint32_t t = 0; t < e->length; t++) {
            int same = 1;
            for (int j = 0; j < 2; j++) {
                float want = tanhf(gain * (e->desired_goal[j] - e->observations[2 * t + j]));
                same &= fabsf(e->actions[2 * t + j] - want) <= 1e-4f;
            }
            *match += same;
            (*total)++;
        }
    }
}

/* The run's word in weights messages: a normaliser changes what the policy sees (std 2 halves
 * every input: the actions become tanh(0.05 (goal - obs))); random_eps 1 replaces every action by
 * a uniform one unless the actor's own --random-eps 0 overrides it. */
static void test_weights_carry_normaliser_and_exploration(void) {
    for (int override = 0; override < 2; override++) {
        fixture_t f;
        fixture_open(&f, 1, (int[]){1});
        actor_config_t cfg;
        config_for(&f, 1, &cfg);
        cfg.random_eps = override ? 0.0f : -1.0f;
        actor_t *a = actor_new(&cfg, f.ctx, err, sizeof err);
        CU_ASSERT_PTR_NOT_NULL_FATAL(a);
        size_t len;
        const weights_extras_t x = {1.0f, 2.0f};
        uint8_t *w = make_weights_with((int[]){8}, 1, -20.0f, 5, "box2d", 0, &x, &len);
        uint64_t v = 5;
        CU_ASSERT_FATAL(step_until(a, &f, w, len, version_is, &v));
        actor_counters_t c;
        actor_get_counters(a, &c);
        uint64_t want = c.episodes + 4;
        CU_ASSERT(step_until(a, &f, NULL, 0, episodes_at_least, &want));
        drain_shards(&f);
        int match, total;
        count_policy_actions(&f, 0, 5, 0.05f, &match, &total);
        CU_ASSERT(total >= 100);
        if (override) {
            CU_ASSERT_EQUAL(match, total); /* the normalised policy, exactly */
        } else {
            CU_ASSERT_EQUAL(match, 0); /* all random */
        }
        free(w);
        actor_free(a);
        fixture_close(&f);
    }
}

static void test_bad_weights_rejected(void) {
    fixture_t f;
    fixture_open(&f, 1, (int[]){1});
    actor_config_t cfg;
    config_for(&f, 1, &cfg);
    actor_t *a = actor_new(&cfg, f.ctx, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);

    size_t len;
    const uint8_t garbage[] = {0xff, 0xff, 0xff, 0xff, 0x07, 0x01, 0x02};
    wire_reject_t r = WIRE_REJECT_DECODE;
    CU_ASSERT(step_until(a, &f, garbage, sizeof garbage, rejected_for, &r));

    uint8_t *wrong_env = make_weights((int[]){8}, 1, -20.0f, 5, "ant", 0, &len);
    r = WIRE_REJECT_ENV;
    CU_ASSERT(step_until(a, &f, wrong_env, len, rejected_for, &r));
    free(wrong_env);

    /* A layer whose fan-in does not chain: the second layer claims 9 rows after 8 columns. */
    uint8_t *good = make_weights((int[]){8}, 1, -20.0f, 5, "box2d", 0, &len);
    Odac__PolicyWeights *w = odac__policy_weights__unpack(NULL, len, good);
    CU_ASSERT_PTR_NOT_NULL_FATAL(w);
    w->layers[1]->rows = 9;
    size_t bad_len = odac__policy_weights__get_packed_size(w);
    uint8_t *bad_dims = malloc(bad_len);
    odac__policy_weights__pack(w, bad_dims);
    w->layers[1]->rows = 8;
    w->data[3] = NAN;
    size_t nan_len = odac__policy_weights__get_packed_size(w);
    uint8_t *nan = malloc(nan_len);
    odac__policy_weights__pack(w, nan);
    odac__policy_weights__free_unpacked(w, NULL);
    r = WIRE_REJECT_DIMS;
    CU_ASSERT(step_until(a, &f, bad_dims, bad_len, rejected_for, &r));
    r = WIRE_REJECT_NONFINITE;
    CU_ASSERT(step_until(a, &f, nan, nan_len, rejected_for, &r));

    actor_counters_t c;
    actor_get_counters(a, &c);
    CU_ASSERT_EQUAL(c.has_policy, 0);
    CU_ASSERT_EQUAL(c.policy_version, 0);
    CU_ASSERT_EQUAL(c.weights_applied, 0);
    CU_ASSERT(c.weights_rejected >= 4);
    CU_ASSERT(c.env_steps > 0); /* it kept stepping */

    /* A good message afterwards is applied. */
    uint64_t v = 5;
    CU_ASSERT(step_until(a, &f, good, len, version_is, &v));
    actor_get_counters(a, &c);
    CU_ASSERT_EQUAL(c.has_policy, 1);
    free(good);
    free(bad_dims);
    free(nan);
    actor_free(a);
    fixture_close(&f);
}

static int evals_at_least_one(const actor_counters_t *c, const void *arg) {
    (void)arg;
    return c->evals >= 1;
}

static void test_eval_report(void) {
    fixture_t f;
    fixture_open(&f, 1, (int[]){1});
    actor_config_t cfg;
    config_for(&f, 1, &cfg);
    cfg.num_envs = 2;
    cfg.eval_every = 4;
    cfg.eval_episodes = 3;
    actor_t *a = actor_new(&cfg, f.ctx, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    /* std = 1: training actions are noisy, evaluation ones are tanh(mean). */
    size_t len;
    uint8_t *w = make_weights((int[]){8}, 1, 0.0f, 21, "box2d", 0, &len);
    uint64_t v = 21;
    CU_ASSERT_FATAL(step_until(a, &f, w, len, version_is, &v));
    actor_counters_t c;
    actor_get_counters(a, &c);
    CU_ASSERT_EQUAL(c.evals, 0);
    uint64_t episodes_before = c.episodes;

    /* Expected result: the deterministic policy rolled out in a fresh env by the test. */
    env_t *env = env_new("box2d", ENV_GOAL_FIXED, 0, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(env);
    float obs[2], ag[2], goal[2], act[2];
    env_reset(env, obs, ag, goal);
    for (int t = 0; t < H; t++) {
        env_step_info_t info;
        expected_action(obs, goal, act);
        env_step(env, act, obs, ag, &info, err, sizeof err);
    }
    float want_distance = hypotf(ag[0] - goal[0], ag[1] - goal[1]);
    env_free(env);

    CU_ASSERT_FATAL(step_until(a, &f, NULL, 0, evals_at_least_one, NULL));
    actor_get_counters(a, &c);
    /* The evaluation came once 4 training episodes (2 rounds) had finished, and none before. */
    CU_ASSERT(c.episodes >= 4);
    CU_ASSERT(c.episodes <= episodes_before + 4 + 2);
    CU_ASSERT_EQUAL(c.eval_env_steps, 2 * 2 * H); /* 3 episodes: 2 rounds of 2 envs */
    actor_eval_t e;
    actor_get_last_eval(a, &e);
    CU_ASSERT_EQUAL(e.episodes, 3);
    CU_ASSERT_EQUAL(e.policy_version, 21);
    CU_ASSERT_DOUBLE_EQUAL(e.final_distance_mean, want_distance, 1e-3);
    CU_ASSERT(e.final_distance_std < 1e-3);
    CU_ASSERT_DOUBLE_EQUAL(e.success_rate, want_distance < 0.5f ? 1.0 : 0.0, 1e-6);

    Odac__ActorStats *with_eval = NULL;
    drain_stats(&f, NULL, &with_eval);
    CU_ASSERT_PTR_NOT_NULL_FATAL(with_eval);
    CU_ASSERT_PTR_NOT_NULL_FATAL(with_eval->eval);
    CU_ASSERT_EQUAL(with_eval->eval->episodes, 3);
    CU_ASSERT_EQUAL(with_eval->eval->policy_version, 21);
    CU_ASSERT_DOUBLE_EQUAL(with_eval->eval->final_distance_mean, want_distance, 1e-3);
    CU_ASSERT_DOUBLE_EQUAL(with_eval->eval->success_rate, e.success_rate, 1e-6);
    odac__actor_stats__free_unpacked(with_eval, NULL);

    /* Evaluation episodes are not sent to replay: the shard got exactly the training ones. */
    drain_shards(&f);
    CU_ASSERT_EQUAL((uint64_t)f.n_got, c.episodes);
    /* The next stats carry no evaluation. */
    actor_send_stats(a);
    Odac__ActorStats *last = NULL;
    with_eval = NULL;
    drain_stats(&f, &last, &with_eval);
    CU_ASSERT_PTR_NOT_NULL(last);
    CU_ASSERT_PTR_NULL(with_eval);
    if (last) odac__actor_stats__free_unpacked(last, NULL);
    if (with_eval) odac__actor_stats__free_unpacked(with_eval, NULL);
    free(w);
    actor_free(a);
    fixture_close(&f);
}

static void test_run_finished(void) {
    for (int variant = 0; variant < 2; variant++) {
        fixture_t f;
        fixture_open(&f, 1, (int[]){1});
        actor_config_t cfg;
        config_for(&f, 1, &cfg);
        actor_t *a = actor_new(&cfg, f.ctx, err, sizeof err);
        CU_ASSERT_PTR_NOT_NULL_FATAL(a);
        size_t len;
        uint8_t *w;
        if (variant == 0) {
            w = make_weights((int[]){8}, 1, -20.0f, 30, "box2d", 1, &len);
        } else { /* no usable weights at all, only the flag */
            Odac__PolicyWeights m = ODAC__POLICY_WEIGHTS__INIT;
            m.protocol_version = WIRE_PROTOCOL_VERSION;
            m.version = 30;
            m.env_name = "box2d";
            m.run_finished = 1;
            len = odac__policy_weights__get_packed_size(&m);
            w = malloc(len + 1);
            odac__policy_weights__pack(&m, w);
        }
        int finished = 0;
        double t0 = now_s();
        /* Weights that fail validation say nothing: their run_finished must not end the run. */
        int limit = variant == 0 ? MAX_STEPS : 200;
        for (int i = 0; i < limit && now_s() - t0 < 30.0 && !finished; i++) {
            publish(&f, w, len);
            int rc = actor_step(a, err, sizeof err);
            CU_ASSERT(rc >= 0);
            finished = rc == ACTOR_FINISHED;
        }
        if (variant == 1) {
            actor_counters_t c;
            actor_get_counters(a, &c);
            CU_ASSERT_FALSE(finished);
            CU_ASSERT(c.weights_rejected > 0); /* it did arrive, and was refused */
            free(w);
            actor_free(a);
            fixture_close(&f);
            continue;
        }
        CU_ASSERT_FATAL(finished);
        actor_counters_t c;
        actor_get_counters(a, &c);
        CU_ASSERT_EQUAL(c.finished, 1);
        uint64_t steps = c.env_steps;
        CU_ASSERT_EQUAL(actor_step(a, err, sizeof err), ACTOR_FINISHED);
        actor_get_counters(a, &c);
        CU_ASSERT_EQUAL(c.env_steps, steps); /* no stepping after the end */
        /* The final stats went out. */
        Odac__ActorStats *last = NULL;
        CU_ASSERT(drain_stats(&f, &last, NULL) >= 1);
        CU_ASSERT_PTR_NOT_NULL(last);
        if (last) {
            CU_ASSERT_EQUAL(last->env_steps, steps);
            if (variant == 0) CU_ASSERT_EQUAL(last->policy_version, 30);
            odac__actor_stats__free_unpacked(last, NULL);
        }
        free(w);
        actor_free(a);
        fixture_close(&f);
    }
}

static int shard1_received_two(const actor_counters_t *c, const void *arg) {
    (void)c;
    return ((const fixture_t *)arg)->n_from[1] >= 2;
}

static void test_backpressure(void) {
    /* Shard 1 is never there: its queue (2 episodes) fills, then its share goes to shard 0. */
    fixture_t f;
    fixture_open(&f, 2, (int[]){1, 0});
    actor_config_t cfg;
    config_for(&f, 2, &cfg);
    cfg.random_steps = 1000000;
    cfg.send_queue = 2;
    actor_t *a = actor_new(&cfg, f.ctx, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    uint64_t want = 20;
    CU_ASSERT(step_until(a, &f, NULL, 0, episodes_at_least, &want));
    actor_counters_t c;
    actor_get_counters(a, &c);
    CU_ASSERT_EQUAL(c.episodes, 20);
    CU_ASSERT_EQUAL(c.episodes_dropped, 0);
    CU_ASSERT_EQUAL(c.episodes_sent, 18);
    CU_ASSERT_EQUAL(f.n_got, 18);
    int odd = 0;
    for (int i = 0; i < f.n_got; i++) odd += f.got[i]->episode_id % 2;
    CU_ASSERT_EQUAL(odd, 10 - 2); /* shard 1's share, less the 2 it still holds */

    /* Shard 1 comes up (ZeroMQ reconnects on its own): the episodes it held go first. */
    close(f.reserved_fd[1]);
    f.reserved_fd[1] = -1;
    f.shard[1] = bind_socket(f.ctx, ZMQ_PULL, f.shard_ep[1]);
    CU_ASSERT(step_until(a, &f, NULL, 0, shard1_received_two, &f));
    drain_shards(&f);
    actor_get_counters(a, &c);
    CU_ASSERT_EQUAL(c.episodes_dropped, 0);
    CU_ASSERT_EQUAL(c.episodes_sent, c.sent_per_shard[0] + c.sent_per_shard[1]);
    CU_ASSERT(f.n_from[1] >= 2);
    CU_ASSERT_EQUAL(f.first_ids[1][0], 1);
    CU_ASSERT_EQUAL(f.first_ids[1][1], 3);
    actor_free(a);
    fixture_close(&f);

    /* No shard at all, never waiting: each queue keeps 2, everything older is dropped, stepping
     * goes on. */
    fixture_open(&f, 2, (int[]){0, 0});
    config_for(&f, 2, &cfg);
    cfg.random_steps = 1000000;
    cfg.send_queue = 2;
    cfg.backpressure_wait_ms = 0;
    a = actor_new(&cfg, f.ctx, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    want = 20;
    CU_ASSERT(step_until(a, &f, NULL, 0, episodes_at_least, &want));
    actor_get_counters(a, &c);
    CU_ASSERT_EQUAL(c.episodes_sent, 0);
    CU_ASSERT_EQUAL(c.episodes_dropped, 20 - 4);
    CU_ASSERT_EQUAL(c.backpressure_waits, 0);
    actor_free(a);
    fixture_close(&f);

    /* Waiting up to 30 ms: each round past the first two waits that long, then drops. */
    fixture_open(&f, 2, (int[]){0, 0});
    config_for(&f, 2, &cfg);
    cfg.random_steps = 1000000;
    cfg.send_queue = 2;
    cfg.backpressure_wait_ms = 30;
    a = actor_new(&cfg, f.ctx, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    want = 10;
    CU_ASSERT(step_until(a, &f, NULL, 0, episodes_at_least, &want));
    actor_get_counters(a, &c);
    CU_ASSERT_EQUAL(c.episodes_dropped, 10 - 4);
    CU_ASSERT(c.backpressure_waits >= 3);
    CU_ASSERT(c.backpressure_wait_s >= 3 * 0.030);
    actor_free(a);
    fixture_close(&f);
}

static int waits_at_least_one(const actor_counters_t *c, const void *arg) {
    (void)arg;
    return c->backpressure_waits >= 1;
}

static void test_backpressure_paces(void) {
    /* Waiting without limit: with no shard the actor stops after filling the queues (2 rounds),
     * drops nothing, and goes on once a shard comes up. (The default waits 30 s, then drops.) */
    fixture_t f;
    fixture_open(&f, 2, (int[]){0, 0});
    actor_config_t cfg;
    config_for(&f, 2, &cfg);
    cfg.random_steps = 1000000;
    cfg.send_queue = 2;
    CU_ASSERT_EQUAL(cfg.backpressure_wait_ms, 30000);
    cfg.backpressure_wait_ms = -1;
    actor_t *a = actor_new(&cfg, f.ctx, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    CU_ASSERT_FATAL(step_until(a, &f, NULL, 0, waits_at_least_one, NULL));
    actor_counters_t c;
    for (int i = 0; i < 20; i++) CU_ASSERT_EQUAL(actor_step(a, err, sizeof err), ACTOR_RUNNING);
    actor_get_counters(a, &c);
    CU_ASSERT_EQUAL(c.env_steps, 2 * 2 * H);
    CU_ASSERT_EQUAL(c.episodes, 4);
    CU_ASSERT_EQUAL(c.episodes_dropped, 0);
    CU_ASSERT_EQUAL(c.backpressure_waits, 1);

    /* Weights and run_finished are still handled while waiting. */
    size_t len;
    uint8_t *w = make_weights((int[]){8}, 1, -20.0f, 2, "box2d", 0, &len);
    uint64_t v = 2;
    CU_ASSERT(step_until(a, &f, w, len, version_is, &v));
    free(w);
    actor_get_counters(a, &c);
    CU_ASSERT_EQUAL(c.env_steps, 2 * 2 * H);

    /* Shard 1 comes up: its two queued episodes go, the next round runs. */
    close(f.reserved_fd[1]);
    f.reserved_fd[1] = -1;
    f.shard[1] = bind_socket(f.ctx, ZMQ_PULL, f.shard_ep[1]);
    uint64_t want = 6;
    CU_ASSERT(step_until(a, &f, NULL, 0, episodes_at_least, &want));
    actor_get_counters(a, &c);
    CU_ASSERT_EQUAL(c.episodes_dropped, 0);
    CU_ASSERT(c.sent_per_shard[1] >= 2);
    CU_ASSERT(c.backpressure_wait_s > 0);
    actor_free(a);
    fixture_close(&f);
}

/* One round of the actor's first episode, as bytes of actions. */
static void first_actions(uint32_t actor_id, uint64_t seed, float *out) {
    fixture_t f;
    fixture_open(&f, 1, (int[]){1});
    actor_config_t cfg;
    config_for(&f, 1, &cfg);
    cfg.num_envs = 1;
    cfg.random_steps = 1000000;
    cfg.actor_id = actor_id;
    cfg.seed = seed;
    actor_t *a = actor_new(&cfg, f.ctx, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    uint64_t want = 1;
    CU_ASSERT(step_until(a, &f, NULL, 0, episodes_at_least, &want));
    CU_ASSERT_EQUAL_FATAL(f.n_got, 1);
    memcpy(out, f.got[0]->actions, H * 2 * sizeof(float));
    actor_free(a);
    fixture_close(&f);
}

static void test_seeding(void) {
    static float a[H * 2], b[H * 2], c[H * 2], d[H * 2];
    first_actions(1, 5, a);
    first_actions(1, 5, b);
    first_actions(2, 5, c);
    first_actions(1, 6, d);
    CU_ASSERT_EQUAL(memcmp(a, b, sizeof a), 0);
    CU_ASSERT_NOT_EQUAL(memcmp(a, c, sizeof a), 0);
    CU_ASSERT_NOT_EQUAL(memcmp(a, d, sizeof a), 0);
}

static void expect_invalid(const actor_config_t *cfg, const char *needle) {
    err[0] = '\0';
    actor_t *a = actor_new(cfg, NULL, err, sizeof err);
    CU_ASSERT_PTR_NULL(a);
    actor_free(a);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, needle));
    if (!strstr(err, needle)) fprintf(stderr, "\n  message '%s' lacks '%s'\n", err, needle);
}

static void test_config_validation(void) {
    actor_config_t good, cfg;
    actor_config_default(&good);
    snprintf(good.env_name, sizeof good.env_name, "box2d");
    snprintf(good.shards, sizeof good.shards, "tcp://127.0.0.1:1");
    snprintf(good.weights, sizeof good.weights, "tcp://127.0.0.1:2");
    snprintf(good.stats, sizeof good.stats, "tcp://127.0.0.1:3");
    CU_ASSERT_EQUAL(actor_config_validate(&good, err, sizeof err), 0);
    cfg = good;
    snprintf(cfg.env_name, sizeof cfg.env_name, "box3d");
    expect_invalid(&cfg, "unknown env");
    cfg = good;
    cfg.env_name[0] = '\0';
    expect_invalid(&cfg, "--env");
    cfg = good;
    cfg.num_envs = 0;
    expect_invalid(&cfg, "--num-envs");
    cfg = good;
    cfg.shards[0] = '\0';
    expect_invalid(&cfg, "--shards");
    cfg = good;
    snprintf(cfg.shards, sizeof cfg.shards, "tcp://127.0.0.1:1,,tcp://127.0.0.1:4");
    expect_invalid(&cfg, "empty endpoint");
    cfg = good;
    cfg.weights[0] = '\0';
    expect_invalid(&cfg, "--weights");
    cfg = good;
    cfg.stats[0] = '\0';
    expect_invalid(&cfg, "--stats");
    cfg = good;
    cfg.eval_episodes = 0;
    expect_invalid(&cfg, "--eval-episodes");
    cfg = good;
    cfg.backpressure_wait_ms = -2;
    expect_invalid(&cfg, "--backpressure-wait-ms");
    cfg = good;
    cfg.send_queue = 0;
    expect_invalid(&cfg, "--send-queue");
    cfg = good;
    snprintf(cfg.weights, sizeof cfg.weights, "nonsense://x");
    expect_invalid(&cfg, "connect nonsense://x");
}

int main(void) {
    const test_case_t cases[] = {
        {"episodes recorded, replayable and spread round-robin", test_episodes_recorded_and_spread},
        {"published weights drive the actions", test_weights_drive_actions},
        {"weights carry the normaliser and exploration",
         test_weights_carry_normaliser_and_exploration},
        {"bad weights are rejected, counted and ignored", test_bad_weights_rejected},
        {"evaluation report after eval_every episodes", test_eval_report},
        {"run_finished stops the actor", test_run_finished},
        {"backpressure: queue, overflow to another shard, drop oldest", test_backpressure},
        {"backpressure: rounds wait for room", test_backpressure_paces},
        {"seeded from seed and actor id", test_seeding},
        {"config validation", test_config_validation},
        {NULL, NULL},
    };
    return test_run_suite("actor_loop", cases);
}
