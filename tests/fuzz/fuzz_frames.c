/* Fuzz target: frames files (src/frames/frames.h) and the `frames:` source.
 *
 * The input is one flags byte, then the file content, written to a memfd as is and
 * zstd-compressed. Checked:
 *   - the reader against an independent model of the format (u32 little-endian length,
 *     then that many bytes): the same frames, offsets after each, then END, TRUNCATED
 *     (the file ends inside a length or a frame) or TOO_BIG (a length over the limit);
 *     the zstd file reads the same; rewind reads the same again;
 *   - the `frames:` source yields exactly what a firehose decoder (same options) yields for
 *     the model's frames, followed by a "truncated" or "frame_too_big" reject on damage
 *     (then the end, or an error after frame_too_big);
 *   - seek(c) on a fresh source, and on the same source after reading everything, yields
 *     the model's outputs of the frames not dropped (dropped: 0 < seq <= c).
 * Frames are often valid firehose frames (the seeds are recordings built by the test-side
 * encoder), so the decoder path is exercised, not only the framing. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zstd.h>

#include "source/firehose/fh_decode.h"
#include "frames/frames.h"
#include "source/source.h"
#include "util/clock.h"
#include "util/log.h"

#define CHECK(c, ...)                                                   \
    do {                                                                \
        if (!(c)) {                                                     \
            fprintf(stderr, "fuzz_frames: invariant failed: %s: ", #c); \
            fprintf(stderr, __VA_ARGS__);                               \
            fprintf(stderr, "\n");                                      \
            abort();                                                    \
        }                                                               \
    } while (0)

#define MAX_FRAMES 512
#define MAX_OUT 4096

typedef struct {
    const uint8_t *p[MAX_FRAMES];
    size_t len[MAX_FRAMES];
    size_t off_after[MAX_FRAMES];
    size_t n;
    int end; /* SS_FRAMES_END, _TRUNCATED or _TOO_BIG */
} model;

static void build_model(const uint8_t *c, size_t n, size_t max_frame, model *m) {
    size_t off = 0;
    m->n = 0;
    for (;;) {
        if (off == n) {
            m->end = SS_FRAMES_END;
            return;
        }
        if (n - off < 4) {
            m->end = SS_FRAMES_TRUNCATED;
            return;
        }
        uint32_t len = (uint32_t)c[off] | (uint32_t)c[off + 1] << 8 | (uint32_t)c[off + 2] << 16 | (uint32_t)c[off + 3] << 24;
        if (len > max_frame) {
            m->end = SS_FRAMES_TOO_BIG;
            return;
        }
        if (n - off - 4 < len) {
            m->end = SS_FRAMES_TRUNCATED;
            return;
        }
        if (m->n == MAX_FRAMES) { /* enough: treat the rest as not modelled */
            m->end = 99;
            return;
        }
        m->p[m->n] = c + off + 4;
        m->len[m->n] = len;
        off += 4 + len;
        m->off_after[m->n] = off;
        m->n++;
    }
}

static void check_reader(int fd, size_t max_frame, const model *m, int zst) {
    char path[64], err[300];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    ss_frames_reader *r = ss_frames_reader_open(path, max_frame, err, sizeof err);
    CHECK(r != NULL, "open: %s", err);
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < m->n; i++) {
            const uint8_t *f;
            size_t len;
            int rc = ss_frames_reader_next(r, &f, &len);
            CHECK(rc == SS_FRAMES_OK, "frame %zu: %d (%s)", i, rc, ss_frames_reader_error(r));
            CHECK(len == m->len[i] && !memcmp(f, m->p[i], len), "frame %zu differs", i);
            CHECK(ss_frames_reader_offset(r) == m->off_after[i], "offset %llu after frame %zu, model %zu",
                  (unsigned long long)ss_frames_reader_offset(r), i, m->off_after[i]);
        }
        if (m->end != 99) {
            const uint8_t *f;
            size_t len;
            int rc = ss_frames_reader_next(r, &f, &len);
            CHECK(rc == m->end, "after %zu frames: %d, model %d (%s)", m->n, rc, m->end, ss_frames_reader_error(r));
            if (rc != SS_FRAMES_END) CHECK(ss_frames_reader_error(r)[0], "damage without a message");
        }
        if (pass == 0 && m->end != 99)
            CHECK(ss_frames_reader_is_zstd(r) == zst, "zstd detection %d for a %s file", ss_frames_reader_is_zstd(r),
                  zst ? "zstd" : "plain");
        CHECK(ss_frames_reader_rewind(r) == 0, "rewind: %s", ss_frames_reader_error(r));
    }
    ss_frames_reader_close(r);
}

