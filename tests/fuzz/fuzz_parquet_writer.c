/* Fuzz target: the Parquet writer (src/parquet/parquet.h), driven as a program of API calls.
 *
 * The input is read as bytes that pick a schema (1..6 columns of any type, optional or
 * required, dictionary or not; sometimes a duplicate or empty name), options (codec, tiny
 * row groups, pages and dictionaries, so every flush path runs), then a sequence of calls:
 * set_null/bool/int32/int64/string, list_begin/list_add, end_row, with column indexes that
 * may be out of range, values of the wrong type, strings of arbitrary bytes (invalid UTF-8
 * included), and finally close (or abort). Checked:
 *   - errors are sticky: once a call fails, ss_pq_err() is set and every later call and
 *     close fail, with a message;
 *   - close either fails with a message, or the file is complete: "PAR1" at both ends, a
 *     footer length that fits, and a footer (thrift compact, decoded here by a small
 *     independent reader) with version 1, one schema element per column plus the root
 *     (three per LIST column), num_rows = the rows ended successfully = stats.rows, and
 *     stats.row_groups row groups; stats.file_bytes is the file size.
 * Files are written to a memfd (no disk I/O), fsync off. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "parquet/parquet.h"

#define CHECK(c, ...)                                                            \
    do {                                                                         \
        if (!(c)) {                                                              \
            fprintf(stderr, "fuzz_parquet_writer: invariant failed: %s: ", #c); \
            fprintf(stderr, __VA_ARGS__);                                        \
            fprintf(stderr, "\n");                                               \
            abort();                                                             \
        }                                                                        \
    } while (0)

typedef struct {
    const uint8_t *p;
    size_t n;
} rd;

static uint8_t byte(rd *r) {
    if (!r->n) return 0;
    r->n--;
    return *r->p++;
}

/* ---- a minimal thrift compact protocol reader, for the footer -------------------------- */

typedef struct {
    const uint8_t *p, *end;
    int bad;
    int depth;
} tc;

static uint64_t tc_varint(tc *t) {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (t->p >= t->end) return t->bad = 1, 0;
        uint8_t b = *t->p++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) return v;
    }
    return t->bad = 1, 0;
}
static int64_t tc_zigzag(tc *t) {
    uint64_t v = tc_varint(t);
    return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}
static void tc_skip(tc *t, int type);
static void tc_skip_struct(tc *t) {
    if (++t->depth > 32) {
        t->bad = 1;
        return;
    }
    for (;;) {
        if (t->bad || t->p >= t->end) {
            t->bad = 1;
            return;
        }
        uint8_t h = *t->p++;
        if (h == 0) break;
        if ((h >> 4) == 0) tc_zigzag(t); /* long form field id */
        tc_skip(t, h & 0x0f);
    }
    t->depth--;
}
static size_t tc_list_header(tc *t, int *elem) {
    if (t->p >= t->end) return t->bad = 1, 0;
    uint8_t h = *t->p++;
    *elem = h & 0x0f;
    size_t n = h >> 4;
    if (n == 15) n = (size_t)tc_varint(t);
    return n;
}
static void tc_skip(tc *t, int type) {
    switch (type) {
    case 1: case 2: break;                       /* bool in the header */
    case 3: t->p++; break;                       /* byte */
    case 4: case 5: case 6: tc_zigzag(t); break; /* i16, i32, i64 */
    case 7: t->p += 8; break;                    /* double */
    case 8: {                                    /* binary */
        uint64_t n = tc_varint(t);
        if (n > (uint64_t)(t->end - t->p)) t->bad = 1;
        else t->p += n;
        break;
    }
    case 9: case 10: { /* list, set */
        int e;
        size_t n = tc_list_header(t, &e);
        for (size_t i = 0; i < n && !t->bad; i++) {
            if (e == 1 || e == 2) t->p++; /* bools in lists take a byte */
            else tc_skip(t, e);
        }
        break;
    }
    case 11: { /* map */
        uint64_t n = tc_varint(t);
        if (n == 0) break;
        if (t->p >= t->end) { t->bad = 1; break; }
        uint8_t kv = *t->p++;
        for (uint64_t i = 0; i < n && !t->bad; i++) tc_skip(t, kv >> 4), tc_skip(t, kv & 0x0f);
        break;
    }
    case 12: tc_skip_struct(t); break;
    default: t->bad = 1;
    }
    if (t->p > t->end) t->bad = 1;
}

typedef struct {
    int64_t version, num_rows;
    size_t schema_elems, row_groups;
    int have_version, have_rows, have_schema, have_rgs;
} footer;

