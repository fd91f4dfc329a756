/* The S3 client of s3.h: requests built for curl's SigV4 signer, retried with backoff,
 * responses read with a minimal XML scanner (S3's answers are flat: a few known tags, no
 * attributes we need, entities only in keys). See s3.h for why it is built this way. */
#include "objstore/s3.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/clock.h"

struct ss_s3 {
    CURL *h;
    char endpoint[SS_S3_MAX_URL]; /* scheme://host[:port], no trailing slash */
    char region[64];
    char storage_class[64];
    int path_style;
    ss_s3_credentials cred;
    char userpwd[2 * SS_S3_MAX_SECRET + 2];
    long connect_timeout_ms, stall_ms, retry_base_ms, retry_cap_ms;
    int max_retries;
    uint64_t retries;
    unsigned rng;
    ss_s3_errcode err;
    char errstr[1024];
};

static pthread_once_t g_curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

static int fail(ss_s3 *s, ss_s3_errcode code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(ss_s3 *s, ss_s3_errcode code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->errstr, sizeof s->errstr, fmt, ap);
    va_end(ap);
    s->err = code;
    return -1;
}

ss_s3_errcode ss_s3_err(const ss_s3 *s) { return s->err; }
const char *ss_s3_errstr(const ss_s3 *s) { return s->errstr; }
uint64_t ss_s3_retries(const ss_s3 *s) { return s->retries; }

/* ---- credentials --------------------------------------------------------------------------- */

static void trim(char *s) {
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n')) s[--n] = '\0';
    size_t i = 0;
    while (s[i] == ' ' || s[i] == '\t') i++;
    if (i) memmove(s, s + i, n - i + 1);
}

static int copy_secret(char *dst, size_t cap, const char *v) {
    if (strlen(v) >= cap) return -1;
    memcpy(dst, v, strlen(v) + 1);
    return 0;
}

int ss_s3_credentials_load(ss_s3_credentials *c, const char *file, char *err, size_t errlen) {
    memset(c, 0, sizeof *c);
    const char *ak = getenv("AWS_ACCESS_KEY_ID"), *sk = getenv("AWS_SECRET_ACCESS_KEY");
    if (ak && *ak && sk && *sk) {
        const char *tok = getenv("AWS_SESSION_TOKEN");
        if (copy_secret(c->access_key, sizeof c->access_key, ak) || copy_secret(c->secret_key, sizeof c->secret_key, sk) ||
            (tok && copy_secret(c->session_token, sizeof c->session_token, tok))) {
            snprintf(err, errlen, "AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY or AWS_SESSION_TOKEN is too long");
            return -1;
        }
        return 0;
    }
    char path[4096];
    const char *home = getenv("HOME");
    if (file && *file) snprintf(path, sizeof path, "%s", file);
    else if (getenv("AWS_SHARED_CREDENTIALS_FILE") && *getenv("AWS_SHARED_CREDENTIALS_FILE"))
        snprintf(path, sizeof path, "%s", getenv("AWS_SHARED_CREDENTIALS_FILE"));
    else if (home && *home) snprintf(path, sizeof path, "%s/.aws/credentials", home);
    else path[0] = '\0';
    struct stat st;
    if (!path[0] || stat(path, &st) != 0) {
        snprintf(err, errlen,
                 "no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or write them to %s "
                 "(mode 0600)",
                 path[0] ? path : "~/.aws/credentials");
        return -1;
    }
    if (st.st_mode & 0027) {
        snprintf(err, errlen, "the credentials file %s has mode %04o: it must not be readable by others or writable by "
                              "its group (chmod 600 %s)",
                 path, (unsigned)(st.st_mode & 07777), path);
        return -1;
    }
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "cannot read the credentials file %s: %s", path, strerror(errno));
        return -1;
    }
    const char *profile = getenv("AWS_PROFILE");
    if (!profile || !*profile) profile = "default";
    char line[SS_S3_MAX_TOKEN + 64];
    int in = 0, toolong = 0;
    while (fgets(line, sizeof line, f)) {
        if (!strchr(line, '\n') && !feof(f)) {
            toolong = 1;
            break;
        }
        trim(line);
        if (line[0] == '#' || line[0] == ';' || !line[0]) continue;
        if (line[0] == '[') {
            char *e = strchr(line, ']');
            if (e) *e = '\0';
            char *name = line + 1;
            trim(name);
            if (!strncmp(name, "profile ", 8)) name += 8;
            in = !strcmp(name, profile);
            continue;
        }
        if (!in) continue;
        char *eq = strchr(line, '=');
        if (!eq) continue;
        *eq = '\0';
        char *k = line, *v = eq + 1;
        trim(k);
        trim(v);
        int r = 0;
        if (!strcmp(k, "aws_access_key_id")) r = copy_secret(c->access_key, sizeof c->access_key, v);
        else if (!strcmp(k, "aws_secret_access_key")) r = copy_secret(c->secret_key, sizeof c->secret_key, v);
        else if (!strcmp(k, "aws_session_token")) r = copy_secret(c->session_token, sizeof c->session_token, v);
        if (r) toolong = 1;
    }
    fclose(f);
    if (toolong) {
        snprintf(err, errlen, "the credentials file %s has a line or value too long", path);
        return -1;
    }
    if (!c->access_key[0] || !c->secret_key[0]) {
        snprintf(err, errlen, "the credentials file %s has no aws_access_key_id and aws_secret_access_key in [%s]", path,
                 profile);
        return -1;
    }
    return 0;
}

/* ---- encoding ------------------------------------------------------------------------------ */

static int unreserved(unsigned char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
           c == '_' || c == '~';
}

