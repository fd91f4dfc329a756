/* One part file of one (type, hour) partition, written atomically.
 *
 * The Parquet writer writes to ".NAME.parquet.tmp" beside the final name (same directory,
 * so the rename is atomic and readers globbing *.parquet never see it); finishing fsyncs
 * the file, renames it and fsyncs the directory, so after ss_ar_file_finish() returns the
 * file is durable under its final name. Finishing is two steps a caller may separate:
 * sealing (footer, fsync, checksum; still the temporary) and publishing (rename, directory
 * fsync), so a crash between them leaves a complete but unpublished temporary, and after a crash before that there is at most a
 * stale temporary, never a truncated .parquet. The SHA-256 of the finished bytes is
 * computed for the DataWriter's run ledger.
 *
 * A failed system call keeps its errno (from the Parquet writer, the read-back, the rename,
 * the directory fsync): kept in f for append and cut, in errno on return where f is freed
 * (open, seal, publish, finish; abort leaves errno alone). The DataWriter's /healthz names
 * the errno, never words of the message (archive.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "archive/archive.h"
#include "util/err.h"
#include "util/fs.h"

struct ss_ar_file {
    ss_type type;
    int64_t hour_start;
    ss_pq_writer *w;
    ss_ar_mapper *m;
    ss_ar_options o;
    uint64_t rows, flagged;
    ss_pq_kv kv[3];
    char dir[SS_AR_MAX_PATH];
    char path[SS_AR_MAX_PATH];
    char tmp[SS_AR_MAX_PATH];
    char errstr[256];
    int sys_errno; /* the errno behind errstr (0: not a system call's failure) */
    int sealed; /* footer written, temporary fsynced and checksummed; not yet renamed */
};

void ss_ar_options_init(ss_ar_options *o) {
    memset(o, 0, sizeof *o);
    o->codec = SS_PQ_CODEC_ZSTD;
    o->zstd_level = SS_AR_DEFAULT_ZSTD_LEVEL;
    o->row_group_rows = SS_AR_ROW_GROUP_ROWS;
    o->row_group_bytes = SS_AR_ROW_GROUP_BYTES;
    o->page_bytes = SS_AR_PAGE_BYTES;
    o->dict_max_bytes = 1u << 20;
    o->fsync = 1;
    o->checksum = 1;
}


/* The failure of a call that leaves no object: errno says whether a system call failed. */
static int with_errno(int e) {
    errno = e;
    return -1;
}

