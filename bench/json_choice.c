/* bench/json_choice: why skyspool parses JSON itself.
 *
 * Measures "parse one Jetstream event and extract its envelope fields" over a JSONL
 * corpus, for skyspool's decoder (src/event on src/util/json) and for json-c configured
 * to be as strict as we need (JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8), plus
 * json-c in its default lenient mode and our tokenizer alone for context. Time is CPU
 * time of this process (steadier than wall time on a shared machine); each variant runs
 * --runs times, interleaved, and the median is reported. json-c is linked into this
 * program only, never into skyspool.
 *
 *   json_choice CORPUS.jsonl [--runs N]          prints a Markdown table
 *   json_choice --make-corpus SAMPLES_DIR N SEED   writes N varied sample events (JSONL)
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "event/event.h"
#include "util/buf.h"
#include "util/json.h"

typedef struct {
    const char *p;
    size_t n;
} line;

static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    ss_buf b;
    ss_buf_init(&b);
    char tmp[65536];
    size_t n;
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0)
        if (ss_buf_append(&b, tmp, n) < 0) exit(1);
    fclose(f);
    *len = b.len;
    return b.data;
}

static line *split_lines(char *all, size_t len, size_t *count) {
    size_t cap = 1024, n = 0;
    line *v = malloc(cap * sizeof *v);
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && all[i] != '\n') continue;
        if (i > start) {
            if (n == cap) v = realloc(v, (cap *= 2) * sizeof *v);
            v[n].p = all + start;
            v[n].n = i - start;
            n++;
        }
        start = i + 1;
    }
    *count = n;
    return v;
}

/* A sink the compiler cannot remove. */
static volatile uint64_t sink;

static size_t run_ours(ss_decoder *d, const line *v, size_t n) {
    size_t ok = 0;
    uint64_t acc = 0;
    for (size_t i = 0; i < n; i++) {
        ss_event ev;
        if (ss_decode(d, v[i].p, v[i].n, &ev) != SS_DECODE_OK) continue;
        ok++;
        acc += ev.did.n + (uint64_t)ev.time_us + ev.kind + ev.collection.n + ev.rkey.n + ev.rev.n +
               ev.cid.n + ev.record.n + (uint64_t)ev.seq + ev.time.n + ev.handle.n + ev.status.n + ev.op;
    }
    sink += acc;
    return ok;
}

static size_t run_tokens(ss_json_doc *d, const line *v, size_t n) {
    size_t ok = 0;
    for (size_t i = 0; i < n; i++)
        if (ss_json_parse(d, v[i].p, v[i].n) == SS_JSON_OK) ok++, sink += d->ntoks;
    return ok;
}

static size_t run_validate(ss_json_doc *d, const line *v, size_t n) {
    size_t ok = 0;
    for (size_t i = 0; i < n; i++)
        if (ss_json_validate(d, v[i].p, v[i].n) == SS_JSON_OK) ok++;
    return ok;
}

static size_t jc_strlen(json_object *o, const char *key) {
    json_object *v;
    if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string)) return 0;
    return (size_t)json_object_get_string_len(v) + (json_object_get_string(v)[0] != 0);
}

