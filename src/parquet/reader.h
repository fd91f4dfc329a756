/* A Parquet reader for the files the writer (parquet.h) produces.
 *
 * The archive has to be readable back without DuckDB or Arrow: `cat --source archive:`,
 * `replay-server --archive` and `verify --deep` decode rows here. So this reads exactly the
 * subset of the format the writer emits, and refuses the rest with a message rather than
 * guessing: flat schemas of BOOLEAN, INT32, INT64 (plain or TIMESTAMP), BYTE_ARRAY (strings)
 * and the standard 3-level LIST<STRING>, REQUIRED or OPTIONAL; PLAIN, RLE/bit-packed levels,
 * RLE_DICTIONARY and DELTA_BINARY_PACKED values; uncompressed, snappy and zstd pages; data
 * pages v1 (what the writer writes) and v2.
 *
 *   ss_pq_reader *r = ss_pq_reader_open("x.parquet");
 *   if (ss_pq_reader_err(r)) ... ss_pq_reader_errstr(r) ...
 *   int did = ss_pq_reader_find(r, "did");
 *   while ((rc = ss_pq_reader_next(r)) == 1) { const char *p; size_t n; ss_pq_reader_str(r, did, &p, &n); ... }
 *   if (rc < 0) ... ss_pq_reader_errstr(r) ...
 *   ss_pq_reader_close(r);
 *
 * One row group is decoded at a time, every column of it, into memory (levels, values,
 * string bytes and the dictionary); rows are then handed out from it. Memory is therefore
 * about one row group's uncompressed size, and at most SS_PQR_MAX_RG_LEVELS levels of
 * about 18 bytes plus the string bytes, whatever the file claims. Values returned stay valid until the row group
 * changes (the next ss_pq_reader_next() that crosses into another one) or close.
 *
 * Files are untrusted: every count and length taken from the file has a named limit
 * (SS_PQR_MAX_*) and is checked against the bytes actually present before anything is
 * allocated for it; the decoded result must agree with the footer (rows per row group,
 * values per column chunk). A bad file gives an error in the context, never a crash. Like
 * the writer it knows nothing of Bluesky; errors are carried in the context (hiredis
 * style) and nothing prints. */
#ifndef SS_PARQUET_READER_H
#define SS_PARQUET_READER_H

#include <stddef.h>
#include <stdint.h>

#include "parquet.h"

#define SS_PQR_MAX_FOOTER_BYTES (64u << 20)  /* the Thrift footer */
#define SS_PQR_MAX_DEPTH 32                 /* struct/list nesting in Thrift structs */
#define SS_PQR_MAX_COLUMNS 4096             /* leaf columns */
#define SS_PQR_MAX_SCHEMA 16384             /* schema elements */
#define SS_PQR_MAX_ROW_GROUPS (1u << 20)
#define SS_PQR_MAX_NAME 1024                /* bytes of a column name */
#define SS_PQR_MAX_KV 1024                  /* key/value metadata entries */
#define SS_PQR_MAX_PAGE_HEADER (1u << 20)   /* bytes of one page header */
#define SS_PQR_MAX_PAGE_BYTES (256u << 20)  /* one page, compressed or not */
#define SS_PQR_MAX_CHUNK_BYTES (1u << 30)   /* one column chunk, compressed or not */
#define SS_PQR_MAX_LEVELS (1u << 22)        /* levels (values incl. nulls) in one column chunk */
#define SS_PQR_MAX_RG_LEVELS (1u << 24)     /* levels of all the chunks of one row group: what bounds
                                             * memory (about 18 bytes each) when RLE runs make
                                             * millions of levels out of a few bytes */
#define SS_PQR_MAX_DICT (1u << 24)          /* dictionary entries */

typedef struct ss_pq_reader ss_pq_reader;

/* Opens a file and reads its footer. Returns NULL only when out of memory; otherwise
 * check ss_pq_reader_err() (a reader in error is still closed with ss_pq_reader_close()). */
ss_pq_reader *ss_pq_reader_open(const char *path);
/* The same over n bytes in memory (borrowed: they must outlive the reader). */
ss_pq_reader *ss_pq_reader_open_mem(const void *p, size_t n);
void ss_pq_reader_close(ss_pq_reader *r);
int ss_pq_reader_err(const ss_pq_reader *r);
const char *ss_pq_reader_errstr(const ss_pq_reader *r);

int64_t ss_pq_reader_num_rows(const ss_pq_reader *r);
size_t ss_pq_reader_row_groups(const ss_pq_reader *r);
int64_t ss_pq_reader_row_group_rows(const ss_pq_reader *r, size_t rg);
/* The columns in file order; name/type/optional as the writer was given them
 * (dictionary is 1 when the chunk metadata lists RLE_DICTIONARY in any row group). */
size_t ss_pq_reader_ncols(const ss_pq_reader *r);
const ss_pq_column *ss_pq_reader_column(const ss_pq_reader *r, size_t col);
int ss_pq_reader_find(const ss_pq_reader *r, const char *name); /* index, or -1 */
/* A key/value metadata value (NULL when absent or without a value); created_by ("" if none). */
const char *ss_pq_reader_meta(const ss_pq_reader *r, const char *key);
const char *ss_pq_reader_created_by(const ss_pq_reader *r);

/* Moves to the next row: 1 a row is current, 0 no more rows, -1 error (errstr; later calls
 * return -1 too). Crossing into a row group decodes all of it. */
int ss_pq_reader_next(ss_pq_reader *r);
/* Rows handed out so far. */
int64_t ss_pq_reader_row_index(const ss_pq_reader *r);
/* The current row's values. A null value: is_null 1, int 0, str -1, list_n 0. An empty
 * list is not null (list_n 0, is_null 0). A column index out of range or of another type
 * reads as null. */
int ss_pq_reader_is_null(const ss_pq_reader *r, size_t col);
int64_t ss_pq_reader_int(const ss_pq_reader *r, size_t col); /* BOOLEAN (0/1), INT32, INT64, TIMESTAMP */
int ss_pq_reader_str(const ss_pq_reader *r, size_t col, const char **p, size_t *n); /* 0, or -1 when null */
size_t ss_pq_reader_list_n(const ss_pq_reader *r, size_t col);
int ss_pq_reader_list_str(const ss_pq_reader *r, size_t col, size_t i, const char **p, size_t *n);

#endif
