/* nn_policy: the tanh-squashed diagonal Gaussian policy head and the diagonal Gaussian
 * log-density, with their backward passes. The one idea: with u = mean + std * noise, the
 * Gaussian term of log pi is -noise^2/2 - log_std - log(2 pi)/2 exactly, and the tanh correction
 * log(1 - tanh(u)^2) = 2 (log 2 - u - softplus(-2u)) stays finite for any u, so the forward never
 * divides by std nor takes the log of a vanishing 1 - tanh^2; its derivative in u is -2 tanh(u).
 *
 * Speed: the head's per-element math (exp, tanh, softplus) is written here as branch-free float
 * code (each within 2 ulp) that the compiler vectorises, run over the flat (row, action) elements
 * in chunks copied out of the interleaved [mean | log_std] rows; the loops are compiled twice,
 * portable and AVX-512 (taken when nn_simd_enabled()). tanh(u) and softplus(-2u) share one
 * e = exp(-2|u|). */
#include "nn.h"
#include <math.h>
#include <stdint.h>
#include <string.h>

#define HALF_LOG_2PI 0.91893853320467274178f
#define LOG_2 0.69314718055994530942f

/* Elements of the head handled per chunk (stack scratch of a few chunks). */
#define HEAD_CHUNK 256
/* Widest shared log-std whose 1/std is precomputed on the stack. */
#define DENSITY_MAX_SHARED 256

#if defined(__x86_64__) && defined(__GNUC__)
#define NN_HAVE_AVX512 1
#define NN_AVX512 __attribute__((target("avx512f")))
#endif
#define NN_ALWAYS_INLINE static inline __attribute__((always_inline))

/* ---- vectorisable float math ---- */

/* The loops below vectorise only if-free: with trapping maths (the default) the compiler will not
 * turn a branch around floating-point work into a select, so selects are made of bits. */

NN_ALWAYS_INLINE float bits_float(uint32_t b) {
    float f;
    memcpy(&f, &b, sizeof f);
    return f;
}

/* cond ? a : b, both already computed. */
NN_ALWAYS_INLINE float select_f(int cond, float a, float b) {
    uint32_t mask = 0u - (uint32_t)(cond != 0), ba, bb;
    memcpy(&ba, &a, sizeof ba);
    memcpy(&bb, &b, sizeof bb);
    return bits_float((ba & mask) | (bb & ~mask));
}

NN_ALWAYS_INLINE float clamp_f(float x, float lo, float hi) {
    x = select_f(x < lo, lo, x);
    return select_f(x > hi, hi, x);
}

NN_ALWAYS_INLINE float clamp_log_std(float x) {
    return clamp_f(x, NN_LOG_STD_MIN, NN_LOG_STD_MAX);
}

/* e^x, x clamped to [-87, 88]; within 1.2 ulp. x = n ln2 + r, |r| <= ln2/2, e^r by its Taylor
 * polynomial to r^7, 2^n from the exponent bits. */
NN_ALWAYS_INLINE float exp_fast(float x) {
    x = clamp_f(x, -87.0f, 88.0f);
    const float shift = 12582912.0f; /* 1.5 * 2^23: adding it rounds to an integer */
    float n = (x * 1.44269504088896341f + shift) - shift;
    float r = x - n * 0.693145751953125f; /* ln 2 split so n * hi is exact */
    r = r - n * 1.42860682030941723212e-6f;
    float p = 1.0f / 5040.0f;
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    return p * bits_float((uint32_t)((int32_t)n + 127) << 23);
}

/* log(1 + e) for e in [0, 1], within 2 ulp: 2 atanh(t) with t = e / (2 + e) in [0, 1/3], by its
 * series to t^13. */
NN_ALWAYS_INLINE float log1p_unit(float e) {
    float t = e / (2.0f + e), t2 = t * t;
    float p = 1.0f / 13.0f;
    p = p * t2 + 1.0f / 11.0f;
    p = p * t2 + 1.0f / 9.0f;
    p = p * t2 + 1.0f / 7.0f;
    p = p * t2 + 1.0f / 5.0f;
    p = p * t2 + 1.0f / 3.0f;
    float two_t = 2.0f * t;
    return two_t + two_t * (t2 * p);
}

/* tanh(a) for a >= 0 given e = e^(-2a), within 1.5 ulp: (1 - e) / (1 + e), which cancels for
 * small a, so below 0.55 the Taylor series to a^19 instead. */
