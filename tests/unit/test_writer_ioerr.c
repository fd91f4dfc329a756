/* Unit tests for the writer's archive I/O error classes (src/writer/ioerr.c): /healthz and
 * skyspool_writer_io_errors_total{class} name the errno of the failed system call, which
 * travels with the error from where it happened, and never come from the words of the
 * message (issue 14: a message that happens to hold another errno's strerror text, a path
 * for instance, must not change the class).
 *
 * The errno is shown carried by real failures on a real file system, as any user (the tests
 * may run as root, whom mode bits do not refuse):
 *   - ENOSPC: /dev/full as the Parquet writer's target (directly, and as the part file's
 *     temporary through a symlink);
 *   - EFBIG: RLIMIT_FSIZE, so that a part file's first write succeeds and a later one (a row
 *     group flushed by an append, or the seal's footer) fails;
 *   - EISDIR: a directory where a sealed file is to be renamed to;
 *   - ENOTDIR: a file where a partition directory must be listed or made;
 * and a failure that is no system call's (a bad schema, a bad name) carries 0. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "archive/archive.h"
#include "metrics/metrics.h"
#include "parquet/parquet.h"
#include "writer/archive_id.h"
#include "writer/writer_internal.h"

static char g_root[256];

static int setup(void **state) {
    (void)state;
    snprintf(g_root, sizeof g_root, "%s/ss-ioerr-test.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    return mkdtemp(g_root) ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_root);
    return system(cmd) == 0 ? 0 : -1;
}

/* ---- the class is the errno's ---------------------------------------------------------- */

static void class_by_errno(void **state) {
    (void)state;
    assert_string_equal(ss_wr_io_class(ENOSPC), "ENOSPC");
    assert_string_equal(ss_wr_io_class(EACCES), "EACCES");
    assert_string_equal(ss_wr_io_class(ENOTDIR), "ENOTDIR");
    assert_string_equal(ss_wr_io_class(EROFS), "EROFS");
    assert_string_equal(ss_wr_io_class(EDQUOT), "EDQUOT");
    assert_string_equal(ss_wr_io_class(EFBIG), "EFBIG");
    assert_string_equal(ss_wr_io_class(EISDIR), "EISDIR");
    assert_string_equal(ss_wr_io_class(0), "EOTHER");
    assert_string_equal(ss_wr_io_class(ECONNREFUSED), "EOTHER");
    assert_string_equal(ss_wr_io_class(EINVAL), "EOTHER");
}

static double io_count(const char *cls) {
    char l[48];
    snprintf(l, sizeof l, "class=\"%s\"", cls);
    ss_metric *m = ss_metric_find("skyspool_writer_io_errors_total", l);
    assert_non_null(m);
    return ss_metric_value(m);
}

/* A failure recorded with a message full of strerror texts: the class, the /healthz reason
 * and the counter follow the errno passed, not the words. */
static void message_never_classifies(void **state) {
    (void)state;
    ss_writer *w = calloc(1, sizeof *w);
    assert_non_null(w);
    pthread_mutex_init(&w->mu, NULL);
    ss_wr_io_register_metrics(w);
    double nospc0 = io_count("ENOSPC"), eio0 = io_count("EIO"), other0 = io_count("EOTHER");

    /* no errno (an S3 upload's failure): EOTHER, whatever the message says */
    ss_wr_io_fail(w, 0, "finishing /a/No space left on device/x.parquet: rename (%s): %s", strerror(EIO),
                  strerror(ENOSPC));
    ss_wr_io_record(w);
    assert_string_equal(w->io.cls, "EOTHER");
    char why[2048];
    assert_int_equal(ss_wr_io_health(w, why, sizeof why), 1);
    assert_int_equal(strncmp(why, "writer archive I/O error EOTHER for ", 36), 0);
    assert_non_null(strstr(why, strerror(ENOSPC))); /* the message is kept, for people */
    assert_true(io_count("EOTHER") == other0 + 1);
    assert_true(io_count("ENOSPC") == nospc0);
    assert_true(io_count("EIO") == eio0);

    /* an errno: its class, though the message names another errno's text first */
    ss_wr_io_fail(w, EIO, "writing /a/b.parquet: %s; then %s", strerror(ENOSPC), strerror(EIO));
    ss_wr_io_record(w);
    assert_string_equal(w->io.cls, "EIO");
    assert_int_equal(ss_wr_io_health(w, why, sizeof why), 1);
    assert_int_equal(strncmp(why, "writer archive I/O error EIO for ", 33), 0);
    assert_non_null(strstr(why, "(2 failed attempts"));
    assert_true(io_count("EIO") == eio0 + 1);
    assert_true(io_count("ENOSPC") == nospc0);
    assert_true(io_count("EOTHER") == other0 + 1);

    ss_wr_io_clear(w);
    assert_int_equal(ss_wr_io_health(w, why, sizeof why), 0);
    pthread_mutex_destroy(&w->mu);
    free(w);
}

