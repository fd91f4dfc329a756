/* Archive layout check and migration; see migrate.h for the protocol and why. */
#include "writer/migrate.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/err.h"
#include "util/fs.h"
#include "writer/archive_id.h"
#include "writer/crash.h"

static const char *const g_keys[4] = {"year", "month", "day", "hour"};

/* For a directory entry name "KEY=DIGITS" of partition level lvl (0 year .. 3 hour): 1 and
 * the unpadded name when DIGITS has a leading zero, 0 when it is not padded or not such a
 * name. */
static int unpad_name(const char *name, int lvl, char *out, size_t outlen) {
    size_t kl = strlen(g_keys[lvl]);
    if (strncmp(name, g_keys[lvl], kl) != 0 || name[kl] != '=') return 0;
    const char *d = name + kl + 1;
    size_t n = strlen(d);
    if (n < 2 || d[0] != '0') return 0;
    for (size_t i = 0; i < n; i++)
        if (d[i] < '0' || d[i] > '9') return 0;
    while (d[0] == '0' && d[1]) d++;
    return snprintf(out, outlen, "%s=%s", g_keys[lvl], d) < (int)outlen ? 1 : 0;
}

int ss_archive_unpad_path(const char *in, char *out, size_t outlen) {
    ss_buf b;
    ss_buf_init(&b);
    int changed = 0;
    const char *p = in;
    while (*p) {
        const char *e = strchr(p, '/');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        char comp[256], un[256];
        int done = 0;
        if (n < sizeof comp) {
            memcpy(comp, p, n);
            comp[n] = '\0';
            for (int lvl = 0; lvl < 4 && !done; lvl++)
                if (unpad_name(comp, lvl, un, sizeof un)) ss_buf_puts(&b, un), done = changed = 1;
        }
        if (!done) ss_buf_append(&b, p, n);
        if (!e) break;
        ss_buf_putc(&b, '/');
        p = e + 1;
    }
    int rc = b.len < outlen ? changed : -1;
    if (rc >= 0) {
        memcpy(out, b.data ? b.data : "", b.len);
        out[b.len] = '\0';
    }
    ss_buf_free(&b);
    return rc;
}

/* The partition directories: fn(ctx, dir, name, lvl) for every entry of dir whose name is
 * KEY= of level lvl, descending into year=, month= and day= directories (after fn, which may
 * rename: fn writes the entry's current name back to name). fn returns 0 go on, 1 stop, -1
 * error. */
typedef int (*visit_fn)(void *ctx, const char *dir, char *name, size_t namelen, int lvl);

static int walk(const char *dir, int lvl, visit_fn fn, void *ctx, char *err, size_t errlen) {
    DIR *d = opendir(dir);
    if (!d) {
        if (lvl == 0 || errno != ENOENT) {
            ss_seterr(err, errlen, "cannot list (%s): %s", strerror(errno), dir);
            return -1;
        }
        return 0;
    }
    /* the names first: fn renames entries, and readdir after a rename may see one twice */
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    size_t kl = strlen(g_keys[lvl]);
    int rc = 0;
    while ((de = readdir(d)) != NULL) {
        if (strncmp(de->d_name, g_keys[lvl], kl) != 0 || de->d_name[kl] != '=') continue;
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 64;
            char **g = realloc(names, nc * sizeof *g);
            if (!g) { rc = -1; break; }
            names = g, cap = nc;
        }
        if (!(names[n] = strdup(de->d_name))) { rc = -1; break; }
        n++;
    }
    closedir(d);
    if (rc < 0) ss_seterr(err, errlen, "out of memory listing %s", dir);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        char name[256];
        snprintf(name, sizeof name, "%s", names[i]);
        rc = fn(ctx, dir, name, sizeof name, lvl);
        if (rc < 0 && !err[0]) ss_seterr(err, errlen, "cannot migrate %s/%s", dir, names[i]);
        if (rc != 0 || lvl == 3) continue;
        char sub[PATH_MAX];
        struct stat st;
        if (snprintf(sub, sizeof sub, "%s/%s", dir, name) >= (int)sizeof sub) {
            ss_seterr(err, errlen, "path too long: %s/%s", dir, name);
            rc = -1;
        } else if (stat(sub, &st) == 0 && S_ISDIR(st.st_mode)) {
            rc = walk(sub, lvl + 1, fn, ctx, err, errlen);
        }
    }
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
    return rc;
}

