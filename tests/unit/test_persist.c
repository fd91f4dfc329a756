/* Unit tests for the persistence verdict (src/buffer/persist.h) read from INFO text, and for
 * the per-stream record of confirmed XADD ids that counts what a restarted Redis lost
 * (src/buffer/confirmed.h): exact to the second, an upper bound within it, never zero when
 * something newer than the stream's last-generated-id was confirmed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "buffer/confirmed.h"
#include "buffer/persist.h"

static void test_verdict(void **state) {
    (void)state;
    ss_persist p;
    memset(&p, 0, sizeof p);
    ss_persist_parse("# Persistence\r\naof_enabled:1\r\naof_last_write_status:ok\r\n", &p);
    ss_persist_parse("# Memory\r\nused_memory:1\r\nmaxmemory_policy:noeviction\r\n", &p);
    assert_int_equal(p.problems, 0);
    assert_true(p.aof_known && p.policy_known);
    ss_persist_parse("# Persistence\r\naof_enabled:0\r\naof_last_write_status:err\r\n", &p);
    assert_int_equal(p.problems, SS_PERSIST_NO_AOF | SS_PERSIST_AOF_WRITE_ERR);
    ss_persist_parse("maxmemory_policy:allkeys-lru\r\n", &p);
    assert_true(p.problems & SS_PERSIST_EVICTING);
    char why[900];
    ss_persist_describe(&p, SS_PERSIST_EVICTING, why, sizeof why);
    assert_non_null(strstr(why, "allkeys-lru"));
    assert_non_null(strstr(why, "CONFIG SET maxmemory-policy noeviction"));
    ss_persist_describe(&p, SS_PERSIST_NO_AOF, why, sizeof why);
    assert_non_null(strstr(why, "CONFIG SET appendonly yes"));
    /* a field that is not reported is unknown, never a finding */
    memset(&p, 0, sizeof p);
    ss_persist_parse("# Server\r\nredis_version:7.0.0\r\n", &p);
    assert_int_equal(p.problems, 0);
    assert_false(p.aof_known);
}

static void test_ids(void **state) {
    (void)state;
    uint64_t ms, seq;
    assert_int_equal(ss_confirmed_parse_id("1700000000123-7", 15, &ms, &seq), 0);
    assert_true(ms == 1700000000123ULL && seq == 7);
    assert_int_equal(ss_confirmed_parse_id("0-0", 3, &ms, &seq), 0);
    assert_int_equal(ss_confirmed_parse_id("12", 2, &ms, &seq), -1);
    assert_int_equal(ss_confirmed_parse_id("12-", 3, &ms, &seq), -1);
    assert_int_equal(ss_confirmed_parse_id("-1", 2, &ms, &seq), -1);
    assert_int_equal(ss_confirmed_parse_id("1-2x", 4, &ms, &seq), -1);
}

static void test_counting(void **state) {
    (void)state;
    ss_confirmed c;
    ss_confirmed_reset(&c);
    assert_int_equal(ss_confirmed_after(&c, 0, 0), 0);
    /* 10 ids per second for 100 seconds, from second 1000 */
    for (uint64_t s = 0; s < 100; s++)
        for (uint64_t i = 0; i < 10; i++) ss_confirmed_note(&c, (1000 + s) * 1000 + i * 50, 0);
    assert_int_equal(c.total, 1000);
    assert_int_equal(ss_confirmed_after(&c, 1099 * 1000 + 450, 0), 0);       /* has the last one */
    assert_int_equal(ss_confirmed_after(&c, 1099 * 1000 + 450, 1), 0);       /* and more */
    assert_int_equal(ss_confirmed_after(&c, 1099 * 1000 + 400, 0), 10);      /* within its second: bound */
    assert_int_equal(ss_confirmed_after(&c, 1098 * 1000 + 999, 0), 20);      /* its second counts whole */
    assert_int_equal(ss_confirmed_after(&c, 1090 * 1000 + 999, 0), 100);
    assert_int_equal(ss_confirmed_after(&c, 0, 0), 1000);                    /* empty dataset: all */
    assert_int_equal(ss_confirmed_after(&c, 1010 * 1000, 0), 1000);          /* older than the ring */
    assert_int_equal(ss_confirmed_after(&c, 1036 * 1000, 0), 640);           /* the ring's oldest second */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_verdict),
        cmocka_unit_test(test_ids),
        cmocka_unit_test(test_counting),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
