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
#include <sqlite3.h>

#include "writer/claimlog.h"
#include "writer/ids.h"
#include "writer/ledger.h"
#include "writer/window.h"

#define MIN_US 60000000LL
/* The ledger tests prune to the minute: a horizon of 20 minutes gives the in-memory claim set
 * minute units (claimset.h; the default 1 h horizon has 150 s units). */
#define MINUTE_UNITS_HORIZON_US (20 * MIN_US)

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
    ss_ledger_set_horizon(l, MINUTE_UNITS_HORIZON_US); /* a minute per time unit (claimset.h) */

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
    assert_int_equal(ss_ledger_claims_end(l), 0);
    assert_int_equal(ss_ledger_claims_begin(l), 0); /* a second round: a second batch */
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

    /* an id blob stays while Redis may hold its entries pending (the stream's oldest pending
     * entry is at or before the commit's last id), whatever its event time */
    ss_ledger_prune_floor(l, 1, 5);
    assert_int_equal(ss_ledger_prune(l, 0, 10000000), 0);
    assert_int_equal(ss_ledger_committed_ids(l, 1, 0, 1000, &got, &ng), 0);
    assert_true(ng > 0); /* kept */
    free(got);
    ss_ledger_prune_floor(l, 1, 100000);
    /* pruning (to the minute): batches whose claims are all < 6 min dropped, so k1 can be
     * claimed anew */
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

/* ---- claim batches ---------------------------------------------------------------------- */

typedef struct {
    ss_claimrec r[64];
    size_t n;
} recs_ctx;

static int collect_rec(void *ctx, const ss_claimrec *r) {
    recs_ctx *c = ctx;
    if (c->n == 64) return 7;
    c->r[c->n++] = *r;
    return 0;
}

static void test_claimlog_codec(void **state) {
    (void)state;
    ss_claimrec in[5];
    memset(in, 0, sizeof in);
    for (int i = 0; i < 5; i++) {
        for (int j = 0; j < 16; j++) in[i].key[j] = (uint8_t)(i * 31 + j * 7);
        in[i].type = i * 3 % 9;
    }
    /* ids and times move both ways (several streams interleave); extremes survive */
    in[0].ms = 1740000000123ULL, in[0].seq = 0, in[0].t = 1740000000;
    in[1].ms = 1740000000100ULL, in[1].seq = 17, in[1].t = 1739999000;
    in[2].ms = UINT64_MAX, in[2].seq = UINT64_MAX, in[2].t = 4000000000LL;
    in[3].ms = 0, in[3].seq = 1, in[3].t = 0;
    in[4].ms = 1740000000124ULL, in[4].seq = 2, in[4].t = 1740000001;
    ss_buf b;
    ss_buf_init(&b);
    ss_claimlog_enc enc = {0, 0};
    for (int i = 0; i < 5; i++) assert_int_equal(ss_claimlog_append(&b, &enc, &in[i]), 0);
    recs_ctx c = {.n = 0};
    size_t n = 99;
    assert_int_equal(ss_claimlog_decode(b.data, b.len, collect_rec, &c, &n), 0);
    assert_int_equal(n, 5);
    assert_int_equal(c.n, 5);
    for (int i = 0; i < 5; i++) {
        assert_memory_equal(c.r[i].key, in[i].key, 16);
        assert_int_equal(c.r[i].type, in[i].type);
        assert_true(c.r[i].ms == in[i].ms && c.r[i].seq == in[i].seq);
        assert_int_equal(c.r[i].t, in[i].t);
    }
    /* a typical round: ~21 bytes per claim */
    ss_buf t;
    ss_buf_init(&t);
    enc = (ss_claimlog_enc){0, 0};
    for (int i = 0; i < 1000; i++) {
        ss_claimrec r = {.type = i % 7, .ms = 1740000000000ULL + (uint64_t)i / 3, .seq = (uint64_t)i % 3,
                         .t = 1740000000 + (i % 50) - 25};
        assert_int_equal(ss_claimlog_append(&t, &enc, &r), 0);
    }
    assert_true(t.len <= 1000 * 22);
    ss_buf_free(&t);
    /* every truncation is an error, never a crash or a short success */
    for (size_t cut = 1; cut < b.len; cut++) {
        c.n = 0;
        int rc = ss_claimlog_decode(b.data, cut, collect_rec, &c, &n);
        int ends_at_record = 0;
        size_t off = 0;
        for (int i = 0; i < 5 && !ends_at_record; i++) {
            ss_buf one;
            ss_buf_init(&one);
            ss_claimlog_enc e2 = {0, 0};
            for (int j = 0; j <= i; j++) ss_claimlog_append(&one, &e2, &in[j]);
            off = one.len;
            ss_buf_free(&one);
            if (off == cut) ends_at_record = 1;
        }
        assert_int_equal(rc, ends_at_record ? 0 : -1);
    }
    /* an overlong varint and a type beyond a byte are refused */
    uint8_t bad[16 + 11];
    memset(bad, 0, sizeof bad);
    memset(bad + 16, 0xff, 10);
    bad[26] = 0x01;
    assert_int_equal(ss_claimlog_decode(bad, sizeof bad, collect_rec, &c, &n), -1);
    uint8_t big[16 + 5] = {0};
    big[16] = 0x80, big[17] = 0x02; /* type 256 */
    assert_int_equal(ss_claimlog_decode(big, sizeof big, collect_rec, &c, &n), -1);
    /* the callback stops the walk */
    recs_ctx full = {.n = 64};
    assert_int_equal(ss_claimlog_decode(b.data, b.len, collect_rec, &full, &n), 7);
    ss_buf_free(&b);
}

