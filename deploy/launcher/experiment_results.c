/* experiment_results: tables and learning curves from the runs' progress.csv (see the header). */
#include "experiment_results.h"
#include "experiment_spec.h"
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

extern char **environ;

#define LINE_MAX_BYTES 65536
#define MAX_COLUMNS 256
#define CURVE_POINTS 60 /* grid of a learning curve's mean and band */

/* Splits line (modified) at commas into at most max fields; returns the count. */
static int split_csv(char *line, char **fields, int max) {
    int n = 0;
    line[strcspn(line, "\r\n")] = '\0';
    for (char *p = line; n < max;) {
        fields[n++] = p;
        char *c = strchr(p, ',');
        if (!c) break;
        *c = '\0';
        p = c + 1;
    }
    return n;
}

static int column(char **names, int n, const char *name) {
    for (int i = 0; i < n; i++)
        if (!strcmp(names[i], name)) return i;
    return -1;
}

static int push_eval(exp_run_t *r, int *cap, long long steps, double distance, double success,
                     double **succ) {
    if (r->n_evals == *cap) {
        int c = *cap ? 2 * *cap : 64;
        long long *s = realloc(r->curve_steps, (size_t)c * sizeof *s);
        if (s) r->curve_steps = s;
        double *d = realloc(r->curve_distance, (size_t)c * sizeof *d);
        if (d) r->curve_distance = d;
        double *u = realloc(*succ, (size_t)c * sizeof *u);
        if (u) *succ = u;
        if (!s || !d || !u) return -1;
        *cap = c;
    }
    r->curve_steps[r->n_evals] = steps;
    r->curve_distance[r->n_evals] = distance;
    (*succ)[r->n_evals] = success;
    r->n_evals++;
    return 0;
}

int exp_run_read(const char *run_dir, exp_run_t *r, char *err, size_t errcap) {
    r->env_steps = 0;
    r->n_evals = 0;
    r->final_distance = r->success_rate = NAN;
    r->curve_steps = NULL;
    r->curve_distance = NULL;
    char path[1024];
    snprintf(path, sizeof path, "%s/progress.csv", run_dir);
    FILE *f = fopen(path, "r");
    if (!f) return exp_fail(err, errcap, "%s: %s", path, strerror(errno));
    char *line = malloc(LINE_MAX_BYTES), *header = malloc(LINE_MAX_BYTES);
    char *names[MAX_COLUMNS], *fields[MAX_COLUMNS];
    double *succ = NULL;
    int cap = 0, rc = 0, lineno = 1;
    if (!line || !header || !fgets(header, LINE_MAX_BYTES, f)) {
        rc = exp_fail(err, errcap, "%s: empty or unreadable", path);
        goto out;
    }
    int n = split_csv(header, names, MAX_COLUMNS);
    int c_steps = column(names, n, "env_steps"), c_dist = column(names, n, "eval_distance_mean");
    int c_succ = column(names, n, "eval_success_rate");
    int c_ver = column(names, n, "eval_policy_version");
    if (c_steps < 0 || c_dist < 0 || c_succ < 0 || c_ver < 0) {
        rc = exp_fail(err, errcap,
                      "%s: lacks a column (env_steps, eval_distance_mean, eval_success_rate, "
                      "eval_policy_version)",
                      path);
        goto out;
    }
    char last_version[64] = "";
    while (fgets(line, LINE_MAX_BYTES, f)) {
        lineno++;
        if (split_csv(line, fields, MAX_COLUMNS) != n) {
            rc = exp_fail(err, errcap, "%s:%d: %s columns, the header has %d", path, lineno,
                          "other", n);
            goto out;
        }
        char *end;
        long long steps = strtoll(fields[c_steps], &end, 10);
        if (end == fields[c_steps] || *end || steps < 0) {
            rc = exp_fail(err, errcap, "%s:%d: env_steps '%.32s' is not a count", path, lineno,
                          fields[c_steps]);
            goto out;
        }
        r->env_steps = steps;
        double d = strtod(fields[c_dist], &end);
        if (isnan(d) || *end) continue; /* no evaluation yet */
        if (!strcmp(fields[c_ver], last_version)) continue;
        snprintf(last_version, sizeof last_version, "%s", fields[c_ver]);
        double s = strtod(fields[c_succ], &end);
        if (push_eval(r, &cap, steps, d, s, &succ)) {
            rc = exp_fail(err, errcap, "out of memory");
            goto out;
        }
    }
    if (r->n_evals > 0) {
        int k = r->n_evals < 3 ? r->n_evals : 3;
        double sd = 0, ss = 0;
        for (int i = r->n_evals - k; i < r->n_evals; i++) sd += r->curve_distance[i], ss += succ[i];
        r->final_distance = sd / k;
        r->success_rate = ss / k;
    }
out:
    fclose(f);
    free(line);
    free(header);
    free(succ);
    return rc;
}

