/* Wire limits: the pre-scan refuses unknown fields, wrong wire types, truncation, NUL bytes in
 * strings and too many or too deep embedded messages before protobuf-c allocates; decoders
 * refuse frames over each message type's size limit; the frame limits follow the dims; the
 * socket limit drops a peer's oversized frame; rejection counters count and format. */
#include "testutil.h"
#include "wire.h"
#include <stdlib.h>
#include <string.h>

static const wire_dims_t dims = {"box2d", 2, 2, 2, 100};
static char err[512];

static size_t pack(const ProtobufCMessage *m, uint8_t *out, size_t cap) {
    size_t n = protobuf_c_message_get_packed_size(m);
    CU_ASSERT_FATAL(n <= cap);
    protobuf_c_message_pack(m, out);
    return n;
}

static void test_prescan_accepts_real_messages(void) {
    uint8_t buf[4096];
    Odac__ActorStats st = ODAC__ACTOR_STATS__INIT;
    Odac__EvalReport ev = ODAC__EVAL_REPORT__INIT;
    st.protocol_version = WIRE_PROTOCOL_VERSION;
    st.actor_id = 3;
    st.env_steps = 123456789;
    st.run_token = "abc";
    ev.episodes = 5;
    ev.final_distance_mean = 0.25f;
    st.eval = &ev;
    size_t n = pack(&st.base, buf, sizeof buf);
    CU_ASSERT_EQUAL(wire_prescan(&odac__actor_stats__descriptor, buf, n, err, sizeof err), 0);
    wire_reject_t reason;
    Odac__ActorStats *got = wire_decode_actor_stats(buf, n, &reason, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(got);
    CU_ASSERT_STRING_EQUAL(got->run_token, "abc");
    odac__actor_stats__free_unpacked(got, NULL);
    /* packed floats and an embedded message with repeated submessages */
    float x[6] = {1, 2, 3, 4, 5, 6};
    Odac__SampleBatch b = ODAC__SAMPLE_BATCH__INIT;
    Odac__ShardStats ss = ODAC__SHARD_STATS__INIT;
    Odac__RejectCount rc = ODAC__REJECT_COUNT__INIT, *rcs[2] = {&rc, &rc};
    rc.reason = "decode";
    rc.count = 4;
    ss.protocol_version = WIRE_PROTOCOL_VERSION;
    ss.n_rejected = 2;
    ss.rejected = rcs;
    b.protocol_version = WIRE_PROTOCOL_VERSION;
    b.batch_size = 1;
    b.n_observations = b.n_next_observations = b.n_actions = 2;
    b.n_achieved_goals = b.n_next_achieved_goals = b.n_goals = 2;
    b.observations = b.next_observations = b.actions = x;
    b.achieved_goals = b.next_achieved_goals = b.goals = x;
    b.stats = &ss;
    n = pack(&b.base, buf, sizeof buf);
    CU_ASSERT_EQUAL(wire_prescan(&odac__sample_batch__descriptor, buf, n, err, sizeof err), 0);
    Odac__SampleBatch *gb = wire_decode_sample_batch(buf, n, &dims, &reason, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL(gb);
    if (gb) odac__sample_batch__free_unpacked(gb, NULL);
    /* an empty message is valid (all defaults) */
    CU_ASSERT_EQUAL(wire_prescan(&odac__sample_request__descriptor, buf, 0, err, sizeof err), 0);
}

static int refused(const ProtobufCMessageDescriptor *d, const uint8_t *p, size_t n,
                   const char *why) {
    err[0] = '\0';
    int rc = wire_prescan(d, p, n, err, sizeof err);
    if (rc == 0 || !strstr(err, why)) {
        fprintf(stderr, "expected a refusal naming '%s', got rc %d '%s'\n", why, rc, err);
        return 0;
    }
    return 1;
}

static void test_prescan_refuses(void) {
    const ProtobufCMessageDescriptor *req = &odac__sample_request__descriptor;
    /* field 7 does not exist in SampleRequest (1..5) */
    const uint8_t unknown[] = {0x08, 0x01, 0x38, 0x01};
    CU_ASSERT(refused(req, unknown, sizeof unknown, "unknown field number 7"));
    /* the memory bomb: many tiny unknown fields */
    static uint8_t bomb[3000];
    for (size_t i = 0; i + 1 < sizeof bomb; i += 2) bomb[i] = 0xf8, bomb[i + 1] = 0x01;
    CU_ASSERT(refused(req, bomb, 2, "unknown field"));
    /* field number 0 and huge numbers */
    const uint8_t zero[] = {0x00, 0x01};
    CU_ASSERT(refused(req, zero, sizeof zero, "unknown field number 0"));
    /* wire type mismatch: batch_size (uint32) sent as length-delimited */
    const uint8_t wt[] = {0x1a, 0x01, 0x00};
    CU_ASSERT(refused(req, wt, sizeof wt, "wire type 2"));
    /* truncated varint, truncated key, length past the end */
    const uint8_t tv[] = {0x18, 0xff, 0xff};
    CU_ASSERT(refused(req, tv, sizeof tv, "truncated varint"));
    const uint8_t tk[] = {0x80};
    CU_ASSERT(refused(req, tk, sizeof tk, "truncated field key"));
    const ProtobufCMessageDescriptor *ep = &odac__episode__descriptor;
    const uint8_t past[] = {0x2a, 0x10, 'b', 'o'};
    CU_ASSERT(refused(ep, past, sizeof past, "past the end"));
    /* groups (wire types 3, 4) and 6, 7 */
    const uint8_t grp[] = {0x0b};
    CU_ASSERT(refused(req, grp, sizeof grp, "wire type 3"));
    /* a string with a NUL byte: "box2d\0junk" as the episode's env name */
    const uint8_t nul[] = {0x2a, 0x0a, 'b', 'o', 'x', '2', 'd', 0, 'j', 'u', 'n', 'k'};
    CU_ASSERT(refused(ep, nul, sizeof nul, "NUL"));
    /* packed floats of a length that is not whole floats */
    const uint8_t pk[] = {0x3a, 0x03, 0, 0, 0};
    CU_ASSERT(refused(ep, pk, sizeof pk, "not whole values"));
    /* an unknown field inside an embedded message (ActorStats.eval = field 8, EvalReport 1..6) */
    const uint8_t inner[] = {0x42, 0x02, 0x38, 0x01};
    CU_ASSERT(refused(&odac__actor_stats__descriptor, inner, sizeof inner, "unknown field"));
    /* too many embedded messages: 65 LayerShapes in PolicyWeights (field 4) */
    static uint8_t many[2 * 65];
    for (int i = 0; i < 65; i++) many[2 * i] = 0x22, many[2 * i + 1] = 0x00;
    CU_ASSERT(refused(&odac__policy_weights__descriptor, many, sizeof many, "embedded"));
    CU_ASSERT_EQUAL(wire_prescan(&odac__policy_weights__descriptor, many, 2 * 64, err, sizeof err),
                    0);
}

static void test_decoders_use_the_prescan_and_limits(void) {
    wire_reject_t reason;
    const uint8_t unknown[] = {0x08, 0x01, 0x28, 0x01};
    CU_ASSERT_PTR_NULL(
        wire_decode_sample_request(unknown, sizeof unknown, &reason, err, sizeof err));
    CU_ASSERT_EQUAL(reason, WIRE_REJECT_DECODE);
    /* an episode named "box2d\0junk" is refused (it used to pass a strcmp) */
    float o[(1 + 1) * 2] = {0}, a[2] = {0}, g[2] = {0};
    Odac__Episode e = ODAC__EPISODE__INIT;
    e.protocol_version = WIRE_PROTOCOL_VERSION;
    e.env_name = "box2dXjunk";
    e.length = 1;
    e.n_observations = e.n_achieved_goals = 4;
    e.observations = e.achieved_goals = o;
    e.n_actions = e.n_desired_goal = 2;
    e.actions = a;
    e.desired_goal = g;
    uint8_t buf[512];
    size_t n = pack(&e.base, buf, sizeof buf);
    uint8_t *x = memchr(buf, 'X', n);
    CU_ASSERT_PTR_NOT_NULL_FATAL(x);
    *x = 0;
    CU_ASSERT_PTR_NULL(wire_decode_episode(buf, n, &dims, &reason, err, sizeof err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "NUL"));
    *x = 'X';
    e.env_name = "box2d";
    n = pack(&e.base, buf, sizeof buf);
    Odac__Episode *ok = wire_decode_episode(buf, n, &dims, &reason, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL(ok);
    if (ok) odac__episode__free_unpacked(ok, NULL);
    /* size limits per type, checked before anything else */
    static uint8_t zeros[1 << 16];
    CU_ASSERT_PTR_NULL(
        wire_decode_sample_request(zeros, WIRE_MAX_REQUEST_BYTES + 1, &reason, err, sizeof err));
    CU_ASSERT_EQUAL(reason, WIRE_REJECT_OVERSIZED);
    CU_ASSERT_PTR_NULL(
        wire_decode_actor_stats(zeros, WIRE_MAX_ACTOR_STATS_BYTES + 1, &reason, err, sizeof err));
    CU_ASSERT_EQUAL(reason, WIRE_REJECT_OVERSIZED);
    size_t emax = wire_max_episode_bytes(&dims);
    CU_ASSERT_PTR_NULL(wire_decode_episode(zeros, emax + 1, &dims, &reason, err, sizeof err));
    CU_ASSERT_EQUAL(reason, WIRE_REJECT_OVERSIZED);
    /* a run token over the limit */
    char token[WIRE_MAX_TOKEN + 2];
    memset(token, 'a', sizeof token - 1);
    token[sizeof token - 1] = '\0';
    Odac__ActorStats st = ODAC__ACTOR_STATS__INIT;
    st.protocol_version = WIRE_PROTOCOL_VERSION;
    st.run_token = token;
    n = pack(&st.base, buf, sizeof buf);
    CU_ASSERT_PTR_NULL(wire_decode_actor_stats(buf, n, &reason, err, sizeof err));
    CU_ASSERT_EQUAL(reason, WIRE_REJECT_OVERSIZED);
}

static void test_limits_follow_the_dims(void) {
    /* The largest real episode of the dims fits its limit; 4 bytes per float dominate it. */
    size_t floats = (size_t)101 * 4 + 100 * 2 + 2;
    CU_ASSERT(wire_max_episode_bytes(&dims) >= 4 * floats + 64);
    CU_ASSERT(wire_max_episode_bytes(&dims) <= 4 * floats + 4096);
    size_t bf = (size_t)256 * (2 * 2 + 2 + 3 * 2);
    CU_ASSERT(wire_max_batch_bytes(&dims, 256) >= 4 * bf + WIRE_MAX_SHARD_STATS_BYTES);
    CU_ASSERT(wire_max_batch_bytes(&dims, 256) < 4 * bf + 8192);
    wire_dims_t huge = {"x", 4096, 4096, 4096, 100000};
    CU_ASSERT_EQUAL(wire_max_episode_bytes(&huge), WIRE_MAX_MESSAGE_BYTES);
    /* A full episode packs within its limit. */
    static float o[101 * 2], ag[101 * 2], a[100 * 2], g[2];
    for (int i = 0; i < 101 * 2; i++) o[i] = ag[i] = 1e30f;
    Odac__Episode e = ODAC__EPISODE__INIT;
    e.protocol_version = WIRE_PROTOCOL_VERSION;
    e.actor_id = 4294967295u;
    e.episode_id = e.policy_version = UINT64_MAX;
    e.env_name = "box2d";
    e.length = 100;
    e.n_observations = e.n_achieved_goals = 202;
    e.observations = o;
    e.achieved_goals = ag;
    e.n_actions = 200;
    e.actions = a;
    e.n_desired_goal = 2;
    e.desired_goal = g;
    CU_ASSERT(protobuf_c_message_get_packed_size(&e.base) <= wire_max_episode_bytes(&dims));
}

static void test_socket_frame_limit(void) {
    void *ctx = zmq_ctx_new();
    char ep[128];
    void *pull =
        wire_socket_limited(ctx, ZMQ_PULL, "tcp://127.0.0.1:*", 1, 4, 0, 1500, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(pull);
    size_t len = sizeof ep;
    zmq_getsockopt(pull, ZMQ_LAST_ENDPOINT, ep, &len);
    void *big = wire_socket(ctx, ZMQ_PUSH, ep, 0, 0, err, sizeof err);
    void *small = wire_socket(ctx, ZMQ_PUSH, ep, 0, 0, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(big);
    CU_ASSERT_PTR_NOT_NULL_FATAL(small);
    static char payload[4000];
    CU_ASSERT_EQUAL(zmq_send(big, payload, sizeof payload, 0), (int)sizeof payload);
    CU_ASSERT_EQUAL(zmq_send(small, payload, 50, 0), 50);
    wire_msg_t m;
    /* Only the small frame arrives; the big one's peer was dropped. */
    CU_ASSERT_EQUAL(wire_recv(pull, &m, 5000), 1);
    CU_ASSERT_EQUAL(m.n_parts, 1);
    if (m.n_parts == 1) CU_ASSERT_EQUAL(wire_msg_size(&m, 0), 50);
    wire_msg_close(&m);
    CU_ASSERT_EQUAL(wire_recv(pull, &m, 300), 0);
    zmq_close(big);
    zmq_close(small);
    zmq_close(pull);
    zmq_ctx_term(ctx);
}

static void test_reject_counters(void) {
    wire_rejects_t r;
    memset(&r, 0, sizeof r);
    for (int i = 0; i < 1000; i++) wire_rejects_note(&r, WIRE_REJECT_DECODE, "test", "junk");
    wire_rejects_note(&r, WIRE_REJECT_OVERSIZED, "test", "big");
    CU_ASSERT_EQUAL(r.count[WIRE_REJECT_DECODE], 1000);
    /* one line logged, the other 999 within the second counted as not logged */
    CU_ASSERT_EQUAL(r.unlogged[WIRE_REJECT_DECODE], 999);
    CU_ASSERT_EQUAL(r.unlogged[WIRE_REJECT_OVERSIZED], 0);
    char out[256];
    wire_rejects_format(&r, out, sizeof out);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "decode=1000"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "oversized=1"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "frames=0"));
}

int main(void) {
    static const test_case_t cases[] = {
        {"the pre-scan accepts real messages", test_prescan_accepts_real_messages},
        {"the pre-scan refuses what protobuf-c would allocate for", test_prescan_refuses},
        {"decoders pre-scan and check their size limit", test_decoders_use_the_prescan_and_limits},
        {"frame limits follow the dims", test_limits_follow_the_dims},
        {"a socket drops a peer's oversized frame", test_socket_frame_limit},
        {"rejections are counted and their log throttled", test_reject_counters},
        {NULL, NULL}};
    return test_run_suite("wire_limits", cases);
}
