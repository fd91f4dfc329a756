/* `skyspool gaps`: every stretch of the upstream a source reported it did not deliver.
 *
 * A gap record is made by the source (a cursor the relay calls FutureCursor or
 * OutdatedCursor, a Jetstream cursor clamped to its retention window, a seq reset), stored
 * by the ingester in Redis (<prefix>gaps) and moved by the writer into its ledger (table
 * gaps). This command shows both halves: the ledger's records for good, and those still
 * only in Redis (a writer has not run since), marked "redis", so nothing is hidden in
 * between. A record in both (a writer crashed between its ledger commit and the delete) is
 * shown once, from the ledger. Read-only on both. */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buffer/gaps.h"
#include "cli/cli.h"
#include "cli/cli_redis.h"
#include "cli/config.h"
#include "util/buf.h"
#include "writer/ledger.h"

#define GAPS_LEDGER_MAX 1000000 /* ledger records listed at most (a guard, not a real bound) */

static void usage(FILE *f) {
    fprintf(f,
            "usage: skyspool gaps [--json] [--ledger FILE] [--redis URL]\n\n"
            "Lists the gaps in the archive that skyspool knows of: stretches of the upstream's\n"
            "stream that a source detected it did not and will not receive. One per detection:\n"
            "  future_cursor    the relay said our cursor is in its future (FutureCursor): we went\n"
            "                   on live, what it sequenced from there to live is missing\n"
            "  outdated_cursor  the relay keeps less than our cursor (OutdatedCursor): it replayed\n"
            "                   from its oldest event; from..to is what it no longer had\n"
            "  clamped_cursor   Jetstream silently started at its oldest event, later than asked\n"
            "  seq_reset        the relay's seq went back (a new relay or a reset)\n"
            "from/to are in the source's cursor unit (seq or time_us; -1 = unknown, e.g. 'up to\n"
            "live'). A gap is stored in Redis by the ingester before the cursor passes it, and\n"
            "moved into the writer's ledger by the writer; 'where' says which holds it now\n"
            "(ledger, or redis: not yet committed by a writer). Repos that changed off-stream\n"
            "(#sync, tooBig) are not gaps: they are rows of the archive's type=sync partition.\n\n"
            "options:\n"
            "  --json            one JSON document: {\"gaps\":[...],\"total\",\"in_ledger\",\"only_in_redis\"}\n"
            "  --ledger FILE     the ledger [DATA_DIR/ledger.sqlite]; none yet is not an error\n"
            "  -h, --help        this help\n\n"
            "%s\n"
            "examples:\n"
            "  skyspool gaps\n"
            "  skyspool gaps --json | jq '.gaps[] | select(.reason == \"outdated_cursor\")'\n"
            "  skyspool gaps --data-dir /var/lib/skyspool --redis redis://127.0.0.1:6379   # [host]\n",
            ss_config_common_help);
}

typedef struct {
    ss_gap_record *v;
    const char **where;
    size_t n, cap;
    int oom;
} gap_list;

static void add_gap(gap_list *l, const ss_gap_record *g, const char *where) {
    if (l->oom || l->n >= GAPS_LEDGER_MAX + SS_GAPS_LIST_MAX) return;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        ss_gap_record *v = realloc(l->v, cap * sizeof *v);
        if (!v) {
            l->oom = 1;
            return;
        }
        l->v = v;
        const char **w = realloc(l->where, cap * sizeof *w);
        if (!w) {
            l->oom = 1;
            return;
        }
        l->where = w;
        l->cap = cap;
    }
    l->v[l->n] = *g;
    l->where[l->n++] = where;
}

static void from_ledger(void *ctx, const ss_gap_record *g, int64_t committed_us) {
    (void)committed_us;
    add_gap(ctx, g, "ledger");
}

static void utc(int64_t us, char *out, size_t n) {
    time_t secs = (time_t)(us / 1000000);
    struct tm tm;
    if (!gmtime_r(&secs, &tm) || !strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm)) snprintf(out, n, "%lld", (long long)us);
}

static void pos(char *out, size_t n, int64_t v) {
    if (v < 0) snprintf(out, n, "?");
    else snprintf(out, n, "%lld", (long long)v);
}

