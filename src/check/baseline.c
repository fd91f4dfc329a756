/* `check baseline`: what one Redis round trip costs, before skyspool puts any load on it.
 *
 * Three operations, each timed per request with a monotonic clock into an HdrHistogram-style
 * histogram (check.h), because an average hides exactly the tail a buffer suffers from:
 *   set_get          SET then GET of a real event-sized value (each command one sample)
 *   xadd             XADD of the ingester's real entry shape (meta field, event JSON value)
 *   xreadgroup_xack  XREADGROUP COUNT 1 then XACK of that entry (the pair is one sample),
 *                    what a writer does per entry at its least batched
 * Each runs for o->seconds with one client, then with o->clients concurrent clients, each
 * on its own connection and thread. Throughput is operations completed / wall time.
 *
 * Criteria (the prototype's): p50 < 1 ms, p95 < 2 ms, p99 < 5 ms for every operation and
 * client count; throughput >= 15,000 ops/s for each operation at its best client count
 * (one client is latency-bound, so the throughput figure is the concurrent one). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check/check.h"
#include "util/clock.h"

enum { OP_SET_GET, OP_XADD, OP_XREAD_XACK, OP__COUNT };
static const char *const op_names[OP__COUNT] = {"set_get", "xadd", "xreadgroup_xack"};

#define BASELINE_MAX_CLIENTS 256
#define BASELINE_KEYS 1000 /* distinct SET/GET keys per client */

typedef struct {
    ss_check_env *env;
    const ss_check_payloads *pl;
    int op, id;
    double deadline;
    _Atomic uint64_t *ops;
    _Atomic int *exhausted;
    ss_hist hist;
    _Atomic uint64_t *wc; /* the same samples, counted per bucket where the sampler can read them */
    char err[512];
    int failed;
} worker;

/* A sample: into the worker's histogram and its bucket counts (relaxed atomics: each worker
 * writes only its own, the sampler only reads). */
static void rec(worker *w, uint64_t ns) {
    ss_hist_record(&w->hist, ns);
    atomic_fetch_add_explicit(&w->wc[ss_hist_bucket(ns)], 1, memory_order_relaxed);
}


static int reply_ok(redisContext *c, redisReply *r, char *err, size_t errlen) {
    if (r && r->type != REDIS_REPLY_ERROR) return 1;
    ss_redis_describe_error(c, r, err, errlen);
    return 0;
}

