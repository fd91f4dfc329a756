/* Frames files and the `frames:` source: write/read round trips (plain and zstd), damaged
 * files (cut anywhere, oversized length), cursor resume by seq. Real files in a private
 * temporary directory; frames from the test-side encoder. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "fh_encode.h"
#include "source/firehose/fh_decode.h"
#include "frames/frames.h"
#include "source/source.h"
#include "util/log.h"

static char g_dir[256];

static int setup(void **state) {
    (void)state;
    snprintf(g_dir, sizeof g_dir, "%s/ss-frames-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(g_dir)) return -1;
    ss_log_set_level(SS_LOG_ERROR);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void path_of(char *out, size_t n, const char *name) { snprintf(out, n, "%s/%s", g_dir, name); }

/* n like-events in n frames with seq 1..n, then an identity frame with seq n+1. */
static void write_frames(const char *path, int zstd, int n, size_t filler) {
    char err[200];
    ss_frames_writer *w = ss_frames_writer_open(path, zstd, err, sizeof err);
    assert_non_null(w);
    ss_buf rec, f;
    ss_buf_init(&rec);
    ss_buf_init(&f);
    for (int i = 1; i <= n; i++) {
        char json[200], pathk[64];
        snprintf(json, sizeof json,
                 "{\"$type\":\"app.bsky.feed.like\",\"createdAt\":\"2026-05-25T14:23:28.778Z\",\"n\":%d,\"subject\":{\"cid\":"
                 "\"bafyreiaxf7tgbfydx3465sckitq6v564thxe2wwydbi7cwxbxvgssje3em\",\"uri\":\"at://x\"}}",
                 i);
        ss_buf_reset(&rec);
        assert_int_equal(fhe_json_record_to_cbor(&rec, json, strlen(json), err, sizeof err), 0);
        snprintf(pathk, sizeof pathk, "app.bsky.feed.like/k%d", i);
        fhe_op op = {"create", pathk, (const uint8_t *)rec.data, rec.len, 0, 0, 0};
        fhe_commit c = {.seq = i, .repo = "did:plc:frames", .rev = "3rev", .time = "2026-05-25T14:23:28.778Z", .ops = &op,
                        .nops = 1, .filler_bytes = filler, .seed = 9};
        ss_buf_reset(&f);
        fhe_commit_frame(&f, &c);
        assert_int_equal(ss_frames_writer_append(w, f.data, f.len), 0);
    }
    ss_buf_reset(&f);
    fhe_identity_frame(&f, n + 1, "did:plc:frames", "2026-05-25T14:23:29.950Z", "x.test");
    assert_int_equal(ss_frames_writer_append(w, f.data, f.len), 0);
    assert_int_equal(ss_frames_writer_count(w), (uint64_t)n + 1);
    assert_int_equal(ss_frames_writer_close(w, err, sizeof err), 0);
    ss_buf_free(&rec);
    ss_buf_free(&f);
}

static void test_writer_reader_roundtrip(void **state) {
    (void)state;
    char err[200], p[300];
    for (int z = 0; z < 2; z++) {
        path_of(p, sizeof p, z ? "rt.frames.zst" : "rt.frames");
        ss_frames_writer *w = ss_frames_writer_open(p, -1, err, sizeof err);
        assert_non_null(w);
        /* sizes: empty, tiny, around the 1 MiB read block, the 5 MB limit */
        static const size_t sizes[] = {0, 1, 5, 1048570, 1048576, 1048580, 3000000, SS_FRAMES_MAX_FRAME, 17};
        size_t ns = sizeof sizes / sizeof *sizes;
        uint8_t *big = malloc(SS_FRAMES_MAX_FRAME + 16);
        for (size_t i = 0; i < SS_FRAMES_MAX_FRAME + 16; i++) big[i] = (uint8_t)(i * 31 + (i >> 11));
        for (size_t i = 0; i < ns; i++) assert_int_equal(ss_frames_writer_append(w, big + i, sizes[i]), 0);
        assert_int_equal(ss_frames_writer_append(w, big, SS_FRAMES_MAX_FRAME + 1), -1); /* refused */
        assert_int_equal(ss_frames_writer_close(w, err, sizeof err), 0);
        ss_frames_reader *r = ss_frames_reader_open(p, 0, err, sizeof err);
        assert_non_null(r);
        for (int pass = 0; pass < 2; pass++) {
            for (size_t i = 0; i < ns; i++) {
                const uint8_t *fr;
                size_t len;
                assert_int_equal(ss_frames_reader_next(r, &fr, &len), SS_FRAMES_OK);
                assert_int_equal(len, sizes[i]);
                assert_true(len == 0 || memcmp(fr, big + i, len) == 0);
            }
            const uint8_t *fr;
            size_t len;
            assert_int_equal(ss_frames_reader_next(r, &fr, &len), SS_FRAMES_END);
            assert_int_equal(ss_frames_reader_is_zstd(r), z);
            assert_int_equal(ss_frames_reader_rewind(r), 0);
        }
        ss_frames_reader_close(r);
        free(big);
    }
}

