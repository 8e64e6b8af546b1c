/* odac-forge: what a stranger on the network can send, for the e2e drills. `odac-forge stats
 * ENDPOINT N [TOKEN]` pushes N ActorStats claiming actor 7 with a perfect evaluation (final
 * distance 0, success 1) to a learner's stats endpoint, with TOKEN when given (default none).
 * Exits 0 once they were handed to ZeroMQ and flushed (linger up to 2 s). */
#include "wire.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
    if (argc < 4 || strcmp(argv[1], "stats") != 0) {
        fprintf(stderr, "usage: odac-forge stats ENDPOINT N [TOKEN]\n");
        return 2;
    }
    long n = strtol(argv[3], NULL, 10);
    if (n < 1 || n > 1000000) {
        fprintf(stderr, "odac-forge: N must be in [1, 1000000]\n");
        return 2;
    }
    void *ctx = zmq_ctx_new();
    char err[256];
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