static void *worker_main(void *arg) {
    worker *w = arg;
    ss_check_env *e = w->env;
    redisContext *c = ss_redis_target_connect(e->target, w->err, sizeof w->err, NULL);
    if (!c) {
        w->failed = 1;
        return NULL;
    }
    char key[256], stream[192], group[192];
    snprintf(stream, sizeof stream, "%sbaseline:stream", e->prefix);
    snprintf(group, sizeof group, "skyspool-check");
    uint64_t i = 0;
    redisReply *r = NULL;
    while (!ss_check_stopped(e) && ss_check_now() < w->deadline) {
        int k = (int)((i + (uint64_t)w->id * 7919u) % (uint64_t)w->pl->n);
        uint64_t t0 = (uint64_t)ss_mono_ns();
        if (w->op == OP_SET_GET) {
            snprintf(key, sizeof key, "%sbaseline:kv:%d:%d", e->prefix, w->id, (int)(i % BASELINE_KEYS));
            r = redisCommand(c, "SET %s %b", key, w->pl->event[k], w->pl->event_len[k]);
            if (!reply_ok(c, r, w->err, sizeof w->err)) goto fail;
            freeReplyObject(r);
            uint64_t t1 = (uint64_t)ss_mono_ns();
            rec(w, t1 - t0);
            r = redisCommand(c, "GET %s", key);
            if (!reply_ok(c, r, w->err, sizeof w->err)) goto fail;
            freeReplyObject(r);
            rec(w, (uint64_t)ss_mono_ns() - t1);
            atomic_fetch_add(w->ops, 2);
        } else if (w->op == OP_XADD) {
            r = redisCommand(c, "XADD %s * %s %b", stream, w->pl->meta[k], w->pl->event[k], w->pl->event_len[k]);
            if (!reply_ok(c, r, w->err, sizeof w->err)) goto fail;
            freeReplyObject(r);
            rec(w, (uint64_t)ss_mono_ns() - t0);
            atomic_fetch_add(w->ops, 1);
        } else {
            char consumer[32];
            snprintf(consumer, sizeof consumer, "c%d", w->id);
            r = redisCommand(c, "XREADGROUP GROUP %s %s COUNT 1 STREAMS %s >", group, consumer, stream);
            if (!reply_ok(c, r, w->err, sizeof w->err)) goto fail;
            if (r->type != REDIS_REPLY_ARRAY || r->elements < 1) { /* nil: the stream is used up */
                freeReplyObject(r);
                atomic_store(w->exhausted, 1);
                break;
            }
            redisReply *entries = r->element[0]->element[1];
            if (entries->elements < 1) {
                freeReplyObject(r);
                atomic_store(w->exhausted, 1);
                break;
            }
            char id[64];
            snprintf(id, sizeof id, "%s", entries->element[0]->element[0]->str);
            freeReplyObject(r);
            r = redisCommand(c, "XACK %s %s %s", stream, group, id);
            if (!reply_ok(c, r, w->err, sizeof w->err)) goto fail;
            freeReplyObject(r);
            rec(w, (uint64_t)ss_mono_ns() - t0);
            atomic_fetch_add(w->ops, 1);
        }
        i++;
    }
    redisFree(c);
    return NULL;
fail:
    if (r) freeReplyObject(r);
    w->failed = 1;
    redisFree(c);
    return NULL;
}

void ss_check_baseline_opts_init(ss_check_baseline_opts *o) {
    memset(o, 0, sizeof *o);
    o->seconds = 5;
    o->clients = 4;
    o->p50_ms = 1;
    o->p95_ms = 2;
    o->p99_ms = 5;
    o->min_ops = 15000;
}

