/* The Bluesky archive: how an event becomes a Parquet row, and where that row lives.
 *
 * Three layers, each usable on its own:
 *
 *   1. Schema and mapping. ss_ar_schema() gives the file schema: one set of columns shared
 *      by every type, so a glob over the whole archive reads without union_by_name; each
 *      type fills its own columns and leaves the rest null (ss_ar_type_has_column();
 *      docs/SCHEMA.md documents every one). ss_ar_map() extracts the typed columns from the record's JSON
 *      tokens that the event decoder left in the event (ss_event.json; a hand-built event's
 *      record is tokenized here) into an ss_ar_row view, without allocating per row; ss_ar_write_row()
 *      hands event + row to a Parquet writer.
 *
 *   2. Partition files. ss_ar_file_open() creates one part file in
 *      ROOT/year=Y/month=M/day=D/hour=H/type=T/NAME.parquet (numbers unpadded, year=2025/month=8:
 *      DuckDB types zero-padded values such as month=08 as VARCHAR, unpadded ones as integers,
 *      like polars and Spark; see docs/SCHEMA.md). It is written as
 *      .NAME.parquet.tmp in the same directory and only ss_ar_file_finish() fsyncs it,
 *      renames it into place and fsyncs the directory, so a reader (or a crash) never sees
 *      a half-written file under the final name. Path components come only from the fixed
 *      type list and numbers derived from time_us; NAME is validated as a plain file name.
 *      This is the API the DataWriter names its files with.
 *
 *   3. The sink. ss_ar_sink routes any stream of events to partition files, keeping at
 *      most max_open writers open (least-recently-used are finished into additional part
 *      files) so memory stays bounded whatever the input. `skyspool convert` uses it.
 *
 * Partitions come from the event's time_us in UTC, never from the client-claimed
 * createdAt. Errors are carried in contexts or copied to caller buffers; nothing here
 * prints or exits. */
#ifndef SS_ARCHIVE_H
#define SS_ARCHIVE_H

#include <stddef.h>
#include <stdint.h>

#include "event/event.h"
#include "parquet/parquet.h"

/* Written to every file's key/value metadata as skyspool.schema_version; bump it on any
 * change of a column's name, type or meaning. */
#define SS_AR_SCHEMA_VERSION 2 /* 2: claimed_time */
#define SS_AR_SCHEMA_VERSION_STR "2"

/* Partitionable time range: 1970-01-01T00:00:00Z .. 9999-12-31T23:59:59.999999Z, so the
 * year is always four digits. Events outside it are rejected ("time_out_of_range"). */
#define SS_AR_TIME_MIN_US 0LL
#define SS_AR_TIME_MAX_US 253402300799999999LL

/* Limits on what is taken from a record. */
#define SS_AR_MAX_LIST_ITEMS 10000 /* per list column and row; beyond, the list is truncated and counted */
#define SS_AR_MAX_DEPTH 64         /* JSON nesting inside a record */
#define SS_AR_MAX_NAME 128         /* part file base name, without ".parquet" */
#define SS_AR_MAX_PATH 4096

/* ---- 1. schema and mapping ------------------------------------------------------------ */

/* The columns of a file of type t, in file order (the same for every type today; the
 * type parameter keeps callers honest should that change). NULL for an invalid type. */
const ss_pq_column *ss_ar_schema(ss_type t, size_t *ncols);
/* 1 when type t fills column index col (0-based, in ss_ar_schema() order), 0 when the
 * column is always null in that type's files. */
int ss_ar_type_has_column(ss_type t, size_t col);

/* Parses an RFC 3339 date-time ("2024-09-05T06:11:04.870Z", "...+02:00"): four-digit
 * year, real calendar dates, hour 00-23, minute 00-59, second 00-60 (60 is taken as the
 * next second), optional fraction of any length (truncated to microseconds), 'T'/'t'
 * separator, 'Z'/'z' or ±HH:MM offset; nothing before or after. Returns 0 and the instant
 * in microseconds since the Unix epoch (may be negative), or -1. */
int ss_ar_parse_rfc3339(const char *s, size_t n, int64_t *out_us);

/* UTC calendar hour of a time_us in the partitionable range. Returns 0, or -1 if out of range. */
typedef struct {
    int year, month, day, hour;
} ss_ar_hour;
int ss_ar_hour_of(int64_t time_us, ss_ar_hour *h);
/* Start of the UTC hour containing time_us (time_us must be >= 0). */
static inline int64_t ss_ar_hour_start(int64_t time_us) { return time_us - time_us % 3600000000LL; }

/* Writes "ROOT/year=Y/month=M/day=D/hour=H/type=T" (unpadded numbers, no trailing slash) to out.
 * Returns its length, or -1 when time_us is out of range, t is invalid or out is too small. */
int ss_ar_partition_dir(char *out, size_t outlen, const char *root, ss_type t, int64_t time_us);
/* 1 when name is usable as a part file base name: 1..SS_AR_MAX_NAME characters of
 * [A-Za-z0-9._-], not starting with '.' or '-'. */
int ss_ar_valid_name(const char *name);

