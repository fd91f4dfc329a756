/* `skyspool run`: the whole job in one process. The embedded redis-server (unless --redis),
 * the ingester and the DataWriter, wired by src/pipeline/ (ingester thread, writer on
 * this thread), share one stop flag:
 * SIGINT/SIGTERM makes the ingester flush and store its cursor and the writer write the
 * windows that are due; everything else stays in Redis for the next start. When a finite
 * source ends (file:, synth:), the writer drains the buffer, writes every window and the
 * command exits: that is what `make demo` does. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buffer/ingest.h"
#include "cli/cli.h"
#include "cli/cli_redis.h"
#include "cli/cli_writer.h"
#include "cli/source_opts.h"
#include "pipeline/pipeline.h"
#include "cli/config.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/progress.h"
#include "writer/writer.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: skyspool run --out DIR [--source SRC] [--redis URL] [options]\n\n"
            "Runs the main job in one process: a private redis-server in DATA_DIR (unless --redis is\n"
            "given), the ingester reading SRC into Redis Streams, and the DataWriter writing closed\n"
            "5-minute windows to DIR as hive-partitioned Parquet, exactly once.\n"
            "SIGINT/SIGTERM (Ctrl-C) shuts down cleanly: the ingester stores its cursor, the writer\n"
            "writes what is due, everything else stays buffered for the next start. When a finite\n"
            "source ends, the writer drains the buffer, writes every window, and run exits.\n"
            "A progress line is shown when stderr is a terminal.\n"
            "run keeps the unsharded layout (shards=1); to spread writers over machines use\n"
            "`skyspool ingest --shards M` and `skyspool write --shard I/M` instead.\n\n"
            "options:\n"
            "  --source SRC          where events come from (default: live Jetstream once available):\n");
    for (const ss_source_vtbl *const *v = ss_source_list(); *v; v++)
        fprintf(f, "                          %s\n", (*v)->usage ? (*v)->usage : (*v)->scheme);
    fprintf(f,
            "  --out DIR             archive root (key out; required)\n"
            "  --consumer NAME       the writer's consumer name [<host>-<pid>]\n"
            "  --window, --grace, --dedup-horizon, --claim-idle, --retry-max, --memory-budget\n"
            "                        as for `skyspool write`\n"
            "  --keep-other          also keep other collections (key keep-other); jetstream: then\n"
            "                        asks for every collection unless wanted-collections is set\n"
            "  --no-progress         no progress line even on a terminal\n"
            "  --json                print final ingest and writer counts as JSON on stdout\n"
            "  -h, --help            this help\n\n"
            "%s\n"
            "examples:\n"
            "  skyspool run --source synth:events=20000,seed=1 --out archive     # demo data\n"
            "  skyspool run --source file:events.jsonl --out archive --redis redis://127.0.0.1:6379\n"
            "  skyspool run --out /data/bsky --set metrics-listen=127.0.0.1:9464   # Jetstream [net]\n",
            ss_config_common_help);
}

/* The progress line (stderr on a TTY, util/progress.h): called once a second by the
 * pipeline; ud is the source, for the percentage and ETA when its end is known. */
static void draw_progress(void *ud, const ss_pipeline_progress *pr) {
    const ss_source *src = ud;
    static int64_t start = -1; /* the first cursor seen: about where this run began */
    char eta[64] = "";
    if (src->cursor_end > 0 && pr->ingest.has_cursor) {
        if (start < 0) start = pr->ingest.cursor;
        ss_progress_eta(eta, sizeof eta, (double)pr->ingest.cursor, (double)start, (double)src->cursor_end,
                        pr->elapsed_s);
    }
    ss_progress_draw("%6.0fs  ingested %10" PRIu64 " (%7.0f/s)  written %10" PRIu64 " rows (%7.0f/s)  %5" PRIu64
                     " files  %3" PRIu64 " open  dups %" PRIu64 "%s%s",
                     pr->elapsed_s, pr->ingest.written, pr->ingest_per_s, pr->writer.entries, pr->written_per_s,
                     pr->writer.files, pr->writer.open_parts, pr->writer.dups, eta,
                     pr->ingest.paused ? "  [ingest paused: Redis memory]" : "");
}

