/* Archive layout versions, and `skyspool migrate`, which moves an archive from the old one to
 * the current one.
 *
 * Layout 1 wrote zero-padded partition values (year=2025/month=08/day=07/hour=00). DuckDB
 * types such values as VARCHAR, and integers only when no value has a leading zero, so the
 * type of `month` changed with the data and `WHERE hour < 5` failed. Layout 2
 * (SS_ARCHIVE_LAYOUT) writes them unpadded (month=8/day=7/hour=0), which DuckDB, polars and
 * Spark all type as integers. One archive holds one layout: a reader globbing month=* would
 * see month=08 and month=8 as two different partitions of one month.
 *
 * ss_archive_layout_check() is the rule every writer of an archive (the DataWriter at bind,
 * convert before its first file) applies: the marker, when present, must say the current
 * layout; without a marker no directory may have a padded name.
 *
 * ss_archive_migrate() renames every padded partition directory to its unpadded name, one
 * rename(2) per directory (atomic: a reader or a crash sees the old or the new name, never
 * half a directory), top-down, so renaming month=08 moves its days with it and each day is
 * renamed after. It is idempotent, so after a crash it is simply run again: names already
 * unpadded are skipped, and when both month=08 and month=8 exist (a writer of the new layout
 * ran in between) the old one's entries are moved into the new one and the
 * emptied directory is removed. Then the ledgers' recorded paths are rewritten (one SQLite
 * transaction per ledger; rewriting an unpadded path is a no-op), and last the marker is
 * rewritten to say layout 2 (temporary, fsync, rename, directory fsync). Until that last
 * step the marker still says layout 1, so writers keep refusing the half-migrated archive.
 * Writers must be stopped while it runs. */
#ifndef SS_WRITER_MIGRATE_H
#define SS_WRITER_MIGRATE_H

#include <stddef.h>
#include <stdint.h>

#include "writer/ledger.h"

#define SS_ARCHIVE_LAYOUT_PADDED 1 /* year=YYYY/month=MM/day=DD/hour=HH */
#define SS_MIGRATE_MAX_DEPTH 8     /* directory levels below a partition merge may descend */

/* Writes path with every year=/month=/day=/hour= value unpadded to out: 1 changed, 0
 * unchanged (out holds the copy), -1 does not fit. */
int ss_archive_unpad_path(const char *in, char *out, size_t outlen);

/* 0 when the archive at root may be written with the current layout; -1 refused or
 * unreadable (err says to run `skyspool migrate`). */
int ss_archive_layout_check(const char *root, char *err, size_t errlen);

typedef struct {
    uint64_t renamed;   /* directories renamed */
    uint64_t merged;    /* padded directories whose entries were moved into an existing unpadded one */
    uint64_t ledger_paths; /* ledger rows rewritten */
    int marker_updated; /* the marker was rewritten to the current layout */
    int had_marker;
} ss_migrate_stats;

/* Migrates the archive at root and the ledgers leds[0..nled) (see above). 0 done, -1 (err;
 * running it again resumes). */
int ss_archive_migrate(const char *root, ss_ledger **leds, int nled, ss_migrate_stats *st, char *err, size_t errlen);

#endif
