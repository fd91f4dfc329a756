/* Unit tests for the file: source: line splitting, cursors and seek, CRLF, blank lines,
 * a last line without newline, oversized lines, stdin, and zstd-compressed files; and
 * resuming from a stored cursor only in the same content (fingerprint of the first 64 KiB,
 * offset on a line boundary and not past the end), plain and zstd.
 * Every test writes real files in a private temp directory and reads them back through
 * the public source interface. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include <cmocka.h>

#include "source/source.h"
#include "util/buf.h"

static char g_dir[256];

static int setup(void **state) {
    snprintf(g_dir, sizeof g_dir, "%s/ss-file-test.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    return mkdtemp(g_dir) ? 0 : -1;
}

static int teardown(void **state) {
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void write_file(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static ss_source *open_src(const char *path, size_t max_msg) {
    char spec[600], err[512];
    ss_source_opts o;
    ss_source_opts_init(&o);
    o.max_message_bytes = max_msg;
    snprintf(spec, sizeof spec, "file:%s", path);
    ss_source *s = ss_source_open(spec, &o, err, sizeof err, NULL);
    if (!s) fail_msg("open %s: %s", spec, err);
    return s;
}

typedef struct {
    const char *data;
    int64_t cursor;
    const char *bad;
} want_t;

static void expect(ss_source *s, const want_t *w, size_t n) {
    ss_source_msg m;
    for (size_t i = 0; i < n; i++) {
        int r = ss_source_next(s, &m, 0);
        if (r != SS_SOURCE_MSG) fail_msg("message %zu: got %d (%s)", i, r, s->errstr);
        assert_int_equal(m.len, strlen(w[i].data));
        assert_memory_equal(m.data, w[i].data, m.len);
        assert_int_equal(m.cursor, w[i].cursor);
        if (w[i].bad) assert_string_equal(m.bad_reason, w[i].bad);
        else assert_null(m.bad_reason);
    }
    assert_int_equal(ss_source_next(s, &m, 0), SS_SOURCE_END);
    assert_int_equal(ss_source_next(s, &m, 0), SS_SOURCE_END);
}

static const char MIXED[] = "{\"a\":1}\n"      /* 0..8 */
                            "\r\n"             /* 8..10 blank (CRLF) */
                            "{\"b\":2}\r\n"    /* 10..19 */
                            "\n"               /* 19..20 blank */
                            "  \n"             /* 20..23 whitespace only */
                            "{\"c\":\"\xc3\xa9\"}\n" /* 23..34 */
                            "{\"d\":4}";       /* 34..41, no newline */

static void test_lines_cursors_crlf(void **state) {
    char path[300];
    snprintf(path, sizeof path, "%s/mixed.jsonl", g_dir);
    write_file(path, MIXED, sizeof MIXED - 1);
    ss_source *s = open_src(path, 0);
    assert_string_equal(s->cursor_name, "offset");
    assert_int_equal(s->resume_margin, 0);
    /* id: file:<realpath>@<dev>:<ino> */
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    char real[300], id[700];
    assert_non_null(realpath(path, real));
    snprintf(id, sizeof id, "file:%s@%llu:%llu", real, (unsigned long long)st.st_dev, (unsigned long long)st.st_ino);
    assert_string_equal(s->id, id);
    const want_t w[] = {{"{\"a\":1}", 8, NULL}, {"{\"b\":2}", 19, NULL}, {"{\"c\":\"\xc3\xa9\"}", 34, NULL},
                        {"{\"d\":4}", 41, NULL}};
    expect(s, w, 4);
    /* Seek to every reported cursor (and 0): the rest follows exactly. */
    const int64_t cur[] = {0, 8, 19, 34, 41};
    for (size_t k = 0; k < 5; k++) {
        assert_int_equal(ss_source_seek(s, cur[k]), 0);
        expect(s, w + k, 4 - (k < 4 ? k : 4));
    }
    /* Past the end is an error that says so. */
    assert_int_not_equal(ss_source_seek(s, 42), 0);
    assert_non_null(strstr(s->errstr, "past the end"));
    ss_source_close(s);
}

