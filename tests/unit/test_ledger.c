/* Unit tests of the DataWriter's pure logic and its run ledger: window math, watermark,
 * backoff, entry-id blobs, and ledger queries on a real SQLite file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "writer/ids.h"
#include "writer/ledger.h"
#include "writer/window.h"

#define MIN_US 60000000LL

static void test_window_math(void **state) {
    (void)state;
    int64_t w = 5 * MIN_US;
    assert_true(ss_writer_window_len_valid(w));
    assert_true(ss_writer_window_len_valid(SS_WRITER_HOUR_US));
    assert_false(ss_writer_window_len_valid(7 * MIN_US)); /* does not divide an hour */
    assert_false(ss_writer_window_len_valid(0));
    assert_false(ss_writer_window_len_valid(1500000)); /* not whole seconds */
    /* 2024-09-05T06:11:04.870Z -> window 06:10 */
    int64_t t = 1725516664870000LL;
    assert_int_equal(ss_writer_window_start(t, w), 1725516600000000LL);
    assert_int_equal(ss_writer_window_start(1725516600000000LL, w), 1725516600000000LL);
    assert_int_equal(ss_writer_window_start(1725516600000000LL - 1, w), 1725516600000000LL - w);
    assert_int_equal(ss_writer_window_start(-1, w), -w);
    int64_t grace = 30000000;
    int64_t s = 1725516600000000LL;
    assert_false(ss_writer_window_closed(s, w, grace, s + w + grace - 1));
    assert_true(ss_writer_window_closed(s, w, grace, s + w + grace));
}

static void test_watermark(void **state) {
    (void)state;
    ss_writer_stream_clock c[3];
    memset(c, 0, sizeof c);
    int64_t wall = 1000 * 1000000LL, idle = 30 * 1000000LL;
    /* nothing seen: the wall clock */
    assert_int_equal(ss_writer_watermark(c, 3, wall, idle), wall);
    /* stream 0 has a backlog: its last batch's minimum holds the watermark */
    ss_writer_clock_observe(&c[0], 1000, 100, 200, 0, wall);
    ss_writer_clock_observe(&c[1], 10, 150, 500, 1, wall);
    assert_int_equal(ss_writer_watermark(c, 3, wall, idle), 100);
    /* stream 0 drained: highest + elapsed; stream 1 too */
    ss_writer_clock_observe(&c[0], 5, 180, 300, 1, wall);
    assert_int_equal(ss_writer_clock_low(&c[0], wall + 7, idle), 307);
    assert_int_equal(ss_writer_watermark(c, 3, wall + 7, idle), 307);
    /* an empty short read keeps the data and the time it was seen */
    ss_writer_clock_observe(&c[0], 0, 0, 0, 1, wall + 10);
    assert_int_equal(ss_writer_clock_low(&c[0], wall + 10, idle), 310);
    /* idle long enough: the wall clock stands in */
    assert_int_equal(ss_writer_clock_low(&c[0], wall + idle, idle), wall + idle);
    /* a stream never seen does not hold anything back */
    assert_int_equal(ss_writer_clock_low(&c[2], wall, idle), INT64_MAX);
    /* a new backlog drops the watermark again */
    ss_writer_clock_observe(&c[1], 1000, 120, 900, 0, wall + 11);
    assert_int_equal(ss_writer_watermark(c, 3, wall + 11, idle), 120);
}

static void test_backoff(void **state) {
    (void)state;
    assert_int_equal(ss_writer_backoff_ms(1, 100, 10000, 0.0), 50);
    assert_int_equal(ss_writer_backoff_ms(1, 100, 10000, 0.999999), 99);
    assert_int_equal(ss_writer_backoff_ms(2, 100, 10000, 0.0), 100);
    assert_int_equal(ss_writer_backoff_ms(4, 100, 10000, 0.0), 400);
    /* capped */
    assert_int_equal(ss_writer_backoff_ms(30, 100, 10000, 0.0), 5000);
    assert_true(ss_writer_backoff_ms(30, 100, 10000, 0.9) <= 10000);
    assert_true(ss_writer_backoff_ms(1000, 100, 10000, 0.5) >= 5000);
    /* jitter spreads values */
    assert_true(ss_writer_backoff_ms(5, 100, 10000, 0.1) < ss_writer_backoff_ms(5, 100, 10000, 0.9));
}

