/* launcher_fs: file-system helpers the launcher's commands share. */
#ifndef ODAC_LAUNCHER_FS_H
#define ODAC_LAUNCHER_FS_H

/* mkdir -p: creates path and its missing parents (0755); 0, or -1 with errno. */
int launcher_mkdir_p(const char *path);

#endif
