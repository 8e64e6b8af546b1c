/* learner_options: odac-learner's command line. One table of flags (flags.h) over
 * learner_options_t; the defaults come from learner_config_for_env for the chosen env, then
 * flags, ODAC_* environment variables and a --config JSON file override them, and the result is
 * validated into a learner_config_t. */
#ifndef ODAC_LEARNER_OPTIONS_H
#define ODAC_LEARNER_OPTIONS_H
#include "env.h"
#include "flags.h"
#include "learner_core.h"
#include <stddef.h>

#define LEARNER_MAX_PREFETCH 16 /* sample requests in flight per shard, at most */
#define LEARNER_MAX_FLAGS 64

typedef struct {
    char env[FLAGS_STR_MAX], variant[FLAGS_STR_MAX], config[FLAGS_STR_MAX];
    char run_dir[FLAGS_STR_MAX], run_id[FLAGS_STR_MAX], shards[FLAGS_STR_MAX];
    char weights_bind[FLAGS_STR_MAX], stats_bind[FLAGS_STR_MAX], status_endpoint[FLAGS_STR_MAX];
    char hidden[FLAGS_STR_MAX], model_hidden[FLAGS_STR_MAX], heartbeat_file[FLAGS_STR_MAX];
    char run_token[FLAGS_STR_MAX], keys[FLAGS_STR_MAX], model_family[FLAGS_STR_MAX];
    int insecure;
    double request_timeout_s;
    long long seed, max_env_steps, batch_size, publish_every, checkpoint_every, prefetch, threads,
        pool_min_width, lanes_below_width;
    long long time_kl_sign, max_updates, video_every;
    int resume, check, clamp_discount, model_state_log_std, normalize, clip_target;
    int tensorboard;
    double target_distance, log_every_s, gamma, tau, lr_policy, lr_critic, lr_alpha, lr_model;
    double reward_scale, reward_scale_k, fixed_alpha, target_entropy, her_eps, model_std_min;
    double model_std_max;
    double norm_clip, random_eps, action_noise;
    long long random_steps;
    double updates_per_step;
} learner_options_t;

/* Parses a learner command line (argv[0] skipped) into o, cfg and spec; table (room for
 * LEARNER_MAX_FLAGS) gets the flags and *n_table their count (for variant.json and
 * flags_was_set). 0; 1 for --help (usage printed); -1 with a message. */
int learner_options_parse(learner_options_t *o, learner_config_t *cfg, env_spec_t *spec,
                          flag_t *table, int *n_table, int argc, char **argv, char *err,
                          size_t errcap);

/* What odac-learner would train with for this command line (argv[0] skipped; flags, ODAC_*
 * environment, --config file, e.g. {"odac-learner", "--config=RUN/variant.json"}): the learner
 * config and the env's spec, parsed and validated as the process does. 0, or -1 with a message. */
int learner_server_parse_config(int argc, char **argv, learner_config_t *cfg, env_spec_t *spec,
                                char *err, size_t errcap);

#endif
