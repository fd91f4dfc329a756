/* Fault injection for the exactly-once tests.
 *
 * SKYSPOOL_CRASH_AT=STEP[:N] makes the process SIGKILL itself the Nth time (default 1st)
 * it reaches the named step of the commit protocol, exactly as `kill -9` would: no
 * cleanup, no flush, no atexit. Steps, in protocol order:
 *   after_claim   dedup claims recorded, file not yet written
 *   after_write   part file written under its temporary name, not yet renamed
 *   after_rename  file renamed into place and directory fsynced, ledger not yet written
 *                 (with --out s3://: renamed in the staging dir, not yet uploaded)
 *   s3_mid_upload with --out s3://: a part of a multipart upload sent, the upload not complete
 *   after_upload  with --out s3://: the object is complete in S3, ledger not yet written
 *   after_ledger  commit recorded in the ledger, entries not yet acked
 *   after_ack     entries acked and deleted
 *   after_gap_ledger  gap records committed to the ledger, not yet deleted from Redis
 * and of `skyspool migrate` (writer/migrate.h):
 *   migrate_rename  one partition directory renamed to its unpadded name
 *   migrate_ledger  the ledgers' paths rewritten, the marker not yet updated
 * Unset (the normal case) costs one branch per step. */
#ifndef SS_WRITER_CRASH_H
#define SS_WRITER_CRASH_H

/* Reads SKYSPOOL_CRASH_AT. Returns 0, or -1 when it is set but malformed. */
int ss_writer_crash_init(char *err, unsigned long errlen);
/* Called at each step; kills the process when the step and count match. */
void ss_writer_crash_point(const char *step);

#endif
