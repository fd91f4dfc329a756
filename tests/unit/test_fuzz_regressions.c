/* Regression tests for bugs found by the fuzz targets (tests/fuzz/). Each case is the
 * minimized input saved in tests/fuzz/regressions/<target>/, restated here so that the
 * normal ASan/UBSan test run (`make test`) catches a regression without a fuzz build, and
 * asserts the behaviour the fix gives, not only the absence of a crash. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <signal.h>
#include <unistd.h>

#include <zstd.h>

#include "archive/archive.h"
#include "event/event.h"
#include "fh_encode.h"
#include "proto/frame_peek.h"
#include "proto/js_proto.h"
#include "net/ws_url.h"
#include "net/zdict.h"
#include "source/firehose/fh_decode.h"
#include "frames/frames.h"
#include "source/source.h"
#include "util/buf.h"
#include "util/log.h"

/* Reads tests/fuzz/regressions/<rel> (from $SKYSPOOL_SRC) into a NUL-terminated buffer. */
static char *read_repro(const char *rel, size_t *len) {
    const char *src = getenv("SKYSPOOL_SRC");
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/fuzz/regressions/%s", src ? src : ".", rel);
    FILE *f = fopen(path, "rb");
    if (!f) fail_msg("cannot open reproducer %s", path);
    char *buf = malloc(1 << 16);
    assert_non_null(buf);
    size_t n = fread(buf, 1, (1 << 16) - 1, f);
    fclose(f);
    buf[n] = '\0';
    *len = n;
    return buf;
}

static void tmp_path(char *out, size_t cap, const char *name) {
    snprintf(out, cap, "%s/ss-fuzzreg-%d-%s", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid(), name);
}

/* src/archive/map.c read_str(): a non-string value cleared the slice's pointer but kept
 * its length, so a repeated key ("$type" first a string, then an object) left embed_type
 * as {NULL, 23} and the next comparison read address 0. Found by fuzz_event; input
 * tests/fuzz/regressions/event/archive-map-dup-type-*.json. */
static void test_archive_map_repeated_key_non_string(void **state) {
    (void)state;
    static const char *const docs[] = {
        "{\"did\":\"did:plc:a\",\"time_us\":1,\"kind\":\"commit\",\"commit\":{\"rev\":\"r\",\"operation\":\"create\","
        "\"collection\":\"app.bsky.feed.post\",\"rkey\":\"k\",\"cid\":\"bafyx\",\"record\":{\"embed\":{\"$type\":"
        "\"app.bsky.embed.external\",\"$type\":{\"x\":1}}}}}",
        /* the same for a reply ref and a like subject */
        "{\"did\":\"did:plc:a\",\"time_us\":1,\"kind\":\"commit\",\"commit\":{\"rev\":\"r\",\"operation\":\"create\","
        "\"collection\":\"app.bsky.feed.like\",\"rkey\":\"k\",\"cid\":\"bafyx\",\"record\":{\"subject\":{\"uri\":\"at://x\","
        "\"uri\":[1],\"cid\":\"c\",\"cid\":null}}}}",
    };
    ss_decoder *d = ss_decoder_new(NULL);
    ss_ar_mapper *m = ss_ar_mapper_new();
    assert_non_null(d);
    assert_non_null(m);
    for (size_t i = 0; i < sizeof docs / sizeof *docs; i++) {
        ss_event ev;
        assert_int_equal(ss_decode(d, docs[i], strlen(docs[i]), &ev), SS_DECODE_OK);
        ss_ar_row row;
        assert_int_equal(ss_ar_map(m, &ev, &row), 0);
        /* The last value of the key was not a string: the column is null, length 0. */
        const ss_str *cols[] = {&row.embed_type, &row.embed_uri, &row.subject_uri, &row.subject_cid};
        for (size_t c = 0; c < sizeof cols / sizeof *cols; c++)
            if (!cols[c]->p) assert_int_equal(cols[c]->n, 0);
        if (i == 0) {
            assert_null(row.embed_type.p);
            assert_null(row.embed_uri.p);
        } else {
            assert_null(row.subject_uri.p);
            assert_null(row.subject_cid.p);
        }
    }
    ss_ar_mapper_free(m);
    ss_decoder_free(d);
}

