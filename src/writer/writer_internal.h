/* Private to src/writer/: the DataWriter's shared state and the functions its files call in
 * each other. The engine is split along its seams (docs/design/writer.md, "The engine"):
 *   loop.c     the session, ss_writer_run (retries, backoff), dead-consumer policy, pruning,
 *              ss_writer_new/free;
 *   round.c    one read round: which streams to read, scanning entries, claiming their keys,
 *              placing them in parts, decoding and appending in two lanes;
 *   parts.c    part files: open/find/new/remove/abort, entry ids, memory estimate, budget spill;
 *   commit.c   the commit protocol: seal, publish, ledger commit, ack (and its crash points);
 *   consumer.c everything that talks to Redis, behind the interface of consumer.h.
 * One header rather than one per file because every file works on the same struct ss_writer;
 * names shared between files start with ss_wr_ so they cannot meet another module's. */
#ifndef SS_WRITER_WRITER_INTERNAL_H
#define SS_WRITER_WRITER_INTERNAL_H

#include <limits.h>
#include <pthread.h>
#include <stdint.h>

#include "archive/archive.h"
#include "buffer/shard.h"
#include "metrics/metrics.h"
#include "writer/consumer.h"
#include "writer/ids.h"
#include "writer/ledger.h"
#include "writer/window.h"
#include "writer/writer.h"

#define LOG "writer"
#define HEALTHY_MS 30000 /* a session this old without a failure ends a run of failed attempts */
#define MAX_OPEN_FILES 256      /* open part files at once; more are spilled */
#define HEARTBEAT_MS 1000
#define PRUNE_EVERY_MS 300000
#define MAX_COUNT 10000         /* XREADGROUP COUNT limit */

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
    uint64_t raw_open;  /* event bytes appended since the file's last row-group cut */
    uint64_t rg_seen;   /* the file's row groups when raw_open was last reset */
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

#define SS_WR_IO_CLASSES 15 /* errno classes of archive I/O errors (ioerr.c), EOTHER apart */

typedef struct {
    /* the committed-data counters carry a type label: one series per stream type */
    ss_metric *entries[SS_TYPE__COUNT], *rows[SS_TYPE__COUNT], *dups[SS_TYPE__COUNT], *late_rows[SS_TYPE__COUNT],
        *files[SS_TYPE__COUNT], *bytes[SS_TYPE__COUNT];
    /* so do the per-entry outcomes: which stream lost entries, or feeds the DLQ, is the question */
    ss_metric *recovered[SS_TYPE__COUNT], *reclaimed[SS_TYPE__COUNT], *dlq[SS_TYPE__COUNT], *lost[SS_TYPE__COUNT],
        *released[SS_TYPE__COUNT];
    ss_metric *failures, *claims_mem;
    ss_metric *open_parts, *mem, *wm_lag, *flush_s, *gaps;
    ss_metric *last_commit, *due_since; /* wall-clock seconds; due_since 0 while nothing due waits */
    ss_histogram *flush_hist;
    ss_histogram *ack_hist; /* the ack script's round trips (ss_wr_ack) */
    ss_metric *io_errors[SS_WR_IO_CLASSES + 1]; /* ioerr.c: per errno class, then EOTHER */
    ss_metric *io_error_since;
} wmetrics;

/* ioerr.c: the archive I/O error that persists (since 0: none), under the writer's mu */
typedef struct {
    char cls[16];
    char msg[1024];
    double since, last; /* wall-clock seconds of the first and the latest failed attempt */
    unsigned long long count;
} wio_error;

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
    ss_writer_consumer *c;        /* Redis (consumer.h): the core never sees a connection */
    int rd_pending;               /* a read was sent ahead and its reply not yet collected */
    int round_full;               /* the last round had a stream that filled its COUNT */
    int rd_idx[SS_TYPE__COUNT];   /* the streams it asked for, in order */
    int rd_n;
    int rd_once;                  /* it was sent in --once mode (a short read may end the stream) */
    ss_ledger *led;
    struct ss_archive_guard *guard; /* partition directories checked (archive_id.h) */
    ss_decoder *dec[2]; /* one per lane (apply_batch) */
    /* the second lane's thread, started on the first batch that needs it and kept (round.c):
     * job handed over and taken back under mu, signalled on cv */
    struct {
        pthread_t th;
        pthread_mutex_t mu;
        pthread_cond_t cv;
        void *job; /* a lane_job to run, NULL when idle (the job is done) */
        int state; /* 0 not started, 1 running, -1 could not start (lanes run inline) */
        int quit;
    } lane;
    wstream st[SS_TYPE__COUNT];
    part **parts;
    size_t nparts, capparts;
    bent *b;
    size_t nb, capb;
    int64_t flushed_end;
    int64_t max_event_t;
    int64_t last_hb_ms, last_reclaim_ms, last_prune_ms;
    int64_t last_persist_ms; /* persistence.c */
    int64_t last_gaps_ms;    /* gaps.c */
    /* Set by each reclaim pass: entries still pending with consumers that look alive but not
     * on this machine (no lock file here), and the one with the most of them. */
    long long others_pending;
    char others_name[SS_WRITER_MAX_CONSUMER + 1];
    long long others_hb_age_ms; /* -1: it has no heartbeat */
    int64_t pruned_at_t; /* max_event_t at the last prune */
    long long fail_run; /* run the current failure belongs to (0: none) */
    int fatal;
    int attempt;
    /* S3: out is the local staging dir; objects go to s3_bucket/s3_prefix/<rel> */
    int remote;
    char s3_url[PATH_MAX];
    char s3_bucket[SS_S3_MAX_BUCKET + 1];
    char s3_prefix[SS_S3_MAX_KEY / 2 + 1];
    ss_s3_config s3cfg;
    size_t s3_part_size;
    size_t rg_bytes;
    unsigned rng;
    pthread_mutex_t mu;
    ss_writer_stats stats;
    wmetrics m;
    int io_failed; /* this attempt's failure is an archive I/O error (ss_wr_io_fail) */
    int io_errno;  /* its errno, carried from the failed system call (0: none, class EOTHER) */
    wio_error io;
    char errstr[1024];
    ss_err_class err; /* errstr's class (util/err.h) */
};

