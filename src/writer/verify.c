/* The archive/ledger reconciliation (verify.h). Both sides are loaded as sorted lists of
 * relative paths (the ledgers' committed files, the regular files under the root) and
 * merged, so the cost is one directory walk, one ledger scan and, per committed file, an
 * open, an fstat and the footer reads; memory is about 100 bytes per file (a year of
 * 5-minute parts of eight types is under a million files). Paths compare bytewise, as
 * SQLite's BINARY collation does. */
#include "writer/verify.h"
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
#include <unistd.h>

#include <openssl/evp.h>

#include "archive/archive.h"
#include "archive/readback.h"
#include "parquet/footer.h"
#include "parquet/reader.h"
#include "util/buf.h"
#include "util/civil.h"


const char *ss_verify_kind_name(ss_verify_kind k) {
    static const char *const n[] = {"missing", "size", "unreadable", "rows", "checksum", "unknown", "no_marker",
                                    "archive_id", "decode"};
    return (unsigned)k < sizeof n / sizeof *n ? n[k] : "?";
}

typedef struct {
    char *path;
    uint64_t rows, bytes;
    char sha[65];
    const char *ledger;
} lfile;

typedef struct {
    lfile *v;
    size_t n, cap;
    const char *ledger;
    int oom;
} lfiles;

static int add_lfile(void *ctx, const ss_ledger_file *f) {
    lfiles *a = ctx;
    if (a->n == a->cap) {
        size_t nc = a->cap ? a->cap * 2 : 1024;
        lfile *v = realloc(a->v, nc * sizeof *v);
        if (!v) return a->oom = 1;
        a->v = v;
        a->cap = nc;
    }
    lfile *x = &a->v[a->n];
    if (!(x->path = strdup(f->path))) return a->oom = 1;
    x->rows = f->rows;
    x->bytes = f->bytes;
    snprintf(x->sha, sizeof x->sha, "%s", f->sha256 ? f->sha256 : "");
    x->ledger = a->ledger;
    a->n++;
    return 0;
}

typedef struct {
    char **v;
    size_t n, cap;
    uint64_t temporaries;
    int oom;
} dfiles;

static int add_dfile(dfiles *d, const char *rel) {
    if (d->n == d->cap) {
        size_t nc = d->cap ? d->cap * 2 : 1024;
        char **v = realloc(d->v, nc * sizeof *v);
        if (!v) return d->oom = 1, -1;
        d->v = v;
        d->cap = nc;
    }
    if (!(d->v[d->n] = strdup(rel))) return d->oom = 1, -1;
    d->n++;
    return 0;
}

/* Walks dir (abs, with rel its path under the root; "" at the root). */
static int walk(const char *abs, const char *rel, int depth, dfiles *d, char *err, size_t errlen) {
    DIR *dir = opendir(abs);
    if (!dir) {
        ss_seterr(err, errlen, "cannot list (%s): %s", strerror(errno), abs);
        return -1;
    }
    struct dirent *de;
    int rc = 0;
    while (rc == 0 && (de = readdir(dir)) != NULL) {
        const char *nm = de->d_name;
        if (!strcmp(nm, ".") || !strcmp(nm, "..")) continue;
        if (!*rel && !strcmp(nm, SS_ARCHIVE_MARKER)) continue;
        char a[PATH_MAX], r[PATH_MAX];
        if (snprintf(a, sizeof a, "%s/%s", abs, nm) >= (int)sizeof a ||
            snprintf(r, sizeof r, "%s%s%s", rel, *rel ? "/" : "", nm) >= (int)sizeof r) {
            ss_seterr(err, errlen, "path too long under %s", abs);
            rc = -1;
            break;
        }
        int type = de->d_type;
        if (type == DT_UNKNOWN || type == DT_LNK) {
            struct stat st;
            if (lstat(a, &st) != 0) continue; /* vanished */
            type = S_ISDIR(st.st_mode) ? DT_DIR : S_ISREG(st.st_mode) ? DT_REG : DT_UNKNOWN;
        }
        if (type == DT_DIR) {
            if (nm[0] == '.') continue; /* not part of the layout */
            if (depth + 1 > SS_VERIFY_MAX_DEPTH) {
                ss_seterr(err, errlen, "%s is nested more than %d levels deep: not an archive layout", a,
                       SS_VERIFY_MAX_DEPTH);
                rc = -1;
                break;
            }
            rc = walk(a, r, depth + 1, d, err, errlen);
        } else if (type == DT_REG) {
            if (nm[0] == '.') d->temporaries++;
            else if (add_dfile(d, r) != 0) rc = -1;
        }
    }
    closedir(dir);
    if (d->oom) ss_seterr(err, errlen, "out of memory listing the archive");
    return rc;
}

