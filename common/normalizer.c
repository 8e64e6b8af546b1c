/* normalizer: running mean/std of a vector and the clipped standardisation the networks see (see
 * normalizer.h). */
#include "normalizer.h"
#include <math.h>
#include <stdlib.h>

normalizer_t *normalizer_new(int dim, float clip, float eps) {
    if (dim < 1 || !(clip > 0.0f) || !(eps > 0.0f)) return NULL;
    normalizer_t *n = calloc(1, sizeof *n);
    if (!n) return NULL;
    n->dim = dim;
    n->clip = clip;
    n->eps = eps;
    n->sum = calloc((size_t)dim, sizeof(double));
    n->sumsq = calloc((size_t)dim, sizeof(double));
    n->mean = calloc((size_t)dim, sizeof(float));
    n->std = calloc((size_t)dim, sizeof(float));
    if (!n->sum || !n->sumsq || !n->mean || !n->std) {
        normalizer_free(n);
        return NULL;
    }
    normalizer_restore(n);
    return n;
}

void normalizer_free(normalizer_t *n) {
    if (!n) return;
    free(n->sum);
    free(n->sumsq);
    free(n->mean);
    free(n->std);
    free(n);
}

void normalizer_restore(normalizer_t *n) {
    for (int j = 0; j < n->dim; j++) {
        if (n->count <= 0.0) {
            n->mean[j] = 0.0f;
            n->std[j] = 1.0f;
            continue;
        }
        double mean = n->sum[j] / n->count;
        double var = n->sumsq[j] / n->count - mean * mean;
        double floor = (double)n->eps * n->eps;
        n->mean[j] = (float)mean;
        n->std[j] = (float)sqrt(var > floor ? var : floor);
    }
}

void normalizer_update(normalizer_t *n, const float *rows, int B) {
    for (int i = 0; i < B; i++) {
        const float *r = rows + (size_t)i * n->dim;
        for (int j = 0; j < n->dim; j++) {
            n->sum[j] += r[j];
            n->sumsq[j] += (double)r[j] * r[j];
        }
    }
    n->count += B;
    normalizer_restore(n);
}

void normalizer_apply(const float *mean, const float *std, float clip, int dim, const float *in,
                      float *out, int B) {
    for (int i = 0; i < B; i++) {
        const float *x = in + (size_t)i * dim;
        float *y = out + (size_t)i * dim;
        for (int j = 0; j < dim; j++) {
            float v = (x[j] - mean[j]) / std[j];
            y[j] = v < -clip ? -clip : (v > clip ? clip : v);
        }
    }
}