/* ---- the Parquet writer keeps the errno in its context ----------------------------------- */

static const ss_pq_column one_col[] = {{"n", SS_PQ_INT64, 0, 0, 0}};

static void pq_dev_full(void **state) {
    (void)state;
    if (access("/dev/full", W_OK) != 0) skip();
    ss_pq_options o;
    ss_pq_options_init(&o);
    o.fsync = 0;
    /* the magic "PAR1" is written at open: /dev/full refuses it */
    ss_pq_writer *w = ss_pq_open("/dev/full", one_col, 1, &o);
    assert_non_null(w);
    assert_int_not_equal(ss_pq_err(w), 0);
    assert_int_equal(ss_pq_sys_errno(w), ENOSPC);
    assert_non_null(strstr(ss_pq_errstr(w), "write ("));
    char err[256] = "";
    errno = 0;
    assert_int_equal(ss_pq_close(w, NULL, err, sizeof err), -1);
    assert_int_equal(errno, ENOSPC); /* the writer is freed: errno carries it */
    assert_non_null(strstr(err, "/dev/full"));

    /* not a system call's failure: 0, and ss_pq_close says so in errno too */
    char path[512];
    snprintf(path, sizeof path, "%s/bad.parquet", g_root);
    const ss_pq_column dup[] = {{"n", SS_PQ_INT64, 0, 0, 0}, {"n", SS_PQ_INT64, 0, 0, 0}};
    w = ss_pq_open(path, dup, 2, &o);
    assert_non_null(w);
    assert_int_not_equal(ss_pq_err(w), 0);
    assert_int_equal(ss_pq_sys_errno(w), 0);
    errno = EIO;
    assert_int_equal(ss_pq_close(w, NULL, err, sizeof err), -1);
    assert_int_equal(errno, 0);
    assert_non_null(strstr(err, "appears twice"));

    /* open itself fails: ENOTDIR (a file where a directory must be) */
    snprintf(path, sizeof path, "%s/afile", g_root);
    FILE *k = fopen(path, "w");
    assert_non_null(k);
    fclose(k);
    snprintf(path, sizeof path, "%s/afile/x.parquet", g_root);
    w = ss_pq_open(path, one_col, 1, &o);
    assert_non_null(w);
    assert_int_equal(ss_pq_sys_errno(w), ENOTDIR);
    ss_pq_abort(w);
}

/* ---- part files: the errno of append, seal, publish and open ----------------------------- */

#define T0 1725516000000000LL /* 2024-09-05T06:00:00Z */
static const char *like_json(int n) {
    static char b[2048];
    snprintf(b, sizeof b,
             "{\"did\":\"did:plc:aaaaaaaaaaaaaaaaaaaaaa%02d\",\"time_us\":%lld,\"kind\":\"commit\",\"commit\":{\"rev\":"
             "\"3l3qo2vutsw2b\",\"operation\":\"create\",\"collection\":\"app.bsky.feed.like\",\"rkey\":\"3l3qo2vuowo%04d\","
             "\"record\":{\"$type\":\"app.bsky.feed.like\",\"createdAt\":\"2024-09-05T06:11:04.870Z\",\"subject\":{"
             "\"cid\":\"bafyreia\",\"uri\":\"at://did:plc:x/app.bsky.feed.post/3l%d\"}},\"cid\":\"bafyreib\"}}",
             n % 100, (long long)(T0 + n), n, n);
    return b;
}

