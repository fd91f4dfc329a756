/* The record scanner (see recjson.h for why it exists). Hot path: skipping strings is a
 * scan for '"' or '\\', and a string without escapes is returned as a slice. */
#include "archive/recjson.h"

#include <stdint.h>
#include <string.h>

void ss_ar_scan_init(ss_ar_scan *c, const char *p, size_t n, char *arena, int max_depth) {
    c->p = p;
    c->end = p + n;
    c->arena = arena;
    c->arena_len = 0;
    c->depth = 0;
    c->max_depth = max_depth;
    c->err = 0;
}

static int fail(ss_ar_scan *c) {
    c->err = 1;
    return -1;
}

static void skip_ws(ss_ar_scan *c) {
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\n' || *c->p == '\r' || *c->p == '\t')) c->p++;
}

char ss_ar_scan_peek(ss_ar_scan *c) {
    if (c->err) return 0;
    skip_ws(c);
    if (c->p >= c->end) return 0;
    char ch = *c->p;
    return (ch == '{' || ch == '[' || ch == '"') ? ch : 'x';
}

static int hex4(const char *p, unsigned *out) {
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char ch = p[i];
        v <<= 4;
        if (ch >= '0' && ch <= '9') v |= (unsigned)(ch - '0');
        else if (ch >= 'a' && ch <= 'f') v |= (unsigned)(ch - 'a' + 10);
        else if (ch >= 'A' && ch <= 'F') v |= (unsigned)(ch - 'A' + 10);
        else return -1;
    }
    *out = v;
    return 0;
}

static char *put_utf8(char *o, unsigned cp) {
    if (cp < 0x80) {
        *o++ = (char)cp;
    } else if (cp < 0x800) {
        *o++ = (char)(0xC0 | (cp >> 6));
        *o++ = (char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        *o++ = (char)(0xE0 | (cp >> 12));
        *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
        *o++ = (char)(0x80 | (cp & 0x3F));
    } else {
        *o++ = (char)(0xF0 | (cp >> 18));
        *o++ = (char)(0x80 | ((cp >> 12) & 0x3F));
        *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
        *o++ = (char)(0x80 | (cp & 0x3F));
    }
    return o;
}

/* Unescapes the string body [s, e) (e points at the closing quote) into the arena. A lone
 * surrogate becomes U+FFFD (the decoder rejects those, so this is only a safety net). */
static int unescape(ss_ar_scan *c, const char *s, const char *e, ss_str *out) {
    char *start = c->arena + c->arena_len, *o = start;
    while (s < e) {
        if (*s != '\\') {
            *o++ = *s++;
            continue;
        }
        if (e - s < 2) return fail(c);
        char esc = s[1];
        s += 2;
        switch (esc) {
        case '"': *o++ = '"'; break;
        case '\\': *o++ = '\\'; break;
        case '/': *o++ = '/'; break;
        case 'b': *o++ = '\b'; break;
        case 'f': *o++ = '\f'; break;
        case 'n': *o++ = '\n'; break;
        case 'r': *o++ = '\r'; break;
        case 't': *o++ = '\t'; break;
        case 'u': {
            unsigned cp, lo;
            if (e - s < 4 || hex4(s, &cp) != 0) return fail(c);
            s += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (e - s >= 6 && s[0] == '\\' && s[1] == 'u' && hex4(s + 2, &lo) == 0 && lo >= 0xDC00 &&
                    lo <= 0xDFFF) {
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    s += 6;
                } else {
                    cp = 0xFFFD;
                }
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                cp = 0xFFFD;
            }
            o = put_utf8(o, cp);
            break;
        }
        default: return fail(c);
        }
    }
    out->p = start;
    out->n = (size_t)(o - start);
    c->arena_len += out->n;
    return 0;
}

