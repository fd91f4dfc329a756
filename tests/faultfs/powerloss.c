/* libsspowerloss.so and sspowerloss: power-loss simulation for the durability tests.
 *
 * `kill -9` leaves the page cache intact: everything a killed process wrote is still there
 * afterwards, fsynced or not, so a kill test cannot catch a missing or misordered fsync.
 * Power loss can. This shim (LD_PRELOAD) watches a tree and records what has been made
 * durable; after the process dies (a chosen Nth operation, a SKYSPOOL_CRASH_AT point, a
 * kill, or even a clean exit), `sspowerloss restore STATE` rolls the tree back to exactly
 * that durable state, in a fresh process, as a reboot would find it.
 *
 * The durability model is the strict POSIX one (what ALICE and CrashMonkey assume), and
 * the outcome it produces is the worst one, "everything not durable is gone":
 *   - a file's contents are durable as of its last fsync/fdatasync (any descriptor of the
 *     inode); writes, truncations and O_TRUNC after that are lost;
 *   - a directory's entries (creates, renames, unlinks, mkdirs, rmdirs in it) are durable
 *     as of the last fsync/fdatasync of the directory itself; a file whose entry is not
 *     durable vanishes (or, for a rename or unlink, its old name comes back), even if its
 *     data was fsynced; a durable entry of a file never fsynced is an empty file;
 *   - SQLite's -shm (a shared mmap, never fsynced) is dropped: SQLite rebuilds it.
 * Since only fsync/fdatasync change the durable state, the crash points that give distinct
 * outcomes are "just before each sync call" (SS_PL_OPS=sync); "before each write" adds
 * nothing on the disk side but moves what else (Redis) has happened by then.
 *
 * How: at the first load with a fresh STATE directory the shim copies the tree to
 * STATE/base (the durable state at the start; base.list has each entry's inode). Then,
 * under one lock, on every fsync/fdatasync of a descriptor under the tree it copies what
 * became durable to STATE/blob/: for a file its whole current content, for a directory
 * its listing (name, type, inode). Every O_CREAT that creates a file journals "new INO"
 * (inode numbers are reused, so a listing binds each entry to the inode's generation).
 * STATE/journal is appended line by line after each blob is complete, so the state is
 * consistent whenever the process dies, however. Restore replays the journal: the root's
 * listing (last dsync, else base), recursively; each file's content is the last blob of
 * its inode generation, else its base copy, else empty. It then empties the tree and
 * rebuilds it. Files here are small (the tests' archives and ledgers), so whole copies are
 * the simple, obviously correct choice.
 *
 * Shim configuration (environment, read at load):
 *   SS_PL_PATH=ROOT     the tree (a directory that exists); nothing outside it is touched
 *   SS_PL_STATE=DIR     state directory, outside ROOT; created if needed. If it holds a
 *                       base already, a later process continues the same "power cycle"
 *   SS_PL_OPS=LIST      which operations count, comma-separated (default all):
 *                         create  open/creat/fopen with O_CREAT or O_TRUNC ("w", "a")
 *                         write   write, pwrite, writev, pwritev, fwrite, fputs, fflush,
 *                                 ftruncate, truncate, fallocate
 *                         sync    fsync, fdatasync
 *                         rename  rename, renameat, renameat2
 *                         unlink  unlink, unlinkat, rmdir
 *                         mkdir   mkdir, mkdirat
 *   SS_PL_NTH=N         lose power just before the Nth counted operation of this process
 *                       (SIGKILL itself after journaling "power N OP PATH"); 0/unset: never
 *   SS_PL_TRACE=1       journal "op N OP PATH" for every counted operation
 * At exit, "exit PID OPS" is journaled (OPS = counted operations).
 *
 * Tool (the same source built with -DSS_PL_TOOL as `sspowerloss`):
 *   sspowerloss restore STATE   roll ROOT back to its durable state (prints a summary)
 *   sspowerloss show STATE      print the durable tree without touching anything
 *
 * Built without sanitizers. A sanitized program needs its runtime first:
 *   LD_PRELOAD="$(gcc -print-file-name=libasan.so):build/tests/faultfs/libsspowerloss.so"
 * Interposing works under ASan because every real call goes through dlsym(RTLD_NEXT).
 * Limits: one process at a time per STATE (threads are fine); no hard links, symlinks or
 * renamed directories inside ROOT; names without newlines. */
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#define PL_PATH 4096

static char g_root[PL_PATH] __attribute__((unused));  /* lexical, normalized */
static char g_rootr[PL_PATH]; /* realpath */
static char g_state[PL_PATH];

static int copy_fd_to_path(int src, const char *dst, mode_t mode);

/* ---- small helpers shared by the shim and the tool ------------------------------------- */

/* Normalizes an absolute path lexically: //, /./ and /x/../ go. */
__attribute__((unused)) static void normalize(char *p) {
    char out[PL_PATH];
    size_t o = 0;
    const char *s = p;
    while (*s) {
        while (*s == '/') s++;
        if (!*s) break;
        const char *e = strchr(s, '/');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if (n == 1 && s[0] == '.') {
        } else if (n == 2 && s[0] == '.' && s[1] == '.') {
            while (o > 0 && out[o - 1] != '/') o--;
            if (o > 0) o--;
        } else if (o + 1 + n < sizeof out) {
            out[o++] = '/';
            memcpy(out + o, s, n);
            o += n;
        }
        s += n;
    }
    if (o == 0) out[o++] = '/';
    out[o] = 0;
    memcpy(p, out, o + 1);
}

