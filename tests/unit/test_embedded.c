/* The embedded redis-server: the generated config, and a real server started, reused and
 * stopped in a scratch data dir (socket mode and the TCP fallback for long paths). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buffer/embedded.h"

static int has_line(const char *conf, const char *line) {
    size_t n = strlen(line);
    for (const char *p = conf; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
        if (strncmp(p, line, n) == 0 && (p[n] == '\n' || p[n] == '\0')) return 1;
    return 0;
}

#define HASH64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define ALL_HASHES {HASH64, HASH64, HASH64, HASH64, HASH64, HASH64}

static void test_render_socket(void **st) {
    (void)st;
    ss_embedded_conf c = {.dir = "/data/sky \"x\"", .socket_path = "/data/r.sock", .password_hash = ALL_HASHES,
                          .maxmemory = 2147483648LL};
    ss_buf b;
    ss_buf_init(&b);
    assert_int_equal(ss_embedded_render_config(&c, &b), 0);
    const char *want[] = {"appendonly yes", "appendfsync everysec", "maxmemory 2147483648",
                          "maxmemory-policy noeviction", "stream-node-max-bytes 65536",
                          "stream-node-max-entries 1000", "port 0", "unixsocket \"/data/r.sock\"",
                          "unixsocketperm 700", "user default off resetpass ~* &* +@all", "dir \"/data/sky \\\"x\\\"\"",
                          "pidfile \"/data/sky \\\"x\\\"/redis.pid\"", "daemonize no", "save \"\""};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        if (!has_line(b.data, want[i])) fail_msg("config lacks '%s':\n%s", want[i], b.data);
    assert_false(has_line(b.data, "bind 127.0.0.1"));
    assert_null(strstr(b.data, "requirepass"));
    /* one user per role, with the hash (never a plain password), the writer's XADD confined to the DLQ */
    for (int r = 0; r < SS_ACL__COUNT; r++) {
        char uw[128];
        snprintf(uw, sizeof uw, "\nuser %s reset on #" "0123456789abcdef", ss_acl_user((ss_acl_role)r));
        if (!strstr(b.data, uw)) fail_msg("config lacks %s", uw + 1);
    }
    assert_non_null(strstr(b.data, " \"(+xadd ~skyspool:dlq)\""));
    assert_non_null(strstr(b.data, " ~skyspool-check:*"));
    c.password_hash[2] = "short";
    ss_buf_reset(&b);
    assert_int_equal(ss_embedded_render_config(&c, &b), -1);
    ss_buf_free(&b);
}

static void test_render_tcp_and_errors(void **st) {
    (void)st;
    ss_embedded_conf c = {.dir = "/d", .socket_path = NULL, .port = 40001, .password_hash = ALL_HASHES,
                          .maxmemory = 67108864};
    ss_buf b;
    ss_buf_init(&b);
    assert_int_equal(ss_embedded_render_config(&c, &b), 0);
    assert_true(has_line(b.data, "bind 127.0.0.1"));
    assert_true(has_line(b.data, "port 40001"));
    assert_true(has_line(b.data, "maxmemory 67108864"));
    assert_false(has_line(b.data, "port 0"));
    ss_buf_reset(&b);
    c.dir = "relative";
    assert_int_equal(ss_embedded_render_config(&c, &b), -1);
    c.dir = "/new\nline";
    assert_int_equal(ss_embedded_render_config(&c, &b), -1);
    c.dir = "/d";
    c.port = 0;
    assert_int_equal(ss_embedded_render_config(&c, &b), -1);
    ss_buf_free(&b);
}

static redisReply *cmd(redisContext *c, const char *a, const char *b) {
    const char *argv[3] = {"CONFIG", a, b};
    return redisCommandArgv(c, 3, argv, NULL);
}

