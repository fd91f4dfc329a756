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
 * itself keeps running as clients come and go. */
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
    const char *jsonl_path;      /* exactly one of jsonl_path, frames_path */
    const char *frames_path;
    double rate;                 /* messages per second per connection; 0 = no limit */
    int original_timing;         /* pace by the events' own times */
    const char *tls_cert, *tls_key; /* PEM files: serve wss:// */
    uint64_t close_after;        /* close each connection after this many messages; 0 = never */
    const char *zstd_dictionary; /* needed for compress=true */
    size_t fragment;             /* send each message in frames of at most this many bytes; 0 = whole */
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
