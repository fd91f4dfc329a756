/* A minimal look into a subscribeRepos frame: the header's op and t, and the body's
 * seq and time. Transport needs only these (the cursor on reconnect, the seq filter
 * and original-timing pacing of the replay server); full decoding belongs to the
 * firehose decoder. A frame is two DAG-CBOR maps back to back; this walks them with a
 * bounded depth and never reads past the end. */
#ifndef SS_FRAME_PEEK_H
#define SS_FRAME_PEEK_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

#define SS_FRAME_PEEK_MAX_DEPTH 32

typedef struct {
    int64_t op;      /* header op: 1 message, -1 error; 0 when absent */
    char t[32];      /* header t, e.g. "#commit"; "" when absent or longer */
    int64_t seq;     /* body seq; -1 when absent */
    int64_t time_us; /* body time (RFC 3339) in µs since the epoch; -1 when absent or unparsable */
    int has_time;    /* 1 when time_us holds a parsed time (which may itself be -1) */
} ss_frame_peek_result;

/* Returns 0, or -1 when the bytes are not a header map followed by a body map. */
int ss_frame_peek(const uint8_t *p, size_t n, ss_frame_peek_result *out);

/* Copies frame p/n to out with the body's seq replaced by seq (the replay server's
 * seq-reset emulation). Returns 0, or -1 when the frame has no body seq or is malformed. */
int ss_frame_set_seq(const uint8_t *p, size_t n, int64_t seq, ss_buf *out);

/* Parses an RFC 3339 time such as "2024-09-10T12:34:56.789Z" (or with a +hh:mm offset)
 * into µs since the epoch in *out. Returns 0, or -1 when malformed: bad digits (offset
 * included), impossible dates such as 2026-02-31, or out of time_t's range. */
int ss_rfc3339_parse(const char *s, size_t n, int64_t *out);
/* The same, returning the time or -1 when malformed; the valid instant -1 µs
 * (1969-12-31T23:59:59.999999Z) cannot be told apart: use ss_rfc3339_parse. */
int64_t ss_rfc3339_to_us(const char *s, size_t n);

#endif
