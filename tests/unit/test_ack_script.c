/* The writer's acknowledgement script (src/writer/ack_script.h) against a real redis-server:
 * it acknowledges, then trims exactly the entries every group has delivered and acknowledged,
 * never an entry still pending or not yet delivered to some group. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buffer/embedded.h"
#include "buffer/redis.h"
#include "writer/ack_script.h"

static ss_embedded *g_emb;
static redisContext *g_c;
static char g_dir[PATH_MAX];

static int setup(void **st) {
    (void)st;
    snprintf(g_dir, sizeof g_dir, "%s/ss-ack-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(g_dir)) return -1;
    ss_embedded_opts o;
    ss_embedded_opts_init(&o);
    o.data_dir = g_dir;
    o.maxmemory = 64LL << 20;
    char err[2048];
    if (!(g_emb = ss_embedded_start(&o, err, sizeof err))) {
        fprintf(stderr, "start: %s\n", err);
        return -1;
    }
    ss_redis_url u;
    ss_embedded_url(g_emb, &u);
    if (!(g_c = ss_redis_connect(&u, 5000, err, sizeof err, NULL))) return -1;
    return 0;
}

static int teardown(void **st) {
    (void)st;
    if (g_c) redisFree(g_c);
    if (g_emb) ss_embedded_stop(g_emb);
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Runs a command, fails the test on an error reply; returns the reply (caller frees). */
static redisReply *run_v(const char *fmt, va_list ap) {
    redisReply *r = redisvCommand(g_c, fmt, ap);
    assert_non_null(r);
    if (r->type == REDIS_REPLY_ERROR) fail_msg("%s: %s", fmt, r->str);
    return r;
}

static long long cmd_int(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = run_v(fmt, ap);
    va_end(ap);
    long long v = r->type == REDIS_REPLY_INTEGER ? r->integer : 0;
    freeReplyObject(r);
    return v;
}

static void ok(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    freeReplyObject(run_v(fmt, ap));
    va_end(ap);
}

/* XADDs n entries with ids ms-0 for ms = first..first+n-1 */
static void add(const char *key, int first, int n) {
    for (int i = 0; i < n; i++) ok("XADD %s %d-0 e x", key, first + i);
}

/* reads up to n new entries for consumer c of group g */
static void deliver(const char *key, const char *g, const char *c, int n) {
    ok("XREADGROUP GROUP %s %s COUNT %d STREAMS %s >", g, c, n, key);
}

/* runs the script on the given ids; returns {acked, trimmed} */
static void ack_list(const char *key, const char *g, const char *const *ids, int n, long long *acked,
                     long long *trimmed) {
    const char **argv = calloc((size_t)n + 5, sizeof *argv);
    assert_non_null(argv);
    argv[0] = "EVAL";
    argv[1] = SS_WRITER_ACK_SCRIPT;
    argv[2] = "1";
    argv[3] = key;
    argv[4] = g;
    for (int i = 0; i < n; i++) argv[5 + i] = ids[i];
    redisReply *r = redisCommandArgv(g_c, n + 5, argv, NULL);
    assert_non_null(r);
    if (r->type != REDIS_REPLY_ARRAY) fail_msg("script: %s", r->type == REDIS_REPLY_ERROR ? r->str : "not an array");
    assert_int_equal(r->elements, 2);
    *acked = r->element[0]->integer;
    *trimmed = r->element[1]->integer;
    freeReplyObject(r);
    free(argv);
}

/* runs the script on ids ms-0 for ms = first..first+n-1 */
static void ack(const char *key, const char *g, int first, int n, long long *acked, long long *trimmed) {
    char (*txt)[32] = calloc((size_t)n, sizeof *txt);
    const char **ids = calloc((size_t)n, sizeof *ids);
    assert_non_null(txt);
    assert_non_null(ids);
    for (int i = 0; i < n; i++) {
        snprintf(txt[i], sizeof txt[i], "%d-0", first + i);
        ids[i] = txt[i];
    }
    ack_list(key, g, ids, n, acked, trimmed);
    free(ids);
    free(txt);
}