static void test_empty_and_missing(void **state) {
    char path[300], err[512];
    snprintf(path, sizeof path, "%s/empty.jsonl", g_dir);
    write_file(path, "", 0);
    ss_source *s = open_src(path, 0);
    ss_source_msg m;
    assert_int_equal(ss_source_next(s, &m, 0), SS_SOURCE_END);
    ss_source_close(s);
    snprintf(path, sizeof path, "%s/blank.jsonl", g_dir);
    write_file(path, "\n\r\n \n", 5);
    s = open_src(path, 0);
    assert_int_equal(ss_source_next(s, &m, 0), SS_SOURCE_END);
    ss_source_close(s);
    assert_null(ss_source_open("file:/nonexistent/dir/x.jsonl", NULL, err, sizeof err, NULL));
    assert_non_null(strstr(err, "cannot open"));
    assert_null(ss_source_open("file:", NULL, err, sizeof err, NULL));
    assert_null(ss_source_open("file:/", NULL, err, sizeof err, NULL));
    assert_non_null(strstr(err, "directory"));
}

/* Lines of many lengths across the 1 MiB read blocks; a few over the limit. */
static void test_block_boundaries_and_oversize(void **state) {
    char path[300];
    snprintf(path, sizeof path, "%s/big.jsonl", g_dir);
    const size_t limit = 200000;
    ss_buf file;
    ss_buf_init(&file);
    size_t nlines = 0;
    size_t *lens = malloc(sizeof(size_t) * 4000);
    int64_t *ends = malloc(sizeof(int64_t) * 4000);
    assert_true(lens && ends);
    uint64_t x = 88172645463325252ULL;
    while (file.len < 5u * 1024 * 1024) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        size_t n = (size_t)(x % 6000) + 1;
        if (nlines % 97 == 13) n = limit + (size_t)(x % 3) - 1; /* limit-1, limit, limit+1 */
        if (nlines % 211 == 7) n = 3u * 1024 * 1024;            /* spans several blocks */
        assert_int_equal(ss_buf_reserve(&file, n + 2), 0);
        for (size_t i = 0; i < n; i++) file.data[file.len + i] = (char)('a' + (nlines + i) % 26);
        file.len += n;
        if (nlines % 5 == 0) file.data[file.len++] = '\r';
        file.data[file.len++] = '\n';
        lens[nlines] = n;
        ends[nlines] = (int64_t)file.len;
        nlines++;
    }
    write_file(path, file.data, file.len);
    ss_source *s = open_src(path, limit);
    ss_source_msg m;
    int64_t start = 0;
    int too_large = 0;
    for (size_t i = 0; i < nlines; i++) {
        assert_int_equal(ss_source_next(s, &m, 0), SS_SOURCE_MSG);
        assert_int_equal(m.cursor, ends[i]);
        if (lens[i] > limit) {
            too_large++;
            assert_string_equal(m.bad_reason, "too_large");
            assert_int_equal(m.len, lens[i] < 65536 ? lens[i] : 65536);
        } else {
            assert_null(m.bad_reason);
            assert_int_equal(m.len, lens[i]);
        }
        assert_memory_equal(m.data, file.data + start, m.len);
        start = ends[i];
    }
    assert_int_equal(ss_source_next(s, &m, 0), SS_SOURCE_END);
    assert_true(too_large >= 3);
    /* Seek into the middle and continue. */
    size_t mid = nlines / 2;
    assert_int_equal(ss_source_seek(s, ends[mid - 1]), 0);
    assert_int_equal(ss_source_next(s, &m, 0), SS_SOURCE_MSG);
    assert_int_equal(m.cursor, ends[mid]);
    ss_source_close(s);

    /* The same file through zstd, with the decompressed offsets as cursors. */
    size_t bound = ZSTD_compressBound(file.len);
    char *z = malloc(bound);
    assert_non_null(z);
    size_t zn = ZSTD_compress(z, bound, file.data, file.len, 1);
    assert_false(ZSTD_isError(zn));
    char zpath[320];
    snprintf(zpath, sizeof zpath, "%s/big.jsonl.zst", g_dir);
    write_file(zpath, z, zn);
    s = open_src(zpath, limit);
    start = 0;
    for (size_t i = 0; i < nlines; i++) {
        assert_int_equal(ss_source_next(s, &m, 0), SS_SOURCE_MSG);
        assert_int_equal(m.cursor, ends[i]);
        assert_int_equal(m.bad_reason != NULL, lens[i] > limit);
        assert_memory_equal(m.data, file.data + start, m.len);
        start = ends[i];
    }
    assert_int_equal(ss_source_next(s, &m, 0), SS_SOURCE_END);
    assert_int_equal(ss_source_seek(s, ends[mid - 1]), 0);
    assert_int_equal(ss_source_next(s, &m, 0), SS_SOURCE_MSG);
    assert_int_equal(m.cursor, ends[mid]);
    assert_memory_equal(m.data, file.data + ends[mid - 1], m.len);
    assert_int_not_equal(ss_source_seek(s, (int64_t)file.len + 1), 0);
    ss_source_close(s);

    /* A truncated zstd file is an error, not a silent end. */
    write_file(zpath, z, zn / 2);
    s = open_src(zpath, limit);
    int r;
    while ((r = ss_source_next(s, &m, 0)) == SS_SOURCE_MSG) {
    }
    assert_int_equal(r, SS_SOURCE_ERR);
    assert_non_null(strstr(s->errstr, "zstd"));
    ss_source_close(s);
    free(z);
    free(lens);
    free(ends);
    ss_buf_free(&file);
}

