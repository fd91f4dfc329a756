/* A 128-bit non-cryptographic hash for dedup keys.
 *
 * The construction is MurmurHash3's x64 128-bit variant (two 64-bit lanes mixed by
 * multiply/rotate over 16-byte blocks, then a 64-bit avalanche finalizer), implemented
 * here as a streaming hasher so that callers can feed several fields without building a
 * temporary buffer. Input words are read little-endian, so the output is the same on
 * every platform; the digest is written as h1 then h2, each little-endian. Dedup keys are
 * stored in Redis and compared across runs, so the output must never change: the unit
 * test pins fixed vectors.
 *
 * Not for adversarial input: dedup only needs collisions to be improbable among honest
 * events (2^-64 birthday bound at 128 bits). */
#ifndef SS_HASH_H
#define SS_HASH_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t h1, h2;
    uint64_t total;          /* bytes fed so far */
    unsigned char tail[16];  /* a partial block */
    size_t ntail;
} ss_hash128_state;

void ss_hash128_init(ss_hash128_state *s, uint64_t seed);
void ss_hash128_update(ss_hash128_state *s, const void *data, size_t n);
/* Writes the 16-byte digest. The state must be re-initialised before reuse. */
void ss_hash128_final(ss_hash128_state *s, uint8_t out[16]);

/* One-shot: the same digest as init(seed) + update(data, n) + final. */
void ss_hash128(const void *data, size_t n, uint64_t seed, uint8_t out[16]);

/* Feeds a field as a 4-byte little-endian length followed by its bytes, so that a
 * sequence of fields hashes unambiguously ("ab","c" differs from "a","bc"). */
void ss_hash128_field(ss_hash128_state *s, const void *data, size_t n);

/* Writes 32 lowercase hex digits and a NUL. */
void ss_hash128_hex(const uint8_t digest[16], char out[33]);

/* Small mixers, for hash tables, shard routing and seeding; not for dedup keys. */
/* SplitMix64's finalizer: a bijective avalanche of one 64-bit word. */
static inline uint64_t ss_mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}
/* SplitMix64: advances *state by the golden-ratio increment and returns the next output. */
static inline uint64_t ss_splitmix64(uint64_t *state) { return ss_mix64(*state += 0x9e3779b97f4a7c15ULL); }
/* FNV-1a (64-bit) over n bytes: short strings into a table slot. */
static inline uint64_t ss_fnv1a64(const void *data, size_t n) {
    const unsigned char *p = data;
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ULL;
    return h;
}

#endif
