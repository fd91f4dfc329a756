/* The Parquet reader (reader.h): footer, schema, pages and values of the writer's files.
 *
 * Layers, bottom up:
 *   - a bounded Thrift compact protocol decoder (the footer and every page header), with a
 *     sticky error flag and nesting bounded by SS_PQR_MAX_DEPTH; every element of a
 *     container consumes at least one byte, so a count is checked against the bytes left
 *     before anything is allocated for it. (footer.c has its own, smaller decoder for
 *     `verify`'s row counts: that one only counts, this one keeps the schema and chunks.)
 *   - the value decoders: the RLE/bit-packed hybrid (levels, dictionary indices, v2
 *     booleans), PLAIN, DELTA_BINARY_PACKED; each reads only inside its page and fails
 *     when the page ends before the values the levels promised.
 *   - a row group decoder: for each column chunk, its pages (dictionary first, then data
 *     pages v1 or v2), decompressed (none, snappy, zstd) into a scratch buffer, levels and
 *     values appended to the column's arrays. Strings are copied into the column's arena;
 *     a dictionary-encoded value is an index into the dictionary's arena, never a copy (a
 *     hostile page could repeat a large entry millions of times).
 *   - row assembly: one definition (and repetition) level per value walks every column in
 *     step; a LIST row takes levels until the next repetition level 0.
 * After decoding, a chunk must hold exactly the footer's num_values levels and each column
 * exactly the row group's num_rows rows, so a file whose metadata and data disagree is an
 * error, not a silently short or misaligned table. */
#include "reader.h"

#include <errno.h>
#include <fcntl.h>
#include <snappy-c.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "pq_internal.h"

#define MAX_CHUNKS (1u << 20) /* row groups x columns held from the footer */

enum { T_TRUE = 1, T_FALSE = 2, T_BYTE = 3, T_I16 = 4, T_I32 = 5, T_I64 = 6, T_DOUBLE = 7, T_BINARY = 8,
       T_LIST = 9, T_SET = 10, T_MAP = 11, T_STRUCT = 12 };
enum { PT_BOOLEAN = 0, PT_INT32 = 1, PT_INT64 = 2, PT_BYTE_ARRAY = 6 };
enum { REP_REQUIRED = 0, REP_OPTIONAL = 1, REP_REPEATED = 2 };
enum { ENC_PLAIN = 0, ENC_PLAIN_DICTIONARY = 2, ENC_RLE = 3, ENC_DELTA_BINARY_PACKED = 5, ENC_RLE_DICTIONARY = 8 };
enum { CT_UTF8 = 0, CT_LIST = 3, CT_TIMESTAMP_MICROS = 10 };
enum { PAGE_DATA = 0, PAGE_INDEX = 1, PAGE_DICTIONARY = 2, PAGE_DATA_V2 = 3 };
enum { CODEC_UNCOMPRESSED = 0, CODEC_SNAPPY = 1, CODEC_ZSTD = 6 };

/* ---- Thrift compact protocol ------------------------------------------------------------- */
typedef struct {
    const uint8_t *p, *end;
    int bad, depth;
    const char *why;
} tr;

static void tbad(tr *t, const char *why) {
    if (!t->bad) t->why = why;
    t->bad = 1;
    t->p = t->end;
}
static uint8_t tbyte(tr *t) {
    if (t->p >= t->end) return tbad(t, "ends inside a value"), 0;
    return *t->p++;
}
static uint64_t tvarint(tr *t) {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        uint8_t b = tbyte(t);
        if (t->bad) return 0;
        if (shift == 63 && (b & 0x7e)) return tbad(t, "varint overflows 64 bits"), 0;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) return v;
    }
    return tbad(t, "varint longer than 10 bytes"), 0;
}
static int64_t tzz(tr *t) {
    uint64_t v = tvarint(t);
    return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}
static int32_t ti32(tr *t) {
    int64_t v = tzz(t);
    if (v < INT32_MIN || v > INT32_MAX) return tbad(t, "i32 out of range"), 0;
    return (int32_t)v;
}
static int tenter(tr *t) {
    if (++t->depth > SS_PQR_MAX_DEPTH) return tbad(t, "nested too deeply"), -1;
    return 0;
}
/* A field header: returns its type (0 = stop) and sets *id. */
static int tfield(tr *t, int16_t *last, int16_t *id) {
    uint8_t h = tbyte(t);
    if (t->bad || h == 0) return 0;
    int type = h & 0x0f, delta = h >> 4;
    if (delta) {
        *id = (int16_t)(*last + delta);
    } else {
        int64_t v = tzz(t);
        if (v < INT16_MIN || v > INT16_MAX) return tbad(t, "field id out of range"), 0;
        *id = (int16_t)v;
    }
    *last = *id;
    if (type == 0 || type > T_STRUCT) return tbad(t, "unknown field type"), 0;
    return type;
}
static uint64_t tlist(tr *t, int *elem) {
    uint8_t h = tbyte(t);
    *elem = h & 0x0f;
    uint64_t n = h >> 4;
    if (n == 15) n = tvarint(t);
    if (!t->bad && n > (uint64_t)(t->end - t->p)) return tbad(t, "list longer than its bytes"), 0;
    if (!t->bad && n && (*elem == 0 || *elem > T_STRUCT)) return tbad(t, "unknown list element type"), 0;
    return t->bad ? 0 : n;
}
static void tbinary(tr *t, const uint8_t **p, size_t *n) {
    uint64_t len = tvarint(t);
    if (!t->bad && len > (uint64_t)(t->end - t->p)) tbad(t, "binary longer than its bytes");
    if (t->bad) {
        *p = NULL;
        *n = 0;
        return;
    }
    *p = t->p;
    *n = (size_t)len;
    t->p += len;
}
static void tskip(tr *t, int type);
static void tskip_struct(tr *t) {
    if (tenter(t)) return;
    int16_t last = 0, id;
    int type;
    while ((type = tfield(t, &last, &id)) != 0) tskip(t, type);
    t->depth--;
}
static void tskip(tr *t, int type) {
    if (t->bad) return;
    switch (type) {
    case T_TRUE:
    case T_FALSE: break;
    case T_BYTE: tbyte(t); break;
    case T_I16:
    case T_I32:
    case T_I64: tvarint(t); break;
    case T_DOUBLE:
        if (t->end - t->p < 8) tbad(t, "ends inside a double");
        else t->p += 8;
        break;
    case T_BINARY: {
        const uint8_t *p;
        size_t n;
        tbinary(t, &p, &n);
        break;
    }
    case T_LIST:
    case T_SET: {
        if (tenter(t)) return;
        int e;
        uint64_t n = tlist(t, &e);
        for (uint64_t i = 0; i < n && !t->bad; i++) {
            if (e == T_TRUE || e == T_FALSE) tbyte(t);
            else tskip(t, e);
        }
        t->depth--;
        break;
    }
    case T_MAP: {
        if (tenter(t)) return;
        uint64_t n = tvarint(t);
        if (!t->bad && n) {
            if (n > (uint64_t)(t->end - t->p)) {
                tbad(t, "map longer than its bytes");
            } else {
                uint8_t kv = tbyte(t);
                int kt = kv >> 4, vt = kv & 0x0f;
                if (kt == 0 || kt > T_STRUCT || vt == 0 || vt > T_STRUCT) tbad(t, "unknown map element type");
                for (uint64_t i = 0; i < n && !t->bad; i++) {
                    if (kt == T_TRUE || kt == T_FALSE) tbyte(t);
                    else tskip(t, kt);
                    if (vt == T_TRUE || vt == T_FALSE) tbyte(t);
                    else tskip(t, vt);
                }
            }
        }
        t->depth--;
        break;
    }
    case T_STRUCT: tskip_struct(t); break;
    default: tbad(t, "unknown type");
    }
}
/* A bool field's value is in its header type. */
static int tbool(int type) { return type == T_TRUE; }