ss_ar_file *ss_ar_file_open(const char *root, ss_type t, int64_t hour_time_us, const char *name,
                            const ss_ar_options *o, char *err, size_t errlen) {
    if (!ss_ar_valid_name(name)) {
        ss_seterr(err, errlen, "invalid part file name '%s' (use [A-Za-z0-9._-], not starting with '.' or '-')",
               name ? name : "");
        with_errno(0);
        return NULL;
    }
    if ((unsigned)t >= SS_TYPE__COUNT) {
        ss_seterr(err, errlen, "invalid archive type");
        with_errno(0);
        return NULL;
    }
    ss_ar_file *f = calloc(1, sizeof *f);
    if (!f) {
        ss_seterr(err, errlen, "out of memory");
        with_errno(0);
        return NULL;
    }
    if (o) f->o = *o;
    else ss_ar_options_init(&f->o);
    f->type = t;
    if (ss_ar_partition_dir(f->dir, sizeof f->dir, root, t, hour_time_us) < 0) {
        ss_seterr(err, errlen, "time_us out of the partitionable range (1970..9999) or path too long");
        free(f);
        with_errno(0);
        return NULL;
    }
    f->hour_start = ss_ar_hour_start(hour_time_us);
    int n1 = snprintf(f->path, sizeof f->path, "%s/%s.parquet", f->dir, name);
    int n2 = snprintf(f->tmp, sizeof f->tmp, "%s/.%s.parquet.tmp", f->dir, name);
    if (n1 < 0 || n2 < 0 || (size_t)n1 >= sizeof f->path || (size_t)n2 >= sizeof f->tmp) {
        ss_seterr(err, errlen, "output path too long under '%s'", root);
        free(f);
        with_errno(0);
        return NULL;
    }
    if (ss_mkdir_p(f->dir, 0755, f->o.fsync) != 0) {
        int e = errno; /* the caller may classify the failure (the writer's /healthz reason) */
        ss_seterr(err, errlen, "cannot create directory (%s): %s", strerror(e), f->dir);
        free(f);
        with_errno(e);
        return NULL;
    }
    f->m = ss_ar_mapper_new();
    if (!f->m) {
        ss_seterr(err, errlen, "out of memory");
        free(f);
        with_errno(0);
        return NULL;
    }
    f->kv[0] = (ss_pq_kv){"skyspool.schema_version", SS_AR_SCHEMA_VERSION_STR};
    f->kv[1] = (ss_pq_kv){"skyspool.type", ss_type_name(t)};
    ss_pq_options po;
    ss_pq_options_init(&po);
    po.codec = f->o.codec;
    po.zstd_level = f->o.zstd_level;
    if (f->o.row_group_rows) po.row_group_rows = f->o.row_group_rows;
    if (f->o.row_group_bytes) po.row_group_bytes = f->o.row_group_bytes;
    if (f->o.page_bytes) po.page_bytes = f->o.page_bytes;
    if (f->o.dict_max_bytes) po.dict_max_bytes = f->o.dict_max_bytes;
    po.kv = f->kv;
    po.nkv = 2;
    /* rows arrive roughly in time order: a row group in exact time_us order says so in its
     * sorting_columns (the writer checks; a row group with one event out of order claims nothing) */
    static const char *const sorted[2] = {"time_us", "time"};
    po.sorted = sorted;
    po.nsorted = 2;
    po.fsync = f->o.fsync;
    po.replace_bad_utf8 = 1;
    size_t ncols;
    const ss_pq_column *cols = ss_ar_schema(t, &ncols);
    f->w = ss_pq_open(f->tmp, cols, ncols, &po);
    if (!f->w || ss_pq_err(f->w)) {
        int e = ss_pq_sys_errno(f->w);
        ss_seterr(err, errlen, "cannot open %s: %s", f->tmp, f->w ? ss_pq_errstr(f->w) : "out of memory");
        if (f->w) ss_pq_abort(f->w);
        unlink(f->tmp);
        ss_ar_mapper_free(f->m);
        free(f);
        with_errno(e); /* after the unlink, whose ENOENT is no news */
        return NULL;
    }
    return f;
}

const char *ss_ar_file_errstr(const ss_ar_file *f) { return f->errstr; }
int ss_ar_file_errno(const ss_ar_file *f) { return f->sys_errno; }
uint64_t ss_ar_file_rows(const ss_ar_file *f) { return f->rows; }
uint64_t ss_ar_file_row_groups(const ss_ar_file *f) { return ss_pq_row_groups(f->w); }

int ss_ar_file_cut(ss_ar_file *f) {
    if (f->errstr[0]) return -1;
    if (ss_pq_flush(f->w) != 0) {
        snprintf(f->errstr, sizeof f->errstr, "%s", ss_pq_errstr(f->w));
        f->sys_errno = ss_pq_sys_errno(f->w);
        return -1;
    }
    return 0;
}

int ss_ar_file_append(ss_ar_file *f, const ss_event *ev) {
    if (f->errstr[0]) return -1;
    if (ev->type != f->type) {
        snprintf(f->errstr, sizeof f->errstr, "event of type %s appended to a %s file", ss_type_name(ev->type),
                 ss_type_name(f->type));
        return -1;
    }
    if (ev->time_us < SS_AR_TIME_MIN_US || ev->time_us > SS_AR_TIME_MAX_US ||
        ss_ar_hour_start(ev->time_us) != f->hour_start) {
        snprintf(f->errstr, sizeof f->errstr, "event time_us %lld is outside the file's hour partition",
                 (long long)ev->time_us);
        return -1;
    }
    ss_ar_row row;
    if (ss_ar_map(f->m, ev, &row) != 0) {
        snprintf(f->errstr, sizeof f->errstr, "out of memory mapping a record");
        return -1;
    }
    if (ss_ar_write_row(f->w, ev, &row) != 0) {
        snprintf(f->errstr, sizeof f->errstr, "parquet: %s", ss_pq_errstr(f->w));
        f->sys_errno = ss_pq_sys_errno(f->w); /* a row group flushed by this row met the disk */
        return -1;
    }
    f->rows++;
    if (row.flags) f->flagged++;
    return 0;
}

