/* replay_store: episodes in preallocated row arrays used as a ring, uniform sampling of
 * transitions by rejection over occupied rows, and goal relabeling at sample time.
 *
 * The one idea: every row knows which episode slot it belongs to (row_slot), and the last row of
 * an episode (s_T, which starts no transition) and gap rows are marked -1. A uniform row in the
 * occupied span that is not marked is then a uniform transition; rejections cost at most about
 * 1/(T+1) of the draws. */
#include "replay_store.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

typedef struct {
    int64_t start_row;  /* first row (s_0) */
    int32_t length;     /* T */
    int32_t gap_before; /* rows left unused at the end of the arrays before this episode */
    uint64_t seq;
    uint64_t policy_version;
} episode_slot_t;

struct replay_store {
    replay_store_config_t cfg;
    int64_t rows;          /* row arrays' length */
    float *obs;            /* rows x obs_dim */
    float *achieved_goal;  /* rows x goal_dim */
    float *actions;        /* rows x action_dim (the last row of each episode unused) */
    int32_t *row_slot;     /* rows: episode slot of a transition's first row, or -1 */
    int64_t head_row;      /* first occupied row (start of the oldest episode, or its gap) */
    int64_t used_rows;     /* occupied rows from head_row on, gaps included */
    int64_t max_episodes;  /* slots in the episode ring */
    episode_slot_t *slots; /* max_episodes */
    float *desired_goal;   /* max_episodes x goal_dim */
    int64_t head_slot;     /* oldest episode's slot */
    int64_t n_episodes;
    int64_t n_transitions;
    uint64_t next_seq;
    uint64_t evicted;
};

/* Zeroed storage; large arrays are 2 MiB aligned and marked for transparent huge pages, which
 * cuts the page faults of the first fill and the TLB misses of random sampling. */
static void *alloc_array(int64_t n, size_t elem) {
    if (n <= 0) n = 1;
    if ((uint64_t)n > SIZE_MAX / elem) return NULL;
    size_t bytes = (size_t)n * elem;
    const size_t huge = (size_t)2 << 20;
    if (bytes < huge) return calloc((size_t)n, elem);
    bytes = (bytes + huge - 1) / huge * huge;
    void *p = NULL;
    if (posix_memalign(&p, huge, bytes) != 0) return NULL;
    madvise(p, bytes, MADV_HUGEPAGE); /* advice only: ignore failure */
    memset(p, 0, bytes);
    return p;
}

replay_store_t *replay_store_new(const replay_store_config_t *cfg, char *err, size_t errcap) {
    if (cfg->obs_dim <= 0 || cfg->goal_dim <= 0 || cfg->action_dim <= 0 || cfg->horizon <= 0) {
        snprintf(err, errcap,
                 "replay store: dims must be positive (obs %d goal %d action %d "
                 "horizon %d)",
                 cfg->obs_dim, cfg->goal_dim, cfg->action_dim, cfg->horizon);
        return NULL;
    }
    if (cfg->capacity < cfg->horizon) {
        snprintf(err, errcap, "replay store: capacity %lld is below the horizon %d",
                 (long long)cfg->capacity, cfg->horizon);
        return NULL;
    }
    if (!(cfg->future_p >= 0 && cfg->env_goal_p >= 0 &&
          cfg->future_p + cfg->env_goal_p <= 1.0f + 1e-6f)) {
        snprintf(err, errcap,
                 "replay store: goal fractions future %g env %g must be >= 0 and sum "
                 "to at most 1",
                 cfg->future_p, cfg->env_goal_p);
        return NULL;
    }
    if (cfg->env_goal_p > 0 && !cfg->goal_sampler) {
        snprintf(err, errcap, "replay store: env goal fraction %g needs the env's goal sampler",
                 cfg->env_goal_p);
        return NULL;
    }
    replay_store_t *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errcap, "replay store: out of memory");
        return NULL;
    }
    s->cfg = *cfg;
    int64_t H = cfg->horizon;
    /* Full-length episodes need capacity + capacity/H rows (one s_T row each), plus at most
     * H+1 rows lost to the gap at the end of the arrays, plus room for the incoming episode. */
    s->rows = cfg->capacity + (cfg->capacity + H - 1) / H + 2 * (H + 1);
    s->max_episodes = s->rows / 2 + 1; /* every episode takes >= 2 rows */
    s->obs = alloc_array(s->rows * cfg->obs_dim, sizeof(float));
    s->achieved_goal = alloc_array(s->rows * cfg->goal_dim, sizeof(float));
    s->actions = alloc_array(s->rows * cfg->action_dim, sizeof(float));
    s->row_slot = alloc_array(s->rows, sizeof(int32_t));
    s->slots = alloc_array(s->max_episodes, sizeof(episode_slot_t));
    s->desired_goal = alloc_array(s->max_episodes * cfg->goal_dim, sizeof(float));
    if (!s->obs || !s->achieved_goal || !s->actions || !s->row_slot || !s->slots ||
        !s->desired_goal || s->max_episodes > INT32_MAX) {
        snprintf(err, errcap, "replay store: cannot allocate %lld rows for capacity %lld",
                 (long long)s->rows, (long long)cfg->capacity);
        replay_store_free(s);
        return NULL;
    }
    for (int64_t r = 0; r < s->rows; r++) s->row_slot[r] = -1;
    return s;
}

