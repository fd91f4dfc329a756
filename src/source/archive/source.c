/* The `archive:` source: a skyspool archive read back as Jetstream v1 events.
 *
 * archive:DIR[?since=T&until=T&types=post,like,...] walks the hive tree the archive writes
 * (DIR/year=Y/month=M/day=D/hour=H/type=T/NAME.parquet; zero-padded values of layout 1 parse too; docs/SCHEMA.md), decodes
 * every row with the Parquet reader (parquet/reader.h) and turns it back into its event
 * (archive/readback.h). since (inclusive) and until (exclusive) are time_us or RFC 3339;
 * types is a comma-separated list of archive types (default all).
 *
 * Order: partitions are hours, disjoint in time_us, so hours are read one after another in
 * ascending order, and within an hour the files of every selected type are merged by
 * time_us (ties: type order, then file name, then row order). A file's rows are in the
 * order they were written, which for Jetstream input is time order but not strictly (the
 * writer does not sort); the merge never reorders rows of one file, so the output is in
 * time_us order exactly when each file is. Memory: one decoded row group per file of the
 * hour being read.
 *
 * Pruning: hours outside [since, until) are skipped by their directory names, before any
 * file is opened; types by their type= directory. Within the hour rows are filtered by
 * time_us. Only committed files are read: hidden files (.NAME.parquet.tmp, a writer at
 * work or one that crashed) and anything not named *.parquet are skipped, and so are
 * directories that are not partitions (_rejects). A file a crashed DataWriter renamed into
 * place but never committed is removed by that writer's recovery; until then, without the
 * run ledger, it cannot be told apart and is read (`skyspool verify` tells).
 *
 * The cursor is time_us, as for jetstream:, and seeking to C yields the events with
 * time_us >= C (again from the first hour that can hold them): an event at the cursor
 * itself comes again, so several events sharing one time_us are never skipped on resume;
 * the ingester's dedup drops the repeat. A file's rows are not sorted, so an event written
 * after the cursor's event but dated before it would be skipped by an exact resume: the
 * ingester therefore resumes ARCH_RESUME_MARGIN_US (5 s, as for jetstream:) earlier, and
 * only an event more than 5 s out of order at a crash could be missed (cat --cursor seeks
 * exactly). This source knows nothing of Redis.
 *
 * archive:s3://BUCKET[/PREFIX] reads an archive in S3 (opts->s3: endpoint, region,
 * credentials). At open the prefix is listed once (LIST v2, keys in byte order) and its
 * partition directories are made, empty, in a scratch dir (TMPDIR/skyspool-archive-XXXXXX),
 * so the walk above runs unchanged; when an hour is opened its selected files are
 * downloaded there, opened, and unlinked at once (the reader keeps its descriptor), so
 * local disk holds at most the files of the hour being read. The scratch dir goes at close. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "archive/archive.h"
#include "archive/readback.h"
#include "parquet/reader.h"
#include "source/source.h"
#include "util/buf.h"
#include "util/civil.h"

#define ARCH_MAX_ARGS 4096         /* bytes of the text after "archive:" */
#define ARCH_MAX_HOURS (1u << 22)  /* hour partitions in one archive (478 years) */
#define ARCH_MAX_FILES_PER_HOUR 4096 /* files merged at once (all types of one hour) */
#define ARCH_RESUME_MARGIN_US (5 * 1000000LL) /* ingest rewinds this far on resume (as for jetstream:) */
#define ARCH_MAX_OBJECTS (1u << 24)  /* objects listed under an S3 prefix (16M: decades of 5-minute parts) */

typedef struct {
    int64_t start; /* µs of the hour's start */
    char *path;    /* DIR/year=/month=/day=/hour= */
} hour_dir;

typedef struct {
    ss_pq_reader *r;
    ss_ar_readback rb;
    char *path;
    int64_t t; /* time_us of the current row */
} member;

typedef struct {
    char *root;
    int64_t since, until, from;
    unsigned types; /* bit per ss_type */
    hour_dir *hours;
    size_t nhours, hcap, next_hour;
    member *m;
    size_t nm;
    ss_buf out;
    uint64_t files_read;
    /* archive:s3:// only */
    ss_s3 *s3;
    char *url;                /* s3://BUCKET[/PREFIX], for messages */
    char bucket[SS_S3_MAX_BUCKET + 1];
    char prefix[SS_S3_MAX_KEY + 1]; /* "" or "PREFIX/" */
    char **keys;              /* object keys relative to prefix, in byte order */
    size_t nkeys, kcap;
    int kfail; /* add_key failed (the source's error is set) */
} arch_src;

