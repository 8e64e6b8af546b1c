/* test_learner_threads: the learner's own threads change nothing but speed. After N updates the
 * weights, optimizer-visible state and losses of a learner with 2, 3 and 4 threads equal those of
 * one thread bit for bit (and so do each update's rewards, discounts and targets) (shapes with
 * small and large layers, every kind of model head, partial batches, on the SIMD kernels and on
 * OpenBLAS), whichever thread claims which chunk, with the passes cut between the threads and
 * with the update run as two lanes; the width picks the lanes where cfg.lanes_below_width says;
 * and the pool itself runs every job on every
 * thread, hands each claimed chunk to one thread, sizes chunks as promised, and keeps its
 * barrier across many uses. */
#include <stdatomic.h>
#include <string.h>
#include "learner_core.h"
#include "nn.h"
#include "test_learner_ref.h"
#include "testutil.h"

enum { UPDATES = 4 };

typedef struct {
    const char *name;
    int O, G, A, hidden0, hidden1, B;
    learner_variant_t variant;
    int state_log_std, normalize;
} shape_t;

static learner_config_t config_of(const shape_t *s, int threads) {
    learner_config_t c;
    learner_config_default(&c);
    c.variant = s->variant;
    c.obs_dim = s->O, c.goal_dim = s->G, c.action_dim = s->A;
    c.batch_size = 256;
    c.policy_hidden[0] = c.critic_hidden[0] = s->hidden0;
    c.policy_hidden[1] = c.critic_hidden[1] = s->hidden1;
    c.model_state_log_std = s->state_log_std;
    c.normalize = s->normalize;
    c.reward_scale_auto = 1;
    c.seed = 21;
    c.threads = threads;
    c.pool_min_width = 0; /* the pool at every width: these shapes are narrower than its default */
    return c;
}

/* 1 when every network of a and b holds the same bits. */
static int same_nets(learner_t *a, learner_t *b) {
    for (int id = 0; id < LEARNER_N_NETS; id++) {
        nn_mlp_t *x = learner_net(a, (learner_net_id_t)id),
                 *y = learner_net(b, (learner_net_id_t)id);
        if (!x && !y) continue;
        if (!x || !y || x->n_params != y->n_params ||
            memcmp(x->params, y->params, x->n_params * sizeof(float)) != 0)
            return 0;
    }
    float la = learner_log_alpha(a), lb = learner_log_alpha(b);
    const float *sa = learner_model_log_std(a), *sb = learner_model_log_std(b);
    int G = learner_config(a)->goal_dim;
    if ((sa == NULL) != (sb == NULL) || (sa && memcmp(sa, sb, (size_t)G * sizeof(float)) != 0))
        return 0;
    return memcmp(&la, &lb, sizeof la) == 0;
}

/* The update's per-row results, copied: reward, discount and target of each of B rows. */
static void save_rows(const learner_t *L, int B, float *dst) {
    learner_rows_t r;
    learner_last_rows(L, &r);
    memcpy(dst, r.reward, (size_t)B * sizeof(float));
    memcpy(dst + B, r.discount, (size_t)B * sizeof(float));
    memcpy(dst + 2 * B, r.target, (size_t)B * sizeof(float));
}

