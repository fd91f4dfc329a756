/* See ws_client.h.
 *
 * libwebsockets provides the connection (TCP, the event loop, timers, flow control) as
 * a RAW client; TLS on top of it is ws_tls.c (OpenSSL on memory BIOs) and the WebSocket
 * protocol is ws_frame.c, because lws 4.1's own client parses frames a byte at a time
 * (see ws_frame.h) and cannot start TLS on a RAW client connection.
 *
 * State machine: IDLE (waiting for next_connect_us) -> CONNECTING (lws is resolving and
 * connecting) -> TLS (wss:// only) -> HANDSHAKE (our upgrade request sent, reading the
 * 101) -> OPEN (receiving) -> back to IDLE when the connection ends for any reason,
 * with the next attempt scheduled by the backoff table. Only the current wsi may change
 * state: a connection we abandoned (stall, reconnect) may still report its close later,
 * and is ignored.
 *
 * Waiting: lws_service() sleeps until socket activity or the next scheduled lws event
 * (its timeout argument only distinguishes "don't block" (< 0) from "block" since lws
 * 3.2), so next() schedules a wake-up event for its own deadline before servicing.
 *
 * Why an attempt failed: lws 4.1 says only "Unable to connect" (refused, unreachable), or
 * returns no wsi at all (the name did not resolve), and keeps errno to itself. The log line
 * must say why, so after such a failure diagnose() asks the system once more: a lookup of
 * the name, then one non-blocking TCP connect to its first address, bounded by
 * SS_WS_DIAGNOSE_MS; the answer (a resolver error, ECONNREFUSED, a timeout) goes into the
 * line with host:port. TLS and the upgrade's HTTP status are ours, so they say why already. */
#include "net/ws_client.h"

#include <errno.h>
#include <fcntl.h>
#include <libwebsockets.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "net/ws_frame.h"
#include "net/ws_tls.h"
#include "net/ws_url.h"
#include "util/log.h"
#include "util/clock.h"

typedef struct qmsg {
    size_t len, full_len;
    uint64_t conn_id;
    int64_t recv_us;
    uint8_t binary, truncated, first;
    uint8_t data[]; /* len bytes + NUL */
} qmsg;

enum { ST_IDLE, ST_CONNECTING, ST_TLS, ST_HANDSHAKE, ST_OPEN };

#define PLAIN_CHUNK 65536 /* TLS plaintext read per step */

struct ss_ws_client {
    ss_ws_client_opts o;
    char *url_str, *ca_file, *log_name;
    ss_ws_url url;
    char host_header[SS_WS_HOST_MAX + 16];
    struct lws_context *ctx;
    struct lws *wsi;     /* the current connection, or NULL */
    int state;
    int64_t next_connect_us, connect_started_us, last_rx_us;
    int64_t last_data_us; /* the last data-frame bytes: the stall timer (pings and pongs don't count) */
    uint16_t retry;      /* index into the backoff table */
    uint64_t conn_id;
    uintptr_t attempt;   /* tags the wsi of the current attempt (opaque user data) */
    int conn_delivered;  /* messages queued from the current connection */
    lws_retry_bo_t policy;
    lws_sorted_usec_list_t wake;

    char key[25], accept[29]; /* this attempt's Sec-WebSocket-Key and the answer expected */
    ss_buf hs;           /* handshake response bytes */
    ss_buf out;          /* bytes to send, after LWS_PRE bytes of headroom */
    ss_ws_parser parser;
    ss_ws_tls_ctx *tlsx; /* wss:// */
    ss_ws_tls *tls;      /* the current connection's TLS session */
    uint8_t *plain;      /* PLAIN_CHUNK bytes of decrypted input */
    ss_buf frame;        /* a frame being built, before encryption */
    int ping_sent;       /* a keep-alive ping is out and nothing came since */
    ss_buf assembly;     /* the message being reassembled */
    size_t assembly_full;
    int assembly_binary;

    qmsg **ring;         /* FIFO of complete messages */
    size_t head, count, cap, qbytes;
    int paused;
    int shutting_down;   /* in ss_ws_client_free: ignore the callbacks of the teardown */
    qmsg *delivered;     /* handed to the caller, freed on the next call */