/* REL of abs under root ("." for root itself), or NULL. */
__attribute__((unused)) static const char *under(const char *abs, const char *root) {
    size_t n = strlen(root);
    if (!root[0] || strncmp(abs, root, n) != 0) return NULL;
    if (abs[n] == 0) return ".";
    if (abs[n] != '/') return NULL;
    return abs + n + 1;
}

#ifndef SS_PL_TOOL
/* ======================================================================================
 * The shim
 * ====================================================================================== */

enum { C_CREATE = 1, C_WRITE = 2, C_SYNC = 4, C_RENAME = 8, C_UNLINK = 16, C_MKDIR = 32 };
static const char *const cat_names[] = {"create", "write", "sync", "rename", "unlink", "mkdir"};

#define MAX_FDS 65536
static unsigned char g_tracked[MAX_FDS];
static int g_on, g_ops = 0x3f, g_trace, g_journal = -1;
static long g_nth, g_count, g_blobs;
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

#define REAL(ret, name, ...) static ret (*real_##name)(__VA_ARGS__)
REAL(int, open, const char *, int, ...);
REAL(int, openat, int, const char *, int, ...);
REAL(ssize_t, write, int, const void *, size_t);
REAL(int, close, int);
REAL(int, fsync, int);
REAL(int, fdatasync, int);
REAL(int, mkdir, const char *, mode_t);
REAL(int, rename, const char *, const char *);
#define LOAD(name) (*(void **)&real_##name = dlsym(RTLD_NEXT, #name))
/* Looked up on first use, for the interposers that are not needed internally. */
#define NEXT(ret, name, ...)                                     \
    static ret (*next_##name)(__VA_ARGS__);                      \
    if (!next_##name) *(void **)&next_##name = dlsym(RTLD_NEXT, #name)

static void write_all(int fd, const char *p, size_t n) {
    while (n > 0) {
        ssize_t w = real_write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return;
        p += w;
        n -= (size_t)w;
    }
}

static void jline(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void jline(const char *fmt, ...) {
    if (g_journal < 0) return;
    char b[PL_PATH + 256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b, sizeof b - 1, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n > sizeof b - 2) n = (int)sizeof b - 2;
    b[n++] = '\n';
    write_all(g_journal, b, (size_t)n); /* O_APPEND: one line per write */
}

/* Copies the tree under root into STATE/base, listing every entry in base.list. */
static int g_list_fd = -1;
static int snap_visit(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)ftw;
    const char *rel = under(path, g_rootr);
    if (!rel) return 0;
    char dst[PL_PATH];
    snprintf(dst, sizeof dst, "%s/base/%s", g_state, rel);
    char line[PL_PATH + 64];
    if (flag == FTW_D) {
        if (strcmp(rel, ".")) real_mkdir(dst, 0700);
        snprintf(line, sizeof line, "d %o %llu %s\n", (unsigned)(st->st_mode & 07777), (unsigned long long)st->st_ino,
                 rel);
    } else if (flag == FTW_F && S_ISREG(st->st_mode)) {
        int fd = real_open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) return 0;
        copy_fd_to_path(fd, dst, 0600);
        real_close(fd);
        snprintf(line, sizeof line, "f %o %llu %s\n", (unsigned)(st->st_mode & 07777), (unsigned long long)st->st_ino,
                 rel);
    } else {
        return 0;
    }
    write_all(g_list_fd, line, strlen(line));
    return 0;
}

static void snapshot_base(void) {
    char p[PL_PATH], tmp[PL_PATH];
    snprintf(p, sizeof p, "%s/base", g_state);
    real_mkdir(p, 0700);
    snprintf(p, sizeof p, "%s/blob", g_state);
    real_mkdir(p, 0700);
    snprintf(tmp, sizeof tmp, "%s/base.list.tmp", g_state);
    g_list_fd = real_open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (g_list_fd < 0) return;
    nftw(g_rootr, snap_visit, 32, FTW_PHYS);
    real_close(g_list_fd);
    g_list_fd = -1;
    snprintf(p, sizeof p, "%s/base.list", g_state);
    real_rename(tmp, p);
    snprintf(p, sizeof p, "%s/root", g_state);
    int fd = real_open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd >= 0) {
        write_all(fd, g_rootr, strlen(g_rootr));
        real_close(fd);
    }
}

