/* The common part of `skyspool check`: histogram, report (figures, criteria, JSON and text),
 * and the environment every check runs in, with its safety rules (own prefix, refusal on
 * foreign keys, deletion of own keys only). See check.h for why these are shared.
 *
 * The embedded Redis of a check lives in a fresh temporary directory, never in the
 * operator's data dir: a check restarts and kills its server, which must never be the
 * buffer in use. */
#include "check/check.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buffer/ingest.h"
#include "event/event.h"
#include "source/source.h"
#include "util/clock.h"

/* ---- histogram ------------------------------------------------------------------------ */

static int hist_index(uint64_t v) {
    if (v < SS_HIST_SUB) return (int)v;
    int msb = 63 - __builtin_clzll(v);
    int shift = msb - 6; /* v >> shift is in [64, 128) */
    if (shift > SS_HIST_MAX_SHIFT) return SS_HIST_BUCKETS - 1;
    return shift * SS_HIST_HALF + (int)(v >> shift);
}

static uint64_t hist_value_hi(int idx) {
    if (idx < SS_HIST_SUB) return (uint64_t)idx;
    int shift = idx / SS_HIST_HALF - 1;
    uint64_t sub = (uint64_t)(idx - shift * SS_HIST_HALF);
    return ((sub + 1) << shift) - 1;
}

int ss_hist_bucket(uint64_t ns) { return hist_index(ns); }

void ss_hist_init(ss_hist *h) {
    memset(h, 0, sizeof *h);
    h->min_ns = UINT64_MAX;
}

void ss_hist_record(ss_hist *h, uint64_t ns) {
    h->counts[hist_index(ns)]++;
    h->total++;
    h->sum_ns += (double)ns;
    if (ns < h->min_ns) h->min_ns = ns;
    if (ns > h->max_ns) h->max_ns = ns;
}

void ss_hist_merge(ss_hist *into, const ss_hist *from) {
    for (int i = 0; i < SS_HIST_BUCKETS; i++) into->counts[i] += from->counts[i];
    into->total += from->total;
    into->sum_ns += from->sum_ns;
    if (from->min_ns < into->min_ns) into->min_ns = from->min_ns;
    if (from->max_ns > into->max_ns) into->max_ns = from->max_ns;
}

uint64_t ss_hist_percentile(const ss_hist *h, double p) {
    if (!h->total) return 0;
    if (p >= 100) return h->max_ns;
    uint64_t want = (uint64_t)ceil(p / 100.0 * (double)h->total);
    if (want < 1) want = 1;
    uint64_t seen = 0;
    for (int i = 0; i < SS_HIST_BUCKETS; i++) {
        seen += h->counts[i];
        if (seen >= want) {
            uint64_t v = hist_value_hi(i);
            return v > h->max_ns ? h->max_ns : v;
        }
    }
    return h->max_ns;
}

/* ---- report --------------------------------------------------------------------------- */

static void copy(char *dst, size_t n, const char *src) { snprintf(dst, n, "%s", src ? src : ""); }

void ss_check_report_init(ss_check_report *r, const char *check) {
    memset(r, 0, sizeof *r);
    copy(r->check, sizeof r->check, check);
    r->started_unix = (double)ss_wall_us() / 1e6;
}

void ss_check_report_free(ss_check_report *r) {
    for (int i = 0; i < r->nseries; i++) free(r->series[i]);
    r->nseries = 0;
}

void ss_check_input_str(ss_check_report *r, const char *name, const char *value) {
    if (r->ninputs >= SS_CHECK_MAX_INPUTS) return;
    ss_check_input *in = &r->inputs[r->ninputs++];
    copy(in->name, sizeof in->name, name);
    copy(in->value, sizeof in->value, value);
    in->is_number = 0;
}

void ss_check_input_num(ss_check_report *r, const char *name, double value) {
    if (r->ninputs >= SS_CHECK_MAX_INPUTS) return;
    ss_check_input *in = &r->inputs[r->ninputs++];
    copy(in->name, sizeof in->name, name);
    snprintf(in->value, sizeof in->value, "%.17g", value);
    in->is_number = 1;
}