/* src/proto/js_proto.c skip_value(): a NUL byte where a scalar was expected inside a
 * container made strchr() match its terminator, so the skipper never advanced: the
 * Jetstream client would spin forever on one message. Found by fuzz_event (timeout);
 * input tests/fuzz/regressions/event/js-peek-nul-hang.json. An alarm turns a hang into a
 * failure instead of a ctest timeout. */
static void test_js_peek_nul_in_container(void **state) {
    (void)state;
    static const char doc[] = "{\"did\":\"did:plc:a\",\"x\":[1\0],\"time_us\":5,\"kind\":\"commit\"}";
    static const char doc2[] = "{\"x\":{\"a\":\0}}";
    alarm(10);
    ss_js_peek_result r;
    assert_int_equal(ss_js_peek(doc, sizeof doc - 1, 1, &r), -1);
    assert_int_equal(ss_js_peek(doc2, sizeof doc2 - 1, 1, &r), -1);
    /* A NUL outside containers is not JSON either; the peek stops there. */
    static const char doc3[] = "{\"time_us\":7,\"kind\":\"identity\"}";
    assert_int_equal(ss_js_peek(doc3, sizeof doc3 - 1, 0, &r), 0);
    assert_int_equal(r.time_us, 7);
    alarm(0);
}


/* ---- firehose decoder (src/source/firehose/fh_decode.c) ---- */

/* Decodes one frame; returns the number of outputs, first output in *m. */
static int decode_one(ss_fh_decoder *d, const ss_buf *f, ss_source_msg *m) {
    int n = ss_fh_decode(d, (const uint8_t *)f->data, f->len);
    assert_true(n >= 1);
    ss_fh_output(d, 0, m);
    return n;
}

static void assert_reject(const ss_source_msg *m, const char *reason, const char *detail_part) {
    assert_non_null(m->bad_reason);
    assert_string_equal(m->bad_reason, reason);
    char *doc = strndup(m->data, m->len);
    if (!strstr(doc, detail_part)) fail_msg("reject %s lacks '%s'", doc, detail_part);
    free(doc);
}

/* A frame time before 1970 gave a good event with a negative time_us, which ss_decode
 * rejects (fuzz_firehose, regressions/firehose/fh-negative-time-us.bin). Now bad_time. */
static void test_fh_time_before_1970(void **state) {
    (void)state;
    ss_fh_decoder *d = ss_fh_decoder_new(NULL);
    ss_buf f;
    ss_buf_init(&f);
    ss_source_msg m;
    fhe_identity_frame(&f, 5, "did:plc:a", "1969-12-31T23:59:59.999999Z", "a.test");
    assert_int_equal(decode_one(d, &f, &m), 1);
    assert_reject(&m, "bad_time", "before 1970");
    ss_buf_reset(&f);
    fhe_account_frame(&f, 6, "did:plc:a", "1970-01-01T00:30:00+01:00", 1, NULL);
    assert_int_equal(decode_one(d, &f, &m), 1);
    assert_reject(&m, "bad_time", "before 1970");
    /* the epoch itself is fine */
    ss_buf_reset(&f);
    fhe_identity_frame(&f, 7, "did:plc:a", "1970-01-01T00:00:00Z", "a.test");
    assert_int_equal(decode_one(d, &f, &m), 1);
    assert_null(m.bad_reason);
    ss_buf_free(&f);
    ss_fh_decoder_free(d);
}

/* An empty repo or rev gave good events with "did":"" / "rev":"" that ss_decode rejects
 * (regressions/firehose/fh-empty-repo.bin). Now bad_body; every good event the decoder
 * emits must be accepted by ss_decode. */
