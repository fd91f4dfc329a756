/* The standard process_* metrics and skyspool_build_info, with the names every Prometheus
 * client library uses (process_resident_memory_bytes, process_cpu_seconds_total, ...), so
 * dashboards and alerts written for any exporter work on skyspool unchanged.
 *
 * Read from /proc/self at every render (a collector): stat for CPU time, start time and
 * virtual size, statm for the resident set, the fd directory for open descriptors (counted up
 * to SS_PROC_MAX_FDS_COUNTED, a bound on the work per scrape), getrlimit for the fd limit.
 * Linux only, like the rest of skyspool. */
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "metrics/metrics.h"

#define SS_PROC_MAX_FDS_COUNTED 1000000
#define SS_PROC_STAT_MAX 4096

static struct {
    ss_metric *rss, *vsz, *cpu, *fds, *max_fds, *start;
} g_p;
static pthread_mutex_t g_once = PTHREAD_MUTEX_INITIALIZER;
static int g_started;

/* Boot time (s since the epoch), for the process start time: /proc/stat's btime. */
static double boot_time(void) {
    FILE *f = fopen("/proc/stat", "r");
    if (!f) return 0;
    char line[256];
    double bt = 0;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "btime ", 6)) bt = strtod(line + 6, NULL);
    fclose(f);
    return bt;
}

static void collect(void *ctx) {
    (void)ctx;
    long tick = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
    if (tick <= 0) tick = 100;
    if (page <= 0) page = 4096;
    char buf[SS_PROC_STAT_MAX];
    FILE *f = fopen("/proc/self/stat", "r");
    if (f) {
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = '\0';
        /* the command name (field 2) may hold spaces and parentheses: fields after the last ')' */
        char *p = strrchr(buf, ')');
        if (p) {
            unsigned long long utime = 0, stime = 0, starttime = 0, vsize = 0;
            /* fields 3.. : state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt
             * utime(14) stime(15) cutime cstime priority nice threads itrealvalue starttime(22) vsize(23) */
            if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d %*d %*d %llu %llu",
                       &utime, &stime, &starttime, &vsize) == 4) {
                ss_metric_set(g_p.cpu, (double)(utime + stime) / (double)tick);
                ss_metric_set(g_p.vsz, (double)vsize);
                static double start_s = -1; /* constant for the process: computed once */
                if (start_s < 0) start_s = boot_time() + (double)starttime / (double)tick;
                ss_metric_set(g_p.start, start_s);
            }
        }
    }
    f = fopen("/proc/self/statm", "r");
    if (f) {
        unsigned long long size = 0, resident = 0;
        if (fscanf(f, "%llu %llu", &size, &resident) == 2) ss_metric_set(g_p.rss, (double)resident * (double)page);
        fclose(f);
    }
    DIR *d = opendir("/proc/self/fd");
    if (d) {
        long n = 0;
        struct dirent *e;
        while ((e = readdir(d)) && n < SS_PROC_MAX_FDS_COUNTED)
            if (e->d_name[0] != '.') n++;
        closedir(d);
        ss_metric_set(g_p.fds, (double)(n > 0 ? n - 1 : 0)); /* minus the directory's own fd */
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) ss_metric_set(g_p.max_fds, (double)rl.rlim_cur);
}

int ss_metrics_process_start(const char *version, const char *revision) {
    pthread_mutex_lock(&g_once);
    int rc = 0;
    if (!g_started) {
        g_p.rss = ss_metric_get("process_resident_memory_bytes", SS_METRIC_GAUGE, "Resident memory size in bytes.", NULL);
        g_p.vsz = ss_metric_get("process_virtual_memory_bytes", SS_METRIC_GAUGE, "Virtual memory size in bytes.", NULL);
        g_p.cpu = ss_metric_get("process_cpu_seconds_total", SS_METRIC_COUNTER,
                                "Total user and system CPU time spent in seconds.", NULL);
        g_p.fds = ss_metric_get("process_open_fds", SS_METRIC_GAUGE, "Number of open file descriptors.", NULL);
        g_p.max_fds = ss_metric_get("process_max_fds", SS_METRIC_GAUGE, "Maximum number of open file descriptors.", NULL);
        g_p.start = ss_metric_get("process_start_time_seconds", SS_METRIC_GAUGE,
                                  "Start time of the process since unix epoch in seconds.", NULL);
        char labels[160];
        snprintf(labels, sizeof labels, "version=\"%.60s\",revision=\"%.60s\"", version ? version : "unknown",
                 revision && *revision ? revision : "unknown");
        ss_metric_set(ss_metric_get("skyspool_build_info", SS_METRIC_GAUGE,
                                    "1, labelled with the version and the source revision it was built from", labels),
                      1);
        rc = ss_metrics_add_collector(collect, NULL);
        if (rc == 0) g_started = 1;
    }
    pthread_mutex_unlock(&g_once);
    return rc;
}
