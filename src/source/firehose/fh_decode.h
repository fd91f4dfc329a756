/* Native firehose frame decoding: com.atproto.sync.subscribeRepos frames in, Jetstream v1
 * JSON events out.
 *
 * This is protocol parsing only: no sockets, no files. The `firehose:` source feeds it the
 * binary WebSocket messages it receives, the `frames:` source feeds it recorded frames,
 * and both hand the outputs on unchanged, so the two produce identical events.
 *
 * One frame yields zero or more outputs, in order:
 *   - a good event: msg.bad_reason == NULL, msg.data = one Jetstream v1 JSON event
 *     (one per op of a #commit, one for #identity / #account, one sync event,
 *     {"kind":"sync","sync":{"did","rev","seq","time"}}, for a #sync frame or a tooBig commit);
 *   - a reject: msg.bad_reason = a stable short name (ss_fh_reason_name()), msg.data = a
 *     small JSON object for the dead-letter stream: {"reason","detail", and what is known of
 *     "t","seq","repo","rev","path", plus "frame_b64" (the frame, capped) when the frame
 *     itself could not be parsed}.
 * A commit event carries the frame's claimed time as commit.time (Jetstream has no such
 * field; readers ignore it), identity and account events have it as their time anyway;
 * time_us is set by the clock (ss_fh_clock).
 * #sync frames and tooBig commits (Sync v1.1's and the older backfill signals) become sync
 * events, so the repos to backfill are archived; #info and unknown types emit no event; all
 * are counted in ss_fh_stats (tooBig commits in too_big, #sync frames in sync).
 *
 * Cursor: every output carries msg.cursor. The last output of a frame carries the frame's
 * seq; earlier outputs of the same frame carry seq-1, so a consumer that stores the cursor
 * of any message it has made durable and resumes with "skip seq <= cursor" never skips the
 * rest of a multi-op commit. Outputs of a frame whose seq is unknown carry the last seq.
 *
 * Verification (on by default): the commit block and every record block used must hash
 * (sha-256) to their CIDs. Limits come from the atproto specs; see ss_fh_opts_init(). */
#ifndef SS_FH_DECODE_H
#define SS_FH_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include "source/source.h"

/* Why a frame or an op was rejected. Names are stable (dead-letter stream, metric labels). */
typedef enum {
    SS_FH_OK = 0,
    SS_FH_FRAME_TOO_BIG,   /* "frame_too_big": frame over max_frame_bytes */
    SS_FH_TRUNCATED,       /* "truncated": a CBOR item, CID or CAR section runs past the end */
    SS_FH_BAD_CBOR,        /* "bad_cbor": reserved/unsupported encoding, trailing bytes */
    SS_FH_CBOR_INDEFINITE, /* "cbor_indefinite": indefinite length (DAG-CBOR forbids it) */
    SS_FH_CBOR_DUP_KEY,    /* "cbor_duplicate_key": a map key repeated (DAG-CBOR forbids it) */
    SS_FH_CBOR_TYPE,       /* "cbor_wrong_type": wrong major type (e.g. a map key that is no string) */
    SS_FH_CBOR_FLOAT,      /* "cbor_float": floats are not in the atproto data model */
    SS_FH_TOO_DEEP,        /* "too_deep": nesting over max_depth */
    SS_FH_LIMIT,           /* "limit": a container, key or string over its limit */
    SS_FH_BAD_UTF8,        /* "bad_utf8": a text string that is not valid UTF-8 */
    SS_FH_BAD_HEADER,      /* "bad_header": header is not {op, t} as expected */
    SS_FH_BAD_BODY,        /* "bad_body": a required field missing or of the wrong type */
    SS_FH_BAD_TIME,        /* "bad_time": the frame's time is not RFC 3339 */
    SS_FH_BAD_VARINT,      /* "bad_varint": an unsigned varint overlong or over 63 bits */
    SS_FH_BAD_CID,         /* "bad_cid": malformed or unsupported CID */
    SS_FH_BAD_CAR,         /* "bad_car": malformed CAR header or block section */
    SS_FH_CAR_TOO_BIG,     /* "car_too_big": blocks over max_car_bytes or too many blocks */
    SS_FH_CID_MISMATCH,    /* "cid_mismatch": block bytes do not hash to their CID */
    SS_FH_MISSING_BLOCK,   /* "missing_block": an op's record (or the commit) is not in the CAR */
    SS_FH_RECORD_TOO_BIG,  /* "record_too_big": record block over max_record_bytes */
    SS_FH_TOO_MANY_OPS,    /* "too_many_ops": commit with more than max_ops ops */
    SS_FH_BAD_OP,          /* "bad_op": unknown action, bad path, create/update without cid */
    SS_FH_BAD_RECORD,      /* "bad_record": not an object, bad $type/blob/$link, mixed array */
    SS_FH_TOO_BIG,         /* "too_big": no longer emitted (tooBig commits are sync events); name kept */
    SS_FH_ERROR_FRAME,     /* "error_frame": op = -1 from the server */
    SS_FH_COMMIT_MISMATCH, /* "commit_mismatch": the commit block's did/rev differ from the frame's repo/rev */
    SS_FH_BAD_SIGNATURE,   /* "bad_signature": the commit's signature fails against the account's key */
    SS_FH_OOM,             /* "oom" */
    SS_FH_REASON__COUNT
} ss_fh_reason;

