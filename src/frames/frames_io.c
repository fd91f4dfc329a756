/* Frames files: reader and writer (see frames.h for the format).
 *
 * The reader keeps one buffer holding the undecoded rest of what was read; a frame is
 * handed out as a slice of it, so reading costs one copy from the kernel (or from zstd)
 * and nothing per frame. The buffer grows to the largest frame seen (bounded by
 * max_frame). A length over max_frame is reported before anything is allocated for it.
 *
 * The writer buffers frames and writes 1 MiB at a time; with zstd it streams through one
 * compression context (level 3: recordings are written live, at firehose rate). */
#include "frames/frames.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#define FR_BLOCK (1u << 20)

static ssize_t read_full(int fd, void *p, size_t n) {
    for (;;) {
        ssize_t r = read(fd, p, n);
        if (r >= 0 || errno != EINTR) return r;
    }
}

static int write_full(int fd, const void *p, size_t n) {
    const char *c = p;
    while (n) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        c += w, n -= (size_t)w;
    }
    return 0;
}

/* ---- writer ------------------------------------------------------------------------ */

struct ss_frames_writer {
    int fd, is_stdout;
    ZSTD_CCtx *cctx;
    char *buf; /* pending plain bytes */
    size_t len, cap;
    char *zout;
    size_t zout_cap;
    uint64_t count;
    char err[256];
};

static int wfail(ss_frames_writer *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int wfail(ss_frames_writer *w, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->err, sizeof w->err, fmt, ap);
    va_end(ap);
    return -1;
}

ss_frames_writer *ss_frames_writer_open(const char *path, int zstd, char *err, size_t errlen) {
    ss_frames_writer *w = calloc(1, sizeof *w);
    if (!w) return snprintf(err, errlen, "out of memory"), NULL;
    size_t pl = strlen(path);
    if (zstd < 0) zstd = pl > 4 && !strcmp(path + pl - 4, ".zst");
    if (!strcmp(path, "-")) {
        w->fd = STDOUT_FILENO, w->is_stdout = 1;
    } else {
        w->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (w->fd < 0) {
            snprintf(err, errlen, "cannot create (%s): %s", strerror(errno), path);
            free(w);
            return NULL;
        }
    }
    w->cap = 2 * FR_BLOCK;
    w->buf = malloc(w->cap);
    if (zstd) {
        w->cctx = ZSTD_createCCtx();
        w->zout_cap = ZSTD_CStreamOutSize();
        w->zout = malloc(w->zout_cap);
        if (w->cctx) ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_compressionLevel, 3);
    }
    if (!w->buf || (zstd && (!w->cctx || !w->zout))) {
        snprintf(err, errlen, "out of memory");
        ss_frames_writer_close(w, NULL, 0);
        return NULL;
    }
    return w;
}

/* Writes the pending bytes (through zstd when on) with the given end directive. */
static int drain(ss_frames_writer *w, ZSTD_EndDirective mode) {
    if (!w->cctx) {
        if (w->len && write_full(w->fd, w->buf, w->len)) return wfail(w, "write: %s", strerror(errno));
        w->len = 0;
        return 0;
    }
    ZSTD_inBuffer in = {w->buf, w->len, 0};
    for (;;) {
        ZSTD_outBuffer out = {w->zout, w->zout_cap, 0};
        size_t left = ZSTD_compressStream2(w->cctx, &out, &in, mode);
        if (ZSTD_isError(left)) return wfail(w, "zstd: %s", ZSTD_getErrorName(left));
        if (out.pos && write_full(w->fd, w->zout, out.pos)) return wfail(w, "write: %s", strerror(errno));
        if (mode == ZSTD_e_continue ? in.pos == in.size : left == 0) break;
    }
    w->len = 0;
    return 0;
}

int ss_frames_writer_append(ss_frames_writer *w, const void *frame, size_t len) {
    if (len > SS_FRAMES_MAX_FRAME) return wfail(w, "frame of %zu bytes is over the %u-byte limit", len, SS_FRAMES_MAX_FRAME);
    if (w->len + 4 + len > w->cap) {
        if (drain(w, ZSTD_e_continue)) return -1;
        if (4 + len > w->cap) {
            char *b = realloc(w->buf, 4 + len);
            if (!b) return wfail(w, "out of memory");
            w->buf = b, w->cap = 4 + len;
        }
    }
    uint8_t *p = (uint8_t *)w->buf + w->len;
    p[0] = (uint8_t)len, p[1] = (uint8_t)(len >> 8), p[2] = (uint8_t)(len >> 16), p[3] = (uint8_t)(len >> 24);
    memcpy(p + 4, frame, len);
    w->len += 4 + len;
    w->count++;
    return 0;
}

int ss_frames_writer_flush(ss_frames_writer *w) { return drain(w, w->cctx ? ZSTD_e_flush : ZSTD_e_continue); }

