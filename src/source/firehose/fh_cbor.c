/* A strict DAG-CBOR reader over one byte slice.
 *
 * Why our own and not libcbor: DAG-CBOR is a small, strict subset of CBOR (definite
 * lengths, string map keys, tag 42 only, no undefined), and the decoder needs slices into
 * the frame, not callbacks: a record map is read twice (collect and sort its keys, then
 * print its values in key order), which is natural with a cursor and awkward with
 * libcbor's streaming callbacks. Measured against libcbor's cbor_stream_decode in
 * bench/firehose_decode.sh (see docs/design/firehose.md, "Reader: ours, not libcbor").
 *
 * Every length is checked against the bytes left before anything is read, and every
 * nesting level is counted, so no input can make it read out of bounds or recurse
 * without bound. Integers encoded longer than needed are accepted (the bytes are
 * authenticated by their CID; rejecting them would only lose data), everything else
 * DAG-CBOR forbids is refused with a specific reason. */
#include "source/firehose/fh_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void ss_fh_rd_init(ss_fh_rd *r, const uint8_t *p, size_t n, char *detail, size_t detail_cap) {
    r->p = p;
    r->end = p + n;
    r->base = p;
    r->err = 0;
    r->detail = detail;
    r->detail_cap = detail_cap;
}

int ss_fh_fail(ss_fh_rd *r, int reason, const char *fmt, ...) {
    if (r->err) return r->err;
    r->err = reason;
    if (r->detail && r->detail_cap) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(r->detail, r->detail_cap, fmt, ap);
        va_end(ap);
        /* The offset only when the position is inside the input: callers may point the
         * reader at an absent field (NULL) before failing. */
        if (n >= 0 && (size_t)n + 24 < r->detail_cap && r->p && r->base && r->p >= r->base && r->p <= r->end)
            snprintf(r->detail + n, r->detail_cap - (size_t)n, " at byte %zu", (size_t)(r->p - r->base));
    }
    return reason;
}

int ss_fh_head(ss_fh_rd *r, int *major, uint64_t *arg) {
    if (r->p >= r->end) return ss_fh_fail(r, SS_FH_TRUNCATED, "CBOR item missing");
    uint8_t ib = *r->p;
    int maj = ib >> 5, ai = ib & 31;
    if (maj == FH_MAJ_SIMPLE) {
        if (ai == FH_SIMPLE_FALSE || ai == FH_SIMPLE_TRUE || ai == FH_SIMPLE_NULL) {
            r->p++;
            *major = maj;
            *arg = (uint64_t)ai;
            return 0;
        }
        if (ai >= 25 && ai <= 27) return ss_fh_fail(r, SS_FH_CBOR_FLOAT, "float (not in the atproto data model)");
        if (ai == 31) return ss_fh_fail(r, SS_FH_CBOR_INDEFINITE, "break code outside an indefinite item");
        return ss_fh_fail(r, SS_FH_BAD_CBOR, "simple value %d not allowed in DAG-CBOR", ai == 24 ? 24 : ai);
    }
    if (ai < 24) {
        r->p++;
        *major = maj;
        *arg = (uint64_t)ai;
        return 0;
    }
    if (ai == 31) return ss_fh_fail(r, SS_FH_CBOR_INDEFINITE, "indefinite-length item (major type %d)", maj);
    if (ai > 27) return ss_fh_fail(r, SS_FH_BAD_CBOR, "reserved additional info %d", ai);
    size_t w = (size_t)1 << (ai - 24);
    if ((size_t)(r->end - r->p) < 1 + w) return ss_fh_fail(r, SS_FH_TRUNCATED, "CBOR head cut short");
    uint64_t v = 0;
    for (size_t i = 1; i <= w; i++) v = v << 8 | r->p[i];
    r->p += 1 + w;
    *major = maj;
    *arg = v;
    return 0;
}

/* Locals read by ss_fh_head are initialised: gcc -O3 cannot see that every failure path of
 * ss_fh_head returns non-zero (ss_fh_fail returns the reason), and warns (-Wmaybe-uninitialized). */
static int want(ss_fh_rd *r, int expect, uint64_t *arg) {
    int m = 0;
    if (ss_fh_head(r, &m, arg)) return r->err;
    if (m != expect) {
        r->p--; /* point the offset at the item (approximately) */
        return ss_fh_fail(r, SS_FH_CBOR_TYPE, "expected CBOR major type %d, got %d", expect, m);
    }
    return 0;
}

static int take_payload(ss_fh_rd *r, uint64_t len, const uint8_t **p) {
    if (len > ss_fh_left(r)) return ss_fh_fail(r, SS_FH_TRUNCATED, "string of %llu bytes runs past the end", (unsigned long long)len);
    *p = r->p;
    r->p += len;
    return 0;
}

int ss_fh_text(ss_fh_rd *r, const char **s, size_t *n) {
    uint64_t len = 0;
    const uint8_t *p = NULL;
    if (want(r, FH_MAJ_TEXT, &len) || take_payload(r, len, &p)) return r->err;
    *s = (const char *)p;
    *n = (size_t)len;
    return 0;
}