/* The S3 counterpart of walk: every object under the prefix, relative to it. */
typedef struct {
    dfiles *d;
    size_t plen;
} s3walk;

static int add_object(void *ctx, const char *key, uint64_t size) {
    (void)size;
    s3walk *w = ctx;
    const char *rel = key + w->plen;
    const char *base = strrchr(rel, '/');
    base = base ? base + 1 : rel;
    if (!strcmp(rel, SS_ARCHIVE_MARKER) || !strcmp(rel, SS_S3_PROBE_NAME)) return 0;
    if (base[0] == '.') w->d->temporaries++;
    else if (add_dfile(w->d, rel) != 0) return 1;
    return 0;
}

static int cmp_lfile(const void *a, const void *b) { return strcmp(((const lfile *)a)->path, ((const lfile *)b)->path); }
static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int sha256_fd(int fd, char hex[65]) {
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1;
    static __thread unsigned char buf[1 << 16];
    off_t off = 0;
    while (ok) {
        ssize_t r = pread(fd, buf, sizeof buf, off);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) ok = 0;
        if (r <= 0) break;
        off += r;
        ok = EVP_DigestUpdate(ctx, buf, (size_t)r) == 1;
    }
    unsigned char md[32];
    unsigned mdlen = 0;
    if (ok) ok = EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 && mdlen == 32;
    EVP_MD_CTX_free(ctx);
    if (!ok) return -1;
    for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", md[i]);
    return 0;
}

typedef struct {
    const ss_verify_opts *o;
    ss_verify_stats *st;
    ss_s3 *s3; /* an S3 root: its connection, bucket and prefix ("" or "P/") */
    char bucket[SS_S3_MAX_BUCKET + 1];
    char prefix[SS_S3_MAX_KEY + 1];
    char tmp[PATH_MAX]; /* the object being checked, downloaded */
} run_ctx;

