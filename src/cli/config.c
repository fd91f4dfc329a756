/* Configuration: one table of settings, four origins, one precedence rule.
 *
 * Each setting is a row in g_keys: its canonical key (used in the config file and in
 * --set), its environment variable, a default and a validator. Values are stored as
 * strings together with the origin that set them; ss_config_set() refuses to let a
 * lower-precedence origin override a higher one, so the order in which origins are
 * applied does not matter for correctness. Flags are parsed first (by the command's
 * getopt loop), then ss_config_load() applies the file and the environment beneath them
 * and validates everything, naming the origin of a bad value so the user knows what to
 * fix. Adding a setting is adding a row. */
#include "cli/config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "archive/archive.h"
#include "cli/cli.h"
#include "writer/writer.h"

typedef enum { V_STR, V_INT, V_BYTES, V_MS, V_DOUBLE, V_BOOL, V_RATIO } ss_vkind;

typedef struct {
    const char *key;
    const char *env;
    const char *def; /* NULL: unset unless given */
    ss_vkind kind;
    const char *help;
} ss_key;

/* Keep sorted by concern; `skyspool <cmd> --help` and the docs/design/ documents refer to these keys. */
static const ss_key g_keys[] = {
    {"redis-url", "SKYSPOOL_REDIS_URL", NULL, V_STR,
     "redis://[user:password@]host:port[/db] or unix:///path; unset = private embedded redis-server"},
    {"redis-password-file", "SKYSPOOL_REDIS_PASSWORD_FILE", NULL, V_STR, "file holding the Redis password"},
    {"prefix", "SKYSPOOL_PREFIX", "skyspool:", V_STR, "prefix of every Redis key skyspool uses"},
    {"data-dir", "SKYSPOOL_DATA_DIR", "./skyspool-data", V_STR,
     "embedded redis-server, its password, and the run ledger live here"},
    {"maxmemory", "SKYSPOOL_MAXMEMORY", "2gb", V_BYTES, "maxmemory of the embedded redis-server"},
    {"redis-server", "SKYSPOOL_REDIS_SERVER", "redis-server", V_STR, "redis-server binary for the embedded default"},
    {"log-level", "SKYSPOOL_LOG", "info", V_STR, "debug, info, warn, error or off"},
    {"high-watermark", "SKYSPOOL_HIGH_WATERMARK", "0.8", V_RATIO, "pause ingest above this share of maxmemory"},
    {"low-watermark", "SKYSPOOL_LOW_WATERMARK", "0.6", V_RATIO, "resume ingest below this share of maxmemory"},
    {"max-event-bytes", "SKYSPOOL_MAX_EVENT_BYTES", "2mb", V_BYTES, "events larger than this go to the DLQ"},
    {"keep-other", "SKYSPOOL_KEEP_OTHER", "no", V_BOOL, "keep events of other collections (type 'other')"},
    {"ingest-connections", "SKYSPOOL_INGEST_CONNECTIONS", "3", V_INT, "Redis connections the ingester spreads streams over (1-16)"},
    {"shards", "SKYSPOOL_SHARDS", "1", V_INT, "key-routed stream shards per type (1-16): one writer machine per shard"},
    {"shard", "SKYSPOOL_SHARD", NULL, V_STR, "writer: the shard I (or I/M) it consumes when shards > 1"},
    {"zstd-dictionary", "SKYSPOOL_ZSTD_DICTIONARY", NULL, V_STR, "Jetstream's zstd dictionary, for compress=true"},
    {"wanted-collections", "SKYSPOOL_WANTED_COLLECTIONS", NULL, V_STR, "jetstream: NSIDs or prefix.* to ask for ('*' = all; default the archived types, all with keep-other)"},
    {"wanted-dids", "SKYSPOOL_WANTED_DIDS", NULL, V_STR, "jetstream: only these accounts: DIDs comma-separated, or a file of DIDs (at most 10,000; a changed file is sent as an options_update)"},
    {"verify-signatures", "SKYSPOOL_VERIFY_SIGNATURES", "no", V_BOOL, "firehose: check commit signatures against the accounts' keys (bad ones go to the DLQ as bad_signature)"},
    {"did-resolve", "SKYSPOOL_DID_RESOLVE", "yes", V_BOOL, "with verify-signatures: resolve DIDs not in did-cache live (PLC directory, did:web)"},
    {"plc-directory", "SKYSPOOL_PLC_DIRECTORY", "https://plc.directory", V_STR, "with did-resolve: where did:plc documents are fetched (GET <this>/<did>)"},
    {"did-cache", "SKYSPOOL_DID_CACHE", NULL, V_STR, "firehose: a file or directory of DID documents (JSON) holding the accounts' signing keys"},
    {"compress", "SKYSPOOL_COMPRESS", "no", V_BOOL, "jetstream: ask for zstd-compressed messages (needs zstd-dictionary)"},
    {"tls-ca-file", "SKYSPOOL_TLS_CA_FILE", NULL, V_STR, "live sources: extra CA certificate (PEM) for wss://"},
    {"tls-insecure", "SKYSPOOL_TLS_INSECURE", "no", V_BOOL, "live sources: accept any wss:// certificate (tests only)"},
    {"connect-timeout", "SKYSPOOL_CONNECT_TIMEOUT", "10s", V_MS, "live sources: give up a connection attempt after this"},
    {"read-timeout", "SKYSPOOL_READ_TIMEOUT", "60s", V_MS, "live sources: reconnect after this long without data"},
    {"source", "SKYSPOOL_SOURCE", NULL, V_STR, "ingest and run: where events come from when --source is not given (jetstream, firehose, file:PATH, ...)"},
    {"out", "SKYSPOOL_OUT", NULL, V_STR, "root of the Parquet archive"},
    {"s3-endpoint", "SKYSPOOL_S3_ENDPOINT", NULL, V_STR, "--out s3://: the S3 API's URL (default https://s3.REGION.amazonaws.com)"},
    {"s3-region", "SKYSPOOL_S3_REGION", "us-east-1", V_STR, "--out s3://: the bucket's region (SigV4 signs with it; R2: auto)"},
    {"s3-path-style", "SKYSPOOL_S3_PATH_STYLE", "no", V_BOOL, "--out s3://: ENDPOINT/BUCKET/KEY URLs (MinIO, Ceph, s3rver) instead of BUCKET.HOST/KEY"},
    {"s3-part-size", "SKYSPOOL_S3_PART_SIZE", "16mb", V_BYTES, "--out s3://: files above this go up as multipart uploads of parts this big (256kb-512mb; AWS, R2, B2 need >= 5mb)"},
    {"s3-storage-class", "SKYSPOOL_S3_STORAGE_CLASS", NULL, V_STR, "--out s3://: x-amz-storage-class of new objects (e.g. STANDARD_IA)"},
    {"s3-stall-timeout", "SKYSPOOL_S3_STALL_TIMEOUT", "60s", V_MS, "--out s3://: a request making no progress this long is retried"},
    {"codec", "SKYSPOOL_CODEC", "zstd", V_STR, "Parquet compression: zstd, snappy or none"},
    {"zstd-level", "SKYSPOOL_ZSTD_LEVEL", SS_XSTR(SS_AR_DEFAULT_ZSTD_LEVEL), V_INT, "zstd level for Parquet pages"},
    {"window", "SKYSPOOL_WINDOW", "5m", V_MS, "DataWriter window length (event time)"},
    {"grace", "SKYSPOOL_GRACE", "30s", V_MS, "how long past its end a window stays open"},
    {"dedup-horizon", "SKYSPOOL_DEDUP_HORIZON", "1h", V_MS, "event-time horizon of duplicate removal"},
    {"retry-max", "SKYSPOOL_RETRY_MAX", "5m", V_MS, "cap of the writer's retry backoff"},
    {"claim-idle", "SKYSPOOL_CLAIM_IDLE", "60s", V_MS, "reclaim entries of a consumer idle this long"},
    {"memory-budget", "SKYSPOOL_MEMORY_BUDGET", SS_XSTR(SS_WRITER_DEFAULT_MEMORY_BUDGET_MB) "mb", V_BYTES, "writer's in-memory budget of buffered entries"},
    {"metrics-listen", "SKYSPOOL_METRICS_LISTEN", NULL, V_STR, "host:port for the Prometheus /metrics endpoint"},
    {"metrics-textfile", "SKYSPOOL_METRICS_TEXTFILE", NULL, V_STR, "write the metrics to this node_exporter textfile at exit"},
    {"health-source-stall", "SKYSPOOL_HEALTH_SOURCE_STALL", "10m", V_MS, "/healthz: 503 after this long without an event"},
    {"health-commit-stall", "SKYSPOOL_HEALTH_COMMIT_STALL", "10m", V_MS, "/healthz: 503 when windows wait this long uncommitted"},
};
#define SS_NKEYS (sizeof g_keys / sizeof g_keys[0])

