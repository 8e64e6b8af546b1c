/* wire: every message between odac processes. ZeroMQ carries multipart messages
 * [tag][protobuf payload] (a ROUTER socket sees [identity][tag][payload]; the weights PUB/SUB
 * channel sends the payload alone so subscribers can conflate to the latest). Everything received
 * is untrusted: decoders check size, protocol version, env name, every repeated field's length
 * against the run's dims and that floats are finite, and name the reason when they refuse. */
#ifndef ODAC_WIRE_H
#define ODAC_WIRE_H
#include <stddef.h>
#include <stdint.h>
#include <zmq.h>
#include "odac.pb-c.h"

#define WIRE_PROTOCOL_VERSION 1u
#define WIRE_MAX_MESSAGE_BYTES (64u << 20) /* larger payloads are refused before decoding */
#define WIRE_MAX_BATCH 65536u
/* Largest rate-limiter ratio a sample request may carry: 64 updates per env step at the largest
 * batch. */
#define WIRE_MAX_SAMPLES_PER_INSERT (64.0 * WIRE_MAX_BATCH)
#define WIRE_MAX_PARTS 4
#define WIRE_TAG_MAX 32
/* Frame limits of the small messages (ZMQ_MAXMSGSIZE of the sockets that carry only them, and
 * the decoders' size check); the large ones follow from the run's dims (functions below). */
#define WIRE_MAX_REQUEST_BYTES 256     /* a sample or stats request, and each tag frame */
#define WIRE_MAX_ACTOR_STATS_BYTES 512 /* ActorStats with an evaluation and a run token */
#define WIRE_MAX_EVAL_DIAG 4           /* EvalReport.diag_mean values (env.h's ENV_DIAG_MAX) */
#define WIRE_MAX_SHARD_STATS_BYTES 2048
#define WIRE_MAX_SAMPLE_ERROR_BYTES 512
#define WIRE_MAX_STATUS_BYTES (256u << 10) /* a Status (learner -> odac status) */
#define WIRE_MAX_STATUS_SHARDS 16          /* shards listed in a Status */
#define WIRE_MAX_STATUS_ACTORS 1024        /* actors listed in a Status */
#define WIRE_MAX_STATUS_COLUMNS 64         /* progress columns in a Status */
#define WIRE_MAX_STATUS_STRING 512         /* bytes of each string in a Status */
#define WIRE_MAX_TOKEN 128                 /* bytes of a run token */
#define WIRE_MIN_FRAME_LIMIT 1024 /* smallest socket frame limit (CURVE handshake commands) */
#define WIRE_MAX_SUBMESSAGES 64   /* embedded messages in one message (pre-scan) */
#define WIRE_MAX_DEPTH 4          /* nesting of embedded messages (pre-scan) */

/* Tags of the multipart messages. */
#define WIRE_TAG_EPISODE "episode"
#define WIRE_TAG_SAMPLE_REQUEST "sample_request"
#define WIRE_TAG_SAMPLE_BATCH "sample_batch"
#define WIRE_TAG_STATS_REQUEST "stats_request"
#define WIRE_TAG_SHARD_STATS "shard_stats"
#define WIRE_TAG_ACTOR_STATS "actor_stats"
#define WIRE_TAG_SAMPLE_ERROR "sample_error"
#define WIRE_TAG_STATUS_REQUEST "status_request"
#define WIRE_TAG_STATUS "status"

/* The run's shape that incoming data must match. */
typedef struct {
    char env_name[32];
    uint32_t obs_dim, goal_dim, action_dim, horizon;
} wire_dims_t;

/* Why a message was refused; each has a stable name for counters and logs. */
typedef enum {
    WIRE_OK = 0,
    WIRE_REJECT_FRAMES,    /* wrong number of parts or unknown tag */
    WIRE_REJECT_OVERSIZED, /* payload over WIRE_MAX_MESSAGE_BYTES or a count over its limit */
    WIRE_REJECT_DECODE,    /* not a valid protobuf of the expected type */
    WIRE_REJECT_VERSION,   /* protocol_version != WIRE_PROTOCOL_VERSION */
    WIRE_REJECT_ENV,       /* env name differs from the run's */
    WIRE_REJECT_DIMS,      /* a repeated field's length disagrees with the dims */
    WIRE_REJECT_NONFINITE, /* NaN or infinity in a float field */
    WIRE_REJECT_LENGTH,    /* an episode length outside [1, horizon] */
    WIRE_REJECT_COUNT_
} wire_reject_t;
const char *wire_reject_name(wire_reject_t reason);

/* Largest wire size of an episode, and of a batch of B transitions, of a run with these dims
 * (4 bytes per float plus generous field overhead): the frame limits of the sockets that carry
 * them. */
size_t wire_max_episode_bytes(const wire_dims_t *dims);
size_t wire_max_batch_bytes(const wire_dims_t *dims, uint32_t batch_size);

/* The pre-scan every decoder runs before protobuf-c allocates anything: walks the wire format
 * and refuses a field number the message type does not have, a wire type that does not match
 * the field's, a truncated value, a string with a NUL byte, embedded messages nested deeper
 * than WIRE_MAX_DEPTH or more than WIRE_MAX_SUBMESSAGES of them. 0, or -1 with a message. */
int wire_prescan(const ProtobufCMessageDescriptor *desc, const void *data, size_t len, char *err,
                 size_t errcap);

/* Rejections counted by reason, logged at most once per reason per second (with how many were
 * not logged since), so a flood cannot fill the log. */