static void problem(run_ctx *c, ss_verify_kind k, const char *path, uint64_t expected, uint64_t actual,
                    const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static void problem(run_ctx *c, ss_verify_kind k, const char *path, uint64_t expected, uint64_t actual,
                    const char *fmt, ...) {
    char detail[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    c->st->problems++;
    ss_verify_problem p = {k, path, expected, actual, detail};
    if (c->o->on_problem) c->o->on_problem(c->o->ctx, &p);
}

/* The partition of a relative path "year=Y/month=M/day=D/hour=H/type=T/NAME": 0, or -1. */
static int path_partition(const char *rel, int64_t *hour_us, ss_type *t) {
    int y, mo, d, h, n = 0;
    char tn[32];
    if (sscanf(rel, "year=%4d/month=%2d/day=%2d/hour=%2d/type=%31[a-z]/%n", &y, &mo, &d, &h, tn, &n) != 5 || n == 0)
        return -1;
    int ti = ss_type_from_name(tn);
    if (ti < 0 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23) return -1;
    *t = (ss_type)ti;
    *hour_us = (ss_days_from_civil(y, (unsigned)mo, (unsigned)d) * 24 + h) * 3600000000LL;
    return 0;
}

/* deep: every row through the reader and back into its event. 0 fine, 1 a problem. */
static int check_rows(run_ctx *c, const char *abs, const lfile *f) {
    int64_t hour_us;
    ss_type t;
    if (path_partition(f->path, &hour_us, &t) != 0) return 0; /* not the archive layout: nothing to compare to */
    ss_pq_reader *r = ss_pq_reader_open(abs);
    if (!r) {
        problem(c, SS_VERIFY_DECODE, f->path, f->rows, 0, "out of memory");
        return 1;
    }
    char e[256];
    ss_ar_readback rb;
    int bad = 0;
    uint64_t rows = 0;
    ss_buf js;
    ss_buf_init(&js);
    if (ss_pq_reader_err(r)) {
        problem(c, SS_VERIFY_DECODE, f->path, f->rows, 0, "%s", ss_pq_reader_errstr(r));
        bad = 1;
    } else if (ss_ar_readback_init(&rb, r, t, e, sizeof e) != 0) {
        problem(c, SS_VERIFY_DECODE, f->path, f->rows, 0, "%s", e);
        bad = 1;
    }
    while (!bad) {
        int k = ss_pq_reader_next(r);
        if (k < 0) {
            problem(c, SS_VERIFY_DECODE, f->path, f->rows, rows, "row %llu: %s", (unsigned long long)rows,
                    ss_pq_reader_errstr(r));
            bad = 1;
        }
        if (k <= 0) break;
        int64_t tu;
        ss_buf_reset(&js);
        if (ss_ar_readback_json(&rb, r, &js, &tu, e, sizeof e) != 0) {
            problem(c, SS_VERIFY_DECODE, f->path, f->rows, rows, "row %llu: %s", (unsigned long long)rows, e);
            bad = 1;
        } else if (tu < hour_us || tu >= hour_us + 3600000000LL) {
            problem(c, SS_VERIFY_DECODE, f->path, f->rows, rows, "row %llu: time_us %lld outside the partition hour",
                    (unsigned long long)rows, (long long)tu);
            bad = 1;
        }
        rows++;
    }
    if (!bad && rows != f->rows) {
        problem(c, SS_VERIFY_DECODE, f->path, f->rows, rows, "%llu rows decoded, %llu committed", (unsigned long long)rows,
                (unsigned long long)f->rows);
        bad = 1;
    }
    ss_buf_free(&js);
    ss_pq_reader_close(r);
    return bad;
}

/* One committed file: 0 intact, 1 a problem was reported. */
static int check_file(run_ctx *c, const char *root, const lfile *f) {
    char abs[PATH_MAX];
    if (snprintf(abs, sizeof abs, "%s/%s", root, f->path) >= (int)sizeof abs) {
        problem(c, SS_VERIFY_UNREADABLE, f->path, f->bytes, 0, "path too long");
        return 1;
    }
    if (c->s3) { /* download it, then check the local copy */
        char key[SS_S3_MAX_KEY + 1];
        if (snprintf(key, sizeof key, "%s%s", c->prefix, f->path) >= (int)sizeof key) {
            problem(c, SS_VERIFY_UNREADABLE, f->path, f->bytes, 0, "key too long");
            return 1;
        }
        if (ss_s3_get_file(c->s3, c->bucket, key, c->tmp) != 0) {
            if (ss_s3_err(c->s3) == SS_S3_ERR_NOT_FOUND)
                problem(c, SS_VERIFY_MISSING, f->path, f->bytes, 0, "committed (%llu rows, %llu bytes), not in the bucket",
                        (unsigned long long)f->rows, (unsigned long long)f->bytes);
            else problem(c, SS_VERIFY_UNREADABLE, f->path, f->bytes, 0, "cannot download: %s", ss_s3_errstr(c->s3));
            return 1;
        }
        snprintf(abs, sizeof abs, "%s", c->tmp);
    }
    int fd = open(abs, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        if (errno == ENOENT)
            problem(c, SS_VERIFY_MISSING, f->path, f->bytes, 0, "committed (%llu rows, %llu bytes), not on disk",
                    (unsigned long long)f->rows, (unsigned long long)f->bytes);
        else problem(c, SS_VERIFY_UNREADABLE, f->path, f->bytes, 0, "cannot open: %s", strerror(errno));
        return 1;
    }
    struct stat st;
    int bad = 0;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        problem(c, SS_VERIFY_UNREADABLE, f->path, f->bytes, 0, "not a regular file");
        bad = 1;
    } else if ((uint64_t)st.st_size != f->bytes) {
        problem(c, SS_VERIFY_SIZE, f->path, f->bytes, (uint64_t)st.st_size, "%llu bytes on disk, %llu committed%s",
                (unsigned long long)st.st_size, (unsigned long long)f->bytes,
                (uint64_t)st.st_size < f->bytes ? " (truncated)" : "");
        bad = 1;
    }
    if (!bad) {
        ss_pq_footer ft;
        char e[256];
        if (ss_pq_footer_read_fd(fd, &ft, e, sizeof e) != 0) {
            problem(c, SS_VERIFY_UNREADABLE, f->path, f->rows, 0, "%s", e);
            bad = 1;
        } else if ((uint64_t)ft.num_rows != f->rows) {
            problem(c, SS_VERIFY_ROWS, f->path, f->rows, (uint64_t)ft.num_rows, "footer says %lld rows, %llu committed",
                    (long long)ft.num_rows, (unsigned long long)f->rows);
            bad = 1;
        }
    }
    if (!bad && (c->o->deep || c->s3) && f->sha[0]) {
        char hex[65];
        if (sha256_fd(fd, hex) != 0) {
            problem(c, SS_VERIFY_UNREADABLE, f->path, f->bytes, 0, "cannot read: %s", strerror(errno));
            bad = 1;
        } else if (strcmp(hex, f->sha) != 0) {
            problem(c, SS_VERIFY_CHECKSUM, f->path, f->bytes, f->bytes, "SHA-256 %s, committed %s", hex, f->sha);
            bad = 1;
        }
    }
    close(fd);
    if (!bad && c->o->deep) bad = check_rows(c, abs, f);
    if (c->s3) unlink(c->tmp);
    return bad;
}

int ss_verify_run(const char *root_in, ss_ledger **ledgers, const char *const *ledger_paths, size_t nledgers,
                  const ss_verify_opts *o, ss_verify_stats *st, char *err, size_t errlen) {
    memset(st, 0, sizeof *st);
    char root[PATH_MAX];
    run_ctx c = {o, st, NULL, "", "", ""};
    if (!strncmp(root_in, "s3://", 5)) {
        char pfx[SS_S3_MAX_KEY];
        if (!o->s3 || !o->scratch) {
            ss_seterr(err, errlen, "%s: no S3 settings given", root_in);
            return -1;
        }
        if (ss_s3_url_parse(root_in, c.bucket, sizeof c.bucket, pfx, sizeof pfx, err, errlen) != 0) return -1;
        snprintf(c.prefix, sizeof c.prefix, "%s%s", pfx, pfx[0] ? "/" : "");
        if (snprintf(c.tmp, sizeof c.tmp, "%s/.verify-%ld.parquet", o->scratch, (long)getpid()) >= (int)sizeof c.tmp) {
            ss_seterr(err, errlen, "scratch dir path too long: %s", o->scratch);
            return -1;
        }
        snprintf(root, sizeof root, "%s", root_in);
        if (!(c.s3 = ss_s3_new(o->s3, err, errlen))) return -1;
    } else {
        if (!realpath(root_in, root)) {
            ss_seterr(err, errlen, "cannot open the archive (%s): %s", strerror(errno), root_in);
            return -1;
        }
        struct stat rs;
        if (stat(root, &rs) != 0 || !S_ISDIR(rs.st_mode)) {
            ss_seterr(err, errlen, "%s is not a directory", root);
            return -1;
        }
        /* the archive's identity */
        ss_archive_marker m;
        int have_m = ss_archive_marker_read(root, &m, err, errlen);
        if (have_m < 0) return -1;
        if (have_m) snprintf(st->archive_id, sizeof st->archive_id, "%s", m.id);
        for (size_t i = 0; i < nledgers; i++) {
            char lid[SS_ARCHIVE_ID_MAX + 1] = "";
            int b = ss_ledger_meta_get(ledgers[i], SS_ARCHIVE_META_ID, lid, sizeof lid);
            if (b < 0) {
                ss_seterr(err, errlen, "%s: %s", ledger_paths[i], ss_ledger_errstr(ledgers[i]));
                return -1;
            }
            if (i == 0 && b) snprintf(st->ledger_archive_id, sizeof st->ledger_archive_id, "%s", lid);
            if (!b) continue;
            if (!have_m)
                problem(&c, SS_VERIFY_NO_MARKER, "", 0, 0,
                        "the ledger %s is bound to archive %s, but %s has no %s: not that archive, or its marker was "
                        "removed",
                        ledger_paths[i], lid, root, SS_ARCHIVE_MARKER);
            else if (strcmp(lid, m.id) != 0)
                problem(&c, SS_VERIFY_ARCHIVE_ID, "", 0, 0, "the ledger %s is bound to archive %s, but %s is archive %s",
                        ledger_paths[i], lid, root, m.id);
        }
    }
    lfiles lf = {0};
    dfiles df = {0};
    int rc = -1;
    for (size_t i = 0; i < nledgers; i++) {
        lf.ledger = ledger_paths[i];
        int r = ss_ledger_files(ledgers[i], add_lfile, &lf);
        if (lf.oom) {
            ss_seterr(err, errlen, "out of memory loading the ledger's files");
            goto out;
        }
        if (r != 0) {
            ss_seterr(err, errlen, "%s: %s", ledger_paths[i], ss_ledger_errstr(ledgers[i]));
            goto out;
        }
    }
    if (c.s3) {
        s3walk sw = {&df, strlen(c.prefix)};
        if (ss_s3_list(c.s3, c.bucket, c.prefix, add_object, &sw) != 0) {
            ss_seterr(err, errlen, "listing %s: %s", root, ss_s3_errstr(c.s3));
            goto out;
        }
        if (df.oom) {
            ss_seterr(err, errlen, "out of memory listing the archive");
            goto out;
        }
    } else if (walk(root, "", 0, &df, err, errlen) != 0) goto out;
    if (lf.n) qsort(lf.v, lf.n, sizeof *lf.v, cmp_lfile);
    if (df.n) qsort(df.v, df.n, sizeof *df.v, cmp_str);
    st->files_on_disk = df.n;
    st->temporaries = df.temporaries;
    size_t i = 0, j = 0;
    while (i < lf.n || j < df.n) {
        int cmp = i == lf.n ? 1 : j == df.n ? -1 : strcmp(lf.v[i].path, df.v[j]);
        if (cmp > 0) { /* on disk, no commit names it */
            problem(&c, SS_VERIFY_UNKNOWN, df.v[j], 0, 0, "on disk, but no commit in the ledger%s names it",
                    nledgers > 1 ? "s" : "");
            j++;
            continue;
        }
        /* a committed file (cmp < 0: not listed; check_file reports it missing) */
        const char *path = lf.v[i].path;
        st->files_checked++;
        if (check_file(&c, root, &lf.v[i]) == 0) {
            st->files_ok++;
            st->rows += lf.v[i].rows;
            st->bytes += lf.v[i].bytes;
        }
        i++;
        /* the same path committed again (a name rewritten): checked above against each commit */
        if (cmp == 0 && (i == lf.n || strcmp(lf.v[i].path, path) != 0)) j++;
    }
    rc = 0;
out:
    for (size_t k = 0; k < lf.n; k++) free(lf.v[k].path);
    free(lf.v);
    for (size_t k = 0; k < df.n; k++) free(df.v[k]);
    free(df.v);
    if (c.s3) {
        unlink(c.tmp);
        ss_s3_free(c.s3);
    }
    return rc;
}