/* Default limit 2 MiB: a 3 MiB line is too_large with its first 64 KiB; the next line is intact. */
static void test_default_limit(void **state) {
    char path[300];
    snprintf(path, sizeof path, "%s/huge.jsonl", g_dir);
    size_t n = 3u * 1024 * 1024;
    char *d = malloc(n + 64);
    assert_non_null(d);
    memset(d, 'x', n);
    d[0] = '{';
    memcpy(d + n, "\n{\"ok\":1}\n", 10);
    write_file(path, d, n + 10);
    ss_source *s = open_src(path, 0);
    const want_t w0 = {NULL, (int64_t)n + 1, "too_large"};
    ss_source_msg m;
    assert_int_equal(ss_source_next(s, &m, 0), SS_SOURCE_MSG);
    assert_string_equal(m.bad_reason, w0.bad);
    assert_int_equal(m.len, 65536);
    assert_int_equal(m.cursor, w0.cursor);
    assert_memory_equal(m.data, d, 65536);
    assert_int_equal(ss_source_next(s, &m, 0), SS_SOURCE_MSG);
    assert_int_equal(m.len, 8);
    assert_memory_equal(m.data, "{\"ok\":1}", 8);
    ss_source_close(s);
    /* A line of exactly 2 MiB is fine. */
    n = 2u * 1024 * 1024;
    d[n] = '\n';
    write_file(path, d, n + 1);
    s = open_src(path, 0);
    assert_int_equal(ss_source_next(s, &m, 0), SS_SOURCE_MSG);
    assert_null(m.bad_reason);
    assert_int_equal(m.len, n);
    ss_source_close(s);
    free(d);
}

static void test_stdin(void **state) {
    char path[300], err[512];
    snprintf(path, sizeof path, "%s/stdin.jsonl", g_dir);
    write_file(path, MIXED, sizeof MIXED - 1);
    int saved = dup(STDIN_FILENO);
    int fd = open(path, O_RDONLY);
    assert_true(saved >= 0 && fd >= 0);
    assert_int_equal(dup2(fd, STDIN_FILENO), STDIN_FILENO);
    close(fd);
    ss_source *s = ss_source_open("file:-", NULL, err, sizeof err, NULL);
    assert_non_null(s);
    assert_string_equal(s->id, "file:-");
    assert_int_equal(ss_source_seek(s, 0), 0); /* where it already is */
    ss_source_msg m;
    assert_int_equal(ss_source_next(s, &m, 0), SS_SOURCE_MSG);
    assert_int_equal(m.cursor, 8);
    assert_int_not_equal(ss_source_seek(s, 0), 0);
    assert_non_null(strstr(s->errstr, "stdin cannot seek"));
    assert_int_equal(ss_source_seek(s, 8), 0);
    const want_t w[] = {{"{\"b\":2}", 19, NULL}, {"{\"c\":\"\xc3\xa9\"}", 34, NULL}, {"{\"d\":4}", 41, NULL}};
    expect(s, w, 3);
    ss_source_close(s);
    assert_int_equal(dup2(saved, STDIN_FILENO), STDIN_FILENO);
    close(saved);
}

