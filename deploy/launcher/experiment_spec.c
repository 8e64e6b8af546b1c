/* experiment_spec: parsing, validation and expansion of an experiment grid (see the header). */
#include "experiment_spec.h"
#include "env.h"
#include "learner_core.h"
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SPEC_FILE_MAX (1 << 20)

int exp_fail(char *err, size_t errcap, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errcap, fmt, ap);
    va_end(ap);
    return -1;
}

static int key_in(const char *key, const char *const *keys) {
    for (; *keys; keys++)
        if (!strcmp(key, *keys)) return 1;
    return 0;
}

/* Every key of obj is one of keys; else "WHERE.KEY: unknown key (allowed: ...)". */
static int check_keys(const cJSON *obj, const char *where, const char *const *keys, char *err,
                      size_t errcap) {
    for (const cJSON *it = obj->child; it; it = it->next) {
        if (key_in(it->string, keys)) continue;
        char allowed[512] = "";
        for (const char *const *k = keys; *k; k++) {
            size_t n = strlen(allowed);
            snprintf(allowed + n, sizeof allowed - n, "%s%s", n ? ", " : "", *k);
        }
        return exp_fail(err, errcap, "%s%s%.64s: unknown key (allowed: %s)", where,
                        *where ? "." : "", it->string, allowed);
    }
    return 0;
}

/* An integer-valued number in [lo, hi]. */
static int get_int(const cJSON *v, const char *field, long long lo, long long hi, long long *out,
                   char *err, size_t errcap) {
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || floor(v->valuedouble) != v->valuedouble)
        return exp_fail(err, errcap, "%s: must be an integer", field);
    if (v->valuedouble < (double)lo || v->valuedouble > (double)hi)
        return exp_fail(err, errcap, "%s: %.0f is out of range (%lld to %lld)", field,
                        v->valuedouble, lo, hi);
    *out = (long long)v->valuedouble;
    return 0;
}

static int plain_name(const char *s, size_t max) {
    size_t n = strlen(s);
    if (n == 0 || n > max) return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '.' || *s == '_' || *s == '-'))
            return 0;
    return 1;
}

/* A non-empty array of distinct strings, each accepted by check (NULL: any). */
typedef int (*name_check_t)(const char *name, char *err, size_t errcap);

static int env_check(const char *name, char *err, size_t errcap) {
    env_spec_t spec;
    return env_spec_lookup(name, &spec, err, errcap);
}

static int variant_check(const char *name, char *err, size_t errcap) {
    learner_variant_t v;
    return learner_variant_parse(name, &v, err, errcap);
}

static int goal_mode_check(const char *name, char *err, size_t errcap) {
    if (!strcmp(name, "fixed") || !strcmp(name, "random")) return 0;
    return exp_fail(err, errcap, "unknown goal mode '%.32s' (fixed, random)", name);
}

static int get_names(const cJSON *v, const char *field, name_check_t check, char (*out)[32],
                     int max, int *n, char *err, size_t errcap) {
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) == 0)
        return exp_fail(err, errcap, "%s: must be a non-empty array of names", field);
    if (cJSON_GetArraySize(v) > max)
        return exp_fail(err, errcap, "%s: more than %d entries", field, max);
    *n = 0;
    for (const cJSON *it = v->child; it; it = it->next) {
        if (!cJSON_IsString(it) || strlen(it->valuestring) >= 32)
            return exp_fail(err, errcap, "%s[%d]: must be a name (a string under 32 bytes)", field,
                            *n);
        char why[256];
        if (check(it->valuestring, why, sizeof why) != 0)
            return exp_fail(err, errcap, "%s[%d]: %s", field, *n, why);
        for (int j = 0; j < *n; j++)
            if (!strcmp(out[j], it->valuestring))
                return exp_fail(err, errcap, "%s: '%s' appears twice (a duplicate cell)", field,
                                it->valuestring);
        snprintf(out[(*n)++], 32, "%s", it->valuestring);
    }
    return 0;
}

/* odac run options a spec may set; the runner sets the others (env, seed, ports, run id...). */
static const struct {
    const char *key;
    long long lo, hi;
} run_options[] = {
    {"actors", 1, 64}, {"shards", 1, 4}, {"num-envs", 1, 1024}, {"learner-threads", 0, 64}};

