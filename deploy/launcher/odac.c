/* odac: the local launcher (the embedded default). `odac run --env box2d` starts the learner, the
 * replay shards and the actors as child processes on this machine with libuv, wires their
 * addresses on loopback, shows the learner's status, restarts a child that exits while the run
 * goes on (with backoff, logged) and stops all of them cleanly on Ctrl-C. The run ends when the
 * learner says it finished (exit 0 and its runs/<id>/run_finished file); a configuration the
 * learner refuses (odac-learner --check) is refused before anything starts, and an existing
 * run is only ever continued as a whole (--resume), never overwritten. */
#include "curve.h"
#include "flags.h"
#include "log.h"
#include "launcher_fs.h"
#include "odac_eval.h"
#include "odac_experiment.h"
#include "odac_status.h"
#include "parent_watch.h"
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#define MAX_CHILDREN 70
#define MAX_ARGS 64
#define RESTART_LIMIT 5 /* failures of one child within RESTART_WINDOW_S end the run */
#define RESTART_WINDOW_S 120.0
#define STOP_GRACE_MS 20000 /* SIGTERM, then SIGKILL after this long */

typedef enum { ROLE_LEARNER, ROLE_REPLAY, ROLE_ACTOR } role_t;

typedef struct {
    role_t role;
    int index;
    char name[32];
    char *argv[MAX_ARGS];
    int argc;
    char arg_store[MAX_ARGS][FLAGS_STR_MAX];
    char log_path[FLAGS_STR_MAX + 64]; /* empty: inherit the launcher's stderr */
    uv_process_t proc;
    uv_timer_t restart_timer;
    int running;
    int finished; /* exited 0 after the run ended: not restarted */
    int failures; /* in the current window */
    double window_start;
    double backoff_s;
} child_t;

static struct {
    char env[FLAGS_STR_MAX], variant[FLAGS_STR_MAX], run_dir[FLAGS_STR_MAX], run_id[FLAGS_STR_MAX];
    char bin_dir[FLAGS_STR_MAX], host[FLAGS_STR_MAX], config[FLAGS_STR_MAX];
    char goal_mode[FLAGS_STR_MAX];
    long long actors, shards, num_envs, seed, max_env_steps, base_port, learner_threads;
    double target_distance;
    int resume, no_keys;
    char keys[FLAGS_STR_MAX];
} opt = {"box2d", "odac", "runs", "",    "", "127.0.0.1", "", "fixed", 1, 1,
         8,       0,      200000, 15555, 0,  0.6,         0,  0,       ""};

static char run_path[FLAGS_STR_MAX * 2 + 8];
#define FINISHED_FILE "run_finished" /* learner/learner_server.h: LEARNER_FINISHED_FILE */

/* Whether the learner has said that the run finished. */
static int run_finished(void) {
    char path[sizeof run_path + 32];
    snprintf(path, sizeof path, "%s/%s", run_path, FINISHED_FILE);
    return access(path, F_OK) == 0;
}

/* --learner-threads, 0 meaning the cores this process may use less what the other children
 * take: measured in local runs, an actor stepping 8 envs at the learner's pace takes about a tenth
 * of a core at sawyer-push's 400,300 and a quarter at box2d's 64,64, a shard and this launcher
 * a few percent; so each actor counts a quarter core and each shard a tenth. On 2 cores one actor
 * and one shard leave the learner both. */
static int learner_threads(void) {
    if (opt.learner_threads > 0) return (int)opt.learner_threads;
    cpu_set_t set;
    int cores = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 1;
    int left = cores - (int)(0.25 * (double)opt.actors + 0.1 * (double)opt.shards);
    return left < 1 ? 1 : left > 64 ? 64 : left;
}

static child_t children[MAX_CHILDREN];
static int n_children;
static uv_loop_t *loop;
static uv_signal_t sigint_h, sigterm_h;
static uv_timer_t kill_timer;
static int stopping;
static int exit_code;

static double now_s(void) {
    return (double)uv_hrtime() * 1e-9;
}

static void add_arg(child_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add_arg(child_t *c, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->arg_store[c->argc], FLAGS_STR_MAX, fmt, ap);
    va_end(ap);
    c->argv[c->argc] = c->arg_store[c->argc];
    c->argv[++c->argc] = NULL;
}

