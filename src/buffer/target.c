/* Resolves configuration to a Redis target. See target.h. */
#include "buffer/target.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ss_redis_target {
    ss_redis_url url;
    ss_embedded *emb;
    ss_acl_role role;
    int timeout_ms;
    char desc[SS_REDIS_PATH_MAX + 128];
};

ss_redis_target *ss_redis_target_open(const ss_target_opts *o, char *err, size_t errlen, ss_err_class *cls) {
    ss_err_class dummy;
    if (!cls) cls = &dummy;
    *cls = SS_ERR_IO;
    ss_redis_target *t = calloc(1, sizeof *t);
    if (!t) {
        snprintf(err, errlen, "out of memory");
        *cls = SS_ERR_OOM;
        return NULL;
    }
    t->timeout_ms = o->connect_timeout_ms > 0 ? o->connect_timeout_ms : 5000;
    char addr[SS_REDIS_PATH_MAX + 64];
    if (o->url && o->url[0]) {
        if (ss_redis_url_parse(o->url, &t->url, err, errlen) != 0) {
            *cls = SS_ERR_USAGE;
            goto fail;
        }
        if (o->password_file && o->password_file[0]) {
            int rc = ss_redis_password_file_read(o->password_file, t->url.password, sizeof t->url.password, err, errlen);
            if (rc != 0) {
                *cls = ss_err_class_of_rc(rc);
                goto fail;
            }
            t->url.has_password = 1;
        }
        ss_redis_url_describe(&t->url, t->desc, sizeof t->desc);
    } else {
        ss_embedded_opts eo;
        ss_embedded_opts_init(&eo);
        if (o->data_dir && o->data_dir[0]) eo.data_dir = o->data_dir;
        if (o->maxmemory > 0) eo.maxmemory = o->maxmemory;
        if (getenv("SKYSPOOL_EMBEDDED_TCP")) eo.force_tcp = 1;
        eo.prefix = o->prefix;
        t->emb = ss_embedded_start(&eo, err, errlen);
        if (!t->emb) goto fail;
        t->role = o->role < SS_ACL__COUNT ? o->role : SS_ACL_ADMIN;
        ss_embedded_url_as(t->emb, t->role, &t->url);
        ss_redis_url_describe(&t->url, addr, sizeof addr);
        snprintf(t->desc, sizeof t->desc, "embedded redis-server (%s)", addr);
    }
    return t;
fail:
    free(t);
    return NULL;
}

redisContext *ss_redis_target_connect(ss_redis_target *t, char *err, size_t errlen, ss_err_class *cls) {
    return ss_redis_connect(&t->url, t->timeout_ms, err, errlen, cls);
}

redisContext *ss_redis_target_connect_as(ss_redis_target *t, ss_acl_role role, char *err, size_t errlen,
                                         ss_err_class *cls) {
    if (!t->emb || role == t->role) return ss_redis_target_connect(t, err, errlen, cls);
    ss_redis_url u;
    ss_embedded_url_as(t->emb, role, &u);
    redisContext *c = ss_redis_connect(&u, t->timeout_ms, err, errlen, cls);
    memset(u.password, 0, sizeof u.password);
    return c;
}

const char *ss_redis_target_user(const ss_redis_target *t, ss_acl_role role) {
    return t->emb ? ss_acl_user(role) : t->url.user;
}

const ss_redis_url *ss_redis_target_url(const ss_redis_target *t) { return &t->url; }
const char *ss_redis_target_describe(const ss_redis_target *t) { return t->desc; }
int ss_redis_target_is_embedded(const ss_redis_target *t) { return t->emb != NULL; }

int ss_redis_target_close(ss_redis_target *t) {
    if (!t) return 0;
    int rc = t->emb ? ss_embedded_stop(t->emb) : 0;
    memset(t->url.password, 0, sizeof t->url.password);
    free(t);
    return rc;
}
