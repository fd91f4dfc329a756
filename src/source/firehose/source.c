/* firehose:URL — the native com.atproto.sync.subscribeRepos firehose over WebSocket.
 *
 * Transport is ss_ws_client (reconnects with backoff, stall detection, reassembly,
 * bounded queue with TCP backpressure); decoding is the firehose decoder (fh_decode.h),
 * the same one the frames: source uses, so live and recorded frames give identical
 * events and rejects. This file joins the two:
 *
 *   - cursor = seq. Every output carries the decoder's cursor (a frame's last output
 *     its seq, earlier ones seq-1). A (re)connect asks for cursor=<the seq of the last
 *     frame this source handed on since the last seek>, or the seek's own cursor when
 *     nothing came since, or no cursor (live) when there is neither. Never the highest
 *     seq ever seen: after a seek back (a Redis-side rewind) that would skip everything
 *     between the seek and the old maximum. No margin: seq is exact on one relay.
 *   - a seq lower than the last one delivered means the relay's numbering restarted (a
 *     new relay, a reset): it is reported as a gap (an SS_SOURCE_GAP message) and the new
 *     numbering is followed, so a reconnect does not keep asking for an old-numbering
 *     cursor the relay will call FutureCursor.
 *   - error frames (op -1) carry no seq and never move the cursor. FutureCursor (our
 *     cursor is ahead of the relay) means, as the relay documents, that the only way on
 *     is live: the next connection asks for no cursor, and the gap is reported.
 *     #info OutdatedCursor (the cursor is older than the relay keeps) is reported as a
 *     gap ending just before the first seq that follows.
 *   - time_us is skyspool's receipt clock (the wall clock when the frame arrived, never
 *     decreasing per source), as Jetstream's time_us is its own: the frame's `time` is a
 *     PDS's claim (a like dated 2099 once pinned Redis), kept in the event as the claimed
 *     time (commit.time) for the archive's claimed_time column.
 *   - frames over the 5 MB limit are not decoded; they become a "frame_too_big" reject
 *     with their size, for the dead-letter stream. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/ws_client.h"
#include "net/ws_url.h"
#include "source/firehose/did_cache.h"
#include "source/firehose/fh_decode.h"
#include "source/source.h"
#include "source/ws_source.h"
#include "util/buf.h"
#include "util/log.h"

#define FH_DEFAULT_URL "wss://bsky.network/xrpc/com.atproto.sync.subscribeRepos"

typedef struct {
    ss_ws_client *ws;
    ss_fh_decoder *dec;
    ss_did_cache *keys;   /* verify-signatures */
    ss_buf base;          /* path + query without cursor */
    ss_buf reject;        /* our own rejects (oversized frames) */
    size_t max_frame;
    const char *id;       /* the source's id, for gap reports */
    int64_t seek_cursor;  /* the cursor of the last seek (or the URL's); -1 = live */
    int64_t delivered;    /* seq of the last frame handed on since the seek; -1 = none */
    int64_t requested;    /* the cursor the current connection asked for; -1 = live */
    int outdated_pending; /* an OutdatedCursor notice waits for the next seq to date the gap */
    int64_t frame_cursor; /* the resume cursor before the current frame */
    size_t next_out, nout;
    ss_ws_gapq gaps_q;    /* detected gaps, handed on before the frame's outputs */
    uint64_t outdated_seen, errors_seen, oversized, seq_resets, future_cursors, gaps, syncs_seen;
} ss_fh_source;

/* Where a (re)connect resumes: after the last frame delivered, else the seek's cursor. */
static int64_t resume_cursor(const ss_fh_source *f) { return f->delivered >= 0 ? f->delivered : f->seek_cursor; }

static int ss_fh_path(void *ud, ss_buf *path) {
    ss_fh_source *f = ud;
    f->requested = resume_cursor(f);
    return ss_ws_source_path(path, &f->base, f->requested);
}

static void ss_fh_gap(ss_fh_source *f, const char *reason, int64_t from, int64_t to, const char *detail) {
    f->gaps++;
    ss_source_gap g = {f->id, reason, "seq", from, to, 0, detail};
    ss_ws_gapq_push(&f->gaps_q, &g, f->frame_cursor); /* stored before the cursor passes the frame */
}

