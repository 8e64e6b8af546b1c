/* learner_options: odac-learner's flags and how they become a learner_config_t (see
 * learner_options.h). */
#include "learner_options.h"
#include "wire.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int parse_hidden(const char *text, int *out, int *n, const char *what, char *err,
                        size_t errcap) {
    *n = 0;
    const char *p = text;
    while (*p) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || *p == '+' || *p == '-' || *p == ' ' || v < 1 || v > 4096 ||
            *n >= LEARNER_MAX_HIDDEN) {
            snprintf(err, errcap, "--%s '%s': expected 1..%d comma-separated sizes in [1, 4096]",
                     what, text, LEARNER_MAX_HIDDEN);
            return -1;
        }
        out[(*n)++] = (int)v;
        if (*end && *end != ',') {
            snprintf(err, errcap, "--%s '%s': unexpected '%c'", what, text, *end);
            return -1;
        }
        if (*end == ',' && !end[1]) {
            snprintf(err, errcap, "--%s '%s': trailing comma (expected sizes like 400,300)", what,
                     text);
            return -1;
        }
        p = *end == ',' ? end + 1 : end;
    }
    if (*n == 0) {
        snprintf(err, errcap, "--%s: empty", what);
        return -1;
    }
    return 0;
}

static void format_hidden(char *out, size_t cap, const int *h, int n) {
    size_t len = 0;
    out[0] = '\0';
    for (int i = 0; i < n; i++) len += snprintf(out + len, cap - len, "%s%d", i ? "," : "", h[i]);
}

/* The option table over o; the hyperparameter defaults are filled from the per-env config
 * before the second parse, so flags only override what the user set. */
