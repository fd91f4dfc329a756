/* See json.h for the design. The tokenizer is one loop with gotos over a small state
 * machine (value / after-value / key / close), an explicit stack of open containers (so
 * depth is bounded by a limit, not by the C stack), and a string scanner that looks at
 * sixteen bytes at a time (SSE2; eight with portable SWAR elsewhere) for the only bytes
 * that need attention inside a string: the closing quote, a backslash, a control
 * character, or a non-ASCII byte (validated as UTF-8 on the spot). The same loop serves
 * ss_json_validate (tokens counted, not stored); the compiler specializes it for both
 * through an always-inline constant flag. */
#include "util/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/str.h"
#include "util/utf8.h"

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define SS_JSON_LE 1
#else
#define SS_JSON_LE 0
#endif

static ss_json_err fail(ss_json_doc *d, ss_json_err e, size_t off, const char *msg) {
    d->err = e;
    d->err_off = off;
    d->ntoks = 0;
    snprintf(d->errstr, sizeof d->errstr, "offset %zu: %s", off, msg);
    return e;
}

int ss_json_doc_init(ss_json_doc *d, const ss_json_limits *limits) {
    memset(d, 0, sizeof *d);
    d->lim.max_bytes = SS_JSON_DEFAULT_MAX_BYTES;
    d->lim.max_depth = SS_JSON_DEFAULT_MAX_DEPTH;
    d->lim.max_tokens = SS_JSON_DEFAULT_MAX_TOKENS;
    if (limits) {
        if (limits->max_bytes) d->lim.max_bytes = limits->max_bytes;
        if (limits->max_depth > 0) d->lim.max_depth = limits->max_depth;
        if (limits->max_tokens) d->lim.max_tokens = limits->max_tokens;
    }
    /* Offsets are 32-bit and the stack packs an index with a flag bit. */
    if (d->lim.max_bytes > UINT32_MAX - 2) d->lim.max_bytes = UINT32_MAX - 2;
    if (d->lim.max_tokens > (UINT32_MAX >> 1) - 1) d->lim.max_tokens = (UINT32_MAX >> 1) - 1;
    if (d->lim.max_depth > (1 << 24)) d->lim.max_depth = 1 << 24;
    d->stack = malloc(sizeof *d->stack * (size_t)d->lim.max_depth);
    d->tokcap = 256;
    d->toks = malloc(sizeof *d->toks * d->tokcap);
    if (!d->stack || !d->toks) {
        ss_json_doc_free(d);
        return -1;
    }
    return 0;
}

void ss_json_doc_free(ss_json_doc *d) {
    free(d->stack);
    free(d->toks);
    free(d->arena);
    d->stack = NULL;
    d->toks = NULL;
    d->arena = NULL;
    d->tokcap = d->ntoks = d->arenacap = 0;
}

static int grow_toks(ss_json_doc *d) {
    size_t cap = d->tokcap * 2;
    if (cap > d->lim.max_tokens) cap = d->lim.max_tokens;
    ss_json_tok *t = realloc(d->toks, sizeof *t * cap);
    if (!t) return -1;
    d->toks = t;
    d->tokcap = cap;
    return 0;
}

static int ensure_arena(ss_json_doc *d, size_t need) {
    if (need <= d->arenacap) return 0;
    size_t cap = d->arenacap ? d->arenacap : 4096;
    while (cap < need) cap *= 2;
    char *a = realloc(d->arena, cap);
    if (!a) return -1;
    d->arena = a;
    d->arenacap = cap;
    return 0;
}

static inline const char *skip_ws(const char *p, const char *e) {
    while (p < e && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) p++;
    return p;
}

/* Four hex digits at p (which has at least 4 bytes) as a code unit, or -1. */
static inline int hex4(const char *p) {
    int a = ss_hex_val((unsigned char)p[0]), b = ss_hex_val((unsigned char)p[1]);
    int c = ss_hex_val((unsigned char)p[2]), e = ss_hex_val((unsigned char)p[3]);
    if ((a | b | c | e) < 0) return -1;
    return a << 12 | b << 8 | c << 4 | e;
}

