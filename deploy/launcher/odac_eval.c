/* odac_eval: `odac eval RUN_DIR|CHECKPOINT` loads the policy of a learner checkpoint and runs
 * deterministic episodes on the run's env in this process (no learner, shard or network), then
 * prints each episode's final distance, success and the env's diagnostics, and a summary (--json:
 * one JSON object).
 *
 * The one idea: nothing is parsed twice. The run's configuration comes from its variant.json
 * through the learner's own option parser (learner_server_parse_config), the checkpoint through
 * the learner's verified reader (learner_load_with: checksum, shape, record length), and the
 * episodes run the way an actor's evaluation round does: num_envs envs in lockstep with the
 * actors' policy (common/policy.h) loaded from the learner's parameter block and normaliser, the
 * deterministic action tanh(mean), each round scored on its first envs, the mean and std
 * computed as the actor computes them. */
#include "odac_eval.h"
#include "env.h"
#include "flags.h"
#include "learner_core.h"
#include "learner_server.h"
#include "nn.h"
#include "policy.h"
#include "render.h"
#include <cjson/cJSON.h>
#include <errno.h>
#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define EVAL_MAX_EPISODES 100000

typedef struct {
    long long episodes, seed, num_envs;
    char goal_mode[FLAGS_STR_MAX], env[FLAGS_STR_MAX], models_dir[FLAGS_STR_MAX];
    int json;
    char video[FLAGS_STR_MAX], frames[FLAGS_STR_MAX]; /* empty: no pictures */
    long long width, height, fps;
    char trace[FLAGS_STR_MAX]; /* empty: no per-step CSV */
} eval_options_t;

/* --trace: one CSV row per step of every scored episode (the action taken and the achieved goal
 * after it), so where a policy stops short can be read off its path. */
static void trace_header(FILE *f, const env_spec_t *spec) {
    fprintf(f, "episode,step");
    for (int k = 0; k < spec->action_dim; k++) fprintf(f, ",action_%d", k);
    for (int k = 0; k < spec->goal_dim; k++) fprintf(f, ",achieved_%d", k);
    fprintf(f, ",distance\n");
}

static void trace_rows(FILE *f, const env_spec_t *spec, int first_episode, int scored, int step,
                       const float *actions, const float *achieved, const env_step_info_t *info) {
    for (int i = 0; i < scored; i++) {
        fprintf(f, "%d,%d", first_episode + i, step);
        for (int k = 0; k < spec->action_dim; k++)
            fprintf(f, ",%.4f", (double)actions[(size_t)i * spec->action_dim + k]);
        for (int k = 0; k < spec->goal_dim; k++)
            fprintf(f, ",%.5f", (double)achieved[(size_t)i * spec->goal_dim + k]);
        fprintf(f, ",%.5f\n", (double)info[i].distance);
    }
}

/* Pictures of the episodes: every scored episode of a round is a tile of each frame (a grid of
 * up to 4 columns), one frame after the reset and one after every step; rounds follow each
 * other. */
typedef struct {
    render_t *r;
    render_video_t *video;
    int tiles, cols, rows, w, h; /* tile size w x h; frame (cols w) x (rows h) */
    uint8_t *tile, *frame;
    float *path; /* (n, horizon + 1, goal_dim) achieved goals of the round so far */
    long long frames_written;
} pictures_t;

/* Per-episode results (episodes of them) and their summary. */
typedef struct {
    int episodes, n_diag;
    float *distance; /* (episodes) final distance */
    float *diag;     /* (episodes, ENV_DIAG_MAX) final diagnostics */
    float distance_mean, distance_std, success_rate;
    float diag_mean[ENV_DIAG_MAX];
    long long frames; /* pictures written (--video, --frames) */
} eval_result_t;

static const char *usage =
    "usage: odac eval RUN_DIR|CHECKPOINT [options]\n"
    "Runs deterministic episodes of the policy in a learner checkpoint (RUN_DIR/learner.ckpt, "
    "with\n"
    "the run's RUN_DIR/variant.json) in this process and prints their final distances.";

/* The checkpoint and variant.json paths for target (a run dir or a checkpoint file). 0, or -1
 * with a message. */