static size_t run_jsonc(json_tokener *tok, const line *v, size_t n) {
    size_t ok = 0;
    uint64_t acc = 0;
    for (size_t i = 0; i < n; i++) {
        json_tokener_reset(tok);
        json_object *o = json_tokener_parse_ex(tok, v[i].p, (int)v[i].n);
        if (!o || json_tokener_get_error(tok) != json_tokener_success ||
            json_tokener_get_parse_end(tok) != v[i].n) {
            json_object_put(o);
            continue;
        }
        json_object *t, *kind, *pl;
        acc += jc_strlen(o, "did");
        if (json_object_object_get_ex(o, "time_us", &t)) acc += (uint64_t)json_object_get_int64(t);
        if (json_object_object_get_ex(o, "kind", &kind)) {
            const char *k = json_object_get_string(kind);
            if (k && json_object_object_get_ex(o, k, &pl)) {
                acc += jc_strlen(pl, "rev") + jc_strlen(pl, "operation") + jc_strlen(pl, "collection") +
                       jc_strlen(pl, "rkey") + jc_strlen(pl, "cid") + jc_strlen(pl, "time") +
                       jc_strlen(pl, "handle") + jc_strlen(pl, "status") + jc_strlen(pl, "did");
                json_object *x;
                if (json_object_object_get_ex(pl, "record", &x)) acc += json_object_object_length(x);
                if (json_object_object_get_ex(pl, "seq", &x)) acc += (uint64_t)json_object_get_int64(x);
                if (json_object_object_get_ex(pl, "active", &x)) acc += (uint64_t)json_object_get_boolean(x);
            }
        }
        json_object_put(o);
        ok++;
    }
    sink += acc;
    return ok;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* ---- corpus from the shared samples --------------------------------------------- */

static uint64_t rng = 1;
static uint64_t rnd(void) {
    rng ^= rng >> 12, rng ^= rng << 25, rng ^= rng >> 27;
    return rng * 0x2545F4914F6CDD1DULL;
}

/* Rewrites the characters of every did:plc:/rkey-like run so that events differ while
 * keeping their shape and length. */
static void vary(char *s, size_t n) {
    static const char b32[] = "abcdefghijklmnopqrstuvwxyz234567";
    for (size_t i = 0; i + 8 < n; i++) {
        if (memcmp(s + i, "did:plc:", 8) == 0) {
            for (size_t j = i + 8; j < n && j < i + 32; j++) s[j] = b32[rnd() & 31];
            i += 32;
        }
    }
}

static int make_corpus(const char *dir, long count, uint64_t seed) {
    /* type weights (per mille) from the Nov 2024 mix */
    static const struct {
        const char *needle;
        int w;
    } mix[] = {{"\"app.bsky.feed.like\"", 473}, {"\"app.bsky.graph.follow\"", 333}, {"\"app.bsky.feed.post\"", 94},
               {"\"app.bsky.feed.repost\"", 59}, {"\"app.bsky.graph.block\"", 16}, {"\"kind\":\"identity\"", 3},
               {"\"kind\":\"account\"", 3}, {"\"app.bsky.actor.profile\"", 19}};
    enum { NMIX = sizeof mix / sizeof *mix };
    line *pool[NMIX] = {0};
    size_t npool[NMIX] = {0};
    DIR *d = opendir(dir);
    if (!d) return 1;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t nl = strlen(de->d_name);
        if (nl < 6 || strcmp(de->d_name + nl - 6, ".jsonl")) continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        size_t len = 0, n = 0;
        char *all = slurp(path, &len);
        if (!all) continue;
        line *v = split_lines(all, len, &n);
        for (size_t i = 0; i < n; i++)
            for (int m = 0; m < NMIX; m++)
                if (memmem(v[i].p, v[i].n, mix[m].needle, strlen(mix[m].needle))) {
                    pool[m] = realloc(pool[m], (npool[m] + 1) * sizeof(line));
                    pool[m][npool[m]++] = v[i];
                    break;
                }
    }
    closedir(d);
    rng = seed * 0x9E3779B97F4A7C15ULL + 1;
    char buf[1 << 16];
    for (long i = 0; i < count; i++) {
        int r = (int)(rnd() % 1000), m = 0;
        while (m < NMIX - 1 && r >= mix[m].w) r -= mix[m].w, m++;
        if (!npool[m]) m = 0;
        const line *l = &pool[m][rnd() % npool[m]];
        if (l->n >= sizeof buf) continue;
        memcpy(buf, l->p, l->n);
        vary(buf, l->n);
        fwrite(buf, 1, l->n, stdout);
        fputc('\n', stdout);
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 2 && strcmp(argv[1], "--make-corpus") == 0) {
        if (argc != 5) {
            fprintf(stderr, "usage: json_choice --make-corpus SAMPLES_DIR N SEED\n");
            return 2;
        }
        return make_corpus(argv[2], atol(argv[3]), strtoull(argv[4], NULL, 10));
    }
    if (argc < 2) {
        fprintf(stderr, "usage: json_choice CORPUS.jsonl [--runs N]\n");
        return 2;
    }
    int runs = 5;
    if (argc == 4 && strcmp(argv[2], "--runs") == 0) runs = atoi(argv[3]);
    if (runs < 1 || runs > 101) runs = 5;
    size_t len = 0, n = 0;
    char *all = slurp(argv[1], &len);
    if (!all) {
        fprintf(stderr, "json_choice: cannot read %s\n", argv[1]);
        return 1;
    }
    line *v = split_lines(all, len, &n);

    ss_decoder *dec = ss_decoder_new(NULL);
    ss_json_doc doc;
    ss_json_doc_init(&doc, NULL);
    json_tokener *strict = json_tokener_new_ex(64);
    json_tokener_set_flags(strict, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    json_tokener *lenient = json_tokener_new_ex(64);

    enum { OURS, TOKENS, VALIDATE, JC_STRICT, JC_DEFAULT, NV };
    static const char *names[NV] = {"skyspool ss_decode (validate + extract envelope)",
                                    "skyspool ss_json_parse (tokens only)",
                                    "skyspool ss_json_validate (no tokens)",
                                    "json-c 0.16 STRICT + VALIDATE_UTF8, + extract",
                                    "json-c 0.16 default flags + extract"};
    double t[NV][101];
    size_t ok[NV] = {0};
    /* warm-up pass: page in the corpus, grow buffers */
    run_ours(dec, v, n);
    run_jsonc(strict, v, n);
    const char *only = getenv("JSON_CHOICE_ONLY"); /* profiling: run one variant, e.g. "0" */
    for (int r = 0; r < runs; r++) {
        for (int k = 0; k < NV; k++) {
            if (only && atoi(only) != k) continue;
            double t0 = cpu_now();
            switch (k) {
            case OURS: ok[k] = run_ours(dec, v, n); break;
            case TOKENS: ok[k] = run_tokens(&doc, v, n); break;
            case VALIDATE: ok[k] = run_validate(&doc, v, n); break;
            case JC_STRICT: ok[k] = run_jsonc(strict, v, n); break;
            case JC_DEFAULT: ok[k] = run_jsonc(lenient, v, n); break;
            }
            t[k][r] = cpu_now() - t0;
        }
    }
    double med[NV];
    for (int k = 0; k < NV; k++) {
        qsort(t[k], (size_t)runs, sizeof(double), cmp_double);
        med[k] = t[k][runs / 2];
    }
    printf("Corpus: %zu events, %.0f bytes/event on average; %d runs each, interleaved; CPU time, median.\n\n",
           n, (double)len / (double)n, runs);
    printf("| parser | events/CPU-s | ns/event | MB/s | accepted | vs json-c strict |\n|---|---:|---:|---:|---:|---:|\n");
    for (int k = 0; k < NV; k++)
        printf("| %s | %.0f | %.0f | %.0f | %zu | %.2fx |\n", names[k], n / med[k], med[k] / n * 1e9,
               len / med[k] / 1e6, ok[k], med[JC_STRICT] / med[k]);
    printf("\nRatio (skyspool decode vs json-c strict, same run): **%.2fx** faster.\n", med[JC_STRICT] / med[OURS]);
    json_tokener_free(strict);
    json_tokener_free(lenient);
    ss_json_doc_free(&doc);
    ss_decoder_free(dec);
    free(v);
    free(all);
    return ok[OURS] == n ? 0 : 1;
}