static void check_shape(const shape_t *s) {
    ref_batch_t batches[UPDATES];
    rng_t rng;
    rng_seed(&rng, 5, 0);
    learner_config_t c1 = config_of(s, 1);
    for (int u = 0; u < UPDATES; u++) ref_batch_random(&batches[u], &c1, s->B, &rng, 1.0f);
    char err[256];
    learner_t *one = learner_new(&c1, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(one);
    static float rows1[UPDATES][3 * 256], rows_t[3 * 256];
    for (int u = 0; u < UPDATES; u++) {
        CU_ASSERT_EQUAL_FATAL(learner_update(one, &batches[u].b, err, sizeof err), 0);
        save_rows(one, s->B, rows1[u]);
    }
    for (int run = 0; run < 6; run++) {
        int threads = 2 + run / 2, lanes = run % 2;
        learner_config_t ct = config_of(s, threads);
        ct.lanes_below_width = lanes ? 1000000 : 0; /* two lanes, or every pass cut */
        learner_t *many = learner_new(&ct, err, sizeof err);
        CU_ASSERT_PTR_NOT_NULL_FATAL(many);
        CU_ASSERT_EQUAL(learner_lanes(many), lanes);
        int same_rows = 1;
        for (int u = 0; u < UPDATES; u++) {
            CU_ASSERT_EQUAL_FATAL(learner_update(many, &batches[u].b, err, sizeof err), 0);
            save_rows(many, s->B, rows_t);
            same_rows &= memcmp(rows_t, rows1[u], (size_t)3 * s->B * sizeof(float)) == 0;
        }
        if (!same_nets(one, many) || !same_rows)
            fprintf(stderr, "  %s: %d threads (%s) differ from 1 (weights %s, rows %s)\n", s->name,
                    threads, lanes ? "lanes" : "cut", same_nets(one, many) ? "same" : "differ",
                    same_rows ? "same" : "differ");
        CU_ASSERT_TRUE(same_nets(one, many));
        CU_ASSERT_TRUE(same_rows);
        learner_free(many);
    }
    learner_free(one);
    for (int u = 0; u < UPDATES; u++) ref_batch_free(&batches[u]);
}

/* box2d's shape: 64-wide layers, inputs narrower than a vector, a 2-D model output. */
static void test_box2d_shape(void) {
    shape_t s = {"box2d", 2, 2, 2, 64, 64, 256, LEARNER_ODAC, 0, 0};
    check_shape(&s);
}

/* Wider layers than the kernels' small size (160 x 96), a 15-D goal, normalisation, the
 * state-dependent log-std head. */
static void test_wide_shape(void) {
    shape_t s = {"wide", 30, 15, 8, 160, 96, 256, LEARNER_ODAC, 1, 1};
    check_shape(&s);
}

/* A partial batch (rows not a multiple of the shares) and the sparse HER variant (no model). */
static void test_partial_batch_her(void) {
    shape_t s = {"partial her-sparse", 7, 3, 4, 48, 40, 37, LEARNER_HER_SPARSE, 0, 0};
    check_shape(&s);
}

typedef struct {
    atomic_int calls;
    int seen[NN_POOL_MAX_THREADS];
    int n_seen[NN_POOL_MAX_THREADS];
    nn_barrier_t bar;
    atomic_int next;
    int slots[64];
    int rounds;
} pool_probe_t;

static void probe_job(void *ctx, int tid, int nthreads) {
    pool_probe_t *p = ctx;
    atomic_fetch_add(&p->calls, 1);
    p->seen[tid]++;
    p->n_seen[tid] = nthreads;
    /* Rounds of: the threads claim the slots one by one and count each, barrier, thread 0 resets
     * the claims, barrier. A claim given twice, or a thread past a barrier early, miscounts. */
    for (int r = 0; r < p->rounds; r++) {
        for (int i; (i = nn_claim(&p->next, 64)) >= 0;) p->slots[i]++;
        nn_barrier_wait(&p->bar);
        if (tid == 0) atomic_store(&p->next, 0);
        nn_barrier_wait(&p->bar);
    }
}

static void test_pool_runs_every_thread(void) {
    CU_ASSERT_PTR_NULL(nn_pool_new(0));
    CU_ASSERT_PTR_NULL(nn_pool_new(NN_POOL_MAX_THREADS + 1));
    CU_ASSERT_EQUAL(nn_pool_threads(NULL), 1);
    for (int threads = 1; threads <= 4; threads++) {
        nn_pool_t *pool = nn_pool_new(threads);
        CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
        CU_ASSERT_EQUAL(nn_pool_threads(pool), threads);
        static pool_probe_t p;
        memset(&p, 0, sizeof p);
        nn_barrier_init(&p.bar, threads);
        p.rounds = 50;
        for (int job = 0; job < 200; job++) nn_pool_run(pool, probe_job, &p);
        CU_ASSERT_EQUAL(atomic_load(&p.calls), 200 * threads);
        for (int t = 0; t < threads; t++) {
            CU_ASSERT_EQUAL(p.seen[t], 200);
            CU_ASSERT_EQUAL(p.n_seen[t], threads);
        }
        /* Every slot was claimed exactly once per round. */
        int ok = 1;
        for (int i = 0; i < 64; i++) ok &= p.slots[i] == 200 * 50;
        CU_ASSERT_TRUE(ok);
        nn_pool_free(pool);
    }
    nn_pool_free(NULL);
}

/* Chunks of whole blocks, at least one block, about NN_CHUNKS_PER_THREAD per thread, covering n. */
static void test_chunk_size(void) {
    int ok = 1;
    for (int n = 0; n <= 700; n += 7) {
        for (int threads = 1; threads <= 8; threads++) {
            for (int align = 1; align <= 16; align += 5) {
                int size = nn_chunk_size(n, align, threads);
                int chunks = n > 0 ? (n + size - 1) / size : 0;
                ok &= size >= align && size % align == 0;
                ok &= chunks <= threads * NN_CHUNKS_PER_THREAD;
                /* not coarser than needed: one block less per chunk would take too many */
                ok &= size == align ||
                      (n + size - align - 1) / (size - align) > threads * NN_CHUNKS_PER_THREAD;
            }
        }
    }
    CU_ASSERT_TRUE(ok);
}

/* The OpenBLAS path (SIMD kernels off, OpenBLAS single-threaded) is cut the same way and keeps
 * the bits too: what a machine without AVX-512 runs. */
static void test_openblas_path(void) {
    nn_set_threads(1);
    nn_set_simd(0);
    shape_t wide = {"wide, OpenBLAS", 30, 15, 8, 160, 96, 256, LEARNER_ODAC, 1, 1};
    check_shape(&wide);
    shape_t partial = {
        "partial her-sparse, OpenBLAS", 7, 3, 4, 48, 40, 37, LEARNER_HER_SPARSE, 0, 0};
    check_shape(&partial);
    nn_set_simd(1);
}

static void test_bad_thread_count_refused(void) {
    shape_t s = {"box2d", 2, 2, 2, 64, 64, 256, LEARNER_ODAC, 0, 0};
    char err[256] = "";
    learner_config_t c = config_of(&s, 0);
    CU_ASSERT_PTR_NULL(learner_new(&c, err, sizeof err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "threads"));
    c = config_of(&s, NN_POOL_MAX_THREADS + 1);
    CU_ASSERT_PTR_NULL(learner_new(&c, err, sizeof err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "threads"));
}

/* Networks narrower than pool_min_width run on one thread whatever `threads` says; at or above
 * it (or with 0) on all of them. */
static void test_pool_min_width(void) {
    shape_t narrow = {"box2d", 2, 2, 2, 64, 64, 256, LEARNER_ODAC, 0, 0};
    shape_t wide = {"wide", 2, 2, 2, 256, 64, 256, LEARNER_ODAC, 0, 0};
    char err[256];
    struct {
        const shape_t *s;
        int min_width, used;
    } cases[] = {{&narrow, 256, 1}, {&narrow, 65, 1}, {&narrow, 64, 2},
                 {&narrow, 0, 2},   {&wide, 256, 2},  {&wide, 257, 1}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        learner_config_t c = config_of(cases[i].s, 2);
        c.pool_min_width = cases[i].min_width;
        learner_t *L = learner_new(&c, err, sizeof err);
        CU_ASSERT_PTR_NOT_NULL_FATAL(L);
        CU_ASSERT_EQUAL(learner_threads_used(L), cases[i].used);
        learner_free(L);
    }
    learner_config_t d;
    learner_config_default(&d);
    CU_ASSERT_EQUAL(d.pool_min_width, 256);
    CU_ASSERT_EQUAL(d.lanes_below_width, 256);
    d.obs_dim = d.goal_dim = d.action_dim = 2;
    d.pool_min_width = -1;
    CU_ASSERT_PTR_NULL(learner_new(&d, err, sizeof err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "pool_min_width"));
    d.pool_min_width = 0;
    d.lanes_below_width = 1000001;
    CU_ASSERT_PTR_NULL(learner_new(&d, err, sizeof err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "lanes_below_width"));
}

/* With the pool on, networks narrower than lanes_below_width run as two lanes on two threads and
 * wider ones cut every pass between all; one thread has neither. */
static void test_lanes_by_width(void) {
    shape_t narrow = {"box2d", 2, 2, 2, 64, 64, 256, LEARNER_ODAC, 0, 0};
    shape_t wide = {"wide", 2, 2, 2, 256, 64, 256, LEARNER_ODAC, 0, 0};
    char err[256];
    struct {
        const shape_t *s;
        int threads, below, lanes;
    } cases[] = {{&narrow, 2, 256, 1}, {&narrow, 2, 64, 0}, {&narrow, 2, 65, 1},
                 {&wide, 2, 256, 0},   {&wide, 3, 257, 1},  {&narrow, 1, 256, 0},
                 {&wide, 4, 256, 0}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        learner_config_t c = config_of(cases[i].s, cases[i].threads);
        c.lanes_below_width = cases[i].below;
        learner_t *L = learner_new(&c, err, sizeof err);
        CU_ASSERT_PTR_NOT_NULL_FATAL(L);
        CU_ASSERT_EQUAL(learner_lanes(L), cases[i].lanes);
        /* Lanes take two threads whatever the count asked for (more would only spin). */
        CU_ASSERT_EQUAL(learner_threads_used(L), cases[i].lanes ? 2 : cases[i].threads);
        learner_free(L);
    }
}

int main(void) {
    const test_case_t cases[] = {
        {"box2d shape: 2, 3, 4 threads, lanes and cut, bit-identical to 1", test_box2d_shape},
        {"wide layers, state log-std, normalise: bit-identical", test_wide_shape},
        {"partial batch, her-sparse: bit-identical", test_partial_batch_her},
        {"pool runs each job on every thread, barrier holds", test_pool_runs_every_thread},
        {"chunks for claimed work: whole blocks, about 4 per thread", test_chunk_size},
        {"OpenBLAS path (SIMD off): bit-identical", test_openblas_path},
        {"a bad thread count is refused", test_bad_thread_count_refused},
        {"narrow networks run on one thread (pool_min_width)", test_pool_min_width},
        {"two lanes below lanes_below_width, cut passes above", test_lanes_by_width},
        {NULL, NULL}};
    return test_run_suite("learner_threads", cases);
}