static int resolve_paths(const char *target, char *ckpt, char *variant, size_t cap, char *err,
                         size_t errcap) {
    struct stat st;
    if (stat(target, &st) != 0) {
        snprintf(err, errcap, "%s: %s (expected a run directory or a learner checkpoint)", target,
                 strerror(errno));
        return -1;
    }
    if (S_ISDIR(st.st_mode)) {
        snprintf(ckpt, cap, "%s/learner.ckpt", target);
        snprintf(variant, cap, "%s/variant.json", target);
        if (access(ckpt, F_OK) != 0) {
            snprintf(err, errcap,
                     "no checkpoint in run %s (%s: %s; the learner writes it every "
                     "--checkpoint-every updates and when it stops)",
                     target, ckpt, strerror(errno));
            return -1;
        }
        return 0;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(err, errcap, "%s is neither a run directory nor a checkpoint file", target);
        return -1;
    }
    char copy[FLAGS_STR_MAX * 2];
    snprintf(copy, sizeof copy, "%s", target);
    snprintf(ckpt, cap, "%s", target);
    snprintf(variant, cap, "%s/variant.json", dirname(copy));
    return 0;
}

/* The learner config and env of the run: its variant.json (refused when --env names another
 * env), else --env's defaults. 0, or -1 with a message. */
static int run_config(const eval_options_t *o, const char *variant, learner_config_t *cfg,
                      env_spec_t *spec, char *err, size_t errcap) {
    char arg[FLAGS_STR_MAX * 2 + 16], prog[] = "odac-learner";
    char *argv[3] = {prog, arg, NULL};
    char why[1024];
    if (access(variant, F_OK) == 0) {
        snprintf(arg, sizeof arg, "--config=%s", variant);
        if (learner_server_parse_config(2, argv, cfg, spec, why, sizeof why) != 0) {
            snprintf(err, errcap, "the run's configuration %s is refused: %s", variant, why);
            return -1;
        }
        if (o->env[0] && strcmp(o->env, spec->name) != 0) {
            snprintf(err, errcap,
                     "the checkpoint is from env '%s' (%s), not '%s' (--env): refusing to "
                     "evaluate it there",
                     spec->name, variant, o->env);
            return -1;
        }
        return 0;
    }
    if (!o->env[0]) {
        snprintf(err, errcap,
                 "no %s beside the checkpoint, so its env is unknown: pass --env (the learner's "
                 "defaults for that env are then assumed)",
                 variant);
        return -1;
    }
    snprintf(arg, sizeof arg, "--env=%s", o->env);
    if (learner_server_parse_config(2, argv, cfg, spec, why, sizeof why) != 0) {
        snprintf(err, errcap, "%s", why);
        return -1;
    }
    return 0;
}

/* The actors' policy with the checkpoint's parameters and normaliser, for batches of n rows. */
static policy_t *policy_of(const learner_t *L, int n, char *err, size_t errcap) {
    const learner_config_t *c = learner_config(L);
    int sizes[NN_MAX_LAYERS + 1];
    int layers = learner_policy_layers(L, sizes);
    policy_t *p =
        policy_new(c->obs_dim, c->goal_dim, c->action_dim, sizes + 1, layers - 1, n, err, errcap);
    if (!p) return NULL;
    size_t n_params;
    const float *params = learner_policy_params(L, &n_params);
    const float *om, *os, *gm, *gs;
    learner_normalization(L, &om, &os, &gm, &gs);
    if (policy_load_params(p, params, n_params) != 0 ||
        (om && policy_set_normalization(p, om, os, gm, gs, c->norm_clip) != 0)) {
        snprintf(err, errcap, "the checkpoint's policy or normaliser holds non-finite values");
        policy_free(p);
        return NULL;
    }
    return p;
}

/* Runs r->episodes episodes in rounds of n envs, as an actor's evaluation does. 0, or -1 with a
 * message. */
static int pictures_open(pictures_t *pic, env_t *env, const eval_options_t *o, int n, char *err,
                         size_t errcap) {
    memset(pic, 0, sizeof *pic);
    if (!o->video[0] && !o->frames[0]) return 0;
    const env_spec_t *spec = env_spec(env);
    pic->tiles = n < o->episodes ? n : (int)o->episodes;
    pic->cols = pic->tiles < 4 ? pic->tiles : 4;
    pic->rows = (pic->tiles + pic->cols - 1) / pic->cols;
    pic->w = (int)o->width;
    pic->h = (int)o->height;
    pic->r = render_new(env, pic->w, pic->h, err, errcap);
    if (!pic->r) return -1;
    size_t fw = (size_t)pic->cols * pic->w, fh = (size_t)pic->rows * pic->h;
    pic->tile = malloc((size_t)pic->w * pic->h * 3);
    pic->frame = calloc(fw * fh * 3, 1);
    pic->path = malloc((size_t)n * (spec->horizon + 1) * spec->goal_dim * sizeof(float));
    if (!pic->tile || !pic->frame || !pic->path) {
        snprintf(err, errcap, "out of memory for %zux%zu frames", fw, fh);
        return -1;
    }
    if (o->frames[0] && mkdir(o->frames, 0755) != 0 && errno != EEXIST) {
        snprintf(err, errcap, "--frames %s: %s", o->frames, strerror(errno));
        return -1;
    }
    if (o->video[0]) {
        pic->video = render_video_open(o->video, (int)fw, (int)fh, (int)o->fps, err, errcap);
        if (!pic->video) return -1;
    }
    return 0;
}

