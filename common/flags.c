/* flags: one option table serves the command line, ODAC_* environment variables and JSON config
 * files (parsed with cJSON), so every process validates its inputs the same way. */
#include "flags.h"
#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Which options were set explicitly, by table index (tables are small). */
#define FLAGS_MAX 128
static const flag_t *set_table;
static unsigned char set_mask[FLAGS_MAX];

static void env_name_of(const char *name, char *out, size_t cap) {
    size_t n = (size_t)snprintf(out, cap, "ODAC_");
    for (const char *p = name; *p && n + 1 < cap; p++)
        out[n++] = *p == '-' ? '_' : (char)toupper((unsigned char)*p);
    out[n] = '\0';
}

static int set_value(const flag_t *f, const char *value, const char *source, char *err,
                     size_t errcap) {
    char *end = NULL;
    errno = 0;
    switch (f->type) {
    case FLAG_STRING:
        if (strlen(value) >= FLAGS_STR_MAX) {
            snprintf(err, errcap, "--%s (from %s): value longer than %d characters", f->name,
                     source, FLAGS_STR_MAX - 1);
            return -1;
        }
        snprintf((char *)f->dest, FLAGS_STR_MAX, "%s", value);
        return 0;
    case FLAG_INT: {
        long long v = strtoll(value, &end, 10);
        if (errno || end == value || *end) {
            snprintf(err, errcap, "--%s (from %s): '%s' is not an integer", f->name, source, value);
            return -1;
        }
        if (f->min <= f->max && ((double)v < f->min || (double)v > f->max)) {
            snprintf(err, errcap, "--%s (from %s): %lld is outside [%.0f, %.0f]", f->name, source,
                     v, f->min, f->max);
            return -1;
        }
        *(long long *)f->dest = v;
        return 0;
    }
    case FLAG_DOUBLE: {
        double v = strtod(value, &end);
        if (errno || end == value || *end || !isfinite(v)) {
            snprintf(err, errcap, "--%s (from %s): '%s' is not a finite number", f->name, source,
                     value);
            return -1;
        }
        if (f->min <= f->max && (v < f->min || v > f->max)) {
            snprintf(err, errcap, "--%s (from %s): %g is outside [%g, %g]", f->name, source, v,
                     f->min, f->max);
            return -1;
        }
        *(double *)f->dest = v;
        return 0;
    }
    case FLAG_BOOL:
        if (!strcmp(value, "1") || !strcmp(value, "true") || !strcmp(value, "yes")) {
            *(int *)f->dest = 1;
        } else if (!strcmp(value, "0") || !strcmp(value, "false") || !strcmp(value, "no")) {
            *(int *)f->dest = 0;
        } else {
            snprintf(err, errcap, "--%s (from %s): '%s' is not a boolean (true/false/1/0)", f->name,
                     source, value);
            return -1;
        }
        return 0;
    }
    return -1;
}

const flag_t *flags_find(const flag_t *flags, int n_flags, const char *name) {
    for (int i = 0; i < n_flags; i++)
        if (!strcmp(flags[i].name, name)) return &flags[i];
    return NULL;
}

int flags_was_set(const flag_t *flags, int n_flags, const char *name) {
    const flag_t *f = flags_find(flags, n_flags, name);
    return f && flags == set_table && set_mask[f - flags];
}

