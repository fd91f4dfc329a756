/* The archive schema and the event -> row mapping.
 *
 * One table of fields (name, Parquet type, nullability, encoding) is the single source of
 * truth and is the schema of every file; each archive type lists the fields it fills (the
 * rest are null in its files). docs/SCHEMA.md documents the same table, and a unit test
 * checks they agree.
 *
 * Mapping reads the record from the event decoder's JSON tokens (ss_event.json,
 * util/json.h): the event was tokenized and validated once, and the mapping only walks
 * the members of the keys a column needs, skipping any other subtree in one step. An
 * event built by hand, without tokens, has its record tokenized here.
 * A field of the wrong JSON type simply leaves its column null: the raw record is always
 * stored verbatim, so nothing is lost, and the typed columns never guess.
 *
 * Encoding choices, measured on 1M synth events (bench/results/convert.md): dictionary
 * for low-cardinality strings (kind, operation, collection, embed_type, langs, tags,
 * labels, status). Identifiers are PLAIN, did and subjects included: even with repeat
 * actors and popular posts, an hour of the firehose has far more distinct values than a
 * 1 MiB dictionary holds, the chunk falls back to PLAIN anyway, and zstd over PLAIN pages
 * catches the repeats within a page (dictionary did: 8.0 MB, PLAIN: 7.3 MB on the likes).
 *
 * Bloom filters for the identifiers researchers look up one at a time (did, subject_uri,
 * subject, reply_root_uri, reply_parent_uri): rows are in time order, so min/max of these
 * span the whole key space in every row group and prune nothing; a filter (~10 bits per
 * distinct value at 1 % false positives) lets a reader skip the row groups without the
 * value. This list lives here, not in parquet/, which knows nothing of Bluesky. */
#include <stdlib.h>
#include <string.h>

#include "archive/archive.h"
#include "util/json.h"

typedef enum {
    F_DID = 0,
    F_TIME_US,
    F_TIME,
    F_KIND,
    F_OPERATION,
    F_COLLECTION,
    F_RKEY,
    F_REV,
    F_CID,
    F_RECORD,
    F_CREATED_AT,
    F_TEXT,
    F_LANGS,
    F_REPLY_ROOT_URI,
    F_REPLY_ROOT_CID,
    F_REPLY_PARENT_URI,
    F_REPLY_PARENT_CID,
    F_EMBED_TYPE,
    F_EMBED_URI,
    F_MENTIONS,
    F_LINKS,
    F_TAGS,
    F_LABELS,
    F_SUBJECT_URI,
    F_SUBJECT_CID,
    F_VIA_URI,
    F_VIA_CID,
    F_SUBJECT,
    F_SEQ,
    F_RELAY_TIME,
    F_RELAY_TIME_TEXT,
    F_HANDLE,
    F_ACTIVE,
    F_STATUS,
    F_CLAIMED_TIME,
    F__COUNT
} ar_field;

/* name, type, optional, dictionary, bloom filter. The identifiers of posts (subject, reply
 * root, quoted post) are dictionary-encoded: likes, reposts, replies and quotes concentrate on
 * popular posts, so a row group repeats them; per-event identifiers (did, cid, rkey) are not
 * (docs/SCHEMA.md, Encodings). */