static int drain_source(const char *spec, int64_t seek, char ***out, size_t *n, int *end_rc) {
    char err[300];
    ss_source *s = ss_source_open(spec, NULL, err, sizeof err, NULL);
    if (!s) fail_msg("open %s: %s", spec, err);
    assert_string_equal(s->cursor_name, "seq");
    if (seek >= 0) assert_int_equal(ss_source_seek(s, seek), 0);
    *out = NULL;
    *n = 0;
    int r;
    ss_source_msg m;
    while ((r = ss_source_next(s, &m, 100)) == SS_SOURCE_MSG) {
        *out = realloc(*out, (*n + 1) * sizeof **out);
        char *line = malloc(m.len + 64);
        snprintf(line, m.len + 64, "%lld %s %.*s", (long long)m.cursor, m.bad_reason ? m.bad_reason : "ok", (int)m.len, m.data);
        (*out)[(*n)++] = line;
    }
    *end_rc = r;
    ss_source_close(s);
    return 0;
}

static void free_lines(char **v, size_t n) {
    for (size_t i = 0; i < n; i++) free(v[i]);
    free(v);
}

static void test_source_and_resume(void **state) {
    (void)state;
    char p[300], spec[320];
    for (int z = 0; z < 2; z++) {
        path_of(p, sizeof p, z ? "src.frames.zst" : "src.frames");
        write_frames(p, z, 30, 2000);
        snprintf(spec, sizeof spec, "frames:%s", p);
        char **v;
        size_t n;
        int rc;
        drain_source(spec, -1, &v, &n, &rc);
        assert_int_equal(rc, SS_SOURCE_END);
        assert_int_equal(n, 31);
        assert_true(strncmp(v[0], "1 ok {\"did\":\"did:plc:frames\",\"time_us\":1779719008778000,\"kind\":\"commit\"", 70) == 0);
        assert_non_null(strstr(v[29], "\"rkey\":\"k30\""));
        assert_true(strncmp(v[30], "31 ok {\"did\":\"did:plc:frames\",\"time_us\":1779719009950000,\"kind\":\"identity\"", 70) == 0);
        /* resume after seq 20: frames 21..31 */
        char **t;
        size_t tn;
        drain_source(spec, 20, &t, &tn, &rc);
        assert_int_equal(tn, 11);
        for (size_t i = 0; i < tn; i++) assert_string_equal(t[i], v[20 + i]);
        free_lines(t, tn);
        drain_source(spec, 31, &t, &tn, &rc);
        assert_int_equal(tn, 0);
        assert_int_equal(rc, SS_SOURCE_END);
        free_lines(t, tn);
        free_lines(v, n);
    }
}

/* A file cut anywhere: the whole frames before the cut come out, then one "truncated"
 * reject, then the end. Never a crash, never a partial event. */