static void init_once(void) {
    LOAD(open);
    LOAD(openat);
    LOAD(write);
    LOAD(close);
    LOAD(fsync);
    LOAD(fdatasync);
    LOAD(mkdir);
    LOAD(rename);
    const char *root = getenv("SS_PL_PATH"), *state = getenv("SS_PL_STATE"), *v;
    if (!root || !*root || !state || !*state || root[0] != '/' || state[0] != '/') return;
    snprintf(g_root, sizeof g_root, "%s", root);
    normalize(g_root);
    if (!realpath(g_root, g_rootr)) return;
    snprintf(g_state, sizeof g_state, "%s", state);
    normalize(g_state);
    if (under(g_state, g_root) || under(g_state, g_rootr)) return; /* the state must be outside */
    if ((v = getenv("SS_PL_OPS")) && *v) {
        g_ops = 0;
        for (size_t i = 0; i < sizeof cat_names / sizeof *cat_names; i++) {
            const char *p = v;
            size_t n = strlen(cat_names[i]);
            while ((p = strstr(p, cat_names[i]))) {
                if ((p == v || p[-1] == ',') && (p[n] == 0 || p[n] == ',')) g_ops |= 1 << i;
                p += n;
            }
        }
    }
    if ((v = getenv("SS_PL_NTH"))) g_nth = atol(v);
    g_trace = (v = getenv("SS_PL_TRACE")) && *v == '1';
    real_mkdir(g_state, 0700);
    char p[PL_PATH];
    snprintf(p, sizeof p, "%s/base.list", g_state);
    if (access(p, F_OK) != 0) snapshot_base();
    snprintf(p, sizeof p, "%s/journal", g_state);
    g_journal = real_open(p, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (g_journal >= 0 && g_journal < MAX_FDS) g_on = 1;
    jline("start %d", (int)getpid());
}
static void init(void) { pthread_once(&g_once, init_once); }

__attribute__((constructor)) static void pl_ctor(void) { init(); }
__attribute__((destructor)) static void pl_dtor(void) {
    if (g_on) jline("exit %d %ld", (int)getpid(), g_count);
}

/* The absolute, normalized form of (dirfd, path). */
static int absolute(int dirfd, const char *path, char *out, size_t outlen) {
    if (!path) return -1;
    char base[PL_PATH];
    if (path[0] == '/') {
        snprintf(out, outlen, "%s", path);
    } else {
        if (dirfd == AT_FDCWD) {
            if (!getcwd(base, sizeof base)) return -1;
        } else {
            char l[64];
            snprintf(l, sizeof l, "/proc/self/fd/%d", dirfd);
            ssize_t n = readlink(l, base, sizeof base - 1);
            if (n < 0) return -1;
            base[n] = 0;
        }
        snprintf(out, outlen, "%s/%s", base, path);
    }
    normalize(out);
    return 0;
}
static const char *rel_of(const char *abs) {
    const char *r = under(abs, g_rootr);
    return r ? r : under(abs, g_root);
}
/* Is (dirfd, path) under the root? Fills abs. */
static int in_tree(int dirfd, const char *path, char *abs, size_t abslen) {
    init();
    if (!g_on || absolute(dirfd, path, abs, abslen) != 0) return 0;
    return rel_of(abs) != NULL;
}
static int fd_in_tree(int fd) {
    init();
    return g_on && fd >= 0 && fd < MAX_FDS && g_tracked[fd];
}
static void fd_path(int fd, char *out, size_t outlen) {
    char l[64];
    snprintf(l, sizeof l, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(l, out, outlen - 1);
    if (n < 0) n = 0;
    out[n] = 0;
}
static const char *rel_or(const char *abs) {
    const char *r = rel_of(abs);
    return r ? r : abs;
}

/* Counts one operation (lock held); loses power when it is the Nth. */
static void count(int cat, const char *op, const char *abs) {
    if (!(g_ops & cat)) return;
    long n = ++g_count;
    if (g_trace) jline("op %ld %s %s", n, op, rel_or(abs));
    if (g_nth > 0 && n == g_nth) {
        jline("power %ld %s %s", n, op, rel_or(abs));
        kill(getpid(), SIGKILL);
        for (;;) pause();
    }
}
static void count_fd(int cat, const char *op, int fd) {
    if (!(g_ops & cat)) return;
    char abs[PL_PATH];
    fd_path(fd, abs, sizeof abs);
    count(cat, op, abs);
}

static int copy_fd_to_path(int src, const char *dst, mode_t mode) {
    int out = real_open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (out < 0) return -1;
    static char buf[1 << 16]; /* callers hold the lock (or run single-threaded at load) */
    off_t off = 0;
    for (;;) {
        ssize_t r = pread(src, buf, sizeof buf, off);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        write_all(out, buf, (size_t)r);
        off += r;
    }
    real_close(out);
    return 0;
}

/* After a successful sync of fd (lock held): records what became durable. */
static void record_sync(int fd) {
    struct stat st;
    if (fstat(fd, &st) != 0) return;
    char abs[PL_PATH], l[64], blob[PL_PATH], name[64];
    fd_path(fd, abs, sizeof abs);
    const char *rel = rel_of(abs);
    snprintf(l, sizeof l, "/proc/self/fd/%d", fd);
    /* A unique blob name: an exec'd program keeps the pid and restarts the counter. */
    int bfd = -1;
    for (int tries = 0; bfd < 0 && tries < 1000; tries++) {
        snprintf(name, sizeof name, "b%d-%ld", (int)getpid(), ++g_blobs);
        snprintf(blob, sizeof blob, "%s/blob/%s", g_state, name);
        bfd = real_open(blob, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    }
    if (bfd < 0) return;
    real_close(bfd);
    if (S_ISDIR(st.st_mode)) {
        if (!rel) return;
        int dfd = real_openat(AT_FDCWD, l, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0) return;
        DIR *d = fdopendir(dfd);
        if (!d) {
            real_close(dfd);
            return;
        }
        int out = real_open(blob, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        struct dirent *e;
        while (out >= 0 && (e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") || strchr(e->d_name, '\n')) continue;
            struct stat es;
            if (fstatat(dirfd(d), e->d_name, &es, AT_SYMLINK_NOFOLLOW) != 0) continue;
            char line[PL_PATH];
            if (!S_ISDIR(es.st_mode) && !S_ISREG(es.st_mode)) continue;
            snprintf(line, sizeof line, "%c %o %llu %s\n", S_ISDIR(es.st_mode) ? 'd' : 'f',
                     (unsigned)(es.st_mode & 07777), (unsigned long long)es.st_ino, e->d_name);
            write_all(out, line, strlen(line));
        }
        closedir(d);
        if (out < 0) return;
        real_close(out);
        jline("dsync %s %s", name, rel);
    } else if (S_ISREG(st.st_mode)) {
        int src = real_openat(AT_FDCWD, l, O_RDONLY | O_CLOEXEC);
        if (src < 0) return;
        copy_fd_to_path(src, blob, 0600);
        real_close(src);
        jline("fsync %s %llu %s", name, (unsigned long long)st.st_ino, rel ? rel : abs);
    }
}

static void track(int fd, int on) {
    if (fd >= 0 && fd < MAX_FDS) g_tracked[fd] = (unsigned char)on;
}

/* ---- open ------------------------------------------------------------------------------ */

static mode_t mode_arg(int flags, va_list ap) {
    return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ? (mode_t)va_arg(ap, int) : 0;
}

/* Runs an open-like call under the lock when it may create or truncate a file in the tree:
 * counts it, and journals "new INO" when it created the file. */
#define DO_OPEN(dirfd, path, flags, call)                                                   \
    do {                                                                                    \
        char abs_[PL_PATH];                                                                 \
        if (!in_tree(dirfd, path, abs_, sizeof abs_)) return call;                          \
        if (!((flags) & (O_CREAT | O_TRUNC))) {                                             \
            int fd_ = call;                                                                 \
            track(fd_, 1);                                                                  \
            return fd_;                                                                     \
        }                                                                                   \
        pthread_mutex_lock(&g_mu);                                                          \
        count(C_CREATE, "create", abs_);                                                    \
        struct stat st_;                                                                    \
        int existed_ = lstat(abs_, &st_) == 0;                                              \
        int fd_ = call;                                                                     \
        int e_ = errno;                                                                     \
        if (fd_ >= 0) {                                                                     \
            track(fd_, 1);                                                                  \
            if (!existed_ && fstat(fd_, &st_) == 0)                                         \
                jline("new %llu %s", (unsigned long long)st_.st_ino, rel_or(abs_));         \
        }                                                                                   \
        pthread_mutex_unlock(&g_mu);                                                        \
        errno = e_;                                                                         \
        return fd_;                                                                         \
    } while (0)

#define OPEN_LIKE(name)                                                   \
    int name(const char *path, int flags, ...) {                          \
        va_list ap;                                                       \
        va_start(ap, flags);                                              \
        mode_t mode = mode_arg(flags, ap);                                \
        va_end(ap);                                                       \
        NEXT(int, name, const char *, int, ...);                          \
        DO_OPEN(AT_FDCWD, path, flags, next_##name(path, flags, mode));   \
    }
OPEN_LIKE(open)
OPEN_LIKE(open64)
#define OPENAT_LIKE(name)                                                     \
    int name(int dirfd, const char *path, int flags, ...) {                   \
        va_list ap;                                                           \
        va_start(ap, flags);                                                  \
        mode_t mode = mode_arg(flags, ap);                                    \
        va_end(ap);                                                           \
        NEXT(int, name, int, const char *, int, ...);                         \
        DO_OPEN(dirfd, path, flags, next_##name(dirfd, path, flags, mode));   \
    }
OPENAT_LIKE(openat)
OPENAT_LIKE(openat64)
int __open_2(const char *path, int flags) {
    NEXT(int, __open_2, const char *, int);
    DO_OPEN(AT_FDCWD, path, flags, next___open_2(path, flags));
}
int __open64_2(const char *path, int flags) {
    NEXT(int, __open64_2, const char *, int);
    DO_OPEN(AT_FDCWD, path, flags, next___open64_2(path, flags));
}
int __openat_2(int dirfd, const char *path, int flags) {
    NEXT(int, __openat_2, int, const char *, int);
    DO_OPEN(dirfd, path, flags, next___openat_2(dirfd, path, flags));
}
int creat(const char *path, mode_t mode) {
    NEXT(int, creat, const char *, mode_t);
    DO_OPEN(AT_FDCWD, path, O_CREAT | O_TRUNC, next_creat(path, mode));
}
int creat64(const char *path, mode_t mode) {
    NEXT(int, creat64, const char *, mode_t);
    DO_OPEN(AT_FDCWD, path, O_CREAT | O_TRUNC, next_creat64(path, mode));
}

static FILE *do_fopen(FILE *(*fn)(const char *, const char *), const char *path, const char *mode) {
    char abs[PL_PATH];
    if (!in_tree(AT_FDCWD, path, abs, sizeof abs)) return fn(path, mode);
    int creates = mode && (mode[0] == 'w' || mode[0] == 'a');
    if (!creates) {
        FILE *f = fn(path, mode);
        if (f) track(fileno(f), 1);
        return f;
    }
    pthread_mutex_lock(&g_mu);
    count(C_CREATE, "create", abs);
    struct stat st;
    int existed = lstat(abs, &st) == 0;
    FILE *f = fn(path, mode);
    int e = errno;
    if (f) {
        track(fileno(f), 1);
        if (!existed && fstat(fileno(f), &st) == 0) jline("new %llu %s", (unsigned long long)st.st_ino, rel_or(abs));
    }
    pthread_mutex_unlock(&g_mu);
    errno = e;
    return f;
}
FILE *fopen(const char *path, const char *mode) {
    NEXT(FILE *, fopen, const char *, const char *);
    return do_fopen(next_fopen, path, mode);
}
FILE *fopen64(const char *path, const char *mode) {
    NEXT(FILE *, fopen64, const char *, const char *);
    return do_fopen(next_fopen64, path, mode);
}

/* ---- data -------------------------------------------------------------------------------- */

/* A counted call on a tracked descriptor, under the lock (so a sync's copy never races a
 * write of another thread). */
#define ON_FD(fd, cat, op, call)                  \
    do {                                          \
        if (!fd_in_tree(fd)) return call;         \
        pthread_mutex_lock(&g_mu);                \
        count_fd(cat, op, fd);                    \
        __typeof__(call) r_ = call;               \
        int e_ = errno;                           \
        pthread_mutex_unlock(&g_mu);              \
        errno = e_;                               \
        return r_;                                \
    } while (0)

ssize_t write(int fd, const void *p, size_t n) {
    init();
    ON_FD(fd, C_WRITE, "write", real_write(fd, p, n));
}
ssize_t pwrite(int fd, const void *p, size_t n, off_t off) {
    NEXT(ssize_t, pwrite, int, const void *, size_t, off_t);
    ON_FD(fd, C_WRITE, "write", next_pwrite(fd, p, n, off));
}
ssize_t pwrite64(int fd, const void *p, size_t n, off_t off) {
    NEXT(ssize_t, pwrite64, int, const void *, size_t, off_t);
    ON_FD(fd, C_WRITE, "write", next_pwrite64(fd, p, n, off));
}
ssize_t writev(int fd, const struct iovec *iov, int cnt) {
    NEXT(ssize_t, writev, int, const struct iovec *, int);
    ON_FD(fd, C_WRITE, "write", next_writev(fd, iov, cnt));
}
ssize_t pwritev(int fd, const struct iovec *iov, int cnt, off_t off) {
    NEXT(ssize_t, pwritev, int, const struct iovec *, int, off_t);
    ON_FD(fd, C_WRITE, "write", next_pwritev(fd, iov, cnt, off));
}
ssize_t pwritev64(int fd, const struct iovec *iov, int cnt, off_t off) {
    NEXT(ssize_t, pwritev64, int, const struct iovec *, int, off_t);
    ON_FD(fd, C_WRITE, "write", next_pwritev64(fd, iov, cnt, off));
}
int ftruncate(int fd, off_t len) {
    NEXT(int, ftruncate, int, off_t);
    ON_FD(fd, C_WRITE, "truncate", next_ftruncate(fd, len));
}
int ftruncate64(int fd, off_t len) {
    NEXT(int, ftruncate64, int, off_t);
    ON_FD(fd, C_WRITE, "truncate", next_ftruncate64(fd, len));
}
int fallocate(int fd, int mode, off_t off, off_t len) {
    NEXT(int, fallocate, int, int, off_t, off_t);
    ON_FD(fd, C_WRITE, "fallocate", next_fallocate(fd, mode, off, len));
}
int posix_fallocate(int fd, off_t off, off_t len) {
    NEXT(int, posix_fallocate, int, off_t, off_t);
    ON_FD(fd, C_WRITE, "fallocate", next_posix_fallocate(fd, off, len));
}
size_t fwrite(const void *p, size_t size, size_t n, FILE *f) {
    NEXT(size_t, fwrite, const void *, size_t, size_t, FILE *);
    int fd = fileno(f);
    ON_FD(fd, C_WRITE, "write", next_fwrite(p, size, n, f));
}
int fputs(const char *s, FILE *f) {
    NEXT(int, fputs, const char *, FILE *);
    int fd = fileno(f);
    ON_FD(fd, C_WRITE, "write", next_fputs(s, f));
}
int fflush(FILE *f) {
    NEXT(int, fflush, FILE *);
    int fd = f ? fileno(f) : -1;
    ON_FD(fd, C_WRITE, "write", next_fflush(f));
}
static int do_truncate(const char *path, off_t len, int (*fn)(const char *, off_t)) {
    char abs[PL_PATH];
    if (!in_tree(AT_FDCWD, path, abs, sizeof abs)) return fn(path, len);
    pthread_mutex_lock(&g_mu);
    count(C_WRITE, "truncate", abs);
    int r = fn(path, len), e = errno;
    pthread_mutex_unlock(&g_mu);
    errno = e;
    return r;
}
int truncate(const char *path, off_t len) {
    NEXT(int, truncate, const char *, off_t);
    return do_truncate(path, len, next_truncate);
}
int truncate64(const char *path, off_t len) {
    NEXT(int, truncate64, const char *, off_t);
    return do_truncate(path, len, next_truncate64);
}

/* ---- sync, close ------------------------------------------------------------------------- */

static int do_sync(int fd, int (*fn)(int), const char *op) {
    init();
    if (!fd_in_tree(fd)) return fn(fd);
    pthread_mutex_lock(&g_mu);
    count_fd(C_SYNC, op, fd);
    int r = fn(fd), e = errno;
    if (r == 0) record_sync(fd);
    pthread_mutex_unlock(&g_mu);
    errno = e;
    return r;
}
int fsync(int fd) {
    init();
    return do_sync(fd, real_fsync, "fsync");
}
int fdatasync(int fd) {
    init();
    return do_sync(fd, real_fdatasync, "fdatasync");
}
int close(int fd) {
    init();
    track(fd, 0);
    return real_close(fd);
}
int fclose(FILE *f) {
    NEXT(int, fclose, FILE *);
    track(fileno(f), 0);
    return next_fclose(f);
}

/* ---- names ------------------------------------------------------------------------------ */

/* A counted namespace call on one or two paths. */
static int names2(int cat, const char *op, int fd1, const char *p1, int fd2, const char *p2, int is_mkdir) {
    (void)is_mkdir;
    char a1[PL_PATH], a2[PL_PATH];
    int in1 = in_tree(fd1, p1, a1, sizeof a1), in2 = p2 && in_tree(fd2, p2, a2, sizeof a2);
    if (!in1 && !in2) return 0;
    pthread_mutex_lock(&g_mu);
    count(cat, op, in2 ? a2 : a1);
    return 1; /* caller runs the call, then unlocks */
}
static int names_done(int r) {
    int e = errno;
    pthread_mutex_unlock(&g_mu);
    errno = e;
    return r;
}

#define NAMES(cat, op, fd1, p1, fd2, p2, call)                      \
    do {                                                            \
        if (!names2(cat, op, fd1, p1, fd2, p2, 0)) return call;     \
        return names_done(call);                                    \
    } while (0)

int rename(const char *from, const char *to) {
    init();
    NAMES(C_RENAME, "rename", AT_FDCWD, from, AT_FDCWD, to, real_rename(from, to));
}
int renameat(int fd1, const char *from, int fd2, const char *to) {
    NEXT(int, renameat, int, const char *, int, const char *);
    NAMES(C_RENAME, "rename", fd1, from, fd2, to, next_renameat(fd1, from, fd2, to));
}
int renameat2(int fd1, const char *from, int fd2, const char *to, unsigned flags) {
    NEXT(int, renameat2, int, const char *, int, const char *, unsigned);
    NAMES(C_RENAME, "rename", fd1, from, fd2, to, next_renameat2(fd1, from, fd2, to, flags));
}
int unlink(const char *path) {
    NEXT(int, unlink, const char *);
    NAMES(C_UNLINK, "unlink", AT_FDCWD, path, AT_FDCWD, NULL, next_unlink(path));
}
int unlinkat(int dirfd, const char *path, int flags) {
    NEXT(int, unlinkat, int, const char *, int);
    NAMES(C_UNLINK, "unlink", dirfd, path, AT_FDCWD, NULL, next_unlinkat(dirfd, path, flags));
}
int rmdir(const char *path) {
    NEXT(int, rmdir, const char *);
    NAMES(C_UNLINK, "rmdir", AT_FDCWD, path, AT_FDCWD, NULL, next_rmdir(path));
}
int mkdir(const char *path, mode_t mode) {
    init();
    NAMES(C_MKDIR, "mkdir", AT_FDCWD, path, AT_FDCWD, NULL, real_mkdir(path, mode));
}
int mkdirat(int dirfd, const char *path, mode_t mode) {
    NEXT(int, mkdirat, int, const char *, mode_t);
    NAMES(C_MKDIR, "mkdir", dirfd, path, AT_FDCWD, NULL, next_mkdirat(dirfd, path, mode));
}

#else /* SS_PL_TOOL */
/* ======================================================================================
 * The tool: replays STATE and rebuilds ROOT
 * ====================================================================================== */

static void join(char *out, size_t outlen, const char *a, const char *b) {
    if (!strcmp(a, ".")) snprintf(out, outlen, "%s", b);
    else snprintf(out, outlen, "%s/%s", a, b);
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...) {
    char b[PL_PATH + 256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b, sizeof b, fmt, ap);
    va_end(ap);
    fprintf(stderr, "sspowerloss: %s\n", b);
    exit(1);
}


typedef struct {
    unsigned long long ino;
    unsigned gen;
    char blob[64];
} content_t;
typedef struct {
    char type;
    unsigned mode;
    unsigned long long ino;
    unsigned gen;
    char *name;
} entry_t;
typedef struct {
    char *rel;
    entry_t *e;
    size_t n;
} listing_t;
typedef struct {
    char type;
    unsigned mode;
    unsigned long long ino;
    char *rel;
} base_t;

static content_t *g_content;
static size_t g_ncontent;
static listing_t *g_list;
static size_t g_nlist;
static base_t *g_base;
static size_t g_nbase;
static struct {
    unsigned long long ino;
    unsigned gen;
} *g_gen;
static size_t g_ngen;
static long g_files, g_dirs, g_from_blob, g_from_base, g_empty, g_dropped;
static int g_dry;

static void *grow(void *p, size_t n, size_t size) {
    if ((n & (n - 1)) == 0) { /* n is 0 or a power of two: double */
        p = realloc(p, (n ? 2 * n : 8) * size);
        if (!p) die("out of memory");
    }
    return p;
}
static unsigned gen_of(unsigned long long ino) {
    for (size_t i = 0; i < g_ngen; i++)
        if (g_gen[i].ino == ino) return g_gen[i].gen;
    return 0;
}
static void gen_bump(unsigned long long ino) {
    for (size_t i = 0; i < g_ngen; i++)
        if (g_gen[i].ino == ino) {
            g_gen[i].gen++;
            return;
        }
    g_gen = grow(g_gen, g_ngen, sizeof *g_gen);
    g_gen[g_ngen].ino = ino;
    g_gen[g_ngen++].gen = 1;
}

static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0;
    char *b = malloc(cap + 1);
    size_t r;
    while (b && (r = fread(b + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap) b = realloc(b, (cap *= 2) + 1);
    }
    fclose(f);
    if (!b) die("out of memory");
    b[n] = 0;
    if (len) *len = n;
    return b;
}

/* "T MODE INO NAME" */
static int parse_entry(char *line, char *type, unsigned *mode, unsigned long long *ino, char **name) {
    char *sp1, *sp2, *sp3;
    if (!line[0] || line[1] != ' ') return -1;
    *type = line[0];
    *mode = (unsigned)strtoul(line + 2, &sp1, 8);
    if (*sp1 != ' ') return -1;
    *ino = strtoull(sp1 + 1, &sp2, 10);
    if (*sp2 != ' ') return -1;
    sp3 = sp2 + 1;
    *name = sp3;
    return 0;
}

static void load_base(void) {
    char p[PL_PATH];
    snprintf(p, sizeof p, "%s/base.list", g_state);
    char *b = read_file(p, NULL);
    if (!b) die("%s: no base.list (was the shim ever loaded with SS_PL_STATE=%s?)", g_state, g_state);
    for (char *line = strtok(b, "\n"); line; line = strtok(NULL, "\n")) {
        base_t x;
        char *name;
        if (parse_entry(line, &x.type, &x.mode, &x.ino, &name) != 0) continue;
        x.rel = strdup(name);
        g_base = grow(g_base, g_nbase, sizeof *g_base);
        g_base[g_nbase++] = x;
    }
    free(b);
}

static listing_t *find_listing(const char *rel) {
    for (size_t i = 0; i < g_nlist; i++)
        if (!strcmp(g_list[i].rel, rel)) return &g_list[i];
    return NULL;
}

static void replay(void) {
    char p[PL_PATH];
    snprintf(p, sizeof p, "%s/journal", g_state);
    char *j = read_file(p, NULL);
    if (!j) return; /* nothing happened */
    char *save = NULL;
    for (char *line = strtok_r(j, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char blob[64];
        unsigned long long ino;
        int off = 0;
        if (sscanf(line, "new %llu %n", &ino, &off) == 1 && off) {
            gen_bump(ino);
        } else if (sscanf(line, "fsync %63s %llu %n", blob, &ino, &off) == 2 && off) {
            unsigned g = gen_of(ino);
            size_t i;
            for (i = 0; i < g_ncontent; i++)
                if (g_content[i].ino == ino && g_content[i].gen == g) break;
            if (i == g_ncontent) {
                g_content = grow(g_content, g_ncontent, sizeof *g_content);
                g_ncontent++;
            }
            g_content[i].ino = ino;
            g_content[i].gen = g;
            snprintf(g_content[i].blob, sizeof g_content[i].blob, "%s", blob);
        } else if (sscanf(line, "dsync %63s %n", blob, &off) == 1 && off) {
            const char *rel = line + off;
            char bp[PL_PATH];
            snprintf(bp, sizeof bp, "%s/blob/%s", g_state, blob);
            char *b = read_file(bp, NULL);
            if (!b) die("missing blob %s", bp);
            listing_t *L = find_listing(rel);
            if (!L) {
                g_list = grow(g_list, g_nlist, sizeof *g_list);
                L = &g_list[g_nlist++];
                L->rel = strdup(rel);
            } else {
                for (size_t i = 0; i < L->n; i++) free(L->e[i].name);
                free(L->e);
            }
            L->e = NULL;
            L->n = 0;
            char *s2 = NULL;
            for (char *el = strtok_r(b, "\n", &s2); el; el = strtok_r(NULL, "\n", &s2)) {
                entry_t e;
                char *name;
                if (parse_entry(el, &e.type, &e.mode, &e.ino, &name) != 0) continue;
                e.name = strdup(name);
                e.gen = gen_of(e.ino);
                L->e = grow(L->e, L->n, sizeof *L->e);
                L->e[L->n++] = e;
            }
            free(b);
        }
    }
    free(j);
}

/* The durable entries of directory rel (caller frees the array, not the names). */
static entry_t *entries_of(const char *rel, size_t *n) {
    *n = 0;
    listing_t *L = find_listing(rel);
    entry_t *out = NULL;
    if (L) {
        for (size_t i = 0; i < L->n; i++) {
            out = grow(out, *n, sizeof *out);
            out[(*n)++] = L->e[i];
        }
        return out;
    }
    size_t rl = strlen(rel);
    for (size_t i = 0; i < g_nbase; i++) {
        const char *r = g_base[i].rel, *name;
        if (!strcmp(r, ".")) continue;
        if (!strcmp(rel, ".")) {
            if (strchr(r, '/')) continue;
            name = r;
        } else {
            if (strncmp(r, rel, rl) || r[rl] != '/' || strchr(r + rl + 1, '/')) continue;
            name = r + rl + 1;
        }
        out = grow(out, *n, sizeof *out);
        out[(*n)++] = (entry_t){g_base[i].type, g_base[i].mode, g_base[i].ino, 0, (char *)name};
    }
    return out;
}

static const char *base_rel_of_file(unsigned long long ino) {
    for (size_t i = 0; i < g_nbase; i++)
        if (g_base[i].type == 'f' && g_base[i].ino == ino) return g_base[i].rel;
    return NULL;
}

static void copy_path(const char *src, const char *dst, unsigned mode) {
    int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0) die("cannot open %s: %s", src, strerror(errno));
    if (copy_fd_to_path(in, dst, mode) != 0) die("cannot write %s: %s", dst, strerror(errno));
    close(in);
}
static int copy_fd_to_path(int src, const char *dst, mode_t mode) {
    int out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (out < 0) return -1;
    static char buf[1 << 16];
    ssize_t r;
    while ((r = read(src, buf, sizeof buf)) > 0)
        if (write(out, buf, (size_t)r) != r) die("short write to %s", dst);
    close(out);
    return 0;
}

static void build(const char *rel, int depth) {
    if (depth > 64) die("tree too deep at %s", rel);
    size_t n;
    entry_t *e = entries_of(rel, &n);
    for (size_t i = 0; i < n; i++) {
        char crel[PL_PATH], dst[PL_PATH];
        join(crel, sizeof crel, rel, e[i].name);
        snprintf(dst, sizeof dst, "%s/%s", g_rootr, crel);
        if (e[i].type == 'd') {
            g_dirs++;
            if (g_dry) printf("d %s/\n", crel);
            else if (mkdir(dst, e[i].mode ? e[i].mode : 0755) != 0) die("mkdir %s: %s", dst, strerror(errno));
            build(crel, depth + 1);
            continue;
        }
        size_t nl = strlen(e[i].name);
        if (nl > 4 && !strcmp(e[i].name + nl - 4, "-shm")) { /* SQLite's shared memory: rebuilt */
            g_dropped++;
            continue;
        }
        g_files++;
        const char *blob = NULL;
        for (size_t k = 0; k < g_ncontent; k++)
            if (g_content[k].ino == e[i].ino && g_content[k].gen == e[i].gen) blob = g_content[k].blob;
        const char *brel = e[i].gen == 0 ? base_rel_of_file(e[i].ino) : NULL;
        char src[PL_PATH];
        if (blob) {
            g_from_blob++;
            snprintf(src, sizeof src, "%s/blob/%s", g_state, blob);
        } else if (brel) {
            g_from_base++;
            snprintf(src, sizeof src, "%s/base/%s", g_state, brel);
        } else {
            g_empty++;
            src[0] = 0;
        }
        if (g_dry) {
            struct stat st;
            long long sz = src[0] && stat(src, &st) == 0 ? (long long)st.st_size : 0;
            printf("f %s %lld %s\n", crel, sz, blob ? "synced" : brel ? "base" : "empty");
            continue;
        }
        if (src[0]) copy_path(src, dst, e[i].mode ? e[i].mode : 0644);
        else {
            int fd = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, e[i].mode ? e[i].mode : 0644);
            if (fd < 0) die("create %s: %s", dst, strerror(errno));
            close(fd);
        }
    }
    free(e);
}

static int rm_visit(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st;
    (void)flag;
    if (ftw->level == 0) return 0; /* the root itself stays */
    if (remove(path) != 0) die("cannot remove %s: %s", path, strerror(errno));
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 3 || (strcmp(argv[1], "restore") && strcmp(argv[1], "show"))) {
        fprintf(stderr,
                "usage: sspowerloss restore STATE   roll SS_PL_PATH back to its durable state\n"
                "       sspowerloss show STATE      print the durable tree\n"
                "STATE is the SS_PL_STATE the shim (libsspowerloss.so) ran with; see powerloss.c.\n");
        return 2;
    }
    g_dry = !strcmp(argv[1], "show");
    snprintf(g_state, sizeof g_state, "%s", argv[2]);
    char p[PL_PATH];
    snprintf(p, sizeof p, "%s/root", g_state);
    char *root = read_file(p, NULL);
    if (!root || !root[0]) die("%s: no root file (was the shim ever loaded with SS_PL_STATE=%s?)", g_state, g_state);
    snprintf(g_rootr, sizeof g_rootr, "%s", root);
    free(root);
    load_base();
    replay();
    if (!g_dry) nftw(g_rootr, rm_visit, 32, FTW_DEPTH | FTW_PHYS);
    build(".", 0);
    fprintf(stderr, "sspowerloss: %s %s: %ld dirs, %ld files (%ld as last fsynced, %ld unchanged, %ld empty), %ld -shm dropped\n",
            g_dry ? "durable state of" : "restored", g_rootr, g_dirs, g_files, g_from_blob, g_from_base, g_empty,
            g_dropped);
    return 0;
}
#endif
