/* The skyspool event model.
 *
 * Every source yields events in the Jetstream v1 JSON shape, and everything downstream
 * (the Redis buffer, the Parquet archive) works on that shape. An ss_event is a decoded
 * *view* of one such JSON document: string fields are slices, either into the input
 * bytes or into the decoder's scratch arena when the JSON string held escapes. A view
 * stays valid until the next ss_decode() on the same decoder, or until the input bytes
 * are freed.
 *
 * Decoding is strict about what the archive needs (valid JSON, valid UTF-8, no lone
 * surrogate escapes, required fields present with the right types, limits on size and
 * depth) and lenient about everything else (unknown keys and collections are ignored),
 * because newer Jetstream hosts add fields such as `cursor`. Anything rejected carries a
 * machine-readable reason so it can go to the dead-letter stream. */
#ifndef SS_EVENT_H
#define SS_EVENT_H

#include <stddef.h>
#include <stdint.h>

#include "util/str.h" /* ss_str: a slice {p, n}, not NUL-terminated; p NULL when absent */

struct ss_json_doc;

typedef enum { SS_KIND_COMMIT = 1, SS_KIND_IDENTITY, SS_KIND_ACCOUNT, SS_KIND_SYNC } ss_kind;

/* Archive type: one Redis stream and one Parquet partition per value. The order is the
 * order used in tables and docs. The values are stored (the writer's ledger numbers its
 * streams by them), so a new type is appended, never inserted: sync comes after other. */
typedef enum {
    SS_TYPE_POST = 0,
    SS_TYPE_LIKE,
    SS_TYPE_REPOST,
    SS_TYPE_FOLLOW,
    SS_TYPE_BLOCK,
    SS_TYPE_IDENTITY,
    SS_TYPE_ACCOUNT,
    SS_TYPE_OTHER, /* any other collection; kept only when asked for */
    SS_TYPE_SYNC,  /* a repo changed off-stream (firehose #sync, tooBig commits): the backfill signal */
    SS_TYPE__COUNT
} ss_type;

typedef enum { SS_OP_NONE = 0, SS_OP_CREATE, SS_OP_UPDATE, SS_OP_DELETE } ss_op;

typedef struct {
    ss_kind kind;
    ss_type type;
    ss_str did;
    int64_t time_us;

    /* kind == commit */
    ss_op op;
    ss_str collection, rkey, rev;
    ss_str cid;    /* absent for deletes */
    ss_str record; /* the record's raw JSON object text, verbatim from the input; absent for deletes */

    /* kind == identity / account / sync (sync also sets rev: the repo's revision) */
    int64_t seq;
    ss_str time;   /* the relay's ISO-8601 time string */
    ss_str handle; /* identity, optional */
    int active;    /* account: 1 or 0; -1 when not an account event */
    ss_str status; /* account, optional */

    /* The time the upstream claims for the event, verbatim: commit.time (firehose: and
     * frames: add it: the frame's time as the PDS set it), identity.time / account.time.
     * Absent for Jetstream commits, which carry none. Never the partition clock (time_us). */
    ss_str claimed_time;

    const char *raw; /* the whole input document, without a trailing "\n" or "\r\n" */
    size_t raw_len;

    /* The decoder's JSON tokens of raw (util/json.h), so that consumers read record fields
     * without parsing again: json->toks[record_tok] is the record object (record_tok is 0
     * when there is no record). Set by a successful ss_decode() and valid, like the
     * slices, until the next ss_decode() on the same decoder. NULL in an event built by
     * hand; the archive then parses the record itself. */
    const struct ss_json_doc *json;
    uint32_t record_tok;
} ss_event;

/* Why an input was rejected. Names (ss_decode_reason_name) are stable: they are written
 * to the dead-letter stream and used as metric labels. */