static int pictures_close(pictures_t *pic, char *err, size_t errcap) {
    int rc = render_video_close(&pic->video, err, errcap);
    render_free(pic->r);
    free(pic->tile);
    free(pic->frame);
    free(pic->path);
    memset(pic, 0, sizeof *pic);
    return rc;
}

/* One frame of the round at step t (0: after the reset) for its first k envs. */
static int pictures_frame(pictures_t *pic, env_batch_t *envs, const env_spec_t *spec,
                          const float *achieved, const float *goal, int t, int k,
                          const eval_options_t *o, char *err, size_t errcap) {
    if (!pic->r) return 0;
    int G = spec->goal_dim, H1 = spec->horizon + 1;
    size_t fw = (size_t)pic->cols * pic->w;
    memset(pic->frame, 0, fw * pic->rows * pic->h * 3);
    for (int i = 0; i < k; i++) {
        float *path = pic->path + (size_t)i * H1 * G;
        memcpy(path + (size_t)t * G, achieved + (size_t)i * G, (size_t)G * sizeof(float));
        if (render_frame(pic->r, env_batch_get(envs, i), goal + (size_t)i * G, path, t + 1,
                         pic->tile, err, errcap) != 0)
            return -1;
        size_t x0 = (size_t)(i % pic->cols) * pic->w, y0 = (size_t)(i / pic->cols) * pic->h;
        for (int y = 0; y < pic->h; y++)
            memcpy(pic->frame + ((y0 + y) * fw + x0) * 3, pic->tile + (size_t)y * pic->w * 3,
                   (size_t)pic->w * 3);
    }
    if (pic->video && render_video_frame(pic->video, pic->frame, err, errcap) != 0) return -1;
    if (o->frames[0]) {
        char path[FLAGS_STR_MAX + 32];
        snprintf(path, sizeof path, "%s/frame_%06lld.png", o->frames, pic->frames_written);
        if (render_write_png(path, pic->frame, (int)fw, pic->rows * pic->h, err, errcap) != 0)
            return -1;
    }
    pic->frames_written++;
    return 0;
}