static void append_likes(ss_ar_file *f, ss_decoder *dec, int from, int n) {
    for (int i = from; i < from + n; i++) {
        const char *j = like_json(i);
        ss_event ev;
        assert_int_equal(ss_decode(dec, j, strlen(j), &ev), SS_DECODE_OK);
        assert_int_equal(ss_ar_file_append(f, &ev), 0);
    }
}

static char g_tmp[1024], g_final[1024];
static void part_paths(const char *name) {
    snprintf(g_tmp, sizeof g_tmp, "%s/year=2024/month=9/day=5/hour=6/type=like/.%s.parquet.tmp", g_root, name);
    snprintf(g_final, sizeof g_final, "%s/year=2024/month=9/day=5/hour=6/type=like/%s.parquet", g_root, name);
}

/* Files may grow to limit bytes from now on (RLIMIT_FSIZE: EFBIG past it, for root too);
 * limit 0 restores the previous limit. */
static void fsize_limit(rlim_t limit) {
    static struct rlimit saved;
    static int have;
    if (limit) {
        assert_int_equal(getrlimit(RLIMIT_FSIZE, &saved), 0);
        have = 1;
        signal(SIGXFSZ, SIG_IGN); /* a write past the limit fails with EFBIG instead of killing us */
        struct rlimit r = saved;
        r.rlim_cur = limit;
        assert_int_equal(setrlimit(RLIMIT_FSIZE, &r), 0);
    } else if (have) {
        assert_int_equal(setrlimit(RLIMIT_FSIZE, &saved), 0);
        have = 0;
    }
}

