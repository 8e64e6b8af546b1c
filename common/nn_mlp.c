/* nn_mlp: linear layers, ReLU and the MLP (forward, inference, backward).
 *
 * Two ways to run a layer's three products (forward Y = X W + b, weight gradient X^T G, input
 * gradient G W^T), chosen per layer at run time (nn.h, nn_set_simd):
 *  - hand-written AVX-512 kernels, when the CPU has AVX-512F. OpenBLAS (its Haswell kernels on
 *    the CPUs we run on) spends small layers packing, clearing and in separate per-element
 *    passes; these kernels read the operands in place, keep a 6 x 64 tile of the result in
 *    registers while broadcasting one operand against vectors of the other (gemm_broadcast), or
 *    for outputs narrower than 16 sum 16 dot products at once (gemm_dot), and do the per-element
 *    work as a tile is stored: bias and ReLU in the forward, the ReLU mask of the layer below and
 *    that layer's bias column sums in the input gradient, accumulate or overwrite in the weight
 *    gradient. The input gradient needs W^T, transposed into the work's scratch per call.
 *  - OpenBLAS sgemm otherwise (large layers with several BLAS threads, CPUs without AVX-512, the
 *    nn_linear_* primitives), always with beta 1 into a block we filled (bias rows or zeros),
 *    since for beta 0 OpenBLAS clears the result one row at a time, and one fused pass over each
 *    activation for the rest of the per-element work.
 * Both compute the same sums in different orders: results agree to float rounding. No allocation
 * happens outside nn_mlp_init and nn_mlp_work_init. */
#include "nn.h"
#include <cblas.h>
#include <math.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define NN_ALIGN 64

/* Layers with more weights (in x out) than this are large: they use the hand-written kernels
 * only with one BLAS thread (with more, OpenBLAS shares them out). Below it a layer is quicker
 * on the kernels whatever the thread count. */
#define NN_KERNEL_SMALL_WEIGHTS (128 * 128)

#if defined(__x86_64__) && defined(__GNUC__) && !defined(NN_NO_KERNELS)
#define NN_HAVE_KERNELS 1
#include <immintrin.h>
#define NN_AVX512 __attribute__((target("avx512f,fma")))
#define NN_ALWAYS_INLINE static inline __attribute__((always_inline))
#endif

/* ---- per-element helpers (vectorisable inner loops) ---- */

/* y (B, n) = y + b, then ReLU when relu is set. */
static void add_bias_rows(float *restrict y, const float *restrict b, int B, int n, int relu) {
    for (int i = 0; i < B; i++) {
        float *restrict row = y + (size_t)i * n;
        if (relu) {
            for (int j = 0; j < n; j++) {
                float v = row[j] + b[j];
                row[j] = v > 0.0f ? v : 0.0f;
            }
        } else {
            for (int j = 0; j < n; j++) row[j] += b[j];
        }
    }
}

/* db (n) += column sums of g (B, n). */
static void col_sums(float *restrict db, const float *restrict g, int B, int n) {
    for (int i = 0; i < B; i++) {
        const float *restrict row = g + (size_t)i * n;
        for (int j = 0; j < n; j++) db[j] += row[j];
    }
}

/* g (B, n) *= (y > 0) and, when db is non-NULL, db (n) += column sums of the masked g. */
static void relu_mask_col_sums(float *restrict g, const float *restrict y, float *restrict db,
                               int B, int n) {
    for (int i = 0; i < B; i++) {
        float *restrict row = g + (size_t)i * n;
        const float *restrict yrow = y + (size_t)i * n;
        if (db) {
            for (int j = 0; j < n; j++) {
                float v = yrow[j] > 0.0f ? row[j] : 0.0f;
                row[j] = v;
                db[j] += v;
            }
        } else {
            for (int j = 0; j < n; j++) row[j] = yrow[j] > 0.0f ? row[j] : 0.0f;
        }
    }
}

/* ---- OpenBLAS products (row-major) ---- */

/* y (B, out) = x (B, in) @ W (in, out). */
static void mm_forward(float *y, const float *x, const float *W, int B, int in, int out) {
    if (out == 1)
        cblas_sgemv(CblasRowMajor, CblasNoTrans, B, in, 1.0f, x, in, W, 1, 0.0f, y, 1);
    else
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, out, in, 1.0f, x, in, W, out,
                    0.0f, y, out);
}

/* dW (in, out) += x (B, in)^T @ g (B, out). */
static void mm_weight_grad(float *dW, const float *x, const float *g, int B, int in, int out) {
    if (out == 1)
        cblas_sgemv(CblasRowMajor, CblasTrans, B, in, 1.0f, x, in, g, 1, 1.0f, dW, 1);
    else
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, in, out, B, 1.0f, x, in, g, out, 1.0f,
                    dW, out);
}

/* dx (B, in) = g (B, out) @ W (in, out)^T. */
static void mm_input_grad(float *dx, const float *g, const float *W, int B, int in, int out) {
    if (out == 1) {
        /* Outer product g (B) x W (in): cheaper as a loop than as a rank-1 sgemm. */
        for (int i = 0; i < B; i++) {
            float gi = g[i];
            float *restrict row = dx + (size_t)i * in;
            for (int j = 0; j < in; j++) row[j] = gi * W[j];
        }
    } else {
        /* beta 1 on a cleared block: OpenBLAS clears for beta 0 one row at a time */
        memset(dx, 0, (size_t)B * in * sizeof(float));
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, in, out, 1.0f, g, out, W, out, 1.0f,
                    dx, in);
    }
}

/* y (B, out) = x (B, in) @ W (in, out) + b, then ReLU when relu: with y started at the bias rows
 * and beta 1 (OpenBLAS clears for beta 0 one row at a time). */
static void mm_forward_bias(float *y, const float *x, const float *W, const float *b, int B, int in,
                            int out, int relu) {
    if (out == 1) {
        mm_forward(y, x, W, B, in, out);
        add_bias_rows(y, b, B, out, relu);
        return;
    }
    for (int i = 0; i < B; i++) {
        float *restrict row = y + (size_t)i * out;
        for (int j = 0; j < out; j++) row[j] = b[j];
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, out, in, 1.0f, x, in, W, out, 1.0f, y,
                out);
    if (relu) nn_relu_forward(y, (size_t)B * out);
}

/* ---- hand-written kernels ---- */

/* What a kernel does with each sum x before and after storing it (a field off when 0 / NULL):
 * x += bias[col]; x += C (accumulate); x = max(x, 0) (relu); x = gate > 0 ? x : 0 (gate: the
 * ReLU backward, with the layer's output as the gate); store x; col_sums[col] += x. */
