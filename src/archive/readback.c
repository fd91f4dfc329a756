/* Archive row -> Jetstream v1 JSON (readback.h).
 *
 * One table, g_types, says for every archive type which Jetstream kind it is and which
 * payload fields come from which columns; the envelope (did, time_us, kind) is common.
 * Columns are found by name once per file, so a file with the columns in another order,
 * or an older schema version lacking a column (claimed_time before version 2), still
 * reads: a missing column is a missing field. The record column holds the raw JSON text
 * of the record and is copied as it is; every other string is re-escaped. */
#include "archive/readback.h"

#include <stdio.h>
#include <string.h>

#include "util/civil.h"

typedef enum {
    V_STR,  /* a string column */
    V_INT,  /* an integer column */
    V_BOOL, /* a boolean column */
    V_RAW,  /* a string column holding JSON text, copied verbatim */
    V_TIME, /* a timestamp column, printed as RFC 3339 */
    V_DID,  /* the event's did again (identity.did, account.did are not stored apart) */
} vkind;

typedef struct {
    const char *key; /* the JSON key inside the payload object */
    const char *col; /* the column (NULL for V_DID) */
    vkind v;
} jfield;

typedef struct {
    ss_type type;
    const char *kind; /* Jetstream kind, also the payload object's key */
    const jfield *fields;
    size_t nfields;
} jtype;

/* In Jetstream's own key order. */
static const jfield g_commit[] = {
    {"rev", "rev", V_STR},       {"operation", "operation", V_STR}, {"collection", "collection", V_STR},
    {"rkey", "rkey", V_STR},     {"record", "record", V_RAW},       {"cid", "cid", V_STR},
    {"time", "claimed_time", V_TIME},
};
static const jfield g_identity[] = {
    {"did", NULL, V_DID}, {"handle", "handle", V_STR}, {"seq", "seq", V_INT}, {"time", "relay_time_text", V_STR},
};
static const jfield g_account[] = {
    {"active", "active", V_BOOL}, {"did", NULL, V_DID},   {"seq", "seq", V_INT},
    {"status", "status", V_STR},  {"time", "relay_time_text", V_STR},
};

#define N(a) (sizeof a / sizeof a[0])
static const jtype g_types[] = {
    {SS_TYPE_POST, "commit", g_commit, N(g_commit)},
    {SS_TYPE_LIKE, "commit", g_commit, N(g_commit)},
    {SS_TYPE_REPOST, "commit", g_commit, N(g_commit)},
    {SS_TYPE_FOLLOW, "commit", g_commit, N(g_commit)},
    {SS_TYPE_BLOCK, "commit", g_commit, N(g_commit)},
    {SS_TYPE_IDENTITY, "identity", g_identity, N(g_identity)},
    {SS_TYPE_ACCOUNT, "account", g_account, N(g_account)},
    {SS_TYPE_OTHER, "commit", g_commit, N(g_commit)},
};
_Static_assert(N(g_commit) <= SS_AR_RB_MAX_FIELDS && N(g_identity) <= SS_AR_RB_MAX_FIELDS &&
                   N(g_account) <= SS_AR_RB_MAX_FIELDS,
               "raise SS_AR_RB_MAX_FIELDS");

static int col_ok(const ss_pq_reader *r, int i, vkind v) {
    const ss_pq_column *c = ss_pq_reader_column(r, (size_t)i);
    switch (v) {
    case V_STR:
    case V_RAW: return c->type == SS_PQ_STRING;
    case V_INT: return c->type == SS_PQ_INT64 || c->type == SS_PQ_INT32;
    case V_BOOL: return c->type == SS_PQ_BOOLEAN;
    case V_TIME: return c->type == SS_PQ_TIMESTAMP_MICROS || c->type == SS_PQ_INT64;
    case V_DID: return 1;
    }
    return 0;
}

int ss_ar_readback_init(ss_ar_readback *rb, const ss_pq_reader *r, ss_type t, char *err, size_t errlen) {
    memset(rb, 0, sizeof *rb);
    const jtype *spec = NULL;
    for (size_t i = 0; i < N(g_types); i++)
        if (g_types[i].type == t) spec = &g_types[i];
    if (!spec) {
        snprintf(err, errlen, "archive type %d cannot be read back", (int)t);
        return -1;
    }
    rb->type = t;
    rb->spec = spec;
    rb->did = ss_pq_reader_find(r, "did");
    rb->time_us = ss_pq_reader_find(r, "time_us");
    rb->kind = ss_pq_reader_find(r, "kind");
    if (rb->did < 0 || rb->time_us < 0 || rb->kind < 0 || !col_ok(r, rb->did, V_STR) || !col_ok(r, rb->time_us, V_INT) ||
        !col_ok(r, rb->kind, V_STR)) {
        snprintf(err, errlen, "not an archive file: no did, time_us and kind columns of the archive's types");
        return -1;
    }
    for (size_t i = 0; i < spec->nfields; i++) {
        const jfield *f = &spec->fields[i];
        rb->col[i] = f->col ? ss_pq_reader_find(r, f->col) : -1;
        if (rb->col[i] >= 0 && !col_ok(r, rb->col[i], f->v)) {
            snprintf(err, errlen, "column %s has another type than the archive schema's", f->col);
            return -1;
        }
    }
    return 0;
}

