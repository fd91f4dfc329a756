/* Unit tests for the Parquet reader (parquet/reader.h) against files the writer made.
 *
 * A model table (every column type, REQUIRED and OPTIONAL, nulls, empty strings, strings of
 * 100 KB, null / empty / long lists) is written with every option the writer has: the three
 * codecs, PLAIN and DELTA_BINARY_PACKED integers, dictionaries kept and fallen back, tiny
 * pages and row groups; each file is read back with both APIs (path and memory) and must
 * give exactly the model, value by value. Damaged files: every truncation is refused at
 * open, every single flipped byte is either refused or read without a crash (ASan watches),
 * and hand-made damage that keeps a valid footer (a page promising more values than it
 * holds, a row group whose footer row count is off) is refused. */
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

#include "parquet/parquet.h"
#include "parquet/reader.h"

enum { C_ID, C_TS, C_N, C_B, C_S, C_BIG, C_L, C_RL, C_REQ, NCOLS };
static const ss_pq_column g_cols[NCOLS] = {
    {"id", SS_PQ_INT64, 0, 0, 0},     {"ts", SS_PQ_TIMESTAMP_MICROS, 1, 0, 0}, {"n", SS_PQ_INT32, 1, 0, 0},
    {"b", SS_PQ_BOOLEAN, 1, 0, 0},    {"s", SS_PQ_STRING, 1, 1, 0},            {"big", SS_PQ_STRING, 1, 0, 0},
    {"l", SS_PQ_STRING_LIST, 1, 1, 0}, {"rl", SS_PQ_STRING_LIST, 0, 0, 0},     {"req", SS_PQ_STRING, 0, 1, 0},
};

#define BIG_LEN (100u << 10)
static char g_big[BIG_LEN];
static char g_path[256];

