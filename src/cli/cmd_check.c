/* `skyspool check NAME`: the prototype's validation suite as repeatable commands. The checks
 * themselves live in src/check/ (library code: no printing); this file parses flags, opens
 * one private environment per check (its own embedded redis-server in a temp dir, or the
 * --redis URL under a private key prefix), draws the progress line, prints the report,
 * writes --json and --png, and turns verdicts into the exit status: 0 every criterion
 * holds, 1 one fails (or the check could not run), 2 usage error.
 *
 * Cleanup is not optional: whatever way a check ends (pass, fail, error, SIGINT/SIGTERM),
 * ss_check_cleanup() deletes the keys under the check's prefix before the command exits. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check/check.h"
#include "cli/cli.h"
#include "cli/cli_redis.h"
#include "cli/config.h"
#include "util/log.h"

#define CHECK_PRESSURE_MAXMEMORY (64LL << 20) /* the embedded server of check pressure */

static const struct {
    const char *name;
    const char *summary;
} g_checks[] = {
    {"baseline", "latency p50/p95/p99/p99.9 and ops/s of SET/GET, XADD, XREADGROUP+XACK [1/2/5 ms; 15,000 ops/s]"},
    {"persistence", "N events + a group with a PEL survive BGREWRITEAOF and a restart; --crash: what kill -9 loses"},
    {"pressure", "Redis at 95 % of maxmemory: the ingester pauses, nothing evicted, nothing lost; evicting Redis FAILs"},
    {"capacity", "N events through the ingester: bytes/event, peak memory, hours held at 1,000/2,000 events/s; a sample read back [1,587/s, 78.5 %]"},
    {"throughput", "sustained ingest at --rate and at the maximum, 1 and N connections: per-second series, CV, latency [1,500/s; 7,023]"},
    {"pipeline", "ingest -> write -> Parquet in this process; the archive read back row by row: nothing lost, doubled or foreign; per-window flush time [4 min / 5 min]"},
    {"soak", "the full stack (replay-server, ingest, write) at --rate with a fault every few minutes; no row lost or doubled"},
    {"all", "baseline, persistence, pressure, capacity, throughput and pipeline in sequence, with one summary table"},
};

