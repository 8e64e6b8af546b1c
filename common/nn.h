/* nn: the network core on OpenBLAS. Batch-major, row-major buffers: a batch of B rows of C floats
 * is (B, C). Linear weights are stored (in, out) row-major so forward is one sgemm Y = X W + b.
 * Every network keeps all its parameters in one contiguous block (params), so saving, loading,
 * Adam, Polyak averaging and weight messages all work over one flat array. */
#ifndef ODAC_NN_H
#define ODAC_NN_H
#include <stdatomic.h>
#include <stddef.h>
#include "rng.h"

#define NN_MAX_LAYERS 8

/* ---- thread pool (nn_pool.c): the learner's own threads for splitting a pass ---- */
#define NN_POOL_MAX_THREADS 64
typedef struct nn_pool nn_pool_t;
/* A job: called once on each of the pool's threads, tid 0 (the caller) to nthreads - 1. */
typedef void (*nn_pool_fn_t)(void *ctx, int tid, int nthreads);
/* threads (1 to NN_POOL_MAX_THREADS) counts the caller: threads - 1 workers are started. NULL on
 * a bad count or when a thread cannot be created. */
nn_pool_t *nn_pool_new(int threads);
void nn_pool_free(nn_pool_t *p);         /* stops and joins the workers; NULL is a no-op */
int nn_pool_threads(const nn_pool_t *p); /* 1 for NULL */
/* Runs fn on every thread of p and returns when all have finished (a barrier). With p NULL or one
 * thread: fn(ctx, 0, 1) on the caller. Not reentrant: fn must not call nn_pool_run on p. */
void nn_pool_run(nn_pool_t *p, nn_pool_fn_t fn, void *ctx);
/* Per-thread scratch of at least floats floats (64-byte aligned), allocated here, never during a
 * run; nn_pool_scratch(p, tid) is thread tid's. 0 or -1 (out of memory). */
int nn_pool_reserve_scratch(nn_pool_t *p, size_t floats);
float *nn_pool_scratch(nn_pool_t *p, int tid);
/* A spinning barrier for the n threads of one job (they are all running: no sleeping). */
typedef struct {
    atomic_int arrived;
    atomic_uint phase;
    int n;
} nn_barrier_t;
void nn_barrier_init(nn_barrier_t *b, int n);
void nn_barrier_wait(nn_barrier_t *b);
/* Work claimed from a shared counter instead of shared out in advance comes in chunks: the size
 * (a whole number of blocks of align, at least one) that cuts n items into about
 * NN_CHUNKS_PER_THREAD chunks per thread. */
#define NN_CHUNKS_PER_THREAD 4
int nn_chunk_size(int n, int align, int nthreads);
/* The next of count chunks for the calling thread from the shared counter next (each index goes
 * to exactly one caller), or -1 when all are taken. */
static inline int nn_claim(atomic_int *next, int count) {
    int i = atomic_fetch_add_explicit(next, 1, memory_order_relaxed);
    return i < count ? i : -1;
}

/* ---- primitives ---- */
/* out (B, out_dim) = in (B, in_dim) @ W (in_dim, out_dim) + b (out_dim). */
void nn_linear_forward(float *out, const float *in, const float *W, const float *b, int B,
                       int in_dim, int out_dim);
/* Given dout (B, out_dim): dW (+=) in^T dout, db (+=) column sums of dout, din (=) dout W^T.
 * Any of din, dW, db may be NULL to skip that work. */
void nn_linear_backward(float *din, float *dW, float *db, const float *dout, const float *in,
                        const float *W, int B, int in_dim, int out_dim);
void nn_relu_forward(float *x, size_t n); /* in place */
/* dx (in place) *= (y > 0), with y the ReLU's output. */
void nn_relu_backward(float *dx, const float *y, size_t n);

/* ---- MLP: Linear (ReLU Linear)*, ReLU after every hidden layer, linear output ---- */
typedef struct {
    int n_layers;                 /* linear layers = hidden layers + 1 */
    int sizes[NN_MAX_LAYERS + 1]; /* sizes[0] = input, sizes[n_layers] = output */
    float *params;                /* one block: layer l's W (sizes[l] x sizes[l+1]) then b */
    size_t n_params;
    float *W[NN_MAX_LAYERS], *b[NN_MAX_LAYERS]; /* point into params */
    int owns_params; /* 1 after nn_mlp_init (nn_mlp_free frees params), 0 after nn_mlp_bind */
} nn_mlp_t;

/* Activations of one forward pass kept for the backward pass; sized for up to max_batch rows. */
typedef struct {
    int max_batch;
    float *act[NN_MAX_LAYERS + 1]; /* act[0]: input copy; act[l]: output of layer l (post-ReLU) */
    float *grad_a, *grad_b;        /* (max_batch, widest layer) scratch for backward */
    float *weights_t;     /* (largest layer's in x out) scratch: weights transposed (kernels) */
    size_t weights_t_cap; /* floats in weights_t */
    nn_pool_t *pool;      /* NULL: passes run on the caller alone (nn_mlp_work_set_pool) */
} nn_mlp_work_t;