    ss_buf path;
    ss_ws_client_stats stats;
    char errstr[256];
};

/* Backoff: 250 ms doubling to 30 s, plus up to 20 % jitter. */
static const uint32_t g_backoff_ms[] = {250, 500, 1000, 2000, 4000, 8000, 16000, 30000};

int64_t ss_ws_now_us(void) { return ss_mono_us(); }

static void lws_log_emit(int level, const char *line) {
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r')) n--;
    ss_debug("lws", "%s%.*s", level == LLL_ERR ? "error: " : "", (int)n, line);
}

void ss_ws_route_lws_logs(void) {
    static int done;
    if (done) return;
    done = 1;
    lws_set_log_level(ss_log_get_level() == SS_LOG_DEBUG ? (LLL_ERR | LLL_WARN | LLL_NOTICE) : LLL_ERR,
                      lws_log_emit);
}

/* ---- queue ------------------------------------------------------------------------ */

static int queue_push(ss_ws_client *c, qmsg *m) {
    if (c->count == c->cap) {
        size_t ncap = c->cap ? c->cap * 2 : 256;
        qmsg **r = malloc(ncap * sizeof *r);
        if (!r) return -1;
        for (size_t i = 0; i < c->count; i++) r[i] = c->ring[(c->head + i) % c->cap];
        free(c->ring);
        c->ring = r;
        c->cap = ncap;
        c->head = 0;
    }
    c->ring[(c->head + c->count) % c->cap] = m;
    c->count++;
    c->qbytes += m->len;
    return 0;
}

static qmsg *queue_pop(ss_ws_client *c) {
    if (!c->count) return NULL;
    qmsg *m = c->ring[c->head];
    c->head = (c->head + 1) % c->cap;
    c->count--;
    c->qbytes -= m->len;
    return m;
}

static void queue_clear(ss_ws_client *c) {
    qmsg *m;
    while ((m = queue_pop(c))) free(m);
}

static int queue_full(const ss_ws_client *c) {
    return c->count >= c->o.queue_max_msgs || c->qbytes >= c->o.queue_max_bytes;
}

/* ---- connection lifecycle --------------------------------------------------------- */

#define SS_WS_DIAGNOSE_MS 1000 /* the longest diagnose() waits for its TCP connect */

/* Why can host:port not be reached? Writes a short cause ("DNS: Name or service not known",
 * "TCP: Connection refused", ...) into out. */
static void diagnose(const char *host, int port, char *out, size_t outlen) {
    struct addrinfo hints, *ai = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    int g = getaddrinfo(host, ps, &hints, &ai);
    if (g != 0) {
        snprintf(out, outlen, "DNS: cannot resolve '%s': %s", host, g == EAI_SYSTEM ? strerror(errno) : gai_strerror(g));
        return;
    }
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    int e = 0;
    if (fd < 0) {
        e = errno;
    } else if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
        e = errno;
        if (e == EINPROGRESS) {
            struct pollfd pf = {.fd = fd, .events = POLLOUT};
            int r = poll(&pf, 1, SS_WS_DIAGNOSE_MS);
            socklen_t sl = sizeof e;
            if (r == 0) e = ETIMEDOUT;
            else if (r < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &sl) != 0) e = errno;
        }
    }
    if (fd >= 0) close(fd);
    freeaddrinfo(ai);
    if (e) snprintf(out, outlen, "TCP: %s", strerror(e));
    else snprintf(out, outlen, "TCP connects now; the attempt failed (lws)");
}

static void schedule_retry(ss_ws_client *c, const char *why) {
    char conceal;
    uint32_t ms = lws_retry_get_delay_ms(c->ctx, &c->policy, &c->retry, &conceal);
    c->next_connect_us = ss_ws_now_us() + (int64_t)ms * 1000;
    ss_warn(c->log_name, "%s; reconnecting in %u ms", why, ms);
}

/* The current connection ended (or never started). */
static void connection_gone(ss_ws_client *c, const char *why) {
    int was_open = c->state == ST_OPEN;
    ss_buf_reset(&c->hs);
    ss_ws_tls_free(c->tls);
    c->tls = NULL;
    c->wsi = NULL;
    c->state = ST_IDLE;
    c->paused = 0;
    ss_buf_reset(&c->assembly);
    if (was_open) c->stats.disconnects++;
    else c->stats.connect_failures++;
    schedule_retry(c, why);
}

