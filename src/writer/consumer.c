/* The DataWriter's Redis consumer (consumer.h): the consumer-group protocol over hiredis.
 *
 * Two connections. Every command (groups, heartbeat, the acknowledgement script of
 * ack_script.h, the DLQ, XPENDING/XCLAIM/XINFO of a takeover) goes over the command
 * connection; XREADGROUP alone goes over a second one, the reader, so that one read can be in
 * flight while the core works: read_ahead sends the XREADGROUP of round N+1 before round N's
 * entries are claimed, decoded and written, and Redis builds and sends that reply meanwhile.
 * A read-ahead only moves entries into our PEL, which is where unprocessed entries live
 * anyway: if the session ends before its reply is used, they stay pending and the next
 * session's history pass (or a takeover) reads them again. Replies never interleave.
 *
 * The reader's replies are built in a reply arena (buffer/reply_arena.h: no malloc per
 * object), and it keeps its hiredis buffer between replies (maxbuf = 0: freeing and regrowing
 * it on every read cost more than the parsing). Entries are handed to the core as borrowed
 * pointers into those replies (consumer.h has the contract); the entry and field arrays that
 * describe them are reused from round to round. `persistence` reads INFO persistence and
 * INFO memory on the command connection (buffer/persist.h has the verdict). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "buffer/gaps.h"
#include "buffer/persist.h"
#include "buffer/redis.h"
#include "buffer/reply_arena.h"
#include "buffer/shard.h"
#include "writer/ack_script.h"
#include "writer/consumer.h"
#include "util/clock.h"

#define ACK_CHUNK 1000 /* ids per acknowledgement script call */

/* Entry and field arrays describing one reply, grown as needed and reused. */
typedef struct {
    ss_writer_entry *e;
    size_t cape;
    ss_writer_str *f;
    size_t capf;
} entry_buf;

typedef struct {
    redisContext *(*connect)(void *ctx, char *err, size_t errlen, ss_err_class *cls);
    void *connect_ctx;
    char prefix[SS_WRITER_MAX_PREFIX + 1];
    char consumer[SS_WRITER_MAX_CONSUMER + 1];
    char key[SS_TYPE__COUNT][SS_WRITER_MAX_PREFIX + 16];
    char hb_key[SS_WRITER_MAX_PREFIX + 16];
    char dlq_key[SS_WRITER_MAX_PREFIX + 16];
    redisContext *rc;      /* commands */
    redisContext *rd;      /* XREADGROUP only, so one can be in flight */
    ss_reply_arena *arena; /* rd's replies are built here (reset by release) */
    int rd_pending;        /* an XREADGROUP was sent on rd and its reply not yet read */
    int arena_used;        /* a reply of rd is handed out */
    redisReply *claimed;   /* the XCLAIM reply handed out by take_over */
    entry_buf rb, cb;      /* describing the read reply, the XCLAIM reply */
} rcons;

static int cfail(ss_writer_consumer *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int cfail(ss_writer_consumer *c, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->errstr, sizeof c->errstr, fmt, ap);
    va_end(ap);
    c->err = SS_ERR_IO;
    return -1;
}

/* An error reply to what (e.g. "XREADGROUP"): the message, and its class from the reply's
 * error code (buffer/redis.h). A refusal by Redis's ACL is worded as one: no retry fixes it.
 * Returns -1. */
static int reply_fail(ss_writer_consumer *c, const char *what, const redisReply *r) {
    if (ss_redis_error_class(r->str) == SS_ERR_PERMISSION)
        cfail(c, "permission error: redis %s: %.*s; give the writer's Redis user the rules of `skyspool acl write`", what,
              (int)r->len, r->str);
    else
        cfail(c, "redis %s: %.*s", what, (int)r->len, r->str);
    c->err = ss_redis_error_class(r->str);
    return -1;
}

static redisReply *cmdv(ss_writer_consumer *c, int argc, const char **argv, const size_t *lens) {
    rcons *r0 = c->impl;
    redisReply *r = redisCommandArgv(r0->rc, argc, argv, lens);
    if (!r) {
        cfail(c, "redis: %s", r0->rc->errstr[0] ? r0->rc->errstr : "connection lost");
        return NULL;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        reply_fail(c, argv[0], r);
        freeReplyObject(r);
        return NULL;
    }
    return r;
}

