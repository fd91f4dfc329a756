/* pq_bench: measures the Parquet writer alone on rows shaped like skyspool's archive
 * (15 columns: dictionary-friendly DIDs and collections, random record keys and CIDs,
 * timestamps, a raw JSON record, optional text, a language list).
 *
 *   pq_bench OUT.parquet [--rows N] [--codec zstd|snappy|none] [--level L] [--ndjson FILE]
 *
 * The rows come from a pre-generated pool (32768 distinct DIDs, texts, records), made
 * unique per row the way real events are (random CIDs, time-ordered TIDs for rkey and rev,
 * a tag on each text); that per-row work (~50 ns) is inside the measured loop.
 * Prints one line: rows, CPU seconds of the writing loop, rows per CPU-second, bytes,
 * bytes per row. --ndjson also writes the same rows as NDJSON for a peer (DuckDB) to load. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "parquet.h"

#define POOL 32768

typedef struct {
    char did[40], rkey[16], rev[16], cid[72], record[1024], text[400];
    const char *collection, *op, *lang1, *lang2, *embed;
    int nlangs, has_text;
    size_t ldid, lcid, lrecord, ltext, lcoll, lop, lembed; /* lengths, so the loop measures the writer */
    size_t cid_at, rkey_at; /* where the record embeds the CID and rkey */
} prow;

