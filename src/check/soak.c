/* `check soak`: the prototype's production readiness, as one command. The whole stack runs for
 * duration_s as real processes -- replay-server serving a Jetstream file, `skyspool ingest`,
 * `skyspool write` -- on the check's own embedded Redis, key prefix, ledger and archive, while
 * the check injects a fault every fault_every_s, cycling through the kinds below. At the end the
 * rest of the input is drained, the writer closes every window, and the archive is compared with
 * what the source served.
 *
 * Why real processes and not threads: the faults are process faults (kill -9 of the writer or
 * the ingester, of redis-server), and what has to survive them is exactly what a deployment
 * runs. The children are this binary itself (opts->exe), so the check tests the build it is.
 *
 * Why the input is a file: the verdict needs to know what went in. The check writes
 * rate x duration synth events (dated from now on, so windows close as in production) to a
 * JSONL file, keeping every event's dedup key; replay-server serves it at --rate. Expected
 * rows = the distinct dedup keys served. Rows out = the sum of the Parquet footers' row counts
 * (src/parquet/footer.h) over the committed files, and `skyspool verify` must accept the archive
 * against the ledger. Lost, duplicated and unexpected rows are compared key by key, not
 * counted (a count lets a lost row and a duplicated one cancel out): every row of the archive
 * is read back through the `archive:` source and its dedup key looked up among the served keys
 * (check/keycmp.h's stream: the served keys sorted once, one counter byte each, nothing per
 * row read, so a 1-hour soak's 7.2 M keys take 122 MB). Only if the read-back fails do lost and
 * duplicated fall back to the counts (the figure `comparison` says which, and the
 * archive_read_back criterion fails).
 *
 * The faults (the trust issue's list):
 *   writer_kill9, ingester_kill9      SIGKILL, then restarted at once (as systemd would)
 *   redis_restart                     clean SHUTDOWN and start on the same data dir
 *   redis_kill9_aof_tail              SIGKILL, aof_cut bytes cut off the AOF increment file
 *                                     (a host crash losing appendfsync everysec's last second)
 *   source_disconnect                 replay-server killed and restarted on the same port
 *   source_stall                      replay-server SIGSTOPped for stall_s (the ingester's
 *                                     read timeout is half of that), then SIGCONT
 *   disk_full (disk_faults, root)     the archive is a small tmpfs; a filler file takes all of
 *                                     its free space for stall_s, then goes
 * On a Redis given with --redis the two Redis faults are left out of the cycle: that server is
 * not the check's to restart or kill, and its AOF is not its to cut. The children then log in
 * with the check's own URL and password file, under the check's private key prefix.
 * A fault has recovered when, after it ended, the ingester confirmed new events and the writers'
 * group took delivery of new entries (disk_full: and a new part file was committed).
 *
 * Library code: no printing; the children's output goes to log files in the soak's work dir,
 * which is kept (and named in a note) when the check fails. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buffer/acl.h"
#include "buffer/ingest.h"
#include "buffer/xinfo.h"
#include "check/check.h"
#include "check/keycmp.h"
#include "event/event.h"
#include "parquet/footer.h"
#include "source/source.h"
#include "util/clock.h"

#define SOAK_MAX_FAULTS 64
#define SOAK_MAX_ARGS 40
#define SOAK_WRITER_GROUP "writers"
#define SOAK_PATH 512  /* the work dir's path; files in it get SOAK_PATH + 64 */

typedef enum {
    F_WRITER_KILL = 0,
    F_INGESTER_KILL,
    F_REDIS_RESTART,
    F_REDIS_CRASH,
    F_SOURCE_DISCONNECT,
    F_SOURCE_STALL,
    F_DISK_FULL,
    F__COUNT
} fault_kind;

static const char *const g_fault_names[F__COUNT] = {
    "writer_kill9", "ingester_kill9", "redis_restart", "redis_kill9_aof_tail",
    "source_disconnect", "source_stall", "disk_full",
};

typedef struct {
    fault_kind kind;
    double at_s, end_s, recovered_s; /* since the start; recovered_s < 0: not (yet) */
    double detail;                   /* bytes cut, or filler bytes */
    long long events_at_end;
    char added_at_end[512];
    char delivered_at_end[512];
    long long parts_at_end;
} fault_rec;

typedef struct {
    pid_t pid;
    const char *name;
    char log[SOAK_PATH + 64];
    int restarts, unexpected;
} child;

typedef struct {
    ss_check_env *e;
    const ss_check_soak_opts *o;
    ss_check_report *r;
    char work[SOAK_PATH];        /* the soak's work dir */
    char input[SOAK_PATH + 64];
    char arch[SOAK_PATH + 64];
    char wdata[SOAK_PATH + 64];
    char pw_ingest[PATH_MAX + 32], pw_write[PATH_MAX + 32]; /* the embedded server's per-role password files */
    char url_ingest[SS_REDIS_PATH_MAX + 400], url_write[SS_REDIS_PATH_MAX + 400]; /* as each child's ACL user */
    char portfile[SOAK_PATH + 64];
    int port;
    int tmpfs;
    child replay, ingest, writer;
    int replay_unthrottled;
    double t0;
    fault_rec faults[SOAK_MAX_FAULTS];
    int nfaults;
    int unexpected_exits;
    uint8_t *keys; /* the input's dedup keys, 16 bytes each, for the row-by-row comparison */
    long long nkeys;
} soak;

void ss_check_soak_opts_init(ss_check_soak_opts *o) {
    memset(o, 0, sizeof *o);
    o->duration_s = 3600;
    o->rate = 2000;
    o->fault_every_s = 300;
    o->window_s = 300;
    o->grace_s = 30;
    o->stall_s = 120; /* the ingester's read timeout is half: 60 s, its production default */
    o->aof_cut_bytes = 1 << 20;
    o->disk_bytes = 4LL << 30;
    o->min_rate_pct = 80;
    o->drain_timeout_s = 900;
    o->seed = 12;
}

static double since(const soak *s) { return ss_check_now() - s->t0; }

/* ---- the input ------------------------------------------------------------------------------- */

static int cmp_key(const void *a, const void *b) { return memcmp(a, b, 16); }

