/* bench_learner: ODAC update throughput against raw cblas_sgemm on the same machine and thread
 * count. Prints one JSON object per line:
 *   {"bench":"odac_update","shape":"ant","threads":1,"updates_per_s":..,"gflop_per_update":..,
 *    "sgemm_gflops":..,"roofline_frac":..,"machine":".."}
 * Shapes: ant (obs 30, goal 15, action 8, policy and critics [400, 300], model [64, 64]) and box2d
 * (obs 2, goal 2, action 2, [64, 64] everywhere), batch 256, variant odac with each env's settings.
 * gflop_per_update counts the update's matrix products (learner_update_flops); sgemm_gflops is a
 * 256x400x300 product; roofline_frac = updates_per_s * gflop_per_update / sgemm_gflops (the
 * fraction of the raw sgemm rate the whole update sustains). Updates and sgemm are timed in
 * alternating rounds, each figure its best round, so load from other processes hits both alike.
 * At 1 thread the same three figures over the thread's CPU time are added (cpu_updates_per_s,
 * cpu_sgemm_gflops, cpu_roofline_frac): with one BLAS thread all work runs on the calling thread,
 * so these stay meaningful when other processes load the machine (wall figures then drop).
 * Threads: the learner's own (learner_config_t.threads, used at every width: pool_min_width 0;
 * ant's passes cut between them, box2d's update run as two lanes, as lanes_below_width picks),
 * at 1, 2, 4 and 8 up to the machine's cores, measured in alternating rounds; lines past 1 thread
 * add speedup_vs_1_thread. OpenBLAS, here also the 1-thread sgemm reference, stays single-threaded
 * (its idle threads spin and would take the cores the learner's threads need). ODAC_THREADS=n
 * runs n only; ODAC_SHAPE=ant or box2d runs that shape only; ODAC_BLAS_THREADS=n gives OpenBLAS n
 * threads instead (lines add blas_threads), for comparison. */
#include "benchutil.h"
#include "learner_core.h"
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define ROUNDS 5
#define N_BATCHES 8
#define BATCH 256

static double clock_s(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static double now(void) {
    return clock_s(CLOCK_MONOTONIC);
}
static double cpu_now(void) {
    return clock_s(CLOCK_THREAD_CPUTIME_ID);
}

/* A rate over wall time and over this thread's CPU time (with one BLAS thread all the work runs
 * on the calling thread, so the CPU-time rate is what the work costs, whatever else the machine
 * runs). */
typedef struct {
    double wall, cpu;
} rate_t;

typedef struct {
    int M, N, K;
    float *A, *B, *C;
} sgemm_t;

/* sgemm calls per second over about seconds. */
static rate_t sgemm_rate(sgemm_t *s, double seconds) {
    long calls = 0;
    double t0 = now(), c0 = cpu_now(), t;
    do {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, s->M, s->N, s->K, 1.0f, s->A, s->K,
                    s->B, s->N, 0.0f, s->C, s->N);
        calls++;
        t = now() - t0;
    } while (t < seconds);
    rate_t r = {calls / t, calls / (cpu_now() - c0)};
    return r;
}

/* Updates per second over about seconds, cycling through the batches. */
static rate_t update_rate(learner_t *L, const learner_batch_t *batches, double seconds) {
    long calls = 0;
    char err[256];
    double t0 = now(), c0 = cpu_now(), t;
    do {
        if (learner_update(L, &batches[calls % N_BATCHES], err, sizeof err)) {
            fprintf(stderr, "bench_learner: %s\n", err);
            exit(1);
        }
        calls++;
        t = now() - t0;
    } while (t < seconds);
    rate_t r = {calls / t, calls / (cpu_now() - c0)};
    return r;
}

/* One learner of shape spec per thread count, each measured in the same alternating rounds (so a
 * slow spell of a shared machine hits every count alike); one line per count. */
