/* The DataWriter's commit protocol (docs/design/writer-protocol.md, "The exactly-once commit protocol"):
 *     open runs (FULL) -> seal files (fsync) -> publish (rename, dir fsync)
 *     -> ledger commit (FULL, fenced) -> XACK + trim (ack_script.h),
 * with a crash point after each step (crash.h), and flush_cycle, which decides from the
 * watermark which parts are due. Nothing is acknowledged before its commit is durable. */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"
#include "util/clock.h"
#include "util/mem.h"
#include "writer/crash.h"
#include "writer/writer_internal.h"

/* ---- the commit protocol ------------------------------------------------------------------------ */

int ss_wr_ack(ss_writer *w, int type, const ss_writer_id *ids, size_t n) {
    if (n == 0) return 0;
    int64_t t0 = ss_mono_ns();
    if (w->c->v->ack(w->c, type, ids, n) != 0) return ss_wr_consumer_fail(w);
    if (w->m.ack_hist) ss_histogram_observe(w->m.ack_hist, (double)(ss_mono_ns() - t0) / 1e9);
    return 0;
}

static int cmp_id(const void *a, const void *b) {
    return ss_writer_id_cmp(*(const ss_writer_id *)a, *(const ss_writer_id *)b);
}

typedef struct {
    part *p;
    ss_ar_file_result res;
    int rc;
    int fatal;     /* S3 refused us (permission, clock): no retry helps */
    int sys_errno; /* the errno behind err, taken on the finishing thread (0: S3 or not a system call's) */
    char err[1536];
} finish_job;

typedef struct {
    const ss_writer *w;
    finish_job *jobs;
    size_t n;
    size_t next;
    pthread_mutex_t mu;
} finish_pool;

static void *finish_worker(void *arg);

/* The helpers of one commit (the writer's own thread works through the same queue). These
 * are started per commit, not per round: a commit is once per window and type. */
static void *finish_thread(void *arg) {
    pthread_setname_np(pthread_self(), "ss-finish");
    return finish_worker(arg);
}

/* Finishing a file is CPU (the last row group, the footer) plus two fsyncs; several files
 * are finished at once so the fsync waits overlap. */
static void *finish_worker(void *arg) {
    finish_pool *fp = arg;
    for (;;) {
        pthread_mutex_lock(&fp->mu);
        size_t i = fp->next++;
        pthread_mutex_unlock(&fp->mu);
        if (i >= fp->n) return NULL;
        finish_job *j = &fp->jobs[i];
        ss_ar_file *f = j->p->file;
        j->p->file = NULL; /* finish frees it, success or not */
        j->rc = ss_ar_file_seal(f, &j->res, j->err, sizeof j->err);
        if (j->rc != 0) {
            j->sys_errno = errno; /* this thread's errno, set by the seal (archive.h) */
            continue;
        }
        ss_writer_crash_point("after_write"); /* sealed and fsynced, not yet renamed */
        j->rc = ss_ar_file_publish(f, j->err, sizeof j->err);
        if (j->rc != 0) j->sys_errno = errno;
        if (j->rc == 0) ss_writer_crash_point("after_rename");
        if (j->rc == 0 && fp->w->remote) { /* S3: staged, now uploaded to its deterministic key */
            /* The seal's page buffers were freed into this thread's malloc arena, which no other
             * thread allocates from; the upload holds the thread for seconds, and at a window's
             * close several such arenas stayed resident together (bench/s3.sh: +17 MB of
             * arenas against disk at the peak). Returned before the upload, once per file. */
            ss_mem_release();
            j->rc = ss_wr_remote_upload(fp->w, j->p->rel, j->res.sha256, &j->fatal, j->err, sizeof j->err);
            if (j->rc == 0) ss_writer_crash_point("after_upload");
        }
    }
}

#define FINISH_THREADS 4

