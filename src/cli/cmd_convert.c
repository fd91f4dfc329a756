/* `skyspool convert`: Jetstream JSONL (files, .zst files or stdin) to the hive-partitioned
 * Parquet archive, the same layout the DataWriter writes. It is the backfill tool for
 * NDJSON archives people already hold.
 *
 * The pipeline is single-threaded and streaming: the file: source hands out lines as
 * slices of its read buffer, ss_decode() checks and views each event, and the archive
 * sink routes it to a (type, hour) part file, keeping a bounded number open. Nothing is
 * dropped silently: a line that is not a valid event, or whose time_us cannot be
 * partitioned, is written with its reason to DIR/_rejects/rejects-TAG.jsonl and counted.
 *
 * File names are deterministic from the inputs' content: TAG is a hash of the bytes of
 * every input file as stored (compressed bytes for .zst; one hash per file, the set of them
 * sorted, so order and repeats do not matter), or --tag (required for stdin). Converting the
 * same content again into the same DIR rewrites the same files instead of adding
 * duplicates, and after a successful run any other part-TAG-* file in DIR (left by an
 * earlier run of the same content that split partitions differently, or was interrupted) is
 * removed as stale. Content, not paths: a new day.jsonl converted through yesterday's path
 * has another tag and removes nothing of yesterday's files, and the same file under two
 * names is one tag, not two copies. Hashing costs one extra read of the inputs before the
 * conversion (a few GB/s from the page cache; compressed inputs are smaller still).
 *
 * Duplicates within a run (the same dedup key, ss_event_dedup_key, as the DataWriter uses)
 * are written once and counted: the run keeps a set of the 64-bit fingerprints of the keys
 * it wrote, ~12-24 bytes per event (so ~1 GB for 60 M events). Two distinct keys collide
 * with odds n^2 / 2^65 for n events (1e-4 for a 60 M-event run), as in the writer. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "archive/archive.h"
#include "cli/cli.h"
#include "cli/cli_writer.h"
#include "cli/config.h"
#include "cli/convert_remote.h"
#include "event/event.h"
#include "source/source.h"
#include "util/buf.h"
#include "util/fs.h"
#include "util/hash.h"
#include "util/utf8.h"
#include "writer/migrate.h"
#include "util/clock.h"
#include "util/progress.h"

#define CMD "convert"
#define CONVERT_DEFAULT_MAX_OPEN 16
#define CONVERT_MAX_OPEN_LIMIT 1024
#define CONVERT_MAX_REASONS 32
#define REJECT_KEEP_BYTES (64u * 1024) /* of a rejected line, kept in the rejects file */
#define CONVERT_HASH_BLOCK (1u << 20)   /* read size of the content hash */
#define CONVERT_TAG_HEX 16              /* hex digits of a content tag (64 bits) */
#define CONVERT_DEDUP_MAX_KEYS (1ULL << 34) /* distinct events per run the dedup set may hold */

/* The dedup set: open addressing over 64-bit key fingerprints (0 = empty), grown at 3/4. */
typedef struct {
    uint64_t *slot;
    size_t cap, n; /* cap is a power of two */
} key_set;

static uint64_t key_fp(const uint8_t key[16]) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)key[i] << (8 * i);
    return v ? v : 1;
}

static void key_set_place(uint64_t *slot, size_t cap, uint64_t fp) {
    size_t i = (size_t)(fp * 0x9E3779B97F4A7C15ULL >> 20) & (cap - 1);
    while (slot[i]) i = (i + 1) & (cap - 1);
    slot[i] = fp;
}

/* Returns 1 inserted, 0 already present, -1 out of memory or over the limit. */
static int key_set_put(key_set *ks, const uint8_t key[16]) {
    uint64_t fp = key_fp(key);
    if (ks->cap) {
        size_t i = (size_t)(fp * 0x9E3779B97F4A7C15ULL >> 20) & (ks->cap - 1);
        for (; ks->slot[i]; i = (i + 1) & (ks->cap - 1))
            if (ks->slot[i] == fp) return 0;
    }
    if ((ks->n + 1) * 4 > ks->cap * 3) {
        if (ks->n >= CONVERT_DEDUP_MAX_KEYS) return -1;
        size_t ncap = ks->cap ? ks->cap * 2 : 1u << 16;
        uint64_t *ns = calloc(ncap, sizeof *ns);
        if (!ns) return -1;
        for (size_t i = 0; i < ks->cap; i++)
            if (ks->slot[i]) key_set_place(ns, ncap, ks->slot[i]);
        free(ks->slot);
        ks->slot = ns;
        ks->cap = ncap;
    }
    key_set_place(ks->slot, ks->cap, fp);
    ks->n++;
    return 1;
}

