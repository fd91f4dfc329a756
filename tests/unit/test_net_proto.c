/* Unit tests for the protocol side of the live sources (no sockets): WebSocket URL
 * parsing, query building and reading, the Jetstream event peek and wantedCollections
 * filter, the subscribeRepos frame peek, and zstd with a Jetstream-style dictionary,
 * including frames made by the zstd CLI: one trained here on synth events (always), and
 * Jetstream's real 112,640-byte one from $SKYSPOOL_SHARED in addition when present. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <zstd.h>
#include <zdict.h>

#include "ss_shared.h"
#include "source/synth/synth.h"
#include "proto/frame_peek.h"
#include "net/ws_frame.h"
#include "proto/js_proto.h"
#include "net/ws_url.h"
#include "net/zdict.h"
#include "util/buf.h"

static void test_url_parse(void **state) {
    (void)state;
    ss_ws_url u;
    char err[256];
    assert_int_equal(ss_ws_url_parse("wss://jetstream2.us-east.bsky.network/subscribe", &u, err, sizeof err), 0);
    assert_int_equal(u.tls, 1);
    assert_string_equal(u.host, "jetstream2.us-east.bsky.network");
    assert_int_equal(u.port, 443);
    assert_string_equal(u.path, "/subscribe");

    assert_int_equal(ss_ws_url_parse("ws://127.0.0.1:6008/subscribe?wantedCollections=app.bsky.*", &u, err, sizeof err), 0);
    assert_int_equal(u.tls, 0);
    assert_int_equal(u.port, 6008);
    assert_string_equal(u.path, "/subscribe?wantedCollections=app.bsky.*");

    assert_int_equal(ss_ws_url_parse("ws://[::1]:9/x", &u, err, sizeof err), 0);
    assert_string_equal(u.host, "::1");
    assert_int_equal(u.port, 9);
    assert_int_equal(ss_ws_url_parse("ws://localhost", &u, err, sizeof err), 0);
    assert_string_equal(u.path, "/");
    assert_int_equal(u.port, 80);
    assert_int_equal(ss_ws_url_parse("ws://h?a=1", &u, err, sizeof err), 0);
    assert_string_equal(u.path, "/?a=1");

    const char *bad[] = {"http://x/", "ws://", "ws://:80/", "ws://h:0/", "ws://h:65536/", "ws://h:12x/",
                         "ws://[::1/", "ws://h/a b", "ws://h/#frag", "ws://ho st/", "wss://h:/"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = 0;
        assert_int_equal(ss_ws_url_parse(bad[i], &u, err, sizeof err), -1);
        assert_true(strlen(err) > 0);
    }
    char longurl[SS_WS_URL_MAX + 10];
    memset(longurl, 'a', sizeof longurl);
    memcpy(longurl, "ws://h/", 7);
    longurl[sizeof longurl - 1] = 0;
    assert_int_equal(ss_ws_url_parse(longurl, &u, err, sizeof err), -1);
}

static void test_query_build(void **state) {
    (void)state;
    ss_buf b;
    ss_buf_init(&b);
    assert_int_equal(ss_ws_query_strip("/subscribe?cursor=5&wantedCollections=a&cursor=7&x", "cursor", &b), 0);
    assert_string_equal(b.data, "/subscribe?wantedCollections=a&x");
    assert_int_equal(ss_ws_query_strip("/subscribe?cursor=5", "cursor", &b), 0);
    assert_string_equal(b.data, "/subscribe");
    assert_int_equal(ss_ws_query_strip("/subscribe?cursorx=5", "cursor", &b), 0);
    assert_string_equal(b.data, "/subscribe?cursorx=5");
    assert_int_equal(ss_ws_query_add(&b, "cursor", "1725911162329308"), 0);
    assert_string_equal(b.data, "/subscribe?cursorx=5&cursor=1725911162329308");
    ss_buf_reset(&b);
    ss_buf_puts(&b, "/subscribe");
    assert_int_equal(ss_ws_query_add(&b, "wantedCollections", "app.bsky.*"), 0);
    assert_int_equal(ss_ws_query_add(&b, "q", "a b&c=d/é"), 0);
    assert_string_equal(b.data, "/subscribe?wantedCollections=app.bsky.*&q=a%20b%26c%3Dd%2F%C3%A9");
    assert_true(ss_ws_query_has(b.data, "q"));
    assert_true(ss_ws_query_has(b.data, "wantedCollections"));
    assert_false(ss_ws_query_has(b.data, "wanted"));
    assert_false(ss_ws_query_has("/x", "q"));
    ss_buf_free(&b);
}

typedef struct {
    char keys[8][64], vals[8][64];
    int n;
} kv;

static int collect(const char *k, const char *v, void *ud) {
    kv *x = ud;
    if (x->n >= 8) return 1;
    snprintf(x->keys[x->n], 64, "%s", k);
    snprintf(x->vals[x->n], 64, "%s", v);
    x->n++;
    return 0;
}

static void test_query_each(void **state) {
    (void)state;
    kv x = {0};
    assert_int_equal(ss_ws_query_each("?a=1&&b=x%20y+z&flag&c=%zz&d=%41", collect, &x), 0);
    assert_int_equal(x.n, 5);
    assert_string_equal(x.keys[0], "a");
    assert_string_equal(x.vals[0], "1");
    assert_string_equal(x.vals[1], "x y z");
    assert_string_equal(x.keys[2], "flag");
    assert_string_equal(x.vals[2], "");
    assert_string_equal(x.vals[3], "%zz"); /* bad escapes are kept as they are */
    assert_string_equal(x.vals[4], "A");
    char *big = malloc(SS_WS_URL_MAX + 10);
    memset(big, 'k', SS_WS_URL_MAX + 9);
    big[SS_WS_URL_MAX + 9] = 0;
    x.n = 0;
    assert_int_equal(ss_ws_query_each(big, collect, &x), -1);
    free(big);
}

