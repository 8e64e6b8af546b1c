/* experiment_results: what runs reached, read from their own progress.csv, as the paper's table
 * (table.md, table.csv) and learning curves (<env>.png, drawn by gnuplot), for `odac experiment`
 * and `odac plot`.
 *
 * A run's evaluations are the progress rows whose eval_distance_mean is a number, told apart by
 * eval_policy_version (rows repeat the latest evaluation until the next one); its final distance
 * and success rate are the means over its last 3 evaluations (fewer if it had fewer), its env
 * steps those of its last row: the same rule as tests/bench/bench_learn.sh. Over the seeds of one
 * (env, goal mode, variant): the mean and the sample standard deviation (n - 1; 0 for one seed). */
#ifndef ODAC_EXPERIMENT_RESULTS_H
#define ODAC_EXPERIMENT_RESULTS_H
#include <stddef.h>

typedef struct {
    char env[32], variant[32], goal_mode[8];
    int seed;
    long long env_steps;    /* last progress row */
    int n_evals;            /* distinct evaluations */
    double final_distance;  /* mean of the last 3 evaluations (NAN without any) */
    double success_rate;    /* likewise */
    long long *curve_steps; /* env steps of each evaluation (owned) */
    double *curve_distance; /* its final distance */
} exp_run_t;

/* Reads RUN_DIR/progress.csv into r (env, variant, goal mode and seed are the caller's). 0, or -1
 * with a message (no file, a missing column, a malformed row). */
int exp_run_read(const char *run_dir, exp_run_t *r, char *err, size_t errcap);
/* Reads RUN_DIR/variant.json's env, variant and seed (goal mode: "fixed" unless given). */
int exp_run_identify(const char *run_dir, exp_run_t *r, char *err, size_t errcap);
void exp_run_free(exp_run_t *r);

/* Writes OUT_DIR/table.md, table.csv and one OUT_DIR/<env>[-random].png per env and goal mode
 * (gnuplot; its data and script beside it in OUT_DIR/plot/). Runs without evaluations count as
 * missing. title names the table. 0, or -1 with a message (a table that could not be written, or
 * gnuplot missing or failing: the tables are written first). */
int exp_results_write(const char *out_dir, const char *title, const exp_run_t *runs, int n_runs,
                      char *err, size_t errcap);

#endif