void replay_store_free(replay_store_t *s) {
    if (!s) return;
    free(s->obs);
    free(s->achieved_goal);
    free(s->actions);
    free(s->row_slot);
    free(s->slots);
    free(s->desired_goal);
    free(s);
}

const replay_store_config_t *replay_store_config(const replay_store_t *s) {
    return &s->cfg;
}

static void evict_oldest(replay_store_t *s) {
    episode_slot_t *e = &s->slots[s->head_slot];
    int64_t n = (int64_t)e->gap_before + e->length + 1;
    for (int64_t r = e->start_row; r < e->start_row + e->length; r++) s->row_slot[r] = -1;
    s->used_rows -= n;
    s->head_row = e->start_row + e->length + 1;
    if (s->head_row == s->rows) s->head_row = 0;
    s->n_transitions -= e->length;
    s->n_episodes--;
    s->head_slot = (s->head_slot + 1) % s->max_episodes;
    s->evicted++;
    if (s->n_episodes == 0) {
        s->head_row = 0;
        s->used_rows = 0;
    }
}

/* Finds rows for an episode of n rows, evicting as needed; returns the start row and sets *gap
 * to the rows skipped at the end of the arrays. */
static int64_t make_room(replay_store_t *s, int64_t n, int32_t *gap, int *evicted) {
    for (;;) {
        *gap = 0;
        if (s->n_episodes == 0) return 0;
        int64_t tail = (s->head_row + s->used_rows) % s->rows;
        if (s->rows - s->used_rows >= n) {
            if (tail >= s->head_row) {
                /* Free: [tail, rows) then [0, head_row). */
                if (s->rows - tail >= n) return tail;
                if (s->head_row >= n) {
                    *gap = (int32_t)(s->rows - tail);
                    return 0;
                }
            } else {
                return tail; /* free: [tail, head_row) */
            }
        }
        evict_oldest(s);
        (*evicted)++;
    }
}

