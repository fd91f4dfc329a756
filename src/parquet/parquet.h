/* A self-contained Apache Parquet writer.
 *
 * It writes format version 1 files with v1 data pages, the variant every reader we care
 * about accepts (DuckDB, arrow-rs, hyparquet, Spark). It knows nothing of Bluesky or
 * Redis: a caller declares a flat schema of columns, appends rows a value at a time, and
 * closes the file, which writes the footer.
 *
 *   ss_pq_column cols[] = {{"did", SS_PQ_STRING, 0, 1}, {"time_us", SS_PQ_INT64, 0, 0}};
 *   ss_pq_options o; ss_pq_options_init(&o);
 *   ss_pq_writer *w = ss_pq_open("out.parquet", cols, 2, &o);
 *   if (ss_pq_err(w)) ... ss_pq_errstr(w) ...
 *   ss_pq_set_string(w, 0, "did:plc:x", 9); ss_pq_set_int64(w, 1, 42); ss_pq_end_row(w);
 *   ss_pq_stats st; char err[256];
 *   if (ss_pq_close(w, &st, err, sizeof err) != 0) ... err ...   // frees w either way
 *
 * Columns declared with .bloom get a split-block bloom filter per row group (the Parquet
 * spec's SBBF, xxHash64), sized from the row group's distinct values for bloom_fpp; the
 * filters of a row group follow its column chunks.
 *
 * Memory is bounded: rows are buffered per column only until the row group fills (by row
 * count or bytes), then the row group is encoded, compressed and written. Errors are
 * carried in the writer (hiredis style); after the first error every call is a no-op
 * that returns -1. A failure of a system call on the file (open, write, fsync, close) also
 * keeps that call's errno (ss_pq_sys_errno), so a caller can tell a full disk from a
 * read-only one without reading the message, which is for people. */
#ifndef SS_PARQUET_H
#define SS_PARQUET_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    SS_PQ_BOOLEAN = 0,
    SS_PQ_INT32,
    SS_PQ_INT64,
    SS_PQ_TIMESTAMP_MICROS, /* INT64, TIMESTAMP(isAdjustedToUTC=true, MICROS) + TIMESTAMP_MICROS */
    SS_PQ_STRING,           /* BYTE_ARRAY, STRING + UTF8 */
    SS_PQ_STRING_LIST,      /* LIST<STRING> in the standard 3-level layout */
} ss_pq_type;

typedef enum { SS_PQ_CODEC_NONE = 0, SS_PQ_CODEC_SNAPPY, SS_PQ_CODEC_ZSTD } ss_pq_codec;

typedef struct {
    const char *name;
    ss_pq_type type;
    int optional;   /* 1 = OPTIONAL (nulls allowed), 0 = REQUIRED */
    int dictionary; /* 1 = try dictionary encoding (strings); falls back to PLAIN past the limit */
    int bloom;      /* 1 = write a split-block bloom filter per row group (STRING, INT32, INT64
                     * columns), so a lookup of one value skips the row groups without it */
} ss_pq_column;

typedef struct {
    const char *key;
    const char *value;
} ss_pq_kv;

typedef struct {
    ss_pq_codec codec;      /* default ZSTD */
    int zstd_level;         /* default 1, this library's own; the archive sets SS_AR_DEFAULT_ZSTD_LEVEL */
    size_t row_group_rows;  /* default 131072 */
    size_t row_group_bytes; /* default 64 MiB of buffered values */
    size_t page_bytes;      /* default 1 MiB of uncompressed page body */
    size_t dict_max_bytes;  /* default 4 MiB of dictionary per column chunk */
    const char *created_by; /* default "skyspool version <v>" */
    const ss_pq_kv *kv;     /* key/value metadata written to the footer */
    size_t nkv;
    int fsync;              /* fsync the file in ss_pq_close(); default 1 */
    int replace_bad_utf8;   /* 1 (default): replace invalid UTF-8 with U+FFFD and count it; 0: error */
    int delta_int64;        /* 1: INT64/TIMESTAMP pages use DELTA_BINARY_PACKED (compact for sorted
                             * values such as time_us); 0 (default): PLAIN */
    const char *const *sorted; /* names of INT64/TIMESTAMP columns the caller adds in ascending
                             * order (nsorted of them). The writer checks it per row group and lists a
                             * column in that row group's sorting_columns only when all its values are
                             * present and none is smaller than the one before: a reader relying on
                             * the claim is never misled. Default none. */
    size_t nsorted;
    double bloom_fpp;       /* false-positive rate bloom filters are sized for; default 0.01 */
    size_t bloom_max_bytes; /* cap on one filter (a power of two is used); default 1 MiB */
} ss_pq_options;

