/* `check throughput`: can the ingester sustain the firehose, and how far above it can it go?
 * The prototype found 1,500 events/s sustained on one connection and 7,023 with 10 threads.
 *
 * Four phases of duration_s each, every one through the real ingester (src/buffer/ingest.c)
 * reading synth events into the check's prefix: paced at rate with 1 connection and with
 * `connections`, then unpaced (as fast as it goes) with 1 and with `connections`. Each phase
 * gives a per-second series of confirmed events, its mean and its coefficient of variation
 * (stddev / mean over every second but the first, the start-up: a sustained rate is a flat one), and the latency a Redis client sees meanwhile:
 * a probe connection XADDs a real event to a stream of its own every PROBE_EVERY_MS and times
 * each round trip into a histogram (check.h), because an ingester that keeps its rate by
 * saturating Redis makes every other client -- the writer first -- wait.
 *
 * Between phases the check's keys are deleted, so that each phase starts on an empty Redis and
 * no phase runs into the high watermark (the unpaced ones also stop early at MAX_FILL_PCT). */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buffer/ingest.h"
#include "check/check.h"
#include "util/clock.h"

#define PROBE_EVERY_MS 5
#define MAX_FILL_PCT 60.0
#define SYNTH_ENDLESS 1000000000LL

void ss_check_throughput_opts_init(ss_check_throughput_opts *o) {
    memset(o, 0, sizeof *o);
    o->duration_s = 20;
    o->rate = 1500;
    o->connections = 10;
    o->min_rate_pct = 95;
    o->max_cv = 0.1;
    o->min_max_events_per_s = 7023;
    o->p99_ms = 5;
    o->seed = 9;
}

typedef struct {
    ss_check_env *e;
    const ss_check_payloads *pl;
    volatile int stop;
    pthread_mutex_t mu; /* guards hist: the main thread snapshots it every second */
    ss_hist hist;
    int failed;
    char err[256];
} probe_t;


static void *probe_main(void *arg) {
    probe_t *p = arg;
    redisContext *c = ss_redis_target_connect(p->e->target, p->err, sizeof p->err, NULL);
    if (!c) {
        p->failed = 1;
        return NULL;
    }
    char key[192];
    snprintf(key, sizeof key, "%sthroughput:probe", p->e->prefix);
    for (int i = 0; !p->stop; i++) {
        int k = i % p->pl->n;
        uint64_t t0 = (uint64_t)ss_mono_ns();
        redisReply *r = redisCommand(c, "XADD %s MAXLEN ~ 1000 * %s %b", key, p->pl->meta[k], p->pl->event[k],
                                     p->pl->event_len[k]);
        if (!r || r->type == REDIS_REPLY_ERROR) {
            ss_redis_describe_error(c, r, p->err, sizeof p->err);
            if (r) freeReplyObject(r);
            p->failed = 1;
            break;
        }
        freeReplyObject(r);
        uint64_t dt = (uint64_t)ss_mono_ns() - t0;
        pthread_mutex_lock(&p->mu);
        ss_hist_record(&p->hist, dt);
        pthread_mutex_unlock(&p->mu);
        ss_sleep_us(PROBE_EVERY_MS * 1000);
    }
    redisFree(c);
    return NULL;
}