NN_ALWAYS_INLINE float tanh_nonneg(float a, float e) {
    float a2 = a * a;
    float p = -443861162.0f / 1856156927625.0f;
    p = p * a2 + 6404582.0f / 10854718875.0f;
    p = p * a2 - 929569.0f / 638512875.0f;
    p = p * a2 + 21844.0f / 6081075.0f;
    p = p * a2 - 1382.0f / 155925.0f;
    p = p * a2 + 62.0f / 2835.0f;
    p = p * a2 - 17.0f / 315.0f;
    p = p * a2 + 2.0f / 15.0f;
    p = p * a2 - 1.0f / 3.0f;
    float small = a + a * (a2 * p);
    float large = (1.0f - e) / (1.0f + e);
    return select_f(a < 0.55f, small, large);
}

NN_ALWAYS_INLINE float tanh_fast(float u) {
    float a = fabsf(u);
    return copysignf(tanh_nonneg(a, exp_fast(-2.0f * a)), u);
}

/* ---- the head over flat elements ---- */

/* n elements: u = mean + exp(clamped log_std) noise, action = tanh(u), and term = the element's
 * share of log_prob. */
NN_ALWAYS_INLINE void head_forward_elems(int n, const float *restrict mean,
                                         const float *restrict log_std_raw,
                                         const float *restrict noise, float *restrict u,
                                         float *restrict action, float *restrict term) {
    for (int k = 0; k < n; k++) {
        float ls = clamp_log_std(log_std_raw[k]), eps = noise[k];
        float uk = mean[k] + exp_fast(ls) * eps;
        float a = fabsf(uk), e = exp_fast(-2.0f * a);
        u[k] = uk;
        action[k] = copysignf(tanh_nonneg(a, e), uk);
        float m2u = -2.0f * uk;
        float softplus_m2u = select_f(m2u > 0.0f, m2u, 0.0f) + log1p_unit(e);
        /* log N(u; mean, std) - log(1 - tanh(u)^2) */
        term[k] = -0.5f * eps * eps - ls - HALF_LOG_2PI - 2.0f * (LOG_2 - uk - softplus_m2u);
    }
}

/* n elements of the backward: d_mean and d_log_std from u, noise, the raw log_std, d_action and
 * the row's d_log_prob (dlp) per element. */
NN_ALWAYS_INLINE void head_backward_elems(int n, const float *restrict u,
                                          const float *restrict noise,
                                          const float *restrict log_std_raw,
                                          const float *restrict d_action, const float *restrict dlp,
                                          float *restrict d_mean, float *restrict d_log_std) {
    for (int k = 0; k < n; k++) {
        float t = tanh_fast(u[k]);
        /* d/du of action is 1 - t^2; of log_prob (its tanh correction) is 2 t. */
        float du = 2.0f * t * dlp[k];
        du += d_action[k] * (1.0f - t * t);
        d_mean[k] = du;
        float raw = log_std_raw[k];
        /* u depends on log_std through std * noise; the Gaussian term adds -1. Zero where the
         * clamp is active. */
        float d = du * exp_fast(raw) * noise[k] - dlp[k];
        d_log_std[k] = select_f((raw < NN_LOG_STD_MIN) | (raw > NN_LOG_STD_MAX), 0.0f, d);
    }
}

static void head_forward_portable(int n, const float *mean, const float *ls, const float *noise,
                                  float *u, float *action, float *term) {
    head_forward_elems(n, mean, ls, noise, u, action, term);
}
static void head_backward_portable(int n, const float *u, const float *noise, const float *ls,
                                   const float *d_action, const float *dlp, float *d_mean,
                                   float *d_log_std) {
    head_backward_elems(n, u, noise, ls, d_action, dlp, d_mean, d_log_std);
}
#ifdef NN_HAVE_AVX512
NN_AVX512 static void head_forward_avx512(int n, const float *mean, const float *ls,
                                          const float *noise, float *u, float *action,
                                          float *term) {
    head_forward_elems(n, mean, ls, noise, u, action, term);
}
NN_AVX512 static void head_backward_avx512(int n, const float *u, const float *noise,
                                           const float *ls, const float *d_action, const float *dlp,
                                           float *d_mean, float *d_log_std) {
    head_backward_elems(n, u, noise, ls, d_action, dlp, d_mean, d_log_std);
}
#endif

