/* Unit tests for the Parquet footer reader (parquet/footer.h): row counts of files the
 * writer made (one and several row groups, empty, every codec), and refusal without a
 * crash of everything a hostile or damaged file can hold: every truncation, flipped bytes,
 * a wrong footer length, and hand-made footers with huge lists, deep nesting, overlong
 * varints, and num_rows disagreeing with the row groups. (The fuzz target
 * fuzz_parquet_footer does the same with mutations.) */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "parquet/footer.h"
#include "parquet/parquet.h"

static char g_path[256];

static size_t write_file(size_t rows, size_t rg_rows, ss_pq_codec codec, uint8_t **out) {
    snprintf(g_path, sizeof g_path, "%s/ss-footer-test-%ld.parquet", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp",
             (long)getpid());
    ss_pq_column cols[] = {{"id", SS_PQ_INT64, 0, 0, 0}, {"s", SS_PQ_STRING, 1, 1, 0}};
    ss_pq_options o;
    ss_pq_options_init(&o);
    o.row_group_rows = rg_rows;
    o.codec = codec;
    o.fsync = 0;
    ss_pq_writer *w = ss_pq_open(g_path, cols, 2, &o);
    assert_non_null(w);
    for (size_t i = 0; i < rows; i++) {
        ss_pq_set_int64(w, 0, (int64_t)i);
        if (i % 3) ss_pq_set_string(w, 1, "abc", 3);
        else ss_pq_set_null(w, 1);
        assert_int_equal(ss_pq_end_row(w), 0);
    }
    ss_pq_stats st;
    char err[256];
    assert_int_equal(ss_pq_close(w, &st, err, sizeof err), 0);
    FILE *f = fopen(g_path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    size_t n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    *out = malloc(n);
    assert_int_equal(fread(*out, 1, n, f), n);
    fclose(f);
    return n;
}

/* The bytes as a file (a memfd: thousands of variants, no disk). */
static int read_bytes(const uint8_t *p, size_t n, ss_pq_footer *ft, char *err, size_t errlen) {
    static int fd = -1;
    if (fd < 0) fd = memfd_create("footer-test", 0);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, 0), 0);
    if (n) assert_int_equal(pwrite(fd, p, n, 0), (ssize_t)n);
    return ss_pq_footer_read_fd(fd, ft, err, errlen);
}

static void test_rows(void **state) {
    (void)state;
    static const struct {
        size_t rows, rg;
        ss_pq_codec codec;
    } cases[] = {{0, 100, SS_PQ_CODEC_ZSTD}, {1, 100, SS_PQ_CODEC_NONE}, {1000, 100, SS_PQ_CODEC_ZSTD},
                 {1001, 100, SS_PQ_CODEC_SNAPPY}, {5000, 131072, SS_PQ_CODEC_ZSTD}};
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        uint8_t *buf;
        size_t n = write_file(cases[c].rows, cases[c].rg, cases[c].codec, &buf);
        ss_pq_footer ft;
        char err[256] = "";
        assert_int_equal(ss_pq_footer_read(g_path, &ft, err, sizeof err), 0);
        assert_int_equal(ft.num_rows, (int64_t)cases[c].rows);
        assert_int_equal(ft.rg_rows, (int64_t)cases[c].rows);
        assert_int_equal(ft.row_groups, cases[c].rows ? (cases[c].rows + cases[c].rg - 1) / cases[c].rg : 0);
        assert_int_equal(ft.schema_elems, 3);
        assert_int_equal(ft.file_bytes, n);
        free(buf);
    }
    unlink(g_path);
}

static void test_truncations_and_flips(void **state) {
    (void)state;
    uint8_t *buf;
    size_t n = write_file(1001, 100, SS_PQ_CODEC_ZSTD, &buf);
    ss_pq_footer ft;
    char err[256];
    for (size_t len = 0; len < n; len++) /* every prefix: never the whole file's answer */
        assert_int_equal(read_bytes(buf, len, &ft, err, sizeof err), -1);
    uint32_t flen = (uint32_t)buf[n - 8] | (uint32_t)buf[n - 7] << 8 | (uint32_t)buf[n - 6] << 16 |
                    (uint32_t)buf[n - 5] << 24;
    uint8_t *m = malloc(n);
    size_t accepted = 0;
    for (size_t i = n - 8 - flen; i < n; i++) /* every footer byte, flipped: refused or read, never a crash */
        for (int bit = 0; bit < 8; bit++) {
            memcpy(m, buf, n);
            m[i] ^= (uint8_t)(1u << bit);
            if (read_bytes(m, n, &ft, err, sizeof err) == 0) {
                accepted++;
                assert_int_equal(ft.num_rows, ft.rg_rows);
            } else {
                assert_true(err[0] != '\0');
            }
        }
    /* the footer length pointing past the start */
    memcpy(m, buf, n);
    m[n - 5] = 0x7f;
    assert_int_equal(read_bytes(m, n, &ft, err, sizeof err), -1);
    assert_non_null(strstr(err, "footer length"));
    print_message("%zu of %u single-bit footer flips still decode\n", accepted, 8 * (flen + 8));
    free(m);
    free(buf);
    unlink(g_path);
}

