/* Redis URL parsing, password files and connection setup. See redis.h.
 *
 * The parser walks the URL once, left to right, copying each part into a fixed-size
 * field with an explicit limit; it never allocates and never touches the network, so it
 * is unit-tested exhaustively. Connection setup is kept apart from parsing: it only
 * consumes the parsed struct. */
#include "buffer/redis.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "util/str.h"

/* ---- URL parsing ------------------------------------------------------------------- */

/* Copies s[0..n) into out (cap bytes with the NUL), decoding %XX. -1 on bad escape/too long. */
static int copy_decoded(const char *s, size_t n, char *out, size_t cap, int *bad_escape) {
    size_t o = 0;
    *bad_escape = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '%') {
            if (i + 2 >= n) { /* fewer than two characters after '%' */
                *bad_escape = 1;
                return -1;
            }
            int h = ss_hex_val((unsigned char)s[i + 1]), l = ss_hex_val((unsigned char)s[i + 2]);
            if (h < 0 || l < 0) {
                *bad_escape = 1;
                return -1;
            }
            c = (char)(h * 16 + l);
            if (c == '\0') {
                *bad_escape = 1;
                return -1;
            }
            i += 2;
        }
        if (o + 1 >= cap) return -1;
        out[o++] = c;
    }
    out[o] = '\0';
    return 0;
}

static int fail(char *err, size_t errlen, const char *fmt, const char *arg) {
    snprintf(err, errlen, fmt, arg);
    return -1;
}

static int parse_db(const char *s, size_t n, int *db, char *err, size_t errlen) {
    if (n == 0 || n > 6) return fail(err, errlen, "%s", "bad database number in Redis URL (want a number 0..100000)");
    long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            snprintf(err, errlen, "bad database number in Redis URL: '%.*s' (want a number 0..%d)", (int)n, s,
                     SS_REDIS_DB_MAX);
            return -1;
        }
        v = v * 10 + (s[i] - '0');
    }
    if (v > SS_REDIS_DB_MAX) {
        snprintf(err, errlen, "database number %ld out of range 0..%d", v, SS_REDIS_DB_MAX);
        return -1;
    }
    *db = (int)v;
    return 0;
}

/* "user:password", ":password" (redis-cli style) or "user" (the password then comes from a
 * password file); s has no '@'. */
static int parse_userinfo(const char *s, size_t n, ss_redis_url *u, char *err, size_t errlen) {
    const char *colon = memchr(s, ':', n);
    int bad;
    size_t ulen = colon ? (size_t)(colon - s) : n;
    if (copy_decoded(s, ulen, u->user, sizeof u->user, &bad) != 0)
        return fail(err, errlen, "%s", bad ? "bad %-escape in the Redis URL user name" : "Redis URL user name too long");
    if (!colon) {
        if (!u->user[0]) return fail(err, errlen, "%s", "empty credentials before '@' in the Redis URL");
        return 0;
    }
    if (copy_decoded(colon + 1, n - ulen - 1, u->password, sizeof u->password, &bad) != 0)
        return fail(err, errlen, "%s", bad ? "bad %-escape in the Redis URL password" : "Redis URL password too long");
    u->has_password = 1;
    if (!u->password[0] && !u->user[0]) u->has_password = 0;
    return 0;
}

