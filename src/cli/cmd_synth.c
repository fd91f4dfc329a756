/* `skyspool synth`: writes the synthetic firehose to stdout as Jetstream v1 JSONL.
 *
 * A thin front end over the generator in src/source/synth/: it parses flags into
 * ss_synth_params, writes each slot's line, and optionally a JSON summary (--stats) of
 * exactly what was written, so tests can compare Redis and Parquet counts against it.
 * The `synth:` source yields the same bytes for the same parameters. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "source/synth/synth.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: skyspool synth --events N [options] > events.jsonl\n"
            "\n"
            "Writes N lines of a realistic, reproducible synthetic Bluesky firehose as Jetstream v1\n"
            "JSONL. The same arguments always give the same bytes, on any machine.\n"
            "Mix (Nov 2024 network): like 47.3%%, follow 33.3%%, post 9.4%%, repost 5.9%%, block 1.6%%,\n"
            "identity 0.3%%, account 0.3%%, other collections 1.9%% (profile, listitem, ...); about 4.7%%\n"
            "of commits are deletes or updates.\n"
            "\n"
            "options:\n"
            "  --events N          number of lines to write (required; planted lines included)\n"
            "  --seed S            PRNG seed (default 1); different seeds give different data\n"
            "  --start TIME        time_us of the first event: 2025-08-07T00:00:00Z (default) or\n"
            "                      microseconds since the epoch\n"
            "  --rate R            events per simulated second (default 2000); time_us advances\n"
            "                      by 1e6/R per line, with small natural jitter, never backwards\n"
            "  --other-frac F      share of other collections, type \"other\" (default 0.019)\n"
            "planting (for tests):\n"
            "  --jitter-frac F     move this share of events' time_us by up to +-U (out of order)\n"
            "  --jitter-us U       the jitter amount in microseconds (default 1000000)\n"
            "  --dup-frac F        this share of lines repeat an earlier line byte for byte\n"
            "                      (within the previous %d lines)\n"
            "  --bad-frac F        this share of lines are malformed, in equal parts: not JSON,\n"
            "                      truncated, invalid UTF-8 bytes, lone surrogate \\ud83e, missing\n"
            "                      required field, wrong type\n"
            "  --bad-oversize      also plant lines over 2 MiB among the malformed kinds (each\n"
            "                      one is 2 MiB of output: keep events x bad-frac small)\n"
            "  --stats FILE        write a JSON summary of what was written: per-type counts\n"
            "                      (unique and with duplicates), per-operation counts, planted\n"
            "                      bad lines by kind and by expected decoder reason, bytes\n"
            "\n"
            "examples:\n"
            "  skyspool synth --events 100000 --seed 7 > firehose.jsonl\n"
            "  skyspool synth --events 10000 --dup-frac 0.01 --bad-frac 0.001 --stats st.json | \\\n"
            "      skyspool ingest --source file:-\n"
            "  skyspool synth --events 10 --start 2024-11-18T12:00:00Z --rate 1\n"
            "The same stream is available as a source: --source synth:events=1000000,seed=7\n",
            SS_SYNTH_DUP_WINDOW);
}

enum { O_EVENTS = 1, O_SEED, O_START, O_RATE, O_JF, O_JUS, O_DUP, O_BAD, O_OVERSIZE, O_OTHER, O_STATS };

static int frac_flag(const char *flag, const char *v, double *out) {
    if (ss_parse_double(v, 0, 1, out) != 0)
        return ss_usage_error("synth", "%s wants a fraction between 0 and 1, got '%s'", flag, v);
    return 0;
}

int ss_cmd_synth(int argc, char **argv) {
    static const struct option opts[] = {
        {"events", required_argument, 0, O_EVENTS},   {"seed", required_argument, 0, O_SEED},
        {"start", required_argument, 0, O_START},     {"rate", required_argument, 0, O_RATE},
        {"jitter-frac", required_argument, 0, O_JF},  {"jitter-us", required_argument, 0, O_JUS},
        {"dup-frac", required_argument, 0, O_DUP},    {"bad-frac", required_argument, 0, O_BAD},
        {"bad-oversize", no_argument, 0, O_OVERSIZE}, {"other-frac", required_argument, 0, O_OTHER},
        {"stats", required_argument, 0, O_STATS},     {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    ss_synth_params p;
    ss_synth_params_init(&p);
    const char *stats_path = NULL;
    int jitter_us_set = 0, c;
    long long ll;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        switch (c) {
        case 'h': usage(stdout); return 0;
        case O_EVENTS:
            if (ss_parse_i64(optarg, 0, SS_SYNTH_MAX_EVENTS, &ll) != 0)
                return ss_usage_error("synth", "--events wants a whole number >= 0, got '%s'", optarg);
            p.events = ll;
            break;
        case O_SEED: {
            char *end;
            errno = 0;
            unsigned long long u = strtoull(optarg, &end, 10);
            if (!*optarg || *optarg == '-' || *end || errno)
                return ss_usage_error("synth", "--seed wants a whole number >= 0, got '%s'", optarg);
            p.seed = u;
            break;
        }
        case O_START:
            if (ss_synth_parse_time(optarg, &p.start_us) != 0)
                return ss_usage_error("synth", "--start wants e.g. 2025-08-07T00:00:00Z or microseconds, got '%s'",
                                      optarg);
            break;
        case O_RATE:
            if (ss_parse_double(optarg, 1e-9, SS_SYNTH_MAX_RATE, &p.rate) != 0 || !(p.rate > 0))
                return ss_usage_error("synth", "--rate wants events per simulated second (> 0, <= %g), got '%s'",
                                      SS_SYNTH_MAX_RATE, optarg);
            break;
        case O_JF:
            if (frac_flag("--jitter-frac", optarg, &p.jitter_frac)) return 2;
            break;
        case O_JUS:
            if (ss_parse_i64(optarg, 0, 86400000000LL, &ll) != 0)
                return ss_usage_error("synth", "--jitter-us wants microseconds (0..86400000000), got '%s'", optarg);
            p.jitter_us = ll;
            jitter_us_set = 1;
            break;
        case O_DUP:
            if (frac_flag("--dup-frac", optarg, &p.dup_frac)) return 2;
            break;
        case O_BAD:
            if (frac_flag("--bad-frac", optarg, &p.bad_frac)) return 2;
            break;
        case O_OVERSIZE: p.bad_oversize = 1; break;
        case O_OTHER:
            if (frac_flag("--other-frac", optarg, &p.other_frac)) return 2;
            break;
        case O_STATS: stats_path = optarg; break;
        default:
            return ss_usage_error("synth", "unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc) return ss_usage_error("synth", "unexpected argument '%s'", argv[optind]);
    if (p.events < 0) return ss_usage_error("synth", "--events N is required (e.g. --events 100000)");
    if (!jitter_us_set && p.jitter_frac > 0) p.jitter_us = 1000000;
    char err[256];
    if (ss_synth_params_check(&p, err, sizeof err) != 0) return ss_usage_error("synth", "%s", err);

    FILE *stats = NULL;
    if (stats_path && !(stats = fopen(stats_path, "w")))
        return ss_cmd_fail("synth", "cannot write --stats %s: %s", stats_path, strerror(errno));
    ss_synth *g = ss_synth_new(&p);
    if (!g) {
        if (stats) fclose(stats);
        return ss_cmd_fail("synth", "out of memory");
    }
    static char obuf[1 << 20];
    setvbuf(stdout, obuf, _IOFBF, sizeof obuf);
    ss_buf line;
    ss_buf_init(&line);
    ss_synth_stats st;
    memset(&st, 0, sizeof st);
    int rc = 0;
    for (int64_t i = 0; i < p.events; i++) {
        ss_synth_slot pl;
        if (ss_synth_line(g, i, &line, &pl) != 0) {
            rc = ss_cmd_fail("synth", "out of memory at line %lld", (long long)i);
            break;
        }
        line.data[line.len] = '\n';
        if (fwrite(line.data, 1, line.len + 1, stdout) != line.len + 1) {
            rc = ss_cmd_fail("synth", "write to stdout failed: %s", strerror(errno));
            break;
        }
        ss_synth_stats_add(&st, &pl, line.len);
    }
    if (fflush(stdout) != 0 && rc == 0) rc = ss_cmd_fail("synth", "write to stdout failed: %s", strerror(errno));
    if (stats) {
        ss_buf js;
        ss_buf_init(&js);
        if (ss_synth_stats_json(&st, &p, &js) != 0 || fwrite(js.data, 1, js.len, stats) != js.len ||
            fputc('\n', stats) == EOF)
            rc = rc ? rc : ss_cmd_fail("synth", "cannot write --stats %s", stats_path);
        if (fclose(stats) != 0 && rc == 0) rc = ss_cmd_fail("synth", "cannot write --stats %s", stats_path);
        ss_buf_free(&js);
    }
    ss_buf_free(&line);
    ss_synth_free(g);
    return rc;
}
