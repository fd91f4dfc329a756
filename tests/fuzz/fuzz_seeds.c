/* Writes the generated seed corpora of the fuzz targets, at test time.
 *
 *   fuzz_seeds OUTDIR [SAMPLES_DIR]
 *
 * creates OUTDIR/<target>/ for json, event, file_source, firehose, frames, parquet_writer and
 * parquet_reader (small files the Parquet writer makes, with every codec, and writer programs), from
 * real Jetstream events (the .jsonl files of SAMPLES_DIR, the shared samples; optional), events of the
 * synthetic generator (good, duplicated and malformed lines) and frames built by the
 * test-side firehose encoder. Nothing generated is committed: the hand-written seeds in
 * tests/fuzz/seeds/<target>/ complement these. Files are named by a hash of their content,
 * so rerunning writes the same corpus. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "event/event.h"
#include "fh_encode.h"
#include "parquet/parquet.h"
#include "source/source.h"
#include "util/buf.h"
#include "util/json.h"

static const char *outdir;
static size_t written;

static void put(const char *target, const void *p, size_t n) {
    char path[4096];
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) h = (h ^ ((const uint8_t *)p)[i]) * 1099511628211ULL;
    snprintf(path, sizeof path, "%s/%s", outdir, target);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/%s/%016llx", outdir, target, (unsigned long long)h);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
        fprintf(stderr, "fuzz_seeds: cannot write %s\n", path);
        exit(1);
    }
    written++;
}

static void put_prefixed(const char *target, char prefix, const void *p, size_t n) {
    char *b = malloc(n + 1);
    if (!b) abort();
    b[0] = prefix;
    memcpy(b + 1, p, n);
    put(target, b, n + 1);
    free(b);
}

/* ---- lines ---- */
static char **lines;
static size_t *lens, nlines;

static void add_line(const char *p, size_t n) {
    lines = realloc(lines, (nlines + 1) * sizeof *lines);
    lens = realloc(lens, (nlines + 1) * sizeof *lens);
    if (!lines || !lens || !(lines[nlines] = malloc(n + 1))) abort();
    memcpy(lines[nlines], p, n);
    lines[nlines][n] = 0;
    lens[nlines++] = n;
}

static void read_samples(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "fuzz_seeds: no samples in %s (continuing with synthetic events)\n", dir);
        return;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t nl = strlen(e->d_name);
        if (nl < 7 || strcmp(e->d_name + nl - 6, ".jsonl")) continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "rb");
        if (!f) continue;
        char *line = NULL;
        size_t cap = 0;
        ssize_t r;
        while ((r = getline(&line, &cap, f)) > 0) {
            while (r > 0 && (line[r - 1] == '\n' || line[r - 1] == '\r')) r--;
            if (r > 0) add_line(line, (size_t)r);
        }
        free(line);
        fclose(f);
    }
    closedir(d);
}

static void read_synth(const char *args) {
    char spec[256], err[256];
    snprintf(spec, sizeof spec, "synth:%s", args);
    ss_source *s = ss_source_open(spec, NULL, err, sizeof err, NULL);
    if (!s) {
        fprintf(stderr, "fuzz_seeds: %s: %s\n", spec, err);
        exit(1);
    }
    ss_source_msg m;
    while (ss_source_next(s, &m, 1000) == SS_SOURCE_MSG)
        if (m.len < 65536) add_line(m.data, m.len);
    ss_source_close(s);
}

/* ---- firehose ---- */
static ss_buf frames_file; /* every frame, as a frames file (u32 LE length + bytes) */
static size_t frame_ends[4096], nframes;

static void frame_cb(void *ud, const uint8_t *frame, size_t len) {
    (void)ud;
    put("firehose", frame, len);
    uint8_t le[4] = {(uint8_t)len, (uint8_t)(len >> 8), (uint8_t)(len >> 16), (uint8_t)(len >> 24)};
    ss_buf_append(&frames_file, le, 4);
    ss_buf_append(&frames_file, frame, len);
    if (nframes < 4096) frame_ends[nframes++] = frames_file.len;
}

/* frames: flags byte + a run of consecutive frames of the recording (sometimes cut). */
static void frames_seeds(void) {
    uint64_t s = 777;
    for (int k = 0; k < 40 && nframes; k++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        size_t first = (size_t)(s >> 33) % nframes, count = 1 + (size_t)(s >> 20) % 6;
        if (first + count > nframes) count = nframes - first;
        size_t from = first ? frame_ends[first - 1] : 0, to = frame_ends[first + count - 1];
        if (k % 5 == 4 && to - from > 8) to -= 1 + (size_t)(s >> 50) % 8; /* cut short */
        uint8_t flags = (uint8_t)((s >> 56) | 2); /* limits that take real frames */
        put_prefixed("frames", (char)flags, frames_file.data + from, to - from);
    }
}

