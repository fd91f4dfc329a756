/* See ws_server.h.
 *
 * One lws context, one vhost, one protocol that is also protocols[0], so clients that
 * ask for no subprotocol (Jetstream clients don't) land on it. Per connection: a file
 * reader, the request's parameters, a pacing clock, and one pending message (read but
 * not yet due). Writing is driven by LWS_CALLBACK_SERVER_WRITEABLE: each callback frames
 * a batch of due messages itself (ws_frame.c) into one buffer and hands it to lws as raw
 * bytes, one write for up to BATCH_BYTES, instead of one lws_write (a send and a poll)
 * per message. Pacing waits use the per-connection lws timer. */
#include "replay/ws_server.h"

#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/frame_peek.h"
#include "proto/js_proto.h"
#include "net/ws_frame.h"
#include "replay/replay_input.h"
#include "net/ws_client.h" /* ss_ws_now_us, ss_ws_route_lws_logs */
#include "net/ws_url.h"
#include "net/zdict.h"
#include "frames/frames.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/log.h"

#define SS_REPLAY_TICK_US (100 * 1000) /* the longest poll(): how soon a stop flag is seen */
#define BURST 512                /* messages per writeable callback at most */
#define BATCH_BYTES (128 * 1024) /* bytes framed per writeable callback, about */

typedef struct {
    ss_replay_reader *rd;      /* JSONL input */
    ss_frames_reader *frd;     /* frames input */
    ss_js_filter filter;
    ss_js_dids dids;       /* wantedDids; empty = every DID */
    int hello_wait;        /* requireHello=true: nothing is sent before an options_update */
    ss_buf rx;             /* a subscriber message being received (fragments joined) */
    int compress;
    int64_t cursor;        /* -1 = none */
    int cursor_passed;     /* the first record at or past the cursor was found */
    uint64_t max_size;     /* maxMessageSizeBytes; 0 = no limit */
    uint64_t sent;
    int64_t start_wall_us, first_time_us;
    ss_buf pend;           /* LWS_PRE headroom + the next message */
    ss_buf batch;          /* LWS_PRE headroom + framed messages to write */
    size_t pend_len;
    int pend_binary;
    int64_t pend_time_us;
    int have_pend, eof, closing, started;
    uint64_t index;        /* records read from the input so far */
    uint64_t start_index;  /* records before this one are not served (history, window, old seqs) */
    ss_buf notice;         /* an #info or error frame to send first; LWS_PRE headroom */
    int notice_closes;     /* ... and close the connection after it */
    ss_buf renum;          /* a frame with its seq rewritten (seq_reset) */
    char peer[64];
} conn;

struct ss_ws_replay {
    ss_ws_replay_opts o;
    int frames;
    struct lws_context *ctx;
    struct lws_vhost *vh;
    ss_zdict *zd;
    ss_buf zbuf;
    ss_ws_replay_stats stats;
    lws_sorted_usec_list_t tick;
    uint64_t nrecords;     /* records in the input (counted at start when an emulation needs it) */
    int64_t last_seq;      /* frames: the last seq served, in the current numbering */
    int64_t oldest_seq;    /* frames: the seq of the oldest retained frame; -1 unknown */
};

static ss_ws_replay *server_of(struct lws *wsi) { return lws_context_user(lws_get_context(wsi)); }

/* ---- request parameters ----------------------------------------------------------- */

typedef struct {
    ss_ws_replay *srv;
    conn *c;
    char err[200];
} param_ctx;

