/* nn_pool: the learner's own worker threads, for splitting one network pass between cores.
 *
 * A run is short (a layer's product: microseconds), so the hand-off must cost well under a
 * microsecond: the caller publishes the job by bumping a generation counter and works on its own
 * share as thread 0; the workers spin on the counter for a while after each job (the next one
 * comes within microseconds inside an update) and only then sleep on a condition variable, so a
 * learner waiting for batches does not burn its cores. The caller spins until every worker has
 * finished, yielding the core if one is slow to come (a worker preempted by another process).
 * Gen and sleepers are sequentially consistent: a worker going to sleep re-reads gen after
 * announcing itself, and the caller reads sleepers after bumping gen, so one of them sees the
 * other (no lost wake-up). */
#include "nn.h"
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

/* How long a worker spins for the next job before it sleeps (ns). */
#define POOL_SPIN_NS 200000LL
/* Caller spins before each sched_yield while waiting for the workers. */
#define POOL_WAIT_SPINS 4096

struct nn_pool {
    int n; /* threads, the caller included */
    pthread_t thread[NN_POOL_MAX_THREADS];
    int started; /* worker threads created */
    nn_pool_fn_t fn;
    void *ctx;
    atomic_uint gen;     /* bumped once per job */
    atomic_int pending;  /* workers yet to finish the current job */
    atomic_int sleepers; /* workers asleep (or about to be) on cv */
    atomic_int stop;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    float *scratch[NN_POOL_MAX_THREADS];
    size_t scratch_cap; /* floats in each scratch */
};

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static long long now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

/* A worker's start argument (freed by the worker once read). */
typedef struct {
    nn_pool_t *pool;
    int tid;
} pool_arg_t;

static void *worker_main(void *argp) {
    pool_arg_t arg = *(pool_arg_t *)argp;
    free(argp);
    nn_pool_t *p = arg.pool;
    nn_denormals_flush(); /* as the learner's updates do on the caller (nn.h) */
    unsigned seen = 0;
    for (;;) {
        unsigned g;
        long long spin_start = 0;
        int spins = 0;
        while ((g = atomic_load(&p->gen)) == seen) {
            cpu_relax();
            if (++spins < 64) continue;
            spins = 0;
            long long t = now_ns();
            if (!spin_start) spin_start = t;
            if (t - spin_start < POOL_SPIN_NS) continue;
            pthread_mutex_lock(&p->mu);
            atomic_fetch_add(&p->sleepers, 1);
            while (atomic_load(&p->gen) == seen) pthread_cond_wait(&p->cv, &p->mu);
            atomic_fetch_sub(&p->sleepers, 1);
            pthread_mutex_unlock(&p->mu);
            spin_start = 0;
        }
        seen = g;
        if (atomic_load(&p->stop)) return NULL;
        p->fn(p->ctx, arg.tid, p->n);
        atomic_fetch_sub_explicit(&p->pending, 1, memory_order_release);
    }
}

/* Publishes a job (fn, ctx) to the workers: gen bumped after fn and ctx are written. */
static void publish(nn_pool_t *p) {
    atomic_store_explicit(&p->pending, p->n - 1, memory_order_relaxed);
    atomic_fetch_add(&p->gen, 1);
    if (atomic_load(&p->sleepers) > 0) {
        pthread_mutex_lock(&p->mu);
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
    }
}

nn_pool_t *nn_pool_new(int threads) {
    if (threads < 1 || threads > NN_POOL_MAX_THREADS) return NULL;
    nn_pool_t *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->n = threads;
    atomic_init(&p->gen, 0);
    atomic_init(&p->pending, 0);
    atomic_init(&p->sleepers, 0);
    atomic_init(&p->stop, 0);
    if (pthread_mutex_init(&p->mu, NULL) != 0) {
        free(p);
        return NULL;
    }
    if (pthread_cond_init(&p->cv, NULL) != 0) {
        pthread_mutex_destroy(&p->mu);
        free(p);
        return NULL;
    }
    for (int t = 1; t < threads; t++) {
        pool_arg_t *arg = malloc(sizeof *arg);
        if (!arg) goto fail;
        arg->pool = p;
        arg->tid = t;
        if (pthread_create(&p->thread[t], NULL, worker_main, arg) != 0) {
            free(arg);
            goto fail;
        }
        p->started = t;
    }
    return p;
fail:
    nn_pool_free(p);
    return NULL;
}

void nn_pool_free(nn_pool_t *p) {
    if (!p) return;
    if (p->started > 0) {
        atomic_store(&p->stop, 1);
        publish(p);
        for (int t = 1; t <= p->started; t++) pthread_join(p->thread[t], NULL);
    }
    for (int t = 0; t < NN_POOL_MAX_THREADS; t++) free(p->scratch[t]);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

int nn_pool_threads(const nn_pool_t *p) {
    return p ? p->n : 1;
}

void nn_pool_run(nn_pool_t *p, nn_pool_fn_t fn, void *ctx) {
    if (!p || p->n == 1) {
        fn(ctx, 0, 1);
        return;
    }
    p->fn = fn;
    p->ctx = ctx;
    publish(p);
    fn(ctx, 0, p->n);
    int spins = 0;
    while (atomic_load_explicit(&p->pending, memory_order_acquire) > 0) {
        cpu_relax();
        if (++spins == POOL_WAIT_SPINS) {
            spins = 0;
            sched_yield();
        }
    }
}

int nn_pool_reserve_scratch(nn_pool_t *p, size_t floats) {
    if (!p || floats <= p->scratch_cap) return 0;
    for (int t = 0; t < p->n; t++) {
        void *q = NULL;
        if (posix_memalign(&q, 64, floats * sizeof(float)) != 0) return -1;
        free(p->scratch[t]);
        p->scratch[t] = q;
    }
    p->scratch_cap = floats;
    return 0;
}

float *nn_pool_scratch(nn_pool_t *p, int tid) {
    return p && tid >= 0 && tid < p->n ? p->scratch[tid] : NULL;
}

void nn_barrier_init(nn_barrier_t *b, int n) {
    atomic_init(&b->arrived, 0);
    atomic_init(&b->phase, 0);
    b->n = n;
}

/* The last to arrive resets the count and then opens the phase, so no thread can arrive at the
 * next use before the count is reset (it is still waiting for the phase to change). */
void nn_barrier_wait(nn_barrier_t *b) {
    unsigned phase = atomic_load(&b->phase);
    if (atomic_fetch_add(&b->arrived, 1) == b->n - 1) {
        atomic_store(&b->arrived, 0);
        atomic_fetch_add(&b->phase, 1);
        return;
    }
    int spins = 0;
    while (atomic_load(&b->phase) == phase) {
        cpu_relax();
        if (++spins == POOL_WAIT_SPINS) {
            spins = 0;
            sched_yield();
        }
    }
}

int nn_chunk_size(int n, int align, int nthreads) {
    if (align < 1) align = 1;
    if (nthreads < 1) nthreads = 1;
    int blocks = n > 0 ? (n + align - 1) / align : 1;
    int want = nthreads * NN_CHUNKS_PER_THREAD;
    return (blocks + want - 1) / want * align;
}
