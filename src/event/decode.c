/* The Jetstream v1 decoder: JSON text -> ss_event view.
 *
 * One ss_json_parse() tokenizes the document (validating syntax, UTF-8 and escapes on
 * the way); then one walk over the envelope's members and one over the kind's payload
 * pick out the known fields by key. Everything else is ignored, so hosts that add keys
 * (`cursor`) keep working. The decoder owns a reusable ss_json_doc, so after warm-up a
 * decode allocates nothing; the event's strings point into the input, or into the
 * document's arena when the JSON string held escapes.
 *
 * The pre-2024-10-31 shape ("type":"com"|"id"|"acc" in the envelope, commit.type
 * c|u|d instead of commit.operation) maps to the same model, as the legacy Jetstream
 * source defined it.
 *
 * Known keys appearing twice are rejected (bad_value): parsers disagree on which one
 * wins, and the dedup key must not depend on that choice. */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event/event.h"
#include "util/json.h"
#include "util/utf8.h"

struct ss_decoder {
    ss_json_doc doc;
    ss_decode_limits lim;
    const ss_json_tok *record;
    char errstr[192];
};

#define SS_DECODE_DEFAULT_MAX_BYTES (2u * 1024 * 1024)
#define SS_DECODE_DEFAULT_MAX_DEPTH 64

static void build_key_table(void);
static pthread_once_t key_table_once = PTHREAD_ONCE_INIT;

ss_decoder *ss_decoder_new(const ss_decode_limits *limits) {
    pthread_once(&key_table_once, build_key_table);
    ss_decoder *d = calloc(1, sizeof *d);
    if (!d) return NULL;
    d->lim.max_bytes = limits && limits->max_bytes ? limits->max_bytes : SS_DECODE_DEFAULT_MAX_BYTES;
    d->lim.max_depth = limits && limits->max_depth > 0 ? limits->max_depth : SS_DECODE_DEFAULT_MAX_DEPTH;
    ss_json_limits jl = {d->lim.max_bytes, d->lim.max_depth, 0};
    if (ss_json_doc_init(&d->doc, &jl) < 0) {
        free(d);
        return NULL;
    }
    return d;
}

void ss_decoder_free(ss_decoder *d) {
    if (!d) return;
    ss_json_doc_free(&d->doc);
    free(d);
}

const char *ss_decoder_errstr(const ss_decoder *d) { return d->errstr; }
const struct ss_json_doc *ss_decoder_json(const ss_decoder *d) { return &d->doc; }
const struct ss_json_tok *ss_decoder_record(const ss_decoder *d) { return d->record; }

static ss_decode_reason reject(ss_decoder *d, ss_decode_reason r, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static ss_decode_reason reject(ss_decoder *d, ss_decode_reason r, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->errstr, sizeof d->errstr, fmt, ap);
    va_end(ap);
    /* Messages quote input (keys, kinds) and may be cut mid-character by the buffer size;
     * they go to logs and the dead-letter stream, so keep them one line of valid UTF-8. */
    size_t n = strlen(d->errstr), bad;
    if (!ss_utf8_valid(d->errstr, n, &bad)) d->errstr[n = bad] = '\0';
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)d->errstr[i] < 0x20 || d->errstr[i] == 0x7f) d->errstr[i] = '?';
    d->record = NULL;
    return r;
}

const char *ss_decode_reason_name(ss_decode_reason r) {
    switch (r) {
    case SS_DECODE_OK: return "ok";
    case SS_DECODE_NOT_JSON: return "not_json";
    case SS_DECODE_BAD_UTF8: return "bad_utf8";
    case SS_DECODE_MISSING_FIELD: return "missing_field";
    case SS_DECODE_WRONG_TYPE: return "wrong_type";
    case SS_DECODE_BAD_VALUE: return "bad_value";
    case SS_DECODE_TOO_LARGE: return "too_large";
    case SS_DECODE_TOO_DEEP: return "too_deep";
    case SS_DECODE_OOM: return "oom";
    }
    return "unknown";
}

/* ---- field access with exact reasons ---------------------------------------------- */

/* Known keys: the envelope's and the payloads' (one namespace keeps the walk simple). */
enum {
    K_NONE = 0, K_DID, K_TIME_US, K_KIND, K_TYPE, K_COMMIT, K_IDENTITY, K_ACCOUNT,
    K_REV, K_OPERATION, K_COLLECTION, K_RKEY, K_RECORD, K_CID,
    K_SEQ, K_TIME, K_HANDLE, K_ACTIVE, K_STATUS, K_SYNC, K__COUNT
};

