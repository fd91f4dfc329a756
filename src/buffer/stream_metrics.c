/* See stream_metrics.h. The collector runs on the metrics server's thread; a mutex keeps
 * its connection to one user at a time.
 *
 * No stale values: when Redis cannot be read, skyspool_redis_up is 0 and every series read
 * from Redis (stream length, pending, lag, oldest age, Redis's free disk) is unset, so it
 * vanishes from /metrics instead of repeating its last value; the /healthz check answers 503
 * "redis unreachable: ..." at the same time. Free bytes of Redis's filesystem are reported
 * only when Redis runs on this host (embedded, a unix socket, or a loopback address): its
 * `dir` is then a path here. */
#include "buffer/stream_metrics.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <sys/time.h>

#include "buffer/shard.h"
#include "buffer/xinfo.h"
#include "event/event.h"
#include "metrics/metrics.h"
#include "util/clock.h"

struct ss_stream_metrics {
    ss_redis_target *t;
    redisContext *c;
    pthread_mutex_t mu;
    char prefix[200];
    char group[64];
    char last_err[256];
    int local; /* Redis runs on this host: its dir can be statvfs'ed */
    ss_metric *up, *disk_free;
    ss_metric *len[SS_TYPE__COUNT], *pending[SS_TYPE__COUNT], *lag[SS_TYPE__COUNT], *oldest[SS_TYPE__COUNT];
};

static void drop(ss_stream_metrics *m, const char *err) {
    if (m->c) redisFree(m->c);
    m->c = NULL;
    snprintf(m->last_err, sizeof m->last_err, "%s", err && *err ? err : "connection failed");
    ss_metric_set(m->up, 0);
    ss_metric_unset(m->disk_free);
    for (int t = 0; t < SS_TYPE__COUNT; t++) {
        ss_metric_unset(m->len[t]);
        ss_metric_unset(m->pending[t]);
        ss_metric_unset(m->lag[t]);
        ss_metric_unset(m->oldest[t]);
    }
}

static void redis_disk(ss_stream_metrics *m) {
    if (!m->local) return;
    redisReply *r = redisCommand(m->c, "CONFIG GET dir");
    struct statvfs vs;
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 && r->element[1]->type == REDIS_REPLY_STRING &&
        statvfs(r->element[1]->str, &vs) == 0)
        ss_metric_set(m->disk_free, (double)vs.f_bavail * (double)vs.f_frsize);
    else ss_metric_unset(m->disk_free); /* CONFIG renamed away, or not a path here */
    if (r) freeReplyObject(r);
}

/* Connects if needed; 0 with m->c usable, or -1 after drop(). Under m->mu. */
static int ensure(ss_stream_metrics *m) {
    char err[512] = "";
    if (!m->c) m->c = ss_redis_target_connect(m->t, err, sizeof err, NULL);
    if (!m->c) {
        drop(m, err);
        return -1;
    }
    return 0;
}

static void collect(void *ctx) {
    ss_stream_metrics *m = ctx;
    pthread_mutex_lock(&m->mu);
    char err[512] = "";
    int shards = 1; /* with shards (buffer/shard.h), a type's streams are summed */
    if (ensure(m) != 0) goto out;
    if (ss_shard_recorded(m->c, m->prefix, &shards, err, sizeof err) != 0) {
        drop(m, err);
        goto out;
    }
    double now = ((double)ss_wall_us() / 1e6);
    for (int t = 0; t < SS_TYPE__COUNT; t++) {
        ss_stream_info si;
        if (ss_shard_stream_info(m->c, m->prefix, (ss_type)t, shards, m->group, &si, NULL, err, sizeof err) != 0) {
            drop(m, err);
            goto out;
        }
        ss_metric_set(m->len[t], (double)si.length);
        ss_metric_set(m->pending[t], (double)si.pending);
        ss_metric_set(m->lag[t], si.lag >= 0 ? (double)si.lag : (si.has_group ? 0 : (double)si.length));
        double age = si.length > 0 && si.first_ms >= 0 ? now - (double)si.first_ms / 1000.0 : 0;
        ss_metric_set(m->oldest[t], age > 0 ? age : 0);
    }
    redis_disk(m);
    ss_metric_set(m->up, 1);
    m->last_err[0] = '\0';
out:
    pthread_mutex_unlock(&m->mu);
}