static void test_id_parse(void **state) {
    (void)state;
    ss_writer_id id;
    assert_int_equal(ss_writer_id_parse("1725516664870-17", 16, &id), 0);
    assert_true(id.ms == 1725516664870ULL && id.seq == 17);
    assert_int_equal(ss_writer_id_parse("18446744073709551615-0", 22, &id), 0);
    assert_true(id.ms == UINT64_MAX);
    assert_int_equal(ss_writer_id_parse("18446744073709551616-0", 22, &id), -1);
    assert_int_equal(ss_writer_id_parse("12", 2, &id), -1);
    assert_int_equal(ss_writer_id_parse("-1", 2, &id), -1);
    assert_int_equal(ss_writer_id_parse("1-", 2, &id), -1);
    assert_int_equal(ss_writer_id_parse("1-2x", 4, &id), -1);
    char s[SS_WRITER_ID_STRLEN];
    ss_writer_id_format((ss_writer_id){42, 7}, s);
    assert_string_equal(s, "42-7");
}

static void test_idblob_roundtrip(void **state) {
    (void)state;
    size_t n = 10000;
    ss_writer_id *ids = malloc(n * sizeof *ids);
    uint64_t ms = 1725516664870ULL, seq = 0;
    srand(7);
    for (size_t i = 0; i < n; i++) {
        if (rand() % 3 == 0) {
            ms += (uint64_t)(rand() % 5 + 1);
            seq = (uint64_t)(rand() % 3);
        } else {
            seq += (uint64_t)(rand() % 4 + 1);
        }
        ids[i] = (ss_writer_id){ms, seq};
    }
    ids[n - 1] = (ss_writer_id){UINT64_MAX, UINT64_MAX};
    ss_buf b;
    ss_buf_init(&b);
    assert_int_equal(ss_writer_idblob_encode(ids, n, &b), 0);
    assert_true(b.len < n * 4); /* compact: a few bytes per id */
    ss_writer_id *out = NULL;
    size_t on = 0, cap = 0;
    assert_int_equal(ss_writer_idblob_decode(b.data, b.len, &out, &on, &cap, SS_WRITER_IDBLOB_MAX_IDS), 0);
    assert_int_equal(on, n);
    assert_memory_equal(out, ids, n * sizeof *ids);
    /* truncated blobs are rejected */
    for (size_t cut = 0; cut < b.len; cut += b.len / 7 + 1) {
        size_t k = 0;
        assert_int_equal(ss_writer_idblob_decode(b.data, cut, &out, &k, &cap, SS_WRITER_IDBLOB_MAX_IDS), -1);
    }
    /* trailing garbage is rejected */
    ss_buf_putc(&b, 1);
    on = 0;
    assert_int_equal(ss_writer_idblob_decode(b.data, b.len, &out, &on, &cap, SS_WRITER_IDBLOB_MAX_IDS), -1);
    /* a count over the limit is rejected */
    on = 0;
    assert_int_equal(ss_writer_idblob_decode(b.data, b.len - 1, &out, &on, &cap, 10), -1);
    /* not increasing: refused */
    ss_buf_reset(&b);
    ss_writer_id bad[2] = {{5, 1}, {5, 1}};
    assert_int_equal(ss_writer_idblob_encode(bad, 2, &b), -1);
    /* an overlong varint is rejected */
    const uint8_t over[] = {1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0};
    on = 0;
    assert_int_equal(ss_writer_idblob_decode(over, sizeof over, &out, &on, &cap, 100), -1);
    /* empty list */
    ss_buf_reset(&b);
    assert_int_equal(ss_writer_idblob_encode(ids, 0, &b), 0);
    on = 0;
    assert_int_equal(ss_writer_idblob_decode(b.data, b.len, &out, &on, &cap, 100), 0);
    assert_int_equal(on, 0);
    /* sort/unique/find */
    ss_writer_id mix[5] = {{3, 1}, {1, 9}, {3, 1}, {2, 0}, {1, 2}};
    size_t m = ss_writer_id_sort_unique(mix, 5);
    assert_int_equal(m, 4);
    assert_true(ss_writer_id_find(mix, m, (ss_writer_id){2, 0}));
    assert_false(ss_writer_id_find(mix, m, (ss_writer_id){2, 1}));
    free(out);
    free(ids);
    ss_buf_free(&b);
}

static char g_dir[256];

