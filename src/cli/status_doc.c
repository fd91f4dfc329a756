/* The status document. See status_doc.h.
 *
 * Built on the caller's thread (the metrics listener's for /api/status), so nothing here is
 * shared state: the ss_status is allocated per call, the Redis connection is a fresh one with
 * its own timeout, and the ledger is opened read-only per call (SQLite's WAL lets a reader in
 * beside the writer that holds it). The JSON of buffer/status.c is extended in place: its
 * closing brace is replaced by the ledger's runs, so the /api/status document is the
 * `status --json` document with fields added, never a different shape. */
#include "cli/status_doc.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "buffer/redis.h"
#include "buffer/status.h"
#include "metrics/metrics.h"
#include "writer/ledger.h"
#include "util/clock.h"

/* The last runs looked at for the latest commit: far more than the types x windows of an hour. */
#define SS_STATUS_LEDGER_RUNS 500

typedef struct {
    int64_t latest;
} commit_scan;

static void note_run(void *ctx, const ss_ledger_run_row *r) {
    commit_scan *c = ctx;
    int64_t end = r->started_us + r->duration_ms * 1000;
    if (!strcmp(r->status, "ok") && end > c->latest) c->latest = end;
}

static void ledger_path(const ss_config *cfg, char *path, size_t n) {
    const char *dir = ss_config_get(cfg, "data-dir");
    snprintf(path, n, "%.*s/%s", PATH_MAX - 32, dir && *dir ? dir : "./skyspool-data", SS_LEDGER_FILE);
}

/* The ledger's latest successful commit (wall-clock µs): 0 none yet, -1 no ledger here. */
static int64_t last_commit(ss_ledger *l) {
    if (!l) return -1;
    commit_scan c = {0};
    return ss_ledger_runs(l, SS_STATUS_LEDGER_RUNS, note_run, &c) == 0 ? c.latest : -1;
}

typedef struct {
    ss_buf *b;
    int n, rc;
} rows_out;

static void run_json(void *ctx, const ss_ledger_run_row *r) {
    rows_out *o = ctx;
    ss_buf *b = o->b;
    int rc = ss_buf_printf(b, "%s{\"started_us\":%lld,\"window_start_us\":%lld,\"type\":", o->n++ ? "," : "",
                           (long long)r->started_us, (long long)r->window_start_us);
    rc |= ss_buf_append_json_string(b, r->type, strlen(r->type));
    rc |= ss_buf_puts(b, ",\"consumer\":");
    rc |= ss_buf_append_json_string(b, r->consumer, strlen(r->consumer));
    rc |= ss_buf_puts(b, ",\"status\":");
    rc |= ss_buf_append_json_string(b, r->status, strlen(r->status));
    rc |= ss_buf_printf(b,
                        ",\"late\":%s,\"rows\":%llu,\"dups\":%llu,\"entries\":%llu,\"files\":%llu,\"bytes\":%llu,"
                        "\"duration_ms\":%lld,\"attempts\":%d,\"error\":",
                        r->late ? "true" : "false", (unsigned long long)r->rows, (unsigned long long)r->dups,
                        (unsigned long long)r->entries, (unsigned long long)r->files, (unsigned long long)r->bytes,
                        (long long)r->duration_ms, r->attempts);
    rc |= ss_buf_append_json_string(b, r->error, strlen(r->error));
    o->rc |= rc | ss_buf_putc(b, '}');
}

static void attempt_json(void *ctx, const ss_ledger_attempt_row *a) {
    rows_out *o = ctx;
    ss_buf *b = o->b;
    int rc = ss_buf_printf(b, "%s{\"at_us\":%lld,\"run_id\":%lld,\"window_start_us\":%lld,\"type\":", o->n++ ? "," : "",
                           (long long)a->at_us, a->run_id, (long long)a->window_start_us);
    rc |= ss_buf_append_json_string(b, a->type, strlen(a->type));
    rc |= ss_buf_puts(b, ",\"error\":");
    rc |= ss_buf_append_json_string(b, a->error, strlen(a->error));
    o->rc |= rc | ss_buf_putc(b, '}');
}

/* A gauge of this process as a JSON number, or null when it is not set (no writer here, or
 * its source could not be read). */
static int gauge_json(ss_buf *b, const char *key, const char *name) {
    ss_metric *m = ss_metric_find(name, NULL);
    int rc = ss_buf_printf(b, ",\"%s\":", key);
    if (m && ss_metric_is_set(m)) rc |= ss_buf_printf(b, "%.3f", ss_metric_value(m));
    else rc |= ss_buf_puts(b, "null");
    return rc;
}