static int build_table(learner_options_t *o, flag_t *t) {
    int n = 0;
#define F(name, type, dest, lo, hi, help) t[n++] = (flag_t){name, type, dest, lo, hi, help}
    F("env", FLAG_STRING, o->env, 0, -1, "environment (box2d, ant, sawyer-push, fetch-push, ...)");
    F("variant", FLAG_STRING, o->variant, 0, -1,
      "odac, fixed-model, fixed-discount, both-fixed, her-sparse, her-distance");
    F("config", FLAG_STRING, o->config, 0, -1, "JSON file whose keys are these option names");
    F("run-dir", FLAG_STRING, o->run_dir, 0, -1, "directory holding runs");
    F("run-id", FLAG_STRING, o->run_id, 0, -1, "run name (default <env>-<variant>-<seed>)");
    F("shards", FLAG_STRING, o->shards, 0, -1, "comma-separated sample endpoints of the shards");
    F("weights-bind", FLAG_STRING, o->weights_bind, 0, -1, "PUB endpoint for policy weights");
    F("stats-bind", FLAG_STRING, o->stats_bind, 0, -1, "PULL endpoint for actor stats");
    F("status-endpoint", FLAG_STRING, o->status_endpoint, 0, -1,
      "endpoint the learner binds for `odac status` queries (ROUTER; CURVE with --keys; empty: "
      "none)");
    F("resume", FLAG_BOOL, &o->resume, 0, -1, "continue the run from its checkpoint");
    F("check", FLAG_BOOL, &o->check, 0, -1,
      "validate the options, config and env, then exit (0: it would start; 2: why not)");
    F("seed", FLAG_INT, &o->seed, 0, 2147483647, "run seed");
    F("max-env-steps", FLAG_INT, &o->max_env_steps, 1, 1e13, "stop after this many env steps");
    F("max-updates", FLAG_INT, &o->max_updates, 0, 1e13,
      "stop after this many updates (0: no limit)");
    F("target-distance", FLAG_DOUBLE, &o->target_distance, 0, 1e9,
      "stop when the evaluation final distance mean is at most this (0: never)");
    F("batch-size", FLAG_INT, &o->batch_size, 1, WIRE_MAX_BATCH, "transitions per update");
    F("hidden", FLAG_STRING, o->hidden, 0, -1, "policy and critic hidden sizes, e.g. 400,300");
    F("model-hidden", FLAG_STRING, o->model_hidden, 0, -1, "outcome model hidden sizes");
    F("gamma", FLAG_DOUBLE, &o->gamma, 0.5, 0.99999, "prior probability of not terminating");
    F("tau", FLAG_DOUBLE, &o->tau, 1e-6, 1, "Polyak rate of the target critics");
    F("lr-policy", FLAG_DOUBLE, &o->lr_policy, 1e-7, 1, "policy learning rate");
    F("lr-critic", FLAG_DOUBLE, &o->lr_critic, 1e-7, 1, "critic learning rate");
    F("lr-alpha", FLAG_DOUBLE, &o->lr_alpha, 1e-7, 1, "temperature learning rate");
    F("lr-model", FLAG_DOUBLE, &o->lr_model, 1e-7, 1, "outcome model learning rate");
    F("reward-scale", FLAG_DOUBLE, &o->reward_scale, 1e-6, 1e6, "constant reward scale c");
    F("reward-scale-k", FLAG_DOUBLE, &o->reward_scale_k, 0, 1e6,
      "auto reward scale c = k / EMA(max|r|) (0: constant scale)");
    F("clamp-discount", FLAG_BOOL, &o->clamp_discount, 0, -1, "clamp gamma_q by the prior gamma");
    F("time-kl-sign", FLAG_INT, &o->time_kl_sign, -1, 1, "-1 derivation, +1 authors' code");
    F("fixed-alpha", FLAG_DOUBLE, &o->fixed_alpha, 0, 1e6, "fixed temperature (0: auto-tuned)");
    F("target-entropy", FLAG_DOUBLE, &o->target_entropy, -1e3, 1e3,
      "entropy the tuned temperature aims at (nats; default -action_dim, SAC's)");
    F("model-state-log-std", FLAG_BOOL, &o->model_state_log_std, 0, -1,
      "state-dependent outcome model log-std");
    F("her-eps", FLAG_DOUBLE, &o->her_eps, 0, 1e6, "success threshold of her-sparse");
    F("model-std-min", FLAG_DOUBLE, &o->model_std_min, 1e-6, 1e6,
      "smallest std of the outcome model (goal units; smooth bound)");
    F("model-std-max", FLAG_DOUBLE, &o->model_std_max, 1e-6, 1e6,
      "largest std of the outcome model (goal units; smooth bound)");
    F("model-family", FLAG_STRING, o->model_family, 0, -1,
      "outcome model: gaussian (the paper's) or laplace (log p falls linearly with each goal "
      "dim's error; its scale takes the std bounds)");
    F("clip-target", FLAG_BOOL, &o->clip_target, 0, -1,
      "clip critic targets to the range the rewards allow");
    F("normalize", FLAG_BOOL, &o->normalize, 0, -1,
      "standardise observations and goals by their running mean and std");
    F("norm-clip", FLAG_DOUBLE, &o->norm_clip, 1e-3, 1e6, "clip of standardised inputs");
    F("random-eps", FLAG_DOUBLE, &o->random_eps, 0, 1,
      "actors: probability of a uniformly random action per step");
    F("action-noise", FLAG_DOUBLE, &o->action_noise, 0, 10,
      "actors: std of Gaussian noise added to sampled actions");
    F("random-steps", FLAG_INT, &o->random_steps, 0, 1e12,
      "actors: uniformly random actions for each actor's first K env steps");
    F("updates-per-step", FLAG_DOUBLE, &o->updates_per_step, 0.01, 64,
      "updates per env step the replay shards hold the run to (shards without their own "
      "--samples-per-insert)");
    F("publish-every", FLAG_INT, &o->publish_every, 1, 1e9, "updates between weight broadcasts");
    F("checkpoint-every", FLAG_INT, &o->checkpoint_every, 1, 1e12, "updates between checkpoints");
    F("prefetch", FLAG_INT, &o->prefetch, 1, LEARNER_MAX_PREFETCH,
      "sample requests in flight per shard");
    F("request-timeout-s", FLAG_DOUBLE, &o->request_timeout_s, 0.05, 3600,
      "a shard answers a sample request within this (batch or error); no answer by 1.5x + 0.5 s "
      "and the request is sent again (a restarted shard lost it)");
    F("keys", FLAG_STRING, o->keys, 0, -1,
      "directory of CURVE keys (odac keygen): every socket authenticated and encrypted, only "
      "allowed_clients admitted (empty: none)");
    F("insecure", FLAG_BOOL, &o->insecure, 0, -1,
      "allow endpoints off loopback without --keys (anyone who reaches them is trusted)");
    F("run-token", FLAG_STRING, o->run_token, 0, -1,
      "the run's token (ODAC_RUN_TOKEN; the launcher sets it): actor stats without it are "
      "ignored, so only the run's own actors count and can end it (empty: any sender)");
    F("log-every-s", FLAG_DOUBLE, &o->log_every_s, 0.1, 3600, "seconds between progress rows");
    F("video-every", FLAG_INT, &o->video_every, 0, 1e9,
      "every N evaluations, film one deterministic episode of the current policy into "
      "runs/<run-id>/videos/update_U.mp4 (odac eval --video in a child process; 0: never)");
    F("tensorboard", FLAG_BOOL, &o->tensorboard, 0, -1,
      "also write every progress row to runs/<run-id>/events.out.tfevents.* (TensorBoard scalars "
      "at step = updates; a new file per start; --no-tensorboard: none)");
    F("threads", FLAG_INT, &o->threads, 1, 64,
      "threads of each update: the learner's own pool (OpenBLAS stays single-threaded); on "
      "CPUs without AVX-512 the products run on OpenBLAS with this many threads instead");
    F("pool-min-width", FLAG_INT, &o->pool_min_width, 0, 1e6,
      "use --threads only when the widest hidden layer has at least this many units, else one "
      "thread (per env: 0 on box2d and window; 256 elsewhere, where at 64,64 the actor needs the "
      "second core; 0: always)");
    F("lanes-below-width", FLAG_INT, &o->lanes_below_width, 0, 1e6,
      "below this widest hidden layer the threads run the update as two lanes (each network "
      "pass whole on one thread: small networks gain); at or above it each pass is cut between "
      "all threads (0: always cut)");
    F("heartbeat-file", FLAG_STRING, o->heartbeat_file, 0, -1,
      "file touched every few seconds from the main loop (health checks)");
#undef F
    return n;
}

