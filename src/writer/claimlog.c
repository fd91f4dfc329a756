/* Claim batches as delta-varint blobs; see claimlog.h for the layout and why. */
#include "writer/claimlog.h"

#include <string.h>

static size_t put_uvarint(uint8_t *p, uint64_t v) {
    size_t i = 0;
    for (; v >= 0x80; v >>= 7) p[i++] = (uint8_t)(v | 0x80);
    p[i++] = (uint8_t)v;
    return i;
}

static size_t put_svarint(uint8_t *p, int64_t v) {
    return put_uvarint(p, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

static int get_uvarint(const uint8_t **p, const uint8_t *end, uint64_t *out) {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (*p >= end) return -1;
        uint8_t b = *(*p)++;
        if (shift == 63 && b > 1) return -1; /* more than 64 bits */
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return 0;
        }
    }
    return -1;
}

static int get_svarint(const uint8_t **p, const uint8_t *end, int64_t *out) {
    uint64_t u;
    if (get_uvarint(p, end, &u) != 0) return -1;
    *out = (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
    return 0;
}

int ss_claimlog_append(ss_buf *out, ss_claimlog_enc *enc, const ss_claimrec *r) {
    uint8_t tmp[16 + 4 * 10];
    memcpy(tmp, r->key, 16);
    size_t k = 16;
    k += put_uvarint(tmp + k, (uint64_t)r->type);
    k += put_svarint(tmp + k, (int64_t)(r->ms - enc->ms));
    k += put_uvarint(tmp + k, r->seq);
    k += put_svarint(tmp + k, (int64_t)((uint64_t)r->t - (uint64_t)enc->t));
    if (ss_buf_append(out, tmp, k) != 0) return -1;
    enc->ms = r->ms;
    enc->t = r->t;
    return 0;
}

int ss_claimlog_decode(const void *blob, size_t len, int (*fn)(void *ctx, const ss_claimrec *r), void *ctx,
                       size_t *count) {
    const uint8_t *p = blob, *end = p + len;
    ss_claimrec r;
    uint64_t ms = 0;
    int64_t t = 0;
    *count = 0;
    while (p < end) {
        uint64_t type, seq;
        int64_t dms, dt;
        if ((size_t)(end - p) < 16) return -1;
        memcpy(r.key, p, 16);
        p += 16;
        if (get_uvarint(&p, end, &type) != 0 || type > 255 || get_svarint(&p, end, &dms) != 0 ||
            get_uvarint(&p, end, &seq) != 0 || get_svarint(&p, end, &dt) != 0)
            return -1;
        ms += (uint64_t)dms; /* wraps like the encoder's subtraction */
        t = (int64_t)((uint64_t)t + (uint64_t)dt);
        r.type = (int)type;
        r.ms = ms;
        r.seq = seq;
        r.t = t;
        (*count)++;
        int rc = fn(ctx, &r);
        if (rc != 0) return rc;
    }
    return 0;
}
