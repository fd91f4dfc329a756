/* Errors: a class next to the message.
 *
 * A failing function says *what kind* of failure it was as well as what happened, so that
 * the caller (and in the end src/cli/, which turns a class into an exit code) never has to
 * guess from the words of a message: the words carry user paths and server text, and a
 * path containing "required" must not turn a missing file into a usage error. This is
 * hiredis's `err` (a code) beside `errstr` (the text).
 *
 * Conventions, in order of preference:
 *  - a context (ss_source, the parquet writer, the DataWriter, the ingester) has an
 *    `int err` holding an ss_err_class beside its `errstr`;
 *  - a function writing into a caller's (char *err, size_t errlen) pair and returning int
 *    returns -(int)class on failure (`return ss_fail(err, errlen, SS_ERR_AUTH, ...)`), so a
 *    plain -1 still means SS_ERR_IO and `if (rc != 0) return rc;` propagates the class;
 *  - a function returning a pointer takes an `ss_err_class *cls` (may be NULL) beside the pair.
 *
 * The message of an error that names a path puts the cause before the path, so a long path
 * cut off by a buffer never takes the cause with it. */
#ifndef SS_UTIL_ERR_H
#define SS_UTIL_ERR_H

#include <stddef.h>

typedef enum {
    SS_ERR_NONE = 0,    /* no error */
    SS_ERR_IO = 1,      /* a file, disk, socket or server failed; the default (a plain -1) */
    SS_ERR_USAGE,       /* a flag, option or argument is wrong: the user must change the command */
    SS_ERR_PROTOCOL,    /* a peer (Redis, a relay, Jetstream) answered outside its protocol */
    SS_ERR_AUTH,        /* a password is missing or wrong (Redis NOAUTH, WRONGPASS) */
    SS_ERR_PERMISSION,  /* refused: Redis ACL NOPERM, a file mode (EACCES, EPERM, EROFS) */
    SS_ERR_OOM,         /* out of memory: ours (ENOMEM) or Redis's maxmemory (OOM) */
    SS_ERR_FENCED,      /* another writer owns what this one tried to write */
    SS_ERR_DATA,        /* the input or the stored state is malformed or inconsistent */
    SS_ERR_NCLASSES
} ss_err_class;

/* "io", "usage", ...; "none" for SS_ERR_NONE, "unknown" out of range. */
const char *ss_err_class_name(ss_err_class c);
/* The class of a failed system call's errno: EACCES/EPERM/EROFS -> permission,
 * ENOMEM -> oom, everything else (ENOENT, ENOSPC, EIO, ...) -> io. */
ss_err_class ss_err_class_of_errno(int e);
/* The class carried by an int return value: NONE for rc >= 0, IO for -1 (and anything out
 * of range), else -rc. */
ss_err_class ss_err_class_of_rc(int rc);
/* The int return value of class c (the inverse): -(int)c, -1 for NONE/out of range. */
int ss_err_rc(ss_err_class c);

/* printf into err (when err and errlen are non-zero); always NUL-terminated. */
void ss_seterr(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* ss_seterr, then returns ss_err_rc(c): `return ss_fail(err, errlen, SS_ERR_DATA, "...")`. */
int ss_fail(char *err, size_t errlen, ss_err_class c, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#endif