static int encode(const char *in, int keep_slash, char *out, size_t outlen) {
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
        if (unreserved(*p) || (keep_slash && *p == '/')) {
            if (o + 1 >= outlen) return -1;
            out[o++] = (char)*p;
        } else {
            if (o + 3 >= outlen) return -1;
            out[o++] = '%';
            out[o++] = hex[*p >> 4];
            out[o++] = hex[*p & 15];
        }
    }
    if (o >= outlen) return -1;
    out[o] = '\0';
    return (int)o;
}

int ss_s3_encode_key(const char *key, char *out, size_t outlen) { return encode(key, 1, out, outlen); }

static void hex32(const unsigned char md[32], char out[65]) {
    for (int i = 0; i < 32; i++) snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static void sha256_hex(const void *data, size_t len, char out[65]) {
    unsigned char md[32];
    unsigned int n = 0;
    EVP_Digest(data, len, md, &n, EVP_sha256(), NULL);
    hex32(md, out);
}

/* The SHA-256 of len bytes of fd at off, read in 256 KiB steps. Returns errno on failure. */
static int sha256_fd_hex(int fd, uint64_t off, size_t len, char out[65]) {
    enum { STEP = 256u << 10 };
    char *buf = malloc(STEP);
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    int err = !buf || !c || EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1 ? ENOMEM : 0;
    for (size_t done = 0; !err && done < len;) {
        size_t want = len - done < STEP ? len - done : STEP;
        ssize_t n = pread(fd, buf, want, (off_t)(off + done));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) err = n < 0 ? errno : EIO;
        else if (EVP_DigestUpdate(c, buf, (size_t)n) != 1) err = ENOMEM;
        else done += (size_t)n;
    }
    unsigned char md[32];
    unsigned int mdlen = 0;
    if (!err && EVP_DigestFinal_ex(c, md, &mdlen) != 1) err = ENOMEM;
    if (!err) hex32(md, out);
    EVP_MD_CTX_free(c);
    free(buf);
    return err;
}

int ss_s3_url_parse(const char *url, char *bucket, size_t blen, char *prefix, size_t plen, char *err, size_t errlen) {
    if (strncmp(url, "s3://", 5) != 0) {
        snprintf(err, errlen, "'%s' is not s3://BUCKET[/PREFIX]", url);
        return -1;
    }
    const char *b = url + 5, *slash = strchr(b, '/');
    size_t bl = slash ? (size_t)(slash - b) : strlen(b);
    if (bl < 3 || bl > SS_S3_MAX_BUCKET || bl >= blen) {
        snprintf(err, errlen, "'%s': a bucket name is 3-%d characters", url, SS_S3_MAX_BUCKET);
        return -1;
    }
    for (size_t i = 0; i < bl; i++) {
        char c = b[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.')) {
            snprintf(err, errlen, "'%s': a bucket name has only a-z 0-9 . -", url);
            return -1;
        }
    }
    memcpy(bucket, b, bl);
    bucket[bl] = '\0';
    const char *p = slash ? slash + 1 : "";
    while (*p == '/') p++;
    size_t pl = strlen(p);
    while (pl && p[pl - 1] == '/') pl--;
    if (pl >= plen || pl > SS_S3_MAX_KEY / 2) {
        snprintf(err, errlen, "'%s': the prefix is too long", url);
        return -1;
    }
    memcpy(prefix, p, pl);
    prefix[pl] = '\0';
    return 0;
}

/* ---- the context --------------------------------------------------------------------------- */

ss_s3 *ss_s3_new(const ss_s3_config *cfg, char *err, size_t errlen) {
    pthread_once(&g_curl_once, curl_init_once);
    if (!cfg->cred || !cfg->cred->access_key[0] || !cfg->cred->secret_key[0]) {
        snprintf(err, errlen, "no S3 credentials");
        return NULL;
    }
    ss_s3 *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    snprintf(s->region, sizeof s->region, "%s", cfg->region && *cfg->region ? cfg->region : "us-east-1");
    for (const char *r = s->region; *r; r++)
        if (!((*r >= 'a' && *r <= 'z') || (*r >= '0' && *r <= '9') || *r == '-')) {
            snprintf(err, errlen, "s3-region '%s' is not a region name (e.g. us-east-1, auto)", s->region);
            free(s);
            return NULL;
        }
    if (cfg->endpoint && *cfg->endpoint) {
        const char *e = cfg->endpoint;
        if (strncmp(e, "http://", 7) && strncmp(e, "https://", 8)) {
            snprintf(err, errlen, "s3-endpoint '%s' must start with http:// or https://", e);
            free(s);
            return NULL;
        }
        if (strlen(e) >= sizeof s->endpoint - 128) {
            snprintf(err, errlen, "s3-endpoint is too long");
            free(s);
            return NULL;
        }
        snprintf(s->endpoint, sizeof s->endpoint, "%s", e);
        size_t n = strlen(s->endpoint);
        while (n && s->endpoint[n - 1] == '/') s->endpoint[--n] = '\0';
    } else {
        snprintf(s->endpoint, sizeof s->endpoint, "https://s3.%s.amazonaws.com", s->region);
    }
    if (cfg->storage_class && *cfg->storage_class) {
        for (const char *c = cfg->storage_class; *c; c++)
            if (!((*c >= 'A' && *c <= 'Z') || *c == '_')) {
                snprintf(err, errlen, "s3-storage-class '%s' is not a storage class (e.g. STANDARD, STANDARD_IA)",
                         cfg->storage_class);
                free(s);
                return NULL;
            }
        snprintf(s->storage_class, sizeof s->storage_class, "%s", cfg->storage_class);
    }
    s->path_style = cfg->path_style;
    s->cred = *cfg->cred;
    snprintf(s->userpwd, sizeof s->userpwd, "%s:%s", s->cred.access_key, s->cred.secret_key);
    s->connect_timeout_ms = cfg->connect_timeout_ms > 0 ? cfg->connect_timeout_ms : 10000;
    s->stall_ms = cfg->stall_ms > 0 ? cfg->stall_ms : 60000;
    s->max_retries = cfg->max_retries > 0 ? cfg->max_retries : (cfg->max_retries < 0 ? 0 : 8);
    s->retry_base_ms = cfg->retry_base_ms > 0 ? cfg->retry_base_ms : 200;
    s->retry_cap_ms = cfg->retry_cap_ms > 0 ? cfg->retry_cap_ms : 10000;
    s->rng = (unsigned)getpid() ^ (unsigned)ss_mono_us();
    s->h = curl_easy_init();
    if (!s->h) {
        snprintf(err, errlen, "curl_easy_init failed");
        free(s);
        return NULL;
    }
    return s;
}