/* Commits parts with the protocol, batched:
 *   (1) their entries were read and streamed into the files;
 *   (2) one FULL ledger transaction opens their runs (and always writes a mark, so that
 *       SQLite syncs it), which makes every intent recorded since the last one durable; then each file is finished (fsync), renamed
 *       into place and its directory fsynced, several at once;
 *   (3) one FULL transaction records every commit (refused as a whole if we were fenced);
 *   (4) then their entries are XACKed and removed from the stream (ack_script.h).
 * Parts are freed on success; on failure they stay and the session ends (abort_parts). */
static int flush_parts(ss_writer *w, part **ps, const int *kinds, size_t n) {
    if (n == 0) return 0;
    int64_t t0 = ss_wr_mono_ms();
    if (ss_ledger_batch_begin(w->led, 1) != 0) return ss_wr_fail(w, "%s", ss_ledger_errstr(w->led));
    /* the transaction must write something: when every run is open already it would change
     * nothing, SQLite would not sync it, and the intents would not be durable before the
     * renames below (a power cut then left part files the ledger never heard of) */
    if (ss_ledger_durable_mark(w->led) != 0) {
        ss_ledger_batch_end(w->led, 1);
        return ss_wr_fail(w, "%s", ss_ledger_errstr(w->led));
    }
    for (size_t i = 0; i < n; i++) {
        part *p = ps[i];
        if (p->run_id) continue;
        p->run_id = ss_ledger_run_open(w->led, p->win, w->o.window_us, ss_wr_led_type(w, p->type), w->ltype_name[p->type],
                                       w->consumer, kinds[i]);
        if (p->run_id < 0) {
            p->run_id = 0;
            ss_ledger_batch_end(w->led, 1);
            return ss_wr_fail(w, "%s", ss_ledger_errstr(w->led));
        }
    }
    if (ss_ledger_batch_end(w->led, 0) != 0) return ss_wr_fail(w, "%s", ss_ledger_errstr(w->led));
    w->fail_run = ps[0]->run_id;

    finish_job *jobs = calloc(n, sizeof *jobs);
    if (!jobs) return ss_wr_fail(w, "out of memory");
    size_t nf = 0;
    for (size_t i = 0; i < n; i++) {
        qsort(ps[i]->ids, ps[i]->nids, sizeof *ps[i]->ids, cmp_id);
        if (ps[i]->file) jobs[nf++].p = ps[i];
    }
    finish_pool fp = {w, jobs, nf, 0, PTHREAD_MUTEX_INITIALIZER};
    pthread_t th[FINISH_THREADS];
    int nth = 0;
    for (int k = 0; k < FINISH_THREADS - 1 && (size_t)(k + 1) < nf; k++)
        if (pthread_create(&th[nth], NULL, finish_thread, &fp) == 0) nth++;
    finish_worker(&fp);
    for (int k = 0; k < nth; k++) pthread_join(th[k], NULL);
    int rc = 0;
    for (size_t j = 0; j < nf && rc == 0; j++) {
        part *p = jobs[j].p;
        if (jobs[j].rc != 0) {
            w->fail_run = p->run_id;
            if (jobs[j].fatal) w->fatal = 1;
            rc = ss_wr_io_fail(w, jobs[j].sys_errno, "finishing %s/%s: %s", w->out, p->rel, jobs[j].err);
        } else if (jobs[j].res.rows != p->rows) {
            rc = ss_wr_fail(w, "%s: %llu rows in the file, %llu appended", p->rel, (unsigned long long)jobs[j].res.rows,
                       (unsigned long long)p->rows);
        }
    }
    if (rc != 0) {
        free(jobs);
        return -1;
    }

    int64_t dt = ss_wr_mono_ms() - t0;
    if (ss_ledger_batch_begin(w->led, 1) != 0) {
        free(jobs);
        return ss_wr_fail(w, "%s", ss_ledger_errstr(w->led));
    }
    int fenced = 0;
    for (size_t i = 0; i < n && !fenced; i++) {
        part *p = ps[i];
        const ss_ar_file_result *res = NULL;
        for (size_t j = 0; j < nf; j++)
            if (jobs[j].p == p) res = &jobs[j].res;
        ss_ledger_commit_rec c = {.run_id = p->run_id,
                                  .window_start_us = p->win,
                                  .type = ss_wr_led_type(w, p->type),
                                  .type_name = w->ltype_name[p->type],
                                  .consumer = w->consumer,
                                  .path = p->rel[0] ? p->rel : NULL,
                                  .ids = p->ids,
                                  .nids = p->nids,
                                  .rows = p->rows,
                                  .dups = p->dups,
                                  .bytes = res ? res->bytes : 0,
                                  .late = kinds[i] == KIND_LATE,
                                  .sha256 = res ? res->sha256 : NULL,
                                  .max_time_us = p->max_t,
                                  .duration_ms = dt,
                                  .closes_window = kinds[i] == KIND_CLOSE,
                                  .window_us = w->o.window_us};
        int lr = ss_ledger_commit(w->led, &c);
        if (lr == SS_LEDGER_FENCED) fenced = 1;
        else if (lr != SS_LEDGER_OK) rc = -1;
    }
    if (ss_ledger_batch_end(w->led, fenced || rc != 0) != 0 || fenced) {
        free(jobs);
        if (fenced) {
            /* Another writer declared us dead and took our entries over: our files must go. */
            for (size_t i = 0; i < n; i++)
                if (ps[i]->rel[0]) ss_wr_unlink_uncommitted(w, ps[i]->rel);
            w->fatal = 1;
            ss_wr_fail(w, "%s; stopping (restart the writer to continue under a live name)", ss_ledger_errstr(w->led));
            w->err = SS_ERR_FENCED;
            return -1;
        }
        return ss_wr_fail(w, "%s", ss_ledger_errstr(w->led));
    }
    for (size_t i = 0; i < n; i++) {
        part *p = ps[i];
        if (w->remote && p->rel[0]) ss_wr_remote_unstage(w, p->rel); /* committed: the object is the copy */
        p->rel[0] = '\0'; /* committed: no longer ours to remove */
        if (kinds[i] == KIND_CLOSE && p->win + w->o.window_us > w->flushed_end) w->flushed_end = p->win + w->o.window_us;
        ss_writer_crash_point("after_ledger");
    }
    dt = ss_wr_mono_ms() - t0;
    for (size_t i = 0; i < n; i++) {
        part *p = ps[i];
        const ss_ar_file_result *res = NULL;
        for (size_t j = 0; j < nf; j++)
            if (jobs[j].p == p) res = &jobs[j].res;
        uint64_t bytes = res ? res->bytes : 0;
        pthread_mutex_lock(&w->mu);
        w->stats.entries += p->nids;
        w->stats.rows += p->rows;
        w->stats.dups += p->dups;
        if (kinds[i] == KIND_LATE) w->stats.late_rows += p->rows;
        w->stats.files += res ? 1 : 0;
        w->stats.bytes += bytes;
        w->stats.commits++;
        pthread_mutex_unlock(&w->mu);
        ss_metric_add(w->m.entries[p->type], (double)p->nids);
        ss_metric_add(w->m.rows[p->type], (double)p->rows);
        ss_metric_add(w->m.dups[p->type], (double)p->dups);
        if (kinds[i] == KIND_LATE) ss_metric_add(w->m.late_rows[p->type], (double)p->rows);
        if (res) ss_metric_inc(w->m.files[p->type]);
        ss_metric_add(w->m.bytes[p->type], (double)bytes);
        ss_debug(LOG, "committed %s: %llu rows, %llu duplicates, %llu bytes", res ? res->path : "(no rows)",
                 (unsigned long long)p->rows, (unsigned long long)p->dups, (unsigned long long)bytes);
        if (w->o.on_commit) w->o.on_commit(w->o.on_commit_ctx, res ? res->path : "", p->rows);
    }
    /* (4) acknowledge, pipelined per part. The rows above are counted as soon as they are
     * committed: a failed ack leaves the entries pending, and the retry only acknowledges
     * them (as recovered), so every committed row is counted once, by the process that
     * committed it. */
    for (size_t i = 0; i < n; i++) {
        if (ss_wr_ack(w, ps[i]->type, ps[i]->ids, ps[i]->nids) != 0) {
            free(jobs);
            return -1;
        }
        ss_writer_crash_point("after_ack");
    }
    for (size_t i = 0; i < n; i++) ss_wr_remove_part(w, ps[i]);
    ss_metric_set(w->m.flush_s, (double)dt / 1000.0);
    ss_histogram_observe(w->m.flush_hist, (double)dt / 1000.0);
    ss_metric_set(w->m.last_commit, (double)ss_wr_wall_us() / 1e6);
    ss_wr_io_clear(w);
    w->fail_run = 0;
    free(jobs);
    ss_wr_update_gauges(w);
    return 0;
}

