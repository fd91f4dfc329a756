/* Fuzz target: the JSON scanner (src/util/json.h).
 *
 * Beyond "no crash", every input is checked against properties that must hold:
 *   - differential: a naive recursive RFC 8259 + RFC 3629 checker written here, independent
 *     of the scanner, must agree on accept/reject (a document nested deeper than the limit
 *     must be rejected as too deep);
 *   - ss_json_validate() returns exactly what ss_json_parse() returns;
 *   - token structure: spans inside the input, children inside their parent, `end`
 *     pointers consistent, object members come as string key + value;
 *   - unescaped strings are valid UTF-8 and never longer than their source;
 *   - round trip: the document re-serialized from its tokens (strings re-escaped,
 *     numbers and literals verbatim) parses again into the same token types and the same
 *     unescaped strings, and re-serializing that gives the same bytes;
 *   - numbers: ss_json_int64 succeeds exactly for integers within int64 (checked with
 *     strtoll), ss_json_double succeeds for every number;
 *   - ss_json_obj_getn() finds the first member of each key.
 * Any violation aborts with a message (libFuzzer then saves the input). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/json.h"
#include "util/utf8.h"

#define CHECK(c, ...)                                                  \
    do {                                                               \
        if (!(c)) {                                                    \
            fprintf(stderr, "fuzz_json: invariant failed: %s: ", #c); \
            fprintf(stderr, __VA_ARGS__);                              \
            fprintf(stderr, "\n");                                     \
            abort();                                                   \
        }                                                              \
    } while (0)

#define FUZZ_MAX_DEPTH 24 /* small, so the depth limit is reached often */

/* ---- naive reference -------------------------------------------------------------- */

typedef struct {
    const unsigned char *s;
    size_t n, i;
    int depth, max_depth;
} ref;