/* Abandons the current connection: lws closes it on its next service. */
static void abandon(ss_ws_client *c, const char *why) {
    struct lws *w = c->wsi;
    c->wsi = NULL; /* from now on its callbacks are ignored */
    if (w) lws_set_timeout(w, PENDING_TIMEOUT_USER_REASON_BASE, LWS_TO_KILL_ASYNC);
    if (why) {
        connection_gone(c, why); /* counts by the state it was in */
    } else {
        c->state = ST_IDLE;
        c->paused = 0;
        ss_buf_reset(&c->assembly);
    }
}

static void start_connect(ss_ws_client *c) {
    ss_buf_reset(&c->path);
    if (c->o.path_fn) {
        if (c->o.path_fn(c->o.ud, &c->path) != 0 || !c->path.len) {
            c->next_connect_us = ss_ws_now_us() + 1000000;
            ss_error(c->log_name, "could not build the request path; retrying in 1 s");
            return;
        }
    } else if (ss_buf_puts(&c->path, c->url.path) < 0) {
        return;
    }
    struct lws_client_connect_info ci;
    memset(&ci, 0, sizeof ci);
    ci.context = c->ctx;
    ci.address = c->url.host;
    ci.port = c->url.port;
    ci.path = c->path.data;
    ci.host = c->host_header;
    ci.origin = c->host_header;
    ci.ietf_version_or_minus_one = -1;
    ci.method = "RAW"; /* lws does TCP; TLS and the WebSocket protocol are ours */
    ci.local_protocol_name = "ss-ws-client";
    ci.retry_and_idle_policy = &c->policy;
    ci.opaque_user_data = (void *)++c->attempt;
    if (ss_ws_make_key(c->key) < 0) {
        c->next_connect_us = ss_ws_now_us() + 1000000;
        ss_error(c->log_name, "no randomness for the WebSocket key; retrying in 1 s");
        return;
    }
    ss_ws_accept_for(c->key, c->accept);
    c->state = ST_CONNECTING;
    c->wsi = NULL;
    c->connect_started_us = ss_ws_now_us();
    ss_debug(c->log_name, "connecting to %s://%s:%d%s", c->url.tls ? "wss" : "ws", c->url.host, c->url.port,
             c->path.data);
    struct lws *w = lws_client_connect_via_info(&ci);
    if (c->state != ST_CONNECTING) return; /* failed synchronously; already handled */
    if (!w) {
        char cause[300], why[600];
        diagnose(c->url.host, c->url.port, cause, sizeof cause);
        snprintf(why, sizeof why, "cannot connect to %s:%d: %s", c->url.host, c->url.port, cause);
        connection_gone(c, why);
        return;
    }
    if (!c->wsi) c->wsi = w;
}

/* Is this callback about our current connection attempt? Each attempt tags its wsi,
 * so callbacks of abandoned connections, which may come late, are ignored. */
static int is_current(ss_ws_client *c, struct lws *wsi) {
    if (c->state == ST_IDLE || (uintptr_t)lws_get_opaque_user_data(wsi) != c->attempt) return 0;
    if (!c->wsi) c->wsi = wsi;
    return c->wsi == wsi;
}

static int enqueue(ss_ws_client *c, const void *p, size_t n, size_t full, int binary) {
    qmsg *m = malloc(sizeof *m + n + 1);
    if (!m) return -1;
    m->len = n;
    m->full_len = full;
    m->binary = (uint8_t)binary;
    m->truncated = full > n;
    m->conn_id = c->conn_id;
    m->first = c->conn_delivered == 0;
    m->recv_us = ss_wall_us();
    memcpy(m->data, p, n);
    m->data[n] = 0;
    if (queue_push(c, m) < 0) {
        free(m);
        return -1;
    }
    c->conn_delivered++;
    c->retry = 0; /* the connection works: the next failure starts the backoff afresh */
    return 0;
}

