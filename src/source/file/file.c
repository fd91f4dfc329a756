/* The `file:` source: JSONL from a file or stdin, one event per line.
 *
 * Built for speed on big files: input is read in 1 MiB blocks into one buffer, lines are
 * found with memchr and handed out as slices of that buffer (no per-line allocation or
 * copy). A line that does not fit is never buffered whole: once it passes the message
 * limit, its first 64 KiB are kept for the dead-letter stream and the rest is skipped up
 * to the next newline, so a 1 GB line costs 64 KiB of memory.
 *
 * The cursor is the byte offset of the next line, so a stored cursor resumes exactly
 * after the last message a consumer kept. Files whose first bytes are the zstd magic
 * number are decompressed on the fly (streaming); their cursor is an offset in the
 * decompressed stream, and seeking re-decompresses from the start. stdin cannot seek,
 * except to where it already is.
 *
 * Content, not path. The source id (path@dev:ino) names a file, but a file overwritten in
 * place (`synth > ev.jsonl` twice) keeps path and inode, so an offset stored for the old
 * content would skip part of the new one and cut a line in half. The fingerprint stored
 * next to the cursor is therefore "v1:L:H": H, the 128-bit hash of the file's first L bytes,
 * L = min(64 KiB, bytes read so far) -- for zstd files, of the compressed bytes, which are
 * what is on disk. A prefix, not the whole file and not its size: appending (the normal
 * tail case, also appending zstd frames) changes neither, so an appended-to file still
 * resumes where it was; and 64 KiB (hundreds of events, each with its own time_us and
 * DID) tells two different event files apart for the cost of one read at open and one at
 * resume. resume() uses a stored offset only if the fingerprint matches, the offset is not
 * past the end, and it falls on a line boundary: the byte before it is '\n' (or it is the
 * very end of the content). Anything else reads the file from the start and says why:
 * re-reading costs duplicates, which the writer removes; skipping would lose rows. What
 * the prefix cannot see is a rewrite that keeps the first 64 KiB and changes later bytes
 * while keeping a '\n' at the old offset.
 *
 * next() honours its timeout on pipes and terminals (poll before reading), so a consumer
 * fed by a slow producer on stdin still gets control back to flush its own work. A pipe is
 * never read unless poll said the read will not block: a signal that interrupts poll is
 * "nothing yet" (not a read that would then wait for a writer that stays open), the zstd
 * magic is sniffed from as many reads as it takes, and compressed bytes that decode to
 * nothing yet hand control back instead of reading again. So a consumer's stop flag is
 * seen within one timeout even on a pipe that stays open and quiet.
 *
 * Line rules: '\n' ends a line, one '\r' before it is stripped, empty lines are skipped,
 * and a last line without '\n' is still an event. Blank lines (spaces and tabs only) are
 * skipped whatever their length, with or without a final '\n'. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "source/source.h"
#include "util/hash.h"

#define FILE_BLOCK (1u << 20)                   /* read size and initial buffer size */
#define FILE_DEFAULT_MAX_LINE (2u * 1024 * 1024) /* bytes per line, like Jetstream's own limit */
#define FILE_BAD_CAP (64u * 1024)                /* bytes kept of an oversized line */
#define FILE_FP_PREFIX (64u * 1024)              /* bytes of the file the fingerprint covers */
#define FILE_FP_SEED 0x73736670u                 /* "ssfp": fingerprints are not dedup keys */

typedef struct {
    int fd;
    int is_stdin;
    int pollable; /* a pipe, socket or terminal: wait with poll() so next() honours its timeout */
    int need_sniff; /* pipes: look for the zstd magic on the first next(), not in open() */
    char path[PATH_MAX];
    size_t max_line;

    char *buf; /* decoded bytes; the unconsumed part is [start, end) */
    size_t cap, start, end, scan; /* scan: bytes from start already searched for '\n' */
    int64_t pos;                  /* stream offset of buf[start] */
    int eof;                      /* no more input after [start, end) */

    /* zstd */
    int zst;
    ZSTD_DCtx *dctx;
    char *zin;
    ZSTD_inBuffer in;
    int raw_eof;
    size_t zret; /* last ZSTD_decompressStream result: 0 at a frame end */

    char *bad; /* FILE_BAD_CAP bytes for a capped oversized line */
    int64_t fp_len; /* bytes the fingerprint covers; -1: none (stdin, pipes) */
    char last_byte; /* zstd seek: the last decompressed byte before the offset */
} file_src;