static int run_episodes(policy_t *p, const env_spec_t *spec, const eval_options_t *o,
                        eval_result_t *r, pictures_t *pic, FILE *trace, char *err, size_t errcap) {
    env_goal_mode_t mode = strcmp(o->goal_mode, "random") == 0 ? ENV_GOAL_RANDOM : ENV_GOAL_FIXED;
    int n = (int)o->num_envs, O = spec->obs_dim, G = spec->goal_dim, A = spec->action_dim;
    env_batch_t *envs = env_batch_new(spec->name, mode, n, (uint64_t)o->seed, err, errcap);
    if (!envs) return -1;
    if (pictures_open(pic, env_batch_get(envs, 0), o, n, err, errcap) != 0) {
        char ignored[16];
        pictures_close(pic, ignored, sizeof ignored);
        env_batch_free(envs);
        return -1;
    }
    float *obs = malloc((size_t)n * O * sizeof(float));
    float *achieved = malloc((size_t)n * G * sizeof(float));
    float *goal = malloc((size_t)n * G * sizeof(float));
    float *actions = malloc((size_t)n * A * sizeof(float));
    env_step_info_t *info = calloc((size_t)n, sizeof *info);
    int rc = -1;
    if (!obs || !achieved || !goal || !actions || !info) {
        snprintf(err, errcap, "out of memory for %d envs", n);
        goto out;
    }
    int done = 0;
    while (done < r->episodes) {
        for (int i = 0; i < n; i++)
            env_reset(env_batch_get(envs, i), obs + (size_t)i * O, achieved + (size_t)i * G,
                      goal + (size_t)i * G);
        int scored = r->episodes - done < n ? r->episodes - done : n;
        if (pictures_frame(pic, envs, spec, achieved, goal, 0, scored, o, err, errcap)) goto out;
        for (int t = 0; t < spec->horizon; t++) {
            if (policy_act(p, obs, goal, n, 1, NULL, actions) != 0) {
                snprintf(err, errcap, "policy inference failed");
                goto out;
            }
            if (env_batch_step(envs, actions, obs, achieved, info, err, errcap) != 0) goto out;
            if (trace) trace_rows(trace, spec, done, scored, t + 1, actions, achieved, info);
            if (pictures_frame(pic, envs, spec, achieved, goal, t + 1, scored, o, err, errcap))
                goto out;
            if (info[0].horizon_reached) break;
        }
        for (int i = 0; i < n && done < r->episodes; i++, done++) {
            r->distance[done] = env_distance(env_batch_get(envs, i), achieved + (size_t)i * G,
                                             goal + (size_t)i * G);
            for (int d = 0; d < spec->n_diag; d++)
                r->diag[(size_t)done * ENV_DIAG_MAX + d] = info[i].diag[d];
        }
    }
    /* The summary as the actor's finish_eval computes it (double sums of the float values). */
    int m = r->episodes, success = 0;
    double sum = 0, sq = 0, diag_sum[ENV_DIAG_MAX] = {0};
    for (int k = 0; k < m; k++) {
        sum += r->distance[k];
        success += r->distance[k] < spec->success_threshold;
        for (int d = 0; d < spec->n_diag; d++) diag_sum[d] += r->diag[(size_t)k * ENV_DIAG_MAX + d];
    }
    double mean = sum / m;
    for (int k = 0; k < m; k++) sq += (r->distance[k] - mean) * (r->distance[k] - mean);
    r->distance_mean = (float)mean;
    r->distance_std = (float)sqrt(sq / m);
    r->success_rate = (float)success / (float)m;
    r->n_diag = spec->n_diag;
    for (int d = 0; d < spec->n_diag; d++) r->diag_mean[d] = (float)(diag_sum[d] / m);
    rc = 0;
out:
    r->frames = pic->frames_written;
    if (pic->r) {
        char why[512] = "";
        if (pictures_close(pic, why, sizeof why) != 0 && rc == 0) {
            snprintf(err, errcap, "%s", why);
            rc = -1;
        }
    }
    free(obs);
    free(achieved);
    free(goal);
    free(actions);
    free(info);
    env_batch_free(envs);
    return rc;
}

static void print_text(const char *ckpt, const env_spec_t *spec, const learner_config_t *cfg,
                       long long updates, const learner_progress_record_t *rec,
                       const eval_options_t *o, const eval_result_t *r) {
    printf("checkpoint %s: env %s, variant %s, update %lld, env steps %llu, last published "
           "policy version %llu\n",
           ckpt, spec->name, learner_variant_name(cfg->variant), updates,
           (unsigned long long)rec->env_steps, (unsigned long long)rec->publish_version);
    printf("%d deterministic episode(s), %s goals, seed %lld, %lld env(s) in lockstep%s\n",
           r->episodes, o->goal_mode, o->seed, o->num_envs,
           cfg->normalize ? ", inputs normalised with the checkpoint's statistics" : "");
    printf("%-8s %-15s %-8s", "episode", "final_distance", "success");
    for (int d = 0; d < r->n_diag; d++) printf(" %-16s", spec->diag_names[d]);
    printf("\n");
    for (int k = 0; k < r->episodes; k++) {
        printf("%-8d %-15.4f %-8s", k, (double)r->distance[k],
               r->distance[k] < spec->success_threshold ? "yes" : "no");
        for (int d = 0; d < r->n_diag; d++)
            printf(" %-16.4f", (double)r->diag[(size_t)k * ENV_DIAG_MAX + d]);
        printf("\n");
    }
    if (r->frames)
        printf("%lld frames%s%s%s%s\n", r->frames, o->video[0] ? " in " : "", o->video,
               o->frames[0] ? " and as PNGs in " : "", o->frames);
    printf("summary: final distance %.4f +- %.4f, success rate %.3f (threshold %g)",
           (double)r->distance_mean, (double)r->distance_std, (double)r->success_rate,
           (double)spec->success_threshold);
    for (int d = 0; d < r->n_diag; d++)
        printf(", %s mean %.4f", spec->diag_names[d], (double)r->diag_mean[d]);
    printf("\n");
}