static void usage(FILE *f) {
    fprintf(f,
            "usage: skyspool check NAME [options]\n\n"
            "Validates a deployment the way the prototype's numbered scripts did, repeatably. Each check prints\n"
            "what it measured and one PASS/FAIL line per criterion (threshold and measured value), and exits\n"
            "0 when every criterion holds, 1 when one fails or the check cannot run, 2 on usage errors.\n\n"
            "checks:\n");
    for (size_t i = 0; i < sizeof g_checks / sizeof g_checks[0]; i++)
        fprintf(f, "  %-12s %s\n", g_checks[i].name, g_checks[i].summary);
    fprintf(f,
            "\nwhere it runs:\n"
            "  Without --redis, each check starts its own private redis-server (the embedded configuration:\n"
            "  noeviction, AOF everysec) in a fresh temporary directory and removes it afterwards; your data dir\n"
            "  and its buffer are never touched. With --redis URL it works only under the key prefix\n"
            "  skyspool-check:<run id>:, refuses to start if that prefix already holds keys, and deletes the keys\n"
            "  under it (and nothing else) when it ends, also after Ctrl-C.\n\n"
            "common options:\n"
            "  --redis URL               an existing Redis instead of a private embedded one\n"
            "  --redis-password-file F   its password\n"
            "  --maxmemory SIZE          maxmemory of the embedded server [2gb; pressure: 64mb]\n"
            "  --json FILE               the result as JSON (shape in docs/CHECKS.md; '-' = stdout)\n"
            "  --png FILE                a chart of the check's time series (gnuplot); with all: FILE per check\n"
            "  --run-id ID               the run id in the key prefix [random]\n"
            "  --log-level LEVEL         [warn]\n\n"
            "baseline:\n"
            "  --seconds S               per operation and client count [5]\n"
            "  --clients N               the concurrent run [4]\n"
            "  --p50-ms X --p95-ms X --p99-ms X   latency thresholds [1, 2, 5]\n"
            "  --min-ops N               throughput threshold, ops/s [15000]\n\n"
            "persistence:\n"
            "  --events N                events loaded through the ingester [100000]\n"
            "  --pending N               entries delivered to a consumer group and not acked [1000]\n"
            "  --restart-cmd CMD         how to restart an external Redis (required with --redis)\n"
            "  --crash                   kill -9 the embedded Redis instead of a clean restart\n"
            "  --tail-seconds S          --crash: writes before the kill [3]\n"
            "  --max-loss-ms MS          --crash: acknowledged writes older than this must survive [2000]\n"
            "  --min-recovered-pct P     [100]\n\n"
            "pressure:\n"
            "  --duration D              hold at pressure this long [300s]\n"
            "  --target-pct P            share of maxmemory to fill to [95]\n"
            "  --fill-timeout D          give up filling after [180s]\n\n"
            "capacity:\n"
            "  --events N                events loaded through the ingester [2700000]\n"
            "  --sample N                entries read back and compared byte for byte [1000]\n"
            "  --min-load-rate N         load events/s at least [1587]\n"
            "  --max-memory-pct P        peak used_memory at most [80]\n"
            "  --load-timeout D          give up when the load makes no progress this long (paused) [30s]\n\n"
            "throughput:\n"
            "  --duration D              per phase (paced and unpaced, 1 and N connections) [20s]\n"
            "  --rate R                  the paced phases' events/s [1500]\n"
            "  --connections N           the N of the multi-connection phases [10]\n"
            "  --min-rate-pct P          paced phases reach this share of --rate [95]\n"
            "  --max-cv X                paced phases' coefficient of variation at most [0.1]\n"
            "  --min-max-rate N          best unpaced events/s at least [7023]\n"
            "  --p99-ms X                probe XADD p99 during the paced phases [5]\n\n"
            "pipeline:\n"
            "  --events N                synth events through ingest and write [600000]\n"
            "  --event-rate R            their spacing in event time, events per second [2000]\n"
            "  --window D --grace D      the writer's window and grace [5m, 30s]\n"
            "  --max-flush D             a window's flush time at most [0.8 x window: 4 min of 5]\n"
            "  --min-rate N              end-to-end events/s at least [2000]\n"
            "  --archive DIR             write into DIR (kept) instead of a fresh temporary one; rows\n"
            "                            already there count as duplicated or unexpected\n\n"
            "soak (runs this binary as replay-server, ingest and write; on --redis without the two\n"
            "      Redis faults, which would restart or kill a server that is not the check's):\n"
            "  --duration D              how long the stack runs under faults [1h]\n"
            "  --rate R                  events/s the source serves [2000]\n"
            "  --fault-every D           one fault this often, cycling through the kinds [5m]\n"
            "  --stall D                 how long a stalled source (or a full disk) lasts; the ingester's read\n"
            "                            timeout is half of it [2m]\n"
            "  --aof-cut SIZE            bytes cut off the AOF at the crash with AOF tail loss [1mb]\n"
            "  --disk-faults             also fill the archive disk (a tmpfs, so root only)\n"
            "  --disk-size SIZE          that tmpfs [4gb]\n"
            "  --window D --grace D      the writer's window and grace [5m, 30s]\n"
            "  --max-lag D               oldest buffered entry at most [2 x window + grace + 60s]\n"
            "  --max-recovery D          each fault recovered within [window + grace + 60s]\n"
            "  --min-rate-pct P          mean ingest rate over the run vs --rate [80]\n"
            "  --drain-timeout D         for the rest of the input and the final write [15m]\n\n"
            "examples:\n"
            "  skyspool check baseline                              # private embedded Redis  [slow]\n"
            "  skyspool check baseline --redis redis://10.0.0.5:6379 --clients 16 --json baseline.json   # [host]\n"
            "  skyspool check persistence --events 100000   # [slow]\n"
            "  skyspool check persistence --crash                   # what AOF everysec loses on kill -9  [slow]\n"
            "  skyspool check persistence --redis redis://127.0.0.1:6380 \\\n"
            "      --restart-cmd 'systemctl restart redis-server@6380'   # [host]\n"
            "  skyspool check pressure --duration 60s --maxmemory 128mb   # [slow]\n"
            "  skyspool check capacity --events 2700000 --json capacity.json --png capacity.png   # [slow]\n"
            "  skyspool check throughput --duration 30s --rate 2000 --connections 8   # [slow]\n"
            "  skyspool check pipeline --events 600000 --json pipeline.json --png pipeline.png   # [slow]\n"
            "  skyspool check soak --duration 1h --json soak.json --png soak.png   # [slow]\n"
            "  sudo skyspool check soak --duration 10m --fault-every 1m --disk-faults --disk-size 256mb   # [host]\n"
            "  skyspool check all --json all.json && echo deployment ok   # [slow]\n");
}

