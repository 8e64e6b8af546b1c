/* test_replay_socket: the real odac-replay process ($ODAC_BIN_DIR/odac-replay) on free loopback
 * ports, with a fake actor (PUSH) and fake learners (DEALER) in this test. Malformed, oversized
 * and wrong-shape messages are rejected and counted by reason while good episodes keep being
 * stored; requests beyond the rate limiter's band wait and are answered, in order, once inserts
 * arrive; SIGTERM exits 0 after a checkpoint; a restart (also after SIGKILL) serves what the last
 * checkpoint held; a corrupt checkpoint stops the process unless --fresh. All waiting is polling
 * for the expected state with a deadline. */
#include "testutil.h"
#include "wire.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define OD 4
#define GD 2
#define AD 2
#define HZ 10
#define MAX_BATCH 64
#define DEADLINE_MS 15000

static void *zctx;
static char ckpt_dir[512], log_path[600];
static int insert_port, sample_port;
static uint64_t next_request_id = 1;
/* The rate-limiter ratio sample requests carry (a learner's updates per step x batch); 0: none. */
static double request_spi;
/* 1: start_replay leaves --samples-per-insert out, so the shard follows request_spi. */
static int shard_follows;
/* What a test started, so a failed (aborted) test leaves nothing behind for the next one. */
static pid_t live_pid;
static void *live_socks[16];
static int n_live_socks;

static void cleanup(void) {
    for (int i = 0; i < n_live_socks; i++) zmq_close(live_socks[i]);
    n_live_socks = 0;
    if (live_pid > 0) {
        kill(live_pid, SIGKILL);
        waitpid(live_pid, NULL, 0);
        live_pid = 0;
    }
}

static int free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0)
        return -1;
    close(fd);
    return ntohs(a.sin_port);
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Starts odac-replay with the common flags plus extra (NULL-terminated); stderr to log_path. */
static pid_t start_replay(const char *const *extra) {
    const char *bin_dir = getenv("ODAC_BIN_DIR");
    CU_ASSERT_PTR_NOT_NULL_FATAL(bin_dir);
    static char bin[600], ins[64], smp[64];
    snprintf(bin, sizeof bin, "%s/odac-replay", bin_dir);
    snprintf(ins, sizeof ins, "tcp://127.0.0.1:%d", insert_port);
    snprintf(smp, sizeof smp, "tcp://127.0.0.1:%d", sample_port);
    const char *argv[64] = {bin,      "--env",
                            "ant",    "--obs-dim",
                            "4",      "--goal-dim",
                            "2",      "--action-dim",
                            "2",      "--horizon",
                            "10",     "--insert-bind",
                            ins,      "--sample-bind",
                            smp,      "--capacity",
                            "200",    "--min-size",
                            "20",     "--samples-per-insert",
                            "4",      "--tolerance",
                            "200",    "--max-batch",
                            "64",     "--checkpoint-dir",
                            ckpt_dir, "--seed",
                            "5",      "--stats-every-s",
                            "0.5"};
    int n = 0;
    for (int i = 0; argv[i]; i++) {
        if (shard_follows && !strcmp(argv[i], "--samples-per-insert")) {
            i++; /* and its value */
            continue;
        }
        argv[n++] = argv[i];
    }
    for (int i = 0; extra && extra[i]; i++) argv[n++] = extra[i];
    argv[n] = NULL;
    pid_t pid = fork();
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive a crashed test */
        int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) dup2(fd, 2);
        int devnull = open("/dev/null", O_RDWR);
        if (devnull >= 0) {
            dup2(devnull, 0);
            dup2(devnull, 1);
        }
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    live_pid = pid;
    return pid;
}

/* Waits up to timeout_ms for pid to exit; returns its exit status (or 128 + signal), -1 on
 * timeout. Uses a pidfd when the kernel has one, else polls waitpid. */
static int wait_exit(pid_t pid, int timeout_ms) {
    int status;
    int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    double end = now_ms() + timeout_ms;
    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid) break;
        double left = end - now_ms();
        if (left <= 0) {
            if (pidfd >= 0) close(pidfd);
            return -1;
        }
        if (pidfd >= 0) {
            struct pollfd p = {.fd = pidfd, .events = POLLIN};
            poll(&p, 1, (int)left);
        } else {
            struct timespec ts = {0, 10 * 1000000};
            nanosleep(&ts, NULL);
        }
    }
    if (pidfd >= 0) close(pidfd);
    if (pid == live_pid) live_pid = 0;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* ---- messages ---- */

