/* See metrics_bind.h. Collectors run on the HTTP thread, one scrape at a time. */
#include "cli/metrics_bind.h"

#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buffer/xinfo.h"
#include "event/event.h"
#include "metrics/metrics.h"
#include "util/log.h"

struct ss_metrics_bind {
    ss_metrics_server *server;
    ss_ingest *ing;
    ss_redis_target *target;
    char prefix[256];
    int collecting;
};

static void set_type_metric(const char *name, const char *help, ss_metric_kind kind, ss_type t, double v) {
    char labels[64];
    snprintf(labels, sizeof labels, "type=\"%s\"", ss_type_name(t));
    ss_metric_set(ss_metric_get(name, kind, help, labels), v);
}

static void collect_ingest(void *ctx) {
    ss_metrics_bind *b = ctx;
    if (!b->ing) return;
    ss_ingest_stats st;
    ss_ingest_get_stats(b->ing, &st);
    for (int t = 0; t < SS_TYPE__COUNT; t++)
        set_type_metric("skyspool_ingest_events_total", "Events written to their Redis stream.", SS_METRIC_COUNTER,
                        (ss_type)t, (double)st.by_type[t]);
    for (int i = 0; i < st.nreasons; i++) {
        char labels[96];
        snprintf(labels, sizeof labels, "reason=\"%s\"", st.reason[i]);
        ss_metric_set(ss_metric_get("skyspool_ingest_dlq_total", SS_METRIC_COUNTER,
                                    "Inputs sent to the dead-letter stream, by reason.", labels),
                      (double)st.reason_count[i]);
    }
    ss_metric_set(ss_metric_get("skyspool_ingest_other_total", SS_METRIC_COUNTER,
                                "Events of other collections seen (kept only with keep-other).", NULL),
                  (double)st.other_skipped);
    ss_metric_set(ss_metric_get("skyspool_ingest_paused", SS_METRIC_GAUGE, "1 while ingest is paused by backpressure.",
                                NULL),
                  st.paused ? 1.0 : 0.0);
    ss_metric_set(ss_metric_get("skyspool_ingest_pauses_total", SS_METRIC_COUNTER, "Backpressure pauses.", NULL),
                  (double)st.pauses);
    ss_metric_set(ss_metric_get("skyspool_ingest_oom_replies_total", SS_METRIC_COUNTER,
                                "Entries Redis refused with OOM (re-sent after the pause).", NULL),
                  (double)st.oom_replies);
    ss_metric_set(ss_metric_get("skyspool_ingest_redis_reconnects_total", SS_METRIC_COUNTER,
                                "Reconnections to Redis.", NULL),
                  (double)st.reconnects);
    ss_metric_set(ss_metric_get("skyspool_ingest_bytes_total", SS_METRIC_COUNTER,
                                "Event bytes written to Redis.", NULL),
                  (double)st.bytes);
    if (st.has_cursor)
        ss_metric_set(ss_metric_get("skyspool_ingest_cursor", SS_METRIC_GAUGE,
                                    "The last source cursor stored in Redis.", NULL),
                      (double)st.cursor);
}

static void collect_streams(void *ctx) {
    ss_metrics_bind *b = ctx;
    if (!b->target) return;
    char err[512];
    redisContext *c = ss_redis_target_connect(b->target, err, sizeof err);
    ss_metric *up = ss_metric_get("skyspool_redis_up", SS_METRIC_GAUGE, "1 when the buffer Redis answered the last scrape.",
                                  NULL);
    if (!c) {
        ss_metric_set(up, 0);
        ss_debug("metrics", "stream metrics: %s", err);
        return;
    }
    ss_metric_set(up, 1);
    for (int t = 0; t < SS_TYPE__COUNT; t++) {
        char key[320];
        snprintf(key, sizeof key, "%s%s", b->prefix, ss_type_name((ss_type)t));
        ss_stream_info si;
        if (ss_stream_info_get(c, key, "writers", &si, err, sizeof err) != 0) break;
        if (!si.exists && t == SS_TYPE_OTHER) continue;
        set_type_metric("skyspool_stream_length", "XLEN of each stream.", SS_METRIC_GAUGE, (ss_type)t,
                        (double)si.length);
        set_type_metric("skyspool_stream_pending", "Entries delivered to a writer and not yet acknowledged.",
                        SS_METRIC_GAUGE, (ss_type)t, (double)si.pending);
        /* Without a group (no writer has run yet) every entry is undelivered. */
        double lag = si.has_group ? (si.lag >= 0 ? (double)si.lag : (double)si.length - (double)si.pending)
                                  : (double)si.length;
        set_type_metric("skyspool_stream_lag", "Entries not yet delivered to the writers group.", SS_METRIC_GAUGE,
                        (ss_type)t, lag);
    }
    char dlq[320];
    snprintf(dlq, sizeof dlq, "%sdlq", b->prefix);
    redisReply *r = redisCommand(c, "XLEN %s", dlq);
    if (r && r->type == REDIS_REPLY_INTEGER)
        ss_metric_set(ss_metric_get("skyspool_dlq_length", SS_METRIC_GAUGE, "Entries in the dead-letter stream.", NULL),
                      (double)r->integer);
    if (r) freeReplyObject(r);
    redisFree(c);
}

ss_metrics_bind *ss_metrics_bind_start(const ss_config *cfg, char *err, size_t errlen) {
    ss_metrics_bind *b = calloc(1, sizeof *b);
    if (!b) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    const char *listen = ss_config_get(cfg, "metrics-listen");
    if (!listen || !*listen) return b;
    b->server = ss_metrics_serve(listen, err, errlen);
    if (!b->server) {
        free(b);
        return NULL;
    }
    ss_info("metrics", "serving /metrics on %s (port %d)", listen, ss_metrics_server_port(b->server));
    return b;
}

void ss_metrics_bind_ingest(ss_metrics_bind *b, ss_ingest *ing) {
    if (!b || !b->server) return;
    b->ing = ing;
    ss_metrics_add_collector(collect_ingest, b);
}

void ss_metrics_bind_streams(ss_metrics_bind *b, ss_redis_target *t, const char *prefix) {
    if (!b || !b->server) return;
    b->target = t;
    snprintf(b->prefix, sizeof b->prefix, "%s", prefix ? prefix : "skyspool:");
    ss_metrics_add_collector(collect_streams, b);
}

int ss_metrics_bind_port(const ss_metrics_bind *b) { return b && b->server ? ss_metrics_server_port(b->server) : -1; }

void ss_metrics_bind_stop(ss_metrics_bind *b) {
    if (!b) return;
    /* Stop serving first, so no collector runs while its context goes away. */
    ss_metrics_server_stop(b->server);
    ss_metrics_remove_collector(collect_ingest, b);
    ss_metrics_remove_collector(collect_streams, b);
    free(b);
}