void ss_check_figure_add(ss_check_report *r, const char *name, double value, const char *unit) {
    if (r->nfigures >= SS_CHECK_MAX_FIGURES) return;
    ss_check_figure *f = &r->figures[r->nfigures++];
    copy(f->name, sizeof f->name, name);
    copy(f->unit, sizeof f->unit, unit);
    f->value = value;
}

const char *ss_check_cmp_str(ss_check_cmp c) {
    switch (c) {
    case SS_CMP_LT: return "<";
    case SS_CMP_LE: return "<=";
    case SS_CMP_GE: return ">=";
    case SS_CMP_EQ: return "==";
    }
    return "?";
}

int ss_check_criterion_add(ss_check_report *r, const char *name, ss_check_cmp cmp, double threshold,
                           double measured, const char *unit, const char *why) {
    int pass = 0;
    switch (cmp) {
    case SS_CMP_LT: pass = measured < threshold; break;
    case SS_CMP_LE: pass = measured <= threshold; break;
    case SS_CMP_GE: pass = measured >= threshold; break;
    case SS_CMP_EQ: pass = measured == threshold; break;
    }
    if (r->ncriteria >= SS_CHECK_MAX_CRITERIA) return pass;
    ss_check_criterion *c = &r->criteria[r->ncriteria++];
    copy(c->name, sizeof c->name, name);
    copy(c->unit, sizeof c->unit, unit);
    copy(c->why, sizeof c->why, why);
    c->cmp = cmp;
    c->threshold = threshold;
    c->measured = measured;
    c->pass = pass;
    return pass;
}

void ss_check_note(ss_check_report *r, const char *fmt, ...) {
    if (r->nnotes >= SS_CHECK_MAX_NOTES) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->notes[r->nnotes++], sizeof r->notes[0], fmt, ap);
    va_end(ap);
}

ss_check_series *ss_check_series_new(ss_check_report *r, const char *name, const char *unit) {
    if (r->nseries >= SS_CHECK_MAX_SERIES) return NULL;
    ss_check_series *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    copy(s->name, sizeof s->name, name);
    copy(s->unit, sizeof s->unit, unit);
    r->series[r->nseries++] = s;
    return s;
}

void ss_check_series_add(ss_check_series *s, double t, double v) {
    if (!s || s->n >= SS_CHECK_SERIES_POINTS) return;
    s->t[s->n] = t;
    s->v[s->n] = v;
    s->n++;
}

int ss_check_report_passed(const ss_check_report *r) {
    if (r->interrupted || r->ncriteria == 0) return 0;
    for (int i = 0; i < r->ncriteria; i++)
        if (!r->criteria[i].pass) return 0;
    return 1;
}

static void json_num(ss_buf *b, double v) {
    if (isnan(v) || isinf(v)) ss_buf_puts(b, "null");
    else if (v == floor(v) && fabs(v) < 9e15) ss_buf_printf(b, "%.0f", v);
    else ss_buf_printf(b, "%.6g", v);
}

static void json_str(ss_buf *b, const char *s) { ss_buf_append_json_string(b, s, strlen(s)); }

