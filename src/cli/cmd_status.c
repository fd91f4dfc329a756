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
#include "cli/status_doc.h"

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
        default: rc = ss_usage_error("status", "unknown or incomplete option '%s'", argv[optind - 1]); goto out;
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
    ss_redis_target *t = ss_cli_open_target("status", cfg, &rc);
    if (!t) {
        goto out;
    }
    if (json) {
        /* the same builder as the metrics listener's /api/status (without the runs) */
        ss_buf b;
        ss_buf_init(&b);
        int drc = ss_cli_status_doc(t, cfg, 5000, 0, &b, err, sizeof err);
        if (drc != 0) {
            rc = ss_cmd_error("status", ss_err_class_of_rc(drc), "%s", err);
        } else {
            fwrite(b.data, 1, b.len, stdout);
            fflush(stdout);
            rc = 0;
        }
        ss_buf_free(&b);
    } else {
        static ss_status s;
        int crc = ss_cli_status_collect(t, cfg, 5000, &s, err, sizeof err);
        if (crc != 0) {
            rc = ss_cmd_error("status", ss_err_class_of_rc(crc), "%s", err);
        } else {
            ss_buf b;
            ss_buf_init(&b);
            ss_status_render_text(&s, &b);
            fwrite(b.data, 1, b.len, stdout);
            fflush(stdout);
            ss_buf_free(&b);
            rc = 0;
        }
    }
    if (ss_redis_target_close(t) != 0 && rc == 0) rc = 1;
out:
    ss_config_free(cfg);
    return rc;
}