struct ss_config {
    char *value[SS_NKEYS];
    ss_config_origin origin[SS_NKEYS];
    char *config_file; /* from --config; SKYSPOOL_CONFIG otherwise */
};

const char ss_config_common_help[] =
    "common options (flag > environment > config file > default):\n"
    "  --redis URL                redis://[user:pass@]host:port[/db] | unix:///path  (SKYSPOOL_REDIS_URL)\n"
    "                             unset: a private redis-server in --data-dir\n"
    "  --redis-password-file F    read the Redis password from F    (SKYSPOOL_REDIS_PASSWORD_FILE)\n"
    "  --prefix P                 Redis key prefix [skyspool:]      (SKYSPOOL_PREFIX)\n"
    "  --data-dir D               embedded Redis + ledger [./skyspool-data] (SKYSPOOL_DATA_DIR)\n"
    "  --maxmemory SIZE           embedded Redis maxmemory [2gb]    (SKYSPOOL_MAXMEMORY)\n"
    "  --log-level L              debug|info|warn|error|off [info]  (SKYSPOOL_LOG)\n"
    "  --config FILE              redis.conf-style 'key value' lines (SKYSPOOL_CONFIG)\n"
    "  --set KEY=VALUE            any other setting, e.g. --set high-watermark=0.7\n";