static const ss_pq_column g_fields[F__COUNT] = {
    [F_DID] = {"did", SS_PQ_STRING, 0, 0, 1},
    [F_TIME_US] = {"time_us", SS_PQ_INT64, 0, 0, 0},
    [F_TIME] = {"time", SS_PQ_TIMESTAMP_MICROS, 0, 0, 0},
    [F_KIND] = {"kind", SS_PQ_STRING, 0, 1, 0},
    [F_OPERATION] = {"operation", SS_PQ_STRING, 1, 1, 0},
    [F_COLLECTION] = {"collection", SS_PQ_STRING, 1, 1, 0},
    [F_RKEY] = {"rkey", SS_PQ_STRING, 1, 0, 0},
    [F_REV] = {"rev", SS_PQ_STRING, 1, 0, 0},
    [F_CID] = {"cid", SS_PQ_STRING, 1, 0, 0},
    [F_RECORD] = {"record", SS_PQ_STRING, 1, 0, 0},
    [F_CREATED_AT] = {"created_at", SS_PQ_TIMESTAMP_MICROS, 1, 0, 0},
    [F_TEXT] = {"text", SS_PQ_STRING, 1, 0, 0},
    [F_LANGS] = {"langs", SS_PQ_STRING_LIST, 1, 1, 0},
    [F_REPLY_ROOT_URI] = {"reply_root_uri", SS_PQ_STRING, 1, 1, 1},
    [F_REPLY_ROOT_CID] = {"reply_root_cid", SS_PQ_STRING, 1, 1, 0},
    [F_REPLY_PARENT_URI] = {"reply_parent_uri", SS_PQ_STRING, 1, 0, 1},
    [F_REPLY_PARENT_CID] = {"reply_parent_cid", SS_PQ_STRING, 1, 0, 0},
    [F_EMBED_TYPE] = {"embed_type", SS_PQ_STRING, 1, 1, 0},
    [F_EMBED_URI] = {"embed_uri", SS_PQ_STRING, 1, 1, 0},
    [F_MENTIONS] = {"mentions", SS_PQ_STRING_LIST, 1, 0, 0},
    [F_LINKS] = {"links", SS_PQ_STRING_LIST, 1, 0, 0},
    [F_TAGS] = {"tags", SS_PQ_STRING_LIST, 1, 1, 0},
    [F_LABELS] = {"labels", SS_PQ_STRING_LIST, 1, 1, 0},
    [F_SUBJECT_URI] = {"subject_uri", SS_PQ_STRING, 1, 1, 1},
    [F_SUBJECT_CID] = {"subject_cid", SS_PQ_STRING, 1, 1, 0},
    [F_VIA_URI] = {"via_uri", SS_PQ_STRING, 1, 0, 0},
    [F_VIA_CID] = {"via_cid", SS_PQ_STRING, 1, 0, 0},
    [F_SUBJECT] = {"subject", SS_PQ_STRING, 1, 0, 1},
    [F_SEQ] = {"seq", SS_PQ_INT64, 1, 0, 0},
    [F_RELAY_TIME] = {"relay_time", SS_PQ_TIMESTAMP_MICROS, 1, 0, 0},
    [F_RELAY_TIME_TEXT] = {"relay_time_text", SS_PQ_STRING, 1, 0, 0},
    [F_HANDLE] = {"handle", SS_PQ_STRING, 1, 0, 0},
    [F_ACTIVE] = {"active", SS_PQ_BOOLEAN, 1, 0, 0},
    [F_STATUS] = {"status", SS_PQ_STRING, 1, 1, 0},
    [F_CLAIMED_TIME] = {"claimed_time", SS_PQ_TIMESTAMP_MICROS, 1, 0, 0},
};

/* Which fields each type fills; every other column is null in that type's files.
 *
 * The file schema is the same for every type: all fields in table order. One schema means
 * read_parquet() over the whole directory reads the archive without union_by_name (DuckDB
 * rejects a glob whose files differ in columns); a column that is null in every row of a
 * row group costs a few bytes of levels and its chunk metadata. */
#define B(f) (1ULL << (f))
#define COMMIT_MASK \
    (B(F_DID) | B(F_TIME_US) | B(F_TIME) | B(F_KIND) | B(F_OPERATION) | B(F_COLLECTION) | B(F_RKEY) | B(F_REV) | \
     B(F_CID) | B(F_RECORD) | B(F_CLAIMED_TIME))
#define REPO_MASK \
    (B(F_DID) | B(F_TIME_US) | B(F_TIME) | B(F_KIND) | B(F_SEQ) | B(F_RELAY_TIME) | B(F_RELAY_TIME_TEXT) | B(F_CLAIMED_TIME))
