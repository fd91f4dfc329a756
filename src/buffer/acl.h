/* Least privilege: the Redis ACL users skyspool's jobs run as, in one table.
 *
 * Each job talks to Redis as its own ACL user, allowed only the commands and keys it needs,
 * so that a bug or a stolen password of one job cannot do another job's damage: the
 * ingester cannot read or delete what it buffered (no XREADGROUP, no FLUSHALL), the writer
 * cannot add events (XADD only to the DLQ), the exporter cannot read event bytes, and
 * `skyspool check` cannot touch anything outside its own `skyspool-check:` keys.
 *
 *   role     user               used by
 *   ingest   skyspool-ingest    ingest, the ingester of run
 *   write    skyspool-write     write, the writer of run
 *   status   skyspool-status    status, audit, gaps (read-only)
 *   monitor  skyspool-monitor   prometheus-redis-exporter (-check-streams)
 *   check    skyspool-check     check
 *   admin    skyspool-admin     the embedded server only: SHUTDOWN, ACL upkeep, operators
 *
 * The same rules serve three consumers: `skyspool acl` (prints or applies ACL SETUSER for a
 * real Redis), the embedded redis-server (user lines in its generated config) and the tests.
 * Every command list was derived from the code (every redisCommand format string and argv
 * array under src/buffer, src/writer, src/check, and the ack script's redis.call()s);
 * adding a Redis command to skyspool means adding it here, or that job gets NOPERM.
 *
 * Key patterns are built from the key prefix (default "skyspool:"), glob characters in it
 * escaped. The write role's XADD is confined to the DLQ with a Redis 7 selector, so the ACL
 * rules need Redis >= 7.0. Pure functions: no I/O. */
#ifndef SS_BUFFER_ACL_H
#define SS_BUFFER_ACL_H

#include <stddef.h>

#include "util/buf.h"

typedef enum {
    SS_ACL_INGEST = 0,
    SS_ACL_WRITE,
    SS_ACL_STATUS,
    SS_ACL_MONITOR,
    SS_ACL_CHECK,
    SS_ACL_ADMIN,
    SS_ACL__COUNT
} ss_acl_role;

/* The roles `skyspool acl` sets up on an external Redis (all but admin: there the operator
 * is the admin). */
#define SS_ACL_EXTERNAL_ROLES 5

#define SS_ACL_PREFIX_MAX 256 /* longest key prefix the rules are built for */
#define SS_ACL_USER_PREFIX "skyspool-"
#define SS_ACL_MAX_ARGS 128   /* most tokens one role's rules have (with ACL SETUSER NAME) */

/* "ingest", "write", ...; ss_acl_role_parse returns -1 for an unknown name. */
const char *ss_acl_role_name(ss_acl_role r);
int ss_acl_role_parse(const char *name);
/* The Redis user name of a role: "skyspool-ingest". */
const char *ss_acl_user(ss_acl_role r);
/* One line on what the role is for, for `skyspool acl --help` and the docs. */
const char *ss_acl_role_help(ss_acl_role r);
/* 1 when the role's keys depend on the key prefix (ingest, write, status, monitor). */
int ss_acl_role_uses_prefix(ss_acl_role r);

/* The rules of a role for prefix, as separate tokens (one ACL SETUSER argument each; a
 * selector "(+xadd ~P...)" is one token), appended to out separated by '\0'. Starts with
 * "reset" unless additive (then only the prefix-dependent key patterns and selectors, to
 * add a second prefix to an existing user). password_hash (64 hex chars of SHA-256, or
 * NULL for no password) becomes "#hash"; the user is "on". Returns the number of tokens,
 * or -1 (prefix empty, too long, or holding a space or control character; out of memory). */
int ss_acl_rules(ss_acl_role r, const char *prefix, const char *password_hash, int additive, ss_buf *out,
                 char *err, size_t errlen);

/* SHA-256 of password as 64 lowercase hex chars + NUL (ACL "#hash" rules: the plain
 * password is never written to a config file or printed). */
void ss_acl_hash_password(const char *password, char out[65]);

/* A command and a key that the role may run, for probing a server ("does this user already
 * cover prefix?" via ACL DRYRUN): writes argv tokens '\0'-separated into out. */
int ss_acl_probe(ss_acl_role r, const char *prefix, ss_buf *out);

#endif
