/* See buf.h. */
#include "util/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ss_buf_init(ss_buf *b) { b->data = NULL, b->len = 0, b->cap = 0; }

void ss_buf_free(ss_buf *b) {
    free(b->data);
    ss_buf_init(b);
}

int ss_buf_reserve(ss_buf *b, size_t extra) {
    if (extra > SIZE_MAX - b->len - 1) return -1;
    size_t need = b->len + extra + 1;
    if (need <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    char *p = realloc(b->data, cap);
    if (!p) return -1;
    b->data = p;
    b->cap = cap;
    return 0;
}

int ss_buf_append(ss_buf *b, const void *p, size_t n) {
    if (ss_buf_reserve(b, n) < 0) return -1;
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int ss_buf_putc(ss_buf *b, char c) { return ss_buf_append(b, &c, 1); }
int ss_buf_puts(ss_buf *b, const char *s) { return ss_buf_append(b, s, strlen(s)); }

int ss_buf_printf(ss_buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || ss_buf_reserve(b, (size_t)n) < 0) return -1;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

int ss_buf_append_json_string(ss_buf *b, const char *s, size_t n) {
    static const char hex[] = "0123456789abcdef";
    if (ss_buf_reserve(b, n + 2) < 0) return -1;
    b->data[b->len++] = '"';
    size_t run = 0; /* start of the pending run of bytes that need no escaping */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        if (ss_buf_append(b, s + run, i - run) < 0) return -1;
        char esc[6] = {'\\', 0, 0, 0, 0, 0};
        size_t elen = 2;
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        default:
            esc[1] = 'u', esc[2] = '0', esc[3] = '0', esc[4] = hex[c >> 4], esc[5] = hex[c & 15];
            elen = 6;
        }
        if (ss_buf_append(b, esc, elen) < 0) return -1;
        run = i + 1;
    }
    if (ss_buf_append(b, s + run, n - run) < 0) return -1;
    return ss_buf_putc(b, '"');
}
