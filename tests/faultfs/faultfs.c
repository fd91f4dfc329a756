/* libssfaultfs.so: I/O fault injection for tests, loaded with LD_PRELOAD.
 *
 * SQLite-style: a run first counts the I/O calls a program makes on the files under test,
 * then reruns it once for every N, failing exactly the Nth call with a chosen errno
 * (ENOSPC, EIO, EACCES, ...), and checks that the program reports a clear error and leaves
 * no partial file under a final name. No mocks: the real program runs on the real file
 * system; only the one call fails, as a full disk or a failing device would make it fail.
 *
 * Configuration (environment; read once at load):
 *   SS_FAULT_PATH=PREFIX   count only calls on paths starting with PREFIX (and on file
 *                          descriptors and FILE streams opened from such paths). Unset:
 *                          every path. stdin/stdout/stderr, sockets and pipes are never
 *                          counted: only descriptors opened by path are.
 *   SS_FAULT_OPS=LIST      which calls count, comma-separated (default: all):
 *                            open   open, open64, openat, creat, fopen (and _FORTIFY variants)
 *                            read   read, pread, fread
 *                            write  write, pwrite, writev, fwrite, fputs, fflush
 *                            fsync  fsync, fdatasync
 *                            rename rename, renameat, renameat2
 *                            close  close, fclose (the descriptor is closed, then the error returned)
 *                            mkdir  mkdir
 *                            unlink unlink, unlinkat
 *   SS_FAULT_NTH=N         fail the Nth counted call (1-based); 0 or unset: count only
 *   SS_FAULT_ERRNO=E       ENOSPC, EIO (default), EACCES, EROFS, EDQUOT, EPERM, or a number
 *   SS_FAULT_PERSIST=1     after the Nth, every counted call fails too (a disk that stays full)
 *   SS_FAULT_REPORT=FILE   at exit, append "calls=C failed=F" (C = counted calls)
 *   SS_FAULT_TRACE=1       with SS_FAULT_REPORT: also append one line per counted call,
 *                          "N op path" (and "FAIL" on the failed one)
 *
 * A failed write or fsync does nothing; a failed open opens nothing; a failed rename
 * renames nothing; a failed close still closes. Counting is thread-safe.
 *
 * With a sanitized (ASan) program, preload the sanitizer runtime first:
 *   LD_PRELOAD="$(gcc -print-file-name=libasan.so):build/tests/faultfs/libssfaultfs.so"
 * tests/faultfs/faultfs.sh has helpers that do this. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

enum { OP_OPEN = 1, OP_READ = 2, OP_WRITE = 4, OP_FSYNC = 8, OP_RENAME = 16, OP_CLOSE = 32, OP_MKDIR = 64, OP_UNLINK = 128 };
static const char *const op_names[] = {"open", "read", "write", "fsync", "rename", "close", "mkdir", "unlink"};

#define MAX_FDS 65536
static unsigned char tracked[MAX_FDS]; /* fd opened by a counted path */
static char prefix[4096];
static size_t prefix_len;
static int has_prefix, ops_mask = 0xff, fail_errno = EIO, persist, trace;
static long nth;
static long calls, failed;
static char report[4096];
static int ready;

static int name_to_errno(const char *s) {
    static const struct {
        const char *n;
        int e;
    } t[] = {{"ENOSPC", ENOSPC}, {"EIO", EIO}, {"EACCES", EACCES}, {"EROFS", EROFS}, {"EDQUOT", EDQUOT}, {"EPERM", EPERM},
             {"EFBIG", EFBIG},   {"EINTR", EINTR}, {"EMFILE", EMFILE}, {"ENOENT", ENOENT}};
    for (size_t i = 0; i < sizeof t / sizeof *t; i++)
        if (!strcmp(s, t[i].n)) return t[i].e;
    int v = atoi(s);
    return v > 0 ? v : EIO;
}

