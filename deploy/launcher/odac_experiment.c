/* odac_experiment: `odac experiment SPEC|PRESET` runs a grid of ordinary runs (each one `odac run`
 * child, cells at once up to the spec's parallel, each slot with its own block of ports), resumes
 * interrupted cells from their checkpoints, never reruns a finished one, retries a failing one a
 * bounded number of times, and ends with the table and learning curves of experiment_results.
 * `odac plot RUN_DIR...` draws the same for any runs.
 *
 * Its bookkeeping lives in RESULTS/<name>/state/: <run-id>.starts (one line per start of the
 * cell) and <run-id>.done (written when the cell's run reached its budget; it holds that budget,
 * so raising the spec's budget resumes the cell). The runs themselves are RUNS/<run-id>/. */
#include "odac_experiment.h"
#include "experiment_k8s.h"
#include "experiment_results.h"
#include "experiment_spec.h"
#include "flags.h"
#include "launcher_fs.h"
#include "log.h"
#include <arpa/inet.h>
#include <errno.h>
#include <libgen.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

extern char **environ;

/* JOB_OTHER: a cell this invocation leaves alone (--cell runs one). */
enum { JOB_PENDING, JOB_RUNNING, JOB_DONE, JOB_FAILED, JOB_OTHER };

typedef struct {
    exp_cell_t *cell;
    int state, attempts, slot;
    uv_process_t proc;
    long long steps_at_start, steps_now;
} job_t;

static struct {
    exp_spec_t spec;
    job_t *jobs;
    char self[FLAGS_STR_MAX], bin_dir[FLAGS_STR_MAX];
    char dir[EXP_PATH_MAX + 64]; /* results/<name> */
    int *slot_busy;
    int stopping, signals;
    double started;
    uv_loop_t *loop;
    uv_timer_t tick;
    uv_signal_t sigint_h, sigterm_h;
} X;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void state_path(const job_t *j, const char *ext, char *out, size_t cap) {
    snprintf(out, cap, "%s/state/%s.%s", X.dir, j->cell->run_id, ext);
}

static void run_path(const job_t *j, char *out, size_t cap) {
    snprintf(out, cap, "%s/%s", X.spec.runs_dir, j->cell->run_id);
}

/* Env steps in the cell's progress.csv (0 without one). */
static long long cell_steps(const job_t *j) {
    char dir[EXP_PATH_MAX * 2], err[256];
    run_path(j, dir, sizeof dir);
    exp_run_t r = {0};
    long long steps = exp_run_read(dir, &r, err, sizeof err) == 0 ? r.env_steps : 0;
    exp_run_free(&r);
    return steps;
}

/* A cell is finished when its done file records a budget at least the spec's. */
static int cell_done(const job_t *j) {
    char path[EXP_PATH_MAX * 2];
    state_path(j, "done", path, sizeof path);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    long long budget = 0;
    int ok = fscanf(f, "%lld", &budget) == 1;
    fclose(f);
    return ok && budget >= j->cell->budget;
}

static int write_text(const char *path, const char *mode, const char *text) {
    FILE *f = fopen(path, mode);
    if (!f) return -1;
    int bad = fputs(text, f) < 0;
    bad |= fclose(f) != 0;
    return bad ? -1 : 0;
}

/* The cell's learner options as a config file for the learner (NULL when it has none). */
static int learner_config_path(const job_t *j, char *out, size_t cap) {
    if (!strcmp(j->cell->learner_json, "{}")) return 0;
    snprintf(out, cap, "%s/state/%s.learner.json", X.dir, j->cell->run_id);
    return 1;
}

/* Whether every port of the slot's block is free on loopback now. */
static int ports_free(int base) {
    for (int p = base; p < base + EXP_PORT_STRIDE; p++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0) return 0;
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)p)};
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        int ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
        close(fd);
        if (!ok) return 0;
    }
    return 1;
}

