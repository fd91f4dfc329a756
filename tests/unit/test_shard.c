/* Unit tests for key-routed shards (src/buffer/shard.h): the routing hash is stable (pinned
 * values: keys buffered in Redis are routed by it, so it must never change), spreads real
 * dedup keys evenly (within 3 % of the mean per shard over 1M keys, for several M), and the
 * stream names and --shard parsing are what the docs say. The Redis records (Pingest
 * shards, Pshard-owner) are exercised against a real redis-server by
 * tests/integration/write_shards.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buffer/shard.h"
#include "util/hash.h"

/* A dedup key like the ingester's: the 128-bit hash of some fields. */
static void key_of(uint64_t i, uint8_t out[16]) {
    char s[64];
    int n = snprintf(s, sizeof s, "did:plc:%llx/app.bsky.feed.like/%llu", (unsigned long long)(i * 2654435761u),
                     (unsigned long long)i);
    ss_hash128(s, (size_t)n, 0, out);
}

static void test_pinned(void **state) {
    (void)state;
    uint8_t k[16];
    memset(k, 0, sizeof k);
    /* values computed once; a change here re-routes every buffered key */
    static const unsigned pinned[][5] = {
        /* M = 2, 3, 7, 16, 64 */
        {1, 0, 0, 9, 9},  {0, 0, 0, 14, 46}, {0, 1, 5, 2, 34},  {0, 1, 4, 4, 20},
        {1, 0, 6, 1, 49}, {1, 2, 0, 11, 43}, {1, 1, 5, 15, 31}, {1, 2, 0, 9, 9},
    };
    static const unsigned ms[5] = {2, 3, 7, 16, 64};
    for (int i = 0; i < 8; i++) {
        key_of((uint64_t)i, k);
        for (int j = 0; j < 5; j++) {
            unsigned got = ss_shard_of(k, ms[j]);
            if (got != pinned[i][j]) fail_msg("key %d, M=%u: shard %u, pinned %u", i, ms[j], got, pinned[i][j]);
        }
    }
    for (uint64_t i = 0; i < 1000; i++) { /* M <= 1 is always shard 0; results stay in range */
        key_of(i, k);
        assert_int_equal(ss_shard_of(k, 1), 0);
        assert_int_equal(ss_shard_of(k, 0), 0);
        assert_true(ss_shard_of(k, 5) < 5);
    }
}

/* The same key gives the same shard however often it is asked (it is a pure function). */
static void test_stable_per_key(void **state) {
    (void)state;
    uint8_t a[16], b[16];
    for (uint64_t i = 0; i < 10000; i++) {
        key_of(i, a);
        memcpy(b, a, 16);
        assert_int_equal(ss_shard_of(a, 4), ss_shard_of(b, 4));
    }
}

static void spread(unsigned m, const char *what, int structured) {
    enum { N = 1000000 };
    unsigned *cnt = calloc(m, sizeof *cnt);
    assert_non_null(cnt);
    uint8_t k[16];
    for (uint64_t i = 0; i < N; i++) {
        if (structured) { /* adversarially plain keys: a counter in the low bytes */
            memset(k, 0, sizeof k);
            for (int b = 0; b < 8; b++) k[b] = (uint8_t)(i >> (8 * b));
        } else {
            key_of(i, k);
        }
        cnt[ss_shard_of(k, m)]++;
    }
    double mean = (double)N / m, worst = 0;
    for (unsigned s = 0; s < m; s++) {
        double dev = ((double)cnt[s] - mean) / mean;
        if (dev < 0) dev = -dev;
        if (dev > worst) worst = dev;
    }
    printf("# %s M=%u: worst shard %.2f%% from the mean\n", what, m, worst * 100);
    if (worst > 0.03) fail_msg("%s M=%u: a shard is %.2f%% from the mean (> 3%%)", what, m, worst * 100);
    free(cnt);
}

static void test_spread(void **state) {
    (void)state;
    static const unsigned ms[] = {2, 3, 5, 8, 16, 64};
    for (size_t i = 0; i < sizeof ms / sizeof ms[0]; i++) spread(ms[i], "dedup keys", 0);
    spread(2, "counter keys", 1);
    spread(16, "counter keys", 1);
}

static void test_stream_keys(void **state) {
    (void)state;
    char k[64];
    assert_int_equal(ss_shard_stream_key("skyspool:", SS_TYPE_LIKE, 0, 1, k, sizeof k), 13);
    assert_string_equal(k, "skyspool:like");
    ss_shard_stream_key("skyspool:", SS_TYPE_LIKE, 0, 0, k, sizeof k);
    assert_string_equal(k, "skyspool:like");
    ss_shard_stream_key("p:", SS_TYPE_POST, 1, 2, k, sizeof k);
    assert_string_equal(k, "p:post:1");
    ss_shard_stream_key("p:", SS_TYPE_IDENTITY, 15, 16, k, sizeof k);
    assert_string_equal(k, "p:identity:15");
}

static void test_parse(void **state) {
    (void)state;
    int i = -1, m = 0;
    assert_int_equal(ss_shard_parse("3", &i, &m), 0);
    assert_int_equal(i, 3);
    assert_int_equal(m, 0); /* left alone */
    assert_int_equal(ss_shard_parse("1/2", &i, &m), 0);
    assert_int_equal(i, 1);
    assert_int_equal(m, 2);
    assert_int_equal(ss_shard_parse("15/16", &i, &m), 0);
    assert_int_equal(i, 15);
    assert_int_equal(m, 16);
    static const char *bad[] = {"", "/", "2/2", "1/0", "0/17", "0/64", "a", "-1", "1/", "/2", "1/2x", "16", "1000", "01234"};
    for (size_t j = 0; j < sizeof bad / sizeof bad[0]; j++)
        if (ss_shard_parse(bad[j], &i, &m) == 0) fail_msg("'%s' was accepted", bad[j]);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pinned),      cmocka_unit_test(test_stable_per_key), cmocka_unit_test(test_spread),
        cmocka_unit_test(test_stream_keys), cmocka_unit_test(test_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
