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
/* Records returned so far. */
uint64_t ss_replay_reader_count(const ss_replay_reader *r);
void ss_replay_reader_close(ss_replay_reader *r);

#endif
