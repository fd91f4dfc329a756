/* The embedded Redis: a private redis-server that skyspool runs in its data directory when
 * no Redis URL is given, so that `skyspool ingest` works on a bare machine and the buffer
 * is configured correctly by construction (noeviction, AOF everysec, 64 KB stream nodes).
 *
 *     ss_embedded_opts o; ss_embedded_opts_init(&o);
 *     o.data_dir = "./skyspool-data"; o.maxmemory = 2LL << 30;
 *     ss_embedded *e = ss_embedded_start(&o, err, sizeof err);   // starts or reuses
 *     ss_redis_url u; ss_embedded_url_as(e, SS_ACL_INGEST, &u);  // unix socket + that role's user
 *     redisContext *c = ss_redis_connect(&u, 5000, err, sizeof err, NULL);
 *     ...
 *     ss_embedded_stop(e);                                       // SHUTDOWN if we started it
 *
 * Files in the data dir: redis.conf (0600, generated on every start), redis-ROLE.password
 * for each ACL role of acl.h (0600, random, kept across runs), redis.sock, redis.pid,
 * redis.log, appendonlydir/.
 *
 * Least privilege: the server has one ACL user per role (acl.h) and the `default` user is
 * off, so every connection names its user; each skyspool job connects as its own role, and
 * skyspool-admin (password in redis-admin.password) is for SHUTDOWN, ACL upkeep and an
 * operator's `redis-cli -s DIR/redis.sock --user skyspool-admin -a "$(cat DIR/redis-admin.password)"`.
 * The config file holds only SHA-256 hashes of the passwords. The key patterns are built
 * for the prefix of the process that starts the server; a process with another prefix adds
 * its patterns to the running server's users (ss_embedded_start does it, as admin).
 *
 * The same data dir always means the same buffer: if a redis-server from this data dir
 * already answers, it is reused and left running on stop. Every process using the
 * server holds a shared lock on redis.lock; the process that started the server shuts it
 * down on stop only when no other skyspool process still holds that lock (otherwise it
 * leaves it running for them, and the next start reuses it).
 *
 * The server runs in its own session, so a Ctrl-C in the terminal reaches skyspool (which
 * finishes its pipeline and stores its cursor) and not Redis. */
#ifndef SS_BUFFER_EMBEDDED_H
#define SS_BUFFER_EMBEDDED_H

#include <stddef.h>

#include "buffer/acl.h"
#include "buffer/redis.h"
#include "util/buf.h"

typedef struct ss_embedded ss_embedded;

typedef struct {
    const char *data_dir;     /* default "./skyspool-data"; created (0700) if missing */
    long long maxmemory;      /* bytes; default 2 GiB */
    const char *redis_server; /* binary; default "redis-server" from PATH */
    int start_timeout_ms;     /* wait for PONG (AOF loading included); default 60000 */
    int force_tcp;            /* use 127.0.0.1 + a free port even if the socket path fits (tests) */
    const char *prefix;       /* key prefix the ACL users' key patterns are for; default "skyspool:" */
} ss_embedded_opts;

void ss_embedded_opts_init(ss_embedded_opts *o);

/* Reuses a live server of data_dir, or starts one. NULL + err on failure (the message
 * includes the tail of redis.log when the server refused to start). */
ss_embedded *ss_embedded_start(const ss_embedded_opts *o, char *err, size_t errlen);
/* The address (unix socket, or 127.0.0.1:port) with the user and password of role. */
void ss_embedded_url_as(const ss_embedded *e, ss_acl_role role, ss_redis_url *out);
/* The same as the admin user (SHUTDOWN, ACL, anything). */
void ss_embedded_url(const ss_embedded *e, ss_redis_url *out);
/* 1 when this process started the server, 0 when it reused a running one. */
int ss_embedded_started_here(const ss_embedded *e);
/* Shuts the server down (SHUTDOWN, AOF flushed) if this process started it and no other
 * skyspool process uses it; frees e. Returns 0, or -1 if the server did not stop in time. */
int ss_embedded_stop(ss_embedded *e);

/* The generated configuration, exposed for tests and `--print-config`. socket_path NULL
 * means TCP on 127.0.0.1:port. Paths must be absolute. */
typedef struct {
    const char *dir;
    const char *socket_path;
    int port;
    const char *prefix;                          /* NULL: "skyspool:" */
    const char *password_hash[SS_ACL__COUNT];   /* SHA-256 hex of each role's password */
    long long maxmemory;
} ss_embedded_conf;
int ss_embedded_render_config(const ss_embedded_conf *c, ss_buf *out);

/* Longest unix socket path the kernel accepts (sizeof sun_path - 1). */
size_t ss_embedded_max_socket_path(void);

#endif
