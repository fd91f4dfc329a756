/* DAG-CBOR records to JSON, byte for byte as Jetstream prints them.
 *
 * Jetstream decodes a record with indigo's atproto/data package into Go maps and prints it
 * with goccy/go-json's Marshal, so the output rules are Go's:
 *   - object keys sorted bytewise (Go sorts map keys), whatever order the CBOR had;
 *   - strings escaped like encoding/json: \" \\ \n \r \t; other control characters and
 *     < > & as \u00XX (lower-case hex); U+2028 and U+2029 as \u2028 / \u2029; everything
 *     else raw UTF-8. Invalid UTF-8 is rejected (Go would print U+FFFD);
 *   - CID links as {"$link":"bafy..."}; bytes as {"$bytes":"<base64, std, no padding>"};
 *   - blobs ({"$type":"blob"} with exactly ref/mimeType/size) in the fixed order
 *     $type, ref, mimeType, size (a Go struct), or legacy {cid, mimeType} for size < 0;
 *   - records indigo refuses are refused too: top level not a map, $type empty or not a
 *     string, $link/$bytes maps with other keys, malformed blobs, arrays mixing types,
 *     floats (the data model has none), tags other than 42, nesting over 32.
 *
 * A map is read twice: once to collect its keys and skip its values (which validates the
 * structure), then each value is printed in sorted key order. Keys live in a scratch stack
 * shared by all nesting levels, so a record costs no allocation once the stack has grown. */
#include "source/firehose/fh_internal.h"

#include <stdlib.h>
#include <string.h>

static const char hexd[] = "0123456789abcdef";

/* 1 for bytes that are not copied verbatim: controls, " \ < > & and every non-ASCII byte. */
static const uint8_t special[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    ['"'] = 1, ['\\'] = 1, ['<'] = 1, ['>'] = 1, ['&'] = 1,
    [0x80] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
};

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0 when invalid. */
static size_t utf8_seq(const uint8_t *s, size_t n, uint32_t *cp) {
    uint8_t c = s[0];
    size_t len;
    uint32_t v, min;
    if (c >= 0xc2 && c <= 0xdf) len = 2, v = c & 0x1f, min = 0x80;
    else if (c >= 0xe0 && c <= 0xef) len = 3, v = c & 0x0f, min = 0x800;
    else if (c >= 0xf0 && c <= 0xf4) len = 4, v = c & 0x07, min = 0x10000;
    else return 0;
    if (n < len) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) return 0;
        v = v << 6 | (s[i] & 0x3f);
    }
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) return 0;
    *cp = v;
    return len;
}

int ss_fh_json_str(ss_buf *b, const char *str, size_t n, int lossy) {
    const uint8_t *s = (const uint8_t *)str;
    /* Worst case 6 output bytes per input byte (a control character as \u00XX). */
    if (n > (SIZE_MAX - 2) / 6 || ss_buf_reserve(b, n * 6 + 2) < 0) return -1;
    char *o = b->data + b->len;
    *o++ = '"';
    size_t i = 0;
    while (i < n) {
        size_t run = i;
        while (i < n && !special[s[i]]) i++;
        memcpy(o, s + run, i - run);
        o += i - run;
        if (i >= n) break;
        uint8_t c = s[i];
        if (c < 0x80) {
            *o++ = '\\';
            switch (c) {
            case '"': *o++ = '"'; break;
            case '\\': *o++ = '\\'; break;
            case '\n': *o++ = 'n'; break;
            case '\r': *o++ = 'r'; break;
            case '\t': *o++ = 't'; break;
            default: *o++ = 'u', *o++ = '0', *o++ = '0', *o++ = hexd[c >> 4], *o++ = hexd[c & 15];
            }
            i++;
            continue;
        }
        uint32_t cp;
        size_t k = utf8_seq(s + i, n - i, &cp);
        if (!k) {
            if (!lossy) return SS_FH_BAD_UTF8;
            memcpy(o, "\\ufffd", 6);
            o += 6;
            i++;
            continue;
        }
        if (cp == 0x2028 || cp == 0x2029) {
            memcpy(o, cp == 0x2028 ? "\\u2028" : "\\u2029", 6);
            o += 6;
        } else {
            memcpy(o, s + i, k);
            o += k;
        }
        i += k;
    }
    *o++ = '"';
    b->len = (size_t)(o - b->data);
    b->data[b->len] = '\0';
    return 0;
}