int ss_check_report_json(const ss_check_env *e, const ss_check_report *r, ss_buf *out) {
    ss_buf_puts(out, "{\"check\":");
    json_str(out, r->check);
    ss_buf_puts(out, ",\"verdict\":");
    json_str(out, r->interrupted ? "INTERRUPTED" : ss_check_report_passed(r) ? "PASS" : "FAIL");
    ss_buf_puts(out, ",\"versions\":{\"skyspool\":");
    json_str(out, SKYSPOOL_VERSION);
    ss_buf_puts(out, ",\"redis\":");
    json_str(out, e->redis_version);
    ss_buf_puts(out, "},\"redis\":{\"target\":");
    json_str(out, e->redis_describe);
    ss_buf_printf(out, ",\"embedded\":%s},\"run_id\":", e->embedded ? "true" : "false");
    json_str(out, e->run_id);
    ss_buf_puts(out, ",\"prefix\":");
    json_str(out, e->prefix);
    ss_buf_puts(out, ",\"started_unix\":");
    json_num(out, floor(r->started_unix));
    ss_buf_puts(out, ",\"elapsed_s\":");
    json_num(out, r->elapsed_s);
    ss_buf_printf(out, ",\"interrupted\":%s,\"inputs\":{", r->interrupted ? "true" : "false");
    for (int i = 0; i < r->ninputs; i++) {
        if (i) ss_buf_putc(out, ',');
        json_str(out, r->inputs[i].name);
        ss_buf_putc(out, ':');
        if (r->inputs[i].is_number) json_num(out, strtod(r->inputs[i].value, NULL));
        else json_str(out, r->inputs[i].value);
    }
    ss_buf_puts(out, "},\"figures\":{");
    for (int i = 0; i < r->nfigures; i++) {
        if (i) ss_buf_putc(out, ',');
        json_str(out, r->figures[i].name);
        ss_buf_puts(out, ":{\"value\":");
        json_num(out, r->figures[i].value);
        ss_buf_puts(out, ",\"unit\":");
        json_str(out, r->figures[i].unit);
        ss_buf_putc(out, '}');
    }
    ss_buf_puts(out, "},\"criteria\":[");
    for (int i = 0; i < r->ncriteria; i++) {
        const ss_check_criterion *c = &r->criteria[i];
        if (i) ss_buf_putc(out, ',');
        ss_buf_puts(out, "{\"name\":");
        json_str(out, c->name);
        ss_buf_puts(out, ",\"measured\":");
        json_num(out, c->measured);
        ss_buf_puts(out, ",\"op\":");
        json_str(out, ss_check_cmp_str(c->cmp));
        ss_buf_puts(out, ",\"threshold\":");
        json_num(out, c->threshold);
        ss_buf_puts(out, ",\"unit\":");
        json_str(out, c->unit);
        ss_buf_puts(out, ",\"verdict\":");
        json_str(out, c->pass ? "PASS" : "FAIL");
        ss_buf_puts(out, ",\"why\":");
        json_str(out, c->why);
        ss_buf_putc(out, '}');
    }
    ss_buf_puts(out, "],\"notes\":[");
    for (int i = 0; i < r->nnotes; i++) {
        if (i) ss_buf_putc(out, ',');
        json_str(out, r->notes[i]);
    }
    ss_buf_puts(out, "],\"series\":{");
    for (int i = 0; i < r->nseries; i++) {
        const ss_check_series *s = r->series[i];
        if (i) ss_buf_putc(out, ',');
        json_str(out, s->name);
        ss_buf_puts(out, ":{\"unit\":");
        json_str(out, s->unit);
        ss_buf_puts(out, ",\"t\":[");
        for (int j = 0; j < s->n; j++) ss_buf_printf(out, "%s%.3f", j ? "," : "", s->t[j]);
        ss_buf_puts(out, "],\"v\":[");
        for (int j = 0; j < s->n; j++) {
            if (j) ss_buf_putc(out, ',');
            json_num(out, s->v[j]);
        }
        ss_buf_puts(out, "]}");
    }
    ss_buf_puts(out, "}}\n");
    return 0;
}

int ss_check_report_text(const ss_check_report *r, ss_buf *out) {
    ss_buf_printf(out, "check %s: %s (%.1f s)\n", r->check,
                  r->interrupted ? "INTERRUPTED" : ss_check_report_passed(r) ? "PASS" : "FAIL", r->elapsed_s);
    if (r->nfigures) ss_buf_puts(out, "  measured:\n");
    for (int i = 0; i < r->nfigures; i++) {
        const ss_check_figure *f = &r->figures[i];
        if (f->value == (double)(long long)f->value)
            ss_buf_printf(out, "    %-40s %14lld %s\n", f->name, (long long)f->value, f->unit);
        else
            ss_buf_printf(out, "    %-40s %14.3f %s\n", f->name, f->value, f->unit);
    }
    if (r->ncriteria) ss_buf_puts(out, "  criteria:\n");
    for (int i = 0; i < r->ncriteria; i++) {
        const ss_check_criterion *c = &r->criteria[i];
        ss_buf_printf(out, "    %s  %-36s %.6g %s %s %.6g %s\n", c->pass ? "PASS" : "FAIL", c->name, c->measured, c->unit,
                      ss_check_cmp_str(c->cmp), c->threshold, c->unit);
        if (c->why[0] && !c->pass) ss_buf_printf(out, "          %s\n", c->why);
    }
    for (int i = 0; i < r->nnotes; i++) ss_buf_printf(out, "  note: %s\n", r->notes[i]);
    return 0;
}

