/* A small S3 client: the object operations the archive needs (PUT, GET, HEAD, DELETE,
 * LIST v2, multipart create/upload/complete/abort/list) against AWS S3 or any
 * S3-compatible store (R2, B2, MinIO, Ceph, s3rver), over libcurl with its built-in SigV4
 * signer (CURLOPT_AWS_SIGV4).
 *
 * Why it is built this way:
 *   - It knows nothing of Bluesky, Redis or the archive: bucket, key, bytes. The writer
 *     and the CLI put meaning on the keys.
 *   - One context is one connection (one curl easy handle) and is not thread-safe; a
 *     thread that uploads makes its own (ss_s3_new is cheap). Errors are carried in the
 *     context (ss_s3_err/ss_s3_errstr), as in hiredis; nothing here prints or exits.
 *   - curl's signer (7.88) signs what it is given, so the request is built the way S3
 *     canonicalizes it: every key segment percent-encoded the S3 way ('=' is %3D, ' ' is
 *     %20, '/' kept between segments), query parameters sorted with encoded values,
 *     `?uploads=` rather than `?uploads`, x-amz-content-sha256 computed here (OpenSSL),
 *     and no `Expect:` header (curl would sign it without sending it: a 403).
 *   - Every request body is a buffer in memory (at most one part, SS_S3_MAX_PART), so a
 *     retry resends exactly the same bytes. Throttling and server errors (500, 502, 503,
 *     504, SlowDown, InternalError, RequestTimeout) and broken connections are retried
 *     with exponential backoff and jitter; a 403 is a permission error naming the bucket
 *     and key, returned at once; RequestTimeTooSkewed says to fix the clock.
 *   - Credentials come from the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
 *     AWS_SESSION_TOKEN) or a credentials file of mode 0600/0640 (ss_s3_credentials_load);
 *     they are never part of an error message. */
#ifndef SS_OBJSTORE_S3_H
#define SS_OBJSTORE_S3_H

#include <stddef.h>
#include <stdint.h>

#define SS_S3_MAX_KEY 1024                /* S3's own limit on a key, in bytes */
#define SS_S3_MAX_BUCKET 63
#define SS_S3_MAX_URL 4096
#define SS_S3_MAX_SECRET 256               /* access key, secret key */
#define SS_S3_MAX_TOKEN 4096               /* session token */
#define SS_S3_MIN_PART (256u << 10)        /* our floor (s3rver, the tests' S3, takes small parts); AWS, R2, B2 and MinIO want every part but the last >= 5 MiB */
#define SS_S3_MAX_PART (512u << 20)        /* our bound on one request body in memory */
#define SS_S3_MAX_PARTS 10000              /* S3's limit on parts of one upload */
#define SS_S3_MAX_RESPONSE (8u << 20)      /* a response body kept in memory (XML, small GETs) */
#define SS_S3_MAX_UPLOAD_ID 1024
#define SS_S3_MAX_ETAG 128

typedef enum {
    SS_S3_OK = 0,
    SS_S3_ERR_IO,        /* network, after the retries */
    SS_S3_ERR_DENIED,    /* 403: credentials or policy */
    SS_S3_ERR_SKEW,      /* RequestTimeTooSkewed: the clock */
    SS_S3_ERR_NOT_FOUND, /* 404 */
    SS_S3_ERR_SERVER,    /* 5xx/throttling after the retries */
    SS_S3_ERR_PROTOCOL,  /* unexpected status or response */
    SS_S3_ERR_LOCAL,     /* a local file, memory, a bad argument */
} ss_s3_errcode;

typedef struct {
    char access_key[SS_S3_MAX_SECRET];
    char secret_key[SS_S3_MAX_SECRET];
    char session_token[SS_S3_MAX_TOKEN]; /* "" when none */
} ss_s3_credentials;

/* Fills c from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY[/AWS_SESSION_TOKEN], or else from
 * the credentials file: `file` when given, else $AWS_SHARED_CREDENTIALS_FILE, else
 * ~/.aws/credentials; profile $AWS_PROFILE or "default". A file readable or writable by
 * others than its owner and group, or writable by its group (mode beyond 0640), is refused.
 * Returns 0, or -1 with err saying what to fix (never a secret). */
int ss_s3_credentials_load(ss_s3_credentials *c, const char *file, char *err, size_t errlen);

typedef struct {
    const char *endpoint;      /* "http://127.0.0.1:9000"; NULL: https://s3.REGION.amazonaws.com */
    const char *region;        /* NULL: us-east-1 */
    int path_style;            /* 1: ENDPOINT/BUCKET/KEY; 0: BUCKET.HOST/KEY (virtual-hosted) */
    const char *storage_class; /* x-amz-storage-class on PUT/create; NULL: the bucket's default */
    const ss_s3_credentials *cred;
    long connect_timeout_ms;   /* default 10 s */
    long stall_ms;             /* a transfer making no progress this long is broken; default 60 s */
    int max_retries;           /* retries of one request; default 8 */
    long retry_base_ms;        /* first backoff; default 200 ms, doubling up to retry_cap_ms */
    long retry_cap_ms;         /* default 10 s */
} ss_s3_config;

