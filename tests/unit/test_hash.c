/* Unit tests for the 128-bit dedup hash (src/util/hash.h): it must be exactly the
 * MurmurHash3_x64_128 construction (checked with SMHasher's verification procedure),
 * stable forever (pinned vectors), streaming-equivalent to one-shot at every split, and
 * well distributed (no collisions, balanced bits, avalanche). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/hash.h"

/* SMHasher's VerificationTest: hash keys {0}, {0,1}, ... of length 0..255 with seed
 * 256 - len, hash the concatenated digests with seed 0, and read the first 4 bytes as a
 * little-endian u32. The published value for MurmurHash3_x64_128 is 0x6384BA69. */
static void test_smhasher_verification(void **state) {
    (void)state;
    uint8_t key[256], hashes[16 * 256], final[16];
    for (int i = 0; i < 256; i++) {
        key[i] = (uint8_t)i;
        ss_hash128(key, (size_t)i, (uint64_t)(256 - i), hashes + 16 * i);
    }
    ss_hash128(hashes, sizeof hashes, 0, final);
    uint32_t v = (uint32_t)final[0] | (uint32_t)final[1] << 8 | (uint32_t)final[2] << 16 | (uint32_t)final[3] << 24;
    assert_int_equal(v, 0x6384BA69);
}

static void test_pinned_vectors(void **state) {
    (void)state;
    static const struct {
        const char *in;
        uint64_t seed;
        const char *hex;
    } v[] = {
        {"", 0x0ULL, "00000000000000000000000000000000"},
        {"", 0x1ULL, "b55cff6ee5ab10468335f878aa2d6251"},
        {"", 0x9747b28cULL, "b3bbaa1d8a202b397a9502e38f60b093"},
        {"a", 0x0ULL, "897859f6655555855a890e51483ab5e6"},
        {"a", 0x1ULL, "70cf483707e1ea472837edd28a51e06b"},
        {"a", 0x9747b28cULL, "1d5ab22d51d8e85c04f008920fab6d9e"},
        {"abc", 0x0ULL, "6778ad3f3f3f96b4522dca264174a23b"},
        {"abc", 0x1ULL, "f0618a9a4ebe889c6c251bf38bc812ca"},
        {"abc", 0x9747b28cULL, "dccec3bf0d634337bf04b52034a2e0cd"},
        {"0123456789abcdef", 0x0ULL, "a7d14acf946de04bda08a7635c5bc387"},
        {"0123456789abcdef0", 0x0ULL, "75c0a58587ae24ebca283131b368fb73"},
        {"did:plc:mcc5yghbk7tixqryac2yxku7", 0x0ULL, "54cb8b1aacf3cf6f800b84bd8b94de37"},
        {"The quick brown fox jumps over the lazy dog", 0x0ULL, "6c1b07bc7bbc4be347939ac4a93c437a"},
        {"The quick brown fox jumps over the lazy dog", 0x1ULL, "3ee1d1bb6d5633e520fa67c9a4215a62"},
        {"The quick brown fox jumps over the lazy dog", 0x9747b28cULL, "213163d23b7f8a73e516c07e727345f9"},
    };
    for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
        uint8_t d[16];
        char hex[33];
        ss_hash128(v[i].in, strlen(v[i].in), v[i].seed, d);
        ss_hash128_hex(d, hex);
        if (strcmp(hex, v[i].hex) != 0) fail_msg("vector %zu: got %s want %s", i, hex, v[i].hex);
    }
}

static void test_streaming_matches_oneshot(void **state) {
    (void)state;
    uint8_t data[100];
    for (int i = 0; i < 100; i++) data[i] = (uint8_t)(i * 37 + 11);
    for (size_t n = 0; n <= 100; n++) {
        uint8_t want[16];
        ss_hash128(data, n, 7, want);
        for (size_t a = 0; a <= n; a++) {
            for (size_t b = a; b <= n; b += 5) {
                ss_hash128_state s;
                uint8_t got[16];
                ss_hash128_init(&s, 7);
                ss_hash128_update(&s, data, a);
                ss_hash128_update(&s, data + a, b - a);
                ss_hash128_update(&s, data + b, n - b);
                ss_hash128_final(&s, got);
                assert_memory_equal(got, want, 16);
            }
        }
    }
    /* fields are length-prefixed: ("ab","c") != ("a","bc") and != raw "abc" */
    ss_hash128_state s;
    uint8_t x[16], y[16], z[16];
    ss_hash128_init(&s, 0);
    ss_hash128_field(&s, "ab", 2);
    ss_hash128_field(&s, "c", 1);
    ss_hash128_final(&s, x);
    ss_hash128_init(&s, 0);
    ss_hash128_field(&s, "a", 1);
    ss_hash128_field(&s, "bc", 2);
    ss_hash128_final(&s, y);
    ss_hash128("abc", 3, 0, z);
    assert_memory_not_equal(x, y, 16);
    assert_memory_not_equal(x, z, 16);
}

static int cmp16(const void *a, const void *b) { return memcmp(a, b, 16); }

static void test_distribution(void **state) {
    (void)state;
    enum { N = 200000 };
    uint8_t(*d)[16] = malloc(sizeof *d * N);
    unsigned bits[128] = {0};
    unsigned buckets[256] = {0};
    char key[64];
    for (int i = 0; i < N; i++) {
        /* realistic near-identical keys: rkeys that differ in a few characters */
        int n = snprintf(key, sizeof key, "did:plc:abcdefghijklmnopqrstuvwx|3l3qo2vu%07d", i);
        ss_hash128(key, (size_t)n, 0, d[i]);
        for (int b = 0; b < 128; b++) bits[b] += (d[i][b >> 3] >> (b & 7)) & 1;
        buckets[d[i][15]]++;
    }
    /* no collisions among 200k keys */
    qsort(d, N, 16, cmp16);
    for (int i = 1; i < N; i++) assert_memory_not_equal(d[i - 1], d[i], 16);
    /* every output bit is set about half the time (0.5 +- 1%) */
    for (int b = 0; b < 128; b++) assert_true(bits[b] > N * 0.49 && bits[b] < N * 0.51);
    /* top byte uniform: chi-square with 255 degrees of freedom, well under the 0.1% tail (~330) */
    double chi = 0, exp = N / 256.0;
    for (int i = 0; i < 256; i++) chi += (buckets[i] - exp) * (buckets[i] - exp) / exp;
    assert_true(chi < 330.0);
    free(d);

    /* avalanche: flipping any one input bit flips about half of the 128 output bits */
    uint8_t in[32], base[16], out[16];
    double total = 0;
    int trials = 0;
    for (int k = 0; k < 32; k++) in[k] = (uint8_t)(k * 7 + 1);
    ss_hash128(in, sizeof in, 0, base);
    for (int bit = 0; bit < 256; bit++) {
        in[bit >> 3] ^= (uint8_t)(1u << (bit & 7));
        ss_hash128(in, sizeof in, 0, out);
        in[bit >> 3] ^= (uint8_t)(1u << (bit & 7));
        int diff = 0;
        for (int k = 0; k < 16; k++) diff += __builtin_popcount(base[k] ^ out[k]);
        assert_true(diff > 35 && diff < 93);
        total += diff;
        trials++;
    }
    total /= trials;
    assert_true(total > 61 && total < 67);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_smhasher_verification),
        cmocka_unit_test(test_pinned_vectors),
        cmocka_unit_test(test_streaming_matches_oneshot),
        cmocka_unit_test(test_distribution),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
