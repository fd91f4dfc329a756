/* The persistence verdict of persist.h: AOF on, maxmemory-policy noeviction, last AOF write
 * ok, read from INFO text; and the messages that say what is wrong and how to fix it. Kept
 * apart from the ingester and the writer so that both say exactly the same thing. */
#include "buffer/persist.h"

#include <stdio.h>
#include <string.h>

#include "buffer/redis.h"

void ss_persist_parse(const char *info, ss_persist *p) {
    long long on;
    if (ss_redis_info_ll(info, "aof_enabled", &on) == 0) {
        p->aof_known = 1;
        if (on) p->problems &= ~(unsigned)SS_PERSIST_NO_AOF;
        else p->problems |= SS_PERSIST_NO_AOF;
    }
    char v[64];
    if (ss_redis_info_str(info, "aof_last_write_status", v, sizeof v) == 0) {
        if (!strcmp(v, "ok")) p->problems &= ~(unsigned)SS_PERSIST_AOF_WRITE_ERR;
        else p->problems |= SS_PERSIST_AOF_WRITE_ERR;
    }
    if (ss_redis_info_str(info, "maxmemory_policy", v, sizeof v) == 0) {
        p->policy_known = 1;
        snprintf(p->policy, sizeof p->policy, "%s", v);
        if (!strcmp(v, "noeviction")) p->problems &= ~(unsigned)SS_PERSIST_EVICTING;
        else p->problems |= SS_PERSIST_EVICTING;
    }
}

void ss_persist_describe(const ss_persist *p, unsigned problem, char *out, size_t n) {
    if (problem & SS_PERSIST_NO_AOF) {
        snprintf(out, n,
                 "Redis runs without its append-only file (appendonly no): a Redis restart would lose every "
                 "buffered event not yet archived. Fix: redis-cli CONFIG SET appendonly yes, and set "
                 "`appendonly yes` (with `appendfsync everysec`) in redis.conf so a restart keeps it");
    } else if (problem & SS_PERSIST_EVICTING) {
        snprintf(out, n,
                 "Redis runs with maxmemory-policy %s; skyspool needs noeviction. An evicting policy silently "
                 "deletes whole streams (and their consumer groups) while XADD still answers OK, so events "
                 "would be lost. Fix: redis-cli CONFIG SET maxmemory-policy noeviction, and set "
                 "`maxmemory-policy noeviction` in redis.conf",
                 p->policy[0] ? p->policy : "(unknown)");
    } else if (problem & SS_PERSIST_AOF_WRITE_ERR) {
        snprintf(out, n,
                 "Redis reports aof_last_write_status:err: its last append-only-file write failed, and it "
                 "refuses writes until the disk recovers. Fix: check disk space and the Redis log");
    } else {
        snprintf(out, n, "no problem");
    }
}
