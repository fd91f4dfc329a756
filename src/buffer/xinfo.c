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

static long long id_ms(const char *id) {
    if (!id) return -1;
    char *end;
    long long v = strtoll(id, &end, 10);
    return end == id ? -1 : v;
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
    if (r->type == REDIS_REPLY_ERROR) {
        int missing = strstr(r->str, "no such key") != NULL;
        if (!missing) snprintf(err, errlen, "XINFO STREAM %s: %s", key, r->str);
        freeReplyObject(r);
        return missing ? 0 : -1;
    }
    out->exists = 1;
    out->length = as_ll(field(r, "length"), 0);
    redisReply *fe = field(r, "first-entry");
    if (fe && fe->type == REDIS_REPLY_ARRAY && fe->elements >= 1 && fe->element[0]->type == REDIS_REPLY_STRING)
        out->first_ms = id_ms(fe->element[0]->str);
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
            out->lag = as_ll(field(g, "lag"), -1);
            redisReply *ld = field(g, "last-delivered-id");
            if (ld && ld->type == REDIS_REPLY_STRING)
                snprintf(out->last_delivered, sizeof out->last_delivered, "%s", ld->str);
        }
    }
    freeReplyObject(r);
    return 0;
}
