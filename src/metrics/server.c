/* The /metrics HTTP endpoint on libmicrohttpd's internal polling thread.
 *
 * Measured with libmicrohttpd: queuing a response on the first handler call forces "Connection: close",
 * so the handler returns MHD_YES first and queues on the second call, which keeps
 * Prometheus's keep-alive connections alive. Only GET is served. /healthz runs the health
 * checks registered in metrics.h: 200 "ok", or 503 with the failing checks' reasons.
 * "/" and "/api/status" (the status page and its JSON) are served when the command set a
 * status provider; the page is a static string, the JSON comes from the provider, which
 * bounds its own Redis time because this one thread also answers the scrapes. */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/socket.h>

#include "metrics/metrics.h"

struct ss_metrics_server {
    struct MHD_Daemon *daemon;
    int port;
    pthread_mutex_t lock; /* guards the status provider below */
    const char *html;
    ss_metrics_status_fn status_fn;
    void *status_ctx;
};

static enum MHD_Result respond(struct MHD_Connection *conn, unsigned status, const char *ctype, const char *body,
                               size_t len);

static enum MHD_Result serve_status(ss_metrics_server *s, struct MHD_Connection *conn, int page) {
    pthread_mutex_lock(&s->lock);
    const char *html = s->html;
    ss_metrics_status_fn fn = s->status_fn;
    void *ctx = s->status_ctx;
    pthread_mutex_unlock(&s->lock);
    if (!fn) return respond(conn, MHD_HTTP_NOT_FOUND, "text/plain", "see /metrics\n", 13);
    if (page) return respond(conn, MHD_HTTP_OK, "text/html; charset=utf-8", html, strlen(html));
    ss_buf b;
    ss_buf_init(&b);
    char err[1024] = "";
    enum MHD_Result ret;
    if (fn(ctx, &b, err, sizeof err) == 0) {
        ret = respond(conn, MHD_HTTP_OK, "application/json", b.data ? b.data : "{}", b.data ? b.len : 2);
    } else {
        ss_buf_free(&b);
        ss_buf_init(&b);
        ss_buf_puts(&b, "{\"error\":");
        ss_buf_append_json_string(&b, err, strlen(err));
        ss_buf_puts(&b, "}\n");
        ret = respond(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "application/json", b.data ? b.data : "{}", b.data ? b.len : 2);
    }
    ss_buf_free(&b);
    return ret;
}

static enum MHD_Result respond(struct MHD_Connection *conn, unsigned status, const char *ctype, const char *body,
                               size_t len) {
    struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!r) return MHD_NO;
    MHD_add_response_header(r, "Content-Type", ctype);
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                              const char *version, const char *upload, size_t *upload_size, void **req_state) {
    static int first_call_marker;
    if (*req_state == NULL) {
        *req_state = &first_call_marker;
        return MHD_YES;
    }
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return respond(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain", "GET only\n", 9);
    if (!strcmp(url, "/healthz")) {
        /* 503 with one reason a line when a health check fails (Redis down, source stalled,
         * windows due and not committed); a load balancer or systemd watchdog needs no PromQL */
        ss_buf why;
        ss_buf_init(&why);
        int bad = ss_metrics_health(&why);
        enum MHD_Result ret = bad ? respond(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain", why.data ? why.data : "unhealthy\n",
                                            why.data ? why.len : 10)
                                  : respond(conn, MHD_HTTP_OK, "text/plain", "ok\n", 3);
        ss_buf_free(&why);
        return ret;
    }
    if (!strcmp(url, "/") || !strcmp(url, "/index.html")) return serve_status(cls, conn, 1);
    if (!strcmp(url, "/api/status")) return serve_status(cls, conn, 0);
    if (strcmp(url, "/metrics") != 0) return respond(conn, MHD_HTTP_NOT_FOUND, "text/plain", "see /metrics\n", 13);
    ss_buf b;
    ss_buf_init(&b);
    if (ss_metrics_render(&b) != 0) {
        ss_buf_free(&b);
        return respond(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain", "out of memory\n", 14);
    }
    enum MHD_Result ret = respond(conn, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", b.data ? b.data : "", b.len);
    ss_buf_free(&b);
    return ret;
}

ss_metrics_server *ss_metrics_serve(const char *listen, char *err, size_t errlen) {
    char host[64];
    const char *colon = listen ? strrchr(listen, ':') : NULL;
    if (!colon || (size_t)(colon - listen) >= sizeof host) {
        snprintf(err, errlen, "metrics listen address must be HOST:PORT, got '%s'", listen ? listen : "");
        return NULL;
    }
    memcpy(host, listen, (size_t)(colon - listen));
    host[colon - listen] = '\0';
    char *end;
    long port = strtol(colon + 1, &end, 10);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    if (*end || port < 0 || port > 65535 || inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
        snprintf(err, errlen, "metrics listen address must be IPv4:PORT (e.g. 127.0.0.1:9464), got '%s'", listen);
        return NULL;
    }
    ss_metrics_server *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&s->lock, NULL);
    s->daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL, handle, s,
                                 MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_CONNECTION_LIMIT, 64,
                                 MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_END);
    if (!s->daemon) {
        snprintf(err, errlen, "cannot listen on %s for /metrics (port in use?)", listen);
        pthread_mutex_destroy(&s->lock);
        free(s);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? (int)info->port : (int)port;
    return s;
}

int ss_metrics_server_port(const ss_metrics_server *s) { return s ? s->port : -1; }

void ss_metrics_server_set_status(ss_metrics_server *s, const char *html, ss_metrics_status_fn fn, void *ctx) {
    if (!s) return;
    pthread_mutex_lock(&s->lock);
    s->html = html ? html : "";
    s->status_fn = fn;
    s->status_ctx = ctx;
    pthread_mutex_unlock(&s->lock);
}

void ss_metrics_server_stop(ss_metrics_server *s) {
    if (!s) return;
    MHD_stop_daemon(s->daemon);
    pthread_mutex_destroy(&s->lock);
    free(s);
}
