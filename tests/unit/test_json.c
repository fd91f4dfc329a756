/* Unit tests for the strict JSON scanner (src/util/json.h): grammar edge cases, exact
 * error codes and offsets, limits, and the navigation/value API the archive uses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/buf.h"
#include "util/json.h"
#include "util/utf8.h"

static ss_json_doc D;

static int setup(void **state) {
    (void)state;
    return ss_json_doc_init(&D, NULL);
}
static int teardown(void **state) {
    (void)state;
    ss_json_doc_free(&D);
    return 0;
}

static ss_json_err parse(const char *s) { return ss_json_parse(&D, s, strlen(s)); }

/* Parse and validate must agree on every input. */
static ss_json_err parse_both(const char *s, size_t n) {
    ss_json_err v = ss_json_validate(&D, s, n);
    size_t voff = D.err_off;
    ss_json_err p = ss_json_parse(&D, s, n);
    assert_int_equal(v, p);
    if (p != SS_JSON_OK) assert_int_equal(voff, D.err_off);
    return p;
}

static void test_valid_documents(void **state) {
    (void)state;
    static const char *ok[] = {
        "0", "-0", "1", "-1", "123456789", "1e10", "1E+2", "1e-2", "-1.5e-3", "0.0", "10.25",
        "true", "false", "null", "\"\"", "\"a\"", "[]", "{}", "[[[]]]", "[{},{}]",
        " {\"a\" : [ 1 , 2 ] } \n", "\t\r\n[1]\r\n", "\"\\u0000\"", "\"\\/\\\\\\\"\\b\\f\\n\\r\\t\"",
        "\"\\ud83e\\udd8b\"", "\"\\uD83E\\uDD8B\"", "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\xa6\x8b\"",
        "\"\xef\xbf\xbf\"", "\"\xf4\x8f\xbf\xbf\"", "{\"a\":{\"b\":{\"c\":[1,{\"d\":null}]}}}",
        "\"\x7f\"",
    };
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        ss_json_err e = parse_both(ok[i], strlen(ok[i]));
        if (e != SS_JSON_OK) fail_msg("%s: %s", ok[i], D.errstr);
    }
}