int ss_fh_json_i64(ss_buf *b, int64_t v) {
    char tmp[24], *e = tmp + sizeof tmp, *p = e;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do *--p = (char)('0' + u % 10);
    while (u /= 10);
    if (v < 0) *--p = '-';
    return ss_buf_append(b, p, (size_t)(e - p));
}

int ss_fh_base64_raw(ss_buf *b, const uint8_t *p, size_t n) {
    static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    if (ss_buf_reserve(b, (n + 2) / 3 * 4) < 0) return -1;
    char *o = b->data + b->len;
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        *o++ = a[v >> 18], *o++ = a[(v >> 12) & 63], *o++ = a[(v >> 6) & 63], *o++ = a[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)p[i] << 16;
        *o++ = a[v >> 18], *o++ = a[(v >> 12) & 63];
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
        *o++ = a[v >> 18], *o++ = a[(v >> 12) & 63], *o++ = a[(v >> 6) & 63];
    }
    b->len = (size_t)(o - b->data);
    b->data[b->len] = '\0';
    return 0;
}

/* ---- records ----------------------------------------------------------------------- */

enum { K_NULL = 0, K_BOOL, K_INT, K_TEXT, K_BYTES, K_LINK, K_ARRAY, K_MAP };

#define FH_MAX_CONTAINER_LEN (128u * 1024u) /* indigo's MAX_CBOR_CONTAINER_LEN */
#define FH_MAX_KEY_LEN 8192u                /* indigo's MAX_OBJECT_KEY_LEN */

static int oom(ss_fh_rd *r) { return ss_fh_fail(r, SS_FH_OOM, "out of memory"); }

static int put(ss_buf *b, ss_fh_rd *r, const char *s, size_t n) { return ss_buf_append(b, s, n) ? oom(r) : 0; }

static int put_str(ss_buf *b, ss_fh_rd *r, const uint8_t *s, size_t n) {
    int e = ss_fh_json_str(b, (const char *)s, n, 0);
    if (e == SS_FH_BAD_UTF8) return ss_fh_fail(r, SS_FH_BAD_UTF8, "invalid UTF-8 in a string");
    return e ? oom(r) : 0;
}

static int put_link(ss_buf *b, ss_fh_rd *r, const uint8_t *cid, size_t n) {
    if (put(b, r, "{\"$link\":\"", 10)) return r->err;
    if (ss_fh_cid_text(b, cid, n)) return oom(r);
    return put(b, r, "\"}", 2);
}

static int key_cmp(const void *a, const void *b) {
    const ss_fh_entry *x = a, *y = b;
    size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
    int c = memcmp(x->key, y->key, n);
    if (c) return c;
    return (x->key_len > y->key_len) - (x->key_len < y->key_len);
}

static void sort_entries(ss_fh_entry *e, size_t n) {
    if (n > 24) {
        qsort(e, n, sizeof *e, key_cmp);
        return;
    }
    for (size_t i = 1; i < n; i++) { /* insertion sort: records have a handful of keys */
        ss_fh_entry t = e[i];
        size_t j = i;
        while (j > 0 && key_cmp(&e[j - 1], &t) > 0) e[j] = e[j - 1], j--;
        e[j] = t;
    }
}

static int value_json(ss_fh_rd *r, ss_buf *b, ss_fh_scratch *s, int depth, int *kind);

static int key_is(const ss_fh_entry *e, const char *k) {
    size_t n = strlen(k);
    return e->key_len == n && !memcmp(e->key, k, n);
}

/* Looks a key up among the n sorted entries at e. */
static const ss_fh_entry *find_key(const ss_fh_entry *e, size_t n, const char *k) {
    for (size_t i = 0; i < n; i++)
        if (key_is(&e[i], k)) return &e[i];
    return NULL;
}

/* Peeks at the value of an entry: its major type, and its text when it is a string. */
static int peek_text(ss_fh_rd *r, const ss_fh_entry *e, const char **t, size_t *tn) {
    ss_fh_rd v = *r;
    v.p = e->val;
    v.err = 0;
    v.detail = NULL;
    return ss_fh_text(&v, t, tn) ? -1 : 0;
}

/* {"$type":"blob","ref":{"$link":...},"mimeType":...,"size":...}: printed in this fixed
 * order, as Go prints its Blob struct; a negative size is a legacy blob {cid, mimeType}. */