static int setup_dir(void **state) {
    (void)state;
    snprintf(g_dir, sizeof g_dir, "%s/ss-ledger-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    return mkdtemp(g_dir) ? 0 : -1;
}

static int teardown_dir(void **state) {
    (void)state;
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void count_intent(void *ctx, const char *path) {
    (void)path;
    (*(int *)ctx)++;
}

typedef struct {
    int n;
    ss_ledger_run_row last;
} runs_ctx;

static void collect_run(void *ctx, const ss_ledger_run_row *r) {
    runs_ctx *c = ctx;
    c->n++;
    c->last = *r;
}

static void test_ledger_queries(void **state) {
    (void)state;
    char path[300], err[256];
    snprintf(path, sizeof path, "%s/%s", g_dir, SS_LEDGER_FILE);
    ss_ledger *l = ss_ledger_open(path, err, sizeof err);
    assert_non_null(l);

    /* claims: first entry owns the key; others do not; same entry again still owns it */
    uint8_t k1[16] = {1}, k2[16] = {2};
    int owner = -1;
    assert_int_equal(ss_ledger_claims_begin(l), 0);
    assert_int_equal(ss_ledger_claim(l, k1, 1, (ss_writer_id){100, 0}, 5 * MIN_US, &owner), 0);
    assert_int_equal(owner, 1);
    assert_int_equal(ss_ledger_claim(l, k1, 1, (ss_writer_id){101, 0}, 5 * MIN_US, &owner), 0);
    assert_int_equal(owner, 0);
    assert_int_equal(ss_ledger_claim(l, k1, 1, (ss_writer_id){100, 0}, 5 * MIN_US, &owner), 0);
    assert_int_equal(owner, 2);
    assert_int_equal(ss_ledger_claim(l, k2, 1, (ss_writer_id){102, 0}, 9 * MIN_US, &owner), 0);
    assert_int_equal(owner, 1);
    assert_int_equal(ss_ledger_claims_end(l), 0);

    /* runs, intents, commits */
    long long run = ss_ledger_run_open(l, 0, 300000000, 1, "like", "w1", 0);
    assert_true(run > 0);
    assert_int_equal(ss_ledger_run_open(l, 0, 300000000, 1, "like", "w1", 0), run); /* reused while unfinished */
    assert_int_equal(ss_ledger_run_failed(l, run, "No space left on device"), 0);
    assert_int_equal(ss_ledger_intent(l, "year=1970/a.parquet", "w1"), 0);
    int nint = 0;
    assert_int_equal(ss_ledger_intents(l, "w1", count_intent, &nint), 0);
    assert_int_equal(nint, 1);
    ss_writer_id ids[3] = {{100, 0}, {101, 0}, {102, 0}};
    ss_ledger_commit_rec c = {.run_id = run, .window_start_us = 0, .type = 1, .type_name = "like",
                              .consumer = "w1", .path = "year=1970/a.parquet", .ids = ids, .nids = 3,
                              .rows = 2, .dups = 1, .bytes = 1234, .sha256 = "ab", .max_time_us = 9000000};
    assert_int_equal(ss_ledger_commit(l, &c), SS_LEDGER_OK);
    nint = 0;
    ss_ledger_intents(l, "w1", count_intent, &nint);
    assert_int_equal(nint, 0);
    /* committing the same file again: its intent is gone -> refused */
    assert_int_equal(ss_ledger_commit(l, &c), SS_LEDGER_FENCED);
    assert_int_equal(ss_ledger_run_done(l, run, 15), 0);
    assert_int_not_equal(ss_ledger_run_open(l, 0, 300000000, 1, "like", "w1", 0), run); /* finished: new run */

    /* committed ids for recovery */
    ss_writer_id *got = NULL;
    size_t ng = 0;
    assert_int_equal(ss_ledger_committed_ids(l, 1, 101, 101, &got, &ng), 0);
    assert_int_equal(ng, 3);
    assert_true(ss_writer_id_find(got, ng, (ss_writer_id){101, 0}));
    free(got);
    assert_int_equal(ss_ledger_committed_ids(l, 1, 200, 300, &got, &ng), 0);
    assert_int_equal(ng, 0);
    free(got);
    assert_int_equal(ss_ledger_committed_ids(l, 2, 0, 300, &got, &ng), 0);
    assert_int_equal(ng, 0);
    free(got);

    /* fencing */
    assert_int_equal(ss_ledger_is_fenced(l, "w2"), 0);
    assert_int_equal(ss_ledger_intent(l, "year=1970/b.parquet", "w2"), 0);
    assert_int_equal(ss_ledger_fence(l, "w2"), 0);
    assert_int_equal(ss_ledger_is_fenced(l, "w2"), 1);
    ss_ledger_commit_rec c2 = c;
    c2.consumer = "w2";
    c2.path = "year=1970/b.parquet";
    assert_int_equal(ss_ledger_commit(l, &c2), SS_LEDGER_FENCED);
    assert_int_equal(ss_ledger_intent_drop(l, "year=1970/b.parquet"), 1);
    assert_int_equal(ss_ledger_intent_drop(l, "year=1970/b.parquet"), 0);
    assert_int_equal(ss_ledger_unfence(l, "w2"), 0);
    assert_int_equal(ss_ledger_is_fenced(l, "w2"), 0);

    /* totals and history */
    ss_ledger_totals t;
    assert_int_equal(ss_ledger_totals_get(l, &t), 0);
    assert_int_equal(t.commits, 1);
    assert_int_equal(t.rows, 2);
    assert_int_equal(t.dups, 1);
    assert_int_equal(t.entries, 3);
    assert_int_equal(t.files, 1);
    runs_ctx rc = {0};
    assert_int_equal(ss_ledger_runs(l, 0, collect_run, &rc), 0);
    assert_int_equal(rc.n, 2);
    rc.n = 0;
    assert_int_equal(ss_ledger_runs(l, 1, collect_run, &rc), 0);
    assert_int_equal(rc.n, 1);
    assert_string_equal(rc.last.status, "running");
    rc.n = 0;
    ss_ledger_runs(l, 2, collect_run, &rc);
    assert_int_equal(ss_ledger_flushed_until(l), 300000000);

    /* pruning (to the minute): claims of event time < 6 min dropped, so k1 can be claimed anew */
    assert_int_equal(ss_ledger_prune(l, 6 * MIN_US + 30000000, 10000000), 1);
    assert_int_equal(ss_ledger_committed_ids(l, 1, 0, 1000, &got, &ng), 0);
    assert_int_equal(ng, 0); /* blob pruned */
    free(got);
    ss_ledger_claims_begin(l);
    assert_int_equal(ss_ledger_claim(l, k1, 1, (ss_writer_id){500, 0}, 7 * MIN_US, &owner), 0);
    assert_int_equal(owner, 1);
    assert_int_equal(ss_ledger_claim(l, k2, 1, (ss_writer_id){501, 0}, 9 * MIN_US, &owner), 0);
    assert_int_equal(owner, 0);
    ss_ledger_claims_end(l);
    ss_ledger_close(l);

    /* reopened: everything survived, including the history and failed-attempt record */
    l = ss_ledger_open_readonly(path, err, sizeof err);
    assert_non_null(l);
    assert_int_equal(ss_ledger_totals_get(l, &t), 0);
    assert_int_equal(t.rows, 2);
    rc.n = 0;
    ss_ledger_runs(l, 0, collect_run, &rc);
    assert_int_equal(rc.n, 2);
    ss_ledger_close(l);
}

/* Several writers starting at once on a fresh ledger all open it: switching to WAL and
 * creating the schema can answer SQLITE_BUSY without waiting, which once made a writer of a
 * scale-out group exit at start. Each round forks 12 processes that open the same new file. */
static void test_concurrent_open(void **state) {
    (void)state;
    for (int round = 0; round < 20; round++) {
        char path[600];
        snprintf(path, sizeof path, "%s/concurrent-%d.sqlite", g_dir, round);
        pid_t pids[12];
        for (int i = 0; i < 12; i++) {
            pids[i] = fork();
            assert_true(pids[i] >= 0);
            if (pids[i] == 0) {
                char err[512];
                ss_ledger *l = ss_ledger_open(path, err, sizeof err);
                if (!l) fprintf(stderr, "open %d: %s\n", i, err);
                ss_ledger_close(l);
                _exit(l ? 0 : 1);
            }
        }
        for (int i = 0; i < 12; i++) {
            int st = 0;
            assert_int_equal(waitpid(pids[i], &st, 0), pids[i]);
            assert_true(WIFEXITED(st));
            assert_int_equal(WEXITSTATUS(st), 0);
        }
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_window_math),
        cmocka_unit_test(test_watermark),
        cmocka_unit_test(test_backoff),
        cmocka_unit_test(test_id_parse),
        cmocka_unit_test(test_idblob_roundtrip),
        cmocka_unit_test_setup_teardown(test_ledger_queries, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_concurrent_open, setup_dir, teardown_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
