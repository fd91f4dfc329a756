/* The Parquet footer reader (footer.h): a bounded Thrift compact protocol decoder.
 *
 * The compact protocol (as written by thrift.c): a field header is one byte, the field id
 * delta in the high nibble (0: the zigzag-varint id follows) and the type in the low one;
 * integers are zigzag varints, binaries a varint length and bytes, lists a header byte with
 * the size in the high nibble (15: a varint size follows) and the element type. Every
 * element of every container consumes at least one byte, so decoding work is bounded by
 * the footer's length; nesting is bounded by SS_PQ_FOOTER_MAX_DEPTH. The decoder keeps a
 * sticky error flag: after the first bad byte every read returns 0 and nothing advances
 * past the end. */
#include "footer.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { T_TRUE = 1, T_FALSE = 2, T_BYTE = 3, T_I16 = 4, T_I32 = 5, T_I64 = 6, T_DOUBLE = 7, T_BINARY = 8,
       T_LIST = 9, T_SET = 10, T_MAP = 11, T_STRUCT = 12 };

typedef struct {
    const uint8_t *p, *end;
    int bad;
    int depth;
    const char *why;
} rd;

static void bad(rd *r, const char *why) {
    if (!r->bad) r->why = why;
    r->bad = 1;
    r->p = r->end;
}

static uint8_t rbyte(rd *r) {
    if (r->p >= r->end) return bad(r, "footer ends inside a value"), 0;
    return *r->p++;
}

static uint64_t varint(rd *r) {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        uint8_t b = rbyte(r);
        if (r->bad) return 0;
        if (shift == 63 && (b & 0x7e)) return bad(r, "varint overflows 64 bits"), 0;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) return v;
    }
    return bad(r, "varint longer than 10 bytes"), 0;
}

