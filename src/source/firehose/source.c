/* firehose:URL — the native com.atproto.sync.subscribeRepos firehose over WebSocket.
 *
 * Transport is ss_ws_client (reconnects with backoff, stall detection, reassembly,
 * bounded queue with TCP backpressure); decoding is the firehose decoder (fh_decode.h),
 * the same one the frames: source uses, so live and recorded frames give identical
 * events and rejects. This file joins the two:
 *
 *   - cursor = seq. Every output carries the decoder's cursor (a frame's last output
 *     its seq, earlier ones seq-1). After a seek the request carries cursor=<the seek
 *     cursor> and the relay sends frames after it; after a connection loss we resume
 *     from the highest seq fully decoded. No margin: seq is exact on one relay.
 *   - frames over the 5 MB limit are not decoded; they become a "frame_too_big" reject
 *     with their size, for the dead-letter stream.
 *   - error frames (op -1, e.g. FutureCursor) and #info OutdatedCursor are logged; the
 *     decoder counts them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/ws_client.h"
#include "net/ws_url.h"
#include "source/firehose/fh_decode.h"
#include "source/source.h"
#include "source/ws_source.h"
#include "util/buf.h"
#include "util/log.h"

#define FH_DEFAULT_URL "wss://bsky.network/xrpc/com.atproto.sync.subscribeRepos"

typedef struct {
    ss_ws_client *ws;
    ss_fh_decoder *dec;
    ss_buf base;          /* path + query without cursor */
    ss_buf reject;        /* our own rejects (oversized frames) */
    size_t max_frame;
    int64_t seek_cursor;  /* -1 = live */
    int64_t resume_seq;   /* highest seq decoded since the seek; -1 = none */
    size_t next_out, nout;
    uint64_t outdated_seen, errors_seen, oversized;
} fh_source;

static int fh_path(void *ud, ss_buf *path) {
    fh_source *f = ud;
    return ss_ws_source_path(path, &f->base, f->resume_seq >= 0 ? f->resume_seq : f->seek_cursor);
}

static int fh_open(ss_source *s, const char *args, const ss_source_opts *opts) {
    const char *url = args && *args ? args : FH_DEFAULT_URL;
    ss_ws_url u;
    char err[256];
    if (ss_ws_url_parse(url, &u, err, sizeof err) < 0) return ss_source_fail(s, "%s", err);
    fh_source *f = calloc(1, sizeof *f);
    if (!f) return ss_source_fail(s, "out of memory");
    s->impl = f;
    ss_buf_init(&f->base);
    ss_buf_init(&f->reject);
    f->seek_cursor = -1;
    f->resume_seq = -1;
    if (ss_ws_source_base(u.path, &f->base, &f->seek_cursor) < 0) return ss_source_fail(s, "out of memory");
    f->max_frame = ss_fh_frame_limit(opts->max_message_bytes);
    ss_fh_opts fo;
    ss_fh_opts_init(&fo);
    fo.verify_cids = opts->verify_cids;
    fo.max_frame_bytes = f->max_frame;
    f->dec = ss_fh_decoder_new(&fo);
    if (!f->dec) return ss_source_fail(s, "out of memory");

    ss_ws_source_id(s->id, sizeof s->id, "firehose", &u);
    s->cursor_name = "seq";
    s->resume_margin = 0;

    ss_ws_client_opts wo;
    ss_ws_source_client_opts(&wo, url, opts);
    wo.max_message_bytes = f->max_frame;
    wo.queue_max_bytes = 4 * f->max_frame; /* room for a few of the largest frames */
    wo.path_fn = fh_path;
    wo.ud = f;
    wo.log_name = "firehose";
    f->ws = ss_ws_client_new(&wo, err, sizeof err);
    if (!f->ws) return ss_source_fail(s, "%s", err);
    return 0;
}

