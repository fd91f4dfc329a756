/* The source interface: where events come from.
 *
 * A source turns some input (a JSONL file, the synthetic generator, a Jetstream or
 * firehose WebSocket, a file of recorded firehose frames) into a sequence of messages,
 * each one Jetstream v1 JSON event, or (live sources) a gap record saying what the
 * upstream will not deliver. Sources know nothing about Redis or Parquet: the
 * ingester pulls messages with ss_source_next(), and `skyspool cat` prints them.
 *
 * Every message carries the source cursor *after* that message, so a consumer that has
 * durably stored message N can store its cursor and later resume with ss_source_seek()
 * without skipping anything. The cursor is a byte offset for file:, time_us for
 * jetstream:, seq for firehose:, an index for synth:.
 *
 * A byte offset only means something in the content it was taken from, and a path (even
 * with its inode) does not name content: a file overwritten in place keeps both. A source
 * whose cursor is only valid for its content therefore also sets s->fingerprint, which the
 * consumer stores next to the cursor and hands back to ss_source_resume(); the source then
 * checks that the cursor still points into the same content and otherwise starts over
 * (file: fingerprints its first 64 KiB, see src/source/file/file.c).
 *
 * Adding a source touches one folder: src/source/NAME/ with a file defining
 *     const ss_source_vtbl ss_source_NAME = { .scheme = "NAME", ... };
 * and one line SS_SOURCE(NAME) in src/source/sources.def (the build refuses a folder that
 * is not listed there). */
#ifndef SS_SOURCE_H
#define SS_SOURCE_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"
#include "objstore/s3.h"

typedef struct ss_source ss_source;

/* A gap: a stretch of the upstream's stream the source knows it did not and will not
 * deliver (a cursor in the relay's future, a cursor older than the upstream's window, a
 * seq reset). from/to are in the source's cursor unit (seq, time_us); -1 when unknown
 * (e.g. "up to wherever live is now"). reason is a stable short name: future_cursor,
 * outdated_cursor, clamped_cursor, seq_reset. A source hands it on as a message of its own
 * (SS_SOURCE_GAP), in source order, so a consumer can store it durably before the cursor
 * moves past it; it is never an event. */
#define SS_SOURCE_GAP_DETAIL_MAX 400 /* bytes of a gap's detail sentence, NUL included */
typedef struct {
    const char *source;  /* the source id */
    const char *reason;
    const char *unit;    /* "seq" or "time_us" */
    int64_t from, to;
    int64_t detected_us; /* wall clock when the source noticed it */
    const char *detail;  /* one human sentence; may be NULL */
} ss_source_gap;

typedef struct {
    const char *data; /* one event as Jetstream v1 JSON, no trailing newline; valid until the next call */
    size_t len;
    int64_t cursor;   /* the position just after this message */
    /* Non-NULL when the source could not turn its input into an event (e.g. malformed CBOR,
     * a bad CID, a tooBig commit). data/len then hold the raw input bytes (possibly capped)
     * for the dead-letter stream, and this is a short stable reason such as "bad_cbor". */
    const char *bad_reason;
    /* With SS_SOURCE_GAP: the gap (data/len unused), valid until the next call; else NULL. */
    const ss_source_gap *gap;
} ss_source_msg;

/* Options every source may use; each source reads what concerns it. */
typedef struct ss_source_opts_s {
    const char *zstd_dictionary;    /* path to Jetstream's dictionary, for compress=true */
    const char *wanted_collections; /* comma-separated NSIDs; NULL = the archived types */
    const char *wanted_dids;        /* jetstream: DIDs, comma-separated, or a file of them; NULL = all */
    int compress;                   /* ask Jetstream for zstd-compressed messages */
    int connect_timeout_ms;         /* default 10000 */
    int read_timeout_ms;            /* stall detection, default 60000 */
    size_t max_message_bytes;       /* default 2 MiB (JSON) / 5 MiB (firehose frames) */
    int verify_cids;                /* firehose: check sha-256 of every block, default 1 */
    int verify_signatures;          /* firehose/frames: check commit signatures (needs did_cache) */
    const char *did_cache;          /* a file or directory of DID documents (JSON) with the keys */
    int did_resolve;                /* resolve DIDs not in did_cache live (default 1) */
    const char *plc_directory;      /* for did:plc; NULL = https://plc.directory */
    const char *tls_ca_file;        /* extra CA for wss:// (tests use a self-signed one) */
    int tls_insecure;               /* accept any certificate (tests only) */
    const ss_s3_config *s3;         /* archive:s3://BUCKET/PREFIX: the S3 settings; NULL = none given */
} ss_source_opts;

void ss_source_opts_init(ss_source_opts *o);

enum {
    SS_SOURCE_END = 0,   /* no more messages, ever (file end, synth done) */
    SS_SOURCE_MSG = 1,   /* *msg is filled */
    SS_SOURCE_AGAIN = 2, /* nothing arrived within timeout_ms; call again */
    SS_SOURCE_GAP = 3,   /* msg->gap is filled (and msg->cursor): a gap record, not an event */
    SS_SOURCE_ERR = -1,  /* a failure; see s->errstr. The source may be usable after seek(). */
};

/* Counts a source may report about what it checked, for metrics (all zero when it checks
 * none of these). Commit signatures (firehose:, frames: with verify-signatures): verified,
 * rejected as bad_signature, passed unchecked with no key known, passed unchecked because
 * resolving the key failed. Totals since open. */
