/* replay_ratelimit: keeps a shard's sampled-to-inserted ratio near a target, in the spirit of
 * Reverb's SampleToInsertRatio, counted in transitions.
 *
 *   credit = samples_per_insert * inserted - sampled          (in sampled transitions)
 *   offset = samples_per_insert * min_size
 *
 * Sampling B transitions is allowed once min_size transitions were inserted and while
 * credit - B >= offset - tolerance. Inserting is allowed while fewer than min_size transitions
 * were inserted or credit < offset + tolerance. So after min_size, credit stays within
 * [offset - tolerance, offset + tolerance + samples_per_insert * T_max): a sampler never runs
 * further ahead than the band allows, and an inserter is held back (by the server not reading
 * its socket) once it is more than the band ahead. As long as tolerance >= B/2 one of the two is
 * always allowed, so the limiter cannot deadlock. samples_per_insert <= 0 turns the ratio off
 * (only min_size applies). */
#ifndef ODAC_REPLAY_RATELIMIT_H
#define ODAC_REPLAY_RATELIMIT_H
#include <stddef.h>
#include <stdint.h>

typedef struct {
    double samples_per_insert; /* target sampled transitions per inserted transition */
    double tolerance;          /* half-width of the band, in sampled transitions */
    int64_t min_size;          /* inserted transitions before the first sample */
    /* counters (transitions), restored from a checkpoint */
    uint64_t inserted;
    uint64_t sampled;
} replay_ratelimit_t;

/* Sets the parameters and zeroes the counters; returns 0, or -1 with a message for bad values. */
int replay_ratelimit_init(replay_ratelimit_t *rl, double samples_per_insert, double tolerance,
                          int64_t min_size, char *err, size_t errcap);
/* 1 when a sample of B transitions may be served now. */
int replay_ratelimit_can_sample(const replay_ratelimit_t *rl, int B);
/* 1 when the next insert may be read now. */
int replay_ratelimit_can_insert(const replay_ratelimit_t *rl);
/* Moves to a new ratio and band half-width, keeping the excess (credit - offset) where it was
 * once min_size transitions are in, so a change neither releases a burst of samples nor holds
 * the sampler back for updates it already did. 0, or -1 with a message for bad values. */
int replay_ratelimit_set_ratio(replay_ratelimit_t *rl, double samples_per_insert, double tolerance,
                               char *err, size_t errcap);
void replay_ratelimit_on_insert(replay_ratelimit_t *rl, int64_t transitions);
void replay_ratelimit_on_sample(replay_ratelimit_t *rl, int64_t transitions);
/* credit - offset (0 at the band's centre); for logs and tests. */
double replay_ratelimit_excess(const replay_ratelimit_t *rl);

#endif
