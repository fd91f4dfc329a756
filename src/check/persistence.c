/* `check persistence`: does the buffer survive a Redis restart, and what does a crash cost?
 *
 * The data goes in the way production data does: synth events through the real ingester
 * (src/buffer/ingest.c) under the check's prefix, so the entries have the real shape (meta
 * field, event JSON) in the real per-type streams. A consumer group then takes delivery of
 * some entries without acknowledging them, so there is a PEL to lose. Before the restart
 * every entry is fingerprinted (a 64-bit hash of id, field and value) and the group and its
 * PEL are recorded; after it, the same is read back and compared entry by entry, so the
 * report says how many entries came back, not merely whether the lengths agree.
 *
 * Clean mode: BGREWRITEAOF (timed until the rewrite finished), then a clean restart (the
 * embedded server: SHUTDOWN and start on the same data dir; an external one: --restart-cmd).
 * Crash mode (--crash, embedded only): after the rewrite, writes go on for tail_seconds and
 * Redis gets kill -9 right after the last acknowledged write. With appendfsync everysec, at
 * most about a second of acknowledged writes may be lost; the report gives how many and how
 * old the oldest lost one was, and the criterion is that nothing older than max_loss_ms was. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buffer/ingest.h"
#include "check/check.h"
#include "event/event.h"
#include "util/clock.h"
#include "util/hash.h"

#define PERSIST_GROUP "skyspool-check"
#define PERSIST_CONSUMER "check-consumer"
#define PERSIST_XRANGE_COUNT 1000
#define PERSIST_TAIL_BATCH 50

typedef struct {
    char key[192];
    long long len;
    uint64_t *hashes; /* sorted entry fingerprints */
    long long nhashes;
    int has_group;
    long long group_pending;
    char last_delivered[64];
    long long pel_count;
    uint64_t pel_digest; /* sum of hashes of (id, consumer) over the PEL */
} stream_snap;

typedef struct {
    stream_snap s[SS_TYPE__COUNT];
    int n;
} snapshot;

void ss_check_persistence_opts_init(ss_check_persistence_opts *o) {
    memset(o, 0, sizeof *o);
    o->events = 100000;
    o->pending = 1000;
    o->seed = 1;
    o->tail_seconds = 3;
    o->min_recovered_pct = 100;
    o->max_loss_ms = 2000;
}

