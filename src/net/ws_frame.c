/* See ws_frame.h. */
#include "net/ws_frame.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

int ss_ws_make_key(char key[25]) {
    unsigned char raw[16];
    if (RAND_bytes(raw, sizeof raw) != 1) return -1;
    EVP_EncodeBlock((unsigned char *)key, raw, sizeof raw);
    return 0;
}

void ss_ws_accept_for(const char *key, char accept[29]) {
    char buf[128];
    int n = snprintf(buf, sizeof buf, "%s%s", key, WS_GUID);
    unsigned char md[SHA_DIGEST_LENGTH];
    SHA1((const unsigned char *)buf, (size_t)n, md);
    EVP_EncodeBlock((unsigned char *)accept, md, sizeof md);
}

int ss_ws_handshake_request(ss_buf *out, const char *host_header, const char *path, const char *key) {
    return ss_buf_printf(out,
                         "GET %s HTTP/1.1\r\n"
                         "Host: %s\r\n"
                         "Upgrade: websocket\r\n"
                         "Connection: Upgrade\r\n"
                         "Sec-WebSocket-Key: %s\r\n"
                         "Sec-WebSocket-Version: 13\r\n"
                         "User-Agent: skyspool/" SKYSPOOL_VERSION "\r\n"
                         "\r\n",
                         path, host_header, key);
}

/* The value of header `name` in the block [p, end), trimmed; NULL if absent. */
static const char *header_value(const char *p, const char *end, const char *name, size_t *vlen) {
    size_t nl = strlen(name);
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol) eol = end;
        if ((size_t)(eol - p) > nl && p[nl] == ':' && strncasecmp(p, name, nl) == 0) {
            const char *v = p + nl + 1, *ve = eol;
            while (v < ve && (*v == ' ' || *v == '\t')) v++;
            while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t')) ve--;
            *vlen = (size_t)(ve - v);
            return v;
        }
        p = eol + 1;
    }
    return NULL;
}

long ss_ws_handshake_parse(const char *buf, size_t len, const char *accept, char *err, size_t errlen) {
    const char *end = NULL;
    for (size_t i = 3; i < len; i++)
        if (buf[i] == '\n' && buf[i - 1] == '\r' && buf[i - 2] == '\n' && buf[i - 3] == '\r') {
            end = buf + i + 1;
            break;
        }
    if (!end) {
        if (len > SS_WS_HANDSHAKE_MAX) {
            snprintf(err, errlen, "handshake response headers over %d bytes", SS_WS_HANDSHAKE_MAX);
            return -1;
        }
        return 0;
    }
    int status = 0;
    if (sscanf(buf, "HTTP/1.%*1[01] %3d", &status) != 1) {
        snprintf(err, errlen, "not an HTTP response to the upgrade request");
        return -1;
    }
    if (status != 101) {
        const char *eol = memchr(buf, '\r', (size_t)(end - buf));
        snprintf(err, errlen, "upgrade refused: %.*s", (int)((eol ? eol : end) - buf > 100 ? 100 : (eol ? eol : end) - buf),
                 buf);
        return -1;
    }
    size_t vl;
    const char *first_eol = memchr(buf, '\n', (size_t)(end - buf));
    const char *hdrs = first_eol ? first_eol + 1 : end;
    const char *v = header_value(hdrs, end, "Sec-WebSocket-Accept", &vl);
    if (!v || vl != strlen(accept) || memcmp(v, accept, vl) != 0) {
        snprintf(err, errlen, "bad or missing Sec-WebSocket-Accept in the upgrade response");
        return -1;
    }
    v = header_value(hdrs, end, "Upgrade", &vl);
    if (!v || vl != 9 || strncasecmp(v, "websocket", 9) != 0) {
        snprintf(err, errlen, "upgrade response without 'Upgrade: websocket'");
        return -1;
    }
    return (long)(end - buf);
}

void ss_ws_parser_init(ss_ws_parser *p) { memset(p, 0, sizeof *p); }

static void unmask(uint8_t *d, size_t n, const uint8_t mask[4], uint64_t off) {
    for (size_t i = 0; i < n; i++) d[i] ^= mask[(off + i) & 3];
}

/* Header length implied by the first two bytes. */
static size_t header_need(const uint8_t *h) {
    size_t need = 2;
    uint8_t l7 = h[1] & 0x7f;
    if (l7 == 126) need += 2;
    else if (l7 == 127) need += 8;
    if (h[1] & 0x80) need += 4;
    return need;
}

