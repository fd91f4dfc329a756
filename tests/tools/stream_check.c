/* stream_check: verifies what `skyspool ingest` left in Redis against the JSONL input.
 *
 *   stream_check --redis URL --input FILE [--prefix P] [--keep-other] [--mode exact|covers] [--any-time-us]
 * (--any-time-us: lines are compared without their time_us, e.g. firehose: events, whose
 * time_us is skyspool's receipt clock)
 *
 * Every input line is classified with the decoder (type stream, other, or DLQ), then every
 * entry of every stream is read back with paged XRANGE and compared:
 *   exact   each stream holds exactly its input lines, byte for byte, in input order, with
 *           field name "<dedup key hex> <time_us>"; the DLQ holds exactly the rejected lines
 *           (raw = the line, capped at 64 KiB) with the decoder's reason;
 *   covers  every input line is present at least once and nothing else is (duplicates from
 *           rewinds allowed): the "no gap" check after crashes and restarts.
 *
 *   stream_check --redis URL --drain-to FILE [--prefix P]
 * is a stand-in consumer: it repeatedly takes entries off every type stream (XRANGE, then
 * XDEL), appending their payloads to FILE, until the ingester's state hash says it ended
 * and the streams are empty. `--also FILE` then counts those payloads as present.
 *
 * Prints one JSON summary line and exits 0 when the check holds, 1 when it does not, 2 on
 * usage or I/O errors. Lines are compared through 128-bit hashes in a hash set, so 1M
 * events check in seconds. */
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buffer/ingest.h"
#include "buffer/redis.h"
#include "event/event.h"
#include "util/hash.h"

#define DLQ_CAP SS_INGEST_DLQ_RAW_MAX
#define KIND_DLQ 100
#define KIND_SKIP 101

typedef struct {
    const char *p;
    size_t n;
    int kind; /* ss_type, KIND_DLQ, KIND_SKIP */
    char reason[32];
    uint64_t seen;
    int64_t time_us;  /* for events: what t must be */
    uint8_t key[16];  /* for events: what k must be (hex of this) */
} line;

typedef struct {
    uint64_t h1, h2;
    int64_t idx; /* line index + 1; 0 = empty slot */
} slot;

static slot *g_tab;
static size_t g_mask;

static int g_any_time; /* --any-time-us: a receiver's clock; compare lines without time_us */
static char *g_norm;
static size_t g_norm_cap;

static void hash_bytes(const char *p, size_t n, uint64_t *h1, uint64_t *h2) {
    uint8_t d[16];
    if (g_any_time) { /* "time_us":<digits> -> "time_us": */
        if (n > g_norm_cap) {
            g_norm = realloc(g_norm, n);
            if (!g_norm) abort();
            g_norm_cap = n;
        }
        size_t j = 0;
        for (size_t i = 0; i < n;) {
            if (n - i > 10 && !memcmp(p + i, "\"time_us\":", 10)) {
                memcpy(g_norm + j, p + i, 10), j += 10, i += 10;
                while (i < n && p[i] >= '0' && p[i] <= '9') i++;
                continue;
            }
            g_norm[j++] = p[i++];
        }
        p = g_norm, n = j;
    }
    ss_hash128(p, n, 7, d);
    memcpy(h1, d, 8);
    memcpy(h2, d + 8, 8);
}

static void tab_put(const char *p, size_t n, int64_t idx) {
    uint64_t h1, h2;
    hash_bytes(p, n, &h1, &h2);
    for (size_t i = h1 & g_mask;; i = (i + 1) & g_mask) {
        if (!g_tab[i].idx) {
            g_tab[i] = (slot){h1, h2, idx + 1};
            return;
        }
        if (g_tab[i].h1 == h1 && g_tab[i].h2 == h2) return; /* identical line already indexed */
    }
}

static int64_t tab_get(const char *p, size_t n) {
    uint64_t h1, h2;
    hash_bytes(p, n, &h1, &h2);
    for (size_t i = h1 & g_mask;; i = (i + 1) & g_mask) {
        if (!g_tab[i].idx) return -1;
        if (g_tab[i].h1 == h1 && g_tab[i].h2 == h2) return g_tab[i].idx - 1;
    }
}