#define POST_MASK                                                                                            \
    (COMMIT_MASK | B(F_CREATED_AT) | B(F_TEXT) | B(F_LANGS) | B(F_REPLY_ROOT_URI) | B(F_REPLY_ROOT_CID) |    \
     B(F_REPLY_PARENT_URI) | B(F_REPLY_PARENT_CID) | B(F_EMBED_TYPE) | B(F_EMBED_URI) | B(F_MENTIONS) |     \
     B(F_LINKS) | B(F_TAGS) | B(F_LABELS))
#define LIKE_MASK (COMMIT_MASK | B(F_CREATED_AT) | B(F_SUBJECT_URI) | B(F_SUBJECT_CID) | B(F_VIA_URI) | B(F_VIA_CID))
#define FOLLOW_MASK (COMMIT_MASK | B(F_CREATED_AT) | B(F_SUBJECT))

static const uint64_t g_masks[SS_TYPE__COUNT] = {
    [SS_TYPE_POST] = POST_MASK,
    [SS_TYPE_LIKE] = LIKE_MASK,
    [SS_TYPE_REPOST] = LIKE_MASK,
    [SS_TYPE_FOLLOW] = FOLLOW_MASK,
    [SS_TYPE_BLOCK] = FOLLOW_MASK,
    [SS_TYPE_IDENTITY] = REPO_MASK | B(F_HANDLE),
    [SS_TYPE_ACCOUNT] = REPO_MASK | B(F_ACTIVE) | B(F_STATUS),
    [SS_TYPE_OTHER] = COMMIT_MASK,
    [SS_TYPE_SYNC] = REPO_MASK | B(F_REV), /* which repo to backfill, at which rev */
};

static const uint64_t *type_mask(ss_type t) { return (unsigned)t < SS_TYPE__COUNT ? &g_masks[t] : NULL; }

const ss_pq_column *ss_ar_schema(ss_type t, size_t *ncols) {
    if ((unsigned)t >= SS_TYPE__COUNT) return NULL;
    if (ncols) *ncols = F__COUNT;
    return g_fields;
}

int ss_ar_type_has_column(ss_type t, size_t col) {
    const uint64_t *m = type_mask(t);
    return m && col < F__COUNT && ((*m >> col) & 1);
}

/* ---- mapping ------------------------------------------------------------------------------ */

typedef struct {
    size_t start, n;
    int present;
} list_acc;

typedef struct {
    ss_str *v;
    size_t n, cap;
} side_list;

struct ss_ar_mapper {
    side_list links_tmp, tags_tmp;
    ss_str *items;
    size_t items_n, items_cap;
    int truncated;
    ss_json_doc doc; /* records of events without the decoder's tokens; set up on first use */
    int doc_ready;
};

ss_ar_mapper *ss_ar_mapper_new(void) { return calloc(1, sizeof(ss_ar_mapper)); }

void ss_ar_mapper_free(ss_ar_mapper *m) {
    if (!m) return;
    if (m->doc_ready) ss_json_doc_free(&m->doc);
    free(m->items);
    free(m->links_tmp.v);
    free(m->tags_tmp.v);
    free(m);
}

/* Scratch kept between rows is capped so one huge record does not pin its size forever. */
#define SCRATCH_KEEP (256u << 10)

static void list_start(ss_ar_mapper *m, list_acc *l) {
    l->start = m->items_n;
    l->n = 0;
    l->present = 1;
}

/* Appends s to a growable array of slices (kept across rows). 0, or -1 out of memory. */
static int push_str(ss_str **v, size_t *n, size_t *cap, ss_str s) {
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 64;
        ss_str *p = realloc(*v, c * sizeof *p);
        if (!p) return -1;
        *v = p;
        *cap = c;
    }
    (*v)[(*n)++] = s;
    return 0;
}

