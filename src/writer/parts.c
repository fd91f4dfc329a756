/* The DataWriter's part files: one per (type, window[, late]) being written, with the entry
 * ids it will commit. Opening one records its intent in the ledger first; aborting one
 * removes its files and withdraws the intent; the memory estimate and the budget spill keep
 * what is buffered bounded. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "util/log.h"
#include "util/fs.h"
#include "writer/archive_id.h"
#include "writer/writer_internal.h"

/* ---- parts ---------------------------------------------------------------------------------- */

/* What an open part costs, as measured (peak RSS against this estimate on multi-hour
 * drains): the Parquet writer holds its open row group of values plus dictionaries, page and
 * compression buffers, about 3x the event bytes in that row group, and ~1 MB per open file.
 * A finished row group is on disk and its buffers are released (parquet/writer.c), so only
 * the bytes since the last cut count. */
static uint64_t part_mem(const ss_writer *w, const part *p) {
    uint64_t buffered = p->raw_open < w->rg_bytes ? p->raw_open : w->rg_bytes;
    return buffered * 3 + p->nids * sizeof(ss_writer_id) + (p->file ? 1u << 20 : 0);
}

static uint64_t mem_estimate(const ss_writer *w) {
    uint64_t m = 0;
    for (size_t i = 0; i < w->nparts; i++) m += part_mem(w, w->parts[i]);
    return m;
}

void ss_wr_update_gauges(ss_writer *w) {
    if (!w->led) return; /* a writer that failed before its ledger opened (ss_writer_free) */
    uint64_t m = mem_estimate(w);
    pthread_mutex_lock(&w->mu);
    w->stats.open_parts = w->nparts;
    w->stats.mem_estimate = m;
    pthread_mutex_unlock(&w->mu);
    ss_metric_set(w->m.open_parts, (double)w->nparts);
    ss_metric_set(w->m.mem, (double)m);
    ss_metric_set(w->m.claims_mem, (double)ss_ledger_claims_bytes(w->led));
}

static void temp_path_of(const ss_writer *w, const char *rel, char *out, size_t outlen) {
    const char *slash = strrchr(rel, '/');
    if (!slash) {
        snprintf(out, outlen, "%s/.%s.tmp", w->out, rel);
        return;
    }
    snprintf(out, outlen, "%s/%.*s/.%s.tmp", w->out, (int)(slash - rel), rel, slash + 1);
}

/* Removes a file that may exist uncommitted (final name and temporary), durably: its
 * directory is fsynced after a removal, so that once the caller drops the file's intent a
 * power cut cannot bring the file back as an unknown part (the partition guard would then
 * refuse the directory; before the guard, it stayed in the archive as a stray copy).
 * Returns 0, or -1 (errno) when the removal could not be made durable. */
int ss_wr_unlink_uncommitted(const ss_writer *w, const char *rel) {
    char p[PATH_MAX + 64];
    int removed = 0;
    if (w->remote) { /* the object and any multipart upload of its key, before the intent goes */
        char err[1536];
        if (ss_wr_remote_remove(w, rel, err, sizeof err) != 0) {
            ss_warn(LOG, "%s", err);
            errno = EIO;
            return -1;
        }
    }
    snprintf(p, sizeof p, "%s/%s", w->out, rel);
    if (unlink(p) == 0) {
        ss_info(LOG, "removed uncommitted part file %s", p);
        removed = 1;
    }
    temp_path_of(w, rel, p, sizeof p);
    if (unlink(p) == 0) removed = 1;
    if (!removed) return 0;
    char *slash = strrchr(p, '/');
    if (slash) *slash = '\0';
    return ss_fsync_dir(p);
}

/* A part's entry ids are its largest allocation (16 B an entry: tens of MB for a busy
 * window's likes), grown by doubling and freed when the part is committed. From malloc, each
 * doubling left the old array as a hole that later, smaller allocations pinned, and the heap
 * stayed at its high-water mark. So the array is its own mapping: mremap grows it without a
 * copy, munmap returns it whole. */