static int blob_json(ss_fh_rd *r, ss_buf *b, const ss_fh_entry *e, size_t n) {
    const ss_fh_entry *ref = find_key(e, n, "ref"), *mt = find_key(e, n, "mimeType"), *sz = find_key(e, n, "size");
    if (n != 4 || !ref || !mt || !sz) return ss_fh_fail(r, SS_FH_BAD_RECORD, "blob without exactly $type, ref, mimeType and size");
    const uint8_t *cid;
    size_t cl;
    const char *mime;
    size_t mn;
    int64_t size;
    ss_fh_rd v = *r;
    v.p = ref->val;
    if (ss_fh_link(&v, &cid, &cl)) return ss_fh_fail(r, v.err == SS_FH_CBOR_TYPE ? SS_FH_BAD_RECORD : v.err, "blob ref is not a CID link");
    v.p = mt->val;
    if (ss_fh_text(&v, &mime, &mn)) return ss_fh_fail(r, SS_FH_BAD_RECORD, "blob mimeType is not a string");
    v.p = sz->val;
    if (ss_fh_int(&v, &size)) return ss_fh_fail(r, SS_FH_BAD_RECORD, "blob size is not an integer");
    if (size < 0) {
        if (put(b, r, "{\"cid\":\"", 8) || (ss_fh_cid_text(b, cid, cl) ? oom(r) : 0) || put(b, r, "\",\"mimeType\":", 13) ||
            put_str(b, r, (const uint8_t *)mime, mn) || put(b, r, "}", 1))
            return r->err;
        return 0;
    }
    if (put(b, r, "{\"$type\":\"blob\",\"ref\":", 22) || put_link(b, r, cid, cl) || put(b, r, ",\"mimeType\":", 12) ||
        put_str(b, r, (const uint8_t *)mime, mn) || put(b, r, ",\"size\":", 8) || (ss_fh_json_i64(b, size) ? oom(r) : 0) ||
        put(b, r, "}", 1))
        return r->err;
    return 0;
}

static int map_json(ss_fh_rd *r, ss_buf *b, ss_fh_scratch *s, int depth, uint64_t n) {
    if (n > FH_MAX_CONTAINER_LEN) return ss_fh_fail(r, SS_FH_LIMIT, "object with %llu fields", (unsigned long long)n);
    size_t base = s->n;
    if (s->cap - s->n < n) {
        size_t cap = s->cap ? s->cap : 64;
        while (cap - s->n < n) cap *= 2;
        ss_fh_entry *v = realloc(s->v, cap * sizeof *v);
        if (!v) return oom(r);
        s->v = v, s->cap = cap;
    }
    for (uint64_t i = 0; i < n; i++) {
        const char *k;
        size_t kn;
        if (ss_fh_text(r, &k, &kn)) return r->err;
        if (kn > FH_MAX_KEY_LEN) return ss_fh_fail(r, SS_FH_LIMIT, "object key of %zu bytes", kn);
        ss_fh_entry *e = &s->v[s->n++];
        e->key = (const uint8_t *)k, e->key_len = (uint32_t)kn, e->val = r->p;
        if (ss_fh_skip(r, depth - 1)) return r->err;
    }
    const uint8_t *after = r->p;
    ss_fh_entry *e = s->v + base;
    sort_entries(e, (size_t)n);
    for (size_t i = 1; i < n; i++)
        if (key_cmp(&e[i - 1], &e[i]) == 0) return ss_fh_fail(r, SS_FH_CBOR_DUP_KEY, "duplicate map key");
    const char *t;
    size_t tn;
    const ss_fh_entry *special_key;
    if ((special_key = find_key(e, (size_t)n, "$link")) || (special_key = find_key(e, (size_t)n, "$bytes"))) {
        if (n != 1 || peek_text(r, special_key, &t, &tn)) return ss_fh_fail(r, SS_FH_BAD_RECORD, "$link/$bytes object must have one string field");
    }
    if ((special_key = find_key(e, (size_t)n, "$type"))) {
        if (peek_text(r, special_key, &t, &tn) || tn == 0) return ss_fh_fail(r, SS_FH_BAD_RECORD, "$type must be a non-empty string");
        if (tn == 4 && !memcmp(t, "blob", 4)) {
            int rc = blob_json(r, b, e, (size_t)n);
            s->n = base;
            r->p = after;
            return rc;
        }
    }
    if (put(b, r, "{", 1)) return r->err;
    for (size_t i = 0; i < n; i++) {
        e = s->v + base + i; /* s->v may move while values are printed */
        const uint8_t *val = e->val;
        if ((i && put(b, r, ",", 1)) || put_str(b, r, e->key, e->key_len) || put(b, r, ":", 1)) return r->err;
        r->p = val;
        int kind;
        if (value_json(r, b, s, depth - 1, &kind)) return r->err;
    }
    s->n = base;
    r->p = after;
    return put(b, r, "}", 1);
}

