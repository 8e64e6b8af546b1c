/* nn_optim: Adam (torch.optim.Adam's update, bias-corrected) and Polyak averaging over a
 * network's flat parameter block. */
#include "nn.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

int nn_adam_init(nn_adam_t *a, size_t n, float lr) {
    memset(a, 0, sizeof *a);
    a->n = n;
    a->lr = lr;
    a->beta1 = 0.9f;
    a->beta2 = 0.999f;
    a->eps = 1e-8f;
    a->m = calloc(n ? n : 1, sizeof(float));
    a->v = calloc(n ? n : 1, sizeof(float));
    if (!a->m || !a->v) {
        nn_adam_free(a);
        return -1;
    }
    return 0;
}

void nn_adam_free(nn_adam_t *a) {
    if (!a) return;
    free(a->m);
    free(a->v);
    a->m = a->v = NULL;
}

/* The update of n parameters, with the bias corrections folded into step and inv_sqrt_bc2.
 * Inlined into a portable and an AVX-512 copy, each vectorised by the compiler. */
static inline __attribute__((always_inline)) void
adam_loop(size_t n, float *restrict params, const float *restrict grads, float *restrict m,
          float *restrict v, float b1, float b2, float eps, float step, float inv_sqrt_bc2) {
    for (size_t i = 0; i < n; i++) {
        float g = grads[i];
        float mi = b1 * m[i] + (1.0f - b1) * g;
        float vi = b2 * v[i] + (1.0f - b2) * g * g;
        m[i] = mi;
        v[i] = vi;
        params[i] -= step * mi / (sqrtf(vi) * inv_sqrt_bc2 + eps);
    }
}

static void adam_portable(size_t n, float *restrict params, const float *restrict grads,
                          float *restrict m, float *restrict v, float b1, float b2, float eps,
                          float step, float inv_sqrt_bc2) {
    adam_loop(n, params, grads, m, v, b1, b2, eps, step, inv_sqrt_bc2);
}

#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx512f"))) static void
adam_avx512(size_t n, float *restrict params, const float *restrict grads, float *restrict m,
            float *restrict v, float b1, float b2, float eps, float step, float inv_sqrt_bc2) {
    adam_loop(n, params, grads, m, v, b1, b2, eps, step, inv_sqrt_bc2);
}
#endif

void nn_adam_step_range(const nn_adam_t *a, float *params, const float *grads, size_t lo,
                        size_t hi) {
    if (hi > a->n) hi = a->n;
    if (lo >= hi) return;
    /* torch: step = lr / (1 - beta1^t); denom = sqrt(v) / sqrt(1 - beta2^t) + eps, for the step
     * t + 1 that nn_adam_advance then records. */
    double t = (double)(a->t + 1);
    double bc1 = 1.0 - pow(a->beta1, t);
    double bc2 = 1.0 - pow(a->beta2, t);
    float step = (float)(a->lr / bc1);
    float inv_sqrt_bc2 = (float)(1.0 / sqrt(bc2));
    size_t n = hi - lo;
    float *p = params + lo, *m = a->m + lo, *v = a->v + lo;
    const float *g = grads + lo;
#if defined(__x86_64__) && defined(__GNUC__)
    if (nn_simd_enabled()) {
        adam_avx512(n, p, g, m, v, a->beta1, a->beta2, a->eps, step, inv_sqrt_bc2);
        return;
    }
#endif
    adam_portable(n, p, g, m, v, a->beta1, a->beta2, a->eps, step, inv_sqrt_bc2);
}

void nn_adam_advance(nn_adam_t *a) {
    a->t++;
}

void nn_adam_step(nn_adam_t *a, float *params, const float *grads) {
    nn_adam_step_range(a, params, grads, 0, a->n);
    nn_adam_advance(a);
}

#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#define MXCSR_FTZ_DAZ 0x8040u /* flush-to-zero (bit 15), denormals-are-zero (bit 6) */
unsigned nn_denormals_flush(void) {
    unsigned mode = _mm_getcsr();
    _mm_setcsr(mode | MXCSR_FTZ_DAZ);
    return mode;
}
void nn_denormals_restore(unsigned mode) {
    _mm_setcsr(mode);
}
#else
unsigned nn_denormals_flush(void) {
    return 0;
}
void nn_denormals_restore(unsigned mode) {
    (void)mode;
}
#endif

void nn_polyak(float *target, const float *source, size_t n, float tau) {
    for (size_t i = 0; i < n; i++) target[i] = (1.0f - tau) * target[i] + tau * source[i];
}
