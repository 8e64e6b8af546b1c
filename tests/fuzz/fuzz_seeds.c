/* fuzz_seeds: writes the committed seed corpus of every harness (tests/fuzz/corpus/<harness>/)
 * from valid messages and checkpoints built in code, plus a few near misses. Usage:
 *   fuzz_seeds DIR   (run by nothing automatically; rerun it when a message or format changes) */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz_util.h"

static const char *out_dir;

static void put(const char *harness, const char *name, const void *data, size_t len) {
    char path[1024];
    if (mkdir(out_dir, 0755) != 0 && errno != EEXIST) abort();
    snprintf(path, sizeof path, "%s/%s", out_dir, harness);
    if (mkdir(path, 0755) != 0 && errno != EEXIST) abort();
    snprintf(path, sizeof path, "%s/%s/%s", out_dir, harness, name);
    fuzz_write(path, data, len);
}

static void put_msg(const char *harness, const char *name, const ProtobufCMessage *m) {
    size_t n = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf) abort();
    protobuf_c_message_pack(m, buf);
    put(harness, name, buf, n);
    free(buf);
}

/* A file's bytes with a mode byte in front (see fuzz_learner_ckpt.c; mode 1 drops the header),
 * or alone (mode -1). */
static void put_ckpt(const char *harness, const char *name, const char *path, int mode) {
    FILE *f = fopen(path, "rb");
    if (!f) abort();
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc((size_t)n + 1);
    if (!buf || fread(buf + 1, 1, (size_t)n, f) != (size_t)n) abort();
    fclose(f);
    buf[0] = (uint8_t)mode;
    if (mode == 1) {
        buf[CKPT_HEADER_BYTES] = 1;
        put(harness, name, buf + CKPT_HEADER_BYTES, (size_t)n + 1 - CKPT_HEADER_BYTES);
    } else if (mode < 0) {
        put(harness, name, buf + 1, (size_t)n);
    } else {
        put(harness, name, buf, (size_t)n + 1);
    }
    free(buf);
}

static float values[4096];

static void episode_seeds(const wire_dims_t *d, replay_shard_t *shard) {
    for (uint32_t T = 1; T <= d->horizon; T += 2) {
        Odac__Episode ep;
        odac__episode__init(&ep);
        ep.protocol_version = WIRE_PROTOCOL_VERSION;
        ep.actor_id = 1, ep.episode_id = T, ep.policy_version = 10 * T;
        ep.env_name = (char *)d->env_name;
        ep.length = T;
        ep.n_observations = (T + 1) * d->obs_dim, ep.observations = values;
        ep.n_achieved_goals = (T + 1) * d->goal_dim, ep.achieved_goals = values + 100;
        ep.n_actions = T * d->action_dim, ep.actions = values + 200;
        ep.n_desired_goal = d->goal_dim, ep.desired_goal = values + 300;
        char name[32], err[256];
        snprintf(name, sizeof name, "valid-T%u", T);
        put_msg("fuzz_wire_episode", name, &ep.base);
        if (shard && replay_shard_insert(shard, &ep, err, sizeof err) != 0) abort();
        if (T == 1) {
            ep.env_name = "ant";
            put_msg("fuzz_wire_episode", "other-env", &ep.base);
        }
    }
}