static void usage(FILE *f) {
    fprintf(f,
            "usage: skyspool convert --out DIR|s3://BUCKET/PREFIX [options] FILE.jsonl...\n"
            "\n"
            "Converts Jetstream v1 JSONL into the hive-partitioned Parquet archive\n"
            "  DIR/year=Y/month=M/day=D/hour=H/type=T/part-TAG-NNNNNN.parquet (values unpadded)\n"
            "partitioned by each event's time_us in UTC (never the client's createdAt). Every\n"
            "file has the same 35 columns, the raw record JSON included; each type fills its own\n"
            "(docs/SCHEMA.md). FILE may be '-' for stdin; zstd-compressed files are detected and\n"
            "decompressed. Input is expected roughly in time order, as Jetstream delivers it.\n"
            "Lines that are not valid events are not dropped: they go to\n"
            "DIR/_rejects/rejects-TAG.jsonl with the reason, and are counted. Duplicate events (the\n"
            "writer's dedup key) within a run are written once, and counted. An archive of an older\n"
            "layout (zero-padded month=08) is refused: run `skyspool migrate --out DIR` first.\n"
            "\n"
            "options:\n"
            "  --out DIR              output directory (created if missing), or s3://BUCKET[/PREFIX]:\n"
            "                         each finished file is uploaded and its local copy removed\n"
            "                         (settings s3-endpoint, s3-region, s3-path-style, s3-part-size,\n"
            "                         s3-storage-class; credentials from AWS_ACCESS_KEY_ID and\n"
            "                         AWS_SECRET_ACCESS_KEY or ~/.aws/credentials, never a flag)\n"
            "  --stage-dir DIR        where an S3 run stages its open files (default $TMPDIR or\n"
            "                         /tmp); at most --max-open-files files at a time\n"
            "  --set KEY=VALUE        a setting, e.g. --set s3-endpoint=http://127.0.0.1:9000\n"
            "  --config FILE          settings from a file (also SKYSPOOL_CONFIG)\n"
            "  --codec C              zstd (default), snappy or none\n"
            "  --zstd-level N         1..22 (default %d)\n"
            "  --keep-other           also write collections outside the archived types (type=other)\n"
            "  --max-open-files N     partition files open at once (default %d); memory is bounded by\n"
            "                         N x --row-group-bytes + --spill-bytes\n"
            "  --spill-bytes SIZE     events of partitions without an open file wait here until the\n"
            "                         fullest gets a file (default 32mb; 0: finish a file at once)\n"
            "  --row-group-rows N     rows per row group (default 131072)\n"
            "  --row-group-bytes SIZE buffered bytes per row group and open file (default 12mb)\n"
            "  --page-bytes SIZE      uncompressed bytes per data page (default 4mb)\n"
            "  --tag TAG              file name tag (default: a hash of the inputs' content, so the same\n"
            "                         content names the same files whatever its path; required for\n"
            "                         stdin). A run replaces every earlier file of its tag in DIR, and\n"
            "                         nothing else: new content through an old path adds its own files.\n"
            "  --no-fsync             skip fsync of files and directories (scratch output only)\n"
            "  --json                 print the summary as one JSON object\n"
            "  --no-progress          no progress line (there is one only when stderr is a terminal)\n"
            "  -h, --help             this help\n"
            "\n"
            "examples:\n"
            "  skyspool synth --events 100000 --seed 1 > ev.jsonl\n"
            "  skyspool convert --out archive ev.jsonl\n"
            "  zstdcat old/*.jsonl.zst | skyspool convert --out archive --tag old-2024 -\n"
            "  skyspool convert --out archive --codec snappy --keep-other jetstream-2025-08-*.jsonl.zst\n"
            "  skyspool convert --out s3://my-bucket/bsky ev.jsonl   # [net] credentials in the env\n"
            "\n"
            "Then, in DuckDB:\n"
            "  SELECT type, hour, count(*) FROM read_parquet('archive/**/*.parquet',\n"
            "    hive_partitioning = true) GROUP BY ALL ORDER BY ALL;\n",
            SS_AR_DEFAULT_ZSTD_LEVEL, CONVERT_DEFAULT_MAX_OPEN);
}

typedef struct {
    char name[32];
    uint64_t n;
} reason_count;

typedef struct {
    const char *out;          /* the local archive root, or the staging dir of an S3 archive */
    const char *out_url;      /* s3://BUCKET/PREFIX, or NULL for a local archive */
    ss_convert_remote *rm;    /* when out_url */
    char tag[SS_AR_MAX_NAME + 1];
    int json, quiet, keep_other;
    size_t max_open, spill;
    ss_ar_options ao;

    ss_decoder *dec;
    ss_ar_sink *sink;
    FILE *rejects;
    char rejects_path[SS_AR_MAX_PATH];
    char rejects_tmp[SS_AR_MAX_PATH];
    ss_buf line;

    uint64_t lines, in_bytes, rejected, stale_removed, duplicates;
    key_set keys;
    reason_count reasons[CONVERT_MAX_REASONS];
    size_t nreasons;
    int progress;
    double t0, last_progress;
    int input_i, ninputs;
    int64_t src_pos;          /* its cursor now */     /* the input being read (1-based), of how many: the progress line */
    const ss_source *src;     /* its source: a plain file's size gives a percentage */
    double input_t0;
} convert_ctx;

/* The part files this run wrote, to tell stale ones of the same tag apart. */
typedef struct {
    char **v;
    size_t n, cap;
    int oom;
    ss_convert_remote *rm; /* an S3 archive: each finished file is uploaded (its own key list) */
} path_set;