/* One phase. 0 ran, 1 interrupted, -1 error. */
static int phase(ss_check_env *e, const ss_check_throughput_opts *o, const ss_check_payloads *pl, int paced, int conns,
                 long long maxmem, double tcheck, double *mean_out, ss_check_report *r) {
    char name[48], spec[128];
    snprintf(name, sizeof name, "%s_c%d", paced ? "rate" : "max", conns);
    if (paced)
        snprintf(spec, sizeof spec, "synth:events=%lld,seed=%llu,pace=%.17g", SYNTH_ENDLESS, (unsigned long long)o->seed,
                 o->rate);
    else
        snprintf(spec, sizeof spec, "synth:events=%lld,seed=%llu", SYNTH_ENDLESS, (unsigned long long)o->seed);
    char sname[SS_CHECK_NAME_MAX];
    snprintf(sname, sizeof sname, "%s_events_per_s", name);
    ss_check_series *series = ss_check_series_new(r, sname, "events/s");
    snprintf(sname, sizeof sname, "%s_probe_p99_ms", name);
    ss_check_series *lat = ss_check_series_new(r, sname, "ms");
    probe_t pr;
    memset(&pr, 0, sizeof pr);
    pr.e = e;
    pr.pl = pl;
    ss_hist_init(&pr.hist);
    pthread_mutex_init(&pr.mu, NULL);
    ss_check_ingester it;
    if (ss_check_ingester_start(e, &it, spec, conns) != 0) {
        pthread_mutex_destroy(&pr.mu);
        return -1;
    }
    pthread_t pth;
    int probing = pthread_create(&pth, NULL, probe_main, &pr) == 0;
    double t0 = ss_check_now(), last_t = t0;
    uint64_t last_w = 0;
    double sum = 0, sumsq = 0;
    int n = 0, seen = 0, filled = 0, interrupted = 0;
    ss_hist win; /* the probe's latency in the last second, for the series */
    ss_hist_init(&win);
    static ss_hist prev, now; /* 18 KB each: off the stack */
    pthread_mutex_lock(&pr.mu);
    prev = pr.hist;
    pthread_mutex_unlock(&pr.mu);
    ss_ingest_stats st;
    while (ss_check_now() - t0 < o->duration_s && !ss_check_ingester_done(&it)) {
        ss_sleep_us(1000000);
        double t = ss_check_now();
        ss_ingest_get_stats(it.ing, &st);
        double v = (double)(st.written - last_w) / (t - last_t);
        ss_check_series_add(series, t - tcheck, v);
        /* the second's probe latencies: the difference of two snapshots of the histogram */
        pthread_mutex_lock(&pr.mu);
        now = pr.hist;
        pthread_mutex_unlock(&pr.mu);
        ss_hist_init(&win);
        for (int i = 0; i < SS_HIST_BUCKETS; i++) {
            win.counts[i] = now.counts[i] - prev.counts[i];
            win.total += win.counts[i];
        }
        win.max_ns = now.max_ns;
        prev = now;
        if (win.total) ss_check_series_add(lat, t - tcheck, (double)ss_hist_percentile(&win, 99) / 1e6);
        if (++seen > 1) { /* the first second holds the start-up: not part of "sustained" */
            sum += v;
            sumsq += v * v;
            n++;
        }
        last_w = st.written;
        last_t = t;
        long long used = 0;
        ss_check_progress(e, "throughput: %s: %.0f / %.0f s, %.0f events/s", name, t - t0, o->duration_s, v);
        if (!paced && ss_check_info_ll(e, "memory", "used_memory", &used) == 0 && maxmem > 0 &&
            100.0 * (double)used / (double)maxmem > MAX_FILL_PCT) {
            filled = 1;
            break;
        }
        if (ss_check_stopped(e)) {
            interrupted = 1;
            break;
        }
    }
    double elapsed = ss_check_now() - t0;
    pr.stop = 1;
    if (probing) pthread_join(pth, NULL);
    pthread_mutex_destroy(&pr.mu);
    int irc = ss_check_ingester_stop(e, &it, &st);
    if (irc != 0) return -1;
    if (pr.failed) return snprintf(e->errstr, sizeof e->errstr, "probe: %s", pr.err), -1;
    double mean = elapsed > 0 ? (double)st.written / elapsed : 0;
    double smean = n ? sum / n : 0;
    double sd = n > 1 ? sqrt(fmax(0, (sumsq - n * smean * smean) / (n - 1))) : 0;
    char f[SS_CHECK_NAME_MAX];
#define FIG(suffix, val, unit)                                      \
    do {                                                            \
        snprintf(f, sizeof f, "%s_%s", name, suffix);               \
        ss_check_figure_add(r, f, (val), unit);                     \
    } while (0)
    FIG("events_per_s", mean, "events/s");
    FIG("cv", smean > 0 ? sd / smean : 0, "");
    FIG("seconds", elapsed, "s");
    FIG("entries_written", (double)st.written, "entries");
    FIG("pauses", (double)st.pauses, "pauses");
    FIG("probe_p50_ms", (double)ss_hist_percentile(&pr.hist, 50) / 1e6, "ms");
    FIG("probe_p95_ms", (double)ss_hist_percentile(&pr.hist, 95) / 1e6, "ms");
    FIG("probe_p99_ms", (double)ss_hist_percentile(&pr.hist, 99) / 1e6, "ms");
    FIG("probe_p99_9_ms", (double)ss_hist_percentile(&pr.hist, 99.9) / 1e6, "ms");
    FIG("probe_samples", (double)pr.hist.total, "samples");
#undef FIG
    if (filled) ss_check_note(r, "%s stopped after %.1f s: Redis reached %.0f %% of maxmemory", name, elapsed, MAX_FILL_PCT);
    if (paced) {
        snprintf(f, sizeof f, "%s_rate_pct", name);
        ss_check_criterion_add(r, f, SS_CMP_GE, o->min_rate_pct, o->rate > 0 ? 100.0 * mean / o->rate : 0, "%",
                               "the ingester did not keep up with the paced source: it cannot sustain --rate");
        snprintf(f, sizeof f, "%s_cv", name);
        ss_check_criterion_add(r, f, SS_CMP_LE, o->max_cv, smean > 0 ? sd / smean : 0, "",
                               "the per-second rate varied too much to call it sustained (stalls or bursts)");
        snprintf(f, sizeof f, "%s_probe_p99", name);
        ss_check_criterion_add(r, f, SS_CMP_LT, o->p99_ms, (double)ss_hist_percentile(&pr.hist, 99) / 1e6, "ms",
                               "at this rate other Redis clients (the writer) wait too long");
    }
    *mean_out = mean;
    if (ss_check_cleanup(e) != 0) return -1; /* the next phase starts empty */
    return interrupted ? 1 : 0;
}

