/* fh_mkframes: Jetstream JSONL -> a frames file of real firehose frames (test tool).
 *
 *   fh_mkframes [--filler BYTES] [--seed S] [--expect FILE] [--seqs FILE] [--seq-start N] OUT[.zst] < events.jsonl
 *
 * Each commit event's record becomes canonical DAG-CBOR with a real CID, consecutive
 * commit events of one repo and rev become one multi-op #commit, and each CAR carries the
 * signed commit block plus about BYTES of MST-node-like blocks (live frames average about
 * 5.4 KB). identity/account events become their frames, sync events (skyspool's own kind)
 * #sync frames. Lines that are not convertible
 * events are skipped and counted (stderr).
 *
 * --expect writes what the decoder must print for these frames: each input line with its
 * time_us set to what a frames: replay gives (the frame time, never decreasing: see
 * SS_FH_CLOCK_REPLAY), a commit's claimed time added (commit.time) and, for
 * creates and updates, its "cid" set to the CID of the record as encoded (input CIDs may be made up, as in `skyspool synth`). --seqs
 * writes the frame seq of each expected line, for cursor tests. --seq-start N numbers the
 * commit frames from N (default 1). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fh_encode.h"
#include "source/firehose/fh_decode.h"
#include "frames/frames.h"

typedef struct {
    ss_frames_writer *w;
    ss_fh_decoder *d;
    FILE *expect, *seqs;
    int failed;
    unsigned long long frames, bytes;
} tool;

/* The expected events are the decoder's own output only in shape: they are rebuilt from
 * the input lines by text substitution, so a decoder bug still shows as a difference. */
typedef struct {
    char **lines; /* FIFO of input lines not yet paired with a frame: [head, n) */
    size_t head, n, cap;
} pending;

static pending g_pending;

static void on_frame(void *ud, const uint8_t *frame, size_t len) {
    tool *t = ud;
    if (ss_frames_writer_append(t->w, frame, len)) {
        fprintf(stderr, "fh_mkframes: %s\n", ss_frames_writer_error(t->w));
        t->failed = 1;
    }
    t->frames++;
    t->bytes += len;
    if (!t->expect) return;
    /* Pair the frame with the input lines it came from (one per op, or one). */
    int n = ss_fh_decode(t->d, frame, len);
    if (n < 0 || (size_t)n > g_pending.n - g_pending.head) {
        fprintf(stderr, "fh_mkframes: frame %llu: %d outputs for %zu lines\n", t->frames, n, g_pending.n - g_pending.head);
        t->failed = 1;
        return;
    }
    for (size_t i = 0; i < (size_t)n; i++) {
        char *owned = g_pending.lines[g_pending.head++], *line = owned;
        ss_source_msg m = {0};
        if ((int)i < n) ss_fh_output(t->d, i, &m);
        /* time_us from the decoder output; "cid" of the op from the decoder output */
        long long tus = 0;
        const char *p = m.data ? strstr(m.data, "\"time_us\":") : NULL;
        if (p) tus = atoll(p + 10);
        char *q = strstr(line, "\"time_us\":");
        if (q) {
            char *e = q + 10;
            while (*e == '-' || (*e >= '0' && *e <= '9')) e++;
            fprintf(t->expect, "%.*s\"time_us\":%lld", (int)(q - line), line, tus);
            line = e;
        }
        /* the claimed time the decoder appends to a commit: ,"time":"..."}} at its end */
        const char *tsfx = NULL, *tend = m.data ? m.data + m.len : NULL;
        if (m.data && strstr(m.data, "\"kind\":\"commit\""))
            for (const char *s = strstr(m.data, ",\"time\":\""); s && s < m.data + m.len; s = strstr(s + 1, ",\"time\":\""))
                tsfx = s;
        if (tsfx) tend = tsfx;
        const char *gc = NULL;
        for (const char *s = m.data ? strstr(m.data, ",\"cid\":\"") : NULL; s && s < tend; s = strstr(s + 1, ",\"cid\":\""))
            gc = s;
        char *lc = NULL;
        for (char *s = strstr(line, ",\"cid\":\""); s; s = strstr(s + 1, ",\"cid\":\"")) lc = s;
        int is_write = strstr(line, "\"operation\":\"create\"") || strstr(line, "\"operation\":\"update\"");
        size_t ll = strlen(line);
        if (is_write && gc && lc && !strchr(lc + 8, ':') && !memchr(gc + 8, ':', (size_t)(tend - gc - 8))) {
            fprintf(t->expect, "%.*s%.*s\n", (int)(lc - line), line, (int)(m.data + m.len - gc), gc);
        } else if (tsfx && ll >= 2 && !strcmp(line + ll - 2, "}}")) {
            fprintf(t->expect, "%.*s%.*s\n", (int)(ll - 2), line, (int)(m.data + m.len - tsfx), tsfx);
        } else {
            fprintf(t->expect, "%s\n", line);
        }
        if (t->seqs) fprintf(t->seqs, "%lld\n", (long long)ss_fh_frame_seq(t->d));
        free(owned);
    }
    if (g_pending.head == g_pending.n) g_pending.head = g_pending.n = 0;
}