typedef struct {
    uint64_t count[WIRE_REJECT_COUNT_];
    uint64_t unlogged[WIRE_REJECT_COUNT_];
    double last_log[WIRE_REJECT_COUNT_];
} wire_rejects_t;
void wire_rejects_note(wire_rejects_t *r, wire_reject_t reason, const char *what, const char *msg);
/* "frames=0,oversized=2,..." of the counters, into out; returns out. */
const char *wire_rejects_format(const wire_rejects_t *r, char *out, size_t cap);

/* ---- decoding with validation: NULL with *reason and a message on refusal; free the result
 * with the matching odac__*__free_unpacked(msg, NULL). ---- */
Odac__Episode *wire_decode_episode(const void *data, size_t len, const wire_dims_t *dims,
                                   wire_reject_t *reason, char *err, size_t errcap);
Odac__SampleRequest *wire_decode_sample_request(const void *data, size_t len, wire_reject_t *reason,
                                                char *err, size_t errcap);
Odac__SampleBatch *wire_decode_sample_batch(const void *data, size_t len, const wire_dims_t *dims,
                                            wire_reject_t *reason, char *err, size_t errcap);
Odac__ShardStats *wire_decode_shard_stats(const void *data, size_t len, wire_reject_t *reason,
                                          char *err, size_t errcap);
/* Weights: layer shapes must chain (rows of layer l+1 = cols of layer l), start at
 * obs_dim + goal_dim, end at 2 * action_dim, and data must hold exactly their parameters. */
Odac__PolicyWeights *wire_decode_policy_weights(const void *data, size_t len,
                                                const wire_dims_t *dims, wire_reject_t *reason,
                                                char *err, size_t errcap);
Odac__ActorStats *wire_decode_actor_stats(const void *data, size_t len, wire_reject_t *reason,
                                          char *err, size_t errcap);
Odac__SampleError *wire_decode_sample_error(const void *data, size_t len, wire_reject_t *reason,
                                            char *err, size_t errcap);
/* The learner's status socket: a request, and the Status it answers with (every list's arrays of
 * one length, at most WIRE_MAX_STATUS_SHARDS shards, WIRE_MAX_STATUS_ACTORS actors and
 * WIRE_MAX_STATUS_COLUMNS progress columns; strings at most WIRE_MAX_STATUS_STRING bytes; the
 * evaluation finite as in ActorStats). */
Odac__StatusRequest *wire_decode_status_request(const void *data, size_t len, wire_reject_t *reason,
                                                char *err, size_t errcap);
Odac__Status *wire_decode_status(const void *data, size_t len, wire_reject_t *reason, char *err,
                                 size_t errcap);
Odac__EnvSpec *wire_decode_env_spec(const void *data, size_t len, wire_reject_t *reason, char *err,
                                    size_t errcap);

/* ---- ZeroMQ helpers ---- */
/* A socket of the given type bound (bind = 1) or connected to endpoint, with linger 0 and the
 * given high-water mark for both directions (0 keeps ZeroMQ's default). NULL with a message. */
void *wire_socket(void *ctx, int type, const char *endpoint, int bind, int hwm, char *err,
                  size_t errcap);
/* The same with the kernel's send and receive buffers set to kernel_buf bytes before the bind
 * or connect (0: the system's default), to keep few messages in flight behind a backpressure. */
void *wire_socket_buffered(void *ctx, int type, const char *endpoint, int bind, int hwm,
                           int kernel_buf, char *err, size_t errcap);
/* The same with the largest frame the socket accepts (ZMQ_MAXMSGSIZE: a peer sending a larger
 * frame is disconnected before it is buffered), at least WIRE_MIN_FRAME_LIMIT; 0 keeps
 * WIRE_MAX_MESSAGE_BYTES. The decoders then apply each message type's own limit. */
void *wire_socket_limited(void *ctx, int type, const char *endpoint, int bind, int hwm,
                          int kernel_buf, size_t max_frame, char *err, size_t errcap);
/* Sends [tag][packed msg]; flags as zmq_send (e.g. ZMQ_DONTWAIT). When identity is non-NULL it
 * goes first (replies on a ROUTER socket). 0, or -1 with errno (EAGAIN when it would block). */
int wire_send(void *sock, const zmq_msg_t *identity, const char *tag, const ProtobufCMessage *msg,
              int flags);
/* Sends the packed message alone, one frame (the weights channel). */
int wire_send_single(void *sock, const ProtobufCMessage *msg, int flags);

/* A received multipart message. Parts beyond WIRE_MAX_PARTS are read and dropped, and counted. */
typedef struct {
    int n_parts;
    int dropped_parts;
    zmq_msg_t part[WIRE_MAX_PARTS];
} wire_msg_t;
/* Receives one whole multipart message, waiting up to timeout_ms (-1 forever, 0 not at all).
 * 1 when a message arrived, 0 on timeout, -1 on error (errno; EINTR/ETERM included). */
int wire_recv(void *sock, wire_msg_t *m, int timeout_ms);
void wire_msg_close(wire_msg_t *m);
/* The tag in part i as a C string in buf (truncated to WIRE_TAG_MAX - 1), for dispatch. */
const char *wire_msg_tag(const wire_msg_t *m, int i, char *buf);
static inline const void *wire_msg_data(wire_msg_t *m, int i) {
    return zmq_msg_data(&m->part[i]);
}
static inline size_t wire_msg_size(wire_msg_t *m, int i) {
    return zmq_msg_size(&m->part[i]);
}

#endif
