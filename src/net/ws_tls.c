/* See ws_tls.h. */
#include "net/ws_tls.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ss_ws_tls_ctx {
    SSL_CTX *ctx;
};

struct ss_ws_tls {
    SSL *ssl;
    BIO *rbio, *wbio; /* owned by ssl */
};

static void ssl_error(char *err, size_t errlen, const char *what) {
    unsigned long e = ERR_get_error();
    char buf[200] = "";
    if (e) ERR_error_string_n(e, buf, sizeof buf);
    snprintf(err, errlen, "%s%s%s", what, buf[0] ? ": " : "", buf);
    ERR_clear_error();
}

ss_ws_tls_ctx *ss_ws_tls_ctx_new(const char *ca_file, int insecure, char *err, size_t errlen) {
    ss_ws_tls_ctx *x = calloc(1, sizeof *x);
    if (!x) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    x->ctx = SSL_CTX_new(TLS_client_method());
    if (!x->ctx) {
        ssl_error(err, errlen, "cannot create a TLS context");
        free(x);
        return NULL;
    }
    SSL_CTX_set_min_proto_version(x->ctx, TLS1_2_VERSION);
    if (insecure) {
        SSL_CTX_set_verify(x->ctx, SSL_VERIFY_NONE, NULL);
    } else {
        SSL_CTX_set_verify(x->ctx, SSL_VERIFY_PEER, NULL);
        SSL_CTX_set_default_verify_paths(x->ctx);
        if (ca_file && SSL_CTX_load_verify_locations(x->ctx, ca_file, NULL) != 1) {
            char what[300];
            snprintf(what, sizeof what, "cannot load the CA file %.200s", ca_file);
            ssl_error(err, errlen, what);
            ss_ws_tls_ctx_free(x);
            return NULL;
        }
    }
    return x;
}

void ss_ws_tls_ctx_free(ss_ws_tls_ctx *x) {
    if (!x) return;
    SSL_CTX_free(x->ctx);
    free(x);
}

ss_ws_tls *ss_ws_tls_new(ss_ws_tls_ctx *x, const char *host, char *err, size_t errlen) {
    ss_ws_tls *t = calloc(1, sizeof *t);
    if (!t) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    t->ssl = SSL_new(x->ctx);
    t->rbio = BIO_new(BIO_s_mem());
    t->wbio = BIO_new(BIO_s_mem());
    if (!t->ssl || !t->rbio || !t->wbio) {
        BIO_free(t->rbio);
        BIO_free(t->wbio);
        SSL_free(t->ssl);
        free(t);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    SSL_set_bio(t->ssl, t->rbio, t->wbio);
    SSL_set_connect_state(t->ssl);
    static const unsigned char alpn[] = "\x08http/1.1";
    SSL_set_alpn_protos(t->ssl, alpn, sizeof alpn - 1);
    unsigned char addr[16];
    int is_ip = inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1;
    if (is_ip) {
        X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(t->ssl), host);
    } else {
        SSL_set_tlsext_host_name(t->ssl, host);
        SSL_set1_host(t->ssl, host);
    }
    return t;
}

void ss_ws_tls_free(ss_ws_tls *t) {
    if (!t) return;
    SSL_free(t->ssl); /* frees both BIOs */
    free(t);
}

int ss_ws_tls_feed(ss_ws_tls *t, const void *p, size_t n) {
    return n == 0 || BIO_write(t->rbio, p, (int)n) == (int)n ? 0 : -1;
}

int ss_ws_tls_handshake(ss_ws_tls *t, char *err, size_t errlen) {
    int rc = SSL_do_handshake(t->ssl);
    if (rc == 1) return 1;
    int e = SSL_get_error(t->ssl, rc);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return 0;
    long v = SSL_get_verify_result(t->ssl);
    if (v != X509_V_OK) {
        snprintf(err, errlen, "TLS certificate not accepted: %s", X509_verify_cert_error_string(v));
        ERR_clear_error();
    } else {
        ssl_error(err, errlen, "TLS handshake failed");
    }
    return -1;
}

long ss_ws_tls_read(ss_ws_tls *t, void *buf, size_t cap, char *err, size_t errlen) {
    int n = SSL_read(t->ssl, buf, (int)(cap > 1 << 30 ? 1 << 30 : cap));
    if (n > 0) return n;
    int e = SSL_get_error(t->ssl, n);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return 0;
    if (e == SSL_ERROR_ZERO_RETURN) snprintf(err, errlen, "the server ended the TLS session");
    else ssl_error(err, errlen, "TLS read failed");
    return -1;
}

int ss_ws_tls_write(ss_ws_tls *t, const void *p, size_t n) {
    if (n == 0) return 0;
    /* Memory BIOs grow as needed, so a write never blocks halfway. */
    return SSL_write(t->ssl, p, (int)n) == (int)n ? 0 : -1;
}

long ss_ws_tls_take(ss_ws_tls *t, ss_buf *out) {
    long total = 0;
    char tmp[16384];
    int n;
    while ((n = BIO_read(t->wbio, tmp, sizeof tmp)) > 0) {
        if (ss_buf_append(out, tmp, (size_t)n) < 0) return -1;
        total += n;
    }
    return total;
}
