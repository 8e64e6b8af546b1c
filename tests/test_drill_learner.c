/* test_drill_learner: the learner process as a library (learner_server.h) in a thread of this
 * test, fed by real replay servers (replay_server.h) in other threads over ipc:// sockets.
 * Bad command lines are refused without a run; a run trains to its update budget and says it
 * finished; training goes on when its only shard stops and another takes its place; stats
 * without the run's token neither count nor end the run, the run's own evaluation does; a stop
 * request ends the run with a checkpoint and without "finished". All waiting is polling the
 * expected state with a deadline. */
#include "env.h"
#include "learner_server.h"
#include "replay_server.h"
#include "testutil.h"
#include "wire.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DEADLINE_S 60.0

static env_spec_t spec;

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void pause_ms(int ms) { /* between polls of a condition, never as the synchronisation */
    struct timespec t = {0, ms * 1000000L};
    nanosleep(&t, NULL);
}

/* ---- replay shards ---- */

typedef struct {
    replay_server_t *server;
    pthread_t thread;
    int rc;
} shard_run_t;

static void *run_shard(void *arg) {
    shard_run_t *r = arg;
    r->rc = replay_server_run(r->server);
    return NULL;
}

/* A box2d shard at endpoint (ipc://), holding n_episodes random episodes, sampling unlimited. */
static void start_shard(shard_run_t *r, const char *sample_ep, const char *insert_ep,
                        int n_episodes, uint64_t seed) {
    replay_server_config_t cfg;
    replay_server_config_defaults(&cfg);
    replay_shard_config_t *c = &cfg.shard;
    snprintf(c->dims.env_name, sizeof c->dims.env_name, "%s", spec.name);
    c->dims.obs_dim = (uint32_t)spec.obs_dim;
    c->dims.goal_dim = (uint32_t)spec.goal_dim;
    c->dims.action_dim = (uint32_t)spec.action_dim;
    c->dims.horizon = (uint32_t)spec.horizon;
    c->capacity = 100000;
    c->min_size = 10;
    c->samples_per_insert = 0; /* no rate limit: the episodes below are all there is */
    c->future_p = 0.8f;
    c->seed = seed;
    c->max_batch = 256;
    snprintf(cfg.sample_bind, sizeof cfg.sample_bind, "%s", sample_ep);
    snprintf(cfg.insert_bind, sizeof cfg.insert_bind, "%s", insert_ep);
    cfg.stats_every_s = 0;
    char err[512] = "";
    r->server = replay_server_new(&cfg, err, sizeof err);
    if (!r->server) fprintf(stderr, "replay_server_new: %s\n", err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r->server);
    int T = spec.horizon, od = spec.obs_dim, gd = spec.goal_dim, ad = spec.action_dim;
    float *obs = calloc((size_t)(T + 1) * od, sizeof *obs);
    float *ag = calloc((size_t)(T + 1) * gd, sizeof *ag);
    float *act = calloc((size_t)T * ad, sizeof *act);
    float goal[64];
    CU_ASSERT_FATAL(obs && ag && act && gd <= 64);
    unsigned state = (unsigned)seed * 2654435761u + 1;
#define UNIT() ((float)((state = state * 1664525u + 1013904223u) >> 8) / 16777216.0f - 0.5f)
    for (int e = 0; e < n_episodes; e++) {
        for (int i = 0; i < (T + 1) * od; i++) obs[i] = UNIT();
        for (int i = 0; i < (T + 1) * gd; i++) ag[i] = UNIT();
        for (int i = 0; i < T * ad; i++) act[i] = UNIT();
        for (int i = 0; i < gd; i++) goal[i] = UNIT();
        Odac__Episode ep = ODAC__EPISODE__INIT;
        ep.protocol_version = WIRE_PROTOCOL_VERSION;
        ep.env_name = spec.name;
        ep.length = (uint32_t)T;
        ep.n_observations = (size_t)(T + 1) * od;
        ep.observations = obs;
        ep.n_achieved_goals = (size_t)(T + 1) * gd;
        ep.achieved_goals = ag;
        ep.n_actions = (size_t)T * ad;
        ep.actions = act;
        ep.n_desired_goal = (size_t)gd;
        ep.desired_goal = goal;
        CU_ASSERT_EQUAL_FATAL(
            replay_shard_insert(replay_server_shard(r->server), &ep, err, sizeof err), 0);
    }
#undef UNIT
    free(obs);
    free(ag);
    free(act);
    CU_ASSERT_EQUAL_FATAL(pthread_create(&r->thread, NULL, run_shard, r), 0);
}

