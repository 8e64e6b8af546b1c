/* parent_watch: PR_SET_PDEATHSIG on request of the environment. */
#include "parent_watch.h"
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <unistd.h>

void parent_watch_from_env(void) {
    const char *v = getenv("ODAC_EXIT_WITH_PARENT");
    if (!v || !*v) return;
    pid_t launcher = (pid_t)atol(v);
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    /* The launcher may have died before the prctl: then we were reparented already. */
    if (getppid() != launcher) raise(SIGTERM);
}
