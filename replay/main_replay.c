/* odac-replay: one replay shard process. Parses flags (each also settable as ODAC_<NAME> in the
 * environment), looks up the env's dims, restores the shard's checkpoint and serves until
 * SIGTERM/SIGINT, when it writes a final checkpoint and exits 0. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "curve.h"
#include "parent_watch.h"
#include "env.h"
#include "flags.h"
#include "log.h"
#include "replay_envgoal.h"
#include "replay_server.h"

int main(int argc, char **argv) {
    parent_watch_from_env();
    char insert_bind[FLAGS_STR_MAX] = "tcp://127.0.0.1:5601";
    char sample_bind[FLAGS_STR_MAX] = "tcp://127.0.0.1:5602";
    char keys[FLAGS_STR_MAX] = "";
    int insecure = 0;
    char env_name[FLAGS_STR_MAX] = "";
    char checkpoint_dir[FLAGS_STR_MAX] = "", heartbeat_file[FLAGS_STR_MAX] = "";
    long long shard_id = 0, capacity = 1000000, min_size = 1000, seed = 0, max_batch = 4096;
    long long obs_dim = 0, goal_dim = 0, action_dim = 0, horizon = 0;
    long long max_pending = 256, insert_hwm = 4;
    double samples_per_insert = 256, tolerance = 0, future_p = 0.8, env_goal_p = 0;
    double own_goal_p = -1, checkpoint_every_s = 300, stats_every_s = 10;
    int fresh = 0;
    const flag_t flags[] = {
        {"insert-bind", FLAG_STRING, insert_bind, 0, -1,
         "ZeroMQ endpoint of the PULL socket actors push episodes to"},
        {"sample-bind", FLAG_STRING, sample_bind, 0, -1,
         "ZeroMQ endpoint of the ROUTER socket learners request batches and stats from"},
        {"env", FLAG_STRING, env_name, 0, -1, "env name; incoming data must match its dims"},
        {"shard-id", FLAG_INT, &shard_id, 0, 65535, "this shard's id (stats, seed stream, file)"},
        {"capacity", FLAG_INT, &capacity, 1, 1e10, "most transitions stored"},
        {"min-size", FLAG_INT, &min_size, 0, 1e10, "inserted transitions before sampling"},
        {"samples-per-insert", FLAG_DOUBLE, &samples_per_insert, -1, 1e9,
         "target sampled transitions per inserted transition (256 = one batch-256 update per "
         "env step); <= 0 turns the ratio limit off. Unset: 256 until the first sample request, "
         "then the ratio the learner's requests carry (its --updates-per-step x batch size)"},
        {"tolerance", FLAG_DOUBLE, &tolerance, 0, 1e15,
         "rate-limiter band half-width in sampled transitions; 0: "
         "max(4 * samples-per-insert * horizon, max-batch)"},
        {"future-p", FLAG_DOUBLE, &future_p, 0, 1,
         "fraction of goals relabeled to phi(s_k), k > t"},
        {"env-goal-p", FLAG_DOUBLE, &env_goal_p, 0, 1,
         "fraction of goals drawn from the env's goal distribution (one env reset each; the "
         "paper uses none)"},
        {"own-goal-p", FLAG_DOUBLE, &own_goal_p, -1, 1,
         "fraction of goals kept as the episode's goal; must equal 1 - future-p - env-goal-p "
         "when given"},
        {"checkpoint-dir", FLAG_STRING, checkpoint_dir, 0, -1,
         "directory of this shard's checkpoint; empty: no checkpoints"},
        {"checkpoint-every-s", FLAG_DOUBLE, &checkpoint_every_s, 0, 1e9,
         "seconds between checkpoints (0: only at shutdown)"},
        {"fresh", FLAG_BOOL, &fresh, 0, -1,
         "start empty when the checkpoint is unreadable (without it that is a fatal error)"},
        {"seed", FLAG_INT, &seed, 0, 9.2e18, "run seed; the shard's stream also uses shard-id"},
        {"heartbeat-file", FLAG_STRING, heartbeat_file, 0, -1,
         "file touched every few seconds from the event loop (health checks)"},
        {"stats-every-s", FLAG_DOUBLE, &stats_every_s, 0, 1e9,
         "seconds between stats log lines (0: none)"},
        {"max-batch", FLAG_INT, &max_batch, 1, 65536, "largest batch a request may ask for"},
        {"max-pending", FLAG_INT, &max_pending, 1, 1 << 20,
         "queued requests before the sample socket is no longer read"},
        {"insert-hwm", FLAG_INT, &insert_hwm, 1, 1 << 20,
         "episodes ZeroMQ buffers on the insert socket while inserts are held back"},
        {"obs-dim", FLAG_INT, &obs_dim, 0, 4096, "override the env's observation size (0: env's)"},
        {"goal-dim", FLAG_INT, &goal_dim, 0, 4096, "override the env's goal size (0: env's)"},
        {"action-dim", FLAG_INT, &action_dim, 0, 4096, "override the env's action size (0: env's)"},
        {"horizon", FLAG_INT, &horizon, 0, 100000, "override the env's horizon (0: env's)"},
        {"keys", FLAG_STRING, keys, 0, -1,
         "directory of CURVE keys (odac keygen): sockets authenticated and encrypted, only "
         "allowed_clients admitted (empty: none)"},
        {"insecure", FLAG_BOOL, &insecure, 0, -1,
         "allow binds off loopback without --keys (anyone who reaches them is trusted)"},
    };
    const int n_flags = (int)(sizeof flags / sizeof flags[0]);
    char err[1024];
    int rc = flags_parse(flags, n_flags, argc, argv, "usage: odac-replay --env NAME [options]",
                         NULL, NULL, err, sizeof err);
    if (rc == 1) return 0;
    char component[32];
    snprintf(component, sizeof component, "replay-%lld", shard_id);
    log_set_component(component);
    if (rc != 0) {
        log_error("%s", err);
        return 2;
    }
    if (!env_name[0]) {
        log_error("--env is required (or ODAC_ENV)");
        return 2;
    }
    const char *eps[] = {insert_bind, sample_bind};
    if (curve_check_exposure(eps, 2, keys[0] != 0, insecure, err, sizeof err) != 0) {
        log_error("%s", err);
        return 2;
    }
    if (strlen(env_name) >= sizeof(((wire_dims_t *)0)->env_name)) {
        log_error("--env '%s' is too long", env_name);
        return 2;
    }
    if (future_p + env_goal_p > 1 + 1e-9) {
        log_error("--future-p %g plus --env-goal-p %g exceed 1", future_p, env_goal_p);
        return 2;
    }
    if (own_goal_p >= 0 && fabs(own_goal_p - (1 - future_p - env_goal_p)) > 1e-6) {
        log_error("--own-goal-p %g must equal 1 - future-p - env-goal-p = %g", own_goal_p,
                  1 - future_p - env_goal_p);
        return 2;
    }

    replay_server_config_t cfg;
    replay_server_config_defaults(&cfg);
    replay_shard_config_t *sc = &cfg.shard;
    snprintf(sc->dims.env_name, sizeof sc->dims.env_name, "%s", env_name);
    if (!obs_dim || !goal_dim || !action_dim || !horizon) {
        env_spec_t spec;
        if (env_spec_lookup(env_name, &spec, err, sizeof err) != 0) {
            log_error("%s", err);
            return 2;
        }
        if (!obs_dim) obs_dim = spec.obs_dim;
        if (!goal_dim) goal_dim = spec.goal_dim;
        if (!action_dim) action_dim = spec.action_dim;
        if (!horizon) horizon = spec.horizon;
    }
    sc->dims.obs_dim = (uint32_t)obs_dim;
    sc->dims.goal_dim = (uint32_t)goal_dim;
    sc->dims.action_dim = (uint32_t)action_dim;
    sc->dims.horizon = (uint32_t)horizon;
    sc->shard_id = (uint32_t)shard_id;
    snprintf(cfg.keys_dir, sizeof cfg.keys_dir, "%s", keys);
    sc->capacity = capacity;
    sc->min_size = min_size;
    sc->samples_per_insert = samples_per_insert;
    cfg.follow_learner_ratio = !flags_was_set(flags, n_flags, "samples-per-insert");
    sc->max_batch = (int)max_batch;
    sc->tolerance = tolerance;
    sc->future_p = (float)future_p;
    sc->env_goal_p = (float)env_goal_p;
    sc->seed = (uint64_t)seed;
    snprintf(cfg.insert_bind, sizeof cfg.insert_bind, "%s", insert_bind);
    snprintf(cfg.sample_bind, sizeof cfg.sample_bind, "%s", sample_bind);
    snprintf(cfg.checkpoint_dir, sizeof cfg.checkpoint_dir, "%s", checkpoint_dir);
    snprintf(cfg.heartbeat_file, sizeof cfg.heartbeat_file, "%s", heartbeat_file);
    cfg.checkpoint_every_s = checkpoint_every_s;
    cfg.stats_every_s = stats_every_s;
    cfg.fresh = fresh;
    cfg.handle_signals = 1;
    cfg.max_pending = (int)max_pending;
    cfg.insert_hwm = (int)insert_hwm;

    replay_env_goals_t *env_goals = NULL;
    if (env_goal_p > 0) {
        env_goals = replay_env_goals_new(env_name, (uint64_t)seed, (uint32_t)shard_id,
                                         (int)goal_dim, err, sizeof err);
        if (!env_goals) {
            log_error("--env-goal-p %g needs the env's goal sampler: %s", env_goal_p, err);
            return 2;
        }
        sc->goal_sampler = replay_env_goals_sample;
        sc->goal_sampler_ctx = env_goals;
    }
    replay_server_t *server = replay_server_new(&cfg, err, sizeof err);
    if (!server) {
        log_error("%s", err);
        replay_env_goals_free(env_goals);
        return 1;
    }
    rc = replay_server_run(server);
    replay_server_free(server);
    replay_env_goals_free(env_goals);
    if (rc != 0) {
        log_error("final checkpoint failed");
        return 1;
    }
    log_info("stopped cleanly");
    return 0;
}
