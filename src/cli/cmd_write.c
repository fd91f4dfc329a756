/* `skyspool write`: Redis Streams -> hive-partitioned Parquet, exactly once. The engine is
 * src/writer/writer.c; this file maps flags and configuration to ss_writer_opts (shared
 * with `skyspool run` through ss_cli_writer_opts), handles signals and reports. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "archive/archive.h"
#include "buffer/shard.h"
#include "buffer/target.h"
#include "cli/cli.h"
#include "cli/cli_redis.h"
#include "cli/cli_writer.h"
#include "cli/config.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/mem.h"
#include "writer/claimset.h"
#include "writer/window.h"
#include "writer/writer.h"
#include "util/clock.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: skyspool write --out DIR [--once [--all]] [--consumer NAME] [options]\n\n"
            "Turns the buffered events into hive-partitioned Parquet, one part file per 5-minute\n"
            "window of event time and type:  DIR/year=Y/month=M/day=D/hour=H/type=T/*.parquet\n"
            "It reads the streams through the consumer group 'writers'. A window is written when\n"
            "the watermark passes its end plus the grace period; only after the file is fsynced,\n"
            "renamed into place and recorded in the run ledger (DATA_DIR/ledger.sqlite) are its\n"
            "entries acknowledged and deleted from Redis: exactly once, across crashes at any step.\n"
            "Duplicates (same did, collection, rkey, rev, operation) within the dedup horizon are\n"
            "written once. Late events go to extra part files in their own partition.\n"
            "Several writers may run in the same group; each writes its own part files. All writers of\n"
            "one buffer (or of one shard) must share one ledger, i.e. run on one machine with one\n"
            "data dir: the first writer records its ledger as the owner in Redis, others are refused.\n"
            "To spread the work over machines, ingest with --shards M and run the writers of\n"
            "machine A with --shard 0/M, of machine B with --shard 1/M, and so on. `skyspool runs`\n"
            "shows the history.\n\n"
            "modes:\n"
            "  (default)             daemon: run until SIGINT/SIGTERM, writing windows as they close\n"
            "  --once                process what is buffered now, write every window whose end plus\n"
            "                        grace has passed, then exit (for cron or a systemd timer)\n"
            "  --all                 with --once: write the still-open window too\n\n"
            "options:\n"
            "  --out DIR             archive root (key out; required), or s3://BUCKET[/PREFIX]: parts are\n"
            "                        staged in DATA_DIR/s3-staging, uploaded, then committed (settings\n"
            "                        s3-endpoint, s3-region, s3-path-style, s3-part-size, s3-storage-class;\n"
            "                        credentials from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or a 0600\n"
            "                        ~/.aws/credentials, never from the command line)\n"
            "  --consumer NAME       consumer name in the group [<host>-<pid>] (+ .s<I> with --shard)\n"
            "  --shard I[/M]         consume only shard I of M (streams <prefix><type>:<I>); M from\n"
            "                        /M or the shards setting, and it must be what the ingester\n"
            "                        recorded (keys shard and shards; default: unsharded)\n"
            "  --take-shard          claim the shard (or unsharded buffer) for this ledger although\n"
            "                        another ledger owns it: only when that machine is gone for good\n"
            "                        (what it committed but had not acknowledged is written again)\n"
            "  --window DUR          window length, must divide an hour [5m]     (key window)\n"
            "  --grace DUR           a window closes this long after its end [30s] (key grace)\n"
            "  --dedup-horizon DUR   event-time horizon of duplicate removal, at most 24h [1h] (key dedup-horizon)\n"
            "  --claim-idle DUR      take over entries of a consumer silent this long [60s] (key claim-idle)\n"
            "  --retry-max DUR       cap of the retry backoff [5m]               (key retry-max)\n"
            "  --memory-budget SIZE  bound on buffered rows; larger windows spill into more part\n"
            "                        files [" SS_XSTR(SS_WRITER_DEFAULT_MEMORY_BUDGET_MB) "mb]                                (key memory-budget)\n"
            "  --max-attempts N      give up after N failed attempts in a row [0 = retry forever]\n"
            "  --count N             entries per stream per XREADGROUP [1000]\n"
            "  --ledger FILE         run ledger [DATA_DIR/ledger.sqlite]\n"
            "  --json                print the final counts as JSON on stdout\n"
            "  -h, --help            this help\n\n"
            "settings (--set KEY=VALUE, env, config file): codec [zstd], zstd-level [" SS_XSTR(SS_AR_DEFAULT_ZSTD_LEVEL) "], metrics-listen (host:port for GET /metrics\n"
            "and /healthz), metrics-textfile (PATH: write the metrics there at exit, for node_exporter's textfile collector;\n"
            "for --once), health-commit-stall [10m] (/healthz: 503 when due windows wait this long), and the keys above\n\n"
            "%s\n"
            "fault injection (tests): SKYSPOOL_CRASH_AT=after_claim|after_write|after_rename|s3_mid_upload|after_upload|after_ledger|after_ack[:N]\n"
            "  makes the writer SIGKILL itself the Nth time it reaches that step of the commit protocol.\n\n"
            "examples:\n"
            "  skyspool write --out archive                         # daemon, embedded Redis [daemon]\n"
            "  skyspool write --out archive --once                  # what is due now, then exit\n"
            "  skyspool write --out archive --once --all --redis redis://127.0.0.1:6379\n"
            "  skyspool write --out /data/bsky --consumer w2 --set window=15m   # second writer [host]\n"
            "  skyspool write --out /data/bsky --redis redis://10.0.0.5:6379 --shard 1/2   # machine B [host]\n",
            ss_config_common_help);
}

static redisContext *connect_target(void *ctx, char *err, size_t errlen, ss_err_class *cls) {
    return ss_redis_target_connect_as((ss_redis_target *)ctx, SS_ACL_WRITE, err, errlen, cls);
}

/* The S3 settings of --out s3://, kept for the writer's lifetime (one writer per process). */
static ss_s3_credentials g_s3_cred;
static ss_s3_config g_s3_cfg;

