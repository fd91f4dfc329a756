/* See utf8.h. The validator skips ASCII eight bytes at a time, since almost all of the
 * text we see (identifiers, JSON syntax, English posts) is ASCII; only non-ASCII bytes go
 * through the exact sequence check. */
#include "util/utf8.h"

#include <string.h>

#define HIGH_BITS 0x8080808080808080ULL

int ss_utf8_valid(const char *s, size_t n, size_t *bad_off) {
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        if (n - i >= 8) {
            uint64_t w;
            memcpy(&w, p + i, 8);
            if ((w & HIGH_BITS) == 0) {
                i += 8;
                continue;
            }
        }
        if (p[i] < 0x80) {
            i++;
            continue;
        }
        size_t k = ss_utf8_seq_len(p + i, n - i);
        if (k == 0) {
            if (bad_off) *bad_off = i;
            return 0;
        }
        i += k;
    }
    return 1;
}

/* Length of the maximal subpart of an ill-formed sequence at p: the lead byte plus
 * the continuation bytes that could still have started a valid sequence. */
static size_t invalid_subpart_len(const unsigned char *p, size_t avail) {
    unsigned c = p[0];
    size_t want;
    unsigned lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c < 0xE0) want = 2;
    else if (c >= 0xE0 && c < 0xF0) {
        want = 3;
        if (c == 0xE0) lo = 0xA0;
        else if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c < 0xF5) {
        want = 4;
        if (c == 0xF0) lo = 0x90;
        else if (c == 0xF4) hi = 0x8F;
    } else
        return 1;
    size_t k = 1;
    if (k < avail && k < want && p[k] >= lo && p[k] <= hi) {
        k++;
        while (k < avail && k < want && (p[k] & 0xC0) == 0x80) k++;
    }
    return k;
}

size_t ss_utf8_copy_replace(char *dst, const char *src, size_t n, size_t *replaced) {
    const unsigned char *p = (const unsigned char *)src;
    size_t i = 0, o = 0, r = 0;
    while (i < n) {
        if (p[i] < 0x80) {
            dst[o++] = (char)p[i++];
            continue;
        }
        size_t k = ss_utf8_seq_len(p + i, n - i);
        if (k) {
            memcpy(dst + o, p + i, k);
            o += k;
            i += k;
        } else {
            i += invalid_subpart_len(p + i, n - i);
            memcpy(dst + o, "\xEF\xBF\xBD", 3);
            o += 3;
            r++;
        }
    }
    if (replaced) *replaced = r;
    return o;
}

int ss_utf8_append_replace(ss_buf *b, const char *src, size_t n, size_t *replaced) {
    size_t bad;
    if (ss_utf8_valid(src, n, &bad)) {
        if (replaced) *replaced = 0;
        return ss_buf_append(b, src, n);
    }
    if (n > (SIZE_MAX - 1) / 3 || ss_buf_reserve(b, 3 * n) < 0) return -1;
    memcpy(b->data + b->len, src, bad);
    b->len += bad;
    b->len += ss_utf8_copy_replace(b->data + b->len, src + bad, n - bad, replaced);
    b->data[b->len] = '\0';
    return 0;
}

size_t ss_utf8_encode(uint32_t cp, char *out) {
    unsigned char *o = (unsigned char *)out;
    if (cp < 0x80) {
        o[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (unsigned char)(0xC0 | (cp >> 6));
        o[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xE0 | (cp >> 12));
        o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (unsigned char)(0xF0 | (cp >> 18));
    o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}
