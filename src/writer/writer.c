/* The DataWriter engine; the protocol and its proof are in docs/DESIGN.md ("DataWriter").
 *
 * Shape of the code:
 *   - a *session* connects to Redis, recovers (own intents, own pending entries, dead
 *     consumers' pending entries) and then loops: read a round of entries from every
 *     stream in one XREADGROUP, claim their dedup keys in one ledger transaction, stream
 *     the owners into the open part file of their (type, window), then close what the
 *     watermark says is complete. A part closes with the commit protocol:
 *         finish file (fsync, rename, dir fsync) -> ledger commit -> XACK + trim (ack_script.h).
 *   - any failure ends the session: open parts are aborted (temporaries removed), the
 *     attempt and its error go to the ledger, the writer backs off (exponential, jittered,
 *     capped) and starts a new session, which re-reads its pending entries from Redis.
 *     So a retry is the crash-recovery path, exercised on every restart and by the crash
 *     tests, not a second code path.
 * Entries are read in id order per stream; a stream that runs more than one window ahead
 * of the slowest one is left out of the next read, so a backlog of hours is drained with
 * a handful of open files per type instead of one per window. */
#include "writer/writer.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "archive/archive.h"
#include "buffer/reply_arena.h"
#include "buffer/shard.h"
#include "metrics/metrics.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/str.h"
#include "writer/ack_script.h"
#include "writer/archive_id.h" /* [archive-id] */
#include "writer/crash.h"
#include "writer/ids.h"
#include "writer/ledger.h"
#include "writer/window.h"

#define LOG "writer"
#define MAX_OPEN_FILES 256      /* open part files at once; more are spilled */
#define HEARTBEAT_MS 1000
#define PRUNE_EVERY_MS 300000
#define ACK_CHUNK 1000          /* ids per acknowledgement script call */
#define MAX_COUNT 10000         /* XREADGROUP COUNT limit */

/* ---- small helpers ------------------------------------------------------------------------ */

static int64_t wall_us(void) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
}
static int64_t wall_ms(void) { return wall_us() / 1000; }

static int64_t mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

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
    o->memory_budget = 96u << 20;
    o->count = 1000;
    o->block_ms = 1000;
    o->codec = SS_PQ_CODEC_ZSTD;
    o->zstd_level = SS_AR_DEFAULT_ZSTD_LEVEL; /* 2: smaller and faster than 3 on these pages */
}

/* ---- state -------------------------------------------------------------------------------- */

enum { KIND_CLOSE = 0, KIND_LATE = 1, KIND_SPILL = 2 };

typedef struct part_s {
    int type;
    int64_t win;
    int late;
    ss_ar_file *file;
    char rel[SS_AR_MAX_PATH + SS_AR_MAX_NAME + 16]; /* path relative to the archive root ("" until the file exists) */
    ss_writer_id *ids;
    size_t nids, cap;
    uint64_t rows, dups, raw_bytes;
    int64_t max_t;
    int64_t opened_ms; /* monotonic */
    long long run_id;
} part;

typedef struct {
    char key[SS_WRITER_MAX_PREFIX + 16];
    ss_writer_stream_clock clock;
    int history;                  /* reading our own PEL */
    char hist_id[SS_WRITER_ID_STRLEN];
    int done;                     /* once: drained, no more reads */
    ss_writer_id *committed;      /* committed ids loaded for recovery checks */
    size_t ncommitted;
    int committed_valid;
    uint64_t committed_lo, committed_hi; /* ms range the set covers */
} wstream;

enum { A_NONE = 0, A_ACK, A_CLAIM, A_OWNER, A_DUP, A_DLQ, A_BAD };

typedef struct {
    int type;
    ss_writer_id id;
    const char *e;
    size_t elen;
    int64_t t;
    uint8_t key[16];
    int action;
    int recheck; /* claim already ours: a redelivery, check the ledger */
    const char *reason;
    struct part_s *part; /* owners: the part they are appended to */
} bent;

typedef struct {
    ss_metric *entries, *rows, *dups, *late_rows, *files, *bytes, *failures, *recovered, *reclaimed, *dlq, *claims_mem;
    ss_metric *open_parts, *mem, *wm_lag, *flush_s;
} wmetrics;

struct ss_writer {
    ss_writer_opts o;
    char out[PATH_MAX];
    char ledger_path[PATH_MAX];
    char lock_dir[PATH_MAX];
    char prefix[SS_WRITER_MAX_PREFIX + 1];
    char consumer[SS_WRITER_MAX_CONSUMER + 1];
    int nshards;                          /* 1: unsharded */
    int shard_owned;                      /* the shard is claimed for our ledger (checked once) */
    char ledger_id[SS_SHARD_OWNER_MAX + 1];
    char ltype_name[SS_TYPE__COUNT][24];  /* a stream's name in the ledger: type, or type:shard */
    char hb_key[SS_WRITER_MAX_PREFIX + 16];
    char dlq_key[SS_WRITER_MAX_PREFIX + 16];
    int lock_fd;
    redisContext *rc;
    redisContext *rd;             /* second connection: XREADGROUP only, so one can be in flight */
    ss_reply_arena *arena;        /* rd's replies are built here (reset after each round) */
    int rd_pending;               /* an XREADGROUP was sent on rd and its reply not yet read */
    int rd_idx[SS_TYPE__COUNT];   /* the streams it asked for, in order */
    int rd_n;
    int rd_once;                  /* it was sent in --once mode (a short read may end the stream) */
    ss_ledger *led;
    ss_archive_guard *guard; /* [archive-id] partition directories checked (archive_id.h) */
    ss_decoder *dec[2]; /* one per lane (apply_batch) */
    wstream st[SS_TYPE__COUNT];
    part **parts;
    size_t nparts, capparts;
    bent *b;
    size_t nb, capb;
    int64_t flushed_end;
    int64_t max_event_t;
    int64_t last_hb_ms, last_reclaim_ms, last_prune_ms;
    int64_t pruned_at_t; /* max_event_t at the last prune */
    long long fail_run; /* run the current failure belongs to (0: none) */
    int fatal;
    int attempt;
    size_t rg_bytes;
    unsigned rng;
    pthread_mutex_t mu;
    ss_writer_stats stats;
    wmetrics m;
    char errstr[1024];
};

static int wfail(ss_writer *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int wfail(ss_writer *w, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->errstr, sizeof w->errstr, fmt, ap);
    va_end(ap);
    return -1;
}

const char *ss_writer_errstr(const ss_writer *w) { return w->errstr; }

/* A stream's number in the ledger (claims, runs, commits): its type when unsharded, a
 * number of its own per (shard, type) otherwise. Entry ids of two streams can be equal,
 * so two shards owned by one ledger must never look up each other's committed ids. */
_Static_assert(SS_TYPE__COUNT * (SS_SHARDS_MAX + 1) <= 256, "ledger stream numbers must fit the claim log's byte");
static int led_type(const ss_writer *w, int type) {
    return w->nshards > 1 ? SS_TYPE__COUNT * (w->o.shard + 1) + type : type;
}

static void stat_add(ss_writer *w, uint64_t *field, uint64_t v, ss_metric *m) {
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
    w->m.entries = ss_metric_get("skyspool_writer_entries_total", SS_METRIC_COUNTER,
                                 "Stream entries the writer committed or acknowledged", NULL);
    w->m.rows = ss_metric_get("skyspool_writer_rows_total", SS_METRIC_COUNTER, "Rows committed to Parquet", NULL);
    w->m.dups = ss_metric_get("skyspool_writer_duplicates_total", SS_METRIC_COUNTER,
                              "Entries skipped as duplicates within the dedup horizon", NULL);
    w->m.late_rows = ss_metric_get("skyspool_writer_late_rows_total", SS_METRIC_COUNTER,
                                   "Rows written into late part files (their window had closed)", NULL);
    w->m.files = ss_metric_get("skyspool_writer_files_total", SS_METRIC_COUNTER, "Part files committed", NULL);
    w->m.bytes = ss_metric_get("skyspool_writer_bytes_total", SS_METRIC_COUNTER, "Bytes of part files committed", NULL);
    w->m.failures = ss_metric_get("skyspool_writer_failures_total", SS_METRIC_COUNTER,
                                  "Failed attempts (each retried after backoff)", NULL);
    w->m.recovered = ss_metric_get("skyspool_writer_recovered_total", SS_METRIC_COUNTER,
                                   "Pending entries found already committed and acknowledged on recovery", NULL);
    w->m.reclaimed = ss_metric_get("skyspool_writer_reclaimed_total", SS_METRIC_COUNTER,
                                   "Entries taken over from dead consumers", NULL);
    w->m.dlq = ss_metric_get("skyspool_writer_dlq_total", SS_METRIC_COUNTER,
                             "Entries the writer could not decode, moved to the DLQ", NULL);
    w->m.open_parts = ss_metric_get("skyspool_writer_open_parts", SS_METRIC_GAUGE, "Part files open", NULL);
    w->m.claims_mem = ss_metric_get("skyspool_writer_dedup_claims_bytes", SS_METRIC_GAUGE,
                                    "Memory of the in-memory dedup claim set (the horizon's keys)", NULL);
    w->m.mem = ss_metric_get("skyspool_writer_memory_estimate_bytes", SS_METRIC_GAUGE,
                             "Writer's estimate of its buffered bytes (budget: memory-budget)", NULL);
    w->m.wm_lag = ss_metric_get("skyspool_writer_watermark_lag_seconds", SS_METRIC_GAUGE,
                                "Wall clock minus the event-time watermark", NULL);
    w->m.flush_s = ss_metric_get("skyspool_writer_last_flush_seconds", SS_METRIC_GAUGE,
                                 "Duration of the last part commit (finish + ledger + ack)", NULL);
}

