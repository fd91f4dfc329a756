/* Unit tests of the dedup claim set (src/writer/claimset.c): millions of distinct keys with
 * no false "present" and no false negative, the right owner for every present key, near-twin
 * fingerprints (the bits a slot does not store) kept apart, pruning by event time to the
 * time unit (also after the time base moved past its 63-unit range), and memory per key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "writer/claimset.h"

#define T0 1749999900u /* a boundary of minutes and of 150 s units (unix seconds) */

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

/* A full horizon at the live peak, 7.2M keys (1 h at 2,000 events/s): every put of a new
 * key inserts (no false "present" through all the shards' growth and rebuilds), every key
 * is found again with its owner (no false negative), and memory stays within ~12.5 bytes
 * per key on average from 2M keys up (below, the 4 pages a shard starts with weigh more). */
static void test_millions(void **state) {
    (void)state;
    enum { N = 7200000 };
    ss_writer_claimset cs;
    ss_writer_claimset_init(&cs);
    uint32_t ex = 0;
    double sum_bpk = 0, worst = 0;
    int samples = 0;
    for (uint64_t i = 0; i < N; i++) {
        int r = put(&cs, i, T0 + (uint32_t)(i / 2000), &ex);
        if (r != 1) fail_msg("key %llu: put returned %d (a false 'present' or out of memory)", (unsigned long long)i, r);
        if ((i + 1) % 100000 == 0 && i + 1 >= 2000000) {
            double bpk = (double)ss_writer_claimset_bytes(&cs) / (double)cs.n;
            sum_bpk += bpk;
            if (bpk > worst) worst = bpk;
            samples++;
        }
    }
    assert_int_equal(cs.n, N);
    double avg = sum_bpk / samples, now = (double)ss_writer_claimset_bytes(&cs) / N;
    printf("claimset: %.2f bytes/key at %d keys (%.1f MB), %.2f on average from 2M up, %.2f at worst\n", now, N,
           (double)ss_writer_claimset_bytes(&cs) / 1e6, avg, worst);
    assert_true(avg <= 12.5);
    assert_true(worst <= 13.5);
    /* no shard is more than a small fraction of the set: a resize copies one shard */
    size_t biggest = 0;
    for (unsigned s = 0; s < SS_CLAIMSET_SHARDS; s++)
        if (cs.sh[s].pages > biggest) biggest = cs.sh[s].pages;
    assert_true(biggest * 4096 * 500 < ss_writer_claimset_bytes(&cs));

    for (uint64_t i = 0; i < N; i++) {
        ex = 0;
        /* a duplicate (another entry, another time) finds the first owner */
        if (ss_writer_claimset_put(&cs, fp_of(i), 12345, T0 + 3000, &ex) != 0)
            fail_msg("key %llu: not found (a false negative)", (unsigned long long)i);
        if (ex != owner_of(i)) fail_msg("key %llu: owner %u, expected %u", (unsigned long long)i, ex, owner_of(i));
    }
    assert_int_equal(cs.n, N);
    ss_writer_claimset_free(&cs);
    assert_int_equal(ss_writer_claimset_bytes(&cs), 0);
}

/* A slot stores 47 of the fingerprint's 54 bits after the shard; the rest come from its
 * bucket. Near twins -- fingerprints equal but for one bit, in each of the 64 positions,
 * stored bits and implied ones alike (shard, h's high bits) -- are distinct keys, before
 * and after the shards resize, and keep their own owners. (One twin per key: many keys
 * sharing both buckets cannot all be placed; random fingerprints never do that.) */