/* Episode e of length T: obs and phi rows hold e*100 + t in every element, actions e*100 + t +
 * 0.5, the desired goal -(e+1). */
typedef struct {
    float obs[(HZ + 1) * OD], ag[(HZ + 1) * GD], act[HZ * AD], goal[GD];
    Odac__Episode msg;
} episode_t;

static void make_episode(episode_t *ep, int e, int T) {
    for (int t = 0; t <= T; t++) {
        for (int j = 0; j < OD; j++) ep->obs[t * OD + j] = (float)(e * 100 + t);
        for (int j = 0; j < GD; j++) ep->ag[t * GD + j] = (float)(e * 100 + t);
        if (t < T)
            for (int j = 0; j < AD; j++) ep->act[t * AD + j] = (float)(e * 100 + t) + 0.5f;
    }
    for (int j = 0; j < GD; j++) ep->goal[j] = -(float)(e + 1);
    odac__episode__init(&ep->msg);
    ep->msg.protocol_version = WIRE_PROTOCOL_VERSION;
    ep->msg.env_name = "ant";
    ep->msg.episode_id = (uint64_t)e;
    ep->msg.policy_version = (uint64_t)e;
    ep->msg.length = (uint32_t)T;
    ep->msg.n_observations = (size_t)(T + 1) * OD;
    ep->msg.observations = ep->obs;
    ep->msg.n_achieved_goals = (size_t)(T + 1) * GD;
    ep->msg.achieved_goals = ep->ag;
    ep->msg.n_actions = (size_t)T * AD;
    ep->msg.actions = ep->act;
    ep->msg.n_desired_goal = GD;
    ep->msg.desired_goal = ep->goal;
}

static void push_episode(void *push, int e, int T) {
    episode_t ep;
    make_episode(&ep, e, T);
    CU_ASSERT_EQUAL(wire_send(push, NULL, WIRE_TAG_EPISODE, &ep.msg.base, 0), 0);
}

static void send_raw(void *sock, const char *tag, const void *payload, size_t len) {
    if (payload) {
        zmq_send(sock, tag, strlen(tag), ZMQ_SNDMORE);
        zmq_send(sock, payload, len, 0);
    } else {
        zmq_send(sock, tag, strlen(tag), 0);
    }
}

static void send_timed_request(void *dealer, uint64_t id, uint32_t B, uint32_t timeout_ms) {
    Odac__SampleRequest req;
    odac__sample_request__init(&req);
    req.protocol_version = WIRE_PROTOCOL_VERSION;
    req.request_id = id;
    req.batch_size = B;
    req.timeout_ms = timeout_ms;
    req.samples_per_insert = request_spi;
    CU_ASSERT_EQUAL(wire_send(dealer, NULL, WIRE_TAG_SAMPLE_REQUEST, &req.base, 0), 0);
}

static void send_sample_request(void *dealer, uint64_t id, uint32_t B) {
    send_timed_request(dealer, id, B, 0);
}

/* Receives one SampleError; 1 when it answers want_id with code. */
static int recv_error(void *dealer, uint64_t want_id, Odac__SampleError__Code code,
                      int timeout_ms) {
    wire_msg_t m;
    if (wire_recv(dealer, &m, timeout_ms) != 1) return 0;
    char tag[WIRE_TAG_MAX], err[256];
    wire_reject_t reason;
    int ok = 0;
    if (m.n_parts == 2 && !strcmp(wire_msg_tag(&m, 0, tag), WIRE_TAG_SAMPLE_ERROR)) {
        Odac__SampleError *e = wire_decode_sample_error(wire_msg_data(&m, 1), wire_msg_size(&m, 1),
                                                        &reason, err, sizeof err);
        ok = e && e->request_id == want_id && e->code == code && e->message[0];
        if (e) odac__sample_error__free_unpacked(e, NULL);
    }
    wire_msg_close(&m);
    return ok;
}