static void firehose_seeds(void) {
    fhe_conv *c = fhe_conv_new(frame_cb, NULL, 200, 7);
    char err[256];
    ss_decoder *dec = ss_decoder_new(NULL);
    ss_event ev;
    size_t records = 0;
    for (size_t i = 0; i < nlines; i++) {
        if (ss_decode(dec, lines[i], lens[i], &ev) != SS_DECODE_OK) continue;
        fhe_conv_line(c, lines[i], lens[i], err, sizeof err); /* unconvertible lines are skipped */
        if (ev.record.p && records < 40) {
            ss_buf cbor;
            ss_buf_init(&cbor);
            if (fhe_json_record_to_cbor(&cbor, ev.record.p, ev.record.n, err, sizeof err) == 0) {
                put_prefixed("firehose", 'R', cbor.data, cbor.len);
                records++;
            }
            ss_buf_free(&cbor);
        }
    }
    fhe_conv_free(c);
    ss_decoder_free(dec);

    ss_buf f;
    ss_buf_init(&f);
    fhe_identity_frame(&f, 101, "did:plc:abcdefghijklmnopqrstuvwx", "2026-05-25T14:23:29.950Z", "alice.example.com");
    put("firehose", f.data, f.len);
    ss_buf_reset(&f);
    fhe_account_frame(&f, 102, "did:plc:abcdefghijklmnopqrstuvwx", "2026-05-25T14:23:29.950Z", 0, "takendown");
    put("firehose", f.data, f.len);
    ss_buf_reset(&f);
    fhe_sync_frame(&f, 103, "did:plc:abcdefghijklmnopqrstuvwx", "3lbcdefghijk2", "2026-05-25T14:23:29Z");
    put("firehose", f.data, f.len);
    ss_buf_reset(&f);
    fhe_info_frame(&f, "OutdatedCursor", "cursor too old");
    put("firehose", f.data, f.len);
    ss_buf_reset(&f);
    fhe_error_frame(&f, "FutureCursor", "cursor in the future");
    put("firehose", f.data, f.len);
    ss_buf_reset(&f);
    fhe_commit c2 = {.seq = 104, .repo = "did:plc:abcdefghijklmnopqrstuvwx", .rev = "3lbcdefghijk2",
                     .time = "2026-05-25T14:23:29.950Z", .too_big = 1};
    fhe_commit_frame(&f, &c2);
    put("firehose", f.data, f.len);
    ss_buf_free(&f);

    /* Structured commits ('C'): flags, seq (2 bytes), repo, rev, time, nops, then per op an
     * action byte, a path and record JSON, fields separated by NUL. */
    static const char structured[][400] = {
        "\x00\x01\x02"
        "did:plc:abcdefghijklmnopqrstuvwx\0" "3lbcdefghijk2\0" "2026-05-25T14:23:29.950Z\0" "\x02"
        "\x00" "app.bsky.feed.post/3lbcdefghijk2\0"
        "{\"$type\":\"app.bsky.feed.post\",\"text\":\"hello\",\"createdAt\":\"2026-05-25T14:23:29.950Z\",\"langs\":[\"en\"]}\0"
        "\x02" "app.bsky.feed.like/3lbcdefghijk3\0\0",
        "\x01\x00\x07"
        "did:web:example.com\0" "3lbcdefghijk4\0" "2026-05-25T14:23:29Z\0" "\x01"
        "\x01" "app.bsky.graph.follow/3lbcdefghijk5\0"
        "{\"$type\":\"app.bsky.graph.follow\",\"subject\":\"did:plc:x\",\"createdAt\":\"2026-05-25T14:23:29Z\"}\0",
    };
    static const size_t structured_len[] = {sizeof structured[0], sizeof structured[1]};
    for (size_t i = 0; i < 2; i++) {
        /* the literal holds NULs; its length is up to the last record's terminator */
        size_t n = structured_len[i];
        while (n > 0 && structured[i][n - 1] == 0 && structured[i][n - 2] == 0) n--;
        put_prefixed("firehose", 'C', structured[i], n);
    }
}