static void counts(int *done, int *running, int *left, int *failed) {
    *done = *running = *left = *failed = 0;
    for (int i = 0; i < X.spec.n_cells; i++) switch (X.jobs[i].state) {
        case JOB_DONE:
            (*done)++;
            break;
        case JOB_RUNNING:
            (*running)++;
            break;
        case JOB_FAILED:
            (*failed)++;
            break;
        case JOB_OTHER:
            break;
        default:
            (*left)++;
        }
}

/* "done D/N, running R, left L, failed F, ETA": the time left from the env steps still to run
 * and the rate this invocation has trained at so far. */
static void progress_line(void) {
    int done, running, left, failed;
    counts(&done, &running, &left, &failed);
    long long gained = 0, remaining = 0;
    for (int i = 0; i < X.spec.n_cells; i++) {
        job_t *j = &X.jobs[i];
        if (j->state == JOB_RUNNING) j->steps_now = cell_steps(j);
        gained += j->steps_now - j->steps_at_start;
        if (j->state == JOB_RUNNING || j->state == JOB_PENDING)
            remaining += j->cell->budget > j->steps_now ? j->cell->budget - j->steps_now : 0;
    }
    double elapsed = now_s() - X.started;
    char eta[64] = "ETA unknown";
    if (gained > 0 && elapsed > 1) {
        double s = remaining / (gained / elapsed);
        snprintf(eta, sizeof eta, "ETA %.0f min", ceil(s / 60));
    }
    log_info("experiment %s: done %d/%d, running %d, left %d, failed %d; %s", X.spec.name, done,
             X.spec.n_cells, running, left, failed, eta);
}

static void schedule(void);

static void on_close(uv_handle_t *h) {
    (void)h;
}

static void on_exit_cb(uv_process_t *p, int64_t status, int term_signal) {
    job_t *j = p->data;
    X.slot_busy[j->slot] = 0;
    uv_close((uv_handle_t *)p, on_close);
    j->steps_now = cell_steps(j);
    if (X.stopping) {
        j->state = JOB_PENDING;
        log_info("cell %s stopped at %lld env steps (resumes next time)", j->cell->run_id,
                 j->steps_now);
    } else if (status == 0 && term_signal == 0 && j->steps_now >= j->cell->budget) {
        char path[EXP_PATH_MAX * 2], text[32];
        state_path(j, "done", path, sizeof path);
        snprintf(text, sizeof text, "%lld\n", j->cell->budget);
        if (write_text(path, "w", text) != 0) log_error("cannot write %s", path);
        j->state = JOB_DONE;
        log_info("cell %s finished (%lld env steps)", j->cell->run_id, j->steps_now);
    } else {
        j->attempts++;
        j->state = j->attempts > X.spec.retries ? JOB_FAILED : JOB_PENDING;
        log_error("cell %s: odac run ended (exit %lld, signal %d) at %lld of %lld env steps; %s "
                  "(log: %s/logs/%s.log)",
                  j->cell->run_id, (long long)status, term_signal, j->steps_now, j->cell->budget,
                  j->state == JOB_FAILED ? "gave up" : "retrying", X.dir, j->cell->run_id);
    }
    progress_line();
    schedule();
}

