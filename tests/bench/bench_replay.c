/* bench-replay: replay shard throughput with ant's dims, one JSON object per line:
 *   replay_sample / inproc: relabeled batches of 256 straight from a full 1e6-transition store;
 *   replay_sample / zmq:    a DEALER client over loopback TCP with 4 requests in flight against a
 *                           server running in a thread (client decodes and validates each batch);
 *   replay_insert / inproc: decoded episodes copied into the store: "first_fill" (empty store;
 *                           alloc_s is the store's allocation, pages touched up front) and
 *                           "steady" (full store, one eviction per insert);
 *   replay_insert / zmq:    packed episodes pushed over loopback, decoded, validated and stored.
 * Rates are wall-clock; "cpu_transitions_per_s" divides by the CPU time of the thread doing the
 * work (inproc) or of the whole process (zmq), which is steadier on a shared machine. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "env.h"
#include "curve.h"
#include "replay_server.h"
#include "wire.h"

#define BATCH 256
#define CAPACITY 1000000
#define IN_FLIGHT 4

static double now_s(clockid_t clock) {
    struct timespec ts;
    clock_gettime(clock, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static char machine[256];

static void describe_machine(void) {
    char host[64] = "?", model[160] = "?";
    gethostname(host, sizeof host);
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[256];
    while (f && fgets(line, sizeof line, f)) {
        if (!strncmp(line, "model name", 10)) {
            char *p = strchr(line, ':');
            if (p) {
                snprintf(model, sizeof model, "%s", p + 2);
                model[strcspn(model, "\n")] = 0;
            }
            break;
        }
    }
    if (f) fclose(f);
    snprintf(machine, sizeof machine, "%s, %ld cpus, %s", model, sysconf(_SC_NPROCESSORS_ONLN),
             host);
    for (char *p = machine; *p; p++)
        if (*p == '"' || *p == '\\') *p = ' ';
}

static replay_shard_config_t ant_shard(const env_spec_t *spec) {
    replay_shard_config_t c;
    memset(&c, 0, sizeof c);
    snprintf(c.dims.env_name, sizeof c.dims.env_name, "%s", spec->name);
    c.dims.obs_dim = (uint32_t)spec->obs_dim;
    c.dims.goal_dim = (uint32_t)spec->goal_dim;
    c.dims.action_dim = (uint32_t)spec->action_dim;
    c.dims.horizon = (uint32_t)spec->horizon;
    c.capacity = CAPACITY;
    c.samples_per_insert = 0; /* no rate limit: measure the shard itself */
    c.future_p = 0.8f;
    c.seed = 1;
    c.max_batch = 4096;
    return c;
}

/* A random full-length episode as a protobuf message (buffers owned by the caller). */
typedef struct {
    float *obs, *ag, *act, goal[64];
    Odac__Episode msg;
} episode_t;

static void make_episode(episode_t *ep, const env_spec_t *spec, rng_t *rng) {
    int T = spec->horizon;
    size_t no = (size_t)(T + 1) * spec->obs_dim, ng = (size_t)(T + 1) * spec->goal_dim,
           na = (size_t)T * spec->action_dim;
    ep->obs = malloc(sizeof(float) * no);
    ep->ag = malloc(sizeof(float) * ng);
    ep->act = malloc(sizeof(float) * na);
    for (size_t i = 0; i < no; i++) ep->obs[i] = rng_normal(rng);
    for (size_t i = 0; i < ng; i++) ep->ag[i] = rng_normal(rng);
    for (size_t i = 0; i < na; i++) ep->act[i] = rng_uniform(rng) * 2 - 1;
    for (int i = 0; i < spec->goal_dim; i++) ep->goal[i] = rng_normal(rng);
    odac__episode__init(&ep->msg);
    ep->msg.protocol_version = WIRE_PROTOCOL_VERSION;
    ep->msg.env_name = (char *)spec->name;
    ep->msg.length = (uint32_t)T;
    ep->msg.n_observations = no;
    ep->msg.observations = ep->obs;
    ep->msg.n_achieved_goals = ng;
    ep->msg.achieved_goals = ep->ag;
    ep->msg.n_actions = na;
    ep->msg.actions = ep->act;
    ep->msg.n_desired_goal = (size_t)spec->goal_dim;
    ep->msg.desired_goal = ep->goal;
}