/* A pipe on stdin: next() returns AGAIN after its timeout while the producer is quiet,
 * then the lines, then END when the producer closes. */
static void test_stdin_pipe_timeout(void **state) {
    int p[2], saved = dup(STDIN_FILENO);
    assert_int_equal(pipe(p), 0);
    assert_int_equal(dup2(p[0], STDIN_FILENO), STDIN_FILENO);
    close(p[0]);
    char err[512];
    ss_source *s = ss_source_open("file:-", NULL, err, sizeof err, NULL);
    assert_non_null(s);
    ss_source_msg m;
    assert_int_equal(ss_source_next(s, &m, 20), SS_SOURCE_AGAIN);
    assert_int_equal(write(p[1], "{\"x\":1}\n{\"y\"", 12), 12);
    assert_int_equal(ss_source_next(s, &m, 20), SS_SOURCE_MSG);
    assert_int_equal(m.len, 7);
    assert_int_equal(m.cursor, 8);
    assert_int_equal(ss_source_next(s, &m, 20), SS_SOURCE_AGAIN); /* half a line so far */
    assert_int_equal(write(p[1], ":2}\n", 4), 4);
    assert_int_equal(ss_source_next(s, &m, 20), SS_SOURCE_MSG);
    assert_int_equal(m.len, 7);
    assert_int_equal(m.cursor, 16);
    assert_memory_equal(m.data, "{\"y\":2}", 7);
    close(p[1]);
    assert_int_equal(ss_source_next(s, &m, 20), SS_SOURCE_END);
    ss_source_close(s);
    assert_int_equal(dup2(saved, STDIN_FILENO), STDIN_FILENO);
    close(saved);
}

/* ---- resume: the cursor belongs to content ------------------------------------------------ */

static void write_zst(const char *path, const void *data, size_t n, const char *mode) {
    size_t bound = ZSTD_compressBound(n);
    void *z = malloc(bound);
    assert_non_null(z);
    size_t zn = ZSTD_compress(z, bound, data, n, 1);
    assert_false(ZSTD_isError(zn));
    FILE *f = fopen(path, mode);
    assert_non_null(f);
    assert_int_equal(fwrite(z, 1, zn, f), zn);
    assert_int_equal(fclose(f), 0);
    free(z);
}

static void append_file(const char *path, const char *data) {
    FILE *f = fopen(path, "ab");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, strlen(data), f), strlen(data));
    assert_int_equal(fclose(f), 0);
}

/* Reads a whole source; returns the fingerprint after the last message, and the cursor. */
static int64_t read_all(ss_source *s, char fp[SS_SOURCE_FINGERPRINT_MAX]) {
    ss_source_msg m;
    int64_t cur = 0;
    int r;
    while ((r = ss_source_next(s, &m, 0)) == SS_SOURCE_MSG) cur = m.cursor;
    assert_int_equal(r, SS_SOURCE_END);
    snprintf(fp, SS_SOURCE_FINGERPRINT_MAX, "%s", s->fingerprint);
    return cur;
}

/* Opens path, resumes at cursor with fp; checks the result (0 or 1), the reason's words and
 * the next message (NULL: the end). */
