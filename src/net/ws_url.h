/* WebSocket URLs and query strings: pure string work, no I/O.
 *
 * The live sources build their request path on every (re)connect: the user's URL, plus
 * parameters the source adds (wantedCollections, compress, cursor). The replay server
 * reads the same parameters back. Keeping this apart from libwebsockets lets it be unit
 * tested on its own and keeps the I/O code short. */
#ifndef SS_WS_URL_H
#define SS_WS_URL_H

#include <stddef.h>

#include "util/buf.h"

#define SS_WS_URL_MAX 4096  /* whole URL, bytes */
#define SS_WS_HOST_MAX 256

typedef struct {
    int tls;                  /* wss:// */
    char host[SS_WS_HOST_MAX]; /* without brackets for IPv6 literals */
    int port;                 /* explicit or 80/443 */
    char path[SS_WS_URL_MAX]; /* path and query, always starting with '/' */
} ss_ws_url;

/* Parses "ws://host[:port][/path][?query]" or "wss://...". IPv6 literals go in brackets
 * (letters, digits and ".:%-_" only, so nothing but a host reaches the Host header).
 * Returns 0, or -1 with a message saying what is wrong. */
int ss_ws_url_parse(const char *url, ss_ws_url *out, char *err, size_t errlen);

/* Query helpers over a "path?query" string. The query starts after the first '?'. Keys
 * are compared percent-decoded and without leading '?' ("/p??a=1" and "/p?%61=1" have the
 * parameter "a"), the same in all four helpers. */
/* Returns 1 when the query holds at least one `key` parameter. */
int ss_ws_query_has(const char *path, const char *key);
/* Copies path to out without any `key` parameters. Returns 0 or -1 (out of memory). */
int ss_ws_query_strip(const char *path, const char *key, ss_buf *out);
/* Appends "?key=value" or "&key=value" to a path in out (percent-encoding the value). */
int ss_ws_query_add(ss_buf *out, const char *key, const char *value);

/* Calls fn(key, value, ctx) for each "key=value" of a raw query string (the part after
 * '?'), percent-decoded ('+' is a space). A parameter without '=' has value "".
 * Stops and returns fn's value when it is non-zero; returns -1 when a parameter is
 * longer than SS_WS_URL_MAX. */
int ss_ws_query_each(const char *query, int (*fn)(const char *key, const char *value, void *ctx), void *ctx);

#endif
