/* Metrics registry rendering and the /metrics HTTP endpoint, read over a real socket. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "metrics/metrics.h"

static void test_render(void **state) {
    (void)state;
    ss_metric *a = ss_metric_get("skyspool_test_events_total", SS_METRIC_COUNTER, "Events seen.", "type=\"post\"");
    ss_metric *b = ss_metric_get("skyspool_test_events_total", SS_METRIC_COUNTER, "Events seen.", "type=\"like\"");
    ss_metric *g = ss_metric_get("skyspool_test_paused", SS_METRIC_GAUGE, "1 while paused.", NULL);
    assert_non_null(a);
    assert_non_null(b);
    assert_ptr_equal(a, ss_metric_get("skyspool_test_events_total", SS_METRIC_COUNTER, "x", "type=\"post\""));
    assert_null(ss_metric_get("bad name", SS_METRIC_GAUGE, "", NULL));
    ss_metric_add(a, 3);
    ss_metric_inc(a);
    ss_metric_inc(b);
    ss_metric_set(g, 0.25);
    assert_true(ss_metric_value(a) == 4.0);
    ss_buf out;
    ss_buf_init(&out);
    assert_int_equal(ss_metrics_render(&out), 0);
    assert_non_null(strstr(out.data, "# HELP skyspool_test_events_total Events seen.\n"
                                     "# TYPE skyspool_test_events_total counter\n"
                                     "skyspool_test_events_total{type=\"post\"} 4\n"
                                     "skyspool_test_events_total{type=\"like\"} 1\n"));
    assert_non_null(strstr(out.data, "# TYPE skyspool_test_paused gauge\nskyspool_test_paused 0.25\n"));
    ss_buf_free(&out);
}

static void collect_depth(void *ctx) {
    ss_metric_set(ss_metric_get("skyspool_test_depth", SS_METRIC_GAUGE, "Collected at scrape.", NULL), *(double *)ctx);
}

static void test_collector(void **state) {
    (void)state;
    double depth = 7;
    assert_int_equal(ss_metrics_add_collector(collect_depth, &depth), 0);
    ss_buf out;
    ss_buf_init(&out);
    assert_int_equal(ss_metrics_render(&out), 0);
    assert_non_null(strstr(out.data, "skyspool_test_depth 7\n"));
    depth = 9;
    ss_buf_reset(&out);
    assert_int_equal(ss_metrics_render(&out), 0);
    assert_non_null(strstr(out.data, "skyspool_test_depth 9\n"));
    ss_metrics_remove_collector(collect_depth, &depth);
    depth = 11;
    ss_buf_reset(&out);
    assert_int_equal(ss_metrics_render(&out), 0);
    assert_non_null(strstr(out.data, "skyspool_test_depth 9\n"));
    ss_buf_free(&out);
}

static void http_get(int port, const char *path, char *resp, size_t cap) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    char req[256];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", path);
    assert_int_equal(write(fd, req, (size_t)n), n);
    size_t got = 0;
    ssize_t r;
    while (got < cap - 1 && (r = read(fd, resp + got, cap - 1 - got)) > 0) got += (size_t)r;
    resp[got] = '\0';
    close(fd);
}

static int check_flag(void *ctx, char *why, size_t whylen) {
    if (!*(int *)ctx) return 0;
    snprintf(why, whylen, "flag raised");
    return 1;
}

static void test_server(void **state) {
    (void)state;
    char err[256];
    assert_null(ss_metrics_serve("localhost", err, sizeof err));
    assert_non_null(strstr(err, "HOST:PORT"));
    ss_metrics_server *s = ss_metrics_serve("127.0.0.1:0", err, sizeof err);
    assert_non_null(s);
    int port = ss_metrics_server_port(s);
    assert_true(port > 0);
    ss_metric_inc(ss_metric_get("skyspool_test_http_total", SS_METRIC_COUNTER, "HTTP test.", NULL));
    static char resp[65536];
    http_get(port, "/metrics", resp, sizeof resp);
    assert_non_null(strstr(resp, "200 OK"));
    assert_non_null(strstr(resp, "text/plain; version=0.0.4"));
    assert_non_null(strstr(resp, "skyspool_test_http_total 1\n"));
    http_get(port, "/nope", resp, sizeof resp);
    assert_non_null(strstr(resp, "404"));
    http_get(port, "/healthz", resp, sizeof resp);
    assert_non_null(strstr(resp, "200 OK"));
    int sick = 1;
    assert_int_equal(ss_metrics_add_health(check_flag, &sick), 0);
    http_get(port, "/healthz", resp, sizeof resp);
    assert_non_null(strstr(resp, "503"));
    assert_non_null(strstr(resp, "\r\n\r\nflag raised\n"));
    sick = 0;
    http_get(port, "/healthz", resp, sizeof resp);
    assert_non_null(strstr(resp, "200 OK"));
    ss_metrics_remove_health(check_flag, &sick);
    ss_metrics_server_stop(s);
}

/* A gauge whose source is gone is dropped, not repeated; set again, it is back. */
/* A status provider: answers {"n":N} or, when *ctx is negative, fails with a message that
 * must come back JSON-escaped. */