static int apply_config_file(const flag_t *flags, int n_flags, const char *path, char *err,
                             size_t errcap) {
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        snprintf(err, errcap, "config %s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    char *text = NULL;
    size_t len = 0;
    fseek(fp, 0, SEEK_END);
    long size = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    if (size < 0 || size > (1 << 20)) {
        fclose(fp);
        snprintf(err, errcap, "config %s: missing or larger than 1 MiB", path);
        return -1;
    }
    text = malloc((size_t)size + 1);
    if (!text) {
        fclose(fp);
        snprintf(err, errcap, "config %s: out of memory for %ld bytes", path, size);
        return -1;
    }
    len = fread(text, 1, (size_t)size, fp);
    fclose(fp);
    text[len] = '\0';
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (!root || !cJSON_IsObject(root)) {
        snprintf(err, errcap, "config %s: not a JSON object%s", path,
                 root ? "" : " (syntax error)");
        cJSON_Delete(root);
        free(text);
        return -1;
    }
    while (end && end < text + len && strchr(" \t\r\n", *end)) end++;
    if (end && end < text + len) {
        snprintf(err, errcap, "config %s: unexpected text after the JSON object at byte %ld", path,
                 (long)(end - text));
        cJSON_Delete(root);
        free(text);
        return -1;
    }
    free(text);
    char source[600];
    snprintf(source, sizeof source, "config %s", path);
    int rc = 0;
    for (cJSON *item = root->child; item && rc == 0; item = item->next) {
        const flag_t *f = flags_find(flags, n_flags, item->string);
        if (!f || !strcmp(item->string, "config")) {
            snprintf(err, errcap, "config %s: unknown option '%s'", path, item->string);
            rc = -1;
            break;
        }
        char value[FLAGS_STR_MAX];
        if (f->type == FLAG_STRING && cJSON_IsArray(item)) {
            /* A list of sizes, e.g. "hidden": [400, 300], is the flag's "400,300". */
            size_t off = 0;
            value[0] = '\0';
            for (cJSON *e = item->child; e && rc == 0; e = e->next) {
                if (!cJSON_IsNumber(e) || e->valuedouble != floor(e->valuedouble) ||
                    fabs(e->valuedouble) > 1e9 || off >= sizeof value - 16) {
                    snprintf(err, errcap, "config %s: option '%s' must be a list of integers", path,
                             item->string);
                    rc = -1;
                    break;
                }
                off += (size_t)snprintf(value + off, sizeof value - off, "%s%.0f",
                                        e != item->child ? "," : "", e->valuedouble);
            }
            if (rc != 0) break;
            if (!item->child) {
                snprintf(err, errcap, "config %s: option '%s' is an empty list", path,
                         item->string);
                rc = -1;
                break;
            }
        } else if (f->type == FLAG_STRING && !cJSON_IsString(item)) {
            snprintf(err, errcap,
                     "config %s: option '%s' must be a string (or a list of integers), not %s",
                     path, item->string, cJSON_IsNumber(item) ? "a number" : "a boolean");
            rc = -1;
            break;
        } else if (cJSON_IsString(item)) {
            snprintf(value, sizeof value, "%s", item->valuestring);
        } else if (cJSON_IsBool(item)) {
            snprintf(value, sizeof value, "%s", cJSON_IsTrue(item) ? "true" : "false");
        } else if (cJSON_IsNumber(item)) {
            if (f->type == FLAG_INT && item->valuedouble == floor(item->valuedouble))
                snprintf(value, sizeof value, "%.0f", item->valuedouble);
            else
                snprintf(value, sizeof value, "%.17g", item->valuedouble);
        } else {
            snprintf(err, errcap, "config %s: option '%s' must be a string, number or boolean",
                     path, item->string);
            rc = -1;
            break;
        }
        rc = set_value(f, value, source, err, errcap);
        if (rc == 0) set_mask[f - flags] = 1;
    }
    cJSON_Delete(root);
    return rc;
}

void flags_usage(FILE *out, const flag_t *flags, int n_flags, const char *usage_line) {
    fprintf(out, "%s\n\nOptions (each also read from ODAC_<NAME> in the environment):\n",
            usage_line);
    for (int i = 0; i < n_flags; i++) {
        const flag_t *f = &flags[i];
        char def[FLAGS_STR_MAX + 32];
        switch (f->type) {
        case FLAG_STRING:
            snprintf(def, sizeof def, "\"%s\"", (const char *)f->dest);
            break;
        case FLAG_INT:
            snprintf(def, sizeof def, "%lld", *(long long *)f->dest);
            break;
        case FLAG_DOUBLE:
            snprintf(def, sizeof def, "%g", *(double *)f->dest);
            break;
        case FLAG_BOOL:
            snprintf(def, sizeof def, "%s", *(int *)f->dest ? "true" : "false");
            break;
        }
        fprintf(out, "  --%-22s %s (default %s)\n", f->name, f->help ? f->help : "", def);
    }
}

int flags_parse(const flag_t *flags, int n_flags, int argc, char **argv, const char *usage_line,
                char **positional, int *n_pos, char *err, size_t errcap) {
    if (n_flags > FLAGS_MAX) {
        snprintf(err, errcap, "internal: too many options");
        return -1;
    }
    set_table = flags;
    memset(set_mask, 0, sizeof set_mask);
    if (n_pos) *n_pos = 0;
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            flags_usage(stdout, flags, n_flags, usage_line);
            return 1;
        }
    /* The config file comes first so the environment and the command line override it. */
    const flag_t *config = flags_find(flags, n_flags, "config");
    if (config) {
        const char *path = NULL;
        char env_key[128];
        env_name_of("config", env_key, sizeof env_key);
        if (getenv(env_key) && *getenv(env_key)) path = getenv(env_key);
        for (int i = 1; i < argc; i++) {
            if (!strcmp(argv[i], "--config") && i + 1 < argc) path = argv[i + 1];
            if (!strncmp(argv[i], "--config=", 9)) path = argv[i] + 9;
        }
        if (path && *path && apply_config_file(flags, n_flags, path, err, errcap) != 0) return -1;
    }
    for (int i = 0; i < n_flags; i++) {
        char key[128];
        env_name_of(flags[i].name, key, sizeof key);
        const char *v = getenv(key);
        if (!v || !*v) continue;
        if (set_value(&flags[i], v, key, err, errcap) != 0) return -1;
        set_mask[i] = 1;
    }
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strncmp(arg, "--", 2) != 0) {
            if (!positional) {
                snprintf(err, errcap, "unexpected argument '%s' (see --help)", arg);
                return -1;
            }
            positional[(*n_pos)++] = argv[i];
            continue;
        }
        char name[128];
        const char *value = NULL;
        const char *eq = strchr(arg + 2, '=');
        size_t name_len = eq ? (size_t)(eq - arg - 2) : strlen(arg + 2);
        if (name_len >= sizeof name) name_len = sizeof name - 1;
        memcpy(name, arg + 2, name_len);
        name[name_len] = '\0';
        const flag_t *f = flags_find(flags, n_flags, name);
        int negated = 0;
        if (!f && !strncmp(name, "no-", 3)) {
            f = flags_find(flags, n_flags, name + 3);
            negated = f && f->type == FLAG_BOOL;
            if (!negated) f = NULL;
        }
        if (!f) {
            snprintf(err, errcap, "unknown option --%s (see --help)", name);
            return -1;
        }
        if (eq) {
            value = eq + 1;
        } else if (f->type == FLAG_BOOL) {
            value = negated ? "false" : "true";
        } else if (i + 1 < argc) {
            value = argv[++i];
        } else {
            snprintf(err, errcap, "option --%s needs a value", f->name);
            return -1;
        }
        if (set_value(f, value, "command line", err, errcap) != 0) return -1;
        set_mask[f - flags] = 1;
    }
    return 0;
}