static uint64_t rnd(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* The model: row i's values are a pure function of (seed, i). */
static void str_of(uint64_t x, char *buf, size_t *n) {
    static const char *const words[] = {"", "a", "post", "like", "héllo wörld", "🦋 bsky", "x\ny\"z"};
    const char *w = words[x % 7];
    *n = (size_t)snprintf(buf, 64, "%s%s", w, x % 5 == 0 ? "" : (x % 5 == 1 ? "-1" : ""));
}

typedef struct {
    int null_ts, null_n, null_b, null_s, null_big, null_l;
    int64_t id, ts;
    int32_t n;
    int b;
    char s[64], req[64];
    size_t sn, reqn, bign;
    size_t ln, rln;
    char l[8][64], rl[8][64];
    size_t lens[8], rlens[8];
} row_t;

static void model(uint64_t seed, size_t i, row_t *r) {
    uint64_t st = seed * 0x9E3779B97F4A7C15ull + i + 1;
    for (int k = 0; k < 4; k++) rnd(&st);
    memset(r, 0, sizeof *r);
    r->id = (int64_t)(i * 1000 + (rnd(&st) % 997)) - 50000; /* negative and unsorted */
    r->null_ts = rnd(&st) % 4 == 0;
    r->ts = (int64_t)(1754524800000000ull + rnd(&st) % 3600000000ull);
    r->null_n = rnd(&st) % 3 == 0;
    r->n = (int32_t)(rnd(&st) % 2000000) - 1000000;
    r->null_b = rnd(&st) % 5 == 0;
    r->b = (int)(rnd(&st) & 1);
    r->null_s = rnd(&st) % 6 == 0;
    str_of(rnd(&st), r->s, &r->sn);
    r->null_big = rnd(&st) % 2 == 0;
    r->bign = rnd(&st) % 17 == 0 ? BIG_LEN - (size_t)(rnd(&st) % 100) : (size_t)(rnd(&st) % 300);
    uint64_t lk = rnd(&st) % 6;
    r->null_l = lk == 0;
    r->ln = lk <= 1 ? 0 : (size_t)lk; /* lk 1: an empty list */
    for (size_t k = 0; k < r->ln; k++) str_of(rnd(&st), r->l[k], &r->lens[k]);
    r->rln = (size_t)(rnd(&st) % 4);
    for (size_t k = 0; k < r->rln; k++) str_of(rnd(&st) + 3, r->rl[k], &r->rlens[k]);
    str_of(rnd(&st), r->req, &r->reqn);
}

static size_t write_model(uint64_t seed, size_t rows, const ss_pq_options *o) {
    snprintf(g_path, sizeof g_path, "%s/ss-reader-test-%ld.parquet", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp",
             (long)getpid());
    ss_pq_writer *w = ss_pq_open(g_path, g_cols, NCOLS, o);
    assert_non_null(w);
    assert_int_equal(ss_pq_err(w), 0);
    row_t r;
    for (size_t i = 0; i < rows; i++) {
        model(seed, i, &r);
        ss_pq_set_int64(w, C_ID, r.id);
        if (!r.null_ts) ss_pq_set_int64(w, C_TS, r.ts);
        if (!r.null_n) ss_pq_set_int32(w, C_N, r.n);
        if (!r.null_b) ss_pq_set_bool(w, C_B, r.b);
        if (!r.null_s) ss_pq_set_string(w, C_S, r.s, r.sn);
        if (!r.null_big) ss_pq_set_string(w, C_BIG, g_big, r.bign);
        if (!r.null_l) {
            ss_pq_list_begin(w, C_L);
            for (size_t k = 0; k < r.ln; k++) ss_pq_list_add(w, C_L, r.l[k], r.lens[k]);
        }
        ss_pq_list_begin(w, C_RL);
        for (size_t k = 0; k < r.rln; k++) ss_pq_list_add(w, C_RL, r.rl[k], r.rlens[k]);
        ss_pq_set_string(w, C_REQ, r.req, r.reqn);
        if (ss_pq_end_row(w) != 0) fail_msg("writer: %s", ss_pq_errstr(w));
    }
    char err[256];
    ss_pq_stats st;
    if (ss_pq_close(w, &st, err, sizeof err) != 0) fail_msg("close: %s", err);
    return (size_t)st.row_groups;
}

static void expect_str(ss_pq_reader *r, size_t col, int null, const char *want, size_t wn) {
    const char *p;
    size_t n;
    assert_int_equal(ss_pq_reader_is_null(r, col), null);
    if (null) {
        assert_int_equal(ss_pq_reader_str(r, col, &p, &n), -1);
        return;
    }
    assert_int_equal(ss_pq_reader_str(r, col, &p, &n), 0);
    assert_int_equal(n, wn);
    assert_memory_equal(p, want, wn);
}

static void check_reader(ss_pq_reader *r, uint64_t seed, size_t rows, size_t row_groups) {
    if (ss_pq_reader_err(r)) fail_msg("open: %s", ss_pq_reader_errstr(r));
    assert_int_equal(ss_pq_reader_ncols(r), NCOLS);
    for (size_t c = 0; c < NCOLS; c++) {
        const ss_pq_column *d = ss_pq_reader_column(r, c);
        assert_string_equal(d->name, g_cols[c].name);
        assert_int_equal(d->type, g_cols[c].type);
        assert_int_equal(d->optional, g_cols[c].optional);
    }
    assert_int_equal(ss_pq_reader_num_rows(r), rows);
    assert_int_equal(ss_pq_reader_row_groups(r), row_groups);
    assert_string_equal(ss_pq_reader_meta(r, "k"), "v");
    assert_null(ss_pq_reader_meta(r, "nope"));
    assert_int_equal(ss_pq_reader_find(r, "big"), C_BIG);
    row_t m;
    for (size_t i = 0; i < rows; i++) {
        int rc = ss_pq_reader_next(r);
        if (rc != 1) fail_msg("row %zu: next %d: %s", i, rc, ss_pq_reader_errstr(r));
        model(seed, i, &m);
        assert_int_equal(ss_pq_reader_int(r, C_ID), m.id);
        assert_int_equal(ss_pq_reader_is_null(r, C_TS), m.null_ts);
        if (!m.null_ts) assert_int_equal(ss_pq_reader_int(r, C_TS), m.ts);
        assert_int_equal(ss_pq_reader_is_null(r, C_N), m.null_n);
        if (!m.null_n) assert_int_equal(ss_pq_reader_int(r, C_N), m.n);
        assert_int_equal(ss_pq_reader_is_null(r, C_B), m.null_b);
        if (!m.null_b) assert_int_equal(ss_pq_reader_int(r, C_B), m.b);
        expect_str(r, C_S, m.null_s, m.s, m.sn);
        expect_str(r, C_BIG, m.null_big, g_big, m.bign);
        expect_str(r, C_REQ, 0, m.req, m.reqn);
        assert_int_equal(ss_pq_reader_is_null(r, C_L), m.null_l);
        assert_int_equal(ss_pq_reader_list_n(r, C_L), m.ln);
        const char *p;
        size_t n;
        for (size_t k = 0; k < m.ln; k++) {
            assert_int_equal(ss_pq_reader_list_str(r, C_L, k, &p, &n), 0);
            assert_int_equal(n, m.lens[k]);
            assert_memory_equal(p, m.l[k], n);
        }
        assert_int_equal(ss_pq_reader_list_str(r, C_L, m.ln, &p, &n), -1);
        assert_int_equal(ss_pq_reader_is_null(r, C_RL), 0);
        assert_int_equal(ss_pq_reader_list_n(r, C_RL), m.rln);
        for (size_t k = 0; k < m.rln; k++) {
            assert_int_equal(ss_pq_reader_list_str(r, C_RL, k, &p, &n), 0);
            assert_int_equal(n, m.rlens[k]);
            assert_memory_equal(p, m.rl[k], n);
        }
        /* wrong-type and out-of-range access reads as null */
        assert_int_equal(ss_pq_reader_str(r, C_ID, &p, &n), -1);
        assert_int_equal(ss_pq_reader_is_null(r, NCOLS), 1);
    }
    assert_int_equal(ss_pq_reader_next(r), 0);
    assert_int_equal(ss_pq_reader_next(r), 0);
    assert_int_equal(ss_pq_reader_row_index(r), rows);
}

static uint8_t *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *p = malloc((size_t)sz + 1);
    assert_non_null(p);
    assert_int_equal(fread(p, 1, (size_t)sz, f), (size_t)sz);
    fclose(f);
    *n = (size_t)sz;
    return p;
}

