/* CAR v1, the container of a commit's blocks.
 *
 * Layout: varint(header length) + DAG-CBOR header {version: 1, roots: [CID...]}, then
 * sections of varint(length) + binary CID + block bytes. The index records, for each
 * block, slices into the frame (nothing is copied) and an open-addressing hash table over
 * the CID bytes, so looking up an op's record is O(1) however many MST nodes the commit
 * carries. The arrays are kept between frames: after the first few frames indexing
 * allocates nothing. Block counts are bounded by max_blocks and by the CAR size. */
#include "source/firehose/fh_internal.h"
#include "util/hash.h"

#include <stdlib.h>
#include <string.h>

void ss_fh_car_free(ss_fh_car *c) {
    free(c->blocks);
    free(c->table);
    memset(c, 0, sizeof *c);
}

static uint64_t cid_hash(const uint8_t *p, size_t n) {
    size_t start = n > 12 ? n - 12 : 0; /* FNV-1a over the tail: the digest is already random */
    uint64_t h = ss_fnv1a64(p + start, n - start);
    return h ^ (h >> 29);
}

static int parse_header(ss_fh_car *c, ss_fh_rd *r) {
    uint64_t n;
    int have_version = 0;
    if (ss_fh_map(r, &n)) return r->err;
    for (uint64_t i = 0; i < n; i++) {
        const char *k;
        size_t kn;
        if (ss_fh_text(r, &k, &kn)) return r->err;
        if (kn == 7 && !memcmp(k, "version", 7)) {
            uint64_t v;
            if (ss_fh_uint(r, &v)) return ss_fh_fail(r, SS_FH_BAD_CAR, "CAR version is not an integer");
            if (v != 1) return ss_fh_fail(r, SS_FH_BAD_CAR, "CAR version %llu (only 1 is supported)", (unsigned long long)v);
            have_version = 1;
        } else if (kn == 5 && !memcmp(k, "roots", 5)) {
            uint64_t nr;
            if (ss_fh_array(r, &nr)) return r->err;
            for (uint64_t j = 0; j < nr; j++) {
                const uint8_t *cid;
                size_t cl;
                if (ss_fh_link(r, &cid, &cl)) return r->err;
                if (j == 0) c->root = cid, c->root_len = cl;
            }
        } else if (ss_fh_skip(r, 8)) {
            return r->err;
        }
    }
    if (!have_version) return ss_fh_fail(r, SS_FH_BAD_CAR, "CAR header without version");
    if (!c->root) return ss_fh_fail(r, SS_FH_BAD_CAR, "CAR header without roots");
    if (r->p != r->end) return ss_fh_fail(r, SS_FH_BAD_CAR, "bytes after the CAR header");
    return 0;
}

static int add_block(ss_fh_car *c, const ss_fh_cid *cid, const uint8_t *data, size_t n) {
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 64;
        ss_fh_block *b = realloc(c->blocks, cap * sizeof *b);
        if (!b) return SS_FH_OOM;
        c->blocks = b, c->cap = cap;
    }
    ss_fh_block *b = &c->blocks[c->n++];
    b->cid = cid->bytes, b->cid_len = (uint32_t)cid->len, b->data = data, b->data_len = (uint32_t)n;
    return 0;
}

static int build_table(ss_fh_car *c) {
    size_t want = 16;
    while (want < c->n * 2) want *= 2;
    if (want > c->table_cap) {
        uint32_t *t = realloc(c->table, want * sizeof *t);
        if (!t) return SS_FH_OOM;
        c->table = t, c->table_cap = want;
    }
    memset(c->table, 0, want * sizeof *c->table);
    size_t mask = want - 1;
    for (size_t i = 0; i < c->n; i++) {
        const ss_fh_block *b = &c->blocks[i];
        size_t slot = cid_hash(b->cid, b->cid_len) & mask;
        for (;;) {
            uint32_t e = c->table[slot];
            if (!e) {
                c->table[slot] = (uint32_t)i + 1;
                break;
            }
            const ss_fh_block *o = &c->blocks[e - 1];
            if (o->cid_len == b->cid_len && !memcmp(o->cid, b->cid, b->cid_len)) break; /* keep the first */
            slot = (slot + 1) & mask;
        }
    }
    c->table_cap = want;
    return 0;
}

int ss_fh_car_index(ss_fh_car *c, const uint8_t *p, size_t n, size_t max_blocks, ss_fh_rd *r) {
    c->n = 0;
    c->root = NULL, c->root_len = 0;
    ss_fh_rd_init(r, p, n, r->detail, r->detail_cap);
    uint64_t hlen;
    int k = ss_fh_uvarint(p, n, &hlen);
    if (k == 0) return ss_fh_fail(r, SS_FH_TRUNCATED, "CAR header length cut short");
    if (k < 0) return ss_fh_fail(r, SS_FH_BAD_VARINT, "CAR header length is not a valid varint");
    if (hlen == 0 || hlen > n - (size_t)k) return ss_fh_fail(r, SS_FH_TRUNCATED, "CAR header of %llu bytes runs past the end", (unsigned long long)hlen);
    ss_fh_rd h;
    ss_fh_rd_init(&h, p + k, (size_t)hlen, r->detail, r->detail_cap);
    if (parse_header(c, &h)) {
        r->err = h.err == SS_FH_CBOR_TYPE ? SS_FH_BAD_CAR : h.err;
        return r->err;
    }
    const uint8_t *q = p + k + hlen, *end = p + n;
    while (q < end) {
        uint64_t slen;
        r->p = q;
        k = ss_fh_uvarint(q, (size_t)(end - q), &slen);
        if (k == 0) return ss_fh_fail(r, SS_FH_TRUNCATED, "CAR section length cut short");
        if (k < 0) return ss_fh_fail(r, SS_FH_BAD_VARINT, "CAR section length is not a valid varint");
        q += k;
        if (slen > (uint64_t)(end - q)) return ss_fh_fail(r, SS_FH_TRUNCATED, "CAR section of %llu bytes runs past the end", (unsigned long long)slen);
        ss_fh_cid cid;
        int e = ss_fh_cid_parse(q, (size_t)slen, &cid);
        if (e) return ss_fh_fail(r, e, "malformed block CID in the CAR");
        if (c->n >= max_blocks) return ss_fh_fail(r, SS_FH_CAR_TOO_BIG, "more than %zu blocks in the CAR", max_blocks);
        if ((e = add_block(c, &cid, q + cid.len, (size_t)slen - cid.len))) return ss_fh_fail(r, e, "out of memory");
        q += slen;
    }
    if (build_table(c)) return ss_fh_fail(r, SS_FH_OOM, "out of memory");
    return 0;
}

const ss_fh_block *ss_fh_car_find(const ss_fh_car *c, const uint8_t *cid, size_t n) {
    if (!c->n || !c->table_cap) return NULL;
    size_t mask = c->table_cap - 1, slot = cid_hash(cid, n) & mask;
    for (;;) {
        uint32_t e = c->table[slot];
        if (!e) return NULL;
        const ss_fh_block *b = &c->blocks[e - 1];
        if (b->cid_len == n && !memcmp(b->cid, cid, n)) return b;
        slot = (slot + 1) & mask;
    }
}
