/* The archive marker, the ledger's binding to it, and the partition guard; archive_id.h
 * has the why. The marker is a few hundred bytes of JSON read with the project's scanner
 * under SS_ARCHIVE_MARKER_MAX; the guard's memory of checked directories is a
 * direct-mapped cache (GUARD_SLOTS entries), so it stays small over a year of partitions:
 * a directory that falls out of it is only listed again, which is always safe (the
 * writer's own files there are committed or intended, hence known). */
#include "writer/archive_id.h"
#include "util/clock.h"
#include "writer/migrate.h"
#include "util/err.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/json.h"
#include "util/log.h"
#include "util/str.h"
#include "util/hash.h"

#define LOG "archive"
#define GUARD_SLOTS 4096
#define GUARD_MAX_LISTED 100000 /* entries read from one partition directory */


static int valid_id(const char *s) { return ss_safe_name(s, SS_ARCHIVE_ID_MAX); }

int ss_archive_marker_read(const char *root, ss_archive_marker *m, char *err, size_t errlen) {
    memset(m, 0, sizeof *m);
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/%s", root, SS_ARCHIVE_MARKER) >= (int)sizeof path) {
        ss_seterr(err, errlen, "archive path too long: %s", root);
        return -1;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) return 0;
        ss_seterr(err, errlen, "cannot open the archive marker (%s): %s", strerror(errno), path);
        return -1;
    }
    char buf[SS_ARCHIVE_MARKER_MAX + 1];
    size_t n = 0;
    for (;;) {
        ssize_t r = read(fd, buf + n, sizeof buf - n);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            ss_seterr(err, errlen, "cannot read the archive marker (%s): %s", strerror(errno), path);
            close(fd);
            return -1;
        }
        if (r == 0) break;
        n += (size_t)r;
        if (n == sizeof buf) break;
    }
    close(fd);
    if (n > SS_ARCHIVE_MARKER_MAX) {
        ss_seterr(err, errlen, "the archive marker %s is over %d bytes: not a skyspool marker", path,
               SS_ARCHIVE_MARKER_MAX);
        return -1;
    }
    ss_json_doc d;
    if (ss_json_doc_init(&d, NULL) != 0) {
        ss_seterr(err, errlen, "out of memory");
        return -1;
    }
    int rc = -1;
    if (ss_json_parse(&d, buf, n) != SS_JSON_OK) {
        ss_seterr(err, errlen, "the archive marker %s is not JSON (%s)", path, d.errstr);
        goto out;
    }
    const ss_json_tok *root_t = ss_json_root(&d);
    const ss_json_tok *id = ss_json_obj_get(&d, root_t, "archive_id");
    ss_str s;
    if (!id || ss_json_str(&d, id, &s) != 0 || s.n == 0 || s.n > SS_ARCHIVE_ID_MAX) {
        ss_seterr(err, errlen, "the archive marker %s has no valid archive_id", path);
        goto out;
    }
    memcpy(m->id, s.p, s.n);
    m->id[s.n] = '\0';
    if (!valid_id(m->id)) {
        ss_seterr(err, errlen, "the archive marker %s has an archive_id that is not [A-Za-z0-9._-]", path);
        goto out;
    }
    const ss_json_tok *t = ss_json_obj_get(&d, root_t, "layout");
    if (!t || ss_json_int64(&d, t, &m->layout) != 0) {
        ss_seterr(err, errlen, "the archive marker %s has no integer layout", path);
        goto out;
    }
    t = ss_json_obj_get(&d, root_t, "created_us");
    if (t) ss_json_int64(&d, t, &m->created_us);
    t = ss_json_obj_get(&d, root_t, "created_by_ledger");
    if (t && ss_json_str(&d, t, &s) == 0) snprintf(m->created_by, sizeof m->created_by, "%.*s", (int)s.n, s.p);
    rc = 1;
out:
    ss_json_doc_free(&d);
    return rc;
}

static int fsync_dir(const char *dir) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return -1;
    int r = fsync(fd);
    close(fd);
    return r;
}

static void fresh_archive_id(char *out, size_t outlen) {
    uint64_t a = (uint64_t)ss_wall_us(), b = (uint64_t)getpid() << 32;
    FILE *f = fopen("/dev/urandom", "rb");
    if (f) {
        uint64_t v[2];
        if (fread(v, sizeof v, 1, f) == 1) a ^= v[0], b ^= v[1];
        fclose(f);
    }
    snprintf(out, outlen, "%016llx%016llx", (unsigned long long)a, (unsigned long long)b);
}