/* Key lookup without a chain of comparisons: (s[0] + 2*s[1] + 2*len) & 63 is distinct for
 * the 19 known keys (checked by the unit tests, which decode every one of them), so one
 * table probe and one memcmp identify a key. Unknown keys that collide fail the memcmp. */
static const char *const key_names[K__COUNT] = {
    [K_DID] = "did", [K_TIME_US] = "time_us", [K_KIND] = "kind", [K_TYPE] = "type",
    [K_COMMIT] = "commit", [K_IDENTITY] = "identity", [K_ACCOUNT] = "account", [K_REV] = "rev",
    [K_OPERATION] = "operation", [K_COLLECTION] = "collection", [K_RKEY] = "rkey",
    [K_RECORD] = "record", [K_CID] = "cid", [K_SEQ] = "seq", [K_TIME] = "time",
    [K_HANDLE] = "handle", [K_ACTIVE] = "active", [K_STATUS] = "status", [K_SYNC] = "sync",
};
static unsigned char key_slot[64]; /* hash -> key id; built once */
static unsigned char key_len[K__COUNT];

static inline unsigned key_hash(const char *s, size_t n) {
    return ((unsigned char)s[0] + 2u * (unsigned char)s[1] + 2u * (unsigned)n) & 63;
}

static void build_key_table(void) {
    for (int id = 1; id < K__COUNT; id++) {
        key_len[id] = (unsigned char)strlen(key_names[id]);
        key_slot[key_hash(key_names[id], key_len[id])] = (unsigned char)id;
    }
}

static inline int key_id(const ss_json_doc *doc, const ss_json_tok *k) {
    ss_str ks = {NULL, 0};
    ss_json_str(doc, k, &ks);
    if (ks.n < 3 || ks.n > 10) return K_NONE;
    int id = key_slot[key_hash(ks.p, ks.n)];
    return id && key_len[id] == ks.n && memcmp(ks.p, key_names[id], ks.n) == 0 ? id : K_NONE;
}

/* The values of known keys found in one object. `seen` says which entries of v are set,
 * so v needs no clearing (a 150-byte memset per object showed up in profiles). */
typedef struct {
    unsigned seen;
    const ss_json_tok *v[K__COUNT];
} fields;

static inline const ss_json_tok *fget(const fields *f, int k) {
    return (f->seen >> k) & 1 ? f->v[k] : NULL;
}

/* Collects the values of known keys among obj's members; the keys that may appear here
 * are in the bitmask `allowed`. A known key present twice is bad_value. */
static ss_decode_reason collect(ss_decoder *d, const ss_json_tok *obj, unsigned allowed, fields *f,
                                const char *where) {
    ss_json_iter it = ss_json_iter_of(&d->doc, obj);
    const ss_json_tok *k, *val;
    f->seen = 0;
    while (ss_json_iter_member(&it, &k, &val)) {
        int id = key_id(&d->doc, k);
        unsigned bit = 1u << id;
        if (!(allowed & bit)) continue; /* unknown keys have id 0, never allowed */
        if (f->seen & bit) {
            ss_str ks = {NULL, 0};
            ss_json_str(&d->doc, k, &ks);
            return reject(d, SS_DECODE_BAD_VALUE, "duplicate key %s%.*s", where, (int)ks.n, ks.p);
        }
        f->seen |= bit;
        f->v[id] = val;
    }
    return SS_DECODE_OK;
}

static ss_decode_reason need_str(ss_decoder *d, const ss_json_tok *t, const char *name, int nonempty,
                                 ss_str *out) {
    if (!t) return reject(d, SS_DECODE_MISSING_FIELD, "missing field %s", name);
    if (t->type != SS_JSON_STRING)
        return reject(d, SS_DECODE_WRONG_TYPE, "%s must be a string, not %s", name,
                      ss_json_type_name((ss_json_type)t->type));
    ss_json_str(&d->doc, t, out);
    if (nonempty && out->n == 0) return reject(d, SS_DECODE_BAD_VALUE, "%s is empty", name);
    return SS_DECODE_OK;
}

/* An optional string: absent or null leaves out untouched. */
static ss_decode_reason opt_str(ss_decoder *d, const ss_json_tok *t, const char *name, ss_str *out) {
    if (!t || t->type == SS_JSON_NULL) return SS_DECODE_OK;
    return need_str(d, t, name, 0, out);
}