int main(int argc, char **argv) {
    size_t filler = 0;
    unsigned long long seed = 1;
    long long seq_start = 1;
    const char *out = NULL, *expect = NULL, *seqs = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--filler") && i + 1 < argc) filler = (size_t)strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc) seed = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--expect") && i + 1 < argc) expect = argv[++i];
        else if (!strcmp(argv[i], "--seqs") && i + 1 < argc) seqs = argv[++i];
        else if (!strcmp(argv[i], "--seq-start") && i + 1 < argc) seq_start = strtoll(argv[++i], NULL, 10);
        else if (argv[i][0] != '-' || !strcmp(argv[i], "-")) out = argv[i];
        else {
            fprintf(stderr, "usage: fh_mkframes [--filler BYTES] [--seed S] [--expect FILE] [--seqs FILE] [--seq-start N] OUT[.zst] < events.jsonl\n");
            return 2;
        }
    }
    if (!out) {
        fprintf(stderr, "fh_mkframes: an output path is required\n");
        return 2;
    }
    tool t = {0};
    char err[300];
    t.w = ss_frames_writer_open(out, -1, err, sizeof err);
    if (!t.w) {
        fprintf(stderr, "fh_mkframes: %s\n", err);
        return 1;
    }
    if (expect) {
        t.expect = fopen(expect, "w");
        ss_fh_opts fo;
        ss_fh_opts_init(&fo);
        fo.clock = SS_FH_CLOCK_REPLAY; /* the expected time_us is what a frames: replay gives */
        t.d = ss_fh_decoder_new(&fo);
        if (seqs) t.seqs = fopen(seqs, "w");
        if (!t.expect || !t.d || (seqs && !t.seqs)) {
            fprintf(stderr, "fh_mkframes: cannot write %s\n", expect);
            return 1;
        }
    }
    fhe_conv *c = fhe_conv_new(on_frame, &t, filler, seed);
    fhe_conv_set_next_seq(c, seq_start);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    unsigned long long lines = 0, skipped = 0;
    while ((n = getline(&line, &cap, stdin)) > 0) {
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = 0;
        if (!n) continue;
        lines++;
        /* Queue the line first: converting it may complete the previous frame, or (identity,
         * account) produce its own frame at once; frames consume lines in order. */
        if (expect) {
            if (g_pending.n == g_pending.cap) {
                g_pending.cap = g_pending.cap ? g_pending.cap * 2 : 16;
                g_pending.lines = realloc(g_pending.lines, g_pending.cap * sizeof *g_pending.lines);
            }
            g_pending.lines[g_pending.n++] = strdup(line);
        }
        if (fhe_conv_line(c, line, (size_t)n, err, sizeof err)) {
            skipped++;
            if (expect) free(g_pending.lines[--g_pending.n]);
            continue;
        }
    }
    free(line);
    fhe_conv_free(c);
    int rc = t.failed;
    if (ss_frames_writer_close(t.w, err, sizeof err)) {
        fprintf(stderr, "fh_mkframes: %s\n", err);
        rc = 1;
    }
    if (t.expect) fclose(t.expect);
    if (t.seqs) fclose(t.seqs);
    ss_fh_decoder_free(t.d);
    free(g_pending.lines);
    fprintf(stderr, "fh_mkframes: %llu lines, %llu skipped, %llu frames, %llu bytes (%.0f bytes/frame)\n", lines, skipped,
            t.frames, t.bytes, t.frames ? (double)t.bytes / (double)t.frames : 0.0);
    return rc;
}
