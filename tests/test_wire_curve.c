/* CURVE: with keys from curve_keygen, wire sockets authenticate and encrypt; a client without
 * keys or with a key not in allowed_clients can neither insert (PUSH to PULL), sample (DEALER to
 * ROUTER) nor subscribe (SUB to PUB), while an allowed client can; key files are checked; the
 * exposure rule refuses endpoints off loopback without keys unless insecure. */
#include "curve.h"
#include "testutil.h"
#include "wire.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static char err[512];

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static char dir[600], other[600];

/* A raw socket with CURVE client options from a key file (NULL: no CURVE at all). */
static void *raw_client(void *ctx, int type, const char *key_path, const char *ep) {
    void *s = zmq_socket(ctx, type);
    int zero = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    if (key_path) {
        char pub[64], sec[64], spub[64], path[700];
        FILE *f = fopen(key_path, "r");
        CU_ASSERT_FATAL(f && fscanf(f, "public %40s secret %40s", pub, sec) == 2);
        fclose(f);
        snprintf(path, sizeof path, "%s/server.pub", dir);
        f = fopen(path, "r");
        CU_ASSERT_FATAL(f && fscanf(f, "%40s", spub) == 1);
        fclose(f);
        zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, spub, 40);
        zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, pub, 40);
        zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, sec, 40);
    }
    if (type == ZMQ_SUB) zmq_setsockopt(s, ZMQ_SUBSCRIBE, "", 0);
    CU_ASSERT_EQUAL_FATAL(zmq_connect(s, ep), 0);
    return s;
}

static void endpoint_of(void *s, char *ep) {
    size_t len = 128;
    zmq_getsockopt(s, ZMQ_LAST_ENDPOINT, ep, &len);
}

/* Whether sock receives a message within ms. */
static int receives(void *sock, int ms) {
    wire_msg_t m;
    int rc = wire_recv(sock, &m, ms);
    if (rc == 1) wire_msg_close(&m);
    return rc == 1;
}

static void test_keygen_files(void) {
    snprintf(dir, sizeof dir, "%s/keys", test_tmpdir("curve"));
    snprintf(other, sizeof other, "%s/other", test_tmpdir("curve-other"));
    CU_ASSERT_EQUAL_FATAL(curve_keygen(dir, "server", err, sizeof err), 0);
    CU_ASSERT_EQUAL_FATAL(curve_keygen(dir, "actor", err, sizeof err), 0);
    CU_ASSERT_EQUAL_FATAL(curve_keygen(other, "stranger", err, sizeof err), 0);
    /* never overwritten */
    CU_ASSERT_NOT_EQUAL(curve_keygen(dir, "actor", err, sizeof err), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "never overwritten"));
    CU_ASSERT_NOT_EQUAL(curve_keygen(dir, "../x", err, sizeof err), 0);
    char path[700];
    struct stat sb;
    snprintf(path, sizeof path, "%s/actor.key", dir);
    CU_ASSERT_EQUAL(stat(path, &sb), 0);
    CU_ASSERT_EQUAL(sb.st_mode & 077, 0);
    snprintf(path, sizeof path, "%s/allowed_clients", dir);
    FILE *f = fopen(path, "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    char line[256];
    int lines = 0;
    while (fgets(line, sizeof line, f)) lines++;
    fclose(f);
    CU_ASSERT_EQUAL(lines, 1); /* the actor, not the server */
}

static void test_exposure_rule(void) {
    const char *local[] = {"tcp://127.0.0.1:5555", "inproc://x,tcp://localhost:1"};
    const char *open_[] = {"tcp://127.0.0.1:5555", "tcp://*:5556"};
    CU_ASSERT_EQUAL(curve_check_exposure(local, 2, 0, 0, err, sizeof err), 0);
    CU_ASSERT_NOT_EQUAL(curve_check_exposure(open_, 2, 0, 0, err, sizeof err), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "tcp://*:5556"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "--insecure"));
    CU_ASSERT_EQUAL(curve_check_exposure(open_, 2, 1, 0, err, sizeof err), 0);
    CU_ASSERT_EQUAL(curve_check_exposure(open_, 2, 0, 1, err, sizeof err), 0);
    const char *list[] = {"tcp://127.0.0.1:1,tcp://10.0.0.2:2"};
    CU_ASSERT_NOT_EQUAL(curve_check_exposure(list, 1, 0, 0, err, sizeof err), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "10.0.0.2"));
}