static ss_decode_reason need_uint(ss_decoder *d, const ss_json_tok *t, const char *name, int64_t *out) {
    if (!t) return reject(d, SS_DECODE_MISSING_FIELD, "missing field %s", name);
    if (t->type != SS_JSON_NUMBER || !(t->flags & SS_JSON_F_INTEGER))
        return reject(d, SS_DECODE_WRONG_TYPE, "%s must be an integer, not %s", name,
                      t->type == SS_JSON_NUMBER ? "a fraction" : ss_json_type_name((ss_json_type)t->type));
    if (ss_json_int64(&d->doc, t, out) < 0)
        return reject(d, SS_DECODE_BAD_VALUE, "%s is out of the int64 range", name);
    if (*out < 0) return reject(d, SS_DECODE_BAD_VALUE, "%s is negative", name);
    return SS_DECODE_OK;
}

#define TRY(expr)                                   \
    do {                                            \
        ss_decode_reason r_ = (expr);               \
        if (r_ != SS_DECODE_OK) return r_;          \
    } while (0)
#define BIT(k) (1u << (k))

/* ---- the payloads ------------------------------------------------------------------ */

static ss_decode_reason decode_commit(ss_decoder *d, const ss_json_tok *c, ss_event *ev) {
    fields f;
    TRY(collect(d, c, BIT(K_REV) | BIT(K_OPERATION) | BIT(K_TYPE) | BIT(K_COLLECTION) | BIT(K_RKEY) |
                          BIT(K_RECORD) | BIT(K_CID) | BIT(K_TIME),
                &f, "commit."));
    /* commit.time is skyspool's own addition (the claimed time of a firehose frame); any
     * other type is some other producer's key and is ignored, as unknown keys are */
    if (fget(&f, K_TIME) && fget(&f, K_TIME)->type == SS_JSON_STRING) ss_json_str(&d->doc, fget(&f, K_TIME), &ev->claimed_time);
    ss_str op = {NULL, 0};
    if (fget(&f, K_OPERATION)) {
        TRY(need_str(d, fget(&f, K_OPERATION), "commit.operation", 0, &op));
        if (ss_str_eq(op, "create")) ev->op = SS_OP_CREATE;
        else if (ss_str_eq(op, "update")) ev->op = SS_OP_UPDATE;
        else if (ss_str_eq(op, "delete")) ev->op = SS_OP_DELETE;
        else return reject(d, SS_DECODE_BAD_VALUE, "unknown commit.operation \"%.*s\"", (int)(op.n > 40 ? 40 : op.n), op.p);
    } else if (fget(&f, K_TYPE)) { /* legacy */
        TRY(need_str(d, fget(&f, K_TYPE), "commit.type", 0, &op));
        if (ss_str_eq(op, "c")) ev->op = SS_OP_CREATE;
        else if (ss_str_eq(op, "u")) ev->op = SS_OP_UPDATE;
        else if (ss_str_eq(op, "d")) ev->op = SS_OP_DELETE;
        else return reject(d, SS_DECODE_BAD_VALUE, "unknown commit.type \"%.*s\"", (int)(op.n > 40 ? 40 : op.n), op.p);
    } else {
        return reject(d, SS_DECODE_MISSING_FIELD, "missing field commit.operation");
    }
    TRY(need_str(d, fget(&f, K_REV), "commit.rev", 1, &ev->rev));
    TRY(need_str(d, fget(&f, K_COLLECTION), "commit.collection", 1, &ev->collection));
    TRY(need_str(d, fget(&f, K_RKEY), "commit.rkey", 1, &ev->rkey));
    ev->type = ss_type_from_collection(ev->collection.p, ev->collection.n);
    if (ev->op == SS_OP_DELETE) return SS_DECODE_OK; /* no record, no cid */
    const ss_json_tok *rec = fget(&f, K_RECORD);
    if (!rec) return reject(d, SS_DECODE_MISSING_FIELD, "missing field commit.record");
    if (rec->type != SS_JSON_OBJECT)
        return reject(d, SS_DECODE_WRONG_TYPE, "commit.record must be an object, not %s",
                      ss_json_type_name((ss_json_type)rec->type));
    TRY(need_str(d, fget(&f, K_CID), "commit.cid", 1, &ev->cid));
    ev->record = ss_json_raw(&d->doc, rec);
    ev->record_tok = (uint32_t)(rec - d->doc.toks);
    d->record = rec;
    return SS_DECODE_OK;
}