int replay_store_insert(replay_store_t *s, int T, const float *obs, const float *achieved_goal,
                        const float *actions, const float *desired_goal, uint64_t policy_version,
                        char *err, size_t errcap) {
    const replay_store_config_t *c = &s->cfg;
    if (T < 1 || T > c->horizon) {
        snprintf(err, errcap, "replay store: episode length %d outside [1, %d]", T, c->horizon);
        return -1;
    }
    int evicted = 0;
    while (s->n_episodes > 0 &&
           (s->n_transitions + T > c->capacity || s->n_episodes >= s->max_episodes)) {
        evict_oldest(s);
        evicted++;
    }
    int32_t gap;
    int64_t start = make_room(s, (int64_t)T + 1, &gap, &evicted);
    int64_t slot = (s->head_slot + s->n_episodes) % s->max_episodes;
    if (s->n_episodes == 0) {
        s->head_row = 0;
        s->used_rows = 0;
    }
    if (gap > 0) {
        int64_t tail = s->rows - gap;
        for (int64_t r = tail; r < s->rows; r++) s->row_slot[r] = -1;
    }
    memcpy(s->obs + start * c->obs_dim, obs, sizeof(float) * (size_t)(T + 1) * c->obs_dim);
    memcpy(s->achieved_goal + start * c->goal_dim, achieved_goal,
           sizeof(float) * (size_t)(T + 1) * c->goal_dim);
    memcpy(s->actions + start * c->action_dim, actions, sizeof(float) * (size_t)T * c->action_dim);
    memcpy(s->desired_goal + slot * c->goal_dim, desired_goal, sizeof(float) * c->goal_dim);
    for (int t = 0; t < T; t++) s->row_slot[start + t] = (int32_t)slot;
    s->row_slot[start + T] = -1;
    episode_slot_t *e = &s->slots[slot];
    e->start_row = start;
    e->length = T;
    e->gap_before = gap;
    e->seq = s->next_seq++;
    e->policy_version = policy_version;
    s->used_rows += gap + T + 1;
    s->n_episodes++;
    s->n_transitions += T;
    return evicted;
}

/* Index of one sampled transition: its row and the row whose phi gives the goal (-1: own goal,
 * -2: env goal). */
typedef struct {
    int64_t row;
    int64_t goal_row;
} pick_t;

#define PICK_CHUNK 64

/* Uniform integer in [0, n) by Lemire's multiply-and-reject method: exact like rng_below, but a
 * 64x64->128 multiply instead of a division on the hot path. */
static inline uint64_t draw_below(rng_t *rng, uint64_t n) {
    __uint128_t m = (__uint128_t)rng_next(rng) * n;
    uint64_t low = (uint64_t)m;
    if (low < n) {
        uint64_t threshold = (0 - n) % n;
        while (low < threshold) {
            m = (__uint128_t)rng_next(rng) * n;
            low = (uint64_t)m;
        }
    }
    return (uint64_t)(m >> 64);
}