static void options_from_config(learner_options_t *o, const learner_config_t *c) {
    format_hidden(o->hidden, sizeof o->hidden, c->policy_hidden, c->n_policy_hidden);
    format_hidden(o->model_hidden, sizeof o->model_hidden, c->model_hidden, c->n_model_hidden);
    o->batch_size = c->batch_size;
    o->gamma = c->gamma;
    o->tau = c->tau;
    o->lr_policy = c->lr_policy;
    o->lr_critic = c->lr_critic;
    o->lr_alpha = c->lr_alpha;
    o->lr_model = c->lr_model;
    o->reward_scale = c->reward_scale;
    o->reward_scale_k = c->reward_scale_auto ? c->reward_scale_k : 0;
    o->clamp_discount = c->clamp_discount;
    o->time_kl_sign = c->time_kl_sign;
    o->fixed_alpha = c->fixed_alpha ? c->alpha_init : 0;
    o->target_entropy = isnan(c->target_entropy) ? -(double)c->action_dim : c->target_entropy;
    o->model_state_log_std = c->model_state_log_std;
    o->her_eps = c->her_eps;
    o->model_std_min = exp(c->model_log_std_min);
    o->model_std_max = exp(c->model_log_std_max);
    snprintf(o->model_family, sizeof o->model_family, "%s",
             c->model_laplace ? "laplace" : "gaussian");
    o->clip_target = c->clip_target;
    o->normalize = c->normalize;
    o->norm_clip = c->norm_clip;
    o->random_eps = c->explore_random_eps;
    o->action_noise = c->explore_action_noise;
    o->random_steps = c->explore_random_steps;
    o->updates_per_step = c->updates_per_step;
    o->threads = c->threads;
    o->pool_min_width = c->pool_min_width;
    o->lanes_below_width = c->lanes_below_width;
}