static ss_writer_id *ids_grow(ss_writer_id *old, size_t old_n, size_t new_n) {
    void *a = old ? mremap(old, old_n * sizeof *old, new_n * sizeof *old, MREMAP_MAYMOVE)
                  : mmap(NULL, new_n * sizeof *old, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return a == MAP_FAILED ? NULL : a;
}

static void ids_free(part *p) {
    if (p->ids) munmap(p->ids, p->cap * sizeof *p->ids);
    p->ids = NULL;
    p->cap = p->nids = 0;
}

static void part_free(part *p) {
    if (!p) return;
    if (p->file) ss_ar_file_abort(p->file);
    ids_free(p);
    free(p);
}

void ss_wr_remove_part(ss_writer *w, part *p) {
    for (size_t i = 0; i < w->nparts; i++)
        if (w->parts[i] == p) {
            w->parts[i] = w->parts[--w->nparts];
            break;
        }
    part_free(p);
}

/* Drops every open part without committing: temporaries removed, intents withdrawn.
 * Their entries stay pending in Redis for the next session or process. */
void ss_wr_abort_parts(ss_writer *w) {
    for (size_t i = 0; i < w->nparts; i++) {
        part *p = w->parts[i];
        if (p->file) {
            ss_ar_file_abort(p->file);
            p->file = NULL;
        }
        /* the intent stays when the file (or object) could not be removed: recovery retries */
        if (p->rel[0] && w->led && ss_wr_unlink_uncommitted(w, p->rel) == 0) ss_ledger_intent_drop(w->led, p->rel);
        part_free(p);
    }
    w->nparts = 0;
    ss_wr_update_gauges(w);
}

part *ss_wr_find_part(ss_writer *w, int type, int64_t win, int late) {
    for (size_t i = 0; i < w->nparts; i++) {
        part *p = w->parts[i];
        if (p->type == type && p->win == win && p->late == late) return p;
    }
    return NULL;
}

part *ss_wr_new_part(ss_writer *w, int type, int64_t win, int late) {
    if (w->nparts == w->capparts) {
        size_t nc = w->capparts ? w->capparts * 2 : 32;
        part **a = realloc(w->parts, nc * sizeof *a);
        if (!a) return NULL;
        w->parts = a;
        w->capparts = nc;
    }
    part *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->type = type;
    p->win = win;
    p->late = late;
    p->opened_ms = ss_wr_mono_ms();
    p->max_t = INT64_MIN;
    w->parts[w->nparts++] = p;
    return p;
}

int ss_wr_part_add_id(part *p, ss_writer_id id) {
    if (p->nids == p->cap) {
        size_t nc = p->cap ? p->cap * 2 : 1024; /* 16 KiB: whole pages from the start */
        ss_writer_id *a = ids_grow(p->ids, p->cap, nc);
        if (!a) return -1;
        p->ids = a;
        p->cap = nc;
    }
    p->ids[p->nids++] = id;
    return 0;
}

/* Opens the part's file: the intent is recorded (durably) before the file is created, so
 * whatever happens next, recovery knows the file may exist. Names are deterministic:
 * type, window start (UTC), consumer and the first entry id. */
int ss_wr_part_open_file(ss_writer *w, part *p, ss_writer_id first) {
    time_t secs = (time_t)(p->win / 1000000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char name[SS_AR_MAX_NAME + 1];
    snprintf(name, sizeof name, "%s-%04d%02d%02dT%02d%02d-%.40s-%llu-%llu%s", ss_type_name((ss_type)p->type),
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, w->consumer,
             (unsigned long long)first.ms, (unsigned long long)first.seq, p->late ? "-late" : "");
    char dir[SS_AR_MAX_PATH];
    if (ss_ar_partition_dir(dir, sizeof dir, ".", (ss_type)p->type, p->win) < 0)
        return ss_wr_fail(w, "cannot build the partition path of window %lld", (long long)p->win);
    if (strlen(dir) + strlen(name) + 12 > SS_AR_MAX_PATH)
        return ss_wr_fail(w, "partition path too long under %s", w->out);
    { /* part files there that the ledger does not know (a restored data dir): refuse (archive_id.h) */
        char gerr[2048];
        int ge = 0;
        int g = ss_archive_guard_dir(w->guard, w->led, dir + 2, &ge, gerr, sizeof gerr);
        if (g == SS_ARCHIVE_GUARD_IO) return ss_wr_io_fail(w, ge, "%s", gerr);
        if (g == SS_ARCHIVE_GUARD_ERR) return ss_wr_fail(w, "%s", gerr);
        if (g != SS_ARCHIVE_GUARD_OK) return w->fatal = 1, ss_wr_fail(w, "%s", gerr);
    }
    snprintf(p->rel, sizeof p->rel, "%s/%s.parquet", dir + 2, name);
    if (ss_ledger_intent(w->led, p->rel, w->consumer) != 0) {
        p->rel[0] = '\0';
        return ss_wr_fail(w, "%s", ss_ledger_errstr(w->led));
    }
    ss_ar_options ao;
    ss_ar_options_init(&ao);
    ao.codec = w->o.codec;
    ao.zstd_level = w->o.zstd_level;
    ao.row_group_rows = SS_AR_ROW_GROUP_ROWS;
    ao.row_group_bytes = w->rg_bytes;
    char err[512];
    errno = 0;
    p->file = ss_ar_file_open(w->out, (ss_type)p->type, p->win, name, &ao, err, sizeof err);
    if (!p->file) return ss_wr_io_fail(w, errno, "cannot create part file %s/%s: %s", w->out, p->rel, err);
    return 0;
}

void ss_wr_part_remove_id(part *p, ss_writer_id id) {
    for (size_t k = p->nids; k-- > 0;)
        if (ss_writer_id_cmp(p->ids[k], id) == 0) {
            memmove(&p->ids[k], &p->ids[k + 1], (p->nids - k - 1) * sizeof *p->ids);
            p->nids--;
            return;
        }
}

/* Keeps memory and open files bounded: while over budget, the biggest part ends its open
 * row group early (a "cut": the file stays open, memory is released, no extra file), or,
 * when it holds too little for a cut to help, or too many files are open, it is committed
 * early as one more part file of its window (a "spill"). Cutting before spilling keeps the
 * live archive's files as few as convert's: spilling at the row-group target made three
 * full parts of one window (like, follow, post) overflow the default budget, and a window's
 * likes went into ~10 files of less than one row group each. */
int ss_wr_enforce_budget(ss_writer *w) {
    for (;;) {
        size_t files = 0;
        for (size_t i = 0; i < w->nparts; i++) files += w->parts[i]->file != NULL;
        if (w->nparts == 0 || (mem_estimate(w) <= w->o.memory_budget && files <= MAX_OPEN_FILES)) return 0;
        part *big = w->parts[0];
        for (size_t i = 1; i < w->nparts; i++)
            if (part_mem(w, w->parts[i]) > part_mem(w, big)) big = w->parts[i];
        if (big->file && files <= MAX_OPEN_FILES && big->raw_open >= w->rg_bytes / 4) {
            ss_info(LOG, "memory budget reached: cutting the %s window part's row group early (%llu bytes)",
                    ss_type_name((ss_type)big->type), (unsigned long long)big->raw_open);
            if (ss_ar_file_cut(big->file) != 0) /* the row group is written now: the disk may refuse it */
                return ss_wr_io_fail(w, ss_ar_file_errno(big->file), "cannot cut a row group of %s/%s: %s", w->out,
                                     big->rel, ss_ar_file_errstr(big->file));
            big->raw_open = 0;
            big->rg_seen = ss_ar_file_row_groups(big->file);
            continue;
        }
        ss_info(LOG, "memory budget reached: committing %s window part early (%llu rows)",
                ss_type_name((ss_type)big->type), (unsigned long long)big->rows);
        if (ss_wr_flush_part(w, big, big->late ? KIND_LATE : KIND_SPILL) != 0) return -1;
    }
}
