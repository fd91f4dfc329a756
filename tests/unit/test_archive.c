/* Unit tests for the archive's pure parts: RFC 3339 parsing, UTC partition paths, part
 * file names, the schema table, and the record -> row mapping for every type (deletes,
 * missing and wrongly typed fields, malformed createdAt, every facet kind, embeds
 * including recordWithMedia, self-labels, escapes, huge text, list limits). Events are
 * built by hand around literal record JSON so each case states exactly what it maps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "archive/archive.h"

/* ---- RFC 3339 ---------------------------------------------------------------------------- */

static int64_t parse_ok(const char *s) {
    int64_t v = 0;
    assert_int_equal(ss_ar_parse_rfc3339(s, strlen(s), &v), 0);
    return v;
}

static void parse_bad(const char *s) {
    int64_t v = 12345;
    if (ss_ar_parse_rfc3339(s, strlen(s), &v) == 0) fail_msg("accepted '%s' as %lld", s, (long long)v);
    assert_int_equal(v, 12345);
}

static void test_rfc3339_valid(void **state) {
    (void)state;
    assert_int_equal(parse_ok("1970-01-01T00:00:00Z"), 0);
    assert_int_equal(parse_ok("2024-09-05T06:11:04.870Z"), 1725516664870000LL);
    assert_int_equal(parse_ok("2024-09-05T06:11:04.870123Z"), 1725516664870123LL);
    /* fraction beyond microseconds is truncated, any length */
    assert_int_equal(parse_ok("2024-09-05T06:11:04.8701239999Z"), 1725516664870123LL);
    assert_int_equal(parse_ok("2024-09-05T06:11:04.8Z"), 1725516664800000LL);
    /* offsets */
    assert_int_equal(parse_ok("2024-09-05T08:11:04.870+02:00"), 1725516664870000LL);
    assert_int_equal(parse_ok("2024-09-04T23:41:04.870-06:30"), 1725516664870000LL);
    assert_int_equal(parse_ok("2024-09-05T06:11:04.870-00:00"), 1725516664870000LL);
    /* lower-case t and z are RFC 3339 */
    assert_int_equal(parse_ok("2024-09-05t06:11:04.870z"), 1725516664870000LL);
    /* leap day, leap second, year boundaries */
    assert_int_equal(parse_ok("2024-02-29T00:00:00Z"), 1709164800000000LL);
    assert_int_equal(parse_ok("2016-12-31T23:59:60Z"), 1483228800000000LL);
    assert_int_equal(parse_ok("2000-02-29T12:00:00Z"), 951825600000000LL);
    assert_int_equal(parse_ok("2038-01-19T03:14:08Z"), 2147483648000000LL);
    assert_int_equal(parse_ok("9999-12-31T23:59:59.999999Z"), SS_AR_TIME_MAX_US);
    assert_int_equal(parse_ok("1969-12-31T23:59:59Z"), -1000000LL);
    assert_int_equal(parse_ok("0000-01-01T00:00:00Z"), -62167219200000000LL);
    assert_int_equal(parse_ok("1600-03-01T00:00:00Z"), -11670912000000000LL);
}

static void test_rfc3339_invalid(void **state) {
    (void)state;
    const char *bad[] = {
        "",
        "2024-09-05",
        "2024-09-05T06:11:04",        /* no offset */
        "2024-09-05 06:11:04Z",       /* space separator */
        "2024-09-05T06:11:04.Z",      /* empty fraction */
        "2024-9-05T06:11:04Z",        /* one-digit month */
        "24-09-05T06:11:04Z",
        "2024-13-05T06:11:04Z",
        "2024-00-05T06:11:04Z",
        "2024-09-31T06:11:04Z",       /* September has 30 days */
        "2023-02-29T06:11:04Z",       /* not a leap year */
        "1900-02-29T06:11:04Z",
        "2024-09-00T06:11:04Z",
        "2024-09-05T24:00:00Z",
        "2024-09-05T06:60:04Z",
        "2024-09-05T06:11:61Z",
        "2024-09-05T06:11:04+24:00",
        "2024-09-05T06:11:04+02:60",
        "2024-09-05T06:11:04+0200",
        "2024-09-05T06:11:04+02",
        "2024-09-05T06:11:04ZZ",
        "2024-09-05T06:11:04Z ",
        " 2024-09-05T06:11:04Z",
        "2024-09-05T06:11:04.123+",
        "+2024-09-05T06:11:04Z",
        "-002024-09-05T06:11:04Z",
        "2024-09-05T06:11:04UTC",
        "2024-09-05T06:11:04.12a4Z",
        "yesterday",
        "2024-09-05T06:11:04.000000000000000000000000000000000000000000000000000000000000Z", /* over the limit */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) parse_bad(bad[i]);
    /* embedded NUL */
    int64_t v;
    assert_int_equal(ss_ar_parse_rfc3339("2024-09-05T06:11:04Z\0", 21, &v), -1);
    assert_int_equal(ss_ar_parse_rfc3339("2024-09-05T06:1\0:04Z", 20, &v), -1);
}

