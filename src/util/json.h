/* A strict, fast JSON scanner.
 *
 * Why our own: the archive's convert path has a budget of well under a microsecond of
 * JSON work per ~550-byte event, and must reject what the archive cannot store (invalid
 * UTF-8, lone surrogate escapes) with an exact reason. Off-the-shelf libraries build a
 * tree of heap objects per document (slow) and validate UTF-8 only optionally.
 *
 * Design: ss_json_parse() tokenizes a whole document, in one pass, into a flat array of
 * tokens owned by a reusable ss_json_doc. Each token records its type, its byte span in
 * the input, and, for containers, the index just past its last descendant (`end`), so
 * a sibling is always one step away and skipping a subtree is O(1). An object's children
 * are key/value pairs: a string token for the key, then the value's tokens. Nothing is
 * copied or unescaped while parsing; strings are unescaped on request, zero-copy when
 * they hold no escapes, otherwise into the document's arena at the string's own offset
 * (an unescaped string is never longer than its source, so slots cannot collide and
 * pointers stay valid until the next parse). After the first few documents the parser
 * allocates nothing.
 *
 * Strictness (RFC 8259): one value per document with optional surrounding whitespace;
 * no trailing commas, no leading zeros, no control characters in strings, only the
 * standard escapes; raw bytes must be valid UTF-8 (RFC 3629), \u escapes must pair
 * surrogates correctly (a lone surrogate is SS_JSON_ERR_SURROGATE). Limits on bytes,
 * depth and tokens are enforced while parsing. Errors carry a code, the byte offset and
 * a message. Duplicate keys are allowed by the grammar; ss_json_obj_get returns the
 * first occurrence. */
#ifndef SS_JSON_H
#define SS_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "util/str.h"

typedef enum {
    SS_JSON_NULL = 1,
    SS_JSON_FALSE,
    SS_JSON_TRUE,
    SS_JSON_NUMBER,
    SS_JSON_STRING,
    SS_JSON_ARRAY,
    SS_JSON_OBJECT,
} ss_json_type;

typedef enum {
    SS_JSON_OK = 0,
    SS_JSON_ERR_SYNTAX,     /* not JSON, including an empty document and trailing bytes */
    SS_JSON_ERR_TRUNCATED,  /* the input ends inside a value */
    SS_JSON_ERR_UTF8,       /* invalid UTF-8 bytes inside a string */
    SS_JSON_ERR_SURROGATE,  /* a \u escape of an unpaired UTF-16 surrogate */
    SS_JSON_ERR_TOO_LARGE,  /* over max_bytes */
    SS_JSON_ERR_TOO_DEEP,   /* over max_depth */
    SS_JSON_ERR_TOO_MANY,   /* over max_tokens */
    SS_JSON_ERR_OOM,
} ss_json_err;

/* Token flags. */
#define SS_JSON_F_ESCAPED 1 /* string: contains at least one backslash escape */
#define SS_JSON_F_INTEGER 2 /* number: no fraction and no exponent */

typedef struct ss_json_tok {
    uint8_t type;   /* ss_json_type */
    uint8_t flags;  /* SS_JSON_F_* */
    uint16_t _pad;
    uint32_t start; /* offset of the first byte (a string's opening quote) */
    uint32_t len;   /* bytes of the whole value, quotes and brackets included */
    uint32_t end;   /* index of the next token after this value and its descendants */
} ss_json_tok;

typedef struct {
    size_t max_bytes;  /* default 2 MiB; at most 4 GiB - 2 */
    int max_depth;     /* containers nested; default 64 */
    size_t max_tokens; /* default 1,048,576 */
} ss_json_limits;

#define SS_JSON_DEFAULT_MAX_BYTES (2u * 1024 * 1024)
#define SS_JSON_DEFAULT_MAX_DEPTH 64
#define SS_JSON_DEFAULT_MAX_TOKENS (1u << 20)

/* The parser context and its result. Fields are readable; change them only through
 * the functions below. */