static void resume_case(const char *path, int64_t cursor, const char *fp, int want, const char *why_has,
                        const char *next) {
    ss_source *s = open_src(path, 0);
    char why[400];
    int r = ss_source_resume(s, cursor, fp, why, sizeof why);
    if (r != want) fail_msg("resume %s at %lld: got %d, want %d (%s; %s)", path, (long long)cursor, r, want, why, s->errstr);
    if (why_has && !strstr(why, why_has)) fail_msg("reason '%s' lacks '%s'", why, why_has);
    if (want == 0) assert_string_equal(why, "");
    ss_source_msg m;
    int n = ss_source_next(s, &m, 0);
    if (next) {
        assert_int_equal(n, SS_SOURCE_MSG);
        assert_int_equal(m.len, strlen(next));
        assert_memory_equal(m.data, next, m.len);
    } else {
        assert_int_equal(n, SS_SOURCE_END);
    }
    ss_source_close(s);
}

static void test_resume_plain(void **state) {
    (void)state;
    char path[512], fp[SS_SOURCE_FINGERPRINT_MAX];
    snprintf(path, sizeof path, "%s/r.jsonl", g_dir);
    write_file(path, "{\"a\":1}\n{\"b\":2}\n", 16);
    ss_source *s = open_src(path, 0);
    assert_non_null(strstr(s->fingerprint, "v1:16:")); /* a small file: all of it */
    int64_t cur = read_all(s, fp);
    ss_source_close(s);
    assert_int_equal(cur, 16);

    /* unchanged: resumes at the end, and at a line boundary inside */
    resume_case(path, 16, fp, 0, NULL, NULL);
    resume_case(path, 8, fp, 0, NULL, "{\"b\":2}");
    /* appended (the prefix is the same): resumes where it was */
    append_file(path, "{\"c\":3}\n");
    resume_case(path, 16, fp, 0, NULL, "{\"c\":3}");
    /* an offset in the middle of a line of the same content is refused */
    resume_case(path, 5, fp, 1, "not at the start of a line", "{\"a\":1}");
    /* no fingerprint stored (an older skyspool), or a malformed one: from the start */
    resume_case(path, 16, "", 1, "no content fingerprint", "{\"a\":1}");
    resume_case(path, 16, "v1:16:nothex", 1, "unreadable", "{\"a\":1}");
    resume_case(path, 16, "v2:16:00000000000000000000000000000000", 1, "unreadable", "{\"a\":1}");
    /* offset 0 needs no check */
    resume_case(path, 0, "", 0, NULL, "{\"a\":1}");

    /* overwritten in place with other content, longer and shorter, same inode */
    write_file(path, "{\"x\":1}\n{\"y\":2}\n{\"z\":3}\n", 24);
    resume_case(path, 16, fp, 1, "differ from those", "{\"x\":1}");
    write_file(path, "{\"q\":1}\n", 8);
    resume_case(path, 16, fp, 1, "fewer than the 16", "{\"q\":1}");
    /* a file read to its end: its fingerprint covers every byte read (under 64 KiB) */
    write_file(path, "{\"a\":1}\n{\"b\":2}\nxx\n", 19);
    s = open_src(path, 0);
    read_all(s, fp);
    ss_source_close(s);
    write_file(path, "{\"a\":1}\n{\"b\":2}\nyy\n{\"d\":4}\n", 27);
    resume_case(path, 19, fp, 1, "differ", "{\"a\":1}"); /* all 19 bytes read are covered */
    write_file(path, "{\"a\":1}\n{\"b\":2}\nxx\n{\"d\":4}\n", 27);
    resume_case(path, 19, fp, 0, NULL, "{\"d\":4}"); /* that is an append */

    /* a last line without '\n': the end of the same content is a valid place to be */
    write_file(path, "{\"a\":1}\n{\"b\":2}", 15);
    s = open_src(path, 0);
    cur = read_all(s, fp);
    ss_source_close(s);
    assert_int_equal(cur, 15);
    resume_case(path, 15, fp, 0, NULL, NULL);
}

/* Files over 64 KiB: the fingerprint covers the first 64 KiB only, so a rewrite past them
 * is caught by the boundary and end checks. */
