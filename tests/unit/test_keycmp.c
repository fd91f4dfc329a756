/* Unit tests for the row-by-row exactly-once comparison (src/check/keycmp.h) on crafted key
 * lists: a perfect archive, one lost, one duplicated, one unexpected, a lost row and a
 * duplicated one that a count comparison would see as equal, input repeats counted once, and
 * a shuffled list of 100,000 keys; the streaming variant (ss_keycmp_stream) must agree with the
 * batch one on every case. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "check/keycmp.h"

static void key(uint32_t i, uint8_t *out) {
    memset(out, 0, 16);
    uint32_t h = i * 2654435761u; /* spread, so sorting matters */
    memcpy(out, &h, 4);
    memcpy(out + 4, &i, 4);
}

static uint8_t *keys(const uint32_t *ids, size_t n) {
    uint8_t *a = malloc(n * 16 + 16);
    for (size_t i = 0; i < n; i++) key(ids[i], a + 16 * i);
    return a;
}

static ss_keycmp_result run(const uint32_t *in, size_t nin, const uint32_t *out, size_t nout) {
    uint8_t *a = keys(in, nin), *b = keys(out, nout);
    ss_keycmp_result r, q;
    /* the streaming comparison must agree with the batch one on every figure */
    uint8_t *a2 = keys(in, nin), *b2 = keys(out, nout);
    ss_keycmp_stream s;
    assert_int_equal(ss_keycmp_stream_init(&s, a2, nin), 0);
    for (size_t i = 0; i < nout; i++) ss_keycmp_stream_add(&s, b2 + 16 * i);
    ss_keycmp_stream_finish(&s, &q);
    ss_keycmp_stream_free(&s);
    ss_keycmp(a, nin, b, nout, &r);
    assert_int_equal(q.expected, r.expected);
    assert_int_equal(q.rows, r.rows);
    assert_int_equal(q.matched, r.matched);
    assert_int_equal(q.lost, r.lost);
    assert_int_equal(q.duplicated, r.duplicated);
    assert_int_equal(q.unexpected, r.unexpected);
    assert_int_equal(q.n_lost_ex, r.n_lost_ex);
    assert_int_equal(q.n_dup_ex, r.n_dup_ex);
    assert_int_equal(q.n_unexp_ex, r.n_unexp_ex);
    if (q.n_lost_ex) assert_memory_equal(q.lost_ex, r.lost_ex, 16 * (size_t)q.n_lost_ex);
    if (q.n_dup_ex) assert_memory_equal(q.dup_ex, r.dup_ex, 16 * (size_t)q.n_dup_ex);
    free(a2);
    free(b2);
    free(a);
    free(b);
    return r;
}

static void test_exact(void **st) {
    (void)st;
    uint32_t in[] = {1, 2, 3, 4, 5}, out[] = {5, 3, 1, 2, 4};
    ss_keycmp_result r = run(in, 5, out, 5);
    assert_int_equal(r.expected, 5);
    assert_int_equal(r.rows, 5);
    assert_int_equal(r.matched, 5);
    assert_int_equal(r.lost + r.duplicated + r.unexpected, 0);
}

static void test_cancelling(void **st) { /* counts equal (5 in, 5 rows), keys not */
    (void)st;
    uint32_t in[] = {1, 2, 3, 4, 5}, out[] = {1, 2, 3, 3, 5};
    ss_keycmp_result r = run(in, 5, out, 5);
    assert_int_equal(r.rows, r.expected);
    assert_int_equal(r.lost, 1);
    assert_int_equal(r.duplicated, 1);
    assert_int_equal(r.unexpected, 0);
    assert_int_equal(r.matched, 3);
    assert_int_equal(r.n_lost_ex, 1);
    assert_int_equal(r.n_dup_ex, 1);
    uint8_t k4[16], k3[16];
    key(4, k4);
    key(3, k3);
    assert_memory_equal(r.lost_ex[0], k4, 16);
    assert_memory_equal(r.dup_ex[0], k3, 16);
}

static void test_unexpected_and_repeats(void **st) {
    (void)st;
    uint32_t in[] = {7, 7, 8, 9, 9, 9}, out[] = {9, 8, 7, 42, 7, 7};
    ss_keycmp_result r = run(in, 6, out, 6);
    assert_int_equal(r.expected, 3); /* input repeats count once */
    assert_int_equal(r.matched, 2);
    assert_int_equal(r.duplicated, 2); /* key 7 three times */
    assert_int_equal(r.unexpected, 1);
    assert_int_equal(r.lost, 0);
    uint8_t k42[16];
    key(42, k42);
    assert_memory_equal(r.unexp_ex[0], k42, 16);
}

static void test_empty(void **st) {
    (void)st;
    uint32_t in[] = {1, 2};
    ss_keycmp_result r = run(in, 2, NULL, 0);
    assert_int_equal(r.lost, 2);
    r = run(NULL, 0, in, 2);
    assert_int_equal(r.unexpected, 2);
    assert_int_equal(r.expected, 0);
}

static void test_large(void **st) {
    (void)st;
    enum { N = 100000 };
    uint32_t *in = malloc(N * sizeof *in), *out = malloc(N * sizeof *out);
    for (uint32_t i = 0; i < N; i++) in[i] = out[i] = i;
    for (uint32_t i = N - 1; i > 0; i--) { /* shuffle the archive side */
        uint32_t j = (i * 40503u + 17u) % (i + 1), t = out[i];
        out[i] = out[j];
        out[j] = t;
    }
    out[N / 2] = N + 1;             /* one unexpected replaces one row: one lost */
    ss_keycmp_result r = run(in, N, out, N);
    assert_int_equal(r.matched, N - 1);
    assert_int_equal(r.lost, 1);
    assert_int_equal(r.unexpected, 1);
    assert_int_equal(r.duplicated, 0);
    char hex[33];
    ss_keycmp_hex(r.unexp_ex[0], hex);
    assert_int_equal(strlen(hex), 32);
    free(in);
    free(out);
}

static void test_stream_many_repeats(void **st) { /* one key 300 times: past the byte counter */
    (void)st;
    uint32_t in[] = {1, 2}, out[302];
    for (int i = 0; i < 300; i++) out[i] = 1;
    out[300] = 2;
    out[301] = 3;
    ss_keycmp_result r = run(in, 2, out, 302);
    assert_int_equal(r.duplicated, 299);
    assert_int_equal(r.matched, 1);
    assert_int_equal(r.unexpected, 1);
}

int main(void) {
    const struct CMUnitTest t[] = {
        cmocka_unit_test(test_exact),      cmocka_unit_test(test_cancelling), cmocka_unit_test(test_unexpected_and_repeats),
        cmocka_unit_test(test_empty),      cmocka_unit_test(test_large),
        cmocka_unit_test(test_stream_many_repeats),
    };
    return cmocka_run_group_tests(t, NULL, NULL);
}
