/* See fh_sig.h. Keys are built with EVP_PKEY_fromdata from the compressed point (OpenSSL
 * checks it is on the curve), signatures turned into DER for EVP_PKEY_verify; the low-S
 * rule and the ranges of r and s are checked here first, on the raw bytes. */
#include "source/firehose/fh_sig.h"

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <stdio.h>
#include <string.h>

#include "source/firehose/fh_internal.h"

/* Group orders n, big-endian. */
static const uint8_t K256_N[32] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                   0xff, 0xff, 0xff, 0xff, 0xfe, 0xba, 0xae, 0xdc, 0xe6, 0xaf, 0x48,
                                   0xa0, 0x3b, 0xbf, 0xd2, 0x5e, 0x8c, 0xd0, 0x36, 0x41, 0x41};
static const uint8_t P256_N[32] = {0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff,
                                   0xff, 0xff, 0xff, 0xff, 0xff, 0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17,
                                   0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51};

static const char B58[] = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

/* base58btc -> bytes (leading '1's are zero bytes). Returns the length, or -1. */
static long b58_decode(const char *s, size_t n, uint8_t *out, size_t cap) {
    uint8_t tmp[SS_FH_KEY_MULTIBASE_MAX];
    size_t len = 0, zeros = 0;
    while (zeros < n && s[zeros] == '1') zeros++;
    for (size_t i = zeros; i < n; i++) {
        const char *c = memchr(B58, s[i], 58);
        if (!c || !s[i]) return -1;
        unsigned carry = (unsigned)(c - B58);
        for (size_t j = 0; j < len; j++) { /* tmp holds the number little-endian */
            carry += (unsigned)tmp[j] * 58;
            tmp[j] = (uint8_t)carry;
            carry >>= 8;
        }
        while (carry) {
            if (len == sizeof tmp) return -1;
            tmp[len++] = (uint8_t)carry;
            carry >>= 8;
        }
    }
    if (zeros + len > cap) return -1;
    memset(out, 0, zeros);
    for (size_t j = 0; j < len; j++) out[zeros + j] = tmp[len - 1 - j];
    return (long)(zeros + len);
}

int ss_fh_key_parse(const char *text, ss_fh_pubkey *out, char *err, size_t errlen) {
    if (!strncmp(text, "did:key:", 8)) text += 8;
    size_t n = strlen(text);
    if (n < 2 || n > SS_FH_KEY_MULTIBASE_MAX || text[0] != 'z')
        return snprintf(err, errlen, "not a base58btc multibase key ('z...')"), -1;
    uint8_t raw[SS_FH_KEY_MULTIBASE_MAX];
    long len = b58_decode(text + 1, n - 1, raw, sizeof raw);
    if (len < 0) return snprintf(err, errlen, "bad base58btc in the key"), -1;
    size_t off;
    if (len >= 2 && raw[0] == 0xe7 && raw[1] == 0x01) out->curve = SS_FH_CURVE_K256, off = 2;
    else if (len >= 2 && raw[0] == 0x80 && raw[1] == 0x24) out->curve = SS_FH_CURVE_P256, off = 2;
    else return snprintf(err, errlen, "unsupported key type (want secp256k1 0xe7 or P-256 0x1200)"), -1;
    if ((size_t)len - off != 33 || (raw[off] != 0x02 && raw[off] != 0x03))
        return snprintf(err, errlen, "the key is not a 33-byte compressed point"), -1;
    memcpy(out->point, raw + off, 33);
    return 0;
}

static EVP_PKEY *make_key(const ss_fh_pubkey *k) {
    OSSL_PARAM_BLD *b = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    EVP_PKEY *pk = NULL;
    const char *group = k->curve == SS_FH_CURVE_K256 ? "secp256k1" : "prime256v1";
    if (!b || !OSSL_PARAM_BLD_push_utf8_string(b, OSSL_PKEY_PARAM_GROUP_NAME, group, 0) ||
        !OSSL_PARAM_BLD_push_octet_string(b, OSSL_PKEY_PARAM_PUB_KEY, k->point, 33) ||
        !(params = OSSL_PARAM_BLD_to_param(b)) || !(ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) ||
        EVP_PKEY_fromdata_init(ctx) <= 0 || EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, params) <= 0)
        pk = NULL;
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(b);
    return pk;
}

static int is_zero(const uint8_t *p) {
    for (int i = 0; i < 32; i++)
        if (p[i]) return 0;
    return 1;
}

