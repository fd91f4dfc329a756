/* Unit tests for archive part files and the sink, on a real file system: atomic
 * temporary-then-rename, directory layout, refusal of foreign events, SHA-256 of the
 * finished bytes, abort, deterministic names replacing a previous file, and the sink's
 * LRU eviction into additional part files. Events come from the real decoder. (Values are
 * read back by DuckDB and hyparquet in tests/integration/convert_*.sh.) */
#include <dirent.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/sha.h>

#include "archive/archive.h"

static char g_root[256];
static ss_decoder *g_dec;

static int setup(void **state) {
    (void)state;
    snprintf(g_root, sizeof g_root, "%s/ss-archive-test.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(g_root)) return -1;
    g_dec = ss_decoder_new(NULL);
    return g_dec ? 0 : -1;
}

static int rm_tree(const char *path) {
    struct stat st;
    if (lstat(path, &st) != 0) return 0;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        struct dirent *e;
        while (d && (e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            char p[1024];
            snprintf(p, sizeof p, "%s/%s", path, e->d_name);
            rm_tree(p);
        }
        if (d) closedir(d);
        return rmdir(path);
    }
    return unlink(path);
}

static int teardown(void **state) {
    (void)state;
    ss_decoder_free(g_dec);
    rm_tree(g_root);
    return 0;
}

/* Decodes a JSON event into ev (the view stays valid until the next decode; keep `buf`). */
static void decode(const char *json, ss_event *ev) {
    ss_decode_reason r = ss_decode(g_dec, json, strlen(json), ev);
    if (r != SS_DECODE_OK) fail_msg("decode: %s", ss_decoder_errstr(g_dec));
}

static char g_json[2048];
static const char *like_json(int64_t time_us, int n) {
    snprintf(g_json, sizeof g_json,
             "{\"did\":\"did:plc:aaaaaaaaaaaaaaaaaaaaaa%02d\",\"time_us\":%lld,\"kind\":\"commit\",\"commit\":{\"rev\":"
             "\"3l3qo2vutsw2b\",\"operation\":\"create\",\"collection\":\"app.bsky.feed.like\",\"rkey\":\"3l3qo2vuowo%02d\","
             "\"record\":{\"$type\":\"app.bsky.feed.like\",\"createdAt\":\"2024-09-05T06:11:04.870Z\",\"subject\":{"
             "\"cid\":\"bafyreia\",\"uri\":\"at://did:plc:x/app.bsky.feed.post/3l\"}},\"cid\":\"bafyreib\"}}",
             n % 100, (long long)time_us, n % 100);
    return g_json;
}

static const char *follow_json(int64_t time_us) {
    snprintf(g_json, sizeof g_json,
             "{\"did\":\"did:plc:bbbbbbbbbbbbbbbbbbbbbbbb\",\"time_us\":%lld,\"kind\":\"commit\",\"commit\":{\"rev\":"
             "\"3l3qo2vutsw2c\",\"operation\":\"create\",\"collection\":\"app.bsky.graph.follow\",\"rkey\":\"3l3qo2vuowo2c\","
             "\"record\":{\"$type\":\"app.bsky.graph.follow\",\"createdAt\":\"2024-09-05T06:11:04Z\",\"subject\":"
             "\"did:plc:cccccccccccccccccccccccc\"},\"cid\":\"bafyreic\"}}",
             (long long)time_us);
    return g_json;
}

static const char *profile_json(int64_t time_us) {
    snprintf(g_json, sizeof g_json,
             "{\"did\":\"did:plc:dddddddddddddddddddddddd\",\"time_us\":%lld,\"kind\":\"commit\",\"commit\":{\"rev\":"
             "\"3l3qo2vutsw2d\",\"operation\":\"update\",\"collection\":\"app.bsky.actor.profile\",\"rkey\":\"self\","
             "\"record\":{\"displayName\":\"x\"},\"cid\":\"bafyreid\"}}",
             (long long)time_us);
    return g_json;
}

static long file_size(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 ? (long)st.st_size : -1;
}

/* Number of directory entries (files) under dir whose name starts with prefix. */
static int count_entries(const char *dir, const char *prefix) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (!strncmp(e->d_name, prefix, strlen(prefix))) n++;
    closedir(d);
    return n;
}

#define HOUR 3600000000LL
static const int64_t T0 = 1725516000000000LL; /* 2024-09-05T06:00:00Z */

