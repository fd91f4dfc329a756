/* The run ledger: a SQLite database in the data dir that is the writer's durable memory.
 *
 * It holds what the exactly-once protocol needs to decide, after any crash, what is
 * already in the archive, plus the run history `skyspool runs` shows:
 *
 *   runs      one row per flush of (window, type) by one writer: rows, files, bytes,
 *             duration, attempts, status, last error
 *   attempts  every failed attempt of a run, with its error
 *   intents   part files that may exist on disk but are not committed yet (written *before*
 *             the file is created, so a crash never leaves a file the ledger does not know)
 *   commits   one row per committed part file: window, type, path, entry-id range, rows,
 *             duplicates skipped, checksum, and the exact entry ids as a delta-varint blob
 *   claim_batches the dedup horizon: key -> owner entry; the first entry seen with a key
 *             owns it. One row per claims transaction (the round's new claims packed in a
 *             blob, claimlog.h, with their newest event time for pruning); append-only on
 *             disk, served from memory (claimset.h)
 *   window_closes (stream, window) pairs whose window closed: entries of it read later are late
 *   fenced    consumers declared dead by another writer, which then took over their entries;
 *             a fenced consumer can no longer commit
 *   meta      ledger_id: this ledger's identity, for the shard owners recorded in Redis;
 *             archive_id, archive_root: the archive this ledger writes (writer/archive_id.h)
 *             claims_gen: bumped when claims are released (every writer then reloads);
 *             redis_run_id: the Redis server last seen (a change is logged as a restart)
 *   redis_losses every detected loss of delivered entries in Redis, with the claims released
 *   gaps      every gap record a source reported (buffer/gaps.h), moved here from Redis by
 *             the writer: keyed by its Redis entry id, so it is recorded once however often
 *             the move is retried
 *
 * WAL mode, so readers (`skyspool runs`) never block writers and several writers on one
 * machine share one ledger (busy_timeout serializes their short write transactions). Commit
 * transactions run with synchronous=FULL: once ss_ledger_commit() returns, the commit
 * survives power loss. Claim transactions run with synchronous=NORMAL: a claim lost in a
 * crash is harmless (its owner entry is still pending and claims again), and every later
 * FULL commit makes earlier claims durable too, since the WAL is sequential.
 *
 * The schema carries a version (PRAGMA user_version, 2 since claims moved to batches); a
 * ledger written before versioning is migrated when opened for writing, a newer one refused. */
#ifndef SS_WRITER_LEDGER_H
#define SS_WRITER_LEDGER_H

#include <stddef.h>
#include <stdint.h>

#include "buffer/gaps.h"
#include "writer/ids.h"

#define SS_LEDGER_FILE "ledger.sqlite"
#define SS_LEDGER_BUSY_MS 30000

typedef struct ss_ledger ss_ledger;

/* Opens (creating if needed) the ledger at path. NULL + err on failure. */
ss_ledger *ss_ledger_open(const char *path, char *err, size_t errlen);
/* Opens read-only for `skyspool runs`; fails if it does not exist. */
ss_ledger *ss_ledger_open_readonly(const char *path, char *err, size_t errlen);
void ss_ledger_close(ss_ledger *l);
const char *ss_ledger_errstr(const ss_ledger *l);

/* ---- dedup claims -------------------------------------------------------------------- */
/* Claims are made in batches: begin (takes the write lock and loads the claims other
 * writers made since), claim each entry, end (stores the new claims as one row and commits;
 * call it after a failed claim too). */
int ss_ledger_claims_begin(ss_ledger *l);
/* Claims key for the entry (stream type, id) with event time t_us. Sets *owner to 1 when
 * the entry claimed the key now, 2 when it had claimed it before (a redelivery), 0 when
 * another entry owns the key. */
