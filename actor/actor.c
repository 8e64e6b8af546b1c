/* actor: the loop of an odac actor (see actor.h). The envs of one actor run in lockstep (every
 * env has the same horizon and none ends early), so one step counter serves the batch: a
 * training round records num_envs whole episodes into preallocated buffers, packs each into a
 * per-shard send queue slot when the round ends, and an evaluation round replaces training
 * rounds until eval_episodes deterministic episodes are done. Sockets are only ever used with
 * ZMQ_DONTWAIT, so a slow or missing shard or learner never stalls env stepping. */
#include "actor.h"
#include "curve.h"
#include "heartbeat.h"
#include "log.h"
#include "policy.h"
#include "rng.h"
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

_Static_assert(ENV_DIAG_MAX <= WIRE_MAX_EVAL_DIAG, "an evaluation report carries every diagnostic");

/* Episodes ZeroMQ itself may buffer per shard connection, and the kernel send buffer under it.
 * Both are small so a shard that holds inserts back (rate limiter) is felt within a few
 * episodes, not after megabytes of autotuned TCP buffers: what a shard has not read yet is
 * counted in env steps but is not in replay. */
#define ACTOR_SHARD_HWM 4
#define ACTOR_SHARD_SNDBUF (64 * 1024)
#define ACTOR_STATS_HWM 16
#define ACTOR_MAX_POLICY_LAYERS 8

enum { MODE_TRAIN = 0, MODE_EVAL = 1 };

/* One packed Episode payload waiting for its shard. */
typedef struct {
    uint8_t *bytes; /* [actor.packed_cap] */
    size_t len;
} queued_episode_t;

/* The PUSH socket to one shard and its bounded queue (a ring of queue_cap slots). */
typedef struct {
    void *sock;
    queued_episode_t *slot; /* [queue_cap] */
    int head, count;
} shard_link_t;

struct actor {
    actor_config_t cfg;
    env_spec_t spec;
    wire_dims_t dims;
    int n;          /* num_envs */
    int O, G, A, H; /* obs, goal, action dims and horizon */
    void *ctx;
    int own_ctx;
    shard_link_t shard[ACTOR_MAX_SHARDS];
    char endpoint[ACTOR_MAX_SHARDS][ACTOR_ENDPOINT_MAX]; /* the shard sockets' endpoints */
    int n_shards;
    int next_shard; /* round-robin position */
    int queue_cap;  /* episodes per shard queue: send_queue, at least a round's share */
    int waiting;    /* 1 while a training round waits for room in the shard queues */
    struct timespec wait_start;
    size_t packed_cap;
    void *weights_sock, *stats_sock;

    env_batch_t *envs;
    policy_t *policy;                              /* NULL until the first weights arrive */
    int policy_layers;                             /* layer count of the loaded policy */
    uint32_t policy_cols[ACTOR_MAX_POLICY_LAYERS]; /* fan-out of each layer */
    Odac__PolicyWeights *stashed; /* newest weights that arrived during an evaluation */
    rng_t explore_rng;
    float explore_eps, explore_noise; /* in force: the actor's flags, else the learner's word */
    long long random_steps;

    /* The current step, env-major. */
    float *obs;            /* (n, O) */
    float *achieved_goal;  /* (n, G) */
    float *desired_goal;   /* (n, G) */
    float *actions;        /* (n, A) */
    env_step_info_t *info; /* [n] */
    /* The current training episodes. */
    float *rec_obs;         /* (n, H+1, O) */
    float *rec_achieved;    /* (n, H+1, G) */
    float *rec_actions;     /* (n, H, A) */
    float *rec_goal;        /* (n, G) */
    uint64_t round_version; /* policy version in use when the round began */
    int t;                  /* steps taken in the current round */
    int mode;

    /* Evaluation. */
    float *eval_distance; /* [eval_episodes] final distances of the running evaluation */
    double eval_diag_sum[ENV_DIAG_MAX]; /* sums of its episodes' final diagnostics */
    int eval_done;                      /* episodes of it finished */
    uint64_t eval_version;
    long long next_eval_at; /* training episode count that triggers the next evaluation */
    int eval_report_pending;
    int eval_skip_logged;
    actor_eval_t last_eval;

    actor_counters_t c;
    uint64_t next_episode_id;
    struct timespec last_stats;
};

static double seconds_since(const struct timespec *t0) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - t0->tv_sec) + 1e-9 * (double)(now.tv_nsec - t0->tv_nsec);
}

void actor_config_default(actor_config_t *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->actor_id = 0;
    cfg->num_envs = 1;
    cfg->random_steps = -1; /* the run's per-env default, from the learner */
    cfg->eval_every = 50;
    cfg->eval_episodes = 5;
    cfg->seed = 0;
    cfg->goal_mode = ENV_GOAL_FIXED;
    cfg->send_queue = 4;
    cfg->stats_interval_ms = 1000;
    cfg->backpressure_wait_ms = 30000; /* then keep stepping, dropping the oldest */
    cfg->random_eps = -1.0f;           /* the learner's word (weights messages) */
    cfg->action_noise = -1.0f;
    cfg->env_action_noise = 0.0f;
}

