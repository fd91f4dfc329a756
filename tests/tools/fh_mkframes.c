/* fh_mkframes: Jetstream JSONL -> a frames file of real firehose frames (test tool).
 *
 *   fh_mkframes [--filler BYTES] [--seed S] [--expect FILE] [--seqs FILE] [--seq-start N] OUT[.zst] < events.jsonl
 *
 * Each commit event's record becomes canonical DAG-CBOR with a real CID, consecutive
 * commit events of one repo and rev become one multi-op #commit, and each CAR carries the
 * signed commit block plus about BYTES of MST-node-like blocks (live frames average about
 * 5.4 KB). identity/account events become their frames, sync events (skyspool's own kind)
 * #sync frames. Lines that are not convertible
 * events are skipped and counted (stderr).
 *
 * --expect writes what the decoder must print for these frames: each input line with its
 * time_us set to what a frames: replay gives (the frame time, never decreasing: see
 * SS_FH_CLOCK_REPLAY), a commit's claimed time added (commit.time) and, for
 * creates and updates, its "cid" set to the CID of the record as encoded (input CIDs may be made up, as in `skyspool synth`). --seqs
 * writes the frame seq of each expected line, for cursor tests. --seq-start N numbers the
 * commit frames from N (default 1).
 *
 * Signing (--sign DIR): every commit is signed as atproto requires (ECDSA over SHA-256 of
 * the unsigned commit, compact r||s, low-S) with a key per account, generated (P-256 for
 * every other new account, secp256k1 for the rest) or read (--key DID=PEM, a private key
 * in PEM), and the account's DID document (its atproto key as publicKeyMultibase) is
 * written to DIR/<did>.json, the form a did-cache directory or a PLC directory serves.
 * --wrong-key DID signs that account's commits with another key than the one published:
 * each of them must fail verification. --rotated DID publishes the key it signs with in
 * DIR/<did>.json but writes the account's previous key to DIR/stale/<did>.json: a cache
 * holding the stale document must re-resolve to verify. Without --sign, signatures are
 * random bytes. */
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fh_encode.h"
#include "source/firehose/fh_decode.h"
#include "frames/frames.h"

typedef struct {
    ss_frames_writer *w;
    ss_fh_decoder *d;
    FILE *expect, *seqs;
    int failed;
    unsigned long long frames, bytes;
} tool;

/* The expected events are the decoder's own output only in shape: they are rebuilt from
 * the input lines by text substitution, so a decoder bug still shows as a difference. */
typedef struct {
    char **lines; /* FIFO of input lines not yet paired with a frame: [head, n) */
    size_t head, n, cap;
} pending;

static pending g_pending;

static void on_frame(void *ud, const uint8_t *frame, size_t len) {
    tool *t = ud;
    if (ss_frames_writer_append(t->w, frame, len)) {
        fprintf(stderr, "fh_mkframes: %s\n", ss_frames_writer_error(t->w));
        t->failed = 1;
    }
    t->frames++;
    t->bytes += len;
    if (!t->expect) return;
    /* Pair the frame with the input lines it came from (one per op, or one). */
    int n = ss_fh_decode(t->d, frame, len);
    if (n < 0 || (size_t)n > g_pending.n - g_pending.head) {
        fprintf(stderr, "fh_mkframes: frame %llu: %d outputs for %zu lines\n", t->frames, n, g_pending.n - g_pending.head);
        t->failed = 1;
        return;
    }
    for (size_t i = 0; i < (size_t)n; i++) {
        char *owned = g_pending.lines[g_pending.head++], *line = owned;
        ss_source_msg m = {0};
        if ((int)i < n) ss_fh_output(t->d, i, &m);
        /* time_us from the decoder output; "cid" of the op from the decoder output */
        long long tus = 0;
        const char *p = m.data ? strstr(m.data, "\"time_us\":") : NULL;
        if (p) tus = atoll(p + 10);
        char *q = strstr(line, "\"time_us\":");
        if (q) {
            char *e = q + 10;
            while (*e == '-' || (*e >= '0' && *e <= '9')) e++;
            fprintf(t->expect, "%.*s\"time_us\":%lld", (int)(q - line), line, tus);
            line = e;
        }
        /* the claimed time the decoder appends to a commit: ,"time":"..."}} at its end */
        const char *tsfx = NULL, *tend = m.data ? m.data + m.len : NULL;
        if (m.data && strstr(m.data, "\"kind\":\"commit\""))
            for (const char *s = strstr(m.data, ",\"time\":\""); s && s < m.data + m.len; s = strstr(s + 1, ",\"time\":\""))
                tsfx = s;
        if (tsfx) tend = tsfx;
        const char *gc = NULL;
        for (const char *s = m.data ? strstr(m.data, ",\"cid\":\"") : NULL; s && s < tend; s = strstr(s + 1, ",\"cid\":\""))
            gc = s;
        char *lc = NULL;
        for (char *s = strstr(line, ",\"cid\":\""); s; s = strstr(s + 1, ",\"cid\":\"")) lc = s;
        int is_write = strstr(line, "\"operation\":\"create\"") || strstr(line, "\"operation\":\"update\"");
        size_t ll = strlen(line);
        if (is_write && gc && lc && !strchr(lc + 8, ':') && !memchr(gc + 8, ':', (size_t)(tend - gc - 8))) {
            fprintf(t->expect, "%.*s%.*s\n", (int)(lc - line), line, (int)(m.data + m.len - gc), gc);
        } else if (tsfx && ll >= 2 && !strcmp(line + ll - 2, "}}")) {
            fprintf(t->expect, "%.*s%.*s\n", (int)(ll - 2), line, (int)(m.data + m.len - tsfx), tsfx);
        } else {
            fprintf(t->expect, "%s\n", line);
        }
        if (t->seqs) fprintf(t->seqs, "%lld\n", (long long)ss_fh_frame_seq(t->d));
        free(owned);
    }
    if (g_pending.head == g_pending.n) g_pending.head = g_pending.n = 0;
}

