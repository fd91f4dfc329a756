/* `check pressure`: what happens when the buffer is full. The prototype ran Redis with
 * allkeys-lru and found "no evictions (unexpected)"; the lesson is that an evicting Redis
 * loses data silently whenever it does evict, so the check must FAIL it and say why, while a
 * noeviction Redis with the ingester's watermark must show pauses and no loss.
 *
 * How: the real ingester (src/buffer/ingest.c) reads an endless synth source into the
 * check's prefix with its high watermark at target_pct of maxmemory, until it pauses there
 * (the fill); the check then holds that state for duration_s while sampling used_memory,
 * evicted_keys and what the ingester still manages to write (the prototype's "ops/s under
 * pressure"); then a drainer (the writer's role: read and delete entries) empties the
 * streams, the ingester resumes, is stopped, and the drained entries are counted against
 * what Redis confirmed to the ingester. Anything confirmed but not drained was lost.
 *
 * Against an external Redis the fill would squeeze everything else in it, so the check
 * refuses a Redis that holds any key outside its prefix. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buffer/ingest.h"
#include "check/check.h"
#include "util/clock.h"

#define PRESSURE_DRAIN_COUNT 1000
#define PRESSURE_SYNTH_EVENTS 1000000000LL
#define PRESSURE_REACH_MARGIN_PCT 5.0 /* reached_pressure: within this many points of --target-pct */

void ss_check_pressure_opts_init(ss_check_pressure_opts *o) {
    memset(o, 0, sizeof *o);
    o->duration_s = 300;
    o->target_pct = 95;
    o->fill_timeout_s = 180;
    o->seed = 3;
}

typedef struct {
    ss_ingest *ing;
    ss_source *src;
    volatile sig_atomic_t stop;
    int rc;
    int done;
} ingest_thread;

static void *ingest_main(void *arg) {
    ingest_thread *it = arg;
    it->rc = ss_ingest_run(it->ing, it->src, &it->stop);
    __atomic_store_n(&it->done, 1, __ATOMIC_RELEASE);
    return NULL;
}

typedef struct {
    long long used, max, evicted;
} mem_sample;

static int sample(ss_check_env *e, mem_sample *m) {
    char *info = ss_redis_info(e->c, "memory", e->errstr, sizeof e->errstr);
    if (!info) return -1;
    ss_redis_info_ll(info, "used_memory", &m->used);
    if (ss_redis_info_ll(info, "maxmemory", &m->max) != 0) m->max = 0;
    free(info);
    return ss_check_info_ll(e, "stats", "evicted_keys", &m->evicted);
}

/* One pass over every stream: read up to PRESSURE_DRAIN_COUNT entries of each and delete
 * them. Adds what was drained to *drained; returns the count of this pass or -1. */
static long long drain_pass(ss_check_env *e, long long *drained) {
    long long pass = 0;
    for (int t = 0; t <= SS_TYPE__COUNT; t++) {
        char key[192];
        if (t == SS_TYPE__COUNT) snprintf(key, sizeof key, "%sdlq", e->prefix);
        else ss_ingest_stream_key(e->prefix, (ss_type)t, key, sizeof key);
        redisReply *r = ss_check_cmd(e, "XRANGE %s - + COUNT %d", key, PRESSURE_DRAIN_COUNT);
        if (!r) return -1;
        size_t n = r->type == REDIS_REPLY_ARRAY ? r->elements : 0;
        if (n) {
            const char **argv = malloc((n + 2) * sizeof *argv);
            size_t *lens = malloc((n + 2) * sizeof *lens);
            if (!argv || !lens) {
                free(argv);
                free(lens);
                freeReplyObject(r);
                return snprintf(e->errstr, sizeof e->errstr, "out of memory"), -1;
            }
            argv[0] = "XDEL";
            lens[0] = 4;
            argv[1] = key;
            lens[1] = strlen(key);
            for (size_t i = 0; i < n; i++) {
                argv[i + 2] = r->element[i]->element[0]->str;
                lens[i + 2] = r->element[i]->element[0]->len;
            }
            redisReply *d = redisCommandArgv(e->c, (int)(n + 2), argv, lens);
            free(argv);
            free(lens);
            if (!d || d->type == REDIS_REPLY_ERROR) {
                ss_redis_describe_error(e->c, d, e->errstr, sizeof e->errstr);
                if (d) freeReplyObject(d);
                freeReplyObject(r);
                return -1;
            }
            *drained += d->integer;
            pass += d->integer;
            freeReplyObject(d);
        }
        freeReplyObject(r);
    }
    return pass;
}