static void test_resume_large(void **state) {
    (void)state;
    char path[512], fp[SS_SOURCE_FINGERPRINT_MAX];
    snprintf(path, sizeof path, "%s/big.jsonl", g_dir);
    ss_buf b;
    ss_buf_init(&b);
    for (int i = 0; b.len < 100000; i++) ss_buf_printf(&b, "{\"n\":%d}\n", i);
    write_file(path, b.data, b.len);
    ss_source *s = open_src(path, 0);
    assert_non_null(strstr(s->fingerprint, "v1:65536:"));
    int64_t cur = read_all(s, fp);
    ss_source_close(s);
    assert_int_equal(cur, (int64_t)b.len);
    /* a line start past 64 KiB */
    const char *p = memchr(b.data + 70000, '\n', b.len - 70000);
    int64_t at = p - b.data + 1;
    char next[32];
    size_t nl = (size_t)((const char *)memchr(p + 1, '\n', b.len) - (p + 1));
    memcpy(next, p + 1, nl);
    next[nl] = '\0';
    resume_case(path, at, fp, 0, NULL, next);
    /* truncated to between 64 KiB and the offset: past the end */
    assert_int_equal(truncate(path, 66000), 0);
    resume_case(path, at, fp, 1, "past the end", "{\"n\":0}");
    /* the first 64 KiB rewritten (one digit), same size */
    write_file(path, b.data, b.len);
    char *c = strstr(b.data, "{\"n\":7}");
    c[5] = '8';
    write_file(path, b.data, b.len);
    resume_case(path, at, fp, 1, "differ", "{\"n\":0}");
    ss_buf_free(&b);
}

/* A file that was smaller than 64 KiB at open and grew while being read: the fingerprint
 * follows what has been read, up to 64 KiB. */
static void test_fingerprint_grows(void **state) {
    (void)state;
    char path[512];
    snprintf(path, sizeof path, "%s/grow.jsonl", g_dir);
    write_file(path, "{\"a\":1}\n", 8);
    ss_source *s = open_src(path, 0);
    assert_non_null(strstr(s->fingerprint, "v1:8:"));
    append_file(path, "{\"b\":2}\n");
    char fp[SS_SOURCE_FINGERPRINT_MAX];
    assert_int_equal(read_all(s, fp), 16);
    assert_non_null(strstr(fp, "v1:16:"));
    ss_source_close(s);
    resume_case(path, 16, fp, 0, NULL, NULL);
    /* an empty file has a fingerprint too; stdin has none */
    write_file(path, "", 0);
    s = open_src(path, 0);
    assert_non_null(strstr(s->fingerprint, "v1:0:"));
    ss_source_close(s);
}

static void test_resume_zstd(void **state) {
    (void)state;
    char path[512], fp[SS_SOURCE_FINGERPRINT_MAX];
    snprintf(path, sizeof path, "%s/r.jsonl.zst", g_dir);
    const char *a = "{\"a\":1}\n{\"b\":2}\n";
    write_zst(path, a, strlen(a), "wb");
    ss_source *s = open_src(path, 0);
    int64_t cur = read_all(s, fp);
    ss_source_close(s);
    assert_int_equal(cur, 16);
    resume_case(path, 16, fp, 0, NULL, NULL);
    resume_case(path, 8, fp, 0, NULL, "{\"b\":2}");
    resume_case(path, 5, fp, 1, "not at the start of a line", "{\"a\":1}");
    resume_case(path, 40, fp, 1, "past the end", "{\"a\":1}");
    /* a second frame appended: resumes at the old end */
    write_zst(path, "{\"c\":3}\n", 8, "ab");
    resume_case(path, 16, fp, 0, NULL, "{\"c\":3}");
    /* overwritten in place with other content */
    const char *x = "{\"x\":1}\n{\"y\":2}\n{\"z\":3}\n";
    write_zst(path, x, strlen(x), "wb");
    resume_case(path, 16, fp, 1, "compressed bytes", "{\"x\":1}");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lines_cursors_crlf),
        cmocka_unit_test(test_empty_and_missing),
        cmocka_unit_test(test_block_boundaries_and_oversize),
        cmocka_unit_test(test_default_limit),
        cmocka_unit_test(test_stdin),
        cmocka_unit_test(test_stdin_pipe_timeout),
        cmocka_unit_test(test_resume_plain),
        cmocka_unit_test(test_resume_large),
        cmocka_unit_test(test_fingerprint_grows),
        cmocka_unit_test(test_resume_zstd),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