int ss_wr_flush_part(ss_writer *w, part *p, int kind) { return flush_parts(w, &p, &kind, 1); }

/* Closes what the watermark says is complete; late parts go with any closing window, after
 * they have waited `grace`, or at the end. final: everything due now (once mode / stop);
 * all: every part. */
int ss_wr_flush_cycle(ss_writer *w, int final, int all) {
    int64_t now = ss_wr_wall_us();
    ss_writer_stream_clock cl[SS_TYPE__COUNT];
    for (int t = 0; t < SS_TYPE__COUNT; t++) cl[t] = w->st[t].clock;
    int64_t idle = (w->o.once || final) ? 0 : w->o.grace_us;
    int64_t wm = ss_writer_watermark(cl, SS_TYPE__COUNT, now, idle);
    pthread_mutex_lock(&w->mu);
    w->stats.watermark_us = wm;
    pthread_mutex_unlock(&w->mu);
    ss_metric_set(w->m.wm_lag, (double)(now - wm) / 1e6);
    if (w->nparts == 0) return 0;
    part **due = malloc(w->nparts * sizeof *due);
    int *kinds = malloc(w->nparts * sizeof *kinds);
    if (!due || !kinds) {
        free(due);
        free(kinds);
        return ss_wr_fail(w, "out of memory");
    }
    size_t n = 0;
    int closing = 0;
    for (size_t i = 0; i < w->nparts; i++) {
        part *p = w->parts[i];
        if (all || (!p->late && ss_writer_window_closed(p->win, w->o.window_us, w->o.grace_us, wm))) {
            kinds[n] = p->late ? KIND_LATE : KIND_CLOSE;
            due[n++] = p;
            closing |= !p->late;
        }
    }
    /* late parts go with any closing window, after waiting `grace`, or at the end */
    for (size_t i = 0; i < w->nparts; i++) {
        part *p = w->parts[i];
        if (all || !p->late) continue;
        if (closing || final || ss_wr_mono_ms() - p->opened_ms >= w->o.grace_us / 1000) {
            kinds[n] = KIND_LATE;
            due[n++] = p;
        }
    }
    /* /healthz: how long due windows have waited (kept across failed sessions; 0 when none) */
    if (n && ss_metric_value(w->m.due_since) == 0) ss_metric_set(w->m.due_since, (double)now / 1e6);
    int rc = 0;
    for (size_t off = 0; off < n && rc == 0; off += 64) /* batches bound the fds finishing at once */
        rc = flush_parts(w, due + off, kinds + off, n - off < 64 ? n - off : 64);
    if (rc == 0 && n) ss_metric_set(w->m.due_since, 0);
    free(due);
    free(kinds);
    /* The parts' buffers were allocated by the lane threads, whose malloc arenas keep freed
     * memory; give it back, or RSS creeps to the sum of every arena's peak. */
    if (n) ss_mem_release();
    return rc;
}
