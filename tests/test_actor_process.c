/* The odac-actor executable over tcp loopback: it streams episodes and stats to a fake shard and
 * learner, exits 0 promptly on SIGTERM and when weights with run_finished arrive, and refuses bad
 * flags with a message and a non-zero status. Waits are polls with timeouts, never sleeps. */
#include "env.h"
#include "testutil.h"
#include "wire.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char err[512];
static const wire_dims_t dims = {"box2d", 2, 2, 2, 100};
static char g_actor_bin[1024];

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* $ODAC_BIN_DIR/odac-actor (ctest sets it), else ../bin/odac-actor beside this test binary. */
static void find_actor_bin(void) {
    const char *dir = getenv("ODAC_BIN_DIR");
    if (dir && *dir) {
        snprintf(g_actor_bin, sizeof g_actor_bin, "%s/odac-actor", dir);
        return;
    }
    char self[900];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    self[n > 0 ? n : 0] = '\0';
    char *slash = strrchr(self, '/');
    if (slash) *slash = '\0';
    snprintf(g_actor_bin, sizeof g_actor_bin, "%s/../bin/odac-actor", self);
}

typedef struct {
    void *ctx, *shard, *pub, *stats;
    char shard_ep[128], pub_ep[128], stats_ep[128];
} peers_t;

static void *bind_any(void *ctx, int type, char *ep, size_t cap) {
    void *s = wire_socket(ctx, type, "tcp://127.0.0.1:*", 1, 0, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    size_t n = cap;
    zmq_getsockopt(s, ZMQ_LAST_ENDPOINT, ep, &n);
    return s;
}

static void peers_open(peers_t *p) {
    p->ctx = zmq_ctx_new();
    p->shard = bind_any(p->ctx, ZMQ_PULL, p->shard_ep, sizeof p->shard_ep);
    p->pub = bind_any(p->ctx, ZMQ_PUB, p->pub_ep, sizeof p->pub_ep);
    p->stats = bind_any(p->ctx, ZMQ_PULL, p->stats_ep, sizeof p->stats_ep);
}

static void peers_close(peers_t *p) {
    zmq_close(p->shard);
    zmq_close(p->pub);
    zmq_close(p->stats);
    zmq_ctx_term(p->ctx);
}

/* Starts odac-actor with argv (NULL-terminated, argv[0] ignored); stderr goes to a pipe whose
 * read end is *stderr_fd (non-blocking). */
static pid_t spawn(char *const argv[], int *stderr_fd) {
    int fds[2];
    CU_ASSERT_FATAL(pipe(fds) == 0);
    pid_t pid = fork();
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], 2);
        close(fds[0]);
        close(fds[1]);
        execv(g_actor_bin, argv);
        _exit(127);
    }
    close(fds[1]);
    fcntl(fds[0], F_SETFL, O_NONBLOCK);
    *stderr_fd = fds[0];
    return pid;
}

/* Appends what the child wrote to stderr so far to buf (len so far in *len). */
static void read_stderr(int fd, char *buf, size_t cap, size_t *len) {
    for (;;) {
        if (*len + 1 >= cap) return;
        ssize_t n = read(fd, buf + *len, cap - 1 - *len);
        if (n <= 0) break;
        *len += (size_t)n;
    }
    buf[*len] = '\0';
}

/* Waits for the child to exit (up to timeout_s), waiting on the stats socket between checks
 * and draining it (counted in *n_stats when non-NULL). Exit status, or -1 on timeout (the child
 * is then killed). */
static int wait_exit(pid_t pid, peers_t *p, double timeout_s, int *n_stats) {
    double t0 = now_s();
    while (now_s() - t0 < timeout_s) {
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            wire_msg_t m;
            while (p && wire_recv(p->stats, &m, 0) == 1) {
                if (n_stats) (*n_stats)++;
                wire_msg_close(&m);
            }
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        }
        wire_msg_t m;
        if (!p) {
            zmq_poll(NULL, 0, 20); /* a bounded wait between checks */
        } else if (wire_recv(p->stats, &m, 20) == 1) {
            if (n_stats) (*n_stats)++;
            wire_msg_close(&m);
        }
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return -1;
}