/* 1 when p (a \u escape with 4 valid hex digits before e) starts a high + low surrogate pair. */
static inline int surrogate_pair_at(const char *p, const char *e) {
    int hi = hex4(p + 2), lo = e - p >= 12 && p[6] == '\\' && p[7] == 'u' ? hex4(p + 8) : -1;
    return hi >= 0xD800 && hi <= 0xDBFF && lo >= 0xDC00 && lo <= 0xDFFF;
}

/* Bytes of a word that need a closer look inside a string: '"', '\\', < 0x20, >= 0x80.
 * The lowest set bit marks the first such byte exactly (borrows only run upward). */
static inline uint64_t special_bytes(uint64_t w) {
    uint64_t q = w ^ (ONES * '"');
    uint64_t b = w ^ (ONES * '\\');
    uint64_t zq = (q - ONES) & ~q;
    uint64_t zb = (b - ONES) & ~b;
    uint64_t lt = (w - ONES * 0x20) & ~w;
    return (zq | zb | lt | w) & HIGHS;
}

/* Scans a string body from p (just after the opening quote). Returns the closing quote,
 * or NULL with the error set. */
static const char *scan_string(ss_json_doc *d, const char *buf, const char *p, const char *e,
                               uint8_t *flags) {
    for (;;) {
#ifdef __SSE2__
        /* 16 bytes at a time: '"' or '\\', or (signed) < 0x20, which also catches >= 0x80. */
        {
            const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\');
            const __m128i space = _mm_set1_epi8(0x20);
            while (e - p >= 16) {
                __m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
                __m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, quote), _mm_cmpeq_epi8(x, bslash)),
                                         _mm_cmplt_epi8(x, space));
                unsigned mask = (unsigned)_mm_movemask_epi8(m);
                if (!mask) {
                    p += 16;
                    continue;
                }
                p += __builtin_ctz(mask);
                goto slow;
            }
        }
#endif
        while (e - p >= 8) {
            uint64_t w;
            memcpy(&w, p, 8);
            uint64_t s = special_bytes(w);
            if (!s) {
                p += 8;
                continue;
            }
#if SS_JSON_LE
            p += __builtin_ctzll(s) >> 3;
#endif
            break;
        }
#ifdef __SSE2__
    slow:
#endif
        if (p >= e) {
            fail(d, SS_JSON_ERR_TRUNCATED, (size_t)(p - buf), "unterminated string");
            return NULL;
        }
        unsigned char c = (unsigned char)*p;
        if (c == '"') return p;
        if (c >= 0x20 && c < 0x80 && c != '\\') {
            p++;
            continue;
        }
        if (c >= 0x80) {
            size_t k = ss_utf8_seq_len((const unsigned char *)p, (size_t)(e - p));
            if (!k && d->lenient_text) k = 1;
            if (!k) {
                /* A multi-byte sequence cut off by the end of input is truncation. */
                size_t want = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
                if (c >= 0xC2 && c < 0xF5 && (size_t)(e - p) < want) {
                    int prefix_ok = 1;
                    for (const char *r = p + 1; r < e; r++)
                        if (((unsigned char)*r & 0xC0) != 0x80) prefix_ok = 0;
                    if (prefix_ok) {
                        fail(d, SS_JSON_ERR_TRUNCATED, (size_t)(e - buf), "unterminated string");
                        return NULL;
                    }
                }
                fail(d, SS_JSON_ERR_UTF8, (size_t)(p - buf), "invalid UTF-8 in string");
                return NULL;
            }
            p += k;
            continue;
        }
        if (c < 0x20) {
            fail(d, SS_JSON_ERR_SYNTAX, (size_t)(p - buf), "control character in string");
            return NULL;
        }
        /* backslash */
        *flags |= SS_JSON_F_ESCAPED;
        if (e - p < 2) {
            fail(d, SS_JSON_ERR_TRUNCATED, (size_t)(e - buf), "unterminated escape");
            return NULL;
        }
        switch (p[1]) {
        case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
            p += 2;
            continue;
        case 'u':
            break;
        default:
            fail(d, SS_JSON_ERR_SYNTAX, (size_t)(p - buf), "invalid escape");
            return NULL;
        }
        if (e - p < 6) {
            fail(d, SS_JSON_ERR_TRUNCATED, (size_t)(e - buf), "unterminated \\u escape");
            return NULL;
        }
        int cu = hex4(p + 2);
        if (cu < 0) {
            fail(d, SS_JSON_ERR_SYNTAX, (size_t)(p - buf), "invalid \\u escape");
            return NULL;
        }
        if (cu >= 0xD800 && cu <= 0xDFFF && d->lenient_text && !surrogate_pair_at(p, e)) {
            p += 6; /* a lone surrogate, unescaped as U+FFFD */
            continue;
        }
        if (cu >= 0xDC00 && cu <= 0xDFFF) {
            fail(d, SS_JSON_ERR_SURROGATE, (size_t)(p - buf), "lone low surrogate escape");
            return NULL;
        }
        if (cu >= 0xD800 && cu <= 0xDBFF) {
            if (e - p < 12) {
                /* Only truncation if what is there could still become a pair. */
                const char *r = p + 6;
                if ((r >= e || *r == '\\') && (r + 1 >= e || r[1] == 'u')) {
                    fail(d, SS_JSON_ERR_TRUNCATED, (size_t)(e - buf), "unterminated \\u escape");
                    return NULL;
                }
                fail(d, SS_JSON_ERR_SURROGATE, (size_t)(p - buf), "lone high surrogate escape");
                return NULL;
            }
            int lo = (p[6] == '\\' && p[7] == 'u') ? hex4(p + 8) : -1;
            if (lo < 0xDC00 || lo > 0xDFFF) {
                if (p[6] == '\\' && p[7] == 'u' && lo < 0) {
                    fail(d, SS_JSON_ERR_SYNTAX, (size_t)(p + 6 - buf), "invalid \\u escape");
                    return NULL;
                }
                fail(d, SS_JSON_ERR_SURROGATE, (size_t)(p - buf), "lone high surrogate escape");
                return NULL;
            }
            p += 12;
            continue;
        }
        p += 6;
    }
}

static const char *scan_number(ss_json_doc *d, const char *buf, const char *p, const char *e,
                               uint8_t *flags) {
    *flags = SS_JSON_F_INTEGER;
    if (*p == '-') {
        p++;
        if (p >= e) {
            fail(d, SS_JSON_ERR_TRUNCATED, (size_t)(p - buf), "unterminated number");
            return NULL;
        }
    }
    if (*p == '0') {
        p++;
        if (p < e && *p >= '0' && *p <= '9') {
            fail(d, SS_JSON_ERR_SYNTAX, (size_t)(p - buf), "leading zero in number");
            return NULL;
        }
    } else if (*p >= '1' && *p <= '9') {
        p++;
        while (p < e && *p >= '0' && *p <= '9') p++;
    } else {
        fail(d, SS_JSON_ERR_SYNTAX, (size_t)(p - buf), "invalid number");
        return NULL;
    }
    if (p < e && *p == '.') {
        *flags = 0;
        p++;
        if (p >= e) {
            fail(d, SS_JSON_ERR_TRUNCATED, (size_t)(p - buf), "unterminated number");
            return NULL;
        }
        if (!(*p >= '0' && *p <= '9')) {
            fail(d, SS_JSON_ERR_SYNTAX, (size_t)(p - buf), "digit expected after '.'");
            return NULL;
        }
        while (p < e && *p >= '0' && *p <= '9') p++;
    }
    if (p < e && (*p == 'e' || *p == 'E')) {
        *flags = 0;
        p++;
        if (p < e && (*p == '+' || *p == '-')) p++;
        if (p >= e) {
            fail(d, SS_JSON_ERR_TRUNCATED, (size_t)(p - buf), "unterminated number");
            return NULL;
        }
        if (!(*p >= '0' && *p <= '9')) {
            fail(d, SS_JSON_ERR_SYNTAX, (size_t)(p - buf), "digit expected in exponent");
            return NULL;
        }
        while (p < e && *p >= '0' && *p <= '9') p++;
    }
    return p;
}