static int check_run(const cJSON *run, const char *field, char *err, size_t errcap) {
    if (!cJSON_IsObject(run)) return exp_fail(err, errcap, "%s: must be an object", field);
    for (const cJSON *it = run->child; it; it = it->next) {
        size_t k = 0, n = sizeof run_options / sizeof *run_options;
        while (k < n && strcmp(run_options[k].key, it->string)) k++;
        if (k == n)
            return exp_fail(err, errcap,
                            "%s.%.64s: unknown key (allowed: actors, shards, num-envs, "
                            "learner-threads; the runner sets the rest)",
                            field, it->string);
        char f[160];
        long long x;
        snprintf(f, sizeof f, "%s.%s", field, it->string);
        if (get_int(it, f, run_options[k].lo, run_options[k].hi, &x, err, errcap)) return -1;
    }
    return 0;
}

/* Learner options the runner owns: a spec that set them would break the grid's bookkeeping. */
static const char *const learner_reserved[] = {
    "env",        "variant",         "seed",   "run-dir",  "run-id", "max-env-steps",
    "resume",     "target-distance", "shards", "config",   "keys",   "weights-bind",
    "stats-bind", "status-endpoint", "check",  "insecure", NULL};

static int check_learner(const cJSON *l, const char *field, char *err, size_t errcap) {
    if (!cJSON_IsObject(l)) return exp_fail(err, errcap, "%s: must be an object", field);
    for (const cJSON *it = l->child; it; it = it->next) {
        if (key_in(it->string, learner_reserved))
            return exp_fail(err, errcap, "%s.%.64s: set by the experiment runner, not the spec",
                            field, it->string);
        if (!cJSON_IsString(it) && !cJSON_IsNumber(it) && !cJSON_IsBool(it))
            return exp_fail(err, errcap, "%s.%.64s: must be a string, number or boolean", field,
                            it->string);
    }
    return 0;
}

/* dst gets every key of src (replacing its own). */
static int merge(cJSON *dst, const cJSON *src) {
    for (const cJSON *it = src->child; it; it = it->next) {
        cJSON *copy = cJSON_Duplicate(it, 1);
        if (!copy) return -1;
        if (cJSON_GetObjectItemCaseSensitive(dst, it->string))
            cJSON_ReplaceItemInObjectCaseSensitive(dst, it->string, copy);
        else
            cJSON_AddItemToObject(dst, it->string, copy);
    }
    return 0;
}

static const char *const top_keys[] = {"name",       "envs",      "variants",    "seeds",
                                       "goal_modes", "budget",    "parallel",    "retries",
                                       "base_port",  "runs_dir",  "results_dir", "run",
                                       "learner",    "overrides", NULL};
static const char *const override_keys[] = {"env",    "variant", "goal_mode", "seed",
                                            "budget", "run",     "learner",   NULL};

static int get_path(const cJSON *root, const char *key, const char *dflt, char *out, char *err,
                    size_t errcap) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!v) {
        snprintf(out, EXP_PATH_MAX, "%s", dflt);
        return 0;
    }
    if (!cJSON_IsString(v) || !v->valuestring[0] || strlen(v->valuestring) >= EXP_PATH_MAX - 160)
        return exp_fail(err, errcap, "%s: must be a non-empty path under %d bytes", key,
                        EXP_PATH_MAX - 160);
    snprintf(out, EXP_PATH_MAX, "%s", v->valuestring);
    return 0;
}

