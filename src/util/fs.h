/* Durable directory operations, shared by everything that writes files: the archive's part
 * files, the writer's data dir and archive root, and convert's output.
 *
 * A file or directory exists after a power cut only once the directory holding its entry
 * has been fsynced: fsyncing the file itself is not enough (tests/faultfs/powerloss.c
 * drops every entry whose parent was not synced). So a directory created here is made
 * durable by fsyncing its parent, and a rename is completed by fsyncing the target's
 * directory. */
#ifndef SS_UTIL_FS_H
#define SS_UTIL_FS_H

#include <sys/types.h>

/* fsync of a directory by path. Returns 0, or -1 with errno. */
int ss_fsync_dir(const char *path);
/* mkdir -p: creates every missing directory of path with mode; with durable, each one it
 * creates is made durable (its parent fsynced). An existing non-directory is ENOTDIR.
 * Returns 0, or -1 with errno. */
int ss_mkdir_p(const char *path, mode_t mode, int durable);
/* rename(from, to), then with durable the fsync of to's directory. */
int ss_rename_durable(const char *from, const char *to, int durable);

#endif
