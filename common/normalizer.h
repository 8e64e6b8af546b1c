/* normalizer: running mean and standard deviation of a vector quantity (observations, goals),
 * and the map x -> clip((x - mean) / std, -clip, clip) that the networks see. The learner owns the
 * running sums and updates them from every batch the replay serves; the mean and std it used are
 * frozen into each weights message, so an actor normalises exactly as the learner did for those
 * weights. The frozen pair (mean, std) is all that is needed to apply it.
 *
 * Sums are kept in double so a long run's mean does not drift; std = sqrt(max(var, eps^2)), so a
 * constant dimension (a fixed z, a closed finger) maps to 0 instead of dividing by zero.
 * normalizer_new allocates everything; update and apply allocate nothing. */
#ifndef ODAC_NORMALIZER_H
#define ODAC_NORMALIZER_H
#include <stddef.h>

#define NORMALIZER_DEFAULT_CLIP 5.0f
#define NORMALIZER_DEFAULT_EPS 0.01f

typedef struct {
    int dim;
    float clip, eps;
    double count;        /* rows accumulated */
    double *sum, *sumsq; /* (dim) */
    float *mean, *std;   /* (dim) as of the last update: mean 0, std 1 before any */
} normalizer_t;

/* A normalizer of dim values; NULL when dim < 1, clip or eps not positive, or out of memory. */
normalizer_t *normalizer_new(int dim, float clip, float eps);
void normalizer_free(normalizer_t *n); /* accepts NULL */
/* Adds B rows (B, dim) to the sums and recomputes mean and std. */
void normalizer_update(normalizer_t *n, const float *rows, int B);
/* out (B, dim) = clip((in - mean) / std); in and out may be the same buffer. */
void normalizer_apply(const float *mean, const float *std, float clip, int dim, const float *in,
                      float *out, int B);
/* Recomputes mean and std from count, sum and sumsq (after a checkpoint restored them). */
void normalizer_restore(normalizer_t *n);

#endif