int ss_ws_parse(ss_ws_parser *p, uint8_t *data, size_t n, const ss_ws_frame_cb *cb, void *ctx, char *err,
                size_t errlen) {
    size_t i = 0;
    while (i < n) {
        if (!p->in_payload) {
            /* Collect the header. */
            while (i < n && (p->hdr_len < 2 || p->hdr_len < header_need(p->hdr))) p->hdr[p->hdr_len++] = data[i++];
            if (p->hdr_len < 2 || p->hdr_len < header_need(p->hdr)) return 0;
            const uint8_t *h = p->hdr;
            if (h[0] & 0x70) {
                snprintf(err, errlen, "frame with reserved bits set (no extension was negotiated)");
                return -1;
            }
            p->fin = h[0] >> 7;
            p->opcode = h[0] & 0x0f;
            p->masked = h[1] >> 7;
            uint64_t len = h[1] & 0x7f;
            size_t off = 2;
            if (len == 126) {
                len = (uint64_t)h[2] << 8 | h[3];
                off = 4;
            } else if (len == 127) {
                len = 0;
                for (int k = 0; k < 8; k++) len = len << 8 | h[2 + k];
                off = 10;
            }
            if (p->masked) memcpy(p->mask, h + off, 4);
            int control = p->opcode >= 8;
            if ((p->opcode > 2 && p->opcode < 8) || p->opcode > 10) {
                snprintf(err, errlen, "frame with unknown opcode %d", p->opcode);
                return -1;
            }
            if (control && (len > 125 || !p->fin)) {
                snprintf(err, errlen, "bad control frame (fragmented or over 125 bytes)");
                return -1;
            }
            if (len > SS_WS_FRAME_MAX) {
                snprintf(err, errlen, "frame of %llu bytes is over the %llu-byte limit", (unsigned long long)len,
                         (unsigned long long)SS_WS_FRAME_MAX);
                return -1;
            }
            p->len = len;
            p->done = 0;
            p->in_payload = 1;
            p->hdr_len = 0;
            if (len == 0 && !control) {
                p->in_payload = 0;
                int rc = cb->on_data(ctx, p->opcode, p->fin, 1, 1, data + i, 0);
                if (rc) return rc;
                continue;
            }
        }
        size_t avail = n - i;
        uint64_t left = p->len - p->done;
        size_t take = left < avail ? (size_t)left : avail;
        if (p->masked) unmask(data + i, take, p->mask, p->done);
        int rc = 0;
        if (p->opcode >= 8) {
            memcpy(p->ctl + p->done, data + i, take);
            if (p->done + take == p->len) rc = cb->on_control(ctx, p->opcode, p->ctl, (size_t)p->len);
        } else {
            rc = cb->on_data(ctx, p->opcode, p->fin, p->done == 0, p->done + take == p->len, data + i, take);
        }
        p->done += take;
        i += take;
        if (p->done == p->len) p->in_payload = 0;
        if (rc) return rc;
    }
    return 0;
}

size_t ss_ws_server_frame_header(uint8_t h[10], int opcode, uint64_t n) {
    size_t hl = 0;
    h[hl++] = (uint8_t)(0x80 | opcode);
    if (n < 126) {
        h[hl++] = (uint8_t)n;
    } else if (n < 65536) {
        h[hl++] = 126;
        h[hl++] = (uint8_t)(n >> 8);
        h[hl++] = (uint8_t)n;
    } else {
        h[hl++] = 127;
        for (int k = 7; k >= 0; k--) h[hl++] = (uint8_t)(n >> (8 * k));
    }
    return hl;
}

int ss_ws_frame_encode(ss_buf *out, int opcode, const void *payload, size_t n) {
    uint8_t h[14];
    size_t hl = 0;
    h[hl++] = (uint8_t)(0x80 | opcode);
    if (n < 126) {
        h[hl++] = (uint8_t)(0x80 | n);
    } else if (n < 65536) {
        h[hl++] = 0x80 | 126;
        h[hl++] = (uint8_t)(n >> 8);
        h[hl++] = (uint8_t)n;
    } else {
        h[hl++] = 0x80 | 127;
        for (int k = 7; k >= 0; k--) h[hl++] = (uint8_t)((uint64_t)n >> (8 * k));
    }
    uint8_t mask[4];
    if (RAND_bytes(mask, 4) != 1) return -1;
    memcpy(h + hl, mask, 4);
    hl += 4;
    if (ss_buf_append(out, h, hl) < 0 || ss_buf_reserve(out, n) < 0) return -1;
    const uint8_t *src = payload;
    uint8_t *dst = (uint8_t *)out->data + out->len;
    for (size_t i = 0; i < n; i++) dst[i] = src[i] ^ mask[i & 3];
    out->len += n;
    out->data[out->len] = '\0';
    return 0;
}
