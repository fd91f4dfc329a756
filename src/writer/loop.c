/* The DataWriter's main loop; the protocol and its proof are in docs/design/writer-protocol.md.
 *
 * A *session* connects to Redis, recovers (own intents, own pending entries, dead consumers'
 * pending entries) and then loops: read a round (round.c), close what the watermark says is
 * complete (commit.c). Any failure ends the session: open parts are aborted (temporaries
 * removed), the attempt and its error go to the ledger, the writer backs off (exponential,
 * jittered, capped) and starts a new session, which re-reads its pending entries from Redis.
 * So a retry is the crash-recovery path, exercised on every restart and by the crash tests,
 * not a second code path. Also here: the dead-consumer policy (who may be taken over),
 * pruning of the dedup horizon, and ss_writer_new/free. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "util/clock.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/str.h"
#include "writer/archive_id.h"
#include "writer/crash.h"
#include "writer/writer_internal.h"

/* ---- small helpers ------------------------------------------------------------------------ */

int64_t ss_wr_wall_us(void) { return ss_wall_us(); }
int64_t ss_wr_wall_ms(void) { return ss_wr_wall_us() / 1000; }

int64_t ss_wr_mono_ms(void) { return ss_mono_ms(); }

int ss_writer_valid_consumer(const char *name) { return ss_safe_name(name, SS_WRITER_MAX_CONSUMER); }

void ss_writer_default_consumer(char *out, size_t outlen) {
    char host[256] = "host";
    if (gethostname(host, sizeof host - 1) != 0) strcpy(host, "host");
    host[sizeof host - 1] = '\0';
    char tmp[320];
    snprintf(tmp, sizeof tmp, "%.40s-%ld", host, (long)getpid());
    size_t j = 0;
    for (size_t i = 0; tmp[i] && j + 1 < outlen && j < SS_WRITER_MAX_CONSUMER; i++) {
        char c = tmp[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
                 c == '-';
        out[j++] = ok ? c : '_';
    }
    out[j] = '\0';
    if (out[0] == '.' || out[0] == '-') out[0] = '_';
}

void ss_writer_opts_init(ss_writer_opts *o) {
    memset(o, 0, sizeof *o);
    o->prefix = "skyspool:";
    o->window_us = 300000000LL;
    o->grace_us = 30000000LL;
    o->horizon_us = 3600000000LL;
    o->claim_idle_ms = 60000;
    o->retry_base_ms = 200;
    o->retry_max_ms = 300000;
    o->memory_budget = (size_t)SS_WRITER_DEFAULT_MEMORY_BUDGET_MB << 20;
    o->count = 1000;
    o->block_ms = 1000;
    o->linger_ms = 500;
    o->codec = SS_PQ_CODEC_ZSTD;
    o->zstd_level = SS_AR_DEFAULT_ZSTD_LEVEL;
}

int ss_wr_fail(ss_writer *w, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->errstr, sizeof w->errstr, fmt, ap);
    va_end(ap);
    w->err = SS_ERR_IO;
    return -1;
}

const char *ss_writer_errstr(const ss_writer *w) { return w->errstr; }
ss_err_class ss_writer_errclass(const ss_writer *w) { return w->err > SS_ERR_NONE ? w->err : SS_ERR_IO; }

/* A stream's number in the ledger (claims, runs, commits): its type when unsharded, a
 * number of its own per (shard, type) otherwise. Entry ids of two streams can be equal,
 * so two shards owned by one ledger must never look up each other's committed ids. */
/* A stream's number in the ledger. The numbers are stored (claims, commits, window closes),
 * so they never change: the eight types that existed first (post..other) keep
 * `type` unsharded and 8 * (shard + 1) + type sharded; every type added since (sync) has a
 * block of SS_SHARDS_MAX + 1 numbers of its own after theirs (unsharded, then each shard). */
#define LEGACY_TYPES 8
_Static_assert(SS_TYPE_OTHER == LEGACY_TYPES - 1, "the first eight types keep their ledger numbers");
_Static_assert(LEGACY_TYPES * (SS_SHARDS_MAX + 1) + (SS_TYPE__COUNT - LEGACY_TYPES) * (SS_SHARDS_MAX + 1) <= 256,
               "ledger stream numbers must fit the claim log's byte");
int ss_wr_led_type(const ss_writer *w, int type) {
    if (type < LEGACY_TYPES) return w->nshards > 1 ? LEGACY_TYPES * (w->o.shard + 1) + type : type;
    return LEGACY_TYPES * (SS_SHARDS_MAX + 1) + (type - LEGACY_TYPES) * (SS_SHARDS_MAX + 1) +
           (w->nshards > 1 ? w->o.shard + 1 : 0);
}

int ss_wr_consumer_fail(ss_writer *w) {
    ss_wr_fail(w, "%s", w->c->errstr);
    if (w->c->err > SS_ERR_NONE) w->err = (ss_err_class)w->c->err;
    return -1;
}

void ss_wr_stat_add(ss_writer *w, uint64_t *field, uint64_t v, ss_metric *m) {
    pthread_mutex_lock(&w->mu);
    *field += v;
    pthread_mutex_unlock(&w->mu);
    if (m && v) ss_metric_add(m, (double)v);
}

void ss_writer_get_stats(ss_writer *w, ss_writer_stats *out) {
    pthread_mutex_lock(&w->mu);
    *out = w->stats;
    pthread_mutex_unlock(&w->mu);
}