int ss_ar_scan_string(ss_ar_scan *c, ss_str *out) {
    if (c->err) return -1;
    skip_ws(c);
    if (c->p >= c->end || *c->p != '"') return fail(c);
    const char *s = ++c->p, *q = s;
    int escaped = 0;
    for (;;) {
        while (q < c->end && *q != '"' && *q != '\\') q++;
        if (q >= c->end) return fail(c);
        if (*q == '"') break;
        escaped = 1;
        q += 2; /* the escaped character; \uXXXX digits are plain characters */
    }
    if (q > c->end) return fail(c);
    c->p = q + 1;
    if (!escaped) {
        out->p = s;
        out->n = (size_t)(q - s);
        return 0;
    }
    return unescape(c, s, q, out);
}

static int skip_string(ss_ar_scan *c) {
    const char *q = c->p + 1;
    for (;;) {
        while (q < c->end && *q != '"' && *q != '\\') q++;
        if (q >= c->end) return fail(c);
        if (*q == '"') break;
        q += 2;
    }
    c->p = q + 1;
    return 0;
}

int ss_ar_scan_skip(ss_ar_scan *c) {
    if (c->err) return -1;
    skip_ws(c);
    if (c->p >= c->end) return fail(c);
    switch (*c->p) {
    case '"': return skip_string(c);
    case '{':
        if (ss_ar_scan_obj_begin(c) != 0) return -1;
        for (;;) {
            ss_str k;
            int r = ss_ar_scan_obj_next(c, &k);
            if (r <= 0) return r;
            if (ss_ar_scan_skip(c) != 0) return -1;
        }
    case '[':
        if (ss_ar_scan_arr_begin(c) != 0) return -1;
        for (;;) {
            int r = ss_ar_scan_arr_next(c);
            if (r <= 0) return r;
            if (ss_ar_scan_skip(c) != 0) return -1;
        }
    default: {
        /* number or literal: up to the next delimiter */
        const char *q = c->p;
        while (q < c->end && *q != ',' && *q != '}' && *q != ']' && *q != ' ' && *q != '\n' && *q != '\r' &&
               *q != '\t')
            q++;
        if (q == c->p) return fail(c);
        c->p = q;
        return 0;
    }
    }
}

static int enter(ss_ar_scan *c, char open) {
    if (c->err) return -1;
    skip_ws(c);
    if (c->p >= c->end || *c->p != open) return fail(c);
    if (++c->depth > c->max_depth) return fail(c);
    c->p++;
    return 0;
}

int ss_ar_scan_obj_begin(ss_ar_scan *c) { return enter(c, '{'); }

/* Shared by objects and arrays: expects the closer, or the first item right after the
 * opener, or ',' and an item after a previous value. Whether this is the first item is
 * read from the last non-blank byte before p, which is the opener itself exactly when
 * nothing has been read since begin (a value always ends in '"', '}', ']', a digit or a
 * letter). That keeps the scanner free of a per-level state stack. */
static int next_item(ss_ar_scan *c, char close) {
    if (c->err) return -1;
    skip_ws(c);
    if (c->p >= c->end) return fail(c);
    /* look back over whitespace: was the previous token the opener or a value? */
    const char *b = c->p - 1;
    while (*b == ' ' || *b == '\n' || *b == '\r' || *b == '\t') b--;
    int first = (*b == '{' || *b == '[');
    if (*c->p == close) {
        c->p++;
        c->depth--;
        return 0;
    }
    if (!first) {
        if (*c->p != ',') return fail(c);
        c->p++;
        skip_ws(c);
        if (c->p >= c->end || *c->p == close) return fail(c);
    }
    return 1;
}

int ss_ar_scan_obj_next(ss_ar_scan *c, ss_str *key) {
    int r = next_item(c, '}');
    if (r <= 0) return r;
    if (ss_ar_scan_string(c, key) != 0) return -1;
    skip_ws(c);
    if (c->p >= c->end || *c->p != ':') return fail(c);
    c->p++;
    skip_ws(c);
    return 1;
}

int ss_ar_scan_arr_begin(ss_ar_scan *c) { return enter(c, '['); }

int ss_ar_scan_arr_next(ss_ar_scan *c) { return next_item(c, ']'); }