static int on_param(const char *key, const char *value, void *ud) {
    param_ctx *pc = ud;
    conn *c = pc->c;
    if (!strcmp(key, "wantedCollections") && !pc->srv->frames) {
        if (ss_js_filter_add(&c->filter, value, pc->err, sizeof pc->err) < 0) return 1;
    } else if (!strcmp(key, "cursor") && *value) {
        char *end;
        long long v = strtoll(value, &end, 10);
        if (*end || v < 0) {
            snprintf(pc->err, sizeof pc->err, "bad cursor '%.40s'", value);
            return 1;
        }
        c->cursor = v;
    } else if (!strcmp(key, "compress") && !pc->srv->frames) {
        c->compress = !strcmp(value, "true") || !strcmp(value, "1");
    } else if (!strcmp(key, "maxMessageSizeBytes") && !pc->srv->frames) {
        char *end;
        long long v = strtoll(value, &end, 10);
        if (*end || v < 0) {
            snprintf(pc->err, sizeof pc->err, "bad maxMessageSizeBytes '%.40s'", value);
            return 1;
        }
        c->max_size = (uint64_t)v;
    } else if (!strcmp(key, "wantedDids") && !pc->srv->frames) {
        if (ss_js_dids_parse(&c->dids, value, strlen(value), pc->err, sizeof pc->err) < 0) return 1;
    } else if (!strcmp(key, "requireHello") && !pc->srv->frames) {
        c->hello_wait = !strcmp(value, "true");
    }
    return 0; /* other parameters are ignored */
}

static int parse_params(ss_ws_replay *srv, struct lws *wsi, conn *c, char *err, size_t errlen) {
    param_ctx pc = {srv, c, {0}};
    char frag[SS_WS_URL_MAX];
    for (int i = 0; i < 1000; i++) {
        int n = lws_hdr_copy_fragment(wsi, frag, sizeof frag, WSI_TOKEN_HTTP_URI_ARGS, i);
        if (n < 0) break;
        int rc = ss_ws_query_each(frag, on_param, &pc);
        if (rc) {
            snprintf(err, errlen, "%s", rc < 0 ? "query parameter too long" : pc.err);
            return -1;
        }
    }
    if (ss_js_dids_finish(&c->dids, err, errlen) < 0) return -1; /* the count, after repeats are dropped */
    if (c->compress && !srv->zd) {
        snprintf(err, errlen, "compress=true needs the server to be started with --zstd-dictionary");
        return -1;
    }
    return 0;
}

/* ---- producing messages ----------------------------------------------------------- */

/* The seq a frame at index i (0-based) is served with. */
static int64_t served_seq(const ss_ws_replay *srv, uint64_t i, int64_t seq) {
    if (srv->o.seq_reset_after && i >= srv->o.seq_reset_after) return srv->o.seq_reset_base + (int64_t)(i - srv->o.seq_reset_after);
    return seq;
}

static int cbor_head(ss_buf *b, int major, uint64_t v) {
    uint8_t h[9];
    size_t n;
    if (v < 24) h[0] = (uint8_t)(major << 5 | v), n = 1;
    else if (v <= 0xff) h[0] = (uint8_t)(major << 5 | 24), h[1] = (uint8_t)v, n = 2;
    else h[0] = (uint8_t)(major << 5 | 25), h[1] = (uint8_t)(v >> 8), h[2] = (uint8_t)v, n = 3;
    return ss_buf_append(b, h, n);
}

static int cbor_text(ss_buf *b, const char *t) {
    size_t n = strlen(t);
    return cbor_head(b, 3, n) || ss_buf_append(b, t, n);
}

/* An error frame ({op:-1} {error, message}) or an #info frame ({t:"#info", op:1}
 * {name, message}) into c->notice, keys in DAG-CBOR order, as relays send them. */
static int make_notice(conn *c, int is_error, const char *name, const char *message) {
    ss_buf *b = &c->notice;
    ss_buf_reset(b);
    if (ss_buf_reserve(b, LWS_PRE + 128) < 0) return -1;
    b->len = LWS_PRE;
    int e = is_error ? (cbor_head(b, 5, 1) || cbor_text(b, "op") || cbor_head(b, 1, 0))
                     : (cbor_head(b, 5, 2) || cbor_text(b, "t") || cbor_text(b, "#info") || cbor_text(b, "op") ||
                        cbor_head(b, 0, 1));
    e = e || cbor_head(b, 5, 2) || (is_error ? cbor_text(b, "error") : cbor_text(b, "name")) || cbor_text(b, name) ||
        cbor_text(b, "message") || cbor_text(b, message);
    return e ? -1 : 0;
}

/* Reads records until one should be sent; leaves it in c->pend. 1 = have one, 0 = end,
 * -1 = error. */
