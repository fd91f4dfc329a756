/* See cli_redis.h. */
#include "cli/cli_redis.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/time.h>
#include <unistd.h>

#include "buffer/stream_metrics.h"
#include "cli/cli.h"
#include "cli/status_doc.h"
#include "metrics/metrics.h"
#include "util/log.h"
#include "util/clock.h"
#include "ss_revision.h" /* SKYSPOOL_REVISION, written at build time (cmake/revision.cmake) */

int ss_cli_apply_log_level(const char *cmd, const ss_config *cfg) {
    const char *lvl = ss_config_get(cfg, "log-level");
    if (!lvl) return 0;
    int l = ss_log_parse_level(lvl);
    if (l < 0) {
        ss_usage_error(cmd, "bad log level '%s': use debug, info, warn, error or off", lvl);
        return -1;
    }
    ss_log_set_level((ss_log_level)l);
    return 0;
}

ss_redis_target *ss_cli_open_target(const char *cmd, const ss_config *cfg, int *exit_code) {
    ss_target_opts o = {0};
    o.url = ss_config_get(cfg, "redis-url");
    o.password_file = ss_config_get(cfg, "redis-password-file");
    o.data_dir = ss_config_get(cfg, "data-dir");
    o.maxmemory = ss_config_get_bytes(cfg, "maxmemory");
    o.prefix = ss_config_get(cfg, "prefix");
    /* the embedded server's ACL user for this command (buffer/acl.h); run's ingester connects
     * as ingest itself, its writer as write */
    o.role = !strcmp(cmd, "ingest") ? SS_ACL_INGEST
             : !strcmp(cmd, "write") || !strcmp(cmd, "run") ? SS_ACL_WRITE
             : !strcmp(cmd, "status") || !strcmp(cmd, "audit") || !strcmp(cmd, "gaps") ? SS_ACL_STATUS
                                                               : SS_ACL_ADMIN;
    char err[2048];
    ss_err_class cls;
    ss_redis_target *t = ss_redis_target_open(&o, err, sizeof err, &cls);
    if (!t) *exit_code = ss_cmd_error(cmd, cls, "%s", err);
    return t;
}

int ss_cli_require_data_dir(const char *cmd, const ss_config *cfg, int need_always) {
    const char *url = ss_config_get(cfg, "redis-url");
    if (!need_always && url && *url) return 0;
    const char *dir = ss_config_get(cfg, "data-dir");
    if (!dir || !*dir) dir = "./skyspool-data";
    struct stat st;
    if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode)) return 0;
    char abs[PATH_MAX], cwd[PATH_MAX];
    while (dir[0] == '.' && dir[1] == '/') dir += 2;
    if (dir[0] != '/' && getcwd(cwd, sizeof cwd)) snprintf(abs, sizeof abs, "%.2000s/%.2000s", cwd, dir);
    else snprintf(abs, sizeof abs, "%s", dir);
    ss_cmd_fail(cmd, "no skyspool data dir at %s; pass --data-dir%s", abs, need_always ? "" : " (or --redis URL)");
    return -1;
}

static volatile sig_atomic_t *g_flag;
static int64_t g_first_signal_us; /* when the stop request arrived (monotonic) */

/* The first SIGINT/SIGTERM asks for a clean stop; a later one, a second after it or more,
 * ends the process at once. Repeats within that second are the same request delivered twice:
 * timeout(1), for one, signals the child and then its whole process group, and a handler
 * that has run in between must not take the copy for an operator's second Ctrl-C. */
static void on_signal(int sig) {
    int64_t now = ss_mono_us(); /* clock_gettime: async-signal-safe */
    if (g_flag && !*g_flag) {
        g_first_signal_us = now;
        *g_flag = 1;
        return;
    }
    if (g_flag && now - g_first_signal_us < 1000000) return;
    /* second signal: give up at once (an embedded redis-server keeps running; it is reused) */
    signal(sig, SIG_DFL);
    raise(sig);
}