/* Sends a stats request on dealer and decodes the reply (NULL on timeout). */
static Odac__ShardStats *get_stats(void *dealer, int timeout_ms) {
    send_raw(dealer, WIRE_TAG_STATS_REQUEST, "", 0);
    wire_msg_t m;
    if (wire_recv(dealer, &m, timeout_ms) != 1) return NULL;
    char tag[WIRE_TAG_MAX], err[256];
    Odac__ShardStats *st = NULL;
    wire_reject_t reason;
    if (m.n_parts == 2 && !strcmp(wire_msg_tag(&m, 0, tag), WIRE_TAG_SHARD_STATS))
        st = wire_decode_shard_stats(wire_msg_data(&m, 1), wire_msg_size(&m, 1), &reason, err,
                                     sizeof err);
    wire_msg_close(&m);
    return st;
}

static uint64_t rejected(const Odac__ShardStats *st, const char *reason) {
    for (size_t i = 0; i < st->n_rejected; i++)
        if (!strcmp(st->rejected[i]->reason, reason)) return st->rejected[i]->count;
    return 0;
}

typedef struct {
    uint64_t inserted_episodes, decode, oversized, version, env, dims, nonfinite, frames;
} expect_t;

static int stats_match(const Odac__ShardStats *st, const expect_t *x) {
    /* A bad length counts as "dims", or as "length" where the wire layer names it apart. */
    return st->inserted_episodes == x->inserted_episodes && rejected(st, "decode") == x->decode &&
           rejected(st, "oversized") == x->oversized && rejected(st, "version") == x->version &&
           rejected(st, "env") == x->env &&
           rejected(st, "dims") + rejected(st, "length") == x->dims &&
           rejected(st, "nonfinite") == x->nonfinite && rejected(st, "frames") == x->frames;
}

/* Polls stats until they match x or the deadline passes; the last stats go to *out. */
static int wait_stats(void *dealer, const expect_t *x, Odac__ShardStats **out) {
    double end = now_ms() + DEADLINE_MS;
    Odac__ShardStats *st = NULL;
    while (now_ms() < end) {
        if (st) odac__shard_stats__free_unpacked(st, NULL);
        st = get_stats(dealer, 2000);
        if (st && stats_match(st, x)) break;
    }
    int ok = st && stats_match(st, x);
    if (out)
        *out = st;
    else if (st)
        odac__shard_stats__free_unpacked(st, NULL);
    return ok;
}

/* Receives one sample batch; checks its id, shapes and that every row is a real transition with
 * a goal that is phi of a later step of the same episode or the episode's own goal. */
static int recv_batch(void *dealer, uint64_t want_id, uint32_t B, int timeout_ms) {
    wire_msg_t m;
    if (wire_recv(dealer, &m, timeout_ms) != 1) return 0;
    char tag[WIRE_TAG_MAX], err[256];
    wire_dims_t dims = {"ant", OD, GD, AD, HZ};
    wire_reject_t reason;
    int ok = 0;
    if (m.n_parts == 2 && !strcmp(wire_msg_tag(&m, 0, tag), WIRE_TAG_SAMPLE_BATCH)) {
        Odac__SampleBatch *b = wire_decode_sample_batch(wire_msg_data(&m, 1), wire_msg_size(&m, 1),
                                                        &dims, &reason, err, sizeof err);
        if (b) {
            ok = b->request_id == want_id && b->batch_size == B && b->stats != NULL;
            for (uint32_t i = 0; ok && i < B; i++) {
                float s = b->observations[i * OD], s1 = b->next_observations[i * OD];
                int e = (int)s / 100, t = (int)s % 100;
                ok = s1 == s + 1 && b->actions[i * AD] == s + 0.5f &&
                     b->achieved_goals[i * GD] == s && b->next_achieved_goals[i * GD] == s + 1;
                float g = b->goals[i * GD];
                if (g < 0)
                    ok = ok && g == -(float)(e + 1);
                else
                    ok = ok && (int)g / 100 == e && (int)g % 100 > t && (int)g % 100 <= HZ;
            }
            odac__sample_batch__free_unpacked(b, NULL);
        }
    }
    wire_msg_close(&m);
    return ok;
}

