/* Gap records in Redis: the contract between the ingester, which writes them, the
 * DataWriter, which moves them into its ledger, and `skyspool status` / `skyspool gaps`,
 * which show them.
 *
 * A gap is a stretch of the upstream's stream a source knows it did not and will not
 * deliver (source.h, ss_source_gap). It must survive like an event: it goes to Redis in
 * source order, confirmed before the cursor passes it, and the writer deletes it from
 * Redis only after its ledger has it. Not a consumer group: gaps are few, every writer of
 * a ledger may move them (the ledger keys them by stream entry id, so a second copy is
 * ignored), and XDEL after the ledger commit is the acknowledgement.
 *
 *   P<SS_GAPS_KEY>       stream, one entry per gap: source, reason, unit, from, to,
 *                        detected_us, detail, cursor (the source cursor the gap came with)
 *   P<SS_GAPS_SEEN_KEY>  hash kept by the writer as it deletes entries it committed:
 *                        committed (a count), and last_id, last_source, last_reason,
 *                        last_unit, last_from, last_to, last_detected_us (the newest one),
 *                        so `status` has the count and the latest gap once the stream is
 *                        empty, without opening the ledger. */
#ifndef SS_BUFFER_GAPS_H
#define SS_BUFFER_GAPS_H

#include <hiredis/hiredis.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

#define SS_GAPS_KEY "gaps"
#define SS_GAPS_SEEN_KEY "gaps-seen"
#define SS_GAP_REASONS 5         /* future_cursor, outdated_cursor, clamped_cursor, seq_reset, other */
#define SS_GAP_DETAIL_MAX 400    /* bytes of the detail sentence kept */
#define SS_GAP_SOURCE_MAX 512    /* bytes of the source id kept (as ss_source.id) */
#define SS_GAP_ID_MAX 48         /* a stream entry id "<ms>-<seq>" */
#define SS_GAPS_LIST_MAX 100000  /* entries `status` / `gaps` read from the stream at most */

/* The stable reason names, also the label values of skyspool_source_gaps_total. */
extern const char *const ss_gap_reasons[SS_GAP_REASONS];
/* The index of a reason in ss_gap_reasons; an unknown one is "other". */
int ss_gap_reason_index(const char *reason);

typedef struct {
    char id[SS_GAP_ID_MAX];          /* the stream entry id (the ledger's key) */
    char source[SS_GAP_SOURCE_MAX];
    char reason[32];
    char unit[16];
    int64_t from, to;                /* -1: unknown */
    int64_t detected_us;
    int64_t cursor;
    char detail[SS_GAP_DETAIL_MAX];
} ss_gap_record;

/* Fills r from a stream entry: id and its field/value pairs (f[0] f[1] ... with lengths).
 * Unknown fields are ignored; a missing reason or source is an error (-1). */
int ss_gap_record_from_fields(ss_gap_record *r, const char *id, size_t idlen, const char *const *f,
                              const size_t *fl, size_t nf);

/* Appends r as one JSON object: {"id","source","reason","unit","from","to","detected_us",
 * "cursor","detail"} plus "where":"<where>" when where is not NULL. 0, or -1 out of memory. */
int ss_gap_record_json(ss_buf *b, const ss_gap_record *r, const char *where);

/* Reads up to max (at most SS_GAPS_LIST_MAX) entries of P<SS_GAPS_KEY>, oldest first, into
 * *out (malloc'ed, the caller frees; NULL when none). 0, or -1 with err. */
int ss_gaps_read(redisContext *c, const char *prefix, size_t max, ss_gap_record **out, size_t *n, char *err,
                 size_t errlen);

/* How many records wait in P<SS_GAPS_KEY> (*n) and the newest of them (*has_newest 0 when
 * none), without reading them all. 0, or -1 with err. */
int ss_gaps_pending(redisContext *c, const char *prefix, long long *n, ss_gap_record *newest, int *has_newest,
                    char *err, size_t errlen);

/* What the writer recorded in P<SS_GAPS_SEEN_KEY>: *committed (0 when none) and the newest
 * committed gap in *last (*has_last 0 when none). 0, or -1 with err. */
int ss_gaps_seen_read(redisContext *c, const char *prefix, long long *committed, ss_gap_record *last, int *has_last,
                      char *err, size_t errlen);

#endif