/* Writes the input file; *expected = distinct dedup keys, *last_us = newest time_us. */
static int make_input(soak *s, long long *lines, long long *expected, int64_t *last_us) {
    ss_check_env *e = s->e;
    long long n = (long long)(s->o->rate * s->o->duration_s + 0.5);
    if (n < 1) n = 1;
    char spec[192], iso[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(iso, sizeof iso, "%Y-%m-%dT%H:%M:%SZ", &tm);
    snprintf(spec, sizeof spec, "synth:events=%lld,seed=%llu,start=%s,rate=%.17g,other=0", n,
             (unsigned long long)s->o->seed, iso, s->o->rate);
    ss_source_opts so;
    ss_source_opts_init(&so);
    char err[512];
    ss_source *src = ss_source_open(spec, &so, err, sizeof err, NULL);
    if (!src) return snprintf(e->errstr, sizeof e->errstr, "%s", err), -1;
    FILE *f = fopen(s->input, "w");
    uint8_t *keys = malloc((size_t)n * 16);
    ss_decoder *d = ss_decoder_new(NULL);
    if (!f || !keys || !d) {
        snprintf(e->errstr, sizeof e->errstr, "cannot write the input %.600s: %s", s->input, strerror(errno));
        goto fail;
    }
    long long nk = 0;
    *lines = 0;
    *last_us = 0;
    for (;;) {
        ss_source_msg m;
        int rc = ss_source_next(src, &m, 1000);
        if (rc == SS_SOURCE_END) break;
        if (rc == SS_SOURCE_AGAIN) continue;
        if (rc != SS_SOURCE_MSG) {
            snprintf(e->errstr, sizeof e->errstr, "synth: %.1000s", src->errstr);
            goto fail;
        }
        if ((*lines & 0xffff) == 0) {
            ss_check_progress(e, "soak: writing the input: %lld / %lld events", *lines, n);
            if (ss_check_stopped(e)) goto fail;
        }
        ss_event ev;
        if (m.bad_reason || ss_decode(d, m.data, m.len, &ev) != SS_DECODE_OK || ev.type == SS_TYPE_OTHER) continue;
        if (fwrite(m.data, 1, m.len, f) != m.len || fputc('\n', f) == EOF) {
            snprintf(e->errstr, sizeof e->errstr, "write %.600s: %s", s->input, strerror(errno));
            goto fail;
        }
        (*lines)++;
        if (nk < n) ss_event_dedup_key(&ev, keys + 16 * nk++);
        if (ev.time_us > *last_us) *last_us = ev.time_us;
    }
    if (fclose(f) != 0) {
        f = NULL;
        snprintf(e->errstr, sizeof e->errstr, "write %.600s: %s", s->input, strerror(errno));
        goto fail;
    }
    f = NULL;
    qsort(keys, (size_t)nk, 16, cmp_key);
    long long distinct = 0;
    for (long long i = 0; i < nk; i++)
        if (i == 0 || memcmp(keys + 16 * i, keys + 16 * (i - 1), 16) != 0) distinct++;
    *expected = distinct;
    s->keys = keys; /* kept for the key-by-key comparison with the archive (check/keycmp.h) */
    s->nkeys = nk;
    ss_decoder_free(d);
    ss_source_close(src);
    return 0;
fail:
    if (f) fclose(f);
    free(keys);
    if (d) ss_decoder_free(d);
    ss_source_close(src);
    return -1;
}

/* ---- children -------------------------------------------------------------------------------- */

static pid_t spawn(const char *log, char *const argv[]) {
    pid_t p = fork();
    if (p != 0) return p;
    /* the child: its own process group (Ctrl-C reaches the check, which stops it), dies
     * with the check, writes to its log */
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    int nul = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
    }
    if (nul >= 0) dup2(nul, 0);
    execv(argv[0], argv);
    _exit(127);
}

typedef struct {
    char *v[SOAK_MAX_ARGS + 1];
    char buf[SOAK_MAX_ARGS][PATH_MAX + 64];
    int n;
} argvec;

