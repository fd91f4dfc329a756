/* pq_gen: writes Parquet test files with the skyspool writer, each beside a JSON file
 * holding the values that were written, so tests/js/pq_check.mjs can read every file
 * back with independent readers and compare value by value.
 *
 *   pq_gen OUTDIR [--seed N] [--random K] [--only NAME]
 *
 * Fixed cases cover the edge cases named in the writer's issue (nulls, empty strings,
 * empty and null lists, multi-byte UTF-8, invalid UTF-8, INT64 extremes, 1 MB strings,
 * zero rows, many row groups and pages, each codec, null runs at every offset of an
 * 8-value group, dictionary fallback, long runs, all-null columns). K more cases are
 * property tests: random schemas, values, null patterns and writer limits from a seed,
 * printed so a failure can be replayed.
 *
 * JSON values: null, int64 and timestamps as decimal strings (exact), int32 as numbers,
 * booleans, strings, lists as arrays of strings. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parquet.h"

#define MAX_COLS 32
#define MAX_LIST 16

typedef struct {
    int null;
    int64_t i;
    const char *s; /* string as written */
    size_t n;
    const char *es; /* expected string when it differs (invalid UTF-8 replaced) */
    size_t en;
    size_t nlist;
    const char *ls[MAX_LIST];
    size_t ln[MAX_LIST];
} val;

typedef struct gcase gcase;
typedef void (*gen_fn)(gcase *g, uint64_t row, size_t col, val *v);

struct gcase {
    const char *name;
    ss_pq_column cols[MAX_COLS];
    size_t ncols;
    uint64_t rows;
    ss_pq_options opt;
    gen_fn gen;
    uint64_t rng;
    /* per-case state for generators */
    int null_mode[MAX_COLS];
    double null_p[MAX_COLS];
    int val_mode[MAX_COLS];
    uint64_t run_start[MAX_COLS], run_len[MAX_COLS];
    char sbuf[MAX_COLS][MAX_LIST][96];
    char *big;
    uint64_t expect_replaced;
    int expect_fallback;
    const char *dict_cols[MAX_COLS]; /* columns expected to be dictionary-encoded */
    size_t ndict;
};

static uint64_t rnd(uint64_t *s) { /* splitmix64 */
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static uint64_t rndn(uint64_t *s, uint64_t n) { return n ? rnd(s) % n : 0; }

/* ---- JSON output ---- */
static void json_str(FILE *f, const char *s, size_t n) {
    fputc('"', f);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
        else if (c < 0x20) fprintf(f, "\\u%04x", c);
        else fputc(c, f);
    }
    fputc('"', f);
}

static const char *type_name(ss_pq_type t) {
    switch (t) {
    case SS_PQ_BOOLEAN: return "boolean";
    case SS_PQ_INT32: return "int32";
    case SS_PQ_INT64: return "int64";
    case SS_PQ_TIMESTAMP_MICROS: return "timestamp";
    case SS_PQ_STRING: return "string";
    case SS_PQ_STRING_LIST: return "list";
    }
    return "?";
}

static void json_val(FILE *f, const ss_pq_column *c, const val *v) {
    if (v->null) {
        fputs("null", f);
        return;
    }
    switch (c->type) {
    case SS_PQ_BOOLEAN: fputs(v->i ? "true" : "false", f); break;
    case SS_PQ_INT32: fprintf(f, "%" PRId64, v->i); break;
    case SS_PQ_INT64:
    case SS_PQ_TIMESTAMP_MICROS: fprintf(f, "\"%" PRId64 "\"", v->i); break;
    case SS_PQ_STRING:
        if (v->es) json_str(f, v->es, v->en);
        else json_str(f, v->s, v->n);
        break;
    case SS_PQ_STRING_LIST:
        fputc('[', f);
        for (size_t k = 0; k < v->nlist; k++) {
            if (k) fputc(',', f);
            json_str(f, v->ls[k], v->ln[k]);
        }
        fputc(']', f);
        break;
    }
}

