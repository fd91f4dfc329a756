/* `skyspool status`: one screen (or one JSON document) describing the buffer. Collection
 * and rendering are in src/buffer/status.c; this file parses flags and connects. */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "buffer/status.h"
#include "cli/cli.h"
#include "cli/cli_redis.h"
#include "cli/config.h"
#include "writer/ledger.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: skyspool status [--redis URL] [--json]\n\n"
            "Shows the Redis buffer at a glance: per-type stream length with the 'writers' group's\n"
            "pending entries and lag, the age of the oldest buffered entry, memory used against\n"
            "maxmemory, each stored source cursor and its age, whether ingest is paused (and why),\n"
            "the dead-letter stream's length, and the gap records (stretches a source did not\n"
            "receive: how many, the newest; skyspool gaps lists them). Read-only.\n\n"
            "options:\n"
            "  --json        one JSON document on stdout; field names are stable (docs/METRICS.md)\n"
            "  -h, --help    this help\n\n"
            "%s\n"
            "examples:\n"
            "  skyspool status                         # the embedded server in ./skyspool-data\n"
            "  skyspool status --redis redis://127.0.0.1:6379 --prefix test:\n"
            "  skyspool status --json | jq '.streams.like.lag, .ingest.paused'\n",
            ss_config_common_help);
}

/* The ledger's latest successful commit (wall-clock µs): 0 none yet, -1 no ledger here. The
 * ledger lives in the writer's data dir; Redis does not know when a commit happened. */
#define SS_STATUS_LEDGER_RUNS 500 /* the last runs looked at: far more than the types x windows of an hour */
typedef struct {
    int64_t latest;
} commit_scan;

static void note_run(void *ctx, const ss_ledger_run_row *r) {
    commit_scan *c = ctx;
    int64_t end = r->started_us + r->duration_ms * 1000;
    if (!strcmp(r->status, "ok") && end > c->latest) c->latest = end;
}

static int64_t last_commit(const char *data_dir) {
    char path[PATH_MAX], err[512];
    snprintf(path, sizeof path, "%.*s/%s", PATH_MAX - 32, data_dir ? data_dir : "./skyspool-data", SS_LEDGER_FILE);
    if (access(path, R_OK) != 0) return -1;
    ss_ledger *l = ss_ledger_open_readonly(path, err, sizeof err);
    if (!l) return -1;
    commit_scan c = {0};
    int rc = ss_ledger_runs(l, SS_STATUS_LEDGER_RUNS, note_run, &c);
    ss_ledger_close(l);
    return rc == 0 ? c.latest : -1;
}

int ss_cmd_status(int argc, char **argv) {
    enum { O_JSON = 1 };
    static const struct option opts[] = {SS_CONFIG_LONG_OPTIONS,
                                         {"json", no_argument, 0, O_JSON},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    ss_config *cfg = ss_config_new();
    if (!cfg) return ss_cmd_fail("status", "out of memory");
    int json = 0, c, rc = 2;
    char err[1024];
    optind = 1;
    while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        int h = ss_config_handle_opt(cfg, c, optarg, err, sizeof err);
        if (h < 0) {
            rc = ss_usage_error("status", "%s", err);
            goto out;
        }
        if (h == 1) continue;
        switch (c) {
        case 'h': usage(stdout); rc = 0; goto out;
        case O_JSON: json = 1; break;
        default: rc = ss_usage_error("status", "unknown option"); goto out;
        }
    }
    if (optind < argc) {
        rc = ss_usage_error("status", "unexpected argument '%s'", argv[optind]);
        goto out;
    }
    if (ss_config_load(cfg, err, sizeof err) != 0) {
        rc = ss_usage_error("status", "%s", err);
        goto out;
    }
    if (ss_cli_apply_log_level("status", cfg) != 0) goto out;
    static volatile sig_atomic_t stop;
    ss_cli_stop_on_signals(&stop);
    if (ss_cli_require_data_dir("status", cfg, 0) != 0) {
        rc = 1;
        goto out;
    }
    ss_redis_target *t = ss_cli_open_target("status", cfg);
    if (!t) {
        rc = 1;
        goto out;
    }
    redisContext *rx = ss_redis_target_connect(t, err, sizeof err);
    if (!rx) {
        rc = ss_cmd_fail("status", "%s", err);
    } else {
        static ss_status s;
        snprintf(s.redis, sizeof s.redis, "%s", ss_redis_target_describe(t));
        if (ss_status_collect(rx, ss_config_get(cfg, "prefix"), "writers", &s, err, sizeof err) != 0) {
            rc = ss_cmd_fail("status", "reading Redis failed: %s", err);
        } else {
            s.last_commit_us = last_commit(ss_config_get(cfg, "data-dir"));
            ss_buf b;
            ss_buf_init(&b);
            if (json) ss_status_render_json(&s, &b);
            else ss_status_render_text(&s, &b);
            fwrite(b.data, 1, b.len, stdout);
            fflush(stdout);
            ss_buf_free(&b);
            rc = 0;
        }
        redisFree(rx);
    }
    if (ss_redis_target_close(t) != 0 && rc == 0) rc = 1;
out:
    ss_config_free(cfg);
    return rc;
}