/* Matches the literal lit (len n) at p; truncation when the input ends inside it. */
static const char *scan_literal(ss_json_doc *d, const char *buf, const char *p, const char *e,
                                const char *lit, size_t n) {
    size_t avail = (size_t)(e - p);
    if (avail >= n && memcmp(p, lit, n) == 0) return p + n;
    if (avail < n && memcmp(p, lit, avail) == 0)
        fail(d, SS_JSON_ERR_TRUNCATED, (size_t)(e - buf), "unterminated literal");
    else
        fail(d, SS_JSON_ERR_SYNTAX, (size_t)(p - buf), "invalid literal");
    return NULL;
}

/* Fills a leaf token (string, literal, number) spanning [p, q); ntok is the next index. */
static inline __attribute__((always_inline)) void put_leaf(ss_json_tok *t, int type, uint8_t flags, const char *buf,
                                                            const char *p, const char *q, size_t ntok) {
    t->type = (uint8_t)type;
    t->flags = flags;
    t->_pad = 0;
    t->start = (uint32_t)(p - buf);
    t->len = (uint32_t)(q - p);
    t->end = (uint32_t)ntok;
}

#define FAIL(code, at, msg) return fail(d, code, (size_t)((at) - buf), msg)
#define NEED_MORE(at)                                                               \
    do {                                                                            \
        if ((at) >= e) FAIL(SS_JSON_ERR_TRUNCATED, e, "unexpected end of input"); \
    } while (0)