/* loop.c */
int64_t ss_wr_wall_us(void);
int64_t ss_wr_wall_ms(void);
int64_t ss_wr_mono_ms(void);
/* Formats the error into w->errstr; returns -1. */
int ss_wr_fail(ss_writer *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int ss_wr_led_type(const ss_writer *w, int type);
void ss_wr_stat_add(ss_writer *w, uint64_t *field, uint64_t v, ss_metric *m);
/* The consumer's error (w->c->errstr) becomes the writer's; returns -1. */
int ss_wr_consumer_fail(ss_writer *w);

/* ioerr.c: the last archive I/O error, for /healthz and metrics (see there). */
/* As ss_wr_fail, and marks the failure as an archive I/O error with errno errnum, the failed
 * system call's (0: none made it, e.g. S3). */
int ss_wr_io_fail(ss_writer *w, int errnum, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* "ENOSPC", ...: errnum's name when it is one of the archive I/O classes, else "EOTHER".
 * By the errno only: no message is consulted. */
const char *ss_wr_io_class(int errnum);
void ss_wr_io_register_metrics(ss_writer *w);
/* After a failed attempt: records it when it was an I/O failure. */
void ss_wr_io_record(ss_writer *w);
/* After a successful commit: the error no longer persists. */
void ss_wr_io_clear(ss_writer *w);
/* An ss_health_check (metrics.h): 1 with the reason while an I/O error persists. */
int ss_wr_io_health(void *ctx, char *why, size_t whylen);

/* persistence.c: checks that Redis keeps what it acknowledges, now or when
 * SS_PERSIST_CHECK_MS have passed; a finding sets w->fatal. 0 or -1 (errstr). */
int ss_wr_check_persistence(ss_writer *w, int now);

/* gaps.c: moves the gap records waiting in Redis into the ledger (then deletes them from
 * Redis), now or when GAPS_EVERY_MS have passed. 0 or -1 (errstr). */
int ss_wr_commit_gaps(ss_writer *w, int now);

/* parts.c */
void ss_wr_update_gauges(ss_writer *w);
int ss_wr_unlink_uncommitted(const ss_writer *w, const char *rel);
void ss_wr_remove_part(ss_writer *w, part *p);
void ss_wr_abort_parts(ss_writer *w);
part *ss_wr_find_part(ss_writer *w, int type, int64_t win, int late);
part *ss_wr_new_part(ss_writer *w, int type, int64_t win, int late);
int ss_wr_part_add_id(part *p, ss_writer_id id);
int ss_wr_part_open_file(ss_writer *w, part *p, ss_writer_id first);
void ss_wr_part_remove_id(part *p, ss_writer_id id);
int ss_wr_enforce_budget(ss_writer *w);

/* round.c */
void ss_wr_drop_committed(ss_writer *w);
int ss_wr_scan_entries(ss_writer *w, int type, const ss_writer_entry *ents, size_t nents, int history, int *n_out,
                       int64_t *tmin, int64_t *tmax);
int ss_wr_claim_batch(ss_writer *w, size_t from);
void ss_wr_lane_stop(ss_writer *w);
int ss_wr_apply_batch(ss_writer *w, size_t from);
int ss_wr_read_round(ss_writer *w, int *got_any);

/* commit.c */
int ss_wr_flush_part(ss_writer *w, part *p, int kind);
int ss_wr_flush_cycle(ss_writer *w, int final, int all);
/* Acknowledges ids of stream `type` through the consumer. */
int ss_wr_ack(ss_writer *w, int type, const ss_writer_id *ids, size_t n);

/* remote.c: --out s3:// */
int ss_wr_remote_init(ss_writer *w, const ss_writer_opts *o, char *err, size_t errlen);
int ss_wr_remote_upload(const ss_writer *w, const char *rel, const char *sha256, int *fatal, char *err, size_t errlen);
int ss_wr_remote_remove(const ss_writer *w, const char *rel, char *err, size_t errlen);
void ss_wr_remote_unstage(const ss_writer *w, const char *rel);
void ss_wr_remote_sweep(ss_writer *w);

#endif
