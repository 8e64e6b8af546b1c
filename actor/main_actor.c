/* odac-actor: parses flags (and ODAC_* env vars) into an actor_config_t, runs the actor loop
 * until the learner finishes the run or SIGTERM/SIGINT arrives, and exits 0 then (1 on bad
 * flags or an internal error). */
#include "parent_watch.h"
#include "actor.h"
#include "curve.h"
#include "env.h"
#include "flags.h"
#include "log.h"
#include <signal.h>
#include <stdio.h>
#include <string.h>

/* Signals before the loop starts (actor_run then handles them on its libuv loop). */
static volatile sig_atomic_t g_stop = 0;

static void on_signal(int sig) {
    (void)sig;
    g_stop = 1;
}

int main(int argc, char **argv) {
    parent_watch_from_env();
    static char env_name[FLAGS_STR_MAX] = "", shards[FLAGS_STR_MAX] = "",
                weights[FLAGS_STR_MAX] = "", stats[FLAGS_STR_MAX] = "",
                goal_mode[FLAGS_STR_MAX] = "fixed", models_dir[FLAGS_STR_MAX] = "",
                heartbeat_file[FLAGS_STR_MAX] = "", run_token[FLAGS_STR_MAX] = "",
                keys[FLAGS_STR_MAX] = "", key_name[FLAGS_STR_MAX] = "actor";
    int insecure = 0;
    long long actor_id = 0, num_envs = 1, random_steps = -1, eval_every = 50, eval_episodes = 5,
              seed = 0, send_queue = 4, stats_interval_ms = 1000, backpressure_wait_ms = 30000;
    double random_eps = -1, action_noise = -1, env_action_noise = 0;
    const flag_t table[] = {
        {"env", FLAG_STRING, env_name, 0, 0, "env kind (box2d, ant, sawyer-push, ...)"},
        {"keys", FLAG_STRING, keys, 0, 0,
         "directory holding server.pub and this actor's <key-name>.key (odac keygen): CURVE on "
         "every connection (empty: none)"},
        {"key-name", FLAG_STRING, key_name, 0, 0, "which client key of --keys this actor presents"},
        {"insecure", FLAG_BOOL, &insecure, 0, 0,
         "allow endpoints off loopback without --keys (no authentication)"},
        {"run-token", FLAG_STRING, run_token, 0, 0,
         "the run's token, sent with every stats message (ODAC_RUN_TOKEN; the launcher sets it)"},
        {"actor-id", FLAG_INT, &actor_id, 0, 4294967295.0, "this actor's id (seeds, stats)"},
        {"num-envs", FLAG_INT, &num_envs, 1, 65536, "envs stepped together, one policy batch"},
        {"shards", FLAG_STRING, shards, 0, 0,
         "replay insert endpoints, comma-separated (tcp://host:5560,...)"},
        {"weights", FLAG_STRING, weights, 0, 0, "learner weights endpoint (tcp://host:5555)"},
        {"stats", FLAG_STRING, stats, 0, 0, "learner stats endpoint (tcp://host:5556)"},
        {"random-steps", FLAG_INT, &random_steps, -1, 9e18,
         "uniformly random actions for the first K env steps (-1: the run's, from the learner)"},
        {"eval-every", FLAG_INT, &eval_every, 0, 9e18,
         "training episodes between deterministic evaluations (0: never)"},
        {"eval-episodes", FLAG_INT, &eval_episodes, 1, 1000000, "episodes per evaluation"},
        {"seed", FLAG_INT, &seed, 0, 9e18, "run seed (env and exploration streams use it + id)"},
        {"goal-mode", FLAG_STRING, goal_mode, 0, 0, "fixed (the paper's goals) or random"},
        {"heartbeat-file", FLAG_STRING, heartbeat_file, 0, 0,
         "file touched every few seconds from the main loop (health checks)"},
        {"models-dir", FLAG_STRING, models_dir, 0, 0,
         "directory of the MJCF models (default: <bindir>/../share/odac/models)"},
        {"send-queue", FLAG_INT, &send_queue, 1, 4096,
         "finished episodes kept per shard while it cannot take them"},
        {"backpressure-wait-ms", FLAG_INT, &backpressure_wait_ms, -1, 86400000,
         "when no shard takes episodes, wait up to this long before a round (-1: until one "
         "does, 0: never wait, drop the oldest queued episodes)"},
        {"stats-interval-ms", FLAG_INT, &stats_interval_ms, 0, 3600000,
         "period of the stats sent to the learner"},
        {"random-eps", FLAG_DOUBLE, &random_eps, -1, 1,
         "probability of a uniformly random action per step (-1: the run's, from the learner)"},
        {"action-noise", FLAG_DOUBLE, &action_noise, -1, 10,
         "std of Gaussian noise added to sampled actions (-1: the run's, from the learner)"},
        {"env-action-noise", FLAG_DOUBLE, &env_action_noise, 0, 10,
         "std of the env's own action noise, in evaluation too (the authors' box2d wrapper)"},
    };
    const int n_flags = (int)(sizeof table / sizeof table[0]);
    char err[1024];
    int rc = flags_parse(table, n_flags, argc, argv,
                         "odac-actor --env NAME --shards EP[,EP...] "
                         "--weights EP --stats EP [options]",
                         NULL, NULL, err, sizeof err);
    if (rc == 1) return 0;
    if (rc != 0) {
        fprintf(stderr, "odac-actor: %s\n", err);
        return 2;
    }

    if (models_dir[0]) env_set_models_dir(models_dir);
    actor_config_t cfg;
    actor_config_default(&cfg);
    if (strlen(env_name) >= sizeof cfg.env_name) {
        fprintf(stderr, "odac-actor: --env: name too long\n");
        return 2;
    }
    snprintf(cfg.env_name, sizeof cfg.env_name, "%s", env_name);
    cfg.actor_id = (uint32_t)actor_id;
    cfg.num_envs = (int)num_envs;
    snprintf(cfg.shards, sizeof cfg.shards, "%s", shards);
    snprintf(cfg.weights, sizeof cfg.weights, "%s", weights);
    snprintf(cfg.stats, sizeof cfg.stats, "%s", stats);
    snprintf(cfg.heartbeat_file, sizeof cfg.heartbeat_file, "%s", heartbeat_file);
    snprintf(cfg.run_token, sizeof cfg.run_token, "%s", run_token);
    cfg.random_steps = random_steps;
    cfg.eval_every = eval_every;
    cfg.eval_episodes = (int)eval_episodes;
    cfg.seed = (uint64_t)seed;
    cfg.send_queue = (int)send_queue;
    cfg.stats_interval_ms = (int)stats_interval_ms;
    cfg.backpressure_wait_ms = (int)backpressure_wait_ms;
    cfg.random_eps = (float)random_eps;
    cfg.action_noise = (float)action_noise;
    cfg.env_action_noise = (float)env_action_noise;
    if (strcmp(goal_mode, "fixed") == 0) {
        cfg.goal_mode = ENV_GOAL_FIXED;
    } else if (strcmp(goal_mode, "random") == 0) {
        cfg.goal_mode = ENV_GOAL_RANDOM;
    } else {
        fprintf(stderr, "odac-actor: --goal-mode must be fixed or random (got '%s')\n", goal_mode);
        return 2;
    }

    char component[32];
    snprintf(component, sizeof component, "actor-%u", cfg.actor_id);
    log_set_component(component);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    const char *eps[] = {shards, weights, stats};
    if (curve_check_exposure(eps, 3, keys[0] != 0, insecure, err, sizeof err) != 0 ||
        (keys[0] && curve_enable(NULL, keys, key_name, err, sizeof err) != 0)) {
        fprintf(stderr, "odac-actor: %s\n", err);
        return 2;
    }
    actor_t *a = actor_new(&cfg, NULL, err, sizeof err);
    if (!a) {
        fprintf(stderr, "odac-actor: %s\n", err);
        return 2;
    }
    log_info("%s x%d, %d shard(s), weights %s, stats %s, seed %llu", cfg.env_name, cfg.num_envs,
             actor_num_shards(a), cfg.weights, cfg.stats, (unsigned long long)cfg.seed);
    /* A signal during setup: nothing was stepped, so there is nothing to report. */
    rc = g_stop ? 0 : actor_run(a, 1, err, sizeof err);
    actor_counters_t c;
    actor_get_counters(a, &c);
    if (rc != 0)
        log_error("%s", err);
    else
        log_info("stopping%s: env steps %llu, episodes %llu, sent %llu, dropped %llu, policy %llu",
                 c.finished ? " (run finished)" : "", (unsigned long long)c.env_steps,
                 (unsigned long long)c.episodes, (unsigned long long)c.episodes_sent,
                 (unsigned long long)c.episodes_dropped, (unsigned long long)c.policy_version);
    actor_free(a);
    return rc == 0 ? 0 : 1;
}