static int start_job(job_t *j, int slot) {
    const exp_cell_t *c = j->cell;
    int port = X.spec.base_port + EXP_PORT_STRIDE * slot;
    if (!ports_free(port)) {
        log_error("cell %s: a port of %d-%d is in use; change base_port", c->run_id, port,
                  port + EXP_PORT_STRIDE - 1);
        return -1;
    }
    char run_dir[EXP_PATH_MAX * 2], cfg[EXP_PATH_MAX * 2], log_path[EXP_PATH_MAX * 2];
    char starts[EXP_PATH_MAX * 2];
    run_path(j, run_dir, sizeof run_dir);
    struct stat st;
    int resume = stat(run_dir, &st) == 0;
    static char args[32][EXP_PATH_MAX * 2 + 32];
    char *argv[32];
    int n = 0;
#define ARG(...) (snprintf(args[n], sizeof args[n], __VA_ARGS__), argv[n] = args[n], n++)
    ARG("%s", X.self);
    ARG("run");
    ARG("--env=%s", c->env);
    ARG("--variant=%s", c->variant);
    ARG("--seed=%d", c->seed);
    ARG("--goal-mode=%s", c->goal_mode);
    ARG("--max-env-steps=%lld", c->budget);
    ARG("--target-distance=0"); /* every cell trains its whole budget */
    ARG("--run-dir=%s", X.spec.runs_dir);
    ARG("--run-id=%s", c->run_id);
    ARG("--base-port=%d", port);
    if (resume) ARG("--resume");
    if (learner_config_path(j, cfg, sizeof cfg)) ARG("--learner-config=%s", cfg);
    /* run options: a flat JSON object of integers (validated by experiment_spec) */
    const char *p = c->run_json;
    while ((p = strchr(p, '"')) && n < 30) {
        const char *k = p + 1, *q = strchr(k, '"');
        if (!q) break;
        const char *colon = strchr(q, ':');
        if (!colon) break;
        long long v = strtoll(colon + 1, NULL, 10);
        ARG("--%.*s=%lld", (int)(q - k), k, v);
        p = strpbrk(colon, ",}");
        if (!p) break;
    }
#undef ARG
    argv[n] = NULL;
    snprintf(log_path, sizeof log_path, "%s/logs/%s.log", X.dir, c->run_id);
    state_path(j, "starts", starts, sizeof starts);
    char line[128];
    snprintf(line, sizeof line, "%ld start %d%s\n", (long)time(NULL), j->attempts + 1,
             resume ? " resume" : "");
    if (write_text(starts, "a", line) != 0) {
        log_error("cannot write %s", starts);
        return -1;
    }
    uv_fs_t req;
    int fd = uv_fs_open(X.loop, &req, log_path, UV_FS_O_WRONLY | UV_FS_O_CREAT | UV_FS_O_APPEND,
                        0644, NULL);
    uv_fs_req_cleanup(&req);
    if (fd < 0) {
        log_error("cannot open %s: %s", log_path, uv_strerror(fd));
        return -1;
    }
    uv_stdio_container_t stdio[3] = {{.flags = UV_IGNORE},
                                     {.flags = UV_INHERIT_FD, .data.fd = fd},
                                     {.flags = UV_INHERIT_FD, .data.fd = fd}};
    uv_process_options_t o = {
        .file = X.self, .args = argv, .exit_cb = on_exit_cb, .stdio_count = 3, .stdio = stdio};
    j->proc.data = j;
    int rc = uv_spawn(X.loop, &j->proc, &o);
    close(fd);
    if (rc != 0) {
        log_error("cell %s: cannot start %s: %s", c->run_id, X.self, uv_strerror(rc));
        return -1;
    }
    j->state = JOB_RUNNING;
    j->slot = slot;
    X.slot_busy[slot] = 1;
    log_info("cell %s: %s on ports %d-%d", c->run_id, resume ? "resumed" : "started", port,
             port + EXP_PORT_STRIDE - 1);
    return 0;
}

static void maybe_finish(void) {
    int done, running, left, failed;
    counts(&done, &running, &left, &failed);
    if (running == 0 && (left == 0 || X.stopping)) {
        uv_timer_stop(&X.tick);
        uv_signal_stop(&X.sigint_h);
        uv_signal_stop(&X.sigterm_h);
        uv_close((uv_handle_t *)&X.tick, on_close);
        uv_close((uv_handle_t *)&X.sigint_h, on_close);
        uv_close((uv_handle_t *)&X.sigterm_h, on_close);
    }
}

static void schedule(void) {
    for (int i = 0; i < X.spec.n_cells && !X.stopping; i++) {
        job_t *j = &X.jobs[i];
        if (j->state != JOB_PENDING) continue;
        int slot = -1;
        for (int s = 0; s < X.spec.parallel && slot < 0; s++)
            if (!X.slot_busy[s]) slot = s;
        if (slot < 0) break;
        if (start_job(j, slot) != 0) { /* tried again at the next tick, a bounded number of times */
            j->attempts++;
            if (j->attempts > X.spec.retries) j->state = JOB_FAILED;
            break;
        }
    }
    maybe_finish();
}