static void register_metrics(ss_writer *w) {
    for (int t = 0; t < SS_TYPE__COUNT; t++) {
        char l[48];
        snprintf(l, sizeof l, "type=\"%s\"", ss_type_name((ss_type)t));
        w->m.entries[t] = ss_metric_get("skyspool_writer_entries_total", SS_METRIC_COUNTER,
                                        "Stream entries the writer committed or acknowledged", l);
        w->m.rows[t] = ss_metric_get("skyspool_writer_rows_total", SS_METRIC_COUNTER, "Rows committed to Parquet", l);
        w->m.dups[t] = ss_metric_get("skyspool_writer_duplicates_total", SS_METRIC_COUNTER,
                                     "Entries skipped as duplicates within the dedup horizon", l);
        w->m.late_rows[t] = ss_metric_get("skyspool_writer_late_rows_total", SS_METRIC_COUNTER,
                                          "Rows written into late part files (their window had closed)", l);
        w->m.files[t] = ss_metric_get("skyspool_writer_files_total", SS_METRIC_COUNTER, "Part files committed", l);
        w->m.bytes[t] = ss_metric_get("skyspool_writer_bytes_total", SS_METRIC_COUNTER, "Bytes of part files committed", l);
        w->m.recovered[t] = ss_metric_get("skyspool_writer_recovered_total", SS_METRIC_COUNTER,
                                          "Pending entries found already committed and acknowledged on recovery", l);
        w->m.reclaimed[t] = ss_metric_get("skyspool_writer_reclaimed_total", SS_METRIC_COUNTER,
                                          "Entries taken over from dead consumers", l);
        w->m.dlq[t] = ss_metric_get("skyspool_writer_dlq_total", SS_METRIC_COUNTER,
                                    "Entries the writer could not decode, moved to the DLQ", l);
        w->m.lost[t] = ss_metric_get("skyspool_writer_lost_entries_total", SS_METRIC_COUNTER,
                                     "Pending entries found deleted from their stream before they were written (lost)", l);
        w->m.released[t] = ss_metric_get("skyspool_writer_released_claims_total", SS_METRIC_COUNTER,
                                         "Dedup claims released because Redis lost the entries that held them", l);
    }
    w->m.failures = ss_metric_get("skyspool_writer_failures_total", SS_METRIC_COUNTER,
                                  "Failed attempts (each retried after backoff)", NULL);
    w->m.gaps = ss_metric_get("skyspool_writer_gaps_total", SS_METRIC_COUNTER,
                              "Gap records committed to the ledger (skyspool gaps)", NULL);
    w->m.open_parts = ss_metric_get("skyspool_writer_open_parts", SS_METRIC_GAUGE, "Part files open", NULL);
    w->m.claims_mem = ss_metric_get("skyspool_writer_dedup_claims_bytes", SS_METRIC_GAUGE,
                                    "Memory of the in-memory dedup claim set (the horizon's keys)", NULL);
    w->m.mem = ss_metric_get("skyspool_writer_memory_estimate_bytes", SS_METRIC_GAUGE,
                             "Writer's estimate of its buffered bytes (budget: memory-budget)", NULL);
    w->m.wm_lag = ss_metric_get("skyspool_writer_watermark_lag_seconds", SS_METRIC_GAUGE,
                                "Wall clock minus the event-time watermark", NULL);
    w->m.flush_s = ss_metric_get("skyspool_writer_last_flush_seconds", SS_METRIC_GAUGE,
                                 "Duration of the last part commit (finish + ledger + ack)", NULL);
    w->m.last_commit = ss_metric_get("skyspool_writer_last_commit_timestamp_seconds", SS_METRIC_GAUGE,
                                     "Wall clock of the last successful commit batch (0: none yet)", NULL);
    w->m.due_since = ss_metric_get("skyspool_writer_due_since_timestamp_seconds", SS_METRIC_GAUGE,
                                   "Since when windows have been due and not committed (0: none waiting)", NULL);
    static const double flush_bounds[] = {0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120};
    w->m.flush_hist = ss_histogram_get("skyspool_writer_flush_duration_seconds",
                                       "Duration of commit batches (finish + ledger + ack)", NULL, flush_bounds,
                                       sizeof flush_bounds / sizeof flush_bounds[0]);
    static const double ack_bounds[] = {0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
    w->m.ack_hist = ss_histogram_get("skyspool_writer_ack_duration_seconds",
                                     "Round trips of the ack script (XACK + trim of one stream's committed ids)", NULL,
                                     ack_bounds, sizeof ack_bounds / sizeof ack_bounds[0]);
    ss_wr_io_register_metrics(w);
}

/* ---- dead consumers ------------------------------------------------------------------------------ */

static int lock_path_of(const ss_writer *w, const char *consumer, char *out, size_t outlen) {
    int n = snprintf(out, outlen, "%s/%s.lock", w->lock_dir, consumer);
    return n > 0 && (size_t)n < outlen ? 0 : -1;
}

/* Non-blocking exclusive lock on a consumer's lock file: -1 held by a live process here. */
static int try_lock_consumer(const ss_writer *w, const char *consumer) {
    char path[PATH_MAX + 80];
    if (lock_path_of(w, consumer, path, sizeof path) != 0) return -1;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return -1;
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

typedef struct {
    char **v;
    size_t n, cap;
    int oom;
} path_list;

static void collect_path(void *ctx, const char *path) {
    path_list *l = ctx;
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 16;
        char **a = realloc(l->v, nc * sizeof *a);
        if (!a) {
            l->oom = 1;
            return;
        }
        l->v = a;
        l->cap = nc;
    }
    char *d = strdup(path);
    if (!d) {
        l->oom = 1;
        return;
    }
    l->v[l->n++] = d;
}

/* Removes every file consumer may have left uncommitted, then forgets the intents. A file
 * is removed before its intent, so a crash in between only repeats the removal. */
static int clean_intents(ss_writer *w, const char *consumer) {
    path_list l = {0};
    int rc = ss_ledger_intents(w->led, consumer, collect_path, &l);
    if (rc != 0) rc = ss_wr_fail(w, "%s", ss_ledger_errstr(w->led));
    else if (l.oom) rc = ss_wr_fail(w, "out of memory");
    for (size_t i = 0; i < l.n; i++) {
        if (rc == 0 && ss_wr_unlink_uncommitted(w, l.v[i]) != 0)
            rc = ss_wr_io_fail(w, errno, "cannot remove the uncommitted part file %s/%s durably: %s", w->out, l.v[i],
                               strerror(errno));
        if (rc == 0 && ss_ledger_intent_drop(w->led, l.v[i]) < 0) rc = ss_wr_fail(w, "%s", ss_ledger_errstr(w->led));
        free(l.v[i]);
    }
    free(l.v);
    return rc;
}

static int heartbeat(ss_writer *w, int exited) {
    if (w->c->v->heartbeat(w->c, exited ? 0LL : (long long)ss_wr_wall_ms()) != 0) return ss_wr_consumer_fail(w);
    w->last_hb_ms = ss_wr_mono_ms();
    return 0;
}

/* Takes over consumer `dead`'s pending entries of stream t that have been idle at least
 * min_idle ms, and processes them like our own pending entries. */
static int take_over_stream(ss_writer *w, int t, const char *dead, long long min_idle) {
    const char *key = w->st[t].key;
    /* The dead consumer committed until it was fenced: committed-id sets loaded before that
     * may lack its last commits, so they are loaded afresh, batch by batch (round.c). */
    ss_wr_drop_committed(w);
    for (;;) {
        ss_writer_batch b;
        int r = w->c->v->take_over(w->c, t, dead, min_idle, &b);
        if (r < 0) return ss_wr_consumer_fail(w);
        if (r == 0) return 0;
        w->nb = 0;
        int64_t tmin = INT64_MAX, tmax = INT64_MIN;
        int got = 0;
        int rc = ss_wr_scan_entries(w, t, b.e, b.n, 1, &got, &tmin, &tmax);
        if (rc == 0) rc = ss_wr_claim_batch(w, 0);
        if (rc == 0) rc = ss_wr_apply_batch(w, 0);
        w->c->v->release(w->c);
        if (rc != 0) return -1;
        ss_wr_stat_add(w, &w->stats.reclaimed, (uint64_t)got, w->m.reclaimed[t]);
        ss_info(LOG, "took over %d pending entries of dead consumer %s in %s", got, dead, key);
        if (got == 0) return 0; /* nothing claimable (entries touched meanwhile) */
        if (ss_wr_enforce_budget(w) != 0) return -1;
    }
}

/* 1 when consumer has a lock file in our data dir: it ran on this machine, with this data
 * dir, so its lock tells for sure whether its process is alive. */
static int has_lock_file(const ss_writer *w, const char *consumer) {
    char path[PATH_MAX + 80];
    struct stat st;
    return lock_path_of(w, consumer, path, sizeof path) == 0 && stat(path, &st) == 0;
}

/* A consumer is dead when
 *   - it ran on this machine (its lock file is in our data dir) and no process holds the
 *     lock: its process is gone, whatever its heartbeat says -- taken over at once; or
 *   - its heartbeat says it exited, or is older than claim-idle (or it never had one and
 *     has been idle that long), and no process here holds its lock.
 * Its intents are cleaned and it is fenced before its entries are taken, so even a writer
 * wrongly declared dead can no longer commit anything. Consumers that look alive elsewhere
 * are counted in w->others_pending (for --once --all, which must not claim it is done). */
static int reclaim_dead(ss_writer *w) {
    ss_writer_consumer_info *cs = NULL;
    size_t n = 0;
    w->others_pending = 0;
    w->others_name[0] = '\0';
    w->others_hb_age_ms = -1;
    if (w->c->v->consumers(w->c, &cs, &n) != 0) {
        free(cs);
        return ss_wr_consumer_fail(w);
    }
    int rc = 0;
    long long now = (long long)ss_wr_wall_ms(), most = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        ss_writer_consumer_info *c = &cs[i];
        long long hb = -1;
        if (w->c->v->heartbeat_of(w->c, c->name, &hb) != 0) {
            rc = ss_wr_consumer_fail(w);
            break;
        }
        int local = has_lock_file(w, c->name);
        int fd = -1;
        long long min_idle;
        const char *why;
        if (local) {
            fd = try_lock_consumer(w, c->name);
            if (fd < 0) continue; /* a live process on this machine */
            min_idle = 0, why = "its process on this machine is gone";
        } else if (hb == 0) {
            min_idle = 0, why = "exited";
        } else if ((hb > 0 && now - hb > w->o.claim_idle_ms) || (hb < 0 && c->idle_ms >= w->o.claim_idle_ms)) {
            min_idle = w->o.claim_idle_ms, why = "silent for longer than claim-idle";
        } else { /* alive, somewhere else */
            w->others_pending += c->pending;
            if (c->pending > most) {
                most = c->pending;
                snprintf(w->others_name, sizeof w->others_name, "%s", c->name);
                w->others_hb_age_ms = hb > 0 ? now - hb : -1;
            }
            continue;
        }
        if (fd < 0) fd = try_lock_consumer(w, c->name);
        if (fd < 0) continue;
        if (c->pending > 0) {
            ss_info(LOG, "consumer %s is dead (%s); taking over its %lld pending entries", c->name, why, c->pending);
            if (ss_ledger_fence(w->led, c->name) != 0) rc = ss_wr_fail(w, "%s", ss_ledger_errstr(w->led));
            if (rc == 0) rc = clean_intents(w, c->name);
            for (int t = 0; t < SS_TYPE__COUNT && rc == 0; t++) rc = take_over_stream(w, t, c->name, min_idle);
        }
        /* forget it once nothing of it is pending anywhere */
        if (rc == 0 && w->c->v->forget(w->c, c->name) != 0) rc = ss_wr_consumer_fail(w);
        close(fd);
    }
    free(cs);
    w->last_reclaim_ms = ss_wr_mono_ms();
    return rc;
}