/* ---- Redis helpers ------------------------------------------------------------------------ */

static redisReply *cmdv(ss_writer *w, int argc, const char **argv, const size_t *lens) {
    redisReply *r = redisCommandArgv(w->rc, argc, argv, lens);
    if (!r) {
        wfail(w, "redis: %s", w->rc->errstr[0] ? w->rc->errstr : "connection lost");
        return NULL;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        wfail(w, "redis %s: %.*s", argv[0], (int)r->len, r->str);
        freeReplyObject(r);
        return NULL;
    }
    return r;
}

static redisReply *cmd(ss_writer *w, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(w->rc, fmt, ap);
    va_end(ap);
    if (!r) {
        wfail(w, "redis: %s", w->rc->errstr[0] ? w->rc->errstr : "connection lost");
        return NULL;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        wfail(w, "redis %s: %.*s", fmt, (int)r->len, r->str);
        freeReplyObject(r);
        return NULL;
    }
    return r;
}

static int heartbeat(ss_writer *w, int exited) {
    redisReply *r = cmd(w, "HSET %s %s %lld", w->hb_key, w->consumer, exited ? 0LL : (long long)wall_ms());
    if (!r) return -1;
    freeReplyObject(r);
    w->last_hb_ms = mono_ms();
    return 0;
}

static int ensure_groups(ss_writer *w) {
    for (int t = 0; t < SS_TYPE__COUNT; t++) {
        redisReply *r = redisCommand(w->rc, "XGROUP CREATE %s %s 0 MKSTREAM", w->st[t].key, SS_WRITER_GROUP);
        if (!r) return wfail(w, "redis: %s", w->rc->errstr);
        int bad = r->type == REDIS_REPLY_ERROR && strncmp(r->str, "BUSYGROUP", 9) != 0;
        if (bad) wfail(w, "redis XGROUP CREATE %s: %.*s", w->st[t].key, (int)r->len, r->str);
        freeReplyObject(r);
        if (bad) return -1;
    }
    return 0;
}

/* Acknowledges the ids of one stream and trims what no group needs any more, with the
 * script of ack_script.h, pipelined in chunks of ACK_CHUNK ids. */
static int drain_replies(ss_writer *w, size_t n) {
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        redisReply *r = NULL;
        if (redisGetReply(w->rc, (void **)&r) != REDIS_OK || !r)
            return wfail(w, "redis: %s", w->rc->errstr[0] ? w->rc->errstr : "connection lost");
        if (r->type == REDIS_REPLY_ERROR && rc == 0) rc = wfail(w, "redis ack script: %.*s", (int)r->len, r->str);
        freeReplyObject(r);
    }
    return rc;
}

static int ack_ids(ss_writer *w, int type, const ss_writer_id *ids, size_t n) {
    if (n == 0) return 0;
    enum { FIXED = 5 }; /* EVAL script 1 key group */
    const char **a = malloc((ACK_CHUNK + FIXED) * sizeof *a);
    char (*txt)[SS_WRITER_ID_STRLEN] = malloc(ACK_CHUNK * sizeof *txt);
    int rc = 0;
    size_t pending = 0;
    if (!a || !txt) {
        rc = wfail(w, "out of memory acking entries");
        goto done;
    }
    a[0] = "EVAL";
    a[1] = SS_WRITER_ACK_SCRIPT;
    a[2] = "1";
    a[3] = w->st[type].key;
    a[4] = SS_WRITER_GROUP;
    for (size_t off = 0; off < n; off += ACK_CHUNK) {
        size_t k = n - off < ACK_CHUNK ? n - off : ACK_CHUNK;
        for (size_t i = 0; i < k; i++) {
            ss_writer_id_format(ids[off + i], txt[i]);
            a[FIXED + i] = txt[i];
        }
        redisAppendCommandArgv(w->rc, (int)(k + FIXED), a, NULL); /* hiredis copies argv now */
        if (++pending >= 16) {
            if ((rc = drain_replies(w, pending)) != 0) goto done;
            pending = 0;
        }
    }
    rc = drain_replies(w, pending);
done:
    free(a);
    free(txt);
    return rc;
}

/* ---- parts ---------------------------------------------------------------------------------- */

/* What an open part costs, as measured (peak RSS against this estimate on multi-hour
 * drains): the Parquet writer holds up to a row group of values plus dictionaries, page and
 * compression buffers, about 3x the event bytes it buffered, and ~1 MB per open file. */
static uint64_t part_mem(const ss_writer *w, const part *p) {
    uint64_t buffered = p->raw_bytes < w->rg_bytes ? p->raw_bytes : w->rg_bytes;
    return buffered * 3 + p->nids * sizeof(ss_writer_id) + (p->file ? 1u << 20 : 0);
}

static uint64_t mem_estimate(const ss_writer *w) {
    uint64_t m = 0;
    for (size_t i = 0; i < w->nparts; i++) m += part_mem(w, w->parts[i]);
    return m;
}