static int load_next(ss_ws_replay *srv, conn *c) {
    const uint8_t *p;
    size_t n;
    for (;;) {
        int rc;
        if (srv->frames) {
            rc = ss_frames_reader_next(c->frd, &p, &n);
            if (rc < 0) {
                ss_error("replay-server", "%s", ss_frames_reader_error(c->frd));
                return rc == SS_FRAMES_TRUNCATED ? 0 : -1; /* a recording cut short: serve what is whole */
            }
        } else {
            rc = ss_replay_reader_next(c->rd, &p, &n);
            if (rc < 0) ss_error("replay-server", "%s", ss_replay_reader_errstr(c->rd));
        }
        if (rc <= 0) return rc;
        uint64_t idx = c->index++;
        if (idx < c->start_index) continue;
        int64_t t = -1;
        if (srv->frames) {
            ss_frame_peek_result fp;
            int ok = ss_frame_peek(p, n, &fp) == 0;
            t = ok ? fp.time_us : -1;
            int64_t seq = ok ? served_seq(srv, idx, fp.seq) : -1;
            if (c->cursor >= 0 && !c->cursor_passed) {
                if (!ok || seq <= c->cursor) continue; /* relays send seq > cursor */
                c->cursor_passed = 1;
            }
            if (ok && fp.seq > 0 && seq != fp.seq) {
                if (ss_frame_set_seq(p, n, seq, &c->renum) < 0) return -1;
                p = (const uint8_t *)c->renum.data;
                n = c->renum.len;
            }
        } else {
            ss_js_peek_result pk;
            ss_js_peek((const char *)p, n, SS_JS_PEEK_COLLECTION | SS_JS_PEEK_CURSOR | SS_JS_PEEK_DID, &pk);
            t = pk.time_us;
            if (c->cursor >= 0 && !c->cursor_passed) {
                /* an event with its own cursor is matched exactly (after it), else by time */
                if (pk.cursor >= 0 ? pk.cursor <= c->cursor : pk.time_us < c->cursor) continue;
                c->cursor_passed = 1;
            }
            if (pk.kind == SS_JS_KIND_COMMIT && pk.collection &&
                !ss_js_filter_match(&c->filter, pk.collection, pk.collection_len))
                continue;
            if (c->max_size && n > c->max_size) continue;
            /* wantedDids applies to every kind; an event without a DID passes, like one
             * without a collection passes wantedCollections */
            if (c->dids.n && pk.did && !ss_js_dids_match(&c->dids, pk.did, pk.did_len)) continue;
        }
        const void *body = p;
        size_t blen = n;
        int binary = srv->frames;
        if (c->compress) {
            if (ss_zdict_compress(srv->zd, p, n, &srv->zbuf) < 0) return -1;
            body = srv->zbuf.data;
            blen = srv->zbuf.len;
            binary = 1;
        }
        ss_buf_reset(&c->pend);
        if (ss_buf_reserve(&c->pend, LWS_PRE + blen) < 0) return -1;
        memcpy(c->pend.data + LWS_PRE, body, blen);
        c->pend_len = blen;
        c->pend_binary = binary;
        c->pend_time_us = t;
        c->have_pend = 1;
        return 1;
    }
}

/* When the pending message may go, in monotonic µs (0 = now). */
static int64_t due_at(ss_ws_replay *srv, conn *c) {
    if (!c->started) return 0;
    if (srv->o.original_timing && c->pend_time_us >= 0 && c->first_time_us >= 0)
        return c->start_wall_us + (c->pend_time_us - c->first_time_us);
    if (srv->o.rate > 0) return c->start_wall_us + (int64_t)((double)c->sent * 1e6 / srv->o.rate);
    return 0;
}

static int close_conn(struct lws *wsi, enum lws_close_status code, const char *why) {
    lws_close_reason(wsi, code, (unsigned char *)why, strlen(why));
    return -1;
}

