/* The `frames:` source: recorded firehose frames, decoded exactly as the live firehose.
 *
 * frames:PATH reads a frames file (see frames.h; plain or zstd, '-' for stdin) and runs
 * every frame through the same decoder the `firehose:` source uses, so a recording
 * replays to byte-identical events and rejects.
 *
 * The cursor is the firehose seq (see fh_decode.h: the last output of a frame carries its
 * seq, earlier ones seq-1). Seeking to a cursor re-reads the file from the start and drops
 * every frame whose seq is <= the cursor; frames without a seq (error frames) are never
 * dropped. A damaged file yields a reject and then stops: a file cut inside a frame (a
 * recording interrupted) ends the stream after a "truncated" reject; a length over the
 * frame limit (corruption, or not a frames file) is a "frame_too_big" reject followed by
 * an error, since nothing after it can be trusted.
 *
 * Clock: a frames file holds no receipt times, and a replay must give the same events
 * every time (tests compare them byte for byte), so time_us is not the wall clock of the
 * replay but SS_FH_CLOCK_REPLAY: the frames' claimed times made never-decreasing, with a
 * claim after the wall clock, or a lone claim more than 10 minutes past the previous one,
 * not believed (the previous value is kept), so one PDS's future date cannot pin a
 * replayed stream either. The claim itself is kept verbatim (commit.time) as in a live stream. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "source/firehose/did_cache.h"
#include "source/firehose/fh_decode.h"
#include "frames/frames.h"
#include "source/source.h"
#include "util/buf.h"
#include "util/log.h"

typedef struct {
    ss_frames_reader *rd;
    ss_fh_decoder *dec;
    ss_fh_opts fo; /* to make a fresh decoder on seek */
    ss_did_cache *keys; /* verify-signatures */
    size_t next_out, nout;
    int64_t skip_upto; /* drop frames with 0 < seq <= this */
    int after_damage;  /* 1: end after the pending reject; 2: fail after it */
    char damage[256];
    ss_buf reject;
    ss_source_counters before; /* signature counts of decoders replaced by a seek */
} frames_src;

static int frames_open(ss_source *s, const char *args, const ss_source_opts *opts) {
    if (!args[0]) return ss_source_failc(s, SS_ERR_USAGE, "a path is required, e.g. frames:capture.frames.zst"), -1;
    frames_src *f = calloc(1, sizeof *f);
    if (!f) return ss_source_fail(s, "out of memory"), -1;
    s->impl = f;
    ss_buf_init(&f->reject);
    f->skip_upto = -1;
    ss_fh_opts fo;
    ss_fh_opts_init(&fo);
    if (opts) {
        fo.verify_cids = opts->verify_cids;
        fo.max_frame_bytes = ss_fh_frame_limit(opts->max_message_bytes); /* as firehose: does */
    }
    fo.clock = SS_FH_CLOCK_REPLAY;
    char kerr[400];
    if (ss_did_cache_setup(opts, &fo, &f->keys, kerr, sizeof kerr) < 0) return ss_source_fail(s, "%s", kerr), -1;
    f->fo = fo;
    f->dec = ss_fh_decoder_new(&fo);
    if (!f->dec) return ss_source_fail(s, "out of memory"), -1;
    char err[300];
    /* Frames over the decoder's limit are still read whole (up to the file format's own
     * limit) so the decoder can reject them with their seq known. */
    size_t max_frame = fo.max_frame_bytes > SS_FRAMES_MAX_FRAME ? fo.max_frame_bytes : SS_FRAMES_MAX_FRAME;
    f->rd = ss_frames_reader_open(args, max_frame, err, sizeof err);
    if (!f->rd) return ss_source_fail(s, "%s", err), -1;
    struct stat st;
    ss_source_set_file_id(s, "frames", args, strcmp(args, "-") && stat(args, &st) == 0 ? &st : NULL);
    s->cursor_name = "seq";
    s->resume_margin = 0;
    return 0;
}

/* A reject for damage in the file itself, as the decoder would write one. */
static void damage_reject(frames_src *f, const char *reason, ss_source_msg *msg) {
    ss_buf_reset(&f->reject);
    ss_buf_printf(&f->reject, "{\"reason\":\"%s\",\"detail\":", reason);
    ss_buf_append_json_string(&f->reject, f->damage, strlen(f->damage));
    ss_buf_printf(&f->reject, ",\"offset\":%llu}", (unsigned long long)ss_frames_reader_offset(f->rd));
    msg->data = f->reject.data;
    msg->len = f->reject.len;
    msg->cursor = ss_fh_last_seq(f->dec) > 0 ? ss_fh_last_seq(f->dec) : 0;
    msg->bad_reason = reason;
}