static void update_gauges(ss_writer *w) {
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

/* Removes a file that may exist uncommitted (final name and temporary). */
static void unlink_uncommitted(const ss_writer *w, const char *rel) {
    char p[PATH_MAX + 64];
    snprintf(p, sizeof p, "%s/%s", w->out, rel);
    if (unlink(p) == 0) ss_info(LOG, "removed uncommitted part file %s", p);
    temp_path_of(w, rel, p, sizeof p);
    unlink(p);
}

static void part_free(part *p) {
    if (!p) return;
    if (p->file) ss_ar_file_abort(p->file);
    free(p->ids);
    free(p);
}

static void remove_part(ss_writer *w, part *p) {
    for (size_t i = 0; i < w->nparts; i++)
        if (w->parts[i] == p) {
            w->parts[i] = w->parts[--w->nparts];
            break;
        }
    part_free(p);
}

/* Drops every open part without committing: temporaries removed, intents withdrawn.
 * Their entries stay pending in Redis for the next session or process. */
static void abort_parts(ss_writer *w) {
    for (size_t i = 0; i < w->nparts; i++) {
        part *p = w->parts[i];
        if (p->file) {
            ss_ar_file_abort(p->file);
            p->file = NULL;
        }
        if (p->rel[0] && w->led) {
            unlink_uncommitted(w, p->rel);
            ss_ledger_intent_drop(w->led, p->rel);
        }
        part_free(p);
    }
    w->nparts = 0;
    update_gauges(w);
}

static part *find_part(ss_writer *w, int type, int64_t win, int late) {
    for (size_t i = 0; i < w->nparts; i++) {
        part *p = w->parts[i];
        if (p->type == type && p->win == win && p->late == late) return p;
    }
    return NULL;
}

static part *new_part(ss_writer *w, int type, int64_t win, int late) {
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
    p->opened_ms = mono_ms();
    p->max_t = INT64_MIN;
    w->parts[w->nparts++] = p;
    return p;
}

static int part_add_id(part *p, ss_writer_id id) {
    if (p->nids == p->cap) {
        size_t nc = p->cap ? p->cap * 2 : 1024;
        ss_writer_id *a = realloc(p->ids, nc * sizeof *a);
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
static int part_open_file(ss_writer *w, part *p, ss_writer_id first) {
    time_t secs = (time_t)(p->win / 1000000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char name[SS_AR_MAX_NAME + 1];
    snprintf(name, sizeof name, "%s-%04d%02d%02dT%02d%02d-%.40s-%llu-%llu%s", ss_type_name((ss_type)p->type),
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, w->consumer,
             (unsigned long long)first.ms, (unsigned long long)first.seq, p->late ? "-late" : "");
    char dir[SS_AR_MAX_PATH];
    if (ss_ar_partition_dir(dir, sizeof dir, ".", (ss_type)p->type, p->win) < 0)
        return wfail(w, "cannot build the partition path of window %lld", (long long)p->win);
    if (strlen(dir) + strlen(name) + 12 > SS_AR_MAX_PATH)
        return wfail(w, "partition path too long under %s", w->out);
    { /* [archive-id] part files there the ledger does not know: refuse (archive_id.h) */
        char gerr[2048];
        int g = ss_archive_guard_dir(w->guard, w->led, dir + 2, gerr, sizeof gerr);
        if (g != 0) return w->fatal = g == -2, wfail(w, "%s", gerr);
    }
    snprintf(p->rel, sizeof p->rel, "%s/%s.parquet", dir + 2, name);
    if (ss_ledger_intent(w->led, p->rel, w->consumer) != 0) {
        p->rel[0] = '\0';
        return wfail(w, "%s", ss_ledger_errstr(w->led));
    }
    ss_ar_options ao;
    ss_ar_options_init(&ao);
    ao.codec = w->o.codec;
    ao.zstd_level = w->o.zstd_level;
    ao.row_group_bytes = w->rg_bytes;
    char err[512];
    p->file = ss_ar_file_open(w->out, (ss_type)p->type, p->win, name, &ao, err, sizeof err);
    if (!p->file) return wfail(w, "cannot create part file %s/%s: %s", w->out, p->rel, err);
    return 0;
}

/* ---- committed-id checks (recovery) ----------------------------------------------------------- */

static int load_committed(ss_writer *w, int type, uint64_t lo, uint64_t hi) {
    wstream *s = &w->st[type];
    if (s->committed_valid && lo >= s->committed_lo && hi <= s->committed_hi) return 0;
    if (s->committed_valid) {
        if (s->committed_lo < lo) lo = s->committed_lo;
        if (s->committed_hi > hi) hi = s->committed_hi;
    }
    free(s->committed);
    s->committed = NULL;
    s->ncommitted = 0;
    s->committed_valid = 0;
    if (ss_ledger_committed_ids(w->led, led_type(w, type), lo, hi, &s->committed, &s->ncommitted) != 0)
        return wfail(w, "%s", ss_ledger_errstr(w->led));
    s->committed_valid = 1;
    s->committed_lo = lo;
    s->committed_hi = hi;
    return 0;
}

static void drop_committed(ss_writer *w) {
    for (int t = 0; t < SS_TYPE__COUNT; t++) {
        free(w->st[t].committed);
        w->st[t].committed = NULL;
        w->st[t].ncommitted = 0;
        w->st[t].committed_valid = 0;
    }
}

/* ---- entries ---------------------------------------------------------------------------------- */

static int parse_i64(const char *s, size_t n, int64_t *out) {
    if (n == 0 || n > 19) return -1;
    int neg = s[0] == '-';
    size_t i = neg;
    if (i == n) return -1;
    int64_t v = 0;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = neg ? -v : v;
    return 0;
}

static bent *next_bent(ss_writer *w) {
    if (w->nb == w->capb) {
        size_t nc = w->capb ? w->capb * 2 : 1024;
        bent *a = realloc(w->b, nc * sizeof *a);
        if (!a) return NULL;
        w->b = a;
        w->capb = nc;
    }
    bent *e = &w->b[w->nb++];
    memset(e, 0, sizeof *e);
    return e;
}

/* First pass over one stream's entries: ids, fields, time and key, without decoding. The
 * ingester writes one pair per entry, <meta> <event> (meta: event.h). Entries buffered by
 * skyspool before 2026-11 are e <event> t <time_us> k <key hex>; for those, and for any entry
 * with an `e` field alone, whatever is missing comes from decoding the event. */
static int scan_entries(ss_writer *w, int type, const redisReply *arr, int history, int *n_out, int64_t *tmin,
                        int64_t *tmax) {
    *n_out = 0;
    if (!arr || arr->type != REDIS_REPLY_ARRAY) return 0;
    for (size_t i = 0; i < arr->elements; i++) {
        const redisReply *ent = arr->element[i];
        if (!ent || ent->type != REDIS_REPLY_ARRAY || ent->elements < 1 || ent->element[0]->type != REDIS_REPLY_STRING)
            continue;
        bent *e = next_bent(w);
        if (!e) return wfail(w, "out of memory");
        e->type = type;
        if (ss_writer_id_parse(ent->element[0]->str, ent->element[0]->len, &e->id) != 0)
            return wfail(w, "unexpected entry id '%.*s' in %s", (int)ent->element[0]->len, ent->element[0]->str,
                         w->st[type].key);
        (*n_out)++;
        const redisReply *f = ent->elements > 1 ? ent->element[1] : NULL;
        if (!f || f->type != REDIS_REPLY_ARRAY) { /* deleted entry still pending: already committed */
            e->action = A_ACK;
            continue;
        }
        int have_t = 0, have_k = 0;
        const char *ts = NULL, *ks = NULL;
        size_t tl = 0, kl = 0;
        if (f->elements == 2 && f->element[0]->type == REDIS_REPLY_STRING &&
            f->element[1]->type == REDIS_REPLY_STRING &&
            ss_event_meta_parse(f->element[0]->str, f->element[0]->len, e->key, &e->t) == 0) {
            e->e = f->element[1]->str, e->elen = f->element[1]->len; /* <meta> <event> */
            have_t = have_k = 1;
        } else {
            for (size_t j = 0; j + 1 < f->elements; j += 2) { /* e <event> [t <time_us> k <key>] */
                const redisReply *k = f->element[j], *v = f->element[j + 1];
                if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING || k->len != 1) continue;
                if (k->str[0] == 'e') e->e = v->str, e->elen = v->len;
                else if (k->str[0] == 't') ts = v->str, tl = v->len;
                else if (k->str[0] == 'k') ks = v->str, kl = v->len;
            }
        }
        if (history) {
            wstream *s = &w->st[type];
            if (load_committed(w, type, e->id.ms, e->id.ms) != 0) return -1;
            if (ss_writer_id_find(s->committed, s->ncommitted, e->id)) {
                e->action = A_ACK;
                stat_add(w, &w->stats.recovered, 1, w->m.recovered);
                continue;
            }
        }
        if (!e->e) {
            e->action = A_DLQ;
            e->reason = "no_event_field";
            continue;
        }
        if (!have_t) have_t = ts && parse_i64(ts, tl, &e->t) == 0;
        if (!have_k) have_k = ks && ss_event_dedup_parse(ks, kl, e->key) == 0;
        if (!have_t || !have_k) {
            ss_event ev;
            ss_decode_reason why = ss_decode(w->dec[0], e->e, e->elen, &ev);
            if (why != SS_DECODE_OK) {
                e->action = A_DLQ;
                e->reason = ss_decode_reason_name(why);
                continue;
            }
            if (!have_t) e->t = ev.time_us;
            if (!have_k) ss_event_dedup_key(&ev, e->key);
        }
        if (e->t < SS_AR_TIME_MIN_US || e->t > SS_AR_TIME_MAX_US) {
            e->action = A_DLQ;
            e->reason = "time_out_of_range";
            continue;
        }
        e->action = A_CLAIM;
        if (e->t < *tmin) *tmin = e->t;
        if (e->t > *tmax) *tmax = e->t;
    }
    return 0;
}

/* One ledger transaction claims every key of the batch. */
static int claim_batch(ss_writer *w, size_t from) {
    int any = 0;
    for (size_t i = from; i < w->nb; i++)
        if (w->b[i].action == A_CLAIM) any = 1;
    if (!any) return 0;
    if (ss_ledger_claims_begin(w->led) != 0) return wfail(w, "%s", ss_ledger_errstr(w->led));
    for (size_t i = from; i < w->nb; i++) {
        bent *e = &w->b[i];
        if (i + 8 < w->nb && w->b[i + 8].action == A_CLAIM) /* overlap the claim set's cache misses */
            ss_ledger_claim_prefetch(w->led, w->b[i + 8].key);
        if (e->action != A_CLAIM) continue;
        int owner = 0;
        if (ss_ledger_claim(w->led, e->key, led_type(w, e->type), e->id, e->t, &owner) != 0) {
            wfail(w, "%s", ss_ledger_errstr(w->led));
            ss_ledger_claims_end(w->led);
            return -1;
        }
        e->action = owner ? A_OWNER : A_DUP;
        e->recheck = owner == 2;
    }
    if (ss_ledger_claims_end(w->led) != 0) return wfail(w, "%s", ss_ledger_errstr(w->led));
    /* A key this very entry claimed before: the entry is being delivered again (our own
     * restart, or a Redis failover that lost its acknowledgement). Committed already? */
    for (size_t i = from; i < w->nb; i++) {
        bent *e = &w->b[i];
        if (e->action != A_OWNER || !e->recheck) continue;
        if (load_committed(w, e->type, e->id.ms, e->id.ms) != 0) return -1;
        if (ss_writer_id_find(w->st[e->type].committed, w->st[e->type].ncommitted, e->id)) {
            e->action = A_ACK;
            stat_add(w, &w->stats.recovered, 1, w->m.recovered);
        }
    }
    ss_writer_crash_point("after_claim");
    return 0;
}

static int dlq_entry(ss_writer *w, const bent *e) {
    char id[SS_WRITER_ID_STRLEN];
    ss_writer_id_format(e->id, id);
    size_t rawlen = e->elen > 65536 ? 65536 : e->elen;
    redisReply *r = redisCommand(w->rc, "XADD %s * reason %s detail %s raw %b source writer stream %s id %s",
                                 w->dlq_key, e->reason, "the writer could not use this entry",
                                 e->e ? e->e : "", e->e ? rawlen : (size_t)0, w->st[e->type].key, id);
    if (!r) return wfail(w, "redis: %s", w->rc->errstr);
    int bad = r->type == REDIS_REPLY_ERROR;
    if (bad) wfail(w, "redis XADD %s: %.*s", w->dlq_key, (int)r->len, r->str);
    freeReplyObject(r);
    if (bad) return -1;
    ss_warn(LOG, "entry %s of %s moved to %s: %s", id, w->st[e->type].key, w->dlq_key, e->reason);
    stat_add(w, &w->stats.dlq, 1, w->m.dlq);
    return 0;
}

/* Decoding and Parquet encoding are most of the writer's CPU, so owners are decoded and
 * appended in two lanes at once, split by type (each part file belongs to one lane, so no
 * file is touched by two threads): likes, blocks, identity and account in one, posts,
 * reposts, follows and other in the other, about half the events each. */
#define NLANES 2
static int lane_of(int type) {
    return type == SS_TYPE_LIKE || type == SS_TYPE_BLOCK || type == SS_TYPE_IDENTITY || type == SS_TYPE_ACCOUNT;
}

typedef struct {
    ss_writer *w;
    size_t from;
    int lane;
    ss_decoder *dec;
    int rc;
    part *errpart;
    char err[512];
} lane_job;

static void *lane_run(void *arg) {
    lane_job *j = arg;
    ss_writer *w = j->w;
    for (size_t i = j->from; i < w->nb; i++) {
        bent *e = &w->b[i];
        if (e->action != A_OWNER || !e->part || lane_of(e->type) != j->lane) continue;
        part *p = e->part;
        ss_event ev;
        ss_decode_reason why = ss_decode(j->dec, e->e, e->elen, &ev);
        if (why != SS_DECODE_OK || ev.type != (ss_type)e->type) {
            e->action = A_BAD; /* goes to the DLQ instead (its id leaves the part) */
            e->reason = why != SS_DECODE_OK ? ss_decode_reason_name(why) : "wrong_stream";
            continue;
        }
        if (ss_ar_file_append(p->file, &ev) != 0) {
            j->rc = -1;
            j->errpart = p;
            snprintf(j->err, sizeof j->err, "%s", ss_ar_file_errstr(p->file));
            return NULL;
        }
        p->rows++;
        p->raw_bytes += e->elen;
    }
    return NULL;
}

static void part_remove_id(part *p, ss_writer_id id) {
    for (size_t k = p->nids; k-- > 0;)
        if (ss_writer_id_cmp(p->ids[k], id) == 0) {
            memmove(&p->ids[k], &p->ids[k + 1], (p->nids - k - 1) * sizeof *p->ids);
            p->nids--;
            return;
        }
}

/* Second pass: each entry is placed in the part of its (type, window) -- duplicates are
 * recorded there (acked with its commit), owners get a file (intent first) -- then the
 * owners are decoded and appended in lanes; committed or undecodable entries are acked now. */
static int apply_batch(ss_writer *w, size_t from) {
    int rc = 0, lanes_used[NLANES] = {0};
    for (size_t i = from; i < w->nb && rc == 0; i++) {
        bent *e = &w->b[i];
        e->part = NULL;
        if (e->action != A_OWNER && e->action != A_DUP) continue;
        int64_t win = ss_writer_window_start(e->t, w->o.window_us);
        part *p = find_part(w, e->type, win, 0);
        if (!p) p = find_part(w, e->type, win, 1);
        if (!p) {
            int late = win + w->o.window_us <= w->flushed_end;
            p = new_part(w, e->type, win, late);
            if (!p) {
                rc = wfail(w, "out of memory");
                break;
            }
        }
        if (part_add_id(p, e->id) != 0) {
            rc = wfail(w, "out of memory");
            break;
        }
        if (e->t > p->max_t) p->max_t = e->t;
        if (e->t > w->max_event_t) w->max_event_t = e->t;
        if (e->action == A_DUP) {
            p->dups++;
            continue;
        }
        if (!p->file && part_open_file(w, p, e->id) != 0) {
            rc = -1;
            break;
        }
        e->part = p;
        lanes_used[lane_of(e->type)] = 1;
    }
    if (rc != 0) return -1;
    lane_job jobs[NLANES];
    pthread_t th[NLANES];
    int started[NLANES] = {0};
    for (int l = 0; l < NLANES; l++) jobs[l] = (lane_job){w, from, l, w->dec[l], 0, NULL, ""};
    for (int l = 1; l < NLANES; l++)
        if (lanes_used[l] && lanes_used[0] && pthread_create(&th[l], NULL, lane_run, &jobs[l]) == 0) started[l] = 1;
    for (int l = 0; l < NLANES; l++)
        if (!started[l] && lanes_used[l]) lane_run(&jobs[l]);
    for (int l = 1; l < NLANES; l++)
        if (started[l]) pthread_join(th[l], NULL);
    for (int l = 0; l < NLANES; l++)
        if (jobs[l].rc != 0) {
            w->fail_run = jobs[l].errpart->run_id;
            return wfail(w, "writing %s/%s: %s", w->out, jobs[l].errpart->rel, jobs[l].err);
        }

    ss_writer_id *acks[SS_TYPE__COUNT] = {0};
    size_t nacks[SS_TYPE__COUNT] = {0}, capacks[SS_TYPE__COUNT] = {0};
    for (size_t i = from; i < w->nb && rc == 0; i++) {
        bent *e = &w->b[i];
        if (e->action == A_BAD) { /* not part of its part's commit after all */
            part_remove_id(e->part, e->id);
            e->action = A_DLQ;
        }
        if (e->action != A_ACK && e->action != A_DLQ) continue;
        if (e->action == A_DLQ && dlq_entry(w, e) != 0) {
            rc = -1;
            break;
        }
        if (nacks[e->type] == capacks[e->type]) {
            size_t nc = capacks[e->type] ? capacks[e->type] * 2 : 256;
            ss_writer_id *a = realloc(acks[e->type], nc * sizeof *a);
            if (!a) {
                rc = wfail(w, "out of memory");
                break;
            }
            acks[e->type] = a;
            capacks[e->type] = nc;
        }
        acks[e->type][nacks[e->type]++] = e->id;
    }
    for (int t = 0; t < SS_TYPE__COUNT; t++) {
        if (rc == 0 && nacks[t]) {
            rc = ack_ids(w, t, acks[t], nacks[t]);
            if (rc == 0) stat_add(w, &w->stats.entries, nacks[t], w->m.entries);
        }
        free(acks[t]);
    }
    return rc;
}

/* ---- the commit protocol ------------------------------------------------------------------------ */

static int cmp_id(const void *a, const void *b) {
    return ss_writer_id_cmp(*(const ss_writer_id *)a, *(const ss_writer_id *)b);
}

typedef struct {
    part *p;
    ss_ar_file_result res;
    int rc;
    char err[512];
} finish_job;

typedef struct {
    finish_job *jobs;
    size_t n;
    size_t next;
    pthread_mutex_t mu;
} finish_pool;

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
        if (j->rc != 0) continue;
        ss_writer_crash_point("after_write"); /* sealed and fsynced, not yet renamed */
        j->rc = ss_ar_file_publish(f, j->err, sizeof j->err);
        if (j->rc == 0) ss_writer_crash_point("after_rename");
    }
}

#define FINISH_THREADS 4

/* Commits parts with the protocol, batched:
 *   (1) their entries were read and streamed into the files;
 *   (2) one FULL ledger transaction opens their runs, which also makes every intent
 *       recorded since the last one durable; then each file is finished (fsync), renamed
 *       into place and its directory fsynced, several at once;
 *   (3) one FULL transaction records every commit (refused as a whole if we were fenced);
 *   (4) then their entries are XACKed and removed from the stream (ack_script.h).
 * Parts are freed on success; on failure they stay and the session ends (abort_parts). */
static int flush_parts(ss_writer *w, part **ps, const int *kinds, size_t n) {
    if (n == 0) return 0;
    int64_t t0 = mono_ms();
    if (ss_ledger_batch_begin(w->led, 1) != 0) return wfail(w, "%s", ss_ledger_errstr(w->led));
    for (size_t i = 0; i < n; i++) {
        part *p = ps[i];
        if (p->run_id) continue;
        p->run_id = ss_ledger_run_open(w->led, p->win, w->o.window_us, led_type(w, p->type), w->ltype_name[p->type],
                                       w->consumer, kinds[i]);
        if (p->run_id < 0) {
            p->run_id = 0;
            ss_ledger_batch_end(w->led, 1);
            return wfail(w, "%s", ss_ledger_errstr(w->led));
        }
    }
    if (ss_ledger_batch_end(w->led, 0) != 0) return wfail(w, "%s", ss_ledger_errstr(w->led));
    w->fail_run = ps[0]->run_id;

    finish_job *jobs = calloc(n, sizeof *jobs);
    if (!jobs) return wfail(w, "out of memory");
    size_t nf = 0;
    for (size_t i = 0; i < n; i++) {
        qsort(ps[i]->ids, ps[i]->nids, sizeof *ps[i]->ids, cmp_id);
        if (ps[i]->file) jobs[nf++].p = ps[i];
    }
    finish_pool fp = {jobs, nf, 0, PTHREAD_MUTEX_INITIALIZER};
    pthread_t th[FINISH_THREADS];
    int nth = 0;
    for (int k = 0; k < FINISH_THREADS - 1 && (size_t)(k + 1) < nf; k++)
        if (pthread_create(&th[nth], NULL, finish_worker, &fp) == 0) nth++;
    finish_worker(&fp);
    for (int k = 0; k < nth; k++) pthread_join(th[k], NULL);
    int rc = 0;
    for (size_t j = 0; j < nf && rc == 0; j++) {
        part *p = jobs[j].p;
        if (jobs[j].rc != 0) {
            w->fail_run = p->run_id;
            rc = wfail(w, "finishing %s/%s: %s", w->out, p->rel, jobs[j].err);
        } else if (jobs[j].res.rows != p->rows) {
            rc = wfail(w, "%s: %llu rows in the file, %llu appended", p->rel, (unsigned long long)jobs[j].res.rows,
                       (unsigned long long)p->rows);
        }
    }
    if (rc != 0) {
        free(jobs);
        return -1;
    }

    int64_t dt = mono_ms() - t0;
    if (ss_ledger_batch_begin(w->led, 1) != 0) {
        free(jobs);
        return wfail(w, "%s", ss_ledger_errstr(w->led));
    }
    int fenced = 0;
    for (size_t i = 0; i < n && !fenced; i++) {
        part *p = ps[i];
        const ss_ar_file_result *res = NULL;
        for (size_t j = 0; j < nf; j++)
            if (jobs[j].p == p) res = &jobs[j].res;
        ss_ledger_commit_rec c = {.run_id = p->run_id,
                                  .window_start_us = p->win,
                                  .type = led_type(w, p->type),
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
                                  .duration_ms = dt};
        int lr = ss_ledger_commit(w->led, &c);
        if (lr == SS_LEDGER_FENCED) fenced = 1;
        else if (lr != SS_LEDGER_OK) rc = -1;
    }
    if (ss_ledger_batch_end(w->led, fenced || rc != 0) != 0 || fenced) {
        free(jobs);
        if (fenced) {
            /* Another writer declared us dead and took our entries over: our files must go. */
            for (size_t i = 0; i < n; i++)
                if (ps[i]->rel[0]) unlink_uncommitted(w, ps[i]->rel);
            w->fatal = 1;
            return wfail(w, "%s; stopping (restart the writer to continue under a live name)",
                         ss_ledger_errstr(w->led));
        }
        return wfail(w, "%s", ss_ledger_errstr(w->led));
    }
    for (size_t i = 0; i < n; i++) {
        part *p = ps[i];
        p->rel[0] = '\0'; /* committed: no longer ours to remove */
        if (kinds[i] == KIND_CLOSE && p->win + w->o.window_us > w->flushed_end) w->flushed_end = p->win + w->o.window_us;
        ss_writer_crash_point("after_ledger");
    }
    /* (4) acknowledge, pipelined per part */
    for (size_t i = 0; i < n; i++) {
        if (ack_ids(w, ps[i]->type, ps[i]->ids, ps[i]->nids) != 0) {
            free(jobs);
            return -1;
        }
        ss_writer_crash_point("after_ack");
    }
    dt = mono_ms() - t0;
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
        ss_metric_add(w->m.entries, (double)p->nids);
        ss_metric_add(w->m.rows, (double)p->rows);
        ss_metric_add(w->m.dups, (double)p->dups);
        if (kinds[i] == KIND_LATE) ss_metric_add(w->m.late_rows, (double)p->rows);
        if (res) ss_metric_inc(w->m.files);
        ss_metric_add(w->m.bytes, (double)bytes);
        ss_debug(LOG, "committed %s: %llu rows, %llu duplicates, %llu bytes", res ? res->path : "(no rows)",
                 (unsigned long long)p->rows, (unsigned long long)p->dups, (unsigned long long)bytes);
        if (w->o.on_commit) w->o.on_commit(w->o.on_commit_ctx, res ? res->path : "", p->rows);
        remove_part(w, p);
    }
    ss_metric_set(w->m.flush_s, (double)dt / 1000.0);
    w->fail_run = 0;
    free(jobs);
    update_gauges(w);
    return 0;
}

