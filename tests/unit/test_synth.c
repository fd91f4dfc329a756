/* Unit tests for the synthetic firehose generator and the synth: source.
 *
 * They check what other tests rely on: reproducibility, the network mix, line sizes,
 * identifier shapes, time_us behaviour, facet byte ranges, and that planted duplicates
 * and malformed lines are exactly what --stats reports. Lines are checked by a small
 * strict JSON validator written here (independent of the project's decoder). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "event/event.h"
#include "source/source.h"
#include "source/synth/synth.h"

/* ---- a strict JSON validator (RFC 8259 + UTF-8 + no lone surrogates) -------------- */

typedef enum { JV_OK = 0, JV_SYNTAX, JV_UTF8 } jv_result;
typedef struct {
    const unsigned char *p, *end;
    jv_result err;
    int depth;
} jv;

static void jv_ws(jv *j) {
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r')) j->p++;
}
static int jv_fail(jv *j, jv_result r) {
    if (!j->err) j->err = r;
    return -1;
}
static int jv_hex4(jv *j, unsigned *out) {
    if (j->end - j->p < 4) return jv_fail(j, JV_SYNTAX);
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned char c = j->p[i];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= c - '0';
        else if (c >= 'a' && c <= 'f') v |= c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') v |= c - 'A' + 10;
        else return jv_fail(j, JV_SYNTAX);
    }
    j->p += 4;
    *out = v;
    return 0;
}
static int jv_string(jv *j) {
    j->p++; /* opening quote */
    while (j->p < j->end) {
        unsigned char c = *j->p;
        if (c == '"') {
            j->p++;
            return 0;
        }
        if (c < 0x20) return jv_fail(j, JV_SYNTAX);
        if (c == '\\') {
            j->p++;
            if (j->p >= j->end) return jv_fail(j, JV_SYNTAX);
            c = *j->p++;
            if (c == 'u') {
                unsigned u;
                if (jv_hex4(j, &u)) return -1;
                if (u >= 0xdc00 && u <= 0xdfff) return jv_fail(j, JV_UTF8);
                if (u >= 0xd800 && u <= 0xdbff) {
                    unsigned lo;
                    if (j->end - j->p < 2 || j->p[0] != '\\' || j->p[1] != 'u') return jv_fail(j, JV_UTF8);
                    j->p += 2;
                    if (jv_hex4(j, &lo)) return -1;
                    if (lo < 0xdc00 || lo > 0xdfff) return jv_fail(j, JV_UTF8);
                }
            } else if (!strchr("\"\\/bfnrt", c) || c == 0)
                return jv_fail(j, JV_SYNTAX);
            continue;
        }
        if (c < 0x80) {
            j->p++;
            continue;
        }
        int n = (c & 0xe0) == 0xc0 ? 1 : (c & 0xf0) == 0xe0 ? 2 : (c & 0xf8) == 0xf0 ? 3 : -1;
        if (n < 0 || c == 0xc0 || c == 0xc1 || c > 0xf4) return jv_fail(j, JV_UTF8);
        if (j->end - j->p <= n) return jv_fail(j, JV_UTF8);
        unsigned cp = c & (0x3f >> n);
        for (int i = 1; i <= n; i++) {
            if ((j->p[i] & 0xc0) != 0x80) return jv_fail(j, JV_UTF8);
            cp = (cp << 6) | (j->p[i] & 0x3f);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff))
            return jv_fail(j, JV_UTF8);
        j->p += n + 1;
    }
    return jv_fail(j, JV_SYNTAX);
}
static int jv_value(jv *j);
static int jv_number(jv *j) {
    const unsigned char *s = j->p;
    if (*j->p == '-') j->p++;
    if (j->p >= j->end) return jv_fail(j, JV_SYNTAX);
    if (*j->p == '0') j->p++;
    else if (*j->p >= '1' && *j->p <= '9')
        while (j->p < j->end && *j->p >= '0' && *j->p <= '9') j->p++;
    else return jv_fail(j, JV_SYNTAX);
    if (j->p < j->end && *j->p == '.') {
        j->p++;
        if (j->p >= j->end || *j->p < '0' || *j->p > '9') return jv_fail(j, JV_SYNTAX);
        while (j->p < j->end && *j->p >= '0' && *j->p <= '9') j->p++;
    }
    return j->p > s ? 0 : jv_fail(j, JV_SYNTAX);
}
static int jv_lit(jv *j, const char *lit) {
    size_t n = strlen(lit);
    if ((size_t)(j->end - j->p) < n || memcmp(j->p, lit, n)) return jv_fail(j, JV_SYNTAX);
    j->p += n;
    return 0;
}
static int jv_value(jv *j) {
    jv_ws(j);
    if (j->p >= j->end) return jv_fail(j, JV_SYNTAX);
    if (++j->depth > 64) return jv_fail(j, JV_SYNTAX);
    int r;
    switch (*j->p) {
    case '{':
        j->p++;
        jv_ws(j);
        if (j->p < j->end && *j->p == '}') {
            j->p++;
            r = 0;
            break;
        }
        for (;;) {
            jv_ws(j);
            if (j->p >= j->end || *j->p != '"' || jv_string(j)) return jv_fail(j, JV_SYNTAX);
            jv_ws(j);
            if (j->p >= j->end || *j->p++ != ':') return jv_fail(j, JV_SYNTAX);
            if (jv_value(j)) return -1;
            jv_ws(j);
            if (j->p < j->end && *j->p == ',') {
                j->p++;
                continue;
            }
            if (j->p < j->end && *j->p == '}') {
                j->p++;
                break;
            }
            return jv_fail(j, JV_SYNTAX);
        }
        r = 0;
        break;
    case '[':
        j->p++;
        jv_ws(j);
        if (j->p < j->end && *j->p == ']') {
            j->p++;
            r = 0;
            break;
        }
        for (;;) {
            if (jv_value(j)) return -1;
            jv_ws(j);
            if (j->p < j->end && *j->p == ',') {
                j->p++;
                continue;
            }
            if (j->p < j->end && *j->p == ']') {
                j->p++;
                break;
            }
            return jv_fail(j, JV_SYNTAX);
        }
        r = 0;
        break;
    case '"': r = jv_string(j); break;
    case 't': r = jv_lit(j, "true"); break;
    case 'f': r = jv_lit(j, "false"); break;
    case 'n': r = jv_lit(j, "null"); break;
    default: r = jv_number(j); break;
    }
    j->depth--;
    return r;
}
static jv_result json_check(const char *s, size_t n) {
    jv j = {(const unsigned char *)s, (const unsigned char *)s + n, JV_OK, 0};
    if (jv_value(&j) == 0) {
        jv_ws(&j);
        if (j.p != j.end) jv_fail(&j, JV_SYNTAX);
    }
    return j.err;
}