/* ---- the source against a decoder ------------------------------------------------------ */

typedef struct {
    char *data;
    size_t len;
    int64_t cursor;
    char reason[32];
} out_msg;

typedef struct {
    out_msg m[MAX_OUT];
    size_t n;
    int end; /* SS_SOURCE_END or SS_SOURCE_ERR */
} outs;

static void outs_clear(outs *o) {
    for (size_t i = 0; i < o->n; i++) free(o->m[i].data);
    o->n = 0;
}
static int outs_add(outs *o, const ss_source_msg *m) {
    if (o->n == MAX_OUT) return -1;
    out_msg *x = &o->m[o->n++];
    x->data = malloc(m->len ? m->len : 1);
    if (!x->data) abort();
    memcpy(x->data, m->data, m->len);
    x->len = m->len;
    x->cursor = m->cursor;
    snprintf(x->reason, sizeof x->reason, "%s", m->bad_reason ? m->bad_reason : "");
    return 0;
}

/* What the source must yield: decoder D over the model's frames, dropping the outputs of
 * frames with 0 < seq <= skip, then the damage reject (its text is not modelled). */
static void expected(ss_fh_decoder *d, const model *m, int64_t skip, outs *o) {
    for (size_t i = 0; i < m->n; i++) {
        int n = ss_fh_decode(d, m->p[i], m->len[i]);
        CHECK(n >= 0, "decoder out of memory");
        int64_t seq = ss_fh_frame_seq(d);
        if (seq > 0 && seq <= skip) continue;
        for (int k = 0; k < n; k++) {
            ss_source_msg msg;
            ss_fh_output(d, (size_t)k, &msg);
            if (outs_add(o, &msg)) return;
        }
    }
    if (m->end == SS_FRAMES_TRUNCATED || m->end == SS_FRAMES_TOO_BIG) {
        ss_source_msg msg = {"", 0, 0, m->end == SS_FRAMES_TRUNCATED ? "truncated" : "frame_too_big", NULL};
        outs_add(o, &msg);
    }
    o->end = m->end == SS_FRAMES_TOO_BIG ? SS_SOURCE_ERR : SS_SOURCE_END;
}

static void read_source(ss_source *s, outs *o) {
    for (;;) {
        ss_source_msg msg;
        int rc = ss_source_next(s, &msg, 0);
        if (rc != SS_SOURCE_MSG) {
            CHECK(rc == SS_SOURCE_END || rc == SS_SOURCE_ERR, "next returned %d", rc);
            if (rc == SS_SOURCE_ERR) CHECK(s->errstr[0], "error without a message");
            o->end = rc;
            return;
        }
        if (outs_add(o, &msg)) {
            o->end = 99;
            return;
        }
    }
}

/* FIXED on main (5fb3a6f); the build defines the FUZZ_STRICT_* switch below, so the
 * target fails on it again. Was (reproducer
 * tests/fuzz/regressions/frames/fh-detail-offset-null-pointer.bin): for a #commit without
 * "blocks", fh_decode.c sets the reader position to NULL before ss_fh_fail(), and fh_cbor.c
 * appends " at byte <p - base>" to the reject detail: a garbage offset that depends on
 * where the frame sits in memory. Rejects are therefore compared without their "detail"
 * text (reason, t, seq, repo, ... and frame_b64 still compared); -DFUZZ_STRICT_DETAIL
 * compares them whole. */
static unsigned long known_detail, known_stale_cursor;
static int stale_ok;
static void known_report(void) {
    if (known_detail) fprintf(stderr, "fuzz_frames: KNOWN BUG seen %lu times: garbage offset in a reject detail\n", known_detail);
    if (known_stale_cursor)
        fprintf(stderr, "fuzz_frames: KNOWN BUG seen %lu times: stale cursor after seek on a used source\n",
                known_stale_cursor);
}
#ifndef FUZZ_STRICT_DETAIL
/* n bytes of a reject without the value of its "detail" member, into out (cap >= n). */
static size_t strip_detail(const char *p, size_t n, char *out) {
    const char *k = memmem(p, n, "\"detail\":\"", 10);
    if (!k) return memcpy(out, p, n), n;
    size_t head = (size_t)(k - p) + 10, i = head;
    while (i < n && p[i] != '"') i += p[i] == '\\' ? 2 : 1;
    memcpy(out, p, head);
    if (i > n) i = n;
    memcpy(out + head, p + i, n - i);
    return head + n - i;
}
#endif
/* A frame that claims a time in the future gets the wall clock instead (fh_decode.c,
 * clock_time), read when that frame is decoded: the model's decode and the source's happen
 * moments apart, so their "time_us" may differ there and only there. Writes p with the value of
 * a "time_us" within the last 10 minutes of the wall clock replaced by "now" into out. */