typedef struct {
    const float *bias; /* (N) */
    int accumulate;
    int relu;
    const float *gate; /* (M, N), row stride ld_gate */
    ptrdiff_t ld_gate;
    float *col_sums; /* (N) */
} epilogue_t;

static atomic_int simd_state = -1; /* -1 not yet decided, 0 portable paths, 1 SIMD paths */

static int cpu_has_avx512(void) {
#ifdef NN_HAVE_KERNELS
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") ? 1 : 0;
#else
    return 0;
#endif
}

int nn_set_simd(int enable) {
    int on = enable ? cpu_has_avx512() : 0;
    atomic_store_explicit(&simd_state, on, memory_order_relaxed);
    return on;
}

int nn_simd_enabled(void) {
    int s = atomic_load_explicit(&simd_state, memory_order_relaxed);
    if (s < 0) {
        s = cpu_has_avx512();
        atomic_store_explicit(&simd_state, s, memory_order_relaxed);
    }
    return s;
}

/* 1 when layers of in x out weights run on the hand-written kernels. */
static int use_kernels(int in, int out) {
    if (!nn_simd_enabled()) return 0;
    return (size_t)in * out <= NN_KERNEL_SMALL_WEIGHTS || openblas_get_num_threads() == 1;
}

#ifdef NN_HAVE_KERNELS

#define TILE_ROWS 6 /* rows of C per broadcast tile: 6 x 4 accumulators of 16 floats */

/* One tile of the broadcast kernel (see gemm_broadcast): mr rows (<= TILE_ROWS) by nv vectors of
 * 16 columns (<= 4), the last vector's lanes limited by last. Inlined with constant mr and nv so
 * the accumulators live in registers. */
NN_ALWAYS_INLINE NN_AVX512 void broadcast_tile(const int mr, const int nv, __mmask16 last, int K,
                                               const float *A, ptrdiff_t rsa, ptrdiff_t csa,
                                               const float *Bm, ptrdiff_t ldb, float *C,
                                               ptrdiff_t ldc, int c_trans, const epilogue_t *e,
                                               const float *bias, const float *gate, __m512 *sums) {
    __mmask16 mk[4];
    __m512 acc[TILE_ROWS][4];
    const __m512 zero = _mm512_setzero_ps();
#pragma GCC unroll 6
    for (int v = 0; v < nv; v++) mk[v] = v == nv - 1 ? last : (__mmask16)0xFFFF;
#pragma GCC unroll 6
    for (int v = 0; v < nv; v++) {
        __m512 b0 = bias ? _mm512_maskz_loadu_ps(mk[v], bias + 16 * v) : zero;
#pragma GCC unroll 6
        for (int r = 0; r < mr; r++) acc[r][v] = b0;
    }
    for (int k = 0; k < K; k++) {
        const float *brow = Bm + k * ldb, *acol = A + k * csa;
        __m512 b[4];
#pragma GCC unroll 6
        for (int v = 0; v < nv; v++) b[v] = _mm512_maskz_loadu_ps(mk[v], brow + 16 * v);
#pragma GCC unroll 6
        for (int r = 0; r < mr; r++) {
            __m512 a = _mm512_set1_ps(acol[r * rsa]);
#pragma GCC unroll 6
            for (int v = 0; v < nv; v++) acc[r][v] = _mm512_fmadd_ps(a, b[v], acc[r][v]);
        }
    }
    if (c_trans) { /* C (r, j) at C[j ldc + r]: weight gradients of narrow layers (small C) */
#pragma GCC unroll 6
        for (int r = 0; r < mr; r++) {
#pragma GCC unroll 6
            for (int v = 0; v < nv; v++) {
                float x[16];
                _mm512_storeu_ps(x, acc[r][v]);
                int lanes = v == nv - 1 ? __builtin_popcount(last) : 16;
                for (int j = 0; j < lanes; j++) {
                    float *c = C + (ptrdiff_t)(16 * v + j) * ldc + r;
                    *c = e->accumulate ? *c + x[j] : x[j];
                }
            }
        }
        return;
    }
#pragma GCC unroll 6
    for (int r = 0; r < mr; r++) {
        float *crow = C + r * ldc;
#pragma GCC unroll 6
        for (int v = 0; v < nv; v++) {
            __m512 x = acc[r][v];
            if (e->accumulate) x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(mk[v], crow + 16 * v));
            if (e->relu) x = _mm512_max_ps(x, zero);
            if (gate) {
                __m512 g = _mm512_maskz_loadu_ps(mk[v], gate + r * e->ld_gate + 16 * v);
                x = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(g, zero, _CMP_GT_OQ), x);
            }
            _mm512_mask_storeu_ps(crow + 16 * v, mk[v], x);
            if (sums) sums[v] = _mm512_add_ps(sums[v], x);
        }
    }
}

#define TILE_CASE(MR, NV)                                                                          \
    case (MR)*8 + (NV):                                                                            \
        broadcast_tile(MR, NV, last, K, A, rsa, csa, Bm, ldb, C, ldc, c_trans, e, bias, gate,      \
                       sums);                                                                      \
        break;
#define TILE_CASES(MR) TILE_CASE(MR, 1) TILE_CASE(MR, 2) TILE_CASE(MR, 3) TILE_CASE(MR, 4)

NN_AVX512 static void broadcast_tile_any(int mr, int nv, __mmask16 last, int K, const float *A,
                                         ptrdiff_t rsa, ptrdiff_t csa, const float *Bm,
                                         ptrdiff_t ldb, float *C, ptrdiff_t ldc, int c_trans,
                                         const epilogue_t *e, const float *bias, const float *gate,
                                         __m512 *sums) {
    /* clang-format off */
    switch (mr * 8 + nv) {
    TILE_CASES(1)
    TILE_CASES(2)
    TILE_CASES(3)
    TILE_CASES(4)
    TILE_CASES(5)
    TILE_CASES(6)
    default:
        break;
    }
    /* clang-format on */
}

/* C (M, N) = A (M, K) @ B (K, N) with the epilogue e. A's element (m, k) is A[m rsa + k csa] (so
 * A may be a transposed view); B and C are row-major with row strides ldb and ldc, or, with
 * c_trans, C's element (m, n) is C[n ldc + m] (then only e->accumulate applies). Each row of B
 * is loaded as vectors and each element of A broadcast: suited to N >= 16. */