static redisReply *field(redisReply *entry_fields, const char *name) {
    for (size_t i = 0; i + 1 < entry_fields->elements; i += 2)
        if (!strcmp(entry_fields->element[i]->str, name)) return entry_fields->element[i + 1];
    return NULL;
}

/* An ingested entry is one pair, <meta> <event>: returns the event, or NULL. */
static redisReply *event_of(redisReply *entry_fields) {
    uint8_t key[16];
    int64_t t;
    if (entry_fields->elements != 2 ||
        ss_event_meta_parse(entry_fields->element[0]->str, entry_fields->element[0]->len, key, &t) != 0)
        return NULL;
    return entry_fields->element[1];
}

/* Takes entries off the streams until the ingester has ended and they are empty. */
static int drain(redisContext *rc, const char *prefix, const char *path) {
    FILE *out = fopen(path, "w");
    if (!out) {
        perror(path);
        return 2;
    }
    char state_key[256];
    snprintf(state_key, sizeof state_key, "%singest", prefix);
    uint64_t total = 0;
    for (;;) {
        int took = 0;
        for (int t = 0; t < SS_TYPE__COUNT; t++) {
            char key[256];
            snprintf(key, sizeof key, "%s%s", prefix, ss_type_name((ss_type)t));
            redisReply *r = redisCommand(rc, "XRANGE %s - + COUNT 2000", key);
            if (!r || r->type != REDIS_REPLY_ARRAY) {
                fprintf(stderr, "drain: XRANGE failed\n");
                return 2;
            }
            if (r->elements) {
                const char **argv_ = malloc(sizeof *argv_ * (r->elements + 2));
                argv_[0] = "XDEL";
                argv_[1] = key;
                for (size_t e = 0; e < r->elements; e++) {
                    redisReply *val = event_of(r->element[e]->element[1]);
                    if (val) {
                        fwrite(val->str, 1, val->len, out);
                        fputc('\n', out);
                    }
                    argv_[e + 2] = r->element[e]->element[0]->str;
                }
                redisReply *d = redisCommandArgv(rc, (int)r->elements + 2, argv_, NULL);
                if (!d || d->type != REDIS_REPLY_INTEGER || (size_t)d->integer != r->elements) {
                    fprintf(stderr, "drain: XDEL failed\n");
                    return 2;
                }
                freeReplyObject(d);
                free(argv_);
                total += r->elements;
                took = 1;
            }
            freeReplyObject(r);
        }
        if (!took) {
            redisReply *s = redisCommand(rc, "HGET %s state", state_key);
            int ended = s && s->type == REDIS_REPLY_STRING &&
                        (!strcmp(s->str, "done") || !strcmp(s->str, "stopped") || !strcmp(s->str, "failed"));
            if (s) freeReplyObject(s);
            if (ended) break;
            usleep(20000);
        }
    }
    fclose(out);
    printf("{\"drained\":%" PRIu64 "}\n", total);
    return 0;
}

