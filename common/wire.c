/* wire: validated protobuf decoding and ZeroMQ multipart send/receive. */
#include "wire.h"
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "curve.h"
#include "log.h"

static const char *const reject_names[WIRE_REJECT_COUNT_] = {
    "ok", "frames", "oversized", "decode", "version", "env", "dims", "nonfinite", "length"};

const char *wire_reject_name(wire_reject_t reason) {
    return (unsigned)reason < WIRE_REJECT_COUNT_ ? reject_names[reason] : "unknown";
}

#define REJECT(code, ...)                                                                          \
    do {                                                                                           \
        *reason = (code);                                                                          \
        snprintf(err, errcap, __VA_ARGS__);                                                        \
        goto fail;                                                                                 \
    } while (0)

static int all_finite(const float *x, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return 0;
    return 1;
}

/* An evaluation report, wherever one travels (actor stats, the status reply): finite, in range,
 * at most WIRE_MAX_EVAL_DIAG diagnostics. 0, or -1 with *reason and err set ("WHAT: ..."). */
static int check_eval_report(const Odac__EvalReport *e, const char *what, wire_reject_t *reason,
                             char *err, size_t errcap) {
    if (!isfinite(e->final_distance_mean) || !isfinite(e->final_distance_std) ||
        !isfinite(e->success_rate))
        REJECT(WIRE_REJECT_NONFINITE, "%s: evaluation holds NaN or infinity", what);
    if (e->success_rate < 0 || e->success_rate > 1 || e->final_distance_mean < 0)
        REJECT(WIRE_REJECT_DIMS, "%s: evaluation values out of range", what);
    if (e->n_diag_mean > WIRE_MAX_EVAL_DIAG)
        REJECT(WIRE_REJECT_DIMS, "%s: evaluation has %zu diagnostics (at most %d)", what,
               e->n_diag_mean, WIRE_MAX_EVAL_DIAG);
    for (size_t d = 0; d < e->n_diag_mean; d++)
        if (!isfinite(e->diag_mean[d]))
            REJECT(WIRE_REJECT_NONFINITE, "%s: evaluation diagnostic %zu is %g", what, d,
                   (double)e->diag_mean[d]);
    return 0;
fail:
    return -1;
}

size_t wire_max_episode_bytes(const wire_dims_t *d) {
    size_t floats = (size_t)(d->horizon + 1) * (d->obs_dim + d->goal_dim) +
                    (size_t)d->horizon * d->action_dim + d->goal_dim;
    size_t n = 4 * floats + 1024; /* packed floats, four length prefixes, scalars, env name */
    return n < WIRE_MAX_MESSAGE_BYTES ? n : WIRE_MAX_MESSAGE_BYTES;
}

size_t wire_max_batch_bytes(const wire_dims_t *d, uint32_t batch_size) {
    size_t floats = (size_t)batch_size * (2 * d->obs_dim + d->action_dim + 3 * d->goal_dim);
    size_t n = 4 * floats + 1024 + WIRE_MAX_SHARD_STATS_BYTES;
    return n < WIRE_MAX_MESSAGE_BYTES ? n : WIRE_MAX_MESSAGE_BYTES;
}

/* ---- pre-scan of the wire format ---- */

static int read_varint(const uint8_t *p, size_t len, size_t *pos, uint64_t *out) {
    uint64_t v = 0;
    for (int i = 0; i < 10; i++) {
        if (*pos >= len) return -1;
        uint8_t b = p[(*pos)++];
        v |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            *out = v;
            return 0;
        }
    }
    return -1; /* longer than any 64-bit varint */
}

/* The wire type a field of this type is written with (unpacked). */
static int wire_type_of(ProtobufCType t) {
    switch (t) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_BOOL:
    case PROTOBUF_C_TYPE_ENUM:
        return 0;
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_DOUBLE:
        return 1;
    case PROTOBUF_C_TYPE_STRING:
    case PROTOBUF_C_TYPE_BYTES:
    case PROTOBUF_C_TYPE_MESSAGE:
        return 2;
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_FLOAT:
        return 5;
    }
    return -1;
}

