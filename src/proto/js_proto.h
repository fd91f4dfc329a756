/* The Jetstream subscribe protocol, as far as transport needs it: no I/O here.
 *
 * The live client only needs each message's time_us (its cursor); the replay server
 * also needs kind, commit.collection and did to apply wantedCollections and wantedDids,
 * and reads and writes the options_update subscriber message. Decoding a whole
 * event for that would cost more than the transport itself, so ss_js_peek walks the
 * top level of the JSON once, skipping values it does not need, and stops as soon as
 * it has what was asked for. It is a peek, not validation: the event decoder
 * downstream still checks every event. */
#ifndef SS_JS_PROTO_H
#define SS_JS_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

#define SS_JS_PEEK_MAX_DEPTH 64 /* nesting the skipper follows before giving up */
#define SS_JS_FILTER_MAX 100    /* wantedCollections entries, as Jetstream allows */
#define SS_JS_NSID_MAX 317      /* longest NSID the atproto spec allows */
#define SS_JS_DIDS_MAX 10000    /* wantedDids entries (after removing repeats), as Jetstream allows */
#define SS_JS_DID_MAX 2048      /* longest DID the atproto spec allows */
#define SS_JS_SUB_MSG_MAX 10000000 /* a subscriber message (options_update), as Jetstream allows */

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
    const char *did;        /* with SS_JS_PEEK_DID: the top-level "did", raw bytes between the quotes */
    size_t did_len;
} ss_js_peek_result;

#define SS_JS_PEEK_COLLECTION 1 /* also find commit.collection */
#define SS_JS_PEEK_CURSOR 2     /* also find the top-level "cursor" (reads every top-level key) */
#define SS_JS_PEEK_DID 4        /* also find the top-level "did" */

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

/* A wantedDids set: sorted and without repeats once finished, for binary search. Jetstream
 * applies it to every kind of event (identity and account too); empty = every DID. */
typedef struct {
    char **items;
    size_t n, cap;
} ss_js_dids;

void ss_js_dids_init(ss_js_dids *d);
void ss_js_dids_free(ss_js_dids *d);
/* Adds one DID (n bytes at p): "did:" then DID characters, at most SS_JS_DID_MAX bytes.
 * Returns 0, or -1 with a message in err. Call ss_js_dids_finish after the last add. */
int ss_js_dids_add(ss_js_dids *d, const char *p, size_t n, char *err, size_t errlen);
/* Adds every DID of a text: separated by commas, spaces or newlines; '#' starts a comment
 * to the end of the line (a file of DIDs, or a comma list). Then finishes. */
int ss_js_dids_parse(ss_js_dids *d, const char *text, size_t n, char *err, size_t errlen);
/* Sorts, removes repeats and checks the count (at most SS_JS_DIDS_MAX). 0 or -1 + err. */
int ss_js_dids_finish(ss_js_dids *d, char *err, size_t errlen);
/* 1 when the set is empty or holds the DID. */
int ss_js_dids_match(const ss_js_dids *d, const char *did, size_t n);
int ss_js_dids_equal(const ss_js_dids *a, const ss_js_dids *b);

/* Appends Jetstream's subscriber message that replaces a connection's filter:
 * {"type":"options_update","payload":{"wantedCollections":[..],"wantedDids":[..],
 * "maxMessageSizeBytes":N}} (an empty list = everything; max_size 0 = no cap). */
int ss_js_options_update(ss_buf *out, const ss_js_filter *colls, const ss_js_dids *dids, int64_t max_size);
/* Reads a subscriber message. Returns 0 with colls, dids (finished) and *max_size filled
 * (they are reset first) for an options_update, 1 for another type (ignored, as Jetstream
 * does), -1 with err when it is not valid (Jetstream then drops the connection). */
int ss_js_options_parse(const char *p, size_t n, ss_js_filter *colls, ss_js_dids *dids, int64_t *max_size, char *err,
                        size_t errlen);

#endif
