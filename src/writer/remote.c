/* The DataWriter's S3 side (docs/design/s3.md). S3 has no rename, so the
 * protocol keeps its order with other steps: the part file is staged under
 * DATA_DIR/s3-staging exactly as it would be written to a local archive (its intent
 * recorded first), then uploaded to the deterministic key PREFIX/<rel>, and only then
 * committed in the ledger; the staged copy is removed after the commit. Recovery removes
 * an intended-but-uncommitted part remotely too (the object and every multipart upload in
 * progress of that key), so a retry rewrites the same key and nothing uncommitted stays
 * visible. Each call makes its own S3 context: uploads run on the finish threads. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/log.h"
#include "writer/crash.h"
#include "writer/writer_internal.h"

int ss_wr_remote_init(ss_writer *w, const ss_writer_opts *o, char *err, size_t errlen) {
    if (ss_s3_url_parse(o->out, w->s3_bucket, sizeof w->s3_bucket, w->s3_prefix, sizeof w->s3_prefix, err, errlen) != 0)
        return -1;
    w->remote = 1;
    w->s3cfg = *o->s3;
    snprintf(w->s3_url, sizeof w->s3_url, "%s", o->out);
    w->s3_part_size = o->s3_part_size ? o->s3_part_size : (16u << 20);
    if (w->s3_part_size < SS_S3_MIN_PART || w->s3_part_size > SS_S3_MAX_PART) {
        snprintf(err, errlen, "s3-part-size must be %u KiB..%u MiB", SS_S3_MIN_PART >> 10, SS_S3_MAX_PART >> 20);
        return -1;
    }
    snprintf(w->out, sizeof w->out, "%.*s/s3-staging", PATH_MAX - 16, o->data_dir);
    /* fail fast on credentials, region, clock or endpoint */
    ss_s3 *s = ss_s3_new(&w->s3cfg, err, errlen);
    if (!s) return -1;
    int rc = ss_s3_probe(s, w->s3_bucket, w->s3_prefix);
    if (rc != 0) snprintf(err, errlen, "%s: %s", w->s3_url, ss_s3_errstr(s));
    ss_s3_free(s);
    return rc;
}

static void key_of(const ss_writer *w, const char *rel, char *key, size_t n) {
    snprintf(key, n, "%s%s%s", w->s3_prefix, w->s3_prefix[0] ? "/" : "", rel);
}

static void on_part(void *ctx, int part_no) {
    (void)ctx;
    (void)part_no;
    ss_writer_crash_point("s3_mid_upload");
}

int ss_wr_remote_upload(const ss_writer *w, const char *rel, const char *sha256, int *fatal, char *err, size_t errlen) {
    char key[SS_S3_MAX_KEY + 1], path[PATH_MAX + 64];
    key_of(w, rel, key, sizeof key);
    snprintf(path, sizeof path, "%s/%s", w->out, rel);
    ss_s3 *s = ss_s3_new(&w->s3cfg, err, errlen);
    if (!s) return -1;
    int rc = ss_s3_upload_file(s, w->s3_bucket, key, path, w->s3_part_size, sha256 && *sha256 ? sha256 : NULL, on_part,
                               NULL);
    if (rc != 0) {
        snprintf(err, errlen, "uploading to s3://%s/%s: %s", w->s3_bucket, key, ss_s3_errstr(s));
        ss_s3_errcode e = ss_s3_err(s);
        *fatal = e == SS_S3_ERR_DENIED || e == SS_S3_ERR_SKEW;
    }
    ss_s3_free(s);
    return rc;
}

int ss_wr_remote_remove(const ss_writer *w, const char *rel, char *err, size_t errlen) {
    char key[SS_S3_MAX_KEY + 1];
    key_of(w, rel, key, sizeof key);
    ss_s3 *s = ss_s3_new(&w->s3cfg, err, errlen);
    if (!s) return -1;
    int rc = ss_s3_delete_all(s, w->s3_bucket, key);
    if (rc != 0) snprintf(err, errlen, "removing the uncommitted s3://%s/%s: %s", w->s3_bucket, key, ss_s3_errstr(s));
    ss_s3_free(s);
    return rc;
}

/* Removes the staged copy of a committed part (its object is in S3 and the ledger has it). */
void ss_wr_remote_unstage(const ss_writer *w, const char *rel) {
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/%s", w->out, rel);
    if (unlink(path) != 0 && errno != ENOENT) ss_warn(LOG, "cannot remove the staged copy %s: %s", path, strerror(errno));
}

#define SWEEP_MAX_DEPTH 8 /* ROOT/year=/month=/day=/hour=/type=/file: 6 levels */

/* Staged files no intent names are committed parts whose copy outlived a crash between the
 * commit and its removal: they go. (A part being written has its intent before its file.) */
static void sweep_dir(ss_writer *w, const char *dir, const char *rel, int depth, unsigned long *removed) {
    if (depth > SWEEP_MAX_DEPTH) return;
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char p[PATH_MAX + 512], r[PATH_MAX + 512];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        snprintf(r, sizeof r, "%s%s%s", rel, rel[0] ? "/" : "", e->d_name);
        struct stat st;
        if (lstat(p, &st) != 0) continue;
        if (S_ISDIR(st.st_mode)) {
            sweep_dir(w, p, r, depth + 1, removed);
            continue;
        }
        size_t n = strlen(r);
        if (!S_ISREG(st.st_mode) || n < 8 || strcmp(r + n - 8, ".parquet") != 0) continue;
        if (e->d_name[0] == '.') continue; /* temporaries: their intent's cleanup removes them */
        if (ss_ledger_intent_exists(w->led, r) == 0 && unlink(p) == 0) (*removed)++;
    }
    closedir(d);
}

void ss_wr_remote_sweep(ss_writer *w) {
    unsigned long removed = 0;
    sweep_dir(w, w->out, "", 0, &removed);
    if (removed) ss_info(LOG, "removed %lu staged copies of committed parts from %s", removed, w->out);
}