static void test_js_peek(void **state) {
    (void)state;
    ss_js_peek_result r;
    const char *ev = "{\"did\":\"did:plc:x\",\"time_us\":1725911162329308,\"kind\":\"commit\",\"commit\":{\"rev\":\"r\","
                     "\"operation\":\"create\",\"collection\":\"app.bsky.feed.like\",\"rkey\":\"k\",\"record\":{}}}";
    assert_int_equal(ss_js_peek(ev, strlen(ev), 1, &r), 0);
    assert_int_equal(r.time_us, 1725911162329308LL);
    assert_int_equal(r.kind, SS_JS_KIND_COMMIT);
    assert_int_equal(r.collection_len, strlen("app.bsky.feed.like"));
    assert_memory_equal(r.collection, "app.bsky.feed.like", r.collection_len);

    /* Keys in any order, nested look-alikes ignored, escapes in strings skipped. */
    const char *ev2 = "{ \"commit\" : {\"record\":{\"time_us\":1,\"collection\":\"fake\",\"t\":\"a\\\"}\\\\\"},"
                      "\"collection\":\"app.bsky.feed.post\"}, \"kind\":\"commit\",\"x\":[1,{\"time_us\":2},null],"
                      "\"time_us\": 42 }";
    assert_int_equal(ss_js_peek(ev2, strlen(ev2), 1, &r), 0);
    assert_int_equal(r.time_us, 42);
    assert_int_equal(r.kind, SS_JS_KIND_COMMIT);
    assert_int_equal(r.collection_len, strlen("app.bsky.feed.post"));
    assert_memory_equal(r.collection, "app.bsky.feed.post", r.collection_len);

    const char *id = "{\"did\":\"d\",\"time_us\":7,\"kind\":\"identity\",\"identity\":{\"seq\":1}}";
    assert_int_equal(ss_js_peek(id, strlen(id), 1, &r), 0);
    assert_int_equal(r.kind, SS_JS_KIND_IDENTITY);
    assert_null(r.collection);
    const char *acc = "{\"kind\":\"account\",\"time_us\":8}";
    assert_int_equal(ss_js_peek(acc, strlen(acc), 0, &r), 0);
    assert_int_equal(r.kind, SS_JS_KIND_ACCOUNT);
    assert_int_equal(r.time_us, 8);
    const char *sy = "{\"kind\":\"sync\",\"time_us\":9,\"sync\":{\"seq\":3}}";
    assert_int_equal(ss_js_peek(sy, strlen(sy), 0, &r), 0);
    assert_int_equal(r.kind, SS_JS_KIND_SYNC);
    assert_int_equal(r.time_us, 9);

    /* time_us must be a non-negative integer. */
    const char *f = "{\"time_us\":1.5,\"kind\":\"commit\"}";
    ss_js_peek(f, strlen(f), 0, &r);
    assert_int_equal(r.time_us, -1);
    const char *neg = "{\"time_us\":-3,\"kind\":\"commit\"}";
    ss_js_peek(neg, strlen(neg), 0, &r);
    assert_int_equal(r.time_us, -1);
    const char *huge = "{\"time_us\":99999999999999999999999,\"kind\":\"commit\"}";
    ss_js_peek(huge, strlen(huge), 0, &r);
    assert_int_equal(r.time_us, -1);

    /* Malformed or truncated input: -1, never a read past the end. */
    const char *bad[] = {"", "[]", "{\"a\"", "{\"a\":", "{\"a\":\"unterminated", "{\"a\":1", "{\"a\":1,}",
                         "{\"a\":{\"b\":[1,2}", "{\"a\" 1}", "{1:2}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *copy = malloc(strlen(bad[i]) + 1); /* exact-size heap copy: ASan catches overreads */
        memcpy(copy, bad[i], strlen(bad[i]));
        assert_int_equal(ss_js_peek(copy, strlen(bad[i]), 1, &r), -1);
        free(copy);
    }
    /* Depth limit. */
    char deep[400];
    size_t n = 0;
    n += (size_t)sprintf(deep + n, "{\"a\":");
    for (int i = 0; i < 100; i++) deep[n++] = '[';
    for (int i = 0; i < 100; i++) deep[n++] = ']';
    deep[n++] = '}';
    assert_int_equal(ss_js_peek(deep, n, 1, &r), -1);
}

