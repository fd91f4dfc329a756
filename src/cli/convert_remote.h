/* `convert --out s3://BUCKET/PREFIX`: the archive sink writes each part file into a local
 * staging directory as it would into a local archive; when a file is complete it is
 * uploaded to PREFIX/<its path under the staging dir> and its staged copy removed, so the
 * staging space stays bounded by the open files (--max-open-files) plus the one being
 * uploaded.
 *
 * convert's names are deterministic from the input's content (part-TAG-NNNNNN), so the
 * protocol needs no ledger: a rerun of the same content uploads the same keys again
 * (overwriting what a killed run left), and only after a complete run are the other
 * objects of the same tag (part-TAG-* keys this run did not write, from an earlier run
 * that split partitions differently or was killed) deleted, and their multipart uploads
 * in progress aborted. A failed run deletes nothing. */
#ifndef SS_CLI_CONVERT_REMOTE_H
#define SS_CLI_CONVERT_REMOTE_H

#include <stddef.h>
#include <stdint.h>

#include "objstore/s3.h"

typedef struct ss_convert_remote ss_convert_remote;

/* url is "s3://BUCKET[/PREFIX]"; stage, a local directory this run owns. Checks the
 * credentials, endpoint and clock with one request. NULL with *code and err on failure. */
ss_convert_remote *ss_convert_remote_new(const char *url, const ss_s3_config *cfg, size_t part_size, const char *stage,
                                         ss_s3_errcode *code, char *err, size_t errlen);
void ss_convert_remote_free(ss_convert_remote *r);

/* Uploads the staged file at path (under the staging dir) with its SHA-256 (hex, or ""),
 * records its key as written by this run, and removes the staged copy. After a failure
 * every later call fails at once with the same error. Returns 0, or -1 (see errstr). */
int ss_convert_remote_put(ss_convert_remote *r, const char *path, const char *sha256);
/* Deletes the key of a staged path (a rejects file the run no longer has). */
int ss_convert_remote_delete(ss_convert_remote *r, const char *path);
/* After a complete run: deletes every object of basename part-TAG-*.parquet under the
 * prefix that this run did not write, and aborts the multipart uploads in progress of
 * such keys. Returns 0 (with *removed), or -1. */
int ss_convert_remote_remove_stale(ss_convert_remote *r, const char *tag, uint64_t *removed);

int ss_convert_remote_failed(const ss_convert_remote *r);
const char *ss_convert_remote_errstr(const ss_convert_remote *r);
ss_s3_errcode ss_convert_remote_err(const ss_convert_remote *r);
uint64_t ss_convert_remote_objects(const ss_convert_remote *r); /* uploaded so far */
uint64_t ss_convert_remote_bytes(const ss_convert_remote *r);
const char *ss_convert_remote_url(const ss_convert_remote *r);

/* Whether name[0..len) is one of convert's part files of run tag: "part-TAG-*.parquet".
 * Both targets sweep stale parts with it (a local directory, a bucket's keys). */
int ss_convert_is_part_name(const char *name, size_t len, const char *tag);

#endif