static void check_server(ss_embedded *e, const char *want_policy) {
    ss_redis_url u;
    char err[512];
    ss_embedded_url(e, &u);
    redisContext *c = ss_redis_connect(&u, 5000, err, sizeof err, NULL);
    if (!c) fail_msg("connect: %s", err);
    redisReply *r = cmd(c, "GET", "maxmemory-policy");
    assert_non_null(r);
    assert_int_equal(r->elements, 2);
    assert_string_equal(r->element[1]->str, want_policy);
    freeReplyObject(r);
    r = cmd(c, "GET", "appendonly");
    assert_string_equal(r->element[1]->str, "yes");
    freeReplyObject(r);
    r = cmd(c, "GET", "stream-node-max-bytes");
    assert_string_equal(r->element[1]->str, "65536");
    freeReplyObject(r);
    r = cmd(c, "GET", "maxmemory");
    assert_string_equal(r->element[1]->str, "67108864");
    freeReplyObject(r);
    redisFree(c);
    /* without a user and password the server refuses: the default user is off */
    u.has_password = 0;
    u.user[0] = '\0';
    c = ss_redis_connect(&u, 5000, err, sizeof err, NULL);
    assert_null(c);
    assert_non_null(strstr(err, "NOAUTH"));
    /* each role is its own user: ingest may XADD an event stream but not read one back */
    ss_embedded_url_as(e, SS_ACL_INGEST, &u);
    assert_string_equal(u.user, "skyspool-ingest");
    c = ss_redis_connect(&u, 5000, err, sizeof err, NULL);
    if (!c) fail_msg("connect as ingest: %s", err);
    redisReply *x = redisCommand(c, "XADD skyspool:post * k v");
    assert_int_equal(x->type, REDIS_REPLY_STRING);
    freeReplyObject(x);
    x = redisCommand(c, "XRANGE skyspool:post - +");
    assert_int_equal(x->type, REDIS_REPLY_ERROR);
    assert_non_null(strstr(x->str, "NOPERM"));
    freeReplyObject(x);
    redisFree(c);
}

static int answers(ss_embedded_opts *o) {
    /* a fresh probe: connect with the stored password */
    char path[512], pw[256], err[512];
    snprintf(path, sizeof path, "%s/redis-admin.password", o->data_dir);
    if (ss_redis_password_file_read(path, pw, sizeof pw, err, sizeof err) != 0) return 0;
    ss_redis_url u = {0};
    snprintf(path, sizeof path, "%s/redis.sock", o->data_dir);
    if (o->force_tcp || strlen(path) > ss_embedded_max_socket_path()) return -1;
    u.is_unix = 1;
    snprintf(u.path, sizeof u.path, "%s", path);
    snprintf(u.user, sizeof u.user, "skyspool-admin");
    snprintf(u.password, sizeof u.password, "%s", pw);
    u.has_password = 1;
    redisContext *c = ss_redis_connect(&u, 1000, err, sizeof err, NULL);
    if (c) redisFree(c);
    return c != NULL;
}

