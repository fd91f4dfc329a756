/* Unit tests of the dedup claim set (src/writer/claimset.c): millions of distinct keys with
 * no false "present", the right owner for every present key, pruning by event time to the
 * minute (also after the time base moved past its 68 h range), and memory per key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "writer/claimset.h"

#define T0 1750000020u /* a minute boundary (unix seconds) */

/* A random-looking 16-byte key per integer, as the ingester's hash keys look. */
static uint64_t splitmix(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t fp_of(uint64_t i) {
    uint64_t s = i * 2 + 0x1234, a = splitmix(&s), b = splitmix(&s);
    uint8_t key[16];
    memcpy(key, &a, 8);
    memcpy(key + 8, &b, 8);
    return ss_writer_claim_fp(key);
}

static uint32_t owner_of(uint64_t i) { return ss_writer_claim_owner((int)(i % 7), 1700000000000ULL + i, i & 3); }

static int put(ss_writer_claimset *cs, uint64_t i, uint32_t t, uint32_t *ex) {
    return ss_writer_claimset_put(cs, fp_of(i), owner_of(i), t, ex);
}

/* 4M keys (33 minutes at 2,000 events/s): every put of a new key inserts, every key is
 * found again with its owner, and memory stays within ~18 bytes per key (from 2M keys on;
 * below, whole pages per shard weigh more). */
static void test_millions(void **state) {
    (void)state;
    enum { N = 4000000 };
    ss_writer_claimset cs;
    ss_writer_claimset_init(&cs);
    uint32_t ex = 0;
    double sum_bpk = 0;
    int samples = 0;
    for (uint64_t i = 0; i < N; i++) {
        int r = put(&cs, i, T0 + (uint32_t)(i / 2000), &ex);
        if (r != 1) fail_msg("key %llu: put returned %d (a false 'present' or out of memory)", (unsigned long long)i, r);
        if ((i + 1) % 100000 == 0 && i + 1 >= 2000000) {
            sum_bpk += (double)ss_writer_claimset_bytes(&cs) / (double)cs.n;
            samples++;
        }
    }
    assert_int_equal(cs.n, N);
    double avg = sum_bpk / samples, now = (double)ss_writer_claimset_bytes(&cs) / N;
    printf("claimset: %.2f bytes/key at %d keys, %.2f on average from 2M up\n", now, N, avg);
    assert_true(avg <= 18.0);
    assert_true(now <= 20.0);
    /* no shard is more than a small fraction of the set: a resize copies one shard */
    size_t biggest = 0;
    for (unsigned s = 0; s < SS_CLAIMSET_SHARDS; s++)
        if (cs.sh[s].pages > biggest) biggest = cs.sh[s].pages;
    assert_true(biggest * 4096 * 1000 < ss_writer_claimset_bytes(&cs));

    for (uint64_t i = 0; i < N; i += 3) {
        ex = 0;
        /* a duplicate (another entry, another time) finds the first owner */
        assert_int_equal(ss_writer_claimset_put(&cs, fp_of(i), 12345, T0 + 7200, &ex), 0);
        if (ex != owner_of(i)) fail_msg("key %llu: owner %u, expected %u", (unsigned long long)i, ex, owner_of(i));
    }
    assert_int_equal(cs.n, N);
    ss_writer_claimset_free(&cs);
    assert_int_equal(ss_writer_claimset_bytes(&cs), 0);
}

/* The hash functions: never 0, distinct entries get distinct owners. */
static void test_hashes(void **state) {
    (void)state;
    uint8_t zero[16] = {0};
    assert_true(ss_writer_claim_fp(zero) != 0);
    assert_int_not_equal(ss_writer_claim_owner(1, 5, 0), ss_writer_claim_owner(1, 5, 1));
    assert_int_not_equal(ss_writer_claim_owner(1, 5, 0), ss_writer_claim_owner(2, 5, 0));
    assert_int_not_equal(ss_writer_claim_owner(1, 5, 0), ss_writer_claim_owner(1, 6, 0));
}

/* Pruning at `before` drops exactly the keys of the minutes before before's minute; keys
 * of that minute survive even when a little older than `before`. */
static void test_prune_minutes(void **state) {
    (void)state;
    ss_writer_claimset cs;
    ss_writer_claimset_init(&cs);
    uint32_t ex;
    enum { N = 200000 }; /* one key every 0.054 s over 3 hours */
    for (uint64_t i = 0; i < N; i++) assert_int_equal(put(&cs, i, T0 + (uint32_t)(i * 10800 / N), &ex), 1);
    /* before = T0 + 30 min + 20 s: drops the first 30 minutes */
    size_t dropped = ss_writer_claimset_prune(&cs, T0 + 1820);
    size_t expect = 0;
    for (uint64_t i = 0; i < N; i++)
        if (i * 10800 / N < 1800) expect++;
    assert_int_equal(dropped, expect);
    assert_int_equal(cs.n, N - expect);
    for (uint64_t i = 0; i < N; i += 11) {
        uint32_t t = (uint32_t)(i * 10800 / N);
        int r = put(&cs, i, T0 + t, &ex);
        /* dropped ones insert anew (and are dropped again below); kept ones are present */
        assert_int_equal(r, t < 1800 ? 1 : 0);
        if (r == 0) assert_int_equal(ex, owner_of(i));
    }
    /* the re-inserted keys are older than their shard's base (the minute pruned at), so they
     * count as of that minute: kept by a second prune at the same time, dropped by the next
     * minute's, with the keys of minute 30 */
    size_t reins = 0, min30 = 0;
    for (uint64_t i = 0; i < N; i++) {
        uint64_t t = i * 10800 / N;
        if (t < 1800 && i % 11 == 0) reins++;
        if (t >= 1800 && t < 1860) min30++;
    }
    assert_int_equal(ss_writer_claimset_prune(&cs, T0 + 1820), 0);
    assert_int_equal(ss_writer_claimset_prune(&cs, T0 + 1860), reins + min30);
    /* an earlier time drops nothing; a time past everything drops everything */
    size_t left = cs.n;
    assert_int_equal(left, N - expect - min30);
    assert_int_equal(ss_writer_claimset_prune(&cs, T0 + 600), 0);
    assert_int_equal(ss_writer_claimset_prune(&cs, T0 + 10800 + 60), left);
    assert_int_equal(cs.n, 0);
    /* the shards stay usable after being emptied */
    assert_int_equal(put(&cs, 1, T0, &ex), 1);
    assert_int_equal(put(&cs, 1, T0, &ex), 0);
    ss_writer_claimset_free(&cs);
}

/* A slot keeps 12 bits of minutes (68 h) after its shard's base. Keys up to ~34 h after the
 * first key fit as they are; a key beyond the range moves the shard's base forward, and
 * older keys round up to it (kept longer, never dropped early). */
static void test_time_wrap(void **state) {
    (void)state;
    ss_writer_claimset cs;
    ss_writer_claimset_init(&cs);
    uint32_t ex;
    enum { N = 100000 }; /* ~24 keys per shard: every shard gets keys of each batch */
    const uint32_t H = 3600;
    /* first key of every shard at T0: base = T0's minute - 2047; keys from T0 - 34 h to T0 + 34 h fit */
    for (uint64_t i = 0; i < N; i++) assert_int_equal(put(&cs, i, T0, &ex), 1);
    for (uint64_t i = N; i < 2 * N; i++) assert_int_equal(put(&cs, i, T0 + 34 * H, &ex), 1);
    for (uint64_t i = 2 * N; i < 3 * N; i++) assert_int_equal(put(&cs, i, T0 - 30 * H, &ex), 1);
    /* exact pruning within the range */
    assert_int_equal(ss_writer_claimset_prune(&cs, T0 - 30 * H), 0);
    assert_int_equal(ss_writer_claimset_prune(&cs, T0 - 30 * H + 60), N);
    assert_int_equal(ss_writer_claimset_prune(&cs, T0), 0);
    assert_int_equal(ss_writer_claimset_prune(&cs, T0 + 60), N);
    assert_int_equal(cs.n, N);
    /* after the prune the base is T0 + 1 min; a key 100 h later is out of range: the shards
     * it lands in move their base to (its minute - 2047), the T0 + 34 h keys there round up */
    for (uint64_t i = 3 * N; i < 4 * N; i++) assert_int_equal(put(&cs, i, T0 + 100 * H, &ex), 1);
    for (uint64_t i = N; i < 2 * N; i += 7) {
        assert_int_equal(put(&cs, i, T0, &ex), 0); /* still there */
        assert_int_equal(ex, owner_of(i));
    }
    /* never dropped early: pruning at their own time keeps them... */
    assert_int_equal(ss_writer_claimset_prune(&cs, T0 + 34 * H), 0);
    /* ...and once past the rebased minute (T0 + 100 h - 2047 min) they all go; the new ones stay */
    size_t d = ss_writer_claimset_prune(&cs, T0 + 100 * H - 2047 * 60 + 60);
    assert_int_equal(d, N);
    assert_int_equal(cs.n, N);
    for (uint64_t i = 3 * N; i < 4 * N; i += 5) assert_int_equal(put(&cs, i, T0, &ex), 0);
    /* a key older than its shard's base rounds up too: kept until the base minute is pruned */
    assert_int_equal(put(&cs, 9 * N, T0, &ex), 1);
    assert_int_equal(ss_writer_claimset_prune(&cs, T0 + 100 * H - 2047 * 60 + 60), 0);
    assert_int_equal(put(&cs, 9 * N, T0, &ex), 0);
    assert_int_equal(ss_writer_claimset_prune(&cs, T0 + 100 * H), 1);
    assert_int_equal(ss_writer_claimset_prune(&cs, T0 + 100 * H + 60), N);
    assert_int_equal(cs.n, 0);
    ss_writer_claimset_free(&cs);
}

/* Steady state of a 1 h horizon: prune a quarter hour, add a quarter hour; memory stays flat
 * (no shard grows again) and every live key is present. */
static void test_steady_state(void **state) {
    (void)state;
    ss_writer_claimset cs;
    ss_writer_claimset_init(&cs);
    uint32_t ex;
    const uint64_t per_q = 200000; /* keys per quarter hour */
    uint64_t next = 0;
    for (; next < 5 * per_q; next++) assert_int_equal(put(&cs, next, T0 + (uint32_t)(next * 900 / per_q), &ex), 1);
    size_t pages_full = cs.pages;
    for (int round = 0; round < 6; round++) {
        uint32_t q0 = (uint32_t)(next / per_q); /* quarter hour being added */
        assert_int_equal(ss_writer_claimset_prune(&cs, T0 + (q0 - 4) * 900), per_q);
        for (uint64_t k = 0; k < per_q; k++, next++)
            assert_int_equal(put(&cs, next, T0 + (uint32_t)(next * 900 / per_q), &ex), 1);
        assert_int_equal(cs.n, 5 * per_q);
        assert_true(cs.pages <= pages_full + pages_full / 20);
    }
    for (uint64_t i = next - 5 * per_q; i < next; i += 13) {
        assert_int_equal(put(&cs, i, T0, &ex), 0);
        assert_int_equal(ex, owner_of(i));
    }
    ss_writer_claimset_clear(&cs);
    assert_int_equal(cs.n, 0);
    assert_int_equal(put(&cs, 1, T0, &ex), 1);
    ss_writer_claimset_free(&cs);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hashes),
        cmocka_unit_test(test_millions),
        cmocka_unit_test(test_prune_minutes),
        cmocka_unit_test(test_time_wrap),
        cmocka_unit_test(test_steady_state),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