static int cmp_hour(const void *a, const void *b) {
    const hour_dir *x = a, *y = b;
    return (x->start > y->start) - (x->start < y->start);
}

/* "key=NNN" with a number in [lo, hi]; returns -1 when name is not that. */
static long part_num(const char *name, const char *key, long lo, long hi) {
    size_t k = strlen(key);
    if (strncmp(name, key, k) != 0 || name[k] != '=') return -1;
    const char *p = name + k + 1;
    if (!*p || strlen(p) > 4) return -1;
    long v = 0;
    for (; *p; p++) {
        if (*p < '0' || *p > '9') return -1;
        v = v * 10 + (*p - '0');
    }
    return v >= lo && v <= hi ? v : -1;
}

typedef struct {
    char **names;
    size_t n, cap;
} namelist;

static void names_free(namelist *l) {
    for (size_t i = 0; i < l->n; i++) free(l->names[i]);
    free(l->names);
    l->names = NULL;
    l->n = l->cap = 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Names in dir (sorted); a missing dir is empty. -1 on an error other than ENOENT. */
static int list_dir(const char *dir, namelist *l, int *eno) {
    DIR *d = opendir(dir);
    if (!d) {
        *eno = errno;
        return errno == ENOENT || errno == ENOTDIR ? 0 : -1;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue; /* ., .., hidden temporaries */
        if (l->n == l->cap) {
            size_t nc = l->cap ? l->cap * 2 : 16;
            char **nn = realloc(l->names, nc * sizeof *nn);
            if (!nn) {
                closedir(d);
                *eno = ENOMEM;
                return -1;
            }
            l->names = nn;
            l->cap = nc;
        }
        if (!(l->names[l->n] = strdup(e->d_name))) {
            closedir(d);
            *eno = ENOMEM;
            return -1;
        }
        l->n++;
    }
    closedir(d);
    if (l->n > 1) qsort(l->names, l->n, sizeof *l->names, cmp_str);
    return 0;
}

static int add_hour(ss_source *s, arch_src *a, const char *path, int64_t start) {
    if (start + 3600000000LL <= a->since || start >= a->until) return 0; /* pruned by name */
    if (a->nhours >= ARCH_MAX_HOURS) return ss_source_fail(s, "more than %u hour partitions", ARCH_MAX_HOURS), -1;
    if (a->nhours == a->hcap) {
        size_t nc = a->hcap ? a->hcap * 2 : 64;
        hour_dir *h = realloc(a->hours, nc * sizeof *h);
        if (!h) return ss_source_fail(s, "out of memory"), -1;
        a->hours = h;
        a->hcap = nc;
    }
    if (!(a->hours[a->nhours].path = strdup(path))) return ss_source_fail(s, "out of memory"), -1;
    a->hours[a->nhours++].start = start;
    return 0;
}

/* Finds every hour partition under root, pruned by [since, until), sorted by time. */
static int scan_hours(ss_source *s, arch_src *a) {
    static const char *const keys[4] = {"year", "month", "day", "hour"};
    static const long lo[4] = {1970, 1, 1, 0}, hi[4] = {9999, 12, 31, 23};
    namelist l[4] = {{0}};
    size_t idx[4] = {0};
    char path[4][PATH_MAX];
    long v[4];
    int eno = 0, rc = 0, depth = 0;
    snprintf(path[0], sizeof path[0], "%s", a->root);
    if (list_dir(path[0], &l[0], &eno)) return ss_source_fail(s, "%s: %s", a->root, strerror(eno)), -1;
    /* an iterative walk: depth d lists the children of path[d] in l[d] */
    while (depth >= 0) {
        if (idx[depth] >= l[depth].n) {
            names_free(&l[depth]);
            idx[depth] = 0;
            depth--;
            if (depth >= 0) idx[depth]++;
            continue;
        }
        const char *name = l[depth].names[idx[depth]];
        v[depth] = part_num(name, keys[depth], lo[depth], hi[depth]);
        if (v[depth] < 0) { /* not a partition (e.g. _rejects, the archive marker) */
            idx[depth]++;
            continue;
        }
        char child[PATH_MAX];
        if (snprintf(child, sizeof child, "%s/%s", path[depth], name) >= (int)sizeof child) {
            rc = ss_source_fail(s, "a path under %s is too long", a->root);
            break;
        }
        if (depth == 3) {
            int64_t days = ss_days_from_civil(v[0], (unsigned)v[1], (unsigned)v[2]);
            int y, mo, d;
            ss_civil_from_days(days, &y, &mo, &d);
            int real = y == v[0] && mo == v[1] && d == v[2]; /* not day=31 of a 30-day month */
            if (real && add_hour(s, a, child, (days * 24 + v[3]) * 3600000000LL) != 0) {
                rc = -1;
                break;
            }
            idx[depth]++;
            continue;
        }
        snprintf(path[depth + 1], sizeof path[depth + 1], "%s", child);
        if (list_dir(child, &l[depth + 1], &eno)) {
            rc = ss_source_fail(s, "%s: %s", child, strerror(eno));
            break;
        }
        depth++;
    }
    for (int i = 0; i < 4; i++) names_free(&l[i]);
    if (rc) return -1;
    if (a->nhours > 1) qsort(a->hours, a->nhours, sizeof *a->hours, cmp_hour);
    return 0;
}

static void close_members(arch_src *a) {
    for (size_t i = 0; i < a->nm; i++) {
        ss_pq_reader_close(a->m[i].r);
        free(a->m[i].path);
    }
    free(a->m);
    a->m = NULL;
    a->nm = 0;
}

/* Moves member i to its next row inside [lo, until); 1 there is one, 0 the file ended. */
static int advance(ss_source *s, arch_src *a, member *m) {
    int64_t lo = a->since > a->from ? a->since : a->from;
    int tcol = m->rb.time_us;
    for (;;) {
        int r = ss_pq_reader_next(m->r);
        if (r < 0) return ss_source_fail(s, "%s: %s", m->path, ss_pq_reader_errstr(m->r)), -1;
        if (r == 0) return 0;
        m->t = ss_pq_reader_int(m->r, (size_t)tcol);
        if (m->t >= lo && m->t < a->until) return 1;
    }
}

/* archive:s3://: the objects under the prefix, and their directories made in the scratch root. */
static int mkdirs(char *path) { /* mkdir -p of path's directory part (path is modified, then restored) */
    for (char *p = path + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        int r = mkdir(path, 0700);
        *p = '/';
        if (r != 0 && errno != EEXIST) return -1;
    }
    return 0;
}

static int add_key(void *ctx, const char *key, uint64_t size) {
    (void)size;
    ss_source *s = ctx;
    arch_src *a = s->impl;
    const char *rel = key + strlen(a->prefix);
    size_t n = strlen(rel);
    const char *base = strrchr(rel, '/');
    if (!base || base[1] == '.' || n <= 8 || strcmp(rel + n - 8, ".parquet") != 0) return 0; /* not a part file */
    if (a->nkeys >= ARCH_MAX_OBJECTS) return ss_source_fail(s, "%s: more than %u objects", a->url, ARCH_MAX_OBJECTS), a->kfail = 1;
    if (a->nkeys == a->kcap) {
        size_t nc = a->kcap ? a->kcap * 2 : 1024;
        char **v = realloc(a->keys, nc * sizeof *v);
        if (!v) return ss_source_fail(s, "out of memory"), a->kfail = 1;
        a->keys = v;
        a->kcap = nc;
    }
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/%s", a->root, rel) >= (int)sizeof path)
        return ss_source_fail(s, "%s: key too long for the scratch dir: %s", a->url, rel), a->kfail = 1;
    if (mkdirs(path) != 0) return ss_source_fail(s, "cannot create (%s): %s", strerror(errno), path), a->kfail = 1;
    if (!(a->keys[a->nkeys] = strdup(rel))) return ss_source_fail(s, "out of memory"), a->kfail = 1;
    a->nkeys++;
    return 0;
}

static int s3_open(ss_source *s, arch_src *a, const ss_source_opts *opts) {
    if (!opts || !opts->s3) return ss_source_failc(s, SS_ERR_USAGE, "%s: no S3 settings given", a->root), -1;
    char pfx[SS_S3_MAX_KEY], err[1024];
    if (ss_s3_url_parse(a->root, a->bucket, sizeof a->bucket, pfx, sizeof pfx, err, sizeof err) != 0)
        return ss_source_failc(s, SS_ERR_USAGE, "%s", err), -1;
    snprintf(a->prefix, sizeof a->prefix, "%s%s", pfx, pfx[0] ? "/" : "");
    a->url = a->root;
    const char *tmp = getenv("TMPDIR");
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/skyspool-archive-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) return ss_source_fail(s, "cannot create a scratch dir (%s): %s", strerror(errno), dir), -1;
    if (!(a->root = strdup(dir))) return ss_source_fail(s, "out of memory"), -1;
    if (!(a->s3 = ss_s3_new(opts->s3, err, sizeof err))) return ss_source_fail(s, "%s: %s", a->url, err), -1;
    if (ss_s3_list(a->s3, a->bucket, a->prefix, add_key, s) != 0)
        return ss_source_fail(s, "listing %s: %s", a->url, ss_s3_errstr(a->s3)), -1;
    return a->kfail ? -1 : 0;
}