static int flush_part(ss_writer *w, part *p, int kind) { return flush_parts(w, &p, &kind, 1); }

/* Closes what the watermark says is complete; late parts go with any closing window, after
 * they have waited `grace`, or at the end. final: everything due now (once mode / stop);
 * all: every part. */
static int flush_cycle(ss_writer *w, int final, int all) {
    int64_t now = wall_us();
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
        return wfail(w, "out of memory");
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
        if (closing || final || mono_ms() - p->opened_ms >= w->o.grace_us / 1000) {
            kinds[n] = KIND_LATE;
            due[n++] = p;
        }
    }
    int rc = 0;
    for (size_t off = 0; off < n && rc == 0; off += 64) /* batches bound the fds finishing at once */
        rc = flush_parts(w, due + off, kinds + off, n - off < 64 ? n - off : 64);
    free(due);
    free(kinds);
    /* The parts' buffers were allocated by the lane threads, whose malloc arenas keep freed
     * memory; give it back, or RSS creeps to the sum of every arena's peak. */
    if (n) malloc_trim(0);
    return rc;
}

/* Keeps memory and open files bounded: while over budget, the biggest part is committed
 * early as one more part file of its window (a "spill"). */
static int enforce_budget(ss_writer *w) {
    for (;;) {
        size_t files = 0;
        for (size_t i = 0; i < w->nparts; i++) files += w->parts[i]->file != NULL;
        if (w->nparts == 0 || (mem_estimate(w) <= w->o.memory_budget && files <= MAX_OPEN_FILES)) return 0;
        part *big = w->parts[0];
        for (size_t i = 1; i < w->nparts; i++)
            if (part_mem(w, w->parts[i]) > part_mem(w, big)) big = w->parts[i];
        ss_info(LOG, "memory budget reached: committing %s window part early (%llu rows)",
                ss_type_name((ss_type)big->type), (unsigned long long)big->rows);
        if (flush_part(w, big, big->late ? KIND_LATE : KIND_SPILL) != 0) return -1;
    }
}

