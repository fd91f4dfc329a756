/* See ws_url.h. Plain string handling; every input is bounded by SS_WS_URL_MAX. */
#include "net/ws_url.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/str.h"

static int fail(char *err, size_t errlen, const char *msg, const char *url) {
    snprintf(err, errlen, "%s: '%.200s'", msg, url);
    return -1;
}

int ss_ws_url_parse(const char *url, ss_ws_url *out, char *err, size_t errlen) {
    memset(out, 0, sizeof *out);
    if (strlen(url) >= SS_WS_URL_MAX) return fail(err, errlen, "URL too long", url);
    const char *p;
    if (strncmp(url, "ws://", 5) == 0) {
        p = url + 5;
    } else if (strncmp(url, "wss://", 6) == 0) {
        p = url + 6;
        out->tls = 1;
    } else {
        return fail(err, errlen, "URL must start with ws:// or wss://", url);
    }
    const char *host_end;
    if (*p == '[') { /* IPv6 literal */
        const char *close = strchr(p, ']');
        if (!close) return fail(err, errlen, "unclosed '[' in URL", url);
        if ((size_t)(close - p - 1) >= sizeof out->host || close == p + 1)
            return fail(err, errlen, "bad IPv6 host in URL", url);
        memcpy(out->host, p + 1, (size_t)(close - p - 1));
        /* Hex digits, ':' and '.' (embedded IPv4), plus what a zone id may use: the
         * host goes into the Host header, so no space, CR or LF may ever pass. */
        for (const char *c = out->host; *c; c++)
            if (!isalnum((unsigned char)*c) && !strchr(".:%-_", *c))
                return fail(err, errlen, "bad character in bracketed host", url);
        host_end = close + 1;
    } else {
        host_end = p + strcspn(p, ":/?#");
        if (host_end == p) return fail(err, errlen, "URL has no host", url);
        if ((size_t)(host_end - p) >= sizeof out->host) return fail(err, errlen, "host name too long", url);
        memcpy(out->host, p, (size_t)(host_end - p));
        for (const char *c = out->host; *c; c++)
            if (!isalnum((unsigned char)*c) && *c != '.' && *c != '-' && *c != '_')
                return fail(err, errlen, "bad character in host name", url);
    }
    p = host_end;
    out->port = out->tls ? 443 : 80;
    if (*p == ':') {
        p++;
        char *end;
        long port = strtol(p, &end, 10);
        if (end == p || port < 1 || port > 65535 || (*end && *end != '/' && *end != '?'))
            return fail(err, errlen, "bad port in URL", url);
        out->port = (int)port;
        p = end;
    } else if (*p && *p != '/' && *p != '?') {
        return fail(err, errlen, "unexpected character after host in URL", url);
    }
    if (strchr(p, '#')) return fail(err, errlen, "URL may not contain a fragment ('#')", url);
    for (const char *c = p; *c; c++)
        if ((unsigned char)*c <= ' ' || (unsigned char)*c >= 0x7f)
            return fail(err, errlen, "URL contains a space or non-ASCII byte (percent-encode it)", url);
    if (*p == '?') snprintf(out->path, sizeof out->path, "/%s", p);
    else snprintf(out->path, sizeof out->path, "%s", *p ? p : "/");
    return 0;
}


/* Does the parameter starting at q (up to '&' or end) have this key? The parameter's key
 * is percent-decoded ('+' is a space) first, as ss_ws_query_each decodes it, so that
 * "%63ursor" is "cursor" for every helper. */
static int param_is(const char *q, const char *key) {
    const char *k = key;
    while (*q == '?') q++; /* as query_each: "??cursor" is "cursor" */
    for (;;) {
        if (*q == '=' || *q == '&' || *q == '\0') return *k == '\0';
        int c;
        if (*q == '+') {
            c = ' ', q++;
        } else if (*q == '%' && ss_hex_val((unsigned char)q[1]) >= 0 && ss_hex_val((unsigned char)q[2]) >= 0) {
            c = ss_hex_val((unsigned char)q[1]) * 16 + ss_hex_val((unsigned char)q[2]), q += 3;
        } else {
            c = (unsigned char)*q++;
        }
        if (c == 0) return *k == '\0'; /* "%00": query_each's C string ends there too */
        if (*k == '\0' || (unsigned char)*k != c) return 0;
        k++;
    }
}

