/* fh_cbor_choice: why the firehose decoder has its own DAG-CBOR reader instead of libcbor.
 *
 *   fh_cbor_choice FRAMES_FILE [--runs N]
 *
 * Loads a (plain) frames file into memory and times, per pass over all frames, CPU time only:
 *   - skyspool's strict reader walking each frame's header and body (ss_fh_skip: every head,
 *     length and nesting checked, CID links parsed), and then every record block of each
 *     commit (located through the CAR index);
 *   - libcbor 0.8's streaming decoder (cbor_stream_decode, empty callbacks) over exactly
 *     the same bytes: the header and body, and the same record blocks;
 *   - the whole decoder (ss_fh_decode: parse, CAR index, sha-256 of used blocks, JSON out).
 * Runs are interleaved; the median is printed as one Markdown table row per reader. */
#include <cbor.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "source/firehose/fh_decode.h"
#include "source/firehose/fh_internal.h"
#include "frames/frames.h"

typedef struct {
    const uint8_t *p;
    size_t n;
} span;

static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* libcbor: decode items until n bytes are consumed; returns items, or -1 on error. */
static long libcbor_walk(const uint8_t *p, size_t n) {
    long items = 0;
    size_t off = 0;
    while (off < n) {
        struct cbor_decoder_result r = cbor_stream_decode(p + off, n - off, &cbor_empty_callbacks, NULL);
        if (r.status != CBOR_DECODER_FINISHED || r.read == 0) return -1;
        off += r.read;
        items++;
    }
    return items;
}