static void test_near_twins(void **state) {
    (void)state;
    enum { PAIRS = 640000 };
    ss_writer_claimset cs;
    ss_writer_claimset_init(&cs);
    uint32_t ex;
    for (int round = 0; round < 2; round++) /* round 1: the shards have grown since */
        for (uint64_t i = 0; i < PAIRS; i++) {
            uint64_t fp = fp_of(i), twin = fp ^ (UINT64_C(1) << (i % 64));
            uint32_t o1 = owner_of(2 * i), o2 = owner_of(2 * i + 1);
            int r1 = ss_writer_claimset_put(&cs, fp, o1, T0, &ex);
            uint32_t ex1 = ex;
            int r2 = ss_writer_claimset_put(&cs, twin, o2, T0, &ex);
            if (round == 0 && (r1 != 1 || r2 != 1))
                fail_msg("key %llu bit %d: puts returned %d %d (confused with a near twin)", (unsigned long long)i,
                         (int)(i % 64), r1, r2);
            if (round == 1 && (r1 != 0 || r2 != 0 || ex1 != o1 || ex != o2))
                fail_msg("key %llu bit %d: owners %u %u, expected %u %u", (unsigned long long)i, (int)(i % 64), ex1, ex,
                         o1, o2);
        }
    assert_int_equal(cs.n, (size_t)PAIRS * 2);
    ss_writer_claimset_free(&cs);
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

/* Pruning at `before` drops exactly the keys of the time units (150 s at the default 1 h
 * horizon) before before's unit; keys of that unit survive even when older than `before`. */
static void test_prune_units(void **state) {
    (void)state;
    ss_writer_claimset cs;
    ss_writer_claimset_init(&cs);
    assert_int_equal(cs.unit, 150);
    uint32_t ex;
    enum { N = 200000 }; /* one key every 0.0225 s over 75 minutes (30 units) */
    const uint32_t B = T0;
    for (uint64_t i = 0; i < N; i++) assert_int_equal(put(&cs, i, B + (uint32_t)(i * 4500 / N), &ex), 1);
    /* before = B + 30 min + 20 s: drops the first 30 minutes (12 units) */
    size_t dropped = ss_writer_claimset_prune(&cs, B + 1820);
    size_t expect = 0;
    for (uint64_t i = 0; i < N; i++)
        if (i * 4500 / N < 1800) expect++;
    assert_int_equal(dropped, expect);
    assert_int_equal(cs.n, N - expect);
    for (uint64_t i = 0; i < N; i += 11) {
        uint32_t t = (uint32_t)(i * 4500 / N);
        int r = put(&cs, i, B + t, &ex);
        /* dropped ones insert anew (and are dropped again below); kept ones are present */
        assert_int_equal(r, t < 1800 ? 1 : 0);
        if (r == 0) assert_int_equal(ex, owner_of(i));
    }
    /* the re-inserted keys are older than their shard's base (the unit pruned at), so they
     * count as of that unit: kept by a second prune within it, dropped by the next unit's,
     * with the keys of unit 12 (1800..1949 s) */
    size_t reins = 0, u12 = 0;
    for (uint64_t i = 0; i < N; i++) {
        uint64_t t = i * 4500 / N;
        if (t < 1800 && i % 11 == 0) reins++;
        if (t >= 1800 && t < 1950) u12++;
    }
    assert_int_equal(ss_writer_claimset_prune(&cs, B + 1949), 0);
    assert_int_equal(ss_writer_claimset_prune(&cs, B + 1950), reins + u12);
    /* an earlier time drops nothing; a time past everything drops everything */
    size_t left = cs.n;
    assert_int_equal(left, N - expect - u12);
    assert_int_equal(ss_writer_claimset_prune(&cs, B + 600), 0);
    assert_int_equal(ss_writer_claimset_prune(&cs, B + 4500 + 150), left);
    assert_int_equal(cs.n, 0);
    /* the shards stay usable after being emptied */
    assert_int_equal(put(&cs, 1, B, &ex), 1);
    assert_int_equal(put(&cs, 1, B, &ex), 0);
    ss_writer_claimset_free(&cs);
}

/* The unit follows the horizon: a 24th of it, at least a minute, at most an hour; changing
 * it empties the set. */
static void test_units(void **state) {
    (void)state;
    ss_writer_claimset cs;
    ss_writer_claimset_init(&cs);
    uint32_t ex;
    assert_int_equal(put(&cs, 1, T0, &ex), 1);
    ss_writer_claimset_set_horizon(&cs, 3600);
    assert_int_equal(cs.n, 1); /* same unit: kept */
    ss_writer_claimset_set_horizon(&cs, 600);
    assert_int_equal(cs.unit, 60);
    assert_int_equal(cs.n, 0);
    ss_writer_claimset_set_horizon(&cs, 6 * 3600);
    assert_int_equal(cs.unit, 900);
    ss_writer_claimset_set_horizon(&cs, 48 * 3600);
    assert_int_equal(cs.unit, 3600);
    /* minute units: pruning to the minute */
    ss_writer_claimset_set_horizon(&cs, 0);
    assert_int_equal(cs.unit, 60);
    assert_int_equal(put(&cs, 1, T0 + 59, &ex), 1);
    assert_int_equal(put(&cs, 2, T0 + 60, &ex), 1);
    assert_int_equal(ss_writer_claimset_prune(&cs, T0 + 59), 0);
    assert_int_equal(ss_writer_claimset_prune(&cs, T0 + 60), 1);
    assert_int_equal(ss_writer_claimset_prune(&cs, T0 + 119), 0);
    assert_int_equal(ss_writer_claimset_prune(&cs, T0 + 120), 1);
    ss_writer_claimset_free(&cs);
}

/* A slot keeps 6 bits of units (63) after its shard's base. Keys up to 31 units after the
 * first key fit as they are; a key beyond the range moves the shard's base forward, and
 * older keys round up to it (kept longer, never dropped early). Minute units here. */
static void test_time_wrap(void **state) {
    (void)state;
    ss_writer_claimset cs;
    ss_writer_claimset_init(&cs);
    ss_writer_claimset_set_horizon(&cs, 600);
    uint32_t ex;
    enum { N = 100000 }; /* ~100 keys per shard: every shard gets keys of each batch */
    const uint32_t M = 60;
    /* first key of every shard at T0: base = T0's minute - 31; keys from T0 - 31 min to T0 + 31 min fit */
    for (uint64_t i = 0; i < N; i++) assert_int_equal(put(&cs, i, T0, &ex), 1);
    for (uint64_t i = N; i < 2 * N; i++) assert_int_equal(put(&cs, i, T0 + 31 * M, &ex), 1);
    for (uint64_t i = 2 * N; i < 3 * N; i++) assert_int_equal(put(&cs, i, T0 - 30 * M, &ex), 1);
    /* exact pruning within the range */
    assert_int_equal(ss_writer_claimset_prune(&cs, T0 - 30 * M), 0);
    assert_int_equal(ss_writer_claimset_prune(&cs, T0 - 30 * M + 60), N);
    assert_int_equal(ss_writer_claimset_prune(&cs, T0), 0);
    assert_int_equal(ss_writer_claimset_prune(&cs, T0 + 60), N);
    assert_int_equal(cs.n, N);
    /* after the prune the base is T0 + 1 min; a key 100 min later is out of range (> base +
     * 62): the shards move their base to (its minute - 31), the T0 + 31 min keys round up */
    for (uint64_t i = 3 * N; i < 4 * N; i++) assert_int_equal(put(&cs, i, T0 + 100 * M, &ex), 1);
    for (uint64_t i = N; i < 2 * N; i += 7) {
        assert_int_equal(put(&cs, i, T0, &ex), 0); /* still there */
        assert_int_equal(ex, owner_of(i));
    }
    /* never dropped early: pruning at their own time keeps them... */
    assert_int_equal(ss_writer_claimset_prune(&cs, T0 + 31 * M), 0);
    /* ...and once past the rebased minute (T0 + 69 min) they all go; the new ones stay */
    size_t d = ss_writer_claimset_prune(&cs, T0 + 69 * M + 60);
    assert_int_equal(d, N);
    assert_int_equal(cs.n, N);
    for (uint64_t i = 3 * N; i < 4 * N; i += 5) assert_int_equal(put(&cs, i, T0, &ex), 0);
    /* a key older than its shard's base rounds up too: kept until the base minute is pruned */
    assert_int_equal(put(&cs, 9 * N, T0, &ex), 1);
    assert_int_equal(ss_writer_claimset_prune(&cs, T0 + 69 * M + 60), 0);
    assert_int_equal(put(&cs, 9 * N, T0, &ex), 0);
    assert_int_equal(ss_writer_claimset_prune(&cs, T0 + 100 * M), 1);
    assert_int_equal(ss_writer_claimset_prune(&cs, T0 + 100 * M + 60), N);
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
        cmocka_unit_test(test_near_twins),
        cmocka_unit_test(test_prune_units),
        cmocka_unit_test(test_units),
        cmocka_unit_test(test_time_wrap),
        cmocka_unit_test(test_steady_state),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