static void produced_add(void *ctx, ss_type t, const ss_ar_file_result *r) {
    (void)t;
    path_set *ps = ctx;
    if (ps->rm) { /* a failure is kept in rm and ends the run at the next event */
        ss_convert_remote_put(ps->rm, r->path, r->sha256);
        return;
    }
    if (ps->n == ps->cap) {
        size_t cap = ps->cap ? ps->cap * 2 : 64;
        char **v = realloc(ps->v, cap * sizeof *v);
        if (!v) {
            ps->oom = 1;
            return;
        }
        ps->v = v;
        ps->cap = cap;
    }
    if (!(ps->v[ps->n] = strdup(r->path))) ps->oom = 1;
    else ps->n++;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* nftw has no context argument: the walk's state lives here for its duration. */
static struct {
    const path_set *keep;
    const char *tag; /* the run tag: its part-TAG-*.parquet files */
    uint64_t removed;
    int err;
} g_stale;

static int stale_visit(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st;
    if (flag != FTW_F) return 0;
    const char *base = path + ftw->base;
    size_t n = strlen(base);
    /* an interrupted run's temporary: ".part-TAG-NNNNNN.parquet.tmp" */
    int tmp = base[0] == '.' && n > 5 && !strcmp(base + n - 4, ".tmp") && ss_convert_is_part_name(base + 1, n - 5, g_stale.tag);
    int part = ss_convert_is_part_name(base, n, g_stale.tag);
    if (!tmp && !part) return 0;
    const char *key = path;
    if (part && bsearch(&key, g_stale.keep->v, g_stale.keep->n, sizeof(char *), cmp_str)) return 0;
    if (unlink(path) == 0) g_stale.removed++;
    else g_stale.err = errno;
    return 0;
}

/* Removes part-TAG-*.parquet files under out that this run did not write, and temporaries
 * of this tag left by an interrupted run. */
static int remove_stale(const char *out, const char *tag, path_set *keep, uint64_t *removed) {
    qsort(keep->v, keep->n, sizeof(char *), cmp_str);
    g_stale.keep = keep;
    g_stale.tag = tag;
    g_stale.removed = 0;
    g_stale.err = 0;
    int rc = nftw(out, stale_visit, 32, FTW_PHYS);
    *removed = g_stale.removed;
    return rc == 0 && g_stale.err == 0 ? 0 : -1;
}

/* The 128-bit hash of a file's bytes as stored. Returns 0, or -1 with errno. */
static int hash_file(const char *path, uint8_t out[16]) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    char *buf = malloc(CONVERT_HASH_BLOCK);
    if (!buf) {
        close(fd);
        errno = ENOMEM;
        return -1;
    }
    ss_hash128_state h;
    ss_hash128_init(&h, 0x7461673176ULL); /* "tag1v": not a dedup key */
    int rc = 0;
    for (;;) {
        ssize_t r = read(fd, buf, CONVERT_HASH_BLOCK);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            rc = -1;
            break;
        }
        if (r == 0) break;
        ss_hash128_update(&h, buf, (size_t)r);
    }
    int e = errno;
    free(buf);
    close(fd);
    errno = e;
    if (rc == 0) ss_hash128_final(&h, out);
    return rc;
}

static int cmp_digest(const void *a, const void *b) { return memcmp(a, b, 16); }

/* A tag from the inputs' content: the hash of the sorted set of the files' hashes, so the
 * same content names the same files whatever its paths and order. Returns 0, or 1 after
 * reporting a file that cannot be read. */
static int derive_tag(char *tag, size_t n, char **inputs, int ninputs) {
    uint8_t(*d)[16] = calloc((size_t)ninputs, 16);
    if (!d) return ss_cmd_fail(CMD, "out of memory");
    for (int i = 0; i < ninputs; i++)
        if (hash_file(inputs[i], d[i]) != 0) {
            int e = errno;
            free(d);
            return ss_cmd_error(CMD, ss_err_class_of_errno(e), "cannot read (%s): %s", strerror(e), inputs[i]);
        }
    qsort(d, (size_t)ninputs, 16, cmp_digest);
    ss_hash128_state h;
    ss_hash128_init(&h, 0x7461673176ULL);
    for (int i = 0; i < ninputs; i++)
        if (i == 0 || memcmp(d[i], d[i - 1], 16) != 0) ss_hash128_update(&h, d[i], 16);
    free(d);
    uint8_t out[16];
    char hex[33];
    ss_hash128_final(&h, out);
    ss_hash128_hex(out, hex);
    snprintf(tag, n, "%.*s", CONVERT_TAG_HEX, hex);
    return 0;
}

/* Per-reason counts; reasons are a short fixed vocabulary, the last slot collects any
 * overflow as "other". */
static void count_reason(convert_ctx *c, const char *reason) {
    for (size_t i = 0; i < c->nreasons; i++)
        if (!strcmp(c->reasons[i].name, reason)) {
            c->reasons[i].n++;
            return;
        }
    if (c->nreasons == CONVERT_MAX_REASONS) {
        c->reasons[CONVERT_MAX_REASONS - 1].n++;
        return;
    }
    reason_count *r = &c->reasons[c->nreasons++];
    snprintf(r->name, sizeof r->name, "%s", c->nreasons == CONVERT_MAX_REASONS ? "other" : reason);
    r->n = 1;
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int append_base64(ss_buf *b, const unsigned char *s, size_t n) {
    if (ss_buf_putc(b, '"') != 0) return -1;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)s[i] << 16 | (i + 1 < n ? (unsigned)s[i + 1] << 8 : 0) | (i + 2 < n ? s[i + 2] : 0);
        char q[4] = {b64[v >> 18 & 63], b64[v >> 12 & 63], i + 1 < n ? b64[v >> 6 & 63] : '=',
                     i + 2 < n ? b64[v & 63] : '='};
        if (ss_buf_append(b, q, 4) != 0) return -1;
    }
    return ss_buf_putc(b, '"');
}