/* Appends to the list being built; lists are built one after another, never interleaved. */
static int list_add(ss_ar_mapper *m, list_acc *l, ss_str s) {
    if (l->n >= SS_AR_MAX_LIST_ITEMS) {
        m->truncated = 1;
        return 0;
    }
    if (push_str(&m->items, &m->items_n, &m->items_cap, s) != 0) return -1;
    l->n++;
    return 0;
}

typedef struct {
    ss_ar_mapper *m;
    const ss_json_doc *d;
    list_acc langs, mentions, links, tags, labels;
    int oom;
} map_ctx;

static void add(map_ctx *x, list_acc *l, ss_str s) {
    if (list_add(x->m, l, s) != 0) x->oom = 1;
}

/* Iterators over an object's members or an array's elements that yield nothing when the
 * value has another type. A repeated key is visited again, so its last value wins. */
static inline ss_json_iter members_of(const map_ctx *x, const ss_json_tok *t) {
    return ss_json_iter_of(x->d, ss_json_is(t, SS_JSON_OBJECT) ? t : NULL);
}
static inline ss_json_iter elements_of(const map_ctx *x, const ss_json_tok *t) {
    return ss_json_iter_of(x->d, ss_json_is(t, SS_JSON_ARRAY) ? t : NULL);
}

/* Compares a member's key with a literal; keys are unescaped first (rarely needed). */
static inline int key_is(const map_ctx *x, const ss_json_tok *k, const char *lit, size_t n) {
    ss_str s = {NULL, 0};
    ss_json_str(x->d, k, &s);
    return s.n == n && memcmp(s.p, lit, n) == 0;
}
#define KEY(k, lit) key_is(x, (k), lit, sizeof(lit) - 1)
#define IS(s, lit) ((s).n == sizeof(lit) - 1 && memcmp((s).p, lit, sizeof(lit) - 1) == 0)

/* A string value, or null for any other type. */
static void read_str(map_ctx *x, const ss_json_tok *v, ss_str *out) {
    if (ss_json_str(x->d, v, out) != 0) out->p = NULL, out->n = 0;
}

static void read_time(map_ctx *x, const ss_json_tok *v, int *has, int64_t *t) {
    ss_str s = {0};
    read_str(x, v, &s);
    *has = s.p && ss_ar_parse_rfc3339(s.p, s.n, t) == 0;
}

/* A JSON array of strings; non-string elements are skipped. A non-array leaves l absent. */
static void read_str_list(map_ctx *x, const ss_json_tok *v, list_acc *l) {
    if (!ss_json_is(v, SS_JSON_ARRAY)) return;
    list_start(x->m, l);
    const ss_json_tok *el;
    for (ss_json_iter it = elements_of(x, v); (el = ss_json_iter_next(&it));) {
        ss_str s = {0};
        read_str(x, el, &s);
        if (s.p) add(x, l, s);
    }
}

/* A strongRef {uri, cid}. */
static void read_ref(map_ctx *x, const ss_json_tok *v, ss_str *uri, ss_str *cid) {
    const ss_json_tok *k, *val;
    for (ss_json_iter it = members_of(x, v); ss_json_iter_member(&it, &k, &val);) {
        if (KEY(k, "uri")) read_str(x, val, uri);
        else if (KEY(k, "cid")) read_str(x, val, cid);
    }
}

static void read_reply(map_ctx *x, const ss_json_tok *v, ss_ar_row *r) {
    const ss_json_tok *k, *val;
    for (ss_json_iter it = members_of(x, v); ss_json_iter_member(&it, &k, &val);) {
        if (KEY(k, "root")) read_ref(x, val, &r->reply_root_uri, &r->reply_root_cid);
        else if (KEY(k, "parent")) read_ref(x, val, &r->reply_parent_uri, &r->reply_parent_cid);
    }
}

/* The "record" member of an embed: a strongRef for app.bsky.embed.record, or
 * {record: strongRef} for app.bsky.embed.recordWithMedia. Both URIs are collected and the
 * embed's $type (which may come later in the object) picks one. */