/* --once --all promises that nothing is left behind. Entries pending with consumers that
 * look alive on another machine are theirs to finish: wait for them (they commit, or go
 * silent and are taken over) for up to claim-idle, with a progress line, and fail naming
 * them if they are still there. Returns 0 when nothing is left, -1 (fatal) otherwise. */
static int wait_for_others(ss_writer *w, volatile sig_atomic_t *stop) {
    int64_t t0 = ss_wr_mono_ms(), last_log = 0;
    for (;;) {
        if (reclaim_dead(w) != 0) return -1;
        if (w->others_pending == 0) return 0;
        int64_t waited = ss_wr_mono_ms() - t0;
        if (waited >= w->o.claim_idle_ms || *stop) {
            w->fatal = 1;
            return ss_wr_fail(w,
                              "not done: %lld entries are still pending with consumer %s%s, which looks alive "
                              "(heartbeat %.1f s ago, no lock of it on this machine). They are its to commit: "
                              "run again once it has stopped, or after it has been silent for claim-idle (%.0f s)",
                              w->others_pending, w->others_name, "",
                              (double)w->others_hb_age_ms / 1000.0, (double)w->o.claim_idle_ms / 1000.0);
        }
        if (ss_wr_mono_ms() - last_log >= 5000) {
            ss_info(LOG, "waiting for %lld entries pending with consumer %s (heartbeat %.1f s ago) to be committed or "
                         "to go silent: %.0f of at most %.0f s (claim-idle)",
                    w->others_pending, w->others_name, (double)w->others_hb_age_ms / 1000.0, (double)waited / 1000.0,
                    (double)w->o.claim_idle_ms / 1000.0);
            last_log = ss_wr_mono_ms();
        }
        ss_sleep_ms(250);
        if (ss_wr_mono_ms() - w->last_hb_ms >= HEARTBEAT_MS && heartbeat(w, 0) != 0) return -1;
    }
}

