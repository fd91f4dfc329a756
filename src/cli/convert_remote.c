/* See convert_remote.h. One S3 context for the whole run (convert is single-threaded);
 * the keys this run wrote are kept, sorted at the end, to tell stale objects of the same
 * tag from this run's own. */
#include "cli/convert_remote.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct ss_convert_remote {
    ss_s3 *s3;
    char url[SS_S3_MAX_URL];
    char bucket[SS_S3_MAX_BUCKET + 1];
    char prefix[SS_S3_MAX_KEY + 1]; /* "" or "a/b", without slashes at either end */
    char stage[4096];
    size_t part_size;
    char **keys; /* written by this run */
    size_t nkeys, capkeys;
    uint64_t objects, bytes;
    int failed;
    ss_s3_errcode code;
    char errstr[2048];
};

__attribute__((format(printf, 3, 4))) static int fail(ss_convert_remote *r, ss_s3_errcode code, const char *fmt, ...) {
    r->failed = 1;
    r->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->errstr, sizeof r->errstr, fmt, ap);
    va_end(ap);
    return -1;
}

ss_convert_remote *ss_convert_remote_new(const char *url, const ss_s3_config *cfg, size_t part_size, const char *stage,
                                         ss_s3_errcode *code, char *err, size_t errlen) {
    *code = SS_S3_ERR_LOCAL;
    ss_convert_remote *r = calloc(1, sizeof *r);
    if (!r) return snprintf(err, errlen, "out of memory"), NULL;
    if (ss_s3_url_parse(url, r->bucket, sizeof r->bucket, r->prefix, sizeof r->prefix, err, errlen) != 0) {
        free(r);
        return NULL;
    }
    snprintf(r->url, sizeof r->url, "%s", url);
    snprintf(r->stage, sizeof r->stage, "%s", stage);
    r->part_size = part_size;
    if (!(r->s3 = ss_s3_new(cfg, err, errlen))) {
        free(r);
        return NULL;
    }
    if (ss_s3_probe(r->s3, r->bucket, r->prefix) != 0) { /* credentials, endpoint, clock: before any work */
        snprintf(err, errlen, "%s: %s", r->url, ss_s3_errstr(r->s3));
        *code = ss_s3_err(r->s3);
        ss_convert_remote_free(r);
        return NULL;
    }
    return r;
}

void ss_convert_remote_free(ss_convert_remote *r) {
    if (!r) return;
    ss_s3_free(r->s3);
    for (size_t i = 0; i < r->nkeys; i++) free(r->keys[i]);
    free(r->keys);
    free(r);
}

/* The object key of a staged path, or -1 when the path is not under the staging dir. */
static int key_of(const ss_convert_remote *r, const char *path, char *key, size_t n) {
    size_t sl = strlen(r->stage);
    if (strncmp(path, r->stage, sl) != 0 || path[sl] != '/') return -1;
    int w = snprintf(key, n, "%s%s%s", r->prefix, r->prefix[0] ? "/" : "", path + sl + 1);
    return w > 0 && (size_t)w < n && (size_t)w <= SS_S3_MAX_KEY ? 0 : -1;
}

static int remember(ss_convert_remote *r, const char *key) {
    if (r->nkeys == r->capkeys) {
        size_t cap = r->capkeys ? r->capkeys * 2 : 64;
        char **v = realloc(r->keys, cap * sizeof *v);
        if (!v) return -1;
        r->keys = v;
        r->capkeys = cap;
    }
    if (!(r->keys[r->nkeys] = strdup(key))) return -1;
    r->nkeys++;
    return 0;
}

int ss_convert_remote_put(ss_convert_remote *r, const char *path, const char *sha256) {
    if (r->failed) return -1;
    char key[SS_S3_MAX_KEY + 1];
    if (key_of(r, path, key, sizeof key) != 0)
        return fail(r, SS_S3_ERR_LOCAL, "%s: the object key of %s is too long", r->url, path);
    if (remember(r, key) != 0) return fail(r, SS_S3_ERR_LOCAL, "%s: out of memory", r->url);
    struct stat st;
    if (stat(path, &st) != 0) return fail(r, SS_S3_ERR_LOCAL, "cannot stat the staged %s: %s", path, strerror(errno));
    if (ss_s3_upload_file(r->s3, r->bucket, key, path, r->part_size, sha256 && *sha256 ? sha256 : NULL, NULL, NULL) !=
        0) {
        char where[SS_S3_MAX_KEY + SS_S3_MAX_BUCKET + 8];
        snprintf(where, sizeof where, "s3://%s/%s", r->bucket, key);
        return fail(r, ss_s3_err(r->s3), "uploading to %s: %s", where, ss_s3_errstr(r->s3));
    }
    r->bytes += (uint64_t)st.st_size;
    r->objects++;
    if (unlink(path) != 0 && errno != ENOENT)
        return fail(r, SS_S3_ERR_LOCAL, "cannot remove the staged copy %s: %s", path, strerror(errno));
    return 0;
}