static int parse_tcp(const char *s, ss_redis_url *u, char *err, size_t errlen) {
    /* s is what follows "redis://": [userinfo@]host[:port][/db] */
    const char *end = s + strlen(s);
    const char *slash = strchr(s, '/');
    const char *auth_end = NULL;
    /* the last '@' before the path separates credentials (passwords may contain '@' only
     * percent-encoded, but be lenient and take the last one) */
    for (const char *p = s; p < (slash ? slash : end); p++)
        if (*p == '@') auth_end = p;
    const char *hp = s;
    if (auth_end) {
        if (parse_userinfo(s, (size_t)(auth_end - s), u, err, errlen) != 0) return -1;
        hp = auth_end + 1;
        slash = strchr(hp, '/');
    }
    if (strchr(hp, '?')) return fail(err, errlen, "%s", "query parameters are only supported in unix:// URLs; use redis://host:port/DB");
    const char *hend = slash ? slash : end;
    const char *port_s = NULL;
    if (*hp == '[') {
        const char *rb = memchr(hp, ']', (size_t)(hend - hp));
        if (!rb) return fail(err, errlen, "%s", "unterminated '[' in the Redis URL host");
        size_t hl = (size_t)(rb - hp - 1);
        if (hl == 0 || hl >= sizeof u->host) return fail(err, errlen, "%s", "bad IPv6 host in Redis URL");
        memcpy(u->host, hp + 1, hl);
        u->host[hl] = '\0';
        if (rb + 1 < hend) {
            if (rb[1] != ':') return fail(err, errlen, "%s", "expected ':port' after ']' in Redis URL");
            port_s = rb + 2;
        }
    } else {
        const char *colon = memchr(hp, ':', (size_t)(hend - hp));
        const char *hl_end = colon ? colon : hend;
        size_t hl = (size_t)(hl_end - hp);
        if (hl >= sizeof u->host) return fail(err, errlen, "%s", "Redis URL host name too long");
        memcpy(u->host, hp, hl);
        u->host[hl] = '\0';
        if (colon) port_s = colon + 1;
    }
    if (!u->host[0]) return fail(err, errlen, "%s", "Redis URL has no host; write redis://127.0.0.1:6379");
    for (const char *p = u->host; *p; p++)
        if (*p == '@' || *p == '/' || *p == ' ' || *p == '%')
            return fail(err, errlen, "bad character in Redis URL host '%s'", u->host);
    u->port = 6379;
    if (port_s) {
        size_t pl = (size_t)(hend - port_s);
        long v = 0;
        if (pl == 0 || pl > 5) return fail(err, errlen, "%s", "bad port in Redis URL (want 1..65535)");
        for (size_t i = 0; i < pl; i++) {
            if (port_s[i] < '0' || port_s[i] > '9')
                return fail(err, errlen, "%s", "bad port in Redis URL (want 1..65535)");
            v = v * 10 + (port_s[i] - '0');
        }
        if (v < 1 || v > 65535) return fail(err, errlen, "%s", "bad port in Redis URL (want 1..65535)");
        u->port = (int)v;
    }
    if (slash) {
        const char *d = slash + 1;
        size_t dl = strlen(d);
        if (dl && parse_db(d, dl, &u->db, err, errlen) != 0) return -1;
    }
    return 0;
}

static int parse_unix(const char *s, ss_redis_url *u, char *err, size_t errlen) {
    /* s follows "unix://": [userinfo@]/path[?db=N] */
    u->is_unix = 1;
    if (*s != '/') {
        const char *at = strchr(s, '@');
        if (!at) return fail(err, errlen, "%s", "unix:// URL needs an absolute path: unix:///path/to/redis.sock");
        if (parse_userinfo(s, (size_t)(at - s), u, err, errlen) != 0) return -1;
        s = at + 1;
        if (*s != '/') return fail(err, errlen, "%s", "unix:// URL needs an absolute path: unix://user:pw@/path/to/redis.sock");
    }
    const char *q = strchr(s, '?');
    size_t pl = q ? (size_t)(q - s) : strlen(s);
    int bad;
    if (pl < 2) return fail(err, errlen, "%s", "unix:// URL has no socket path");
    if (copy_decoded(s, pl, u->path, sizeof u->path, &bad) != 0)
        return fail(err, errlen, "%s", bad ? "bad %-escape in the socket path" : "socket path too long");
    if (q) {
        const char *p = q + 1;
        while (*p) {
            const char *amp = strchr(p, '&');
            size_t kl = amp ? (size_t)(amp - p) : strlen(p);
            if (kl > 3 && strncmp(p, "db=", 3) == 0) {
                if (parse_db(p + 3, kl - 3, &u->db, err, errlen) != 0) return -1;
            } else {
                snprintf(err, errlen, "unknown parameter '%.*s' in unix:// URL (only db=N is supported)", (int)kl, p);
                return -1;
            }
            p += kl;
            if (*p == '&') p++;
        }
    }
    return 0;
}

int ss_redis_url_parse(const char *url, ss_redis_url *out, char *err, size_t errlen) {
    memset(out, 0, sizeof *out);
    if (!url || !*url) return fail(err, errlen, "%s", "empty Redis URL");
    size_t n = strlen(url);
    if (n >= SS_REDIS_URL_MAX) return fail(err, errlen, "%s", "Redis URL too long");
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)url[i] <= ' ' || url[i] == 0x7f)
            return fail(err, errlen, "%s", "Redis URL contains a space or control character (percent-encode it)");
    if (strncasecmp(url, "redis://", 8) == 0) return parse_tcp(url + 8, out, err, errlen);
    if (strncasecmp(url, "unix://", 7) == 0) return parse_unix(url + 7, out, err, errlen);
    if (strncasecmp(url, "rediss://", 9) == 0)
        return fail(err, errlen, "%s", "rediss:// (TLS) is not supported by this build's hiredis; use a local stunnel or a unix socket");
    /* echo it without its credentials: everything up to the last '@' may hold a password */
    char shown[80];
    const char *at = strrchr(url, '@');
    if (at) {
        const char *sch = strstr(url, "://");
        int sl = sch && sch < at ? (int)(sch - url) + 3 : 0;
        snprintf(shown, sizeof shown, "%.*s***@%.40s", sl > 16 ? 16 : sl, url, at + 1);
    } else {
        snprintf(shown, sizeof shown, "%.64s", url);
    }
    return fail(err, errlen,
                "not a Redis URL: '%s'; write redis://[user:password@]host:port[/db] or unix:///path/to/socket",
                shown);
}