void ss_cli_stop_on_signals(volatile sig_atomic_t *flag) {
    g_flag = flag;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

/* What the command's own metrics say, turned into scrape-time gauges (archive disk, source
 * lag) and /healthz checks. The values are read from the registry (ss_metric_get returns the
 * metric the ingester or writer registered), so neither needs to know about health. */
struct ss_cli_ops {
    int source, writer; /* which checks apply to this command */
    double start_s, source_stall_s, commit_stall_s;
    char out[1024]; /* archive root ("" when none) */
    const ss_config *cfg;   /* for /api/status: the command's settings and Redis target */
    ss_redis_target *target;
    ss_metric *archive_free, *source_lag, *last_event, *event_time, *paused, *due_since, *last_commit;
};

static void ops_collect(void *ctx) {
    struct ss_cli_ops *o = ctx;
    struct statvfs vs;
    if (o->out[0] && statvfs(o->out, &vs) == 0) ss_metric_set(o->archive_free, (double)vs.f_bavail * (double)vs.f_frsize);
    else if (o->archive_free) ss_metric_unset(o->archive_free);
    if (o->source) {
        double et = ss_metric_value(o->event_time);
        if (et > 0) ss_metric_set(o->source_lag, ((double)ss_wall_us() / 1e6) - et);
        else ss_metric_unset(o->source_lag);
    }
}

static int ops_health(void *ctx, char *why, size_t whylen) {
    struct ss_cli_ops *o = ctx;
    double now = ((double)ss_wall_us() / 1e6);
    if (o->source && ss_metric_value(o->paused) == 0) {
        double last = ss_metric_value(o->last_event);
        double since = last > o->start_s ? last : o->start_s;
        if (now - since > o->source_stall_s) {
            snprintf(why, whylen, "source stalled: no event written for %.0f s (limit %.0f s, health-source-stall)",
                     now - since, o->source_stall_s);
            return 1;
        }
    }
    if (o->writer) {
        double due = ss_metric_value(o->due_since);
        if (due > 0 && now - due > o->commit_stall_s) {
            double lc = ss_metric_value(o->last_commit);
            char last[64] = "never";
            if (lc > 0) snprintf(last, sizeof last, "%.0f s ago", now - lc);
            snprintf(why, whylen,
                     "writer not committing: windows due for %.0f s (limit %.0f s, health-commit-stall); last commit %s",
                     now - due, o->commit_stall_s, last);
            return 1;
        }
    }
    return 0;
}

/* /api/status: the `status --json` document plus the ledger's recent runs. Each Redis call
 * is bounded at 1 s: this runs on the listener's only thread, ahead of the next scrape. */
#define SS_STATUS_HTTP_TIMEOUT_MS 1000
#define SS_STATUS_HTTP_RUNS 20
static int ops_status(void *ctx, ss_buf *out, char *err, size_t errlen) {
    struct ss_cli_ops *o = ctx;
    return ss_cli_status_doc(o->target, o->cfg, SS_STATUS_HTTP_TIMEOUT_MS, SS_STATUS_HTTP_RUNS, out, err, errlen);
}

int ss_cli_start_metrics(const char *cmd, const ss_config *cfg, ss_redis_target *t, ss_cli_metrics *m, unsigned flags) {
    memset(m, 0, sizeof *m);
    const char *listen = ss_config_get(cfg, "metrics-listen");
    const char *textfile = ss_config_get(cfg, "metrics-textfile");
    if (textfile && *textfile) m->textfile = textfile;
    if ((!listen || !*listen) && !m->textfile) return 0;
    char err[512];
    if (listen && *listen) {
        m->server = ss_metrics_serve(listen, err, sizeof err);
        if (!m->server && (flags & SS_CLI_METRICS_ONE_PASS)) {
            ss_warn(cmd, "metrics-listen %s: %s; this pass goes on without /metrics (a daemon sharing this "
                         "config may hold the port; metrics-textfile keeps a pass's metrics)", listen, err);
            if (!m->textfile) return 0;
        } else if (!m->server) {
            ss_usage_error(cmd, "metrics-listen %s: %s", listen, err);
            return -1;
        }
    }
    ss_metrics_process_start(SKYSPOOL_VERSION, SKYSPOOL_REVISION);
    m->streams = ss_stream_metrics_start(t, ss_config_get(cfg, "prefix"), "writers");
    struct ss_cli_ops *o = calloc(1, sizeof *o);
    if (o) {
        o->source = !strcmp(cmd, "ingest") || !strcmp(cmd, "run");
        o->writer = !strcmp(cmd, "write") || !strcmp(cmd, "run");
        o->start_s = ((double)ss_wall_us() / 1e6);
        o->cfg = cfg;
        o->target = t;
        o->source_stall_s = (double)ss_config_get_ms(cfg, "health-source-stall") / 1000.0;
        o->commit_stall_s = (double)ss_config_get_ms(cfg, "health-commit-stall") / 1000.0;
        const char *out = ss_config_get(cfg, "out");
        if (out && o->writer) {
            snprintf(o->out, sizeof o->out, "%s", out);
            o->archive_free = ss_metric_get("skyspool_archive_disk_free_bytes", SS_METRIC_GAUGE,
                                            "bytes available to skyspool on the archive's filesystem", NULL);
        }
        if (o->source) {
            o->source_lag = ss_metric_get("skyspool_source_lag_seconds", SS_METRIC_GAUGE,
                                          "wall clock minus the event time of the newest event the source delivered", NULL);
            ss_metric_unset(o->source_lag);
            o->last_event = ss_metric_get("skyspool_ingest_last_event_timestamp_seconds", SS_METRIC_GAUGE,
                                          "wall clock when events were last written to Redis (0: none yet)", NULL);
            o->event_time = ss_metric_get("skyspool_source_event_timestamp_seconds", SS_METRIC_GAUGE,
                                          "event time of the newest event the source delivered (0: none yet)", NULL);
            o->paused = ss_metric_get("skyspool_ingest_paused", SS_METRIC_GAUGE, "1 while ingest is paused by backpressure",
                                      NULL);
        }
        if (o->writer) {
            o->due_since = ss_metric_get("skyspool_writer_due_since_timestamp_seconds", SS_METRIC_GAUGE,
                                         "Since when windows have been due and not committed (0: none waiting)", NULL);
            o->last_commit = ss_metric_get("skyspool_writer_last_commit_timestamp_seconds", SS_METRIC_GAUGE,
                                           "Wall clock of the last successful commit batch (0: none yet)", NULL);
        }
        if (ss_metrics_add_collector(ops_collect, o) != 0) {
            free(o);
            o = NULL;
        } else if (ss_metrics_add_health(ops_health, o) != 0) {
            ss_metrics_remove_collector(ops_collect, o);
            free(o);
            o = NULL;
        }
    }
    m->ops = o;
    if (o && m->server && t) ss_metrics_server_set_status(m->server, ss_status_page_html, ops_status, o);
    if (!m->streams || !o) ss_warn(cmd, "metrics: out of memory or too many collectors; some series are missing");
    if (m->server) ss_info(cmd, "serving /metrics on port %d", ss_metrics_server_port(m->server));
    return 0;
}

int ss_cli_stop_metrics(ss_cli_metrics *m) {
    int rc = 0;
    if (m->textfile) {
        char err[4200];
        if (ss_metrics_write_textfile(m->textfile, err, sizeof err) != 0) {
            ss_error("metrics", "%s", err);
            rc = -1;
        }
    }
    if (m->server) ss_metrics_server_stop(m->server);
    ss_stream_metrics_stop(m->streams);
    if (m->ops) {
        ss_metrics_remove_health(ops_health, m->ops);
        ss_metrics_remove_collector(ops_collect, m->ops);
        free(m->ops);
    }
    memset(m, 0, sizeof *m);
    return rc;
}
