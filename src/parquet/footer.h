/* Reading a Parquet file's footer: row counts without reading any data.
 *
 * `skyspool verify` checks a year of part files against the run ledger; reading each file
 * whole would cost its size in I/O, while the footer (the last 8 bytes: a little-endian
 * footer length and "PAR1", before them the FileMetaData struct in the Thrift compact
 * protocol) says how many rows the file holds. So this reads the last 8 bytes, then the
 * footer, and decodes only what it needs: FileMetaData.num_rows, the number of schema
 * elements, and each RowGroup's num_rows (summed, and required to equal num_rows).
 * Everything else is skipped field by field.
 *
 * Files are untrusted (a disk, a copy, a person may have changed them): every length taken
 * from the file has a limit (SS_PQ_FOOTER_MAX_*), struct nesting is bounded, every read is
 * checked against the footer's end, and a footer that does not end exactly where its
 * length says is refused. Like the writer, it knows nothing of Bluesky. Errors are carried
 * in the caller's buffer; nothing prints. */
#ifndef SS_PARQUET_FOOTER_H
#define SS_PARQUET_FOOTER_H

#include <stddef.h>
#include <stdint.h>

#define SS_PQ_FOOTER_MAX_BYTES (64u << 20) /* a footer longer than this is refused */
#define SS_PQ_FOOTER_MAX_DEPTH 32          /* struct/list nesting inside the footer */
#define SS_PQ_FOOTER_MAX_ROW_GROUPS (1u << 20)

typedef struct {
    int32_t version;      /* FileMetaData.version */
    int64_t num_rows;     /* FileMetaData.num_rows */
    uint64_t row_groups;  /* RowGroups in the footer */
    int64_t rg_rows;      /* sum of RowGroup.num_rows (== num_rows in an accepted footer) */
    uint64_t schema_elems;
    uint64_t footer_bytes; /* length of the Thrift footer */
    uint64_t file_bytes;   /* size of the file (set by ss_pq_footer_read*) */
} ss_pq_footer;

/* Decodes a FileMetaData struct of exactly n bytes. Returns 0, or -1 with err set. */
int ss_pq_footer_parse(const uint8_t *p, size_t n, ss_pq_footer *f, char *err, size_t errlen);
/* Reads the footer of the open file fd (pread: the offset is not moved): checks the leading
 * and trailing "PAR1", the footer length against the file size and SS_PQ_FOOTER_MAX_BYTES,
 * then parses it. Returns 0, or -1 with err set. */
int ss_pq_footer_read_fd(int fd, ss_pq_footer *f, char *err, size_t errlen);
/* The same for a path. */
int ss_pq_footer_read(const char *path, ss_pq_footer *f, char *err, size_t errlen);

#endif