NN_AVX512 static void gemm_broadcast(int M, int N, int K, const float *A, ptrdiff_t rsa,
                                     ptrdiff_t csa, const float *Bm, ptrdiff_t ldb, float *C,
                                     ptrdiff_t ldc, int c_trans, const epilogue_t *e) {
    for (int n0 = 0; n0 < N; n0 += 64) {
        int nc = N - n0 < 64 ? N - n0 : 64, nv = (nc + 15) / 16;
        __mmask16 last = (nc & 15) ? (__mmask16)((1u << (nc & 15)) - 1) : (__mmask16)0xFFFF;
        __m512 sums[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(),
                          _mm512_setzero_ps()};
        const float *bias = e->bias ? e->bias + n0 : NULL;
        for (int m0 = 0; m0 < M; m0 += TILE_ROWS) {
            int mr = M - m0 < TILE_ROWS ? M - m0 : TILE_ROWS;
            float *c = c_trans ? C + (ptrdiff_t)n0 * ldc + m0 : C + (ptrdiff_t)m0 * ldc + n0;
            const float *gate = e->gate ? e->gate + (ptrdiff_t)m0 * e->ld_gate + n0 : NULL;
            broadcast_tile_any(mr, nv, last, K, A + (ptrdiff_t)m0 * rsa, rsa, csa, Bm + n0, ldb, c,
                               ldc, c_trans, e, bias, gate, e->col_sums ? sums : NULL);
        }
        if (e->col_sums) {
            for (int v = 0; v < nv; v++) {
                __mmask16 mk = v == nv - 1 ? last : (__mmask16)0xFFFF;
                float *s = e->col_sums + n0 + 16 * v;
                _mm512_mask_storeu_ps(s, mk, _mm512_add_ps(_mm512_maskz_loadu_ps(mk, s), sums[v]));
            }
        }
    }
}

/* t (cols, rows) = a (rows, cols)^T: 16 x 16 blocks in registers, the edges one by one. A block
 * is transposed by 4 butterfly rounds: round b swaps, between rows i and i + b (i & b == 0), the
 * lanes j with j & b set in row i and those with j & b clear in row i + b. */
NN_AVX512 static void transpose(float *restrict t, const float *restrict a, int rows, int cols) {
    __m512i lo[4], hi[4];
    for (int level = 0; level < 4; level++) {
        int b = 1 << level;
        int32_t il[16], ih[16];
        for (int j = 0; j < 16; j++) {
            il[j] = (j & b) ? 16 + (j ^ b) : j; /* row i keeps its j & b == 0 lanes */
            ih[j] = (j & b) ? 16 + j : j ^ b;   /* row i + b keeps its j & b != 0 lanes */
        }
        lo[level] = _mm512_loadu_si512(il);
        hi[level] = _mm512_loadu_si512(ih);
    }
    int rows16 = rows & ~15, cols16 = cols & ~15;
    for (int i0 = 0; i0 < rows16; i0 += 16) {
        for (int j0 = 0; j0 < cols16; j0 += 16) {
            __m512 r[16];
#pragma GCC unroll 16
            for (int i = 0; i < 16; i++) r[i] = _mm512_loadu_ps(a + (size_t)(i0 + i) * cols + j0);
#pragma GCC unroll 4
            for (int level = 0; level < 4; level++) {
                int b = 1 << level;
#pragma GCC unroll 16
                for (int i = 0; i < 16; i++) {
                    if (i & b) continue;
                    __m512 x = r[i], y = r[i + b];
                    r[i] = _mm512_permutex2var_ps(x, lo[level], y);
                    r[i + b] = _mm512_permutex2var_ps(x, hi[level], y);
                }
            }
#pragma GCC unroll 16
            for (int j = 0; j < 16; j++) _mm512_storeu_ps(t + (size_t)(j0 + j) * rows + i0, r[j]);
        }
    }
    for (int i = 0; i < rows; i++) /* edges: the last rows % 16 rows, the last cols % 16 columns */
        for (int j = i < rows16 ? cols16 : 0; j < cols; j++)
            t[(size_t)j * rows + i] = a[(size_t)i * cols + j];
}

/* Horizontal sums of 16 vectors at once: lane p of the result is the sum of the lanes of
 * v[dot_lane_slot[p]] (four rounds, each adding two shuffles of a pair of vectors, halving their
 * count). */
static const int dot_lane_slot[16] = {0, 2, 1, 3, 8, 10, 9, 11, 4, 6, 5, 7, 12, 14, 13, 15};

NN_ALWAYS_INLINE NN_AVX512 __m512 sum_lanes_16(const __m512 *v) {
    __m512 w[8], x[4], y[2];
#pragma GCC unroll 8
    for (int i = 0; i < 8; i++) /* 256-bit halves */
        w[i] = _mm512_add_ps(_mm512_shuffle_f32x4(v[i], v[i + 8], 0x44),
                             _mm512_shuffle_f32x4(v[i], v[i + 8], 0xEE));
#pragma GCC unroll 4
    for (int i = 0; i < 4; i++) /* 128-bit quarters */
        x[i] = _mm512_add_ps(_mm512_shuffle_f32x4(w[i], w[i + 4], 0x88),
                             _mm512_shuffle_f32x4(w[i], w[i + 4], 0xDD));
#pragma GCC unroll 2
    for (int i = 0; i < 2; i++) /* pairs of lanes */
        y[i] = _mm512_add_ps(_mm512_shuffle_ps(x[i], x[i + 2], 0x44),
                             _mm512_shuffle_ps(x[i], x[i + 2], 0xEE));
    return _mm512_add_ps(_mm512_shuffle_ps(y[0], y[1], 0x88), _mm512_shuffle_ps(y[0], y[1], 0xDD));
}

/* gemm_dot for a constant N = nc <= 15: tiles of R = 16 / nc rows, whose R x nc outputs are
 * contiguous in C (row stride N) and come out of one sum_lanes_16 as lanes r nc + c. Rows past M
 * in the last tile repeat row M - 1 and are not stored. */
