/* The writer's last archive I/O error, kept while it persists: what /healthz and the
 * metrics say when the archive's filesystem refuses the writer.
 *
 * Why: a writer whose partition directory cannot be created (EACCES, ENOTDIR, ENOSPC, a
 * read-only remount) fails every attempt and retries with backoff, committing nothing. Its
 * process is up and its Redis is fine, so before this only health-commit-stall (default
 * 10 min) would ever notice. An operator needs the reason at once, in words and as a class
 * an alert can match, and needs it to go away by itself once the disk is fixed: the record
 * is cleared by the next successful commit, not by the next attempt (an attempt that merely
 * reads from Redis proves nothing about the disk).
 *
 * The failure sites that touch the archive (creating a part file and its directories,
 * listing a partition directory, writing, cutting and finishing parts, removing an
 * uncommitted part) mark their failure with ss_wr_io_fail, passing the errno of the failed
 * system call. The errno travels with the error rather than being read back from words: the
 * Parquet writer keeps it in its context (ss_pq_sys_errno), a part file in its own
 * (ss_ar_file_errno) or in errno once freed (seal, publish), the partition guard returns it
 * (ss_archive_guard_dir), and the write and finish jobs, which run on other threads, take it
 * there into their job next to the message. The class is that errno's name (ENOSPC,
 * EACCES, ...), or "EOTHER" for any other errno and for 0 (an S3 upload, a failure that no
 * system call made). The message is for people and never changes the class (DEVELOPERS.md:
 * never classify an error by the words of its message). Ledger (SQLite) and Redis errors are
 * not archive I/O errors and are not recorded here. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "metrics/metrics.h"
#include "writer/writer_internal.h"

/* The filesystem errors an archive write can meet, each its own metric label. */
static const struct {
    int e;
    const char *name;
} io_classes[] = {
    {ENOSPC, "ENOSPC"}, {EDQUOT, "EDQUOT"}, {EFBIG, "EFBIG"},   {EROFS, "EROFS"},   {EACCES, "EACCES"},
    {EPERM, "EPERM"},   {EIO, "EIO"},       {ENOTDIR, "ENOTDIR"}, {EISDIR, "EISDIR"}, {ENOENT, "ENOENT"},
    {EEXIST, "EEXIST"}, {ENAMETOOLONG, "ENAMETOOLONG"}, {ELOOP, "ELOOP"}, {EMFILE, "EMFILE"}, {ENFILE, "ENFILE"},
};
#define N_IO_CLASSES (sizeof io_classes / sizeof io_classes[0])
_Static_assert(N_IO_CLASSES == SS_WR_IO_CLASSES, "SS_WR_IO_CLASSES counts the classes");

const char *ss_wr_io_class(int errnum) {
    for (size_t i = 0; i < N_IO_CLASSES; i++)
        if (errnum == io_classes[i].e) return io_classes[i].name;
    return "EOTHER";
}

int ss_wr_io_fail(ss_writer *w, int errnum, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->errstr, sizeof w->errstr, fmt, ap);
    va_end(ap);
    w->io_failed = 1;
    w->io_errno = errnum;
    return -1;
}

void ss_wr_io_record(ss_writer *w) {
    if (!w->io_failed) return;
    w->io_failed = 0;
    const char *cls = ss_wr_io_class(w->io_errno);
    double now = (double)ss_wr_wall_us() / 1e6;
    pthread_mutex_lock(&w->mu);
    snprintf(w->io.cls, sizeof w->io.cls, "%s", cls);
    snprintf(w->io.msg, sizeof w->io.msg, "%s", w->errstr);
    if (w->io.since == 0) w->io.since = now;
    w->io.last = now;
    w->io.count++;
    pthread_mutex_unlock(&w->mu);
    for (size_t i = 0; i <= N_IO_CLASSES; i++)
        if (i == N_IO_CLASSES || !strcmp(cls, io_classes[i].name)) {
            ss_metric_inc(w->m.io_errors[i]);
            break;
        }
    ss_metric_set(w->m.io_error_since, w->io.since);
}

void ss_wr_io_register_metrics(ss_writer *w) {
    /* every class from the start (0), so that a rate() or an alert sees the first error */
    for (size_t i = 0; i <= N_IO_CLASSES; i++) {
        char l[48];
        snprintf(l, sizeof l, "class=\"%s\"", i < N_IO_CLASSES ? io_classes[i].name : "EOTHER");
        w->m.io_errors[i] = ss_metric_get("skyspool_writer_io_errors_total", SS_METRIC_COUNTER,
                                          "Failed attempts caused by an archive I/O error, by errno class", l);
    }
    w->m.io_error_since = ss_metric_get("skyspool_writer_io_error_since_timestamp_seconds", SS_METRIC_GAUGE,
                                        "Since when an archive I/O error has persisted (0: none since the last commit)",
                                        NULL);
}

void ss_wr_io_clear(ss_writer *w) {
    pthread_mutex_lock(&w->mu);
    int had = w->io.since != 0;
    w->io.since = 0;
    w->io.count = 0;
    pthread_mutex_unlock(&w->mu);
    if (had) ss_metric_set(w->m.io_error_since, 0);
}

/* /healthz: unhealthy while an archive I/O error persists (since the first failed attempt,
 * until a commit succeeds). Runs on the metrics listener's thread. */
int ss_wr_io_health(void *ctx, char *why, size_t whylen) {
    ss_writer *w = ctx;
    double now = (double)ss_wr_wall_us() / 1e6;
    pthread_mutex_lock(&w->mu);
    int bad = w->io.since != 0;
    if (bad)
        snprintf(why, whylen,
                 "writer archive I/O error %s for %.0f s (%llu failed attempt%s, last %.0f s ago; clears at the next "
                 "commit): %.600s",
                 w->io.cls, now - w->io.since, (unsigned long long)w->io.count, w->io.count == 1 ? "" : "s",
                 now - w->io.last, w->io.msg);
    pthread_mutex_unlock(&w->mu);
    return bad;
}
