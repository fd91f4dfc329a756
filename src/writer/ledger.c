/* The run ledger on SQLite; see ledger.h for the tables and the durability argument.
 *
 * Nothing is written per entry: a round's claims are packed into one blob (claimlog.h) and
 * stored as one row when the round ends. The statements of that per-round transaction (and
 * BEGIN/COMMIT) are prepared once and kept (hot[]): at the live rate parsing them again every
 * round was most of the ledger's CPU. Everything else runs once per file or per run, so its
 * statements are prepared on use. Every write transaction is BEGIN IMMEDIATE, so a
 * writer waits (busy_timeout) for the write lock up front instead of failing half-way with
 * SQLITE_BUSY when another writer process commits.
 *
 * Schema versions (PRAGMA user_version): 0 = before versioning, claims one row each in
 * claim_log; 2 = claims in claim_batches. Opening a version-0 ledger migrates it (its
 * claims repacked into batches, claim_log dropped) in one transaction; a newer version is
 * refused. */
#include "writer/ledger.h"

#include "writer/claimlog.h"
#include "writer/claimset.h"
#include "util/clock.h"

#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

/* The statements every round runs (claims_begin/_end), kept prepared. */
enum { HOT_BEGIN, HOT_COMMIT, HOT_META, HOT_CLAIMS_SINCE, HOT_INSERT_BATCH, HOT__COUNT };
static const char *const k_hot_sql[HOT__COUNT] = {
    [HOT_BEGIN] = "BEGIN IMMEDIATE",
    [HOT_COMMIT] = "COMMIT",
    [HOT_META] = "SELECT value FROM meta WHERE key=?",
    [HOT_CLAIMS_SINCE] = "SELECT seq, n, recs FROM claim_batches WHERE seq > ? ORDER BY seq",
    [HOT_INSERT_BATCH] = "INSERT INTO claim_batches(max_t, n, recs) VALUES(?,?,?)",
};

struct ss_ledger {
    sqlite3 *db;
    ss_writer_claimset cs; /* the claims, in memory (see claimset.h) */
    int cs_valid;          /* 0: reload everything at the next claims_begin */
    long long last_seq;    /* highest claim_batches row already in cs */
    ss_buf pend;           /* this round's new claims, packed (claimlog.h) */
    ss_claimlog_enc enc;
    size_t npend;
    int64_t pend_max_t;
    /* Highest owner entry id among the claims in cs, per stream number: a Redis whose group
     * has delivered less than this has lost entries the ledger saw (ss_ledger_claims_max). */
    ss_writer_id maxid[256];
    uint8_t has_maxid[256];
    long long gen;  /* meta claims_gen when cs was loaded: a release elsewhere forces a reload */
    /* ss_ledger_prune_floor: per stream number, the lowest entry id ms Redis may still hold
     * pending; a commit's id blob is kept while any of its ids may be pending */
    uint64_t floor_ms[256];
    uint8_t has_floor[256];
    int sync_full; /* current PRAGMA synchronous */
    sqlite3_stmt *hot[HOT__COUNT]; /* the per-round statements, prepared on first use (hot_prep) */
    int batch, batch_failed;
    char errstr[512];
};

