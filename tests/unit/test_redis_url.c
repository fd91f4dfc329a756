/* Redis URL parsing and password files: every accepted form, and the errors users hit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buffer/redis.h"

static ss_redis_url parse_ok(const char *s) {
    ss_redis_url u;
    char err[256] = "";
    int rc = ss_redis_url_parse(s, &u, err, sizeof err);
    if (rc != 0) fail_msg("'%s' rejected: %s", s, err);
    return u;
}

static void parse_bad(const char *s, const char *want_in_err) {
    ss_redis_url u;
    char err[256] = "";
    assert_int_equal(ss_redis_url_parse(s, &u, err, sizeof err), -1);
    if (!strstr(err, want_in_err)) fail_msg("'%s': error '%s' lacks '%s'", s, err, want_in_err);
}

static void test_tcp_forms(void **st) {
    (void)st;
    ss_redis_url u = parse_ok("redis://127.0.0.1:6380");
    assert_false(u.is_unix);
    assert_string_equal(u.host, "127.0.0.1");
    assert_int_equal(u.port, 6380);
    assert_int_equal(u.db, 0);
    assert_false(u.has_password);

    u = parse_ok("redis://localhost");
    assert_string_equal(u.host, "localhost");
    assert_int_equal(u.port, 6379);

    u = parse_ok("redis://127.0.0.1:7000/3");
    assert_int_equal(u.db, 3);
    u = parse_ok("redis://127.0.0.1:7000/");
    assert_int_equal(u.db, 0);

    u = parse_ok("redis://alice:s3cret@10.0.0.5:6379/2");
    assert_string_equal(u.user, "alice");
    assert_string_equal(u.password, "s3cret");
    assert_true(u.has_password);
    assert_string_equal(u.host, "10.0.0.5");
    assert_int_equal(u.db, 2);

    u = parse_ok("redis://:onlypw@h:1");
    assert_string_equal(u.user, "");
    assert_string_equal(u.password, "onlypw");
    assert_true(u.has_password);

    u = parse_ok("redis://bob:p%40ss%3Aw%2Fd@h");
    assert_string_equal(u.user, "bob");
    assert_string_equal(u.password, "p@ss:w/d");

    u = parse_ok("redis://[::1]:6390/1");
    assert_string_equal(u.host, "::1");
    assert_int_equal(u.port, 6390);
    assert_int_equal(u.db, 1);

    u = parse_ok("redis://alice@h:7");
    assert_string_equal(u.user, "alice");
    assert_false(u.has_password); /* the password comes from --redis-password-file */

    u = parse_ok("REDIS://H:65535");
    assert_int_equal(u.port, 65535);
}

static void test_unix_forms(void **st) {
    (void)st;
    ss_redis_url u = parse_ok("unix:///tmp/redis.sock");
    assert_true(u.is_unix);
    assert_string_equal(u.path, "/tmp/redis.sock");
    assert_int_equal(u.db, 0);

    u = parse_ok("unix:///var/run/r.sock?db=5");
    assert_string_equal(u.path, "/var/run/r.sock");
    assert_int_equal(u.db, 5);

    u = parse_ok("unix://user:pw@/s.sock?db=1");
    assert_string_equal(u.user, "user");
    assert_string_equal(u.password, "pw");
    assert_string_equal(u.path, "/s.sock");
    assert_int_equal(u.db, 1);

    u = parse_ok("unix:///dir%20with%20space/r.sock");
    assert_string_equal(u.path, "/dir with space/r.sock");
}

static void test_errors(void **st) {
    (void)st;
    parse_bad("", "empty");
    parse_bad("127.0.0.1:6379", "not a Redis URL");
    parse_bad("http://h:1", "not a Redis URL");
    { /* an invalid URL is never echoed with its password */
        ss_redis_url u;
        char err[512];
        assert_int_equal(ss_redis_url_parse("http://alice:hunter2@db.example:6379", &u, err, sizeof err), -1);
        assert_null(strstr(err, "hunter2"));
        assert_non_null(strstr(err, "http://***@db.example:6379"));
        assert_int_equal(ss_redis_url_parse("redis:/:s3cr@t@h", &u, err, sizeof err), -1);
        assert_null(strstr(err, "s3cr"));
    }
    parse_bad("rediss://h:1", "TLS");
    parse_bad("redis://", "no host");
    parse_bad("redis://:6379", "no host");
    parse_bad("redis://h:0", "port");
    parse_bad("redis://h:65536", "port");
    parse_bad("redis://h:12ab", "port");
    parse_bad("redis://h:", "port");
    parse_bad("redis://h/abc", "database");
    parse_bad("redis://h/100001", "out of range");
    parse_bad("redis://h/-1", "database");
    parse_bad("redis://@h", "empty credentials");
    parse_bad("redis://u:p%zz@h", "escape");
    parse_bad("redis://u:p%4@h", "escape");
    parse_bad("redis://[::1:6379", "unterminated");
    parse_bad("redis://[::1]6379", "after ']'");
    parse_bad("redis://h:1?db=2", "unix://");
    parse_bad("redis://h:1 ", "space");
    parse_bad("unix://relative.sock", "absolute");
    parse_bad("unix://", "absolute");
    parse_bad("unix:///s.sock?db=x", "database");
    parse_bad("unix:///s.sock?foo=1", "unknown parameter");
    char big[SS_REDIS_URL_MAX + 10];
    memset(big, 'a', sizeof big - 1);
    memcpy(big, "redis://", 8);
    big[sizeof big - 1] = '\0';
    parse_bad(big, "too long");
    char longhost[400];
    snprintf(longhost, sizeof longhost, "redis://%0300d:1", 0);
    parse_bad(longhost, "too long");
}

