/* Fuzz target: the Parquet footer reader (ss_pq_footer_parse / ss_pq_footer_read_fd,
 * src/parquet/footer.h), which `skyspool verify` runs on every file of an archive.
 *
 * The first byte picks a mode:
 *   even: the rest is a footer as it is (hostile bytes);
 *   odd:  the rest drives an encoder (the writer's own Thrift compact encoder, thrift.c)
 *         that builds a valid FileMetaData: a schema of k elements, n row groups with
 *         chosen row counts, key/value metadata, unknown fields of every type, which must
 *         decode to exactly those counts.
 * Checked either way:
 *   - the two APIs agree: the bytes framed as a file (PAR1, footer, length, PAR1) in a
 *     memfd read by ss_pq_footer_read_fd give the result and counts ss_pq_footer_parse gave;
 *   - an accepted footer is consistent: num_rows >= 0, num_rows == the row groups' sum,
 *     row groups within SS_PQ_FOOTER_MAX_ROW_GROUPS; a refused one comes with a message. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "parquet/footer.h"
#include "parquet/pq_internal.h"

#define CHECK(c, ...)                                                           \
    do {                                                                        \
        if (!(c)) {                                                             \
            fprintf(stderr, "fuzz_parquet_footer: invariant failed: %s: ", #c); \
            fprintf(stderr, __VA_ARGS__);                                       \
            fprintf(stderr, "\n");                                              \
            abort();                                                            \
        }                                                                       \
    } while (0)

typedef struct {
    const uint8_t *p;
    size_t n;
} rd;
static uint8_t byte(rd *r) {
    if (!r->n) return 0;
    r->n--;
    return *r->p++;
}

static int memfd = -1;
static unsigned long n_ok, n_bad, n_built;
static void report(void) {
    fprintf(stderr, "fuzz_parquet_footer: %lu footers accepted (%lu built), %lu refused\n", n_ok, n_built, n_bad);
}

/* Builds a FileMetaData from the input; returns the expected counts. */
static void build(rd *r, ss_pqbuf *b, int64_t *rows, uint64_t *rgs, uint64_t *schema) {
    ss_tc t;
    ss_tc_init(&t, b);
    ss_tc_i32(&t, 1, 1 + byte(r) % 2);
    size_t k = 1 + byte(r) % 20;
    ss_tc_list_begin(&t, 2, SS_TC_STRUCT, k);
    for (size_t i = 0; i < k; i++) {
        ss_tc_elem_struct_begin(&t);
        if (byte(r) & 1) ss_tc_i32(&t, 1, byte(r));
        ss_tc_binary(&t, 4, "col", 3);
        if (byte(r) & 1) ss_tc_i32(&t, 6, byte(r)); /* converted_type */
        ss_tc_struct_end(&t);
    }
    size_t n = byte(r) % 40;
    int64_t sum = 0;
    int64_t per[40];
    for (size_t i = 0; i < n; i++) {
        per[i] = (int64_t)byte(r) << (byte(r) % 40);
        sum += per[i];
    }
    ss_tc_i64(&t, 3, sum);
    ss_tc_list_begin(&t, 4, SS_TC_STRUCT, n);
    for (size_t i = 0; i < n; i++) {
        ss_tc_elem_struct_begin(&t);
        ss_tc_list_begin(&t, 1, SS_TC_STRUCT, 1); /* one column chunk */
        ss_tc_elem_struct_begin(&t);
        ss_tc_i64(&t, 2, byte(r)); /* file_offset */
        ss_tc_struct_end(&t);
        ss_tc_i64(&t, 2, byte(r)); /* total_byte_size */
        ss_tc_i64(&t, 3, per[i]);
        if (byte(r) & 1) ss_tc_bool(&t, 20, byte(r) & 1); /* an unknown field, long-form id */
        ss_tc_struct_end(&t);
    }
    size_t kv = byte(r) % 4;
    ss_tc_list_begin(&t, 5, SS_TC_STRUCT, kv);
    for (size_t i = 0; i < kv; i++) {
        ss_tc_elem_struct_begin(&t);
        ss_tc_binary(&t, 1, "k", 1);
        size_t vl = byte(r) % 32;
        ss_tc_binary(&t, 2, r->p, vl < r->n ? vl : r->n);
        ss_tc_struct_end(&t);
    }
    ss_tc_binary(&t, 6, "fuzz", 4);
    ss_tc_struct_end(&t);
    *rows = sum;
    *rgs = n;
    *schema = k;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (memfd < 0) {
        if ((memfd = memfd_create("fuzz-footer", 0)) < 0) abort();
        atexit(report);
    }
    rd r = {data, size};
    int built = byte(&r) & 1;
    ss_pqbuf b = {0};
    int64_t want_rows = 0;
    uint64_t want_rgs = 0, want_schema = 0;
    const uint8_t *foot = r.p;
    size_t flen = r.n;
    if (built) {
        build(&r, &b, &want_rows, &want_rgs, &want_schema);
        if (b.oom) return 0;
        foot = b.p;
        flen = b.len;
    }
    ss_pq_footer a, c;
    char ea[256] = "", ec[256] = "";
    int ra = ss_pq_footer_parse(foot, flen, &a, ea, sizeof ea);
    if (ra == 0) {
        n_ok++;
        CHECK(a.num_rows >= 0 && a.num_rows == a.rg_rows, "num_rows %lld, row groups %lld", (long long)a.num_rows,
              (long long)a.rg_rows);
        CHECK(a.row_groups <= SS_PQ_FOOTER_MAX_ROW_GROUPS, "%llu row groups", (unsigned long long)a.row_groups);
        CHECK(a.footer_bytes == flen, "footer_bytes %llu of %zu", (unsigned long long)a.footer_bytes, flen);
    } else {
        n_bad++;
        CHECK(ea[0], "refused without a message");
    }
    if (built) {
        n_built++;
        CHECK(ra == 0, "a built footer was refused: %s", ea);
        CHECK(a.num_rows == want_rows && a.row_groups == want_rgs && a.schema_elems == want_schema,
              "decoded %lld rows / %llu groups / %llu schema, built %lld / %llu / %llu", (long long)a.num_rows,
              (unsigned long long)a.row_groups, (unsigned long long)a.schema_elems, (long long)want_rows,
              (unsigned long long)want_rgs, (unsigned long long)want_schema);
    }
    /* the same bytes as a file */
    if (ftruncate(memfd, 0) != 0 || lseek(memfd, 0, SEEK_SET) != 0) abort();
    uint8_t len4[4] = {(uint8_t)flen, (uint8_t)(flen >> 8), (uint8_t)(flen >> 16), (uint8_t)(flen >> 24)};
    if (write(memfd, "PAR1", 4) != 4 || (flen && write(memfd, foot, flen) != (ssize_t)flen) ||
        write(memfd, len4, 4) != 4 || write(memfd, "PAR1", 4) != 4)
        abort();
    int rc = ss_pq_footer_read_fd(memfd, &c, ec, sizeof ec);
    if (flen == 0) {
        CHECK(rc != 0, "an empty footer was read");
    } else {
        CHECK(rc == ra, "parse says %d (%s), read_fd says %d (%s)", ra, ea, rc, ec);
        if (rc == 0)
            CHECK(c.num_rows == a.num_rows && c.row_groups == a.row_groups && c.schema_elems == a.schema_elems &&
                      c.file_bytes == flen + 12,
                  "read_fd disagrees with parse");
    }
    ss_pqbuf_free(&b);
    return 0;
}