static int config_from_options(learner_config_t *c, const learner_options_t *o, char *err,
                               size_t errcap) {
    if (learner_variant_parse(o->variant, &c->variant, err, errcap) != 0) return -1;
    if (parse_hidden(o->hidden, c->policy_hidden, &c->n_policy_hidden, "hidden", err, errcap) ||
        parse_hidden(o->model_hidden, c->model_hidden, &c->n_model_hidden, "model-hidden", err,
                     errcap))
        return -1;
    memcpy(c->critic_hidden, c->policy_hidden, sizeof c->critic_hidden);
    c->n_critic_hidden = c->n_policy_hidden;
    c->batch_size = (int)o->batch_size;
    c->gamma = (float)o->gamma;
    c->tau = (float)o->tau;
    c->lr_policy = (float)o->lr_policy;
    c->lr_critic = (float)o->lr_critic;
    c->lr_alpha = (float)o->lr_alpha;
    c->lr_model = (float)o->lr_model;
    c->reward_scale = (float)o->reward_scale;
    c->reward_scale_auto = o->reward_scale_k > 0;
    if (c->reward_scale_auto) c->reward_scale_k = (float)o->reward_scale_k;
    c->clamp_discount = o->clamp_discount;
    if (o->time_kl_sign == 0) {
        snprintf(err, errcap, "--time-kl-sign must be -1 or +1");
        return -1;
    }
    c->time_kl_sign = (int)o->time_kl_sign;
    c->fixed_alpha = o->fixed_alpha > 0;
    if (c->fixed_alpha) c->alpha_init = (float)o->fixed_alpha;
    c->target_entropy = (float)o->target_entropy;
    c->model_state_log_std = o->model_state_log_std;
    c->her_eps = (float)o->her_eps;
    if (!(o->model_std_max > o->model_std_min)) {
        snprintf(err, errcap, "--model-std-max %g must be above --model-std-min %g",
                 o->model_std_max, o->model_std_min);
        return -1;
    }
    c->model_log_std_min = (float)log(o->model_std_min);
    c->model_log_std_max = (float)log(o->model_std_max);
    if (strcmp(o->model_family, "gaussian") == 0) {
        c->model_laplace = 0;
    } else if (strcmp(o->model_family, "laplace") == 0) {
        c->model_laplace = 1;
    } else {
        snprintf(err, errcap, "--model-family '%.64s': expected gaussian or laplace",
                 o->model_family);
        return -1;
    }
    c->clip_target = o->clip_target;
    c->normalize = o->normalize;
    c->norm_clip = (float)o->norm_clip;
    c->explore_random_eps = (float)o->random_eps;
    c->explore_action_noise = (float)o->action_noise;
    c->explore_random_steps = o->random_steps;
    c->updates_per_step = (float)o->updates_per_step;
    c->threads = (int)o->threads;
    c->pool_min_width = (int)o->pool_min_width;
    c->lanes_below_width = (int)o->lanes_below_width;
    c->seed = (uint64_t)o->seed;
    return learner_config_validate(c, err, errcap);
}

/* A learner command line (flags, ODAC_* environment, --config file) over the table: the defaults,
 * the env's defaults, then what was set; fills the learner config and the env spec. 0; 1 for
 * --help (usage printed); -1 with a message. */
int learner_options_parse(learner_options_t *o, learner_config_t *cfg, env_spec_t *spec,
                          flag_t *table, int *n_table, int argc, char **argv, char *err,
                          size_t errcap) {
    int n = *n_table = build_table(o, table);
    const char *usage = "usage: odac-learner [options]\nThe ODAC learner of a run (see README).";
    /* Defaults that do not depend on the env. */
    snprintf(o->env, sizeof o->env, "box2d");
    snprintf(o->variant, sizeof o->variant, "odac");
    snprintf(o->run_dir, sizeof o->run_dir, "runs");
    snprintf(o->weights_bind, sizeof o->weights_bind, "tcp://127.0.0.1:5555");
    snprintf(o->stats_bind, sizeof o->stats_bind, "tcp://127.0.0.1:5556");
    snprintf(o->status_endpoint, sizeof o->status_endpoint, "tcp://127.0.0.1:5557");
    snprintf(o->shards, sizeof o->shards, "tcp://127.0.0.1:5561");
    o->max_env_steps = 1000000;
    o->publish_every = 100;
    o->checkpoint_every = 20000;
    o->prefetch = 4;
    o->request_timeout_s = 2;
    o->log_every_s = 5;
    o->tensorboard = 1;
    learner_config_default(cfg);
    options_from_config(o, cfg);
    /* First pass: which env; then its defaults; second pass: what the user set wins. */
    int rc = flags_parse(table, n, argc, argv, usage, NULL, NULL, err, errcap);
    if (rc != 0) return rc;
    if (env_spec_lookup(o->env, spec, err, errcap) != 0) return -1;
    if (learner_config_for_env(cfg, spec, err, errcap) != 0) return -1;
    options_from_config(o, cfg);
    if (flags_parse(table, n, argc, argv, usage, NULL, NULL, err, errcap) != 0) return -1;
    if (config_from_options(cfg, o, err, errcap) != 0) return -1;
    return 0;
}

int learner_server_parse_config(int argc, char **argv, learner_config_t *cfg, env_spec_t *spec,
                                char *err, size_t errcap) {
    learner_options_t *o = calloc(1, sizeof *o);
    flag_t table[LEARNER_MAX_FLAGS];
    int n;
    if (!o) {
        snprintf(err, errcap, "out of memory");
        return -1;
    }
    int rc = learner_options_parse(o, cfg, spec, table, &n, argc, argv, err, errcap);
    free(o);
    if (rc == 1) {
        snprintf(err, errcap, "--help is not a configuration");
        return -1;
    }
    return rc;
}