static long strict_walk(const uint8_t *p, size_t n) {
    ss_fh_rd r;
    ss_fh_rd_init(&r, p, n, NULL, 0);
    long items = 0;
    while (r.p < r.end) {
        if (ss_fh_skip(&r, 64)) return -1;
        items++;
    }
    return items;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: fh_cbor_choice FRAMES_FILE [--runs N]\n");
        return 2;
    }
    int runs = 5;
    if (argc >= 4 && !strcmp(argv[2], "--runs")) runs = atoi(argv[3]);
    if (runs < 1 || runs > 50) runs = 5;
    char err[300];
    ss_frames_reader *rd = ss_frames_reader_open(argv[1], 0, err, sizeof err);
    if (!rd) {
        fprintf(stderr, "fh_cbor_choice: %s\n", err);
        return 1;
    }
    /* copy all frames, and find the record blocks of each commit with the CAR index */
    span *frames = NULL, *records = NULL;
    size_t nf = 0, nr = 0, capf = 0, capr = 0, bytes = 0, rbytes = 0;
    const uint8_t *fp;
    size_t fl;
    ss_fh_car car = {0};
    while (ss_frames_reader_next(rd, &fp, &fl) == SS_FRAMES_OK) {
        uint8_t *copy = malloc(fl ? fl : 1);
        memcpy(copy, fp, fl);
        if (nf == capf) capf = capf ? capf * 2 : 1024, frames = realloc(frames, capf * sizeof *frames);
        frames[nf++] = (span){copy, fl};
        bytes += fl;
        /* header, body: find "ops" and "blocks", index the CAR, look each op's record up */
        ss_fh_rd r;
        ss_fh_rd_init(&r, copy, fl, NULL, 0);
        uint64_t n;
        const uint8_t *ops_at = NULL, *cb = NULL;
        size_t cl = 0;
        if (ss_fh_skip(&r, 8) || ss_fh_map(&r, &n)) continue;
        for (uint64_t i = 0; i < n; i++) {
            const char *k;
            size_t kn;
            if (ss_fh_text(&r, &k, &kn)) break;
            if (kn == 3 && !memcmp(k, "ops", 3)) ops_at = r.p;
            if (kn == 6 && !memcmp(k, "blocks", 6)) {
                if (ss_fh_bytes(&r, &cb, &cl)) break;
            } else if (ss_fh_skip(&r, 64)) {
                break;
            }
        }
        if (!ops_at || !cb) continue;
        ss_fh_rd cr;
        ss_fh_rd_init(&cr, cb, cl, NULL, 0);
        if (ss_fh_car_index(&car, cb, cl, 100000, &cr)) continue;
        r.p = ops_at;
        uint64_t nops;
        if (ss_fh_array(&r, &nops)) continue;
        for (uint64_t o = 0; o < nops; o++) {
            uint64_t nk;
            if (ss_fh_map(&r, &nk)) break;
            for (uint64_t i = 0; i < nk; i++) {
                const char *k;
                size_t kn;
                const uint8_t *cid;
                size_t cidl;
                if (ss_fh_text(&r, &k, &kn)) break;
                if (kn == 3 && !memcmp(k, "cid", 3) && !ss_fh_take_null(&r)) {
                    if (ss_fh_link(&r, &cid, &cidl)) break;
                    const ss_fh_block *blk = ss_fh_car_find(&car, cid, cidl);
                    if (blk) {
                        if (nr == capr) capr = capr ? capr * 2 : 1024, records = realloc(records, capr * sizeof *records);
                        records[nr++] = (span){blk->data, blk->data_len};
                        rbytes += blk->data_len;
                    }
                } else if (ss_fh_skip(&r, 64)) {
                    break;
                }
            }
        }
    }
    ss_frames_reader_close(rd);
    ss_fh_car_free(&car);
    if (!nf) {
        fprintf(stderr, "fh_cbor_choice: no frames in %s\n", argv[1]);
        return 1;
    }
    double *ts[3];
    for (int k = 0; k < 3; k++) ts[k] = calloc((size_t)runs, sizeof(double));
    ss_fh_decoder *d = ss_fh_decoder_new(NULL);
    long sink = 0;
    for (int run = 0; run < runs; run++) {
        double t0 = cpu_now();
        for (size_t i = 0; i < nf; i++) sink += strict_walk(frames[i].p, frames[i].n);
        for (size_t i = 0; i < nr; i++) sink += strict_walk(records[i].p, records[i].n);
        double t1 = cpu_now();
        for (size_t i = 0; i < nf; i++) sink += libcbor_walk(frames[i].p, frames[i].n);
        for (size_t i = 0; i < nr; i++) sink += libcbor_walk(records[i].p, records[i].n);
        double t2 = cpu_now();
        for (size_t i = 0; i < nf; i++) sink += ss_fh_decode(d, frames[i].p, frames[i].n);
        double t3 = cpu_now();
        ts[0][run] = t1 - t0, ts[1][run] = t2 - t1, ts[2][run] = t3 - t2;
    }
    const ss_fh_stats *st = ss_fh_stats_get(d);
    double med[3];
    for (int k = 0; k < 3; k++) {
        qsort(ts[k], (size_t)runs, sizeof(double), cmp_d);
        med[k] = ts[k][runs / 2];
    }
    static const char *const names[] = {
        "skyspool strict DAG-CBOR reader (ss_fh_skip): header + body + records",
        "libcbor 0.8 cbor_stream_decode, empty callbacks: same bytes",
        "skyspool full decode (ss_fh_decode: + CAR index, sha-256, JSON)",
    };
    printf("<!-- frames=%zu bytes=%zu records=%zu record_bytes=%zu events=%llu rejects=%llu sink=%ld -->\n", nf, bytes, nr,
           rbytes, (unsigned long long)(st->events / (unsigned)runs), (unsigned long long)(st->rejects / (unsigned)runs), sink);
    for (int k = 0; k < 3; k++)
        printf("| %s | %.3f | %.0f | %.0f | %.2fx |\n", names[k], med[k], (double)nf / med[k],
               (double)(bytes + (k < 2 ? rbytes : 0)) / med[k] / 1e6, med[1] / med[k]);
    ss_fh_decoder_free(d);
    for (size_t i = 0; i < nf; i++) free((void *)frames[i].p);
    free(frames);
    free(records);
    for (int k = 0; k < 3; k++) free(ts[k]);
    return 0;
}
