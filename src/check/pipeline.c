/* `check pipeline`: ingest -> write -> Parquet end to end, and exactly-once proven by reading
 * the archive back.
 *
 * The other checks measure Redis or the ingester alone; this one runs the two halves of
 * `skyspool run` in this process, on the check's Redis and prefix: the real ingester
 * (src/buffer/ingest.c) on its thread reading `--events` synth events, and the real DataWriter
 * (src/writer/) on another, writing windows into the check's own archive dir with its own
 * ledger. When the source has ended the writer is told to drain (its `drain` flag: close every
 * window and return), exactly as `run` does for a finite source.
 *
 * Why read back rather than count: a count comparison (rows in the footers vs distinct events)
 * lets a lost row and a duplicated one cancel out. Here every row of every committed file is
 * read with the Parquet reader through the `archive:` source, its dedup key computed, and
 * looked up among the input's keys (check/keycmp.h, streaming: the input's keys sorted once,
 * one counter byte per key), so lost, duplicated and unexpected rows are each counted, with a
 * few example keys. The input's keys are the synth stream generated again (a pure function of
 * seed and index), less what the ingester does not archive (malformed lines, other collections).
 *
 * Flush times come from the writer's own run ledger (one run per window and type; its
 * duration is the time spent finishing that window's part files: last row group, footer,
 * fsync, rename, ledger commit). A window's flush time is the longest of its types' runs (the
 * types of one window are finished together), held against the prototype's budget of 4 minutes
 * per 5-minute window, i.e. 80 % of the window. Rows are streamed into their part file as they
 * arrive, so this is what a window's close costs, not the whole window's encoding. */
#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buffer/acl.h"
#include "buffer/ingest.h"
#include "buffer/target.h"
#include "check/check.h"
#include "check/keycmp.h"
#include "event/event.h"
#include "source/source.h"
#include "writer/ledger.h"
#include "writer/writer.h"
#include "util/clock.h"

#define PIPE_PATH 1024
#define PIPE_MAX_WINDOWS 100000 /* windows whose flush times are kept (more are counted, not kept) */

void ss_check_pipeline_opts_init(ss_check_pipeline_opts *o) {
    memset(o, 0, sizeof *o);
    o->events = 600000; /* one 5-minute window at the live peak */
    o->event_rate = 2000;
    o->window_s = 300;
    o->grace_s = 30;
    o->max_flush_s = 0;
    o->min_events_per_s = 2000;
    o->seed = 7;
}

/* The writer logs in as the embedded server's write user, as `skyspool write` would (the
 * check's own user may not run the writer's commands); with --redis the URL names the user. */
static redisContext *writer_connect(void *ctx, char *err, size_t errlen, ss_err_class *cls) {
    return ss_redis_target_connect_as((ss_redis_target *)ctx, SS_ACL_WRITE, err, errlen, cls);
}

typedef struct {
    ss_writer *w;
    volatile sig_atomic_t stop;
    int rc;
    atomic_int done;
} writer_thread;

static void *writer_main(void *arg) {
    writer_thread *wt = arg;
    wt->rc = ss_writer_run(wt->w, &wt->stop);
    atomic_store(&wt->done, 1);
    return NULL;
}

typedef struct {
    int64_t start_us, started_us, ms;
    int late;
} win_flush;

typedef struct {
    win_flush *w;
    int n, cap;
    long long runs, runs_not_ok, late_runs, dropped;
} flush_acc;

static void on_run(void *ctx, const ss_ledger_run_row *r) {
    flush_acc *a = ctx;
    a->runs++;
    if (strcmp(r->status, "ok") != 0) a->runs_not_ok++;
    if (r->late) {
        a->late_runs++;
        return;
    }
    for (int i = a->n - 1; i >= 0 && i >= a->n - 64; i--) /* a window's runs are close together */
        if (a->w[i].start_us == r->window_start_us) {
            if (r->duration_ms > a->w[i].ms) a->w[i].ms = r->duration_ms;
            return;
        }
    if (a->n == a->cap) {
        if (a->cap >= PIPE_MAX_WINDOWS) {
            a->dropped++;
            return;
        }
        int nc = a->cap ? a->cap * 2 : 64;
        win_flush *nw = realloc(a->w, (size_t)nc * sizeof *nw);
        if (!nw) {
            a->dropped++;
            return;
        }
        a->w = nw;
        a->cap = nc;
    }
    a->w[a->n++] = (win_flush){r->window_start_us, r->started_us, r->duration_ms, 0};
}

