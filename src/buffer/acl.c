/* The ACL table (acl.h). One row per role: its commands, its keys (each a suffix of the
 * prefix, or the per-type event streams), and at most one selector. Kept as data so that
 * `skyspool acl`, the embedded server's config and the tests read the same rules, and a
 * reviewer can see a role's whole power in one row.
 *
 * Where the commands come from (keep in sync when code starts using a new command):
 *   every role  PING, SELECT (URL /db), CLIENT SETNAME (connection names), INFO and
 *               CONFIG GET (the safety checks of ingest, write, status, audit: maxmemory-policy,
 *               appendonly, appendfsync, maxmemory; INFO persistence/memory)
 *   ingest      buffer/ingest.c: XADD (events, Pdlq, Pgaps), HSET/HGET/HMGET (cursor, ingest state), XINFO STREAM
 *               (newest entry); buffer/shard.c: HGET/HSETNX/HSET/EXISTS on Pingest;
 *               stream_metrics.c (--metrics-listen): XLEN, XINFO STREAM/GROUPS
 *   write       writer/consumer.c: XGROUP CREATE/DELCONSUMER, XREADGROUP, XACK, XPENDING,
 *               XCLAIM, XINFO GROUPS/CONSUMERS/STREAM, EVAL of ack_script.h (which calls XACK,
 *               XINFO GROUPS, XPENDING, XTRIM: scripts run under the caller's ACL), HSET/HGET/
 *               HDEL on Pwriters, HSET/HINCRBY on Predis-loss, shard.c on Pshard-owner and
 *               Pingest (read), XADD on Pdlq only (the selector); gaps (buffer/gaps.c): XRANGE
 *               on Pgaps, and a script that XDELs there and HINCRBY/HSETs Pgaps-seen
 *   status      buffer/status.c, audit.c, xinfo.c, gaps.c (status, gaps): SCAN, HGETALL, HGET,
 *               XINFO, XLEN, XPENDING, XRANGE/XREVRANGE (Pgaps)
 *   monitor     what prometheus-redis-exporter -check-streams sends (INFO, CONFIG GET,
 *               CLIENT LIST, SLOWLOG, LATENCY, SCAN/TYPE/XINFO on the streams); no reads of
 *               values (no GET, XRANGE, HGETALL)
 *   check       src/check/: SET/GET, XADD, XREADGROUP, XACK, XGROUP, XRANGE/XREVRANGE, XLEN,
 *               XDEL, XINFO, XPENDING, SCAN+UNLINK (cleanup), DBSIZE, BGREWRITEAOF, and what
 *               the ingester it runs (persistence, pressure) needs, on `skyspool-check:*` only */
#include "buffer/acl.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#include "event/event.h"

#define COMMON "+ping +select +client|setname +info +config|get"

/* A key pattern: perm is "~" (read+write), "%R~" or "%W~"; suffix follows the prefix, or,
 * when NULL, stands for every event stream ("<type>" and "<type>:*", shards). */
typedef struct {
    const char *perm;
    const char *suffix;
} key_rule;

typedef struct {
    const char *name;
    const char *help;
    const char *commands;
    int uses_prefix;  /* keys are under the configured prefix */
    key_rule keys[10]; /* ended by perm == NULL */
    const char *sel_commands; /* NULL: no selector */
    key_rule sel_key;
} role_def;