typedef struct {
    char *err;
    size_t errcap;
    unsigned submessages;
} prescan_t;

#define SCAN_FAIL(...)                                                                             \
    do {                                                                                           \
        snprintf(ps->err, ps->errcap, __VA_ARGS__);                                                \
        return -1;                                                                                 \
    } while (0)

static int prescan(prescan_t *ps, const ProtobufCMessageDescriptor *d, const uint8_t *p, size_t len,
                   int depth) {
    size_t pos = 0;
    while (pos < len) {
        uint64_t key, v;
        if (read_varint(p, len, &pos, &key) != 0) SCAN_FAIL("%s: truncated field key", d->name);
        uint64_t number = key >> 3;
        int wt = (int)(key & 7);
        const ProtobufCFieldDescriptor *f =
            number >= 1 && number <= 536870911u
                ? protobuf_c_message_descriptor_get_field(d, (unsigned)number)
                : NULL;
        if (!f) SCAN_FAIL("%s: unknown field number %llu", d->name, (unsigned long long)number);
        int want = wire_type_of(f->type);
        int packed = f->label == PROTOBUF_C_LABEL_REPEATED && want != 2 && wt == 2;
        if (wt != want && !packed)
            SCAN_FAIL("%s.%s: wire type %d, expected %d", d->name, f->name, wt, want);
        switch (wt) {
        case 0:
            if (read_varint(p, len, &pos, &v) != 0)
                SCAN_FAIL("%s.%s: truncated varint", d->name, f->name);
            break;
        case 1:
        case 5: {
            size_t n = wt == 1 ? 8 : 4;
            if (len - pos < n) SCAN_FAIL("%s.%s: truncated value", d->name, f->name);
            pos += n;
            break;
        }
        case 2: {
            if (read_varint(p, len, &pos, &v) != 0 || v > len - pos)
                SCAN_FAIL("%s.%s: length runs past the end", d->name, f->name);
            const uint8_t *q = p + pos;
            size_t n = (size_t)v;
            if (packed && want != 0) {
                if (n % (want == 1 ? 8 : 4) != 0)
                    SCAN_FAIL("%s.%s: packed length %zu is not whole values", d->name, f->name, n);
            } else if (packed) {
                for (size_t at = 0; at < n;)
                    if (read_varint(q, n, &at, &v) != 0)
                        SCAN_FAIL("%s.%s: truncated packed varint", d->name, f->name);
            } else if (f->type == PROTOBUF_C_TYPE_STRING) {
                if (memchr(q, 0, n)) SCAN_FAIL("%s.%s: string holds a NUL byte", d->name, f->name);
            } else if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
                if (depth >= WIRE_MAX_DEPTH)
                    SCAN_FAIL("%s.%s: nested deeper than %d", d->name, f->name, WIRE_MAX_DEPTH);
                if (++ps->submessages > WIRE_MAX_SUBMESSAGES)
                    SCAN_FAIL("%s: more than %d embedded messages", d->name, WIRE_MAX_SUBMESSAGES);
                if (prescan(ps, f->descriptor, q, n, depth + 1) != 0) return -1;
            }
            pos += n;
            break;
        }
        default:
            SCAN_FAIL("%s.%s: wire type %d is not supported", d->name, f->name, wt);
        }
    }
    return 0;
}

int wire_prescan(const ProtobufCMessageDescriptor *desc, const void *data, size_t len, char *err,
                 size_t errcap) {
    prescan_t ps = {err, errcap, 0};
    if (len && !data) {
        snprintf(err, errcap, "%s: no data", desc->name);
        return -1;
    }
    return prescan(&ps, desc, data, len, 0);
}

/* ---- rejection counters ---- */