void ss_s3_free(ss_s3 *s) {
    if (!s) return;
    if (s->h) curl_easy_cleanup(s->h);
    memset(&s->cred, 0, sizeof s->cred);
    memset(s->userpwd, 0, sizeof s->userpwd);
    free(s);
}

/* ---- one request --------------------------------------------------------------------------- */

typedef struct {
    const char *method;
    const char *bucket, *key; /* key may be "" (bucket operations) */
    const char *query;        /* sorted, encoded, without '?'; NULL: none */
    const void *body;
    size_t blen;
    int has_body;             /* send body (even empty) */
    int body_fd;              /* with from_fd: the body is blen bytes of this file at body_off, */
    int from_fd;              /* read as curl sends them (no copy of a part in memory) */
    uint64_t body_off;
    int read_errno;           /* a failed read of body_fd (-1: short; 0: none) */
    const char *meta_sha256;
    int storage_class;        /* send x-amz-storage-class */
    const char *content_type;
    FILE *out_file;           /* GET into a file */
    size_t resp_max;
    /* results */
    long status;
    ss_buf resp;
    char etag[SS_S3_MAX_ETAG];
    char meta[65];
    uint64_t length;
    int too_big;
    size_t sent;
} req;

static size_t on_read(char *buf, size_t size, size_t nmemb, void *ud) {
    req *r = ud;
    size_t want = size * nmemb, left = r->blen - r->sent;
    if (want > left) want = left;
    if (r->from_fd) {
        ssize_t n;
        do n = pread(r->body_fd, buf, want, (off_t)(r->body_off + r->sent));
        while (n < 0 && errno == EINTR);
        if (n <= 0 && want > 0) {
            r->read_errno = n < 0 ? errno : -1; /* -1: the file shrank under us */
            return CURL_READFUNC_ABORT;
        }
        want = (size_t)n;
    } else {
        memcpy(buf, (const char *)r->body + r->sent, want);
    }
    r->sent += want;
    return want;
}

static size_t on_write(char *buf, size_t size, size_t nmemb, void *ud) {
    req *r = ud;
    size_t n = size * nmemb;
    if (r->out_file && r->status / 100 == 2) return fwrite(buf, 1, n, r->out_file);
    if (r->resp.len + n > r->resp_max) {
        r->too_big = 1;
        return 0;
    }
    return ss_buf_append(&r->resp, buf, n) == 0 ? n : 0;
}

static void header_value(const char *line, size_t n, char *out, size_t outlen) {
    const char *c = memchr(line, ':', n);
    if (!c) return;
    c++;
    const char *e = line + n;
    while (c < e && (*c == ' ' || *c == '\t')) c++;
    while (e > c && (e[-1] == '\r' || e[-1] == '\n' || e[-1] == ' ')) e--;
    size_t l = (size_t)(e - c);
    if (l >= outlen) l = outlen - 1;
    memcpy(out, c, l);
    out[l] = '\0';
}

static size_t on_header(char *buf, size_t size, size_t nmemb, void *ud) {
    req *r = ud;
    size_t n = size * nmemb;
    if (n > 5 && !strncmp(buf, "HTTP/", 5)) { /* a new response (after 100 Continue, a redirect) */
        long st = 0;
        const char *sp = memchr(buf, ' ', n);
        if (sp) st = strtol(sp + 1, NULL, 10);
        r->status = st;
        r->etag[0] = r->meta[0] = '\0';
        r->length = 0;
    } else if (n > 5 && !strncasecmp(buf, "etag:", 5)) {
        header_value(buf, n, r->etag, sizeof r->etag);
    } else if (n > 18 && !strncasecmp(buf, "x-amz-meta-sha256:", 18)) {
        header_value(buf, n, r->meta, sizeof r->meta);
    } else if (n > 15 && !strncasecmp(buf, "content-length:", 15)) {
        char v[32] = "";
        header_value(buf, n, v, sizeof v);
        r->length = strtoull(v, NULL, 10);
    }
    return n;
}