static void test_js_filter(void **state) {
    (void)state;
    ss_js_filter f;
    char err[256];
    ss_js_filter_init(&f);
    assert_true(ss_js_filter_match(&f, "anything", 8)); /* empty = everything */
    assert_int_equal(ss_js_filter_add(&f, SS_JS_DEFAULT_COLLECTIONS, err, sizeof err), 0);
    assert_int_equal(f.n, 5);
    assert_true(ss_js_filter_match(&f, "app.bsky.feed.post", 18));
    assert_true(ss_js_filter_match(&f, "app.bsky.graph.block", 20));
    assert_false(ss_js_filter_match(&f, "app.bsky.feed.postgate", 22));
    assert_false(ss_js_filter_match(&f, "app.bsky.feed.pos", 17));
    assert_false(ss_js_filter_match(&f, "app.bsky.actor.profile", 22));
    ss_js_filter_free(&f);

    assert_int_equal(ss_js_filter_add(&f, "app.bsky.graph.*,,place.stream.*", err, sizeof err), 0);
    assert_int_equal(f.n, 2);
    assert_true(ss_js_filter_match(&f, "app.bsky.graph.follow", 21));
    assert_true(ss_js_filter_match(&f, "place.stream.broadcast.origin", 29));
    assert_false(ss_js_filter_match(&f, "app.bsky.graphx", 15));
    assert_false(ss_js_filter_match(&f, "app.bsky.feed.like", 18));
    ss_js_filter_free(&f);

    const char *bad[] = {"*", ".*", "app bsky", "app.bsky.*x", "a/b", "app.bsky.feed.post\""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = 0;
        assert_int_equal(ss_js_filter_add(&f, bad[i], err, sizeof err), -1);
        assert_non_null(strstr(err, "bad collection"));
        ss_js_filter_free(&f);
    }
    /* At most 100 entries, as Jetstream allows. */
    ss_buf b;
    ss_buf_init(&b);
    for (int i = 0; i < 101; i++) ss_buf_printf(&b, "%sa.b.c%d", i ? "," : "", i);
    assert_int_equal(ss_js_filter_add(&f, b.data, err, sizeof err), -1);
    assert_non_null(strstr(err, "too many"));
    ss_js_filter_free(&f);
    ss_buf_free(&b);
}

/* CBOR builders for frames. */
static void cb_head(ss_buf *b, int major, uint64_t v) {
    uint8_t m = (uint8_t)(major << 5);
    if (v < 24) {
        ss_buf_putc(b, (char)(m | v));
    } else if (v < 256) {
        ss_buf_putc(b, (char)(m | 24));
        ss_buf_putc(b, (char)v);
    } else if (v < 65536) {
        ss_buf_putc(b, (char)(m | 25));
        ss_buf_putc(b, (char)(v >> 8));
        ss_buf_putc(b, (char)v);
    } else {
        ss_buf_putc(b, (char)(m | 27));
        for (int i = 7; i >= 0; i--) ss_buf_putc(b, (char)(v >> (8 * i)));
    }
}
static void cb_text(ss_buf *b, const char *s) {
    cb_head(b, 3, strlen(s));
    ss_buf_puts(b, s);
}