/* ---- helpers ------------------------------------------------------------------------ */

static ss_synth *make(int64_t events, uint64_t seed, double dup, double bad, ss_synth_params *out) {
    ss_synth_params p;
    ss_synth_params_init(&p);
    p.events = events;
    p.seed = seed;
    p.dup_frac = dup;
    p.bad_frac = bad;
    char err[256];
    assert_int_equal(ss_synth_params_check(&p, err, sizeof err), 0);
    if (out) *out = p;
    ss_synth *g = ss_synth_new(&p);
    assert_non_null(g);
    return g;
}

static uint64_t fnv(uint64_t h, const char *p, size_t n) {
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)p[i]) * 0x100000001b3ULL;
    return h;
}

static uint64_t hash_lines(ss_synth *g, int64_t n) {
    ss_buf b;
    ss_buf_init(&b);
    uint64_t h = 0xcbf29ce484222325ULL;
    for (int64_t i = 0; i < n; i++) {
        assert_int_equal(ss_synth_line(g, i, &b, NULL), 0);
        h = fnv(h, b.data, b.len + 1);
    }
    ss_buf_free(&b);
    return h;
}

/* Finds `"key":` in [p, end) and returns a pointer after the colon, or NULL. */
static const char *find_key(const char *p, const char *end, const char *key) {
    char pat[64];
    int n = snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *r = memmem(p, (size_t)(end - p), pat, (size_t)n);
    return r ? r + n : NULL;
}

static int64_t num_at(const char *p) { return strtoll(p, NULL, 10); }

static int all_in(const char *p, size_t n, const char *set) {
    for (size_t i = 0; i < n; i++)
        if (!p[i] || !strchr(set, p[i])) return 0;
    return 1;
}

static const char B32[] = "abcdefghijklmnopqrstuvwxyz234567";

/* ---- tests ------------------------------------------------------------------------- */

static void test_reproducible(void **state) {
    ss_synth *a = make(20000, 42, 0.01, 0.01, NULL), *b = make(20000, 42, 0.01, 0.01, NULL);
    ss_synth *c = make(20000, 43, 0.01, 0.01, NULL);
    uint64_t ha = hash_lines(a, 20000), hb = hash_lines(b, 20000), hc = hash_lines(c, 20000);
    assert_true(ha == hb);
    assert_true(ha != hc);
    /* Lines are a pure function of the slot: out-of-order generation gives the same bytes. */
    ss_buf x, y;
    ss_buf_init(&x);
    ss_buf_init(&y);
    for (int64_t i = 19999; i >= 0; i -= 997) {
        assert_int_equal(ss_synth_line(a, i, &x, NULL), 0);
        assert_int_equal(ss_synth_line(b, i, &y, NULL), 0);
        assert_int_equal(x.len, y.len);
        assert_memory_equal(x.data, y.data, x.len);
    }
    /* Different seeds differ line by line, not just somewhere. */
    int same = 0;
    for (int64_t i = 0; i < 1000; i++) {
        ss_synth_line(a, i, &x, NULL);
        ss_synth_line(c, i, &y, NULL);
        same += x.len == y.len && !memcmp(x.data, y.data, x.len);
    }
    assert_int_equal(same, 0);
    ss_buf_free(&x);
    ss_buf_free(&y);
    ss_synth_free(a);
    ss_synth_free(b);
    ss_synth_free(c);
}