/* Writes the framed batch (raw: the frames are already made). */
static int flush_batch(struct lws *wsi, conn *c) {
    size_t n = c->batch.len - LWS_PRE;
    if (!n) return 0;
    int w = lws_write(wsi, (unsigned char *)c->batch.data + LWS_PRE, n, LWS_WRITE_RAW);
    c->batch.len = LWS_PRE;
    return w < (int)n ? -1 : 0;
}

/* Appends the pending message to the batch as one frame, or as fragments of at most
 * o.fragment bytes (a first frame, continuations, FIN on the last), for clients' tests. */
static int frame_message(ss_ws_replay *srv, conn *c) {
    const char *p = c->pend.data + LWS_PRE;
    size_t n = c->pend_len, step = srv->o.fragment && srv->o.fragment < n ? srv->o.fragment : n;
    size_t off = 0;
    do {
        size_t k = n - off < step ? n - off : step;
        uint8_t h[10];
        int op = off == 0 ? (c->pend_binary ? SS_WS_OP_BINARY : SS_WS_OP_TEXT) : SS_WS_OP_CONT;
        size_t hl = ss_ws_server_frame_header(h, op, k);
        if (off + k < n) h[0] &= 0x7f; /* not the last fragment */
        if (ss_buf_append(&c->batch, h, hl) < 0 || ss_buf_append(&c->batch, p + off, k) < 0) return -1;
        off += k;
    } while (off < n);
    return 0;
}

static int on_writeable(ss_ws_replay *srv, struct lws *wsi, conn *c) {
    if (srv->o.ping_only_ms) { /* a stalled upstream that still pings */
        uint8_t fr[LWS_PRE + 16];
        size_t hl = ss_ws_server_frame_header(fr + LWS_PRE, SS_WS_OP_PING, 4);
        memcpy(fr + LWS_PRE + hl, "ping", 4);
        if (lws_write(wsi, fr + LWS_PRE, hl + 4, LWS_WRITE_RAW) < (int)(hl + 4)) return -1;
        lws_set_timer_usecs(wsi, (lws_usec_t)srv->o.ping_only_ms * 1000);
        return 0;
    }
    if (c->notice.len > LWS_PRE) {
        if (c->batch.len < LWS_PRE) {
            if (ss_buf_reserve(&c->batch, LWS_PRE + BATCH_BYTES) < 0) return -1;
            c->batch.len = LWS_PRE;
        }
        uint8_t h[10];
        size_t nl = c->notice.len - LWS_PRE, hl = ss_ws_server_frame_header(h, SS_WS_OP_BINARY, nl);
        if (ss_buf_append(&c->batch, h, hl) < 0 || ss_buf_append(&c->batch, c->notice.data + LWS_PRE, nl) < 0) return -1;
        c->notice.len = LWS_PRE;
        if (flush_batch(wsi, c) < 0) return -1;
        if (c->notice_closes) return close_conn(wsi, LWS_CLOSE_STATUS_POLICY_VIOLATION, "FutureCursor");
        lws_callback_on_writable(wsi);
        return 0;
    }
    if (c->hello_wait) return 0; /* requireHello: the options_update starts the stream */
    if (c->closing) { /* everything before it has been flushed */
        srv->stats.closed_after++;
        ss_info("replay-server", "%s: closing after %llu messages (--close-after)", c->peer,
                (unsigned long long)c->sent);
        return close_conn(wsi, LWS_CLOSE_STATUS_GOINGAWAY, "close-after");
    }
    if (c->batch.len < LWS_PRE) {
        if (ss_buf_reserve(&c->batch, LWS_PRE + BATCH_BYTES) < 0) return -1;
        c->batch.len = LWS_PRE;
    }
    int more = 1;
    for (int i = 0; i < BURST && c->batch.len - LWS_PRE < BATCH_BYTES; i++) {
        if (!c->have_pend) {
            int rc = load_next(srv, c);
            if (rc < 0) {
                flush_batch(wsi, c);
                return close_conn(wsi, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, "replay input error");
            }
            if (rc == 0) {
                if (!c->eof) ss_info("replay-server", "%s: end of input after %llu messages; idling", c->peer,
                                     (unsigned long long)c->sent);
                c->eof = 1;
                more = 0; /* stay connected, like a live stream with nothing new */
                break;
            }
        }
        int64_t now = ss_ws_now_us(), due = due_at(srv, c);
        if (due > now) {
            lws_set_timer_usecs(wsi, due - now);
            more = 0;
            break;
        }
        if (!c->started) {
            c->started = 1;
            c->start_wall_us = now;
            c->first_time_us = c->pend_time_us;
        }
        if (frame_message(srv, c) < 0) return -1;
        c->have_pend = 0;
        c->sent++;
        srv->stats.messages++;
        srv->stats.bytes += c->pend_len;
        if (srv->o.close_after && c->sent >= srv->o.close_after) {
            c->closing = 1; /* close once this batch is out */
            break;
        }
    }
    if (flush_batch(wsi, c) < 0) return -1;
    if (more || c->closing) lws_callback_on_writable(wsi);
    return 0;
}

