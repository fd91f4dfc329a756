/* The ACL table (buffer/acl.h): rules per role, prefix escaping, the additive form that adds
 * a second prefix, refused prefixes, password hashing. The rules' effect on a real Redis is
 * tested by tests/integration/redis_acl.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "buffer/acl.h"

/* 1 when tok is one of the n '\0'-separated tokens in b. */
static int has_tok(const ss_buf *b, int n, const char *tok) {
    const char *t = b->data;
    for (int i = 0; i < n; i++, t += strlen(t) + 1)
        if (!strcmp(t, tok)) return 1;
    return 0;
}

static int rules(ss_acl_role r, const char *prefix, const char *hash, int additive, ss_buf *b) {
    char err[256];
    ss_buf_reset(b);
    return ss_acl_rules(r, prefix, hash, additive, b, err, sizeof err);
}

static void test_roles(void **st) {
    (void)st;
    ss_buf b;
    ss_buf_init(&b);
    const char *h = "ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12";
    int n = rules(SS_ACL_INGEST, "skyspool:", h, 0, &b);
    assert_true(n > 10);
    assert_string_equal(b.data, "reset"); /* idempotent: every apply starts from nothing */
    assert_true(has_tok(&b, n, "on"));
    assert_true(has_tok(&b, n, "-@all"));
    assert_true(has_tok(&b, n, "#ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12"));
    assert_true(has_tok(&b, n, "+xadd"));
    assert_false(has_tok(&b, n, "+xreadgroup"));
    assert_false(has_tok(&b, n, "+flushall"));
    assert_true(has_tok(&b, n, "~skyspool:post"));
    assert_true(has_tok(&b, n, "~skyspool:post:*")); /* shards */
    assert_true(has_tok(&b, n, "~skyspool:cursor:*"));
    assert_false(has_tok(&b, n, "~*"));

    n = rules(SS_ACL_WRITE, "skyspool:", NULL, 0, &b);
    assert_false(has_tok(&b, n, "+xadd")); /* only inside the selector */
    assert_true(has_tok(&b, n, "(+xadd ~skyspool:dlq)"));
    assert_true(has_tok(&b, n, "+xreadgroup"));
    assert_true(has_tok(&b, n, "+xtrim")); /* the ack script's redis.call runs under this ACL */
    assert_true(has_tok(&b, n, "%R~skyspool:ingest"));
    assert_false(has_tok(&b, n, "~skyspool:dlq"));
    for (const char *t = b.data; t < b.data + b.len; t += strlen(t) + 1) assert_int_not_equal(t[0], '#');

    n = rules(SS_ACL_MONITOR, "skyspool:", NULL, 0, &b);
    assert_true(has_tok(&b, n, "%R~skyspool:*"));
    assert_false(has_tok(&b, n, "+xrange"));
    assert_false(has_tok(&b, n, "+hgetall"));
    assert_false(has_tok(&b, n, "+get"));

    n = rules(SS_ACL_CHECK, "anything:", NULL, 0, &b);
    assert_true(has_tok(&b, n, "~skyspool-check:*"));
    assert_false(has_tok(&b, n, "~anything:*"));
    assert_int_equal(rules(SS_ACL_CHECK, "anything:", NULL, 1, &b), 0); /* prefix-free: nothing to add */

    n = rules(SS_ACL_ADMIN, "x", NULL, 0, &b);
    assert_true(has_tok(&b, n, "+@all"));
    assert_true(has_tok(&b, n, "~*"));
    ss_buf_free(&b);
}

static void test_prefix(void **st) {
    (void)st;
    ss_buf b;
    ss_buf_init(&b);
    /* glob characters in the prefix are literal */
    int n = rules(SS_ACL_INGEST, "a*b?[c]:", NULL, 0, &b);
    assert_true(has_tok(&b, n, "~a\\*b\\?\\[c\\]:dlq"));
    /* additive: only the prefix's keys and selector, no reset, no commands */
    n = rules(SS_ACL_WRITE, "other:", NULL, 1, &b);
    assert_true(n > 0);
    assert_false(has_tok(&b, n, "reset"));
    assert_false(has_tok(&b, n, "+xreadgroup"));
    assert_true(has_tok(&b, n, "~other:like"));
    assert_true(has_tok(&b, n, "(+xadd ~other:dlq)"));
    /* refused prefixes */
    assert_int_equal(rules(SS_ACL_INGEST, "", NULL, 0, &b), -1);
    assert_int_equal(rules(SS_ACL_INGEST, "a b:", NULL, 0, &b), -1);
    assert_int_equal(rules(SS_ACL_WRITE, "a)b:", NULL, 0, &b), -1);
    char longp[SS_ACL_PREFIX_MAX + 2];
    memset(longp, 'p', sizeof longp - 1);
    longp[sizeof longp - 1] = '\0';
    assert_int_equal(rules(SS_ACL_INGEST, longp, NULL, 0, &b), -1);
    ss_buf_free(&b);
}

static void test_names_and_hash(void **st) {
    (void)st;
    assert_int_equal(ss_acl_role_parse("write"), SS_ACL_WRITE);
    assert_int_equal(ss_acl_role_parse("skyspool-monitor"), SS_ACL_MONITOR);
    assert_int_equal(ss_acl_role_parse("root"), -1);
    assert_string_equal(ss_acl_user(SS_ACL_CHECK), "skyspool-check");
    char h[65];
    ss_acl_hash_password("abc", h); /* SHA-256("abc"), FIPS 180-2 */
    assert_string_equal(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roles),
        cmocka_unit_test(test_prefix),
        cmocka_unit_test(test_names_and_hash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
