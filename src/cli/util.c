/* Flag parsing and error reporting shared by all subcommands. Parsing is strict: "12x",
 * "" and out-of-range values are errors, never silently truncated. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/cli.h"
#include "util/progress.h"

/* One line on stderr, around a progress line if one is shown (util/progress.h). */
static void vreport(const char *cmd, const char *fmt, va_list ap) {
    char line[2048];
    int n = snprintf(line, sizeof line, "skyspool %s: ", cmd);
    if (n > 0 && (size_t)n < sizeof line) n += vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    if (n < 0) return;
    if ((size_t)n >= sizeof line - 1) n = (int)sizeof line - 2;
    line[n++] = '\n';
    if (!ss_progress_log_write(line, (size_t)n)) fwrite(line, 1, (size_t)n, stderr);
}

int ss_usage_error(const char *cmd, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vreport(cmd, fmt, ap);
    va_end(ap);
    fprintf(stderr, "Run 'skyspool %s --help' for usage.\n", cmd);
    return ss_exit_code(SS_ERR_USAGE);
}

int ss_cmd_fail(const char *cmd, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vreport(cmd, fmt, ap);
    va_end(ap);
    return ss_exit_code(SS_ERR_IO);
}

void ss_cli_deprecated(const char *cmd, const char *old_flag, const char *new_flag) {
    static const char *warned[8]; /* the old spellings warned about so far (few exist) */
    size_t i;
    for (i = 0; i < sizeof warned / sizeof warned[0] && warned[i]; i++)
        if (!strcmp(warned[i], old_flag)) return;
    if (i < sizeof warned / sizeof warned[0]) warned[i] = old_flag;
    fprintf(stderr, "skyspool %s: warning: %s is deprecated, use %s (the old spelling will go away)\n", cmd, old_flag,
            new_flag);
}

int ss_parse_i64(const char *s, long long min, long long max, long long *out) {
    if (!s || !*s) return -1;
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || v < min || v > max) return -1;
    *out = v;
    return 0;
}

int ss_parse_double(const char *s, double min, double max, double *out) {
    if (!s || !*s) return -1;
    errno = 0;
    char *end;
    double v = strtod(s, &end);
    if (errno || *end || isnan(v) || v < min || v > max) return -1;
    *out = v;
    return 0;
}

int ss_parse_bytes(const char *s, long long *out) {
    if (!s || !*s) return -1;
    errno = 0;
    char *end;
    double v = strtod(s, &end);
    if (errno || end == s || isnan(v) || v < 0) return -1;
    static const struct { const char *u; double m; } units[] = {
        {"", 1}, {"b", 1}, {"k", 1e3}, {"kb", 1024.0}, {"m", 1e6}, {"mb", 1048576.0},
        {"g", 1e9}, {"gb", 1073741824.0}, {"t", 1e12}, {"tb", 1099511627776.0}};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcasecmp(end, units[i].u) == 0) {
            double r = v * units[i].m;
            if (r > 9.2e18) return -1;
            *out = (long long)r;
            return 0;
        }
    }
    return -1;
}

int ss_parse_duration_ms(const char *s, long long *out) {
    if (!s || !*s) return -1;
    errno = 0;
    char *end;
    double v = strtod(s, &end);
    if (errno || end == s || isnan(v) || v < 0) return -1;
    double m;
    if (!*end || !strcmp(end, "s")) m = 1000;
    else if (!strcmp(end, "ms")) m = 1;
    else if (!strcmp(end, "m")) m = 60000;
    else if (!strcmp(end, "h")) m = 3600000;
    else if (!strcmp(end, "d")) m = 86400000;
    else return -1;
    double r = v * m;
    if (r > 9.2e18) return -1;
    *out = (long long)r;
    return 0;
}