/* ---- the reader --------------------------------------------------------------------------- */
typedef struct {
    int64_t num_values, total_uncompressed, total_compressed, data_off, dict_off;
    int codec, phys, has_dict_enc, has_dict_off;
} chunk_meta;

typedef struct {
    int64_t rows;
    chunk_meta *ch; /* ncols */
    size_t nch;
} rg_meta;

typedef struct {
    uint64_t off; /* into the data arena, or the dictionary arena when dict */
    uint32_t len;
    uint8_t dict;
} sref;

typedef struct {
    ss_pq_column desc; /* name owned */
    int phys, max_def, max_rep;
    /* the decoded row group */
    uint8_t *def, *rep;
    size_t nlev, levcap;
    int64_t *iv;
    size_t niv, ivcap;
    sref *sv;
    size_t nsv, svcap;
    ss_pqbuf data;
    ss_pqbuf dict;
    sref *dv;
    size_t ndict, dvcap;
    size_t lev_pos, val_pos;
    /* the current row */
    int cur_null;
    size_t cur_val, cur_n;
} rcol;

typedef struct {
    char *key, *value;
} kv_t;

struct ss_pq_reader {
    int fd;
    const uint8_t *mem;
    uint64_t size;
    int err;
    char errstr[256];

    uint8_t *footer_copy;
    char *created_by;
    kv_t *kv;
    size_t nkv;
    int64_t num_rows;
    rcol *cols;
    size_t ncols;
    rg_meta *rgs;
    size_t nrgs;

    /* iteration */
    size_t rg;         /* the row group decoded (or next to decode when !rg_loaded) */
    int rg_loaded;
    int64_t rg_row;    /* rows handed out from the loaded row group */
    int64_t row_index; /* rows handed out in all */
    int ended;

    ss_pqbuf io, page, vals; /* chunk bytes read from the file; decompressed page; v2 values */
    uint32_t *u32;
    size_t u32cap;
};

__attribute__((format(printf, 2, 3))) static int fail(ss_pq_reader *r, const char *fmt, ...) {
    if (r->err) return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->errstr, sizeof r->errstr, fmt, ap);
    va_end(ap);
    r->err = 1;
    return -1;
}

int ss_pq_reader_err(const ss_pq_reader *r) { return r ? r->err : 1; }
const char *ss_pq_reader_errstr(const ss_pq_reader *r) { return r ? r->errstr : "no reader"; }
int64_t ss_pq_reader_num_rows(const ss_pq_reader *r) { return r->num_rows; }
size_t ss_pq_reader_row_groups(const ss_pq_reader *r) { return r->nrgs; }
int64_t ss_pq_reader_row_group_rows(const ss_pq_reader *r, size_t rg) { return rg < r->nrgs ? r->rgs[rg].rows : 0; }
size_t ss_pq_reader_ncols(const ss_pq_reader *r) { return r->ncols; }
const ss_pq_column *ss_pq_reader_column(const ss_pq_reader *r, size_t col) {
    return col < r->ncols ? &r->cols[col].desc : NULL;
}
int ss_pq_reader_find(const ss_pq_reader *r, const char *name) {
    for (size_t i = 0; i < r->ncols; i++)
        if (!strcmp(r->cols[i].desc.name, name)) return (int)i;
    return -1;
}
const char *ss_pq_reader_meta(const ss_pq_reader *r, const char *key) {
    for (size_t i = 0; i < r->nkv; i++)
        if (!strcmp(r->kv[i].key, key)) return r->kv[i].value;
    return NULL;
}
const char *ss_pq_reader_created_by(const ss_pq_reader *r) { return r->created_by ? r->created_by : ""; }
int64_t ss_pq_reader_row_index(const ss_pq_reader *r) { return r->row_index; }

/* ---- file access ------------------------------------------------------------------------ */
static int pread_full(int fd, void *buf, size_t n, uint64_t off) {
    uint8_t *p = buf;
    while (n) {
        ssize_t k = pread(fd, p, n, (off_t)off);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) {
            if (k == 0) errno = EIO; /* shrank under us */
            return -1;
        }
        p += k;
        n -= (size_t)k;
        off += (uint64_t)k;
    }
    return 0;
}

/* n bytes at off (checked against the file), in memory or read into r->io. */
static const uint8_t *read_at(ss_pq_reader *r, uint64_t off, size_t n) {
    if (off > r->size || n > r->size - off) return fail(r, "a read of %zu bytes at %llu is past the end of the file", n,
                                                        (unsigned long long)off), NULL;
    if (r->mem) return r->mem + off;
    r->io.len = 0;
    if (ss_pqbuf_reserve(&r->io, n ? n : 1)) return fail(r, "out of memory"), NULL;
    if (pread_full(r->fd, r->io.p, n, off) != 0) return fail(r, "read: %s", strerror(errno)), NULL;
    return r->io.p;
}

