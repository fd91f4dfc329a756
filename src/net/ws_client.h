/* A WebSocket client that stays connected: the transport under jetstream:, firehose:
 * and `skyspool record`.
 *
 * Sources are pulled (ss_source_next with a timeout), so this client has no thread of
 * its own: ss_ws_client_next() runs the libwebsockets service loop until a complete
 * message is queued or the timeout passes. Around one connection it adds what a long
 * running archiver needs:
 *
 *   - reassembly of fragmented messages, with a size cap (a longer message is still
 *     delivered, truncated and flagged, so the caller can dead-letter it: nothing is
 *     dropped silently);
 *   - a bounded queue: above its limits reading stops (lws_rx_flow_control), so a slow
 *     consumer pushes back through TCP to the server instead of growing memory or
 *     losing messages;
 *   - reconnection on close, error, connect timeout or stall (no data message for
 *     read_timeout_ms: pings, pongs and other control frames do not count, so an upstream
 *     that only keeps the connection alive is still a stall), with exponential backoff
 *     and jitter (lws_retry_bo_t); idle pings keep the connection alive;
 *   - a path callback consulted before every connection attempt, so the owner can put
 *     its latest cursor into the query string.
 *
 * Everything runs on the caller's thread; one lws context per client. */
#ifndef SS_WS_CLIENT_H
#define SS_WS_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

#define SS_WS_DEFAULT_QUEUE_MSGS 4096
#define SS_WS_DEFAULT_QUEUE_BYTES (8u * 1024 * 1024)
#define SS_WS_MAX_MESSAGE_LIMIT (64u * 1024 * 1024) /* no cap may exceed this */

typedef struct ss_ws_client ss_ws_client;

typedef struct {
    const char *url;            /* ws:// or wss://; host, port and TLS come from here */
    const char *tls_ca_file;    /* extra CA (PEM) for wss://; NULL = system CAs only */
    int tls_insecure;           /* accept any certificate (tests only) */
    int connect_timeout_ms;     /* default 10000 */
    int read_timeout_ms;        /* no data message for this long: reconnect. 0 = never */
    int ping_interval_s;        /* idle pings; default 20 */
    size_t max_message_bytes;   /* default 2 MiB */
    size_t queue_max_msgs;      /* stop reading above this; default SS_WS_DEFAULT_QUEUE_MSGS */
    size_t queue_max_bytes;     /* ... or above this; default SS_WS_DEFAULT_QUEUE_BYTES */
    /* Before every connection attempt: append the path and query to use to *path
     * (which is empty). NULL = the URL's own path. Return 0, or -1 to give up. */
    int (*path_fn)(void *ud, ss_buf *path);
    /* Right after every handshake: append a text message to send first to *msg (which is
     * empty; leave it empty to send nothing), e.g. Jetstream's options_update. NULL = none.
     * Return 0, or -1 to drop the connection. */
    int (*hello_fn)(void *ud, ss_buf *msg);
    void *ud;
    const char *log_name;       /* log component; default "ws" */
} ss_ws_client_opts;

typedef struct {
    const uint8_t *data; /* valid until the next ss_ws_client_next / _reconnect / _free */
    size_t len;
    int binary;          /* a binary (not text) message */
    int truncated;       /* longer than max_message_bytes: data holds the first len bytes */
    size_t full_len;     /* the message's real length */
    uint64_t conn_id;    /* the connection that delivered it: 1, 2, ... */
    int first_of_conn;   /* the first message of that connection */
    int64_t recv_us;     /* wall clock (µs since the epoch) when its last byte arrived */
} ss_ws_msg;

typedef struct {
    uint64_t connects;          /* handshakes completed */
    uint64_t connect_failures;  /* attempts that never got to a handshake */
    uint64_t disconnects;       /* established connections lost (close, error) */
    uint64_t stalls;            /* connections dropped for read_timeout_ms of silence */
    uint64_t messages, bytes;   /* delivered to the caller */
    uint64_t truncated;         /* messages over max_message_bytes */
    uint64_t pauses;            /* times reading stopped because the queue was full */
} ss_ws_client_stats;

enum { SS_WS_AGAIN = 0, SS_WS_MSG = 1, SS_WS_ERR = -1 };

/* Creates the client; it connects on the first ss_ws_client_next(). NULL + err on failure. */
ss_ws_client *ss_ws_client_new(const ss_ws_client_opts *o, char *err, size_t errlen);
/* SS_WS_MSG with *msg filled, SS_WS_AGAIN when nothing arrived within timeout_ms
 * (connecting and reconnecting happen meanwhile), SS_WS_ERR on a fatal error (errstr). */
int ss_ws_client_next(ss_ws_client *c, ss_ws_msg *msg, int timeout_ms);
/* Sends a text message on the open connection. Returns 0 when queued, 1 when no connection
 * is open (the next one starts with hello_fn's message instead), -1 out of memory. */
int ss_ws_client_send_text(ss_ws_client *c, const void *p, size_t n);
/* Drops the connection and anything queued, and connects again at once (the path
 * callback is consulted again): used after a seek. */
void ss_ws_client_reconnect(ss_ws_client *c);
const ss_ws_client_stats *ss_ws_client_get_stats(const ss_ws_client *c);
/* 1 while a connection is open (handshake done), 0 while connecting or waiting to retry. */
int ss_ws_client_connected(const ss_ws_client *c);
const char *ss_ws_client_errstr(const ss_ws_client *c);
void ss_ws_client_free(ss_ws_client *c);

/* Routes libwebsockets' own log lines to ss_log (debug level). Idempotent. */
void ss_ws_route_lws_logs(void);
/* Microseconds on the monotonic clock. */
int64_t ss_ws_now_us(void);

#endif
