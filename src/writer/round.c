/* One read round of the DataWriter: which streams to read now (a stream more than one window
 * ahead of the slowest one waits, so a backlog of hours is drained with a handful of open
 * files per type instead of one per window), a first pass over the entries (ids, metas, no
 * decoding), one ledger transaction claiming their dedup keys, placing each entry in its part,
 * then decoding and appending the owners in two lanes at once. Recovery's committed-id checks
 * (own pending entries re-read after a restart) live here too. */
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"
#include "writer/crash.h"
#include "writer/writer_internal.h"

/* ---- committed-id checks (recovery) ----------------------------------------------------------- */

static int load_committed(ss_writer *w, int type, uint64_t lo, uint64_t hi) {
    wstream *s = &w->st[type];
    if (s->committed_valid && lo >= s->committed_lo && hi <= s->committed_hi) return 0;
    if (s->committed_valid) {
        if (s->committed_lo < lo) lo = s->committed_lo;
        if (s->committed_hi > hi) hi = s->committed_hi;
    }
    free(s->committed);
    s->committed = NULL;
    s->ncommitted = 0;
    s->committed_valid = 0;
    if (ss_ledger_committed_ids(w->led, ss_wr_led_type(w, type), lo, hi, &s->committed, &s->ncommitted) != 0)
        return ss_wr_fail(w, "%s", ss_ledger_errstr(w->led));
    s->committed_valid = 1;
    s->committed_lo = lo;
    s->committed_hi = hi;
    return 0;
}

/* Makes the committed-id set cover [lo, hi] for one batch of history entries. Called once per
 * batch before its per-entry lookups: load_committed's per-entry calls would otherwise widen
 * the set one millisecond at a time, and every widening re-decodes the id blob of every commit
 * overlapping the whole range so far (hundreds of thousands of ids a spill), which made a
 * takeover of a dead writer's pending entries quadratic (~285 entries/s in the 1-hour soak).
 * A set that does not cover the batch is replaced by exactly the batch's range, not widened:
 * batches come in id order, so what lies before it is not asked for again. */
static int load_committed_batch(ss_writer *w, int type, uint64_t lo, uint64_t hi) {
    wstream *s = &w->st[type];
    if (s->committed_valid && lo >= s->committed_lo && hi <= s->committed_hi) return 0;
    s->committed_valid = 0;
    return load_committed(w, type, lo, hi);
}

void ss_wr_drop_committed(ss_writer *w) {
    for (int t = 0; t < SS_TYPE__COUNT; t++) {
        free(w->st[t].committed);
        w->st[t].committed = NULL;
        w->st[t].ncommitted = 0;
        w->st[t].committed_valid = 0;
    }
}

/* ---- entries ---------------------------------------------------------------------------------- */

static int parse_i64(const char *s, size_t n, int64_t *out) {
    if (n == 0 || n > 19) return -1;
    int neg = s[0] == '-';
    size_t i = neg;
    if (i == n) return -1;
    int64_t v = 0;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = neg ? -v : v;
    return 0;
}

static bent *next_bent(ss_writer *w) {
    if (w->nb == w->capb) {
        size_t nc = w->capb ? w->capb * 2 : 1024;
        bent *a = realloc(w->b, nc * sizeof *a);
        if (!a) return NULL;
        w->b = a;
        w->capb = nc;
    }
    bent *e = &w->b[w->nb++];
    memset(e, 0, sizeof *e);
    return e;
}

/* First pass over one stream's entries: ids, fields, time and key, without decoding. The
 * ingester writes one pair per entry, <meta> <event> (meta: event.h). Entries buffered by
 * skyspool before 2026-11 are e <event> t <time_us> k <key hex>; for those, and for any entry
 * with an `e` field alone, whatever is missing comes from decoding the event. */