static void arg(argvec *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void arg(argvec *a, const char *fmt, ...) {
    if (a->n >= SOAK_MAX_ARGS) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(a->buf[a->n], sizeof a->buf[0], fmt, ap);
    va_end(ap);
    a->v[a->n] = a->buf[a->n];
    a->v[++a->n] = NULL;
}

static int start_replay(soak *s, int unthrottled) {
    argvec a = {.n = 0};
    arg(&a, "%s", s->o->exe);
    arg(&a, "replay-server");
    arg(&a, "--jsonl");
    arg(&a, "%s", s->input);
    arg(&a, "--listen");
    arg(&a, "127.0.0.1:%d", s->port);
    if (!s->port) {
        arg(&a, "--port-file");
        arg(&a, "%s", s->portfile);
    }
    if (!unthrottled) {
        arg(&a, "--rate");
        arg(&a, "%.17g", s->o->rate);
    }
    arg(&a, "--log-level");
    arg(&a, "warn");
    s->replay.pid = spawn(s->replay.log, a.v);
    if (s->replay.pid < 0) return snprintf(s->e->errstr, sizeof s->e->errstr, "fork: %s", strerror(errno)), -1;
    if (!s->port) {
        for (int i = 0; i < 300 && !s->port; i++) {
            FILE *f = fopen(s->portfile, "r");
            if (f) {
                if (fscanf(f, "%d", &s->port) != 1) s->port = 0;
                fclose(f);
            }
            if (!s->port) ss_sleep_us(20000);
        }
        if (!s->port) return snprintf(s->e->errstr, sizeof s->e->errstr, "replay-server did not start (see %.600s)", s->replay.log), -1;
    } else {
        ss_sleep_us(100000);
    }
    s->replay_unthrottled = unthrottled;
    return 0;
}

static int start_ingest(soak *s) {
    double rt = s->o->stall_s / 2;
    if (rt < 1) rt = 1;
    argvec a = {.n = 0};
    arg(&a, "%s", s->o->exe);
    arg(&a, "ingest");
    arg(&a, "--source");
    arg(&a, "jetstream:ws://127.0.0.1:%d/subscribe", s->port);
    arg(&a, "--redis");
    arg(&a, "%s", s->url_ingest);
    if (s->pw_ingest[0]) {
        arg(&a, "--redis-password-file");
        arg(&a, "%s", s->pw_ingest);
    }
    arg(&a, "--prefix");
    arg(&a, "%s", s->e->prefix);
    arg(&a, "--set");
    arg(&a, "read-timeout=%dms", (int)(rt * 1000));
    arg(&a, "--log-level");
    arg(&a, "info");
    s->ingest.pid = spawn(s->ingest.log, a.v);
    return s->ingest.pid < 0 ? -1 : 0;
}

static void writer_args(soak *s, argvec *a, int once) {
    arg(a, "%s", s->o->exe);
    arg(a, "write");
    arg(a, "--out");
    arg(a, "%s", s->arch);
    arg(a, "--data-dir");
    arg(a, "%s", s->wdata);
    arg(a, "--redis");
    arg(a, "%s", s->url_write);
    if (s->pw_write[0]) {
        arg(a, "--redis-password-file");
        arg(a, "%s", s->pw_write);
    }
    arg(a, "--prefix");
    arg(a, "%s", s->e->prefix);
    arg(a, "--window");
    arg(a, "%dms", (int)(s->o->window_s * 1000));
    arg(a, "--grace");
    arg(a, "%dms", (int)(s->o->grace_s * 1000));
    arg(a, "--retry-max");
    arg(a, "1s");
    arg(a, "--claim-idle");
    arg(a, "%s", s->o->window_s < 60 ? "2s" : "10s");
    if (once) {
        arg(a, "--once");
        arg(a, "--all");
    }
    arg(a, "--log-level");
    arg(a, "info");
}

static int start_writer(soak *s) {
    argvec a = {.n = 0};
    writer_args(s, &a, 0);
    s->writer.pid = spawn(s->writer.log, a.v);
    return s->writer.pid < 0 ? -1 : 0;
}

static int start_child(soak *s, child *c) {
    c->restarts++;
    if (c == &s->replay) return start_replay(s, s->replay_unthrottled);
    if (c == &s->ingest) return start_ingest(s);
    return start_writer(s);
}

/* Kills with sig and reaps. Returns the wait status (or -1). */
static int kill_wait(child *c, int sig, double timeout_s) {
    if (c->pid <= 0) return -1;
    kill(c->pid, sig);
    if (sig == SIGSTOP) return 0;
    double t = ss_check_now();
    int st = -1;
    for (;;) {
        pid_t p = waitpid(c->pid, &st, WNOHANG);
        if (p == c->pid) break;
        if (p < 0) break;
        if (ss_check_now() - t > timeout_s) {
            kill(c->pid, SIGKILL);
            waitpid(c->pid, &st, 0);
            break;
        }
        ss_sleep_us(20000);
    }
    c->pid = 0;
    return st;
}

/* A child that exited on its own: counted, noted, restarted. */
static void reap(soak *s, child *c) {
    if (c->pid <= 0) return;
    int st;
    if (waitpid(c->pid, &st, WNOHANG) != c->pid) return;
    c->pid = 0;
    c->unexpected++;
    s->unexpected_exits++;
    ss_check_note(s->r, "%s exited by itself at %.1f s (status %d%s); restarted (see its log)", c->name, since(s),
                  WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st), WIFEXITED(st) ? "" : ", signal");
    start_child(s, c);
}

/* ---- probes ---------------------------------------------------------------------------------- */

typedef struct {
    int ok;
    long long events_total;      /* the ingester's confirmed events (Pingest events_total) */
    char added[512];             /* the streams' last-generated ids (ms), all streams */
    char delivered[512];         /* the writers' group's last-delivered ids, all streams */
    long long buffered, pending;
    double oldest_age_s;         /* of the oldest buffered entry */
    long long used_memory, rss;
} probe;

static int reconnect(ss_check_env *e) {
    if (e->c && !e->c->err) return 0;
    if (e->c) redisFree(e->c);
    e->c = ss_redis_target_connect(e->target, e->errstr, sizeof e->errstr, NULL);
    return e->c ? 0 : -1;
}

static void take_probe(soak *s, probe *p) {
    memset(p, 0, sizeof *p);
    ss_check_env *e = s->e;
    if (reconnect(e) != 0) return;
    char key[256], err[256];
    snprintf(key, sizeof key, "%singest", e->prefix);
    redisReply *r = redisCommand(e->c, "HGET %s events_total", key);
    if (!r) return;
    if (r->type == REDIS_REPLY_STRING) p->events_total = atoll(r->str);
    int loading = r->type == REDIS_REPLY_ERROR;
    freeReplyObject(r);
    if (loading) return;
    long long now_ms = (long long)(ss_wall_us() / 1000);
    size_t dl = 0, al = 0;
    for (int t = 0; t < SS_TYPE_OTHER; t++) {
        ss_ingest_stream_key(e->prefix, (ss_type)t, key, sizeof key);
        ss_stream_info si;
        if (ss_stream_info_get(e->c, key, SOAK_WRITER_GROUP, &si, err, sizeof err) != 0) return;
        p->buffered += si.length;
        p->pending += si.pending;
        if (si.length > 0 && si.first_ms >= 0) {
            double age = (double)(now_ms - si.first_ms) / 1000.0;
            if (age > p->oldest_age_s) p->oldest_age_s = age;
        }
        dl += (size_t)snprintf(p->delivered + dl, sizeof p->delivered - dl, "%s,", si.last_delivered);
        if (dl >= sizeof p->delivered) dl = sizeof p->delivered - 1;
        al += (size_t)snprintf(p->added + al, sizeof p->added - al, "%lld,", si.last_ms);
        if (al >= sizeof p->added) al = sizeof p->added - 1;
    }
    char *info = ss_redis_info(e->c, "memory", err, sizeof err);
    if (!info) return;
    ss_redis_info_ll(info, "used_memory", &p->used_memory);
    ss_redis_info_ll(info, "used_memory_rss", &p->rss);
    free(info);
    p->ok = 1;
}

static long long rss_of(pid_t pid) {
    if (pid <= 0) return 0;
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    long long kb = 0;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "VmRSS:", 6)) kb = atoll(line + 6);
    fclose(f);
    return kb * 1024;
}

