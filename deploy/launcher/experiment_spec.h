/* experiment_spec: an experiment grid (envs x variants x goal modes x seeds, with per-cell
 * overrides) read from a JSON spec, validated whole before anything starts, and expanded into the
 * cells `odac experiment` runs. The spec's keys (README "Experiments"):
 *   name (required)       [A-Za-z0-9._-], names results/<name>/ and each cell's run id
 *   envs, variants, seeds (required, non-empty, no repeats); goal_modes (["fixed"])
 *   budget (required)     env steps of every cell
 *   parallel (1)          cells run at once;  retries (2) extra starts of a failing cell
 *   base_port (20000)     first port; cell slot k uses base_port + 16 k
 *   runs_dir ("runs"), results_dir ("results")
 *   run {}                odac run options: actors, shards, num-envs, learner-threads
 *   learner {}            learner options (its --config keys), checked by odac-learner --check
 *   overrides []          {env?, variant?, goal_mode?, seed?, budget?, run?, learner?}: applied in
 *                         order to the cells they match; each must match at least one cell
 * Unknown keys anywhere are refused, with the path of the offending field in the message. */
#ifndef ODAC_EXPERIMENT_SPEC_H
#define ODAC_EXPERIMENT_SPEC_H
#include <stddef.h>

#define EXP_NAME_MAX 64
#define EXP_PATH_MAX 512
#define EXP_MAX_CELLS 4096
#define EXP_PORT_STRIDE 16 /* ports one odac run uses: base..base+2, base+5..base+12 (4 shards) */

typedef struct {
    char env[32], variant[32], goal_mode[8];
    int seed;
    long long budget;
    char *run_json;     /* the cell's odac run options, a JSON object (owned) */
    char *learner_json; /* the cell's learner options, a JSON object (owned) */
    char run_id[EXP_NAME_MAX + 96];
} exp_cell_t;

typedef struct {
    char name[EXP_NAME_MAX];
    char runs_dir[EXP_PATH_MAX], results_dir[EXP_PATH_MAX];
    int parallel, retries, base_port;
    int n_cells;
    exp_cell_t *cells;
    /* the grid's axes in the spec's order (tables and plots keep it) */
    int n_envs, n_variants;
    char envs[16][32], variants[16][32];
} exp_spec_t;

/* Parses and validates the JSON text; 0, or -1 with "FIELD: why" in err. */
int exp_spec_parse(const char *json, exp_spec_t *out, char *err, size_t errcap);
/* The text of a spec file (at most 1 MiB, no NUL; *text is malloc'd); a bare name (no '/', no
 * ".json") is a preset from presets_dir/<name>.json. 0, or -1 with a message. */
int exp_spec_read(const char *path_or_preset, const char *presets_dir, char **text, char *err,
                  size_t errcap);
/* Reads a spec file (at most 1 MiB); a bare name (no '/', no ".json") is a preset from
 * presets_dir/<name>.json. */
int exp_spec_load(const char *path_or_preset, const char *presets_dir, exp_spec_t *out, char *err,
                  size_t errcap);
void exp_spec_free(exp_spec_t *s);

/* Writes the message into err and returns -1 (the experiment modules' error convention). */
int exp_fail(char *err, size_t errcap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