/* Splits the comma-separated list into endpoints (copied into out[k], each < ACTOR_ENDPOINT_MAX);
 * the count, or -1 with a message on an empty item or too many. */
static int split_endpoints(const char *list, char out[][ACTOR_ENDPOINT_MAX], int max, char *err,
                           size_t errcap) {
    int n = 0;
    const char *p = list;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        while (len > 0 && (*p == ' ' || *p == '\t')) p++, len--;
        while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t')) len--;
        if (len == 0) {
            snprintf(err, errcap, "actor: --shards has an empty endpoint in '%s'", list);
            return -1;
        }
        if (n == max) {
            snprintf(err, errcap, "actor: --shards lists more than %d endpoints", max);
            return -1;
        }
        if (out) {
            memcpy(out[n], p, len);
            out[n][len] = '\0';
        }
        n++;
        if (!comma) return n;
        p = comma + 1;
    }
}

int actor_config_validate(const actor_config_t *cfg, char *err, size_t errcap) {
    env_spec_t spec;
    char why[256];
    if (!cfg->env_name[0]) {
        snprintf(err, errcap, "actor: --env is required");
        return -1;
    }
    if (env_spec_lookup(cfg->env_name, &spec, why, sizeof why) != 0) {
        snprintf(err, errcap, "actor: --env: %s", why);
        return -1;
    }
    if (cfg->num_envs < 1 || cfg->num_envs > 65536) {
        snprintf(err, errcap, "actor: --num-envs must be in [1, 65536] (got %d)", cfg->num_envs);
        return -1;
    }
    if (!cfg->shards[0]) {
        snprintf(err, errcap, "actor: --shards is required (replay insert endpoints)");
        return -1;
    }
    if (split_endpoints(cfg->shards, NULL, ACTOR_MAX_SHARDS, err, errcap) < 0) return -1;
    if (!cfg->weights[0]) {
        snprintf(err, errcap, "actor: --weights is required (learner weights endpoint)");
        return -1;
    }
    if (!cfg->stats[0]) {
        snprintf(err, errcap, "actor: --stats is required (learner stats endpoint)");
        return -1;
    }
    if (cfg->random_steps < -1 || cfg->eval_every < 0) {
        snprintf(err, errcap, "actor: --random-steps must be >= -1 and --eval-every >= 0");
        return -1;
    }
    if (cfg->eval_episodes < 1 || cfg->eval_episodes > 1000000) {
        snprintf(err, errcap, "actor: --eval-episodes must be in [1, 1000000] (got %d)",
                 cfg->eval_episodes);
        return -1;
    }
    if (cfg->goal_mode != ENV_GOAL_FIXED && cfg->goal_mode != ENV_GOAL_RANDOM) {
        snprintf(err, errcap, "actor: bad goal mode %d", (int)cfg->goal_mode);
        return -1;
    }
    if (cfg->send_queue < 1 || cfg->send_queue > 4096) {
        snprintf(err, errcap, "actor: --send-queue must be in [1, 4096] (got %d)", cfg->send_queue);
        return -1;
    }
    if (cfg->backpressure_wait_ms < -1) {
        snprintf(err, errcap, "actor: --backpressure-wait-ms must be -1, 0 or a duration in ms");
        return -1;
    }
    if (!(cfg->random_eps == -1.0f || (cfg->random_eps >= 0.0f && cfg->random_eps <= 1.0f))) {
        snprintf(err, errcap, "actor: --random-eps must be in [0, 1], or -1 for the learner's");
        return -1;
    }
    if (!(cfg->action_noise == -1.0f ||
          (cfg->action_noise >= 0.0f && cfg->action_noise <= 10.0f))) {
        snprintf(err, errcap, "actor: --action-noise must be in [0, 10], or -1 for the learner's");
        return -1;
    }
    if (!(cfg->env_action_noise >= 0.0f && cfg->env_action_noise <= 10.0f)) {
        snprintf(err, errcap, "actor: --env-action-noise must be in [0, 10]");
        return -1;
    }
    if (strlen(cfg->run_token) > WIRE_MAX_TOKEN) {
        snprintf(err, errcap, "actor: --run-token is longer than %d bytes", WIRE_MAX_TOKEN);
        return -1;
    }
    if (cfg->stats_interval_ms < 0) {
        snprintf(err, errcap, "actor: stats interval must be >= 0 ms");
        return -1;
    }
    return 0;
}