static double mono_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void wire_rejects_note(wire_rejects_t *r, wire_reject_t reason, const char *what, const char *msg) {
    if ((unsigned)reason >= WIRE_REJECT_COUNT_) reason = WIRE_REJECT_DECODE;
    r->count[reason]++;
    double t = mono_s();
    if (r->last_log[reason] > 0 && t - r->last_log[reason] < 1.0) {
        r->unlogged[reason]++;
        return;
    }
    if (r->unlogged[reason])
        log_warn("rejected %s (%s; %llu in all, %llu not logged since the last line): %s", what,
                 wire_reject_name(reason), (unsigned long long)r->count[reason],
                 (unsigned long long)r->unlogged[reason], msg);
    else
        log_warn("rejected %s (%s; %llu in all): %s", what, wire_reject_name(reason),
                 (unsigned long long)r->count[reason], msg);
    r->unlogged[reason] = 0;
    r->last_log[reason] = t;
}

const char *wire_rejects_format(const wire_rejects_t *r, char *out, size_t cap) {
    size_t off = 0;
    out[0] = '\0';
    for (int i = 1; i < WIRE_REJECT_COUNT_ && off < cap; i++)
        off +=
            (size_t)snprintf(out + off, cap - off, "%s%s=%llu", i > 1 ? "," : "",
                             wire_reject_name((wire_reject_t)i), (unsigned long long)r->count[i]);
    return out;
}

/* The first checks every decoder makes: size and the pre-scan before unpacking, then the unpack
 * itself and the protocol version. */
#define UNPACK(type_fn, desc, limit, what)                                                         \
    *reason = WIRE_OK;                                                                             \
    if (len > (size_t)(limit))                                                                     \
        REJECT(WIRE_REJECT_OVERSIZED, what ": %zu bytes exceeds the %zu-byte limit", len,          \
               (size_t)(limit));                                                                   \
    if (wire_prescan(&(desc), data, len, err, errcap) != 0) {                                      \
        *reason = WIRE_REJECT_DECODE;                                                              \
        goto fail;                                                                                 \
    }                                                                                              \
    msg = type_fn(NULL, len, data);                                                                \
    if (!msg) REJECT(WIRE_REJECT_DECODE, what ": not a valid protobuf message");                   \
    if (msg->protocol_version != WIRE_PROTOCOL_VERSION)                                            \
        REJECT(WIRE_REJECT_VERSION, what ": protocol version %u, expected %u",                     \
               msg->protocol_version, WIRE_PROTOCOL_VERSION);