int ss_wr_scan_entries(ss_writer *w, int type, const ss_writer_entry *ents, size_t nents, int history, int *n_out,
                       int64_t *tmin, int64_t *tmax) {
    *n_out = 0;
    int64_t now_us = ss_wr_wall_us();
    if (history && nents > 0) { /* one committed-id load for the whole batch */
        uint64_t lo = UINT64_MAX, hi = 0;
        for (size_t i = 0; i < nents; i++) {
            ss_writer_id id;
            if (ss_writer_id_parse(ents[i].id, ents[i].idlen, &id) != 0) continue; /* failed below */
            if (id.ms < lo) lo = id.ms;
            if (id.ms > hi) hi = id.ms;
        }
        if (lo <= hi && load_committed_batch(w, type, lo, hi) != 0) return -1;
    }
    for (size_t i = 0; i < nents; i++) {
        const ss_writer_entry *ent = &ents[i];
        bent *e = next_bent(w);
        if (!e) return ss_wr_fail(w, "out of memory");
        e->type = type;
        if (ss_writer_id_parse(ent->id, ent->idlen, &e->id) != 0)
            return ss_wr_fail(w, "unexpected entry id '%.*s' in %s", (int)ent->idlen, ent->id, w->st[type].key);
        (*n_out)++;
        if (ent->deleted) { /* pending, but gone from the stream: nothing left to write */
            e->action = A_ACK;
            wstream *s = &w->st[type];
            if (load_committed(w, type, e->id.ms, e->id.ms) != 0) return -1;
            if (!ss_writer_id_find(s->committed, s->ncommitted, e->id)) {
                /* not committed either: deleted by someone else (XDEL, XTRIM MAXLEN) before it was
                 * written, so its event is lost. Say so: acking it only clears the PEL. */
                ss_wr_stat_add(w, &w->stats.lost, 1, w->m.lost[type]);
                ss_warn(LOG, "entry %.*s of %s is pending but was deleted from the stream before it was written: "
                             "its event is lost (something other than skyspool trims or deletes these streams)",
                        (int)ent->idlen, ent->id, s->key);
            }
            continue;
        }
        const ss_writer_str *f = ent->f;
        int have_t = 0, have_k = 0;
        const char *ts = NULL, *ks = NULL;
        size_t tl = 0, kl = 0;
        if (ent->nf == 2 && f[0].p && f[1].p && ss_event_meta_parse(f[0].p, f[0].n, e->key, &e->t) == 0) {
            e->e = f[1].p, e->elen = f[1].n; /* <meta> <event> */
            have_t = have_k = 1;
        } else {
            for (size_t j = 0; j + 1 < ent->nf; j += 2) { /* e <event> [t <time_us> k <key>] */
                const ss_writer_str *k = &f[j], *v = &f[j + 1];
                if (!k->p || !v->p || k->n != 1) continue;
                if (k->p[0] == 'e') e->e = v->p, e->elen = v->n;
                else if (k->p[0] == 't') ts = v->p, tl = v->n;
                else if (k->p[0] == 'k') ks = v->p, kl = v->n;
            }
        }
        if (history) {
            wstream *s = &w->st[type];
            if (load_committed(w, type, e->id.ms, e->id.ms) != 0) return -1;
            if (ss_writer_id_find(s->committed, s->ncommitted, e->id)) {
                e->action = A_ACK;
                ss_wr_stat_add(w, &w->stats.recovered, 1, w->m.recovered[type]);
                continue;
            }
        }
        if (!e->e) {
            e->action = A_DLQ;
            e->reason = "no_event_field";
            continue;
        }
        if (!have_t) have_t = ts && parse_i64(ts, tl, &e->t) == 0;
        if (!have_k) have_k = ks && ss_event_dedup_parse(ks, kl, e->key) == 0;
        if (!have_t || !have_k) {
            ss_event ev;
            ss_decode_reason why = ss_decode(w->dec[0], e->e, e->elen, &ev);
            if (why != SS_DECODE_OK) {
                e->action = A_DLQ;
                e->reason = ss_decode_reason_name(why);
                continue;
            }
            if (!have_t) e->t = ev.time_us;
            if (!have_k) ss_event_dedup_key(&ev, e->key);
        }
        if (e->t < SS_AR_TIME_MIN_US || e->t > SS_AR_TIME_MAX_US) {
            e->action = A_DLQ;
            e->reason = "time_out_of_range";
            continue;
        }
        /* An event dated far ahead of the wall clock (a misbehaving Jetstream, a bad line in
         * a file) would sit in a window that cannot close for years, pending, and hold the
         * stream's trim floor (ack_script.h) there: Redis would fill up behind it. It goes to
         * the DLQ with its bytes instead, where an operator can look at it. */
        if (e->t > now_us + SS_WRITER_MAX_FUTURE_US) {
            e->action = A_DLQ;
            e->reason = "time_in_future";
            continue;
        }
        e->action = A_CLAIM;
        if (e->t < *tmin) *tmin = e->t;
        if (e->t > *tmax) *tmax = e->t;
    }
    return 0;
}