/* Validation of everything but the cells. */
static int parse_top(const cJSON *root, exp_spec_t *s, long long *seeds, int *n_seeds,
                     char (*modes)[32], int *n_modes, long long *budget, char *err, size_t errcap) {
    if (check_keys(root, "", top_keys, err, errcap)) return -1;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "name");
    if (!cJSON_IsString(v) || !plain_name(v->valuestring, EXP_NAME_MAX - 1))
        return exp_fail(err, errcap, "name: required, 1 to %d of [A-Za-z0-9._-]", EXP_NAME_MAX - 1);
    snprintf(s->name, sizeof s->name, "%s", v->valuestring);
    v = cJSON_GetObjectItemCaseSensitive(root, "envs");
    if (!v) return exp_fail(err, errcap, "envs: required");
    if (get_names(v, "envs", env_check, s->envs, 16, &s->n_envs, err, errcap)) return -1;
    v = cJSON_GetObjectItemCaseSensitive(root, "variants");
    if (!v) return exp_fail(err, errcap, "variants: required");
    if (get_names(v, "variants", variant_check, s->variants, 16, &s->n_variants, err, errcap))
        return -1;
    v = cJSON_GetObjectItemCaseSensitive(root, "goal_modes");
    if (v) {
        if (get_names(v, "goal_modes", goal_mode_check, modes, 2, n_modes, err, errcap)) return -1;
    } else {
        snprintf(modes[0], 32, "fixed");
        *n_modes = 1;
    }
    v = cJSON_GetObjectItemCaseSensitive(root, "seeds");
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) == 0 || cJSON_GetArraySize(v) > 100)
        return exp_fail(err, errcap, "seeds: required, an array of 1 to 100 integers");
    *n_seeds = 0;
    for (const cJSON *it = v->child; it; it = it->next) {
        char f[32];
        snprintf(f, sizeof f, "seeds[%d]", *n_seeds);
        if (get_int(it, f, 0, 2147483647, &seeds[*n_seeds], err, errcap)) return -1;
        for (int j = 0; j < *n_seeds; j++)
            if (seeds[j] == seeds[*n_seeds])
                return exp_fail(err, errcap, "seeds: %lld appears twice (a duplicate cell)",
                                seeds[j]);
        (*n_seeds)++;
    }
    v = cJSON_GetObjectItemCaseSensitive(root, "budget");
    if (!v) return exp_fail(err, errcap, "budget: required (env steps of every cell)");
    if (get_int(v, "budget", 1, 1000000000000LL, budget, err, errcap)) return -1;
    long long x = 1;
    v = cJSON_GetObjectItemCaseSensitive(root, "parallel");
    if (v && get_int(v, "parallel", 1, 64, &x, err, errcap)) return -1;
    s->parallel = (int)x;
    x = 2;
    v = cJSON_GetObjectItemCaseSensitive(root, "retries");
    if (v && get_int(v, "retries", 0, 10, &x, err, errcap)) return -1;
    s->retries = (int)x;
    x = 20000;
    v = cJSON_GetObjectItemCaseSensitive(root, "base_port");
    if (v &&
        get_int(v, "base_port", 1024, 65000 - EXP_PORT_STRIDE * 2LL * s->parallel, &x, err, errcap))
        return -1;
    s->base_port = (int)x;
    if (get_path(root, "runs_dir", "runs", s->runs_dir, err, errcap) ||
        get_path(root, "results_dir", "results", s->results_dir, err, errcap))
        return -1;
    v = cJSON_GetObjectItemCaseSensitive(root, "run");
    if (v && check_run(v, "run", err, errcap)) return -1;
    v = cJSON_GetObjectItemCaseSensitive(root, "learner");
    if (v && check_learner(v, "learner", err, errcap)) return -1;
    return 0;
}

/* Whether override o selects cell c. */
static int selects(const cJSON *o, const exp_cell_t *c) {
    const cJSON *v;
    if ((v = cJSON_GetObjectItemCaseSensitive(o, "env")) && strcmp(v->valuestring, c->env))
        return 0;
    if ((v = cJSON_GetObjectItemCaseSensitive(o, "variant")) && strcmp(v->valuestring, c->variant))
        return 0;
    if ((v = cJSON_GetObjectItemCaseSensitive(o, "goal_mode")) &&
        strcmp(v->valuestring, c->goal_mode))
        return 0;
    if ((v = cJSON_GetObjectItemCaseSensitive(o, "seed")) && (int)v->valuedouble != c->seed)
        return 0;
    return 1;
}