/* A list column's value: NULL when absent from the record (present == 0). */
typedef struct {
    const ss_str *v;
    size_t n;
    int present;
} ss_ar_list;

/* Row flags: things the mapping noticed (the record itself is always kept verbatim). */
#define SS_AR_ROW_RECORD_UNPARSED 1u /* the record was not a well-formed JSON object: typed columns null */
#define SS_AR_ROW_LIST_TRUNCATED 2u  /* a list had more than SS_AR_MAX_LIST_ITEMS items */

/* The typed columns of one event. ss_str with p == NULL is null. Views point into the
 * event's bytes, the decoder's document (ss_event.json: until the next ss_decode() on
 * that decoder) or the mapper's scratch, and stay valid until the next ss_ar_map(). */
typedef struct {
    ss_type type;
    unsigned flags;
    int has_created_at;
    int64_t created_at;
    /* post */
    ss_str text;
    ss_ar_list langs, mentions, links, tags, labels;
    ss_str reply_root_uri, reply_root_cid, reply_parent_uri, reply_parent_cid;
    ss_str embed_type, embed_uri;
    /* like, repost */
    ss_str subject_uri, subject_cid, via_uri, via_cid;
    /* follow, block */
    ss_str subject;
    /* identity, account */
    int has_relay_time;
    int64_t relay_time;
    /* every type: the upstream's claimed time (ss_event.claimed_time) */
    int has_claimed_time;
    int64_t claimed_time;
} ss_ar_row;

typedef struct ss_ar_mapper ss_ar_mapper;
ss_ar_mapper *ss_ar_mapper_new(void);
void ss_ar_mapper_free(ss_ar_mapper *m);
/* Fills row from ev (ev->type decides the columns). Returns 0, or -1 when out of memory. */
int ss_ar_map(ss_ar_mapper *m, const ss_event *ev, ss_ar_row *row);
/* Sets every column of the current row of w (opened with ss_ar_schema(ev->type)) and
 * ends the row. Returns 0, or -1 with the error in the writer. */
int ss_ar_write_row(ss_pq_writer *w, const ss_event *ev, const ss_ar_row *row);

/* ---- 2. partition files ----------------------------------------------------------------- */

/* The row-group target of every archive file, whichever path writes it (`convert` and the
 * DataWriter): a row group is cut at SS_AR_ROW_GROUP_ROWS rows or SS_AR_ROW_GROUP_BYTES of
 * buffered (mostly compressed) pages, whichever comes first; on archive data the bytes
 * decide, at ~30k rows (about 400 buffered bytes per row). The same size on both paths
 * keeps a live archive as fast to query as a converted one (before, the writer cut at 3 MiB,
 * ~5.5k rows: metadata-only queries 2.7x slower, full scans 1.3-1.6x). The DataWriter uses a
 * smaller target only when its memory-budget is below 8x the bytes (writer/loop.c). */
#define SS_AR_ROW_GROUP_ROWS 131072
#define SS_AR_ROW_GROUP_BYTES (12u << 20)
/* Uncompressed bytes per data page. 4 MiB rather than the usual 1 MiB: zstd compresses each
 * page alone, and the raw record JSON of likes and reposts repeats the popular posts' URIs and
 * CIDs further apart than 1 MiB (bench/results/convert.md). Pages count towards
 * SS_AR_ROW_GROUP_BYTES while they fill, so memory stays bounded by the row group. */
#define SS_AR_PAGE_BYTES (4u << 20)

typedef struct {
    ss_pq_codec codec;      /* default zstd */
    int zstd_level;         /* default SS_AR_DEFAULT_ZSTD_LEVEL */
    size_t row_group_rows;  /* default SS_AR_ROW_GROUP_ROWS */
    size_t row_group_bytes; /* default SS_AR_ROW_GROUP_BYTES of buffered pages per open file */
    size_t page_bytes;      /* default SS_AR_PAGE_BYTES */
    size_t dict_max_bytes;  /* default 1 MiB */
    int fsync;              /* fsync file and directory on finish; default 1 */
    int checksum;           /* compute the file's SHA-256 on finish; default 1 */
} ss_ar_options;
#define SS_AR_DEFAULT_ZSTD_LEVEL 2 /* measured: smaller AND faster than 3 on 1 MiB pages (bench/results/convert.md) */
void ss_ar_options_init(ss_ar_options *o);

typedef struct ss_ar_file ss_ar_file;

/* A part file's errors carry the errno of the failed system call (mkdir, open, write, fsync,
 * close, the read-back, rename, the directory fsync), so that a caller can tell a full disk
 * from a read-only one without reading the message: ss_ar_file_errno() after a failed append
 * or cut, errno after a failed open, seal, publish or finish (the file is freed then). It is
 * 0 when the failure is not a system call's (a bad name or time, an event of another type,
 * out of memory).
 *
 * Opens a part file for type t in the UTC hour containing hour_time_us, to become
 * ROOT/year=.../type=T/NAME.parquet. Creates the directories. Returns NULL with err set
 * and errno as above on failure (bad name or time, I/O error). An existing file of that
 * name is replaced on finish (file names are deterministic, so a retry rewrites the same file). */