static void bench_inproc(const env_spec_t *spec, episode_t *eps, int n_eps) {
    replay_shard_config_t c = ant_shard(spec);
    char err[512];
    double a0 = now_s(CLOCK_MONOTONIC);
    replay_shard_t *shard = replay_shard_new(&c, err, sizeof err);
    double alloc_s = now_s(CLOCK_MONOTONIC) - a0;
    if (!shard) {
        fprintf(stderr, "bench-replay: %s\n", err);
        exit(1);
    }
    /* inserts: a first fill of the fresh store (its memory was touched in replay_shard_new:
     * alloc_s), then a second fill that evicts one old episode per insert, the steady state */
    int64_t n_insert = CAPACITY / spec->horizon;
    double t0 = 0, c0 = 0, dt = 0, dc = 0, n = 0;
    for (int phase = 0; phase < 2; phase++) {
        t0 = now_s(CLOCK_MONOTONIC);
        c0 = now_s(CLOCK_THREAD_CPUTIME_ID);
        for (int64_t i = 0; i < n_insert; i++)
            if (replay_shard_insert(shard, &eps[i % n_eps].msg, err, sizeof err) != 0) {
                fprintf(stderr, "bench-replay: %s\n", err);
                exit(1);
            }
        dt = now_s(CLOCK_MONOTONIC) - t0;
        dc = now_s(CLOCK_THREAD_CPUTIME_ID) - c0;
        n = (double)n_insert * spec->horizon;
        printf("{\"bench\":\"replay_insert\",\"env\":\"%s\",\"path\":\"inproc\",\"phase\":\"%s\","
               "\"transitions_per_s\":%.0f,\"cpu_transitions_per_s\":%.0f,\"capacity\":%d,"
               "\"alloc_s\":%.3f,\"machine\":\"%s\",\"threads\":1}\n",
               spec->name, phase ? "steady" : "first_fill", n / dt, n / dc, CAPACITY, alloc_s,
               machine);
        fflush(stdout);
    }
    /* samples from the full store */
    int64_t n_batches = 0;
    t0 = now_s(CLOCK_MONOTONIC);
    c0 = now_s(CLOCK_THREAD_CPUTIME_ID);
    do {
        for (int i = 0; i < 100; i++) replay_shard_sample(shard, BATCH, err, sizeof err);
        n_batches += 100;
    } while (now_s(CLOCK_MONOTONIC) - t0 < 2.0);
    dt = now_s(CLOCK_MONOTONIC) - t0;
    dc = now_s(CLOCK_THREAD_CPUTIME_ID) - c0;
    n = (double)n_batches * BATCH;
    printf("{\"bench\":\"replay_sample\",\"env\":\"%s\",\"path\":\"inproc\",\"batch\":%d,"
           "\"transitions_per_s\":%.0f,\"cpu_transitions_per_s\":%.0f,\"capacity\":%d,"
           "\"machine\":\"%s\",\"threads\":1}\n",
           spec->name, BATCH, n / dt, n / dc, CAPACITY, machine);
    fflush(stdout);
    /* checkpoint of the full store: save, then restore into a new shard */
    char dir[] = "/tmp/odac-bench-replay-XXXXXX";
    if (mkdtemp(dir)) {
        t0 = now_s(CLOCK_MONOTONIC);
        int ok = replay_shard_save(shard, dir, err, sizeof err) == 0;
        double save_s = now_s(CLOCK_MONOTONIC) - t0;
        replay_shard_t *restored = replay_shard_new(&c, err, sizeof err);
        t0 = now_s(CLOCK_MONOTONIC);
        ok = ok && restored && replay_shard_load(restored, dir, err, sizeof err) == 1;
        double load_s = now_s(CLOCK_MONOTONIC) - t0;
        char path[512];
        replay_shard_checkpoint_path(shard, dir, path, sizeof path);
        struct stat st;
        long long bytes = stat(path, &st) == 0 ? (long long)st.st_size : -1;
        if (ok)
            printf("{\"bench\":\"replay_checkpoint\",\"env\":\"%s\",\"transitions\":%lld,"
                   "\"bytes\":%lld,\"save_s\":%.3f,\"load_s\":%.3f,\"machine\":\"%s\"}\n",
                   spec->name, (long long)replay_store_size_transitions(shard->store), bytes,
                   save_s, load_s, machine);
        else
            fprintf(stderr, "bench-replay: checkpoint: %s\n", err);
        fflush(stdout);
        replay_shard_free(restored);
        unlink(path);
        rmdir(dir);
    }
    replay_shard_free(shard);
}

