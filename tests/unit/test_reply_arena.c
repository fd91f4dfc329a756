/* Arena-built hiredis replies (src/buffer/reply_arena.c): the same trees hiredis's own
 * allocator builds, for every reply type and nesting, across chunk boundaries and resets,
 * with memory bounded after a huge reply. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buffer/reply_arena.h"

/* Deep structural equality of two replies. */
static void assert_same(const redisReply *a, const redisReply *b) {
    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal(a->type, b->type);
    switch (a->type) {
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
    case REDIS_REPLY_ERROR:
        assert_int_equal(a->len, b->len);
        assert_memory_equal(a->str, b->str, a->len);
        assert_int_equal(a->str[a->len], '\0');
        break;
    case REDIS_REPLY_INTEGER: assert_int_equal(a->integer, b->integer); break;
    case REDIS_REPLY_ARRAY:
        assert_int_equal(a->elements, b->elements);
        for (size_t i = 0; i < a->elements; i++) assert_same(a->element[i], b->element[i]);
        break;
    default: break;
    }
}

static redisReply *parse(redisReader *r, const char *buf, size_t len) {
    assert_int_equal(redisReaderFeed(r, buf, len), REDIS_OK);
    void *out = NULL;
    assert_int_equal(redisReaderGetReply(r, &out), REDIS_OK);
    assert_non_null(out);
    return out;
}

/* An XREADGROUP-shaped reply: 2 streams x n entries of (id, [e, payload, t, 123, k, hex]),
 * plus a nil entry body (a deleted pending entry), an integer, a status and an error. */
static void make_resp(char **out, size_t *outlen, int n, size_t payload) {
    size_t cap = 1024 + (size_t)n * 2 * (payload + 200);
    char *b = malloc(cap), *p = b;
    char *pl = malloc(payload);
    memset(pl, 'x', payload);
    p += sprintf(p, "*6\r\n");
    for (int s = 0; s < 2; s++) {
        p += sprintf(p, "*2\r\n$10\r\nskyspool:%d\r\n*%d\r\n", s, n + 1);
        for (int i = 0; i < n; i++) {
            char id[32];
            int il = sprintf(id, "%d-%d", 1700000000 + i, s);
            p += sprintf(p, "*2\r\n$%d\r\n%s\r\n*6\r\n$1\r\ne\r\n$%zu\r\n", il, id, payload);
            memcpy(p, pl, payload);
            p += payload;
            p += sprintf(p, "\r\n$1\r\nt\r\n$3\r\n123\r\n$1\r\nk\r\n$4\r\nabcd\r\n");
        }
        p += sprintf(p, "*2\r\n$3\r\n9-9\r\n*-1\r\n");
    }
    p += sprintf(p, ":-42\r\n$-1\r\n+OK\r\n-ERR nope\r\n");
    *out = b;
    *outlen = (size_t)(p - b);
    free(pl);
}

static void test_same_trees(void **st) {
    (void)st;
    char *resp;
    size_t len;
    make_resp(&resp, &len, 300, 700); /* ~430 KB: several objects per chunk */
    redisReader *plain = redisReaderCreate();
    redisReader *ar = redisReaderCreate();
    ss_reply_arena *a = ss_reply_arena_new();
    ss_reply_arena_attach_reader(ar, a);
    for (int round = 0; round < 3; round++) {
        redisReply *x = parse(plain, resp, len);
        redisReply *y = parse(ar, resp, len);
        assert_same(x, y);
        assert_int_equal(y->element[0]->element[1]->element[300]->element[1]->type, REDIS_REPLY_NIL);
        freeReplyObject(x);
        ss_reply_arena_reset(a);
    }
    size_t held = ss_reply_arena_bytes(a);
    assert_true(held >= len / 2 && held <= 8u << 20);
    /* split feeding: a reply arriving in small pieces */
    for (size_t off = 0; off < len; off += 777)
        assert_int_equal(redisReaderFeed(ar, resp + off, len - off < 777 ? len - off : 777), REDIS_OK);
    void *out = NULL;
    assert_int_equal(redisReaderGetReply(ar, &out), REDIS_OK);
    redisReply *x = parse(plain, resp, len);
    assert_same(x, out);
    freeReplyObject(x);
    ss_reply_arena_reset(a);
    redisReaderFree(plain);
    redisReaderFree(ar);
    ss_reply_arena_free(a);
    free(resp);
}

static void test_huge_reply_then_bounded(void **st) {
    (void)st;
    char *resp;
    size_t len;
    make_resp(&resp, &len, 20, 3u << 20); /* 40 strings of 3 MB: bigger than a chunk each */
    redisReader *ar = redisReaderCreate();
    ar->maxbuf = 0;
    ss_reply_arena *a = ss_reply_arena_new();
    ss_reply_arena_attach_reader(ar, a);
    redisReply *y = parse(ar, resp, len);
    assert_int_equal(y->element[1]->element[1]->element[19]->element[1]->element[1]->len, 3u << 20);
    assert_true(ss_reply_arena_bytes(a) >= (size_t)40 * (3u << 20));
    ss_reply_arena_reset(a);
    assert_true(ss_reply_arena_bytes(a) <= 8u << 20); /* kept for reuse, bounded */
    /* the arena still works after the trim */
    redisReply *z = parse(ar, "*2\r\n$2\r\nab\r\n:7\r\n", 16);
    assert_int_equal(z->elements, 2);
    assert_string_equal(z->element[0]->str, "ab");
    assert_int_equal(z->element[1]->integer, 7);
    redisReaderFree(ar);
    ss_reply_arena_free(a);
    free(resp);
}

static void test_protocol_error_is_clean(void **st) {
    (void)st;
    redisReader *ar = redisReaderCreate();
    ss_reply_arena *a = ss_reply_arena_new();
    ss_reply_arena_attach_reader(ar, a);
    const char bad[] = "*2\r\n$2\r\nab\r\n?junk\r\n";
    assert_int_equal(redisReaderFeed(ar, bad, sizeof bad - 1), REDIS_OK);
    void *out = NULL;
    assert_int_equal(redisReaderGetReply(ar, &out), REDIS_ERR); /* partial tree dropped, no crash */
    redisReaderFree(ar);
    ss_reply_arena_free(a);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_trees),
        cmocka_unit_test(test_huge_reply_then_bounded),
        cmocka_unit_test(test_protocol_error_is_clean),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
