/* `skyspool ingest`: source -> Redis Streams. All the work is in src/buffer/ingest.c; this
 * file maps flags and configuration to ss_ingest_opts, handles signals (SIGINT/SIGTERM stop
 * reading, flush, store the cursor, then stop an embedded Redis cleanly) and reports. */
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buffer/ingest.h"
#include "buffer/shard.h"
#include "cli/cli.h"
#include "cli/cli_redis.h"
#include "cli/config.h"
#include "cli/source_opts.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/clock.h"
#include "util/progress.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: skyspool ingest --source SRC [options]\n\n"
            "Reads events from a source and buffers them in Redis Streams, one stream per type\n"
            "(<prefix>post, like, repost, follow, block, identity, account, sync), never losing one:\n"
            "the source cursor is stored after the data it covers, and a restart resumes there.\n"
            "Each entry is one field-value pair: the field is \"<dedup key, 32 hex> <time_us>\", the\n"
            "value the event's Jetstream JSON, verbatim (look: redis-cli XRANGE skyspool:like - + COUNT 1).\n"
            "Malformed input goes to <prefix>dlq with its reason; a gap a live source detects (a\n"
            "cursor the upstream no longer or not yet has) to <prefix>gaps (skyspool gaps). When Redis memory passes the high\n"
            "watermark (or Redis answers OOM) reading pauses until a writer drains the streams.\n\n"
            "options:\n"
            "  --source SRC          where events come from (required here or as the setting\n"
            "                        `source`, e.g. in the config file):\n");
    for (const ss_source_vtbl *const *v = ss_source_list(); *v; v++)
        fprintf(f, "                          %s\n", (*v)->usage ? (*v)->usage : (*v)->scheme);
    fprintf(f,
            "  --keep-other          also keep other collections, in <prefix>other (key keep-other);\n"
            "                        jetstream: then asks for every collection unless\n"
            "                        wanted-collections is set\n"
            "  --from-start          ignore the stored cursor; read the source from its beginning.\n"
            "                        Warns when it re-sends events older than the writers' dedup\n"
            "                        horizon (key dedup-horizon [1h]) before the newest event the buffer\n"
            "                        has seen: rows already committed from then may be written twice\n"
            "  --allow-eviction      run even if Redis may evict (data loss!); default: refuse\n"
            "  --allow-no-aof        run even if Redis has no AOF (appendonly no: a Redis restart\n"
            "                        loses the buffer); default: refuse. Both are checked at connect\n"
            "                        and every 10 s while running\n"
            "  --limit N             stop after N source messages\n"
            "  --batch N             entries per pipelined batch [1024]\n"
            "  --pipeline N          batches in flight before waiting for replies [8]\n"
            "  --connections N       Redis connections, 1-16 [3] (key ingest-connections): each\n"
            "                        stream is pinned to one, so every stream keeps source order;\n"
            "                        a few connections cost Redis less CPU per entry than one\n"
            "  --shards M            route events to M streams per type, <prefix><type>:<s> with\n"
            "                        s = hash(dedup key) mod M (1-16), one writer machine per shard [1]\n"
            "                        (key shards). Recorded in <prefix>ingest; another M is refused\n"
            "  --reshard             accept a --shards other than the recorded one (after draining;\n"
            "                        duplicates around the switch may then be written twice)\n"
            "  --json                print the final counts as JSON on stdout\n"
            "  --no-progress         no progress line (there is one only when stderr is a terminal)\n"
            "  -h, --help            this help\n\n"
            "settings (--set KEY=VALUE, env, config file): high-watermark [0.8], low-watermark [0.6],\n"
            "max-event-bytes [2mb], keep-other [no], ingest-connections [3], shards [1],\n"
            "metrics-listen (host:port for GET /metrics)\n\n"
            "%s\n"
            "examples:\n"
            "  skyspool synth --events 10000 > ev.jsonl && skyspool ingest --source file:ev.jsonl\n"
            "  skyspool ingest --source synth:events=20000,seed=7 --redis redis://127.0.0.1:6379\n"
            "  SKYSPOOL_INGEST_CONNECTIONS=1 skyspool ingest --source file:ev.jsonl   # one connection\n"
            "  skyspool ingest --source jetstream --redis redis://10.0.0.5:6379 --shards 2   # [net]\n"
            "      # then on machine A: skyspool write --shard 0/2 ...; on machine B: --shard 1/2\n"
            "  zcat old.jsonl.gz | skyspool ingest --source file:- --redis unix:///run/redis.sock   # [host]\n"
            "  skyspool ingest --source file:ev.jsonl --redis redis://app@db:6379/2 \\\n"
            "      --redis-password-file ~/.skyspool-redis-pw   # [host]\n",
            ss_config_common_help);
}