static int read_footer(const uint8_t *p, size_t n, footer *f) {
    tc t = {p, p + n, 0, 0};
    memset(f, 0, sizeof *f);
    int16_t last = 0;
    for (;;) {
        if (t.p >= t.end) return -1;
        uint8_t h = *t.p++;
        if (h == 0) break;
        int type = h & 0x0f;
        int16_t id = (h >> 4) ? (int16_t)(last + (h >> 4)) : (int16_t)tc_zigzag(&t);
        last = id;
        if (id == 1 && type == 5) f->version = tc_zigzag(&t), f->have_version = 1;
        else if (id == 3 && type == 6) f->num_rows = tc_zigzag(&t), f->have_rows = 1;
        else if ((id == 2 || id == 4) && type == 9) {
            int e;
            size_t cnt = tc_list_header(&t, &e);
            if (e != 12) return -1;
            for (size_t i = 0; i < cnt && !t.bad; i++) tc_skip_struct(&t);
            if (id == 2) f->schema_elems = cnt, f->have_schema = 1;
            else f->row_groups = cnt, f->have_rgs = 1;
        } else {
            tc_skip(&t, type);
        }
        if (t.bad) return -1;
    }
    return t.p == t.end ? 0 : -1;
}

/* ---- the program ----------------------------------------------------------------------- */

