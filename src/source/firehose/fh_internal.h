/* Internals of the firehose decoder, shared by its files (not a public interface).
 *
 *   fh_cbor.c  a strict DAG-CBOR reader over a byte slice: definite lengths only, every
 *              length checked against the bytes left, floats and other tags refused;
 *   fh_cid.c   unsigned varints, binary CIDs, base32 text form, sha-256 verification;
 *   fh_car.c   CAR v1: header and an index of the blocks, pointing into the frame;
 *   fh_json.c  JSON output with Go's escaping, and DAG-CBOR record -> atproto JSON;
 *   fh_decode.c  frames: header, bodies, events, rejects, counters.
 *
 * Nothing here copies input: strings, CIDs and blocks are slices of the frame. */
#ifndef SS_FH_INTERNAL_H
#define SS_FH_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "source/firehose/fh_decode.h"
#include "util/buf.h"

/* ---- reader ------------------------------------------------------------------------ */

typedef struct {
    const uint8_t *p, *end, *base; /* base: start of the enclosing object, for offsets */
    int err;                       /* first ss_fh_reason hit, 0 while fine */
    char *detail;                  /* where a message goes (may be NULL) */
    size_t detail_cap;
} ss_fh_rd;

enum { FH_MAJ_UINT = 0, FH_MAJ_NEG, FH_MAJ_BYTES, FH_MAJ_TEXT, FH_MAJ_ARRAY, FH_MAJ_MAP, FH_MAJ_TAG, FH_MAJ_SIMPLE };
enum { FH_SIMPLE_FALSE = 20, FH_SIMPLE_TRUE = 21, FH_SIMPLE_NULL = 22 };

void ss_fh_rd_init(ss_fh_rd *r, const uint8_t *p, size_t n, char *detail, size_t detail_cap);
/* Records the first failure (later ones keep the first message); returns reason. */
int ss_fh_fail(ss_fh_rd *r, int reason, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Reads one item head. Major 7 yields only false/true/null (arg = 20/21/22). */
int ss_fh_head(ss_fh_rd *r, int *major, uint64_t *arg);
/* Skips one whole item, checking structure, up to depth nested containers. */
int ss_fh_skip(ss_fh_rd *r, int depth);
int ss_fh_text(ss_fh_rd *r, const char **s, size_t *n);
int ss_fh_bytes(ss_fh_rd *r, const uint8_t **b, size_t *n);
int ss_fh_uint(ss_fh_rd *r, uint64_t *v);
int ss_fh_int(ss_fh_rd *r, int64_t *v);
int ss_fh_bool(ss_fh_rd *r, int *v);
int ss_fh_map(ss_fh_rd *r, uint64_t *n);
int ss_fh_array(ss_fh_rd *r, uint64_t *n);
/* Tag 42 + byte string 0x00 + binary CID; sets the binary CID (without the 0x00). */
int ss_fh_link(ss_fh_rd *r, const uint8_t **cid, size_t *n);
/* Consumes a null and returns 1, or returns 0 and consumes nothing. */
int ss_fh_take_null(ss_fh_rd *r);
static inline size_t ss_fh_left(const ss_fh_rd *r) { return (size_t)(r->end - r->p); }

/* ---- CIDs -------------------------------------------------------------------------- */

#define FH_CODEC_DAG_CBOR 0x71
#define FH_CODEC_RAW 0x55
#define FH_MH_SHA256 0x12
#define FH_MAX_CID_BYTES 100

typedef struct {
    const uint8_t *bytes; /* the whole binary CID */
    size_t len;
    uint64_t version, codec, mh_code;
    const uint8_t *digest;
    size_t digest_len;
} ss_fh_cid;

/* Reads an unsigned varint (multiformats: at most 9 bytes, minimal). Returns bytes used,
 * 0 when truncated, -1 when malformed. */
int ss_fh_uvarint(const uint8_t *p, size_t n, uint64_t *v);
/* Parses a binary CID at the start of p[0..n); sets c->len. Returns 0 or a reason. */
int ss_fh_cid_parse(const uint8_t *p, size_t n, ss_fh_cid *c);
/* Appends the CID's text form ("b" + base32 lower, or base58btc for CIDv0) without quotes. */
int ss_fh_cid_text(ss_buf *b, const uint8_t *cid, size_t n);
typedef struct {
    struct evp_md_st *md;
    struct evp_md_ctx_st *ctx;
} ss_fh_hasher;
int ss_fh_hasher_init(ss_fh_hasher *h);
void ss_fh_hasher_free(ss_fh_hasher *h);
/* 1 when data hashes to the CID (sha-256 multihash), 0 when not; -1 unsupported hash. */
int ss_fh_cid_verify(ss_fh_hasher *h, const ss_fh_cid *c, const uint8_t *data, size_t n);

/* ---- CAR --------------------------------------------------------------------------- */

typedef struct {
    const uint8_t *cid;
    uint32_t cid_len;
    uint32_t data_len;
    const uint8_t *data;
} ss_fh_block;

typedef struct {
    ss_fh_block *blocks;
    size_t n, cap;
    uint32_t *table; /* open addressing: index+1 into blocks, 0 = empty */
    size_t table_cap;
    const uint8_t *root; /* first root CID */
    size_t root_len;
} ss_fh_car;

void ss_fh_car_free(ss_fh_car *c);
/* Indexes a CAR v1; returns 0 or a reason with a detail in r. */
int ss_fh_car_index(ss_fh_car *c, const uint8_t *p, size_t n, size_t max_blocks, ss_fh_rd *r);
const ss_fh_block *ss_fh_car_find(const ss_fh_car *c, const uint8_t *cid, size_t n);

/* ---- JSON -------------------------------------------------------------------------- */

/* Appends a JSON string the way Go's encoding/json (and Jetstream's goccy/go-json) print
 * it: \" \\ \n \r \t, other controls and < > & as \u00XX, U+2028/2029 escaped. Invalid
 * UTF-8 returns SS_FH_BAD_UTF8 (or, when lossy, is written as \ufffd). -1 on OOM. */
int ss_fh_json_str(ss_buf *b, const char *s, size_t n, int lossy);
int ss_fh_json_i64(ss_buf *b, int64_t v);
int ss_fh_base64_raw(ss_buf *b, const uint8_t *p, size_t n); /* std alphabet, no padding */

typedef struct {
    const uint8_t *key;
    uint32_t key_len;
    const uint8_t *val; /* start of the value */
} ss_fh_entry;

typedef struct {
    ss_fh_entry *v;
    size_t n, cap;
    int max_depth;
} ss_fh_scratch;

/* Writes the record (a DAG-CBOR map filling r exactly) as JSON. Returns 0 or a reason;
 * on failure b holds a partial object the caller truncates. */
int ss_fh_record_json(ss_fh_rd *r, ss_buf *b, ss_fh_scratch *s);

#endif