/* One JSON line per rejected input line: where it came from, why, and the line itself
 * (as a string when it is valid UTF-8, else base64), capped at REJECT_KEEP_BYTES. */
static int reject(convert_ctx *c, const char *input, int64_t offset, const char *reason, const char *detail,
                  const char *data, size_t len) {
    c->rejected++;
    count_reason(c, reason);
    if (!c->rejects) {
        char dir[SS_AR_MAX_PATH];
        snprintf(dir, sizeof dir, "%s/_rejects", c->out);
        if (ss_mkdir_p(dir, 0755, c->ao.fsync) != 0) return -1;
        c->rejects = fopen(c->rejects_tmp, "w");
        if (!c->rejects) return -1;
    }
    ss_buf *b = &c->line;
    ss_buf_reset(b);
    size_t keep = len < REJECT_KEEP_BYTES ? len : REJECT_KEEP_BYTES;
    char abs[PATH_MAX];
    const char *name = strcmp(input, "-") != 0 && realpath(input, abs) ? abs : input;
    int rc = ss_buf_puts(b, "{\"input\":");
    rc |= ss_buf_append_json_string(b, name, strlen(name));
    rc |= ss_buf_printf(b, ",\"offset\":%lld,\"reason\":", (long long)offset);
    rc |= ss_buf_append_json_string(b, reason, strlen(reason));
    rc |= ss_buf_puts(b, ",\"error\":");
    rc |= ss_buf_append_json_string(b, detail, strlen(detail));
    rc |= ss_buf_printf(b, ",\"bytes\":%zu,", len);
    if (ss_utf8_valid(data, keep, NULL)) {
        rc |= ss_buf_puts(b, "\"line\":");
        rc |= ss_buf_append_json_string(b, data, keep);
    } else {
        rc |= ss_buf_puts(b, "\"line_base64\":");
        rc |= append_base64(b, (const unsigned char *)data, keep);
    }
    rc |= ss_buf_printf(b, ",\"truncated\":%s}\n", keep < len ? "true" : "false");
    if (rc != 0) return -1;
    return fwrite(b->data, 1, b->len, c->rejects) == b->len ? 0 : -1;
}

static void progress(convert_ctx *c, int final) {
    if (!c->progress) return;
    double t = ss_mono_s();
    if (!final && t - c->last_progress < 1.0) return;
    c->last_progress = t;
    const ss_ar_sink_stats *st = ss_ar_sink_stats_get(c->sink);
    double el = t - c->t0;
    char where[96] = "";
    if (!final && c->src && c->ninputs > 0) {
        char eta[64] = "";
        ss_progress_eta(eta, sizeof eta, (double)c->src_pos, 0, (double)c->src->cursor_end, t - c->input_t0);
        snprintf(where, sizeof where, ", input %d/%d%s", c->input_i, c->ninputs, eta);
    }
    ss_progress_draw("%llu events, %llu files, %.1f MB in, %llu rejects, %.0f events/s%s",
                     (unsigned long long)st->events, (unsigned long long)st->files, c->in_bytes / 1e6,
                     (unsigned long long)c->rejected, el > 0 ? st->events / el : 0.0, where);
    if (final) ss_progress_end(1);
}

/* 1: the first event of its dedup key in this run; 0: a duplicate; -1: out of memory. */
static int dedup(convert_ctx *c, const ss_event *ev) {
    uint8_t key[16];
    ss_event_dedup_key(ev, key);
    return key_set_put(&c->keys, key);
}

static ss_err_class s3_class(ss_s3_errcode e) {
    switch (e) {
    case SS_S3_ERR_DENIED: return SS_ERR_PERMISSION;
    case SS_S3_ERR_PROTOCOL: return SS_ERR_PROTOCOL;
    case SS_S3_ERR_LOCAL: return SS_ERR_IO;
    default: return SS_ERR_IO;
    }
}

static int remote_fail(convert_ctx *c) {
    return ss_cmd_error(CMD, s3_class(ss_convert_remote_err(c->rm)), "%s", ss_convert_remote_errstr(c->rm));
}

