/* parent_watch: a child of the local launcher ends with it. When ODAC_EXIT_WITH_PARENT holds the
 * launcher's pid (the launcher sets it), the process asks the kernel for SIGTERM when its parent
 * dies, so a launcher killed with SIGKILL leaves no orphaned learner, shard or actor behind. */
#ifndef ODAC_PARENT_WATCH_H
#define ODAC_PARENT_WATCH_H

/* Call first thing in main; the SIGTERM, when it comes, meets the process's own handler. */
void parent_watch_from_env(void);

#endif