const char *ss_fh_reason_name(int reason);

#define SS_FH_MAX_FRAME 5000000u /* the subscribeRepos frame limit */
#define SS_FH_MAX_RECORD (1024u * 1024) /* a record block: 1 MiB, the relay's limit */
#define SS_FH_MAX_TIME_LEN 64 /* a frame's time string; longer is no RFC 3339 time */

/* The frame limit of a source given ss_source_opts.max_message_bytes, which is the *event*
 * limit (2 MiB under `skyspool ingest`): a frame may be larger than any event it carries,
 * so the limit is never below the protocol's. Shared by firehose: and frames:. */
static inline size_t ss_fh_frame_limit(size_t max_message_bytes) {
    return max_message_bytes > SS_FH_MAX_FRAME ? max_message_bytes : SS_FH_MAX_FRAME;
}

/* Where an event's time_us comes from. The frame's `time` is claimed by the PDS (the relay
 * checks only its syntax), so it is never the partition clock of a live archive; it is
 * kept verbatim in the event (commit.time, identity.time, account.time) for the
 * claimed_time column. */
typedef enum {
    SS_FH_CLOCK_CLAIMED = 0, /* time_us = the frame's claimed time (tools, tests) */
    SS_FH_CLOCK_RECEIPT,     /* = the receipt time given by ss_fh_set_receipt_us(), never
                                decreasing (firehose:, as Jetstream does) */
    SS_FH_CLOCK_REPLAY,      /* = the claimed time, never decreasing; a claim after the wall
                                clock, or a lone claim more than SS_FH_REPLAY_SKEW_US past the
                                previous value, is not believed (the previous value is kept);
                                two such claims in a row that agree are: the recording itself
                                jumped (frames:) */
} ss_fh_clock;

#define SS_FH_REPLAY_SKEW_US (10 * 60 * 1000000LL)

struct ss_fh_pubkey_s; /* fh_sig.h */

typedef struct ss_fh_opts_s {
    int verify_cids;         /* 1 (default): sha-256 of the commit block and of each record used */
    ss_fh_clock clock;       /* SS_FH_CLOCK_CLAIMED */
    size_t max_frame_bytes;  /* SS_FH_MAX_FRAME */
    size_t max_record_bytes; /* SS_FH_MAX_RECORD (1 MiB) */
    size_t max_ops;          /* 200 */
    size_t max_car_bytes;    /* 2,000,000 */
    size_t max_blocks;       /* 100,000 per CAR */
    int max_depth;           /* 32 nested containers in a record */
    size_t dlq_raw_cap;      /* 4096: bytes of an unparseable frame kept (base64) in its reject */
    /* Commit signatures: when set, the key of the commit's account (did, n bytes). Return 1
     * with *key filled, 0 when no key is known (the commit passes and is counted in
     * sig_no_key), -1 when finding the key failed (passes, counted in sig_resolve_failed),
     * or 2 when the key failed and a fresh one was fetched (checked again).
     * The key type is struct ss_fh_pubkey (fh_sig.h). */
    int (*sig_key)(void *ud, const char *did, size_t n, int refresh, struct ss_fh_pubkey_s *key);
    void *sig_ud;
} ss_fh_opts;