static int status_provider(void *ctx, ss_buf *out, char *err, size_t errlen) {
    int *n = ctx;
    if (*n < 0) {
        snprintf(err, errlen, "redis \"down\"");
        return -1;
    }
    return ss_buf_printf(out, "{\"n\":%d}\n", ++*n);
}

static void test_status_routes(void **state) {
    (void)state;
    char err[256];
    ss_metrics_server *s = ss_metrics_serve("127.0.0.1:0", err, sizeof err);
    assert_non_null(s);
    int port = ss_metrics_server_port(s);
    static char resp[65536];
    /* without a provider neither route exists */
    http_get(port, "/", resp, sizeof resp);
    assert_non_null(strstr(resp, "404"));
    http_get(port, "/api/status", resp, sizeof resp);
    assert_non_null(strstr(resp, "404"));
    int n = 0;
    ss_metrics_server_set_status(s, "<p>page</p>", status_provider, &n);
    http_get(port, "/", resp, sizeof resp);
    assert_non_null(strstr(resp, "200 OK"));
    assert_non_null(strstr(resp, "text/html; charset=utf-8"));
    assert_non_null(strstr(resp, "\r\n\r\n<p>page</p>"));
    http_get(port, "/api/status", resp, sizeof resp);
    assert_non_null(strstr(resp, "application/json"));
    assert_non_null(strstr(resp, "\r\n\r\n{\"n\":1}\n"));
    http_get(port, "/api/status", resp, sizeof resp);
    assert_non_null(strstr(resp, "{\"n\":2}"));
    n = -1;
    http_get(port, "/api/status", resp, sizeof resp);
    assert_non_null(strstr(resp, "503"));
    assert_non_null(strstr(resp, "\r\n\r\n{\"error\":\"redis \\\"down\\\"\"}\n"));
    /* /metrics is unaffected */
    http_get(port, "/metrics", resp, sizeof resp);
    assert_non_null(strstr(resp, "200 OK"));
    ss_metrics_server_stop(s);
    /* lookup never registers */
    assert_null(ss_metric_find("skyspool_test_never_registered", NULL));
    ss_buf out;
    ss_buf_init(&out);
    assert_int_equal(ss_metrics_render(&out), 0);
    assert_null(strstr(out.data, "skyspool_test_never_registered"));
    ss_buf_free(&out);
    assert_non_null(ss_metric_find("skyspool_test_http_total", NULL));
}