/* ---- partitions --------------------------------------------------------------------------- */

static void check_dir(ss_type t, int64_t us, const char *want) {
    char out[256];
    int n = ss_ar_partition_dir(out, sizeof out, "/d", t, us);
    if (!want) {
        assert_int_equal(n, -1);
        return;
    }
    assert_int_equal(n, (int)strlen(want));
    assert_string_equal(out, want);
}

static void test_partition_paths(void **state) {
    (void)state;
    check_dir(SS_TYPE_POST, 0, "/d/year=1970/month=1/day=1/hour=0/type=post");
    check_dir(SS_TYPE_LIKE, 1779719009132431LL, "/d/year=2026/month=5/day=25/hour=14/type=like");
    /* the last microsecond of an hour, and the first of the next */
    check_dir(SS_TYPE_FOLLOW, 1725519599999999LL, "/d/year=2024/month=9/day=5/hour=6/type=follow");
    check_dir(SS_TYPE_FOLLOW, 1725519600000000LL, "/d/year=2024/month=9/day=5/hour=7/type=follow");
    /* day, month and year boundaries */
    check_dir(SS_TYPE_BLOCK, 1735689599999999LL, "/d/year=2024/month=12/day=31/hour=23/type=block");
    check_dir(SS_TYPE_BLOCK, 1735689600000000LL, "/d/year=2025/month=1/day=1/hour=0/type=block");
    check_dir(SS_TYPE_REPOST, 1709251199999999LL, "/d/year=2024/month=2/day=29/hour=23/type=repost");
    /* past 2038 and far future */
    check_dir(SS_TYPE_IDENTITY, 2147483648000000LL, "/d/year=2038/month=1/day=19/hour=3/type=identity");
    check_dir(SS_TYPE_ACCOUNT, 4102444800000000LL, "/d/year=2100/month=1/day=1/hour=0/type=account");
    check_dir(SS_TYPE_OTHER, SS_AR_TIME_MAX_US, "/d/year=9999/month=12/day=31/hour=23/type=other");
    /* out of range: negative, past year 9999, absurd */
    check_dir(SS_TYPE_POST, -1, NULL);
    check_dir(SS_TYPE_POST, SS_AR_TIME_MAX_US + 1, NULL);
    check_dir(SS_TYPE_POST, INT64_MAX, NULL);
    check_dir(SS_TYPE_POST, INT64_MIN, NULL);
    /* invalid type */
    check_dir((ss_type)SS_TYPE__COUNT, 0, NULL);
    check_dir((ss_type)-1, 0, NULL);
    /* output too small */
    char small[20];
    assert_int_equal(ss_ar_partition_dir(small, sizeof small, "/d", SS_TYPE_POST, 0), -1);
    /* hour start */
    assert_int_equal(ss_ar_hour_start(1725519599999999LL), 1725516000000000LL);
    assert_int_equal(ss_ar_hour_start(1725519600000000LL), 1725519600000000LL);
}

static void test_hour_of_matches_parser(void **state) {
    (void)state;
    /* every hour boundary of several years agrees with the RFC 3339 parser */
    for (int y = 1970; y <= 2400; y += 43) {
        for (int m = 1; m <= 12; m++) {
            char s[32];
            snprintf(s, sizeof s, "%04d-%02d-28T17:00:00Z", y, m);
            int64_t us = parse_ok(s);
            ss_ar_hour h;
            assert_int_equal(ss_ar_hour_of(us, &h), 0);
            assert_int_equal(h.year, y);
            assert_int_equal(h.month, m);
            assert_int_equal(h.day, 28);
            assert_int_equal(h.hour, 17);
            assert_int_equal(ss_ar_hour_of(us - 1, &h), 0);
            assert_int_equal(h.hour, 16);
        }
    }
}