static long long g_parts;
static long long g_rows;
static int g_footer_errors;
static int count_part(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb;
    if (flag != FTW_F) return 0;
    const char *base = path + ftw->base;
    size_t n = strlen(base);
    if (base[0] == '.' || n < 8 || strcmp(base + n - 8, ".parquet") != 0) return 0;
    g_parts++;
    if (g_rows >= 0) {
        ss_pq_footer f;
        char err[256];
        if (ss_pq_footer_read(path, &f, err, sizeof err) == 0) g_rows += f.num_rows;
        else g_footer_errors++;
    }
    return 0;
}

static void key_add(void *ud, const uint8_t key[16]) { ss_keycmp_stream_add(ud, key); }

/* Committed part files (and, with rows, the footers' row counts) under the archive. */
static long long archive_parts(const char *arch, long long *rows, int *footer_errors) {
    g_parts = 0;
    g_rows = rows ? 0 : -1;
    g_footer_errors = 0;
    nftw(arch, count_part, 16, FTW_PHYS);
    if (rows) *rows = g_rows;
    if (footer_errors) *footer_errors = g_footer_errors;
    return g_parts;
}

/* The ingester's stored cursor (time_us), the newest of its cursor hashes; 0 when none. */
static long long stored_cursor(ss_check_env *e) {
    if (reconnect(e) != 0) return 0;
    char pattern[192];
    snprintf(pattern, sizeof pattern, "%scursor:*", e->prefix);
    long long best = 0;
    char cur[32] = "0";
    do { /* SCAN, not KEYS: the check's ACL user may SCAN its own prefix (buffer/acl.h) */
        redisReply *r = redisCommand(e->c, "SCAN %s MATCH %s COUNT 1000", cur, pattern);
        if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2 || r->element[0]->type != REDIS_REPLY_STRING) {
            if (r) freeReplyObject(r);
            break;
        }
        snprintf(cur, sizeof cur, "%s", r->element[0]->str);
        redisReply *keys = r->element[1];
        for (size_t i = 0; keys->type == REDIS_REPLY_ARRAY && i < keys->elements; i++) {
            redisReply *c = redisCommand(e->c, "HGET %s cursor", keys->element[i]->str);
            if (c && c->type == REDIS_REPLY_STRING && atoll(c->str) > best) best = atoll(c->str);
            if (c) freeReplyObject(c);
        }
        freeReplyObject(r);
    } while (strcmp(cur, "0") != 0);
    return best;
}

/* ---- faults ---------------------------------------------------------------------------------- */

static char g_filler[SOAK_PATH + 128];

