/* `skyspool verify`: reconcile an archive with the run ledger(s) that wrote it.
 *
 * The ledger records every committed part file with its size, row count and SHA-256; the
 * archive is what is on disk. ss_verify_run() walks both and reports every difference:
 *
 *   missing     a committed file is not on disk
 *   size        its size differs from the recorded one (truncated, appended to, replaced)
 *   unreadable  it has no valid Parquet footer (parquet/footer.h)
 *   rows        the footer's row count differs from the recorded one
 *   checksum    (deep only) the SHA-256 of the whole file differs from the recorded one
 *   unknown     a file under the root that no commit names (not the marker, not a hidden
 *               temporary: those are counted as temporaries)
 *   no_marker   the ledger is bound to an archive (writer/archive_id.h) but the root has no
 *               marker
 *   archive_id  the marker names another archive than the ledger is bound to
 *   decode      (deep only) a row does not decode through the Parquet reader
 *               (parquet/reader.h) or back into its event (archive/readback.h), the rows
 *               read differ from the committed count, or a row's time_us lies outside
 *               the file's partition hour
 *
 * Without deep it reads, per file, one stat and the footer (the last 8 bytes, then the
 * footer itself), so a year of files checks in seconds; a file overwritten with other
 * bytes of the same size and an intact footer passes, and only deep (which reads every
 * byte) finds it. The ledger's sha256 covers the whole file as written (archive/file.c
 * computes it over the sealed temporary that is then renamed into place).
 *
 * An archive in S3 (root "s3://BUCKET[/PREFIX]", o->s3 set): the listing (LIST v2 of the
 * prefix) takes the place of the directory walk, and each committed object is downloaded,
 * one at a time, into o->scratch and checked as a local file would be; since every byte is
 * read anyway the SHA-256 is always compared (with or without deep), so an object
 * overwritten with other bytes is a checksum problem, a deleted one missing. Marker and
 * archive id are not checked there (the writer binds its ledger to the staging dir).
 *
 * Several ledgers may be given: the writers of several shards (one ledger each) share one
 * archive. Library code: problems are handed to a callback, nothing prints. */
#ifndef SS_WRITER_VERIFY_H
#define SS_WRITER_VERIFY_H

#include <stddef.h>
#include <stdint.h>

#include "objstore/s3.h"
#include "writer/archive_id.h"
#include "writer/ledger.h"

#define SS_VERIFY_MAX_DEPTH 16      /* directory levels under the root (the layout has 5) */
#define SS_VERIFY_MAX_LEDGERS 64

typedef enum {
    SS_VERIFY_MISSING = 0,
    SS_VERIFY_SIZE,
    SS_VERIFY_UNREADABLE,
    SS_VERIFY_ROWS,
    SS_VERIFY_CHECKSUM,
    SS_VERIFY_UNKNOWN,
    SS_VERIFY_NO_MARKER,
    SS_VERIFY_ARCHIVE_ID,
    SS_VERIFY_DECODE,
} ss_verify_kind;

const char *ss_verify_kind_name(ss_verify_kind k); /* "missing", "size", ... */

typedef struct {
    ss_verify_kind kind;
    const char *path;   /* relative to the root; "" for archive-level problems */
    uint64_t expected;  /* size or rows the ledger recorded (size, rows, missing: bytes) */
    uint64_t actual;    /* what is on disk */
    const char *detail; /* a sentence */
} ss_verify_problem;

typedef struct {
    int deep;
    void (*on_problem)(void *ctx, const ss_verify_problem *p);
    void *ctx;
    /* root "s3://BUCKET[/PREFIX]": the S3 settings, and a local dir where one object at a
     * time is downloaded to be checked (then removed). NULL for a local root. */
    const ss_s3_config *s3;
    const char *scratch;
} ss_verify_opts;

typedef struct {
    uint64_t files_checked; /* committed files looked at */
    uint64_t files_ok;
    uint64_t rows;          /* rows in the committed files found intact */
    uint64_t bytes;         /* their bytes */
    uint64_t files_on_disk; /* regular files under the root (marker and temporaries excluded) */
    uint64_t temporaries;   /* hidden files (".NAME.parquet.tmp" of writers at work or crashed) */
    uint64_t problems;
    char archive_id[SS_ARCHIVE_ID_MAX + 1];        /* the marker's, "" without one */
    char ledger_archive_id[SS_ARCHIVE_ID_MAX + 1]; /* the first ledger's binding, "" unbound */
} ss_verify_stats;

/* Verifies root against the ledgers (paths for messages in ledger_paths). Returns 0 when
 * the check ran (problems counted in st->problems), -1 when it could not (err). */
int ss_verify_run(const char *root, ss_ledger **ledgers, const char *const *ledger_paths, size_t nledgers,
                  const ss_verify_opts *o, ss_verify_stats *st, char *err, size_t errlen);

#endif
