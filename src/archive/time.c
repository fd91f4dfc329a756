/* Time for the archive: strict RFC 3339 parsing (for createdAt and the relay's time) and
 * the UTC calendar hour of a time_us (for partition paths).
 *
 * Both are pure integer arithmetic on the proleptic Gregorian calendar (util/civil.h): no
 * libc time functions, so no locale, no TZ environment, no 32-bit time_t limits, and no surprises
 * for years past 2038. createdAt is client-claimed and often malformed, so the parser
 * accepts exactly RFC 3339's date-time production and nothing else; anything else maps
 * to a null column, never a guess. */
#include <stdio.h>
#include <string.h>

#include "archive/archive.h"
#include "util/civil.h"

static int is_leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

static int days_in_month(int y, int m) {
    static const int dm[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : dm[m - 1];
}

/* n decimal digits at s, or -1. */
static int digits(const char *s, int n) {
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* A date-time is at most a few dozen bytes; a long fraction is legal but bounded here. */
#define RFC3339_MAX_LEN 64

int ss_ar_parse_rfc3339(const char *s, size_t n, int64_t *out_us) {
    /* YYYY-MM-DDTHH:MM:SS = 19 bytes, then [.frac] then Z or +HH:MM */
    if (n < 20 || n > RFC3339_MAX_LEN) return -1;
    if (s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') || s[13] != ':' || s[16] != ':') return -1;
    int y = digits(s, 4), mo = digits(s + 5, 2), d = digits(s + 8, 2);
    int h = digits(s + 11, 2), mi = digits(s + 14, 2), sec = digits(s + 17, 2);
    if (y < 0 || mo < 1 || mo > 12 || d < 1 || h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 60)
        return -1;
    if (d > days_in_month(y, mo)) return -1;
    size_t i = 19;
    int64_t frac_us = 0;
    if (s[i] == '.') {
        i++;
        size_t start = i;
        int64_t scale = 100000;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            frac_us += (s[i] - '0') * scale;
            scale /= 10;
            i++;
        }
        if (i == start) return -1;
    }
    if (i >= n) return -1;
    int offset_s = 0;
    if (s[i] == 'Z' || s[i] == 'z') {
        i++;
    } else if (s[i] == '+' || s[i] == '-') {
        if (n - i != 6 || s[i + 3] != ':') return -1;
        int oh = digits(s + i + 1, 2), om = digits(s + i + 4, 2);
        if (oh < 0 || oh > 23 || om < 0 || om > 59) return -1;
        offset_s = (oh * 60 + om) * 60;
        if (s[i] == '-') offset_s = -offset_s;
        i += 6;
    } else {
        return -1;
    }
    if (i != n) return -1;
    int64_t secs = ss_days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + sec - offset_s;
    *out_us = secs * 1000000 + frac_us;
    return 0;
}

int ss_ar_hour_of(int64_t time_us, ss_ar_hour *h) {
    if (time_us < SS_AR_TIME_MIN_US || time_us > SS_AR_TIME_MAX_US) return -1;
    int64_t secs = time_us / 1000000;
    ss_civil_from_days(secs / 86400, &h->year, &h->month, &h->day);
    h->hour = (int)(secs % 86400 / 3600);
    return 0;
}

int ss_ar_partition_dir(char *out, size_t outlen, const char *root, ss_type t, int64_t time_us) {
    ss_ar_hour h;
    if ((unsigned)t >= SS_TYPE__COUNT || ss_ar_hour_of(time_us, &h) != 0) return -1;
    int n = snprintf(out, outlen, "%s/year=%d/month=%d/day=%d/hour=%d/type=%s", root, h.year, h.month,
                     h.day, h.hour, ss_type_name(t));
    if (n < 0 || (size_t)n >= outlen) return -1;
    return n;
}

int ss_ar_valid_name(const char *name) { return ss_safe_name(name, SS_AR_MAX_NAME); }
