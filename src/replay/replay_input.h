/* Sequential reading of a JSONL replay input (one event per line), optionally
 * zstd-compressed as a whole (detected by the zstd magic, not the name), or the events
 * of a skyspool source such as archive: (replay-server --archive). Frames files are read
 * with the frames reader (src/frames/frames.h).
 *
 * The replay server opens one reader per connection, so clients can be at different
 * places and nothing is loaded whole: memory per reader is one read buffer plus the
 * largest record. */
#ifndef SS_REPLAY_INPUT_H
#define SS_REPLAY_INPUT_H

#include <stddef.h>
#include <stdint.h>

#define SS_REPLAY_MAX_RECORD (8u * 1024 * 1024) /* longest line (or frame) accepted */

typedef struct ss_replay_reader ss_replay_reader;

/* NULL + err on failure. */
ss_replay_reader *ss_replay_reader_open(const char *path, char *err, size_t errlen);
/* The events of a skyspool source (e.g. "archive:DIR", src/source/source.h) as records,
 * read from its start; messages the source could not turn into events are skipped. */
ss_replay_reader *ss_replay_reader_open_source(const char *spec, char *err, size_t errlen);
/* 1 with the record in *data and *len (valid until the next call), 0 at the end, -1 on
 * error (ss_replay_reader_errstr). Empty JSONL lines are skipped; a trailing '\r' is
 * removed. */
int ss_replay_reader_next(ss_replay_reader *r, const uint8_t **data, size_t *len);
const char *ss_replay_reader_errstr(const ss_replay_reader *r);
/* Cursor seek in a time-ordered plain JSONL file without reading it from the start: a
 * binary search over byte offsets, each probe resynchronising on the next newline and
 * reading that line's time_us, positions the reader at a line start before which every
 * probed line is older than cursor_us - slack_us; the caller then skips lines older than the
 * cursor as it would from the start, which costs at most one probe span plus slack_us of
 * events. Honesty about disorder: a probe whose time is more than slack_us older than an
 * earlier-offset probe's means the file is not time-ordered within slack_us, and so does a
 * probe line carrying its own "cursor"; then nothing moves and 0 is returned (the caller
 * reads from the start, as before). An event more than slack_us out of order that no probe
 * lands on can still be skipped: the search assumes the order it could not disprove.
 * Returns 1 (positioned; *probes and *offset say how), 0 (not applicable: zstd, a source,
 * a small file, or disorder; *why says which), -1 on a read error. Call before the first
 * ss_replay_reader_next. */
#define SS_REPLAY_SEEK_MIN_BYTES (1u << 20) /* smaller files are read from the start */
#define SS_REPLAY_SEEK_MAX_PROBES 64
#define SS_REPLAY_SEEK_SLACK_US (10LL * 1000000) /* the disorder a seek tolerates: 10 s */
int ss_replay_reader_seek_time(ss_replay_reader *r, int64_t cursor_us, int64_t slack_us, int *probes, int64_t *offset,
                               const char **why);
/* Records returned so far. */
uint64_t ss_replay_reader_count(const ss_replay_reader *r);
void ss_replay_reader_close(ss_replay_reader *r);

#endif