static void spawn_child(child_t *c);

static void on_close_noop(uv_handle_t *h) {
    (void)h;
}

static int live_children(void) {
    int n = 0;
    for (int i = 0; i < n_children; i++) n += children[i].running;
    return n;
}

static void on_kill_timer(uv_timer_t *t) {
    (void)t;
    for (int i = 0; i < n_children; i++)
        if (children[i].running) {
            log_warn("%s did not stop within %d s: killing it", children[i].name,
                     STOP_GRACE_MS / 1000);
            uv_process_kill(&children[i].proc, SIGKILL);
        }
}

static void stop_all(int code) {
    if (stopping) return;
    stopping = 1;
    exit_code = code;
    log_info("stopping %d child process(es)", live_children());
    for (int i = 0; i < n_children; i++) {
        uv_timer_stop(&children[i].restart_timer);
        if (children[i].running) uv_process_kill(&children[i].proc, SIGTERM);
    }
    uv_timer_start(&kill_timer, on_kill_timer, STOP_GRACE_MS, 0);
}

static void maybe_finish(void) {
    if (stopping && live_children() == 0) {
        uv_timer_stop(&kill_timer);
        uv_signal_stop(&sigint_h);
        uv_signal_stop(&sigterm_h);
        uv_close((uv_handle_t *)&kill_timer, on_close_noop);
        uv_close((uv_handle_t *)&sigint_h, on_close_noop);
        uv_close((uv_handle_t *)&sigterm_h, on_close_noop);
        for (int i = 0; i < n_children; i++)
            uv_close((uv_handle_t *)&children[i].restart_timer, on_close_noop);
    }
}

static void on_restart_timer(uv_timer_t *t) {
    child_t *c = t->data;
    if (!stopping) spawn_child(c);
}

static void on_exit_cb(uv_process_t *p, int64_t status, int term_signal) {
    child_t *c = p->data;
    c->running = 0;
    uv_close((uv_handle_t *)p, on_close_noop);
    if (stopping) {
        log_info("%s stopped (status %lld%s%s)", c->name, (long long)status,
                 term_signal ? ", signal " : "", term_signal ? strsignal(term_signal) : "");
        maybe_finish();
        return;
    }
    if (status == 0 && term_signal == 0 && run_finished()) {
        c->finished = 1;
        if (c->role == ROLE_LEARNER) {
            log_info("learner finished the run: stopping the other processes");
            stop_all(0);
            maybe_finish();
        } else {
            log_info("%s exited 0 (run finished)", c->name);
        }
        return;
    }
    if (status == 2 && term_signal == 0) {
        /* Exit 2 is a configuration the child refuses: starting it again cannot help. */
        log_error("%s refused its configuration (exit 2, see its log): stopping the run", c->name);
        stop_all(2);
        maybe_finish();
        return;
    }
    double t = now_s();
    if (t - c->window_start > RESTART_WINDOW_S) {
        c->window_start = t;
        c->failures = 0;
        c->backoff_s = 1.0;
    }
    c->failures++;
    if (term_signal)
        log_warn("%s died with signal %s", c->name, strsignal(term_signal));
    else
        log_warn("%s exited with status %lld while the run goes on", c->name, (long long)status);
    if (c->failures > RESTART_LIMIT) {
        log_error("%s failed %d times within %.0f s: giving up on the run", c->name, c->failures,
                  RESTART_WINDOW_S);
        stop_all(1);
        maybe_finish();
        return;
    }
    log_warn("restarting %s in %.0f s (failure %d of %d allowed)", c->name, c->backoff_s,
             c->failures, RESTART_LIMIT);
    uv_timer_start(&c->restart_timer, on_restart_timer, (uint64_t)(c->backoff_s * 1000), 0);
    c->backoff_s = c->backoff_s * 2 > 30 ? 30 : c->backoff_s * 2;
    if (c->role == ROLE_LEARNER && c->argc + 1 < MAX_ARGS &&
        strcmp(c->argv[c->argc - 1], "--resume") != 0)
        add_arg(c, "--resume"); /* a restarted learner continues from its checkpoint */
}