static long long sql_int(const char *path, const char *sql) {
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    long long v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

static int claim1(ss_ledger *l, uint8_t k, uint64_t ms, int64_t t_us) {
    uint8_t key[16] = {k, 0x5a};
    int owner = -1;
    assert_int_equal(ss_ledger_claim(l, key, 2, (ss_writer_id){ms, 0}, t_us, &owner), 0);
    return owner;
}

/* Two writers on one ledger see each other's claims; a round stores one row; a restart
 * reloads every owner; pruning drops whole batches by their newest claim. */
static void test_claims_shared(void **state) {
    (void)state;
    char path[300], err[256];
    snprintf(path, sizeof path, "%s/%s", g_dir, SS_LEDGER_FILE);
    ss_ledger *a = ss_ledger_open(path, err, sizeof err), *b = ss_ledger_open(path, err, sizeof err);
    assert_non_null(a);
    assert_non_null(b);
    ss_ledger_set_horizon(a, MINUTE_UNITS_HORIZON_US); /* a minute per time unit (claimset.h) */
    ss_ledger_set_horizon(b, MINUTE_UNITS_HORIZON_US);
    assert_int_equal(ss_ledger_claims_begin(a), 0);
    assert_int_equal(claim1(a, 1, 1, 10 * MIN_US), 1);
    assert_int_equal(claim1(a, 2, 2, 11 * MIN_US), 1);
    assert_int_equal(claim1(a, 2, 2, 11 * MIN_US), 2);
    assert_int_equal(ss_ledger_claims_end(a), 0);
    assert_int_equal(ss_ledger_claims_begin(b), 0);
    assert_int_equal(claim1(b, 1, 3, 10 * MIN_US), 0); /* a's claim, read under the lock */
    assert_int_equal(claim1(b, 3, 4, 12 * MIN_US), 1);
    assert_int_equal(ss_ledger_claims_end(b), 0);
    assert_int_equal(ss_ledger_claims_begin(a), 0);
    assert_int_equal(claim1(a, 3, 5, 12 * MIN_US), 0); /* b's claim */
    assert_int_equal(claim1(a, 1, 1, 10 * MIN_US), 2);
    assert_int_equal(ss_ledger_claims_end(a), 0); /* nothing new: no row */
    assert_int_equal(sql_int(path, "SELECT COUNT(*) FROM claim_batches"), 2);
    assert_int_equal(sql_int(path, "SELECT SUM(n) FROM claim_batches"), 3);
    assert_int_equal(sql_int(path, "SELECT MAX(max_t) FROM claim_batches"), 12 * 60);
    assert_int_equal(sql_int(path, "PRAGMA user_version"), 2);
    ss_ledger_close(a);
    ss_ledger_close(b);

    /* restart: every owner comes back */
    a = ss_ledger_open(path, err, sizeof err);
    assert_non_null(a);
    ss_ledger_set_horizon(a, MINUTE_UNITS_HORIZON_US);
    assert_int_equal(ss_ledger_claims_begin(a), 0);
    assert_int_equal(claim1(a, 2, 6, 11 * MIN_US), 0);
    assert_int_equal(claim1(a, 2, 2, 11 * MIN_US), 2);
    assert_int_equal(claim1(a, 3, 4, 12 * MIN_US), 2);
    assert_int_equal(ss_ledger_claims_end(a), 0);
    /* a's batch (newest claim 11 min) goes at 12 min; b's (12 min) stays */
    assert_int_equal(ss_ledger_prune(a, 11 * MIN_US + 59000000, 0), 0);
    assert_int_equal(ss_ledger_prune(a, 12 * MIN_US + 30000000, 0), 2);
    assert_int_equal(sql_int(path, "SELECT COUNT(*) FROM claim_batches"), 1);
    assert_int_equal(ss_ledger_claims_begin(a), 0);
    assert_int_equal(claim1(a, 1, 7, 10 * MIN_US), 1); /* pruned: claimable anew */
    assert_int_equal(claim1(a, 3, 8, 12 * MIN_US), 0);
    assert_int_equal(ss_ledger_claims_end(a), 0);
    /* a batch keeps its seq forever (AUTOINCREMENT): pruning everything and appending again
     * must not reuse a number another writer has already read past */
    long long top = sql_int(path, "SELECT MAX(seq) FROM claim_batches");
    assert_int_equal(ss_ledger_prune(a, 60 * MIN_US, 0), 2);
    assert_int_equal(ss_ledger_claims_begin(a), 0);
    assert_int_equal(claim1(a, 4, 9, 70 * MIN_US), 1);
    assert_int_equal(ss_ledger_claims_end(a), 0);
    assert_true(sql_int(path, "SELECT MAX(seq) FROM claim_batches") > top);
    ss_ledger_close(a);
}

/* A restart reloads thousands of claims (through the loader's prefetch queue) with every
 * owner as it was, in append order: a key claimed again after its claim was pruned from
 * memory (its batch still in the ledger) reloads with its first owner. */
static void test_claims_reload(void **state) {
    (void)state;
    char path[300], err[256];
    snprintf(path, sizeof path, "%s/%s", g_dir, SS_LEDGER_FILE);
    ss_ledger *l = ss_ledger_open(path, err, sizeof err);
    assert_non_null(l);
    ss_ledger_set_horizon(l, MINUTE_UNITS_HORIZON_US); /* a minute per time unit (claimset.h) */
    int owner;
    for (int round = 0; round < 3; round++) {
        assert_int_equal(ss_ledger_claims_begin(l), 0);
        for (int i = 0; i < 1000; i++) {
            uint8_t key[16] = {(uint8_t)round, (uint8_t)(i & 0xff), (uint8_t)(i >> 8), 0x77};
            int64_t t = (round == 0 && i == 0 ? 5 : 20) * MIN_US; /* key 0-0 is old */
            assert_int_equal(ss_ledger_claim(l, key, 1, (ss_writer_id){(uint64_t)(round * 1000 + i), 0}, t, &owner), 0);
            assert_int_equal(owner, 1);
        }
        assert_int_equal(ss_ledger_claims_end(l), 0);
    }
    /* memory drops key 0-0 (5 min); its batch stays (newest claim 20 min); claimed anew */
    assert_int_equal(ss_ledger_prune(l, 6 * MIN_US, 0), 0);
    uint8_t k00[16] = {0, 0, 0, 0x77};
    assert_int_equal(ss_ledger_claims_begin(l), 0);
    assert_int_equal(ss_ledger_claim(l, k00, 1, (ss_writer_id){99999, 0}, 21 * MIN_US, &owner), 0);
    assert_int_equal(owner, 1);
    assert_int_equal(ss_ledger_claims_end(l), 0);
    ss_ledger_close(l);

    l = ss_ledger_open(path, err, sizeof err);
    assert_non_null(l);
    ss_ledger_set_horizon(l, MINUTE_UNITS_HORIZON_US); /* a minute per time unit (claimset.h) */
    assert_int_equal(ss_ledger_claims_begin(l), 0);
    for (int round = 0; round < 3; round++)
        for (int i = 0; i < 1000; i++) {
            uint8_t key[16] = {(uint8_t)round, (uint8_t)(i & 0xff), (uint8_t)(i >> 8), 0x77};
            uint64_t ms = (uint64_t)(round * 1000 + i);
            assert_int_equal(ss_ledger_claim(l, key, 1, (ss_writer_id){ms, 0}, 20 * MIN_US, &owner), 0);
            assert_int_equal(owner, 2); /* the same entry: its own claim */
            assert_int_equal(ss_ledger_claim(l, key, 1, (ss_writer_id){ms, 1}, 20 * MIN_US, &owner), 0);
            assert_int_equal(owner, 0);
        }
    assert_int_equal(ss_ledger_claim(l, k00, 1, (ss_writer_id){99999, 0}, 21 * MIN_US, &owner), 0);
    assert_int_equal(owner, 0); /* the first owner (entry 0-0) came back first */
    assert_int_equal(ss_ledger_claims_end(l), 0);
    ss_ledger_close(l);
}

/* A ledger written before claim batches (schema version 0, claim_log) is migrated on open;
 * a version this code does not know is refused with a message saying so. */
static void test_schema_versions(void **state) {
    (void)state;
    char path[300], err[256];
    snprintf(path, sizeof path, "%s/old.sqlite", g_dir);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "CREATE TABLE claim_log(seq INTEGER PRIMARY KEY, key BLOB NOT NULL, owner_type INTEGER"
                                  " NOT NULL, owner_ms INTEGER NOT NULL, owner_seq INTEGER NOT NULL, t INTEGER NOT NULL);"
                                  "INSERT INTO claim_log(key, owner_type, owner_ms, owner_seq, t) VALUES"
                                  " (X'015a0000000000000000000000000000', 2, 1, 0, 600),"
                                  " (X'025a0000000000000000000000000000', 2, 2, 0, 660);",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    ss_ledger *l = ss_ledger_open(path, err, sizeof err);
    assert_non_null(l);
    assert_int_equal(sql_int(path, "PRAGMA user_version"), 2);
    assert_int_equal(sql_int(path, "SELECT COUNT(*) FROM sqlite_master WHERE name='claim_log'"), 0);
    assert_int_equal(sql_int(path, "SELECT SUM(n) FROM claim_batches"), 2);
    assert_int_equal(sql_int(path, "SELECT MAX(max_t) FROM claim_batches"), 660);
    assert_int_equal(ss_ledger_claims_begin(l), 0);
    assert_int_equal(claim1(l, 1, 9, 10 * MIN_US), 0);
    assert_int_equal(claim1(l, 1, 1, 10 * MIN_US), 2);
    assert_int_equal(claim1(l, 2, 2, 11 * MIN_US), 2);
    assert_int_equal(ss_ledger_claims_end(l), 0);
    ss_ledger_close(l);
    l = ss_ledger_open(path, err, sizeof err); /* already current: opens as is */
    assert_non_null(l);
    ss_ledger_close(l);

    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "PRAGMA user_version=7", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    err[0] = 0;
    assert_null(ss_ledger_open(path, err, sizeof err));
    assert_non_null(strstr(err, "schema version 7"));
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
        cmocka_unit_test(test_claimlog_codec),
        cmocka_unit_test_setup_teardown(test_claims_shared, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_claims_reload, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_schema_versions, setup_dir, teardown_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
