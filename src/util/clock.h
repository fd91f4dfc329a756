/* Clocks and sleeping, in one place.
 *
 * Two clocks with different jobs: the monotonic clock measures intervals (timeouts,
 * backoff, rates) and never jumps; the wall clock dates things (detection times, ledger
 * rows, the receipt clock of a live source) and may jump when the host's time is set. Using
 * one for the other's job is the usual bug, so the names say which is which. */
#ifndef SS_UTIL_CLOCK_H
#define SS_UTIL_CLOCK_H

#include <stdint.h>

int64_t ss_mono_ms(void); /* monotonic milliseconds (arbitrary origin) */
int64_t ss_mono_us(void); /* monotonic microseconds; async-signal-safe (the stop handlers use it) */
int64_t ss_mono_ns(void); /* monotonic nanoseconds, for latency histograms */
double ss_mono_s(void);   /* monotonic seconds, for rates and reports */
int64_t ss_wall_us(void); /* wall clock, microseconds since the Unix epoch */

/* Sleeps ms milliseconds (<= 0: returns at once). A signal ends the sleep early, so that a
 * stop flag set by a handler is seen without waiting out the sleep. */
void ss_sleep_ms(int64_t ms);
/* The same in microseconds. */
void ss_sleep_us(int64_t us);
/* Sleeps the whole us even when signals arrive (a pacer whose wake-up means "due now"). */
void ss_sleep_us_full(int64_t us);

#endif
