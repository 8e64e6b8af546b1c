/* bench_nn: MLP forward+backward throughput against raw cblas_sgemm on the same machine and thread
 * count. Prints one JSON object per line:
 *   {"bench":"mlp","hidden":"400,300","in":53,"out":1,"batch":256,"threads":1,"gflops":..,
 *    "sgemm_gflops":..,"machine":".."}
 * gflops counts forward (F) plus backward with parameter and input gradients (2F) per pass;
 * sgemm_gflops is a 256x400x300 product (batch 256 through a 400 -> 300 layer). The two are timed
 * in alternating rounds (MLP ~0.1 s, sgemm ~0.05 s, ROUNDS times, about 0.75 s per line) and each
 * figure is its best round, so load from other processes hits both alike. Threads come from
 * ODAC_THREADS (default 1). */
#include "benchutil.h"
#include "nn.h"
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define ROUNDS 5

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

typedef void (*bench_fn)(void *ctx);

/* Calls per second of fn over one round of about seconds. */
static double rate(bench_fn fn, void *ctx, double seconds) {
    long calls = 0;
    double t0 = now(), t;
    do {
        fn(ctx);
        calls++;
        t = now() - t0;
    } while (t < seconds);
    return calls / t;
}

typedef struct {
    int M, N, K;
    float *A, *B, *C;
} sgemm_ctx_t;

static void run_sgemm(void *p) {
    sgemm_ctx_t *c = p;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, c->M, c->N, c->K, 1.0f, c->A, c->K, c->B,
                c->N, 0.0f, c->C, c->N);
}

typedef struct {
    nn_mlp_t *m;
    nn_mlp_work_t *w;
    int B;
    float *x, *out, *dout, *dparams, *din;
} mlp_ctx_t;

static void run_mlp(void *p) {
    mlp_ctx_t *c = p;
    nn_mlp_forward(c->m, c->w, c->x, c->B, c->out);
    nn_mlp_backward(c->m, c->w, c->dout, c->B, c->dparams, c->din);
}

int main(void) {
    const char *env = getenv("ODAC_THREADS");
    int threads = env && atoi(env) > 0 ? atoi(env) : 1;
    nn_set_threads(threads);
    char machine[400];
    bench_machine_name(machine, sizeof machine);
    rng_t r;
    rng_seed(&r, 12345, 0);

    enum { BATCH = 256, IN = 53, OUT = 1 };
    sgemm_ctx_t sg = {BATCH, 300, 400, NULL, NULL, NULL};
    sg.A = bench_random_floats(&r, (size_t)sg.M * sg.K);
    sg.B = bench_random_floats(&r, (size_t)sg.K * sg.N);
    sg.C = bench_random_floats(&r, (size_t)sg.M * sg.N);

    const int hidden[][2] = {{64, 64}, {256, 256}, {400, 300}};
    for (size_t h = 0; h < sizeof hidden / sizeof *hidden; h++) {
        nn_mlp_t m;
        nn_mlp_work_t w;
        if (nn_mlp_init(&m, IN, hidden[h], 2, OUT, &r) != 0 || nn_mlp_work_init(&w, &m, BATCH)) {
            fprintf(stderr, "bench_nn: cannot build the network\n");
            return 1;
        }
        mlp_ctx_t c = {&m, &w, BATCH, NULL, NULL, NULL, NULL, NULL};
        c.x = bench_random_floats(&r, (size_t)BATCH * IN);
        c.out = bench_random_floats(&r, (size_t)BATCH * OUT);
        c.dout = bench_random_floats(&r, (size_t)BATCH * OUT);
        c.dparams = bench_random_floats(&r, m.n_params);
        c.din = bench_random_floats(&r, (size_t)BATCH * IN);
        run_mlp(&c); /* warm up */
        run_sgemm(&sg);
        double best_mlp = 0.0, best_sgemm = 0.0;
        for (int round = 0; round < ROUNDS; round++) {
            double r_mlp = rate(run_mlp, &c, 0.1), r_sgemm = rate(run_sgemm, &sg, 0.05);
            if (r_mlp > best_mlp) best_mlp = r_mlp;
            if (r_sgemm > best_sgemm) best_sgemm = r_sgemm;
        }
        double gflops = 3.0 * nn_mlp_flops_forward(&m, BATCH) * best_mlp * 1e-9;
        double sgemm_gflops = 2.0 * sg.M * sg.N * sg.K * best_sgemm * 1e-9;
        printf("{\"bench\":\"mlp\",\"hidden\":\"%d,%d\",\"in\":%d,\"out\":%d,\"batch\":%d,"
               "\"threads\":%d,\"gflops\":%.2f,\"sgemm_gflops\":%.2f,\"machine\":\"%s\"}\n",
               hidden[h][0], hidden[h][1], IN, OUT, BATCH, threads, gflops, sgemm_gflops, machine);
        fflush(stdout);
        free(c.x), free(c.out), free(c.dout), free(c.dparams), free(c.din);
        nn_mlp_work_free(&w);
        nn_mlp_free(&m);
    }
    free(sg.A), free(sg.B), free(sg.C);
    return 0;
}