int ss_check_throughput(ss_check_env *e, const ss_check_throughput_opts *o, ss_check_report *r) {
    ss_check_input_num(r, "duration_s_per_phase", o->duration_s);
    ss_check_input_num(r, "rate", o->rate);
    ss_check_input_num(r, "connections", o->connections);
    ss_check_input_num(r, "min_rate_pct", o->min_rate_pct);
    ss_check_input_num(r, "max_cv", o->max_cv);
    ss_check_input_num(r, "min_max_events_per_s", o->min_max_events_per_s);
    ss_check_input_num(r, "p99_ms_max", o->p99_ms);
    ss_check_input_num(r, "seed", (double)o->seed);
    long long maxmem = 0;
    if (ss_check_info_ll(e, "memory", "maxmemory", &maxmem) != 0) return -1;
    ss_check_payloads pl;
    char err[256];
    if (ss_check_payloads_make(&pl, 256, o->seed + 1, err, sizeof err) != 0)
        return snprintf(e->errstr, sizeof e->errstr, "%s", err), -1;
    double tcheck = ss_check_now();
    int conns[2] = {1, o->connections};
    int nconns = o->connections > 1 ? 2 : 1;
    double best_max = 0;
    int rc = 0;
    for (int paced = 1; paced >= 0 && rc == 0; paced--)
        for (int i = 0; i < nconns && rc == 0; i++) {
            double m = 0;
            rc = phase(e, o, &pl, paced, conns[i], maxmem, tcheck, &m, r);
            if (!paced && m > best_max) best_max = m;
        }
    ss_check_payloads_free(&pl);
    if (rc < 0) return -1;
    if (rc == 1) {
        r->interrupted = 1;
        return 0;
    }
    ss_check_figure_add(r, "max_events_per_s", best_max, "events/s");
    ss_check_criterion_add(r, "max_events_per_s", SS_CMP_GE, o->min_max_events_per_s, best_max, "events/s",
                           "the ingester's best unpaced rate is below the threshold: too little headroom to catch up "
                           "after an outage");
    return 0;
}