/* Downloads the objects under DIR (relative to the scratch root) into it. */
static int s3_fetch(ss_source *s, arch_src *a, const char *dir) {
    const char *rel = dir + strlen(a->root) + 1;
    size_t rl = strlen(rel);
    size_t lo = 0, hi = a->nkeys; /* the first key >= rel */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(a->keys[mid], rel) < 0) lo = mid + 1;
        else hi = mid;
    }
    for (size_t i = lo; i < a->nkeys && !strncmp(a->keys[i], rel, rl); i++) {
        if (a->keys[i][rl] != '/' || strchr(a->keys[i] + rl + 1, '/')) continue;
        char key[SS_S3_MAX_KEY + 1], path[PATH_MAX];
        snprintf(key, sizeof key, "%s%s", a->prefix, a->keys[i]);
        snprintf(path, sizeof path, "%s/%s", a->root, a->keys[i]);
        if (ss_s3_get_file(a->s3, a->bucket, key, path) != 0) {
            if (ss_s3_err(a->s3) == SS_S3_ERR_NOT_FOUND) continue; /* deleted since the listing */
            return ss_source_fail(s, "downloading s3://%s/%s: %s", a->bucket, key, ss_s3_errstr(a->s3)), -1;
        }
    }
    return 0;
}

/* Removes the scratch tree (empty directories, and files left by an error). */
static void rm_tree(const char *dir, int depth) {
    DIR *d = depth < 8 ? opendir(dir) : NULL;
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            char p[PATH_MAX];
            if (snprintf(p, sizeof p, "%s/%s", dir, e->d_name) >= (int)sizeof p) continue;
            struct stat st;
            if (lstat(p, &st) != 0) continue;
            if (S_ISDIR(st.st_mode)) rm_tree(p, depth + 1);
            else unlink(p);
        }
        closedir(d);
    }
    rmdir(dir);
}