/* ---- reading ----------------------------------------------------------------------------------- */

/* The reader connection: the XREADGROUP of round N+1 is sent before round N's entries are
 * claimed, decoded and written, so Redis builds and sends the next reply while we work
 * instead of us waiting for it. A read-ahead only moves entries into our PEL, which is
 * where unprocessed entries live anyway: if the session ends before its reply is used,
 * the entries stay pending and the next session's history pass (or a takeover) reads them
 * again. Every other command uses w->rc, so replies never interleave. */
static void reader_close(ss_writer *w) {
    if (w->rd) redisFree(w->rd);
    if (w->arena) ss_reply_arena_reset(w->arena);
    w->rd = NULL;
    w->rd_pending = 0;
}

static int reader_connect(ss_writer *w) {
    if (w->rd) return 0;
    char err[512];
    w->rd = w->o.connect(w->o.connect_ctx, err, sizeof err);
    if (!w->rd) return wfail(w, "%s", err);
    /* keep the reader's buffer between replies: hiredis otherwise frees and regrows it on
     * every read, and the regrowth costs more than the parsing */
    if (w->rd->reader) w->rd->reader->maxbuf = 0;
    ss_reply_arena_attach(w->rd, w->arena);
    return 0;
}

/* Chooses the streams to read now and builds the XREADGROUP: not done; history first; a
 * live stream more than one window ahead of the slowest undrained stream waits. Returns
 * argc (0: nothing to read); idx/n get the streams in order, *blocking whether it blocks. */
static int build_read(ss_writer *w, const char **argv, char *count, size_t countlen, char *block, size_t blocklen,
                      int *idx, int *n, int *blocking) {
    int64_t slowest = INT64_MAX;
    for (int t = 0; t < SS_TYPE__COUNT; t++) {
        wstream *s = &w->st[t];
        if (!s->done && !s->history && s->clock.seen && !s->clock.drained && s->clock.high < slowest)
            slowest = s->clock.high;
    }
    int argc = 0, nstreams = 0, all_idle = 1;
    snprintf(count, countlen, "%d", w->o.count);
    snprintf(block, blocklen, "%d", w->o.block_ms);
    argv[argc++] = "XREADGROUP";
    argv[argc++] = "GROUP";
    argv[argc++] = SS_WRITER_GROUP;
    argv[argc++] = w->consumer;
    argv[argc++] = "COUNT";
    argv[argc++] = count;
    for (int t = 0; t < SS_TYPE__COUNT; t++) {
        wstream *s = &w->st[t];
        if (s->done) continue;
        if (!s->history && s->clock.seen && !s->clock.drained && slowest != INT64_MAX &&
            s->clock.high > slowest + w->o.window_us)
            continue;
        if (s->history || !s->clock.drained) all_idle = 0;
        idx[nstreams++] = t;
    }
    *n = nstreams;
    *blocking = 0;
    if (nstreams == 0) return 0;
    if (!w->o.once && all_idle) {
        *blocking = 1;
        argv[argc++] = "BLOCK";
        argv[argc++] = block;
    }
    argv[argc++] = "STREAMS";
    for (int i = 0; i < nstreams; i++) argv[argc++] = w->st[idx[i]].key;
    for (int i = 0; i < nstreams; i++) {
        wstream *s = &w->st[idx[i]];
        argv[argc++] = s->history ? s->hist_id : ">";
    }
    return argc;
}

