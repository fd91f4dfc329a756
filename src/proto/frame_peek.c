/* See frame_peek.h. CBOR items are read by their head (major type + argument);
 * containers are skipped by counting items, with an explicit depth bound. Indefinite
 * lengths are not DAG-CBOR and are rejected. */
#include "proto/frame_peek.h"

#include <errno.h>

#include "util/buf.h"

#include <string.h>
#include <time.h>

typedef struct {
    const uint8_t *p, *end;
} cur;

/* Reads a head; returns the major type or -1. */
static int head(cur *c, uint64_t *arg) {
    if (c->p >= c->end) return -1;
    uint8_t b = *c->p++;
    int major = b >> 5, ai = b & 31;
    if (ai < 24) {
        *arg = (uint64_t)ai;
    } else if (ai <= 27) {
        size_t len = (size_t)1 << (ai - 24);
        if ((size_t)(c->end - c->p) < len) return -1;
        uint64_t v = 0;
        for (size_t i = 0; i < len; i++) v = v << 8 | c->p[i];
        c->p += len;
        *arg = v;
    } else {
        return -1; /* reserved or indefinite */
    }
    return major;
}

static int skip(cur *c, int depth) {
    if (depth > SS_FRAME_PEEK_MAX_DEPTH) return -1;
    uint64_t arg;
    int major = head(c, &arg);
    switch (major) {
    case 0: case 1: case 7:
        return 0;
    case 2: case 3:
        if (arg > (uint64_t)(c->end - c->p)) return -1;
        c->p += arg;
        return 0;
    case 4:
    case 5: {
        uint64_t items = major == 5 ? arg * 2 : arg;
        if (arg > (uint64_t)(c->end - c->p)) return -1; /* each item takes at least a byte */
        for (uint64_t i = 0; i < items; i++)
            if (skip(c, depth + 1) < 0) return -1;
        return 0;
    }
    case 6:
        return skip(c, depth + 1);
    default:
        return -1;
    }
}

/* Reads a text string; returns its bytes via s/n. */
static int text(cur *c, const char **s, size_t *n) {
    uint64_t arg;
    if (head(c, &arg) != 3 || arg > (uint64_t)(c->end - c->p)) return -1;
    *s = (const char *)c->p;
    *n = (size_t)arg;
    c->p += arg;
    return 0;
}

/* Reads an integer (major 0 or 1). */
static int integer(cur *c, int64_t *v) {
    uint64_t arg;
    int major = head(c, &arg);
    if ((major != 0 && major != 1) || arg > (uint64_t)INT64_MAX) return -1;
    *v = major == 0 ? (int64_t)arg : -1 - (int64_t)arg;
    return 0;
}

static int is_key(const char *k, size_t kn, const char *name) { return kn == strlen(name) && !memcmp(k, name, kn); }

static int is_digit(char c) { return c >= '0' && c <= '9'; }

static int month_days(int y, int m) {
    static const int dm[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0) ? 29 : dm[m - 1];
}

int64_t ss_rfc3339_to_us(const char *s, size_t n) {
    int64_t us;
    return ss_rfc3339_parse(s, n, &us) == 0 ? us : -1;
}

int ss_rfc3339_parse(const char *s, size_t n, int64_t *out) {
    /* YYYY-MM-DDTHH:MM:SS[.frac](Z|+hh:mm|-hh:mm) */
    if (n < 20) return -1;
    int f[6];
    const int pos[6] = {0, 5, 8, 11, 14, 17}, len[6] = {4, 2, 2, 2, 2, 2};
    for (int i = 0; i < 6; i++) {
        int v = 0;
        for (int j = 0; j < len[i]; j++) {
            char ch = s[pos[i] + j];
            if (ch < '0' || ch > '9') return -1;
            v = v * 10 + (ch - '0');
        }
        f[i] = v;
    }
    if (s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || s[13] != ':' || s[16] != ':')
        return -1;
    if (f[1] < 1 || f[1] > 12 || f[2] < 1 || f[2] > month_days(f[0], f[1]) || f[3] > 23 || f[4] > 59 || f[5] > 60) return -1;
    size_t i = 19;
    int64_t frac = 0;
    if (i < n && s[i] == '.') {
        int digits = 0;
        for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++, digits++)
            if (digits < 6) frac = frac * 10 + (s[i] - '0');
        if (digits == 0) return -1;
        for (; digits < 6; digits++) frac *= 10;
    }
    int64_t offset_s = 0;
    if (i < n && (s[i] == 'Z' || s[i] == 'z')) {
        i++;
    } else if (i + 6 == n && (s[i] == '+' || s[i] == '-') && s[i + 3] == ':' && is_digit(s[i + 1]) &&
               is_digit(s[i + 2]) && is_digit(s[i + 4]) && is_digit(s[i + 5])) {
        int hh = (s[i + 1] - '0') * 10 + (s[i + 2] - '0'), mm = (s[i + 4] - '0') * 10 + (s[i + 5] - '0');
        if (hh < 0 || hh > 23 || mm < 0 || mm > 59) return -1;
        offset_s = (int64_t)(hh * 3600 + mm * 60) * (s[i] == '+' ? 1 : -1);
        i += 6;
    } else {
        return -1;
    }
    if (i != n) return -1;
    struct tm tm = {0};
    tm.tm_year = f[0] - 1900;
    tm.tm_mon = f[1] - 1;
    tm.tm_mday = f[2];
    tm.tm_hour = f[3];
    tm.tm_min = f[4];
    tm.tm_sec = f[5];
    errno = 0;
    time_t t = timegm(&tm);
    if (t == (time_t)-1 && errno) return -1; /* -1 is also 1969-12-31T23:59:59 */
    *out = ((int64_t)t - offset_s) * 1000000 + frac;
    return 0;
}