/* The JSONL-shaped input: a file, or a skyspool source's events (--archive). */
static ss_replay_reader *open_jsonl(const ss_ws_replay_opts *o, char *err, size_t errlen) {
    return o->source_spec ? ss_replay_reader_open_source(o->source_spec, err, errlen)
                          : ss_replay_reader_open(o->jsonl_path, err, errlen);
}

static int on_established(ss_ws_replay *srv, struct lws *wsi, conn *c) {
    memset(c, 0, sizeof *c);
    c->cursor = -1;
    ss_js_filter_init(&c->filter);
    ss_js_dids_init(&c->dids);
    ss_buf_init(&c->rx);
    ss_buf_init(&c->pend);
    ss_buf_init(&c->batch);
    ss_buf_init(&c->notice);
    ss_buf_init(&c->renum);
    char ip[48] = "?";
    lws_get_peer_simple(wsi, ip, sizeof ip);
    snprintf(c->peer, sizeof c->peer, "client %llu (%s)", (unsigned long long)srv->stats.connections + 1, ip);
    char err[256];
    if (parse_params(srv, wsi, c, err, sizeof err) < 0) {
        ss_js_filter_free(&c->filter);
        ss_js_dids_free(&c->dids);
        ss_warn("replay-server", "%s: rejected: %s", c->peer, err);
        return close_conn(wsi, LWS_CLOSE_STATUS_POLICY_VIOLATION, err);
    }
    if (srv->frames) c->frd = ss_frames_reader_open(srv->o.frames_path, SS_REPLAY_MAX_RECORD, err, sizeof err);
    else c->rd = open_jsonl(&srv->o, err, sizeof err);
    if (!c->rd && !c->frd) {
        ss_js_filter_free(&c->filter);
        ss_js_dids_free(&c->dids);
        ss_error("replay-server", "%s", err);
        return close_conn(wsi, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, "cannot open the replay input");
    }
    srv->stats.connections++;
    srv->stats.active++;
    /* Where this connection starts, as the emulated upstream would decide. */
    const ss_ws_replay_opts *o = &srv->o;
    if (o->window && srv->nrecords > o->window) c->start_index = srv->nrecords - o->window;
    if (c->cursor < 0 && o->history > c->start_index) c->start_index = o->history;
    if (c->cursor >= 0 && srv->frames && o->seq_reset_after > c->start_index) c->start_index = o->seq_reset_after;
    const char *mode = "";
    /* A time cursor in a plain JSONL file: binary search instead of reading from the start
     * (replay_input.h). Only when nothing counts records (no window, no history), since the
     * records before the landing point are never read. */
    char seekmode[160] = "";
    if (!srv->frames && !o->source_spec && c->cursor >= 0 && c->start_index == 0) {
        double t0 = ss_mono_s();
        int probes = 0;
        int64_t off = 0;
        const char *why = "";
        int sr = ss_replay_reader_seek_time(c->rd, c->cursor, SS_REPLAY_SEEK_SLACK_US, &probes, &off, &why);
        if (sr == 1)
            snprintf(seekmode, sizeof seekmode, ", found by binary search at byte %lld (%d probes, %.1f ms)",
                     (long long)off, probes, (ss_mono_s() - t0) * 1e3);
        else if (sr == 0 && probes > 0)
            snprintf(seekmode, sizeof seekmode, ", read from the start: %s", why);
        else if (sr < 0)
            snprintf(seekmode, sizeof seekmode, ", read from the start: %s", ss_replay_reader_errstr(c->rd));
        mode = seekmode;
    }
    if (srv->frames && c->cursor >= 0 && o->future_cursor && c->cursor > srv->last_seq) {
        if (make_notice(c, 1, "FutureCursor", "Cursor in the future.") < 0) return -1;
        c->notice_closes = 1;
        mode = ", answering FutureCursor";
    } else if (srv->frames && c->cursor >= 0 && o->outdated_cursor && o->window && srv->oldest_seq > 0 &&
               c->cursor < srv->oldest_seq - 1) {
        if (make_notice(c, 0, "OutdatedCursor", "Requested cursor exceeded limit. Possibly missing events") < 0)
            return -1;
        mode = ", cursor outdated: #info OutdatedCursor, replaying from the oldest";
    } else if (o->ping_only_ms) {
        mode = ", sending only pings";
    }
    ss_info("replay-server", "%s connected%s%s%s%s", c->peer, c->cursor >= 0 ? ", cursor " : "",
            c->cursor >= 0 ? "given" : "", mode, c->hello_wait ? ", waiting for an options_update (requireHello)" : "");
    lws_callback_on_writable(wsi);
    return 0;
}

