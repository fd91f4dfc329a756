/* The ingester: source -> Redis Streams, never losing an event.
 *
 *     ss_ingest_opts o; ss_ingest_opts_init(&o);  o.prefix = "skyspool:";
 *     ss_ingest *ing = ss_ingest_new(&o, target);            // target: buffer/target.h
 *     int rc = ss_ingest_run(ing, source, &stop_flag);       // until END, *stop, or fatal error
 *     if (rc != 0) fprintf(stderr, "%s\n", ss_ingest_errstr(ing));
 *     ss_ingest_stats st; ss_ingest_get_stats(ing, &st);    // any thread, any time
 *     ss_ingest_free(ing);
 *
 * What it writes (prefix P, default "skyspool:"):
 *   P<type>            one stream per type (post like repost follow block identity account,
 *                      and other with keep_other): XADD P<type> * <meta> <event bytes>, one
 *                      pair: meta = "<dedup key, 32 hex> <time_us>" (ss_event_meta_format)
 *   P<type>:<s>        instead, with shards = M > 1: shard s = ss_shard_of(dedup key, M) (shard.h)
 *   Pdlq               rejected input: XADD Pdlq * reason R detail D raw <bytes, capped 64 KiB>
 *                      source <source id> cursor <cursor>
 *   Pgaps              a gap a source reported (source.h, SS_SOURCE_GAP): XADD Pgaps * source S
 *                      reason R unit U from F to T detected_us D detail X cursor C, in source
 *                      order and confirmed like every entry before the cursor passes it; the
 *                      writer moves them into its ledger (ss_gap_record in buffer/gaps.h)
 *   Pcursor:<src id>   hash: cursor, updated_us, name (offset | time_us | seq | index),
 *                      fingerprint (the source's content fingerprint, "" if none: a file:
 *                      cursor is used again only for the same content, source.h)
 *   Pingest            hash: state, paused, pause_reason, pauses_total, events_total, dlq_total,
 *                      other_total, reconnects_total, heartbeat_us, source, cursor, newest_us
 *                      (newest event time_us ever ingested, kept across runs), and shards
 *                      (the M the buffer is ingested with; another M is refused unless reshard)
 *
 * Guarantees:
 *   - Every stream (each type, and the DLQ) receives its entries in source order: data goes
 *     over `connections` connections, and each stream is pinned to one of them.
 *   - A cursor is written only after Redis confirmed every entry before it (on every
 *     connection), so whichever cursor survives a crash, the data it covers survived.
 *   - On start and after every reconnect (an error on any connection reconnects all of them),
 *     reading resumes at stored cursor - resume_margin, if the source accepts it for its
 *     content (ss_source_resume: file: refuses an offset into other content and starts over).
 *     A source that cannot seek (stdin) gets its unconfirmed entries re-sent from memory.
 *   - Redis must run with maxmemory-policy noeviction and its AOF on (buffer/persist.h), checked
 *     at connect and every SS_PERSIST_CHECK_MS while running; either finding is fatal
 *     (allow_eviction, allow_no_aof turn it into a warning). A failed AOF write is logged.
 *   - After a reconnect, every stream's last-generated-id is compared with the last id Redis
 *     gave our XADDs: a Redis that restarted without some confirmed entries is reported
 *     with their number (stats.lost). A source that can rewind re-reads them; one that
 *     cannot (stdin) goes on with the rest and then fails (-1): those events are lost.
 *     Above the high watermark, or on an OOM reply, reading pauses until used_memory falls
 *     below the low watermark; refused entries are re-sent. Nothing is dropped.
 *   - Bad input goes to the DLQ with its reason and is counted; ingest goes on.
 * Duplicates from rewinds are expected and removed downstream by the dedup key in the meta. */
#ifndef SS_BUFFER_INGEST_H
#define SS_BUFFER_INGEST_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "buffer/target.h"
#include "event/event.h"
#include "source/source.h"

#define SS_INGEST_DLQ_RAW_MAX 65536 /* bytes of a rejected input kept in the DLQ */
#define SS_INGEST_MAX_REASONS 16    /* distinct DLQ reasons counted separately */
#define SS_INGEST_MAX_CONNECTIONS 16 /* upper bound of ss_ingest_opts.connections */

