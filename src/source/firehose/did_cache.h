/* A DID-document cache for commit signatures: the atproto signing key of each account,
 * read at open from a file (one DID document, or a JSON array of them) or a directory of
 * such files (*.json), e.g. documents fetched from plc.directory beforehand.
 *
 * The key is the verificationMethod whose id is "#atproto" (or "<did>#atproto"), its
 * publicKeyMultibase. Keys are looked up by DID with a binary search. With did-resolve, a
 * DID not in the file is resolved live (did_resolve.h), and a refresh (asked after a
 * failed check: a rotated key) fetches the document again; without it a DID not in the
 * file has no key and a refresh finds nothing newer. Sizes are bounded: a file at
 * most SS_DID_CACHE_FILE_MAX bytes, at most SS_DID_CACHE_MAX documents. */
#ifndef SS_DID_CACHE_H
#define SS_DID_CACHE_H

#include <stddef.h>

#include "source/firehose/fh_sig.h"

#define SS_DID_CACHE_FILE_MAX (64u * 1024 * 1024)
#define SS_DID_CACHE_MAX 1000000

typedef struct ss_did_cache ss_did_cache;

/* Loads path (NULL: an empty cache). NULL with err on failure (unreadable, not JSON, over a limit). Documents
 * without an atproto key are skipped and counted (ss_did_cache_skipped). */
ss_did_cache *ss_did_cache_open(const char *path, char *err, size_t errlen);
void ss_did_cache_free(ss_did_cache *c);
size_t ss_did_cache_count(const ss_did_cache *c);
size_t ss_did_cache_skipped(const ss_did_cache *c);
/* An ss_fh_opts.sig_key callback (ud = the cache): 1 with the key, 0 when unknown, -1 when
 * live resolution failed (counted apart, passed like unknown), 2 (refresh) a fresher key. */
int ss_did_cache_key(void *ud, const char *did, size_t n, int refresh, struct ss_fh_pubkey_s *key);

/* The atproto key of a DID document (text, n bytes) whose id is did: 1 with *key, 0 when it
 * has none, -1 when it is not a JSON object or is another DID's document. */
int ss_did_doc_key(const char *text, size_t n, const char *did, size_t dn, ss_fh_pubkey *key);

struct ss_source_opts_s;
/* For the firehose: and frames: sources: with so->verify_signatures, opens so->did_cache
 * (and, with so->did_resolve, a live resolver writing back into it when it is a directory)
 * into *out and points fo's sig_key at it (*out NULL when not asked). 0, or -1 + err. */
struct ss_fh_opts_s;
int ss_did_cache_setup(const struct ss_source_opts_s *so, struct ss_fh_opts_s *fo, ss_did_cache **out, char *err,
                       size_t errlen);

#endif