void ss_redis_url_describe(const ss_redis_url *u, char *out, size_t outlen) {
    char cred[SS_REDIS_USER_MAX + 8] = "";
    if (u->user[0] || u->has_password) snprintf(cred, sizeof cred, "%s%s@", u->user, u->has_password ? ":***" : "");
    if (u->is_unix) {
        snprintf(out, outlen, "unix://%s%s?db=%d", cred, u->path, u->db);
    } else {
        int v6 = strchr(u->host, ':') != NULL;
        snprintf(out, outlen, "redis://%s%s%s%s:%d/%d", cred, v6 ? "[" : "", u->host, v6 ? "]" : "", u->port, u->db);
    }
}

/* ---- password files ------------------------------------------------------------------ */

int ss_redis_password_file_read(const char *path, char *out, size_t outlen, char *err, size_t errlen) {
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        int e = errno;
        return ss_fail(err, errlen, ss_err_class_of_errno(e), "cannot open password file (%s): %s", strerror(e), path);
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        snprintf(err, errlen, "password file %s is not a regular file", path);
        return ss_err_rc(SS_ERR_DATA);
    }
    /* 0640 with a group (root:skyspool) is the usual service setup; others, or a group that
     * may rewrite the password, are not */
    if (st.st_mode & (S_IWGRP | S_IXGRP | S_IRWXO)) {
        close(fd);
        snprintf(err, errlen,
                 "password file %s is accessible to others or writable by its group (mode %03o); run: chmod 600 %s "
                 "(or chmod 640 with a group of the service's user)",
                 path, (unsigned)(st.st_mode & 0777), path);
        return ss_err_rc(SS_ERR_PERMISSION);
    }
    char buf[SS_REDIS_PASSWORD_MAX + 2];
    size_t n = 0;
    for (;;) {
        ssize_t r = read(fd, buf + n, sizeof buf - 1 - n);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            int e = errno;
            close(fd);
            return ss_fail(err, errlen, ss_err_class_of_errno(e), "cannot read password file (%s): %s", strerror(e), path);
        }
        if (r == 0) break;
        n += (size_t)r;
        if (n >= sizeof buf - 1) break;
    }
    close(fd);
    if (n && buf[n - 1] == '\n') n--;
    if (n && buf[n - 1] == '\r') n--;
    if (n == 0) {
        snprintf(err, errlen, "password file %s is empty", path);
        return ss_err_rc(SS_ERR_DATA);
    }
    if (n >= outlen || n >= SS_REDIS_PASSWORD_MAX) {
        snprintf(err, errlen, "password in %s is too long (limit %d bytes)", path, SS_REDIS_PASSWORD_MAX - 1);
        return ss_err_rc(SS_ERR_DATA);
    }
    if (memchr(buf, '\n', n) || memchr(buf, '\0', n)) {
        snprintf(err, errlen, "password file %s holds more than one line; it must hold only the password", path);
        return ss_err_rc(SS_ERR_DATA);
    }
    memcpy(out, buf, n);
    out[n] = '\0';
    return 0;
}

/* ---- connections --------------------------------------------------------------------- */

ss_err_class ss_redis_describe_error(redisContext *c, redisReply *r, char *err, size_t errlen) {
    if (r && r->type == REDIS_REPLY_ERROR) {
        snprintf(err, errlen, "%.*s", (int)r->len, r->str);
        return ss_redis_error_class(r->str);
    }
    if (c && c->err) {
        snprintf(err, errlen, "%s", c->errstr[0] ? c->errstr : "connection error");
        /* hiredis's own classes: a reply it could not parse is a peer outside RESP (not a
         * Redis server on that port, or a broken one); OOM is our allocation */
        if (c->err == REDIS_ERR_PROTOCOL) return SS_ERR_PROTOCOL;
        if (c->err == REDIS_ERR_OOM) return SS_ERR_OOM;
    } else if (!r)
        snprintf(err, errlen, "no reply (connection lost)");
    else {
        snprintf(err, errlen, "unexpected reply type %d", r->type);
        return SS_ERR_PROTOCOL;
    }
    return SS_ERR_IO;
}

