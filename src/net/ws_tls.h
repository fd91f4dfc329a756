/* TLS for the WebSocket client, on memory BIOs (OpenSSL).
 *
 * libwebsockets 4.1 cannot start TLS on a RAW client connection (it tries to create the
 * TLS session before the socket is connected and fails), and its WebSocket client is
 * the slow path we avoid (ws_frame.h). So the connection is a plain RAW socket and TLS
 * runs here: received ciphertext is fed in, plaintext comes out, and whatever OpenSSL
 * wants to send is taken out and written to the socket by the caller. No I/O here.
 *
 * Verification: the system CAs plus an optional extra CA file; the peer name is checked
 * against the URL host (as an IP address when it is one). insecure skips both (tests). */
#ifndef SS_WS_TLS_H
#define SS_WS_TLS_H

#include <stddef.h>

#include "util/buf.h"

typedef struct ss_ws_tls_ctx ss_ws_tls_ctx; /* per client: the SSL_CTX with its CAs */
typedef struct ss_ws_tls ss_ws_tls;         /* per connection */

ss_ws_tls_ctx *ss_ws_tls_ctx_new(const char *ca_file, int insecure, char *err, size_t errlen);
void ss_ws_tls_ctx_free(ss_ws_tls_ctx *x);

ss_ws_tls *ss_ws_tls_new(ss_ws_tls_ctx *x, const char *host, char *err, size_t errlen);
void ss_ws_tls_free(ss_ws_tls *t);
/* Ciphertext received from the socket. 0 or -1 (out of memory). */
int ss_ws_tls_feed(ss_ws_tls *t, const void *p, size_t n);
/* Advances the handshake: 1 done, 0 needs more bytes, -1 failed (err says why). */
int ss_ws_tls_handshake(ss_ws_tls *t, char *err, size_t errlen);
/* Plaintext out: bytes read (> 0), 0 when nothing more is available now, -1 when the
 * session failed or the peer closed it (err). */
long ss_ws_tls_read(ss_ws_tls *t, void *buf, size_t cap, char *err, size_t errlen);
/* Plaintext in (to send). 0 or -1. */
int ss_ws_tls_write(ss_ws_tls *t, const void *p, size_t n);
/* Appends the ciphertext waiting to be sent to out. Returns the bytes appended, or -1. */
long ss_ws_tls_take(ss_ws_tls *t, ss_buf *out);

#endif
