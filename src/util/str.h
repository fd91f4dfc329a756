/* ss_str: a byte slice (pointer + length), the one string view type shared by the event
 * model and the JSON scanner. It lives in util so that util code need not include the
 * event model; event.h re-exports it. Slices are not NUL-terminated. */
#ifndef SS_STR_H
#define SS_STR_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct {
    const char *p; /* not NUL-terminated; NULL when absent */
    size_t n;
} ss_str;

/* 1 when the slice equals the NUL-terminated string s. */
static inline int ss_str_eq(ss_str a, const char *s) {
    size_t n = strlen(s);
    return a.p && a.n == n && memcmp(a.p, s, n) == 0;
}

/* 1 when s is 1..max bytes of [A-Za-z0-9._-] not starting with '.' or '-': usable as a
 * file name and inside keys as it is (no separator, no hidden file, nothing that looks
 * like an option). Archive part-file names use it. */
static inline int ss_safe_name(const char *s, size_t max) {
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > max || s[0] == '.' || s[0] == '-') return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == '-'))
            return 0;
    }
    return 1;
}

/* The value of one hex digit (either case), or -1. */
static inline int ss_hex_val(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Writes v in decimal at p, which has room for 20 bytes; returns the length. No NUL. */
static inline size_t ss_fmt_i64(char *p, int64_t v) {
    char tmp[20];
    size_t n = 0;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0) tmp[n++] = '-';
    for (size_t i = 0; i < n; i++) p[i] = tmp[n - 1 - i];
    return n;
}

#endif