/* ---- signing ---- */

typedef struct {
    char *did;
    EVP_PKEY *sign, *published; /* published == sign unless --wrong-key */
    int curve;                  /* 1 secp256k1, 2 P-256 */
} account;

typedef struct {
    const char *dir;
    account *a;
    size_t n, cap;
    char **pem_did, **pem_path; /* --key */
    size_t npem;
    const char *wrong, *rotated; /* comma lists */
    int failed;
} signer;

static int in_list(const char *list, const char *did) {
    size_t n = strlen(did);
    for (const char *p = list; p && *p;) {
        const char *e = strchr(p, ',');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (l == n && !memcmp(p, did, n)) return 1;
        p = e ? e + 1 : NULL;
    }
    return 0;
}

static EVP_PKEY *gen_key(int curve) {
    return EVP_PKEY_Q_keygen(NULL, NULL, "EC", curve == 1 ? "secp256k1" : "P-256");
}

static int key_curve(EVP_PKEY *k) {
    char name[64];
    size_t l = 0;
    if (EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_GROUP_NAME, name, sizeof name, &l) != 1) return 0;
    return !strcmp(name, "secp256k1") ? 1 : !strcmp(name, "prime256v1") ? 2 : 0;
}

/* publicKeyMultibase: 'z' + base58btc(multicodec varint + compressed point). */
static int multibase(EVP_PKEY *k, int curve, char *out, size_t cap) {
    static const char A[] = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
    uint8_t num[40], pub[40];
    size_t pl = 0;
    if (EVP_PKEY_set_utf8_string_param(k, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT, "compressed") != 1 ||
        EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_PUB_KEY, pub, sizeof pub, &pl) != 1 || pl != 33)
        return -1;
    if (curve == 1) num[0] = 0xe7, num[1] = 0x01;
    else num[0] = 0x80, num[1] = 0x24;
    memcpy(num + 2, pub, 33);
    size_t n = 35, start = 0, rl = 0;
    char rev[64];
    while (start < n && num[start] == 0) start++;
    size_t zeros = start;
    while (start < n) {
        unsigned rem = 0;
        for (size_t i = start; i < n; i++) {
            unsigned v = rem * 256 + num[i];
            num[i] = (uint8_t)(v / 58), rem = v % 58;
        }
        rev[rl++] = A[rem];
        while (start < n && num[start] == 0) start++;
    }
    if (zeros + rl + 2 > cap) return -1;
    size_t o = 0;
    out[o++] = 'z';
    for (size_t i = 0; i < zeros; i++) out[o++] = '1';
    while (rl) out[o++] = rev[--rl];
    out[o] = '\0';
    return 0;
}

static int write_doc(const char *dir, const char *did, EVP_PKEY *k, int curve) {
    char mb[128], path[4096];
    if (multibase(k, curve, mb, sizeof mb) < 0) return -1;
    mkdir(dir, 0755);
    snprintf(path, sizeof path, "%s/%s.json", dir, did);
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    fprintf(f,
            "{\"@context\":[\"https://www.w3.org/ns/did/v1\",\"https://w3id.org/security/multikey/v1\"],"
            "\"id\":\"%s\",\"alsoKnownAs\":[],\"verificationMethod\":[{\"id\":\"%s#atproto\",\"type\":\"Multikey\","
            "\"controller\":\"%s\",\"publicKeyMultibase\":\"%s\"}],\"service\":[]}\n",
            did, did, did, mb);
    return fclose(f) == 0 ? 0 : -1;
}