int ss_frames_writer_close(ss_frames_writer *w, char *err, size_t errlen) {
    if (!w) return 0;
    int rc = 0;
    if (w->buf && drain(w, w->cctx ? ZSTD_e_end : ZSTD_e_continue)) rc = -1;
    if (!w->is_stdout && w->fd >= 0 && close(w->fd) != 0 && rc == 0) rc = wfail(w, "close: %s", strerror(errno));
    if (rc && err) snprintf(err, errlen, "%s", w->err);
    ZSTD_freeCCtx(w->cctx);
    free(w->zout);
    free(w->buf);
    free(w);
    return rc;
}

const char *ss_frames_writer_error(const ss_frames_writer *w) { return w->err; }
uint64_t ss_frames_writer_count(const ss_frames_writer *w) { return w->count; }

/* ---- reader ------------------------------------------------------------------------ */

struct ss_frames_reader {
    int fd, is_stdin;
    char *path;
    size_t max_frame;
    uint8_t *buf;
    size_t cap, start, end;
    uint64_t pos; /* stream offset of buf[start] */
    int eof;
    int zst, sniffed;
    ZSTD_DCtx *dctx;
    uint8_t *zin;
    ZSTD_inBuffer in;
    int raw_eof;
    size_t zret;
    char err[256];
};

static int rfail(ss_frames_reader *r, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int rfail(ss_frames_reader *r, int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->err, sizeof r->err, fmt, ap);
    va_end(ap);
    return code;
}

static int reader_start(ss_frames_reader *r, char *err, size_t errlen) {
    if (r->is_stdin) {
        r->fd = STDIN_FILENO;
    } else {
        r->fd = open(r->path, O_RDONLY | O_CLOEXEC);
        if (r->fd < 0) return snprintf(err, errlen, "cannot open (%s): %s", strerror(errno), r->path), -1;
    }
    r->start = r->end = 0, r->pos = 0, r->eof = 0, r->sniffed = 0, r->zst = 0;
    r->raw_eof = 0, r->zret = 0, r->in = (ZSTD_inBuffer){r->zin, 0, 0};
    if (r->dctx) ZSTD_DCtx_reset(r->dctx, ZSTD_reset_session_only);
    return 0;
}

ss_frames_reader *ss_frames_reader_open(const char *path, size_t max_frame, char *err, size_t errlen) {
    ss_frames_reader *r = calloc(1, sizeof *r);
    if (!r) return snprintf(err, errlen, "out of memory"), NULL;
    r->is_stdin = !strcmp(path, "-");
    r->path = strdup(path);
    r->max_frame = max_frame ? max_frame : SS_FRAMES_MAX_FRAME;
    r->cap = 2 * FR_BLOCK;
    r->buf = malloc(r->cap);
    r->fd = -1;
    if (!r->path || !r->buf) {
        snprintf(err, errlen, "out of memory");
        ss_frames_reader_close(r);
        return NULL;
    }
    if (reader_start(r, err, errlen)) {
        ss_frames_reader_close(r);
        return NULL;
    }
    return r;
}

/* Up to n decoded stream bytes into p. Returns bytes, 0 at the end, -1 error, -2 cut short. */
static ssize_t produce(ss_frames_reader *r, uint8_t *p, size_t n) {
    if (!r->zst) {
        ssize_t k = read_full(r->fd, p, n);
        if (k < 0) return rfail(r, SS_FRAMES_IO, "read (%s): %s", strerror(errno), r->path), -1;
        return k;
    }
    ZSTD_outBuffer out = {p, n, 0};
    while (out.pos == 0) {
        if (r->in.pos == r->in.size && !r->raw_eof) {
            ssize_t k = read_full(r->fd, r->zin, ZSTD_DStreamInSize());
            if (k < 0) return rfail(r, SS_FRAMES_IO, "read (%s): %s", strerror(errno), r->path), -1;
            if (k == 0) r->raw_eof = 1;
            r->in = (ZSTD_inBuffer){r->zin, (size_t)k, 0};
        }
        if (r->in.pos == r->in.size && r->raw_eof) {
            if (r->zret != 0) return rfail(r, SS_FRAMES_TRUNCATED, "%s: the zstd stream is cut short", r->path), -2;
            return 0;
        }
        size_t rc = ZSTD_decompressStream(r->dctx, &out, &r->in);
        if (ZSTD_isError(rc)) return rfail(r, SS_FRAMES_IO, "%s: zstd: %s", r->path, ZSTD_getErrorName(rc)), -1;
        r->zret = rc;
    }
    return (ssize_t)out.pos;
}

