/* Regression tests for bugs found by the fuzz targets (tests/fuzz/). Each case is the
 * minimized input saved in tests/fuzz/regressions/<target>/, restated here so that the
 * normal ASan/UBSan test run (`make test`) catches a regression without a fuzz build, and
 * asserts the behaviour the fix gives, not only the absence of a crash. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <signal.h>
#include <unistd.h>

#include "archive/archive.h"
#include "event/event.h"
#include "net/js_proto.h"

/* src/archive/map.c read_str(): a non-string value cleared the slice's pointer but kept
 * its length, so a repeated key ("$type" first a string, then an object) left embed_type
 * as {NULL, 23} and the next comparison read address 0. Found by fuzz_event; input
 * tests/fuzz/regressions/event/archive-map-dup-type-*.json. */
static void test_archive_map_repeated_key_non_string(void **state) {
    (void)state;
    static const char *const docs[] = {
        "{\"did\":\"did:plc:a\",\"time_us\":1,\"kind\":\"commit\",\"commit\":{\"rev\":\"r\",\"operation\":\"create\","
        "\"collection\":\"app.bsky.feed.post\",\"rkey\":\"k\",\"cid\":\"bafyx\",\"record\":{\"embed\":{\"$type\":"
        "\"app.bsky.embed.external\",\"$type\":{\"x\":1}}}}}",
        /* the same for a reply ref and a like subject */
        "{\"did\":\"did:plc:a\",\"time_us\":1,\"kind\":\"commit\",\"commit\":{\"rev\":\"r\",\"operation\":\"create\","
        "\"collection\":\"app.bsky.feed.like\",\"rkey\":\"k\",\"cid\":\"bafyx\",\"record\":{\"subject\":{\"uri\":\"at://x\","
        "\"uri\":[1],\"cid\":\"c\",\"cid\":null}}}}",
    };
    ss_decoder *d = ss_decoder_new(NULL);
    ss_ar_mapper *m = ss_ar_mapper_new();
    assert_non_null(d);
    assert_non_null(m);
    for (size_t i = 0; i < sizeof docs / sizeof *docs; i++) {
        ss_event ev;
        assert_int_equal(ss_decode(d, docs[i], strlen(docs[i]), &ev), SS_DECODE_OK);
        ss_ar_row row;
        assert_int_equal(ss_ar_map(m, &ev, &row), 0);
        /* The last value of the key was not a string: the column is null, length 0. */
        const ss_str *cols[] = {&row.embed_type, &row.embed_uri, &row.subject_uri, &row.subject_cid};
        for (size_t c = 0; c < sizeof cols / sizeof *cols; c++)
            if (!cols[c]->p) assert_int_equal(cols[c]->n, 0);
        if (i == 0) {
            assert_null(row.embed_type.p);
            assert_null(row.embed_uri.p);
        } else {
            assert_null(row.subject_uri.p);
            assert_null(row.subject_cid.p);
        }
    }
    ss_ar_mapper_free(m);
    ss_decoder_free(d);
}

/* src/net/js_proto.c skip_value(): a NUL byte where a scalar was expected inside a
 * container made strchr() match its terminator, so the skipper never advanced: the
 * Jetstream client would spin forever on one message. Found by fuzz_event (timeout);
 * input tests/fuzz/regressions/event/js-peek-nul-hang.json. An alarm turns a hang into a
 * failure instead of a ctest timeout. */
static void test_js_peek_nul_in_container(void **state) {
    (void)state;
    static const char doc[] = "{\"did\":\"did:plc:a\",\"x\":[1\0],\"time_us\":5,\"kind\":\"commit\"}";
    static const char doc2[] = "{\"x\":{\"a\":\0}}";
    alarm(10);
    ss_js_peek_result r;
    assert_int_equal(ss_js_peek(doc, sizeof doc - 1, 1, &r), -1);
    assert_int_equal(ss_js_peek(doc2, sizeof doc2 - 1, 1, &r), -1);
    /* A NUL outside containers is not JSON either; the peek stops there. */
    static const char doc3[] = "{\"time_us\":7,\"kind\":\"identity\"}";
    assert_int_equal(ss_js_peek(doc3, sizeof doc3 - 1, 0, &r), 0);
    assert_int_equal(r.time_us, 7);
    alarm(0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_archive_map_repeated_key_non_string),
        cmocka_unit_test(test_js_peek_nul_in_container),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
