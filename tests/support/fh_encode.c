/* Test-side firehose encoder (see fh_encode.h). Independent of the decoder on purpose:
 * its own CBOR writer, its own base32, its own JSON parser, OpenSSL for the hashes. */
#include "fh_encode.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void need(int ok) {
    if (!ok) {
        fprintf(stderr, "fh_encode: out of memory\n");
        abort();
    }
}

static void put(ss_buf *b, const void *p, size_t n) { need(ss_buf_append(b, p, n) == 0); }

/* ---- CBOR ---- */

void fhe_head(ss_buf *b, int major, uint64_t v) {
    uint8_t h[9];
    size_t n;
    uint8_t m = (uint8_t)(major << 5);
    if (v < 24) h[0] = m | (uint8_t)v, n = 1;
    else if (v <= 0xff) h[0] = m | 24, h[1] = (uint8_t)v, n = 2;
    else if (v <= 0xffff) h[0] = m | 25, h[1] = (uint8_t)(v >> 8), h[2] = (uint8_t)v, n = 3;
    else if (v <= 0xffffffffULL) {
        h[0] = m | 26;
        for (int i = 0; i < 4; i++) h[1 + i] = (uint8_t)(v >> (24 - 8 * i));
        n = 5;
    } else {
        h[0] = m | 27;
        for (int i = 0; i < 8; i++) h[1 + i] = (uint8_t)(v >> (56 - 8 * i));
        n = 9;
    }
    put(b, h, n);
}

void fhe_uint(ss_buf *b, uint64_t v) { fhe_head(b, 0, v); }
void fhe_int(ss_buf *b, int64_t v) {
    if (v >= 0) fhe_head(b, 0, (uint64_t)v);
    else fhe_head(b, 1, (uint64_t)(-1 - v));
}
void fhe_textn(ss_buf *b, const char *s, size_t n) {
    fhe_head(b, 3, n);
    put(b, s, n);
}
void fhe_text(ss_buf *b, const char *s) { fhe_textn(b, s, strlen(s)); }
void fhe_bytes(ss_buf *b, const void *p, size_t n) {
    fhe_head(b, 2, n);
    put(b, p, n);
}
void fhe_bool(ss_buf *b, int v) { put(b, v ? "\xf5" : "\xf4", 1); }
void fhe_null(ss_buf *b) { put(b, "\xf6", 1); }
void fhe_link(ss_buf *b, const uint8_t *cid, size_t n) {
    fhe_head(b, 6, 42);
    fhe_head(b, 2, n + 1);
    put(b, "", 1);
    put(b, cid, n);
}

struct fhe_map {
    struct kv {
        char *key;
        size_t keylen;
        ss_buf val;
    } *kv;
    size_t n, cap;
};

fhe_map *fhe_map_new(void) {
    fhe_map *m = calloc(1, sizeof *m);
    need(m != NULL);
    return m;
}

ss_buf *fhe_map_putn(fhe_map *m, const char *key, size_t keylen) {
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 8;
        m->kv = realloc(m->kv, m->cap * sizeof *m->kv);
        need(m->kv != NULL);
    }
    struct kv *e = &m->kv[m->n++];
    e->key = malloc(keylen + 1);
    need(e->key != NULL);
    memcpy(e->key, key, keylen);
    e->key[keylen] = 0;
    e->keylen = keylen;
    ss_buf_init(&e->val);
    return &e->val;
}

ss_buf *fhe_map_put(fhe_map *m, const char *key) { return fhe_map_putn(m, key, strlen(key)); }

static int canon_cmp(const void *a, const void *b) {
    const struct kv *x = a, *y = b;
    if (x->keylen != y->keylen) return x->keylen < y->keylen ? -1 : 1;
    return memcmp(x->key, y->key, x->keylen);
}

void fhe_map_write(fhe_map *m, ss_buf *out) {
    if (m->n) qsort(m->kv, m->n, sizeof *m->kv, canon_cmp);
    fhe_head(out, 5, m->n);
    for (size_t i = 0; i < m->n; i++) {
        fhe_textn(out, m->kv[i].key, m->kv[i].keylen);
        put(out, m->kv[i].val.data ? m->kv[i].val.data : "", m->kv[i].val.len);
        free(m->kv[i].key);
        ss_buf_free(&m->kv[i].val);
    }
    free(m->kv);
    free(m);
}

/* ---- CIDs, CAR ---- */

