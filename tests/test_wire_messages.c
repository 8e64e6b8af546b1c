/* Wire layer: every message round-trips; truncated, wrong-dims, NaN, oversized, wrong-env and
 * wrong-version messages are refused with a reason; multipart send/receive over inproc. */
#include "testutil.h"
#include "wire.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const wire_dims_t dims = {"box2d", 2, 2, 2, 100};
static char err[512];

enum { T = 3 };
static float obs[(T + 1) * 2], ag[(T + 1) * 2], act[T * 2], goal[2];

static Odac__Episode make_episode(void) {
    Odac__Episode e = ODAC__EPISODE__INIT;
    for (int i = 0; i < (T + 1) * 2; i++) obs[i] = ag[i] = 0.5f * (float)i;
    for (int i = 0; i < T * 2; i++) act[i] = -0.25f * (float)i;
    goal[0] = 3.5f;
    goal[1] = 2.0f;
    e.protocol_version = WIRE_PROTOCOL_VERSION;
    e.actor_id = 7;
    e.episode_id = 42;
    e.policy_version = 9;
    e.env_name = "box2d";
    e.length = T;
    e.n_observations = (T + 1) * 2;
    e.observations = obs;
    e.n_achieved_goals = (T + 1) * 2;
    e.achieved_goals = ag;
    e.n_actions = T * 2;
    e.actions = act;
    e.n_desired_goal = 2;
    e.desired_goal = goal;
    return e;
}

static size_t pack(const ProtobufCMessage *m, uint8_t **out) {
    size_t n = protobuf_c_message_get_packed_size(m);
    *out = malloc(n + 1);
    protobuf_c_message_pack(m, *out);
    return n;
}

static wire_reject_t decode_episode_reason(const Odac__Episode *e) {
    uint8_t *buf;
    size_t n = pack(&e->base, &buf);
    wire_reject_t reason = WIRE_OK;
    Odac__Episode *got = wire_decode_episode(buf, n, &dims, &reason, err, sizeof err);
    if (got) odac__episode__free_unpacked(got, NULL);
    free(buf);
    return reason;
}

static void test_episode_round_trip_and_rejections(void) {
    Odac__Episode e = make_episode();
    uint8_t *buf;
    size_t n = pack(&e.base, &buf);
    wire_reject_t reason;
    Odac__Episode *got = wire_decode_episode(buf, n, &dims, &reason, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(got);
    CU_ASSERT_EQUAL(got->length, T);
    CU_ASSERT_EQUAL(got->episode_id, 42);
    CU_ASSERT_EQUAL(memcmp(got->observations, obs, sizeof obs), 0);
    CU_ASSERT_EQUAL(memcmp(got->actions, act, sizeof act), 0);
    odac__episode__free_unpacked(got, NULL);

    /* Every truncation of the bytes is refused or decodes to something the checks refuse. */
    for (size_t cut = 0; cut < n; cut++) {
        got = wire_decode_episode(buf, cut, &dims, &reason, err, sizeof err);
        CU_ASSERT_PTR_NULL(got);
        if (got) odac__episode__free_unpacked(got, NULL);
    }
    free(buf);

    e = make_episode();
    e.n_actions = T * 2 - 1;
    CU_ASSERT_EQUAL(decode_episode_reason(&e), WIRE_REJECT_DIMS);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "actions"));
    e = make_episode();
    e.length = 101;
    CU_ASSERT_EQUAL(decode_episode_reason(&e), WIRE_REJECT_LENGTH);
    e = make_episode();
    e.length = 0;
    CU_ASSERT_EQUAL(decode_episode_reason(&e), WIRE_REJECT_LENGTH);
    e = make_episode();
    obs[3] = NAN;
    CU_ASSERT_EQUAL(decode_episode_reason(&e), WIRE_REJECT_NONFINITE);
    e = make_episode();
    goal[1] = INFINITY;
    CU_ASSERT_EQUAL(decode_episode_reason(&e), WIRE_REJECT_NONFINITE);
    e = make_episode();
    e.protocol_version = 2;
    CU_ASSERT_EQUAL(decode_episode_reason(&e), WIRE_REJECT_VERSION);
    e = make_episode();
    e.env_name = "ant";
    CU_ASSERT_EQUAL(decode_episode_reason(&e), WIRE_REJECT_ENV);
    CU_ASSERT_STRING_EQUAL(wire_reject_name(WIRE_REJECT_ENV), "env");

    uint8_t junk[16] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    CU_ASSERT_PTR_NULL(wire_decode_episode(junk, sizeof junk, &dims, &reason, err, sizeof err));
    CU_ASSERT_EQUAL(reason, WIRE_REJECT_DECODE);
    CU_ASSERT_PTR_NULL(
        wire_decode_episode(junk, WIRE_MAX_MESSAGE_BYTES + 1u, &dims, &reason, err, sizeof err));
    CU_ASSERT_EQUAL(reason, WIRE_REJECT_OVERSIZED);
}

