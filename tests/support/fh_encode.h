/* Test-side firehose encoder: builds com.atproto.sync.subscribeRepos frames with real
 * DAG-CBOR (canonical key order), real CIDv1 (dag-cbor 0x71, sha2-256) and real CAR v1
 * bytes, so the decoder is tested against what a relay sends, not against itself.
 *
 * It also converts Jetstream v1 JSON events back into frames: a record's JSON becomes
 * DAG-CBOR ({"$link"} -> tag 42, {"$bytes"} -> bytes), consecutive commit events of one
 * repo and rev become one multi-op #commit, identity/account events become their frames.
 * The frame time of a commit is its time_us, so decoding gives back the same events.
 *
 * Test code: it aborts on out-of-memory rather than propagating it. */
#ifndef SS_TEST_FH_ENCODE_H
#define SS_TEST_FH_ENCODE_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

/* ---- DAG-CBOR writer ---- */
void fhe_head(ss_buf *b, int major, uint64_t arg);
void fhe_uint(ss_buf *b, uint64_t v);
void fhe_int(ss_buf *b, int64_t v);
void fhe_text(ss_buf *b, const char *s);
void fhe_textn(ss_buf *b, const char *s, size_t n);
void fhe_bytes(ss_buf *b, const void *p, size_t n);
void fhe_bool(ss_buf *b, int v);
void fhe_null(ss_buf *b);
void fhe_link(ss_buf *b, const uint8_t *cid, size_t n); /* tag 42 + 0x00 + cid */

/* A map built from (key, encoded value) pairs, written in DAG-CBOR canonical order
 * (shorter keys first, then bytewise). */
typedef struct fhe_map fhe_map;
fhe_map *fhe_map_new(void);
ss_buf *fhe_map_put(fhe_map *m, const char *key); /* returns the buffer to write the value into */
ss_buf *fhe_map_putn(fhe_map *m, const char *key, size_t keylen);
void fhe_map_write(fhe_map *m, ss_buf *out); /* writes and frees the map */

/* ---- CIDs and CAR ---- */
#define FHE_CID_LEN 36
void fhe_cid(uint8_t out[FHE_CID_LEN], const void *data, size_t n, uint64_t codec);
/* Text form ("b" + base32) into out (>= 64 bytes). */
void fhe_cid_text(char *out, const uint8_t *cid, size_t n);
/* Parses "bafy..." into binary; returns the length or -1. */
int fhe_cid_parse_text(const char *s, size_t n, uint8_t *out, size_t cap);
void fhe_car_header(ss_buf *car, const uint8_t *root, size_t root_len);
void fhe_car_block(ss_buf *car, const uint8_t *cid, size_t cid_len, const void *data, size_t n);
void fhe_uvarint(ss_buf *b, uint64_t v);

/* ---- frames ---- */
typedef struct {
    const char *action;      /* "create", "update", "delete" */
    const char *path;        /* "collection/rkey" */
    const uint8_t *record;   /* DAG-CBOR record (NULL for deletes) */
    size_t record_len;
    int omit_block;          /* leave the record block out of the CAR */
    int corrupt_block;       /* change a byte of the block after computing its CID */
    int null_cid;            /* send cid: null even for a create */
} fhe_op;

typedef struct {
    int64_t seq;
    const char *repo, *rev, *time;
    const fhe_op *ops;
    size_t nops;
    size_t filler_bytes;     /* MST-node-like blocks added to the CAR (about this many bytes) */
    uint64_t seed;           /* for the filler */
    int too_big;             /* tooBig: true, no blocks */
    int corrupt_commit;      /* change a byte of the commit block */
    int wrong_root;          /* CAR root differs from the commit CID */
    const char *commit_did;  /* the signed commit object's did; NULL = repo */
    const char *commit_rev;  /* ... and rev; NULL = rev */
    /* Signs the unsigned commit (the map without sig) into sig; NULL = random bytes. */
    void (*sign)(void *ud, const uint8_t *unsigned_commit, size_t n, uint8_t sig[64]);
    void *sign_ud;
} fhe_commit;

void fhe_commit_frame(ss_buf *out, const fhe_commit *c);
void fhe_identity_frame(ss_buf *out, int64_t seq, const char *did, const char *time, const char *handle);
/* status NULL: absent. */
void fhe_account_frame(ss_buf *out, int64_t seq, const char *did, const char *time, int active, const char *status);
void fhe_sync_frame(ss_buf *out, int64_t seq, const char *did, const char *rev, const char *time);
void fhe_info_frame(ss_buf *out, const char *name, const char *message);
void fhe_error_frame(ss_buf *out, const char *error, const char *message);

/* ---- Jetstream JSON -> frames ---- */

/* Record JSON -> DAG-CBOR. Returns 0, or -1 with a message (floats, bad $link, ...). */
int fhe_json_record_to_cbor(ss_buf *out, const char *json, size_t n, char *err, size_t errlen);

/* Formats time_us as RFC 3339 with microseconds ("2026-05-25T14:23:29.132431Z"). */
void fhe_time_text(char out[40], int64_t time_us);

/* Streams JSONL events into frames: feed lines in order; each completed frame is passed
 * to the callback. Consecutive commit events with the same did and rev form one frame. */
typedef void (*fhe_frame_cb)(void *ud, const uint8_t *frame, size_t len);
typedef struct fhe_conv fhe_conv;
fhe_conv *fhe_conv_new(fhe_frame_cb cb, void *ud, size_t filler_bytes, uint64_t seed);
/* Returns 0, or -1 with a message for a line that is not a convertible event. */
int fhe_conv_line(fhe_conv *c, const char *line, size_t n, char *err, size_t errlen);
void fhe_conv_flush(fhe_conv *c);
void fhe_conv_free(fhe_conv *c); /* flushes first */
uint64_t fhe_conv_frames(const fhe_conv *c);
/* Signs each commit of did (its unsigned form, n bytes) into sig; unset: random bytes. */
typedef void (*fhe_signer_fn)(void *ud, const char *did, const uint8_t *unsigned_commit, size_t n, uint8_t sig[64]);
void fhe_conv_set_signer(fhe_conv *c, fhe_signer_fn fn, void *ud);
/* The seq of the next commit frame (default 1). */
void fhe_conv_set_next_seq(fhe_conv *c, int64_t seq);

#endif