static void key_add(void *ud, const uint8_t key[16]) { ss_keycmp_stream_add(ud, key); }

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

/* The input's keys: what the ingester will archive of the synth stream. */
static int input_keys(ss_check_env *e, const char *spec, long long events, uint8_t **keys, long long *n) {
    *keys = NULL;
    *n = 0;
    ss_source_opts so;
    ss_source_opts_init(&so);
    char err[512];
    ss_source *src = ss_source_open(spec, &so, err, sizeof err, NULL);
    if (!src) return snprintf(e->errstr, sizeof e->errstr, "%s", err), -1;
    uint8_t *k = malloc((size_t)(events > 0 ? events : 1) * 16);
    ss_decoder *d = ss_decoder_new(NULL);
    int rc = 0;
    if (!k || !d) {
        snprintf(e->errstr, sizeof e->errstr, "out of memory for %lld input keys", events);
        rc = -1;
    }
    long long lines = 0;
    while (rc == 0) {
        ss_source_msg m;
        int r = ss_source_next(src, &m, 1000);
        if (r == SS_SOURCE_END) break;
        if (r == SS_SOURCE_AGAIN) continue;
        if (r != SS_SOURCE_MSG) {
            snprintf(e->errstr, sizeof e->errstr, "synth: %.1000s", src->errstr);
            rc = -1;
            break;
        }
        if ((++lines & 0x3ffff) == 0) {
            ss_check_progress(e, "pipeline: indexing the input's keys: %lld / %lld", lines, events);
            if (ss_check_stopped(e)) {
                snprintf(e->errstr, sizeof e->errstr, "interrupted");
                rc = -1;
                break;
            }
        }
        ss_event ev;
        if (m.bad_reason || ss_decode(d, m.data, m.len, &ev) != SS_DECODE_OK || ev.type == SS_TYPE_OTHER) continue;
        if (*n < events) ss_event_dedup_key(&ev, k + 16 * (*n)++);
    }
    if (d) ss_decoder_free(d);
    ss_source_close(src);
    if (rc != 0) {
        free(k);
        *n = 0;
        return -1;
    }
    *keys = k;
    return 0;
}

