/* The DataWriter's side of the Redis consumer-group protocol: groups, heartbeat, the
 * acknowledgement script (ack_script.h), the DLQ, the reader connection with its read-ahead,
 * and the XPENDING/XCLAIM/XINFO of taking over a dead consumer. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"
#include "writer/ack_script.h"
#include "writer/writer_internal.h"

/* ---- Redis helpers ------------------------------------------------------------------------ */

static redisReply *cmdv(ss_writer *w, int argc, const char **argv, const size_t *lens) {
    redisReply *r = redisCommandArgv(w->rc, argc, argv, lens);
    if (!r) {
        ss_wr_fail(w, "redis: %s", w->rc->errstr[0] ? w->rc->errstr : "connection lost");
        return NULL;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        ss_wr_fail(w, "redis %s: %.*s", argv[0], (int)r->len, r->str);
        freeReplyObject(r);
        return NULL;
    }
    return r;
}

redisReply *ss_wr_cmd(ss_writer *w, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(w->rc, fmt, ap);
    va_end(ap);
    if (!r) {
        ss_wr_fail(w, "redis: %s", w->rc->errstr[0] ? w->rc->errstr : "connection lost");
        return NULL;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        ss_wr_fail(w, "redis %s: %.*s", fmt, (int)r->len, r->str);
        freeReplyObject(r);
        return NULL;
    }
    return r;
}

int ss_wr_heartbeat(ss_writer *w, int exited) {
    redisReply *r = ss_wr_cmd(w, "HSET %s %s %lld", w->hb_key, w->consumer, exited ? 0LL : (long long)ss_wr_wall_ms());
    if (!r) return -1;
    freeReplyObject(r);
    w->last_hb_ms = ss_wr_mono_ms();
    return 0;
}

int ss_wr_ensure_groups(ss_writer *w) {
    for (int t = 0; t < SS_TYPE__COUNT; t++) {
        redisReply *r = redisCommand(w->rc, "XGROUP CREATE %s %s 0 MKSTREAM", w->st[t].key, SS_WRITER_GROUP);
        if (!r) return ss_wr_fail(w, "redis: %s", w->rc->errstr);
        int bad = r->type == REDIS_REPLY_ERROR && strncmp(r->str, "BUSYGROUP", 9) != 0;
        if (bad) ss_wr_fail(w, "redis XGROUP CREATE %s: %.*s", w->st[t].key, (int)r->len, r->str);
        freeReplyObject(r);
        if (bad) return -1;
    }
    return 0;
}

/* Acknowledges the ids of one stream and trims what no group needs any more, with the
 * script of ack_script.h, pipelined in chunks of ACK_CHUNK ids. */
static int drain_replies(ss_writer *w, size_t n) {
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        redisReply *r = NULL;
        if (redisGetReply(w->rc, (void **)&r) != REDIS_OK || !r)
            return ss_wr_fail(w, "redis: %s", w->rc->errstr[0] ? w->rc->errstr : "connection lost");
        if (r->type == REDIS_REPLY_ERROR && rc == 0) rc = ss_wr_fail(w, "redis ack script: %.*s", (int)r->len, r->str);
        freeReplyObject(r);
    }
    return rc;
}

int ss_wr_ack_ids(ss_writer *w, int type, const ss_writer_id *ids, size_t n) {
    if (n == 0) return 0;
    enum { FIXED = 5 }; /* EVAL script 1 key group */
    const char **a = malloc((ACK_CHUNK + FIXED) * sizeof *a);
    char (*txt)[SS_WRITER_ID_STRLEN] = malloc(ACK_CHUNK * sizeof *txt);
    int rc = 0;
    size_t pending = 0;
    if (!a || !txt) {
        rc = ss_wr_fail(w, "out of memory acking entries");
        goto done;
    }
    a[0] = "EVAL";
    a[1] = SS_WRITER_ACK_SCRIPT;
    a[2] = "1";
    a[3] = w->st[type].key;
    a[4] = SS_WRITER_GROUP;
    for (size_t off = 0; off < n; off += ACK_CHUNK) {
        size_t k = n - off < ACK_CHUNK ? n - off : ACK_CHUNK;
        for (size_t i = 0; i < k; i++) {
            ss_writer_id_format(ids[off + i], txt[i]);
            a[FIXED + i] = txt[i];
        }
        redisAppendCommandArgv(w->rc, (int)(k + FIXED), a, NULL); /* hiredis copies argv now */
        if (++pending >= 16) {
            if ((rc = drain_replies(w, pending)) != 0) goto done;
            pending = 0;
        }
    }
    rc = drain_replies(w, pending);
done:
    free(a);
    free(txt);
    return rc;
}

