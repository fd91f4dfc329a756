/* Redis stream entry ids, and the compact blob the run ledger stores them in.
 *
 * A commit in the ledger must say exactly which stream entries it covers: an id *range*
 * is not enough, because entries of several consumers interleave in one stream and an
 * entry reclaimed from a dead consumer can land in a later part file than its neighbours.
 * So every commit stores the exact, sorted list of its entry ids. Ids are "ms-seq" pairs
 * of 64-bit numbers that arrive nearly consecutive, so the list is stored as deltas in
 * LEB128 varints: typically 2 bytes per entry instead of 16 (or ~20 as text).
 *
 * Blob layout: varint count, then per id: varint (ms - prev_ms), then varint seq when the
 * ms delta is non-zero, else varint (seq - prev_seq - 1). The first id is taken relative
 * to 0-0. Ids must be strictly increasing; decoding checks every bound (a blob is input). */
#ifndef SS_WRITER_IDS_H
#define SS_WRITER_IDS_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

typedef struct {
    uint64_t ms, seq;
} ss_writer_id;

/* Longest text form: two 20-digit numbers, a dash and the NUL. */
#define SS_WRITER_ID_STRLEN 42
/* Most ids one blob may hold when decoding (a commit is bounded by the part size limit). */
#define SS_WRITER_IDBLOB_MAX_IDS (64u * 1024 * 1024)

/* Parses "ms-seq" (both decimal, no sign, no spaces). Returns 0 or -1. */
int ss_writer_id_parse(const char *s, size_t n, ss_writer_id *out);
void ss_writer_id_format(ss_writer_id id, char out[SS_WRITER_ID_STRLEN]);
static inline int ss_writer_id_cmp(ss_writer_id a, ss_writer_id b) {
    if (a.ms != b.ms) return a.ms < b.ms ? -1 : 1;
    if (a.seq != b.seq) return a.seq < b.seq ? -1 : 1;
    return 0;
}
/* Sorts ids ascending and removes repeats; returns the new count. */
size_t ss_writer_id_sort_unique(ss_writer_id *ids, size_t n);
/* Binary search in a sorted array: 1 when found. */
int ss_writer_id_find(const ss_writer_id *ids, size_t n, ss_writer_id id);

/* Appends the blob for n strictly increasing ids. Returns 0, or -1 if the ids are not
 * strictly increasing or memory runs out. */
int ss_writer_idblob_encode(const ss_writer_id *ids, size_t n, ss_buf *out);
/* Decodes a blob, appending the ids to *ids (realloc'd; *n and *cap updated). Returns 0,
 * or -1 on a malformed blob (truncated, overlong varint, overflow, more than max ids). */
int ss_writer_idblob_decode(const void *blob, size_t len, ss_writer_id **ids, size_t *n, size_t *cap, size_t max);

#endif