static ss_decode_reason decode_identity(ss_decoder *d, const ss_json_tok *t, ss_event *ev) {
    fields f;
    TRY(collect(d, t, BIT(K_DID) | BIT(K_SEQ) | BIT(K_TIME) | BIT(K_HANDLE), &f, "identity."));
    ss_str did = {NULL, 0};
    TRY(need_str(d, fget(&f, K_DID), "identity.did", 1, &did));
    TRY(need_uint(d, fget(&f, K_SEQ), "identity.seq", &ev->seq));
    TRY(need_str(d, fget(&f, K_TIME), "identity.time", 0, &ev->time));
    ev->claimed_time = ev->time;
    TRY(opt_str(d, fget(&f, K_HANDLE), "identity.handle", &ev->handle));
    ev->type = SS_TYPE_IDENTITY;
    return SS_DECODE_OK;
}

static ss_decode_reason decode_account(ss_decoder *d, const ss_json_tok *t, ss_event *ev) {
    fields f;
    TRY(collect(d, t, BIT(K_DID) | BIT(K_SEQ) | BIT(K_TIME) | BIT(K_ACTIVE) | BIT(K_STATUS), &f,
                "account."));
    if (!fget(&f, K_ACTIVE)) return reject(d, SS_DECODE_MISSING_FIELD, "missing field account.active");
    if (ss_json_bool(fget(&f, K_ACTIVE), &ev->active) < 0)
        return reject(d, SS_DECODE_WRONG_TYPE, "account.active must be a boolean, not %s",
                      ss_json_type_name((ss_json_type)fget(&f, K_ACTIVE)->type));
    ss_str did = {NULL, 0};
    TRY(need_str(d, fget(&f, K_DID), "account.did", 1, &did));
    TRY(need_uint(d, fget(&f, K_SEQ), "account.seq", &ev->seq));
    TRY(need_str(d, fget(&f, K_TIME), "account.time", 0, &ev->time));
    ev->claimed_time = ev->time;
    TRY(opt_str(d, fget(&f, K_STATUS), "account.status", &ev->status));
    ev->type = SS_TYPE_ACCOUNT;
    return SS_DECODE_OK;
}

/* skyspool's own kind (Jetstream has none): {"kind":"sync","sync":{"did","rev","seq","time"}},
 * made by the firehose decoder from a #sync frame or a tooBig commit. */
static ss_decode_reason decode_sync(ss_decoder *d, const ss_json_tok *t, ss_event *ev) {
    fields f;
    TRY(collect(d, t, BIT(K_DID) | BIT(K_REV) | BIT(K_SEQ) | BIT(K_TIME), &f, "sync."));
    ss_str did = {NULL, 0};
    TRY(need_str(d, fget(&f, K_DID), "sync.did", 1, &did));
    TRY(need_str(d, fget(&f, K_REV), "sync.rev", 1, &ev->rev));
    TRY(need_uint(d, fget(&f, K_SEQ), "sync.seq", &ev->seq));
    TRY(need_str(d, fget(&f, K_TIME), "sync.time", 0, &ev->time));
    ev->claimed_time = ev->time;
    ev->type = SS_TYPE_SYNC;
    return SS_DECODE_OK;
}

/* ---- the envelope ------------------------------------------------------------------ */

static ss_decode_reason json_reason(ss_json_err e) {
    switch (e) {
    case SS_JSON_OK: return SS_DECODE_OK;
    case SS_JSON_ERR_SYNTAX:
    case SS_JSON_ERR_TRUNCATED: return SS_DECODE_NOT_JSON;
    case SS_JSON_ERR_UTF8:
    case SS_JSON_ERR_SURROGATE: return SS_DECODE_BAD_UTF8;
    case SS_JSON_ERR_TOO_LARGE:
    case SS_JSON_ERR_TOO_MANY: return SS_DECODE_TOO_LARGE;
    case SS_JSON_ERR_TOO_DEEP: return SS_DECODE_TOO_DEEP;
    case SS_JSON_ERR_OOM: return SS_DECODE_OOM;
    }
    return SS_DECODE_NOT_JSON;
}

/* Field by field rather than memset: a memset of the whole struct compiles to `rep stosq`,
 * whose start-up cost was the largest single item in ss_decode's profile. */
