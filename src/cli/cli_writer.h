/* Flags and configuration shared by the commands that run a DataWriter (write, run). */
#ifndef SS_CLI_WRITER_H
#define SS_CLI_WRITER_H

#include <getopt.h>

#include "buffer/target.h"
#include "cli/config.h"
#include "util/buf.h"
#include "writer/writer.h"

/* getopt values 900..909: flags that set a config key. */
enum {
    SS_CLI_W_OUT = 900,
    SS_CLI_W_WINDOW,
    SS_CLI_W_GRACE,
    SS_CLI_W_HORIZON,
    SS_CLI_W_CLAIM_IDLE,
    SS_CLI_W_RETRY_MAX,
    SS_CLI_W_BUDGET,
};

#define SS_CLI_WRITER_LONG_OPTIONS                                         \
    {"out", required_argument, 0, SS_CLI_W_OUT},                           \
        {"window", required_argument, 0, SS_CLI_W_WINDOW},                 \
        {"grace", required_argument, 0, SS_CLI_W_GRACE},                   \
        {"dedup-horizon", required_argument, 0, SS_CLI_W_HORIZON},         \
        {"claim-idle", required_argument, 0, SS_CLI_W_CLAIM_IDLE},         \
        {"retry-max", required_argument, 0, SS_CLI_W_RETRY_MAX},           \
        {"memory-budget", required_argument, 0, SS_CLI_W_BUDGET}

/* 1 when c is one of the flags above (its key set), 0 if not, -1 on a bad value (err). */
int ss_cli_writer_flag(ss_config *cfg, int c, const char *arg, char *err, size_t errlen);
/* Fills the configuration part of o (after ss_writer_opts_init and ss_config_load).
 * Returns 0, or an exit status after printing a usage error. */
int ss_cli_writer_opts(const char *cmd, const ss_config *cfg, ss_redis_target *t, ss_writer_opts *o);
/* --out s3://: credentials and the s3-* settings. Returns 0, or an exit status after printing. */
int ss_cli_s3_config(const char *cmd, const ss_config *cfg, const ss_s3_config **out, size_t *part_size);
void ss_cli_writer_stats_json(const ss_writer_stats *s, double secs, ss_buf *b);

#endif