static int frames_next(ss_source *s, ss_source_msg *msg, int timeout_ms) {
    frames_src *f = s->impl;
    (void)timeout_ms;
    for (;;) {
        if (f->next_out < f->nout) {
            ss_fh_output(f->dec, f->next_out++, msg);
            return SS_SOURCE_MSG;
        }
        if (f->after_damage == 1) return SS_SOURCE_END;
        if (f->after_damage == 2) return ss_source_fail(s, "%s", f->damage);
        const uint8_t *frame;
        size_t len;
        int r = ss_frames_reader_next(f->rd, &frame, &len);
        if (r == SS_FRAMES_END) return SS_SOURCE_END;
        if (r == SS_FRAMES_IO) return ss_source_fail(s, "%s", ss_frames_reader_error(f->rd));
        if (r == SS_FRAMES_TRUNCATED || r == SS_FRAMES_TOO_BIG) {
            snprintf(f->damage, sizeof f->damage, "%s", ss_frames_reader_error(f->rd));
            ss_warn("frames", "%s", f->damage);
            f->after_damage = r == SS_FRAMES_TRUNCATED ? 1 : 2;
            damage_reject(f, r == SS_FRAMES_TRUNCATED ? "truncated" : "frame_too_big", msg);
            return SS_SOURCE_MSG;
        }
        int n = ss_fh_decode(f->dec, frame, len);
        if (n < 0) return ss_source_fail(s, "out of memory decoding a frame");
        int64_t seq = ss_fh_frame_seq(f->dec);
        f->next_out = 0;
        f->nout = (seq > 0 && seq <= f->skip_upto) ? 0 : (size_t)n;
    }
}

static int frames_seek(ss_source *s, int64_t cursor) {
    frames_src *f = s->impl;
    /* Before the first read there is nothing to rewind (this is what lets stdin resume). */
    int untouched = ss_frames_reader_offset(f->rd) == 0 && ss_fh_stats_get(f->dec)->frames == 0;
    if (!untouched && ss_frames_reader_rewind(f->rd)) return ss_source_fail(s, "%s", ss_frames_reader_error(f->rd)), -1;
    if (!untouched) {
        /* A fresh decoder: the old one's highest seq would otherwise become the cursor of
         * seq-less outputs of the next pass, a cursor above frames still to come. */
        ss_fh_decoder *d = ss_fh_decoder_new(&f->fo);
        if (!d) return ss_source_fail(s, "out of memory"), -1;
        const ss_fh_stats *st = ss_fh_stats_get(f->dec);
        f->before.sig_verified += st->sig_ok, f->before.sig_bad += st->sig_bad;
        f->before.sig_no_key += st->sig_no_key, f->before.sig_resolve_failed += st->sig_resolve_failed;
        ss_fh_decoder_free(f->dec);
        f->dec = d;
    }
    f->skip_upto = cursor;
    f->next_out = f->nout = 0;
    f->after_damage = 0;
    return 0;
}

static void frames_close(ss_source *s) {
    frames_src *f = s->impl;
    if (!f) return;
    ss_frames_reader_close(f->rd);
    ss_fh_decoder_free(f->dec);
    ss_did_cache_free(f->keys);
    ss_buf_free(&f->reject);
    free(f);
    s->impl = NULL;
}

/* The decoder's signature counts (ss_source_counters). */
static void frames_counters(ss_source *s, ss_source_counters *out) {
    const frames_src *f = s->impl;
    if (!f || !f->dec) return;
    const ss_fh_stats *st = ss_fh_stats_get(f->dec);
    out->sig_verified = f->before.sig_verified + st->sig_ok;
    out->sig_bad = f->before.sig_bad + st->sig_bad;
    out->sig_no_key = f->before.sig_no_key + st->sig_no_key;
    out->sig_resolve_failed = f->before.sig_resolve_failed + st->sig_resolve_failed;
}

const ss_source_vtbl ss_source_frames = {
    .scheme = "frames",
    .usage = "frames:PATH   recorded firehose frames (plain or .zst, '-' for stdin); cursor = seq",
    .open = frames_open,
    .next = frames_next,
    .seek = frames_seek,
    .close = frames_close,
    .counters = frames_counters,
};