/* Creates the marker with id unless one exists: temporary, fsync, link (fails if another
 * process made one first: then its marker wins), directory fsync. 0 created, 1 one existed,
 * -1 error. */
static int marker_create(const char *root, const char *id, const char *ledger_id, char *err, size_t errlen) {
    char path[PATH_MAX], tmp[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/%s", root, SS_ARCHIVE_MARKER) >= (int)sizeof path ||
        snprintf(tmp, sizeof tmp, "%s/.%s.%ld.tmp", root, SS_ARCHIVE_MARKER, (long)getpid()) >= (int)sizeof tmp) {
        ss_seterr(err, errlen, "archive path too long: %s", root);
        return -1;
    }
    ss_buf b;
    ss_buf_init(&b);
    ss_buf_printf(&b, "{\"skyspool_archive\":1,\"archive_id\":\"%s\",\"layout\":%d,\"created_us\":%lld,"
                      "\"created_by_ledger\":",
                  id, SS_ARCHIVE_LAYOUT, (long long)ss_wall_us());
    ss_buf_append_json_string(&b, ledger_id, strlen(ledger_id));
    ss_buf_puts(&b, "}\n");
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        ss_seterr(err, errlen, "cannot create (%s): %s", strerror(errno), tmp);
        ss_buf_free(&b);
        return -1;
    }
    size_t off = 0;
    int ok = 1;
    while (ok && off < b.len) {
        ssize_t w = write(fd, b.data + off, b.len - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) ok = 0;
        else off += (size_t)w;
    }
    ss_buf_free(&b);
    if (!ok || fsync(fd) != 0) {
        ss_seterr(err, errlen, "cannot write (%s): %s", strerror(errno), tmp);
        close(fd);
        unlink(tmp);
        return -1;
    }
    if (close(fd) != 0) {
        ss_seterr(err, errlen, "cannot write (%s): %s", strerror(errno), tmp);
        unlink(tmp);
        return -1;
    }
    int rc = 0;
    if (link(tmp, path) != 0) {
        if (errno == EEXIST) {
            rc = 1;
        } else if (errno == EPERM || errno == ENOTSUP || errno == EOPNOTSUPP || errno == EXDEV) {
            /* no hard links on this file system: rename, unless a marker appeared meanwhile */
            struct stat st;
            if (stat(path, &st) == 0) rc = 1;
            else if (rename(tmp, path) != 0) rc = -1;
        } else {
            rc = -1;
        }
        if (rc < 0) ss_seterr(err, errlen, "cannot create the archive marker (%s): %s", strerror(errno), path);
    }
    unlink(tmp);
    if (rc == 0 && fsync_dir(root) != 0) {
        ss_seterr(err, errlen, "cannot fsync (%s): %s", strerror(errno), root);
        return -1;
    }
    return rc;
}