static const role_def g_roles[SS_ACL__COUNT] = {
    [SS_ACL_INGEST] = {"ingest", "ingest, and the ingester of run: XADD events, cursors, ingest state",
                       "-@all " COMMON " +xadd +xinfo|stream +xinfo|groups +xlen +hset +hget +hmget +hsetnx +exists",
                       1,
                       {{"~", NULL}, {"~", "dlq"}, {"~", "gaps"}, {"~", "cursor:*"}, {"~", "ingest"}},
                       NULL,
                       {NULL, NULL}},
    [SS_ACL_WRITE] = {"write", "write, and the writer of run: consumer group, acks, trims; XADD only to the DLQ",
                      "-@all " COMMON
                      " +xreadgroup +xack +xclaim +xpending +xtrim +xgroup|create +xgroup|delconsumer"
                      " +xinfo|stream +xinfo|groups +xinfo|consumers +xlen +xrange +xdel +eval +evalsha"
                      " +hset +hget +hdel +hincrby +hsetnx +exists",
                      1,
                      {{"~", NULL}, {"~", "writers"}, {"~", "shard-owner"}, {"~", "redis-loss"}, {"~", "gaps"},
                       {"~", "gaps-seen"}, {"%R~", "ingest"}},
                      "+xadd",
                      {"~", "dlq"}},
    [SS_ACL_STATUS] = {"status", "status and audit: read-only",
                       "-@all " COMMON " +scan +type +exists +hgetall +hget +hmget +xinfo|stream +xinfo|groups"
                       " +xinfo|consumers +xlen +xpending +xrange +xrevrange",
                       1,
                       {{"%R~", "*"}},
                       NULL,
                       {NULL, NULL}},
    [SS_ACL_MONITOR] = {"monitor", "prometheus-redis-exporter -check-streams: server metrics, stream sizes, no values",
                        "-@all +ping +select +info +config|get +client|list +client|info +client|setname"
                        " +slowlog|get +slowlog|len +latency|latest +latency|histogram +memory|stats +dbsize"
                        " +cluster|info +module|list +command|count +scan +type +exists +xlen +xinfo|stream"
                        " +xinfo|groups +xinfo|consumers",
                        1,
                        {{"%R~", "*"}},
                        NULL,
                        {NULL, NULL}},
    [SS_ACL_CHECK] = {"check", "check: its own skyspool-check:* keys only",
                      "-@all " COMMON " +dbsize +scan +set +get +unlink +xadd +xrange +xrevrange +xlen +xdel"
                      " +xgroup|create +xgroup|destroy +xreadgroup +xack +xinfo|stream +xinfo|groups +xpending"
                      " +bgrewriteaof +hset +hget +hmget +hsetnx +exists",
                      0,
                      {{"~", "skyspool-check:*"}},
                      NULL,
                      {NULL, NULL}},
    [SS_ACL_ADMIN] = {"admin", "the embedded server's administrator: SHUTDOWN, ACL upkeep, redis-cli by hand",
                      "+@all", 0, {{"~", "*"}, {"&", "*"}}, NULL, {NULL, NULL}},
};

static const char *const g_users[SS_ACL__COUNT] = {
    SS_ACL_USER_PREFIX "ingest", SS_ACL_USER_PREFIX "write", SS_ACL_USER_PREFIX "status",
    SS_ACL_USER_PREFIX "monitor", SS_ACL_USER_PREFIX "check", SS_ACL_USER_PREFIX "admin",
};

const char *ss_acl_role_name(ss_acl_role r) { return r < SS_ACL__COUNT ? g_roles[r].name : "?"; }
const char *ss_acl_user(ss_acl_role r) { return r < SS_ACL__COUNT ? g_users[r] : "?"; }
const char *ss_acl_role_help(ss_acl_role r) { return r < SS_ACL__COUNT ? g_roles[r].help : "?"; }
int ss_acl_role_uses_prefix(ss_acl_role r) { return r < SS_ACL__COUNT && g_roles[r].uses_prefix; }

int ss_acl_role_parse(const char *name) {
    for (int i = 0; i < SS_ACL__COUNT; i++)
        if (!strcmp(name, g_roles[i].name) || !strcmp(name, g_users[i])) return i;
    return -1;
}

/* Appends one token and its '\0'. */
static int tok(ss_buf *b, int *n, const char *s) {
    (*n)++;
    return ss_buf_append(b, s, strlen(s) + 1);
}

/* prefix with the ACL glob characters escaped. */
static void escape_prefix(const char *prefix, char *out, size_t cap) {
    size_t o = 0;
    for (const char *p = prefix; *p && o + 3 < cap; p++) {
        if (*p == '*' || *p == '?' || *p == '[' || *p == ']' || *p == '\\') out[o++] = '\\';
        out[o++] = *p;
    }
    out[o] = '\0';
}

/* The tokens of one key rule ("~Ppost", "~Ppost:*", ... for the streams). */
static int key_tokens(const key_rule *k, const char *esc, int uses_prefix, const char *open, const char *close,
                      ss_buf *b, int *n) {
    char t[2 * SS_ACL_PREFIX_MAX + 64];
    int rc = 0;
    const char *pre = uses_prefix ? esc : "";
    if (k->suffix) {
        snprintf(t, sizeof t, "%s%s%s%s%s", open, k->perm, pre, k->suffix, close);
        return tok(b, n, t);
    }
    for (int ty = 0; ty < SS_TYPE__COUNT; ty++) {
        snprintf(t, sizeof t, "%s%s%s", k->perm, pre, ss_type_name((ss_type)ty));
        rc |= tok(b, n, t);
        snprintf(t, sizeof t, "%s%s%s:*", k->perm, pre, ss_type_name((ss_type)ty));
        rc |= tok(b, n, t);
    }
    return rc;
}

