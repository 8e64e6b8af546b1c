/* flags: command-line options for every odac process. Each option --foo-bar may also come from
 * the environment as ODAC_FOO_BAR (for containers) and, when the table has a "config" option,
 * from a JSON config file whose keys are the option names. Precedence, lowest first: the
 * default already in the destination, the config file, the environment, the command line.
 * Every value is validated (type, range); a bad one is an error naming the option and where the
 * value came from. */
#ifndef ODAC_FLAGS_H
#define ODAC_FLAGS_H
#include <stddef.h>
#include <stdio.h>

#define FLAGS_STR_MAX 512

typedef enum { FLAG_STRING, FLAG_INT, FLAG_DOUBLE, FLAG_BOOL } flag_type_t;

typedef struct {
    const char *name; /* without dashes, e.g. "insert-bind" */
    flag_type_t type;
    void *dest;      /* char[FLAGS_STR_MAX], long long, double or int (bool) */
    double min, max; /* inclusive range for FLAG_INT / FLAG_DOUBLE (ignored when min > max) */
    const char *help;
} flag_t;

/* Parses argv (argv[0] is skipped) over the table. Returns 0 on success, 1 when --help was
 * given (usage printed to stdout), -1 with a message on any bad input. Positional arguments are
 * refused unless positional is non-NULL, in which case they are left in positional[0..*n_pos). */
int flags_parse(const flag_t *flags, int n_flags, int argc, char **argv, const char *usage_line,
                char **positional, int *n_pos, char *err, size_t errcap);
/* flags_parse for a command that takes exactly one positional argument (odac eval RUN_DIR, odac
 * status ENDPOINT): *arg is it, or NULL when there were none or several (*n_pos says how many). */
int flags_parse_one(const flag_t *flags, int n_flags, int argc, char **argv, const char *usage_line,
                    const char **arg, int *n_pos, char *err, size_t errcap);
void flags_usage(FILE *out, const flag_t *flags, int n_flags, const char *usage_line);
/* Writes every option's current value as one JSON object (e.g. a run's variant.json). */
int flags_write_json(const flag_t *flags, int n_flags, const char *path, char *err, size_t errcap);
/* The option in the table with this name, or NULL. */
const flag_t *flags_find(const flag_t *flags, int n_flags, const char *name);
/* 1 if the option was set by the config file, the environment or the command line. */
int flags_was_set(const flag_t *flags, int n_flags, const char *name);

#endif