NN_ALWAYS_INLINE NN_AVX512 void gemm_dot_n(const int nc, int M, int K, const float *A,
                                           ptrdiff_t lda, const float *Bt, ptrdiff_t ldbt, float *C,
                                           const epilogue_t *e) {
    const int R = 16 / nc, lanes = R * nc;
    const __m512 zero = _mm512_setzero_ps();
    float pattern[16]; /* bias[p % nc] for lane p */
    for (int p = 0; p < 16; p++) pattern[p] = e->bias && p < lanes ? e->bias[p % nc] : 0.0f;
    __m512 bias = _mm512_loadu_ps(pattern), sums = zero;
    int ktail = K & 15;
    __mmask16 kmask = (__mmask16)((1u << ktail) - 1);
    for (int m0 = 0; m0 < M; m0 += R) {
        int rows = M - m0 < R ? M - m0 : R;
        const float *a[16];
        for (int r = 0; r < R; r++) a[r] = A + (ptrdiff_t)(m0 + (r < rows ? r : rows - 1)) * lda;
        __m512 acc[16];
#pragma GCC unroll 16
        for (int p = 0; p < 16; p++) acc[p] = zero;
        int k = 0;
        for (; k + 16 <= K; k += 16) {
            __m512 b[15];
#pragma GCC unroll 15
            for (int c = 0; c < nc; c++) b[c] = _mm512_loadu_ps(Bt + c * ldbt + k);
#pragma GCC unroll 16
            for (int r = 0; r < R; r++) {
                __m512 x = _mm512_loadu_ps(a[r] + k);
#pragma GCC unroll 15
                for (int c = 0; c < nc; c++)
                    acc[dot_lane_slot[r * nc + c]] =
                        _mm512_fmadd_ps(x, b[c], acc[dot_lane_slot[r * nc + c]]);
            }
        }
        if (ktail) {
            __m512 b[15];
#pragma GCC unroll 15
            for (int c = 0; c < nc; c++) b[c] = _mm512_maskz_loadu_ps(kmask, Bt + c * ldbt + k);
#pragma GCC unroll 16
            for (int r = 0; r < R; r++) {
                __m512 x = _mm512_maskz_loadu_ps(kmask, a[r] + k);
#pragma GCC unroll 15
                for (int c = 0; c < nc; c++)
                    acc[dot_lane_slot[r * nc + c]] =
                        _mm512_fmadd_ps(x, b[c], acc[dot_lane_slot[r * nc + c]]);
            }
        }
        __m512 x = _mm512_add_ps(sum_lanes_16(acc), bias);
        __mmask16 out = (__mmask16)((1u << (rows * nc)) - 1);
        float *c = C + (ptrdiff_t)m0 * nc;
        if (e->accumulate) x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(out, c));
        if (e->relu) x = _mm512_max_ps(x, zero);
        if (e->gate) {
            __m512 g = _mm512_maskz_loadu_ps(out, e->gate + (ptrdiff_t)m0 * nc);
            x = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(g, zero, _CMP_GT_OQ), x);
        }
        _mm512_mask_storeu_ps(c, out, x);
        if (e->col_sums) sums = _mm512_add_ps(sums, _mm512_maskz_mov_ps(out, x));
    }
    if (e->col_sums) {
        float lane[16];
        _mm512_storeu_ps(lane, sums);
        for (int p = 0; p < lanes; p++) e->col_sums[p % nc] += lane[p];
    }
}

/* C (M, N) = A (M, K) @ Bt (N, K)^T with the epilogue e, for 1 <= N <= 15: row-major, A and Bt
 * with row strides lda and ldbt, C and a gate with row stride N. Each element is a dot product
 * of two contiguous rows, 16 of them summed across lanes together. */
NN_AVX512 static void gemm_dot(int M, int N, int K, const float *A, ptrdiff_t lda, const float *Bt,
                               ptrdiff_t ldbt, float *C, const epilogue_t *e) {
#define DOT_CASE(NC)                                                                               \
    case NC:                                                                                       \
        gemm_dot_n(NC, M, K, A, lda, Bt, ldbt, C, e);                                              \
        break;
    /* clang-format off */
    switch (N) {
    DOT_CASE(1) DOT_CASE(2) DOT_CASE(3) DOT_CASE(4) DOT_CASE(5)
    DOT_CASE(6) DOT_CASE(7) DOT_CASE(8) DOT_CASE(9) DOT_CASE(10)
    DOT_CASE(11) DOT_CASE(12) DOT_CASE(13) DOT_CASE(14) DOT_CASE(15)
    default:
        break;
    }
    /* clang-format on */
#undef DOT_CASE
}

/* A layer's three products on the kernels. wt is scratch for in x out floats. */

/* y (B, out) = x (B, in) W + b, ReLU when relu. */
static void kernel_forward(float *y, const float *x, const float *W, const float *b, int B, int in,
                           int out, int relu, float *wt) {
    epilogue_t e = {b, 0, relu, NULL, 0, NULL};
    if (out >= 16) {
        gemm_broadcast(B, out, in, x, in, 1, W, out, y, out, 0, &e);
    } else {
        const float *Wt = W; /* (out, in): W (in, out) transposed, itself when out is 1 */
        if (out > 1) transpose(wt, W, in, out), Wt = wt;
        gemm_dot(B, out, in, x, in, Wt, in, y, &e);
    }
}

/* dW (in, out) (+)= x (B, in)^T g (B, out). */
static void kernel_weight_grad(float *dW, const float *x, const float *g, int B, int in, int out,
                               int accumulate) {
    epilogue_t e = {NULL, accumulate, 0, NULL, 0, NULL};
    if (out >= 16 || in < 16) /* rows of dW from columns of x, columns from rows of g */
        gemm_broadcast(in, out, B, x, 1, in, g, out, dW, out, 0, &e);
    else /* narrow layer: dW^T (out, in) = g^T x, stored transposed */
        gemm_broadcast(out, in, B, g, 1, out, x, in, dW, out, 1, &e);
}

/* dx (B, in) = g (B, out) W^T, then dx *= (gate > 0) when gate (B, in) is non-NULL, then
 * col_sums (in) += column sums of dx when non-NULL. */
static void kernel_input_grad(float *dx, const float *g, const float *W, int B, int in, int out,
                              const float *gate, float *col_sums, float *wt) {
    epilogue_t e = {NULL, 0, 0, gate, in, col_sums};
    if (in >= 16 || out < 16) {
        const float *Wt = W; /* (out, in), itself when in or out is 1 */
        if (in > 1 && out > 1) transpose(wt, W, in, out), Wt = wt;
        gemm_broadcast(B, in, out, g, out, 1, Wt, in, dx, in, 0, &e);
    } else {
        gemm_dot(B, in, out, g, out, W, out, dx, &e);
    }
}

/* Rows lo..hi of kernel_weight_grad's dW (or, for a narrow layer stored transposed, its columns
 * lo..hi). Every element is the same sum over the B rows as in the whole call. */
static void kernel_weight_grad_rows(float *dW, const float *x, const float *g, int B, int in,
                                    int out, int accumulate, int lo, int hi) {
    if (lo >= hi) return;
    epilogue_t e = {NULL, accumulate, 0, NULL, 0, NULL};
    if (out >= 16 || in < 16)
        gemm_broadcast(hi - lo, out, B, x + lo, 1, in, g, out, dW + (size_t)lo * out, out, 0, &e);
    else
        gemm_broadcast(out, hi - lo, B, g, 1, out, x + lo, in, dW + (size_t)lo * out, out, 1, &e);
}

