/* test_replay_store: the shard's episode store (eviction, capacity, contents after wrap-around),
 * uniform sampling and goal relabeling, and the sample-to-insert rate limiter.
 *
 * Episodes are written with values that encode where they came from: observation and achieved-goal
 * rows of episode e at step t hold e * 1000 + t in their first element, actions hold
 * e * 1000 + t + 0.5, the desired goal holds -(e + 1). A sampled row can then be traced back to
 * its episode and step from the values alone, independently of the store's bookkeeping. */
#include "env.h"
#include "replay_envgoal.h"
#include "replay_ratelimit.h"
#include "replay_store.h"
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define OD 3
#define GD 2
#define AD 2
#define ENV_GOAL_MARK -777.0f

typedef struct {
    float obs[101 * OD], ag[101 * GD], act[100 * AD], goal[GD];
} episode_buf_t;

static void fill_episode(episode_buf_t *b, int e, int T) {
    for (int t = 0; t <= T; t++) {
        for (int j = 0; j < OD; j++) b->obs[t * OD + j] = (float)(e * 1000 + t) + 0.01f * j;
        for (int j = 0; j < GD; j++) b->ag[t * GD + j] = (float)(e * 1000 + t) + 0.01f * j;
        if (t < T)
            for (int j = 0; j < AD; j++) b->act[t * AD + j] = (float)(e * 1000 + t) + 0.5f;
    }
    for (int j = 0; j < GD; j++) b->goal[j] = -(float)(e + 1);
}

static void env_goal_sampler(void *ctx, rng_t *rng, float *goal) {
    (void)ctx;
    (void)rng;
    for (int j = 0; j < GD; j++) goal[j] = ENV_GOAL_MARK;
}