/* One ledger transaction claims every key of the batch. */
int ss_wr_claim_batch(ss_writer *w, size_t from) {
    int any = 0;
    for (size_t i = from; i < w->nb; i++)
        if (w->b[i].action == A_CLAIM) any = 1;
    if (!any) return 0;
    if (ss_ledger_claims_begin(w->led) != 0) return ss_wr_fail(w, "%s", ss_ledger_errstr(w->led));
    for (size_t i = from; i < w->nb; i++) {
        bent *e = &w->b[i];
        if (i + 8 < w->nb && w->b[i + 8].action == A_CLAIM) /* overlap the claim set's cache misses */
            ss_ledger_claim_prefetch(w->led, w->b[i + 8].key);
        if (e->action != A_CLAIM) continue;
        int owner = 0;
        if (ss_ledger_claim(w->led, e->key, ss_wr_led_type(w, e->type), e->id, e->t, &owner) != 0) {
            ss_wr_fail(w, "%s", ss_ledger_errstr(w->led));
            ss_ledger_claims_end(w->led);
            return -1;
        }
        e->action = owner ? A_OWNER : A_DUP;
        e->recheck = owner == 2;
    }
    if (ss_ledger_claims_end(w->led) != 0) return ss_wr_fail(w, "%s", ss_ledger_errstr(w->led));
    /* A key this very entry claimed before: the entry is being delivered again (our own
     * restart, or a Redis failover that lost its acknowledgement). Committed already? */
    for (size_t i = from; i < w->nb; i++) {
        bent *e = &w->b[i];
        if (e->action != A_OWNER || !e->recheck) continue;
        if (load_committed(w, e->type, e->id.ms, e->id.ms) != 0) return -1;
        if (ss_writer_id_find(w->st[e->type].committed, w->st[e->type].ncommitted, e->id)) {
            e->action = A_ACK;
            ss_wr_stat_add(w, &w->stats.recovered, 1, w->m.recovered[e->type]);
        }
    }
    ss_writer_crash_point("after_claim");
    return 0;
}

static int dlq_entry(ss_writer *w, const bent *e) {
    char id[SS_WRITER_ID_STRLEN];
    ss_writer_id_format(e->id, id);
    if (w->c->v->dlq(w->c, e->type, id, e->reason, e->e, e->elen) != 0) return ss_wr_consumer_fail(w);
    ss_warn(LOG, "entry %s of %s moved to %s: %s", id, w->st[e->type].key, w->dlq_key, e->reason);
    ss_wr_stat_add(w, &w->stats.dlq, 1, w->m.dlq[e->type]);
    return 0;
}

/* Decoding and Parquet encoding are most of the writer's CPU, so owners are decoded and
 * appended in two lanes at once, split by type (each part file belongs to one lane, so no
 * file is touched by two threads): likes, blocks, identity, account and sync in one,
 * posts, reposts, follows and other in the other, about half the events each. */
#define NLANES 2
static int lane_of(int type) {
    return type == SS_TYPE_LIKE || type == SS_TYPE_BLOCK || type == SS_TYPE_IDENTITY || type == SS_TYPE_ACCOUNT ||
           type == SS_TYPE_SYNC;
}

typedef struct {
    ss_writer *w;
    size_t from;
    int lane;
    ss_decoder *dec;
    int rc;
    part *errpart;
    int sys_errno; /* the errno behind err, taken on the lane's thread (0: not a system call's) */
    char err[512];
} lane_job;

