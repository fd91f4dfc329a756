/* See zdict.h. */
#include "net/zdict.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#define SS_ZDICT_WINDOW_LOG_CAP 27 /* zstd's ZSTD_WINDOWLOG_LIMIT_DEFAULT (static-only API) */

struct ss_zdict {
    char *bytes;
    size_t len;
    int level;
    ZSTD_DDict *ddict;
    ZSTD_DCtx *dctx;
    ZSTD_CDict *cdict; /* made on first compress: readers never pay for it */
    ZSTD_CCtx *cctx;
};

ss_zdict *ss_zdict_open(const char *path, int level, char *err, size_t errlen) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "cannot open zstd dictionary (%s): %s", strerror(errno), path);
        return NULL;
    }
    ss_zdict *z = calloc(1, sizeof *z);
    char *buf = malloc(SS_ZDICT_MAX_BYTES + 1);
    size_t n = buf ? fread(buf, 1, SS_ZDICT_MAX_BYTES + 1, f) : 0;
    int rerr = ferror(f);
    fclose(f);
    if (!z || !buf) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if (rerr || n == 0 || n > SS_ZDICT_MAX_BYTES) {
        snprintf(err, errlen, "zstd dictionary %s is %s", path,
                 rerr ? "unreadable" : n == 0 ? "empty" : "too large (over 4 MiB)");
        goto fail;
    }
    z->bytes = buf;
    z->len = n;
    z->level = level ? level : ZSTD_CLEVEL_DEFAULT;
    z->ddict = ZSTD_createDDict(buf, n);
    z->dctx = ZSTD_createDCtx();
    if (!z->ddict || !z->dctx) {
        snprintf(err, errlen, "zstd dictionary %s could not be loaded", path);
        ss_zdict_free(z);
        return NULL;
    }
    return z;
fail:
    free(buf);
    free(z);
    return NULL;
}

void ss_zdict_free(ss_zdict *z) {
    if (!z) return;
    ZSTD_freeDDict(z->ddict);
    ZSTD_freeDCtx(z->dctx);
    ZSTD_freeCDict(z->cdict);
    ZSTD_freeCCtx(z->cctx);
    free(z->bytes);
    free(z);
}

/* The largest window a frame may ask for: enough for max_out bytes of output (a window
 * never needs to exceed the content), at least 1 MiB so that frames from encoders with
 * a generous default still pass, never above zstd's own default limit (2^27). Without
 * it an 11-byte frame declaring a 128 MiB window and no content size makes the context
 * allocate 128 MiB whatever max_out says. */
static int window_log_for(size_t max_out) {
    int log = 20;
    while (log < SS_ZDICT_WINDOW_LOG_CAP && ((size_t)1 << log) < max_out) log++;
    return log;
}

/* Only current zstd frames: the streaming API would also take legacy (pre-v0.8)
 * frames, which Jetstream never sends, and skippable frames, which carry no message. */
static int is_zstd_frame(const void *src, size_t n) {
    const unsigned char *b = src;
    return n >= 4 && ((unsigned)b[0] | (unsigned)b[1] << 8 | (unsigned)b[2] << 16 | (unsigned)b[3] << 24) ==
                         ZSTD_MAGICNUMBER;
}

int ss_zdict_decompress(ss_zdict *z, const void *src, size_t n, ss_buf *out, size_t max_out, const char **reason) {
    ss_buf_reset(out);
    if (!is_zstd_frame(src, n)) {
        *reason = "bad_zstd";
        return -1;
    }
    if (!z->dctx && !(z->dctx = ZSTD_createDCtx())) {
        *reason = "oom";
        return -1;
    }
    ZSTD_DCtx_reset(z->dctx, ZSTD_reset_session_and_parameters);
    if (ZSTD_isError(ZSTD_DCtx_setParameter(z->dctx, ZSTD_d_windowLogMax, window_log_for(max_out))) ||
        ZSTD_isError(ZSTD_DCtx_refDDict(z->dctx, z->ddict))) {
        *reason = "bad_zstd";
        return -1;
    }
    /* Start from the size the frame claims (bounded), grow as needed. */
    unsigned long long claim = ZSTD_getFrameContentSize(src, n);
    size_t want = 4096;
    if (claim != ZSTD_CONTENTSIZE_ERROR && claim != ZSTD_CONTENTSIZE_UNKNOWN) {
        if (claim > max_out) {
            *reason = "too_large";
            return -1;
        }
        want = (size_t)claim;
    } else if (claim == ZSTD_CONTENTSIZE_ERROR) {
        *reason = "bad_zstd";
        return -1;
    }
    ZSTD_inBuffer in = {src, n, 0};
    for (;;) {
        if (ss_buf_reserve(out, want) < 0) {
            *reason = "oom";
            return -1;
        }
        ZSTD_outBuffer o = {out->data, out->cap - 1, out->len};
        size_t rc = ZSTD_decompressStream(z->dctx, &o, &in);
        out->len = o.pos;
        out->data[out->len] = '\0';
        if (ZSTD_isError(rc)) {
            /* A context that failed mid-frame is replaced: libzstd 1.5.4, even after a full
             * reset, can decode on a second attempt a frame a fresh context calls corrupt,
             * so the verdict on a message would depend on the messages before it. */
            ZSTD_freeDCtx(z->dctx);
            z->dctx = ZSTD_createDCtx(); /* NULL: made again on the next call */
            *reason = "bad_zstd";
            return -1;
        }
        if (out->len > max_out) {
            *reason = "too_large";
            return -1;
        }
        if (rc == 0) break; /* frame complete */
        if (in.pos == in.size && o.pos < o.size) {
            *reason = "bad_zstd"; /* truncated frame */
            return -1;
        }
        want = out->cap; /* output full: double */
    }
    if (in.pos != in.size) {
        *reason = "bad_zstd"; /* trailing bytes after the frame */
        return -1;
    }
    return 0;
}

int ss_zdict_compress(ss_zdict *z, const void *src, size_t n, ss_buf *out) {
    if (!z->cdict) {
        z->cdict = ZSTD_createCDict(z->bytes, z->len, z->level);
        z->cctx = ZSTD_createCCtx();
        if (!z->cdict || !z->cctx) return -1;
    }
    ss_buf_reset(out);
    size_t bound = ZSTD_compressBound(n);
    if (ss_buf_reserve(out, bound) < 0) return -1;
    size_t rc = ZSTD_compress_usingCDict(z->cctx, out->data, bound, src, n, z->cdict);
    if (ZSTD_isError(rc)) return -1;
    out->len = rc;
    return 0;
}