static void test_mix_1m(void **state) {
    const int64_t N = 1000000;
    ss_synth *g = make(N, 7, 0, 0, NULL);
    int64_t types[SS_TYPE__COUNT] = {0}, commits = 0, changed = 0;
    int64_t del[SS_TYPE__COUNT] = {0};
    for (int64_t i = 0; i < N; i++) {
        ss_synth_slot s;
        ss_synth_plan(g, i, &s);
        assert_int_equal(s.cat, SS_SYNTH_GOOD);
        types[s.type]++;
        if (s.op != SS_OP_NONE) {
            commits++;
            if (s.op != SS_OP_CREATE) changed++, del[s.type]++;
        }
    }
    const double target[SS_TYPE__COUNT] = {9.4, 47.3, 5.9, 33.3, 1.6, 0.3, 0.3, 1.9};
    for (int t = 0; t < SS_TYPE__COUNT; t++) {
        double pct = 100.0 * (double)types[t] / (double)N;
        if (pct < target[t] - 1 || pct > target[t] + 1) fail_msg("type %d: %.3f%% vs target %.1f%%", t, pct, target[t]);
    }
    /* Identity + account together 0.6 %, tighter than the generic +-1. */
    double ia = 100.0 * (double)(types[SS_TYPE_IDENTITY] + types[SS_TYPE_ACCOUNT]) / (double)N;
    assert_true(ia > 0.5 && ia < 0.7);
    double share = 100.0 * (double)changed / (double)commits;
    if (share < 4.4 || share > 5.0) fail_msg("delete/update share %.3f%%, want about 4.7%%", share);
    /* Per-type delete/update shares, as measured on real samples: follow 8.2 %, like 1.3 %. */
    double fshare = 100.0 * (double)del[SS_TYPE_FOLLOW] / (double)types[SS_TYPE_FOLLOW];
    double lshare = 100.0 * (double)del[SS_TYPE_LIKE] / (double)types[SS_TYPE_LIKE];
    assert_true(fshare > 7.9 && fshare < 8.5);
    assert_true(lshare > 1.1 && lshare < 1.5);
    ss_synth_free(g);
}

/* Checks one good line's identifiers, field order and time; returns time_us. */
static int64_t check_good_line(const char *l, size_t n) {
    const char *end = l + n;
    assert_true(n > 20 && !memcmp(l, "{\"did\":\"did:plc:", 16));
    assert_true(all_in(l + 16, 24, B32));
    assert_true(!memcmp(l + 40, "\",\"time_us\":", 12));
    int64_t t = num_at(l + 52);
    const char *k = find_key(l, end, "kind");
    assert_non_null(k);
    if (!memcmp(k, "\"commit\"", 8)) {
        assert_true(!memcmp(k + 8, ",\"commit\":{\"rev\":\"", 18));
        const char *rev = k + 26;
        assert_true(all_in(rev, 13, "234567abcdefghijklmnopqrstuvwxyz") && rev[13] == '"');
        assert_true(strchr("234567abcdefghij", rev[0]) != NULL); /* top bit of a TID is 0 */
        const char *op = find_key(rev, end, "operation");
        assert_non_null(op);
        const char *coll = find_key(op, end, "collection");
        const char *rkey = find_key(op, end, "rkey");
        assert_true(coll && rkey && coll < rkey);
        if (memcmp(rkey, "\"self\"", 6) != 0) assert_true(all_in(rkey + 1, 13, "234567abcdefghijklmnopqrstuvwxyz"));
        if (!memcmp(op, "\"delete\"", 8)) {
            assert_null(find_key(op, end, "record"));
            assert_null(find_key(op, end, "cid"));
            assert_true(!memcmp(rkey + 15, "}}", 2) && (size_t)(rkey + 17 - l) == n);
        } else {
            const char *rec = find_key(op, end, "record");
            assert_non_null(rec);
            assert_true(!memcmp(rec, "{\"$type\":\"", 10));
            /* The commit's cid is the last key: ,"cid":"bafyrei" + 52 chars + "}} */
            assert_true(n > 70 && !memcmp(end - 70, ",\"cid\":\"bafyrei", 15));
            assert_true(all_in(end - 55, 52, B32) && !memcmp(end - 3, "\"}}", 3));
        }
    } else if (!memcmp(k, "\"identity\"", 10) || !memcmp(k, "\"account\"", 9)) {
        const char *seq = find_key(k, end, "seq");
        const char *time = find_key(k, end, "time");
        assert_true(seq && time && num_at(seq) > 0 && time[0] == '"' && time[24] == 'Z');
    } else
        fail_msg("unknown kind in %.*s", (int)n, l);
    /* Every CID and blob ref looks real. */
    for (const char *p = l; (p = memmem(p, (size_t)(end - p), "\"bafyrei", 8)) != NULL; p += 8)
        assert_true(all_in(p + 8, 52, B32) && p[60] == '"');
    for (const char *p = l; (p = memmem(p, (size_t)(end - p), "{\"$link\":\"bafkrei", 17)) != NULL; p += 17)
        assert_true(all_in(p + 17, 52, B32) && p[69] == '"');
    return t;
}