/* The progress line (stderr on a terminal): a thread draws the ingester's counts once a
 * second, with a percentage and an ETA when the input's end is known (a plain file's size, a
 * synth: count, or --limit). */
typedef struct {
    ss_ingest *ing;
    const ss_source *src;
    long long limit;
    atomic_int quit;
} ingest_progress;

static void *progress_main(void *arg) {
    ingest_progress *p = arg;
    double t0 = ss_mono_s(), tl = t0;
    uint64_t last = 0;
    int64_t start = -1;
    double t_start = t0;
    while (!atomic_load(&p->quit)) {
        ss_sleep_ms(100);
        double t = ss_mono_s();
        if (t - tl < 1.0) continue;
        ss_ingest_stats st;
        ss_ingest_get_stats(p->ing, &st);
        char eta[64] = "";
        if (p->src->cursor_end > 0 && st.has_cursor) {
            if (start < 0) { /* the first cursor seen: the rate is measured from there, and then */
                start = st.cursor;
                t_start = t;
            }
            ss_progress_eta(eta, sizeof eta, (double)st.cursor, (double)start, (double)p->src->cursor_end, t - t_start);
        } else if (p->limit > 0) {
            ss_progress_eta(eta, sizeof eta, (double)st.read, 0, (double)p->limit, t - t0);
        }
        ss_progress_draw("%" PRIu64 " read, %" PRIu64 " written (%.0f/s), %" PRIu64 " dlq%s%s", st.read, st.written,
                         (double)(st.written - last) / (t - tl), st.dlq, eta, st.paused ? "  [paused: Redis memory]" : "");
        last = st.written;
        tl = t;
    }
    return NULL;
}

static void stats_json(const ss_ingest_stats *s, const char *source, double secs, ss_buf *b) {
    ss_buf_printf(b, "{\"source\":");
    ss_buf_append_json_string(b, source, strlen(source));
    ss_buf_printf(b,
                  ",\"read\":%" PRIu64 ",\"written\":%" PRIu64 ",\"dlq\":%" PRIu64 ",\"other_skipped\":%" PRIu64
                  ",\"bytes\":%" PRIu64 ",\"pauses\":%" PRIu64 ",\"oom_replies\":%" PRIu64
                  ",\"reconnects\":%" PRIu64 ",\"resent\":%" PRIu64 ",\"rewinds\":%" PRIu64
                  ",\"past_horizon\":%" PRIu64 ",\"lost\":%" PRIu64 ",\"gaps\":%" PRIu64 ",\"seconds\":%.3f",
                  s->read, s->written, s->dlq, s->other_skipped, s->bytes, s->pauses, s->oom_replies, s->reconnects,
                  s->resent, s->rewinds, s->past_horizon, s->lost, s->gaps, secs);
    if (s->has_cursor) ss_buf_printf(b, ",\"cursor\":%" PRId64, s->cursor);
    else ss_buf_puts(b, ",\"cursor\":null");
    ss_buf_puts(b, ",\"types\":{");
    for (int t = 0; t < SS_TYPE__COUNT; t++)
        ss_buf_printf(b, "%s\"%s\":%" PRIu64, t ? "," : "", ss_type_name((ss_type)t), s->by_type[t]);
    ss_buf_puts(b, "},\"dlq_reasons\":{");
    for (int i = 0; i < s->nreasons; i++) {
        if (i) ss_buf_putc(b, ',');
        ss_buf_append_json_string(b, s->reason[i], strlen(s->reason[i]));
        ss_buf_printf(b, ":%" PRIu64, s->reason_count[i]);
    }
    ss_buf_puts(b, "},\"signatures\":{");
    for (int i = 0; i < 4; i++)
        ss_buf_printf(b, "%s\"%s\":%" PRIu64, i ? "," : "", ss_ingest_sig_results[i], s->signatures[i]);
    ss_buf_puts(b, "}}\n");
}