int ss_ledger_claim(ss_ledger *l, const uint8_t key[16], int type, ss_writer_id id, int64_t t_us, int *owner);
int ss_ledger_claims_end(ss_ledger *l);
/* Starts loading what claiming key will read (claimset.h): call it a few keys ahead. */
void ss_ledger_claim_prefetch(const ss_ledger *l, const uint8_t key[16]);
/* Memory held by the in-memory claim set. */
size_t ss_ledger_claims_bytes(const ss_ledger *l);
/* Sizes the in-memory claim set's time unit for the dedup horizon (claimset.h; default
 * 1 h). Call it before the first claims_begin: a change reloads the set. */
void ss_ledger_set_horizon(ss_ledger *l, int64_t horizon_us);
/* Drops claims of event time before claims_before_us rounded down to the minute: from
 * memory (claimset.h; it may keep some longer), and from the ledger the batches whose
 * newest claim is older; also the id blobs of commits whose newest event is older than
 * ids_before_us. Returns the number of claims dropped from the ledger, or -1. */
long long ss_ledger_prune(ss_ledger *l, int64_t claims_before_us, int64_t ids_before_us);
/* Bounds the id-blob pruning of stream number type: blobs of commits whose last id is at or
 * after floor_ms (the stream's oldest pending entry in Redis) are kept whatever their event
 * time, since recovery needs them to recognise committed entries still pending (a writer that
 * crashed between commit and ack, taken over after event time had moved on). Once any floor is
 * set, ss_ledger_prune drops only the blobs of streams with a floor. */
void ss_ledger_prune_floor(ss_ledger *l, int type, uint64_t floor_ms);

/* The highest owner entry id of stream number type among the claims held (reading the claims
 * other writers made first). Returns 1 and sets *out, 0 when the stream has no claim, -1. */
int ss_ledger_claims_max(ss_ledger *l, int type, ss_writer_id *out);
/* Redis lost entries of a stream that were delivered after `after` (its group's last
 * delivered id now): their claims name entries that no longer exist, and a re-sent copy of
 * such an event would be dropped as a duplicate of a row that was never written. One FULL
 * transaction removes, for every listed stream, each claim whose owner id is above `after`
 * and in no commit (a committed owner's row is safe: later copies stay duplicates). Owners
 * still in the stream but undelivered claim again when they are read. Every writer of this
 * ledger reloads its claims at its next round. rel ends with type -1; each element's
 * released is set. Returns the total released, or -1. */
typedef struct {
    int type;           /* stream number */
    ss_writer_id after; /* the group's last delivered id */
    long long released; /* out */
} ss_ledger_release;
long long ss_ledger_release_claims(ss_ledger *l, ss_ledger_release *rel);
/* Records gap records (table gaps) in one FULL transaction: once it returns 0 they survive
 * power loss. Records whose stream id is there already are skipped; *inserted counts the
 * new ones. */
int ss_ledger_gaps_add(ss_ledger *l, const ss_gap_record *g, size_t n, size_t *inserted);
/* Visits every recorded gap, oldest detection first (none for a ledger from before gap
 * records). 0, or -1 (errstr). */
int ss_ledger_gaps(ss_ledger *l, void (*fn)(void *ctx, const ss_gap_record *g, int64_t committed_us), void *ctx);

/* Records a detected Redis data loss (table redis_losses). */
int ss_ledger_record_loss(ss_ledger *l, const char *stream, const char *last_delivered, const char *max_claimed,
                          long long released, const char *redis_run_id);

/* ---- runs and attempts ------------------------------------------------------------------ */
/* Finds the unfinished run of (window, type, consumer, late) or starts one. Returns its id
 * (> 0), or -1. */
long long ss_ledger_run_open(ss_ledger *l, int64_t window_start_us, int64_t window_us, int type,
                             const char *type_name, const char *consumer, int late);
/* Records a failed attempt of a run (run_id may be 0 for failures outside any run, such as
 * a Redis error while reading); bumps the run's attempt count and sets its status to
 * "retrying" with the error. */
