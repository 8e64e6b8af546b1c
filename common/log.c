/* log: stderr lines "2026-11-25T19:40:00.123Z replay-0 INFO message". */
#include "log.h"
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static char component[64] = "odac";

void log_set_component(const char *name) {
    snprintf(component, sizeof component, "%s", name);
}

static void log_line(const char *level, const char *fmt, va_list ap) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char msg[2048];
    vsnprintf(msg, sizeof msg, fmt, ap);
    fprintf(stderr, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s %s %s\n", tm.tm_year + 1900,
            tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000,
            component, level, msg);
}

#define LOG_FN(fn, level)                                                                          \
    void fn(const char *fmt, ...) {                                                                \
        va_list ap;                                                                                \
        va_start(ap, fmt);                                                                         \
        log_line(level, fmt, ap);                                                                  \
        va_end(ap);                                                                                \
    }
LOG_FN(log_info, "INFO")
LOG_FN(log_warn, "WARN")
LOG_FN(log_error, "ERROR")