typedef struct {
    uint64_t sig_verified, sig_bad, sig_no_key, sig_resolve_failed;
} ss_source_counters;

typedef struct ss_source_vtbl {
    const char *scheme; /* "file", "synth", "jetstream", "firehose", "frames" */
    const char *usage;  /* one line for --help, e.g. "file:PATH  JSONL file, '-' for stdin" */
    /* args is the text after "scheme:". Set s->id (a stable name for the stored cursor),
     * s->cursor_name and s->resume_margin, allocate s->impl. Return 0 or -1 with s->errstr. */
    int (*open)(ss_source *s, const char *args, const ss_source_opts *opts);
    int (*next)(ss_source *s, ss_source_msg *msg, int timeout_ms);
    /* Continue from a cursor previously reported in a message (margin already applied by
     * the caller). Returns 0, or -1 with s->errstr (e.g. stdin cannot seek). */
    int (*seek)(ss_source *s, int64_t cursor);
    void (*close)(ss_source *s);
    /* Optional: continue from a stored cursor only if it belongs to this content.
     * fingerprint is s->fingerprint as it was when the cursor was stored ("" when none was
     * stored). Returns 0 positioned at cursor; 1 refused: positioned at the source's start,
     * with the reason in why; -1 error (s->errstr). NULL: ss_source_resume() just seeks. */
    int (*resume)(ss_source *s, int64_t cursor, const char *fingerprint, char *why, size_t whylen);
    /* Optional: fills *out (zeroed by the caller). NULL: all zero. */
    void (*counters)(ss_source *s, ss_source_counters *out);
} ss_source_vtbl;

#define SS_SOURCE_FINGERPRINT_MAX 96 /* bytes of s->fingerprint, NUL included */
/* bytes of s->errstr: a message naming a long path keeps its cause (which comes first) */
#define SS_SOURCE_ERRSTR_MAX 1280

struct ss_source {
    const ss_source_vtbl *vt;
    void *impl;
    char id[512];          /* e.g. "file:/abs/path@dev:ino", "jetstream:/subscribe" */
    /* The id an older skyspool stored this source's cursor under ("" when the same): read
     * once, when nothing is stored under id, so an upgrade does not start over. */
    char legacy_id[512];
    const char *cursor_name; /* "offset", "time_us", "seq", "index" */
    int64_t resume_margin; /* subtract this from a stored cursor before seek (e.g. 5 s in µs) */
    /* What the cursor's content is, to store next to the cursor (see above); "" = nothing
     * to check. It may change while reading (file: until 64 KiB have been read). */
    char fingerprint[SS_SOURCE_FINGERPRINT_MAX];
    /* Live (network) sources keep this current after every next(), for the consumer's metrics
     * (skyspool_source_connected, skyspool_source_reconnects_total); 0s for files. */
    struct {
        int live;            /* a network source: the fields below mean something */
        int connected;       /* a connection is open now */
        uint64_t connects;   /* connections established so far (reconnects = connects - 1) */
        uint64_t failures;   /* attempts that never connected */
    } link;
    /* The cursor at the end of the input when it is known at open (file: the size of a
     * plain regular file; synth: events=N), for a progress line's percentage; 0 = unknown
     * (stdin, pipes, zstd, live sources). Set by open() only, so any thread may read it. */
    int64_t cursor_end;
    int err;                      /* an ss_err_class (util/err.h) once a call failed */
    char errstr[SS_SOURCE_ERRSTR_MAX];
};

/* Opens "scheme:args". On failure returns NULL, writes a message to err and its class to
 * *cls (when not NULL): usage (unknown source, bad arguments), the open's own (io,
 * permission for a file; data for a malformed one), oom. */
ss_source *ss_source_open(const char *spec, const ss_source_opts *opts, char *err, size_t errlen, ss_err_class *cls);
int ss_source_next(ss_source *s, ss_source_msg *msg, int timeout_ms);
int ss_source_seek(ss_source *s, int64_t cursor);
/* Resumes at a stored cursor (margin already applied) stored with `fingerprint` (NULL or ""
 * if none): 0 positioned there, 1 refused and positioned at the start (why says why, for
 * the log), -1 error (s->errstr). Sources without a content check seek (0 or -1). */
int ss_source_resume(ss_source *s, int64_t cursor, const char *fingerprint, char *why, size_t whylen);
void ss_source_close(ss_source *s);
/* The source's counters (all zero for a source without any), for the ingester's metrics. */
void ss_source_get_counters(ss_source *s, ss_source_counters *out);
/* The registered sources, NULL-terminated, for help text. */
const ss_source_vtbl *const *ss_source_list(void);

/* Helper for sources: sets s->err (SS_ERR_IO) and a formatted s->errstr, returns
 * SS_SOURCE_ERR. ss_source_failc sets the class given (SS_ERR_USAGE for bad arguments,
 * ss_err_class_of_errno(errno) for a failed call, SS_ERR_DATA for malformed input). */
int ss_source_fail(ss_source *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int ss_source_failc(ss_source *s, ss_err_class cls, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Helper for sources reading a file: sets s->id to "SCHEME:-" for path "-" (stdin), else
 * "SCHEME:/real/path@dev:ino" so that a stored cursor belongs to the file, not to a name
 * (dev/ino from st, the file's stat; st NULL when unknown: the id is the path alone). */
struct stat;
void ss_source_set_file_id(ss_source *s, const char *scheme, const char *path, const struct stat *st);

#endif