#define CHECK_LEN(field, want, what)                                                               \
    if (msg->n_##field != (size_t)(want))                                                          \
        REJECT(WIRE_REJECT_DIMS, what ": " #field " has %zu floats, expected %zu", msg->n_##field, \
               (size_t)(want));

#define CHECK_FINITE(field, what)                                                                  \
    if (!all_finite(msg->field, msg->n_##field))                                                   \
        REJECT(WIRE_REJECT_NONFINITE, what ": " #field " holds NaN or infinity");

Odac__Episode *wire_decode_episode(const void *data, size_t len, const wire_dims_t *dims,
                                   wire_reject_t *reason, char *err, size_t errcap) {
    Odac__Episode *msg = NULL;
    UNPACK(odac__episode__unpack, odac__episode__descriptor, wire_max_episode_bytes(dims),
           "episode")
    if (strcmp(msg->env_name, dims->env_name) != 0)
        REJECT(WIRE_REJECT_ENV, "episode: env '%.40s', this run is '%s'", msg->env_name,
               dims->env_name);
    size_t T = msg->length;
    if (T < 1 || T > dims->horizon)
        REJECT(WIRE_REJECT_LENGTH, "episode: length %zu outside [1, %u]", T, dims->horizon);
    CHECK_LEN(observations, (T + 1) * dims->obs_dim, "episode")
    CHECK_LEN(achieved_goals, (T + 1) * dims->goal_dim, "episode")
    CHECK_LEN(actions, T * dims->action_dim, "episode")
    CHECK_LEN(desired_goal, dims->goal_dim, "episode")
    CHECK_FINITE(observations, "episode")
    CHECK_FINITE(achieved_goals, "episode")
    CHECK_FINITE(actions, "episode")
    CHECK_FINITE(desired_goal, "episode")
    return msg;
fail:
    if (msg) odac__episode__free_unpacked(msg, NULL);
    return NULL;
}

Odac__SampleRequest *wire_decode_sample_request(const void *data, size_t len, wire_reject_t *reason,
                                                char *err, size_t errcap) {
    Odac__SampleRequest *msg = NULL;
    UNPACK(odac__sample_request__unpack, odac__sample_request__descriptor, WIRE_MAX_REQUEST_BYTES,
           "sample request")
    if (msg->batch_size < 1 || msg->batch_size > WIRE_MAX_BATCH)
        REJECT(WIRE_REJECT_OVERSIZED, "sample request: batch size %u outside [1, %u]",
               msg->batch_size, WIRE_MAX_BATCH);
    if (!isfinite(msg->samples_per_insert))
        REJECT(WIRE_REJECT_NONFINITE, "sample request: samples per insert is %g",
               msg->samples_per_insert);
    if (msg->samples_per_insert < 0 || msg->samples_per_insert > WIRE_MAX_SAMPLES_PER_INSERT)
        REJECT(WIRE_REJECT_OVERSIZED, "sample request: samples per insert %g outside [0, %g]",
               msg->samples_per_insert, WIRE_MAX_SAMPLES_PER_INSERT);
    return msg;
fail:
    if (msg) odac__sample_request__free_unpacked(msg, NULL);
    return NULL;
}

Odac__SampleBatch *wire_decode_sample_batch(const void *data, size_t len, const wire_dims_t *dims,
                                            wire_reject_t *reason, char *err, size_t errcap) {
    Odac__SampleBatch *msg = NULL;
    UNPACK(odac__sample_batch__unpack, odac__sample_batch__descriptor,
           wire_max_batch_bytes(dims, WIRE_MAX_BATCH), "sample batch")
    size_t B = msg->batch_size;
    if (B < 1 || B > WIRE_MAX_BATCH)
        REJECT(WIRE_REJECT_OVERSIZED, "sample batch: batch size %zu outside [1, %u]", B,
               WIRE_MAX_BATCH);
    CHECK_LEN(observations, B * dims->obs_dim, "sample batch")
    CHECK_LEN(actions, B * dims->action_dim, "sample batch")
    CHECK_LEN(next_observations, B * dims->obs_dim, "sample batch")
    CHECK_LEN(achieved_goals, B * dims->goal_dim, "sample batch")
    CHECK_LEN(next_achieved_goals, B * dims->goal_dim, "sample batch")
    CHECK_LEN(goals, B * dims->goal_dim, "sample batch")
    CHECK_FINITE(observations, "sample batch")
    CHECK_FINITE(actions, "sample batch")
    CHECK_FINITE(next_observations, "sample batch")
    CHECK_FINITE(achieved_goals, "sample batch")
    CHECK_FINITE(next_achieved_goals, "sample batch")
    CHECK_FINITE(goals, "sample batch")
    if (msg->stats && msg->stats->protocol_version != WIRE_PROTOCOL_VERSION)
        REJECT(WIRE_REJECT_VERSION, "sample batch: stats protocol version %u",
               msg->stats->protocol_version);
    return msg;
fail:
    if (msg) odac__sample_batch__free_unpacked(msg, NULL);
    return NULL;
}

Odac__ShardStats *wire_decode_shard_stats(const void *data, size_t len, wire_reject_t *reason,
                                          char *err, size_t errcap) {
    Odac__ShardStats *msg = NULL;
    UNPACK(odac__shard_stats__unpack, odac__shard_stats__descriptor, WIRE_MAX_SHARD_STATS_BYTES,
           "shard stats")
    return msg;
fail:
    if (msg) odac__shard_stats__free_unpacked(msg, NULL);
    return NULL;
}

Odac__PolicyWeights *wire_decode_policy_weights(const void *data, size_t len,
                                                const wire_dims_t *dims, wire_reject_t *reason,
                                                char *err, size_t errcap) {
    Odac__PolicyWeights *msg = NULL;
    UNPACK(odac__policy_weights__unpack, odac__policy_weights__descriptor, WIRE_MAX_MESSAGE_BYTES,
           "policy weights")
    if (strcmp(msg->env_name, dims->env_name) != 0)
        REJECT(WIRE_REJECT_ENV, "policy weights: env '%.40s', this run is '%s'", msg->env_name,
               dims->env_name);
    if (msg->n_layers < 1 || msg->n_layers > 8)
        REJECT(WIRE_REJECT_DIMS, "policy weights: %zu layers, expected 1..8", msg->n_layers);
    size_t want = 0;
    for (size_t l = 0; l < msg->n_layers; l++) {
        const Odac__LayerShape *s = msg->layers[l];
        uint32_t want_rows = l == 0 ? dims->obs_dim + dims->goal_dim : msg->layers[l - 1]->cols;
        if (s->rows != want_rows || s->cols < 1 || s->cols > 65536)
            REJECT(WIRE_REJECT_DIMS, "policy weights: layer %zu is %ux%u, expected %u rows", l,
                   s->rows, s->cols, want_rows);
        want += (size_t)s->rows * s->cols + s->cols;
    }
    if (msg->layers[msg->n_layers - 1]->cols != 2 * dims->action_dim)
        REJECT(WIRE_REJECT_DIMS, "policy weights: output width %u, expected %u",
               msg->layers[msg->n_layers - 1]->cols, 2 * dims->action_dim);
    CHECK_LEN(data, want, "policy weights")
    CHECK_FINITE(data, "policy weights")
    if (msg->n_obs_mean || msg->n_obs_std || msg->n_goal_mean || msg->n_goal_std) {
        CHECK_LEN(obs_mean, dims->obs_dim, "policy weights normaliser")
        CHECK_LEN(obs_std, dims->obs_dim, "policy weights normaliser")
        CHECK_LEN(goal_mean, dims->goal_dim, "policy weights normaliser")
        CHECK_LEN(goal_std, dims->goal_dim, "policy weights normaliser")
        CHECK_FINITE(obs_mean, "policy weights normaliser")
        CHECK_FINITE(goal_mean, "policy weights normaliser")
        for (size_t i = 0; i < msg->n_obs_std; i++)
            if (!(msg->obs_std[i] > 0.0f) || !isfinite(msg->obs_std[i]))
                REJECT(WIRE_REJECT_DIMS, "policy weights: obs_std[%zu] = %g (must be positive)", i,
                       (double)msg->obs_std[i]);
        for (size_t i = 0; i < msg->n_goal_std; i++)
            if (!(msg->goal_std[i] > 0.0f) || !isfinite(msg->goal_std[i]))
                REJECT(WIRE_REJECT_DIMS, "policy weights: goal_std[%zu] = %g (must be positive)", i,
                       (double)msg->goal_std[i]);
        if (!(msg->norm_clip > 0.0f) || !isfinite(msg->norm_clip))
            REJECT(WIRE_REJECT_DIMS, "policy weights: norm_clip = %g (must be positive)",
                   (double)msg->norm_clip);
    }
    if (!(msg->explore_random_eps >= 0.0f && msg->explore_random_eps <= 1.0f) ||
        !(msg->explore_action_noise >= 0.0f && msg->explore_action_noise <= 10.0f))
        REJECT(WIRE_REJECT_DIMS, "policy weights: exploration (eps %g, noise %g) out of range",
               (double)msg->explore_random_eps, (double)msg->explore_action_noise);
    return msg;
fail:
    if (msg) odac__policy_weights__free_unpacked(msg, NULL);
    return NULL;
}

Odac__ActorStats *wire_decode_actor_stats(const void *data, size_t len, wire_reject_t *reason,
                                          char *err, size_t errcap) {
    Odac__ActorStats *msg = NULL;
    UNPACK(odac__actor_stats__unpack, odac__actor_stats__descriptor, WIRE_MAX_ACTOR_STATS_BYTES,
           "actor stats")
    if (msg->run_token && strlen(msg->run_token) > WIRE_MAX_TOKEN)
        REJECT(WIRE_REJECT_OVERSIZED, "actor stats: run token over %d bytes", WIRE_MAX_TOKEN);
    if (msg->eval && check_eval_report(msg->eval, "actor stats", reason, err, errcap) != 0)
        goto fail;
    return msg;
fail:
    if (msg) odac__actor_stats__free_unpacked(msg, NULL);
    return NULL;
}

Odac__SampleError *wire_decode_sample_error(const void *data, size_t len, wire_reject_t *reason,
                                            char *err, size_t errcap) {
    Odac__SampleError *msg = NULL;
    UNPACK(odac__sample_error__unpack, odac__sample_error__descriptor, WIRE_MAX_SAMPLE_ERROR_BYTES,
           "sample error")
    return msg;
fail:
    if (msg) odac__sample_error__free_unpacked(msg, NULL);
    return NULL;
}

Odac__StatusRequest *wire_decode_status_request(const void *data, size_t len, wire_reject_t *reason,
                                                char *err, size_t errcap) {
    Odac__StatusRequest *msg = NULL;
    UNPACK(odac__status_request__unpack, odac__status_request__descriptor, WIRE_MAX_REQUEST_BYTES,
           "status request")
    return msg;
fail:
    if (msg) odac__status_request__free_unpacked(msg, NULL);
    return NULL;
}

static int string_ok(const char *s) {
    return !s || strlen(s) <= WIRE_MAX_STATUS_STRING;
}

Odac__Status *wire_decode_status(const void *data, size_t len, wire_reject_t *reason, char *err,
                                 size_t errcap) {
    Odac__Status *msg = NULL;
    UNPACK(odac__status__unpack, odac__status__descriptor, WIRE_MAX_STATUS_BYTES, "status")
    if (!string_ok(msg->run_id) || !string_ok(msg->env_name) || !string_ok(msg->variant))
        REJECT(WIRE_REJECT_OVERSIZED, "status: a name over %d bytes", WIRE_MAX_STATUS_STRING);
    size_t cols = msg->n_progress_names, shards = msg->n_shard_endpoints, actors = msg->n_actor_ids;
    if (cols > WIRE_MAX_STATUS_COLUMNS || shards > WIRE_MAX_STATUS_SHARDS ||
        actors > WIRE_MAX_STATUS_ACTORS)
        REJECT(WIRE_REJECT_OVERSIZED,
               "status: %zu progress columns, %zu shards, %zu actors (at most %d, %d, %d)", cols,
               shards, actors, WIRE_MAX_STATUS_COLUMNS, WIRE_MAX_STATUS_SHARDS,
               WIRE_MAX_STATUS_ACTORS);
    if (msg->n_progress_values != cols)
        REJECT(WIRE_REJECT_DIMS, "status: %zu progress names, %zu values", cols,
               msg->n_progress_values);
    for (size_t i = 0; i < cols; i++)
        if (!string_ok(msg->progress_names[i]))
            REJECT(WIRE_REJECT_OVERSIZED, "status: progress column %zu's name is too long", i);
    const size_t shard_lists[] = {msg->n_shard_size_transitions,
                                  msg->n_shard_inserted_transitions,
                                  msg->n_shard_batches,
                                  msg->n_shard_sample_waits,
                                  msg->n_shard_requests_timed_out,
                                  msg->n_shard_requests_refused,
                                  msg->n_shard_in_flight,
                                  msg->n_shard_silent};
    for (size_t k = 0; k < sizeof shard_lists / sizeof *shard_lists; k++)
        if (shard_lists[k] != shards)
            REJECT(WIRE_REJECT_DIMS, "status: shard list %zu has %zu entries, %zu endpoints", k,
                   shard_lists[k], shards);
    for (size_t i = 0; i < shards; i++)
        if (!string_ok(msg->shard_endpoints[i]))
            REJECT(WIRE_REJECT_OVERSIZED, "status: shard endpoint %zu is too long", i);
    const size_t actor_lists[] = {msg->n_actor_env_steps,        msg->n_actor_episodes,
                                  msg->n_actor_policy_versions,  msg->n_actor_policy_lags,
                                  msg->n_actor_episodes_dropped, msg->n_actor_seconds_since_stats};
    for (size_t k = 0; k < sizeof actor_lists / sizeof *actor_lists; k++)
        if (actor_lists[k] != actors)
            REJECT(WIRE_REJECT_DIMS, "status: actor list %zu has %zu entries, %zu actors", k,
                   actor_lists[k], actors);
    if (msg->last_eval && check_eval_report(msg->last_eval, "status", reason, err, errcap) != 0)
        goto fail;
    return msg;
fail:
    if (msg) odac__status__free_unpacked(msg, NULL);
    return NULL;
}

Odac__EnvSpec *wire_decode_env_spec(const void *data, size_t len, wire_reject_t *reason, char *err,
                                    size_t errcap) {
    Odac__EnvSpec *msg = NULL;
    UNPACK(odac__env_spec__unpack, odac__env_spec__descriptor, WIRE_MAX_REQUEST_BYTES, "env spec")
    if (msg->obs_dim < 1 || msg->goal_dim < 1 || msg->action_dim < 1 || msg->horizon < 1 ||
        msg->obs_dim > 4096 || msg->goal_dim > 4096 || msg->action_dim > 4096 ||
        msg->horizon > 100000)
        REJECT(WIRE_REJECT_DIMS, "env spec: dims out of range");
    if (!isfinite(msg->action_low) || !isfinite(msg->action_high) ||
        !(msg->action_low < msg->action_high))
        REJECT(WIRE_REJECT_DIMS, "env spec: bad action bounds");
    return msg;
fail:
    if (msg) odac__env_spec__free_unpacked(msg, NULL);
    return NULL;
}

/* ---- ZeroMQ ---- */

void *wire_socket(void *ctx, int type, const char *endpoint, int bind, int hwm, char *err,
                  size_t errcap) {
    return wire_socket_buffered(ctx, type, endpoint, bind, hwm, 0, err, errcap);
}

void *wire_socket_buffered(void *ctx, int type, const char *endpoint, int bind, int hwm,
                           int kernel_buf, char *err, size_t errcap) {
    return wire_socket_limited(ctx, type, endpoint, bind, hwm, kernel_buf, 0, err, errcap);
}

void *wire_socket_limited(void *ctx, int type, const char *endpoint, int bind, int hwm,
                          int kernel_buf, size_t max_frame, char *err, size_t errcap) {
    void *s = zmq_socket(ctx, type);
    if (!s) {
        snprintf(err, errcap, "zmq_socket: %s", zmq_strerror(zmq_errno()));
        return NULL;
    }
    int linger = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    if (hwm > 0) {
        zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof hwm);
        zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof hwm);
    }
    if (kernel_buf > 0) {
        zmq_setsockopt(s, ZMQ_SNDBUF, &kernel_buf, sizeof kernel_buf);
        zmq_setsockopt(s, ZMQ_RCVBUF, &kernel_buf, sizeof kernel_buf);
    }
    /* A larger frame drops the peer before it is buffered. The limit also applies to CURVE's
     * handshake commands (INITIATE is about 300 bytes), hence the floor. */
    if (max_frame && max_frame < WIRE_MIN_FRAME_LIMIT) max_frame = WIRE_MIN_FRAME_LIMIT;
    int64_t max_size = (int64_t)(max_frame ? max_frame : WIRE_MAX_MESSAGE_BYTES + 4096);
    zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &max_size, sizeof max_size);
    if (curve_apply(s, bind, err, errcap) != 0) {
        zmq_close(s);
        return NULL;
    }
    int rc = bind ? zmq_bind(s, endpoint) : zmq_connect(s, endpoint);
    if (rc != 0) {
        snprintf(err, errcap, "%s %s: %s", bind ? "bind" : "connect", endpoint,
                 zmq_strerror(zmq_errno()));
        zmq_close(s);
        return NULL;
    }
    return s;
}

static void free_packed(void *data, void *hint) {
    (void)hint;
    free(data);
}

static int send_packed(void *sock, const ProtobufCMessage *msg, int flags) {
    size_t n = protobuf_c_message_get_packed_size(msg);
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf) {
        errno = ENOMEM;
        return -1;
    }
    protobuf_c_message_pack(msg, buf);
    zmq_msg_t part;
    zmq_msg_init_data(&part, buf, n, free_packed, NULL); /* ZeroMQ owns buf from here */
    if (zmq_msg_send(&part, sock, flags) < 0) {
        int e = zmq_errno();
        zmq_msg_close(&part);
        errno = e;
        return -1;
    }
    return 0;
}

