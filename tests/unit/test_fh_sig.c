/* Unit tests for commit signatures (src/source/firehose/fh_sig.h), with keys the test
 * makes: for secp256k1 and P-256, a key is generated with OpenSSL, published the way a DID
 * document does (multibase base58btc of multicodec + compressed point, encoded here
 * independently), and a commit is signed over its unsigned DAG-CBOR. Then: the good
 * signature verifies; a changed commit, a changed signature and another account's key do
 * not; the high-S twin of a valid signature (also valid ECDSA) is rejected; r or s zero or
 * not below n is rejected; unknown key types and malformed keys are refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>

#include "fh_encode.h"
#include "source/firehose/fh_decode.h"
#include "source/firehose/did_resolve.h"
#include "source/firehose/fh_sig.h"
#include "frames/frames.h"
#include "source/source.h"
#include "util/buf.h"

/* base58btc, written here apart from the decoder under test (big-number division). */
static void b58_encode(const uint8_t *in, size_t n, char *out) {
    static const char A[] = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
    uint8_t num[64];
    memcpy(num, in, n);
    char rev[128];
    size_t rl = 0, zeros = 0;
    while (zeros < n && in[zeros] == 0) zeros++;
    size_t start = zeros;
    while (start < n) {
        unsigned rem = 0;
        for (size_t i = start; i < n; i++) {
            unsigned v = rem * 256 + num[i];
            num[i] = (uint8_t)(v / 58);
            rem = v % 58;
        }
        rev[rl++] = A[rem];
        while (start < n && num[start] == 0) start++;
    }
    size_t o = 0;
    for (size_t i = 0; i < zeros; i++) out[o++] = '1';
    while (rl) out[o++] = rev[--rl];
    out[o] = '\0';
}

typedef struct {
    EVP_PKEY *pk;
    char multibase[128];
    int curve;
} test_key;

static void make_key(test_key *k, int curve) {
    k->curve = curve;
    k->pk = EVP_PKEY_Q_keygen(NULL, NULL, "EC", curve == SS_FH_CURVE_K256 ? "secp256k1" : "P-256");
    assert_non_null(k->pk);
    assert_int_equal(EVP_PKEY_set_utf8_string_param(k->pk, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT, "compressed"), 1);
    uint8_t pub[40];
    size_t pl = 0;
    assert_int_equal(EVP_PKEY_get_octet_string_param(k->pk, OSSL_PKEY_PARAM_PUB_KEY, pub, sizeof pub, &pl), 1);
    assert_int_equal(pl, 33);
    uint8_t mc[35];
    if (curve == SS_FH_CURVE_K256) mc[0] = 0xe7, mc[1] = 0x01;
    else mc[0] = 0x80, mc[1] = 0x24; /* varint of 0x1200 */
    memcpy(mc + 2, pub, 33);
    k->multibase[0] = 'z';
    b58_encode(mc, sizeof mc, k->multibase + 1);
}

static const uint8_t K256_N[32] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                   0xff, 0xff, 0xff, 0xff, 0xfe, 0xba, 0xae, 0xdc, 0xe6, 0xaf, 0x48,
                                   0xa0, 0x3b, 0xbf, 0xd2, 0x5e, 0x8c, 0xd0, 0x36, 0x41, 0x41};
static const uint8_t P256_N[32] = {0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff,
                                   0xff, 0xff, 0xff, 0xff, 0xff, 0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17,
                                   0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51};

/* Signs SHA-256(msg) and writes r || s in low-S form (as atproto signers must). */
static void sign_low_s(const test_key *k, const uint8_t *msg, size_t n, uint8_t sig[64]) {
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    assert_int_equal(EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, k->pk), 1);
    uint8_t der[80];
    size_t dl = sizeof der;
    assert_int_equal(EVP_DigestSign(md, der, &dl, msg, n), 1);
    EVP_MD_CTX_free(md);
    const unsigned char *p = der;
    ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)dl);
    assert_non_null(es);
    const BIGNUM *r, *s;
    ECDSA_SIG_get0(es, &r, &s);
    BIGNUM *order = BN_bin2bn(k->curve == SS_FH_CURVE_K256 ? K256_N : P256_N, 32, NULL);
    BIGNUM *half = BN_dup(order), *low = BN_dup(s);
    BN_rshift1(half, half);
    if (BN_cmp(low, half) > 0) BN_sub(low, order, low);
    assert_int_equal(BN_bn2binpad(r, sig, 32), 32);
    assert_int_equal(BN_bn2binpad(low, sig + 32, 32), 32);
    BN_free(order);
    BN_free(half);
    BN_free(low);
    ECDSA_SIG_free(es);
}

