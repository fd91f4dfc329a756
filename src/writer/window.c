/* Window math, watermark and backoff; see window.h. No I/O, no clocks read here: callers
 * pass the wall clock in, which keeps every rule testable. */
#include "writer/window.h"

int ss_writer_window_len_valid(int64_t len_us) {
    return len_us > 0 && len_us % 1000000 == 0 && SS_WRITER_HOUR_US % len_us == 0;
}

int64_t ss_writer_window_start(int64_t t_us, int64_t len_us) {
    int64_t r = t_us % len_us;
    if (r < 0) r += len_us;
    return t_us - r;
}

void ss_writer_clock_observe(ss_writer_stream_clock *c, int n, int64_t min_t, int64_t max_t, int short_read,
                             int64_t wall_us) {
    c->drained = short_read;
    if (n <= 0) return;
    if (!c->seen || max_t > c->high) c->high = max_t;
    c->seen = 1;
    c->batch_min = min_t;
    c->high_wall = wall_us;
}

int64_t ss_writer_clock_low(const ss_writer_stream_clock *c, int64_t wall_us, int64_t idle_us) {
    if (!c->seen) return INT64_MAX;
    if (!c->drained) return c->batch_min;
    int64_t elapsed = wall_us - c->high_wall;
    if (elapsed < 0) elapsed = 0;
    int64_t low = c->high + elapsed;
    if (elapsed >= idle_us && wall_us > low) low = wall_us;
    return low;
}

int64_t ss_writer_watermark(const ss_writer_stream_clock *cs, int n, int64_t wall_us, int64_t idle_us) {
    int64_t wm = INT64_MAX;
    for (int i = 0; i < n; i++) {
        int64_t l = ss_writer_clock_low(&cs[i], wall_us, idle_us);
        if (l < wm) wm = l;
    }
    return wm == INT64_MAX ? wall_us : wm;
}

int64_t ss_writer_backoff_ms(int attempt, int64_t base_ms, int64_t cap_ms, double r) {
    if (attempt < 1) attempt = 1;
    if (base_ms < 1) base_ms = 1;
    if (cap_ms < base_ms) cap_ms = base_ms;
    int64_t d = base_ms;
    for (int i = 1; i < attempt && d < cap_ms; i++) d *= 2;
    if (d > cap_ms) d = cap_ms;
    if (r < 0) r = 0;
    if (r >= 1) r = 0.999999;
    return d / 2 + (int64_t)((double)(d - d / 2) * r);
}