static void test_trims_only_below_oldest_pending(void **st) {
    (void)st;
    long long a, t;
    ok("DEL s1");
    add("s1", 1, 10);
    ok("XGROUP CREATE s1 writers 0");
    deliver("s1", "writers", "A", 4); /* 1..4 pending at A */
    deliver("s1", "writers", "B", 4); /* 5..8 pending at B; 9, 10 undelivered */
    ack("s1", "writers", 5, 4, &a, &t);
    assert_int_equal(a, 4);
    assert_int_equal(t, 0); /* A still holds 1..4 */
    assert_int_equal(cmd_int("XLEN s1"), 10);
    ack("s1", "writers", 1, 2, &a, &t); /* A acks 1, 2; 3 is now the oldest pending */
    assert_int_equal(a, 2);
    assert_int_equal(t, 2);
    assert_int_equal(cmd_int("XLEN s1"), 8);
    ack("s1", "writers", 3, 2, &a, &t); /* nothing pending: trim up to the last delivered (8) */
    assert_int_equal(t, 6);
    assert_int_equal(cmd_int("XLEN s1"), 2); /* 9 and 10 were never delivered: kept */
    deliver("s1", "writers", "A", 10);
    ack("s1", "writers", 9, 2, &a, &t);
    assert_int_equal(t, 2);
    assert_int_equal(cmd_int("XLEN s1"), 0);
    /* acking again (a retry after a crash) is harmless */
    ack("s1", "writers", 9, 2, &a, &t);
    assert_int_equal(a, 0);
    assert_int_equal(t, 0);
}

static void test_other_group_holds_the_floor(void **st) {
    (void)st;
    long long a, t;
    ok("DEL s2");
    add("s2", 1, 6);
    ok("XGROUP CREATE s2 writers 0");
    ok("XGROUP CREATE s2 analytics 0");
    deliver("s2", "writers", "A", 6);
    ack("s2", "writers", 1, 6, &a, &t);
    assert_int_equal(a, 6);
    assert_int_equal(t, 0); /* analytics has read nothing */
    deliver("s2", "analytics", "X", 3);
    ok("XACK s2 analytics 1-0 2-0");
    ack("s2", "writers", 1, 1, &a, &t); /* any later call trims to the new floor (3, pending) */
    assert_int_equal(t, 2);
    assert_int_equal(cmd_int("XLEN s2"), 4);
}

static void test_deleted_pending_entry(void **st) {
    (void)st;
    long long a, t;
    ok("DEL s3");
    add("s3", 1, 4);
    ok("XGROUP CREATE s3 writers 0");
    deliver("s3", "writers", "A", 4);
    ok("XDEL s3 1-0"); /* deleted while pending (an older writer's crash window) */
    ack("s3", "writers", 2, 3, &a, &t);
    assert_int_equal(t, 0); /* 1-0 is still pending: nothing below it to trim, 2..4 wait */
    assert_int_equal(cmd_int("XLEN s3"), 3);
    ack("s3", "writers", 1, 1, &a, &t);
    assert_int_equal(a, 1);
    assert_int_equal(t, 3);
    assert_int_equal(cmd_int("XLEN s3"), 0);
}

static void test_large_ids(void **st) {
    (void)st;
    long long a, t;
    ok("DEL s4");
    ok("XADD s4 1795684154657-0 e x");
    ok("XADD s4 1795684154657-9007199254740000 e x");
    ok("XADD s4 1795684154658-0 e x");
    ok("XGROUP CREATE s4 writers 0");
    deliver("s4", "writers", "A", 2);
    const char *ids[] = {"1795684154657-0", "1795684154657-9007199254740000"};
    ack_list("s4", "writers", ids, 2, &a, &t);
    assert_int_equal(a, 2);
    assert_int_equal(t, 2);
    assert_int_equal(cmd_int("XLEN s4"), 1); /* the undelivered third entry stays */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trims_only_below_oldest_pending),
        cmocka_unit_test(test_other_group_holds_the_floor),
        cmocka_unit_test(test_deleted_pending_entry),
        cmocka_unit_test(test_large_ids),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
