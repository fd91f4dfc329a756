/* The WebSocket protocol (RFC 6455), client side, as pure functions: the opening
 * handshake and the frame format. No I/O here: ws_client.c moves the bytes.
 *
 * Why our own framing: libwebsockets 4.1's client parses received frames one byte at a
 * time through a state machine (its server has a block fast path, its client does not);
 * measured, that was 78 % of the CPU of receiving Jetstream. Here a frame's payload is
 * handed on as one slice of the receive buffer, unmasked in place only if a (non
 * conforming) server masked it, so the common case costs one copy per message. */
#ifndef SS_WS_FRAME_H
#define SS_WS_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

#define SS_WS_HANDSHAKE_MAX 16384 /* response headers, bytes */
#define SS_WS_FRAME_MAX (64ull * 1024 * 1024) /* one frame's payload */

enum { SS_WS_OP_CONT = 0, SS_WS_OP_TEXT = 1, SS_WS_OP_BINARY = 2, SS_WS_OP_CLOSE = 8, SS_WS_OP_PING = 9, SS_WS_OP_PONG = 10 };

/* A random Sec-WebSocket-Key (base64 of 16 bytes, NUL-terminated). Returns 0 or -1. */
int ss_ws_make_key(char key[25]);
/* The Sec-WebSocket-Accept the server must answer for key. */
void ss_ws_accept_for(const char *key, char accept[29]);
/* Appends the GET upgrade request. */
int ss_ws_handshake_request(ss_buf *out, const char *host_header, const char *path, const char *key);
/* Looks for a complete response in buf. Returns the header length (> 0) when the
 * response is a valid 101 with the right accept value, 0 when more bytes are needed,
 * -1 with a message in err otherwise (e.g. "HTTP 404", bad accept, headers too long). */
long ss_ws_handshake_parse(const char *buf, size_t len, const char *accept, char *err, size_t errlen);

/* Incremental frame parser. Feed it received bytes; it calls back with payload slices. */
typedef struct {
    /* A payload slice of a data frame. opcode is the frame's (CONT for continuations);
     * frame_start/frame_end mark the slice's position; fin is the frame's FIN bit. */
    int (*on_data)(void *ctx, int opcode, int fin, int frame_start, int frame_end, const uint8_t *p, size_t n);
    /* A complete control frame (payload <= 125 bytes). */
    int (*on_control)(void *ctx, int opcode, const uint8_t *p, size_t n);
} ss_ws_frame_cb;

typedef struct {
    uint8_t hdr[14];
    size_t hdr_len;
    int in_payload;
    int opcode, fin, masked;
    uint8_t mask[4];
    uint64_t len, done;
    uint8_t ctl[125];
} ss_ws_parser;

void ss_ws_parser_init(ss_ws_parser *p);
/* Parses n bytes (data may be modified: unmasking is in place). Returns 0, the first
 * non-zero callback result, or -1 on a protocol error (message in err). */
int ss_ws_parse(ss_ws_parser *p, uint8_t *data, size_t n, const ss_ws_frame_cb *cb, void *ctx, char *err,
                size_t errlen);

/* Writes the header of an unmasked (server to client) frame with fin set into h (room
 * for 10 bytes); returns its length. */
size_t ss_ws_server_frame_header(uint8_t h[10], int opcode, uint64_t n);
/* Appends one masked client frame (fin set) to out. */
int ss_ws_frame_encode(ss_buf *out, int opcode, const void *payload, size_t n);

#endif