static void test_file_roundtrip(void **state) {
    (void)state;
    char err[512] = "";
    ss_ar_options o;
    ss_ar_options_init(&o);
    ss_ar_file *f = ss_ar_file_open(g_root, SS_TYPE_LIKE, T0 + 5, "like-w1", &o, err, sizeof err);
    assert_non_null(f);
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/year=2024/month=9/day=5/hour=6/type=like", g_root);
    /* while writing, only the dot-temporary exists */
    assert_int_equal(count_entries(dir, ".like-w1.parquet.tmp"), 1);
    assert_int_equal(count_entries(dir, "like-w1"), 0);
    ss_event ev;
    for (int i = 0; i < 50; i++) {
        decode(like_json(T0 + i * 1000, i), &ev);
        assert_int_equal(ss_ar_file_append(f, &ev), 0);
    }
    assert_int_equal(ss_ar_file_rows(f), 50);
    /* foreign events are refused and leave the file unusable */
    ss_ar_file *g = ss_ar_file_open(g_root, SS_TYPE_LIKE, T0, "like-w2", &o, err, sizeof err);
    assert_non_null(g);
    decode(follow_json(T0), &ev);
    assert_int_equal(ss_ar_file_append(g, &ev), -1);
    assert_non_null(strstr(ss_ar_file_errstr(g), "type"));
    ss_ar_file_abort(g);
    g = ss_ar_file_open(g_root, SS_TYPE_LIKE, T0, "like-w3", &o, err, sizeof err);
    decode(like_json(T0 + HOUR, 1), &ev);
    assert_int_equal(ss_ar_file_append(g, &ev), -1);
    assert_non_null(strstr(ss_ar_file_errstr(g), "hour"));
    decode(like_json(T0 - 1, 1), &ev);
    assert_int_equal(ss_ar_file_append(g, &ev), -1);
    assert_int_equal(ss_ar_file_finish(g, NULL, err, sizeof err), -1); /* finishing a failed file fails */
    assert_int_equal(count_entries(dir, ".like-w3"), 0);
    assert_int_equal(count_entries(dir, "like-w3"), 0);
    assert_int_equal(count_entries(dir, ".like-w2"), 0);

    ss_ar_file_result r;
    assert_int_equal(ss_ar_file_finish(f, &r, err, sizeof err), 0);
    char want[1200];
    snprintf(want, sizeof want, "%s/like-w1.parquet", dir);
    assert_string_equal(r.path, want);
    assert_int_equal(r.rows, 50);
    assert_int_equal(r.row_groups, 1);
    assert_int_equal((long)r.bytes, file_size(want));
    assert_int_equal(count_entries(dir, ".like-w1"), 0);
    /* the file is Parquet, and its SHA-256 is what finish reported */
    FILE *fp = fopen(want, "rb");
    assert_non_null(fp);
    static unsigned char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf, fp);
    fclose(fp);
    assert_int_equal(n, r.bytes);
    assert_memory_equal(buf, "PAR1", 4);
    assert_memory_equal(buf + n - 4, "PAR1", 4);
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256(buf, n, md);
    char hex[65];
    for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", md[i]);
    assert_string_equal(r.sha256, hex);
    /* the same name again replaces the file (a retry), it does not add one */
    f = ss_ar_file_open(g_root, SS_TYPE_LIKE, T0, "like-w1", &o, err, sizeof err);
    decode(like_json(T0 + 7, 7), &ev);
    assert_int_equal(ss_ar_file_append(f, &ev), 0);
    assert_int_equal(ss_ar_file_finish(f, &r, err, sizeof err), 0);
    assert_int_equal(r.rows, 1);
    assert_int_equal(count_entries(dir, "like-w1"), 1);
    assert_int_equal((long)r.bytes, file_size(want));
}