/* A socket of type connected to endpoint with linger 0; conflate (SUB) is set before connect. */
static void *connect_socket(void *ctx, int type, const char *endpoint, int hwm, int conflate,
                            char *err, size_t errcap) {
    void *s = zmq_socket(ctx, type);
    if (!s) {
        snprintf(err, errcap, "actor: zmq_socket: %s", zmq_strerror(zmq_errno()));
        return NULL;
    }
    int zero = 0, one = 1;
    /* Only the SUB socket receives (weights); nothing legitimate arrives on a PUSH. */
    int64_t max_size =
        type == ZMQ_SUB ? (int64_t)WIRE_MAX_MESSAGE_BYTES + 4096 : (int64_t)WIRE_MIN_FRAME_LIMIT;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &max_size, sizeof max_size);
    if (hwm > 0) {
        zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof hwm);
        zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof hwm);
    }
    if (type == ZMQ_PUSH && hwm == ACTOR_SHARD_HWM) {
        int sndbuf = ACTOR_SHARD_SNDBUF;
        zmq_setsockopt(s, ZMQ_SNDBUF, &sndbuf, sizeof sndbuf);
    }
    if (type == ZMQ_PUSH) {
        /* Queue only to a live connection: a shard (or learner) that is gone makes sends fail
         * with EAGAIN at once, so its episodes go to another shard instead of piling up. */
        zmq_setsockopt(s, ZMQ_IMMEDIATE, &one, sizeof one);
    }
    if (conflate) zmq_setsockopt(s, ZMQ_CONFLATE, &one, sizeof one);
    if (type == ZMQ_SUB) zmq_setsockopt(s, ZMQ_SUBSCRIBE, "", 0);
    if (curve_apply(s, 0, err, errcap) != 0) {
        zmq_close(s);
        return NULL;
    }
    if (zmq_connect(s, endpoint) != 0) {
        snprintf(err, errcap, "actor: connect %s: %s", endpoint, zmq_strerror(zmq_errno()));
        zmq_close(s);
        return NULL;
    }
    return s;
}

/* Fills msg to describe training episode i of the current round; pointers borrow the buffers. */
static void describe_episode(actor_t *a, int i, uint64_t episode_id, Odac__Episode *msg) {
    odac__episode__init(msg);
    int T = a->t;
    msg->protocol_version = WIRE_PROTOCOL_VERSION;
    msg->actor_id = a->cfg.actor_id;
    msg->episode_id = episode_id;
    msg->policy_version = a->round_version;
    msg->env_name = a->cfg.env_name;
    msg->length = (uint32_t)T;
    msg->n_observations = (size_t)(T + 1) * a->O;
    msg->observations = a->rec_obs + (size_t)i * (a->H + 1) * a->O;
    msg->n_achieved_goals = (size_t)(T + 1) * a->G;
    msg->achieved_goals = a->rec_achieved + (size_t)i * (a->H + 1) * a->G;
    msg->n_actions = (size_t)T * a->A;
    msg->actions = a->rec_actions + (size_t)i * a->H * a->A;
    msg->n_desired_goal = (size_t)a->G;
    msg->desired_goal = a->rec_goal + (size_t)i * a->G;
}

void actor_free(actor_t *a) {
    if (!a) return;
    /* What was handed to a live shard or learner connection (the final stats included) gets a
     * moment to leave; ZMQ_IMMEDIATE means nothing waits for a peer that is gone. */
    int linger_ms = 1000;
    for (int s = 0; s < ACTOR_MAX_SHARDS; s++) {
        if (a->shard[s].sock) {
            zmq_setsockopt(a->shard[s].sock, ZMQ_LINGER, &linger_ms, sizeof linger_ms);
            zmq_close(a->shard[s].sock);
        }
        if (a->shard[s].slot) {
            for (int q = 0; q < a->queue_cap; q++) free(a->shard[s].slot[q].bytes);
            free(a->shard[s].slot);
        }
    }
    if (a->weights_sock) zmq_close(a->weights_sock);
    if (a->stats_sock) {
        zmq_setsockopt(a->stats_sock, ZMQ_LINGER, &linger_ms, sizeof linger_ms);
        zmq_close(a->stats_sock);
    }
    if (a->own_ctx && a->ctx) zmq_ctx_term(a->ctx);
    if (a->stashed) odac__policy_weights__free_unpacked(a->stashed, NULL);
    env_batch_free(a->envs);
    policy_free(a->policy);
    free(a->obs);
    free(a->achieved_goal);
    free(a->desired_goal);
    free(a->actions);
    free(a->info);
    free(a->rec_obs);
    free(a->rec_achieved);
    free(a->rec_actions);
    free(a->rec_goal);
    free(a->eval_distance);
    free(a);
}

/* Resets every env and starts recording a new round (training or evaluation). */
static void begin_round(actor_t *a) {
    for (int i = 0; i < a->n; i++) {
        env_t *env = env_batch_get(a->envs, i);
        float *obs = a->obs + (size_t)i * a->O, *ag = a->achieved_goal + (size_t)i * a->G;
        float *goal = a->desired_goal + (size_t)i * a->G;
        env_reset(env, obs, ag, goal);
        memcpy(a->rec_obs + (size_t)i * (a->H + 1) * a->O, obs, (size_t)a->O * sizeof(float));
        memcpy(a->rec_achieved + (size_t)i * (a->H + 1) * a->G, ag, (size_t)a->G * sizeof(float));
        memcpy(a->rec_goal + (size_t)i * a->G, goal, (size_t)a->G * sizeof(float));
    }
    a->t = 0;
    a->round_version = a->c.policy_version;
}

