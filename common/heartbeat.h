/* heartbeat: a file a process touches from its main loop, so a container health check can tell a
 * loop that runs from one that hangs (the file's age). Touching is throttled: a beat costs one
 * clock read except every HEARTBEAT_PERIOD_S. */
#ifndef ODAC_HEARTBEAT_H
#define ODAC_HEARTBEAT_H

#define HEARTBEAT_PERIOD_S 5.0

typedef struct {
    char path[512]; /* empty: disabled */
    double last_s;
} heartbeat_t;

/* path may be NULL or empty (no heartbeat). The first beat touches the file at once. */
void heartbeat_init(heartbeat_t *hb, const char *path);
/* Touches the file if HEARTBEAT_PERIOD_S passed since the last touch; 0, or -1 when the file
 * cannot be written (the caller may log it once). */
int heartbeat_beat(heartbeat_t *hb);

#endif