static uint64_t h64(const void *p, size_t n, uint64_t seed) {
    uint8_t d[16];
    ss_hash128(p, n, seed, d);
    uint64_t v;
    memcpy(&v, d, sizeof v);
    return v;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void snap_free(snapshot *s) {
    for (int i = 0; i < s->n; i++) free(s->s[i].hashes);
    memset(s, 0, sizeof *s);
}

/* Reads one stream: every entry's fingerprint, the group, the PEL. */
static int snap_stream(ss_check_env *e, stream_snap *ss) {
    redisReply *r = ss_check_cmd(e, "XLEN %s", ss->key);
    if (!r) return -1;
    ss->len = r->integer;
    freeReplyObject(r);
    ss->hashes = malloc((size_t)(ss->len > 0 ? ss->len : 1) * sizeof *ss->hashes);
    if (!ss->hashes) return snprintf(e->errstr, sizeof e->errstr, "out of memory"), -1;
    ss->nhashes = 0;
    char start[80] = "-";
    for (;;) {
        r = ss_check_cmd(e, "XRANGE %s %s + COUNT %d", ss->key, start, PERSIST_XRANGE_COUNT);
        if (!r) return -1;
        size_t n = r->type == REDIS_REPLY_ARRAY ? r->elements : 0;
        for (size_t i = 0; i < n; i++) {
            redisReply *ent = r->element[i];
            if (ent->type != REDIS_REPLY_ARRAY || ent->elements != 2) continue;
            uint64_t h = h64(ent->element[0]->str, ent->element[0]->len, 1);
            redisReply *f = ent->element[1];
            for (size_t j = 0; j < f->elements; j++) h ^= h64(f->element[j]->str, f->element[j]->len, 2 + j);
            if (ss->nhashes < ss->len) ss->hashes[ss->nhashes++] = h;
            if (i + 1 == n) snprintf(start, sizeof start, "(%s", ent->element[0]->str);
        }
        freeReplyObject(r);
        if (n < PERSIST_XRANGE_COUNT) break;
    }
    qsort(ss->hashes, (size_t)ss->nhashes, sizeof *ss->hashes, cmp_u64);
    ss->has_group = 0;
    ss->pel_count = 0;
    ss->pel_digest = 0;
    r = ss_check_cmd(e, "XINFO GROUPS %s", ss->key);
    if (!r) return ss->len == 0 ? 0 : -1;
    for (size_t i = 0; i < r->elements; i++) {
        redisReply *g = r->element[i];
        int ours = 0;
        long long pending = 0;
        char last[64] = "";
        for (size_t j = 0; j + 1 < g->elements; j += 2) {
            const char *k = g->element[j]->str;
            redisReply *v = g->element[j + 1];
            if (!strcmp(k, "name") && v->str && !strcmp(v->str, PERSIST_GROUP)) ours = 1;
            if (!strcmp(k, "pending")) pending = v->integer;
            if (!strcmp(k, "last-delivered-id") && v->str) snprintf(last, sizeof last, "%s", v->str);
        }
        if (ours) {
            ss->has_group = 1;
            ss->group_pending = pending;
            snprintf(ss->last_delivered, sizeof ss->last_delivered, "%s", last);
        }
    }
    freeReplyObject(r);
    if (!ss->has_group) return 0;
    r = ss_check_cmd(e, "XPENDING %s %s - + %lld", ss->key, PERSIST_GROUP, ss->group_pending + 1);
    if (!r) return -1;
    for (size_t i = 0; i < r->elements; i++) {
        redisReply *p = r->element[i];
        if (p->type != REDIS_REPLY_ARRAY || p->elements < 2) continue;
        ss->pel_count++;
        ss->pel_digest += h64(p->element[0]->str, p->element[0]->len, 7) ^ h64(p->element[1]->str, p->element[1]->len, 8);
    }
    freeReplyObject(r);
    return 0;
}

static int snap_take(ss_check_env *e, snapshot *s) {
    memset(s, 0, sizeof *s);
    for (int t = 0; t < SS_TYPE__COUNT; t++) {
        stream_snap *ss = &s->s[s->n];
        ss_ingest_stream_key(e->prefix, (ss_type)t, ss->key, sizeof ss->key);
        s->n++;
        if (snap_stream(e, ss) != 0) return -1;
    }
    return 0;
}

typedef struct {
    ss_ingest *ing;
    ss_source *src;
    volatile sig_atomic_t *stop;
    int rc;
} ingest_thread;

static void *ingest_main(void *arg) {
    ingest_thread *it = arg;
    it->rc = ss_ingest_run(it->ing, it->src, it->stop);
    return NULL;
}

/* Loads o->events synth events through the ingester; 0, 1 interrupted, -1 error. */
static int load_events(ss_check_env *e, long long events, uint64_t seed, ss_check_report *r, ss_ingest_stats *st) {
    char err[512];
    ss_source *src = ss_check_synth_open(events, seed, err, sizeof err);
    if (!src) return snprintf(e->errstr, sizeof e->errstr, "%s", err), -1;
    ss_ingest_opts io;
    ss_ingest_opts_init(&io);
    io.prefix = e->prefix;
    io.ignore_cursor = 1;
    io.horizon_us = 0;
    ss_ingest *ing = ss_ingest_new(&io, e->target);
    if (!ing) {
        ss_source_close(src);
        return snprintf(e->errstr, sizeof e->errstr, "out of memory"), -1;
    }
    ingest_thread it = {.ing = ing, .src = src, .stop = e->stop, .rc = 0};
    pthread_t th;
    double t0 = ss_check_now();
    if (pthread_create(&th, NULL, ingest_main, &it) != 0) {
        ss_ingest_free(ing);
        ss_source_close(src);
        return snprintf(e->errstr, sizeof e->errstr, "cannot start the ingester thread"), -1;
    }
    /* the load's rate over time: the chart --png draws (the rest of the check is figures) */
    ss_check_series *s_rate = ss_check_series_new(r, "load_entries_per_s", "entries/s");
    double last_t = t0;
    uint64_t last_w = 0;
    ss_check_series_add(s_rate, 0, 0);
    for (;;) {
        ss_sleep_us(200000);
        ss_ingest_get_stats(ing, st);
        double t = ss_check_now();
        if (t > last_t) ss_check_series_add(s_rate, t - t0, (double)(st->written - last_w) / (t - last_t));
        last_t = t;
        last_w = st->written;
        ss_check_progress(e, "persistence: loading through the ingester: %llu / %lld events",
                          (unsigned long long)st->read, events);
        if ((long long)st->read >= events || ss_check_stopped(e)) break;
        if (pthread_tryjoin_np(th, NULL) == 0) goto joined;
    }
    pthread_join(th, NULL);
joined:
    ss_ingest_get_stats(ing, st);
    double dt = ss_check_now() - t0;
    int rc = 0;
    if (it.rc != 0) {
        snprintf(e->errstr, sizeof e->errstr, "ingest: %s", ss_ingest_errstr(ing));
        rc = -1;
    }
    ss_ingest_free(ing);
    ss_source_close(src);
    ss_check_figure_add(r, "load_events_read", (double)st->read, "events");
    ss_check_figure_add(r, "load_entries_written", (double)st->written, "entries");
    ss_check_figure_add(r, "load_dlq_entries", (double)st->dlq, "entries");
    ss_check_figure_add(r, "load_other_skipped", (double)st->other_skipped, "events");
    ss_check_figure_add(r, "load_events_per_s", dt > 0 ? (double)st->written / dt : 0, "events/s");
    if (rc == 0 && ss_check_stopped(e)) rc = 1;
    return rc;
}

/* Gives the group's consumer delivery of about `pending` entries, spread over the streams. */
static int make_pending(ss_check_env *e, const ss_ingest_stats *st, long long pending) {
    for (int t = 0; t < SS_TYPE__COUNT; t++) {
        char key[192];
        ss_ingest_stream_key(e->prefix, (ss_type)t, key, sizeof key);
        if (!st->by_type[t]) continue;
        redisReply *r = ss_check_cmd(e, "XGROUP CREATE %s %s 0", key, PERSIST_GROUP);
        if (!r) return -1;
        freeReplyObject(r);
        long long n = st->written ? (long long)((double)pending * (double)st->by_type[t] / (double)st->written + 0.5) : 0;
        if (n < 1) n = 1;
        r = ss_check_cmd(e, "XREADGROUP GROUP %s %s COUNT %lld STREAMS %s >", PERSIST_GROUP, PERSIST_CONSUMER, n, key);
        if (!r) return -1;
        freeReplyObject(r);
    }
    return 0;
}

static int bgrewrite(ss_check_env *e, double *ms) {
    double t0 = ss_check_now();
    for (;;) {
        redisReply *r = redisCommand(e->c, "BGREWRITEAOF");
        if (r && r->type != REDIS_REPLY_ERROR) {
            freeReplyObject(r);
            break;
        }
        /* parsing Redis's reply, not classifying our message: "ERR Background append only file
         * rewriting already in progress" has no error code of its own */
        int busy = r && r->type == REDIS_REPLY_ERROR && strstr(r->str, "in progress");
        ss_redis_describe_error(e->c, r, e->errstr, sizeof e->errstr);
        if (r) freeReplyObject(r);
        if (!busy || ss_check_now() - t0 > 120) return -1;
        ss_sleep_us(50000);
    }
    for (;;) {
        long long inprog = 1, sched = 1;
        if (ss_check_info_ll(e, "persistence", "aof_rewrite_in_progress", &inprog) != 0) return -1;
        if (ss_check_info_ll(e, "persistence", "aof_rewrite_scheduled", &sched) != 0) return -1;
        if (!inprog && !sched) break;
        if (ss_check_now() - t0 > 600) return snprintf(e->errstr, sizeof e->errstr, "BGREWRITEAOF took over 600 s"), -1;
        ss_sleep_us(10000);
    }
    *ms = (ss_check_now() - t0) * 1000;
    char *info = ss_redis_info(e->c, "persistence", e->errstr, sizeof e->errstr);
    if (!info) return -1;
    char status[32] = "";
    ss_redis_info_str(info, "aof_last_bgrewrite_status", status, sizeof status);
    free(info);
    if (strcmp(status, "ok") != 0)
        return snprintf(e->errstr, sizeof e->errstr, "BGREWRITEAOF failed (aof_last_bgrewrite_status %s)", status), -1;
    return 0;
}

typedef struct {
    char (*ids)[48];
    double *acked_at;
    long long n, cap;
} tail_log;

/* --crash: pipelined XADDs for `seconds`, each batch's ack time recorded. */
static int write_tail(ss_check_env *e, const char *key, double seconds, tail_log *tl) {
    ss_check_payloads pl;
    if (ss_check_payloads_make(&pl, 64, 7, e->errstr, sizeof e->errstr) != 0) return -1;
    double end = ss_check_now() + seconds;
    long long k = 0;
    int rc = 0;
    while (ss_check_now() < end && !ss_check_stopped(e)) {
        for (int i = 0; i < PERSIST_TAIL_BATCH; i++, k++) {
            int p = (int)(k % pl.n);
            redisAppendCommand(e->c, "XADD %s * %s %b", key, pl.meta[p], pl.event[p], pl.event_len[p]);
        }
        for (int i = 0; i < PERSIST_TAIL_BATCH; i++) {
            redisReply *r = NULL;
            if (redisGetReply(e->c, (void **)&r) != REDIS_OK || !r || r->type != REDIS_REPLY_STRING) {
                ss_redis_describe_error(e->c, r, e->errstr, sizeof e->errstr);
                if (r) freeReplyObject(r);
                rc = -1;
                goto out;
            }
            if (tl->n == tl->cap) {
                long long nc = tl->cap ? tl->cap * 2 : 4096;
                void *a = realloc(tl->ids, (size_t)nc * sizeof *tl->ids);
                if (a) tl->ids = a;
                void *b = realloc(tl->acked_at, (size_t)nc * sizeof *tl->acked_at);
                if (b) tl->acked_at = b;
                if (!a || !b) {
                    freeReplyObject(r);
                    snprintf(e->errstr, sizeof e->errstr, "out of memory");
                    rc = -1;
                    goto out;
                }
                tl->cap = nc;
            }
            snprintf(tl->ids[tl->n], sizeof tl->ids[0], "%s", r->str);
            tl->acked_at[tl->n] = ss_check_now();
            tl->n++;
            freeReplyObject(r);
        }
    }
out:
    ss_check_payloads_free(&pl);
    return rc;
}

static long long found_in(const stream_snap *before, const stream_snap *after) {
    long long n = 0;
    for (long long i = 0; i < before->nhashes; i++)
        if (bsearch(&before->hashes[i], after->hashes, (size_t)after->nhashes, sizeof *after->hashes, cmp_u64)) n++;
    return n;
}

int ss_check_persistence(ss_check_env *e, const ss_check_persistence_opts *o, ss_check_report *r) {
    if (o->crash && !e->embedded) {
        snprintf(e->errstr, sizeof e->errstr, "--crash kills the embedded Redis; it cannot be used with --redis");
        return -1;
    }
    if (!e->embedded && (!o->restart_cmd || !*o->restart_cmd)) {
        snprintf(e->errstr, sizeof e->errstr,
                 "an external Redis needs --restart-cmd CMD (e.g. 'systemctl restart redis-server') to be restarted");
        return -1;
    }
    ss_check_input_num(r, "events", (double)o->events);
    ss_check_input_num(r, "pending", (double)o->pending);
    ss_check_input_num(r, "seed", (double)o->seed);
    ss_check_input_str(r, "mode", o->crash ? "crash" : "restart");
    if (o->restart_cmd) ss_check_input_str(r, "restart_cmd", o->restart_cmd);
    ss_check_input_num(r, "min_recovered_pct", o->min_recovered_pct);
    if (o->crash) {
        ss_check_input_num(r, "tail_seconds", o->tail_seconds);
        ss_check_input_num(r, "max_loss_ms", o->max_loss_ms);
    }
    char policy[64] = "";
    redisReply *pr = ss_check_cmd(e, "CONFIG GET appendfsync");
    if (pr && pr->elements == 2) snprintf(policy, sizeof policy, "%s", pr->element[1]->str);
    if (pr) freeReplyObject(pr);
    char aof[16] = "";
    pr = ss_check_cmd(e, "CONFIG GET appendonly");
    if (pr && pr->elements == 2) snprintf(aof, sizeof aof, "%s", pr->element[1]->str);
    if (pr) freeReplyObject(pr);
    ss_check_note(r, "appendonly %s, appendfsync %s", aof[0] ? aof : "?", policy[0] ? policy : "?");

    ss_ingest_stats st;
    memset(&st, 0, sizeof st);
    int rc = load_events(e, o->events, o->seed, r, &st);
    if (rc != 0) goto done;
    ss_check_progress(e, "persistence: consumer group with %lld pending entries", o->pending);
    if (make_pending(e, &st, o->pending) != 0) {
        rc = -1;
        goto done;
    }
    double rewrite_ms = 0;
    ss_check_progress(e, "persistence: BGREWRITEAOF");
    if (bgrewrite(e, &rewrite_ms) != 0) {
        rc = -1;
        goto done;
    }
    ss_check_figure_add(r, "bgrewriteaof_ms", rewrite_ms, "ms");
    long long aof_size = 0;
    if (ss_check_info_ll(e, "persistence", "aof_base_size", &aof_size) == 0)
        ss_check_figure_add(r, "aof_base_size_bytes", (double)aof_size, "bytes");
    snapshot before, after;
    memset(&after, 0, sizeof after);
    ss_check_progress(e, "persistence: fingerprinting every entry");
    if (snap_take(e, &before) != 0) {
        snap_free(&before);
        rc = -1;
        goto done;
    }
    char tail_key[192];
    snprintf(tail_key, sizeof tail_key, "%spersistence:tail", e->prefix);
    tail_log tl = {0};
    double kill_at = 0;
    if (o->crash) {
        ss_check_progress(e, "persistence: writing for %.1f s, then kill -9", o->tail_seconds);
        if (write_tail(e, tail_key, o->tail_seconds, &tl) != 0) {
            rc = -1;
            goto free_snaps;
        }
        kill_at = ss_check_now();
    }
    if (ss_check_stopped(e)) {
        rc = 1;
        goto free_snaps;
    }
    double stop_ms = 0, start_ms = 0;
    ss_check_progress(e, "persistence: %s", o->crash ? "kill -9 and start" : "restarting Redis");
    if (ss_check_env_restart(e, o->restart_cmd, o->crash, &stop_ms, &start_ms) != 0) {
        rc = -1;
        goto free_snaps;
    }
    ss_check_figure_add(r, o->crash ? "kill_ms" : "shutdown_ms", stop_ms, "ms");
    ss_check_figure_add(r, "start_ms", start_ms, "ms");
    ss_check_figure_add(r, "restart_ms", stop_ms + start_ms, "ms");
    ss_check_progress(e, "persistence: verifying every entry");
    if (snap_take(e, &after) != 0) {
        rc = -1;
        goto free_snaps;
    }
    long long total = 0, found = 0, groups_before = 0, groups_after = 0, pel_before = 0, pel_after = 0;
    long long pel_mismatch = 0;
    for (int i = 0; i < before.n; i++) {
        total += before.s[i].nhashes;
        found += found_in(&before.s[i], &after.s[i]);
        groups_before += before.s[i].has_group;
        groups_after += before.s[i].has_group && after.s[i].has_group &&
                        !strcmp(before.s[i].last_delivered, after.s[i].last_delivered);
        pel_before += before.s[i].pel_count;
        pel_after += after.s[i].pel_count;
        if (before.s[i].pel_count != after.s[i].pel_count || before.s[i].pel_digest != after.s[i].pel_digest)
            pel_mismatch++;
    }
    double pct = total ? 100.0 * (double)found / (double)total : 0;
    ss_check_figure_add(r, "entries_before", (double)total, "entries");
    ss_check_figure_add(r, "entries_recovered", (double)found, "entries");
    ss_check_figure_add(r, "entries_recovered_pct", pct, "%");
    ss_check_figure_add(r, "groups_before", (double)groups_before, "groups");
    ss_check_figure_add(r, "groups_recovered", (double)groups_after, "groups");
    ss_check_figure_add(r, "pel_before", (double)pel_before, "entries");
    ss_check_figure_add(r, "pel_after", (double)pel_after, "entries");
    ss_check_criterion_add(r, "entries_loaded", SS_CMP_EQ, (double)st.written, (double)total, "entries",
                           "the streams hold fewer entries than the ingester had confirmed before the restart");
    ss_check_criterion_add(r, "entries_recovered_pct", SS_CMP_GE, o->min_recovered_pct, pct, "%",
                           "entries acknowledged before the restart are missing or changed after it: check "
                           "appendonly yes, that the AOF directory is on persistent storage, and redis.log");
    ss_check_criterion_add(r, "groups_recovered", SS_CMP_EQ, (double)groups_before, (double)groups_after, "groups",
                           "a consumer group (or its last-delivered id) did not come back: writers would re-read or "
                           "skip entries");
    ss_check_criterion_add(r, "pel_streams_mismatched", SS_CMP_EQ, 0, (double)pel_mismatch, "streams",
                           "the pending entries lists differ after the restart: delivered-but-unacknowledged entries "
                           "would never be retried");
    if (o->crash) {
        long long survived = 0;
        redisReply *x = ss_check_cmd(e, "XLEN %s", tail_key);
        if (x) {
            survived = x->integer;
            freeReplyObject(x);
        }
        if (survived > tl.n) survived = tl.n;
        long long lost = tl.n - survived;
        int prefix_ok = 1;
        if (survived > 0) {
            x = ss_check_cmd(e, "XREVRANGE %s + - COUNT 1", tail_key);
            prefix_ok = x && x->elements == 1 && !strcmp(x->element[0]->element[0]->str, tl.ids[survived - 1]);
            if (x) freeReplyObject(x);
        }
        double oldest_lost_ms = lost > 0 ? (kill_at - tl.acked_at[survived]) * 1000 : 0;
        long long lost_old = 0;
        for (long long i = survived; i < tl.n; i++)
            if ((kill_at - tl.acked_at[i]) * 1000 > o->max_loss_ms) lost_old++;
        ss_check_figure_add(r, "tail_acked", (double)tl.n, "entries");
        ss_check_figure_add(r, "tail_survived", (double)survived, "entries");
        ss_check_figure_add(r, "tail_lost", (double)lost, "entries");
        ss_check_figure_add(r, "tail_lost_window_ms", oldest_lost_ms, "ms");
        ss_check_figure_add(r, "tail_write_rate", o->tail_seconds > 0 ? tl.n / o->tail_seconds : 0, "entries/s");
        ss_check_criterion_add(r, "tail_survivors_are_a_prefix", SS_CMP_EQ, 1, prefix_ok, "bool",
                               "what survived the crash is not the oldest part of what was written");
        ss_check_criterion_add(r, "tail_lost_older_than_max_loss", SS_CMP_EQ, 0, (double)lost_old, "entries",
                               "acknowledged writes older than the allowed window were lost: appendfsync is not "
                               "everysec/always, or fsync is stalling (slow disk)");
        if (lost == 0)
            ss_check_note(r, "nothing acknowledged was lost: Redis write()s the AOF before it replies, so a kill -9 of "
                             "the process alone keeps every write in the page cache; what everysec can lose (about 1 s) "
                             "is lost only when the host itself crashes or loses power before the next fsync");
        ss_check_note(r,
                      "kill -9 lost %lld of %lld acknowledged writes, the oldest acknowledged %.0f ms before the kill "
                      "(appendfsync everysec promises about 1 s at most)",
                      lost, tl.n, oldest_lost_ms);
        /* the ingester pipeline re-sends from its cursor after such a loss; see docs/design/buffer.md */
    }
free_snaps:
    snap_free(&before);
    snap_free(&after);
    free(tl.ids);
    free(tl.acked_at);
done:
    if (rc == 1) r->interrupted = 1;
    return rc < 0 ? -1 : 0;
}