static inline __attribute__((always_inline)) ss_json_err parse_doc(ss_json_doc *d, const char *buf,
                                                                    size_t len, const int store) {
    const char *p = buf, *e = buf + len;
    size_t depth = 0, ntok = 0, idx;
    const size_t maxdepth = (size_t)d->lim.max_depth, maxtok = d->lim.max_tokens;
    uint32_t *stack = d->stack;
    uint8_t fl;
    const char *q;
    unsigned char c;

    d->buf = buf;
    d->len = len;
    d->ntoks = 0;
    d->err = SS_JSON_OK;
    d->err_off = 0;
    d->errstr[0] = '\0';
    if (len > d->lim.max_bytes) return fail(d, SS_JSON_ERR_TOO_LARGE, d->lim.max_bytes, "document over the size limit");

value:
    p = skip_ws(p, e);
    if (p >= e) {
        if (ntok == 0) FAIL(SS_JSON_ERR_SYNTAX, p, "empty document");
        FAIL(SS_JSON_ERR_TRUNCATED, p, "unexpected end of input");
    }
    if (ntok >= maxtok) FAIL(SS_JSON_ERR_TOO_MANY, p, "too many values in document");
    if (store && ntok >= d->tokcap && grow_toks(d) < 0) FAIL(SS_JSON_ERR_OOM, p, "out of memory");
    idx = ntok++;
    c = (unsigned char)*p;
    switch (c) {
    case '{':
    case '[':
        if (depth >= maxdepth) FAIL(SS_JSON_ERR_TOO_DEEP, p, "nesting over the depth limit");
        if (store) {
            ss_json_tok *t = &d->toks[idx];
            t->type = c == '{' ? SS_JSON_OBJECT : SS_JSON_ARRAY;
            t->flags = 0;
            t->_pad = 0;
            t->start = (uint32_t)(p - buf);
        }
        stack[depth++] = (uint32_t)(idx << 1) | (c == '{');
        p = skip_ws(p + 1, e);
        NEED_MORE(p);
        if (c == '{') {
            if (*p == '}') goto close;
            goto key;
        }
        if (*p == ']') goto close;
        goto value;
    case '"':
        fl = 0;
        q = scan_string(d, buf, p + 1, e, &fl);
        if (!q) return d->err;
        q++;
        if (store) put_leaf(&d->toks[idx], SS_JSON_STRING, fl, buf, p, q, ntok);
        p = q;
        break;
    case 't':
    case 'f':
    case 'n':
        if (c == 't') q = scan_literal(d, buf, p, e, "true", 4);
        else if (c == 'f') q = scan_literal(d, buf, p, e, "false", 5);
        else q = scan_literal(d, buf, p, e, "null", 4);
        if (!q) return d->err;
        if (store)
            put_leaf(&d->toks[idx], c == 't' ? SS_JSON_TRUE : c == 'f' ? SS_JSON_FALSE : SS_JSON_NULL, 0, buf, p, q, ntok);
        p = q;
        break;
    default:
        if (c != '-' && !(c >= '0' && c <= '9')) FAIL(SS_JSON_ERR_SYNTAX, p, "unexpected character");
        q = scan_number(d, buf, p, e, &fl);
        if (!q) return d->err;
        if (store) put_leaf(&d->toks[idx], SS_JSON_NUMBER, fl, buf, p, q, ntok);
        p = q;
        break;
    }

after:
    p = skip_ws(p, e);
    if (depth == 0) {
        if (p != e) FAIL(SS_JSON_ERR_SYNTAX, p, "trailing bytes after the document");
        if (store) {
            if (ensure_arena(d, len + 1) < 0) FAIL(SS_JSON_ERR_OOM, buf, "out of memory");
            d->ntoks = ntok;
        }
        return SS_JSON_OK;
    }
    NEED_MORE(p);
    if (stack[depth - 1] & 1) {
        if (*p == ',') {
            p = skip_ws(p + 1, e);
            NEED_MORE(p);
            goto key;
        }
        if (*p == '}') goto close;
        FAIL(SS_JSON_ERR_SYNTAX, p, "expected ',' or '}' in object");
    }
    if (*p == ',') {
        p++;
        goto value;
    }
    if (*p == ']') goto close;
    FAIL(SS_JSON_ERR_SYNTAX, p, "expected ',' or ']' in array");

key:
    if (*p != '"') FAIL(SS_JSON_ERR_SYNTAX, p, "expected a string key");
    if (ntok >= maxtok) FAIL(SS_JSON_ERR_TOO_MANY, p, "too many values in document");
    if (store && ntok >= d->tokcap && grow_toks(d) < 0) FAIL(SS_JSON_ERR_OOM, p, "out of memory");
    idx = ntok++;
    fl = 0;
    q = scan_string(d, buf, p + 1, e, &fl);
    if (!q) return d->err;
    q++;
    if (store) put_leaf(&d->toks[idx], SS_JSON_STRING, fl, buf, p, q, ntok);
    p = skip_ws(q, e);
    NEED_MORE(p);
    if (*p != ':') FAIL(SS_JSON_ERR_SYNTAX, p, "expected ':' after key");
    p++;
    goto value;

close:
    depth--;
    if (store) {
        ss_json_tok *t = &d->toks[stack[depth] >> 1];
        t->end = (uint32_t)ntok;
        t->len = (uint32_t)(p + 1 - (buf + t->start));
    }
    p++;
    goto after;
}

ss_json_err ss_json_parse(ss_json_doc *d, const char *buf, size_t len) {
    return parse_doc(d, buf, len, 1);
}

ss_json_err ss_json_validate(ss_json_doc *d, const char *buf, size_t len) {
    return parse_doc(d, buf, len, 0);
}