/* Waits for one episode on the shard and (when want_stats) one stats message; 1 when both came
 * in time. */
static int wait_traffic(peers_t *p, double timeout_s, int want_stats) {
    int episode = 0, stats = !want_stats;
    double t0 = now_s();
    while ((!episode || !stats) && now_s() - t0 < timeout_s) {
        zmq_pollitem_t items[2] = {{p->shard, 0, ZMQ_POLLIN, 0}, {p->stats, 0, ZMQ_POLLIN, 0}};
        zmq_poll(items, 2, 100);
        wire_msg_t m;
        while (wire_recv(p->shard, &m, 0) == 1) {
            wire_reject_t reason;
            Odac__Episode *e = m.n_parts == 2
                                   ? wire_decode_episode(wire_msg_data(&m, 1), wire_msg_size(&m, 1),
                                                         &dims, &reason, err, sizeof err)
                                   : NULL;
            CU_ASSERT_PTR_NOT_NULL(e);
            if (e) {
                CU_ASSERT_EQUAL(e->length, 100);
                CU_ASSERT_EQUAL(e->actor_id, 4);
                odac__episode__free_unpacked(e, NULL);
                episode = 1;
            }
            wire_msg_close(&m);
        }
        while (wire_recv(p->stats, &m, 0) == 1) {
            wire_reject_t reason;
            Odac__ActorStats *s =
                m.n_parts == 2 ? wire_decode_actor_stats(wire_msg_data(&m, 1), wire_msg_size(&m, 1),
                                                         &reason, err, sizeof err)
                               : NULL;
            CU_ASSERT_PTR_NOT_NULL(s);
            if (s) {
                CU_ASSERT_EQUAL(s->actor_id, 4);
                odac__actor_stats__free_unpacked(s, NULL);
                stats = 1;
            }
            wire_msg_close(&m);
        }
    }
    return episode && stats;
}

static pid_t spawn_actor(peers_t *p, const char *stats_interval, int *stderr_fd) {
    char shards[160], weights[160], stats[160], interval[64];
    snprintf(interval, sizeof interval, "--stats-interval-ms=%s", stats_interval);
    snprintf(shards, sizeof shards, "--shards=%s", p->shard_ep);
    snprintf(weights, sizeof weights, "--weights=%s", p->pub_ep);
    snprintf(stats, sizeof stats, "--stats=%s", p->stats_ep);
    char *argv[] = {"odac-actor", "--env=box2d", "--actor-id=4", "--num-envs=4",   shards,
                    weights,      stats,         interval,       "--eval-every=0", NULL};
    return spawn(argv, stderr_fd);
}

static void test_sigterm_exits_zero(void) {
    peers_t p;
    peers_open(&p);
    int fd;
    /* Stats only when it stops: the one that arrives after SIGTERM is the final report. */
    pid_t pid = spawn_actor(&p, "3600000", &fd);
    CU_ASSERT(wait_traffic(&p, 20.0, 0));
    CU_ASSERT_EQUAL(kill(pid, SIGTERM), 0);
    double t0 = now_s();
    int n_stats = 0;
    CU_ASSERT_EQUAL(wait_exit(pid, &p, 10.0, &n_stats), 0);
    CU_ASSERT(now_s() - t0 < 5.0);
    CU_ASSERT_EQUAL(n_stats, 1);
    char log[8192];
    size_t len = 0;
    read_stderr(fd, log, sizeof log, &len);
    CU_ASSERT_PTR_NOT_NULL(strstr(log, "stopping"));
    close(fd);
    peers_close(&p);
}

