/* Scrape-time gauges of the buffer: skyspool_stream_length, _pending and _lag per type
 * (docs/METRICS.md). Registered as a metrics collector, so they are read from Redis (XINFO)
 * only when /metrics is scraped, on a connection of their own (opened lazily, reopened
 * after errors). Any long-running command that serves /metrics can start one:
 *
 *     ss_stream_metrics *sm = ss_stream_metrics_start(target, "skyspool:", "writers");
 *     ...
 *     ss_stream_metrics_stop(sm);
 */
#ifndef SS_BUFFER_STREAM_METRICS_H
#define SS_BUFFER_STREAM_METRICS_H

#include "buffer/target.h"

typedef struct ss_stream_metrics ss_stream_metrics;

/* NULL when out of memory or the collector table is full. The target must outlive it. */
ss_stream_metrics *ss_stream_metrics_start(ss_redis_target *t, const char *prefix, const char *group);
void ss_stream_metrics_stop(ss_stream_metrics *m);

#endif