static void roundtrip(uint64_t seed, size_t rows, const ss_pq_options *o) {
    size_t rgs = write_model(seed, rows, o);
    ss_pq_reader *r = ss_pq_reader_open(g_path);
    assert_non_null(r);
    check_reader(r, seed, rows, rgs);
    ss_pq_reader_close(r);
    size_t n;
    uint8_t *mem = slurp(g_path, &n);
    r = ss_pq_reader_open_mem(mem, n);
    check_reader(r, seed, rows, rgs);
    ss_pq_reader_close(r);
    free(mem);
    unlink(g_path);
}

static void base_opts(ss_pq_options *o) {
    static const ss_pq_kv kv[] = {{"k", "v"}, {"novalue", NULL}};
    ss_pq_options_init(o);
    o->fsync = 0;
    o->kv = kv;
    o->nkv = 2;
}

static void test_every_option(void **state) {
    (void)state;
    for (size_t i = 0; i < BIG_LEN; i++) g_big[i] = (char)('a' + (i * 7 + i / 13) % 26);
    static const ss_pq_codec codecs[] = {SS_PQ_CODEC_NONE, SS_PQ_CODEC_SNAPPY, SS_PQ_CODEC_ZSTD};
    for (size_t c = 0; c < 3; c++) {
        for (int delta = 0; delta <= 1; delta++) {
            ss_pq_options o;
            base_opts(&o);
            o.codec = codecs[c];
            o.delta_int64 = delta;
            roundtrip(c * 2 + (uint64_t)delta, 1500, &o); /* one row group, ~1 MiB pages */
            o.row_group_rows = 257;                         /* many row groups */
            o.page_bytes = 700;                             /* many pages, lists cut between rows */
            roundtrip(10 + c, 2000, &o);
            o.dict_max_bytes = 40; /* dictionaries fall back to PLAIN inside a chunk */
            roundtrip(20 + c, 2000, &o);
        }
    }
    ss_pq_options o;
    base_opts(&o);
    roundtrip(99, 0, &o); /* no rows, no row groups */
    roundtrip(98, 1, &o);
}

/* A small file for the damage tests. */
static uint8_t *small_file(size_t *n) {
    ss_pq_options o;
    base_opts(&o);
    o.row_group_rows = 7;
    o.codec = SS_PQ_CODEC_NONE;
    for (size_t i = 0; i < BIG_LEN; i++) g_big[i] = (char)('a' + i % 26);
    write_model(5, 20, &o);
    uint8_t *p = slurp(g_path, n);
    unlink(g_path);
    return p;
}