const char *ss_json_err_name(ss_json_err e) {
    switch (e) {
    case SS_JSON_OK: return "ok";
    case SS_JSON_ERR_SYNTAX: return "syntax";
    case SS_JSON_ERR_TRUNCATED: return "truncated";
    case SS_JSON_ERR_UTF8: return "utf8";
    case SS_JSON_ERR_SURROGATE: return "surrogate";
    case SS_JSON_ERR_TOO_LARGE: return "too_large";
    case SS_JSON_ERR_TOO_DEEP: return "too_deep";
    case SS_JSON_ERR_TOO_MANY: return "too_many";
    case SS_JSON_ERR_OOM: return "oom";
    }
    return "unknown";
}

const char *ss_json_type_name(ss_json_type t) {
    static const char *names[] = {"?", "null", "false", "true", "number", "string", "array", "object"};
    return (unsigned)t < sizeof names / sizeof *names ? names[t] : "?";
}

/* ---- navigation ------------------------------------------------------------------- */

size_t ss_json_count(const ss_json_doc *d, const ss_json_tok *t) {
    ss_json_iter it = ss_json_iter_of(d, t);
    size_t n = 0;
    if (t && t->type == SS_JSON_OBJECT) {
        const ss_json_tok *k, *v;
        while (ss_json_iter_member(&it, &k, &v)) n++;
    } else {
        while (ss_json_iter_next(&it)) n++;
    }
    return n;
}

const ss_json_tok *ss_json_arr_at(const ss_json_doc *d, const ss_json_tok *arr, size_t i) {
    if (!arr || arr->type != SS_JSON_ARRAY) return NULL;
    ss_json_iter it = ss_json_iter_of(d, arr);
    const ss_json_tok *el;
    while ((el = ss_json_iter_next(&it)))
        if (i-- == 0) return el;
    return NULL;
}

int ss_json_key_eq(const ss_json_doc *d, const ss_json_tok *k, const char *s, size_t n) {
    if (!(k->flags & SS_JSON_F_ESCAPED))
        return k->len - 2 == n && memcmp(d->buf + k->start + 1, s, n) == 0;
    ss_str v = {NULL, 0};
    ss_json_str(d, k, &v);
    return v.n == n && memcmp(v.p, s, n) == 0;
}

int ss_json_str_eq(const ss_json_doc *d, const ss_json_tok *t, const char *s, size_t n) {
    return t && t->type == SS_JSON_STRING && ss_json_key_eq(d, t, s, n);
}

const ss_json_tok *ss_json_obj_getn(const ss_json_doc *d, const ss_json_tok *obj, const char *key,
                                    size_t keylen) {
    if (!obj || obj->type != SS_JSON_OBJECT) return NULL;
    ss_json_iter it = ss_json_iter_of(d, obj);
    const ss_json_tok *k, *v;
    while (ss_json_iter_member(&it, &k, &v))
        if (ss_json_key_eq(d, k, key, keylen)) return v;
    return NULL;
}

const ss_json_tok *ss_json_obj_get(const ss_json_doc *d, const ss_json_tok *obj, const char *key) {
    return ss_json_obj_getn(d, obj, key, strlen(key));
}

const ss_json_tok *ss_json_path(const ss_json_doc *d, const ss_json_tok *t, const char *path) {
    const char *s = path;
    while (t) {
        const char *dot = strchr(s, '.');
        size_t n = dot ? (size_t)(dot - s) : strlen(s);
        if (t->type == SS_JSON_OBJECT) {
            t = ss_json_obj_getn(d, t, s, n);
        } else if (t->type == SS_JSON_ARRAY && n > 0 && n < 10) {
            size_t i = 0;
            for (size_t j = 0; j < n; j++) {
                if (s[j] < '0' || s[j] > '9') return NULL;
                i = i * 10 + (size_t)(s[j] - '0');
            }
            t = ss_json_arr_at(d, t, i);
        } else {
            return NULL;
        }
        if (!dot) return t;
        s = dot + 1;
    }
    return NULL;
}