/* s -> n - s: the other, high-S, encoding of the same signature. */
static void to_high_s(int curve, uint8_t sig[64]) {
    BIGNUM *order = BN_bin2bn(curve == SS_FH_CURVE_K256 ? K256_N : P256_N, 32, NULL);
    BIGNUM *s = BN_bin2bn(sig + 32, 32, NULL);
    BN_sub(s, order, s);
    assert_int_equal(BN_bn2binpad(s, sig + 32, 32), 32);
    BN_free(order);
    BN_free(s);
}

/* A commit in canonical DAG-CBOR key order (length first, then bytes): did, rev, sig,
 * data, prev, version. Written by hand; sig is 64 bytes at a known offset. */
static size_t build_commit(uint8_t *out, const uint8_t *sig, size_t *sig_off) {
    size_t o = 0;
    out[o++] = 0xa6;
    out[o++] = 0x63, memcpy(out + o, "did", 3), o += 3;
    const char *did = "did:plc:testtesttesttesttesttest";
    out[o++] = (uint8_t)(0x60 | 24), out[o++] = (uint8_t)strlen(did), memcpy(out + o, did, strlen(did)), o += strlen(did);
    out[o++] = 0x63, memcpy(out + o, "rev", 3), o += 3;
    out[o++] = 0x6d, memcpy(out + o, "3l7abcdefgh22", 13), o += 13;
    out[o++] = 0x63, memcpy(out + o, "sig", 3), o += 3;
    out[o++] = 0x58, out[o++] = 64;
    *sig_off = o;
    memcpy(out + o, sig, 64), o += 64;
    out[o++] = 0x64, memcpy(out + o, "data", 4), o += 4;
    /* tag 42, bytes 0x00 + a 36-byte CIDv1 (dag-cbor, sha-256) */
    out[o++] = 0xd8, out[o++] = 42, out[o++] = 0x58, out[o++] = 37, out[o++] = 0x00;
    out[o++] = 0x01, out[o++] = 0x71, out[o++] = 0x12, out[o++] = 0x20;
    for (int i = 0; i < 32; i++) out[o++] = (uint8_t)(i * 7);
    out[o++] = 0x64, memcpy(out + o, "prev", 4), o += 4;
    out[o++] = 0xf6;
    out[o++] = 0x67, memcpy(out + o, "version", 7), o += 7;
    out[o++] = 0x03;
    return o;
}

