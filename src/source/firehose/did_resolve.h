/* Live DID resolution for commit signatures: an account's DID document fetched over HTTP(S)
 * when the did-cache does not hold it (did:plc from a PLC directory, GET <dir>/<did>;
 * did:web from https://<host>/.well-known/did.json), with libcurl.
 *
 * It runs in the source's thread, synchronously, so every bound is about not stalling
 * ingest: a short connect timeout (SS_DID_CONNECT_MS) and total timeout (SS_DID_TOTAL_MS),
 * a response size limit (SS_DID_DOC_MAX); a failed DID is not asked again before its
 * backoff ends (SS_DID_RETRY_MIN_S doubling up to SS_DID_RETRY_MAX_S); and after
 * SS_DID_DOWN_AFTER consecutive transport failures the resolver considers the network down
 * and makes no request at all for SS_DID_DOWN_MIN_S (doubling up to SS_DID_DOWN_MAX_S)
 * except one probe when that ends. A dead network therefore costs at most a few timeouts,
 * then nothing but a counter. A background resolver thread would hide even those, at the
 * price of commits passing unchecked while their key is fetched; the synchronous form keeps
 * "checked when resolvable" exact and is simple to reason about.
 *
 * What was resolved is kept in memory, at most SS_DID_RESOLVED_MAX DIDs (least recently
 * used dropped first), and, when a directory is given, written there as <did>.json
 * (atomically: a temporary file renamed) so a restart starts warm. A signature failure
 * may ask again (a rotated key), at most once per SS_DID_REFRESH_MIN_S per DID. */
#ifndef SS_DID_RESOLVE_H
#define SS_DID_RESOLVE_H

#include <stddef.h>
#include <stdint.h>

#include "source/firehose/fh_sig.h"

#define SS_DID_CONNECT_MS 5000
#define SS_DID_TOTAL_MS 10000
#define SS_DID_DOC_MAX (64u * 1024)  /* bytes of a DID document accepted */
#define SS_DID_LEN_MAX 2048          /* bytes of a DID resolved */
#define SS_DID_URL_MAX 4096
#define SS_DID_RESOLVED_MAX 100000   /* DIDs kept in memory (LRU) */
#define SS_DID_RETRY_MIN_S 60
#define SS_DID_RETRY_MAX_S 1800
#define SS_DID_DOWN_AFTER 3
#define SS_DID_DOWN_MIN_S 30
#define SS_DID_DOWN_MAX_S 300
#define SS_DID_REFRESH_MIN_S 60
#define SS_DID_NOT_FOUND_S 600       /* a DID the directory does not know: asked again after this */

typedef struct ss_did_resolver ss_did_resolver;

typedef struct {
    const char *plc_directory; /* base URL, default https://plc.directory */
    const char *write_dir;     /* NULL, or a directory to write resolved documents into */
    int connect_timeout_ms;    /* SS_DID_CONNECT_MS */
    int total_timeout_ms;      /* SS_DID_TOTAL_MS */
    size_t max_entries;        /* SS_DID_RESOLVED_MAX */
} ss_did_resolver_opts;

/* NULL with err when libcurl cannot be set up (or skyspool was built without it). */
ss_did_resolver *ss_did_resolver_new(const ss_did_resolver_opts *o, char *err, size_t errlen);
void ss_did_resolver_free(ss_did_resolver *r);

enum { SS_DID_KEY = 1, SS_DID_NO_KEY = 0, SS_DID_FAILED = -1 };

/* The key of did (n bytes): SS_DID_KEY with *key; SS_DID_NO_KEY when the document has no
 * atproto key, the DID is unknown (404) or not resolvable (another method), or (refresh)
 * nothing newer may be fetched yet; SS_DID_FAILED when the request failed now or earlier
 * (network, timeout, HTTP error, bad document: see the backoff above). refresh = a key
 * failed: fetch again (rate-limited). */
int ss_did_resolver_key(ss_did_resolver *r, const char *did, size_t n, int refresh, ss_fh_pubkey *key);

/* 1 with *key when did was resolved to a key already (no request), else 0. */
int ss_did_resolver_peek(ss_did_resolver *r, const char *did, size_t n, ss_fh_pubkey *key);

/* The URL of did's document into out (cap bytes): 0, or -1 when did is not did:plc/did:web
 * or malformed. did:web per the did:web spec: ':' separates path segments, "%3A" in the
 * host is a port, no path means /.well-known. */
int ss_did_doc_url(const char *plc_directory, const char *did, size_t n, char *out, size_t cap);

typedef struct {
    uint64_t requests, failures; /* HTTP requests made; of which failed */
} ss_did_resolver_stats;
void ss_did_resolver_get_stats(const ss_did_resolver *r, ss_did_resolver_stats *out);

#endif
