/* See hash.h. MurmurHash3_x64_128 written as a streaming hasher: full 16-byte blocks are
 * mixed as they arrive, a partial block waits in `tail` until more bytes come or the
 * digest is taken. */
#include "util/hash.h"

#include <string.h>

#define C1 0x87c37b91114253d5ULL
#define C2 0x4cf5ad432745937fULL

static inline uint64_t rotl64(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

static inline uint64_t load_le64(const unsigned char *p) {
    return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 | (uint64_t)p[3] << 24 |
           (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 | (uint64_t)p[6] << 48 |
           (uint64_t)p[7] << 56;
}

static inline void store_le64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint64_t fmix64(uint64_t k) {
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    k *= 0xc4ceb9fe1a85ec53ULL;
    k ^= k >> 33;
    return k;
}

static inline void mix_block(ss_hash128_state *s, const unsigned char *b) {
    uint64_t k1 = load_le64(b), k2 = load_le64(b + 8);
    k1 *= C1;
    k1 = rotl64(k1, 31);
    k1 *= C2;
    s->h1 ^= k1;
    s->h1 = rotl64(s->h1, 27);
    s->h1 += s->h2;
    s->h1 = s->h1 * 5 + 0x52dce729;
    k2 *= C2;
    k2 = rotl64(k2, 33);
    k2 *= C1;
    s->h2 ^= k2;
    s->h2 = rotl64(s->h2, 31);
    s->h2 += s->h1;
    s->h2 = s->h2 * 5 + 0x38495ab5;
}

void ss_hash128_init(ss_hash128_state *s, uint64_t seed) {
    s->h1 = s->h2 = seed;
    s->total = 0;
    s->ntail = 0;
}

void ss_hash128_update(ss_hash128_state *s, const void *data, size_t n) {
    const unsigned char *p = data;
    s->total += n;
    if (s->ntail) {
        size_t take = 16 - s->ntail;
        if (take > n) take = n;
        memcpy(s->tail + s->ntail, p, take);
        s->ntail += take;
        p += take;
        n -= take;
        if (s->ntail < 16) return;
        mix_block(s, s->tail);
        s->ntail = 0;
    }
    while (n >= 16) {
        mix_block(s, p);
        p += 16;
        n -= 16;
    }
    if (n) {
        memcpy(s->tail, p, n);
        s->ntail = n;
    }
}

void ss_hash128_final(ss_hash128_state *s, uint8_t out[16]) {
    uint64_t k1 = 0, k2 = 0;
    const unsigned char *t = s->tail;
    switch (s->ntail) {
    case 15: k2 ^= (uint64_t)t[14] << 48; /* fall through */
    case 14: k2 ^= (uint64_t)t[13] << 40; /* fall through */
    case 13: k2 ^= (uint64_t)t[12] << 32; /* fall through */
    case 12: k2 ^= (uint64_t)t[11] << 24; /* fall through */
    case 11: k2 ^= (uint64_t)t[10] << 16; /* fall through */
    case 10: k2 ^= (uint64_t)t[9] << 8;   /* fall through */
    case 9:
        k2 ^= (uint64_t)t[8];
        k2 *= C2;
        k2 = rotl64(k2, 33);
        k2 *= C1;
        s->h2 ^= k2;
        /* fall through */
    case 8: k1 ^= (uint64_t)t[7] << 56; /* fall through */
    case 7: k1 ^= (uint64_t)t[6] << 48; /* fall through */
    case 6: k1 ^= (uint64_t)t[5] << 40; /* fall through */
    case 5: k1 ^= (uint64_t)t[4] << 32; /* fall through */
    case 4: k1 ^= (uint64_t)t[3] << 24; /* fall through */
    case 3: k1 ^= (uint64_t)t[2] << 16; /* fall through */
    case 2: k1 ^= (uint64_t)t[1] << 8;  /* fall through */
    case 1:
        k1 ^= (uint64_t)t[0];
        k1 *= C1;
        k1 = rotl64(k1, 31);
        k1 *= C2;
        s->h1 ^= k1;
    }
    uint64_t h1 = s->h1 ^ s->total, h2 = s->h2 ^ s->total;
    h1 += h2;
    h2 += h1;
    h1 = fmix64(h1);
    h2 = fmix64(h2);
    h1 += h2;
    h2 += h1;
    store_le64(out, h1);
    store_le64(out + 8, h2);
}

void ss_hash128(const void *data, size_t n, uint64_t seed, uint8_t out[16]) {
    ss_hash128_state s;
    ss_hash128_init(&s, seed);
    ss_hash128_update(&s, data, n);
    ss_hash128_final(&s, out);
}

void ss_hash128_field(ss_hash128_state *s, const void *data, size_t n) {
    unsigned char len[4] = {(unsigned char)n, (unsigned char)(n >> 8), (unsigned char)(n >> 16),
                            (unsigned char)(n >> 24)};
    ss_hash128_update(s, len, 4);
    if (n) ss_hash128_update(s, data, n);
}

void ss_hash128_hex(const uint8_t d[16], char out[33]) {
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 16; i++) {
        out[2 * i] = hex[d[i] >> 4];
        out[2 * i + 1] = hex[d[i] & 15];
    }
    out[32] = '\0';
}
