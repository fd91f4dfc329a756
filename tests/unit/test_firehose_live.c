/* The firehose: source against a live server: where it resumes. An in-process replay
 * server (src/replay/ws_server.c, on a thread, loopback, a free port) serves frames the test
 * builds with the test-side encoder; the source is driven through the public source API
 * exactly as `ingest` drives it (next, seek). What is checked is the cursor of every
 * reconnect: after a seek back, after a relay's seq reset, after a FutureCursor error. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "fh_encode.h"
#include "net/ws_client.h"
#include "replay/ws_server.h"
#include "frames/frames.h"
#include "source/source.h"
#include "util/log.h"

static char g_dir[256];

static int setup(void **state) {
    (void)state;
    snprintf(g_dir, sizeof g_dir, "%s/ss-fhlive-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(g_dir)) return -1;
    ss_log_set_level(SS_LOG_ERROR);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* A frames file of identity frames with seqs first, first+1, ... (n of them): each frame
 * is one event whose cursor is its seq. */
static void write_identities(const char *path, int64_t first, int n) {
    char err[200];
    ss_frames_writer *w = ss_frames_writer_open(path, 0, err, sizeof err);
    assert_non_null(w);
    ss_buf f;
    ss_buf_init(&f);
    for (int i = 0; i < n; i++) {
        char did[64];
        snprintf(did, sizeof did, "did:plc:live%04d", i);
        ss_buf_reset(&f);
        fhe_identity_frame(&f, first + i, did, "2026-05-25T14:23:29.950Z", NULL);
        assert_int_equal(ss_frames_writer_append(w, f.data, f.len), 0);
    }
    assert_int_equal(ss_frames_writer_close(w, err, sizeof err), 0);
    ss_buf_free(&f);
}

typedef struct {
    ss_ws_replay *srv;
    pthread_t th;
    volatile sig_atomic_t stop;
    char url[256];
} server;

static void *serve(void *ud) {
    server *s = ud;
    ss_ws_replay_run(s->srv, &s->stop);
    return NULL;
}

static void server_start(server *s, ss_ws_replay_opts *o) {
    char err[300];
    o->host = "127.0.0.1";
    s->stop = 0;
    s->srv = ss_ws_replay_new(o, err, sizeof err);
    if (!s->srv) fail_msg("replay server: %s", err);
    snprintf(s->url, sizeof s->url, "firehose:ws://127.0.0.1:%d%s", ss_ws_replay_port(s->srv), SS_REPLAY_FIREHOSE_PATH);
    assert_int_equal(pthread_create(&s->th, NULL, serve, s), 0);
}

static void server_stop(server *s) {
    s->stop = 1;
    pthread_join(s->th, NULL);
    ss_ws_replay_free(s->srv);
}

static ss_source *open_source(const char *url) {
    ss_source_opts so;
    ss_source_opts_init(&so);
    so.connect_timeout_ms = 2000;
    char err[300];
    ss_source *s = ss_source_open(url, &so, err, sizeof err, NULL);
    if (!s) fail_msg("open %s: %s", url, err);
    return s;
}

/* The next message within seconds; fails the test when none comes. */
static void next_msg(ss_source *s, ss_source_msg *m, int seconds) {
    int64_t deadline = ss_ws_now_us() + (int64_t)seconds * 1000000;
    while (ss_ws_now_us() < deadline) {
        int rc = ss_source_next(s, m, 200);
        if (rc == SS_SOURCE_MSG) return;
        assert_int_not_equal(rc, SS_SOURCE_ERR);
    }
    fail_msg("no message within %d s", seconds);
}

/* The cursor of the next good event within seconds (rejects are skipped). */
static int64_t good_seq(ss_source *s, int seconds) {
    ss_source_msg m;
    int64_t deadline = ss_ws_now_us() + (int64_t)seconds * 1000000;
    while (ss_ws_now_us() < deadline) {
        next_msg(s, &m, seconds);
        if (!m.bad_reason) return m.cursor;
    }
    fail_msg("no good event within %d s", seconds);
    return -1;
}

/* A Redis-side rewind: after seq 47 was delivered the consumer seeks back to 39. The next
 * connections must ask for 39, then for the last seq delivered since (44 when the server
 * closes after five frames), never for the old maximum 47: 40..55 arrive without a hole. */
static void test_resume_after_seek_back(void **state) {
    (void)state;
    char path[300];
    snprintf(path, sizeof path, "%s/seek.frames", g_dir);
    write_identities(path, 1, 60);
    ss_ws_replay_opts o;
    memset(&o, 0, sizeof o);
    o.frames_path = path;
    o.close_after = 5; /* a reconnect every five frames */
    server srv;
    server_start(&srv, &o);
    ss_source *s = open_source(srv.url);
    for (int64_t want = 1; want <= 47; want++) assert_int_equal(good_seq(s, 10), want);
    assert_int_equal(ss_source_seek(s, 39), 0);
    for (int64_t want = 40; want <= 55; want++) assert_int_equal(good_seq(s, 10), want);
    ss_source_close(s);
    server_stop(&srv);
}

/* The relay's numbering restarts: 1000..1009, then 10..19. The source follows the new
 * numbering: when the server closes after 15 frames (at seq 14) it resumes at 14, not at
 * 1009, which the new numbering does not reach. */
static void test_seq_reset_followed(void **state) {
    (void)state;
    char path[300];
    snprintf(path, sizeof path, "%s/reset.frames", g_dir);
    write_identities(path, 1000, 20);
    ss_ws_replay_opts o;
    memset(&o, 0, sizeof o);
    o.frames_path = path;
    o.close_after = 15;
    o.seq_reset_after = 10;
    o.seq_reset_base = 10;
    server srv;
    server_start(&srv, &o);
    ss_source *s = open_source(srv.url);
    for (int64_t want = 1000; want <= 1009; want++) assert_int_equal(good_seq(s, 10), want);
    for (int64_t want = 10; want <= 19; want++) assert_int_equal(good_seq(s, 10), want);
    ss_source_close(s);
    server_stop(&srv);
}

/* FutureCursor: the relay (1..30, of which 21.. are live) is asked for cursor 100. Its error
 * frame is handed on as a reject that keeps the cursor asked for (never 0, which on a
 * real relay replays the whole retained log), and the next connection asks for no cursor:
 * the live tail, 21 onwards. */
static void test_future_cursor_goes_live(void **state) {
    (void)state;
    char path[300];
    snprintf(path, sizeof path, "%s/future.frames", g_dir);
    write_identities(path, 1, 30);
    ss_ws_replay_opts o;
    memset(&o, 0, sizeof o);
    o.frames_path = path;
    o.history = 20;
    o.future_cursor = 1;
    server srv;
    server_start(&srv, &o);
    ss_source *s = open_source(srv.url);
    assert_int_equal(ss_source_seek(s, 100), 0);
    ss_source_msg m;
    next_msg(s, &m, 10);
    assert_non_null(m.bad_reason);
    assert_string_equal(m.bad_reason, "error_frame");
    assert_int_equal(m.cursor, 100);
    for (int64_t want = 21; want <= 30; want++) assert_int_equal(good_seq(s, 10), want);
    ss_source_close(s);
    server_stop(&srv);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resume_after_seek_back),
        cmocka_unit_test(test_seq_reset_followed),
        cmocka_unit_test(test_future_cursor_goes_live),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
