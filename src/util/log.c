/* See log.h. Each message is formatted into one buffer and written with a single
 * write(2), so lines from concurrent processes (tests run several) never interleave. While a
 * progress line is shown (util/progress.h), it writes the line instead, around that line. */
#include "util/log.h"
#include "util/clock.h"
#include "util/progress.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static ss_log_level g_level = SS_LOG_INFO;
static const char *const g_names[] = {"debug", "info", "warn", "error", "off"};

void ss_log_set_level(ss_log_level lvl) { g_level = lvl; }
ss_log_level ss_log_get_level(void) { return g_level; }

int ss_log_parse_level(const char *s) {
    for (int i = 0; i <= SS_LOG_OFF; i++)
        if (s && strcmp(s, g_names[i]) == 0) return i;
    return -1;
}

void ss_log(ss_log_level lvl, const char *component, const char *fmt, ...) {
    if (lvl < g_level || lvl >= SS_LOG_OFF) return;
    char line[2048];
    struct tm tm;
    int64_t now_us = ss_wall_us();
    time_t sec = (time_t)(now_us / 1000000);
    gmtime_r(&sec, &tm);
    int n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ %-5s %s: ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, (int)(now_us % 1000000 / 1000), g_names[lvl], component ? component : "skyspool");
    va_list ap;
    va_start(ap, fmt);
    if (n > 0 && (size_t)n < sizeof line) n += vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n >= sizeof line - 1) n = (int)sizeof line - 2;
    line[n++] = '\n';
    if (ss_progress_log_write(line, (size_t)n)) return; /* not onto a progress line */
    ssize_t w = write(STDERR_FILENO, line, (size_t)n);
    (void)w;
}