static replay_store_t *make_store(int64_t capacity, int horizon, float future_p, float env_p) {
    replay_store_config_t cfg = {.obs_dim = OD,
                                 .goal_dim = GD,
                                 .action_dim = AD,
                                 .horizon = horizon,
                                 .capacity = capacity,
                                 .future_p = future_p,
                                 .env_goal_p = env_p,
                                 .goal_sampler = env_p > 0 ? env_goal_sampler : NULL};
    char err[256];
    replay_store_t *s = replay_store_new(&cfg, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    return s;
}

static int insert(replay_store_t *s, episode_buf_t *b, int e, int T) {
    char err[256];
    fill_episode(b, e, T);
    return replay_store_insert(s, T, b->obs, b->ag, b->act, b->goal, (uint64_t)e, err, sizeof err);
}

/* Checks that the stored episode view holds exactly what episode e of length T held. */
static int episode_intact(const replay_episode_view_t *v, int e, int T) {
    episode_buf_t want;
    fill_episode(&want, e, T);
    return v->length == T && memcmp(v->obs, want.obs, sizeof(float) * (T + 1) * OD) == 0 &&
           memcmp(v->achieved_goal, want.ag, sizeof(float) * (T + 1) * GD) == 0 &&
           memcmp(v->actions, want.act, sizeof(float) * T * AD) == 0 &&
           memcmp(v->desired_goal, want.goal, sizeof(float) * GD) == 0;
}

static void test_bad_config(void) {
    char err[256] = "";
    replay_store_config_t cfg = {.obs_dim = OD,
                                 .goal_dim = GD,
                                 .action_dim = AD,
                                 .horizon = 10,
                                 .capacity = 5,
                                 .future_p = 0.8f};
    CU_ASSERT_PTR_NULL(replay_store_new(&cfg, err, sizeof err)); /* capacity < horizon */
    CU_ASSERT(strstr(err, "capacity") != NULL);
    cfg.capacity = 100;
    cfg.env_goal_p = 0.1f; /* no sampler */
    CU_ASSERT_PTR_NULL(replay_store_new(&cfg, err, sizeof err));
    CU_ASSERT(strstr(err, "goal sampler") != NULL);
    cfg.env_goal_p = 0.3f;
    cfg.goal_sampler = env_goal_sampler;
    CU_ASSERT_PTR_NULL(replay_store_new(&cfg, err, sizeof err)); /* 0.8 + 0.3 > 1 */
    replay_store_free(NULL);
}

static void test_bad_length_and_empty(void) {
    replay_store_t *s = make_store(100, 10, 0.8f, 0);
    episode_buf_t b;
    char err[256];
    CU_ASSERT_EQUAL(insert(s, &b, 0, 0), -1);
    CU_ASSERT_EQUAL(insert(s, &b, 0, 11), -1);
    float out[64];
    replay_batch_t batch = {out, out, out, out, out, out};
    rng_t rng;
    rng_seed(&rng, 1, 0);
    CU_ASSERT_EQUAL(replay_store_sample(s, &rng, 1, &batch, NULL, err, sizeof err), -1);
    CU_ASSERT_EQUAL(replay_store_size_transitions(s), 0);
    replay_store_free(s);
}

/* Full-length episodes: the store holds exactly the newest floor(C/H) of them, oldest evicted
 * first, and never more than C transitions. */
static void test_eviction_full_length(void) {
    const int H = 10, C = 95;
    replay_store_t *s = make_store(C, H, 0.8f, 0);
    episode_buf_t b;
    for (int e = 0; e < 200; e++) {
        int ev = insert(s, &b, e, H);
        CU_ASSERT(ev >= 0);
        int expect_eps = e + 1 < C / H ? e + 1 : C / H;
        CU_ASSERT_EQUAL(replay_store_size_episodes(s), expect_eps);
        CU_ASSERT_EQUAL(replay_store_size_transitions(s), (int64_t)expect_eps * H);
        CU_ASSERT(replay_store_size_transitions(s) <= C);
        CU_ASSERT_EQUAL(replay_store_evicted_episodes(s), (uint64_t)(e + 1 - expect_eps));
        for (int i = 0; i < expect_eps; i++) {
            replay_episode_view_t v;
            CU_ASSERT_EQUAL_FATAL(replay_store_episode(s, i, &v), 0);
            int want_e = e + 1 - expect_eps + i;
            CU_ASSERT_EQUAL(v.seq, (uint64_t)want_e);
            CU_ASSERT(episode_intact(&v, want_e, H));
        }
    }
    replay_store_free(s);
}

/* Random lengths with many wrap-arounds: stored episodes are always the newest ones in insertion
 * order with intact contents, the capacity is never exceeded, and the store stays well filled. */
static void test_eviction_random_lengths(void) {
    const int H = 10, C = 60;
    replay_store_t *s = make_store(C, H, 0.8f, 0);
    episode_buf_t b;
    int lengths[5000];
    rng_t rng;
    rng_seed(&rng, 7, 0);
    int64_t min_fill_after_warmup = C;
    for (int e = 0; e < 5000; e++) {
        lengths[e] = 1 + (int)rng_below(&rng, H);
        CU_ASSERT_FATAL(insert(s, &b, e, lengths[e]) >= 0);
        int64_t n = replay_store_size_episodes(s);
        int64_t total = 0;
        for (int64_t i = 0; i < n; i++) {
            replay_episode_view_t v;
            CU_ASSERT_EQUAL_FATAL(replay_store_episode(s, i, &v), 0);
            int want_e = e + 1 - (int)n + (int)i; /* a suffix of the insertion order */
            CU_ASSERT_EQUAL_FATAL(v.seq, (uint64_t)want_e);
            CU_ASSERT_FATAL(episode_intact(&v, want_e, lengths[want_e]));
            total += v.length;
        }
        CU_ASSERT_EQUAL(total, replay_store_size_transitions(s));
        CU_ASSERT_FATAL(total <= C);
        /* Eviction is oldest first and only as needed: the episode just before the oldest
         * stored one would not have fitted beside the rest by transitions, or rows ran out. */
        if (e > 100 && total < min_fill_after_warmup) min_fill_after_warmup = total;
        CU_ASSERT_EQUAL(replay_store_evicted_episodes(s) + (uint64_t)n, (uint64_t)(e + 1));
    }
    CU_ASSERT(min_fill_after_warmup >= C * 3 / 4);
    replay_store_free(s);
}

/* A store large enough for the huge-page allocation path behaves the same. */
static void test_large_store(void) {
    const int H = 100, C = 300000;
    replay_store_t *s = make_store(C, H, 0.8f, 0);
    episode_buf_t b;
    for (int e = 0; e < 4000; e++) CU_ASSERT_FATAL(insert(s, &b, e, H) >= 0);
    CU_ASSERT_EQUAL(replay_store_size_transitions(s), C);
    CU_ASSERT_EQUAL(replay_store_size_episodes(s), C / H);
    replay_episode_view_t v;
    CU_ASSERT_EQUAL_FATAL(replay_store_episode(s, 0, &v), 0);
    CU_ASSERT(episode_intact(&v, 4000 - C / H, H));
    CU_ASSERT_EQUAL_FATAL(replay_store_episode(s, C / H - 1, &v), 0);
    CU_ASSERT(episode_intact(&v, 3999, H));
    replay_store_free(s);
}

/* Decodes a sampled batch row by its values: episode and step of s_t. */
static void decode_row(float v, int *e, int *t) {
    int x = (int)lrintf(v);
    *e = x / 1000;
    *t = x % 1000;
}

/* Every sample is a real transition (s_t, a_t, s_{t+1} of one episode), and every future goal is
 * phi(s_k) of the same episode with t < k <= T; own goals are the episode's goal. */
static void test_relabel_consistency(void) {
    const int H = 20;
    replay_store_t *s = make_store(400, H, 0.6f, 0.1f);
    episode_buf_t b;
    int lengths[64];
    rng_t rng;
    rng_seed(&rng, 3, 0);
    for (int e = 0; e < 64; e++) {
        lengths[e] = 1 + (int)rng_below(&rng, H);
        CU_ASSERT_FATAL(insert(s, &b, e, lengths[e]) >= 0);
    }
    int64_t first = (int64_t)replay_store_next_seq(s) - replay_store_size_episodes(s);
    enum { B = 512 };
    static float obs[B * OD], nobs[B * OD], act[B * AD], ag[B * GD], nag[B * GD], goal[B * GD];
    replay_batch_t batch = {obs, act, nobs, ag, nag, goal};
    uint64_t ep_id[B];
    int32_t tt[B], gs[B];
    uint8_t kind[B];
    replay_sample_trace_t trace = {ep_id, tt, gs, kind};
    char err[256];
    int bad = 0;
    for (int rep = 0; rep < 20; rep++) {
        CU_ASSERT_EQUAL_FATAL(replay_store_sample(s, &rng, B, &batch, &trace, err, sizeof err), 0);
        for (int i = 0; i < B; i++) {
            int e, t, e2, t2;
            decode_row(obs[i * OD], &e, &t);
            decode_row(nobs[i * OD], &e2, &t2);
            bad += e < first || e >= 64 || e2 != e || t2 != t + 1 || t >= lengths[e];
            bad += fabsf(act[i * AD] - ((float)(e * 1000 + t) + 0.5f)) > 1e-3f;
            bad += fabsf(ag[i * GD] - (float)(e * 1000 + t)) > 1e-3f;
            bad += fabsf(nag[i * GD] - (float)(e * 1000 + t + 1)) > 1e-3f;
            bad += ep_id[i] != (uint64_t)e || tt[i] != t;
            float g = goal[i * GD];
            if (g == ENV_GOAL_MARK) {
                bad += kind[i] != REPLAY_GOAL_ENV;
            } else if (g < 0) {
                bad += g != -(float)(e + 1) || kind[i] != REPLAY_GOAL_OWN;
            } else {
                int ge, k;
                decode_row(g, &ge, &k);
                bad += ge != e || k <= t || k > lengths[e] || kind[i] != REPLAY_GOAL_FUTURE;
                bad += gs[i] != k;
                bad += fabsf(goal[i * GD + 1] - (g + 0.01f)) > 1e-3f; /* whole phi row copied */
            }
        }
    }
    CU_ASSERT_EQUAL(bad, 0);
    replay_store_free(s);
}

/* Goal-source fractions, the distribution of k, and uniformity over transitions, each within
 * 5 standard deviations of the binomial count. */
static void test_relabel_statistics(void) {
    const int H = 10;
    replay_store_t *s = make_store(1000, H, 0.7f, 0.1f);
    episode_buf_t b;
    /* Episodes of lengths 3 and 10 alternate: 13 transitions per pair, 10 pairs. */
    for (int e = 0; e < 20; e++) CU_ASSERT_FATAL(insert(s, &b, e, e % 2 ? 10 : 3) >= 0);
    const int n_trans = 10 * 13;
    enum { B = 1000, REPS = 300 };
    static float obs[B * OD], nobs[B * OD], act[B * AD], ag[B * GD], nag[B * GD], goal[B * GD];
    replay_batch_t batch = {obs, act, nobs, ag, nag, goal};
    rng_t rng;
    rng_seed(&rng, 11, 0);
    char err[256];
    long n_future = 0, n_own = 0, n_env = 0;
    static long per_transition[20][10];
    long k_count[11] = {0}; /* future goals of samples at t = 0 of length-10 episodes */
    long k_total = 0;
    for (int rep = 0; rep < REPS; rep++) {
        CU_ASSERT_EQUAL_FATAL(replay_store_sample(s, &rng, B, &batch, NULL, err, sizeof err), 0);
        for (int i = 0; i < B; i++) {
            int e, t;
            decode_row(obs[i * OD], &e, &t);
            per_transition[e][t]++;
            float g = goal[i * GD];
            if (g == ENV_GOAL_MARK) {
                n_env++;
            } else if (g < 0) {
                n_own++;
            } else {
                n_future++;
                if (e % 2 && t == 0) {
                    int ge, k;
                    decode_row(g, &ge, &k);
                    k_count[k]++;
                    k_total++;
                }
            }
        }
    }
    const double N = (double)B * REPS;
    double p[3] = {0.7, 0.2, 0.1};
    long got[3] = {n_future, n_own, n_env};
    for (int j = 0; j < 3; j++) {
        double sd = sqrt(N * p[j] * (1 - p[j]));
        CU_ASSERT(fabs((double)got[j] - N * p[j]) < 5 * sd);
    }
    /* uniform over the 130 transitions */
    double pt = 1.0 / n_trans, sdt = sqrt(N * pt * (1 - pt));
    int nonuniform = 0;
    for (int e = 0; e < 20; e++)
        for (int t = 0; t < (e % 2 ? 10 : 3); t++)
            nonuniform += fabs((double)per_transition[e][t] - N * pt) > 5 * sdt;
    CU_ASSERT_EQUAL(nonuniform, 0);
    /* k uniform over 1..10 for t = 0 */
    CU_ASSERT(k_total > 1000);
    CU_ASSERT_EQUAL(k_count[0], 0);
    double sdk = sqrt(k_total * 0.1 * 0.9);
    for (int k = 1; k <= 10; k++) CU_ASSERT(fabs((double)k_count[k] - k_total * 0.1) < 5 * sdk);
    replay_store_free(s);
}

/* With future_p = 1, a transition at the last step (t = T-1) must get phi(s_T). */
static void test_relabel_last_step(void) {
    replay_store_t *s = make_store(100, 5, 1.0f, 0);
    episode_buf_t b;
    CU_ASSERT_FATAL(insert(s, &b, 0, 1) >= 0); /* one transition: t = 0, k must be 1 */
    enum { B = 64 };
    float obs[B * OD], nobs[B * OD], act[B * AD], ag[B * GD], nag[B * GD], goal[B * GD];
    replay_batch_t batch = {obs, act, nobs, ag, nag, goal};
    rng_t rng;
    rng_seed(&rng, 5, 0);
    char err[256];
    CU_ASSERT_EQUAL_FATAL(replay_store_sample(s, &rng, B, &batch, NULL, err, sizeof err), 0);
    for (int i = 0; i < B; i++) CU_ASSERT_EQUAL(goal[i * GD], 1.0f);
    replay_store_free(s);
}

/* Env goals: with env_goal_p = 1 every goal is the next goal of the env's own seeded stream,
 * reproduced here by an env created independently with the same seed. */
static void test_env_goals(void) {
    env_spec_t spec;
    char err[256];
    CU_ASSERT_EQUAL_FATAL(env_spec_lookup("box2d", &spec, err, sizeof err), 0);
    replay_env_goals_t *goals =
        replay_env_goals_new("box2d", 17, 2, spec.goal_dim, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(goals);
    CU_ASSERT_PTR_NULL(replay_env_goals_new("box2d", 17, 2, spec.goal_dim + 1, err, sizeof err));
    replay_store_config_t cfg = {.obs_dim = spec.obs_dim,
                                 .goal_dim = spec.goal_dim,
                                 .action_dim = spec.action_dim,
                                 .horizon = 4,
                                 .capacity = 100,
                                 .future_p = 0,
                                 .env_goal_p = 1.0f,
                                 .goal_sampler = replay_env_goals_sample,
                                 .goal_sampler_ctx = goals};
    replay_store_t *s = replay_store_new(&cfg, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    static float zeros[1024];
    CU_ASSERT_FATAL(replay_store_insert(s, 4, zeros, zeros, zeros, zeros, 0, err, sizeof err) >= 0);
    enum { B = 32 };
    static float buf[6][B * 64];
    replay_batch_t batch = {buf[0], buf[1], buf[2], buf[3], buf[4], buf[5]};
    rng_t rng;
    rng_seed(&rng, 1, 0);
    CU_ASSERT_EQUAL_FATAL(replay_store_sample(s, &rng, B, &batch, NULL, err, sizeof err), 0);
    env_t *ref = env_new("box2d", ENV_GOAL_RANDOM, replay_env_goals_seed(17, 2), err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ref);
    float obs[64], ag[64], g[64];
    int same = 1, distinct = 0;
    for (int i = 0; i < B; i++) {
        env_reset(ref, obs, ag, g);
        for (int j = 0; j < spec.goal_dim; j++) same &= buf[5][i * spec.goal_dim + j] == g[j];
        if (i > 0) distinct += buf[5][i * spec.goal_dim] != buf[5][(i - 1) * spec.goal_dim];
    }
    CU_ASSERT(same);
    CU_ASSERT(distinct > B / 2);
    env_free(ref);
    replay_store_free(s);
    replay_env_goals_free(goals);
}

/* ---- rate limiter ---- */

static void test_ratelimit_min_size_and_off(void) {
    replay_ratelimit_t rl;
    char err[256];
    CU_ASSERT_EQUAL(replay_ratelimit_init(&rl, 1.0, -1, 0, err, sizeof err), -1);
    CU_ASSERT_EQUAL_FATAL(replay_ratelimit_init(&rl, 0, 0, 500, err, sizeof err), 0);
    CU_ASSERT(!replay_ratelimit_can_sample(&rl, 1));
    replay_ratelimit_on_insert(&rl, 499);
    CU_ASSERT(!replay_ratelimit_can_sample(&rl, 1));
    replay_ratelimit_on_insert(&rl, 1);
    CU_ASSERT(replay_ratelimit_can_sample(&rl, 4096));
    replay_ratelimit_on_sample(&rl, 1000000);
    CU_ASSERT(replay_ratelimit_can_sample(&rl, 4096)); /* ratio off: min size only */
    CU_ASSERT(replay_ratelimit_can_insert(&rl));
}

/* A new ratio keeps the excess (no burst, no stall), takes the new band, and switches the limit
 * off and on; bad values are refused and change nothing. */
static void test_ratelimit_set_ratio(void) {
    replay_ratelimit_t rl;
    char err[256];
    CU_ASSERT_EQUAL_FATAL(replay_ratelimit_init(&rl, 256, 1000, 100, err, sizeof err), 0);
    replay_ratelimit_on_insert(&rl, 500);
    replay_ratelimit_on_sample(&rl, 256 * 390);
    double before = replay_ratelimit_excess(&rl); /* 256 * 400 - 256 * 390 = 2560 */
    CU_ASSERT_DOUBLE_EQUAL(before, 2560, 1e-9);
    CU_ASSERT_EQUAL(replay_ratelimit_set_ratio(&rl, 512, 3000, err, sizeof err), 0);
    CU_ASSERT_DOUBLE_EQUAL(replay_ratelimit_excess(&rl), before, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(rl.tolerance, 3000, 0);
    CU_ASSERT(
        replay_ratelimit_can_sample(&rl, 2560 + 3000)); /* the new band, from the same excess */
    CU_ASSERT(!replay_ratelimit_can_sample(&rl, 2560 + 3001));
    /* From then on each inserted transition earns 512 samples. */
    replay_ratelimit_on_insert(&rl, 10);
    CU_ASSERT_DOUBLE_EQUAL(replay_ratelimit_excess(&rl), before + 5120, 1e-9);
    /* An excess the new ratio cannot express (more than spi * (inserted - min_size)) is kept
     * as far as it goes: sampled never wraps below 0. */
    CU_ASSERT_EQUAL(replay_ratelimit_set_ratio(&rl, 1, 3000, err, sizeof err), 0);
    CU_ASSERT_EQUAL(rl.sampled, 0);
    CU_ASSERT_DOUBLE_EQUAL(replay_ratelimit_excess(&rl), 410, 1e-9);
    /* Off: only min size applies; on again from there. */
    CU_ASSERT_EQUAL(replay_ratelimit_set_ratio(&rl, 0, 3000, err, sizeof err), 0);
    CU_ASSERT(replay_ratelimit_can_sample(&rl, 1 << 20));
    CU_ASSERT_EQUAL(replay_ratelimit_set_ratio(&rl, 4, 100, err, sizeof err), 0);
    CU_ASSERT(replay_ratelimit_can_sample(&rl, 4 * 410 + 100));
    CU_ASSERT(!replay_ratelimit_can_sample(&rl, 4 * 410 + 101));
    replay_ratelimit_t keep = rl;
    CU_ASSERT_EQUAL(replay_ratelimit_set_ratio(&rl, NAN, 100, err, sizeof err), -1);
    CU_ASSERT_EQUAL(replay_ratelimit_set_ratio(&rl, 4, -1, err, sizeof err), -1);
    CU_ASSERT(strstr(err, "tolerance") != NULL);
    CU_ASSERT_EQUAL(memcmp(&keep, &rl, sizeof rl), 0);
}

/* A greedy sampler and a greedy inserter in random order: after min_size the credit stays inside
 * [-tol, tol + spi * T) around the offset, each side is actually held back at some point, and
 * the long-run ratio is spi. */
static void test_ratelimit_band(void) {
    const double spi = 256, tol = 30000;
    const int64_t min_size = 1000;
    const int T = 100, B = 256;
    replay_ratelimit_t rl;
    char err[256];
    CU_ASSERT_EQUAL_FATAL(replay_ratelimit_init(&rl, spi, tol, min_size, err, sizeof err), 0);
    rng_t rng;
    rng_seed(&rng, 9, 0);
    long sample_blocked = 0, insert_blocked = 0, violations = 0;
    uint64_t inserted = 0, sampled = 0; /* the test's own counts */
    for (int step = 0; step < 200000; step++) {
        /* Phases: inserter much faster, then sampler much faster, then balanced. */
        double p_insert = step < 50000 ? 0.9 : step < 100000 ? 0.001 : 0.01;
        if (rng_uniform(&rng) < p_insert) {
            if (replay_ratelimit_can_insert(&rl)) {
                replay_ratelimit_on_insert(&rl, T);
                inserted += T;
            } else {
                insert_blocked++;
            }
        } else {
            if (replay_ratelimit_can_sample(&rl, B)) {
                replay_ratelimit_on_sample(&rl, B);
                sampled += B;
            } else {
                sample_blocked++;
            }
        }
        if (inserted >= (uint64_t)min_size) {
            double excess = spi * ((double)inserted - min_size) - (double)sampled;
            violations += excess < -tol || excess >= tol + spi * T;
        } else {
            violations += sampled != 0;
        }
    }
    CU_ASSERT_EQUAL(violations, 0);
    CU_ASSERT(sample_blocked > 1000);
    CU_ASSERT(insert_blocked > 1000);
    double ratio = (double)sampled / ((double)inserted - min_size);
    CU_ASSERT(fabs(ratio - spi) < (tol + spi * T) / ((double)inserted - min_size));
    CU_ASSERT(inserted > 10000);
}

/* Neither side can be stuck when tolerance >= B/2: from any state one of them may proceed. */
static void test_ratelimit_no_deadlock(void) {
    replay_ratelimit_t rl;
    char err[256];
    const int B = 256;
    CU_ASSERT_EQUAL_FATAL(replay_ratelimit_init(&rl, 256, B / 2, 0, err, sizeof err), 0);
    rng_t rng;
    rng_seed(&rng, 2, 0);
    int stuck = 0;
    for (int i = 0; i < 100000; i++) {
        int ci = replay_ratelimit_can_insert(&rl), cs = replay_ratelimit_can_sample(&rl, B);
        stuck += !ci && !cs;
        if (ci && (!cs || rng_uniform(&rng) < 0.5))
            replay_ratelimit_on_insert(&rl, 1 + (int)rng_below(&rng, 100));
        else if (cs)
            replay_ratelimit_on_sample(&rl, B);
    }
    CU_ASSERT_EQUAL(stuck, 0);
}

int main(void) {
    const test_case_t cases[] = {
        {"bad config is refused", test_bad_config},
        {"bad length, empty sample", test_bad_length_and_empty},
        {"eviction of full-length episodes", test_eviction_full_length},
        {"eviction with random lengths", test_eviction_random_lengths},
        {"large store", test_large_store},
        {"relabeled goals come from later steps", test_relabel_consistency},
        {"relabeling fractions and uniformity", test_relabel_statistics},
        {"last step relabels to s_T", test_relabel_last_step},
        {"env goals come from the env's goal stream", test_env_goals},
        {"rate limiter min size and off", test_ratelimit_min_size_and_off},
        {"rate limiter holds its band", test_ratelimit_band},
        {"rate limiter takes a new ratio without a burst", test_ratelimit_set_ratio},
        {"rate limiter cannot deadlock", test_ratelimit_no_deadlock},
        {NULL, NULL}};
    return test_run_suite("replay_store", cases);
}
