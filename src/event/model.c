/* The event model's small tables (type and operation names, collection -> type), the
 * dedup key, and the meta string an event is buffered under. Names are stable: they appear
 * in Redis stream names, Parquet partition paths and metric labels. */
#include <string.h>

#include "event/event.h"
#include "util/hash.h"
#include "util/str.h"

static const char *const type_names[SS_TYPE__COUNT] = {
    "post", "like", "repost", "follow", "block", "identity", "account", "other", "sync",
};

const char *ss_type_name(ss_type t) {
    return (unsigned)t < SS_TYPE__COUNT ? type_names[t] : "unknown";
}

int ss_type_from_name(const char *name) {
    if (!name) return -1;
    for (int i = 0; i < SS_TYPE__COUNT; i++)
        if (strcmp(name, type_names[i]) == 0) return i;
    return -1;
}

ss_type ss_type_from_collection(const char *nsid, size_t n) {
#define NSID(s) s, sizeof(s) - 1
    static const struct {
        const char *nsid;
        size_t n;
        ss_type type;
    } map[] = {
        {NSID("app.bsky.feed.like"), SS_TYPE_LIKE},     {NSID("app.bsky.graph.follow"), SS_TYPE_FOLLOW},
        {NSID("app.bsky.feed.post"), SS_TYPE_POST},     {NSID("app.bsky.feed.repost"), SS_TYPE_REPOST},
        {NSID("app.bsky.graph.block"), SS_TYPE_BLOCK},
    };
#undef NSID
    if (!nsid) return SS_TYPE_OTHER;
    for (size_t i = 0; i < sizeof map / sizeof *map; i++)
        if (map[i].n == n && memcmp(map[i].nsid, nsid, n) == 0) return map[i].type;
    return SS_TYPE_OTHER;
}

const char *ss_op_name(ss_op op) {
    switch (op) {
    case SS_OP_CREATE: return "create";
    case SS_OP_UPDATE: return "update";
    case SS_OP_DELETE: return "delete";
    case SS_OP_NONE: break;
    }
    return "";
}

/* Commits: tag 'C', then did, collection, rkey, rev (each length-prefixed), then the
 * operation byte. Identity/account/sync: tag 'I', 'A' or 'S', did, then seq as 8 bytes LE. The
 * tags keep the two shapes apart; the length prefixes keep fields apart. */
void ss_event_dedup_key(const ss_event *ev, uint8_t out[16]) {
    ss_hash128_state s;
    ss_hash128_init(&s, 0);
    if (ev->kind == SS_KIND_COMMIT) {
        unsigned char tag = 'C', op = (unsigned char)ev->op;
        ss_hash128_update(&s, &tag, 1);
        ss_hash128_field(&s, ev->did.p, ev->did.n);
        ss_hash128_field(&s, ev->collection.p, ev->collection.n);
        ss_hash128_field(&s, ev->rkey.p, ev->rkey.n);
        ss_hash128_field(&s, ev->rev.p, ev->rev.n);
        ss_hash128_update(&s, &op, 1);
    } else {
        unsigned char tag = ev->kind == SS_KIND_IDENTITY ? 'I' : ev->kind == SS_KIND_SYNC ? 'S' : 'A', seq[8];
        uint64_t v = (uint64_t)ev->seq;
        for (int i = 0; i < 8; i++) seq[i] = (unsigned char)(v >> (8 * i));
        ss_hash128_update(&s, &tag, 1);
        ss_hash128_field(&s, ev->did.p, ev->did.n);
        ss_hash128_update(&s, seq, 8);
    }
    ss_hash128_final(&s, out);
}

void ss_event_dedup_hex(const ss_event *ev, char out[SS_DEDUP_HEX_LEN + 1]) {
    uint8_t k[16];
    ss_event_dedup_key(ev, k);
    ss_hash128_hex(k, out);
}

int ss_event_dedup_parse(const char *hex, size_t n, uint8_t out[16]) {
    if (n != SS_DEDUP_HEX_LEN) return -1;
    for (size_t i = 0; i < 16; i++) {
        int a = ss_hex_val((unsigned char)hex[2 * i]), b = ss_hex_val((unsigned char)hex[2 * i + 1]);
        if (a < 0 || b < 0) return -1;
        out[i] = (uint8_t)(a << 4 | b);
    }
    return 0;
}

size_t ss_event_meta_format(const uint8_t key[16], int64_t time_us, char out[SS_EVENT_META_MAX]) {
    ss_hash128_hex(key, out); /* 32 digits and a NUL, which the space replaces */
    out[SS_DEDUP_HEX_LEN] = ' ';
    return SS_DEDUP_HEX_LEN + 1 + ss_fmt_i64(out + SS_DEDUP_HEX_LEN + 1, time_us);
}

int ss_event_meta_parse(const char *s, size_t n, uint8_t key[16], int64_t *time_us) {
    /* time_us: at most 19 digits, negative before 1970 */
    if (n < SS_DEDUP_HEX_LEN + 2 || n > SS_DEDUP_HEX_LEN + 1 + 20 || s[SS_DEDUP_HEX_LEN] != ' ') return -1;
    if (ss_event_dedup_parse(s, SS_DEDUP_HEX_LEN, key) != 0) return -1;
    const char *d = s + SS_DEDUP_HEX_LEN + 1;
    size_t dl = n - SS_DEDUP_HEX_LEN - 1, i = d[0] == '-';
    if (i == dl || dl - i > 19) return -1;
    uint64_t v = 0;
    for (; i < dl; i++) {
        if (d[i] < '0' || d[i] > '9') return -1;
        v = v * 10 + (uint64_t)(d[i] - '0'); /* 19 digits fit in 64 unsigned bits */
    }
    if (v > (uint64_t)INT64_MAX) return -1;
    *time_us = d[0] == '-' ? -(int64_t)v : (int64_t)v;
    return 0;
}
