/* The DataWriter: Redis Streams -> 5-minute windows -> hive-partitioned Parquet, exactly once.
 *
 *     ss_writer_opts o; ss_writer_opts_init(&o);
 *     o.out = "archive"; o.data_dir = "skyspool-data"; o.connect = ...; o.once = 1;
 *     ss_writer *w = ss_writer_new(&o, err, sizeof err);
 *     int rc = ss_writer_run(w, &stop);        // 0 done/stopped, -1 fatal (ss_writer_errstr)
 *     ss_writer_free(w);
 *
 * It reads the per-type streams through the consumer group "writers", streams each event
 * into the open part file of its (type, window) as it arrives (so memory is bounded by
 * the row-group buffers, not by the window's size), and when a window closes it finishes
 * the file (fsync, rename, directory fsync), records the commit in the run ledger, and
 * only then XACKs its entries and removes them from the stream. docs/design/writer-protocol.md has the protocol,
 * its crash points and the recovery argument. Any failure (full disk, permission,
 * Redis, ledger) drops the in-memory state, backs off with jitter, and re-enters the same
 * recovery path a restart takes; nothing is acknowledged before it is committed. */
#ifndef SS_WRITER_WRITER_H
#define SS_WRITER_WRITER_H

struct redisContext; /* hiredis: only writer/consumer.c talks to Redis */
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>

#include "util/err.h"
#include <stdint.h>

#include "event/event.h"
#include "objstore/s3.h"
#include "parquet/parquet.h"

#define SS_WRITER_GROUP "writers"
#define SS_WRITER_MAX_CONSUMER 64 /* characters of a consumer name */
#define SS_WRITER_MAX_PREFIX 128
/* Events dated more than this ahead of the wall clock go to the DLQ (reason time_in_future):
 * their window could not close, so they would hold back trimming for as long. Sources whose
 * time is skyspool's own receipt clock (firehose:) never produce them. */
#define SS_WRITER_MAX_FUTURE_US (3600LL * 1000000)

/* The writer's default memory budget, in MiB (config key memory-budget; cli/config.c and the
 * help texts take it from here). 96 MiB bounds a window's buffered rows well under a small
 * VM's memory while keeping row groups large (docs/design/writer.md, "Memory"). */
#define SS_WRITER_DEFAULT_MEMORY_BUDGET_MB 96

