/* Shared declarations for the command-line front end. Each subcommand lives in its own
 * src/cli/cmd_NAME.c and is listed once in commands.def. */
#ifndef SS_CLI_H
#define SS_CLI_H

#define SS_CMD(ident, name, summary) int ss_cmd_##ident(int argc, char **argv);
#include "cli/commands.def"
#undef SS_CMD

/* Prints "skyspool CMD: <message>" to stderr and returns the exit status for usage
 * errors (2), so a command can `return ss_usage_error("cmd", "...")`. */
int ss_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Runtime failure: prints "skyspool CMD: <message>" and returns 1. */
int ss_cmd_fail(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Strict number parsing for flags: the whole string must be a number in range.
 * Return 0, or -1 (caller reports a usage error naming the flag). */
int ss_parse_i64(const char *s, long long min, long long max, long long *out);
int ss_parse_double(const char *s, double min, double max, double *out);
/* Sizes such as "2gb", "64mb", "512k", "1048576" (redis.conf units: k=1000, kb=1024). */
int ss_parse_bytes(const char *s, long long *out);
/* Durations such as "300", "300s", "5m", "1h", "250ms"; result in milliseconds. */
int ss_parse_duration_ms(const char *s, long long *out);

#endif
