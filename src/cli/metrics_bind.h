/* Binds the running pipeline to the Prometheus endpoint (docs/METRICS.md).
 *
 * Nothing on a hot path changes for metrics: the endpoint's collectors copy the ingester's
 * and the writer's own statistics (which they already keep, thread-safe) into metric
 * families at scrape time, and read stream lengths, pending entries and lag from Redis
 * over a connection of their own. A command calls ss_metrics_bind_start() once; when the
 * setting metrics-listen is unset it returns a handle that does nothing. */
#ifndef SS_METRICS_BIND_H
#define SS_METRICS_BIND_H

#include <stddef.h>

#include "buffer/ingest.h"
#include "buffer/target.h"
#include "cli/config.h"

typedef struct ss_metrics_bind ss_metrics_bind;

/* Starts the endpoint when metrics-listen is set. Returns NULL only on failure (message in
 * err), e.g. a port in use. */
ss_metrics_bind *ss_metrics_bind_start(const ss_config *cfg, char *err, size_t errlen);
/* Export this ingester's counters (skyspool_ingest_*). */
void ss_metrics_bind_ingest(ss_metrics_bind *b, ss_ingest *ing);
/* Export stream length / pending / lag of every type and the DLQ length, read from the
 * target's Redis at scrape time (skyspool_stream_*). prefix as in the config. */
void ss_metrics_bind_streams(ss_metrics_bind *b, ss_redis_target *t, const char *prefix);
/* The port actually bound (for metrics-listen with port 0), or -1 when disabled. */
int ss_metrics_bind_port(const ss_metrics_bind *b);
void ss_metrics_bind_stop(ss_metrics_bind *b);

#endif