static void part_file_errnos(void **state) {
    (void)state;
    ss_decoder *dec = ss_decoder_new(NULL);
    assert_non_null(dec);
    ss_ar_options o;
    ss_ar_options_init(&o);
    o.codec = SS_PQ_CODEC_NONE;
    o.fsync = 0;
    o.row_group_rows = 50;
    char err[1024];

    /* append: the 50th row flushes a row group, which the file size limit refuses */
    ss_ar_file *f = ss_ar_file_open(g_root, SS_TYPE_LIKE, T0, "like-append", &o, err, sizeof err);
    assert_non_null(f);
    append_likes(f, dec, 0, 49);
    fsize_limit(256);
    const char *j = like_json(49);
    ss_event ev;
    assert_int_equal(ss_decode(dec, j, strlen(j), &ev), SS_DECODE_OK);
    int rc = ss_ar_file_append(f, &ev);
    fsize_limit(0);
    assert_int_equal(rc, -1);
    assert_int_equal(ss_ar_file_errno(f), EFBIG);
    assert_non_null(strstr(ss_ar_file_errstr(f), "write ("));
    errno = 0;
    assert_int_equal(ss_ar_file_seal(f, NULL, err, sizeof err), -1); /* refuses, frees, keeps the errno */
    assert_int_equal(errno, EFBIG);
    part_paths("like-append");
    assert_int_equal(access(g_tmp, F_OK), -1);

    /* an event of another type: no system call failed */
    f = ss_ar_file_open(g_root, SS_TYPE_FOLLOW, T0, "follow-x", &o, err, sizeof err);
    assert_non_null(f);
    assert_int_equal(ss_ar_file_append(f, &ev), -1);
    assert_int_equal(ss_ar_file_errno(f), 0);
    errno = EIO;
    assert_int_equal(ss_ar_file_seal(f, NULL, err, sizeof err), -1);
    assert_int_equal(errno, 0);

    /* seal: the last row group and the footer are written there, and refused */
    f = ss_ar_file_open(g_root, SS_TYPE_LIKE, T0, "like-seal", &o, err, sizeof err);
    assert_non_null(f);
    append_likes(f, dec, 0, 10);
    fsize_limit(256);
    errno = 0;
    rc = ss_ar_file_seal(f, NULL, err, sizeof err);
    int e = errno;
    fsize_limit(0);
    assert_int_equal(rc, -1);
    assert_int_equal(e, EFBIG);
    assert_non_null(strstr(err, "write ("));
    part_paths("like-seal");
    assert_int_equal(access(g_tmp, F_OK), -1);

    /* publish: a directory (not empty) stands where the file is to be renamed to */
    f = ss_ar_file_open(g_root, SS_TYPE_LIKE, T0, "like-publish", &o, err, sizeof err);
    assert_non_null(f);
    append_likes(f, dec, 0, 10);
    ss_ar_file_result res;
    assert_int_equal(ss_ar_file_seal(f, &res, err, sizeof err), 0);
    part_paths("like-publish");
    assert_int_equal(mkdir(g_final, 0755), 0);
    char inner[1100];
    snprintf(inner, sizeof inner, "%s/keep", g_final);
    FILE *k = fopen(inner, "w");
    assert_non_null(k);
    fclose(k);
    errno = 0;
    assert_int_equal(ss_ar_file_publish(f, err, sizeof err), -1);
    assert_int_equal(errno, EISDIR);
    assert_non_null(strstr(err, "cannot rename into ("));

    /* open: the temporary is /dev/full (a symlink in its place), which refuses the magic */
    if (access("/dev/full", W_OK) == 0) {
        part_paths("like-full");
        assert_int_equal(symlink("/dev/full", g_tmp), 0);
        errno = 0;
        f = ss_ar_file_open(g_root, SS_TYPE_LIKE, T0, "like-full", &o, err, sizeof err);
        assert_null(f);
        assert_int_equal(errno, ENOSPC);
        assert_non_null(strstr(err, "write ("));
    }

    /* open: a file where the year directory must go */
    char sub[512];
    snprintf(sub, sizeof sub, "%s/nd", g_root);
    assert_int_equal(mkdir(sub, 0755), 0);
    snprintf(inner, sizeof inner, "%s/year=2024", sub);
    k = fopen(inner, "w");
    assert_non_null(k);
    fclose(k);
    errno = 0;
    assert_null(ss_ar_file_open(sub, SS_TYPE_LIKE, T0, "like-nd", &o, err, sizeof err));
    assert_int_equal(errno, ENOTDIR);

    /* open: a bad name is no system call's failure */
    errno = EIO;
    assert_null(ss_ar_file_open(g_root, SS_TYPE_LIKE, T0, "../x", &o, err, sizeof err));
    assert_int_equal(errno, 0);
    ss_decoder_free(dec);
}

/* ---- the partition guard says "cannot list" by its return value, with the errno ----------- */

static void guard_dir_io(void **state) {
    (void)state;
    char root[512], p[600];
    snprintf(root, sizeof root, "%s/guard", g_root);
    assert_int_equal(mkdir(root, 0755), 0);
    ss_archive_guard *g = ss_archive_guard_new(root, "ledger.sqlite", NULL);
    assert_non_null(g);
    char err[1024];
    int e = -1;
    /* absent: nothing to check, and no ledger query (l may be NULL) */
    assert_int_equal(ss_archive_guard_dir(g, NULL, "year=2025/month=1/day=2/hour=3/type=like", &e, err, sizeof err),
                     SS_ARCHIVE_GUARD_OK);
    assert_int_equal(e, 0);
    snprintf(p, sizeof p, "%s/year=2026", root);
    FILE *k = fopen(p, "w");
    assert_non_null(k);
    fclose(k);
    e = -1;
    assert_int_equal(ss_archive_guard_dir(g, NULL, "year=2026/month=1/day=2/hour=3/type=like", &e, err, sizeof err),
                     SS_ARCHIVE_GUARD_IO);
    assert_int_equal(e, ENOTDIR);
    assert_non_null(strstr(err, "cannot list ("));
    ss_archive_guard_free(g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(class_by_errno),
        cmocka_unit_test(message_never_classifies),
        cmocka_unit_test(pq_dev_full),
        cmocka_unit_test(part_file_errnos),
        cmocka_unit_test(guard_dir_io),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