static void on_tick(uv_timer_t *t) {
    (void)t;
    progress_line();
    schedule();
}

static void on_signal(uv_signal_t *h, int signum) {
    (void)h;
    X.signals++;
    X.stopping = 1;
    log_info("signal %d: stopping every cell (%s)", signum,
             X.signals > 1 ? "SIGKILL" : "SIGTERM: they checkpoint and exit");
    for (int i = 0; i < X.spec.n_cells; i++)
        if (X.jobs[i].state == JOB_RUNNING)
            uv_process_kill(&X.jobs[i].proc, X.signals > 1 ? SIGKILL : SIGTERM);
    maybe_finish();
}

/* The learner checks each distinct (env, variant, learner options) before anything starts. */
static int check_cells(void) {
    for (int i = 0; i < X.spec.n_cells; i++) {
        job_t *j = &X.jobs[i];
        if (j->state == JOB_OTHER) continue;
        int seen = 0;
        for (int k = 0; k < i && !seen; k++) {
            const exp_cell_t *a = X.jobs[k].cell, *b = j->cell;
            seen = !strcmp(a->env, b->env) && !strcmp(a->variant, b->variant) &&
                   !strcmp(a->learner_json, b->learner_json);
        }
        if (seen) continue;
        char cfg[EXP_PATH_MAX * 2], learner[FLAGS_STR_MAX * 2], a_env[64], a_var[64], a_cfg[1100];
        snprintf(learner, sizeof learner, "%s/odac-learner", X.bin_dir);
        snprintf(a_env, sizeof a_env, "--env=%s", j->cell->env);
        snprintf(a_var, sizeof a_var, "--variant=%s", j->cell->variant);
        char *argv[] = {learner, "--check", a_env, a_var, NULL, NULL};
        /* checked from a temporary file, so a refused spec leaves nothing behind */
        int tmp = -1;
        if (learner_config_path(j, cfg, sizeof cfg)) {
            const char *tmpdir = getenv("TMPDIR");
            snprintf(cfg, sizeof cfg, "%s/odac-experiment-XXXXXX",
                     tmpdir && *tmpdir ? tmpdir : "/tmp");
            tmp = mkstemp(cfg);
            size_t len = strlen(j->cell->learner_json);
            if (tmp < 0 || write(tmp, j->cell->learner_json, len) != (ssize_t)len) {
                fprintf(stderr, "odac experiment: cannot write a temporary file in %s\n", cfg);
                if (tmp >= 0) close(tmp), unlink(cfg);
                return -1;
            }
            close(tmp);
            snprintf(a_cfg, sizeof a_cfg, "--config=%s", cfg);
            argv[4] = a_cfg;
        }
        pid_t pid;
        int status = 0;
        int ok = posix_spawn(&pid, learner, NULL, NULL, argv, environ) == 0 &&
                 waitpid(pid, &status, 0) >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
        if (tmp >= 0) unlink(cfg);
        if (!ok) {
            fprintf(stderr,
                    "odac experiment: the learner refuses the options of cell %s (learner: %s); "
                    "nothing was started\n",
                    j->cell->run_id, j->cell->learner_json);
            return -1;
        }
    }
    return 0;
}

/* Every cell with learner options gets its config file in state/. */
static int write_learner_configs(void) {
    for (int i = 0; i < X.spec.n_cells; i++) {
        char cfg[EXP_PATH_MAX * 2];
        if (X.jobs[i].state == JOB_OTHER) continue; /* another pod's to write */
        if (learner_config_path(&X.jobs[i], cfg, sizeof cfg) &&
            write_text(cfg, "w", X.jobs[i].cell->learner_json) != 0) {
            fprintf(stderr, "odac experiment: cannot write %s\n", cfg);
            return -1;
        }
    }
    return 0;
}

