/* Configuration with a documented precedence:
 *
 *   1. command-line flags
 *   2. environment variables (SKYSPOOL_*)
 *   3. a redis.conf-style file: lines of "key value", '#' comments, values may be quoted;
 *      named by --config FILE or SKYSPOOL_CONFIG
 *   4. built-in defaults
 *
 * Every setting has one canonical key (as used in the file), one environment variable
 * and usually one flag; the table lives in config.c and `skyspool <cmd> --help` shows it.
 * Values are kept as strings and converted by typed getters that never fail silently:
 * ss_config_load() validates every value that was set, so a bad value is reported once,
 * with its origin, before any work starts.
 *
 * Usage in a command:
 *   ss_config *cfg = ss_config_new();
 *   static const struct option opts[] = { SS_CONFIG_LONG_OPTIONS, {"limit", 1, 0, 'n'}, {0} };
 *   while ((c = getopt_long(argc, argv, "+hn:", opts, NULL)) != -1) {
 *       if (ss_config_handle_opt(cfg, c, optarg, err, sizeof err) != 0) ... // 1 handled, 0 not ours, -1 error
 *   }
 *   if (ss_config_load(cfg, err, sizeof err) != 0) return ss_usage_error(...);
 *   const char *url = ss_config_get(cfg, "redis-url");   // NULL = embedded redis
 */
#ifndef SS_CONFIG_H
#define SS_CONFIG_H

#include <getopt.h>
#include <stddef.h>

typedef struct ss_config ss_config;

/* getopt_long option values for the common flags; commands use values below 1000. */
enum {
    SS_OPT_CONFIG = 1000,
    SS_OPT_REDIS,
    SS_OPT_REDIS_PASSWORD_FILE,
    SS_OPT_PREFIX,
    SS_OPT_DATA_DIR,
    SS_OPT_MAXMEMORY,
    SS_OPT_LOG_LEVEL,
    SS_OPT_SET, /* --set key=value for any other key */
};

#define SS_CONFIG_LONG_OPTIONS                                                     \
    {"config", required_argument, 0, SS_OPT_CONFIG},                               \
        {"redis", required_argument, 0, SS_OPT_REDIS},                             \
        {"redis-password-file", required_argument, 0, SS_OPT_REDIS_PASSWORD_FILE}, \
        {"prefix", required_argument, 0, SS_OPT_PREFIX},                           \
        {"data-dir", required_argument, 0, SS_OPT_DATA_DIR},                       \
        {"maxmemory", required_argument, 0, SS_OPT_MAXMEMORY},                     \
        {"log-level", required_argument, 0, SS_OPT_LOG_LEVEL},                     \
        {"set", required_argument, 0, SS_OPT_SET}

/* Help text for the common flags, for commands to print in --help. */
extern const char ss_config_common_help[];

typedef enum { SS_CFG_DEFAULT = 0, SS_CFG_FILE, SS_CFG_ENV, SS_CFG_FLAG } ss_config_origin;

ss_config *ss_config_new(void);
void ss_config_free(ss_config *c);
/* Handles a common option. Returns 1 if handled, 0 if `opt` is not a common option,
 * -1 on error (message in err). */
int ss_config_handle_opt(ss_config *c, int opt, const char *arg, char *err, size_t errlen);
/* Sets a key from a given origin; a lower-precedence origin never overrides a higher one.
 * Unknown keys are an error. */
int ss_config_set(ss_config *c, const char *key, const char *value, ss_config_origin origin, char *err,
                  size_t errlen);
/* Applies the config file, then the environment, then defaults, under the flags already
 * set; validates every value. Returns 0, or -1 with a message naming key and origin. */
int ss_config_load(ss_config *c, char *err, size_t errlen);

/* Getters; key must be in the table (an unknown key is a programming error and aborts). */
const char *ss_config_get(const ss_config *c, const char *key); /* NULL if unset and no default */
long long ss_config_get_int(const ss_config *c, const char *key);
long long ss_config_get_bytes(const ss_config *c, const char *key);
long long ss_config_get_ms(const ss_config *c, const char *key);
double ss_config_get_double(const ss_config *c, const char *key);
int ss_config_get_bool(const ss_config *c, const char *key);
ss_config_origin ss_config_get_origin(const ss_config *c, const char *key);
/* Writes "key value (origin)" lines for every key, for `status --verbose` and debugging. */
void ss_config_dump(const ss_config *c, int (*emit)(void *ctx, const char *line), void *ctx);

#endif