static ssize_t read_fd(int fd, void *p, size_t n) {
    for (;;) {
        ssize_t r = read(fd, p, n);
        if (r >= 0 || errno != EINTR) return r;
    }
}

/* Hashes the first n bytes of the file (pread: the read position does not move) into out,
 * using scratch (at least FILE_FP_PREFIX bytes). Returns 0, or -1 when fewer bytes exist. */
static int prefix_hash(int fd, size_t n, char *scratch, uint8_t out[16]) {
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, scratch + got, n - got, (off_t)got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1;
        got += (size_t)r;
    }
    ss_hash128(scratch, n, FILE_FP_SEED, out);
    return 0;
}

static int fingerprint_format(char *out, size_t outlen, int64_t len, const uint8_t hash[16]) {
    char hex[33];
    ss_hash128_hex(hash, hex);
    return snprintf(out, outlen, "v1:%lld:%s", (long long)len, hex);
}

/* Parses "v1:L:H" (H 32 hex digits). Returns 0, or -1 if it is not one. */
static int fingerprint_parse(const char *fp, int64_t *len, char hex[33]) {
    if (strncmp(fp, "v1:", 3) != 0) return -1;
    char *end;
    errno = 0;
    long long l = strtoll(fp + 3, &end, 10);
    if (errno || end == fp + 3 || *end != ':' || l < 0 || l > (long long)FILE_FP_PREFIX) return -1;
    const char *h = end + 1;
    if (strlen(h) != 32) return -1;
    for (int i = 0; i < 32; i++)
        if (!((h[i] >= '0' && h[i] <= '9') || (h[i] >= 'a' && h[i] <= 'f'))) return -1;
    memcpy(hex, h, 33);
    *len = l;
    return 0;
}

/* Re-takes s->fingerprint over min(FILE_FP_PREFIX, upto) bytes if that covers more than
 * now: at open (upto = the file's size), and while the first 64 KiB of a file that was
 * smaller at open are being read (upto = raw bytes read). */
static void refresh_fingerprint(ss_source *s, file_src *f, int64_t upto, char *scratch) {
    if (f->fp_len < 0 || f->fp_len >= (int64_t)FILE_FP_PREFIX || upto <= f->fp_len) return;
    int64_t n = upto < (int64_t)FILE_FP_PREFIX ? upto : (int64_t)FILE_FP_PREFIX;
    uint8_t h[16];
    if (prefix_hash(f->fd, (size_t)n, scratch, h) != 0) return; /* keep the old one */
    f->fp_len = n;
    fingerprint_format(s->fingerprint, sizeof s->fingerprint, n, h);
}

#define FILE_NOT_YET (-2) /* a pipe had no more bytes ready: nothing to hand out yet */

/* Produces up to n decompressed bytes into p. Returns bytes, 0 at the end, -1 on error,
 * FILE_NOT_YET when a pipe's compressed bytes so far produced no output and a further read
 * could block (the caller polls again, so a stop request is seen). */