int ss_cli_s3_config(const char *cmd, const ss_config *cfg, const ss_s3_config **out, size_t *part_size) {
    char err[1024];
    if (ss_s3_credentials_load(&g_s3_cred, NULL, err, sizeof err) != 0) {
        fprintf(stderr, "skyspool %s: %s\n", cmd, err);
        return 1;
    }
    long long ps = ss_config_get_bytes(cfg, "s3-part-size");
    if (ps < (long long)SS_S3_MIN_PART || ps > (long long)SS_S3_MAX_PART)
        return ss_usage_error(cmd, "s3-part-size must be 256kb..512mb (AWS, R2, B2: at least 5mb), not %lld bytes", ps);
    memset(&g_s3_cfg, 0, sizeof g_s3_cfg);
    g_s3_cfg.endpoint = ss_config_get(cfg, "s3-endpoint");
    g_s3_cfg.region = ss_config_get(cfg, "s3-region");
    g_s3_cfg.path_style = ss_config_get_bool(cfg, "s3-path-style");
    g_s3_cfg.storage_class = ss_config_get(cfg, "s3-storage-class");
    g_s3_cfg.stall_ms = ss_config_get_ms(cfg, "s3-stall-timeout");
    g_s3_cfg.cred = &g_s3_cred;
    *out = &g_s3_cfg;
    *part_size = (size_t)ps;
    return 0;
}