static void check_curve(int curve) {
    char err[200];
    test_key k, other;
    make_key(&k, curve);
    make_key(&other, curve);
    ss_fh_pubkey pub, opub;
    assert_int_equal(ss_fh_key_parse(k.multibase, &pub, err, sizeof err), 0);
    assert_int_equal(pub.curve, curve);
    char didkey[160];
    snprintf(didkey, sizeof didkey, "did:key:%s", other.multibase);
    assert_int_equal(ss_fh_key_parse(didkey, &opub, err, sizeof err), 0);

    /* the unsigned commit: the same map without sig */
    uint8_t zero[64] = {0}, commit[256], uns[256], sig[64];
    size_t sig_off;
    size_t cl = build_commit(commit, zero, &sig_off);
    const uint8_t *s;
    size_t sl;
    long ul = ss_fh_commit_unsigned(commit, cl, uns, sizeof uns, &s, &sl, err, sizeof err);
    assert_true(ul > 0);
    assert_int_equal((size_t)ul, cl - (1 + 3 + 2 + 64));
    assert_int_equal(uns[0], 0xa5);
    assert_int_equal(sl, 64);
    sign_low_s(&k, uns, (size_t)ul, sig);
    memcpy(commit + sig_off, sig, 64);
    ul = ss_fh_commit_unsigned(commit, cl, uns, sizeof uns, &s, &sl, err, sizeof err);
    assert_true(ul > 0);

    /* good */
    assert_int_equal(ss_fh_sig_verify(&pub, uns, (size_t)ul, s, sl, err, sizeof err), SS_FH_SIG_OK);
    /* another account's key */
    assert_int_equal(ss_fh_sig_verify(&opub, uns, (size_t)ul, s, sl, err, sizeof err), SS_FH_SIG_BAD);
    /* a changed commit (one byte of rev) */
    uns[20] ^= 1;
    assert_int_equal(ss_fh_sig_verify(&pub, uns, (size_t)ul, s, sl, err, sizeof err), SS_FH_SIG_BAD);
    uns[20] ^= 1;
    /* a changed signature */
    uint8_t bad[64];
    memcpy(bad, s, 64);
    bad[10] ^= 0x40;
    assert_int_equal(ss_fh_sig_verify(&pub, uns, (size_t)ul, bad, 64, err, sizeof err), SS_FH_SIG_BAD);
    /* the high-S twin: valid ECDSA, but atproto accepts only low-S */
    memcpy(bad, s, 64);
    to_high_s(curve, bad);
    assert_int_equal(ss_fh_sig_verify(&pub, uns, (size_t)ul, bad, 64, err, sizeof err), SS_FH_SIG_BAD);
    /* r = 0, s = n, a short signature */
    memcpy(bad, s, 64);
    memset(bad, 0, 32);
    assert_int_equal(ss_fh_sig_verify(&pub, uns, (size_t)ul, bad, 64, err, sizeof err), SS_FH_SIG_BAD);
    memcpy(bad, s, 32);
    memcpy(bad + 32, curve == SS_FH_CURVE_K256 ? K256_N : P256_N, 32);
    assert_int_equal(ss_fh_sig_verify(&pub, uns, (size_t)ul, bad, 64, err, sizeof err), SS_FH_SIG_BAD);
    assert_int_equal(ss_fh_sig_verify(&pub, uns, (size_t)ul, s, 63, err, sizeof err), SS_FH_SIG_BAD);
    /* the same signature checked against the wrong curve's parse of the key */
    ss_fh_pubkey wrong = pub;
    wrong.curve = curve == SS_FH_CURVE_K256 ? SS_FH_CURVE_P256 : SS_FH_CURVE_K256;
    assert_int_not_equal(ss_fh_sig_verify(&wrong, uns, (size_t)ul, s, sl, err, sizeof err), SS_FH_SIG_OK);
    EVP_PKEY_free(k.pk);
    EVP_PKEY_free(other.pk);
}

static void test_k256(void **state) {
    (void)state;
    check_curve(SS_FH_CURVE_K256);
}

static void test_p256(void **state) {
    (void)state;
    check_curve(SS_FH_CURVE_P256);
}

static void test_bad_keys(void **state) {
    (void)state;
    char err[200];
    ss_fh_pubkey k;
    /* an ed25519 did:key (multicodec 0xed): unknown type */
    uint8_t ed[34] = {0xed, 0x01};
    char mb[80] = "z";
    b58_encode(ed, sizeof ed, mb + 1);
    assert_int_equal(ss_fh_key_parse(mb, &k, err, sizeof err), -1);
    assert_non_null(strstr(err, "unsupported key type"));
    assert_int_equal(ss_fh_key_parse("f0123", &k, err, sizeof err), -1);  /* not base58btc */
    assert_int_equal(ss_fh_key_parse("z0OIl", &k, err, sizeof err), -1);  /* not base58 characters */
    assert_int_equal(ss_fh_key_parse("z", &k, err, sizeof err), -1);
    /* the right prefix but an uncompressed-looking point */
    uint8_t odd[35] = {0xe7, 0x01, 0x04};
    b58_encode(odd, sizeof odd, mb + 1);
    assert_int_equal(ss_fh_key_parse(mb, &k, err, sizeof err), -1);
    /* a compressed point not on the curve parses but does not verify (x = 5 has no point on P-256? use x = 0) */
    uint8_t sig[64] = {1};
    sig[40] = 1;
    k.curve = SS_FH_CURVE_P256;
    memset(k.point, 0xff, 33);
    k.point[0] = 0x02;
    assert_int_equal(ss_fh_sig_verify(&k, (const uint8_t *)"x", 1, sig, 64, err, sizeof err), SS_FH_SIG_ERR);
    /* a commit without sig, and not a map */
    uint8_t out[64];
    const uint8_t *s;
    size_t sl;
    const uint8_t nosig[] = {0xa1, 0x63, 'd', 'i', 'd', 0x61, 'x'};
    assert_int_equal(ss_fh_commit_unsigned(nosig, sizeof nosig, out, sizeof out, &s, &sl, err, sizeof err), -1);
    const uint8_t arr[] = {0x81, 0x01};
    assert_int_equal(ss_fh_commit_unsigned(arr, sizeof arr, out, sizeof out, &s, &sl, err, sizeof err), -1);
}