/* The text of the first <tag>...</tag> at or after *from, entities decoded; *from moves past it. */
static int xml_tag(const char *doc, const char **from, const char *end, const char *tag, char *out, size_t outlen) {
    char open[64], close[64];
    snprintf(open, sizeof open, "<%s>", tag);
    snprintf(close, sizeof close, "</%s>", tag);
    const char *p = *from ? *from : doc;
    const char *a = strstr(p, open);
    if (!a || (end && a >= end)) return -1;
    a += strlen(open);
    const char *b = strstr(a, close);
    if (!b || (end && b > end)) return -1;
    *from = b + strlen(close);
    size_t o = 0;
    for (const char *q = a; q < b;) {
        char c = *q;
        size_t adv = 1;
        if (c == '&') {
            static const struct { const char *e; char c; } ents[] = {
                {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
            for (size_t i = 0; i < 5; i++)
                if (!strncmp(q, ents[i].e, strlen(ents[i].e))) {
                    c = ents[i].c;
                    adv = strlen(ents[i].e);
                }
            if (adv == 1 && q[1] == '#') {
                char *e;
                long v = q[2] == 'x' ? strtol(q + 3, &e, 16) : strtol(q + 2, &e, 10);
                if (*e == ';' && v > 0 && v < 128) {
                    c = (char)v;
                    adv = (size_t)(e + 1 - q);
                }
            }
        }
        if (o + 1 >= outlen) return -2;
        out[o++] = c;
        q += adv;
    }
    out[o] = '\0';
    return 0;
}

static int retryable_code(const char *code) {
    return !strcmp(code, "SlowDown") || !strcmp(code, "InternalError") || !strcmp(code, "RequestTimeout") ||
           !strcmp(code, "ServiceUnavailable") || !strcmp(code, "Throttling") || !strcmp(code, "RequestTimeTooSkewed_");
}

static void backoff(ss_s3 *s, int attempt) {
    long d = s->retry_base_ms;
    for (int i = 0; i < attempt && d < s->retry_cap_ms; i++) d *= 2;
    if (d > s->retry_cap_ms) d = s->retry_cap_ms;
    s->rng = s->rng * 1103515245u + 12345u;
    long j = d / 2 + (long)((s->rng >> 8) % (unsigned)(d / 2 + 1));
    ss_sleep_ms(j);
}

static int do_request(ss_s3 *s, req *r) {
    char enc[SS_S3_MAX_KEY * 3 + 1];
    if (encode(r->key, 1, enc, sizeof enc) < 0) return fail(s, SS_S3_ERR_LOCAL, "key too long: %.80s...", r->key);
    char url[SS_S3_MAX_URL + sizeof enc + 2048];
    const char *q = r->query && *r->query ? r->query : NULL;
    if (s->path_style) {
        snprintf(url, sizeof url, "%s/%s/%s%s%s", s->endpoint, r->bucket, enc, q ? "?" : "", q ? q : "");
    } else {
        const char *host = strstr(s->endpoint, "://") + 3;
        snprintf(url, sizeof url, "%.*s%s.%s/%s%s%s", (int)(host - s->endpoint), s->endpoint, r->bucket, host, enc,
                 q ? "?" : "", q ? q : "");
    }
    char hash[65], hdr[SS_S3_MAX_TOKEN + 64], sigv4[128];
    if (r->from_fd) {
        int e = sha256_fd_hex(r->body_fd, r->body_off, r->blen, hash);
        if (e) return fail(s, SS_S3_ERR_LOCAL, "%s s3://%s/%s: reading the body: %s", r->method, r->bucket, r->key, strerror(e));
    } else {
        sha256_hex(r->has_body ? r->body : "", r->has_body ? r->blen : 0, hash);
    }
    snprintf(sigv4, sizeof sigv4, "aws:amz:%s:s3", s->region);
    ss_buf_init(&r->resp);
    for (int attempt = 0;; attempt++) {
        CURL *h = s->h;
        curl_easy_reset(h);
        struct curl_slist *hl = NULL;
        snprintf(hdr, sizeof hdr, "x-amz-content-sha256: %s", hash);
        hl = curl_slist_append(hl, hdr);
        if (s->cred.session_token[0]) {
            snprintf(hdr, sizeof hdr, "x-amz-security-token: %s", s->cred.session_token);
            hl = curl_slist_append(hl, hdr);
        }
        if (r->meta_sha256) {
            snprintf(hdr, sizeof hdr, "x-amz-meta-sha256: %s", r->meta_sha256);
            hl = curl_slist_append(hl, hdr);
        }
        if (r->storage_class && s->storage_class[0]) {
            snprintf(hdr, sizeof hdr, "x-amz-storage-class: %s", s->storage_class);
            hl = curl_slist_append(hl, hdr);
        }
        if (r->content_type) {
            snprintf(hdr, sizeof hdr, "Content-Type: %s", r->content_type);
            hl = curl_slist_append(hl, hdr);
        }
        curl_easy_setopt(h, CURLOPT_URL, url);
        curl_easy_setopt(h, CURLOPT_AWS_SIGV4, sigv4);
        curl_easy_setopt(h, CURLOPT_USERPWD, s->userpwd);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, s->connect_timeout_ms);
        curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, (s->stall_ms + 999) / 1000);
        curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
        if (r->has_body) {
            r->sent = 0;
            r->read_errno = 0;
            curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
            curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
            curl_easy_setopt(h, CURLOPT_READDATA, r);
            curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)r->blen);
            if (strcmp(r->method, "PUT") != 0) curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, r->method);
        } else if (!strcmp(r->method, "HEAD")) {
            curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
        } else if (strcmp(r->method, "GET") != 0) {
            curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, r->method);
        }
        ss_buf_reset(&r->resp);
        r->status = 0;
        r->too_big = 0;
        if (r->out_file) {
            if (fflush(r->out_file) != 0 || ftruncate(fileno(r->out_file), 0) != 0 || fseek(r->out_file, 0, SEEK_SET) != 0) {
                curl_slist_free_all(hl);
                return fail(s, SS_S3_ERR_LOCAL, "cannot rewind the download file: %s", strerror(errno));
            }
        }
        CURLcode cc = curl_easy_perform(h);
        curl_slist_free_all(hl);
        char code[128] = "", msg[512] = "";
        const char *from = NULL;
        if (r->resp.len && r->status / 100 != 2) {
            xml_tag(r->resp.data, &from, NULL, "Code", code, sizeof code);
            from = NULL;
            xml_tag(r->resp.data, &from, NULL, "Message", msg, sizeof msg);
        }
        int retry = 0;
        if (cc != CURLE_OK) {
            if (r->read_errno)
                return fail(s, SS_S3_ERR_LOCAL, "%s s3://%s/%s: reading the body: %s", r->method, r->bucket, r->key,
                            r->read_errno < 0 ? "the file is shorter than when the upload began" : strerror(r->read_errno));
            if (r->too_big) return fail(s, SS_S3_ERR_PROTOCOL, "%s s3://%s/%s: response larger than %zu bytes", r->method,
                                        r->bucket, r->key, r->resp_max);
            if (cc == CURLE_COULDNT_RESOLVE_HOST || cc == CURLE_COULDNT_CONNECT || cc == CURLE_SEND_ERROR ||
                cc == CURLE_RECV_ERROR || cc == CURLE_GOT_NOTHING || cc == CURLE_OPERATION_TIMEDOUT ||
                cc == CURLE_PARTIAL_FILE || cc == CURLE_SSL_CONNECT_ERROR || cc == CURLE_HTTP2 ||
                cc == CURLE_HTTP2_STREAM)
                retry = 1;
            if (!retry || attempt >= s->max_retries)
                return fail(s, SS_S3_ERR_IO, "%s s3://%s/%s at %s: %s (after %d attempt%s)", r->method, r->bucket, r->key,
                            s->endpoint, curl_easy_strerror(cc), attempt + 1, attempt ? "s" : "");
        } else if (r->status / 100 == 2) {
            return 0;
        } else if (!strcmp(code, "RequestTimeTooSkewed")) {
            return fail(s, SS_S3_ERR_SKEW,
                        "%s s3://%s/%s: RequestTimeTooSkewed: this machine's clock differs from the S3 server's by more "
                        "than 15 minutes; fix the clock (e.g. enable NTP: timedatectl set-ntp true)",
                        r->method, r->bucket, r->key);
        } else if (r->status == 403 || r->status == 401) {
            return fail(s, SS_S3_ERR_DENIED,
                        "%s s3://%s/%s: permission denied (HTTP %ld %s%s%s): check AWS_ACCESS_KEY_ID/"
                        "AWS_SECRET_ACCESS_KEY (or the credentials file), s3-region, and that the policy allows this "
                        "action on the bucket and prefix",
                        r->method, r->bucket, r->key, r->status, code[0] ? code : "Forbidden", msg[0] ? ": " : "", msg);
        } else if (r->status == 404) {
            return fail(s, SS_S3_ERR_NOT_FOUND, "%s s3://%s/%s: not found (%s)", r->method, r->bucket, r->key,
                        code[0] ? code : "404");
        } else if (r->status >= 500 || r->status == 429 || retryable_code(code)) {
            retry = 1;
            if (attempt >= s->max_retries)
                return fail(s, SS_S3_ERR_SERVER, "%s s3://%s/%s: HTTP %ld %s %s (after %d attempts)", r->method, r->bucket,
                            r->key, r->status, code, msg, attempt + 1);
        } else {
            return fail(s, SS_S3_ERR_PROTOCOL, "%s s3://%s/%s: HTTP %ld %s%s%s", r->method, r->bucket, r->key, r->status,
                        code, msg[0] ? ": " : "", msg);
        }
        s->retries++;
        backoff(s, attempt);
    }
}

