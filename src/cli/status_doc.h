/* The status document: what `skyspool status --json` prints and what the metrics listener
 * serves at /api/status, built by one function so the two can never disagree.
 *
 * The document is the buffer status (src/buffer/status.c) with the ledger's last commit
 * filled in; with runs > 0 it also carries the writer's recent runs and failed attempts from
 * the ledger and the writer's window lag from this process's metrics (docs/METRICS.md,
 * "The status document"). Every Redis call is bounded by timeout_ms, so a slow or dead Redis
 * delays an HTTP answer by at most that much per call, never indefinitely. */
#ifndef SS_CLI_STATUS_DOC_H
#define SS_CLI_STATUS_DOC_H

#include <stddef.h>

#include "buffer/status.h"
#include "buffer/target.h"
#include "cli/config.h"
#include "util/buf.h"

/* The most runs and attempts /api/status lists (newest last, like `skyspool runs`). */
#define SS_STATUS_DOC_MAX_RUNS 50

/* Appends the JSON document (one line, newline-terminated) to out. runs: how many recent runs
 * and failed attempts to add (0: none, the `status --json` document; capped at
 * SS_STATUS_DOC_MAX_RUNS). Returns 0, or -class (util/err.h) with err (Redis unreachable: io;
 * refused: auth, permission; out of memory: oom). */
int ss_cli_status_doc(ss_redis_target *t, const ss_config *cfg, int timeout_ms, int runs, ss_buf *out, char *err,
                      size_t errlen);

/* The buffer status with the ledger's last commit (the data dir's ledger), for the text
 * screen. Returns 0, or -class with err (as ss_cli_status_doc). */
int ss_cli_status_collect(ss_redis_target *t, const ss_config *cfg, int timeout_ms, ss_status *s, char *err,
                          size_t errlen);

/* The self-contained status page served at "/" (src/cli/status_page.c). */
extern const char ss_status_page_html[];

#endif