typedef struct {
    const char *prefix;          /* default "skyspool:" */
    int keep_other;              /* keep other collections as type "other" */
    double high_watermark;       /* pause above this share of maxmemory; default 0.8 */
    double low_watermark;        /* resume below this share; default 0.6 */
    size_t max_event_bytes;      /* larger events go to the DLQ as too_large; default 2 MiB */
    int batch_events;            /* entries per pipelined batch; default 1024 */
    int batches_in_flight;       /* unanswered batches before waiting; default 8 */
    int connections;             /* Redis connections for data, 1..16; default 3. Each stream
                                    is pinned to one, so per-stream order is the source's */
    int allow_eviction;          /* run even if maxmemory-policy is not noeviction (warn) */
    int allow_no_aof;            /* run even if Redis has no AOF (appendonly no; warn) */
    int ignore_cursor;           /* start from the source's beginning, not the stored cursor */
    int memory_check_ms;         /* INFO memory at least this often while sending (also every
                                  * 1/64 of maxmemory sent); default 1000; paused: every 100 */
    int state_interval_ms;       /* Pingest heartbeat; default 1000 */
    int flush_ms;                /* send a partial batch after this long; default 200 */
    int reconnect_max_ms;        /* backoff cap; default 5000 */
    int initial_wait_ms;         /* give up if the very first connection fails this long; 30000 */
    long long max_events;        /* stop after this many source messages; 0 = no limit */
    int shards;                  /* streams per type, key-routed (buffer/shard.h); default 1 */
    int reshard;                 /* start even if Pingest records another number of shards */
    int64_t horizon_us;          /* with ignore_cursor: the writers' dedup horizon, default 1 h.
                                    Re-sent events older than the newest event time the buffer
                                    has seen (Pingest newest_us; now if none) minus this are
                                    warned about and counted (they may be written twice); 0 = no check */
} ss_ingest_opts;

void ss_ingest_opts_init(ss_ingest_opts *o);

typedef struct {
    uint64_t read;                       /* messages taken from the source */
    uint64_t written;                    /* entries Redis confirmed, all types */
    uint64_t by_type[SS_TYPE__COUNT];    /* confirmed, per stream */
    uint64_t dlq;                        /* confirmed DLQ entries */
    uint64_t other_skipped;              /* other collections not kept */
    uint64_t bytes;                      /* event bytes confirmed */
    uint64_t pauses;                     /* backpressure pauses */
    uint64_t oom_replies;                /* entries refused with OOM (and re-sent) */
    uint64_t reconnects;
    uint64_t resent;                     /* entries re-sent after OOM or reconnect */
    uint64_t rewinds;                    /* seeks back to the stored cursor after reconnect */
    uint64_t past_horizon;               /* --from-start: events re-sent from before the dedup horizon */
    uint64_t lost;                       /* confirmed entries a restarted Redis came back without (at most) */
    uint64_t gaps;                       /* gap records Redis confirmed (Pgaps) */
    uint64_t signatures[4];              /* the source's signature counts, by ss_ingest_sig_results */
    int paused;                          /* 1 while paused */
    int has_cursor;
    int64_t cursor;                      /* last confirmed cursor */
    int nreasons;
    char reason[SS_INGEST_MAX_REASONS][32];
    uint64_t reason_count[SS_INGEST_MAX_REASONS];
} ss_ingest_stats;

/* The result label of each ss_ingest_stats.signatures[] count: verified, bad, no_key, resolve_failed. */
extern const char *const ss_ingest_sig_results[4];

typedef struct ss_ingest ss_ingest;

/* The target must outlive the ingester. Returns NULL only when out of memory. */
ss_ingest *ss_ingest_new(const ss_ingest_opts *o, ss_redis_target *target);
/* Runs until the source ends (0), *stop becomes non-zero (0, after flushing what was read
 * and storing the cursor), or a fatal error (-1, see ss_ingest_errstr): wrong eviction
 * policy or no AOF (also when it changes while running), confirmed events lost by Redis
 * that the source cannot re-read (after reading the source to its end), bad credentials, Redis unreachable for initial_wait_ms at start, a key of the wrong
 * type, a source error. Outages after a first connection are not fatal: it reconnects with
 * backoff until *stop. The caller should ignore SIGPIPE. */
int ss_ingest_run(ss_ingest *ing, ss_source *src, volatile sig_atomic_t *stop);
void ss_ingest_get_stats(ss_ingest *ing, ss_ingest_stats *out);
const char *ss_ingest_errstr(const ss_ingest *ing);
/* The class of that error (util/err.h): auth, permission (Redis's ACL), the source's, io. */
ss_err_class ss_ingest_errclass(const ss_ingest *ing);
void ss_ingest_free(ss_ingest *ing);

/* Key names, for readers (writer, status, tests). Return the length written. */
int ss_ingest_stream_key(const char *prefix, ss_type t, char *out, size_t outlen);
int ss_ingest_cursor_key(const char *prefix, const char *source_id, char *out, size_t outlen);

#endif