static void test_valid_name(void **state) {
    (void)state;
    assert_true(ss_ar_valid_name("part-0"));
    assert_true(ss_ar_valid_name("post_20250807T0000Z_writer-1_1723000000000-0"));
    assert_false(ss_ar_valid_name(""));
    assert_false(ss_ar_valid_name(NULL));
    assert_false(ss_ar_valid_name(".hidden"));
    assert_false(ss_ar_valid_name("-flag"));
    assert_false(ss_ar_valid_name("a/b"));
    assert_false(ss_ar_valid_name(".."));
    assert_false(ss_ar_valid_name("a b"));
    assert_false(ss_ar_valid_name("a\nb"));
    assert_false(ss_ar_valid_name("caf\xc3\xa9"));
    char longname[SS_AR_MAX_NAME + 2];
    memset(longname, 'a', sizeof longname);
    longname[SS_AR_MAX_NAME] = '\0';
    assert_true(ss_ar_valid_name(longname));
    longname[SS_AR_MAX_NAME] = 'a';
    longname[SS_AR_MAX_NAME + 1] = '\0';
    assert_false(ss_ar_valid_name(longname));
}

/* ---- schema ------------------------------------------------------------------------------- */

static int col_index(ss_type t, const char *name) {
    size_t n;
    const ss_pq_column *c = ss_ar_schema(t, &n);
    for (size_t i = 0; i < n; i++)
        if (!strcmp(c[i].name, name)) return ss_ar_type_has_column(t, i) ? (int)i : -1;
    return -1;
}

static void test_schema(void **state) {
    (void)state;
    const char *common[] = {"did", "time_us", "time", "kind"};
    size_t n0;
    const ss_pq_column *c0 = ss_ar_schema(SS_TYPE_POST, &n0);
    for (int t = 0; t < SS_TYPE__COUNT; t++) {
        size_t n;
        const ss_pq_column *c = ss_ar_schema((ss_type)t, &n);
        assert_non_null(c);
        /* one schema for all types, so a glob over every type reads without union_by_name */
        assert_int_equal(n, n0);
        for (size_t i = 0; i < n; i++) {
            assert_string_equal(c[i].name, c0[i].name);
            assert_int_equal(c[i].type, c0[i].type);
            assert_int_equal(c[i].optional, c0[i].optional);
        }
        for (size_t i = 0; i < 4; i++) {
            assert_string_equal(c[i].name, common[i]);
            assert_false(c[i].optional);
            assert_true(ss_ar_type_has_column((ss_type)t, i));
        }
        /* every column a type does not fill must be nullable */
        for (size_t i = 0; i < n; i++)
            if (!ss_ar_type_has_column((ss_type)t, i)) assert_true(c[i].optional);
        for (size_t i = 0; i < n; i++)
            for (size_t j = i + 1; j < n; j++) assert_string_not_equal(c[i].name, c[j].name);
        assert_false(ss_ar_type_has_column((ss_type)t, n));
    }
    assert_null(ss_ar_schema((ss_type)SS_TYPE__COUNT, NULL));
    assert_false(ss_ar_type_has_column((ss_type)SS_TYPE__COUNT, 0));
    assert_int_equal(col_index(SS_TYPE_POST, "record"), 9);
    assert_int_equal(col_index(SS_TYPE_LIKE, "record"), 9);
    assert_int_equal(col_index(SS_TYPE_OTHER, "record"), 9);
    assert_true(col_index(SS_TYPE_POST, "langs") > 0);
    assert_int_equal(col_index(SS_TYPE_LIKE, "langs"), -1);
    assert_true(col_index(SS_TYPE_REPOST, "via_uri") > 0);
    assert_true(col_index(SS_TYPE_BLOCK, "subject") > 0);
    assert_int_equal(col_index(SS_TYPE_BLOCK, "subject_uri"), -1);
    assert_int_equal(col_index(SS_TYPE_IDENTITY, "record"), -1);
    assert_int_equal(col_index(SS_TYPE_IDENTITY, "status"), -1);
    assert_true(col_index(SS_TYPE_ACCOUNT, "status") > 0);
    assert_true(col_index(SS_TYPE_IDENTITY, "handle") > 0);
    assert_int_equal(col_index(SS_TYPE_OTHER, "created_at"), -1);
    const ss_pq_column *c = c0;
    assert_int_equal(c[col_index(SS_TYPE_POST, "langs")].type, SS_PQ_STRING_LIST);
    assert_int_equal(c[col_index(SS_TYPE_POST, "time")].type, SS_PQ_TIMESTAMP_MICROS);
    assert_int_equal(c[col_index(SS_TYPE_POST, "created_at")].type, SS_PQ_TIMESTAMP_MICROS);
    assert_int_equal(c[col_index(SS_TYPE_ACCOUNT, "active")].type, SS_PQ_BOOLEAN);
    assert_true(c[col_index(SS_TYPE_POST, "kind")].dictionary);
    assert_false(c[col_index(SS_TYPE_POST, "did")].dictionary); /* measured: PLAIN + zstd is smaller */
    assert_true(c[col_index(SS_TYPE_POST, "operation")].dictionary);
    assert_true(c[col_index(SS_TYPE_POST, "langs")].dictionary);
    assert_false(c[col_index(SS_TYPE_POST, "rkey")].dictionary);
    /* bloom filters: exactly the identifiers looked up one at a time (docs/SCHEMA.md) */
    size_t nc = 0, nbloom = 0;
    ss_ar_schema(SS_TYPE_POST, &nc);
    for (size_t i = 0; i < nc; i++) nbloom += c[i].bloom != 0;
    assert_int_equal(nbloom, 5);
    assert_true(c[col_index(SS_TYPE_POST, "did")].bloom);
    assert_true(c[col_index(SS_TYPE_POST, "reply_root_uri")].bloom);
    assert_true(c[col_index(SS_TYPE_POST, "reply_parent_uri")].bloom);
    assert_true(c[col_index(SS_TYPE_LIKE, "subject_uri")].bloom);
    assert_true(c[col_index(SS_TYPE_FOLLOW, "subject")].bloom);
}