static void test_frame_peek(void **state) {
    (void)state;
    ss_buf b;
    ss_buf_init(&b);
    cb_head(&b, 5, 2);
    cb_text(&b, "t");
    cb_text(&b, "#commit");
    cb_text(&b, "op");
    cb_head(&b, 0, 1);
    cb_head(&b, 5, 4);
    cb_text(&b, "ops"); /* a nested value before seq, to be skipped */
    cb_head(&b, 4, 1);
    cb_head(&b, 5, 1);
    cb_text(&b, "cid");
    cb_head(&b, 6, 42);
    cb_head(&b, 2, 3);
    ss_buf_append(&b, "\0\1\2", 3);
    cb_text(&b, "seq");
    cb_head(&b, 0, 26650000001ULL);
    cb_text(&b, "time");
    cb_text(&b, "2026-01-27T10:00:00.123Z");
    cb_text(&b, "repo");
    cb_text(&b, "did:plc:x");
    ss_frame_peek_result r;
    assert_int_equal(ss_frame_peek((const uint8_t *)b.data, b.len, &r), 0);
    assert_int_equal(r.op, 1);
    assert_string_equal(r.t, "#commit");
    assert_int_equal(r.seq, 26650000001LL);
    assert_int_equal(r.time_us, 1769508000123000LL);
    /* Every truncation is rejected or leaves seq unknown, never reads past the end. */
    for (size_t cut = 0; cut < b.len; cut++) {
        uint8_t *copy = malloc(cut ? cut : 1);
        memcpy(copy, b.data, cut);
        int rc = ss_frame_peek(copy, cut, &r);
        assert_true(rc == -1 || r.seq == -1 || r.seq == 26650000001LL);
        free(copy);
    }
    /* An error frame: op -1, no seq. */
    ss_buf_reset(&b);
    cb_head(&b, 5, 1);
    cb_text(&b, "op");
    cb_head(&b, 1, 0);
    cb_head(&b, 5, 1);
    cb_text(&b, "error");
    cb_text(&b, "FutureCursor");
    assert_int_equal(ss_frame_peek((const uint8_t *)b.data, b.len, &r), 0);
    assert_int_equal(r.op, -1);
    assert_int_equal(r.seq, -1);
    /* Indefinite lengths are not DAG-CBOR. */
    const uint8_t indef[] = {0xbf, 0xff};
    assert_int_equal(ss_frame_peek(indef, sizeof indef, &r), -1);
    ss_buf_free(&b);

    assert_int_equal(ss_rfc3339_to_us("1970-01-01T00:00:01Z", 20), 1000000);
    assert_int_equal(ss_rfc3339_to_us("2024-09-10T12:34:56.7+02:00", 27), 1725964496700000LL);
    assert_int_equal(ss_rfc3339_to_us("2024-09-10T12:34:56.123456789Z", 30), 1725971696123456LL);
    assert_int_equal(ss_rfc3339_to_us("2024-13-10T12:34:56Z", 20), -1);
    assert_int_equal(ss_rfc3339_to_us("2024-09-10 12:34:56", 19), -1);
    assert_int_equal(ss_rfc3339_to_us("2024-09-10T12:34:56.Z", 21), -1);
}

/* A dictionary trained on 4000 synth events (as `zstd --train` would), written to a
 * temporary file; its path goes to out. */
static void train_dict(char *out, size_t outlen) {
    ss_synth_params p;
    ss_synth_params_init(&p);
    p.events = 4000;
    p.seed = 99;
    ss_synth *g = ss_synth_new(&p);
    assert_non_null(g);
    ss_buf all, line;
    ss_buf_init(&all);
    ss_buf_init(&line);
    size_t *sizes = calloc((size_t)p.events, sizeof *sizes);
    for (int64_t i = 0; i < p.events; i++) {
        assert_int_equal(ss_synth_line(g, i, &line, NULL), 0);
        ss_buf_append(&all, line.data, line.len);
        sizes[i] = line.len;
    }
    ss_synth_free(g);
    enum { DICT_BYTES = 112640 };
    char *dict = malloc(DICT_BYTES);
    size_t dn = ZDICT_trainFromBuffer(dict, DICT_BYTES, all.data, sizes, (unsigned)p.events);
    assert_false(ZDICT_isError(dn));
    snprintf(out, outlen, "/tmp/skyspool-trained-dict-XXXXXX");
    int fd = mkstemp(out);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, dict, dn), (ssize_t)dn);
    close(fd);
    free(dict);
    free(sizes);
    ss_buf_free(&all);
    ss_buf_free(&line);
}