static int find_key(const char *key) {
    for (size_t i = 0; i < SS_NKEYS; i++)
        if (!strcmp(g_keys[i].key, key)) return (int)i;
    return -1;
}

static int key_index_or_abort(const char *key) {
    int i = find_key(key);
    if (i < 0) {
        fprintf(stderr, "skyspool: internal error: unknown config key '%s'\n", key);
        abort();
    }
    return i;
}

static int fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    if (err && errlen) vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

ss_config *ss_config_new(void) { return calloc(1, sizeof(ss_config)); }

void ss_config_free(ss_config *c) {
    if (!c) return;
    for (size_t i = 0; i < SS_NKEYS; i++) free(c->value[i]);
    free(c->config_file);
    free(c);
}

static const char *origin_name(ss_config_origin o) {
    static const char *const names[] = {"default", "config file", "environment", "flag"};
    return names[o];
}

int ss_config_set(ss_config *c, const char *key, const char *value, ss_config_origin origin, char *err,
                  size_t errlen) {
    int i = find_key(key);
    if (i < 0) return fail(err, errlen, "unknown setting '%s' (from %s)", key, origin_name(origin));
    if (c->value[i] && c->origin[i] > origin) return 0; /* a higher-precedence origin already set it */
    char *v = strdup(value);
    if (!v) return fail(err, errlen, "out of memory");
    free(c->value[i]);
    c->value[i] = v;
    c->origin[i] = origin;
    return 0;
}

/* 1 when a Redis URL carries a password ("user:pw@" or ":pw@"), also when it is malformed
 * otherwise: whatever is before the last '@' after the scheme, with a ':' in it. */
static int url_has_password(const char *url) {
    const char *s = strstr(url, "://");
    s = s ? s + 3 : url;
    const char *at = strrchr(s, '@');
    if (!at) return 0;
    const char *colon = memchr(s, ':', (size_t)(at - s));
    return colon && colon + 1 < at;
}

/* Every local user can read a command line (ps, /proc/PID/cmdline): say so, and what to do. */
static void warn_password_on_command_line(const char *url) {
    if (url_has_password(url))
        fprintf(stderr, "skyspool: warning: the Redis URL on the command line holds a password, which every local "
                        "user can read (ps, /proc); put the password in a file (chmod 600, or 640 with the "
                        "service's group) and pass --redis-password-file FILE instead\n");
}

