/* `skyspool runs`: the run history from the writer's ledger (DATA_DIR/ledger.sqlite), the
 * part of an orchestrator's UI that matters: which window of which type was written, how
 * many rows and files, how long it took, how many attempts, and the last error. Reads the
 * ledger read-only (WAL), so it never disturbs running writers. */
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/cli_redis.h"
#include "cli/config.h"
#include "util/civil.h"
#include "util/buf.h"
#include "writer/ledger.h"
#include "util/clock.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: skyspool runs [--limit N] [--since WHEN] [--status S] [--json] [--ledger FILE]\n\n"
            "Shows the DataWriter's run history from its ledger: one line per flush of a window\n"
            "and type by one writer, oldest first, with rows, part files, bytes, duration, attempts,\n"
            "status (ok, running, retrying, abandoned: its writer died and another took its entries\n"
            "over) and the last error. kind is 'close' for a window written\n"
            "when it closed, 'late' for late events written after their window, 'spill' for a part\n"
            "written early because the window outgrew the memory budget. Then the last N failed\n"
            "attempts, each with its wall-clock time (UTC), window, type and error. The last line\n"
            "sums the ledger's commits (rows here equal the rows in the Parquet files).\n\n"
            "options:\n"
            "  --limit N         only the last N runs [20; 0 = all] (after the filters below)\n"
            "  --since WHEN      only runs started at or after WHEN: a duration back from now\n"
            "                    (90m, 24h) or a UTC time 2026-01-02T03:04[:05]Z\n"
            "  --status S        only runs with this status (ok, running, retrying, abandoned)\n"
            "  --json            one JSON object per run (JSONL), one per failed attempt\n"
            "                    ({\"attempt\":true,...}), then a totals object\n"
            "  --ledger FILE     the ledger [DATA_DIR/ledger.sqlite]\n"
            "  --data-dir DIR    where the ledger lives [./skyspool-data]  (SKYSPOOL_DATA_DIR)\n"
            "  -h, --help        this help\n\n"
            "examples:\n"
            "  skyspool runs\n"
            "  skyspool runs --limit 0 --json | jq 'select(.status != \"ok\")'\n"
            "  skyspool runs --since 24h --status retrying\n"
            "  skyspool runs --data-dir /var/lib/skyspool --limit 100   # [host]\n");
}

static const char *kind_name(int k) { return k == 1 ? "late" : k == 2 ? "spill" : "close"; }

static void fmt_time(int64_t us, char *out, size_t n) {
    time_t s = (time_t)(us / 1000000);
    struct tm tm;
    gmtime_r(&s, &tm);
    strftime(out, n, "%Y-%m-%dT%H:%MZ", &tm);
}

typedef struct {
    int json;
    int attempts_header;
    int64_t since_us;   /* 0: no filter */
    const char *status; /* NULL: no filter */
    /* with a filter, the last `last` matching runs are kept here (a ring), printed at the end */
    ss_ledger_run_row *ring;
    size_t cap, n, head;
} runs_ctx;

/* --since: "90m"/"24h" back from now, or "YYYY-MM-DDTHH:MM[:SS]Z". 0 or -1. */
static int parse_since(const char *s, int64_t *out_us) {
    long long ms;
    if (ss_parse_duration_ms(s, &ms) == 0) {
        *out_us = ss_wall_us() - (int64_t)ms * 1000;
        return 0;
    }
    int y, mo, d, h, mi, sec = 0, n = 0;
    if (strlen(s) > 32) return -1;
    if ((sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2dZ%n", &y, &mo, &d, &h, &mi, &sec, &n) == 6 && !s[n]) ||
        (n = 0, sec = 0, sscanf(s, "%4d-%2d-%2dT%2d:%2dZ%n", &y, &mo, &d, &h, &mi, &n) == 5 && !s[n])) {
        if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60 || h < 0 || mi < 0 || sec < 0) return -1;
        int64_t days = ss_days_from_civil(y, (unsigned)mo, (unsigned)d);
        *out_us = ((days * 86400) + h * 3600 + mi * 60 + sec) * 1000000;
        return 0;
    }
    return -1;
}

static void utc(int64_t us, char *out, size_t n);