static void lane_run(lane_job *j) {
    ss_writer *w = j->w;
    for (size_t i = j->from; i < w->nb; i++) {
        bent *e = &w->b[i];
        if (e->action != A_OWNER || !e->part || lane_of(e->type) != j->lane) continue;
        part *p = e->part;
        ss_event ev;
        ss_decode_reason why = ss_decode(j->dec, e->e, e->elen, &ev);
        if (why != SS_DECODE_OK || ev.type != (ss_type)e->type) {
            e->action = A_BAD; /* goes to the DLQ instead (its id leaves the part) */
            e->reason = why != SS_DECODE_OK ? ss_decode_reason_name(why) : "wrong_stream";
            continue;
        }
        if (ss_ar_file_append(p->file, &ev) != 0) {
            j->rc = -1;
            j->errpart = p;
            j->sys_errno = ss_ar_file_errno(p->file);
            snprintf(j->err, sizeof j->err, "%s", ss_ar_file_errstr(p->file));
            return;
        }
        p->rows++;
        p->raw_bytes += e->elen;
        uint64_t rgs = ss_ar_file_row_groups(p->file);
        if (rgs != p->rg_seen) p->rg_seen = rgs, p->raw_open = 0; /* this event ended a row group */
        else p->raw_open += e->elen;
    }
}

/* The second lane runs on a thread of its own that lives as long as the writer: a thread
 * created per batch cost more than the lane's work in the small rounds of the live rate. */
static void *lane_worker(void *arg) {
    ss_writer *w = arg;
    pthread_setname_np(pthread_self(), "ss-lane");
    pthread_mutex_lock(&w->lane.mu);
    for (;;) {
        while (!w->lane.job && !w->lane.quit) pthread_cond_wait(&w->lane.cv, &w->lane.mu);
        if (w->lane.quit) break;
        lane_job *j = w->lane.job;
        pthread_mutex_unlock(&w->lane.mu);
        lane_run(j);
        pthread_mutex_lock(&w->lane.mu);
        w->lane.job = NULL;
        pthread_cond_broadcast(&w->lane.cv);
    }
    pthread_mutex_unlock(&w->lane.mu);
    return NULL;
}

/* 1: the lane thread runs (started now if it was not), 0: run lanes inline. */
static int lane_ready(ss_writer *w) {
    if (w->lane.state) return w->lane.state > 0;
    pthread_mutex_init(&w->lane.mu, NULL);
    pthread_cond_init(&w->lane.cv, NULL);
    w->lane.job = NULL;
    w->lane.quit = 0;
    if (pthread_create(&w->lane.th, NULL, lane_worker, w) != 0) {
        pthread_cond_destroy(&w->lane.cv);
        pthread_mutex_destroy(&w->lane.mu);
        w->lane.state = -1;
        return 0;
    }
    w->lane.state = 1;
    return 1;
}

void ss_wr_lane_stop(ss_writer *w) {
    if (w->lane.state <= 0) return;
    pthread_mutex_lock(&w->lane.mu);
    w->lane.quit = 1;
    pthread_cond_broadcast(&w->lane.cv);
    pthread_mutex_unlock(&w->lane.mu);
    pthread_join(w->lane.th, NULL);
    pthread_cond_destroy(&w->lane.cv);
    pthread_mutex_destroy(&w->lane.mu);
    w->lane.state = 0;
}

/* Second pass: each entry is placed in the part of its (type, window) -- duplicates are
 * recorded there (acked with its commit), owners get a file (intent first) -- then the
 * owners are decoded and appended in lanes; committed or undecodable entries are acked now. */