static void read_embed_record(map_ctx *x, const ss_json_tok *v, ss_str *uri, ss_str *inner_uri) {
    const ss_json_tok *k, *val;
    ss_str cid_unused = {0};
    for (ss_json_iter it = members_of(x, v); ss_json_iter_member(&it, &k, &val);) {
        if (KEY(k, "uri")) read_str(x, val, uri);
        else if (KEY(k, "record")) read_ref(x, val, inner_uri, &cid_unused);
    }
}

static void read_embed(map_ctx *x, const ss_json_tok *v, ss_ar_row *r) {
    if (!ss_json_is(v, SS_JSON_OBJECT)) return;
    const ss_json_tok *k, *val;
    ss_str type = {0}, ext_uri = {0}, rec_uri = {0}, rwm_uri = {0}, cid_unused = {0};
    for (ss_json_iter it = members_of(x, v); ss_json_iter_member(&it, &k, &val);) {
        if (KEY(k, "$type")) read_str(x, val, &type);
        else if (KEY(k, "external")) read_ref(x, val, &ext_uri, &cid_unused);
        else if (KEY(k, "record")) read_embed_record(x, val, &rec_uri, &rwm_uri);
    }
    r->embed_type = type;
    if (IS(type, "app.bsky.embed.external")) r->embed_uri = ext_uri;
    else if (IS(type, "app.bsky.embed.record")) r->embed_uri = rec_uri;
    else if (IS(type, "app.bsky.embed.recordWithMedia")) r->embed_uri = rwm_uri;
}

/* One facet feature: {$type, did | uri | tag}, keys in any order. */
static void read_feature(map_ctx *x, const ss_json_tok *v, ss_str *mention, ss_str *link, ss_str *tag) {
    const ss_json_tok *k, *val;
    ss_str type = {0}, did = {0}, uri = {0}, tg = {0};
    for (ss_json_iter it = members_of(x, v); ss_json_iter_member(&it, &k, &val);) {
        if (KEY(k, "$type")) read_str(x, val, &type);
        else if (KEY(k, "did")) read_str(x, val, &did);
        else if (KEY(k, "uri")) read_str(x, val, &uri);
        else if (KEY(k, "tag")) read_str(x, val, &tg);
    }
    if (IS(type, "app.bsky.richtext.facet#mention")) *mention = did;
    else if (IS(type, "app.bsky.richtext.facet#link")) *link = uri;
    else if (IS(type, "app.bsky.richtext.facet#tag")) *tag = tg;
}

/* Facets feed three lists at once, but lists are built one after another in the item
 * array; so mentions are appended there directly while links and tags wait in two side
 * arrays (kept in the mapper, reused across rows) and are appended after the facets. */
static int side_add(side_list *s, ss_str v) {
    if (s->n >= SS_AR_MAX_LIST_ITEMS) return 1;
    return push_str(&s->v, &s->n, &s->cap, v);
}

static void read_facets(map_ctx *x, const ss_json_tok *v) {
    if (!ss_json_is(v, SS_JSON_ARRAY)) return;
    side_list *links = &x->m->links_tmp, *tags = &x->m->tags_tmp;
    links->n = tags->n = 0;
    list_start(x->m, &x->mentions);
    const ss_json_tok *facet, *k, *val, *feature;
    for (ss_json_iter it = elements_of(x, v); (facet = ss_json_iter_next(&it));) {
        for (ss_json_iter fit = members_of(x, facet); ss_json_iter_member(&fit, &k, &val);) {
            if (!KEY(k, "features")) continue;
            for (ss_json_iter vit = elements_of(x, val); (feature = ss_json_iter_next(&vit));) {
                ss_str mention = {0}, link = {0}, tag = {0};
                read_feature(x, feature, &mention, &link, &tag);
                int r = 0;
                if (mention.p) add(x, &x->mentions, mention);
                if (link.p) r = side_add(links, link);
                if (tag.p && r >= 0) r = side_add(tags, tag);
                if (r < 0) x->oom = 1;
                if (r > 0) x->m->truncated = 1;
            }
        }
    }
    list_start(x->m, &x->links);
    for (size_t i = 0; i < links->n; i++) add(x, &x->links, links->v[i]);
    list_start(x->m, &x->tags);
    for (size_t i = 0; i < tags->n; i++) add(x, &x->tags, tags->v[i]);
}