static void *serve(void *arg) {
    replay_server_run(arg);
    return NULL;
}

static uint64_t stats_inserted(void *dealer) {
    zmq_send(dealer, WIRE_TAG_STATS_REQUEST, strlen(WIRE_TAG_STATS_REQUEST), 0);
    wire_msg_t m;
    uint64_t n = 0;
    if (wire_recv(dealer, &m, 5000) == 1) {
        wire_reject_t reason;
        char err[256];
        Odac__ShardStats *st =
            m.n_parts == 2 ? wire_decode_shard_stats(wire_msg_data(&m, 1), wire_msg_size(&m, 1),
                                                     &reason, err, sizeof err)
                           : NULL;
        if (st) n = st->inserted_episodes;
        if (st) odac__shard_stats__free_unpacked(st, NULL);
        wire_msg_close(&m);
    }
    return n;
}

/* keys: a key directory (odac keygen) for CURVE on every socket, or NULL for plain TCP. */
static void bench_zmq(const env_spec_t *spec, episode_t *eps, int n_eps, const char *keys) {
    replay_server_config_t cfg;
    replay_server_config_defaults(&cfg);
    if (keys) snprintf(cfg.keys_dir, sizeof cfg.keys_dir, "%s", keys);
    cfg.shard = ant_shard(spec);
    cfg.stats_every_s = 0;
    cfg.insert_hwm = 1000;
    snprintf(cfg.insert_bind, sizeof cfg.insert_bind, "tcp://127.0.0.1:*");
    snprintf(cfg.sample_bind, sizeof cfg.sample_bind, "tcp://127.0.0.1:*");
    char err[512], ins[256], smp[256];
    replay_server_t *server = replay_server_new(&cfg, err, sizeof err);
    if (!server) {
        fprintf(stderr, "bench-replay: %s\n", err);
        exit(1);
    }
    replay_server_endpoint(server, 0, ins, sizeof ins);
    replay_server_endpoint(server, 1, smp, sizeof smp);
    /* the client side presents the learner's key, as the learner does */
    if (keys && curve_enable(NULL, keys, "learner", err, sizeof err) != 0) {
        fprintf(stderr, "bench-replay: %s\n", err);
        exit(1);
    }
    pthread_t th;
    pthread_create(&th, NULL, serve, server);
    void *ctx = zmq_ctx_new();
    void *push = wire_socket(ctx, ZMQ_PUSH, ins, 0, 1000, err, sizeof err);
    void *dealer = wire_socket(ctx, ZMQ_DEALER, smp, 0, 0, err, sizeof err);
    /* pack the episodes once; the bench measures the shard, not the client's packing */
    size_t *len = malloc(sizeof(size_t) * n_eps);
    uint8_t **packed = malloc(sizeof(uint8_t *) * n_eps);
    for (int i = 0; i < n_eps; i++) {
        len[i] = odac__episode__get_packed_size(&eps[i].msg);
        packed[i] = malloc(len[i]);
        odac__episode__pack(&eps[i].msg, packed[i]);
    }
    int64_t n_insert = 2 * CAPACITY / spec->horizon;
    double t0 = now_s(CLOCK_MONOTONIC), c0 = now_s(CLOCK_PROCESS_CPUTIME_ID);
    for (int64_t i = 0; i < n_insert; i++) {
        zmq_send(push, WIRE_TAG_EPISODE, strlen(WIRE_TAG_EPISODE), ZMQ_SNDMORE);
        zmq_send(push, packed[i % n_eps], len[i % n_eps], 0);
    }
    while (stats_inserted(dealer) < (uint64_t)n_insert) {
    }
    double dt = now_s(CLOCK_MONOTONIC) - t0, dc = now_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
    double n = (double)n_insert * spec->horizon;
    printf("{\"bench\":\"replay_insert\",\"env\":\"%s\",\"path\":\"zmq\",\"transitions_per_s\":"
           "%.0f,\"cpu_transitions_per_s\":%.0f,\"capacity\":%d,\"curve\":%s,\"machine\":\"%s\","
           "\"threads\":1}\n",
           spec->name, n / dt, n / dc, CAPACITY, keys ? "true" : "false", machine);
    fflush(stdout);

    /* sampling with IN_FLIGHT requests outstanding; the client decodes and validates */
    wire_dims_t dims = cfg.shard.dims;
    Odac__SampleRequest req;
    odac__sample_request__init(&req);
    req.protocol_version = WIRE_PROTOCOL_VERSION;
    req.batch_size = BATCH;
    uint64_t sent = 0, received = 0, bad = 0;
    for (; sent < IN_FLIGHT; sent++) {
        req.request_id = sent;
        wire_send(dealer, NULL, WIRE_TAG_SAMPLE_REQUEST, &req.base, 0);
    }
    t0 = now_s(CLOCK_MONOTONIC);
    c0 = now_s(CLOCK_PROCESS_CPUTIME_ID);
    while (now_s(CLOCK_MONOTONIC) - t0 < 2.0) {
        wire_msg_t m;
        if (wire_recv(dealer, &m, 5000) != 1) {
            fprintf(stderr, "bench-replay: no reply from the server\n");
            exit(1);
        }
        wire_reject_t reason;
        Odac__SampleBatch *b =
            m.n_parts == 2 ? wire_decode_sample_batch(wire_msg_data(&m, 1), wire_msg_size(&m, 1),
                                                      &dims, &reason, err, sizeof err)
                           : NULL;
        if (!b || b->request_id != received) bad++;
        if (b) odac__sample_batch__free_unpacked(b, NULL);
        wire_msg_close(&m);
        received++;
        req.request_id = sent++;
        wire_send(dealer, NULL, WIRE_TAG_SAMPLE_REQUEST, &req.base, 0);
    }
    dt = now_s(CLOCK_MONOTONIC) - t0;
    dc = now_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
    n = (double)received * BATCH;
    printf("{\"bench\":\"replay_sample\",\"env\":\"%s\",\"path\":\"zmq\",\"batch\":%d,"
           "\"in_flight\":%d,\"transitions_per_s\":%.0f,\"cpu_transitions_per_s\":%.0f,"
           "\"bad_replies\":%llu,\"curve\":%s,\"machine\":\"%s\",\"threads\":1}\n",
           spec->name, BATCH, IN_FLIGHT, n / dt, n / dc, (unsigned long long)bad,
           keys ? "true" : "false", machine);
    fflush(stdout);
    /* drain the replies still in flight, then stop the server */
    for (; received < sent; received++) {
        wire_msg_t m;
        if (wire_recv(dealer, &m, 5000) == 1) wire_msg_close(&m);
    }
    replay_server_stop(server);
    pthread_join(th, NULL);
    replay_server_free(server);
    zmq_close(push);
    zmq_close(dealer);
    zmq_ctx_term(ctx);
    for (int i = 0; i < n_eps; i++) free(packed[i]);
    free(packed);
    free(len);
}