static char *dup_bytes(const uint8_t *p, size_t n) {
    char *s = malloc(n + 1);
    if (!s) return NULL;
    if (n) memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

/* ---- footer ------------------------------------------------------------------------------ */
typedef struct {
    int type, rep, nchildren, converted, logical, ts_micros, has_type;
    const uint8_t *name;
    size_t name_n;
} selem;

static void parse_logical(tr *t, selem *e) {
    if (tenter(t)) return;
    int16_t last = 0, id;
    int type;
    while ((type = tfield(t, &last, &id)) != 0) {
        if (type != T_STRUCT) {
            tskip(t, type);
            continue;
        }
        e->logical = id;
        if (id != 8) {
            tskip(t, type);
            continue;
        }
        /* TIMESTAMP {1: isAdjustedToUTC, 2: unit {1 MILLIS, 2 MICROS, 3 NANOS}} */
        if (tenter(t)) return;
        int16_t l2 = 0, i2;
        int t2;
        while ((t2 = tfield(t, &l2, &i2)) != 0) {
            if (i2 == 2 && t2 == T_STRUCT) {
                if (tenter(t)) return;
                int16_t l3 = 0, i3;
                int t3;
                while ((t3 = tfield(t, &l3, &i3)) != 0) {
                    if (i3 == 2 && t3 == T_STRUCT) e->ts_micros = 1;
                    tskip(t, t3);
                }
                t->depth--;
            } else {
                tskip(t, t2);
            }
        }
        t->depth--;
    }
    t->depth--;
}

static void parse_selem(tr *t, selem *e) {
    memset(e, 0, sizeof *e);
    e->type = -1;
    e->converted = -1;
    e->rep = -1;
    if (tenter(t)) return;
    int16_t last = 0, id;
    int type;
    while ((type = tfield(t, &last, &id)) != 0) {
        if (id == 1 && type == T_I32) e->type = ti32(t), e->has_type = 1;
        else if (id == 3 && type == T_I32) e->rep = ti32(t);
        else if (id == 4 && type == T_BINARY) tbinary(t, &e->name, &e->name_n);
        else if (id == 5 && type == T_I32) e->nchildren = ti32(t);
        else if (id == 6 && type == T_I32) e->converted = ti32(t);
        else if (id == 10 && type == T_STRUCT) parse_logical(t, e);
        else tskip(t, type);
    }
    t->depth--;
}

static void parse_colmeta(tr *t, chunk_meta *c) {
    if (tenter(t)) return;
    int16_t last = 0, id;
    int type;
    while ((type = tfield(t, &last, &id)) != 0) {
        if (id == 1 && type == T_I32) {
            c->phys = ti32(t);
        } else if (id == 2 && type == T_LIST) {
            if (tenter(t)) return;
            int e;
            uint64_t n = tlist(t, &e);
            for (uint64_t i = 0; i < n && !t->bad; i++) {
                if (e != T_I32) {
                    tskip(t, e);
                    continue;
                }
                int32_t enc = ti32(t);
                if (enc == ENC_RLE_DICTIONARY || enc == ENC_PLAIN_DICTIONARY) c->has_dict_enc = 1;
            }
            t->depth--;
        } else if (id == 4 && type == T_I32) {
            c->codec = ti32(t);
        } else if (id == 5 && type == T_I64) {
            c->num_values = tzz(t);
        } else if (id == 6 && type == T_I64) {
            c->total_uncompressed = tzz(t);
        } else if (id == 7 && type == T_I64) {
            c->total_compressed = tzz(t);
        } else if (id == 9 && type == T_I64) {
            c->data_off = tzz(t);
        } else if (id == 11 && type == T_I64) {
            c->dict_off = tzz(t);
            c->has_dict_off = 1;
        } else {
            tskip(t, type);
        }
    }
    t->depth--;
}

static int parse_row_group(ss_pq_reader *r, tr *t, rg_meta *g, size_t *total_chunks) {
    if (tenter(t)) return -1;
    int16_t last = 0, id;
    int type, have_rows = 0, have_cols = 0;
    while ((type = tfield(t, &last, &id)) != 0) {
        if (id == 1 && type == T_LIST && !have_cols) {
            if (tenter(t)) return -1;
            int e;
            uint64_t n = tlist(t, &e);
            if (!t->bad && n && e != T_STRUCT) tbad(t, "columns is not a list of structs");
            if (!t->bad && (n > SS_PQR_MAX_COLUMNS || *total_chunks + n > MAX_CHUNKS)) tbad(t, "too many column chunks");
            if (t->bad) return -1;
            g->ch = calloc(n ? n : 1, sizeof *g->ch);
            if (!g->ch) return fail(r, "out of memory");
            g->nch = n;
            *total_chunks += n;
            have_cols = 1;
            for (uint64_t i = 0; i < n && !t->bad; i++) {
                chunk_meta *c = &g->ch[i];
                c->phys = -1;
                c->codec = -1;
                c->num_values = c->data_off = -1;
                int have_meta = 0;
                if (tenter(t)) return -1;
                int16_t l2 = 0, i2;
                int t2;
                while ((t2 = tfield(t, &l2, &i2)) != 0) {
                    if (i2 == 1 && t2 == T_BINARY) tbad(t, "column chunks in other files are not supported");
                    else if (i2 == 3 && t2 == T_STRUCT) parse_colmeta(t, c), have_meta = 1;
                    else tskip(t, t2);
                }
                t->depth--;
                if (!t->bad && !have_meta) tbad(t, "a column chunk without metadata");
            }
            t->depth--;
        } else if (id == 3 && type == T_I64) {
            g->rows = tzz(t);
            have_rows = 1;
        } else {
            tskip(t, type);
        }
    }
    t->depth--;
    if (!t->bad && (!have_rows || g->rows < 0)) tbad(t, "a row group without a valid num_rows");
    if (!t->bad && !have_cols) tbad(t, "a row group without columns");
    return t->bad ? -1 : 0;
}

/* Turns the schema elements into leaf columns (flat leaves and 3-level LIST<STRING>). */
static int build_columns(ss_pq_reader *r, const selem *el, size_t nel) {
    if (nel < 2) return fail(r, "the schema has no columns");
    size_t top = (size_t)(el[0].nchildren > 0 ? el[0].nchildren : 0);
    if (top == 0 || top > SS_PQR_MAX_COLUMNS || top > nel - 1) return fail(r, "the schema root has %d children for %zu elements", el[0].nchildren, nel);
    r->cols = calloc(top, sizeof *r->cols);
    if (!r->cols) return fail(r, "out of memory");
    size_t i = 1;
    for (size_t k = 0; k < top; k++) {
        if (i >= nel) return fail(r, "the schema ends inside column %zu", k);
        const selem *e = &el[i];
        rcol *c = &r->cols[r->ncols];
        if (e->name_n == 0 || e->name_n > SS_PQR_MAX_NAME) return fail(r, "schema element %zu: name must be 1..%d bytes", i, SS_PQR_MAX_NAME);
        if (e->rep != REP_REQUIRED && e->rep != REP_OPTIONAL)
            return fail(r, "column %.*s: repetition %d is not supported (REQUIRED or OPTIONAL)", (int)e->name_n, e->name, e->rep);
        c->desc.optional = e->rep == REP_OPTIONAL;
        char *name = dup_bytes(e->name, e->name_n);
        if (!name) return fail(r, "out of memory");
        c->desc.name = name;
        r->ncols++;
        if (e->nchildren == 0) {
            if (!e->has_type) return fail(r, "column %s: a leaf without a type", name);
            c->phys = e->type;
            c->max_def = c->desc.optional;
            switch (e->type) {
            case PT_BOOLEAN: c->desc.type = SS_PQ_BOOLEAN; break;
            case PT_INT32: c->desc.type = SS_PQ_INT32; break;
            case PT_INT64:
                c->desc.type = e->converted == CT_TIMESTAMP_MICROS || (e->logical == 8 && e->ts_micros) ? SS_PQ_TIMESTAMP_MICROS
                                                                                                          : SS_PQ_INT64;
                break;
            case PT_BYTE_ARRAY: c->desc.type = SS_PQ_STRING; break;
            default: return fail(r, "column %s: physical type %d is not supported", name, e->type);
            }
            i++;
            continue;
        }
        /* <rep> group name (LIST) { repeated group list { required binary element } } */
        if (e->nchildren != 1 || (e->converted != CT_LIST && e->logical != 3) || i + 2 >= nel)
            return fail(r, "column %s: only flat columns and LIST<STRING> are supported", name);
        const selem *g = &el[i + 1], *leaf = &el[i + 2];
        if (g->rep != REP_REPEATED || g->nchildren != 1 || leaf->nchildren != 0 || leaf->type != PT_BYTE_ARRAY ||
            leaf->rep != REP_REQUIRED)
            return fail(r, "column %s: only LIST<STRING> with required elements is supported", name);
        c->phys = PT_BYTE_ARRAY;
        c->desc.type = SS_PQ_STRING_LIST;
        c->max_rep = 1;
        c->max_def = c->desc.optional ? 2 : 1;
        i += 3;
    }
    if (i != nel) return fail(r, "the schema has %zu elements after its last column", nel - i);
    return 0;
}

static int parse_footer(ss_pq_reader *r, const uint8_t *p, size_t n) {
    tr t = {p, p + n, 0, 0, NULL};
    int16_t last = 0, id;
    int type, have_rows = 0, have_rgs = 0;
    selem *el = NULL;
    size_t nel = 0, total_chunks = 0;
    int rc = -1;
    while ((type = tfield(&t, &last, &id)) != 0) {
        if (id == 2 && type == T_LIST && !el) {
            if (tenter(&t)) break;
            int e;
            uint64_t cnt = tlist(&t, &e);
            if (!t.bad && cnt && e != T_STRUCT) tbad(&t, "schema is not a list of structs");
            if (!t.bad && cnt > SS_PQR_MAX_SCHEMA) tbad(&t, "too many schema elements");
            if (t.bad) break;
            el = calloc(cnt ? cnt : 1, sizeof *el);
            if (!el) {
                fail(r, "out of memory");
                goto out;
            }
            for (uint64_t i = 0; i < cnt && !t.bad; i++) parse_selem(&t, &el[i]);
            nel = cnt;
            t.depth--;
        } else if (id == 3 && type == T_I64) {
            r->num_rows = tzz(&t);
            have_rows = 1;
        } else if (id == 4 && type == T_LIST && !have_rgs) {
            if (tenter(&t)) break;
            int e;
            uint64_t cnt = tlist(&t, &e);
            if (!t.bad && cnt && e != T_STRUCT) tbad(&t, "row_groups is not a list of structs");
            if (!t.bad && cnt > SS_PQR_MAX_ROW_GROUPS) tbad(&t, "too many row groups");
            if (t.bad) break;
            r->rgs = calloc(cnt ? cnt : 1, sizeof *r->rgs);
            if (!r->rgs) {
                fail(r, "out of memory");
                goto out;
            }
            r->nrgs = cnt;
            for (uint64_t i = 0; i < cnt && !t.bad; i++)
                if (parse_row_group(r, &t, &r->rgs[i], &total_chunks) != 0 && r->err) goto out;
            have_rgs = 1;
            t.depth--;
        } else if (id == 5 && type == T_LIST && !r->kv) {
            if (tenter(&t)) break;
            int e;
            uint64_t cnt = tlist(&t, &e);
            if (!t.bad && cnt && e != T_STRUCT) tbad(&t, "key_value_metadata is not a list of structs");
            if (!t.bad && cnt > SS_PQR_MAX_KV) tbad(&t, "too many key/value metadata entries");
            if (t.bad) break;
            r->kv = calloc(cnt ? cnt : 1, sizeof *r->kv);
            if (!r->kv) {
                fail(r, "out of memory");
                goto out;
            }
            for (uint64_t i = 0; i < cnt && !t.bad; i++) {
                if (tenter(&t)) break;
                int16_t l2 = 0, i2;
                int t2;
                const uint8_t *kp = NULL, *vp = NULL;
                size_t kn = 0, vn = 0;
                int hk = 0, hv = 0;
                while ((t2 = tfield(&t, &l2, &i2)) != 0) {
                    if (i2 == 1 && t2 == T_BINARY) tbinary(&t, &kp, &kn), hk = 1;
                    else if (i2 == 2 && t2 == T_BINARY) tbinary(&t, &vp, &vn), hv = 1;
                    else tskip(&t, t2);
                }
                t.depth--;
                if (t.bad) break;
                if (!hk) {
                    tbad(&t, "a key/value entry without a key");
                    break;
                }
                kv_t *kv = &r->kv[r->nkv++];
                kv->key = dup_bytes(kp, kn);
                kv->value = hv ? dup_bytes(vp, vn) : NULL;
                if (!kv->key || (hv && !kv->value)) {
                    fail(r, "out of memory");
                    goto out;
                }
            }
            t.depth--;
        } else if (id == 6 && type == T_BINARY && !r->created_by) {
            const uint8_t *cp;
            size_t cn;
            tbinary(&t, &cp, &cn);
            if (!t.bad && !(r->created_by = dup_bytes(cp, cn))) {
                fail(r, "out of memory");
                goto out;
            }
        } else {
            tskip(&t, type);
        }
    }
    if (!t.bad && t.p != t.end) tbad(&t, "bytes after the end of the footer struct");
    if (t.bad) {
        fail(r, "corrupt footer: %s", t.why ? t.why : "malformed");
        goto out;
    }
    if (!el || !have_rows || !have_rgs) {
        fail(r, "corrupt footer: %s missing", !el ? "schema" : !have_rows ? "num_rows" : "row_groups");
        goto out;
    }
    if (build_columns(r, el, nel) != 0) goto out;
    int64_t sum = 0;
    for (size_t g = 0; g < r->nrgs; g++) {
        rg_meta *m = &r->rgs[g];
        if (m->nch != r->ncols) {
            fail(r, "row group %zu has %zu column chunks for %zu columns", g, m->nch, r->ncols);
            goto out;
        }
        for (size_t c = 0; c < r->ncols; c++) {
            if (m->ch[c].phys != r->cols[c].phys) {
                fail(r, "row group %zu, column %s: chunk type %d differs from the schema's %d", g, r->cols[c].desc.name,
                     m->ch[c].phys, r->cols[c].phys);
                goto out;
            }
            if (m->ch[c].has_dict_enc) r->cols[c].desc.dictionary = 1;
        }
        if (sum > INT64_MAX - m->rows) {
            fail(r, "corrupt footer: row counts overflow");
            goto out;
        }
        sum += m->rows;
    }
    if (r->num_rows != sum) {
        fail(r, "corrupt footer: num_rows %lld but its row groups hold %lld", (long long)r->num_rows, (long long)sum);
        goto out;
    }
    rc = 0;
out:
    free(el);
    return rc;
}

static ss_pq_reader *open_common(ss_pq_reader *r) {
    if (r->size < 12) return fail(r, "%llu bytes: too short for a Parquet file", (unsigned long long)r->size), r;
    uint8_t head[4], tail[8];
    const uint8_t *h = read_at(r, 0, 4);
    if (!h) return r;
    memcpy(head, h, 4);
    const uint8_t *tl = read_at(r, r->size - 8, 8);
    if (!tl) return r;
    memcpy(tail, tl, 8);
    if (memcmp(head, "PAR1", 4) != 0 || memcmp(tail + 4, "PAR1", 4) != 0)
        return fail(r, "no PAR1 magic at the %s: not a (complete) Parquet file",
                    memcmp(tail + 4, "PAR1", 4) != 0 ? "end" : "start"), r;
    uint32_t flen = (uint32_t)tail[0] | (uint32_t)tail[1] << 8 | (uint32_t)tail[2] << 16 | (uint32_t)tail[3] << 24;
    if (flen == 0 || flen > r->size - 12 || flen > SS_PQR_MAX_FOOTER_BYTES)
        return fail(r, "footer length %u does not fit a %llu-byte file (limit %u)", flen, (unsigned long long)r->size,
                    SS_PQR_MAX_FOOTER_BYTES), r;
    const uint8_t *f = read_at(r, r->size - 8 - flen, flen);
    if (!f) return r;
    if (!r->mem) { /* r->io is reused for chunks */
        r->footer_copy = malloc(flen);
        if (!r->footer_copy) return fail(r, "out of memory for a %u-byte footer", flen), r;
        memcpy(r->footer_copy, f, flen);
        f = r->footer_copy;
    }
    parse_footer(r, f, flen);
    free(r->footer_copy); /* everything kept was copied out */
    r->footer_copy = NULL;
    r->size -= 8 + flen; /* column chunks lie before the footer */
    return r;
}

ss_pq_reader *ss_pq_reader_open(const char *path) {
    ss_pq_reader *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->fd = open(path ? path : "", O_RDONLY | O_CLOEXEC);
    if (r->fd < 0) return fail(r, "open (%s): %s", strerror(errno), path ? path : ""), r;
    struct stat st;
    if (fstat(r->fd, &st) != 0) return fail(r, "stat (%s): %s", strerror(errno), path), r;
    if (!S_ISREG(st.st_mode)) return fail(r, "%s: not a regular file", path), r;
    r->size = (uint64_t)st.st_size;
    return open_common(r);
}

ss_pq_reader *ss_pq_reader_open_mem(const void *p, size_t n) {
    ss_pq_reader *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->fd = -1;
    static const uint8_t empty[1];
    r->mem = p ? p : empty;
    r->size = p ? n : 0;
    return open_common(r);
}

static void col_reset(rcol *c) {
    c->nlev = c->niv = c->nsv = c->ndict = 0;
    c->data.len = c->dict.len = 0;
    c->lev_pos = c->val_pos = 0;
}

void ss_pq_reader_close(ss_pq_reader *r) {
    if (!r) return;
    if (r->fd >= 0) close(r->fd);
    for (size_t i = 0; i < r->ncols; i++) {
        rcol *c = &r->cols[i];
        free((char *)c->desc.name);
        free(c->def);
        free(c->rep);
        free(c->iv);
        free(c->sv);
        free(c->dv);
        ss_pqbuf_free(&c->data);
        ss_pqbuf_free(&c->dict);
    }
    free(r->cols);
    for (size_t i = 0; i < r->nrgs; i++) free(r->rgs[i].ch);
    free(r->rgs);
    for (size_t i = 0; i < r->nkv; i++) {
        free(r->kv[i].key);
        free(r->kv[i].value);
    }
    free(r->kv);
    free(r->created_by);
    free(r->footer_copy);
    ss_pqbuf_free(&r->io);
    ss_pqbuf_free(&r->page);
    ss_pqbuf_free(&r->vals);
    free(r->u32);
    free(r);
}

/* ---- growth helpers ------------------------------------------------------------------------ */
static int grow(void **p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return 0;
    size_t nc = *cap ? *cap : 1024;
    while (nc < need) nc *= 2;
    void *q = realloc(*p, nc * elem);
    if (!q) return -1;
    *p = q;
    *cap = nc;
    return 0;
}

/* ---- value decoders ------------------------------------------------------------------------- */
typedef struct {
    const uint8_t *p, *end;
} span;

static int uvarint(span *s, uint64_t *v) {
    uint64_t x = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (s->p >= s->end) return -1;
        uint8_t b = *s->p++;
        if (shift == 63 && (b & 0x7e)) return -1;
        x |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = x;
            return 0;
        }
    }
    return -1;
}