void ss_pq_options_init(ss_pq_options *o);
const char *ss_pq_codec_name(ss_pq_codec c);      /* "none", "snappy", "zstd" */
int ss_pq_codec_parse(const char *s, ss_pq_codec *out); /* 0, or -1 if unknown */

typedef struct {
    uint64_t rows;
    uint64_t row_groups;
    uint64_t file_bytes;
    uint64_t utf8_replaced; /* strings that had invalid UTF-8 replaced */
    uint64_t dict_fallbacks; /* column chunks that fell back from dictionary to PLAIN */
    uint64_t bloom_filters;  /* bloom filters written (one per bloom column per row group with values) */
    uint64_t bloom_bytes;    /* their bytes, headers included */
} ss_pq_stats;

typedef struct ss_pq_writer ss_pq_writer;

/* Creates (truncates) path. Returns NULL only when out of memory; otherwise check ss_pq_err(). */
ss_pq_writer *ss_pq_open(const char *path, const ss_pq_column *cols, size_t ncols, const ss_pq_options *opt);
int ss_pq_err(const ss_pq_writer *w);
const char *ss_pq_errstr(const ss_pq_writer *w);
/* The errno of the failed system call (open, write, fsync, close) behind the writer's error;
 * 0 when there is no error or it is not a system call's (a bad schema, out of memory, a
 * compression failure). */
int ss_pq_sys_errno(const ss_pq_writer *w);

/* Set the value of column `col` in the current row. A column not set before
 * ss_pq_end_row() is null (an error for a REQUIRED column). */
int ss_pq_set_null(ss_pq_writer *w, size_t col);
int ss_pq_set_bool(ss_pq_writer *w, size_t col, int v);
int ss_pq_set_int32(ss_pq_writer *w, size_t col, int32_t v);
int ss_pq_set_int64(ss_pq_writer *w, size_t col, int64_t v); /* INT64 and TIMESTAMP_MICROS */
int ss_pq_set_string(ss_pq_writer *w, size_t col, const char *s, size_t n);
/* LIST<STRING>: ss_pq_list_begin() makes the row's value an empty list, each
 * ss_pq_list_add() appends an element (elements are never null). Not calling
 * ss_pq_list_begin() leaves the list null. */
int ss_pq_list_begin(ss_pq_writer *w, size_t col);
int ss_pq_list_add(ss_pq_writer *w, size_t col, const char *s, size_t n);
int ss_pq_end_row(ss_pq_writer *w);
/* Ends the open row group now, before it reaches its size (a caller bounding memory across
 * many writers: the row group's buffers are released). No-op without buffered rows. */
int ss_pq_flush(ss_pq_writer *w);
/* Row groups written so far (an automatic cut shows here as it happens). */
uint64_t ss_pq_row_groups(const ss_pq_writer *w);

/* Flushes the last row group, writes the footer, fsyncs (unless disabled), closes and
 * frees the writer. Returns 0, or -1 with the message copied to err (may be NULL) and errno
 * set to what ss_pq_sys_errno() said (0 when the failure was not a system call's): the
 * writer is freed, so errno is where that survives. On success errno is unspecified. */
int ss_pq_close(ss_pq_writer *w, ss_pq_stats *stats, char *err, size_t errlen);
/* Frees the writer without finishing the file (the caller unlinks it). */
void ss_pq_abort(ss_pq_writer *w);

#endif