/* ---- session and run ------------------------------------------------------------------------------ */

/* Every 5 minutes of wall time, or whenever event time has moved on by a twelfth of the
 * horizon (a backlog or a fast feed covers hours of event time in minutes): the claim set
 * then stays within 13/12 of the horizon (at the live peak, 7.8M keys, ~94 MB). */
static void maybe_prune(ss_writer *w, int force) {
    int due = force || ss_wr_mono_ms() - w->last_prune_ms >= PRUNE_EVERY_MS ||
              (w->pruned_at_t > 0 && w->max_event_t - w->pruned_at_t >= w->o.horizon_us / 12) ||
              (w->pruned_at_t == 0 && w->max_event_t > 0);
    if (!due) return;
    w->last_prune_ms = ss_wr_mono_ms();
    w->pruned_at_t = w->max_event_t;
    if (w->max_event_t <= 0) return;
    int64_t ref = w->max_event_t;
    int64_t wmark;
    pthread_mutex_lock(&w->mu);
    wmark = w->stats.watermark_us;
    pthread_mutex_unlock(&w->mu);
    if (wmark > 0 && wmark < ref) ref = wmark;
    /* keep the id blobs of commits that may still have pending entries: the oldest pending
     * entry of each stream, or everything delivered when nothing is pending */
    for (int t = 0; t < SS_TYPE__COUNT && w->c->v->oldest_pending && w->c->v->last_delivered; t++) {
        ss_writer_id id;
        int r = w->c->v->oldest_pending(w->c, t, &id);
        if (r == 0 && w->c->v->last_delivered(w->c, t, &id) == 0) id.ms++;
        else if (r < 0) {
            ss_warn(LOG, "not pruning the ledger now: %s", w->c->errstr);
            return;
        }
        ss_ledger_prune_floor(w->led, ss_wr_led_type(w, t), id.ms);
    }
    long long n = ss_ledger_prune(w->led, ref - w->o.horizon_us, ref - 2 * w->o.horizon_us);
    if (n < 0) ss_warn(LOG, "pruning the ledger failed: %s", ss_ledger_errstr(w->led));
    else if (n > 0) ss_debug(LOG, "pruned %lld dedup claims older than the horizon", n);
}

static int all_done(const ss_writer *w) {
    for (int t = 0; t < SS_TYPE__COUNT; t++)
        if (!w->st[t].done) return 0;
    return 1;
}

static int any_history(const ss_writer *w) {
    for (int t = 0; t < SS_TYPE__COUNT; t++)
        if (w->st[t].history) return 1;
    return 0;
}

/* Once per process, before touching a stream: the buffer's recorded number of shards must
 * be ours, and our shard must belong to our ledger (shard.h). Both refusals are fatal: a
 * retry cannot fix a configuration. */
static int claim_shard(ss_writer *w) {
    if (w->shard_owned) return 0;
    char owner[SS_SHARD_OWNER_MAX + 1], field[16];
    int recorded = 0;
    if (w->c->v->shard_recorded(w->c, &recorded) != 0) return ss_wr_consumer_fail(w);
    if (recorded && recorded != w->nshards) {
        w->fatal = 1;
        if (recorded > 1)
            return ss_wr_fail(w, "the buffer (prefix %s) is ingested into %d shards, this writer expects %d: run one writer "
                            "machine per shard with --shard I/%d (I = 0..%d)",
                         w->prefix, recorded, w->nshards, recorded, recorded - 1);
        return ss_wr_fail(w, "the buffer (prefix %s) is not sharded (its ingester runs with shards=1), this writer expects "
                        "%d shards: drop --shard and the shards setting",
                     w->prefix, w->nshards);
    }
    if (w->nshards > 1) snprintf(field, sizeof field, "%d", w->o.shard);
    else snprintf(field, sizeof field, "%s", SS_SHARD_UNSHARDED);
    int rc = w->c->v->shard_claim(w->c, field, w->ledger_id, w->o.take_shard, owner, sizeof owner);
    if (rc < 0) return ss_wr_consumer_fail(w);
    if (rc > 0) {
        w->fatal = 1;
        return ss_wr_fail(w,
                     "%s %s of prefix %s is owned by the writers of another ledger (%s); this writer's ledger %s is "
                     "%s. A shard must be consumed by the writers of one machine only, whose ledger knows its "
                     "commits and dedup claims. Run this writer where that ledger is, move that data dir (the ledger "
                     "with its -wal file) here, or, only if the owner's writers are gone for good, pass --take-shard "
                     "(entries it committed but had not acknowledged are then written a second time)",
                     w->nshards > 1 ? "shard" : "the unsharded buffer", w->nshards > 1 ? field : "(all streams)",
                     w->prefix, owner, w->ledger_path, w->ledger_id);
    }
    if (w->o.take_shard && owner[0] && strcmp(owner, w->ledger_id) != 0)
        ss_warn(LOG, "--take-shard: %s %s now belongs to ledger %s (was %s)", w->nshards > 1 ? "shard" : "buffer",
                field, w->ledger_id, owner);
    w->shard_owned = 1;
    return 0;
}