static void test_fh_empty_required_fields(void **state) {
    (void)state;
    ss_fh_decoder *d = ss_fh_decoder_new(NULL);
    ss_decoder *ev = ss_decoder_new(NULL);
    ss_buf f, rec;
    ss_buf_init(&f);
    ss_buf_init(&rec);
    char err[200];
    static const char json[] = "{\"$type\":\"app.bsky.feed.post\",\"text\":\"hi\",\"createdAt\":\"2026-05-25T14:23:28.778Z\"}";
    assert_int_equal(fhe_json_record_to_cbor(&rec, json, strlen(json), err, sizeof err), 0);
    static const struct {
        const char *repo, *rev, *path, *reason, *detail;
    } cases[] = {
        {"", "3rev", "app.bsky.feed.post/k", "bad_body", "empty repo"},
        {"did:plc:a", "", "app.bsky.feed.post/k", "bad_body", "empty rev"},
        {"did:plc:a", "3rev", "/k", "bad_op", "collection/rkey"},
        {"did:plc:a", "3rev", "app.bsky.feed.post/", "bad_op", "collection/rkey"},
        {"did:plc:a", "3rev", "app.bsky.feed.post/k", NULL, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        fhe_op op = {"create", cases[i].path, (const uint8_t *)rec.data, rec.len, 0, 0, 0};
        fhe_commit c = {.seq = 10 + (int64_t)i, .repo = cases[i].repo, .rev = cases[i].rev,
                        .time = "2026-05-25T14:23:28.778Z", .ops = &op, .nops = 1};
        ss_buf_reset(&f);
        fhe_commit_frame(&f, &c);
        ss_source_msg m;
        decode_one(d, &f, &m);
        if (cases[i].reason) {
            assert_reject(&m, cases[i].reason, cases[i].detail);
        } else {
            assert_null(m.bad_reason);
            ss_event e;
            assert_int_equal(ss_decode(ev, m.data, m.len, &e), SS_DECODE_OK);
        }
    }
    ss_buf_reset(&f);
    fhe_identity_frame(&f, 20, "", "2026-05-25T14:23:28.778Z", "a.test");
    ss_source_msg m;
    decode_one(d, &f, &m);
    assert_reject(&m, "bad_body", "empty did");
    ss_buf_free(&f);
    ss_buf_free(&rec);
    ss_decoder_free(ev);
    ss_fh_decoder_free(d);
}

/* ss_fh_parse_time_us checked the day only against 31: 2026-02-31 became March 3
 * (regressions/rfc3339/fh-impossible-date.txt). */
static void test_fh_impossible_date(void **state) {
    (void)state;
    size_t n;
    char *t = read_repro("rfc3339/fh-impossible-date.txt", &n);
    int64_t us = 0;
    assert_int_equal(ss_fh_parse_time_us(t, n, &us), -1);
    free(t);
    static const char *const bad[] = {"2026-02-29T00:00:00Z", "2025-04-31T00:00:00Z", "1900-02-29T00:00:00Z"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(ss_fh_parse_time_us(bad[i], strlen(bad[i]), &us), -1);
    assert_int_equal(ss_fh_parse_time_us("2024-02-29T00:00:00Z", 20, &us), 0);
    assert_int_equal(us, 1709164800000000LL);
    assert_int_equal(ss_fh_parse_time_us("2000-02-29T00:00:00Z", 20, &us), 0);
    assert_int_equal(us, 951782400000000LL);
    /* and in a frame: a bad_time reject */
    ss_fh_decoder *d = ss_fh_decoder_new(NULL);
    ss_buf f;
    ss_buf_init(&f);
    fhe_identity_frame(&f, 5, "did:plc:a", "2026-02-31T00:00:00Z", "a.test");
    ss_source_msg m;
    decode_one(d, &f, &m);
    assert_reject(&m, "bad_time", "RFC 3339");
    ss_buf_free(&f);
    ss_fh_decoder_free(d);
}

/* A #commit without "blocks": the reader was pointed at NULL before ss_fh_fail(), whose
 * detail then said "at byte <NULL - base>", a garbage number that depended on where the
 * frame sat in memory (regressions/frames/fh-detail-offset-null-pointer.bin). The same
 * frame at two addresses must give the same reject, with an offset inside the frame. */
static void test_fh_detail_offset_defined(void **state) {
    (void)state;
    uint8_t cid[FHE_CID_LEN];
    fhe_cid(cid, "x", 1, 0x71);
    ss_buf f;
    ss_buf_init(&f);
    fhe_map *h = fhe_map_new();
    fhe_uint(fhe_map_put(h, "op"), 1);
    fhe_text(fhe_map_put(h, "t"), "#commit");
    fhe_map_write(h, &f);
    size_t head_len = f.len;
    fhe_map *b = fhe_map_new();
    fhe_uint(fhe_map_put(b, "seq"), 9);
    fhe_text(fhe_map_put(b, "repo"), "did:plc:a");
    fhe_text(fhe_map_put(b, "rev"), "3rev");
    fhe_text(fhe_map_put(b, "time"), "2026-05-25T14:23:28.778Z");
    fhe_link(fhe_map_put(b, "commit"), cid, sizeof cid);
    ss_buf *ops = fhe_map_put(b, "ops");
    fhe_head(ops, 4, 1);
    fhe_map *op = fhe_map_new();
    fhe_text(fhe_map_put(op, "action"), "create");
    fhe_text(fhe_map_put(op, "path"), "app.bsky.feed.post/k");
    fhe_link(fhe_map_put(op, "cid"), cid, sizeof cid);
    fhe_map_write(op, ops);
    fhe_map_write(b, &f);
    assert_true(f.len > head_len);
    ss_fh_decoder *d = ss_fh_decoder_new(NULL);
    char *first = NULL;
    for (int copy = 0; copy < 2; copy++) {
        /* a second copy far from the first */
        uint8_t *buf = malloc(f.len + (copy ? 1 << 20 : 0));
        assert_non_null(buf);
        uint8_t *at = buf + (copy ? 1 << 20 : 0);
        memcpy(at, f.data, f.len);
        int n = ss_fh_decode(d, at, f.len);
        assert_int_equal(n, 1);
        ss_source_msg m;
        ss_fh_output(d, 0, &m);
        assert_reject(&m, "bad_body", "#commit without blocks");
        char want[64];
        snprintf(want, sizeof want, "without blocks at byte %zu\"", f.len); /* the body's end, from the frame start */
        assert_reject(&m, "bad_body", want);
        if (!copy) first = strndup(m.data, m.len);
        else assert_memory_equal(first, m.data, m.len);
        free(buf);
    }
    free(first);
    ss_fh_decoder_free(d);
    ss_buf_free(&f);
}

/* ---- frames: source (src/source/frames/source.c) ---- */

/* frames_seek() rewound the file but kept the decoder: after a seek on a used source, a
 * frame with no known seq (an unparseable one) got the previous pass's highest seq as its
 * cursor, above frames still to come (regressions/frames/frames-seek-stale-last-seq.bin). */
static void test_frames_seek_resets_decoder(void **state) {
    (void)state;
    char path[512], err[300];
    tmp_path(path, sizeof path, "seek.frames");
    ss_frames_writer *w = ss_frames_writer_open(path, 0, err, sizeof err);
    assert_non_null(w);
    ss_buf f;
    ss_buf_init(&f);
    static const uint8_t junk[] = {0xff, 0x00, 0x13};
    for (int i = 1; i <= 4; i++) {
        if (i == 2) assert_int_equal(ss_frames_writer_append(w, junk, sizeof junk), 0);
        ss_buf_reset(&f);
        fhe_identity_frame(&f, i, "did:plc:a", "2026-05-25T14:23:28.778Z", "a.test");
        assert_int_equal(ss_frames_writer_append(w, f.data, f.len), 0);
    }
    assert_int_equal(ss_frames_writer_close(w, err, sizeof err), 0);
    char spec[600];
    snprintf(spec, sizeof spec, "frames:%s", path);
    ss_source *s = ss_source_open(spec, NULL, err, sizeof err, NULL);
    assert_non_null(s);
    int64_t junk_cursor[2] = {-2, -2};
    for (int pass = 0; pass < 2; pass++) {
        if (pass) assert_int_equal(ss_source_seek(s, 0), 0);
        ss_source_msg m;
        int good = 0, rc;
        while ((rc = ss_source_next(s, &m, 1000)) == SS_SOURCE_MSG) {
            if (m.bad_reason) junk_cursor[pass] = m.cursor;
            else good++;
        }
        assert_int_equal(rc, SS_SOURCE_END);
        assert_int_equal(good, 4);
    }
    /* after frame seq 1, before seq 2: the cursor says "seq 1 done" in both passes */
    assert_int_equal(junk_cursor[0], 1);
    assert_int_equal(junk_cursor[1], 1);
    ss_source_close(s);
    ss_buf_free(&f);
    unlink(path);
}

/* ---- src/proto/frame_peek.c: ss_rfc3339_parse ---- */

/* The offset's places were not checked to be digits ("+1/:00" read as +09:00),
 * impossible dates were normalized, and -1 meant both "error" and the instant -1 µs
 * (regressions/rfc3339/net-offset-not-digits.txt). */
static void test_net_rfc3339(void **state) {
    (void)state;
    size_t n;
    char *t = read_repro("rfc3339/net-offset-not-digits.txt", &n);
    int64_t us = 0;
    assert_int_equal(ss_rfc3339_parse(t, n, &us), -1);
    assert_int_equal(ss_rfc3339_to_us(t, n), -1);
    free(t);
    static const char *const bad[] = {"2024-01-01T00:00:00+0a:00", "2024-01-01T00:00:00+00:0 ", "2026-02-31T00:00:00Z",
                                      "2023-02-29T12:00:00Z", "2024-06-31T00:00:00Z"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) assert_int_equal(ss_rfc3339_parse(bad[i], strlen(bad[i]), &us), -1);
    /* -1 µs is a valid instant, told apart from an error */
    assert_int_equal(ss_rfc3339_parse("1969-12-31T23:59:59.999999Z", 27, &us), 0);
    assert_int_equal(us, -1);
    assert_int_equal(ss_rfc3339_parse("1969-12-31T23:59:59Z", 20, &us), 0);
    assert_int_equal(us, -1000000);
    assert_int_equal(ss_rfc3339_parse("2024-02-29T01:00:00+01:00", 25, &us), 0);
    assert_int_equal(us, 1709164800000000LL);
    /* and through the frame peek */
    ss_buf f;
    ss_buf_init(&f);
    fhe_identity_frame(&f, 3, "did:plc:a", "1969-12-31T23:59:59.999999Z", "a.test");
    ss_frame_peek_result pk;
    assert_int_equal(ss_frame_peek((const uint8_t *)f.data, f.len, &pk), 0);
    assert_int_equal(pk.has_time, 1);
    assert_int_equal(pk.time_us, -1);
    ss_buf_reset(&f);
    fhe_identity_frame(&f, 3, "did:plc:a", "2024-01-01T00:00:00+1/:00", "a.test");
    assert_int_equal(ss_frame_peek((const uint8_t *)f.data, f.len, &pk), 0);
    assert_int_equal(pk.has_time, 0);
    assert_int_equal(pk.time_us, -1);
    ss_buf_free(&f);
}

/* ---- src/net/ws_url.c ---- */

static int count_cursor(const char *key, const char *value, void *ctx) {
    (void)value;
    if (!strcmp(key, "cursor")) ++*(int *)ctx;
    return 0;
}

/* A bracketed host was copied unchecked, so "ws://[a b\r\nX: y]/" put a space and CR LF
 * into the Host header (regressions/ws_url/bracket-host-bytes.txt); and in "/p??cursor=1"
 * ss_ws_query_each saw "cursor" while has/strip saw "?cursor"
 * (regressions/ws_url/double-question-mark.txt). */
static void test_ws_url_host_and_query(void **state) {
    (void)state;
    size_t n;
    char *url = read_repro("ws_url/bracket-host-bytes.txt", &n);
    ss_ws_url u;
    char err[300];
    assert_int_equal(ss_ws_url_parse(url, &u, err, sizeof err), -1);
    assert_non_null(strstr(err, "bracketed host"));
    free(url);
    static const char *const bad[] = {"ws://[::1 ]/", "ws://[::1\t]/", "ws://[a(]/", "ws://[::1]x/", "ws://[\x7f]/"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) assert_int_equal(ss_ws_url_parse(bad[i], &u, err, sizeof err), -1);
    assert_int_equal(ss_ws_url_parse("ws://[::1]:6008/subscribe", &u, err, sizeof err), 0);
    assert_string_equal(u.host, "::1");
    assert_int_equal(ss_ws_url_parse("ws://[fe80::1%25eth0]/", &u, err, sizeof err), 0);
    assert_int_equal(ss_ws_url_parse("ws://[::ffff:127.0.0.1]/", &u, err, sizeof err), 0);

    url = read_repro("ws_url/double-question-mark.txt", &n); /* "URL\0key\0value" */
    assert_int_equal(ss_ws_url_parse(url, &u, err, sizeof err), 0);
    free(url);
    assert_string_equal(u.path, "/??cursor=1&x");
    int seen = 0;
    const char *q = strchr(u.path, '?');
    assert_int_equal(ss_ws_query_each(q + 1, count_cursor, &seen), 0);
    assert_int_equal(seen, 1);
    assert_int_equal(ss_ws_query_has(u.path, "cursor"), 1);
    ss_buf b;
    ss_buf_init(&b);
    assert_int_equal(ss_ws_query_strip(u.path, "cursor", &b), 0);
    assert_string_equal(b.data, "/?x");
    assert_int_equal(ss_ws_query_has(b.data, "cursor"), 0);
    assert_int_equal(ss_ws_query_strip("/p???a=1&cursor=2", "cursor", &b), 0);
    assert_string_equal(b.data, "/p?a=1");
    /* keys are compared percent-decoded by every helper, as query_each reads them
     * (regressions/ws_url/percent-encoded-key.bin) */
    assert_int_equal(ss_ws_query_has("/p?%63ursor=1", "cursor"), 1);
    assert_int_equal(ss_ws_query_has("/p?a=1&cur%73or", "cursor"), 1);
    assert_int_equal(ss_ws_query_has("/p?cursor%00x=1", "cursor"), 1);
    assert_int_equal(ss_ws_query_has("/p?%63ursorx=1&curso=2", "cursor"), 0);
    assert_int_equal(ss_ws_query_has("/p?wanted+x=1", "wanted x"), 1);
    assert_int_equal(ss_ws_query_strip("/p?%63ursor=1&x=%63&cursor=2", "cursor", &b), 0);
    assert_string_equal(b.data, "/p?x=%63");
    seen = 0;
    assert_int_equal(ss_ws_query_each("%63ursor=1&x=%63", count_cursor, &seen), 0);
    assert_int_equal(seen, 1);
    /* a parameter's leading '?' are not part of its key, wherever it stands, so what strip
     * keeps reads back the same (found by fuzz_ws_url: "/?&??cursor&?&=") */
    assert_int_equal(ss_ws_query_has("/p?x&??cursor=1", "cursor"), 1);
    seen = 0;
    assert_int_equal(ss_ws_query_each("x&??cursor=1&?cursor", count_cursor, &seen), 0);
    assert_int_equal(seen, 2);
    assert_int_equal(ss_ws_query_strip("/?&??cursor&?&=", "cursor", &b), 0);
    assert_int_equal(ss_ws_query_has(b.data, "cursor"), 0);
    assert_int_equal(ss_ws_query_strip("/?a&??cursor=1&?b", "cursor", &b), 0);
    assert_string_equal(b.data, "/?a&?b");
    ss_buf_free(&b);
}

/* ---- src/net/zdict.c ---- */

/* The decompression context kept zstd's default window limit (2^27): an 11-byte frame
 * declaring a 128 MiB window and no content size made it allocate 128 MiB whatever
 * max_out said (regressions/zdict/window-128mb-alloc.bin; the first byte is the fuzz
 * target's mode byte). Legacy frames were taken by the streaming API too. */
static void test_zdict_window_bound(void **state) {
    (void)state;
    char path[512], err[300];
    tmp_path(path, sizeof path, "zdict");
    FILE *fd = fopen(path, "wb");
    assert_non_null(fd);
    for (int i = 0; i < 300; i++)
        fprintf(fd, "{\"did\":\"did:plc:%020d\",\"kind\":\"commit\",\"collection\":\"app.bsky.feed.like\"}\n", i);
    fclose(fd);
    ss_zdict *z = ss_zdict_open(path, 0, err, sizeof err);
    assert_non_null(z);
    unlink(path);
    size_t n;
    char *in = read_repro("zdict/window-128mb-alloc.bin", &n);
    assert_true(n > 1);
    /* the frame declares 128 MiB: no single-segment flag, window descriptor 0x88
     * (exponent 17: 2^(10+17)), no content size */
    assert_true(n >= 7);
    assert_int_equal((unsigned char)in[5], 0x00);
    assert_int_equal((unsigned char)in[6], 0x88);
    assert_int_equal(ZSTD_getFrameContentSize(in + 1, n - 1), ZSTD_CONTENTSIZE_UNKNOWN);
    ss_buf out;
    ss_buf_init(&out);
    const char *reason = NULL;
    assert_int_equal(ss_zdict_decompress(z, in + 1, n - 1, &out, 65536, &reason), -1);
    assert_string_equal(reason, "bad_zstd");
    free(in);
    /* legacy magic (v0.7) and skippable frames are refused up front */
    static const uint8_t legacy[] = {0x27, 0xb5, 0x2f, 0xfd, 0x00, 0x00, 0x00, 0x00};
    static const uint8_t skippable[] = {0x50, 0x2a, 0x4d, 0x18, 0x00, 0x00, 0x00, 0x00};
    reason = NULL;
    assert_int_equal(ss_zdict_decompress(z, legacy, sizeof legacy, &out, 65536, &reason), -1);
    assert_string_equal(reason, "bad_zstd");
    reason = NULL;
    assert_int_equal(ss_zdict_decompress(z, skippable, sizeof skippable, &out, 65536, &reason), -1);
    assert_string_equal(reason, "bad_zstd");
    /* real messages still round-trip */
    static const char msg[] = "{\"did\":\"did:plc:00000000000000000042\",\"kind\":\"commit\"}";
    ss_buf comp;
    ss_buf_init(&comp);
    assert_int_equal(ss_zdict_compress(z, msg, sizeof msg - 1, &comp), 0);
    assert_int_equal(ss_zdict_decompress(z, comp.data, comp.len, &out, 65536, &reason), 0);
    assert_int_equal(out.len, sizeof msg - 1);
    assert_memory_equal(out.data, msg, sizeof msg - 1);
    ss_buf_free(&comp);
    ss_buf_free(&out);
    ss_zdict_free(z);
}

/* A mangled frame that libzstd 1.5.4 calls corrupt with a fresh context decoded (to 149
 * bytes of garbage) on a second attempt with the same context, even after a reset, so
 * ss_zdict's verdict on a hostile message depended on the messages before it
 * (regressions/zdict/libzstd-second-attempt-decodes.bin, fuzz_zdict's 'M' mode: k
 * (position, xor) triples applied to the level-3 compression of the rest, with the
 * target's raw-content dictionary). The same bytes must get the same verdict every time. */
static void test_zdict_same_verdict_every_attempt(void **state) {
    (void)state;
    char path[512], err[300];
    tmp_path(path, sizeof path, "zdict-raw");
    FILE *fd = fopen(path, "wb");
    assert_non_null(fd);
    for (int i = 0; i < 200; i++) /* the fuzz target's fallback dictionary, byte for byte */
        fprintf(fd, "{\"did\":\"did:plc:%024d\",\"time_us\":17545248%08d,\"kind\":\"commit\",\"commit\":{\"rev\":"
                    "\"3lvrglr%06d\",\"operation\":\"create\",\"collection\":\"app.bsky.feed.like\"}}\n",
                i * 7919, i, i);
    fclose(fd);
    ss_zdict *z = ss_zdict_open(path, 3, err, sizeof err);
    unlink(path);
    assert_non_null(z);
    size_t n;
    char *in = read_repro("zdict/libzstd-second-attempt-decodes.bin", &n);
    const uint8_t *p = (const uint8_t *)in + 1;
    n -= 1;
    assert_int_equal(in[0], 'M');
    size_t k = p[0] % 9, hdr = 1 + 3 * k;
    assert_true(n >= hdr);
    ss_buf comp, out;
    ss_buf_init(&comp);
    ss_buf_init(&out);
    assert_int_equal(ss_zdict_compress(z, p + hdr, n - hdr, &comp), 0);
    for (size_t i = 0; i < k; i++) {
        size_t at = ((size_t)p[1 + 3 * i] << 8 | p[2 + 3 * i]) % comp.len;
        comp.data[at] ^= (char)p[3 + 3 * i];
    }
    const char *reason = NULL;
    int first = ss_zdict_decompress(z, comp.data, comp.len, &out, 65536, &reason);
    assert_int_equal(first, -1); /* a fresh context's verdict */
    assert_string_equal(reason, "bad_zstd");
    for (int attempt = 0; attempt < 3; attempt++) {
        const char *r2 = NULL;
        assert_int_equal(ss_zdict_decompress(z, comp.data, comp.len, &out, 65536, &r2), first);
        if (first) assert_string_equal(r2, reason);
    }
    free(in);
    ss_buf_free(&comp);
    ss_buf_free(&out);
    ss_zdict_free(z);
}

/* ---- tests/support/fh_encode.c ---- */

/* fhe_json_record_to_cbor() leaked the children of a value whose parse failed part-way
 * (jvalue() freed only the complete siblings), so fh_mkframes aborted under ASan on a
 * malformed line. LeakSanitizer at exit fails this program if it comes back. */
static void test_fhe_json_partial_parse_frees(void **state) {
    (void)state;
    static const char *const bad[] = {
        "{\"a\":[1,{\"b\":\"c\",\"d\":[\"e\",x]}]}",
        "{\"a\":{\"b\":{\"c\":\"dd\",\"e\":[\"f\",\"g\"],\"h\":1.5}}}",
        "[[\"a\",\"b\"],[\"c\",{\"d\":\"e\"",
        "{\"a\":\"x\",\"b\":[\"y\",\"z\"] \"c\":1}",
    };
    ss_buf out;
    ss_buf_init(&out);
    char err[200];
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        err[0] = '\0';
        assert_int_equal(fhe_json_record_to_cbor(&out, bad[i], strlen(bad[i]), err, sizeof err), -1);
        assert_true(err[0] != '\0');
    }
    ss_buf_free(&out);
}

/* ---- src/source/file/file.c ---- */

/* Messages of a file: source over content, with a line limit: "G" for a good line, "B"
 * for a too_large reject, each followed by its cursor. */
static void file_messages(const char *content, size_t len, size_t max_line, char *got, size_t cap) {
    char path[512], err[300], spec[600];
    tmp_path(path, sizeof path, "lines.jsonl");
    FILE *fd = fopen(path, "wb");
    assert_non_null(fd);
    assert_int_equal(fwrite(content, 1, len, fd), len);
    fclose(fd);
    snprintf(spec, sizeof spec, "file:%s", path);
    ss_source_opts o;
    ss_source_opts_init(&o);
    o.max_message_bytes = max_line;
    ss_source *s = ss_source_open(spec, &o, err, sizeof err, NULL);
    assert_non_null(s);
    ss_source_msg m;
    int rc;
    size_t k = 0;
    got[0] = '\0';
    while ((rc = ss_source_next(s, &m, 1000)) == SS_SOURCE_MSG)
        k += (size_t)snprintf(got + k, cap - k, "%s%lld ", m.bad_reason ? "B" : "G", (long long)m.cursor);
    assert_int_equal(rc, SS_SOURCE_END);
    ss_source_close(s);
    unlink(path);
}

/* A last line without '\n', only blanks and longer than the limit + 1, was a too_large
 * reject while the same line with '\n' was skipped as blank
 * (regressions/file_source/blank-last-line-over-limit.bin). Blank lines are skipped
 * whatever their length, with or without '\n'. */
static void test_file_blank_line_over_limit(void **state) {
    (void)state;
    size_t n;
    char *blank = read_repro("file_source/blank-last-line-over-limit.bin", &n);
    assert_true(n >= 1 && strspn(blank, " \t") == n);
    free(blank);
    char got[256];
    file_messages("        ", 8, 4, got, sizeof got);
    assert_string_equal(got, "");
    file_messages("        \n", 9, 4, got, sizeof got);
    assert_string_equal(got, "");
    file_messages(" \t \t \t \r", 8, 4, got, sizeof got);
    assert_string_equal(got, "");
    file_messages("ab\n        \n{}\n \t     ", 22, 4, got, sizeof got);
    assert_string_equal(got, "G3 G15 ");
    /* not blank: still a reject; a '\r' inside is not blank */
    file_messages("       x", 8, 4, got, sizeof got);
    assert_string_equal(got, "B8 ");
    file_messages("   \r    \n{}", 11, 4, got, sizeof got);
    assert_string_equal(got, "B9 G11 ");
}

int main(void) {
    ss_log_set_level(SS_LOG_OFF);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_archive_map_repeated_key_non_string),
        cmocka_unit_test(test_js_peek_nul_in_container),
        cmocka_unit_test(test_fh_time_before_1970),
        cmocka_unit_test(test_fh_empty_required_fields),
        cmocka_unit_test(test_fh_impossible_date),
        cmocka_unit_test(test_fh_detail_offset_defined),
        cmocka_unit_test(test_frames_seek_resets_decoder),
        cmocka_unit_test(test_net_rfc3339),
        cmocka_unit_test(test_ws_url_host_and_query),
        cmocka_unit_test(test_zdict_window_bound),
        cmocka_unit_test(test_zdict_same_verdict_every_attempt),
        cmocka_unit_test(test_file_blank_line_over_limit),
        cmocka_unit_test(test_fhe_json_partial_parse_frees),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