int ss_ledger_run_failed(ss_ledger *l, long long run_id, const char *error);
/* Groups the calls up to ss_ledger_batch_end() into one transaction (full: synchronous=FULL,
 * so everything written before, at NORMAL, becomes durable with it too). Returns 0 or -1. */
int ss_ledger_batch_begin(ss_ledger *l, int full);
/* Commits the batch, or rolls it back when abandon is set or any call in it failed
 * (then returns -1). */
int ss_ledger_batch_end(ss_ledger *l, int abandon);
/* Writes one small row (meta durable_us) so that the FULL transaction it runs in, or joins,
 * really writes and syncs the WAL: a transaction that changes nothing is not synced by
 * SQLite, and then the intents recorded before it (at NORMAL) would not be durable when
 * the writer renames their files into place (tests/integration/write_powerloss.sh). */
int ss_ledger_durable_mark(ss_ledger *l);
/* Marks a run finished ("ok"), adding its duration. */
int ss_ledger_run_done(ss_ledger *l, long long run_id, int64_t duration_ms);

/* ---- intents, commits, fencing ---------------------------------------------------------- */
/* Records that path (relative to the archive root) is about to be written by consumer.
 * Not fsynced by itself (NORMAL): the writer makes it durable with the FULL transaction it
 * runs before renaming any file into place (see ss_ledger_batch_begin). */
int ss_ledger_intent(ss_ledger *l, const char *path, const char *consumer);
/* Visits consumer's intents (files that may exist uncommitted). */
int ss_ledger_intents(ss_ledger *l, const char *consumer, void (*fn)(void *ctx, const char *path), void *ctx);
/* 1 when some consumer's intent names path, 0 when none does, -1 on error. */
int ss_ledger_intent_exists(ss_ledger *l, const char *path);
/* Removes an intent; returns 1 when it was there, 0 when not, -1 on error. */
int ss_ledger_intent_drop(ss_ledger *l, const char *path);

typedef struct {
    long long run_id;
    int64_t window_start_us;
    int type;
    const char *type_name;
    const char *consumer;
    const char *path;        /* relative to the archive root; NULL when no row was written */
    const ss_writer_id *ids; /* every entry the commit covers (written and duplicates), sorted */
    size_t nids;
    uint64_t rows, dups, bytes;
    int late;
    const char *sha256;
    int64_t max_time_us; /* newest event time in the commit, for pruning */
    int64_t duration_ms; /* added to the run's duration; the run becomes "ok" */
    int closes_window;   /* the window closed with this commit (not a spill, not late) */
    int64_t window_us;   /* with closes_window: the window's length */
} ss_ledger_commit_rec;

enum { SS_LEDGER_OK = 0, SS_LEDGER_ERR = -1, SS_LEDGER_FENCED = -2 };
/* Records a commit in one FULL transaction: checks that the consumer is not fenced and
 * that the file's intent is still there (else SS_LEDGER_FENCED: another writer took over;
 * nothing is recorded), removes the intent, inserts the commit, adds to the run's totals. */
int ss_ledger_commit(ss_ledger *l, const ss_ledger_commit_rec *c);

/* Declares consumer dead (it can no longer commit). Idempotent. */
int ss_ledger_fence(ss_ledger *l, const char *consumer);
/* Lifts a fence, for a new process that takes over a fixed consumer name. */
int ss_ledger_unfence(ss_ledger *l, const char *consumer);
/* 1 fenced, 0 not, -1 error. */
int ss_ledger_is_fenced(ss_ledger *l, const char *consumer);
/* This ledger's id ("<host>-<16 hex>"), created at the first call and kept in the table meta:
 * Redis records which ledger owns a shard (buffer/shard.h), and the id moves with the file. */
int ss_ledger_id(ss_ledger *l, char *out, size_t outlen);

/* Loads the ids of every commit of stream type whose id range may hold ids in
 * [min_ms, max_ms], sorted and unique, into *ids (malloc'd; caller frees). */
