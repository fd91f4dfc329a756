/* ss_str: a byte slice (pointer + length), the one string view type shared by the event
 * model and the JSON scanner. It lives in util so that util code need not include the
 * event model; event.h re-exports it. Slices are not NUL-terminated. */
#ifndef SS_STR_H
#define SS_STR_H

#include <stddef.h>
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

#endif