void fhe_cid(uint8_t out[FHE_CID_LEN], const void *data, size_t n, uint64_t codec) {
    unsigned len = 0;
    out[0] = 0x01;
    out[1] = (uint8_t)codec; /* 0x71 and 0x55 fit one varint byte */
    out[2] = 0x12;
    out[3] = 0x20;
    need(EVP_Digest(data, n, out + 4, &len, EVP_sha256(), NULL) == 1 && len == 32);
}

static const char b32[] = "abcdefghijklmnopqrstuvwxyz234567";

void fhe_cid_text(char *out, const uint8_t *cid, size_t n) {
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    out[o++] = 'b';
    for (size_t i = 0; i < n; i++) {
        acc = (acc << 8) | cid[i];
        bits += 8;
        while (bits >= 5) out[o++] = b32[(acc >> (bits -= 5)) & 31];
    }
    if (bits) out[o++] = b32[(acc << (5 - bits)) & 31];
    out[o] = 0;
}

int fhe_cid_parse_text(const char *s, size_t n, uint8_t *out, size_t cap) {
    if (n < 2 || s[0] != 'b') return -1;
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 1; i < n; i++) {
        const char *p = memchr(b32, s[i], 32);
        if (!p || !s[i]) return -1;
        acc = (acc << 5) | (uint32_t)(p - b32);
        bits += 5;
        if (bits >= 8) {
            if (o >= cap) return -1;
            out[o++] = (uint8_t)(acc >> (bits -= 8));
        }
    }
    return (int)o;
}

void fhe_uvarint(ss_buf *b, uint64_t v) {
    uint8_t t[10];
    size_t n = 0;
    do {
        t[n] = (uint8_t)(v & 0x7f);
        v >>= 7;
        if (v) t[n] |= 0x80;
        n++;
    } while (v);
    put(b, t, n);
}

void fhe_car_header(ss_buf *car, const uint8_t *root, size_t root_len) {
    ss_buf h;
    ss_buf_init(&h);
    fhe_map *m = fhe_map_new();
    ss_buf *roots = fhe_map_put(m, "roots");
    fhe_head(roots, 4, 1);
    fhe_link(roots, root, root_len);
    fhe_uint(fhe_map_put(m, "version"), 1);
    fhe_map_write(m, &h);
    fhe_uvarint(car, h.len);
    put(car, h.data, h.len);
    ss_buf_free(&h);
}

void fhe_car_block(ss_buf *car, const uint8_t *cid, size_t cid_len, const void *data, size_t n) {
    fhe_uvarint(car, cid_len + n);
    put(car, cid, cid_len);
    put(car, data, n);
}

/* ---- frames ---- */

static uint64_t rnd(uint64_t *s) {
    uint64_t x = *s ? *s : 0x9e3779b97f4a7c15ULL;
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    return *s = x;
}

/* One MST-node-like block {e:[{k,p,t,v}...], l}: realistic bytes the decoder must index
 * but never parse. */
static void filler_node(ss_buf *out, uint64_t *seed, size_t want) {
    fhe_map *m = fhe_map_new();
    ss_buf *e = fhe_map_put(m, "e");
    size_t n = want / 110 + 1;
    if (n > 32) n = 32;
    fhe_head(e, 4, n);
    for (size_t i = 0; i < n; i++) {
        uint8_t key[48], cid[FHE_CID_LEN];
        size_t kl = 12 + rnd(seed) % 30;
        for (size_t j = 0; j < kl; j++) key[j] = (uint8_t)('a' + rnd(seed) % 26);
        fhe_map *em = fhe_map_new();
        fhe_bytes(fhe_map_put(em, "k"), key, kl);
        fhe_uint(fhe_map_put(em, "p"), rnd(seed) % 20);
        fhe_cid(cid, key, kl, 0x71);
        if (rnd(seed) & 1) fhe_link(fhe_map_put(em, "t"), cid, sizeof cid);
        else fhe_null(fhe_map_put(em, "t"));
        cid[10] ^= 0x5a;
        fhe_link(fhe_map_put(em, "v"), cid, sizeof cid);
        fhe_map_write(em, e);
    }
    fhe_null(fhe_map_put(m, "l"));
    fhe_map_write(m, out);
}

