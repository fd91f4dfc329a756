/* Fuzz target: the Redis URL parser (ss_redis_url_parse, src/buffer/redis.h).
 *
 * The input, cut at the first NUL, is parsed as a URL. Checked when it is accepted:
 *   - the fields are in range: TCP has a host and a port 1..65535, unix has an absolute
 *     path; db 0..SS_REDIS_DB_MAX; every string is NUL-terminated inside its array;
 *   - round trip: a canonical URL written from the fields (user, password and socket path
 *     percent-encoded, an IPv6 host (or one starting with '[') in brackets, port and db
 *     explicit) parses into exactly
 *     the same fields;
 *   - ss_redis_url_describe() never shows the password: its text is the same whatever
 *     the password is.
 * Rejected input must come with a message. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buffer/redis.h"

#define CHECK(c, ...)                                                        \
    do {                                                                     \
        if (!(c)) {                                                          \
            fprintf(stderr, "fuzz_redis_url: invariant failed: %s: ", #c);  \
            fprintf(stderr, __VA_ARGS__);                                    \
            fprintf(stderr, "\n");                                           \
            abort();                                                         \
        }                                                                    \
    } while (0)

static void encode(char *out, size_t cap, size_t *pos, const char *s, int keep_slash) {
    static const char hex[] = "0123456789ABCDEF";
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        int plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '_' || c == '-' || (keep_slash && c == '/');
        if (*pos + 4 >= cap) abort();
        if (plain) {
            out[(*pos)++] = (char)c;
        } else {
            out[(*pos)++] = '%';
            out[(*pos)++] = hex[c >> 4];
            out[(*pos)++] = hex[c & 15];
        }
    }
    out[*pos] = 0;
}

static int terminated(const char *s, size_t cap) { return memchr(s, 0, cap) != NULL; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > SS_REDIS_URL_MAX + 64) return 0;
    char *url = malloc(size + 1);
    if (!url) abort();
    memcpy(url, data, size);
    url[size] = 0;
    ss_redis_url u;
    char err[256] = "";
    int rc = ss_redis_url_parse(url, &u, err, sizeof err);
    if (rc != 0) {
        CHECK(rc == -1 && err[0], "rejected without a message (rc %d)", rc);
        free(url);
        return 0;
    }
    CHECK(terminated(u.host, sizeof u.host) && terminated(u.path, sizeof u.path) && terminated(u.user, sizeof u.user) &&
              terminated(u.password, sizeof u.password),
          "unterminated field");
    CHECK(u.db >= 0 && u.db <= SS_REDIS_DB_MAX, "db %d", u.db);
    if (u.is_unix) {
        CHECK(u.path[0] == '/', "unix path '%s' is not absolute", u.path);
    } else {
        CHECK(u.host[0] && u.port >= 1 && u.port <= 65535, "host '%s' port %d", u.host, u.port);
    }
    if (!u.has_password) CHECK(!u.password[0], "password without has_password");

    /* Canonical form and round trip. */
    static char canon[3 * SS_REDIS_URL_MAX + 64];
    size_t pos = 0;
    pos += (size_t)snprintf(canon, sizeof canon, "%s", u.is_unix ? "unix://" : "redis://");
    if (u.has_password) {
        encode(canon, sizeof canon, &pos, u.user, 0);
        canon[pos++] = ':';
        encode(canon, sizeof canon, &pos, u.password, 0);
        canon[pos++] = '@';
        canon[pos] = 0;
    } else if (u.user[0]) { /* "user@host": a user without a password */
        encode(canon, sizeof canon, &pos, u.user, 0);
        canon[pos++] = '@';
        canon[pos] = 0;
    }
    if (u.is_unix) {
        encode(canon, sizeof canon, &pos, u.path, 1);
        pos += (size_t)snprintf(canon + pos, sizeof canon - pos, "?db=%d", u.db);
    } else {
        int v6 = strchr(u.host, ':') != NULL || u.host[0] == '[';
        pos += (size_t)snprintf(canon + pos, sizeof canon - pos, "%s%s%s:%d/%d", v6 ? "[" : "", u.host, v6 ? "]" : "",
                                u.port, u.db);
    }
    if (pos < SS_REDIS_URL_MAX) { /* encoding may push a long URL over the limit */
        ss_redis_url v;
        char err2[256] = "";
        CHECK(ss_redis_url_parse(canon, &v, err2, sizeof err2) == 0, "canonical form '%s' of '%s' rejected: %s", canon,
              url, err2);
        CHECK(v.is_unix == u.is_unix && v.port == u.port && v.db == u.db && v.has_password == u.has_password &&
                  !strcmp(v.host, u.host) && !strcmp(v.path, u.path) && !strcmp(v.user, u.user) &&
                  !strcmp(v.password, u.password),
              "canonical form '%s' of '%s' parses differently", canon, url);
    }

    /* The description does not depend on the password: it reads the same for another one. */
    char desc[8192], desc2[8192];
    ss_redis_url_describe(&u, desc, sizeof desc);
    ss_redis_url w = u;
    snprintf(w.password, sizeof w.password, "%s", strcmp(u.password, "x") ? "x" : "y");
    ss_redis_url_describe(&w, desc2, sizeof desc2);
    CHECK(!strcmp(desc, desc2), "describe depends on the password: '%s' vs '%s'", desc, desc2);
    free(url);
    return 0;
}