/* Allocates params and initialises like PyTorch's nn.Linear (uniform +-1/sqrt(fan_in)).
 * 0 on success, -1 on bad sizes or allocation failure. */
int nn_mlp_init(nn_mlp_t *m, int in_dim, const int *hidden, int n_hidden, int out_dim, rng_t *rng);
void nn_mlp_free(nn_mlp_t *m);
/* Size of the parameter block nn_mlp_init would allocate (for checking a weights message). */
size_t nn_mlp_param_count(int in_dim, const int *hidden, int n_hidden, int out_dim);
/* Points m's W/b into an existing block (e.g. a received weights message); no allocation.
 * m must already describe the architecture (n_layers, sizes): bind a struct copy of an
 * initialised net (`nn_mlp_t view = net; nn_mlp_bind(&view, block);`). The bound net borrows the
 * block (owns_params = 0): nn_mlp_free on it releases nothing, and the block must outlive it.
 * Binding a net that owns its block leaks that block. */
void nn_mlp_bind(nn_mlp_t *m, float *params);
int nn_mlp_work_init(nn_mlp_work_t *w, const nn_mlp_t *m, int max_batch);
void nn_mlp_work_free(nn_mlp_work_t *w);
/* Splits w's passes (forward, infer, backward) between the threads of pool (NULL: none). Each
 * output element is computed by exactly the same operations in the same order whatever the thread
 * count: forward rows go to threads whole; a backward layer's weight-gradient rows and its input
 * gradient's columns are split, so no sum is ever split between threads. Layers that are not on
 * the hand-written kernels (nn_set_simd, large layers with several BLAS threads) run on the caller
 * alone. The pool must outlive w's use of it. 0, or -1 when its scratch cannot be allocated. */
int nn_mlp_work_set_pool(nn_mlp_work_t *w, nn_pool_t *pool);
/* out (B, out_dim) = mlp(in (B, in_dim)); keeps activations in w. B <= w->max_batch. */
void nn_mlp_forward(const nn_mlp_t *m, nn_mlp_work_t *w, const float *in, int B, float *out);
/* Forward without keeping activations for backward (inference, target computation); w's grad_a,
 * grad_b and weights_t are used as scratch only, so the activations of an earlier nn_mlp_forward on
 * w survive and its nn_mlp_backward may still follow. */
void nn_mlp_infer(const nn_mlp_t *m, nn_mlp_work_t *w, const float *in, int B, float *out);
/* Backward of the last nn_mlp_forward on w, from dout (B, out_dim). dparams (n_params) is
 * accumulated into (+=) when non-NULL; din (B, in_dim) is overwritten when non-NULL. */
void nn_mlp_backward(const nn_mlp_t *m, nn_mlp_work_t *w, const float *dout, int B, float *dparams,
                     float *din);
/* As nn_mlp_backward, but dparams (n_params) is overwritten (=) instead of accumulated into:
 * the same values as clearing it and calling nn_mlp_backward, without the clearing pass. */
void nn_mlp_backward_set(const nn_mlp_t *m, nn_mlp_work_t *w, const float *dout, int B,
                         float *dparams, float *din);
/* Two independent passes at once, e.g. the twin critics' (both works on the same pool, or
 * none): the pool's threads form two groups, the first half on pass 0, and each group splits its
 * pass as above; results are those of two separate calls. The backward overwrites (=) dparams
 * like nn_mlp_backward_set; dparams[k], din[k] may be NULL. */
void nn_mlp_forward2(const nn_mlp_t *const m[2], nn_mlp_work_t *const w[2],
                     const float *const in[2], const int B[2], float *const out[2]);
void nn_mlp_infer2(const nn_mlp_t *const m[2], nn_mlp_work_t *const w[2], const float *const in[2],
                   const int B[2], float *const out[2]);
void nn_mlp_backward2(const nn_mlp_t *const m[2], nn_mlp_work_t *const w[2],
                      const float *const dout[2], const int B[2], float *const dparams[2],
                      float *const din[2]);
/* Floating point operations of one forward (and of forward+backward with both gradients). */
double nn_mlp_flops_forward(const nn_mlp_t *m, int B);

/* ---- tanh-squashed diagonal Gaussian policy head ---- */
#define NN_LOG_STD_MIN (-20.0f)
#define NN_LOG_STD_MAX (2.0f)
/* head (B, 2A) = [mean | log_std_raw]; log_std is clamped to [NN_LOG_STD_MIN, NN_LOG_STD_MAX].
 * With noise (B, A) ~ N(0, 1): u = mean + std * noise, action = tanh(u),
 * log_prob[i] = sum_j log N(u_j; mean_j, std_j) - 2 (log 2 - u_j - softplus(-2 u_j)).
 * u (B, A) is kept for the backward pass. Any of action, log_prob, u may be NULL to skip it. */
void nn_tanh_gaussian_forward(const float *head, const float *noise, int B, int A, float *action,
                              float *log_prob, float *u);
