/* Process-wide metrics in the Prometheus text exposition format.
 *
 * Components register a metric once (name, kind, help, optional label set) and then update
 * it lock-free from any thread; the registry renders all of them on demand, grouped by name
 * so that HELP and TYPE appear once per family. The HTTP endpoint (libmicrohttpd, its own
 * thread) serves /metrics and /healthz. Metric names are documented in docs/METRICS.md;
 * every name starts with "skyspool_". Registration is idempotent: registering the same name
 * and labels again returns the same metric, so code paths need no global init order.
 *
 * No stale values: a scrape-time gauge whose source cannot be read (Redis down) is unset,
 * which drops the series from the output until it is set again, rather than exporting the
 * last value it had. /healthz asks the registered health checks and answers 503 with their
 * reasons when one fails. A short-lived command that cannot be scraped writes the same text
 * to a node_exporter textfile (ss_metrics_write_textfile: temp file, fsync, rename). */
#ifndef SS_METRICS_H
#define SS_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

typedef enum { SS_METRIC_COUNTER = 0, SS_METRIC_GAUGE } ss_metric_kind;

typedef struct ss_metric ss_metric;

/* labels: NULL or a Prometheus label body such as `type="post",reason="not_json"`.
 * Returns NULL only when the registry is full (SS_METRICS_MAX) or arguments are invalid. */
#define SS_METRICS_MAX 512
ss_metric *ss_metric_get(const char *name, ss_metric_kind kind, const char *help, const char *labels);
/* The metric registered under name and labels, or NULL; never registers (a reader such as
 * /api/status must not add series the process does not serve). */
ss_metric *ss_metric_find(const char *name, const char *labels);
void ss_metric_add(ss_metric *m, double v); /* counters: v >= 0 */
void ss_metric_inc(ss_metric *m);
void ss_metric_set(ss_metric *m, double v); /* gauges */
double ss_metric_value(const ss_metric *m);
/* Drops the series from the output until the next set/add (its source could not be read). */
void ss_metric_unset(ss_metric *m);
int ss_metric_is_set(const ss_metric *m);

/* Histograms (Prometheus `histogram`): cumulative buckets with upper bounds, +Inf, _sum and
 * _count. bounds: ascending, at most SS_HISTOGRAM_MAX_BUCKETS. Same idempotence as above. */
#define SS_HISTOGRAM_MAX_BUCKETS 16
typedef struct ss_histogram ss_histogram;
ss_histogram *ss_histogram_get(const char *name, const char *help, const char *labels, const double *bounds,
                               size_t nbounds);
void ss_histogram_observe(ss_histogram *h, double v);

/* Health checks for /healthz: fn returns 0 when healthy, else 1 with a one-line reason in
 * why. They run on the server's thread and must be thread-safe with respect to ctx. At most 8. */
typedef int (*ss_health_check)(void *ctx, char *why, size_t whylen);
int ss_metrics_add_health(ss_health_check fn, void *ctx);
void ss_metrics_remove_health(ss_health_check fn, void *ctx);
/* Runs every check; returns 0 when all pass, else the number failing, their reasons appended
 * to why one a line. */
int ss_metrics_health(ss_buf *why);

/* Renders every metric to path atomically (path.tmp.PID, fsync, rename, fsync of the
 * directory), for node_exporter's textfile collector: without process_* (node_exporter serves
 * its own, and a duplicate family fails its whole scrape), with skyspool_textfile_timestamp_seconds.
 * Returns 0 or -1 with err. */
int ss_metrics_write_textfile(const char *path, char *err, size_t errlen);

/* process_* (resident memory, CPU seconds, open fds, max fds, start time, virtual memory)
 * from /proc/self, refreshed at every render, and skyspool_build_info{version,revision} 1.
 * Idempotent; returns 0 or -1 (collector table full). */
int ss_metrics_process_start(const char *version, const char *revision);

/* Collectors refresh gauges that are cheaper to read at scrape time than to maintain
 * (stream lengths, consumer-group lag). Each registered function runs, in order, before
 * every render; it must be thread-safe with respect to its ctx. At most 8. */
typedef void (*ss_metrics_collector)(void *ctx);
int ss_metrics_add_collector(ss_metrics_collector fn, void *ctx);
void ss_metrics_remove_collector(ss_metrics_collector fn, void *ctx);

/* Appends the exposition text of every registered metric. Returns 0 or -1 (out of memory). */
int ss_metrics_render(ss_buf *out);

typedef struct ss_metrics_server ss_metrics_server;
/* listen: "host:port" (host must be an IP literal; use 127.0.0.1 unless you mean it).
 * Port 0 picks a free port; ss_metrics_server_port() tells which. */
ss_metrics_server *ss_metrics_serve(const char *listen, char *err, size_t errlen);
int ss_metrics_server_port(const ss_metrics_server *s);
/* Serves "/" (html, a static page) and "/api/status" (fn appends a JSON document to out and
 * returns 0, or -1 with err: answered 503 {"error":...}). fn runs on the server's thread and
 * must bound its own time (the scrape of /metrics waits behind it on that thread). Without
 * this, both answer 404. Call before traffic arrives; html must outlive the server. */
typedef int (*ss_metrics_status_fn)(void *ctx, ss_buf *out, char *err, size_t errlen);
void ss_metrics_server_set_status(ss_metrics_server *s, const char *html, ss_metrics_status_fn fn, void *ctx);
void ss_metrics_server_stop(ss_metrics_server *s);

#endif