static void print_run(void *ctx, const ss_ledger_run_row *r) {
    runs_ctx *c = ctx;
    char win[32], started[32], finished[32];
    fmt_time(r->window_start_us, win, sizeof win);
    utc(r->started_us, started, sizeof started);
    utc(r->started_us + r->duration_ms * 1000, finished, sizeof finished);
    if (c->json) {
        ss_buf b;
        ss_buf_init(&b);
        ss_buf_printf(&b, "{\"id\":%lld,\"window\":\"%s\",\"window_start_us\":%" PRId64 ",\"window_us\":%" PRId64
                          ",\"type\":\"%s\",\"kind\":\"%s\",\"consumer\":",
                      r->id, win, r->window_start_us, r->window_us, r->type, kind_name(r->late));
        ss_buf_append_json_string(&b, r->consumer, strlen(r->consumer));
        ss_buf_printf(&b,
                      ",\"rows\":%" PRIu64 ",\"duplicates\":%" PRIu64 ",\"entries\":%" PRIu64 ",\"files\":%" PRIu64
                      ",\"bytes\":%" PRIu64 ",\"duration_ms\":%" PRId64 ",\"attempts\":%d,\"status\":\"%s\",\"error\":",
                      r->rows, r->dups, r->entries, r->files, r->bytes, r->duration_ms, r->attempts, r->status);
        if (r->error[0]) ss_buf_append_json_string(&b, r->error, strlen(r->error));
        else ss_buf_puts(&b, "null");
        ss_buf_printf(&b, ",\"started\":\"%s\",\"started_us\":%" PRId64 ",\"finished\":\"%s\"}\n", started,
                      r->started_us, r->status[0] && strcmp(r->status, "running") ? finished : "");
        fwrite(b.data, 1, b.len, stdout);
        ss_buf_free(&b);
        return;
    }
    printf("%-20s %-18s %-8s %-5s %10" PRIu64 " %5" PRIu64 " %12" PRIu64 " %8.2f %4d  %-8s %s\n", started, win,
           r->type, kind_name(r->late), r->rows, r->files, r->bytes, (double)r->duration_ms / 1000.0, r->attempts, r->status,
           r->error);
}

