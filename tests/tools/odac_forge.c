/* odac-forge: what a stranger on the network can send, for the e2e drills.
 *   odac-forge stats ENDPOINT N [TOKEN]   N ActorStats claiming actor 7 with a perfect evaluation
 *                                         (final distance 0, success 1), with TOKEN if given
 *   odac-forge bomb ENDPOINT TAG N MIB    N messages [TAG][MIB MiB of tiny unknown protobuf
 *                                         fields] (PUSH; DEALER when TAG is sample_request)
 * With ODAC_KEYS set, stats go over CURVE presenting that directory's actor.key (an insider with
 * a key but without the run token). Exits 0 once they were handed to ZeroMQ and flushed (linger
 * up to 5 s). */
#include "curve.h"
#include "wire.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int bomb(const char *endpoint, const char *tag, const char *count, const char *mib) {
    long n = strtol(count, NULL, 10), size = strtol(mib, NULL, 10) << 20;
    if (n < 1 || n > 1000 || size < 1 || size > (256l << 20)) {
        fprintf(stderr, "odac-forge: N in [1, 1000], MIB in [1, 256]\n");
        return 2;
    }
    unsigned char *junk = malloc((size_t)size);
    if (!junk) return 1;
    for (long i = 0; i + 1 < size; i += 2) junk[i] = 0xf8, junk[i + 1] = 0x01; /* field 31 = 1 */
    void *ctx = zmq_ctx_new();
    char err[256];
    int type = strcmp(tag, WIRE_TAG_SAMPLE_REQUEST) ? ZMQ_PUSH : ZMQ_DEALER;
    void *s = wire_socket(ctx, type, endpoint, 0, 0, err, sizeof err);
    if (!s) {
        fprintf(stderr, "odac-forge: %s\n", err);
        return 1;
    }
    int linger = 5000, timeout = 5000;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(s, ZMQ_SNDTIMEO, &timeout, sizeof timeout);
    long sent = 0;
    for (long i = 0; i < n; i++) {
        if (zmq_send(s, tag, strlen(tag), ZMQ_SNDMORE) < 0) break;
        if (zmq_send(s, junk, (size_t)size, 0) < 0) break;
        sent++;
    }
    zmq_close(s);
    zmq_ctx_term(ctx);
    free(junk);
    printf("sent %ld of %ld %ld MiB frames tagged %s to %s\n", sent, n, size >> 20, tag, endpoint);
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 6 && !strcmp(argv[1], "bomb")) return bomb(argv[2], argv[3], argv[4], argv[5]);
    if (argc < 4 || strcmp(argv[1], "stats") != 0) {
        fprintf(stderr, "usage: odac-forge stats ENDPOINT N [TOKEN] | bomb ENDPOINT TAG N MIB\n");
        return 2;
    }
    long n = strtol(argv[3], NULL, 10);
    if (n < 1 || n > 1000000) {
        fprintf(stderr, "odac-forge: N must be in [1, 1000000]\n");
        return 2;
    }
    void *ctx = zmq_ctx_new();
    char err[256];
    const char *keys = getenv("ODAC_KEYS");
    if (keys && *keys && curve_enable(NULL, keys, "actor", err, sizeof err) != 0) {
        fprintf(stderr, "odac-forge: %s\n", err);
        return 1;
    }
    void *push = wire_socket(ctx, ZMQ_PUSH, argv[2], 0, 0, err, sizeof err);
    if (!push) {
        fprintf(stderr, "odac-forge: %s\n", err);
        return 1;
    }
    Odac__ActorStats st = ODAC__ACTOR_STATS__INIT;
    Odac__EvalReport ev = ODAC__EVAL_REPORT__INIT;
    st.protocol_version = WIRE_PROTOCOL_VERSION;
    st.actor_id = 7;
    st.env_steps = 1000000000ull;
    st.episodes = 1000;
    st.run_token = argc > 4 ? argv[4] : "";
    ev.episodes = 5;
    ev.final_distance_mean = 0;
    ev.success_rate = 1;
    st.eval = &ev;
    for (long i = 0; i < n; i++)
        if (wire_send(push, NULL, WIRE_TAG_ACTOR_STATS, &st.base, 0) != 0) {
            fprintf(stderr, "odac-forge: send failed: %s\n", zmq_strerror(zmq_errno()));
            return 1;
        }
    int linger = 2000;
    zmq_setsockopt(push, ZMQ_LINGER, &linger, sizeof linger);
    zmq_close(push);
    zmq_ctx_term(ctx);
    printf("sent %ld forged stats to %s\n", n, argv[2]);
    return 0;
}