/* ---- through the decoder: frames signed by the test's keys ------------------------------ */

typedef struct {
    const test_key *signer;
} sign_ctx;

static void sign_cb(void *ud, const uint8_t *uns, size_t n, uint8_t sig[64]) {
    const sign_ctx *c = ud;
    sign_low_s(c->signer, uns, n, sig);
}

typedef struct {
    ss_fh_pubkey first, fresh; /* the key known, and the one a refresh finds */
    int have_first, have_fresh, refreshes;
} key_ctx;

static int key_cb(void *ud, const char *did, size_t n, int refresh, struct ss_fh_pubkey_s *key) {
    key_ctx *k = ud;
    (void)did, (void)n;
    if (refresh) {
        k->refreshes++;
        if (!k->have_fresh) return 0;
        *key = k->fresh;
        return 2;
    }
    if (!k->have_first) return 0;
    *key = k->first;
    return 1;
}

static const char *decode_one(const uint8_t *frame, size_t len, key_ctx *kc, ss_fh_stats *st) {
    ss_fh_opts o;
    ss_fh_opts_init(&o);
    o.sig_key = key_cb;
    o.sig_ud = kc;
    ss_fh_decoder *d = ss_fh_decoder_new(&o);
    assert_non_null(d);
    assert_int_equal(ss_fh_decode(d, frame, len), 1);
    ss_source_msg m;
    memset(&m, 0, sizeof m);
    ss_fh_output(d, 0, &m);
    *st = *ss_fh_stats_get(d);
    ss_fh_decoder_free(d);
    return m.bad_reason; /* a static name, or NULL for an event */
}