static uint64_t get_bits(const uint8_t *p, uint64_t bitoff, int bw) {
    uint64_t v = 0;
    int got = 0;
    const uint8_t *q = p + bitoff / 8;
    int shift = (int)(bitoff % 8);
    while (got < bw) {
        int take = 8 - shift;
        if (take > bw - got) take = bw - got;
        uint64_t bits = ((uint64_t)*q >> shift) & ((1u << take) - 1);
        v |= bits << got;
        got += take;
        shift = 0;
        q++;
    }
    return v;
}

/* n values of the RLE/bit-packed hybrid at width bw (0..32) into out. */
static const char *hybrid(span *s, int bw, size_t n, uint32_t *out) {
    if (bw < 0 || bw > 32) return "bit width over 32";
    size_t i = 0, vbytes = (size_t)(bw + 7) / 8;
    uint64_t limit = bw == 32 ? UINT32_MAX : ((uint64_t)1 << bw) - 1;
    while (i < n) {
        uint64_t h;
        if (uvarint(s, &h)) return "levels or indices end early";
        if (h & 1) {
            uint64_t groups = h >> 1;
            if (bw && groups > (uint64_t)(s->end - s->p) / (uint64_t)bw) return "a bit-packed run is longer than its page";
            uint64_t bytes = groups * (uint64_t)bw;
            if (bytes > (uint64_t)(s->end - s->p)) return "a bit-packed run is longer than its page";
            uint64_t vals = groups * 8;
            for (uint64_t k = 0; k < vals && i < n; k++) out[i++] = bw ? (uint32_t)get_bits(s->p, k * (uint64_t)bw, bw) : 0;
            s->p += bytes;
        } else {
            uint64_t count = h >> 1;
            if (vbytes > (size_t)(s->end - s->p)) return "an RLE run ends early";
            uint64_t v = 0;
            for (size_t k = 0; k < vbytes; k++) v |= (uint64_t)s->p[k] << (8 * k);
            s->p += vbytes;
            if (v > limit) return "an RLE value is wider than its bit width";
            for (uint64_t k = 0; k < count && i < n; k++) out[i++] = (uint32_t)v;
        }
    }
    return NULL;
}

