/* Unit tests for the writer's archive I/O error classes (src/writer/ioerr.c): /healthz and
 * skyspool_writer_io_errors_total{class} name the errno, taken from the failing call when it
 * still has it, else from the strerror text in the message (the finish and write jobs keep only
 * a string), else EOTHER; and a class that the errno gives wins over the message's text. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "writer/writer_internal.h"

static void by_errno(void **state) {
    (void)state;
    assert_string_equal(ss_wr_io_class(ENOSPC, NULL), "ENOSPC");
    assert_string_equal(ss_wr_io_class(EACCES, "whatever"), "EACCES");
    assert_string_equal(ss_wr_io_class(ENOTDIR, ""), "ENOTDIR");
    assert_string_equal(ss_wr_io_class(EROFS, NULL), "EROFS");
    /* the errno wins over another errno's text in the message */
    char m[256];
    snprintf(m, sizeof m, "cannot create directory x: %s", strerror(ENOSPC));
    assert_string_equal(ss_wr_io_class(EDQUOT, m), "EDQUOT");
}

static void by_message(void **state) {
    (void)state;
    char m[256];
    snprintf(m, sizeof m, "finishing a/b.parquet: rename: %s", strerror(ENOSPC));
    assert_string_equal(ss_wr_io_class(0, m), "ENOSPC");
    snprintf(m, sizeof m, "writing a/b.parquet: write a/.b.tmp: %s", strerror(EIO));
    assert_string_equal(ss_wr_io_class(0, m), "EIO");
    snprintf(m, sizeof m, "cannot list a/year=2025/month=9: %s", strerror(ENOTDIR));
    assert_string_equal(ss_wr_io_class(0, m), "ENOTDIR");
}

static void unknown(void **state) {
    (void)state;
    assert_string_equal(ss_wr_io_class(0, NULL), "EOTHER");
    assert_string_equal(ss_wr_io_class(0, "a/b.parquet: 3 rows in the file, 4 appended"), "EOTHER");
    assert_string_equal(ss_wr_io_class(ECONNREFUSED, "redis: connection refused"), "EOTHER");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(by_errno),
        cmocka_unit_test(by_message),
        cmocka_unit_test(unknown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