static int file_exists(const char *root, const char *rel) {
    char p[PATH_MAX];
    if (snprintf(p, sizeof p, "%s/%s", root, rel) >= (int)sizeof p) return 0;
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static int ledger_err(ss_ledger *l, char *err, size_t errlen) {
    ss_seterr(err, errlen, "%s", ss_ledger_errstr(l));
    return -1;
}

/* Records id and root in the ledger (the id only if none is there; re-read after). */
static int record(ss_ledger *l, const char *id, const char *root, char *err, size_t errlen) {
    if (ss_ledger_meta_set(l, SS_ARCHIVE_META_ID, id, 0) != 0 || ss_ledger_meta_set(l, SS_ARCHIVE_META_ROOT, root, 1) != 0)
        return ledger_err(l, err, errlen);
    char got[SS_ARCHIVE_ID_MAX + 1];
    if (ss_ledger_meta_get(l, SS_ARCHIVE_META_ID, got, sizeof got) != 1) return ledger_err(l, err, errlen);
    if (strcmp(got, id) != 0) {
        ss_seterr(err, errlen, "another writer of this ledger bound it to archive %s at the same moment; start again", got);
        return -1;
    }
    return 0;
}

int ss_archive_bind(ss_ledger *l, const char *ledger_path, const char *ledger_id, const char *root_in,
                    char *archive_id, size_t idlen, char *err, size_t errlen) {
    char root[PATH_MAX];
    if (!realpath(root_in, root)) {
        ss_seterr(err, errlen, "cannot resolve the archive directory (%s): %s", strerror(errno), root_in);
        return -1;
    }
    if (ss_archive_layout_check(root, err, errlen) != 0) return -1;
    ss_archive_marker m;
    int have_m = ss_archive_marker_read(root, &m, err, errlen);
    if (have_m < 0) return -1;
    char lid[SS_ARCHIVE_ID_MAX + 1] = "", lroot[PATH_MAX] = "", last[PATH_MAX] = "";
    int have_id = ss_ledger_meta_get(l, SS_ARCHIVE_META_ID, lid, sizeof lid);
    if (have_id < 0 || ss_ledger_meta_get(l, SS_ARCHIVE_META_ROOT, lroot, sizeof lroot) < 0)
        return ledger_err(l, err, errlen);
    uint64_t nfiles = 0;
    if (ss_ledger_files_count(l, &nfiles, last, sizeof last) != 0) return ledger_err(l, err, errlen);
    int last_here = nfiles == 0 || (last[0] && file_exists(root, last));

    if (have_id) {
        if (have_m) {
            if (strcmp(m.id, lid) != 0) {
                ss_seterr(err, errlen,
                       "the ledger %s belongs to archive %s (last at %s), but %s is archive %s (its %s): a ledger "
                       "writes one archive, and pointed at another it would count every event as already written. "
                       "Point --out at the ledger's archive (%s, or wherever it was moved), or use a fresh "
                       "--data-dir for this archive",
                       ledger_path, lid, lroot[0] ? lroot : "?", root, m.id, SS_ARCHIVE_MARKER,
                       lroot[0] ? lroot : "?");
                return -1;
            }
            if (strcmp(lroot, root) != 0) {
                ss_archive_marker old;
                char e2[256];
                if (lroot[0] && ss_archive_marker_read(lroot, &old, e2, sizeof e2) == 1 && strcmp(old.id, lid) == 0)
                    ss_warn(LOG, "archive %s is at %s and also still at %s (a copy?): this ledger writes to %s from now on",
                            lid, root, lroot, root);
                else ss_info(LOG, "archive %s moved from %s to %s: the ledger follows it", lid, lroot[0] ? lroot : "?", root);
                if (ss_ledger_meta_set(l, SS_ARCHIVE_META_ROOT, root, 1) != 0) return ledger_err(l, err, errlen);
            }
            snprintf(archive_id, idlen, "%s", lid);
            return 0;
        }
        if (strcmp(lroot, root) == 0 && last_here) {
            /* its own root, its files there, only the marker is gone: put it back */
            if (marker_create(root, lid, ledger_id, err, errlen) < 0) return -1;
            ss_info(LOG, "archive %s at %s had lost its marker %s: written again", lid, root, SS_ARCHIVE_MARKER);
            snprintf(archive_id, idlen, "%s", lid);
            return 0;
        }
        ss_seterr(err, errlen,
               "the ledger %s belongs to archive %s at %s, but %s has no archive marker (%s)%s: pointed at another "
               "directory the ledger would count every event it already wrote as a duplicate. Point --out at the "
               "ledger's archive (%s), or use a fresh --data-dir for a new archive in %s",
               ledger_path, lid, lroot[0] ? lroot : "?", root, SS_ARCHIVE_MARKER,
               strcmp(lroot, root) == 0 ? " and does not hold the ledger's newest file" : "", lroot[0] ? lroot : "?",
               root);
        return -1;
    }

    /* an unbound ledger: fresh, or from before archive markers */
    if (!last_here) {
        ss_seterr(err, errlen,
               "the ledger %s has %llu committed files, but its newest (%s) is not in %s: it wrote another "
               "archive. Point --out at that archive, or use a fresh --data-dir for %s",
               ledger_path, (unsigned long long)nfiles, last, root, root);
        return -1;
    }
    char id[SS_ARCHIVE_ID_MAX + 1];
    if (have_m) {
        snprintf(id, sizeof id, "%s", m.id);
        if (nfiles) ss_info(LOG, "the ledger %s adopts archive %s at %s (its %llu files are there)", ledger_path, id, root,
                            (unsigned long long)nfiles);
        else ss_info(LOG, "the ledger %s joins archive %s at %s", ledger_path, id, root);
    } else {
        fresh_archive_id(id, sizeof id);
        int c = marker_create(root, id, ledger_id, err, errlen);
        if (c < 0) return -1;
        if (c == 1) { /* another writer created it first */
            if (ss_archive_marker_read(root, &m, err, errlen) != 1) return -1;
            snprintf(id, sizeof id, "%s", m.id);
        } else if (nfiles) {
            ss_info(LOG, "archive %s: marker written into the existing archive %s (the ledger's %llu files are there)",
                    id, root, (unsigned long long)nfiles);
        } else {
            ss_info(LOG, "new archive %s at %s", id, root);
        }
    }
    if (record(l, id, root, err, errlen) != 0) return -1;
    snprintf(archive_id, idlen, "%s", id);
    return 0;
}

/* ---- the partition guard -------------------------------------------------------------------- */

struct ss_archive_guard {
    char root[PATH_MAX];
    char ledger[PATH_MAX];
    char suffix[24]; /* ".s<I>", or "" unsharded */
    char *seen[GUARD_SLOTS];
};

ss_archive_guard *ss_archive_guard_new(const char *root, const char *ledger_path, const char *shard_suffix) {
    ss_archive_guard *g = calloc(1, sizeof *g);
    if (!g) return NULL;
    snprintf(g->root, sizeof g->root, "%s", root);
    snprintf(g->ledger, sizeof g->ledger, "%s", ledger_path);
    snprintf(g->suffix, sizeof g->suffix, "%s", shard_suffix ? shard_suffix : "");
    return g;
}

void ss_archive_guard_free(ss_archive_guard *g) {
    if (!g) return;
    for (size_t i = 0; i < GUARD_SLOTS; i++) free(g->seen[i]);
    free(g);
}

static int all_digits(const char *s, size_t n) {
    if (!n) return 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9') return 0;
    return 1;
}

int ss_archive_writer_part_name(const char *name, char *consumer, size_t conslen) {
    size_t n = strlen(name);
    const char *ext = ".parquet";
    if (n <= 8 || strcmp(name + n - 8, ext) != 0 || name[0] == '.') return 0;
    n -= 8;
    if (n > 5 && memcmp(name + n - 5, "-late", 5) == 0) n -= 5;
    /* ...-MS-SEQ */
    const char *end = name + n, *p = end;
    while (p > name && p[-1] != '-') p--;
    if (p == name || !all_digits(p, (size_t)(end - p))) return 0;
    end = p - 1;
    p = end;
    while (p > name && p[-1] != '-') p--;
    if (p == name || !all_digits(p, (size_t)(end - p))) return 0;
    end = p - 1; /* the consumer ends here */
    /* TYPE-YYYYMMDDTHHMM- */
    const char *dash = memchr(name, '-', (size_t)(end - name));
    if (!dash || dash == name) return 0;
    const char *stamp = dash + 1;
    if (end - stamp < 15 || !all_digits(stamp, 8) || stamp[8] != 'T' || !all_digits(stamp + 9, 4) || stamp[13] != '-')
        return 0;
    const char *cons = stamp + 14;
    if (cons >= end) return 0;
    if (consumer && conslen) snprintf(consumer, conslen, "%.*s", (int)(end - cons), cons);
    return 1;
}

/* ".s<digits>" at the end of a consumer name: the shard, or -1. */
static long shard_of(const char *c) {
    const char *d = strrchr(c, '.');
    if (!d || d[1] != 's' || !all_digits(d + 2, strlen(d + 2)) || strlen(d + 2) > 4) return -1;
    return strtol(d + 2, NULL, 10);
}

static int ours(const ss_archive_guard *g, const char *consumer) {
    long s = shard_of(consumer);
    if (!g->suffix[0]) return s < 0;
    size_t cl = strlen(consumer), sl = strlen(g->suffix);
    return cl >= sl && strcmp(consumer + cl - sl, g->suffix) == 0;
}

typedef struct {
    char **names;
    unsigned char *known_at; /* per name: the ledger knows it */
    size_t n;
    const char *dir;
    size_t dirlen;
    size_t known;
} listing;

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void mark_known(void *ctx, const char *path) {
    listing *ls = ctx;
    if (strncmp(path, ls->dir, ls->dirlen) != 0 || path[ls->dirlen] != '/') return;
    const char *base = path + ls->dirlen + 1;
    char *key = (char *)base;
    char **hit = bsearch(&key, ls->names, ls->n, sizeof *ls->names, cmp_str);
    if (hit && !ls->known_at[hit - ls->names]) {
        ls->known_at[hit - ls->names] = 1;
        ls->known++;
    }
}

int ss_archive_guard_dir(ss_archive_guard *g, ss_ledger *l, const char *rel_dir, int *sys_errno, char *err,
                         size_t errlen) {
    int e_dummy;
    if (!sys_errno) sys_errno = &e_dummy;
    *sys_errno = 0;
    size_t slot = (size_t)(ss_fnv1a64(rel_dir, strlen(rel_dir)) % GUARD_SLOTS);
    if (g->seen[slot] && strcmp(g->seen[slot], rel_dir) == 0) return SS_ARCHIVE_GUARD_OK;
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/%s", g->root, rel_dir) >= (int)sizeof path) {
        ss_seterr(err, errlen, "partition path too long: %s/%s", g->root, rel_dir);
        return SS_ARCHIVE_GUARD_ERR;
    }
    int rc = SS_ARCHIVE_GUARD_OK;
    listing ls = {NULL, NULL, 0, rel_dir, strlen(rel_dir), 0};
    size_t cap = 0, listed = 0;
    DIR *d = opendir(path);
    if (!d) {
        if (errno != ENOENT) {
            *sys_errno = errno;
            ss_seterr(err, errlen, "cannot list (%s): %s", strerror(*sys_errno), path);
            return SS_ARCHIVE_GUARD_IO;
        }
    } else {
        struct dirent *de;
        char cons[128];
        for (;;) {
            errno = 0;
            if (!(de = readdir(d))) {
                if (errno) { /* a listing cut short must not pass for a complete one */
                    *sys_errno = errno;
                    ss_seterr(err, errlen, "cannot list (%s): %s", strerror(*sys_errno), path);
                    rc = SS_ARCHIVE_GUARD_IO;
                }
                break;
            }
            if (++listed > GUARD_MAX_LISTED) {
                ss_seterr(err, errlen, "%s holds more than %d entries: not a partition directory this writer made", path,
                       GUARD_MAX_LISTED);
                rc = SS_ARCHIVE_GUARD_UNKNOWN;
                break;
            }
            /* temporaries (".NAME.parquet.tmp") start with '.' and are not part names */
            if (!ss_archive_writer_part_name(de->d_name, cons, sizeof cons) || !ours(g, cons)) continue;
            if (ls.n == cap) {
                size_t nc = cap ? cap * 2 : 64;
                char **a = realloc(ls.names, nc * sizeof *a);
                if (!a) {
                    rc = SS_ARCHIVE_GUARD_ERR;
                    ss_seterr(err, errlen, "out of memory");
                    break;
                }
                ls.names = a;
                cap = nc;
            }
            if (!(ls.names[ls.n] = strdup(de->d_name))) {
                rc = SS_ARCHIVE_GUARD_ERR;
                ss_seterr(err, errlen, "out of memory");
                break;
            }
            ls.n++;
        }
        closedir(d);
    }
    if (rc == SS_ARCHIVE_GUARD_OK && ls.n) {
        /* listed first, looked up after: a file seen above had its intent recorded before it was
         * created, so the query sees it as an intent or a commit */
        qsort(ls.names, ls.n, sizeof *ls.names, cmp_str);
        if (!(ls.known_at = calloc(ls.n, 1))) {
            ss_seterr(err, errlen, "out of memory");
            rc = SS_ARCHIVE_GUARD_ERR;
        } else if (ss_ledger_known_under(l, rel_dir, mark_known, &ls) != 0) {
            ss_seterr(err, errlen, "%s", ss_ledger_errstr(l));
            rc = SS_ARCHIVE_GUARD_ERR;
        } else if (ls.known < ls.n) {
            const char *first = NULL;
            for (size_t i = 0; i < ls.n && !first; i++)
                if (!ls.known_at[i]) first = ls.names[i];
            ss_seterr(err, errlen,
                   "%s holds %zu part file%s this writer's ledger %s does not know (e.g. %s): a newer copy of the "
                   "ledger committed them, so this one is older than the archive (a data dir restored from a "
                   "backup?), and writing would duplicate their rows. Nothing was written there. Restore the newest "
                   "copy of the data dir (ledger.sqlite with its -wal file), or, if those files are not wanted, move "
                   "them out of the archive; `skyspool verify --out %s --ledger %s` lists every file the ledger "
                   "does not know",
                   path, ls.n - ls.known, ls.n - ls.known == 1 ? "" : "s", g->ledger, first ? first : "?", g->root,
                   g->ledger);
            rc = SS_ARCHIVE_GUARD_UNKNOWN;
        }
    }
    for (size_t i = 0; i < ls.n; i++) free(ls.names[i]);
    free(ls.names);
    free(ls.known_at);
    if (rc == SS_ARCHIVE_GUARD_OK) {
        char *dup = strdup(rel_dir);
        if (dup) {
            free(g->seen[slot]);
            g->seen[slot] = dup;
        }
    }
    return rc;
}