static uint64_t g_s = 42;
static uint64_t rnd(void) {
    uint64_t z = (g_s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static void rstr(char *o, size_t n, const char *alpha) {
    size_t a = strlen(alpha);
    for (size_t i = 0; i < n; i++) o[i] = alpha[rnd() % a];
    o[n] = 0;
}

static const char *B32 = "abcdefghijklmnopqrstuvwxyz234567";
static const char *S32 = "234567abcdefghijklmnopqrstuvwxyz"; /* sortable base32 of TIDs */

/* A TID (13 sortable base32 chars): microseconds since the epoch and a clock id. */
static void tid(char *o, uint64_t us, uint64_t clock) {
    uint64_t v = (us << 10) | (clock & 1023);
    for (int i = 12; i >= 0; i--, v >>= 5) o[i] = S32[v & 31];
    o[13] = 0;
}
static const char *WORDS[] = {"the", "bluesky", "post", "today", "is", "a", "good", "day", "for", "skyspool",
                              "ünïcode", "日本", "🦋", "and", "archive", "research", "firehose", "of", "events"};

static void make_pool(prow *p) {
    static const char *cols[] = {"app.bsky.feed.like", "app.bsky.feed.post", "app.bsky.graph.follow",
                                 "app.bsky.feed.repost", "app.bsky.actor.profile", "app.bsky.graph.block"};
    static const char *langs[] = {"en", "ja", "pt", "de", "ko", "es"};
    for (int i = 0; i < POOL; i++) {
        prow *r = &p[i];
        char id[32];
        rstr(id, 24, B32);
        snprintf(r->did, sizeof r->did, "did:plc:%s", id);
        rstr(r->rkey, 13, B32);
        rstr(r->rev, 13, B32);
        char c[64];
        rstr(c, 55, B32);
        snprintf(r->cid, sizeof r->cid, "bafy%s", c);
        uint64_t k = rnd() % 100;
        r->collection = cols[k < 55 ? 0 : k < 75 ? 1 : k < 88 ? 2 : k < 95 ? 3 : k < 98 ? 4 : 5];
        r->op = rnd() % 20 ? "create" : "delete";
        r->has_text = r->collection == cols[1];
        size_t tl = 0;
        r->text[0] = 0;
        if (r->has_text) {
            int nw = 3 + (int)(rnd() % 30);
            for (int w = 0; w < nw && tl < 300; w++)
                tl += (size_t)snprintf(r->text + tl, sizeof r->text - tl, "%s%s", w ? " " : "", WORDS[rnd() % 19]);
        }
        r->nlangs = r->has_text ? (int)(rnd() % 3) : 0;
        r->lang1 = langs[rnd() % 6];
        r->lang2 = langs[rnd() % 6];
        r->embed = r->has_text && rnd() % 3 == 0 ? "app.bsky.embed.images" : NULL;
        char subj[64];
        rstr(subj, 24, B32);
        snprintf(r->record, sizeof r->record,
                 "{\"$type\":\"%s\",\"createdAt\":\"2024-11-26T00:00:00.000Z\",\"subject\":{\"cid\":\"%s\","
                 "\"uri\":\"at://did:plc:%s/app.bsky.feed.post/%s\"}%s%s%s}",
                 r->collection, r->cid, subj, r->rkey, r->has_text ? ",\"text\":\"" : "", r->has_text ? r->text : "",
                 r->has_text ? "\"" : "");
        r->cid_at = (size_t)(strstr(r->record, r->cid) - r->record);
        r->rkey_at = (size_t)(strstr(r->record, r->rkey) - r->record);
        r->ldid = strlen(r->did);
        r->lcid = strlen(r->cid);
        r->lrecord = strlen(r->record);
        r->ltext = strlen(r->text);
        r->lcoll = strlen(r->collection);
        r->lop = strlen(r->op);
        r->lembed = r->embed ? strlen(r->embed) : 0;
    }
}

enum { C_DID, C_TIME_US, C_TIME, C_KIND, C_OP, C_COLL, C_RKEY, C_REV, C_CID, C_RECORD, C_CREATED, C_TEXT, C_LANGS,
       C_EMBED, C_SEQ, NCOLS };

static const ss_pq_column COLS[NCOLS] = {
    {"did", SS_PQ_STRING, 0, 1, 0},          {"time_us", SS_PQ_INT64, 0, 0, 0},
    {"time", SS_PQ_TIMESTAMP_MICROS, 0, 0, 0}, {"kind", SS_PQ_STRING, 0, 1, 0},
    {"operation", SS_PQ_STRING, 0, 1, 0},    {"collection", SS_PQ_STRING, 0, 1, 0},
    {"rkey", SS_PQ_STRING, 0, 0, 0},         {"rev", SS_PQ_STRING, 0, 0, 0},
    {"cid", SS_PQ_STRING, 1, 0, 0},          {"record", SS_PQ_STRING, 1, 0, 0},
    {"created_at", SS_PQ_TIMESTAMP_MICROS, 1, 0, 0}, {"text", SS_PQ_STRING, 1, 0, 0},
    {"langs", SS_PQ_STRING_LIST, 1, 1, 0},   {"embed_type", SS_PQ_STRING, 1, 1, 0},
    {"seq", SS_PQ_INT64, 1, 0, 0},
};

static double cpu_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help")) {
        fprintf(argc < 2 ? stderr : stdout,
                "usage: pq_bench OUT.parquet [--rows N] [--codec zstd|snappy|none] [--level L] [--ndjson FILE]\n"
                "                [--page-bytes N] [--dict-max N] [--rg-rows N] [--delta]\n"
                "  pq_bench /tmp/b.parquet --rows 1000000 --codec zstd\n");
        return argc < 2 ? 2 : 0;
    }
    uint64_t rows = 1000000;
    ss_pq_options o;
    ss_pq_options_init(&o);
    o.fsync = 0;
    const char *ndjson = NULL;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--rows") && i + 1 < argc) rows = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--codec") && i + 1 < argc) {
            if (ss_pq_codec_parse(argv[++i], &o.codec)) {
                fprintf(stderr, "pq_bench: unknown codec %s (zstd, snappy, none)\n", argv[i]);
                return 2;
            }
        } else if (!strcmp(argv[i], "--level") && i + 1 < argc) o.zstd_level = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--ndjson") && i + 1 < argc) ndjson = argv[++i];
        else if (!strcmp(argv[i], "--page-bytes") && i + 1 < argc) o.page_bytes = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--dict-max") && i + 1 < argc) o.dict_max_bytes = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--rg-rows") && i + 1 < argc) o.row_group_rows = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--delta")) o.delta_int64 = 1;
        else {
            fprintf(stderr, "pq_bench: unknown argument %s (see --help)\n", argv[i]);
            return 2;
        }
    }
    prow *pool = calloc(POOL, sizeof *pool);
    make_pool(pool);

    FILE *nj = ndjson ? fopen(ndjson, "w") : NULL;
    if (ndjson && !nj) {
        perror(ndjson);
        return 1;
    }
    ss_pq_writer *w = ss_pq_open(argv[1], COLS, NCOLS, &o);
    if (!w || ss_pq_err(w)) {
        fprintf(stderr, "pq_bench: %s\n", w ? ss_pq_errstr(w) : "out of memory");
        return 1;
    }
    double t0 = cpu_now();
    int64_t t = 1732579200000000LL;
    char cid[72], rkey[16], rev[16], record[1024], text[420];
    for (uint64_t r = 0; r < rows; r++) {
        /* Per-row values: CIDs random, rkey and rev time-ordered TIDs, the record carries
         * this row's CID and rkey, text gets a unique tag; only DIDs and the rest repeat. */
        /* the row's other fields are read in order (as a caller's freshly parsed event
         * would be in cache); only the DID is drawn at random, from a compact table */
        const prow *p = &pool[r % POOL];
        const prow *pd = &pool[(r * 2654435761u) % POOL];
        t += 50 + (int64_t)(r % 97);
        memcpy(cid, p->cid, p->lcid + 1);
        for (int k = 0; k < 5; k++) {
            uint64_t x = rnd();
            for (int j = 0; j < 11; j++, x >>= 5) cid[4 + k * 11 + j] = B32[x & 31];
        }
        tid(rkey, (uint64_t)t - 1000, r);
        tid(rev, (uint64_t)t - 300, r >> 3);
        size_t lrec = p->lrecord;
        memcpy(record, p->record, lrec + 1);
        memcpy(record + p->cid_at, cid, p->lcid);
        memcpy(record + p->rkey_at, rkey, 13);
        size_t ltext = 0;
        if (p->has_text) {
            memcpy(text, p->text, p->ltext);
            ltext = p->ltext;
            text[ltext++] = ' ';
            text[ltext++] = '#';
            uint64_t x = rnd();
            for (int j = 0; j < 8; j++, x >>= 5) text[ltext++] = B32[x & 31];
            text[ltext] = 0;
        }
        ss_pq_set_string(w, C_DID, pd->did, pd->ldid);
        ss_pq_set_int64(w, C_TIME_US, t);
        ss_pq_set_int64(w, C_TIME, t);
        ss_pq_set_string(w, C_KIND, "commit", 6);
        ss_pq_set_string(w, C_OP, p->op, p->lop);
        ss_pq_set_string(w, C_COLL, p->collection, p->lcoll);
        ss_pq_set_string(w, C_RKEY, rkey, 13);
        ss_pq_set_string(w, C_REV, rev, 13);
        ss_pq_set_string(w, C_CID, cid, p->lcid);
        ss_pq_set_string(w, C_RECORD, record, lrec);
        ss_pq_set_int64(w, C_CREATED, t - 1000);
        if (p->has_text) ss_pq_set_string(w, C_TEXT, text, ltext);
        if (p->has_text) {
            ss_pq_list_begin(w, C_LANGS);
            if (p->nlangs > 0) ss_pq_list_add(w, C_LANGS, p->lang1, 2);
            if (p->nlangs > 1) ss_pq_list_add(w, C_LANGS, p->lang2, 2);
        }
        if (p->embed) ss_pq_set_string(w, C_EMBED, p->embed, p->lembed);
        if (ss_pq_end_row(w)) break;
        if (nj) {
            fprintf(nj, "{\"did\":\"%s\",\"time_us\":%" PRId64 ",\"kind\":\"commit\",\"operation\":\"%s\","
                        "\"collection\":\"%s\",\"rkey\":\"%s\",\"rev\":\"%s\",\"cid\":\"%s\",\"record\":\"",
                    pd->did, t, p->op, p->collection, rkey, rev, cid);
            for (const char *q = record; *q; q++) {
                if (*q == '"' || *q == '\\') fputc('\\', nj);
                fputc(*q, nj);
            }
            fprintf(nj, "\",\"created_at_us\":%" PRId64 ",\"text\":", t - 1000);
            if (p->has_text) fprintf(nj, "\"%s\"", text);
            else fputs("null", nj);
            fputs(",\"langs\":", nj);
            if (!p->has_text) fputs("null", nj);
            else if (p->nlangs == 0) fputs("[]", nj);
            else if (p->nlangs == 1) fprintf(nj, "[\"%s\"]", p->lang1);
            else fprintf(nj, "[\"%s\",\"%s\"]", p->lang1, p->lang2);
            fprintf(nj, ",\"embed_type\":%s%s%s,\"seq\":null}\n", p->embed ? "\"" : "", p->embed ? p->embed : "null",
                    p->embed ? "\"" : "");
        }
    }
    ss_pq_stats st;
    char err[256];
    int rc = ss_pq_close(w, &st, err, sizeof err);
    double cpu = cpu_now() - t0;
    if (nj) fclose(nj);
    if (rc) {
        fprintf(stderr, "pq_bench: %s\n", err);
        return 1;
    }
    if (nj) cpu = -1; /* NDJSON output is in the loop; the timing is meaningless */
    printf("rows=%" PRIu64 " cpu_s=%.3f rows_per_cpu_s=%.0f bytes=%" PRIu64 " bytes_per_row=%.2f row_groups=%" PRIu64
           " codec=%s\n",
           st.rows, cpu, cpu > 0 ? (double)st.rows / cpu : 0, st.file_bytes, (double)st.file_bytes / (double)st.rows,
           st.row_groups, ss_pq_codec_name(o.codec));
    free(pool);
    return 0;
}