int ss_redis_key_exists(redisContext *c, const char *key) {
    const char *argv[2] = {"EXISTS", key};
    redisReply *r = redisCommandArgv(c, 2, argv, NULL);
    int rc = r && r->type == REDIS_REPLY_INTEGER ? r->integer > 0 : -1;
    if (r) freeReplyObject(r);
    return rc;
}

/* Parsing protocol text, not classifying a message: RESP makes the first word of an error
 * reply its error code (redis.io "RESP protocol spec", Simple errors), and this reads only
 * that word. */
ss_err_class ss_redis_error_class(const char *str) {
    static const struct {
        const char *code;
        ss_err_class cls;
    } codes[] = {{"WRONGPASS", SS_ERR_AUTH}, {"NOAUTH", SS_ERR_AUTH},     {"NOPERM", SS_ERR_PERMISSION},
                 {"OOM", SS_ERR_OOM},        {"LOADING", SS_ERR_IO},      {"BUSY", SS_ERR_IO},
                 {"TRYAGAIN", SS_ERR_IO},    {"MASTERDOWN", SS_ERR_IO},   {"READONLY", SS_ERR_IO}};
    if (!str) return SS_ERR_IO;
    size_t n = strcspn(str, " \r\n");
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        if (strlen(codes[i].code) == n && !strncmp(str, codes[i].code, n)) return codes[i].cls;
    return SS_ERR_PROTOCOL;
}

void ss_redis_permission_error(const char *user, const char *what, char *out, size_t outlen) {
    /* what may be out itself (a caller rewording its own errstr) */
    char w[768];
    snprintf(w, sizeof w, "%s", what);
    /* Redis names the command ("...to run the 'xadd' command"); a refused key it does not.
     * Parsing the reply's text for the wording only: the class is the caller's, from the
     * reply's error code (ss_redis_error_class). */
    char cmd[64] = "";
    const char *q = strstr(w, "to run the '");
    if (q) {
        q += 12;
        size_t n = strcspn(q, "'");
        if (n < sizeof cmd) {
            for (size_t i = 0; i < n; i++) cmd[i] = (char)(q[i] >= 'a' && q[i] <= 'z' ? q[i] - 32 : q[i]);
            cmd[n] = '\0';
        }
    }
    char u[SS_REDIS_USER_MAX + 8];
    if (user && *user) snprintf(u, sizeof u, "'%s'", user);
    else snprintf(u, sizeof u, "of this connection");
    if (cmd[0])
        snprintf(out, outlen,
                 "permission error: the Redis user %s may not run %s (%s); give it the rules of `skyspool acl`, or "
                 "connect as the user of this job's role",
                 u, cmd, w);
    else
        snprintf(out, outlen,
                 "permission error: the Redis user %s was refused a key (%s); give it the rules of `skyspool acl` "
                 "for this prefix, or connect as the user of this job's role",
                 u, w);
}

/* Returns 0, or -class (ss_err_rc) with the sentence in err. */
static int run_simple(redisContext *c, int argc, const char **argv, const char *what, const char *addr, char *err,
                      size_t errlen) {
    redisReply *r = redisCommandArgv(c, argc, argv, NULL);
    if (!r || r->type == REDIS_REPLY_ERROR) {
        char e[256];
        ss_err_class cls = ss_redis_describe_error(c, r, e, sizeof e);
        if (r && !strcmp(what, "AUTH")) cls = SS_ERR_AUTH; /* any refused AUTH (old servers say "ERR invalid password") */
        snprintf(err, errlen, "Redis at %s: %s failed: %s", addr, what, e);
        if (r) freeReplyObject(r);
        return ss_err_rc(cls);
    }
    freeReplyObject(r);
    return 0;
}

