/* The in-memory side of the dedup horizon: a set of key fingerprints with their owner.
 *
 * The ledger keeps every claim durably (ledger.h); lookups are served from this set, which a
 * writer fills from the ledger at start and tops up with the claims other writers appended
 * (read under the ledger's write lock, so all writers on one ledger agree on every owner).
 *
 * What a slot must hold: the key's 64-bit fingerprint (the false-drop odds below depend on
 * all 64 bits), the 32-bit hash of its owner entry (stream type, entry id), and its event
 * time coarsely enough to prune by. 64 + 32 bits is 12 bytes; this set stores a claim in
 * 85 bits (10.67 bytes), 6 slots to a 64-byte line, and keeps the lines 83-94 % full:
 * ~12 bytes per claim from 2 M claims up (the former layout, 5 slots of 96 bits per line
 * at 70-87 %, took ~16.5). At the live peak's full horizon (2,000 events/s for 1 h, 7.2 M
 * claims) that is ~87 MB instead of ~119 MB. Where the bits go:
 *   - 10 bits of the fingerprint pick one of 1024 shards (not stored);
 *   - the other 54 (q) are the top 32 (h) and low 22 (l). A shard of nb buckets (>= 256) is
 *     a bucketized cuckoo table: the key's first bucket is b1 = h * nb >> 32, its second
 *     b2 = b1 + off(l) mod nb with off(l) in 1..nb-1. b1 confines h to an interval of at
 *     most 2^32 / nb <= 2^24 values, so h's low 24 bits tell it apart inside the interval:
 *     a slot stores l (22), h mod 2^24 (24) and which of its buckets it is in (1): 47 bits
 *     from which, with its bucket's number, the whole 64-bit fingerprint is recovered (a
 *     resize moves the keys from the table alone, no key is kept elsewhere);
 *   - 32 bits of owner hash;
 *   - 6 bits of event time: 1 + the time unit after the shard's base (0 marks a free slot),
 *     units of a 24th of the dedup horizon, at least a minute (150 s for the default 1 h).
 *
 * Time units. A slot keeps the unit of its event time relative to its shard's base:
 * pruning at unit u drops the slots before u and moves the base to u; a key older than the
 * base is recorded at the base; a key newer than base + 62 units first moves the base
 * forward, rounding the older slots up to it. So a slot's recorded unit is never earlier
 * than its event's and a claim is never dropped before its time. It may be kept longer: to
 * the end of its unit (2.5 minutes at the default horizon), or, when event time jumps by
 * more than 31 units, until pruning passes the new base. Harmless: a claim kept longer only
 * extends the horizon for that key. The writer holds at most a horizon and a twelfth (its
 * pruning lag, loop.c) plus a unit: 27 units, inside the 31 a base leaves either way, so
 * in steady operation nothing is rounded up.
 *
 * Odds. Two distinct keys are confused iff their 64-bit fingerprints are equal (same shard;
 * a stored slot matches a lookup only when its bucket, flag, l and h mod 2^24 agree, which
 * makes its b1, hence h's interval, hence h, equal): 2^-64 per pair, exactly as the former
 * 12 + 52-bit layout and a plain 64-bit fingerprint. With n keys in the set each new key
 * looks like a duplicate with probability n / 2^64; at the firehose peak (2,000 events/s,
 * n = 7.2 M for a 1 h horizon) that is 2000 * 7.2e6 / 1.8e19 = 7.8e-10 per second, one row
 * lost about once in 40 years of sustained peak (a drain at 100k events/s replays that
 * event time 50x faster, but only for as long as the backlog lasts). A duplicate whose entry
 * hash equals its owner's would be written again: 2^-32 per duplicate, about once in 10
 * years at a million duplicates a day (unchanged: the owner hash keeps all 32 bits). */
#ifndef SS_WRITER_CLAIMSET_H
#define SS_WRITER_CLAIMSET_H

#include <stddef.h>
#include <stdint.h>

#define SS_CLAIMSET_SHARD_BITS 10
#define SS_CLAIMSET_SHARDS (1u << SS_CLAIMSET_SHARD_BITS)
#define SS_CLAIMSET_TIME_BITS 6 /* 1 + units after the shard's base; 0 = free */
#define SS_CLAIMSET_UNITS 24    /* time units per dedup horizon */
/* Longest dedup horizon the writer accepts (the time unit is then an hour). */
#define SS_CLAIMSET_HORIZON_MAX_US (24LL * 3600 * 1000000)

typedef struct {
    void *lines;    /* buckets: 64-byte lines of 6 slots (see claimset.c) */
    uint32_t nb;    /* buckets */
    uint32_t n;     /* keys */
    uint32_t base;  /* time unit (unix time / unit) of recorded unit 0 */
    uint32_t pages; /* size of the mapping, in pages */
} ss_writer_claim_shard;

typedef struct {
    ss_writer_claim_shard *sh; /* SS_CLAIMSET_SHARDS, allocated at the first put */
    size_t n;                  /* keys */
    size_t pages;              /* pages mapped by all shards */
    uint32_t unit;             /* seconds per time unit */
    uint64_t rng;              /* picks the slot a cuckoo insertion evicts */
} ss_writer_claimset;

/* An empty set for the default 1 h horizon. */
void ss_writer_claimset_init(ss_writer_claimset *cs);
void ss_writer_claimset_free(ss_writer_claimset *cs);
/* Empties the set and releases its memory. */
void ss_writer_claimset_clear(ss_writer_claimset *cs);
/* Sizes the time unit for a dedup horizon of horizon_s seconds (<= 24 h): a 24th of it,
 * at least 60 s. Empties the set if the unit changes. */
void ss_writer_claimset_set_horizon(ss_writer_claimset *cs, int64_t horizon_s);
/* Fingerprint of a 16-byte dedup key, and hash of an owner entry. Never 0. */
uint64_t ss_writer_claim_fp(const uint8_t key[16]);
uint32_t ss_writer_claim_owner(int type, uint64_t ms, uint64_t seq);
/* Inserts fp -> owner with event time t (unix seconds) unless fp is present. Returns 1
 * inserted, 0 present (*existing set to its owner), -1 out of memory (set unchanged). */
int ss_writer_claimset_put(ss_writer_claimset *cs, uint64_t fp, uint32_t owner, uint32_t t, uint32_t *existing);
/* Starts loading the lines a put of fp will read: a caller with a batch of keys prefetches
 * a few keys ahead, so the cache misses of several puts overlap. */
void ss_writer_claimset_prefetch(const ss_writer_claimset *cs, uint64_t fp);
/* Drops the entries whose event time is before `before` (unix seconds), to the time unit:
 * an entry is dropped iff its recorded unit is < before / unit (see "Time units" above), so
 * none with t >= before is ever dropped. One shard at a time, in place. Returns how many. */
size_t ss_writer_claimset_prune(ss_writer_claimset *cs, uint32_t before);
/* Memory held: the shards' tables plus the shard array. */
size_t ss_writer_claimset_bytes(const ss_writer_claimset *cs);

#endif
