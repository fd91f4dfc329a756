/* See js_proto.h. The skipper understands just enough JSON to step over any value
 * (strings with escapes, nested containers up to a depth, scalars); malformed input
 * makes it return NULL, never read past the end. */
#include "net/js_proto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *ws(const char *p, const char *end) {
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
    return p;
}

/* p at the opening quote; returns the pointer after the closing quote. */
static const char *skip_string(const char *p, const char *end) {
    for (p++; p < end; p++) {
        const char *q = memchr(p, '"', (size_t)(end - p));
        if (!q) return NULL;
        /* count the backslashes right before the quote */
        const char *b = q;
        while (b > p && b[-1] == '\\') b--;
        if (((q - b) & 1) == 0) return q + 1;
        p = q;
    }
    return NULL;
}

static const char *skip_value(const char *p, const char *end) {
    int depth = 0;
    do {
        p = ws(p, end);
        if (p >= end) return NULL;
        switch (*p) {
        case '"':
            p = skip_string(p, end);
            if (!p) return NULL;
            break;
        case '{':
        case '[':
            if (++depth > SS_JS_PEEK_MAX_DEPTH) return NULL;
            p++;
            break;
        case '}':
        case ']':
            if (--depth < 0) return NULL;
            p++;
            break;
        case ',':
        case ':':
            if (depth == 0) return NULL;
            p++;
            break;
        default: /* number, true, false, null */
            if (*p == '\0') return NULL; /* never JSON here; strchr() would match its terminator and stall */
            while (p < end && !strchr(",:{}[]\" \t\r\n", *p)) p++;
            break;
        }
    } while (depth > 0);
    return p;
}

static int key_is(const char *k, const char *kend, const char *name) {
    size_t n = strlen(name);
    return (size_t)(kend - k) == n + 2 && memcmp(k + 1, name, n) == 0;
}

static int64_t parse_time_us(const char *p, const char *end) {
    int64_t v = 0;
    const char *s = p;
    while (p < end && *p >= '0' && *p <= '9') {
        if (v > (INT64_MAX - 9) / 10) return -1;
        v = v * 10 + (*p++ - '0');
    }
    if (p == s || (p < end && (*p == '.' || *p == 'e' || *p == 'E'))) return -1;
    return v;
}

/* Finds "collection" inside the commit object starting at p. */
static void peek_commit(const char *p, const char *end, ss_js_peek_result *out) {
    p = ws(p, end);
    if (p >= end || *p != '{') return;
    p++;
    for (;;) {
        p = ws(p, end);
        if (p >= end || *p != '"') return;
        const char *k = p;
        p = skip_string(p, end);
        if (!p) return;
        const char *kend = p;
        p = ws(p, end);
        if (p >= end || *p != ':') return;
        p = ws(p + 1, end);
        if (key_is(k, kend, "collection") && p < end && *p == '"') {
            const char *v = p;
            p = skip_string(p, end);
            if (!p) return;
            out->collection = v + 1;
            out->collection_len = (size_t)(p - v - 2);
            return;
        }
        p = skip_value(p, end);
        if (!p) return;
        p = ws(p, end);
        if (p >= end || *p != ',') return;
        p++;
    }
}

int ss_js_peek(const char *p, size_t n, int want, ss_js_peek_result *out) {
    const char *end = p + n;
    int want_collection = want & SS_JS_PEEK_COLLECTION, want_cursor = want & SS_JS_PEEK_CURSOR;
    out->cursor = -1;
    out->time_us = -1;
    out->kind = SS_JS_KIND_UNKNOWN;
    out->collection = NULL;
    out->collection_len = 0;
    p = ws(p, end);
    if (p >= end || *p != '{') return -1;
    p++;
    int have_time = 0, after_comma = 0;
    for (;;) {
        p = ws(p, end);
        if (p < end && *p == '}' && !after_comma) return 0;
        if (p >= end || *p != '"') return -1;
        const char *k = p;
        p = skip_string(p, end);
        if (!p) return -1;
        const char *kend = p;
        p = ws(p, end);
        if (p >= end || *p != ':') return -1;
        p = ws(p + 1, end);
        if (key_is(k, kend, "time_us")) {
            out->time_us = parse_time_us(p, end);
            have_time = 1;
        } else if (key_is(k, kend, "kind") && p < end && *p == '"') {
            const char *v = p;
            const char *ve = skip_string(p, end);
            if (ve) {
                if (key_is(v, ve, "commit")) out->kind = SS_JS_KIND_COMMIT;
                else if (key_is(v, ve, "identity")) out->kind = SS_JS_KIND_IDENTITY;
                else if (key_is(v, ve, "account")) out->kind = SS_JS_KIND_ACCOUNT;
                else if (key_is(v, ve, "sync")) out->kind = SS_JS_KIND_SYNC;
            }
        } else if (want_collection && key_is(k, kend, "commit")) {
            peek_commit(p, end, out);
        } else if (want_cursor && key_is(k, kend, "cursor")) {
            out->cursor = parse_time_us(p, end); /* the same non-negative integer rule */
        }
        if (!want_cursor && have_time && out->kind != SS_JS_KIND_UNKNOWN &&
            (!want_collection || out->kind != SS_JS_KIND_COMMIT || out->collection))
            return 0;
        p = skip_value(p, end);
        if (!p) return -1;
        p = ws(p, end);
        if (p < end && *p == ',') {
            p++;
            after_comma = 1;
            continue;
        }
        if (p < end && *p == '}') return 0;
        return -1;
    }
}

void ss_js_filter_init(ss_js_filter *f) { memset(f, 0, sizeof *f); }

void ss_js_filter_free(ss_js_filter *f) {
    for (size_t i = 0; i < f->n; i++) free(f->items[i]);
    f->n = 0;
}

/* NSID characters, plus a trailing ".*" for prefix entries. */
static int valid_entry(const char *s, size_t n) {
    if (n == 0 || n > SS_JS_NSID_MAX) return 0;
    size_t body = n;
    if (n >= 2 && s[n - 1] == '*' && s[n - 2] == '.') body = n - 2;
    if (body == 0) return 0;
    for (size_t i = 0; i < body; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-'))
            return 0;
    }
    return 1;
}

int ss_js_filter_add(ss_js_filter *f, const char *list, char *err, size_t errlen) {
    for (const char *p = list; *p;) {
        size_t n = strcspn(p, ",");
        if (n) {
            if (!valid_entry(p, n)) {
                snprintf(err, errlen, "bad collection '%.*s' (want an NSID such as app.bsky.feed.post, or a prefix such as app.bsky.*)",
                         (int)(n > 100 ? 100 : n), p);
                return -1;
            }
            if (f->n >= SS_JS_FILTER_MAX) {
                snprintf(err, errlen, "too many wanted collections (at most %d)", SS_JS_FILTER_MAX);
                return -1;
            }
            f->items[f->n] = strndup(p, n);
            if (!f->items[f->n]) {
                snprintf(err, errlen, "out of memory");
                return -1;
            }
            f->n++;
        }
        p += n;
        if (*p == ',') p++;
    }
    return 0;
}

int ss_js_filter_match(const ss_js_filter *f, const char *coll, size_t n) {
    if (f->n == 0) return 1;
    for (size_t i = 0; i < f->n; i++) {
        const char *it = f->items[i];
        size_t len = strlen(it);
        if (len >= 2 && it[len - 1] == '*') {
            if (n >= len - 1 && memcmp(coll, it, len - 1) == 0) return 1; /* "app.bsky." prefix */
        } else if (len == n && memcmp(coll, it, n) == 0) {
            return 1;
        }
    }
    return 0;
}
