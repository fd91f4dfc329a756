/* Durable directory operations; see fs.h for why each step is needed. */
#include "util/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int ss_fsync_dir(const char *path) {
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return -1;
    int r = fsync(fd);
    int e = errno;
    close(fd);
    errno = e;
    return r;
}

/* The directory part of path ("." when there is none), into out. */
static void parent_of(const char *path, char *out, size_t n) {
    const char *slash = strrchr(path, '/');
    if (!slash) snprintf(out, n, ".");
    else if (slash == path) snprintf(out, n, "/");
    else snprintf(out, n, "%.*s", (int)(slash - path), path);
}

static int mkdir_one(const char *path, mode_t mode, int durable) {
    struct stat st;
    if (stat(path, &st) == 0) {
        if (S_ISDIR(st.st_mode)) return 0;
        errno = ENOTDIR;
        return -1;
    }
    if (mkdir(path, mode) != 0) return errno == EEXIST ? 0 : -1;
    if (!durable) return 0;
    char parent[PATH_MAX];
    parent_of(path, parent, sizeof parent);
    return ss_fsync_dir(parent);
}

int ss_mkdir_p(const char *path, mode_t mode, int durable) {
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        int r = mkdir_one(tmp, mode, durable);
        *p = '/';
        if (r != 0) return -1;
    }
    return mkdir_one(tmp, mode, durable);
}

int ss_rename_durable(const char *from, const char *to, int durable) {
    if (rename(from, to) != 0) return -1;
    if (!durable) return 0;
    char parent[PATH_MAX];
    parent_of(to, parent, sizeof parent);
    return ss_fsync_dir(parent);
}