static void test_file_open_errors(void **state) {
    (void)state;
    char err[512];
    ss_ar_options o;
    ss_ar_options_init(&o);
    const char *bad[] = {"", ".x", "-x", "a/b", "../x", "x y"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        assert_null(ss_ar_file_open(g_root, SS_TYPE_LIKE, T0, bad[i], &o, err, sizeof err));
        assert_non_null(strstr(err, "name"));
    }
    assert_null(ss_ar_file_open(g_root, SS_TYPE_LIKE, -1, "x", &o, err, sizeof err));
    assert_null(ss_ar_file_open(g_root, SS_TYPE_LIKE, SS_AR_TIME_MAX_US + 1, "x", &o, err, sizeof err));
    assert_null(ss_ar_file_open(g_root, (ss_type)SS_TYPE__COUNT, T0, "x", &o, err, sizeof err));
    /* a root that is a file, not a directory */
    char file[512];
    snprintf(file, sizeof file, "%s/plainfile", g_root);
    FILE *fp = fopen(file, "w");
    fclose(fp);
    assert_null(ss_ar_file_open(file, SS_TYPE_LIKE, T0, "x", &o, err, sizeof err));
    assert_non_null(strstr(err, "directory"));
    /* abort removes the temporary */
    ss_ar_file *f = ss_ar_file_open(g_root, SS_TYPE_POST, T0, "aborted", &o, err, sizeof err);
    assert_non_null(f);
    ss_ar_file_abort(f);
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/year=2024/month=9/day=5/hour=6/type=post", g_root);
    assert_int_equal(count_entries(dir, ".aborted"), 0);
    assert_int_equal(count_entries(dir, "aborted"), 0);
}

typedef struct {
    int files;
    uint64_t rows;
} on_file_acc;

static void on_file(void *ctx, ss_type t, const ss_ar_file_result *r) {
    on_file_acc *a = ctx;
    (void)t;
    a->files++;
    a->rows += r->rows;
}

static void test_sink_eviction(void **state) {
    (void)state;
    char err[512];
    ss_ar_options o;
    ss_ar_options_init(&o);
    o.fsync = 0;
    ss_ar_sink *s = ss_ar_sink_new(g_root, "t1", &o, 2, 0, err, sizeof err);
    assert_non_null(s);
    ss_ar_sink_set_spill(s, 0); /* no spilling: every switch evicts */
    on_file_acc acc = {0, 0};
    ss_ar_sink_on_file(s, on_file, &acc);
    ss_event ev;
    /* three partitions in rotation through two slots: every switch evicts */
    for (int i = 0; i < 6; i++) {
        int64_t t = T0 + (i % 3) * HOUR + i;
        decode(like_json(t, i), &ev);
        assert_int_equal(ss_ar_sink_add(s, &ev), 0);
    }
    decode(follow_json(T0 + 10), &ev);
    assert_int_equal(ss_ar_sink_add(s, &ev), 0);
    decode(profile_json(T0 + 11), &ev);
    assert_int_equal(ss_ar_sink_add(s, &ev), 1); /* other: skipped */
    assert_int_equal(ss_ar_sink_finish(s), 0);
    const ss_ar_sink_stats *st = ss_ar_sink_stats_get(s);
    assert_int_equal(st->events, 7);
    assert_int_equal(st->rows[SS_TYPE_LIKE], 6);
    assert_int_equal(st->rows[SS_TYPE_FOLLOW], 1);
    assert_int_equal(st->skipped_other, 1);
    assert_true(st->evictions >= 4);
    assert_int_equal(st->files, (uint64_t)acc.files);
    assert_int_equal(acc.rows, 7);
    char dir[1024];
    /* hour 06 saw like events at i = 0 and 3, with evictions between: two part files */
    snprintf(dir, sizeof dir, "%s/year=2024/month=9/day=5/hour=6/type=like", g_root);
    assert_int_equal(count_entries(dir, "part-t1-00000"), 2);
    assert_int_equal(count_entries(dir, "part-t1-000000.parquet"), 1);
    assert_int_equal(count_entries(dir, "part-t1-000001.parquet"), 1);
    assert_int_equal(count_entries(dir, "."), 2); /* "." and "..": no temporaries */
    snprintf(dir, sizeof dir, "%s/year=2024/month=9/day=5/hour=8/type=like", g_root);
    assert_int_equal(count_entries(dir, "part-t1-"), 2);
    ss_ar_sink_free(s);

    /* with spilling (the default), events of partitions without a slot wait in memory and
     * the same rotation writes one file per partition */
    s = ss_ar_sink_new(g_root, "t3", &o, 2, 0, err, sizeof err);
    acc = (on_file_acc){0, 0};
    ss_ar_sink_on_file(s, on_file, &acc);
    for (int i = 0; i < 30; i++) {
        decode(like_json(T0 + (i % 3) * HOUR + i, i), &ev);
        assert_int_equal(ss_ar_sink_add(s, &ev), 0);
    }
    assert_int_equal(ss_ar_sink_finish(s), 0);
    st = ss_ar_sink_stats_get(s);
    assert_int_equal(st->events, 30);
    assert_int_equal(st->spilled, 10);
    assert_int_equal(st->files, 3);
    assert_int_equal(acc.rows, 30);
    for (int h = 6; h <= 8; h++) {
        snprintf(dir, sizeof dir, "%s/year=2024/month=9/day=5/hour=%d/type=like", g_root, h);
        assert_int_equal(count_entries(dir, "part-t3-000000.parquet"), 1);
        assert_int_equal(count_entries(dir, "part-t3-"), 1);
    }
    ss_ar_sink_free(s);
    /* a tiny spill budget forces flushes while events arrive; every event still lands once */
    s = ss_ar_sink_new(g_root, "t4", &o, 2, 0, err, sizeof err);
    ss_ar_sink_set_spill(s, 3000);
    acc = (on_file_acc){0, 0};
    ss_ar_sink_on_file(s, on_file, &acc);
    for (int i = 0; i < 200; i++) {
        decode(like_json(T0 + (i % 5) * HOUR + i, i), &ev);
        assert_int_equal(ss_ar_sink_add(s, &ev), 0);
    }
    assert_int_equal(ss_ar_sink_finish(s), 0);
    st = ss_ar_sink_stats_get(s);
    assert_int_equal(st->events, 200);
    assert_int_equal(acc.rows, 200);
    assert_true(st->files > 5 && st->files < 100);
    assert_int_equal(st->partitions, 5);
    ss_ar_sink_free(s);

    /* an event outside the partitionable range is an error; the sink then aborts its files */
    s = ss_ar_sink_new(g_root, "t2", &o, 4, 1, err, sizeof err);
    decode(like_json(T0, 1), &ev);
    assert_int_equal(ss_ar_sink_add(s, &ev), 0);
    decode(like_json(SS_AR_TIME_MAX_US + 1, 2), &ev);
    assert_int_equal(ss_ar_sink_add(s, &ev), -1);
    assert_non_null(strstr(ss_ar_sink_errstr(s), "range"));
    assert_int_equal(ss_ar_sink_finish(s), -1);
    ss_ar_sink_free(s);
    snprintf(dir, sizeof dir, "%s/year=2024/month=9/day=5/hour=6/type=like", g_root);
    assert_int_equal(count_entries(dir, "part-t2"), 0);
    assert_int_equal(count_entries(dir, ".part-t2"), 0);
    /* invalid tags */
    assert_null(ss_ar_sink_new(g_root, "../x", &o, 4, 0, err, sizeof err));
    assert_null(ss_ar_sink_new(g_root, "", &o, 4, 0, err, sizeof err));
}