int ss_fh_bytes(ss_fh_rd *r, const uint8_t **b, size_t *n) {
    uint64_t len = 0;
    if (want(r, FH_MAJ_BYTES, &len) || take_payload(r, len, b)) return r->err;
    *n = (size_t)len;
    return 0;
}

int ss_fh_uint(ss_fh_rd *r, uint64_t *v) { return want(r, FH_MAJ_UINT, v); }

int ss_fh_int(ss_fh_rd *r, int64_t *v) {
    int m = 0;
    uint64_t a = 0;
    if (ss_fh_head(r, &m, &a)) return r->err;
    if (m != FH_MAJ_UINT && m != FH_MAJ_NEG) return ss_fh_fail(r, SS_FH_CBOR_TYPE, "expected an integer, got major type %d", m);
    if (a > (uint64_t)INT64_MAX) return ss_fh_fail(r, SS_FH_LIMIT, "integer outside the 64-bit signed range");
    *v = m == FH_MAJ_UINT ? (int64_t)a : -1 - (int64_t)a;
    return 0;
}

int ss_fh_bool(ss_fh_rd *r, int *v) {
    int m = 0;
    uint64_t a = 0;
    if (ss_fh_head(r, &m, &a)) return r->err;
    if (m != FH_MAJ_SIMPLE || a == FH_SIMPLE_NULL) return ss_fh_fail(r, SS_FH_CBOR_TYPE, "expected a boolean");
    *v = a == FH_SIMPLE_TRUE;
    return 0;
}

int ss_fh_map(ss_fh_rd *r, uint64_t *n) {
    if (want(r, FH_MAJ_MAP, n)) return r->err;
    if (*n > ss_fh_left(r) / 2) return ss_fh_fail(r, SS_FH_TRUNCATED, "map of %llu entries runs past the end", (unsigned long long)*n);
    return 0;
}

int ss_fh_array(ss_fh_rd *r, uint64_t *n) {
    if (want(r, FH_MAJ_ARRAY, n)) return r->err;
    if (*n > ss_fh_left(r)) return ss_fh_fail(r, SS_FH_TRUNCATED, "array of %llu items runs past the end", (unsigned long long)*n);
    return 0;
}

int ss_fh_take_null(ss_fh_rd *r) {
    if (r->p < r->end && *r->p == 0xf6) {
        r->p++;
        return 1;
    }
    return 0;
}

int ss_fh_link(ss_fh_rd *r, const uint8_t **cid, size_t *n) {
    uint64_t tag = 0;
    const uint8_t *b = NULL;
    size_t len = 0;
    if (want(r, FH_MAJ_TAG, &tag)) return r->err;
    if (tag != 42) return ss_fh_fail(r, SS_FH_BAD_CBOR, "tag %llu (DAG-CBOR allows only 42)", (unsigned long long)tag);
    if (ss_fh_bytes(r, &b, &len)) return r->err;
    if (len < 2 || b[0] != 0x00) return ss_fh_fail(r, SS_FH_BAD_CID, "CID link without the 0x00 multibase prefix");
    ss_fh_cid c;
    int e = ss_fh_cid_parse(b + 1, len - 1, &c);
    if (e) return ss_fh_fail(r, e, "malformed CID link");
    if (c.len != len - 1) return ss_fh_fail(r, SS_FH_BAD_CID, "bytes after the CID in a link");
    *cid = b + 1;
    *n = len - 1;
    return 0;
}

int ss_fh_skip(ss_fh_rd *r, int depth) {
    int m = 0;
    uint64_t a = 0;
    const uint8_t *p, *start = r->p;
    if (ss_fh_head(r, &m, &a)) return r->err;
    switch (m) {
    case FH_MAJ_UINT:
    case FH_MAJ_NEG:
    case FH_MAJ_SIMPLE: return 0;
    case FH_MAJ_BYTES:
    case FH_MAJ_TEXT: return take_payload(r, a, &p);
    case FH_MAJ_TAG:
        if (a != 42) return ss_fh_fail(r, SS_FH_BAD_CBOR, "tag %llu (DAG-CBOR allows only 42)", (unsigned long long)a);
        r->p = start; /* re-read as a link, which validates the CID */
        {
            size_t n;
            return ss_fh_link(r, &p, &n);
        }
    case FH_MAJ_ARRAY:
    case FH_MAJ_MAP:
        if (depth <= 0) return ss_fh_fail(r, SS_FH_TOO_DEEP, "nesting deeper than the limit");
        if (m == FH_MAJ_MAP ? a > ss_fh_left(r) / 2 : a > ss_fh_left(r))
            return ss_fh_fail(r, SS_FH_TRUNCATED, "container of %llu items runs past the end", (unsigned long long)a);
        for (uint64_t i = 0; i < a; i++) {
            if (m == FH_MAJ_MAP) {
                const char *k;
                size_t kn;
                if (ss_fh_text(r, &k, &kn)) return r->err;
            }
            if (ss_fh_skip(r, depth - 1)) return r->err;
        }
        return 0;
    }
    return ss_fh_fail(r, SS_FH_BAD_CBOR, "unknown major type");
}