static void spawn_child(child_t *c) {
    uv_process_options_t o;
    memset(&o, 0, sizeof o);
    o.file = c->argv[0];
    o.args = c->argv;
    o.exit_cb = on_exit_cb;
    uv_stdio_container_t stdio[3];
    int log_fd = -1;
    stdio[0].flags = UV_IGNORE;
    stdio[1].flags = UV_INHERIT_FD;
    stdio[1].data.fd = 1;
    stdio[2].flags = UV_INHERIT_FD;
    stdio[2].data.fd = 2;
    if (c->log_path[0]) {
        log_fd = open(c->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (log_fd >= 0) {
            stdio[1].data.fd = log_fd;
            stdio[2].data.fd = log_fd;
        }
    }
    o.stdio = stdio;
    o.stdio_count = 3;
    c->proc.data = c;
    int rc = uv_spawn(loop, &c->proc, &o);
    if (log_fd >= 0) close(log_fd);
    if (rc != 0) {
        log_error("cannot start %s (%s): %s", c->name, c->argv[0], uv_strerror(rc));
        uv_close((uv_handle_t *)&c->proc, on_close_noop);
        stop_all(1);
        maybe_finish();
        return;
    }
    c->running = 1;
    log_info("started %s (pid %d)%s%s", c->name, c->proc.pid, c->log_path[0] ? ", log " : "",
             c->log_path);
}

static void on_signal(uv_signal_t *h, int signum) {
    (void)h;
    log_info("got %s", strsignal(signum));
    stop_all(signum == SIGINT ? 130 : 143);
    maybe_finish();
}

static child_t *new_child(role_t role, int index, const char *binary) {
    child_t *c = &children[n_children++];
    memset(c, 0, sizeof *c);
    c->role = role;
    c->index = index;
    c->backoff_s = 1.0;
    c->window_start = now_s();
    static const char *const role_names[] = {"learner", "replay", "actor"};
    if (role == ROLE_LEARNER)
        snprintf(c->name, sizeof c->name, "learner");
    else
        snprintf(c->name, sizeof c->name, "%s-%d", role_names[role], index);
    add_arg(c, "%s/%s", opt.bin_dir, binary);
    uv_timer_init(loop, &c->restart_timer);
    c->restart_timer.data = c;
    return c;
}

/* Runs the learner's command line with --check and waits: a configuration or env it refuses is
 * refused here, before any process starts (its reason is on stderr). */
static int check_learner(const child_t *l) {
    char *argv[MAX_ARGS + 2];
    int n = 0;
    for (int i = 0; i < l->argc; i++) argv[n++] = l->argv[i];
    char check[] = "--check";
    argv[n++] = check;
    argv[n] = NULL;
    pid_t pid;
    extern char **environ;
    int rc = posix_spawn(&pid, argv[0], NULL, NULL, argv, environ);
    if (rc != 0) {
        fprintf(stderr, "odac: cannot run %s: %s\n", argv[0], strerror(rc));
        return -1;
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return -1;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return 0;
    fprintf(stderr,
            "odac: the learner refuses this run's configuration (above): nothing started\n");
    return -1;
}

/* odac keygen DIR [NAME...]: the servers' pair and the learner's and an actor's client pairs, or
 * (names given) one client pair each, added to DIR/allowed_clients. */
static int keygen(int argc, char **argv) {
    if (argc < 1 || argv[0][0] == '-') {
        fprintf(stderr, "usage: odac keygen DIR [NAME...]\n"
                        "  without names: DIR/server.{key,pub}, learner.*, actor.* and "
                        "allowed_clients;\n  with names: a client pair per name, added to "
                        "DIR/allowed_clients (e.g. an actor machine)\n");
        return 2;
    }
    const char *defaults[] = {"server", "learner", "actor"};
    int n = argc > 1 ? argc - 1 : 3;
    char err[1024];
    for (int i = 0; i < n; i++) {
        const char *name = argc > 1 ? argv[i + 1] : defaults[i];
        if (curve_keygen(argv[0], name, err, sizeof err) != 0) {
            fprintf(stderr, "odac keygen: %s\n", err);
            return 1;
        }
        printf("wrote %s/%s.key and %s.pub%s\n", argv[0], name, name,
               strcmp(name, "server") ? " (allowed)" : "");
    }
    return 0;
}

static const char *usage =
    "usage: odac run [options]\n"
    "Starts a local multi-process ODAC run (learner, replay shards, actors).";

int main(int argc, char **argv) {
    log_set_component("odac");
    if (argc >= 2 && !strcmp(argv[1], "keygen")) return keygen(argc - 2, argv + 2);
    if (argc >= 2 && !strcmp(argv[1], "eval")) return odac_eval_main(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "status")) return odac_status_main(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "experiment"))
        return odac_experiment_main(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "plot")) return odac_plot_main(argc - 1, argv + 1);
    if (argc < 2 || strcmp(argv[1], "run") != 0) {
        if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
            printf("%s\n(see odac run --help)\n", usage);
            return 0;
        }
        fprintf(
            stderr,
            "odac: expected the command 'run', 'eval', 'status', 'experiment', 'plot' or 'keygen' "
            "(try: odac run --env box2d)\n");
        return 2;
    }
    const flag_t table[] = {
        {"env", FLAG_STRING, opt.env, 0, -1, "environment name"},
        {"variant", FLAG_STRING, opt.variant, 0, -1, "ODAC variant (see odac-learner --help)"},
        {"learner-config", FLAG_STRING, opt.config, 0, -1,
         "JSON config file passed to the learner as --config"},
        {"actors", FLAG_INT, &opt.actors, 1, 64, "actor processes"},
        {"shards", FLAG_INT, &opt.shards, 1, 4, "replay shard processes"},
        {"num-envs", FLAG_INT, &opt.num_envs, 1, 1024, "envs stepped by each actor"},
        {"learner-threads", FLAG_INT, &opt.learner_threads, 0, 64,
         "threads of each learner update (0: the cores left after the actors and shards, used "
         "where the networks are wide enough to gain: see odac-learner --pool-min-width)"},
        {"seed", FLAG_INT, &opt.seed, 0, 2147483647, "run seed"},
        {"goal-mode", FLAG_STRING, opt.goal_mode, 0, -1,
         "actors' goals: fixed (the paper's) or random"},
        {"max-env-steps", FLAG_INT, &opt.max_env_steps, 1, 1e12, "env step budget of the run"},
        {"target-distance", FLAG_DOUBLE, &opt.target_distance, 0, 1e9,
         "stop when the evaluation final distance reaches this"},
        {"run-dir", FLAG_STRING, opt.run_dir, 0, -1, "directory holding runs"},
        {"run-id", FLAG_STRING, opt.run_id, 0, -1, "run name (default <env>-<variant>-<time>)"},
        {"base-port", FLAG_INT, &opt.base_port, 1024, 65000, "first loopback TCP port used"},
        {"host", FLAG_STRING, opt.host, 0, -1, "address the processes bind and connect to"},
        {"bin-dir", FLAG_STRING, opt.bin_dir, 0, -1,
         "directory of odac-learner/-replay/-actor (default: beside this program)"},
        {"keys", FLAG_STRING, opt.keys, 0, -1,
         "CURVE key directory for every process (default: generated in runs/<id>/keys)"},
        {"no-keys", FLAG_BOOL, &opt.no_keys, 0, -1,
         "run without CURVE (only on loopback; elsewhere the processes refuse)"},
        {"resume", FLAG_BOOL, &opt.resume, 0, -1,
         "continue the existing run --run-id as a whole (without it an existing run is refused)"},
    };
    const int n_table = sizeof table / sizeof *table;
    char err[1024];
    int rc = flags_parse(table, n_table, argc - 1, argv + 1, usage, NULL, NULL, err, sizeof err);
    if (rc == 1) return 0;
    if (rc != 0) {
        fprintf(stderr, "odac: %s\n", err);
        return 2;
    }
    if (strcmp(opt.goal_mode, "fixed") != 0 && strcmp(opt.goal_mode, "random") != 0) {
        fprintf(stderr, "odac: --goal-mode must be fixed or random (got '%s')\n", opt.goal_mode);
        return 2;
    }
    if (!opt.bin_dir[0]) {
        char self[FLAGS_STR_MAX];
        ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
        if (n <= 0) {
            fprintf(stderr, "odac: cannot find my own directory; pass --bin-dir\n");
            return 2;
        }
        self[n] = '\0';
        snprintf(opt.bin_dir, sizeof opt.bin_dir, "%s", dirname(self));
    }
    const char *bins[] = {"odac-learner", "odac-replay", "odac-actor"};
    for (int i = 0; i < 3; i++) {
        char path[FLAGS_STR_MAX * 2];
        snprintf(path, sizeof path, "%s/%s", opt.bin_dir, bins[i]);
        if (access(path, X_OK) != 0) {
            fprintf(stderr, "odac: %s is missing or not executable (build first, or --bin-dir)\n",
                    path);
            return 2;
        }
    }
    if (!opt.run_id[0]) {
        time_t t = time(NULL);
        struct tm tm;
        localtime_r(&t, &tm);
        char stamp[32];
        strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
        snprintf(opt.run_id, sizeof opt.run_id, "%s-%s-%s", opt.env, opt.variant, stamp);
    }
    char log_dir[FLAGS_STR_MAX * 2 + 16];
    if (strchr(opt.run_id, '/') || !strcmp(opt.run_id, ".") || !strcmp(opt.run_id, "..")) {
        fprintf(stderr, "odac: --run-id '%s' must be a plain name\n", opt.run_id);
        return 2;
    }
    snprintf(run_path, sizeof run_path, "%s/%s", opt.run_dir, opt.run_id);
    snprintf(log_dir, sizeof log_dir, "%s/logs", run_path);
    struct stat st;
    int existed = stat(run_path, &st) == 0;
    if (existed && !opt.resume) {
        fprintf(stderr,
                "odac: run %s already exists; pass --resume to continue it (learner, shards and "
                "progress from their checkpoints), or choose another --run-id\n",
                run_path);
        return 2;
    }
    if (launcher_mkdir_p(log_dir) != 0) {
        fprintf(stderr, "odac: cannot create %s: %s\n", log_dir, strerror(errno));
        return 2;
    }

    /* The run's token: the learner counts only stats that carry it, so only this run's actors
     * can move its counters or end it. Kept when the user set one (to add actors elsewhere). */
    const char *given = getenv("ODAC_RUN_TOKEN");
    if (!given || !*given) {
        unsigned char raw[16];
        char token[2 * sizeof raw + 1];
        int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
        if (fd < 0 || read(fd, raw, sizeof raw) != (ssize_t)sizeof raw) {
            fprintf(stderr, "odac: cannot read /dev/urandom for the run token\n");
            return 2;
        }
        close(fd);
        for (size_t i = 0; i < sizeof raw; i++) snprintf(token + 2 * i, 3, "%02x", raw[i]);
        setenv("ODAC_RUN_TOKEN", token, 1);
    }
    /* This launcher ends with an `odac experiment` that started it, and its children end with
     * it even if it is killed (common/parent_watch.h). */
    parent_watch_from_env();
    char self_pid[32];
    snprintf(self_pid, sizeof self_pid, "%d", (int)getpid());
    setenv("ODAC_EXIT_WITH_PARENT", self_pid, 1);
    /* CURVE keys: the user's, or this run's own (kept in the run dir, so --resume reuses them;
     * written once the learner accepted the configuration). */
    int own_keys = !opt.keys[0] && !opt.no_keys;
    if (own_keys) snprintf(opt.keys, sizeof opt.keys, "%s/keys", run_path);
    if (opt.keys[0]) setenv("ODAC_KEYS", opt.keys, 1); /* every child reads --keys from it */
    loop = uv_default_loop();
    int port = (int)opt.base_port;
    char weights_ep[128], stats_ep[128], sample_eps[FLAGS_STR_MAX] = "",
                                         insert_eps[FLAGS_STR_MAX] = "";
    snprintf(weights_ep, sizeof weights_ep, "tcp://%s:%d", opt.host, port);
    snprintf(stats_ep, sizeof stats_ep, "tcp://%s:%d", opt.host, port + 1);
    /* The learner's status socket: the next port of the range (base+5 on are the shards'). */
    char status_ep[128];
    snprintf(status_ep, sizeof status_ep, "tcp://%s:%d", opt.host, port + 2);
    for (int k = 0; k < opt.shards; k++) {
        int ins = port + 5 + 2 * k, smp = port + 6 + 2 * k;
        child_t *c = new_child(ROLE_REPLAY, k, "odac-replay");
        add_arg(c, "--env=%s", opt.env);
        add_arg(c, "--shard-id=%d", k);
        add_arg(c, "--insert-bind=tcp://%s:%d", opt.host, ins);
        add_arg(c, "--sample-bind=tcp://%s:%d", opt.host, smp);
        add_arg(c, "--checkpoint-dir=%s/replay-%d", run_path, k);
        add_arg(c, "--seed=%lld", opt.seed);
        snprintf(c->log_path, sizeof c->log_path, "%s/%s.log", log_dir, c->name);
        size_t a = strlen(insert_eps), s = strlen(sample_eps);
        snprintf(insert_eps + a, sizeof insert_eps - a, "%stcp://%s:%d", k ? "," : "", opt.host,
                 ins);
        snprintf(sample_eps + s, sizeof sample_eps - s, "%stcp://%s:%d", k ? "," : "", opt.host,
                 smp);
    }
    child_t *l = new_child(ROLE_LEARNER, 0, "odac-learner");
    add_arg(l, "--env=%s", opt.env);
    add_arg(l, "--variant=%s", opt.variant);
    if (opt.config[0]) add_arg(l, "--config=%s", opt.config);
    add_arg(l, "--run-dir=%s", opt.run_dir);
    add_arg(l, "--run-id=%s", opt.run_id);
    add_arg(l, "--shards=%s", sample_eps);
    add_arg(l, "--weights-bind=%s", weights_ep);
    add_arg(l, "--stats-bind=%s", stats_ep);
    add_arg(l, "--status-endpoint=%s", status_ep);
    add_arg(l, "--seed=%lld", opt.seed);
    add_arg(l, "--max-env-steps=%lld", opt.max_env_steps);
    add_arg(l, "--target-distance=%g", opt.target_distance);
    add_arg(l, "--threads=%d", learner_threads());
    /* Asked for by name, the threads are used at any width; chosen here, only where they pay. */
    if (opt.learner_threads > 0) add_arg(l, "--pool-min-width=0");
    if (check_learner(l) != 0) {
        if (!existed) { /* leave no trace of a run that never started */
            rmdir(log_dir);
            rmdir(run_path);
        }
        return 2;
    }
    if (own_keys) {
        char probe[sizeof opt.keys + 16];
        snprintf(probe, sizeof probe, "%s/server.key", opt.keys);
        if (access(probe, F_OK) != 0) {
            const char *names[] = {"server", "learner", "actor"};
            for (int i = 0; i < 3; i++)
                if (curve_keygen(opt.keys, names[i], err, sizeof err) != 0) {
                    fprintf(stderr, "odac: %s\n", err);
                    return 2;
                }
            log_info("generated this run's CURVE keys in %s", opt.keys);
        }
    }
    if (opt.resume) add_arg(l, "--resume");
    for (int j = 0; j < opt.actors; j++) {
        child_t *c = new_child(ROLE_ACTOR, j, "odac-actor");
        add_arg(c, "--env=%s", opt.env);
        add_arg(c, "--actor-id=%d", j);
        add_arg(c, "--goal-mode=%s", opt.goal_mode);
        add_arg(c, "--num-envs=%lld", opt.num_envs);
        add_arg(c, "--shards=%s", insert_eps);
        add_arg(c, "--weights=%s", weights_ep);
        add_arg(c, "--stats=%s", stats_ep);
        add_arg(c, "--seed=%lld", opt.seed);
        snprintf(c->log_path, sizeof c->log_path, "%s/%s.log", log_dir, c->name);
    }

    uv_timer_init(loop, &kill_timer);
    uv_signal_init(loop, &sigint_h);
    uv_signal_init(loop, &sigterm_h);
    uv_signal_start(&sigint_h, on_signal, SIGINT);
    uv_signal_start(&sigterm_h, on_signal, SIGTERM);
    log_info("run %s: env %s, variant %s, %lld shard(s), %lld actor(s) x %lld envs; logs in %s",
             opt.run_id, opt.env, opt.variant, opt.shards, opt.actors, opt.num_envs, log_dir);
    log_info("status: odac status %s%s%s", status_ep, opt.keys[0] ? " --keys " : "", opt.keys);
    for (int i = 0; i < n_children && !stopping; i++) spawn_child(&children[i]);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_loop_close(loop);
    log_info("run %s ended (exit %d); results in %s", opt.run_id, exit_code, run_path);
    return exit_code;
}