static inline void clear_event(ss_event *ev) {
    static const ss_str none = {NULL, 0};
    ev->kind = 0;
    ev->type = SS_TYPE_OTHER;
    ev->did = ev->collection = ev->rkey = ev->rev = ev->cid = ev->record = none;
    ev->time = ev->handle = ev->status = ev->claimed_time = none;
    ev->time_us = ev->seq = 0;
    ev->op = SS_OP_NONE;
    ev->active = -1;
    ev->raw = NULL;
    ev->raw_len = 0;
    ev->json = NULL;
    ev->record_tok = 0;
}

ss_decode_reason ss_decode(ss_decoder *d, const char *buf, size_t len, ss_event *ev) {
    clear_event(ev);
    d->record = NULL;
    d->errstr[0] = '\0';
    if (len && buf[len - 1] == '\n') len -= 1 + (len >= 2 && buf[len - 2] == '\r');
    ev->raw = buf;
    ev->raw_len = len;
    if (len > d->lim.max_bytes)
        return reject(d, SS_DECODE_TOO_LARGE, "document is %zu bytes, over the limit of %zu", len,
                      d->lim.max_bytes);

    ss_json_err je = ss_json_parse(&d->doc, buf, len);
    if (je != SS_JSON_OK) return reject(d, json_reason(je), "%s", d->doc.errstr);

    ev->json = &d->doc;
    const ss_json_tok *root = ss_json_root(&d->doc);
    if (root->type != SS_JSON_OBJECT)
        return reject(d, SS_DECODE_WRONG_TYPE, "the document must be an object, not %s",
                      ss_json_type_name((ss_json_type)root->type));
    fields f;
    TRY(collect(d, root, BIT(K_DID) | BIT(K_TIME_US) | BIT(K_KIND) | BIT(K_TYPE) | BIT(K_COMMIT) |
                             BIT(K_IDENTITY) | BIT(K_ACCOUNT) | BIT(K_SYNC),
                &f, ""));
    TRY(need_str(d, fget(&f, K_DID), "did", 1, &ev->did));
    TRY(need_uint(d, fget(&f, K_TIME_US), "time_us", &ev->time_us));

    ss_str kind = {NULL, 0};
    if (fget(&f, K_KIND)) {
        TRY(need_str(d, fget(&f, K_KIND), "kind", 0, &kind));
        if (ss_str_eq(kind, "commit")) ev->kind = SS_KIND_COMMIT;
        else if (ss_str_eq(kind, "identity")) ev->kind = SS_KIND_IDENTITY;
        else if (ss_str_eq(kind, "account")) ev->kind = SS_KIND_ACCOUNT;
        else if (ss_str_eq(kind, "sync")) ev->kind = SS_KIND_SYNC;
        else return reject(d, SS_DECODE_BAD_VALUE, "unknown kind \"%.*s\"", (int)(kind.n > 40 ? 40 : kind.n), kind.p);
    } else if (fget(&f, K_TYPE)) { /* legacy */
        TRY(need_str(d, fget(&f, K_TYPE), "type", 0, &kind));
        if (ss_str_eq(kind, "com")) ev->kind = SS_KIND_COMMIT;
        else if (ss_str_eq(kind, "id")) ev->kind = SS_KIND_IDENTITY;
        else if (ss_str_eq(kind, "acc")) ev->kind = SS_KIND_ACCOUNT;
        else return reject(d, SS_DECODE_BAD_VALUE, "unknown type \"%.*s\"", (int)(kind.n > 40 ? 40 : kind.n), kind.p);
    } else {
        return reject(d, SS_DECODE_MISSING_FIELD, "missing field kind");
    }

    static const char *const payload_name[] = {"", "commit", "identity", "account", "sync"};
    static const int payload_key[] = {0, K_COMMIT, K_IDENTITY, K_ACCOUNT, K_SYNC};
    const ss_json_tok *pl = fget(&f, payload_key[ev->kind]);
    if (!pl) return reject(d, SS_DECODE_MISSING_FIELD, "missing field %s", payload_name[ev->kind]);
    if (pl->type != SS_JSON_OBJECT)
        return reject(d, SS_DECODE_WRONG_TYPE, "%s must be an object, not %s", payload_name[ev->kind],
                      ss_json_type_name((ss_json_type)pl->type));
    switch (ev->kind) {
    case SS_KIND_COMMIT: return decode_commit(d, pl, ev);
    case SS_KIND_IDENTITY: return decode_identity(d, pl, ev);
    case SS_KIND_ACCOUNT: return decode_account(d, pl, ev);
    case SS_KIND_SYNC: return decode_sync(d, pl, ev);
    }
    return SS_DECODE_OK;
}
