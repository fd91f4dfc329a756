/* See did_cache.h. Everything is read once, into a sorted array of (DID, key). */
#include "source/firehose/did_cache.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "source/firehose/did_resolve.h"
#include "source/firehose/fh_decode.h"
#include "source/source.h"
#include "util/json.h"
#include "util/log.h"

typedef struct {
    char *did;
    ss_fh_pubkey key;
} entry;

struct ss_did_cache {
    entry *e;
    size_t n, cap, skipped;
    ss_did_resolver *live; /* NULL: the file's documents only */
};

static int cmp_entry(const void *a, const void *b) { return strcmp(((const entry *)a)->did, ((const entry *)b)->did); }

/* The atproto key of one DID document (an object): 1 with *id and *key, 0 when it has none. */
static int doc_key(const ss_json_doc *d, const ss_json_tok *doc, ss_str *id, ss_fh_pubkey *key) {
    if (ss_json_str(d, ss_json_obj_get(d, doc, "id"), id) < 0 || id->n < 5 || id->n > 2048 || memcmp(id->p, "did:", 4))
        return 0;
    const ss_json_tok *vms = ss_json_obj_get(d, doc, "verificationMethod"), *vm;
    ss_json_iter it = ss_json_iter_of(d, vms);
    while ((vm = ss_json_iter_next(&it))) {
        ss_str vid, mb;
        if (ss_json_str(d, ss_json_obj_get(d, vm, "id"), &vid) < 0) continue;
        int atproto = (vid.n == 8 && !memcmp(vid.p, "#atproto", 8)) ||
                      (vid.n == id->n + 8 && !memcmp(vid.p, id->p, id->n) && !memcmp(vid.p + id->n, "#atproto", 8));
        if (!atproto || ss_json_str(d, ss_json_obj_get(d, vm, "publicKeyMultibase"), &mb) < 0) continue;
        char text[SS_FH_KEY_MULTIBASE_MAX + 1], kerr[120];
        if (mb.n > SS_FH_KEY_MULTIBASE_MAX) return 0;
        memcpy(text, mb.p, mb.n);
        text[mb.n] = '\0';
        return ss_fh_key_parse(text, key, kerr, sizeof kerr) == 0;
    }
    return 0;
}

/* One DID document (an object). 1 added, 0 skipped (no atproto key), -1 error. */
static int add_doc(ss_did_cache *c, const ss_json_doc *d, const ss_json_tok *doc, char *err, size_t errlen) {
    ss_str id;
    ss_fh_pubkey key;
    if (!doc_key(d, doc, &id, &key)) return c->skipped++, 0;
    if (c->n == SS_DID_CACHE_MAX) return snprintf(err, errlen, "more than %d DID documents", SS_DID_CACHE_MAX), -1;
    if (c->n == c->cap) {
        size_t nc = c->cap ? c->cap * 2 : 64;
        entry *ne = realloc(c->e, nc * sizeof *ne);
        if (!ne) return snprintf(err, errlen, "out of memory"), -1;
        c->e = ne, c->cap = nc;
    }
    if (!(c->e[c->n].did = strndup(id.p, id.n))) return snprintf(err, errlen, "out of memory"), -1;
    c->e[c->n++].key = key;
    return 1;
}

int ss_did_doc_key(const char *text, size_t n, const char *did, size_t dn, ss_fh_pubkey *key) {
    ss_json_limits lim = {SS_DID_CACHE_FILE_MAX, 16, 0};
    lim.max_tokens = n + 16;
    ss_json_doc d;
    if (ss_json_doc_init(&d, &lim) < 0) return -1;
    int rc = -1;
    if (ss_json_parse(&d, text, n) == SS_JSON_OK) {
        ss_str id;
        const ss_json_tok *root = ss_json_root(&d);
        rc = ss_json_is(root, SS_JSON_OBJECT) ? 0 : -1;
        if (rc == 0 && doc_key(&d, root, &id, key)) rc = (id.n == dn && !memcmp(id.p, did, dn)) ? 1 : -1;
    }
    ss_json_doc_free(&d);
    return rc;
}

static int load_file(ss_did_cache *c, const char *path, char *err, size_t errlen) {
    FILE *f = fopen(path, "rb");
    if (!f) return snprintf(err, errlen, "cannot open (%s): %s", strerror(errno), path), -1;
    struct stat st;
    char *text = NULL;
    int rc = -1;
    if (fstat(fileno(f), &st) != 0 || st.st_size > (off_t)SS_DID_CACHE_FILE_MAX) {
        snprintf(err, errlen, "%s: unreadable or over %u bytes", path, SS_DID_CACHE_FILE_MAX);
        goto out;
    }
    if (!(text = malloc((size_t)st.st_size + 1))) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    size_t n = fread(text, 1, (size_t)st.st_size, f);
    ss_json_limits lim = {SS_DID_CACHE_FILE_MAX, 16, 0};
    lim.max_tokens = n + 16; /* a token takes at least one byte */
    ss_json_doc d;
    if (ss_json_doc_init(&d, &lim) < 0) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    if (ss_json_parse(&d, text, n) != SS_JSON_OK) {
        snprintf(err, errlen, "%s is not JSON: %s", path, d.errstr);
    } else {
        const ss_json_tok *root = ss_json_root(&d), *doc;
        rc = 0;
        if (ss_json_is(root, SS_JSON_ARRAY)) {
            ss_json_iter it = ss_json_iter_of(&d, root);
            while (rc == 0 && (doc = ss_json_iter_next(&it)))
                if (add_doc(c, &d, doc, err, errlen) < 0) rc = -1;
        } else if (add_doc(c, &d, root, err, errlen) < 0) {
            rc = -1;
        }
    }
    ss_json_doc_free(&d);
out:
    free(text);
    fclose(f);
    return rc;
}