static int put_val(ss_pq_writer *w, const ss_pq_column *c, size_t col, const val *v) {
    if (v->null) return ss_pq_set_null(w, col);
    switch (c->type) {
    case SS_PQ_BOOLEAN: return ss_pq_set_bool(w, col, (int)v->i);
    case SS_PQ_INT32: return ss_pq_set_int32(w, col, (int32_t)v->i);
    case SS_PQ_INT64:
    case SS_PQ_TIMESTAMP_MICROS: return ss_pq_set_int64(w, col, v->i);
    case SS_PQ_STRING: return ss_pq_set_string(w, col, v->s, v->n);
    case SS_PQ_STRING_LIST:
        if (ss_pq_list_begin(w, col)) return -1;
        for (size_t k = 0; k < v->nlist; k++)
            if (ss_pq_list_add(w, col, v->ls[k], v->ln[k])) return -1;
        return 0;
    }
    return -1;
}

static int run_case(gcase *g, const char *dir) {
    char path[4096], jpath[4096];
    snprintf(path, sizeof path, "%s/%s.parquet", dir, g->name);
    snprintf(jpath, sizeof jpath, "%s/%s.json", dir, g->name);
    FILE *f = fopen(jpath, "w");
    if (!f) {
        perror(jpath);
        return -1;
    }
    ss_pq_writer *w = ss_pq_open(path, g->cols, g->ncols, &g->opt);
    if (!w || ss_pq_err(w)) {
        fprintf(stderr, "%s: open: %s\n", g->name, w ? ss_pq_errstr(w) : "oom");
        ss_pq_abort(w);
        fclose(f);
        return -1;
    }
    fprintf(f, "{\"name\":\"%s\",\"codec\":\"%s\",\"row_group_rows\":%zu,\"row_group_bytes\":%zu,\"delta\":%s,\"columns\":[",
            g->name, ss_pq_codec_name(g->opt.codec), g->opt.row_group_rows, g->opt.row_group_bytes,
            g->opt.delta_int64 ? "true" : "false");
    for (size_t c = 0; c < g->ncols; c++)
        fprintf(f, "%s{\"name\":\"%s\",\"type\":\"%s\",\"optional\":%s,\"dictionary\":%s}", c ? "," : "",
                g->cols[c].name, type_name(g->cols[c].type), g->cols[c].optional ? "true" : "false",
                g->cols[c].dictionary ? "true" : "false");
    fputs("],\"kv\":{", f);
    for (size_t k = 0; k < g->opt.nkv; k++) {
        fputs(k ? "," : "", f);
        json_str(f, g->opt.kv[k].key, strlen(g->opt.kv[k].key));
        fputc(':', f);
        json_str(f, g->opt.kv[k].value, strlen(g->opt.kv[k].value));
    }
    fputs("},\"rows\":[\n", f);
    for (uint64_t r = 0; r < g->rows; r++) {
        fputs(r ? ",[" : "[", f);
        for (size_t c = 0; c < g->ncols; c++) {
            val v;
            memset(&v, 0, sizeof v);
            g->gen(g, r, c, &v);
            if (c) fputc(',', f);
            json_val(f, &g->cols[c], &v);
            if (put_val(w, &g->cols[c], c, &v)) break;
        }
        fputs("]\n", f);
        if (ss_pq_end_row(w)) break;
    }
    ss_pq_stats st;
    char err[256];
    int rc = ss_pq_close(w, &st, err, sizeof err);
    if (rc) {
        fprintf(stderr, "%s: %s\n", g->name, err);
        fclose(f);
        return -1;
    }
    fprintf(f, "],\"stats\":{\"rows\":%" PRIu64 ",\"row_groups\":%" PRIu64 ",\"file_bytes\":%" PRIu64
               ",\"utf8_replaced\":%" PRIu64 ",\"dict_fallbacks\":%" PRIu64 "},",
            st.rows, st.row_groups, st.file_bytes, st.utf8_replaced, st.dict_fallbacks);
    fprintf(f, "\"expect\":{\"utf8_replaced\":%" PRIu64 ",\"fallback\":%s,\"dict_columns\":[", g->expect_replaced,
            g->expect_fallback ? "true" : "false");
    for (size_t k = 0; k < g->ndict; k++) fprintf(f, "%s\"%s\"", k ? "," : "", g->dict_cols[k]);
    fputs("]}}\n", f);
    if (fclose(f) != 0) {
        perror(jpath);
        return -1;
    }
    if (st.rows != g->rows) {
        fprintf(stderr, "%s: wrote %" PRIu64 " rows, expected %" PRIu64 "\n", g->name, st.rows, g->rows);
        return -1;
    }
    printf("%s: %" PRIu64 " rows, %" PRIu64 " row groups, %" PRIu64 " bytes\n", g->name, st.rows, st.row_groups,
           st.file_bytes);
    return 0;
}

