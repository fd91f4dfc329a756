/* The S3 client's pure parts: key encoding (what SigV4 signs and S3 canonicalizes, checked
 * end to end against @smithy/signature-v4 by integration/write_s3), s3:// URLs, and the
 * credentials file's permission rule. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "objstore/s3.h"

static void test_encode_key(void **state) {
    (void)state;
    char out[256];
    assert_int_equal(ss_s3_encode_key("a/year=2025/month=8/x y+z~._-.parquet", out, sizeof out), 45);
    assert_string_equal(out, "a/year%3D2025/month%3D8/x%20y%2Bz~._-.parquet");
    assert_true(ss_s3_encode_key("\xc3\xa9", out, sizeof out) > 0);
    assert_string_equal(out, "%C3%A9");
    assert_int_equal(ss_s3_encode_key("==========", out, 10), -1); /* too small: refused, not cut */
}

static void test_url_parse(void **state) {
    (void)state;
    char b[64], p[512], err[256];
    assert_int_equal(ss_s3_url_parse("s3://my-bucket/bsky/v1/", b, sizeof b, p, sizeof p, err, sizeof err), 0);
    assert_string_equal(b, "my-bucket");
    assert_string_equal(p, "bsky/v1");
    assert_int_equal(ss_s3_url_parse("s3://my-bucket", b, sizeof b, p, sizeof p, err, sizeof err), 0);
    assert_string_equal(p, "");
    assert_int_equal(ss_s3_url_parse("s3://My_Bucket/x", b, sizeof b, p, sizeof p, err, sizeof err), -1);
    assert_int_equal(ss_s3_url_parse("/data/archive", b, sizeof b, p, sizeof p, err, sizeof err), -1);
    assert_int_equal(ss_s3_url_parse("s3://ab", b, sizeof b, p, sizeof p, err, sizeof err), -1);
}

static void test_credentials_file(void **state) {
    (void)state;
    char path[] = "/tmp/ss-s3-cred-XXXXXX", err[512];
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *text = "[other]\naws_access_key_id = A1\naws_secret_access_key = S1\n"
                       "[default]\naws_access_key_id = AK\naws_secret_access_key = SECRETVALUE\n";
    assert_int_equal(write(fd, text, strlen(text)), (int)strlen(text));
    close(fd);
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    unsetenv("AWS_PROFILE");
    ss_s3_credentials c;
    chmod(path, 0600);
    assert_int_equal(ss_s3_credentials_load(&c, path, err, sizeof err), 0);
    assert_string_equal(c.access_key, "AK");
    assert_string_equal(c.secret_key, "SECRETVALUE");
    chmod(path, 0640);
    assert_int_equal(ss_s3_credentials_load(&c, path, err, sizeof err), 0);
    chmod(path, 0644);
    assert_int_equal(ss_s3_credentials_load(&c, path, err, sizeof err), -1);
    assert_non_null(strstr(err, "chmod 600"));
    assert_null(strstr(err, "SECRETVALUE"));
    chmod(path, 0660);
    assert_int_equal(ss_s3_credentials_load(&c, path, err, sizeof err), -1);
    setenv("AWS_ACCESS_KEY_ID", "EK", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "ES", 1);
    assert_int_equal(ss_s3_credentials_load(&c, path, err, sizeof err), 0); /* the environment comes first */
    assert_string_equal(c.access_key, "EK");
    unlink(path);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_encode_key), cmocka_unit_test(test_url_parse),
                                       cmocka_unit_test(test_credentials_file)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