static int check_override(const cJSON *o, int i, char *err, size_t errcap) {
    char where[32];
    snprintf(where, sizeof where, "overrides[%d]", i);
    if (!cJSON_IsObject(o)) return exp_fail(err, errcap, "%s: must be an object", where);
    if (check_keys(o, where, override_keys, err, errcap)) return -1;
    const char *sel[] = {"env", "variant", "goal_mode"};
    for (int k = 0; k < 3; k++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, sel[k]);
        if (v && !cJSON_IsString(v))
            return exp_fail(err, errcap, "%s.%s: must be a string", where, sel[k]);
    }
    char f[64];
    long long x;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "seed");
    snprintf(f, sizeof f, "%s.seed", where);
    if (v && get_int(v, f, 0, 2147483647, &x, err, errcap)) return -1;
    v = cJSON_GetObjectItemCaseSensitive(o, "budget");
    snprintf(f, sizeof f, "%s.budget", where);
    if (v && get_int(v, f, 1, 1000000000000LL, &x, err, errcap)) return -1;
    v = cJSON_GetObjectItemCaseSensitive(o, "run");
    snprintf(f, sizeof f, "%s.run", where);
    if (v && check_run(v, f, err, errcap)) return -1;
    v = cJSON_GetObjectItemCaseSensitive(o, "learner");
    snprintf(f, sizeof f, "%s.learner", where);
    if (v && check_learner(v, f, err, errcap)) return -1;
    return 0;
}

static int expand(const cJSON *root, exp_spec_t *s, const long long *seeds, int n_seeds,
                  char (*modes)[32], int n_modes, long long budget, char *err, size_t errcap) {
    long long n = (long long)s->n_envs * s->n_variants * n_modes * n_seeds;
    if (n > EXP_MAX_CELLS)
        return exp_fail(err, errcap, "the grid has %lld cells (at most %d)", n, EXP_MAX_CELLS);
    const cJSON *overrides = cJSON_GetObjectItemCaseSensitive(root, "overrides");
    int n_over = 0;
    if (overrides) {
        if (!cJSON_IsArray(overrides)) return exp_fail(err, errcap, "overrides: must be an array");
        n_over = cJSON_GetArraySize(overrides);
        int i = 0;
        for (const cJSON *o = overrides->child; o; o = o->next, i++)
            if (check_override(o, i, err, errcap)) return -1;
    }
    int *matched = calloc((size_t)n_over + 1, sizeof *matched);
    s->cells = calloc((size_t)n, sizeof *s->cells);
    if (!matched || !s->cells) {
        free(matched);
        return exp_fail(err, errcap, "out of memory");
    }
    const cJSON *base_run = cJSON_GetObjectItemCaseSensitive(root, "run");
    const cJSON *base_learner = cJSON_GetObjectItemCaseSensitive(root, "learner");
    int rc = 0;
    for (int e = 0; e < s->n_envs && !rc; e++)
        for (int v = 0; v < s->n_variants && !rc; v++)
            for (int g = 0; g < n_modes && !rc; g++)
                for (int k = 0; k < n_seeds && !rc; k++) {
                    exp_cell_t *c = &s->cells[s->n_cells++];
                    snprintf(c->env, sizeof c->env, "%s", s->envs[e]);
                    snprintf(c->variant, sizeof c->variant, "%s", s->variants[v]);
                    snprintf(c->goal_mode, sizeof c->goal_mode, "%s", modes[g]);
                    c->seed = (int)seeds[k];
                    c->budget = budget;
                    snprintf(c->run_id, sizeof c->run_id, "%s-%s-%s-%s-s%d", s->name, c->env,
                             c->variant, c->goal_mode, c->seed);
                    cJSON *run = cJSON_CreateObject(), *learner = cJSON_CreateObject();
                    if (!run || !learner || (base_run && merge(run, base_run)) ||
                        (base_learner && merge(learner, base_learner)))
                        rc = exp_fail(err, errcap, "out of memory");
                    int i = 0;
                    for (const cJSON *o = overrides ? overrides->child : NULL; o && !rc;
                         o = o->next, i++) {
                        if (!selects(o, c)) continue;
                        matched[i]++;
                        const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, "budget");
                        if (x) c->budget = (long long)x->valuedouble;
                        if ((x = cJSON_GetObjectItemCaseSensitive(o, "run")) && merge(run, x))
                            rc = exp_fail(err, errcap, "out of memory");
                        if ((x = cJSON_GetObjectItemCaseSensitive(o, "learner")) &&
                            merge(learner, x))
                            rc = exp_fail(err, errcap, "out of memory");
                    }
                    if (!rc) {
                        c->run_json = cJSON_PrintUnformatted(run);
                        c->learner_json = cJSON_PrintUnformatted(learner);
                        if (!c->run_json || !c->learner_json)
                            rc = exp_fail(err, errcap, "out of memory");
                    }
                    cJSON_Delete(run);
                    cJSON_Delete(learner);
                }
    for (int i = 0; i < n_over && !rc; i++)
        if (!matched[i])
            rc = exp_fail(err, errcap, "overrides[%d]: matches no cell of the grid", i);
    free(matched);
    return rc;
}