static void bench_shape(const char *shape, const env_spec_t *spec, const int *threads, int n_counts,
                        sgemm_t *sg, const char *machine) {
    learner_t *L[8];
    char err[256];
    learner_config_t cfg;
    for (int c = 0; c < n_counts; c++) {
        if (learner_config_for_env(&cfg, spec, err, sizeof err)) {
            fprintf(stderr, "bench_learner: %s\n", err);
            exit(1);
        }
        cfg.batch_size = BATCH;
        cfg.seed = 7;
        cfg.threads = threads[c];
        cfg.pool_min_width = 0;
        if (!(L[c] = learner_new(&cfg, err, sizeof err))) {
            fprintf(stderr, "bench_learner: %s\n", err);
            exit(1);
        }
    }
    rng_t r;
    rng_seed(&r, 99, 0);
    learner_batch_t batches[N_BATCHES];
    float *bufs[N_BATCHES];
    int O = cfg.obs_dim, G = cfg.goal_dim, A = cfg.action_dim;
    for (int i = 0; i < N_BATCHES; i++) {
        float *p = bufs[i] = bench_random_floats(&r, (size_t)BATCH * (2 * O + A + 3 * G));
        learner_batch_t b = {BATCH,
                             p,
                             p + BATCH * O,
                             p + BATCH * (O + A),
                             p + BATCH * (2 * O + A),
                             p + BATCH * (2 * O + A + G),
                             p + BATCH * (2 * O + A + 2 * G),
                             NULL};
        batches[i] = b;
    }
    double update_seconds = cfg.policy_hidden[0] > 100 ? 0.4 : 0.2;
    for (int c = 0; c < n_counts; c++) update_rate(L[c], batches, 0.05); /* warm up */
    sgemm_rate(sg, 0.02);
    rate_t best_u[8] = {{0.0, 0.0}}, best_s = {0.0, 0.0};
    for (int round = 0; round < ROUNDS; round++) {
        for (int c = 0; c < n_counts; c++) {
            rate_t u = update_rate(L[c], batches, update_seconds);
            if (u.wall > best_u[c].wall) best_u[c].wall = u.wall;
            if (u.cpu > best_u[c].cpu) best_u[c].cpu = u.cpu;
        }
        rate_t s = sgemm_rate(sg, 0.1);
        if (s.wall > best_s.wall) best_s.wall = s.wall;
        if (s.cpu > best_s.cpu) best_s.cpu = s.cpu;
    }
    double gflop = learner_update_flops(L[0], BATCH) * 1e-9;
    double sgemm_flop = 2.0 * sg->M * sg->N * sg->K * 1e-9;
    for (int c = 0; c < n_counts; c++) {
        printf("{\"bench\":\"odac_update\",\"shape\":\"%s\",\"threads\":%d,"
               "\"updates_per_s\":%.1f,\"gflop_per_update\":%.4f,\"sgemm_gflops\":%.2f,"
               "\"roofline_frac\":%.3f",
               shape, threads[c], best_u[c].wall, gflop, sgemm_flop * best_s.wall,
               best_u[c].wall * gflop / (sgemm_flop * best_s.wall));
        if (threads[c] == 1) /* over CPU time: robust to other load on a shared machine */
            printf(",\"cpu_updates_per_s\":%.1f,\"cpu_sgemm_gflops\":%.2f,"
                   "\"cpu_roofline_frac\":%.3f",
                   best_u[c].cpu, sgemm_flop * best_s.cpu,
                   best_u[c].cpu * gflop / (sgemm_flop * best_s.cpu));
        if (threads[0] == 1 && c > 0)
            printf(",\"speedup_vs_1_thread\":%.3f", best_u[c].wall / best_u[0].wall);
        if (nn_get_threads() > 1) printf(",\"blas_threads\":%d", nn_get_threads());
        printf(",\"machine\":\"%s\"}\n", machine);
    }
    fflush(stdout);
    for (int i = 0; i < N_BATCHES; i++) free(bufs[i]);
    for (int c = 0; c < n_counts; c++) learner_free(L[c]);
}

int main(void) {
    char machine[400];
    bench_machine_name(machine, sizeof machine);
    rng_t r;
    rng_seed(&r, 12345, 0);
    sgemm_t sg = {BATCH, 300, 400, NULL, NULL, NULL};
    sg.A = bench_random_floats(&r, (size_t)sg.M * sg.K);
    sg.B = bench_random_floats(&r, (size_t)sg.K * sg.N);
    sg.C = bench_random_floats(&r, (size_t)sg.M * sg.N);
    /* The shapes of ENVS.md (dims as the env registry gives them). */
    env_spec_t ant = {
        .name = "ant", .obs_dim = 30, .goal_dim = 15, .action_dim = 8, .success_threshold = 0.5f};
    env_spec_t box2d = {
        .name = "box2d", .obs_dim = 2, .goal_dim = 2, .action_dim = 2, .success_threshold = 0.5f};
    /* The learner's threads split its work; OpenBLAS (here also the sgemm reference) stays
     * single-threaded, so no BLAS thread competes with them. */
    const char *blas = getenv("ODAC_BLAS_THREADS"); /* a comparison: OpenBLAS's own threads */
    nn_set_threads(blas ? atoi(blas) : 1);
    const char *env = getenv("ODAC_THREADS");
    int only = env ? atoi(env) : 0;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int counts[4], n_counts = 0;
    for (int t = 1; t <= 8; t *= 2)
        if (only > 0 ? t == only : t == 1 || t <= cores) counts[n_counts++] = t;
    const char *shape = getenv("ODAC_SHAPE"); /* ant or box2d only */
    if (!shape || !strcmp(shape, "ant")) bench_shape("ant", &ant, counts, n_counts, &sg, machine);
    if (!shape || !strcmp(shape, "box2d"))
        bench_shape("box2d", &box2d, counts, n_counts, &sg, machine);
    free(sg.A), free(sg.B), free(sg.C);
    return 0;
}