static void req_done(req *r) { ss_buf_free(&r->resp); }

static int check_key(ss_s3 *s, const char *bucket, const char *key) {
    size_t n = strlen(key);
    if (!bucket || !*bucket || n == 0 || n > SS_S3_MAX_KEY) return fail(s, SS_S3_ERR_LOCAL, "bad bucket or key");
    for (const unsigned char *p = (const unsigned char *)key; *p; p++)
        if (*p < 0x20 || *p == 0x7f) return fail(s, SS_S3_ERR_LOCAL, "a key may not hold control characters");
    return 0;
}

/* ---- object operations --------------------------------------------------------------------- */

/* A body is len bytes at data, or (fd >= 0) of the file fd at off. */
static void set_body(req *r, const void *data, int fd, uint64_t off, size_t len) {
    r->has_body = 1;
    r->blen = len;
    if (fd >= 0) {
        r->from_fd = 1;
        r->body_fd = fd;
        r->body_off = off;
    } else {
        r->body = data;
    }
}

static int put_body(ss_s3 *s, const char *bucket, const char *key, const void *data, int fd, uint64_t off, size_t len,
                    const char *meta_sha256) {
    if (check_key(s, bucket, key)) return -1;
    req r = {.method = "PUT", .bucket = bucket, .key = key, .meta_sha256 = meta_sha256, .storage_class = 1,
             .resp_max = SS_S3_MAX_RESPONSE};
    set_body(&r, data, fd, off, len);
    int rc = do_request(s, &r);
    req_done(&r);
    return rc;
}

int ss_s3_put(ss_s3 *s, const char *bucket, const char *key, const void *data, size_t len, const char *meta_sha256) {
    return put_body(s, bucket, key, data, -1, 0, len, meta_sha256);
}

int ss_s3_get(ss_s3 *s, const char *bucket, const char *key, char **out, size_t *len, size_t max) {
    if (check_key(s, bucket, key)) return -1;
    req r = {.method = "GET", .bucket = bucket, .key = key, .resp_max = max};
    int rc = do_request(s, &r);
    if (rc == 0) {
        if (ss_buf_reserve(&r.resp, 1) != 0) {
            req_done(&r);
            return fail(s, SS_S3_ERR_LOCAL, "out of memory");
        }
        *out = r.resp.data;
        *len = r.resp.len;
        r.resp.data = NULL;
    }
    req_done(&r);
    return rc;
}