/* ---- environment ---------------------------------------------------------------------- */

double ss_check_now(void) { return ss_mono_s(); }

void ss_check_env_init(ss_check_env *e) { memset(e, 0, sizeof *e); }

int ss_check_stopped(const ss_check_env *e) { return e->stop && *e->stop; }

void ss_check_progress(ss_check_env *e, const char *fmt, ...) {
    if (!e->progress) return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    e->progress(e->progress_ud, line);
}

static int run_id_ok(const char *s) {
    if (!*s) return 0;
    for (const char *p = s; *p; p++) {
        char ch = *p;
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' ||
              ch == '_' || ch == '.'))
            return 0;
    }
    return 1;
}

static int open_target(ss_check_env *e) {
    ss_target_opts o = {0};
    o.url = e->embedded ? NULL : e->url;
    o.password_file = e->password_file;
    o.data_dir = e->embedded ? e->data_dir : NULL;
    o.maxmemory = e->maxmemory;
    o.role = SS_ACL_CHECK; /* embedded: only the skyspool-check:* keys (buffer/acl.h) */
    o.prefix = e->prefix;  /* the ingester it runs connects as ingest, under this prefix */
    e->target = ss_redis_target_open(&o, e->errstr, sizeof e->errstr, NULL);
    if (!e->target) return -1;
    e->c = ss_redis_target_connect(e->target, e->errstr, sizeof e->errstr, NULL);
    if (!e->c) return -1;
    return 0;
}

int ss_check_env_open(ss_check_env *e) {
    if (!e->run_id[0]) {
        uint8_t rnd[6];
        if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) {
            snprintf(e->errstr, sizeof e->errstr, "getrandom: %s", strerror(errno));
            return -1;
        }
        for (size_t i = 0; i < sizeof rnd; i++) snprintf(e->run_id + 2 * i, 3, "%02x", rnd[i]);
    } else if (!run_id_ok(e->run_id)) {
        snprintf(e->errstr, sizeof e->errstr, "run id '%s': use letters, digits, '-', '_' or '.'", e->run_id);
        return -1;
    }
    snprintf(e->prefix, sizeof e->prefix, SS_CHECK_PREFIX_ROOT "%s:", e->run_id);
    e->embedded = !e->url || !*e->url;
    if (e->embedded) {
        const char *tmp = getenv("TMPDIR");
        if (!tmp || !*tmp) tmp = "/tmp";
        snprintf(e->data_dir, sizeof e->data_dir, "%s/skyspool-check-%s-XXXXXX", tmp, e->run_id);
        if (!mkdtemp(e->data_dir)) {
            snprintf(e->errstr, sizeof e->errstr, "cannot create a temporary data dir under %s: %s", tmp,
                     strerror(errno));
            e->data_dir[0] = '\0';
            return -1;
        }
    }
    if (open_target(e) != 0) return -1;
    snprintf(e->redis_describe, sizeof e->redis_describe, "%s", ss_redis_target_describe(e->target));
    char *info = ss_redis_info(e->c, "server", e->errstr, sizeof e->errstr);
    if (!info) return -1;
    if (ss_redis_info_str(info, "redis_version", e->redis_version, sizeof e->redis_version) != 0)
        snprintf(e->redis_version, sizeof e->redis_version, "unknown");
    free(info);
    return 0;
}

redisReply *ss_check_cmd(ss_check_env *e, const char *fmt, ...) {
    if (!e->c) {
        snprintf(e->errstr, sizeof e->errstr, "not connected to Redis");
        return NULL;
    }
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(e->c, fmt, ap);
    va_end(ap);
    if (!r || r->type == REDIS_REPLY_ERROR) {
        ss_redis_describe_error(e->c, r, e->errstr, sizeof e->errstr);
        if (r) freeReplyObject(r);
        return NULL;
    }
    return r;
}

