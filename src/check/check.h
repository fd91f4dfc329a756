/* `skyspool check NAME`: the prototype's validation suite as checks any operator can run
 * against their own Redis (the embedded one by default, or any --redis URL).
 *
 * Why a module and not just a command: every check shares the same rules, and they are
 * safety rules, so they live in one place where they cannot be forgotten:
 *   - a check works only under its own key prefix, "skyspool-check:<run id>:", refuses to
 *     start when that prefix already holds keys (they are someone else's), and at the end
 *     deletes the keys under that prefix and nothing else, also after SIGINT/SIGTERM (the
 *     command's handler sets env->stop; checks poll it and return, then cleanup runs);
 *   - a result is a list of measured figures and of criteria, each with its threshold and
 *     verdict, so that the human report, the JSON and the exit status all say the same thing.
 *
 * Library code: nothing here prints or exits. Errors are carried in env->errstr; progress
 * goes through env->progress (the command draws a line on a TTY).
 *
 *     ss_check_env env; ss_check_env_init(&env);    // fill target opts, stop flag, ...
 *     if (ss_check_env_open(&env) != 0) ... env.errstr
 *     if (ss_check_guard(&env) != 0) ...             // foreign keys under the prefix: refuse
 *     ss_check_report rep; ss_check_report_init(&rep, "baseline");
 *     int rc = ss_check_baseline(&env, &bo, &rep);   // 0 ran (verdicts in rep), -1 error
 *     ss_check_cleanup(&env);                         // deletes only our own keys
 *     ss_check_env_close(&env); */
#ifndef SS_CHECK_H
#define SS_CHECK_H

#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "buffer/ingest.h"
#include "buffer/target.h"
#include "util/buf.h"

#define SS_CHECK_PREFIX_ROOT "skyspool-check:"
#define SS_CHECK_RUN_ID_MAX 64      /* bytes of a run id, NUL included */
#define SS_CHECK_MAX_FIGURES 160
#define SS_CHECK_MAX_CRITERIA 64
#define SS_CHECK_MAX_INPUTS 32
#define SS_CHECK_MAX_NOTES 16
#define SS_CHECK_MAX_SERIES 24
#define SS_CHECK_SERIES_POINTS 4096 /* samples kept per time series */
#define SS_CHECK_NAME_MAX 80

/* ---- latency histogram ------------------------------------------------------------------ */
/* HdrHistogram-style: values in nanoseconds, 64 linear sub-buckets per power of two, so every
 * recorded value is kept to within 1/64 (1.6 %) of itself, from 1 ns to 2^40 ns (18 min).
 * Percentiles are read from the counts (the highest value of the bucket they fall in, as
 * HdrHistogram reports), never from an average. */
#define SS_HIST_SUB 128
#define SS_HIST_HALF 64
#define SS_HIST_MAX_SHIFT 34
#define SS_HIST_BUCKETS ((SS_HIST_MAX_SHIFT + 1) * SS_HIST_HALF + SS_HIST_HALF)
typedef struct {
    uint64_t counts[SS_HIST_BUCKETS];
    uint64_t total;
    uint64_t min_ns, max_ns;
    double sum_ns;
} ss_hist;

void ss_hist_init(ss_hist *h);
void ss_hist_record(ss_hist *h, uint64_t ns);
void ss_hist_merge(ss_hist *into, const ss_hist *from);
/* The bucket ns falls in (for callers that count into their own arrays, e.g. atomically). */
int ss_hist_bucket(uint64_t ns);
/* The value at percentile p (0..100), in ns; 0 for an empty histogram. */
uint64_t ss_hist_percentile(const ss_hist *h, double p);

/* ---- the result of one check -------------------------------------------------------------- */
typedef struct {
    char name[SS_CHECK_NAME_MAX];
    double value;
    char unit[16];
} ss_check_figure;

typedef enum { SS_CMP_LT, SS_CMP_LE, SS_CMP_GE, SS_CMP_EQ } ss_check_cmp;

typedef struct {
    char name[SS_CHECK_NAME_MAX];
    ss_check_cmp cmp;
    double threshold;
    double measured;
    char unit[16];
    int pass;
    char why[512]; /* for a failure: what it means and what to do; may be set for a pass */
} ss_check_criterion;

typedef struct {
    char name[SS_CHECK_NAME_MAX];
    char value[256];
    int is_number;
} ss_check_input;