int ss_cmd_ingest(int argc, char **argv) {
    enum { O_KEEP_OTHER = 1, O_FROM_START, O_ALLOW_EVICTION, O_MAX_EVENTS, O_MAX_EVENTS_OLD, O_BATCH, O_PIPELINE, O_CONNECTIONS, O_JSON, O_SHARDS,
           O_RESHARD, O_ALLOW_NO_AOF, O_NO_PROGRESS };
    static const struct option opts[] = {SS_CONFIG_LONG_OPTIONS,
                                         {"source", required_argument, 0, 's'},
                                         {"keep-other", no_argument, 0, O_KEEP_OTHER},
                                         {"from-start", no_argument, 0, O_FROM_START},
                                         {"allow-eviction", no_argument, 0, O_ALLOW_EVICTION},
                                         {"allow-no-aof", no_argument, 0, O_ALLOW_NO_AOF},
                                         {"limit", required_argument, 0, O_MAX_EVENTS},
                                         {"max-events", required_argument, 0, O_MAX_EVENTS_OLD}, /* deprecated: --limit */
                                         {"batch", required_argument, 0, O_BATCH},
                                         {"pipeline", required_argument, 0, O_PIPELINE},
                                         {"connections", required_argument, 0, O_CONNECTIONS},
                                         {"json", no_argument, 0, O_JSON},
                                         {"shards", required_argument, 0, O_SHARDS},
                                         {"reshard", no_argument, 0, O_RESHARD},
                                         {"no-progress", no_argument, 0, O_NO_PROGRESS},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    ss_config *cfg = ss_config_new();
    if (!cfg) return ss_cmd_fail("ingest", "out of memory");
    ss_ingest_opts io;
    ss_ingest_opts_init(&io);
    const char *spec = NULL;
    int json = 0, c, rc = 2, progress = 1;
    long long v;
    char err[1024];
    optind = 1;
    while ((c = getopt_long(argc, argv, "+hs:", opts, NULL)) != -1) {
        int h = ss_config_handle_opt(cfg, c, optarg, err, sizeof err);
        if (h < 0) {
            rc = ss_usage_error("ingest", "%s", err);
            goto out;
        }
        if (h == 1) continue;
        switch (c) {
        case 'h': usage(stdout); rc = 0; goto out;
        case 's': spec = optarg; break;
        case O_KEEP_OTHER: ss_config_set(cfg, "keep-other", "yes", SS_CFG_FLAG, err, sizeof err); break;
        case O_CONNECTIONS:
            if (ss_config_set(cfg, "ingest-connections", optarg, SS_CFG_FLAG, err, sizeof err) != 0) {
                rc = ss_usage_error("ingest", "--connections: %s", err);
                goto out;
            }
            break;
        case O_SHARDS:
            if (ss_config_set(cfg, "shards", optarg, SS_CFG_FLAG, err, sizeof err) != 0) {
                rc = ss_usage_error("ingest", "--shards: %s", err);
                goto out;
            }
            break;
        case O_RESHARD: io.reshard = 1; break;
        case O_FROM_START: io.ignore_cursor = 1; break;
        case O_ALLOW_EVICTION: io.allow_eviction = 1; break;
        case O_ALLOW_NO_AOF: io.allow_no_aof = 1; break;
        case O_JSON: json = 1; break;
        case O_NO_PROGRESS: progress = 0; break;
        case O_MAX_EVENTS_OLD: ss_cli_deprecated("ingest", "--max-events", "--limit"); /* fall through */
        case O_MAX_EVENTS:
            if (ss_parse_i64(optarg, 1, INT64_MAX, &v) != 0) {
                rc = ss_usage_error("ingest", "--limit wants a positive number, not '%s'", optarg);
                goto out;
            }
            io.max_events = v;
            break;
        case O_BATCH:
            if (ss_parse_i64(optarg, 1, 100000, &v) != 0) {
                rc = ss_usage_error("ingest", "--batch wants 1..100000, not '%s'", optarg);
                goto out;
            }
            io.batch_events = (int)v;
            break;
        case O_PIPELINE:
            if (ss_parse_i64(optarg, 1, 64, &v) != 0) {
                rc = ss_usage_error("ingest", "--pipeline wants 1..64, not '%s'", optarg);
                goto out;
            }
            io.batches_in_flight = (int)v;
            break;
        default: rc = ss_usage_error("ingest", "unknown or incomplete option '%s'", argv[optind - 1]); goto out;
        }
    }
    if (optind < argc) {
        rc = ss_usage_error("ingest", "unexpected argument '%s'", argv[optind]);
        goto out;
    }
    if (ss_config_load(cfg, err, sizeof err) != 0) {
        rc = ss_usage_error("ingest", "%s", err);
        goto out;
    }
    if (!spec) spec = ss_config_get(cfg, "source");
    if (!spec || !*spec) {
        rc = ss_usage_error("ingest", "--source is required (or `source` in the config file, SKYSPOOL_SOURCE), e.g. --source file:events.jsonl");
        goto out;
    }
    if (ss_cli_apply_log_level("ingest", cfg) != 0) goto out;
    io.prefix = ss_config_get(cfg, "prefix");
    io.keep_other = ss_config_get_bool(cfg, "keep-other");
    io.high_watermark = ss_config_get_double(cfg, "high-watermark");
    io.low_watermark = ss_config_get_double(cfg, "low-watermark");
    io.max_event_bytes = (size_t)ss_config_get_bytes(cfg, "max-event-bytes");
    io.horizon_us = ss_config_get_ms(cfg, "dedup-horizon") * 1000;
    long long nconn = ss_config_get_int(cfg, "ingest-connections");
    if (nconn < 1 || nconn > SS_INGEST_MAX_CONNECTIONS) {
        static const char *const from[] = {"default", "config file", "SKYSPOOL_INGEST_CONNECTIONS",
                                           "--connections or --set"};
        rc = ss_usage_error("ingest", "ingest-connections wants 1..%d, not %lld (from %s)", SS_INGEST_MAX_CONNECTIONS,
                            nconn, from[ss_config_get_origin(cfg, "ingest-connections")]);
        goto out;
    }
    io.connections = (int)nconn;
    long long nshards = ss_config_get_int(cfg, "shards");
    if (nshards < 1 || nshards > SS_SHARDS_MAX) {
        rc = ss_usage_error("ingest", "shards wants 1..%d, not %lld", SS_SHARDS_MAX, nshards);
        goto out;
    }
    io.shards = (int)nshards;
    if (io.low_watermark > io.high_watermark) {
        rc = ss_usage_error("ingest", "low-watermark (%.2f) must not exceed high-watermark (%.2f)", io.low_watermark,
                            io.high_watermark);
        goto out;
    }

    ss_source_opts so;
    ss_source_opts_init(&so);
    so.max_message_bytes = io.max_event_bytes;
    ss_cli_source_opts(cfg, &so);
    int s3rc = ss_cli_source_s3("ingest", cfg, spec, &so);
    if (s3rc != 0) {
        rc = s3rc;
        goto out;
    }
    ss_err_class cls;
    ss_source *src = ss_source_open(spec, &so, err, sizeof err, &cls);
    if (!src) {
        rc = ss_cmd_error("ingest", cls, "--source %s: %s", spec, err);
        goto out;
    }
    static volatile sig_atomic_t stop;
    stop = 0;
    ss_cli_stop_on_signals(&stop);
    ss_redis_target *t = ss_cli_open_target("ingest", cfg, &rc);
    if (!t) {
        ss_source_close(src);
        goto out;
    }
    ss_cli_metrics metrics;
    if (ss_cli_start_metrics("ingest", cfg, t, &metrics, 0) != 0) {
        ss_source_close(src);
        ss_redis_target_close(t);
        rc = 2;
        goto out;
    }
    ss_ingest *ing = ss_ingest_new(&io, t);
    if (!ing) {
        rc = ss_cmd_fail("ingest", "out of memory");
    } else {
        double t0 = ss_mono_s();
        ingest_progress ip = {.ing = ing, .src = src, .limit = io.max_events};
        atomic_init(&ip.quit, 0);
        pthread_t pth;
        int have_prog = progress && ss_progress_begin(STDERR_FILENO) &&
                        pthread_create(&pth, NULL, progress_main, &ip) == 0;
        int r = ss_ingest_run(ing, src, &stop);
        if (have_prog) {
            atomic_store(&ip.quit, 1);
            pthread_join(pth, NULL);
        }
        ss_progress_end(0);
        double secs = ss_mono_s() - t0;
        ss_ingest_stats st;
        ss_ingest_get_stats(ing, &st);
        if (r != 0) {
            rc = ss_cmd_error("ingest", ss_ingest_errclass(ing), "%s", ss_ingest_errstr(ing));
        } else {
            rc = 0;
        }
        ss_info("ingest",
                "%s: %" PRIu64 " read, %" PRIu64 " written, %" PRIu64 " to the DLQ, %" PRIu64
                " other skipped, %" PRIu64 " pauses, %" PRIu64 " reconnects in %.1f s (%.0f events/s)",
                stop ? "stopped" : (r ? "failed" : "done"), st.read, st.written, st.dlq, st.other_skipped, st.pauses,
                st.reconnects, secs, secs > 0 ? (double)st.read / secs : 0.0);
        if (json) {
            ss_buf b;
            ss_buf_init(&b);
            stats_json(&st, src->id, secs, &b);
            fwrite(b.data, 1, b.len, stdout);
            fflush(stdout);
            ss_buf_free(&b);
        }
        ss_ingest_free(ing);
    }
    ss_source_close(src);
    ss_cli_stop_metrics(&metrics);
    if (ss_redis_target_close(t) != 0 && rc == 0) rc = 1;
out:
    ss_config_free(cfg);
    return rc;
}
