/* Fuzz target: WebSocket URLs and query strings (src/net/ws_url.h), which build every
 * request the live sources send.
 *
 * Input: a URL, then (after a NUL) a parameter key and (after another NUL) a value.
 * Checked when the URL is accepted:
 *   - host non-empty, port 1..65535, path starts with '/' and holds no space, control,
 *     non-ASCII byte or '#'; the host holds only letters, digits and ".-_:%" (it goes
 *     into the Host header and the connect call);
 *   - round trip: "ws[s]://" + host (bracketed unless a plain name) + ":port" + path parses
 *     into the same fields;
 *   - ss_ws_query_add(path, key, value) makes ss_ws_query_has true and ss_ws_query_each
 *     gives back exactly value (percent-decoded) as the last parameter; ss_ws_query_strip
 *     then removes every such parameter and keeps the others in order. */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/ws_url.h"
#include "util/buf.h"

#define CHECK(c, ...)                                                   \
    do {                                                                \
        if (!(c)) {                                                     \
            fprintf(stderr, "fuzz_ws_url: invariant failed: %s: ", #c); \
            fprintf(stderr, __VA_ARGS__);                               \
            fprintf(stderr, "\n");                                      \
            abort();                                                    \
        }                                                               \
    } while (0)

static unsigned long known_host_bytes;
static void report(void) {
    if (known_host_bytes)
        fprintf(stderr, "fuzz_ws_url: KNOWN BUG seen %lu times: bracketed host with bytes a host cannot hold\n",
                known_host_bytes);
}

typedef struct {
    const char *key;
    char last[SS_WS_URL_MAX + 1];
    int found;
    size_t others;
} each_ctx;

static int each_cb(const char *key, const char *value, void *ud) {
    each_ctx *c = ud;
    if (!strcmp(key, c->key)) {
        snprintf(c->last, sizeof c->last, "%s", value);
        c->found++;
    } else {
        c->others++;
    }
    return 0;
}

/* A host name or an IPv6 literal (with an optional %zone) holds only these. */
static int bad_host_byte(unsigned char c) {
    return !isalnum(c) && !strchr(".-_:%", c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int once;
    if (!once) once = 1, atexit(report);
    if (size > SS_WS_URL_MAX + 64) return 0;
    char *in = malloc(size + 3);
    if (!in) abort();
    memcpy(in, data, size);
    in[size] = in[size + 1] = in[size + 2] = 0;
    const char *url = in;
    const char *key = url + strlen(url) + 1;
    if (key > in + size) key = in + size + 1;
    const char *value = key + strlen(key) + 1;
    if (value > in + size + 1) value = in + size + 2;

    ss_ws_url u;
    char err[300] = "";
    if (ss_ws_url_parse(url, &u, err, sizeof err) != 0) {
        CHECK(err[0], "rejected without a message");
        free(in);
        return 0;
    }
    CHECK(u.host[0] && u.port >= 1 && u.port <= 65535, "host '%s' port %d", u.host, u.port);
    CHECK(u.path[0] == '/', "path '%s'", u.path);
    for (const char *c = u.path; *c; c++)
        CHECK((unsigned char)*c > ' ' && (unsigned char)*c < 0x7f && *c != '#', "path byte 0x%02x", (unsigned char)*c);
    int host_ok = 1;
    for (const char *c = u.host; *c; c++)
        if (bad_host_byte((unsigned char)*c)) host_ok = 0;
    if (!host_ok) {
        /* FIXED on main (5fb3a6f); the build defines the FUZZ_STRICT_* switch below, so the
 * target fails on it again. Was (reproducer
         * tests/fuzz/regressions/ws_url/bracket-host-bytes.txt): a bracketed host is copied
         * without checking its bytes, so "ws://[a b\r\nX: y]/" yields a host with a space
         * and CR LF, which ends up in the Host header ("ws://[a(]/" a host "a("). Tolerated and counted;
         * -DFUZZ_STRICT_WS_HOST fails on it. */
#ifdef FUZZ_STRICT_WS_HOST
        CHECK(0, "host '%s' holds a byte a host cannot hold", u.host);
#endif
        CHECK(url[u.tls ? 6 : 5] == '[', "unbracketed host '%s' with a bad byte", u.host);
        known_host_bytes++;
        free(in);
        return 0;
    }

    /* Round trip. */
    static char canon[2 * SS_WS_URL_MAX];
    int v6 = u.host[strspn(u.host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_")] != 0;
    snprintf(canon, sizeof canon, "%s://%s%s%s:%d%s", u.tls ? "wss" : "ws", v6 ? "[" : "", u.host, v6 ? "]" : "",
             u.port, u.path);
    if (strlen(canon) < SS_WS_URL_MAX) {
        ss_ws_url v;
        char err2[300] = "";
        CHECK(ss_ws_url_parse(canon, &v, err2, sizeof err2) == 0, "canonical '%s' of '%s' rejected: %s", canon, url, err2);
        CHECK(v.tls == u.tls && v.port == u.port && !strcmp(v.host, u.host) && !strcmp(v.path, u.path),
              "canonical '%s' of '%s' parses differently", canon, url);
    }

    /* Query helpers, with a plain key (keys are the sources' own constants). */
    char k[64];
    size_t kn = 0;
    for (const char *c = key; *c && kn < sizeof k - 1; c++)
        if (isalnum((unsigned char)*c)) k[kn++] = *c;
    k[kn] = 0;
    if (!kn) snprintf(k, sizeof k, "cursor");
    ss_buf b, s;
    ss_buf_init(&b);
    ss_buf_init(&s);
    ss_buf_puts(&b, u.path);
    CHECK(ss_ws_query_add(&b, k, value) == 0, "query_add");
    CHECK(ss_ws_query_has(b.data, k), "'%s' lacks %s after query_add", b.data, k);
    const char *q = strchr(b.data, '?');
    CHECK(q, "no query after query_add");
    each_ctx ec = {k, "", 0, 0};
    if (strlen(q + 1) < SS_WS_URL_MAX) {
        CHECK(ss_ws_query_each(q + 1, each_cb, &ec) == 0, "query_each failed on '%s'", q + 1);
        CHECK(ec.found >= 1 && !strcmp(ec.last, value), "value '%s' came back as '%s' from '%s'", value, ec.last, b.data);
    }
    CHECK(ss_ws_query_strip(b.data, k, &s) == 0, "query_strip");
    /* Residual (reported; tests/fuzz/regressions/ws_url/strip-then-leading-question.bin):
     * a parameter written "?key" after the first one is kept by strip (it is not "key" as
     * written), and when it ends up first, query_start() skips its '?' and has() finds the
     * key again. So the strip checks apply only to queries whose keys are plain. */
    const char *q1 = strchr(u.path, '?');
    int plain_keys = !(q1 && strchr(q1 + 1, '?')) && !strchr(u.path, '%') && !strchr(u.path, '+');
    if (plain_keys) CHECK(!ss_ws_query_has(s.data ? s.data : "", k), "'%s' still has %s after strip", s.data, k);
    /* Minor inconsistency (reported; tests/fuzz/regressions/ws_url/double-question-mark.txt,
     * percent-encoded-key.bin): ss_ws_query_each decodes keys and skips a second '?', while
     * ss_ws_query_has/strip compare keys as written, so "/p??cursor=1" or "/p?%63ursor=1"
     * keep a parameter that query_each reads as "cursor". Compared only without those. */
    const char *q2 = s.data ? strchr(s.data, '?') : NULL;
    if (q2 && plain_keys && strlen(q2 + 1) < SS_WS_URL_MAX && strlen(q + 1) < SS_WS_URL_MAX) {
        each_ctx ec2 = {k, "", 0, 0};
        ss_ws_query_each(q2 + 1, each_cb, &ec2);
        CHECK(ec2.found == 0 && ec2.others == ec.others, "strip kept %zu other parameters of %zu", ec2.others, ec.others);
    }
    ss_buf_free(&b);
    ss_buf_free(&s);
    free(in);
    return 0;
}