/* Elements [e0, e0 + n) of a (B, A) array: columns j of head rows (B, 2A) at offset off (0 for
 * mean, A for log_std) into dst (n). */
static void gather_head(float *dst, const float *head, int A, int e0, int n, int off) {
    int i = e0 / A, j = e0 % A;
    for (int k = 0; k < n; k++) {
        dst[k] = head[(size_t)i * 2 * A + off + j];
        if (++j == A) j = 0, i++;
    }
}

static void scatter_head(float *head, const float *src, int A, int e0, int n, int off) {
    int i = e0 / A, j = e0 % A;
    for (int k = 0; k < n; k++) {
        head[(size_t)i * 2 * A + off + j] = src[k];
        if (++j == A) j = 0, i++;
    }
}

void nn_tanh_gaussian_forward(const float *head, const float *noise, int B, int A, float *action,
                              float *log_prob, float *u) {
    float mean_c[HEAD_CHUNK], ls_c[HEAD_CHUNK], u_c[HEAD_CHUNK], action_c[HEAD_CHUNK],
        term_c[HEAD_CHUNK];
    int total = B * A, simd = nn_simd_enabled();
    float lp = 0.0f; /* running sum of the current row's terms */
    int j = 0;       /* column of the next term */
    for (int e0 = 0; e0 < total; e0 += HEAD_CHUNK) {
        int n = total - e0 < HEAD_CHUNK ? total - e0 : HEAD_CHUNK;
        gather_head(mean_c, head, A, e0, n, 0);
        gather_head(ls_c, head, A, e0, n, A);
        float *u_out = u ? u + e0 : u_c, *action_out = action ? action + e0 : action_c;
#ifdef NN_HAVE_AVX512
        if (simd)
            head_forward_avx512(n, mean_c, ls_c, noise + e0, u_out, action_out, term_c);
        else
#endif
            head_forward_portable(n, mean_c, ls_c, noise + e0, u_out, action_out, term_c);
        (void)simd;
        if (!log_prob) continue;
        for (int k = 0; k < n; k++) {
            lp += term_c[k];
            if (++j == A) {
                log_prob[(e0 + k) / A] = lp;
                lp = 0.0f;
                j = 0;
            }
        }
    }
}

void nn_tanh_gaussian_backward(const float *head, const float *noise, const float *u,
                               const float *d_action, const float *d_log_prob, int B, int A,
                               float *d_head) {
    float ls_c[HEAD_CHUNK], dlp_c[HEAD_CHUNK], zero_c[HEAD_CHUNK], d_mean_c[HEAD_CHUNK],
        d_ls_c[HEAD_CHUNK];
    int total = B * A, simd = nn_simd_enabled();
    if (!d_action) memset(zero_c, 0, sizeof zero_c);
    for (int e0 = 0; e0 < total; e0 += HEAD_CHUNK) {
        int n = total - e0 < HEAD_CHUNK ? total - e0 : HEAD_CHUNK;
        gather_head(ls_c, head, A, e0, n, A);
        int i = e0 / A, j = e0 % A;
        for (int k = 0; k < n; k++) {
            dlp_c[k] = d_log_prob ? d_log_prob[i] : 0.0f;
            if (++j == A) j = 0, i++;
        }
        const float *da = d_action ? d_action + e0 : zero_c;
#ifdef NN_HAVE_AVX512
        if (simd)
            head_backward_avx512(n, u + e0, noise + e0, ls_c, da, dlp_c, d_mean_c, d_ls_c);
        else
#endif
            head_backward_portable(n, u + e0, noise + e0, ls_c, da, dlp_c, d_mean_c, d_ls_c);
        (void)simd;
        scatter_head(d_head, d_mean_c, A, e0, n, 0);
        scatter_head(d_head, d_ls_c, A, e0, n, A);
    }
}

void nn_tanh_gaussian_mode(const float *head, int B, int A, float *action) {
    for (int i = 0; i < B; i++) {
        const float *mean = head + (size_t)i * 2 * A;
        for (int j = 0; j < A; j++) action[(size_t)i * A + j] = tanh_fast(mean[j]);
    }
}

/* ---- diagonal Gaussian log-density ---- */