/* Sends the next XREADGROUP on the reader without waiting for it, unless it would block
 * (a blocking read is only sent when we have nothing else to do). */
static void read_ahead(ss_writer *w) {
    if (w->rd_pending || !w->rd) return;
    const char *argv[12 + 2 * SS_TYPE__COUNT];
    char count[16], block[16];
    int idx[SS_TYPE__COUNT], n, blocking;
    int argc = build_read(w, argv, count, sizeof count, block, sizeof block, idx, &n, &blocking);
    if (argc == 0 || blocking) return;
    if (redisAppendCommandArgv(w->rd, argc, argv, NULL) != REDIS_OK) return;
    int done = 0;
    while (!done)
        if (redisBufferWrite(w->rd, &done) != REDIS_OK) {
            reader_close(w); /* if it got through, its entries wait in our PEL for the next session */
            return;
        }
    memcpy(w->rd_idx, idx, sizeof idx);
    w->rd_n = n;
    w->rd_once = w->o.once;
    w->rd_pending = 1;
}

/* One XREADGROUP over every stream that should be read now (the one read ahead, if any).
 * Returns 0, or -1. */
static int read_round(ss_writer *w, int *got_any) {
    *got_any = 0;
    if (reader_connect(w) != 0) return -1;
    int idx[SS_TYPE__COUNT], nstreams;
    /* A short read ends a stream in --once mode only if the read was sent in --once mode:
     * one read ahead before `run`'s source ended may have missed its last entries. */
    int sent_once = w->o.once;
    if (w->rd_pending) {
        nstreams = w->rd_n;
        memcpy(idx, w->rd_idx, sizeof idx);
        sent_once = w->rd_once;
    } else {
        const char *argv[12 + 2 * SS_TYPE__COUNT];
        char count[16], block[16];
        int blocking;
        int argc = build_read(w, argv, count, sizeof count, block, sizeof block, idx, &nstreams, &blocking);
        if (argc == 0) return 0;
        if (redisAppendCommandArgv(w->rd, argc, argv, NULL) != REDIS_OK) {
            reader_close(w);
            return wfail(w, "redis: out of memory");
        }
    }
    w->rd_pending = 0;
    redisReply *r = NULL;
    if (redisGetReply(w->rd, (void **)&r) != REDIS_OK || !r) {
        wfail(w, "redis: %s", w->rd->errstr[0] ? w->rd->errstr : "no reply");
        reader_close(w);
        return -1;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        wfail(w, "redis XREADGROUP: %.*s", (int)r->len, r->str);
        ss_reply_arena_reset(w->arena);
        return -1;
    }
    int got[SS_TYPE__COUNT] = {0};
    int64_t mins[SS_TYPE__COUNT], maxs[SS_TYPE__COUNT];
    w->nb = 0;
    int rc = 0;
    if (r->type == REDIS_REPLY_ARRAY) {
        for (size_t i = 0; i < r->elements && rc == 0; i++) {
            redisReply *sr = r->element[i];
            if (sr->type != REDIS_REPLY_ARRAY || sr->elements != 2 || sr->element[0]->type != REDIS_REPLY_STRING)
                continue;
            int t = -1;
            for (int k = 0; k < SS_TYPE__COUNT; k++)
                if (strlen(w->st[k].key) == sr->element[0]->len && !memcmp(w->st[k].key, sr->element[0]->str, sr->element[0]->len))
                    t = k;
            if (t < 0) continue;
            int64_t tmin = INT64_MAX, tmax = INT64_MIN;
            size_t before = w->nb;
            int n = 0;
            rc = scan_entries(w, t, sr->element[1], w->st[t].history, &n, &tmin, &tmax);
            if (rc == 0 && w->st[t].history && n > 0) {
                const redisReply *last = sr->element[1]->element[sr->element[1]->elements - 1];
                snprintf(w->st[t].hist_id, sizeof w->st[t].hist_id, "%.*s", (int)last->element[0]->len,
                         last->element[0]->str);
            }
            (void)before;
            got[t] = n;
            mins[t] = tmin;
            maxs[t] = tmax;
        }
    }
    /* the streams' state first, so the next read can be sent before this batch is worked */
    if (rc == 0) {
        int64_t now = wall_us();
        for (int i = 0; i < nstreams; i++) {
            int t = idx[i];
            wstream *s = &w->st[t];
            if (s->history) {
                if (got[t] == 0) {
                    s->history = 0; /* own PEL done: now new entries */
                    ss_debug(LOG, "%s: pending entries resolved", s->key);
                }
                if (got[t] > 0 && mins[t] != INT64_MAX)
                    ss_writer_clock_observe(&s->clock, got[t], mins[t], maxs[t], 0, now);
                continue;
            }
            int short_read = got[t] < w->o.count;
            ss_writer_clock_observe(&s->clock, mins[t] != INT64_MAX ? got[t] : 0, mins[t], maxs[t], short_read, now);
            if (w->o.once && sent_once && short_read) s->done = 1;
            if (got[t]) *got_any = 1;
        }
        read_ahead(w);
    }
    if (rc == 0) rc = claim_batch(w, 0);
    if (rc == 0) rc = apply_batch(w, 0);
    ss_reply_arena_reset(w->arena); /* r and every entry string in w->b die here */
    return rc;
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
    if (rc != 0) rc = wfail(w, "%s", ss_ledger_errstr(w->led));
    else if (l.oom) rc = wfail(w, "out of memory");
    for (size_t i = 0; i < l.n; i++) {
        if (rc == 0) {
            unlink_uncommitted(w, l.v[i]);
            if (ss_ledger_intent_drop(w->led, l.v[i]) < 0) rc = wfail(w, "%s", ss_ledger_errstr(w->led));
        }
        free(l.v[i]);
    }
    free(l.v);
    return rc;
}

/* Takes over consumer `dead`'s pending entries of stream t that have been idle at least
 * min_idle ms, and processes them like our own pending entries. */
static int take_over_stream(ss_writer *w, int t, const char *dead, long long min_idle) {
    const char *key = w->st[t].key;
    for (;;) {
        redisReply *r = cmd(w, "XPENDING %s %s IDLE %lld - + 1000 %s", key, SS_WRITER_GROUP, min_idle, dead);
        if (!r) return -1;
        if (r->type != REDIS_REPLY_ARRAY || r->elements == 0) {
            freeReplyObject(r);
            return 0;
        }
        size_t n = r->elements;
        const char **argv = malloc((n + 6) * sizeof *argv);
        size_t *lens = malloc((n + 6) * sizeof *lens);
        if (!argv || !lens) {
            free(argv);
            free(lens);
            freeReplyObject(r);
            return wfail(w, "out of memory");
        }
        char idle[24];
        snprintf(idle, sizeof idle, "%lld", min_idle);
        size_t argc = 0;
        argv[argc++] = "XCLAIM";
        argv[argc++] = key;
        argv[argc++] = SS_WRITER_GROUP;
        argv[argc++] = w->consumer;
        argv[argc++] = idle;
        for (size_t i = 0; i < n; i++) {
            const redisReply *e = r->element[i];
            if (e->type != REDIS_REPLY_ARRAY || e->elements < 1 || e->element[0]->type != REDIS_REPLY_STRING) continue;
            argv[argc] = e->element[0]->str;
            lens[argc++] = e->element[0]->len;
        }
        for (size_t i = 0; i < 5; i++) lens[i] = strlen(argv[i]);
        redisReply *c = argc > 5 ? cmdv(w, (int)argc, argv, lens) : NULL;
        free(argv);
        free(lens);
        freeReplyObject(r);
        if (argc > 5 && !c) return -1;
        if (!c) return 0;
        w->nb = 0;
        int64_t tmin = INT64_MAX, tmax = INT64_MIN;
        int got = 0;
        int rc = scan_entries(w, t, c, 1, &got, &tmin, &tmax);
        if (rc == 0) rc = claim_batch(w, 0);
        if (rc == 0) rc = apply_batch(w, 0);
        freeReplyObject(c);
        if (rc != 0) return -1;
        stat_add(w, &w->stats.reclaimed, (uint64_t)got, w->m.reclaimed);
        ss_info(LOG, "took over %d pending entries of dead consumer %s in %s", got, dead, key);
        if (got == 0) return 0; /* nothing claimable (entries touched meanwhile) */
        if (enforce_budget(w) != 0) return -1;
    }
}

typedef struct {
    char name[SS_WRITER_MAX_CONSUMER + 1];
    long long pending, idle_ms;
} consumer_info;

