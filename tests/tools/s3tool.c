/* s3tool: drives the S3 client of src/objstore/s3.h one operation at a time, so that
 * tests/integration/s3_client.sh can check each request against the verifying proxy
 * (tests/js/s3proxy.mjs) with the same code the writer uses. Credentials come from the
 * environment as for skyspool. Exit 0 on success, 1 with the error on stderr.
 *
 *   s3tool ENDPOINT BUCKET put KEY FILE | get KEY FILE | head KEY | delete KEY | list PREFIX
 *          | upload KEY FILE PART_MB | mpcreate KEY | mpabort KEY ID | mplist PREFIX | delall KEY */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "objstore/s3.h"

static int on_obj(void *ctx, const char *key, uint64_t size) {
    (void)ctx;
    printf("%s %llu\n", key, (unsigned long long)size);
    return 0;
}

static int on_upl(void *ctx, const char *key, const char *id) {
    (void)ctx;
    printf("%s %s\n", key, id);
    return 0;
}

static char *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long l = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)l + 1);
    if (b && fread(b, 1, (size_t)l, f) != (size_t)l) {
        free(b);
        b = NULL;
    }
    fclose(f);
    *n = (size_t)l;
    return b;
}

int main(int argc, char **argv) {
    if (argc < 5) {
        fprintf(stderr, "usage: s3tool ENDPOINT BUCKET OP ARGS...\n");
        return 2;
    }
    char err[1024];
    ss_s3_credentials cred;
    if (ss_s3_credentials_load(&cred, getenv("S3TOOL_CREDENTIALS"), err, sizeof err) != 0) {
        fprintf(stderr, "s3tool: %s\n", err);
        return 1;
    }
    ss_s3_config cfg = {.endpoint = argv[1], .region = getenv("S3TOOL_REGION"), .path_style = 1, .cred = &cred,
                        .stall_ms = getenv("S3TOOL_STALL_MS") ? atol(getenv("S3TOOL_STALL_MS")) : 0,
                        .max_retries = getenv("S3TOOL_RETRIES") ? atoi(getenv("S3TOOL_RETRIES")) : 0,
                        .retry_base_ms = 50,
                        .storage_class = getenv("S3TOOL_STORAGE_CLASS")};
    ss_s3 *s = ss_s3_new(&cfg, err, sizeof err);
    if (!s) {
        fprintf(stderr, "s3tool: %s\n", err);
        return 1;
    }
    const char *b = argv[2], *op = argv[3], *k = argv[4];
    int rc = -1;
    if (!strcmp(op, "put") && argc > 5) {
        size_t n;
        char *d = slurp(argv[5], &n);
        if (d) rc = ss_s3_put(s, b, k, d, n, getenv("S3TOOL_SHA256"));
        free(d);
    } else if (!strcmp(op, "get") && argc > 5) {
        rc = ss_s3_get_file(s, b, k, argv[5]);
    } else if (!strcmp(op, "head")) {
        ss_s3_object o;
        rc = ss_s3_head(s, b, k, &o);
        if (rc == 0) printf("size=%llu sha256=%s\n", (unsigned long long)o.size, o.sha256[0] ? o.sha256 : "-");
    } else if (!strcmp(op, "delete")) {
        rc = ss_s3_delete(s, b, k);
    } else if (!strcmp(op, "list")) {
        rc = ss_s3_list(s, b, k, on_obj, NULL);
    } else if (!strcmp(op, "upload") && argc > 6) {
        rc = ss_s3_upload_file(s, b, k, argv[5], (size_t)atol(argv[6]) << 20, getenv("S3TOOL_SHA256"), NULL, NULL);
    } else if (!strcmp(op, "mpcreate")) {
        char id[SS_S3_MAX_UPLOAD_ID];
        rc = ss_s3_mp_create(s, b, k, NULL, id);
        if (rc == 0) printf("%s\n", id);
    } else if (!strcmp(op, "mpabort") && argc > 5) {
        rc = ss_s3_mp_abort(s, b, k, argv[5]);
    } else if (!strcmp(op, "mplist")) {
        rc = ss_s3_mp_list(s, b, k, on_upl, NULL);
    } else if (!strcmp(op, "delall")) {
        rc = ss_s3_delete_all(s, b, k);
    } else {
        fprintf(stderr, "s3tool: unknown operation %s\n", op);
        ss_s3_free(s);
        return 2;
    }
    if (rc != 0) fprintf(stderr, "s3tool: %s\n", ss_s3_errstr(s));
    fprintf(stderr, "s3tool: retries=%llu\n", (unsigned long long)ss_s3_retries(s));
    ss_s3_free(s);
    return rc == 0 ? 0 : 1;
}