actor_t *actor_new(const actor_config_t *cfg, void *zmq_ctx, char *err, size_t errcap) {
    if (actor_config_validate(cfg, err, errcap) != 0) return NULL;
    actor_t *a = calloc(1, sizeof *a);
    if (!a) {
        snprintf(err, errcap, "actor: out of memory");
        return NULL;
    }
    a->cfg = *cfg;
    env_spec_lookup(cfg->env_name, &a->spec, err, errcap);
    a->n = cfg->num_envs;
    a->O = a->spec.obs_dim;
    a->G = a->spec.goal_dim;
    a->A = a->spec.action_dim;
    a->H = a->spec.horizon;
    snprintf(a->dims.env_name, sizeof a->dims.env_name, "%s", a->spec.name);
    a->dims.obs_dim = (uint32_t)a->O;
    a->dims.goal_dim = (uint32_t)a->G;
    a->dims.action_dim = (uint32_t)a->A;
    a->dims.horizon = (uint32_t)a->H;

    /* Env seeds and exploration noise: independent streams of (seed, actor id). */
    rng_t root;
    rng_seed(&root, cfg->seed, 0x6163746f72000000ull + cfg->actor_id);
    uint64_t env_seed = rng_next(&root);
    a->explore_rng = rng_split(&root);
    a->envs = env_batch_new(cfg->env_name, cfg->goal_mode, a->n, env_seed, err, errcap);
    if (!a->envs) goto fail;
    for (int i = 0; i < a->n; i++) /* the env's own noise: training and evaluation alike */
        if (env_set_action_noise(env_batch_get(a->envs, i), cfg->env_action_noise, err, errcap))
            goto fail;

    size_t n = (size_t)a->n, O = (size_t)a->O, G = (size_t)a->G, A = (size_t)a->A;
    size_t H = (size_t)a->H;
    a->obs = malloc(n * O * sizeof(float));
    a->achieved_goal = malloc(n * G * sizeof(float));
    a->desired_goal = malloc(n * G * sizeof(float));
    a->actions = malloc(n * A * sizeof(float));
    a->info = calloc(n, sizeof *a->info);
    a->rec_obs = malloc(n * (H + 1) * O * sizeof(float));
    a->rec_achieved = malloc(n * (H + 1) * G * sizeof(float));
    a->rec_actions = malloc(n * H * A * sizeof(float));
    a->rec_goal = malloc(n * G * sizeof(float));
    a->eval_distance = malloc((size_t)cfg->eval_episodes * sizeof(float));
    if (!a->obs || !a->achieved_goal || !a->desired_goal || !a->actions || !a->info ||
        !a->rec_obs || !a->rec_achieved || !a->rec_actions || !a->rec_goal || !a->eval_distance) {
        snprintf(err, errcap, "actor: out of memory for %d envs of '%s'", a->n, a->spec.name);
        goto fail;
    }
    memset(a->rec_obs, 0, n * (H + 1) * O * sizeof(float));
    memset(a->rec_achieved, 0, n * (H + 1) * G * sizeof(float));
    memset(a->rec_actions, 0, n * H * A * sizeof(float));

    /* The largest packed Episode: a full-length one with the widest varints. */
    a->t = a->H;
    Odac__Episode biggest;
    describe_episode(a, 0, UINT64_MAX, &biggest);
    biggest.actor_id = UINT32_MAX;
    biggest.policy_version = UINT64_MAX;
    a->packed_cap = odac__episode__get_packed_size(&biggest) + 64;

    if (zmq_ctx) {
        a->ctx = zmq_ctx;
    } else {
        a->ctx = zmq_ctx_new();
        a->own_ctx = 1;
        if (!a->ctx) {
            snprintf(err, errcap, "actor: zmq_ctx_new: %s", zmq_strerror(zmq_errno()));
            goto fail;
        }
    }
    a->n_shards = split_endpoints(cfg->shards, a->endpoint, ACTOR_MAX_SHARDS, err, errcap);
    /* Empty queues always hold a whole round, so waiting for room can end. */
    int share = (a->n + a->n_shards - 1) / a->n_shards;
    a->queue_cap = cfg->send_queue > share ? cfg->send_queue : share;
    for (int s = 0; s < a->n_shards; s++) {
        shard_link_t *link = &a->shard[s];
        link->slot = calloc((size_t)a->queue_cap, sizeof *link->slot);
        if (!link->slot) {
            snprintf(err, errcap, "actor: out of memory for send queues");
            goto fail;
        }
        for (int q = 0; q < a->queue_cap; q++) {
            link->slot[q].bytes = malloc(a->packed_cap);
            if (!link->slot[q].bytes) {
                snprintf(err, errcap, "actor: out of memory for send queues");
                goto fail;
            }
        }
        link->sock =
            connect_socket(a->ctx, ZMQ_PUSH, a->endpoint[s], ACTOR_SHARD_HWM, 0, err, errcap);
        if (!link->sock) goto fail;
    }
    a->weights_sock = connect_socket(a->ctx, ZMQ_SUB, cfg->weights, 0, 1, err, errcap);
    if (!a->weights_sock) goto fail;
    a->stats_sock = connect_socket(a->ctx, ZMQ_PUSH, cfg->stats, ACTOR_STATS_HWM, 0, err, errcap);
    if (!a->stats_sock) goto fail;

    a->next_eval_at = cfg->eval_every;
    a->mode = MODE_TRAIN;
    clock_gettime(CLOCK_MONOTONIC, &a->last_stats);
    begin_round(a);
    return a;
fail:
    actor_free(a);
    return NULL;
}