static int need_u32(ss_pq_reader *r, size_t n) {
    if (grow((void **)&r->u32, &r->u32cap, n ? n : 1, sizeof *r->u32)) return fail(r, "out of memory");
    return 0;
}

/* DELTA_BINARY_PACKED: exactly n values into out. */
static const char *delta_decode(span *s, size_t n, int64_t *out) {
    uint64_t block, mbs, total, first;
    if (uvarint(s, &block) || uvarint(s, &mbs) || uvarint(s, &total) || uvarint(s, &first)) return "a delta header ends early";
    if (block == 0 || block % 128 || block > (1u << 16) || mbs == 0 || block % mbs || (block / mbs) % 32)
        return "a delta header with a bad block layout";
    if (total != n) return "a delta page holds another number of values than its levels";
    if (n == 0) return NULL;
    uint64_t prev = (first >> 1) ^ -(first & 1);
    out[0] = (int64_t)prev;
    size_t i = 1;
    uint64_t per = block / mbs;
    while (i < n) {
        uint64_t mz;
        if (uvarint(s, &mz)) return "a delta block ends early";
        uint64_t min = (mz >> 1) ^ -(mz & 1);
        if ((uint64_t)(s->end - s->p) < mbs) return "a delta block ends early";
        const uint8_t *widths = s->p;
        s->p += mbs;
        for (uint64_t m = 0; m < mbs && i < n; m++) {
            int bw = widths[m];
            if (bw > 64) return "a delta bit width over 64";
            uint64_t bytes = per * (uint64_t)bw / 8;
            if (bytes > (uint64_t)(s->end - s->p)) return "a delta miniblock ends early";
            for (uint64_t k = 0; k < per && i < n; k++) {
                uint64_t x = bw ? get_bits(s->p, k * (uint64_t)bw, bw) : 0;
                prev = prev + min + x;
                out[i++] = (int64_t)prev;
            }
            s->p += bytes;
        }
    }
    return NULL;
}

/* ---- pages ------------------------------------------------------------------------------------ */
typedef struct {
    int type;
    int32_t unc, comp;
    /* v1 / v2 data page */
    int32_t num_values, encoding, def_enc, rep_enc;
    int32_t v2_nulls, v2_rows, v2_def_len, v2_rep_len;
    int v2_compressed;
    int have_data, have_dict, have_v2;
    /* dictionary page */
    int32_t dict_n, dict_enc;
} page_hdr;