/* A subscriber message (Jetstream): an options_update replaces the connection's filter
 * from the next record on and ends a requireHello wait; other types are ignored, and an
 * invalid update drops the connection, as Jetstream does. */
static int on_receive(struct lws *wsi, conn *c, const void *in, size_t len) {
    if (c->rx.len + len > SS_JS_SUB_MSG_MAX)
        return close_conn(wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, "subscriber message too large");
    if (ss_buf_append(&c->rx, in, len) < 0) return -1;
    if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi)) return 0;
    char err[200];
    int64_t max = 0;
    int rc = ss_js_options_parse(c->rx.data, c->rx.len, &c->filter, &c->dids, &max, err, sizeof err);
    ss_buf_reset(&c->rx);
    if (rc < 0) {
        ss_warn("replay-server", "%s: bad options_update: %s", c->peer, err);
        return close_conn(wsi, LWS_CLOSE_STATUS_POLICY_VIOLATION, err);
    }
    if (rc > 0) return 0;
    c->max_size = (uint64_t)max;
    ss_info("replay-server", "%s: options_update: %zu wanted collections, %zu wanted DIDs%s", c->peer, c->filter.n,
            c->dids.n, c->hello_wait ? "; starting (requireHello)" : "");
    c->hello_wait = 0;
    lws_callback_on_writable(wsi);
    return 0;
}

static int replay_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len) {
    conn *c = user;
    switch (reason) {
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: {
        ss_ws_replay *srv = server_of(wsi);
        char uri[512];
        if (lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI) < 0) return 1;
        const char *want = srv->frames ? SS_REPLAY_FIREHOSE_PATH : SS_REPLAY_JETSTREAM_PATH;
        if (strcmp(uri, want) != 0) {
            ss_warn("replay-server", "refused a WebSocket upgrade for '%.100s' (this server serves %s)", uri, want);
            return 1;
        }
        if (srv->stats.active >= SS_REPLAY_MAX_CONNECTIONS) {
            ss_warn("replay-server", "refused a connection: %d already open", SS_REPLAY_MAX_CONNECTIONS);
            return 1;
        }
        return 0;
    }
    case LWS_CALLBACK_ESTABLISHED:
        return on_established(server_of(wsi), wsi, c);
    case LWS_CALLBACK_SERVER_WRITEABLE:
        if (!c->rd && !c->frd) return -1;
        return on_writeable(server_of(wsi), wsi, c);
    case LWS_CALLBACK_TIMER:
        lws_callback_on_writable(wsi);
        return 0;
    case LWS_CALLBACK_RECEIVE:
        if (!c->rd) return 0; /* frames: a relay ignores what clients send */
        return on_receive(wsi, c, in, len);
    case LWS_CALLBACK_CLOSED: {
        ss_ws_replay *srv = server_of(wsi);
        if (c && (c->rd || c->frd)) {
            ss_info("replay-server", "%s disconnected after %llu messages", c->peer, (unsigned long long)c->sent);
            srv->stats.active--;
            ss_replay_reader_close(c->rd);
            ss_frames_reader_close(c->frd);
            c->rd = NULL;
            c->frd = NULL;
            ss_js_filter_free(&c->filter);
            ss_js_dids_free(&c->dids);
            ss_buf_free(&c->rx);
            ss_buf_free(&c->pend);
            ss_buf_free(&c->batch);
            ss_buf_free(&c->notice);
            ss_buf_free(&c->renum);
        }
        return 0;
    }
    case LWS_CALLBACK_HTTP:
        lws_return_http_status(wsi, HTTP_STATUS_NOT_FOUND,
                               "skyspool replay-server: connect with a WebSocket to " SS_REPLAY_JETSTREAM_PATH
                               " (JSONL) or " SS_REPLAY_FIREHOSE_PATH " (frames)");
        return -1;
    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}

