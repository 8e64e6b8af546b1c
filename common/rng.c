/* rng: xoshiro256** seeded through splitmix64; normals by Box-Muller (rng_normal_fill vectorised,
 * see below). */
#include "rng.h"
#include <math.h>
#include <stdatomic.h>
#include <string.h>

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

/* ---- rng_normal_fill: Box-Muller on blocks of uniforms ---- */

/* The uniforms are drawn first (the generator is sequential), then the transform runs over the
 * block as branch-free double-precision code the compiler vectorises (portable and AVX-512
 * copies): log and sin/cos by series accurate to about 1e-16 relative, so the floats written are
 * those of the libm formula (rng_normal) but for rare last-bit ties. */

#define NORMAL_BLOCK 64 /* pairs per block */

static inline __attribute__((always_inline)) double bits_double(uint64_t b) {
    double d;
    memcpy(&d, &b, sizeof d);
    return d;
}

static inline __attribute__((always_inline)) uint64_t double_bits(double d) {
    uint64_t b;
    memcpy(&b, &d, sizeof b);
    return b;
}

/* cond ? a : b as a blend of bits (a branch around floating-point work would keep the loop from
 * vectorising). */
static inline __attribute__((always_inline)) double select_d(int cond, double a, double b) {
    uint64_t mask = 0ull - (uint64_t)(cond != 0);
    return bits_double((double_bits(a) & mask) | (double_bits(b) & ~mask));
}

/* log(x) for a normal double x > 0: x = 2^k m with m in [sqrt(1/2), sqrt(2)), log m = 2 atanh(s),
 * s = (m - 1) / (m + 1), |s| <= 0.1716, by its series to s^23. */
static inline __attribute__((always_inline)) double log_pos(double x) {
    uint64_t b = double_bits(x);
    /* the exponent field as a double, exactly: 2^52 + field, minus 2^52 */
    double e = bits_double((b >> 52) | 0x4330000000000000ull) - 4503599627370496.0;
    double m = bits_double((b & 0x000fffffffffffffull) | 0x3ff0000000000000ull); /* [1, 2) */
    int big = m > 1.4142135623730951;
    m = select_d(big, 0.5 * m, m);
    double k = e - 1023.0 + select_d(big, 1.0, 0.0);
    double s = (m - 1.0) / (m + 1.0), s2 = s * s;
    double p = 1.0 / 23;
    p = p * s2 + 1.0 / 21;
    p = p * s2 + 1.0 / 19;
    p = p * s2 + 1.0 / 17;
    p = p * s2 + 1.0 / 15;
    p = p * s2 + 1.0 / 13;
    p = p * s2 + 1.0 / 11;
    p = p * s2 + 1.0 / 9;
    p = p * s2 + 1.0 / 7;
    p = p * s2 + 1.0 / 5;
    p = p * s2 + 1.0 / 3;
    double log_m = 2.0 * s + 2.0 * s * (s2 * p);
    return k * 0.6931471805599453 + log_m;
}

/* cos and sin of 2 pi u for u in [0, 1): u = q/4 + f with q the nearest quarter (f exact, |f| <=
 * 1/8), t = 2 pi f in [-pi/4, pi/4] by Taylor series to t^18, then the quadrant q. */