size_t ss_ar_format_rfc3339(int64_t us, char out[32]) {
    int64_t secs = us >= 0 ? us / 1000000 : -((-us + 999999) / 1000000);
    int64_t frac = us - secs * 1000000;
    int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
    int64_t sod = secs - days * 86400;
    int y, m, d;
    ss_civil_from_days(days, &y, &m, &d);
    int n;
    if (frac % 1000 == 0)
        n = snprintf(out, 32, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", y, m, d, (int)(sod / 3600), (int)(sod % 3600 / 60),
                     (int)(sod % 60), (int)(frac / 1000));
    else
        n = snprintf(out, 32, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", y, m, d, (int)(sod / 3600), (int)(sod % 3600 / 60),
                     (int)(sod % 60), (int)frac);
    return n > 0 && n < 32 ? (size_t)n : 0;
}

static int put_key(ss_buf *b, int *first, const char *key) {
    if (!*first && ss_buf_putc(b, ',')) return -1;
    *first = 0;
    if (ss_buf_append_json_string(b, key, strlen(key)) || ss_buf_putc(b, ':')) return -1;
    return 0;
}

int ss_ar_readback_json(const ss_ar_readback *rb, const ss_pq_reader *r, ss_buf *out, int64_t *time_us, char *err,
                        size_t errlen) {
    const jtype *spec = rb->spec;
    const char *did, *kind;
    size_t didn, kindn;
    if (ss_pq_reader_str(r, (size_t)rb->did, &did, &didn) || ss_pq_reader_str(r, (size_t)rb->kind, &kind, &kindn) ||
        ss_pq_reader_is_null(r, (size_t)rb->time_us)) {
        snprintf(err, errlen, "a row without did, time_us or kind");
        return -1;
    }
    if (kindn != strlen(spec->kind) || memcmp(kind, spec->kind, kindn) != 0) {
        snprintf(err, errlen, "a row of kind '%.*s' in a file of type %s", (int)(kindn > 32 ? 32 : kindn), kind,
                 ss_type_name(rb->type));
        return -1;
    }
    int64_t t = ss_pq_reader_int(r, (size_t)rb->time_us);
    *time_us = t;
    int bad = 0;
    bad |= ss_buf_puts(out, "{\"did\":");
    bad |= ss_buf_append_json_string(out, did, didn);
    bad |= ss_buf_printf(out, ",\"time_us\":%lld,\"kind\":\"%s\",\"%s\":{", (long long)t, spec->kind, spec->kind) < 0;
    int first = 1;
    for (size_t i = 0; i < spec->nfields && !bad; i++) {
        const jfield *f = &spec->fields[i];
        if (f->v == V_DID) {
            bad |= put_key(out, &first, f->key);
            bad |= ss_buf_append_json_string(out, did, didn);
            continue;
        }
        int c = rb->col[i];
        if (c < 0 || ss_pq_reader_is_null(r, (size_t)c)) continue;
        bad |= put_key(out, &first, f->key);
        const char *s;
        size_t n;
        switch (f->v) {
        case V_STR:
            ss_pq_reader_str(r, (size_t)c, &s, &n);
            bad |= ss_buf_append_json_string(out, s, n);
            break;
        case V_RAW:
            ss_pq_reader_str(r, (size_t)c, &s, &n);
            bad |= ss_buf_append(out, s, n);
            break;
        case V_INT: bad |= ss_buf_printf(out, "%lld", (long long)ss_pq_reader_int(r, (size_t)c)) < 0; break;
        case V_BOOL: bad |= ss_buf_puts(out, ss_pq_reader_int(r, (size_t)c) ? "true" : "false"); break;
        case V_TIME: {
            char ts[32];
            size_t tn = ss_ar_format_rfc3339(ss_pq_reader_int(r, (size_t)c), ts);
            bad |= ss_buf_append_json_string(out, ts, tn);
            break;
        }
        case V_DID: break;
        }
    }
    bad |= ss_buf_puts(out, "}}");
    if (bad) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}