/* The microseconds in a TID (13 base32-sortable chars). */
static int64_t tid_us(const char *t) {
    static const char S[] = "234567abcdefghijklmnopqrstuvwxyz";
    uint64_t v = 0;
    for (int i = 0; i < 13; i++) v = (v << 5) | (uint64_t)(strchr(S, t[i]) - S);
    return (int64_t)(v >> 10);
}

/* rev is minted just before time_us; a create's rkey a little before that. */
static void check_tids(const char *l, size_t n, int64_t t) {
    const char *end = l + n;
    const char *rev = find_key(l, end, "rev");
    if (!rev) return; /* identity / account */
    int64_t r = tid_us(rev + 1);
    assert_true(r <= t && r >= t - 400000);
    const char *op = find_key(l, end, "operation");
    const char *rkey = find_key(l, end, "rkey");
    if (!memcmp(rkey, "\"self\"", 6)) return;
    int64_t k = tid_us(rkey + 1);
    if (!memcmp(op, "\"create\"", 8)) assert_true(k <= t && k >= t - 3000000);
    else assert_true(k < t);
}

static void test_lines_valid_and_sized(void **state) {
    const int64_t N = 100000;
    ss_synth_params p;
    ss_synth *g = make(N, 3, 0, 0, &p);
    ss_buf b;
    ss_buf_init(&b);
    int64_t bytes = 0, prev = 0;
    double us = 1e6 / p.rate;
    for (int64_t i = 0; i < N; i++) {
        ss_synth_slot s;
        assert_int_equal(ss_synth_line(g, i, &b, &s), 0);
        assert_int_equal(s.cat, SS_SYNTH_GOOD);
        if (json_check(b.data, b.len) != JV_OK) fail_msg("line %lld is not valid JSON: %s", (long long)i, b.data);
        assert_null(memchr(b.data, '\n', b.len));
        int64_t t = check_good_line(b.data, b.len);
        check_tids(b.data, b.len, t);
        /* time_us follows the rate exactly, never going backwards. */
        assert_true(t >= prev);
        int64_t lo = p.start_us + (int64_t)((double)i * us), hi = p.start_us + (int64_t)((double)(i + 1) * us);
        assert_true(t >= lo && t <= hi);
        prev = t;
        bytes += (int64_t)b.len + 1;
    }
    double avg = (double)bytes / (double)N;
    print_message("average line %.1f bytes\n", avg);
    assert_true(avg >= 500 && avg <= 600);
    ss_buf_free(&b);
    ss_synth_free(g);
}

/* Decodes the JSON string starting at p (after its opening quote) into out. */
static size_t unescape(const char *p, char *out, size_t cap) {
    size_t n = 0;
    while (*p != '"') {
        assert_true(n + 4 < cap);
        if (*p != '\\') {
            out[n++] = *p++;
            continue;
        }
        p++;
        char c = *p++;
        if (c == 'n') out[n++] = '\n';
        else if (c == 't') out[n++] = '\t';
        else if (c == 'r') out[n++] = '\r';
        else if (c == 'u') {
            unsigned u = (unsigned)strtoul((char[5]){p[0], p[1], p[2], p[3], 0}, NULL, 16);
            p += 4;
            assert_true(u < 0xd800 || u > 0xdfff);
            if (u < 0x80) out[n++] = (char)u;
            else if (u < 0x800) out[n++] = (char)(0xc0 | (u >> 6)), out[n++] = (char)(0x80 | (u & 63));
            else
                out[n++] = (char)(0xe0 | (u >> 12)), out[n++] = (char)(0x80 | ((u >> 6) & 63)),
                out[n++] = (char)(0x80 | (u & 63));
        } else
            out[n++] = c;
    }
    return n;
}

static size_t graphemes_upper_bound(const char *s, size_t n) {
    size_t cps = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xc0) != 0x80) cps++;
    return cps;
}