static void wire_seeds(const wire_dims_t *d, replay_shard_t *shard) {
    Odac__SampleRequest rq;
    odac__sample_request__init(&rq);
    rq.protocol_version = WIRE_PROTOCOL_VERSION, rq.request_id = 7, rq.batch_size = 256;
    put_msg("fuzz_wire_sample_request", "valid", &rq.base);
    rq.samples_per_insert = 512; /* a learner at 2 updates per env step */
    put_msg("fuzz_wire_sample_request", "with-ratio", &rq.base);
    rq.samples_per_insert = 0;
    rq.batch_size = 0;
    put_msg("fuzz_wire_sample_request", "zero-batch", &rq.base);

    Odac__ShardStats st;
    replay_shard_stats(shard, &st);
    put_msg("fuzz_wire_shard_stats", "valid", &st.base);

    Odac__SampleBatch b;
    odac__sample_batch__init(&b);
    uint32_t B = 2;
    b.protocol_version = WIRE_PROTOCOL_VERSION, b.request_id = 7, b.batch_size = B;
    b.n_observations = B * d->obs_dim, b.observations = values;
    b.n_actions = B * d->action_dim, b.actions = values + 10;
    b.n_next_observations = B * d->obs_dim, b.next_observations = values + 20;
    b.n_achieved_goals = B * d->goal_dim, b.achieved_goals = values + 30;
    b.n_next_achieved_goals = B * d->goal_dim, b.next_achieved_goals = values + 40;
    b.n_goals = B * d->goal_dim, b.goals = values + 50;
    b.stats = &st;
    put_msg("fuzz_wire_sample_batch", "valid-with-stats", &b.base);

    Odac__LayerShape l0, l1;
    odac__layer_shape__init(&l0);
    odac__layer_shape__init(&l1);
    l0.rows = d->obs_dim + d->goal_dim, l0.cols = 4;
    l1.rows = 4, l1.cols = 2 * d->action_dim;
    Odac__LayerShape *layers[2] = {&l0, &l1};
    Odac__PolicyWeights w;
    odac__policy_weights__init(&w);
    w.protocol_version = WIRE_PROTOCOL_VERSION, w.version = 3, w.env_name = (char *)d->env_name;
    w.n_layers = 2, w.layers = layers;
    w.n_data = l0.rows * l0.cols + l0.cols + l1.rows * l1.cols + l1.cols, w.data = values;
    w.env_steps = 1000;
    put_msg("fuzz_wire_policy_weights", "valid", &w.base);
    float ones[8] = {1, 1, 1, 1, 1, 1, 1, 1};
    w.n_obs_mean = d->obs_dim, w.obs_mean = values;
    w.n_obs_std = d->obs_dim, w.obs_std = ones;
    w.n_goal_mean = d->goal_dim, w.goal_mean = values;
    w.n_goal_std = d->goal_dim, w.goal_std = ones;
    w.norm_clip = 5, w.explore_random_eps = 0.3f, w.explore_action_noise = 0.2f;
    w.explore_random_steps = 1000, w.run_finished = 1;
    put_msg("fuzz_wire_policy_weights", "valid-normalised", &w.base);

    Odac__EvalReport ev;
    odac__eval_report__init(&ev);
    ev.episodes = 10, ev.final_distance_mean = 0.5f, ev.final_distance_std = 0.1f;
    ev.success_rate = 0.4f, ev.policy_version = 3;
    Odac__ActorStats as;
    odac__actor_stats__init(&as);
    as.protocol_version = WIRE_PROTOCOL_VERSION, as.actor_id = 2, as.env_steps = 500;
    as.episodes = 10, as.policy_version = 3, as.policy_lag = 1;
    put_msg("fuzz_wire_actor_stats", "valid", &as.base);
    as.eval = &ev;
    put_msg("fuzz_wire_actor_stats", "valid-eval", &as.base);

    Odac__EnvSpec es;
    odac__env_spec__init(&es);
    es.protocol_version = WIRE_PROTOCOL_VERSION, es.env_name = "box2d";
    es.obs_dim = d->obs_dim, es.goal_dim = d->goal_dim, es.action_dim = d->action_dim;
    es.horizon = d->horizon, es.action_low = -1, es.action_high = 1, es.success_threshold = 0.6f;
    put_msg("fuzz_wire_env_spec", "valid", &es.base);

    Odac__SampleError se;
    odac__sample_error__init(&se);
    se.protocol_version = WIRE_PROTOCOL_VERSION, se.request_id = 9;
    se.code = ODAC__SAMPLE_ERROR__CODE__REFUSED,
    se.message = "batch size 8192 over --max-batch 4096";
    put_msg("fuzz_wire_sample_error", "refused", &se.base);
    se.code = ODAC__SAMPLE_ERROR__CODE__EXPIRED, se.message = "";
    put_msg("fuzz_wire_sample_error", "expired", &se.base);

    Odac__StatusRequest sr;
    odac__status_request__init(&sr);
    sr.protocol_version = WIRE_PROTOCOL_VERSION;
    put_msg("fuzz_wire_status_request", "valid", &sr.base);

    /* A learner's answer: two shards, three actors, two progress columns, an evaluation. */
    static char *names[] = {"alpha", "critic_loss"}, *eps[] = {"tcp://a:5561", "tcp://b:5563"};
    static double pv[] = {0.25, 1.5}, secs[] = {0.1, 0.2, 0.3};
    static uint64_t su[] = {100, 200}, au[] = {1, 2, 3};
    static uint32_t inflight[] = {4, 0}, ids[] = {0, 1, 7};
    static protobuf_c_boolean silent[] = {0, 1};
    static float diag[] = {0.5f};
    Odac__Status status;
    odac__status__init(&status);
    status.protocol_version = WIRE_PROTOCOL_VERSION, status.run_id = "run",
    status.env_name = "box2d";
    status.variant = "odac", status.updates = 1000, status.env_steps = 2000,
    status.max_env_steps = 300000;
    status.publish_version = 10, status.best_eval = 0.5;
    ev.n_diag_mean = 1, ev.diag_mean = diag;
    status.last_eval = &ev;
    status.n_progress_names = status.n_progress_values = 2, status.progress_names = names;
    status.progress_values = pv;
    status.n_shard_endpoints = status.n_shard_size_transitions =
        status.n_shard_inserted_transitions = 2;
    status.n_shard_batches = status.n_shard_sample_waits = status.n_shard_requests_timed_out = 2;
    status.n_shard_requests_refused = status.n_shard_in_flight = status.n_shard_silent = 2;
    status.shard_endpoints = eps,
    status.shard_size_transitions = status.shard_inserted_transitions = su;
    status.shard_batches = status.shard_sample_waits = status.shard_requests_timed_out = su;
    status.shard_requests_refused = su, status.shard_in_flight = inflight,
    status.shard_silent = silent;
    status.n_actor_ids = status.n_actor_env_steps = status.n_actor_episodes = 3;
    status.n_actor_policy_versions = status.n_actor_policy_lags = status.n_actor_episodes_dropped =
        3;
    status.n_actor_seconds_since_stats = 3;
    status.actor_ids = ids,
    status.actor_env_steps = status.actor_episodes = status.actor_policy_versions = au;
    status.actor_policy_lags = status.actor_episodes_dropped = au,
    status.actor_seconds_since_stats = secs;
    put_msg("fuzz_wire_status", "valid", &status.base);
    status.last_eval = NULL, status.n_progress_names = status.n_progress_values = 0;
    status.n_actor_ids = status.n_actor_env_steps = status.n_actor_episodes = 0;
    status.n_actor_policy_versions = status.n_actor_policy_lags = status.n_actor_episodes_dropped =
        0;
    status.n_actor_seconds_since_stats = 0;
    put_msg("fuzz_wire_status", "valid-no-actors", &status.base);
}