typedef struct ss_json_doc {
    ss_json_limits lim;
    const char *buf; /* the document last parsed (not owned) */
    size_t len;
    ss_json_tok *toks;
    size_t ntoks, tokcap;
    uint32_t *stack; /* open containers while parsing; max_depth entries */
    char *arena;     /* unescaped strings, at their source offsets; >= len + 1 bytes */
    size_t arenacap;
    ss_json_err err;
    size_t err_off;
    char errstr[128];
    int lenient_text; /* see ss_json_doc_lenient_text() */
} ss_json_doc;

/* limits may be NULL for the defaults; zero fields also take the default.
 * Returns 0, or -1 when memory runs out. */
int ss_json_doc_init(ss_json_doc *d, const ss_json_limits *limits);
void ss_json_doc_free(ss_json_doc *d);
/* Lenient text (off by default): strings may hold invalid UTF-8 bytes, kept as they are,
 * and lone surrogate escapes, unescaped as U+FFFD; everything else stays strict. For
 * text that was checked elsewhere, or not at all, and must be read rather than judged
 * (the archive maps hand-built events whose bytes its writer repairs). */
static inline void ss_json_doc_lenient_text(ss_json_doc *d, int on) { d->lenient_text = on; }

/* Tokenizes buf[0..len). Returns SS_JSON_OK, or an error code with d->err_off and
 * d->errstr ("offset 12: ...") set. On success the root value is d->toks[0].
 * buf must stay alive and unchanged while tokens are used. */
ss_json_err ss_json_parse(ss_json_doc *d, const char *buf, size_t len);

/* Checks a document without keeping tokens; same rules and errors as ss_json_parse. */
ss_json_err ss_json_validate(ss_json_doc *d, const char *buf, size_t len);

const char *ss_json_err_name(ss_json_err e); /* "syntax", "truncated", ... */
const char *ss_json_type_name(ss_json_type t); /* "null", "false", ... "object" */

/* ---- navigation ------------------------------------------------------------------- */

static inline const ss_json_tok *ss_json_root(const ss_json_doc *d) {
    return d->ntoks ? d->toks : NULL;
}
/* The token following t and its descendants (its next sibling when one exists). */
static inline const ss_json_tok *ss_json_skip(const ss_json_doc *d, const ss_json_tok *t) {
    return d->toks + t->end;
}

/* Iteration over a container's children.
 *   ss_json_iter it = ss_json_iter_of(d, arr);  const ss_json_tok *el;
 *   while ((el = ss_json_iter_next(&it))) ...
 *   ss_json_iter it = ss_json_iter_of(d, obj);  const ss_json_tok *k, *v;
 *   while (ss_json_iter_member(&it, &k, &v)) ...
 * Iterating a non-container yields nothing. */
typedef struct {
    const ss_json_doc *d;
    uint32_t i, end;
} ss_json_iter;

static inline ss_json_iter ss_json_iter_of(const ss_json_doc *d, const ss_json_tok *t) {
    ss_json_iter it = {d, 0, 0};
    if (t && (t->type == SS_JSON_ARRAY || t->type == SS_JSON_OBJECT)) {
        it.i = (uint32_t)(t - d->toks) + 1;
        it.end = t->end;
    }
    return it;
}
static inline const ss_json_tok *ss_json_iter_next(ss_json_iter *it) {
    if (it->i >= it->end) return NULL;
    const ss_json_tok *t = it->d->toks + it->i;
    it->i = t->end;
    return t;
}
static inline int ss_json_iter_member(ss_json_iter *it, const ss_json_tok **key,
                                      const ss_json_tok **val) {
    if (it->i >= it->end) return 0;
    *key = it->d->toks + it->i;
    *val = *key + 1;
    it->i = (*val)->end;
    return 1;
}

/* Number of elements (array) or members (object); 0 for anything else. O(children). */
size_t ss_json_count(const ss_json_doc *d, const ss_json_tok *t);
/* The i-th element of an array, or NULL. */
const ss_json_tok *ss_json_arr_at(const ss_json_doc *d, const ss_json_tok *arr, size_t i);