/* ---- Redis data loss ----------------------------------------------------------------------------- */

/* Before a session touches a stream: has Redis lost entries it had delivered to us? Claims
 * are made only after delivery, so in a Redis that kept its data every claimed id is at or
 * below the group's last delivered id. An AOF cut short by a host crash, a restart without
 * persistence or a lagging replica promoted all roll Redis back to an earlier state, and
 * then the group has delivered less than the ledger saw. The claims above that point name
 * entries that are gone (or undelivered again), so they are released unless their rows are
 * committed (ss_ledger_release_claims): otherwise the ingester's re-sent copies would be
 * dropped as duplicates of rows that were never written. A changed server id is logged. */
static int check_redis_loss(ss_writer *w) {
    const ss_writer_consumer_vtbl *v = w->c->v;
    if (!v->last_delivered) return 0;
    char run_id[64] = "", seen[64] = "";
    if (v->server_id && v->server_id(w->c, run_id, sizeof run_id) != 0) return ss_wr_consumer_fail(w);
    if (ss_ledger_meta_get(w->led, "redis_run_id", seen, sizeof seen) < 0)
        return ss_wr_fail(w, "%s", ss_ledger_errstr(w->led));
    if (run_id[0] && strcmp(seen, run_id) != 0) {
        if (seen[0])
            ss_info(LOG, "Redis restarted since this ledger last saw it (run_id %.12s -> %.12s): checking for lost "
                         "entries", seen, run_id);
        if (ss_ledger_meta_set(w->led, "redis_run_id", run_id, 1) != 0) return ss_wr_fail(w, "%s", ss_ledger_errstr(w->led));
    }
    ss_ledger_release rel[SS_TYPE__COUNT + 1];
    ss_writer_id maxc[SS_TYPE__COUNT];
    int ts[SS_TYPE__COUNT], n = 0;
    for (int t = 0; t < SS_TYPE__COUNT; t++) {
        ss_writer_id last;
        int has = ss_ledger_claims_max(w->led, ss_wr_led_type(w, t), &maxc[n]);
        if (has < 0) return ss_wr_fail(w, "%s", ss_ledger_errstr(w->led));
        if (!has) continue;
        if (v->last_delivered(w->c, t, &last) != 0) return ss_wr_consumer_fail(w);
        if (ss_writer_id_cmp(maxc[n], last) <= 0) continue;
        rel[n] = (ss_ledger_release){ss_wr_led_type(w, t), last, 0};
        ts[n++] = t;
    }
    if (n == 0) return 0;
    rel[n].type = -1;
    if (ss_ledger_release_claims(w->led, rel) < 0) return ss_wr_fail(w, "%s", ss_ledger_errstr(w->led));
    for (int i = 0; i < n; i++) {
        int t = ts[i];
        char a[SS_WRITER_ID_STRLEN], b[SS_WRITER_ID_STRLEN];
        ss_writer_id_format(rel[i].after, a);
        ss_writer_id_format(maxc[i], b);
        ss_warn(LOG,
                "Redis lost entries of %s: its group has delivered up to %s, but this ledger claimed entries up to %s "
                "(Redis restarted without its data, lost its last writes, or failed over to a replica that lagged); "
                "released %lld dedup claims of entries that are gone, so their re-sent copies are written",
                w->st[t].key, a, b, rel[i].released);
        if (ss_ledger_record_loss(w->led, w->st[t].key, a, b, rel[i].released, run_id) != 0)
            return ss_wr_fail(w, "%s", ss_ledger_errstr(w->led));
        if (v->report_loss && v->report_loss(w->c, t, rel[i].released, a, b) != 0) return ss_wr_consumer_fail(w);
        ss_wr_stat_add(w, &w->stats.released, (uint64_t)rel[i].released, w->m.released[t]);
    }
    return 0;
}

/* At the live rate a round reads the few entries that arrived since the last one: every
 * round costs a ledger transaction, a reply parse and thread handoffs whatever its size, so
 * reading on at once made those per-round costs most of the writer's CPU. After a round
 * that read every live stream dry (none came back full), the daemon waits linger_ms, then
 * reads everything that came meanwhile in one round. Nothing waits longer to be committed
 * than a window's grace allows (linger is far below it), nothing is acknowledged
 * differently, and a stop or the source's end is seen within linger_ms (a blocking read
 * already waits block_ms). */
static void linger(ss_writer *w, volatile sig_atomic_t *stop) {
    int64_t until = ss_wr_mono_ms() + w->o.linger_ms;
    int64_t hb_due = w->last_hb_ms + HEARTBEAT_MS; /* never let the heartbeat go late */
    if (hb_due < until) until = hb_due;
    while (!*stop && !(w->o.drain && atomic_load(w->o.drain))) {
        int64_t left = until - ss_wr_mono_ms();
        if (left <= 0) break;
        ss_sleep_ms(left);
    }
}