/* The query after the first '?' of path, or NULL. A parameter's leading '?' are not part
 * of its key ("/p??a=1" and "/p?x&??a=1" have a parameter "a"), in every helper, so that
 * what strip() keeps reads back the same whichever parameter comes first. */
static const char *query_start(const char *path) {
    const char *q = strchr(path, '?');
    if (!q) return NULL;
    while (*q == '?') q++;
    return q;
}

int ss_ws_query_has(const char *path, const char *key) {
    const char *q = query_start(path);
    while (q) {
        if (*q == '&') q++;
        if (param_is(q, key)) return 1;
        q = strchr(q, '&');
    }
    return 0;
}

int ss_ws_query_strip(const char *path, const char *key, ss_buf *out) {
    ss_buf_reset(out);
    const char *q = strchr(path, '?');
    if (!q) return ss_buf_puts(out, path);
    if (ss_buf_append(out, path, (size_t)(q - path)) < 0) return -1;
    int first = 1;
    for (const char *p = query_start(path); *p;) {
        size_t n = strcspn(p, "&");
        if (n && !param_is(p, key)) {
            if (ss_buf_putc(out, first ? '?' : '&') < 0 || ss_buf_append(out, p, n) < 0) return -1;
            first = 0;
        }
        p += n;
        if (*p == '&') p++;
    }
    return 0;
}

static int put_encoded(ss_buf *out, const char *s) {
    static const char hex[] = "0123456789ABCDEF";
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == '*') {
            if (ss_buf_putc(out, (char)c) < 0) return -1;
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            if (ss_buf_append(out, e, 3) < 0) return -1;
        }
    }
    return 0;
}

int ss_ws_query_add(ss_buf *out, const char *key, const char *value) {
    const char *data = out->data ? out->data : "";
    char sep = strchr(data, '?') ? '&' : '?';
    if (ss_buf_putc(out, sep) < 0 || put_encoded(out, key) < 0 || ss_buf_putc(out, '=') < 0) return -1;
    return put_encoded(out, value);
}

/* Decodes src[0..n) into dst (which has room for n+1 bytes). */
static void decode(const char *src, size_t n, char *dst) {
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        if (src[i] == '+') {
            dst[j++] = ' ';
        } else if (src[i] == '%' && i + 2 < n && ss_hex_val((unsigned char)src[i + 1]) >= 0 &&
                   ss_hex_val((unsigned char)src[i + 2]) >= 0) {
            dst[j++] = (char)(ss_hex_val((unsigned char)src[i + 1]) * 16 + ss_hex_val((unsigned char)src[i + 2]));
            i += 2;
        } else {
            dst[j++] = src[i];
        }
    }
    dst[j] = '\0';
}

int ss_ws_query_each(const char *query, int (*fn)(const char *key, const char *value, void *ctx), void *ctx) {
    char key[SS_WS_URL_MAX], val[SS_WS_URL_MAX];
    for (const char *p = query; *p;) {
        while (*p == '?') p++; /* as param_is() */
        size_t n = strcspn(p, "&");
        if (n >= SS_WS_URL_MAX) return -1;
        if (n) {
            const char *eq = memchr(p, '=', n);
            size_t kn = eq ? (size_t)(eq - p) : n;
            decode(p, kn, key);
            if (eq) decode(eq + 1, n - kn - 1, val);
            else val[0] = '\0';
            int rc = fn(key, val, ctx);
            if (rc) return rc;
        }
        p += n;
        if (*p == '&') p++;
    }
    return 0;
}
