/* The buffer audit. See audit.h. Each check is one small function reading already-fetched
 * CONFIG values and INFO text, so the grading rules read like the documentation. */
#include "buffer/audit.h"

#include "buffer/shard.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buffer/redis.h"
#include "buffer/xinfo.h"
#include "event/event.h"

typedef struct {
    redisContext *c;
    const ss_audit_opts *o;
    ss_audit *a;
    char *info; /* INFO everything */
    int config_ok;
} actx;

const char *ss_check_status_name(ss_check_status s) {
    return s == SS_CHECK_PASS ? "PASS" : s == SS_CHECK_WARN ? "WARN" : "FAIL";
}

static ss_check *add(actx *x, const char *name, int required, ss_check_status st, const char *value) {
    if (x->a->nchecks >= SS_AUDIT_MAX_CHECKS) return &x->a->checks[SS_AUDIT_MAX_CHECKS - 1];
    ss_check *k = &x->a->checks[x->a->nchecks++];
    memset(k, 0, sizeof *k);
    snprintf(k->name, sizeof k->name, "%s", name);
    k->required = required;
    k->status = st;
    snprintf(k->value, sizeof k->value, "%s", value ? value : "");
    return k;
}

static void msg(ss_check *k, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void msg(ss_check *k, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(k->message, sizeof k->message, fmt, ap);
    va_end(ap);
}

static void fix(ss_check *k, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fix(ss_check *k, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(k->recommendation, sizeof k->recommendation, fmt, ap);
    va_end(ap);
}

/* CONFIG GET name, or "" when CONFIG is unavailable. Returns 0 when known. */
static int cfg(actx *x, const char *name, char *out, size_t outlen) {
    out[0] = '\0';
    if (!x->config_ok) return -1;
    char err[256];
    return ss_redis_config_get(x->c, name, out, outlen, err, sizeof err) == 0 ? 0 : -1;
}

/* A size in redis.conf units, for "CONFIG SET" advice. */
static void conf_bytes(long long v, char *out, size_t n) {
    if (v > 0 && v % (1LL << 30) == 0) snprintf(out, n, "%lldgb", v >> 30);
    else if (v > 0 && v % (1LL << 20) == 0) snprintf(out, n, "%lldmb", v >> 20);
    else snprintf(out, n, "%lld", v);
}

static void human_bytes(long long v, char *out, size_t n) {
    if (v >= 1LL << 30) snprintf(out, n, "%.2f GiB", (double)v / (double)(1LL << 30));
    else if (v >= 1LL << 20) snprintf(out, n, "%.1f MiB", (double)v / (double)(1LL << 20));
    else snprintf(out, n, "%lld B", v);
}

/* ---- the checks ------------------------------------------------------------------------ */

static void check_version(actx *x) {
    int major = 0, minor = 0;
    sscanf(x->a->version, "%d.%d", &major, &minor);
    int ok = major > 7 || (major == 7 && minor >= 0);
    ss_check *k = add(x, "redis-version", 0, ok ? SS_CHECK_PASS : SS_CHECK_WARN, x->a->version);
    if (ok) {
        msg(k, "Redis %s has everything skyspool uses (XAUTOCLAIM, consumer-group lag)", x->a->version);
    } else {
        msg(k, "Redis %s predates 7.0: XAUTOCLAIM and XRANGE exclusive ranges are missing", x->a->version);
        fix(k, "upgrade to Redis 7 (Debian 12 ships 7.0)");
    }
}

static void check_maxmemory(actx *x) {
    char v[64];
    long long mm = -1;
    if (cfg(x, "maxmemory", v, sizeof v) == 0) mm = strtoll(v, NULL, 10);
    else ss_redis_info_ll(x->info, "maxmemory", &mm);
    char hv[32], hr[32], cr[32], val[96];
    human_bytes(mm, hv, sizeof hv);
    human_bytes(x->o->require_maxmemory, hr, sizeof hr);
    conf_bytes(x->o->require_maxmemory, cr, sizeof cr);
    snprintf(val, sizeof val, "%s", mm == 0 ? "0 (no limit)" : hv);
    if (mm < 0) {
        ss_check *k = add(x, "maxmemory", 1, SS_CHECK_FAIL, "unknown");
        msg(k, "could not read maxmemory from CONFIG GET or INFO");
        fix(k, "grant CONFIG GET or check that this is a Redis server");
        return;
    }
    if (mm == 0) {
        ss_check *k = add(x, "maxmemory", 1, SS_CHECK_FAIL, val);
        msg(k, "no memory limit: a stalled writer lets Redis grow until the kernel kills it, losing the "
               "un-fsynced AOF tail; with a limit and noeviction, the ingester pauses instead");
        fix(k, "CONFIG SET maxmemory %s (and put it in redis.conf)", cr);
        return;
    }
    if (mm < x->o->require_maxmemory) {
        ss_check *k = add(x, "maxmemory", 1, SS_CHECK_FAIL, val);
        msg(k, "maxmemory %s is below the required %s: the buffer holds too little for a writer outage", hv, hr);
        fix(k, "CONFIG SET maxmemory %s, or lower the requirement with --require-maxmemory", cr);
        return;
    }
    ss_check *k = add(x, "maxmemory", 1, SS_CHECK_PASS, val);
    msg(k, "maxmemory %s (required >= %s)", hv, hr);
    long long total = 0;
    if (ss_redis_info_ll(x->info, "total_system_memory", &total) == 0 && total > 0 && mm > total * 9 / 10) {
        char ht[32];
        human_bytes(total, ht, sizeof ht);
        ss_check *w = add(x, "maxmemory-vs-ram", 0, SS_CHECK_WARN, val);
        msg(w, "maxmemory %s is more than 90%% of the machine's RAM (%s): the kernel may kill Redis first", hv, ht);
        fix(w, "lower maxmemory to leave room for AOF rewrites (fork) and other processes");
    }
}

static void check_policy(actx *x) {
    char p[64];
    if (cfg(x, "maxmemory-policy", p, sizeof p) != 0) ss_redis_info_str(x->info, "maxmemory_policy", p, sizeof p);
    if (!p[0]) {
        ss_check *k = add(x, "maxmemory-policy", 1, SS_CHECK_FAIL, "unknown");
        msg(k, "could not read maxmemory-policy");
        fix(k, "CONFIG SET maxmemory-policy noeviction");
        return;
    }
    if (!strcmp(p, "noeviction")) {
        ss_check *k = add(x, "maxmemory-policy", 1, SS_CHECK_PASS, p);
        msg(k, "a full buffer refuses writes (OOM), which the ingester turns into backpressure");
        return;
    }
    ss_check *k = add(x, "maxmemory-policy", 1, SS_CHECK_FAIL, p);
    if (!strncmp(p, "allkeys-", 8))
        msg(k, "%s means SILENT DATA LOSS: when memory fills, Redis evicts whole streams with their consumer "
               "groups while every XADD still answers OK (measured: 120,000 acknowledged, 62,185 left)", p);
    else
        msg(k, "%s evicts keys with a TTL and otherwise refuses writes; skyspool requires noeviction so memory "
               "pressure is always backpressure, never loss", p);
    fix(k, "CONFIG SET maxmemory-policy noeviction (and in redis.conf)");
}

static void check_aof(actx *x) {
    char v[32];
    long long on = -1;
    if (cfg(x, "appendonly", v, sizeof v) == 0) on = !strcmp(v, "yes");
    else ss_redis_info_ll(x->info, "aof_enabled", &on);
    if (on != 1) {
        ss_check *k = add(x, "appendonly", 1, SS_CHECK_FAIL, on == 0 ? "no" : "unknown");
        msg(k, "without the AOF a Redis restart loses every buffered event not yet in Parquet");
        fix(k, "CONFIG SET appendonly yes (and in redis.conf)");
    } else {
        ss_check *k = add(x, "appendonly", 1, SS_CHECK_PASS, "yes");
        msg(k, "buffered events survive a Redis restart");
    }
    if (cfg(x, "appendfsync", v, sizeof v) != 0) {
        ss_check *k = add(x, "appendfsync", 1, SS_CHECK_WARN, "unknown");
        msg(k, "CONFIG GET is not available, so the fsync policy cannot be verified");
        fix(k, "make sure redis.conf has appendfsync everysec (or always)");
    } else if (!strcmp(v, "everysec") || !strcmp(v, "always")) {
        ss_check *k = add(x, "appendfsync", 1, SS_CHECK_PASS, v);
        msg(k, !strcmp(v, "always") ? "every write is fsync'd before the reply"
                                    : "at most ~1 s of acknowledged writes can be lost in a crash; the stored "
                                      "cursor is in the same AOF, so the ingester re-reads what was lost");
    } else {
        ss_check *k = add(x, "appendfsync", 1, SS_CHECK_FAIL, v);
        msg(k, "appendfsync %s leaves flushing to the kernel: a machine crash can lose up to ~30 s", v);
        fix(k, "CONFIG SET appendfsync everysec");
    }
    char s[32] = "";
    ss_redis_info_str(x->info, "aof_last_write_status", s, sizeof s);
    ss_check *k = add(x, "aof-last-write", 1, !s[0] || !strcmp(s, "ok") ? SS_CHECK_PASS : SS_CHECK_FAIL,
                      s[0] ? s : "n/a");
    if (k->status == SS_CHECK_PASS) msg(k, "the last AOF write succeeded");
    else {
        msg(k, "the last AOF write failed (%s): Redis refuses writes until the disk recovers", s);
        fix(k, "check disk space and the Redis log");
    }
    ss_redis_info_str(x->info, "aof_last_bgrewrite_status", s, sizeof s);
    k = add(x, "aof-last-rewrite", 1, !s[0] || !strcmp(s, "ok") ? SS_CHECK_PASS : SS_CHECK_FAIL, s[0] ? s : "n/a");
    if (k->status == SS_CHECK_PASS) msg(k, "the last AOF rewrite succeeded (or none ran)");
    else {
        msg(k, "the last AOF rewrite failed: the AOF keeps growing");
        fix(k, "check disk space and the Redis log; then BGREWRITEAOF");
    }
    ss_redis_info_str(x->info, "rdb_last_bgsave_status", s, sizeof s);
    k = add(x, "rdb-last-save", 1, !s[0] || !strcmp(s, "ok") ? SS_CHECK_PASS : SS_CHECK_FAIL, s[0] ? s : "n/a");
    if (k->status == SS_CHECK_PASS) msg(k, "the last RDB save succeeded (or none ran)");
    else {
        msg(k, "the last RDB save failed: with stop-writes-on-bgsave-error Redis refuses writes");
        fix(k, "check disk space and the Redis log");
    }
}

static void check_net(actx *x) {
    char v[32];
    if (cfg(x, "timeout", v, sizeof v) == 0) {
        long long t = strtoll(v, NULL, 10);
        ss_check *k = add(x, "timeout", 0, t == 0 ? SS_CHECK_PASS : SS_CHECK_WARN, v);
        if (t == 0) msg(k, "idle clients are never disconnected");
        else {
            msg(k, "clients idle for %lld s are disconnected (a paused ingester or an idle writer); skyspool "
                   "reconnects, but each drop costs a rewind", t);
            fix(k, "CONFIG SET timeout 0");
        }
    } else {
        ss_check *k = add(x, "timeout", 0, SS_CHECK_WARN, "unknown");
        msg(k, "CONFIG GET is not available");
    }
    if (cfg(x, "tcp-backlog", v, sizeof v) == 0) {
        long long b = strtoll(v, NULL, 10);
        ss_check *k = add(x, "tcp-backlog", 0, b >= 511 ? SS_CHECK_PASS : SS_CHECK_WARN, v);
        if (b >= 511) msg(k, "accept queue of %lld", b);
        else {
            msg(k, "tcp-backlog %lld is small: reconnect storms after a restart may be refused", b);
            fix(k, "tcp-backlog 511 in redis.conf (and net.core.somaxconn >= 511)");
        }
    } else {
        ss_check *k = add(x, "tcp-backlog", 0, SS_CHECK_WARN, "unknown");
        msg(k, "CONFIG GET is not available");
    }
}

/* Authentication: requirepass, or an ACL default user that is off or has a password. */
static int auth_required(actx *x, char *how, size_t howlen) {
    char v[256];
    if (cfg(x, "requirepass", v, sizeof v) == 0 && v[0]) {
        snprintf(how, howlen, "requirepass set");
        return 1;
    }
    redisReply *r = redisCommand(x->c, "ACL GETUSER default");
    int req = -1;
    if (r && r->type == REDIS_REPLY_ARRAY) {
        for (size_t i = 0; i + 1 < r->elements; i += 2) {
            redisReply *k = r->element[i], *f = r->element[i + 1];
            if (k->type != REDIS_REPLY_STRING || strcmp(k->str, "flags") || f->type != REDIS_REPLY_ARRAY) continue;
            int off = 0, nopass = 0;
            for (size_t j = 0; j < f->elements; j++)
                if (f->element[j]->type == REDIS_REPLY_STRING || f->element[j]->type == REDIS_REPLY_STATUS) {
                    off |= !strcmp(f->element[j]->str, "off");
                    nopass |= !strcmp(f->element[j]->str, "nopass");
                }
            req = off || !nopass;
            snprintf(how, howlen, "%s", off ? "default user disabled" : nopass ? "default user: nopass" : "default user has a password");
        }
    }
    if (r) freeReplyObject(r);
    if (req < 0) snprintf(how, howlen, "unknown");
    return req;
}

static int loopback_only(const char *bind) {
    char b[512];
    snprintf(b, sizeof b, "%s", bind);
    int any = 0;
    for (char *save = NULL, *t = strtok_r(b, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
        if (*t == '-') t++; /* "-::1": optional address */
        any = 1;
        if (strncmp(t, "127.", 4) && strcmp(t, "::1") && strcmp(t, "localhost")) return 0;
    }
    return any;
}

static void check_access(actx *x) {
    char how[96], bind[512], pm[16];
    int auth = auth_required(x, how, sizeof how);
    ss_check *k = add(x, "auth", 0, auth == 1 ? SS_CHECK_PASS : SS_CHECK_WARN, how);
    if (auth == 1) msg(k, "clients must authenticate (%s)", how);
    else {
        msg(k, "anyone who reaches the port can read, XDEL or FLUSHALL the buffer (%s)", how);
        fix(k, "CONFIG SET requirepass <secret> (or an ACL user) and give skyspool --redis-password-file");
    }
    if (cfg(x, "bind", bind, sizeof bind) == 0) {
        int lo = loopback_only(bind);
        k = add(x, "bind", 0, lo || auth == 1 ? SS_CHECK_PASS : SS_CHECK_WARN, bind[0] ? bind : "(all interfaces)");
        if (lo) msg(k, "listening on loopback only");
        else if (auth == 1) msg(k, "listening beyond loopback (%s), with authentication", bind[0] ? bind : "all interfaces");
        else {
            msg(k, "listening beyond loopback (%s) without authentication", bind[0] ? bind : "all interfaces");
            fix(k, "bind 127.0.0.1 -::1 in redis.conf, or require a password");
        }
    }
    if (cfg(x, "protected-mode", pm, sizeof pm) == 0) {
        int on = !strcmp(pm, "yes");
        k = add(x, "protected-mode", 0, on || auth == 1 ? SS_CHECK_PASS : SS_CHECK_WARN, pm);
        if (on) msg(k, "without a password Redis answers only loopback clients");
        else if (auth == 1) msg(k, "off, but clients must authenticate");
        else {
            msg(k, "protected-mode no without a password: any host that reaches the port has full access");
            fix(k, "CONFIG SET protected-mode yes, or require a password");
        }
    }
}

static void check_aof_rewrite(actx *x) {
    char v[32];
    if (cfg(x, "auto-aof-rewrite-percentage", v, sizeof v) != 0) return;
    long long pct = strtoll(v, NULL, 10);
    ss_check *k = add(x, "auto-aof-rewrite-percentage", 0, pct > 0 ? SS_CHECK_PASS : SS_CHECK_WARN, v);
    if (pct > 0) msg(k, "the AOF is rewritten when it has grown by %lld%%", pct);
    else {
        msg(k, "automatic AOF rewrites are off: the AOF keeps every event ever buffered, grows until the disk "
               "fills (then Redis refuses writes) and makes every restart replay all of it");
        fix(k, "CONFIG SET auto-aof-rewrite-percentage 100");
    }
}

static void check_stream_nodes(actx *x) {
    char v[32];
    if (cfg(x, "stream-node-max-bytes", v, sizeof v) == 0) {
        long long b = strtoll(v, NULL, 10);
        ss_check *k = add(x, "stream-node-max-bytes", 0, b == 0 || b >= 65536 ? SS_CHECK_PASS : SS_CHECK_WARN, v);
        if (k->status == SS_CHECK_PASS) msg(k, "large stream nodes: fewer, fuller listpacks");
        else {
            msg(k, "%lld-byte nodes hold only a few 600-byte events each; 64 KB nodes measured ~50 B/event less", b);
            fix(k, "CONFIG SET stream-node-max-bytes 65536");
        }
    }
    if (cfg(x, "stream-node-max-entries", v, sizeof v) == 0) {
        long long n = strtoll(v, NULL, 10);
        ss_check *k = add(x, "stream-node-max-entries", 0, n == 0 || n >= 100 ? SS_CHECK_PASS : SS_CHECK_WARN, v);
        if (k->status == SS_CHECK_PASS) msg(k, "node entry limit does not cap 64 KB nodes of ~600-byte events");
        else {
            msg(k, "%lld entries per node caps nodes below 64 KB", n);
            fix(k, "CONFIG SET stream-node-max-entries 1000");
        }
    }
}

static void check_memory_headroom(actx *x) {
    long long used = 0, max = 0;
    ss_redis_info_ll(x->info, "used_memory", &used);
    ss_redis_info_ll(x->info, "maxmemory", &max);
    if (max <= 0) return;
    double share = (double)used / (double)max;
    char val[64];
    snprintf(val, sizeof val, "%.0f%%", share * 100);
    ss_check *k = add(x, "memory-used", 0, share < 0.8 ? SS_CHECK_PASS : SS_CHECK_WARN, val);
    if (share < 0.8) msg(k, "%.0f%% of maxmemory in use", share * 100);
    else {
        msg(k, "%.0f%% of maxmemory in use: the ingester pauses above 80%%", share * 100);
        fix(k, "check that the DataWriter runs and keeps up (skyspool status)");
    }
}

static void check_groups(actx *x) {
    int missing = 0, existing = 0;
    long long pending = 0, lag = 0, len = 0;
    int lag_unknown = 0, shards = 1;
    char err[256];
    /* with shards (buffer/shard.h) each row stands for the type's M streams, summed */
    if (ss_shard_recorded(x->c, x->o->prefix, &shards, err, sizeof err) != 0 || shards < 1) shards = 1;
    for (int t = 0; t < SS_TYPE__COUNT && x->a->ngroups < 16; t++) {
        if (t == SS_TYPE_OTHER && !x->o->keep_other) continue;
        ss_audit_group *g = &x->a->groups[x->a->ngroups++];
        memset(g, 0, sizeof *g);
        if (shards > 1)
            snprintf(g->stream, sizeof g->stream, "%s%s:{0..%d}", x->o->prefix, ss_type_name((ss_type)t), shards - 1);
        else snprintf(g->stream, sizeof g->stream, "%s%s", x->o->prefix, ss_type_name((ss_type)t));
        ss_stream_info si;
        if (ss_shard_stream_info(x->c, x->o->prefix, (ss_type)t, shards, x->o->group, &si, NULL, err, sizeof err) != 0)
            continue;
        g->exists = si.exists;
        g->length = si.length;
        g->has_group = si.has_group;
        g->pending = si.pending;
        g->lag = si.lag;
        g->consumers = si.consumers;
        if (!si.exists) continue;
        existing++;
        len += si.length;
        if (!si.has_group) {
            missing++;
            continue;
        }
        pending += si.pending;
        if (si.lag < 0) lag_unknown = 1;
        else lag += si.lag;
    }
    char val[96];
    if (existing == 0) {
        ss_check *k = add(x, "consumer-groups", 0, SS_CHECK_PASS, "no streams yet");
        msg(k, "nothing buffered under prefix %s yet", x->o->prefix);
        return;
    }
    if (missing) {
        snprintf(val, sizeof val, "%d of %d streams without group", missing, existing);
        ss_check *k = add(x, "consumer-groups", 0, SS_CHECK_WARN, val);
        msg(k, "%d stream(s) have no consumer group '%s': no DataWriter has read them yet, so events accumulate",
            missing, x->o->group);
        fix(k, "run skyspool write (or skyspool run), which creates the group");
        return;
    }
    if (lag_unknown) snprintf(val, sizeof val, "pending %lld, lag unknown", pending);
    else snprintf(val, sizeof val, "pending %lld, lag %lld", pending, lag);
    ss_check *k = add(x, "consumer-groups", 0, SS_CHECK_PASS, val);
    if (shards > 1)
        msg(k, "group '%s' on all %d types in %d shards (%lld entries buffered)", x->o->group, existing, shards, len);
    else msg(k, "group '%s' on all %d streams (%lld entries buffered)", x->o->group, existing, len);
}

int ss_audit_run(redisContext *c, const ss_audit_opts *opts, ss_audit *out, char *err, size_t errlen) {
    ss_audit_opts o = {.prefix = "skyspool:", .require_maxmemory = 2LL << 30, .group = "writers"};
    if (opts) {
        if (opts->prefix) o.prefix = opts->prefix;
        if (opts->require_maxmemory > 0) o.require_maxmemory = opts->require_maxmemory;
        if (opts->group) o.group = opts->group;
        o.keep_other = opts->keep_other;
    }
    char redis_desc[sizeof out->redis];
    snprintf(redis_desc, sizeof redis_desc, "%s", out->redis);
    memset(out, 0, sizeof *out);
    snprintf(out->redis, sizeof out->redis, "%s", redis_desc);
    actx x = {.c = c, .o = &o, .a = out};
    x.info = ss_redis_info(c, "everything", err, errlen);
    if (!x.info) return -1;
    ss_redis_info_str(x.info, "redis_version", out->version, sizeof out->version);
    char probe[32], perr[256];
    x.config_ok = ss_redis_config_get(c, "maxmemory", probe, sizeof probe, perr, sizeof perr) == 0;
    if (!x.config_ok && c->err) {
        snprintf(err, errlen, "%s", c->errstr);
        free(x.info);
        return -1;
    }
    check_version(&x);
    check_maxmemory(&x);
    check_policy(&x);
    check_aof(&x);
    check_net(&x);
    check_access(&x);
    check_aof_rewrite(&x);
    check_stream_nodes(&x);
    check_memory_headroom(&x);
    check_groups(&x);
    if (!x.config_ok) {
        ss_check *k = add(&x, "config-access", 0, SS_CHECK_WARN, "CONFIG disabled");
        msg(k, "CONFIG GET failed (%s); settings were read from INFO where possible", perr);
    }
    free(x.info);
    if (c->err) {
        snprintf(err, errlen, "%s", c->errstr);
        return -1;
    }
    return 0;
}

int ss_audit_failures(const ss_audit *a) {
    int n = 0;
    for (int i = 0; i < a->nchecks; i++)
        if (a->checks[i].required && a->checks[i].status == SS_CHECK_FAIL) n++;
    return n;
}

int ss_audit_render_text(const ss_audit *a, ss_buf *b) {
    int rc = ss_buf_printf(b, "skyspool audit of %s (Redis %s)\n\n", a->redis, a->version[0] ? a->version : "?");
    for (int i = 0; i < a->nchecks; i++) {
        const ss_check *k = &a->checks[i];
        rc |= ss_buf_printf(b, "%s  %-24s %-9s %s\n", ss_check_status_name(k->status), k->name,
                            k->required ? "required" : "advisory", k->value);
        rc |= ss_buf_printf(b, "      %s\n", k->message);
        if (k->recommendation[0]) rc |= ss_buf_printf(b, "      fix: %s\n", k->recommendation);
    }
    int groups = 0;
    for (int i = 0; i < a->ngroups; i++) groups += a->groups[i].exists;
    if (groups) {
        rc |= ss_buf_printf(b, "\n%-28s %12s %10s %12s\n", "stream", "length", "pending", "lag");
        for (int i = 0; i < a->ngroups; i++) {
            const ss_audit_group *g = &a->groups[i];
            if (!g->exists) continue;
            char lag[32];
            if (!g->has_group) snprintf(lag, sizeof lag, "no group");
            else if (g->lag < 0) snprintf(lag, sizeof lag, "unknown");
            else snprintf(lag, sizeof lag, "%lld", g->lag);
            rc |= ss_buf_printf(b, "%-28s %12lld %10lld %12s\n", g->stream, g->length, g->pending, lag);
        }
    }
    int f = ss_audit_failures(a), w = 0;
    for (int i = 0; i < a->nchecks; i++) w += a->checks[i].status == SS_CHECK_WARN;
    rc |= ss_buf_printf(b, "\nresult: %s (%d required check%s failed, %d warning%s)\n", f ? "FAIL" : "PASS", f,
                        f == 1 ? "" : "s", w, w == 1 ? "" : "s");
    return rc ? -1 : 0;
}

static int jstr(ss_buf *b, const char *s) { return ss_buf_append_json_string(b, s, strlen(s)); }

int ss_audit_render_json(const ss_audit *a, ss_buf *b) {
    int f = ss_audit_failures(a);
    int rc = ss_buf_puts(b, "{\"redis\":");
    rc |= jstr(b, a->redis);
    rc |= ss_buf_puts(b, ",\"version\":");
    rc |= jstr(b, a->version);
    rc |= ss_buf_printf(b, ",\"ok\":%s,\"required_failures\":%d,\"checks\":[", f ? "false" : "true", f);
    for (int i = 0; i < a->nchecks; i++) {
        const ss_check *k = &a->checks[i];
        rc |= ss_buf_printf(b, "%s{\"name\":", i ? "," : "");
        rc |= jstr(b, k->name);
        rc |= ss_buf_printf(b, ",\"status\":\"%s\",\"required\":%s,\"value\":", ss_check_status_name(k->status),
                            k->required ? "true" : "false");
        rc |= jstr(b, k->value);
        rc |= ss_buf_puts(b, ",\"message\":");
        rc |= jstr(b, k->message);
        rc |= ss_buf_puts(b, ",\"recommendation\":");
        rc |= jstr(b, k->recommendation);
        rc |= ss_buf_putc(b, '}');
    }
    rc |= ss_buf_puts(b, "],\"streams\":[");
    int first = 1;
    for (int i = 0; i < a->ngroups; i++) {
        const ss_audit_group *g = &a->groups[i];
        if (!g->exists) continue;
        rc |= ss_buf_printf(b, "%s{\"stream\":", first ? "" : ",");
        first = 0;
        rc |= jstr(b, g->stream);
        rc |= ss_buf_printf(b, ",\"length\":%lld,\"group\":%s,\"pending\":%lld,\"consumers\":%lld,\"lag\":", g->length,
                            g->has_group ? "true" : "false", g->pending, g->consumers);
        if (g->has_group && g->lag >= 0) rc |= ss_buf_printf(b, "%lld}", g->lag);
        else rc |= ss_buf_puts(b, "null}");
    }
    rc |= ss_buf_puts(b, "]}\n");
    return rc ? -1 : 0;
}
