/* Wire layer, the status socket's messages: a StatusRequest and a Status with shards, actors, an
 * evaluation and progress columns round-trip; lists of unequal lengths, too many actors, shards or
 * columns, a NaN or out-of-range evaluation, a wrong version, an oversized payload and garbage are
 * refused with a reason. */
#include "testutil.h"
#include "wire.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

static char err[512];

enum { NS = 2, NA = 3, NC = 2 };
static char *names[NC] = {"alpha", "critic_loss"}, *endpoints[NS] = {"tcp://a:1", "tcp://b:2"};
static double values[NC] = {0.25, NAN}, seconds[NA] = {0.1, 0.2, 0.3};
static uint64_t shard_u64[NS] = {100, 200}, actor_u64[NA] = {1, 2, 3};
static uint32_t in_flight[NS] = {4, 0}, ids[NA] = {0, 1, 7};
static protobuf_c_boolean silent[NS] = {0, 1};
static float diag[2] = {0.5f, 0.25f};

static void make_status(Odac__Status *st, Odac__EvalReport *ev) {
    odac__status__init(st);
    odac__eval_report__init(ev);
    st->protocol_version = WIRE_PROTOCOL_VERSION;
    st->run_id = "run";
    st->env_name = "box2d";
    st->variant = "odac";
    st->updates = 12345;
    st->env_steps = 6789;
    st->best_eval = INFINITY;
    ev->episodes = 5;
    ev->final_distance_mean = 1.5f;
    ev->n_diag_mean = 2;
    ev->diag_mean = diag;
    st->last_eval = ev;
    st->n_progress_names = st->n_progress_values = NC;
    st->progress_names = names;
    st->progress_values = values;
    st->n_shard_endpoints = st->n_shard_size_transitions = st->n_shard_inserted_transitions =
        st->n_shard_batches = st->n_shard_sample_waits = st->n_shard_requests_timed_out =
            st->n_shard_requests_refused = st->n_shard_in_flight = st->n_shard_silent = NS;
    st->shard_endpoints = endpoints;
    st->shard_size_transitions = st->shard_inserted_transitions = st->shard_batches =
        st->shard_sample_waits = st->shard_requests_timed_out = st->shard_requests_refused =
            shard_u64;
    st->shard_in_flight = in_flight;
    st->shard_silent = silent;
    st->n_actor_ids = st->n_actor_env_steps = st->n_actor_episodes = st->n_actor_policy_versions =
        st->n_actor_policy_lags = st->n_actor_episodes_dropped = st->n_actor_seconds_since_stats =
            NA;
    st->actor_ids = ids;
    st->actor_env_steps = st->actor_episodes = st->actor_policy_versions = st->actor_policy_lags =
        st->actor_episodes_dropped = actor_u64;
    st->actor_seconds_since_stats = seconds;
}

static wire_reject_t decode_reason(const Odac__Status *st) {
    size_t n = odac__status__get_packed_size(st);
    uint8_t *buf = malloc(n + 1);
    odac__status__pack(st, buf);
    wire_reject_t reason = WIRE_OK;
    Odac__Status *got = wire_decode_status(buf, n, &reason, err, sizeof err);
    if (got) odac__status__free_unpacked(got, NULL);
    free(buf);
    return reason;
}

