/* The Parquet file writer: schema, pages, column chunks, row groups and the footer.
 *
 * Data flows row by row into per-column *page* buffers: definition and repetition levels
 * as one byte each, values already in their PLAIN form (or, while a string column is
 * dictionary-encoded, as 32-bit dictionary indices). When a page's estimated size
 * reaches page_bytes it is encoded (levels and indices with the RLE/bit-packed hybrid),
 * compressed (zstd's window spanning the whole page) and appended, header first, to the
 * column's chunk buffer. Pages are only
 * cut between rows, so a list never straddles two pages. When the row group reaches
 * row_group_rows or row_group_bytes, each column's chunk is written out in turn:
 * the dictionary page (known only now, which is why data pages wait in memory), then
 * the data pages. Its metadata is serialized into the footer buffer right away, so
 * nothing but the footer's own bytes outlives a row group.
 *
 * Dictionary encoding uses an open-addressing hash table over the chunk's dictionary,
 * which is kept in PLAIN form, ready to be the dictionary page. When the dictionary
 * outgrows dict_max_bytes the current page is closed and the rest of the chunk is
 * written PLAIN; earlier pages still use the dictionary, so both encodings are listed.
 *
 * Statistics (null_count, min and max as PLAIN bytes) are kept per chunk while values
 * arrive; for dictionary pages only new dictionary entries can move min or max. Long
 * string bounds are truncated at a code point boundary to SS_PQ_STAT_BOUND bytes: the
 * minimum becomes a prefix, the maximum a prefix whose last code point is incremented,
 * both flagged inexact (is_*_value_exact = false), so pruning stays correct and the
 * footer stays small.
 *
 * Bloom filters: a column declared .bloom collects the xxHash64 of its values while the
 * row group fills (in dictionary mode only of new dictionary entries, so the count stays
 * near the distinct count; 8 bytes per value at most). When the row group is flushed the
 * hashes are sorted and deduplicated, which gives the exact distinct count the spec's
 * sizing formula needs, and the filter is built and written after the row group's column
 * chunks (arrow-rs's default placement). That is why a row group is flushed in two passes:
 * every chunk's pages first, then the filters, then the ColumnChunk metadata, which must
 * carry the filters' offsets.
 *
 * With delta_int64, INT64/TIMESTAMP pages are DELTA_BINARY_PACKED instead of PLAIN
 * (opt-in: it shrinks sorted columns such as time_us but not random ones).
 *
 * All sizes in page headers and column metadata are computed from the bytes actually
 * produced, never estimated: readers reject files where they are off by one. */
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <snappy-c.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <zstd.h>

#include "parquet.h"
#include "pq_internal.h"

#define SS_PQ_MAX_COLUMNS 4096
#define SS_PQ_MAX_NAME 1024            /* bytes in a column name */
#define SS_PQ_MAX_STRING (64u << 20)   /* bytes in one string value */
#define SS_PQ_MAX_LIST (1u << 20)      /* elements in one list value */
#define SS_PQ_MAX_PAGE_BYTES (1u << 30) /* page_bytes option; pages must fit in int32 */
#define SS_PQ_MAX_PAGE_BODY (1u << 30)  /* hard cap on one page's buffered values */
#define SS_PQ_MAX_KV 1024
#define SS_PQ_MAX_PAGE_LEVELS (1u << 30) /* num_values is an int32 */
#define SS_PQ_STAT_BOUND 128 /* bytes of a string min/max kept in statistics */

/* Parquet enums (parquet.thrift). */
enum { PT_BOOLEAN = 0, PT_INT32 = 1, PT_INT64 = 2, PT_BYTE_ARRAY = 6 };
enum { REP_REQUIRED = 0, REP_OPTIONAL = 1, REP_REPEATED = 2 };
enum { ENC_PLAIN = 0, ENC_RLE = 3, ENC_DELTA_BINARY_PACKED = 5, ENC_RLE_DICTIONARY = 8 };
enum { CT_UTF8 = 0, CT_LIST = 3, CT_TIMESTAMP_MICROS = 10 };
enum { PAGE_DATA = 0, PAGE_DICTIONARY = 2 };
enum { CODEC_UNCOMPRESSED = 0, CODEC_SNAPPY = 1, CODEC_ZSTD = 6 };

typedef struct {
    uint32_t hash;
    uint32_t idx1; /* dictionary index + 1; 0 marks an empty slot */
    uint32_t off;  /* the entry's offset in the dictionary, saving one cache miss per probe */
} dict_slot;

typedef struct {
    char *name;
    ss_pq_type type;
    int optional, want_dict;
    int sort_check, sort_ok, sort_any; /* ss_pq_column.sorted: still in order in this row group */
    int64_t sort_last;
    int phys;
    int max_def, max_rep;

    /* the row being built */
    int set; /* 0 unset, 1 value (or list begun), 2 null */
    uint32_t list_n;

    /* the open page */
    ss_pqbuf def, rep; /* one byte per level */
    ss_pqbuf vals;     /* PLAIN values, or uint32 indices in dictionary mode */
    uint32_t page_levels, page_nonnull, page_max_idx;

    /* the open column chunk */
    ss_pqbuf pages; /* finished data pages: header + (compressed) body */
    uint64_t chunk_levels, chunk_uncompressed;
    int dict_mode, used_dict, used_plain, used_delta, fell_back;
    ss_pqbuf dict; /* dictionary entries in PLAIN form: u32 length + bytes */
    uint32_t dict_n;
    dict_slot *slots;
    uint32_t nslots;

    /* chunk statistics */
    uint64_t nulls;
    int has_minmax;
    int64_t imin, imax;
    ss_pqbuf smin, smax;

    /* bloom filter of the open chunk: xxHash64 of values (u64 each) */
    int bloom;
    ss_pqbuf hashes;
    /* where the chunk went, between the two passes of flush_row_group */
    uint64_t m_start, m_data_off, m_unc, m_comp, m_bloom_off;
    uint32_t m_bloom_len;
    int m_has_dict;
} pq_col;

struct ss_pq_writer {
    int fd;
    int err;
    int sys_errno; /* the errno of the failed system call behind err (0: none failed) */
    char errstr[256];
    char *path;
    pq_col *cols;
    size_t ncols;
    ss_pq_options opt;
    char *created_by;
    ss_pq_kv *kv;
    size_t nkv;

    uint64_t offset;  /* bytes written so far */
    uint64_t rg_rows; /* rows in the open row group */
    size_t str_bytes; /* string bytes added since the last row group size check */
    ss_pqbuf rowgroups; /* serialized RowGroup structs for the footer */
    uint32_t nrowgroups;

    ss_pqbuf body, cbuf, fix; /* page body, compressed body, repaired UTF-8 */
    ss_pqbuf hdr;
    ss_pqbuf bloom; /* the filter being built */
    int zwlog; /* zstd windowLog for this writer's pages (0: the level's default) */
    ss_pq_stats st;
};

/* ---- errors ------------------------------------------------------------------------ */
__attribute__((format(printf, 2, 3))) static int fail(ss_pq_writer *w, const char *fmt, ...) {
    if (w->err) return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->errstr, sizeof w->errstr, fmt, ap);
    va_end(ap);
    w->err = 1;
    return -1;
}

static int oom(ss_pq_writer *w) { return fail(w, "out of memory"); }

/* A failed system call (write, open, fsync, close) on the file: its errno is kept beside the
 * message, so that a caller tells a full disk from a read-only one without reading words.
 * The message puts the cause before the path (DEVELOPERS.md). */
