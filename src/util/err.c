/* See err.h. */
#include "util/err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

static const char *const g_names[SS_ERR_NCLASSES] = {
    [SS_ERR_NONE] = "none",         [SS_ERR_IO] = "io",     [SS_ERR_USAGE] = "usage",   [SS_ERR_PROTOCOL] = "protocol",
    [SS_ERR_AUTH] = "auth",         [SS_ERR_PERMISSION] = "permission", [SS_ERR_OOM] = "oom",
    [SS_ERR_FENCED] = "fenced",     [SS_ERR_DATA] = "data",
};

const char *ss_err_class_name(ss_err_class c) {
    return (int)c >= 0 && c < SS_ERR_NCLASSES ? g_names[c] : "unknown";
}

ss_err_class ss_err_class_of_errno(int e) {
    switch (e) {
    case EACCES:
    case EPERM:
    case EROFS: return SS_ERR_PERMISSION;
    case ENOMEM: return SS_ERR_OOM;
    default: return SS_ERR_IO;
    }
}

ss_err_class ss_err_class_of_rc(int rc) {
    if (rc >= 0) return SS_ERR_NONE;
    if (rc < -(int)(SS_ERR_NCLASSES - 1)) return SS_ERR_IO;
    return (ss_err_class)-rc;
}

int ss_err_rc(ss_err_class c) { return (int)c > 0 && c < SS_ERR_NCLASSES ? -(int)c : -1; }

void ss_seterr(char *err, size_t errlen, const char *fmt, ...) {
    if (!err || !errlen) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

int ss_fail(char *err, size_t errlen, ss_err_class c, const char *fmt, ...) {
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return ss_err_rc(c);
}