static int recent_json(ss_ledger *l, int runs, ss_buf *b) {
    int rc = ss_buf_puts(b, ",\"recent_runs\":");
    rows_out o = {b, 0, 0};
    if (!l) {
        rc |= ss_buf_puts(b, "null,\"failed_attempts\":null");
    } else {
        rc |= ss_buf_putc(b, '[');
        if (ss_ledger_runs(l, runs, run_json, &o) != 0) o.rc = -1;
        rc |= o.rc | ss_buf_puts(b, "],\"failed_attempts\":[");
        o.n = 0;
        o.rc = 0;
        if (ss_ledger_attempts(l, runs, attempt_json, &o) != 0) o.rc = -1;
        rc |= o.rc | ss_buf_putc(b, ']');
    }
    rc |= ss_buf_puts(b, ",\"live\":{\"source_lag_s\":");
    /* the source lag as the scrape computes it (cli_redis.c): now minus the newest event time */
    ss_metric *et = ss_metric_find("skyspool_source_event_timestamp_seconds", NULL);
    if (et && ss_metric_value(et) > 0)
        rc |= ss_buf_printf(b, "%.3f", (double)ss_wall_us() / 1e6 - ss_metric_value(et));
    else rc |= ss_buf_puts(b, "null");
    rc |= gauge_json(b, "watermark_lag_s", "skyspool_writer_watermark_lag_seconds");
    rc |= gauge_json(b, "due_since", "skyspool_writer_due_since_timestamp_seconds");
    rc |= gauge_json(b, "last_flush_s", "skyspool_writer_last_flush_seconds");
    rc |= gauge_json(b, "open_parts", "skyspool_writer_open_parts");
    return rc | ss_buf_putc(b, '}');
}

int ss_cli_status_collect(ss_redis_target *t, const ss_config *cfg, int timeout_ms, ss_status *s, char *err,
                          size_t errlen) {
    /* as the read-only status user (on the embedded server every command has its own ACL
     * user, and ingest's or write's may not SCAN or HGETALL); with a URL, the URL's user */
    ss_err_class cls;
    redisContext *rx = ss_redis_target_connect_as(t, SS_ACL_STATUS, err, errlen, &cls);
    if (!rx) return ss_err_rc(cls);
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    redisSetTimeout(rx, tv); /* the scrape thread answers this: bounded per call */
    memset(s, 0, sizeof *s);
    snprintf(s->redis, sizeof s->redis, "%s", ss_redis_target_describe(t));
    char lerr[512];
    int rc = ss_status_collect(rx, ss_config_get(cfg, "prefix"), "writers", s, lerr, sizeof lerr);
    redisFree(rx);
    if (rc != 0) {
        snprintf(err, errlen, "reading Redis failed: %s", lerr);
        return rc < 0 ? rc : -1; /* the class (util/err.h) */
    }
    char path[PATH_MAX];
    ledger_path(cfg, path, sizeof path);
    ss_ledger *l = access(path, R_OK) == 0 ? ss_ledger_open_readonly(path, lerr, sizeof lerr) : NULL;
    s->last_commit_us = last_commit(l);
    if (l) ss_ledger_close(l);
    return 0;
}

int ss_cli_status_doc(ss_redis_target *t, const ss_config *cfg, int timeout_ms, int runs, ss_buf *out, char *err,
                      size_t errlen) {
    if (runs > SS_STATUS_DOC_MAX_RUNS) runs = SS_STATUS_DOC_MAX_RUNS;
    ss_status *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return ss_err_rc(SS_ERR_OOM);
    }
    int rc = ss_cli_status_collect(t, cfg, timeout_ms, s, err, errlen);
    if (rc != 0) goto out;
    rc = ss_err_rc(SS_ERR_OOM);
    char path[PATH_MAX], lerr[512];
    ss_ledger *l = NULL;
    if (runs > 0) {
        ledger_path(cfg, path, sizeof path);
        l = access(path, R_OK) == 0 ? ss_ledger_open_readonly(path, lerr, sizeof lerr) : NULL;
    }
    size_t start = out->len;
    int jrc = ss_status_render_json(s, out);
    if (jrc == 0 && runs > 0) {
        /* "...}\n" -> "...,<recent runs>}\n" */
        while (out->len > start && out->data[out->len - 1] == '\n') out->len--;
        if (out->len > start && out->data[out->len - 1] == '}') out->len--;
        jrc = recent_json(l, runs, out);
        jrc |= ss_buf_puts(out, "}\n");
    }
    if (l) ss_ledger_close(l);
    if (jrc != 0) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    rc = 0;
out:
    free(s);
    return rc;
}