/* 1 when kernel_input_grad can be cut by dx's columns (not the dot-product case in < 16 <= out,
 * which runs whole). */
static int kernel_input_grad_cuts(int in, int out) {
    return in >= 16 || out < 16;
}

/* Columns lo..hi of kernel_input_grad (with their gate and column sums), from the matching rows
 * of W transposed into wt (the thread's scratch). */
static void kernel_input_grad_cols(float *dx, const float *g, const float *W, int B, int in,
                                   int out, const float *gate, float *col_sums, float *wt, int lo,
                                   int hi) {
    if (lo >= hi) return;
    int nb = hi - lo;
    const float *Wt = W + lo; /* (out, in) view: W itself when out is 1 */
    ptrdiff_t ldb = in;
    if (in > 1 && out > 1) { /* rows lo..hi of W (in, out), transposed: (out, nb) */
        transpose(wt, W + (size_t)lo * out, nb, out);
        Wt = wt;
        ldb = nb;
    }
    epilogue_t e = {NULL, 0, 0, gate ? gate + lo : NULL, in, col_sums ? col_sums + lo : NULL};
    gemm_broadcast(B, nb, out, g, out, 1, Wt, ldb, dx + lo, in, 0, &e);
}

#endif /* NN_HAVE_KERNELS */

/* ---- primitives ---- */

void nn_linear_forward(float *out, const float *in, const float *W, const float *b, int B,
                       int in_dim, int out_dim) {
    if (B <= 0) return;
    mm_forward(out, in, W, B, in_dim, out_dim);
    add_bias_rows(out, b, B, out_dim, 0);
}

void nn_linear_backward(float *din, float *dW, float *db, const float *dout, const float *in,
                        const float *W, int B, int in_dim, int out_dim) {
    if (B <= 0) return;
    if (dW) mm_weight_grad(dW, in, dout, B, in_dim, out_dim);
    if (db) col_sums(db, dout, B, out_dim);
    if (din) mm_input_grad(din, dout, W, B, in_dim, out_dim);
}