static int print_json(const char *ckpt, const env_spec_t *spec, const learner_config_t *cfg,
                      long long updates, const learner_progress_record_t *rec,
                      const eval_options_t *o, const eval_result_t *r) {
    cJSON *root = cJSON_CreateObject(), *eps = cJSON_CreateArray(), *dm = cJSON_CreateObject();
    if (!root || !eps || !dm) {
        cJSON_Delete(root);
        cJSON_Delete(eps);
        cJSON_Delete(dm);
        return -1;
    }
    cJSON_AddStringToObject(root, "checkpoint", ckpt);
    cJSON_AddStringToObject(root, "env", spec->name);
    cJSON_AddStringToObject(root, "variant", learner_variant_name(cfg->variant));
    cJSON_AddNumberToObject(root, "updates", (double)updates);
    cJSON_AddNumberToObject(root, "env_steps", (double)rec->env_steps);
    cJSON_AddNumberToObject(root, "publish_version", (double)rec->publish_version);
    cJSON_AddStringToObject(root, "goal_mode", o->goal_mode);
    cJSON_AddNumberToObject(root, "seed", (double)o->seed);
    cJSON_AddNumberToObject(root, "num_envs", (double)o->num_envs);
    cJSON_AddBoolToObject(root, "normalized", cfg->normalize);
    cJSON_AddNumberToObject(root, "success_threshold", spec->success_threshold);
    for (int k = 0; k < r->episodes; k++) {
        cJSON *e = cJSON_CreateObject(), *diag = cJSON_CreateObject();
        cJSON_AddNumberToObject(e, "episode", k);
        cJSON_AddNumberToObject(e, "final_distance", r->distance[k]);
        cJSON_AddBoolToObject(e, "success", r->distance[k] < spec->success_threshold);
        for (int d = 0; d < r->n_diag; d++)
            cJSON_AddNumberToObject(diag, spec->diag_names[d],
                                    r->diag[(size_t)k * ENV_DIAG_MAX + d]);
        cJSON_AddItemToObject(e, "diagnostics", diag);
        cJSON_AddItemToArray(eps, e);
    }
    cJSON_AddItemToObject(root, "episodes", eps);
    cJSON_AddNumberToObject(root, "final_distance_mean", r->distance_mean);
    cJSON_AddNumberToObject(root, "final_distance_std", r->distance_std);
    cJSON_AddNumberToObject(root, "success_rate", r->success_rate);
    for (int d = 0; d < r->n_diag; d++)
        cJSON_AddNumberToObject(dm, spec->diag_names[d], r->diag_mean[d]);
    cJSON_AddItemToObject(root, "diagnostics_mean", dm);
    cJSON_AddNumberToObject(root, "frames", (double)r->frames);
    if (o->video[0]) cJSON_AddStringToObject(root, "video", o->video);
    if (o->frames[0]) cJSON_AddStringToObject(root, "frames_dir", o->frames);
    char *text = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (!text) return -1;
    printf("%s\n", text);
    cJSON_free(text);
    return 0;
}

