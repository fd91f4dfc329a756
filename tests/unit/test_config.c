/* Configuration precedence (flag > environment > file > default) and validation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli/cli.h"
#include "cli/config.h"

static char g_path[64];

static void write_conf(const char *text) {
    snprintf(g_path, sizeof g_path, "/tmp/ss-test-config-%d.conf", (int)getpid());
    FILE *f = fopen(g_path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void clear_env(void) {
    unsetenv("SKYSPOOL_REDIS_URL");
    unsetenv("SKYSPOOL_PREFIX");
    unsetenv("SKYSPOOL_CONFIG");
    unsetenv("SKYSPOOL_MAXMEMORY");
}

static void test_defaults(void **state) {
    (void)state;
    clear_env();
    ss_config *c = ss_config_new();
    char err[256];
    assert_int_equal(ss_config_load(c, err, sizeof err), 0);
    assert_null(ss_config_get(c, "redis-url"));
    assert_string_equal(ss_config_get(c, "prefix"), "skyspool:");
    assert_int_equal(ss_config_get_bytes(c, "maxmemory"), 2LL << 30);
    assert_int_equal(ss_config_get_ms(c, "window"), 300000);
    assert_int_equal(ss_config_get_origin(c, "prefix"), SS_CFG_DEFAULT);
    ss_config_free(c);
}

static void test_precedence(void **state) {
    (void)state;
    clear_env();
    write_conf("# comment\nprefix fromfile:\nredis-url \"redis://file:1\"\nmaxmemory 64mb\ngrace 10s\n");
    setenv("SKYSPOOL_CONFIG", g_path, 1);
    setenv("SKYSPOOL_PREFIX", "fromenv:", 1);
    setenv("SKYSPOOL_REDIS_URL", "redis://env:2", 1);
    ss_config *c = ss_config_new();
    char err[256];
    assert_int_equal(ss_config_handle_opt(c, SS_OPT_REDIS, "redis://flag:3", err, sizeof err), 1);
    assert_int_equal(ss_config_load(c, err, sizeof err), 0);
    assert_string_equal(ss_config_get(c, "redis-url"), "redis://flag:3"); /* flag beats env and file */
    assert_int_equal(ss_config_get_origin(c, "redis-url"), SS_CFG_FLAG);
    assert_string_equal(ss_config_get(c, "prefix"), "fromenv:"); /* env beats file */
    assert_int_equal(ss_config_get_origin(c, "prefix"), SS_CFG_ENV);
    assert_int_equal(ss_config_get_bytes(c, "maxmemory"), 64LL << 20); /* file beats default */
    assert_int_equal(ss_config_get_origin(c, "maxmemory"), SS_CFG_FILE);
    assert_int_equal(ss_config_get_ms(c, "grace"), 10000);
    ss_config_free(c);
    unlink(g_path);
    clear_env();
}

static void test_errors(void **state) {
    (void)state;
    clear_env();
    char err[256];
    ss_config *c = ss_config_new();
    assert_int_equal(ss_config_handle_opt(c, SS_OPT_SET, "no-such-key=1", err, sizeof err), -1);
    assert_non_null(strstr(err, "unknown setting"));
    assert_int_equal(ss_config_handle_opt(c, SS_OPT_SET, "grace=soon", err, sizeof err), 1);
    assert_int_equal(ss_config_load(c, err, sizeof err), -1);
    assert_non_null(strstr(err, "grace"));
    assert_non_null(strstr(err, "flag"));
    ss_config_free(c);

    c = ss_config_new();
    assert_int_equal(ss_config_handle_opt(c, SS_OPT_SET, "low-watermark=0.9", err, sizeof err), 1);
    assert_int_equal(ss_config_load(c, err, sizeof err), -1);
    assert_non_null(strstr(err, "low-watermark"));
    ss_config_free(c);

    write_conf("prefix\n");
    c = ss_config_new();
    assert_int_equal(ss_config_handle_opt(c, SS_OPT_CONFIG, g_path, err, sizeof err), 1);
    assert_int_equal(ss_config_load(c, err, sizeof err), -1);
    assert_non_null(strstr(err, ":1:"));
    ss_config_free(c);
    unlink(g_path);

    c = ss_config_new();
    assert_int_equal(ss_config_handle_opt(c, SS_OPT_CONFIG, "/nonexistent/skyspool.conf", err, sizeof err), 1);
    assert_int_equal(ss_config_load(c, err, sizeof err), -1);
    assert_non_null(strstr(err, "cannot read config file"));
    ss_config_free(c);
}

static void test_parsers(void **state) {
    (void)state;
    long long v;
    assert_int_equal(ss_parse_bytes("2gb", &v), 0);
    assert_int_equal(v, 2147483648LL);
    assert_int_equal(ss_parse_bytes("64mb", &v), 0);
    assert_int_equal(v, 67108864LL);
    assert_int_equal(ss_parse_bytes("1k", &v), 0);
    assert_int_equal(v, 1000);
    assert_int_equal(ss_parse_bytes("12 parsecs", &v), -1);
    assert_int_equal(ss_parse_bytes("-1mb", &v), -1);
    assert_int_equal(ss_parse_duration_ms("5m", &v), 0);
    assert_int_equal(v, 300000);
    assert_int_equal(ss_parse_duration_ms("250ms", &v), 0);
    assert_int_equal(v, 250);
    assert_int_equal(ss_parse_duration_ms("1h", &v), 0);
    assert_int_equal(v, 3600000);
    assert_int_equal(ss_parse_duration_ms("soon", &v), -1);
    assert_int_equal(ss_parse_i64("12x", 0, 100, &v), -1);
    assert_int_equal(ss_parse_i64("101", 0, 100, &v), -1);
    assert_int_equal(ss_parse_i64("", 0, 100, &v), -1);
    assert_int_equal(ss_parse_i64("-5", -10, 100, &v), 0);
    assert_int_equal(v, -5);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_precedence),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_parsers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