static void test_only_allowed_clients(void) {
    void *ctx = zmq_ctx_new();
    CU_ASSERT_EQUAL_FATAL(curve_enable(ctx, dir, "actor", err, sizeof err), 0);
    CU_ASSERT(curve_enabled());
    void *pull = wire_socket(ctx, ZMQ_PULL, "tcp://127.0.0.1:*", 1, 0, err, sizeof err);
    void *router = wire_socket(ctx, ZMQ_ROUTER, "tcp://127.0.0.1:*", 1, 0, err, sizeof err);
    void *pub = wire_socket(ctx, ZMQ_PUB, "tcp://127.0.0.1:*", 1, 0, err, sizeof err);
    CU_ASSERT_FATAL(pull && router && pub);
    char ins[128], smp[128], wts[128], stranger_key[700];
    endpoint_of(pull, ins);
    endpoint_of(router, smp);
    endpoint_of(pub, wts);
    snprintf(stranger_key, sizeof stranger_key, "%s/stranger.key", other);
    /* Strangers first: no CURVE at all, and CURVE with a key nobody listed. */
    unsigned long long refused0 = curve_refused();
    void *bad[6] = {
        raw_client(ctx, ZMQ_PUSH, NULL, ins),   raw_client(ctx, ZMQ_PUSH, stranger_key, ins),
        raw_client(ctx, ZMQ_DEALER, NULL, smp), raw_client(ctx, ZMQ_DEALER, stranger_key, smp),
        raw_client(ctx, ZMQ_SUB, NULL, wts),    raw_client(ctx, ZMQ_SUB, stranger_key, wts)};
    double end = now_s() + 10;
    while (curve_refused() < refused0 + 3 && now_s() < end) receives(pull, 20);
    CU_ASSERT(curve_refused() >= refused0 + 3); /* the three CURVE strangers, by the ZAP handler */
    for (int i = 0; i < 4; i++) zmq_send(bad[i], "episode", 7, ZMQ_DONTWAIT);
    /* The allowed client (wire_socket presents actor.key). */
    void *push = wire_socket(ctx, ZMQ_PUSH, ins, 0, 0, err, sizeof err);
    void *dealer = wire_socket(ctx, ZMQ_DEALER, smp, 0, 0, err, sizeof err);
    void *sub = wire_socket(ctx, ZMQ_SUB, wts, 0, 0, err, sizeof err);
    CU_ASSERT_FATAL(push && dealer && sub);
    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "", 0);
    zmq_send(push, "episode", 7, 0);
    zmq_send(dealer, "sample_request", 14, 0);
    CU_ASSERT(receives(pull, 5000));
    CU_ASSERT(receives(router, 5000));
    /* Weights reach the allowed subscriber, and only it. */
    int got = 0;
    end = now_s() + 10;
    while (!got && now_s() < end) {
        zmq_send(pub, "weights", 7, 0);
        got = receives(sub, 50);
    }
    CU_ASSERT(got);
    zmq_send(pub, "weights", 7, 0);
    /* Nothing from (or to) the strangers: their connections never completed a handshake. */
    CU_ASSERT_FALSE(receives(pull, 300));
    CU_ASSERT_FALSE(receives(router, 300));
    CU_ASSERT_FALSE(receives(bad[4], 300));
    CU_ASSERT_FALSE(receives(bad[5], 300));
    CU_ASSERT(curve_admitted() >= 3);
    for (int i = 0; i < 6; i++) zmq_close(bad[i]);
    zmq_close(push);
    zmq_close(dealer);
    zmq_close(sub);
    zmq_close(pull);
    zmq_close(router);
    zmq_close(pub);
    zmq_ctx_term(ctx); /* also ends the ZAP thread */
}

static void test_bad_key_files(void) {
    char bad[700], path[800];
    snprintf(bad, sizeof bad, "%s", test_tmpdir("curve-bad"));
    void *ctx = zmq_ctx_new();
    CU_ASSERT_NOT_EQUAL(curve_enable(ctx, bad, "actor", err, sizeof err), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "server.pub"));
    snprintf(path, sizeof path, "%s/server.key", bad);
    FILE *f = fopen(path, "w");
    fputs("public short\nsecret short\n", f);
    fclose(f);
    chmod(path, 0600);
    CU_ASSERT_NOT_EQUAL(curve_enable(ctx, bad, NULL, err, sizeof err), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "Z85"));
    chmod(path, 0644);
    CU_ASSERT_NOT_EQUAL(curve_enable(ctx, bad, NULL, err, sizeof err), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "chmod 600"));
    zmq_ctx_term(ctx);
}

int main(void) {
    static const test_case_t cases[] = {
        {"keygen writes pairs and the allow-list, never overwrites", test_keygen_files},
        {"endpoints off loopback need keys or --insecure", test_exposure_rule},
        {"only allowed clients insert, sample and subscribe", test_only_allowed_clients},
        {"bad key files are refused with a reason", test_bad_key_files},
        {NULL, NULL}};
    return test_run_suite("wire_curve", cases);
}