static redisReply *cmd(ss_writer_consumer *c, const char *fmt, ...) {
    rcons *r0 = c->impl;
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(r0->rc, fmt, ap);
    va_end(ap);
    if (!r) {
        cfail(c, "redis: %s", r0->rc->errstr[0] ? r0->rc->errstr : "connection lost");
        return NULL;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        reply_fail(c, fmt, r);
        freeReplyObject(r);
        return NULL;
    }
    return r;
}

/* ---- connections ---------------------------------------------------------------------------- */

static int r_connect(ss_writer_consumer *c) {
    rcons *r = c->impl;
    if (r->rc) return 0;
    char err[512];
    ss_err_class cls = SS_ERR_IO;
    r->rc = r->connect(r->connect_ctx, err, sizeof err, &cls);
    if (!r->rc) return cfail(c, "%s", err), c->err = cls, -1;
    return 0;
}

static void reader_close(rcons *r) {
    if (r->rd) redisFree(r->rd);
    ss_reply_arena_reset(r->arena);
    r->arena_used = 0;
    r->rd = NULL;
    r->rd_pending = 0;
}

static int reader_connect(ss_writer_consumer *c) {
    rcons *r = c->impl;
    if (r->rd) return 0;
    char err[512];
    ss_err_class cls = SS_ERR_IO;
    r->rd = r->connect(r->connect_ctx, err, sizeof err, &cls);
    if (!r->rd) return cfail(c, "%s", err), c->err = cls, -1;
    /* keep the reader's buffer between replies: hiredis otherwise frees and regrows it on
     * every read, and the regrowth costs more than the parsing */
    if (r->rd->reader) r->rd->reader->maxbuf = 0;
    ss_reply_arena_attach(r->rd, r->arena);
    return 0;
}

static void r_release(ss_writer_consumer *c) {
    rcons *r = c->impl;
    if (r->arena_used) ss_reply_arena_reset(r->arena); /* the read reply and its strings die here */
    r->arena_used = 0;
    if (r->claimed) freeReplyObject(r->claimed);
    r->claimed = NULL;
}

static void r_close(ss_writer_consumer *c) {
    rcons *r = c->impl;
    r_release(c);
    reader_close(r);
    if (r->rc) redisFree(r->rc);
    r->rc = NULL;
}

static void r_free(ss_writer_consumer *c) {
    if (!c) return;
    rcons *r = c->impl;
    if (r) {
        r_close(c);
        ss_reply_arena_free(r->arena);
        free(r->rb.e);
        free(r->rb.f);
        free(r->cb.e);
        free(r->cb.f);
        free(r);
    }
    free(c);
}

/* ---- groups, heartbeat, shards -------------------------------------------------------------- */

static int r_shard_recorded(ss_writer_consumer *c, int *shards) {
    rcons *r = c->impl;
    return ss_shard_recorded(r->rc, r->prefix, shards, c->errstr, sizeof c->errstr);
}

static int r_shard_claim(ss_writer_consumer *c, const char *field, const char *ledger_id, int force, char *owner,
                         size_t ownerlen) {
    rcons *r = c->impl;
    return ss_shard_claim_owner(r->rc, r->prefix, field, ledger_id, force, owner, ownerlen, c->errstr,
                                sizeof c->errstr);
}

static int r_ensure_groups(ss_writer_consumer *c) {
    rcons *r0 = c->impl;
    for (int t = 0; t < SS_TYPE__COUNT; t++) {
        redisReply *r = redisCommand(r0->rc, "XGROUP CREATE %s %s 0 MKSTREAM", r0->key[t], SS_WRITER_GROUP);
        if (!r) return cfail(c, "redis: %s", r0->rc->errstr);
        int bad = r->type == REDIS_REPLY_ERROR && strncmp(r->str, "BUSYGROUP", 9) != 0;
        if (bad) {
            char what[600];
            snprintf(what, sizeof what, "XGROUP CREATE %s", r0->key[t]);
            reply_fail(c, what, r);
        }
        freeReplyObject(r);
        if (bad) return -1;
    }
    return 0;
}