ss_ar_file *ss_ar_file_open(const char *root, ss_type t, int64_t hour_time_us, const char *name,
                            const ss_ar_options *o, char *err, size_t errlen);
/* Appends one event. It must be of the file's type and in the file's hour. Returns 0, or
 * -1 with the message in ss_ar_file_errstr() (the file is then unusable: abort it). */
int ss_ar_file_append(ss_ar_file *f, const ss_event *ev);
const char *ss_ar_file_errstr(const ss_ar_file *f);
/* The errno behind ss_ar_file_errstr() (0: none, or not a system call's failure). */
int ss_ar_file_errno(const ss_ar_file *f);
uint64_t ss_ar_file_rows(const ss_ar_file *f);
/* Row groups written so far, and ending the open one early (the DataWriter bounding memory
 * without starting another file). ss_ar_file_cut returns 0, or -1 with ss_ar_file_errstr(). */
uint64_t ss_ar_file_row_groups(const ss_ar_file *f);
int ss_ar_file_cut(ss_ar_file *f);

typedef struct {
    char path[SS_AR_MAX_PATH]; /* final path */
    uint64_t rows, row_groups, bytes;
    uint64_t utf8_replaced;    /* strings whose invalid UTF-8 was replaced by U+FFFD */
    uint64_t rows_flagged;     /* rows with SS_AR_ROW_* flags */
    char sha256[65];           /* lowercase hex of the file's SHA-256 ("" if checksum off) */
} ss_ar_file_result;

/* Seals the file: writes the last row group and the footer, fsyncs the temporary and
 * checksums it; res is filled (res->path is the final path, not yet present). f stays
 * open for ss_ar_file_publish() or ss_ar_file_abort(). Returns 0, or -1 with err and errno
 * set (the temporary file is removed and f freed). */
int ss_ar_file_seal(ss_ar_file *f, ss_ar_file_result *res, char *err, size_t errlen);
/* Publishes a sealed file: renames it into place, fsyncs the directory and frees f.
 * Returns 0, or -1 with err and errno set (f is freed; the temporary is removed if the
 * rename failed). */
int ss_ar_file_publish(ss_ar_file *f, char *err, size_t errlen);
/* ss_ar_file_seal() then ss_ar_file_publish(). */
int ss_ar_file_finish(ss_ar_file *f, ss_ar_file_result *res, char *err, size_t errlen);
/* Discards the file (removes the temporary) and frees f; errno is left as it was. */
void ss_ar_file_abort(ss_ar_file *f);

/* ---- 3. the sink: many partitions, bounded memory ------------------------------------------ */

typedef struct {
    uint64_t events;                  /* rows written */
    uint64_t rows[SS_TYPE__COUNT];
    uint64_t skipped_other;           /* type other, not kept */
    uint64_t files, bytes, row_groups;
    uint64_t utf8_replaced, rows_flagged;
    uint64_t evictions;               /* files finished early to bound memory */
    uint64_t partitions;              /* distinct (type, hour) partitions written */
    uint64_t spilled;                 /* events held back for a partition without a slot */
} ss_ar_sink_stats;

typedef struct ss_ar_sink ss_ar_sink;

/* Files are named "part-TAG-NNNNNN.parquet", NNNNNN counting the files of one
 * (type, hour) partition in this sink. TAG must satisfy ss_ar_valid_name(). Memory is
 * bounded by max_open x row_group_bytes plus the spill buffer. */
ss_ar_sink *ss_ar_sink_new(const char *root, const char *tag, const ss_ar_options *o, size_t max_open,
                           int keep_other, char *err, size_t errlen);
/* Routes one event. Returns 0 written, 1 skipped (type other and !keep_other), -1 error
 * (ss_ar_sink_errstr). An event out of the partitionable time range is an error the
 * caller should check for first with ss_ar_hour_of(). */
int ss_ar_sink_add(ss_ar_sink *s, const ss_event *ev);
const char *ss_ar_sink_errstr(const ss_ar_sink *s);
const ss_ar_sink_stats *ss_ar_sink_stats_get(const ss_ar_sink *s);
/* Finishes every open file. Returns 0 or -1 (errstr). */
int ss_ar_sink_finish(ss_ar_sink *s);
/* Memory for events of partitions that have no open slot (see sink.c); 0 disables
 * spilling (every such event finishes the least recently used file). */
#define SS_AR_DEFAULT_SPILL_BYTES (32u << 20)
#define SS_AR_MAX_REPLAY_BYTES (64u << 20) /* one spilled event, when decoded again */
void ss_ar_sink_set_spill(ss_ar_sink *s, size_t bytes);
/* Called after each finished file (e.g. to print or record it); optional. */
void ss_ar_sink_on_file(ss_ar_sink *s, void (*fn)(void *ctx, ss_type t, const ss_ar_file_result *r), void *ctx);
/* Aborts open files (temporaries removed) and frees. Safe after finish. */
void ss_ar_sink_free(ss_ar_sink *s);

#endif