static void run_lifecycle(const char *dir, int force_tcp) {
    ss_embedded_opts o;
    ss_embedded_opts_init(&o);
    o.data_dir = dir;
    o.maxmemory = 64LL << 20;
    o.force_tcp = force_tcp;
    char err[2048];
    ss_embedded *a = ss_embedded_start(&o, err, sizeof err);
    if (!a) fail_msg("start: %s", err);
    assert_true(ss_embedded_started_here(a));
    check_server(a, "noeviction");

    char pwpath[PATH_MAX];
    snprintf(pwpath, sizeof pwpath, "%s/redis-admin.password", dir);
    struct stat st;
    assert_int_equal(stat(pwpath, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);

    ss_embedded *b = ss_embedded_start(&o, err, sizeof err);
    if (!b) fail_msg("reuse: %s", err);
    assert_false(ss_embedded_started_here(b));
    ss_redis_url ua, ub;
    ss_embedded_url(a, &ua);
    ss_embedded_url(b, &ub);
    assert_string_equal(ua.password, ub.password);
    assert_int_equal(ua.port, ub.port);

    /* the starter must not stop a server another user holds */
    assert_int_equal(ss_embedded_stop(a), 0);
    check_server(b, "noeviction");
    assert_int_equal(ss_embedded_stop(b), 0); /* not started by b: left running */
    ss_embedded *c = ss_embedded_start(&o, err, sizeof err);
    if (!c) fail_msg("reuse 2: %s", err);
    assert_false(ss_embedded_started_here(c));
    /* stop it for good: connect and SHUTDOWN as an owner would */
    ss_redis_url u;
    ss_embedded_url(c, &u);
    redisContext *rc = ss_redis_connect(&u, 2000, err, sizeof err, NULL);
    assert_non_null(rc);
    redisReply *r = redisCommand(rc, "SHUTDOWN");
    if (r) freeReplyObject(r);
    redisFree(rc);
    assert_int_equal(ss_embedded_stop(c), 0);
    for (int i = 0; i < 100 && answers(&o) == 1; i++) usleep(20000);
    if (!force_tcp && strlen(dir) + 11 <= ss_embedded_max_socket_path()) assert_int_equal(answers(&o), 0);

    /* start again: same password, data dir reused; stop shuts it down */
    ss_embedded *d = ss_embedded_start(&o, err, sizeof err);
    if (!d) fail_msg("restart: %s", err);
    assert_true(ss_embedded_started_here(d));
    ss_redis_url ud;
    ss_embedded_url(d, &ud);
    assert_string_equal(ud.password, ua.password);
    assert_int_equal(ss_embedded_stop(d), 0);
    if (!force_tcp && strlen(dir) + 11 <= ss_embedded_max_socket_path()) assert_int_equal(answers(&o), 0);
}

static void rm_rf(const char *dir) {
    char cmdline[PATH_MAX + 16];
    snprintf(cmdline, sizeof cmdline, "rm -rf '%s'", dir);
    if (system(cmdline) != 0) fprintf(stderr, "cleanup of %s failed\n", dir);
}

static void test_lifecycle_socket(void **st) {
    (void)st;
    char dir[] = "/tmp/ss-emb.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char sub[PATH_MAX];
    snprintf(sub, sizeof sub, "%s/data", dir); /* created by start */
    run_lifecycle(sub, 0);
    rm_rf(dir);
}

static void test_lifecycle_long_path_tcp(void **st) {
    (void)st;
    char dir[] = "/tmp/ss-emb.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char sub[PATH_MAX];
    snprintf(sub, sizeof sub, "%s/%s/%s", dir, "a-rather-long-directory-name-to-overflow-sun-path-0123456789",
             "another-long-directory-name-abcdefghijklmnopqrstuvwxyz");
    assert_true(strlen(sub) + 11 > ss_embedded_max_socket_path());
    run_lifecycle(sub, 0);
    rm_rf(dir);
}

/* A live server of the data dir that does not answer (here: the password file changed under
 * it) must not get a second server started on the same AOF. */
static void test_refuses_second_server(void **st) {
    (void)st;
    char dir[] = "/tmp/ss-emb.XXXXXX";
    assert_non_null(mkdtemp(dir));
    ss_embedded_opts o;
    ss_embedded_opts_init(&o);
    o.data_dir = dir;
    o.maxmemory = 64LL << 20;
    char err[2048], pwpath[PATH_MAX], saved[256];
    ss_embedded *a = ss_embedded_start(&o, err, sizeof err);
    if (!a) fail_msg("start: %s", err);
    snprintf(pwpath, sizeof pwpath, "%s/redis-admin.password", dir);
    assert_int_equal(ss_redis_password_file_read(pwpath, saved, sizeof saved, err, sizeof err), 0);
    FILE *f = fopen(pwpath, "w");
    assert_non_null(f);
    fputs("not-the-password\n", f);
    fclose(f);
    ss_embedded *b = ss_embedded_start(&o, err, sizeof err);
    assert_null(b);
    if (!strstr(err, "does not answer")) fail_msg("unexpected error: %s", err);
    f = fopen(pwpath, "w");
    fprintf(f, "%s\n", saved);
    fclose(f);
    assert_int_equal(ss_embedded_stop(a), 0);
    rm_rf(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_render_socket),
        cmocka_unit_test(test_render_tcp_and_errors),
        cmocka_unit_test(test_lifecycle_socket),
        cmocka_unit_test(test_lifecycle_long_path_tcp),
        cmocka_unit_test(test_refuses_second_server),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