int main(int argc, char **argv) {
    const char *url = NULL, *input = NULL, *prefix = "skyspool:", *mode = "exact", *drain_to = NULL, *also = NULL;
    int keep_other = 0, c;
    static const struct option opts[] = {{"redis", 1, 0, 'r'}, {"input", 1, 0, 'i'},      {"prefix", 1, 0, 'p'},
                                         {"mode", 1, 0, 'm'},  {"keep-other", 0, 0, 'o'},
                                         {"drain-to", 1, 0, 'd'}, {"also", 1, 0, 'a'},  {"any-time-us", 0, 0, 't'},
                                         {0, 0, 0, 0}};
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'r': url = optarg; break;
        case 'i': input = optarg; break;
        case 'p': prefix = optarg; break;
        case 'm': mode = optarg; break;
        case 'o': keep_other = 1; break;
        case 'd': drain_to = optarg; break;
        case 'a': also = optarg; break;
        case 't': g_any_time = 1; break;
        default: return 2;
        }
    }
    int exact = !strcmp(mode, "exact");
    if (url && drain_to) {
        ss_redis_url du;
        char derr[512];
        if (ss_redis_url_parse(url, &du, derr, sizeof derr) != 0) return 2;
        redisContext *dc = ss_redis_connect(&du, 10000, derr, sizeof derr, NULL);
        if (!dc) {
            fprintf(stderr, "%s\n", derr);
            return 2;
        }
        int r = drain(dc, prefix, drain_to);
        redisFree(dc);
        return r;
    }
    if (!url || !input || (!exact && strcmp(mode, "covers"))) {
        fprintf(stderr, "usage: stream_check --redis URL --input FILE [--prefix P] [--keep-other] [--mode exact|covers]\n");
        return 2;
    }
    int fd = open(input, O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        perror(input);
        return 2;
    }
    const char *data = st.st_size ? mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0) : "";
    if (data == MAP_FAILED) {
        perror("mmap");
        return 2;
    }
    size_t size = (size_t)st.st_size, nlines = 0, cap = 1 << 16;
    line *lines = malloc(cap * sizeof *lines);
    ss_decoder *dec = ss_decoder_new(NULL);
    for (size_t off = 0; off < size;) {
        const char *nl = memchr(data + off, '\n', size - off);
        size_t n = nl ? (size_t)(nl - (data + off)) : size - off;
        if (nlines == cap) lines = realloc(lines, (cap *= 2) * sizeof *lines);
        line *l = &lines[nlines++];
        memset(l, 0, sizeof *l);
        l->p = data + off;
        l->n = n;
        ss_event ev;
        ss_decode_reason r = ss_decode(dec, l->p, l->n, &ev);
        if (r != SS_DECODE_OK) {
            l->kind = KIND_DLQ;
            snprintf(l->reason, sizeof l->reason, "%s", ss_decode_reason_name(r));
        } else if (ev.type == SS_TYPE_OTHER && !keep_other) {
            l->kind = KIND_SKIP;
        } else {
            l->kind = (int)ev.type;
            l->time_us = ev.time_us;
            ss_event_dedup_key(&ev, l->key);
        }
        off += n + (nl ? 1 : 0);
    }
    size_t tabsize = 1;
    while (tabsize < nlines * 2 + 16) tabsize <<= 1;
    g_tab = calloc(tabsize, sizeof *g_tab);
    g_mask = tabsize - 1;
    for (size_t i = 0; i < nlines; i++)
        if (lines[i].kind == KIND_DLQ) tab_put(lines[i].p, lines[i].n > DLQ_CAP ? DLQ_CAP : lines[i].n, (int64_t)i);
        else tab_put(lines[i].p, lines[i].n, (int64_t)i);

    ss_redis_url u;
    char err[512];
    if (ss_redis_url_parse(url, &u, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    redisContext *rc = ss_redis_connect(&u, 10000, err, sizeof err, NULL);
    if (!rc) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    uint64_t expected[SS_TYPE__COUNT] = {0}, found[SS_TYPE__COUNT] = {0}, dlq_expected = 0, dlq_found = 0;
    for (size_t i = 0; i < nlines; i++) {
        if (lines[i].kind < SS_TYPE__COUNT) expected[lines[i].kind]++;
        else if (lines[i].kind == KIND_DLQ) dlq_expected++;
    }
    uint64_t extra = 0, wrong_stream = 0, order = 0, fields = 0, dups = 0, dlq_reason = 0;
    for (int t = 0; t <= SS_TYPE__COUNT; t++) {
        int is_dlq = t == SS_TYPE__COUNT;
        char key[256];
        if (is_dlq) snprintf(key, sizeof key, "%sdlq", prefix);
        else snprintf(key, sizeof key, "%s%s", prefix, ss_type_name((ss_type)t));
        char last[64] = "-";
        int want_kind = is_dlq ? KIND_DLQ : t;
        size_t nx = 0;
        for (;;) {
            char start[80];
            if (!strcmp(last, "-")) snprintf(start, sizeof start, "-");
            else snprintf(start, sizeof start, "(%s", last);
            const char *argv_[6] = {"XRANGE", key, start, "+", "COUNT", "5000"};
            redisReply *r = redisCommandArgv(rc, 6, argv_, NULL);
            if (!r || r->type != REDIS_REPLY_ARRAY) {
                fprintf(stderr, "XRANGE %s failed\n", key);
                return 2;
            }
            if (r->elements == 0) {
                freeReplyObject(r);
                break;
            }
            for (size_t e = 0; e < r->elements; e++) {
                redisReply *ent = r->element[e];
                snprintf(last, sizeof last, "%s", ent->element[0]->str);
                redisReply *fv = ent->element[1];
                redisReply *val = is_dlq ? field(fv, "raw") : event_of(fv);
                if (!val) {
                    fields++;
                    continue;
                }
                if (is_dlq) dlq_found++;
                else found[t]++;
                int64_t idx = tab_get(val->str, val->len);
                if (idx < 0) {
                    extra++;
                    if (extra <= 3) fprintf(stderr, "extra entry in %s: %.120s\n", key, val->str);
                    continue;
                }
                line *l = &lines[idx];
                if (l->kind != want_kind) {
                    wrong_stream++;
                    if (wrong_stream <= 3) fprintf(stderr, "line %" PRId64 " found in %s\n", idx + 1, key);
                    continue;
                }
                if (l->seen++) dups++;
                if (is_dlq) {
                    redisReply *reason = field(fv, "reason");
                    if (!reason || strcmp(reason->str, l->reason)) {
                        dlq_reason++;
                        if (dlq_reason <= 3)
                            fprintf(stderr, "line %" PRId64 ": DLQ reason %s, decoder says %s\n", idx + 1,
                                    reason ? reason->str : "(none)", l->reason);
                    }
                } else {
                    char want[SS_EVENT_META_MAX];
                    size_t wl = ss_event_meta_format(l->key, l->time_us, want);
                    redisReply *mv = fv->element[0];
                    if (g_any_time) wl = SS_DEDUP_HEX_LEN; /* the key only: time_us is the receiver's */
                    if (mv->len < wl || memcmp(mv->str, want, wl)) fields++;
                }
                if (exact) {
                    /* next input line of this kind, in order */
                    while (nx < nlines && lines[nx].kind != want_kind) nx++;
                    if (nx >= nlines || (size_t)idx != nx) order++;
                    nx = (size_t)idx + 1;
                }
            }
            freeReplyObject(r);
        }
    }
    if (also) {
        FILE *f = fopen(also, "r");
        if (!f) {
            perror(also);
            return 2;
        }
        char *buf = NULL;
        size_t cap2 = 0;
        ssize_t n;
        while ((n = getline(&buf, &cap2, f)) > 0) {
            if (buf[n - 1] == '\n') n--;
            int64_t idx = tab_get(buf, (size_t)n);
            if (idx < 0) {
                extra++;
                continue;
            }
            if (lines[idx].kind < SS_TYPE__COUNT) found[lines[idx].kind]++;
            if (lines[idx].seen++) dups++;
        }
        free(buf);
        fclose(f);
    }
    uint64_t missing = 0;
    for (size_t i = 0; i < nlines; i++)
        if ((lines[i].kind < SS_TYPE__COUNT || lines[i].kind == KIND_DLQ) && !lines[i].seen) {
            if (missing < 3) fprintf(stderr, "missing input line %zu: %.120s\n", i + 1, lines[i].p);
            missing++;
        }
    printf("{\"mode\":\"%s\",\"lines\":%zu,\"missing\":%" PRIu64 ",\"extra\":%" PRIu64 ",\"wrong_stream\":%" PRIu64
           ",\"dups\":%" PRIu64 ",\"order_errors\":%" PRIu64 ",\"field_errors\":%" PRIu64
           ",\"dlq_expected\":%" PRIu64 ",\"dlq_found\":%" PRIu64 ",\"dlq_reason_errors\":%" PRIu64 ",\"expected\":{",
           mode, nlines, missing, extra, wrong_stream, dups, order, fields, dlq_expected, dlq_found, dlq_reason);
    for (int t = 0; t < SS_TYPE__COUNT; t++)
        printf("%s\"%s\":%" PRIu64, t ? "," : "", ss_type_name((ss_type)t), expected[t]);
    printf("},\"found\":{");
    for (int t = 0; t < SS_TYPE__COUNT; t++)
        printf("%s\"%s\":%" PRIu64, t ? "," : "", ss_type_name((ss_type)t), found[t]);
    printf("}}\n");
    int ok = !missing && !extra && !wrong_stream && !fields && !dlq_reason;
    if (exact) ok = ok && !dups && !order;
    redisFree(rc);
    ss_decoder_free(dec);
    free(g_tab);
    free(lines);
    return ok ? 0 : 1;
}