/* The schema documentation names every column of every type, in a table per type. */
static void test_schema_documented(void **state) {
    (void)state;
    const char *src = getenv("SKYSPOOL_SRC");
    if (!src) skip();
    char path[1024];
    snprintf(path, sizeof path, "%s/docs/SCHEMA.md", src);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    static char doc[1 << 17];
    size_t n = fread(doc, 1, sizeof doc - 1, f);
    fclose(f);
    doc[n] = '\0';
    for (int t = 0; t < SS_TYPE__COUNT; t++) {
        char head[64];
        snprintf(head, sizeof head, "\n### %s\n", ss_type_name((ss_type)t));
        const char *sec = strstr(doc, head);
        if (!sec) fail_msg("docs/SCHEMA.md has no section '### %s'", ss_type_name((ss_type)t));
        const char *end = strstr(sec + 1, "\n### ");
        if (!end) end = doc + n;
        size_t nc;
        const ss_pq_column *c = ss_ar_schema((ss_type)t, &nc);
        for (size_t i = 0; i < nc; i++) {
            char cell[64];
            snprintf(cell, sizeof cell, "| `%s` |", c[i].name);
            const char *hit = strstr(sec, cell);
            int listed = hit && hit < end;
            if (ss_ar_type_has_column((ss_type)t, i) && !listed)
                fail_msg("docs/SCHEMA.md section %s lacks column %s", ss_type_name((ss_type)t), c[i].name);
            if (!ss_ar_type_has_column((ss_type)t, i) && listed)
                fail_msg("docs/SCHEMA.md section %s lists %s, which that type leaves null", ss_type_name((ss_type)t),
                         c[i].name);
            /* and the file schema section lists every column in order */
            const char *fs = strstr(doc, "\n## File schema\n");
            if (!fs) fail_msg("docs/SCHEMA.md has no '## File schema' section");
            char row[80];
            snprintf(row, sizeof row, "| %zu | `%s` |", i + 1, c[i].name);
            if (!strstr(fs, row)) fail_msg("docs/SCHEMA.md file schema lacks row '%s'", row);
        }
    }
}

/* ---- mapping ------------------------------------------------------------------------------ */

static ss_str S(const char *s) { return (ss_str){s, s ? strlen(s) : 0}; }

static ss_event commit_ev(ss_type t, ss_op op, const char *record) {
    ss_event ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = SS_KIND_COMMIT;
    ev.type = t;
    ev.did = S("did:plc:aaaaaaaaaaaaaaaaaaaaaaaa");
    ev.time_us = 1725516664870000LL;
    ev.op = op;
    ev.collection = S("app.bsky.feed.post");
    ev.rkey = S("3l3qo2vuowo2b");
    ev.rev = S("3l3qo2vutsw2b");
    if (record) {
        ev.cid = S("bafyreiabc");
        ev.record = S(record);
    }
    ev.active = -1;
    return ev;
}

static void assert_str(ss_str s, const char *want) {
    if (!want) {
        if (s.p) fail_msg("expected null, got '%.*s'", (int)s.n, s.p);
        return;
    }
    if (!s.p) fail_msg("expected '%s', got null", want);
    if (s.n != strlen(want) || memcmp(s.p, want, s.n) != 0) fail_msg("expected '%s', got '%.*s'", want, (int)s.n, s.p);
}

static void assert_list(ss_ar_list l, int n, ...) {
    if (n < 0) {
        assert_false(l.present);
        return;
    }
    assert_true(l.present);
    assert_int_equal(l.n, (size_t)n);
    va_list ap;
    va_start(ap, n);
    for (int i = 0; i < n; i++) assert_str(l.v[i], va_arg(ap, const char *));
    va_end(ap);
}