typedef struct {
    const char *json, *png, *run_id;
    int tty;
    ss_check_baseline_opts b;
    ss_check_persistence_opts p;
    ss_check_pressure_opts q;
    ss_check_soak_opts s;
    ss_check_capacity_opts c;
    ss_check_throughput_opts t;
    ss_check_pipeline_opts l;
    char exe[4096];
    int maxmemory_set;
} check_args;

static void progress(void *ud, const char *line) {
    (void)ud;
    fprintf(stdout, "\r\033[K%s", line);
    fflush(stdout);
}

static void progress_clear(const check_args *a) {
    if (a->tty) {
        fputs("\r\033[K", stdout);
        fflush(stdout);
    }
}

static int write_file(const char *path, const ss_buf *b) {
    if (!strcmp(path, "-")) {
        fwrite(b->data, 1, b->len, stdout);
        return fflush(stdout);
    }
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) return -1;
    size_t n = fwrite(b->data, 1, b->len, f);
    if (fclose(f) != 0 || n != b->len || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

static void gp_quoted(FILE *g, const char *s) {
    fputc('\'', g);
    for (const char *p = s; *p; p++) fputs(*p == '\'' ? "''" : (char[2]){*p, 0}, g);
    fputc('\'', g);
}

/* One plot command of the series whose unit is in units[0..nunits) (the second unit on the
 * right axis). */
static void gp_plot(FILE *g, const ss_check_report *r, const char *const *units, int nunits) {
    fprintf(g, "set ylabel ");
    gp_quoted(g, units[0]);
    fprintf(g, "\n");
    if (nunits > 1) {
        fprintf(g, "set y2tics\nset ytics nomirror\nset y2label ");
        gp_quoted(g, units[1]);
        fprintf(g, "\n");
    } else {
        fprintf(g, "unset y2tics\nset ytics mirror\nunset y2label\n");
    }
    fprintf(g, "plot ");
    int first = 1;
    for (int i = 0; i < r->nseries; i++) {
        int u = -1;
        for (int k = 0; k < nunits; k++)
            if (!strcmp(r->series[i]->unit, units[k])) u = k;
        if (u < 0) continue;
        fprintf(g, "%s'-' using 1:2 with lines lw 2 title ", first ? "" : ", ");
        gp_quoted(g, r->series[i]->name);
        fprintf(g, "%s", u == 1 ? " axes x1y2" : "");
        first = 0;
    }
    fprintf(g, "\n");
    for (int i = 0; i < r->nseries; i++) {
        int u = -1;
        for (int k = 0; k < nunits; k++)
            if (!strcmp(r->series[i]->unit, units[k])) u = k;
        if (u < 0) continue;
        const ss_check_series *x = r->series[i];
        for (int j = 0; j < x->n; j++) fprintf(g, "%.3f %.6g\n", x->t[j], x->v[j]);
        if (x->n == 0) fprintf(g, "0 0\n");
        fprintf(g, "e\n");
    }
}

/* The report's time series as a gnuplot chart, 1000x600: with one or two units, one panel
 * (the first series' unit on the left axis, the other on the right one); with more units (soak:
 * rates, seconds, megabytes) or more than 8 series (baseline: ops/s and latency of 6 runs), one
 * panel per unit stacked, so that no two scales share an axis and each legend fits. Returns 0, or -1 (message printed). */
static int write_png(const ss_check_report *r, const char *path) {
    if (r->nseries == 0) {
        fprintf(stderr, "skyspool check: %s has no time series; no chart written to %s\n", r->check, path);
        return 0;
    }
    FILE *g = popen("gnuplot 2>/dev/null", "w");
    if (!g) {
        fprintf(stderr, "skyspool check: cannot run gnuplot (install it: scripts/install-deps)\n");
        return -1;
    }
    const char *units[SS_CHECK_MAX_SERIES];
    int nunits = 0;
    for (int i = 0; i < r->nseries; i++) {
        int seen = 0;
        for (int k = 0; k < nunits; k++) seen |= !strcmp(units[k], r->series[i]->unit);
        if (!seen) units[nunits++] = r->series[i]->unit;
    }
    fprintf(g, "set terminal pngcairo size 1000,600 noenhanced\nset output ");
    gp_quoted(g, path);
    fprintf(g, "\nset grid\nset key outside right\n");
    if (nunits <= 2 && r->nseries <= 8) {
        fprintf(g, "set title 'skyspool check %s'\nset xlabel 'seconds'\nset key outside below\n", r->check);
        gp_plot(g, r, units, nunits);
    } else {
        fprintf(g, "set multiplot layout %d,1 title 'skyspool check %s'\nset lmargin 10\nset rmargin 34\n"
                   "set key font ',8' spacing 0.8\n", nunits, r->check);
        for (int k = 0; k < nunits; k++) {
            if (k == nunits - 1) fprintf(g, "set xlabel 'seconds'\n");
            gp_plot(g, r, &units[k], 1);
        }
        fprintf(g, "unset multiplot\n");
    }
    int st = pclose(g);
    if (st != 0 || access(path, F_OK) != 0) {
        fprintf(stderr, "skyspool check: gnuplot failed to write %s (is gnuplot installed? scripts/install-deps)\n",
                path);
        return -1;
    }
    return 0;
}

static volatile sig_atomic_t g_stop;

/* Runs one check in its own environment. Returns 0 pass, 1 fail or error; fills *rep. */
static int run_one(const char *name, const ss_config *cfg, const check_args *a, ss_check_report *rep,
                   ss_check_env *env) {
    ss_check_env_init(env);
    env->url = ss_config_get(cfg, "redis-url");
    env->password_file = ss_config_get(cfg, "redis-password-file");
    env->maxmemory = a->maxmemory_set ? ss_config_get_bytes(cfg, "maxmemory") : !strcmp(name, "pressure") ? CHECK_PRESSURE_MAXMEMORY : 0;
    if (a->run_id) snprintf(env->run_id, sizeof env->run_id, "%s", a->run_id);
    env->stop = &g_stop;
    if (a->tty) env->progress = progress;
    ss_check_report_init(rep, name);
    double t0 = ss_check_now();
    int rc = 1;
    if (ss_check_env_open(env) != 0) {
        progress_clear(a);
        fprintf(stderr, "skyspool check %s: %s\n", name, env->errstr);
        ss_check_env_close(env);
        return 1;
    }
    if (ss_check_guard(env) != 0) {
        fprintf(stderr, "skyspool check %s: %s\n", name, env->errstr);
        env->prefix[0] = '\0'; /* not ours: never clean it */
        ss_check_env_close(env);
        return 1;
    }
    int crc;
    if (!strcmp(name, "baseline")) crc = ss_check_baseline(env, &a->b, rep);
    else if (!strcmp(name, "persistence")) crc = ss_check_persistence(env, &a->p, rep);
    else if (!strcmp(name, "pressure")) crc = ss_check_pressure(env, &a->q, rep);
    else if (!strcmp(name, "capacity")) crc = ss_check_capacity(env, &a->c, rep);
    else if (!strcmp(name, "throughput")) crc = ss_check_throughput(env, &a->t, rep);
    else if (!strcmp(name, "pipeline")) crc = ss_check_pipeline(env, &a->l, rep);
    else crc = ss_check_soak(env, &a->s, rep);
    rep->elapsed_s = ss_check_now() - t0;
    progress_clear(a);
    if (crc != 0) fprintf(stderr, "skyspool check %s: %s\n", name, env->errstr);
    else rc = ss_check_report_passed(rep) ? 0 : 1;
    if (ss_check_cleanup(env) != 0) {
        fprintf(stderr, "skyspool check %s: cleanup failed: %s (delete the keys %s* by hand)\n", name, env->errstr,
                env->prefix);
        rc = 1;
    }
    if (crc != 0) {
        ss_check_env_close(env);
        return 1;
    }
    ss_buf b;
    ss_buf_init(&b);
    ss_check_report_text(rep, &b);
    ss_buf_printf(&b, "  redis %s (%s), run id %s, %lld key(s) cleaned up\n", env->redis_version, env->redis_describe,
                  env->run_id, env->keys_deleted);
    fwrite(b.data, 1, b.len, stdout);
    fflush(stdout);
    ss_buf_free(&b);
    if (a->png) {
        char path[4096];
        const char *pat = strstr(a->png, "%s");
        if (pat)
            snprintf(path, sizeof path, "%.*s%s%s", (int)(pat - a->png), a->png, name, pat + 2);
        else
            snprintf(path, sizeof path, "%s", a->png);
        if (write_png(rep, path) != 0) rc = 1;
    }
    ss_check_env_close(env);
    return rc;
}

static int parse_ms_flag(const char *flag, const char *v, double *out) {
    long long ms;
    if (ss_parse_duration_ms(v, &ms) != 0 || ms < 0) return ss_usage_error("check", "%s wants a duration such as 30s or 5m, not '%s'", flag, v);
    *out = (double)ms / 1000.0;
    return 0;
}

int ss_cmd_check(int argc, char **argv) {
    enum {
        O_JSON = 1, O_PNG, O_RUN_ID, O_SECONDS, O_CLIENTS, O_P50, O_P95, O_P99, O_MIN_OPS, O_EVENTS, O_PENDING,
        O_RESTART, O_CRASH, O_TAIL, O_MAXLOSS, O_MINREC, O_DURATION, O_TARGET, O_FILL, O_SEED,
        O_RATE, O_FAULT_EVERY, O_STALL, O_AOF_CUT, O_DISK_FAULTS, O_DISK_SIZE, O_WINDOW, O_GRACE, O_MAX_LAG,
        O_MAX_REC, O_MIN_RATE, O_DRAIN, O_SAMPLE, O_MIN_LOAD, O_MAX_MEM_PCT, O_CONNS, O_MAX_CV, O_MIN_MAX, O_LOAD_TIMEOUT,
        O_EVENT_RATE, O_MAX_FLUSH, O_MIN_E2E, O_ARCHIVE
    };
    static const struct option opts[] = {SS_CONFIG_LONG_OPTIONS,
                                         {"json", required_argument, 0, O_JSON},
                                         {"png", required_argument, 0, O_PNG},
                                         {"run-id", required_argument, 0, O_RUN_ID},
                                         {"seconds", required_argument, 0, O_SECONDS},
                                         {"clients", required_argument, 0, O_CLIENTS},
                                         {"p50-ms", required_argument, 0, O_P50},
                                         {"p95-ms", required_argument, 0, O_P95},
                                         {"p99-ms", required_argument, 0, O_P99},
                                         {"min-ops", required_argument, 0, O_MIN_OPS},
                                         {"events", required_argument, 0, O_EVENTS},
                                         {"pending", required_argument, 0, O_PENDING},
                                         {"restart-cmd", required_argument, 0, O_RESTART},
                                         {"crash", no_argument, 0, O_CRASH},
                                         {"tail-seconds", required_argument, 0, O_TAIL},
                                         {"max-loss-ms", required_argument, 0, O_MAXLOSS},
                                         {"min-recovered-pct", required_argument, 0, O_MINREC},
                                         {"duration", required_argument, 0, O_DURATION},
                                         {"target-pct", required_argument, 0, O_TARGET},
                                         {"fill-timeout", required_argument, 0, O_FILL},
                                         {"seed", required_argument, 0, O_SEED},
                                         {"rate", required_argument, 0, O_RATE},
                                         {"fault-every", required_argument, 0, O_FAULT_EVERY},
                                         {"stall", required_argument, 0, O_STALL},
                                         {"aof-cut", required_argument, 0, O_AOF_CUT},
                                         {"disk-faults", no_argument, 0, O_DISK_FAULTS},
                                         {"disk-size", required_argument, 0, O_DISK_SIZE},
                                         {"window", required_argument, 0, O_WINDOW},
                                         {"grace", required_argument, 0, O_GRACE},
                                         {"max-lag", required_argument, 0, O_MAX_LAG},
                                         {"max-recovery", required_argument, 0, O_MAX_REC},
                                         {"min-rate-pct", required_argument, 0, O_MIN_RATE},
                                         {"drain-timeout", required_argument, 0, O_DRAIN},
                                         {"sample", required_argument, 0, O_SAMPLE},
                                         {"min-load-rate", required_argument, 0, O_MIN_LOAD},
                                         {"max-memory-pct", required_argument, 0, O_MAX_MEM_PCT},
                                         {"connections", required_argument, 0, O_CONNS},
                                         {"max-cv", required_argument, 0, O_MAX_CV},
                                         {"min-max-rate", required_argument, 0, O_MIN_MAX},
                                         {"load-timeout", required_argument, 0, O_LOAD_TIMEOUT},
                                         {"event-rate", required_argument, 0, O_EVENT_RATE},
                                         {"max-flush", required_argument, 0, O_MAX_FLUSH},
                                         {"min-rate", required_argument, 0, O_MIN_E2E},
                                         {"archive", required_argument, 0, O_ARCHIVE},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    check_args a;
    memset(&a, 0, sizeof a);
    ss_check_baseline_opts_init(&a.b);
    ss_check_persistence_opts_init(&a.p);
    ss_check_pressure_opts_init(&a.q);
    ss_check_soak_opts_init(&a.s);
    ss_check_capacity_opts_init(&a.c);
    ss_check_throughput_opts_init(&a.t);
    ss_check_pipeline_opts_init(&a.l);
    {
        ssize_t n = readlink("/proc/self/exe", a.exe, sizeof a.exe - 1);
        a.exe[n > 0 ? n : 0] = '\0';
        a.s.exe = a.exe;
    }
    ss_config *cfg = ss_config_new();
    if (!cfg) return ss_cmd_fail("check", "out of memory");
    int c, rc = 2;
    char err[1024];
    long long ll;
    optind = 1;
    /* NAME may come first (skyspool check baseline --json x) */
    int li = -1;
    while ((c = getopt_long(argc, argv, "h", opts, &li)) != -1) {
        int h = ss_config_handle_opt(cfg, c, optarg, err, sizeof err);
        if (h < 0) {
            rc = ss_usage_error("check", "%s", err);
            goto out;
        }
        if (h == 1) {
            if (c == SS_OPT_MAXMEMORY) a.maxmemory_set = 1;
            if (c == SS_OPT_PREFIX || c == SS_OPT_DATA_DIR) {
                rc = ss_usage_error("check", "a check uses its own prefix (skyspool-check:<run id>:) and its own "
                                             "temporary data dir; --prefix and --data-dir do not apply");
                goto out;
            }
            continue;
        }
        switch (c) {
        case 'h': usage(stdout); rc = 0; goto out;
        case O_JSON: a.json = optarg; break;
        case O_PNG: a.png = optarg; break;
        case O_RUN_ID: a.run_id = optarg; break;
        case O_SECONDS:
            if (ss_parse_double(optarg, 0.05, 86400, &a.b.seconds) != 0) goto bad;
            break;
        case O_CLIENTS:
            if (ss_parse_i64(optarg, 1, 256, &ll) != 0) goto bad;
            a.b.clients = (int)ll;
            break;
        case O_P50: if (ss_parse_double(optarg, 0, 1e6, &a.b.p50_ms) != 0) goto bad; break;
        case O_P95: if (ss_parse_double(optarg, 0, 1e6, &a.b.p95_ms) != 0) goto bad; break;
        case O_P99:
            if (ss_parse_double(optarg, 0, 1e6, &a.b.p99_ms) != 0) goto bad;
            a.t.p99_ms = a.b.p99_ms;
            break;
        case O_MIN_OPS: if (ss_parse_double(optarg, 0, 1e9, &a.b.min_ops) != 0) goto bad; break;
        case O_EVENTS:
            if (ss_parse_i64(optarg, 1, 100000000, &a.p.events) != 0) goto bad;
            a.c.events = a.l.events = a.p.events;
            break;
        case O_PENDING:
            if (ss_parse_i64(optarg, 0, 10000000, &a.p.pending) != 0) goto bad;
            break;
        case O_RESTART: a.p.restart_cmd = optarg; break;
        case O_CRASH: a.p.crash = 1; break;
        case O_TAIL: if (ss_parse_double(optarg, 0.1, 3600, &a.p.tail_seconds) != 0) goto bad; break;
        case O_MAXLOSS: if (ss_parse_double(optarg, 0, 3.6e6, &a.p.max_loss_ms) != 0) goto bad; break;
        case O_MINREC: if (ss_parse_double(optarg, 0, 100, &a.p.min_recovered_pct) != 0) goto bad; break;
        case O_DURATION:
            if (parse_ms_flag("--duration", optarg, &a.q.duration_s) != 0) goto out;
            a.s.duration_s = a.t.duration_s = a.q.duration_s;
            break;
        case O_RATE:
            if (ss_parse_double(optarg, 1, 1e6, &a.s.rate) != 0) goto bad;
            a.t.rate = a.s.rate;
            break;
        case O_SAMPLE:
            if (ss_parse_i64(optarg, 1, 10000000, &ll) != 0) goto bad;
            a.c.sample = (int)ll;
            break;
        case O_MIN_LOAD: if (ss_parse_double(optarg, 0, 1e9, &a.c.min_events_per_s) != 0) goto bad; break;
        case O_MAX_MEM_PCT: if (ss_parse_double(optarg, 0, 100, &a.c.max_memory_pct) != 0) goto bad; break;
        case O_CONNS:
            if (ss_parse_i64(optarg, 1, 16, &ll) != 0) goto bad;
            a.t.connections = (int)ll;
            break;
        case O_LOAD_TIMEOUT:
            if (parse_ms_flag("--load-timeout", optarg, &a.c.stall_timeout_s) != 0) goto out;
            break;
        case O_EVENT_RATE: if (ss_parse_double(optarg, 0.001, 1e6, &a.l.event_rate) != 0) goto bad; break;
        case O_MAX_FLUSH:
            if (parse_ms_flag("--max-flush", optarg, &a.l.max_flush_s) != 0) goto out;
            break;
        case O_MIN_E2E: if (ss_parse_double(optarg, 0, 1e9, &a.l.min_events_per_s) != 0) goto bad; break;
        case O_ARCHIVE: a.l.archive = optarg; break;
        case O_MAX_CV: if (ss_parse_double(optarg, 0, 100, &a.t.max_cv) != 0) goto bad; break;
        case O_MIN_MAX: if (ss_parse_double(optarg, 0, 1e9, &a.t.min_max_events_per_s) != 0) goto bad; break;
        case O_FAULT_EVERY:
            if (parse_ms_flag("--fault-every", optarg, &a.s.fault_every_s) != 0) goto out;
            break;
        case O_STALL:
            if (parse_ms_flag("--stall", optarg, &a.s.stall_s) != 0) goto out;
            break;
        case O_WINDOW:
            if (parse_ms_flag("--window", optarg, &a.s.window_s) != 0) goto out;
            a.l.window_s = a.s.window_s;
            break;
        case O_GRACE:
            if (parse_ms_flag("--grace", optarg, &a.s.grace_s) != 0) goto out;
            a.l.grace_s = a.s.grace_s;
            break;
        case O_MAX_LAG:
            if (parse_ms_flag("--max-lag", optarg, &a.s.max_lag_s) != 0) goto out;
            break;
        case O_MAX_REC:
            if (parse_ms_flag("--max-recovery", optarg, &a.s.max_recovery_s) != 0) goto out;
            break;
        case O_DRAIN:
            if (parse_ms_flag("--drain-timeout", optarg, &a.s.drain_timeout_s) != 0) goto out;
            break;
        case O_MIN_RATE:
            if (ss_parse_double(optarg, 0, 1000, &a.s.min_rate_pct) != 0) goto bad;
            a.t.min_rate_pct = a.s.min_rate_pct;
            break;
        case O_DISK_FAULTS: a.s.disk_faults = 1; break;
        case O_AOF_CUT:
        case O_DISK_SIZE: {
            long long v;
            if (ss_parse_bytes(optarg, &v) != 0 || v < 0) goto bad;
            if (c == O_AOF_CUT) a.s.aof_cut_bytes = v;
            else a.s.disk_bytes = v;
            break;
        }
        case O_FILL:
            if (parse_ms_flag("--fill-timeout", optarg, &a.q.fill_timeout_s) != 0) goto out;
            break;
        case O_TARGET: if (ss_parse_double(optarg, 10, 99, &a.q.target_pct) != 0) goto bad; break;
        case O_SEED:
            if (ss_parse_i64(optarg, 0, (long long)1 << 62, &ll) != 0) goto bad;
            a.p.seed = a.q.seed = a.s.seed = a.c.seed = a.t.seed = a.l.seed = (uint64_t)ll;
            break;
        default: rc = ss_usage_error("check", "unknown or incomplete option '%s'", argv[optind - 1]); goto out;
        }
        li = -1;
        continue;
    bad:
        rc = ss_usage_error("check", "bad value '%s' for --%s (see skyspool check --help)", optarg,
                            li >= 0 ? opts[li].name : "?");
        goto out;
    }
    if (optind >= argc) {
        usage(stderr);
        rc = 2;
        goto out;
    }
    const char *name = argv[optind];
    if (optind + 1 < argc) {
        rc = ss_usage_error("check", "unexpected argument '%s'", argv[optind + 1]);
        goto out;
    }
    int known = 0;
    for (size_t i = 0; i < sizeof g_checks / sizeof g_checks[0]; i++) known |= !strcmp(name, g_checks[i].name);
    if (!known) {
        rc = ss_usage_error("check", "unknown check '%s': baseline, persistence, pressure, capacity, throughput, pipeline, soak or all", name);
        goto out;
    }
    if (ss_config_load(cfg, err, sizeof err) != 0) {
        rc = ss_usage_error("check", "%s", err);
        goto out;
    }
    if (ss_config_get_origin(cfg, "log-level") == SS_CFG_DEFAULT) ss_log_set_level(SS_LOG_WARN);
    else if (ss_cli_apply_log_level("check", cfg) != 0) goto out;
    const char *url = ss_config_get(cfg, "redis-url");
    int external = url && *url;
    int runs_persistence = !strcmp(name, "persistence") || !strcmp(name, "all");
    if (runs_persistence && a.p.crash && external) {
        rc = ss_usage_error("check", "--crash kill -9s the embedded Redis; it cannot be combined with --redis");
        goto out;
    }
    if (runs_persistence && external && !a.p.restart_cmd) {
        rc = ss_usage_error("check", "persistence against --redis needs --restart-cmd CMD, the command that restarts "
                                     "that Redis (e.g. 'systemctl restart redis-server')");
        goto out;
    }
    if (!strcmp(name, "soak") && a.s.disk_faults && geteuid() != 0) {
        rc = ss_usage_error("check", "--disk-faults mounts a small tmpfs as the archive: run it as root");
        goto out;
    }
    if ((!strcmp(name, "soak") || !strcmp(name, "pipeline") || !strcmp(name, "all")) &&
        (a.s.window_s <= 0 || 3600 / a.s.window_s != (double)(long long)(3600 / a.s.window_s))) {
        rc = ss_usage_error("check", "--window must divide an hour (e.g. 10s, 1m, 5m)");
        goto out;
    }
    if (a.png && !strcmp(name, "all") && !strstr(a.png, "%s")) {
        rc = ss_usage_error("check", "with 'all', --png needs a pattern with %%s for the check's name (e.g. chk-%%s.png)");
        goto out;
    }
    a.tty = isatty(STDOUT_FILENO) && !(a.json && !strcmp(a.json, "-"));
    ss_cli_stop_on_signals(&g_stop);

    const char *names[6] = {name, NULL, NULL, NULL, NULL, NULL};
    int nnames = 1;
    if (!strcmp(name, "all")) {
        names[0] = "baseline";
        names[1] = "persistence";
        names[2] = "pressure";
        names[3] = "capacity";
        names[4] = "throughput";
        names[5] = "pipeline";
        nnames = 6;
    }
    static ss_check_report reps[6];
    int results[6] = {1, 1, 1, 1, 1, 1};
    int ran[6] = {0, 0, 0, 0, 0, 0};
    ss_buf json;
    ss_buf_init(&json);
    if (nnames > 1) ss_buf_puts(&json, "{\"check\":\"all\",\"checks\":[");
    rc = 0;
    int njson = 0;
    for (int i = 0; i < nnames; i++) {
        if (g_stop) break;
        ss_check_env env;
        results[i] = run_one(names[i], cfg, &a, &reps[i], &env);
        ran[i] = 1;
        if (results[i] != 0) rc = 1;
        ss_buf one;
        ss_buf_init(&one);
        ss_check_report_json(&env, &reps[i], &one);
        if (nnames > 1) {
            if (njson++) ss_buf_putc(&json, ',');
            if (one.len && one.data[one.len - 1] == '\n') one.len--;
            ss_buf_append(&json, one.data, one.len);
        } else {
            ss_buf_append(&json, one.data, one.len);
        }
        ss_buf_free(&one);
        if (nnames > 1) fputs("\n", stdout);
    }
    if (g_stop) rc = 1;
    if (nnames > 1) {
        ss_buf_printf(&json, "],\"verdict\":\"%s\"}\n", rc == 0 ? "PASS" : "FAIL");
        printf("summary:\n  %-12s %-12s %-10s %s\n", "check", "verdict", "criteria", "elapsed");
        for (int i = 0; i < nnames; i++) {
            int passed = 0;
            for (int k = 0; k < reps[i].ncriteria; k++) passed += reps[i].criteria[k].pass;
            const char *v = !ran[i] ? "NOT RUN"
                            : reps[i].interrupted ? "INTERRUPTED"
                            : results[i] == 0 ? "PASS"
                            : reps[i].ncriteria ? "FAIL" : "ERROR";
            printf("  %-12s %-12s %3d/%-6d %.1f s\n", names[i], v, passed, reps[i].ncriteria, reps[i].elapsed_s);
        }
        printf("  %-12s %s\n", "all", rc == 0 ? "PASS" : "FAIL");
        fflush(stdout);
    }
    if (a.json && write_file(a.json, &json) != 0) {
        fprintf(stderr, "skyspool check: cannot write %s\n", a.json);
        rc = 1;
    }
    ss_buf_free(&json);
    for (int i = 0; i < nnames; i++) ss_check_report_free(&reps[i]);
out:
    ss_config_free(cfg);
    return rc;
}
