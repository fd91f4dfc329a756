/* Key-routed shards: how writers on several machines split the work without sharing a ledger.
 *
 * With `shards` = M > 1 the ingester writes every event to `P<type>:<s>`, s = ss_shard_of(its
 * dedup key, M), so every copy of a key (the ingester's rewind duplicates, Jetstream's own)
 * lands in one shard. A shard is consumed by the writers of ONE machine (one run ledger), so
 * that ledger sees all of a key's copies (dedup horizon) and all commits of the shard's entries
 * (recovery, dead-consumer takeover). M = 1 keeps the unsharded names `P<type>`.
 *
 * Two Redis records keep the layout consistent (prefix P):
 *   Pingest       field `shards`: the M the buffer was ingested with, recorded by the first
 *                 ingester (HSETNX). An ingester with another M is refused: changing M splits
 *                 a key's copies over two shards, possibly two machines.
 *   Pshard-owner  hash: shard ("0".."M-1", or "all" for the unsharded layout) -> ledger id of
 *                 the machine whose writers consume it (HSETNX by the first writer). A writer
 *                 whose ledger has another id is refused.
 * docs/design/writer.md ("Writers on several machines") has the argument and how to move a shard. */
#ifndef SS_BUFFER_SHARD_H
#define SS_BUFFER_SHARD_H

#include <hiredis/hiredis.h>
#include <stddef.h>
#include <stdint.h>

#include "buffer/xinfo.h"
#include "event/event.h"

#define SS_SHARDS_MAX 16          /* upper bound of the `shards` setting (ledger stream numbers fit a byte) */
#define SS_SHARD_OWNER_MAX 128    /* characters of a ledger id */
#define SS_SHARD_UNSHARDED "all"  /* owner field of the unsharded layout */

/* The shard of a 16-byte dedup key among `shards` (>= 1): stable forever (keys in Redis are
 * routed by it), spread evenly (a 64-bit avalanche of the key's two halves, then mod). */
unsigned ss_shard_of(const uint8_t key[16], unsigned shards);

/* The stream of type t in shard `shard` of `shards`: "P<type>" when shards <= 1, else
 * "P<type>:<shard>". Returns the length (snprintf's). */
int ss_shard_stream_key(const char *prefix, ss_type t, int shard, int shards, char *out, size_t outlen);

/* Parses "i" or "i/M" (0 <= i < M <= SS_SHARDS_MAX). *shards is left alone for "i". Returns 0
 * or -1. */
int ss_shard_parse(const char *s, int *shard, int *shards);

/* The M recorded in Pingest: *shards = M, or 0 when nothing is recorded (no ingester ran since
 * sharding existed; a Pingest without the field means the unsharded layout: 1). Returns 0, or
 * -class (util/err.h; -1: io) with err on a Redis error. */
int ss_shard_recorded(redisContext *c, const char *prefix, int *shards, char *err, size_t errlen);

/* Records M for an ingester: HSETNX (a buffer that already has a Pingest without the field is
 * taken as M = 1). Returns 0 when the recorded M equals shards (or force, which overwrites it),
 * 1 when another M is recorded (*recorded, err says what to do), -class on a Redis error. */
int ss_shard_record(redisContext *c, const char *prefix, int shards, int force, int *recorded, char *err,
                    size_t errlen);

/* Claims shard `field` for ledger_id in Pshard-owner (HSETNX; force: HSET). Returns 0 when it
 * is ours, 1 when another ledger owns it (its id in owner), -1 on a Redis error. */
int ss_shard_claim_owner(redisContext *c, const char *prefix, const char *field, const char *ledger_id, int force,
                         char *owner, size_t ownerlen, char *err, size_t errlen);

/* Stream info of type t over all its shards (xinfo.h): lengths, pending, consumers and lag
 * summed (lag -1 if any is unknown), oldest first_ms, has_group only if every existing shard
 * stream has the group. per_shard (may be NULL) receives each shard's own info. Returns 0 or
 * -1 with err. */
int ss_shard_stream_info(redisContext *c, const char *prefix, ss_type t, int shards, const char *group,
                         ss_stream_info *sum, ss_stream_info *per_shard, char *err, size_t errlen);

/* The owner recorded for shard `field` ("" when none). Returns 0 or -class (util/err.h) with err. */
int ss_shard_owner(redisContext *c, const char *prefix, const char *field, char *owner, size_t ownerlen, char *err,
                   size_t errlen);

#endif
