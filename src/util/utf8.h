/* UTF-8 validation and repair.
 *
 * The archive stores strings in Parquet STRING columns, and one invalid byte makes
 * DuckDB reject a whole file, so every string that leaves skyspool must be valid UTF-8.
 * Validation follows RFC 3629 exactly: no overlong forms, no UTF-16 surrogates
 * (U+D800..U+DFFF) encoded as UTF-8, nothing above U+10FFFF.
 *
 * ss_utf8_seq_len() is inline because the JSON scanner calls it for every non-ASCII
 * byte; the rest is in utf8.c. */
#ifndef SS_UTF8_H
#define SS_UTF8_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

/* Length (1..4) of the valid UTF-8 sequence starting at p, which has avail >= 1 bytes;
 * 0 when the bytes there are not a valid sequence (or it is cut off by avail). */
static inline size_t ss_utf8_seq_len(const unsigned char *p, size_t avail) {
    unsigned c = p[0];
    if (c < 0x80) return 1;
    if (c < 0xC2) return 0; /* continuation byte, or overlong 2-byte lead */
    if (c < 0xE0) return (avail >= 2 && (p[1] & 0xC0) == 0x80) ? 2 : 0;
    if (c < 0xF0) {
        if (avail < 3) return 0;
        unsigned lo = 0x80, hi = 0xBF;
        if (c == 0xE0) lo = 0xA0;      /* overlong */
        else if (c == 0xED) hi = 0x9F; /* surrogates */
        if (p[1] < lo || p[1] > hi || (p[2] & 0xC0) != 0x80) return 0;
        return 3;
    }
    if (c < 0xF5) {
        if (avail < 4) return 0;
        unsigned lo = 0x80, hi = 0xBF;
        if (c == 0xF0) lo = 0x90;      /* overlong */
        else if (c == 0xF4) hi = 0x8F; /* > U+10FFFF */
        if (p[1] < lo || p[1] > hi || (p[2] & 0xC0) != 0x80 || (p[3] & 0xC0) != 0x80) return 0;
        return 4;
    }
    return 0;
}

/* 1 when the n bytes at p are valid UTF-8. When not, and bad_off is not NULL, the
 * offset of the first invalid byte is stored there. */
int ss_utf8_valid(const char *p, size_t n, size_t *bad_off);

/* Copies n bytes from src to dst, replacing every maximal invalid subpart with U+FFFD
 * (EF BF BD), as the Unicode standard recommends. dst must hold 3 * n bytes (a lone
 * invalid byte grows to three). Returns the bytes written; *replaced (if not NULL) gets
 * the number of replacements. src and dst must not overlap. */
size_t ss_utf8_copy_replace(char *dst, const char *src, size_t n, size_t *replaced);

/* The same, appending to a buffer. Returns 0, or -1 when memory runs out. */
int ss_utf8_append_replace(ss_buf *b, const char *src, size_t n, size_t *replaced);

/* Encodes code point cp (<= 0x10FFFF, not a surrogate) at out; returns 1..4. */
size_t ss_utf8_encode(uint32_t cp, char *out);

#endif
