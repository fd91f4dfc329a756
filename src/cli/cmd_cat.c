/* `skyspool cat`: prints the events a source yields, as Jetstream v1 JSONL, without Redis.
 *
 * The debugging window into every source: what `cat` prints is exactly what the
 * ingester would store. Messages a source could not turn into an event (bad_reason set)
 * are not printed; they are counted and reported on stderr with their cursor, so stdout
 * stays clean JSONL that can be piped into another skyspool command. A gap a live source
 * reports (SS_SOURCE_GAP) is no event either: one line on stderr each, and a count at the end.
 *
 * SIGINT and SIGTERM end it cleanly: the loop stops, what was received is flushed (stdout
 * is fully buffered, so dying by the signal's default action would lose up to 1 MiB of
 * events) and the exit status is 0. The handler is installed without SA_RESTART, and the
 * file: source never blocks in a read of a pipe (it polls with next()'s timeout), so even a
 * stdin whose writer stays open and quiet ends within 200 ms of the signal. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/config.h"
#include "cli/source_opts.h"
#include "source/source.h"
#include "util/clock.h"
#include "util/progress.h"

#define CAT_MAX_REASONS 16
#define CAT_BAD_SHOWN 10 /* individual bad messages reported before only counting */

static void usage(FILE *f) {
    fprintf(f,
            "usage: skyspool cat --source SRC [--limit N] [--cursor C] [source options]\n"
            "\n"
            "Prints the events a source yields as Jetstream v1 JSONL on stdout, one per line,\n"
            "without touching Redis. Messages the source cannot turn into events (e.g. lines over\n"
            "the size limit) are counted and summarized on stderr with their cursor.\n"
            "\n"
            "options:\n"
            "  --source SRC              where events come from (required); one of:\n");
    const ss_source_vtbl *const *l = ss_source_list();
    for (size_t i = 0; l[i]; i++) fprintf(f, "                              %s\n", l[i]->usage ? l[i]->usage : l[i]->scheme);
    fprintf(f,
            "  --limit N                 stop after printing N events\n"
            "  --cursor C                start from a cursor the source reported before (file: byte\n"
            "                            offset, synth: index, jetstream: time_us, firehose: seq;\n"
            "                            archive: time_us, the events at or after it)\n"
            "  --quiet                   only the summary on stderr: no per-message reports, no progress line\n"
            "  --no-progress             no progress line (there is one only when stderr is a terminal)\n"
            "source options (each source reads what concerns it):\n"
            "  --max-message-bytes SIZE  messages over this are reported as too_large (default 2mb)\n"
            "  --zstd-dictionary PATH    Jetstream's zstd dictionary, for compressed streams\n"
            "  --compress                ask Jetstream for zstd-compressed messages\n"
            "  --wanted-collections L    comma-separated NSIDs to ask a live source for\n"
            "  --wanted-dids L|FILE      jetstream: only these DIDs (comma-separated, or a file with one\n"
            "                            per line, '#' comments; at most 10,000); a changed file is sent\n"
            "                            to the server as an options_update\n"
            "  --connect-timeout DUR     e.g. 10s (default)\n"
            "  --read-timeout DUR        stall detection, e.g. 60s (default)\n"
            "  --no-verify-cids          firehose: skip the sha-256 check of blocks\n"
            "  --verify-signatures       firehose/frames: check commit signatures (bad ones are reported\n"
            "                            as bad_signature; accounts without a cached key pass, counted)\n"
            "  --did-cache PATH          the keys: a DID document (JSON), an array of them, or a directory\n"
            "                            of *.json documents; others are resolved live (written back into\n"
            "                            a directory)\n"
            "  --no-did-resolve          no live resolution: did-cache alone\n"
            "  --plc-directory URL       where did:plc documents are fetched [https://plc.directory]\n"
            "  --tls-ca-file PATH        extra CA certificate for wss://\n"
            "  --tls-insecure            accept any certificate (tests only)\n"
            "\n"
            "examples:\n"
            "  skyspool cat --source synth:events=5,seed=7\n"
            "  skyspool cat --source file:events.jsonl --cursor 4096 --limit 10\n"
            "  zstdcat big.jsonl.zst | skyspool cat --source file:- > plain.jsonl\n"
            "  skyspool cat --source file:archive.jsonl.zst | jq -c 'select(.kind==\"account\")'\n"
            "  skyspool cat --source 'archive:archive?since=2025-08-07T10:00:00Z&types=post,like'\n"
            "A progress line is shown on stderr when it is a terminal.\n");
}

enum {
    O_SOURCE = 1, O_LIMIT, O_CURSOR, O_QUIET, O_MAXMSG, O_DICT, O_COMPRESS, O_WANTED, O_CTIMEOUT, O_RTIMEOUT,
    O_NOVERIFY, O_CAFILE, O_INSECURE, O_DIDS, O_VERIFYSIG, O_DIDCACHE, O_NODIDRES, O_PLCDIR, O_NOPROGRESS
};