/* A file around a hand-made footer. */
static int footer_file(const uint8_t *foot, size_t flen, ss_pq_footer *ft, char *err, size_t errlen) {
    size_t n = 4 + flen + 8;
    uint8_t *b = malloc(n);
    memcpy(b, "PAR1", 4);
    memcpy(b + 4, foot, flen);
    b[4 + flen] = (uint8_t)flen;
    b[5 + flen] = (uint8_t)(flen >> 8);
    b[6 + flen] = (uint8_t)(flen >> 16);
    b[7 + flen] = (uint8_t)(flen >> 24);
    memcpy(b + 8 + flen, "PAR1", 4);
    int rc = read_bytes(b, n, ft, err, errlen);
    free(b);
    return rc;
}

static void test_hostile(void **state) {
    (void)state;
    ss_pq_footer ft;
    char err[256];
    /* version 1, schema [one empty struct], num_rows 5, row_groups [{num_rows 5}] */
    const uint8_t ok[] = {0x15, 0x02, 0x19, 0x1c, 0x00, 0x16, 0x0a, 0x19, 0x1c, 0x36, 0x0a, 0x00, 0x00};
    assert_int_equal(footer_file(ok, sizeof ok, &ft, err, sizeof err), 0);
    assert_int_equal(ft.num_rows, 5);
    assert_int_equal(ft.row_groups, 1);
    /* num_rows 6, the row group says 5 */
    uint8_t disagree[sizeof ok];
    memcpy(disagree, ok, sizeof ok);
    disagree[6] = 0x0c;
    assert_int_equal(footer_file(disagree, sizeof disagree, &ft, err, sizeof err), -1);
    assert_non_null(strstr(err, "row groups hold"));
    /* a list claiming 2^32 structs in 10 bytes */
    const uint8_t huge[] = {0x19, 0xfc, 0x80, 0x80, 0x80, 0x80, 0x10, 0x00, 0x00, 0x00};
    assert_int_equal(footer_file(huge, sizeof huge, &ft, err, sizeof err), -1);
    /* structs nested 1000 deep (field 1 of type struct, again and again) */
    uint8_t deep[1001];
    memset(deep, 0x1c, 1000);
    deep[1000] = 0;
    assert_int_equal(footer_file(deep, sizeof deep, &ft, err, sizeof err), -1);
    assert_non_null(strstr(err, "nested"));
    /* an 11-byte varint */
    const uint8_t longv[] = {0x36, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x00};
    assert_int_equal(footer_file(longv, sizeof longv, &ft, err, sizeof err), -1);
    /* a binary longer than the footer */
    const uint8_t bin[] = {0x68, 0xff, 0x7f, 0x00};
    assert_int_equal(footer_file(bin, sizeof bin, &ft, err, sizeof err), -1);
    /* a negative num_rows */
    uint8_t neg[sizeof ok];
    memcpy(neg, ok, sizeof ok);
    neg[6] = 0x09;
    neg[10] = 0x09;
    assert_int_equal(footer_file(neg, sizeof neg, &ft, err, sizeof err), -1);
    /* bytes after the struct's stop */
    uint8_t extra[sizeof ok + 1];
    memcpy(extra, ok, sizeof ok);
    extra[sizeof ok] = 0;
    assert_int_equal(footer_file(extra, sizeof extra, &ft, err, sizeof err), -1);
    /* no magic */
    assert_int_equal(read_bytes((const uint8_t *)"PAR1xxxxxxxxxxxxPAR0", 20, &ft, err, sizeof err), -1);
    /* parse() directly: empty */
    assert_int_equal(ss_pq_footer_parse(ok, 0, &ft, err, sizeof err), -1);
    unlink(g_path);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows),
        cmocka_unit_test(test_truncations_and_flips),
        cmocka_unit_test(test_hostile),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