static const char g_schema[] =
    "CREATE TABLE IF NOT EXISTS runs("
    "  id INTEGER PRIMARY KEY, started_us INTEGER NOT NULL, window_start_us INTEGER NOT NULL,"
    "  window_us INTEGER NOT NULL, type_id INTEGER NOT NULL, type TEXT NOT NULL, consumer TEXT NOT NULL,"
    "  late INTEGER NOT NULL DEFAULT 0, status TEXT NOT NULL DEFAULT 'running',"
    "  rows INTEGER NOT NULL DEFAULT 0, dups INTEGER NOT NULL DEFAULT 0, entries INTEGER NOT NULL DEFAULT 0,"
    "  files INTEGER NOT NULL DEFAULT 0, bytes INTEGER NOT NULL DEFAULT 0,"
    "  duration_ms INTEGER NOT NULL DEFAULT 0, attempts INTEGER NOT NULL DEFAULT 1, error TEXT);"
    "CREATE INDEX IF NOT EXISTS runs_open ON runs(window_start_us, type_id, consumer, late, status);"
    "CREATE TABLE IF NOT EXISTS attempts(run_id INTEGER, at_us INTEGER NOT NULL, error TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS intents(path TEXT PRIMARY KEY, consumer TEXT NOT NULL, created_us INTEGER);"
    "CREATE TABLE IF NOT EXISTS commits("
    "  id INTEGER PRIMARY KEY, run_id INTEGER, committed_us INTEGER NOT NULL, window_start_us INTEGER NOT NULL,"
    "  type_id INTEGER NOT NULL, type TEXT NOT NULL, consumer TEXT NOT NULL, path TEXT,"
    "  first_id TEXT, last_id TEXT, first_ms INTEGER, last_ms INTEGER, entries INTEGER NOT NULL,"
    "  rows INTEGER NOT NULL, dups INTEGER NOT NULL, bytes INTEGER NOT NULL, late INTEGER NOT NULL,"
    "  sha256 TEXT, max_time_us INTEGER, ids BLOB);"
    "CREATE INDEX IF NOT EXISTS commits_range ON commits(type_id, last_ms);"
    "CREATE INDEX IF NOT EXISTS commits_path ON commits(path);"
    "CREATE TABLE IF NOT EXISTS fenced(consumer TEXT PRIMARY KEY, at_us INTEGER);"
    "CREATE TABLE IF NOT EXISTS claim_batches(seq INTEGER PRIMARY KEY AUTOINCREMENT, max_t INTEGER NOT NULL,"
    "  n INTEGER NOT NULL, recs BLOB NOT NULL);"
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS window_closes(type_id INTEGER NOT NULL, window_start_us INTEGER NOT NULL,"
    "  window_end_us INTEGER NOT NULL, closed_us INTEGER NOT NULL, PRIMARY KEY(type_id, window_start_us));"
    "CREATE TABLE IF NOT EXISTS redis_losses(at_us INTEGER NOT NULL, stream TEXT NOT NULL,"
    "  last_delivered TEXT NOT NULL, max_claimed TEXT NOT NULL, released INTEGER NOT NULL, redis_run_id TEXT);"
    "CREATE TABLE IF NOT EXISTS gaps(stream_id TEXT PRIMARY KEY, source TEXT NOT NULL, reason TEXT NOT NULL,"
    "  unit TEXT NOT NULL, from_pos INTEGER NOT NULL, to_pos INTEGER NOT NULL, detected_us INTEGER NOT NULL,"
    "  cursor INTEGER NOT NULL, detail TEXT NOT NULL, committed_us INTEGER NOT NULL);";

#define SCHEMA_VERSION 2
#define SCHEMA_VERSION_SET "PRAGMA user_version=2"
/* Claims per batch row when migrating a version-0 claim_log. */
#define MIGRATE_BATCH 65536

static void copy_text(char *dst, size_t cap, const unsigned char *s);

static int hot_exec(ss_ledger *l, int which);

static int fail(ss_ledger *l, const char *what) {
    snprintf(l->errstr, sizeof l->errstr, "ledger: %s: %s", what, sqlite3_errmsg(l->db));
    return -1;
}

const char *ss_ledger_errstr(const ss_ledger *l) { return l->errstr; }

static int exec(ss_ledger *l, const char *sql) {
    char *msg = NULL;
    if (sqlite3_exec(l->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        snprintf(l->errstr, sizeof l->errstr, "ledger: %s: %s", sql, msg ? msg : sqlite3_errmsg(l->db));
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

/* Opening: several writers may open a fresh ledger at the same moment. Switching to WAL and
 * creating the schema need an exclusive lock, and SQLite answers SQLITE_BUSY at once (without
 * calling the busy handler) when two connections would otherwise deadlock upgrading their
 * locks. So these statements are retried, with a short sleep, for up to SS_LEDGER_BUSY_MS. */
static int exec_open_retry(ss_ledger *l, const char *sql) {
    for (int waited_ms = 0;; waited_ms += 20) {
        char *msg = NULL;
        int rc = sqlite3_exec(l->db, sql, NULL, NULL, &msg);
        if (rc == SQLITE_OK) return 0;
        int busy = (rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED;
        if (!busy || waited_ms >= SS_LEDGER_BUSY_MS) {
            snprintf(l->errstr, sizeof l->errstr, "ledger: %s: %s", sql, msg ? msg : sqlite3_errmsg(l->db));
            sqlite3_free(msg);
            return -1;
        }
        sqlite3_free(msg);
        ss_sleep_ms(20);
    }
}

static int set_sync(ss_ledger *l, int full) {
    if (l->sync_full == full) return 0;
    if (exec(l, full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL") != 0) return -1;
    l->sync_full = full;
    return 0;
}

/* Inside a batch (ss_ledger_batch_begin .. _end) the per-call transactions join the
 * batch's one transaction; a failure marks the batch for rollback. */
static int begin(ss_ledger *l, int full) {
    if (l->batch) return l->batch_failed ? -1 : 0;
    if (set_sync(l, full) != 0) return -1;
    return hot_exec(l, HOT_BEGIN);
}

static int commit(ss_ledger *l) {
    if (l->batch) return l->batch_failed ? -1 : 0;
    if (hot_exec(l, HOT_COMMIT) == 0) return 0;
    sqlite3_exec(l->db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

static void rollback(ss_ledger *l) {
    if (l->batch) {
        l->batch_failed = 1;
        return;
    }
    sqlite3_exec(l->db, "ROLLBACK", NULL, NULL, NULL);
}

int ss_ledger_batch_begin(ss_ledger *l, int full) {
    if (l->batch) return -1;
    if (set_sync(l, full) != 0 || exec(l, "BEGIN IMMEDIATE") != 0) return -1;
    l->batch = 1;
    l->batch_failed = 0;
    return 0;
}

int ss_ledger_batch_end(ss_ledger *l, int abandon) {
    if (!l->batch) return -1;
    l->batch = 0;
    if (abandon || l->batch_failed) {
        sqlite3_exec(l->db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    return commit(l);
}

static sqlite3_stmt *prep(ss_ledger *l, const char *sql) {
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(l->db, sql, -1, &st, NULL) != SQLITE_OK) {
        fail(l, "prepare");
        return NULL;
    }
    return st;
}

/* A kept statement, ready to bind; give it back with hot_done (reset, bindings cleared). */
static sqlite3_stmt *hot_prep(ss_ledger *l, int which) {
    if (!l->hot[which] &&
        sqlite3_prepare_v3(l->db, k_hot_sql[which], -1, SQLITE_PREPARE_PERSISTENT, &l->hot[which], NULL) != SQLITE_OK) {
        fail(l, "prepare");
        l->hot[which] = NULL;
        return NULL;
    }
    return l->hot[which];
}

static void hot_done(sqlite3_stmt *st) {
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
}

/* BEGIN IMMEDIATE / COMMIT through kept statements; 0 or -1 with errstr (exec's wording). */
static int hot_exec(ss_ledger *l, int which) {
    sqlite3_stmt *st = hot_prep(l, which);
    if (!st) return -1;
    int rc = sqlite3_step(st);
    if (rc != SQLITE_DONE) {
        snprintf(l->errstr, sizeof l->errstr, "ledger: %s: %s", k_hot_sql[which], sqlite3_errmsg(l->db));
        hot_done(st);
        return -1;
    }
    hot_done(st);
    return 0;
}

int ss_ledger_durable_mark(ss_ledger *l) {
    if (begin(l, 1) != 0) return -1;
    sqlite3_stmt *st = prep(l, "INSERT INTO meta(key, value) VALUES('durable_us', ?) ON CONFLICT(key) DO UPDATE SET "
                               "value=excluded.value");
    if (!st) return rollback(l), -1;
    char v[32];
    snprintf(v, sizeof v, "%lld", (long long)ss_wall_us());
    sqlite3_bind_text(st, 1, v, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return fail(l, "write the durability mark"), rollback(l), -1;
    return commit(l);
}

static ss_ledger *open_db(const char *path, int flags, char *err, size_t errlen) {
    ss_ledger *l = calloc(1, sizeof *l);
    if (!l) {
        snprintf(err, errlen, "ledger: out of memory");
        return NULL;
    }
    ss_writer_claimset_init(&l->cs);
    if (sqlite3_open_v2(path, &l->db, flags, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "ledger %s: %s", path, l->db ? sqlite3_errmsg(l->db) : "cannot open");
        ss_ledger_close(l);
        return NULL;
    }
    sqlite3_busy_timeout(l->db, SS_LEDGER_BUSY_MS);
    l->sync_full = -1;
    ss_buf_init(&l->pend);
    return l;
}

static int user_version(ss_ledger *l) {
    sqlite3_stmt *st = prep(l, "PRAGMA user_version");
    if (!st) return -1;
    int v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
    sqlite3_finalize(st);
    if (v < 0) fail(l, "read the schema version");
    return v;
}

static int insert_batch(ss_ledger *l, const ss_buf *recs, size_t n, int64_t max_t) {
    sqlite3_stmt *st = hot_prep(l, HOT_INSERT_BATCH);
    if (!st) return -1;
    sqlite3_bind_int64(st, 1, max_t);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)n);
    sqlite3_bind_blob(st, 3, recs->data, (int)recs->len, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    hot_done(st);
    return rc == SQLITE_DONE ? 0 : fail(l, "insert claims");
}

/* Version 0 -> 2: claim_log's rows, in order, become batches of MIGRATE_BATCH claims. */
static int migrate_claim_log(ss_ledger *l) {
    sqlite3_stmt *st = prep(l, "SELECT 1 FROM sqlite_master WHERE type='table' AND name='claim_log'");
    if (!st) return -1;
    int exists = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    if (!exists) return 0;
    st = prep(l, "SELECT key, owner_type, owner_ms, owner_seq, t FROM claim_log ORDER BY seq");
    if (!st) return -1;
    ss_buf b;
    ss_buf_init(&b);
    ss_claimlog_enc enc = {0, 0};
    size_t n = 0;
    int64_t max_t = 0;
    int rc, bad = 0;
    while (!bad && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (sqlite3_column_bytes(st, 0) != 16) continue;
        ss_claimrec r;
        memcpy(r.key, sqlite3_column_blob(st, 0), 16);
        r.type = sqlite3_column_int(st, 1);
        r.ms = (uint64_t)sqlite3_column_int64(st, 2);
        r.seq = (uint64_t)sqlite3_column_int64(st, 3);
        r.t = sqlite3_column_int64(st, 4);
        if (ss_claimlog_append(&b, &enc, &r) != 0) {
            snprintf(l->errstr, sizeof l->errstr, "ledger: out of memory migrating claims");
            bad = 1;
            break;
        }
        if (!n || r.t > max_t) max_t = r.t;
        if (++n == MIGRATE_BATCH) {
            bad = insert_batch(l, &b, n, max_t) != 0;
            ss_buf_reset(&b);
            enc = (ss_claimlog_enc){0, 0};
            n = 0;
        }
    }
    if (!bad && rc != SQLITE_DONE) bad = fail(l, "read claim_log") != 0;
    sqlite3_finalize(st);
    if (!bad && n) bad = insert_batch(l, &b, n, max_t) != 0;
    ss_buf_free(&b);
    if (bad) return -1;
    return exec(l, "DROP TABLE claim_log");
}

/* Brings the ledger to SCHEMA_VERSION (under the write lock: several writers may open an
 * old ledger at once; the first migrates, the others find it done). */
static int check_version(ss_ledger *l) {
    if (exec_open_retry(l, "BEGIN IMMEDIATE") != 0) return -1;
    int v = user_version(l);
    if (v == SCHEMA_VERSION) return exec(l, "COMMIT");
    int ok = 0;
    if (v > SCHEMA_VERSION || v == 1)
        snprintf(l->errstr, sizeof l->errstr,
                 "ledger schema version %d is not one this skyspool knows (%d): run the skyspool that wrote it, "
                 "or use another --data-dir",
                 v, SCHEMA_VERSION);
    else if (v == 0)
        ok = migrate_claim_log(l) == 0 && exec(l, SCHEMA_VERSION_SET) == 0 && exec(l, "COMMIT") == 0;
    if (!ok) sqlite3_exec(l->db, "ROLLBACK", NULL, NULL, NULL);
    return ok ? 0 : -1;
}

ss_ledger *ss_ledger_open(const char *path, char *err, size_t errlen) {
    ss_ledger *l = open_db(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, err, errlen);
    if (!l) return NULL;
    if (exec_open_retry(l, "PRAGMA journal_mode=WAL") != 0 || set_sync(l, 1) != 0 ||
        exec(l, "PRAGMA cache_size=-8192") != 0 || exec_open_retry(l, g_schema) != 0) {
        snprintf(err, errlen, "ledger %s: %s", path, l->errstr);
        ss_ledger_close(l);
        return NULL;
    }
    if (check_version(l) != 0) {
        snprintf(err, errlen, "ledger %s: %s", path, l->errstr);
        ss_ledger_close(l);
        return NULL;
    }
    return l;
}

ss_ledger *ss_ledger_open_readonly(const char *path, char *err, size_t errlen) {
    return open_db(path, SQLITE_OPEN_READONLY | SQLITE_OPEN_FULLMUTEX, err, errlen);
}

void ss_ledger_close(ss_ledger *l) {
    if (!l) return;
    ss_writer_claimset_free(&l->cs);
    ss_buf_free(&l->pend);
    for (int i = 0; i < HOT__COUNT; i++) sqlite3_finalize(l->hot[i]);
    if (l->db) sqlite3_close_v2(l->db);
    free(l);
}

/* ---- claims ------------------------------------------------------------------------------ */

/* Loading goes through a short queue: each claim's lines are prefetched LOAD_AHEAD claims
 * before it is put, so the cache misses of a restart's millions of puts overlap. */
#define LOAD_AHEAD 8
typedef struct {
    ss_ledger *l;
    struct {
        uint64_t fp;
        uint32_t owner, t;
    } q[LOAD_AHEAD];
    size_t n; /* claims seen; the last min(n, LOAD_AHEAD) are queued */
} loader;

static int load_put(loader *ld, size_t i) {
    uint32_t existing;
    return ss_writer_claimset_put(&ld->l->cs, ld->q[i].fp, ld->q[i].owner, ld->q[i].t, &existing) < 0 ? -2 : 0;
}

static void note_max(ss_ledger *l, int type, uint64_t ms, uint64_t seq) {
    ss_writer_id id = {ms, seq};
    unsigned t = (unsigned)type & 0xff;
    if (!l->has_maxid[t] || ss_writer_id_cmp(id, l->maxid[t]) > 0) l->maxid[t] = id;
    l->has_maxid[t] = 1;
}

static int load_one(void *ctx, const ss_claimrec *r) {
    loader *ld = ctx;
    note_max(ld->l, r->type, r->ms, r->seq);
    size_t i = ld->n++ % LOAD_AHEAD;
    if (ld->n > LOAD_AHEAD && load_put(ld, i) != 0) return -2; /* the oldest queued, then its slot is free */
    ld->q[i].fp = ss_writer_claim_fp(r->key);
    ld->q[i].owner = ss_writer_claim_owner(r->type, r->ms, r->seq);
    ld->q[i].t = (uint32_t)r->t;
    ss_writer_claimset_prefetch(&ld->l->cs, ld->q[i].fp);
    return 0;
}

static int load_flush(loader *ld) {
    size_t queued = ld->n < LOAD_AHEAD ? ld->n : LOAD_AHEAD;
    for (size_t k = ld->n - queued; k < ld->n; k++)
        if (load_put(ld, k % LOAD_AHEAD) != 0) return -2;
    ld->n = 0;
    return 0;
}

/* Under the write lock, reads the claim batches appended since we last looked (by other
 * writers, or all of them after a failure), so the in-memory set is exactly the table. */
static long long meta_ll(ss_ledger *l, const char *key) {
    sqlite3_stmt *st = hot_prep(l, HOT_META);
    if (!st) return -1;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    long long v = 0;
    if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int64(st, 0);
    hot_done(st);
    return v;
}

int ss_ledger_claims_begin(ss_ledger *l) {
    if (begin(l, 0) != 0) return -1;
    long long gen = meta_ll(l, "claims_gen");
    if (gen < 0) return rollback(l), -1;
    if (gen != l->gen) l->cs_valid = 0; /* claims were released: the set is reloaded whole */
    if (!l->cs_valid) {
        ss_writer_claimset_clear(&l->cs);
        l->last_seq = 0;
        memset(l->has_maxid, 0, sizeof l->has_maxid);
        l->gen = gen;
    }
    ss_buf_reset(&l->pend);
    l->enc = (ss_claimlog_enc){0, 0};
    l->npend = 0;
    l->pend_max_t = 0;
    sqlite3_stmt *st = hot_prep(l, HOT_CLAIMS_SINCE);
    if (!st) return rollback(l), -1;
    sqlite3_bind_int64(st, 1, l->last_seq);
    int rc;
    loader ld = {.l = l, .n = 0};
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        size_t n = 0;
        int d = ss_claimlog_decode(sqlite3_column_blob(st, 2), (size_t)sqlite3_column_bytes(st, 2), load_one, &ld, &n);
        if (d == 0) d = load_flush(&ld); /* in order: a later batch may claim the same key */
        if (d != 0 || n != (size_t)sqlite3_column_int64(st, 1)) {
            snprintf(l->errstr, sizeof l->errstr, "ledger: %s (claim batch %lld)",
                     d == -2 ? "out of memory loading dedup claims" : "a claim batch is corrupt",
                     (long long)sqlite3_column_int64(st, 0));
            hot_done(st);
            rollback(l);
            l->cs_valid = 0;
            return -1;
        }
        l->last_seq = sqlite3_column_int64(st, 0);
    }
    hot_done(st);
    if (rc != SQLITE_DONE) {
        l->cs_valid = 0;
        return fail(l, "load claims"), rollback(l), -1;
    }
    l->cs_valid = 1;
    return 0;
}

/* The round's new claims become one row, committed with the round. */
int ss_ledger_claims_end(ss_ledger *l) {
    if (l->npend) {
        if (insert_batch(l, &l->pend, l->npend, l->pend_max_t) != 0) {
            rollback(l);
            l->cs_valid = 0;
            return -1;
        }
        l->last_seq = sqlite3_last_insert_rowid(l->db);
        l->npend = 0;
    }
    if (commit(l) != 0) {
        l->cs_valid = 0; /* the set may hold claims the table does not */
        return -1;
    }
    return 0;
}

int ss_ledger_claim(ss_ledger *l, const uint8_t key[16], int type, ss_writer_id id, int64_t t_us, int *owner) {
    uint32_t me = ss_writer_claim_owner(type, id.ms, id.seq), existing = 0;
    int64_t t = t_us / 1000000;
    int r = ss_writer_claimset_put(&l->cs, ss_writer_claim_fp(key), me, (uint32_t)t, &existing);
    if (r < 0) {
        l->cs_valid = 0;
        snprintf(l->errstr, sizeof l->errstr, "ledger: out of memory in the dedup set");
        return -1;
    }
    if (r == 0) {
        *owner = existing == me ? 2 : 0;
        return 0;
    }
    ss_claimrec rec = {.type = type, .ms = id.ms, .seq = id.seq, .t = t};
    memcpy(rec.key, key, 16);
    if (ss_claimlog_append(&l->pend, &l->enc, &rec) != 0) {
        l->cs_valid = 0; /* in the set, not in the batch */
        snprintf(l->errstr, sizeof l->errstr, "ledger: out of memory recording a claim");
        return -1;
    }
    if (!l->npend++ || t > l->pend_max_t) l->pend_max_t = t;
    note_max(l, type, id.ms, id.seq);
    *owner = 1;
    return 0;
}

int ss_ledger_claims_max(ss_ledger *l, int type, ss_writer_id *out) {
    if (ss_ledger_claims_begin(l) != 0 || ss_ledger_claims_end(l) != 0) return -1;
    unsigned t = (unsigned)type & 0xff;
    if (!l->has_maxid[t]) return 0;
    *out = l->maxid[t];
    return 1;
}

/* ---- releasing claims whose owners Redis lost ---------------------------------------------- */

typedef struct {
    ss_ledger_release *rel; /* by stream number; NULL where nothing is released */
    ss_writer_id *committed[256];
    size_t ncommitted[256];
    ss_buf out;
    ss_claimlog_enc enc;
    size_t kept, dropped;
    int oom;
} release_ctx;

static int release_one(void *ctx, const ss_claimrec *r) {
    release_ctx *x = ctx;
    ss_writer_id id = {r->ms, r->seq};
    unsigned t = (unsigned)r->type & 0xff;
    ss_ledger_release *rel = NULL;
    for (ss_ledger_release *p = x->rel; p && p->type >= 0; p++)
        if ((unsigned)p->type == t) rel = p;
    if (rel && ss_writer_id_cmp(id, rel->after) > 0 && !ss_writer_id_find(x->committed[t], x->ncommitted[t], id)) {
        rel->released++;
        x->dropped++;
        return 0;
    }
    if (ss_claimlog_append(&x->out, &x->enc, r) != 0) {
        x->oom = 1;
        return 1;
    }
    x->kept++;
    return 0;
}

long long ss_ledger_release_claims(ss_ledger *l, ss_ledger_release *rel) {
    if (begin(l, 1) != 0) return -1;
    release_ctx x;
    memset(&x, 0, sizeof x);
    x.rel = rel;
    ss_buf_init(&x.out);
    int bad = 0, rc = SQLITE_DONE;
    for (ss_ledger_release *p = rel; p->type >= 0 && !bad; p++) {
        unsigned t = (unsigned)p->type & 0xff;
        p->released = 0;
        if (!x.committed[t] &&
            ss_ledger_committed_ids(l, p->type, p->after.ms, (uint64_t)INT64_MAX, &x.committed[t], &x.ncommitted[t]) != 0)
            bad = 1;
    }
    sqlite3_stmt *st = bad ? NULL : prep(l, "SELECT seq, recs FROM claim_batches ORDER BY seq");
    sqlite3_stmt *up = bad ? NULL : prep(l, "UPDATE claim_batches SET n=?, recs=? WHERE seq=?");
    sqlite3_stmt *del = bad ? NULL : prep(l, "DELETE FROM claim_batches WHERE seq=?");
    long long released = 0;
    if (!st || !up || !del) bad = 1;
    while (!bad && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        long long seq = sqlite3_column_int64(st, 0);
        ss_buf_reset(&x.out);
        x.enc = (ss_claimlog_enc){0, 0};
        x.kept = x.dropped = 0;
        size_t n = 0;
        int d = ss_claimlog_decode(sqlite3_column_blob(st, 1), (size_t)sqlite3_column_bytes(st, 1), release_one, &x,
                                   &n);
        if (d != 0 || x.oom) {
            snprintf(l->errstr, sizeof l->errstr, "ledger: %s (claim batch %lld)",
                     x.oom ? "out of memory releasing claims" : "a claim batch is corrupt", seq);
            bad = 1;
            break;
        }
        if (!x.dropped) continue;
        released += (long long)x.dropped;
        sqlite3_stmt *w = x.kept ? up : del;
        sqlite3_reset(w);
        if (x.kept) {
            sqlite3_bind_int64(up, 1, (sqlite3_int64)x.kept);
            sqlite3_bind_blob(up, 2, x.out.data, (int)x.out.len, SQLITE_STATIC);
            sqlite3_bind_int64(up, 3, seq);
        } else {
            sqlite3_bind_int64(del, 1, seq);
        }
        if (sqlite3_step(w) != SQLITE_DONE) bad = fail(l, "rewrite a claim batch") != 0;
    }
    if (!bad && rc != SQLITE_DONE) bad = fail(l, "read claim batches") != 0;
    if (st) sqlite3_finalize(st);
    if (up) sqlite3_finalize(up);
    if (del) sqlite3_finalize(del);
    ss_buf_free(&x.out);
    for (int t = 0; t < 256; t++) free(x.committed[t]);
    if (!bad && released > 0 &&
        exec(l, "INSERT INTO meta(key, value) VALUES('claims_gen', '1') ON CONFLICT(key) DO UPDATE SET "
                "value = CAST(value AS INTEGER) + 1") != 0)
        bad = 1;
    if (bad) return rollback(l), -1;
    if (commit(l) != 0) return fail(l, "commit released claims"), -1;
    l->cs_valid = 0; /* reloaded whole at the next claims round */
    return released;
}

int ss_ledger_record_loss(ss_ledger *l, const char *stream, const char *last_delivered, const char *max_claimed,
                          long long released, const char *redis_run_id) {
    if (begin(l, 1) != 0) return -1;
    sqlite3_stmt *st = prep(l, "INSERT INTO redis_losses(at_us, stream, last_delivered, max_claimed, released, "
                               "redis_run_id) VALUES(?,?,?,?,?,?)");
    if (!st) return rollback(l), -1;
    sqlite3_bind_int64(st, 1, ss_wall_us());
    sqlite3_bind_text(st, 2, stream, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, last_delivered, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, max_claimed, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, released);
    sqlite3_bind_text(st, 6, redis_run_id ? redis_run_id : "", -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return fail(l, "record a Redis data loss"), rollback(l), -1;
    return commit(l);
}

int ss_ledger_gaps_add(ss_ledger *l, const ss_gap_record *g, size_t n, size_t *inserted) {
    *inserted = 0;
    if (begin(l, 1) != 0) return -1;
    /* keyed by the Redis entry id: a retry after a crash between this commit and the XDEL
     * (or a second writer of the ledger that read the same entry) changes nothing */
    sqlite3_stmt *st = prep(l, "INSERT OR IGNORE INTO gaps(stream_id, source, reason, unit, from_pos, to_pos, "
                               "detected_us, cursor, detail, committed_us) VALUES(?,?,?,?,?,?,?,?,?,?)");
    if (!st) return rollback(l), -1;
    int64_t now = ss_wall_us();
    for (size_t i = 0; i < n; i++) {
        sqlite3_reset(st);
        sqlite3_bind_text(st, 1, g[i].id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, g[i].source, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, g[i].reason, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, g[i].unit, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 5, g[i].from);
        sqlite3_bind_int64(st, 6, g[i].to);
        sqlite3_bind_int64(st, 7, g[i].detected_us);
        sqlite3_bind_int64(st, 8, g[i].cursor);
        sqlite3_bind_text(st, 9, g[i].detail, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 10, now);
        if (sqlite3_step(st) != SQLITE_DONE) {
            fail(l, "record a gap");
            sqlite3_finalize(st);
            return rollback(l), -1;
        }
        *inserted += (size_t)sqlite3_changes(l->db);
    }
    sqlite3_finalize(st);
    return commit(l);
}

/* 1 when the ledger has the table (an older ledger may not), 0 when not, -1 on error: asked of
 * the schema, not guessed from the words of an error message. */
static int has_table(ss_ledger *l, const char *name) {
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(l->db, "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", -1, &st, NULL) !=
        SQLITE_OK)
        return -1;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

int ss_ledger_gaps(ss_ledger *l, void (*fn)(void *ctx, const ss_gap_record *g, int64_t committed_us), void *ctx) {
    /* a ledger from before gap records has no table: it has no gaps */
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(l->db, "SELECT stream_id, source, reason, unit, from_pos, to_pos, detected_us, cursor, "
                                  "detail, committed_us FROM gaps ORDER BY detected_us, stream_id",
                           -1, &st, NULL) != SQLITE_OK) {
        if (has_table(l, "gaps") == 0) return 0;
        return fail(l, "read gaps");
    }
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        ss_gap_record g;
        memset(&g, 0, sizeof g);
        copy_text(g.id, sizeof g.id, sqlite3_column_text(st, 0));
        copy_text(g.source, sizeof g.source, sqlite3_column_text(st, 1));
        copy_text(g.reason, sizeof g.reason, sqlite3_column_text(st, 2));
        copy_text(g.unit, sizeof g.unit, sqlite3_column_text(st, 3));
        g.from = sqlite3_column_int64(st, 4);
        g.to = sqlite3_column_int64(st, 5);
        g.detected_us = sqlite3_column_int64(st, 6);
        g.cursor = sqlite3_column_int64(st, 7);
        copy_text(g.detail, sizeof g.detail, sqlite3_column_text(st, 8));
        fn(ctx, &g, sqlite3_column_int64(st, 9));
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : fail(l, "read gaps");
}

size_t ss_ledger_claims_bytes(const ss_ledger *l) { return ss_writer_claimset_bytes(&l->cs); }

void ss_ledger_set_horizon(ss_ledger *l, int64_t horizon_us) {
    uint32_t unit = l->cs.unit;
    ss_writer_claimset_set_horizon(&l->cs, horizon_us / 1000000);
    if (l->cs.unit != unit) l->cs_valid = 0;
}

void ss_ledger_claim_prefetch(const ss_ledger *l, const uint8_t key[16]) {
    ss_writer_claimset_prefetch(&l->cs, ss_writer_claim_fp(key));
}

void ss_ledger_prune_floor(ss_ledger *l, int type, uint64_t floor_ms) {
    l->floor_ms[type & 0xff] = floor_ms;
    l->has_floor[type & 0xff] = 1;
}

long long ss_ledger_prune(ss_ledger *l, int64_t claims_before_us, int64_t ids_before_us) {
    /* to the minute, as the in-memory set keeps event times (claimset.h) */
    int64_t before_s = claims_before_us > 0 ? claims_before_us / 60000000 * 60 : 0;
    if (begin(l, 0) != 0) return -1;
    /* a batch goes when its newest claim is older (its older claims are kept longer) */
    sqlite3_stmt *st = prep(l, "SELECT COALESCE(SUM(n), 0) FROM claim_batches WHERE max_t < ?");
    if (!st) return rollback(l), -1;
    sqlite3_bind_int64(st, 1, before_s);
    int rc = sqlite3_step(st);
    long long dropped = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW) return fail(l, "count old claims"), rollback(l), -1;
    st = prep(l, "DELETE FROM claim_batches WHERE max_t < ?");
    if (!st) return rollback(l), -1;
    sqlite3_bind_int64(st, 1, before_s);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return fail(l, "prune claims"), rollback(l), -1;
    if (l->cs_valid && before_s > 0) ss_writer_claimset_prune(&l->cs, (uint32_t)before_s);
    int floors = 0;
    for (int t = 0; t < 256; t++) floors += l->has_floor[t];
    if (!floors) { /* no floors known (tools, tests): by event time alone */
        st = prep(l, "UPDATE commits SET ids=NULL WHERE ids IS NOT NULL AND max_time_us < ?");
        if (!st) return rollback(l), -1;
        sqlite3_bind_int64(st, 1, ids_before_us);
        rc = sqlite3_step(st);
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE) return fail(l, "prune ids"), rollback(l), -1;
    }
    for (int t = 0; t < 256 && floors; t++) {
        if (!l->has_floor[t]) continue; /* another writer's streams: it prunes them */
        st = prep(l, "UPDATE commits SET ids=NULL WHERE ids IS NOT NULL AND max_time_us < ? AND type_id = ?"
                     " AND last_ms < ?");
        if (!st) return rollback(l), -1;
        sqlite3_bind_int64(st, 1, ids_before_us);
        sqlite3_bind_int(st, 2, t);
        sqlite3_bind_int64(st, 3, l->floor_ms[t] > (uint64_t)INT64_MAX ? INT64_MAX : (sqlite3_int64)l->floor_ms[t]);
        rc = sqlite3_step(st);
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE) return fail(l, "prune ids"), rollback(l), -1;
    }
    if (commit(l) != 0) return -1;
    return dropped;
}

/* ---- runs --------------------------------------------------------------------------------- */

long long ss_ledger_run_open(ss_ledger *l, int64_t window_start_us, int64_t window_us, int type,
                             const char *type_name, const char *consumer, int late) {
    if (begin(l, 0) != 0) return -1;
    sqlite3_stmt *st = prep(l, "SELECT id FROM runs WHERE window_start_us=? AND type_id=? AND consumer=? AND late=? "
                               "AND status IN ('running','retrying') ORDER BY id DESC LIMIT 1");
    if (!st) return rollback(l), -1;
    sqlite3_bind_int64(st, 1, window_start_us);
    sqlite3_bind_int(st, 2, type);
    sqlite3_bind_text(st, 3, consumer, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 4, late);
    long long id = 0;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) id = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return fail(l, "find run"), rollback(l), -1;
    if (!id) {
        st = prep(l, "INSERT INTO runs(started_us, window_start_us, window_us, type_id, type, consumer, late) "
                     "VALUES(?,?,?,?,?,?,?)");
        if (!st) return rollback(l), -1;
        sqlite3_bind_int64(st, 1, ss_wall_us());
        sqlite3_bind_int64(st, 2, window_start_us);
        sqlite3_bind_int64(st, 3, window_us);
        sqlite3_bind_int(st, 4, type);
        sqlite3_bind_text(st, 5, type_name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 6, consumer, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 7, late);
        rc = sqlite3_step(st);
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE) return fail(l, "insert run"), rollback(l), -1;
        id = sqlite3_last_insert_rowid(l->db);
    }
    if (commit(l) != 0) return -1;
    return id;
}

int ss_ledger_run_failed(ss_ledger *l, long long run_id, const char *error) {
    if (begin(l, 0) != 0) return -1;
    sqlite3_stmt *st = prep(l, "INSERT INTO attempts(run_id, at_us, error) VALUES(?,?,?)");
    if (!st) return rollback(l), -1;
    if (run_id > 0) sqlite3_bind_int64(st, 1, run_id);
    else sqlite3_bind_null(st, 1);
    sqlite3_bind_int64(st, 2, ss_wall_us());
    sqlite3_bind_text(st, 3, error, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return fail(l, "insert attempt"), rollback(l), -1;
    if (run_id > 0) {
        /* a window part whose commit exists stays "ok": the failed attempt is still recorded */
        st = prep(l, "UPDATE runs SET attempts=attempts+1, error=?, status=CASE WHEN status='ok' OR EXISTS"
                     " (SELECT 1 FROM commits WHERE run_id=runs.id) THEN 'ok' ELSE 'retrying' END WHERE id=?");
        if (!st) return rollback(l), -1;
        sqlite3_bind_text(st, 1, error, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, run_id);
        rc = sqlite3_step(st);
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE) return fail(l, "update run"), rollback(l), -1;
    }
    return commit(l);
}

int ss_ledger_run_done(ss_ledger *l, long long run_id, int64_t duration_ms) {
    if (begin(l, 1) != 0) return -1;
    sqlite3_stmt *st = prep(l, "UPDATE runs SET status='ok', duration_ms=duration_ms+? WHERE id=?");
    if (!st) return rollback(l), -1;
    sqlite3_bind_int64(st, 1, duration_ms);
    sqlite3_bind_int64(st, 2, run_id);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return fail(l, "finish run"), rollback(l), -1;
    return commit(l);
}

/* ---- intents, commits, fences ---------------------------------------------------------------- */

int ss_ledger_intent(ss_ledger *l, const char *path, const char *consumer) {
    if (begin(l, 0) != 0) return -1;
    sqlite3_stmt *st = prep(l, "INSERT OR REPLACE INTO intents(path, consumer, created_us) VALUES(?,?,?)");
    if (!st) return rollback(l), -1;
    sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, consumer, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, ss_wall_us());
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return fail(l, "insert intent"), rollback(l), -1;
    return commit(l);
}

int ss_ledger_intents(ss_ledger *l, const char *consumer, void (*fn)(void *ctx, const char *path), void *ctx) {
    sqlite3_stmt *st = prep(l, "SELECT path FROM intents WHERE consumer=? ORDER BY path");
    if (!st) return -1;
    sqlite3_bind_text(st, 1, consumer, -1, SQLITE_STATIC);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) fn(ctx, (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : fail(l, "list intents");
}

int ss_ledger_intent_exists(ss_ledger *l, const char *path) {
    sqlite3_stmt *st = prep(l, "SELECT 1 FROM intents WHERE path=?");
    if (!st) return -1;
    sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc == SQLITE_ROW) return 1;
    return rc == SQLITE_DONE ? 0 : fail(l, "look up an intent");
}

int ss_ledger_intent_drop(ss_ledger *l, const char *path) {
    if (begin(l, 1) != 0) return -1;
    sqlite3_stmt *st = prep(l, "DELETE FROM intents WHERE path=?");
    if (!st) return rollback(l), -1;
    sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return fail(l, "drop intent"), rollback(l), -1;
    int changed = sqlite3_changes(l->db) > 0;
    if (commit(l) != 0) return -1;
    return changed;
}

static int fenced_in_txn(ss_ledger *l, const char *consumer) {
    sqlite3_stmt *st = prep(l, "SELECT 1 FROM fenced WHERE consumer=?");
    if (!st) return -1;
    sqlite3_bind_text(st, 1, consumer, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc == SQLITE_ROW) return 1;
    return rc == SQLITE_DONE ? 0 : fail(l, "check fence");
}

int ss_ledger_commit(ss_ledger *l, const ss_ledger_commit_rec *c) {
    ss_buf blob;
    ss_buf_init(&blob);
    if (ss_writer_idblob_encode(c->ids, c->nids, &blob) != 0) {
        snprintf(l->errstr, sizeof l->errstr, "ledger: cannot encode %zu entry ids", c->nids);
        ss_buf_free(&blob);
        return SS_LEDGER_ERR;
    }
    if (begin(l, 1) != 0) {
        ss_buf_free(&blob);
        return SS_LEDGER_ERR;
    }
    int f = fenced_in_txn(l, c->consumer);
    if (f != 0) {
        rollback(l);
        ss_buf_free(&blob);
        if (f > 0) snprintf(l->errstr, sizeof l->errstr, "ledger: consumer %s was fenced by another writer", c->consumer);
        return f > 0 ? SS_LEDGER_FENCED : SS_LEDGER_ERR;
    }
    sqlite3_stmt *st;
    int rc;
    if (c->path) {
        st = prep(l, "DELETE FROM intents WHERE path=? AND consumer=?");
        if (!st) goto err;
        sqlite3_bind_text(st, 1, c->path, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, c->consumer, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE) {
            fail(l, "drop intent");
            goto err;
        }
        if (sqlite3_changes(l->db) != 1) {
            rollback(l);
            ss_buf_free(&blob);
            snprintf(l->errstr, sizeof l->errstr, "ledger: the intent for %s was withdrawn by another writer", c->path);
            return SS_LEDGER_FENCED;
        }
    }
    st = prep(l, "INSERT INTO commits(run_id, committed_us, window_start_us, type_id, type, consumer, path, first_id,"
                 " last_id, first_ms, last_ms, entries, rows, dups, bytes, late, sha256, max_time_us, ids)"
                 " VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
    if (!st) goto err;
    char first[SS_WRITER_ID_STRLEN] = "", last[SS_WRITER_ID_STRLEN] = "";
    if (c->nids) {
        ss_writer_id_format(c->ids[0], first);
        ss_writer_id_format(c->ids[c->nids - 1], last);
    }
    sqlite3_bind_int64(st, 1, c->run_id);
    sqlite3_bind_int64(st, 2, ss_wall_us());
    sqlite3_bind_int64(st, 3, c->window_start_us);
    sqlite3_bind_int(st, 4, c->type);
    sqlite3_bind_text(st, 5, c->type_name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, c->consumer, -1, SQLITE_STATIC);
    if (c->path) sqlite3_bind_text(st, 7, c->path, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 8, first, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 9, last, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 10, c->nids ? (sqlite3_int64)c->ids[0].ms : 0);
    sqlite3_bind_int64(st, 11, c->nids ? (sqlite3_int64)c->ids[c->nids - 1].ms : 0);
    sqlite3_bind_int64(st, 12, (sqlite3_int64)c->nids);
    sqlite3_bind_int64(st, 13, (sqlite3_int64)c->rows);
    sqlite3_bind_int64(st, 14, (sqlite3_int64)c->dups);
    sqlite3_bind_int64(st, 15, (sqlite3_int64)c->bytes);
    sqlite3_bind_int(st, 16, c->late);
    if (c->sha256 && *c->sha256) sqlite3_bind_text(st, 17, c->sha256, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 18, c->max_time_us);
    sqlite3_bind_blob(st, 19, blob.data, (int)blob.len, SQLITE_STATIC);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        fail(l, "insert commit");
        goto err;
    }
    if (c->closes_window) { /* the window is closed for this stream: later entries of it are late */
        st = prep(l, "INSERT OR IGNORE INTO window_closes(type_id, window_start_us, window_end_us, closed_us) "
                     "VALUES(?,?,?,?)");
        if (!st) goto err;
        sqlite3_bind_int(st, 1, c->type);
        sqlite3_bind_int64(st, 2, c->window_start_us);
        sqlite3_bind_int64(st, 3, c->window_start_us + c->window_us);
        sqlite3_bind_int64(st, 4, ss_wall_us());
        rc = sqlite3_step(st);
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE) {
            fail(l, "record a window close");
            goto err;
        }
    }
    if (c->run_id > 0) {
        st = prep(l, "UPDATE runs SET rows=rows+?, dups=dups+?, entries=entries+?, files=files+?, bytes=bytes+?, "
                     "duration_ms=duration_ms+?, status='ok' WHERE id=?");
        if (!st) goto err;
        sqlite3_bind_int64(st, 1, (sqlite3_int64)c->rows);
        sqlite3_bind_int64(st, 2, (sqlite3_int64)c->dups);
        sqlite3_bind_int64(st, 3, (sqlite3_int64)c->nids);
        sqlite3_bind_int(st, 4, c->path ? 1 : 0);
        sqlite3_bind_int64(st, 5, (sqlite3_int64)c->bytes);
        sqlite3_bind_int64(st, 6, c->duration_ms);
        sqlite3_bind_int64(st, 7, c->run_id);
        rc = sqlite3_step(st);
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE) {
            fail(l, "update run");
            goto err;
        }
    }
    ss_buf_free(&blob);
    return commit(l) == 0 ? SS_LEDGER_OK : SS_LEDGER_ERR;
err:
    rollback(l);
    ss_buf_free(&blob);
    return SS_LEDGER_ERR;
}

static int consumer_stmt(ss_ledger *l, const char *sql, const char *consumer, int with_time) {
    if (begin(l, 1) != 0) return -1;
    sqlite3_stmt *st = prep(l, sql);
    if (!st) return rollback(l), -1;
    sqlite3_bind_text(st, 1, consumer, -1, SQLITE_STATIC);
    if (with_time) sqlite3_bind_int64(st, 2, ss_wall_us());
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return fail(l, "fence"), rollback(l), -1;
    return commit(l);
}

int ss_ledger_fence(ss_ledger *l, const char *consumer) {
    if (consumer_stmt(l, "INSERT OR IGNORE INTO fenced(consumer, at_us) VALUES(?,?)", consumer, 1) != 0) return -1;
    /* its unfinished runs will never finish: their entries are written by the taker's runs */
    return consumer_stmt(l, "UPDATE runs SET status='abandoned' WHERE consumer=? AND status IN ('running','retrying')",
                         consumer, 0);
}

int ss_ledger_unfence(ss_ledger *l, const char *consumer) {
    return consumer_stmt(l, "DELETE FROM fenced WHERE consumer=?", consumer, 0);
}

int ss_ledger_is_fenced(ss_ledger *l, const char *consumer) { return fenced_in_txn(l, consumer); }

/* "<host>-<16 hex>": the host for people reading an error, random bits for uniqueness. */
static void fresh_id(char *out, size_t outlen) {
    char host[64] = "host";
    if (gethostname(host, sizeof host) != 0) snprintf(host, sizeof host, "host");
    host[sizeof host - 1] = '\0';
    for (char *p = host; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-')) *p = '_';
    uint64_t r = (uint64_t)ss_wall_us() ^ ((uint64_t)getpid() << 40);
    FILE *f = fopen("/dev/urandom", "rb");
    if (f) {
        uint64_t v;
        if (fread(&v, sizeof v, 1, f) == 1) r ^= v;
        fclose(f);
    }
    snprintf(out, outlen, "%.40s-%016llx", host, (unsigned long long)r);
}

int ss_ledger_id(ss_ledger *l, char *out, size_t outlen) {
    char id[80];
    fresh_id(id, sizeof id);
    sqlite3_stmt *st = prep(l, "INSERT OR IGNORE INTO meta(key, value) VALUES('ledger_id', ?)");
    if (!st) return -1;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return fail(l, "create the ledger id");
    st = prep(l, "SELECT value FROM meta WHERE key='ledger_id'");
    if (!st) return -1;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) snprintf(out, outlen, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : fail(l, "read the ledger id");
}

int ss_ledger_committed_ids(ss_ledger *l, int type, uint64_t min_ms, uint64_t max_ms, ss_writer_id **ids,
                            size_t *n) {
    *ids = NULL;
    *n = 0;
    size_t cap = 0;
    sqlite3_stmt *st = prep(l, "SELECT ids FROM commits WHERE type_id=? AND last_ms>=? AND first_ms<=? AND ids IS NOT NULL");
    if (!st) return -1;
    sqlite3_bind_int(st, 1, type);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)min_ms);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)max_ms);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const void *b = sqlite3_column_blob(st, 0);
        int len = sqlite3_column_bytes(st, 0);
        if (ss_writer_idblob_decode(b, (size_t)len, ids, n, &cap, SS_WRITER_IDBLOB_MAX_IDS) != 0) {
            sqlite3_finalize(st);
            snprintf(l->errstr, sizeof l->errstr, "ledger: a commit's id blob is corrupt");
            free(*ids);
            *ids = NULL;
            *n = 0;
            return -1;
        }
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        free(*ids);
        *ids = NULL;
        *n = 0;
        return fail(l, "load committed ids");
    }
    *n = ss_writer_id_sort_unique(*ids, *n);
    return 0;
}