typedef struct {
    const char *out;      /* archive root (required) */
    const char *data_dir; /* ledger and consumer locks live here (required) */
    const char *ledger;   /* default DATA_DIR/ledger.sqlite */
    const char *prefix;   /* default "skyspool:" */
    const char *consumer; /* default "<host>-<pid>"; with shards > 1, ".s<shard>" is appended */
    /* Key-routed shards (buffer/shard.h): with shards > 1 the writer consumes only the streams
     * <prefix><type>:<shard>. Whatever the layout, the writer first claims its shard ("all"
     * when unsharded) for its ledger in Redis and refuses one another ledger owns, so a
     * shard's entries, commits and dedup claims all live in one ledger. */
    int shard;             /* 0..shards-1 */
    int shards;            /* 0 or 1: the unsharded streams <prefix><type> */
    int take_shard;        /* claim the shard even if another ledger owns it (that machine is gone) */
    /* A new Redis connection (called at start and after every failure); NULL + err and the
     * failure's class (util/err.h: auth and permission are fatal, io is retried). */
    struct redisContext *(*connect)(void *ctx, char *err, size_t errlen, ss_err_class *cls);
    void *connect_ctx;
    int64_t window_us;     /* default 5 min; must divide an hour */
    int64_t grace_us;      /* default 30 s */
    int64_t horizon_us;    /* dedup horizon, default 1 h */
    int64_t claim_idle_ms; /* a consumer silent this long is dead; default 60 s */
    int64_t retry_base_ms; /* default 200 */
    int64_t retry_max_ms;  /* backoff cap, default 5 min */
    int max_attempts;      /* give up after this many failed attempts in a row; 0 = never */
    size_t memory_budget;  /* default SS_WRITER_DEFAULT_MEMORY_BUDGET_MB MiB */
    int count;             /* XREADGROUP COUNT per stream, default 1000 */
    int block_ms;          /* daemon: XREADGROUP BLOCK when idle, default 1000 */
    int linger_ms;         /* daemon: after a round that read every stream dry, wait this long
                            * before the next read, so a trickle is read in rounds of many
                            * entries, default 500 (0: read again at once; never while draining) */
    ss_pq_codec codec;     /* default zstd */
    int zstd_level;        /* default SS_AR_DEFAULT_ZSTD_LEVEL (archive/archive.h) */
    int once;              /* process what is buffered, close due windows, exit */
    int all;               /* with once: close the open windows too */
    /* When non-NULL and it becomes non-zero (the source has really ended: a file, a finite
     * synth), a daemon switches to once + all: it drains what is buffered, closes every
     * window and returns. Set by another thread, hence atomic. A stop is not an end: on
     * *stop a daemon closes only what is due anyway and leaves open windows pending. */
    atomic_int *drain;
    /* Called after each commit (for progress lines); optional, may be NULL. */
    void (*on_commit)(void *ctx, const char *path, uint64_t rows);
    void *on_commit_ctx;
    /* S3 (docs/design/s3.md): when s3 is non-NULL, out is "s3://BUCKET[/PREFIX]",
     * part files are staged under DATA_DIR/s3-staging and each is uploaded to
     * PREFIX/<partition>/<name>.parquet before its commit. s3 (and its strings) must outlive
     * the writer; s3_part_size is the multipart threshold and part size (0: 16 MiB). */
    const ss_s3_config *s3;
    size_t s3_part_size;
} ss_writer_opts;

void ss_writer_opts_init(ss_writer_opts *o);

typedef struct {
    uint64_t entries;    /* stream entries consumed (read and later committed or acked) */
    uint64_t rows;       /* rows committed */
    uint64_t dups;       /* duplicates skipped */
    uint64_t late_rows;  /* rows committed in late part files */
    uint64_t files, bytes, commits;
    uint64_t recovered;  /* pending entries found already committed and acked on recovery */
    uint64_t reclaimed;  /* entries taken over from dead consumers */
    uint64_t dlq;        /* entries moved to the DLQ (undecodable) */
    uint64_t failures;   /* failed attempts (each followed by backoff) */
    uint64_t released;   /* dedup claims released because Redis lost their entries */
    uint64_t lost;       /* pending entries found deleted from their stream and not committed */
    uint64_t gaps;       /* gap records committed to the ledger (buffer/gaps.h; duplicates not counted) */
    uint64_t open_parts;
    uint64_t mem_estimate;
    int64_t watermark_us;
    char consumer[SS_WRITER_MAX_CONSUMER + 1];
} ss_writer_stats;

typedef struct ss_writer ss_writer;

ss_writer *ss_writer_new(const ss_writer_opts *o, char *err, size_t errlen);
/* Runs until *stop (then closes what is due, leaves the rest pending in Redis), or, with
 * once, until the buffered entries are processed. Returns 0, or -1 on a fatal error. */
int ss_writer_run(ss_writer *w, volatile sig_atomic_t *stop);
void ss_writer_get_stats(ss_writer *w, ss_writer_stats *out); /* any thread */
const char *ss_writer_errstr(const ss_writer *w);
/* Its class (util/err.h): fenced, auth, permission (Redis's ACL), io, ... */
ss_err_class ss_writer_errclass(const ss_writer *w);
void ss_writer_free(ss_writer *w);

/* "<host>-<pid>" reduced to [A-Za-z0-9._-]. */
void ss_writer_default_consumer(char *out, size_t outlen);
/* 1 when name is a usable consumer name (1..64 of [A-Za-z0-9._-], not starting with '.' or '-'). */
int ss_writer_valid_consumer(const char *name);

#endif