static ss_ar_mapper *g_m;

static int setup(void **state) {
    (void)state;
    g_m = ss_ar_mapper_new();
    return g_m ? 0 : -1;
}
static int teardown(void **state) {
    (void)state;
    ss_ar_mapper_free(g_m);
    return 0;
}

static ss_ar_row map(const ss_event *ev) {
    ss_ar_row r;
    assert_int_equal(ss_ar_map(g_m, ev, &r), 0);
    return r;
}

static void test_map_post_full(void **state) {
    (void)state;
    const char *rec =
        "{\"$type\":\"app.bsky.feed.post\",\"createdAt\":\"2024-09-05T06:11:04.870Z\","
        "\"embed\":{\"record\":{\"record\":{\"cid\":\"bafyq\",\"uri\":\"at://did:plc:q/app.bsky.feed.post/3q\"}},"
        "\"media\":{\"$type\":\"app.bsky.embed.images\",\"images\":[{\"alt\":\"x\"}]},"
        "\"$type\":\"app.bsky.embed.recordWithMedia\"},"
        "\"facets\":[{\"index\":{\"byteStart\":0,\"byteEnd\":5},\"features\":[{\"$type\":\"app.bsky.richtext.facet#"
        "mention\",\"did\":\"did:plc:m1\"}]},"
        "{\"features\":[{\"uri\":\"https://example.com/a?b=1\",\"$type\":\"app.bsky.richtext.facet#link\"},"
        "{\"$type\":\"app.bsky.richtext.facet#tag\",\"tag\":\"caf\\u00e9\"}]},"
        "{\"features\":[{\"$type\":\"app.bsky.richtext.facet#mention\",\"did\":\"did:plc:m2\"},"
        "{\"$type\":\"app.bsky.richtext.facet#unknown\",\"did\":\"did:plc:nope\"}]}],"
        "\"labels\":{\"$type\":\"com.atproto.label.defs#selfLabels\",\"values\":[{\"val\":\"porn\"},{\"val\":\"nudity\"}]},"
        "\"langs\":[\"en\",\"pt-BR\"],"
        "\"reply\":{\"parent\":{\"cid\":\"bafyp\",\"uri\":\"at://did:plc:p/app.bsky.feed.post/3p\"},"
        "\"root\":{\"uri\":\"at://did:plc:r/app.bsky.feed.post/3r\",\"cid\":\"bafyr\"}},"
        "\"text\":\"hello \\\"world\\\"\\n\\ud83d\\ude00 \xe2\x9c\x93\"}";
    ss_event ev = commit_ev(SS_TYPE_POST, SS_OP_CREATE, rec);
    ss_ar_row r = map(&ev);
    assert_int_equal(r.flags, 0);
    assert_true(r.has_created_at);
    assert_int_equal(r.created_at, 1725516664870000LL);
    assert_str(r.text, "hello \"world\"\n\xf0\x9f\x98\x80 \xe2\x9c\x93");
    assert_list(r.langs, 2, "en", "pt-BR");
    assert_str(r.reply_root_uri, "at://did:plc:r/app.bsky.feed.post/3r");
    assert_str(r.reply_root_cid, "bafyr");
    assert_str(r.reply_parent_uri, "at://did:plc:p/app.bsky.feed.post/3p");
    assert_str(r.reply_parent_cid, "bafyp");
    assert_str(r.embed_type, "app.bsky.embed.recordWithMedia");
    assert_str(r.embed_uri, "at://did:plc:q/app.bsky.feed.post/3q");
    assert_list(r.mentions, 2, "did:plc:m1", "did:plc:m2");
    assert_list(r.links, 1, "https://example.com/a?b=1");
    assert_list(r.tags, 1, "caf\xc3\xa9");
    assert_list(r.labels, 2, "porn", "nudity");
}

static void test_map_post_minimal(void **state) {
    (void)state;
    ss_event ev = commit_ev(SS_TYPE_POST, SS_OP_CREATE, "{\"text\":\"\",\"createdAt\":\"2024-09-05T06:11:04Z\"}");
    ss_ar_row r = map(&ev);
    assert_str(r.text, "");
    assert_true(r.has_created_at);
    assert_list(r.langs, -1);
    assert_list(r.mentions, -1);
    assert_list(r.links, -1);
    assert_list(r.tags, -1);
    assert_list(r.labels, -1);
    assert_str(r.embed_type, NULL);
    assert_str(r.embed_uri, NULL);
    assert_str(r.reply_root_uri, NULL);
    /* present but empty lists stay present and empty */
    ev = commit_ev(SS_TYPE_POST, SS_OP_CREATE, "{\"langs\":[],\"facets\":[],\"labels\":{\"values\":[]}}");
    r = map(&ev);
    assert_list(r.langs, 0);
    assert_list(r.mentions, 0);
    assert_list(r.links, 0);
    assert_list(r.tags, 0);
    assert_list(r.labels, 0);
    assert_str(r.text, NULL);
    assert_false(r.has_created_at);
}

