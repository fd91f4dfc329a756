/* Redis addresses and connections, shared by every command that talks to the buffer.
 *
 * A Redis address is a URL, so that one string (flag, SKYSPOOL_REDIS_URL, config file)
 * says everything:
 *
 *     redis://[user[:password]@]host[:port][/db]      host may be [::1]; port defaults to 6379
 *     unix:///path/to/socket[?db=N]                   also unix://[user:password@]/path?db=N
 *
 * user and password may be percent-encoded. The password can instead come from a file
 * (--redis-password-file), so it never has to appear on a command line or in `ps`.
 *
 * Parsing is pure (no I/O) and strict: anything it does not understand is an error that
 * says what is wrong, never a silently different address. ss_redis_connect() then does
 * the whole dance every caller needs (connect with a timeout, AUTH, SELECT, read/write
 * timeouts) and turns any failure into one readable sentence. The result is a plain
 * hiredis redisContext, so callers use the hiredis API they already know. */
#ifndef SS_BUFFER_REDIS_H
#define SS_BUFFER_REDIS_H

#include <hiredis/hiredis.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

/* Limits on what a URL may carry. */
#define SS_REDIS_URL_MAX 4096
#define SS_REDIS_HOST_MAX 256
#define SS_REDIS_PATH_MAX 1024
#define SS_REDIS_USER_MAX 256
#define SS_REDIS_PASSWORD_MAX 1024
#define SS_REDIS_DB_MAX 100000

typedef struct {
    int is_unix;                          /* 1: unix socket at path; 0: TCP host:port */
    char host[SS_REDIS_HOST_MAX];         /* without IPv6 brackets */
    int port;
    char path[SS_REDIS_PATH_MAX];
    char user[SS_REDIS_USER_MAX];         /* "" = no user (AUTH password) */
    char password[SS_REDIS_PASSWORD_MAX]; /* "" = no AUTH */
    int has_password;
    int db;
} ss_redis_url;

/* Parses url into *out. Returns 0, or -1 with a message in err. */
int ss_redis_url_parse(const char *url, ss_redis_url *out, char *err, size_t errlen);
/* Writes the address without the password ("redis://user:***@host:port/db"), for logs and
 * status output. */
void ss_redis_url_describe(const ss_redis_url *u, char *out, size_t outlen);

/* Reads a password file: the whole content, one trailing "\n" or "\r\n" removed. Refuses
 * (returns -1 with a message) a file that others can access or its group can write (0600
 * and 0640, e.g. root:skyspool, are fine), an empty file, a file over
 * SS_REDIS_PASSWORD_MAX-1 bytes, or a password holding a newline. */
int ss_redis_password_file_read(const char *path, char *out, size_t outlen, char *err, size_t errlen);

/* Connects, authenticates (AUTH user password, or AUTH password), selects the db and sets
 * the read/write timeout (timeout_ms also bounds the connect; 0 = 5000 ms). Returns a
 * ready context, or NULL with a sentence in err that names the address (never the
 * password), and its class in *cls (when cls is not NULL): io (unreachable), auth (AUTH refused,
NOAUTH), permission (NOPERM), usage (a user without a password). Free with redisFree(). */
redisContext *ss_redis_connect(const ss_redis_url *u, int timeout_ms, char *err, size_t errlen, ss_err_class *cls);

/* Finds "field:value" in an INFO reply and copies value (up to the line end). Returns 0 or
 * -1 when absent. ss_redis_info_ll parses it as an integer. */
int ss_redis_info_str(const char *info, const char *field, char *out, size_t outlen);
int ss_redis_info_ll(const char *info, const char *field, long long *out);

/* Runs "INFO section" and returns the reply text as a malloc'd string (NULL + err on
 * failure). */
char *ss_redis_info(redisContext *c, const char *section, char *err, size_t errlen);

/* CONFIG GET name -> value into out. Returns 0, 1 when the server has no such parameter,
 * or -1 with err (e.g. CONFIG is disabled on a managed Redis). */
int ss_redis_config_get(redisContext *c, const char *name, char *out, size_t outlen, char *err, size_t errlen);

/* EXISTS key: 1, 0, or -1 (no answer). For telling "the key is gone" from other refusals
 * of a command (XINFO answers a missing key with a plain ERR, which has no code of its own). */
int ss_redis_key_exists(redisContext *c, const char *key);
/* The class of a Redis error reply, from its error code (RESP: the first word of the reply,
 * "NOPERM ...", "WRONGPASS ..."): WRONGPASS/NOAUTH auth, NOPERM permission (waiting cannot
 * fix either, so no caller retries them), OOM oom, LOADING/BUSY/TRYAGAIN/MASTERDOWN/READONLY
 * io (transient), anything else protocol. str NULL: io. */
ss_err_class ss_redis_error_class(const char *str);
/* Writes what failed (r's error text, c's connection error, "no reply", an unexpected reply
 * type) into err and returns its class (ss_redis_error_class for an error reply, io for a
 * lost connection, protocol for an unexpected type). */
ss_err_class ss_redis_describe_error(redisContext *c, redisReply *r, char *err, size_t errlen);
/* "permission error: Redis user U may not run CMD (NOPERM ...): give U the rules of
 * `skyspool acl`" into out; what is the failed operation's own message (it names the command
 * when the caller knows it). */
void ss_redis_permission_error(const char *user, const char *what, char *out, size_t outlen);

#endif