static int sys_fail(ss_pq_writer *w, int e, const char *call) {
    if (w->err) return -1;
    fail(w, "%s (%s): %s", call, strerror(e), w->path);
    w->sys_errno = e;
    return -1;
}

int ss_pq_err(const ss_pq_writer *w) { return w ? w->err : 1; }
const char *ss_pq_errstr(const ss_pq_writer *w) { return w ? w->errstr : "no writer"; }
int ss_pq_sys_errno(const ss_pq_writer *w) { return w ? w->sys_errno : 0; }

/* ---- file output --------------------------------------------------------------------- */
static int write_all(ss_pq_writer *w, const void *p, size_t n) {
    const uint8_t *q = p;
    while (n) {
        ssize_t r = write(w->fd, q, n);
        if (r < 0) {
            if (errno == EINTR) continue;
            return sys_fail(w, errno, "write");
        }
        q += r;
        n -= (size_t)r;
        w->offset += (uint64_t)r;
    }
    return 0;
}

/* ---- compression ----------------------------------------------------------------------- */
/* zstd contexts belong to threads, not to writers: a context holds its tables (760 KB at level
 * 2) for as long as it lives, and a caller may keep many files open at once (the DataWriter one
 * per type and window, convert one per partition) while only the threads that compress need
 * one. Each page sets the writer's own parameters on the calling thread's context, which keeps
 * its tables across pages of the same level and window; the context is freed when its thread
 * ends (the process's main thread keeps its one until exit). */
static pthread_key_t g_zc_key;
static pthread_once_t g_zc_once = PTHREAD_ONCE_INIT;
static int g_zc_key_ok;

static void zc_free(void *z) { ZSTD_freeCCtx(z); }
static void zc_key_init(void) { g_zc_key_ok = pthread_key_create(&g_zc_key, zc_free) == 0; }

static ZSTD_CCtx *thread_zc(void) {
    pthread_once(&g_zc_once, zc_key_init);
    if (!g_zc_key_ok) return NULL;
    ZSTD_CCtx *z = pthread_getspecific(g_zc_key);
    if (!z && (z = ZSTD_createCCtx()) && pthread_setspecific(g_zc_key, z) != 0) {
        ZSTD_freeCCtx(z);
        z = NULL;
    }
    return z;
}

/* The calling thread's context, set to w's level and window. */
static ZSTD_CCtx *zc_for(ss_pq_writer *w) {
    ZSTD_CCtx *z = thread_zc();
    if (!z) return oom(w), NULL;
    size_t r = ZSTD_CCtx_reset(z, ZSTD_reset_session_and_parameters);
    if (!ZSTD_isError(r)) r = ZSTD_CCtx_setParameter(z, ZSTD_c_compressionLevel, w->opt.zstd_level);
    if (!ZSTD_isError(r) && w->zwlog) r = ZSTD_CCtx_setParameter(z, ZSTD_c_windowLog, w->zwlog);
    if (ZSTD_isError(r)) return fail(w, "zstd: %s", ZSTD_getErrorName(r)), NULL;
    return z;
}

static int compress(ss_pq_writer *w, const uint8_t *src, size_t n, const uint8_t **out, size_t *outn) {
    w->cbuf.len = 0;
    switch (w->opt.codec) {
    case SS_PQ_CODEC_NONE:
        *out = src;
        *outn = n;
        return 0;
    case SS_PQ_CODEC_ZSTD: {
        size_t cap = ZSTD_compressBound(n);
        if (ss_pqbuf_reserve(&w->cbuf, cap)) return oom(w);
        ZSTD_CCtx *z = zc_for(w);
        if (!z) return -1;
        size_t r = ZSTD_compress2(z, w->cbuf.p, cap, src, n);
        if (ZSTD_isError(r)) return fail(w, "zstd: %s", ZSTD_getErrorName(r));
        *out = w->cbuf.p;
        *outn = r;
        return 0;
    }
    case SS_PQ_CODEC_SNAPPY: {
        size_t cap = snappy_max_compressed_length(n);
        if (ss_pqbuf_reserve(&w->cbuf, cap)) return oom(w);
        size_t len = cap;
        if (snappy_compress((const char *)src, n, (char *)w->cbuf.p, &len) != SNAPPY_OK)
            return fail(w, "snappy compression failed");
        *out = w->cbuf.p;
        *outn = len;
        return 0;
    }
    }
    return fail(w, "unknown codec");
}

static int codec_id(ss_pq_codec c) {
    return c == SS_PQ_CODEC_ZSTD ? CODEC_ZSTD : c == SS_PQ_CODEC_SNAPPY ? CODEC_SNAPPY : CODEC_UNCOMPRESSED;
}

/* ---- pages ------------------------------------------------------------------------------- */
/* Appends a u32 length placeholder, the hybrid-encoded levels, then patches the length. */
static void put_levels(ss_pqbuf *b, const ss_pqbuf *lv, size_t n, int max_level) {
    size_t at = b->len;
    ss_pqbuf_u32le(b, 0);
    ss_pq_hybrid_u8(b, lv->p, n, ss_pq_bit_width((uint32_t)max_level));
    if (!b->oom) {
        uint32_t len = (uint32_t)(b->len - at - 4);
        memcpy(b->p + at, &len, 4);
    }
}

static void put_bools(ss_pqbuf *b, const uint8_t *v, size_t n) {
    if (ss_pqbuf_reserve(b, (n + 7) / 8)) return;
    uint8_t *o = b->p + b->len;
    memset(o, 0, (n + 7) / 8);
    for (size_t i = 0; i < n; i++) o[i >> 3] |= (uint8_t)(v[i] << (i & 7));
    b->len += (n + 7) / 8;
}

/* Buffers that grew past this are freed once their page is done, instead of keeping their
 * capacity for the file's lifetime: the page body and the compressed body are per file and a
 * page's values per column, each up to page_bytes (4 MiB in the archive), and a writer with a
 * window's parts of every type open held them all (`run` at 20,000 events/s peaked at 325 MB
 * RSS, against 252 MB with 1 MiB pages). Freed at most once per big page, which is rare. */
#define SS_PQ_KEEP_BUF_BYTES (1u << 20)

static void release_big(ss_pqbuf *b) {
    if (b->cap > SS_PQ_KEEP_BUF_BYTES && !b->oom) ss_pqbuf_free(b);
}

