/* The replay server: a local WebSocket server that plays a recorded file back as a
 * live source would, for tests, demos and anyone replaying an archive into a pipeline.
 *
 *   - a JSONL file is served with the Jetstream subscribe protocol on /subscribe:
 *     wantedCollections (NSIDs and prefix.* forms; identity and account always pass),
 *     cursor=<time_us> (start at the first event with time_us >= cursor),
 *     maxMessageSizeBytes, and compress=true (one zstd frame per message, made with
 *     Jetstream's dictionary);
 *   - a frames file is served with the subscribeRepos protocol on
 *     /xrpc/com.atproto.sync.subscribeRepos: cursor=<seq> starts after that seq, as
 *     relays do.
 *
 * Pacing is per connection: as fast as the client reads, a fixed rate, or the original
 * timing (time_us / the frame's time). Each connection reads the file on its own and
 * only as fast as its socket drains (libwebsockets tells us when it is writable), so
 * memory does not grow with the file or with slow clients. close_after ends each
 * connection after N messages (with close code 1001), to test reconnects; the server
 * itself keeps running as clients come and go.
 *
 * Protocol emulation, so that tests can show how clients cope with the less common
 * paths of a real relay or Jetstream (all off by default):
 *   - history: the first N records are the past; a connection without a cursor starts
 *     after them, at "live", as both upstreams do;
 *   - window: only the last N records are retained. An older cursor is clamped to the
 *     oldest retained record (Jetstream and indigo's relay both do this silently); with
 *     outdated_cursor a frames client first gets #info OutdatedCursor;
 *   - future_cursor: a frames cursor past the last seq gets an error frame FutureCursor
 *     and the connection is closed, as the relay does;
 *   - seq_reset_after/base: from frame N+1 on the seqs are renumbered from base (a relay
 *     whose numbering restarted); a cursor then refers to the new numbering only;
 *   - ping_only_ms: nothing but a ping every that many ms (an upstream that stalled but
 *     keeps the connection alive).
 * A record that carries a top-level "cursor" (newer Jetstreams) is matched by it: a
 * request cursor C starts after the record whose cursor is C. */
#ifndef SS_WS_SERVER_H
#define SS_WS_SERVER_H

#include <signal.h>
#include <stdint.h>

#define SS_REPLAY_JETSTREAM_PATH "/subscribe"
#define SS_REPLAY_FIREHOSE_PATH "/xrpc/com.atproto.sync.subscribeRepos"
#define SS_REPLAY_MAX_CONNECTIONS 64

typedef struct {
    const char *host;            /* listen address: 127.0.0.1, ::1, ... */
    int port;                    /* 0 = the kernel picks; see ss_ws_replay_port() */
    const char *jsonl_path;      /* exactly one of jsonl_path, frames_path, source_spec */
    const char *frames_path;
    const char *source_spec;     /* a skyspool source (e.g. "archive:DIR") served like a JSONL file */
    double rate;                 /* messages per second per connection; 0 = no limit */
    int original_timing;         /* pace by the events' own times */
    const char *tls_cert, *tls_key; /* PEM files: serve wss:// */
    uint64_t close_after;        /* close each connection after this many messages; 0 = never */
    const char *zstd_dictionary; /* needed for compress=true */
    size_t fragment;             /* send each message in frames of at most this many bytes; 0 = whole */
    uint64_t history;            /* no cursor: start after the first `history` records (live) */
    uint64_t window;             /* only the last `window` records are retained; 0 = all */
    int future_cursor;           /* frames: cursor past the last seq -> error frame FutureCursor */
    int outdated_cursor;         /* frames: cursor older than the window -> #info OutdatedCursor */
    uint64_t seq_reset_after;    /* frames: renumber frames after this many; 0 = never */
    int64_t seq_reset_base;      /* ... starting at this seq */
    int ping_only_ms;            /* send only pings, every this many ms; 0 = off */
} ss_ws_replay_opts;

typedef struct {
    uint64_t connections, active, messages, bytes, closed_after;
} ss_ws_replay_stats;

typedef struct ss_ws_replay ss_ws_replay;

/* Creates the server and starts listening. NULL + err on failure. */
ss_ws_replay *ss_ws_replay_new(const ss_ws_replay_opts *o, char *err, size_t errlen);
int ss_ws_replay_port(const ss_ws_replay *r);
/* Serves until *stop becomes non-zero (checked at least every 100 ms). Returns 0, or
 * -1 when the service loop fails. */
int ss_ws_replay_run(ss_ws_replay *r, volatile sig_atomic_t *stop);
const ss_ws_replay_stats *ss_ws_replay_get_stats(const ss_ws_replay *r);
void ss_ws_replay_free(ss_ws_replay *r);

#endif