void fhe_commit_frame(ss_buf *out, const fhe_commit *c) {
    uint64_t seed = c->seed ^ (uint64_t)c->seq * 0x100000001b3ULL;
    ss_buf blocks, commit, tmp, car;
    ss_buf_init(&blocks), ss_buf_init(&commit), ss_buf_init(&tmp), ss_buf_init(&car);
    uint8_t root[FHE_CID_LEN], commit_cid[FHE_CID_LEN];
    /* filler (MST nodes), the first one standing for the MST root */
    size_t filled = 0;
    int have_root = 0;
    while (filled < c->filler_bytes && !c->too_big) {
        ss_buf_reset(&tmp);
        size_t left = c->filler_bytes - filled;
        filler_node(&tmp, &seed, left > 1400 ? 600 + rnd(&seed) % 800 : left);
        uint8_t cid[FHE_CID_LEN];
        fhe_cid(cid, tmp.data, tmp.len, 0x71);
        if (!have_root) memcpy(root, cid, sizeof root), have_root = 1;
        fhe_car_block(&blocks, cid, sizeof cid, tmp.data, tmp.len);
        filled += tmp.len + sizeof cid + 2;
    }
    if (!have_root) fhe_cid(root, c->rev, strlen(c->rev), 0x71);
    /* records */
    for (size_t i = 0; i < c->nops; i++) {
        const fhe_op *op = &c->ops[i];
        if (!op->record || op->omit_block || c->too_big) continue;
        uint8_t cid[FHE_CID_LEN];
        fhe_cid(cid, op->record, op->record_len, 0x71);
        ss_buf_reset(&tmp);
        put(&tmp, op->record, op->record_len);
        if (op->corrupt_block && tmp.len) tmp.data[tmp.len / 2] ^= 0x01;
        fhe_car_block(&blocks, cid, sizeof cid, tmp.data, tmp.len);
    }
    /* the signed commit object: the unsigned map first, when a signer wants it */
    uint8_t sig[64];
    for (size_t i = 0; i < sizeof sig; i++) sig[i] = (uint8_t)rnd(&seed);
    for (int pass = c->sign ? 0 : 1; pass < 2; pass++) {
        fhe_map *cm = fhe_map_new();
        fhe_text(fhe_map_put(cm, "did"), c->commit_did ? c->commit_did : c->repo);
        fhe_uint(fhe_map_put(cm, "version"), 3);
        fhe_link(fhe_map_put(cm, "data"), root, sizeof root);
        fhe_text(fhe_map_put(cm, "rev"), c->commit_rev ? c->commit_rev : c->rev);
        fhe_null(fhe_map_put(cm, "prev"));
        if (pass == 1) fhe_bytes(fhe_map_put(cm, "sig"), sig, sizeof sig);
        ss_buf_reset(&commit);
        fhe_map_write(cm, &commit);
        if (pass == 0) c->sign(c->sign_ud, (const uint8_t *)commit.data, commit.len, sig);
    }
    fhe_cid(commit_cid, commit.data, commit.len, 0x71);
    if (c->corrupt_commit) commit.data[commit.len - 3] ^= 0x01;
    if (!c->too_big) {
        uint8_t r[FHE_CID_LEN];
        memcpy(r, commit_cid, sizeof r);
        if (c->wrong_root) r[20] ^= 0xff;
        fhe_car_header(&car, r, sizeof r);
        fhe_car_block(&car, commit_cid, sizeof commit_cid, commit.data, commit.len);
        put(&car, blocks.data ? blocks.data : "", blocks.len);
    }
    /* header + body */
    fhe_map *h = fhe_map_new();
    fhe_int(fhe_map_put(h, "op"), 1);
    fhe_text(fhe_map_put(h, "t"), "#commit");
    fhe_map_write(h, out);
    fhe_map *m = fhe_map_new();
    fhe_uint(fhe_map_put(m, "seq"), (uint64_t)c->seq);
    fhe_text(fhe_map_put(m, "repo"), c->repo);
    fhe_link(fhe_map_put(m, "commit"), commit_cid, sizeof commit_cid);
    fhe_text(fhe_map_put(m, "rev"), c->rev);
    fhe_null(fhe_map_put(m, "since"));
    ss_buf *ops = fhe_map_put(m, "ops");
    fhe_head(ops, 4, c->nops);
    for (size_t i = 0; i < c->nops; i++) {
        const fhe_op *op = &c->ops[i];
        fhe_map *om = fhe_map_new();
        fhe_text(fhe_map_put(om, "action"), op->action);
        fhe_text(fhe_map_put(om, "path"), op->path);
        if (op->record && !op->null_cid) {
            uint8_t cid[FHE_CID_LEN];
            fhe_cid(cid, op->record, op->record_len, 0x71);
            fhe_link(fhe_map_put(om, "cid"), cid, sizeof cid);
        } else {
            fhe_null(fhe_map_put(om, "cid"));
        }
        fhe_map_write(om, ops);
    }
    fhe_bytes(fhe_map_put(m, "blocks"), car.data ? car.data : "", car.len);
    fhe_text(fhe_map_put(m, "time"), c->time);
    fhe_bool(fhe_map_put(m, "tooBig"), c->too_big);
    fhe_bool(fhe_map_put(m, "rebase"), 0);
    fhe_head(fhe_map_put(m, "blobs"), 4, 0);
    fhe_map_write(m, out);
    ss_buf_free(&blocks), ss_buf_free(&commit), ss_buf_free(&tmp), ss_buf_free(&car);
}