/* Decides once whether the stream is zstd, from its first four bytes. */
static int sniff(ss_frames_reader *r) {
    r->sniffed = 1;
    uint8_t head[8]; /* 4 used; sized up for the compiler's bounds analysis */
    size_t got = 0;
    while (got < 4) {
        ssize_t k = read_full(r->fd, head + got, 4 - got);
        if (k < 0) return rfail(r, SS_FRAMES_IO, "read (%s): %s", strerror(errno), r->path);
        if (k == 0) break;
        got += (size_t)k;
    }
    if (got == 4 && head[0] == 0x28 && head[1] == 0xb5 && head[2] == 0x2f && head[3] == 0xfd) {
        r->zst = 1;
        if (!r->dctx) r->dctx = ZSTD_createDCtx();
        if (!r->zin) r->zin = malloc(ZSTD_DStreamInSize());
        if (!r->dctx || !r->zin) return rfail(r, SS_FRAMES_IO, "out of memory");
        memcpy(r->zin, head, 4);
        r->in = (ZSTD_inBuffer){r->zin, 4, 0};
    } else {
        memcpy(r->buf + r->end, head, got < sizeof head ? got : sizeof head); /* bound for -O2 -Warray-bounds */
        r->end += got;
        if (got < 4) r->eof = 1;
    }
    return 0;
}

/* Makes at least n bytes available at buf+start, unless the stream ends first.
 * Returns 0 (check end-start), or an error code. */
static int ensure(ss_frames_reader *r, size_t n) {
    if (!r->sniffed) {
        int e = sniff(r);
        if (e) return e;
    }
    while (r->end - r->start < n && !r->eof) {
        if (r->start > 0 && (r->cap - r->end < FR_BLOCK || r->start == r->end)) {
            memmove(r->buf, r->buf + r->start, r->end - r->start);
            r->end -= r->start, r->start = 0;
        }
        if (r->cap - r->start < n || r->cap - r->end < FR_BLOCK / 4) {
            size_t want = r->start + n > r->end + FR_BLOCK ? r->start + n : r->end + FR_BLOCK;
            size_t cap = r->cap;
            while (cap < want) cap *= 2;
            if (cap != r->cap) {
                uint8_t *b = realloc(r->buf, cap);
                if (!b) return rfail(r, SS_FRAMES_IO, "out of memory");
                r->buf = b, r->cap = cap;
            }
        }
        ssize_t k = produce(r, r->buf + r->end, r->cap - r->end);
        if (k < 0) return k == -2 ? SS_FRAMES_TRUNCATED : SS_FRAMES_IO;
        if (k == 0) r->eof = 1;
        r->end += (size_t)k;
    }
    return 0;
}

int ss_frames_reader_next(ss_frames_reader *r, const uint8_t **frame, size_t *len) {
    int e = ensure(r, 4);
    if (e) return e;
    size_t have = r->end - r->start;
    if (have == 0) return SS_FRAMES_END;
    if (have < 4)
        return rfail(r, SS_FRAMES_TRUNCATED, "%s ends inside a length prefix at offset %llu", r->path,
                     (unsigned long long)r->pos);
    const uint8_t *p = r->buf + r->start;
    size_t n = (size_t)p[0] | (size_t)p[1] << 8 | (size_t)p[2] << 16 | (size_t)p[3] << 24;
    if (n > r->max_frame)
        return rfail(r, SS_FRAMES_TOO_BIG, "%s: frame of %zu bytes at offset %llu is over the %zu-byte limit", r->path, n,
                     (unsigned long long)r->pos, r->max_frame);
    if ((e = ensure(r, 4 + n))) return e;
    if (r->end - r->start < 4 + n)
        return rfail(r, SS_FRAMES_TRUNCATED, "%s ends inside a frame of %zu bytes at offset %llu", r->path, n,
                     (unsigned long long)r->pos);
    *frame = r->buf + r->start + 4;
    *len = n;
    r->start += 4 + n;
    r->pos += 4 + n;
    return SS_FRAMES_OK;
}

int ss_frames_reader_rewind(ss_frames_reader *r) {
    if (r->is_stdin) return rfail(r, -1, "stdin cannot be read again"), -1;
    if (r->fd >= 0) close(r->fd);
    r->fd = -1;
    char err[256];
    if (reader_start(r, err, sizeof err)) return rfail(r, -1, "%s", err), -1;
    return 0;
}

const char *ss_frames_reader_error(const ss_frames_reader *r) { return r->err; }
uint64_t ss_frames_reader_offset(const ss_frames_reader *r) { return r->pos; }
int ss_frames_reader_is_zstd(const ss_frames_reader *r) { return r->zst; }

void ss_frames_reader_close(ss_frames_reader *r) {
    if (!r) return;
    if (r->fd >= 0 && !r->is_stdin) close(r->fd);
    ZSTD_freeDCtx(r->dctx);
    free(r->zin);
    free(r->buf);
    free(r->path);
    free(r);
}