static int find_padded(void *ctx, const char *dir, char *name, size_t namelen, int lvl) {
    (void)namelen;
    char un[256];
    if (!unpad_name(name, lvl, un, sizeof un)) return 0;
    snprintf((char *)ctx, PATH_MAX, "%s/%s", dir, name);
    return 1;
}

int ss_archive_layout_check(const char *root, char *err, size_t errlen) {
    ss_archive_marker m;
    int have = ss_archive_marker_read(root, &m, err, errlen);
    if (have < 0) return -1;
    if (have) {
        if (m.layout == SS_ARCHIVE_LAYOUT) return 0;
        ss_seterr(err, errlen,
                  "the archive %s has layout %lld (its %s), this skyspool writes layout %d (unpadded partition "
                  "values, month=8 not month=08): one archive holds one layout. Stop its writers and run "
                  "`skyspool migrate --out %s`",
                  root, (long long)m.layout, SS_ARCHIVE_MARKER, SS_ARCHIVE_LAYOUT, root);
        return -1;
    }
    char found[PATH_MAX] = "";
    struct stat st;
    if (stat(root, &st) != 0) return 0; /* not created yet: nothing to mix with */
    int rc = walk(root, 0, find_padded, found, err, errlen);
    if (rc < 0) return -1;
    if (found[0]) {
        ss_seterr(err, errlen,
                  "%s holds zero-padded partition directories (%s) of an older skyspool; this one writes "
                  "unpadded values (month=8), and one archive holds one layout. Run `skyspool migrate --out %s`",
                  root, found, root);
        return -1;
    }
    return 0;
}

typedef struct {
    ss_migrate_stats *st;
    char *err;
    size_t errlen;
} mig_ctx;

/* Moves every entry of src into dst (both directories), descending where both have a
 * directory of one name, then removes src. */
static int merge_into(const char *src, const char *dst, int depth, char *err, size_t errlen) {
    if (depth > SS_MIGRATE_MAX_DEPTH) {
        ss_seterr(err, errlen, "%s is nested more than %d levels deep: not an archive partition", src,
                  SS_MIGRATE_MAX_DEPTH);
        return -1;
    }
    DIR *d = opendir(src);
    if (!d) {
        ss_seterr(err, errlen, "cannot list (%s): %s", strerror(errno), src);
        return -1;
    }
    struct dirent *de;
    int rc = 0;
    while (rc == 0 && (de = readdir(d)) != NULL) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        char a[PATH_MAX], b[PATH_MAX];
        if (snprintf(a, sizeof a, "%s/%s", src, de->d_name) >= (int)sizeof a ||
            snprintf(b, sizeof b, "%s/%s", dst, de->d_name) >= (int)sizeof b) {
            ss_seterr(err, errlen, "path too long under %s", src);
            rc = -1;
            break;
        }
        struct stat sa, sb;
        if (lstat(b, &sb) != 0) {
            if (rename(a, b) != 0) {
                ss_seterr(err, errlen, "cannot rename %s to %s: %s", a, b, strerror(errno));
                rc = -1;
            }
        } else if (lstat(a, &sa) == 0 && S_ISDIR(sa.st_mode) && S_ISDIR(sb.st_mode)) {
            rc = merge_into(a, b, depth + 1, err, errlen);
        } else {
            ss_seterr(err, errlen,
                      "%s and %s both exist: the archive holds one file under both layouts; keep one (compare them, "
                      "e.g. with sha256sum) and run migrate again",
                      a, b);
            rc = -1;
        }
    }
    closedir(d);
    if (rc == 0 && (ss_fsync_dir(dst) != 0 || rmdir(src) != 0)) {
        ss_seterr(err, errlen, "cannot remove the emptied (%s): %s", strerror(errno), src);
        rc = -1;
    }
    return rc;
}