/* Runs one operation with n clients; fills hist and ops/s; 0, 1 interrupted, -1 error. */
static int run_phase(ss_check_env *e, const ss_check_baseline_opts *o, const ss_check_payloads *pl, int op, int n,
                     double t_start, ss_check_report *r, ss_hist *out, double *ops_s, int *exhausted_out) {
    worker *ws = calloc((size_t)n, sizeof *ws);
    pthread_t *th = calloc((size_t)n, sizeof *th);
    _Atomic uint64_t *wc = calloc((size_t)n * SS_HIST_BUCKETS, sizeof *wc);
    ss_hist *snap = calloc(2, sizeof *snap); /* the previous and the current sum of the counts */
    if (!ws || !th || !wc || !snap) {
        free(ws);
        free(th);
        free(wc);
        free(snap);
        snprintf(e->errstr, sizeof e->errstr, "out of memory");
        return -1;
    }
    _Atomic uint64_t ops = 0;
    _Atomic int exhausted = 0;
    char sname[SS_CHECK_NAME_MAX];
    snprintf(sname, sizeof sname, "%s_c%d_ops_per_s", op_names[op], n);
    ss_check_series *series = ss_check_series_new(r, sname, "ops/s");
    snprintf(sname, sizeof sname, "%s_c%d_p50_ms", op_names[op], n);
    ss_check_series *s50 = ss_check_series_new(r, sname, "ms");
    snprintf(sname, sizeof sname, "%s_c%d_p99_ms", op_names[op], n);
    ss_check_series *s99 = ss_check_series_new(r, sname, "ms");
    double t0 = ss_check_now();
    double deadline = t0 + o->seconds;
    int started = 0;
    for (int i = 0; i < n; i++) {
        ws[i].env = e;
        ws[i].pl = pl;
        ws[i].op = op;
        ws[i].id = i;
        ws[i].deadline = deadline;
        ws[i].ops = &ops;
        ws[i].exhausted = &exhausted;
        ws[i].wc = wc + (size_t)i * SS_HIST_BUCKETS;
        ss_hist_init(&ws[i].hist);
        if (pthread_create(&th[i], NULL, worker_main, &ws[i]) != 0) break;
        started++;
    }
    uint64_t last = 0;
    double last_t = t0;
    while (ss_check_now() < deadline && !ss_check_stopped(e) && !atomic_load(&exhausted)) {
        ss_sleep_us(100000);
        double t = ss_check_now();
        if (t - last_t >= 0.25) {
            uint64_t cur = atomic_load(&ops);
            ss_check_series_add(series, t - t_start, (double)(cur - last) / (t - last_t));
            /* the interval's latencies: the counts now minus the counts at the last sample */
            ss_hist *prev = &snap[0], *now = &snap[1], win;
            ss_hist_init(&win);
            for (int b = 0; b < SS_HIST_BUCKETS; b++) {
                uint64_t c = 0;
                for (int k = 0; k < started; k++) c += atomic_load_explicit(&wc[(size_t)k * SS_HIST_BUCKETS + b], memory_order_relaxed);
                now->counts[b] = c;
                win.counts[b] = c - prev->counts[b];
                win.total += win.counts[b];
            }
            win.max_ns = UINT64_MAX;
            memcpy(prev->counts, now->counts, sizeof prev->counts);
            if (win.total) {
                ss_check_series_add(s50, t - t_start, (double)ss_hist_percentile(&win, 50) / 1e6);
                ss_check_series_add(s99, t - t_start, (double)ss_hist_percentile(&win, 99) / 1e6);
            }
            last = cur;
            last_t = t;
            ss_check_progress(e, "baseline: %s, %d client%s: %.0f s left, %llu ops", op_names[op], n, n == 1 ? "" : "s",
                              deadline - t > 0 ? deadline - t : 0, (unsigned long long)cur);
        }
    }
    int rc = 0;
    for (int i = 0; i < started; i++) pthread_join(th[i], NULL);
    double elapsed = ss_check_now() - t0;
    ss_hist_init(out);
    for (int i = 0; i < started; i++) {
        if (ws[i].failed && rc == 0) {
            snprintf(e->errstr, sizeof e->errstr, "%s: %s", op_names[op], ws[i].err);
            rc = -1;
        }
        ss_hist_merge(out, &ws[i].hist);
    }
    if (started < n && rc == 0) {
        snprintf(e->errstr, sizeof e->errstr, "cannot start %d client threads", n);
        rc = -1;
    }
    /* SET/GET counts two commands per loop; ops/s counts commands, as redis-benchmark does */
    *ops_s = elapsed > 0 ? (double)atomic_load(&ops) / elapsed : 0;
    *exhausted_out = atomic_load(&exhausted);
    free(ws);
    free(th);
    free(wc);
    free(snap);
    if (rc == 0 && ss_check_stopped(e)) rc = 1;
    return rc;
}