static size_t mask_wall_time(const char *p, size_t n, char *out) {
    const char *k = memmem(p, n, "\"time_us\":", 10);
    if (!k) return memcpy(out, p, n), n;
    size_t head = (size_t)(k - p) + 10, i = head;
    long long v = 0;
    while (i < n && p[i] >= '0' && p[i] <= '9' && i - head < 18) v = v * 10 + (p[i++] - '0');
    long long now = (long long)ss_wall_us();
    if (i == head || v > now || v < now - 600000000LL) return memcpy(out, p, n), n;
    memcpy(out, p, head);
    memcpy(out + head, "now", 3);
    memcpy(out + head + 3, p + i, n - i);
    return head + 3 + n - i;
}

static int same_reject(const out_msg *a, const out_msg *b) {
    if (a->len == b->len && !memcmp(a->data, b->data, a->len)) return 1;
    {
        char *x = malloc(a->len + 4), *y = malloc(b->len + 4);
        if (!x || !y) abort();
        size_t xn = mask_wall_time(a->data, a->len, x), yn = mask_wall_time(b->data, b->len, y);
        int same = xn == yn && !memcmp(x, y, xn) && (xn != a->len || memcmp(x, a->data, xn));
        free(x);
        free(y);
        if (same) return 1;
    }
#ifdef FUZZ_STRICT_DETAIL
    return 0;
#else
    if (!a->reason[0]) return 0;
    char *x = malloc(a->len + 1), *y = malloc(b->len + 1);
    if (!x || !y) abort();
    size_t xn = strip_detail(a->data, a->len, x), yn = strip_detail(b->data, b->len, y);
    int same = xn == yn && !memcmp(x, y, xn) && memmem(a->data, a->len, " at byte ", 9);
    free(x);
    free(y);
    if (same) known_detail++;
    return same;
#endif
}

/* FIXED on main (5fb3a6f); the build defines the FUZZ_STRICT_* switch below, so the
 * target fails on it again. Was (reproducer
 * tests/fuzz/regressions/frames/frames-seek-stale-last-seq.bin): frames_seek() rewinds the
 * file but keeps the decoder, whose last_seq is then the highest seq of the previous pass.
 * Outputs of frames whose seq is unknown (rejects of unparseable frames, error frames)
 * carry "the last seq", so after a seek on a used source they can carry a cursor above
 * frames still to come: a consumer storing it would skip those frames on resume. For the
 * same-source seek only, such cursor differences are tolerated and counted;
 * -DFUZZ_STRICT_SEEK fails on them. */
static void same_outs(const outs *want, const outs *got, const char *what) {
    if (want->n == MAX_OUT || got->n == MAX_OUT) return; /* not modelled that far */
    CHECK(got->n == want->n, "%s: %zu messages, model %zu", what, got->n, want->n);
    for (size_t i = 0; i < want->n; i++) {
        const out_msg *a = &want->m[i], *b = &got->m[i];
        CHECK(!strcmp(a->reason, b->reason), "%s: message %zu reason '%s', model '%s'", what, i, b->reason, a->reason);
        int damage = !strcmp(a->reason, "truncated") || !strcmp(a->reason, "frame_too_big");
        if (damage && a->len == 0) continue; /* the source's damage reject: reason only */
        CHECK(same_reject(a, b), "%s: message %zu differs:\n got  %.*s\n want %.*s", what, i, (int)(b->len < 300 ? b->len : 300), b->data, (int)(a->len < 300 ? a->len : 300), a->data);
#ifndef FUZZ_STRICT_SEEK
        if (stale_ok && a->cursor != b->cursor) {
            known_stale_cursor++;
            continue;
        }
#endif
        CHECK(a->cursor == b->cursor, "%s: message %zu (%s) cursor %lld, model %lld: %.200s", what, i, a->reason, (long long)b->cursor,
              (long long)a->cursor, a->data);
    }
    CHECK(got->end == want->end, "%s: ends with %d, model %d", what, got->end, want->end);
}

static outs want, got;
static int memfd_plain = -1, memfd_zst = -1;