/* Encodes, compresses and appends the open page of c to its chunk, then resets the page. */
static int finish_page(ss_pq_writer *w, pq_col *c) {
    /* appends never fail loudly; a failed one is caught here, before the page is used */
    if (c->vals.oom || c->def.oom || c->rep.oom) return oom(w);
    if (c->page_levels == 0) return 0;
    ss_pqbuf *b = &w->body;
    b->len = 0;
    if (c->max_rep) put_levels(b, &c->rep, c->page_levels, c->max_rep);
    if (c->max_def) put_levels(b, &c->def, c->page_levels, c->max_def);
    /* A page of nulls only carries no indices; it is written PLAIN so that an all-null
     * chunk needs no (empty) dictionary page. */
    int use_dict = c->dict_mode && c->page_nonnull > 0;
    int use_delta = w->opt.delta_int64 && c->phys == PT_INT64 && c->page_nonnull > 0;
    if (use_delta) {
        ss_pq_delta_i64(b, (const int64_t *)(void *)c->vals.p, c->page_nonnull);
    } else if (use_dict) {
        int bw = ss_pq_bit_width(c->page_max_idx);
        ss_pqbuf_byte(b, (uint8_t)bw);
        ss_pq_hybrid_u32(b, (const uint32_t *)(void *)c->vals.p, c->page_nonnull, bw);
    } else if (c->phys == PT_BOOLEAN) {
        put_bools(b, c->vals.p, c->page_nonnull);
    } else {
        ss_pqbuf_put(b, c->vals.p, c->vals.len);
    }
    if (b->oom) return oom(w);
    if (b->len > INT32_MAX) return fail(w, "column %s: page of %zu bytes is too large", c->name, b->len);

    const uint8_t *z;
    size_t zn;
    if (compress(w, b->p, b->len, &z, &zn)) return -1;

    ss_pqbuf *h = &w->hdr;
    h->len = 0;
    ss_tc t;
    ss_tc_init(&t, h);
    ss_tc_i32(&t, 1, PAGE_DATA);
    ss_tc_i32(&t, 2, (int32_t)b->len);
    ss_tc_i32(&t, 3, (int32_t)zn);
    ss_tc_struct_begin(&t, 5);
    ss_tc_i32(&t, 1, (int32_t)c->page_levels);
    ss_tc_i32(&t, 2, use_dict ? ENC_RLE_DICTIONARY : use_delta ? ENC_DELTA_BINARY_PACKED : ENC_PLAIN);
    ss_tc_i32(&t, 3, ENC_RLE);
    ss_tc_i32(&t, 4, ENC_RLE);
    ss_tc_struct_end(&t);
    ss_pqbuf_byte(h, 0);
    ss_pqbuf_put(&c->pages, h->p, h->len);
    ss_pqbuf_put(&c->pages, z, zn);
    if (h->oom || c->pages.oom) return oom(w);

    c->chunk_uncompressed += h->len + b->len;
    c->chunk_levels += c->page_levels;
    if (use_dict) c->used_dict = 1;
    else if (use_delta) c->used_delta = 1;
    else c->used_plain = 1;
    c->def.len = c->rep.len = c->vals.len = 0;
    c->page_levels = c->page_nonnull = c->page_max_idx = 0;
    release_big(&c->vals);
    release_big(b);
    release_big(&w->cbuf);
    return 0;
}

/* Bytes the open page would take, roughly; pages are cut when this reaches page_bytes. */
static size_t page_estimate(const pq_col *c) {
    size_t v;
    if (c->dict_mode) v = (size_t)c->page_nonnull * (size_t)ss_pq_bit_width(c->dict_n) / 8;
    else if (c->phys == PT_BOOLEAN) v = c->vals.len / 8;
    else v = c->vals.len;
    return v + (c->def.len + c->rep.len) / 4;
}

/* ---- statistics ---------------------------------------------------------------------- */
static inline void stat_int(pq_col *c, int64_t v) {
    if (!c->has_minmax) {
        c->imin = c->imax = v;
        c->has_minmax = 1;
    } else if (v < c->imin) {
        c->imin = v;
    } else if (v > c->imax) {
        c->imax = v;
    }
}

static int cmp_bytes(const uint8_t *a, size_t an, const uint8_t *b, size_t bn) {
    size_t m = an < bn ? an : bn;
    int r = m ? memcmp(a, b, m) : 0;
    return r ? r : (an > bn) - (an < bn);
}

static inline void stat_string(pq_col *c, const uint8_t *s, size_t n) {
    if (!c->has_minmax) {
        c->has_minmax = 1;
        c->smin.len = c->smax.len = 0;
        ss_pqbuf_put(&c->smin, s, n);
        ss_pqbuf_put(&c->smax, s, n);
        return;
    }
    if (cmp_bytes(s, n, c->smin.p, c->smin.len) < 0) {
        c->smin.len = 0;
        ss_pqbuf_put(&c->smin, s, n);
    } else if (cmp_bytes(s, n, c->smax.p, c->smax.len) > 0) {
        c->smax.len = 0;
        ss_pqbuf_put(&c->smax, s, n);
    }
}

/* ---- dictionary ------------------------------------------------------------------------ */

/* A fast 64-bit hash for dictionary strings; the tail is read with overlapping loads
 * rather than a variable-length copy (which stalls on store forwarding). */
static uint64_t hash_bytes(const uint8_t *p, size_t n) {
    const uint64_t k1 = 0x9E3779B97F4A7C15ull, k2 = 0xC2B2AE3D27D4EB4Full;
    uint64_t h = k1 ^ (n * k2), x;
    const uint8_t *end = p + n;
    if (n >= 8) {
        while (end - p > 8) {
            h = (h ^ (ss_pq_load64(p) * k2)) * k1;
            h ^= h >> 29;
            p += 8;
        }
        x = ss_pq_load64(end - 8);
    } else if (n >= 4) {
        x = (uint64_t)ss_pq_load32(p) | (uint64_t)ss_pq_load32(end - 4) << 32;
    } else if (n > 0) {
        x = (uint64_t)p[0] | (uint64_t)p[n / 2] << 8 | (uint64_t)end[-1] << 16;
    } else {
        x = 0;
    }
    h = (h ^ (x * k2)) * k1;
    h ^= h >> 32;
    h *= k2;
    h ^= h >> 29;
    return h;
}

/* Records a value for the chunk's bloom filter: the xxHash64 of its PLAIN bytes. */
static inline void bloom_add(pq_col *c, const void *p, size_t n) {
    uint64_t h = ss_pq_xxh64(p, n, 0);
    ss_pqbuf_put(&c->hashes, &h, 8);
}

static int dict_rehash(pq_col *c, uint32_t nslots) {
    dict_slot *s = calloc(nslots, sizeof *s);
    if (!s) return -1;
    for (uint32_t i = 0; i < c->nslots; i++) {
        if (!c->slots[i].idx1) continue;
        uint32_t j = c->slots[i].hash & (nslots - 1);
        while (s[j].idx1) j = (j + 1) & (nslots - 1);
        s[j] = c->slots[i];
    }
    free(c->slots);
    c->slots = s;
    c->nslots = nslots;
    return 0;
}

/* Index of s in the chunk's dictionary, adding it when new; -1 when out of memory. */
static inline int entry_is(const pq_col *c, const dict_slot *sl, const uint8_t *s, size_t n) {
    const uint8_t *e = c->dict.p + sl->off;
    uint32_t en;
    memcpy(&en, e, 4);
    return en == n && !memcmp(e + 4, s, n);
}

static int64_t dict_index(pq_col *c, const uint8_t *s, size_t n) {
    if (!c->slots && dict_rehash(c, 1024)) return -1;
    uint32_t h = (uint32_t)hash_bytes(s, n);
    uint32_t mask = c->nslots - 1, j = h & mask;
    for (;;) {
        dict_slot *sl = &c->slots[j];
        if (!sl->idx1) break;
        if (sl->hash == h && entry_is(c, sl, s, n)) return sl->idx1 - 1;
        j = (j + 1) & mask;
    }
    uint32_t idx = c->dict_n++;
    c->slots[j].off = (uint32_t)c->dict.len;
    ss_pqbuf_u32le(&c->dict, (uint32_t)n);
    ss_pqbuf_put(&c->dict, s, n);
    if (c->dict.oom) return -1;
    c->slots[j].hash = h;
    c->slots[j].idx1 = idx + 1;
    stat_string(c, s, n);
    if (c->bloom) bloom_add(c, s, n);
    if ((uint64_t)c->dict_n * 2 > c->nslots && dict_rehash(c, c->nslots * 2)) return -1;
    return idx;
}