static int r_heartbeat(ss_writer_consumer *c, long long ms) {
    rcons *r0 = c->impl;
    if (!r0->rc) return cfail(c, "redis: not connected");
    redisReply *r = cmd(c, "HSET %s %s %lld", r0->hb_key, r0->consumer, ms);
    if (!r) return -1;
    freeReplyObject(r);
    return 0;
}

static int r_heartbeat_of(ss_writer_consumer *c, const char *consumer, long long *ms) {
    rcons *r0 = c->impl;
    redisReply *r = cmd(c, "HGET %s %s", r0->hb_key, consumer);
    if (!r) return -1;
    *ms = -1;
    if (r->type == REDIS_REPLY_STRING) *ms = strtoll(r->str, NULL, 10);
    freeReplyObject(r);
    return 0;
}

/* ---- entries -------------------------------------------------------------------------------- */

static int usable_entry(const redisReply *ent) {
    return ent && ent->type == REDIS_REPLY_ARRAY && ent->elements >= 1 && ent->element[0]->type == REDIS_REPLY_STRING;
}

static const redisReply *fields_of(const redisReply *ent) {
    const redisReply *f = ent->elements > 1 ? ent->element[1] : NULL;
    return f && f->type == REDIS_REPLY_ARRAY ? f : NULL;
}

static int grow(void **p, size_t *cap, size_t want, size_t size) {
    if (want <= *cap) return 0;
    size_t nc = *cap ? *cap : 1024;
    while (nc < want) nc *= 2;
    void *a = realloc(*p, nc * size);
    if (!a) return -1;
    *p = a;
    *cap = nc;
    return 0;
}

/* Makes room in b for the usable entries (and their fields) of the arrays arr[0..n). */
static int reserve(entry_buf *b, const redisReply *const *arr, size_t n) {
    size_t ne = 0, nf = 0;
    for (size_t k = 0; k < n; k++)
        for (size_t i = 0; arr[k] && arr[k]->type == REDIS_REPLY_ARRAY && i < arr[k]->elements; i++) {
            const redisReply *ent = arr[k]->element[i];
            if (!usable_entry(ent)) continue;
            ne++;
            const redisReply *f = fields_of(ent);
            if (f) nf += f->elements;
        }
    if (grow((void **)&b->e, &b->cape, ne, sizeof *b->e) != 0) return -1;
    if (grow((void **)&b->f, &b->capf, nf, sizeof *b->f) != 0) return -1;
    return 0;
}

/* Describes the entries of arr (an array of [id, [field, value, ...]]) from b's slots e/f on. */
static size_t describe(const redisReply *arr, ss_writer_entry *e, ss_writer_str **f) {
    size_t n = 0;
    for (size_t i = 0; arr && arr->type == REDIS_REPLY_ARRAY && i < arr->elements; i++) {
        const redisReply *ent = arr->element[i];
        if (!usable_entry(ent)) continue;
        ss_writer_entry *d = &e[n++];
        d->id = ent->element[0]->str;
        d->idlen = ent->element[0]->len;
        const redisReply *fr = fields_of(ent);
        d->deleted = fr == NULL;
        d->f = *f;
        d->nf = fr ? fr->elements : 0;
        for (size_t j = 0; j < d->nf; j++) {
            const redisReply *x = fr->element[j];
            (*f)[j].p = x->type == REDIS_REPLY_STRING ? x->str : NULL;
            (*f)[j].n = x->type == REDIS_REPLY_STRING ? x->len : 0;
        }
        *f += d->nf;
    }
    return n;
}

/* ---- reading -------------------------------------------------------------------------------- */

static int read_argv(const rcons *r, const ss_writer_read_req *req, const char **argv, char *count, char *block) {
    int argc = 0;
    snprintf(count, 16, "%d", req->count);
    argv[argc++] = "XREADGROUP";
    argv[argc++] = "GROUP";
    argv[argc++] = SS_WRITER_GROUP;
    argv[argc++] = r->consumer;
    argv[argc++] = "COUNT";
    argv[argc++] = count;
    if (req->block_ms > 0) {
        snprintf(block, 16, "%d", req->block_ms);
        argv[argc++] = "BLOCK";
        argv[argc++] = block;
    }
    argv[argc++] = "STREAMS";
    for (int i = 0; i < req->n; i++) argv[argc++] = r->key[req->type[i]];
    for (int i = 0; i < req->n; i++) argv[argc++] = req->from[i];
    return argc;
}