typedef struct {
    char name[SS_CHECK_NAME_MAX]; /* e.g. "xadd_c1_ops_per_s" */
    char unit[16];
    int n;
    double t[SS_CHECK_SERIES_POINTS]; /* seconds since the check started */
    double v[SS_CHECK_SERIES_POINTS];
} ss_check_series;

typedef struct {
    char check[32];
    double started_unix;
    double elapsed_s;
    int interrupted;
    int ninputs, nfigures, ncriteria, nnotes, nseries;
    ss_check_input inputs[SS_CHECK_MAX_INPUTS];
    ss_check_figure figures[SS_CHECK_MAX_FIGURES];
    ss_check_criterion criteria[SS_CHECK_MAX_CRITERIA];
    char notes[SS_CHECK_MAX_NOTES][512];
    ss_check_series *series[SS_CHECK_MAX_SERIES]; /* malloc'd */
} ss_check_report;

void ss_check_report_init(ss_check_report *r, const char *check);
void ss_check_report_free(ss_check_report *r);
void ss_check_input_str(ss_check_report *r, const char *name, const char *value);
void ss_check_input_num(ss_check_report *r, const char *name, double value);
void ss_check_figure_add(ss_check_report *r, const char *name, double value, const char *unit);
/* Adds a criterion, computes its verdict and returns it (1 pass, 0 fail). why may be NULL. */
int ss_check_criterion_add(ss_check_report *r, const char *name, ss_check_cmp cmp, double threshold,
                           double measured, const char *unit, const char *why);