/* ---- exploration ---- */

/* On top of the policy's own sample: each env's action is, with probability explore_eps, replaced
 * by a uniformly random one, else perturbed by N(0, explore_noise^2) per dim and clipped to the
 * action bounds (the HER implementations' epsilon-random actions and Gaussian noise). */
static void explore(actor_t *a) {
    if (a->explore_eps <= 0.0f && a->explore_noise <= 0.0f) return;
    int A = a->A;
    float lo = a->spec.action_low, hi = a->spec.action_high, span = hi - lo;
    for (int i = 0; i < a->n; i++) {
        float *act = a->actions + (size_t)i * A;
        if (a->explore_eps > 0.0f && rng_uniform(&a->explore_rng) < a->explore_eps) {
            for (int k = 0; k < A; k++) act[k] = lo + span * rng_uniform(&a->explore_rng);
            continue;
        }
        if (a->explore_noise <= 0.0f) continue;
        for (int k = 0; k < A; k++) {
            float v = act[k] + a->explore_noise * rng_normal(&a->explore_rng);
            act[k] = v < lo ? lo : (v > hi ? hi : v);
        }
    }
}

/* ---- weights ---- */

static void count_reject(actor_t *a, wire_reject_t reason, const char *why) {
    a->c.weights_rejected++;
    a->c.weights_rejected_by_reason[reason]++;
    uint64_t k = a->c.weights_rejected;
    if (k <= 10 || k % 1000 == 0)
        log_warn("rejected policy weights (%s, %llu so far): %s", wire_reject_name(reason),
                 (unsigned long long)k, why);
}

/* Loads decoded, validated weights into the policy (rebuilding it when the layer shapes
 * changed, which happens once per run) and takes ownership of w. */
static void apply_weights(actor_t *a, Odac__PolicyWeights *w) {
    int n_layers = (int)w->n_layers;
    int same = a->policy && n_layers == a->policy_layers;
    for (int l = 0; same && l < n_layers; l++) same = w->layers[l]->cols == a->policy_cols[l];
    policy_t *target = a->policy;
    char why[256];
    if (!same) {
        int hidden[ACTOR_MAX_POLICY_LAYERS];
        for (int l = 0; l + 1 < n_layers && l < ACTOR_MAX_POLICY_LAYERS; l++)
            hidden[l] = (int)w->layers[l]->cols;
        snprintf(why, sizeof why, "%d layers", n_layers);
        target = n_layers <= ACTOR_MAX_POLICY_LAYERS
                     ? policy_new(a->O, a->G, a->A, hidden, n_layers - 1, a->n, why, sizeof why)
                     : NULL;
        if (!target) {
            count_reject(a, WIRE_REJECT_DIMS, why);
            odac__policy_weights__free_unpacked(w, NULL);
            return;
        }
    }
    /* A failed load leaves the policy in use unchanged. The normaliser travels with the weights
     * (the learner standardised inputs with exactly these statistics for them). */
    if (policy_set_normalization(target, w->n_obs_mean ? w->obs_mean : NULL, w->obs_std,
                                 w->goal_mean, w->goal_std, w->norm_clip) != 0) {
        count_reject(a, WIRE_REJECT_DIMS, "normaliser does not fit the policy");
        if (!same) policy_free(target);
        odac__policy_weights__free_unpacked(w, NULL);
        return;
    }
    if (policy_load_params(target, w->data, w->n_data) != 0) {
        count_reject(a, WIRE_REJECT_DIMS, "parameter block does not fit the policy");
        if (!same) policy_free(target);
        odac__policy_weights__free_unpacked(w, NULL);
        return;
    }
    if (!same) {
        policy_free(a->policy);
        a->policy = target;
        a->policy_layers = n_layers;
        for (int l = 0; l < n_layers; l++) a->policy_cols[l] = w->layers[l]->cols;
        log_info("policy weights version %llu applied (%d layers)", (unsigned long long)w->version,
                 n_layers);
    }
    a->c.has_policy = 1;
    a->c.policy_version = w->version;
    a->explore_eps = a->cfg.random_eps >= 0.0f ? a->cfg.random_eps : w->explore_random_eps;
    a->explore_noise = a->cfg.action_noise >= 0.0f ? a->cfg.action_noise : w->explore_action_noise;
    a->random_steps =
        a->cfg.random_steps >= 0
            ? a->cfg.random_steps
            : (long long)(w->explore_random_steps > 1000000000000ULL ? 1000000000000ULL
                                                                     : w->explore_random_steps);
    a->c.weights_applied++;
    odac__policy_weights__free_unpacked(w, NULL);
}