/* Reads every run of the list that has a progress.csv and writes the table and the curves. */
static int write_results(const char *out_dir, const char *title, exp_run_t *runs, int n) {
    char err[1024];
    if (exp_results_write(out_dir, title, runs, n, err, sizeof err) != 0) {
        fprintf(stderr, "odac: %s\n", err);
        return -1;
    }
    log_info("results: %s/table.md, %s/table.csv and a learning curve per env (%s/<env>.png)",
             out_dir, out_dir, out_dir);
    return 0;
}

static int self_paths(void) {
    ssize_t n = readlink("/proc/self/exe", X.self, sizeof X.self - 1);
    if (n <= 0) return -1;
    X.self[n] = '\0';
    char copy[FLAGS_STR_MAX];
    snprintf(copy, sizeof copy, "%s", X.self);
    snprintf(X.bin_dir, sizeof X.bin_dir, "%s", dirname(copy));
    return 0;
}

/* Reads the runs of the cells that have one and writes the table and the curves; 0, or -1. */
static int report(void) {
    char err[1024];
    exp_run_t *runs = calloc(X.spec.n_cells > 0 ? (size_t)X.spec.n_cells : 1, sizeof *runs);
    if (!runs) return -1;
    int n = 0;
    for (int i = 0; i < X.spec.n_cells; i++) {
        const exp_cell_t *c = &X.spec.cells[i];
        char dir[EXP_PATH_MAX * 2];
        run_path(&X.jobs[i], dir, sizeof dir);
        exp_run_t *r = &runs[n];
        snprintf(r->env, sizeof r->env, "%s", c->env);
        snprintf(r->variant, sizeof r->variant, "%s", c->variant);
        snprintf(r->goal_mode, sizeof r->goal_mode, "%s", c->goal_mode);
        r->seed = c->seed;
        if (exp_run_read(dir, r, err, sizeof err) == 0)
            n++;
        else
            exp_run_free(r);
    }
    int rc = write_results(X.dir, X.spec.name, runs, n);
    for (int i = 0; i < n; i++) exp_run_free(&runs[i]);
    free(runs);
    return rc;
}

static const char *experiment_usage =
    "usage: odac experiment SPEC.json|PRESET [--dry-run] [--cell K|auto] [--report]\n"
    "                       [--runs-dir DIR] [--results-dir DIR] [--k8s DIR [--image IMAGE]]\n"
    "Runs a grid of envs x variants x goal modes x seeds (README \"Experiments\"), resumable;\n"
    "ends with RESULTS/<name>/table.md, table.csv and <env>.png. Presets: quick, paper.\n"
    "  --dry-run          validate the spec and list the cells (index order) without starting any\n"
    "  --cell K           run only cell K (0-based; auto: $JOB_COMPLETION_INDEX), no report\n"
    "  --report           start nothing: the table and curves of the runs there are (exit 1 while\n"
    "                     a cell is unfinished)\n"
    "  --runs-dir, --results-dir  replace the spec's runs_dir and results_dir\n"
    "  --k8s DIR          write Kubernetes manifests: an Indexed Job, one cell per index\n"
    "                     (--image, default odac:latest), and DIR/report.yaml";

/* "--name VALUE" or "--name=VALUE" at argv[*i]: the value (advancing *i), or NULL. */
static const char *option_value(int argc, char **argv, int *i, const char *name) {
    size_t n = strlen(name);
    if (strncmp(argv[*i], name, n) != 0) return NULL;
    if (argv[*i][n] == '=') return argv[*i] + n + 1;
    if (argv[*i][n] == '\0' && *i + 1 < argc) return argv[++*i];
    return NULL;
}

/* --cell's value: a cell index below n_cells, or auto (the Indexed Job's JOB_COMPLETION_INDEX). */
static int parse_cell(const char *arg, int n_cells) {
    const char *v = arg;
    if (!strcmp(arg, "auto")) {
        v = getenv("JOB_COMPLETION_INDEX");
        if (!v) {
            fprintf(stderr, "odac experiment: --cell auto: JOB_COMPLETION_INDEX is not set\n");
            return -1;
        }
    }
    char *end;
    errno = 0;
    long k = strtol(v, &end, 10);
    if (errno || end == v || *end || k < 0 || k >= n_cells) {
        fprintf(stderr, "odac experiment: --cell '%.32s': a cell index from 0 to %d\n", v,
                n_cells - 1);
        return -1;
    }
    return (int)k;
}

