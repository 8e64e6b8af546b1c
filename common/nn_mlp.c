/* nn_mlp: linear layers, ReLU and the MLP (forward, inference, backward) on OpenBLAS sgemm.
 * All matrix work is sgemm over batch-major row-major buffers; the remaining per-element work
 * (bias + ReLU after a forward product, ReLU mask + bias column sums before a backward product) is
 * one fused pass over each activation, so nearly all the time goes to sgemm. No allocation
 * happens outside nn_mlp_init and nn_mlp_work_init. */
#include "nn.h"
#include <cblas.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define NN_ALIGN 64

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

/* ---- products (row-major) ---- */

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
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, in, out, 1.0f, g, out, W, out, 0.0f,
                    dx, in);
    }
}

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
    for (int l = 0; l <= m->n_layers; l++) {
        if (m->sizes[l] > widest) widest = m->sizes[l];
        w->act[l] = alloc_floats((size_t)max_batch * m->sizes[l]);
        if (!w->act[l]) goto fail;
    }
    w->grad_a = alloc_floats((size_t)max_batch * widest);
    w->grad_b = alloc_floats((size_t)max_batch * widest);
    if (!w->grad_a || !w->grad_b) goto fail;
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
    memset(w, 0, sizeof *w);
}

/* One layer l: y = x W_l + b_l, ReLU unless it is the output layer. */
static void mlp_layer(const nn_mlp_t *m, int l, const float *x, float *y, int B) {
    int in = m->sizes[l], out = m->sizes[l + 1];
    mm_forward(y, x, m->W[l], B, in, out);
    add_bias_rows(y, m->b[l], B, out, l + 1 < m->n_layers);
}

void nn_mlp_forward(const nn_mlp_t *m, nn_mlp_work_t *w, const float *in, int B, float *out) {
    if (B <= 0) return;
    int L = m->n_layers;
    memcpy(w->act[0], in, (size_t)B * m->sizes[0] * sizeof(float));
    for (int l = 0; l < L; l++) mlp_layer(m, l, w->act[l], w->act[l + 1], B);
    memcpy(out, w->act[L], (size_t)B * m->sizes[L] * sizeof(float));
}

void nn_mlp_infer(const nn_mlp_t *m, nn_mlp_work_t *w, const float *in, int B, float *out) {
    if (B <= 0) return;
    int L = m->n_layers;
    const float *x = in;
    for (int l = 0; l < L; l++) {
        float *y = l + 1 == L ? out : (l % 2 == 0 ? w->grad_a : w->grad_b);
        mlp_layer(m, l, x, y, B);
        x = y;
    }
}

void nn_mlp_backward(const nn_mlp_t *m, nn_mlp_work_t *w, const float *dout, int B, float *dparams,
                     float *din) {
    if (B <= 0) return;
    int L = m->n_layers;
    /* g: gradient with respect to layer l's output (pre-ReLU once masked). */
    const float *g = dout;
    float *bufs[2] = {w->grad_a, w->grad_b};
    for (int l = L - 1; l >= 0; l--) {
        int in = m->sizes[l], out = m->sizes[l + 1];
        float *dW = dparams ? dparams + (m->W[l] - m->params) : NULL;
        float *db = dparams ? dparams + (m->b[l] - m->params) : NULL;
        if (l + 1 < L) /* hidden layer: g is a work buffer here; through the ReLU, fused with db */
            relu_mask_col_sums((float *)g, w->act[l + 1], db, B, out);
        else if (db)
            col_sums(db, g, B, out);
        if (dW) mm_weight_grad(dW, w->act[l], g, B, in, out);
        float *dx = l > 0 ? bufs[l % 2] : din;
        if (dx) mm_input_grad(dx, g, m->W[l], B, in, out);
        g = dx;
    }
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