int ss_check_pressure(ss_check_env *e, const ss_check_pressure_opts *o, ss_check_report *r) {
    double t_start = ss_check_now();
    ss_check_input_num(r, "duration_s", o->duration_s);
    ss_check_input_num(r, "target_pct", o->target_pct);
    ss_check_input_num(r, "seed", (double)o->seed);
    char policy[64] = "?";
    redisReply *x = ss_check_cmd(e, "CONFIG GET maxmemory-policy");
    if (!x) return -1;
    if (x->elements == 2) snprintf(policy, sizeof policy, "%s", x->element[1]->str);
    freeReplyObject(x);
    ss_check_input_str(r, "maxmemory_policy", policy);
    mem_sample m0;
    if (sample(e, &m0) != 0) return -1;
    if (m0.max <= 0) {
        snprintf(e->errstr, sizeof e->errstr,
                 "this Redis has no maxmemory: pressure needs a limit to press against (CONFIG SET maxmemory, or run "
                 "the check on the embedded Redis with --maxmemory)");
        return -1;
    }
    ss_check_input_num(r, "maxmemory_bytes", (double)m0.max);
    if (!e->embedded) {
        x = ss_check_cmd(e, "DBSIZE");
        if (!x) return -1;
        long long n = x->integer;
        freeReplyObject(x);
        if (n > 0) {
            snprintf(e->errstr, sizeof e->errstr,
                     "refusing to fill this Redis to %.0f %% of maxmemory: it holds %lld other key(s), which would "
                     "share the squeeze (run it against an empty Redis, or the embedded one)",
                     o->target_pct, n);
            return -1;
        }
    }
    char err[512];
    ss_source *src = ss_check_synth_open(PRESSURE_SYNTH_EVENTS, o->seed, err, sizeof err);
    if (!src) return snprintf(e->errstr, sizeof e->errstr, "%s", err), -1;
    ss_ingest_opts io;
    ss_ingest_opts_init(&io);
    io.prefix = e->prefix;
    io.ignore_cursor = 1;
    io.horizon_us = 0;
    io.high_watermark = o->target_pct / 100.0;
    io.low_watermark = io.high_watermark - 0.05;
    io.allow_eviction = 1; /* to show what an evicting Redis does; the policy criterion fails it */
    ss_ingest *ing = ss_ingest_new(&io, e->target);
    if (!ing) {
        ss_source_close(src);
        return snprintf(e->errstr, sizeof e->errstr, "out of memory"), -1;
    }
    static ingest_thread it;
    memset(&it, 0, sizeof it);
    it.ing = ing;
    it.src = src;
    pthread_t th;
    if (pthread_create(&th, NULL, ingest_main, &it) != 0) {
        ss_ingest_free(ing);
        ss_source_close(src);
        return snprintf(e->errstr, sizeof e->errstr, "cannot start the ingester thread"), -1;
    }
    ss_check_series *s_mem = ss_check_series_new(r, "used_memory_pct", "%");
    ss_check_series *s_rate = ss_check_series_new(r, "ingest_events_per_s", "events/s");
    ss_ingest_stats st;
    mem_sample m;
    int rc = 0;
    double peak = 0, hold_min = 1e9;
    uint64_t last_written = 0;
    double last_t = ss_check_now();
    /* 1. fill */
    double t_fill0 = ss_check_now(), t_fill = 0;
    int reached = 0;
    for (;;) {
        ss_sleep_us(100000);
        if (sample(e, &m) != 0) {
            rc = -1;
            break;
        }
        ss_ingest_get_stats(ing, &st);
        double now = ss_check_now(), pct = 100.0 * (double)m.used / (double)m.max;
        if (pct > peak) peak = pct;
        ss_check_series_add(s_mem, now - t_start, pct);
        ss_check_series_add(s_rate, now - t_start, (double)(st.written - last_written) / (now - last_t));
        last_written = st.written;
        last_t = now;
        ss_check_progress(e, "pressure: filling: %.1f %% of maxmemory, %llu events", pct, (unsigned long long)st.written);
        /* The ingester pauses on its estimate (INFO plus what was sent since), which runs
         * ahead of Redis's used_memory while replies lag (a loaded host): it resumes at once
         * when the next INFO shows memory below its low watermark. So the fill ends when it
         * has paused with memory really near the target, not at its first pause. */
        if (st.paused && pct >= o->target_pct - PRESSURE_REACH_MARGIN_PCT) {
            reached = 1;
            break;
        }
        if (ss_check_stopped(e) || __atomic_load_n(&it.done, __ATOMIC_ACQUIRE)) break;
        if (now - t_fill0 > o->fill_timeout_s) {
            reached = st.pauses > 0; /* hold anyway; reached_pressure FAILs on the peak */
            break;
        }
    }
    t_fill = ss_check_now() - t_fill0;
    uint64_t written_fill = st.written;
    ss_check_figure_add(r, "fill_s", t_fill, "s");
    ss_check_figure_add(r, "fill_events_per_s", t_fill > 0 ? (double)written_fill / t_fill : 0, "events/s");
    if (!reached && rc == 0 && !ss_check_stopped(e))
        ss_check_note(r, "the ingester never paused within %.0f s: memory did not reach the watermark",
                      o->fill_timeout_s);
    /* 2. hold */
    double t_hold0 = ss_check_now();
    uint64_t written_hold0 = st.written;
    while (rc == 0 && reached && !ss_check_stopped(e) && ss_check_now() - t_hold0 < o->duration_s) {
        ss_sleep_us(200000);
        if (sample(e, &m) != 0) {
            rc = -1;
            break;
        }
        ss_ingest_get_stats(ing, &st);
        double now = ss_check_now(), pct = 100.0 * (double)m.used / (double)m.max;
        if (pct > peak) peak = pct;
        if (pct < hold_min) hold_min = pct;
        ss_check_series_add(s_mem, now - t_start, pct);
        ss_check_series_add(s_rate, now - t_start, (double)(st.written - last_written) / (now - last_t));
        last_written = st.written;
        last_t = now;
        ss_check_progress(e, "pressure: holding at %.1f %% of maxmemory, %.0f s left", pct,
                          o->duration_s - (now - t_hold0));
        if (__atomic_load_n(&it.done, __ATOMIC_ACQUIRE)) break;
    }
    double hold_s = ss_check_now() - t_hold0;
    ss_ingest_get_stats(ing, &st);
    double hold_rate = hold_s > 0 ? (double)(st.written - written_hold0) / hold_s : 0;
    /* 3. drain while the ingester resumes, then stop it and drain the rest */
    long long drained = 0;
    double t_drain0 = ss_check_now();
    uint64_t pauses_before_drain = st.pauses;
    while (rc == 0 && !ss_check_stopped(e)) {
        if (drain_pass(e, &drained) < 0) {
            rc = -1;
            break;
        }
        ss_ingest_get_stats(ing, &st);
        ss_check_progress(e, "pressure: draining: %lld entries", drained);
        /* let it resume and write at least another watermark's worth, or a few seconds */
        if (ss_check_now() - t_drain0 > 3 || __atomic_load_n(&it.done, __ATOMIC_ACQUIRE)) break;
    }
    it.stop = 1;
    pthread_join(th, NULL);
    ss_ingest_get_stats(ing, &st);
    if (it.rc != 0 && rc == 0) {
        snprintf(e->errstr, sizeof e->errstr, "ingest: %s", ss_ingest_errstr(ing));
        rc = -1;
    }
    for (int empty = 0; rc == 0 && !ss_check_stopped(e) && empty < 2;) {
        long long n = drain_pass(e, &drained);
        if (n < 0) rc = -1;
        else empty = n == 0 ? empty + 1 : 0;
    }
    double drain_s = ss_check_now() - t_drain0;
    mem_sample m1 = m0;
    if (rc == 0 && sample(e, &m1) != 0) rc = -1;
    ss_ingest_free(ing);
    ss_source_close(src);
    if (ss_check_stopped(e)) rc = 1;
    if (rc != 0) {
        if (rc == 1) r->interrupted = 1;
        return rc < 0 ? -1 : 0;
    }
    long long written = (long long)(st.written + st.dlq);
    long long lost = written - drained;
    long long evicted = m1.evicted - m0.evicted;
    ss_check_figure_add(r, "peak_used_memory_pct", peak, "%");
    ss_check_figure_add(r, "hold_min_used_memory_pct", reached ? hold_min : 0, "%");
    ss_check_figure_add(r, "hold_s", hold_s, "s");
    ss_check_figure_add(r, "hold_events_per_s", hold_rate, "events/s");
    ss_check_figure_add(r, "pauses", (double)st.pauses, "pauses");
    ss_check_figure_add(r, "pauses_after_drain_started", (double)(st.pauses - pauses_before_drain), "pauses");
    ss_check_figure_add(r, "oom_replies", (double)st.oom_replies, "replies");
    ss_check_figure_add(r, "resent", (double)st.resent, "entries");
    ss_check_figure_add(r, "entries_confirmed", (double)written, "entries");
    ss_check_figure_add(r, "entries_drained", (double)drained, "entries");
    ss_check_figure_add(r, "entries_lost", (double)lost, "entries");
    ss_check_figure_add(r, "evicted_keys", (double)evicted, "keys");
    ss_check_figure_add(r, "drain_s", drain_s, "s");
    int noevict = !strcmp(policy, "noeviction");
    char why[512];
    if (evicted > 0)
        snprintf(why, sizeof why,
                 "maxmemory-policy %s: Redis evicted %lld key(s) to make room, i.e. deleted whole streams of buffered "
                 "events without an error to anyone. Set maxmemory-policy noeviction",
                 policy, evicted);
    else
        snprintf(why, sizeof why,
                 "maxmemory-policy %s: when memory is full Redis deletes whole keys (streams of buffered events) to "
                 "make room, silently. Nothing was evicted in this run only because the ingester paused at its "
                 "watermark first (the prototype's \"no evictions (unexpected)\"); a burst, a second client or a lower "
                 "watermark setting would lose data. Set maxmemory-policy noeviction",
                 policy);
    ss_check_criterion_add(r, "maxmemory_policy_noeviction", SS_CMP_EQ, 1, noevict, "bool", noevict ? NULL : why);
    ss_check_criterion_add(r, "reached_pressure", SS_CMP_GE, o->target_pct - PRESSURE_REACH_MARGIN_PCT, peak, "%",
                           "memory never got near the target: the ingester could not fill Redis (see fill_events_per_s)");
    ss_check_criterion_add(r, "ingester_paused", SS_CMP_GE, 1, (double)st.pauses, "pauses",
                           "the ingester never paused: it would have run Redis out of memory");
    ss_check_criterion_add(r, "evicted_keys", SS_CMP_EQ, 0, (double)evicted, "keys", why);
    ss_check_criterion_add(r, "entries_lost", SS_CMP_EQ, 0, (double)lost, "entries",
                           "entries Redis had confirmed to the ingester were gone when the streams were drained");
    return 0;
}