static uint64_t stop_shard(shard_run_t *r) {
    replay_server_stop(r->server);
    pthread_join(r->thread, NULL);
    CU_ASSERT_EQUAL(r->rc, 0);
    uint64_t sampled = replay_server_shard(r->server)->counters.sampled_transitions;
    replay_server_free(r->server);
    return sampled;
}

/* ---- the learner ---- */

typedef struct {
    learner_server_t *server;
    pthread_t thread;
    int rc;
} learner_run_t;

static void *run_learner(void *arg) {
    learner_run_t *r = arg;
    r->rc = learner_server_run(r->server);
    return NULL;
}

static char dir[512], shard_ep[600], insert_ep[600], weights_ep[600], stats_ep[600], status_ep[600];

static void endpoints(const char *tag) {
    snprintf(dir, sizeof dir, "%s", test_tmpdir(tag));
    snprintf(shard_ep, sizeof shard_ep, "ipc://%s/shard", dir);
    snprintf(insert_ep, sizeof insert_ep, "ipc://%s/insert", dir);
    snprintf(weights_ep, sizeof weights_ep, "ipc://%s/weights", dir);
    snprintf(stats_ep, sizeof stats_ep, "ipc://%s/stats", dir);
    snprintf(status_ep, sizeof status_ep, "ipc://%s/status", dir);
}

/* A small box2d learner over this test's endpoints; extra flags (NULL-terminated) follow. */
static learner_server_t *new_learner(int *exit_code, const char *const *extra) {
    static char a_dir[600], a_shards[700], a_w[700], a_s[700], a_st[700];
    snprintf(a_dir, sizeof a_dir, "--run-dir=%s", dir);
    snprintf(a_shards, sizeof a_shards, "--shards=%s", shard_ep);
    snprintf(a_w, sizeof a_w, "--weights-bind=%s", weights_ep);
    snprintf(a_s, sizeof a_s, "--stats-bind=%s", stats_ep);
    snprintf(a_st, sizeof a_st, "--status-endpoint=%s", status_ep);
    const char *argv[48] = {"odac-learner",
                            "--env=box2d",
                            "--run-id=t",
                            a_dir,
                            a_shards,
                            a_w,
                            a_s,
                            a_st,
                            "--hidden=16,16",
                            "--model-hidden=16,16",
                            "--batch-size=32",
                            "--log-every-s=0.2",
                            "--no-tensorboard",
                            "--request-timeout-s=0.2"};
    int n = 0;
    while (argv[n]) n++;
    for (int i = 0; extra && extra[i]; i++) argv[n++] = extra[i];
    return learner_server_new(n, (char **)argv, 0, exit_code);
}

static void start_learner(learner_run_t *r, const char *const *extra) {
    int exit_code = -1;
    r->server = new_learner(&exit_code, extra);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r->server);
    CU_ASSERT_EQUAL_FATAL(pthread_create(&r->thread, NULL, run_learner, r), 0);
}

/* Waits (bounded) until the learner has done at least n updates; 0 when it did. */
static int wait_updates(learner_run_t *r, long long n) {
    for (double t0 = now_s(); now_s() - t0 < DEADLINE_S; pause_ms(5))
        if (learner_server_updates(r->server) >= n) return 0;
    return -1;
}

static int file_exists(const char *name) {
    char path[1024];
    snprintf(path, sizeof path, "%s/t/%s", dir, name);
    return access(path, F_OK) == 0;
}

/* ---- the cases ---- */

static void test_bad_command_lines(void) {
    endpoints("drill-learner-bad");
    const char *bad[][3] = {{"--hidden=64,", NULL},
                            {"--env=nope", NULL},
                            {"--variant=odak", NULL},
                            {"--shards=tcp://10.1.2.3:5561", NULL},
                            {"--batch-size=0", NULL}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int exit_code = -1;
        learner_server_t *s = new_learner(&exit_code, bad[i]);
        CU_ASSERT_PTR_NULL(s);
        CU_ASSERT_EQUAL(exit_code, 2);
        learner_server_free(s);
    }
    CU_ASSERT(!file_exists("progress.csv")); /* nothing of a run was started */
    const char *check[] = {"--check", NULL};
    int exit_code = -1;
    CU_ASSERT_PTR_NULL(new_learner(&exit_code, check));
    CU_ASSERT_EQUAL(exit_code, 0);
    CU_ASSERT(!file_exists("progress.csv"));
}