/* A frame we did not decode because of its size: a reject shaped like the decoder's. */
static void oversize_reject(fh_source *f, const ss_ws_msg *m, ss_source_msg *msg) {
    f->oversized++;
    ss_buf_reset(&f->reject);
    ss_buf_printf(&f->reject, "{\"reason\":\"%s\",\"detail\":\"frame of %zu bytes is over the %zu-byte limit\"}",
                  ss_fh_reason_name(SS_FH_FRAME_TOO_BIG), m->full_len, f->max_frame);
    msg->data = f->reject.data;
    msg->len = f->reject.len;
    msg->cursor = f->resume_seq >= 0 ? f->resume_seq : f->seek_cursor;
    msg->bad_reason = ss_fh_reason_name(SS_FH_FRAME_TOO_BIG);
    ss_warn("firehose", "%s", f->reject.data);
}

static void note_frame(fh_source *f) {
    const ss_fh_stats *st = ss_fh_stats_get(f->dec);
    if (st->outdated_cursor > f->outdated_seen) {
        f->outdated_seen = st->outdated_cursor;
        ss_warn("firehose", "the relay says the cursor is outdated (%s): it replays from its oldest event; "
                            "events before that are missing", ss_fh_last_info(f->dec));
    }
    if (st->error_frames > f->errors_seen) {
        f->errors_seen = st->error_frames;
        ss_warn("firehose", "the relay sent an error frame: %s", ss_fh_last_error(f->dec));
    }
    int64_t seq = ss_fh_last_seq(f->dec);
    if (seq > f->resume_seq) f->resume_seq = seq;
}

static int fh_next(ss_source *s, ss_source_msg *msg, int timeout_ms) {
    fh_source *f = s->impl;
    for (;;) {
        if (f->next_out < f->nout) {
            ss_fh_output(f->dec, f->next_out++, msg);
            return SS_SOURCE_MSG;
        }
        ss_ws_msg m;
        int rc = ss_ws_client_next(f->ws, &m, timeout_ms);
        if (rc == SS_WS_AGAIN) return SS_SOURCE_AGAIN;
        if (rc == SS_WS_ERR) return ss_source_fail(s, "%s", ss_ws_client_errstr(f->ws));
        if (m.truncated) {
            oversize_reject(f, &m, msg);
            return SS_SOURCE_MSG;
        }
        int n = ss_fh_decode(f->dec, m.data, m.len);
        if (n < 0) return ss_source_fail(s, "out of memory decoding a frame");
        note_frame(f);
        f->next_out = 0;
        f->nout = (size_t)n;
        timeout_ms = 0; /* a frame without outputs (#sync, #info): look for the next without waiting */
    }
}

static int fh_seek(ss_source *s, int64_t cursor) {
    fh_source *f = s->impl;
    f->seek_cursor = cursor < 0 ? 0 : cursor;
    f->resume_seq = -1;
    f->next_out = f->nout = 0;
    ss_ws_client_reconnect(f->ws);
    return 0;
}

static void fh_close(ss_source *s) {
    fh_source *f = s->impl;
    if (!f) return;
    if (f->ws && f->dec) {
        const ss_ws_client_stats *ws = ss_ws_client_get_stats(f->ws);
        const ss_fh_stats *st = ss_fh_stats_get(f->dec);
        ss_info("firehose",
                "closing: %llu frames, %llu events, %llu rejects, %llu connects, %llu disconnects, %llu stalls, "
                "%llu outdated-cursor notices, last seq %lld",
                (unsigned long long)st->frames, (unsigned long long)st->events,
                (unsigned long long)(st->rejects + f->oversized), (unsigned long long)ws->connects,
                (unsigned long long)ws->disconnects, (unsigned long long)ws->stalls,
                (unsigned long long)st->outdated_cursor, (long long)st->last_seq);
    }
    ss_ws_client_free(f->ws);
    ss_fh_decoder_free(f->dec);
    ss_buf_free(&f->base);
    ss_buf_free(&f->reject);
    free(f);
    s->impl = NULL;
}

const ss_source_vtbl ss_source_firehose = {
    .scheme = "firehose",
    .usage = "firehose:URL  subscribeRepos WebSocket (default " FH_DEFAULT_URL "); cursor = seq",
    .open = fh_open,
    .next = fh_next,
    .seek = fh_seek,
    .close = fh_close,
};
