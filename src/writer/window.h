/* Window arithmetic, the watermark, and retry backoff: the pure logic of the DataWriter,
 * kept apart from I/O so the unit tests can drive it with made-up clocks.
 *
 * A window is [start, start + len) of event time (time_us), with start a multiple of len
 * counted from the Unix epoch, so 5-minute windows start at :00, :05, ... A window length
 * must divide one hour: then a window never straddles an hour partition.
 *
 * The watermark says how far event time is complete. Per stream it is
 *   - while the stream still has unread entries: the lowest time_us of the last batch read
 *     from it (entries arrive roughly in time order, so what is unread is not older);
 *   - once the stream is drained (a read came back short): the highest time_us read from
 *     it plus the wall time elapsed since then (event time keeps flowing at the speed of
 *     the clock), and, once the stream has been idle for `idle_us`, at least the wall clock;
 *   - a stream never seen with data does not hold the watermark back.
 * The writer's watermark is the minimum over the streams; when no stream has data yet it is
 * the wall clock. A window closes when watermark >= end + grace. */
#ifndef SS_WRITER_WINDOW_H
#define SS_WRITER_WINDOW_H

#include <stdint.h>

#define SS_WRITER_HOUR_US 3600000000LL

/* 1 when len_us is a valid window length: > 0, a whole number of seconds, dividing an hour. */
int ss_writer_window_len_valid(int64_t len_us);
/* Start of the window holding t (floor, also for negative t). */
int64_t ss_writer_window_start(int64_t t_us, int64_t len_us);
/* 1 when the window starting at start is closed at watermark wm. */
static inline int ss_writer_window_closed(int64_t start, int64_t len_us, int64_t grace_us, int64_t wm) {
    return wm >= start + len_us + grace_us;
}

typedef struct {
    int seen;           /* any entry read from this stream */
    int drained;        /* the last read came back short: nothing more unread right now */
    int64_t batch_min;  /* lowest time_us of the last non-empty batch */
    int64_t high;       /* highest time_us read */
    int64_t high_wall;  /* wall clock when the last non-empty batch was read */
} ss_writer_stream_clock;

/* Records one read from a stream: n entries with times min..max (ignored when n == 0),
 * short = fewer entries than asked for. */
void ss_writer_clock_observe(ss_writer_stream_clock *c, int n, int64_t min_t, int64_t max_t, int short_read,
                             int64_t wall_us);
/* The stream's contribution (see above); INT64_MAX when the stream was never seen. */
int64_t ss_writer_clock_low(const ss_writer_stream_clock *c, int64_t wall_us, int64_t idle_us);
/* Minimum over n streams; wall_us when none has been seen. */
int64_t ss_writer_watermark(const ss_writer_stream_clock *cs, int n, int64_t wall_us, int64_t idle_us);

/* Exponential backoff with full jitter: attempt 1 waits in [base/2, base], attempt k in
 * [d/2, d] with d = min(cap, base * 2^(k-1)). r is a uniform random number in [0, 1). */
int64_t ss_writer_backoff_ms(int attempt, int64_t base_ms, int64_t cap_ms, double r);

#endif