/* Self-labels: {"$type": "com.atproto.label.defs#selfLabels", "values": [{"val": ...}]}. */
static void read_labels(map_ctx *x, const ss_json_tok *v) {
    const ss_json_tok *k, *val, *label, *lk, *lv;
    for (ss_json_iter it = members_of(x, v); ss_json_iter_member(&it, &k, &val);) {
        if (!KEY(k, "values") || !ss_json_is(val, SS_JSON_ARRAY)) continue;
        list_start(x->m, &x->labels);
        for (ss_json_iter vit = elements_of(x, val); (label = ss_json_iter_next(&vit));) {
            for (ss_json_iter lbl = members_of(x, label); ss_json_iter_member(&lbl, &lk, &lv);) {
                ss_str s = {0};
                if (KEY(lk, "val")) read_str(x, lv, &s);
                if (s.p) add(x, &x->labels, s);
            }
        }
    }
}

static void map_post(map_ctx *x, const ss_json_tok *rec, ss_ar_row *r) {
    const ss_json_tok *k, *v;
    for (ss_json_iter it = members_of(x, rec); ss_json_iter_member(&it, &k, &v);) {
        if (KEY(k, "text")) read_str(x, v, &r->text);
        else if (KEY(k, "createdAt")) read_time(x, v, &r->has_created_at, &r->created_at);
        else if (KEY(k, "langs")) read_str_list(x, v, &x->langs);
        else if (KEY(k, "reply")) read_reply(x, v, r);
        else if (KEY(k, "embed")) read_embed(x, v, r);
        else if (KEY(k, "facets")) read_facets(x, v);
        else if (KEY(k, "labels")) read_labels(x, v);
    }
}

static void map_like(map_ctx *x, const ss_json_tok *rec, ss_ar_row *r) {
    const ss_json_tok *k, *v;
    for (ss_json_iter it = members_of(x, rec); ss_json_iter_member(&it, &k, &v);) {
        if (KEY(k, "createdAt")) read_time(x, v, &r->has_created_at, &r->created_at);
        else if (KEY(k, "subject")) read_ref(x, v, &r->subject_uri, &r->subject_cid);
        else if (KEY(k, "via")) read_ref(x, v, &r->via_uri, &r->via_cid);
    }
}

static void map_follow(map_ctx *x, const ss_json_tok *rec, ss_ar_row *r) {
    const ss_json_tok *k, *v;
    for (ss_json_iter it = members_of(x, rec); ss_json_iter_member(&it, &k, &v);) {
        if (KEY(k, "createdAt")) read_time(x, v, &r->has_created_at, &r->created_at);
        else if (KEY(k, "subject")) read_str(x, v, &r->subject);
    }
}

static ss_ar_list finish_list(ss_ar_mapper *m, const list_acc *l) {
    ss_ar_list out = {NULL, 0, 0};
    if (!l->present) return out;
    out.present = 1;
    out.n = l->n;
    out.v = l->n ? m->items + l->start : NULL;
    return out;
}

/* The record's token in the decoder's document, when the event carries one that still
 * describes ev->record (else NULL: a hand-built or edited event). A decoder allowing
 * nesting deep enough to put a record over SS_AR_MAX_DEPTH (the envelope and the commit
 * object take two levels) does not count: the record is parsed again under the limit. */
static const ss_json_tok *decoder_record(const ss_event *ev) {
    const ss_json_doc *d = ev->json;
    if (!d || !ev->record_tok || ev->record_tok >= d->ntoks || d->lim.max_depth > SS_AR_MAX_DEPTH + 2) return NULL;
    const ss_json_tok *t = d->toks + ev->record_tok;
    if (t->type != SS_JSON_OBJECT || d->buf + t->start != ev->record.p || t->len != ev->record.n) return NULL;
    return t;
}