static void test_post_text_and_facets(void **state) {
    const int64_t N = 60000;
    ss_synth *g = make(N, 11, 0, 0, NULL);
    ss_buf b;
    ss_buf_init(&b);
    static char text[8192];
    int64_t posts = 0, facets = 0, multibyte = 0, escapes = 0, replies = 0, images = 0, external = 0, quotes = 0,
            rwm = 0, labels = 0, nolangs = 0, multilangs = 0, longest = 0;
    for (int64_t i = 0; i < N; i++) {
        ss_synth_slot s;
        ss_synth_line(g, i, &b, &s);
        if (s.type != SS_TYPE_POST || s.op == SS_OP_DELETE) continue;
        posts++;
        const char *end = b.data + b.len;
        const char *t = memmem(b.data, b.len, ",\"text\":\"", 9);
        const char *last;
        while (t && (last = memmem(t + 1, (size_t)(end - t - 1), ",\"text\":\"", 9))) t = last;
        assert_non_null(t);
        size_t tn = unescape(t + 9, text, sizeof text);
        assert_true(tn <= 3000);
        assert_true(graphemes_upper_bound(text, tn) <= 300 * 8);
        for (size_t k = 0; k < tn; k++)
            if ((unsigned char)text[k] >= 0x80) {
                multibyte++;
                break;
            }
        if (memmem(t, (size_t)(end - t), "\\n", 2) || memmem(t, (size_t)(end - t), "\\\"", 2)) escapes++;
        if ((int64_t)tn > longest) longest = (int64_t)tn;
        replies += strstr(b.data, "\"reply\":{\"parent\":{\"cid\":\"bafyrei") != NULL;
        images += memmem(b.data, b.len, "app.bsky.embed.images", 21) != NULL;
        external += memmem(b.data, b.len, "app.bsky.embed.external", 23) != NULL;
        quotes += memmem(b.data, b.len, "\"embed\":{\"$type\":\"app.bsky.embed.record\"", 40) != NULL;
        rwm += memmem(b.data, b.len, "app.bsky.embed.recordWithMedia", 30) != NULL;
        labels += memmem(b.data, b.len, "com.atproto.label.defs#selfLabels", 33) != NULL;
        const char *lg = memmem(b.data, b.len, "\"langs\":[", 9);
        if (!lg) nolangs++;
        else if (lg[13] == ',') multilangs++;
        /* Every facet's byte range lies on UTF-8 boundaries inside the text and covers
         * what its feature says: "@handle", "#tag", or a link label. */
        for (const char *f = b.data; (f = memmem(f, (size_t)(end - f), "\"byteEnd\":", 10)) != NULL; f += 10) {
            int64_t e = num_at(f + 10);
            const char *bs = find_key(f, end, "byteStart");
            assert_non_null(bs);
            int64_t st = num_at(bs);
            assert_true(st >= 0 && st < e && e <= (int64_t)tn);
            assert_true(((unsigned char)text[st] & 0xc0) != 0x80);
            assert_true(e == (int64_t)tn || ((unsigned char)text[e] & 0xc0) != 0x80);
            /* The feature type is the nearest one before this index. */
            const char *ft = NULL, *q = b.data;
            while ((q = memmem(q, (size_t)(f - q), "richtext.facet#", 15)) != NULL) ft = q, q += 15;
            assert_non_null(ft);
            if (!memcmp(ft + 15, "mention", 7)) assert_int_equal(text[st], '@');
            else if (!memcmp(ft + 15, "tag", 3)) assert_int_equal(text[st], '#');
            else assert_true(!memcmp(ft + 15, "link", 4));
            facets++;
        }
    }
    print_message("posts %lld facets %lld multibyte %lld escapes %lld replies %lld images %lld external %lld "
                  "quote %lld rwm %lld labels %lld nolangs %lld multilangs %lld longest %lld\n",
                  (long long)posts, (long long)facets, (long long)multibyte, (long long)escapes, (long long)replies,
                  (long long)images, (long long)external, (long long)quotes, (long long)rwm, (long long)labels,
                  (long long)nolangs, (long long)multilangs, (long long)longest);
    assert_true(posts > 4000);
    assert_true(facets > posts / 10);
    assert_true(multibyte > posts / 5);
    assert_true(escapes > posts / 50);
    assert_true(replies > posts / 3 && replies < posts * 2 / 3);
    assert_true(images > posts / 10 && external > posts / 20 && quotes > posts / 50 && rwm > 0 && labels > 0);
    assert_true(nolangs > 0 && multilangs > 0);
    assert_true(longest > 600);
    ss_buf_free(&b);
    ss_synth_free(g);
}

static int utf8_valid(const char *s, size_t n) {
    jv j = {(const unsigned char *)s, (const unsigned char *)s + n, JV_OK, 0};
    /* Wrap in a fake string scan: check bytes only. */
    while (j.p < j.end) {
        unsigned char c = *j.p;
        if (c < 0x80) {
            j.p++;
            continue;
        }
        int k = (c & 0xe0) == 0xc0 ? 1 : (c & 0xf0) == 0xe0 ? 2 : (c & 0xf8) == 0xf0 ? 3 : -1;
        if (k < 0 || j.end - j.p <= k) return 0;
        for (int i = 1; i <= k; i++)
            if ((j.p[i] & 0xc0) != 0x80) return 0;
        j.p += k + 1;
    }
    return 1;
}

