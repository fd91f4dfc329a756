/* See replay_input.h. Two layers: a byte source (the file, or the file through a zstd
 * stream decoder) fills a window; records are cut from the window, which is compacted
 * and grown (up to SS_REPLAY_MAX_RECORD plus one read) only when a record spans it. */
#include "replay/replay_input.h"
#include "proto/js_proto.h"
#include "source/source.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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
        snprintf(err, errlen, "cannot open (%s): %s", strerror(errno), path);
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
    r->src = ss_source_open(spec, NULL, err, errlen, NULL);
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

#define PROBE_SPAN (64 * 1024) /* bytes of lines after a probe's first line checked for order */

/* The first whole line starting after byte off (at off itself when off is 0): its start in
 * *line_off and time_us in *t (-1 when it has none); *tmin and *tmax over the lines of the
 * next PROBE_SPAN bytes, and *disorder when one of them is more than slack_us older than a line
 * before it. 1 found, 0 no line starts before the end, -1 read error. *own_cursor is set
 * when the line carries a top-level "cursor". */
static int probe_at(ss_replay_reader *r, int64_t off, int64_t slack_us, int64_t *line_off, int64_t *t, int64_t *tmin,
                    int64_t *tmax, int *disorder, int *own_cursor) {
    if (fseeko(r->f, (off_t)off, SEEK_SET) != 0) return rfail(r, "%s: seek: %s", strerror(errno));
    size_t have = 0;
    int64_t base = off;
    int synced = off == 0;
    for (;;) {
        if (r->cap - have < READ_CHUNK) {
            if (r->cap >= SS_REPLAY_MAX_RECORD + 2 * READ_CHUNK) return rfail(r, "%s: a line is longer than %s", "8 MiB");
            uint8_t *w = realloc(r->win, r->cap * 2);
            if (!w) return rfail(r, "%s: %s", "out of memory");
            r->win = w;
            r->cap *= 2;
        }
        size_t n = fread(r->win + have, 1, r->cap - have, r->f);
        if (n == 0 && ferror(r->f)) return rfail(r, "%s: read error: %s", strerror(errno));
        have += n;
        size_t start = 0;
        if (!synced) {
            uint8_t *nl = memchr(r->win, '\n', have);
            if (!nl) {
                if (n == 0) return 0;
                base += (int64_t)have; /* no newline in what we hold: drop it, read on */
                have = 0;
                continue;
            }
            start = (size_t)(nl - r->win) + 1;
            memmove(r->win, r->win + start, have - start);
            have -= start;
            base += (int64_t)start;
            synced = 1;
            start = 0;
        }
        uint8_t *nl = memchr(r->win, '\n', have);
        if (!nl && n != 0) continue; /* the line goes on */
        size_t len = nl ? (size_t)(nl - r->win) : have;
        if (len == 0 || (len == 1 && r->win[0] == '\r')) { /* an empty line: the next one */
            if (!nl) return 0;           /* the end */
            memmove(r->win, nl + 1, have - len - 1);
            have -= len + 1;
            base += (int64_t)len + 1;
            continue;
        }
        ss_js_peek_result pk;
        ss_js_peek((const char *)r->win, len, SS_JS_PEEK_CURSOR, &pk);
        *line_off = base;
        *t = *tmin = *tmax = pk.time_us;
        *own_cursor = pk.cursor >= 0;
        *disorder = 0;
        /* the order of the lines that follow, within what was read */
        size_t at = nl ? len + 1 : have;
        while (at < have && at < PROBE_SPAN) {
            uint8_t *e = memchr(r->win + at, '\n', have - at);
            if (!e) break;
            size_t l = (size_t)(e - (r->win + at));
            if (l > 1) {
                ss_js_peek_result q;
                ss_js_peek((const char *)r->win + at, l, 0, &q);
                if (q.time_us >= 0) {
                    if (*tmax - q.time_us > slack_us) *disorder = 1;
                    if (q.time_us > *tmax) *tmax = q.time_us;
                    if (q.time_us < *tmin) *tmin = q.time_us;
                }
            }
            at += l + 1;
        }
        return 1;
    }
}

int ss_replay_reader_seek_time(ss_replay_reader *r, int64_t cursor_us, int64_t slack_us, int *probes, int64_t *offset,
                               const char **why) {
    *probes = 0;
    *offset = 0;
    *why = "";
    if (r->src || r->zs) return *why = r->src ? "a source, not a file" : "a zstd file (no random access)", 0;
    if (r->count || r->len) return *why = "already reading", 0;
    struct stat st;
    if (fstat(fileno(r->f), &st) != 0 || !S_ISREG(st.st_mode)) return *why = "not a regular file", 0;
    if (st.st_size < (off_t)SS_REPLAY_SEEK_MIN_BYTES) return *why = "a small file", 0;
    int64_t want = cursor_us - slack_us;
    int64_t lo = 0, hi = (int64_t)st.st_size;
    int64_t po[SS_REPLAY_SEEK_MAX_PROBES], pmin[SS_REPLAY_SEEK_MAX_PROBES], pmax[SS_REPLAY_SEEK_MAX_PROBES];
    int np = 0, rc = 1;
    while (hi - lo > READ_CHUNK && np < SS_REPLAY_SEEK_MAX_PROBES) {
        int64_t mid = lo + (hi - lo) / 2, ls = 0, t = -1, tmin = -1, tmax = -1;
        int own = 0, dis = 0;
        int got = probe_at(r, mid, slack_us, &ls, &t, &tmin, &tmax, &dis, &own);
        if (got < 0) return -1;
        if (got == 0 || ls >= hi) {
            hi = mid;
            continue;
        }
        if (own) {
            *why = "its events carry their own cursor (matched exactly, from the start)";
            rc = 0;
            break;
        }
        if (t < 0) {
            *why = "a line without time_us";
            rc = 0;
            break;
        }
        /* disorder: lines within the probe's span, or a probe at a higher offset holding a line more
         * than slack older than one of a probe at a lower offset */
        if (dis) rc = 0;
        for (int i = 0; i < np; i++)
            if ((po[i] < ls && pmax[i] - slack_us > tmin) || (po[i] > ls && tmax - slack_us > pmin[i])) rc = 0;
        if (rc == 0) *why = "the file is not in time order (within the slack)";
        po[np] = ls;
        pmin[np] = tmin;
        pmax[np++] = tmax;
        if (rc == 0) break;
        if (t < want) lo = ls;
        else hi = mid;
    }
    *probes = np;
    /* the reader restarts at lo (0 when falling back), with an empty window */
    if (rc == 0) lo = 0;
    if (fseeko(r->f, (off_t)lo, SEEK_SET) != 0) return rfail(r, "%s: seek: %s", strerror(errno));
    r->pos = r->len = 0;
    clearerr(r->f);
    *offset = lo;
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
