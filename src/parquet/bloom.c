/* Split-block bloom filters (SBBF) as the Parquet format defines them (BloomFilter.md).
 *
 * A reader that looks up one value (a did, a post URI) can skip every row group whose
 * filter says "absent" without reading its pages; min/max statistics cannot do that for
 * identifiers, which span the whole key space in every row group. The layout is the
 * spec's, bit for bit, because DuckDB, arrow-rs, parquet-mr and polars probe these filters
 * with their own code: blocks of 8 little-endian 32-bit words (256 bits), the block chosen
 * by the upper 32 bits of the value's xxHash64 (seed 0, of its PLAIN encoding without a
 * length prefix), one bit set per word by the lower 32 bits times the spec's salt.
 *
 * xxHash64 is implemented here rather than taken from util/: this module depends on
 * nothing of skyspool, and the spec fixes the function, so there is nothing to share. */
#include <math.h>
#include <string.h>

#include "pq_internal.h"

#define P1 0x9E3779B185EBCA87ull
#define P2 0xC2B2AE3D27D4EB4Full
#define P3 0x165667B19E3779F9ull
#define P4 0x85EBCA77C2B2AE63ull
#define P5 0x27D4EB2F165667C5ull

static inline uint64_t rotl64(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }
static inline uint64_t xround(uint64_t acc, uint64_t in) { return rotl64(acc + in * P2, 31) * P1; }
static inline uint64_t xmerge(uint64_t h, uint64_t v) { return (h ^ xround(0, v)) * P1 + P4; }

uint64_t ss_pq_xxh64(const void *data, size_t n, uint64_t seed) {
    const uint8_t *p = data, *end = p + n;
    uint64_t h;
    if (n >= 32) {
        uint64_t v1 = seed + P1 + P2, v2 = seed + P2, v3 = seed, v4 = seed - P1;
        do {
            v1 = xround(v1, ss_pq_load64(p));
            v2 = xround(v2, ss_pq_load64(p + 8));
            v3 = xround(v3, ss_pq_load64(p + 16));
            v4 = xround(v4, ss_pq_load64(p + 24));
            p += 32;
        } while (end - p >= 32);
        h = rotl64(v1, 1) + rotl64(v2, 7) + rotl64(v3, 12) + rotl64(v4, 18);
        h = xmerge(h, v1);
        h = xmerge(h, v2);
        h = xmerge(h, v3);
        h = xmerge(h, v4);
    } else {
        h = seed + P5;
    }
    h += (uint64_t)n;
    for (; end - p >= 8; p += 8) h = rotl64(h ^ xround(0, ss_pq_load64(p)), 27) * P1 + P4;
    if (end - p >= 4) {
        h = rotl64(h ^ ((uint64_t)ss_pq_load32(p) * P1), 23) * P2 + P3;
        p += 4;
    }
    for (; p < end; p++) h = rotl64(h ^ (*p * P5), 11) * P1;
    h ^= h >> 33;
    h *= P2;
    h ^= h >> 29;
    h *= P3;
    h ^= h >> 32;
    return h;
}

static const uint32_t g_salt[8] = {0x47b6137bu, 0x44974d91u, 0x8824ad5bu, 0xa2b7289du,
                                   0x705495c7u, 0x2df1424bu, 0x9efc4947u, 0x5c6bfb31u};

/* The spec's sizing: m = -8 * ndv / ln(1 - fpp^(1/8)) bits, rounded up to a power of two
 * bytes, at least one block, at most max_bytes (itself rounded down to a power of two). */
size_t ss_pq_bloom_bytes(uint64_t ndv, double fpp, size_t max_bytes) {
    size_t cap = SS_PQ_BLOOM_MIN_BYTES;
    while (cap * 2 <= max_bytes && cap * 2 <= SS_PQ_BLOOM_MAX_BYTES) cap *= 2;
    if (!(fpp > 0.0 && fpp < 1.0)) fpp = 0.01;
    double bits = -8.0 * (double)(ndv ? ndv : 1) / log(1.0 - pow(fpp, 1.0 / 8.0));
    double bytes = bits / 8.0;
    size_t n = SS_PQ_BLOOM_MIN_BYTES;
    while (n < cap && (double)n < bytes) n *= 2;
    return n;
}

static inline uint8_t *block_of(uint8_t *bits, size_t nbytes, uint64_t h) {
    uint64_t nblocks = nbytes / 32;
    return bits + (((h >> 32) * nblocks) >> 32) * 32;
}

void ss_pq_bloom_insert(uint8_t *bits, size_t nbytes, uint64_t h) {
    uint8_t *b = block_of(bits, nbytes, h);
    uint32_t x = (uint32_t)h;
    for (int i = 0; i < 8; i++) {
        uint32_t w = ss_pq_load32(b + 4 * i) | (1u << ((x * g_salt[i]) >> 27));
        memcpy(b + 4 * i, &w, 4);
    }
}

int ss_pq_bloom_check(const uint8_t *bits, size_t nbytes, uint64_t h) {
    const uint8_t *b = block_of((uint8_t *)(uintptr_t)bits, nbytes, h);
    uint32_t x = (uint32_t)h;
    for (int i = 0; i < 8; i++)
        if (!(ss_pq_load32(b + 4 * i) & (1u << ((x * g_salt[i]) >> 27)))) return 0;
    return 1;
}