static void test_describe_hides_password(void **st) {
    (void)st;
    ss_redis_url u = parse_ok("redis://alice:topsecret@h:7/2");
    char d[256];
    ss_redis_url_describe(&u, d, sizeof d);
    assert_null(strstr(d, "topsecret"));
    assert_string_equal(d, "redis://alice:***@h:7/2");
    u = parse_ok("redis://[::1]:9");
    ss_redis_url_describe(&u, d, sizeof d);
    assert_string_equal(d, "redis://[::1]:9/0");
    u = parse_ok("redis://bob@h:8");
    ss_redis_url_describe(&u, d, sizeof d);
    assert_string_equal(d, "redis://bob@h:8/0");
    u = parse_ok("unix://:pw@/s.sock");
    ss_redis_url_describe(&u, d, sizeof d);
    assert_string_equal(d, "unix://:***@/s.sock?db=0");
    u = parse_ok("unix:///a/b.sock?db=4");
    ss_redis_url_describe(&u, d, sizeof d);
    assert_string_equal(d, "unix:///a/b.sock?db=4");
}

static void write_file(const char *path, const char *content, mode_t mode) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(content, f);
    fclose(f);
    assert_int_equal(chmod(path, mode), 0);
}

static void test_password_file(void **st) {
    (void)st;
    char dir[] = "/tmp/ss-pwtest.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256], pw[SS_REDIS_PASSWORD_MAX], err[512];
    snprintf(path, sizeof path, "%s/pw", dir);

    write_file(path, "hunter2\n", 0600);
    assert_int_equal(ss_redis_password_file_read(path, pw, sizeof pw, err, sizeof err), 0);
    assert_string_equal(pw, "hunter2");

    write_file(path, "crlf\r\n", 0400);
    assert_int_equal(ss_redis_password_file_read(path, pw, sizeof pw, err, sizeof err), 0);
    assert_string_equal(pw, "crlf");

    write_file(path, "nonewline", 0600);
    assert_int_equal(ss_redis_password_file_read(path, pw, sizeof pw, err, sizeof err), 0);
    assert_string_equal(pw, "nonewline");

    write_file(path, "grp\n", 0640); /* root:skyspool 0640: the usual service setup */
    assert_int_equal(ss_redis_password_file_read(path, pw, sizeof pw, err, sizeof err), 0);
    assert_string_equal(pw, "grp");

    write_file(path, "x\n", 0644); /* a mode it refuses: permission */
    assert_int_equal(ss_redis_password_file_read(path, pw, sizeof pw, err, sizeof err), -SS_ERR_PERMISSION);
    assert_non_null(strstr(err, "chmod 600"));

    write_file(path, "x\n", 0660); /* the group could replace the password */
    assert_int_equal(ss_redis_password_file_read(path, pw, sizeof pw, err, sizeof err), -SS_ERR_PERMISSION);

    write_file(path, "x\n", 0604);
    assert_int_equal(ss_redis_password_file_read(path, pw, sizeof pw, err, sizeof err), -SS_ERR_PERMISSION);

    write_file(path, "\n", 0600); /* malformed content: data */
    assert_int_equal(ss_redis_password_file_read(path, pw, sizeof pw, err, sizeof err), -SS_ERR_DATA);
    assert_non_null(strstr(err, "empty"));

    write_file(path, "two\nlines\n", 0600);
    assert_int_equal(ss_redis_password_file_read(path, pw, sizeof pw, err, sizeof err), -SS_ERR_DATA);
    assert_non_null(strstr(err, "more than one line"));

    char *huge = malloc(SS_REDIS_PASSWORD_MAX + 100);
    memset(huge, 'p', SS_REDIS_PASSWORD_MAX + 99);
    huge[SS_REDIS_PASSWORD_MAX + 99] = '\0';
    write_file(path, huge, 0600);
    free(huge);
    assert_int_equal(ss_redis_password_file_read(path, pw, sizeof pw, err, sizeof err), -SS_ERR_DATA);
    assert_non_null(strstr(err, "too long"));

    unlink(path); /* missing: io (ENOENT), the cause before the path */
    assert_int_equal(ss_redis_password_file_read(path, pw, sizeof pw, err, sizeof err), -SS_ERR_IO);
    assert_non_null(strstr(err, "cannot open password file (No such file or directory): "));
    rmdir(dir);
}

static void test_info_fields(void **st) {
    (void)st;
    const char *info = "# Memory\r\nused_memory:1048576\r\nused_memory_human:1.00M\r\nmaxmemory:0\r\n"
                       "maxmemory_policy:noeviction\r\n";
    long long v = -1;
    char s[64];
    assert_int_equal(ss_redis_info_ll(info, "used_memory", &v), 0);
    assert_int_equal(v, 1048576);
    assert_int_equal(ss_redis_info_ll(info, "maxmemory", &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(ss_redis_info_str(info, "maxmemory_policy", s, sizeof s), 0);
    assert_string_equal(s, "noeviction");
    assert_int_equal(ss_redis_info_str(info, "used_memory_peak", s, sizeof s), -1);
    assert_int_equal(ss_redis_info_ll(info, "used_memory_human", &v), 0); /* "1.00M" -> 1 */
    assert_int_equal(ss_redis_info_ll(info, "nope", &v), -1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tcp_forms),        cmocka_unit_test(test_unix_forms),
        cmocka_unit_test(test_errors),           cmocka_unit_test(test_describe_hides_password),
        cmocka_unit_test(test_password_file),    cmocka_unit_test(test_info_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