void ss_fh_opts_init(ss_fh_opts *o);

typedef struct {
    uint64_t frames, bytes;          /* frames given to ss_fh_decode, and their bytes */
    uint64_t commits, ops;           /* #commit frames; ops seen in them */
    uint64_t events;                 /* good events output (all kinds) */
    uint64_t identity, account, sync, info, outdated_cursor, unknown;
    uint64_t error_frames;           /* op = -1 */
    uint64_t too_big;                /* tooBig commits */
    uint64_t rejects;                /* reject outputs (all reasons) */
    uint64_t by_reason[SS_FH_REASON__COUNT];
    int64_t last_seq;                /* highest-numbered seq fully decoded; -1 before any */
    uint64_t sig_ok, sig_no_key;     /* commits whose signature verified; with no key known */
    uint64_t sig_bad;                /* commits rejected as bad_signature */
    uint64_t sig_resolve_failed;     /* commits passed unchecked because resolving the key failed */
} ss_fh_stats;

typedef struct ss_fh_decoder ss_fh_decoder;

/* opts may be NULL for the defaults. Returns NULL only when out of memory. */
ss_fh_decoder *ss_fh_decoder_new(const ss_fh_opts *opts);
void ss_fh_decoder_free(ss_fh_decoder *d);

/* Decodes one frame into the decoder's output list and returns the number of outputs
 * (>= 0), or -1 when memory ran out. Never fails on bad input: bad input becomes rejects.
 * The outputs (and the memory behind their data) stay valid until the next call. */
int ss_fh_decode(ss_fh_decoder *d, const uint8_t *frame, size_t len);
/* The i-th output of the last ss_fh_decode(), 0 <= i < its return value. */
void ss_fh_output(const ss_fh_decoder *d, size_t i, ss_source_msg *msg);
size_t ss_fh_output_count(const ss_fh_decoder *d);

/* Callback style: decodes one frame and calls emit() for each output in order. emit
 * returns 0 to continue or non-zero to stop. Returns the number of outputs emitted, -1 when
 * out of memory, -2 when emit asked to stop. */
typedef int (*ss_fh_emit_fn)(void *ud, const ss_source_msg *msg);
int ss_fh_decode_frame(ss_fh_decoder *d, const uint8_t *frame, size_t len, ss_fh_emit_fn emit, void *ud);

/* SS_FH_CLOCK_RECEIPT: the receipt time (µs since the epoch) of the next frame(s). */
void ss_fh_set_receipt_us(ss_fh_decoder *d, int64_t us);

/* The seq of the last frame decoded (0 when it had none, e.g. an error frame). */
int64_t ss_fh_frame_seq(const ss_fh_decoder *d);
/* Highest seq fully decoded so far, -1 before any (same as ss_fh_stats.last_seq). */
int64_t ss_fh_last_seq(const ss_fh_decoder *d);
const ss_fh_stats *ss_fh_stats_get(const ss_fh_decoder *d);
/* Name and message of the last op = -1 error frame or #info frame ("" when none), e.g.
 * "FutureCursor" / "OutdatedCursor", for the transport to act on. */
const char *ss_fh_last_error(const ss_fh_decoder *d);
const char *ss_fh_last_info(const ss_fh_decoder *d);
/* "did at rev R, seq S" of the last #sync frame ("" when none). */
const char *ss_fh_last_sync(const ss_fh_decoder *d);

/* Converts one DAG-CBOR record (a map) to atproto-data-model JSON exactly as Jetstream
 * prints it (keys sorted bytewise, Go escaping, $link/$bytes/blob). Appends to out/out_len
 * via the decoder's scratch; returns SS_FH_OK or a reason, with a detail in
 * ss_fh_last_detail(). Exposed for tests and tools. */
int ss_fh_record_to_json(ss_fh_decoder *d, const uint8_t *cbor, size_t len, const char **json, size_t *json_len);
const char *ss_fh_last_detail(const ss_fh_decoder *d);

/* RFC 3339 ("2026-05-25T14:23:29.950Z", offsets allowed; a fraction of any length is
 * truncated to microseconds, as indigo does; at most SS_FH_MAX_TIME_LEN bytes) to
 * microseconds since the epoch. Returns 0, or -1 when malformed. */
int ss_fh_parse_time_us(const char *s, size_t n, int64_t *out);

#endif