static void dict_reset(pq_col *c) {
    c->dict.len = 0;
    c->dict_n = 0;
    if (c->slots) memset(c->slots, 0, c->nslots * sizeof *c->slots);
}

/* ---- values ------------------------------------------------------------------------ */
static inline void put_level(pq_col *c, int rep, int def) {
    if (c->max_rep) ss_pqbuf_byte(&c->rep, (uint8_t)rep);
    if (c->max_def) ss_pqbuf_byte(&c->def, (uint8_t)def);
    c->page_levels++;
}

/* Appends one non-null string (validated) to c's open page. */
static int add_string(ss_pq_writer *w, pq_col *c, const char *str, size_t n) {
    const uint8_t *s = (const uint8_t *)str;
    if (n > SS_PQ_MAX_STRING)
        return fail(w, "column %s: string of %zu bytes exceeds the limit of %u", c->name, n, SS_PQ_MAX_STRING);
    if (n && !s) return fail(w, "column %s: NULL string pointer", c->name);
    if (!ss_pq_utf8_valid(s, n)) {
        if (!w->opt.replace_bad_utf8) return fail(w, "column %s: invalid UTF-8 in string value", c->name);
        w->fix.len = 0;
        ss_pq_utf8_repair(&w->fix, s, n);
        if (w->fix.oom) return oom(w);
        s = w->fix.p;
        n = w->fix.len;
        w->st.utf8_replaced++;
        if (n > SS_PQ_MAX_STRING) return fail(w, "column %s: repaired string too long", c->name);
    }
    w->str_bytes += n;
    if (c->dict_mode) {
        if (c->dict.len + n + 4 > SS_PQ_MAX_PAGE_BODY)
            return fail(w, "column %s: dictionary larger than %u bytes", c->name, SS_PQ_MAX_PAGE_BODY);
        int64_t idx = dict_index(c, s, n);
        if (idx < 0) return oom(w);
        uint32_t i = (uint32_t)idx;
        ss_pqbuf_put(&c->vals, &i, 4);
        if (i > c->page_max_idx) c->page_max_idx = i;
    } else {
        ss_pqbuf_u32le(&c->vals, (uint32_t)n);
        ss_pqbuf_put(&c->vals, s, n);
        stat_string(c, s, n);
        if (c->bloom) bloom_add(c, s, n);
    }
    if (c->hashes.oom) return oom(w);
    c->page_nonnull++;
    if (c->vals.len > SS_PQ_MAX_PAGE_BODY)
        return fail(w, "column %s: more than %u bytes of values in one page", c->name, SS_PQ_MAX_PAGE_BODY);
    return 0;
}

static const char *type_name(ss_pq_type t) {
    switch (t) {
    case SS_PQ_BOOLEAN: return "BOOLEAN";
    case SS_PQ_INT32: return "INT32";
    case SS_PQ_INT64: return "INT64";
    case SS_PQ_TIMESTAMP_MICROS: return "TIMESTAMP_MICROS";
    case SS_PQ_STRING: return "STRING";
    case SS_PQ_STRING_LIST: return "STRING_LIST";
    }
    return "?";
}

/* The column col, when it exists, accepts `what` and is not yet set in this row. */
static pq_col *col_for(ss_pq_writer *w, size_t col, int ok, const char *what) {
    if (w->err) return NULL;
    if (col >= w->ncols) {
        fail(w, "%s: column %zu does not exist (%zu columns)", what, col, w->ncols);
        return NULL;
    }
    pq_col *c = &w->cols[col];
    if (!ok) {
        fail(w, "%s: column %s is %s", what, c->name, type_name(c->type));
        return NULL;
    }
    if (c->set) {
        fail(w, "%s: column %s set twice in one row", what, c->name);
        return NULL;
    }
    return c;
}

int ss_pq_set_null(ss_pq_writer *w, size_t col) {
    if (!w) return -1;
    pq_col *c = col_for(w, col, 1, "ss_pq_set_null");
    if (!c) return -1;
    if (!c->optional) return fail(w, "column %s is REQUIRED and cannot be null", c->name);
    put_level(c, 0, 0);
    c->nulls++;
    c->set = 2; /* 2: null, so end_row adds no empty-list level */
    return 0;
}

int ss_pq_set_bool(ss_pq_writer *w, size_t col, int v) {
    if (!w) return -1;
    pq_col *c = col_for(w, col, w->ncols > col && w->cols[col].type == SS_PQ_BOOLEAN, "ss_pq_set_bool");
    if (!c) return -1;
    put_level(c, 0, 1);
    ss_pqbuf_byte(&c->vals, v ? 1 : 0);
    c->page_nonnull++;
    stat_int(c, v ? 1 : 0);
    c->set = 1;
    return 0;
}

int ss_pq_set_int32(ss_pq_writer *w, size_t col, int32_t v) {
    if (!w) return -1;
    pq_col *c = col_for(w, col, w->ncols > col && w->cols[col].type == SS_PQ_INT32, "ss_pq_set_int32");
    if (!c) return -1;
    put_level(c, 0, 1);
    ss_pqbuf_put(&c->vals, &v, 4);
    c->page_nonnull++;
    stat_int(c, v);
    if (c->bloom) bloom_add(c, &v, 4);
    if (c->hashes.oom) return oom(w);
    c->set = 1;
    return 0;
}

int ss_pq_set_int64(ss_pq_writer *w, size_t col, int64_t v) {
    if (!w) return -1;
    pq_col *c = col_for(w, col,
                        w->ncols > col && (w->cols[col].type == SS_PQ_INT64 || w->cols[col].type == SS_PQ_TIMESTAMP_MICROS),
                        "ss_pq_set_int64");
    if (!c) return -1;
    put_level(c, 0, 1);
    ss_pqbuf_put(&c->vals, &v, 8);
    c->page_nonnull++;
    stat_int(c, v);
    if (c->bloom) bloom_add(c, &v, 8);
    if (c->hashes.oom) return oom(w);
    if (c->sort_check) {
        if (c->sort_any && v < c->sort_last) c->sort_ok = 0;
        c->sort_last = v;
        c->sort_any = 1;
    }
    c->set = 1;
    return 0;
}

int ss_pq_set_string(ss_pq_writer *w, size_t col, const char *s, size_t n) {
    if (!w) return -1;
    pq_col *c = col_for(w, col, w->ncols > col && w->cols[col].type == SS_PQ_STRING, "ss_pq_set_string");
    if (!c) return -1;
    put_level(c, 0, 1);
    c->set = 1;
    return add_string(w, c, s, n);
}

int ss_pq_list_begin(ss_pq_writer *w, size_t col) {
    if (!w) return -1;
    pq_col *c = col_for(w, col, w->ncols > col && w->cols[col].type == SS_PQ_STRING_LIST, "ss_pq_list_begin");
    if (!c) return -1;
    c->set = 1;
    c->list_n = 0;
    return 0;
}

int ss_pq_list_add(ss_pq_writer *w, size_t col, const char *s, size_t n) {
    if (!w || w->err) return -1;
    if (col >= w->ncols) return fail(w, "ss_pq_list_add: column %zu does not exist", col);
    pq_col *c = &w->cols[col];
    if (c->type != SS_PQ_STRING_LIST) return fail(w, "ss_pq_list_add: column %s is %s", c->name, type_name(c->type));
    if (!c->set) return fail(w, "ss_pq_list_add: column %s: call ss_pq_list_begin first", c->name);
    if (c->list_n >= SS_PQ_MAX_LIST)
        return fail(w, "column %s: list longer than %u elements", c->name, SS_PQ_MAX_LIST);
    put_level(c, c->list_n ? 1 : 0, c->max_def);
    c->list_n++;
    return add_string(w, c, s, n);
}