static void header(ss_buf *out, int op, const char *t) {
    fhe_map *h = fhe_map_new();
    fhe_int(fhe_map_put(h, "op"), op);
    if (t) fhe_text(fhe_map_put(h, "t"), t);
    fhe_map_write(h, out);
}

void fhe_identity_frame(ss_buf *out, int64_t seq, const char *did, const char *time, const char *handle) {
    header(out, 1, "#identity");
    fhe_map *m = fhe_map_new();
    fhe_uint(fhe_map_put(m, "seq"), (uint64_t)seq);
    fhe_text(fhe_map_put(m, "did"), did);
    fhe_text(fhe_map_put(m, "time"), time);
    if (handle) fhe_text(fhe_map_put(m, "handle"), handle);
    fhe_map_write(m, out);
}

void fhe_account_frame(ss_buf *out, int64_t seq, const char *did, const char *time, int active, const char *status) {
    header(out, 1, "#account");
    fhe_map *m = fhe_map_new();
    fhe_uint(fhe_map_put(m, "seq"), (uint64_t)seq);
    fhe_text(fhe_map_put(m, "did"), did);
    fhe_text(fhe_map_put(m, "time"), time);
    fhe_bool(fhe_map_put(m, "active"), active);
    if (status) fhe_text(fhe_map_put(m, "status"), status);
    fhe_map_write(m, out);
}

void fhe_sync_frame(ss_buf *out, int64_t seq, const char *did, const char *rev, const char *time) {
    header(out, 1, "#sync");
    fhe_map *m = fhe_map_new();
    fhe_uint(fhe_map_put(m, "seq"), (uint64_t)seq);
    fhe_text(fhe_map_put(m, "did"), did);
    fhe_text(fhe_map_put(m, "rev"), rev);
    fhe_text(fhe_map_put(m, "time"), time);
    fhe_bytes(fhe_map_put(m, "blocks"), "", 0);
    fhe_map_write(m, out);
}

void fhe_info_frame(ss_buf *out, const char *name, const char *message) {
    header(out, 1, "#info");
    fhe_map *m = fhe_map_new();
    fhe_text(fhe_map_put(m, "name"), name);
    if (message) fhe_text(fhe_map_put(m, "message"), message);
    fhe_map_write(m, out);
}

void fhe_error_frame(ss_buf *out, const char *error, const char *message) {
    header(out, -1, NULL);
    fhe_map *m = fhe_map_new();
    fhe_text(fhe_map_put(m, "error"), error);
    if (message) fhe_text(fhe_map_put(m, "message"), message);
    fhe_map_write(m, out);
}

/* ---- a small JSON reader ---- */

enum { J_NULL, J_BOOL, J_INT, J_STR, J_ARR, J_OBJ };

typedef struct jv {
    int t;
    int64_t i;      /* J_INT, J_BOOL */
    char *s;        /* J_STR (unescaped) */
    size_t n;       /* string length, or number of children */
    char **keys;    /* J_OBJ */
    size_t *keylens;
    struct jv *kids;
} jv;

typedef struct {
    const char *p, *end;
    char *err;
    size_t errlen;
    int failed;
} jp;

static int jfail(jp *j, const char *msg) {
    if (!j->failed) snprintf(j->err, j->errlen, "%s", msg);
    j->failed = 1;
    return -1;
}

static void jws(jp *j) {
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r')) j->p++;
}

