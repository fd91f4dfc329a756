/* See progress.h. The state is process-wide (there is one terminal) and under one mutex:
 * the progress thread of `run` draws while the pipeline's threads log. The erase is
 * "\r" + ESC[K (erase to the end of the line), which every terminal skyspool meets knows. */
#include "util/progress.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static int g_fd = -1;            /* the terminal, while a line is active */
static char g_text[SS_PROGRESS_MAX];
static size_t g_len;             /* bytes of g_text shown */

static void put(int fd, const char *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w <= 0) return; /* a terminal that went away: nothing to report it to */
        p += w;
        n -= (size_t)w;
    }
}

static const char g_erase[] = "\r\033[K";

int ss_progress_begin(int fd) {
    if (!isatty(fd)) return 0;
    pthread_mutex_lock(&g_mu);
    g_fd = fd;
    g_len = 0;
    pthread_mutex_unlock(&g_mu);
    return 1;
}

void ss_progress_draw(const char *fmt, ...) {
    pthread_mutex_lock(&g_mu);
    if (g_fd >= 0) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(g_text, sizeof g_text, fmt, ap);
        va_end(ap);
        g_len = n < 0 ? 0 : (size_t)n >= sizeof g_text ? sizeof g_text - 1 : (size_t)n;
        put(g_fd, g_erase, sizeof g_erase - 1);
        put(g_fd, g_text, g_len);
    }
    pthread_mutex_unlock(&g_mu);
}

void ss_progress_end(int keep) {
    pthread_mutex_lock(&g_mu);
    if (g_fd >= 0 && g_len > 0) {
        if (keep) put(g_fd, "\n", 1);
        else put(g_fd, g_erase, sizeof g_erase - 1);
    }
    g_fd = -1;
    g_len = 0;
    pthread_mutex_unlock(&g_mu);
}

int ss_progress_log_write(const char *line, size_t n) {
    pthread_mutex_lock(&g_mu);
    if (g_fd < 0) {
        pthread_mutex_unlock(&g_mu);
        return 0;
    }
    if (g_len > 0) put(g_fd, g_erase, sizeof g_erase - 1);
    put(STDERR_FILENO, line, n);
    if (g_len > 0) put(g_fd, g_text, g_len);
    pthread_mutex_unlock(&g_mu);
    return 1;
}

void ss_progress_eta(char *out, size_t outlen, double pos, double start, double end, double elapsed_s) {
    if (!outlen) return;
    out[0] = '\0';
    if (end <= 0) return;
    double f = pos / end;
    if (f < 0) f = 0;
    if (f > 1) f = 1;
    int pct = (int)(f * 100.0);
    double rate = elapsed_s > 0.5 ? (pos - start) / elapsed_s : 0; /* cursor units per second */
    if (rate <= 0 || pos >= end) {
        snprintf(out, outlen, " %3d%%", pct);
        return;
    }
    double left = (end - pos) / rate;
    long s = (long)(left + 0.5);
    if (s >= 3600)
        snprintf(out, outlen, " %3d%% ETA %ldh%02ldm", pct, s / 3600, s / 60 % 60);
    else if (s >= 60)
        snprintf(out, outlen, " %3d%% ETA %ldm%02lds", pct, s / 60, s % 60);
    else
        snprintf(out, outlen, " %3d%% ETA %lds", pct, s);
}
