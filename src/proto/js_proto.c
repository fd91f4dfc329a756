/* See js_proto.h. The skipper understands just enough JSON to step over any value
 * (strings with escapes, nested containers up to a depth, scalars); malformed input
 * makes it return NULL, never read past the end. */
#include "proto/js_proto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/json.h"

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
    out->did = NULL;
    out->did_len = 0;
    int want_did = want & SS_JS_PEEK_DID;
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
        } else if (want_did && key_is(k, kend, "did") && p < end && *p == '"') {
            const char *ve = skip_string(p, end);
            if (ve) {
                out->did = p + 1;
                out->did_len = (size_t)(ve - p - 2);
            }
        }
        if (!want_cursor && have_time && out->kind != SS_JS_KIND_UNKNOWN &&
            (!want_collection || out->kind != SS_JS_KIND_COMMIT || out->collection) && (!want_did || out->did))
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

/* ---- wantedDids ------------------------------------------------------------------- */

void ss_js_dids_init(ss_js_dids *d) { memset(d, 0, sizeof *d); }

void ss_js_dids_free(ss_js_dids *d) {
    for (size_t i = 0; i < d->n; i++) free(d->items[i]);
    free(d->items);
    memset(d, 0, sizeof *d);
}

/* DID syntax (atproto): "did:" method ":" identifier of [A-Za-z0-9._:%-]. No quote or
 * backslash can occur, so a DID goes into JSON as it is. */
static int valid_did(const char *s, size_t n) {
    if (n < 7 || n > SS_JS_DID_MAX || memcmp(s, "did:", 4) != 0) return 0;
    size_t colon = 0;
    for (size_t i = 4; i < n; i++) {
        char c = s[i];
        if (c == ':') {
            if (!colon) colon = i;
            continue;
        }
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == '%' || c == '-'))
            return 0;
        if (!colon && !(c >= 'a' && c <= 'z')) return 0; /* the method is lowercase letters */
    }
    return colon > 4 && colon < n - 1 && s[n - 1] != ':';
}

int ss_js_dids_add(ss_js_dids *d, const char *p, size_t n, char *err, size_t errlen) {
    if (!valid_did(p, n)) {
        snprintf(err, errlen, "bad DID '%.*s' (want did:plc:... or did:web:...)", (int)(n > 80 ? 80 : n), p);
        return -1;
    }
    /* repeats are dropped only at finish: allow some slack over the limit before that */
    if (d->n >= 4 * (size_t)SS_JS_DIDS_MAX) {
        snprintf(err, errlen, "too many wanted DIDs (at most %d)", SS_JS_DIDS_MAX);
        return -1;
    }
    if (d->n == d->cap) {
        size_t nc = d->cap ? d->cap * 2 : 64;
        char **ni = realloc(d->items, nc * sizeof *ni);
        if (!ni) return snprintf(err, errlen, "out of memory"), -1;
        d->items = ni, d->cap = nc;
    }
    if (!(d->items[d->n] = strndup(p, n))) return snprintf(err, errlen, "out of memory"), -1;
    d->n++;
    return 0;
}

int ss_js_dids_parse(ss_js_dids *d, const char *text, size_t n, char *err, size_t errlen) {
    const char *p = text, *end = text + n;
    while (p < end) {
        if (*p == '#') {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            p = nl ? nl + 1 : end;
            continue;
        }
        if (*p == ',' || *p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') {
            p++;
            continue;
        }
        const char *s = p;
        while (p < end && !strchr(", \t\r\n#", *p) && *p) p++;
        if (p == s) p++; /* a NUL byte: not a DID character */
        if (ss_js_dids_add(d, s, (size_t)(p - s), err, errlen) < 0) return -1;
    }
    return ss_js_dids_finish(d, err, errlen);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int ss_js_dids_finish(ss_js_dids *d, char *err, size_t errlen) {
    if (d->n > 1) qsort(d->items, d->n, sizeof *d->items, cmp_str);
    size_t w = 0;
    for (size_t i = 0; i < d->n; i++) {
        if (w && !strcmp(d->items[w - 1], d->items[i])) {
            free(d->items[i]);
            continue;
        }
        d->items[w++] = d->items[i];
    }
    d->n = w;
    if (d->n > SS_JS_DIDS_MAX) {
        snprintf(err, errlen, "too many wanted DIDs: %zu (Jetstream allows at most %d)", d->n, SS_JS_DIDS_MAX);
        return -1;
    }
    return 0;
}

int ss_js_dids_match(const ss_js_dids *d, const char *did, size_t n) {
    if (d->n == 0) return 1;
    size_t lo = 0, hi = d->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const char *it = d->items[mid];
        size_t il = strlen(it);
        int c = memcmp(it, did, il < n ? il : n);
        if (c == 0) c = il < n ? -1 : il > n ? 1 : 0;
        if (c == 0) return 1;
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return 0;
}

int ss_js_dids_equal(const ss_js_dids *a, const ss_js_dids *b) {
    if (a->n != b->n) return 0;
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->items[i], b->items[i])) return 0;
    return 1;
}

