/* Logging for skyspool.
 *
 * One line per message on stderr: "<ISO-8601 UTC> <level> <component>: <text>".
 * stdout is reserved for command output (JSONL from `cat`, tables from `status`),
 * so nothing in here ever writes to it. The level is set once from the command line
 * (--verbose/--quiet) or SKYSPOOL_LOG=debug|info|warn|error. */
#ifndef SS_LOG_H
#define SS_LOG_H

typedef enum { SS_LOG_DEBUG = 0, SS_LOG_INFO, SS_LOG_WARN, SS_LOG_ERROR, SS_LOG_OFF } ss_log_level;

void ss_log_set_level(ss_log_level lvl);
ss_log_level ss_log_get_level(void);
/* Parses "debug", "info", "warn", "error" or "off"; returns -1 for anything else. */
int ss_log_parse_level(const char *s);
void ss_log(ss_log_level lvl, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define ss_debug(comp, ...) ss_log(SS_LOG_DEBUG, comp, __VA_ARGS__)
#define ss_info(comp, ...) ss_log(SS_LOG_INFO, comp, __VA_ARGS__)
#define ss_warn(comp, ...) ss_log(SS_LOG_WARN, comp, __VA_ARGS__)
#define ss_error(comp, ...) ss_log(SS_LOG_ERROR, comp, __VA_ARGS__)

#endif