int ss_convert_remote_delete(ss_convert_remote *r, const char *path) {
    if (r->failed) return -1;
    char key[SS_S3_MAX_KEY + 1];
    if (key_of(r, path, key, sizeof key) != 0) return fail(r, SS_S3_ERR_LOCAL, "%s: the key of %s is too long", r->url, path);
    if (ss_s3_delete(r->s3, r->bucket, key) != 0) return fail(r, ss_s3_err(r->s3), "deleting %s: %s", key, ss_s3_errstr(r->s3));
    return 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Whether a key's last segment is part-TAG-*.parquet. */
int ss_convert_is_part_name(const char *name, size_t len, const char *tag) {
    size_t tl = strlen(tag);
    return len > 5 + tl + 1 + 8 && !strncmp(name, "part-", 5) && !strncmp(name + 5, tag, tl) && name[5 + tl] == '-' &&
           !memcmp(name + len - 8, ".parquet", 8);
}

static int is_part_of(const char *key, const char *tag) {
    const char *base = strrchr(key, '/');
    base = base ? base + 1 : key;
    return ss_convert_is_part_name(base, strlen(base), tag);
}

typedef struct {
    ss_convert_remote *r;
    const char *tag;
    char **v;
    size_t n, cap;
    char (*ids)[SS_S3_MAX_UPLOAD_ID];
    int oom;
} stale_walk;

static int add_key(stale_walk *w, const char *key, const char *upload_id) {
    if (w->n == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 64;
        char **v = realloc(w->v, cap * sizeof *v);
        if (!v) return -1;
        w->v = v;
        if (upload_id) {
            char(*ids)[SS_S3_MAX_UPLOAD_ID] = realloc(w->ids, cap * sizeof *ids);
            if (!ids) return -1;
            w->ids = ids;
        }
        w->cap = cap;
    }
    if (!(w->v[w->n] = strdup(key))) return -1;
    if (upload_id) snprintf(w->ids[w->n], SS_S3_MAX_UPLOAD_ID, "%s", upload_id);
    w->n++;
    return 0;
}

static int on_object(void *ctx, const char *key, uint64_t size) {
    (void)size;
    stale_walk *w = ctx;
    if (!is_part_of(key, w->tag)) return 0;
    const char *k = key;
    if (bsearch(&k, w->r->keys, w->r->nkeys, sizeof(char *), cmp_str)) return 0;
    if (add_key(w, key, NULL) != 0) return w->oom = 1;
    return 0;
}

static int on_upload(void *ctx, const char *key, const char *upload_id) {
    stale_walk *w = ctx;
    if (is_part_of(key, w->tag) && add_key(w, key, upload_id) != 0) return w->oom = 1;
    return 0;
}

static void walk_free(stale_walk *w) {
    for (size_t i = 0; i < w->n; i++) free(w->v[i]);
    free(w->v);
    free(w->ids);
    w->v = NULL;
    w->ids = NULL;
    w->n = w->cap = 0;
}

int ss_convert_remote_remove_stale(ss_convert_remote *r, const char *tag, uint64_t *removed) {
    *removed = 0;
    if (r->failed) return -1;
    qsort(r->keys, r->nkeys, sizeof(char *), cmp_str);
    char pfx[SS_S3_MAX_KEY + 2];
    snprintf(pfx, sizeof pfx, "%s%s", r->prefix, r->prefix[0] ? "/" : "");
    /* collect first, then delete: the listing pages are not disturbed by the deletes */
    stale_walk w = {r, tag, NULL, 0, 0, NULL, 0};
    if (ss_s3_list(r->s3, r->bucket, pfx, on_object, &w) != 0 || w.oom) {
        walk_free(&w);
        return w.oom ? fail(r, SS_S3_ERR_LOCAL, "%s: out of memory listing stale objects", r->url)
                     : fail(r, ss_s3_err(r->s3), "listing %s: %s", r->url, ss_s3_errstr(r->s3));
    }
    for (size_t i = 0; i < w.n; i++) {
        if (ss_s3_delete(r->s3, r->bucket, w.v[i]) != 0) {
            int rc = fail(r, ss_s3_err(r->s3), "deleting the stale %s: %s", w.v[i], ss_s3_errstr(r->s3));
            walk_free(&w);
            return rc;
        }
        (*removed)++;
    }
    walk_free(&w);
    /* a killed run's multipart uploads of this tag: invisible, but they keep costing storage */
    stale_walk u = {r, tag, NULL, 0, 0, NULL, 0};
    if (ss_s3_mp_list(r->s3, r->bucket, pfx, on_upload, &u) != 0 || u.oom) {
        walk_free(&u);
        return u.oom ? fail(r, SS_S3_ERR_LOCAL, "%s: out of memory listing multipart uploads", r->url)
                     : fail(r, ss_s3_err(r->s3), "listing the multipart uploads of %s: %s", r->url, ss_s3_errstr(r->s3));
    }
    for (size_t i = 0; i < u.n; i++)
        if (ss_s3_mp_abort(r->s3, r->bucket, u.v[i], u.ids[i]) != 0 && ss_s3_err(r->s3) != SS_S3_ERR_NOT_FOUND) {
            int rc = fail(r, ss_s3_err(r->s3), "aborting the multipart upload of %s: %s", u.v[i], ss_s3_errstr(r->s3));
            walk_free(&u);
            return rc;
        }
    walk_free(&u);
    return 0;
}

int ss_convert_remote_failed(const ss_convert_remote *r) { return r->failed; }
const char *ss_convert_remote_errstr(const ss_convert_remote *r) { return r->errstr; }
ss_s3_errcode ss_convert_remote_err(const ss_convert_remote *r) { return r->code; }
uint64_t ss_convert_remote_objects(const ss_convert_remote *r) { return r->objects; }
uint64_t ss_convert_remote_bytes(const ss_convert_remote *r) { return r->bytes; }
const char *ss_convert_remote_url(const ss_convert_remote *r) { return r->url; }