static int ss_fh_open(ss_source *s, const char *args, const ss_source_opts *opts) {
    const char *url = args && *args ? args : FH_DEFAULT_URL;
    ss_ws_url u;
    char err[256];
    if (ss_ws_url_parse(url, &u, err, sizeof err) < 0) return ss_source_fail(s, "%s", err);
    ss_fh_source *f = calloc(1, sizeof *f);
    if (!f) return ss_source_fail(s, "out of memory");
    s->impl = f;
    ss_buf_init(&f->base);
    ss_buf_init(&f->reject);
    f->seek_cursor = -1;
    f->delivered = -1;
    f->requested = -1;
    if (ss_ws_source_base(u.path, &f->base, &f->seek_cursor) < 0) return ss_source_fail(s, "out of memory");
    f->max_frame = ss_fh_frame_limit(opts->max_message_bytes);
    ss_fh_opts fo;
    ss_fh_opts_init(&fo);
    fo.verify_cids = opts->verify_cids;
    fo.max_frame_bytes = f->max_frame;
    fo.clock = SS_FH_CLOCK_RECEIPT; /* time_us is ours, as Jetstream's is its own: a PDS's claim never pins it */
    if (ss_did_cache_setup(opts, &fo, &f->keys, err, sizeof err) < 0) return ss_source_fail(s, "%s", err);
    f->dec = ss_fh_decoder_new(&fo);
    if (!f->dec) return ss_source_fail(s, "out of memory");

    ss_ws_source_id(s->id, sizeof s->id, "firehose", &u);
    f->id = s->id;
    s->cursor_name = "seq";
    s->resume_margin = 0;

    ss_ws_client_opts wo;
    ss_ws_source_client_opts(&wo, url, opts);
    wo.max_message_bytes = f->max_frame;
    wo.queue_max_bytes = 4 * f->max_frame; /* room for a few of the largest frames */
    wo.path_fn = ss_fh_path;
    wo.ud = f;
    wo.log_name = "firehose";
    f->ws = ss_ws_client_new(&wo, err, sizeof err);
    if (!f->ws) return ss_source_fail(s, "%s", err);
    return 0;
}

/* A frame we did not decode because of its size: a reject shaped like the decoder's. */
static void oversize_reject(ss_fh_source *f, const ss_ws_msg *m, ss_source_msg *msg) {
    f->oversized++;
    ss_buf_reset(&f->reject);
    ss_buf_printf(&f->reject, "{\"reason\":\"%s\",\"detail\":\"frame of %zu bytes is over the %zu-byte limit\"}",
                  ss_fh_reason_name(SS_FH_FRAME_TOO_BIG), m->full_len, f->max_frame);
    msg->data = f->reject.data;
    msg->len = f->reject.len;
    msg->cursor = resume_cursor(f);
    msg->bad_reason = ss_fh_reason_name(SS_FH_FRAME_TOO_BIG);
    ss_warn("firehose", "%s", f->reject.data);
}

/* After each decoded frame: act on error frames and notices, follow the seq. */
static void note_frame(ss_fh_source *f) {
    const ss_fh_stats *st = ss_fh_stats_get(f->dec);
    char why[400];
    if (st->error_frames > f->errors_seen) {
        f->errors_seen = st->error_frames;
        const char *e = ss_fh_last_error(f->dec);
        if (!strncmp(e, "FutureCursor", 12)) {
            f->future_cursors++;
            snprintf(why, sizeof why,
                     "the relay says cursor %lld is in its future (%s); reconnecting at live, without a cursor: "
                     "whatever the relay sequenced between our cursor and its live tail is not delivered",
                     (long long)f->requested, e);
            ss_fh_gap(f, "future_cursor", f->requested, -1, why);
            f->seek_cursor = -1; /* the relay closes the connection; the next one is live */
            f->delivered = -1;
        } else {
            ss_warn("firehose", "the relay sent an error frame: %s (the cursor stays at %lld)", e,
                    (long long)resume_cursor(f));
        }
    }
    if (st->outdated_cursor > f->outdated_seen) {
        f->outdated_seen = st->outdated_cursor;
        f->outdated_pending = 1;
        ss_warn("firehose", "the relay says the cursor is outdated (%s): it replays from its oldest event; "
                            "events before that are missing", ss_fh_last_info(f->dec));
    }
    if (st->sync > f->syncs_seen) { /* Sync v1.1: the repo changed off-stream */
        f->syncs_seen = st->sync;
        if (f->syncs_seen <= 10 || f->syncs_seen % 1000 == 0)
            ss_info("firehose", "#sync for %s: the repo changed off-stream; archived as a sync event (%llu #sync "
                                "frames so far)", ss_fh_last_sync(f->dec), (unsigned long long)f->syncs_seen);
    }
    int64_t seq = ss_fh_frame_seq(f->dec);
    if (seq <= 0) return; /* error frames, #info: no seq, the cursor does not move */
    if (f->outdated_pending) {
        f->outdated_pending = 0;
        snprintf(why, sizeof why, "cursor %lld is older than the relay keeps; it resumed at seq %lld",
                 (long long)f->requested, (long long)seq);
        ss_fh_gap(f, "outdated_cursor", f->requested, seq - 1, why);
    }
    if (f->delivered >= 0 && seq < f->delivered) {
        f->seq_resets++;
        snprintf(why, sizeof why,
                 "the relay's seq went back from %lld to %lld: its numbering restarted (a reset or another relay); "
                 "following the new numbering, old-numbering cursors no longer apply",
                 (long long)f->delivered, (long long)seq);
        ss_fh_gap(f, "seq_reset", f->delivered, seq, why);
    }
    f->delivered = seq;
}

