/* `skyspool migrate`: brings an archive written with zero-padded partition values
 * (layout 1: month=08/day=07/hour=00) to the current unpadded layout (month=8/day=7/hour=0),
 * renaming each partition directory atomically and rewriting the run ledgers' recorded
 * paths, so that `verify`, the writers' guards and every reader agree afterwards. It is
 * idempotent: after a crash or a kill it is run again and finishes the job (the protocol and
 * its order are in writer/migrate.h). The command itself only parses options, opens the
 * ledgers and prints the counts. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/cli_redis.h"
#include "cli/config.h"
#include "writer/archive_id.h"
#include "writer/crash.h"
#include "writer/ledger.h"
#include "writer/migrate.h"

#define CMD "migrate"
#define MIGRATE_MAX_LEDGERS 64

static void usage(FILE *f) {
    fprintf(f,
            "usage: skyspool migrate --out DIR [--data-dir D | --ledger FILE ...]\n\n"
            "Moves an archive written by an older skyspool, with zero-padded partition values\n"
            "(year=2025/month=08/day=07/hour=00), to the current layout (year=2025/month=8/day=7/hour=0),\n"
            "which DuckDB, polars and Spark all read as integer partition columns. Each directory is\n"
            "renamed with one atomic rename; the run ledgers' recorded paths are rewritten (one\n"
            "transaction per ledger); last, the archive marker (_skyspool_archive.json) is updated\n"
            "to layout %d. Writers refuse an archive until it is migrated. Stop every writer of the\n"
            "archive first. If migrate is interrupted (crash, kill, full disk), run it again: it\n"
            "resumes where it stopped. Running it on a migrated archive changes nothing.\n\n"
            "Options:\n"
            "  --out DIR          the archive\n"
            "  --data-dir DIR     whose ledger.sqlite to rewrite, when it exists [./skyspool-data]\n"
            "  --ledger FILE      a ledger to rewrite instead; repeat it for the writers of several shards\n\n"
            "Exit status: 0 migrated (or nothing to do), 1 failed (run it again after fixing the cause),\n"
            "2 usage error.\n\n"
            "examples:\n"
            "  skyspool migrate --out archive --data-dir skyspool-data\n"
            "  skyspool migrate --out /srv/archive --ledger a/ledger.sqlite --ledger b/ledger.sqlite   # [host]\n",
            SS_ARCHIVE_LAYOUT);
}

int ss_cmd_migrate(int argc, char **argv) {
    enum { O_OUT = 1, O_LEDGER };
    static const struct option opts[] = {SS_CONFIG_LONG_OPTIONS,
                                         {"out", required_argument, 0, O_OUT},
                                         {"ledger", required_argument, 0, O_LEDGER},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    ss_config *cfg = ss_config_new();
    if (!cfg) return ss_cmd_fail(CMD, "out of memory");
    int c, rc = 2;
    const char *lpaths[MIGRATE_MAX_LEDGERS];
    ss_ledger *leds[MIGRATE_MAX_LEDGERS];
    int nled = 0, nopen = 0, explicit_ledgers = 0;
    char dd_ledger[PATH_MAX];
    char err[2048];
    optind = 1;
    while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        int h = ss_config_handle_opt(cfg, c, optarg, err, sizeof err);
        if (h < 0) {
            rc = ss_usage_error(CMD, "%s", err);
            goto out;
        }
        if (h == 1) continue;
        switch (c) {
        case 'h': usage(stdout); rc = 0; goto out;
        case O_OUT:
            if (ss_config_set(cfg, "out", optarg, SS_CFG_FLAG, err, sizeof err) != 0) {
                rc = ss_usage_error(CMD, "%s", err);
                goto out;
            }
            break;
        case O_LEDGER:
            if (nled == MIGRATE_MAX_LEDGERS) {
                rc = ss_usage_error(CMD, "at most %d --ledger", MIGRATE_MAX_LEDGERS);
                goto out;
            }
            lpaths[nled++] = optarg;
            explicit_ledgers = 1;
            break;
        default: rc = ss_usage_error(CMD, "unknown or incomplete option '%s'", argv[optind - 1]); goto out;
        }
    }
    if (optind < argc) {
        rc = ss_usage_error(CMD, "unexpected argument '%s'", argv[optind]);
        goto out;
    }
    if (ss_config_load(cfg, err, sizeof err) != 0) {
        rc = ss_usage_error(CMD, "%s", err);
        goto out;
    }
    if (ss_cli_apply_log_level(CMD, cfg) != 0) goto out;
    if (ss_writer_crash_init(err, sizeof err) != 0) {
        rc = ss_usage_error(CMD, "%s", err);
        goto out;
    }
    const char *root = ss_config_get(cfg, "out");
    if (!root || !*root) {
        rc = ss_usage_error(CMD, "--out DIR is required: the archive to migrate");
        goto out;
    }
    if (access(root, F_OK) != 0) {
        rc = ss_cmd_fail(CMD, "%s: %s", root, strerror(errno));
        goto out;
    }
    if (!explicit_ledgers) {
        snprintf(dd_ledger, sizeof dd_ledger, "%.*s/%s", PATH_MAX - 32, ss_config_get(cfg, "data-dir"), SS_LEDGER_FILE);
        if (access(dd_ledger, F_OK) == 0) lpaths[nled++] = dd_ledger;
    }
    for (int i = 0; i < nled; i++) {
        if (access(lpaths[i], W_OK) != 0) {
            rc = ss_cmd_fail(CMD, "cannot write the ledger %s: %s", lpaths[i], strerror(errno));
            goto out;
        }
        leds[i] = ss_ledger_open(lpaths[i], err, sizeof err);
        if (!leds[i]) {
            rc = ss_cmd_fail(CMD, "%s", err);
            goto out;
        }
        nopen++;
    }
    ss_migrate_stats st;
    if (ss_archive_migrate(root, leds, nled, &st, err, sizeof err) != 0) {
        rc = ss_cmd_fail(CMD, "%s (nothing is lost: run migrate again once this is fixed)", err);
        goto out;
    }
    printf("migrate  %s: %" PRIu64 " directories renamed, %" PRIu64 " merged, %" PRIu64
           " ledger paths rewritten (%d ledgers), marker %s\n",
           root, st.renamed, st.merged, st.ledger_paths, nled,
           st.marker_updated ? "updated to layout 2" : st.had_marker ? "already layout 2" : "absent");
    rc = 0;
out:
    for (int i = 0; i < nopen; i++) ss_ledger_close(leds[i]);
    ss_config_free(cfg);
    return rc;
}