/* Opens every selected file of hour h and positions each on its first row. */
static int open_hour(ss_source *s, arch_src *a, const hour_dir *h) {
    for (int t = 0; t < SS_TYPE__COUNT; t++) {
        if (!(a->types & (1u << t))) continue;
        char dir[PATH_MAX];
        if (snprintf(dir, sizeof dir, "%s/type=%s", h->path, ss_type_name((ss_type)t)) >= (int)sizeof dir)
            return ss_source_fail(s, "a path under %s is too long", a->root), -1;
        if (a->s3 && s3_fetch(s, a, dir) != 0) return -1;
        namelist l = {0};
        int eno = 0;
        if (list_dir(dir, &l, &eno)) {
            names_free(&l);
            return ss_source_fail(s, "%s: %s", dir, strerror(eno)), -1;
        }
        for (size_t i = 0; i < l.n; i++) {
            size_t n = strlen(l.names[i]);
            if (n <= 8 || strcmp(l.names[i] + n - 8, ".parquet") != 0) continue;
            char path[PATH_MAX];
            struct stat st;
            if (snprintf(path, sizeof path, "%s/%s", dir, l.names[i]) >= (int)sizeof path || stat(path, &st) != 0 ||
                !S_ISREG(st.st_mode))
                continue;
            if (a->nm >= ARCH_MAX_FILES_PER_HOUR) {
                names_free(&l);
                return ss_source_fail(s, "%s: more than %u files in one hour", h->path, ARCH_MAX_FILES_PER_HOUR), -1;
            }
            member *nm = realloc(a->m, (a->nm + 1) * sizeof *nm);
            if (!nm) {
                names_free(&l);
                return ss_source_fail(s, "out of memory"), -1;
            }
            a->m = nm;
            member *m = &a->m[a->nm];
            memset(m, 0, sizeof *m);
            m->path = strdup(path);
            m->r = ss_pq_reader_open(path);
            if (a->s3) unlink(path); /* the reader keeps its descriptor: the disk is freed when it closes */
            a->nm++;
            char err[256];
            if (!m->path || !m->r) {
                names_free(&l);
                return ss_source_fail(s, "out of memory"), -1;
            }
            if (ss_pq_reader_err(m->r)) {
                names_free(&l);
                return ss_source_fail(s, "%s: %s", path, ss_pq_reader_errstr(m->r)), -1;
            }
            if (ss_ar_readback_init(&m->rb, m->r, (ss_type)t, err, sizeof err)) {
                names_free(&l);
                return ss_source_fail(s, "%s: %s", path, err), -1;
            }
            a->files_read++;
            int r = advance(s, a, m);
            if (r < 0) {
                names_free(&l);
                return -1;
            }
            if (r == 0) { /* nothing in range: close at once */
                ss_pq_reader_close(m->r);
                free(m->path);
                a->nm--;
            }
        }
        names_free(&l);
    }
    return 0;
}