/* Tokenizes a record that came without the decoder's tokens, leniently about text (the
 * Parquet writer repairs invalid UTF-8 and counts it). Returns the root object, NULL
 * when the record is not a well-formed JSON object; -1 in *oom when memory ran out. */
static const ss_json_tok *parse_record(ss_ar_mapper *m, ss_str rec, int *oom) {
    if (m->doc_ready && m->doc.arenacap > SCRATCH_KEEP && rec.n < SCRATCH_KEEP / 2) {
        ss_json_doc_free(&m->doc);
        m->doc_ready = 0;
    }
    if (!m->doc_ready) {
        ss_json_limits lim = {(size_t)-1, SS_AR_MAX_DEPTH, (size_t)-1}; /* no limits but depth */
        if (ss_json_doc_init(&m->doc, &lim) != 0) return *oom = 1, NULL;
        ss_json_doc_lenient_text(&m->doc, 1);
        m->doc_ready = 1;
    }
    ss_json_err e = ss_json_parse(&m->doc, rec.p, rec.n);
    if (e == SS_JSON_ERR_OOM) *oom = 1;
    return e == SS_JSON_OK && m->doc.toks[0].type == SS_JSON_OBJECT ? m->doc.toks : NULL;
}

int ss_ar_map(ss_ar_mapper *m, const ss_event *ev, ss_ar_row *r) {
    memset(r, 0, sizeof *r);
    r->type = ev->type;
    if (ev->claimed_time.p)
        r->has_claimed_time = ss_ar_parse_rfc3339(ev->claimed_time.p, ev->claimed_time.n, &r->claimed_time) == 0;
    if (ev->kind != SS_KIND_COMMIT) {
        if (ev->time.p) r->has_relay_time = ss_ar_parse_rfc3339(ev->time.p, ev->time.n, &r->relay_time) == 0;
        return 0;
    }
    if (!ev->record.p || ev->type == SS_TYPE_OTHER) return 0;

    map_ctx x;
    memset(&x, 0, sizeof x);
    x.m = m;
    const ss_json_tok *rec = decoder_record(ev);
    if (rec) {
        x.d = ev->json;
    } else {
        rec = parse_record(m, ev->record, &x.oom);
        if (x.oom) return -1;
        if (!rec) {
            r->flags |= SS_AR_ROW_RECORD_UNPARSED;
            return 0;
        }
        x.d = &m->doc;
    }
    m->items_n = 0;
    m->truncated = 0;
    switch (ev->type) {
    case SS_TYPE_POST: map_post(&x, rec, r); break;
    case SS_TYPE_LIKE:
    case SS_TYPE_REPOST: map_like(&x, rec, r); break;
    case SS_TYPE_FOLLOW:
    case SS_TYPE_BLOCK: map_follow(&x, rec, r); break;
    default: break;
    }
    if (x.oom) return -1;
    if (m->truncated) r->flags |= SS_AR_ROW_LIST_TRUNCATED;
    r->langs = finish_list(m, &x.langs);
    r->mentions = finish_list(m, &x.mentions);
    r->links = finish_list(m, &x.links);
    r->tags = finish_list(m, &x.tags);
    r->labels = finish_list(m, &x.labels);
    return 0;
}

/* ---- writing a row ------------------------------------------------------------------------ */

/* A column left unset in a row is null (parquet.h), so nulls cost no call at all: with one
 * schema for all types most columns of a row are null, and explicit set_null calls were
 * 4 % of convert's CPU time. */
static int set_str(ss_pq_writer *w, size_t col, ss_str s) {
    return s.p ? ss_pq_set_string(w, col, s.p, s.n) : 0;
}

static int set_list(ss_pq_writer *w, size_t col, const ss_ar_list *l) {
    if (!l->present) return 0;
    if (ss_pq_list_begin(w, col) != 0) return -1;
    for (size_t i = 0; i < l->n; i++)
        if (ss_pq_list_add(w, col, l->v[i].p, l->v[i].n) != 0) return -1;
    return 0;
}