int replay_store_sample(replay_store_t *s, rng_t *rng, int B, const replay_batch_t *out,
                        const replay_sample_trace_t *trace, char *err, size_t errcap) {
    if (s->n_transitions == 0) {
        snprintf(err, errcap, "replay store: cannot sample from an empty store");
        return -1;
    }
    const replay_store_config_t *c = &s->cfg;
    const int od = c->obs_dim, gd = c->goal_dim, ad = c->action_dim;
    /* Thresholds on a 24-bit uniform draw, so relabeling needs one integer compare. */
    const uint64_t future_cut = (uint64_t)((double)c->future_p * 16777216.0);
    const uint64_t env_cut = (uint64_t)(((double)c->future_p + c->env_goal_p) * 16777216.0);
    pick_t picks[PICK_CHUNK];
    /* Two passes per chunk: draw indices (and prefetch their rows), then copy, so the memory
     * loads of many samples are in flight at once. */
    for (int b0 = 0; b0 < B; b0 += PICK_CHUNK) {
        int nb = B - b0 < PICK_CHUNK ? B - b0 : PICK_CHUNK;
        for (int i = 0; i < nb; i++) {
            int64_t row;
            int32_t slot;
            do {
                row = s->head_row + (int64_t)draw_below(rng, (uint64_t)s->used_rows);
                if (row >= s->rows) row -= s->rows;
                slot = s->row_slot[row];
            } while (slot < 0);
            const episode_slot_t *e = &s->slots[slot];
            int64_t t = row - e->start_row;
            uint64_t u = rng_next(rng) >> 40;
            int64_t goal_row;
            if (u < future_cut) {
                /* k uniform over t+1..T */
                goal_row = row + 1 + (int64_t)draw_below(rng, (uint64_t)(e->length - t));
            } else if (u < env_cut) {
                goal_row = -2;
            } else {
                goal_row = -1;
            }
            picks[i].row = row;
            picks[i].goal_row = goal_row;
            __builtin_prefetch(s->obs + row * od);
            __builtin_prefetch(s->obs + (row + 1) * od + od - 1);
            __builtin_prefetch(s->achieved_goal + row * gd);
            __builtin_prefetch(s->actions + row * ad);
            if (goal_row >= 0) __builtin_prefetch(s->achieved_goal + goal_row * gd);
        }
        for (int i = 0; i < nb; i++) {
            int b = b0 + i;
            int64_t row = picks[i].row, goal_row = picks[i].goal_row;
            /* s_t and s_{t+1} are adjacent rows: one copy each for obs and phi. */
            memcpy(out->obs + (size_t)b * od, s->obs + row * od, sizeof(float) * od);
            memcpy(out->next_obs + (size_t)b * od, s->obs + (row + 1) * od, sizeof(float) * od);
            memcpy(out->achieved_goal + (size_t)b * gd, s->achieved_goal + row * gd,
                   sizeof(float) * gd);
            memcpy(out->next_achieved_goal + (size_t)b * gd, s->achieved_goal + (row + 1) * gd,
                   sizeof(float) * gd);
            memcpy(out->actions + (size_t)b * ad, s->actions + row * ad, sizeof(float) * ad);
            float *g = out->goal + (size_t)b * gd;
            const episode_slot_t *e = &s->slots[s->row_slot[row]];
            if (goal_row >= 0) {
                memcpy(g, s->achieved_goal + goal_row * gd, sizeof(float) * gd);
            } else if (goal_row == -1) {
                memcpy(g, s->desired_goal + (int64_t)s->row_slot[row] * gd, sizeof(float) * gd);
            } else {
                c->goal_sampler(c->goal_sampler_ctx, rng, g);
            }
            if (trace) {
                trace->episode_id[b] = e->seq;
                trace->t[b] = (int32_t)(row - e->start_row);
                trace->goal_step[b] = goal_row >= 0 ? (int32_t)(goal_row - e->start_row) : -1;
                trace->goal_kind[b] = goal_row >= 0    ? REPLAY_GOAL_FUTURE
                                      : goal_row == -1 ? REPLAY_GOAL_OWN
                                                       : REPLAY_GOAL_ENV;
            }
        }
    }
    return 0;
}

int64_t replay_store_size_transitions(const replay_store_t *s) {
    return s->n_transitions;
}
int64_t replay_store_size_episodes(const replay_store_t *s) {
    return s->n_episodes;
}
uint64_t replay_store_evicted_episodes(const replay_store_t *s) {
    return s->evicted;
}
uint64_t replay_store_next_seq(const replay_store_t *s) {
    return s->next_seq;
}

int replay_store_episode(const replay_store_t *s, int64_t i, replay_episode_view_t *v) {
    if (i < 0 || i >= s->n_episodes) return -1;
    int64_t slot = (s->head_slot + i) % s->max_episodes;
    const episode_slot_t *e = &s->slots[slot];
    const replay_store_config_t *c = &s->cfg;
    v->seq = e->seq;
    v->policy_version = e->policy_version;
    v->length = e->length;
    v->obs = s->obs + e->start_row * c->obs_dim;
    v->achieved_goal = s->achieved_goal + e->start_row * c->goal_dim;
    v->actions = s->actions + e->start_row * c->action_dim;
    v->desired_goal = s->desired_goal + slot * c->goal_dim;
    return 0;
}

void replay_store_set_counters(replay_store_t *s, uint64_t next_seq, uint64_t evicted) {
    s->next_seq = next_seq;
    s->evicted = evicted;
}