static void zdict_roundtrip(const char *dict_file, size_t want_size) {
    char err[256];
    ss_zdict *z = ss_zdict_open(dict_file, 3, err, sizeof err);
    assert_non_null(z);
    const char *ev = "{\"did\":\"did:plc:mcc5yghbk7tixqryac2yxku7\",\"time_us\":1779719009132431,\"kind\":\"commit\","
                     "\"commit\":{\"rev\":\"3mmoojp7vgo2g\",\"operation\":\"create\",\"collection\":\"app.bsky.feed.like\","
                     "\"rkey\":\"3mmoojp7etg2g\",\"record\":{\"$type\":\"app.bsky.feed.like\",\"createdAt\":"
                     "\"2026-05-25T14:23:28.778Z\",\"subject\":{\"cid\":\"bafyreiaxf7tgbfydx3465sckitq6v564thxe2wwydbi7cwxbxvgssje3em\","
                     "\"uri\":\"at://did:plc:vfnmgxg2yscfliemmcxzyfyh/app.bsky.feed.post/3mmoodizfwc2j\"}},"
                     "\"cid\":\"bafyreidqpc7si3dbimffi64lz3xsx2qt45ip7rpna2qpslcddp23itjjzm\"}}";
    size_t n = strlen(ev);
    ss_buf c, d;
    ss_buf_init(&c);
    ss_buf_init(&d);
    assert_int_equal(ss_zdict_compress(z, ev, n, &c), 0);
    assert_true(c.len < n * 6 / 10); /* the dictionary knows this shape well */
    const char *reason = NULL;
    assert_int_equal(ss_zdict_decompress(z, c.data, c.len, &d, 1 << 20, &reason), 0);
    assert_int_equal(d.len, n);
    assert_memory_equal(d.data, ev, n);

    /* The output limit holds whatever the frame claims. */
    assert_int_equal(ss_zdict_decompress(z, c.data, c.len, &d, n - 1, &reason), -1);
    assert_string_equal(reason, "too_large");
    /* Corrupt and truncated frames. */
    assert_int_equal(ss_zdict_decompress(z, "not zstd", 8, &d, 1 << 20, &reason), -1);
    assert_string_equal(reason, "bad_zstd");
    assert_int_equal(ss_zdict_decompress(z, c.data, c.len - 3, &d, 1 << 20, &reason), -1);
    assert_string_equal(reason, "bad_zstd");
    ss_buf two;
    ss_buf_init(&two);
    ss_buf_append(&two, c.data, c.len);
    ss_buf_append(&two, c.data, c.len);
    assert_int_equal(ss_zdict_decompress(z, two.data, two.len, &d, 1 << 20, &reason), -1); /* one frame per message */

    /* A frame made by the zstd library's plain dictionary API (not our digested CDict)... */
    FILE *df = fopen(dict_file, "rb");
    assert_non_null(df);
    char *dict = malloc(200000);
    size_t dn = fread(dict, 1, 200000, df);
    fclose(df);
    if (want_size) assert_int_equal(dn, want_size);
    ZSTD_CCtx *cc = ZSTD_createCCtx();
    ss_buf_reset(&two);
    ss_buf_reserve(&two, ZSTD_compressBound(n));
    size_t zn = ZSTD_compress_usingDict(cc, two.data, ZSTD_compressBound(n), ev, n, dict, dn, 19);
    assert_false(ZSTD_isError(zn));
    assert_int_equal(ss_zdict_decompress(z, two.data, zn, &d, 1 << 20, &reason), 0);
    assert_memory_equal(d.data, ev, n);
    ZSTD_freeCCtx(cc);
    free(dict);

    /* ...and one made by the zstd command-line tool. */
    char tmpl[] = "/tmp/skyspool-zdict-XXXXXX";
    int fd = mkstemp(tmpl);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, ev, n), (ssize_t)n);
    close(fd);
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "zstd -q -c -D '%s' '%s'", dict_file, tmpl);
    FILE *pz = popen(cmd, "r");
    assert_non_null(pz);
    char cli[4096];
    size_t cn = fread(cli, 1, sizeof cli, pz);
    assert_int_equal(pclose(pz), 0);
    unlink(tmpl);
    assert_true(cn > 0);
    assert_int_equal(ss_zdict_decompress(z, cli, cn, &d, 1 << 20, &reason), 0);
    assert_memory_equal(d.data, ev, n);

    ss_buf_free(&two);
    ss_buf_free(&c);
    ss_buf_free(&d);
    ss_zdict_free(z);
}

static void test_zdict_roundtrip(void **state) {
    (void)state;
    char path[256];
    train_dict(path, sizeof path);
    zdict_roundtrip(path, 0);
    unlink(path);
}

/* The same with Jetstream's own dictionary (pkg/models/zstd_dictionary). */
static void test_zdict_roundtrip_jetstream(void **state) {
    (void)state;
    char path[4096];
    SS_SHARED_OR_SKIP("jetstream/zstd_dictionary", path);
    zdict_roundtrip(path, 112640);
}

static void test_zdict_open_errors(void **state) {
    (void)state;
    char err[256];
    assert_null(ss_zdict_open("/nonexistent/zstd_dictionary", 0, err, sizeof err));
    assert_non_null(strstr(err, "cannot open"));
    char tmpl[] = "/tmp/skyspool-zdict-XXXXXX";
    int fd = mkstemp(tmpl);
    close(fd);
    assert_null(ss_zdict_open(tmpl, 0, err, sizeof err));
    assert_non_null(strstr(err, "empty"));
    unlink(tmpl);
}


/* ---- WebSocket framing (ws_frame.h) ---------------------------------------------------- */