int ss_check_pipeline(ss_check_env *e, const ss_check_pipeline_opts *o, ss_check_report *r) {
    double budget_s = o->max_flush_s > 0 ? o->max_flush_s : 0.8 * o->window_s;
    ss_check_input_num(r, "events", (double)o->events);
    ss_check_input_num(r, "event_rate", o->event_rate);
    ss_check_input_num(r, "window_s", o->window_s);
    ss_check_input_num(r, "grace_s", o->grace_s);
    ss_check_input_num(r, "max_flush_s", budget_s);
    ss_check_input_num(r, "min_events_per_s", o->min_events_per_s);
    ss_check_input_num(r, "seed", (double)o->seed);
    if (o->archive) ss_check_input_str(r, "archive", o->archive);

    char work[PIPE_PATH], arch[PIPE_PATH + 16], data[PIPE_PATH + 16], ledger[PIPE_PATH + 48];
    const char *tmp = getenv("TMPDIR");
    if (!tmp || !*tmp) tmp = "/tmp";
    snprintf(work, sizeof work, "%.900s/skyspool-pipeline-%s-XXXXXX", tmp, e->run_id);
    if (!mkdtemp(work)) return snprintf(e->errstr, sizeof e->errstr, "mkdtemp under %.400s: %s", tmp, strerror(errno)), -1;
    snprintf(data, sizeof data, "%s/data", work);
    if (o->archive) snprintf(arch, sizeof arch, "%.1000s", o->archive);
    else snprintf(arch, sizeof arch, "%s/archive", work);
    snprintf(ledger, sizeof ledger, "%s/ledger.sqlite", data);
    mkdir(data, 0700);
    if (mkdir(arch, 0700) != 0 && errno != EEXIST) {
        snprintf(e->errstr, sizeof e->errstr, "cannot create the archive dir %.600s: %s", arch, strerror(errno));
        nftw(work, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        return -1;
    }

    char spec[160];
    snprintf(spec, sizeof spec, "synth:events=%lld,seed=%llu,rate=%.17g", o->events, (unsigned long long)o->seed,
             o->event_rate);
    int rc = -1;
    uint8_t *keys = NULL;
    long long nkeys = 0;
    ss_keycmp_stream ks;
    memset(&ks, 0, sizeof ks);
    ss_writer *w = NULL;
    writer_thread wt;
    memset(&wt, 0, sizeof wt);
    int writer_started = 0;
    ss_check_ingester it;
    memset(&it, 0, sizeof it);
    flush_acc fa;
    memset(&fa, 0, sizeof fa);
    atomic_int drain = 0;

    ss_check_progress(e, "pipeline: indexing the input's keys");
    if (input_keys(e, spec, o->events, &keys, &nkeys) != 0) goto out;
    if (ss_keycmp_stream_init(&ks, keys, (size_t)nkeys) != 0) {
        snprintf(e->errstr, sizeof e->errstr, "out of memory");
        goto out;
    }

    /* the writer first (its group exists before the first entry), then the ingester */
    ss_writer_opts wo;
    ss_writer_opts_init(&wo);
    wo.out = arch;
    wo.data_dir = data;
    wo.ledger = ledger;
    wo.prefix = e->prefix;
    wo.consumer = "check-pipeline";
    wo.connect = writer_connect;
    wo.connect_ctx = e->target;
    wo.window_us = (int64_t)(o->window_s * 1e6);
    wo.grace_us = (int64_t)(o->grace_s * 1e6);
    wo.max_attempts = 5;
    wo.drain = &drain;
    char err[512];
    w = ss_writer_new(&wo, err, sizeof err);
    if (!w) {
        snprintf(e->errstr, sizeof e->errstr, "writer: %s", err);
        goto out;
    }
    wt.w = w;
    pthread_t wth;
    double t0 = ss_check_now();
    if (pthread_create(&wth, NULL, writer_main, &wt) != 0) {
        snprintf(e->errstr, sizeof e->errstr, "cannot start the writer thread");
        goto out;
    }
    writer_started = 1;
    if (ss_check_ingester_start(e, &it, spec, 0) != 0) goto out;

    ss_check_series *s_in = ss_check_series_new(r, "ingest_events_per_s", "events/s");
    ss_check_series *s_out = ss_check_series_new(r, "write_rows_per_s", "rows/s");
    ss_ingest_stats ist;
    ss_writer_stats wst;
    memset(&ist, 0, sizeof ist);
    memset(&wst, 0, sizeof wst);
    uint64_t last_in = 0, last_out = 0;
    double last_t = t0, ingest_s = 0;
    int interrupted = 0, ingest_done = 0;
    while (!atomic_load(&wt.done)) {
        ss_sleep_us(250 * 1000);
        double t = ss_check_now();
        ss_ingest_get_stats(it.ing, &ist);
        ss_writer_get_stats(w, &wst);
        if (t > last_t) {
            ss_check_series_add(s_in, t - t0, (double)(ist.written - last_in) / (t - last_t));
            ss_check_series_add(s_out, t - t0, (double)(wst.rows - last_out) / (t - last_t));
        }
        last_in = ist.written;
        last_out = wst.rows;
        last_t = t;
        ss_check_progress(e, "pipeline: %.0f s: %llu events ingested, %llu rows written, %llu part files", t - t0,
                          (unsigned long long)ist.written, (unsigned long long)wst.rows,
                          (unsigned long long)wst.files);
        if (!ingest_done && ss_check_ingester_done(&it)) {
            ingest_done = 1;
            ingest_s = t - t0;
            atomic_store(&drain, 1); /* the source ended: close every window and return */
        }
        if (ss_check_stopped(e)) {
            interrupted = 1;
            wt.stop = 1;
            break;
        }
    }
    pthread_join(wth, NULL);
    writer_started = 0;
    double total_s = ss_check_now() - t0;
    if (!ingest_done) ingest_s = total_s;
    int irc = ss_check_ingester_stop(e, &it, &ist);
    char ingest_err[sizeof e->errstr] = "";
    if (irc != 0) snprintf(ingest_err, sizeof ingest_err, "%s", e->errstr);
    e->errstr[0] = '\0';
    ss_writer_get_stats(w, &wst);
    int writer_ok = wt.rc == 0 && !interrupted;
    char writer_err[512] = "";
    if (wt.rc != 0) snprintf(writer_err, sizeof writer_err, "%s", ss_writer_errstr(w));
    ss_writer_free(w);
    w = NULL;

    /* the flush time of every window, from the writer's ledger */
    {
        ss_ledger *l = ss_ledger_open_readonly(ledger, err, sizeof err);
        if (l) {
            ss_ledger_runs(l, 0, on_run, &fa);
            ss_ledger_close(l);
        } else {
            ss_check_note(r, "the writer's ledger could not be read for flush times: %s", err);
        }
    }
    double flush_max = 0, flush_sum = 0;
    ss_check_series *s_flush = ss_check_series_new(r, "window_flush_ms", "ms");
    for (int i = 0; i < fa.n; i++) {
        double ms = (double)fa.w[i].ms;
        if (ms > flush_max) flush_max = ms;
        flush_sum += ms;
        double at = (double)fa.w[i].started_us / 1e6 - r->started_unix;
        ss_check_series_add(s_flush, at > 0 ? at : 0, ms);
    }

    /* what is left in Redis: nothing, once every window is committed and acknowledged */
    long long left = 0;
    for (int t = 0; t < SS_TYPE__COUNT; t++) {
        char key[256];
        ss_ingest_stream_key(e->prefix, (ss_type)t, key, sizeof key);
        redisReply *x = ss_check_cmd(e, "XLEN %s", key);
        if (x && x->type == REDIS_REPLY_INTEGER) left += x->integer;
        if (x) freeReplyObject(x);
    }
    e->errstr[0] = '\0';

    /* row by row: every input key once in the archive, nothing else */
    ss_keycmp_result kc;
    memset(&kc, 0, sizeof kc);
    int keys_read = 0;
    char keys_err[sizeof e->errstr] = "";
    long long rows_read = 0;
    double rb_t0 = ss_check_now(), readback_s = 0;
    if (!interrupted) {
        ss_check_progress(e, "pipeline: reading the archive back, key by key");
        if (ss_check_archive_keys(e, arch, key_add, &ks, &rows_read) == 0) keys_read = 1;
        else {
            snprintf(keys_err, sizeof keys_err, "%s", e->errstr);
            e->errstr[0] = '\0';
            if (ss_check_stopped(e)) interrupted = 1;
        }
        ss_keycmp_stream_finish(&ks, &kc);
        readback_s = ss_check_now() - rb_t0;
    }

    /* ---- figures and criteria ---------------------------------------------------------------- */
    double expected = (double)ks.n;
    ss_check_figure_add(r, "input_lines", (double)o->events, "lines");
    ss_check_figure_add(r, "events_in", expected, "events");
    ss_check_figure_add(r, "ingest_events_read", (double)ist.read, "events");
    ss_check_figure_add(r, "ingest_entries_written", (double)ist.written, "entries");
    ss_check_figure_add(r, "ingest_dlq_entries", (double)ist.dlq, "entries");
    ss_check_figure_add(r, "ingest_other_skipped", (double)ist.other_skipped, "events");
    ss_check_figure_add(r, "ingest_s", ingest_s, "s");
    ss_check_figure_add(r, "ingest_events_per_s", ingest_s > 0 ? (double)ist.written / ingest_s : 0, "events/s");
    ss_check_figure_add(r, "pipeline_s", total_s, "s");
    ss_check_figure_add(r, "end_to_end_events_per_s", total_s > 0 ? expected / total_s : 0, "events/s");
    ss_check_figure_add(r, "write_rows", (double)wst.rows, "rows");
    ss_check_figure_add(r, "write_rows_per_s", total_s > 0 ? (double)wst.rows / total_s : 0, "rows/s");
    ss_check_figure_add(r, "write_dups_skipped", (double)wst.dups, "entries");
    ss_check_figure_add(r, "write_dlq_entries", (double)wst.dlq, "entries");
    ss_check_figure_add(r, "write_failures", (double)wst.failures, "attempts");
    ss_check_figure_add(r, "part_files", (double)wst.files, "files");
    ss_check_figure_add(r, "part_bytes", (double)wst.bytes, "bytes");
    ss_check_figure_add(r, "windows_flushed", fa.n, "windows");
    ss_check_figure_add(r, "ledger_runs", (double)fa.runs, "runs");
    ss_check_figure_add(r, "ledger_runs_not_ok", (double)fa.runs_not_ok, "runs");
    ss_check_figure_add(r, "late_runs", (double)fa.late_runs, "runs");
    ss_check_figure_add(r, "window_flush_ms_max", flush_max, "ms");
    ss_check_figure_add(r, "window_flush_ms_mean", fa.n ? flush_sum / fa.n : 0, "ms");
    ss_check_figure_add(r, "window_flush_budget_pct", budget_s > 0 ? 100.0 * flush_max / 1000.0 / budget_s : 0, "%");
    ss_check_figure_add(r, "buffered_left", (double)left, "entries");
    ss_check_figure_add(r, "readback_s", readback_s, "s");
    ss_check_figure_add(r, "rows_read_back", keys_read ? (double)kc.rows : -1, "rows");
    ss_check_figure_add(r, "rows_matched", keys_read ? (double)kc.matched : -1, "rows");
    ss_check_figure_add(r, "rows_lost", keys_read ? (double)kc.lost : -1, "rows");
    ss_check_figure_add(r, "rows_duplicated", keys_read ? (double)kc.duplicated : -1, "rows");
    ss_check_figure_add(r, "rows_unexpected", keys_read ? (double)kc.unexpected : -1, "rows");

    ss_check_criterion_add(r, "writer_ok", SS_CMP_EQ, 1, writer_ok, "",
                           "the DataWriter stopped with an error before draining (see the notes)");
    ss_check_criterion_add(r, "ingest_ok", SS_CMP_EQ, 1, irc == 0, "", "the ingester failed (see the notes)");
    ss_check_criterion_add(r, "archive_read_back", SS_CMP_EQ, 1, keys_read, "",
                           "the archive could not be read back row by row (see the notes): a file the Parquet "
                           "reader refuses is a file other readers may refuse too");
    ss_check_criterion_add(r, "rows_lost", SS_CMP_EQ, 0, keys_read ? (double)kc.lost : -1, "rows",
                           "input events are missing from the archive: the pipeline lost them");
    ss_check_criterion_add(r, "rows_duplicated", SS_CMP_EQ, 0, keys_read ? (double)kc.duplicated : -1, "rows",
                           "events are in the archive more than once: something was written twice (or the archive "
                           "dir already held these rows)");
    ss_check_criterion_add(r, "rows_unexpected", SS_CMP_EQ, 0, keys_read ? (double)kc.unexpected : -1, "rows",
                           "the archive holds rows of no input event (a foreign or corrupted file in the archive "
                           "dir)");
    ss_check_criterion_add(r, "buffer_left", SS_CMP_EQ, 0, (double)left, "entries",
                           "entries stayed in Redis after the writer drained: windows were not committed and "
                           "acknowledged");
    ss_check_criterion_add(r, "window_flush_s_max", SS_CMP_LE, budget_s, flush_max / 1000.0, "s",
                           "a window took longer to flush than the budget (the prototype's 4 minutes per 5-minute "
                           "window): the writer would fall behind the live stream");
    ss_check_criterion_add(r, "end_to_end_events_per_s", SS_CMP_GE, o->min_events_per_s,
                           total_s > 0 ? expected / total_s : 0, "events/s",
                           "ingest + write + commit could not keep up with this rate (--min-rate)");
    if (irc != 0) ss_check_note(r, "ingester: %s", ingest_err);
    if (wt.rc != 0) ss_check_note(r, "writer: %s", writer_err);
    if (!keys_read && keys_err[0]) ss_check_note(r, "archive read-back failed: %s", keys_err);
    if (fa.dropped) ss_check_note(r, "%lld window(s) beyond %d not kept for flush times", fa.dropped, PIPE_MAX_WINDOWS);
    {
        const struct {
            const char *what;
            uint8_t (*ex)[16];
            int n;
        } ex[] = {{"lost", kc.lost_ex, kc.n_lost_ex}, {"duplicated", kc.dup_ex, kc.n_dup_ex},
                  {"unexpected", kc.unexp_ex, kc.n_unexp_ex}};
        for (int k = 0; k < 3; k++)
            for (int i = 0; i < ex[k].n && i < 3; i++) { /* three each: the notes table is small */
                char hex[33];
                ss_keycmp_hex(ex[k].ex[i], hex);
                ss_check_note(r, "%s row, dedup key %s", ex[k].what, hex);
            }
    }
    ss_check_note(r, "exactly-once is compared key by key: every row of the archive read back (archive: source), its "
                     "dedup key looked up among the input's");
    ss_check_note(r, "window flush time = the longest of the window's runs in the writer's ledger (finishing its part "
                     "files: footer, fsync, rename, commit); rows are streamed into the files as they arrive");
    r->interrupted = interrupted;
    rc = 0;
    if (ss_check_report_passed(r)) {
        nftw(work, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    } else {
        ss_check_note(r, "kept for inspection: %s (archive %s, ledger %s)", work, arch, ledger);
    }
    work[0] = '\0';
out:
    if (writer_started) {
        wt.stop = 1;
        pthread_join(wth, NULL);
    }
    if (it.ing) ss_check_ingester_stop(e, &it, NULL);
    if (w) ss_writer_free(w);
    ss_keycmp_stream_free(&ks);
    free(keys);
    free(fa.w);
    if (rc != 0 && work[0]) nftw(work, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return rc;
}