typedef enum {
    SS_DECODE_OK = 0,
    SS_DECODE_NOT_JSON,      /* "not_json": syntax error or truncated */
    SS_DECODE_BAD_UTF8,      /* "bad_utf8": invalid UTF-8 bytes or a lone surrogate escape */
    SS_DECODE_MISSING_FIELD, /* "missing_field" */
    SS_DECODE_WRONG_TYPE,    /* "wrong_type": a known field has the wrong JSON type */
    SS_DECODE_BAD_VALUE,     /* "bad_value": e.g. unknown kind or operation, negative time_us */
    SS_DECODE_TOO_LARGE,     /* "too_large": over the size limit */
    SS_DECODE_TOO_DEEP,      /* "too_deep": nesting over the depth limit */
    SS_DECODE_OOM,           /* "oom" */
} ss_decode_reason;

const char *ss_decode_reason_name(ss_decode_reason r);

typedef struct {
    size_t max_bytes;  /* default 2 MiB */
    int max_depth;     /* default 64 */
} ss_decode_limits;

/* Opaque decoder context; errors are carried in it, as in hiredis. */
typedef struct ss_decoder ss_decoder;

ss_decoder *ss_decoder_new(const ss_decode_limits *limits /* NULL = defaults */);
void ss_decoder_free(ss_decoder *d);
/* Decodes one Jetstream v1 JSON document (trailing '\n' / "\r\n" allowed).
 * Returns SS_DECODE_OK, or a reason with a human-readable message in ss_decoder_errstr(). */
ss_decode_reason ss_decode(ss_decoder *d, const char *buf, size_t len, ss_event *ev);
const char *ss_decoder_errstr(const ss_decoder *d);

/* The JSON tokens of the document last decoded successfully (the same as ev->json and
 * ev->record_tok): see util/json.h. The record's token is NULL for deletes and
 * non-commit events. Both stay valid until the next ss_decode() on this decoder. */
struct ss_json_tok;
const struct ss_json_doc *ss_decoder_json(const ss_decoder *d);
const struct ss_json_tok *ss_decoder_record(const ss_decoder *d);

/* Type names: "post", "like", ..., "other". ss_type_from_name returns -1 if unknown. */
const char *ss_type_name(ss_type t);
int ss_type_from_name(const char *name);
/* Maps a collection NSID to its archive type (SS_TYPE_OTHER when not archived). */
ss_type ss_type_from_collection(const char *nsid, size_t n);
const char *ss_op_name(ss_op op); /* "create", "update", "delete", "" */

/* Dedup key: commits hash (did, collection, rkey, rev, operation); identity, account and
 * sync hash (did, seq, kind). 128 bits, written as 32 lowercase hex chars plus NUL. */
#define SS_DEDUP_HEX_LEN 32
void ss_event_dedup_key(const ss_event *ev, uint8_t out[16]);
void ss_event_dedup_hex(const ss_event *ev, char out[SS_DEDUP_HEX_LEN + 1]);
/* Parses 32 hex chars (either case) back into a key. Returns 0, or -1 if malformed. */
int ss_event_dedup_parse(const char *hex, size_t n, uint8_t out[16]);

/* The "meta" string a buffered event is filed under: the dedup key in hex, one space, then
 * time_us in decimal ("0f3a...9c 1754524800000278"). It is the field name of the event's
 * one field-value pair in its stream entry, so a reader gets both without decoding the
 * JSON, and Redis handles one pair per entry (see "Stream entries" in docs/design/buffer.md). */
#define SS_EVENT_META_MAX (SS_DEDUP_HEX_LEN + 1 + 20)
/* Writes the meta string (no NUL) into out; returns its length. */
size_t ss_event_meta_format(const uint8_t key[16], int64_t time_us, char out[SS_EVENT_META_MAX]);
/* Parses a meta string. Returns 0, or -1 if it is not exactly "<32 hex> <decimal>". */
int ss_event_meta_parse(const char *s, size_t n, uint8_t key[16], int64_t *time_us);

#endif
