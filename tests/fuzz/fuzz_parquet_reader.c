/* Fuzz target: the Parquet reader (src/parquet/reader.h), which `cat --source archive:`,
 * `replay-server --archive` and `verify --deep` run on every archive file.
 *
 * The first byte picks a mode:
 *   even: the rest is a file as it is (hostile bytes; the seeds are real files the writer
 *         made, so mutations reach pages, levels and dictionaries, not only the footer);
 *   odd:  the rest is a program for the writer: a schema of 1..5 columns of every type,
 *         REQUIRED or OPTIONAL, dictionary or not, options (codec, delta integers, tiny row
 *         groups, pages and dictionaries) and up to 200 rows of values taken from the input
 *         (nulls, empty and arbitrary valid-UTF-8 strings, lists); the file is read back and
 *         must give exactly those values.
 * Checked either way: no crash, leak or undefined behaviour (the sanitizers); a refused file
 * comes with a message; a file read to its end gave exactly the footer's num_rows rows, and
 * every value of every row is accessible (touched); in the odd mode, a differential against
 * the model the program wrote. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "parquet/parquet.h"
#include "parquet/reader.h"

#define CHECK(c, ...)                                                           \
    do {                                                                        \
        if (!(c)) {                                                             \
            fprintf(stderr, "fuzz_parquet_reader: invariant failed: %s: ", #c); \
            fprintf(stderr, __VA_ARGS__);                                       \
            fprintf(stderr, "\n");                                              \
            abort();                                                            \
        }                                                                       \
    } while (0)

#define MAX_COLS 5
#define MAX_ROWS 200
#define MAX_LIST 4
#define MAX_STR 24

typedef struct {
    const uint8_t *p;
    size_t n;
} rd;
static uint8_t byte(rd *r) {
    if (!r->n) return 0;
    r->n--;
    return *r->p++;
}

static unsigned long n_ok, n_bad, n_built;
static int memfd = -1;
static void report(void) {
    fprintf(stderr, "fuzz_parquet_reader: %lu files read, %lu refused, %lu written and compared\n", n_ok, n_bad, n_built);
}

static void read_hostile(const uint8_t *p, size_t n) {
    ss_pq_reader *r = ss_pq_reader_open_mem(p, n);
    if (!r) return;
    int rc = ss_pq_reader_err(r) ? -1 : 0;
    while (rc == 0) {
        int k = ss_pq_reader_next(r);
        if (k < 0) rc = -1;
        if (k <= 0) break;
        for (size_t c = 0; c < ss_pq_reader_ncols(r); c++) {
            const char *s;
            size_t sn;
            (void)ss_pq_reader_int(r, c);
            if (ss_pq_reader_str(r, c, &s, &sn) == 0 && sn) CHECK(s != NULL, "a string without bytes");
            size_t ln = ss_pq_reader_list_n(r, c);
            for (size_t j = 0; j < ln; j++) CHECK(ss_pq_reader_list_str(r, c, j, &s, &sn) == 0, "list item %zu of %zu", j, ln);
        }
    }
    if (rc) {
        CHECK(ss_pq_reader_errstr(r)[0] != '\0', "a refusal without a message");
        n_bad++;
    } else {
        CHECK(ss_pq_reader_row_index(r) == ss_pq_reader_num_rows(r), "read %lld rows of %lld",
              (long long)ss_pq_reader_row_index(r), (long long)ss_pq_reader_num_rows(r));
        n_ok++;
    }
    ss_pq_reader_close(r);
}

typedef struct {
    int null;
    int64_t i;
    char s[MAX_LIST][MAX_STR];
    size_t sn[MAX_LIST];
    size_t ln;
} cell;

static cell g_model[MAX_ROWS][MAX_COLS];

/* A valid UTF-8 string from the input: ASCII and a few multi-byte code points. */
static size_t make_str(rd *r, char *out) {
    size_t n = byte(r) % 8, o = 0;
    for (size_t i = 0; i < n && o + 4 < MAX_STR; i++) {
        uint8_t b = byte(r);
        if (b < 0xc0) {
            out[o++] = (char)(0x20 + b % 0x5f);
        } else if (b < 0xe0) {
            out[o++] = (char)0xc3;
            out[o++] = (char)(0x80 + b % 0x40);
        } else {
            memcpy(out + o, "\xf0\x9f\xa6\x8b", 4); /* a butterfly */
            o += 4;
        }
    }
    return o;
}