static void parse_page_header(tr *t, page_hdr *h) {
    memset(h, 0, sizeof *h);
    h->type = -1;
    h->unc = h->comp = -1;
    h->v2_compressed = 1;
    int16_t last = 0, id;
    int type;
    while ((type = tfield(t, &last, &id)) != 0) {
        if (id == 1 && type == T_I32) h->type = ti32(t);
        else if (id == 2 && type == T_I32) h->unc = ti32(t);
        else if (id == 3 && type == T_I32) h->comp = ti32(t);
        else if ((id == 5 || id == 7 || id == 8) && type == T_STRUCT) {
            if (tenter(t)) return;
            int16_t l2 = 0, i2;
            int t2;
            h->have_data |= id == 5;
            h->have_dict |= id == 7;
            h->have_v2 |= id == 8;
            h->encoding = h->dict_enc = -1;
            while ((t2 = tfield(t, &l2, &i2)) != 0) {
                if (id == 5 && t2 == T_I32 && i2 >= 1 && i2 <= 4) {
                    int32_t v = ti32(t);
                    if (i2 == 1) h->num_values = v;
                    else if (i2 == 2) h->encoding = v;
                    else if (i2 == 3) h->def_enc = v;
                    else h->rep_enc = v;
                } else if (id == 7 && t2 == T_I32 && (i2 == 1 || i2 == 2)) {
                    int32_t v = ti32(t);
                    if (i2 == 1) h->dict_n = v;
                    else h->dict_enc = v;
                } else if (id == 8 && t2 == T_I32 && i2 >= 1 && i2 <= 6) {
                    int32_t v = ti32(t);
                    if (i2 == 1) h->num_values = v;
                    else if (i2 == 2) h->v2_nulls = v;
                    else if (i2 == 3) h->v2_rows = v;
                    else if (i2 == 4) h->encoding = v;
                    else if (i2 == 5) h->v2_def_len = v;
                    else h->v2_rep_len = v;
                } else if (id == 8 && i2 == 7 && (t2 == T_TRUE || t2 == T_FALSE)) {
                    h->v2_compressed = tbool(t2);
                } else {
                    tskip(t, t2);
                }
            }
            t->depth--;
        } else tskip(t, type);
    }
}

/* Decompresses n bytes of codec into exactly unc bytes in out. */
static int decompress(ss_pq_reader *r, int codec, const uint8_t *src, size_t n, size_t unc, ss_pqbuf *out,
                      const uint8_t **res, const char *col) {
    if (codec == CODEC_UNCOMPRESSED) {
        if (n != unc) return fail(r, "column %s: an uncompressed page of %zu bytes says %zu", col, n, unc);
        *res = src;
        return 0;
    }
    out->len = 0;
    if (ss_pqbuf_reserve(out, unc ? unc : 1)) return fail(r, "out of memory");
    if (codec == CODEC_ZSTD) {
        size_t got = ZSTD_decompress(out->p, unc, src, n);
        if (ZSTD_isError(got)) return fail(r, "column %s: zstd: %s", col, ZSTD_getErrorName(got));
        if (got != unc) return fail(r, "column %s: a zstd page decompressed to %zu bytes, not %zu", col, got, unc);
    } else if (codec == CODEC_SNAPPY) {
        size_t len;
        if (snappy_uncompressed_length((const char *)src, n, &len) != SNAPPY_OK || len != unc)
            return fail(r, "column %s: a snappy page that does not decompress to %zu bytes", col, unc);
        if (snappy_uncompress((const char *)src, n, (char *)out->p, &len) != SNAPPY_OK || len != unc)
            return fail(r, "column %s: corrupt snappy data", col);
    } else {
        return fail(r, "column %s: codec %d is not supported (uncompressed, snappy, zstd)", col, codec);
    }
    *res = out->p;
    return 0;
}

/* PLAIN values of c's physical type. */
static int plain_values(ss_pq_reader *r, rcol *c, span *s, size_t n, int into_dict) {
    const char *col = c->desc.name;
    size_t avail = (size_t)(s->end - s->p);
    switch (c->phys) {
    case PT_BOOLEAN:
    case PT_INT32:
    case PT_INT64: {
        size_t need = c->phys == PT_BOOLEAN ? (n + 7) / 8 : n * (c->phys == PT_INT32 ? 4 : 8);
        if (n > avail * 8 || need > avail) return fail(r, "column %s: a PLAIN page ends before its %zu values", col, n);
        if (into_dict) return fail(r, "column %s: dictionaries of non-string columns are not supported", col);
        if (grow((void **)&c->iv, &c->ivcap, c->niv + n, sizeof *c->iv)) return fail(r, "out of memory");
        for (size_t i = 0; i < n; i++) {
            int64_t v;
            if (c->phys == PT_BOOLEAN) {
                v = (s->p[i / 8] >> (i % 8)) & 1;
            } else if (c->phys == PT_INT32) {
                int32_t x;
                memcpy(&x, s->p + 4 * i, 4);
                v = x;
            } else {
                memcpy(&v, s->p + 8 * i, 8);
            }
            c->iv[c->niv++] = v;
        }
        s->p += need;
        return 0;
    }
    case PT_BYTE_ARRAY: {
        if (n > avail / 4) return fail(r, "column %s: a PLAIN page ends before its %zu values", col, n);
        sref **arr = into_dict ? &c->dv : &c->sv;
        size_t *cnt = into_dict ? &c->ndict : &c->nsv, *cap = into_dict ? &c->dvcap : &c->svcap;
        ss_pqbuf *arena = into_dict ? &c->dict : &c->data;
        if (grow((void **)arr, cap, *cnt + n, sizeof **arr)) return fail(r, "out of memory");
        for (size_t i = 0; i < n; i++) {
            uint32_t len;
            if (s->end - s->p < 4) return fail(r, "column %s: a PLAIN page ends inside a string length", col);
            memcpy(&len, s->p, 4);
            s->p += 4;
            if (len > (size_t)(s->end - s->p)) return fail(r, "column %s: a string of %u bytes is longer than its page", col, len);
            (*arr)[*cnt] = (sref){arena->len, len, (uint8_t)into_dict};
            ss_pqbuf_put(arena, s->p, len);
            if (arena->oom) return fail(r, "out of memory");
            (*cnt)++;
            s->p += len;
        }
        return 0;
    }
    }
    return fail(r, "column %s: physical type %d is not supported", col, c->phys);
}

/* Levels of one page into dst (appended after c->nlev), each <= max. */
static int levels(ss_pq_reader *r, rcol *c, span *s, size_t n, int max, uint8_t *dst, int v1, int enc, const char *what) {
    if (v1 && enc != ENC_RLE) return fail(r, "column %s: %s level encoding %d is not supported (RLE)", c->desc.name, what, enc);
    span body = *s;
    if (v1) {
        if (s->end - s->p < 4) return fail(r, "column %s: a page ends inside its %s levels' length", c->desc.name, what);
        uint32_t len;
        memcpy(&len, s->p, 4);
        s->p += 4;
        if (len > (size_t)(s->end - s->p)) return fail(r, "column %s: %s levels longer than their page", c->desc.name, what);
        body.p = s->p;
        body.end = s->p + len;
        s->p += len;
    }
    if (need_u32(r, n)) return -1;
    const char *why = hybrid(&body, ss_pq_bit_width((uint32_t)max), n, r->u32);
    if (why) return fail(r, "column %s: %s levels: %s", c->desc.name, what, why);
    for (size_t i = 0; i < n; i++) {
        if (r->u32[i] > (uint32_t)max) return fail(r, "column %s: %s level %u over its maximum %d", c->desc.name, what, r->u32[i], max);
        dst[i] = (uint8_t)r->u32[i];
    }
    return 0;
}

