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
 * exactly). This source knows nothing of Redis. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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

/* Opens every selected file of hour h and positions each on its first row. */
static int open_hour(ss_source *s, arch_src *a, const hour_dir *h) {
    for (int t = 0; t < SS_TYPE__COUNT; t++) {
        if (!(a->types & (1u << t))) continue;
        char dir[PATH_MAX];
        if (snprintf(dir, sizeof dir, "%s/type=%s", h->path, ss_type_name((ss_type)t)) >= (int)sizeof dir)
            return ss_source_fail(s, "a path under %s is too long", a->root), -1;
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
    if (rootn == 0) return ss_source_fail(s, "a directory is required, e.g. archive:archive?since=2025-08-07T00:00:00Z"), -1;
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
            rc = ss_source_fail(s, "'%s' is not key=value (since=, until=, types=)", kv);
            break;
        }
        *eq = '\0';
        const char *v = eq + 1;
        if (!strcmp(kv, "since") || !strcmp(kv, "until")) {
            int64_t t;
            if (parse_time(v, &t)) {
                rc = ss_source_fail(s, "bad value for %s: '%s' (time_us or RFC 3339, e.g. 2025-08-07T10:00:00Z)", kv, v);
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
                    rc = ss_source_fail(s, "bad value for types: unknown type '%s' (post, like, repost, follow, block, "
                                           "identity, account, other)", tn);
                    break;
                }
                a->types |= 1u << t;
            }
            free(tl);
            if (!rc && !a->types) rc = ss_source_fail(s, "bad value for types: an empty list");
        } else {
            rc = ss_source_fail(s, "unknown key '%s' (since=, until=, types=)", kv);
        }
    }
    free(rest);
    return rc ? -1 : 0;
}

static int arch_open(ss_source *s, const char *args, const ss_source_opts *opts) {
    (void)opts;
    arch_src *a = calloc(1, sizeof *a);
    if (!a) return ss_source_fail(s, "out of memory"), -1;
    s->impl = a;
    ss_buf_init(&a->out);
    a->from = INT64_MIN;
    if (parse_args(s, a, args)) return -1;
    struct stat st;
    if (stat(a->root, &st) != 0) return ss_source_fail(s, "%s: %s", a->root, strerror(errno)), -1;
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
    free(a->root);
    ss_buf_free(&a->out);
    free(a);
    s->impl = NULL;
}

const ss_source_vtbl ss_source_archive = {
    .scheme = "archive",
    .usage = "archive:DIR[?since=T&until=T&types=post,like]  a skyspool archive read back, in time order; cursor = time_us",
    .open = arch_open,
    .next = arch_next,
    .seek = arch_seek,
    .close = arch_close,
};