/* ---- options_update ----------------------------------------------------------------- */

static int put_list(ss_buf *out, char *const *items, size_t n) {
    if (ss_buf_putc(out, '[') < 0) return -1;
    for (size_t i = 0; i < n; i++)
        if ((i && ss_buf_putc(out, ',') < 0) || ss_buf_append_json_string(out, items[i], strlen(items[i])) < 0)
            return -1;
    return ss_buf_putc(out, ']');
}

int ss_js_options_update(ss_buf *out, const ss_js_filter *colls, const ss_js_dids *dids, int64_t max_size) {
    if (ss_buf_puts(out, "{\"type\":\"options_update\",\"payload\":{\"wantedCollections\":") < 0 ||
        put_list(out, colls->items, colls->n) < 0 || ss_buf_puts(out, ",\"wantedDids\":") < 0 ||
        put_list(out, dids->items, dids->n) < 0 ||
        ss_buf_printf(out, ",\"maxMessageSizeBytes\":%lld}}", (long long)(max_size > 0 ? max_size : 0)) < 0)
        return -1;
    return 0;
}

int ss_js_options_parse(const char *p, size_t n, ss_js_filter *colls, ss_js_dids *dids, int64_t *max_size, char *err,
                        size_t errlen) {
    ss_js_filter_free(colls);
    ss_js_dids_free(dids);
    *max_size = 0;
    if (n > SS_JS_SUB_MSG_MAX) return snprintf(err, errlen, "subscriber message over %d bytes", SS_JS_SUB_MSG_MAX), -1;
    ss_json_limits lim = {SS_JS_SUB_MSG_MAX, 8, 4 * SS_JS_DIDS_MAX + SS_JS_FILTER_MAX + 64};
    ss_json_doc doc;
    if (ss_json_doc_init(&doc, &lim) < 0) return snprintf(err, errlen, "out of memory"), -1;
    int rc = -1;
    if (ss_json_parse(&doc, p, n) != SS_JSON_OK) {
        snprintf(err, errlen, "subscriber message is not JSON: %s", doc.errstr);
        goto out;
    }
    const ss_json_tok *root = ss_json_root(&doc);
    if (!ss_json_str_eq(&doc, ss_json_obj_get(&doc, root, "type"), "options_update", 14)) {
        rc = 1;
        goto out;
    }
    const ss_json_tok *pl = ss_json_obj_get(&doc, root, "payload");
    if (!ss_json_is(pl, SS_JSON_OBJECT)) {
        snprintf(err, errlen, "options_update without a payload object");
        goto out;
    }
    const ss_json_tok *wc = ss_json_obj_get(&doc, pl, "wantedCollections"), *wd = ss_json_obj_get(&doc, pl, "wantedDids"),
                      *mx = ss_json_obj_get(&doc, pl, "maxMessageSizeBytes"), *el;
    ss_json_iter it = ss_json_iter_of(&doc, wc);
    while ((el = ss_json_iter_next(&it))) {
        ss_str v;
        char one[SS_JS_NSID_MAX + 3];
        if (!ss_json_is(el, SS_JSON_STRING) || ss_json_str(&doc, el, &v) < 0 || v.n >= sizeof one) {
            snprintf(err, errlen, "bad wantedCollections entry");
            goto out;
        }
        memcpy(one, v.p, v.n);
        one[v.n] = '\0';
        if (strchr(one, ',') || ss_js_filter_add(colls, one, err, errlen) < 0) goto out;
    }
    it = ss_json_iter_of(&doc, wd);
    while ((el = ss_json_iter_next(&it))) {
        ss_str v;
        if (!ss_json_is(el, SS_JSON_STRING) || ss_json_str(&doc, el, &v) < 0) {
            snprintf(err, errlen, "bad wantedDids entry");
            goto out;
        }
        if (ss_js_dids_add(dids, v.p, v.n, err, errlen) < 0) goto out;
    }
    if (ss_js_dids_finish(dids, err, errlen) < 0) goto out;
    int64_t m = 0;
    if (mx && ss_json_int64(&doc, mx, &m) < 0) {
        snprintf(err, errlen, "maxMessageSizeBytes is not an integer");
        goto out;
    }
    *max_size = m < 0 ? 0 : m; /* Jetstream: negative means no cap */
    rc = 0;
out:
    ss_json_doc_free(&doc);
    return rc;
}
