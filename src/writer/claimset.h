/* The in-memory side of the dedup horizon: a set of key fingerprints with their owner.
 *
 * The ledger keeps every claim durably (ledger.h); lookups are served from this set, which a
 * writer fills from the ledger at start and tops up with the claims other writers appended
 * (read under the ledger's write lock, so all writers on one ledger agree on every owner).
 *
 * Layout, ~12.8 bytes per slot. The 64-bit fingerprint of the 128-bit dedup key picks one of
 * 4096 shards with its top 12 bits; its low 52 bits (q) are stored in a 64-bit word with a
 * 12-bit event-time bucket (minutes after the shard's time base), and the 32-bit hash of the
 * owner entry (stream type, entry id) sits in the same cache line. Each shard is its own
 * bucketized cuckoo table (claimset.c) whose two candidate buckets are computed from q, so
 * a shard is grown, shrunk and pruned by itself, from its own slots: a resize holds two
 * copies of one shard (~1/4096 of the set), never two copies of the set. Shards grow by a
 * quarter at 7/8 load, and their capacities are whole pages (tables are mmap'd, so a freed
 * table goes back to the kernel instead of leaving a hole in the heap): 15-20 bytes per key
 * (16.5 on average) from 2 M keys up, where one table of 16-byte slots took 21-43.
 *
 * Time buckets. A slot keeps the minute of its event time relative to its shard's base:
 * pruning at minute m drops the slots before m and moves the base to m; a key older than the
 * base is recorded at the base; a key newer than base + 4095 minutes (68 h) first moves the
 * base forward, rounding the older slots up to it. So a slot's recorded minute is never
 * earlier than its event's and a claim is never dropped before its time. It may be kept
 * longer: to the end of its minute, or, when event time jumps by more than ~2 days, until
 * pruning passes the new base. Harmless: a claim kept longer only extends the horizon for
 * that key (SS_CLAIMSET_HORIZON_MAX_US keeps normal operation far from the 68 h range).
 *
 * Odds. Two distinct keys are confused iff their 64-bit fingerprints are equal (same shard,
 * same q; the buckets are functions of q, so the lookup meets the older key for sure):
 * 2^-64 per pair, as with a plain 64-bit fingerprint. With n keys in the set each new key
 * looks like a duplicate with probability n / 2^64; at the firehose peak (2,000 events/s,
 * n = 7.2 M for a 1 h horizon) that is 2000 * 7.2e6 / 1.8e19 = 7.8e-10 per second, one row
 * lost about once in 40 years of sustained peak (a drain at 100k events/s replays that
 * event time 50x faster, but only for as long as the backlog lasts). A duplicate whose entry
 * hash equals its owner's would be written again: 2^-32 per duplicate, about once in 10
 * years at a million duplicates a day. */
#ifndef SS_WRITER_CLAIMSET_H
#define SS_WRITER_CLAIMSET_H

#include <stddef.h>
#include <stdint.h>

#define SS_CLAIMSET_SHARD_BITS 12
#define SS_CLAIMSET_SHARDS (1u << SS_CLAIMSET_SHARD_BITS)
#define SS_CLAIMSET_TIME_BITS 12 /* minutes after the shard's base: 68 h */
/* Longest dedup horizon the writer accepts: a horizon and its pruning lag (a quarter) stay
 * well inside the 68 h a slot can tell apart, so no claim is kept past its time for long. */
#define SS_CLAIMSET_HORIZON_MAX_US (24LL * 3600 * 1000000)

typedef struct {
    void *lines;     /* buckets: 64-byte lines of 5 slots (q << 12 | minute - base; 0 = empty) + owners */
    uint32_t nb;     /* buckets */
    uint32_t n;      /* keys */
    uint32_t base;   /* minute (unix time / 60) of time bucket 0 */
    uint32_t pages;  /* size of the mapping, in pages */
} ss_writer_claim_shard;

typedef struct {
    ss_writer_claim_shard *sh; /* SS_CLAIMSET_SHARDS, allocated at the first put */
    size_t n;                  /* keys */
    size_t pages;              /* pages mapped by all shards */
    uint64_t rng;              /* picks the slot a cuckoo insertion evicts */
} ss_writer_claimset;

void ss_writer_claimset_init(ss_writer_claimset *cs);
void ss_writer_claimset_free(ss_writer_claimset *cs);
/* Empties the set and releases its memory. */
void ss_writer_claimset_clear(ss_writer_claimset *cs);
/* Fingerprint of a 16-byte dedup key, and hash of an owner entry. Never 0. */
uint64_t ss_writer_claim_fp(const uint8_t key[16]);
uint32_t ss_writer_claim_owner(int type, uint64_t ms, uint64_t seq);
/* Inserts fp -> owner with event time t (unix seconds) unless fp is present. Returns 1
 * inserted, 0 present (*existing set to its owner), -1 out of memory (set unchanged). */
int ss_writer_claimset_put(ss_writer_claimset *cs, uint64_t fp, uint32_t owner, uint32_t t, uint32_t *existing);
/* Starts loading the lines a put of fp will read: a caller with a batch of keys prefetches
 * a few keys ahead, so the cache misses of several puts overlap. */
void ss_writer_claimset_prefetch(const ss_writer_claimset *cs, uint64_t fp);
/* Drops the entries whose event time is before `before` (unix seconds), to the minute: an
 * entry is dropped iff its recorded minute is < before / 60 (see "Time buckets" above), so
 * none with t >= before is ever dropped. One shard at a time, in place. Returns how many. */
size_t ss_writer_claimset_prune(ss_writer_claimset *cs, uint32_t before);
/* Memory held: the shards' tables plus the shard array. */
size_t ss_writer_claimset_bytes(const ss_writer_claimset *cs);

#endif
