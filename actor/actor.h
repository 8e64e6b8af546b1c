/* actor: one odac actor. It steps a batch of envs of one kind in lockstep with one batched
 * policy forward per step, explores with the stochastic policy (uniform random actions before
 * the first weights and for the first random_steps env steps), streams whole finished episodes
 * round-robin to the replay shards without ever blocking on a socket (a round waits, in bounded
 * slices, while no shard can take its episodes), applies the newest policy weights as
 * they arrive, evaluates the deterministic policy every eval_every episodes and reports
 * counters and evaluations to the learner. The caller drives it one env step at a time
 * (actor_step), so tests run it deterministically in one thread; actor_run loops until the run
 * finishes or a signal stops it (actor_loop.c, on libuv). Everything is allocated by actor_new; a
 * step allocates nothing of its own (ZeroMQ copies what it sends). */
#ifndef ODAC_ACTOR_H
#define ODAC_ACTOR_H
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include "env.h"
#include "wire.h"

#define ACTOR_ENDPOINT_MAX 512
#define ACTOR_MAX_SHARDS 64

/* What an actor is told (flags of odac-actor). Strings are copied by actor_new. */
typedef struct {
    char env_name[ENV_NAME_MAX];
    uint32_t actor_id;
    int num_envs;                     /* envs stepped together, >= 1 */
    char shards[ACTOR_ENDPOINT_MAX];  /* comma-separated replay insert endpoints (PUSH each) */
    char weights[ACTOR_ENDPOINT_MAX]; /* learner weights endpoint (SUB, conflated) */
    char stats[ACTOR_ENDPOINT_MAX];   /* learner stats endpoint (PUSH) */
    long long random_steps;           /* uniformly random actions for the first K env steps; -1: the
                                       * learner's word (weights messages), random until weights arrive */
    long long eval_every;             /* training episodes between evaluations; 0: never */
    int eval_episodes;                /* deterministic episodes per evaluation */
    uint64_t seed;                    /* env seeds and exploration noise derive from seed+id */
    env_goal_mode_t goal_mode;
    int send_queue;        /* finished episodes kept per shard while it blocks (raised to a
                              round's share, ceil(num_envs / shards), when smaller) */
    int stats_interval_ms; /* ActorStats period (also sent after each evaluation) */
    /* Before a training round starts while the shard queues lack room for its episodes (every
     * shard holding back: rate limiter or gone): -1 waits until there is room, N > 0 waits up to
     * N ms, 0 never waits. After the wait the round runs and, if room is still lacking at its
     * end, the oldest queued episodes are dropped. Waiting keeps polling weights and sending
     * stats, one bounded slice per actor_step call, so signals and run_finished stay prompt;
     * it is what makes an actor run at the pace the replay rate limiter allows instead of
     * counting env steps whose episodes nobody stores. */
    int backpressure_wait_ms;
    char heartbeat_file[ACTOR_ENDPOINT_MAX]; /* touched from actor_run's loop; empty: none */
    /* Exploration on top of the stochastic policy: probability of a uniformly random action per
     * env step, and std of Gaussian noise added to the sampled action (clipped to the bounds).
     * -1: what the learner's weights messages say (the run's per-env defaults). */
    float random_eps, action_noise;
    /* std of the env's own action noise (env_set_action_noise: the authors' noisy-action wrapper,
     * in training and evaluation episodes alike); 0: none. */
    float env_action_noise;
    /* The run's token, sent in every ActorStats (ODAC_RUN_TOKEN; the learner ignores stats
     * without it when it has one); empty: none. */
    char run_token[ACTOR_ENDPOINT_MAX];
} actor_config_t;

/* Defaults: actor 0, 1 env, 1000 random steps, eval every 10 episodes x 10, seed 0, fixed goal,
 * 4 queued episodes per shard, stats every 1000 ms, backpressure wait -1 (as long as it takes);
 * env name and endpoints empty. */
void actor_config_default(actor_config_t *cfg);
/* 0, or -1 with a message naming the bad field (unknown env, num_envs < 1, empty endpoint...). */
int actor_config_validate(const actor_config_t *cfg, char *err, size_t errcap);

/* Counters, for stats lines and tests. */
typedef struct {
    uint64_t env_steps;        /* training env steps (every env counts; evaluation excluded) */
    uint64_t episodes;         /* training episodes finished */
    uint64_t eval_env_steps;   /* env steps spent on evaluation */
    uint64_t episodes_sent;    /* episodes handed to a shard socket */
    uint64_t episodes_dropped; /* episodes discarded because every shard's queue was full */
    uint64_t sent_per_shard[ACTOR_MAX_SHARDS];
    uint64_t policy_version;   /* version of the weights in use; 0 before any arrived */
    uint64_t weights_applied;  /* weights messages loaded into the policy */
    uint64_t weights_rejected; /* weights messages refused (sum of the array below) */
    uint64_t weights_rejected_by_reason[WIRE_REJECT_COUNT_];
    uint64_t evals;              /* evaluations finished */
    uint64_t stats_sent;         /* ActorStats messages handed to the stats socket */
    uint64_t backpressure_waits; /* training rounds that waited for room in the shard queues */
    double backpressure_wait_s;  /* total time spent waiting so */
    int has_policy;              /* 1 once weights were applied */
    int finished;                /* 1 once weights with run_finished arrived */
} actor_counters_t;

/* The last finished evaluation (valid when counters.evals > 0). */
typedef struct {
    uint32_t episodes;
    float final_distance_mean, final_distance_std, success_rate;
    uint64_t policy_version;
    int n_diag;                    /* the env's diagnostics, as env_spec_t names them */
    float diag_mean[ENV_DIAG_MAX]; /* their means at the episodes' ends */
} actor_eval_t;

typedef struct actor actor_t;

/* Validates cfg, creates the envs, policy buffers and sockets (connected, never bound). zmq_ctx
 * is borrowed when non-NULL (tests share one with inproc endpoints), else the actor makes and
 * owns one. NULL with a message on failure. */
actor_t *actor_new(const actor_config_t *cfg, void *zmq_ctx, char *err, size_t errcap);
void actor_free(actor_t *a); /* accepts NULL; sends nothing */

enum { ACTOR_RUNNING = 0, ACTOR_FINISHED = 1 };
/* One env step of every env (training or evaluation), or one slice (<= 10 ms) of a wait for
 * room in the shard queues (backpressure_wait_ms), plus the non-blocking socket work around it:
 * apply newly arrived weights, send queued episodes, send stats when due. ACTOR_RUNNING,
 * ACTOR_FINISHED once weights with run_finished arrived (final stats already sent; further
 * calls do nothing), or -1 with a message on an internal error. */
int actor_step(actor_t *a, char *err, size_t errcap);
/* Stopping without run_finished: sends what the shard queues hold and the last stats (waiting
 * up to 500 ms for a learner connection still being set up). */
void actor_finish(actor_t *a);
/* The process's loop (actor_loop.c): steps on a libuv loop until ACTOR_FINISHED, an error, or
 * SIGTERM/SIGINT when handle_signals (then actor_finish and 0). 0 or -1 with a
 * message. */
int actor_run(actor_t *a, int handle_signals, char *err, size_t errcap);
/* Sends an ActorStats message now (non-blocking; a full socket drops it). */
void actor_send_stats(actor_t *a);

void actor_get_counters(const actor_t *a, actor_counters_t *out);
void actor_get_last_eval(const actor_t *a, actor_eval_t *out);
const actor_config_t *actor_config(const actor_t *a);
const env_spec_t *actor_env_spec(const actor_t *a);
int actor_num_shards(const actor_t *a);

#endif