int exp_spec_parse(const char *json, exp_spec_t *out, char *err, size_t errcap) {
    memset(out, 0, sizeof *out);
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithOpts(json, &end, 1);
    if (!root) {
        long off = end ? (long)(end - json) : 0;
        return exp_fail(err, errcap, "not valid JSON (near byte %ld)", off);
    }
    long long seeds[100], budget = 0;
    char modes[2][32];
    int n_seeds = 0, n_modes = 0, rc = -1;
    if (!cJSON_IsObject(root))
        exp_fail(err, errcap, "the spec must be a JSON object");
    else if (!parse_top(root, out, seeds, &n_seeds, modes, &n_modes, &budget, err, errcap))
        rc = expand(root, out, seeds, n_seeds, modes, n_modes, budget, err, errcap);
    cJSON_Delete(root);
    if (rc) exp_spec_free(out);
    return rc;
}

int exp_spec_read(const char *path_or_preset, const char *presets_dir, char **text, char *err,
                  size_t errcap) {
    char path[EXP_PATH_MAX * 2];
    size_t n = strlen(path_or_preset);
    int preset =
        !strchr(path_or_preset, '/') && !(n > 5 && !strcmp(path_or_preset + n - 5, ".json"));
    if (preset) {
        if (!plain_name(path_or_preset, EXP_NAME_MAX - 1))
            return exp_fail(err, errcap, "'%.64s' is neither a spec file nor a preset name",
                            path_or_preset);
        snprintf(path, sizeof path, "%s/%s.json", presets_dir, path_or_preset);
    } else {
        snprintf(path, sizeof path, "%s", path_or_preset);
    }
    FILE *f = fopen(path, "rb");
    if (!f)
        return exp_fail(err, errcap, "%s%s: %s", preset ? "preset " : "", path, strerror(errno));
    char *buf = malloc(SPEC_FILE_MAX + 1);
    size_t got = buf ? fread(buf, 1, SPEC_FILE_MAX + 1, f) : 0;
    fclose(f);
    if (!buf) return exp_fail(err, errcap, "out of memory");
    if (got > SPEC_FILE_MAX) {
        free(buf);
        return exp_fail(err, errcap, "%s: larger than %d bytes", path, SPEC_FILE_MAX);
    }
    buf[got] = '\0';
    if (memchr(buf, '\0', got)) {
        free(buf);
        return exp_fail(err, errcap, "%s: holds a NUL byte", path);
    }
    *text = buf;
    return 0;
}

int exp_spec_load(const char *path_or_preset, const char *presets_dir, exp_spec_t *out, char *err,
                  size_t errcap) {
    char *buf;
    if (exp_spec_read(path_or_preset, presets_dir, &buf, err, errcap) != 0) return -1;
    char why[512];
    int rc = exp_spec_parse(buf, out, why, sizeof why);
    free(buf);
    if (rc) return exp_fail(err, errcap, "%s: %s", path_or_preset, why);
    return 0;
}

void exp_spec_free(exp_spec_t *s) {
    for (int i = 0; i < s->n_cells; i++) {
        free(s->cells[i].run_json);
        free(s->cells[i].learner_json);
    }
    free(s->cells);
    s->cells = NULL;
    s->n_cells = 0;
}