int ss_s3_get_file(ss_s3 *s, const char *bucket, const char *key, const char *path) {
    if (check_key(s, bucket, key)) return -1;
    FILE *f = fopen(path, "w+");
    if (!f) return fail(s, SS_S3_ERR_LOCAL, "cannot create %s: %s", path, strerror(errno));
    req r = {.method = "GET", .bucket = bucket, .key = key, .out_file = f, .resp_max = SS_S3_MAX_RESPONSE};
    int rc = do_request(s, &r);
    req_done(&r);
    if (fclose(f) != 0 && rc == 0) rc = fail(s, SS_S3_ERR_LOCAL, "writing %s: %s", path, strerror(errno));
    if (rc != 0) unlink(path);
    return rc;
}

int ss_s3_head(ss_s3 *s, const char *bucket, const char *key, ss_s3_object *info) {
    if (check_key(s, bucket, key)) return -1;
    req r = {.method = "HEAD", .bucket = bucket, .key = key, .resp_max = SS_S3_MAX_RESPONSE};
    int rc = do_request(s, &r);
    if (rc == 0 && info) {
        info->size = r.length;
        snprintf(info->etag, sizeof info->etag, "%s", r.etag);
        snprintf(info->sha256, sizeof info->sha256, "%s", r.meta);
    }
    req_done(&r);
    return rc;
}

int ss_s3_delete(ss_s3 *s, const char *bucket, const char *key) {
    if (check_key(s, bucket, key)) return -1;
    req r = {.method = "DELETE", .bucket = bucket, .key = key, .resp_max = SS_S3_MAX_RESPONSE};
    int rc = do_request(s, &r);
    if (rc != 0 && s->err == SS_S3_ERR_NOT_FOUND) rc = 0;
    req_done(&r);
    return rc;
}

/* A query string of (name, value) pairs, sorted by name, values encoded; NULL values skipped. */
static int build_query(char *out, size_t outlen, const char *const *kv, size_t n) {
    const char *k[16], *v[16];
    size_t m = 0;
    for (size_t i = 0; i + 1 < 2 * n + 1 && i / 2 < n && m < 16; i += 2)
        if (kv[i + 1]) k[m] = kv[i], v[m++] = kv[i + 1];
    for (size_t i = 1; i < m; i++)
        for (size_t j = i; j > 0 && strcmp(k[j - 1], k[j]) > 0; j--) {
            const char *t = k[j];
            k[j] = k[j - 1], k[j - 1] = t;
            t = v[j];
            v[j] = v[j - 1], v[j - 1] = t;
        }
    size_t o = 0;
    out[0] = '\0';
    for (size_t i = 0; i < m; i++) {
        int w = snprintf(out + o, outlen - o, "%s%s=", i ? "&" : "", k[i]);
        if (w < 0 || (size_t)w >= outlen - o) return -1;
        o += (size_t)w;
        int e = encode(v[i], 0, out + o, outlen - o);
        if (e < 0) return -1;
        o += (size_t)e;
    }
    return 0;
}

int ss_s3_list(ss_s3 *s, const char *bucket, const char *prefix, int (*fn)(void *ctx, const char *key, uint64_t size),
               void *ctx) {
    char token[2048] = "", q[8192], key[SS_S3_MAX_KEY + 1], size[32], trunc[16];
    for (;;) {
        const char *kv[] = {"list-type", "2", "prefix", prefix ? prefix : "", "continuation-token",
                            token[0] ? token : NULL};
        if (build_query(q, sizeof q, kv, 3) != 0) return fail(s, SS_S3_ERR_LOCAL, "list query too long");
        req r = {.method = "GET", .bucket = bucket, .key = "", .query = q, .resp_max = SS_S3_MAX_RESPONSE};
        if (do_request(s, &r) != 0) {
            req_done(&r);
            return -1;
        }
        const char *doc = r.resp.data ? r.resp.data : "", *p = doc;
        for (;;) {
            const char *c = strstr(p, "<Contents>");
            if (!c) break;
            const char *e = strstr(c, "</Contents>");
            if (!e) break;
            const char *f = c;
            if (xml_tag(doc, &f, e, "Key", key, sizeof key) != 0) {
                req_done(&r);
                return fail(s, SS_S3_ERR_PROTOCOL, "LIST s3://%s/%s: an entry without a usable Key", bucket, prefix);
            }
            f = c;
            size[0] = '\0';
            xml_tag(doc, &f, e, "Size", size, sizeof size);
            if (fn(ctx, key, strtoull(size, NULL, 10)) != 0) {
                req_done(&r);
                return 0;
            }
            p = e + 11;
        }
        const char *f = NULL;
        trunc[0] = '\0';
        xml_tag(doc, &f, NULL, "IsTruncated", trunc, sizeof trunc);
        f = NULL;
        int more = !strcmp(trunc, "true") && xml_tag(doc, &f, NULL, "NextContinuationToken", token, sizeof token) == 0;
        req_done(&r);
        if (!more) return 0;
    }
}

/* ---- multipart ----------------------------------------------------------------------------- */

int ss_s3_mp_create(ss_s3 *s, const char *bucket, const char *key, const char *meta_sha256,
                    char upload_id[SS_S3_MAX_UPLOAD_ID]) {
    if (check_key(s, bucket, key)) return -1;
    req r = {.method = "POST", .bucket = bucket, .key = key, .query = "uploads=", .has_body = 1, .body = "",
             .meta_sha256 = meta_sha256, .storage_class = 1, .resp_max = SS_S3_MAX_RESPONSE};
    int rc = do_request(s, &r);
    const char *f = NULL;
    if (rc == 0 && xml_tag(r.resp.data ? r.resp.data : "", &f, NULL, "UploadId", upload_id, SS_S3_MAX_UPLOAD_ID) != 0)
        rc = fail(s, SS_S3_ERR_PROTOCOL, "CreateMultipartUpload s3://%s/%s: no UploadId in the answer", bucket, key);
    req_done(&r);
    return rc;
}