int ss_config_handle_opt(ss_config *c, int opt, const char *arg, char *err, size_t errlen) {
    const char *key = NULL;
    switch (opt) {
    case SS_OPT_CONFIG:
        free(c->config_file);
        c->config_file = strdup(arg);
        return c->config_file ? 1 : fail(err, errlen, "out of memory");
    case SS_OPT_REDIS: key = "redis-url"; break;
    case SS_OPT_REDIS_PASSWORD_FILE: key = "redis-password-file"; break;
    case SS_OPT_PREFIX: key = "prefix"; break;
    case SS_OPT_DATA_DIR: key = "data-dir"; break;
    case SS_OPT_MAXMEMORY: key = "maxmemory"; break;
    case SS_OPT_LOG_LEVEL: key = "log-level"; break;
    case SS_OPT_SET: {
        const char *eq = strchr(arg, '=');
        if (!eq || eq == arg) return fail(err, errlen, "--set takes KEY=VALUE, got '%s'", arg);
        char k[128];
        size_t n = (size_t)(eq - arg);
        if (n >= sizeof k) return fail(err, errlen, "--set: key too long");
        memcpy(k, arg, n);
        k[n] = '\0';
        if (!strcmp(k, "redis-url")) warn_password_on_command_line(eq + 1);
        return ss_config_set(c, k, eq + 1, SS_CFG_FLAG, err, errlen) == 0 ? 1 : -1;
    }
    default: return 0;
    }
    if (!strcmp(key, "redis-url")) warn_password_on_command_line(arg);
    return ss_config_set(c, key, arg, SS_CFG_FLAG, err, errlen) == 0 ? 1 : -1;
}

/* Parses one redis.conf-style line into key and value (in place). Returns 1 for a
 * setting, 0 for a blank/comment line, -1 for a malformed line. */
static int parse_conf_line(char *line, char **key, char **value) {
    char *p = line;
    while (isspace((unsigned char)*p)) p++;
    if (!*p || *p == '#') return 0;
    *key = p;
    while (*p && !isspace((unsigned char)*p)) p++;
    if (!*p) return -1;
    *p++ = '\0';
    while (isspace((unsigned char)*p)) p++;
    if (!*p) return -1; /* a key without a value */
    char *end = p + strlen(p);
    while (end > p && isspace((unsigned char)end[-1])) *--end = '\0';
    if (end - p >= 2 && ((*p == '"' && end[-1] == '"') || (*p == '\'' && end[-1] == '\''))) {
        end[-1] = '\0';
        p++;
    }
    *value = p;
    return 1;
}

static int load_file(ss_config *c, const char *path, char *err, size_t errlen) {
    FILE *f = fopen(path, "r");
    if (!f) return fail(err, errlen, "cannot read config file %s: %s", path, strerror(errno));
    struct stat st;
    int world = fstat(fileno(f), &st) == 0 && (st.st_mode & (S_IROTH | S_IWOTH));
    char line[4096];
    int lineno = 0, rc = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        if (!strchr(line, '\n') && !feof(f)) {
            rc = fail(err, errlen, "%s:%d: line too long (limit %zu bytes)", path, lineno, sizeof line - 1);
            break;
        }
        char *k, *v;
        int r = parse_conf_line(line, &k, &v);
        if (r < 0) {
            rc = fail(err, errlen, "%s:%d: expected 'key value'", path, lineno);
            break;
        }
        if (r == 1 && world && !strcmp(k, "redis-url") && url_has_password(v)) {
            rc = fail(err, errlen,
                      "%s:%d: this config file holds a Redis password (in redis-url) and every local user can read "
                      "it (mode %03o); run chmod 640 %s (or 600), or move the password into a file named by "
                      "redis-password-file",
                      path, lineno, (unsigned)(st.st_mode & 0777), path);
            break;
        }
        if (r == 1 && ss_config_set(c, k, v, SS_CFG_FILE, err, errlen) != 0) {
            char tmp[256];
            snprintf(tmp, sizeof tmp, "%s", err);
            rc = fail(err, errlen, "%s:%d: %s", path, lineno, tmp);
            break;
        }
    }
    fclose(f);
    return rc;
}