static void ckpt_seeds(replay_shard_t *shard) {
    char path[512], err[512];
    const char *dir = fuzz_dir();
    snprintf(path, sizeof path, "%s/f.ckpt", dir);
    uint8_t payload[300];
    for (size_t i = 0; i < sizeof payload; i++) payload[i] = (uint8_t)(i * 7);
    fuzz_write_ckpt(path, 0x5a5a5546u, 1, payload, sizeof payload);
    put_ckpt("fuzz_ckpt_file", "valid", path, -1);
    fuzz_write_ckpt(path, 0x5a5a5546u, 1, payload, 0);
    put_ckpt("fuzz_ckpt_file", "empty-payload", path, -1);

    learner_config_t c = fuzz_learner_config();
    learner_t *L = learner_new(&c, err, sizeof err);
    if (!L) abort();
    struct {
        double wall_time_s;
        uint64_t env_steps, publish_version;
        double best_eval;
    } rec = {12.5, 3000, 4, 0.7};
    snprintf(path, sizeof path, "%s/learner.ckpt", dir);
    if (learner_save_with(L, path, &rec, sizeof rec, err, sizeof err) != 0) abort();
    put_ckpt("fuzz_learner_ckpt", "valid-file", path, 0);
    put_ckpt("fuzz_learner_ckpt", "valid-payload", path, 1);
    learner_free(L);

    if (replay_shard_save(shard, dir, err, sizeof err) != 0) abort();
    replay_shard_checkpoint_path(shard, dir, path, sizeof path);
    put_ckpt("fuzz_replay_ckpt", "valid-file", path, 0);
    put_ckpt("fuzz_replay_ckpt", "valid-payload", path, 1);
}

static void config_seeds(void) {
    const char *configs[][2] = {
        {"valid", "{\"env\": \"box2d\", \"seed\": 3, \"gamma\": 0.98, \"hidden\": \"64,64\", "
                  "\"resume\": true, \"batch-size\": 512}"},
        {"variant-json", "{\"env\":\"fetch-push\",\"variant\":\"her-sparse\",\"seed\":1,"
                         "\"lr-policy\":0.0003,\"normalize\":false,\"target-distance\":-1,"
                         "\"checkpoint-every\":20000}"},
        {"unknown-key", "{\"envv\": \"box2d\"}"},
        {"wrong-type", "{\"hidden\": 64, \"seed\": \"x\"}"},
        {"nested", "{\"env\": {\"a\": [1, 2, {\"b\": null}]}}"},
        {"trailing", "{\"seed\": 1} junk"},
    };
    for (size_t i = 0; i < sizeof configs / sizeof *configs; i++)
        put("fuzz_config", configs[i][0], configs[i][1], strlen(configs[i][1]));
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    out_dir = argv[1];
    for (size_t i = 0; i < sizeof values / sizeof *values; i++)
        values[i] = 0.01f * (float)(i % 200) - 1.0f;
    wire_dims_t d = fuzz_dims();
    char err[512];
    replay_shard_config_t sc = fuzz_shard_config();
    replay_shard_t *shard = replay_shard_new(&sc, err, sizeof err);
    if (!shard) abort();
    episode_seeds(&d, shard);
    wire_seeds(&d, shard);
    ckpt_seeds(shard);
    config_seeds();
    replay_shard_free(shard);
    const char *scratch[] = {"f.ckpt", "learner.ckpt", "replay-shard-0.ckpt"};
    char path[600];
    for (size_t i = 0; i < sizeof scratch / sizeof *scratch; i++) {
        snprintf(path, sizeof path, "%s/%s", fuzz_dir(), scratch[i]);
        remove(path);
    }
    rmdir(fuzz_dir());
    return 0;
}