static void test_invalid_documents(void **state) {
    (void)state;
    static const struct {
        const char *s;
        ss_json_err err;
        size_t off;
    } bad[] = {
        {"", SS_JSON_ERR_SYNTAX, 0},
        {"   ", SS_JSON_ERR_SYNTAX, 3},
        {"[1,]", SS_JSON_ERR_SYNTAX, 3},
        {"{\"a\":1,}", SS_JSON_ERR_SYNTAX, 7},
        {"[,1]", SS_JSON_ERR_SYNTAX, 1},
        {"01", SS_JSON_ERR_SYNTAX, 1},
        {"-01", SS_JSON_ERR_SYNTAX, 2},
        {"+1", SS_JSON_ERR_SYNTAX, 0},
        {".5", SS_JSON_ERR_SYNTAX, 0},
        {"1.e5", SS_JSON_ERR_SYNTAX, 2},
        {"1e", SS_JSON_ERR_TRUNCATED, 2},
        {"1ex", SS_JSON_ERR_SYNTAX, 2},
        {"-", SS_JSON_ERR_TRUNCATED, 1},
        {"-a", SS_JSON_ERR_SYNTAX, 1},
        {"1.", SS_JSON_ERR_TRUNCATED, 2},
        {"NaN", SS_JSON_ERR_SYNTAX, 0},
        {"Infinity", SS_JSON_ERR_SYNTAX, 0},
        {"'a'", SS_JSON_ERR_SYNTAX, 0},
        {"\"\\x\"", SS_JSON_ERR_SYNTAX, 1},
        {"\"\\u12g4\"", SS_JSON_ERR_SYNTAX, 1},
        {"\"a\tb\"", SS_JSON_ERR_SYNTAX, 2},
        {"\"a\nb\"", SS_JSON_ERR_SYNTAX, 2},
        {"[1 2]", SS_JSON_ERR_SYNTAX, 3},
        {"{1:2}", SS_JSON_ERR_SYNTAX, 1},
        {"{\"a\" 1}", SS_JSON_ERR_SYNTAX, 5},
        {"{\"a\":}", SS_JSON_ERR_SYNTAX, 5},
        {"[1}", SS_JSON_ERR_SYNTAX, 2},
        {"{\"a\":1]", SS_JSON_ERR_SYNTAX, 6},
        {"nul", SS_JSON_ERR_TRUNCATED, 3},
        {"nulx", SS_JSON_ERR_SYNTAX, 0},
        {"tru", SS_JSON_ERR_TRUNCATED, 3},
        {"trux", SS_JSON_ERR_SYNTAX, 0},
        {"True", SS_JSON_ERR_SYNTAX, 0},
        {"[", SS_JSON_ERR_TRUNCATED, 1},
        {"[1", SS_JSON_ERR_TRUNCATED, 2},
        {"[1,", SS_JSON_ERR_TRUNCATED, 3},
        {"{", SS_JSON_ERR_TRUNCATED, 1},
        {"{\"a\"", SS_JSON_ERR_TRUNCATED, 4},
        {"{\"a\":", SS_JSON_ERR_TRUNCATED, 5},
        {"\"abc", SS_JSON_ERR_TRUNCATED, 4},
        {"\"abc\\", SS_JSON_ERR_TRUNCATED, 5},
        {"\"\\u12", SS_JSON_ERR_TRUNCATED, 5},
        {"1 2", SS_JSON_ERR_SYNTAX, 2},
        {"{}{}", SS_JSON_ERR_SYNTAX, 2},
        {"{} x", SS_JSON_ERR_SYNTAX, 3},
        {"\xef\xbb\xbf{}", SS_JSON_ERR_SYNTAX, 0},
        {"[\"\\ud800\"]", SS_JSON_ERR_SURROGATE, 2},
        {"[\"\\udc00\"]", SS_JSON_ERR_SURROGATE, 2},
        {"\"\\ud83e\"", SS_JSON_ERR_SURROGATE, 1},
        {"\"\\ud83e\\u0041\"", SS_JSON_ERR_SURROGATE, 1},
        {"\"\\ud83e\\ud83e\"", SS_JSON_ERR_SURROGATE, 1},
        {"\"\\udc00\\ud83e\"", SS_JSON_ERR_SURROGATE, 1},
        {"\"\\ud83ex\"", SS_JSON_ERR_SURROGATE, 1},
        {"\"\\ud83e\\u00zz\"", SS_JSON_ERR_SYNTAX, 7},
        {"\"\\ud83e\\", SS_JSON_ERR_TRUNCATED, 8},
        {"\"\xff\"", SS_JSON_ERR_UTF8, 1},
        {"\"\x80\"", SS_JSON_ERR_UTF8, 1},
        {"\"\xc0\xaf\"", SS_JSON_ERR_UTF8, 1},         /* overlong '/' */
        {"\"\xc1\xbf\"", SS_JSON_ERR_UTF8, 1},         /* overlong */
        {"\"\xe0\x80\xaf\"", SS_JSON_ERR_UTF8, 1},     /* overlong 3-byte */
        {"\"\xf0\x80\x80\xaf\"", SS_JSON_ERR_UTF8, 1}, /* overlong 4-byte */
        {"\"\xed\xa0\x80\"", SS_JSON_ERR_UTF8, 1},     /* U+D800 as UTF-8 */
        {"\"\xed\xbf\xbf\"", SS_JSON_ERR_UTF8, 1},     /* U+DFFF as UTF-8 */
        {"\"\xf4\x90\x80\x80\"", SS_JSON_ERR_UTF8, 1}, /* U+110000 */
        {"\"\xf5\x80\x80\x80\"", SS_JSON_ERR_UTF8, 1},
        {"\"ab\xe2\x82\"", SS_JSON_ERR_UTF8, 3},       /* cut by the quote */
        {"\"\xe2\x82", SS_JSON_ERR_TRUNCATED, 3},      /* cut by the end */
        {"\"12345678\xff\"", SS_JSON_ERR_UTF8, 9},     /* after a full word */
        {"\xff", SS_JSON_ERR_SYNTAX, 0},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        ss_json_err e = parse_both(bad[i].s, strlen(bad[i].s));
        if (e != bad[i].err || D.err_off != bad[i].off)
            fail_msg("case %zu: want %s@%zu, got %s@%zu (%s)", i, ss_json_err_name(bad[i].err), bad[i].off,
                     ss_json_err_name(e), D.err_off, D.errstr);
        assert_int_equal(D.ntoks, 0);
        assert_non_null(strstr(D.errstr, "offset "));
    }
    /* Embedded NUL bytes are control characters inside strings and syntax errors outside. */
    assert_int_equal(parse_both("\"a\0b\"", 5), SS_JSON_ERR_SYNTAX);
    assert_int_equal(parse_both("[1]\0", 4), SS_JSON_ERR_SYNTAX);
}