static void build_and_compare(rd *r) {
    ss_pq_column cols[MAX_COLS];
    static const char *const names[MAX_COLS] = {"a", "b", "c", "d", "e"};
    size_t ncols = 1 + byte(r) % MAX_COLS;
    for (size_t c = 0; c < ncols; c++) {
        uint8_t b = byte(r);
        cols[c] = (ss_pq_column){names[c], (ss_pq_type)(b % 6), (b >> 3) & 1, (b >> 4) & 1, 0};
    }
    ss_pq_options o;
    ss_pq_options_init(&o);
    o.fsync = 0;
    uint8_t ob = byte(r);
    o.codec = (ss_pq_codec)(ob % 3);
    o.delta_int64 = (ob >> 2) & 1;
    o.row_group_rows = 1 + byte(r) % 64;
    o.page_bytes = 16 + (size_t)byte(r) * 4;
    o.dict_max_bytes = (size_t)byte(r) * 2;
    size_t rows = byte(r) % (MAX_ROWS + 1);

    if (memfd < 0 && (memfd = memfd_create("fuzz-pqr", 0)) < 0) abort();
    if (ftruncate(memfd, 0) != 0) abort();
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", memfd);
    ss_pq_writer *w = ss_pq_open(path, cols, ncols, &o);
    CHECK(w && !ss_pq_err(w), "open: %s", ss_pq_errstr(w));
    for (size_t i = 0; i < rows; i++) {
        for (size_t c = 0; c < ncols; c++) {
            cell *m = &g_model[i][c];
            memset(m, 0, sizeof *m);
            uint8_t b = byte(r);
            m->null = cols[c].optional && b % 4 == 0;
            if (m->null) {
                ss_pq_set_null(w, c);
                continue;
            }
            uint64_t x = (uint64_t)byte(r) << 56 | (uint64_t)byte(r) << 8 | byte(r);
            switch (cols[c].type) {
            case SS_PQ_BOOLEAN: m->i = b & 1; ss_pq_set_bool(w, c, (int)m->i); break;
            case SS_PQ_INT32: m->i = (int32_t)(uint32_t)x; ss_pq_set_int32(w, c, (int32_t)m->i); break;
            case SS_PQ_INT64:
            case SS_PQ_TIMESTAMP_MICROS: m->i = (int64_t)(x ^ ((uint64_t)i << 20)); ss_pq_set_int64(w, c, m->i); break;
            case SS_PQ_STRING:
                m->ln = 1;
                m->sn[0] = make_str(r, m->s[0]);
                ss_pq_set_string(w, c, m->s[0], m->sn[0]);
                break;
            case SS_PQ_STRING_LIST:
                m->ln = (b >> 2) % (MAX_LIST + 1);
                ss_pq_list_begin(w, c);
                for (size_t k = 0; k < m->ln; k++) {
                    m->sn[k] = make_str(r, m->s[k]);
                    ss_pq_list_add(w, c, m->s[k], m->sn[k]);
                }
                break;
            }
        }
        CHECK(ss_pq_end_row(w) == 0, "end_row: %s", ss_pq_errstr(w));
    }
    char err[256];
    ss_pq_stats st;
    CHECK(ss_pq_close(w, &st, err, sizeof err) == 0, "close: %s", err);

    ss_pq_reader *rr = ss_pq_reader_open(path);
    CHECK(rr && !ss_pq_reader_err(rr), "a file the writer made is refused: %s", ss_pq_reader_errstr(rr));
    CHECK(ss_pq_reader_num_rows(rr) == (int64_t)rows, "num_rows");
    CHECK(ss_pq_reader_row_groups(rr) == st.row_groups, "row groups %zu vs %llu", ss_pq_reader_row_groups(rr),
          (unsigned long long)st.row_groups);
    CHECK(ss_pq_reader_ncols(rr) == ncols, "columns");
    for (size_t c = 0; c < ncols; c++) {
        const ss_pq_column *d = ss_pq_reader_column(rr, c);
        CHECK(!strcmp(d->name, cols[c].name) && d->type == cols[c].type && d->optional == cols[c].optional,
              "column %zu description", c);
    }
    for (size_t i = 0; i < rows; i++) {
        int k = ss_pq_reader_next(rr);
        CHECK(k == 1, "row %zu: %d %s", i, k, ss_pq_reader_errstr(rr));
        for (size_t c = 0; c < ncols; c++) {
            const cell *m = &g_model[i][c];
            CHECK(ss_pq_reader_is_null(rr, c) == m->null, "row %zu col %zu null", i, c);
            if (m->null) continue;
            const char *s;
            size_t sn;
            switch (cols[c].type) {
            case SS_PQ_BOOLEAN:
            case SS_PQ_INT32:
            case SS_PQ_INT64:
            case SS_PQ_TIMESTAMP_MICROS:
                CHECK(ss_pq_reader_int(rr, c) == m->i, "row %zu col %zu: %lld vs %lld", i, c,
                      (long long)ss_pq_reader_int(rr, c), (long long)m->i);
                break;
            case SS_PQ_STRING:
                CHECK(ss_pq_reader_str(rr, c, &s, &sn) == 0 && sn == m->sn[0] && !memcmp(s, m->s[0], sn),
                      "row %zu col %zu string", i, c);
                break;
            case SS_PQ_STRING_LIST:
                CHECK(ss_pq_reader_list_n(rr, c) == m->ln, "row %zu col %zu list length %zu vs %zu", i, c,
                      ss_pq_reader_list_n(rr, c), m->ln);
                for (size_t k2 = 0; k2 < m->ln; k2++)
                    CHECK(ss_pq_reader_list_str(rr, c, k2, &s, &sn) == 0 && sn == m->sn[k2] && !memcmp(s, m->s[k2], sn),
                          "row %zu col %zu item %zu", i, c, k2);
                break;
            }
        }
    }
    CHECK(ss_pq_reader_next(rr) == 0, "rows after the last");
    ss_pq_reader_close(rr);
    n_built++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int once;
    if (!once) {
        once = 1;
        atexit(report);
    }
    if (size == 0) return 0;
    if ((data[0] & 1) == 0) {
        read_hostile(data + 1, size - 1);
    } else {
        rd r = {data + 1, size - 1};
        build_and_compare(&r);
    }
    return 0;
}
