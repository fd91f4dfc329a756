/* Gap records in Redis (see gaps.h): the reasons, parsing an entry, JSON, and the two
 * reads `status` and `gaps` share. Fixed-size records: a gap's fields are bounded (the
 * source id as ss_source.id, the detail at SS_GAP_DETAIL_MAX), so longer values from a
 * foreign writer of the stream are cut, never trusted for a size. */
#include "buffer/gaps.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const ss_gap_reasons[SS_GAP_REASONS] = {"future_cursor", "outdated_cursor", "clamped_cursor", "seq_reset",
                                                    "other"};

int ss_gap_reason_index(const char *reason) {
    for (int i = 0; reason && i < SS_GAP_REASONS - 1; i++)
        if (!strcmp(reason, ss_gap_reasons[i])) return i;
    return SS_GAP_REASONS - 1;
}

static void copy_field(char *dst, size_t cap, const char *p, size_t n) {
    if (n >= cap) n = cap - 1;
    memcpy(dst, p, n);
    dst[n] = '\0';
}

static int64_t field_i64(const char *p, size_t n) {
    char tmp[32];
    copy_field(tmp, sizeof tmp, p, n);
    char *end;
    long long v = strtoll(tmp, &end, 10);
    return end == tmp ? -1 : (int64_t)v;
}

int ss_gap_record_from_fields(ss_gap_record *r, const char *id, size_t idlen, const char *const *f,
                              const size_t *fl, size_t nf) {
    memset(r, 0, sizeof *r);
    r->from = r->to = r->cursor = -1;
    copy_field(r->id, sizeof r->id, id, idlen);
    for (size_t i = 0; i + 1 < nf; i += 2) {
        const char *k = f[i], *v = f[i + 1];
        size_t kn = fl[i], vn = fl[i + 1];
        if (!k || !v) continue;
#define KEY(lit) (kn == sizeof(lit) - 1 && !memcmp(k, lit, kn))
        if (KEY("source")) copy_field(r->source, sizeof r->source, v, vn);
        else if (KEY("reason")) copy_field(r->reason, sizeof r->reason, v, vn);
        else if (KEY("unit")) copy_field(r->unit, sizeof r->unit, v, vn);
        else if (KEY("detail")) copy_field(r->detail, sizeof r->detail, v, vn);
        else if (KEY("from")) r->from = field_i64(v, vn);
        else if (KEY("to")) r->to = field_i64(v, vn);
        else if (KEY("detected_us")) r->detected_us = field_i64(v, vn);
        else if (KEY("cursor")) r->cursor = field_i64(v, vn);
#undef KEY
    }
    return r->reason[0] && r->source[0] ? 0 : -1;
}

int ss_gap_record_json(ss_buf *b, const ss_gap_record *r, const char *where) {
    int e = ss_buf_puts(b, "{\"id\":") || ss_buf_append_json_string(b, r->id, strlen(r->id)) ||
            ss_buf_puts(b, ",\"source\":") || ss_buf_append_json_string(b, r->source, strlen(r->source)) ||
            ss_buf_puts(b, ",\"reason\":") || ss_buf_append_json_string(b, r->reason, strlen(r->reason)) ||
            ss_buf_puts(b, ",\"unit\":") || ss_buf_append_json_string(b, r->unit, strlen(r->unit)) ||
            ss_buf_printf(b, ",\"from\":%lld,\"to\":%lld,\"detected_us\":%lld,\"cursor\":%lld", (long long)r->from,
                          (long long)r->to, (long long)r->detected_us, (long long)r->cursor) ||
            ss_buf_puts(b, ",\"detail\":") || ss_buf_append_json_string(b, r->detail, strlen(r->detail));
    if (!e && where) e = ss_buf_puts(b, ",\"where\":") || ss_buf_append_json_string(b, where, strlen(where));
    return e || ss_buf_puts(b, "}") ? -1 : 0;
}