int ss_frame_peek(const uint8_t *p, size_t n, ss_frame_peek_result *out) {
    memset(out, 0, sizeof *out);
    out->seq = -1;
    out->time_us = -1;
    cur c = {p, p + n};
    uint64_t pairs;
    if (head(&c, &pairs) != 5 || pairs > n) return -1;
    for (uint64_t i = 0; i < pairs; i++) {
        const char *k;
        size_t kn;
        if (text(&c, &k, &kn) < 0) return -1;
        if (is_key(k, kn, "op")) {
            if (integer(&c, &out->op) < 0) return -1;
        } else if (is_key(k, kn, "t")) {
            const char *v;
            size_t vn;
            if (text(&c, &v, &vn) < 0) return -1;
            if (vn < sizeof out->t) memcpy(out->t, v, vn), out->t[vn] = '\0';
        } else if (skip(&c, 1) < 0) {
            return -1;
        }
    }
    if (head(&c, &pairs) != 5 || pairs > n) return -1;
    for (uint64_t i = 0; i < pairs; i++) {
        const char *k;
        size_t kn;
        if (text(&c, &k, &kn) < 0) return -1;
        if (is_key(k, kn, "seq")) {
            if (integer(&c, &out->seq) < 0) return -1;
        } else if (is_key(k, kn, "time")) {
            const char *v;
            size_t vn;
            if (text(&c, &v, &vn) < 0) return -1;
            int64_t us;
            if (ss_rfc3339_parse(v, vn, &us) == 0) out->time_us = us, out->has_time = 1;
        } else if (skip(&c, 1) < 0) {
            return -1;
        }
    }
    return 0;
}

int ss_frame_set_seq(const uint8_t *p, size_t n, int64_t seq, ss_buf *out) {
    cur c = {p, p + n};
    if (seq < 0 || skip(&c, 0) < 0) return -1; /* the header */
    uint64_t pairs;
    if (head(&c, &pairs) != 5) return -1;
    for (uint64_t i = 0; i < pairs; i++) {
        const char *k;
        size_t kn;
        if (text(&c, &k, &kn) < 0) return -1;
        const uint8_t *at = c.p;
        if (skip(&c, 1) < 0) return -1;
        if (!is_key(k, kn, "seq")) continue;
        uint8_t h[9];
        size_t hl;
        uint64_t v = (uint64_t)seq;
        if (v < 24) h[0] = (uint8_t)v, hl = 1;
        else if (v <= 0xff) h[0] = 24, h[1] = (uint8_t)v, hl = 2;
        else if (v <= 0xffff) h[0] = 25, h[1] = (uint8_t)(v >> 8), h[2] = (uint8_t)v, hl = 3;
        else if (v <= 0xffffffffu) {
            h[0] = 26, hl = 5;
            for (int b = 0; b < 4; b++) h[1 + b] = (uint8_t)(v >> (24 - 8 * b));
        } else {
            h[0] = 27, hl = 9;
            for (int b = 0; b < 8; b++) h[1 + b] = (uint8_t)(v >> (56 - 8 * b));
        }
        ss_buf_reset(out);
        if (ss_buf_append(out, p, (size_t)(at - p)) < 0 || ss_buf_append(out, h, hl) < 0 ||
            ss_buf_append(out, c.p, (size_t)(p + n - c.p)) < 0)
            return -1;
        return 0;
    }
    return -1;
}