static const char *kind_name(ss_kind k) {
    switch (k) {
    case SS_KIND_COMMIT: return "commit";
    case SS_KIND_IDENTITY: return "identity";
    case SS_KIND_ACCOUNT: return "account";
    case SS_KIND_SYNC: return "sync";
    }
    return "";
}

static int set_field(ss_pq_writer *w, size_t col, ar_field f, const ss_event *ev, const ss_ar_row *r) {
    switch (f) {
    case F_DID: return set_str(w, col, ev->did);
    case F_TIME_US:
    case F_TIME: return ss_pq_set_int64(w, col, ev->time_us);
    case F_KIND: {
        const char *k = kind_name(ev->kind);
        return ss_pq_set_string(w, col, k, strlen(k));
    }
    case F_OPERATION: {
        const char *o = ss_op_name(ev->op);
        return ss_pq_set_string(w, col, o, strlen(o));
    }
    case F_COLLECTION: return set_str(w, col, ev->collection);
    case F_RKEY: return set_str(w, col, ev->rkey);
    case F_REV: return set_str(w, col, ev->rev);
    case F_CID: return set_str(w, col, ev->cid);
    case F_RECORD: return set_str(w, col, ev->record);
    case F_CREATED_AT:
        return r->has_created_at ? ss_pq_set_int64(w, col, r->created_at) : 0;
    case F_TEXT: return set_str(w, col, r->text);
    case F_LANGS: return set_list(w, col, &r->langs);
    case F_REPLY_ROOT_URI: return set_str(w, col, r->reply_root_uri);
    case F_REPLY_ROOT_CID: return set_str(w, col, r->reply_root_cid);
    case F_REPLY_PARENT_URI: return set_str(w, col, r->reply_parent_uri);
    case F_REPLY_PARENT_CID: return set_str(w, col, r->reply_parent_cid);
    case F_EMBED_TYPE: return set_str(w, col, r->embed_type);
    case F_EMBED_URI: return set_str(w, col, r->embed_uri);
    case F_MENTIONS: return set_list(w, col, &r->mentions);
    case F_LINKS: return set_list(w, col, &r->links);
    case F_TAGS: return set_list(w, col, &r->tags);
    case F_LABELS: return set_list(w, col, &r->labels);
    case F_SUBJECT_URI: return set_str(w, col, r->subject_uri);
    case F_SUBJECT_CID: return set_str(w, col, r->subject_cid);
    case F_VIA_URI: return set_str(w, col, r->via_uri);
    case F_VIA_CID: return set_str(w, col, r->via_cid);
    case F_SUBJECT: return set_str(w, col, r->subject);
    case F_SEQ: return ss_pq_set_int64(w, col, ev->seq);
    case F_RELAY_TIME: return r->has_relay_time ? ss_pq_set_int64(w, col, r->relay_time) : 0;
    case F_RELAY_TIME_TEXT: return set_str(w, col, ev->time);
    case F_HANDLE: return set_str(w, col, ev->handle);
    case F_ACTIVE: return ss_pq_set_bool(w, col, ev->active > 0);
    case F_STATUS: return set_str(w, col, ev->status);
    case F_CLAIMED_TIME: return r->has_claimed_time ? ss_pq_set_int64(w, col, r->claimed_time) : 0;
    case F__COUNT: break;
    }
    return -1;
}

int ss_ar_write_row(ss_pq_writer *w, const ss_event *ev, const ss_ar_row *r) {
    const uint64_t *m = type_mask(ev->type);
    if (!m) return -1;
    for (uint64_t bits = *m; bits; bits &= bits - 1) {
        size_t i = (size_t)__builtin_ctzll(bits);
        if (set_field(w, i, (ar_field)i, ev, r) != 0) return -1;
    }
    return ss_pq_end_row(w);
}
