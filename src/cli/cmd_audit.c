/* `skyspool audit`: grades a Redis as skyspool's buffer. The checks live in
 * src/buffer/audit.c; this file parses flags, connects (or starts/reuses the embedded
 * server) and prints. Exit status: 0 when no required check fails, 1 otherwise. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "buffer/audit.h"
#include "cli/cli.h"
#include "cli/cli_redis.h"
#include "cli/config.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: skyspool audit [--redis URL] [--json] [--require-maxmemory SIZE]\n\n"
            "Checks that a Redis is fit to be skyspool's buffer, reading CONFIG GET and INFO, and\n"
            "prints PASS, WARN or FAIL with a recommendation for each setting:\n"
            "  required  maxmemory (>= --require-maxmemory), maxmemory-policy noeviction (allkeys-*\n"
            "            silently deletes whole streams), AOF on with everysec/always, last AOF\n"
            "            write/rewrite and RDB save ok\n"
            "  advisory  Redis version, timeout, tcp-backlog, stream node limits, memory in use,\n"
            "            consumer group 'writers' on each stream with pending entries and lag\n"
            "Exits 0 only if no required check fails (1 otherwise), so it can gate a deployment.\n\n"
            "options:\n"
            "  --json                    machine-readable result on stdout\n"
            "  --require-maxmemory SIZE  minimum maxmemory [2gb; for the embedded server: its maxmemory]\n"
            "  --keep-other              also check <prefix>other\n"
            "  -h, --help                this help\n\n"
            "%s\n"
            "examples:\n"
            "  skyspool audit                                   # the embedded server in ./skyspool-data\n"
            "  skyspool audit --redis redis://127.0.0.1:6379 --json | jq .checks   # [exit 0|1]\n"
            "  skyspool audit --redis unix:///run/redis/redis.sock --require-maxmemory 8gb   # [host]\n",
            ss_config_common_help);
}

int ss_cmd_audit(int argc, char **argv) {
    enum { O_JSON = 1, O_REQ, O_KEEP_OTHER };
    static const struct option opts[] = {SS_CONFIG_LONG_OPTIONS,
                                         {"json", no_argument, 0, O_JSON},
                                         {"require-maxmemory", required_argument, 0, O_REQ},
                                         {"keep-other", no_argument, 0, O_KEEP_OTHER},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    ss_config *cfg = ss_config_new();
    if (!cfg) return ss_cmd_fail("audit", "out of memory");
    int json = 0, keep_other = 0, c, rc = 2;
    long long require = 0;
    char err[1024];
    optind = 1;
    while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        int h = ss_config_handle_opt(cfg, c, optarg, err, sizeof err);
        if (h < 0) {
            rc = ss_usage_error("audit", "%s", err);
            goto out;
        }
        if (h == 1) continue;
        switch (c) {
        case 'h': usage(stdout); rc = 0; goto out;
        case O_JSON: json = 1; break;
        case O_KEEP_OTHER: keep_other = 1; break;
        case O_REQ:
            if (ss_parse_bytes(optarg, &require) != 0 || require <= 0) {
                rc = ss_usage_error("audit", "--require-maxmemory wants a size such as 2gb or 512mb, not '%s'",
                                    optarg);
                goto out;
            }
            break;
        default: rc = ss_usage_error("audit", "unknown or incomplete option '%s'", argv[optind - 1]); goto out;
        }
    }
    if (optind < argc) {
        rc = ss_usage_error("audit", "unexpected argument '%s'", argv[optind]);
        goto out;
    }
    if (ss_config_load(cfg, err, sizeof err) != 0) {
        rc = ss_usage_error("audit", "%s", err);
        goto out;
    }
    if (ss_cli_apply_log_level("audit", cfg) != 0) goto out;
    static volatile sig_atomic_t stop;
    ss_cli_stop_on_signals(&stop);
    if (ss_cli_require_data_dir("audit", cfg, 0) != 0) {
        rc = 1;
        goto out;
    }
    ss_redis_target *t = ss_cli_open_target("audit", cfg, &rc);
    if (!t) {
        goto out;
    }
    if (!require && ss_redis_target_is_embedded(t)) require = ss_config_get_bytes(cfg, "maxmemory");
    redisContext *rc_ = ss_redis_target_connect(t, err, sizeof err, NULL);
    if (!rc_) {
        rc = ss_cmd_fail("audit", "%s", err);
    } else {
        static ss_audit a;
        snprintf(a.redis, sizeof a.redis, "%s", ss_redis_target_describe(t));
        ss_audit_opts ao = {.prefix = ss_config_get(cfg, "prefix"), .require_maxmemory = require,
                            .keep_other = keep_other || ss_config_get_bool(cfg, "keep-other")};
        if (ss_audit_run(rc_, &ao, &a, err, sizeof err) != 0) {
            rc = ss_cmd_fail("audit", "reading Redis failed: %s", err);
        } else {
            ss_buf b;
            ss_buf_init(&b);
            if (json) ss_audit_render_json(&a, &b);
            else ss_audit_render_text(&a, &b);
            fwrite(b.data, 1, b.len, stdout);
            fflush(stdout);
            ss_buf_free(&b);
            rc = ss_audit_failures(&a) ? 1 : 0;
        }
        redisFree(rc_);
    }
    if (ss_redis_target_close(t) != 0 && rc == 0) rc = 1;
out:
    ss_config_free(cfg);
    return rc;
}