/* 0, or -1 with *e the errno of the failed open or read (0: the digest itself failed). */
static int sha256_file(const char *path, char hex[65], int *e) {
    *e = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        *e = errno;
        return -1;
    }
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1;
    static __thread unsigned char buf[1 << 16];
    ssize_t r;
    while (ok && (r = read(fd, buf, sizeof buf)) != 0) {
        if (r < 0) {
            if (errno == EINTR) continue;
            *e = errno;
            ok = 0;
            break;
        }
        ok = EVP_DigestUpdate(ctx, buf, (size_t)r) == 1;
    }
    unsigned char md[32];
    unsigned mdlen = 0;
    if (ok) ok = EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 && mdlen == 32;
    EVP_MD_CTX_free(ctx);
    close(fd);
    if (!ok) return -1;
    for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", md[i]);
    return 0;
}

static void free_file(ss_ar_file *f) {
    ss_ar_mapper_free(f->m);
    free(f);
}

int ss_ar_file_seal(ss_ar_file *f, ss_ar_file_result *res, char *err, size_t errlen) {
    ss_ar_file_result local;
    if (!res) res = &local;
    memset(res, 0, sizeof *res);
    if (f->sealed) {
        ss_seterr(err, errlen, "%s is already sealed", f->tmp);
        return with_errno(0);
    }
    if (f->errstr[0]) {
        int e = f->sys_errno;
        ss_seterr(err, errlen, "%s", f->errstr);
        ss_ar_file_abort(f);
        return with_errno(e);
    }
    ss_pq_stats st;
    char perr[256] = "";
    int rc = ss_pq_close(f->w, &st, perr, sizeof perr);
    int e = errno; /* ss_pq_close's sys_errno on failure (parquet.h) */
    f->w = NULL;
    if (rc != 0) {
        ss_seterr(err, errlen, "parquet: %s (%s)", perr, f->tmp);
        ss_ar_file_abort(f);
        return with_errno(e);
    }
    if (f->o.checksum && sha256_file(f->tmp, res->sha256, &e) != 0) {
        if (e) ss_seterr(err, errlen, "cannot read back (%s): %s", strerror(e), f->tmp);
        else ss_seterr(err, errlen, "cannot checksum (SHA-256 failed): %s", f->tmp);
        ss_ar_file_abort(f);
        return with_errno(e);
    }
    snprintf(res->path, sizeof res->path, "%s", f->path);
    res->rows = st.rows;
    res->row_groups = st.row_groups;
    res->bytes = st.file_bytes;
    res->utf8_replaced = st.utf8_replaced;
    res->rows_flagged = f->flagged;
    f->sealed = 1;
    return 0;
}

int ss_ar_file_publish(ss_ar_file *f, char *err, size_t errlen) {
    if (!f->sealed) {
        ss_seterr(err, errlen, "%s is not sealed", f->tmp);
        ss_ar_file_abort(f);
        return with_errno(0);
    }
    if (rename(f->tmp, f->path) != 0) {
        int e = errno;
        ss_seterr(err, errlen, "cannot rename into (%s): %s", strerror(e), f->path);
        ss_ar_file_abort(f);
        return with_errno(e);
    }
    if (f->o.fsync && ss_fsync_dir(f->dir) != 0) {
        int e = errno;
        ss_seterr(err, errlen, "cannot fsync directory (%s): %s", strerror(e), f->dir);
        free_file(f);
        return with_errno(e);
    }
    free_file(f);
    return 0;
}

int ss_ar_file_finish(ss_ar_file *f, ss_ar_file_result *res, char *err, size_t errlen) {
    if (ss_ar_file_seal(f, res, err, errlen) != 0) return -1;
    return ss_ar_file_publish(f, err, errlen);
}

void ss_ar_file_abort(ss_ar_file *f) {
    if (!f) return;
    int e = errno; /* a caller's errno survives the cleanup (the unlink may fail: nothing to remove) */
    if (f->w) ss_pq_abort(f->w);
    unlink(f->tmp);
    free_file(f);
    errno = e;
}