int odac_eval_main(int argc, char **argv) {
    eval_options_t o = {5, 0, 1, "fixed", "", "", 0, "", "", 320, 240, 25, ""};
    const flag_t table[] = {
        {"episodes", FLAG_INT, &o.episodes, 1, EVAL_MAX_EPISODES, "episodes to run"},
        {"seed", FLAG_INT, &o.seed, 0, 2147483647, "seed of the envs (random goals)"},
        {"goal-mode", FLAG_STRING, o.goal_mode, 0, -1, "fixed (the paper's goal) or random"},
        {"num-envs", FLAG_INT, &o.num_envs, 1, 1024,
         "envs stepped together (an actor's --num-envs: the policy runs on that batch)"},
        {"env", FLAG_STRING, o.env, 0, -1,
         "the env the checkpoint must be from (needed without the run's variant.json)"},
        {"models-dir", FLAG_STRING, o.models_dir, 0, -1, "MJCF models directory of the robot envs"},
        {"json", FLAG_BOOL, &o.json, 0, -1, "print one JSON object"},
        {"video", FLAG_STRING, o.video, 0, -1,
         "write the episodes as an MP4 video (H.264 by the ffmpeg program; the episodes of a round "
         "are tiles of each frame)"},
        {"frames", FLAG_STRING, o.frames, 0, -1,
         "write every frame as DIR/frame_NNNNNN.png (created if missing)"},
        {"width", FLAG_INT, &o.width, 16, 4096, "width of each episode's tile (even)"},
        {"height", FLAG_INT, &o.height, 16, 4096, "height of each episode's tile (even)"},
        {"fps", FLAG_INT, &o.fps, 1, 240, "frames per second of --video"},
        {"trace", FLAG_STRING, o.trace, 0, -1,
         "write every step of every episode (action, achieved goal, distance) as CSV to FILE"},
    };
    const int n_table = sizeof table / sizeof *table;
    char err[2048];
    const char *target;
    int n_pos;
    int rc = flags_parse_one(table, n_table, argc, argv, usage, &target, &n_pos, err, sizeof err);
    if (rc == 1) return 0;
    if (rc != 0) {
        fprintf(stderr, "odac eval: %s\n", err);
        return 2;
    }
    if (!target) {
        fprintf(stderr, "odac eval: expected one run directory or checkpoint (got %d)\n%s\n", n_pos,
                usage);
        return 2;
    }
    if (strcmp(o.goal_mode, "fixed") != 0 && strcmp(o.goal_mode, "random") != 0) {
        fprintf(stderr, "odac eval: --goal-mode must be fixed or random (got '%s')\n", o.goal_mode);
        return 2;
    }
    if (o.env[0]) {
        env_spec_t probe;
        if (env_spec_lookup(o.env, &probe, err, sizeof err) != 0) {
            fprintf(stderr, "odac eval: --env: %s\n", err);
            return 2;
        }
    }
    if (o.width % 2 || o.height % 2) {
        fprintf(stderr, "odac eval: --width and --height must be even (got %lldx%lld)\n", o.width,
                o.height);
        return 2;
    }
    if (o.models_dir[0]) env_set_models_dir(o.models_dir);

    char ckpt[FLAGS_STR_MAX * 2 + 32], variant[FLAGS_STR_MAX * 2 + 32];
    learner_config_t cfg;
    env_spec_t spec;
    if (resolve_paths(target, ckpt, variant, sizeof ckpt, err, sizeof err) != 0 ||
        run_config(&o, variant, &cfg, &spec, err, sizeof err) != 0) {
        fprintf(stderr, "odac eval: %s\n", err);
        return 1;
    }
    learner_t *L = learner_new(&cfg, err, sizeof err);
    if (!L) {
        fprintf(stderr, "odac eval: %s\n", err);
        return 1;
    }
    learner_progress_record_t rec;
    if (learner_load_with(L, ckpt, &rec, sizeof rec, err, sizeof err) != 0) {
        fprintf(stderr, "odac eval: %s\n", err);
        learner_free(L);
        return 1;
    }
    eval_result_t r = {(int)o.episodes, 0, NULL, NULL, 0, 0, 0, {0}, 0};
    r.distance = calloc((size_t)r.episodes, sizeof *r.distance);
    r.diag = calloc((size_t)r.episodes * ENV_DIAG_MAX, sizeof *r.diag);
    policy_t *p = policy_of(L, (int)o.num_envs, err, sizeof err);
    pictures_t pic;
    memset(&pic, 0, sizeof pic);
    int status = 1;
    FILE *trace = NULL;
    if (!r.distance || !r.diag) {
        snprintf(err, sizeof err, "out of memory for %d episodes", r.episodes);
    } else if (o.trace[0] && !(trace = fopen(o.trace, "w"))) {
        snprintf(err, sizeof err, "--trace %s: %s", o.trace, strerror(errno));
    } else if (p) {
        if (trace) trace_header(trace, &spec);
        if (run_episodes(p, &spec, &o, &r, &pic, trace, err, sizeof err) == 0) {
            if (o.json)
                status = print_json(ckpt, &spec, &cfg, learner_updates(L), &rec, &o, &r) ? 1 : 0;
            else
                print_text(ckpt, &spec, &cfg, learner_updates(L), &rec, &o, &r), status = 0;
            if (status) snprintf(err, sizeof err, "out of memory for the JSON output");
        }
    }
    if (trace && fclose(trace) != 0 && status == 0) {
        fprintf(stderr, "odac eval: --trace %s: %s\n", o.trace, strerror(errno));
        status = 1;
    } else if (status) {
        fprintf(stderr, "odac eval: %s\n", err);
    }
    policy_free(p);
    free(r.distance);
    free(r.diag);
    learner_free(L);
    return status;
}