static int parse_time(const char *v, int64_t *out) {
    if (!*v) return -1;
    int digits = 1;
    for (const char *p = v; *p; p++) digits &= *p >= '0' && *p <= '9';
    if (digits) {
        if (strlen(v) > 18) return -1;
        *out = strtoll(v, NULL, 10);
        return 0;
    }
    return ss_ar_parse_rfc3339(v, strlen(v), out);
}

static int parse_args(ss_source *s, arch_src *a, const char *args) {
    if (strlen(args) > ARCH_MAX_ARGS) return ss_source_fail(s, "arguments longer than %u bytes", ARCH_MAX_ARGS), -1;
    const char *q = strchr(args, '?');
    size_t rootn = q ? (size_t)(q - args) : strlen(args);
    if (rootn == 0) return ss_source_failc(s, SS_ERR_USAGE, "a directory is required, e.g. archive:archive?since=2025-08-07T00:00:00Z"), -1;
    if (!(a->root = strndup(args, rootn))) return ss_source_fail(s, "out of memory"), -1;
    a->since = INT64_MIN;
    a->until = INT64_MAX;
    a->types = (1u << SS_TYPE__COUNT) - 1;
    if (!q) return 0;
    char *rest = strdup(q + 1), *save = NULL;
    if (!rest) return ss_source_fail(s, "out of memory"), -1;
    int rc = 0;
    for (char *kv = strtok_r(rest, "&", &save); kv && !rc; kv = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(kv, '=');
        if (!eq) {
            rc = ss_source_failc(s, SS_ERR_USAGE, "'%s' is not key=value (since=, until=, types=)", kv);
            break;
        }
        *eq = '\0';
        const char *v = eq + 1;
        if (!strcmp(kv, "since") || !strcmp(kv, "until")) {
            int64_t t;
            if (parse_time(v, &t)) {
                rc = ss_source_failc(s, SS_ERR_USAGE, "bad value for %s: '%s' (time_us or RFC 3339, e.g. 2025-08-07T10:00:00Z)", kv, v);
                break;
            }
            if (kv[0] == 's') a->since = t;
            else a->until = t;
        } else if (!strcmp(kv, "types")) {
            a->types = 0;
            char *tl = strdup(v), *ts = NULL;
            if (!tl) {
                rc = ss_source_fail(s, "out of memory");
                break;
            }
            for (char *tn = strtok_r(tl, ",", &ts); tn; tn = strtok_r(NULL, ",", &ts)) {
                int t = ss_type_from_name(tn);
                if (t < 0) {
                    rc = ss_source_failc(s, SS_ERR_USAGE, "bad value for types: unknown type '%s' (post, like, repost, follow, block, "
                                           "identity, account, other)", tn);
                    break;
                }
                a->types |= 1u << t;
            }
            free(tl);
            if (!rc && !a->types) rc = ss_source_failc(s, SS_ERR_USAGE, "bad value for types: an empty list");
        } else {
            rc = ss_source_failc(s, SS_ERR_USAGE, "unknown key '%s' (since=, until=, types=)", kv);
        }
    }
    free(rest);
    return rc ? -1 : 0;
}