static void utf8_put(ss_buf *b, uint32_t cp) {
    char t[4];
    size_t n;
    if (cp < 0x80) t[0] = (char)cp, n = 1;
    else if (cp < 0x800) t[0] = (char)(0xc0 | cp >> 6), t[1] = (char)(0x80 | (cp & 63)), n = 2;
    else if (cp < 0x10000) t[0] = (char)(0xe0 | cp >> 12), t[1] = (char)(0x80 | ((cp >> 6) & 63)), t[2] = (char)(0x80 | (cp & 63)), n = 3;
    else
        t[0] = (char)(0xf0 | cp >> 18), t[1] = (char)(0x80 | ((cp >> 12) & 63)), t[2] = (char)(0x80 | ((cp >> 6) & 63)),
        t[3] = (char)(0x80 | (cp & 63)), n = 4;
    put(b, t, n);
}

static int hex4(jp *j, uint32_t *v) {
    if (j->end - j->p < 4) return jfail(j, "short \\u escape");
    uint32_t x = 0;
    for (int i = 0; i < 4; i++) {
        char c = j->p[i];
        x <<= 4;
        if (c >= '0' && c <= '9') x |= (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f') x |= (uint32_t)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') x |= (uint32_t)(c - 'A' + 10);
        else return jfail(j, "bad \\u escape");
    }
    j->p += 4;
    *v = x;
    return 0;
}

static int jstring(jp *j, char **out, size_t *outn) {
    ss_buf b;
    ss_buf_init(&b);
    j->p++; /* opening quote */
    while (j->p < j->end && *j->p != '"') {
        char c = *j->p++;
        if (c != '\\') {
            put(&b, &c, 1);
            continue;
        }
        if (j->p >= j->end) break;
        c = *j->p++;
        uint32_t cp;
        switch (c) {
        case 'n': put(&b, "\n", 1); break;
        case 'r': put(&b, "\r", 1); break;
        case 't': put(&b, "\t", 1); break;
        case 'b': put(&b, "\b", 1); break;
        case 'f': put(&b, "\f", 1); break;
        case '/': put(&b, "/", 1); break;
        case '\\': put(&b, "\\", 1); break;
        case '"': put(&b, "\"", 1); break;
        case 'u':
            if (hex4(j, &cp)) goto fail;
            if (cp >= 0xd800 && cp < 0xdc00 && j->end - j->p >= 6 && j->p[0] == '\\' && j->p[1] == 'u') {
                uint32_t lo;
                j->p += 2;
                if (hex4(j, &lo)) goto fail;
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            }
            utf8_put(&b, cp);
            break;
        default: jfail(j, "bad escape"); goto fail;
        }
    }
    if (j->p >= j->end) {
        jfail(j, "unterminated string");
        goto fail;
    }
    j->p++;
    put(&b, "", 0);
    *out = b.data ? b.data : strdup("");
    *outn = b.len;
    return 0;
fail:
    ss_buf_free(&b);
    return -1;
}

static void jfree(jv *v) {
    if (v->t == J_STR) free(v->s);
    if (v->t == J_ARR || v->t == J_OBJ) {
        for (size_t i = 0; i < v->n; i++) {
            jfree(&v->kids[i]);
            if (v->t == J_OBJ) free(v->keys[i]);
        }
        free(v->kids);
        free(v->keys);
        free(v->keylens);
    }
    memset(v, 0, sizeof *v);
}