int ss_wr_dlq_entry(ss_writer *w, const bent *e) {
    char id[SS_WRITER_ID_STRLEN];
    ss_writer_id_format(e->id, id);
    size_t rawlen = e->elen > 65536 ? 65536 : e->elen;
    redisReply *r = redisCommand(w->rc, "XADD %s * reason %s detail %s raw %b source writer stream %s id %s",
                                 w->dlq_key, e->reason, "the writer could not use this entry",
                                 e->e ? e->e : "", e->e ? rawlen : (size_t)0, w->st[e->type].key, id);
    if (!r) return ss_wr_fail(w, "redis: %s", w->rc->errstr);
    int bad = r->type == REDIS_REPLY_ERROR;
    if (bad) ss_wr_fail(w, "redis XADD %s: %.*s", w->dlq_key, (int)r->len, r->str);
    freeReplyObject(r);
    if (bad) return -1;
    ss_warn(LOG, "entry %s of %s moved to %s: %s", id, w->st[e->type].key, w->dlq_key, e->reason);
    ss_wr_stat_add(w, &w->stats.dlq, 1, w->m.dlq);
    return 0;
}

/* ---- reading ----------------------------------------------------------------------------------- */

/* The reader connection: the XREADGROUP of round N+1 is sent before round N's entries are
 * claimed, decoded and written, so Redis builds and sends the next reply while we work
 * instead of us waiting for it. A read-ahead only moves entries into our PEL, which is
 * where unprocessed entries live anyway: if the session ends before its reply is used,
 * the entries stay pending and the next session's history pass (or a takeover) reads them
 * again. Every other command uses w->rc, so replies never interleave. */
void ss_wr_reader_close(ss_writer *w) {
    if (w->rd) redisFree(w->rd);
    if (w->arena) ss_reply_arena_reset(w->arena);
    w->rd = NULL;
    w->rd_pending = 0;
}

int ss_wr_reader_connect(ss_writer *w) {
    if (w->rd) return 0;
    char err[512];
    w->rd = w->o.connect(w->o.connect_ctx, err, sizeof err);
    if (!w->rd) return ss_wr_fail(w, "%s", err);
    /* keep the reader's buffer between replies: hiredis otherwise frees and regrows it on
     * every read, and the regrowth costs more than the parsing */
    if (w->rd->reader) w->rd->reader->maxbuf = 0;
    ss_reply_arena_attach(w->rd, w->arena);
    return 0;
}

/* Sends the next XREADGROUP on the reader without waiting for it, unless it would block
 * (a blocking read is only sent when we have nothing else to do). */
void ss_wr_read_ahead(ss_writer *w) {
    if (w->rd_pending || !w->rd) return;
    const char *argv[12 + 2 * SS_TYPE__COUNT];
    char count[16], block[16];
    int idx[SS_TYPE__COUNT], n, blocking;
    int argc = ss_wr_build_read(w, argv, count, sizeof count, block, sizeof block, idx, &n, &blocking);
    if (argc == 0 || blocking) return;
    if (redisAppendCommandArgv(w->rd, argc, argv, NULL) != REDIS_OK) return;
    int done = 0;
    while (!done)
        if (redisBufferWrite(w->rd, &done) != REDIS_OK) {
            ss_wr_reader_close(w); /* if it got through, its entries wait in our PEL for the next session */
            return;
        }
    memcpy(w->rd_idx, idx, sizeof idx);
    w->rd_n = n;
    w->rd_once = w->o.once;
    w->rd_pending = 1;
}

/* Takes over consumer `dead`'s pending entries of stream t that have been idle at least
 * min_idle ms, and processes them like our own pending entries. */