static account *account_of(signer *sg, const char *did) {
    for (size_t i = 0; i < sg->n; i++)
        if (!strcmp(sg->a[i].did, did)) return &sg->a[i];
    if (sg->n == sg->cap) {
        sg->cap = sg->cap ? sg->cap * 2 : 16;
        sg->a = realloc(sg->a, sg->cap * sizeof *sg->a);
    }
    account *a = &sg->a[sg->n++];
    memset(a, 0, sizeof *a);
    a->did = strdup(did);
    for (size_t i = 0; i < sg->npem; i++)
        if (!strcmp(sg->pem_did[i], did)) {
            FILE *f = fopen(sg->pem_path[i], "r");
            if (f) a->sign = PEM_read_PrivateKey(f, NULL, NULL, NULL), fclose(f);
            if (!a->sign || !(a->curve = key_curve(a->sign))) {
                fprintf(stderr, "fh_mkframes: %s: not a secp256k1 or P-256 private key in PEM\n", sg->pem_path[i]);
                sg->failed = 1;
            }
        }
    if (!a->sign) a->curve = (sg->n % 2) ? 2 : 1, a->sign = gen_key(a->curve);
    a->published = a->sign;
    if (in_list(sg->wrong, did)) a->published = gen_key(a->curve);
    int bad = !a->sign || !a->published || write_doc(sg->dir, did, a->published, a->curve) < 0;
    if (!bad && in_list(sg->rotated, did)) {
        char stale[4096];
        snprintf(stale, sizeof stale, "%s/stale", sg->dir);
        EVP_PKEY *old = gen_key(a->curve);
        bad = !old || write_doc(stale, did, old, a->curve) < 0;
        EVP_PKEY_free(old);
    }
    if (bad) {
        fprintf(stderr, "fh_mkframes: cannot make or write the key of %s in %s\n", did, sg->dir);
        sg->failed = 1;
    }
    return a;
}

static const uint8_t N_K256[32] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                   0xff, 0xff, 0xff, 0xff, 0xfe, 0xba, 0xae, 0xdc, 0xe6, 0xaf, 0x48,
                                   0xa0, 0x3b, 0xbf, 0xd2, 0x5e, 0x8c, 0xd0, 0x36, 0x41, 0x41};
static const uint8_t N_P256[32] = {0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff,
                                   0xff, 0xff, 0xff, 0xff, 0xff, 0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17,
                                   0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51};

static void sign_commit(void *ud, const char *did, const uint8_t *uns, size_t n, uint8_t sig[64]) {
    signer *sg = ud;
    account *a = account_of(sg, did);
    memset(sig, 0, 64);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    uint8_t der[80];
    size_t dl = sizeof der;
    ECDSA_SIG *es = NULL;
    const unsigned char *p = der;
    if (!a->sign || !md || EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, a->sign) != 1 ||
        EVP_DigestSign(md, der, &dl, uns, n) != 1 || !(es = d2i_ECDSA_SIG(NULL, &p, (long)dl))) {
        fprintf(stderr, "fh_mkframes: signing a commit of %s failed\n", did);
        sg->failed = 1;
    } else {
        const BIGNUM *r, *s;
        ECDSA_SIG_get0(es, &r, &s);
        BIGNUM *order = BN_bin2bn(a->curve == 1 ? N_K256 : N_P256, 32, NULL), *half = BN_dup(order), *low = BN_dup(s);
        BN_rshift1(half, half);
        if (BN_cmp(low, half) > 0) BN_sub(low, order, low); /* atproto wants low-S */
        BN_bn2binpad(r, sig, 32);
        BN_bn2binpad(low, sig + 32, 32);
        BN_free(order), BN_free(half), BN_free(low);
    }
    ECDSA_SIG_free(es);
    EVP_MD_CTX_free(md);
}

static void signer_free(signer *sg) {
    for (size_t i = 0; i < sg->n; i++) {
        if (sg->a[i].published != sg->a[i].sign) EVP_PKEY_free(sg->a[i].published);
        EVP_PKEY_free(sg->a[i].sign);
        free(sg->a[i].did);
    }
    free(sg->a);
    free(sg->pem_did);
    free(sg->pem_path);
}

