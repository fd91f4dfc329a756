/* `skyspool verify`: proves the archive against the run ledger (writer/verify.h does the
 * work). The report is for a person (one line per problem, counts, a verdict) or, with
 * --json, one object for a script; the exit status is the verdict: 0 the archive matches,
 * 1 any difference (or the check could not run), 2 a usage error. Ledgers are opened
 * read-only, so verify runs beside live writers (files they commit meanwhile may show as
 * unknown for that run). */
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/cli_redis.h"
#include "cli/cli_writer.h"
#include "cli/config.h"
#include "util/buf.h"
#include "util/clock.h"
#include "writer/ledger.h"
#include "writer/verify.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: skyspool verify --out DIR [--data-dir D | --ledger FILE ...] [--deep] [--json]\n\n"
            "Reconciles the archive with the writer's run ledger, which records every committed part\n"
            "file with its size, row count and SHA-256. Every committed file must exist with its size\n"
            "and, read from its Parquet footer, its row count; with --deep also its SHA-256 (of the\n"
            "whole file, which means reading every byte) and every row, decoded through the Parquet\n"
            "reader back into its event, with its time_us inside the file's partition hour. Files no commit names are reported, and so\n"
            "is an archive marker (" SS_ARCHIVE_MARKER ") that is missing or names another archive\n"
            "than the ledger is bound to. Hidden files (.NAME.parquet.tmp: a writer at work, or one\n"
            "that crashed) are counted, not reported.\n\n"
            "Without --deep a file overwritten with other bytes of the same size and a valid footer\n"
            "passes: run --deep (as fast as the disk reads) to prove the bytes themselves.\n\n"
            "--out s3://BUCKET[/PREFIX] verifies an archive in S3 (settings s3-endpoint, s3-region,\n"
            "s3-path-style; credentials as for write): objects are listed, then downloaded one at a\n"
            "time into the data dir (or TMPDIR) and checked; the SHA-256 is always compared there.\n\n"
            "Exit status: 0 the archive matches the ledger, 1 any problem (or the check could not\n"
            "run), 2 usage error.\n\n"
            "options:\n"
            "  --out DIR         the archive root (SKYSPOOL_OUT), or s3://BUCKET[/PREFIX]\n"
            "  --data-dir DIR    whose ledger.sqlite to check against [./skyspool-data]\n"
            "  --ledger FILE     a ledger file instead; repeat it for an archive written by several\n"
            "                    ledgers (the writers of several shards, one machine each)\n"
            "  --deep            also compare every file's SHA-256 with the ledger's and decode every row\n"
            "  --json            one JSON object instead of the report (shape below)\n"
            "  -h, --help        this help\n\n"
            "report: one line per problem, \"problem KIND PATH: DETAIL\", KIND one of\n"
            "  missing (committed, not on disk), size, unreadable (no valid Parquet footer), rows\n"
            "  (footer row count differs), checksum (--deep), unknown (on disk, no commit names it),\n"
            "  no_marker, archive_id, decode (--deep: a row that does not decode, rows read differ\n"
            "  from the committed count, or a time_us outside the partition hour)\n\n"
            "--json: {\"ok\":BOOL, \"archive\":ROOT, \"archive_id\":ID|null, \"ledgers\":[{\"path\":FILE,\n"
            "  \"archive_id\":ID|null}], \"deep\":BOOL, \"files_checked\":N, \"files_ok\":N, \"rows\":N,\n"
            "  \"bytes\":N, \"files_on_disk\":N, \"temporaries\":N, \"seconds\":X, \"problems\":[{\"kind\":KIND,\n"
            "  \"path\":PATH, \"expected\":N, \"actual\":N, \"detail\":TEXT}]}  (rows and bytes: of the intact\n"
            "  committed files; expected/actual: bytes for size, rows for rows, 0 where not meaningful)\n\n"
            "examples:\n"
            "  skyspool verify --out archive --data-dir skyspool-data\n"
            "  skyspool verify --out /srv/archive --data-dir /var/lib/skyspool --deep   # [host]\n"
            "  skyspool verify --out archive --json | jq -r '.problems[] | \"\\(.kind) \\(.path)\"'\n"
            "  skyspool verify --out /srv/archive --ledger a/ledger.sqlite --ledger b/ledger.sqlite   # [host]\n");
}

typedef struct {
    int json;
    ss_buf probs; /* --json: the problems array's members */
    size_t n;
} vctx;