static int migrate_one(void *ctx, const char *dir, char *name, size_t namelen, int lvl) {
    mig_ctx *c = ctx;
    char un[256];
    if (!unpad_name(name, lvl, un, sizeof un)) return 0;
    char from[PATH_MAX], to[PATH_MAX];
    if (snprintf(from, sizeof from, "%s/%s", dir, name) >= (int)sizeof from ||
        snprintf(to, sizeof to, "%s/%s", dir, un) >= (int)sizeof to) {
        ss_seterr(c->err, c->errlen, "path too long: %s/%s", dir, name);
        return -1;
    }
    struct stat st;
    if (lstat(to, &st) == 0) {
        if (!S_ISDIR(st.st_mode)) {
            ss_seterr(c->err, c->errlen, "%s is not a directory", to);
            return -1;
        }
        if (merge_into(from, to, 0, c->err, c->errlen) != 0) return -1;
        c->st->merged++;
    } else {
        if (rename(from, to) != 0) {
            ss_seterr(c->err, c->errlen, "cannot rename %s to %s: %s", from, to, strerror(errno));
            return -1;
        }
        c->st->renamed++;
    }
    if (ss_fsync_dir(dir) != 0) {
        ss_seterr(c->err, c->errlen, "cannot fsync (%s): %s", strerror(errno), dir);
        return -1;
    }
    ss_writer_crash_point("migrate_rename");
    snprintf(name, namelen, "%s", un);
    return 0;
}

static int rewrite_cb(const char *in, char *out, size_t outlen) { return ss_archive_unpad_path(in, out, outlen) == 1; }

/* Rewrites the marker with layout = SS_ARCHIVE_LAYOUT, keeping its other fields. */
static int marker_relayout(const char *root, const ss_archive_marker *m, char *err, size_t errlen) {
    char path[PATH_MAX], tmp[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/%s", root, SS_ARCHIVE_MARKER) >= (int)sizeof path ||
        snprintf(tmp, sizeof tmp, "%s/.%s.migrate.tmp", root, SS_ARCHIVE_MARKER) >= (int)sizeof tmp) {
        ss_seterr(err, errlen, "archive path too long: %s", root);
        return -1;
    }
    ss_buf b;
    ss_buf_init(&b);
    ss_buf_printf(&b, "{\"skyspool_archive\":1,\"archive_id\":\"%s\",\"layout\":%d,\"created_us\":%lld,"
                      "\"created_by_ledger\":",
                  m->id, SS_ARCHIVE_LAYOUT, (long long)m->created_us);
    ss_buf_append_json_string(&b, m->created_by, strlen(m->created_by));
    ss_buf_printf(&b, ",\"migrated_from_layout\":%lld}\n", (long long)m->layout);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int ok = fd >= 0;
    size_t off = 0;
    while (ok && off < b.len) {
        ssize_t w = write(fd, b.data + off, b.len - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) ok = 0;
        else off += (size_t)w;
    }
    ss_buf_free(&b);
    if (ok && fsync(fd) != 0) ok = 0;
    if (fd >= 0 && close(fd) != 0) ok = 0;
    if (!ok || ss_rename_durable(tmp, path, 1) != 0) {
        ss_seterr(err, errlen, "cannot rewrite the archive marker (%s): %s", strerror(errno), path);
        unlink(tmp);
        return -1;
    }
    return 0;
}

int ss_archive_migrate(const char *root, ss_ledger **leds, int nled, ss_migrate_stats *st, char *err,
                       size_t errlen) {
    memset(st, 0, sizeof *st);
    err[0] = '\0';
    ss_archive_marker m;
    int have = ss_archive_marker_read(root, &m, err, errlen);
    if (have < 0) return -1;
    st->had_marker = have;
    if (have && m.layout != SS_ARCHIVE_LAYOUT && m.layout != SS_ARCHIVE_LAYOUT_PADDED) {
        ss_seterr(err, errlen, "the archive marker of %s says layout %lld, which this skyspool does not know", root,
                  (long long)m.layout);
        return -1;
    }
    mig_ctx c = {st, err, errlen};
    if (walk(root, 0, migrate_one, &c, err, errlen) != 0) return -1;
    for (int i = 0; i < nled; i++) {
        uint64_t n = 0;
        if (ss_ledger_rewrite_paths(leds[i], rewrite_cb, &n) != 0) {
            ss_seterr(err, errlen, "%s", ss_ledger_errstr(leds[i]));
            return -1;
        }
        st->ledger_paths += n;
    }
    ss_writer_crash_point("migrate_ledger");
    if (have && m.layout != SS_ARCHIVE_LAYOUT) {
        if (marker_relayout(root, &m, err, errlen) != 0) return -1;
        st->marker_updated = 1;
    }
    return 0;
}
