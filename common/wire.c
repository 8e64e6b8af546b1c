/* wire: validated protobuf decoding and ZeroMQ multipart send/receive. */
#include "wire.h"
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* The first checks every decoder makes: size before unpacking, then the unpack itself. */
#define UNPACK(type_fn, what)                                                                      \
    *reason = WIRE_OK;                                                                             \
    if (len > WIRE_MAX_MESSAGE_BYTES)                                                              \
        REJECT(WIRE_REJECT_OVERSIZED, what ": %zu bytes exceeds the %u-byte limit", len,           \
               WIRE_MAX_MESSAGE_BYTES);                                                            \
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
    UNPACK(odac__episode__unpack, "episode")
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
    UNPACK(odac__sample_request__unpack, "sample request")
    if (msg->batch_size < 1 || msg->batch_size > WIRE_MAX_BATCH)
        REJECT(WIRE_REJECT_OVERSIZED, "sample request: batch size %u outside [1, %u]",
               msg->batch_size, WIRE_MAX_BATCH);
    return msg;
fail:
    if (msg) odac__sample_request__free_unpacked(msg, NULL);
    return NULL;
}

Odac__SampleBatch *wire_decode_sample_batch(const void *data, size_t len, const wire_dims_t *dims,
                                            wire_reject_t *reason, char *err, size_t errcap) {
    Odac__SampleBatch *msg = NULL;
    UNPACK(odac__sample_batch__unpack, "sample batch")
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
    UNPACK(odac__shard_stats__unpack, "shard stats")
    return msg;
fail:
    if (msg) odac__shard_stats__free_unpacked(msg, NULL);
    return NULL;
}

Odac__PolicyWeights *wire_decode_policy_weights(const void *data, size_t len,
                                                const wire_dims_t *dims, wire_reject_t *reason,
                                                char *err, size_t errcap) {
    Odac__PolicyWeights *msg = NULL;
    UNPACK(odac__policy_weights__unpack, "policy weights")
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
    UNPACK(odac__actor_stats__unpack, "actor stats")
    if (msg->eval) {
        const Odac__EvalReport *e = msg->eval;
        if (!isfinite(e->final_distance_mean) || !isfinite(e->final_distance_std) ||
            !isfinite(e->success_rate))
            REJECT(WIRE_REJECT_NONFINITE, "actor stats: evaluation holds NaN or infinity");
        if (e->success_rate < 0 || e->success_rate > 1 || e->final_distance_mean < 0)
            REJECT(WIRE_REJECT_DIMS, "actor stats: evaluation values out of range");
    }
    return msg;
fail:
    if (msg) odac__actor_stats__free_unpacked(msg, NULL);
    return NULL;
}

Odac__EnvSpec *wire_decode_env_spec(const void *data, size_t len, wire_reject_t *reason, char *err,
                                    size_t errcap) {
    Odac__EnvSpec *msg = NULL;
    UNPACK(odac__env_spec__unpack, "env spec")
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
    int64_t max_size = (int64_t)WIRE_MAX_MESSAGE_BYTES + 4096; /* larger frames drop the peer */
    zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &max_size, sizeof max_size);
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
