/* Entry ids and their delta-varint blob; see ids.h for the format and why it exists. */
#include "writer/ids.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int parse_u64(const char *s, size_t n, uint64_t *out) {
    if (n == 0 || n > 20) return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        uint64_t d = (uint64_t)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10) return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

int ss_writer_id_parse(const char *s, size_t n, ss_writer_id *out) {
    const char *dash = memchr(s, '-', n);
    if (!dash) return -1;
    size_t a = (size_t)(dash - s);
    if (parse_u64(s, a, &out->ms) != 0) return -1;
    return parse_u64(dash + 1, n - a - 1, &out->seq);
}

void ss_writer_id_format(ss_writer_id id, char out[SS_WRITER_ID_STRLEN]) {
    snprintf(out, SS_WRITER_ID_STRLEN, "%llu-%llu", (unsigned long long)id.ms, (unsigned long long)id.seq);
}

static int cmp_ids(const void *a, const void *b) {
    return ss_writer_id_cmp(*(const ss_writer_id *)a, *(const ss_writer_id *)b);
}

size_t ss_writer_id_sort_unique(ss_writer_id *ids, size_t n) {
    if (n < 2) return n;
    qsort(ids, n, sizeof *ids, cmp_ids);
    size_t w = 1;
    for (size_t i = 1; i < n; i++)
        if (ss_writer_id_cmp(ids[i], ids[w - 1]) != 0) ids[w++] = ids[i];
    return w;
}

int ss_writer_id_find(const ss_writer_id *ids, size_t n, ss_writer_id id) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = ss_writer_id_cmp(ids[mid], id);
        if (c == 0) return 1;
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return 0;
}

static size_t put_varint(uint8_t *p, uint64_t v) {
    size_t i = 0;
    while (v >= 0x80) {
        p[i++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[i++] = (uint8_t)v;
    return i;
}

static int get_varint(const uint8_t **p, const uint8_t *end, uint64_t *out) {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (*p >= end) return -1;
        uint8_t b = *(*p)++;
        if (shift == 63 && (b & 0x7e)) return -1; /* would overflow 64 bits */
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return 0;
        }
    }
    return -1;
}

int ss_writer_idblob_encode(const ss_writer_id *ids, size_t n, ss_buf *out) {
    uint8_t tmp[32];
    if (ss_buf_reserve(out, 10 + n * 3) != 0) return -1;
    if (ss_buf_append(out, tmp, put_varint(tmp, n)) != 0) return -1;
    ss_writer_id prev = {0, 0};
    for (size_t i = 0; i < n; i++) {
        ss_writer_id id = ids[i];
        if (i > 0 && ss_writer_id_cmp(id, prev) <= 0) return -1;
        size_t k;
        if (i == 0 || id.ms != prev.ms) {
            k = put_varint(tmp, id.ms - prev.ms);
            k += put_varint(tmp + k, id.seq);
        } else {
            k = put_varint(tmp, 0);
            k += put_varint(tmp + k, id.seq - prev.seq - 1);
        }
        if (ss_buf_append(out, tmp, k) != 0) return -1;
        prev = id;
    }
    return 0;
}

int ss_writer_idblob_decode(const void *blob, size_t len, ss_writer_id **ids, size_t *n, size_t *cap, size_t max) {
    const uint8_t *p = blob, *end = p + len;
    uint64_t count;
    if (get_varint(&p, end, &count) != 0 || count > max || count > len) return -1;
    if (*n + count > *cap) {
        size_t nc = *n + (size_t)count;
        ss_writer_id *a = realloc(*ids, (nc ? nc : 1) * sizeof **ids);
        if (!a) return -1;
        *ids = a;
        *cap = nc;
    }
    ss_writer_id prev = {0, 0};
    for (uint64_t i = 0; i < count; i++) {
        uint64_t dms, s;
        if (get_varint(&p, end, &dms) != 0 || get_varint(&p, end, &s) != 0) return -1;
        ss_writer_id id;
        if (i == 0 || dms != 0) {
            if (dms > UINT64_MAX - prev.ms) return -1;
            id.ms = prev.ms + dms;
            id.seq = s;
        } else {
            if (s >= UINT64_MAX - prev.seq) return -1;
            id.ms = prev.ms;
            id.seq = prev.seq + s + 1;
        }
        (*ids)[(*n)++] = id;
        prev = id;
    }
    return p == end ? 0 : -1;
}
