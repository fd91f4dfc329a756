/* UTF-8 validation and repair for STRING columns, plus UTF-8-aware truncation of string
 * statistics.
 *
 * DuckDB rejects a whole file over one invalid string and arrow-rs errors, so nothing
 * invalid may reach a page. Validation follows RFC 3629 (no overlong forms, no
 * surrogates, nothing above U+10FFFF) with an 8-bytes-at-a-time ASCII fast path, since
 * almost all Bluesky strings are mostly ASCII. Repair replaces each maximal ill-formed
 * subsequence with one U+FFFD (the Unicode "substitution of maximal subparts" practice,
 * also what browsers do), so a truncated 4-byte sequence costs one replacement, not four.
 * The module keeps its own copy rather than sharing skyspool's util code so that it
 * stays self-contained. */
#include "pq_internal.h"

/* Length of the valid sequence at s (n bytes left), or 0 when it is ill-formed; *sub
 * gets the length of the maximal ill-formed subpart (>= 1) in that case. */
static size_t seq_len(const uint8_t *s, size_t n, size_t *sub) {
    uint8_t c = s[0];
    size_t need;
    uint8_t lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) need = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        need = 3;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 4;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
    } else {
        *sub = 1;
        return 0;
    }
    size_t k = 1;
    for (; k < need; k++) {
        if (k >= n) break;
        uint8_t x = s[k];
        if (k == 1 ? (x < lo || x > hi) : (x < 0x80 || x > 0xBF)) break;
    }
    if (k == need) return need;
    *sub = k;
    return 0;
}

static size_t ascii_prefix(const uint8_t *s, size_t n) {
    size_t i = 0;
    while (i + 32 <= n) { /* four words per test: most strings are long ASCII runs */
        uint64_t a, b, c, d;
        memcpy(&a, s + i, 8);
        memcpy(&b, s + i + 8, 8);
        memcpy(&c, s + i + 16, 8);
        memcpy(&d, s + i + 24, 8);
        if ((a | b | c | d) & 0x8080808080808080ull) break;
        i += 32;
    }
    while (i + 8 <= n) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        if (w & 0x8080808080808080ull) break;
        i += 8;
    }
    while (i < n && s[i] < 0x80) i++;
    return i;
}

int ss_pq_utf8_valid(const uint8_t *s, size_t n) {
    size_t i = 0, sub;
    while (i < n) {
        i += ascii_prefix(s + i, n - i);
        if (i >= n) break;
        size_t l = seq_len(s + i, n - i, &sub);
        if (!l) return 0;
        i += l;
    }
    return 1;
}

void ss_pq_utf8_repair(ss_pqbuf *out, const uint8_t *s, size_t n) {
    static const uint8_t fffd[3] = {0xEF, 0xBF, 0xBD};
    size_t i = 0, sub;
    while (i < n) {
        size_t a = ascii_prefix(s + i, n - i);
        ss_pqbuf_put(out, s + i, a);
        i += a;
        if (i >= n) break;
        size_t l = seq_len(s + i, n - i, &sub);
        if (l) {
            ss_pqbuf_put(out, s + i, l);
            i += l;
        } else {
            ss_pqbuf_put(out, fffd, 3);
            i += sub;
        }
    }
}

/* Start of the code point containing byte k (k < n) in a valid string. */
static size_t cp_start(const uint8_t *s, size_t k) {
    while (k > 0 && (s[k] & 0xC0) == 0x80) k--;
    return k;
}

size_t ss_pq_trunc_min(const uint8_t *s, size_t n, size_t bound) {
    if (n <= bound) return n;
    return cp_start(s, bound); /* drop the code point cut by the bound */
}

size_t ss_pq_trunc_max(const uint8_t *s, size_t n, size_t bound, uint8_t *out) {
    if (n <= bound) {
        if (n) memcpy(out, s, n);
        return n;
    }
    size_t len = cp_start(s, bound);
    memcpy(out, s, len);
    /* Increment the last code point's last byte when that keeps it well-formed (ASCII
     * below 0x7F, or a continuation byte below 0xBF); otherwise drop that code point and
     * try the one before. The result is bytewise greater than every string with the
     * kept prefix. */
    while (len > 0) {
        size_t st = cp_start(out, len - 1);
        uint8_t last = out[len - 1];
        if ((len - 1 == st && last < 0x7F) || (len - 1 > st && last < 0xBF)) {
            out[len - 1]++;
            return len;
        }
        len = st;
    }
    return 0;
}