int64_t ss_ledger_flushed_until(ss_ledger *l) {
    sqlite3_stmt *st = prep(l, "SELECT MAX(window_start_us + window_us) FROM runs WHERE late=0 AND status='ok'");
    if (!st) return 0;
    int64_t v = 0;
    if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

int64_t ss_ledger_flushed_until_streams(ss_ledger *l, int type_lo, int type_hi) {
    /* windows really closed (a spill commit does not close its window); ledgers written
     * before window_closes existed fall back to their runs */
    sqlite3_stmt *st = prep(l, "SELECT MAX(window_end_us), COUNT(*) FROM window_closes WHERE type_id BETWEEN ? AND ?");
    if (!st) return 0;
    sqlite3_bind_int(st, 1, type_lo);
    sqlite3_bind_int(st, 2, type_hi);
    int64_t v = 0, n = 0;
    if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int64(st, 0), n = sqlite3_column_int64(st, 1);
    sqlite3_finalize(st);
    if (n > 0) return v;
    st = prep(l, "SELECT MAX(window_start_us + window_us) FROM runs WHERE late=0 AND status='ok'"
                 " AND type_id BETWEEN ? AND ? AND NOT EXISTS (SELECT 1 FROM window_closes)");
    if (!st) return 0;
    sqlite3_bind_int(st, 1, type_lo);
    sqlite3_bind_int(st, 2, type_hi);
    if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* ---- history --------------------------------------------------------------------------------- */

static void copy_text(char *dst, size_t cap, const unsigned char *s) {
    snprintf(dst, cap, "%s", s ? (const char *)s : "");
}

int ss_ledger_runs(ss_ledger *l, int last, void (*fn)(void *ctx, const ss_ledger_run_row *r), void *ctx) {
    sqlite3_stmt *st = prep(l, "SELECT * FROM (SELECT id, started_us, window_start_us, window_us, type, consumer, late,"
                               " status, rows, dups, entries, files, bytes, duration_ms, attempts, error FROM runs"
                               " ORDER BY id DESC LIMIT ?) ORDER BY id");
    if (!st) return -1;
    sqlite3_bind_int64(st, 1, last > 0 ? last : -1);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        ss_ledger_run_row r;
        memset(&r, 0, sizeof r);
        r.id = sqlite3_column_int64(st, 0);
        r.started_us = sqlite3_column_int64(st, 1);
        r.window_start_us = sqlite3_column_int64(st, 2);
        r.window_us = sqlite3_column_int64(st, 3);
        copy_text(r.type, sizeof r.type, sqlite3_column_text(st, 4));
        copy_text(r.consumer, sizeof r.consumer, sqlite3_column_text(st, 5));
        r.late = sqlite3_column_int(st, 6);
        copy_text(r.status, sizeof r.status, sqlite3_column_text(st, 7));
        r.rows = (uint64_t)sqlite3_column_int64(st, 8);
        r.dups = (uint64_t)sqlite3_column_int64(st, 9);
        r.entries = (uint64_t)sqlite3_column_int64(st, 10);
        r.files = (uint64_t)sqlite3_column_int64(st, 11);
        r.bytes = (uint64_t)sqlite3_column_int64(st, 12);
        r.duration_ms = sqlite3_column_int64(st, 13);
        r.attempts = sqlite3_column_int(st, 14);
        copy_text(r.error, sizeof r.error, sqlite3_column_text(st, 15));
        fn(ctx, &r);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : fail(l, "list runs");
}

int ss_ledger_attempts(ss_ledger *l, int last, void (*fn)(void *ctx, const ss_ledger_attempt_row *a), void *ctx) {
    sqlite3_stmt *st = prep(l, "SELECT * FROM (SELECT a.at_us, COALESCE(a.run_id, 0), COALESCE(r.window_start_us, 0),"
                               " COALESCE(r.type, ''), a.error, a.rowid AS k FROM attempts a LEFT JOIN runs r ON r.id = a.run_id"
                               " ORDER BY a.rowid DESC LIMIT ?) ORDER BY k");
    if (!st) return -1;
    sqlite3_bind_int64(st, 1, last > 0 ? last : -1);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        ss_ledger_attempt_row a;
        memset(&a, 0, sizeof a);
        a.at_us = sqlite3_column_int64(st, 0);
        a.run_id = sqlite3_column_int64(st, 1);
        a.window_start_us = sqlite3_column_int64(st, 2);
        copy_text(a.type, sizeof a.type, sqlite3_column_text(st, 3));
        copy_text(a.error, sizeof a.error, sqlite3_column_text(st, 4));
        fn(ctx, &a);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : fail(l, "read attempts");
}

int ss_ledger_totals_get(ss_ledger *l, ss_ledger_totals *t) {
    memset(t, 0, sizeof *t);
    sqlite3_stmt *st = prep(l, "SELECT COUNT(*), TOTAL(rows), TOTAL(dups), TOTAL(entries), TOTAL(bytes),"
                               " COUNT(path), TOTAL(CASE WHEN late THEN rows ELSE 0 END) FROM commits");
    if (!st) return -1;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        t->commits = (uint64_t)sqlite3_column_int64(st, 0);
        t->rows = (uint64_t)sqlite3_column_double(st, 1);
        t->dups = (uint64_t)sqlite3_column_double(st, 2);
        t->entries = (uint64_t)sqlite3_column_double(st, 3);
        t->bytes = (uint64_t)sqlite3_column_double(st, 4);
        t->files = (uint64_t)sqlite3_column_int64(st, 5);
        t->late_rows = (uint64_t)sqlite3_column_double(st, 6);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : fail(l, "totals");
}

/* ---- the archive this ledger writes, and its files ------------------------------------------ */

int ss_ledger_meta_get(ss_ledger *l, const char *key, char *out, size_t outlen) {
    sqlite3_stmt *st = prep(l, "SELECT value FROM meta WHERE key=?");
    if (!st) {
        /* a ledger of a skyspool before the meta table (read-only opens skip the schema) */
        if (has_table(l, "meta") == 0) return 0;
        return -1;
    }
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) snprintf(out, outlen, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    if (rc == SQLITE_ROW) return 1;
    return rc == SQLITE_DONE ? 0 : fail(l, "read meta");
}

int ss_ledger_meta_set(ss_ledger *l, const char *key, const char *value, int replace) {
    if (begin(l, 1) != 0) return -1;
    sqlite3_stmt *st = prep(l, replace ? "INSERT OR REPLACE INTO meta(key, value) VALUES(?,?)"
                                       : "INSERT OR IGNORE INTO meta(key, value) VALUES(?,?)");
    if (!st) return rollback(l), -1;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return fail(l, "write meta"), rollback(l), -1;
    return commit(l);
}

int ss_ledger_files(ss_ledger *l, int (*fn)(void *ctx, const ss_ledger_file *f), void *ctx) {
    sqlite3_stmt *st = prep(l, "SELECT path, rows, bytes, sha256, window_start_us, type FROM commits"
                               " WHERE path IS NOT NULL ORDER BY path");
    if (!st) return -1;
    int rc, stop = 0;
    while (!stop && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        ss_ledger_file f;
        f.path = (const char *)sqlite3_column_text(st, 0);
        f.rows = (uint64_t)sqlite3_column_int64(st, 1);
        f.bytes = (uint64_t)sqlite3_column_int64(st, 2);
        f.sha256 = (const char *)sqlite3_column_text(st, 3);
        f.window_start_us = sqlite3_column_int64(st, 4);
        f.type = (const char *)sqlite3_column_text(st, 5);
        if (fn(ctx, &f) != 0) stop = 1;
    }
    sqlite3_finalize(st);
    if (stop) return 1;
    return rc == SQLITE_DONE ? 0 : fail(l, "list committed files");
}

int ss_ledger_files_count(ss_ledger *l, uint64_t *n, char *last_path, size_t last_len) {
    *n = 0;
    if (last_path && last_len) last_path[0] = '\0';
    sqlite3_stmt *st = prep(l, "SELECT COUNT(path) FROM commits");
    if (!st) return -1;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) *n = (uint64_t)sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW) return fail(l, "count committed files");
    if (!last_path || !*n) return 0;
    st = prep(l, "SELECT path FROM commits WHERE path IS NOT NULL ORDER BY id DESC LIMIT 1");
    if (!st) return -1;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) snprintf(last_path, last_len, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : fail(l, "read the last committed file");
}

