/* Where the buffer lives: one call that every command (ingest, audit, status, write, run)
 * makes to turn its configuration into a Redis it can connect to.
 *
 * With a URL, the target is that Redis (password from the URL or from a password file).
 * Without one, it is the embedded redis-server of the data dir, started or reused
 * (embedded.h), and connections authenticate as the ACL user of the job's role (acl.h). The target can be connected to any number of times (reconnects, one
 * connection per thread) and is closed once, which stops an embedded server this process
 * started.
 *
 *     ss_target_opts o = {.url = getenv(...), .data_dir = "./skyspool-data"};
 *     ss_redis_target *t = ss_redis_target_open(&o, err, sizeof err, NULL);
 *     redisContext *c = ss_redis_target_connect(t, err, sizeof err, NULL);
 *     ...
 *     ss_redis_target_close(t); */
#ifndef SS_BUFFER_TARGET_H
#define SS_BUFFER_TARGET_H

#include <stddef.h>

#include "buffer/embedded.h"
#include "buffer/redis.h"

typedef struct ss_redis_target ss_redis_target;

typedef struct {
    const char *url;           /* NULL or "" = embedded redis-server in data_dir */
    const char *password_file; /* optional; overrides a password in the URL */
    const char *data_dir;      /* embedded only; default ./skyspool-data */
    long long maxmemory;       /* embedded only; bytes, 0 = 2 GiB */
    int connect_timeout_ms;    /* 0 = 5000 */
    ss_acl_role role;          /* embedded only: the ACL user connections use (acl.h); 0 = ingest */
    const char *prefix;        /* embedded only: key prefix the users need; NULL = "skyspool:" */
} ss_target_opts;

/* NULL + err on failure, its class in *cls when not NULL: usage (a bad URL), the password
 * file's (io, permission, data), io (the embedded server did not start). */
ss_redis_target *ss_redis_target_open(const ss_target_opts *o, char *err, size_t errlen, ss_err_class *cls);
/* A new connection (AUTH and SELECT done); NULL + err on failure, with the failure's class
 * in *cls when cls is not NULL (ss_redis_connect: io, auth, permission, usage). */
redisContext *ss_redis_target_connect(ss_redis_target *t, char *err, size_t errlen, ss_err_class *cls);
/* The same as another role's user, for a process doing two jobs (run: ingest + write). With
 * a URL the role is ignored: the URL names the user. */
redisContext *ss_redis_target_connect_as(ss_redis_target *t, ss_acl_role role, char *err, size_t errlen,
                                         ss_err_class *cls);
const ss_redis_url *ss_redis_target_url(const ss_redis_target *t);
/* The user connections as role log in as ("" = none), for messages. */
const char *ss_redis_target_user(const ss_redis_target *t, ss_acl_role role);
/* "redis://127.0.0.1:6379/0" or "embedded redis-server in /abs/dir (unix:///...)"; no password. */
const char *ss_redis_target_describe(const ss_redis_target *t);
int ss_redis_target_is_embedded(const ss_redis_target *t);
/* Stops an embedded server this process started (if no other process uses it); frees t. */
int ss_redis_target_close(ss_redis_target *t);

#endif