static int values(ss_pq_reader *r, rcol *c, span *s, size_t n, int enc) {
    const char *col = c->desc.name;
    if (enc == ENC_PLAIN) return plain_values(r, c, s, n, 0);
    if (enc == ENC_RLE_DICTIONARY || enc == ENC_PLAIN_DICTIONARY) {
        if (c->phys != PT_BYTE_ARRAY) return fail(r, "column %s: dictionaries of non-string columns are not supported", col);
        if (n == 0) return 0;
        if (s->p >= s->end) return fail(r, "column %s: a dictionary page without its bit width", col);
        int bw = *s->p++;
        if (need_u32(r, n)) return -1;
        const char *why = hybrid(s, bw, n, r->u32);
        if (why) return fail(r, "column %s: dictionary indices: %s", col, why);
        if (grow((void **)&c->sv, &c->svcap, c->nsv + n, sizeof *c->sv)) return fail(r, "out of memory");
        for (size_t i = 0; i < n; i++) {
            if (r->u32[i] >= c->ndict)
                return fail(r, "column %s: dictionary index %u of %zu entries", col, r->u32[i], c->ndict);
            c->sv[c->nsv++] = c->dv[r->u32[i]];
        }
        return 0;
    }
    if (enc == ENC_DELTA_BINARY_PACKED) {
        if (c->phys != PT_INT64 && c->phys != PT_INT32) return fail(r, "column %s: DELTA_BINARY_PACKED on a non-integer column", col);
        if (grow((void **)&c->iv, &c->ivcap, c->niv + (n ? n : 1), sizeof *c->iv)) return fail(r, "out of memory");
        const char *why = delta_decode(s, n, c->iv + c->niv);
        if (why) return fail(r, "column %s: %s", col, why);
        if (c->phys == PT_INT32)
            for (size_t i = 0; i < n; i++) c->iv[c->niv + i] = (int32_t)c->iv[c->niv + i];
        c->niv += n;
        return 0;
    }
    if (enc == ENC_RLE && c->phys == PT_BOOLEAN) { /* v2 booleans: u32 length + hybrid at width 1 */
        if (s->end - s->p < 4) return fail(r, "column %s: RLE booleans without their length", col);
        uint32_t len;
        memcpy(&len, s->p, 4);
        s->p += 4;
        if (len > (size_t)(s->end - s->p)) return fail(r, "column %s: RLE booleans longer than their page", col);
        span b = {s->p, s->p + len};
        s->p += len;
        if (need_u32(r, n)) return -1;
        const char *why = hybrid(&b, 1, n, r->u32);
        if (why) return fail(r, "column %s: booleans: %s", col, why);
        if (grow((void **)&c->iv, &c->ivcap, c->niv + (n ? n : 1), sizeof *c->iv)) return fail(r, "out of memory");
        for (size_t i = 0; i < n; i++) c->iv[c->niv++] = r->u32[i];
        return 0;
    }
    return fail(r, "column %s: value encoding %d is not supported", col, enc);
}

/* Decodes every page of one column chunk into c. */
static int decode_chunk(ss_pq_reader *r, size_t g, size_t ci) {
    rcol *c = &r->cols[ci];
    const chunk_meta *m = &r->rgs[g].ch[ci];
    const char *col = c->desc.name;
    col_reset(c);
    if (m->num_values < 0 || m->num_values > (int64_t)SS_PQR_MAX_LEVELS)
        return fail(r, "row group %zu, column %s: %lld values (limit %u)", g, col, (long long)m->num_values, SS_PQR_MAX_LEVELS);
    if (m->total_compressed < 0 || m->total_compressed > (int64_t)SS_PQR_MAX_CHUNK_BYTES)
        return fail(r, "row group %zu, column %s: a chunk of %lld bytes (limit %u)", g, col, (long long)m->total_compressed,
                    SS_PQR_MAX_CHUNK_BYTES);
    int64_t start = m->data_off;
    if (m->has_dict_off && m->dict_off > 0 && m->dict_off < start) start = m->dict_off;
    if (start < 4) return fail(r, "row group %zu, column %s: chunk offset %lld", g, col, (long long)start);
    const uint8_t *base = read_at(r, (uint64_t)start, (size_t)m->total_compressed);
    if (!base) return -1;
    span s = {base, base + m->total_compressed};
    size_t want = (size_t)m->num_values;
    if (grow((void **)&c->def, &c->levcap, want ? want : 1, 1) || !(c->rep = realloc(c->rep, c->levcap)))
        return fail(r, "out of memory");
    uint64_t unc_total = 0;
    int pages = 0;
    while (c->nlev < want) {
        if (s.p >= s.end) return fail(r, "row group %zu, column %s: the chunk ends after %zu of %zu values", g, col, c->nlev, want);
        size_t hmax = (size_t)(s.end - s.p);
        if (hmax > SS_PQR_MAX_PAGE_HEADER) hmax = SS_PQR_MAX_PAGE_HEADER;
        tr t = {s.p, s.p + hmax, 0, 0, NULL};
        page_hdr h;
        parse_page_header(&t, &h);
        if (t.bad) return fail(r, "row group %zu, column %s: corrupt page header: %s", g, col, t.why);
        s.p = t.p;
        if (h.comp < 0 || h.unc < 0 || (uint32_t)h.comp > SS_PQR_MAX_PAGE_BYTES || (uint32_t)h.unc > SS_PQR_MAX_PAGE_BYTES)
            return fail(r, "row group %zu, column %s: page sizes %d/%d (limit %u)", g, col, h.comp, h.unc, SS_PQR_MAX_PAGE_BYTES);
        if ((size_t)h.comp > (size_t)(s.end - s.p)) return fail(r, "row group %zu, column %s: a page is longer than its chunk", g, col);
        unc_total += (uint64_t)h.unc;
        if (unc_total > SS_PQR_MAX_CHUNK_BYTES) return fail(r, "row group %zu, column %s: over %u bytes uncompressed", g, col, SS_PQR_MAX_CHUNK_BYTES);
        const uint8_t *body = s.p;
        s.p += h.comp;
        pages++;
        if (h.type == PAGE_INDEX) continue;
        if (h.type == PAGE_DICTIONARY) {
            if (!h.have_dict || pages != 1) return fail(r, "row group %zu, column %s: a dictionary page that is not the first", g, col);
            if (h.dict_enc != ENC_PLAIN && h.dict_enc != ENC_PLAIN_DICTIONARY)
                return fail(r, "column %s: dictionary encoding %d is not supported", col, h.dict_enc);
            if (h.dict_n < 0 || (uint32_t)h.dict_n > SS_PQR_MAX_DICT) return fail(r, "column %s: %d dictionary entries (limit %u)", col, h.dict_n, SS_PQR_MAX_DICT);
            const uint8_t *d;
            if (decompress(r, m->codec, body, (size_t)h.comp, (size_t)h.unc, &r->page, &d, col)) return -1;
            span ds = {d, d + h.unc};
            if (plain_values(r, c, &ds, (size_t)h.dict_n, 1)) return -1;
            continue;
        }
        if (h.type != PAGE_DATA && h.type != PAGE_DATA_V2) return fail(r, "row group %zu, column %s: page type %d is not supported", g, col, h.type);
        int v1 = h.type == PAGE_DATA;
        if ((v1 && !h.have_data) || (!v1 && !h.have_v2)) return fail(r, "column %s: a data page without its header", col);
        if (h.num_values < 0 || (size_t)h.num_values > want - c->nlev)
            return fail(r, "row group %zu, column %s: a page of %d values past the chunk's %zu", g, col, h.num_values, want);
        size_t n = (size_t)h.num_values;
        span ps;
        if (v1) {
            const uint8_t *d;
            if (decompress(r, m->codec, body, (size_t)h.comp, (size_t)h.unc, &r->page, &d, col)) return -1;
            ps = (span){d, d + h.unc};
        } else {
            if (h.v2_def_len < 0 || h.v2_rep_len < 0 || (int64_t)h.v2_def_len + h.v2_rep_len > h.comp ||
                (int64_t)h.v2_def_len + h.v2_rep_len > h.unc)
                return fail(r, "column %s: v2 level lengths do not fit the page", col);
            size_t lv = (size_t)h.v2_def_len + (size_t)h.v2_rep_len;
            const uint8_t *d;
            if (h.v2_compressed) {
                if (decompress(r, m->codec, body + lv, (size_t)h.comp - lv, (size_t)h.unc - lv, &r->vals, &d, col)) return -1;
            } else {
                if (h.comp != h.unc) return fail(r, "column %s: an uncompressed v2 page with two sizes", col);
                d = body + lv;
            }
            ps = (span){d, d + (h.unc - (int32_t)lv)};
            span rs = {body, body + h.v2_rep_len}, dsp = {body + h.v2_rep_len, body + lv};
            if (c->max_rep && levels(r, c, &rs, n, c->max_rep, c->rep + c->nlev, 0, ENC_RLE, "repetition")) return -1;
            if (c->max_def && levels(r, c, &dsp, n, c->max_def, c->def + c->nlev, 0, ENC_RLE, "definition")) return -1;
        }
        if (v1) {
            if (c->max_rep && levels(r, c, &ps, n, c->max_rep, c->rep + c->nlev, 1, h.rep_enc, "repetition")) return -1;
            if (c->max_def && levels(r, c, &ps, n, c->max_def, c->def + c->nlev, 1, h.def_enc, "definition")) return -1;
        }
        if (!c->max_rep) memset(c->rep + c->nlev, 0, n);
        size_t nonnull = 0;
        if (c->max_def) {
            for (size_t i = 0; i < n; i++) nonnull += c->def[c->nlev + i] == c->max_def;
        } else {
            memset(c->def + c->nlev, 0, n);
            nonnull = n;
        }
        if (values(r, c, &ps, nonnull, h.encoding)) return -1;
        c->nlev += n;
    }
    return 0;
}

