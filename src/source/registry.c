/* The source registry: maps "scheme:args" to a source implementation. The sources are
 * listed explicitly in sources.def, next to this file. */
#include "source/source.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define SS_SOURCE(name) extern const ss_source_vtbl ss_source_##name;
#include "source/sources.def"
#undef SS_SOURCE

static const ss_source_vtbl *const g_sources[] = {
#define SS_SOURCE(name) &ss_source_##name,
#include "source/sources.def"
#undef SS_SOURCE
    NULL};

const ss_source_vtbl *const *ss_source_list(void) { return g_sources; }

void ss_source_opts_init(ss_source_opts *o) {
    memset(o, 0, sizeof *o);
    o->connect_timeout_ms = 10000;
    o->read_timeout_ms = 60000;
    o->verify_cids = 1;
    o->did_resolve = 1;
}

int ss_source_fail(ss_source *s, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->errstr, sizeof s->errstr, fmt, ap);
    va_end(ap);
    s->err = SS_ERR_IO;
    return SS_SOURCE_ERR;
}

int ss_source_failc(ss_source *s, ss_err_class cls, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->errstr, sizeof s->errstr, fmt, ap);
    va_end(ap);
    s->err = cls > SS_ERR_NONE && cls < SS_ERR_NCLASSES ? (int)cls : SS_ERR_IO;
    return SS_SOURCE_ERR;
}

void ss_source_set_file_id(ss_source *s, const char *scheme, const char *path, const struct stat *st) {
    if (!strcmp(path, "-")) {
        snprintf(s->id, sizeof s->id, "%s:-", scheme);
        return;
    }
    char real[PATH_MAX];
    if (!realpath(path, real)) snprintf(real, sizeof real, "%s", path);
    if (st)
        snprintf(s->id, sizeof s->id, "%s:%.400s@%llu:%llu", scheme, real, (unsigned long long)st->st_dev,
                 (unsigned long long)st->st_ino);
    else
        snprintf(s->id, sizeof s->id, "%s:%.400s", scheme, real);
}

ss_source *ss_source_open(const char *spec, const ss_source_opts *opts, char *err, size_t errlen, ss_err_class *cls) {
    ss_err_class dummy;
    if (!cls) cls = &dummy;
    *cls = SS_ERR_USAGE;
    const char *colon = strchr(spec, ':');
    size_t n = colon ? (size_t)(colon - spec) : strlen(spec);
    const ss_source_vtbl *vt = NULL;
    for (size_t i = 0; g_sources[i]; i++)
        if (strlen(g_sources[i]->scheme) == n && strncmp(g_sources[i]->scheme, spec, n) == 0) vt = g_sources[i];
    if (!vt) {
        size_t off = (size_t)snprintf(err, errlen, "unknown source '%.*s'; known sources:", (int)n, spec);
        for (size_t i = 0; g_sources[i] && off < errlen; i++)
            off += (size_t)snprintf(err + off, errlen - off, " %s:", g_sources[i]->scheme);
        return NULL;
    }
    ss_source_opts defaults;
    if (!opts) {
        ss_source_opts_init(&defaults);
        opts = &defaults;
    }
    ss_source *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        *cls = SS_ERR_OOM;
        return NULL;
    }
    s->vt = vt;
    s->cursor_name = "index";
    if (vt->open(s, colon ? colon + 1 : "", opts) != 0) {
        snprintf(err, errlen, "%s: %s", vt->scheme, s->errstr[0] ? s->errstr : "cannot open");
        *cls = s->err > 0 && s->err < SS_ERR_NCLASSES ? (ss_err_class)s->err : SS_ERR_IO;
        if (s->impl && vt->close) vt->close(s);
        free(s);
        return NULL;
    }
    return s;
}

int ss_source_next(ss_source *s, ss_source_msg *msg, int timeout_ms) {
    msg->bad_reason = NULL;
    msg->gap = NULL;
    return s->vt->next(s, msg, timeout_ms);
}

int ss_source_seek(ss_source *s, int64_t cursor) {
    if (!s->vt->seek) {
        ss_source_fail(s, "%s: this source cannot resume from a cursor", s->vt->scheme);
        return -1;
    }
    return s->vt->seek(s, cursor);
}

int ss_source_resume(ss_source *s, int64_t cursor, const char *fingerprint, char *why, size_t whylen) {
    if (whylen) why[0] = '\0';
    if (!s->vt->resume) return ss_source_seek(s, cursor);
    return s->vt->resume(s, cursor, fingerprint ? fingerprint : "", why, whylen);
}

void ss_source_get_counters(ss_source *s, ss_source_counters *out) {
    memset(out, 0, sizeof *out);
    if (s && s->vt->counters) s->vt->counters(s, out);
}

void ss_source_close(ss_source *s) {
    if (!s) return;
    if (s->vt->close) s->vt->close(s);
    free(s);
}