static void test_ws_handshake(void **state) {
    (void)state;
    char acc[29], err[256];
    ss_ws_accept_for("dGhlIHNhbXBsZSBub25jZQ==", acc); /* the example of RFC 6455, 1.3 */
    assert_string_equal(acc, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    char k1[25], k2[25];
    assert_int_equal(ss_ws_make_key(k1), 0);
    assert_int_equal(ss_ws_make_key(k2), 0);
    assert_int_equal(strlen(k1), 24);
    assert_string_not_equal(k1, k2);

    ss_buf b;
    ss_buf_init(&b);
    assert_int_equal(ss_ws_handshake_request(&b, "127.0.0.1:6008", "/subscribe?cursor=1", "dGhlIHNhbXBsZSBub25jZQ=="), 0);
    assert_non_null(strstr(b.data, "GET /subscribe?cursor=1 HTTP/1.1\r\nHost: 127.0.0.1:6008\r\n"));
    assert_non_null(strstr(b.data, "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"));
    assert_non_null(strstr(b.data, "Sec-WebSocket-Version: 13\r\n"));
    assert_int_equal(memcmp(b.data + b.len - 4, "\r\n\r\n", 4), 0);
    ss_buf_free(&b);

    const char *ok = "HTTP/1.1 101 Switching Protocols\r\nupgrade: WebSocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Accept:  s3pPLMBiTxaQ9kYGzzhZRbK+xOo= \r\n\r\n\x81\x02hi";
    size_t okn = strlen(ok);
    long hl = ss_ws_handshake_parse(ok, okn, acc, err, sizeof err);
    assert_int_equal(hl, (long)(okn - 4)); /* the frame bytes after the headers are not consumed */
    for (size_t cut = 0; cut < okn - 4; cut++) assert_int_equal(ss_ws_handshake_parse(ok, cut, acc, err, sizeof err), 0);
    const char *bad_accept = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: xxx\r\n\r\n";
    assert_int_equal(ss_ws_handshake_parse(bad_accept, strlen(bad_accept), acc, err, sizeof err), -1);
    assert_non_null(strstr(err, "Sec-WebSocket-Accept"));
    const char *refused = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
    assert_int_equal(ss_ws_handshake_parse(refused, strlen(refused), acc, err, sizeof err), -1);
    assert_non_null(strstr(err, "404"));
    const char *junk = "SSH-2.0-OpenSSH\r\n\r\n";
    assert_int_equal(ss_ws_handshake_parse(junk, strlen(junk), acc, err, sizeof err), -1);
    char *huge = malloc(SS_WS_HANDSHAKE_MAX + 10);
    memset(huge, 'a', SS_WS_HANDSHAKE_MAX + 10);
    assert_int_equal(ss_ws_handshake_parse(huge, SS_WS_HANDSHAKE_MAX + 10, acc, err, sizeof err), -1);
    free(huge);
}

typedef struct {
    ss_buf msg;        /* current message being assembled */
    char msgs[16][300];
    int nmsgs, binary[16];
    int cur_binary;
    int ctl_op[8];
    char ctl[8][130];
    int nctl;
} sink;

static int sink_data(void *ud, int opcode, int fin, int frame_start, int frame_end, const uint8_t *p, size_t n) {
    sink *k = ud;
    if (frame_start && opcode != SS_WS_OP_CONT) {
        ss_buf_reset(&k->msg);
        k->cur_binary = opcode == SS_WS_OP_BINARY;
    }
    ss_buf_append(&k->msg, p, n);
    if (frame_end && fin && k->nmsgs < 16) {
        snprintf(k->msgs[k->nmsgs], 300, "%.*s", (int)k->msg.len, k->msg.data ? k->msg.data : "");
        k->binary[k->nmsgs++] = k->cur_binary;
        ss_buf_reset(&k->msg);
    }
    return 0;
}

static int sink_ctl(void *ud, int opcode, const uint8_t *p, size_t n) {
    sink *k = ud;
    if (k->nctl < 8) {
        k->ctl_op[k->nctl] = opcode;
        snprintf(k->ctl[k->nctl++], 130, "%.*s", (int)n, (const char *)p);
    }
    return opcode == SS_WS_OP_CLOSE ? 1 : 0;
}

static void put_frame(ss_buf *b, int fin, int opcode, const char *payload, size_t n, int masked) {
    uint8_t h[14];
    size_t hl = ss_ws_server_frame_header(h, opcode, n);
    if (!fin) h[0] &= 0x7f;
    if (masked) h[1] |= 0x80;
    ss_buf_append(b, h, hl);
    const uint8_t mask[4] = {0x12, 0x34, 0x56, 0x78};
    if (masked) ss_buf_append(b, mask, 4);
    for (size_t i = 0; i < n; i++) ss_buf_putc(b, (char)(masked ? payload[i] ^ mask[i & 3] : payload[i]));
}

static void test_ws_parser(void **state) {
    (void)state;
    static const ss_ws_frame_cb cb = {sink_data, sink_ctl};
    char big[70000];
    for (size_t i = 0; i < sizeof big; i++) big[i] = (char)('a' + i % 26);
    ss_buf in;
    ss_buf_init(&in);
    put_frame(&in, 1, SS_WS_OP_TEXT, "{\"a\":1}", 7, 0);             /* one-frame text */
    put_frame(&in, 0, SS_WS_OP_BINARY, "bin", 3, 0);                  /* fragmented binary... */
    put_frame(&in, 1, SS_WS_OP_PING, "are you there", 13, 0);         /* ...a ping in between... */
    put_frame(&in, 0, SS_WS_OP_CONT, "ary", 3, 1);                    /* ...masked continuation... */
    put_frame(&in, 1, SS_WS_OP_CONT, "!", 1, 0);                      /* ...end */
    put_frame(&in, 1, SS_WS_OP_TEXT, "", 0, 0);                       /* empty message */
    put_frame(&in, 1, SS_WS_OP_TEXT, big, 300, 0);                    /* 16-bit length */
    put_frame(&in, 1, SS_WS_OP_BINARY, big, sizeof big, 0);           /* 64-bit length */
    put_frame(&in, 1, SS_WS_OP_CLOSE, "\x03\xe9going away", 12, 0);  /* close 1001 */
    /* Every split of the stream into two reads gives the same result. */
    const size_t splits[] = {0, 1, 2, 3, 5, 9, 10, 11, 17, 30, 40, 300, 400, 70000, in.len - 1};
    for (size_t si = 0; si < sizeof splits / sizeof splits[0]; si++) {
        ss_buf copy;
        ss_buf_init(&copy);
        ss_buf_append(&copy, in.data, in.len); /* parsing unmasks in place */
        sink k;
        memset(&k, 0, sizeof k);
        ss_buf_init(&k.msg);
        ss_ws_parser p;
        ss_ws_parser_init(&p);
        char err[200];
        size_t cut = splits[si];
        int rc = ss_ws_parse(&p, (uint8_t *)copy.data, cut, &cb, &k, err, sizeof err);
        if (rc == 0) rc = ss_ws_parse(&p, (uint8_t *)copy.data + cut, copy.len - cut, &cb, &k, err, sizeof err);
        assert_int_equal(rc, 1); /* stopped by the close frame */
        assert_int_equal(k.nmsgs, 5);
        assert_string_equal(k.msgs[0], "{\"a\":1}");
        assert_false(k.binary[0]);
        assert_string_equal(k.msgs[1], "binary!");
        assert_true(k.binary[1]);
        assert_string_equal(k.msgs[2], "");
        assert_int_equal(strlen(k.msgs[3]), 299); /* snprintf-capped view of 300 bytes */
        assert_int_equal(k.ctl_op[0], SS_WS_OP_PING);
        assert_string_equal(k.ctl[0], "are you there");
        assert_int_equal(k.ctl_op[1], SS_WS_OP_CLOSE);
        assert_int_equal(k.nctl, 2);
        ss_buf_free(&k.msg);
        ss_buf_free(&copy);
    }
    ss_buf_free(&in);

    /* Protocol errors. */
    const struct {
        const char *bytes;
        size_t n;
        const char *why;
    } bad[] = {
        {"\xc1\x00", 2, "reserved"},                      /* RSV1 without an extension */
        {"\x83\x00", 2, "opcode"},                        /* opcode 3 */
        {"\x09\x00", 2, "control"},                       /* fragmented ping */
        {"\x89\x7e\x00\x80", 4, "control"},              /* ping over 125 bytes */
        {"\x82\x7f\x00\x00\x01\x00\x00\x00\x00\x00", 10, "limit"}, /* a 1 TiB frame */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        sink k;
        memset(&k, 0, sizeof k);
        ss_buf_init(&k.msg);
        ss_ws_parser p;
        ss_ws_parser_init(&p);
        char err[200] = "";
        uint8_t buf[16];
        memcpy(buf, bad[i].bytes, bad[i].n);
        assert_int_equal(ss_ws_parse(&p, buf, bad[i].n, &cb, &k, err, sizeof err), -1);
        assert_non_null(strstr(err, bad[i].why));
        ss_buf_free(&k.msg);
    }

    /* Client frames are masked and decode back. */
    ss_buf f;
    ss_buf_init(&f);
    assert_int_equal(ss_ws_frame_encode(&f, SS_WS_OP_PONG, "xyz", 3), 0);
    assert_int_equal(f.len, 2 + 4 + 3);
    assert_int_equal((uint8_t)f.data[0], 0x8a);
    assert_int_equal((uint8_t)f.data[1], 0x80 | 3);
    sink k;
    memset(&k, 0, sizeof k);
    ss_ws_parser p;
    ss_ws_parser_init(&p);
    char err[200];
    assert_int_equal(ss_ws_parse(&p, (uint8_t *)f.data, f.len, &cb, &k, err, sizeof err), 0);
    assert_int_equal(k.ctl_op[0], SS_WS_OP_PONG);
    assert_string_equal(k.ctl[0], "xyz");
    ss_buf_free(&f);
}

/* wantedDids: parsing (list and file forms), limits, matching, options_update both ways. */
static void test_js_dids(void **state) {
    (void)state;
    char err[300];
    ss_js_dids d;
    ss_js_dids_init(&d);
    const char *file = "# follow these\ndid:plc:bbb  \n\ndid:web:example.com,did:plc:aaa\r\ndid:plc:bbb # again\n";
    assert_int_equal(ss_js_dids_parse(&d, file, strlen(file), err, sizeof err), 0);
    assert_int_equal(d.n, 3); /* the repeat is dropped */
    assert_string_equal(d.items[0], "did:plc:aaa");
    assert_true(ss_js_dids_match(&d, "did:plc:bbb", 11));
    assert_true(ss_js_dids_match(&d, "did:web:example.com", 19));
    assert_false(ss_js_dids_match(&d, "did:plc:bb", 10));
    assert_false(ss_js_dids_match(&d, "did:plc:bbbb", 12));
    assert_false(ss_js_dids_match(&d, "did:plc:ccc", 11));

    /* options_update: built, then read back to the same filter */
    ss_js_filter f, f2;
    ss_js_filter_init(&f);
    ss_js_filter_init(&f2);
    assert_int_equal(ss_js_filter_add(&f, "app.bsky.feed.post,app.bsky.graph.*", err, sizeof err), 0);
    ss_buf b;
    ss_buf_init(&b);
    assert_int_equal(ss_js_options_update(&b, &f, &d, 4096), 0);
    assert_string_equal(b.data, "{\"type\":\"options_update\",\"payload\":{\"wantedCollections\":[\"app.bsky.feed.post\","
                                "\"app.bsky.graph.*\"],\"wantedDids\":[\"did:plc:aaa\",\"did:plc:bbb\","
                                "\"did:web:example.com\"],\"maxMessageSizeBytes\":4096}}");
    ss_js_dids d2;
    ss_js_dids_init(&d2);
    int64_t max = -1;
    assert_int_equal(ss_js_options_parse(b.data, b.len, &f2, &d2, &max, err, sizeof err), 0);
    assert_int_equal(f2.n, 2);
    assert_string_equal(f2.items[1], "app.bsky.graph.*");
    assert_true(ss_js_dids_equal(&d, &d2));
    assert_int_equal(max, 4096);
    /* another type is ignored; an invalid update is an error; negative size = no cap */
    const char *other = "{\"type\":\"hello\",\"payload\":{}}";
    assert_int_equal(ss_js_options_parse(other, strlen(other), &f2, &d2, &max, err, sizeof err), 1);
    const char *bad = "{\"type\":\"options_update\",\"payload\":{\"wantedDids\":[\"plc:nope\"]}}";
    assert_int_equal(ss_js_options_parse(bad, strlen(bad), &f2, &d2, &max, err, sizeof err), -1);
    assert_non_null(strstr(err, "bad DID"));
    const char *neg = "{\"type\":\"options_update\",\"payload\":{\"maxMessageSizeBytes\":-5}}";
    assert_int_equal(ss_js_options_parse(neg, strlen(neg), &f2, &d2, &max, err, sizeof err), 0);
    assert_int_equal(max, 0);
    assert_int_equal(f2.n, 0);
    assert_int_equal(d2.n, 0);
    ss_buf_free(&b);
    ss_js_filter_free(&f);
    ss_js_filter_free(&f2);
    ss_js_dids_free(&d2);
    ss_js_dids_free(&d);

    /* bad DIDs */
    const char *bads[] = {"did:", "did:plc:", "DID:plc:abc", "did:PLC:abc", "did:plc:a\"b", "did:plc:abc:", "plc:abc"};
    for (size_t i = 0; i < sizeof bads / sizeof *bads; i++) {
        ss_js_dids_init(&d);
        assert_int_equal(ss_js_dids_parse(&d, bads[i], strlen(bads[i]), err, sizeof err), -1);
        ss_js_dids_free(&d);
    }
    /* 10,000 distinct DIDs pass, 10,001 do not; repeats do not count */
    ss_buf big;
    ss_buf_init(&big);
    for (int i = 0; i < SS_JS_DIDS_MAX; i++) assert_int_equal(ss_buf_printf(&big, "did:plc:%024d\n", i), 0);
    assert_int_equal(ss_buf_printf(&big, "did:plc:%024d\n", 7), 0);
    ss_js_dids_init(&d);
    assert_int_equal(ss_js_dids_parse(&d, big.data, big.len, err, sizeof err), 0);
    assert_int_equal(d.n, SS_JS_DIDS_MAX);
    ss_js_dids_free(&d);
    assert_int_equal(ss_buf_printf(&big, "did:plc:one-more\n"), 0);
    ss_js_dids_init(&d);
    assert_int_equal(ss_js_dids_parse(&d, big.data, big.len, err, sizeof err), -1);
    assert_non_null(strstr(err, "at most 10000"));
    ss_js_dids_free(&d);
    ss_buf_free(&big);

    /* the peek finds the DID */
    const char *ev = "{\"did\":\"did:plc:aaa\",\"time_us\":5,\"kind\":\"identity\"}";
    ss_js_peek_result pk;
    assert_int_equal(ss_js_peek(ev, strlen(ev), SS_JS_PEEK_DID, &pk), 0);
    assert_int_equal(pk.did_len, 11);
    assert_memory_equal(pk.did, "did:plc:aaa", 11);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url_parse),     cmocka_unit_test(test_query_build),
        cmocka_unit_test(test_query_each),    cmocka_unit_test(test_js_peek),
        cmocka_unit_test(test_js_filter),     cmocka_unit_test(test_frame_peek),
        cmocka_unit_test(test_js_dids),
        cmocka_unit_test(test_zdict_roundtrip), cmocka_unit_test(test_zdict_roundtrip_jetstream),
        cmocka_unit_test(test_zdict_open_errors),
        cmocka_unit_test(test_ws_handshake),  cmocka_unit_test(test_ws_parser),
    };
    return SS_SHARED_EXIT(cmocka_run_group_tests(tests, NULL, NULL));
}