static void test_decoder(void **state) {
    (void)state;
    char err[200];
    test_key k, other;
    make_key(&k, SS_FH_CURVE_K256);
    make_key(&other, SS_FH_CURVE_P256);
    ss_fh_pubkey pub, opub;
    assert_int_equal(ss_fh_key_parse(k.multibase, &pub, err, sizeof err), 0);
    assert_int_equal(ss_fh_key_parse(other.multibase, &opub, err, sizeof err), 0);
    ss_buf rec, frame;
    ss_buf_init(&rec);
    ss_buf_init(&frame);
    const char *like = "{\"$type\":\"app.bsky.feed.like\",\"createdAt\":\"2026-05-25T14:23:28.778Z\","
                       "\"subject\":{\"cid\":\"bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm\","
                       "\"uri\":\"at://did:plc:x/app.bsky.feed.post/3k\"}}";
    assert_int_equal(fhe_json_record_to_cbor(&rec, like, strlen(like), err, sizeof err), 0);
    fhe_op op = {.action = "create", .path = "app.bsky.feed.like/3kabc", .record = (const uint8_t *)rec.data,
                 .record_len = rec.len};
    sign_ctx sc = {&k};
    fhe_commit c = {.seq = 7, .repo = "did:plc:signer", .rev = "3signrev", .time = "2026-05-25T14:23:28.778Z",
                    .ops = &op, .nops = 1, .sign = sign_cb, .sign_ud = &sc};
    fhe_commit_frame(&frame, &c);
    ss_fh_stats st;

    /* the account's key: the event, counted as verified */
    key_ctx kc = {.first = pub, .have_first = 1};
    assert_null(decode_one((const uint8_t *)frame.data, frame.len, &kc, &st));
    assert_int_equal(st.sig_ok, 1);
    assert_int_equal(kc.refreshes, 0);
    /* another key, and no fresher one: bad_signature, after one refresh */
    kc = (key_ctx){.first = opub, .have_first = 1};
    const char *r = decode_one((const uint8_t *)frame.data, frame.len, &kc, &st);
    assert_non_null(r);
    assert_string_equal(r, "bad_signature");
    assert_int_equal(st.by_reason[SS_FH_BAD_SIGNATURE], 1);
    assert_int_equal(kc.refreshes, 1);
    /* a rotated key: the cached one fails, the refreshed one verifies */
    kc = (key_ctx){.first = opub, .have_first = 1, .fresh = pub, .have_fresh = 1};
    assert_null(decode_one((const uint8_t *)frame.data, frame.len, &kc, &st));
    assert_int_equal(st.sig_ok, 1);
    assert_int_equal(kc.refreshes, 1);
    /* no key known: passed through and counted */
    kc = (key_ctx){0};
    assert_null(decode_one((const uint8_t *)frame.data, frame.len, &kc, &st));
    assert_int_equal(st.sig_no_key, 1);
    assert_int_equal(st.sig_ok, 0);
    /* a commit signed by someone else (random signature bytes): bad_signature */
    c.sign = NULL;
    ss_buf_reset(&frame);
    fhe_commit_frame(&frame, &c);
    kc = (key_ctx){.first = pub, .have_first = 1};
    r = decode_one((const uint8_t *)frame.data, frame.len, &kc, &st);
    assert_non_null(r);
    assert_string_equal(r, "bad_signature");
    ss_buf_free(&rec);
    ss_buf_free(&frame);
    EVP_PKEY_free(k.pk);
    EVP_PKEY_free(other.pk);
}

/* ---- the frames: source with verify-signatures and a DID-document cache ------------- */

static void test_source(void **state) {
    (void)state;
    char err[300];
    test_key k;
    make_key(&k, SS_FH_CURVE_P256);
    char dir[256];
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/test_fh_sig.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(dir));
    char docs[300], frames[300];
    assert_true(strlen(dir) < 200);
    snprintf(docs, sizeof docs, "%s/keys.json", dir);
    snprintf(frames, sizeof frames, "%s/in.frames", dir);
    /* an array: the signer's document (PLC style, full id) and one without an atproto key */
    FILE *f = fopen(docs, "w");
    assert_non_null(f);
    fprintf(f, "[{\"id\":\"did:plc:signer\",\"alsoKnownAs\":[\"at://signer.test\"],\"verificationMethod\":[{\"id\":"
               "\"did:plc:signer#atproto\",\"type\":\"Multikey\",\"controller\":\"did:plc:signer\","
               "\"publicKeyMultibase\":\"%s\"}]},{\"id\":\"did:plc:keyless\",\"verificationMethod\":[]}]\n",
            k.multibase);
    fclose(f);
    ss_buf rec, frame;
    ss_buf_init(&rec);
    ss_buf_init(&frame);
    const char *like = "{\"$type\":\"app.bsky.feed.like\",\"createdAt\":\"2026-05-25T14:23:28.778Z\","
                       "\"subject\":{\"cid\":\"bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm\","
                       "\"uri\":\"at://did:plc:x/app.bsky.feed.post/3k\"}}";
    assert_int_equal(fhe_json_record_to_cbor(&rec, like, strlen(like), err, sizeof err), 0);
    fhe_op op = {.action = "create", .path = "app.bsky.feed.like/3kabc", .record = (const uint8_t *)rec.data,
                 .record_len = rec.len};
    sign_ctx sc = {&k};
    ss_frames_writer *w = ss_frames_writer_open(frames, 0, err, sizeof err);
    assert_non_null(w);
    /* 1 signed by the account; 2 the same account, not signed by its key; 3 an account the
     * cache does not know (passes, counted) */
    fhe_commit c1 = {.seq = 1, .repo = "did:plc:signer", .rev = "3rev1", .time = "2026-05-25T14:23:28.778Z",
                     .ops = &op, .nops = 1, .sign = sign_cb, .sign_ud = &sc};
    fhe_commit c2 = c1, c3 = c1;
    c2.seq = 2, c2.rev = "3rev2", c2.sign = NULL;
    c3.seq = 3, c3.repo = "did:plc:stranger", c3.sign = NULL;
    const fhe_commit *all[] = {&c1, &c2, &c3};
    for (int i = 0; i < 3; i++) {
        ss_buf_reset(&frame);
        fhe_commit_frame(&frame, all[i]);
        assert_int_equal(ss_frames_writer_append(w, frame.data, frame.len), 0);
    }
    assert_int_equal(ss_frames_writer_close(w, err, sizeof err), 0);

    char spec[320];
    snprintf(spec, sizeof spec, "frames:%s", frames);
    ss_source_opts so;
    ss_source_opts_init(&so);
    so.verify_signatures = 1;
    so.did_resolve = 0; /* no network in tests: the cache alone (live resolution: firehose_signatures.sh) */
    /* without a cache and without live resolution: refused, saying what to set */
    assert_null(ss_source_open(spec, &so, err, sizeof err, NULL));
    assert_non_null(strstr(err, "did-cache"));
    so.did_cache = docs;
    ss_source *src = ss_source_open(spec, &so, err, sizeof err, NULL);
    assert_non_null(src);
    const char *got[3] = {0};
    int n = 0, r;
    ss_source_msg m;
    while ((r = ss_source_next(src, &m, 100)) == SS_SOURCE_MSG && n < 3) got[n++] = m.bad_reason ? m.bad_reason : "event";
    assert_int_equal(n, 3);
    assert_string_equal(got[0], "event");
    assert_string_equal(got[1], "bad_signature");
    assert_string_equal(got[2], "event");
    ss_source_close(src);
    /* a directory of documents works the same */
    so.did_cache = dir; /* keys.json is the only *.json there */
    src = ss_source_open(spec, &so, err, sizeof err, NULL);
    assert_non_null(src);
    assert_int_equal(ss_source_next(src, &m, 100), SS_SOURCE_MSG);
    assert_null(m.bad_reason);
    ss_source_close(src);
    unlink(docs);
    unlink(frames);
    rmdir(dir);
    ss_buf_free(&rec);
    ss_buf_free(&frame);
    EVP_PKEY_free(k.pk);
}