void nn_relu_forward(float *x, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

void nn_relu_backward(float *dx, const float *y, size_t n) {
    for (size_t i = 0; i < n; i++) dx[i] = y[i] > 0.0f ? dx[i] : 0.0f;
}

/* ---- MLP ---- */

/* Fills sizes from (in, hidden, out); returns the number of linear layers or -1 if invalid. */
static int mlp_sizes(int *sizes, int in_dim, const int *hidden, int n_hidden, int out_dim) {
    if (in_dim <= 0 || out_dim <= 0 || n_hidden < 0 || n_hidden + 1 > NN_MAX_LAYERS) return -1;
    if (n_hidden > 0 && !hidden) return -1;
    sizes[0] = in_dim;
    for (int l = 0; l < n_hidden; l++) {
        if (hidden[l] <= 0) return -1;
        sizes[l + 1] = hidden[l];
    }
    sizes[n_hidden + 1] = out_dim;
    return n_hidden + 1;
}

static size_t count_params(const int *sizes, int n_layers) {
    size_t n = 0;
    for (int l = 0; l < n_layers; l++) n += (size_t)sizes[l] * sizes[l + 1] + (size_t)sizes[l + 1];
    return n;
}

size_t nn_mlp_param_count(int in_dim, const int *hidden, int n_hidden, int out_dim) {
    int sizes[NN_MAX_LAYERS + 1];
    int n_layers = mlp_sizes(sizes, in_dim, hidden, n_hidden, out_dim);
    return n_layers < 0 ? 0 : count_params(sizes, n_layers);
}

void nn_mlp_bind(nn_mlp_t *m, float *params) {
    m->params = params;
    m->owns_params = 0;
    m->n_params = count_params(m->sizes, m->n_layers);
    float *p = params;
    for (int l = 0; l < m->n_layers; l++) {
        m->W[l] = p;
        p += (size_t)m->sizes[l] * m->sizes[l + 1];
        m->b[l] = p;
        p += m->sizes[l + 1];
    }
    for (int l = m->n_layers; l < NN_MAX_LAYERS; l++) m->W[l] = m->b[l] = NULL;
}

static float *alloc_floats(size_t n) {
    void *p = NULL;
    size_t bytes = (n ? n : 1) * sizeof(float);
    bytes = (bytes + NN_ALIGN - 1) / NN_ALIGN * NN_ALIGN;
    if (posix_memalign(&p, NN_ALIGN, bytes) != 0) return NULL;
    return p;
}

int nn_mlp_init(nn_mlp_t *m, int in_dim, const int *hidden, int n_hidden, int out_dim, rng_t *rng) {
    memset(m, 0, sizeof *m);
    int n_layers = mlp_sizes(m->sizes, in_dim, hidden, n_hidden, out_dim);
    if (n_layers < 0 || !rng) return -1;
    m->n_layers = n_layers;
    float *params = alloc_floats(count_params(m->sizes, n_layers));
    if (!params) return -1;
    nn_mlp_bind(m, params);
    m->owns_params = 1;
    /* PyTorch nn.Linear: weight and bias uniform in +-1/sqrt(fan_in). */
    for (int l = 0; l < n_layers; l++) {
        float bound = 1.0f / sqrtf((float)m->sizes[l]);
        size_t nw = (size_t)m->sizes[l] * m->sizes[l + 1];
        for (size_t i = 0; i < nw; i++) m->W[l][i] = (2.0f * rng_uniform(rng) - 1.0f) * bound;
        for (int i = 0; i < m->sizes[l + 1]; i++)
            m->b[l][i] = (2.0f * rng_uniform(rng) - 1.0f) * bound;
    }
    return 0;
}

void nn_mlp_free(nn_mlp_t *m) {
    if (!m) return;
    if (m->owns_params) free(m->params);
    memset(m, 0, sizeof *m);
}

int nn_mlp_work_init(nn_mlp_work_t *w, const nn_mlp_t *m, int max_batch) {
    memset(w, 0, sizeof *w);
    if (max_batch <= 0 || m->n_layers <= 0 || m->n_layers > NN_MAX_LAYERS) return -1;
    w->max_batch = max_batch;
    int widest = 0;
    size_t most_weights = 0; /* the largest layer's in x out, for weights_t */
    for (int l = 0; l <= m->n_layers; l++) {
        if (m->sizes[l] > widest) widest = m->sizes[l];
        w->act[l] = alloc_floats((size_t)max_batch * m->sizes[l]);
        if (!w->act[l]) goto fail;
        size_t nw = l < m->n_layers ? (size_t)m->sizes[l] * m->sizes[l + 1] : 0;
        if (nw > most_weights) most_weights = nw;
    }
    w->grad_a = alloc_floats((size_t)max_batch * widest);
    w->grad_b = alloc_floats((size_t)max_batch * widest);
    w->weights_t = alloc_floats(most_weights);
    if (!w->grad_a || !w->grad_b || !w->weights_t) goto fail;
    w->weights_t_cap = most_weights;
    return 0;
fail:
    nn_mlp_work_free(w);
    return -1;
}

void nn_mlp_work_free(nn_mlp_work_t *w) {
    if (!w) return;
    for (int l = 0; l <= NN_MAX_LAYERS; l++) free(w->act[l]);
    free(w->grad_a);
    free(w->grad_b);
    free(w->weights_t);
    memset(w, 0, sizeof *w);
}

int nn_mlp_work_set_pool(nn_mlp_work_t *w, nn_pool_t *pool) {
    if (pool && nn_pool_reserve_scratch(pool, w->weights_t_cap) != 0) return -1;
    w->pool = pool;
    return 0;
}

/* 1 when layer l runs on the kernels with w's scratch. */
static int layer_on_kernels(const nn_mlp_t *m, const nn_mlp_work_t *w, int l) {
    int in = m->sizes[l], out = m->sizes[l + 1];
    return w->weights_t && (size_t)in * out <= w->weights_t_cap && use_kernels(in, out);
}

/* One layer l: y = x W_l + b_l, ReLU unless it is the output layer; wt is kernel scratch. */
static void mlp_layer(const nn_mlp_t *m, const nn_mlp_work_t *w, int l, const float *x, float *y,
                      int B, float *wt) {
    int in = m->sizes[l], out = m->sizes[l + 1], relu = l + 1 < m->n_layers;
#ifdef NN_HAVE_KERNELS
    if (layer_on_kernels(m, w, l)) {
        kernel_forward(y, x, m->W[l], m->b[l], B, in, out, relu, wt);
        return;
    }
#else
    (void)w;
    (void)wt;
#endif
    mm_forward_bias(y, x, m->W[l], m->b[l], B, in, out, relu);
}

/* Rows r0..r1 of a forward (keep: activations into w, as nn_mlp_forward) or of an inference
 * (intermediates in w's grad buffers, at the same row offsets). Rows are independent, so any split
 * of the batch gives every row the same result. */
static void forward_rows(const nn_mlp_t *m, const nn_mlp_work_t *w, const float *in, int r0, int r1,
                         float *out, int keep, float *wt) {
    int L = m->n_layers, B = r1 - r0;
    if (B <= 0) return;
    const float *x = in + (size_t)r0 * m->sizes[0];
    if (keep) {
        memcpy(w->act[0] + (size_t)r0 * m->sizes[0], x, (size_t)B * m->sizes[0] * sizeof(float));
        x = w->act[0] + (size_t)r0 * m->sizes[0];
    }
    for (int l = 0; l < L; l++) {
        size_t off = (size_t)r0 * m->sizes[l + 1];
        float *y = keep ? w->act[l + 1] + off
                        : (l + 1 == L ? out + off : (l % 2 == 0 ? w->grad_a : w->grad_b) + off);
        mlp_layer(m, w, l, x, y, B, wt);
        x = y;
    }
    if (keep) memcpy(out + (size_t)r0 * m->sizes[L], x, (size_t)B * m->sizes[L] * sizeof(float));
}

/* Rows per chunk of a cut forward: whole tiles of the broadcast kernel. */
#define FORWARD_ROW_ALIGN 6

/* 1 when a pass of w over B rows can be cut between n threads: several, rows enough to share,
 * and every layer on the kernels, whose sums do not depend on the cut. OpenBLAS's do: a block of
 * rows or columns of a product can differ in the last bits from the same block of the whole
 * product (measured on OpenBLAS 0.3.21 for every layer shape here), so passes on OpenBLAS run
 * whole, one per thread (the twin critics side by side), to keep the bits of one thread. */
static int split_passes(const nn_mlp_t *m, const nn_mlp_work_t *w, int B, int n) {
    if (n < 2 || B < 2 * n) return 0;
    for (int l = 0; l < m->n_layers; l++)
        if (!layer_on_kernels(m, w, l)) return 0;
    return 1;
}

/* One pass over a net: a forward (keep: activations kept, as nn_mlp_forward), an inference, or a
 * backward (dparams += or = the gradient). */
typedef enum { PASS_FORWARD, PASS_INFER, PASS_BACKWARD } pass_kind_t;
typedef struct {
    pass_kind_t kind;
    const nn_mlp_t *m;
    const nn_mlp_work_t *w;
    const float *in; /* forward, infer: input; backward: dout */
    float *out;      /* forward, infer: output; backward: din (may be NULL) */
    float *dparams;
    int B, accumulate;
} pass_t;

/* A whole backward on the calling thread; wt: its kernel scratch. */
static void backward_whole(const pass_t *p, float *wt) {
    const nn_mlp_t *m = p->m;
    const nn_mlp_work_t *w = p->w;
    int L = m->n_layers, B = p->B, accumulate = p->accumulate;
    float *dparams = p->dparams, *din = p->out;
    if (dparams && !accumulate) {
        if (B <= 0) {
            memset(dparams, 0, m->n_params * sizeof(float));
        } else { /* bias gradients are sums taken as their rows go by: they start from 0; weight
                  * gradients are stored by the kernels, or cleared before OpenBLAS adds to them */
            for (int l = 0; l < L; l++)
                memset(dparams + (m->b[l] - m->params), 0, (size_t)m->sizes[l + 1] * sizeof(float));
        }
    }
    if (B <= 0) return;
    /* g: gradient with respect to layer l's output (pre-ReLU once masked). */
    const float *g = p->in;
    float *bufs[2] = {w->grad_a, w->grad_b};
    int g_ready = 0; /* g already through layer l's ReLU and its bias sums taken (kernels) */
#ifndef NN_HAVE_KERNELS
    (void)wt;
#endif
    for (int l = L - 1; l >= 0; l--) {
        int in = m->sizes[l], out = m->sizes[l + 1];
        float *dW = dparams ? dparams + (m->W[l] - m->params) : NULL;
        float *db = dparams ? dparams + (m->b[l] - m->params) : NULL;
        float *dx = l > 0 ? bufs[l % 2] : din;
        if (!g_ready) {
            if (l + 1 < L) /* hidden layer: g is a work buffer here; through the ReLU, with db */
                relu_mask_col_sums((float *)g, w->act[l + 1], db, B, out);
            else if (db)
                col_sums(db, g, B, out);
        }
        g_ready = 0;
#ifdef NN_HAVE_KERNELS
        if (layer_on_kernels(m, w, l)) {
            /* The layer below's ReLU and bias sums happen as dx is stored. */
            float *db_below = l > 0 && dparams && dx ? dparams + (m->b[l - 1] - m->params) : NULL;
            if (dW) kernel_weight_grad(dW, w->act[l], g, B, in, out, accumulate);
            if (dx)
                kernel_input_grad(dx, g, m->W[l], B, in, out, l > 0 ? w->act[l] : NULL, db_below,
                                  wt);
            g_ready = dx && l > 0;
            g = dx;
            continue;
        }
#endif
        if (dW) {
            if (!accumulate) memset(dW, 0, (size_t)in * out * sizeof(float));
            mm_weight_grad(dW, w->act[l], g, B, in, out);
        }
        if (dx) mm_input_grad(dx, g, m->W[l], B, in, out);
        g = dx;
    }
}

/* ---- passes on the pool ----
 * Two passes at once (the twin critics) go to two groups of the pool's threads, the first half
 * on the first pass (measured: at 2 threads, each critic whole on its own thread beat both
 * critics' layers shared by both threads, 263 against 236 updates/s at the ant shape, from
 * locality and no barriers). Within a group, the threads claim the pass's work chunk by chunk
 * from a shared counter (about NN_CHUNKS_PER_THREAD chunks each), so a thread slowed by another
 * process on its core leaves its chunks to the others. A forward's chunks are blocks of rows
 * (rows are independent: no phases); a backward runs layer by layer, one phase per layer with a
 * barrier between, each phase's chunks being blocks of the weight gradient's rows and of the
 * input gradient's columns. Every chunk boundary is a multiple of the block the kernels keep
 * their sums in, so each element is the same sum in the same order whatever thread takes it:
 * the bits depend neither on the thread count nor on who claimed what. */

typedef struct {
    const pass_t *pass;
    int nthreads, first; /* the group's threads: pool threads first .. first + nthreads - 1 */
    int split;           /* 1: cut into chunks; 0: the group's first thread runs it whole */
    nn_barrier_t bar;
    atomic_int next[NN_MAX_LAYERS + 1]; /* one claim counter per phase */
} pass_group_t;

typedef struct {
    pass_group_t group[2];
    int n_groups;
    nn_pool_t *pool;
} pass_job_t;

/* Pool thread tid's kernel scratch for pass p: thread 0 uses the pass's own. */
static float *scratch_of(const pass_job_t *j, const pass_t *p, int tid) {
    return tid == 0 ? p->w->weights_t : nn_pool_scratch(j->pool, tid);
}

static void forward_group(pass_group_t *g, float *wt) {
    const pass_t *p = g->pass;
    int size = nn_chunk_size(p->B, FORWARD_ROW_ALIGN, g->nthreads);
    int count = p->B > 0 ? (p->B + size - 1) / size : 0;
    for (int i; (i = nn_claim(&g->next[0], count)) >= 0;) {
        int r0 = i * size, r1 = r0 + size < p->B ? r0 + size : p->B;
        forward_rows(p->m, p->w, p->in, r0, r1, p->out, p->kind == PASS_FORWARD, wt);
    }
}

/* Layer l of a split backward (on the kernels) as chunks: the output layer's bias sums (one
 * item), then dW's rows, then dx's columns (in the dot-product case, one item: the whole). */
typedef struct {
    int l, n_pre, w_size, n_w, x_size, n_x;
    float *dW, *db, *dx, *db_below;
    const float *g, *gate;
} layer_plan_t;

static void plan_layer(const pass_t *p, int l, int nthreads, layer_plan_t *q) {
    const nn_mlp_t *m = p->m;
    const nn_mlp_work_t *w = p->w;
    int L = m->n_layers, in = m->sizes[l];
    float *bufs[2] = {w->grad_a, w->grad_b};
    memset(q, 0, sizeof *q);
    q->l = l;
    q->dW = p->dparams ? p->dparams + (m->W[l] - m->params) : NULL;
    q->db = p->dparams ? p->dparams + (m->b[l] - m->params) : NULL;
    q->dx = l > 0 ? bufs[l % 2] : p->out;
    q->db_below = l > 0 && p->dparams && q->dx ? p->dparams + (m->b[l - 1] - m->params) : NULL;
    q->gate = l > 0 ? w->act[l] : NULL;
    /* The output layer's g is dout; every other's is the layer above's dx, already through this
     * layer's ReLU with its bias sums taken (as that dx was stored). */
    q->g = l + 1 == L ? p->in : bufs[(l + 1) % 2];
    q->n_pre = l + 1 == L && q->db;
#ifdef NN_HAVE_KERNELS
    int out = m->sizes[l + 1];
    if (q->dW) {
        int rows = out >= 16 || in < 16; /* dW's rows by tiles; else dW^T's columns by vectors */
        int align = rows ? (in >= 2 * TILE_ROWS ? TILE_ROWS : 1) : 16;
        q->w_size = nn_chunk_size(in, align, nthreads);
        q->n_w = (in + q->w_size - 1) / q->w_size;
    }
    if (q->dx) {
        q->x_size = kernel_input_grad_cuts(in, out) ? nn_chunk_size(in, 16, nthreads) : in;
        q->n_x = (in + q->x_size - 1) / q->x_size;
    }
#else
    (void)in;
    (void)nthreads;
#endif
}

static void run_layer_item(const pass_t *p, const layer_plan_t *q, int i, float *wt) {
    const nn_mlp_t *m = p->m;
    int l = q->l, B = p->B, in = m->sizes[l], out = m->sizes[l + 1];
    if (i < q->n_pre) {
        col_sums(q->db, q->g, B, out);
        return;
    }
#ifdef NN_HAVE_KERNELS
    i -= q->n_pre;
    int wpart = i < q->n_w, size = wpart ? q->w_size : q->x_size;
    if (!wpart) i -= q->n_w;
    int lo = i * size, hi = lo + size < in ? lo + size : in;
    if (wpart)
        kernel_weight_grad_rows(q->dW, p->w->act[l], q->g, B, in, out, p->accumulate, lo, hi);
    else if (kernel_input_grad_cuts(in, out))
        kernel_input_grad_cols(q->dx, q->g, m->W[l], B, in, out, q->gate, q->db_below, wt, lo, hi);
    else
        kernel_input_grad(q->dx, q->g, m->W[l], B, in, out, q->gate, q->db_below, wt);
#else
    (void)in;
    (void)wt; /* no kernels, no cut passes (split_passes) */
#endif
}

/* A cut backward: the bias gradients cleared first when the pass sets (not adds to) them, then
 * phase s takes layer L - 1 - s. */
static void backward_group(pass_group_t *g, int gtid, float *wt) {
    const pass_t *p = g->pass;
    const nn_mlp_t *m = p->m;
    int clear = p->dparams && !p->accumulate;
    if (clear && gtid == 0)
        for (int l = 0; l < m->n_layers; l++)
            memset(p->dparams + (m->b[l] - m->params), 0, (size_t)m->sizes[l + 1] * sizeof(float));
    for (int s = 0; s < m->n_layers; s++) {
        if (s > 0 || clear) /* the biases cleared; the layer above's dx stored */
            nn_barrier_wait(&g->bar);
        layer_plan_t plan;
        plan_layer(p, m->n_layers - 1 - s, g->nthreads, &plan);
        int count = plan.n_pre + plan.n_w + plan.n_x;
        for (int i; (i = nn_claim(&g->next[s], count)) >= 0;) run_layer_item(p, &plan, i, wt);
    }
}

static void pass_job(void *ctx, int tid, int nthreads) {
    (void)nthreads;
    pass_job_t *j = ctx;
    pass_group_t *g = &j->group[j->n_groups == 2 && tid >= j->group[1].first];
    int gtid = tid - g->first;
    const pass_t *p = g->pass;
    float *wt = scratch_of(j, p, tid);
    if (!g->split) {
        if (gtid != 0) return;
        if (p->kind == PASS_BACKWARD)
            backward_whole(p, wt);
        else
            forward_rows(p->m, p->w, p->in, 0, p->B, p->out, p->kind == PASS_FORWARD, wt);
    } else if (p->kind == PASS_BACKWARD) {
        backward_group(g, gtid, wt);
    } else {
        forward_group(g, wt);
    }
}

/* Runs the passes (one, or two sharing w's pool) and returns when they are done. */
static void run_passes(const pass_t *a, const pass_t *b) {
    nn_pool_t *pool = a->w->pool;
    int T = nn_pool_threads(pool);
    if (T < 2) {
        const pass_t *ps[2] = {a, b};
        for (int k = 0; k < 2 && ps[k]; k++) {
            if (ps[k]->kind == PASS_BACKWARD)
                backward_whole(ps[k], ps[k]->w->weights_t);
            else
                forward_rows(ps[k]->m, ps[k]->w, ps[k]->in, 0, ps[k]->B, ps[k]->out,
                             ps[k]->kind == PASS_FORWARD, ps[k]->w->weights_t);
        }
        return;
    }
    pass_job_t j;
    memset(&j, 0, sizeof j);
    j.pool = pool;
    j.n_groups = b ? 2 : 1;
    const pass_t *ps[2] = {a, b};
    for (int k = 0; k < j.n_groups; k++) {
        pass_group_t *g = &j.group[k];
        g->pass = ps[k];
        g->first = k == 0 ? 0 : T / 2;
        g->nthreads = j.n_groups == 1 ? T : k == 0 ? T / 2 : T - T / 2;
        g->split = split_passes(ps[k]->m, ps[k]->w, ps[k]->B, g->nthreads);
        nn_barrier_init(&g->bar, g->nthreads);
        for (int s = 0; s < NN_MAX_LAYERS + 1; s++) atomic_init(&g->next[s], 0);
    }
    nn_pool_run(pool, pass_job, &j);
}

void nn_mlp_forward(const nn_mlp_t *m, nn_mlp_work_t *w, const float *in, int B, float *out) {
    if (B <= 0) return;
    pass_t p = {PASS_FORWARD, m, w, in, out, NULL, B, 0};
    run_passes(&p, NULL);
}

void nn_mlp_infer(const nn_mlp_t *m, nn_mlp_work_t *w, const float *in, int B, float *out) {
    if (B <= 0) return;
    pass_t p = {PASS_INFER, m, w, in, out, NULL, B, 0};
    run_passes(&p, NULL);
}

void nn_mlp_backward(const nn_mlp_t *m, nn_mlp_work_t *w, const float *dout, int B, float *dparams,
                     float *din) {
    pass_t p = {PASS_BACKWARD, m, w, dout, din, dparams, B, 1};
    run_passes(&p, NULL);
}

void nn_mlp_backward_set(const nn_mlp_t *m, nn_mlp_work_t *w, const float *dout, int B,
                         float *dparams, float *din) {
    pass_t p = {PASS_BACKWARD, m, w, dout, din, dparams, B, 0};
    run_passes(&p, NULL);
}

/* Two passes of one kind at once (see nn.h); a pass with B <= 0 (forward kinds) does nothing. */
static void run_pair(pass_kind_t kind, const nn_mlp_t *const m[2], nn_mlp_work_t *const w[2],
                     const float *const in[2], const int B[2], float *const out[2],
                     float *const dparams[2], int accumulate) {
    pass_t p[2];
    for (int k = 0; k < 2; k++) {
        pass_t q = {kind, m[k], w[k], in[k], out[k], dparams ? dparams[k] : NULL, B[k], accumulate};
        p[k] = q;
    }
    run_passes(&p[0], &p[1]);
}

void nn_mlp_forward2(const nn_mlp_t *const m[2], nn_mlp_work_t *const w[2],
                     const float *const in[2], const int B[2], float *const out[2]) {
    run_pair(PASS_FORWARD, m, w, in, B, out, NULL, 0);
}

void nn_mlp_infer2(const nn_mlp_t *const m[2], nn_mlp_work_t *const w[2], const float *const in[2],
                   const int B[2], float *const out[2]) {
    run_pair(PASS_INFER, m, w, in, B, out, NULL, 0);
}

void nn_mlp_backward2(const nn_mlp_t *const m[2], nn_mlp_work_t *const w[2],
                      const float *const dout[2], const int B[2], float *const dparams[2],
                      float *const din[2]) {
    run_pair(PASS_BACKWARD, m, w, dout, B, din, dparams, 0);
}

double nn_mlp_flops_forward(const nn_mlp_t *m, int B) {
    double f = 0.0;
    for (int l = 0; l < m->n_layers; l++) f += 2.0 * B * m->sizes[l] * m->sizes[l + 1];
    return f;
}

/* ---- threads ---- */

void nn_set_threads(int n) {
    openblas_set_num_threads(n < 1 ? 1 : n);
}

int nn_get_threads(void) {
    return openblas_get_num_threads();
}