/* A payload slice of a data frame (ws_frame.h): reassemble messages, queue them. */
static int on_data(void *ud, int opcode, int fin, int frame_start, int frame_end, const uint8_t *p, size_t n) {
    ss_ws_client *c = ud;
    c->last_data_us = ss_ws_now_us(); /* a message is making progress */
    size_t cap = c->o.max_message_bytes;
    if (frame_start && opcode != SS_WS_OP_CONT) { /* a new message */
        ss_buf_reset(&c->assembly);
        c->assembly_full = 0;
        c->assembly_binary = opcode == SS_WS_OP_BINARY;
        if (frame_end && fin) /* the common case: the whole message in one slice, one copy */
            return enqueue(c, p, n < cap ? n : cap, n, c->assembly_binary);
    }
    size_t room = c->assembly.len < cap ? cap - c->assembly.len : 0;
    if (ss_buf_append(&c->assembly, p, n < room ? n : room) < 0) return -1;
    c->assembly_full += n;
    if (frame_end && fin) {
        if (enqueue(c, c->assembly.data, c->assembly.len, c->assembly_full, c->assembly_binary) < 0) return -1;
        ss_buf_reset(&c->assembly);
        if (c->assembly.cap > 4 * 1024 * 1024) ss_buf_free(&c->assembly); /* don't keep a huge one */
    }
    return 0;
}

/* Empties the output buffer, keeping LWS_PRE bytes of headroom for lws_write. */
static int out_reset(ss_ws_client *c) {
    ss_buf_reset(&c->out);
    if (ss_buf_reserve(&c->out, LWS_PRE) < 0) return -1;
    memset(c->out.data, 0, LWS_PRE);
    c->out.len = LWS_PRE;
    return 0;
}

/* Queues plaintext for the server (through TLS on wss://) and asks to be writable. */
static int send_plain(ss_ws_client *c, const void *p, size_t n) {
    if (c->out.len < LWS_PRE && out_reset(c) < 0) return -1;
    if (c->tls) {
        if (ss_ws_tls_write(c->tls, p, n) < 0 || ss_ws_tls_take(c->tls, &c->out) < 0) return -1;
    } else if (ss_buf_append(&c->out, p, n) < 0) {
        return -1;
    }
    if (c->wsi && c->out.len > LWS_PRE) lws_callback_on_writable(c->wsi);
    return 0;
}

static void send_bytes(ss_ws_client *c, int opcode, const void *p, size_t n) {
    ss_buf_reset(&c->frame);
    if (ss_ws_frame_encode(&c->frame, opcode, p, n) == 0) send_plain(c, c->frame.data, c->frame.len);
}

static int send_upgrade(ss_ws_client *c) {
    c->state = ST_HANDSHAKE;
    ss_buf_reset(&c->frame);
    if (ss_ws_handshake_request(&c->frame, c->host_header, c->path.data, c->key) < 0) return -1;
    return send_plain(c, c->frame.data, c->frame.len);
}

static int on_control(void *ud, int opcode, const uint8_t *p, size_t n) {
    ss_ws_client *c = ud;
    if (opcode == SS_WS_OP_PING) {
        send_bytes(c, SS_WS_OP_PONG, p, n);
    } else if (opcode == SS_WS_OP_CLOSE) {
        char why[200];
        int code = n >= 2 ? p[0] << 8 | p[1] : 1005;
        snprintf(why, sizeof why, "server closed the connection (code %d%s%.*s)", code, n > 2 ? ": " : "",
                 (int)(n > 2 ? n - 2 : 0), (const char *)p + 2);
        ss_info(c->log_name, "%s", why);
        return 1; /* stop parsing; the caller drops the connection */
    }
    return 0; /* pong: the connection is alive (but only data resets the stall timer) */
}

static const ss_ws_frame_cb g_frame_cb = {on_data, on_control};

static void established(ss_ws_client *c) {
    c->state = ST_OPEN;
    c->conn_id++;
    c->conn_delivered = 0;
    c->stats.connects++;
    c->last_data_us = ss_ws_now_us();
    ss_ws_parser_init(&c->parser);
    ss_buf_reset(&c->assembly);
    ss_info(c->log_name, "connected to %s://%s%.1000s", c->url.tls ? "wss" : "ws", c->host_header, c->path.data);
}