static void put_file(int fd, const void *p, size_t n) {
    if (ftruncate(fd, 0) != 0 || lseek(fd, 0, SEEK_SET) != 0) abort();
    if (n && write(fd, p, n) != (ssize_t)n) abort();
}

static ss_source *open_source(int fd, size_t max_msg) {
    char spec[64], err[300];
    snprintf(spec, sizeof spec, "frames:/proc/self/fd/%d", fd);
    ss_source_opts o;
    ss_source_opts_init(&o);
    o.max_message_bytes = max_msg;
    ss_source *s = ss_source_open(spec, &o, err, sizeof err, NULL);
    CHECK(s != NULL, "open %s: %s", spec, err);
    return s;
}

static ss_fh_decoder *model_decoder(size_t max_msg) {
    ss_source_opts so;
    ss_source_opts_init(&so);
    ss_fh_opts fo;
    ss_fh_opts_init(&fo);
    fo.verify_cids = so.verify_cids;
    fo.max_frame_bytes = ss_fh_frame_limit(max_msg); /* as the source does (fh_decode.h) */
    fo.clock = SS_FH_CLOCK_REPLAY;                   /* ... and its replay clock */
    ss_fh_decoder *d = ss_fh_decoder_new(&fo);
    if (!d) abort();
    return d;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (memfd_plain < 0) {
        ss_log_set_level(SS_LOG_OFF);
        atexit(known_report);
        memfd_plain = memfd_create("fuzz-frames", 0);
        memfd_zst = memfd_create("fuzz-frames-zst", 0);
        if (memfd_plain < 0 || memfd_zst < 0) abort();
    }
    if (size < 1) return 0;
    static const size_t limits[4] = {64, 1000, 100000, SS_FRAMES_MAX_FRAME};
    uint8_t flags = data[0];
    const uint8_t *content = data + 1;
    size_t n = size - 1;
    if (n >= 4 && !memcmp(content, "\x28\xb5\x2f\xfd", 4)) return 0; /* a zstd stream by accident: no model */
    size_t max_msg = limits[flags & 3];
    model m;
    /* The source reads frames up to the format's limit at least, and lets the decoder
     * reject the ones over its own limit (frames.h). */
    size_t reader_limit = max_msg > SS_FRAMES_MAX_FRAME ? max_msg : SS_FRAMES_MAX_FRAME;

    put_file(memfd_plain, content, n);
    size_t bound = ZSTD_compressBound(n);
    void *z = malloc(bound);
    if (!z) abort();
    size_t zn = ZSTD_compress(z, bound, content, n, 1);
    CHECK(!ZSTD_isError(zn), "compress");
    put_file(memfd_zst, z, zn);
    free(z);

    /* The reader with the caller's limit. */
    build_model(content, n, max_msg, &m);
    check_reader(memfd_plain, max_msg, &m, 0);
    check_reader(memfd_zst, max_msg, &m, 1);

    /* The source: first pass. */
    build_model(content, n, reader_limit, &m);
    if (m.end == 99) return 0;
    for (int zst = 0; zst < 2; zst++) {
        int fd = zst ? memfd_zst : memfd_plain;
        ss_fh_decoder *d = model_decoder(max_msg);
        outs_clear(&want);
        outs_clear(&got);
        expected(d, &m, -1, &want);
        ss_source *s = open_source(fd, max_msg);
        read_source(s, &got);
        same_outs(&want, &got, zst ? "zstd source" : "source");

        /* Seek to a reported cursor, on a fresh source and on this one. */
        if ((flags & 4) && want.n) {
            int64_t c = want.m[(flags >> 3) % want.n].cursor;
            ss_fh_decoder *d2 = model_decoder(max_msg);
            outs_clear(&want);
            expected(d2, &m, c, &want);
            ss_fh_decoder_free(d2);
            ss_source *s2 = open_source(fd, max_msg);
            CHECK(ss_source_seek(s2, c) == 0, "seek %lld on a fresh source: %s", (long long)c, s2->errstr);
            outs_clear(&got);
            read_source(s2, &got);
            same_outs(&want, &got, "fresh source after seek");
            ss_source_close(s2);
            /* The same source, after reading to the end, seeks back to the same cursor. */
            if (got.end == SS_SOURCE_END) {
                CHECK(ss_source_seek(s, c) == 0, "seek %lld after the end: %s", (long long)c, s->errstr);
                outs_clear(&got);
                read_source(s, &got);
                stale_ok = 1;
                same_outs(&want, &got, "same source after seek");
                stale_ok = 0;
            }
        }
        ss_source_close(s);
        ss_fh_decoder_free(d);
    }
    return 0;
}