int ss_cli_writer_opts(const char *cmd, const ss_config *cfg, ss_redis_target *t, ss_writer_opts *o) {
    o->out = ss_config_get(cfg, "out");
    if (o->out && !strncmp(o->out, "s3://", 5)) {
        int r = ss_cli_s3_config(cmd, cfg, &o->s3, &o->s3_part_size);
        if (r != 0) return r;
    }
    o->data_dir = ss_config_get(cfg, "data-dir");
    o->prefix = ss_config_get(cfg, "prefix");
    o->connect = connect_target;
    o->connect_ctx = t;
    o->window_us = ss_config_get_ms(cfg, "window") * 1000;
    o->grace_us = ss_config_get_ms(cfg, "grace") * 1000;
    o->horizon_us = ss_config_get_ms(cfg, "dedup-horizon") * 1000;
    o->claim_idle_ms = ss_config_get_ms(cfg, "claim-idle");
    o->retry_max_ms = ss_config_get_ms(cfg, "retry-max");
    o->memory_budget = (size_t)ss_config_get_bytes(cfg, "memory-budget");
    o->zstd_level = (int)ss_config_get_int(cfg, "zstd-level");
    long long shards = ss_config_get_int(cfg, "shards");
    if (shards < 1 || shards > SS_SHARDS_MAX) return ss_usage_error(cmd, "shards wants 1..%d, not %lld", SS_SHARDS_MAX, shards);
    o->shards = (int)shards;
    const char *codec = ss_config_get(cfg, "codec");
    if (codec && ss_pq_codec_parse(codec, &o->codec) != 0)
        return ss_usage_error(cmd, "codec '%s' is not one of zstd, snappy, none", codec);
    if (!o->out || !*o->out) return ss_usage_error(cmd, "--out DIR is required (or set key 'out')");
    if (!ss_writer_window_len_valid(o->window_us))
        return ss_usage_error(cmd, "window must be whole seconds dividing an hour (1m, 5m, 10m, 15m, 30m, 1h ...)");
    if (o->memory_budget < (1u << 20)) return ss_usage_error(cmd, "memory-budget must be at least 1mb");
    if (o->horizon_us > SS_CLAIMSET_HORIZON_MAX_US)
        return ss_usage_error(cmd, "dedup-horizon must be at most 24h");
    if (o->retry_max_ms < o->retry_base_ms) o->retry_max_ms = o->retry_base_ms;
    return 0;
}

