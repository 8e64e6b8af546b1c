/* replay_ratelimit: the sample-to-insert band check (see replay_ratelimit.h for the rule). */
#include "replay_ratelimit.h"

#include <math.h>
#include <stdio.h>

int replay_ratelimit_init(replay_ratelimit_t *rl, double samples_per_insert, double tolerance,
                          int64_t min_size, char *err, size_t errcap) {
    if (!isfinite(samples_per_insert) || !isfinite(tolerance) || tolerance < 0 || min_size < 0) {
        snprintf(err, errcap,
                 "rate limiter: need finite samples_per_insert, tolerance >= 0 and min_size >= 0 "
                 "(got %g, %g, %lld)",
                 samples_per_insert, tolerance, (long long)min_size);
        return -1;
    }
    rl->samples_per_insert = samples_per_insert;
    rl->tolerance = tolerance;
    rl->min_size = min_size;
    rl->inserted = 0;
    rl->sampled = 0;
    return 0;
}

int replay_ratelimit_set_ratio(replay_ratelimit_t *rl, double samples_per_insert, double tolerance,
                               char *err, size_t errcap) {
    if (!isfinite(samples_per_insert) || !isfinite(tolerance) || tolerance < 0) {
        snprintf(err, errcap,
                 "rate limiter: need finite samples_per_insert and tolerance >= 0 (got %g, %g)",
                 samples_per_insert, tolerance);
        return -1;
    }
    double keep = replay_ratelimit_excess(rl);
    int rebase = rl->samples_per_insert > 0 && samples_per_insert > 0 &&
                 rl->inserted >= (uint64_t)rl->min_size;
    rl->samples_per_insert = samples_per_insert;
    rl->tolerance = tolerance;
    if (rebase) { /* sampled such that the new excess equals the old one (never below 0) */
        double s = samples_per_insert * ((double)rl->inserted - (double)rl->min_size) - keep;
        rl->sampled = s > 0 ? (uint64_t)llround(s) : 0;
    }
    return 0;
}

double replay_ratelimit_excess(const replay_ratelimit_t *rl) {
    return rl->samples_per_insert * ((double)rl->inserted - (double)rl->min_size) -
           (double)rl->sampled;
}

int replay_ratelimit_can_sample(const replay_ratelimit_t *rl, int B) {
    if (rl->inserted < (uint64_t)rl->min_size || rl->inserted == 0) return 0;
    if (rl->samples_per_insert <= 0) return 1;
    return replay_ratelimit_excess(rl) - B >= -rl->tolerance;
}

int replay_ratelimit_can_insert(const replay_ratelimit_t *rl) {
    if (rl->inserted < (uint64_t)rl->min_size || rl->samples_per_insert <= 0) return 1;
    return replay_ratelimit_excess(rl) < rl->tolerance;
}

void replay_ratelimit_on_insert(replay_ratelimit_t *rl, int64_t transitions) {
    rl->inserted += (uint64_t)transitions;
}

void replay_ratelimit_on_sample(replay_ratelimit_t *rl, int64_t transitions) {
    rl->sampled += (uint64_t)transitions;
}
