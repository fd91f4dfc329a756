/* Reading the archive back: a Parquet row of the archive schema -> the Jetstream v1 event.
 *
 * The inverse of ss_ar_map()/ss_ar_write_row() (archive.h), for `cat --source archive:`,
 * `replay-server --archive` and `verify --deep`. It is table-driven: each archive type is
 * one entry naming its Jetstream kind (which is also the key of the payload object) and a
 * list of (JSON key, column, how) fields, so a new type is one entry (readback.c).
 *
 * What comes back is JSON-equal to the event that was written, with the differences
 * docs/SCHEMA.md lists under "Reading back" (e.g. identity.did / account.did are the
 * event's did; keys the decoder ignores are gone; commit.time, kept as a timestamp, is
 * printed in RFC 3339 with milli- or microseconds). The record is kept verbatim, so it
 * comes back byte for byte.
 *
 * Usage, per file:
 *   ss_ar_readback rb;
 *   if (ss_ar_readback_init(&rb, reader, type, err, sizeof err)) ...  // columns resolved by name
 *   while (ss_pq_reader_next(reader) == 1) ss_ar_readback_json(&rb, reader, &buf, &time_us, err, sizeof err);
 */
#ifndef SS_ARCHIVE_READBACK_H
#define SS_ARCHIVE_READBACK_H

#include <stddef.h>
#include <stdint.h>

#include "event/event.h"
#include "parquet/reader.h"
#include "util/buf.h"

#define SS_AR_RB_MAX_FIELDS 16 /* payload fields of one type */

typedef struct {
    ss_type type;
    const void *spec;                /* the type's entry (readback.c) */
    int did, time_us, kind;          /* reader column indices */
    int col[SS_AR_RB_MAX_FIELDS];    /* per payload field; -1 when the file lacks it */
} ss_ar_readback;

/* Resolves the columns of file r for archive type t. Returns 0, or -1 with err set (the
 * file lacks did/time_us/kind or a column has another type than the schema's). */
int ss_ar_readback_init(ss_ar_readback *rb, const ss_pq_reader *r, ss_type t, char *err, size_t errlen);
/* Appends the current row of r as one Jetstream v1 JSON object (no newline) to out and
 * sets *time_us. Returns 0, or -1 with err set (a row whose kind is not the type's, out of
 * memory). */
int ss_ar_readback_json(const ss_ar_readback *rb, const ss_pq_reader *r, ss_buf *out, int64_t *time_us, char *err,
                        size_t errlen);
/* Formats a µs instant as RFC 3339 UTC ("2024-09-05T06:11:04.870Z": milliseconds when
 * the microseconds are a whole number of them, else six digits). out needs 32 bytes. */
size_t ss_ar_format_rfc3339(int64_t us, char out[32]);

#endif