static int r_read_ahead(ss_writer_consumer *c, const ss_writer_read_req *req) {
    rcons *r = c->impl;
    if (r->rd_pending || !r->rd || req->n <= 0 || req->block_ms > 0) return 0;
    const char *argv[12 + 2 * SS_TYPE__COUNT];
    char count[16], block[16];
    int argc = read_argv(r, req, argv, count, block);
    if (redisAppendCommandArgv(r->rd, argc, argv, NULL) != REDIS_OK) return 0;
    int done = 0;
    while (!done)
        if (redisBufferWrite(r->rd, &done) != REDIS_OK) {
            reader_close(r); /* if it got through, its entries wait in our PEL for the next session */
            return 0;
        }
    r->rd_pending = 1;
    return 1;
}

static int r_read(ss_writer_consumer *c, const ss_writer_read_req *req, ss_writer_round *out) {
    rcons *r0 = c->impl;
    out->n = 0;
    r_release(c);
    if (reader_connect(c) != 0) return -1;
    if (req) {
        const char *argv[12 + 2 * SS_TYPE__COUNT];
        char count[16], block[16];
        int argc = read_argv(r0, req, argv, count, block);
        if (r0->rd_pending || redisAppendCommandArgv(r0->rd, argc, argv, NULL) != REDIS_OK) {
            reader_close(r0);
            return cfail(c, "redis: out of memory");
        }
    } else if (!r0->rd_pending) {
        return cfail(c, "redis: no read was sent ahead");
    }
    r0->rd_pending = 0;
    redisReply *r = NULL;
    if (redisGetReply(r0->rd, (void **)&r) != REDIS_OK || !r) {
        cfail(c, "redis: %s", r0->rd->errstr[0] ? r0->rd->errstr : "no reply");
        reader_close(r0);
        return -1;
    }
    r0->arena_used = 1;
    if (r->type == REDIS_REPLY_ERROR) {
        reply_fail(c, "XREADGROUP", r);
        r_release(c);
        return -1;
    }
    if (r->type != REDIS_REPLY_ARRAY) return 0;
    /* [[key, entries], ...] for the streams that had entries */
    const redisReply *arrs[SS_TYPE__COUNT] = {0};
    int types[SS_TYPE__COUNT], n = 0;
    for (size_t i = 0; i < r->elements && n < SS_TYPE__COUNT; i++) {
        const redisReply *sr = r->element[i];
        if (sr->type != REDIS_REPLY_ARRAY || sr->elements != 2 || sr->element[0]->type != REDIS_REPLY_STRING) continue;
        int t = -1;
        for (int k = 0; k < SS_TYPE__COUNT; k++)
            if (strlen(r0->key[k]) == sr->element[0]->len && !memcmp(r0->key[k], sr->element[0]->str, sr->element[0]->len))
                t = k;
        if (t < 0) continue;
        types[n] = t;
        arrs[n++] = sr->element[1];
    }
    if (reserve(&r0->rb, arrs, (size_t)n) != 0) {
        r_release(c);
        return cfail(c, "out of memory");
    }
    ss_writer_entry *e = r0->rb.e;
    ss_writer_str *f = r0->rb.f;
    for (int i = 0; i < n; i++) {
        ss_writer_batch *b = &out->s[out->n++];
        b->type = types[i];
        b->e = e;
        b->n = describe(arrs[i], e, &f);
        e += b->n;
    }
    return 0;
}

/* ---- acknowledgements and the DLQ ----------------------------------------------------------- */

static int drain_replies(ss_writer_consumer *c, size_t n) {
    rcons *r0 = c->impl;
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        redisReply *r = NULL;
        if (redisGetReply(r0->rc, (void **)&r) != REDIS_OK || !r)
            return cfail(c, "redis: %s", r0->rc->errstr[0] ? r0->rc->errstr : "connection lost");
        if (r->type == REDIS_REPLY_ERROR && rc == 0) rc = reply_fail(c, "ack script", r);
        freeReplyObject(r);
    }
    return rc;
}

/* Acknowledges the ids of one stream and trims what no group needs any more, with the
 * script of ack_script.h, pipelined in chunks of ACK_CHUNK ids. */
