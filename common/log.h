/* log: one-line, timestamped messages to stderr, prefixed with the process's component name. */
#ifndef ODAC_LOG_H
#define ODAC_LOG_H

/* Name shown on every line, e.g. "replay-0"; the string is copied. */
void log_set_component(const char *name);
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