static int jvalue(jp *j, jv *v, int depth) {
    memset(v, 0, sizeof *v);
    if (depth > 64) return jfail(j, "too deep");
    jws(j);
    if (j->p >= j->end) return jfail(j, "unexpected end");
    char c = *j->p;
    if (c == '"') {
        v->t = J_STR;
        return jstring(j, &v->s, &v->n);
    }
    if (c == '{' || c == '[') {
        int obj = c == '{';
        v->t = obj ? J_OBJ : J_ARR;
        j->p++;
        size_t cap = 0;
        jws(j);
        if (j->p < j->end && *j->p == (obj ? '}' : ']')) {
            j->p++;
            return 0;
        }
        for (;;) {
            if (v->n == cap) {
                cap = cap ? cap * 2 : 8;
                v->kids = realloc(v->kids, cap * sizeof *v->kids);
                v->keys = realloc(v->keys, cap * sizeof *v->keys);
                v->keylens = realloc(v->keylens, cap * sizeof *v->keylens);
                need(v->kids && v->keys && v->keylens);
            }
            if (obj) {
                jws(j);
                if (j->p >= j->end || *j->p != '"') return jfail(j, "expected a key");
                if (jstring(j, &v->keys[v->n], &v->keylens[v->n])) return -1;
                jws(j);
                if (j->p >= j->end || *j->p != ':') {
                    free(v->keys[v->n]);
                    return jfail(j, "expected ':'");
                }
                j->p++;
            }
            if (jvalue(j, &v->kids[v->n], depth + 1)) {
                /* the child may hold parsed children of its own: jparse() frees only
                 * the v->n complete ones */
                jfree(&v->kids[v->n]);
                if (obj) free(v->keys[v->n]);
                return -1;
            }
            v->n++;
            jws(j);
            if (j->p < j->end && *j->p == ',') {
                j->p++;
                continue;
            }
            if (j->p < j->end && *j->p == (obj ? '}' : ']')) {
                j->p++;
                return 0;
            }
            return jfail(j, "expected ',' or a closing bracket");
        }
    }
    if (c == 't' && j->end - j->p >= 4 && !memcmp(j->p, "true", 4)) return v->t = J_BOOL, v->i = 1, j->p += 4, 0;
    if (c == 'f' && j->end - j->p >= 5 && !memcmp(j->p, "false", 5)) return v->t = J_BOOL, v->i = 0, j->p += 5, 0;
    if (c == 'n' && j->end - j->p >= 4 && !memcmp(j->p, "null", 4)) return v->t = J_NULL, j->p += 4, 0;
    if (c == '-' || (c >= '0' && c <= '9')) {
        const char *s = j->p;
        if (*j->p == '-') j->p++;
        while (j->p < j->end && *j->p >= '0' && *j->p <= '9') j->p++;
        if (j->p < j->end && (*j->p == '.' || *j->p == 'e' || *j->p == 'E')) return jfail(j, "float (not in the atproto data model)");
        char tmp[32];
        size_t n = (size_t)(j->p - s);
        if (n == 0 || n >= sizeof tmp) return jfail(j, "bad number");
        memcpy(tmp, s, n);
        tmp[n] = 0;
        v->t = J_INT;
        v->i = strtoll(tmp, NULL, 10);
        return 0;
    }
    return jfail(j, "unexpected character");
}

static int jparse(const char *s, size_t n, jv *v, char *err, size_t errlen) {
    jp j = {s, s + n, err, errlen, 0};
    if (jvalue(&j, v, 0)) {
        jfree(v);
        return -1;
    }
    jws(&j);
    if (j.p != j.end) {
        jfree(v);
        snprintf(err, errlen, "trailing characters");
        return -1;
    }
    return 0;
}

static const jv *jget(const jv *o, const char *key) {
    if (!o || o->t != J_OBJ) return NULL;
    size_t kn = strlen(key);
    for (size_t i = 0; i < o->n; i++)
        if (o->keylens[i] == kn && !memcmp(o->keys[i], key, kn)) return &o->kids[i];
    return NULL;
}

static int b64val(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

static int to_cbor(const jv *v, ss_buf *out, char *err, size_t errlen) {
    switch (v->t) {
    case J_NULL: fhe_null(out); return 0;
    case J_BOOL: fhe_bool(out, (int)v->i); return 0;
    case J_INT: fhe_int(out, v->i); return 0;
    case J_STR: fhe_textn(out, v->s, v->n); return 0;
    case J_ARR:
        fhe_head(out, 4, v->n);
        for (size_t i = 0; i < v->n; i++)
            if (to_cbor(&v->kids[i], out, err, errlen)) return -1;
        return 0;
    case J_OBJ: {
        const jv *link = jget(v, "$link"), *bytes = jget(v, "$bytes");
        if (link && v->n == 1 && link->t == J_STR) {
            uint8_t cid[128];
            int n = fhe_cid_parse_text(link->s, link->n, cid, sizeof cid);
            if (n < 0) return snprintf(err, errlen, "bad $link %s", link->s), -1;
            fhe_link(out, cid, (size_t)n);
            return 0;
        }
        if (bytes && v->n == 1 && bytes->t == J_STR) {
            ss_buf raw;
            ss_buf_init(&raw);
            uint32_t acc = 0;
            int bits = 0;
            for (size_t i = 0; i < bytes->n; i++) {
                int x = b64val(bytes->s[i]);
                if (x < 0) return ss_buf_free(&raw), snprintf(err, errlen, "bad $bytes"), -1;
                acc = acc << 6 | (uint32_t)x;
                bits += 6;
                if (bits >= 8) {
                    uint8_t byte = (uint8_t)(acc >> (bits -= 8));
                    put(&raw, &byte, 1);
                }
            }
            fhe_bytes(out, raw.data ? raw.data : "", raw.len);
            ss_buf_free(&raw);
            return 0;
        }
        fhe_map *m = fhe_map_new();
        int rc = 0;
        for (size_t i = 0; i < v->n; i++) {
            ss_buf *val = fhe_map_putn(m, v->keys[i], v->keylens[i]);
            if (!rc && to_cbor(&v->kids[i], val, err, errlen)) rc = -1;
        }
        fhe_map_write(m, out);
        return rc;
    }
    }
    return -1;
}

int fhe_json_record_to_cbor(ss_buf *out, const char *json, size_t n, char *err, size_t errlen) {
    jv v;
    if (jparse(json, n, &v, err, errlen)) return -1;
    int rc = to_cbor(&v, out, err, errlen);
    jfree(&v);
    return rc;
}

void fhe_time_text(char out[40], int64_t time_us) {
    time_t t = (time_t)(time_us / 1000000);
    int64_t frac = time_us % 1000000;
    if (frac < 0) frac += 1000000, t--;
    struct tm tm;
    gmtime_r(&t, &tm);
    char date[24];
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, 40, "%.19s.%06dZ", date, (int)frac);
}