static int ss_fh_next(ss_source *s, ss_source_msg *msg, int timeout_ms) {
    ss_fh_source *f = s->impl;
    for (;;) {
        if (ss_ws_gapq_pop(&f->gaps_q, msg)) return SS_SOURCE_GAP;
        if (f->next_out < f->nout) {
            ss_fh_output(f->dec, f->next_out++, msg);
            /* A frame without a seq (an error frame's reject) is no position of its own:
             * it carries where a resume would start, never the decoder's maximum. */
            if (ss_fh_frame_seq(f->dec) <= 0) msg->cursor = f->frame_cursor;
            return SS_SOURCE_MSG;
        }
        ss_ws_msg m;
        int rc = ss_ws_client_next(f->ws, &m, timeout_ms);
        ss_source_link_from_ws(s, f->ws);
        if (rc == SS_WS_AGAIN) return SS_SOURCE_AGAIN;
        if (rc == SS_WS_ERR) return ss_source_fail(s, "%s", ss_ws_client_errstr(f->ws));
        if (m.truncated) {
            oversize_reject(f, &m, msg);
            return SS_SOURCE_MSG;
        }
        ss_fh_set_receipt_us(f->dec, m.recv_us);
        int n = ss_fh_decode(f->dec, m.data, m.len);
        if (n < 0) return ss_source_fail(s, "out of memory decoding a frame");
        f->frame_cursor = resume_cursor(f);
        note_frame(f);
        f->next_out = 0;
        f->nout = (size_t)n;
        timeout_ms = 0; /* a frame without outputs (#sync, #info): look for the next without waiting */
    }
}

static int ss_fh_seek(ss_source *s, int64_t cursor) {
    ss_fh_source *f = s->impl;
    f->seek_cursor = cursor < 0 ? -1 : cursor; /* negative: live (0 would replay the relay's whole log) */
    f->delivered = -1;
    f->outdated_pending = 0;
    f->next_out = f->nout = 0;
    f->gaps_q.n = 0; /* what is read again from the cursor reveals its gaps again */
    ss_ws_client_reconnect(f->ws);
    return 0;
}

static void ss_fh_close(ss_source *s) {
    ss_fh_source *f = s->impl;
    if (!f) return;
    if (f->ws && f->dec) {
        const ss_ws_client_stats *ws = ss_ws_client_get_stats(f->ws);
        const ss_fh_stats *st = ss_fh_stats_get(f->dec);
        ss_info("firehose",
                "closing: %llu frames, %llu events, %llu rejects, %llu connects, %llu disconnects, %llu stalls, "
                "%llu #sync frames, %llu outdated-cursor notices, %llu future-cursor errors, %llu seq resets, %llu gaps, "
                "last seq delivered %lld",
                (unsigned long long)st->frames, (unsigned long long)st->events,
                (unsigned long long)(st->rejects + f->oversized), (unsigned long long)ws->connects,
                (unsigned long long)ws->disconnects, (unsigned long long)ws->stalls,
                (unsigned long long)st->sync, (unsigned long long)st->outdated_cursor,
                (unsigned long long)f->future_cursors,
                (unsigned long long)f->seq_resets, (unsigned long long)f->gaps, (long long)f->delivered);
    }
    ss_ws_client_free(f->ws);
    ss_did_cache_free(f->keys);
    ss_fh_decoder_free(f->dec);
    ss_buf_free(&f->base);
    ss_buf_free(&f->reject);
    free(f);
    s->impl = NULL;
}

/* The decoder's signature counts (ss_source_counters). */
static void ss_fh_counters(ss_source *s, ss_source_counters *out) {
    const ss_fh_source *f = s->impl;
    if (!f || !f->dec) return;
    const ss_fh_stats *st = ss_fh_stats_get(f->dec);
    out->sig_verified = st->sig_ok;
    out->sig_bad = st->sig_bad;
    out->sig_no_key = st->sig_no_key;
    out->sig_resolve_failed = st->sig_resolve_failed;
}

const ss_source_vtbl ss_source_firehose = {
    .scheme = "firehose",
    .usage = "firehose:URL  subscribeRepos WebSocket (default " FH_DEFAULT_URL "); cursor = seq",
    .open = ss_fh_open,
    .next = ss_fh_next,
    .seek = ss_fh_seek,
    .close = ss_fh_close,
    .counters = ss_fh_counters,
};