int ss_wr_take_over_stream(ss_writer *w, int t, const char *dead, long long min_idle) {
    const char *key = w->st[t].key;
    for (;;) {
        redisReply *r = ss_wr_cmd(w, "XPENDING %s %s IDLE %lld - + 1000 %s", key, SS_WRITER_GROUP, min_idle, dead);
        if (!r) return -1;
        if (r->type != REDIS_REPLY_ARRAY || r->elements == 0) {
            freeReplyObject(r);
            return 0;
        }
        size_t n = r->elements;
        const char **argv = malloc((n + 6) * sizeof *argv);
        size_t *lens = malloc((n + 6) * sizeof *lens);
        if (!argv || !lens) {
            free(argv);
            free(lens);
            freeReplyObject(r);
            return ss_wr_fail(w, "out of memory");
        }
        char idle[24];
        snprintf(idle, sizeof idle, "%lld", min_idle);
        size_t argc = 0;
        argv[argc++] = "XCLAIM";
        argv[argc++] = key;
        argv[argc++] = SS_WRITER_GROUP;
        argv[argc++] = w->consumer;
        argv[argc++] = idle;
        for (size_t i = 0; i < n; i++) {
            const redisReply *e = r->element[i];
            if (e->type != REDIS_REPLY_ARRAY || e->elements < 1 || e->element[0]->type != REDIS_REPLY_STRING) continue;
            argv[argc] = e->element[0]->str;
            lens[argc++] = e->element[0]->len;
        }
        for (size_t i = 0; i < 5; i++) lens[i] = strlen(argv[i]);
        redisReply *c = argc > 5 ? cmdv(w, (int)argc, argv, lens) : NULL;
        free(argv);
        free(lens);
        freeReplyObject(r);
        if (argc > 5 && !c) return -1;
        if (!c) return 0;
        w->nb = 0;
        int64_t tmin = INT64_MAX, tmax = INT64_MIN;
        int got = 0;
        int rc = ss_wr_scan_entries(w, t, c, 1, &got, &tmin, &tmax);
        if (rc == 0) rc = ss_wr_claim_batch(w, 0);
        if (rc == 0) rc = ss_wr_apply_batch(w, 0);
        freeReplyObject(c);
        if (rc != 0) return -1;
        ss_wr_stat_add(w, &w->stats.reclaimed, (uint64_t)got, w->m.reclaimed);
        ss_info(LOG, "took over %d pending entries of dead consumer %s in %s", got, dead, key);
        if (got == 0) return 0; /* nothing claimable (entries touched meanwhile) */
        if (ss_wr_enforce_budget(w) != 0) return -1;
    }
}

int ss_wr_list_consumers(ss_writer *w, consumer_info **out, size_t *n) {
    *out = NULL;
    *n = 0;
    size_t cap = 0;
    for (int t = 0; t < SS_TYPE__COUNT; t++) {
        redisReply *r = ss_wr_cmd(w, "XINFO CONSUMERS %s %s", w->st[t].key, SS_WRITER_GROUP);
        if (!r) return -1;
        for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
            const redisReply *c = r->element[i];
            if (c->type != REDIS_REPLY_ARRAY) continue;
            consumer_info ci;
            memset(&ci, 0, sizeof ci);
            for (size_t j = 0; j + 1 < c->elements; j += 2) {
                const redisReply *k = c->element[j], *v = c->element[j + 1];
                if (k->type != REDIS_REPLY_STRING) continue;
                if (!strcmp(k->str, "name") && v->type == REDIS_REPLY_STRING)
                    snprintf(ci.name, sizeof ci.name, "%s", v->str);
                else if (!strcmp(k->str, "pending") && v->type == REDIS_REPLY_INTEGER)
                    ci.pending = v->integer;
                else if (!strcmp(k->str, "idle") && v->type == REDIS_REPLY_INTEGER)
                    ci.idle_ms = v->integer;
            }
            if (!ci.name[0] || !strcmp(ci.name, w->consumer)) continue;
            size_t k;
            for (k = 0; k < *n; k++)
                if (!strcmp((*out)[k].name, ci.name)) break;
            if (k == *n) {
                if (*n == cap) {
                    size_t nc = cap ? cap * 2 : 16;
                    consumer_info *a = realloc(*out, nc * sizeof *a);
                    if (!a) {
                        freeReplyObject(r);
                        return ss_wr_fail(w, "out of memory");
                    }
                    *out = a;
                    cap = nc;
                }
                (*out)[(*n)++] = ci;
            } else {
                (*out)[k].pending += ci.pending;
                if (ci.idle_ms < (*out)[k].idle_ms) (*out)[k].idle_ms = ci.idle_ms;
            }
        }
        freeReplyObject(r);
    }
    return 0;
}
