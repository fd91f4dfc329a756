/* The Jetstream subscribe protocol, as far as transport needs it: no I/O here.
 *
 * The live client only needs each message's time_us (its cursor); the replay server
 * also needs kind and commit.collection to apply wantedCollections. Decoding a whole
 * event for that would cost more than the transport itself, so ss_js_peek walks the
 * top level of the JSON once, skipping values it does not need, and stops as soon as
 * it has what was asked for. It is a peek, not validation: the event decoder
 * downstream still checks every event. */
#ifndef SS_JS_PROTO_H
#define SS_JS_PROTO_H

#include <stddef.h>
#include <stdint.h>

#define SS_JS_PEEK_MAX_DEPTH 64 /* nesting the skipper follows before giving up */
#define SS_JS_FILTER_MAX 100    /* wantedCollections entries, as Jetstream allows */
#define SS_JS_NSID_MAX 317      /* longest NSID the atproto spec allows */

/* The five collections skyspool archives; identity and account always come. */
#define SS_JS_DEFAULT_COLLECTIONS \
    "app.bsky.feed.post,app.bsky.feed.like,app.bsky.feed.repost,app.bsky.graph.follow,app.bsky.graph.block"

enum { SS_JS_KIND_UNKNOWN = 0, SS_JS_KIND_COMMIT, SS_JS_KIND_IDENTITY, SS_JS_KIND_ACCOUNT, SS_JS_KIND_SYNC /* skyspool's own */ };

typedef struct {
    int64_t time_us;        /* -1 when absent or not a non-negative integer */
    int kind;               /* SS_JS_KIND_* */
    const char *collection; /* commit.collection, raw bytes between the quotes; NULL if absent */
    size_t collection_len;
    int64_t cursor;         /* the top-level integer "cursor" newer Jetstreams add; -1 when absent */
} ss_js_peek_result;

#define SS_JS_PEEK_COLLECTION 1 /* also find commit.collection */
#define SS_JS_PEEK_CURSOR 2     /* also find the top-level "cursor" (reads every top-level key) */

/* Peeks at one event. want is a mask of SS_JS_PEEK_*; 0 stops after time_us and kind
 * (1, the collection, for compatibility with older callers). Returns 0, or -1 when the
 * input is not a JSON object (the fields found so far are still set). */
int ss_js_peek(const char *p, size_t n, int want, ss_js_peek_result *out);

/* A wantedCollections filter: exact NSIDs and "prefix.*" forms. Empty = everything. */
typedef struct {
    char *items[SS_JS_FILTER_MAX];
    size_t n;
} ss_js_filter;

void ss_js_filter_init(ss_js_filter *f);
void ss_js_filter_free(ss_js_filter *f);
/* Adds one entry or a comma-separated list. Returns 0, or -1 with a message in err
 * (bad NSID, too many entries). */
int ss_js_filter_add(ss_js_filter *f, const char *list, char *err, size_t errlen);
/* 1 when a commit in this collection passes the filter. */
int ss_js_filter_match(const ss_js_filter *f, const char *coll, size_t n);

#endif