static int ref_ws(ref *r) {
    while (r->i < r->n && (r->s[r->i] == ' ' || r->s[r->i] == '\t' || r->s[r->i] == '\n' || r->s[r->i] == '\r')) r->i++;
    return 0;
}
static int ref_lit(ref *r, const char *w) {
    size_t k = strlen(w);
    if (r->n - r->i < k || memcmp(r->s + r->i, w, k)) return -1;
    r->i += k;
    return 0;
}
static int ref_hex4(ref *r, unsigned *out) {
    unsigned v = 0;
    if (r->n - r->i < 4) return -1;
    for (int k = 0; k < 4; k++) {
        unsigned c = r->s[r->i++];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= c - '0';
        else if (c >= 'a' && c <= 'f') v |= c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') v |= c - 'A' + 10;
        else return -1;
    }
    *out = v;
    return 0;
}
/* One UTF-8 sequence per RFC 3629 table 2. */
static int ref_utf8(ref *r) {
    const unsigned char *p = r->s + r->i;
    size_t a = r->n - r->i;
    unsigned c = p[0];
    size_t k;
    unsigned lo = 0x80, hi = 0xbf;
    if (c < 0x80) k = 1;
    else if (c >= 0xc2 && c <= 0xdf) k = 2;
    else if (c == 0xe0) k = 3, lo = 0xa0;
    else if (c >= 0xe1 && c <= 0xec) k = 3;
    else if (c == 0xed) k = 3, hi = 0x9f;
    else if (c >= 0xee && c <= 0xef) k = 3;
    else if (c == 0xf0) k = 4, lo = 0x90;
    else if (c >= 0xf1 && c <= 0xf3) k = 4;
    else if (c == 0xf4) k = 4, hi = 0x8f;
    else return -1;
    if (a < k) return -1;
    for (size_t j = 1; j < k; j++) {
        unsigned lim_lo = j == 1 ? lo : 0x80, lim_hi = j == 1 ? hi : 0xbf;
        if (p[j] < lim_lo || p[j] > lim_hi) return -1;
    }
    r->i += k;
    return 0;
}
static int ref_string(ref *r) {
    r->i++; /* opening quote */
    for (;;) {
        if (r->i >= r->n) return -1;
        unsigned c = r->s[r->i];
        if (c == '"') {
            r->i++;
            return 0;
        }
        if (c < 0x20) return -1;
        if (c != '\\') {
            if (ref_utf8(r)) return -1;
            continue;
        }
        r->i++;
        if (r->i >= r->n) return -1;
        c = r->s[r->i++];
        if (strchr("\"\\/bfnrt", (int)c) && c) continue;
        if (c != 'u') return -1;
        unsigned u;
        if (ref_hex4(r, &u)) return -1;
        if (u >= 0xdc00 && u <= 0xdfff) return -1; /* lone low surrogate */
        if (u >= 0xd800 && u <= 0xdbff) {
            unsigned u2;
            if (r->n - r->i < 2 || r->s[r->i] != '\\' || r->s[r->i + 1] != 'u') return -1;
            r->i += 2;
            if (ref_hex4(r, &u2) || u2 < 0xdc00 || u2 > 0xdfff) return -1;
        }
    }
}
static int ref_digit(ref *r) { return r->i < r->n && r->s[r->i] >= '0' && r->s[r->i] <= '9'; }
static int ref_number(ref *r) {
    if (r->s[r->i] == '-') r->i++;
    if (!ref_digit(r)) return -1;
    if (r->s[r->i] == '0') r->i++;
    else
        while (ref_digit(r)) r->i++;
    if (r->i < r->n && r->s[r->i] == '.') {
        r->i++;
        if (!ref_digit(r)) return -1;
        while (ref_digit(r)) r->i++;
    }
    if (r->i < r->n && (r->s[r->i] == 'e' || r->s[r->i] == 'E')) {
        r->i++;
        if (r->i < r->n && (r->s[r->i] == '+' || r->s[r->i] == '-')) r->i++;
        if (!ref_digit(r)) return -1;
        while (ref_digit(r)) r->i++;
    }
    return 0;
}
static int ref_value(ref *r);
static int ref_container(ref *r, int obj) {
    if (++r->depth > r->max_depth) r->max_depth = r->depth;
    if (r->depth > 200) return -1; /* past any limit we test; keeps recursion shallow */
    r->i++;
    ref_ws(r);
    if (r->i < r->n && r->s[r->i] == (obj ? '}' : ']')) {
        r->i++;
        r->depth--;
        return 0;
    }
    for (;;) {
        if (obj) {
            ref_ws(r);
            if (r->i >= r->n || r->s[r->i] != '"' || ref_string(r)) return -1;
            ref_ws(r);
            if (r->i >= r->n || r->s[r->i] != ':') return -1;
            r->i++;
        }
        if (ref_value(r)) return -1;
        ref_ws(r);
        if (r->i >= r->n) return -1;
        if (r->s[r->i] == ',') {
            r->i++;
            continue;
        }
        if (r->s[r->i] != (obj ? '}' : ']')) return -1;
        r->i++;
        r->depth--;
        return 0;
    }
}
static int ref_value(ref *r) {
    ref_ws(r);
    if (r->i >= r->n) return -1;
    switch (r->s[r->i]) {
    case '{': return ref_container(r, 1);
    case '[': return ref_container(r, 0);
    case '"': return ref_string(r);
    case 't': return ref_lit(r, "true");
    case 'f': return ref_lit(r, "false");
    case 'n': return ref_lit(r, "null");
    default:
        if (r->s[r->i] == '-' || ref_digit(r)) return ref_number(r);
        return -1;
    }
}
/* 0 when s is one JSON document; *depth = deepest nesting reached while scanning. */
static int ref_accepts(const uint8_t *s, size_t n, int *depth) {
    ref r = {s, n, 0, 0, 0};
    int rc = ref_value(&r);
    if (rc == 0) {
        ref_ws(&r);
        rc = r.i == n ? 0 : -1;
    }
    *depth = r.max_depth;
    return rc;
}

/* ---- checks on an accepted document ------------------------------------------------ */

static void append_escaped(ss_buf *b, const char *s, size_t n) {
    ss_buf_putc(b, '"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            ss_buf_putc(b, '\\');
            ss_buf_putc(b, (char)c);
        } else if (c < 0x20) {
            ss_buf_printf(b, "\\u%04x", c);
        } else {
            ss_buf_putc(b, (char)c);
        }
    }
    ss_buf_putc(b, '"');
}