static void utc(int64_t us, char *out, size_t n) {
    time_t secs = (time_t)(us / 1000000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* With filters: keep the matching runs, the last `cap` of them (all when cap is 0). */
static void filter_run(void *ctx, const ss_ledger_run_row *r) {
    runs_ctx *c = ctx;
    if (c->since_us && r->started_us < c->since_us) return;
    if (c->status && strcmp(r->status, c->status)) return;
    if (!c->cap) {
        print_run(ctx, r);
        return;
    }
    c->ring[(c->head + c->n) % c->cap] = *r;
    if (c->n < c->cap) c->n++;
    else c->head = (c->head + 1) % c->cap;
}

static void print_attempt(void *vctx, const ss_ledger_attempt_row *a) {
    runs_ctx *ctx = vctx;
    char at[32], win[32] = "-";
    utc(a->at_us, at, sizeof at);
    if (a->run_id > 0) utc(a->window_start_us, win, sizeof win);
    if (ctx->json) {
        ss_buf b;
        ss_buf_init(&b);
        ss_buf_printf(&b, "{\"attempt\":true,\"at\":\"%s\",\"at_us\":%" PRId64 ",\"run\":%lld,\"window\":", at, a->at_us,
                      a->run_id);
        if (a->run_id > 0) ss_buf_printf(&b, "\"%s\",\"type\":\"%s\"", win, a->type);
        else ss_buf_puts(&b, "null,\"type\":null");
        ss_buf_puts(&b, ",\"error\":");
        ss_buf_append_json_string(&b, a->error, strlen(a->error));
        ss_buf_puts(&b, "}\n");
        fwrite(b.data, 1, b.len, stdout);
        ss_buf_free(&b);
        return;
    }
    if (!ctx->attempts_header) {
        printf("\nfailed attempts (newest last)\n%-20s %-20s %-8s %s\n", "at (UTC)", "window", "type", "error");
        ctx->attempts_header = 1;
    }
    printf("%-20s %-20s %-8s %s\n", at, win, a->run_id > 0 ? a->type : "-", a->error);
}

int ss_cmd_runs(int argc, char **argv) {
    enum { O_LAST = 1, O_LIMIT, O_JSON, O_LEDGER, O_SINCE, O_STATUS };
    static const struct option opts[] = {SS_CONFIG_LONG_OPTIONS,
                                         {"limit", required_argument, 0, O_LIMIT},
                                         {"last", required_argument, 0, O_LAST}, /* deprecated: --limit */
                                         {"json", no_argument, 0, O_JSON},
                                         {"ledger", required_argument, 0, O_LEDGER},
                                         {"since", required_argument, 0, O_SINCE},
                                         {"status", required_argument, 0, O_STATUS},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    ss_config *cfg = ss_config_new();
    if (!cfg) return ss_cmd_fail("runs", "out of memory");
    int c, rc = 2;
    long long last = 20;
    const char *ledger = NULL;
    runs_ctx ctx = {0};
    char err[1024];
    optind = 1;
    while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        int h = ss_config_handle_opt(cfg, c, optarg, err, sizeof err);
        if (h < 0) {
            rc = ss_usage_error("runs", "%s", err);
            goto out;
        }
        if (h == 1) continue;
        switch (c) {
        case 'h': usage(stdout); rc = 0; goto out;
        case O_LAST:
        case O_LIMIT:
            if (c == O_LAST) ss_cli_deprecated("runs", "--last", "--limit");
            if (ss_parse_i64(optarg, 0, INT_MAX, &last) != 0) {
                rc = ss_usage_error("runs", "--limit wants a number >= 0, not '%s'", optarg);
                goto out;
            }
            break;
        case O_JSON: ctx.json = 1; break;
        case O_LEDGER: ledger = optarg; break;
        case O_SINCE:
            if (parse_since(optarg, &ctx.since_us) != 0) {
                rc = ss_usage_error("runs", "--since wants a duration (90m, 24h) or a UTC time like 2026-01-02T03:04Z, not '%s'",
                                    optarg);
                goto out;
            }
            break;
        case O_STATUS:
            if (strcmp(optarg, "ok") && strcmp(optarg, "running") && strcmp(optarg, "retrying") &&
                strcmp(optarg, "abandoned")) {
                rc = ss_usage_error("runs", "--status wants ok, running, retrying or abandoned, not '%s'", optarg);
                goto out;
            }
            ctx.status = optarg;
            break;
        default: rc = ss_usage_error("runs", "unknown or incomplete option '%s'", argv[optind - 1]); goto out;
        }
    }
    if (optind < argc) {
        rc = ss_usage_error("runs", "unexpected argument '%s'", argv[optind]);
        goto out;
    }
    if (ss_config_load(cfg, err, sizeof err) != 0) {
        rc = ss_usage_error("runs", "%s", err);
        goto out;
    }
    if (ss_cli_apply_log_level("runs", cfg) != 0) goto out;
    if (!ledger && ss_cli_require_data_dir("runs", cfg, 1) != 0) {
        rc = 1;
        goto out;
    }
    char path[PATH_MAX];
    if (ledger) snprintf(path, sizeof path, "%s", ledger);
    else snprintf(path, sizeof path, "%.*s/%s", PATH_MAX - 32, ss_config_get(cfg, "data-dir"), SS_LEDGER_FILE);
    if (access(path, R_OK) != 0) {
        rc = ss_cmd_fail("runs", "no ledger at %s: no writer has run with this data dir (see --data-dir, --ledger)",
                         path);
        goto out;
    }
    ss_ledger *l = ss_ledger_open_readonly(path, err, sizeof err);
    if (!l) {
        rc = ss_cmd_fail("runs", "%s", err);
        goto out;
    }
    if (!ctx.json)
        printf("%-20s %-18s %-8s %-5s %10s %5s %12s %8s %4s  %-8s %s\n", "started (UTC)", "window", "type", "kind", "rows",
               "files", "bytes", "seconds", "att", "status", "error");
    ss_ledger_totals t;
    int filtered = ctx.since_us || ctx.status, lrc;
    if (filtered && last > 0) {
        ctx.cap = (size_t)last;
        ctx.ring = malloc(ctx.cap * sizeof *ctx.ring);
        if (!ctx.ring) {
            ss_ledger_close(l);
            rc = ss_cmd_fail("runs", "out of memory");
            goto out;
        }
    }
    lrc = filtered ? ss_ledger_runs(l, 0, filter_run, &ctx) : ss_ledger_runs(l, (int)last, print_run, &ctx);
    for (size_t i = 0; i < ctx.n; i++) print_run(&ctx, &ctx.ring[(ctx.head + i) % ctx.cap]);
    free(ctx.ring);
    if (lrc != 0 || ss_ledger_attempts(l, (int)last, print_attempt, &ctx) != 0 || ss_ledger_totals_get(l, &t) != 0) {
        rc = ss_cmd_fail("runs", "%s", ss_ledger_errstr(l));
    } else {
        if (ctx.json)
            printf("{\"totals\":true,\"commits\":%" PRIu64 ",\"rows\":%" PRIu64 ",\"duplicates\":%" PRIu64
                   ",\"entries\":%" PRIu64 ",\"files\":%" PRIu64 ",\"bytes\":%" PRIu64 ",\"late_rows\":%" PRIu64 "}\n",
                   t.commits, t.rows, t.dups, t.entries, t.files, t.bytes, t.late_rows);
        else
            printf("%stotal: %" PRIu64 " rows in %" PRIu64 " files (%" PRIu64 " bytes), %" PRIu64
                   " duplicates skipped, %" PRIu64 " late rows, %" PRIu64 " commits\n",
                   ctx.attempts_header ? "\n" : "", t.rows, t.files, t.bytes, t.dups, t.late_rows, t.commits);
        rc = 0;
    }
    ss_ledger_close(l);
out:
    ss_config_free(cfg);
    return rc;
}