int ss_gaps_read(redisContext *c, const char *prefix, size_t max, ss_gap_record **out, size_t *n, char *err,
                 size_t errlen) {
    *out = NULL;
    *n = 0;
    char key[600], count[24];
    snprintf(key, sizeof key, "%s%s", prefix, SS_GAPS_KEY);
    snprintf(count, sizeof count, "%zu", max > 0 && max < SS_GAPS_LIST_MAX ? max : (size_t)SS_GAPS_LIST_MAX);
    const char *argv[] = {"XRANGE", key, "-", "+", "COUNT", count};
    redisReply *r = redisCommandArgv(c, 6, argv, NULL);
    if (!r) {
        snprintf(err, errlen, "redis XRANGE %s: %s", key, c->errstr[0] ? c->errstr : "connection lost");
        return -1;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        snprintf(err, errlen, "redis XRANGE %s: %s", key, r->str);
        freeReplyObject(r);
        return -1;
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements == 0) {
        freeReplyObject(r);
        return 0;
    }
    ss_gap_record *v = calloc(r->elements, sizeof *v);
    if (!v) {
        freeReplyObject(r);
        snprintf(err, errlen, "out of memory reading %zu gap records", r->elements);
        return -1;
    }
    size_t k = 0;
    for (size_t i = 0; i < r->elements; i++) {
        redisReply *e = r->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 || e->element[0]->type != REDIS_REPLY_STRING ||
            e->element[1]->type != REDIS_REPLY_ARRAY)
            continue;
        redisReply *fv = e->element[1];
        const char *f[32];
        size_t fl[32], nf = 0;
        for (size_t j = 0; j < fv->elements && nf < 32; j++) {
            redisReply *x = fv->element[j];
            f[nf] = x->type == REDIS_REPLY_STRING ? x->str : NULL;
            fl[nf++] = x->type == REDIS_REPLY_STRING ? x->len : 0;
        }
        if (ss_gap_record_from_fields(&v[k], e->element[0]->str, e->element[0]->len, f, fl, nf) == 0) k++;
    }
    freeReplyObject(r);
    if (k == 0) {
        free(v);
        v = NULL;
    }
    *out = v;
    *n = k;
    return 0;
}

static int entry_record(const redisReply *e, ss_gap_record *r) {
    if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 || e->element[0]->type != REDIS_REPLY_STRING ||
        e->element[1]->type != REDIS_REPLY_ARRAY)
        return -1;
    const redisReply *fv = e->element[1];
    const char *f[32];
    size_t fl[32], nf = 0;
    for (size_t j = 0; j < fv->elements && nf < 32; j++) {
        const redisReply *x = fv->element[j];
        f[nf] = x->type == REDIS_REPLY_STRING ? x->str : NULL;
        fl[nf++] = x->type == REDIS_REPLY_STRING ? x->len : 0;
    }
    return ss_gap_record_from_fields(r, e->element[0]->str, e->element[0]->len, f, fl, nf);
}

int ss_gaps_pending(redisContext *c, const char *prefix, long long *n, ss_gap_record *newest, int *has_newest,
                    char *err, size_t errlen) {
    *n = 0;
    *has_newest = 0;
    char key[600];
    snprintf(key, sizeof key, "%s%s", prefix, SS_GAPS_KEY);
    const char *xl[] = {"XLEN", key};
    const char *xr[] = {"XREVRANGE", key, "+", "-", "COUNT", "1"};
    for (int i = 0; i < 2; i++) {
        redisReply *r = redisCommandArgv(c, i ? 6 : 2, i ? xr : xl, NULL);
        if (!r || r->type == REDIS_REPLY_ERROR) {
            snprintf(err, errlen, "redis %s %s: %s", i ? "XREVRANGE" : "XLEN", key,
                     r ? r->str : c->errstr[0] ? c->errstr : "connection lost");
            if (r) freeReplyObject(r);
            return -1;
        }
        if (!i && r->type == REDIS_REPLY_INTEGER) *n = r->integer;
        if (i && r->type == REDIS_REPLY_ARRAY && r->elements == 1) *has_newest = entry_record(r->element[0], newest) == 0;
        freeReplyObject(r);
    }
    return 0;
}

int ss_gaps_seen_read(redisContext *c, const char *prefix, long long *committed, ss_gap_record *last, int *has_last,
                      char *err, size_t errlen) {
    *committed = 0;
    *has_last = 0;
    char key[600];
    snprintf(key, sizeof key, "%s%s", prefix, SS_GAPS_SEEN_KEY);
    const char *argv[] = {"HGETALL", key};
    redisReply *r = redisCommandArgv(c, 2, argv, NULL);
    if (!r) {
        snprintf(err, errlen, "redis HGETALL %s: %s", key, c->errstr[0] ? c->errstr : "connection lost");
        return -1;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        snprintf(err, errlen, "redis HGETALL %s: %s", key, r->str);
        freeReplyObject(r);
        return -1;
    }
    const char *f[32];
    size_t fl[32], nf = 0;
    const char *id = "";
    size_t idlen = 0;
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i + 1 < r->elements && nf + 1 < 32; i += 2) {
        redisReply *k = r->element[i], *v = r->element[i + 1];
        if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING) continue;
        if (!strcmp(k->str, "committed")) *committed = strtoll(v->str, NULL, 10);
        else if (!strcmp(k->str, "last_id")) id = v->str, idlen = v->len;
        else if (!strncmp(k->str, "last_", 5)) {
            f[nf] = k->str + 5, fl[nf++] = k->len - 5; /* last_reason -> reason */
            f[nf] = v->str, fl[nf++] = v->len;
        }
    }
    *has_last = ss_gap_record_from_fields(last, id, idlen, f, fl, nf) == 0;
    freeReplyObject(r);
    return 0;
}