int ss_wr_apply_batch(ss_writer *w, size_t from) {
    int rc = 0, lanes_used[NLANES] = {0};
    for (size_t i = from; i < w->nb && rc == 0; i++) {
        bent *e = &w->b[i];
        e->part = NULL;
        if (e->action != A_OWNER && e->action != A_DUP) continue;
        int64_t win = ss_writer_window_start(e->t, w->o.window_us);
        part *p = ss_wr_find_part(w, e->type, win, 0);
        if (!p) p = ss_wr_find_part(w, e->type, win, 1);
        if (!p) {
            int late = win + w->o.window_us <= w->flushed_end;
            p = ss_wr_new_part(w, e->type, win, late);
            if (!p) {
                rc = ss_wr_fail(w, "out of memory");
                break;
            }
        }
        if (ss_wr_part_add_id(p, e->id) != 0) {
            rc = ss_wr_fail(w, "out of memory");
            break;
        }
        if (e->t > p->max_t) p->max_t = e->t;
        if (e->t > w->max_event_t) w->max_event_t = e->t;
        if (e->action == A_DUP) {
            p->dups++;
            continue;
        }
        if (!p->file && ss_wr_part_open_file(w, p, e->id) != 0) {
            rc = -1;
            break;
        }
        e->part = p;
        lanes_used[lane_of(e->type)] = 1;
    }
    if (rc != 0) return -1;
    lane_job jobs[NLANES];
    for (int l = 0; l < NLANES; l++) jobs[l] = (lane_job){w, from, l, w->dec[l], 0, NULL, 0, ""};
    _Static_assert(NLANES == 2, "one lane inline, one on the lane thread");
    int handed = lanes_used[0] && lanes_used[1] && lane_ready(w);
    if (handed) {
        pthread_mutex_lock(&w->lane.mu);
        w->lane.job = &jobs[1];
        pthread_cond_broadcast(&w->lane.cv);
        pthread_mutex_unlock(&w->lane.mu);
    }
    for (int l = 0; l < NLANES; l++)
        if (lanes_used[l] && !(handed && l == 1)) lane_run(&jobs[l]);
    if (handed) {
        pthread_mutex_lock(&w->lane.mu);
        while (w->lane.job) pthread_cond_wait(&w->lane.cv, &w->lane.mu);
        pthread_mutex_unlock(&w->lane.mu);
    }
    for (int l = 0; l < NLANES; l++)
        if (jobs[l].rc != 0) {
            w->fail_run = jobs[l].errpart->run_id;
            return ss_wr_io_fail(w, jobs[l].sys_errno, "writing %s/%s: %s", w->out, jobs[l].errpart->rel, jobs[l].err);
        }

    ss_writer_id *acks[SS_TYPE__COUNT] = {0};
    size_t nacks[SS_TYPE__COUNT] = {0}, capacks[SS_TYPE__COUNT] = {0};
    for (size_t i = from; i < w->nb && rc == 0; i++) {
        bent *e = &w->b[i];
        if (e->action == A_BAD) { /* not part of its part's commit after all */
            ss_wr_part_remove_id(e->part, e->id);
            e->action = A_DLQ;
        }
        if (e->action != A_ACK && e->action != A_DLQ) continue;
        if (e->action == A_DLQ && dlq_entry(w, e) != 0) {
            rc = -1;
            break;
        }
        if (nacks[e->type] == capacks[e->type]) {
            size_t nc = capacks[e->type] ? capacks[e->type] * 2 : 256;
            ss_writer_id *a = realloc(acks[e->type], nc * sizeof *a);
            if (!a) {
                rc = ss_wr_fail(w, "out of memory");
                break;
            }
            acks[e->type] = a;
            capacks[e->type] = nc;
        }
        acks[e->type][nacks[e->type]++] = e->id;
    }
    for (int t = 0; t < SS_TYPE__COUNT; t++) {
        if (rc == 0 && nacks[t]) {
            rc = ss_wr_ack(w, t, acks[t], nacks[t]);
            if (rc == 0) ss_wr_stat_add(w, &w->stats.entries, nacks[t], w->m.entries[t]);
        }
        free(acks[t]);
    }
    return rc;
}

/* Chooses the streams to read now and builds the XREADGROUP: not done; history first; a
 * live stream more than one window ahead of the slowest undrained stream waits. Returns
 * argc (0: nothing to read); idx/n get the streams in order, *blocking whether it blocks. */
static void build_read(ss_writer *w, ss_writer_read_req *req, int *blocking) {
    int64_t slowest = INT64_MAX;
    for (int t = 0; t < SS_TYPE__COUNT; t++) {
        wstream *s = &w->st[t];
        if (!s->done && !s->history && s->clock.seen && !s->clock.drained && s->clock.high < slowest)
            slowest = s->clock.high;
    }
    int nstreams = 0, all_idle = 1;
    req->count = w->o.count;
    req->block_ms = 0;
    for (int t = 0; t < SS_TYPE__COUNT; t++) {
        wstream *s = &w->st[t];
        if (s->done) continue;
        if (!s->history && s->clock.seen && !s->clock.drained && slowest != INT64_MAX &&
            s->clock.high > slowest + w->o.window_us)
            continue;
        if (s->history || !s->clock.drained) all_idle = 0;
        req->type[nstreams] = t;
        req->from[nstreams++] = s->history ? s->hist_id : ">";
    }
    req->n = nstreams;
    *blocking = 0;
    if (nstreams == 0) return;
    if (!w->o.once && all_idle) {
        *blocking = 1;
        req->block_ms = w->o.block_ms;
    }
}