static void test_planting_matches_stats(void **state) {
    const int64_t N = 30000;
    ss_synth_params p;
    ss_synth_params_init(&p);
    p.events = N;
    p.seed = 5;
    p.dup_frac = 0.03;
    p.bad_frac = 0.02;
    p.jitter_frac = 0.05;
    p.jitter_us = 2000000;
    ss_synth *g = ss_synth_new(&p);
    assert_non_null(g);
    ss_buf b, src;
    ss_buf_init(&b);
    ss_buf_init(&src);
    ss_synth_stats st;
    memset(&st, 0, sizeof st);
    int64_t kinds[SS_SYNTH_BAD__COUNT] = {0}, dups = 0, jitter_seen = 0, bad = 0;
    double us = 1e6 / p.rate;
    for (int64_t i = 0; i < N; i++) {
        ss_synth_slot s;
        assert_int_equal(ss_synth_line(g, i, &b, &s), 0);
        ss_synth_stats_add(&st, &s, b.len);
        assert_null(memchr(b.data, '\n', b.len));
        assert_true(b.len > 0);
        jv_result jr = json_check(b.data, b.len);
        if (s.cat == SS_SYNTH_BAD) {
            bad++;
            kinds[s.bad]++;
            switch (s.bad) {
            case SS_SYNTH_BAD_NOT_JSON:
            case SS_SYNTH_BAD_TRUNCATED:
                assert_int_equal(jr, JV_SYNTAX);
                assert_true(utf8_valid(b.data, b.len));
                break;
            case SS_SYNTH_BAD_UTF8:
                assert_int_equal(jr, JV_UTF8);
                assert_false(utf8_valid(b.data, b.len));
                break;
            case SS_SYNTH_BAD_SURROGATE:
                assert_int_equal(jr, JV_UTF8);
                assert_non_null(memmem(b.data, b.len, "\\ud83e\"", 7));
                break;
            case SS_SYNTH_BAD_MISSING:
                assert_int_equal(jr, JV_OK);
                assert_true(!memmem(b.data, b.len, "\"time_us\":", 10) || !memmem(b.data, b.len, "\"collection\":", 13));
                break;
            case SS_SYNTH_BAD_WRONG_TYPE:
                assert_int_equal(jr, JV_OK);
                assert_true(memmem(b.data, b.len, "\"time_us\":\"", 11) || memmem(b.data, b.len, "\"rev\":1", 7) ||
                            (memmem(b.data, b.len, "\"rev\":", 6) && ((const char *)memmem(b.data, b.len, "\"rev\":", 6))[6] != '"'));
                break;
            default: fail_msg("oversize planted without bad_oversize");
            }
            continue;
        }
        assert_int_equal(jr, JV_OK);
        int64_t t = check_good_line(b.data, b.len);
        if (s.cat == SS_SYNTH_DUP) {
            dups++;
            assert_true(s.source_slot < i && s.source_slot >= i - SS_SYNTH_DUP_WINDOW);
            ss_synth_slot ss;
            ss_synth_line(g, s.source_slot, &src, &ss);
            assert_int_equal(ss.cat, SS_SYNTH_GOOD);
            assert_int_equal(src.len, b.len);
            assert_memory_equal(src.data, b.data, b.len);
            continue;
        }
        int64_t lo = p.start_us + (int64_t)((double)i * us), hi = p.start_us + (int64_t)((double)(i + 1) * us);
        if (s.jittered) {
            jitter_seen++;
            assert_true(t >= lo - p.jitter_us && t <= hi + p.jitter_us);
        } else
            assert_true(t >= lo && t <= hi);
    }
    assert_int_equal(st.lines, N);
    assert_int_equal(st.bad, bad);
    assert_int_equal(st.dups, dups);
    assert_int_equal(st.good + st.dups + st.bad, N);
    assert_int_equal(st.jittered, jitter_seen);
    for (int k = 0; k < SS_SYNTH_BAD__COUNT; k++) assert_int_equal(st.bad_kind[k], kinds[k]);
    int64_t sum = 0, sumt = 0;
    for (int t = 0; t < SS_TYPE__COUNT; t++) sum += st.unique[t], sumt += st.total[t];
    assert_int_equal(sum, st.good);
    assert_int_equal(sumt, st.good + st.dups);
    /* Planted shares are near what was asked for. */
    assert_true(bad > N * 0.015 && bad < N * 0.025);
    assert_true(dups > N * 0.025 && dups < N * 0.035);
    assert_true(jitter_seen > st.good * 0.04 && jitter_seen < st.good * 0.06);
    for (int k = 0; k < SS_SYNTH_BAD_OVERSIZE; k++) assert_true(kinds[k] > 0);
    /* The stats JSON is valid and carries the counts. */
    ss_buf js;
    ss_buf_init(&js);
    assert_int_equal(ss_synth_stats_json(&st, &p, &js), 0);
    assert_int_equal(json_check(js.data, js.len), JV_OK);
    char want[64];
    snprintf(want, sizeof want, "\"dups\":%lld,", (long long)dups);
    assert_non_null(strstr(js.data, want));
    snprintf(want, sizeof want, "\"lines\":%lld,", (long long)N);
    assert_non_null(strstr(js.data, want));
    ss_buf_free(&js);
    ss_buf_free(&b);
    ss_buf_free(&src);
    ss_synth_free(g);
}