static void test_run_finished_exits_zero(void) {
    peers_t p;
    peers_open(&p);
    int fd;
    pid_t pid = spawn_actor(&p, "50", &fd);
    CU_ASSERT(wait_traffic(&p, 20.0, 1));
    /* A finished run's last message: valid weights (a linear policy of zeros) with the flag;
     * weights that fail validation would not end the run. */
    env_spec_t spec;
    char err[256];
    CU_ASSERT_FATAL(env_spec_lookup("box2d", &spec, err, sizeof err) == 0);
    Odac__LayerShape shape = ODAC__LAYER_SHAPE__INIT, *shapes[1] = {&shape};
    shape.rows = (uint32_t)(spec.obs_dim + spec.goal_dim);
    shape.cols = (uint32_t)(2 * spec.action_dim);
    static float params[4096];
    CU_ASSERT_FATAL(shape.rows * shape.cols + shape.cols <= 4096);
    Odac__PolicyWeights w = ODAC__POLICY_WEIGHTS__INIT;
    w.protocol_version = WIRE_PROTOCOL_VERSION;
    w.version = 12;
    w.env_name = "box2d";
    w.n_layers = 1;
    w.layers = shapes;
    w.n_data = shape.rows * shape.cols + shape.cols;
    w.data = params;
    w.run_finished = 1;
    int status = -1;
    double t0 = now_s();
    while (now_s() - t0 < 20.0) {
        CU_ASSERT_EQUAL(wire_send_single(p.pub, &w.base, 0), 0);
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
            break;
        }
        wire_msg_t m;
        if (wire_recv(p.stats, &m, 20) == 1) wire_msg_close(&m);
    }
    if (status < 0) status = wait_exit(pid, &p, 0.0, NULL);
    CU_ASSERT_EQUAL(status, 0);
    char log[8192];
    size_t len = 0;
    read_stderr(fd, log, sizeof log, &len);
    CU_ASSERT_PTR_NOT_NULL(strstr(log, "run finished"));
    close(fd);
    peers_close(&p);
}

static void expect_refused(char *const argv[], const char *needle) {
    int fd;
    pid_t pid = spawn(argv, &fd);
    int status = wait_exit(pid, NULL, 10.0, NULL);
    CU_ASSERT(status > 0 && status != 127);
    char log[4096];
    size_t len = 0;
    read_stderr(fd, log, sizeof log, &len);
    CU_ASSERT_PTR_NOT_NULL(strstr(log, needle));
    if (!strstr(log, needle)) fprintf(stderr, "\n  stderr '%s' lacks '%s'\n", log, needle);
    close(fd);
}

static void test_bad_flags_refused(void) {
    char *unknown_env[] = {"odac-actor",
                           "--env=box3d",
                           "--shards=tcp://127.0.0.1:1",
                           "--weights=tcp://127.0.0.1:2",
                           "--stats=tcp://127.0.0.1:3",
                           NULL};
    expect_refused(unknown_env, "unknown env 'box3d'");
    char *no_envs[] = {"odac-actor",
                       "--env=box2d",
                       "--num-envs=0",
                       "--shards=tcp://127.0.0.1:1",
                       "--weights=tcp://127.0.0.1:2",
                       "--stats=tcp://127.0.0.1:3",
                       NULL};
    expect_refused(no_envs, "--num-envs");
    char *no_shards[] = {"odac-actor", "--env=box2d", "--weights=tcp://127.0.0.1:2",
                         "--stats=tcp://127.0.0.1:3", NULL};
    expect_refused(no_shards, "--shards is required");
    char *bad_goal[] = {"odac-actor",
                        "--env=box2d",
                        "--goal-mode=sometimes",
                        "--shards=tcp://127.0.0.1:1",
                        "--weights=tcp://127.0.0.1:2",
                        "--stats=tcp://127.0.0.1:3",
                        NULL};
    expect_refused(bad_goal, "--goal-mode");
}

int main(void) {
    signal(SIGPIPE, SIG_IGN);
    find_actor_bin();
    if (access(g_actor_bin, X_OK) != 0) {
        fprintf(stderr, "test_actor_process: %s not built\n", g_actor_bin);
        return 1;
    }
    const test_case_t cases[] = {
        {"SIGTERM: exit 0 promptly", test_sigterm_exits_zero},
        {"run_finished: exit 0", test_run_finished_exits_zero},
        {"bad flags: message and non-zero exit", test_bad_flags_refused},
        {NULL, NULL},
    };
    return test_run_suite("actor_process", cases);
}
