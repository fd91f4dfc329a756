/* See metrics.h. Values are _Atomic doubles updated with compare-and-swap, so hot paths
 * (the ingester, the writer) never take a lock; the registry's mutex only guards
 * registration and rendering, which are rare. */
#include "metrics/metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ss_metric {
    char name[96];
    char labels[160];
    char help[200];
    ss_metric_kind kind;
    _Atomic double value;
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

void ss_metric_add(ss_metric *m, double v) {
    if (!m) return;
    double cur = atomic_load(&m->value);
    while (!atomic_compare_exchange_weak(&m->value, &cur, cur + v)) {
    }
}

void ss_metric_inc(ss_metric *m) { ss_metric_add(m, 1.0); }

void ss_metric_set(ss_metric *m, double v) {
    if (m) atomic_store(&m->value, v);
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

int ss_metrics_render(ss_buf *out) {
    static const char *const types[] = {"counter", "gauge"};
    int rc = 0;
    run_collectors();
    pthread_mutex_lock(&g_lock);
    /* Families in order of first registration; each family's series follow its header. */
    for (size_t i = 0; i < g_count && rc == 0; i++) {
        int seen = 0;
        for (size_t j = 0; j < i && !seen; j++) seen = !strcmp(g_metrics[j].name, g_metrics[i].name);
        if (seen) continue;
        rc |= ss_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", g_metrics[i].name, g_metrics[i].help,
                            g_metrics[i].name, types[g_metrics[i].kind]);
        for (size_t j = i; j < g_count && rc == 0; j++) {
            const ss_metric *m = &g_metrics[j];
            if (strcmp(m->name, g_metrics[i].name)) continue;
            rc |= m->labels[0] ? ss_buf_printf(out, "%s{%s} ", m->name, m->labels) : ss_buf_printf(out, "%s ", m->name);
            rc |= render_value(out, atomic_load(&g_metrics[j].value));
            rc |= ss_buf_putc(out, '\n');
        }
    }
    pthread_mutex_unlock(&g_lock);
    return rc ? -1 : 0;
}