/* Re-serializes the value at token i; returns the index after it. */
static uint32_t reserialize(const ss_json_doc *d, uint32_t i, ss_buf *out) {
    const ss_json_tok *t = &d->toks[i];
    ss_str s;
    switch (t->type) {
    case SS_JSON_STRING:
        CHECK(ss_json_str(d, t, &s) == 0, "string token %u does not unescape", i);
        append_escaped(out, s.p, s.n);
        return i + 1;
    case SS_JSON_ARRAY:
    case SS_JSON_OBJECT: {
        int obj = t->type == SS_JSON_OBJECT;
        ss_buf_putc(out, obj ? '{' : '[');
        uint32_t j = i + 1;
        int first = 1;
        while (j < t->end) {
            if (!first) ss_buf_putc(out, ',');
            first = 0;
            if (obj) {
                CHECK(d->toks[j].type == SS_JSON_STRING, "object member key at %u is a %d", j, d->toks[j].type);
                j = reserialize(d, j, out);
                ss_buf_putc(out, ':');
            }
            j = reserialize(d, j, out);
        }
        CHECK(j == t->end, "children of %u end at %u, not %u", i, j, t->end);
        ss_buf_putc(out, obj ? '}' : ']');
        return t->end;
    }
    default: {
        ss_str raw = ss_json_raw(d, t);
        ss_buf_append(out, raw.p, raw.n);
        return i + 1;
    }
    }
}

static void check_tokens(const ss_json_doc *d, const uint8_t *data, size_t size) {
    CHECK(d->ntoks >= 1, "no tokens for an accepted document");
    CHECK(d->toks[0].end == d->ntoks, "root ends at %u of %zu tokens", d->toks[0].end, d->ntoks);
    for (size_t i = 0; i < d->ntoks; i++) {
        const ss_json_tok *t = &d->toks[i];
        CHECK(t->type >= SS_JSON_NULL && t->type <= SS_JSON_OBJECT, "token %zu type %d", i, t->type);
        CHECK((size_t)t->start + t->len <= size && t->len > 0, "token %zu span %u+%u past %zu", i, t->start, t->len, size);
        CHECK(t->end > i && t->end <= d->ntoks, "token %zu end %u", i, t->end);
        const char *p = (const char *)data + t->start;
        switch (t->type) {
        case SS_JSON_STRING: {
            CHECK(t->len >= 2 && p[0] == '"' && p[t->len - 1] == '"', "string token %zu not quoted", i);
            CHECK(t->end == i + 1, "string token %zu has children", i);
            ss_str s;
            CHECK(ss_json_str(d, t, &s) == 0, "string %zu", i);
            CHECK(s.n <= t->len - 2, "unescaped string %zu grew: %zu > %u", i, s.n, t->len - 2);
            CHECK(ss_utf8_valid(s.p, s.n, NULL), "unescaped string %zu is not UTF-8", i);
            int esc = memchr(p, '\\', t->len) != NULL;
            CHECK(esc == !!(t->flags & SS_JSON_F_ESCAPED), "string %zu escaped flag %d vs %d", i, esc, t->flags);
            break;
        }
        case SS_JSON_NUMBER: {
            CHECK(t->end == i + 1, "number token %zu has children", i);
            int integer = !memchr(p, '.', t->len) && !memchr(p, 'e', t->len) && !memchr(p, 'E', t->len);
            CHECK(integer == !!(t->flags & SS_JSON_F_INTEGER), "number %zu integer flag", i);
            double dv;
            CHECK(ss_json_double(d, t, &dv) == 0, "number %zu has no double value", i);
            char tmp[64];
            int64_t v;
            int rc = ss_json_int64(d, t, &v);
            if (integer && t->len < sizeof tmp) {
                memcpy(tmp, p, t->len);
                tmp[t->len] = 0;
                errno = 0;
                long long ref_v = strtoll(tmp, NULL, 10);
                if (errno == ERANGE) CHECK(rc != 0, "int64 out of range accepted: %s", tmp);
                else CHECK(rc == 0 && v == ref_v, "int64 of %s: rc %d value %lld", tmp, rc, (long long)v);
            } else if (!integer) {
                CHECK(rc != 0, "int64 accepted a non-integer number at %zu", i);
            }
            break;
        }
        case SS_JSON_ARRAY:
        case SS_JSON_OBJECT: {
            char open = t->type == SS_JSON_ARRAY ? '[' : '{', close = t->type == SS_JSON_ARRAY ? ']' : '}';
            CHECK(p[0] == open && p[t->len - 1] == close, "container %zu brackets", i);
            for (uint32_t j = (uint32_t)i + 1; j < t->end; j = d->toks[j].end) {
                const ss_json_tok *c = &d->toks[j];
                CHECK(c->start > t->start && (size_t)c->start + c->len < (size_t)t->start + t->len,
                      "child %u outside container %zu", j, i);
                CHECK(c->end <= t->end, "child %u ends after its parent %zu", j, i);
            }
            if (t->type == SS_JSON_OBJECT) {
                ss_json_iter it = ss_json_iter_of(d, t);
                const ss_json_tok *k, *v;
                size_t members = 0;
                while (ss_json_iter_member(&it, &k, &v)) {
                    members++;
                    CHECK(k->type == SS_JSON_STRING, "key of object %zu is a %d", i, k->type);
                    ss_str ks;
                    CHECK(ss_json_str(d, k, &ks) == 0, "key");
                    /* The first member with this key. */
                    ss_json_iter it2 = ss_json_iter_of(d, t);
                    const ss_json_tok *k2, *v2, *first = NULL;
                    while (!first && ss_json_iter_member(&it2, &k2, &v2))
                        if (ss_json_key_eq(d, k2, ks.p, ks.n)) first = v2;
                    CHECK(first != NULL, "key_eq does not find a key equal to itself in object %zu", i);
                    const ss_json_tok *got = ss_json_obj_getn(d, t, ks.p, ks.n);
                    CHECK(got == first, "obj_getn in object %zu returned token %ld, first is %ld", i,
                          got ? (long)(got - d->toks) : -1L, (long)(first - d->toks));
                }
                CHECK(members == ss_json_count(d, t), "object %zu count", i);
            }
            break;
        }
        default:
            CHECK(t->end == i + 1, "literal %zu has children", i);
            break;
        }
    }
}

