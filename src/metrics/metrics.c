/* See metrics.h. Values are _Atomic doubles updated with compare-and-swap, so hot paths
 * (the ingester, the writer) never take a lock; the registry's mutex only guards
 * registration and rendering, which are rare. */
#include "metrics/metrics.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct ss_metric {
    char name[96];
    char labels[160];
    char help[200];
    ss_metric_kind kind;
    _Atomic double value;
    _Atomic int unset; /* 1: not rendered until the next set/add */
};

static ss_metric g_metrics[SS_METRICS_MAX];
static size_t g_count;
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;

static int valid_name(const char *s) {
    if (!s || !*s) return 0;
    for (const char *p = s; *p; p++) {
        int ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_' || *p == ':' ||
                 (p != s && *p >= '0' && *p <= '9');
        if (!ok) return 0;
    }
    return 1;
}

ss_metric *ss_metric_get(const char *name, ss_metric_kind kind, const char *help, const char *labels) {
    if (!valid_name(name) || strlen(name) >= sizeof g_metrics[0].name) return NULL;
    if (!labels) labels = "";
    if (strlen(labels) >= sizeof g_metrics[0].labels) return NULL;
    pthread_mutex_lock(&g_lock);
    ss_metric *m = NULL;
    for (size_t i = 0; i < g_count && !m; i++)
        if (!strcmp(g_metrics[i].name, name) && !strcmp(g_metrics[i].labels, labels)) m = &g_metrics[i];
    if (!m && g_count < SS_METRICS_MAX) {
        m = &g_metrics[g_count++];
        snprintf(m->name, sizeof m->name, "%s", name);
        snprintf(m->labels, sizeof m->labels, "%s", labels);
        snprintf(m->help, sizeof m->help, "%s", help ? help : "");
        m->kind = kind;
        atomic_store(&m->value, 0.0);
    }
    pthread_mutex_unlock(&g_lock);
    return m;
}

ss_metric *ss_metric_find(const char *name, const char *labels) {
    if (!name) return NULL;
    if (!labels) labels = "";
    pthread_mutex_lock(&g_lock);
    ss_metric *m = NULL;
    for (size_t i = 0; i < g_count && !m; i++)
        if (!strcmp(g_metrics[i].name, name) && !strcmp(g_metrics[i].labels, labels)) m = &g_metrics[i];
    pthread_mutex_unlock(&g_lock);
    return m;
}

void ss_metric_add(ss_metric *m, double v) {
    if (!m) return;
    atomic_store(&m->unset, 0);
    double cur = atomic_load(&m->value);
    while (!atomic_compare_exchange_weak(&m->value, &cur, cur + v)) {
    }
}

void ss_metric_inc(ss_metric *m) { ss_metric_add(m, 1.0); }

void ss_metric_set(ss_metric *m, double v) {
    if (!m) return;
    atomic_store(&m->value, v);
    atomic_store(&m->unset, 0);
}

void ss_metric_unset(ss_metric *m) {
    if (m) atomic_store(&m->unset, 1);
}

int ss_metric_is_set(const ss_metric *m) { return m && !atomic_load(&((ss_metric *)m)->unset); }

/* ---- histograms: rare observations (one per commit batch), so a mutex is fine ---------- */
#define SS_HISTOGRAMS_MAX 32
struct ss_histogram {
    char name[96];
    char labels[160];
    char help[200];
    double bounds[SS_HISTOGRAM_MAX_BUCKETS];
    size_t nbounds;
    uint64_t counts[SS_HISTOGRAM_MAX_BUCKETS + 1]; /* per bucket, not cumulative; last: +Inf */
    double sum;
};
static ss_histogram g_hist[SS_HISTOGRAMS_MAX];
static size_t g_nhist;

ss_histogram *ss_histogram_get(const char *name, const char *help, const char *labels, const double *bounds,
                               size_t nbounds) {
    if (!valid_name(name) || strlen(name) >= sizeof g_hist[0].name || nbounds > SS_HISTOGRAM_MAX_BUCKETS) return NULL;
    if (!labels) labels = "";
    if (strlen(labels) >= sizeof g_hist[0].labels) return NULL;
    for (size_t i = 1; i < nbounds; i++)
        if (!(bounds[i] > bounds[i - 1])) return NULL;
    pthread_mutex_lock(&g_lock);
    ss_histogram *h = NULL;
    for (size_t i = 0; i < g_nhist && !h; i++)
        if (!strcmp(g_hist[i].name, name) && !strcmp(g_hist[i].labels, labels)) h = &g_hist[i];
    if (!h && g_nhist < SS_HISTOGRAMS_MAX) {
        h = &g_hist[g_nhist++];
        memset(h, 0, sizeof *h);
        snprintf(h->name, sizeof h->name, "%s", name);
        snprintf(h->labels, sizeof h->labels, "%s", labels);
        snprintf(h->help, sizeof h->help, "%s", help ? help : "");
        memcpy(h->bounds, bounds, nbounds * sizeof *bounds);
        h->nbounds = nbounds;
    }
    pthread_mutex_unlock(&g_lock);
    return h;
}