int main(int argc, char **argv) {
    size_t filler = 0;
    unsigned long long seed = 1;
    long long seq_start = 1;
    const char *out = NULL, *expect = NULL, *seqs = NULL;
    signer sg = {0};
    sg.pem_did = calloc((size_t)argc, sizeof *sg.pem_did);
    sg.pem_path = calloc((size_t)argc, sizeof *sg.pem_path);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--sign") && i + 1 < argc) {
            sg.dir = argv[++i];
            continue;
        }
        if (!strcmp(argv[i], "--wrong-key") && i + 1 < argc) {
            sg.wrong = argv[++i];
            continue;
        }
        if (!strcmp(argv[i], "--rotated") && i + 1 < argc) {
            sg.rotated = argv[++i];
            continue;
        }
        if (!strcmp(argv[i], "--key") && i + 1 < argc && strchr(argv[i + 1], '=')) {
            char *kv = argv[++i], *eq = strchr(kv, '=');
            *eq = '\0';
            sg.pem_did[sg.npem] = kv, sg.pem_path[sg.npem++] = eq + 1;
            continue;
        }
        if (!strcmp(argv[i], "--filler") && i + 1 < argc) filler = (size_t)strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc) seed = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--expect") && i + 1 < argc) expect = argv[++i];
        else if (!strcmp(argv[i], "--seqs") && i + 1 < argc) seqs = argv[++i];
        else if (!strcmp(argv[i], "--seq-start") && i + 1 < argc) seq_start = strtoll(argv[++i], NULL, 10);
        else if (argv[i][0] != '-' || !strcmp(argv[i], "-")) out = argv[i];
        else {
            fprintf(stderr, "usage: fh_mkframes [--filler BYTES] [--seed S] [--expect FILE] [--seqs FILE] [--seq-start N] "
                            "[--sign DIR [--key DID=PEM] [--wrong-key DID,..] [--rotated DID,..]] OUT[.zst] < events.jsonl\n");
            return 2;
        }
    }
    if (!out) {
        fprintf(stderr, "fh_mkframes: an output path is required\n");
        return 2;
    }
    tool t = {0};
    char err[300];
    t.w = ss_frames_writer_open(out, -1, err, sizeof err);
    if (!t.w) {
        fprintf(stderr, "fh_mkframes: %s\n", err);
        return 1;
    }
    if (expect) {
        t.expect = fopen(expect, "w");
        ss_fh_opts fo;
        ss_fh_opts_init(&fo);
        fo.clock = SS_FH_CLOCK_REPLAY; /* the expected time_us is what a frames: replay gives */
        t.d = ss_fh_decoder_new(&fo);
        if (seqs) t.seqs = fopen(seqs, "w");
        if (!t.expect || !t.d || (seqs && !t.seqs)) {
            fprintf(stderr, "fh_mkframes: cannot write %s\n", expect);
            return 1;
        }
    }
    fhe_conv *c = fhe_conv_new(on_frame, &t, filler, seed);
    fhe_conv_set_next_seq(c, seq_start);
    if (sg.dir) {
        mkdir(sg.dir, 0755);
        fhe_conv_set_signer(c, sign_commit, &sg);
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    unsigned long long lines = 0, skipped = 0;
    while ((n = getline(&line, &cap, stdin)) > 0) {
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = 0;
        if (!n) continue;
        lines++;
        /* Queue the line first: converting it may complete the previous frame, or (identity,
         * account) produce its own frame at once; frames consume lines in order. */
        if (expect) {
            if (g_pending.n == g_pending.cap) {
                g_pending.cap = g_pending.cap ? g_pending.cap * 2 : 16;
                g_pending.lines = realloc(g_pending.lines, g_pending.cap * sizeof *g_pending.lines);
            }
            g_pending.lines[g_pending.n++] = strdup(line);
        }
        if (fhe_conv_line(c, line, (size_t)n, err, sizeof err)) {
            skipped++;
            if (expect) free(g_pending.lines[--g_pending.n]);
            continue;
        }
    }
    free(line);
    fhe_conv_free(c);
    int rc = t.failed | sg.failed;
    signer_free(&sg);
    if (ss_frames_writer_close(t.w, err, sizeof err)) {
        fprintf(stderr, "fh_mkframes: %s\n", err);
        rc = 1;
    }
    if (t.expect) fclose(t.expect);
    if (t.seqs) fclose(t.seqs);
    ss_fh_decoder_free(t.d);
    free(g_pending.lines);
    fprintf(stderr, "fh_mkframes: %llu lines, %llu skipped, %llu frames, %llu bytes (%.0f bytes/frame)\n", lines, skipped,
            t.frames, t.bytes, t.frames ? (double)t.bytes / (double)t.frames : 0.0);
    return rc;
}