static void test_source_seek_and_oversize(void **state) {
    char err[256];
    ss_source *s = ss_source_open("synth:events=3000,seed=9,dup=0.05,bad=0.05", NULL, err, sizeof err, NULL);
    assert_non_null(s);
    assert_string_equal(s->cursor_name, "index");
    assert_int_equal(s->resume_margin, 0);
    assert_non_null(strstr(s->id, "synth:events=3000,seed=9,"));
    ss_synth *g = make(3000, 9, 0.05, 0.05, NULL);
    ss_buf b;
    ss_buf_init(&b);
    ss_source_msg m;
    for (int64_t i = 0; i < 3000; i++) {
        assert_int_equal(ss_source_next(s, &m, 0), SS_SOURCE_MSG);
        assert_int_equal(m.cursor, i + 1);
        assert_null(m.bad_reason);
        ss_synth_line(g, i, &b, NULL);
        assert_int_equal(m.len, b.len);
        assert_memory_equal(m.data, b.data, b.len);
    }
    assert_int_equal(ss_source_next(s, &m, 0), SS_SOURCE_END);
    /* Seek anywhere, including far back; the next message is that slot. */
    const int64_t at[] = {2999, 0, 1234, 3000};
    for (size_t k = 0; k < 4; k++) {
        assert_int_equal(ss_source_seek(s, at[k]), 0);
        int r = ss_source_next(s, &m, 0);
        if (at[k] == 3000) {
            assert_int_equal(r, SS_SOURCE_END);
            continue;
        }
        assert_int_equal(r, SS_SOURCE_MSG);
        ss_synth_line(g, at[k], &b, NULL);
        assert_memory_equal(m.data, b.data, b.len);
        assert_int_equal(m.cursor, at[k] + 1);
    }
    assert_int_not_equal(ss_source_seek(s, 3001), 0);
    ss_source_close(s);
    ss_synth_free(g);

    /* Seeking deep into a huge stream is instant. */
    s = ss_source_open("synth:events=1000000000000,seed=2", NULL, err, sizeof err, NULL);
    assert_non_null(s);
    assert_int_equal(ss_source_seek(s, 999999999990LL), 0);
    assert_int_equal(ss_source_next(s, &m, 0), SS_SOURCE_MSG);
    assert_int_equal(m.cursor, 999999999991LL);
    assert_int_equal(json_check(m.data, m.len), JV_OK);
    int64_t tdeep = check_good_line(m.data, m.len);
    assert_true(tdeep >= SS_SYNTH_DEFAULT_START_US + 999999999990LL * 500 &&
                tdeep <= SS_SYNTH_DEFAULT_START_US + 999999999991LL * 500);
    ss_source_close(s);

    /* Oversized planted lines: over 2 MiB from the generator, too_large from the source. */
    s = ss_source_open("synth:events=60,seed=4,bad=1,oversize=1", NULL, err, sizeof err, NULL);
    assert_non_null(s);
    ss_synth_params p;
    ss_synth_params_init(&p);
    assert_int_equal(ss_synth_params_parse(&p, "events=60,seed=4,bad=1,oversize=1", err, sizeof err), 0);
    g = ss_synth_new(&p);
    int big = 0;
    for (int64_t i = 0; i < 60; i++) {
        ss_synth_slot sl;
        ss_synth_line(g, i, &b, &sl);
        assert_int_equal(ss_source_next(s, &m, 0), SS_SOURCE_MSG);
        if (sl.bad == SS_SYNTH_BAD_OVERSIZE) {
            big++;
            assert_true(b.len > 2u * 1024 * 1024);
            assert_string_equal(m.bad_reason, "too_large");
            assert_int_equal(m.len, 64 * 1024);
            assert_memory_equal(m.data, b.data, m.len);
        } else {
            assert_null(m.bad_reason);
            assert_true(b.len < 64 * 1024);
        }
    }
    assert_true(big > 0);
    ss_synth_free(g);
    ss_source_close(s);
    ss_buf_free(&b);
}

/* pace=R: a live-like feed. It never changes the bytes or the source id (the cursor key),
 * holds the rate (AGAIN while ahead of it, with timeout 0), and rejects bad values. */
static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_source_pace(void **state) {
    (void)state;
    char err[256];
    ss_source *a = ss_source_open("synth:events=1500,seed=3", NULL, err, sizeof err, NULL);
    ss_source *b = ss_source_open("synth:events=1500,pace=3000,seed=3", NULL, err, sizeof err, NULL);
    assert_non_null(a);
    assert_non_null(b);
    assert_string_equal(a->id, b->id);
    ss_source_msg ma, mb;
    double t0 = now_s();
    int agains = 0;
    for (int i = 0; i < 1500; i++) {
        assert_int_equal(ss_source_next(a, &ma, 0), SS_SOURCE_MSG);
        int r;
        while ((r = ss_source_next(b, &mb, 0)) == SS_SOURCE_AGAIN) agains++;
        assert_int_equal(r, SS_SOURCE_MSG);
        assert_int_equal(ma.len, mb.len);
        assert_memory_equal(ma.data, mb.data, ma.len);
    }
    double dt = now_s() - t0;
    /* 1500 at 3000/s: 0.5 s (each message goes at most 10 ms before it is due) */
    assert_true(dt >= 0.45);
    assert_true(dt < 5.0);
    assert_true(agains > 0);
    /* a blocking wait (timeout) returns the message instead of AGAIN */
    assert_int_equal(ss_source_seek(b, 0), 0);
    assert_int_equal(ss_source_next(b, &mb, 1000), SS_SOURCE_MSG);
    assert_int_equal(ss_source_next(b, &mb, 1000), SS_SOURCE_MSG);
    ss_source_close(a);
    ss_source_close(b);
    const char *bad[] = {"synth:events=5,pace=0", "synth:events=5,pace=-1", "synth:events=5,pace=x",
                         "synth:events=5,pace=1e9", "synth:events=5,pace="};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        assert_null(ss_source_open(bad[i], NULL, err, sizeof err, NULL));
        assert_true(err[0] != '\0');
    }
}

