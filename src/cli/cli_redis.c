/* See cli_redis.h. */
#include "cli/cli_redis.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "buffer/stream_metrics.h"
#include "cli/cli.h"
#include "metrics/metrics.h"
#include "util/log.h"

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

ss_redis_target *ss_cli_open_target(const char *cmd, const ss_config *cfg) {
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
    ss_redis_target *t = ss_redis_target_open(&o, err, sizeof err);
    if (!t) ss_cmd_fail(cmd, "%s", err);
    return t;
}

static volatile sig_atomic_t *g_flag;

static void on_signal(int sig) {
    if (g_flag && !*g_flag) {
        *g_flag = 1;
        return;
    }
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

int ss_cli_start_metrics(const char *cmd, const ss_config *cfg, ss_redis_target *t, ss_cli_metrics *m) {
    m->server = NULL;
    m->streams = NULL;
    const char *listen = ss_config_get(cfg, "metrics-listen");
    if (!listen || !*listen) return 0;
    char err[512];
    m->server = ss_metrics_serve(listen, err, sizeof err);
    if (!m->server) {
        ss_usage_error(cmd, "metrics-listen %s: %s", listen, err);
        return -1;
    }
    m->streams = ss_stream_metrics_start(t, ss_config_get(cfg, "prefix"), "writers");
    ss_info(cmd, "serving /metrics on port %d", ss_metrics_server_port(m->server));
    return 0;
}

void ss_cli_stop_metrics(ss_cli_metrics *m) {
    if (m->server) ss_metrics_server_stop(m->server);
    ss_stream_metrics_stop(m->streams);
    m->server = NULL;
    m->streams = NULL;
}
