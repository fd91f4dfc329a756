/* The proleptic Gregorian calendar in integer arithmetic: days since 1970-01-01 from a
 * civil date and back. No libc time functions, so no locale, no TZ environment, no
 * 32-bit time_t limit. Shared by the archive (RFC 3339 parsing, partition hours) and the
 * synthetic source (its timestamps), which had one copy each.
 *
 * The year is shifted to start in March, so that the leap day is the last day of the
 * shifted year, and counted in 400-year eras of 146,097 days. Inline: the archive calls
 * these once or twice per event. */
#ifndef SS_CIVIL_H
#define SS_CIVIL_H

#include <stdint.h>

/* Days since 1970-01-01 of year y, month m (1-12), day d (1-31); any year. */
static inline int64_t ss_days_from_civil(int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400; /* floor division */
    const unsigned yoe = (unsigned)(y - era * 400);                           /* [0, 399] */
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;      /* [0, 365], March = 0 */
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;               /* [0, 146096] */
    return era * 146097 + (int64_t)doe - 719468;
}

/* The inverse: the civil date of day z since 1970-01-01 (any z in int range years). */
static inline void ss_civil_from_days(int64_t z, int *y, int *m, int *d) {
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = (unsigned)(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)((int64_t)yoe + era * 400 + (*m <= 2));
}

#endif