/* The owner's first message of a connection (hello_fn). 0, or -1: drop the connection. */
static int send_hello(ss_ws_client *c) {
    if (!c->o.hello_fn) return 0;
    ss_buf msg;
    ss_buf_init(&msg);
    int rc = c->o.hello_fn(c->o.ud, &msg);
    if (rc == 0 && msg.len) {
        ss_buf_reset(&c->frame);
        rc = ss_ws_frame_encode(&c->frame, SS_WS_OP_TEXT, msg.data, msg.len) == 0 &&
                     send_plain(c, c->frame.data, c->frame.len) == 0
                 ? 0
                 : -1;
    }
    ss_buf_free(&msg);
    return rc;
}

int ss_ws_client_send_text(ss_ws_client *c, const void *p, size_t n) {
    if (c->state != ST_OPEN) return 1;
    ss_buf_reset(&c->frame);
    if (ss_ws_frame_encode(&c->frame, SS_WS_OP_TEXT, p, n) != 0) return -1;
    return send_plain(c, c->frame.data, c->frame.len) == 0 ? 0 : -1;
}

/* Received bytes: the handshake response first, then frames. */
static int on_rx(ss_ws_client *c, uint8_t *in, size_t len) {
    c->last_rx_us = ss_ws_now_us();
    c->ping_sent = 0;
    char err[200];
    if (c->state == ST_HANDSHAKE) {
        if (ss_buf_append(&c->hs, in, len) < 0) return -1;
        long hl = ss_ws_handshake_parse(c->hs.data, c->hs.len, c->accept, err, sizeof err);
        if (hl == 0) return 0;
        if (hl < 0) {
            char why[600];
            snprintf(why, sizeof why, "WebSocket handshake with %s:%d failed: %s", c->url.host, c->url.port, err);
            abandon(c, why);
            return 0;
        }
        established(c);
        if (send_hello(c) < 0) {
            abandon(c, "cannot send the first message");
            return 0;
        }
        size_t rest = c->hs.len - (size_t)hl;
        if (!rest) return 0;
        in = (uint8_t *)c->hs.data + hl; /* frames that came with the response */
        len = rest;
    }
    int rc = ss_ws_parse(&c->parser, in, len, &g_frame_cb, c, err, sizeof err);
    if (c->state == ST_OPEN && c->hs.len) ss_buf_reset(&c->hs);
    if (rc < 0 && c->errstr[0]) return -1; /* out of memory */
    if (rc < 0) {
        char why[600];
        snprintf(why, sizeof why, "WebSocket protocol error from %s:%d: %s", c->url.host, c->url.port, err);
        abandon(c, why);
        return 0;
    }
    if (rc > 0) { /* a close frame */
        abandon(c, "connection closed");
        return 0;
    }
    if (!c->paused && queue_full(c) && c->wsi) {
        lws_rx_flow_control(c->wsi, 0);
        c->paused = 1;
        c->stats.pauses++;
    }
    return 0;
}

/* Ciphertext received on wss://: finish the TLS handshake, then decrypt and hand the
 * plaintext to on_rx, and send whatever TLS wants sent. */
static int on_tls_rx(ss_ws_client *c, struct lws *wsi, const void *in, size_t len) {
    char err[300];
    if (ss_ws_tls_feed(c->tls, in, len) < 0) return -1;
    if (c->state == ST_TLS) {
        int hs = ss_ws_tls_handshake(c->tls, err, sizeof err);
        if (hs < 0) {
            char why[600];
            snprintf(why, sizeof why, "cannot connect to %s:%d: %s", c->url.host, c->url.port, err);
            abandon(c, why);
            return 0;
        }
        if (hs == 1 && send_upgrade(c) < 0) return -1;
    }
    while (c->wsi == wsi && c->state >= ST_HANDSHAKE) {
        long n = ss_ws_tls_read(c->tls, c->plain, PLAIN_CHUNK, err, sizeof err);
        if (n == 0) break;
        if (n < 0) {
            abandon(c, err);
            return 0;
        }
        if (on_rx(c, c->plain, (size_t)n) < 0) return -1;
    }
    if (c->wsi == wsi && c->tls) {
        if (c->out.len < LWS_PRE && out_reset(c) < 0) return -1;
        if (ss_ws_tls_take(c->tls, &c->out) < 0) return -1;
        if (c->out.len > LWS_PRE) lws_callback_on_writable(wsi);
    }
    return 0;
}