int main(int argc, char **argv) {
    const char *env_name = argc > 1 ? argv[1] : "ant";
    env_spec_t spec;
    char err[256];
    if (env_spec_lookup(env_name, &spec, err, sizeof err) != 0) {
        fprintf(stderr, "bench-replay: %s\n", err);
        return 1;
    }
    describe_machine();
    rng_t rng;
    rng_seed(&rng, 123, 0);
    enum { N_EPS = 64 };
    static episode_t eps[N_EPS];
    for (int i = 0; i < N_EPS; i++) make_episode(&eps[i], &spec, &rng);
    bench_inproc(&spec, eps, N_EPS);
    bench_zmq(&spec, eps, N_EPS, NULL);
    /* the same over CURVE (fresh keys in a temporary directory), for its cost */
    char keys[] = "/tmp/bench-replay-keys-XXXXXX";
    const char *names[] = {"server", "learner"};
    if (!mkdtemp(keys)) {
        fprintf(stderr, "bench-replay: cannot make a key directory\n");
        return 1;
    }
    for (int k = 0; k < 2; k++)
        if (curve_keygen(keys, names[k], err, sizeof err) != 0) {
            fprintf(stderr, "bench-replay: %s\n", err);
            return 1;
        }
    bench_zmq(&spec, eps, N_EPS, keys);
    char path[sizeof keys + 32];
    const char *files[] = {"server.key", "server.pub", "learner.key", "learner.pub",
                           "allowed_clients"};
    for (int k = 0; k < 5; k++) {
        snprintf(path, sizeof path, "%s/%s", keys, files[k]);
        unlink(path);
    }
    rmdir(keys);
    for (int i = 0; i < N_EPS; i++) {
        free(eps[i].obs);
        free(eps[i].ag);
        free(eps[i].act);
    }
    return 0;
}