/* Returns 0, or the exit status of a failure (already reported). */
static int convert_input(convert_ctx *c, const char *input) {
    char spec[PATH_MAX + 8], err[2048];
    snprintf(spec, sizeof spec, "file:%s", input);
    ss_source_opts so;
    ss_source_opts_init(&so);
    ss_err_class cls;
    ss_source *src = ss_source_open(spec, &so, err, sizeof err, &cls);
    if (!src) return ss_cmd_error(CMD, cls, "%s", err); /* err names the input */
    int64_t offset = 0;
    int rc = 0;
    c->src = src;
    c->src_pos = 0;
    c->input_t0 = ss_mono_s();
    for (;;) {
        ss_source_msg msg;
        int r = ss_source_next(src, &msg, 1000);
        if (r == SS_SOURCE_AGAIN || r == SS_SOURCE_GAP) continue; /* a gap was logged by the source */
        if (r == SS_SOURCE_END) break;
        if (r == SS_SOURCE_ERR) {
            rc = ss_cmd_fail(CMD, "%s: %s", input, src->errstr);
            break;
        }
        c->lines++;
        c->in_bytes += (uint64_t)(msg.cursor - offset);
        c->src_pos = msg.cursor;
        int rj = 0, dk;
        if (msg.bad_reason) {
            rj = reject(c, input, offset, msg.bad_reason, "the source could not read this line", msg.data, msg.len);
        } else {
            ss_event ev;
            ss_decode_reason dr = ss_decode(c->dec, msg.data, msg.len, &ev);
            if (dr != SS_DECODE_OK) {
                rj = reject(c, input, offset, ss_decode_reason_name(dr), ss_decoder_errstr(c->dec), msg.data,
                            msg.len);
            } else if (ev.time_us < SS_AR_TIME_MIN_US || ev.time_us > SS_AR_TIME_MAX_US) {
                rj = reject(c, input, offset, "time_out_of_range",
                            "time_us is outside 1970-01-01 .. 9999-12-31 and cannot be partitioned", msg.data,
                            msg.len);
            } else if ((ev.type != SS_TYPE_OTHER || c->keep_other) && (dk = dedup(c, &ev)) != 1) {
                if (dk < 0) {
                    rc = ss_cmd_fail(CMD, "out of memory for the dedup set (%zu distinct events so far)", c->keys.n);
                    break;
                }
                c->duplicates++;
            } else if (ss_ar_sink_add(c->sink, &ev) < 0) {
                rc = ss_cmd_fail(CMD, "writing %s: %s", c->out, ss_ar_sink_errstr(c->sink));
                break;
            }
            if (c->rm && ss_convert_remote_failed(c->rm)) {
                rc = remote_fail(c);
                break;
            }
        }
        if (rj != 0) {
            rc = ss_cmd_fail(CMD, "cannot write %s: %s", c->rejects_tmp, strerror(errno));
            break;
        }
        offset = msg.cursor;
        if ((c->lines & 0xFFFF) == 0) progress(c, 0);
    }
    c->src = NULL;
    ss_source_close(src);
    return rc;
}

static int finish_rejects(convert_ctx *c, int do_fsync) {
    if (!c->rejects) return 0;
    int ok = fflush(c->rejects) == 0 && (!do_fsync || fsync(fileno(c->rejects)) == 0);
    ok = (fclose(c->rejects) == 0) && ok;
    c->rejects = NULL;
    if (!ok || ss_rename_durable(c->rejects_tmp, c->rejects_path, do_fsync) != 0) {
        int e = errno;
        unlink(c->rejects_tmp); /* the stream is closed: main() no longer sees the file */
        return ss_cmd_fail(CMD, "cannot write %s: %s", c->rejects_path, strerror(e));
    }
    return 0;
}