int odac_experiment_main(int argc, char **argv) {
    log_set_component("odac-experiment");
    int dry_run = 0, only_report = 0;
    const char *spec_arg = NULL, *cell_arg = NULL, *k8s_dir = NULL, *image = "odac:latest";
    const char *runs_dir = NULL, *results_dir = NULL;
    for (int i = 1; i < argc; i++) {
        const char *v;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("%s\n", experiment_usage);
            return 0;
        } else if (!strcmp(argv[i], "--dry-run")) {
            dry_run = 1;
        } else if (!strcmp(argv[i], "--report")) {
            only_report = 1;
        } else if ((v = option_value(argc, argv, &i, "--cell"))) {
            cell_arg = v;
        } else if ((v = option_value(argc, argv, &i, "--k8s"))) {
            k8s_dir = v;
        } else if ((v = option_value(argc, argv, &i, "--image"))) {
            image = v;
        } else if ((v = option_value(argc, argv, &i, "--runs-dir"))) {
            runs_dir = v;
        } else if ((v = option_value(argc, argv, &i, "--results-dir"))) {
            results_dir = v;
        } else if (argv[i][0] == '-' || spec_arg) {
            fprintf(stderr, "odac experiment: unexpected argument '%s'\n%s\n", argv[i],
                    experiment_usage);
            return 2;
        } else {
            spec_arg = argv[i];
        }
    }
    if (!spec_arg) {
        fprintf(stderr, "odac experiment: a spec file or preset is required\n%s\n",
                experiment_usage);
        return 2;
    }
    if (dry_run + only_report + (cell_arg != NULL) + (k8s_dir != NULL) > 1) {
        fprintf(stderr, "odac experiment: --dry-run, --cell, --report and --k8s exclude each "
                        "other\n");
        return 2;
    }
    const char *paths[] = {runs_dir, results_dir};
    for (int k = 0; k < 2; k++)
        if (paths[k] && (!paths[k][0] || strlen(paths[k]) >= EXP_PATH_MAX)) {
            fprintf(stderr, "odac experiment: %s must be a path of 1 to %d bytes\n",
                    k ? "--results-dir" : "--runs-dir", EXP_PATH_MAX - 1);
            return 2;
        }
    if (self_paths() != 0) {
        fprintf(stderr, "odac experiment: cannot find my own program\n");
        return 2;
    }
    char presets[FLAGS_STR_MAX * 2], err[1024];
    snprintf(presets, sizeof presets, "%s/../share/odac/experiments", X.bin_dir);
    char *spec_text = NULL;
    if (exp_spec_read(spec_arg, presets, &spec_text, err, sizeof err) != 0) {
        fprintf(stderr, "odac experiment: %s\n", err);
        return 2;
    }
    char why[512];
    if (exp_spec_parse(spec_text, &X.spec, why, sizeof why) != 0) {
        fprintf(stderr, "odac experiment: %s: %s\n", spec_arg, why);
        free(spec_text);
        return 2;
    }
    if (runs_dir) snprintf(X.spec.runs_dir, sizeof X.spec.runs_dir, "%s", runs_dir);
    if (results_dir) snprintf(X.spec.results_dir, sizeof X.spec.results_dir, "%s", results_dir);
    if (k8s_dir) {
        int rc = exp_k8s_write(k8s_dir, &X.spec, spec_text, image, err, sizeof err);
        if (rc != 0)
            fprintf(stderr, "odac experiment: %s\n", err);
        else
            printf("wrote %s/{kustomization,namespace,experiment,report}.yaml: %d cells, %d at "
                   "once\n",
                   k8s_dir, X.spec.n_cells, X.spec.parallel);
        free(spec_text);
        exp_spec_free(&X.spec);
        return rc ? 2 : 0;
    }
    free(spec_text);
    snprintf(X.dir, sizeof X.dir, "%s/%s", X.spec.results_dir, X.spec.name);
    X.jobs = calloc(X.spec.n_cells > 0 ? (size_t)X.spec.n_cells : 1, sizeof *X.jobs);
    X.slot_busy = calloc((size_t)X.spec.parallel, sizeof *X.slot_busy);
    if (!X.jobs || !X.slot_busy) return 2;
    for (int i = 0; i < X.spec.n_cells; i++) X.jobs[i].cell = &X.spec.cells[i];
    if (dry_run) {
        for (int i = 0; i < X.spec.n_cells; i++) {
            const exp_cell_t *c = &X.spec.cells[i];
            printf("%s env=%s variant=%s goal_mode=%s seed=%d budget=%lld run=%s learner=%s\n",
                   c->run_id, c->env, c->variant, c->goal_mode, c->seed, c->budget, c->run_json,
                   c->learner_json);
        }
        return 0;
    }
    if (only_report) {
        int unfinished = 0;
        for (int i = 0; i < X.spec.n_cells; i++)
            if (!cell_done(&X.jobs[i])) {
                char path[EXP_PATH_MAX * 2];
                state_path(&X.jobs[i], "failed", path, sizeof path);
                log_error("cell %s %s", X.spec.cells[i].run_id,
                          access(path, F_OK) == 0 ? "failed (gave up)" : "is not finished");
                unfinished++;
            }
        int rc = report() != 0 || unfinished ? 1 : 0;
        log_info("experiment %s: report of %d cells, %d unfinished", X.spec.name, X.spec.n_cells,
                 unfinished);
        exp_spec_free(&X.spec);
        free(X.jobs);
        free(X.slot_busy);
        return rc;
    }
    int only = -1;
    if (cell_arg) {
        only = parse_cell(cell_arg, X.spec.n_cells);
        if (only < 0) return 2;
        for (int i = 0; i < X.spec.n_cells; i++)
            if (i != only) X.jobs[i].state = JOB_OTHER;
        X.spec.parallel = 1;
    }
    if (check_cells() != 0) return 2;
    char sub[EXP_PATH_MAX * 2];
    const char *subs[] = {"state", "logs"};
    for (int k = 0; k < 2; k++) {
        snprintf(sub, sizeof sub, "%s/%s", X.dir, subs[k]);
        if (launcher_mkdir_p(sub) != 0) {
            fprintf(stderr, "odac experiment: cannot create %s: %s\n", sub, strerror(errno));
            return 2;
        }
    }
    if (launcher_mkdir_p(X.spec.runs_dir) != 0) {
        fprintf(stderr, "odac experiment: cannot create %s: %s\n", X.spec.runs_dir,
                strerror(errno));
        return 2;
    }
    if (write_learner_configs() != 0) return 2;
    int already = 0;
    for (int i = 0; i < X.spec.n_cells; i++) {
        job_t *j = &X.jobs[i];
        if (j->state == JOB_OTHER) continue;
        j->steps_at_start = j->steps_now = cell_steps(j);
        if (cell_done(j)) j->state = JOB_DONE, already++;
    }
    /* the launcher's children end with it; its own `odac run` children end with this runner */
    char pid[32];
    snprintf(pid, sizeof pid, "%d", (int)getpid());
    setenv("ODAC_EXIT_WITH_PARENT", pid, 1);
    if (only >= 0)
        log_info("experiment %s: cell %d of %d (%s)%s; runs in %s", X.spec.name, only,
                 X.spec.n_cells, X.spec.cells[only].run_id, already ? ", finished before" : "",
                 X.spec.runs_dir);
    else
        log_info("experiment %s: %d cells (%d finished before), %d at once; runs in %s, results "
                 "in %s",
                 X.spec.name, X.spec.n_cells, already, X.spec.parallel, X.spec.runs_dir, X.dir);
    X.started = now_s();
    X.loop = uv_default_loop();
    uv_timer_init(X.loop, &X.tick);
    uv_timer_start(&X.tick, on_tick, 10000, 10000);
    uv_signal_init(X.loop, &X.sigint_h);
    uv_signal_init(X.loop, &X.sigterm_h);
    uv_signal_start(&X.sigint_h, on_signal, SIGINT);
    uv_signal_start(&X.sigterm_h, on_signal, SIGTERM);
    progress_line();
    schedule();
    uv_run(X.loop, UV_RUN_DEFAULT);
    uv_loop_close(X.loop);
    int done, running, left, failed;
    counts(&done, &running, &left, &failed);
    int rc = 0;
    if (X.stopping) {
        log_info("experiment %s stopped: %d of %d cells finished; run the same command to go on",
                 X.spec.name, done, X.spec.n_cells);
        rc = 130;
    } else {
        /* one cell of many: the report is the report Job's (or --report's) */
        if (only < 0 && report() != 0) rc = 1;
        for (int i = 0; i < X.spec.n_cells; i++)
            if (X.jobs[i].state == JOB_FAILED)
                log_error("cell %s failed %d times (log: %s/logs/%s.log)", X.jobs[i].cell->run_id,
                          X.jobs[i].attempts, X.dir, X.jobs[i].cell->run_id);
        if (failed) rc = 1;
        if (only >= 0 && failed) {
            /* In a Job a failing index would be replaced until the Job's backoffLimit ends the
             * whole grid: the cell is recorded as failed and the pod ends normally, as a local
             * grid goes on past a failed cell. */
            char path[EXP_PATH_MAX * 2];
            state_path(&X.jobs[only], "failed", path, sizeof path);
            if (write_text(path, "w", "gave up\n") == 0) rc = 0;
            log_error("experiment %s: cell %d gave up (%s); the report names it", X.spec.name, only,
                      path);
        } else if (only >= 0) {
            log_info("experiment %s: cell %d finished", X.spec.name, only);
        } else {
            log_info("experiment %s: %d of %d cells finished, %d failed", X.spec.name, done,
                     X.spec.n_cells, failed);
        }
    }
    exp_spec_free(&X.spec);
    free(X.jobs);
    free(X.slot_busy);
    return rc;
}