/* Where a DID's document is fetched: did:plc under the directory, did:web per its spec. */
static void test_doc_url(void **state) {
    (void)state;
    char u[256];
#define URL_OK(plc, did, want)                                                       \
    do {                                                                             \
        assert_int_equal(ss_did_doc_url(plc, did, strlen(did), u, sizeof u), 0); \
        assert_string_equal(u, want);                                                \
    } while (0)
    URL_OK(NULL, "did:plc:ewvi7nxzyoun6zhxrhs64oiz", "https://plc.directory/did:plc:ewvi7nxzyoun6zhxrhs64oiz");
    URL_OK("http://127.0.0.1:8080/", "did:plc:abc", "http://127.0.0.1:8080/did:plc:abc");
    URL_OK(NULL, "did:web:w3c-ccg.github.io", "https://w3c-ccg.github.io/.well-known/did.json");
    URL_OK(NULL, "did:web:w3c-ccg.github.io:user:alice", "https://w3c-ccg.github.io/user/alice/did.json");
    URL_OK(NULL, "did:web:example.com%3A3000", "https://example.com:3000/.well-known/did.json");
    URL_OK(NULL, "did:web:example.com%3A3000:u", "https://example.com:3000/u/did.json");
    const char *bad[] = {"did:key:zQ3s", "did:web:", "did:web:a::b", "did:web:a/b", "did:plc:a?b", "did:web:ex%2Fa",
                         "did:plc:a b"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(ss_did_doc_url(NULL, bad[i], strlen(bad[i]), u, sizeof u), -1);
    char tiny[16];
    assert_int_equal(ss_did_doc_url(NULL, "did:plc:abc", 11, tiny, sizeof tiny), -1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_k256),
        cmocka_unit_test(test_p256),
        cmocka_unit_test(test_bad_keys),
        cmocka_unit_test(test_decoder),
        cmocka_unit_test(test_source),
        cmocka_unit_test(test_doc_url),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