int exp_run_identify(const char *run_dir, exp_run_t *r, char *err, size_t errcap) {
    char path[1024];
    snprintf(path, sizeof path, "%s/variant.json", run_dir);
    FILE *f = fopen(path, "rb");
    if (!f) return exp_fail(err, errcap, "%s: %s", path, strerror(errno));
    char buf[65536];
    size_t got = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[got] = '\0';
    cJSON *root = cJSON_Parse(buf);
    const cJSON *env = cJSON_GetObjectItemCaseSensitive(root, "env");
    const cJSON *var = cJSON_GetObjectItemCaseSensitive(root, "variant");
    const cJSON *seed = cJSON_GetObjectItemCaseSensitive(root, "seed");
    int ok = cJSON_IsString(env) && cJSON_IsString(var) && cJSON_IsNumber(seed) &&
             strlen(env->valuestring) < sizeof r->env &&
             strlen(var->valuestring) < sizeof r->variant;
    if (ok) {
        snprintf(r->env, sizeof r->env, "%s", env->valuestring);
        snprintf(r->variant, sizeof r->variant, "%s", var->valuestring);
        r->seed = (int)seed->valuedouble;
        if (!r->goal_mode[0]) snprintf(r->goal_mode, sizeof r->goal_mode, "fixed");
    }
    cJSON_Delete(root);
    return ok ? 0 : exp_fail(err, errcap, "%s: no env, variant and seed in it", path);
}

void exp_run_free(exp_run_t *r) {
    free(r->curve_steps);
    free(r->curve_distance);
    r->curve_steps = NULL;
    r->curve_distance = NULL;
}

/* The groups of a table: rows (env, goal mode) and columns (variant), in first-seen order. */
typedef struct {
    int n_rows, n_cols;
    char row_env[64][32], row_goal[64][8], col[16][32];
} layout_t;

static int find_or_add_row(layout_t *l, const exp_run_t *r) {
    for (int i = 0; i < l->n_rows; i++)
        if (!strcmp(l->row_env[i], r->env) && !strcmp(l->row_goal[i], r->goal_mode)) return i;
    if (l->n_rows == 64) return -1;
    snprintf(l->row_env[l->n_rows], 32, "%s", r->env);
    snprintf(l->row_goal[l->n_rows], 8, "%s", r->goal_mode);
    return l->n_rows++;
}

static int find_or_add_col(layout_t *l, const char *variant) {
    for (int i = 0; i < l->n_cols; i++)
        if (!strcmp(l->col[i], variant)) return i;
    if (l->n_cols == 16) return -1;
    snprintf(l->col[l->n_cols], 32, "%s", variant);
    return l->n_cols++;
}

typedef struct {
    int n, missing;
    double dist_mean, dist_std, succ_mean, steps_mean;
} cell_stats_t;

static void mean_std(const double *x, int n, double *mean, double *std) {
    double m = 0, v = 0;
    for (int i = 0; i < n; i++) m += x[i];
    m = n ? m / n : NAN;
    for (int i = 0; i < n; i++) v += (x[i] - m) * (x[i] - m);
    *mean = m;
    *std = n > 1 ? sqrt(v / (n - 1)) : (n == 1 ? 0.0 : NAN);
}

static cell_stats_t stats_of(const exp_run_t *runs, int n_runs, const char *env, const char *goal,
                             const char *variant) {
    cell_stats_t s = {0};
    double d[256], u[256], st[256];
    for (int i = 0; i < n_runs; i++) {
        const exp_run_t *r = &runs[i];
        if (strcmp(r->env, env) || strcmp(r->goal_mode, goal) || strcmp(r->variant, variant))
            continue;
        if (r->n_evals == 0 || s.n == 256) {
            s.missing++;
            continue;
        }
        d[s.n] = r->final_distance;
        u[s.n] = r->success_rate;
        st[s.n] = (double)r->env_steps;
        s.n++;
    }
    double ignore;
    mean_std(d, s.n, &s.dist_mean, &s.dist_std);
    mean_std(u, s.n, &s.succ_mean, &ignore);
    mean_std(st, s.n, &s.steps_mean, &ignore);
    return s;
}