static void test_truncated_files(void **state) {
    (void)state;
    char p[300], cut[300], spec[320];
    path_of(p, sizeof p, "cut.frames");
    write_frames(p, 0, 6, 500);
    FILE *f = fopen(p, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    rewind(f);
    char *all = malloc((size_t)size);
    assert_int_equal(fread(all, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    path_of(cut, sizeof cut, "cut-part.frames");
    snprintf(spec, sizeof spec, "frames:%s", cut);
    /* frame boundaries, to know how many whole frames precede each cut */
    long bounds[16];
    int nb = 0;
    for (long o = 0; o < size; nb++) {
        bounds[nb] = o;
        uint32_t len = (uint8_t)all[o] | (uint8_t)all[o + 1] << 8 | (uint8_t)all[o + 2] << 16 | (uint32_t)(uint8_t)all[o + 3] << 24;
        o += 4 + len;
    }
    assert_int_equal(nb, 7);
    for (long at = 1; at < size; at += (at < 64 ? 1 : 37)) {
        FILE *o = fopen(cut, "wb");
        fwrite(all, 1, (size_t)at, o);
        fclose(o);
        char **v;
        size_t n;
        int rc;
        drain_source(spec, -1, &v, &n, &rc);
        int whole = 0;
        while (whole < nb && bounds[whole] + 4 <= at &&
               (whole + 1 < nb ? bounds[whole + 1] <= at : size <= at))
            whole++;
        int on_boundary = 0;
        for (int k = 0; k < nb; k++) on_boundary |= bounds[k] == at;
        assert_int_equal(rc, SS_SOURCE_END);
        assert_int_equal(n, (size_t)whole + (on_boundary ? 0 : 1));
        for (int k = 0; k < whole; k++) assert_non_null(strstr(v[k], " ok "));
        if (!on_boundary) assert_non_null(strstr(v[n - 1], " truncated {\"reason\":\"truncated\""));
        free_lines(v, n);
    }
    free(all);
}

static void test_zstd_cut_and_oversize(void **state) {
    (void)state;
    char p[300], cut[300], spec[320], err[200];
    /* zstd stream cut in the middle */
    path_of(p, sizeof p, "z.frames.zst");
    write_frames(p, 1, 40, 3000);
    FILE *f = fopen(p, "rb");
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    rewind(f);
    char *all = malloc((size_t)size);
    assert_int_equal(fread(all, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    path_of(cut, sizeof cut, "zcut.frames.zst");
    FILE *o = fopen(cut, "wb");
    fwrite(all, 1, (size_t)size / 2, o);
    fclose(o);
    free(all);
    snprintf(spec, sizeof spec, "frames:%s", cut);
    char **v;
    size_t n;
    int rc;
    drain_source(spec, -1, &v, &n, &rc);
    assert_true(n >= 1 && n < 41);
    assert_non_null(strstr(v[n - 1], " truncated "));
    for (size_t k = 0; k + 1 < n; k++) assert_non_null(strstr(v[k], " ok "));
    assert_int_equal(rc, SS_SOURCE_END);
    free_lines(v, n);

    /* a length prefix over the limit: a reject, then an error (nothing after can be trusted) */
    path_of(p, sizeof p, "big.frames");
    write_frames(p, 0, 2, 0);
    o = fopen(p, "ab");
    fwrite("\xff\xff\xff\x7f", 1, 4, o); /* ~2 GB */
    fwrite("rest", 1, 4, o);
    fclose(o);
    snprintf(spec, sizeof spec, "frames:%s", p);
    drain_source(spec, -1, &v, &n, &rc);
    assert_int_equal(n, 4);
    assert_non_null(strstr(v[3], "3 frame_too_big {\"reason\":\"frame_too_big\""));
    assert_int_equal(rc, SS_SOURCE_ERR);
    free_lines(v, n);
    /* the reader itself says why */
    ss_frames_reader *r = ss_frames_reader_open(p, 0, err, sizeof err);
    const uint8_t *fr;
    size_t len;
    for (int k = 0; k < 3; k++) assert_int_equal(ss_frames_reader_next(r, &fr, &len), SS_FRAMES_OK);
    assert_int_equal(ss_frames_reader_next(r, &fr, &len), SS_FRAMES_TOO_BIG);
    assert_non_null(strstr(ss_frames_reader_error(r), "over the 5000000-byte limit"));
    ss_frames_reader_close(r);
    /* missing file */
    assert_null(ss_source_open("frames:/nonexistent/x.frames", NULL, err, sizeof err, NULL));
    assert_non_null(strstr(err, "cannot open"));
    /* a file that is not frames at all: the first "length" is huge or the frame garbage */
    path_of(p, sizeof p, "text.frames");
    o = fopen(p, "wb");
    fputs("{\"did\":\"not frames\"}\n", o);
    fclose(o);
    snprintf(spec, sizeof spec, "frames:%s", p);
    drain_source(spec, -1, &v, &n, &rc);
    assert_int_equal(n, 1);
    assert_non_null(strstr(v[0], "frame_too_big"));
    free_lines(v, n);
}

/* A frame is not an event: under `skyspool ingest` max_message_bytes is the 2 MiB event
 * limit, yet a relay's frames go up to 5,000,000 bytes. frames: (like firehose:) must
 * decode a 3 MB frame whose event is small. (Frames over 5,000,000 bytes cannot even be
 * written to a frames file; test_zstd_cut_and_oversize covers such a length prefix.) */
static void test_frame_limit_is_not_the_event_limit(void **state) {
    (void)state;
    char p[300], spec[320], err[300];
    path_of(p, sizeof p, "large.frames");
    ss_frames_writer *w = ss_frames_writer_open(p, 0, err, sizeof err);
    assert_non_null(w);
    static const size_t pads[1] = {3000000}; /* the frame: just above */
    ss_buf f;
    ss_buf_init(&f);
    for (int i = 0; i < 1; i++) {
        ss_buf_reset(&f);
        fhe_map *h = fhe_map_new();
        fhe_uint(fhe_map_put(h, "op"), 1);
        fhe_text(fhe_map_put(h, "t"), "#identity");
        fhe_map_write(h, &f);
        fhe_map *b = fhe_map_new();
        fhe_uint(fhe_map_put(b, "seq"), (uint64_t)i + 1);
        fhe_text(fhe_map_put(b, "did"), "did:plc:large");
        fhe_text(fhe_map_put(b, "time"), "2026-05-25T14:23:29.950Z");
        fhe_text(fhe_map_put(b, "handle"), "large.test");
        char *pad = calloc(1, pads[i]);
        assert_non_null(pad);
        fhe_bytes(fhe_map_put(b, "padding"), pad, pads[i]); /* a key the decoder does not know */
        free(pad);
        fhe_map_write(b, &f);
        assert_true(f.len > pads[i] && f.len < pads[i] + 200);
        assert_int_equal(ss_frames_writer_append(w, f.data, f.len), 0);
    }
    assert_int_equal(ss_frames_writer_close(w, err, sizeof err), 0);
    ss_buf_free(&f);

    ss_source_opts o;
    ss_source_opts_init(&o);
    o.max_message_bytes = 2u << 20;
    snprintf(spec, sizeof spec, "frames:%s", p);
    ss_source *s = ss_source_open(spec, &o, err, sizeof err, NULL);
    assert_non_null(s);
    ss_source_msg m;
    assert_int_equal(ss_source_next(s, &m, 100), SS_SOURCE_MSG);
    assert_null(m.bad_reason);
    assert_int_equal(m.cursor, 1);
    assert_non_null(strstr(m.data, "\"kind\":\"identity\""));
    assert_non_null(strstr(m.data, "\"handle\":\"large.test\""));
    assert_int_equal(ss_source_next(s, &m, 100), SS_SOURCE_END);
    ss_source_close(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_writer_reader_roundtrip),
        cmocka_unit_test(test_source_and_resume),
        cmocka_unit_test(test_truncated_files),
        cmocka_unit_test(test_zstd_cut_and_oversize),
        cmocka_unit_test(test_frame_limit_is_not_the_event_limit),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