/* ---- row groups and column chunks ----------------------------------------------------- */
static void put_stat_value(ss_tc *t, int16_t id, const pq_col *c, int64_t v) {
    if (c->phys == PT_INT64) {
        ss_tc_binary(t, id, &v, 8);
    } else if (c->phys == PT_INT32) {
        int32_t x = (int32_t)v;
        ss_tc_binary(t, id, &x, 4);
    } else {
        uint8_t x = (uint8_t)v;
        ss_tc_binary(t, id, &x, 1);
    }
}

static void put_statistics(ss_tc *t, const pq_col *c) {
    ss_tc_struct_begin(t, 12);
    ss_tc_i64(t, 3, (int64_t)c->nulls);
    if (c->has_minmax && c->phys != PT_BYTE_ARRAY) {
        put_stat_value(t, 5, c, c->imax);
        put_stat_value(t, 6, c, c->imin);
    } else if (c->has_minmax) {
        uint8_t maxb[SS_PQ_STAT_BOUND];
        size_t maxn = ss_pq_trunc_max(c->smax.p, c->smax.len, SS_PQ_STAT_BOUND, maxb);
        size_t minn = ss_pq_trunc_min(c->smin.p, c->smin.len, SS_PQ_STAT_BOUND);
        int max_exact = maxn == c->smax.len, min_exact = minn == c->smin.len;
        if (maxn || max_exact) ss_tc_binary(t, 5, maxb, maxn); /* 0 bytes and inexact: no bound exists */
        ss_tc_binary(t, 6, c->smin.p, minn);
        if (maxn || max_exact) ss_tc_bool(t, 7, max_exact);
        ss_tc_bool(t, 8, min_exact);
    }
    ss_tc_struct_end(t);
}

static void put_path(ss_tc *t, const pq_col *c) {
    if (c->type == SS_PQ_STRING_LIST) {
        ss_tc_list_begin(t, 3, SS_TC_BINARY, 3);
        ss_tc_elem_binary(t, c->name, strlen(c->name));
        ss_tc_elem_binary(t, "list", 4);
        ss_tc_elem_binary(t, "element", 7);
    } else {
        ss_tc_list_begin(t, 3, SS_TC_BINARY, 1);
        ss_tc_elem_binary(t, c->name, strlen(c->name));
    }
}

static void put_encodings(ss_tc *t, const pq_col *c) {
    int32_t e[4];
    size_t n = 0;
    if (c->used_plain || c->used_dict) e[n++] = ENC_PLAIN; /* dictionary pages are PLAIN too */
    if (c->max_def || c->max_rep) e[n++] = ENC_RLE;
    if (c->used_delta) e[n++] = ENC_DELTA_BINARY_PACKED;
    if (c->used_dict) e[n++] = ENC_RLE_DICTIONARY;
    ss_tc_list_begin(t, 2, SS_TC_I32, n);
    for (size_t i = 0; i < n; i++) ss_tc_elem_i32(t, e[i]);
}

/* Pass 1: writes c's chunk (dictionary page, data pages) and remembers where it went. */
static int write_chunk_data(ss_pq_writer *w, pq_col *c) {
    if (finish_page(w, c)) return -1;
    if (c->smin.oom || c->smax.oom) return oom(w);
    uint64_t start = w->offset, unc = c->chunk_uncompressed, comp = c->pages.len;
    int has_dict = c->used_dict;
    if (has_dict) {
        const uint8_t *z;
        size_t zn;
        if (c->dict.len > INT32_MAX) return fail(w, "column %s: dictionary too large", c->name);
        if (compress(w, c->dict.p, c->dict.len, &z, &zn)) return -1;
        ss_pqbuf *h = &w->hdr;
        h->len = 0;
        ss_tc ht;
        ss_tc_init(&ht, h);
        ss_tc_i32(&ht, 1, PAGE_DICTIONARY);
        ss_tc_i32(&ht, 2, (int32_t)c->dict.len);
        ss_tc_i32(&ht, 3, (int32_t)zn);
        ss_tc_struct_begin(&ht, 7);
        ss_tc_i32(&ht, 1, (int32_t)c->dict_n);
        ss_tc_i32(&ht, 2, ENC_PLAIN);
        ss_tc_struct_end(&ht);
        ss_pqbuf_byte(h, 0);
        if (h->oom) return oom(w);
        if (write_all(w, h->p, h->len) || write_all(w, z, zn)) return -1;
        unc += h->len + c->dict.len;
        comp += h->len + zn;
    }
    uint64_t data_off = w->offset;
    if (write_all(w, c->pages.p, c->pages.len)) return -1;
    c->m_start = start;
    c->m_data_off = data_off;
    c->m_unc = unc;
    c->m_comp = comp;
    c->m_has_dict = has_dict;
    c->m_bloom_len = 0;
    return 0;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x, y;
    memcpy(&x, a, 8);
    memcpy(&y, b, 8);
    return (x > y) - (x < y);
}

/* Pass 2: builds c's bloom filter from the chunk's value hashes and writes it (header,
 * then the bitset). A chunk without values gets none. */
static int write_bloom(ss_pq_writer *w, pq_col *c) {
    size_t n = c->hashes.len / 8;
    if (!c->bloom || n == 0) return 0;
    qsort(c->hashes.p, n, 8, cmp_u64);
    size_t ndv = 1;
    for (size_t i = 1; i < n; i++)
        if (memcmp(c->hashes.p + 8 * i, c->hashes.p + 8 * (i - 1), 8)) ndv++;
    size_t nbytes = ss_pq_bloom_bytes(ndv, w->opt.bloom_fpp, w->opt.bloom_max_bytes);
    ss_pqbuf *b = &w->bloom;
    b->len = 0;
    ss_tc t;
    ss_tc_init(&t, b);
    ss_tc_i32(&t, 1, (int32_t)nbytes); /* BloomFilterHeader.numBytes */
    ss_tc_struct_begin(&t, 2);         /* algorithm: BLOCK */
    ss_tc_struct_begin(&t, 1);
    ss_tc_struct_end(&t);
    ss_tc_struct_end(&t);
    ss_tc_struct_begin(&t, 3); /* hash: XXHASH */
    ss_tc_struct_begin(&t, 1);
    ss_tc_struct_end(&t);
    ss_tc_struct_end(&t);
    ss_tc_struct_begin(&t, 4); /* compression: UNCOMPRESSED */
    ss_tc_struct_begin(&t, 1);
    ss_tc_struct_end(&t);
    ss_tc_struct_end(&t);
    ss_pqbuf_byte(b, 0);
    size_t hlen = b->len;
    if (ss_pqbuf_reserve(b, nbytes)) return oom(w);
    memset(b->p + hlen, 0, nbytes);
    b->len += nbytes;
    for (size_t i = 0; i < n; i++) {
        uint64_t h;
        memcpy(&h, c->hashes.p + 8 * i, 8);
        ss_pq_bloom_insert(b->p + hlen, nbytes, h);
    }
    if (b->oom || b->len > INT32_MAX) return oom(w);
    c->m_bloom_off = w->offset;
    c->m_bloom_len = (uint32_t)b->len;
    if (write_all(w, b->p, b->len)) return -1;
    w->st.bloom_filters++;
    w->st.bloom_bytes += b->len;
    return 0;
}