/* Sends the next round's read without waiting for it, unless it would block (a blocking read
 * is only sent when we have nothing else to do). */
static void read_ahead(ss_writer *w) {
    if (w->rd_pending) return;
    ss_writer_read_req req;
    int blocking;
    build_read(w, &req, &blocking);
    if (req.n == 0 || blocking) return;
    if (!w->c->v->read_ahead(w->c, &req)) return;
    memcpy(w->rd_idx, req.type, sizeof w->rd_idx);
    w->rd_n = req.n;
    w->rd_once = w->o.once;
    w->rd_pending = 1;
}

/* One XREADGROUP over every stream that should be read now (the one read ahead, if any).
 * Returns 0, or -1. */
int ss_wr_read_round(ss_writer *w, int *got_any) {
    *got_any = 0;
    int idx[SS_TYPE__COUNT], nstreams;
    /* A short read ends a stream in --once mode only if the read was sent in --once mode:
     * one read ahead before `run`'s source ended may have missed its last entries. */
    int sent_once = w->o.once;
    ss_writer_round r;
    int rr;
    if (w->rd_pending) {
        nstreams = w->rd_n;
        memcpy(idx, w->rd_idx, sizeof idx);
        sent_once = w->rd_once;
        w->rd_pending = 0;
        rr = w->c->v->read(w->c, NULL, &r);
    } else {
        ss_writer_read_req req;
        int blocking;
        build_read(w, &req, &blocking);
        if (req.n == 0) return 0;
        nstreams = req.n;
        memcpy(idx, req.type, sizeof idx);
        rr = w->c->v->read(w->c, &req, &r);
    }
    if (rr != 0) return ss_wr_consumer_fail(w);
    int got[SS_TYPE__COUNT] = {0};
    int64_t mins[SS_TYPE__COUNT], maxs[SS_TYPE__COUNT];
    w->nb = 0;
    w->round_full = 0;
    int rc = 0;
    for (int i = 0; i < r.n && rc == 0; i++) {
        const ss_writer_batch *b = &r.s[i];
        int t = b->type;
        int64_t tmin = INT64_MAX, tmax = INT64_MIN;
        int n = 0;
        rc = ss_wr_scan_entries(w, t, b->e, b->n, w->st[t].history, &n, &tmin, &tmax);
        if (rc == 0 && w->st[t].history && n > 0) {
            const ss_writer_entry *last = &b->e[b->n - 1];
            snprintf(w->st[t].hist_id, sizeof w->st[t].hist_id, "%.*s", (int)last->idlen, last->id);
        }
        got[t] = n;
        if (b->n >= (size_t)w->o.count) w->round_full = 1;
        mins[t] = tmin;
        maxs[t] = tmax;
    }
    /* the streams' state first, so the next read can be sent before this batch is worked */
    if (rc == 0) {
        int64_t now = ss_wr_wall_us();
        for (int i = 0; i < nstreams; i++) {
            int t = idx[i];
            wstream *s = &w->st[t];
            if (s->history) {
                if (got[t] == 0) {
                    s->history = 0; /* own PEL done: now new entries */
                    ss_debug(LOG, "%s: pending entries resolved", s->key);
                }
                if (got[t] > 0 && mins[t] != INT64_MAX)
                    ss_writer_clock_observe(&s->clock, got[t], mins[t], maxs[t], 0, now);
                continue;
            }
            int short_read = got[t] < w->o.count;
            ss_writer_clock_observe(&s->clock, mins[t] != INT64_MAX ? got[t] : 0, mins[t], maxs[t], short_read, now);
            if (w->o.once && sent_once && short_read) s->done = 1;
            if (got[t]) *got_any = 1;
        }
        read_ahead(w);
    }
    if (rc == 0) rc = ss_wr_claim_batch(w, 0);
    if (rc == 0) rc = ss_wr_apply_batch(w, 0);
    w->c->v->release(w->c); /* r and every entry string in w->b die here */
    return rc;
}