/* The value of member `key` in object obj (first occurrence), or NULL when obj is NULL,
 * not an object, or has no such key. Keys written with escapes compare unescaped. */
const ss_json_tok *ss_json_obj_getn(const ss_json_doc *d, const ss_json_tok *obj,
                                    const char *key, size_t keylen);
const ss_json_tok *ss_json_obj_get(const ss_json_doc *d, const ss_json_tok *obj,
                                   const char *key);
/* Nested lookup by a dotted path: "reply.root.uri", "embed.$type", "langs.0".
 * A component of digits indexes an array. NULL when any step is missing. */
const ss_json_tok *ss_json_path(const ss_json_doc *d, const ss_json_tok *t, const char *path);

/* 1 when t (may be NULL) is a string whose unescaped value equals s. */
int ss_json_str_eq(const ss_json_doc *d, const ss_json_tok *t, const char *s, size_t n);
/* 1 when the key token k equals the n bytes at s; fast for unescaped keys. */
int ss_json_key_eq(const ss_json_doc *d, const ss_json_tok *k, const char *s, size_t n);

/* ---- values ------------------------------------------------------------------------ */

static inline int ss_json_is(const ss_json_tok *t, ss_json_type type) {
    return t && t->type == type;
}
/* The raw bytes of any value (a string with its quotes, an object with its braces). */
static inline ss_str ss_json_raw(const ss_json_doc *d, const ss_json_tok *t) {
    ss_str s = {d->buf + t->start, t->len};
    return s;
}

/* A string's unescaped value: a slice of the input when it has no escapes, otherwise
 * of the document's arena. Valid until the next parse. Always valid UTF-8 unless the
 * document is lenient (raw bytes were validated, escapes decode to scalar values;
 * "\u0000" yields a NUL byte).
 * Returns 0, or -1 if t is NULL or not a string. */
int ss_json_str_slow(const ss_json_doc *d, const ss_json_tok *t, ss_str *out);
static inline int ss_json_str(const ss_json_doc *d, const ss_json_tok *t, ss_str *out) {
    if (!t || t->type != SS_JSON_STRING) return -1;
    if (t->flags & SS_JSON_F_ESCAPED) return ss_json_str_slow(d, t, out);
    out->p = d->buf + t->start + 1;
    out->n = t->len - 2;
    return 0;
}
/* The string's bytes between the quotes, escapes left as written. */
static inline ss_str ss_json_str_raw(const ss_json_doc *d, const ss_json_tok *t) {
    ss_str s = {d->buf + t->start + 1, t->len - 2};
    return s;
}

/* Shorthands for nested lookups of leaf values, e.g.
 *   ss_json_path_str(doc, rec, "reply.root.uri", &uri)
 * 0 on success; -1 when the path is missing or the value has another type. */
int ss_json_path_str(const ss_json_doc *d, const ss_json_tok *t, const char *path, ss_str *out);
int ss_json_path_int64(const ss_json_doc *d, const ss_json_tok *t, const char *path, int64_t *out);

/* An integer number exactly as int64: 0, or -1 when t is not a number, has a fraction
 * or exponent, or is out of range. */
int ss_json_int64(const ss_json_doc *d, const ss_json_tok *t, int64_t *out);
/* Any number as a double (strtod rounding): 0, or -1 when t is not a number. */
int ss_json_double(const ss_json_doc *d, const ss_json_tok *t, double *out);
/* true/false as 1/0: 0, or -1 when t is not a boolean. */
int ss_json_bool(const ss_json_tok *t, int *out);

/* Unescapes the n bytes of a string body already validated by the parser (between the
 * quotes) into dst, which must hold n bytes. Returns the unescaped length (<= n). A lone
 * surrogate escape (only a lenient document has them) becomes U+FFFD. */
size_t ss_json_unescape(const char *src, size_t n, char *dst);

#endif