static int upload_part_body(ss_s3 *s, const char *bucket, const char *key, const char *upload_id, int part_no,
                            const void *data, int fd, uint64_t off, size_t len, char etag[SS_S3_MAX_ETAG]) {
    if (check_key(s, bucket, key)) return -1;
    if (part_no < 1 || part_no > SS_S3_MAX_PARTS) return fail(s, SS_S3_ERR_LOCAL, "part number %d out of range", part_no);
    char pn[16], q[SS_S3_MAX_UPLOAD_ID * 3 + 64];
    snprintf(pn, sizeof pn, "%d", part_no);
    const char *kv[] = {"partNumber", pn, "uploadId", upload_id};
    if (build_query(q, sizeof q, kv, 2) != 0) return fail(s, SS_S3_ERR_LOCAL, "upload id too long");
    req r = {.method = "PUT", .bucket = bucket, .key = key, .query = q, .resp_max = SS_S3_MAX_RESPONSE};
    set_body(&r, data, fd, off, len);
    int rc = do_request(s, &r);
    if (rc == 0) {
        if (!r.etag[0]) rc = fail(s, SS_S3_ERR_PROTOCOL, "UploadPart s3://%s/%s: no ETag in the answer", bucket, key);
        else snprintf(etag, SS_S3_MAX_ETAG, "%s", r.etag);
    }
    req_done(&r);
    return rc;
}

int ss_s3_mp_upload_part(ss_s3 *s, const char *bucket, const char *key, const char *upload_id, int part_no,
                         const void *data, size_t len, char etag[SS_S3_MAX_ETAG]) {
    return upload_part_body(s, bucket, key, upload_id, part_no, data, -1, 0, len, etag);
}

int ss_s3_mp_complete(ss_s3 *s, const char *bucket, const char *key, const char *upload_id,
                      char (*etags)[SS_S3_MAX_ETAG], int nparts) {
    if (check_key(s, bucket, key)) return -1;
    char q[SS_S3_MAX_UPLOAD_ID * 3 + 64];
    const char *kv[] = {"uploadId", upload_id};
    if (build_query(q, sizeof q, kv, 1) != 0) return fail(s, SS_S3_ERR_LOCAL, "upload id too long");
    ss_buf b;
    ss_buf_init(&b);
    int bad = ss_buf_puts(&b, "<CompleteMultipartUpload>");
    for (int i = 0; i < nparts; i++) bad |= ss_buf_printf(&b, "<Part><PartNumber>%d</PartNumber><ETag>%s</ETag></Part>", i + 1, etags[i]);
    bad |= ss_buf_puts(&b, "</CompleteMultipartUpload>");
    if (bad) {
        ss_buf_free(&b);
        return fail(s, SS_S3_ERR_LOCAL, "out of memory");
    }
    req r = {.method = "POST", .bucket = bucket, .key = key, .query = q, .body = b.data, .blen = b.len, .has_body = 1,
             .content_type = "application/xml", .resp_max = SS_S3_MAX_RESPONSE};
    int rc = do_request(s, &r);
    /* S3 may answer 200 with an <Error> body when the completion failed late */
    if (rc == 0 && r.resp.data && strstr(r.resp.data, "<Error>")) {
        char code[128] = "";
        const char *f = NULL;
        xml_tag(r.resp.data, &f, NULL, "Code", code, sizeof code);
        rc = fail(s, SS_S3_ERR_SERVER, "CompleteMultipartUpload s3://%s/%s: %s", bucket, key, code);
    }
    req_done(&r);
    ss_buf_free(&b);
    return rc;
}

int ss_s3_mp_abort(ss_s3 *s, const char *bucket, const char *key, const char *upload_id) {
    if (check_key(s, bucket, key)) return -1;
    char q[SS_S3_MAX_UPLOAD_ID * 3 + 64];
    const char *kv[] = {"uploadId", upload_id};
    if (build_query(q, sizeof q, kv, 1) != 0) return fail(s, SS_S3_ERR_LOCAL, "upload id too long");
    req r = {.method = "DELETE", .bucket = bucket, .key = key, .query = q, .resp_max = SS_S3_MAX_RESPONSE};
    int rc = do_request(s, &r);
    if (rc != 0 && s->err == SS_S3_ERR_NOT_FOUND) rc = 0; /* NoSuchUpload: already gone */
    req_done(&r);
    return rc;
}

int ss_s3_mp_list(ss_s3 *s, const char *bucket, const char *prefix,
                  int (*fn)(void *ctx, const char *key, const char *upload_id), void *ctx) {
    char km[SS_S3_MAX_KEY + 1] = "", um[SS_S3_MAX_UPLOAD_ID] = "", q[8192], key[SS_S3_MAX_KEY + 1],
         id[SS_S3_MAX_UPLOAD_ID], trunc[16];
    for (;;) {
        const char *kv[] = {"key-marker", km[0] ? km : NULL, "prefix", prefix ? prefix : "", "upload-id-marker",
                            um[0] ? um : NULL, "uploads", ""};
        if (build_query(q, sizeof q, kv, 4) != 0) return fail(s, SS_S3_ERR_LOCAL, "list query too long");
        req r = {.method = "GET", .bucket = bucket, .key = "", .query = q, .resp_max = SS_S3_MAX_RESPONSE};
        if (do_request(s, &r) != 0) {
            req_done(&r);
            return -1;
        }
        const char *doc = r.resp.data ? r.resp.data : "", *p = doc;
        for (;;) {
            const char *c = strstr(p, "<Upload>");
            if (!c) break;
            const char *e = strstr(c, "</Upload>");
            if (!e) break;
            const char *f = c;
            int ok = xml_tag(doc, &f, e, "Key", key, sizeof key) == 0;
            f = c;
            ok = ok && xml_tag(doc, &f, e, "UploadId", id, sizeof id) == 0;
            if (!ok) {
                req_done(&r);
                return fail(s, SS_S3_ERR_PROTOCOL, "ListMultipartUploads s3://%s/%s: an entry without Key/UploadId",
                            bucket, prefix);
            }
            if (fn(ctx, key, id) != 0) {
                req_done(&r);
                return 0;
            }
            p = e + 9;
        }
        const char *f = NULL;
        trunc[0] = '\0';
        xml_tag(doc, &f, NULL, "IsTruncated", trunc, sizeof trunc);
        int more = !strcmp(trunc, "true");
        if (more) {
            f = NULL;
            more = xml_tag(doc, &f, NULL, "NextKeyMarker", km, sizeof km) == 0;
            f = NULL;
            if (xml_tag(doc, &f, NULL, "NextUploadIdMarker", um, sizeof um) != 0) um[0] = '\0';
        }
        req_done(&r);
        if (!more) return 0;
    }
}