static inline __attribute__((always_inline)) void cos_sin_turn(double u, double *c, double *s) {
    const double shift = 6755399441055744.0; /* 1.5 * 2^52: adding it rounds to an integer */
    double q_shifted = 4.0 * u + shift, q = q_shifted - shift;
    double t = 6.283185307179586 * (u - 0.25 * q), t2 = t * t;
    double ps = -1.0 / 355687428096000.0; /* -1/17! */
    ps = ps * t2 + 1.0 / 1307674368000.0;
    ps = ps * t2 - 1.0 / 6227020800.0;
    ps = ps * t2 + 1.0 / 39916800.0;
    ps = ps * t2 - 1.0 / 362880.0;
    ps = ps * t2 + 1.0 / 5040.0;
    ps = ps * t2 - 1.0 / 120.0;
    ps = ps * t2 + 1.0 / 6.0;
    double sin_t = t - t * (t2 * ps);
    double pc = 1.0 / 6402373705728000.0; /* 1/18! */
    pc = pc * t2 - 1.0 / 20922789888000.0;
    pc = pc * t2 + 1.0 / 87178291200.0;
    pc = pc * t2 - 1.0 / 479001600.0;
    pc = pc * t2 + 1.0 / 3628800.0;
    pc = pc * t2 - 1.0 / 40320.0;
    pc = pc * t2 + 1.0 / 720.0;
    pc = pc * t2 - 1.0 / 24.0;
    pc = pc * t2 + 0.5;
    double cos_t = 1.0 - t2 * pc;
    /* angle t + q pi/2: q = 0 or 4 (cos, sin), 1 (-sin, cos), 2 (-cos, -sin), 3 (sin, -cos) */
    uint64_t quadrant = double_bits(q_shifted) & 3u; /* q's low bits (the ulp there is 1) */
    int odd = (quadrant & 1u) != 0, neg_c = quadrant == 1u || quadrant == 2u,
        neg_s = quadrant >= 2u;
    double cc = select_d(odd, sin_t, cos_t), ss = select_d(odd, cos_t, sin_t);
    *c = select_d(neg_c, -cc, cc);
    *s = select_d(neg_s, -ss, ss);
}

/* out[2p], out[2p + 1] = the Box-Muller pair of (u1[p], u2[p]), p < n_pairs. */
static inline __attribute__((always_inline)) void box_muller_block(int n_pairs,
                                                                   const double *restrict u1,
                                                                   const double *restrict u2,
                                                                   float *restrict out) {
    for (int p = 0; p < n_pairs; p++) {
        double r = sqrt(-2.0 * log_pos(u1[p])), c, s;
        cos_sin_turn(u2[p], &c, &s);
        out[2 * p] = (float)(r * c);
        out[2 * p + 1] = (float)(r * s);
    }
}

static void box_muller_portable(int n_pairs, const double *u1, const double *u2, float *out) {
    box_muller_block(n_pairs, u1, u2, out);
}

#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx512f"))) static void box_muller_avx512(int n_pairs, const double *u1,
                                                                 const double *u2, float *out) {
    box_muller_block(n_pairs, u1, u2, out);
}

static int cpu_has_avx512(void) {
    static atomic_int known = -1; /* -1 not yet checked; a race only repeats the check */
    int k = atomic_load_explicit(&known, memory_order_relaxed);
    if (k < 0) {
        __builtin_cpu_init();
        k = __builtin_cpu_supports("avx512f") ? 1 : 0;
        atomic_store_explicit(&known, k, memory_order_relaxed);
    }
    return k;
}
#endif

void rng_normal_fill(rng_t *rng, float *out, int n) {
    /* Both Box-Muller outputs of each pair of uniforms. */
    double u1[NORMAL_BLOCK], u2[NORMAL_BLOCK];
    int i = 0;
    while (i + 1 < n) {
        int pairs = (n - i) / 2 < NORMAL_BLOCK ? (n - i) / 2 : NORMAL_BLOCK;
        for (int p = 0; p < pairs; p++) { /* u1 in (0, 1] keeps log finite */
            u1[p] = ((double)(rng_next(rng) >> 11) + 1.0) * (1.0 / 9007199254740992.0);
            u2[p] = (double)(rng_next(rng) >> 11) * (1.0 / 9007199254740992.0);
        }
#if defined(__x86_64__) && defined(__GNUC__)
        if (cpu_has_avx512())
            box_muller_avx512(pairs, u1, u2, out + i);
        else
#endif
            box_muller_portable(pairs, u1, u2, out + i);
        i += 2 * pairs;
    }
    if (i < n) out[i] = rng_normal(rng);
}