ss_did_cache *ss_did_cache_open(const char *path, char *err, size_t errlen) {
    ss_did_cache *c = calloc(1, sizeof *c);
    if (!c) return snprintf(err, errlen, "out of memory"), NULL;
    if (!path) return c;
    struct stat st;
    if (stat(path, &st) != 0) {
        snprintf(err, errlen, "did-cache (%s): %s", strerror(errno), path);
        goto fail;
    }
    if (S_ISDIR(st.st_mode)) {
        DIR *dir = opendir(path);
        if (!dir) {
            snprintf(err, errlen, "did-cache (%s): %s", strerror(errno), path);
            goto fail;
        }
        struct dirent *de;
        int rc = 0;
        while (rc == 0 && (de = readdir(dir))) {
            size_t l = strlen(de->d_name);
            if (l < 6 || strcmp(de->d_name + l - 5, ".json") != 0) continue;
            char p[4096];
            if (snprintf(p, sizeof p, "%s/%s", path, de->d_name) >= (int)sizeof p) continue;
            rc = load_file(c, p, err, errlen);
        }
        closedir(dir);
        if (rc < 0) goto fail;
    } else if (load_file(c, path, err, errlen) < 0) {
        goto fail;
    }
    if (c->n > 1) qsort(c->e, c->n, sizeof *c->e, cmp_entry);
    size_t w = 0; /* a DID listed twice: the first after sorting wins; drop the rest */
    for (size_t i = 0; i < c->n; i++) {
        if (w && !strcmp(c->e[w - 1].did, c->e[i].did)) {
            free(c->e[i].did);
            continue;
        }
        c->e[w++] = c->e[i];
    }
    c->n = w;
    return c;
fail:
    ss_did_cache_free(c);
    return NULL;
}

void ss_did_cache_free(ss_did_cache *c) {
    if (!c) return;
    ss_did_resolver_free(c->live);
    for (size_t i = 0; i < c->n; i++) free(c->e[i].did);
    free(c->e);
    free(c);
}

size_t ss_did_cache_count(const ss_did_cache *c) { return c->n; }
size_t ss_did_cache_skipped(const ss_did_cache *c) { return c->skipped; }

static int file_key(const ss_did_cache *c, const char *did, size_t n, ss_fh_pubkey *key) {
    size_t lo = 0, hi = c->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const char *d = c->e[mid].did;
        size_t dl = strlen(d);
        int r = memcmp(d, did, dl < n ? dl : n);
        if (!r) r = dl < n ? -1 : dl > n ? 1 : 0;
        if (!r) {
            *key = c->e[mid].key;
            return 1;
        }
        if (r < 0) lo = mid + 1;
        else hi = mid;
    }
    return 0;
}

int ss_did_cache_key(void *ud, const char *did, size_t n, int refresh, struct ss_fh_pubkey_s *key) {
    ss_did_cache *c = ud;
    if (refresh) return c->live ? (ss_did_resolver_key(c->live, did, n, 1, key) == SS_DID_KEY ? 2 : 0) : 0;
    /* a key resolved live is newer than the file's (a rotation seen since) */
    if (c->live && ss_did_resolver_peek(c->live, did, n, key)) return 1;
    if (file_key(c, did, n, key)) return 1;
    if (!c->live) return 0;
    int rc = ss_did_resolver_key(c->live, did, n, 0, key);
    return rc == SS_DID_KEY ? 1 : rc == SS_DID_FAILED ? -1 : 0;
}

int ss_did_cache_setup(const ss_source_opts *so, ss_fh_opts *fo, ss_did_cache **out, char *err, size_t errlen) {
    *out = NULL;
    if (!so || !so->verify_signatures) return 0;
    int have_path = so->did_cache && *so->did_cache;
    if (!have_path && !so->did_resolve)
        return snprintf(err, errlen, "verify-signatures with did-resolve=no needs did-cache: a file or directory of "
                                     "DID documents"),
               -1;
    char e[300];
    if (!(*out = ss_did_cache_open(have_path ? so->did_cache : NULL, e, sizeof e)))
        return snprintf(err, errlen, "%s", e), -1;
    if (so->did_resolve) {
        struct stat st;
        ss_did_resolver_opts ro = {0};
        ro.plc_directory = so->plc_directory;
        if (have_path && stat(so->did_cache, &st) == 0 && S_ISDIR(st.st_mode)) ro.write_dir = so->did_cache;
        if (!((*out)->live = ss_did_resolver_new(&ro, e, sizeof e))) {
            ss_did_cache_free(*out);
            *out = NULL;
            return snprintf(err, errlen, "%s", e), -1;
        }
    }
    ss_info("firehose", "verifying commit signatures with %zu accounts' keys from %s (%zu documents without one)%s%s; "
            "commits without a key pass unchecked and are counted",
            (*out)->n, have_path ? so->did_cache : "no did-cache", (*out)->skipped,
            so->did_resolve ? ", others resolved live from " : ", no live resolution",
            so->did_resolve ? (so->plc_directory && *so->plc_directory ? so->plc_directory : "https://plc.directory")
                            : "");
    fo->sig_key = ss_did_cache_key;
    fo->sig_ud = *out;
    return 0;
}