/* s > n/2, comparing 2s with n without a bignum: s > n >> 1 for odd n. */
static int high_s(const uint8_t *s, const uint8_t *n) {
    uint8_t half[32];
    unsigned carry = 0;
    for (int i = 0; i < 32; i++) {
        half[i] = (uint8_t)((n[i] >> 1) | carry);
        carry = (n[i] & 1) << 7;
    }
    return memcmp(s, half, 32) > 0;
}

int ss_fh_sig_verify(const ss_fh_pubkey *key, const uint8_t *msg, size_t n, const uint8_t *sig, size_t siglen,
                     char *err, size_t errlen) {
    const uint8_t *order = key->curve == SS_FH_CURVE_K256 ? K256_N : P256_N;
    if (siglen != 64) return SS_FH_SIG_BAD;
    const uint8_t *r = sig, *s = sig + 32;
    if (is_zero(r) || is_zero(s) || memcmp(r, order, 32) >= 0 || memcmp(s, order, 32) >= 0) return SS_FH_SIG_BAD;
    if (high_s(s, order)) return SS_FH_SIG_BAD;
    uint8_t hash[32];
    unsigned hl = 0;
    if (!EVP_Digest(msg, n, hash, &hl, EVP_sha256(), NULL) || hl != 32)
        return snprintf(err, errlen, "sha-256 failed"), SS_FH_SIG_ERR;
    EVP_PKEY *pk = make_key(key);
    if (!pk) return snprintf(err, errlen, "the key is not a point on its curve"), SS_FH_SIG_ERR;
    int rc = SS_FH_SIG_ERR;
    ECDSA_SIG *es = ECDSA_SIG_new();
    BIGNUM *br = BN_bin2bn(r, 32, NULL), *bs = BN_bin2bn(s, 32, NULL);
    unsigned char *der = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    if (!es || !br || !bs || !ECDSA_SIG_set0(es, br, bs)) {
        BN_free(br);
        BN_free(bs);
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    int dl = i2d_ECDSA_SIG(es, &der);
    if (dl <= 0 || !(ctx = EVP_PKEY_CTX_new(pk, NULL)) || EVP_PKEY_verify_init(ctx) <= 0) {
        snprintf(err, errlen, "OpenSSL could not start a verification");
        goto out;
    }
    int v = EVP_PKEY_verify(ctx, der, (size_t)dl, hash, 32);
    if (v == 1) rc = SS_FH_SIG_OK;
    else if (v == 0) rc = SS_FH_SIG_BAD;
    else snprintf(err, errlen, "OpenSSL verification failed");
out:
    EVP_PKEY_CTX_free(ctx);
    OPENSSL_free(der);
    ECDSA_SIG_free(es);
    EVP_PKEY_free(pk);
    return rc;
}

/* Writes a CBOR map head with count m. */
static size_t map_head(uint8_t *o, uint64_t m) {
    if (m < 24) return o[0] = (uint8_t)(0xa0 | m), 1;
    if (m <= 0xff) return o[0] = 0xb8, o[1] = (uint8_t)m, 2;
    return o[0] = 0xb9, o[1] = (uint8_t)(m >> 8), o[2] = (uint8_t)m, 3;
}

long ss_fh_commit_unsigned(const uint8_t *block, size_t n, uint8_t *out, size_t cap, const uint8_t **sig,
                           size_t *siglen, char *err, size_t errlen) {
    ss_fh_rd r;
    ss_fh_rd_init(&r, block, n, NULL, 0);
    uint64_t m;
    if (ss_fh_map(&r, &m) || m == 0 || m > 0xffff) return snprintf(err, errlen, "the commit is not a CBOR map"), -1;
    size_t w = map_head(out, m - 1);
    int found = 0;
    for (uint64_t i = 0; i < m; i++) {
        const uint8_t *start = r.p;
        const char *k;
        size_t kl;
        if (ss_fh_text(&r, &k, &kl)) return snprintf(err, errlen, "a commit key is not text"), -1;
        if (kl == 3 && !memcmp(k, "sig", 3)) {
            if (found || ss_fh_bytes(&r, sig, siglen)) return snprintf(err, errlen, "bad sig field"), -1;
            found = 1;
            continue;
        }
        if (ss_fh_skip(&r, 32)) return snprintf(err, errlen, "bad commit field"), -1;
        size_t len = (size_t)(r.p - start);
        if (w + len > cap) return snprintf(err, errlen, "commit too large"), -1;
        memcpy(out + w, start, len);
        w += len;
    }
    if (!found) return snprintf(err, errlen, "the commit has no sig"), -1;
    if (r.p != r.end) return snprintf(err, errlen, "bytes after the commit map"), -1;
    return (long)w;
}