int ss_ledger_committed_ids(ss_ledger *l, int type, uint64_t min_ms, uint64_t max_ms, ss_writer_id **ids,
                            size_t *n);

/* Highest window end (start + len) of any non-late commit: windows up to it were flushed. */
int64_t ss_ledger_flushed_until(ss_ledger *l);
/* The same over the streams numbered type_lo..type_hi only (one shard's, when a ledger holds
 * several: another shard's progress says nothing about which of ours are late). */
int64_t ss_ledger_flushed_until_streams(ss_ledger *l, int type_lo, int type_hi);

/* ---- history ------------------------------------------------------------------------------ */
typedef struct {
    long long id;
    int64_t started_us, window_start_us, window_us;
    char type[16];
    char consumer[128];
    int late;
    char status[16];
    uint64_t rows, dups, entries, files, bytes;
    int64_t duration_ms;
    int attempts;
    char error[512];
} ss_ledger_run_row;

/* Visits the last n runs (0 = all), oldest first. */
int ss_ledger_runs(ss_ledger *l, int last, void (*fn)(void *ctx, const ss_ledger_run_row *r), void *ctx);

/* A failed attempt (table attempts), with the run it belongs to if any. */
typedef struct {
    int64_t at_us;            /* wall clock */
    long long run_id;         /* 0: outside any run (e.g. Redis unreachable) */
    int64_t window_start_us;  /* of its run (0 without one) */
    char type[16];
    char error[512];
} ss_ledger_attempt_row;
/* Visits the last n failed attempts (0 = all), oldest first. */
int ss_ledger_attempts(ss_ledger *l, int last, void (*fn)(void *ctx, const ss_ledger_attempt_row *a), void *ctx);

typedef struct {
    uint64_t commits, rows, dups, entries, bytes, files, late_rows;
} ss_ledger_totals;
int ss_ledger_totals_get(ss_ledger *l, ss_ledger_totals *t);

/* ---- the archive this ledger writes, and its files ------------------------------------------ */
/* A value of the meta table: 1 found (copied to out), 0 absent, -1 error. */
int ss_ledger_meta_get(ss_ledger *l, const char *key, char *out, size_t outlen);
/* Sets a meta value in one FULL transaction; without replace an existing value is kept. */
int ss_ledger_meta_set(ss_ledger *l, const char *key, const char *value, int replace);

/* One committed part file, as the ledger recorded it. */
typedef struct {
    const char *path; /* relative to the archive root */
    uint64_t rows, bytes;
    const char *sha256; /* of the whole file as written (archive/file.c); NULL if not computed */
    int64_t window_start_us;
    const char *type;
} ss_ledger_file;
/* Visits every committed file, ordered by path; fn returns non-zero to stop (then 1 is
 * returned). 0 done, -1 error. */
int ss_ledger_files(ss_ledger *l, int (*fn)(void *ctx, const ss_ledger_file *f), void *ctx);
/* Number of committed files and, when last_path is given, the path of the newest one. */
int ss_ledger_files_count(ss_ledger *l, uint64_t *n, char *last_path, size_t last_len);
/* Visits the paths under dir (relative to the archive root, no trailing slash) that the
 * ledger knows: committed files and intents (files that may exist uncommitted). */
int ss_ledger_known_under(ss_ledger *l, const char *dir, void (*fn)(void *ctx, const char *path), void *ctx);

/* Rewrites every path of the commits and intents tables through fn (which writes the new
 * path to out and returns 1, or returns 0 to keep the path), in one transaction, for
 * `skyspool migrate`. *changed counts the rewritten rows. 0, or -1 (errstr). */
#define SS_LEDGER_PATH_MAX 4096
int ss_ledger_rewrite_paths(ss_ledger *l, int (*fn)(const char *in, char *out, size_t outlen), uint64_t *changed);

#endif