typedef struct {
    const char *reason;
    long long count;
    long long first_cursor;
} reason_count;

/* A report on stderr that does not land on the progress line (util/progress.h). */
static void report(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void report(const char *fmt, ...) {
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    size_t len = (size_t)n < sizeof line ? (size_t)n : sizeof line - 1;
    if (!ss_progress_log_write(line, len)) fputs(line, stderr);
}

static volatile sig_atomic_t g_stop;
static void on_signal(int sig) { g_stop = sig; }

int ss_cmd_cat(int argc, char **argv) {
    static const struct option opts[] = {
        {"source", required_argument, 0, O_SOURCE},
        {"limit", required_argument, 0, O_LIMIT},
        {"cursor", required_argument, 0, O_CURSOR},
        {"quiet", no_argument, 0, O_QUIET},
        {"no-progress", no_argument, 0, O_NOPROGRESS},
        {"max-message-bytes", required_argument, 0, O_MAXMSG},
        {"zstd-dictionary", required_argument, 0, O_DICT},
        {"compress", no_argument, 0, O_COMPRESS},
        {"wanted-collections", required_argument, 0, O_WANTED},
        {"connect-timeout", required_argument, 0, O_CTIMEOUT},
        {"read-timeout", required_argument, 0, O_RTIMEOUT},
        {"no-verify-cids", no_argument, 0, O_NOVERIFY},
        {"tls-ca-file", required_argument, 0, O_CAFILE},
        {"tls-insecure", no_argument, 0, O_INSECURE},
        {"wanted-dids", required_argument, 0, O_DIDS},
        {"verify-signatures", no_argument, 0, O_VERIFYSIG},
        {"did-cache", required_argument, 0, O_DIDCACHE},
        {"no-did-resolve", no_argument, 0, O_NODIDRES},
        {"plc-directory", required_argument, 0, O_PLCDIR},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    ss_source_opts so;
    ss_source_opts_init(&so);
    const char *spec = NULL;
    long long limit = -1, cursor = -1, v;
    int quiet = 0, progress = 1, c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        switch (c) {
        case 'h': usage(stdout); return 0;
        case O_SOURCE: spec = optarg; break;
        case O_LIMIT:
            if (ss_parse_i64(optarg, 0, INT64_MAX, &limit) != 0)
                return ss_usage_error("cat", "--limit wants a whole number >= 0, got '%s'", optarg);
            break;
        case O_CURSOR:
            if (ss_parse_i64(optarg, 0, INT64_MAX, &cursor) != 0)
                return ss_usage_error("cat", "--cursor wants a whole number >= 0, got '%s'", optarg);
            break;
        case O_QUIET: quiet = 1, progress = 0; break; /* --quiet implies --no-progress, as everywhere */
        case O_NOPROGRESS: progress = 0; break;
        case O_MAXMSG:
            if (ss_parse_bytes(optarg, &v) != 0 || v < 1024 || v > (1LL << 32))
                return ss_usage_error("cat", "--max-message-bytes wants a size between 1kb and 4gb (e.g. 2mb), got '%s'",
                                      optarg);
            so.max_message_bytes = (size_t)v;
            break;
        case O_DICT: so.zstd_dictionary = optarg; break;
        case O_COMPRESS: so.compress = 1; break;
        case O_WANTED: so.wanted_collections = optarg; break;
        case O_CTIMEOUT:
        case O_RTIMEOUT:
            if (ss_parse_duration_ms(optarg, &v) != 0 || v < 1 || v > 86400000)
                return ss_usage_error("cat", "--%s wants a duration such as 10s or 500ms, got '%s'",
                                      c == O_CTIMEOUT ? "connect-timeout" : "read-timeout", optarg);
            if (c == O_CTIMEOUT) so.connect_timeout_ms = (int)v;
            else so.read_timeout_ms = (int)v;
            break;
        case O_NOVERIFY: so.verify_cids = 0; break;
        case O_CAFILE: so.tls_ca_file = optarg; break;
        case O_INSECURE: so.tls_insecure = 1; break;
        case O_DIDS: so.wanted_dids = optarg; break;
        case O_VERIFYSIG: so.verify_signatures = 1; break;
        case O_DIDCACHE: so.did_cache = optarg; break;
        case O_NODIDRES: so.did_resolve = 0; break;
        case O_PLCDIR: so.plc_directory = optarg; break;
        default: return ss_usage_error("cat", "unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc) return ss_usage_error("cat", "unexpected argument '%s'", argv[optind]);
    if (!spec) return ss_usage_error("cat", "--source is required, e.g. --source file:events.jsonl");

    char err[2048];
    ss_err_class cls;
    ss_config *cfg = NULL; /* archive:s3://: the s3-* settings from the environment and the config file */
    if (!strncmp(spec, "archive:s3://", 13)) {
        if (!(cfg = ss_config_new())) return ss_cmd_fail("cat", "out of memory");
        int r = ss_config_load(cfg, err, sizeof err) != 0 ? ss_usage_error("cat", "%s", err)
                                                          : ss_cli_source_s3("cat", cfg, spec, &so);
        if (r != 0) {
            ss_config_free(cfg);
            return r;
        }
    }
    ss_source *s = ss_source_open(spec, &so, err, sizeof err, &cls);
    ss_config_free(cfg); /* so.s3 points at the S3 settings' own copy */
    if (!s) return ss_cmd_error("cat", cls, "%s", err); /* usage (a bad spec) or the open's class */
    if (cursor >= 0 && ss_source_seek(s, cursor) != 0) {
        int rc = ss_cmd_fail("cat", "cannot start at cursor %lld: %s", cursor, s->errstr);
        ss_source_close(s);
        return rc;
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    static char obuf[1 << 20];
    setvbuf(stdout, obuf, _IOFBF, sizeof obuf);
    int tty = progress && ss_progress_begin(STDERR_FILENO);
    double t0 = ss_mono_s(), last = t0;
    long long printed = 0, bad = 0, gaps = 0;
    long long last_cursor = cursor;
    reason_count reasons[CAT_MAX_REASONS];
    size_t nreasons = 0;
    int rc = 0;
    while (!g_stop && (limit < 0 || printed < limit)) {
        ss_source_msg m;
        int r = ss_source_next(s, &m, 200);
        if (r == SS_SOURCE_END) break;
        if (r == SS_SOURCE_AGAIN) continue;
        if (r == SS_SOURCE_ERR && g_stop) break; /* e.g. a read interrupted by the signal */
        if (r == SS_SOURCE_ERR) {
            rc = ss_cmd_fail("cat", "%s (after cursor %lld)", s->errstr, last_cursor);
            break;
        }
        last_cursor = m.cursor;
        if (r == SS_SOURCE_GAP) { /* a gap is no event: it never goes to stdout */
            gaps++;
            if (!quiet)
                report("skyspool cat: gap: %s %s %lld..%lld (%s)\n", m.gap->reason, m.gap->unit,
                        (long long)m.gap->from, (long long)m.gap->to, m.gap->detail ? m.gap->detail : "");
            continue;
        }
        if (m.bad_reason) {
            bad++;
            size_t i;
            for (i = 0; i < nreasons; i++)
                if (!strcmp(reasons[i].reason, m.bad_reason)) break;
            if (i == nreasons && nreasons < CAT_MAX_REASONS) reasons[nreasons++] = (reason_count){m.bad_reason, 0, m.cursor};
            if (i < nreasons) reasons[i].count++;
            if (!quiet && bad <= CAT_BAD_SHOWN)
                report("skyspool cat: bad message (%s, %zu bytes kept) ending at cursor %lld\n", m.bad_reason,
                        m.len, (long long)m.cursor);
            continue;
        }
        if (fwrite(m.data, 1, m.len, stdout) != m.len || putchar('\n') == EOF) {
            rc = ss_cmd_fail("cat", "write to stdout failed: %s", strerror(errno));
            break;
        }
        printed++;
        if (tty && (printed & 0xfff) == 0) {
            double t = ss_mono_s();
            if (t - last >= 1.0) {
                last = t;
                char eta[64] = "";
                ss_progress_eta(eta, sizeof eta, (double)last_cursor, cursor > 0 ? (double)cursor : 0,
                                (double)s->cursor_end, t - t0);
                ss_progress_draw("%lld events, %lld bad, cursor %lld, %.0f events/s%s", printed, bad, last_cursor,
                                 printed / (t - t0), eta);
            }
        }
    }
    if (fflush(stdout) != 0 && rc == 0) rc = ss_cmd_fail("cat", "write to stdout failed: %s", strerror(errno));
    ss_progress_end(0);
    if (g_stop)
        fprintf(stderr, "skyspool cat: stopped by %s after %lld events (all written), last cursor %lld\n",
                g_stop == SIGINT ? "SIGINT" : "SIGTERM", printed, last_cursor);
    if (bad > 0) {
        fprintf(stderr, "skyspool cat: %lld bad message%s not printed:", bad, bad == 1 ? "" : "s");
        for (size_t i = 0; i < nreasons; i++)
            fprintf(stderr, " %s=%lld (first ending at cursor %lld)", reasons[i].reason, reasons[i].count,
                    reasons[i].first_cursor);
        fputc('\n', stderr);
    }
    if (gaps > 0)
        fprintf(stderr, "skyspool cat: %lld gap%s: the upstream did not deliver part of the stream (see above)\n", gaps,
                gaps == 1 ? "" : "s");
    ss_source_close(s);
    return rc;
}