static int list_consumers(ss_writer *w, consumer_info **out, size_t *n) {
    *out = NULL;
    *n = 0;
    size_t cap = 0;
    for (int t = 0; t < SS_TYPE__COUNT; t++) {
        redisReply *r = cmd(w, "XINFO CONSUMERS %s %s", w->st[t].key, SS_WRITER_GROUP);
        if (!r) return -1;
        for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
            const redisReply *c = r->element[i];
            if (c->type != REDIS_REPLY_ARRAY) continue;
            consumer_info ci;
            memset(&ci, 0, sizeof ci);
            for (size_t j = 0; j + 1 < c->elements; j += 2) {
                const redisReply *k = c->element[j], *v = c->element[j + 1];
                if (k->type != REDIS_REPLY_STRING) continue;
                if (!strcmp(k->str, "name") && v->type == REDIS_REPLY_STRING)
                    snprintf(ci.name, sizeof ci.name, "%s", v->str);
                else if (!strcmp(k->str, "pending") && v->type == REDIS_REPLY_INTEGER)
                    ci.pending = v->integer;
                else if (!strcmp(k->str, "idle") && v->type == REDIS_REPLY_INTEGER)
                    ci.idle_ms = v->integer;
            }
            if (!ci.name[0] || !strcmp(ci.name, w->consumer)) continue;
            size_t k;
            for (k = 0; k < *n; k++)
                if (!strcmp((*out)[k].name, ci.name)) break;
            if (k == *n) {
                if (*n == cap) {
                    size_t nc = cap ? cap * 2 : 16;
                    consumer_info *a = realloc(*out, nc * sizeof *a);
                    if (!a) {
                        freeReplyObject(r);
                        return wfail(w, "out of memory");
                    }
                    *out = a;
                    cap = nc;
                }
                (*out)[(*n)++] = ci;
            } else {
                (*out)[k].pending += ci.pending;
                if (ci.idle_ms < (*out)[k].idle_ms) (*out)[k].idle_ms = ci.idle_ms;
            }
        }
        freeReplyObject(r);
    }
    return 0;
}

/* A consumer is dead when its heartbeat says it exited, or is older than claim-idle (or
 * it never had one and has been idle that long), and no process on this machine holds its
 * lock. Its intents are cleaned and it is fenced before its entries are taken, so even a
 * writer wrongly declared dead can no longer commit anything. */
static int reclaim_dead(ss_writer *w) {
    consumer_info *cs = NULL;
    size_t n = 0;
    if (list_consumers(w, &cs, &n) != 0) return -1;
    int rc = 0;
    long long now = (long long)wall_ms();
    for (size_t i = 0; i < n && rc == 0; i++) {
        consumer_info *c = &cs[i];
        redisReply *r = cmd(w, "HGET %s %s", w->hb_key, c->name);
        if (!r) {
            rc = -1;
            break;
        }
        long long hb = -1;
        if (r->type == REDIS_REPLY_STRING) hb = strtoll(r->str, NULL, 10);
        freeReplyObject(r);
        long long min_idle;
        if (hb == 0) min_idle = 0; /* exited cleanly */
        else if (hb > 0 && now - hb > w->o.claim_idle_ms) min_idle = w->o.claim_idle_ms;
        else if (hb < 0 && c->idle_ms >= w->o.claim_idle_ms) min_idle = w->o.claim_idle_ms;
        else continue; /* alive */
        int fd = try_lock_consumer(w, c->name);
        if (fd < 0) continue; /* a live process on this machine */
        if (c->pending > 0) {
            ss_info(LOG, "consumer %s is dead (%s); taking over its %lld pending entries", c->name,
                    hb == 0 ? "exited" : "silent", c->pending);
            if (ss_ledger_fence(w->led, c->name) != 0) rc = wfail(w, "%s", ss_ledger_errstr(w->led));
            if (rc == 0) rc = clean_intents(w, c->name);
            for (int t = 0; t < SS_TYPE__COUNT && rc == 0; t++) rc = take_over_stream(w, t, c->name, min_idle);
        }
        if (rc == 0) {
            /* forget it once nothing of it is pending anywhere */
            int left = 0;
            for (int t = 0; t < SS_TYPE__COUNT && rc == 0 && !left; t++) {
                redisReply *p = cmd(w, "XPENDING %s %s - + 1 %s", w->st[t].key, SS_WRITER_GROUP, c->name);
                if (!p) rc = -1;
                else {
                    left = p->type == REDIS_REPLY_ARRAY && p->elements > 0;
                    freeReplyObject(p);
                }
            }
            for (int t = 0; t < SS_TYPE__COUNT && rc == 0 && !left; t++) {
                redisReply *d = cmd(w, "XGROUP DELCONSUMER %s %s %s", w->st[t].key, SS_WRITER_GROUP, c->name);
                if (!d) rc = -1;
                else freeReplyObject(d);
            }
            if (rc == 0 && !left) {
                redisReply *d = cmd(w, "HDEL %s %s", w->hb_key, c->name);
                if (!d) rc = -1;
                else freeReplyObject(d);
            }
        }
        close(fd);
    }
    free(cs);
    w->last_reclaim_ms = mono_ms();
    return rc;
}

/* ---- session and run ------------------------------------------------------------------------------ */

/* Every 5 minutes of wall time, or whenever event time has moved on by a twelfth of the
 * horizon (a backlog or a fast feed covers hours of event time in minutes): the claim set
 * then stays within 13/12 of the horizon (at the live peak, 7.8M keys, ~125 MB). */
static void maybe_prune(ss_writer *w, int force) {
    int due = force || mono_ms() - w->last_prune_ms >= PRUNE_EVERY_MS ||
              (w->pruned_at_t > 0 && w->max_event_t - w->pruned_at_t >= w->o.horizon_us / 12) ||
              (w->pruned_at_t == 0 && w->max_event_t > 0);
    if (!due) return;
    w->last_prune_ms = mono_ms();
    w->pruned_at_t = w->max_event_t;
    if (w->max_event_t <= 0) return;
    int64_t ref = w->max_event_t;
    int64_t wmark;
    pthread_mutex_lock(&w->mu);
    wmark = w->stats.watermark_us;
    pthread_mutex_unlock(&w->mu);
    if (wmark > 0 && wmark < ref) ref = wmark;
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
    char err[512], owner[SS_SHARD_OWNER_MAX + 1], field[16];
    int recorded = 0;
    if (ss_shard_recorded(w->rc, w->prefix, &recorded, err, sizeof err) != 0) return wfail(w, "%s", err);
    if (recorded && recorded != w->nshards) {
        w->fatal = 1;
        if (recorded > 1)
            return wfail(w, "the buffer (prefix %s) is ingested into %d shards, this writer expects %d: run one writer "
                            "machine per shard with --shard I/%d (I = 0..%d)",
                         w->prefix, recorded, w->nshards, recorded, recorded - 1);
        return wfail(w, "the buffer (prefix %s) is not sharded (its ingester runs with shards=1), this writer expects "
                        "%d shards: drop --shard and the shards setting",
                     w->prefix, w->nshards);
    }
    if (w->nshards > 1) snprintf(field, sizeof field, "%d", w->o.shard);
    else snprintf(field, sizeof field, "%s", SS_SHARD_UNSHARDED);
    int rc = ss_shard_claim_owner(w->rc, w->prefix, field, w->ledger_id, w->o.take_shard, owner, sizeof owner, err,
                                  sizeof err);
    if (rc < 0) return wfail(w, "%s", err);
    if (rc > 0) {
        w->fatal = 1;
        return wfail(w,
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

static int session(ss_writer *w, volatile sig_atomic_t *stop) {
    if (!w->rc) {
        char err[512];
        w->rc = w->o.connect(w->o.connect_ctx, err, sizeof err);
        if (!w->rc) return wfail(w, "%s", err);
    }
    if (claim_shard(w) != 0) return -1;
    for (int t = 0; t < SS_TYPE__COUNT; t++) {
        wstream *s = &w->st[t];
        memset(&s->clock, 0, sizeof s->clock);
        s->history = 1;
        snprintf(s->hist_id, sizeof s->hist_id, "0-0");
        s->done = 0;
    }
    drop_committed(w);
    if (ensure_groups(w) != 0 || heartbeat(w, 0) != 0) return -1;
    if (clean_intents(w, w->consumer) != 0) return -1;
    /* Dead consumers' entries are taken over only after our own pending entries have been
     * re-read (XCLAIM puts them into our PEL, which the history pass reads). */
    int cleared = 0, reclaimed_once = 0;
    while (!*stop) {
        if (mono_ms() - w->last_hb_ms >= HEARTBEAT_MS && heartbeat(w, 0) != 0) return -1;
        if (!any_history(w) && (!reclaimed_once || (!w->o.once && mono_ms() - w->last_reclaim_ms >= w->o.claim_idle_ms / 2))) {
            if (reclaim_dead(w) != 0) return -1;
            reclaimed_once = 1;
        }
        if (enforce_budget(w) != 0) return -1;
        int got = 0;
        if (read_round(w, &got) != 0) return -1;
        if (!cleared && !any_history(w)) {
            drop_committed(w); /* recovery done: the committed-id sets are no longer needed */
            cleared = 1;
        }
        if (flush_cycle(w, 0, 0) != 0) return -1;
        update_gauges(w);
        w->attempt = 0;
        if (w->o.drain && *w->o.drain && !w->o.once) {
            ss_info(LOG, "the source has ended: draining what is buffered and closing every window");
            w->o.once = 1;
            w->o.all = 1;
            for (int t = 0; t < SS_TYPE__COUNT; t++) w->st[t].done = 0;
            continue;
        }
        if (w->o.once && all_done(w)) break;
        maybe_prune(w, 0);
    }
    if (flush_cycle(w, 1, w->o.once && w->o.all) != 0) return -1;
    maybe_prune(w, 1);
    if (w->nparts) {
        uint64_t rows = 0;
        for (size_t i = 0; i < w->nparts; i++) rows += w->parts[i]->nids;
        ss_info(LOG, "%zu open window parts (%llu entries) stay pending in Redis for the next run", w->nparts,
                (unsigned long long)rows);
    }
    abort_parts(w);
    heartbeat(w, 1);
    return 0;
}

static void sleep_ms(int64_t ms) {
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) break;
}

int ss_writer_run(ss_writer *w, volatile sig_atomic_t *stop) {
    for (;;) {
        if (session(w, stop) == 0) return 0;
        if (w->fatal) {
            ss_error(LOG, "%s", w->errstr);
            abort_parts(w);
            return -1;
        }
        w->attempt++;
        stat_add(w, &w->stats.failures, 1, w->m.failures);
        char err[sizeof w->errstr];
        snprintf(err, sizeof err, "%s", w->errstr);
        if (ss_ledger_run_failed(w->led, w->fail_run, err) != 0)
            ss_warn(LOG, "could not record the failed attempt in the ledger: %s", ss_ledger_errstr(w->led));
        w->fail_run = 0;
        abort_parts(w);
        drop_committed(w);
        reader_close(w); /* a read ahead's entries stay in our PEL for the next session */
        if (w->rc) {
            redisFree(w->rc);
            w->rc = NULL;
        }
        if (w->o.max_attempts > 0 && w->attempt >= w->o.max_attempts) {
            wfail(w, "giving up after %d failed attempts; last error: %s", w->attempt, err);
            ss_error(LOG, "%s", w->errstr);
            return -1;
        }
        w->rng = w->rng * 1103515245u + 12345u;
        double r = (double)((w->rng >> 8) & 0xffffff) / 16777216.0;
        int64_t delay = ss_writer_backoff_ms(w->attempt, w->o.retry_base_ms, w->o.retry_max_ms, r);
        ss_warn(LOG, "attempt %d failed: %s; retrying in %lld ms (nothing acknowledged)", w->attempt, err,
                (long long)delay);
        int64_t until = mono_ms() + delay;
        while (!*stop && mono_ms() < until) {
            int64_t left = until - mono_ms();
            sleep_ms(left < 100 ? left : 100);
            /* keep our heartbeat fresh while we wait, so nobody takes our work over */
            if (mono_ms() - w->last_hb_ms >= HEARTBEAT_MS) {
                if (!w->rc) {
                    char e2[256];
                    w->rc = w->o.connect(w->o.connect_ctx, e2, sizeof e2);
                }
                if (w->rc && heartbeat(w, 0) != 0) {
                    redisFree(w->rc);
                    w->rc = NULL;
                }
                w->last_hb_ms = mono_ms();
            }
        }
        if (*stop) {
            if (w->rc) heartbeat(w, 1);
            return 0;
        }
    }
}

static int mkdir_p(const char *path, mode_t mode) {
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp) return -1;
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(tmp, mode) != 0 && errno != EEXIST) return -1;
        *p = '/';
    }
    if (mkdir(tmp, mode) != 0 && errno != EEXIST) return -1;
    return 0;
}