static int validate(const ss_config *c, size_t i, char *err, size_t errlen) {
    const char *v = c->value[i];
    long long ll;
    double d;
    int ok = 1;
    switch (g_keys[i].kind) {
    case V_STR: ok = 1; break;
    case V_INT: ok = ss_parse_i64(v, -1000000000LL, 1000000000LL, &ll) == 0; break;
    case V_BYTES: ok = ss_parse_bytes(v, &ll) == 0; break;
    case V_MS: ok = ss_parse_duration_ms(v, &ll) == 0; break;
    case V_DOUBLE: ok = ss_parse_double(v, -1e300, 1e300, &d) == 0; break;
    case V_RATIO: ok = ss_parse_double(v, 0.0, 1.0, &d) == 0; break;
    case V_BOOL:
        ok = !strcmp(v, "yes") || !strcmp(v, "no") || !strcmp(v, "true") || !strcmp(v, "false") ||
             !strcmp(v, "1") || !strcmp(v, "0");
        break;
    }
    if (ok) return 0;
    static const char *const expect[] = {"text", "an integer", "a size such as 2gb or 512mb",
                                         "a duration such as 30s, 5m or 1h", "a number", "yes or no",
                                         "a ratio between 0 and 1"};
    return fail(err, errlen, "bad value '%s' for %s (from %s): expected %s", v, g_keys[i].key,
                origin_name(c->origin[i]), expect[g_keys[i].kind]);
}

int ss_config_load(ss_config *c, char *err, size_t errlen) {
    const char *file = c->config_file ? c->config_file : getenv("SKYSPOOL_CONFIG");
    if (file && *file && load_file(c, file, err, errlen) != 0) return -1;
    for (size_t i = 0; i < SS_NKEYS; i++) {
        const char *e = getenv(g_keys[i].env);
        if (e && *e && ss_config_set(c, g_keys[i].key, e, SS_CFG_ENV, err, errlen) != 0) return -1;
        if (!c->value[i] && g_keys[i].def && ss_config_set(c, g_keys[i].key, g_keys[i].def, SS_CFG_DEFAULT, err, errlen) != 0)
            return -1;
        if (c->value[i] && validate(c, i, err, errlen) != 0) return -1;
    }
    double hi = ss_config_get_double(c, "high-watermark"), lo = ss_config_get_double(c, "low-watermark");
    if (lo >= hi) return fail(err, errlen, "low-watermark (%g) must be below high-watermark (%g)", lo, hi);
    return 0;
}

const char *ss_config_get(const ss_config *c, const char *key) { return c->value[key_index_or_abort(key)]; }

ss_config_origin ss_config_get_origin(const ss_config *c, const char *key) {
    return c->origin[key_index_or_abort(key)];
}

long long ss_config_get_int(const ss_config *c, const char *key) {
    long long v = 0;
    const char *s = ss_config_get(c, key);
    if (s) ss_parse_i64(s, -1000000000LL, 1000000000LL, &v);
    return v;
}

long long ss_config_get_bytes(const ss_config *c, const char *key) {
    long long v = 0;
    const char *s = ss_config_get(c, key);
    if (s) ss_parse_bytes(s, &v);
    return v;
}

long long ss_config_get_ms(const ss_config *c, const char *key) {
    long long v = 0;
    const char *s = ss_config_get(c, key);
    if (s) ss_parse_duration_ms(s, &v);
    return v;
}

double ss_config_get_double(const ss_config *c, const char *key) {
    double v = 0;
    const char *s = ss_config_get(c, key);
    if (s) ss_parse_double(s, -1e300, 1e300, &v);
    return v;
}

int ss_config_get_bool(const ss_config *c, const char *key) {
    const char *s = ss_config_get(c, key);
    return s && (!strcmp(s, "yes") || !strcmp(s, "true") || !strcmp(s, "1"));
}

void ss_config_dump(const ss_config *c, int (*emit)(void *ctx, const char *line), void *ctx) {
    char line[1024];
    for (size_t i = 0; i < SS_NKEYS; i++) {
        /* Never echo a password, whether it came as a key or inside a URL's userinfo. */
        int secret = strstr(g_keys[i].key, "password") != NULL ||
                     (c->value[i] && !strcmp(g_keys[i].key, "redis-url") && strchr(c->value[i], '@'));
        snprintf(line, sizeof line, "%-20s %s (%s)", g_keys[i].key,
                 c->value[i] ? (secret ? "<set, hidden>" : c->value[i]) : "<unset>",
                 c->value[i] ? origin_name(c->origin[i]) : "-");
        if (emit(ctx, line) != 0) return;
    }
}