/* ---- whole files ---------------------------------------------------------------------------- */

int ss_s3_upload_file(ss_s3 *s, const char *bucket, const char *key, const char *path, size_t part_size,
                      const char *meta_sha256, void (*on_part)(void *ctx, int part_no), void *ctx) {
    if (part_size < SS_S3_MIN_PART || part_size > SS_S3_MAX_PART)
        return fail(s, SS_S3_ERR_LOCAL, "s3-part-size must be %u KiB..%u MiB", SS_S3_MIN_PART >> 10, SS_S3_MAX_PART >> 20);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return fail(s, SS_S3_ERR_LOCAL, "cannot open %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return fail(s, SS_S3_ERR_LOCAL, "cannot stat %s: %s", path, strerror(errno));
    }
    uint64_t size = (uint64_t)st.st_size;
    if (size > (uint64_t)part_size * SS_S3_MAX_PARTS) {
        close(fd);
        return fail(s, SS_S3_ERR_LOCAL, "%s is larger than %d parts of s3-part-size", path, SS_S3_MAX_PARTS);
    }
    /* Bodies are read from the file as curl sends them (and once before, for the signed
     * hash): a part is never held in memory, so s3-part-size costs no RSS. */
    int rc = 0;
    if (size <= part_size) {
        rc = put_body(s, bucket, key, NULL, fd, 0, (size_t)size, meta_sha256);
    } else {
        char id[SS_S3_MAX_UPLOAD_ID];
        int nparts = (int)((size + part_size - 1) / part_size);
        char (*etags)[SS_S3_MAX_ETAG] = calloc((size_t)nparts, sizeof *etags);
        if (!etags) rc = fail(s, SS_S3_ERR_LOCAL, "out of memory");
        else rc = ss_s3_mp_create(s, bucket, key, meta_sha256, id);
        int created = rc == 0;
        for (int i = 0; i < nparts && rc == 0; i++) {
            uint64_t off = (uint64_t)i * part_size;
            size_t len = size - off < part_size ? (size_t)(size - off) : part_size;
            rc = upload_part_body(s, bucket, key, id, i + 1, NULL, fd, off, len, etags[i]);
            if (rc == 0 && on_part) on_part(ctx, i + 1);
        }
        if (rc == 0) rc = ss_s3_mp_complete(s, bucket, key, id, etags, nparts);
        if (rc != 0 && created) { /* keep the first error; a failed abort is cleaned by recovery */
            ss_s3_errcode e = s->err;
            char keep[sizeof s->errstr];
            memcpy(keep, s->errstr, sizeof keep);
            ss_s3_mp_abort(s, bucket, key, id);
            s->err = e;
            memcpy(s->errstr, keep, sizeof keep);
        }
        free(etags);
    }
    close(fd);
    return rc;
}

typedef struct {
    const char *key;
    char (*ids)[SS_S3_MAX_UPLOAD_ID];
    size_t n, cap;
    int oom;
} upl_list;

static int collect_upload(void *ctx, const char *key, const char *upload_id) {
    upl_list *l = ctx;
    if (strcmp(key, l->key) != 0) return 0;
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 4;
        if (nc > 4096) return 1; /* a bound: more uploads of one key are left for the next recovery */
        void *a = realloc(l->ids, nc * sizeof *l->ids);
        if (!a) return l->oom = 1, 1;
        l->ids = a;
        l->cap = nc;
    }
    snprintf(l->ids[l->n++], SS_S3_MAX_UPLOAD_ID, "%s", upload_id);
    return 0;
}

int ss_s3_delete_all(ss_s3 *s, const char *bucket, const char *key) {
    upl_list l = {.key = key};
    int rc = ss_s3_mp_list(s, bucket, key, collect_upload, &l);
    if (rc == 0 && l.oom) rc = fail(s, SS_S3_ERR_LOCAL, "out of memory");
    for (size_t i = 0; i < l.n && rc == 0; i++) rc = ss_s3_mp_abort(s, bucket, key, l.ids[i]);
    free(l.ids);
    if (rc == 0) rc = ss_s3_delete(s, bucket, key);
    return rc;
}

int ss_s3_probe(ss_s3 *s, const char *bucket, const char *prefix) {
    char key[SS_S3_MAX_KEY + 32], *body = NULL;
    size_t blen = 0;
    snprintf(key, sizeof key, "%s%s" SS_S3_PROBE_NAME, prefix, prefix[0] ? "/" : "");
    int rc = ss_s3_get(s, bucket, key, &body, &blen, 64u << 10);
    free(body);
    return rc == 0 || ss_s3_err(s) == SS_S3_ERR_NOT_FOUND ? 0 : -1;
}