static void test_tokens_and_navigation(void **state) {
    (void)state;
    const char *s = "{\"a\":1,\"b\":[true,false,null,{\"c\":\"x\"}],\"d\":{\"e\":{\"f\":-2}},\"a\":9}";
    assert_int_equal(parse(s), SS_JSON_OK);
    const ss_json_tok *root = ss_json_root(&D);
    assert_int_equal(root->type, SS_JSON_OBJECT);
    assert_int_equal(root->start, 0);
    assert_int_equal(root->len, strlen(s));
    assert_int_equal(root->end, D.ntoks);
    assert_int_equal(D.ntoks, 19);
    assert_int_equal(ss_json_count(&D, root), 4);

    const ss_json_tok *b = ss_json_obj_get(&D, root, "b");
    assert_non_null(b);
    assert_int_equal(b->type, SS_JSON_ARRAY);
    assert_int_equal(ss_json_count(&D, b), 4);
    assert_int_equal(ss_json_arr_at(&D, b, 0)->type, SS_JSON_TRUE);
    assert_int_equal(ss_json_arr_at(&D, b, 1)->type, SS_JSON_FALSE);
    assert_int_equal(ss_json_arr_at(&D, b, 2)->type, SS_JSON_NULL);
    assert_null(ss_json_arr_at(&D, b, 4));
    /* skip jumps over the whole array to the next key */
    const ss_json_tok *after = ss_json_skip(&D, b);
    assert_true(ss_json_str_eq(&D, after, "d", 1));

    int64_t v;
    assert_int_equal(ss_json_int64(&D, ss_json_obj_get(&D, root, "a"), &v), 0);
    assert_int_equal(v, 1); /* the first of duplicate keys */
    assert_int_equal(ss_json_int64(&D, ss_json_path(&D, root, "d.e.f"), &v), 0);
    assert_int_equal(v, -2);
    assert_true(ss_json_str_eq(&D, ss_json_path(&D, root, "b.3.c"), "x", 1));
    assert_null(ss_json_path(&D, root, "b.4.c"));
    assert_null(ss_json_path(&D, root, "d.x"));
    assert_null(ss_json_path(&D, root, "a.b"));
    ss_str sv;
    assert_int_equal(ss_json_path_str(&D, root, "b.3.c", &sv), 0);
    assert_int_equal(sv.n, 1);
    assert_int_equal(sv.p[0], 'x');
    assert_int_equal(ss_json_path_str(&D, root, "d.e.f", &sv), -1); /* a number */
    assert_int_equal(ss_json_path_str(&D, root, "nope", &sv), -1);
    assert_int_equal(ss_json_path_int64(&D, root, "d.e.f", &v), 0);
    assert_int_equal(v, -2);
    assert_int_equal(ss_json_path_int64(&D, root, "b.3.c", &v), -1);
    assert_null(ss_json_obj_get(&D, b, "a"));
    assert_null(ss_json_obj_get(&D, NULL, "a"));

    ss_str raw = ss_json_raw(&D, ss_json_obj_get(&D, root, "d"));
    assert_int_equal(raw.n, strlen("{\"e\":{\"f\":-2}}"));
    assert_memory_equal(raw.p, "{\"e\":{\"f\":-2}}", raw.n);

    /* member iteration in order */
    const char *keys[] = {"a", "b", "d", "a"};
    ss_json_iter it = ss_json_iter_of(&D, root);
    const ss_json_tok *k, *val;
    size_t n = 0;
    while (ss_json_iter_member(&it, &k, &val)) {
        assert_true(n < 4);
        assert_true(ss_json_key_eq(&D, k, keys[n], 1));
        n++;
    }
    assert_int_equal(n, 4);
    /* element iteration */
    it = ss_json_iter_of(&D, b);
    n = 0;
    while (ss_json_iter_next(&it)) n++;
    assert_int_equal(n, 4);
    /* iterating a scalar yields nothing */
    it = ss_json_iter_of(&D, ss_json_obj_get(&D, root, "a"));
    assert_null(ss_json_iter_next(&it));
}

static void test_strings(void **state) {
    (void)state;
    const char *s = "[\"plain\",\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\te\",\"\\u00e9\\u20ac\\ud83e\\udd8b\\u0000z\","
                    "{\"k\\u0065y\":7}]";
    assert_int_equal(parse(s), SS_JSON_OK);
    const ss_json_tok *root = ss_json_root(&D);
    ss_str v;
    assert_int_equal(ss_json_str(&D, ss_json_arr_at(&D, root, 0), &v), 0);
    assert_int_equal(v.n, 5);
    assert_ptr_equal(v.p, s + 2); /* zero-copy */
    assert_int_equal(ss_json_str(&D, ss_json_arr_at(&D, root, 1), &v), 0);
    assert_int_equal(v.n, 13);
    assert_memory_equal(v.p, "a\"b\\c/d\b\f\n\r\te", 13);
    const ss_json_tok *t2 = ss_json_arr_at(&D, root, 2);
    assert_int_equal(ss_json_str(&D, t2, &v), 0);
    assert_int_equal(v.n, 2 + 3 + 4 + 1 + 1);
    assert_memory_equal(v.p, "\xc3\xa9\xe2\x82\xac\xf0\x9f\xa6\x8b\0z", 11);
    /* asking again gives the same bytes at the same place */
    ss_str v2;
    ss_json_str(&D, t2, &v2);
    assert_ptr_equal(v.p, v2.p);
    assert_true(ss_json_str_eq(&D, t2, "\xc3\xa9\xe2\x82\xac\xf0\x9f\xa6\x8b\0z", 11));
    ss_str raw = ss_json_str_raw(&D, t2);
    assert_int_equal(raw.n, strlen("\\u00e9\\u20ac\\ud83e\\udd8b\\u0000z"));
    /* an escaped key matches its unescaped form */
    const ss_json_tok *obj = ss_json_arr_at(&D, root, 3);
    int64_t i;
    assert_int_equal(ss_json_int64(&D, ss_json_obj_get(&D, obj, "key"), &i), 0);
    assert_int_equal(i, 7);
    assert_null(ss_json_obj_get(&D, obj, "k\\u0065y"));
    /* wrong type */
    assert_int_equal(ss_json_str(&D, obj, &v), -1);
    assert_int_equal(ss_json_str(&D, NULL, &v), -1);
    /* standalone unescape */
    char out[32];
    size_t n = ss_json_unescape("x\\u0041\\n", 9, out);
    assert_int_equal(n, 3);
    assert_memory_equal(out, "xA\n", 3);
}

