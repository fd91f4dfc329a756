/* A growable byte buffer: the one container used for building Redis values, Parquet
 * pages and JSON output. Growth is geometric; every append returns 0, or -1 when memory
 * runs out (the buffer is then unchanged). The data is always NUL-terminated so that it
 * can be handed to printf-style code, but the length is authoritative. */
#ifndef SS_BUF_H
#define SS_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    char *data;
    size_t len;
    size_t cap;
} ss_buf;

void ss_buf_init(ss_buf *b);
void ss_buf_free(ss_buf *b);
static inline void ss_buf_reset(ss_buf *b) {
    b->len = 0;
    if (b->data) b->data[0] = '\0';
}
int ss_buf_reserve(ss_buf *b, size_t extra);
int ss_buf_append(ss_buf *b, const void *p, size_t n);
int ss_buf_putc(ss_buf *b, char c);
int ss_buf_puts(ss_buf *b, const char *s);
int ss_buf_printf(ss_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends a JSON string literal (with quotes), escaping as RFC 8259 requires. */
int ss_buf_append_json_string(ss_buf *b, const char *s, size_t n);

#endif