ss_writer *ss_writer_new(const ss_writer_opts *o, char *err, size_t errlen) {
    if (!o->out || !*o->out || !o->data_dir || !*o->data_dir || !o->connect) {
        snprintf(err, errlen, "the writer needs an output directory, a data directory and a Redis connection");
        return NULL;
    }
    if (!ss_writer_window_len_valid(o->window_us)) {
        snprintf(err, errlen, "window must be a whole number of seconds that divides one hour (e.g. 1m, 5m, 15m, 1h)");
        return NULL;
    }
    if (o->grace_us < 0 || o->horizon_us < 0 || o->count < 1 || o->count > MAX_COUNT || o->memory_budget < (1u << 20)) {
        snprintf(err, errlen, "grace and horizon must be >= 0, count 1..%d, memory budget >= 1mb", MAX_COUNT);
        return NULL;
    }
    if (o->prefix && strlen(o->prefix) > SS_WRITER_MAX_PREFIX) {
        snprintf(err, errlen, "prefix longer than %d characters", SS_WRITER_MAX_PREFIX);
        return NULL;
    }
    if (o->shards > SS_SHARDS_MAX || o->shard < 0 || o->shard >= (o->shards > 1 ? o->shards : 1)) {
        snprintf(err, errlen, "shard %d of %d: want 0 <= shard < shards <= %d", o->shard, o->shards, SS_SHARDS_MAX);
        return NULL;
    }
    if (o->consumer && !ss_writer_valid_consumer(o->consumer)) {
        snprintf(err, errlen, "consumer name '%s' must be 1-%d characters of A-Z a-z 0-9 . _ - (not starting with . or -)",
                 o->consumer, SS_WRITER_MAX_CONSUMER);
        return NULL;
    }
    char cerr[256];
    if (ss_writer_crash_init(cerr, sizeof cerr) != 0) {
        snprintf(err, errlen, "%s", cerr);
        return NULL;
    }
    ss_writer *w = calloc(1, sizeof *w);
    if (!w) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    w->o = *o;
    w->lock_fd = -1;
    pthread_mutex_init(&w->mu, NULL);
    snprintf(w->out, sizeof w->out, "%s", o->out);
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
    w->rg_bytes = o->memory_budget / 32;
    if (w->rg_bytes > (16u << 20)) w->rg_bytes = 16u << 20;
    if (w->rg_bytes < (1u << 20)) w->rg_bytes = 1u << 20;
    w->rng = (unsigned)getpid() ^ (unsigned)wall_us();
    w->last_prune_ms = mono_ms();
    if (mkdir_p(o->data_dir, 0700) != 0 || mkdir_p(w->lock_dir, 0700) != 0) {
        snprintf(err, errlen, "cannot create %s: %s", w->lock_dir, strerror(errno));
        goto fail;
    }
    if (mkdir_p(w->out, 0755) != 0) {
        snprintf(err, errlen, "cannot create the output directory %s: %s", w->out, strerror(errno));
        goto fail;
    }
    /* One process per consumer name (waits briefly: a peer may hold it while reclaiming). */
    for (int i = 0; i < 100 && w->lock_fd < 0; i++) {
        w->lock_fd = try_lock_consumer(w, w->consumer);
        if (w->lock_fd < 0) sleep_ms(100);
    }
    if (w->lock_fd < 0) {
        snprintf(err, errlen, "another writer with consumer name '%s' is running (lock %s/%s.lock)", w->consumer,
                 w->lock_dir, w->consumer);
        goto fail;
    }
    w->led = ss_ledger_open(w->ledger_path, err, errlen);
    if (!w->led) goto fail;
    if (ss_ledger_id(w->led, w->ledger_id, sizeof w->ledger_id) != 0) {
        snprintf(err, errlen, "%s", ss_ledger_errstr(w->led));
        goto fail;
    }
    { /* [archive-id] the ledger belongs to one archive (archive_id.h) */
        char aid[SS_ARCHIVE_ID_MAX + 1], sfx[16];
        snprintf(sfx, sizeof sfx, ".s%d", o->shard);
        if (ss_archive_bind(w->led, w->ledger_path, w->ledger_id, w->out, aid, sizeof aid, err, errlen) != 0) goto fail;
        if (!(w->guard = ss_archive_guard_new(w->out, w->ledger_path, w->nshards > 1 ? sfx : NULL)))
            goto fail_oom;
    }
    if (ss_ledger_unfence(w->led, w->consumer) != 0) {
        snprintf(err, errlen, "%s", ss_ledger_errstr(w->led));
        goto fail;
    }
    w->flushed_end = ss_ledger_flushed_until_streams(w->led, led_type(w, 0), led_type(w, SS_TYPE__COUNT - 1));
    w->dec[0] = ss_decoder_new(NULL);
    w->dec[1] = ss_decoder_new(NULL);
    w->arena = ss_reply_arena_new();
    if (!w->dec[0] || !w->dec[1] || !w->arena) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    register_metrics(w);
    return w;
fail_oom: /* [archive-id] */
    snprintf(err, errlen, "out of memory");
fail:
    ss_writer_free(w);
    return NULL;
}

void ss_writer_free(ss_writer *w) {
    if (!w) return;
    abort_parts(w);
    drop_committed(w);
    reader_close(w);
    ss_reply_arena_free(w->arena);
    if (w->rc) redisFree(w->rc);
    if (w->led) ss_ledger_close(w->led);
    ss_archive_guard_free(w->guard); /* [archive-id] */
    for (int l = 0; l < 2; l++)
        if (w->dec[l]) ss_decoder_free(w->dec[l]);
    if (w->lock_fd >= 0) close(w->lock_fd);
    free(w->parts);
    free(w->b);
    pthread_mutex_destroy(&w->mu);
    free(w);
}