/* Pass 3: appends c's ColumnChunk to t and resets the chunk. */
static void put_chunk_meta(ss_pq_writer *w, pq_col *c, ss_tc *t, uint64_t *rg_unc, uint64_t *rg_comp) {
    ss_tc_elem_struct_begin(t); /* ColumnChunk */
    ss_tc_i64(t, 2, (int64_t)c->m_start);
    ss_tc_struct_begin(t, 3); /* ColumnMetaData */
    ss_tc_i32(t, 1, c->phys);
    put_encodings(t, c);
    put_path(t, c);
    ss_tc_i32(t, 4, codec_id(w->opt.codec));
    ss_tc_i64(t, 5, (int64_t)c->chunk_levels);
    ss_tc_i64(t, 6, (int64_t)c->m_unc);
    ss_tc_i64(t, 7, (int64_t)c->m_comp);
    ss_tc_i64(t, 9, (int64_t)c->m_data_off);
    if (c->m_has_dict) ss_tc_i64(t, 11, (int64_t)c->m_start);
    put_statistics(t, c);
    if (c->m_bloom_len) {
        ss_tc_i64(t, 14, (int64_t)c->m_bloom_off); /* bloom_filter_offset */
        ss_tc_i32(t, 15, (int32_t)c->m_bloom_len); /* bloom_filter_length, header included */
    }
    ss_tc_struct_end(t);
    ss_tc_struct_end(t);
    *rg_unc += c->m_unc;
    *rg_comp += c->m_comp;

    if (c->fell_back) w->st.dict_fallbacks++;
    /* reset the chunk; the chunk buffers are released, not kept for the next row group, so
     * that a writer between row groups holds only its page buffers (a caller with many open
     * writers counts on that) */
    ss_pqbuf_free(&c->pages);
    ss_pqbuf_free(&c->hashes);
    c->chunk_levels = c->chunk_uncompressed = 0;
    c->used_dict = c->used_plain = c->used_delta = c->fell_back = 0;
    c->dict_mode = c->want_dict;
    dict_reset(c);
    c->nulls = 0;
    c->has_minmax = 0;
}

static int flush_row_group(ss_pq_writer *w) {
    if (w->rg_rows == 0) return 0;
    ss_tc t;
    ss_tc_init(&t, &w->rowgroups);
    uint64_t first = w->offset, unc = 0, comp = 0;
    /* the sorting_columns claim, decided before put_chunk_meta resets the chunk's null count */
    uint32_t nsorted = 0;
    for (size_t i = 0; i < w->ncols; i++) {
        pq_col *c = &w->cols[i];
        c->sort_any = c->sort_check && c->sort_ok && c->nulls == 0; /* reused: "claim it" */
        nsorted += (uint32_t)c->sort_any;
    }
    for (size_t i = 0; i < w->ncols; i++)
        if (write_chunk_data(w, &w->cols[i])) return -1;
    for (size_t i = 0; i < w->ncols; i++)
        if (write_bloom(w, &w->cols[i])) return -1;
    ss_tc_elem_struct_begin(&t); /* RowGroup */
    ss_tc_list_begin(&t, 1, SS_TC_STRUCT, w->ncols);
    for (size_t i = 0; i < w->ncols; i++) put_chunk_meta(w, &w->cols[i], &t, &unc, &comp);
    ss_tc_i64(&t, 2, (int64_t)unc);
    ss_tc_i64(&t, 3, (int64_t)w->rg_rows);
    if (nsorted) { /* list<SortingColumn{1: column_idx, 2: descending, 3: nulls_first}> */
        ss_tc_list_begin(&t, 4, SS_TC_STRUCT, nsorted);
        for (size_t i = 0; i < w->ncols; i++) {
            if (!w->cols[i].sort_any) continue;
            ss_tc_elem_struct_begin(&t);
            ss_tc_i32(&t, 1, (int32_t)i);
            ss_tc_bool(&t, 2, 0);
            ss_tc_bool(&t, 3, 0);
            ss_tc_struct_end(&t);
        }
    }
    for (size_t i = 0; i < w->ncols; i++) w->cols[i].sort_ok = 1, w->cols[i].sort_any = 0;
    ss_tc_i64(&t, 5, (int64_t)first);
    ss_tc_i64(&t, 6, (int64_t)comp);
    if (w->nrowgroups <= INT16_MAX) {
        ss_tc_field(&t, 7, SS_TC_I16);
        ss_pqbuf_uvarint(t.b, ss_tc_zigzag(w->nrowgroups));
    }
    ss_tc_struct_end(&t);
    if (w->rowgroups.oom) return oom(w);
    w->nrowgroups++;
    w->st.row_groups++;
    w->rg_rows = 0;
    return 0;
}

int ss_pq_flush(ss_pq_writer *w) {
    if (!w || w->err) return -1;
    for (size_t i = 0; i < w->ncols; i++)
        if (w->cols[i].set) return fail(w, "ss_pq_flush: inside a row (call ss_pq_end_row first)");
    return flush_row_group(w);
}

uint64_t ss_pq_row_groups(const ss_pq_writer *w) { return w ? w->st.row_groups : 0; }

static size_t buffered_bytes(const ss_pq_writer *w) {
    size_t n = 0;
    for (size_t i = 0; i < w->ncols; i++) {
        const pq_col *c = &w->cols[i];
        n += c->pages.len + c->vals.len + c->def.len + c->rep.len + c->dict.len;
    }
    return n;
}

int ss_pq_end_row(ss_pq_writer *w) {
    if (!w || w->err) return -1;
    for (size_t i = 0; i < w->ncols; i++) {
        pq_col *c = &w->cols[i];
        if (!c->set) {
            if (!c->optional) return fail(w, "column %s is REQUIRED but was not set in row %llu", c->name,
                                          (unsigned long long)w->st.rows);
            put_level(c, 0, 0);
            c->nulls++;
        } else if (c->type == SS_PQ_STRING_LIST && c->set == 1 && c->list_n == 0) {
            put_level(c, 0, c->max_def - 1); /* empty list */
            c->nulls++;
        }
        c->set = 0;
        c->list_n = 0;
        if (c->dict_mode && c->dict.len > w->opt.dict_max_bytes) {
            if (finish_page(w, c)) return -1;
            c->dict_mode = 0; /* the rest of this chunk is PLAIN */
            c->fell_back = 1;
        } else if (page_estimate(c) >= w->opt.page_bytes || c->page_levels >= SS_PQ_MAX_PAGE_LEVELS) {
            if (finish_page(w, c)) return -1;
        }
    }
    w->st.rows++;
    w->rg_rows++;
    if (w->rg_rows >= w->opt.row_group_rows) return flush_row_group(w);
    /* Summing every column's buffers costs more than the row itself on wide schemas, so
     * the byte bound is checked every 16 rows, or sooner once 64 KiB of strings arrived. */
    if ((w->rg_rows & 15) == 0 || w->str_bytes >= (64u << 10)) {
        w->str_bytes = 0;
        if (buffered_bytes(w) >= w->opt.row_group_bytes) return flush_row_group(w);
    }
    return 0;
}

/* ---- open ------------------------------------------------------------------------------- */
static char *xstrdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p) memcpy(p, s, n);
    return p;
}

