/* See replay_input.h. Two layers: a byte source (the file, or the file through a zstd
 * stream decoder) fills a window; records are cut from the window, which is compacted
 * and grown (up to SS_REPLAY_MAX_RECORD plus one read) only when a record spans it. */
#include "replay/replay_input.h"
#include "source/source.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#define READ_CHUNK (256 * 1024)

struct ss_replay_reader {
    ss_source *src;        /* non-NULL: records are this source's events */
    FILE *f;
    ZSTD_DStream *zs;      /* non-NULL when the file is zstd */
    uint8_t *zin;          /* compressed input buffer */
    ZSTD_inBuffer zinb;
    int file_eof;
    size_t zlast;          /* last ZSTD_decompressStream result: 0 at a frame end */
    uint8_t *win;          /* decoded bytes: [pos, len) not yet consumed */
    size_t pos, len, cap;
    uint64_t count;
    char path[256];
    char errstr[300];
};

static int rfail(ss_replay_reader *r, const char *fmt, const char *detail) {
    /* A message cut to fit errstr is fine; using the result tells -O2 that we know. */
    if (snprintf(r->errstr, sizeof r->errstr, fmt, r->path, detail) >= (int)sizeof r->errstr) r->errstr[sizeof r->errstr - 1] = '\0';
    return -1;
}

ss_replay_reader *ss_replay_reader_open(const char *path, char *err, size_t errlen) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    ss_replay_reader *r = calloc(1, sizeof *r);
    if (!r) {
        fclose(f);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    r->f = f;
    snprintf(r->path, sizeof r->path, "%s", path);
    r->cap = READ_CHUNK * 2;
    r->win = malloc(r->cap);
    unsigned char magic[4] = {0};
    size_t got = fread(magic, 1, 4, f);
    rewind(f);
    if (got == 4 && magic[0] == 0x28 && magic[1] == 0xB5 && magic[2] == 0x2F && magic[3] == 0xFD) {
        r->zs = ZSTD_createDStream();
        r->zin = malloc(READ_CHUNK);
        if (r->zs) ZSTD_initDStream(r->zs);
        r->zinb.src = r->zin;
    }
    if (!r->win || (got == 4 && magic[0] == 0x28 && (!r->zs || !r->zin))) {
        ss_replay_reader_close(r);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    return r;
}

/* Appends more decoded bytes to the window. Returns bytes added, 0 at the end, -1 on error. */
static long fill(ss_replay_reader *r) {
    if (r->pos > 0 && (r->pos == r->len || r->cap - r->len < READ_CHUNK)) { /* compact */
        memmove(r->win, r->win + r->pos, r->len - r->pos);
        r->len -= r->pos;
        r->pos = 0;
    }
    if (r->cap - r->len < READ_CHUNK) {
        if (r->cap >= SS_REPLAY_MAX_RECORD + 2 * READ_CHUNK) return rfail(r, "%s: a record is longer than %s", "8 MiB");
        size_t ncap = r->cap * 2;
        uint8_t *w = realloc(r->win, ncap);
        if (!w) return rfail(r, "%s: %s", "out of memory");
        r->win = w;
        r->cap = ncap;
    }
    if (!r->zs) {
        size_t n = fread(r->win + r->len, 1, r->cap - r->len, r->f);
        if (n == 0 && ferror(r->f)) return rfail(r, "%s: read error: %s", strerror(errno));
        r->len += n;
        return (long)n;
    }
    size_t before = r->len;
    while (r->len == before) {
        if (r->zinb.pos == r->zinb.size && !r->file_eof) {
            size_t n = fread(r->zin, 1, READ_CHUNK, r->f);
            if (n == 0 && ferror(r->f)) return rfail(r, "%s: read error: %s", strerror(errno));
            if (n == 0) r->file_eof = 1;
            r->zinb.size = n;
            r->zinb.pos = 0;
        }
        if (r->zinb.pos == r->zinb.size && r->file_eof) {
            if (r->zlast != 0) return rfail(r, "%s: %s", "the zstd stream is truncated");
            return 0;
        }
        ZSTD_outBuffer out = {r->win, r->cap, r->len};
        size_t rc = ZSTD_decompressStream(r->zs, &out, &r->zinb);
        if (ZSTD_isError(rc)) return rfail(r, "%s: bad zstd data: %s", ZSTD_getErrorName(rc));
        r->zlast = rc;
        r->len = out.pos;
    }
    return (long)(r->len - before);
}

static int next_line(ss_replay_reader *r, const uint8_t **data, size_t *len) {
    size_t scanned = 0;
    for (;;) {
        uint8_t *start = r->win + r->pos;
        size_t avail = r->len - r->pos;
        uint8_t *nl = scanned < avail ? memchr(start + scanned, '\n', avail - scanned) : NULL;
        if (nl) {
            size_t n = (size_t)(nl - start);
            r->pos += n + 1;
            if (n && start[n - 1] == '\r') n--;
            if (n == 0) {
                scanned = 0;
                continue;
            }
            *data = start;
            *len = n;
            return 1;
        }
        if (avail > SS_REPLAY_MAX_RECORD) return rfail(r, "%s: a line is longer than %s", "8 MiB");
        scanned = avail;
        long got = fill(r);
        if (got < 0) return -1;
        if (got == 0) { /* end: a last line without '\n' */
            start = r->win + r->pos;
            avail = r->len - r->pos;
            r->pos = r->len;
            while (avail && (start[avail - 1] == '\r' || start[avail - 1] == ' ')) avail--;
            if (!avail) return 0;
            *data = start;
            *len = avail;
            return 1;
        }
    }
}

ss_replay_reader *ss_replay_reader_open_source(const char *spec, char *err, size_t errlen) {
    ss_replay_reader *r = calloc(1, sizeof *r);
    if (!r) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    r->src = ss_source_open(spec, NULL, err, errlen);
    if (!r->src) {
        free(r);
        return NULL;
    }
    snprintf(r->path, sizeof r->path, "%s", spec);
    return r;
}

static int next_event(ss_replay_reader *r, const uint8_t **data, size_t *len) {
    for (;;) {
        ss_source_msg m;
        int rc = ss_source_next(r->src, &m, 1000);
        if (rc == SS_SOURCE_END) return 0;
        if (rc == SS_SOURCE_AGAIN) continue;
        if (rc == SS_SOURCE_ERR) return rfail(r, "%s: %s", r->src->errstr);
        if (m.bad_reason) continue;
        if (m.len > SS_REPLAY_MAX_RECORD) return rfail(r, "%s: a record is longer than %s", "8 MiB");
        *data = (const uint8_t *)m.data;
        *len = m.len;
        return 1;
    }
}

int ss_replay_reader_next(ss_replay_reader *r, const uint8_t **data, size_t *len) {
    int rc = r->src ? next_event(r, data, len) : next_line(r, data, len);
    if (rc == 1) r->count++;
    return rc;
}

const char *ss_replay_reader_errstr(const ss_replay_reader *r) { return r->errstr; }
uint64_t ss_replay_reader_count(const ss_replay_reader *r) { return r->count; }

void ss_replay_reader_close(ss_replay_reader *r) {
    if (!r) return;
    ss_source_close(r->src);
    if (r->f) fclose(r->f);
    ZSTD_freeDStream(r->zs);
    free(r->zin);
    free(r->win);
    free(r);
}