static int r_ack(ss_writer_consumer *c, int type, const ss_writer_id *ids, size_t n) {
    rcons *r0 = c->impl;
    if (n == 0) return 0;
    enum { FIXED = 5 }; /* EVAL script 1 key group */
    const char **a = malloc((ACK_CHUNK + FIXED) * sizeof *a);
    char (*txt)[SS_WRITER_ID_STRLEN] = malloc(ACK_CHUNK * sizeof *txt);
    int rc = 0;
    size_t pending = 0;
    if (!a || !txt) {
        rc = cfail(c, "out of memory acking entries");
        goto done;
    }
    a[0] = "EVAL";
    a[1] = SS_WRITER_ACK_SCRIPT;
    a[2] = "1";
    a[3] = r0->key[type];
    a[4] = SS_WRITER_GROUP;
    for (size_t off = 0; off < n; off += ACK_CHUNK) {
        size_t k = n - off < ACK_CHUNK ? n - off : ACK_CHUNK;
        for (size_t i = 0; i < k; i++) {
            ss_writer_id_format(ids[off + i], txt[i]);
            a[FIXED + i] = txt[i];
        }
        redisAppendCommandArgv(r0->rc, (int)(k + FIXED), a, NULL); /* hiredis copies argv now */
        if (++pending >= 16) {
            if ((rc = drain_replies(c, pending)) != 0) goto done;
            pending = 0;
        }
    }
    rc = drain_replies(c, pending);
done:
    free(a);
    free(txt);
    return rc;
}

static int r_dlq(ss_writer_consumer *c, int type, const char *id, const char *reason, const char *raw, size_t rawlen) {
    rcons *r0 = c->impl;
    if (rawlen > 65536) rawlen = 65536;
    redisReply *r = redisCommand(r0->rc, "XADD %s * reason %s detail %s raw %b source writer stream %s id %s",
                                 r0->dlq_key, reason, "the writer could not use this entry", raw ? raw : "",
                                 raw ? rawlen : (size_t)0, r0->key[type], id);
    if (!r) return cfail(c, "redis: %s", r0->rc->errstr);
    int bad = r->type == REDIS_REPLY_ERROR;
    if (bad) {
        char what[600];
        snprintf(what, sizeof what, "XADD %s", r0->dlq_key);
        reply_fail(c, what, r);
    }
    freeReplyObject(r);
    return bad ? -1 : 0;
}

/* ---- dead consumers ------------------------------------------------------------------------- */

static int r_take_over(ss_writer_consumer *c, int t, const char *dead, long long min_idle, ss_writer_batch *out) {
    rcons *r0 = c->impl;
    const char *key = r0->key[t];
    out->type = t;
    out->e = NULL;
    out->n = 0;
    r_release(c);
    redisReply *r = cmd(c, "XPENDING %s %s IDLE %lld - + 1000 %s", key, SS_WRITER_GROUP, min_idle, dead);
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
        return cfail(c, "out of memory");
    }
    char idle[24];
    snprintf(idle, sizeof idle, "%lld", min_idle);
    size_t argc = 0;
    argv[argc++] = "XCLAIM";
    argv[argc++] = key;
    argv[argc++] = SS_WRITER_GROUP;
    argv[argc++] = r0->consumer;
    argv[argc++] = idle;
    for (size_t i = 0; i < n; i++) {
        const redisReply *e = r->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements < 1 || e->element[0]->type != REDIS_REPLY_STRING) continue;
        argv[argc] = e->element[0]->str;
        lens[argc++] = e->element[0]->len;
    }
    for (size_t i = 0; i < 5; i++) lens[i] = strlen(argv[i]);
    redisReply *cl = argc > 5 ? cmdv(c, (int)argc, argv, lens) : NULL;
    free(argv);
    free(lens);
    freeReplyObject(r);
    if (argc > 5 && !cl) return -1;
    if (!cl) return 0;
    const redisReply *arr = cl;
    if (reserve(&r0->cb, &arr, 1) != 0) {
        freeReplyObject(cl);
        return cfail(c, "out of memory");
    }
    r0->claimed = cl;
    ss_writer_str *f = r0->cb.f;
    out->e = r0->cb.e;
    out->n = describe(cl, r0->cb.e, &f);
    return 1;
}