static int check_options(ss_pq_writer *w, const ss_pq_options *o) {
    if (o->codec != SS_PQ_CODEC_NONE && o->codec != SS_PQ_CODEC_SNAPPY && o->codec != SS_PQ_CODEC_ZSTD)
        return fail(w, "unknown codec %d", (int)o->codec);
    if (o->zstd_level < ZSTD_minCLevel() || o->zstd_level > ZSTD_maxCLevel())
        return fail(w, "zstd_level %d out of range %d..%d", o->zstd_level, ZSTD_minCLevel(), ZSTD_maxCLevel());
    if (o->row_group_rows < 1 || o->row_group_rows > INT32_MAX)
        return fail(w, "row_group_rows must be 1..%d", INT32_MAX);
    if (o->row_group_bytes < 1) return fail(w, "row_group_bytes must be positive");
    if (o->page_bytes < 1 || o->page_bytes > SS_PQ_MAX_PAGE_BYTES)
        return fail(w, "page_bytes must be 1..%u", SS_PQ_MAX_PAGE_BYTES);
    if (o->dict_max_bytes > SS_PQ_MAX_PAGE_BYTES) return fail(w, "dict_max_bytes must be at most %u", SS_PQ_MAX_PAGE_BYTES);
    /* 0 means the default, for callers that fill the options themselves */
    if (o->bloom_fpp != 0.0 && !(o->bloom_fpp > 0.0 && o->bloom_fpp < 1.0)) return fail(w, "bloom_fpp must be in (0, 1)");
    if (o->bloom_max_bytes && (o->bloom_max_bytes < SS_PQ_BLOOM_MIN_BYTES || o->bloom_max_bytes > SS_PQ_BLOOM_MAX_BYTES))
        return fail(w, "bloom_max_bytes must be %u..%u", SS_PQ_BLOOM_MIN_BYTES, SS_PQ_BLOOM_MAX_BYTES);
    if (o->nsorted > SS_PQ_MAX_COLUMNS) return fail(w, "at most %d sorted columns", SS_PQ_MAX_COLUMNS);
    if (o->nkv > SS_PQ_MAX_KV) return fail(w, "at most %d key/value metadata entries", SS_PQ_MAX_KV);
    for (size_t i = 0; i < o->nkv; i++)
        if (!o->kv || !o->kv[i].key) return fail(w, "key/value metadata entry %zu has no key", i);
    return 0;
}

static int setup_columns(ss_pq_writer *w, const ss_pq_column *cols, size_t ncols) {
    if (!cols || ncols == 0 || ncols > SS_PQ_MAX_COLUMNS)
        return fail(w, "a schema needs 1..%d columns", SS_PQ_MAX_COLUMNS);
    w->cols = calloc(ncols, sizeof *w->cols);
    if (!w->cols) return oom(w);
    w->ncols = ncols;
    for (size_t i = 0; i < ncols; i++) {
        pq_col *c = &w->cols[i];
        const ss_pq_column *d = &cols[i];
        if (!d->name || !d->name[0] || strlen(d->name) > SS_PQ_MAX_NAME)
            return fail(w, "column %zu: name must be 1..%d bytes", i, SS_PQ_MAX_NAME);
        if (!ss_pq_utf8_valid((const uint8_t *)d->name, strlen(d->name)))
            return fail(w, "column %zu: name is not valid UTF-8", i);
        for (size_t j = 0; j < i; j++)
            if (!strcmp(cols[j].name, d->name)) return fail(w, "column name %s appears twice", d->name);
        if (!(c->name = xstrdup(d->name))) return oom(w);
        c->type = d->type;
        c->optional = d->optional ? 1 : 0;
        switch (d->type) {
        case SS_PQ_BOOLEAN: c->phys = PT_BOOLEAN; break;
        case SS_PQ_INT32: c->phys = PT_INT32; break;
        case SS_PQ_INT64:
        case SS_PQ_TIMESTAMP_MICROS: c->phys = PT_INT64; break;
        case SS_PQ_STRING:
        case SS_PQ_STRING_LIST: c->phys = PT_BYTE_ARRAY; break;
        default: return fail(w, "column %s: unknown type %d", d->name, (int)d->type);
        }
        c->want_dict = d->dictionary && c->phys == PT_BYTE_ARRAY;
        if (d->bloom && (d->type == SS_PQ_BOOLEAN || d->type == SS_PQ_STRING_LIST))
            return fail(w, "column %s: bloom filters are for STRING, INT32 and INT64 columns", d->name);
        c->bloom = d->bloom ? 1 : 0;
        c->sort_check = 0;
        for (size_t k = 0; k < w->opt.nsorted; k++)
            if (w->opt.sorted && w->opt.sorted[k] && !strcmp(w->opt.sorted[k], d->name) &&
                (d->type == SS_PQ_INT64 || d->type == SS_PQ_TIMESTAMP_MICROS))
                c->sort_check = 1;
        c->sort_ok = 1;
        c->dict_mode = c->want_dict;
        if (d->type == SS_PQ_STRING_LIST) {
            c->max_rep = 1;
            c->max_def = c->optional ? 2 : 1; /* [null list,] empty list, element */
        } else {
            c->max_def = c->optional;
        }
    }
    return 0;
}

ss_pq_writer *ss_pq_open(const char *path, const ss_pq_column *cols, size_t ncols, const ss_pq_options *opt) {
    ss_pq_writer *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    w->fd = -1;
    ss_pq_options defaults;
    if (!opt) {
        ss_pq_options_init(&defaults);
        opt = &defaults;
    }
    w->opt = *opt;
    if (w->opt.bloom_fpp == 0.0) w->opt.bloom_fpp = 0.01;
    if (w->opt.bloom_max_bytes == 0) w->opt.bloom_max_bytes = 1u << 20;
    w->opt.kv = NULL;
    w->opt.nkv = 0;
    if (!(w->path = xstrdup(path ? path : ""))) {
        free(w);
        return NULL;
    }
    if (check_options(w, opt) || setup_columns(w, cols, ncols)) return w;
    if (!(w->created_by = xstrdup(opt->created_by ? opt->created_by : "skyspool"))) return oom(w), w;
    if (opt->nkv) {
        if (!(w->kv = calloc(opt->nkv, sizeof *w->kv))) return oom(w), w;
        w->nkv = opt->nkv;
        for (size_t i = 0; i < opt->nkv; i++) {
            w->kv[i].key = xstrdup(opt->kv[i].key);
            w->kv[i].value = opt->kv[i].value ? xstrdup(opt->kv[i].value) : NULL;
            if (!w->kv[i].key || (opt->kv[i].value && !w->kv[i].value)) return oom(w), w;
        }
    }
    if (opt->codec == SS_PQ_CODEC_ZSTD) {
        ZSTD_bounds lb = ZSTD_cParam_getBounds(ZSTD_c_compressionLevel);
        if (opt->zstd_level < lb.lowerBound || opt->zstd_level > lb.upperBound)
            return fail(w, "zstd: level %d is outside %d..%d", opt->zstd_level, lb.lowerBound, lb.upperBound), w;
        /* A page is compressed on its own, so a match can only point back within it: the
         * window should cover the whole page. Low levels default to a 512 KiB-1 MiB window,
         * which on multi-MiB pages of JSON loses the repeats further back (measured on the
         * archive's record column in 4 MiB pages at level 2: 4 % smaller with a 4 MiB window
         * than with the default 1 MiB, same CPU). The frame carries its content size, so a
         * reader needs no more memory. */
        int wlog = 10;
        while (wlog < 27 && ((size_t)1 << wlog) < opt->page_bytes) wlog++;
        if (wlog > 20) w->zwlog = wlog; /* pages up to 1 MiB keep each level's default (512 KiB at level 1) */
    }
    if (!path || !path[0]) return fail(w, "no output path"), w;
    w->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (w->fd < 0) return sys_fail(w, errno, "open"), w;
    write_all(w, "PAR1", 4);
    return w;
}