static void print_summary(convert_ctx *c, double elapsed, int ok) {
    const ss_ar_sink_stats *st = ss_ar_sink_stats_get(c->sink);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double cpu = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
    double bpe = st->events ? (double)st->bytes / (double)st->events : 0.0;
    if (c->json) {
        printf("{\"ok\":%s,\"out\":", ok ? "true" : "false");
        ss_buf b;
        ss_buf_init(&b);
        const char *where = c->out_url ? c->out_url : c->out;
        ss_buf_append_json_string(&b, where, strlen(where));
        fwrite(b.data, 1, b.len, stdout);
        ss_buf_free(&b);
        if (c->rm)
            printf(",\"uploaded_objects\":%llu,\"uploaded_bytes\":%llu",
                   (unsigned long long)ss_convert_remote_objects(c->rm), (unsigned long long)ss_convert_remote_bytes(c->rm));
        printf(",\"tag\":\"%s\",\"lines\":%llu,\"events\":%llu,\"duplicates\":%llu,\"rows\":{", c->tag,
               (unsigned long long)c->lines, (unsigned long long)st->events, (unsigned long long)c->duplicates);
        for (int t = 0; t < SS_TYPE__COUNT; t++)
            printf("%s\"%s\":%llu", t ? "," : "", ss_type_name((ss_type)t), (unsigned long long)st->rows[t]);
        printf("},\"skipped_other\":%llu,\"files\":%llu,\"row_groups\":%llu,\"bytes\":%llu,\"bytes_per_event\":%.2f,"
               "\"input_bytes\":%llu,\"rejects\":%llu,\"reject_reasons\":{",
               (unsigned long long)st->skipped_other, (unsigned long long)st->files,
               (unsigned long long)st->row_groups, (unsigned long long)st->bytes, bpe,
               (unsigned long long)c->in_bytes, (unsigned long long)c->rejected);
        for (size_t i = 0; i < c->nreasons; i++)
            printf("%s\"%s\":%llu", i ? "," : "", c->reasons[i].name, (unsigned long long)c->reasons[i].n);
        printf("},\"utf8_replaced\":%llu,\"rows_flagged\":%llu,\"evictions\":%llu,\"spilled\":%llu,\"partitions\":%llu,\"stale_removed\":%llu,\"elapsed_s\":%.3f,"
               "\"cpu_s\":%.3f,\"events_per_s\":%.0f,\"events_per_cpu_s\":%.0f,\"max_rss_kb\":%ld}\n",
               (unsigned long long)st->utf8_replaced, (unsigned long long)st->rows_flagged,
               (unsigned long long)st->evictions, (unsigned long long)st->spilled,
               (unsigned long long)st->partitions,
               (unsigned long long)c->stale_removed, elapsed, cpu,
               elapsed > 0 ? st->events / elapsed : 0.0, cpu > 0 ? st->events / cpu : 0.0, ru.ru_maxrss);
        return;
    }
    printf("converted %llu events from %llu lines (%.1f MB) into %s\n", (unsigned long long)st->events,
           (unsigned long long)c->lines, c->in_bytes / 1e6, c->out_url ? c->out_url : c->out);
    if (c->rm)
        printf("uploaded         %llu objects, %.1f MB (staged one file at a time in %s)\n",
               (unsigned long long)ss_convert_remote_objects(c->rm), ss_convert_remote_bytes(c->rm) / 1e6, c->out);
    for (int t = 0; t < SS_TYPE__COUNT; t++)
        if (st->rows[t]) printf("  %-9s %12llu rows\n", ss_type_name((ss_type)t), (unsigned long long)st->rows[t]);
    if (st->skipped_other)
        printf("  other collections skipped: %llu (use --keep-other to write them)\n",
               (unsigned long long)st->skipped_other);
    printf("files            %llu in %llu partitions (%llu row groups; %llu files finished early to bound memory,\n"
           "                 %llu events held back for partitions without an open file)\n",
           (unsigned long long)st->files, (unsigned long long)st->partitions, (unsigned long long)st->row_groups,
           (unsigned long long)st->evictions, (unsigned long long)st->spilled);
    printf("bytes            %llu (%.1f bytes/event, codec %s)\n", (unsigned long long)st->bytes, bpe,
           ss_pq_codec_name(c->ao.codec));
    printf("rejects          %llu", (unsigned long long)c->rejected);
    for (size_t i = 0; i < c->nreasons; i++)
        printf("%s%s %llu", i ? ", " : " (", c->reasons[i].name, (unsigned long long)c->reasons[i].n);
    printf("%s\n", c->nreasons ? ") -> _rejects/" : "");
    printf("duplicates       %llu removed (same dedup key as the writer: did, collection, rkey, rev, operation;\n"
           "                 identity/account: did, seq, kind)\n",
           (unsigned long long)c->duplicates);
    printf("utf8 replaced    %llu strings\n", (unsigned long long)st->utf8_replaced);
    if (c->stale_removed)
        printf("stale removed    %llu files of tag %s from an earlier run\n", (unsigned long long)c->stale_removed,
               c->tag);
    if (st->files > 2 * st->partitions + 16)
        fprintf(stderr,
                "skyspool convert: warning: the input is far from time order: %llu files for %llu partitions. "
                "Sort it by time_us, or raise --max-open-files or --spill-bytes (memory grows with them).\n",
                (unsigned long long)st->files, (unsigned long long)st->partitions);
    printf("elapsed          %.2f s, %.0f events/s, %.2f CPU s, peak RSS %ld MB\n", elapsed,
           elapsed > 0 ? st->events / elapsed : 0.0, cpu, ru.ru_maxrss / 1024);
}

static int remove_visit(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st;
    (void)ftw;
    if (flag == FTW_DP) rmdir(path);
    else unlink(path);
    return 0;
}

/* Removes a staging directory and everything in it (what a failed run left staged). */
static void remove_tree(const char *dir) { nftw(dir, remove_visit, 32, FTW_DEPTH | FTW_PHYS); }

/* --out s3://: the S3 settings, a fresh staging dir (c->out from now on) and the S3 client,
 * which checks the credentials with one request before any work. Returns 0, or the exit
 * status of a failure (already reported; nothing is left staged). */
static int open_remote(convert_ctx *c, ss_config *cfg, const char *parent, char *stage, size_t n) {
    const ss_s3_config *s3;
    size_t part_size;
    int r = ss_cli_s3_config(CMD, cfg, &s3, &part_size);
    if (r != 0) return r;
    if (!parent) {
        const char *t = getenv("TMPDIR");
        parent = t && *t ? t : "/tmp";
    }
    if (snprintf(stage, n, "%s/skyspool-convert-%s.XXXXXX", parent, c->tag) >= (int)n)
        return ss_usage_error(CMD, "--stage-dir path is too long");
    if (!mkdtemp(stage)) return ss_cmd_error(CMD, ss_err_class_of_errno(errno), "cannot create a staging dir in %s: %s", parent, strerror(errno));
    char err[2048];
    ss_s3_errcode code;
    c->out_url = c->out;
    c->out = stage;
    c->ao.checksum = 1; /* each object carries the SHA-256 of its bytes */
    if (!(c->rm = ss_convert_remote_new(c->out_url, s3, part_size, stage, &code, err, sizeof err))) {
        remove_tree(stage);
        return ss_cmd_error(CMD, s3_class(code), "%s", err);
    }
    return 0;
}