static const char *default_source(void) {
    for (const ss_source_vtbl *const *v = ss_source_list(); *v; v++)
        if (!strcmp((*v)->scheme, "jetstream")) return "jetstream:";
    return NULL;
}

int ss_cmd_run(int argc, char **argv) {
    enum { O_SOURCE = 1, O_CONSUMER, O_KEEP_OTHER, O_NO_PROGRESS, O_JSON };
    ss_mem_configure(); /* the lanes' buffers in mappings, not in arenas (util/mem.h) */
    static const struct option opts[] = {SS_CONFIG_LONG_OPTIONS,
                                         SS_CLI_WRITER_LONG_OPTIONS,
                                         {"source", required_argument, 0, O_SOURCE},
                                         {"consumer", required_argument, 0, O_CONSUMER},
                                         {"keep-other", no_argument, 0, O_KEEP_OTHER},
                                         {"no-progress", no_argument, 0, O_NO_PROGRESS},
                                         {"json", no_argument, 0, O_JSON},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    ss_config *cfg = ss_config_new();
    if (!cfg) return ss_cmd_fail("run", "out of memory");
    ss_writer_opts wo;
    ss_writer_opts_init(&wo);
    const char *spec = NULL;
    int c, rc = 2, progress = 1, json = 0;
    char err[1024];
    optind = 1;
    while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        int h = ss_config_handle_opt(cfg, c, optarg, err, sizeof err);
        if (h == 0) h = ss_cli_writer_flag(cfg, c, optarg, err, sizeof err);
        if (h < 0) {
            rc = ss_usage_error("run", "%s", err);
            goto out;
        }
        if (h == 1) continue;
        switch (c) {
        case 'h': usage(stdout); rc = 0; goto out;
        case O_SOURCE: spec = optarg; break;
        case O_CONSUMER:
            if (!ss_writer_valid_consumer(optarg)) {
                rc = ss_usage_error("run", "--consumer '%s': use 1-%d characters of A-Z a-z 0-9 . _ -", optarg,
                                    SS_WRITER_MAX_CONSUMER);
                goto out;
            }
            wo.consumer = optarg;
            break;
        case O_KEEP_OTHER: ss_config_set(cfg, "keep-other", "yes", SS_CFG_FLAG, err, sizeof err); break;
        case O_NO_PROGRESS: progress = 0; break;
        case O_JSON: json = 1; break;
        default: rc = ss_usage_error("run", "unknown or incomplete option '%s'", argv[optind - 1]); goto out;
        }
    }
    if (optind < argc) {
        rc = ss_usage_error("run", "unexpected argument '%s'", argv[optind]);
        goto out;
    }
    if (ss_config_load(cfg, err, sizeof err) != 0) {
        rc = ss_usage_error("run", "%s", err);
        goto out;
    }
    if (!spec && ss_config_get(cfg, "source") && *ss_config_get(cfg, "source")) spec = ss_config_get(cfg, "source");
    if (!spec) spec = default_source();
    if (!spec) {
        rc = ss_usage_error("run", "--source is required in this build (e.g. --source synth:events=100000)");
        goto out;
    }
    if (ss_cli_apply_log_level("run", cfg) != 0) goto out;
    /* validate every writer setting before anything is opened or started */
    if ((rc = ss_cli_writer_opts("run", cfg, NULL, &wo)) != 0) goto out;
    rc = 2;
    if (wo.shards > 1) {
        /* run is one machine's ingester and writer; shards exist to spread writers over machines */
        rc = ss_usage_error("run",
                            "shards=%d: `skyspool run` is one machine's ingester plus writer and keeps the unsharded "
                            "layout. For shards, run `skyspool ingest --shards %d` and on each writer machine "
                            "`skyspool write --shard I/%d`",
                            wo.shards, wo.shards, wo.shards);
        goto out;
    }

    ss_ingest_opts io;
    ss_ingest_opts_init(&io);
    io.prefix = ss_config_get(cfg, "prefix");
    io.keep_other = ss_config_get_bool(cfg, "keep-other");
    io.high_watermark = ss_config_get_double(cfg, "high-watermark");
    io.low_watermark = ss_config_get_double(cfg, "low-watermark");
    io.max_event_bytes = (size_t)ss_config_get_bytes(cfg, "max-event-bytes");
    io.connections = (int)ss_config_get_int(cfg, "ingest-connections"); /* ss_ingest_new clamps to 1..16 */
    ss_source_opts so;
    ss_source_opts_init(&so);
    so.max_message_bytes = io.max_event_bytes;
    ss_cli_source_opts(cfg, &so); /* the same live-source settings as ingest */
    int s3rc = ss_cli_source_s3("run", cfg, spec, &so);
    if (s3rc != 0) {
        rc = s3rc;
        goto out;
    }
    ss_err_class cls;
    ss_source *src = ss_source_open(spec, &so, err, sizeof err, &cls);
    if (!src) {
        rc = ss_cmd_error("run", cls, "--source %s: %s", spec, err);
        goto out;
    }
    static volatile sig_atomic_t stop;
    static ss_pipeline pl; /* the drain flag in it outlives every thread that reads it */
    stop = 0;
    ss_cli_stop_on_signals(&stop);
    ss_redis_target *t = ss_cli_open_target("run", cfg, &rc);
    if (!t) {
        ss_source_close(src);
        goto out;
    }
    wo.connect_ctx = t;
    ss_pipeline_init(&pl, NULL, src, &stop);
    wo.drain = &pl.ended;
    ss_cli_metrics metrics;
    if (ss_cli_start_metrics("run", cfg, t, &metrics, 0) != 0) {
        ss_source_close(src);
        ss_redis_target_close(t);
        rc = 2;
        goto out;
    }
    ss_ingest *ing = ss_ingest_new(&io, t);
    ss_writer *w = ing ? ss_writer_new(&wo, err, sizeof err) : NULL;
    if (!ing || !w) {
        rc = ss_cmd_fail("run", "%s", ing ? err : "out of memory");
    } else {
        ss_info("run", "source %s -> %s -> %s", spec, ss_redis_target_describe(t), wo.out);
        pl.ing = ing;
        pl.w = w;
        if (progress && ss_progress_begin(STDERR_FILENO)) {
            pl.progress = draw_progress;
            pl.progress_ud = src;
        }
        ss_pipeline_run(&pl);
        ss_progress_end(1);
        double secs = pl.secs;
        ss_ingest_stats is;
        ss_writer_stats ws;
        ss_ingest_get_stats(ing, &is);
        ss_writer_get_stats(w, &ws);
        rc = 0;
        if (!pl.ingest_started) rc = ss_cmd_fail("run", "could not start the ingester thread");
        else if (pl.ingest_rc != 0) rc = ss_cmd_error("run", ss_ingest_errclass(ing), "ingest: %s", ss_ingest_errstr(ing));
        if (pl.writer_rc != 0) rc = ss_cmd_error("run", ss_writer_errclass(w), "write: %s", ss_writer_errstr(w));
        ss_info("run",
                "%s after %.1f s: ingested %" PRIu64 " (%" PRIu64 " to the DLQ); wrote %" PRIu64 " rows in %" PRIu64
                " files, %" PRIu64 " duplicates skipped, %" PRIu64 " late",
                pl.stopped ? "stopped" : "source ended, buffer drained", secs, is.written, is.dlq, ws.rows, ws.files, ws.dups,
                ws.late_rows);
        if (json) {
            ss_buf b;
            ss_buf_init(&b);
            ss_buf_printf(&b, "{\"ingested\":%" PRIu64 ",\"dlq\":%" PRIu64 ",\"writer\":", is.written, is.dlq);
            ss_cli_writer_stats_json(&ws, secs, &b);
            if (b.len && b.data[b.len - 1] == '\n') b.len--;
            ss_buf_puts(&b, "}\n");
            fwrite(b.data, 1, b.len, stdout);
            fflush(stdout);
            ss_buf_free(&b);
        }
    }
    ss_writer_free(w);
    if (ing) ss_ingest_free(ing);
    ss_source_close(src);
    ss_cli_stop_metrics(&metrics);
    if (ss_redis_target_close(t) != 0 && rc == 0) rc = 1;
out:
    ss_config_free(cfg);
    return rc;
}
