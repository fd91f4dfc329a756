/* Frames files: recorded com.atproto.sync.subscribeRepos frames.
 *
 * Format: a sequence of records, each a u32 little-endian length followed by that many
 * bytes of one binary WebSocket message (header + body DAG-CBOR, exactly as received).
 * The whole file may be one zstd stream (conventionally named *.zst); readers detect it
 * by the zstd magic number, not the name. No index, no header: a file can be appended to,
 * concatenated with `cat`, and a recording cut short loses at most its last frame.
 *
 * The writer is used by `skyspool record`; the reader by the `frames:` source and by
 * `skyspool replay-server`. Both are plain file I/O, with no knowledge of CBOR. */
#ifndef SS_FRAMES_H
#define SS_FRAMES_H

#include <stddef.h>
#include <stdint.h>

#define SS_FRAMES_MAX_FRAME 5000000u /* the subscribeRepos frame limit */

typedef struct ss_frames_writer ss_frames_writer;

/* path "-" is stdout. zstd: 1 compress, 0 plain, -1 compress when path ends in ".zst".
 * Returns NULL with a message in err on failure. */
ss_frames_writer *ss_frames_writer_open(const char *path, int zstd, char *err, size_t errlen);
/* Appends one frame. Returns 0, or -1 (see ss_frames_writer_error). Frames over
 * SS_FRAMES_MAX_FRAME are refused: readers would reject them. */
int ss_frames_writer_append(ss_frames_writer *w, const void *frame, size_t len);
/* Pushes everything appended so far to the file (for zstd, ends a block so that what was
 * written decodes even if the process dies later). */
int ss_frames_writer_flush(ss_frames_writer *w);
/* Finishes the file (zstd epilogue), closes it and frees w. Returns 0, or -1 with err. */
int ss_frames_writer_close(ss_frames_writer *w, char *err, size_t errlen);
const char *ss_frames_writer_error(const ss_frames_writer *w);
uint64_t ss_frames_writer_count(const ss_frames_writer *w);

typedef struct ss_frames_reader ss_frames_reader;

enum {
    SS_FRAMES_OK = 1,         /* a frame */
    SS_FRAMES_END = 0,        /* clean end of file */
    SS_FRAMES_IO = -1,        /* read or zstd error */
    SS_FRAMES_TRUNCATED = -2, /* the file ends inside a frame (a recording cut short) */
    SS_FRAMES_TOO_BIG = -3,   /* a length over max_frame: corrupt, or not a frames file */
};

/* path "-" is stdin. max_frame 0 means SS_FRAMES_MAX_FRAME. */
ss_frames_reader *ss_frames_reader_open(const char *path, size_t max_frame, char *err, size_t errlen);
/* Next frame: the frame pointer and length stay valid until the next call. Returns one of the values above;
 * after an error, ss_frames_reader_error() says what and where. */
int ss_frames_reader_next(ss_frames_reader *r, const uint8_t **frame, size_t *len);
/* Back to the first frame (re-opens; not possible for stdin). Returns 0 or -1. */
int ss_frames_reader_rewind(ss_frames_reader *r);
const char *ss_frames_reader_error(const ss_frames_reader *r);
/* Offset, in the (decompressed) stream, of the next frame's length prefix. */
uint64_t ss_frames_reader_offset(const ss_frames_reader *r);
int ss_frames_reader_is_zstd(const ss_frames_reader *r);
void ss_frames_reader_close(ss_frames_reader *r);

#endif
