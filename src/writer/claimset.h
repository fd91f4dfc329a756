/* The in-memory side of the dedup horizon: a set of key fingerprints with their owner.
 *
 * The ledger keeps every claim durably in an append-only table (cheap to write: appends
 * touch only the last page, where a B-tree keyed by random hashes would rewrite most of
 * its pages on every commit). Lookups are served from this open-addressing table, which a
 * writer fills from the table at start and tops up with the rows other writers appended
 * (read under the ledger's write lock, so all writers on one ledger agree on every owner).
 *
 * 16 bytes per slot: a 64-bit fingerprint of the 128-bit dedup key, a 32-bit hash of the
 * owner entry (stream type, entry id), and the event time in seconds for pruning. Two keys
 * sharing a fingerprint would make the second look like a duplicate: with a few million keys
 * in the horizon, about once in 10^5 years at firehose rates. A duplicate whose entry hash
 * equals its owner's would be written again: 2^-32 per duplicate, about once in 10 years at
 * a million duplicates a day. */
#ifndef SS_WRITER_CLAIMSET_H
#define SS_WRITER_CLAIMSET_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t fp;    /* 0 = empty slot */
    uint32_t owner; /* hash of the owner entry */
    uint32_t t;     /* event time, seconds */
} ss_writer_claim_slot;

typedef struct {
    ss_writer_claim_slot *slot;
    size_t cap; /* power of two */
    size_t n;
} ss_writer_claimset;

void ss_writer_claimset_init(ss_writer_claimset *cs);
void ss_writer_claimset_free(ss_writer_claimset *cs);
void ss_writer_claimset_clear(ss_writer_claimset *cs);
/* Fingerprint of a 16-byte dedup key, and hash of an owner entry. Never 0. */
uint64_t ss_writer_claim_fp(const uint8_t key[16]);
uint32_t ss_writer_claim_owner(int type, uint64_t ms, uint64_t seq);
/* Inserts fp -> owner unless fp is present. Returns 1 inserted, 0 present (*existing set),
 * -1 out of memory. */
int ss_writer_claimset_put(ss_writer_claimset *cs, uint64_t fp, uint32_t owner, uint32_t t, uint32_t *existing);
/* Drops entries with t < before; returns how many. */
size_t ss_writer_claimset_prune(ss_writer_claimset *cs, uint32_t before);
size_t ss_writer_claimset_bytes(const ss_writer_claimset *cs);

#endif