static ssize_t zst_read(ss_source *s, file_src *f, char *p, size_t n) {
    ZSTD_outBuffer out = {p, n, 0};
    int reads = 0;
    while (out.pos == 0) {
        if (f->in.pos == f->in.size && !f->raw_eof) {
            if (f->pollable && reads++ > 0) return FILE_NOT_YET;
            ssize_t r = read_fd(f->fd, f->zin, ZSTD_DStreamInSize());
            if (r < 0) return ss_source_fail(s, "read (%s): %s", strerror(errno), f->path), -1;
            if (r == 0) f->raw_eof = 1;
            f->in.src = f->zin, f->in.size = (size_t)r, f->in.pos = 0;
        }
        if (f->in.pos == f->in.size && f->raw_eof) {
            if (f->zret != 0) return ss_source_fail(s, "%s: truncated zstd stream", f->path), -1;
            return 0;
        }
        size_t rc = ZSTD_decompressStream(f->dctx, &out, &f->in);
        if (ZSTD_isError(rc)) return ss_source_fail(s, "%s: zstd: %s", f->path, ZSTD_getErrorName(rc)), -1;
        f->zret = rc;
    }
    return (ssize_t)out.pos;
}

/* Reads more input after end, growing the buffer (up to what one line may need).
 * Returns 1 if bytes were added, 0 at the end of input, -1 on error, FILE_NOT_YET when a
 * pipe gave compressed bytes that did not decode to anything yet. */
static int fill(ss_source *s, file_src *f) {
    if (f->start > 0 && (f->end == f->cap || f->start >= f->cap / 2)) {
        memmove(f->buf, f->buf + f->start, f->end - f->start);
        f->end -= f->start;
        f->start = 0;
    }
    if (f->end == f->cap) {
        size_t ncap = f->cap * 2;
        char *nb = realloc(f->buf, ncap);
        if (!nb) return ss_source_fail(s, "out of memory"), -1;
        f->buf = nb, f->cap = ncap;
    }
    ssize_t r = f->zst ? zst_read(s, f, f->buf + f->end, f->cap - f->end)
                       : read_fd(f->fd, f->buf + f->end, f->cap - f->end);
    if (r == FILE_NOT_YET) return FILE_NOT_YET;
    if (r < 0) {
        if (!f->zst) ss_source_fail(s, "read (%s): %s", strerror(errno), f->path);
        return -1;
    }
    if (r == 0) {
        f->eof = 1;
        return 0;
    }
    f->end += (size_t)r;
    if (f->fp_len >= 0 && f->fp_len < (int64_t)FILE_FP_PREFIX) {
        /* a file smaller than 64 KiB at open that grew: cover what has been read since */
        off_t at = lseek(f->fd, 0, SEEK_CUR);
        char *scratch = at > f->fp_len ? malloc(FILE_FP_PREFIX) : NULL;
        if (scratch) refresh_fingerprint(s, f, (int64_t)at, scratch);
        free(scratch);
    }
    return 1;
}

/* For pipes and terminals: waits up to timeout_ms for input. Returns 1 when a read will
 * not block (data, end or error), 0 on timeout. Regular files never wait. */
static int input_ready(file_src *f, int timeout_ms) {
    if (!f->pollable || timeout_ms < 0) return 1;
    if (f->zst && (f->in.pos < f->in.size || f->raw_eof)) return 1;
    struct pollfd pfd = {.fd = f->fd, .events = POLLIN};
    int r = poll(&pfd, 1, timeout_ms);
    /* A signal (EINTR) is "not yet": the caller gets control back and sees its stop flag;
     * reading instead would block on a pipe that stays open but quiet. Other errors are
     * reported by the read that follows. */
    if (r < 0 && errno == EINTR) return 0;
    return r != 0;
}

/* Reads the first bytes into buf until there are 4 (the zstd magic's length) or the input
 * ends. A pipe reads only when poll says it will not block, so that a quiet pipe hands
 * control back (0: done, 1: not yet, -1: error). */
static int read_head(ss_source *s, file_src *f, int timeout_ms) {
    while (f->end < 4) {
        if (f->pollable && !input_ready(f, timeout_ms)) return 1;
        ssize_t r = read_fd(f->fd, f->buf + f->end, f->cap - f->end);
        if (r < 0) return ss_source_fail(s, "read (%s): %s", strerror(errno), f->path), -1;
        if (r == 0) break;
        f->end += (size_t)r;
    }
    return 0;
}

