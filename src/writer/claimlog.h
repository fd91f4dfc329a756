/* The durable form of a round of dedup claims: one blob per claims transaction.
 *
 * The ledger stored one SQLite row per claim, and inserting those rows was ~9 % of the
 * writer's CPU in a drain. A round's claims are now packed into one blob and stored as one
 * row (ledger.c, table claim_batches) with the round's newest event time, which is what
 * pruning needs: a batch goes when its newest claim is older than the horizon.
 *
 * Record layout, records back to back, deltas against the previous record (the first
 * against zero):
 *   16 bytes  dedup key
 *   varint    owner stream type
 *   svarint   owner entry id ms - previous ms      (svarint: zigzag LEB128; entries of
 *   varint    owner entry id seq                    several streams interleave, so the ms
 *   svarint   event time (unix s) - previous time   and times move both ways)
 * About 21 bytes per claim. Decoding checks every bound (a blob is input). */
#ifndef SS_WRITER_CLAIMLOG_H
#define SS_WRITER_CLAIMLOG_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

typedef struct {
    uint8_t key[16];
    int type;
    uint64_t ms, seq; /* owner entry id */
    int64_t t;        /* event time, unix seconds */
} ss_claimrec;

/* Encoder state: the previous record's values. Zero it to start a blob. */
typedef struct {
    uint64_t ms;
    int64_t t;
} ss_claimlog_enc;

/* Appends one record. Returns 0, or -1 when memory runs out. */
int ss_claimlog_append(ss_buf *out, ss_claimlog_enc *enc, const ss_claimrec *r);

/* Decodes a blob, calling fn for every record in order; fn returning non-zero stops the
 * walk with that value. Returns 0, the callback's value, or -1 on a malformed blob
 * (truncated, overlong varint, type out of 0..255). *count is set to the records seen. */
int ss_claimlog_decode(const void *blob, size_t len, int (*fn)(void *ctx, const ss_claimrec *r), void *ctx,
                       size_t *count);

#endif