static void test_round_trip(void) {
    Odac__Status st;
    Odac__EvalReport ev;
    make_status(&st, &ev);
    size_t n = odac__status__get_packed_size(&st);
    uint8_t *buf = malloc(n);
    odac__status__pack(&st, buf);
    wire_reject_t reason;
    Odac__Status *got = wire_decode_status(buf, n, &reason, err, sizeof err);
    free(buf);
    CU_ASSERT_PTR_NOT_NULL_FATAL(got);
    CU_ASSERT_STRING_EQUAL(got->env_name, "box2d");
    CU_ASSERT_EQUAL(got->updates, 12345);
    CU_ASSERT(isinf(got->best_eval));
    CU_ASSERT_EQUAL_FATAL(got->n_actor_ids, NA);
    CU_ASSERT_EQUAL(got->actor_ids[2], 7);
    CU_ASSERT_EQUAL_FATAL(got->n_shard_endpoints, NS);
    CU_ASSERT_STRING_EQUAL(got->shard_endpoints[1], "tcp://b:2");
    CU_ASSERT(got->shard_silent[1] && !got->shard_silent[0]);
    CU_ASSERT_EQUAL_FATAL(got->n_progress_values, NC);
    CU_ASSERT_DOUBLE_EQUAL(got->progress_values[0], 0.25, 0);
    CU_ASSERT(isnan(got->progress_values[1])); /* a nan cell is a legitimate progress value */
    CU_ASSERT_PTR_NOT_NULL_FATAL(got->last_eval);
    CU_ASSERT_EQUAL(got->last_eval->n_diag_mean, 2);
    odac__status__free_unpacked(got, NULL);

    Odac__StatusRequest req = ODAC__STATUS_REQUEST__INIT;
    req.protocol_version = WIRE_PROTOCOL_VERSION;
    uint8_t small[16];
    size_t m = odac__status_request__pack(&req, small);
    Odac__StatusRequest *r = wire_decode_status_request(small, m, &reason, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL(r);
    odac__status_request__free_unpacked(r, NULL);
    req.protocol_version = 99;
    m = odac__status_request__pack(&req, small);
    CU_ASSERT_PTR_NULL(wire_decode_status_request(small, m, &reason, err, sizeof err));
    CU_ASSERT_EQUAL(reason, WIRE_REJECT_VERSION);
    uint8_t big[WIRE_MAX_REQUEST_BYTES + 8] = {0};
    CU_ASSERT_PTR_NULL(wire_decode_status_request(big, sizeof big, &reason, err, sizeof err));
    CU_ASSERT_EQUAL(reason, WIRE_REJECT_OVERSIZED);
}

static void test_refusals(void) {
    Odac__Status st;
    Odac__EvalReport ev;
    make_status(&st, &ev);
    st.n_actor_policy_lags = NA - 1;
    CU_ASSERT_EQUAL(decode_reason(&st), WIRE_REJECT_DIMS);
    make_status(&st, &ev);
    st.n_shard_silent = NS - 1;
    CU_ASSERT_EQUAL(decode_reason(&st), WIRE_REJECT_DIMS);
    make_status(&st, &ev);
    st.n_progress_values = 1;
    CU_ASSERT_EQUAL(decode_reason(&st), WIRE_REJECT_DIMS);
    make_status(&st, &ev);
    st.protocol_version = 2;
    CU_ASSERT_EQUAL(decode_reason(&st), WIRE_REJECT_VERSION);
    make_status(&st, &ev);
    ev.final_distance_mean = NAN;
    CU_ASSERT_EQUAL(decode_reason(&st), WIRE_REJECT_NONFINITE);
    /* The evaluation is checked as in actor stats: in range, finite diagnostics, few enough. */
    make_status(&st, &ev);
    ev.success_rate = 1.5f;
    CU_ASSERT_EQUAL(decode_reason(&st), WIRE_REJECT_DIMS);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "status: evaluation values out of range"));
    make_status(&st, &ev);
    float bad_diag[2] = {0.5f, NAN};
    ev.diag_mean = bad_diag;
    CU_ASSERT_EQUAL(decode_reason(&st), WIRE_REJECT_NONFINITE);
    static float many_diag[WIRE_MAX_EVAL_DIAG + 1];
    make_status(&st, &ev);
    ev.n_diag_mean = WIRE_MAX_EVAL_DIAG + 1;
    ev.diag_mean = many_diag;
    CU_ASSERT_EQUAL(decode_reason(&st), WIRE_REJECT_DIMS);
    make_status(&st, &ev);
    ev.n_diag_mean = 0;
    st.best_eval = NAN; /* only the evaluation must be finite */
    CU_ASSERT_EQUAL(decode_reason(&st), WIRE_OK);

    /* More actors than a status may list (all lists long enough, so only the count is wrong). */
    static uint32_t many_ids[WIRE_MAX_STATUS_ACTORS + 1];
    static uint64_t many_u64[WIRE_MAX_STATUS_ACTORS + 1];
    static double many_s[WIRE_MAX_STATUS_ACTORS + 1];
    make_status(&st, &ev);
    st.n_actor_ids = st.n_actor_env_steps = st.n_actor_episodes = st.n_actor_policy_versions =
        st.n_actor_policy_lags = st.n_actor_episodes_dropped = st.n_actor_seconds_since_stats =
            WIRE_MAX_STATUS_ACTORS + 1;
    st.actor_ids = many_ids;
    st.actor_env_steps = st.actor_episodes = st.actor_policy_versions = st.actor_policy_lags =
        st.actor_episodes_dropped = many_u64;
    st.actor_seconds_since_stats = many_s;
    CU_ASSERT_EQUAL(decode_reason(&st), WIRE_REJECT_OVERSIZED);
    st.n_actor_ids = st.n_actor_env_steps = st.n_actor_episodes = st.n_actor_policy_versions =
        st.n_actor_policy_lags = st.n_actor_episodes_dropped = st.n_actor_seconds_since_stats =
            WIRE_MAX_STATUS_ACTORS;
    CU_ASSERT_EQUAL(decode_reason(&st), WIRE_OK); /* the most a learner lists */

    static char long_name[WIRE_MAX_STATUS_STRING + 2];
    memset(long_name, 'x', sizeof long_name - 1);
    make_status(&st, &ev);
    st.run_id = long_name;
    CU_ASSERT_EQUAL(decode_reason(&st), WIRE_REJECT_OVERSIZED);
    make_status(&st, &ev);
    char *long_names[NC] = {"alpha", long_name};
    st.progress_names = long_names;
    CU_ASSERT_EQUAL(decode_reason(&st), WIRE_REJECT_OVERSIZED);

    wire_reject_t reason;
    uint8_t garbage[64];
    for (size_t i = 0; i < sizeof garbage; i++) garbage[i] = (uint8_t)(0xff - 3 * i);
    CU_ASSERT_PTR_NULL(wire_decode_status(garbage, sizeof garbage, &reason, err, sizeof err));
    CU_ASSERT_EQUAL(reason, WIRE_REJECT_DECODE);
    uint8_t *huge = calloc(WIRE_MAX_STATUS_BYTES + 1, 1);
    CU_ASSERT_PTR_NULL(
        wire_decode_status(huge, WIRE_MAX_STATUS_BYTES + 1, &reason, err, sizeof err));
    CU_ASSERT_EQUAL(reason, WIRE_REJECT_OVERSIZED);
    free(huge);
}

int main(void) {
    const test_case_t cases[] = {
        {"round trip", test_round_trip}, {"refusals", test_refusals}, {NULL, NULL}};
    return test_run_suite("wire_status", cases);
}
