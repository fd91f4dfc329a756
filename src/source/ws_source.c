/* See ws_source.h: what the WebSocket sources share. */
#include "source/ws_source.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/log.h"
#include "util/clock.h"

int ss_ws_source_base(const char *path, ss_buf *base, int64_t *url_cursor) {
    if (ss_ws_query_strip(path, "cursor", base) < 0) return -1;
    const char *cq = strstr(path, "cursor=");
    *url_cursor = cq && (cq[-1] == '?' || cq[-1] == '&') ? strtoll(cq + 7, NULL, 10) : -1;
    return 0;
}

int ss_ws_source_path(ss_buf *path, const ss_buf *base, int64_t cursor) {
    if (ss_buf_append(path, base->data, base->len) < 0) return -1;
    if (cursor < 0) return 0;
    char v[32];
    snprintf(v, sizeof v, "%lld", (long long)cursor);
    return ss_ws_query_add(path, "cursor", v) < 0 ? -1 : 0;
}

void ss_ws_source_client_opts(ss_ws_client_opts *wo, const char *url, const ss_source_opts *so) {
    memset(wo, 0, sizeof *wo);
    wo->url = url;
    wo->tls_ca_file = so->tls_ca_file;
    wo->tls_insecure = so->tls_insecure;
    wo->connect_timeout_ms = so->connect_timeout_ms;
    wo->read_timeout_ms = so->read_timeout_ms;
}

void ss_ws_source_id(char *id, size_t idlen, const char *scheme, const ss_ws_url *u) {
    const char *q = strchr(u->path, '?');
    snprintf(id, idlen, "%s:%s://%s:%d%.*s", scheme, u->tls ? "wss" : "ws", u->host, u->port,
             (int)(q ? (size_t)(q - u->path) : strlen(u->path)), u->path);
}

void ss_source_gap_report(const ss_source_gap *g) {
    long long at = g->detected_us > 0 ? (long long)g->detected_us : (long long)ss_wall_us();
    ss_warn("gap", "gap: source=%s reason=%s unit=%s from=%lld to=%lld detected_us=%lld%s%s", g->source, g->reason,
            g->unit, (long long)g->from, (long long)g->to, at, g->detail ? ": " : "", g->detail ? g->detail : "");
}

void ss_ws_gapq_push(ss_ws_gapq *q, const ss_source_gap *g, int64_t cursor) {
    ss_source_gap c = *g;
    if (c.detected_us <= 0) c.detected_us = (long long)ss_wall_us();
    ss_source_gap_report(&c);
    if (q->n == SS_WS_GAPQ_MAX) {
        ss_error("gap", "more than %d gaps detected at once: the one above is logged only", SS_WS_GAPQ_MAX);
        return;
    }
    int i = (q->head + q->n++) % SS_WS_GAPQ_MAX;
    snprintf(q->detail[i], sizeof q->detail[i], "%s", c.detail ? c.detail : "");
    c.detail = q->detail[i];
    q->g[i] = c;
    q->cursor[i] = cursor;
}

int ss_ws_gapq_pop(ss_ws_gapq *q, ss_source_msg *msg) {
    if (q->n == 0) return 0;
    int i = q->head;
    q->head = (q->head + 1) % SS_WS_GAPQ_MAX;
    q->n--;
    msg->gap = &q->g[i];
    msg->data = "";
    msg->len = 0;
    msg->cursor = q->cursor[i];
    msg->bad_reason = NULL;
    return SS_SOURCE_GAP;
}

void ss_source_link_from_ws(ss_source *s, const ss_ws_client *c) {
    const ss_ws_client_stats *st = ss_ws_client_get_stats(c);
    s->link.live = 1;
    s->link.connected = ss_ws_client_connected(c);
    s->link.connects = st->connects;
    s->link.failures = st->connect_failures;
}