static void test_numbers(void **state) {
    (void)state;
    const char *s = "[9223372036854775807,-9223372036854775808,9223372036854775808,-9223372036854775809,"
                    "-0,1.0,1e2,2.5e-1,-1.25E+3,"
                    "1234567890123456789012345678901234567890123456789012345678901234567890.5,\"1\",true]";
    assert_int_equal(parse(s), SS_JSON_OK);
    const ss_json_tok *r = ss_json_root(&D);
    int64_t v;
    double d;
    assert_int_equal(ss_json_int64(&D, ss_json_arr_at(&D, r, 0), &v), 0);
    assert_true(v == INT64_MAX);
    assert_int_equal(ss_json_int64(&D, ss_json_arr_at(&D, r, 1), &v), 0);
    assert_true(v == INT64_MIN);
    assert_int_equal(ss_json_int64(&D, ss_json_arr_at(&D, r, 2), &v), -1);
    assert_int_equal(ss_json_int64(&D, ss_json_arr_at(&D, r, 3), &v), -1);
    assert_int_equal(ss_json_int64(&D, ss_json_arr_at(&D, r, 4), &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(ss_json_int64(&D, ss_json_arr_at(&D, r, 5), &v), -1); /* 1.0 is not an integer */
    assert_int_equal(ss_json_int64(&D, ss_json_arr_at(&D, r, 6), &v), -1);
    assert_int_equal(ss_json_double(&D, ss_json_arr_at(&D, r, 6), &d), 0);
    assert_true(d == 100.0);
    assert_int_equal(ss_json_double(&D, ss_json_arr_at(&D, r, 7), &d), 0);
    assert_true(d == 0.25);
    assert_int_equal(ss_json_double(&D, ss_json_arr_at(&D, r, 8), &d), 0);
    assert_true(d == -1250.0);
    assert_int_equal(ss_json_double(&D, ss_json_arr_at(&D, r, 9), &d), 0);
    assert_true(d > 1.23456789e69 && d < 1.23456790e69);
    assert_int_equal(ss_json_double(&D, ss_json_arr_at(&D, r, 2), &d), 0);
    assert_true(d == 9223372036854775808.0);
    assert_int_equal(ss_json_int64(&D, ss_json_arr_at(&D, r, 10), &v), -1);
    assert_int_equal(ss_json_double(&D, ss_json_arr_at(&D, r, 10), &d), -1);
    int b;
    assert_int_equal(ss_json_bool(ss_json_arr_at(&D, r, 11), &b), 0);
    assert_int_equal(b, 1);
    assert_int_equal(ss_json_bool(ss_json_arr_at(&D, r, 10), &b), -1);
    /* the array's raw text is still intact after the long-number conversion */
    ss_str raw = ss_json_raw(&D, r);
    assert_memory_equal(raw.p, s, strlen(s));
}

/* Lenient text: invalid UTF-8 kept, lone surrogates become U+FFFD, pairs still pair, and
 * everything that is not about text stays an error. Off by default. */
static void test_lenient_text(void **state) {
    (void)state;
    ss_json_doc d;
    assert_int_equal(ss_json_doc_init(&d, NULL), 0);
    static const char bad[] = "[\"a\xff\xfe\", \"x\\ud83dy\\udc00z\\ud83d\\ude00\"]";
    assert_int_equal(ss_json_parse(&d, bad, sizeof bad - 1), SS_JSON_ERR_UTF8);
    ss_json_doc_lenient_text(&d, 1);
    assert_int_equal(ss_json_parse(&d, bad, sizeof bad - 1), SS_JSON_OK);
    ss_str s = {0};
    assert_int_equal(ss_json_str(&d, ss_json_arr_at(&d, ss_json_root(&d), 0), &s), 0);
    assert_int_equal(s.n, 3);
    assert_memory_equal(s.p, "a\xff\xfe", 3);
    assert_int_equal(ss_json_str(&d, ss_json_arr_at(&d, ss_json_root(&d), 1), &s), 0);
    static const char want[] = "x\xef\xbf\xbdy\xef\xbf\xbdz\xf0\x9f\x98\x80";
    assert_int_equal(s.n, sizeof want - 1);
    assert_memory_equal(s.p, want, sizeof want - 1);
    static const char *const still_bad[] = {"[\"\\ud83d\\uZZZZ\"]", "[\"a\nb\"]", "{\"a\":1,}", "[\"\\q\"]"};
    for (size_t i = 0; i < sizeof still_bad / sizeof *still_bad; i++)
        assert_int_equal(ss_json_parse(&d, still_bad[i], strlen(still_bad[i])), SS_JSON_ERR_SYNTAX);
    ss_json_doc_free(&d);
}

static void test_limits(void **state) {
    (void)state;
    ss_json_doc d;
    ss_json_limits lim = {16, 3, 4};
    assert_int_equal(ss_json_doc_init(&d, &lim), 0);
    assert_int_equal(ss_json_parse(&d, "[[[1]]]", 7), SS_JSON_OK);
    assert_int_equal(ss_json_parse(&d, "[[[[1]]]]", 9), SS_JSON_ERR_TOO_DEEP);
    assert_int_equal(d.err_off, 3);
    assert_int_equal(ss_json_parse(&d, "[1,2,3]", 7), SS_JSON_OK);
    assert_int_equal(d.ntoks, 4);
    assert_int_equal(ss_json_parse(&d, "[1,2,3,4]", 9), SS_JSON_ERR_TOO_MANY);
    assert_int_equal(ss_json_validate(&d, "[1,2,3,4]", 9), SS_JSON_ERR_TOO_MANY);
    assert_int_equal(ss_json_parse(&d, "\"0123456789abcd\"", 16), SS_JSON_OK);
    assert_int_equal(ss_json_parse(&d, "\"0123456789abcde\"", 17), SS_JSON_ERR_TOO_LARGE);
    ss_json_doc_free(&d);

    /* 10,000 nested arrays against the default depth of 64 */
    size_t n = 10000;
    char *deep = malloc(2 * n);
    memset(deep, '[', n);
    memset(deep + n, ']', n);
    assert_int_equal(parse_both(deep, 2 * n), SS_JSON_ERR_TOO_DEEP);
    assert_int_equal(D.err_off, 64);
    assert_int_equal(parse_both(deep + n - 64, 128), SS_JSON_OK);
    assert_int_equal(parse_both(deep + n - 65, 130), SS_JSON_ERR_TOO_DEEP);
    free(deep);
}

static void test_many_tokens(void **state) {
    (void)state;
    size_t n = 100000;
    char *s = malloc(2 * n + 2);
    size_t o = 0;
    s[o++] = '[';
    for (size_t i = 0; i < n; i++) {
        s[o++] = (char)('0' + i % 10);
        s[o++] = ',';
    }
    s[o - 1] = ']';
    assert_int_equal(ss_json_parse(&D, s, o), SS_JSON_OK);
    assert_int_equal(D.ntoks, n + 1);
    assert_int_equal(ss_json_count(&D, ss_json_root(&D)), n);
    int64_t v;
    assert_int_equal(ss_json_int64(&D, ss_json_arr_at(&D, ss_json_root(&D), 12345), &v), 0);
    assert_int_equal(v, 5);
    free(s);
}


/* The archive's use: pull post fields out of a record. */
static void test_post_record_fields(void **state) {
    (void)state;
    const char *rec =
        "{\"$type\":\"app.bsky.feed.post\",\"createdAt\":\"2025-08-07T00:00:01.000Z\",\"langs\":[\"en\",\"pt\"],"
        "\"text\":\"caf\\u00e9 \xf0\x9f\xa6\x8b #tag @x.bsky.social https://e.com\","
        "\"reply\":{\"parent\":{\"cid\":\"bafyP\",\"uri\":\"at://p\"},\"root\":{\"cid\":\"bafyR\",\"uri\":\"at://r\"}},"
        "\"embed\":{\"$type\":\"app.bsky.embed.external\",\"external\":{\"uri\":\"https://e.com\"}},"
        "\"facets\":[{\"index\":{\"byteStart\":8,\"byteEnd\":12},\"features\":[{\"$type\":\"app.bsky.richtext.facet#tag\",\"tag\":\"tag\"}]},"
        "{\"index\":{\"byteStart\":13,\"byteEnd\":28},\"features\":[{\"$type\":\"app.bsky.richtext.facet#mention\",\"did\":\"did:plc:x\"},"
        "{\"$type\":\"app.bsky.richtext.facet#link\",\"uri\":\"https://e.com\"}]}],"
        "\"labels\":{\"$type\":\"com.atproto.label.defs#selfLabels\",\"values\":[{\"val\":\"nudity\"},{\"val\":\"porn\"}]}}";
    assert_int_equal(parse(rec), SS_JSON_OK);
    const ss_json_tok *r = ss_json_root(&D);
    ss_str v;
    assert_int_equal(ss_json_path_str(&D, r, "text", &v), 0);
    assert_int_equal(v.n, strlen("caf\xc3\xa9 \xf0\x9f\xa6\x8b #tag @x.bsky.social https://e.com"));
    assert_memory_equal(v.p, "caf\xc3\xa9 \xf0\x9f\xa6\x8b #tag", 14);
    assert_int_equal(ss_json_path_str(&D, r, "reply.root.uri", &v), 0);
    assert_true(ss_str_eq(v, "at://r"));
    assert_int_equal(ss_json_path_str(&D, r, "embed.$type", &v), 0);
    assert_true(ss_str_eq(v, "app.bsky.embed.external"));
    assert_int_equal(ss_json_path_str(&D, r, "createdAt", &v), 0);
    assert_true(ss_str_eq(v, "2025-08-07T00:00:01.000Z"));
    const ss_json_tok *langs = ss_json_obj_get(&D, r, "langs");
    assert_int_equal(ss_json_count(&D, langs), 2);
    assert_true(ss_json_str_eq(&D, ss_json_arr_at(&D, langs, 1), "pt", 2));
    /* facets[].features[] */
    char got[256] = "";
    ss_json_iter fi = ss_json_iter_of(&D, ss_json_obj_get(&D, r, "facets"));
    const ss_json_tok *facet;
    while ((facet = ss_json_iter_next(&fi))) {
        ss_json_iter gi = ss_json_iter_of(&D, ss_json_obj_get(&D, facet, "features"));
        const ss_json_tok *feat;
        while ((feat = ss_json_iter_next(&gi))) {
            static const char *keys[] = {"uri", "did", "tag"};
            for (int k = 0; k < 3; k++)
                if (ss_json_str(&D, ss_json_obj_get(&D, feat, keys[k]), &v) == 0) {
                    strncat(got, keys[k], sizeof got - strlen(got) - 1);
                    strncat(got, "=", sizeof got - strlen(got) - 1);
                    strncat(got, v.p, v.n < sizeof got - strlen(got) - 1 ? v.n : sizeof got - strlen(got) - 1);
                    strncat(got, ";", sizeof got - strlen(got) - 1);
                }
        }
    }
    assert_string_equal(got, "tag=tag;did=did:plc:x;uri=https://e.com;");
    /* labels.values[].val */
    ss_json_iter li = ss_json_iter_of(&D, ss_json_path(&D, r, "labels.values"));
    const ss_json_tok *lab;
    int nl = 0;
    while ((lab = ss_json_iter_next(&li))) {
        assert_int_equal(ss_json_path_str(&D, lab, "val", &v), 0);
        assert_true(ss_str_eq(v, nl ? "porn" : "nudity"));
        nl++;
    }
    assert_int_equal(nl, 2);
}

/* ---- differential test against a naive reference ---------------------------------- */

/* A deliberately simple recursive-descent validator written straight from RFC 8259 and
 * RFC 3629, used as the oracle for random documents. It counts values (keys included)
 * so that token counts can be compared too. */
typedef struct {
    const unsigned char *p, *e;
    int depth, maxdepth;
    size_t values;
} ref_t;

static void ref_ws(ref_t *r) {
    while (r->p < r->e && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r')) r->p++;
}

static int ref_hex4(ref_t *r, unsigned *u) {
    if (r->e - r->p < 4) return 0;
    *u = 0;
    for (int i = 0; i < 4; i++) {
        unsigned c = r->p[i], v;
        if (c >= '0' && c <= '9') v = c - '0';
        else if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') v = c - 'A' + 10;
        else return 0;
        *u = *u * 16 + v;
    }
    r->p += 4;
    return 1;
}

static int ref_utf8(ref_t *r) {
    const unsigned char *p = r->p;
    unsigned c = p[0], k, cp;
    if ((c & 0xE0) == 0xC0) k = 2, cp = c & 0x1F;
    else if ((c & 0xF0) == 0xE0) k = 3, cp = c & 0x0F;
    else if ((c & 0xF8) == 0xF0) k = 4, cp = c & 0x07;
    else return 0;
    if ((size_t)(r->e - p) < k) return 0;
    for (unsigned i = 1; i < k; i++) {
        if ((p[i] & 0xC0) != 0x80) return 0;
        cp = cp << 6 | (p[i] & 0x3F);
    }
    static const unsigned min[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min[k] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    r->p += k;
    return 1;
}

static int ref_string(ref_t *r) {
    r->p++; /* opening quote */
    for (;;) {
        if (r->p >= r->e) return 0;
        unsigned c = *r->p;
        if (c == '"') {
            r->p++;
            return 1;
        }
        if (c < 0x20) return 0;
        if (c >= 0x80) {
            if (!ref_utf8(r)) return 0;
            continue;
        }
        r->p++;
        if (c != '\\') continue;
        if (r->p >= r->e) return 0;
        c = *r->p++;
        if (c == '"' || c == '\\' || c == '/' || c == 'b' || c == 'f' || c == 'n' || c == 'r' || c == 't') continue;
        if (c != 'u') return 0;
        unsigned u, lo;
        if (!ref_hex4(r, &u)) return 0;
        if (u >= 0xDC00 && u <= 0xDFFF) return 0;
        if (u >= 0xD800 && u <= 0xDBFF) {
            if (r->e - r->p < 2 || r->p[0] != '\\' || r->p[1] != 'u') return 0;
            r->p += 2;
            if (!ref_hex4(r, &lo) || lo < 0xDC00 || lo > 0xDFFF) return 0;
        }
    }
}

static int ref_digits(ref_t *r) {
    const unsigned char *s = r->p;
    while (r->p < r->e && *r->p >= '0' && *r->p <= '9') r->p++;
    return r->p > s;
}

static int ref_number(ref_t *r) {
    if (*r->p == '-') r->p++;
    if (r->p >= r->e) return 0;
    if (*r->p == '0') r->p++;
    else if (!ref_digits(r)) return 0;
    if (r->p < r->e && *r->p == '.') {
        r->p++;
        if (!ref_digits(r)) return 0;
    }
    if (r->p < r->e && (*r->p == 'e' || *r->p == 'E')) {
        r->p++;
        if (r->p < r->e && (*r->p == '+' || *r->p == '-')) r->p++;
        if (!ref_digits(r)) return 0;
    }
    /* "01": the grammar stops after "0" and the caller sees a stray digit */
    return 1;
}

static int ref_value(ref_t *r);

static int ref_container(ref_t *r, int obj) {
    if (++r->depth > r->maxdepth) return 0;
    r->p++;
    ref_ws(r);
    if (r->p < r->e && *r->p == (obj ? '}' : ']')) {
        r->p++;
        r->depth--;
        return 1;
    }
    for (;;) {
        if (obj) {
            ref_ws(r);
            if (r->p >= r->e || *r->p != '"' || !ref_string(r)) return 0;
            r->values++;
            ref_ws(r);
            if (r->p >= r->e || *r->p != ':') return 0;
            r->p++;
        }
        if (!ref_value(r)) return 0;
        ref_ws(r);
        if (r->p >= r->e) return 0;
        if (*r->p == ',') {
            r->p++;
            continue;
        }
        if (*r->p == (obj ? '}' : ']')) {
            r->p++;
            r->depth--;
            return 1;
        }
        return 0;
    }
}

static int ref_value(ref_t *r) {
    ref_ws(r);
    if (r->p >= r->e) return 0;
    r->values++;
    unsigned c = *r->p;
    size_t left = (size_t)(r->e - r->p);
    switch (c) {
    case '{': return ref_container(r, 1);
    case '[': return ref_container(r, 0);
    case '"': return ref_string(r);
    case 't': return left >= 4 && memcmp(r->p, "true", 4) == 0 ? (r->p += 4, 1) : 0;
    case 'f': return left >= 5 && memcmp(r->p, "false", 5) == 0 ? (r->p += 5, 1) : 0;
    case 'n': return left >= 4 && memcmp(r->p, "null", 4) == 0 ? (r->p += 4, 1) : 0;
    default:
        if (c == '-' || (c >= '0' && c <= '9')) return ref_number(r);
        return 0;
    }
}

static int ref_accepts(const char *s, size_t n, size_t *values) {
    ref_t r = {(const unsigned char *)s, (const unsigned char *)s + n, 0, SS_JSON_DEFAULT_MAX_DEPTH, 0};
    if (!ref_value(&r)) return 0;
    ref_ws(&r);
    *values = r.values;
    return r.p == r.e;
}

static uint64_t rs = 0x1234567887654321ULL;
static uint64_t rnd(void) {
    rs ^= rs >> 12, rs ^= rs << 25, rs ^= rs >> 27;
    return rs * 0x2545F4914F6CDD1DULL;
}

static void gen_string(ss_buf *b) {
    static const char *pieces[] = {"a", "Z", " ", "\\n", "\\\"", "\\\\", "\\/", "\\u0041", "\\u00e9", "\\ud83e\\udd8b",
                                   "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\xa6\x8b", "\\t", "0123456789abcdef"};
    ss_buf_putc(b, '"');
    int n = (int)(rnd() % 6);
    for (int i = 0; i < n; i++) ss_buf_puts(b, pieces[rnd() % (sizeof pieces / sizeof *pieces)]);
    ss_buf_putc(b, '"');
}

static void gen_value(ss_buf *b, int depth) {
    static const char *scalars[] = {"0", "-1", "12.5", "1e3", "-0.0E-2", "true", "false", "null",
                                    "9223372036854775807", "123456789012345678901234567890"};
    int k = (int)(rnd() % 10);
    if (depth > 70) k = 9;
    if (k < 2) {
        int n = (int)(rnd() % 4);
        ss_buf_putc(b, '[');
        for (int i = 0; i < n; i++) {
            if (i) ss_buf_puts(b, rnd() % 4 ? "," : " , ");
            gen_value(b, depth + 1);
        }
        ss_buf_putc(b, ']');
    } else if (k < 4) {
        int n = (int)(rnd() % 4);
        ss_buf_putc(b, '{');
        for (int i = 0; i < n; i++) {
            if (i) ss_buf_putc(b, ',');
            gen_string(b);
            ss_buf_puts(b, rnd() % 4 ? ":" : "\t:\n");
            gen_value(b, depth + 1);
        }
        ss_buf_putc(b, '}');
    } else if (k < 7) {
        gen_string(b);
    } else {
        ss_buf_puts(b, scalars[rnd() % (sizeof scalars / sizeof *scalars)]);
    }
}

static void test_differential_random(void **state) {
    (void)state;
    static const char alphabet[] = "{}[]\",:\\u0123456789abcdefABCDEF-+.eEtrufalsn \t\n\r\x01\x7f\x80\xbf\xc0\xc3"
                                   "\xe2\xed\xf0\xf4\xf5\xff";
    size_t agree_ok = 0, agree_bad = 0;
    for (int it = 0; it < 100000; it++) {
        ss_buf b;
        ss_buf_init(&b);
        /* bias toward deep nesting now and then, to cross the depth limit */
        if (rnd() % 50 == 0) {
            int d = 60 + (int)(rnd() % 10);
            for (int i = 0; i < d; i++) ss_buf_putc(&b, '[');
            gen_value(&b, 0);
            for (int i = 0; i < d; i++) ss_buf_putc(&b, ']');
        } else {
            gen_value(&b, 0);
        }
        int muts = (int)(rnd() % 3);
        for (int m = 0; m < muts && b.len; m++) {
            size_t pos = rnd() % b.len;
            switch (rnd() % 3) {
            case 0: b.data[pos] = alphabet[rnd() % (sizeof alphabet - 1)]; break;
            case 1: memmove(b.data + pos, b.data + pos + 1, b.len - pos - 1), b.len--; break;
            default: b.len = pos; break;
            }
        }
        /* exact-size copy for ASan */
        char *doc = malloc(b.len ? b.len : 1);
        memcpy(doc, b.data, b.len);
        size_t values = 0;
        int want = ref_accepts(doc, b.len, &values);
        ss_json_err got = parse_both(doc, b.len);
        if (want != (got == SS_JSON_OK))
            fail_msg("disagree on %.*s: reference %s, scanner %s (%s)", (int)b.len, doc, want ? "accepts" : "rejects",
                     ss_json_err_name(got), D.errstr);
        if (want) {
            assert_int_equal(D.ntoks, values);
            assert_int_equal(ss_json_root(&D)->end, D.ntoks);
            agree_ok++;
        } else {
            agree_bad++;
        }
        free(doc);
        ss_buf_free(&b);
    }
    print_message("differential: %zu accepted, %zu rejected, all agreeing\n", agree_ok, agree_bad);
    assert_true(agree_ok > 20000 && agree_bad > 20000);
}

/* Reference unescape for accepted strings (independent of ss_json_unescape). */
static size_t ref_unescape(const char *s, size_t n, char *out) {
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        if (s[i] != '\\') {
            out[o++] = s[i++];
            continue;
        }
        char c = s[i + 1];
        i += 2;
        const char *simple = "\"\"\\\\//b\bf\fn\nr\rt\t";
        const char *m = c == 'u' ? NULL : strchr(simple, c);
        if (m) {
            out[o++] = m[1];
            continue;
        }
        unsigned cp = (unsigned)strtoul((char[5]){s[i], s[i + 1], s[i + 2], s[i + 3], 0}, NULL, 16);
        i += 4;
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            unsigned lo = (unsigned)strtoul((char[5]){s[i + 2], s[i + 3], s[i + 4], s[i + 5], 0}, NULL, 16);
            i += 6;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        }
        if (cp < 0x80) out[o++] = (char)cp;
        else if (cp < 0x800) out[o++] = (char)(0xC0 | cp >> 6), out[o++] = (char)(0x80 | (cp & 63));
        else if (cp < 0x10000)
            out[o++] = (char)(0xE0 | cp >> 12), out[o++] = (char)(0x80 | ((cp >> 6) & 63)), out[o++] = (char)(0x80 | (cp & 63));
        else
            out[o++] = (char)(0xF0 | cp >> 18), out[o++] = (char)(0x80 | ((cp >> 12) & 63)),
            out[o++] = (char)(0x80 | ((cp >> 6) & 63)), out[o++] = (char)(0x80 | (cp & 63));
    }
    return o;
}

/* Long strings with everything a string can hold, at every alignment, so the 16-byte and
 * 8-byte scanning paths and their tails all meet quotes, escapes and bad bytes. */
static void test_differential_strings(void **state) {
    (void)state;
    static const char *pieces[] = {"\\n", "\\\"", "\\\\", "\\u00e9", "\\ud83e\\udd8b", "\\ud83e", "\\udc00", "\\x",
                                   "\\u12", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\xa6\x8b", "\xed\xa0\x80", "\xc0\xaf",
                                   "\xf4\x90\x80\x80", "\xe2\x82"};
    size_t agree_ok = 0, agree_bad = 0;
    for (int it = 0; it < 60000; it++) {
        ss_buf b;
        ss_buf_init(&b);
        int pad = (int)(rnd() % 17);
        ss_buf_putc(&b, '[');
        for (int i = 0; i < pad; i++) ss_buf_putc(&b, ' ');
        ss_buf_putc(&b, '"');
        int n = (int)(rnd() % 80);
        for (int i = 0; i < n; i++) {
            unsigned r = (unsigned)(rnd() % 1000);
            if (r < 960) ss_buf_putc(&b, (char)('a' + rnd() % 26));
            else if (r < 992) ss_buf_puts(&b, pieces[rnd() % (sizeof pieces / sizeof *pieces)]);
            else ss_buf_putc(&b, (char)(rnd() & 0xFF));
        }
        ss_buf_puts(&b, rnd() % 2 ? "\",1]" : "\"]");
        char *doc = malloc(b.len);
        memcpy(doc, b.data, b.len);
        size_t values = 0;
        int want = ref_accepts(doc, b.len, &values);
        ss_json_err got = parse_both(doc, b.len);
        if (want != (got == SS_JSON_OK))
            fail_msg("disagree on %.*s: reference %s, scanner %s (%s)", (int)b.len, doc, want ? "accepts" : "rejects",
                     ss_json_err_name(got), D.errstr);
        if (want) {
            ss_str v = {NULL, 0};
            assert_int_equal(ss_json_str(&D, ss_json_arr_at(&D, ss_json_root(&D), 0), &v), 0);
            assert_true(ss_utf8_valid(v.p, v.n, NULL));
            ss_str raw = ss_json_str_raw(&D, ss_json_arr_at(&D, ss_json_root(&D), 0));
            char want_s[1024];
            size_t wn = ref_unescape(raw.p, raw.n, want_s);
            assert_int_equal(v.n, wn);
            assert_memory_equal(v.p, want_s, wn);
            agree_ok++;
        } else {
            agree_bad++;
        }
        free(doc);
        ss_buf_free(&b);
    }
    print_message("differential strings: %zu accepted, %zu rejected, all agreeing\n", agree_ok, agree_bad);
    assert_true(agree_ok > 10000 && agree_bad > 10000);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_documents),
        cmocka_unit_test(test_invalid_documents),
        cmocka_unit_test(test_tokens_and_navigation),
        cmocka_unit_test(test_strings),
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_many_tokens),
        cmocka_unit_test(test_post_record_fields),
        cmocka_unit_test(test_differential_random),
        cmocka_unit_test(test_differential_strings),
        cmocka_unit_test(test_lenient_text),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