static int client_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len) {
    struct lws_context *ctx = lws_get_context(wsi);
    ss_ws_client *c = ctx ? lws_context_user(ctx) : NULL;
    if (!c || c->shutting_down) return 0;
    switch (reason) {
    case LWS_CALLBACK_RAW_CONNECTED:
        if (!is_current(c, wsi)) return -1;
        ss_buf_reset(&c->hs);
        if (out_reset(c) < 0) return -1;
        if (c->tlsx) {
            char err[300];
            ss_ws_tls_free(c->tls);
            c->tls = ss_ws_tls_new(c->tlsx, c->url.host, err, sizeof err);
            if (!c->tls) {
                abandon(c, err);
                return 0;
            }
            c->state = ST_TLS;
            if (ss_ws_tls_handshake(c->tls, err, sizeof err) < 0 || ss_ws_tls_take(c->tls, &c->out) < 0) {
                abandon(c, err);
                return 0;
            }
            lws_callback_on_writable(wsi);
        } else if (send_upgrade(c) < 0) {
            return -1;
        }
        break;
    case LWS_CALLBACK_RAW_WRITEABLE:
        if (!is_current(c, wsi)) return 0;
        if (c->out.len > LWS_PRE) {
            size_t n = c->out.len - LWS_PRE;
            if (lws_write(wsi, (unsigned char *)c->out.data + LWS_PRE, n, LWS_WRITE_RAW) < (int)n) return -1;
            c->out.len = LWS_PRE;
        }
        break;
    case LWS_CALLBACK_RAW_RX:
        if (!is_current(c, wsi) || c->state < ST_TLS) return 0;
        if ((c->tls ? on_tls_rx(c, wsi, in, len) : on_rx(c, in, len)) < 0) {
            if (!c->errstr[0]) snprintf(c->errstr, sizeof c->errstr, "out of memory receiving a message");
            return -1;
        }
        break;
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        if (is_current(c, wsi)) {
            char why[1024], cause[300];
            diagnose(c->url.host, c->url.port, cause, sizeof cause);
            snprintf(why, sizeof why, "cannot connect to %s:%d: %s (lws: %.200s)", c->url.host, c->url.port, cause,
                     in ? (const char *)in : "unknown error");
            connection_gone(c, why);
        }
        break;
    case LWS_CALLBACK_RAW_CLOSE:
        if (is_current(c, wsi))
            connection_gone(c, c->state == ST_OPEN ? "connection closed" : "connection closed during the handshake");
        break;
    default:
        break;
    }
    return 0;
}

