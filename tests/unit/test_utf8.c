/* Unit tests for UTF-8 validation and repair (src/util/utf8.h): RFC 3629 edge cases,
 * the Unicode "maximal subpart" replacement policy, and exhaustive agreement between the
 * validator and a naive reference decoder over every 1- and 2-byte input and all lead
 * bytes with random tails. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/utf8.h"

static void test_valid_invalid(void **state) {
    (void)state;
    static const char *good[] = {"", "ascii only, longer than eight bytes", "\xc2\x80", "\xdf\xbf", "\xe0\xa0\x80",
                                 "\xed\x9f\xbf", "\xee\x80\x80", "\xef\xbf\xbf", "\xf0\x90\x80\x80",
                                 "\xf4\x8f\xbf\xbf", "caf\xc3\xa9 \xf0\x9f\xa6\x8b \xe2\x82\xac"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) assert_true(ss_utf8_valid(good[i], strlen(good[i]), NULL));
    static const struct {
        const char *s;
        size_t off;
    } bad[] = {
        {"\x80", 0}, {"abc\xbf", 3}, {"\xc0\x80", 0}, {"\xc1\xbf", 0}, {"\xe0\x9f\xbf", 0}, {"\xed\xa0\x80", 0},
        {"\xed\xbf\xbf", 0}, {"\xf0\x8f\xbf\xbf", 0}, {"\xf4\x90\x80\x80", 0}, {"\xf5\x80\x80\x80", 0},
        {"\xff", 0}, {"\xfe", 0}, {"\xc3", 0}, {"\xe2\x82", 0}, {"12345678\xe2\x82x", 8}, {"\xc3(", 0},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        size_t off = 999;
        assert_false(ss_utf8_valid(bad[i].s, strlen(bad[i].s), &off));
        assert_int_equal(off, bad[i].off);
    }
    /* a NUL byte is valid UTF-8 (U+0000) */
    assert_true(ss_utf8_valid("a\0b", 3, NULL));
}

/* Naive reference: decode a code point, then check the shortest form and range. */
static size_t ref_len(const unsigned char *p, size_t n) {
    if (p[0] < 0x80) return 1;
    size_t k;
    uint32_t cp;
    if ((p[0] & 0xE0) == 0xC0) k = 2, cp = p[0] & 0x1F;
    else if ((p[0] & 0xF0) == 0xE0) k = 3, cp = p[0] & 0x0F;
    else if ((p[0] & 0xF8) == 0xF0) k = 4, cp = p[0] & 0x07;
    else return 0;
    if (n < k) return 0;
    for (size_t i = 1; i < k; i++) {
        if ((p[i] & 0xC0) != 0x80) return 0;
        cp = cp << 6 | (p[i] & 0x3F);
    }
    static const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min[k] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return k;
}

static void test_against_reference(void **state) {
    (void)state;
    unsigned char b[4];
    for (unsigned a = 0; a < 256; a++) {
        b[0] = (unsigned char)a;
        assert_int_equal(ss_utf8_seq_len(b, 1), ref_len(b, 1));
        for (unsigned c = 0; c < 256; c++) {
            b[1] = (unsigned char)c;
            assert_int_equal(ss_utf8_seq_len(b, 2), ref_len(b, 2));
        }
    }
    uint64_t x = 88172645463325252ULL;
    for (int i = 0; i < 2000000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        b[0] = (unsigned char)(0xC0 + (x & 0x3F));
        b[1] = (unsigned char)(x >> 8), b[2] = (unsigned char)(x >> 16), b[3] = (unsigned char)(x >> 24);
        if (x & (1ULL << 40)) b[1] = (unsigned char)(0x80 | (b[1] & 0x3F));
        if (x & (1ULL << 41)) b[2] = (unsigned char)(0x80 | (b[2] & 0x3F));
        if (x & (1ULL << 42)) b[3] = (unsigned char)(0x80 | (b[3] & 0x3F));
        assert_int_equal(ss_utf8_seq_len(b, 4), ref_len(b, 4));
    }
}

static void test_copy_replace(void **state) {
    (void)state;
    static const struct {
        const char *in, *out;
        size_t repl;
    } v[] = {
        {"plain", "plain", 0},
        {"a\xff" "b", "a\xef\xbf\xbd" "b", 1},
        {"\xe2\x82", "\xef\xbf\xbd", 1},                  /* truncated 3-byte: one maximal subpart */
        {"\xe2\x82x", "\xef\xbf\xbdx", 1},
        {"\xf0\x9f\x98", "\xef\xbf\xbd", 1},
        {"\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd", 3}, /* surrogate: ED then two strays */
        {"\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd", 2},
        {"\xf4\x90\x80\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd", 4},
        {"ok \xf0\x9f\xa6\x8b", "ok \xf0\x9f\xa6\x8b", 0},
        {"\x80\x80", "\xef\xbf\xbd\xef\xbf\xbd", 2},
    };
    for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
        size_t n = strlen(v[i].in), r = 99;
        char out[64];
        size_t o = ss_utf8_copy_replace(out, v[i].in, n, &r);
        assert_int_equal(o, strlen(v[i].out));
        assert_memory_equal(out, v[i].out, o);
        assert_int_equal(r, v[i].repl);
        assert_true(ss_utf8_valid(out, o, NULL));
        ss_buf b;
        ss_buf_init(&b);
        ss_buf_puts(&b, "<");
        assert_int_equal(ss_utf8_append_replace(&b, v[i].in, n, &r), 0);
        assert_int_equal(b.len, 1 + o);
        assert_memory_equal(b.data + 1, v[i].out, o);
        assert_int_equal(r, v[i].repl);
        ss_buf_free(&b);
    }
    char enc[4];
    assert_int_equal(ss_utf8_encode(0x41, enc), 1);
    assert_int_equal(ss_utf8_encode(0xE9, enc), 2);
    assert_memory_equal(enc, "\xc3\xa9", 2);
    assert_int_equal(ss_utf8_encode(0x20AC, enc), 3);
    assert_memory_equal(enc, "\xe2\x82\xac", 3);
    assert_int_equal(ss_utf8_encode(0x1F98B, enc), 4);
    assert_memory_equal(enc, "\xf0\x9f\xa6\x8b", 4);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_invalid),
        cmocka_unit_test(test_against_reference),
        cmocka_unit_test(test_copy_replace),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
