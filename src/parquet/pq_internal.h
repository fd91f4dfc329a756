/* Internals of the Parquet writer shared by its files and its unit tests.
 *
 * The small encoders live here, free of I/O so the unit tests can drive them directly:
 * a growable byte buffer with a sticky out-of-memory flag (so hot paths append without
 * checking every call), the Thrift compact protocol writer used for page headers and
 * the footer, the RLE/bit-packed hybrid used for levels and dictionary indices,
 * DELTA_BINARY_PACKED, UTF-8 validation with U+FFFD replacement, the truncation of
 * string statistics, and the split-block bloom filter with its xxHash64. */
#ifndef SS_PQ_INTERNAL_H
#define SS_PQ_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the Parquet writer stores PLAIN values with memcpy and needs a little-endian host"
#endif

/* Unaligned little-endian loads (the host is little-endian, above). */
static inline uint64_t ss_pq_load64(const uint8_t *p) {
    uint64_t x;
    memcpy(&x, p, 8);
    return x;
}
static inline uint32_t ss_pq_load32(const uint8_t *p) {
    uint32_t x;
    memcpy(&x, p, 4);
    return x;
}

/* ---- byte buffer ------------------------------------------------------------------ */
typedef struct {
    uint8_t *p;
    size_t len, cap;
    int oom; /* set once an allocation failed; later appends are dropped */
} ss_pqbuf;

int ss_pqbuf_grow(ss_pqbuf *b, size_t extra); /* 0, or -1 (and oom set) */
void ss_pqbuf_free(ss_pqbuf *b);

static inline int ss_pqbuf_reserve(ss_pqbuf *b, size_t extra) {
    return b->cap - b->len >= extra ? 0 : ss_pqbuf_grow(b, extra);
}
static inline void ss_pqbuf_put(ss_pqbuf *b, const void *p, size_t n) {
    if (ss_pqbuf_reserve(b, n) == 0) {
        if (n) memcpy(b->p + b->len, p, n);
        b->len += n;
    }
}
static inline void ss_pqbuf_byte(ss_pqbuf *b, uint8_t c) {
    if (ss_pqbuf_reserve(b, 1) == 0) b->p[b->len++] = c;
}
static inline void ss_pqbuf_u32le(ss_pqbuf *b, uint32_t v) { ss_pqbuf_put(b, &v, 4); }
void ss_pqbuf_uvarint(ss_pqbuf *b, uint64_t v);

/* ---- Thrift compact protocol ------------------------------------------------------ */
enum {
    SS_TC_TRUE = 1, SS_TC_FALSE = 2, SS_TC_BYTE = 3, SS_TC_I16 = 4, SS_TC_I32 = 5,
    SS_TC_I64 = 6, SS_TC_DOUBLE = 7, SS_TC_BINARY = 8, SS_TC_LIST = 9, SS_TC_SET = 10,
    SS_TC_MAP = 11, SS_TC_STRUCT = 12
};
#define SS_TC_MAX_DEPTH 16

typedef struct {
    ss_pqbuf *b;
    int depth;
    int16_t last[SS_TC_MAX_DEPTH]; /* last field id written at each struct depth */
} ss_tc;

void ss_tc_init(ss_tc *t, ss_pqbuf *b);
uint64_t ss_tc_zigzag(int64_t v);
void ss_tc_field(ss_tc *t, int16_t id, int type);
void ss_tc_i32(ss_tc *t, int16_t id, int32_t v);
void ss_tc_i64(ss_tc *t, int16_t id, int64_t v);
void ss_tc_bool(ss_tc *t, int16_t id, int v);
void ss_tc_binary(ss_tc *t, int16_t id, const void *p, size_t n);
void ss_tc_struct_begin(ss_tc *t, int16_t id); /* a struct-valued field */
void ss_tc_struct_end(ss_tc *t);               /* writes the stop byte */
void ss_tc_list_begin(ss_tc *t, int16_t id, int elem_type, size_t n);
void ss_tc_list_header(ss_tc *t, int elem_type, size_t n); /* without a field header */
void ss_tc_elem_struct_begin(ss_tc *t);        /* a struct that is a list element */
void ss_tc_elem_i32(ss_tc *t, int32_t v);
void ss_tc_elem_binary(ss_tc *t, const void *p, size_t n);

/* ---- RLE / bit-packed hybrid ------------------------------------------------------ */
/* Encodes n values of bit width bw (1..32) into b without a length prefix. */
void ss_pq_hybrid_u8(ss_pqbuf *b, const uint8_t *v, size_t n, int bw);
void ss_pq_hybrid_u32(ss_pqbuf *b, const uint32_t *v, size_t n, int bw);
int ss_pq_bit_width(uint32_t max_value); /* bits needed for max_value, at least 1 */
/* DELTA_BINARY_PACKED of n INT64 values (header, then blocks of 128 in 4 miniblocks). */
void ss_pq_delta_i64(ss_pqbuf *b, const int64_t *v, size_t n);

/* ---- UTF-8 ------------------------------------------------------------------------ */
/* Returns 1 when s[0..n) is valid UTF-8 (no overlongs, surrogates or > U+10FFFF). */
int ss_pq_utf8_valid(const uint8_t *s, size_t n);
/* Appends s to out with every maximal invalid subsequence replaced by U+FFFD. */
void ss_pq_utf8_repair(ss_pqbuf *out, const uint8_t *s, size_t n);

/* ---- statistics bounds -------------------------------------------------------------- */
/* Truncates a string min value to at most `bound` bytes at a code point boundary;
 * returns the new length (always a lower bound of the original). */
size_t ss_pq_trunc_min(const uint8_t *s, size_t n, size_t bound);
/* Writes into out (>= bound bytes) a value of at most `bound` bytes that is >= s and
 * valid UTF-8 when s is; returns its length, or 0 when no such value exists. */
size_t ss_pq_trunc_max(const uint8_t *s, size_t n, size_t bound, uint8_t *out);

/* ---- split-block bloom filters (bloom.c) ------------------------------------------------ */
#define SS_PQ_BLOOM_MIN_BYTES 32u          /* one block of 8 x 32-bit words */
#define SS_PQ_BLOOM_MAX_BYTES (128u << 20) /* hard cap on bloom_max_bytes (the spec's readers' limit) */
/* xxHash64 (XXH64) of n bytes; the spec hashes values with seed 0. */
uint64_t ss_pq_xxh64(const void *data, size_t n, uint64_t seed);
/* Filter size in bytes for ndv distinct values at false-positive rate fpp (the spec's
 * formula, a power of two in SS_PQ_BLOOM_MIN_BYTES..max_bytes). */
size_t ss_pq_bloom_bytes(uint64_t ndv, double fpp, size_t max_bytes);
void ss_pq_bloom_insert(uint8_t *bits, size_t nbytes, uint64_t hash);
int ss_pq_bloom_check(const uint8_t *bits, size_t nbytes, uint64_t hash); /* 1: maybe present */

#endif