static void add_col(gcase *g, const char *name, ss_pq_type t, int optional, int dict) {
    g->cols[g->ncols++] = (ss_pq_column){name, t, optional, dict, 0};
}

/* ---- fixed cases ---- */
static const char *const k_strings[] = {
    "", "a", "did:plc:abcdefghijklmnopqrstuvwx", "héllo wörld", "日本語のテキスト", "emoji 🦋🌍👩‍👩‍👧",
    "\xf0\x9f\x98\x80", "tab\tnew\nline \"quoted\" \\ back", "zzzz", "\xc2\x80", "\xef\xbf\xbf", "\xf4\x8f\xbf\xbf",
};
#define NSTR (sizeof k_strings / sizeof k_strings[0])

static void gen_basic(gcase *g, uint64_t r, size_t c, val *v) {
    static const int64_t ints[] = {0, 1, -1, INT64_MAX, INT64_MIN, 42, -123456789012345LL, 1LL << 53, (1LL << 53) + 1};
    static const int64_t ts[] = {0, 1, -1, 1732579200123456LL, 253402300799999999LL, -62135596800000000LL, 1700000000000001LL};
    static const int32_t i32[] = {0, 1, -1, INT32_MAX, INT32_MIN, 7};
    const ss_pq_column *col = &g->cols[c];
    if (col->optional && (r * 7 + c) % 5 == 0) {
        v->null = 1;
        return;
    }
    switch (col->type) {
    case SS_PQ_BOOLEAN: v->i = (r / 3 + c) % 2; break;
    case SS_PQ_INT32: v->i = i32[(r + c) % 6]; break;
    case SS_PQ_INT64: v->i = ints[(r + c) % 9]; break;
    case SS_PQ_TIMESTAMP_MICROS: v->i = ts[(r + c) % 7]; break;
    case SS_PQ_STRING:
        v->s = k_strings[(r * 3 + c) % NSTR];
        v->n = strlen(v->s);
        break;
    case SS_PQ_STRING_LIST:
        v->nlist = (r + c) % 4; /* 0 = empty list */
        for (size_t k = 0; k < v->nlist; k++) {
            v->ls[k] = k_strings[(r + k * 5) % NSTR];
            v->ln[k] = strlen(v->ls[k]);
        }
        break;
    }
}

static void schema_all_types(gcase *g) {
    add_col(g, "b_req", SS_PQ_BOOLEAN, 0, 0);
    add_col(g, "b_opt", SS_PQ_BOOLEAN, 1, 0);
    add_col(g, "i32_req", SS_PQ_INT32, 0, 0);
    add_col(g, "i32_opt", SS_PQ_INT32, 1, 0);
    add_col(g, "i64_req", SS_PQ_INT64, 0, 0);
    add_col(g, "i64_opt", SS_PQ_INT64, 1, 0);
    add_col(g, "ts_req", SS_PQ_TIMESTAMP_MICROS, 0, 0);
    add_col(g, "ts_opt", SS_PQ_TIMESTAMP_MICROS, 1, 0);
    add_col(g, "s_req", SS_PQ_STRING, 0, 0);
    add_col(g, "s_opt", SS_PQ_STRING, 1, 0);
    add_col(g, "s_dict_req", SS_PQ_STRING, 0, 1);
    add_col(g, "s_dict_opt", SS_PQ_STRING, 1, 1);
    add_col(g, "l_opt", SS_PQ_STRING_LIST, 1, 1);
    add_col(g, "l_req", SS_PQ_STRING_LIST, 0, 0);
    add_col(g, "l_plain_opt", SS_PQ_STRING_LIST, 1, 0);
}