static int session(ss_writer *w, volatile sig_atomic_t *stop) {
    if (w->c->v->connect(w->c) != 0) return ss_wr_consumer_fail(w);
    if (ss_wr_check_persistence(w, 1) != 0) return -1; /* AOF on, noeviction (persistence.c): else fatal */
    if (claim_shard(w) != 0) return -1;
    if (check_redis_loss(w) != 0) return -1;
    for (int t = 0; t < SS_TYPE__COUNT; t++) {
        wstream *s = &w->st[t];
        memset(&s->clock, 0, sizeof s->clock);
        s->history = 1;
        snprintf(s->hist_id, sizeof s->hist_id, "0-0");
        s->done = 0;
    }
    ss_wr_drop_committed(w);
    if (w->c->v->ensure_groups(w->c) != 0) return ss_wr_consumer_fail(w);
    if (heartbeat(w, 0) != 0) return -1;
    if (clean_intents(w, w->consumer) != 0) return -1;
    if (w->remote) ss_wr_remote_sweep(w);
    if (ss_wr_commit_gaps(w, 1) != 0) return -1;
    /* Dead consumers' entries are taken over only after our own pending entries have been
     * re-read (XCLAIM puts them into our PEL, which the history pass reads). */
    int cleared = 0, reclaimed_once = 0;
    int64_t session_t0 = ss_wr_mono_ms();
    uint64_t commits0 = w->stats.commits;
    while (!*stop) {
        if (ss_wr_mono_ms() - w->last_hb_ms >= HEARTBEAT_MS && heartbeat(w, 0) != 0) return -1;
        if (ss_wr_check_persistence(w, 0) != 0) return -1; /* again every SS_PERSIST_CHECK_MS */
        if (ss_wr_commit_gaps(w, 0) != 0) return -1;
        if (!any_history(w) && (!reclaimed_once || (!w->o.once && ss_wr_mono_ms() - w->last_reclaim_ms >= w->o.claim_idle_ms / 2))) {
            if (reclaim_dead(w) != 0) return -1;
            reclaimed_once = 1;
        }
        if (ss_wr_enforce_budget(w) != 0) return -1;
        int got = 0;
        if (ss_wr_read_round(w, &got) != 0) return -1;
        if (!cleared && !any_history(w)) {
            ss_wr_drop_committed(w); /* recovery done: the committed-id sets are no longer needed */
            cleared = 1;
        }
        if (ss_wr_flush_cycle(w, 0, 0) != 0) return -1;
        ss_wr_update_gauges(w);
        /* Failures count as consecutive until work really moves on: a commit, or a session
         * that has run without failing for a while. A round that succeeds is not progress:
         * a full disk lets every session read its pending entries before the write fails. */
        if (w->attempt && (w->stats.commits > commits0 || ss_wr_mono_ms() - session_t0 >= HEALTHY_MS)) {
            ss_info(LOG, "recovered after %d failed attempt%s", w->attempt, w->attempt == 1 ? "" : "s");
            w->attempt = 0;
        }
        if (w->o.drain && atomic_load(w->o.drain) && !w->o.once) {
            ss_info(LOG, "the source has ended: draining what is buffered and closing every window");
            w->o.once = 1;
            w->o.all = 1;
            for (int t = 0; t < SS_TYPE__COUNT; t++) w->st[t].done = 0;
            continue;
        }
        if (w->o.once && all_done(w)) {
            if (w->o.all && wait_for_others(w, stop) != 0) return -1;
            break;
        }
        maybe_prune(w, 0);
        if (got && !w->round_full && !w->o.once && !any_history(w)) linger(w, stop);
    }
    /* A stop is not an end: a daemon (or a --once run) that was told to stop closes only what
     * its watermark says is complete, as in any round; its open windows stay pending in Redis
     * and the next run carries on with them (no early window, no late parts after it). */
    int stopped = *stop != 0;
    if (ss_wr_flush_cycle(w, !stopped, !stopped && w->o.once && w->o.all) != 0) return -1;
    if (ss_wr_commit_gaps(w, 1) != 0) return -1;
    maybe_prune(w, 1);
    if (w->nparts) {
        uint64_t rows = 0;
        for (size_t i = 0; i < w->nparts; i++) rows += w->parts[i]->nids;
        ss_info(LOG, "%zu open window parts (%llu entries) stay pending in Redis for the next run", w->nparts,
                (unsigned long long)rows);
    }
    ss_wr_abort_parts(w);
    heartbeat(w, 1);
    return 0;
}

int ss_writer_run(ss_writer *w, volatile sig_atomic_t *stop) {
    for (;;) {
        w->io_failed = 0;
        if (session(w, stop) == 0) return 0;
        ss_wr_io_record(w);
        /* a wrong password or Redis's ACL refusing us: no retry can fix it */
        if (!w->fatal && (w->err == SS_ERR_AUTH || w->err == SS_ERR_PERMISSION)) w->fatal = 1;
        if (w->fatal) { /* the caller reports w->errstr (once) */
            ss_wr_abort_parts(w);
            return -1;
        }
        w->attempt++;
        ss_wr_stat_add(w, &w->stats.failures, 1, w->m.failures);
        char err[sizeof w->errstr];
        snprintf(err, sizeof err, "%s", w->errstr);
        if (ss_ledger_run_failed(w->led, w->fail_run, err) != 0)
            ss_warn(LOG, "could not record the failed attempt in the ledger: %s", ss_ledger_errstr(w->led));
        w->fail_run = 0;
        ss_wr_abort_parts(w);
        ss_wr_drop_committed(w);
        w->c->v->close(w->c); /* a read ahead's entries stay in our PEL for the next session */
        w->rd_pending = 0;
        if (w->o.max_attempts > 0 && w->attempt >= w->o.max_attempts) {
            ss_err_class last = w->err;
            ss_wr_fail(w, "giving up after %d failed attempts; last error: %s", w->attempt, err);
            w->err = last; /* the caller reports it (once) */
            return -1;
        }
        w->rng = w->rng * 1103515245u + 12345u;
        double r = (double)((w->rng >> 8) & 0xffffff) / 16777216.0;
        int64_t delay = ss_writer_backoff_ms(w->attempt, w->o.retry_base_ms, w->o.retry_max_ms, r);
        ss_warn(LOG, "attempt %d failed: %s; retrying in %lld ms (nothing acknowledged)", w->attempt, err,
                (long long)delay);
        int64_t until = ss_wr_mono_ms() + delay;
        while (!*stop && ss_wr_mono_ms() < until) {
            int64_t left = until - ss_wr_mono_ms();
            ss_sleep_ms(left < 100 ? left : 100);
            /* keep our heartbeat fresh while we wait, so nobody takes our work over */
            if (ss_wr_mono_ms() - w->last_hb_ms >= HEARTBEAT_MS) {
                if (w->c->v->connect(w->c) == 0 && heartbeat(w, 0) != 0) w->c->v->close(w->c);
                w->last_hb_ms = ss_wr_mono_ms();
            }
        }
        if (*stop) {
            heartbeat(w, 1); /* only if connected */
            /* stopped with work failing: not a clean end (its entries stay pending) */
            return ss_wr_fail(w, "stopped while retrying after %d failed attempt%s; last error: %s", w->attempt,
                              w->attempt == 1 ? "" : "s", err);
        }
    }
}