static void init(void) {
    if (ready) return;
    const char *v;
    if ((v = getenv("SS_FAULT_PATH")) && *v) {
        snprintf(prefix, sizeof prefix, "%s", v);
        prefix_len = strlen(prefix);
        has_prefix = 1;
    }
    if ((v = getenv("SS_FAULT_OPS")) && *v) {
        ops_mask = 0;
        for (size_t i = 0; i < sizeof op_names / sizeof *op_names; i++) {
            const char *p = v;
            size_t n = strlen(op_names[i]);
            while ((p = strstr(p, op_names[i]))) {
                if ((p == v || p[-1] == ',') && (p[n] == 0 || p[n] == ',')) ops_mask |= 1 << i;
                p += n;
            }
        }
    }
    if ((v = getenv("SS_FAULT_NTH"))) nth = atol(v);
    if ((v = getenv("SS_FAULT_ERRNO")) && *v) fail_errno = name_to_errno(v);
    persist = (v = getenv("SS_FAULT_PERSIST")) && *v == '1';
    if ((v = getenv("SS_FAULT_REPORT")) && *v) snprintf(report, sizeof report, "%s", v);
    trace = (v = getenv("SS_FAULT_TRACE")) && *v == '1' && report[0];
    ready = 1;
}

#define REAL(ret, name, ...)                                            \
    static ret (*real_##name)(__VA_ARGS__);                             \
    if (!real_##name) *(void **)&real_##name = dlsym(RTLD_NEXT, #name)

static ssize_t raw_write(int fd, const void *p, size_t n) {
    REAL(ssize_t, write, int, const void *, size_t);
    return real_write(fd, p, n);
}
static int raw_open(const char *path, int flags, mode_t mode) {
    REAL(int, open, const char *, int, ...);
    return real_open(path, flags, mode);
}
static int raw_close(int fd) {
    REAL(int, close, int);
    return real_close(fd);
}

/* Appends a line to the report file (not counted: uses the real calls). */
static void report_line(const char *line) {
    if (!report[0]) return;
    int saved = errno;
    int fd = raw_open(report, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd >= 0) {
        (void)!raw_write(fd, line, strlen(line));
        raw_close(fd);
    }
    errno = saved;
}

static int path_counts(const char *path) {
    init();
    if (!path) return 0;
    if (!has_prefix) return 1;
    return strncmp(path, prefix, prefix_len) == 0;
}
static int fd_counts(int fd) {
    init();
    return fd >= 0 && fd < MAX_FDS && tracked[fd];
}
static int file_counts(FILE *f) { return f && fd_counts(fileno(f)); }
static void track(int fd, int on) {
    if (fd >= 0 && fd < MAX_FDS) tracked[fd] = (unsigned char)on;
}

/* Counts one call; returns 1 when it must fail (errno is then set). */
static int should_fail(int op, const char *what) {
    init();
    if (!(ops_mask & op)) return 0;
    long n = __atomic_add_fetch(&calls, 1, __ATOMIC_SEQ_CST);
    int fail = nth > 0 && (n == nth || (persist && n > nth));
    if (trace) {
        int i = 0;
        while ((1 << i) != op) i++;
        char line[4200];
        snprintf(line, sizeof line, "%ld %s %s%s\n", n, op_names[i], what ? what : "", fail ? " FAIL" : "");
        report_line(line);
    }
    if (fail) {
        __atomic_add_fetch(&failed, 1, __ATOMIC_SEQ_CST);
        errno = fail_errno;
    }
    return fail;
}

static const char *fd_name(int fd) {
    static __thread char b[32];
    snprintf(b, sizeof b, "fd %d", fd);
    return b;
}

__attribute__((destructor)) static void at_exit(void) {
    init();
    char line[128];
    snprintf(line, sizeof line, "calls=%ld failed=%ld\n", calls, failed);
    report_line(line);
}

/* ---- open ---------------------------------------------------------------------------- */

static mode_t mode_arg(int flags, va_list ap) {
    return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ? (mode_t)va_arg(ap, int) : 0;
}

static int after_open(const char *path, int fd) {
    if (fd >= 0) track(fd, path_counts(path));
    return fd;
}

#define OPEN_LIKE(name)                                                       \
    int name(const char *path, int flags, ...) {                              \
        va_list ap;                                                           \
        va_start(ap, flags);                                                  \
        mode_t mode = mode_arg(flags, ap);                                    \
        va_end(ap);                                                           \
        if (path_counts(path) && should_fail(OP_OPEN, path)) return -1;      \
        REAL(int, name, const char *, int, ...);                              \
        return after_open(path, real_##name(path, flags, mode));              \
    }
OPEN_LIKE(open)
OPEN_LIKE(open64)

#define OPENAT_LIKE(name)                                                     \
    int name(int dirfd, const char *path, int flags, ...) {                   \
        va_list ap;                                                           \
        va_start(ap, flags);                                                  \
        mode_t mode = mode_arg(flags, ap);                                    \
        va_end(ap);                                                           \
        if (path_counts(path) && should_fail(OP_OPEN, path)) return -1;      \
        REAL(int, name, int, const char *, int, ...);                         \
        return after_open(path, real_##name(dirfd, path, flags, mode));       \
    }
OPENAT_LIKE(openat)
OPENAT_LIKE(openat64)

int __open_2(const char *path, int flags) {
    if (path_counts(path) && should_fail(OP_OPEN, path)) return -1;
    REAL(int, __open_2, const char *, int);
    return after_open(path, real___open_2(path, flags));
}
int __open64_2(const char *path, int flags) {
    if (path_counts(path) && should_fail(OP_OPEN, path)) return -1;
    REAL(int, __open64_2, const char *, int);
    return after_open(path, real___open64_2(path, flags));
}
int creat(const char *path, mode_t mode) {
    if (path_counts(path) && should_fail(OP_OPEN, path)) return -1;
    REAL(int, creat, const char *, mode_t);
    return after_open(path, real_creat(path, mode));
}

static FILE *after_fopen(const char *path, FILE *f) {
    if (f) track(fileno(f), path_counts(path));
    return f;
}
FILE *fopen(const char *path, const char *mode) {
    if (path_counts(path) && should_fail(OP_OPEN, path)) return NULL;
    REAL(FILE *, fopen, const char *, const char *);
    return after_fopen(path, real_fopen(path, mode));
}
FILE *fopen64(const char *path, const char *mode) {
    if (path_counts(path) && should_fail(OP_OPEN, path)) return NULL;
    REAL(FILE *, fopen64, const char *, const char *);
    return after_fopen(path, real_fopen64(path, mode));
}

/* ---- read / write ---------------------------------------------------------------------- */

ssize_t read(int fd, void *p, size_t n) {
    if (fd_counts(fd) && should_fail(OP_READ, fd_name(fd))) return -1;
    REAL(ssize_t, read, int, void *, size_t);
    return real_read(fd, p, n);
}
ssize_t pread(int fd, void *p, size_t n, off_t off) {
    if (fd_counts(fd) && should_fail(OP_READ, fd_name(fd))) return -1;
    REAL(ssize_t, pread, int, void *, size_t, off_t);
    return real_pread(fd, p, n, off);
}
ssize_t pread64(int fd, void *p, size_t n, off_t off) {
    if (fd_counts(fd) && should_fail(OP_READ, fd_name(fd))) return -1;
    REAL(ssize_t, pread64, int, void *, size_t, off_t);
    return real_pread64(fd, p, n, off);
}
size_t fread(void *p, size_t size, size_t n, FILE *f) {
    if (file_counts(f) && should_fail(OP_READ, fd_name(fileno(f)))) return 0;
    REAL(size_t, fread, void *, size_t, size_t, FILE *);
    return real_fread(p, size, n, f);
}
ssize_t write(int fd, const void *p, size_t n) {
    if (fd_counts(fd) && should_fail(OP_WRITE, fd_name(fd))) return -1;
    return raw_write(fd, p, n);
}
ssize_t pwrite(int fd, const void *p, size_t n, off_t off) {
    if (fd_counts(fd) && should_fail(OP_WRITE, fd_name(fd))) return -1;
    REAL(ssize_t, pwrite, int, const void *, size_t, off_t);
    return real_pwrite(fd, p, n, off);
}
ssize_t pwrite64(int fd, const void *p, size_t n, off_t off) {
    if (fd_counts(fd) && should_fail(OP_WRITE, fd_name(fd))) return -1;
    REAL(ssize_t, pwrite64, int, const void *, size_t, off_t);
    return real_pwrite64(fd, p, n, off);
}
ssize_t writev(int fd, const struct iovec *iov, int cnt) {
    if (fd_counts(fd) && should_fail(OP_WRITE, fd_name(fd))) return -1;
    REAL(ssize_t, writev, int, const struct iovec *, int);
    return real_writev(fd, iov, cnt);
}
size_t fwrite(const void *p, size_t size, size_t n, FILE *f) {
    if (file_counts(f) && should_fail(OP_WRITE, fd_name(fileno(f)))) return 0;
    REAL(size_t, fwrite, const void *, size_t, size_t, FILE *);
    return real_fwrite(p, size, n, f);
}
int fputs(const char *s, FILE *f) {
    if (file_counts(f) && should_fail(OP_WRITE, fd_name(fileno(f)))) return EOF;
    REAL(int, fputs, const char *, FILE *);
    return real_fputs(s, f);
}
int fflush(FILE *f) {
    if (file_counts(f) && should_fail(OP_WRITE, fd_name(fileno(f)))) return EOF;
    REAL(int, fflush, FILE *);
    return real_fflush(f);
}

/* ---- fsync, close ---------------------------------------------------------------------- */

int fsync(int fd) {
    if (fd_counts(fd) && should_fail(OP_FSYNC, fd_name(fd))) return -1;
    REAL(int, fsync, int);
    return real_fsync(fd);
}
int fdatasync(int fd) {
    if (fd_counts(fd) && should_fail(OP_FSYNC, fd_name(fd))) return -1;
    REAL(int, fdatasync, int);
    return real_fdatasync(fd);
}
int close(int fd) {
    int fail = fd_counts(fd) && should_fail(OP_CLOSE, fd_name(fd));
    int e = errno;
    track(fd, 0);
    int r = raw_close(fd);
    if (fail) {
        errno = e;
        return -1;
    }
    return r;
}
int fclose(FILE *f) {
    int fd = f ? fileno(f) : -1;
    int fail = fd_counts(fd) && should_fail(OP_CLOSE, fd_name(fd));
    int e = errno;
    track(fd, 0);
    REAL(int, fclose, FILE *);
    int r = real_fclose(f);
    if (fail) {
        errno = e;
        return EOF;
    }
    return r;
}

/* ---- names ------------------------------------------------------------------------------ */

int rename(const char *from, const char *to) {
    if ((path_counts(from) || path_counts(to)) && should_fail(OP_RENAME, to)) return -1;
    REAL(int, rename, const char *, const char *);
    return real_rename(from, to);
}
int renameat(int fd1, const char *from, int fd2, const char *to) {
    if ((path_counts(from) || path_counts(to)) && should_fail(OP_RENAME, to)) return -1;
    REAL(int, renameat, int, const char *, int, const char *);
    return real_renameat(fd1, from, fd2, to);
}
int renameat2(int fd1, const char *from, int fd2, const char *to, unsigned flags) {
    if ((path_counts(from) || path_counts(to)) && should_fail(OP_RENAME, to)) return -1;
    REAL(int, renameat2, int, const char *, int, const char *, unsigned);
    return real_renameat2(fd1, from, fd2, to, flags);
}
int mkdir(const char *path, mode_t mode) {
    if (path_counts(path) && should_fail(OP_MKDIR, path)) return -1;
    REAL(int, mkdir, const char *, mode_t);
    return real_mkdir(path, mode);
}
int unlink(const char *path) {
    if (path_counts(path) && should_fail(OP_UNLINK, path)) return -1;
    REAL(int, unlink, const char *);
    return real_unlink(path);
}
int unlinkat(int dirfd, const char *path, int flags) {
    if (path_counts(path) && should_fail(OP_UNLINK, path)) return -1;
    REAL(int, unlinkat, int, const char *, int);
    return real_unlinkat(dirfd, path, flags);
}
