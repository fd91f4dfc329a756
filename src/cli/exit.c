/* The one table from error class (util/err.h) to exit status. Every command ends through
 * it (ss_exit_code, ss_cmd_error), so the same failure exits with the same status from
 * every command, and a script or a service manager can tell "fix the password" from
 * "the disk is full" without reading the message. 1 stays the status of a plain runtime
 * failure (io, the default class) and 2 that of a usage error, as before; the other
 * classes were 1 and now say more. README.md lists the table; keep them together. */
#include <stdarg.h>
#include <stdio.h>

#include "cli/cli.h"

static const int g_exit[SS_ERR_NCLASSES] = {
    [SS_ERR_NONE] = 0,     [SS_ERR_IO] = 1,         [SS_ERR_USAGE] = 2, [SS_ERR_DATA] = 3,
    [SS_ERR_PROTOCOL] = 4, [SS_ERR_AUTH] = 5,       [SS_ERR_PERMISSION] = 6,
    [SS_ERR_OOM] = 7,      [SS_ERR_FENCED] = 8,
};

int ss_exit_code(ss_err_class c) { return (int)c >= 0 && c < SS_ERR_NCLASSES ? g_exit[c] : 1; }

int ss_cmd_error(const char *cmd, ss_err_class c, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "skyspool %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    if (c == SS_ERR_USAGE) fprintf(stderr, "Run 'skyspool %s --help' for usage.\n", cmd);
    return ss_exit_code(c == SS_ERR_NONE ? SS_ERR_IO : c);
}