static void test_params(void **state) {
    ss_synth_params p;
    char err[256], canon[512];
    ss_synth_params_init(&p);
    assert_int_equal(ss_synth_params_parse(&p, "events=10,seed=3,start=2024-11-18T12:00:00Z,rate=1,dup=0.5", err,
                                           sizeof err),
                     0);
    assert_int_equal(p.start_us, 1731931200000000LL);
    ss_synth_params_canonical(&p, canon, sizeof canon);
    assert_string_equal(canon, "events=10,seed=3,start=1731931200000000,rate=1,jitter=0,jitter_us=0,dup=0.5,bad=0,"
                               "oversize=0,other=0.019");
    /* The canonical string parses back to the same parameters. */
    ss_synth_params q;
    ss_synth_params_init(&q);
    assert_int_equal(ss_synth_params_parse(&q, canon, err, sizeof err), 0);
    assert_memory_equal(&p, &q, sizeof p);
    const char *bad[] = {"events=-1", "events=x", "rate=0", "dup=2", "dup=0.6,bad=0.6", "nope=1", "events",
                         "start=2025-13-01T00:00:00Z", "start=yesterday", "seed=18446744073709551616", "seed=-1",
                         "events=99999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ss_synth_params_init(&p);
        assert_int_not_equal(ss_synth_params_parse(&p, bad[i], err, sizeof err), 0);
        assert_true(strlen(err) > 5);
    }
    int64_t us;
    assert_int_equal(ss_synth_parse_time("2025-08-07T00:00:00Z", &us), 0);
    assert_int_equal(us, SS_SYNTH_DEFAULT_START_US);
    assert_int_equal(ss_synth_parse_time("2000-02-29T23:59:59.5Z", &us), 0);
    assert_int_equal(us, 951868799500000LL);
    assert_int_equal(ss_synth_parse_time("1754524800000000", &us), 0);
    assert_int_equal(us, 1754524800000000LL);
}

/* Every good line decodes with the project's decoder into the planned type and op, and
 * every planted bad line is rejected with the reason it was planted for. */
static void test_decoder_agrees(void **state) {
    const int64_t N = 40000;
    ss_synth_params p;
    ss_synth_params_init(&p);
    p.events = N;
    p.seed = 21;
    p.dup_frac = 0.01;
    p.bad_frac = 0.03;
    p.bad_oversize = 1;
    ss_synth *g = ss_synth_new(&p);
    ss_decoder *d = ss_decoder_new(NULL);
    assert_true(g && d);
    ss_buf b;
    ss_buf_init(&b);
    int64_t good = 0, bad = 0, per_reason[SS_SYNTH_BAD__COUNT] = {0};
    for (int64_t i = 0; i < N; i++) {
        ss_synth_slot s;
        assert_int_equal(ss_synth_line(g, i, &b, &s), 0);
        ss_event ev;
        ss_decode_reason r = ss_decode(d, b.data, b.len, &ev);
        if (s.cat == SS_SYNTH_BAD) {
            const char *want = ss_synth_bad_kind_reason(s.bad);
            if (r == SS_DECODE_OK || strcmp(ss_decode_reason_name(r), want) != 0)
                fail_msg("slot %lld (%s): decoder said %s, planted %s: %.300s", (long long)i,
                         ss_synth_bad_kind_name(s.bad), ss_decode_reason_name(r), want, b.data);
            per_reason[s.bad]++;
            bad++;
            continue;
        }
        if (r != SS_DECODE_OK)
            fail_msg("slot %lld: %s (%s): %.400s", (long long)i, ss_decode_reason_name(r), ss_decoder_errstr(d), b.data);
        assert_int_equal(ev.type, s.type);
        if (s.type != SS_TYPE_IDENTITY && s.type != SS_TYPE_ACCOUNT) {
            assert_int_equal(ev.kind, SS_KIND_COMMIT);
            assert_int_equal(ev.op, s.op);
            assert_int_equal(ev.record.p == NULL, s.op == SS_OP_DELETE);
            assert_int_equal(ev.cid.p == NULL, s.op == SS_OP_DELETE);
        } else {
            assert_int_equal(ev.op, SS_OP_NONE);
            assert_true(ev.seq > 0);
        }
        assert_int_equal(ev.did.n, 32);
        good++;
    }
    for (int k = 0; k < SS_SYNTH_BAD__COUNT; k++) assert_true(per_reason[k] > 0);
    assert_true(good > N * 0.95 && bad > N * 0.02);
    ss_buf_free(&b);
    ss_decoder_free(d);
    ss_synth_free(g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_params),
        cmocka_unit_test(test_reproducible),
        cmocka_unit_test(test_mix_1m),
        cmocka_unit_test(test_lines_valid_and_sized),
        cmocka_unit_test(test_post_text_and_facets),
        cmocka_unit_test(test_planting_matches_stats),
        cmocka_unit_test(test_source_seek_and_oversize),
        cmocka_unit_test(test_source_pace),
        cmocka_unit_test(test_decoder_agrees),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