typedef struct ss_s3 ss_s3;

/* Copies what it needs of cfg. Returns NULL with err set (bad endpoint, no memory). */
ss_s3 *ss_s3_new(const ss_s3_config *cfg, char *err, size_t errlen);
void ss_s3_free(ss_s3 *s);
ss_s3_errcode ss_s3_err(const ss_s3 *s);
const char *ss_s3_errstr(const ss_s3 *s);
/* Requests retried so far (for tests and metrics). */
uint64_t ss_s3_retries(const ss_s3 *s);

typedef struct {
    uint64_t size;
    char etag[SS_S3_MAX_ETAG];
    char sha256[65]; /* x-amz-meta-sha256, "" when absent */
} ss_s3_object;

/* meta_sha256 (64 hex digits or NULL) is stored as the object's x-amz-meta-sha256. */
int ss_s3_put(ss_s3 *s, const char *bucket, const char *key, const void *data, size_t len, const char *meta_sha256);
/* GET into a malloc'ed buffer (*out, *len; at most max bytes, else SS_S3_ERR_PROTOCOL). */
int ss_s3_get(ss_s3 *s, const char *bucket, const char *key, char **out, size_t *len, size_t max);
/* GET into a local file (created/truncated; removed on failure). */
int ss_s3_get_file(ss_s3 *s, const char *bucket, const char *key, const char *path);
/* 0 with info; -1 with SS_S3_ERR_NOT_FOUND when there is no such object. */
int ss_s3_head(ss_s3 *s, const char *bucket, const char *key, ss_s3_object *info);
/* Deleting an absent object succeeds (S3 semantics). */
int ss_s3_delete(ss_s3 *s, const char *bucket, const char *key);
/* Every object whose key starts with prefix, in key order (LIST v2, paged). fn returns 0
 * to go on, non-zero to stop (then this returns 0). */
int ss_s3_list(ss_s3 *s, const char *bucket, const char *prefix,
               int (*fn)(void *ctx, const char *key, uint64_t size), void *ctx);

int ss_s3_mp_create(ss_s3 *s, const char *bucket, const char *key, const char *meta_sha256,
                    char upload_id[SS_S3_MAX_UPLOAD_ID]);
int ss_s3_mp_upload_part(ss_s3 *s, const char *bucket, const char *key, const char *upload_id, int part_no,
                         const void *data, size_t len, char etag[SS_S3_MAX_ETAG]);
/* etags[i] is part i+1's. */
int ss_s3_mp_complete(ss_s3 *s, const char *bucket, const char *key, const char *upload_id,
                      char (*etags)[SS_S3_MAX_ETAG], int nparts);
int ss_s3_mp_abort(ss_s3 *s, const char *bucket, const char *key, const char *upload_id);
/* Every multipart upload in progress whose key starts with prefix (ListMultipartUploads, paged). */
int ss_s3_mp_list(ss_s3 *s, const char *bucket, const char *prefix,
                  int (*fn)(void *ctx, const char *key, const char *upload_id), void *ctx);

/* Uploads a local file to key: one PUT when it is at most part_size bytes, a multipart
 * upload of part_size parts above (part_size in SS_S3_MIN_PART..SS_S3_MAX_PART); the
 * multipart upload is aborted when it fails. on_part, when given, is called after each
 * part of a multipart upload is uploaded, before the completion (crash-point tests). Memory: one part. */
int ss_s3_upload_file(ss_s3 *s, const char *bucket, const char *key, const char *path, size_t part_size,
                      const char *meta_sha256, void (*on_part)(void *ctx, int part_no), void *ctx);
/* Checks credentials, region, clock and endpoint before any work: one GET of
 * PREFIX/.skyspool-probe, a key that need not exist (a GET, not a HEAD: a HEAD's error has no
 * body, so a skewed clock, RequestTimeTooSkewed, could not be told from a permission error).
 * Returns 0 (found or not), or -1 with the error in s. */
#define SS_S3_PROBE_NAME ".skyspool-probe"
int ss_s3_probe(ss_s3 *s, const char *bucket, const char *prefix);
/* Deletes key and aborts every multipart upload in progress of exactly that key. */
int ss_s3_delete_all(ss_s3 *s, const char *bucket, const char *key);

/* Splits "s3://BUCKET[/PREFIX]" (prefix without leading or trailing '/', may be "").
 * Returns 0, or -1 with err. */
int ss_s3_url_parse(const char *url, char *bucket, size_t blen, char *prefix, size_t plen, char *err, size_t errlen);
/* Appends the S3 encoding of a key (segments percent-encoded, '/' kept) to out. Returns
 * its length, or -1 when out is too small. Exposed for tests. */
int ss_s3_encode_key(const char *key, char *out, size_t outlen);

#endif
