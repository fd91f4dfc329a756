/* Shared declarations for the command-line front end. Each subcommand lives in its own
 * src/cli/cmd_NAME.c and is listed once in commands.def. */
#ifndef SS_CLI_H
#define SS_CLI_H

#include "util/err.h"

#define SS_CMD(ident, name, summary) int ss_cmd_##ident(int argc, char **argv);
#include "cli/commands.def"
#undef SS_CMD

/* A number macro as a string literal: a default that a module's header owns (e.g.
 * SS_AR_DEFAULT_ZSTD_LEVEL) appears in the config table and help texts as text, stated once. */
#define SS_XSTR_(x) #x
#define SS_XSTR(x) SS_XSTR_(x)

/* Prints "skyspool CMD: <message>" to stderr and returns the exit status for usage
 * errors (2), so a command can `return ss_usage_error("cmd", "...")`. */
int ss_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Runtime failure: prints "skyspool CMD: <message>" and returns 1. */
int ss_cmd_fail(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The exit status of an error class: the one table (cli/exit.c, listed in README.md).
 * 0 none, 1 io, 2 usage, 3 data, 4 protocol, 5 auth, 6 permission, 7 oom, 8 fenced. */
int ss_exit_code(ss_err_class c);
/* Prints "skyspool CMD: <message>" (plus the --help hint for a usage error) and returns
 * ss_exit_code(c) (NONE counts as io: there was an error). */
int ss_cmd_error(const char *cmd, ss_err_class c, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* An old spelling of a flag that still works: warns once per process, on stderr,
 * "skyspool CMD: OLD is deprecated, use NEW" (help texts list only NEW). */
void ss_cli_deprecated(const char *cmd, const char *old_flag, const char *new_flag);

/* Strict number parsing for flags: the whole string must be a number in range.
 * Return 0, or -1 (caller reports a usage error naming the flag). */
int ss_parse_i64(const char *s, long long min, long long max, long long *out);
int ss_parse_double(const char *s, double min, double max, double *out);
/* Sizes such as "2gb", "64mb", "512k", "1048576" (redis.conf units: k=1000, kb=1024). */
int ss_parse_bytes(const char *s, long long *out);
/* Durations such as "300", "300s", "5m", "1h", "250ms"; result in milliseconds. */
int ss_parse_duration_ms(const char *s, long long *out);

#endif