static int prefix_ok(const char *prefix, char *err, size_t errlen) {
    size_t n = prefix ? strlen(prefix) : 0;
    if (n == 0 || n > SS_ACL_PREFIX_MAX) {
        snprintf(err, errlen, "key prefix must be 1..%d bytes for ACL rules", SS_ACL_PREFIX_MAX);
        return 0;
    }
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)prefix[i] <= ' ' || prefix[i] == 0x7f || prefix[i] == '(' || prefix[i] == ')') {
            snprintf(err, errlen, "key prefix holds a space, a parenthesis or a control character: not usable in ACL rules");
            return 0;
        }
    return 1;
}

int ss_acl_rules(ss_acl_role r, const char *prefix, const char *password_hash, int additive, ss_buf *out,
                 char *err, size_t errlen) {
    if (r >= SS_ACL__COUNT) {
        snprintf(err, errlen, "unknown ACL role");
        return -1;
    }
    const role_def *d = &g_roles[r];
    if (d->uses_prefix && !prefix_ok(prefix, err, errlen)) return -1;
    char esc[2 * SS_ACL_PREFIX_MAX + 1] = "";
    if (d->uses_prefix) escape_prefix(prefix, esc, sizeof esc);
    int n = 0, rc = 0;
    if (!additive) {
        rc |= tok(out, &n, "reset");
        rc |= tok(out, &n, "on");
        if (password_hash) {
            char h[80];
            snprintf(h, sizeof h, "#%s", password_hash);
            rc |= tok(out, &n, h);
        }
        /* the command list, one token per rule */
        char cmds[1024];
        snprintf(cmds, sizeof cmds, "%s", d->commands);
        for (char *s = strtok(cmds, " "); s; s = strtok(NULL, " ")) rc |= tok(out, &n, s);
    }
    if (additive && !d->uses_prefix) return n;
    for (int k = 0; k < 10 && d->keys[k].perm; k++) {
        if (!strcmp(d->keys[k].perm, "&")) {
            if (!additive) rc |= tok(out, &n, "&*");
            continue;
        }
        rc |= key_tokens(&d->keys[k], esc, d->uses_prefix, "", "", out, &n);
    }
    if (d->sel_commands) {
        char open[128];
        snprintf(open, sizeof open, "(%s ", d->sel_commands);
        rc |= key_tokens(&d->sel_key, esc, d->uses_prefix, open, ")", out, &n);
    }
    if (rc) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return n;
}

void ss_acl_hash_password(const char *password, char out[65]) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (EVP_Digest(password, strlen(password), md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32) {
        out[0] = '\0';
        return;
    }
    for (unsigned i = 0; i < 32; i++) snprintf(out + 2 * i, 3, "%02x", md[i]);
}

int ss_acl_probe(ss_acl_role r, const char *prefix, ss_buf *out) {
    char key[SS_ACL_PREFIX_MAX + 32];
    int n = 0, rc = 0;
    switch (r) {
    case SS_ACL_INGEST:
        snprintf(key, sizeof key, "%sdlq", prefix);
        rc |= tok(out, &n, "XADD");
        rc |= tok(out, &n, key);
        rc |= tok(out, &n, "*");
        rc |= tok(out, &n, "f");
        rc |= tok(out, &n, "v");
        break;
    case SS_ACL_WRITE:
        snprintf(key, sizeof key, "%sdlq", prefix);
        rc |= tok(out, &n, "XADD");
        rc |= tok(out, &n, key);
        rc |= tok(out, &n, "*");
        rc |= tok(out, &n, "f");
        rc |= tok(out, &n, "v");
        break;
    case SS_ACL_STATUS:
    case SS_ACL_MONITOR:
        snprintf(key, sizeof key, "%sdlq", prefix);
        rc |= tok(out, &n, "XLEN");
        rc |= tok(out, &n, key);
        break;
    default: return 0;
    }
    return rc ? -1 : n;
}