static const struct lws_protocols g_protocols[] = {
    {"ss-ws-client", client_callback, 0, 65536, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

ss_ws_client *ss_ws_client_new(const ss_ws_client_opts *o, char *err, size_t errlen) {
    ss_ws_client *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    c->o = *o;
    if (!c->o.connect_timeout_ms) c->o.connect_timeout_ms = 10000;
    if (!c->o.ping_interval_s) c->o.ping_interval_s = 20;
    if (!c->o.max_message_bytes) c->o.max_message_bytes = 2u * 1024 * 1024;
    if (c->o.max_message_bytes > SS_WS_MAX_MESSAGE_LIMIT) c->o.max_message_bytes = SS_WS_MAX_MESSAGE_LIMIT;
    if (!c->o.queue_max_msgs) c->o.queue_max_msgs = SS_WS_DEFAULT_QUEUE_MSGS;
    if (!c->o.queue_max_bytes) c->o.queue_max_bytes = SS_WS_DEFAULT_QUEUE_BYTES;
    c->url_str = strdup(o->url ? o->url : "");
    c->ca_file = o->tls_ca_file ? strdup(o->tls_ca_file) : NULL;
    c->log_name = strdup(o->log_name ? o->log_name : "ws");
    c->o.url = c->url_str;
    c->o.tls_ca_file = c->ca_file;
    c->o.log_name = c->log_name;
    ss_buf_init(&c->assembly);
    ss_buf_init(&c->path);
    ss_buf_init(&c->hs);
    ss_buf_init(&c->out);
    ss_buf_init(&c->frame);
    if (!c->url_str || !c->log_name || (o->tls_ca_file && !c->ca_file)) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if (ss_ws_url_parse(c->url_str, &c->url, err, errlen) < 0) goto fail;
    int default_port = c->url.port == (c->url.tls ? 443 : 80);
    int v6 = strchr(c->url.host, ':') != NULL;
    if (default_port)
        snprintf(c->host_header, sizeof c->host_header, v6 ? "[%s]" : "%s", c->url.host);
    else
        snprintf(c->host_header, sizeof c->host_header, v6 ? "[%s]:%d" : "%s:%d", c->url.host, c->url.port);

    c->policy.retry_ms_table = g_backoff_ms;
    c->policy.retry_ms_table_count = sizeof g_backoff_ms / sizeof g_backoff_ms[0];
    c->policy.conceal_count = UINT16_MAX;
    c->policy.jitter_percent = 20; /* keep-alive pings are ours (next()), not lws's */

    ss_ws_route_lws_logs();
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = g_protocols;
    info.user = c;
    info.gid = (gid_t)-1;
    info.uid = (uid_t)-1;
    info.pt_serv_buf_size = 65536;
    info.fd_limit_per_thread = 16;
    info.connect_timeout_secs = (unsigned)((c->o.connect_timeout_ms + 999) / 1000);
    info.timeout_secs = info.connect_timeout_secs;
    if (c->url.tls) {
        c->tlsx = ss_ws_tls_ctx_new(c->ca_file, c->o.tls_insecure, err, errlen);
        c->plain = malloc(PLAIN_CHUNK);
        if (!c->tlsx || !c->plain) {
            if (c->tlsx) snprintf(err, errlen, "out of memory");
            goto fail;
        }
    }
    c->ctx = lws_create_context(&info);
    if (!c->ctx) {
        snprintf(err, errlen, "cannot create the WebSocket client (libwebsockets context)");
        goto fail;
    }
    c->state = ST_IDLE;
    c->next_connect_us = 0;
    return c;
fail:
    ss_ws_client_free(c);
    return NULL;
}

/* Run by lws when the wake-up is due. lws runs due timers before poll() computes its timeout,
 * so a wake-up that became due in between (a process descheduled for longer than the wait, on
 * a loaded box) would leave poll() to block until lws's next own timer, seconds away. Re-armed
 * a few ms out, it bounds that poll(); lws_service() returns after one poll, and the loop then
 * schedules the next real wake-up. */
static void wake_cb(lws_sorted_usec_list_t *sul) {
    ss_ws_client *c = lws_container_of(sul, ss_ws_client, wake);
    lws_sul_schedule(c->ctx, 0, &c->wake, wake_cb, 5 * 1000);
}

static void maybe_resume(ss_ws_client *c) {
    if (c->paused && c->wsi && c->count <= c->o.queue_max_msgs / 2 && c->qbytes <= c->o.queue_max_bytes / 2) {
        lws_rx_flow_control(c->wsi, LWS_RXFLOW_REASON_APPLIES_ENABLE | LWS_RXFLOW_REASON_USER_BOOL |
                                        LWS_RXFLOW_REASON_FLAG_PROCESS_NOW);
        c->paused = 0;
        c->last_rx_us = c->last_data_us = ss_ws_now_us();
    }
}

int ss_ws_client_next(ss_ws_client *c, ss_ws_msg *msg, int timeout_ms) {
    free(c->delivered);
    c->delivered = NULL;
    int64_t deadline = ss_ws_now_us() + (int64_t)(timeout_ms > 0 ? timeout_ms : 0) * 1000;
    for (int round = 0;; round++) {
        qmsg *m = queue_pop(c);
        if (m) {
            c->delivered = m;
            msg->data = m->data;
            msg->len = m->len;
            msg->binary = m->binary;
            msg->truncated = m->truncated;
            msg->full_len = m->full_len;
            msg->conn_id = m->conn_id;
            msg->first_of_conn = m->first;
            msg->recv_us = m->recv_us;
            c->stats.messages++;
            c->stats.bytes += m->full_len;
            if (m->truncated) c->stats.truncated++;
            maybe_resume(c);
            return SS_WS_MSG;
        }
        if (c->errstr[0]) return SS_WS_ERR;
        int64_t now = ss_ws_now_us();
        if (round > 0 && now >= deadline) return SS_WS_AGAIN;

        if (c->state == ST_IDLE && now >= c->next_connect_us) start_connect(c);
        if ((c->state == ST_CONNECTING || c->state == ST_TLS || c->state == ST_HANDSHAKE) &&
            now - c->connect_started_us > (int64_t)c->o.connect_timeout_ms * 1000) {
            abandon(c, c->state == ST_CONNECTING ? "connect timed out"
                       : c->state == ST_TLS     ? "TLS handshake timed out"
                                                : "WebSocket handshake timed out");
        } else if (c->state == ST_OPEN && !c->paused && c->o.read_timeout_ms > 0 &&
                   now - c->last_data_us > (int64_t)c->o.read_timeout_ms * 1000) {
            c->stats.stalls++;
            char why[96];
            snprintf(why, sizeof why, "no data for %d ms (stalled%s)", c->o.read_timeout_ms,
                     c->last_rx_us > c->last_data_us ? "; the server still sends pings or other control frames" : "");
            abandon(c, why);
        }

        int64_t ping_at = c->last_rx_us + (int64_t)c->o.ping_interval_s * 1000000;
        if (c->state == ST_OPEN && !c->paused && !c->ping_sent && now >= ping_at) {
            send_bytes(c, SS_WS_OP_PING, "skyspool", 8); /* idle: keep the connection (and NATs) alive */
            c->ping_sent = 1;
        }

        /* Sleep in lws until activity or the earliest of our own deadlines. */
        int64_t wake = deadline;
        if (c->state == ST_OPEN && !c->ping_sent && ping_at < wake) wake = ping_at;
        if ((c->state == ST_CONNECTING || c->state == ST_TLS || c->state == ST_HANDSHAKE) &&
            c->connect_started_us + (int64_t)c->o.connect_timeout_ms * 1000 < wake)
            wake = c->connect_started_us + (int64_t)c->o.connect_timeout_ms * 1000;
        if (c->state == ST_IDLE && c->next_connect_us < wake) wake = c->next_connect_us;
        if (c->state == ST_OPEN && c->o.read_timeout_ms > 0) {
            int64_t stall_at = c->last_data_us + (int64_t)c->o.read_timeout_ms * 1000 + 1000;
            if (stall_at < wake) wake = stall_at;
        }
        int64_t delay = wake - ss_ws_now_us();
        /* Short waits poll without blocking; a longer one whose wake-up turns due before
         * poll() re-arms itself (wake_cb), so poll() never sleeps past it by more than 5 ms. */
        int nonblock = delay <= 2000;
        if (!nonblock) lws_sul_schedule(c->ctx, 0, &c->wake, wake_cb, delay);
        if (lws_service(c->ctx, nonblock ? -1 : 0) < 0) {
            snprintf(c->errstr, sizeof c->errstr, "WebSocket service loop failed");
            return SS_WS_ERR;
        }
    }
}

void ss_ws_client_reconnect(ss_ws_client *c) {
    free(c->delivered);
    c->delivered = NULL;
    queue_clear(c);
    if (c->wsi || c->state != ST_IDLE) abandon(c, NULL);
    c->state = ST_IDLE;
    c->retry = 0;
    c->next_connect_us = 0;
}

const ss_ws_client_stats *ss_ws_client_get_stats(const ss_ws_client *c) { return &c->stats; }
int ss_ws_client_connected(const ss_ws_client *c) { return c->state == ST_OPEN; }
const char *ss_ws_client_errstr(const ss_ws_client *c) { return c->errstr; }

void ss_ws_client_free(ss_ws_client *c) {
    if (!c) return;
    if (c->ctx) {
        c->shutting_down = 1;
        lws_sul_cancel(&c->wake);
        lws_context_destroy(c->ctx); /* closes the connection; its callbacks find c intact */
    }
    free(c->delivered);
    queue_clear(c);
    free(c->ring);
    ss_buf_free(&c->assembly);
    ss_buf_free(&c->path);
    ss_buf_free(&c->hs);
    ss_buf_free(&c->out);
    ss_buf_free(&c->frame);
    ss_ws_tls_free(c->tls);
    ss_ws_tls_ctx_free(c->tlsx);
    free(c->plain);
    free(c->url_str);
    free(c->ca_file);
    free(c->log_name);
    free(c);
}