int ss_cmd_gaps(int argc, char **argv) {
    enum { O_JSON = 1, O_LEDGER };
    static const struct option opts[] = {SS_CONFIG_LONG_OPTIONS,
                                         {"json", no_argument, 0, O_JSON},
                                         {"ledger", required_argument, 0, O_LEDGER},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    ss_config *cfg = ss_config_new();
    if (!cfg) return ss_cmd_fail("gaps", "out of memory");
    int c, rc = 2, json = 0;
    const char *ledger = NULL;
    char err[1024];
    gap_list l = {0};
    optind = 1;
    while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        int h = ss_config_handle_opt(cfg, c, optarg, err, sizeof err);
        if (h < 0) {
            rc = ss_usage_error("gaps", "%s", err);
            goto out;
        }
        if (h == 1) continue;
        switch (c) {
        case 'h': usage(stdout); rc = 0; goto out;
        case O_JSON: json = 1; break;
        case O_LEDGER: ledger = optarg; break;
        default: rc = ss_usage_error("gaps", "unknown or incomplete option '%s'", argv[optind - 1]); goto out;
        }
    }
    if (optind < argc) {
        rc = ss_usage_error("gaps", "unexpected argument '%s'", argv[optind]);
        goto out;
    }
    if (ss_config_load(cfg, err, sizeof err) != 0) {
        rc = ss_usage_error("gaps", "%s", err);
        goto out;
    }
    if (ss_cli_apply_log_level("gaps", cfg) != 0) goto out;

    /* the ledger's records */
    char path[PATH_MAX];
    if (ledger) snprintf(path, sizeof path, "%s", ledger);
    else snprintf(path, sizeof path, "%.*s/%s", PATH_MAX - 32, ss_config_get(cfg, "data-dir"), SS_LEDGER_FILE);
    if (access(path, R_OK) == 0) {
        ss_ledger *led = ss_ledger_open_readonly(path, err, sizeof err);
        if (!led) {
            rc = ss_cmd_fail("gaps", "%s", err);
            goto out;
        }
        int lr = ss_ledger_gaps(led, from_ledger, &l);
        if (lr != 0) snprintf(err, sizeof err, "%s", ss_ledger_errstr(led));
        ss_ledger_close(led);
        if (lr != 0) {
            rc = ss_cmd_fail("gaps", "%s", err);
            goto out;
        }
    } else if (ledger) {
        rc = ss_cmd_fail("gaps", "no ledger at %s", ledger);
        goto out;
    }
    size_t in_ledger = l.n;

    /* those still only in Redis */
    static volatile sig_atomic_t stop;
    ss_cli_stop_on_signals(&stop);
    ss_redis_target *t = ss_cli_open_target("gaps", cfg, &rc);
    if (!t) {
        goto out;
    }
    redisContext *rx = ss_redis_target_connect(t, err, sizeof err, NULL);
    ss_gap_record *rv = NULL;
    size_t rn = 0;
    int redis_rc = rx ? ss_gaps_read(rx, ss_config_get(cfg, "prefix"), SS_GAPS_LIST_MAX, &rv, &rn, err, sizeof err) : -1;
    if (rx) redisFree(rx);
    if (ss_redis_target_close(t) != 0 && redis_rc == 0) {
        redis_rc = -1;
        snprintf(err, sizeof err, "stopping the embedded Redis failed");
    }
    if (redis_rc != 0) {
        free(rv);
        rc = ss_cmd_fail("gaps", "reading Redis failed: %s", err);
        goto out;
    }
    for (size_t i = 0; i < rn; i++) {
        int dup = 0;
        for (size_t j = 0; j < in_ledger && !dup; j++) dup = !strcmp(l.v[j].id, rv[i].id);
        if (!dup) add_gap(&l, &rv[i], "redis");
    }
    free(rv);
    if (l.oom) {
        rc = ss_cmd_fail("gaps", "out of memory");
        goto out;
    }

    ss_buf b;
    ss_buf_init(&b);
    if (json) {
        ss_buf_puts(&b, "{\"gaps\":[");
        for (size_t i = 0; i < l.n; i++) {
            if (i) ss_buf_puts(&b, ",");
            ss_gap_record_json(&b, &l.v[i], l.where[i]);
        }
        ss_buf_printf(&b, "],\"total\":%zu,\"in_ledger\":%zu,\"only_in_redis\":%zu}\n", l.n, in_ledger, l.n - in_ledger);
    } else if (l.n == 0) {
        ss_buf_puts(&b, "no gaps recorded: every source delivered its stream without a detected hole\n");
    } else {
        ss_buf_printf(&b, "%-20s %-16s %-7s %20s %20s  %-6s %s\n", "detected (UTC)", "reason", "unit", "from", "to",
                      "where", "source / detail");
        for (size_t i = 0; i < l.n; i++) {
            const ss_gap_record *g = &l.v[i];
            char at[32], f[24], to[24];
            utc(g->detected_us, at, sizeof at);
            pos(f, sizeof f, g->from);
            pos(to, sizeof to, g->to);
            ss_buf_printf(&b, "%-20s %-16s %-7s %20s %20s  %-6s %s%s%s\n", at, g->reason, g->unit, f, to, l.where[i],
                          g->source, g->detail[0] ? ": " : "", g->detail);
        }
        ss_buf_printf(&b, "%zu gap%s: %zu in the ledger, %zu only in Redis (a writer commits them)\n", l.n,
                      l.n == 1 ? "" : "s", in_ledger, l.n - in_ledger);
    }
    fwrite(b.data, 1, b.len, stdout);
    fflush(stdout);
    ss_buf_free(&b);
    rc = 0;
out:
    free(l.v);
    free(l.where);
    ss_config_free(cfg);
    return rc;
}