/* The command; cfg holds the settings (--set, --config, the environment) of an S3 --out. */
static int convert_run(int argc, char **argv, ss_config *cfg) {
    enum { O_OUT = 1, O_STAGE, O_CODEC, O_LEVEL, O_KEEP, O_MAXOPEN, O_RGROWS, O_RGBYTES, O_PAGE, O_SPILL, O_TAG, O_NOFSYNC, O_JSON, O_QUIET, O_QUIET_OLD };
    static const struct option opts[] = {{"out", required_argument, 0, O_OUT},
                                         {"stage-dir", required_argument, 0, O_STAGE},
                                         {"config", required_argument, 0, SS_OPT_CONFIG},
                                         {"set", required_argument, 0, SS_OPT_SET},
                                         {"codec", required_argument, 0, O_CODEC},
                                         {"zstd-level", required_argument, 0, O_LEVEL},
                                         {"keep-other", no_argument, 0, O_KEEP},
                                         {"max-open-files", required_argument, 0, O_MAXOPEN},
                                         {"row-group-rows", required_argument, 0, O_RGROWS},
                                         {"row-group-bytes", required_argument, 0, O_RGBYTES},
                                         {"page-bytes", required_argument, 0, O_PAGE},
                                         {"spill-bytes", required_argument, 0, O_SPILL},
                                         {"tag", required_argument, 0, O_TAG},
                                         {"no-fsync", no_argument, 0, O_NOFSYNC},
                                         {"json", no_argument, 0, O_JSON},
                                         {"no-progress", no_argument, 0, O_QUIET},
                                         {"quiet", no_argument, 0, O_QUIET_OLD}, /* deprecated: --no-progress */
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    convert_ctx c;
    memset(&c, 0, sizeof c);
    ss_ar_options_init(&c.ao);
    c.ao.checksum = 0; /* nobody records it here; the DataWriter's ledger does */
    c.max_open = CONVERT_DEFAULT_MAX_OPEN;
    c.spill = SS_AR_DEFAULT_SPILL_BYTES;
    const char *tag = NULL, *stage_parent = NULL;
    long long v;
    int opt;
    char cerr[1024];
    optind = 1;
    while ((opt = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        int h = ss_config_handle_opt(cfg, opt, optarg, cerr, sizeof cerr);
        if (h < 0) return ss_usage_error(CMD, "%s", cerr);
        if (h == 1) continue;
        switch (opt) {
        case O_OUT: c.out = optarg; break;
        case O_STAGE: stage_parent = optarg; break;
        case O_CODEC:
            if (ss_pq_codec_parse(optarg, &c.ao.codec) != 0)
                return ss_usage_error(CMD, "--codec must be zstd, snappy or none (got '%s')", optarg);
            break;
        case O_LEVEL:
            if (ss_parse_i64(optarg, 1, 22, &v) != 0)
                return ss_usage_error(CMD, "--zstd-level must be an integer from 1 to 22 (got '%s')", optarg);
            c.ao.zstd_level = (int)v;
            break;
        case O_KEEP: c.keep_other = 1; break;
        case O_MAXOPEN:
            if (ss_parse_i64(optarg, 1, CONVERT_MAX_OPEN_LIMIT, &v) != 0)
                return ss_usage_error(CMD, "--max-open-files must be from 1 to %d (got '%s')", CONVERT_MAX_OPEN_LIMIT,
                                      optarg);
            c.max_open = (size_t)v;
            break;
        case O_RGROWS:
            if (ss_parse_i64(optarg, 1, 1LL << 30, &v) != 0)
                return ss_usage_error(CMD, "--row-group-rows must be a positive integer (got '%s')", optarg);
            c.ao.row_group_rows = (size_t)v;
            break;
        case O_RGBYTES:
            if (ss_parse_bytes(optarg, &v) != 0 || v < 4096 || v > (1LL << 32))
                return ss_usage_error(CMD, "--row-group-bytes must be a size from 4kb to 4gb, e.g. 16mb (got '%s')",
                                      optarg);
            c.ao.row_group_bytes = (size_t)v;
            break;
        case O_PAGE:
            if (ss_parse_bytes(optarg, &v) != 0 || v < 1024 || v > (256LL << 20))
                return ss_usage_error(CMD, "--page-bytes must be a size from 1kb to 256mb, e.g. 1mb (got '%s')", optarg);
            c.ao.page_bytes = (size_t)v;
            break;
        case O_SPILL:
            if (ss_parse_bytes(optarg, &v) != 0 || v < 0 || v > (1LL << 34))
                return ss_usage_error(CMD, "--spill-bytes must be a size up to 16gb, e.g. 32mb, or 0 (got '%s')", optarg);
            c.spill = (size_t)v;
            break;
        case O_TAG: tag = optarg; break;
        case O_NOFSYNC: c.ao.fsync = 0; break;
        case O_JSON: c.json = 1; break;
        case O_QUIET_OLD: ss_cli_deprecated("convert", "--quiet", "--no-progress"); /* fall through */
        case O_QUIET: c.quiet = 1; break;
        case 'h': usage(stdout); return 0;
        default: return ss_usage_error(CMD, "unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (!c.out || !*c.out) return ss_usage_error(CMD, "--out DIR is required");
    if (optind >= argc) return ss_usage_error(CMD, "name at least one input FILE.jsonl (or '-' for stdin)");
    char **inputs = argv + optind;
    int ninputs = argc - optind;
    int nstdin = 0;
    for (int i = 0; i < ninputs; i++) nstdin += !strcmp(inputs[i], "-");
    if (nstdin > 1) return ss_usage_error(CMD, "'-' (stdin) may be given only once");
    if (nstdin && !tag)
        return ss_usage_error(CMD, "reading stdin needs --tag NAME: file names come from the inputs, and two "
                                   "different streams must not name the same files");
    if (tag) {
        if (!ss_ar_valid_name(tag) || strlen(tag) > 64)
            return ss_usage_error(CMD, "--tag must be 1-64 characters of [A-Za-z0-9._-], not starting with '.' or '-'");
        snprintf(c.tag, sizeof c.tag, "%s", tag);
    } else if (derive_tag(c.tag, sizeof c.tag, inputs, ninputs) != 0) {
        return 1;
    }
    if (ss_config_load(cfg, cerr, sizeof cerr) != 0) return ss_usage_error(CMD, "%s", cerr);
    char stage[PATH_MAX];
    if (!strncmp(c.out, "s3://", 5)) {
        int r = open_remote(&c, cfg, stage_parent, stage, sizeof stage);
        if (r != 0) return r;
    } else if (stage_parent) {
        return ss_usage_error(CMD, "--stage-dir is for --out s3://; a local --out is written in place");
    }
    if (strlen(c.out) > SS_AR_MAX_PATH - 256) return ss_usage_error(CMD, "--out path is too long");
    if (ss_mkdir_p(c.out, 0755, c.ao.fsync) != 0) return ss_cmd_fail(CMD, "cannot create %s: %s", c.out, strerror(errno));
    if (!c.rm) {
        char lerr[1024];
        if (ss_archive_layout_check(c.out, lerr, sizeof lerr) != 0) return ss_cmd_fail(CMD, "%s", lerr);
    }
    snprintf(c.rejects_path, sizeof c.rejects_path, "%s/_rejects/rejects-%s.jsonl", c.out, c.tag);
    snprintf(c.rejects_tmp, sizeof c.rejects_tmp, "%s/_rejects/.rejects-%s.jsonl.tmp", c.out, c.tag);

    char err[512];
    c.dec = ss_decoder_new(NULL);
    c.sink = ss_ar_sink_new(c.out, c.tag, &c.ao, c.max_open, c.keep_other, err, sizeof err);
    ss_buf_init(&c.line);
    path_set produced = {0};
    produced.rm = c.rm;
    int rc = 0;
    if (!c.dec || !c.sink) rc = ss_cmd_fail(CMD, "%s", c.sink ? "out of memory" : err);
    else {
        ss_ar_sink_on_file(c.sink, produced_add, &produced);
        ss_ar_sink_set_spill(c.sink, c.spill);
    }
    c.progress = !c.quiet && ss_progress_begin(STDERR_FILENO);
    c.ninputs = ninputs;
    c.t0 = c.last_progress = ss_mono_s();
    for (int i = 0; rc == 0 && i < ninputs; i++) {
        c.input_i = i + 1;
        rc = convert_input(&c, inputs[i]);
    }
    if (rc == 0 && ss_ar_sink_finish(c.sink) != 0) rc = ss_cmd_fail(CMD, "writing %s: %s", c.out, ss_ar_sink_errstr(c.sink));
    if (rc == 0 && c.rm && ss_convert_remote_failed(c.rm)) rc = remote_fail(&c);
    if (rc == 0) rc = finish_rejects(&c, c.ao.fsync);
    if (c.rejects) {
        fclose(c.rejects);
        unlink(c.rejects_tmp);
    }
    if (rc == 0 && produced.oom) rc = ss_cmd_fail(CMD, "out of memory");
    if (rc == 0 && c.rm) {
        /* the rejects file, or the removal of an earlier run's; then, the run being complete,
         * every other object of this tag is from an earlier run */
        int r = c.rejected ? ss_convert_remote_put(c.rm, c.rejects_path, "") : ss_convert_remote_delete(c.rm, c.rejects_path);
        if (r == 0) r = ss_convert_remote_remove_stale(c.rm, c.tag, &c.stale_removed);
        if (r != 0) rc = remote_fail(&c);
    } else if (rc == 0) {
        /* the run is complete: anything else of this tag is from an earlier run */
        if (remove_stale(c.out, c.tag, &produced, &c.stale_removed) != 0)
            rc = ss_cmd_fail(CMD, "cannot remove stale part-%s-* files under %s: %s", c.tag, c.out, strerror(errno));
        if (c.rejected == 0 && unlink(c.rejects_path) == 0) c.stale_removed++;
    }
    for (size_t i = 0; i < produced.n; i++) free(produced.v[i]);
    free(produced.v);
    if (c.sink) {
        progress(&c, 1);
        print_summary(&c, ss_mono_s() - c.t0, rc == 0);
    }
    ss_ar_sink_free(c.sink);
    ss_decoder_free(c.dec);
    ss_buf_free(&c.line);
    free(c.keys.slot);
    if (c.rm) {
        remove_tree(stage);
        ss_convert_remote_free(c.rm);
    }
    return rc;
}

int ss_cmd_convert(int argc, char **argv) {
    ss_config *cfg = ss_config_new();
    if (!cfg) return ss_cmd_fail(CMD, "out of memory");
    int rc = convert_run(argc, argv, cfg);
    ss_config_free(cfg);
    return rc;
}