int ss_check_info_ll(ss_check_env *e, const char *section, const char *field, long long *out) {
    char *info = ss_redis_info(e->c, section, e->errstr, sizeof e->errstr);
    if (!info) return -1;
    int rc = ss_redis_info_ll(info, field, out);
    free(info);
    if (rc != 0) snprintf(e->errstr, sizeof e->errstr, "INFO %s has no %s", section, field);
    return rc;
}

long long ss_check_redis_pid(ss_check_env *e) {
    long long pid = -1;
    if (ss_check_info_ll(e, "server", "process_id", &pid) != 0) return -1;
    return pid;
}

/* Calls fn(key) for every key under the prefix; stops early when fn returns non-zero. */
static int scan_prefix(ss_check_env *e, long long *found, int delete) {
    char cursor[32] = "0";
    char pattern[160];
    snprintf(pattern, sizeof pattern, "%s*", e->prefix);
    *found = 0;
    do {
        redisReply *r = ss_check_cmd(e, "SCAN %s MATCH %s COUNT 1000", cursor, pattern);
        if (!r) return -1;
        if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 || r->element[0]->type != REDIS_REPLY_STRING ||
            r->element[1]->type != REDIS_REPLY_ARRAY) {
            freeReplyObject(r);
            snprintf(e->errstr, sizeof e->errstr, "unexpected SCAN reply");
            return -1;
        }
        snprintf(cursor, sizeof cursor, "%s", r->element[0]->str);
        redisReply *keys = r->element[1];
        *found += (long long)keys->elements;
        if (delete && keys->elements) {
            size_t n = keys->elements + 1;
            const char **argv = malloc(n * sizeof *argv);
            size_t *lens = malloc(n * sizeof *lens);
            if (!argv || !lens) {
                free(argv);
                free(lens);
                freeReplyObject(r);
                snprintf(e->errstr, sizeof e->errstr, "out of memory");
                return -1;
            }
            argv[0] = "UNLINK";
            lens[0] = 6;
            for (size_t i = 0; i < keys->elements; i++) {
                argv[i + 1] = keys->element[i]->str;
                lens[i + 1] = keys->element[i]->len;
            }
            redisReply *d = redisCommandArgv(e->c, (int)n, argv, lens);
            free(argv);
            free(lens);
            if (!d || d->type == REDIS_REPLY_ERROR) {
                ss_redis_describe_error(e->c, d, e->errstr, sizeof e->errstr);
                if (d) freeReplyObject(d);
                freeReplyObject(r);
                return -1;
            }
            freeReplyObject(d);
        }
        freeReplyObject(r);
    } while (strcmp(cursor, "0") != 0);
    return 0;
}

int ss_check_guard(ss_check_env *e) {
    long long n = 0;
    if (scan_prefix(e, &n, 0) != 0) return -1;
    if (n > 0) {
        snprintf(e->errstr, sizeof e->errstr,
                 "refusing to run: %lld key(s) already exist under %s* and they are not this run's; a check deletes "
                 "every key under its prefix afterwards, so it will not share one (pick another --run-id, or look at "
                 "them with: redis-cli --scan --pattern '%s*')",
                 n, e->prefix, e->prefix);
        return -1;
    }
    return 0;
}