static const struct lws_protocols g_server_protocols[] = {
    {"skyspool-replay", replay_callback, sizeof(conn), 4096, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

/* Counts the records and, for frames, finds the last seq served and the oldest retained
 * seq: what FutureCursor, OutdatedCursor and the window need to know. */
static int scan_input(ss_ws_replay *r, char *err, size_t errlen) {
    const uint8_t *p;
    size_t n;
    if (!r->frames) {
        ss_replay_reader *rd = open_jsonl(&r->o, err, errlen);
        if (!rd) return -1;
        int rc;
        while ((rc = ss_replay_reader_next(rd, &p, &n)) > 0) r->nrecords++;
        if (rc < 0) snprintf(err, errlen, "%s", ss_replay_reader_errstr(rd));
        ss_replay_reader_close(rd);
        return rc < 0 ? -1 : 0;
    }
    ss_frames_reader *rd = ss_frames_reader_open(r->o.frames_path, SS_REPLAY_MAX_RECORD, err, errlen);
    if (!rd) return -1;
    int64_t *seqs = NULL; /* only the window's worth would do; tests use small files */
    size_t cap = 0;
    int rc;
    while ((rc = ss_frames_reader_next(rd, &p, &n)) == SS_FRAMES_OK) {
        ss_frame_peek_result fp;
        int64_t seq = ss_frame_peek(p, n, &fp) == 0 && fp.seq > 0 ? served_seq(r, r->nrecords, fp.seq) : -1;
        if (r->nrecords == cap) {
            cap = cap ? cap * 2 : 1024;
            int64_t *ns = realloc(seqs, cap * sizeof *ns);
            if (!ns) {
                free(seqs);
                ss_frames_reader_close(rd);
                snprintf(err, errlen, "out of memory");
                return -1;
            }
            seqs = ns;
        }
        seqs[r->nrecords++] = seq;
        if (seq > 0) r->last_seq = seq;
    }
    uint64_t first = r->o.window && r->nrecords > r->o.window ? r->nrecords - r->o.window : 0;
    for (uint64_t i = first; i < r->nrecords && r->oldest_seq < 0; i++) r->oldest_seq = seqs[i];
    free(seqs);
    if (rc < 0 && rc != SS_FRAMES_TRUNCATED) snprintf(err, errlen, "%s", ss_frames_reader_error(rd));
    ss_frames_reader_close(rd);
    return rc < 0 && rc != SS_FRAMES_TRUNCATED ? -1 : 0;
}

ss_ws_replay *ss_ws_replay_new(const ss_ws_replay_opts *o, char *err, size_t errlen) {
    if (!!o->jsonl_path + !!o->frames_path + !!o->source_spec != 1) {
        snprintf(err, errlen, "give exactly one input: a JSONL file, a frames file or a source");
        return NULL;
    }
    if (!!o->tls_cert != !!o->tls_key) {
        snprintf(err, errlen, "TLS needs both a certificate and a key");
        return NULL;
    }
    /* Fail early on an unreadable input rather than on the first client. */
    if (!o->frames_path) {
        ss_replay_reader *probe = open_jsonl(o, err, errlen);
        if (!probe) return NULL;
        ss_replay_reader_close(probe);
    } else {
        ss_frames_reader *probe = ss_frames_reader_open(o->frames_path, SS_REPLAY_MAX_RECORD, err, errlen);
        if (!probe) return NULL;
        ss_frames_reader_close(probe);
    }

    ss_ws_replay *r = calloc(1, sizeof *r);
    if (!r) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    r->o = *o;
    r->frames = o->frames_path != NULL;
    ss_buf_init(&r->zbuf);
    r->last_seq = -1;
    r->oldest_seq = -1;
    if ((o->window || o->future_cursor || o->outdated_cursor) && scan_input(r, err, errlen) < 0) goto fail;
    if (o->zstd_dictionary) {
        r->zd = ss_zdict_open(o->zstd_dictionary, 0, err, errlen);
        if (!r->zd) goto fail;
    }
    ss_ws_route_lws_logs();
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = o->port;
    info.iface = o->host;
    info.protocols = g_server_protocols;
    info.user = r;
    info.gid = (gid_t)-1;
    info.uid = (uid_t)-1;
    info.pt_serv_buf_size = 65536;
    info.fd_limit_per_thread = SS_REPLAY_MAX_CONNECTIONS + 16;
    info.options = LWS_SERVER_OPTION_FAIL_UPON_UNABLE_TO_BIND;
    if (o->host && strchr(o->host, ':') == NULL) info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
    if (o->tls_cert) {
        info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
        info.ssl_cert_filepath = o->tls_cert;
        info.ssl_private_key_filepath = o->tls_key;
    }
    r->ctx = lws_create_context(&info);
    if (!r->ctx) {
        snprintf(err, errlen, "cannot listen on %s:%d%s", o->host ? o->host : "*", o->port,
                 o->tls_cert ? " (or cannot load the TLS certificate/key)" : " (address in use?)");
        goto fail;
    }
    r->vh = lws_get_vhost_by_name(r->ctx, "default");
    if (!r->vh || ss_ws_replay_port(r) <= 0) {
        snprintf(err, errlen, "cannot listen on %s:%d", o->host ? o->host : "*", o->port);
        goto fail;
    }
    return r;
fail:
    ss_ws_replay_free(r);
    return NULL;
}

int ss_ws_replay_port(const ss_ws_replay *r) { return r->vh ? lws_get_vhost_listen_port(r->vh) : -1; }

/* The tick bounds each poll() so that the loop sees the stop flag within a tick of a signal
 * that arrived between its check and poll(). lws runs due timers before poll() computes its
 * timeout: a tick that fell due in between (the process descheduled for longer than a tick, on
 * a loaded box) was run and gone, and poll() blocked until the next socket event, forever
 * for an idle server, which then outlived its SIGTERM (help_examples, under load). Re-armed
 * here, a tick is always pending. */
static void tick_cb(lws_sorted_usec_list_t *sul) {
    ss_ws_replay *r = lws_container_of(sul, ss_ws_replay, tick);
    lws_sul_schedule(r->ctx, 0, &r->tick, tick_cb, SS_REPLAY_TICK_US);
}

int ss_ws_replay_run(ss_ws_replay *r, volatile sig_atomic_t *stop) {
    while (!*stop) {
        lws_sul_schedule(r->ctx, 0, &r->tick, tick_cb, SS_REPLAY_TICK_US);
        if (lws_service(r->ctx, 0) < 0) return -1;
    }
    return 0;
}

const ss_ws_replay_stats *ss_ws_replay_get_stats(const ss_ws_replay *r) { return &r->stats; }

void ss_ws_replay_free(ss_ws_replay *r) {
    if (!r) return;
    if (r->ctx) {
        lws_sul_cancel(&r->tick);
        lws_context_destroy(r->ctx);
    }
    ss_zdict_free(r->zd);
    ss_buf_free(&r->zbuf);
    free(r);
}