int flags_write_json(const flag_t *flags, int n_flags, const char *path, char *err, size_t errcap) {
    cJSON *root = cJSON_CreateObject();
    for (int i = 0; i < n_flags; i++) {
        const flag_t *f = &flags[i];
        if (!strcmp(f->name, "config")) continue;    /* the file itself is a valid config */
        if (!strcmp(f->name, "run-token")) continue; /* a secret: not written to the run dir */
        switch (f->type) {
        case FLAG_STRING:
            cJSON_AddStringToObject(root, f->name, (const char *)f->dest);
            break;
        case FLAG_INT:
            cJSON_AddNumberToObject(root, f->name, (double)*(long long *)f->dest);
            break;
        case FLAG_DOUBLE:
            cJSON_AddNumberToObject(root, f->name, *(double *)f->dest);
            break;
        case FLAG_BOOL:
            cJSON_AddBoolToObject(root, f->name, *(int *)f->dest);
            break;
        }
    }
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    FILE *fp = fopen(path, "w");
    if (!fp || !text) {
        snprintf(err, errcap, "%s: cannot write: %s", path, strerror(errno));
        if (fp) fclose(fp);
        free(text);
        return -1;
    }
    fprintf(fp, "%s\n", text);
    free(text);
    if (fclose(fp) != 0) {
        snprintf(err, errcap, "%s: write failed: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

int flags_parse_one(const flag_t *flags, int n_flags, int argc, char **argv, const char *usage_line,
                    const char **arg, int *n_pos, char *err, size_t errcap) {
    char **positional = calloc((size_t)argc + 1, sizeof *positional);
    *arg = NULL;
    *n_pos = 0;
    if (!positional) {
        snprintf(err, errcap, "out of memory");
        return -1;
    }
    int rc = flags_parse(flags, n_flags, argc, argv, usage_line, positional, n_pos, err, errcap);
    if (*n_pos == 1) *arg = positional[0];
    free(positional);
    return rc;
}