int ss_check_cleanup(ss_check_env *e) {
    if (!e->target) return 0;
    if (!e->c || e->c->err) {
        if (e->c) redisFree(e->c);
        e->c = ss_redis_target_connect(e->target, e->errstr, sizeof e->errstr, NULL);
        if (!e->c) return -1;
    }
    long long total = 0, n = 0;
    /* SCAN may return a key twice and UNLINK is idempotent; loop until nothing is left */
    for (int round = 0; round < 10; round++) {
        if (scan_prefix(e, &n, 1) != 0) return -1;
        total += n;
        if (n == 0) break;
    }
    e->keys_deleted += total;
    return 0;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void ss_check_env_close(ss_check_env *e) {
    if (e->c) redisFree(e->c);
    e->c = NULL;
    if (e->target) ss_redis_target_close(e->target);
    e->target = NULL;
    if (e->embedded && e->data_dir[0]) nftw(e->data_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    e->data_dir[0] = '\0';
}

int ss_check_env_restart(ss_check_env *e, const char *restart_cmd, int kill9, double *stop_ms, double *start_ms) {
    double t0 = ss_check_now(), t1;
    if (e->embedded) {
        if (kill9) {
            long long pid = ss_check_redis_pid(e);
            if (pid <= 0) return -1;
            if (kill((pid_t)pid, SIGKILL) != 0) {
                snprintf(e->errstr, sizeof e->errstr, "kill -9 %lld: %s", pid, strerror(errno));
                return -1;
            }
            /* the server is our child: wait until it is gone, so the restart finds no live pid */
            for (int i = 0; i < 500 && kill((pid_t)pid, 0) == 0; i++) {
                waitpid((pid_t)pid, NULL, WNOHANG);
                ss_sleep_us(10000);
            }
        }
        redisFree(e->c);
        e->c = NULL;
        ss_redis_target_close(e->target); /* SHUTDOWN: AOF flushed (after a kill -9: nothing to stop) */
        e->target = NULL;
        t1 = ss_check_now();
        if (open_target(e) != 0) return -1;
    } else {
        redisFree(e->c);
        e->c = NULL;
        int st = system(restart_cmd);
        if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            snprintf(e->errstr, sizeof e->errstr, "--restart-cmd '%s' failed (status %d)", restart_cmd,
                     st == -1 ? -1 : WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
            return -1;
        }
        t1 = ss_check_now();
        /* wait up to 120 s for Redis to answer with its dataset loaded */
        for (;;) {
            e->c = ss_redis_target_connect(e->target, e->errstr, sizeof e->errstr, NULL);
            if (e->c) {
                long long loading = 1;
                if (ss_check_info_ll(e, "persistence", "loading", &loading) == 0 && loading == 0) break;
                redisFree(e->c);
                e->c = NULL;
            }
            if (ss_check_now() - t1 > 120) {
                snprintf(e->errstr, sizeof e->errstr, "Redis did not come back within 120 s after --restart-cmd");
                return -1;
            }
            ss_sleep_us(50000);
        }
    }
    double t2 = ss_check_now();
    if (stop_ms) *stop_ms = (t1 - t0) * 1000;
    if (start_ms) *start_ms = (t2 - t1) * 1000;
    return 0;
}

/* The newest AOF increment file of the embedded server (appendonlydir/NAME.N.incr.aof): the
 * one Redis appends to, so the one whose tail a host crash loses. */
static int newest_incr_aof(const char *dir, char *out, size_t outlen) {
    char adir[PATH_MAX + 16];
    snprintf(adir, sizeof adir, "%s/appendonlydir", dir);
    DIR *d = opendir(adir);
    if (!d) return -1;
    struct dirent *de;
    long best = -1;
    while ((de = readdir(d))) {
        const char *suf = strstr(de->d_name, ".incr.aof");
        if (!suf || suf[9] != '\0') continue;
        /* NAME.<seq>.incr.aof: the sequence number is what orders them */
        const char *q = suf;
        while (q > de->d_name && q[-1] >= '0' && q[-1] <= '9') q--;
        long seq = strtol(q, NULL, 10);
        if (seq > best) {
            best = seq;
            snprintf(out, outlen, "%s/%s", adir, de->d_name);
        }
    }
    closedir(d);
    return best >= 0 ? 0 : -1;
}

int ss_check_env_crash_restart(ss_check_env *e, long long cut_bytes, long long *cut_done, double *down_ms) {
    if (!e->embedded) {
        snprintf(e->errstr, sizeof e->errstr, "a crash with AOF loss needs the embedded server");
        return -1;
    }
    double t0 = ss_check_now();
    long long pid = ss_check_redis_pid(e);
    if (pid <= 0) return -1;
    if (kill((pid_t)pid, SIGKILL) != 0) {
        snprintf(e->errstr, sizeof e->errstr, "kill -9 %lld: %s", pid, strerror(errno));
        return -1;
    }
    for (int i = 0; i < 500 && kill((pid_t)pid, 0) == 0; i++) {
        waitpid((pid_t)pid, NULL, WNOHANG);
        ss_sleep_us(10000);
    }
    redisFree(e->c);
    e->c = NULL;
    ss_redis_target_close(e->target);
    e->target = NULL;
    long long cut = 0;
    char aof[PATH_MAX + 300];
    if (cut_bytes > 0 && newest_incr_aof(e->data_dir, aof, sizeof aof) == 0) {
        struct stat st;
        if (stat(aof, &st) == 0 && st.st_size > 0) {
            /* never the whole file: Redis refuses an increment file that lost its start */
            cut = cut_bytes < st.st_size / 2 ? cut_bytes : st.st_size / 2;
            if (truncate(aof, st.st_size - cut) != 0) {
                snprintf(e->errstr, sizeof e->errstr, "truncate %.900s: %s", aof, strerror(errno));
                return -1;
            }
        }
    }
    if (cut_done) *cut_done = cut;
    if (open_target(e) != 0) return -1;
    if (down_ms) *down_ms = (ss_check_now() - t0) * 1000;
    return 0;
}

/* ---- payloads ------------------------------------------------------------------------- */

int ss_check_archive_keys(ss_check_env *e, const char *dir, void (*fn)(void *ud, const uint8_t key[16]), void *ud,
                          long long *rows) {
    *rows = 0;
    char spec[PATH_MAX + 16];
    snprintf(spec, sizeof spec, "archive:%s", dir);
    ss_source_opts so;
    ss_source_opts_init(&so);
    char err[512];
    ss_source *src = ss_source_open(spec, &so, err, sizeof err, NULL);
    if (!src) return snprintf(e->errstr, sizeof e->errstr, "reading the archive back: %s", err), -1;
    ss_decoder *d = ss_decoder_new(NULL);
    int rc = d ? 0 : -1;
    if (!d) snprintf(e->errstr, sizeof e->errstr, "out of memory");
    while (rc == 0) {
        ss_source_msg m;
        int r = ss_source_next(src, &m, 1000);
        if (r == SS_SOURCE_END) break;
        if (r == SS_SOURCE_AGAIN) continue;
        ss_event ev;
        if (r != SS_SOURCE_MSG || m.bad_reason || ss_decode(d, m.data, m.len, &ev) != SS_DECODE_OK) {
            snprintf(e->errstr, sizeof e->errstr, "reading the archive back: %.990s",
                     r != SS_SOURCE_MSG ? src->errstr : "a row does not decode as an event");
            rc = -1;
            break;
        }
        uint8_t key[16];
        ss_event_dedup_key(&ev, key);
        fn(ud, key);
        if ((++*rows & 0x3ffff) == 0) {
            ss_check_progress(e, "reading the archive back: %lld rows", *rows);
            if (ss_check_stopped(e)) {
                snprintf(e->errstr, sizeof e->errstr, "interrupted while reading the archive back");
                rc = -1;
            }
        }
    }
    if (d) ss_decoder_free(d);
    ss_source_close(src);
    return rc;
}

ss_source *ss_check_synth_open(long long events, uint64_t seed, char *err, size_t errlen) {
    char spec[96];
    snprintf(spec, sizeof spec, "synth:events=%lld,seed=%llu", events, (unsigned long long)seed);
    ss_source_opts so;
    ss_source_opts_init(&so);
    return ss_source_open(spec, &so, err, errlen, NULL);
}

int ss_check_payloads_make(ss_check_payloads *p, int n, uint64_t seed, char *err, size_t errlen) {
    memset(p, 0, sizeof *p);
    ss_source *s = ss_check_synth_open(n, seed, err, errlen);
    if (!s) return -1;
    ss_decoder *d = ss_decoder_new(NULL);
    p->event = calloc((size_t)n, sizeof *p->event);
    p->event_len = calloc((size_t)n, sizeof *p->event_len);
    p->meta = calloc((size_t)n, sizeof *p->meta);
    if (!d || !p->event || !p->event_len || !p->meta) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    while (p->n < n) {
        ss_source_msg m;
        int rc = ss_source_next(s, &m, 1000);
        if (rc == SS_SOURCE_END) break;
        if (rc != SS_SOURCE_MSG) {
            if (rc == SS_SOURCE_AGAIN) continue;
            snprintf(err, errlen, "synth: %s", s->errstr);
            goto fail;
        }
        if (m.bad_reason) continue;
        ss_event ev;
        if (ss_decode(d, m.data, m.len, &ev) != SS_DECODE_OK) continue;
        uint8_t key[16];
        ss_event_dedup_key(&ev, key);
        size_t ml = ss_event_meta_format(key, ev.time_us, p->meta[p->n]);
        p->meta[p->n][ml] = '\0';
        p->event[p->n] = malloc(m.len + 1);
        if (!p->event[p->n]) {
            snprintf(err, errlen, "out of memory");
            goto fail;
        }
        memcpy(p->event[p->n], m.data, m.len);
        p->event[p->n][m.len] = '\0';
        p->event_len[p->n] = m.len;
        p->n++;
    }
    ss_decoder_free(d);
    ss_source_close(s);
    if (p->n == 0) {
        snprintf(err, errlen, "synth produced no events");
        ss_check_payloads_free(p);
        return -1;
    }
    return 0;
fail:
    if (d) ss_decoder_free(d);
    ss_source_close(s);
    ss_check_payloads_free(p);
    return -1;
}

void ss_check_payloads_free(ss_check_payloads *p) {
    if (p->event)
        for (int i = 0; i < p->n; i++) free(p->event[i]);
    free(p->event);
    free(p->event_len);
    free(p->meta);
    memset(p, 0, sizeof *p);
}

/* ---- the ingester on a thread ---------------------------------------------------------- */

static void *ingester_main(void *arg) {
    ss_check_ingester *it = arg;
    it->rc = ss_ingest_run(it->ing, it->src, &it->stop);
    __atomic_store_n(&it->running, 0, __ATOMIC_RELEASE);
    return NULL;
}

int ss_check_ingester_start(ss_check_env *e, ss_check_ingester *it, const char *spec, int connections) {
    memset(it, 0, sizeof *it);
    ss_source_opts so;
    ss_source_opts_init(&so);
    it->src = ss_source_open(spec, &so, e->errstr, sizeof e->errstr, NULL);
    if (!it->src) return -1;
    ss_ingest_opts io;
    ss_ingest_opts_init(&io);
    io.prefix = e->prefix;
    io.ignore_cursor = 1;
    io.horizon_us = 0;
    if (connections > 0) io.connections = connections;
    it->ing = ss_ingest_new(&io, e->target);
    if (!it->ing) {
        ss_source_close(it->src);
        it->src = NULL;
        return snprintf(e->errstr, sizeof e->errstr, "out of memory"), -1;
    }
    it->running = 1;
    if (pthread_create(&it->th, NULL, ingester_main, it) != 0) {
        ss_ingest_free(it->ing);
        ss_source_close(it->src);
        it->ing = NULL;
        it->src = NULL;
        it->running = 0;
        return snprintf(e->errstr, sizeof e->errstr, "cannot start the ingester thread"), -1;
    }
    return 0;
}

int ss_check_ingester_done(ss_check_ingester *it) { return !__atomic_load_n(&it->running, __ATOMIC_ACQUIRE); }

int ss_check_ingester_stop(ss_check_env *e, ss_check_ingester *it, ss_ingest_stats *st) {
    if (!it->ing) return -1;
    it->stop = 1;
    pthread_join(it->th, NULL);
    if (st) ss_ingest_get_stats(it->ing, st);
    int rc = it->rc;
    if (rc != 0) snprintf(e->errstr, sizeof e->errstr, "ingest: %s", ss_ingest_errstr(it->ing));
    ss_ingest_free(it->ing);
    ss_source_close(it->src);
    it->ing = NULL;
    it->src = NULL;
    return rc;
}
