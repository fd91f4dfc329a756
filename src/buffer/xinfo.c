/* See xinfo.h. */
#include "buffer/xinfo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buffer/redis.h"

/* Finds the value of field name in a flat name/value array reply. */
static redisReply *field(redisReply *r, const char *name) {
    if (!r || r->type != REDIS_REPLY_ARRAY) return NULL;
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        redisReply *k = r->element[i];
        if ((k->type == REDIS_REPLY_STRING || k->type == REDIS_REPLY_STATUS) && !strcmp(k->str, name))
            return r->element[i + 1];
    }
    return NULL;
}

static long long as_ll(redisReply *v, long long dflt) {
    if (!v) return dflt;
    if (v->type == REDIS_REPLY_INTEGER) return v->integer;
    if (v->type == REDIS_REPLY_STRING) return strtoll(v->str, NULL, 10);
    return dflt;
}

/* An entry id "ms-seq" (or "ms") as two numbers; 0 when it does not parse. */
static int id_parse(const char *id, unsigned long long *ms, unsigned long long *seq) {
    if (!id || !*id) return 0;
    char *end;
    *ms = strtoull(id, &end, 10);
    if (end == id) return 0;
    *seq = 0;
    if (*end == '-') {
        const char *s = end + 1;
        *seq = strtoull(s, &end, 10);
        if (end == s) return 0;
    }
    return *end == '\0';
}

/* -1, 0, 1 as a < b, a == b, a > b (both parsed). */
static int id_cmp(unsigned long long ams, unsigned long long aseq, unsigned long long bms, unsigned long long bseq) {
    if (ams != bms) return ams < bms ? -1 : 1;
    return aseq < bseq ? -1 : aseq > bseq;
}

static long long id_ms(const char *id) {
    if (!id) return -1;
    char *end;
    long long v = strtoll(id, &end, 10);
    return end == id ? -1 : v;
}

/* The lag from stream and group state (see xinfo.h for why not Redis's field). */
static int count_lag(redisContext *c, const char *key, const char *first_id, const char *last_id,
                     ss_stream_info *out, char *err, size_t errlen) {
    out->lag_exact = 1;
    unsigned long long dms, dseq, fms, fseq, lms, lseq;
    if (out->length <= 0) {
        out->lag = 0;
        return 0;
    }
    if (!id_parse(out->last_delivered, &dms, &dseq)) dms = dseq = 0; /* "0-0": nothing delivered */
    if (id_parse(last_id, &lms, &lseq) && id_cmp(dms, dseq, lms, lseq) >= 0) {
        out->lag = 0;
        return 0;
    }
    if (id_parse(first_id, &fms, &fseq) && id_cmp(dms, dseq, fms, fseq) < 0) {
        out->lag = out->length;
        return 0;
    }
    char from[64], count[24];
    snprintf(from, sizeof from, "(%llu-%llu", dms, dseq);
    snprintf(count, sizeof count, "%d", SS_LAG_SCAN_MAX);
    const char *a[6] = {"XRANGE", key, from, "+", "COUNT", count};
    redisReply *r = redisCommandArgv(c, 6, a, NULL);
    if (!r) {
        ss_redis_describe_error(c, NULL, err, errlen);
        return -1;
    }
    if (r->type != REDIS_REPLY_ARRAY) {
        snprintf(err, errlen, "XRANGE %s: %s", key, r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
        freeReplyObject(r);
        return -1;
    }
    long long n = (long long)r->elements;
    freeReplyObject(r);
    if (n < SS_LAG_SCAN_MAX) {
        out->lag = n;
        return 0;
    }
    long long bound = out->length - out->pending;
    out->lag = bound > n ? bound : n;
    out->lag_exact = 0;
    return 0;
}

int ss_stream_info_get(redisContext *c, const char *key, const char *group, ss_stream_info *out, char *err,
                       size_t errlen) {
    memset(out, 0, sizeof *out);
    out->first_ms = out->last_ms = out->lag = -1;
    const char *a1[3] = {"XINFO", "STREAM", key};
    redisReply *r = redisCommandArgv(c, 3, a1, NULL);
    if (!r) {
        ss_redis_describe_error(c, NULL, err, errlen);
        return -1;
    }
    if (r->type == REDIS_REPLY_ERROR) { /* a missing key (a plain ERR) or a refusal: ask */
        int missing = ss_redis_key_exists(c, key) == 0;
        if (!missing) snprintf(err, errlen, "XINFO STREAM %s: %s", key, r->str);
        int rc = missing ? 0 : ss_err_rc(ss_redis_error_class(r->str));
        freeReplyObject(r);
        return rc;
    }
    out->exists = 1;
    out->length = as_ll(field(r, "length"), 0);
    char first_id[48] = "", last_id[48] = "";
    redisReply *fe = field(r, "first-entry");
    if (fe && fe->type == REDIS_REPLY_ARRAY && fe->elements >= 1 && fe->element[0]->type == REDIS_REPLY_STRING) {
        out->first_ms = id_ms(fe->element[0]->str);
        snprintf(first_id, sizeof first_id, "%s", fe->element[0]->str);
    }
    redisReply *le = field(r, "last-entry");
    if (le && le->type == REDIS_REPLY_ARRAY && le->elements >= 1 && le->element[0]->type == REDIS_REPLY_STRING)
        snprintf(last_id, sizeof last_id, "%s", le->element[0]->str);
    redisReply *lg = field(r, "last-generated-id");
    if (lg && lg->type == REDIS_REPLY_STRING) out->last_ms = id_ms(lg->str);
    freeReplyObject(r);

    const char *a2[3] = {"XINFO", "GROUPS", key};
    r = redisCommandArgv(c, 3, a2, NULL);
    if (!r) {
        ss_redis_describe_error(c, NULL, err, errlen);
        return -1;
    }
    if (r->type == REDIS_REPLY_ARRAY) {
        for (size_t i = 0; i < r->elements; i++) {
            redisReply *g = r->element[i];
            redisReply *name = field(g, "name");
            if (!name || name->type != REDIS_REPLY_STRING || strcmp(name->str, group) != 0) continue;
            out->has_group = 1;
            out->consumers = as_ll(field(g, "consumers"), 0);
            out->pending = as_ll(field(g, "pending"), 0);
            redisReply *ld = field(g, "last-delivered-id");
            if (ld && ld->type == REDIS_REPLY_STRING)
                snprintf(out->last_delivered, sizeof out->last_delivered, "%s", ld->str);
        }
    }
    freeReplyObject(r);
    if (!out->has_group) return 0;
    return count_lag(c, key, first_id, last_id, out, err, errlen);
}