static int arch_open(ss_source *s, const char *args, const ss_source_opts *opts) {
    arch_src *a = calloc(1, sizeof *a);
    if (!a) return ss_source_fail(s, "out of memory"), -1;
    s->impl = a;
    ss_buf_init(&a->out);
    a->from = INT64_MIN;
    if (parse_args(s, a, args)) return -1;
    if (!strncmp(a->root, "s3://", 5)) {
        if (s3_open(s, a, opts) != 0) return -1;
        ss_source_set_file_id(s, "archive", a->url, NULL);
        s->cursor_name = "time_us";
        s->resume_margin = ARCH_RESUME_MARGIN_US;
        return scan_hours(s, a);
    }
    struct stat st;
    if (stat(a->root, &st) != 0) { /* the cause before the path: a long path cut off keeps it */
        int e = errno;
        return ss_source_failc(s, ss_err_class_of_errno(e), "cannot open (%s): %s", strerror(e), a->root), -1;
    }
    if (!S_ISDIR(st.st_mode)) return ss_source_fail(s, "%s: not a directory (the archive root)", a->root), -1;
    ss_source_set_file_id(s, "archive", a->root, NULL);
    s->cursor_name = "time_us";
    s->resume_margin = ARCH_RESUME_MARGIN_US;
    return scan_hours(s, a);
}

static int arch_next(ss_source *s, ss_source_msg *msg, int timeout_ms) {
    arch_src *a = s->impl;
    (void)timeout_ms;
    while (a->nm == 0) {
        if (a->next_hour >= a->nhours) return SS_SOURCE_END;
        const hour_dir *h = &a->hours[a->next_hour++];
        int64_t lo = a->since > a->from ? a->since : a->from;
        if (h->start + 3600000000LL <= lo) continue;
        if (open_hour(s, a, h)) {
            close_members(a);
            return SS_SOURCE_ERR;
        }
    }
    size_t best = 0;
    for (size_t i = 1; i < a->nm; i++)
        if (a->m[i].t < a->m[best].t) best = i;
    member *m = &a->m[best];
    char err[256];
    ss_buf_reset(&a->out);
    int64_t t;
    if (ss_ar_readback_json(&m->rb, m->r, &a->out, &t, err, sizeof err)) {
        ss_source_fail(s, "%s, row %lld: %s", m->path, (long long)ss_pq_reader_row_index(m->r) - 1, err);
        close_members(a);
        return SS_SOURCE_ERR;
    }
    msg->data = a->out.data;
    msg->len = a->out.len;
    msg->cursor = t;
    int r = advance(s, a, m);
    if (r < 0) {
        close_members(a);
        return SS_SOURCE_ERR;
    }
    if (r == 0) {
        ss_pq_reader_close(m->r);
        free(m->path);
        memmove(&a->m[best], &a->m[best + 1], (a->nm - best - 1) * sizeof *a->m); /* keep the tie order */
        a->nm--;
        if (a->nm == 0) {
            free(a->m);
            a->m = NULL;
        }
    }
    return SS_SOURCE_MSG;
}

static int arch_seek(ss_source *s, int64_t cursor) {
    arch_src *a = s->impl;
    close_members(a);
    a->from = cursor;
    a->next_hour = 0;
    return 0;
}

static void arch_close(ss_source *s) {
    arch_src *a = s->impl;
    if (!a) return;
    close_members(a);
    for (size_t i = 0; i < a->nhours; i++) free(a->hours[i].path);
    free(a->hours);
    if (a->url && a->url != a->root && a->root) rm_tree(a->root, 0);
    ss_s3_free(a->s3);
    if (a->url && a->url != a->root) free(a->url);
    for (size_t i = 0; i < a->nkeys; i++) free(a->keys[i]);
    free(a->keys);
    free(a->root);
    ss_buf_free(&a->out);
    free(a);
    s->impl = NULL;
}

const ss_source_vtbl ss_source_archive = {
    .scheme = "archive",
    .usage = "archive:DIR|s3://BUCKET/PREFIX[?since=T&until=T&types=post,like]  a skyspool archive read back, in time order; cursor = time_us",
    .open = arch_open,
    .next = arch_next,
    .seek = arch_seek,
    .close = arch_close,
};