/* Starts reading from the current fd position; sniffs the zstd magic at offset 0 (the
 * first bytes must be in buf already when head_read is set). */
static int start_stream(ss_source *s, file_src *f, int sniff, int head_read) {
    if (!head_read) {
        f->start = f->end = f->scan = 0;
        f->eof = 0;
    }
    if (!sniff) return 0;
    if (!head_read && read_head(s, f, -1) < 0) return -1;
    static const unsigned char magic[4] = {0x28, 0xb5, 0x2f, 0xfd};
    if (f->end >= 4 && memcmp(f->buf, magic, 4) == 0) {
        f->zst = 1;
        if (!f->dctx && !(f->dctx = ZSTD_createDCtx())) return ss_source_fail(s, "out of memory"), -1;
        if (!f->zin && !(f->zin = malloc(ZSTD_DStreamInSize() > f->end ? ZSTD_DStreamInSize() : f->end)))
            return ss_source_fail(s, "out of memory"), -1;
        memcpy(f->zin, f->buf, f->end);
        f->in.src = f->zin, f->in.size = f->end, f->in.pos = 0;
        f->end = 0;
    }
    return 0;
}

static int file_open(ss_source *s, const char *args, const ss_source_opts *opts) {
    file_src *f = calloc(1, sizeof *f);
    if (!f) return ss_source_fail(s, "out of memory"), -1;
    s->impl = f;
    f->fd = -1;
    f->max_line = opts && opts->max_message_bytes ? opts->max_message_bytes : FILE_DEFAULT_MAX_LINE;
    if (!*args) return ss_source_failc(s, SS_ERR_USAGE, "a path is required: file:PATH, or file:- for stdin"), -1;
    if (strlen(args) >= sizeof f->path) return ss_source_fail(s, "path too long"), -1;
    snprintf(f->path, sizeof f->path, "%s", args);
    f->cap = FILE_BLOCK;
    f->buf = malloc(f->cap);
    f->bad = malloc(FILE_BAD_CAP);
    if (!f->buf || !f->bad) return ss_source_fail(s, "out of memory"), -1;
    if (!strcmp(args, "-")) {
        f->is_stdin = 1;
        f->fd = STDIN_FILENO;
        ss_source_set_file_id(s, "file", args, NULL);
        struct stat st;
        f->pollable = fstat(f->fd, &st) == 0 && !S_ISREG(st.st_mode);
    } else {
        f->fd = open(args, O_RDONLY | O_CLOEXEC);
        if (f->fd < 0) {
            int e = errno; /* the cause before the path: a long path cut off keeps it */
            return ss_source_failc(s, ss_err_class_of_errno(e), "cannot open (%s): %s", strerror(e), args), -1;
        }
        struct stat st;
        if (fstat(f->fd, &st) != 0) return ss_source_fail(s, "cannot stat (%s): %s", strerror(errno), args), -1;
        if (S_ISDIR(st.st_mode)) return ss_source_fail(s, "%s is a directory, not a JSONL file", args), -1;
        f->pollable = !S_ISREG(st.st_mode); /* a named pipe */
        ss_source_set_file_id(s, "file", args, &st);
#ifdef POSIX_FADV_SEQUENTIAL
        posix_fadvise(f->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
#endif
    }
    s->cursor_name = "offset";
    s->resume_margin = 0;
    f->fp_len = -1;
    if (!f->is_stdin && !f->pollable) {
        struct stat st;
        f->fp_len = 0; /* an empty file: the fingerprint of nothing, until it grows */
        uint8_t h[16];
        ss_hash128("", 0, FILE_FP_SEED, h);
        fingerprint_format(s->fingerprint, sizeof s->fingerprint, 0, h);
        if (fstat(f->fd, &st) == 0) refresh_fingerprint(s, f, (int64_t)st.st_size, f->buf);
    }
    if (f->pollable) {
        f->need_sniff = 1;
        return 0;
    }
    if (start_stream(s, f, 1, 0) != 0) return -1;
    struct stat st;
    if (!f->is_stdin && !f->zst && fstat(f->fd, &st) == 0 && S_ISREG(st.st_mode)) s->cursor_end = (int64_t)st.st_size;
    return 0;
}

/* Tracks whether an oversized line, seen in pieces, is blank: only spaces and tabs, and
 * one '\r' allowed as its last byte (stripped like on short lines). */
typedef struct {
    int blank;
    int cr; /* a '\r' was the last byte seen */
} blank_scan;

static void blank_feed(blank_scan *b, const char *p, size_t n) {
    for (size_t i = 0; i < n && b->blank; i++) {
        if (b->cr) b->blank = 0;
        else if (p[i] == '\r') b->cr = 1;
        else if (p[i] != ' ' && p[i] != '\t') b->blank = 0;
    }
}

/* Skips the rest of an oversized line (its first bytes are already in f->bad), feeding
 * the skipped bytes to b. */
static int skip_line(ss_source *s, file_src *f, blank_scan *b) {
    for (;;) {
        char *nl = memchr(f->buf + f->start, '\n', f->end - f->start);
        if (nl) {
            size_t n = (size_t)(nl - (f->buf + f->start)) + 1;
            blank_feed(b, f->buf + f->start, n - 1);
            f->pos += (int64_t)n;
            f->start += n;
            f->scan = 0;
            return 0;
        }
        blank_feed(b, f->buf + f->start, f->end - f->start);
        f->pos += (int64_t)(f->end - f->start);
        f->start = f->end = f->scan = 0;
        int r = fill(s, f);
        if (r == FILE_NOT_YET) continue; /* a pipe: wait in the next read, as before */
        if (r < 0) return -1;
        if (r == 0) return 0;
    }
}

static int emit(file_src *f, ss_source_msg *msg, const char *line, size_t n, size_t consumed) {
    f->pos += (int64_t)consumed;
    f->start += consumed;
    f->scan = 0;
    msg->cursor = f->pos;
    if (n > f->max_line) {
        size_t keep = n < FILE_BAD_CAP ? n : FILE_BAD_CAP;
        memcpy(f->bad, line, keep);
        msg->data = f->bad, msg->len = keep, msg->bad_reason = "too_large";
    } else {
        msg->data = line, msg->len = n;
    }
    return SS_SOURCE_MSG;
}

static int is_blank(const char *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (p[i] != ' ' && p[i] != '\t') return 0;
    return 1;
}

static int file_next(ss_source *s, ss_source_msg *msg, int timeout_ms) {
    file_src *f = s->impl;
    if (f->need_sniff) {
        int h = read_head(s, f, timeout_ms);
        if (h < 0) return SS_SOURCE_ERR;
        if (h > 0) return SS_SOURCE_AGAIN;
        if (start_stream(s, f, 1, 1) != 0) return SS_SOURCE_ERR;
        f->need_sniff = 0;
    }
    for (;;) {
        char *base = f->buf + f->start;
        size_t avail = f->end - f->start;
        char *nl = f->scan < avail ? memchr(base + f->scan, '\n', avail - f->scan) : NULL;
        if (nl) {
            size_t n = (size_t)(nl - base);
            size_t consumed = n + 1;
            if (n > 0 && base[n - 1] == '\r') n--;
            if (is_blank(base, n)) {
                f->pos += (int64_t)consumed;
                f->start += consumed;
                f->scan = 0;
                continue;
            }
            return emit(f, msg, base, n, consumed);
        }
        f->scan = avail;
        if (avail > f->max_line + 1) {
            /* Too long already: keep the head, skip to the next newline. A blank line is
             * skipped whatever its length and whether or not a '\n' ends it. */
            memcpy(f->bad, base, FILE_BAD_CAP < avail ? FILE_BAD_CAP : avail);
            size_t keep = FILE_BAD_CAP < avail ? FILE_BAD_CAP : avail;
            blank_scan b = {1, 0};
            if (skip_line(s, f, &b) < 0) return SS_SOURCE_ERR;
            if (b.blank) continue;
            msg->data = f->bad, msg->len = keep, msg->bad_reason = "too_large", msg->cursor = f->pos;
            return SS_SOURCE_MSG;
        }
        if (f->eof) {
            if (avail == 0) return SS_SOURCE_END;
            size_t n = avail;
            if (base[n - 1] == '\r') n--;
            if (is_blank(base, n)) {
                f->pos += (int64_t)avail;
                f->start = f->end;
                f->scan = 0;
                return SS_SOURCE_END;
            }
            return emit(f, msg, base, n, avail);
        }
        if (!input_ready(f, timeout_ms)) return SS_SOURCE_AGAIN;
        int r = fill(s, f);
        if (r == FILE_NOT_YET) return SS_SOURCE_AGAIN;
        if (r < 0) return SS_SOURCE_ERR;
    }
}

static int file_seek(ss_source *s, int64_t cursor) {
    file_src *f = s->impl;
    if (cursor == f->pos) return 0;
    if (f->is_stdin)
        return ss_source_fail(s, "stdin cannot seek (asked for offset %lld, at %lld); use file:PATH to resume",
                              (long long)cursor, (long long)f->pos),
               -1;
    if (cursor < 0) return ss_source_fail(s, "negative offset %lld", (long long)cursor), -1;
    if (!f->zst) {
        struct stat st;
        if (fstat(f->fd, &st) == 0 && cursor > st.st_size)
            return ss_source_fail(s, "offset %lld is past the end of %s (%lld bytes): was the file replaced?",
                                  (long long)cursor, f->path, (long long)st.st_size),
                   -1;
        if (lseek(f->fd, cursor, SEEK_SET) < 0)
            return ss_source_fail(s, "seek (%s): %s", strerror(errno), f->path), -1;
        start_stream(s, f, 0, 0);
        f->pos = cursor;
        return 0;
    }
    /* zstd: restart decompression and discard up to the offset. */
    if (lseek(f->fd, 0, SEEK_SET) < 0) return ss_source_fail(s, "seek (%s): %s", strerror(errno), f->path), -1;
    ZSTD_DCtx_reset(f->dctx, ZSTD_reset_session_only);
    f->in.size = f->in.pos = 0;
    f->raw_eof = 0;
    f->zret = 0;
    start_stream(s, f, 0, 0);
    f->pos = 0;
    while (f->pos < cursor) {
        int r = fill(s, f);
        if (r < 0) return -1;
        size_t avail = f->end - f->start;
        size_t take = (int64_t)avail < cursor - f->pos ? avail : (size_t)(cursor - f->pos);
        if (take) f->last_byte = f->buf[f->start + take - 1];
        f->start += take;
        f->pos += (int64_t)take;
        if (f->start == f->end) f->start = f->end = 0;
        if (r == 0 && f->pos < cursor)
            return ss_source_fail(s, "offset %lld is past the end of the decompressed %s (%lld bytes)",
                                  (long long)cursor, f->path, (long long)f->pos),
                   -1;
    }
    f->scan = 0;
    return 0;
}

/* Refuses a resume: back to the start, with the reason. Returns 1, or -1 if even that fails. */
static int refuse(ss_source *s, char *why, size_t whylen, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int refuse(ss_source *s, char *why, size_t whylen, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, whylen, fmt, ap);
    va_end(ap);
    return file_seek(s, 0) == 0 ? 1 : -1;
}

/* See "Content, not path" at the top. */
static int file_resume(ss_source *s, int64_t cursor, const char *fp, char *why, size_t whylen) {
    file_src *f = s->impl;
    if (cursor == 0 || f->is_stdin || f->fp_len < 0) return file_seek(s, cursor);
    if (cursor < 0) return refuse(s, why, whylen, "the stored offset %lld is negative", (long long)cursor);
    int64_t len;
    char want[33];
    if (!*fp)
        return refuse(s, why, whylen,
                      "the stored offset %lld has no content fingerprint (stored by an older skyspool), so it may "
                      "belong to other content",
                      (long long)cursor);
    if (fingerprint_parse(fp, &len, want) != 0)
        return refuse(s, why, whylen, "the fingerprint stored with offset %lld is unreadable ('%.40s')",
                      (long long)cursor, fp);
    struct stat st;
    if (fstat(f->fd, &st) != 0) return ss_source_fail(s, "cannot stat (%s): %s", strerror(errno), f->path), -1;
    const char *what = f->zst ? "compressed bytes" : "bytes";
    if ((int64_t)st.st_size < len)
        return refuse(s, why, whylen, "the file has %lld %s, fewer than the %lld its stored fingerprint covers: it "
                      "was replaced or truncated",
                      (long long)st.st_size, what, (long long)len);
    char *scratch = malloc(FILE_FP_PREFIX);
    if (!scratch) return ss_source_fail(s, "out of memory"), -1;
    uint8_t h[16];
    char got[33];
    int rd = prefix_hash(f->fd, (size_t)len, scratch, h);
    free(scratch);
    if (rd != 0) return ss_source_fail(s, "read %s: %s", f->path, errno ? strerror(errno) : "short read"), -1;
    ss_hash128_hex(h, got);
    if (strcmp(got, want) != 0)
        return refuse(s, why, whylen, "its first %lld %s differ from those the offset %lld was stored for: the file "
                      "was replaced or rewritten in place",
                      (long long)len, what, (long long)cursor);
    if (!f->zst) {
        if (cursor > (int64_t)st.st_size)
            return refuse(s, why, whylen, "the stored offset %lld is past the end of the file (%lld bytes): it was "
                          "truncated or rewritten",
                          (long long)cursor, (long long)st.st_size);
        char before;
        ssize_t r;
        do r = pread(f->fd, &before, 1, (off_t)(cursor - 1));
        while (r < 0 && errno == EINTR);
        if (r != 1) return ss_source_fail(s, "read %s: %s", f->path, r < 0 ? strerror(errno) : "short read"), -1;
        if (before != '\n' && cursor != (int64_t)st.st_size)
            return refuse(s, why, whylen, "the stored offset %lld is not at the start of a line (the byte before it "
                          "is not a newline): the file was rewritten",
                          (long long)cursor);
        return file_seek(s, cursor);
    }
    /* zstd: decompress up to the offset; it must exist and follow a '\n' (or end the stream).
     * Already there (a reconnect right after the last read): this is the stream being read. */
    if (f->pos == cursor) return 0;
    char err[sizeof s->errstr];
    if (file_seek(s, cursor) != 0) {
        snprintf(err, sizeof err, "%s", s->errstr);
        s->err = 0;
        s->errstr[0] = '\0';
        return refuse(s, why, whylen, "%s", err);
    }
    if (f->last_byte != '\n') {
        int r = f->start < f->end ? 1 : fill(s, f);
        if (r < 0) return -1;
        if (r > 0)
            return refuse(s, why, whylen, "the stored offset %lld is not at the start of a line of the decompressed "
                          "stream: the file was rewritten",
                          (long long)cursor);
    }
    return 0;
}

static void file_close(ss_source *s) {
    file_src *f = s->impl;
    if (!f) return;
    if (f->fd >= 0 && !f->is_stdin) close(f->fd);
    ZSTD_freeDCtx(f->dctx);
    free(f->zin);
    free(f->buf);
    free(f->bad);
    free(f);
    s->impl = NULL;
}

const ss_source_vtbl ss_source_file = {
    .scheme = "file",
    .usage = "file:PATH  JSONL file (zstd-compressed files are detected), '-' for stdin",
    .open = file_open,
    .next = file_next,
    .seek = file_seek,
    .close = file_close,
    .resume = file_resume,
};