/* Takes the newest weights message off the SUB socket, if any (non-blocking). */
static void poll_weights(actor_t *a) {
    for (;;) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, a->weights_sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m);
            return; /* EAGAIN: nothing new (other errors: same, try next step) */
        }
        int more = zmq_msg_more(&m);
        char why[256];
        wire_reject_t reason = WIRE_OK;
        Odac__PolicyWeights *w = NULL;
        if (more) {
            reason = WIRE_REJECT_FRAMES;
            snprintf(why, sizeof why, "weights come as one frame, got several");
        } else {
            w = wire_decode_policy_weights(zmq_msg_data(&m), zmq_msg_size(&m), &a->dims, &reason,
                                           why, sizeof why);
        }
        if (!w) {
            /* Its run_finished counts for nothing: only weights that passed validation end the
             * run, so a malformed or forged message cannot stop the actors. */
            count_reject(a, reason, why);
            zmq_msg_close(&m);
            while (more) { /* drop the rest of a multipart message */
                zmq_msg_init(&m);
                if (zmq_msg_recv(&m, a->weights_sock, ZMQ_DONTWAIT) < 0)
                    more = 0;
                else
                    more = zmq_msg_more(&m);
                zmq_msg_close(&m);
            }
            continue;
        }
        zmq_msg_close(&m);
        int finished = w->run_finished;
        if (a->mode == MODE_EVAL && !finished) {
            /* One evaluation uses one policy: keep the newest for when it ends. */
            if (a->stashed) odac__policy_weights__free_unpacked(a->stashed, NULL);
            a->stashed = w;
        } else {
            apply_weights(a, w);
        }
        if (finished) {
            log_info("the learner finished the run");
            a->c.finished = 1;
            return;
        }
    }
}

/* ---- episodes to shards ---- */