static int64_t zigzag(rd *r) {
    uint64_t v = varint(r);
    return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

static void skip(rd *r, int type);

static int enter(rd *r) {
    if (++r->depth > SS_PQ_FOOTER_MAX_DEPTH) return bad(r, "footer nested too deeply"), -1;
    return 0;
}

/* Reads a field header; returns the type (0 = stop) and sets *id. */
static int field(rd *r, int16_t *last, int16_t *id) {
    uint8_t h = rbyte(r);
    if (r->bad || h == 0) return 0;
    int type = h & 0x0f, delta = h >> 4;
    if (delta) {
        *id = (int16_t)(*last + delta);
    } else {
        int64_t v = zigzag(r);
        if (v < INT16_MIN || v > INT16_MAX) return bad(r, "field id out of range"), 0;
        *id = (int16_t)v;
    }
    *last = *id;
    if (type == 0 || type > T_STRUCT) return bad(r, "unknown field type"), 0;
    return type;
}

static void skip_struct(rd *r) {
    if (enter(r) != 0) return;
    int16_t last = 0, id;
    int type;
    while ((type = field(r, &last, &id)) != 0) skip(r, type);
    r->depth--;
}

static uint64_t list_header(rd *r, int *elem) {
    uint8_t h = rbyte(r);
    *elem = h & 0x0f;
    uint64_t n = h >> 4;
    if (n == 15) n = varint(r);
    if (!r->bad && n > (uint64_t)(r->end - r->p)) return bad(r, "list longer than the footer"), 0;
    if (!r->bad && n && (*elem == 0 || *elem > T_STRUCT)) return bad(r, "unknown list element type"), 0;
    return n;
}

static void skip(rd *r, int type) {
    if (r->bad) return;
    switch (type) {
    case T_TRUE:
    case T_FALSE: break; /* a field's bool is in its header */
    case T_BYTE: rbyte(r); break;
    case T_I16:
    case T_I32:
    case T_I64: varint(r); break;
    case T_DOUBLE:
        if (r->end - r->p < 8) bad(r, "footer ends inside a double");
        else r->p += 8;
        break;
    case T_BINARY: {
        uint64_t n = varint(r);
        if (!r->bad && n > (uint64_t)(r->end - r->p)) bad(r, "binary longer than the footer");
        else if (!r->bad) r->p += n;
        break;
    }
    case T_LIST:
    case T_SET: {
        if (enter(r) != 0) return;
        int e;
        uint64_t n = list_header(r, &e);
        for (uint64_t i = 0; i < n && !r->bad; i++) {
            if (e == T_TRUE || e == T_FALSE) rbyte(r); /* a list's bools take a byte each */
            else skip(r, e);
        }
        r->depth--;
        break;
    }
    case T_MAP: {
        if (enter(r) != 0) return;
        uint64_t n = varint(r);
        if (!r->bad && n) {
            if (n > (uint64_t)(r->end - r->p)) {
                bad(r, "map longer than the footer");
            } else {
                uint8_t kv = rbyte(r);
                int kt = kv >> 4, vt = kv & 0x0f;
                if (kt == 0 || kt > T_STRUCT || vt == 0 || vt > T_STRUCT) bad(r, "unknown map element type");
                for (uint64_t i = 0; i < n && !r->bad; i++) {
                    if (kt == T_TRUE || kt == T_FALSE) rbyte(r);
                    else skip(r, kt);
                    if (vt == T_TRUE || vt == T_FALSE) rbyte(r);
                    else skip(r, vt);
                }
            }
        }
        r->depth--;
        break;
    }
    case T_STRUCT: skip_struct(r); break;
    default: bad(r, "unknown type");
    }
}

/* RowGroup: 3 num_rows (i64); the rest is skipped. */
static int64_t row_group(rd *r, int *have) {
    *have = 0;
    if (enter(r) != 0) return 0;
    int16_t last = 0, id;
    int type;
    int64_t rows = 0;
    while ((type = field(r, &last, &id)) != 0) {
        if (id == 3 && type == T_I64) {
            rows = zigzag(r);
            *have = 1;
        } else {
            skip(r, type);
        }
    }
    r->depth--;
    return rows;
}

static void seterr(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t errlen, const char *fmt, ...) {
    if (!err || !errlen) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

int ss_pq_footer_parse(const uint8_t *p, size_t n, ss_pq_footer *f, char *err, size_t errlen) {
    memset(f, 0, sizeof *f);
    f->footer_bytes = n;
    rd r = {p, p + n, 0, 0, NULL};
    int16_t last = 0, id;
    int type, have_rows = 0, have_rgs = 0, have_schema = 0;
    while ((type = field(&r, &last, &id)) != 0) {
        if (id == 1 && type == T_I32) {
            int64_t v = zigzag(&r);
            if (v < INT32_MIN || v > INT32_MAX) bad(&r, "version out of range");
            f->version = (int32_t)v;
        } else if (id == 3 && type == T_I64) {
            f->num_rows = zigzag(&r);
            have_rows = 1;
        } else if ((id == 2 || id == 4) && type == T_LIST) {
            if (enter(&r) != 0) break;
            int e;
            uint64_t cnt = list_header(&r, &e);
            if (!r.bad && cnt && e != T_STRUCT) bad(&r, id == 2 ? "schema is not a list of structs" : "row_groups is not a list of structs");
            if (!r.bad && id == 4 && cnt > SS_PQ_FOOTER_MAX_ROW_GROUPS) bad(&r, "too many row groups");
            for (uint64_t i = 0; i < cnt && !r.bad; i++) {
                if (id == 2) {
                    skip_struct(&r);
                    continue;
                }
                int have = 0;
                int64_t rows = row_group(&r, &have);
                if (r.bad) break;
                if (!have || rows < 0) bad(&r, "a row group without a valid num_rows");
                else if (f->rg_rows > INT64_MAX - rows) bad(&r, "row group rows overflow");
                else f->rg_rows += rows;
            }
            r.depth--;
            if (id == 2) f->schema_elems = cnt, have_schema = 1;
            else f->row_groups = cnt, have_rgs = 1;
        } else {
            skip(&r, type);
        }
    }
    if (!r.bad && r.p != r.end) bad(&r, "bytes after the end of the footer struct");
    if (r.bad) {
        seterr(err, errlen, "corrupt footer: %s", r.why ? r.why : "malformed");
        return -1;
    }
    if (!have_rows || !have_rgs || !have_schema) {
        seterr(err, errlen, "corrupt footer: %s missing", !have_rows ? "num_rows" : !have_rgs ? "row_groups" : "schema");
        return -1;
    }
    if (f->num_rows < 0 || f->num_rows != f->rg_rows) {
        seterr(err, errlen, "corrupt footer: num_rows %lld but its row groups hold %lld", (long long)f->num_rows,
               (long long)f->rg_rows);
        return -1;
    }
    return 0;
}

static int pread_full(int fd, void *buf, size_t n, off_t off) {
    uint8_t *p = buf;
    while (n) {
        ssize_t r = pread(fd, p, n, off);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            if (r == 0) errno = EIO; /* shrank under us */
            return -1;
        }
        p += r;
        n -= (size_t)r;
        off += r;
    }
    return 0;
}

int ss_pq_footer_read_fd(int fd, ss_pq_footer *f, char *err, size_t errlen) {
    memset(f, 0, sizeof *f);
    struct stat st;
    if (fstat(fd, &st) != 0) {
        seterr(err, errlen, "cannot stat: %s", strerror(errno));
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        seterr(err, errlen, "not a regular file");
        return -1;
    }
    uint64_t size = (uint64_t)st.st_size;
    if (size < 12) {
        seterr(err, errlen, "%llu bytes: too short for a Parquet file", (unsigned long long)size);
        return -1;
    }
    uint8_t head[4], tail[8];
    if (pread_full(fd, head, 4, 0) != 0 || pread_full(fd, tail, 8, (off_t)(size - 8)) != 0) {
        seterr(err, errlen, "cannot read: %s", strerror(errno));
        return -1;
    }
    if (memcmp(head, "PAR1", 4) != 0 || memcmp(tail + 4, "PAR1", 4) != 0) {
        seterr(err, errlen, "no PAR1 magic at the %s: not a (complete) Parquet file",
               memcmp(tail + 4, "PAR1", 4) != 0 ? "end" : "start");
        return -1;
    }
    uint32_t flen = (uint32_t)tail[0] | (uint32_t)tail[1] << 8 | (uint32_t)tail[2] << 16 | (uint32_t)tail[3] << 24;
    if (flen == 0 || flen > size - 12 || flen > SS_PQ_FOOTER_MAX_BYTES) {
        seterr(err, errlen, "footer length %u does not fit a %llu-byte file (limit %u)", flen,
               (unsigned long long)size, SS_PQ_FOOTER_MAX_BYTES);
        return -1;
    }
    uint8_t *buf = malloc(flen);
    if (!buf) {
        seterr(err, errlen, "out of memory for a %u-byte footer", flen);
        return -1;
    }
    if (pread_full(fd, buf, flen, (off_t)(size - 8 - flen)) != 0) {
        seterr(err, errlen, "cannot read the footer: %s", strerror(errno));
        free(buf);
        return -1;
    }
    int rc = ss_pq_footer_parse(buf, flen, f, err, errlen);
    free(buf);
    f->file_bytes = size;
    return rc;
}

int ss_pq_footer_read(const char *path, ss_pq_footer *f, char *err, size_t errlen) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        memset(f, 0, sizeof *f);
        seterr(err, errlen, "cannot open: %s", strerror(errno));
        return -1;
    }
    int rc = ss_pq_footer_read_fd(fd, f, err, errlen);
    close(fd);
    return rc;
}
