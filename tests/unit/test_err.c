/* The error model (util/err.h) and the one exit-code table (cli/exit.c): every class has its
 * own status, usage is 2 and io 1 as before, return values carry the class both ways, Redis
 * error replies are classed by their error code alone, and a path never decides a class. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "buffer/redis.h"
#include "cli/cli.h"
#include "source/source.h"
#include "util/err.h"

static void test_exit_table(void **st) {
    (void)st;
    /* the table README.md documents */
    static const struct {
        ss_err_class c;
        int code;
        const char *name;
    } want[] = {{SS_ERR_NONE, 0, "none"},         {SS_ERR_IO, 1, "io"},
                {SS_ERR_USAGE, 2, "usage"},       {SS_ERR_DATA, 3, "data"},
                {SS_ERR_PROTOCOL, 4, "protocol"}, {SS_ERR_AUTH, 5, "auth"},
                {SS_ERR_PERMISSION, 6, "permission"}, {SS_ERR_OOM, 7, "oom"},
                {SS_ERR_FENCED, 8, "fenced"}};
    assert_int_equal(sizeof want / sizeof want[0], SS_ERR_NCLASSES);
    int seen[256] = {0};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        assert_int_equal(ss_exit_code(want[i].c), want[i].code);
        assert_string_equal(ss_err_class_name(want[i].c), want[i].name);
        assert_int_equal(seen[want[i].code]++, 0); /* one status per class */
        assert_true(want[i].code != 77);           /* not CTest's skip */
    }
    assert_int_equal(ss_exit_code((ss_err_class)99), 1); /* out of range: a runtime failure */
    assert_int_equal(ss_exit_code((ss_err_class)-3), 1);
    assert_string_equal(ss_err_class_name((ss_err_class)99), "unknown");
    /* the old helpers go through the table */
    assert_int_equal(ss_cmd_fail("test", "an io failure"), 1);
    assert_int_equal(ss_usage_error("test", "a usage error"), 2);
    assert_int_equal(ss_cmd_error("test", SS_ERR_AUTH, "wrong password"), 5);
    assert_int_equal(ss_cmd_error("test", SS_ERR_NONE, "an error without a class"), 1);
}

static void test_return_values(void **st) {
    (void)st;
    for (int c = SS_ERR_IO; c < SS_ERR_NCLASSES; c++) {
        assert_true(ss_err_rc((ss_err_class)c) < 0);
        assert_int_equal(ss_err_class_of_rc(ss_err_rc((ss_err_class)c)), c);
    }
    assert_int_equal(ss_err_rc(SS_ERR_IO), -1); /* a plain -1 stays io */
    assert_int_equal(ss_err_class_of_rc(-1), SS_ERR_IO);
    assert_int_equal(ss_err_class_of_rc(0), SS_ERR_NONE);
    assert_int_equal(ss_err_class_of_rc(1), SS_ERR_NONE);
    assert_int_equal(ss_err_class_of_rc(-1000), SS_ERR_IO);
    char err[32];
    assert_int_equal(ss_fail(err, sizeof err, SS_ERR_DATA, "bad %s", "row"), -(int)SS_ERR_DATA);
    assert_string_equal(err, "bad row");
    assert_int_equal(ss_fail(NULL, 0, SS_ERR_OOM, "x"), -(int)SS_ERR_OOM);
    assert_int_equal(ss_err_class_of_errno(ENOENT), SS_ERR_IO);
    assert_int_equal(ss_err_class_of_errno(ENOSPC), SS_ERR_IO);
    assert_int_equal(ss_err_class_of_errno(EACCES), SS_ERR_PERMISSION);
    assert_int_equal(ss_err_class_of_errno(EROFS), SS_ERR_PERMISSION);
    assert_int_equal(ss_err_class_of_errno(ENOMEM), SS_ERR_OOM);
}

static void test_redis_reply_classes(void **st) {
    (void)st;
    assert_int_equal(ss_redis_error_class("WRONGPASS invalid username-password pair or user is disabled."), SS_ERR_AUTH);
    assert_int_equal(ss_redis_error_class("NOAUTH Authentication required."), SS_ERR_AUTH);
    assert_int_equal(ss_redis_error_class("NOPERM User x has no permissions to run the 'xadd' command"),
                     SS_ERR_PERMISSION);
    assert_int_equal(ss_redis_error_class("OOM command not allowed when used memory > 'maxmemory'."), SS_ERR_OOM);
    assert_int_equal(ss_redis_error_class("LOADING Redis is loading the dataset in memory"), SS_ERR_IO);
    assert_int_equal(ss_redis_error_class("ERR unknown command 'FOO'"), SS_ERR_PROTOCOL);
    /* only the error code counts, not words later in the text */
    assert_int_equal(ss_redis_error_class("ERR no such key NOPERM WRONGPASS"), SS_ERR_PROTOCOL);
    assert_int_equal(ss_redis_error_class("OOMX"), SS_ERR_PROTOCOL);
    assert_int_equal(ss_redis_error_class(NULL), SS_ERR_IO);
}

static void test_source_open_classes(void **st) {
    (void)st;
    char err[2048];
    ss_err_class c = SS_ERR_NONE;
    assert_null(ss_source_open("nosuch:x", NULL, err, sizeof err, &c));
    assert_int_equal(c, SS_ERR_USAGE);
    assert_null(ss_source_open("file:", NULL, err, sizeof err, &c));
    assert_int_equal(c, SS_ERR_USAGE);
    assert_null(ss_source_open("synth:nonsense=1", NULL, err, sizeof err, &c));
    assert_int_equal(c, SS_ERR_USAGE);
    /* a missing file whose name holds the words that once made cat call it a usage error */
    assert_null(ss_source_open("file:/nonexistent/required/bad value/must be.jsonl", NULL, err, sizeof err, &c));
    assert_int_equal(c, SS_ERR_IO);
    /* a path of 1000 characters: the cause survives */
    char spec[1100] = "file:/nonexistent";
    while (strlen(spec) < 1000) strcat(spec, "/abcdefghijklmnopqrstuvwxyz");
    assert_null(ss_source_open(spec, NULL, err, sizeof err, &c));
    assert_int_equal(c, SS_ERR_IO);
    assert_non_null(strstr(err, "No such file or directory"));
    assert_non_null(strstr(err, spec + 5)); /* and the whole path */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exit_table),
        cmocka_unit_test(test_return_values),
        cmocka_unit_test(test_redis_reply_classes),
        cmocka_unit_test(test_source_open_classes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