/* ---- JSONL -> frames ---- */

typedef struct {
    char *action, *path;
    ss_buf record;
    int has_record;
} conv_op;

struct fhe_conv {
    fhe_frame_cb cb;
    void *ud;
    size_t filler;
    uint64_t seed;
    int64_t next_seq;
    uint64_t frames;
    /* the pending commit */
    char *did, *rev;
    int64_t time_us;
    conv_op *ops;
    size_t nops, cap;
    ss_buf frame;
    fhe_signer_fn signer;
    void *signer_ud;
};

fhe_conv *fhe_conv_new(fhe_frame_cb cb, void *ud, size_t filler_bytes, uint64_t seed) {
    fhe_conv *c = calloc(1, sizeof *c);
    need(c != NULL);
    c->cb = cb, c->ud = ud, c->filler = filler_bytes, c->seed = seed, c->next_seq = 1;
    return c;
}

uint64_t fhe_conv_frames(const fhe_conv *c) { return c->frames; }
void fhe_conv_set_next_seq(fhe_conv *c, int64_t seq) { c->next_seq = seq; }
void fhe_conv_set_signer(fhe_conv *c, fhe_signer_fn fn, void *ud) { c->signer = fn, c->signer_ud = ud; }

static void conv_sign(void *ud, const uint8_t *uns, size_t n, uint8_t sig[64]) {
    fhe_conv *c = ud;
    c->signer(c->signer_ud, c->did, uns, n, sig);
}

static void emit(fhe_conv *c) {
    c->cb(c->ud, (const uint8_t *)c->frame.data, c->frame.len);
    c->frames++;
    ss_buf_reset(&c->frame);
}

void fhe_conv_flush(fhe_conv *c) {
    if (!c->nops) return;
    fhe_op *ops = calloc(c->nops, sizeof *ops);
    need(ops != NULL);
    for (size_t i = 0; i < c->nops; i++) {
        ops[i].action = c->ops[i].action;
        ops[i].path = c->ops[i].path;
        if (c->ops[i].has_record) ops[i].record = (const uint8_t *)c->ops[i].record.data, ops[i].record_len = c->ops[i].record.len;
    }
    char t[40];
    fhe_time_text(t, c->time_us);
    fhe_commit fc = {.seq = c->next_seq++, .repo = c->did, .rev = c->rev, .time = t, .ops = ops, .nops = c->nops,
                     .filler_bytes = c->filler, .seed = c->seed};
    if (c->signer) fc.sign = conv_sign, fc.sign_ud = c;
    ss_buf_reset(&c->frame);
    fhe_commit_frame(&c->frame, &fc);
    emit(c);
    free(ops);
    for (size_t i = 0; i < c->nops; i++) {
        free(c->ops[i].action);
        free(c->ops[i].path);
        ss_buf_free(&c->ops[i].record);
    }
    c->nops = 0;
    free(c->did), free(c->rev);
    c->did = c->rev = NULL;
}

void fhe_conv_free(fhe_conv *c) {
    if (!c) return;
    fhe_conv_flush(c);
    free(c->ops);
    ss_buf_free(&c->frame);
    free(c);
}