static void row_name(const layout_t *l, int i, char *out, size_t cap) {
    if (!strcmp(l->row_goal[i], "fixed"))
        snprintf(out, cap, "%s", l->row_env[i]);
    else
        snprintf(out, cap, "%s (%s goals)", l->row_env[i], l->row_goal[i]);
}

static int write_tables(const char *out_dir, const char *title, const layout_t *l,
                        const exp_run_t *runs, int n_runs, char *err, size_t errcap) {
    char path[1024], tmp[1040];
    snprintf(path, sizeof path, "%s/table.md", out_dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *md = fopen(tmp, "w");
    if (!md) return exp_fail(err, errcap, "%s: %s", tmp, strerror(errno));
    fprintf(md,
            "# %s\n\nFinal distance, mean (std) over seeds (each seed: the mean of its last 3 "
            "evaluations; lower is better).\n\n| env |",
            title);
    for (int c = 0; c < l->n_cols; c++) fprintf(md, " %s |", l->col[c]);
    fprintf(md, "\n|---|");
    for (int c = 0; c < l->n_cols; c++) fprintf(md, "---|");
    fprintf(md, "\n");
    for (int i = 0; i < l->n_rows; i++) {
        char name[64];
        row_name(l, i, name, sizeof name);
        fprintf(md, "| %s |", name);
        for (int c = 0; c < l->n_cols; c++) {
            cell_stats_t s = stats_of(runs, n_runs, l->row_env[i], l->row_goal[i], l->col[c]);
            if (s.n)
                fprintf(md, " %.4g (%.2g) |", s.dist_mean, s.dist_std);
            else
                fprintf(md, " - |");
        }
        fprintf(md, "\n");
    }
    fprintf(md, "\n| env | variant | seeds | final distance | std | success rate | env steps | "
                "runs without evaluations |\n|---|---|---|---|---|---|---|---|\n");
    char csv_path[1024], csv_tmp[1040];
    snprintf(csv_path, sizeof csv_path, "%s/table.csv", out_dir);
    snprintf(csv_tmp, sizeof csv_tmp, "%s.tmp", csv_path);
    FILE *csv = fopen(csv_tmp, "w");
    if (!csv) {
        fclose(md);
        return exp_fail(err, errcap, "%s: %s", csv_tmp, strerror(errno));
    }
    fprintf(csv, "env,goal_mode,variant,seeds,final_distance_mean,final_distance_std,"
                 "success_rate_mean,env_steps_mean,runs_missing\n");
    for (int i = 0; i < l->n_rows; i++)
        for (int c = 0; c < l->n_cols; c++) {
            cell_stats_t s = stats_of(runs, n_runs, l->row_env[i], l->row_goal[i], l->col[c]);
            if (!s.n && !s.missing) continue;
            char name[64];
            row_name(l, i, name, sizeof name);
            fprintf(md, "| %s | %s | %d | %.4f | %.4f | %.3f | %.0f | %d |\n", name, l->col[c], s.n,
                    s.dist_mean, s.dist_std, s.succ_mean, s.steps_mean, s.missing);
            fprintf(csv, "%s,%s,%s,%d,%.6f,%.6f,%.6f,%.0f,%d\n", l->row_env[i], l->row_goal[i],
                    l->col[c], s.n, s.dist_mean, s.dist_std, s.succ_mean, s.steps_mean, s.missing);
        }
    int bad = ferror(md) | ferror(csv);
    bad |= fclose(md) != 0;
    bad |= fclose(csv) != 0;
    if (bad || rename(tmp, path) != 0 || rename(csv_tmp, csv_path) != 0)
        return exp_fail(err, errcap, "cannot write %s or %s", path, csv_path);
    return 0;
}

/* The distance of run r at env step x: its last evaluation at or before x (NAN before its
 * first). */
static double value_at(const exp_run_t *r, double x) {
    double v = NAN;
    for (int i = 0; i < r->n_evals && (double)r->curve_steps[i] <= x; i++) v = r->curve_distance[i];
    return v;
}

static int run_gnuplot(const char *script, char *err, size_t errcap) {
    char *argv[] = {"gnuplot", (char *)script, NULL};
    pid_t pid;
    int rc = posix_spawnp(&pid, "gnuplot", NULL, NULL, argv, environ);
    if (rc != 0)
        return exp_fail(err, errcap,
                        "cannot start gnuplot (%s): install gnuplot-nox (deploy/setup.sh)",
                        strerror(rc));
    int status;
    if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return exp_fail(err, errcap, "gnuplot failed on %s", script);
    return 0;
}

/* One PNG per row: per variant, the mean over seeds on a grid of env steps, with a band of one
 * standard deviation. */
static int write_plot(const char *out_dir, const layout_t *l, int row, const exp_run_t *runs,
                      int n_runs, char *err, size_t errcap) {
    char base[64], dat[1024], gp[1024], png[1024], plot_dir[1024];
    if (!strcmp(l->row_goal[row], "fixed"))
        snprintf(base, sizeof base, "%s", l->row_env[row]);
    else
        snprintf(base, sizeof base, "%s-%s", l->row_env[row], l->row_goal[row]);
    snprintf(plot_dir, sizeof plot_dir, "%s/plot", out_dir);
    if (mkdir(plot_dir, 0755) != 0 && errno != EEXIST)
        return exp_fail(err, errcap, "%s: %s", plot_dir, strerror(errno));
    snprintf(dat, sizeof dat, "%s/%s.dat", plot_dir, base);
    snprintf(gp, sizeof gp, "%s/%s.gp", plot_dir, base);
    snprintf(png, sizeof png, "%s/%s.png", out_dir, base);
    double max_steps = 0;
    for (int i = 0; i < n_runs; i++)
        if (!strcmp(runs[i].env, l->row_env[row]) && !strcmp(runs[i].goal_mode, l->row_goal[row]))
            for (int k = 0; k < runs[i].n_evals; k++)
                if ((double)runs[i].curve_steps[k] > max_steps)
                    max_steps = (double)runs[i].curve_steps[k];
    FILE *f = fopen(dat, "w");
    if (!f) return exp_fail(err, errcap, "%s: %s", dat, strerror(errno));
    int blocks[16], n_blocks = 0;
    for (int c = 0; c < l->n_cols; c++) {
        int rows = 0;
        for (int g = 0; g <= CURVE_POINTS; g++) {
            double x = max_steps * g / CURVE_POINTS, v[256];
            int n = 0;
            for (int i = 0; i < n_runs && n < 256; i++) {
                const exp_run_t *r = &runs[i];
                if (strcmp(r->env, l->row_env[row]) || strcmp(r->goal_mode, l->row_goal[row]) ||
                    strcmp(r->variant, l->col[c]))
                    continue;
                double y = value_at(r, x);
                if (!isnan(y)) v[n++] = y;
            }
            if (!n) continue;
            double m, s;
            mean_std(v, n, &m, &s);
            fprintf(f, "%.0f %.6g %.6g %.6g\n", x, m, m - s, m + s);
            rows++;
        }
        if (rows) {
            fprintf(f, "\n\n");
            blocks[n_blocks++] = c;
        }
    }
    if (fclose(f) != 0) return exp_fail(err, errcap, "cannot write %s", dat);
    if (!n_blocks) return 0; /* nothing evaluated yet: no picture */
    f = fopen(gp, "w");
    if (!f) return exp_fail(err, errcap, "%s: %s", gp, strerror(errno));
    char title[64];
    row_name(l, row, title, sizeof title);
    fprintf(f,
            "set terminal pngcairo size 800,500\nset output '%s'\nset title '%s'\n"
            "set xlabel 'env steps'\nset ylabel 'evaluation final distance'\nset key top right\n"
            "set grid\nset style fill transparent solid 0.2 noborder\nplot \\\n",
            png, title);
    for (int b = 0; b < n_blocks; b++)
        fprintf(f,
                "  '%s' index %d using 1:3:4 with filledcurves lc %d notitle, \\\n"
                "  '%s' index %d using 1:2 with lines lw 2 lc %d title '%s'%s\n",
                dat, b, b + 1, dat, b, b + 1, l->col[blocks[b]], b + 1 < n_blocks ? ", \\" : "");
    if (fclose(f) != 0) return exp_fail(err, errcap, "cannot write %s", gp);
    return run_gnuplot(gp, err, errcap);
}

int exp_results_write(const char *out_dir, const char *title, const exp_run_t *runs, int n_runs,
                      char *err, size_t errcap) {
    if (mkdir(out_dir, 0755) != 0 && errno != EEXIST)
        return exp_fail(err, errcap, "%s: %s", out_dir, strerror(errno));
    layout_t l = {0};
    for (int i = 0; i < n_runs; i++)
        if (find_or_add_row(&l, &runs[i]) < 0 || find_or_add_col(&l, runs[i].variant) < 0)
            return exp_fail(err, errcap, "more than 64 envs or 16 variants in one table");
    if (write_tables(out_dir, title, &l, runs, n_runs, err, errcap)) return -1;
    for (int i = 0; i < l.n_rows; i++)
        if (write_plot(out_dir, &l, i, runs, n_runs, err, errcap)) return -1;
    return 0;
}