static void on_problem(void *ctx, const ss_verify_problem *p) {
    vctx *c = ctx;
    ss_buf *b = &c->probs;
    if (!c->json) { /* printed after the header */
        ss_buf_printf(b, "problem  %-10s %s%s%s\n", ss_verify_kind_name(p->kind), p->path, *p->path ? ": " : "",
                      p->detail);
        return;
    }
    ss_buf_printf(b, "%s{\"kind\":\"%s\",\"path\":", c->n++ ? "," : "", ss_verify_kind_name(p->kind));
    ss_buf_append_json_string(b, p->path, strlen(p->path));
    ss_buf_printf(b, ",\"expected\":%" PRIu64 ",\"actual\":%" PRIu64 ",\"detail\":", p->expected, p->actual);
    ss_buf_append_json_string(b, p->detail, strlen(p->detail));
    ss_buf_puts(b, "}");
}

static void json_str_or_null(ss_buf *b, const char *s) {
    if (s && *s) ss_buf_append_json_string(b, s, strlen(s));
    else ss_buf_puts(b, "null");
}

int ss_cmd_verify(int argc, char **argv) {
    enum { O_OUT = 1, O_LEDGER, O_DEEP, O_JSON };
    static const struct option opts[] = {SS_CONFIG_LONG_OPTIONS,
                                         {"out", required_argument, 0, O_OUT},
                                         {"ledger", required_argument, 0, O_LEDGER},
                                         {"deep", no_argument, 0, O_DEEP},
                                         {"json", no_argument, 0, O_JSON},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    ss_config *cfg = ss_config_new();
    if (!cfg) return ss_cmd_fail("verify", "out of memory");
    int c, rc = 2;
    const char *lpaths[SS_VERIFY_MAX_LEDGERS];
    ss_ledger *leds[SS_VERIFY_MAX_LEDGERS];
    size_t nled = 0, nopen = 0;
    char dd_ledger[PATH_MAX];
    vctx ctx = {0};
    ss_buf_init(&ctx.probs);
    ss_verify_opts vo = {0, on_problem, &ctx, NULL, NULL};
    char err[2048];
    optind = 1;
    while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        int h = ss_config_handle_opt(cfg, c, optarg, err, sizeof err);
        if (h < 0) {
            rc = ss_usage_error("verify", "%s", err);
            goto out;
        }
        if (h == 1) continue;
        switch (c) {
        case 'h': usage(stdout); rc = 0; goto out;
        case O_OUT:
            if (ss_config_set(cfg, "out", optarg, SS_CFG_FLAG, err, sizeof err) != 0) {
                rc = ss_usage_error("verify", "%s", err);
                goto out;
            }
            break;
        case O_LEDGER:
            if (nled == SS_VERIFY_MAX_LEDGERS) {
                rc = ss_usage_error("verify", "at most %d --ledger", SS_VERIFY_MAX_LEDGERS);
                goto out;
            }
            lpaths[nled++] = optarg;
            break;
        case O_DEEP: vo.deep = 1; break;
        case O_JSON: ctx.json = 1; break;
        default: rc = ss_usage_error("verify", "unknown or incomplete option '%s'", argv[optind - 1]); goto out;
        }
    }
    if (optind < argc) {
        rc = ss_usage_error("verify", "unexpected argument '%s'", argv[optind]);
        goto out;
    }
    if (ss_config_load(cfg, err, sizeof err) != 0) {
        rc = ss_usage_error("verify", "%s", err);
        goto out;
    }
    if (ss_cli_apply_log_level("verify", cfg) != 0) goto out;
    const char *root = ss_config_get(cfg, "out");
    if (!root || !*root) {
        rc = ss_usage_error("verify", "--out DIR is required: the archive to verify");
        goto out;
    }
    if (!strncmp(root, "s3://", 5)) { /* one object at a time is downloaded into the data dir (or TMPDIR) */
        size_t ps;
        int r = ss_cli_s3_config("verify", cfg, &vo.s3, &ps);
        if (r != 0) {
            rc = r;
            goto out;
        }
        struct stat dst;
        const char *dd = ss_config_get(cfg, "data-dir");
        const char *tmp = getenv("TMPDIR");
        vo.scratch = dd && stat(dd, &dst) == 0 && S_ISDIR(dst.st_mode) && access(dd, W_OK) == 0 ? dd
                     : tmp && *tmp                                                            ? tmp
                                                                                              : "/tmp";
    }
    if (!nled) {
        snprintf(dd_ledger, sizeof dd_ledger, "%.*s/%s", PATH_MAX - 32, ss_config_get(cfg, "data-dir"), SS_LEDGER_FILE);
        lpaths[nled++] = dd_ledger;
    }
    for (size_t i = 0; i < nled; i++) {
        if (access(lpaths[i], R_OK) != 0) {
            rc = ss_cmd_fail("verify", "no ledger at %s: no writer has run with this data dir (see --data-dir, --ledger)",
                             lpaths[i]);
            goto out;
        }
        leds[i] = ss_ledger_open_readonly(lpaths[i], err, sizeof err);
        if (!leds[i]) {
            rc = ss_cmd_fail("verify", "%s", err);
            goto out;
        }
        nopen++;
    }
    double t0 = ss_mono_s();
    ss_verify_stats st;
    if (ss_verify_run(root, leds, lpaths, nled, &vo, &st, err, sizeof err) != 0) {
        rc = ss_cmd_fail("verify", "%s", err);
        goto out;
    }
    double secs = ss_mono_s() - t0;
    char abs[PATH_MAX];
    if (!realpath(root, abs)) snprintf(abs, sizeof abs, "%s", root);
    if (ctx.json) {
        ss_buf b;
        ss_buf_init(&b);
        ss_buf_printf(&b, "{\"ok\":%s,\"archive\":", st.problems ? "false" : "true");
        ss_buf_append_json_string(&b, abs, strlen(abs));
        ss_buf_puts(&b, ",\"archive_id\":");
        json_str_or_null(&b, st.archive_id);
        ss_buf_puts(&b, ",\"ledgers\":[");
        for (size_t i = 0; i < nled; i++) {
            char lid[SS_ARCHIVE_ID_MAX + 1] = "";
            if (ss_ledger_meta_get(leds[i], SS_ARCHIVE_META_ID, lid, sizeof lid) != 1) lid[0] = '\0';
            ss_buf_puts(&b, i ? ",{\"path\":" : "{\"path\":");
            ss_buf_append_json_string(&b, lpaths[i], strlen(lpaths[i]));
            ss_buf_puts(&b, ",\"archive_id\":");
            json_str_or_null(&b, lid);
            ss_buf_puts(&b, "}");
        }
        ss_buf_printf(&b,
                      "],\"deep\":%s,\"files_checked\":%" PRIu64 ",\"files_ok\":%" PRIu64 ",\"rows\":%" PRIu64
                      ",\"bytes\":%" PRIu64 ",\"files_on_disk\":%" PRIu64 ",\"temporaries\":%" PRIu64
                      ",\"seconds\":%.3f,\"problems\":[",
                      vo.deep ? "true" : "false", st.files_checked, st.files_ok, st.rows, st.bytes, st.files_on_disk,
                      st.temporaries, secs);
        if (ctx.probs.len) ss_buf_append(&b, ctx.probs.data, ctx.probs.len);
        ss_buf_puts(&b, "]}\n");
        fwrite(b.data, 1, b.len, stdout);
        ss_buf_free(&b);
    } else {
        printf("archive  %s (%s%s)\n", abs, st.archive_id[0] ? "archive id " : "no archive marker",
               st.archive_id);
        for (size_t i = 0; i < nled; i++) printf("ledger   %s\n", lpaths[i]);
        printf("checked  %" PRIu64 " committed files: %" PRIu64 " intact (%" PRIu64 " rows, %" PRIu64
               " bytes; size and footer row count%s) in %.2f s\n",
               st.files_checked, st.files_ok, st.rows, st.bytes,
               vo.deep ? ", SHA-256, every row decoded" : vo.s3 ? ", SHA-256 of the download" : "", secs);
        printf("on disk  %" PRIu64 " files, %" PRIu64 " temporaries\n", st.files_on_disk, st.temporaries);
        if (ctx.probs.len) fwrite(ctx.probs.data, 1, ctx.probs.len, stdout);
        if (st.problems)
            printf("FAILED   %" PRIu64 " problem%s: the archive does not match the ledger\n", st.problems,
                   st.problems == 1 ? "" : "s");
        else printf("OK       the archive matches the ledger\n");
    }
    fflush(stdout);
    rc = st.problems ? 1 : 0;
out:
    for (size_t i = 0; i < nopen; i++) ss_ledger_close(leds[i]);
    ss_buf_free(&ctx.probs);
    ss_config_free(cfg);
    return rc;
}