void ss_check_note(ss_check_report *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A new series (NULL when the table is full or memory runs out); points beyond the limit are dropped. */
ss_check_series *ss_check_series_new(ss_check_report *r, const char *name, const char *unit);
void ss_check_series_add(ss_check_series *s, double t, double v);
/* 1 when every criterion passed and the check was not interrupted (and ran at least one). */
int ss_check_report_passed(const ss_check_report *r);
const char *ss_check_cmp_str(ss_check_cmp c);

/* ---- the environment a check runs in ------------------------------------------------------ */
typedef void (*ss_check_progress_fn)(void *ud, const char *line);

typedef struct {
    /* set by the caller before ss_check_env_open */
    const char *url;           /* NULL/"" = a private embedded redis-server in a fresh temp dir */
    const char *password_file;
    long long maxmemory;       /* embedded only; 0 = 2 GiB */
    char run_id[SS_CHECK_RUN_ID_MAX]; /* "" = random */
    volatile sig_atomic_t *stop;
    ss_check_progress_fn progress;
    void *progress_ud;
    /* filled by ss_check_env_open */
    char prefix[128];          /* "skyspool-check:<run id>:" */
    char data_dir[PATH_MAX];   /* the temp dir of the embedded server ("" for --redis) */
    int embedded;
    ss_redis_target *target;
    redisContext *c;           /* the check's control connection */
    char redis_version[32];
    char redis_describe[512];
    long long keys_deleted;    /* by ss_check_cleanup */
    char errstr[1024];
} ss_check_env;

void ss_check_env_init(ss_check_env *e);
/* The synthetic firehose, `events` events from `seed`: what every check loads. NULL + err. */
struct ss_source *ss_check_synth_open(long long events, uint64_t seed, char *err, size_t errlen);
/* Validates the run id, opens (or starts) the Redis and connects. 0, or -1 with errstr. */
int ss_check_env_open(ss_check_env *e);
/* Refuses (-1, errstr says why) when the prefix already holds keys: they are not ours. */
int ss_check_guard(ss_check_env *e);
/* Deletes every key under the prefix (and only those). 0, or -1 with errstr. Reconnects if
 * the control connection broke. */
int ss_check_cleanup(ss_check_env *e);
/* Stops the embedded server (if any), removes its temp dir, frees. */
void ss_check_env_close(ss_check_env *e);
/* Persistence: stops the embedded server cleanly (SHUTDOWN, AOF flushed) and starts it again
 * on the same data dir; with a restart command (external Redis) runs it with /bin/sh and
 * waits until Redis answers PING with its dataset loaded. Reconnects env->c. Returns 0 or -1.
 * *stop_ms and *start_ms (may be NULL) receive the two halves. */
int ss_check_env_restart(ss_check_env *e, const char *restart_cmd, int kill9, double *stop_ms, double *start_ms);
/* A host crash under appendfsync everysec, as the trust test models it: kill -9 the embedded
 * server, cut cut_bytes (at most half) off the tail of its newest AOF increment file, start
 * it again on the same data dir. *cut_done gets the bytes cut, *down_ms the whole outage. */
int ss_check_env_crash_restart(ss_check_env *e, long long cut_bytes, long long *cut_done, double *down_ms);
/* The redis-server pid (INFO server process_id), or -1. */
long long ss_check_redis_pid(ss_check_env *e);
void ss_check_progress(ss_check_env *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int ss_check_stopped(const ss_check_env *e);
/* Seconds on the monotonic clock. */
double ss_check_now(void);

/* JSON of one report (see docs/CHECKS.md for the shape), with the environment's versions. */
int ss_check_report_json(const ss_check_env *e, const ss_check_report *r, ss_buf *out);
/* The human report: figures, then one line per criterion with PASS/FAIL and why. */
int ss_check_report_text(const ss_check_report *r, ss_buf *out);

/* ---- the checks --------------------------------------------------------------------------- */
typedef struct {
    double seconds;      /* per operation and client count; default 5 */
    int clients;         /* the concurrent run; default 4 (1 = only the single-client run) */
    double p50_ms, p95_ms, p99_ms; /* thresholds; defaults 1, 2, 5 */
    double min_ops;      /* ops/s; default 15000 */
    int value_bytes;     /* 0 = real synth events as values */
} ss_check_baseline_opts;
void ss_check_baseline_opts_init(ss_check_baseline_opts *o);
int ss_check_baseline(ss_check_env *e, const ss_check_baseline_opts *o, ss_check_report *r);

typedef struct {
    long long events;    /* default 100000 */
    long long pending;   /* entries left delivered but unacknowledged; default 1000 */
    uint64_t seed;       /* synth seed; default 1 */
    const char *restart_cmd; /* external Redis: how to restart it */
    int crash;           /* kill -9 the embedded server instead of a clean restart */
    double tail_seconds; /* --crash: how long writes go on before the kill; default 1.5 */
    double min_recovered_pct; /* default 100 */
    double max_loss_ms;  /* --crash: acknowledged writes older than this before the kill must survive; 2000 */
} ss_check_persistence_opts;
void ss_check_persistence_opts_init(ss_check_persistence_opts *o);
int ss_check_persistence(ss_check_env *e, const ss_check_persistence_opts *o, ss_check_report *r);

typedef struct {
    double duration_s;   /* hold at pressure; default 300 */
    double target_pct;   /* drive memory to this share of maxmemory; default 95 */
    double fill_timeout_s; /* give up reaching the target after this; default 180 */
    uint64_t seed;
} ss_check_pressure_opts;
void ss_check_pressure_opts_init(ss_check_pressure_opts *o);
int ss_check_pressure(ss_check_env *e, const ss_check_pressure_opts *o, ss_check_report *r);

typedef struct {
    double duration_s;      /* default 3600 */
    double rate;            /* events/s the source serves; default 2000 (the live peak) */
    double fault_every_s;   /* default 300 */
    double window_s, grace_s; /* the writer's; defaults 300, 30 */
    double stall_s;         /* how long a stall or a full disk lasts; default 120 (read timeout 60 s) */
    long long aof_cut_bytes; /* cut off the AOF at a crash; default 1 MiB */
    int disk_faults;        /* also a full archive disk (a tmpfs; root) */
    long long disk_bytes;   /* its size; default 4 GiB */
    double max_lag_s;       /* 0 = 2 x window + grace + 60 s */
    double max_recovery_s;  /* 0 = window + grace + 60 s */
    double min_rate_pct;    /* mean ingest rate over the run vs rate; default 80 */
    double drain_timeout_s; /* default 900 */
    uint64_t seed;
    const char *exe;        /* the skyspool binary the children run */
} ss_check_soak_opts;
void ss_check_soak_opts_init(ss_check_soak_opts *o);
/* Embedded Redis only. Runs replay-server, ingest and write as child processes of o->exe. */
int ss_check_soak(ss_check_env *e, const ss_check_soak_opts *o, ss_check_report *r);

typedef struct {
    long long events;      /* default 2700000 (the prototype's "8-hour" buffer) */
    int sample;            /* entries read back and compared byte for byte; default 1000 */
    double min_events_per_s; /* load rate; default 1587 (the prototype's) */
    double max_memory_pct; /* peak used_memory vs maxmemory; default 80 (the ingester's high watermark) */
    double stall_timeout_s; /* give up when the load makes no progress this long (paused); default 30 */
    uint64_t seed;
} ss_check_capacity_opts;
void ss_check_capacity_opts_init(ss_check_capacity_opts *o);
int ss_check_capacity(ss_check_env *e, const ss_check_capacity_opts *o, ss_check_report *r);

typedef struct {
    double duration_s;     /* per phase; default 20 */
    double rate;           /* the paced phases; default 1500 (the prototype's sustained figure) */
    int connections;       /* the N of the multi-connection phases; default 10 */
    double min_rate_pct;   /* paced phases: achieved vs rate; default 95 */
    double max_cv;         /* paced phases: coefficient of variation of the per-second series; 0.1 */
    double min_max_events_per_s; /* the best unpaced phase; default 7023 (the prototype's, 10 threads) */
    double p99_ms;         /* probe XADD p99 during the paced phases; default 5 */
    uint64_t seed;
} ss_check_throughput_opts;
void ss_check_throughput_opts_init(ss_check_throughput_opts *o);
int ss_check_throughput(ss_check_env *e, const ss_check_throughput_opts *o, ss_check_report *r);

typedef struct {
    long long events;       /* synth lines; default 600000 (one 5-minute window at 2000/s) */
    double event_rate;      /* their time_us spacing, events per simulated second; default 2000 */
    double window_s, grace_s; /* the writer's; defaults 300, 30 */
    double max_flush_s;     /* per-window flush time at most; 0 = 0.8 x window (the prototype's 4 min of 5) */
    double min_events_per_s; /* end to end; default 2000 (the live peak) */
    const char *archive;    /* NULL = a fresh dir in the check's work dir */
    uint64_t seed;
} ss_check_pipeline_opts;
void ss_check_pipeline_opts_init(ss_check_pipeline_opts *o);
/* Ingester and DataWriter in this process on the check's Redis; the archive read back. */
int ss_check_pipeline(ss_check_env *e, const ss_check_pipeline_opts *o, ss_check_report *r);

/* The real ingester (src/buffer/ingest.c) on its own thread, reading a source spec into the
 * check's prefix: what capacity and throughput drive. */
typedef struct {
    ss_ingest *ing;
    struct ss_source *src;
    volatile sig_atomic_t stop;
    int rc;
    int running;
    pthread_t th;
} ss_check_ingester;
/* Starts it (connections 0 = the ingester's default). 0, or -1 with errstr. */
int ss_check_ingester_start(ss_check_env *e, ss_check_ingester *it, const char *spec, int connections);
/* 1 once ss_ingest_run returned (source ended or error). */
int ss_check_ingester_done(ss_check_ingester *it);
/* Stops (flushes), joins, frees; returns ss_ingest_run's result (errstr set on -1). Final
 * stats in *st (may be NULL). */
int ss_check_ingester_stop(ss_check_env *e, ss_check_ingester *it, ss_ingest_stats *st);

/* Helpers shared by the checks (check.c). */
/* Reads every committed row of the archive under dir back through the `archive:` source (the
 * Parquet reader checks each file as it goes) and calls fn with the row's dedup key, one row at
 * a time: nothing is kept here, so the caller decides the memory (check/keycmp.h's stream).
 * *rows gets the rows read. 0, or -1 with e->errstr set (also when e is stopped). */
int ss_check_archive_keys(ss_check_env *e, const char *dir, void (*fn)(void *ud, const uint8_t key[16]), void *ud,
                          long long *rows);
/* Runs a command with the control connection; the reply or NULL with errstr set. */
redisReply *ss_check_cmd(ss_check_env *e, const char *fmt, ...);
/* INFO field as an integer from section; -1 with errstr on failure. */
int ss_check_info_ll(ss_check_env *e, const char *section, const char *field, long long *out);
/* A pool of real event payloads (Jetstream JSON from the synth source) with their metas. */
typedef struct {
    int n;
    char **event;
    size_t *event_len;
    char (*meta)[64];
} ss_check_payloads;
int ss_check_payloads_make(ss_check_payloads *p, int n, uint64_t seed, char *err, size_t errlen);
void ss_check_payloads_free(ss_check_payloads *p);

#endif