int ss_ledger_known_under(ss_ledger *l, const char *dir, void (*fn)(void *ctx, const char *path), void *ctx) {
    /* [dir + "/", dir + "0"): every path directly or deeper under dir ('0' follows '/'); both
     * columns are indexed, so this reads only the directory's rows */
    sqlite3_stmt *st = prep(l, "SELECT path FROM commits WHERE path >= ?1 || '/' AND path < ?1 || '0'"
                               " UNION SELECT path FROM intents WHERE path >= ?1 || '/' AND path < ?1 || '0'");
    if (!st) return -1;
    sqlite3_bind_text(st, 1, dir, -1, SQLITE_STATIC);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) fn(ctx, (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : fail(l, "list the files of a partition");
}

/* The paths are read into memory first (a statement may not be stepped while the same table
 * is updated under it), then updated in one transaction: a crash leaves all or none. */
int ss_ledger_rewrite_paths(ss_ledger *l, int (*fn)(const char *in, char *out, size_t outlen), uint64_t *changed) {
    static const char *const tables[2] = {"commits", "intents"};
    *changed = 0;
    if (begin(l, 1) != 0) return -1;
    for (int t = 0; t < 2; t++) {
        char sql[128];
        snprintf(sql, sizeof sql, "SELECT path FROM %s WHERE path IS NOT NULL", tables[t]);
        sqlite3_stmt *st = prep(l, sql);
        if (!st) return rollback(l), -1;
        char **olds = NULL;
        size_t n = 0, cap = 0;
        int rc, oom = 0;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            const char *p = (const char *)sqlite3_column_text(st, 0);
            char np[SS_LEDGER_PATH_MAX];
            if (!p || fn(p, np, sizeof np) != 1) continue; /* unchanged */
            if (n == cap) {
                size_t nc = cap ? cap * 2 : 256;
                char **g = realloc(olds, nc * sizeof *g);
                if (!g) { oom = 1; break; }
                olds = g, cap = nc;
            }
            if (!(olds[n] = strdup(p))) { oom = 1; break; }
            n++;
        }
        sqlite3_finalize(st);
        int ok = !oom && (rc == SQLITE_DONE || rc == SQLITE_ROW);
        if (!ok && !oom) fail(l, "list paths");
        if (oom) snprintf(l->errstr, sizeof l->errstr, "ledger: out of memory listing paths");
        snprintf(sql, sizeof sql, "UPDATE %s SET path=?2 WHERE path=?1", tables[t]);
        sqlite3_stmt *up = ok ? prep(l, sql) : NULL;
        if (ok && !up) ok = 0;
        for (size_t i = 0; ok && i < n; i++) {
            char np[SS_LEDGER_PATH_MAX];
            fn(olds[i], np, sizeof np);
            sqlite3_bind_text(up, 1, olds[i], -1, SQLITE_STATIC);
            sqlite3_bind_text(up, 2, np, -1, SQLITE_STATIC);
            if (sqlite3_step(up) != SQLITE_DONE) ok = 0, fail(l, "rewrite a path");
            sqlite3_reset(up);
            *changed += 1;
        }
        if (up) sqlite3_finalize(up);
        for (size_t i = 0; i < n; i++) free(olds[i]);
        free(olds);
        if (!ok) return rollback(l), -1;
    }
    return commit(l);
}
