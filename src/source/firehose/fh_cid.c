/* CIDs: the content addresses linking firehose blocks and records.
 *
 * A binary CIDv1 is varint(version=1) varint(codec) varint(hash code) varint(digest len)
 * digest. atproto uses codec 0x71 (dag-cbor) for records and commits, 0x55 (raw) for
 * blobs, and sha2-256 (0x12, 32 bytes) for hashes. Its text form is "b" (the multibase
 * prefix) followed by base32 lower-case without padding. A CIDv0 is a bare sha2-256
 * multihash (0x12 0x20 + 32 bytes) printed in base58btc; atproto does not produce them,
 * but they are parsed and printed rather than dropped.
 *
 * Verification hashes the block bytes with OpenSSL's SHA-256 (SHA-NI where the CPU has
 * it) and compares with the digest in the CID. */
#include "source/firehose/fh_internal.h"

#include <openssl/evp.h>
#include <string.h>

int ss_fh_uvarint(const uint8_t *p, size_t n, uint64_t *v) {
    uint64_t x = 0;
    for (size_t i = 0; i < 9; i++) {
        if (i >= n) return 0;
        uint8_t b = p[i];
        x |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            if (b == 0 && i > 0) return -1; /* not minimal */
            *v = x;
            return (int)i + 1;
        }
    }
    return -1; /* more than 9 bytes (over 63 bits) */
}

static int take_varint(const uint8_t **p, const uint8_t *end, uint64_t *v) {
    int k = ss_fh_uvarint(*p, (size_t)(end - *p), v);
    if (k == 0) return SS_FH_TRUNCATED;
    if (k < 0) return SS_FH_BAD_VARINT;
    *p += k;
    return 0;
}

int ss_fh_cid_parse(const uint8_t *p, size_t n, ss_fh_cid *c) {
    const uint8_t *q = p, *end = p + (n > FH_MAX_CID_BYTES ? FH_MAX_CID_BYTES : n);
    int e;
    memset(c, 0, sizeof *c);
    c->bytes = p;
    if (n >= 2 && p[0] == 0x12 && p[1] == 0x20) { /* CIDv0 */
        if (n < 34) return SS_FH_TRUNCATED;
        c->version = 0, c->codec = 0x70 /* dag-pb */, c->mh_code = FH_MH_SHA256;
        c->digest = p + 2, c->digest_len = 32, c->len = 34;
        return 0;
    }
    uint64_t ver, len;
    if ((e = take_varint(&q, end, &ver))) return e;
    if (ver != 1) return SS_FH_BAD_CID;
    if ((e = take_varint(&q, end, &c->codec)) || (e = take_varint(&q, end, &c->mh_code)) ||
        (e = take_varint(&q, end, &len)))
        return e;
    if (len > (uint64_t)(end - q)) return n > FH_MAX_CID_BYTES ? SS_FH_BAD_CID : SS_FH_TRUNCATED;
    c->version = 1;
    c->digest = q;
    c->digest_len = (size_t)len;
    c->len = (size_t)(q + len - p);
    return 0;
}

static const char b32[] = "abcdefghijklmnopqrstuvwxyz234567";
static const char b58[] = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

static int base58(ss_buf *b, const uint8_t *p, size_t n) {
    uint8_t digits[160]; /* base58 digits, little-endian; n <= FH_MAX_CID_BYTES */
    size_t nd = 0, zeros = 0;
    if (n > FH_MAX_CID_BYTES) return -1;
    while (zeros < n && p[zeros] == 0) zeros++;
    for (size_t i = zeros; i < n; i++) {
        unsigned carry = p[i];
        for (size_t j = 0; j < nd; j++) {
            carry += (unsigned)digits[j] << 8;
            digits[j] = (uint8_t)(carry % 58);
            carry /= 58;
        }
        while (carry) {
            digits[nd++] = (uint8_t)(carry % 58);
            carry /= 58;
        }
    }
    if (ss_buf_reserve(b, zeros + nd) < 0) return -1;
    for (size_t i = 0; i < zeros; i++) b->data[b->len++] = '1';
    while (nd) b->data[b->len++] = b58[digits[--nd]];
    b->data[b->len] = '\0';
    return 0;
}

int ss_fh_cid_text(ss_buf *b, const uint8_t *cid, size_t n) {
    if (n == 34 && cid[0] == 0x12 && cid[1] == 0x20) return base58(b, cid, n);
    if (ss_buf_reserve(b, 1 + (n * 8 + 4) / 5) < 0) return -1;
    char *o = b->data + b->len;
    *o++ = 'b';
    uint64_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        acc = acc << 8 | cid[i];
        bits += 8;
        while (bits >= 5) {
            bits -= 5;
            *o++ = b32[(acc >> bits) & 31];
        }
    }
    if (bits > 0) *o++ = b32[(acc << (5 - bits)) & 31];
    b->len = (size_t)(o - b->data);
    b->data[b->len] = '\0';
    return 0;
}

/* The digest is fetched once and the context reused: OpenSSL 3's one-shot SHA256()
 * looks the algorithm up on every call, which costs more than hashing a small block. */
int ss_fh_hasher_init(ss_fh_hasher *h) {
    h->md = EVP_MD_fetch(NULL, "SHA256", NULL);
    h->ctx = EVP_MD_CTX_new();
    return h->md && h->ctx ? 0 : -1;
}

void ss_fh_hasher_free(ss_fh_hasher *h) {
    EVP_MD_CTX_free(h->ctx);
    EVP_MD_free(h->md);
    h->ctx = NULL, h->md = NULL;
}

int ss_fh_cid_verify(ss_fh_hasher *h, const ss_fh_cid *c, const uint8_t *data, size_t n) {
    if (c->mh_code != FH_MH_SHA256 || c->digest_len != 32) return -1;
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    if (!EVP_DigestInit_ex(h->ctx, h->md, NULL) || !EVP_DigestUpdate(h->ctx, data, n) ||
        !EVP_DigestFinal_ex(h->ctx, md, &mdlen) || mdlen != 32)
        return -1;
    return memcmp(md, c->digest, 32) == 0;
}