static int health(void *ctx, char *why, size_t whylen) {
    ss_stream_metrics *m = ctx;
    pthread_mutex_lock(&m->mu);
    int bad = ensure(m) != 0;
    if (!bad) {
        redisReply *r = redisCommand(m->c, "PING");
        if (!r || r->type == REDIS_REPLY_ERROR) {
            char err[512];
            snprintf(err, sizeof err, "%s", r ? r->str : (m->c->errstr[0] ? m->c->errstr : "no reply"));
            drop(m, err);
            bad = 1;
        }
        if (r) freeReplyObject(r);
    }
    if (bad) snprintf(why, whylen, "redis unreachable: %s", m->last_err);
    else ss_metric_set(m->up, 1);
    pthread_mutex_unlock(&m->mu);
    return bad;
}

ss_stream_metrics *ss_stream_metrics_start(ss_redis_target *t, const char *prefix, const char *group) {
    ss_stream_metrics *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    m->t = t;
    pthread_mutex_init(&m->mu, NULL);
    snprintf(m->prefix, sizeof m->prefix, "%s", prefix ? prefix : "skyspool:");
    snprintf(m->group, sizeof m->group, "%s", group ? group : "writers");
    const ss_redis_url *u = ss_redis_target_url(t);
    m->local = ss_redis_target_is_embedded(t) ||
               (u && (u->is_unix || !strcmp(u->host, "127.0.0.1") || !strcmp(u->host, "::1") || !strcmp(u->host, "localhost")));
    m->up = ss_metric_get("skyspool_redis_up", SS_METRIC_GAUGE,
                          "1 when the last read of Redis succeeded; 0 and the Redis-derived series are absent when not",
                          NULL);
    m->disk_free = ss_metric_get("skyspool_redis_disk_free_bytes", SS_METRIC_GAUGE,
                                 "bytes available to Redis on the filesystem of its dir (Redis on this host only)", NULL);
    ss_metric_unset(m->disk_free);
    for (int i = 0; i < SS_TYPE__COUNT; i++) {
        char labels[48];
        snprintf(labels, sizeof labels, "type=\"%s\"", ss_type_name((ss_type)i));
        m->len[i] = ss_metric_get("skyspool_stream_length", SS_METRIC_GAUGE, "XLEN of each stream", labels);
        m->pending[i] = ss_metric_get("skyspool_stream_pending", SS_METRIC_GAUGE,
                                      "entries delivered to a writer and not yet acknowledged", labels);
        m->lag[i] = ss_metric_get("skyspool_stream_lag", SS_METRIC_GAUGE,
                                  "entries not yet delivered to the writers group", labels);
        m->oldest[i] = ss_metric_get("skyspool_stream_oldest_entry_age_seconds", SS_METRIC_GAUGE,
                                     "wall clock minus the id time of the stream's first entry (0 when empty)", labels);
    }
    if (ss_metrics_add_collector(collect, m) != 0) {
        pthread_mutex_destroy(&m->mu);
        free(m);
        return NULL;
    }
    if (ss_metrics_add_health(health, m) != 0) {
        ss_metrics_remove_collector(collect, m);
        pthread_mutex_destroy(&m->mu);
        free(m);
        return NULL;
    }
    return m;
}

void ss_stream_metrics_stop(ss_stream_metrics *m) {
    if (!m) return;
    ss_metrics_remove_health(health, m);
    ss_metrics_remove_collector(collect, m);
    pthread_mutex_lock(&m->mu);
    if (m->c) redisFree(m->c);
    m->c = NULL;
    pthread_mutex_unlock(&m->mu);
    pthread_mutex_destroy(&m->mu);
    free(m);
}