static double fill_disk(soak *s) {
    snprintf(g_filler, sizeof g_filler, "%s/.soak-filler", s->arch);
    int fd = open(g_filler, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return 0;
    static char zero[1 << 16];
    double n = 0;
    for (;;) {
        ssize_t w = write(fd, zero, sizeof zero);
        if (w <= 0) break;
        n += (double)w;
    }
    close(fd);
    return n;
}

/* Starts fault f; returns 0, or -1 when the check cannot go on (errstr). The fault's end_s is
 * set here for instant faults, later (hold) for stall and disk. */
static int fault_begin(soak *s, fault_rec *f) {
    ss_check_env *e = s->e;
    f->at_s = since(s);
    f->end_s = -1;
    f->recovered_s = -1;
    ss_check_progress(e, "soak: %.0f s: fault %d: %s", f->at_s, s->nfaults, g_fault_names[f->kind]);
    switch (f->kind) {
    case F_WRITER_KILL:
        kill_wait(&s->writer, SIGKILL, 10);
        if (start_child(s, &s->writer) != 0) return -1;
        break;
    case F_INGESTER_KILL:
        kill_wait(&s->ingest, SIGKILL, 10);
        if (start_child(s, &s->ingest) != 0) return -1;
        break;
    case F_REDIS_RESTART:
        if (ss_check_env_restart(e, NULL, 0, NULL, NULL) != 0) return -1;
        break;
    case F_REDIS_CRASH: {
        long long cut = 0;
        if (ss_check_env_crash_restart(e, s->o->aof_cut_bytes, &cut, NULL) != 0) return -1;
        f->detail = (double)cut;
        break;
    }
    case F_SOURCE_DISCONNECT:
        kill_wait(&s->replay, SIGKILL, 10);
        if (start_child(s, &s->replay) != 0) return -1;
        break;
    case F_SOURCE_STALL:
        kill(s->replay.pid, SIGSTOP);
        return 0;
    case F_DISK_FULL:
        f->detail = fill_disk(s);
        return 0;
    case F__COUNT: break;
    }
    f->end_s = since(s);
    return 0;
}

static void fault_end_hold(soak *s, fault_rec *f) {
    if (f->kind == F_SOURCE_STALL) kill(s->replay.pid, SIGCONT);
    if (f->kind == F_DISK_FULL) unlink(g_filler);
    f->end_s = since(s);
}

static void fault_mark_end(soak *s, fault_rec *f) {
    probe p;
    take_probe(s, &p);
    f->events_at_end = p.ok ? p.events_total : -1;
    snprintf(f->delivered_at_end, sizeof f->delivered_at_end, "%s", p.ok ? p.delivered : "");
    snprintf(f->added_at_end, sizeof f->added_at_end, "%s", p.ok ? p.added : "");
    f->parts_at_end = f->kind == F_DISK_FULL ? archive_parts(s->arch, NULL, NULL) : 0;
}

/* ---- the run --------------------------------------------------------------------------------- */

/* Least-squares slope over the second half of the run (the first holds the warm-up: buffers
 * filling to one window's worth), per hour. */
static double slope_per_h(const ss_check_series *x) {
    if (!x || x->n < 4) return 0;
    double st = 0, sv = 0, stt = 0, stv = 0;
    int n0 = x->n / 2;
    for (int i = n0; i < x->n; i++) {
        st += x->t[i];
        sv += x->v[i];
        stt += x->t[i] * x->t[i];
        stv += x->t[i] * x->v[i];
    }
    double n = x->n - n0, d = n * stt - st * st;
    return d > 0 ? (n * stv - st * sv) / d * 3600.0 : 0;
}

static double series_max(const ss_check_series *x) {
    double m = 0;
    for (int i = 0; x && i < x->n; i++)
        if (x->v[i] > m) m = x->v[i];
    return m;
}

static int cmp_dbl(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double series_median(const ss_check_series *x) {
    if (!x || x->n == 0) return 0;
    double *v = malloc((size_t)x->n * sizeof *v);
    if (!v) return 0;
    memcpy(v, x->v, (size_t)x->n * sizeof *v);
    qsort(v, (size_t)x->n, sizeof *v, cmp_dbl);
    double m = v[x->n / 2];
    free(v);
    return m;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int run_status(soak *s, argvec *a, const char *log, double timeout_s) {
    child c = {.name = "once"};
    snprintf(c.log, sizeof c.log, "%s", log);
    c.pid = spawn(log, a->v);
    if (c.pid < 0) return -1;
    double t = ss_check_now();
    int st = -1;
    for (;;) {
        pid_t p = waitpid(c.pid, &st, WNOHANG);
        if (p == c.pid || p < 0) break;
        if (ss_check_now() - t > timeout_s) {
            kill(c.pid, SIGKILL);
            waitpid(c.pid, &st, 0);
            ss_check_note(s->r, "%s did not finish within %.0f s; killed", a->v[1], timeout_s);
            return -1;
        }
        ss_sleep_us(50000);
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int ss_check_soak(ss_check_env *e, const ss_check_soak_opts *o, ss_check_report *r) {
    if (!o->exe || !*o->exe) return snprintf(e->errstr, sizeof e->errstr, "soak: no skyspool binary to run"), -1;
    soak S;
    memset(&S, 0, sizeof S);
    soak *s = &S;
    s->e = e;
    s->o = o;
    s->r = r;
    s->replay.name = "replay-server";
    s->ingest.name = "ingest";
    s->writer.name = "write";
    fault_kind kinds[F__COUNT];
    int nkinds = 0;
    for (int k = 0; k < F__COUNT; k++) {
        if (!e->embedded && (k == F_REDIS_RESTART || k == F_REDIS_CRASH)) continue; /* not ours to kill */
        if (k == F_DISK_FULL && !o->disk_faults) continue;
        kinds[nkinds++] = (fault_kind)k;
    }
    double max_lag = o->max_lag_s > 0 ? o->max_lag_s : 2 * o->window_s + o->grace_s + 60;
    double max_rec = o->max_recovery_s > 0 ? o->max_recovery_s : o->window_s + o->grace_s + 60;

    ss_check_input_num(r, "duration_s", o->duration_s);
    ss_check_input_num(r, "rate", o->rate);
    ss_check_input_num(r, "fault_every_s", o->fault_every_s);
    ss_check_input_num(r, "window_s", o->window_s);
    ss_check_input_num(r, "grace_s", o->grace_s);
    ss_check_input_num(r, "stall_s", o->stall_s);
    ss_check_input_num(r, "aof_cut_bytes", (double)o->aof_cut_bytes);
    ss_check_input_num(r, "disk_faults", o->disk_faults);
    if (o->disk_faults) ss_check_input_num(r, "disk_bytes", (double)o->disk_bytes);
    ss_check_input_num(r, "max_lag_s", max_lag);
    ss_check_input_num(r, "max_recovery_s", max_rec);
    ss_check_input_num(r, "min_rate_pct", o->min_rate_pct);
    ss_check_input_num(r, "seed", (double)o->seed);

    const char *tmp = getenv("TMPDIR");
    if (!tmp || !*tmp) tmp = "/tmp";
    snprintf(s->work, sizeof s->work, "%s/skyspool-soak-%s-XXXXXX", tmp, e->run_id);
    if (!mkdtemp(s->work)) return snprintf(e->errstr, sizeof e->errstr, "mkdtemp under %.400s: %s", tmp, strerror(errno)), -1;
    snprintf(s->input, sizeof s->input, "%.500s/input.jsonl", s->work);
    snprintf(s->arch, sizeof s->arch, "%.500s/archive", s->work);
    snprintf(s->wdata, sizeof s->wdata, "%.500s/writer-data", s->work);
    snprintf(s->portfile, sizeof s->portfile, "%.500s/replay.port", s->work);
    snprintf(s->replay.log, sizeof s->replay.log, "%.500s/replay-server.log", s->work);
    snprintf(s->ingest.log, sizeof s->ingest.log, "%.500s/ingest.log", s->work);
    snprintf(s->writer.log, sizeof s->writer.log, "%.500s/write.log", s->work);
    mkdir(s->arch, 0700);
    mkdir(s->wdata, 0700);
    const ss_redis_url *u = ss_redis_target_url(e->target);
    /* the embedded server has one ACL user per role (buffer/acl.h): each child logs in as its own;
     * on another Redis, as the check itself does */
    if (!e->embedded) {
        snprintf(s->url_ingest, sizeof s->url_ingest, "%s", e->url);
        snprintf(s->url_write, sizeof s->url_write, "%s", e->url);
    } else if (u->is_unix) {
        snprintf(s->url_ingest, sizeof s->url_ingest, "unix://%s@%s", ss_acl_user(SS_ACL_INGEST), u->path);
        snprintf(s->url_write, sizeof s->url_write, "unix://%s@%s", ss_acl_user(SS_ACL_WRITE), u->path);
    } else {
        snprintf(s->url_ingest, sizeof s->url_ingest, "redis://%s@%.256s:%d", ss_acl_user(SS_ACL_INGEST), u->host, u->port);
        snprintf(s->url_write, sizeof s->url_write, "redis://%s@%.256s:%d", ss_acl_user(SS_ACL_WRITE), u->host, u->port);
    }
    if (!e->embedded) {
        snprintf(s->pw_ingest, sizeof s->pw_ingest, "%s", e->password_file ? e->password_file : "");
        snprintf(s->pw_write, sizeof s->pw_write, "%s", e->password_file ? e->password_file : "");
    } else {
        snprintf(s->pw_ingest, sizeof s->pw_ingest, "%.400s/redis-%s.password", e->data_dir, ss_acl_role_name(SS_ACL_INGEST));
        snprintf(s->pw_write, sizeof s->pw_write, "%.400s/redis-%s.password", e->data_dir, ss_acl_role_name(SS_ACL_WRITE));
    }
    ss_check_input_num(r, "redis_faults", e->embedded);
    if (!e->embedded) ss_check_note(r, "on --redis: the redis_restart and redis_kill9_aof_tail faults are left out");

    int rc = -1;
    if (o->disk_faults) {
        char opt[64];
        snprintf(opt, sizeof opt, "size=%lld,mode=0700", o->disk_bytes);
        if (mount("tmpfs", s->arch, "tmpfs", MS_NOSUID | MS_NODEV, opt) != 0) {
            snprintf(e->errstr, sizeof e->errstr, "--disk-faults: cannot mount a tmpfs on %.600s: %s (needs root)", s->arch,
                     strerror(errno));
            goto out;
        }
        s->tmpfs = 1;
    }

    long long lines = 0, expected = 0;
    int64_t last_us = 0;
    double tg = ss_check_now();
    if (make_input(s, &lines, &expected, &last_us) != 0) goto out;
    ss_check_figure_add(r, "input_events", (double)lines, "events");
    ss_check_figure_add(r, "input_write_s", ss_check_now() - tg, "s");

    if (start_replay(s, 0) != 0 || start_ingest(s) != 0 || start_writer(s) != 0) goto out;
    s->t0 = ss_check_now();

    double sample_every = o->duration_s / 3600.0;
    if (sample_every < 1) sample_every = 1;
    ss_check_series *s_rate = ss_check_series_new(r, "ingest_events_per_s", "events/s");
    ss_check_series *s_lag = ss_check_series_new(r, "window_lag_s", "s");
    ss_check_series *s_mem = ss_check_series_new(r, "redis_used_memory_mb", "MB");
    ss_check_series *s_rrss = ss_check_series_new(r, "redis_rss_mb", "MB");
    ss_check_series *s_irss = ss_check_series_new(r, "ingester_rss_mb", "MB");
    ss_check_series *s_wrss = ss_check_series_new(r, "writer_rss_mb", "MB");
    double next_sample = sample_every, next_fault = o->fault_every_s;
    long long last_events = 0;
    double last_t = 0, worst_lag = 0, peak_mem = 0;
    double events_run_sum = 0;
    fault_rec *active = NULL; /* a held fault (stall, disk) or one waiting for recovery */
    int holding = 0;
    double hold_until = 0;
    int interrupted = 0;
    for (;;) {
        double t = since(s);
        if (ss_check_stopped(e)) {
            interrupted = 1;
            break;
        }
        if (t >= o->duration_s && (!active || holding || active->recovered_s >= 0 || t - active->at_s > max_rec)) break;
        reap(s, &s->replay);
        reap(s, &s->ingest);
        reap(s, &s->writer);
        if (t >= next_sample) {
            probe p;
            take_probe(s, &p);
            if (p.ok) {
                double dt = t - last_t;
                /* events_total counts this ingester run: a restarted ingester starts from 0 */
                long long d = p.events_total >= last_events ? p.events_total - last_events : p.events_total;
                if (d > 0) events_run_sum += (double)d;
                if (last_t > 0 && dt > 0) ss_check_series_add(s_rate, t, d > 0 ? (double)d / dt : 0);
                last_events = p.events_total;
                last_t = t;
                ss_check_series_add(s_lag, t, p.oldest_age_s);
                ss_check_series_add(s_mem, t, (double)p.used_memory / 1048576.0);
                ss_check_series_add(s_rrss, t, (double)p.rss / 1048576.0);
                if (p.oldest_age_s > worst_lag) worst_lag = p.oldest_age_s;
                if ((double)p.used_memory > peak_mem) peak_mem = (double)p.used_memory;
                if (active && !holding && active->recovered_s < 0 && active->events_at_end >= 0 &&
                    strcmp(p.added, active->added_at_end) != 0 && strcmp(p.delivered, active->delivered_at_end) != 0 &&
                    (active->kind != F_DISK_FULL || archive_parts(s->arch, NULL, NULL) > active->parts_at_end)) {
                    active->recovered_s = t - active->at_s;
                    active = NULL;
                }
                if (active && !holding && active->events_at_end < 0) fault_mark_end(s, active);
            }
            ss_check_series_add(s_irss, t, (double)rss_of(s->ingest.pid) / 1048576.0);
            ss_check_series_add(s_wrss, t, (double)rss_of(s->writer.pid) / 1048576.0);
            ss_check_progress(e, "soak: %.0f / %.0f s, %.0f events in, %d fault(s), lag %.0f s", t, o->duration_s,
                              events_run_sum, s->nfaults, p.oldest_age_s);
            next_sample += sample_every;
        }
        if (holding && t >= hold_until) {
            fault_end_hold(s, active);
            fault_mark_end(s, active);
            holding = 0;
        }
        /* the next fault waits for the previous one to recover (or to time out) */
        if (!holding && t >= next_fault && s->nfaults < SOAK_MAX_FAULTS &&
            (!active || t - active->at_s > max_rec) && t + o->fault_every_s / 2 + o->stall_s < o->duration_s) {
            active = &s->faults[s->nfaults++];
            active->kind = kinds[(s->nfaults - 1) % nkinds];
            if (fault_begin(s, active) != 0) goto out;
            if (active->end_s < 0) {
                holding = 1;
                hold_until = since(s) + o->stall_s;
            } else {
                fault_mark_end(s, active);
            }
            next_fault = t + o->fault_every_s;
        }
        ss_sleep_us(100000);
    }
    if (holding) {
        fault_end_hold(s, active);
        holding = 0;
    }
    if (active && active->recovered_s < 0 && !interrupted)
        ss_check_note(r, "fault %d (%s at %.1f s) had not recovered when the run ended", (int)(active - s->faults) + 1,
                      g_fault_names[active->kind], active->at_s);
    double run_s = since(s);

    /* ---- drain: the rest of the input, unthrottled; then every window closed ---------------- */
    double td = ss_check_now();
    int drained_input = 0;
    if (!interrupted) {
        kill_wait(&s->replay, SIGTERM, 10);
        s->replay_unthrottled = 1;
        if (start_replay(s, 1) != 0) goto out;
        while (ss_check_now() - td < o->drain_timeout_s && !ss_check_stopped(e)) {
            reap(s, &s->replay);
            reap(s, &s->ingest);
            reap(s, &s->writer);
            long long cur = stored_cursor(e);
            ss_check_progress(e, "soak: draining the rest of the input: cursor %.1f s behind the last event",
                              (double)(last_us - cur) / 1e6);
            if (cur >= last_us) {
                drained_input = 1;
                break;
            }
            ss_sleep_us(500000);
        }
        if (ss_check_stopped(e)) interrupted = 1;
    }
    kill_wait(&s->ingest, SIGTERM, 30);
    kill_wait(&s->writer, SIGTERM, 120);
    kill_wait(&s->replay, SIGTERM, 10);
    int once_rc = -1, verify_rc = -1;
    if (!interrupted) {
        ss_check_progress(e, "soak: closing every window (write --once --all)");
        argvec a = {.n = 0};
        writer_args(s, &a, 1);
        char log[SOAK_PATH + 64];
        snprintf(log, sizeof log, "%.500s/write-once.log", s->work);
        once_rc = run_status(s, &a, log, o->drain_timeout_s);
        argvec v = {.n = 0};
        arg(&v, "%s", o->exe);
        arg(&v, "verify");
        arg(&v, "--out");
        arg(&v, "%s", s->arch);
        arg(&v, "--data-dir");
        arg(&v, "%s", s->wdata);
        snprintf(log, sizeof log, "%.500s/verify.log", s->work);
        verify_rc = run_status(s, &v, log, o->drain_timeout_s);
    }
    double drain_s = ss_check_now() - td;
    probe fin;
    take_probe(s, &fin);
    long long rows = 0;
    int ferr = 0;
    long long parts = archive_parts(s->arch, &rows, &ferr);
    /* row by row: every input key once in the archive, nothing else (check/keycmp.h) */
    ss_keycmp_result kc;
    memset(&kc, 0, sizeof kc);
    int keys_read = 0;
    char keys_err[sizeof e->errstr] = "";
    double readback_s = 0;
    if (!interrupted) {
        ss_check_progress(e, "soak: reading the archive back, key by key");
        double tr = ss_check_now();
        ss_keycmp_stream ks;
        long long nread = 0;
        if (ss_keycmp_stream_init(&ks, s->keys, (size_t)s->nkeys) != 0) {
            snprintf(keys_err, sizeof keys_err, "out of memory for the key comparison");
        } else {
            if (ss_check_archive_keys(e, s->arch, key_add, &ks, &nread) == 0) {
                ss_keycmp_stream_finish(&ks, &kc);
                keys_read = 1;
            } else {
                snprintf(keys_err, sizeof keys_err, "%s", e->errstr);
                e->errstr[0] = '\0';
            }
            ss_keycmp_stream_free(&ks);
        }
        readback_s = ss_check_now() - tr;
    }
    long long dlq = 0;
    {
        char key[256];
        snprintf(key, sizeof key, "%sdlq", e->prefix);
        redisReply *x = reconnect(e) == 0 ? redisCommand(e->c, "XLEN %s", key) : NULL;
        if (x && x->type == REDIS_REPLY_INTEGER) dlq = x->integer;
        if (x) freeReplyObject(x);
    }

    /* ---- figures and criteria ---------------------------------------------------------------- */
    long long lost = keys_read ? kc.lost : expected > rows ? expected - rows : 0;
    long long dup = keys_read ? kc.duplicated : rows > expected ? rows - expected : 0;
    double mean_rate = run_s > 0 ? events_run_sum / run_s : 0;
    ss_check_figure_add(r, "run_s", run_s, "s");
    ss_check_figure_add(r, "drain_s", drain_s, "s");
    ss_check_figure_add(r, "events_in", (double)expected, "events");
    ss_check_figure_add(r, "rows_out", (double)rows, "rows");
    ss_check_figure_add(r, "rows_lost", (double)lost, "rows");
    ss_check_figure_add(r, "rows_duplicated", (double)dup, "rows");
    ss_check_figure_add(r, "rows_unexpected", keys_read ? (double)kc.unexpected : -1, "rows");
    ss_check_figure_add(r, "rows_read_back", keys_read ? (double)kc.rows : -1, "rows");
    ss_check_figure_add(r, "comparison", keys_read, "");
    ss_check_figure_add(r, "readback_s", readback_s, "s");
    ss_check_figure_add(r, "part_files", (double)parts, "files");
    ss_check_figure_add(r, "footer_errors", ferr, "files");
    double median_rate = series_median(s_rate);
    ss_check_figure_add(r, "ingest_events_per_s_mean", mean_rate, "events/s");
    ss_check_figure_add(r, "ingest_events_per_s_median", median_rate, "events/s");
    ss_check_figure_add(r, "worst_window_lag_s", worst_lag, "s");
    ss_check_figure_add(r, "peak_used_memory_mb", peak_mem / 1048576.0, "MB");
    ss_check_figure_add(r, "redis_used_memory_slope_mb_per_h", slope_per_h(s_mem), "MB/h");
    ss_check_figure_add(r, "redis_rss_slope_mb_per_h", slope_per_h(s_rrss), "MB/h");
    ss_check_figure_add(r, "ingester_rss_peak_mb", series_max(s_irss), "MB");
    ss_check_figure_add(r, "ingester_rss_slope_mb_per_h", slope_per_h(s_irss), "MB/h");
    ss_check_figure_add(r, "writer_rss_peak_mb", series_max(s_wrss), "MB");
    ss_check_figure_add(r, "writer_rss_slope_mb_per_h", slope_per_h(s_wrss), "MB/h");
    ss_check_figure_add(r, "buffered_left", fin.ok ? (double)fin.buffered : -1, "entries");
    ss_check_figure_add(r, "pending_left", fin.ok ? (double)fin.pending : -1, "entries");
    ss_check_figure_add(r, "dlq_entries", (double)dlq, "entries");
    ss_check_figure_add(r, "unexpected_exits", s->unexpected_exits, "exits");
    int recovered = 0, kinds_seen = 0, seen[F__COUNT] = {0};
    double worst_rec = 0;
    for (int i = 0; i < s->nfaults; i++) {
        fault_rec *f = &s->faults[i];
        char name[SS_CHECK_NAME_MAX];
        snprintf(name, sizeof name, "fault_%02d_%s_at_s", i + 1, g_fault_names[f->kind]);
        ss_check_figure_add(r, name, f->at_s, "s");
        snprintf(name, sizeof name, "fault_%02d_%s_recovery_s", i + 1, g_fault_names[f->kind]);
        ss_check_figure_add(r, name, f->recovered_s, "s");
        if (f->kind == F_REDIS_CRASH) {
            snprintf(name, sizeof name, "fault_%02d_aof_bytes_cut", i + 1);
            ss_check_figure_add(r, name, f->detail, "bytes");
        }
        if (f->recovered_s >= 0 && f->recovered_s <= max_rec) recovered++;
        if (f->recovered_s > worst_rec) worst_rec = f->recovered_s;
        if (!seen[f->kind]++) kinds_seen++;
    }
    ss_check_figure_add(r, "faults_injected", s->nfaults, "faults");
    ss_check_figure_add(r, "fault_kinds_injected", kinds_seen, "kinds");
    ss_check_figure_add(r, "worst_recovery_s", worst_rec, "s");

    if (interrupted) { /* nothing was drained: verdicts on a half run would only mislead */
        r->interrupted = 1;
        rc = 0;
        goto out;
    }
    ss_check_criterion_add(r, "rows_lost", SS_CMP_EQ, 0, (double)lost, "rows",
                           "events the source served are missing from the archive: the exactly-once protocol lost data "
                           "(the logs in the kept work dir say around which fault)");
    ss_check_criterion_add(r, "rows_duplicated", SS_CMP_EQ, 0, (double)dup, "rows",
                           "served events are in the archive more than once: a fault made the writer commit "
                           "something twice");
    ss_check_criterion_add(r, "rows_unexpected", SS_CMP_EQ, 0, keys_read ? (double)kc.unexpected : -1, "rows",
                           "the archive holds rows whose dedup key no input event has");
    ss_check_criterion_add(r, "archive_read_back", SS_CMP_EQ, 1, keys_read, "",
                           "the archive could not be read back key by key (see the notes)");
    if (!keys_read) ss_check_note(r, "archive read-back failed: %s", keys_err);
    {
        const struct { const char *what; uint8_t (*ex)[16]; int n; } ex[] = {
            {"lost", kc.lost_ex, kc.n_lost_ex}, {"duplicated", kc.dup_ex, kc.n_dup_ex},
            {"unexpected", kc.unexp_ex, kc.n_unexp_ex}};
        for (int k = 0; k < 3; k++)
            for (int i = 0; i < ex[k].n && i < 2; i++) { /* two each: the notes table is small */
                char hex[33];
                ss_keycmp_hex(ex[k].ex[i], hex);
                ss_check_note(r, "%s row, dedup key %s", ex[k].what, hex);
            }
    }
    ss_check_criterion_add(r, "verify_ok", SS_CMP_EQ, 1, verify_rc == 0, "",
                           "skyspool verify does not accept the archive against the ledger (see verify.log)");
    ss_check_criterion_add(r, "input_drained", SS_CMP_EQ, 1, drained_input, "",
                           "the ingester did not reach the end of the input within the drain timeout");
    ss_check_criterion_add(r, "final_write_ok", SS_CMP_EQ, 1, once_rc == 0, "",
                           "the final `write --once --all` failed (see write-once.log)");
    ss_check_criterion_add(r, "buffer_left", SS_CMP_EQ, 0, fin.ok ? (double)(fin.buffered + fin.pending) : -1,
                           "entries", "entries stayed in Redis after the final write");
    ss_check_criterion_add(r, "faults_recovered", SS_CMP_EQ, s->nfaults, recovered, "faults",
                           "a fault was not followed, within max_recovery_s, by new events confirmed and new entries "
                           "delivered to the writers");
    ss_check_criterion_add(r, "fault_kinds_injected", SS_CMP_GE, nkinds, kinds_seen, "kinds",
                           "the run was too short for one fault of each kind: lengthen --duration or shorten "
                           "--fault-every");
    ss_check_criterion_add(r, "worst_window_lag", SS_CMP_LE, max_lag, worst_lag, "s",
                           "an event waited in Redis longer than the window, grace and a margin: the writer fell behind");
    ss_check_criterion_add(r, "unexpected_exits", SS_CMP_EQ, 0, s->unexpected_exits, "exits",
                           "a process of the stack exited without being killed (see its log)");
    ss_check_criterion_add(r, "sustained_rate_pct", SS_CMP_GE, o->min_rate_pct,
                           o->rate > 0 ? 100.0 * median_rate / o->rate : 0, "%",
                           "the median per-second ingest rate stayed below --rate: the stack cannot sustain it");
    if (keys_read)
        ss_check_note(r, "lost, duplicated and unexpected compared key by key: every row of the archive read back "
                         "(archive: source), its dedup key looked up among the served ones; rows_out is the Parquet "
                         "footers' count");
    else
        ss_check_note(r, "lost and duplicated are COUNTS only (served keys vs the footers' rows; a lost and a "
                         "duplicated row would cancel out): the archive could not be read back key by key");
    ss_check_note(r, "window lag = age of the oldest entry still in Redis (written and acknowledged entries leave it)");
    r->interrupted = interrupted;
    rc = 0;
out:
    if (s->ingest.pid > 0) kill_wait(&s->ingest, SIGKILL, 5);
    if (s->writer.pid > 0) kill_wait(&s->writer, SIGKILL, 5);
    if (s->replay.pid > 0) {
        kill(s->replay.pid, SIGCONT);
        kill_wait(&s->replay, SIGKILL, 5);
    }
    free(s->keys);
    s->keys = NULL;
    if (s->tmpfs) umount2(s->arch, MNT_DETACH); /* never left mounted; the logs stay below */
    if (rc == 0 && ss_check_report_passed(r)) {
        nftw(s->work, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    } else {
        unlink(s->input); /* the big one; the logs, ledger and archive stay */
        if (rc != 0) {
            size_t l = strlen(e->errstr);
            snprintf(e->errstr + l, sizeof e->errstr - l, " (work dir kept: %.600s)", s->work);
        }
        ss_check_note(r, "work dir kept for the post-mortem: %s (logs of every process, the ledger%s)", s->work,
                      s->tmpfs ? "; the archive was a tmpfs and is gone" : " and the archive");
    }
    return rc;
}