int ss_check_baseline(ss_check_env *e, const ss_check_baseline_opts *o, ss_check_report *r) {
    double t_start = ss_check_now();
    int nclients[2] = {1, o->clients};
    int nruns = o->clients > 1 ? 2 : 1;
    if (o->clients > BASELINE_MAX_CLIENTS) {
        snprintf(e->errstr, sizeof e->errstr, "--clients is at most %d", BASELINE_MAX_CLIENTS);
        return -1;
    }
    ss_check_input_num(r, "seconds_per_phase", o->seconds);
    ss_check_input_num(r, "clients", o->clients);
    ss_check_input_num(r, "p50_ms_max", o->p50_ms);
    ss_check_input_num(r, "p95_ms_max", o->p95_ms);
    ss_check_input_num(r, "p99_ms_max", o->p99_ms);
    ss_check_input_num(r, "min_ops_per_s", o->min_ops);
    ss_check_payloads pl;
    if (ss_check_payloads_make(&pl, 256, 1, e->errstr, sizeof e->errstr) != 0) return -1;
    size_t bytes = 0;
    for (int i = 0; i < pl.n; i++) bytes += pl.event_len[i];
    ss_check_input_num(r, "value_bytes_mean", (double)bytes / pl.n);
    char stream[192];
    snprintf(stream, sizeof stream, "%sbaseline:stream", e->prefix);
    int rc = 0;
    for (int op = 0; op < OP__COUNT && rc == 0; op++) {
        double best_ops = 0;
        int best_n = 1;
        for (int k = 0; k < nruns && rc == 0; k++) {
            int n = nclients[k];
            if (op == OP_XREAD_XACK) {
                /* a fresh group at the start of the stream that the xadd phases filled */
                redisReply *x = ss_check_cmd(e, "XGROUP DESTROY %s skyspool-check", stream);
                if (x) freeReplyObject(x);
                x = ss_check_cmd(e, "XGROUP CREATE %s skyspool-check 0 MKSTREAM", stream);
                if (!x) {
                    rc = -1;
                    break;
                }
                freeReplyObject(x);
            }
            ss_hist h;
            double ops_s = 0;
            int exhausted = 0;
            rc = run_phase(e, o, &pl, op, n, t_start, r, &h, &ops_s, &exhausted);
            if (rc != 0) break;
            char name[SS_CHECK_NAME_MAX];
            const double pcts[] = {50, 95, 99, 99.9};
            const char *pnames[] = {"p50", "p95", "p99", "p99_9"};
            double v[4];
            for (int j = 0; j < 4; j++) {
                v[j] = (double)ss_hist_percentile(&h, pcts[j]) / 1e6;
                snprintf(name, sizeof name, "%s_c%d_%s_ms", op_names[op], n, pnames[j]);
                ss_check_figure_add(r, name, v[j], "ms");
            }
            snprintf(name, sizeof name, "%s_c%d_max_ms", op_names[op], n);
            ss_check_figure_add(r, name, (double)h.max_ns / 1e6, "ms");
            snprintf(name, sizeof name, "%s_c%d_ops_per_s", op_names[op], n);
            ss_check_figure_add(r, name, ops_s, "ops/s");
            snprintf(name, sizeof name, "%s_c%d_samples", op_names[op], n);
            ss_check_figure_add(r, name, (double)h.total, "ops");
            if (exhausted)
                ss_check_note(r, "%s with %d client(s) used up the entries the xadd phases wrote before its time was up",
                              op_names[op], n);
            const double th[3] = {o->p50_ms, o->p95_ms, o->p99_ms};
            for (int j = 0; j < 3; j++) {
                char why[256];
                snprintf(why, sizeof why,
                         "a slow round trip: look at the host's load, swap, network path and Redis's latency monitor "
                         "(LATENCY DOCTOR)");
                snprintf(name, sizeof name, "%s_c%d_%s", op_names[op], n, pnames[j]);
                ss_check_criterion_add(r, name, SS_CMP_LT, th[j], v[j], "ms", why);
            }
            if (ops_s > best_ops) {
                best_ops = ops_s;
                best_n = n;
            }
        }
        if (rc != 0) break;
        char name[SS_CHECK_NAME_MAX], why[256];
        snprintf(name, sizeof name, "%s_throughput", op_names[op]);
        snprintf(why, sizeof why,
                 "best of 1 and %d clients (%d reached it); below the prototype's 15,000 ops/s the buffer has less "
                 "headroom over the firehose's 2,000 events/s peak",
                 o->clients, best_n);
        ss_check_criterion_add(r, name, SS_CMP_GE, o->min_ops, best_ops, "ops/s", why);
    }
    ss_check_payloads_free(&pl);
    if (rc == 1) r->interrupted = 1;
    return rc < 0 ? -1 : 0;
}