static int r_consumers(ss_writer_consumer *c, ss_writer_consumer_info **out, size_t *n) {
    rcons *r0 = c->impl;
    *out = NULL;
    *n = 0;
    size_t cap = 0;
    for (int t = 0; t < SS_TYPE__COUNT; t++) {
        redisReply *r = cmd(c, "XINFO CONSUMERS %s %s", r0->key[t], SS_WRITER_GROUP);
        if (!r) return -1;
        for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
            const redisReply *cr = r->element[i];
            if (cr->type != REDIS_REPLY_ARRAY) continue;
            ss_writer_consumer_info ci;
            memset(&ci, 0, sizeof ci);
            for (size_t j = 0; j + 1 < cr->elements; j += 2) {
                const redisReply *k = cr->element[j], *v = cr->element[j + 1];
                if (k->type != REDIS_REPLY_STRING) continue;
                if (!strcmp(k->str, "name") && v->type == REDIS_REPLY_STRING)
                    snprintf(ci.name, sizeof ci.name, "%s", v->str);
                else if (!strcmp(k->str, "pending") && v->type == REDIS_REPLY_INTEGER)
                    ci.pending = v->integer;
                else if (!strcmp(k->str, "idle") && v->type == REDIS_REPLY_INTEGER)
                    ci.idle_ms = v->integer;
            }
            if (!ci.name[0] || !strcmp(ci.name, r0->consumer)) continue;
            size_t k;
            for (k = 0; k < *n; k++)
                if (!strcmp((*out)[k].name, ci.name)) break;
            if (k == *n) {
                if (*n == cap) {
                    size_t nc = cap ? cap * 2 : 16;
                    ss_writer_consumer_info *a = realloc(*out, nc * sizeof *a);
                    if (!a) {
                        freeReplyObject(r);
                        return cfail(c, "out of memory");
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

/* Forgets a dead consumer once nothing of it is pending anywhere. */
static int r_forget(ss_writer_consumer *c, const char *dead) {
    rcons *r0 = c->impl;
    int left = 0;
    for (int t = 0; t < SS_TYPE__COUNT && !left; t++) {
        redisReply *p = cmd(c, "XPENDING %s %s - + 1 %s", r0->key[t], SS_WRITER_GROUP, dead);
        if (!p) return -1;
        left = p->type == REDIS_REPLY_ARRAY && p->elements > 0;
        freeReplyObject(p);
    }
    if (left) return 0;
    for (int t = 0; t < SS_TYPE__COUNT; t++) {
        redisReply *d = cmd(c, "XGROUP DELCONSUMER %s %s %s", r0->key[t], SS_WRITER_GROUP, dead);
        if (!d) return -1;
        freeReplyObject(d);
    }
    redisReply *d = cmd(c, "HDEL %s %s", r0->hb_key, dead);
    if (!d) return -1;
    freeReplyObject(d);
    return 0;
}

/* ---- data loss ------------------------------------------------------------------------------ */

static int r_server_id(ss_writer_consumer *c, char *out, size_t outlen) {
    rcons *r0 = c->impl;
    char err[256];
    out[0] = '\0';
    char *info = ss_redis_info(r0->rc, "server", err, sizeof err);
    if (!info) return cfail(c, "redis INFO: %s", err);
    ss_redis_info_str(info, "run_id", out, outlen);
    free(info);
    return 0;
}

static int r_last_delivered(ss_writer_consumer *c, int type, ss_writer_id *out) {
    rcons *r0 = c->impl;
    *out = (ss_writer_id){0, 0};
    redisReply *r = redisCommand(r0->rc, "XINFO GROUPS %s", r0->key[type]);
    if (!r) return cfail(c, "redis: %s", r0->rc->errstr[0] ? r0->rc->errstr : "connection lost");
    if (r->type == REDIS_REPLY_ERROR) { /* ERR no such key (no code of its own): is the stream gone? */
        int nokey = ss_redis_key_exists(r0->rc, r0->key[type]) == 0;
        if (!nokey) {
            char what[600];
            snprintf(what, sizeof what, "XINFO GROUPS %s", r0->key[type]);
            reply_fail(c, what, r);
        }
        freeReplyObject(r);
        return nokey ? 0 : -1;
    }
    int rc = 0;
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
        const redisReply *g = r->element[i];
        const char *name = NULL, *last = NULL;
        size_t lastlen = 0;
        for (size_t j = 0; g->type == REDIS_REPLY_ARRAY && j + 1 < g->elements; j += 2) {
            const redisReply *k = g->element[j], *v = g->element[j + 1];
            if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING) continue;
            if (!strcmp(k->str, "name")) name = v->str;
            else if (!strcmp(k->str, "last-delivered-id")) last = v->str, lastlen = v->len;
        }
        if (name && last && !strcmp(name, SS_WRITER_GROUP) && ss_writer_id_parse(last, lastlen, out) != 0)
            rc = cfail(c, "unexpected last-delivered-id '%.*s' in %s", (int)lastlen, last, r0->key[type]);
    }
    freeReplyObject(r);
    return rc;
}

static int r_oldest_pending(ss_writer_consumer *c, int type, ss_writer_id *out) {
    rcons *r0 = c->impl;
    redisReply *r = cmd(c, "XPENDING %s %s", r0->key[type], SS_WRITER_GROUP);
    if (!r) return -1;
    int rc = 0;
    if (r->type == REDIS_REPLY_ARRAY && r->elements >= 2 && r->element[0]->type == REDIS_REPLY_INTEGER &&
        r->element[0]->integer > 0 && r->element[1]->type == REDIS_REPLY_STRING)
        rc = ss_writer_id_parse(r->element[1]->str, r->element[1]->len, out) == 0
                 ? 1
                 : cfail(c, "unexpected XPENDING reply for %s", r0->key[type]);
    freeReplyObject(r);
    return rc;
}

static int r_report_loss(ss_writer_consumer *c, int type, long long released, const char *last_delivered,
                         const char *max_claimed) {
    rcons *r0 = c->impl;
    redisReply *r = cmd(c, "HSET %sredis-loss last_us %lld last_stream %s last_released %lld last_delivered %s "
                           "max_claimed %s", r0->prefix, (long long)ss_wall_us(), r0->key[type], released,
                        last_delivered, max_claimed);
    if (!r) return -1;
    freeReplyObject(r);
    r = cmd(c, "HINCRBY %sredis-loss detected 1", r0->prefix);
    if (!r) return -1;
    freeReplyObject(r);
    return 0;
}

/* ---- gap records (buffer/gaps.h) ---------------------------------------------------------- */

static int r_gaps_read(ss_writer_consumer *c, size_t max, ss_gap_record **out, size_t *n) {
    rcons *r0 = c->impl;
    if (!r0->rc) return cfail(c, "redis: not connected");
    char err[512];
    if (ss_gaps_read(r0->rc, r0->prefix, max, out, n, err, sizeof err) != 0) return cfail(c, "%s", err);
    return 0;
}

/* XDEL and the note in gaps-seen in one script, so the count is exactly the entries deleted
 * (once each, whichever writer deleted them) also across a crash. ARGV: the number of ids,
 * the ids, then field-value pairs for the newest one. */
static const char k_gaps_done_lua[] =
    "local n = tonumber(ARGV[1])\n"
    "local ids = {}\n"
    "for i = 1, n do ids[i] = ARGV[1 + i] end\n"
    "local d = redis.call('XDEL', KEYS[1], unpack(ids))\n"
    "if d > 0 then\n"
    "  redis.call('HINCRBY', KEYS[2], 'committed', d)\n"
    "  for i = n + 2, #ARGV - 1, 2 do redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1]) end\n"
    "end\n"
    "return d\n";

static int r_gaps_done(ss_writer_consumer *c, const ss_gap_record *g, size_t n) {
    rcons *r0 = c->impl;
    if (n == 0) return 0;
    char gkey[SS_WRITER_MAX_PREFIX + 16], skey[SS_WRITER_MAX_PREFIX + 16], nids[24];
    snprintf(gkey, sizeof gkey, "%s%s", r0->prefix, SS_GAPS_KEY);
    snprintf(skey, sizeof skey, "%s%s", r0->prefix, SS_GAPS_SEEN_KEY);
    snprintf(nids, sizeof nids, "%zu", n);
    size_t argc = 6 + n + 18;
    const char **argv = malloc(argc * sizeof *argv);
    if (!argv) return cfail(c, "out of memory");
    const ss_gap_record *last = &g[n - 1];
    char from[24], to[24], det[24], cur[24];
    snprintf(from, sizeof from, "%lld", (long long)last->from);
    snprintf(to, sizeof to, "%lld", (long long)last->to);
    snprintf(det, sizeof det, "%lld", (long long)last->detected_us);
    snprintf(cur, sizeof cur, "%lld", (long long)last->cursor);
    size_t k = 0;
    argv[k++] = "EVAL";
    argv[k++] = k_gaps_done_lua;
    argv[k++] = "2";
    argv[k++] = gkey;
    argv[k++] = skey;
    argv[k++] = nids;
    for (size_t i = 0; i < n; i++) argv[k++] = g[i].id;
    const char *kv[] = {"last_id", last->id, "last_source", last->source, "last_reason", last->reason,
                        "last_unit", last->unit, "last_from", from, "last_to", to,
                        "last_detected_us", det, "last_cursor", cur, "last_detail", last->detail};
    for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++) argv[k++] = kv[i];
    redisReply *r = cmdv(c, (int)k, argv, NULL);
    free(argv);
    if (!r) return -1;
    freeReplyObject(r);
    return 0;
}

/* ---- persistence ---------------------------------------------------------------------------- */

static int r_persistence(ss_writer_consumer *c, char *why, size_t n) {
    rcons *r0 = c->impl;
    why[0] = '\0';
    if (!r0->rc) return cfail(c, "redis: not connected");
    char err[256];
    ss_persist p;
    memset(&p, 0, sizeof p);
    /* two sections, two calls: INFO with several sections needs Redis 7 */
    for (int i = 0; i < 2; i++) {
        char *info = ss_redis_info(r0->rc, i ? "memory" : "persistence", err, sizeof err);
        if (!info) return cfail(c, "redis %s", err);
        ss_persist_parse(info, &p);
        free(info);
    }
    unsigned fatal = p.problems & (SS_PERSIST_NO_AOF | SS_PERSIST_EVICTING);
    if (fatal) {
        ss_persist_describe(&p, fatal, why, n);
        return 1;
    }
    if (p.problems) ss_persist_describe(&p, p.problems, why, n);
    return 0;
}

static const ss_writer_consumer_vtbl redis_vtbl = {
    .connect = r_connect,
    .close = r_close,
    .shard_recorded = r_shard_recorded,
    .shard_claim = r_shard_claim,
    .ensure_groups = r_ensure_groups,
    .heartbeat = r_heartbeat,
    .heartbeat_of = r_heartbeat_of,
    .read = r_read,
    .read_ahead = r_read_ahead,
    .release = r_release,
    .ack = r_ack,
    .dlq = r_dlq,
    .consumers = r_consumers,
    .take_over = r_take_over,
    .server_id = r_server_id,
    .last_delivered = r_last_delivered,
    .report_loss = r_report_loss,
    .oldest_pending = r_oldest_pending,
    .persistence = r_persistence,
    .gaps_read = r_gaps_read,
    .gaps_done = r_gaps_done,
    .forget = r_forget,
    .free = r_free,
};

ss_writer_consumer *ss_writer_consumer_redis(const ss_writer_consumer_cfg *cfg,
                                             redisContext *(*connect)(void *ctx, char *err, size_t errlen, ss_err_class *cls),
                                             void *connect_ctx) {
    ss_writer_consumer *c = calloc(1, sizeof *c);
    rcons *r = calloc(1, sizeof *r);
    if (!c || !r || !(r->arena = ss_reply_arena_new())) {
        free(c);
        free(r);
        return NULL;
    }
    c->v = &redis_vtbl;
    c->impl = r;
    r->connect = connect;
    r->connect_ctx = connect_ctx;
    snprintf(r->prefix, sizeof r->prefix, "%s", cfg->prefix);
    snprintf(r->consumer, sizeof r->consumer, "%s", cfg->consumer);
    for (int t = 0; t < SS_TYPE__COUNT; t++) snprintf(r->key[t], sizeof r->key[t], "%s", cfg->stream_key[t]);
    snprintf(r->hb_key, sizeof r->hb_key, "%s", cfg->hb_key);
    snprintf(r->dlq_key, sizeof r->dlq_key, "%s", cfg->dlq_key);
    return c;
}
