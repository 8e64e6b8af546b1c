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

void nn_adam_step(nn_adam_t *a, float *params, const float *grads) {
    a->t++;
    /* torch: step = lr / (1 - beta1^t); denom = sqrt(v) / sqrt(1 - beta2^t) + eps. */
    double bc1 = 1.0 - pow(a->beta1, (double)a->t);
    double bc2 = 1.0 - pow(a->beta2, (double)a->t);
    float step = (float)(a->lr / bc1);
    float inv_sqrt_bc2 = (float)(1.0 / sqrt(bc2));
    float b1 = a->beta1, b2 = a->beta2, eps = a->eps;
    float *restrict m = a->m, *restrict v = a->v;
    for (size_t i = 0; i < a->n; i++) {
        float g = grads[i];
        m[i] = b1 * m[i] + (1.0f - b1) * g;
        v[i] = b2 * v[i] + (1.0f - b2) * g * g;
        params[i] -= step * m[i] / (sqrtf(v[i]) * inv_sqrt_bc2 + eps);
    }
}

void nn_polyak(float *target, const float *source, size_t n, float tau) {
    for (size_t i = 0; i < n; i++) target[i] = (1.0f - tau) * target[i] + tau * source[i];
}