static void test_map_embeds(void **state) {
    (void)state;
    struct {
        const char *embed, *type, *uri;
    } cases[] = {
        {"{\"$type\":\"app.bsky.embed.external\",\"external\":{\"uri\":\"https://x.org/\",\"title\":\"t\"}}",
         "app.bsky.embed.external", "https://x.org/"},
        {"{\"record\":{\"uri\":\"at://did:plc:a/app.bsky.feed.post/1\",\"cid\":\"c\"},\"$type\":\"app.bsky.embed."
         "record\"}",
         "app.bsky.embed.record", "at://did:plc:a/app.bsky.feed.post/1"},
        {"{\"$type\":\"app.bsky.embed.images\",\"images\":[{\"alt\":\"\",\"image\":{\"$type\":\"blob\",\"ref\":{\"$"
         "link\":\"bafk\"},\"mimeType\":\"image/jpeg\",\"size\":1}}]}",
         "app.bsky.embed.images", NULL},
        {"{\"$type\":\"app.bsky.embed.video\",\"video\":{}}", "app.bsky.embed.video", NULL},
        {"{\"external\":{\"uri\":\"https://x.org/\"}}", NULL, NULL}, /* no $type: no guess */
        {"\"not an object\"", NULL, NULL},
        {"{\"$type\":7}", NULL, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char rec[1024];
        snprintf(rec, sizeof rec, "{\"text\":\"t\",\"embed\":%s}", cases[i].embed);
        ss_event ev = commit_ev(SS_TYPE_POST, SS_OP_CREATE, rec);
        ss_ar_row r = map(&ev);
        assert_int_equal(r.flags, 0);
        assert_str(r.embed_type, cases[i].type);
        assert_str(r.embed_uri, cases[i].uri);
        assert_str(r.text, "t");
    }
}

static void test_map_wrong_types(void **state) {
    (void)state;
    /* wrong JSON types leave their columns null; the rest still maps */
    ss_event ev = commit_ev(SS_TYPE_POST, SS_OP_CREATE,
                            "{\"text\":42,\"langs\":\"en\",\"reply\":[1],\"facets\":{\"a\":1},\"labels\":[\"x\"],"
                            "\"createdAt\":1725516664,\"embed\":null,\"extra\":{\"deep\":[[[{}]]]},"
                            "\"langs2\":[\"xx\"]}");
    ss_ar_row r = map(&ev);
    assert_int_equal(r.flags, 0);
    assert_str(r.text, NULL);
    assert_list(r.langs, -1);
    assert_list(r.mentions, -1);
    assert_list(r.labels, -1);
    assert_false(r.has_created_at);
    assert_str(r.reply_root_uri, NULL);
    /* non-string list elements are skipped */
    ev = commit_ev(SS_TYPE_POST, SS_OP_CREATE, "{\"langs\":[\"en\",1,null,{\"a\":\"b\"},[\"c\"],\"ja\"]}");
    r = map(&ev);
    assert_list(r.langs, 2, "en", "ja");
    /* like with a subject that is a string; follow with a subject that is an object */
    ev = commit_ev(SS_TYPE_LIKE, SS_OP_CREATE, "{\"subject\":\"at://x\",\"createdAt\":\"2024-09-05T06:11:04Z\"}");
    r = map(&ev);
    assert_str(r.subject_uri, NULL);
    assert_true(r.has_created_at);
    ev = commit_ev(SS_TYPE_FOLLOW, SS_OP_CREATE, "{\"subject\":{\"uri\":\"did:plc:x\"}}");
    r = map(&ev);
    assert_str(r.subject, NULL);
}

static void test_map_malformed_created_at(void **state) {
    (void)state;
    const char *bad[] = {"\"2024-09-05\"", "\"0000-00-00T00:00:00Z\"", "\"2024-09-05T06:11:04\"", "\"\"", "null",
                         "\"2024-02-30T00:00:00Z\"", "\"1725516664870\"", "\"2024-09-05T06:11:04.870+05\""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char rec[256];
        snprintf(rec, sizeof rec, "{\"createdAt\":%s,\"subject\":\"did:plc:s\"}", bad[i]);
        ss_event ev = commit_ev(SS_TYPE_FOLLOW, SS_OP_CREATE, rec);
        ss_ar_row r = map(&ev);
        assert_false(r.has_created_at);
        assert_str(r.subject, "did:plc:s");
    }
    /* createdAt with an escaped character still parses after unescaping */
    ss_event ev = commit_ev(SS_TYPE_FOLLOW, SS_OP_CREATE, "{\"createdAt\":\"2024-09-05T06:11:04\\u002e5Z\"}");
    ss_ar_row r = map(&ev);
    assert_true(r.has_created_at);
    assert_int_equal(r.created_at, 1725516664500000LL);
}

static void test_map_like_repost(void **state) {
    (void)state;
    const char *rec = "{\"$type\":\"app.bsky.feed.like\",\"createdAt\":\"2026-05-25T14:23:28.778Z\","
                      "\"subject\":{\"cid\":\"bafys\",\"uri\":\"at://did:plc:v/app.bsky.feed.post/3m\"},"
                      "\"via\":{\"uri\":\"at://did:plc:w/app.bsky.feed.repost/3n\",\"cid\":\"bafyv\"}}";
    for (int t = SS_TYPE_LIKE; t <= SS_TYPE_REPOST; t++) {
        ss_event ev = commit_ev((ss_type)t, SS_OP_CREATE, rec);
        ss_ar_row r = map(&ev);
        assert_str(r.subject_uri, "at://did:plc:v/app.bsky.feed.post/3m");
        assert_str(r.subject_cid, "bafys");
        assert_str(r.via_uri, "at://did:plc:w/app.bsky.feed.repost/3n");
        assert_str(r.via_cid, "bafyv");
        assert_true(r.has_created_at);
        assert_int_equal(r.created_at, 1779719008778000LL);
        assert_str(r.text, NULL);
    }
    ss_event ev = commit_ev(SS_TYPE_LIKE, SS_OP_CREATE, "{\"subject\":{\"uri\":\"at://u\"}}");
    ss_ar_row r = map(&ev);
    assert_str(r.subject_uri, "at://u");
    assert_str(r.subject_cid, NULL);
    assert_str(r.via_uri, NULL);
    assert_false(r.has_created_at);
}

static void test_map_follow_block(void **state) {
    (void)state;
    for (int t = SS_TYPE_FOLLOW; t <= SS_TYPE_BLOCK; t++) {
        ss_event ev = commit_ev((ss_type)t, SS_OP_CREATE,
                                "{\"$type\":\"app.bsky.graph.follow\",\"createdAt\":\"2026-05-25T14:23:27.319Z\","
                                "\"subject\":\"did:plc:anc6s2kher6ltrhhglxrzxsa\"}");
        ss_ar_row r = map(&ev);
        assert_str(r.subject, "did:plc:anc6s2kher6ltrhhglxrzxsa");
        assert_int_equal(r.created_at, 1779719007319000LL);
    }
}

static void test_map_deletes_and_repo_events(void **state) {
    (void)state;
    for (int t = SS_TYPE_POST; t <= SS_TYPE_BLOCK; t++) {
        ss_event ev = commit_ev((ss_type)t, SS_OP_DELETE, NULL);
        ss_ar_row r = map(&ev);
        assert_int_equal(r.flags, 0);
        assert_false(r.has_created_at);
        assert_str(r.text, NULL);
        assert_str(r.subject, NULL);
        assert_str(r.subject_uri, NULL);
        assert_list(r.langs, -1);
    }
    ss_event ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = SS_KIND_IDENTITY;
    ev.type = SS_TYPE_IDENTITY;
    ev.did = S("did:plc:x");
    ev.time_us = 1;
    ev.seq = 42;
    ev.time = S("2024-09-05T06:11:04.870Z");
    ss_ar_row r = map(&ev);
    assert_true(r.has_relay_time);
    assert_int_equal(r.relay_time, 1725516664870000LL);
    ev.time = S("not a time");
    r = map(&ev);
    assert_false(r.has_relay_time);
    ev.time.p = NULL;
    r = map(&ev);
    assert_false(r.has_relay_time);
    /* other: common columns only, the record is not even scanned */
    ev = commit_ev(SS_TYPE_OTHER, SS_OP_CREATE, "{not json");
    r = map(&ev);
    assert_int_equal(r.flags, 0);
}

static void test_map_malformed_record(void **state) {
    (void)state;
    const char *bad[] = {"{\"text\":\"abc", "[1,2]", "{\"text\":\"a\",}", "{\"text\" \"a\"}", "",
                         "{\"text\":\"a\\q\"}", "{\"langs\":[\"a\" \"b\"]}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ss_event ev = commit_ev(SS_TYPE_POST, SS_OP_CREATE, bad[i]);
        ss_ar_row r = map(&ev);
        assert_true(r.flags & SS_AR_ROW_RECORD_UNPARSED);
        assert_str(r.text, NULL);
        assert_list(r.langs, -1);
    }
    /* nesting beyond the limit */
    static char deep[4096];
    size_t n = 0;
    n += (size_t)sprintf(deep + n, "{\"x\":");
    for (int i = 0; i < SS_AR_MAX_DEPTH + 5; i++) deep[n++] = '[';
    for (int i = 0; i < SS_AR_MAX_DEPTH + 5; i++) deep[n++] = ']';
    n += (size_t)sprintf(deep + n, ",\"text\":\"t\"}");
    ss_event ev = commit_ev(SS_TYPE_POST, SS_OP_CREATE, deep);
    ss_ar_row r = map(&ev);
    assert_true(r.flags & SS_AR_ROW_RECORD_UNPARSED);
}

static void test_map_huge_text_and_lists(void **state) {
    (void)state;
    /* 1 MiB of text with escapes, then a list over the item limit */
    size_t textn = 1 << 20;
    size_t cap = textn * 2 + (size_t)SS_AR_MAX_LIST_ITEMS * 8 + 256;
    char *rec = malloc(cap);
    assert_non_null(rec);
    size_t n = (size_t)sprintf(rec, "{\"text\":\"");
    for (size_t i = 0; i < textn / 2; i++) {
        rec[n++] = (i % 100 == 0) ? '\\' : 'a';
        rec[n++] = (i % 100 == 0) ? 'n' : 'b';
    }
    n += (size_t)sprintf(rec + n, "\",\"langs\":[");
    for (int i = 0; i < SS_AR_MAX_LIST_ITEMS + 10; i++) n += (size_t)sprintf(rec + n, "%s\"l\"", i ? "," : "");
    n += (size_t)sprintf(rec + n, "]}");
    ss_event ev = commit_ev(SS_TYPE_POST, SS_OP_CREATE, rec);
    ss_ar_row r = map(&ev);
    assert_true(r.flags & SS_AR_ROW_LIST_TRUNCATED);
    assert_false(r.flags & SS_AR_ROW_RECORD_UNPARSED);
    assert_int_equal(r.text.n, textn - (textn / 2 + 99) / 100); /* each escape pair is one byte */
    assert_int_equal(r.text.p[0], '\n');
    assert_int_equal(r.text.p[1], 'a');
    assert_int_equal(r.langs.n, SS_AR_MAX_LIST_ITEMS);
    free(rec);
    /* the mapper is reusable afterwards and forgets the big row */
    ev = commit_ev(SS_TYPE_POST, SS_OP_CREATE, "{\"text\":\"x\\ty\",\"langs\":[\"en\"]}");
    r = map(&ev);
    assert_int_equal(r.flags, 0);
    assert_str(r.text, "x\ty");
    assert_list(r.langs, 1, "en");
}

static void test_map_escaped_keys_and_surrogates(void **state) {
    (void)state;
    /* a key written with an escape still matches; a lone surrogate becomes U+FFFD */
    ss_event ev = commit_ev(SS_TYPE_POST, SS_OP_CREATE,
                            "{\"te\\u0078t\":\"a\\ud83eb\\u00e9\\/\",\"langs\" : [ \"en\" , \"de\" ] }");
    ss_ar_row r = map(&ev);
    assert_int_equal(r.flags, 0);
    assert_str(r.text, "a\xef\xbf\xbd" "b\xc3\xa9/");
    assert_list(r.langs, 2, "en", "de");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc3339_valid),
        cmocka_unit_test(test_rfc3339_invalid),
        cmocka_unit_test(test_partition_paths),
        cmocka_unit_test(test_hour_of_matches_parser),
        cmocka_unit_test(test_valid_name),
        cmocka_unit_test(test_schema),
        cmocka_unit_test(test_schema_documented),
        cmocka_unit_test_setup_teardown(test_map_post_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_map_post_minimal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_map_embeds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_map_wrong_types, setup, teardown),
        cmocka_unit_test_setup_teardown(test_map_malformed_created_at, setup, teardown),
        cmocka_unit_test_setup_teardown(test_map_like_repost, setup, teardown),
        cmocka_unit_test_setup_teardown(test_map_follow_block, setup, teardown),
        cmocka_unit_test_setup_teardown(test_map_deletes_and_repo_events, setup, teardown),
        cmocka_unit_test_setup_teardown(test_map_malformed_record, setup, teardown),
        cmocka_unit_test_setup_teardown(test_map_huge_text_and_lists, setup, teardown),
        cmocka_unit_test_setup_teardown(test_map_escaped_keys_and_surrogates, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
