/* Metrics registry rendering and the /metrics HTTP endpoint, read over a real socket. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
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
    ss_metrics_server_stop(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_render), cmocka_unit_test(test_collector), cmocka_unit_test(test_server)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