/* ---- file: source ---- */
static void file_seeds(void) {
    uint64_t s = 12345;
    for (int k = 0; k < 24 && nlines; k++) {
        ss_buf b;
        ss_buf_init(&b);
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        uint8_t flags = (uint8_t)(s >> 56);
        if (k < 8) flags = (uint8_t)((flags & ~7) | 4 | (k & 3)); /* some with limits that take real lines */
        ss_buf_putc(&b, (char)flags);
        size_t count = 1 + (s >> 20) % 5;
        for (size_t j = 0; j < count; j++) {
            size_t li = (size_t)((s >> (8 + j * 5)) % nlines);
            if (lens[li] > 3000) continue;
            ss_buf_append(&b, lines[li], lens[li]);
            ss_buf_puts(&b, (k + j) % 3 == 0 ? "\r\n" : (k + j) % 7 == 0 ? "\n\n \t\n" : "\n");
        }
        if (k % 4 == 1 && b.len > 2) b.len--; /* a last line without newline */
        put("file_source", b.data, b.len);
        ss_buf_free(&b);
    }
    put("file_source", "\x0c{\"a\":1}\r\n\r\n   \n{\"b\":2}", 24);
}

/* ---- parquet writer programs ---- */
static void parquet_seeds(void) {
    uint64_t s = 99;
    for (int k = 0; k < 16; k++) {
        uint8_t prog[512];
        size_t n = 64 + (size_t)k * 24;
        for (size_t i = 0; i < n; i++) {
            s = s * 6364136223846793005ULL + 1442695040888963407ULL;
            prog[i] = (uint8_t)(s >> 56);
        }
        put("parquet_writer", prog, n);
    }
}

/* ---- parquet reader: real files (mode byte 0) and writer programs (mode byte 1) ---- */
static void parquet_reader_seeds(void) {
    static const ss_pq_column cols[] = {{"i", SS_PQ_INT64, 0, 0, 0}, {"s", SS_PQ_STRING, 1, 1, 0}, {"l", SS_PQ_STRING_LIST, 1, 0, 0},
                                        {"b", SS_PQ_BOOLEAN, 1, 0, 0}, {"t", SS_PQ_TIMESTAMP_MICROS, 1, 0, 0}};
    char path[4096];
    snprintf(path, sizeof path, "%s/.pq-seed.parquet", outdir);
    for (int k = 0; k < 6; k++) {
        ss_pq_options o;
        ss_pq_options_init(&o);
        o.fsync = 0;
        o.codec = (ss_pq_codec)(k % 3);
        o.delta_int64 = k >= 3;
        o.row_group_rows = 5 + (size_t)k;
        o.page_bytes = 64;
        ss_pq_writer *w = ss_pq_open(path, cols, 5, &o);
        if (!w) continue;
        for (int i = 0; i < 12; i++) {
            ss_pq_set_int64(w, 0, 1754524800000000LL + i * 977);
            if (i % 3) ss_pq_set_string(w, 1, i % 2 ? "like" : "post", 4);
            if (i % 4) {
                ss_pq_list_begin(w, 2);
                for (int j = 0; j < i % 4 - 1; j++) ss_pq_list_add(w, 2, "en", 2);
            }
            if (i % 5) ss_pq_set_bool(w, 3, i & 1);
            if (i % 2) ss_pq_set_int64(w, 4, 1700000000000000LL + i);
            ss_pq_end_row(w);
        }
        char err[256];
        if (ss_pq_close(w, NULL, err, sizeof err) != 0) continue;
        FILE *f = fopen(path, "rb");
        if (!f) continue;
        uint8_t buf[1 << 16];
        buf[0] = 0;
        size_t n = fread(buf + 1, 1, sizeof buf - 1, f);
        fclose(f);
        put("parquet_reader", buf, n + 1);
    }
    unlink(path);
    uint64_t s = 7;
    for (int k = 0; k < 12; k++) {
        uint8_t prog[600];
        size_t n = 80 + (size_t)k * 40;
        for (size_t i = 0; i < n; i++) {
            s = s * 6364136223846793005ULL + 1442695040888963407ULL;
            prog[i] = (uint8_t)(s >> 56);
        }
        prog[0] = 1;
        put("parquet_reader", prog, n);
    }
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: fuzz_seeds OUTDIR [SAMPLES_DIR]\n");
        return 2;
    }
    outdir = argv[1];
    mkdir(outdir, 0755);
    if (argc > 2) read_samples(argv[2]);
    read_synth("events=300,seed=11,bad=0.15,dup=0.05,other=0.05");
    for (size_t i = 0; i < nlines; i++) {
        put("json", lines[i], lens[i]);
        put("event", lines[i], lens[i]);
    }
    ss_buf_init(&frames_file);
    firehose_seeds();
    frames_seeds();
    ss_buf_free(&frames_file);
    file_seeds();
    parquet_seeds();
    parquet_reader_seeds();
    fprintf(stderr, "fuzz_seeds: %zu lines, %zu seed files in %s\n", nlines, written, outdir);
    for (size_t i = 0; i < nlines; i++) free(lines[i]);
    free(lines);
    free(lens);
    return 0;
}