/* Sends the shard's queued episodes, oldest first, until its socket would block. */
static void flush_shard(actor_t *a, int s) {
    shard_link_t *link = &a->shard[s];
    while (link->count > 0) {
        queued_episode_t *e = &link->slot[link->head];
        if (zmq_send(link->sock, WIRE_TAG_EPISODE, strlen(WIRE_TAG_EPISODE),
                     ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
            return; /* EAGAIN: the shard holds back or is gone; retry next step */
        /* Once the first part is queued the second cannot block (atomic multipart). */
        zmq_send(link->sock, e->bytes, e->len, ZMQ_DONTWAIT);
        link->head = (link->head + 1) % a->queue_cap;
        link->count--;
        a->c.episodes_sent++;
        a->c.sent_per_shard[s]++;
    }
}

static void flush_shards(actor_t *a) {
    for (int s = 0; s < a->n_shards; s++) flush_shard(a, s);
}

/* Queues training episode i of the finished round and tries to send it at once: to the next
 * shard in round-robin order, else the first after it whose queue has room (after trying to
 * send what it holds), else (all full) the round-robin shard after dropping its oldest. */
static void enqueue_episode(actor_t *a, int i) {
    int target = a->next_shard;
    a->next_shard = (a->next_shard + 1) % a->n_shards;
    int chosen = -1;
    for (int k = 0; k < a->n_shards && chosen < 0; k++) {
        int s = (target + k) % a->n_shards;
        if (a->shard[s].count == a->queue_cap) flush_shard(a, s);
        if (a->shard[s].count < a->queue_cap) chosen = s;
    }
    if (chosen < 0) {
        chosen = target;
        shard_link_t *full = &a->shard[target];
        full->head = (full->head + 1) % a->queue_cap;
        full->count--;
        a->c.episodes_dropped++;
        uint64_t k = a->c.episodes_dropped;
        if (k <= 10 || k % 1000 == 0)
            log_warn("every shard's send queue is full: dropped the oldest episode (%llu so far)",
                     (unsigned long long)k);
    }
    shard_link_t *link = &a->shard[chosen];
    queued_episode_t *e = &link->slot[(link->head + link->count) % a->queue_cap];
    Odac__Episode msg;
    describe_episode(a, i, a->next_episode_id++, &msg);
    e->len = odac__episode__pack(&msg, e->bytes);
    link->count++;
    flush_shard(a, chosen);
}

/* ---- stats ---- */

/* 0 when the stats message was handed to the socket, -1 when it would block. */
static int send_stats(actor_t *a) {
    Odac__ActorStats msg = ODAC__ACTOR_STATS__INIT;
    Odac__EvalReport eval = ODAC__EVAL_REPORT__INIT;
    msg.protocol_version = WIRE_PROTOCOL_VERSION;
    msg.actor_id = a->cfg.actor_id;
    msg.env_steps = a->c.env_steps;
    msg.episodes = a->c.episodes;
    msg.policy_version = a->c.policy_version;
    msg.policy_lag = 0; /* the actor always runs the newest weights it got; the learner computes
                           lag from its own version and policy_version */
    msg.episodes_dropped = a->c.episodes_dropped;
    msg.run_token = a->cfg.run_token; /* packed, not modified */
    if (a->eval_report_pending) {
        eval.episodes = a->last_eval.episodes;
        eval.final_distance_mean = a->last_eval.final_distance_mean;
        eval.final_distance_std = a->last_eval.final_distance_std;
        eval.success_rate = a->last_eval.success_rate;
        eval.policy_version = a->last_eval.policy_version;
        eval.n_diag_mean = (size_t)a->last_eval.n_diag;
        eval.diag_mean = a->last_eval.diag_mean; /* packed, not modified */
        msg.eval = &eval;
    }
    clock_gettime(CLOCK_MONOTONIC, &a->last_stats);
    if (wire_send(a->stats_sock, NULL, WIRE_TAG_ACTOR_STATS, &msg.base, ZMQ_DONTWAIT) == 0) {
        a->c.stats_sent++;
        a->eval_report_pending = 0; /* else it goes with the next stats */
        return 0;
    }
    return -1;
}

/* The last report, at exit: a learner connection still being set up gets up to 500 ms. */
static void send_final_stats(actor_t *a) {
    for (int attempt = 0; attempt < 50 && send_stats(a) != 0; attempt++) {
        zmq_pollitem_t item = {a->stats_sock, 0, ZMQ_POLLOUT, 0};
        if (zmq_poll(&item, 1, 10) < 0 && zmq_errno() != EINTR) return;
    }
}

void actor_send_stats(actor_t *a) {
    send_stats(a);
}

/* ---- the step ---- */

/* Ends an evaluation: mean/std of the final distances and the success rate. */
static void finish_eval(actor_t *a) {
    int m = a->cfg.eval_episodes;
    double sum = 0, sq = 0;
    int success = 0;
    for (int k = 0; k < m; k++) {
        sum += a->eval_distance[k];
        success += a->eval_distance[k] < a->spec.success_threshold;
    }
    double mean = sum / m;
    for (int k = 0; k < m; k++) sq += (a->eval_distance[k] - mean) * (a->eval_distance[k] - mean);
    a->last_eval.episodes = (uint32_t)m;
    a->last_eval.final_distance_mean = (float)mean;
    a->last_eval.final_distance_std = (float)sqrt(sq / m);
    a->last_eval.success_rate = (float)success / (float)m;
    a->last_eval.policy_version = a->eval_version;
    a->last_eval.n_diag = a->spec.n_diag;
    for (int d = 0; d < a->spec.n_diag; d++)
        a->last_eval.diag_mean[d] = (float)(a->eval_diag_sum[d] / m);
    a->c.evals++;
    a->eval_report_pending = 1;
    log_info("eval (policy %llu, %d episodes): final distance %.4f +- %.4f, success %.2f",
             (unsigned long long)a->eval_version, m, mean, a->last_eval.final_distance_std,
             (double)a->last_eval.success_rate);
    a->mode = MODE_TRAIN;
    if (a->stashed) {
        Odac__PolicyWeights *w = a->stashed;
        a->stashed = NULL;
        apply_weights(a, w);
    }
    actor_send_stats(a);
}

/* The round just reached the horizon: ship or score its episodes and pick the next round. */
static void end_round(actor_t *a) {
    if (a->mode == MODE_TRAIN) {
        /* Evaluation rounds never get here: their episodes are scored, not sent to replay. */
        for (int i = 0; i < a->n; i++) enqueue_episode(a, i);
        a->c.episodes += (uint64_t)a->n;
        if (a->cfg.eval_every > 0 && (long long)a->c.episodes >= a->next_eval_at) {
            while (a->next_eval_at <= (long long)a->c.episodes)
                a->next_eval_at += a->cfg.eval_every;
            if (a->c.has_policy) {
                a->mode = MODE_EVAL;
                a->eval_done = 0;
                memset(a->eval_diag_sum, 0, sizeof a->eval_diag_sum);
                a->eval_version = a->c.policy_version;
            } else if (!a->eval_skip_logged) {
                log_info("evaluation skipped: no policy weights yet");
                a->eval_skip_logged = 1;
            }
        }
    } else {
        for (int i = 0; i < a->n && a->eval_done < a->cfg.eval_episodes; i++) {
            env_t *env = env_batch_get(a->envs, i);
            a->eval_distance[a->eval_done++] = env_distance(
                env, a->achieved_goal + (size_t)i * a->G, a->desired_goal + (size_t)i * a->G);
            for (int d = 0; d < a->spec.n_diag; d++) a->eval_diag_sum[d] += a->info[i].diag[d];
        }
        if (a->eval_done == a->cfg.eval_episodes) finish_eval(a);
    }
    begin_round(a);
}

/* Free episode slots over every shard's queue, after trying to send what they hold. */
static int free_slots(actor_t *a) {
    flush_shards(a);
    int room = 0;
    for (int s = 0; s < a->n_shards; s++) room += a->queue_cap - a->shard[s].count;
    return room;
}

/* At the start of a training round: 1 after one slice (<= 10 ms) of waiting for the shards to
 * take queued episodes, when the queues lack room for the round and the wait is not over; 0 to
 * go on stepping. */
static int wait_for_room(actor_t *a) {
    int limit_ms = a->cfg.backpressure_wait_ms;
    if (limit_ms == 0 || free_slots(a) >= a->n) {
        if (a->waiting) a->c.backpressure_wait_s += seconds_since(&a->wait_start);
        a->waiting = 0;
        return 0;
    }
    if (!a->waiting) {
        a->waiting = 1;
        a->c.backpressure_waits++;
        clock_gettime(CLOCK_MONOTONIC, &a->wait_start);
        uint64_t k = a->c.backpressure_waits;
        if (k <= 3 || k % 1000 == 0)
            log_info("no shard takes episodes: waiting before the next round (%llu waits so far)",
                     (unsigned long long)k);
    }
    double waited_ms = seconds_since(&a->wait_start) * 1000.0;
    if (limit_ms > 0 && waited_ms >= limit_ms) {
        a->c.backpressure_wait_s += waited_ms / 1000.0;
        a->waiting = 0;
        return 0; /* waited long enough: the round runs, its end drops the oldest */
    }
    int slice_ms = 10;
    if (limit_ms > 0 && limit_ms - waited_ms < slice_ms) slice_ms = (int)(limit_ms - waited_ms) + 1;
    /* Wake when a shard with queued episodes can take one, or weights arrive. */
    zmq_pollitem_t items[ACTOR_MAX_SHARDS + 1];
    int k = 0;
    for (int s = 0; s < a->n_shards; s++)
        if (a->shard[s].count > 0)
            items[k++] = (zmq_pollitem_t){a->shard[s].sock, 0, ZMQ_POLLOUT, 0};
    items[k++] = (zmq_pollitem_t){a->weights_sock, 0, ZMQ_POLLIN, 0};
    zmq_poll(items, k, slice_ms); /* EINTR (a signal) just ends the slice early */
    flush_shards(a);
    if (seconds_since(&a->last_stats) * 1000.0 >= a->cfg.stats_interval_ms) actor_send_stats(a);
    return 1;
}

int actor_step(actor_t *a, char *err, size_t errcap) {
    if (a->c.finished) return ACTOR_FINISHED;
    poll_weights(a);
    if (a->c.finished) {
        flush_shards(a);
        send_final_stats(a);
        return ACTOR_FINISHED;
    }

    if (a->mode == MODE_TRAIN && a->t == 0 && wait_for_room(a)) return ACTOR_RUNNING;

    int n = a->n, A = a->A;
    if (a->mode == MODE_EVAL) {
        policy_act(a->policy, a->obs, a->desired_goal, n, 1, NULL, a->actions);
    } else if (!a->c.has_policy || (long long)a->c.env_steps < a->random_steps) {
        float lo = a->spec.action_low, span = a->spec.action_high - a->spec.action_low;
        for (int k = 0; k < n * A; k++) a->actions[k] = lo + span * rng_uniform(&a->explore_rng);
    } else {
        policy_act(a->policy, a->obs, a->desired_goal, n, 0, &a->explore_rng, a->actions);
        explore(a);
    }
    if (env_batch_step(a->envs, a->actions, a->obs, a->achieved_goal, a->info, err, errcap) != 0)
        return -1;

    if (a->mode == MODE_TRAIN) {
        int t = a->t, H = a->H, O = a->O, G = a->G;
        for (int i = 0; i < n; i++) {
            memcpy(a->rec_actions + ((size_t)i * H + t) * A, a->actions + (size_t)i * A,
                   (size_t)A * sizeof(float));
            memcpy(a->rec_obs + ((size_t)i * (H + 1) + t + 1) * O, a->obs + (size_t)i * O,
                   (size_t)O * sizeof(float));
            memcpy(a->rec_achieved + ((size_t)i * (H + 1) + t + 1) * G,
                   a->achieved_goal + (size_t)i * G, (size_t)G * sizeof(float));
        }
        a->c.env_steps += (uint64_t)n;
    } else {
        a->c.eval_env_steps += (uint64_t)n;
    }
    a->t++;
    /* Every env of the batch reaches its time limit on the same step (no env ends early). */
    if (a->t >= a->H || a->info[0].horizon_reached) end_round(a);

    flush_shards(a);
    if (seconds_since(&a->last_stats) * 1000.0 >= a->cfg.stats_interval_ms) actor_send_stats(a);
    return ACTOR_RUNNING;
}

void actor_finish(actor_t *a) {
    flush_shards(a);
    send_final_stats(a);
}

void actor_get_counters(const actor_t *a, actor_counters_t *out) {
    *out = a->c;
}
void actor_get_last_eval(const actor_t *a, actor_eval_t *out) {
    *out = a->last_eval;
}
const actor_config_t *actor_config(const actor_t *a) {
    return &a->cfg;
}
const env_spec_t *actor_env_spec(const actor_t *a) {
    return &a->spec;
}
int actor_num_shards(const actor_t *a) {
    return a->n_shards;
}
