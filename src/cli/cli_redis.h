/* What every Redis-facing command (ingest, audit, status, write, run) does first: apply the
 * log level, resolve the Redis target from the configuration (URL + password file, or the
 * embedded redis-server in data-dir), and stop on SIGINT/SIGTERM by setting a flag. */
#ifndef SS_CLI_REDIS_H
#define SS_CLI_REDIS_H

#include <signal.h>

#include "buffer/target.h"
#include "cli/config.h"

/* Applies log-level from cfg. Returns 0, or -1 after printing a usage error for cmd. */
int ss_cli_apply_log_level(const char *cmd, const ss_config *cfg);
/* Opens the target described by redis-url, redis-password-file, data-dir, maxmemory.
 * On failure prints "skyspool CMD: ..." once, sets *exit_code (the failure's class through
 * ss_exit_code) and returns NULL. */
ss_redis_target *ss_cli_open_target(const char *cmd, const ss_config *cfg, int *exit_code);
/* The Prometheus endpoint of a long-running command: started when metrics-listen is set,
 * serving the process's own metrics, process_* and skyspool_build_info, the stream gauges
 * read from t at scrape time, and /healthz with the checks of what cmd runs (Redis always;
 * the source for ingest/run; due windows for write/run; the writer itself adds its persisting
 * archive I/O error, writer/ioerr.c). With metrics-textfile=PATH the same
 * metrics (without process_*) are written atomically to PATH when the command ends, for a
 * `write --once` from a timer that lives too briefly to be scraped. */
typedef struct {
    struct ss_metrics_server *server;
    struct ss_stream_metrics *streams;
    struct ss_cli_ops *ops;
    const char *textfile;
} ss_cli_metrics;
/* Returns 0 (also when neither is set), or -1 after printing a usage error for cmd:
 * an operator who asked for metrics gets them or an error. With SS_CLI_METRICS_ONE_PASS (a
 * `write --once` pass, which shares the config of the daemons beside it) an endpoint that
 * cannot be served is a warning: the ingester of the same config holds its port, and the
 * pass's metrics go to metrics-textfile. */
#define SS_CLI_METRICS_ONE_PASS 1u
int ss_cli_start_metrics(const char *cmd, const ss_config *cfg, ss_redis_target *t, ss_cli_metrics *m, unsigned flags);
/* Writes the textfile (if asked) and stops everything; returns 0, or -1 after logging why the
 * textfile could not be written. */
int ss_cli_stop_metrics(ss_cli_metrics *m);

/* For commands that only look (status, audit, runs): with no redis-url (the embedded server),
 * the data dir must exist already; otherwise prints "no skyspool data dir at DIR; pass
 * --data-dir" and returns -1 (exit 1), instead of creating one and starting a fresh Redis
 * whose empty state would look like a healthy, idle buffer. need_always: runs, which reads
 * the ledger in the data dir even with a redis-url. */
int ss_cli_require_data_dir(const char *cmd, const ss_config *cfg, int need_always);

/* Installs SIGINT/SIGTERM handlers that set *flag (a second signal, a second or more after
 * the first, exits at once; a copy within that second is ignored) and ignores SIGPIPE. */
void ss_cli_stop_on_signals(volatile sig_atomic_t *flag);

#endif
