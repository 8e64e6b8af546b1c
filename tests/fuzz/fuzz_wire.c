/* fuzz_wire: libFuzzer harness for one wire decoder (chosen at build time by FUZZ_DECODER, see
 * CMakeLists.txt): any bytes go to the decoder as a message payload (each decoder runs
 * wire_prescan over them first); a message it accepts is packed again (every field read) and
 * freed. A crash, leak or sanitizer report is a finding. */
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_util.h"

#define FREE(type, msg) odac__##type##__free_unpacked(msg, NULL)

/* Packs an accepted message again: every field it holds is read. */
static void repack(const ProtobufCMessage *msg) {
    size_t n = protobuf_c_message_get_packed_size(msg);
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf || protobuf_c_message_pack(msg, buf) != n) abort();
    free(buf);
}
#define REPACK(msg) repack(&(msg)->base)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len) {
    const wire_dims_t dims = fuzz_dims();
    wire_reject_t reason = WIRE_OK;
    char err[512] = "";
#if FUZZ_DECODER == 0
    Odac__Episode *m = wire_decode_episode(data, len, &dims, &reason, err, sizeof err);
    if (m) {
        if (m->n_observations != (m->length + 1) * dims.obs_dim) abort();
        REPACK(m), FREE(episode, m);
    }
#elif FUZZ_DECODER == 1
    (void)dims;
    Odac__SampleRequest *m = wire_decode_sample_request(data, len, &reason, err, sizeof err);
    if (m) REPACK(m), FREE(sample_request, m);
#elif FUZZ_DECODER == 2
    Odac__SampleBatch *m = wire_decode_sample_batch(data, len, &dims, &reason, err, sizeof err);
    if (m) {
        if (m->n_goals != m->batch_size * dims.goal_dim) abort();
        REPACK(m), FREE(sample_batch, m);
    }
#elif FUZZ_DECODER == 3
    (void)dims;
    Odac__ShardStats *m = wire_decode_shard_stats(data, len, &reason, err, sizeof err);
    if (m) REPACK(m), FREE(shard_stats, m);
#elif FUZZ_DECODER == 4
    Odac__PolicyWeights *m = wire_decode_policy_weights(data, len, &dims, &reason, err, sizeof err);
    if (m) REPACK(m), FREE(policy_weights, m);
#elif FUZZ_DECODER == 5
    (void)dims;
    Odac__ActorStats *m = wire_decode_actor_stats(data, len, &reason, err, sizeof err);
    if (m) REPACK(m), FREE(actor_stats, m);
#elif FUZZ_DECODER == 6
    (void)dims;
    Odac__EnvSpec *m = wire_decode_env_spec(data, len, &reason, err, sizeof err);
    if (m) REPACK(m), FREE(env_spec, m);
#elif FUZZ_DECODER == 7
    (void)dims;
    Odac__SampleError *m = wire_decode_sample_error(data, len, &reason, err, sizeof err);
    if (m) REPACK(m), FREE(sample_error, m);
#elif FUZZ_DECODER == 8
    (void)dims;
    Odac__StatusRequest *m = wire_decode_status_request(data, len, &reason, err, sizeof err);
    if (m) REPACK(m), FREE(status_request, m);
#elif FUZZ_DECODER == 9
    (void)dims;
    Odac__Status *m = wire_decode_status(data, len, &reason, err, sizeof err);
    if (m) {
        if (m->n_actor_policy_lags != m->n_actor_ids || m->n_shard_silent != m->n_shard_endpoints ||
            m->n_progress_values != m->n_progress_names)
            abort();
        REPACK(m), FREE(status, m);
    }
#else
#error "FUZZ_DECODER must name a decoder (0..9)"
#endif
    /* A refusal names a reason and says why. */
    if (!m && (reason == WIRE_OK || !err[0])) abort();
    return 0;
}