/* ---- close ------------------------------------------------------------------------------ */
static void put_schema(ss_tc *t, const ss_pq_writer *w) {
    size_t n = 1;
    for (size_t i = 0; i < w->ncols; i++) n += w->cols[i].type == SS_PQ_STRING_LIST ? 3 : 1;
    ss_tc_list_begin(t, 2, SS_TC_STRUCT, n);
    ss_tc_elem_struct_begin(t);
    ss_tc_binary(t, 4, "schema", 6);
    ss_tc_i32(t, 5, (int32_t)w->ncols);
    ss_tc_struct_end(t);
    for (size_t i = 0; i < w->ncols; i++) {
        const pq_col *c = &w->cols[i];
        int rep = c->optional ? REP_OPTIONAL : REP_REQUIRED;
        if (c->type == SS_PQ_STRING_LIST) {
            ss_tc_elem_struct_begin(t); /* <rep> group name (LIST) */
            ss_tc_i32(t, 3, rep);
            ss_tc_binary(t, 4, c->name, strlen(c->name));
            ss_tc_i32(t, 5, 1);
            ss_tc_i32(t, 6, CT_LIST);
            ss_tc_struct_begin(t, 10);
            ss_tc_struct_begin(t, 3);
            ss_tc_struct_end(t);
            ss_tc_struct_end(t);
            ss_tc_struct_end(t);
            ss_tc_elem_struct_begin(t); /* repeated group list */
            ss_tc_i32(t, 3, REP_REPEATED);
            ss_tc_binary(t, 4, "list", 4);
            ss_tc_i32(t, 5, 1);
            ss_tc_struct_end(t);
            rep = REP_REQUIRED; /* elements are never null */
        }
        ss_tc_elem_struct_begin(t);
        ss_tc_i32(t, 1, c->phys);
        ss_tc_i32(t, 3, rep);
        if (c->type == SS_PQ_STRING_LIST) ss_tc_binary(t, 4, "element", 7);
        else ss_tc_binary(t, 4, c->name, strlen(c->name));
        if (c->phys == PT_BYTE_ARRAY) {
            ss_tc_i32(t, 6, CT_UTF8);
            ss_tc_struct_begin(t, 10);
            ss_tc_struct_begin(t, 1); /* STRING */
            ss_tc_struct_end(t);
            ss_tc_struct_end(t);
        } else if (c->type == SS_PQ_TIMESTAMP_MICROS) {
            ss_tc_i32(t, 6, CT_TIMESTAMP_MICROS);
            ss_tc_struct_begin(t, 10);
            ss_tc_struct_begin(t, 8); /* TIMESTAMP */
            ss_tc_bool(t, 1, 1);      /* isAdjustedToUTC */
            ss_tc_struct_begin(t, 2); /* unit */
            ss_tc_struct_begin(t, 2); /* MICROS */
            ss_tc_struct_end(t);
            ss_tc_struct_end(t);
            ss_tc_struct_end(t);
            ss_tc_struct_end(t);
        }
        ss_tc_struct_end(t);
    }
}

static int write_footer(ss_pq_writer *w) {
    ss_pqbuf m = {0};
    ss_tc t;
    ss_tc_init(&t, &m);
    ss_tc_i32(&t, 1, 1);
    put_schema(&t, w);
    ss_tc_i64(&t, 3, (int64_t)w->st.rows);
    ss_tc_list_begin(&t, 4, SS_TC_STRUCT, w->nrowgroups);
    ss_pqbuf_put(&m, w->rowgroups.p, w->rowgroups.len);
    if (w->nkv) {
        ss_tc_list_begin(&t, 5, SS_TC_STRUCT, w->nkv);
        for (size_t i = 0; i < w->nkv; i++) {
            ss_tc_elem_struct_begin(&t);
            ss_tc_binary(&t, 1, w->kv[i].key, strlen(w->kv[i].key));
            if (w->kv[i].value) ss_tc_binary(&t, 2, w->kv[i].value, strlen(w->kv[i].value));
            ss_tc_struct_end(&t);
        }
    }
    ss_tc_binary(&t, 6, w->created_by, strlen(w->created_by));
    ss_tc_list_begin(&t, 7, SS_TC_STRUCT, w->ncols);
    for (size_t i = 0; i < w->ncols; i++) {
        ss_tc_elem_struct_begin(&t); /* ColumnOrder union */
        ss_tc_struct_begin(&t, 1);   /* TYPE_ORDER: TypeDefinedOrder {} */
        ss_tc_struct_end(&t);
        ss_tc_struct_end(&t);
    }
    ss_pqbuf_byte(&m, 0);
    if (m.oom || m.len > UINT32_MAX) {
        ss_pqbuf_free(&m);
        return oom(w);
    }
    uint32_t len = (uint32_t)m.len;
    ss_pqbuf_u32le(&m, len);
    ss_pqbuf_put(&m, "PAR1", 4);
    int r = m.oom ? oom(w) : write_all(w, m.p, m.len);
    ss_pqbuf_free(&m);
    return r;
}

static void free_writer(ss_pq_writer *w) {
    if (w->fd >= 0) close(w->fd);
    for (size_t i = 0; i < w->ncols; i++) {
        pq_col *c = &w->cols[i];
        free(c->name);
        ss_pqbuf_free(&c->def);
        ss_pqbuf_free(&c->rep);
        ss_pqbuf_free(&c->vals);
        ss_pqbuf_free(&c->pages);
        ss_pqbuf_free(&c->dict);
        ss_pqbuf_free(&c->smin);
        ss_pqbuf_free(&c->smax);
        ss_pqbuf_free(&c->hashes);
        free(c->slots);
    }
    free(w->cols);
    for (size_t i = 0; i < w->nkv; i++) {
        free((char *)w->kv[i].key);
        free((char *)w->kv[i].value);
    }
    free(w->kv);
    free(w->created_by);
    free(w->path);
    ss_pqbuf_free(&w->rowgroups);
    ss_pqbuf_free(&w->body);
    ss_pqbuf_free(&w->cbuf);
    ss_pqbuf_free(&w->fix);
    ss_pqbuf_free(&w->hdr);
    ss_pqbuf_free(&w->bloom);
    free(w);
}

int ss_pq_close(ss_pq_writer *w, ss_pq_stats *stats, char *err, size_t errlen) {
    if (!w) {
        if (err && errlen) snprintf(err, errlen, "no writer");
        return -1;
    }
    if (!w->err) {
        for (size_t i = 0; i < w->ncols; i++)
            if (w->cols[i].set) {
                fail(w, "ss_pq_close: row %llu was started but not ended with ss_pq_end_row",
                     (unsigned long long)w->st.rows);
                break;
            }
    }
    if (!w->err) flush_row_group(w);
    if (!w->err) write_footer(w);
    if (!w->err && w->opt.fsync && fsync(w->fd) != 0) sys_fail(w, errno, "fsync");
    if (w->fd >= 0) {
        int r = close(w->fd);
        w->fd = -1;
        if (r != 0 && !w->err) sys_fail(w, errno, "close");
    }
    w->st.file_bytes = w->offset;
    if (stats) *stats = w->st;
    int rc = w->err ? -1 : 0;
    if (rc && err && errlen) snprintf(err, errlen, "%s", w->errstr);
    int e = w->sys_errno;
    free_writer(w);
    if (rc) errno = e; /* the writer is gone: its sys_errno survives in errno (parquet.h) */
    return rc;
}

void ss_pq_abort(ss_pq_writer *w) {
    if (w) free_writer(w);
}
