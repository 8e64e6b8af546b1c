/* rng: seeded, splittable random numbers (xoshiro256**), so every component of a run draws from
 * its own reproducible stream derived from the run's seed and the component's id. */
#ifndef ODAC_RNG_H
#define ODAC_RNG_H
#include <stdint.h>

typedef struct {
    uint64_t s[4];
} rng_t;

/* Seeds from (seed, stream): distinct streams give independent sequences. */
void rng_seed(rng_t *rng, uint64_t seed, uint64_t stream);
/* A new generator whose sequence is independent of the parent's later draws. */
rng_t rng_split(rng_t *parent);
uint64_t rng_next(rng_t *rng);
/* Uniform in [0, 1). */
float rng_uniform(rng_t *rng);
/* Uniform integer in [0, n), n > 0, without modulo bias. */
uint64_t rng_below(rng_t *rng, uint64_t n);
/* Standard normal (Box-Muller). */
float rng_normal(rng_t *rng);
/* Fills out[n] with standard normals. */
void rng_normal_fill(rng_t *rng, float *out, int n);

#endif
