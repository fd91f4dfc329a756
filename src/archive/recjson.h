/* A minimal pull scanner over one JSON value, for picking a few fields out of a record.
 *
 * The event decoder has already checked that the whole event is valid JSON and UTF-8; the
 * archive only needs to walk a record object, descend into the handful of keys it maps,
 * and skip everything else as fast as possible. A DOM would allocate per node and visit
 * everything; this scanner allocates nothing, returns strings as slices of the input when
 * they hold no escapes, and unescapes into a caller-reserved arena otherwise (an unescaped
 * string is never longer than its JSON form, so reserving the record's length once per
 * record is enough and the arena never moves during a scan).
 *
 * It is still defensive: on malformed input it sets err and every later call fails, and
 * nesting is limited. Internal to src/archive. */
#ifndef SS_AR_RECJSON_H
#define SS_AR_RECJSON_H

#include <stddef.h>

#include "event/event.h"

typedef struct {
    const char *p, *end;
    char *arena;      /* unescaped strings go here; capacity >= input length */
    size_t arena_len;
    int depth, max_depth;
    int err;
} ss_ar_scan;

void ss_ar_scan_init(ss_ar_scan *c, const char *p, size_t n, char *arena, int max_depth);

/* Type of the next value after whitespace: '{', '[', '"', or 'x' for anything else
 * (number, true, false, null); 0 at end of input or after an error. */
char ss_ar_scan_peek(ss_ar_scan *c);
/* Reads a string value (the next value must be a string). 0 or -1. */
int ss_ar_scan_string(ss_ar_scan *c, ss_str *out);
/* Skips one value of any type. 0 or -1. */
int ss_ar_scan_skip(ss_ar_scan *c);

/* Object iteration: ss_ar_scan_obj_begin() consumes '{'; then each ss_ar_scan_obj_next()
 * returns 1 with the member's key (the scanner is then before its value, which the caller
 * must read or skip), 0 after the closing '}', -1 on error. */
int ss_ar_scan_obj_begin(ss_ar_scan *c);
int ss_ar_scan_obj_next(ss_ar_scan *c, ss_str *key);
/* Array iteration: begin consumes '['; next returns 1 before each element, 0 after ']'. */
int ss_ar_scan_arr_begin(ss_ar_scan *c);
int ss_ar_scan_arr_next(ss_ar_scan *c);

static inline int ss_ar_str_eq(ss_str s, const char *lit, size_t n) {
    return s.n == n && __builtin_memcmp(s.p, lit, n) == 0;
}
#define SS_AR_KEY(s, lit) ss_ar_str_eq((s), lit, sizeof(lit) - 1)

#endif