/* Events that did not come through the decoder may carry invalid UTF-8: the file replaces
 * it with U+FFFD (DuckDB rejects a whole file over one bad string) and counts it. */
static void test_file_utf8_replaced(void **state) {
    (void)state;
    char err[512];
    ss_ar_options o;
    ss_ar_options_init(&o);
    o.fsync = 0;
    ss_ar_file *f = ss_ar_file_open(g_root, SS_TYPE_POST, T0, "utf8", &o, err, sizeof err);
    assert_non_null(f);
    static const char rec[] = "{\"text\":\"bad \xff\xfe byte\",\"createdAt\":\"2024-09-05T06:11:04Z\"}";
    ss_event ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = SS_KIND_COMMIT;
    ev.type = SS_TYPE_POST;
    ev.did = (ss_str){"did:plc:eeeeeeeeeeeeeeeeeeeeeeee", 32};
    ev.time_us = T0 + 1;
    ev.op = SS_OP_CREATE;
    ev.collection = (ss_str){"app.bsky.feed.post", 18};
    ev.rkey = (ss_str){"3l3qo2vuowo2e", 13};
    ev.rev = (ss_str){"3l3qo2vutsw2e", 13};
    ev.cid = (ss_str){"bafyreie", 8};
    ev.record = (ss_str){rec, sizeof rec - 1};
    ev.active = -1;
    assert_int_equal(ss_ar_file_append(f, &ev), 0);
    ev.record = (ss_str){"{\"text\":\"fine\"}", 15};
    assert_int_equal(ss_ar_file_append(f, &ev), 0);
    ss_ar_file_result r;
    assert_int_equal(ss_ar_file_finish(f, &r, err, sizeof err), 0);
    assert_int_equal(r.rows, 2);
    assert_int_equal(r.utf8_replaced, 2); /* the text column and the raw record of row 1 */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_file_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_open_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sink_eviction, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_utf8_replaced, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