/* Decodes row group g and checks that every column holds its rows. */
static int load_row_group(ss_pq_reader *r, size_t g) {
    int64_t rows = r->rgs[g].rows;
    uint64_t total = 0;
    for (size_t ci = 0; ci < r->ncols; ci++) {
        int64_t nv = r->rgs[g].ch[ci].num_values;
        total += nv > 0 ? (uint64_t)nv : 0;
    }
    if (total > SS_PQR_MAX_RG_LEVELS)
        return fail(r, "row group %zu: %llu values in all (limit %u)", g, (unsigned long long)total, SS_PQR_MAX_RG_LEVELS);
    for (size_t ci = 0; ci < r->ncols; ci++) {
        if (decode_chunk(r, g, ci)) return -1;
        rcol *c = &r->cols[ci];
        int64_t n = 0;
        for (size_t i = 0; i < c->nlev; i++) n += c->rep[i] == 0;
        if (c->nlev && c->rep[0] != 0) return fail(r, "row group %zu, column %s: starts inside a list", g, c->desc.name);
        if (n != rows)
            return fail(r, "row group %zu, column %s: %lld rows where the footer says %lld", g, c->desc.name, (long long)n,
                        (long long)rows);
    }
    r->rg_loaded = 1;
    r->rg_row = 0;
    return 0;
}

static int assemble(ss_pq_reader *r, rcol *c) {
    size_t nvals = c->phys == PT_BYTE_ARRAY ? c->nsv : c->niv;
    if (c->lev_pos >= c->nlev) return fail(r, "column %s runs out of levels", c->desc.name);
    int d = c->def[c->lev_pos];
    c->cur_n = 0;
    c->cur_val = c->val_pos;
    if (!c->max_rep) {
        c->cur_null = c->max_def && d < c->max_def;
        c->lev_pos++;
        if (!c->cur_null) {
            if (c->val_pos >= nvals) return fail(r, "column %s runs out of values", c->desc.name);
            c->val_pos++;
            c->cur_n = 1;
        }
        return 0;
    }
    c->cur_null = c->desc.optional && d == 0;
    c->lev_pos++;
    if (d < c->max_def) { /* null or empty list: nothing may repeat */
        if (c->lev_pos < c->nlev && c->rep[c->lev_pos] != 0) return fail(r, "column %s: an empty list with elements", c->desc.name);
        return 0;
    }
    for (;;) {
        if (c->val_pos >= nvals) return fail(r, "column %s runs out of values", c->desc.name);
        c->val_pos++;
        c->cur_n++;
        if (c->lev_pos >= c->nlev || c->rep[c->lev_pos] == 0) break;
        if (c->def[c->lev_pos] != c->max_def) return fail(r, "column %s: a null inside a list", c->desc.name);
        c->lev_pos++;
    }
    return 0;
}

int ss_pq_reader_next(ss_pq_reader *r) {
    if (!r || r->err) return -1;
    if (r->ended) return 0;
    while (!r->rg_loaded || r->rg_row >= r->rgs[r->rg].rows) {
        if (r->rg_loaded) {
            r->rg++;
            r->rg_loaded = 0;
        }
        if (r->rg >= r->nrgs) {
            r->ended = 1;
            for (size_t i = 0; i < r->ncols; i++) col_reset(&r->cols[i]);
            return 0;
        }
        if (load_row_group(r, r->rg)) return -1;
    }
    for (size_t i = 0; i < r->ncols; i++)
        if (assemble(r, &r->cols[i])) return -1;
    r->rg_row++;
    r->row_index++;
    return 1;
}

/* ---- values of the current row -------------------------------------------------------------------- */
static const rcol *cur(const ss_pq_reader *r, size_t col) {
    if (!r || r->err || r->ended || !r->rg_loaded || col >= r->ncols || r->rg_row == 0) return NULL;
    return &r->cols[col];
}

int ss_pq_reader_is_null(const ss_pq_reader *r, size_t col) {
    const rcol *c = cur(r, col);
    return !c || c->cur_null;
}

int64_t ss_pq_reader_int(const ss_pq_reader *r, size_t col) {
    const rcol *c = cur(r, col);
    if (!c || c->cur_null || c->phys == PT_BYTE_ARRAY || c->cur_n == 0) return 0;
    return c->iv[c->cur_val];
}

static void sref_get(const rcol *c, const sref *s, const char **p, size_t *n) {
    const ss_pqbuf *a = s->dict ? &c->dict : &c->data;
    *p = a->p ? (const char *)a->p + s->off : "";
    *n = s->len;
}

int ss_pq_reader_str(const ss_pq_reader *r, size_t col, const char **p, size_t *n) {
    const rcol *c = cur(r, col);
    if (!c || c->cur_null || c->desc.type != SS_PQ_STRING || c->cur_n == 0) return -1;
    sref_get(c, &c->sv[c->cur_val], p, n);
    return 0;
}

size_t ss_pq_reader_list_n(const ss_pq_reader *r, size_t col) {
    const rcol *c = cur(r, col);
    return c && c->desc.type == SS_PQ_STRING_LIST && !c->cur_null ? c->cur_n : 0;
}

int ss_pq_reader_list_str(const ss_pq_reader *r, size_t col, size_t i, const char **p, size_t *n) {
    const rcol *c = cur(r, col);
    if (!c || c->desc.type != SS_PQ_STRING_LIST || c->cur_null || i >= c->cur_n) return -1;
    sref_get(c, &c->sv[c->cur_val + i], p, n);
    return 0;
}