static const ss_pq_kv k_kv[] = {{"skyspool.schema_version", "1"}, {"note", "pq_gen ✓"}};

static void case_basic(gcase *g, const char *name, ss_pq_codec codec) {
    g->name = name;
    schema_all_types(g);
    g->rows = 500;
    g->opt.codec = codec;
    g->opt.kv = k_kv;
    g->opt.nkv = 2;
    g->gen = gen_basic;
    g->dict_cols[g->ndict++] = "s_dict_req";
    g->dict_cols[g->ndict++] = "s_dict_opt";
}

/* Invalid UTF-8: each written string has a known repaired form. */
static const struct {
    const char *in, *out;
} k_bad[] = {
    {"ok", "ok"},
    {"a\xff" "b", "a\xef\xbf\xbd" "b"},
    {"\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd"},                    /* overlong: two ill-formed bytes */
    {"\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},     /* surrogate */
    {"x\xe2\x82", "x\xef\xbf\xbd"},                              /* truncated 3-byte sequence: one maximal subpart */
    {"\xf0\x9f\x98", "\xef\xbf\xbd"},                            /* truncated emoji */
    {"\xf4\x90\x80\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}, /* > U+10FFFF */
    {"\x80\x80", "\xef\xbf\xbd\xef\xbf\xbd"},
    {"fine é", "fine é"},
};
#define NBAD (sizeof k_bad / sizeof k_bad[0])

static void gen_bad(gcase *g, uint64_t r, size_t c, val *v) {
    size_t k = (r + c) % NBAD;
    (void)g;
    v->s = k_bad[k].in;
    v->n = strlen(v->s);
    v->es = k_bad[k].out;
    v->en = strlen(v->es);
}

static void case_bad_utf8(gcase *g) {
    g->name = "bad_utf8";
    add_col(g, "s", SS_PQ_STRING, 0, 0);
    add_col(g, "s_dict", SS_PQ_STRING, 1, 1);
    g->rows = 90;
    g->gen = gen_bad;
    for (uint64_t r = 0; r < g->rows; r++)
        for (size_t c = 0; c < 2; c++) {
            size_t k = (r + c) % NBAD;
            if (strcmp(k_bad[k].in, k_bad[k].out)) g->expect_replaced++;
        }
}

static void gen_big(gcase *g, uint64_t r, size_t c, val *v) {
    if (c == 0) {
        v->i = (int64_t)r;
        return;
    }
    if (r % 4 == 3 && c == 2) {
        v->null = 1;
        return;
    }
    /* 1 MiB strings, each distinct in its first and last bytes */
    size_t n = (1u << 20) - (r % 3);
    g->big[0] = (char)('A' + r % 26);
    g->big[n - 1] = (char)('a' + (r + c) % 26);
    v->s = g->big;
    v->n = n;
    (void)c;
}

static void case_big(gcase *g) {
    g->name = "big_strings";
    add_col(g, "id", SS_PQ_INT64, 0, 0);
    add_col(g, "big", SS_PQ_STRING, 0, 0);
    add_col(g, "big_dict", SS_PQ_STRING, 1, 1);
    g->rows = 8;
    g->gen = gen_big;
    g->opt.row_group_rows = 3;
    g->big = malloc(1u << 20);
    for (size_t i = 0; i < (1u << 20); i++) g->big[i] = (char)('a' + i % 23);
    memcpy(g->big + 1000, "é🦋", 6); /* multi-byte inside, so the stats truncation must respect code points */
}

static void case_zero(gcase *g) {
    g->name = "zero_rows";
    schema_all_types(g);
    g->rows = 0;
    g->gen = gen_basic;
}

/* Sorted time and did, so row groups cover disjoint ranges and can be pruned. */
static void gen_many(gcase *g, uint64_t r, size_t c, val *v) {
    int sc = (int)c;
    switch (sc) {
    case 0: v->i = 1732579200000000LL + (int64_t)r * 1000003; break; /* time */
    case 1: v->i = 1732579200000000LL + (int64_t)r * 1000003; break; /* time_us */
    case 2:
        snprintf(g->sbuf[c][0], sizeof g->sbuf[c][0], "did:plc:%08" PRIu64 "x", r / 10);
        v->s = g->sbuf[c][0];
        v->n = strlen(v->s);
        break;
    case 3: {
        static const char *const kinds[] = {"commit", "identity", "account"};
        v->s = kinds[r % 17 == 0 ? 1 + r % 2 : 0];
        v->n = strlen(v->s);
        break;
    }
    case 4:
        if (r % 3 == 0) {
            v->null = 1;
            break;
        }
        snprintf(g->sbuf[c][0], sizeof g->sbuf[c][0], "{\"text\":\"post %" PRIu64 " ü\",\"n\":%" PRIu64 "}", r,
                 rnd(&g->rng));
        v->s = g->sbuf[c][0];
        v->n = strlen(v->s);
        break;
    case 5: {
        static const char *const langs[] = {"en", "ja", "pt", "de", "ko"};
        if (r % 5 == 0) {
            v->null = 1;
            break;
        }
        v->nlist = r % 3;
        for (size_t k = 0; k < v->nlist; k++) {
            v->ls[k] = langs[(r + k) % 5];
            v->ln[k] = 2;
        }
        break;
    }
    case 6: v->i = r % 11 == 0; break;
    }
}

static void case_many(gcase *g, const char *name, ss_pq_codec codec) {
    g->name = name;
    add_col(g, "time", SS_PQ_TIMESTAMP_MICROS, 0, 0);
    add_col(g, "time_us", SS_PQ_INT64, 0, 0);
    add_col(g, "did", SS_PQ_STRING, 0, 1);
    add_col(g, "kind", SS_PQ_STRING, 0, 1);
    add_col(g, "record", SS_PQ_STRING, 1, 0);
    add_col(g, "langs", SS_PQ_STRING_LIST, 1, 1);
    add_col(g, "flag", SS_PQ_BOOLEAN, 1, 0);
    g->rows = 20000;
    g->gen = gen_many;
    g->opt.codec = codec;
    g->opt.row_group_rows = 2500;
    g->opt.page_bytes = 4096;
    g->rng = 7;
    g->dict_cols[g->ndict++] = "did";
    g->dict_cols[g->ndict++] = "kind";
}

/* Null runs of many lengths starting at every offset 0..7 of an 8-value group. Column
 * k puts its runs at offset k; each segment is 8-aligned, so runs start inside groups
 * and cross group boundaries. */
static const int k_runs[] = {1, 2, 3, 5, 7, 8, 9, 13, 15, 16, 17, 23, 31, 64, 65, 200, 511, 512, 513, 1100};
#define NRUNS (sizeof k_runs / sizeof k_runs[0])
#define SEG 1200

static int in_null_run(uint64_t r, int off, int variant) {
    uint64_t seg = r / SEG, pos = r % SEG;
    int len = k_runs[(seg + (uint64_t)variant) % NRUNS];
    uint64_t start = (uint64_t)off + 8 * (uint64_t)(variant % 3);
    return pos >= start && pos < start + (uint64_t)len;
}

static void gen_nullruns(gcase *g, uint64_t r, size_t c, val *v) {
    int off = (int)(c % 8), variant = (int)(c / 8);
    if (in_null_run(r, off, variant)) {
        v->null = 1;
        return;
    }
    switch (g->cols[c].type) {
    case SS_PQ_INT64: v->i = (int64_t)(r * 1000 + c); break;
    case SS_PQ_BOOLEAN: v->i = (r ^ c) & 1; break;
    case SS_PQ_STRING:
        snprintf(g->sbuf[c][0], sizeof g->sbuf[c][0], "v%" PRIu64, (r + c) % 37);
        v->s = g->sbuf[c][0];
        v->n = strlen(v->s);
        break;
    case SS_PQ_STRING_LIST:
        v->nlist = r % 3;
        for (size_t k = 0; k < v->nlist; k++) {
            snprintf(g->sbuf[c][k], sizeof g->sbuf[c][k], "e%" PRIu64, (r + k) % 5);
            v->ls[k] = g->sbuf[c][k];
            v->ln[k] = strlen(v->ls[k]);
        }
        break;
    default: v->i = (int64_t)r; break;
    }
}

static void case_nullruns(gcase *g) {
    static char names[32][16];
    static const ss_pq_type types[] = {SS_PQ_INT64, SS_PQ_STRING, SS_PQ_STRING_LIST, SS_PQ_BOOLEAN};
    g->name = "null_runs";
    for (int k = 0; k < 32; k++) {
        snprintf(names[k], sizeof names[k], "c%d_off%d", k, k % 8);
        add_col(g, names[k], types[k / 8], 1, k / 8 == 1 || k / 8 == 2);
    }
    g->rows = (uint64_t)SEG * NRUNS;
    g->gen = gen_nullruns;
    g->opt.codec = SS_PQ_CODEC_SNAPPY;
    g->opt.page_bytes = 3000; /* pages end at many different offsets too */
}

/* Dictionary fallback in the middle of a column chunk: 700 low-cardinality rows, then
 * unique strings until the dictionary passes dict_max_bytes, then low again. */
static void gen_fallback(gcase *g, uint64_t r, size_t c, val *v) {
    if (c == 0) {
        v->i = (int64_t)r;
        return;
    }
    if (c == 2 && r % 10 == 4) {
        v->null = 1;
        return;
    }
    if (r < 700 || r > 2500) snprintf(g->sbuf[c][0], sizeof g->sbuf[c][0], "low-%" PRIu64, r % 7);
    else snprintf(g->sbuf[c][0], sizeof g->sbuf[c][0], "unique-%" PRIu64 "-%016" PRIx64, r, rnd(&g->rng));
    v->s = g->sbuf[c][0];
    v->n = strlen(v->s);
}

static void case_fallback(gcase *g) {
    g->name = "dict_fallback";
    add_col(g, "id", SS_PQ_INT64, 0, 0);
    add_col(g, "s", SS_PQ_STRING, 0, 1);
    add_col(g, "s_opt", SS_PQ_STRING, 1, 1);
    g->rows = 4000;
    g->gen = gen_fallback;
    g->opt.dict_max_bytes = 8192;
    g->opt.page_bytes = 2048;
    g->rng = 99;
    g->expect_fallback = 1;
}

static void gen_runs(gcase *g, uint64_t r, size_t c, val *v) {
    uint64_t block = r / 3000;
    switch (c) {
    case 0: v->i = (int64_t)(block * 5); break;
    case 1: v->s = block % 2 ? "same-odd" : "same-even"; v->n = strlen(v->s); break;
    case 2: v->null = block % 2 == 1; v->s = "x"; v->n = 1; break;
    case 3: v->i = 1; break;
    case 4:
        v->null = block == 2;
        v->nlist = 1;
        v->ls[0] = "en";
        v->ln[0] = 2;
        break;
    }
}

static void case_runs(gcase *g) {
    g->name = "equal_runs";
    add_col(g, "i", SS_PQ_INT64, 0, 0);
    add_col(g, "s", SS_PQ_STRING, 0, 1);
    add_col(g, "s_opt", SS_PQ_STRING, 1, 1);
    add_col(g, "b", SS_PQ_BOOLEAN, 0, 0);
    add_col(g, "l", SS_PQ_STRING_LIST, 1, 1);
    g->rows = 15000;
    g->gen = gen_runs;
    g->dict_cols[g->ndict++] = "s";
}

static void gen_allnull(gcase *g, uint64_t r, size_t c, val *v) {
    (void)g;
    if (c == 0) v->i = (int64_t)r;
    else v->null = 1;
}

static void case_allnull(gcase *g) {
    g->name = "all_null";
    add_col(g, "id", SS_PQ_INT64, 0, 0);
    add_col(g, "b", SS_PQ_BOOLEAN, 1, 0);
    add_col(g, "i32", SS_PQ_INT32, 1, 0);
    add_col(g, "i64", SS_PQ_INT64, 1, 0);
    add_col(g, "ts", SS_PQ_TIMESTAMP_MICROS, 1, 0);
    add_col(g, "s", SS_PQ_STRING, 1, 0);
    add_col(g, "s_dict", SS_PQ_STRING, 1, 1);
    add_col(g, "l", SS_PQ_STRING_LIST, 1, 1);
    g->rows = 3000;
    g->gen = gen_allnull;
    g->opt.row_group_rows = 1000;
}

/* ---- property cases ---- */
static const char *const k_pool[] = {"en", "ja", "did:plc:aaaa", "did:plc:bbbb", "ü", "🦋", "", "x y z"};

static void gen_random(gcase *g, uint64_t r, size_t c, val *v) {
    uint64_t *s = &g->rng;
    int nm = g->null_mode[c];
    if (g->cols[c].optional) {
        int isnull = 0;
        switch (nm) {
        case 0: break;                                   /* never */
        case 1: isnull = 1; break;                       /* always */
        case 2: isnull = (double)(rnd(s) % 10000) / 10000.0 < g->null_p[c]; break;
        case 3: /* one run per period, start offset random */
            isnull = (r % 97) >= g->run_start[c] % 97 && (r % 97) < g->run_start[c] % 97 + g->run_len[c];
            break;
        case 4: isnull = r >= g->run_start[c] && r < g->run_start[c] + g->run_len[c] * 40; break; /* one long run */
        case 5: isnull = (r & 1) != 0; break;
        }
        if (isnull) {
            v->null = 1;
            return;
        }
    }
    int vm = g->val_mode[c];
    switch (g->cols[c].type) {
    case SS_PQ_BOOLEAN: v->i = vm == 0 ? (int64_t)(rnd(s) & 1) : (int64_t)((r / 50) & 1); break;
    case SS_PQ_INT32: v->i = vm == 0 ? (int32_t)rnd(s) : (int32_t)(r / 100); break;
    case SS_PQ_INT64:
    case SS_PQ_TIMESTAMP_MICROS: {
        uint64_t x = rnd(s);
        if (vm == 0) v->i = (int64_t)x;
        else if (vm == 1) v->i = (int64_t)(r / 100);
        else v->i = (x % 3 == 0) ? INT64_MIN : (x % 3 == 1) ? INT64_MAX : 0;
        if (g->cols[c].type == SS_PQ_TIMESTAMP_MICROS) v->i /= 1024; /* stay inside readers' date range */
        break;
    }
    case SS_PQ_STRING:
    case SS_PQ_STRING_LIST: {
        size_t n = g->cols[c].type == SS_PQ_STRING ? 1 : rndn(s, 4);
        v->nlist = n;
        for (size_t k = 0; k < n; k++) {
            char *b = g->sbuf[c][k];
            if (vm == 0) snprintf(b, 96, "%s", k_pool[rndn(s, 8)]);
            else if (vm == 1) snprintf(b, 96, "u%016" PRIx64 "é%" PRIu64, rnd(s), r);
            else snprintf(b, 96, "run%" PRIu64, r / 300);
            v->ls[k] = b;
            v->ln[k] = strlen(b);
        }
        if (g->cols[c].type == SS_PQ_STRING) {
            v->s = v->ls[0];
            v->n = v->ln[0];
            v->nlist = 0;
        }
        break;
    }
    }
}

static void case_random(gcase *g, uint64_t seed, int idx, char *namebuf, size_t namelen) {
    static char colnames[MAX_COLS][32];
    uint64_t s = seed * 1000003 + (uint64_t)idx;
    snprintf(namebuf, namelen, "prop_%" PRIu64 "_%d", seed, idx);
    g->name = namebuf;
    g->rng = rnd(&s);
    g->ncols = 1 + rndn(&s, 8);
    for (size_t c = 0; c < g->ncols; c++) {
        snprintf(colnames[c], sizeof colnames[c], "col%zu", c);
        ss_pq_type t = (ss_pq_type)rndn(&s, 6);
        g->cols[c] = (ss_pq_column){colnames[c], t, (int)rndn(&s, 4) != 0, (int)rndn(&s, 2), 0};
        g->null_mode[c] = (int)rndn(&s, 6);
        g->null_p[c] = (double)rndn(&s, 100) / 100.0;
        g->val_mode[c] = (int)rndn(&s, 3);
        g->run_start[c] = rndn(&s, 1000);
        g->run_len[c] = 1 + rndn(&s, 40);
    }
    static const size_t rg[] = {1, 7, 64, 333, 1000, 131072};
    static const size_t pg[] = {1, 64, 500, 4096, 1u << 20};
    static const size_t dm[] = {0, 64, 1024, 1u << 20};
    g->rows = rndn(&s, 4) == 0 ? rndn(&s, 20) : rndn(&s, 2500);
    g->opt.codec = (ss_pq_codec)rndn(&s, 3);
    g->opt.zstd_level = 1 + (int)rndn(&s, 9);
    g->opt.row_group_rows = rg[rndn(&s, 6)];
    g->opt.page_bytes = pg[rndn(&s, 5)];
    g->opt.dict_max_bytes = dm[rndn(&s, 4)];
    g->opt.delta_int64 = rndn(&s, 3) == 0;
    if (rndn(&s, 4) == 0) g->opt.row_group_bytes = 1000 + rndn(&s, 60000); /* flush by bytes */
    g->gen = gen_random;
}

static void free_case(gcase *g) { free(g->big); }

int main(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help")) {
        fprintf(argc < 2 ? stderr : stdout,
                "usage: pq_gen OUTDIR [--seed N] [--random K] [--only NAME]\n"
                "Writes NAME.parquet + NAME.json test cases for tests/js/pq_check.mjs.\n"
                "  pq_gen /tmp/pq --seed 42 --random 40\n");
        return argc < 2 ? 2 : 0;
    }
    const char *dir = argv[1], *only = NULL;
    uint64_t seed = 1;
    int nrandom = 20;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--seed") && i + 1 < argc) seed = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--random") && i + 1 < argc) nrandom = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--only") && i + 1 < argc) only = argv[++i];
        else {
            fprintf(stderr, "pq_gen: unknown argument %s (see --help)\n", argv[i]);
            return 2;
        }
    }
    printf("pq_gen: seed %" PRIu64 ", %d random cases\n", seed, nrandom);
    int fails = 0;
    for (int k = 0; k < 16 + nrandom; k++) {
        gcase g;
        char namebuf[64];
        memset(&g, 0, sizeof g);
        ss_pq_options_init(&g.opt);
        g.opt.fsync = 0;
        switch (k) {
        case 0: case_basic(&g, "basic_zstd", SS_PQ_CODEC_ZSTD); break;
        case 1: case_basic(&g, "basic_snappy", SS_PQ_CODEC_SNAPPY); break;
        case 2: case_basic(&g, "basic_none", SS_PQ_CODEC_NONE); break;
        case 3: case_bad_utf8(&g); break;
        case 4: case_big(&g); break;
        case 5: case_zero(&g); break;
        case 6: case_many(&g, "many_zstd", SS_PQ_CODEC_ZSTD); break;
        case 7: case_many(&g, "many_snappy", SS_PQ_CODEC_SNAPPY); break;
        case 8: case_nullruns(&g); break;
        case 9: case_fallback(&g); break;
        case 10: case_runs(&g); break;
        case 11: case_allnull(&g); break;
        case 12: case_many(&g, "many_none", SS_PQ_CODEC_NONE); break;
        case 13: case_basic(&g, "basic_delta", SS_PQ_CODEC_ZSTD); g.opt.delta_int64 = 1; break;
        case 14: case_many(&g, "many_delta", SS_PQ_CODEC_ZSTD); g.opt.delta_int64 = 1; break;
        case 15: case_nullruns(&g); g.name = "null_runs_delta"; g.opt.delta_int64 = 1; break;
        default: case_random(&g, seed, k - 16, namebuf, sizeof namebuf); break;
        }
        if (!only || !strcmp(only, g.name)) fails += run_case(&g, dir) != 0;
        free_case(&g);
    }
    if (fails) fprintf(stderr, "pq_gen: %d case(s) failed\n", fails);
    return fails ? 1 : 0;
}