void ss_histogram_observe(ss_histogram *h, double v) {
    if (!h || isnan(v)) return;
    pthread_mutex_lock(&g_lock);
    size_t b = 0;
    while (b < h->nbounds && v > h->bounds[b]) b++;
    h->counts[b]++;
    h->sum += v;
    pthread_mutex_unlock(&g_lock);
}

/* ---- health checks ------------------------------------------------------------------- */
#define SS_MAX_HEALTH 8
static struct {
    ss_health_check fn;
    void *ctx;
} g_health[SS_MAX_HEALTH];
static pthread_mutex_t g_health_lock = PTHREAD_MUTEX_INITIALIZER;

int ss_metrics_add_health(ss_health_check fn, void *ctx) {
    int rc = -1;
    pthread_mutex_lock(&g_health_lock);
    for (size_t i = 0; i < SS_MAX_HEALTH && rc < 0; i++)
        if (!g_health[i].fn) g_health[i].fn = fn, g_health[i].ctx = ctx, rc = 0;
    pthread_mutex_unlock(&g_health_lock);
    return rc;
}

void ss_metrics_remove_health(ss_health_check fn, void *ctx) {
    pthread_mutex_lock(&g_health_lock);
    for (size_t i = 0; i < SS_MAX_HEALTH; i++)
        if (g_health[i].fn == fn && g_health[i].ctx == ctx) g_health[i].fn = NULL, g_health[i].ctx = NULL;
    pthread_mutex_unlock(&g_health_lock);
}

int ss_metrics_health(ss_buf *why) {
    int failing = 0;
    pthread_mutex_lock(&g_health_lock); /* held while they run, as for collectors */
    for (size_t i = 0; i < SS_MAX_HEALTH; i++) {
        if (!g_health[i].fn) continue;
        char reason[512] = "";
        if (g_health[i].fn(g_health[i].ctx, reason, sizeof reason) != 0) {
            failing++;
            ss_buf_printf(why, "%s\n", reason[0] ? reason : "unhealthy");
        }
    }
    pthread_mutex_unlock(&g_health_lock);
    return failing;
}

double ss_metric_value(const ss_metric *m) { return m ? atomic_load(&((ss_metric *)m)->value) : 0.0; }

#define SS_MAX_COLLECTORS 8
static struct {
    ss_metrics_collector fn;
    void *ctx;
} g_collectors[SS_MAX_COLLECTORS];
static pthread_mutex_t g_collect_lock = PTHREAD_MUTEX_INITIALIZER;

int ss_metrics_add_collector(ss_metrics_collector fn, void *ctx) {
    int rc = -1;
    pthread_mutex_lock(&g_collect_lock);
    for (size_t i = 0; i < SS_MAX_COLLECTORS && rc < 0; i++)
        if (!g_collectors[i].fn) g_collectors[i].fn = fn, g_collectors[i].ctx = ctx, rc = 0;
    pthread_mutex_unlock(&g_collect_lock);
    return rc;
}

void ss_metrics_remove_collector(ss_metrics_collector fn, void *ctx) {
    pthread_mutex_lock(&g_collect_lock);
    for (size_t i = 0; i < SS_MAX_COLLECTORS; i++)
        if (g_collectors[i].fn == fn && g_collectors[i].ctx == ctx) g_collectors[i].fn = NULL, g_collectors[i].ctx = NULL;
    pthread_mutex_unlock(&g_collect_lock);
}

/* Runs the collectors; holding g_collect_lock also keeps a collector from being removed
 * (and its ctx freed) while it runs. */
static void run_collectors(void) {
    pthread_mutex_lock(&g_collect_lock);
    for (size_t i = 0; i < SS_MAX_COLLECTORS; i++)
        if (g_collectors[i].fn) g_collectors[i].fn(g_collectors[i].ctx);
    pthread_mutex_unlock(&g_collect_lock);
}

static int render_value(ss_buf *out, double v) {
    if (isnan(v)) return ss_buf_puts(out, "NaN");
    if (isinf(v)) return ss_buf_puts(out, v > 0 ? "+Inf" : "-Inf");
    if (v == floor(v) && fabs(v) < 9e15) return ss_buf_printf(out, "%.0f", v);
    return ss_buf_printf(out, "%.17g", v);
}

