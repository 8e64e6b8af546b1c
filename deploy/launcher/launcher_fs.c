/* launcher_fs: file-system helpers the launcher's commands share. */
#include "launcher_fs.h"
#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>

int launcher_mkdir_p(const char *path) {
    char tmp[2048];
    if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, 0755) != 0 && errno != EEXIST) return -1;
            *p = '/';
        }
    return mkdir(tmp, 0755) != 0 && errno != EEXIST ? -1 : 0;
}