int wire_send(void *sock, const zmq_msg_t *identity, const char *tag, const ProtobufCMessage *msg,
              int flags) {
    if (identity) {
        zmq_msg_t id;
        zmq_msg_init(&id);
        zmq_msg_copy(&id, (zmq_msg_t *)identity);
        if (zmq_msg_send(&id, sock, flags | ZMQ_SNDMORE) < 0) {
            int e = zmq_errno();
            zmq_msg_close(&id);
            errno = e;
            return -1;
        }
    }
    /* Once the first part is queued the rest cannot block: ZeroMQ sends multipart atomically. */
    if (zmq_send(sock, tag, strlen(tag), flags | ZMQ_SNDMORE) < 0) return -1;
    return send_packed(sock, msg, flags);
}

int wire_send_single(void *sock, const ProtobufCMessage *msg, int flags) {
    return send_packed(sock, msg, flags);
}

int wire_recv(void *sock, wire_msg_t *m, int timeout_ms) {
    m->n_parts = 0;
    m->dropped_parts = 0;
    if (timeout_ms != -1) {
        zmq_pollitem_t item = {sock, 0, ZMQ_POLLIN, 0};
        int rc = zmq_poll(&item, 1, timeout_ms);
        if (rc < 0) return -1;
        if (rc == 0) return 0;
    }
    for (;;) {
        zmq_msg_t part;
        zmq_msg_init(&part);
        int flags = m->n_parts == 0 && timeout_ms != -1 ? ZMQ_DONTWAIT : 0;
        if (zmq_msg_recv(&part, sock, flags) < 0) {
            int e = zmq_errno();
            zmq_msg_close(&part);
            if (m->n_parts == 0 && e == EAGAIN) return 0;
            wire_msg_close(m);
            errno = e;
            return -1;
        }
        int more = zmq_msg_more(&part);
        if (m->n_parts < WIRE_MAX_PARTS) {
            m->part[m->n_parts++] = part;
        } else {
            m->dropped_parts++;
            zmq_msg_close(&part);
        }
        if (!more) return 1;
    }
}

void wire_msg_close(wire_msg_t *m) {
    for (int i = 0; i < m->n_parts; i++) zmq_msg_close(&m->part[i]);
    m->n_parts = 0;
}

const char *wire_msg_tag(const wire_msg_t *m, int i, char *buf) {
    buf[0] = '\0';
    if (i < 0 || i >= m->n_parts) return buf;
    zmq_msg_t *p = (zmq_msg_t *)&m->part[i];
    size_t n = zmq_msg_size(p);
    if (n > WIRE_TAG_MAX - 1) n = WIRE_TAG_MAX - 1;
    memcpy(buf, zmq_msg_data(p), n);
    buf[n] = '\0';
    return buf;
}