/* skip_process: leave out process_* (a node_exporter textfile must not repeat the exporter's own) */
static int render(ss_buf *out, int skip_process) {
    static const char *const types[] = {"counter", "gauge"};
    int rc = 0;
    run_collectors();
    pthread_mutex_lock(&g_lock);
    /* Families in order of first registration; each family's series follow its header. */
    for (size_t i = 0; i < g_count && rc == 0; i++) {
        int seen = 0;
        for (size_t j = 0; j < i && !seen; j++) seen = !strcmp(g_metrics[j].name, g_metrics[i].name);
        if (seen || (skip_process && !strncmp(g_metrics[i].name, "process_", 8))) continue;
        rc |= ss_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", g_metrics[i].name, g_metrics[i].help,
                            g_metrics[i].name, types[g_metrics[i].kind]);
        for (size_t j = i; j < g_count && rc == 0; j++) {
            const ss_metric *m = &g_metrics[j];
            if (strcmp(m->name, g_metrics[i].name) || atomic_load(&m->unset)) continue;
            rc |= m->labels[0] ? ss_buf_printf(out, "%s{%s} ", m->name, m->labels) : ss_buf_printf(out, "%s ", m->name);
            rc |= render_value(out, atomic_load(&g_metrics[j].value));
            rc |= ss_buf_putc(out, '\n');
        }
    }
    for (size_t i = 0; i < g_nhist && rc == 0; i++) {
        int seen = 0;
        for (size_t j = 0; j < i && !seen; j++) seen = !strcmp(g_hist[j].name, g_hist[i].name);
        if (seen) continue;
        rc |= ss_buf_printf(out, "# HELP %s %s\n# TYPE %s histogram\n", g_hist[i].name, g_hist[i].help, g_hist[i].name);
        for (size_t j = i; j < g_nhist && rc == 0; j++) {
            const ss_histogram *h = &g_hist[j];
            if (strcmp(h->name, g_hist[i].name)) continue;
            const char *sep = h->labels[0] ? "," : "";
            uint64_t cum = 0;
            for (size_t b = 0; b <= h->nbounds; b++) {
                cum += h->counts[b];
                rc |= ss_buf_printf(out, "%s_bucket{%s%sle=\"", h->name, h->labels, sep);
                if (b < h->nbounds) rc |= ss_buf_printf(out, "%.15g", h->bounds[b]);
                else rc |= ss_buf_puts(out, "+Inf");
                rc |= ss_buf_printf(out, "\"} %llu\n", (unsigned long long)cum);
            }
            rc |= h->labels[0] ? ss_buf_printf(out, "%s_sum{%s} ", h->name, h->labels) : ss_buf_printf(out, "%s_sum ", h->name);
            rc |= render_value(out, h->sum);
            rc |= h->labels[0] ? ss_buf_printf(out, "\n%s_count{%s} %llu\n", h->name, h->labels, (unsigned long long)cum)
                               : ss_buf_printf(out, "\n%s_count %llu\n", h->name, (unsigned long long)cum);
        }
    }
    pthread_mutex_unlock(&g_lock);
    return rc ? -1 : 0;
}

int ss_metrics_render(ss_buf *out) { return render(out, 0); }

int ss_metrics_write_textfile(const char *path, char *err, size_t errlen) {
    ss_buf b;
    ss_buf_init(&b);
    ss_metric_set(ss_metric_get("skyspool_textfile_timestamp_seconds", SS_METRIC_GAUGE,
                                "wall clock when this textfile was written (its age tells a batch run's staleness)", NULL),
                  (double)time(NULL));
    if (render(&b, 1) != 0) {
        ss_buf_free(&b);
        snprintf(err, errlen, "out of memory rendering metrics");
        return -1;
    }
    char tmp[4096];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= sizeof tmp) {
        ss_buf_free(&b);
        snprintf(err, errlen, "metrics textfile path too long");
        return -1;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int rc = fd < 0 ? -1 : 0;
    for (size_t off = 0; rc == 0 && off < b.len;) {
        ssize_t w = write(fd, b.data + off, b.len - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) rc = -1;
        else off += (size_t)w;
    }
    if (rc == 0 && fsync(fd) != 0) rc = -1;
    int saved = errno;
    if (fd >= 0 && close(fd) != 0 && rc == 0) rc = -1, saved = errno;
    if (rc == 0 && rename(tmp, path) != 0) rc = -1, saved = errno;
    ss_buf_free(&b);
    if (rc != 0) {
        unlink(tmp);
        snprintf(err, errlen, "cannot write metrics textfile (%s): %s", strerror(saved), path);
        return -1;
    }
    /* the rename durable too: node_exporter must never read a half file, nor none after a crash */
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == dir) slash[1] = '\0';
    else if (slash) *slash = '\0';
    else snprintf(dir, sizeof dir, ".");
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return 0;
}
