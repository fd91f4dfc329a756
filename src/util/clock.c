/* Clocks and sleeping (clock.h). */
#include "util/clock.h"

#include <errno.h>
#include <time.h>

static int64_t ts_us(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t ss_mono_ms(void) { return ts_us(CLOCK_MONOTONIC) / 1000; }
int64_t ss_mono_us(void) { return ts_us(CLOCK_MONOTONIC); }
int64_t ss_mono_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}
double ss_mono_s(void) { return (double)ts_us(CLOCK_MONOTONIC) / 1e6; }
int64_t ss_wall_us(void) { return ts_us(CLOCK_REALTIME); }

void ss_sleep_us(int64_t us) {
    if (us <= 0) return;
    struct timespec ts = {(time_t)(us / 1000000), (long)(us % 1000000) * 1000L};
    nanosleep(&ts, NULL); /* EINTR: a signal ends the sleep (see clock.h) */
}

void ss_sleep_ms(int64_t ms) { ss_sleep_us(ms * 1000); }

void ss_sleep_us_full(int64_t us) {
    if (us <= 0) return;
    struct timespec ts = {(time_t)(us / 1000000), (long)(us % 1000000) * 1000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}