int ss_cli_writer_flag(ss_config *cfg, int c, const char *arg, char *err, size_t errlen) {
    static const struct {
        int opt;
        const char *key;
    } map[] = {{SS_CLI_W_OUT, "out"},
               {SS_CLI_W_WINDOW, "window"},
               {SS_CLI_W_GRACE, "grace"},
               {SS_CLI_W_HORIZON, "dedup-horizon"},
               {SS_CLI_W_CLAIM_IDLE, "claim-idle"},
               {SS_CLI_W_RETRY_MAX, "retry-max"},
               {SS_CLI_W_BUDGET, "memory-budget"}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (map[i].opt == c) return ss_config_set(cfg, map[i].key, arg, SS_CFG_FLAG, err, errlen) == 0 ? 1 : -1;
    return 0;
}

void ss_cli_writer_stats_json(const ss_writer_stats *s, double secs, ss_buf *b) {
    ss_buf_puts(b, "{\"consumer\":");
    ss_buf_append_json_string(b, s->consumer, strlen(s->consumer));
    ss_buf_printf(b,
                  ",\"entries\":%" PRIu64 ",\"rows\":%" PRIu64 ",\"duplicates\":%" PRIu64 ",\"late_rows\":%" PRIu64
                  ",\"files\":%" PRIu64 ",\"bytes\":%" PRIu64 ",\"commits\":%" PRIu64 ",\"recovered\":%" PRIu64
                  ",\"reclaimed\":%" PRIu64 ",\"dlq\":%" PRIu64 ",\"failures\":%" PRIu64
                  ",\"released_claims\":%" PRIu64 ",\"lost\":%" PRIu64 ",\"seconds\":%.3f}\n",
                  s->entries, s->rows, s->dups, s->late_rows, s->files, s->bytes, s->commits, s->recovered,
                  s->reclaimed, s->dlq, s->failures, s->released, s->lost, secs);
}

int ss_cmd_write(int argc, char **argv) {
    enum { O_ONCE = 1, O_ALL, O_CONSUMER, O_MAX_ATTEMPTS, O_COUNT, O_LEDGER, O_JSON, O_SHARD, O_TAKE_SHARD };
    ss_mem_configure(); /* the lanes' buffers in mappings, not in arenas (util/mem.h) */
    static const struct option opts[] = {SS_CONFIG_LONG_OPTIONS,
                                         SS_CLI_WRITER_LONG_OPTIONS,
                                         {"once", no_argument, 0, O_ONCE},
                                         {"all", no_argument, 0, O_ALL},
                                         {"consumer", required_argument, 0, O_CONSUMER},
                                         {"max-attempts", required_argument, 0, O_MAX_ATTEMPTS},
                                         {"count", required_argument, 0, O_COUNT},
                                         {"ledger", required_argument, 0, O_LEDGER},
                                         {"json", no_argument, 0, O_JSON},
                                         {"shard", required_argument, 0, O_SHARD},
                                         {"take-shard", no_argument, 0, O_TAKE_SHARD},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    ss_config *cfg = ss_config_new();
    if (!cfg) return ss_cmd_fail("write", "out of memory");
    ss_writer_opts wo;
    ss_writer_opts_init(&wo);
    int json = 0, c, rc = 2, shard = -1, shard_m = 0;
    long long v;
    char err[1024];
    optind = 1;
    while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        int h = ss_config_handle_opt(cfg, c, optarg, err, sizeof err);
        if (h == 0) h = ss_cli_writer_flag(cfg, c, optarg, err, sizeof err);
        if (h < 0) {
            rc = ss_usage_error("write", "%s", err);
            goto out;
        }
        if (h == 1) continue;
        switch (c) {
        case 'h': usage(stdout); rc = 0; goto out;
        case O_ONCE: wo.once = 1; break;
        case O_ALL: wo.all = 1; break;
        case O_CONSUMER:
            if (!ss_writer_valid_consumer(optarg)) {
                rc = ss_usage_error("write", "--consumer '%s': use 1-%d characters of A-Z a-z 0-9 . _ -", optarg,
                                    SS_WRITER_MAX_CONSUMER);
                goto out;
            }
            wo.consumer = optarg;
            break;
        case O_MAX_ATTEMPTS:
            if (ss_parse_i64(optarg, 0, 1000000, &v) != 0) {
                rc = ss_usage_error("write", "--max-attempts wants 0..1000000, not '%s'", optarg);
                goto out;
            }
            wo.max_attempts = (int)v;
            break;
        case O_COUNT:
            if (ss_parse_i64(optarg, 1, 10000, &v) != 0) {
                rc = ss_usage_error("write", "--count wants 1..10000, not '%s'", optarg);
                goto out;
            }
            wo.count = (int)v;
            break;
        case O_LEDGER: wo.ledger = optarg; break;
        case O_JSON: json = 1; break;
        case O_SHARD:
            if (ss_config_set(cfg, "shard", optarg, SS_CFG_FLAG, err, sizeof err) != 0) {
                rc = ss_usage_error("write", "--shard: %s", err);
                goto out;
            }
            break;
        case O_TAKE_SHARD: wo.take_shard = 1; break;
        default: rc = ss_usage_error("write", "unknown or incomplete option '%s'", argv[optind - 1]); goto out;
        }
    }
    if (optind < argc) {
        rc = ss_usage_error("write", "unexpected argument '%s'", argv[optind]);
        goto out;
    }
    if (wo.all && !wo.once) {
        rc = ss_usage_error("write", "--all only makes sense with --once");
        goto out;
    }
    if (ss_config_load(cfg, err, sizeof err) != 0) {
        rc = ss_usage_error("write", "%s", err);
        goto out;
    }
    if (ss_cli_apply_log_level("write", cfg) != 0) goto out;
    if ((rc = ss_cli_writer_opts("write", cfg, NULL, &wo)) != 0) goto out;
    rc = 2;
    const char *shard_s = ss_config_get(cfg, "shard");
    if (shard_s && ss_shard_parse(shard_s, &shard, &shard_m) != 0) {
        rc = ss_usage_error("write", "shard wants I or I/M with 0 <= I < M <= %d, not '%s'", SS_SHARDS_MAX, shard_s);
        goto out;
    }
    if (shard_m > 0) {
        if (ss_config_get_origin(cfg, "shards") != SS_CFG_DEFAULT && ss_config_get_int(cfg, "shards") != shard_m) {
            rc = ss_usage_error("write", "--shard %d/%d contradicts shards=%lld", shard, shard_m,
                                ss_config_get_int(cfg, "shards"));
            goto out;
        }
        wo.shards = shard_m;
    }
    if (wo.shards > 1 && shard < 0) {
        rc = ss_usage_error("write", "shards=%d: say which shard this writer consumes with --shard I (0..%d)", wo.shards,
                            wo.shards - 1);
        goto out;
    }
    if (shard >= 0 && wo.shards <= 1) {
        rc = ss_usage_error("write", "--shard %d needs the number of shards: --shard %d/M or shards=M", shard, shard);
        goto out;
    }
    if (shard >= wo.shards && wo.shards > 1) {
        rc = ss_usage_error("write", "--shard %d: there are only %d shards (0..%d)", shard, wo.shards, wo.shards - 1);
        goto out;
    }
    if (shard >= 0) wo.shard = shard;
    static volatile sig_atomic_t stop;
    stop = 0;
    ss_cli_stop_on_signals(&stop);
    ss_redis_target *t = ss_cli_open_target("write", cfg, &rc);
    if (!t) {
        goto out;
    }
    wo.connect_ctx = t;
    ss_cli_metrics metrics;
    if (ss_cli_start_metrics("write", cfg, t, &metrics, wo.once ? SS_CLI_METRICS_ONE_PASS : 0) != 0) {
        ss_redis_target_close(t);
        rc = 2;
        goto out;
    }
    ss_writer *w = ss_writer_new(&wo, err, sizeof err);
    if (!w) {
        rc = ss_cmd_fail("write", "%s", err);
    } else {
        double t0 = ss_mono_s();
        int r = ss_writer_run(w, &stop);
        double secs = ss_mono_s() - t0;
        ss_writer_stats st;
        ss_writer_get_stats(w, &st);
        rc = r != 0 ? ss_cmd_error("write", ss_writer_errclass(w), "%s", ss_writer_errstr(w)) : 0;
        ss_info("write",
                "%s: %" PRIu64 " rows in %" PRIu64 " files (%" PRIu64 " bytes), %" PRIu64 " duplicates, %" PRIu64
                " late, %" PRIu64 " recovered, %" PRIu64 " failed attempts in %.1f s (%.0f entries/s)",
                stop ? "stopped" : (r ? "failed" : "done"), st.rows, st.files, st.bytes, st.dups, st.late_rows,
                st.recovered, st.failures, secs, secs > 0 ? (double)st.entries / secs : 0.0);
        if (json) {
            ss_buf b;
            ss_buf_init(&b);
            ss_cli_writer_stats_json(&st, secs, &b);
            fwrite(b.data, 1, b.len, stdout);
            fflush(stdout);
            ss_buf_free(&b);
        }
        ss_writer_free(w);
    }
    if (ss_cli_stop_metrics(&metrics) != 0 && rc == 0) rc = 1;
    if (ss_redis_target_close(t) != 0 && rc == 0) rc = 1;
out:
    ss_config_free(cfg);
    return rc;
}
