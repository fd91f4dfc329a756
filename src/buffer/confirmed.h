/* What Redis confirmed to one stream's XADDs, kept to count what a restarted Redis lost.
 *
 * Why: Redis acknowledges an XADD before its AOF reaches the disk (appendfsync everysec),
 * and a Redis restarted on an empty or older dataset answers as if nothing happened. After
 * a reconnect the ingester compares each stream's last-generated-id (XINFO STREAM) with the
 * last id Redis gave it: if Redis now stands behind, the entries confirmed after that id are
 * gone. A source that can rewind reads them again; stdin cannot, so their number is what
 * the user must be told. Counting them needs no per-entry memory: per second of entry-id
 * time, the number confirmed before that second (a ring of SS_CONFIRMED_SECONDS), so the
 * count is exact to the second and an upper bound within it ("may be lost"). */
#ifndef SS_BUFFER_CONFIRMED_H
#define SS_BUFFER_CONFIRMED_H

#include <stddef.h>
#include <stdint.h>

#define SS_CONFIRMED_SECONDS 64 /* seconds of entry ids remembered per stream */

typedef struct {
    uint64_t total;           /* ids confirmed since the last reset */
    uint64_t last_ms, last_seq;
    int has_last;
    struct {
        uint64_t sec;    /* entry-id milliseconds / 1000 */
        uint64_t before; /* `total` when this second's first id was confirmed */
    } ring[SS_CONFIRMED_SECONDS];
    int head, n; /* ring[head] is the oldest of n */
} ss_confirmed;

/* Parses "<ms>-<seq>"; 0, or -1 when it is not an entry id. */
int ss_confirmed_parse_id(const char *s, size_t n, uint64_t *ms, uint64_t *seq);
/* Records one id Redis returned to an XADD (ids only grow per stream). */
void ss_confirmed_note(ss_confirmed *c, uint64_t ms, uint64_t seq);
/* How many recorded ids may be newer than (ms, seq), the stream's last-generated-id: 0 when
 * the last recorded id is not newer; otherwise everything from the second of (ms, seq) on
 * (or every recorded id, when that second is older than the ring). */
uint64_t ss_confirmed_after(const ss_confirmed *c, uint64_t ms, uint64_t seq);
void ss_confirmed_reset(ss_confirmed *c);

#endif