void nn_gaussian_log_density(const float *x, const float *mean, const float *log_std,
                             int log_std_stride, int B, int D, float *out) {
    float inv_std_shared[DENSITY_MAX_SHARED];
    int shared = log_std_stride == 0 && D <= DENSITY_MAX_SHARED;
    if (shared) /* one log-std for all rows: its 1/std once */
        for (int j = 0; j < D; j++) inv_std_shared[j] = expf(-log_std[j]);
    for (int i = 0; i < B; i++) {
        const float *xi = x + (size_t)i * D, *mi = mean + (size_t)i * D;
        const float *ls = log_std + (size_t)i * log_std_stride;
        float s = 0.0f;
        for (int j = 0; j < D; j++) {
            float inv_std = shared ? inv_std_shared[j] : expf(-ls[j]);
            float z = (xi[j] - mi[j]) * inv_std;
            s += -0.5f * z * z - ls[j] - HALF_LOG_2PI;
        }
        out[i] = s;
    }
}

void nn_gaussian_log_density_backward(const float *x, const float *mean, const float *log_std,
                                      int log_std_stride, const float *dout, int B, int D,
                                      float *d_mean, float *d_log_std) {
    float inv_std_shared[DENSITY_MAX_SHARED];
    int shared = log_std_stride == 0 && D <= DENSITY_MAX_SHARED;
    if (shared)
        for (int j = 0; j < D; j++) inv_std_shared[j] = expf(-log_std[j]);
    for (int i = 0; i < B; i++) {
        const float *xi = x + (size_t)i * D, *mi = mean + (size_t)i * D;
        const float *ls = log_std + (size_t)i * log_std_stride;
        float *dls = d_log_std ? d_log_std + (size_t)i * log_std_stride : NULL;
        for (int j = 0; j < D; j++) {
            float inv_std = shared ? inv_std_shared[j] : expf(-ls[j]);
            float z = (xi[j] - mi[j]) * inv_std;
            /* d/dmean = z / std; d/dlog_std = z^2 - 1. */
            if (d_mean) d_mean[(size_t)i * D + j] = dout[i] * z * inv_std;
            if (dls) dls[j] += dout[i] * (z * z - 1.0f);
        }
    }
}

/* ---- diagonal Laplace log-density ---- */

void nn_laplace_log_density(const float *x, const float *mean, const float *log_scale,
                            int log_scale_stride, int B, int D, float *out) {
    float inv_b_shared[DENSITY_MAX_SHARED];
    int shared = log_scale_stride == 0 && D <= DENSITY_MAX_SHARED;
    if (shared) /* one log-scale for all rows: its 1/b once, as the Gaussian's */
        for (int j = 0; j < D; j++) inv_b_shared[j] = expf(-log_scale[j]);
    for (int i = 0; i < B; i++) {
        const float *xi = x + (size_t)i * D, *mi = mean + (size_t)i * D;
        const float *ls = log_scale + (size_t)i * log_scale_stride;
        float s = 0.0f;
        for (int j = 0; j < D; j++) {
            float inv_b = shared ? inv_b_shared[j] : expf(-ls[j]);
            s += -fabsf(xi[j] - mi[j]) * inv_b - ls[j] - LOG_2;
        }
        out[i] = s;
    }
}

void nn_laplace_log_density_backward(const float *x, const float *mean, const float *log_scale,
                                     int log_scale_stride, const float *dout, int B, int D,
                                     float *d_mean, float *d_log_scale) {
    float inv_b_shared[DENSITY_MAX_SHARED];
    int shared = log_scale_stride == 0 && D <= DENSITY_MAX_SHARED;
    if (shared)
        for (int j = 0; j < D; j++) inv_b_shared[j] = expf(-log_scale[j]);
    for (int i = 0; i < B; i++) {
        const float *xi = x + (size_t)i * D, *mi = mean + (size_t)i * D;
        const float *ls = log_scale + (size_t)i * log_scale_stride;
        float *dls = d_log_scale ? d_log_scale + (size_t)i * log_scale_stride : NULL;
        for (int j = 0; j < D; j++) {
            float inv_b = shared ? inv_b_shared[j] : expf(-ls[j]), d = xi[j] - mi[j];
            float sign = d > 0.0f ? 1.0f : (d < 0.0f ? -1.0f : 0.0f);
            if (d_mean) d_mean[(size_t)i * D + j] = dout[i] * sign * inv_b;
            if (dls) dls[j] += dout[i] * (fabsf(d) * inv_b - 1.0f);
        }
    }
}