/* From d_action (B, A) and d_log_prob (B) (either may be NULL), writes d_head (B, 2A); the
 * gradient to log_std_raw is zero where the clamp is active. noise and u as in the forward. */
void nn_tanh_gaussian_backward(const float *head, const float *noise, const float *u,
                               const float *d_action, const float *d_log_prob, int B, int A,
                               float *d_head);
/* Deterministic action tanh(mean), action (B, A). */
void nn_tanh_gaussian_mode(const float *head, int B, int A, float *action);

/* ---- diagonal Gaussian log-density ---- */
/* out[i] = sum_j log N(x_ij; mean_ij, exp(log_std_j)) for x, mean (B, D) and a log_std (D)
 * shared by all rows (log_std_stride 0) or per row (log_std_stride D). */
void nn_gaussian_log_density(const float *x, const float *mean, const float *log_std,
                             int log_std_stride, int B, int D, float *out);
/* Given dout (B): d_mean (B, D) overwritten; d_log_std accumulated (+=) with the same stride as
 * the forward (D values for a shared one); d_x not produced (targets are data). NULL skips. */
void nn_gaussian_log_density_backward(const float *x, const float *mean, const float *log_std,
                                      int log_std_stride, const float *dout, int B, int D,
                                      float *d_mean, float *d_log_std);

/* ---- diagonal Laplace log-density ---- */
/* out[i] = sum_j log Laplace(x_ij; mean_ij, exp(log_scale_j)) = sum_j -|x - mean| / b - log 2b,
 * with the strides of the Gaussian above: a reward linear in each dim's error, not quadratic. */
void nn_laplace_log_density(const float *x, const float *mean, const float *log_scale,
                            int log_scale_stride, int B, int D, float *out);
/* As nn_gaussian_log_density_backward: d_mean = dout sign(x - mean) / b (0 where x == mean),
 * d_log_scale += dout (|x - mean| / b - 1). */
void nn_laplace_log_density_backward(const float *x, const float *mean, const float *log_scale,
                                     int log_scale_stride, const float *dout, int B, int D,
                                     float *d_mean, float *d_log_scale);

/* ---- optimisation ---- */
typedef struct {
    size_t n;
    float lr, beta1, beta2, eps;
    long long t; /* steps taken */
    float *m, *v;
} nn_adam_t;
/* Defaults beta1 0.9, beta2 0.999, eps 1e-8 (as torch.optim.Adam). */
int nn_adam_init(nn_adam_t *a, size_t n, float lr);
void nn_adam_free(nn_adam_t *a);
/* params -= lr * mhat / (sqrt(vhat) + eps), bias-corrected, torch's formulation. */
void nn_adam_step(nn_adam_t *a, float *params, const float *grads);
/* The same step split between threads: each calls nn_adam_step_range on its own [lo, hi) (lo a
 * multiple of 16), then one calls nn_adam_advance. Element for element what nn_adam_step does. */
void nn_adam_step_range(const nn_adam_t *a, float *params, const float *grads, size_t lo,
                        size_t hi);
void nn_adam_advance(nn_adam_t *a);
/* target = (1 - tau) * target + tau * source. */
void nn_polyak(float *target, const float *source, size_t n, float tau);

/* SIMD code paths, taken at run time when the CPU has AVX-512F (else the portable ones):
 *  - MLP layers (nn_mlp_forward, _infer, _backward, _backward_set) run on hand-written
 *    single-threaded kernels that read the operands in place and fuse bias, ReLU, ReLU mask and
 *    bias-gradient sums into the products. Layers of up to 128 x 128 weights always do; larger
 *    ones only with one BLAS thread (nn_set_threads(1)), since with more OpenBLAS shares them
 *    out. Otherwise, and in the nn_linear_* primitives, OpenBLAS sgemm does the products.
 *  - Adam, the policy head's per-element math and rng_normal_fill's transform run 16 floats (8
 *    doubles) at a time.
 * Results agree with the portable paths to float rounding (different summation orders; the
 * head's exp/tanh/softplus are within 2 ulp). On by default; nn_set_simd(0) selects the portable
 * paths in nn (tests compare the two; rng_normal_fill decides for itself and matches its portable
 * path bit for bit in practice), nn_set_simd(1) restores the default. Both return whether the
 * SIMD paths are now in use. Process-wide: not to be changed while another thread computes. */
int nn_set_simd(int enable);
int nn_simd_enabled(void);

/* Denormal floats (below 1.2e-38) flushed to zero on the calling thread (x86's FTZ and DAZ; a
 * no-op elsewhere), returning the previous mode for nn_denormals_restore. Arithmetic on denormals
 * takes a slow path (measured: Adam on a 4,673-parameter net with half its gradients 0 for 3,000
 * steps, so that their moments decay into the denormals, 24.7 us a step against 1.8 flushed), and
 * training needs no value that small. The learner's updates and the pool's threads flush. */
unsigned nn_denormals_flush(void);
void nn_denormals_restore(unsigned mode);

/* OpenBLAS threads for this process (1 = single-threaded); n < 1 is taken as 1. */
void nn_set_threads(int n);
int nn_get_threads(void);

#endif
