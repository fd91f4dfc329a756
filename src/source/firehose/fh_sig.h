/* Commit signatures of the atproto repository format, checked with OpenSSL 3.
 *
 * A commit is the DAG-CBOR map {did, version, data, rev, prev, sig}; sig is a compact
 * 64-byte ECDSA signature (r || s, big-endian) over SHA-256 of the DAG-CBOR encoding of
 * the same map without "sig". The signing key is secp256k1 or NIST P-256, published in the
 * account's DID document as a multibase string: 'z' (base58btc), then the multicodec
 * varint (0xe7 secp256k1-pub, 0x1200 p256-pub), then the 33-byte compressed point.
 *
 * Only low-S signatures are accepted (s <= n/2): atproto requires that form, so that one
 * signature has exactly one encoding; a high-S twin of a valid signature is rejected, not
 * normalised. This file is the check alone; it takes bytes and knows nothing of where keys
 * come from. */
#ifndef SS_FH_SIG_H
#define SS_FH_SIG_H

#include <stddef.h>
#include <stdint.h>

#define SS_FH_KEY_MULTIBASE_MAX 128 /* characters of a publicKeyMultibase accepted */

enum { SS_FH_CURVE_K256 = 1, SS_FH_CURVE_P256 = 2 };

typedef struct ss_fh_pubkey_s {
    int curve;          /* SS_FH_CURVE_* */
    uint8_t point[33];  /* compressed */
} ss_fh_pubkey;

/* Parses a publicKeyMultibase ("z...") or did:key ("did:key:z..."). 0, or -1 + err. */
int ss_fh_key_parse(const char *text, ss_fh_pubkey *out, char *err, size_t errlen);

enum { SS_FH_SIG_OK = 0, SS_FH_SIG_BAD = 1, SS_FH_SIG_ERR = -1 };

/* Checks sig (64 bytes, r || s) over msg with key: SS_FH_SIG_OK, SS_FH_SIG_BAD (wrong,
 * high-S, r or s zero or not below n), or SS_FH_SIG_ERR (not a point on the curve, OpenSSL
 * failure) with err. */
int ss_fh_sig_verify(const ss_fh_pubkey *key, const uint8_t *msg, size_t n, const uint8_t *sig, size_t siglen,
                     char *err, size_t errlen);

/* The unsigned form of a commit block: its DAG-CBOR map without the "sig" entry, written
 * to out (cap bytes), and the signature bytes. Returns the unsigned length, or -1 when the
 * block is not such a map (err). Relies on the block being canonical DAG-CBOR, as a CID
 * check proves: removing an entry from a canonical map leaves the others in order. */
long ss_fh_commit_unsigned(const uint8_t *block, size_t n, uint8_t *out, size_t cap, const uint8_t **sig,
                           size_t *siglen, char *err, size_t errlen);

#endif