redisContext *ss_redis_connect(const ss_redis_url *u, int timeout_ms, char *err, size_t errlen, ss_err_class *cls) {
    ss_err_class dummy;
    if (!cls) cls = &dummy;
    *cls = SS_ERR_IO;
    char addr[SS_REDIS_PATH_MAX + 64];
    ss_redis_url_describe(u, addr, sizeof addr);
    if (timeout_ms <= 0) timeout_ms = 5000;
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    redisContext *c = u->is_unix ? redisConnectUnixWithTimeout(u->path, tv) : redisConnectWithTimeout(u->host, u->port, tv);
    if (!c) {
        snprintf(err, errlen, "cannot connect to Redis at %s: out of memory", addr);
        *cls = SS_ERR_OOM;
        return NULL;
    }
    if (c->err) {
        snprintf(err, errlen, "cannot connect to Redis at %s: %s", addr, c->errstr);
        redisFree(c);
        return NULL;
    }
    redisSetTimeout(c, tv);
    if (!u->is_unix) redisEnableKeepAlive(c);
    if (u->user[0] && !u->has_password) {
        snprintf(err, errlen,
                 "Redis at %s: user '%s' has no password; put it in the URL (user:password@) or use "
                 "--redis-password-file", addr, u->user);
        *cls = SS_ERR_USAGE;
        redisFree(c);
        return NULL;
    }
    if (u->has_password) {
        const char *argv[3] = {"AUTH", u->user, u->password};
        int rc = u->user[0] ? run_simple(c, 3, argv, "AUTH", addr, err, errlen)
                            : run_simple(c, 2, (const char *[]){"AUTH", u->password}, "AUTH", addr, err, errlen);
        if (rc != 0) {
            *cls = ss_err_class_of_rc(rc);
            redisFree(c);
            return NULL;
        }
    }
    if (u->db != 0) {
        char db[16];
        snprintf(db, sizeof db, "%d", u->db);
        const char *argv[2] = {"SELECT", db};
        int rc = run_simple(c, 2, argv, "SELECT", addr, err, errlen);
        if (rc != 0) {
            *cls = ss_err_class_of_rc(rc);
            redisFree(c);
            return NULL;
        }
    }
    /* Fail early and clearly when the server wants a password we were not given. */
    const char *ping[1] = {"PING"};
    int prc = run_simple(c, 1, ping, "PING", addr, err, errlen);
    if (prc != 0) {
        *cls = ss_err_class_of_rc(prc);
        if (*cls == SS_ERR_AUTH)
            snprintf(err + strlen(err), errlen - strlen(err),
                     " (give the password in the URL or with --redis-password-file)");
        else if (*cls == SS_ERR_PERMISSION)
            ss_redis_permission_error(u->user, err, err, errlen);
        redisFree(c);
        return NULL;
    }
    return c;
}

/* ---- INFO / CONFIG helpers ------------------------------------------------------------ */

int ss_redis_info_str(const char *info, const char *field, char *out, size_t outlen) {
    size_t fl = strlen(field);
    const char *p = info;
    while (p && *p) {
        if (strncmp(p, field, fl) == 0 && p[fl] == ':') {
            const char *v = p + fl + 1;
            size_t n = strcspn(v, "\r\n");
            if (n >= outlen) n = outlen - 1;
            memcpy(out, v, n);
            out[n] = '\0';
            return 0;
        }
        p = strchr(p, '\n');
        if (p) p++;
    }
    return -1;
}

int ss_redis_info_ll(const char *info, const char *field, long long *out) {
    char v[64];
    if (ss_redis_info_str(info, field, v, sizeof v) != 0) return -1;
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno || end == v) return -1;
    *out = x;
    return 0;
}

char *ss_redis_info(redisContext *c, const char *section, char *err, size_t errlen) {
    const char *argv[2] = {"INFO", section};
    redisReply *r = redisCommandArgv(c, section ? 2 : 1, argv, NULL);
    if (!r || (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_STATUS)) {
        char e[256];
        ss_redis_describe_error(c, r, e, sizeof e);
        snprintf(err, errlen, "INFO %s failed: %s", section ? section : "", e);
        if (r) freeReplyObject(r);
        return NULL;
    }
    char *s = strndup(r->str, r->len);
    freeReplyObject(r);
    if (!s) snprintf(err, errlen, "out of memory");
    return s;
}

int ss_redis_config_get(redisContext *c, const char *name, char *out, size_t outlen, char *err, size_t errlen) {
    const char *argv[3] = {"CONFIG", "GET", name};
    redisReply *r = redisCommandArgv(c, 3, argv, NULL);
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        char e[256];
        ss_redis_describe_error(c, r, e, sizeof e);
        snprintf(err, errlen, "CONFIG GET %s failed: %s", name, e);
        if (r) freeReplyObject(r);
        return -1;
    }
    int rc = 1;
    if (r->elements >= 2 && r->element[1]->type == REDIS_REPLY_STRING) {
        snprintf(out, outlen, "%.*s", (int)r->element[1]->len, r->element[1]->str);
        rc = 0;
    }
    freeReplyObject(r);
    return rc;
}