static void *connect_sock(int type, int port) {
    char ep[64], err[256];
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", port);
    void *s = wire_socket(zctx, type, ep, 0, 0, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    live_socks[n_live_socks++] = s;
    return s;
}

static void dump_log(void) {
    FILE *f = fopen(log_path, "r");
    if (!f) return;
    char line[1024];
    fprintf(stderr, "---- odac-replay log ----\n");
    while (fgets(line, sizeof line, f)) fputs(line, stderr);
    fclose(f);
}

static int good_count; /* good episodes sent so far, numbered 0.. */

static void test_rejections_and_traffic(void) {
    cleanup();
    pid_t pid = start_replay(NULL);
    void *push = connect_sock(ZMQ_PUSH, insert_port);
    void *learner = connect_sock(ZMQ_DEALER, sample_port);
    void *monitor = connect_sock(ZMQ_DEALER, sample_port);
    expect_t x = {0};

    /* good, then one of each bad kind with good ones in between */
    push_episode(push, good_count++, HZ);
    const uint8_t junk[] = {0x0f, 0x0f, 0x0f, 0x0f};
    send_raw(push, WIRE_TAG_EPISODE, junk, sizeof junk);
    x.decode++;
    push_episode(push, good_count++, HZ);
    /* A frame over the insert socket's limit (the largest episode of these dims) never reaches
     * the shard: ZeroMQ drops that peer's connection before buffering it, so it is not counted;
     * the good traffic on the other connection goes on. */
    static uint8_t big[2 << 20];
    void *bomb = connect_sock(ZMQ_PUSH, insert_port);
    send_raw(bomb, WIRE_TAG_EPISODE, big, sizeof big);
    episode_t ep;
    make_episode(&ep, 99, HZ);
    ep.msg.protocol_version = 2;
    wire_send(push, NULL, WIRE_TAG_EPISODE, &ep.msg.base, 0);
    x.version++;
    make_episode(&ep, 99, HZ);
    ep.msg.env_name = "box2d";
    wire_send(push, NULL, WIRE_TAG_EPISODE, &ep.msg.base, 0);
    x.env++;
    push_episode(push, good_count++, 3);
    make_episode(&ep, 99, HZ);
    ep.msg.n_observations -= 1; /* wrong shape */
    wire_send(push, NULL, WIRE_TAG_EPISODE, &ep.msg.base, 0);
    x.dims++;
    make_episode(&ep, 99, HZ);
    ep.msg.length = HZ + 1; /* longer than the horizon */
    wire_send(push, NULL, WIRE_TAG_EPISODE, &ep.msg.base, 0);
    x.dims++;
    make_episode(&ep, 99, HZ);
    ep.obs[7] = NAN;
    wire_send(push, NULL, WIRE_TAG_EPISODE, &ep.msg.base, 0);
    x.nonfinite++;
    send_raw(push, "bogus", junk, sizeof junk);
    x.frames++;
    send_raw(push, WIRE_TAG_EPISODE, NULL, 0); /* tag without payload */
    x.frames++;
    push_episode(push, good_count++, HZ);
    push_episode(push, good_count++, 7);
    /* bad requests on the sample socket */
    send_raw(learner, WIRE_TAG_SAMPLE_REQUEST, junk, sizeof junk);
    x.decode++;
    send_sample_request(learner, 1000, MAX_BATCH + 1);
    x.oversized++;
    send_raw(learner, "nonsense", junk, sizeof junk);
    x.frames++;
    /* Every sample request is answered: the refused ones with an error reply. */
    CU_ASSERT(recv_error(learner, 0, ODAC__SAMPLE_ERROR__CODE__REFUSED, DEADLINE_MS));
    CU_ASSERT(recv_error(learner, 1000, ODAC__SAMPLE_ERROR__CODE__REFUSED, DEADLINE_MS));
    x.inserted_episodes = (uint64_t)good_count;
    Odac__ShardStats *st = NULL;
    int ok = wait_stats(monitor, &x, &st);
    CU_ASSERT(ok);
    if (!ok) dump_log();
    CU_ASSERT_PTR_NOT_NULL_FATAL(st);
    uint64_t inserted = 3 * HZ + 3 + 7;
    CU_ASSERT_EQUAL(st->inserted_transitions, inserted);
    CU_ASSERT_EQUAL(st->size_transitions, inserted);
    CU_ASSERT_EQUAL(st->size_episodes, (uint64_t)good_count);
    CU_ASSERT_EQUAL(st->max_policy_version, (uint64_t)good_count - 1);
    odac__shard_stats__free_unpacked(st, NULL);

    /* Rate limiter: credit = 4 * (inserted - 20) + 200 sampled transitions. Requests up to it
     * are answered in order; the next waits until inserts arrive. */
    int64_t credit = 4 * ((int64_t)inserted - 20) + 200;
    int n_ok = (int)(credit / MAX_BATCH);
    for (int i = 0; i <= n_ok; i++) send_sample_request(learner, next_request_id + i, MAX_BATCH);
    for (int i = 0; i < n_ok; i++)
        CU_ASSERT(recv_batch(learner, next_request_id + i, MAX_BATCH, DEADLINE_MS));
    uint64_t waiting_id = next_request_id + n_ok;
    next_request_id += n_ok + 1;
    /* The waiting request shows up as a sample wait; stats from another client still answer. */
    double end = now_ms() + DEADLINE_MS;
    uint64_t waits = 0;
    while (now_ms() < end && waits == 0) {
        st = get_stats(monitor, 2000);
        if (st) {
            waits = st->sample_waits;
            CU_ASSERT_EQUAL(st->sampled_transitions, (uint64_t)n_ok * MAX_BATCH);
            odac__shard_stats__free_unpacked(st, NULL);
        }
    }
    CU_ASSERT(waits >= 1);
    zmq_pollitem_t item = {learner, 0, ZMQ_POLLIN, 0};
    CU_ASSERT_EQUAL(zmq_poll(&item, 1, 0), 0); /* nothing answered beyond the band */
    push_episode(push, good_count++, HZ);      /* +40 credit: the waiting request is served */
    CU_ASSERT(recv_batch(learner, waiting_id, MAX_BATCH, DEADLINE_MS));
    /* Less than a batch of credit is left: a request with a deadline is answered EXPIRED. */
    double t0 = now_ms();
    send_timed_request(learner, next_request_id, MAX_BATCH, 300);
    CU_ASSERT(
        recv_error(learner, next_request_id++, ODAC__SAMPLE_ERROR__CODE__EXPIRED, DEADLINE_MS));
    CU_ASSERT(now_ms() - t0 >= 290);

    CU_ASSERT_EQUAL(kill(pid, SIGTERM), 0);
    int rc = wait_exit(pid, DEADLINE_MS);
    CU_ASSERT_EQUAL(rc, 0);
    if (rc != 0) dump_log();
    char path[1024];
    snprintf(path, sizeof path, "%s/replay-shard-0.ckpt", ckpt_dir);
    struct stat sb;
    CU_ASSERT_EQUAL(stat(path, &sb), 0);
}

static int64_t mtime_ns(const char *path) {
    struct stat sb;
    if (stat(path, &sb) != 0) return -1;
    return (int64_t)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec;
}

static int64_t realtime_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Restart after SIGTERM keeps everything; after SIGKILL, everything up to the last checkpoint. */
static void test_restart_and_kill(void) {
    cleanup();
    char path[1024];
    snprintf(path, sizeof path, "%s/replay-shard-0.ckpt", ckpt_dir);
    const char *periodic[] = {"--checkpoint-every-s", "0.2", NULL};
    pid_t pid = start_replay(periodic);
    void *push = connect_sock(ZMQ_PUSH, insert_port);
    void *monitor = connect_sock(ZMQ_DEALER, sample_port);
    Odac__ShardStats *st = get_stats(monitor, DEADLINE_MS);
    CU_ASSERT_PTR_NOT_NULL_FATAL(st);
    CU_ASSERT_EQUAL(st->inserted_episodes, (uint64_t)good_count);
    CU_ASSERT_EQUAL(st->size_episodes, (uint64_t)good_count);
    CU_ASSERT_EQUAL(rejected(st, "nonfinite"), 1);
    odac__shard_stats__free_unpacked(st, NULL);

    for (int i = 0; i < 3; i++) push_episode(push, good_count++, HZ);
    expect_t x = {.inserted_episodes = (uint64_t)good_count,
                  .decode = 2,
                  .oversized = 1, /* the bomb frame never reached the shard */
                  .version = 1,
                  .env = 1,
                  .dims = 2,
                  .nonfinite = 1,
                  .frames = 3};
    CU_ASSERT_FATAL(wait_stats(monitor, &x, NULL));
    int64_t confirmed = realtime_ns();
    /* wait for a periodic checkpoint written after the inserts were confirmed */
    double end = now_ms() + DEADLINE_MS;
    while (now_ms() < end && mtime_ns(path) <= confirmed) {
        /* a stats round trip paces the polling without sleeping */
        st = get_stats(monitor, 100);
        if (st) odac__shard_stats__free_unpacked(st, NULL);
    }
    CU_ASSERT(mtime_ns(path) > confirmed);
    kill(pid, SIGKILL);
    CU_ASSERT_EQUAL(wait_exit(pid, DEADLINE_MS), 128 + SIGKILL);

    pid = start_replay(NULL);
    st = get_stats(monitor, DEADLINE_MS);
    CU_ASSERT_PTR_NOT_NULL_FATAL(st);
    CU_ASSERT_EQUAL(st->inserted_episodes, (uint64_t)good_count);
    CU_ASSERT(st->size_transitions <= 200);
    odac__shard_stats__free_unpacked(st, NULL);
    kill(pid, SIGTERM);
    CU_ASSERT_EQUAL(wait_exit(pid, DEADLINE_MS), 0);
}

/* A corrupt checkpoint stops the process with a message, unless --fresh. */
static void test_corrupt_checkpoint_process(void) {
    cleanup();
    char path[1024];
    snprintf(path, sizeof path, "%s/replay-shard-0.ckpt", ckpt_dir);
    FILE *f = fopen(path, "r+b");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fseek(f, 100, SEEK_SET);
    int ch = fgetc(f);
    fseek(f, 100, SEEK_SET);
    fputc(ch ^ 0xff, f);
    fclose(f);
    truncate(log_path, 0);
    pid_t pid = start_replay(NULL);
    CU_ASSERT_EQUAL(wait_exit(pid, DEADLINE_MS), 1);
    FILE *lf = fopen(log_path, "r");
    char buf[4096] = "";
    size_t n = lf ? fread(buf, 1, sizeof buf - 1, lf) : 0;
    buf[n] = 0;
    if (lf) fclose(lf);
    CU_ASSERT(strstr(buf, "--fresh") != NULL);
    CU_ASSERT(strstr(buf, "replay-shard-0.ckpt") != NULL);

    const char *fresh[] = {"--fresh", NULL};
    pid = start_replay(fresh);
    void *monitor = connect_sock(ZMQ_DEALER, sample_port);
    Odac__ShardStats *st = get_stats(monitor, DEADLINE_MS);
    CU_ASSERT_PTR_NOT_NULL(st);
    if (st) {
        CU_ASSERT_EQUAL(st->size_episodes, 0);
        CU_ASSERT_EQUAL(st->inserted_episodes, 0);
        odac__shard_stats__free_unpacked(st, NULL);
    }
    kill(pid, SIGTERM);
    CU_ASSERT_EQUAL(wait_exit(pid, DEADLINE_MS), 0);
}

/* Pushes n_eps episodes (ids from first_id) and waits until the shard holds inserts back; the
 * transitions it had stored then, or -1 when it never held them back. */
static long long push_until_held(void *push, void *monitor, int n_eps, int first_id) {
    for (int e = 0; e < n_eps; e++) push_episode(push, first_id + e, HZ);
    long long held = -1;
    for (double end = now_ms() + DEADLINE_MS; now_ms() < end && held < 0;) {
        Odac__ShardStats *st = get_stats(monitor, 2000);
        if (st && st->insert_waits >= 1) held = (long long)st->inserted_transitions;
        if (st) odac__shard_stats__free_unpacked(st, NULL);
    }
    return held;
}

/* Samples a batch at a time until all n_eps episodes are stored; 1 when they were and the
 * shard's credit stayed in the band of ratio 4, min size 20, tolerance 200 throughout. */
static int sample_until_stored(void *learner, void *monitor, int n_eps) {
    int band_ok = 1;
    uint64_t inserted = 0;
    double end = now_ms() + DEADLINE_MS;
    while (now_ms() < end && inserted < (uint64_t)n_eps * HZ) {
        send_sample_request(learner, next_request_id, MAX_BATCH);
        if (!recv_batch(learner, next_request_id++, MAX_BATCH, DEADLINE_MS)) break;
        Odac__ShardStats *st = get_stats(monitor, 2000);
        if (!st) break;
        inserted = st->inserted_transitions;
        double excess = 4.0 * ((double)inserted - 20) - (double)st->sampled_transitions;
        band_ok &= excess >= -200 && excess < 200 + 4 * HZ;
        odac__shard_stats__free_unpacked(st, NULL);
    }
    return band_ok && inserted == (uint64_t)n_eps * HZ;
}

/* Inserts beyond the band are held back (not read, not dropped) until samples make room. With
 * samples-per-insert 4, min size 20 and tolerance 200, reading stops once 4 * (inserted - 20)
 * reaches 200, i.e. at exactly 70 transitions of 10-step episodes. */
static void test_insert_backpressure(void) {
    cleanup();
    char path[1024];
    snprintf(path, sizeof path, "%s/replay-shard-0.ckpt", ckpt_dir);
    unlink(path);
    pid_t pid = start_replay(NULL);
    void *push = connect_sock(ZMQ_PUSH, insert_port);
    void *learner = connect_sock(ZMQ_DEALER, sample_port);
    void *monitor = connect_sock(ZMQ_DEALER, sample_port);
    const int n_eps = 20;
    CU_ASSERT_EQUAL(push_until_held(push, monitor, n_eps, 500), 70);
    /* Sampling makes room; every pushed episode is eventually stored, and the band of ratio 4
     * holds although the requests ask for 64: a shard given --samples-per-insert keeps it. */
    request_spi = 64;
    CU_ASSERT(sample_until_stored(learner, monitor, n_eps));
    request_spi = 0;
    kill(pid, SIGTERM);
    CU_ASSERT_EQUAL(wait_exit(pid, DEADLINE_MS), 0);
}

/* Started without --samples-per-insert, a shard holds inserts at its default ratio (256 with
 * the band of 200: reading stops at 30 transitions, the third episode) until the first sample
 * request, then keeps the ratio the requests carry (4 here: the same band as above). */
static void test_follows_learner_ratio(void) {
    cleanup();
    char path[1024];
    snprintf(path, sizeof path, "%s/replay-shard-0.ckpt", ckpt_dir);
    unlink(path);
    shard_follows = 1;
    pid_t pid = start_replay(NULL);
    shard_follows = 0;
    void *push = connect_sock(ZMQ_PUSH, insert_port);
    void *learner = connect_sock(ZMQ_DEALER, sample_port);
    void *monitor = connect_sock(ZMQ_DEALER, sample_port);
    const int n_eps = 20;
    CU_ASSERT_EQUAL(push_until_held(push, monitor, n_eps, 700), 30);
    request_spi = 4;
    CU_ASSERT(sample_until_stored(learner, monitor, n_eps));
    request_spi = 0;
    kill(pid, SIGTERM);
    CU_ASSERT_EQUAL(wait_exit(pid, DEADLINE_MS), 0);
}

int main(void) {
    signal(SIGPIPE, SIG_IGN);
    setvbuf(stdout, NULL, _IONBF, 0); /* a killed run still shows how far it got */
    snprintf(ckpt_dir, sizeof ckpt_dir, "%s", test_tmpdir("replay-socket"));
    snprintf(log_path, sizeof log_path, "%s/replay.log", ckpt_dir);
    insert_port = free_port();
    sample_port = free_port();
    while (sample_port == insert_port) sample_port = free_port();
    zctx = zmq_ctx_new();
    const test_case_t cases[] = {
        {"rejections are counted while good traffic flows", test_rejections_and_traffic},
        {"restart after SIGTERM and SIGKILL", test_restart_and_kill},
        {"corrupt checkpoint is fatal unless --fresh", test_corrupt_checkpoint_process},
        {"inserts beyond the band are held back, not dropped", test_insert_backpressure},
        {"without --samples-per-insert the shard follows the learner's ratio",
         test_follows_learner_ratio},
        {NULL, NULL}};
    int rc = test_run_suite("replay_socket", cases);
    cleanup();
    zmq_ctx_term(zctx);
    return rc;
}