static void test_unset(void **state) {
    (void)state;
    ss_metric *g = ss_metric_get("skyspool_test_from_redis", SS_METRIC_GAUGE, "Read at scrape.", "type=\"post\"");
    ss_metric_set(g, 7);
    ss_buf out;
    ss_buf_init(&out);
    assert_int_equal(ss_metrics_render(&out), 0);
    assert_non_null(strstr(out.data, "skyspool_test_from_redis{type=\"post\"} 7\n"));
    ss_metric_unset(g);
    assert_false(ss_metric_is_set(g));
    out.len = 0;
    assert_int_equal(ss_metrics_render(&out), 0);
    assert_null(strstr(out.data, "skyspool_test_from_redis{"));
    ss_metric_set(g, 8);
    out.len = 0;
    assert_int_equal(ss_metrics_render(&out), 0);
    assert_non_null(strstr(out.data, "skyspool_test_from_redis{type=\"post\"} 8\n"));
    ss_buf_free(&out);
}

static void test_histogram(void **state) {
    (void)state;
    static const double b[] = {0.1, 1, 10};
    static const double bad[] = {1, 1};
    assert_null(ss_histogram_get("skyspool_test_bad_seconds", "x", NULL, bad, 2));
    ss_histogram *h = ss_histogram_get("skyspool_test_flush_seconds", "Flushes.", NULL, b, 3);
    assert_non_null(h);
    ss_histogram_observe(h, 0.05);
    ss_histogram_observe(h, 0.1); /* le is inclusive */
    ss_histogram_observe(h, 5);
    ss_histogram_observe(h, 100);
    ss_buf out;
    ss_buf_init(&out);
    assert_int_equal(ss_metrics_render(&out), 0);
    assert_non_null(strstr(out.data, "# TYPE skyspool_test_flush_seconds histogram\n"
                                     "skyspool_test_flush_seconds_bucket{le=\"0.1\"} 2\n"
                                     "skyspool_test_flush_seconds_bucket{le=\"1\"} 2\n"
                                     "skyspool_test_flush_seconds_bucket{le=\"10\"} 3\n"
                                     "skyspool_test_flush_seconds_bucket{le=\"+Inf\"} 4\n"
                                     "skyspool_test_flush_seconds_sum 105.15000000000001\n"
                                     "skyspool_test_flush_seconds_count 4\n"));
    ss_buf_free(&out);
}

/* The textfile is complete or absent: written to a temp name, renamed; no process_* in it. */
static void test_textfile(void **state) {
    (void)state;
    char dir[] = "/tmp/ss_test_textfile.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256], err[512];
    snprintf(path, sizeof path, "%s/skyspool.prom", dir);
    assert_int_equal(ss_metrics_process_start("9.9.9", "abc"), 0);
    ss_metric_inc(ss_metric_get("skyspool_test_batch_total", SS_METRIC_COUNTER, "Batch.", NULL));
    assert_int_equal(ss_metrics_write_textfile(path, err, sizeof err), 0);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    static char text[65536];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    assert_non_null(strstr(text, "skyspool_test_batch_total 1\n"));
    assert_non_null(strstr(text, "skyspool_build_info{version=\"9.9.9\",revision=\"abc\"} 1\n"));
    assert_non_null(strstr(text, "skyspool_textfile_timestamp_seconds "));
    assert_null(strstr(text, "process_"));
    ss_buf out; /* the endpoint itself does serve process_* */
    ss_buf_init(&out);
    assert_int_equal(ss_metrics_render(&out), 0);
    assert_non_null(strstr(out.data, "\nprocess_resident_memory_bytes "));
    assert_non_null(strstr(out.data, "\nprocess_open_fds "));
    ss_buf_free(&out);
    char bad[300];
    snprintf(bad, sizeof bad, "%s/missing/skyspool.prom", dir);
    assert_int_equal(ss_metrics_write_textfile(bad, err, sizeof err), -1);
    assert_non_null(strstr(err, "cannot write metrics textfile"));
    unlink(path);
    rmdir(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_render), cmocka_unit_test(test_collector), cmocka_unit_test(test_server),
                                       cmocka_unit_test(test_status_routes),
                                       cmocka_unit_test(test_unset), cmocka_unit_test(test_histogram),
                                       cmocka_unit_test(test_textfile)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