static void test_sample_messages(void) {
    Odac__SampleRequest req = ODAC__SAMPLE_REQUEST__INIT;
    req.protocol_version = WIRE_PROTOCOL_VERSION;
    req.request_id = 5;
    req.batch_size = 256;
    uint8_t *buf;
    size_t n = pack(&req.base, &buf);
    wire_reject_t reason;
    Odac__SampleRequest *r = wire_decode_sample_request(buf, n, &reason, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_EQUAL(r->request_id, 5);
    CU_ASSERT_EQUAL(r->batch_size, 256);
    odac__sample_request__free_unpacked(r, NULL);
    free(buf);
    req.batch_size = WIRE_MAX_BATCH + 1;
    n = pack(&req.base, &buf);
    CU_ASSERT_PTR_NULL(wire_decode_sample_request(buf, n, &reason, err, sizeof err));
    CU_ASSERT_EQUAL(reason, WIRE_REJECT_OVERSIZED);
    free(buf);
    /* The learner's rate-limiter ratio: finite, in [0, WIRE_MAX_SAMPLES_PER_INSERT]. */
    req.batch_size = 256;
    const struct {
        double spi;
        int ok;
        wire_reject_t reason;
    } ratios[] = {{512, 1, 0},
                  {WIRE_MAX_SAMPLES_PER_INSERT, 1, 0},
                  {NAN, 0, WIRE_REJECT_NONFINITE},
                  {INFINITY, 0, WIRE_REJECT_NONFINITE},
                  {-1, 0, WIRE_REJECT_OVERSIZED},
                  {WIRE_MAX_SAMPLES_PER_INSERT * 2, 0, WIRE_REJECT_OVERSIZED}};
    for (size_t i = 0; i < sizeof ratios / sizeof ratios[0]; i++) {
        req.samples_per_insert = ratios[i].spi;
        n = pack(&req.base, &buf);
        r = wire_decode_sample_request(buf, n, &reason, err, sizeof err);
        CU_ASSERT_EQUAL(r != NULL, ratios[i].ok);
        if (r) {
            CU_ASSERT_EQUAL(r->samples_per_insert, ratios[i].spi);
            odac__sample_request__free_unpacked(r, NULL);
        } else {
            CU_ASSERT_EQUAL(reason, ratios[i].reason);
            CU_ASSERT(strstr(err, "samples per insert") != NULL);
        }
        free(buf);
    }
    req.samples_per_insert = 0;

    enum { B = 4 };
    float o[B * 2], a[B * 2], o2[B * 2], g1[B * 2], g2[B * 2], g[B * 2];
    for (int i = 0; i < B * 2; i++) o[i] = a[i] = o2[i] = g1[i] = g2[i] = g[i] = (float)i;
    Odac__ShardStats stats = ODAC__SHARD_STATS__INIT;
    stats.protocol_version = WIRE_PROTOCOL_VERSION;
    stats.size_transitions = 77;
    Odac__SampleBatch b = ODAC__SAMPLE_BATCH__INIT;
    b.protocol_version = WIRE_PROTOCOL_VERSION;
    b.batch_size = B;
    b.n_observations = b.n_actions = b.n_next_observations = B * 2;
    b.n_achieved_goals = b.n_next_achieved_goals = b.n_goals = B * 2;
    b.observations = o;
    b.actions = a;
    b.next_observations = o2;
    b.achieved_goals = g1;
    b.next_achieved_goals = g2;
    b.goals = g;
    b.stats = &stats;
    n = pack(&b.base, &buf);
    Odac__SampleBatch *got = wire_decode_sample_batch(buf, n, &dims, &reason, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(got);
    CU_ASSERT_EQUAL(got->stats->size_transitions, 77);
    CU_ASSERT_EQUAL(memcmp(got->goals, g, sizeof g), 0);
    odac__sample_batch__free_unpacked(got, NULL);
    free(buf);
    b.n_goals = B * 2 - 2;
    n = pack(&b.base, &buf);
    CU_ASSERT_PTR_NULL(wire_decode_sample_batch(buf, n, &dims, &reason, err, sizeof err));
    CU_ASSERT_EQUAL(reason, WIRE_REJECT_DIMS);
    free(buf);

    n = pack(&stats.base, &buf);
    Odac__ShardStats *s = wire_decode_shard_stats(buf, n, &reason, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_EQUAL(s->size_transitions, 77);
    odac__shard_stats__free_unpacked(s, NULL);
    free(buf);
}

static void test_weights_and_stats(void) {
    /* Policy 4 -> 3 -> 4 (obs 2 + goal 2 in, 2 * action 2 out). */
    Odac__LayerShape l0 = ODAC__LAYER_SHAPE__INIT, l1 = ODAC__LAYER_SHAPE__INIT;
    l0.rows = 4;
    l0.cols = 3;
    l1.rows = 3;
    l1.cols = 4;
    Odac__LayerShape *layers[2] = {&l0, &l1};
    float data[4 * 3 + 3 + 3 * 4 + 4];
    for (size_t i = 0; i < sizeof data / sizeof *data; i++) data[i] = 0.01f * (float)i;
    Odac__PolicyWeights w = ODAC__POLICY_WEIGHTS__INIT;
    w.protocol_version = WIRE_PROTOCOL_VERSION;
    w.version = 12;
    w.env_name = "box2d";
    w.n_layers = 2;
    w.layers = layers;
    w.n_data = sizeof data / sizeof *data;
    w.data = data;
    uint8_t *buf;
    size_t n = pack(&w.base, &buf);
    wire_reject_t reason;
    Odac__PolicyWeights *got = wire_decode_policy_weights(buf, n, &dims, &reason, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(got);
    CU_ASSERT_EQUAL(got->version, 12);
    CU_ASSERT_EQUAL(memcmp(got->data, data, sizeof data), 0);
    odac__policy_weights__free_unpacked(got, NULL);
    free(buf);
    l1.rows = 2; /* does not chain */
    n = pack(&w.base, &buf);
    CU_ASSERT_PTR_NULL(wire_decode_policy_weights(buf, n, &dims, &reason, err, sizeof err));
    CU_ASSERT_EQUAL(reason, WIRE_REJECT_DIMS);
    free(buf);
    l1.rows = 3;
    w.n_data--;
    n = pack(&w.base, &buf);
    CU_ASSERT_PTR_NULL(wire_decode_policy_weights(buf, n, &dims, &reason, err, sizeof err));
    CU_ASSERT_EQUAL(reason, WIRE_REJECT_DIMS);
    free(buf);
    w.n_data++;

    /* The normaliser and exploration the weights carry: accepted when they fit, else refused. */
    float obs_mean[2] = {0.1f, -3.0f}, obs_std[2] = {0.5f, 2.0f};
    float goal_mean[2] = {0.0f, 1.0f}, goal_std[2] = {1.0f, 0.02f};
    w.n_obs_mean = w.n_obs_std = w.n_goal_mean = w.n_goal_std = 2;
    w.obs_mean = obs_mean, w.obs_std = obs_std, w.goal_mean = goal_mean, w.goal_std = goal_std;
    w.norm_clip = 5.0f;
    w.explore_random_eps = 0.3f;
    w.explore_action_noise = 0.2f;
    n = pack(&w.base, &buf);
    got = wire_decode_policy_weights(buf, n, &dims, &reason, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(got);
    CU_ASSERT_EQUAL(got->goal_std[1], 0.02f);
    CU_ASSERT_EQUAL(got->explore_random_eps, 0.3f);
    odac__policy_weights__free_unpacked(got, NULL);
    free(buf);
    struct {
        float *field, bad;
        const char *names;
    } bads[] = {{&obs_std[1], 0.0f, "obs_std"},
                {&goal_std[0], -1.0f, "goal_std"},
                {&obs_mean[0], NAN, "obs_mean"},
                {&w.norm_clip, 0.0f, "norm_clip"},
                {&w.explore_random_eps, 1.5f, "exploration"},
                {&w.explore_action_noise, -0.1f, "exploration"}};
    for (size_t k = 0; k < sizeof bads / sizeof bads[0]; k++) {
        float keep = *bads[k].field;
        *bads[k].field = bads[k].bad;
        n = pack(&w.base, &buf);
        CU_ASSERT_PTR_NULL(wire_decode_policy_weights(buf, n, &dims, &reason, err, sizeof err));
        CU_ASSERT_PTR_NOT_NULL(strstr(err, bads[k].names));
        free(buf);
        *bads[k].field = keep;
    }
    w.n_goal_std = 1; /* a length that does not fit the goal */
    n = pack(&w.base, &buf);
    CU_ASSERT_PTR_NULL(wire_decode_policy_weights(buf, n, &dims, &reason, err, sizeof err));
    CU_ASSERT_EQUAL(reason, WIRE_REJECT_DIMS);
    free(buf);

    Odac__EvalReport ev = ODAC__EVAL_REPORT__INIT;
    ev.episodes = 5;
    ev.final_distance_mean = 1.5f;
    ev.success_rate = 0.4f;
    Odac__ActorStats st = ODAC__ACTOR_STATS__INIT;
    st.protocol_version = WIRE_PROTOCOL_VERSION;
    st.actor_id = 3;
    st.env_steps = 1000;
    st.eval = &ev;
    n = pack(&st.base, &buf);
    Odac__ActorStats *gs = wire_decode_actor_stats(buf, n, &reason, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(gs);
    CU_ASSERT_EQUAL(gs->env_steps, 1000);
    CU_ASSERT_DOUBLE_EQUAL(gs->eval->final_distance_mean, 1.5, 1e-6);
    odac__actor_stats__free_unpacked(gs, NULL);
    free(buf);
    ev.final_distance_mean = NAN;
    n = pack(&st.base, &buf);
    CU_ASSERT_PTR_NULL(wire_decode_actor_stats(buf, n, &reason, err, sizeof err));
    CU_ASSERT_EQUAL(reason, WIRE_REJECT_NONFINITE);
    free(buf);
    ev.final_distance_mean = 1.5f;

    /* The env's diagnostics ride with the evaluation: up to WIRE_MAX_EVAL_DIAG finite values. */
    float diag[WIRE_MAX_EVAL_DIAG + 1] = {0.25f, 0.5f, 0.0f, 1.0f, 2.0f};
    ev.n_diag_mean = 2;
    ev.diag_mean = diag;
    n = pack(&st.base, &buf);
    gs = wire_decode_actor_stats(buf, n, &reason, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(gs);
    CU_ASSERT_EQUAL_FATAL(gs->eval->n_diag_mean, 2);
    CU_ASSERT_DOUBLE_EQUAL(gs->eval->diag_mean[1], 0.5, 1e-6);
    odac__actor_stats__free_unpacked(gs, NULL);
    free(buf);
    ev.n_diag_mean = WIRE_MAX_EVAL_DIAG + 1;
    n = pack(&st.base, &buf);
    CU_ASSERT_PTR_NULL(wire_decode_actor_stats(buf, n, &reason, err, sizeof err));
    CU_ASSERT_EQUAL(reason, WIRE_REJECT_DIMS);
    free(buf);
    ev.n_diag_mean = 2;
    diag[0] = INFINITY;
    n = pack(&st.base, &buf);
    CU_ASSERT_PTR_NULL(wire_decode_actor_stats(buf, n, &reason, err, sizeof err));
    CU_ASSERT_EQUAL(reason, WIRE_REJECT_NONFINITE);
    free(buf);
    ev.n_diag_mean = 0;
    ev.diag_mean = NULL;

    Odac__EnvSpec spec = ODAC__ENV_SPEC__INIT;
    spec.protocol_version = WIRE_PROTOCOL_VERSION;
    spec.env_name = "box2d";
    spec.obs_dim = spec.goal_dim = spec.action_dim = 2;
    spec.horizon = 100;
    spec.action_low = -1;
    spec.action_high = 1;
    n = pack(&spec.base, &buf);
    Odac__EnvSpec *gspec = wire_decode_env_spec(buf, n, &reason, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(gspec);
    CU_ASSERT_STRING_EQUAL(gspec->env_name, "box2d");
    odac__env_spec__free_unpacked(gspec, NULL);
    free(buf);
    spec.action_high = -2;
    n = pack(&spec.base, &buf);
    CU_ASSERT_PTR_NULL(wire_decode_env_spec(buf, n, &reason, err, sizeof err));
    free(buf);
}

static void test_multipart_over_inproc(void) {
    void *ctx = zmq_ctx_new();
    void *router = wire_socket(ctx, ZMQ_ROUTER, "inproc://wire-test", 1, 0, err, sizeof err);
    void *dealer = wire_socket(ctx, ZMQ_DEALER, "inproc://wire-test", 0, 0, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(router);
    CU_ASSERT_PTR_NOT_NULL_FATAL(dealer);
    CU_ASSERT_PTR_NULL(wire_socket(ctx, ZMQ_PULL, "bogus://x", 1, 0, err, sizeof err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "bogus://x"));

    Odac__SampleRequest req = ODAC__SAMPLE_REQUEST__INIT;
    req.protocol_version = WIRE_PROTOCOL_VERSION;
    req.request_id = 99;
    req.batch_size = 8;
    CU_ASSERT_EQUAL(wire_send(dealer, NULL, WIRE_TAG_SAMPLE_REQUEST, &req.base, 0), 0);
    wire_msg_t m;
    CU_ASSERT_EQUAL_FATAL(wire_recv(router, &m, 2000), 1);
    CU_ASSERT_EQUAL_FATAL(m.n_parts, 3); /* identity, tag, payload */
    char tag[WIRE_TAG_MAX];
    CU_ASSERT_STRING_EQUAL(wire_msg_tag(&m, 1, tag), WIRE_TAG_SAMPLE_REQUEST);
    wire_reject_t reason;
    Odac__SampleRequest *r = wire_decode_sample_request(wire_msg_data(&m, 2), wire_msg_size(&m, 2),
                                                        &reason, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_EQUAL(r->request_id, 99);
    odac__sample_request__free_unpacked(r, NULL);
    /* Reply routed back by identity. */
    Odac__ShardStats stats = ODAC__SHARD_STATS__INIT;
    stats.protocol_version = WIRE_PROTOCOL_VERSION;
    stats.shard_id = 4;
    CU_ASSERT_EQUAL(wire_send(router, &m.part[0], WIRE_TAG_SHARD_STATS, &stats.base, 0), 0);
    wire_msg_close(&m);
    wire_msg_t reply;
    CU_ASSERT_EQUAL_FATAL(wire_recv(dealer, &reply, 2000), 1);
    CU_ASSERT_EQUAL_FATAL(reply.n_parts, 2);
    Odac__ShardStats *s = wire_decode_shard_stats(
        wire_msg_data(&reply, 1), wire_msg_size(&reply, 1), &reason, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_EQUAL(s->shard_id, 4);
    odac__shard_stats__free_unpacked(s, NULL);
    wire_msg_close(&reply);
    /* Nothing pending: a zero timeout returns at once with 0. */
    CU_ASSERT_EQUAL(wire_recv(dealer, &reply, 0), 0);
    zmq_close(router);
    zmq_close(dealer);
    zmq_ctx_term(ctx);
}

int main(void) {
    const test_case_t cases[] = {
        {"episode round trip and rejections", test_episode_round_trip_and_rejections},
        {"sample request, batch and stats", test_sample_messages},
        {"weights, actor stats, env spec", test_weights_and_stats},
        {"multipart over inproc", test_multipart_over_inproc},
        {NULL, NULL}};
    return test_run_suite("wire", cases);
}
