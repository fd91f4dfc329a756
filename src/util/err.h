/* Formatting an error into a caller's buffer (the char *err, size_t errlen pair of the
 * functions that have no context of their own to carry it, as in ss_ar_file_open). */
#ifndef SS_UTIL_ERR_H
#define SS_UTIL_ERR_H

#include <stddef.h>

/* printf into err (when err and errlen are non-zero); always NUL-terminated. */
void ss_seterr(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