/* Trains to --max-updates and says the run finished; the files of a run are there. */
static void test_trains_to_budget(void) {
    endpoints("drill-learner-budget");
    shard_run_t shard;
    start_shard(&shard, shard_ep, insert_ep, 20, 1);
    learner_run_t l;
    const char *extra[] = {"--max-updates=300", NULL};
    start_learner(&l, extra);
    pthread_join(l.thread, NULL);
    CU_ASSERT_EQUAL(l.rc, 0);
    learner_server_counters_t c;
    learner_server_counters(l.server, &c);
    CU_ASSERT_EQUAL(c.updates, 300);
    CU_ASSERT(c.batches >= 300);
    CU_ASSERT_STRING_EQUAL(learner_server_finished(l.server), "update budget reached");
    learner_server_free(l.server);
    CU_ASSERT(stop_shard(&shard) >= 300 * 32);
    CU_ASSERT(file_exists(LEARNER_FINISHED_FILE));
    CU_ASSERT(file_exists("learner.ckpt"));
    CU_ASSERT(file_exists("variant.json"));
    char path[1024], line[4096];
    snprintf(path, sizeof path, "%s/t/progress.csv", dir);
    FILE *f = fopen(path, "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    int rows = 0;
    long long last_updates = -1;
    while (fgets(line, sizeof line, f))
        if (rows++ > 0) {
            const char *u = strchr(strchr(line, ',') + 1, ',') + 1; /* the third column */
            last_updates = atoll(u);
        }
    fclose(f);
    CU_ASSERT(rows >= 2);
    CU_ASSERT_EQUAL(last_updates, 300); /* the final row, written as the run ends */
}

/* The only shard stops (its pending requests die with it) and another binds its endpoint:
 * the learner's lost requests expire, it asks the new shard, and training goes on. */
static void test_training_survives_shard_replacement(void) {
    endpoints("drill-learner-shard");
    shard_run_t a, b;
    start_shard(&a, shard_ep, insert_ep, 20, 1);
    learner_run_t l;
    start_learner(&l, NULL);
    CU_ASSERT_EQUAL_FATAL(wait_updates(&l, 100), 0);
    uint64_t from_a = stop_shard(&a);
    CU_ASSERT(from_a > 0);
    long long at_stop = learner_server_updates(l.server);
    start_shard(&b, shard_ep, insert_ep, 20, 2);
    CU_ASSERT_EQUAL(wait_updates(&l, at_stop + 200), 0);
    learner_server_stop(l.server);
    pthread_join(l.thread, NULL);
    CU_ASSERT_EQUAL(l.rc, 0);
    CU_ASSERT_PTR_NULL(learner_server_finished(l.server)); /* stopped, not finished */
    learner_server_counters_t c;
    learner_server_counters(l.server, &c);
    learner_server_free(l.server);
    /* Every update uses one batch of 32 that a or b sampled. The learner may still hold many of
     * a's batches (prefetched, queued) when a stops, so updates after the stop do not each need
     * b: b is held to what a's samples cannot account for. */
    long long used = 32 * c.updates, from_b = (long long)stop_shard(&b);
    CU_ASSERT(c.updates >= at_stop + 200);
    CU_ASSERT(used > (long long)from_a + 32);      /* more was trained on than a ever sampled, */
    CU_ASSERT(from_b >= used - (long long)from_a); /* and b sampled the rest */
    CU_ASSERT(file_exists("learner.ckpt"));
    CU_ASSERT(!file_exists(LEARNER_FINISHED_FILE));
}

/* Sends one ActorStats to the learner's stats socket. */
static void send_stats(void *push, const char *token, uint32_t actor, float eval_distance) {
    Odac__ActorStats st = ODAC__ACTOR_STATS__INIT;
    Odac__EvalReport ev = ODAC__EVAL_REPORT__INIT;
    st.protocol_version = WIRE_PROTOCOL_VERSION;
    st.actor_id = actor;
    st.env_steps = 1000;
    st.episodes = 20;
    st.run_token = (char *)token;
    ev.episodes = 5;
    ev.final_distance_mean = eval_distance;
    st.eval = &ev;
    CU_ASSERT_EQUAL(wire_send(push, NULL, WIRE_TAG_ACTOR_STATS, &st.base, 0), 0);
}

/* The learner's status, asked over its status socket; NULL when it did not answer. */
static Odac__Status *ask_status(void *zctx) {
    char err[512];
    void *sock = wire_socket_limited(zctx, ZMQ_DEALER, status_ep, 0, 1, 0, WIRE_MAX_STATUS_BYTES,
                                     err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(sock);
    Odac__StatusRequest req = ODAC__STATUS_REQUEST__INIT;
    req.protocol_version = WIRE_PROTOCOL_VERSION;
    Odac__Status *st = NULL;
    wire_msg_t m;
    if (wire_send(sock, NULL, WIRE_TAG_STATUS_REQUEST, &req.base, 0) == 0 &&
        wire_recv(sock, &m, 10000) == 1) {
        char tag[WIRE_TAG_MAX];
        wire_reject_t reason;
        if (m.n_parts == 2 && !strcmp(wire_msg_tag(&m, 0, tag), WIRE_TAG_STATUS))
            st = wire_decode_status(wire_msg_data(&m, 1), wire_msg_size(&m, 1), &reason, err,
                                    sizeof err);
        wire_msg_close(&m);
    }
    zmq_close(sock);
    return st;
}

/* Stats without the run's token change nothing, even an evaluation at distance 0; the run's own
 * actor counts, and its evaluation at the target ends the run. No shard runs: a learner waiting
 * for batches still serves its sockets. */
static void test_only_the_runs_actors_end_the_run(void) {
    endpoints("drill-learner-token");
    learner_run_t l;
    const char *extra[] = {"--run-token=s3cret", "--target-distance=0.5", NULL};
    start_learner(&l, extra);
    void *zctx = zmq_ctx_new();
    char err[512];
    void *push = wire_socket_limited(zctx, ZMQ_PUSH, stats_ep, 0, 16, 0, 0, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(push);
    send_stats(push, "wrong", 7, 0.0f);
    send_stats(push, "", 8, 0.0f);
    send_stats(push, "s3cret", 1, 2.0f); /* ours, not at the target */
    /* One PUSH socket delivers in order: once actor 1 is seen, both forgeries were read. */
    Odac__Status *st = NULL;
    for (double t0 = now_s(); now_s() - t0 < DEADLINE_S; pause_ms(20)) {
        st = ask_status(zctx);
        if (st && st->n_actor_ids == 1) break;
        if (st) odac__status__free_unpacked(st, NULL);
        st = NULL;
    }
    CU_ASSERT_PTR_NOT_NULL_FATAL(st);
    CU_ASSERT_EQUAL(st->actor_ids[0], 1);
    CU_ASSERT_EQUAL(st->rejected_token, 2);
    CU_ASSERT_PTR_NOT_NULL(st->last_eval);
    if (st->last_eval) CU_ASSERT_DOUBLE_EQUAL(st->last_eval->final_distance_mean, 2.0, 1e-6);
    odac__status__free_unpacked(st, NULL);
    CU_ASSERT(!file_exists(LEARNER_FINISHED_FILE));

    send_stats(push, "s3cret", 1, 0.25f);
    pthread_join(l.thread, NULL);
    CU_ASSERT_EQUAL(l.rc, 0);
    CU_ASSERT_STRING_EQUAL(learner_server_finished(l.server),
                           "evaluation final distance reached the target");
    learner_server_free(l.server);
    CU_ASSERT(file_exists(LEARNER_FINISHED_FILE));
    zmq_close(push);
    zmq_ctx_term(zctx);
}

int main(void) {
    char err[256];
    if (env_spec_lookup("box2d", &spec, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    static const test_case_t cases[] = {
        {"bad command lines start nothing", test_bad_command_lines},
        {"trains to its update budget and says it finished", test_trains_to_budget},
        {"training survives the only shard's replacement",
         test_training_survives_shard_replacement},
        {"only the run's own actors count and end the run", test_only_the_runs_actors_end_the_run},
        {NULL, NULL}};
    return test_run_suite("learner server drills", cases);
}