static char *dupn(const char *s, size_t n) {
    char *d = malloc(n + 1);
    need(d != NULL);
    memcpy(d, s, n);
    d[n] = 0;
    return d;
}

static int str_is(const jv *v, const char *s) { return v && v->t == J_STR && v->n == strlen(s) && !memcmp(v->s, s, v->n); }

int fhe_conv_line(fhe_conv *c, const char *line, size_t n, char *err, size_t errlen) {
    jv ev;
    if (jparse(line, n, &ev, err, errlen)) return -1;
    int rc = -1;
    const jv *did = jget(&ev, "did"), *kind = jget(&ev, "kind"), *tus = jget(&ev, "time_us");
    if (!did || did->t != J_STR || !kind || !tus || tus->t != J_INT) {
        snprintf(err, errlen, "not a Jetstream v1 event (did, kind, time_us)");
        goto out;
    }
    if (str_is(kind, "commit")) {
        const jv *cm = jget(&ev, "commit"), *rev = jget(cm, "rev"), *op = jget(cm, "operation"),
                 *coll = jget(cm, "collection"), *rkey = jget(cm, "rkey"), *rec = jget(cm, "record");
        if (!rev || rev->t != J_STR || !op || op->t != J_STR || !coll || coll->t != J_STR || !rkey || rkey->t != J_STR) {
            snprintf(err, errlen, "commit without rev/operation/collection/rkey");
            goto out;
        }
        if (c->nops && (strcmp(c->did, did->s) || strcmp(c->rev, rev->s) || c->nops >= 200)) fhe_conv_flush(c);
        if (!c->nops) {
            c->did = dupn(did->s, did->n), c->rev = dupn(rev->s, rev->n), c->time_us = tus->i;
        }
        if (c->nops == c->cap) {
            c->cap = c->cap ? c->cap * 2 : 8;
            c->ops = realloc(c->ops, c->cap * sizeof *c->ops);
            need(c->ops != NULL);
        }
        conv_op *o = &c->ops[c->nops];
        memset(o, 0, sizeof *o);
        o->action = dupn(op->s, op->n);
        size_t pl = coll->n + 1 + rkey->n;
        o->path = malloc(pl + 1);
        need(o->path != NULL);
        snprintf(o->path, pl + 1, "%s/%s", coll->s, rkey->s);
        if (rec && !str_is(op, "delete")) {
            o->has_record = 1;
            if (to_cbor(rec, &o->record, err, errlen)) {
                free(o->action), free(o->path), ss_buf_free(&o->record);
                goto out;
            }
        }
        c->nops++;
        rc = 0;
        goto out;
    }
    fhe_conv_flush(c);
    if (str_is(kind, "sync")) { /* skyspool's sync event: a #sync frame */
        const jv *body = jget(&ev, "sync");
        const jv *seq = jget(body, "seq"), *time = jget(body, "time"), *rev = jget(body, "rev");
        if (!seq || seq->t != J_INT || !time || time->t != J_STR || !rev || rev->t != J_STR) {
            snprintf(err, errlen, "sync without seq/time/rev");
            goto out;
        }
        ss_buf_reset(&c->frame);
        fhe_sync_frame(&c->frame, seq->i, did->s, rev->s, time->s);
        emit(c);
        if (seq->i >= c->next_seq) c->next_seq = seq->i + 1;
        rc = 0;
        goto out;
    }
    int account = str_is(kind, "account");
    if (!account && !str_is(kind, "identity")) {
        snprintf(err, errlen, "unknown kind");
        goto out;
    }
    const jv *body = jget(&ev, account ? "account" : "identity");
    const jv *seq = jget(body, "seq"), *time = jget(body, "time"), *handle = jget(body, "handle"),
             *active = jget(body, "active"), *status = jget(body, "status");
    if (!seq || seq->t != J_INT || !time || time->t != J_STR || (account && (!active || active->t != J_BOOL))) {
        snprintf(err, errlen, "%s without seq/time/active", account ? "account" : "identity");
        goto out;
    }
    ss_buf_reset(&c->frame);
    if (account)
        fhe_account_frame(&c->frame, seq->i, did->s, time->s, (int)active->i, status && status->t == J_STR ? status->s : NULL);
    else
        fhe_identity_frame(&c->frame, seq->i, did->s, time->s, handle && handle->t == J_STR ? handle->s : NULL);
    emit(c);
    if (seq->i >= c->next_seq) c->next_seq = seq->i + 1;
    rc = 0;
out:
    jfree(&ev);
    return rc;
}