int ss_json_path_str(const ss_json_doc *d, const ss_json_tok *t, const char *path, ss_str *out) {
    return ss_json_str(d, ss_json_path(d, t, path), out);
}

int ss_json_path_int64(const ss_json_doc *d, const ss_json_tok *t, const char *path, int64_t *out) {
    return ss_json_int64(d, ss_json_path(d, t, path), out);
}

/* ---- values ------------------------------------------------------------------------ */

size_t ss_json_unescape(const char *src, size_t n, char *dst) {
    size_t i = 0, o = 0;
    while (i < n) {
        const char *bs = memchr(src + i, '\\', n - i);
        size_t run = bs ? (size_t)(bs - (src + i)) : n - i;
        memmove(dst + o, src + i, run);
        o += run;
        i += run;
        if (i >= n) break;
        char c = src[i + 1];
        i += 2;
        switch (c) {
        case 'b': dst[o++] = '\b'; break;
        case 'f': dst[o++] = '\f'; break;
        case 'n': dst[o++] = '\n'; break;
        case 'r': dst[o++] = '\r'; break;
        case 't': dst[o++] = '\t'; break;
        case 'u': {
            uint32_t cp = (uint32_t)hex4(src + i);
            i += 4;
            if (cp >= 0xD800 && cp <= 0xDFFF) {
                if (surrogate_pair_at(src + i - 6, src + n)) {
                    cp = 0x10000 + ((cp - 0xD800) << 10) + ((uint32_t)hex4(src + i + 2) - 0xDC00);
                    i += 6;
                } else {
                    cp = 0xFFFD; /* lone: only in a lenient document */
                }
            }
            o += ss_utf8_encode(cp, dst + o);
            break;
        }
        default: dst[o++] = c; break; /* '"', '\\', '/' */
        }
    }
    return o;
}

/* The escaped case of ss_json_str (the plain case is inline in json.h). */
int ss_json_str_slow(const ss_json_doc *d, const ss_json_tok *t, ss_str *out) {
    if (!t || t->type != SS_JSON_STRING) return -1;
    const char *src = d->buf + t->start + 1;
    size_t n = t->len - 2;
    if (!(t->flags & SS_JSON_F_ESCAPED)) {
        out->p = src;
        out->n = n;
        return 0;
    }
    char *dst = d->arena + t->start + 1;
    out->p = dst;
    out->n = ss_json_unescape(src, n, dst);
    return 0;
}

int ss_json_int64(const ss_json_doc *d, const ss_json_tok *t, int64_t *out) {
    if (!t || t->type != SS_JSON_NUMBER || !(t->flags & SS_JSON_F_INTEGER)) return -1;
    const char *p = d->buf + t->start, *e = p + t->len;
    int neg = *p == '-';
    if (neg) p++;
    uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX, v = 0;
    for (; p < e; p++) {
        unsigned dig = (unsigned)(*p - '0');
        if (v > (limit - dig) / 10) return -1;
        v = v * 10 + dig;
    }
    if (neg) *out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
    else *out = (int64_t)v;
    return 0;
}

int ss_json_double(const ss_json_doc *d, const ss_json_tok *t, double *out) {
    if (!t || t->type != SS_JSON_NUMBER) return -1;
    char tmp[64];
    char *s;
    if (t->len < sizeof tmp) {
        s = tmp;
    } else {
        /* The byte after a number is a delimiter or the end, never part of a string's
         * arena slot, so the arena can hold the number and its NUL. */
        s = d->arena + t->start;
    }
    memcpy(s, d->buf + t->start, t->len);
    s[t->len] = '\0';
    *out = strtod(s, NULL);
    return 0;
}

int ss_json_bool(const ss_json_tok *t, int *out) {
    if (!t || (t->type != SS_JSON_TRUE && t->type != SS_JSON_FALSE)) return -1;
    *out = t->type == SS_JSON_TRUE;
    return 0;
}
