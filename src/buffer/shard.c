/* Key-routed shards: the routing hash, key names and the two Redis records (shard.h).
 *
 * The dedup key is already a 128-bit MurmurHash3 digest, but its bytes are folded and mixed
 * again (SplitMix64's finalizer) before the modulo, so the shard never depends on which
 * bits of the digest happen to be well mixed, and the unit test pins the result: keys
 * buffered in Redis are routed by it, so it must never change. */
#include "buffer/shard.h"
#include "buffer/redis.h"
#include "util/hash.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t load_le64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

unsigned ss_shard_of(const uint8_t key[16], unsigned shards) {
    if (shards <= 1) return 0;
    uint64_t h = ss_mix64(load_le64(key) ^ ss_mix64(load_le64(key + 8) + 0x9e3779b97f4a7c15ULL));
    return (unsigned)(h % shards);
}

int ss_shard_stream_key(const char *prefix, ss_type t, int shard, int shards, char *out, size_t outlen) {
    if (shards <= 1) return snprintf(out, outlen, "%s%s", prefix, ss_type_name(t));
    return snprintf(out, outlen, "%s%s:%d", prefix, ss_type_name(t), shard);
}

static int parse_int(const char *s, size_t n, long *out) {
    if (n == 0 || n > 3) return -1;
    long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

int ss_shard_parse(const char *s, int *shard, int *shards) {
    const char *slash = strchr(s, '/');
    long i, m = -1;
    if (parse_int(s, slash ? (size_t)(slash - s) : strlen(s), &i) != 0) return -1;
    if (slash && parse_int(slash + 1, strlen(slash + 1), &m) != 0) return -1;
    if (slash && (m < 1 || m > SS_SHARDS_MAX || i >= m)) return -1;
    if (i >= SS_SHARDS_MAX) return -1;
    *shard = (int)i;
    if (slash) *shards = (int)m;
    return 0;
}

/* NULL + err and *cls (buffer/redis.h: the reply's class) on failure. */
static redisReply *run(redisContext *c, ss_err_class *cls, char *err, size_t errlen, int argc, const char **argv) {
    redisReply *r = redisCommandArgv(c, argc, argv, NULL);
    *cls = SS_ERR_IO;
    if (!r) {
        snprintf(err, errlen, "redis: %s", c->errstr[0] ? c->errstr : "connection lost");
        return NULL;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        snprintf(err, errlen, "redis %s: %.*s", argv[0], (int)r->len, r->str);
        *cls = ss_redis_error_class(r->str);
        freeReplyObject(r);
        return NULL;
    }
    return r;
}

/* Parses a recorded M; 0 (not recorded) for anything else. */
static int reply_shards(const redisReply *r) {
    if (r->type != REDIS_REPLY_STRING) return 0;
    char *end;
    errno = 0;
    long v = strtol(r->str, &end, 10);
    if (errno || end == r->str || *end || v < 1 || v > SS_SHARDS_MAX) return 0;
    return (int)v;
}

int ss_shard_recorded(redisContext *c, const char *prefix, int *shards, char *err, size_t errlen) {
    ss_err_class cls = SS_ERR_IO;
    char key[512];
    snprintf(key, sizeof key, "%singest", prefix);
    const char *get[3] = {"HGET", key, "shards"};
    redisReply *r = run(c, &cls, err, errlen, 3, get);
    if (!r) return ss_err_rc(cls);
    *shards = reply_shards(r);
    freeReplyObject(r);
    if (*shards) return 0;
    const char *ex[2] = {"EXISTS", key};
    r = run(c, &cls, err, errlen, 2, ex);
    if (!r) return ss_err_rc(cls);
    if (r->type == REDIS_REPLY_INTEGER && r->integer > 0) *shards = 1; /* ingested before sharding existed */
    freeReplyObject(r);
    return 0;
}

int ss_shard_record(redisContext *c, const char *prefix, int shards, int force, int *recorded, char *err,
                    size_t errlen) {
    char key[512], val[16];
    ss_err_class cls = SS_ERR_IO;
    snprintf(key, sizeof key, "%singest", prefix);
    int have;
    int rrc = ss_shard_recorded(c, prefix, &have, err, errlen);
    if (rrc != 0) return rrc;
    snprintf(val, sizeof val, "%d", have ? have : shards);
    const char *setnx[4] = {"HSETNX", key, "shards", val};
    redisReply *r = run(c, &cls, err, errlen, 4, setnx);
    if (!r) return ss_err_rc(cls);
    freeReplyObject(r);
    rrc = ss_shard_recorded(c, prefix, &have, err, errlen);
    if (rrc != 0) return rrc;
    *recorded = have;
    if (have == shards) return 0;
    if (force) {
        snprintf(val, sizeof val, "%d", shards);
        const char *set[4] = {"HSET", key, "shards", val};
        r = run(c, &cls, err, errlen, 4, set);
        if (!r) return ss_err_rc(cls);
        freeReplyObject(r);
        return 0;
    }
    snprintf(err, errlen,
             "this buffer (prefix %s) was ingested with shards=%d, not %d. Changing the number of shards "
             "routes new copies of an event to another shard than its earlier copies (another writer "
             "machine), so duplicates would be written twice. Keep shards=%d, or: stop the ingester, let "
             "the writers drain every stream, start writers for the new layout, and pass --reshard once "
             "(duplicates within the dedup horizon of the switch may then be written twice)",
             prefix, have, shards, have);
    return 1;
}

int ss_shard_claim_owner(redisContext *c, const char *prefix, const char *field, const char *ledger_id, int force,
                         char *owner, size_t ownerlen, char *err, size_t errlen) {
    ss_err_class cls = SS_ERR_IO;
    char key[512];
    snprintf(key, sizeof key, "%sshard-owner", prefix);
    owner[0] = '\0';
    const char *get[3] = {"HGET", key, field};
    if (force) {
        redisReply *g = run(c, &cls, err, errlen, 3, get);
        if (!g) return ss_err_rc(cls);
        if (g->type == REDIS_REPLY_STRING) snprintf(owner, ownerlen, "%s", g->str);
        freeReplyObject(g);
        const char *set[4] = {"HSET", key, field, ledger_id};
        redisReply *r = run(c, &cls, err, errlen, 4, set);
        if (!r) return ss_err_rc(cls);
        freeReplyObject(r);
        return 0;
    }
    const char *setnx[4] = {"HSETNX", key, field, ledger_id};
    redisReply *r = run(c, &cls, err, errlen, 4, setnx);
    if (!r) return ss_err_rc(cls);
    freeReplyObject(r);
    r = run(c, &cls, err, errlen, 3, get);
    if (!r) return ss_err_rc(cls);
    int rc = 0;
    if (r->type == REDIS_REPLY_STRING) {
        snprintf(owner, ownerlen, "%s", r->str);
        rc = strcmp(r->str, ledger_id) == 0 ? 0 : 1;
    } else {
        snprintf(err, errlen, "redis: %s %s vanished right after HSETNX", key, field);
        rc = -1;
    }
    freeReplyObject(r);
    return rc;
}

int ss_shard_stream_info(redisContext *c, const char *prefix, ss_type t, int shards, const char *group,
                         ss_stream_info *sum, ss_stream_info *per_shard, char *err, size_t errlen) {
    if (shards < 1) shards = 1;
    memset(sum, 0, sizeof *sum);
    sum->first_ms = sum->last_ms = -1;
    sum->lag_exact = 1;
    int existing = 0, grouped = 0;
    for (int s = 0; s < shards; s++) {
        char key[512];
        ss_stream_info si;
        ss_shard_stream_key(prefix, t, s, shards, key, sizeof key);
        if (ss_stream_info_get(c, key, group, &si, err, errlen) != 0) return -1;
        if (per_shard) per_shard[s] = si;
        if (!si.exists) continue;
        existing++;
        sum->exists = 1;
        sum->length += si.length;
        if (si.first_ms >= 0 && (sum->first_ms < 0 || si.first_ms < sum->first_ms)) sum->first_ms = si.first_ms;
        if (si.last_ms > sum->last_ms) sum->last_ms = si.last_ms;
        if (!si.has_group) continue;
        grouped++;
        sum->consumers += si.consumers;
        sum->pending += si.pending;
        if (si.lag < 0 || sum->lag < 0) sum->lag = -1;
        else sum->lag += si.lag;
        if (!si.lag_exact) sum->lag_exact = 0;
        if (shards == 1) snprintf(sum->last_delivered, sizeof sum->last_delivered, "%s", si.last_delivered);
    }
    sum->has_group = existing > 0 && grouped == existing;
    return 0;
}

int ss_shard_owner(redisContext *c, const char *prefix, const char *field, char *owner, size_t ownerlen, char *err,
                   size_t errlen) {
    char key[512];
    snprintf(key, sizeof key, "%sshard-owner", prefix);
    owner[0] = '\0';
    const char *get[3] = {"HGET", key, field};
    ss_err_class cls;
    redisReply *r = run(c, &cls, err, errlen, 3, get);
    if (!r) return ss_err_rc(cls);
    if (r->type == REDIS_REPLY_STRING) snprintf(owner, ownerlen, "%s", r->str);
    freeReplyObject(r);
    return 0;
}
