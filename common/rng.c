/* rng: xoshiro256** seeded through splitmix64; normals by Box-Muller. */
#include "rng.h"
#include <math.h>

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static inline uint64_t rotl(uint64_t x, int k) {
    return (x << k) | (x >> (64 - k));
}

void rng_seed(rng_t *rng, uint64_t seed, uint64_t stream) {
    uint64_t x = seed ^ (stream * 0xd1342543de82ef95ULL + 0x2545f4914f6cdd1dULL);
    for (int i = 0; i < 4; i++) rng->s[i] = splitmix64(&x);
}

uint64_t rng_next(rng_t *rng) {
    uint64_t *s = rng->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

rng_t rng_split(rng_t *parent) {
    rng_t child;
    uint64_t x = rng_next(parent);
    for (int i = 0; i < 4; i++) child.s[i] = splitmix64(&x);
    return child;
}

float rng_uniform(rng_t *rng) {
    return (float)(rng_next(rng) >> 40) * (1.0f / 16777216.0f);
}

uint64_t rng_below(rng_t *rng, uint64_t n) {
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t r;
    do {
        r = rng_next(rng);
    } while (r >= limit);
    return r % n;
}

float rng_normal(rng_t *rng) {
    /* u1 in (0, 1] keeps log finite. */
    double u1 = ((double)(rng_next(rng) >> 11) + 1.0) * (1.0 / 9007199254740992.0);
    double u2 = (double)(rng_next(rng) >> 11) * (1.0 / 9007199254740992.0);
    return (float)(sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2));
}

void rng_normal_fill(rng_t *rng, float *out, int n) {
    /* Both Box-Muller outputs of each pair of uniforms. */
    int i = 0;
    for (; i + 1 < n; i += 2) {
        double u1 = ((double)(rng_next(rng) >> 11) + 1.0) * (1.0 / 9007199254740992.0);
        double u2 = (double)(rng_next(rng) >> 11) * (1.0 / 9007199254740992.0);
        double r = sqrt(-2.0 * log(u1)), th = 2.0 * M_PI * u2;
        out[i] = (float)(r * cos(th));
        out[i + 1] = (float)(r * sin(th));
    }
    if (i < n) out[i] = rng_normal(rng);
}