static int memfd = -1;
static unsigned long files_ok, files_err, rows_total;
static void report(void) {
    fprintf(stderr, "fuzz_parquet_writer: %lu complete files (%lu rows) checked, %lu programs ended in an error\n",
            files_ok, rows_total, files_err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (memfd < 0) {
        if ((memfd = memfd_create("fuzz-pq", 0)) < 0) abort();
        atexit(report);
    }
    rd r = {data, size};
    static char names[6][8];
    ss_pq_column cols[6];
    uint8_t h = byte(&r);
    size_t ncols = 1 + h % 6;
    size_t expect_schema = 1;
    for (size_t i = 0; i < ncols; i++) {
        uint8_t c = byte(&r);
        snprintf(names[i], sizeof names[i], "c%zu", i);
        cols[i].name = names[i];
        if (c == 0xfe) cols[i].name = i ? names[0] : ""; /* a duplicate or an empty name */
        cols[i].type = (ss_pq_type)(c % 6);
        cols[i].optional = (c >> 3) & 1;
        cols[i].dictionary = (c >> 4) & 1;
        cols[i].bloom = ((c >> 5) & 1) && cols[i].type != SS_PQ_BOOLEAN && cols[i].type != SS_PQ_STRING_LIST;
        expect_schema += cols[i].type == SS_PQ_STRING_LIST ? 3 : 1;
    }
    ss_pq_options o;
    ss_pq_options_init(&o);
    uint8_t ob = byte(&r);
    o.codec = (ss_pq_codec)(ob % 3);
    o.zstd_level = 1;
    o.row_group_rows = 1 + byte(&r) % 16;
    o.row_group_bytes = 64 + (size_t)byte(&r) * 64;
    o.page_bytes = 16 + (size_t)byte(&r) * 8;
    o.dict_max_bytes = 16 + (size_t)byte(&r) * 16;
    o.fsync = 0;
    o.replace_bad_utf8 = (ob >> 2) & 1;
    static const ss_pq_kv kv[] = {{"skyspool.fuzz", "1"}, {"k", ""}};
    o.kv = kv;
    o.nkv = (ob >> 3) & 1 ? 2 : 0;

    if (ftruncate(memfd, 0) != 0) abort();
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", memfd);
    ss_pq_writer *w = ss_pq_open(path, cols, ncols, &o);
    CHECK(w != NULL, "ss_pq_open returned NULL (out of memory?)");
    int failed = ss_pq_err(w) != 0;
    if (failed) CHECK(ss_pq_errstr(w)[0], "open error without a message");
    uint64_t rows = 0;
    int aborted = 0;
    size_t next_col = 0, list_pending = ncols;
    char sbuf[256];
    while (r.n && !aborted) {
        uint8_t op = byte(&r);
        size_t col = (op >> 4) % (ncols + 1); /* == ncols: out of range */
        int rc;
        int call = op & 7;
        if (call < 5 && next_col == ncols) { /* every column set: end the row */
            call = 7;
            next_col = 0;
        } else if (call < 5) { /* most often the next column, with a value of its type, so rows complete */
            col = next_col++;
            if (cols[col].optional && (op >> 4) == 0) call = 0; /* a null now and then */
            else switch (cols[col].type) {
            case SS_PQ_BOOLEAN: call = 1; break;
            case SS_PQ_INT32: call = 2; break;
            case SS_PQ_INT64: case SS_PQ_TIMESTAMP_MICROS: call = 3; break;
            case SS_PQ_STRING: call = 4; break;
            default: call = 6; list_pending = col; break; /* list: begin, then maybe adds */
            }
        } else if (call == 5) {
            call = list_pending < ncols ? 5 : 0; /* an element of the list begun last, else a null */
            if (call == 5) col = list_pending;
        } else if (call == 6) {
            call = 7;
        } else {
            call = byte(&r) % 10; /* any call, any column, any type */
        }
        switch (call) {
        case 0: rc = ss_pq_set_null(w, col); break;
        case 1: rc = ss_pq_set_bool(w, col, byte(&r) & 1); break;
        case 2: rc = ss_pq_set_int32(w, col, (int32_t)((uint32_t)byte(&r) << 24 | byte(&r))); break;
        case 3: {
            uint64_t v = 0;
            for (int k = 0; k < 8; k++) v = v << 8 | byte(&r);
            rc = ss_pq_set_int64(w, col, (int64_t)v);
            break;
        }
        case 4:
        case 5: {
            size_t n = byte(&r) % sizeof sbuf;
            if (n > r.n) n = r.n;
            memcpy(sbuf, r.p, n);
            r.p += n, r.n -= n;
            rc = call == 4 ? ss_pq_set_string(w, col, sbuf, n) : ss_pq_list_add(w, col, sbuf, n);
            break;
        }
        case 6: rc = ss_pq_list_begin(w, col); break;
        case 7:
        case 8:
            rc = ss_pq_end_row(w);
            if (rc == 0) rows++;
            next_col = 0;
            list_pending = ncols;
            break;
        default:
            if ((op >> 4) == 0xf) {
                ss_pq_abort(w);
                aborted = 1;
            }
            continue;
        }
        if (failed) CHECK(rc == -1, "a call succeeded after an error (call %d)", call);
        if (rc != 0) {
            CHECK(rc == -1, "call returned %d", rc);
            CHECK(ss_pq_err(w) != 0 && ss_pq_errstr(w)[0], "a call failed without setting the writer's error");
            failed = 1;
        }
    }
    if (aborted) return 0;
    /* Finish the last row when the program asks for it (header bit), so most files complete. */
    if ((h & 0x80) && next_col) {
        int rc = ss_pq_end_row(w);
        if (failed) CHECK(rc == -1, "end_row succeeded after an error");
        if (rc == 0) rows++;
        else failed = 1;
    }
    ss_pq_stats st;
    char err[256] = "";
    int rc = ss_pq_close(w, &st, err, sizeof err);
    if (failed) CHECK(rc == -1, "close succeeded after an error");
    if (rc != 0) {
        CHECK(err[0], "close failed without a message");
        files_err++;
        if (getenv("FUZZ_PQ_VERBOSE")) fprintf(stderr, "close: %s\n", err);
        return 0;
    }
    struct stat sb;
    CHECK(fstat(memfd, &sb) == 0, "fstat");
    size_t n = (size_t)sb.st_size;
    CHECK(st.rows == rows, "stats.rows %llu, rows ended %llu", (unsigned long long)st.rows, (unsigned long long)rows);
    CHECK(st.file_bytes == n, "stats.file_bytes %llu, file %zu", (unsigned long long)st.file_bytes, n);
    CHECK(n >= 12, "file of %zu bytes", n);
    uint8_t *buf = malloc(n);
    if (!buf) abort();
    CHECK(pread(memfd, buf, n, 0) == (ssize_t)n, "pread");
    CHECK(!memcmp(buf, "PAR1", 4) && !memcmp(buf + n - 4, "PAR1", 4), "magic missing");
    uint32_t flen = (uint32_t)buf[n - 8] | (uint32_t)buf[n - 7] << 8 | (uint32_t)buf[n - 6] << 16 | (uint32_t)buf[n - 5] << 24;
    CHECK(flen > 0 && flen <= n - 12, "footer length %u in a %zu-byte file", flen, n);
    footer f;
    CHECK(read_footer(buf + n - 8 - flen, flen, &f) == 0, "footer is not a thrift compact struct");
    CHECK(f.have_version && f.version == 1, "version %lld", (long long)f.version);
    CHECK(f.have_rows && f.num_rows == (int64_t)rows, "footer num_rows %lld, rows %llu", (long long)f.num_rows,
          (unsigned long long)rows);
    CHECK(f.have_schema && f.schema_elems == expect_schema, "schema has %zu elements, expected %zu", f.schema_elems,
          expect_schema);
    CHECK(f.have_rgs && f.row_groups == st.row_groups, "footer has %zu row groups, stats %llu", f.row_groups,
          (unsigned long long)st.row_groups);
    if (rows) CHECK(f.row_groups >= 1, "rows without a row group");
    free(buf);
    files_ok++;
    rows_total += rows;
    return 0;
}
