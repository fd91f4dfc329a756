/* See stream_metrics.h. The collector runs on the metrics server's thread; a mutex keeps
 * its connection to one user at a time. */
#include "buffer/stream_metrics.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buffer/shard.h"
#include "buffer/xinfo.h"
#include "event/event.h"
#include "metrics/metrics.h"

struct ss_stream_metrics {
    ss_redis_target *t;
    redisContext *c;
    pthread_mutex_t mu;
    char prefix[200];
    char group[64];
    ss_metric *len[SS_TYPE__COUNT], *pending[SS_TYPE__COUNT], *lag[SS_TYPE__COUNT];
};

static void collect(void *ctx) {
    ss_stream_metrics *m = ctx;
    pthread_mutex_lock(&m->mu);
    char err[512];
    if (!m->c) m->c = ss_redis_target_connect(m->t, err, sizeof err);
    int shards = 1; /* with shards (buffer/shard.h), a type's streams are summed */
    if (m->c && ss_shard_recorded(m->c, m->prefix, &shards, err, sizeof err) != 0) {
        redisFree(m->c);
        m->c = NULL;
    }
    for (int t = 0; m->c && t < SS_TYPE__COUNT; t++) {
        ss_stream_info si;
        if (ss_shard_stream_info(m->c, m->prefix, (ss_type)t, shards, m->group, &si, NULL, err, sizeof err) != 0) {
            redisFree(m->c);
            m->c = NULL;
            break;
        }
        ss_metric_set(m->len[t], (double)si.length);
        ss_metric_set(m->pending[t], (double)si.pending);
        ss_metric_set(m->lag[t], si.lag >= 0 ? (double)si.lag : (si.has_group ? 0 : (double)si.length));
    }
    pthread_mutex_unlock(&m->mu);
}

ss_stream_metrics *ss_stream_metrics_start(ss_redis_target *t, const char *prefix, const char *group) {
    ss_stream_metrics *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    m->t = t;
    pthread_mutex_init(&m->mu, NULL);
    snprintf(m->prefix, sizeof m->prefix, "%s", prefix ? prefix : "skyspool:");
    snprintf(m->group, sizeof m->group, "%s", group ? group : "writers");
    for (int i = 0; i < SS_TYPE__COUNT; i++) {
        char labels[48];
        snprintf(labels, sizeof labels, "type=\"%s\"", ss_type_name((ss_type)i));
        m->len[i] = ss_metric_get("skyspool_stream_length", SS_METRIC_GAUGE, "XLEN of each stream", labels);
        m->pending[i] = ss_metric_get("skyspool_stream_pending", SS_METRIC_GAUGE,
                                      "entries delivered to a writer and not yet acknowledged", labels);
        m->lag[i] = ss_metric_get("skyspool_stream_lag", SS_METRIC_GAUGE,
                                  "entries not yet delivered to the writers group", labels);
    }
    if (ss_metrics_add_collector(collect, m) != 0) {
        pthread_mutex_destroy(&m->mu);
        free(m);
        return NULL;
    }
    return m;
}

void ss_stream_metrics_stop(ss_stream_metrics *m) {
    if (!m) return;
    ss_metrics_remove_collector(collect, m);
    pthread_mutex_lock(&m->mu);
    if (m->c) redisFree(m->c);
    m->c = NULL;
    pthread_mutex_unlock(&m->mu);
    pthread_mutex_destroy(&m->mu);
    free(m);
}