static int value_json(ss_fh_rd *r, ss_buf *b, ss_fh_scratch *s, int depth, int *kind) {
    int m;
    uint64_t a;
    const uint8_t *start = r->p, *p;
    size_t n;
    if (ss_fh_head(r, &m, &a)) return r->err;
    switch (m) {
    case FH_MAJ_UINT:
    case FH_MAJ_NEG:
        if (a > (uint64_t)INT64_MAX) return ss_fh_fail(r, SS_FH_LIMIT, "integer outside the 64-bit signed range");
        *kind = K_INT;
        return ss_fh_json_i64(b, m == FH_MAJ_UINT ? (int64_t)a : -1 - (int64_t)a) ? oom(r) : 0;
    case FH_MAJ_SIMPLE:
        *kind = a == FH_SIMPLE_NULL ? K_NULL : K_BOOL;
        return a == FH_SIMPLE_NULL ? put(b, r, "null", 4) : a == FH_SIMPLE_TRUE ? put(b, r, "true", 4) : put(b, r, "false", 5);
    case FH_MAJ_TEXT:
        *kind = K_TEXT;
        r->p = start;
        if (ss_fh_text(r, (const char **)&p, &n)) return r->err;
        return put_str(b, r, p, n);
    case FH_MAJ_BYTES:
        *kind = K_BYTES;
        r->p = start;
        if (ss_fh_bytes(r, &p, &n) || put(b, r, "{\"$bytes\":\"", 11)) return r->err;
        if (ss_fh_base64_raw(b, p, n)) return oom(r);
        return put(b, r, "\"}", 2);
    case FH_MAJ_TAG:
        *kind = K_LINK;
        r->p = start;
        if (ss_fh_link(r, &p, &n)) return r->err;
        return put_link(b, r, p, n);
    case FH_MAJ_ARRAY: {
        *kind = K_ARRAY;
        if (depth <= 0) return ss_fh_fail(r, SS_FH_TOO_DEEP, "nesting deeper than the limit");
        if (a > FH_MAX_CONTAINER_LEN) return ss_fh_fail(r, SS_FH_LIMIT, "array of %llu items", (unsigned long long)a);
        if (a > ss_fh_left(r)) return ss_fh_fail(r, SS_FH_TRUNCATED, "array of %llu items runs past the end", (unsigned long long)a);
        int prev = K_NULL;
        if (put(b, r, "[", 1)) return r->err;
        for (uint64_t i = 0; i < a; i++) {
            int k;
            if ((i && put(b, r, ",", 1)) || value_json(r, b, s, depth - 1, &k)) return r->err;
            if (prev != K_NULL && k != K_NULL && k != prev) return ss_fh_fail(r, SS_FH_BAD_RECORD, "array mixes value types");
            prev = k;
        }
        return put(b, r, "]", 1);
    }
    case FH_MAJ_MAP:
        *kind = K_MAP;
        if (depth <= 0) return ss_fh_fail(r, SS_FH_TOO_DEEP, "nesting deeper than the limit");
        if (a > ss_fh_left(r) / 2) return ss_fh_fail(r, SS_FH_TRUNCATED, "map of %llu entries runs past the end", (unsigned long long)a);
        return map_json(r, b, s, depth, a);
    }
    return ss_fh_fail(r, SS_FH_BAD_CBOR, "unknown major type");
}

int ss_fh_record_json(ss_fh_rd *r, ss_buf *b, ss_fh_scratch *s) {
    if (r->p >= r->end) return ss_fh_fail(r, SS_FH_TRUNCATED, "empty record");
    if ((*r->p >> 5) != FH_MAJ_MAP) return ss_fh_fail(r, SS_FH_BAD_RECORD, "record is not a map");
    int kind;
    s->n = 0;
    if (value_json(r, b, s, s->max_depth, &kind)) return r->err;
    if (r->p != r->end) return ss_fh_fail(r, SS_FH_BAD_CBOR, "bytes after the record");
    return 0;
}
