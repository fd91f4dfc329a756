/* Which archive a run ledger belongs to, and the check that keeps a ledger from writing
 * into an archive (or a partition) whose files it does not know.
 *
 * The ledger decides what is already archived: an event it committed is a "duplicate" when
 * it comes again. So a ledger pointed at another --out writes nothing there (everything is
 * a duplicate), and a ledger restored from an older copy does not know the files a newer
 * copy committed, so it writes their windows a second time. Two guards:
 *
 *   - An archive id. The archive root holds a marker file, SS_ARCHIVE_MARKER, a small JSON
 *     object: {"skyspool_archive":1,"archive_id":"...","layout":2,"created_us":...,
 *     "created_by_ledger":"..."}. Its name starts with '_' and does not end in .parquet, so
 *     recursive globs for *.parquet files (DuckDB, polars) and Hive/Spark directory listings (which hide
 *     _ and . files) never read it. The ledger's meta table records archive_id and
 *     archive_root. ss_archive_bind() runs once when a writer starts: a ledger bound to
 *     another archive id, or bound and pointed at a directory without the marker, is
 *     refused; the same id at another root is an archive that moved (accepted, root
 *     updated). An unbound ledger binds: a fresh one joins the marker it finds (the writers
 *     of several shards, each with its own ledger, share one archive) or creates it; one
 *     with commits (from before markers) adopts the directory only if its newest committed
 *     file is there. The marker is created durably: written to a temporary, fsynced,
 *     linked into place (so two writers starting at once agree on one id), directory
 *     fsynced.
 *
 *   - Unknown part files. Before a writer opens its first part in a partition directory it
 *     lists the directory once (ss_archive_guard_dir): a committed-looking part file of its
 *     own stream layout (a writer part name, not a temporary, of its shard) that the ledger
 *     knows neither as a commit nor as an intent means the ledger is older than the
 *     archive; writing would duplicate rows, so it is refused. One readdir and one indexed
 *     ledger query per directory and process; files another shard's writer made (consumer
 *     names end in .s<other shard>) and files not named like the writer's (convert's
 *     part-*.parquet) are left to `skyspool verify`.
 *
 * Library code: errors go to the caller's buffer; the info lines (archive moved, adopted)
 * go to the log. */
#ifndef SS_WRITER_ARCHIVE_ID_H
#define SS_WRITER_ARCHIVE_ID_H

#include <stddef.h>
#include <stdint.h>

#include "writer/ledger.h"

#define SS_ARCHIVE_MARKER "_skyspool_archive.json"
#define SS_ARCHIVE_LAYOUT 2            /* the hive layout year=/month=/day=/hour=/type=, values unpadded
                                        * (1: zero-padded; see writer/migrate.h) */
#define SS_ARCHIVE_MARKER_MAX 4096     /* bytes of a marker file */
#define SS_ARCHIVE_ID_MAX 64           /* characters of an archive id */
#define SS_ARCHIVE_META_ID "archive_id"     /* ledger meta keys */
#define SS_ARCHIVE_META_ROOT "archive_root"

typedef struct {
    char id[SS_ARCHIVE_ID_MAX + 1];
    int64_t layout;
    int64_t created_us;
    char created_by[128];
} ss_archive_marker;

/* Reads ROOT/SS_ARCHIVE_MARKER: 1 read, 0 absent, -1 unreadable or malformed (err). */
int ss_archive_marker_read(const char *root, ss_archive_marker *m, char *err, size_t errlen);

/* Binds the ledger l (at ledger_path, id ledger_id) to the archive at root, creating the
 * marker when needed (see above). 0 bound (the archive id in archive_id), -1 refused or
 * failed (err says what to do). */
int ss_archive_bind(ss_ledger *l, const char *ledger_path, const char *ledger_id, const char *root,
                    char *archive_id, size_t idlen, char *err, size_t errlen);

/* The per-process memory of partition directories already checked. */
typedef struct ss_archive_guard ss_archive_guard;
/* shard_suffix: ".s<I>" for a writer of shard I, NULL unsharded. NULL when out of memory. */
ss_archive_guard *ss_archive_guard_new(const char *root, const char *ledger_path, const char *shard_suffix);
void ss_archive_guard_free(ss_archive_guard *g);
/* What ss_archive_guard_dir found; the caller tells an archive I/O error (whose errno goes
 * to /healthz) from the others by this, never by the message. */
enum {
    SS_ARCHIVE_GUARD_OK = 0,
    SS_ARCHIVE_GUARD_ERR = -1,     /* a ledger error, out of memory, a path too long (retryable) */
    SS_ARCHIVE_GUARD_UNKNOWN = -2, /* unknown part files there (fatal: err names them) */
    SS_ARCHIVE_GUARD_IO = -3,      /* the directory cannot be listed (retryable): *sys_errno says why */
};
/* Checks the partition directory rel_dir (relative to the root, e.g.
 * "year=2025/month=1/day=2/hour=3/type=like") once per process. Returns one of the above;
 * *sys_errno (may be NULL) is the errno of the failed opendir/readdir with
 * SS_ARCHIVE_GUARD_IO, else 0. */
int ss_archive_guard_dir(ss_archive_guard *g, ss_ledger *l, const char *rel_dir, int *sys_errno, char *err,
                         size_t errlen);

/* 1 when name (a file name, no directory) is a part file as the DataWriter names them:
 * TYPE-YYYYMMDDTHHMM-CONSUMER-MS-SEQ[-late].parquet; the consumer part (at most 40
 * characters in names) is copied to consumer. */
int ss_archive_writer_part_name(const char *name, char *consumer, size_t conslen);

#endif