static int read_all(const uint8_t *p, size_t n, int64_t *rows) {
    ss_pq_reader *r = ss_pq_reader_open_mem(p, n);
    assert_non_null(r);
    int rc = ss_pq_reader_err(r) ? -1 : 0;
    *rows = 0;
    while (rc == 0) {
        int k = ss_pq_reader_next(r);
        if (k < 0) rc = -1;
        if (k <= 0) break;
        (*rows)++;
        for (size_t c = 0; c < NCOLS; c++) { /* touch every value */
            const char *s;
            size_t sn;
            ss_pq_reader_int(r, c);
            ss_pq_reader_str(r, c, &s, &sn);
            for (size_t j = 0; j < ss_pq_reader_list_n(r, c); j++) ss_pq_reader_list_str(r, c, j, &s, &sn);
        }
    }
    if (rc) assert_true(strlen(ss_pq_reader_errstr(r)) > 0);
    ss_pq_reader_close(r);
    return rc;
}

static void test_damage(void **state) {
    (void)state;
    size_t n;
    uint8_t *f = small_file(&n);
    int64_t rows;
    assert_int_equal(read_all(f, n, &rows), 0);
    assert_int_equal(rows, 20);
    for (size_t k = 0; k < n; k++) assert_int_equal(read_all(f, k, &rows), -1); /* every truncation */
    uint8_t *g = malloc(n);
    assert_non_null(g);
    size_t refused = 0;
    for (size_t k = 0; k < n; k++) {
        for (int bit = 0; bit < 8; bit += 3) {
            memcpy(g, f, n);
            g[k] ^= (uint8_t)(1u << bit);
            refused += read_all(g, n, &rows) != 0;
        }
    }
    /* most flips hit lengths, levels, headers or the footer and are caught; flips inside a
     * string's bytes are (rightly) read as other bytes */
    assert_true(refused > n / 4);
    free(g);
    free(f);
}

/* Files that a byte flip is unlikely to produce but a broken writer might. */
static void test_inconsistent(void **state) {
    (void)state;
    /* one INT64 column, one row group of 3 rows, PLAIN, uncompressed: built with the writer,
     * then the page header's num_values (the first 0x15 field of the data page header) edited */
    snprintf(g_path, sizeof g_path, "%s/ss-reader-inc-%ld.parquet", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp",
             (long)getpid());
    ss_pq_column c1[] = {{"v", SS_PQ_INT64, 0, 0, 0}};
    ss_pq_options o;
    ss_pq_options_init(&o);
    o.fsync = 0;
    o.codec = SS_PQ_CODEC_NONE;
    ss_pq_writer *w = ss_pq_open(g_path, c1, 1, &o);
    for (int i = 0; i < 3; i++) {
        ss_pq_set_int64(w, 0, i);
        ss_pq_end_row(w);
    }
    char err[256];
    assert_int_equal(ss_pq_close(w, NULL, err, sizeof err), 0);
    size_t n;
    uint8_t *f = slurp(g_path, &n);
    unlink(g_path);
    int64_t rows;
    ss_pq_reader *r = ss_pq_reader_open_mem(f, n);
    assert_int_equal(ss_pq_reader_err(r), 0);
    assert_int_equal(ss_pq_reader_next(r), 1);
    ss_pq_reader_close(r);
    /* page header at offset 4: 0x15 0x00 (type DATA), 0x15 unc, 0x15 comp, 0x2c (struct 5), 0x15 num_values=3 (zigzag 6) */
    size_t at = 0;
    for (size_t k = 4; k + 1 < n && k < 40; k++)
        if (f[k] == 0x2c && f[k + 1] == 0x15 && f[k + 2] == 6) at = k + 2;
    assert_true(at > 0);
    f[at] = 8; /* 4 values in a page of 3: more than the chunk's num_values */
    assert_int_equal(read_all(f, n, &rows), -1);
    f[at] = 4; /* 2 values: the chunk ends before its 3 values */
    assert_int_equal(read_all(f, n, &rows), -1);
    f[at] = 6;
    assert_int_equal(read_all(f, n, &rows), 0);
    assert_int_equal(rows, 3);
    free(f);
    /* not a Parquet file at all, and nothing */
    assert_int_equal(read_all((const uint8_t *)"PAR1PAR1PAR1", 12, &rows), -1);
    assert_int_equal(read_all(NULL, 0, &rows), -1);
    r = ss_pq_reader_open("/nonexistent/x.parquet");
    assert_non_null(r);
    assert_int_equal(ss_pq_reader_err(r), 1);
    assert_non_null(strstr(ss_pq_reader_errstr(r), "open"));
    assert_int_equal(ss_pq_reader_next(r), -1);
    ss_pq_reader_close(r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_option),
        cmocka_unit_test(test_damage),
        cmocka_unit_test(test_inconsistent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