static void same_tokens(const ss_json_doc *a, const ss_json_doc *b) {
    CHECK(a->ntoks == b->ntoks, "round trip changed the token count %zu -> %zu", a->ntoks, b->ntoks);
    for (size_t i = 0; i < a->ntoks; i++) {
        const ss_json_tok *x = &a->toks[i], *y = &b->toks[i];
        CHECK(x->type == y->type && x->end == y->end, "round trip changed token %zu", i);
        if (x->type == SS_JSON_STRING) {
            ss_str s1, s2;
            ss_json_str(a, x, &s1);
            ss_json_str(b, y, &s2);
            CHECK(s1.n == s2.n && memcmp(s1.p, s2.p, s1.n) == 0, "round trip changed string %zu", i);
        } else if (x->type == SS_JSON_NUMBER) {
            ss_str r1 = ss_json_raw(a, x), r2 = ss_json_raw(b, y);
            CHECK(r1.n == r2.n && memcmp(r1.p, r2.p, r1.n) == 0, "round trip changed number %zu", i);
        }
    }
}

static ss_json_doc doc, doc2, vdoc;
static ss_buf out1, out2;
static int ready;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!ready) {
        ss_json_limits lim = {0, FUZZ_MAX_DEPTH, 0};
        if (ss_json_doc_init(&doc, &lim) || ss_json_doc_init(&doc2, &lim) || ss_json_doc_init(&vdoc, &lim)) abort();
        ss_buf_init(&out1);
        ss_buf_init(&out2);
        ready = 1;
    }
    const char *s = (const char *)data;
    ss_json_err e = ss_json_parse(&doc, s, size);
    ss_json_err ev = ss_json_validate(&vdoc, s, size);
    CHECK(e == ev, "parse says %s, validate says %s", ss_json_err_name(e), ss_json_err_name(ev));
    CHECK(e != SS_JSON_OK || doc.err == SS_JSON_OK, "doc.err not reset");
    if (e != SS_JSON_OK) CHECK(doc.errstr[0] != 0 && doc.err_off <= size, "error without message or offset %zu", doc.err_off);

    int depth;
    int ref_ok = ref_accepts(data, size, &depth) == 0;
    if (ref_ok && depth <= FUZZ_MAX_DEPTH) {
        CHECK(e == SS_JSON_OK, "reference accepts, scanner says %s (%s)", ss_json_err_name(e), doc.errstr);
    } else if (ref_ok) {
        CHECK(e == SS_JSON_ERR_TOO_DEEP, "depth %d over %d not rejected as too deep: %s", depth, FUZZ_MAX_DEPTH,
              ss_json_err_name(e));
    } else {
        CHECK(e != SS_JSON_OK, "reference rejects, scanner accepts");
    }
    if (e != SS_JSON_OK) return 0;

    check_tokens(&doc, data, size);
    ss_buf_reset(&out1);
    reserialize(&doc, 0, &out1);
    CHECK(ss_json_parse(&doc2, out1.data, out1.len) == SS_JSON_OK, "re-serialized document rejected: %s", doc2.errstr);
    same_tokens(&doc, &doc2);
    ss_buf_reset(&out2);
    reserialize(&doc2, 0, &out2);
    CHECK(out1.len == out2.len && memcmp(out1.data, out2.data, out1.len) == 0, "re-serialization is not stable");
    return 0;
}
