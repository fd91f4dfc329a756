/* The RLE / bit-packed hybrid encoding, used for repetition and definition levels and
 * for dictionary indices; and DELTA_BINARY_PACKED for INT64 pages (opt-in, at the end).
 *
 * Input is a whole page's worth of values, already in memory, so the encoder scans for
 * runs rather than streaming. A run of >= 8 equal values becomes an RLE run; anything
 * else accumulates into a bit-packed stretch, which can only end on a multiple of 8
 * values. When a long run begins while the pending stretch is not a multiple of 8, the
 * first few values of the run are lent to the stretch to complete its last group, and
 * only the remainder is run-length encoded. Getting that hand-over exactly right is the
 * whole difficulty (another C writer counted such values twice), so the unit tests
 * decode every output back. Bit-packed stretches are capped at 63 groups, the limit
 * some readers assume for a one-byte header. */
#include "pq_internal.h"

#define BP_MAX_VALUES (63 * 8)

int ss_pq_bit_width(uint32_t max_value) {
    return max_value ? 32 - __builtin_clz(max_value) : 1;
}

static void emit_rle(ss_pqbuf *b, uint32_t value, size_t count, int bw) {
    ss_pqbuf_uvarint(b, (uint64_t)count << 1);
    int nbytes = (bw + 7) / 8;
    for (int k = 0; k < nbytes; k++) ss_pqbuf_byte(b, (uint8_t)(value >> (8 * k)));
}

#define DEFINE_HYBRID(NAME, T)                                                           \
    static void NAME##_bitpacked(ss_pqbuf *b, const T *v, size_t count, int bw) {       \
        size_t groups = (count + 7) / 8;                                                 \
        ss_pqbuf_uvarint(b, (uint64_t)groups << 1 | 1);                                  \
        if (ss_pqbuf_reserve(b, groups * (size_t)bw)) return;                            \
        uint8_t *out = b->p + b->len;                                                    \
        uint64_t acc = 0;                                                                \
        int nbits = 0;                                                                   \
        for (size_t i = 0; i < groups * 8; i++) {                                        \
            uint64_t x = i < count ? (uint64_t)v[i] : 0;                                 \
            acc |= x << nbits;                                                           \
            nbits += bw;                                                                 \
            while (nbits >= 8) {                                                         \
                *out++ = (uint8_t)acc;                                                   \
                acc >>= 8;                                                               \
                nbits -= 8;                                                              \
            }                                                                            \
        }                                                                                \
        b->len = (size_t)(out - b->p);                                                   \
    }                                                                                    \
    void NAME(ss_pqbuf *b, const T *v, size_t n, int bw) {                               \
        size_t i = 0, bp = 0, pending = 0;                                               \
        while (i < n) {                                                                  \
            size_t j = i + 1;                                                            \
            while (j < n && v[j] == v[i]) j++;                                           \
            size_t run = j - i;                                                          \
            if (run >= 8 && pending % 8 != 0) { /* complete the open group */            \
                size_t lend = 8 - pending % 8;                                           \
                pending += lend;                                                         \
                i += lend;                                                               \
                run -= lend;                                                             \
            }                                                                            \
            if (run >= 8) {                                                              \
                if (pending) NAME##_bitpacked(b, v + bp, pending, bw);                   \
                pending = 0;                                                             \
                emit_rle(b, v[i], run, bw);                                              \
                i += run;                                                                \
            } else {                                                                     \
                if (pending == 0) bp = i;                                                \
                pending += run;                                                          \
                i += run;                                                                \
                while (pending >= BP_MAX_VALUES) {                                       \
                    NAME##_bitpacked(b, v + bp, BP_MAX_VALUES, bw);                      \
                    bp += BP_MAX_VALUES;                                                 \
                    pending -= BP_MAX_VALUES;                                            \
                }                                                                        \
            }                                                                            \
        }                                                                                \
        if (pending) NAME##_bitpacked(b, v + bp, pending, bw);                           \
    }

DEFINE_HYBRID(ss_pq_hybrid_u8, uint8_t)
DEFINE_HYBRID(ss_pq_hybrid_u32, uint32_t)

/* ---- DELTA_BINARY_PACKED (INT64) ----------------------------------------------------- */
/* Blocks of 128 deltas in 4 miniblocks of 32, the layout every writer uses. Deltas are
 * taken with wrapping 64-bit arithmetic, so INT64_MIN next to INT64_MAX is fine: readers
 * add them back modulo 2^64. Each miniblock is packed at the width of its largest
 * (delta - min_delta); the last block lists a zero width for miniblocks it does not need
 * and writes no bytes for them. */
#define DELTA_BLOCK 128
#define DELTA_MINIBLOCKS 4
#define DELTA_PER_MB (DELTA_BLOCK / DELTA_MINIBLOCKS)

static void pack64(ss_pqbuf *b, const uint64_t *x, size_t count, int bw) {
    if (ss_pqbuf_reserve(b, (size_t)DELTA_PER_MB * (size_t)bw / 8)) return;
    uint8_t *out = b->p + b->len;
    unsigned __int128 acc = 0;
    int nbits = 0;
    for (size_t i = 0; i < DELTA_PER_MB; i++) {
        acc |= (unsigned __int128)(i < count ? x[i] : 0) << nbits;
        nbits += bw;
        while (nbits >= 8) {
            *out++ = (uint8_t)acc;
            acc >>= 8;
            nbits -= 8;
        }
    }
    b->len = (size_t)(out - b->p);
}

void ss_pq_delta_i64(ss_pqbuf *b, const int64_t *v, size_t n) {
    ss_pqbuf_uvarint(b, DELTA_BLOCK);
    ss_pqbuf_uvarint(b, DELTA_MINIBLOCKS);
    ss_pqbuf_uvarint(b, n);
    ss_pqbuf_uvarint(b, ss_tc_zigzag(n ? v[0] : 0));
    uint64_t d[DELTA_BLOCK];
    for (size_t i = 1; i < n; i += DELTA_BLOCK) {
        size_t cnt = n - i < DELTA_BLOCK ? n - i : DELTA_BLOCK;
        int64_t min = INT64_MAX;
        for (size_t k = 0; k < cnt; k++) {
            int64_t delta = (int64_t)((uint64_t)v[i + k] - (uint64_t)v[i + k - 1]);
            d[k] = (uint64_t)delta;
            if (delta < min) min = delta;
        }
        ss_pqbuf_uvarint(b, ss_tc_zigzag(min));
        int bw[DELTA_MINIBLOCKS];
        for (size_t m = 0; m < DELTA_MINIBLOCKS; m++) {
            uint64_t mx = 0;
            for (size_t k = m * DELTA_PER_MB; k < cnt && k < (m + 1) * DELTA_PER_MB; k++) {
                d[k] -= (uint64_t)min;
                if (d[k] > mx) mx = d[k];
            }
            bw[m] = mx ? 64 - __builtin_clzll(mx) : 0;
            ss_pqbuf_byte(b, (uint8_t)bw[m]);
        }
        for (size_t m = 0; m < DELTA_MINIBLOCKS && m * DELTA_PER_MB < cnt; m++)
            if (bw[m]) pack64(b, d + m * DELTA_PER_MB, cnt - m * DELTA_PER_MB, bw[m]);
    }
}