static const char *plot_usage =
    "usage: odac plot [--out DIR] RUN_DIR...\n"
    "Writes DIR/table.md, table.csv and <env>.png (learning curves, one line per variant, mean\n"
    "and a band of one std over seeds) for the given runs (default DIR: plots).";

int odac_plot_main(int argc, char **argv) {
    log_set_component("odac-plot");
    const char *out = "plots";
    exp_run_t *runs = calloc(argc > 0 ? (size_t)argc : 1, sizeof *runs);
    int n = 0, rc = 0;
    char err[1024];
    if (!runs) return 2;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("%s\n", plot_usage);
            free(runs);
            return 0;
        }
        if (!strcmp(argv[i], "--out")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "odac plot: --out needs a directory\n%s\n", plot_usage);
                rc = 2;
                break;
            }
            out = argv[++i];
            continue;
        }
        if (argv[i][0] == '-') {
            fprintf(stderr, "odac plot: unknown option '%s'\n%s\n", argv[i], plot_usage);
            rc = 2;
            break;
        }
        exp_run_t *r = &runs[n];
        if (exp_run_identify(argv[i], r, err, sizeof err) != 0 ||
            exp_run_read(argv[i], r, err, sizeof err) != 0) {
            fprintf(stderr, "odac plot: %s\n", err);
            exp_run_free(r);
            rc = 1;
            break;
        }
        n++;
    }
    if (!rc && n == 0) {
        fprintf(stderr, "odac plot: no run given\n%s\n", plot_usage);
        rc = 2;
    }
    if (!rc && (launcher_mkdir_p(out) != 0 || write_results(out, "odac plot", runs, n) != 0))
        rc = 1;
    for (int i = 0; i < n; i++) exp_run_free(&runs[i]);
    free(runs);
    return rc;
}