/* The consumer c, when given, is the writer's from here on (freed also when this fails). */
static ss_writer *writer_new(const ss_writer_opts *o, ss_writer_consumer *c, char *err, size_t errlen) {
    if (!o->out || !*o->out || !o->data_dir || !*o->data_dir || (!c && !o->connect)) {
        snprintf(err, errlen, "the writer needs an output directory, a data directory and a Redis connection");
        goto reject;
    }
    if (!ss_writer_window_len_valid(o->window_us)) {
        snprintf(err, errlen, "window must be a whole number of seconds that divides one hour (e.g. 1m, 5m, 15m, 1h)");
        goto reject;
    }
    if (o->grace_us < 0 || o->horizon_us < 0 || o->count < 1 || o->count > MAX_COUNT || o->memory_budget < (1u << 20)) {
        snprintf(err, errlen, "grace and horizon must be >= 0, count 1..%d, memory budget >= 1mb", MAX_COUNT);
        goto reject;
    }
    if (o->prefix && strlen(o->prefix) > SS_WRITER_MAX_PREFIX) {
        snprintf(err, errlen, "prefix longer than %d characters", SS_WRITER_MAX_PREFIX);
        goto reject;
    }
    if (o->shards > SS_SHARDS_MAX || o->shard < 0 || o->shard >= (o->shards > 1 ? o->shards : 1)) {
        snprintf(err, errlen, "shard %d of %d: want 0 <= shard < shards <= %d", o->shard, o->shards, SS_SHARDS_MAX);
        goto reject;
    }
    if (o->consumer && !ss_writer_valid_consumer(o->consumer)) {
        snprintf(err, errlen, "consumer name '%s' must be 1-%d characters of A-Z a-z 0-9 . _ - (not starting with . or -)",
                 o->consumer, SS_WRITER_MAX_CONSUMER);
        goto reject;
    }
    char cerr[256];
    if (ss_writer_crash_init(cerr, sizeof cerr) != 0) {
        snprintf(err, errlen, "%s", cerr);
        goto reject;
    }
    ss_writer *w = calloc(1, sizeof *w);
    if (!w) {
        snprintf(err, errlen, "out of memory");
        goto reject;
    }
    w->c = c;
    w->o = *o;
    w->lock_fd = -1;
    pthread_mutex_init(&w->mu, NULL);
    snprintf(w->out, sizeof w->out, "%s", o->out);
    if (o->s3 && ss_wr_remote_init(w, o, err, errlen) != 0) goto fail;
    if (!o->s3 && !strncmp(o->out, "s3://", 5)) {
        snprintf(err, errlen, "--out %s needs the S3 settings (the CLI fills them)", o->out);
        goto fail;
    }
    snprintf(w->prefix, sizeof w->prefix, "%s", o->prefix ? o->prefix : "skyspool:");
    if (o->consumer) snprintf(w->consumer, sizeof w->consumer, "%s", o->consumer);
    else ss_writer_default_consumer(w->consumer, sizeof w->consumer);
    w->nshards = o->shards > 1 ? o->shards : 1;
    if (w->nshards > 1) { /* a name per shard: heartbeat, lock, intents and fence are per consumer */
        char suffix[16];
        int sl = snprintf(suffix, sizeof suffix, ".s%d", o->shard);
        size_t cl = strlen(w->consumer);
        if (cl < (size_t)sl || strcmp(w->consumer + cl - (size_t)sl, suffix) != 0) {
            if (cl + (size_t)sl > SS_WRITER_MAX_CONSUMER) cl = SS_WRITER_MAX_CONSUMER - (size_t)sl;
            snprintf(w->consumer + cl, sizeof w->consumer - cl, "%s", suffix);
        }
    }
    snprintf(w->stats.consumer, sizeof w->stats.consumer, "%s", w->consumer);
    if (o->ledger) snprintf(w->ledger_path, sizeof w->ledger_path, "%s", o->ledger);
    else snprintf(w->ledger_path, sizeof w->ledger_path, "%.*s/%s", PATH_MAX - 32, o->data_dir, SS_LEDGER_FILE);
    snprintf(w->lock_dir, sizeof w->lock_dir, "%.*s/writers", PATH_MAX - 16, o->data_dir);
    snprintf(w->hb_key, sizeof w->hb_key, "%swriters", w->prefix);
    snprintf(w->dlq_key, sizeof w->dlq_key, "%sdlq", w->prefix);
    for (int t = 0; t < SS_TYPE__COUNT; t++) {
        ss_shard_stream_key(w->prefix, (ss_type)t, o->shard, w->nshards, w->st[t].key, sizeof w->st[t].key);
        if (w->nshards > 1)
            snprintf(w->ltype_name[t], sizeof w->ltype_name[t], "%s:%d", ss_type_name((ss_type)t), o->shard);
        else snprintf(w->ltype_name[t], sizeof w->ltype_name[t], "%s", ss_type_name((ss_type)t));
    }
    if (!w->c) {
        ss_writer_consumer_cfg cc = {.prefix = w->prefix, .consumer = w->consumer, .hb_key = w->hb_key,
                                     .dlq_key = w->dlq_key};
        for (int t = 0; t < SS_TYPE__COUNT; t++) cc.stream_key[t] = w->st[t].key;
        w->c = ss_writer_consumer_redis(&cc, o->connect, o->connect_ctx);
        if (!w->c) {
            snprintf(err, errlen, "out of memory");
            goto fail;
        }
    }
    /* the archive's row-group target, as `convert` writes it (archive.h); a budget below 8x
     * that (the default 96 MB is exactly 8x) shrinks it, so that a few full parts still fit */
    w->rg_bytes = o->memory_budget / 8;
    if (w->rg_bytes > SS_AR_ROW_GROUP_BYTES) w->rg_bytes = SS_AR_ROW_GROUP_BYTES;
    if (w->rg_bytes < (1u << 20)) w->rg_bytes = 1u << 20;
    w->rng = (unsigned)getpid() ^ (unsigned)ss_wr_wall_us();
    w->last_prune_ms = ss_wr_mono_ms();
    if (ss_mkdir_p(o->data_dir, 0700, 1) != 0 || ss_mkdir_p(w->lock_dir, 0700, 1) != 0) {
        snprintf(err, errlen, "cannot create (%s): %s", strerror(errno), w->lock_dir);
        goto fail;
    }
    if (ss_mkdir_p(w->out, 0755, 1) != 0) {
        snprintf(err, errlen, "cannot create the output directory (%s): %s", strerror(errno), w->out);
        goto fail;
    }
    /* One process per consumer name (waits briefly: a peer may hold it while reclaiming). */
    for (int i = 0; i < 100 && w->lock_fd < 0; i++) {
        w->lock_fd = try_lock_consumer(w, w->consumer);
        if (w->lock_fd < 0) ss_sleep_ms(100);
    }
    if (w->lock_fd < 0) {
        snprintf(err, errlen, "another writer with consumer name '%s' is running (lock %s/%s.lock)", w->consumer,
                 w->lock_dir, w->consumer);
        goto fail;
    }
    w->led = ss_ledger_open(w->ledger_path, err, errlen);
    if (!w->led) goto fail;
    ss_ledger_set_horizon(w->led, o->horizon_us);
    if (ss_ledger_id(w->led, w->ledger_id, sizeof w->ledger_id) != 0) {
        snprintf(err, errlen, "%s", ss_ledger_errstr(w->led));
        goto fail;
    }
    { /* the ledger belongs to one archive (archive_id.h) */
        char aid[SS_ARCHIVE_ID_MAX + 1], sfx[16];
        snprintf(sfx, sizeof sfx, ".s%d", o->shard);
        if (ss_archive_bind(w->led, w->ledger_path, w->ledger_id, w->out, aid, sizeof aid, err, errlen) != 0) goto fail;
        if (!(w->guard = ss_archive_guard_new(w->out, w->ledger_path, w->nshards > 1 ? sfx : NULL))) {
            snprintf(err, errlen, "out of memory");
            goto fail;
        }
    }
    if (ss_ledger_unfence(w->led, w->consumer) != 0) {
        snprintf(err, errlen, "%s", ss_ledger_errstr(w->led));
        goto fail;
    }
    w->flushed_end = ss_ledger_flushed_until_streams(w->led, ss_wr_led_type(w, 0), ss_wr_led_type(w, SS_TYPE_OTHER));
    for (int t = LEGACY_TYPES; t < SS_TYPE__COUNT; t++) {
        int64_t f = ss_ledger_flushed_until_streams(w->led, ss_wr_led_type(w, t), ss_wr_led_type(w, t));
        if (f > w->flushed_end) w->flushed_end = f;
    }
    w->dec[0] = ss_decoder_new(NULL);
    w->dec[1] = ss_decoder_new(NULL);
    if (!w->dec[0] || !w->dec[1]) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    register_metrics(w);
    if (ss_metrics_add_health(ss_wr_io_health, w) != 0) ss_warn(LOG, "too many health checks: /healthz will not report archive I/O errors");
    return w;
fail:
    ss_writer_free(w);
    return NULL;
reject:
    if (c) c->v->free(c);
    return NULL;
}

ss_writer *ss_writer_new(const ss_writer_opts *o, char *err, size_t errlen) { return writer_new(o, NULL, err, errlen); }

ss_writer *ss_writer_new_with_consumer(const ss_writer_opts *o, ss_writer_consumer *c, char *err, size_t errlen) {
    if (!c) {
        snprintf(err, errlen, "no consumer");
        return NULL;
    }
    return writer_new(o, c, err, errlen);
}

void ss_writer_free(ss_writer *w) {
    if (!w) return;
    ss_metrics_remove_health(ss_wr_io_health, w);
    ss_wr_lane_stop(w);
    ss_wr_abort_parts(w);
    ss_wr_drop_committed(w);
    if (w->c) w->c->v->free(w->c);
    if (w->led) ss_ledger_close(w->led);
    ss_archive_guard_free(w->guard);
    for (int l = 0; l < 2; l++)
        if (w->dec[l]) ss_decoder_free(w->dec[l]);
    if (w->lock_fd >= 0) close(w->lock_fd);
    free(w->parts);
    free(w->b);
    pthread_mutex_destroy(&w->mu);
    free(w);
}
