/* Unit tests for the Jetstream v1 decoder (src/event): every shared sample decodes to
 * the exact values written out below (skipped without ../shared); the truncation, dedup,
 * allocation and mutation cases run on those samples when present, otherwise on
 * `synth` events (the corpus below); malformed input of every kind is rejected with
 * the right reason; a seeded mutation fuzz loop never crashes and agrees with itself. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>

#include <cmocka.h>

#include "ss_shared.h"
#include "event/event.h"
#include "source/synth/synth.h"
#include "util/buf.h"
#include "util/json.h"
#include "util/utf8.h"

/* ---- fixtures -------------------------------------------------------------------- */

typedef struct {
    const char *file;
    int line;
    const char *did;
    long long time_us;
    ss_kind kind;
    ss_type type;
    ss_op op;
    const char *collection, *rkey, *rev, *cid;
    size_t rec_off, rec_len; /* the record's span in the line (0, 0 when absent) */
    long long seq;
    const char *time, *handle;
    int active;
    const char *status;
} expect;

/* Written from the sample files, checked field by field against an independent JSON
 * parser when they were written. */
static const expect EXPECT[] = {
    {"jetstream_v1_golden_2026-05-25_10events.jsonl", 0,
     "did:plc:mcc5yghbk7tixqryac2yxku7", 1779719009132431LL, SS_KIND_COMMIT, SS_TYPE_LIKE, SS_OP_CREATE,
     "app.bsky.feed.like", "3mmoojp7etg2g", "3mmoojp7vgo2g",
     "bafyreidqpc7si3dbimffi64lz3xsx2qt45ip7rpna2qpslcddp23itjjzm", 204, 228,
     0LL, NULL, NULL, -1, NULL},
    {"jetstream_v1_golden_2026-05-25_10events.jsonl", 1,
     "did:plc:q235v55g5unth4zjjdpacfdr", 1779719009157119LL, SS_KIND_COMMIT, SS_TYPE_POST, SS_OP_CREATE,
     "app.bsky.feed.post", "3mmoojp4cd223", "3mmoojpaqkn2z",
     "bafyreicl7rzkxdrm4zz2ehbx52kuk3mvfow6p3gzfys72r5grvskxoswy4", 204, 444,
     0LL, NULL, NULL, -1, NULL},
    {"jetstream_v1_golden_2026-05-25_10events.jsonl", 2,
     "did:plc:eizxoqcsvvvarxeb3pjkblrp", 1779719009134740LL, SS_KIND_COMMIT, SS_TYPE_REPOST, SS_OP_CREATE,
     "app.bsky.feed.repost", "3mmoojpbade2i", "3mmoojpbi5e2i",
     "bafyreiedbile4hfy44rhrg5mlpegnvbuolazgxthmho2iredl4ciqdhywy", 206, 230,
     0LL, NULL, NULL, -1, NULL},
    {"jetstream_v1_golden_2026-05-25_10events.jsonl", 3,
     "did:plc:mxwlsvdgs6tn75lq6jrr2vp7", 1779719009140413LL, SS_KIND_COMMIT, SS_TYPE_FOLLOW, SS_OP_CREATE,
     "app.bsky.graph.follow", "3mmoojocxvr2s", "3mmoojodv7b2s",
     "bafyreib25swk3a6waplk2ie75u4a3qfejnkoiezfowuz7sa74i7tief3di", 207, 117,
     0LL, NULL, NULL, -1, NULL},
    {"jetstream_v1_golden_2026-05-25_10events.jsonl", 4,
     "did:plc:o6t5vwyr7ae73foww7bgye4r", 1779719010689411LL, SS_KIND_COMMIT, SS_TYPE_OTHER, SS_OP_UPDATE,
     "app.bsky.actor.profile", "self", "3mmoojqsbjf2d",
     "bafyreib257dpti3w5iitklrsx66dg3cmg3urfbogfksigjd5ie4r6v5cj4", 199, 679,
     0LL, NULL, NULL, -1, NULL},
    {"jetstream_v1_golden_2026-05-25_10events.jsonl", 5,
     "did:plc:3xnadku4kemqnycbweqnvgzx", 1779719009153272LL, SS_KIND_COMMIT, SS_TYPE_OTHER, SS_OP_DELETE,
     "org.hypercerts.claim.activity", "3mmontn3gnc2e", "3mmoojpae7c2e",
     NULL, 0, 0,
     0LL, NULL, NULL, -1, NULL},
    {"jetstream_v1_golden_2026-05-25_10events.jsonl", 6,
     "did:plc:qlhxnyjaacdu5jvapiqtbgqg", 1779719010416808LL, SS_KIND_COMMIT, SS_TYPE_OTHER, SS_OP_UPDATE,
     "place.stream.broadcast.origin", "did:plc:qlhxnyjaacdu5jvapiqtbgqg::did:web:prod-sea0.stream.place", "3mmoojqaufi2w",
     "bafyreibk2m3ujbeckwgyvgi3bjucfnqj35xjynqswmnywd5a3thnrnzv6m", 266, 338,
     0LL, NULL, NULL, -1, NULL},
    {"jetstream_v1_golden_2026-05-25_10events.jsonl", 7,
     "did:plc:g4ut2w5755qxi3fe7mfs72p4", 1779719010267528LL, SS_KIND_IDENTITY, SS_TYPE_IDENTITY, SS_OP_NONE,
     NULL, NULL, NULL,
     NULL, 0, 0,
     30340180350LL, "2026-05-25T14:23:29.950Z", NULL, -1, NULL},
    {"jetstream_v1_golden_2026-05-25_10events.jsonl", 8,
     "did:plc:g4ut2w5755qxi3fe7mfs72p4", 1779719010272410LL, SS_KIND_ACCOUNT, SS_TYPE_ACCOUNT, SS_OP_NONE,
     NULL, NULL, NULL,
     NULL, 0, 0,
     30340180351LL, "2026-05-25T14:23:29.950Z", NULL, 1, NULL},
    {"jetstream_v1_golden_2026-05-25_10events.jsonl", 9,
     "did:plc:2lv5zdhr6aqncw46v7zgxbio", 1779719009462151LL, SS_KIND_COMMIT, SS_TYPE_BLOCK, SS_OP_CREATE,
     "app.bsky.graph.block", "3mmoojpduny2w", "3mmoojpebea2w",
     "bafyreibnk2z6xovbsfdcw2ispl7idhen7dxdomemg4i4q6eq6hlb34prte", 206, 116,
     0LL, NULL, NULL, -1, NULL},
    {"jetstream_v1_misc_2025-01_microcosm_7events.jsonl", 0,
     "did:plc:icprmty6ticzracr5urz4uum", 1736448492661668LL, SS_KIND_COMMIT, SS_TYPE_LIKE, SS_OP_CREATE,
     "app.bsky.feed.like", "3lfddpt5djw2c", "3lfddpt5qa62c",
     "bafyreidgcs2id7nsbp6co42ind2wcig3riwcvypwan6xdywyfqklovhdjq", 204, 228,
     0LL, NULL, NULL, -1, NULL},
    {"jetstream_v1_misc_2025-01_microcosm_7events.jsonl", 1,
     "did:plc:tcmiubbjtkwhmnwmrvr2eqnx", 1736453696817289LL, SS_KIND_COMMIT, SS_TYPE_OTHER, SS_OP_UPDATE,
     "app.bsky.actor.profile", "self", "3lfdikw7q772c",
     "bafyreiem4j5p7duz67negvqarq3s5h7o45fvytevhrzkkn2p6eqdkcf74m", 199, 687,
     0LL, NULL, NULL, -1, NULL},
    {"jetstream_v1_misc_2025-01_microcosm_7events.jsonl", 2,
     "did:plc:3pa2ss4l2sqzhy6wud4btqsj", 1736448492690783LL, SS_KIND_COMMIT, SS_TYPE_LIKE, SS_OP_DELETE,
     "app.bsky.feed.like", "3lbiu72lczk2w", "3lfddpt7vnx24",
     NULL, 0, 0,
     0LL, NULL, NULL, -1, NULL},
    {"jetstream_v1_misc_2025-01_microcosm_7events.jsonl", 3,
     "did:plc:zsgqovouzm2gyksjkqrdodsw", 1736451739215876LL, SS_KIND_ACCOUNT, SS_TYPE_ACCOUNT, SS_OP_NONE,
     NULL, NULL, NULL,
     NULL, 0, 0,
     3040934738LL, "2025-01-09T19:42:18.972Z", NULL, 0, "deleted"},
    {"jetstream_v1_misc_2025-01_microcosm_7events.jsonl", 4,
     "did:plc:l4jb3hkq7lrblferbywxkiol", 1736451745611273LL, SS_KIND_ACCOUNT, SS_TYPE_ACCOUNT, SS_OP_NONE,
     NULL, NULL, NULL,
     NULL, 0, 0,
     3040939563LL, "2025-01-09T19:42:22.035Z", NULL, 0, "deactivated"},
    {"jetstream_v1_misc_2025-01_microcosm_7events.jsonl", 5,
     "did:plc:nct6zfb2j4emoj4yjomxwml2", 1736451747292706LL, SS_KIND_ACCOUNT, SS_TYPE_ACCOUNT, SS_OP_NONE,
     NULL, NULL, NULL,
     NULL, 0, 0,
     3040940775LL, "2025-01-09T19:42:26.924Z", NULL, 1, NULL},
    {"jetstream_v1_misc_2025-01_microcosm_7events.jsonl", 6,
     "did:plc:ai3dzf35cth7s3st7n7jsd7r", 1743526687419798LL, SS_KIND_COMMIT, SS_TYPE_POST, SS_OP_CREATE,
     "app.bsky.feed.post", "3llrdsglqdc2s", "3llrdsginou2i",
     "bafyreidofvwoqvd2cnzbun6dkzgfucxh57tirf3ohhde7lsvh4fu3jehgy", 204, 134,
     0LL, NULL, NULL, -1, NULL},
    {"jetstream_v1_misc_2025-09-10_atproto-crates_5events.jsonl", 0,
     "did:plc:yn72uqr4ihkjfbz7us7buqsq", 1757517640675638LL, SS_KIND_ACCOUNT, SS_TYPE_ACCOUNT, SS_OP_NONE,
     NULL, NULL, NULL,
     NULL, 0, 0,
     13206502767LL, "2025-09-10T15:20:40.439Z", NULL, 0, "takendown"},
    {"jetstream_v1_misc_2025-09-10_atproto-crates_5events.jsonl", 1,
     "did:plc:mbuadp4xzlbmc2ncqp3pmtox", 1757517628039893LL, SS_KIND_IDENTITY, SS_TYPE_IDENTITY, SS_OP_NONE,
     NULL, NULL, NULL,
     NULL, 0, 0,
     13206497272LL, "2025-09-10T15:20:27.610Z", "nhieothv.bsky.social", -1, NULL},
    {"jetstream_v1_misc_2025-09-10_atproto-crates_5events.jsonl", 2,
     "did:plc:5ozthefrqdo5kqnxzfgthhpp", 1757519323847323LL, SS_KIND_COMMIT, SS_TYPE_FOLLOW, SS_OP_DELETE,
     "app.bsky.graph.follow", "3lxqxntaew32z", "3lyileto4q52k",
     NULL, 0, 0,
     0LL, NULL, NULL, -1, NULL},
    {"jetstream_v1_misc_2025-09-10_atproto-crates_5events.jsonl", 3,
     "did:plc:suq5ijgyqmsawwf5tskf654x", 1757519323848962LL, SS_KIND_COMMIT, SS_TYPE_LIKE, SS_OP_CREATE,
     "app.bsky.feed.like", "3lyiletddxt2c", "3lyiletdopl2c",
     "bafyreigroo6vhxt62ufcndhaxzas6btq4jmniuz4egszbwuqgiyisqwqoy", 204, 228,
     0LL, NULL, NULL, -1, NULL},
    {"jetstream_v1_misc_2025-09-10_atproto-crates_5events.jsonl", 4,
     "did:plc:mek6cpladv2xrlu2zdykoxgz", 1757519523286358LL, SS_KIND_COMMIT, SS_TYPE_OTHER, SS_OP_UPDATE,
     "app.bsky.actor.profile", "self", "3lyilmalk762z",
     "bafyreifpmgw3podvvm4raq6zewn6jhoa73t7mlgf3f7hty2adb6f2ga7j4", 199, 608,
     0LL, NULL, NULL, -1, NULL},
    {"jetstream_v1_readme_examples_2024-09_4events.jsonl", 0,
     "did:plc:eygmaihciaxprqvxpfvl6flk", 1725911162329308LL, SS_KIND_COMMIT, SS_TYPE_LIKE, SS_OP_CREATE,
     "app.bsky.feed.like", "3l3qo2vuowo2b", "3l3qo2vutsw2b",
     "bafyreidwaivazkwu67xztlmuobx35hs2lnfh3kolmgfmucldvhd3sgzcqi", 204, 228,
     0LL, NULL, NULL, -1, NULL},
    {"jetstream_v1_readme_examples_2024-09_4events.jsonl", 1,
     "did:plc:rfov6bpyztcnedeyyzgfq42k", 1725516666833633LL, SS_KIND_COMMIT, SS_TYPE_FOLLOW, SS_OP_DELETE,
     "app.bsky.graph.follow", "3l3dn7tku762u", "3l3f6nzl3cv2s",
     NULL, 0, 0,
     0LL, NULL, NULL, -1, NULL},
    {"jetstream_v1_readme_examples_2024-09_4events.jsonl", 2,
     "did:plc:ufbl4k27gp6kzas5glhz7fim", 1725516665234703LL, SS_KIND_IDENTITY, SS_TYPE_IDENTITY, SS_OP_NONE,
     NULL, NULL, NULL,
     NULL, 0, 0,
     1409752997LL, "2024-09-05T06:11:04.870Z", "yohenrique.bsky.social", -1, NULL},
    {"jetstream_v1_readme_examples_2024-09_4events.jsonl", 3,
     "did:plc:ufbl4k27gp6kzas5glhz7fim", 1725516665333808LL, SS_KIND_ACCOUNT, SS_TYPE_ACCOUNT, SS_OP_NONE,
     NULL, NULL, NULL,
     NULL, 0, 0,
     1409753013LL, "2024-09-05T06:11:04.870Z", NULL, 1, NULL},
};
#define NEXPECT (sizeof EXPECT / sizeof *EXPECT)

typedef struct {
    char *data;
    size_t len;
} line_t;

static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    ss_buf b;
    ss_buf_init(&b);
    char tmp[4096];
    size_t n;
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0) ss_buf_append(&b, tmp, n);
    fclose(f);
    *len = b.len;
    return b.data;
}

static const char *shared_dir(void) { return ss_shared_dir(); }

/* Line i (0-based, without its '\n') of a sample file, copied to an exact-size heap block
 * so that ASan catches any read past its end. */
static line_t sample_line(const char *file, int want) {
    char path[1024];
    snprintf(path, sizeof path, "%s/samples/%s", shared_dir(), file);
    size_t len = 0;
    char *all = read_file(path, &len);
    if (!all) fail_msg("cannot read %s (set SKYSPOOL_SHARED)", path);
    line_t out = {NULL, 0};
    size_t start = 0;
    int i = 0;
    for (size_t j = 0; j <= len; j++) {
        if (j == len || all[j] == '\n') {
            if (i == want && j > start) {
                out.len = j - start;
                out.data = malloc(out.len);
                memcpy(out.data, all + start, out.len);
                break;
            }
            i++;
            start = j + 1;
        }
    }
    free(all);
    if (!out.data) fail_msg("%s has no line %d", file, want);
    return out;
}

/* The corpus of valid events for the cases that need realistic lines but no exact values:
 * the shared samples (the EXPECT lines) when present, else synth events led by a commit. */
#define NCORPUS_MAX 64
static line_t CORPUS[NCORPUS_MAX];
static size_t NCORPUS;
static int CORPUS_SHARED; /* 1: the corpus is the real samples */

static size_t ncorpus(void) {
    if (NCORPUS) return NCORPUS;
    char probe[1024];
    snprintf(probe, sizeof probe, "samples/%s", EXPECT[0].file);
    char path[2048];
    if (ss_shared_path(probe, path, sizeof path)) {
        CORPUS_SHARED = 1;
        for (size_t i = 0; i < NEXPECT && i < NCORPUS_MAX; i++) CORPUS[NCORPUS++] = sample_line(EXPECT[i].file, EXPECT[i].line);
        return NCORPUS;
    }
    print_message("note: no shared samples in %s: truncation, dedup and mutation cases run on synth events\n", shared_dir());
    ss_synth_params p;
    ss_synth_params_init(&p);
    p.events = 200;
    p.seed = 23;
    ss_synth *g = ss_synth_new(&p);
    assert_non_null(g);
    ss_buf b;
    ss_buf_init(&b);
    for (int64_t i = 0; i < p.events && NCORPUS < 48; i++) {
        assert_int_equal(ss_synth_line(g, i, &b, NULL), 0);
        if (!NCORPUS && !memmem(b.data, b.len, "\"kind\":\"commit\"", 15)) continue;
        CORPUS[NCORPUS].len = b.len;
        CORPUS[NCORPUS].data = malloc(b.len);
        memcpy(CORPUS[NCORPUS].data, b.data, b.len);
        NCORPUS++;
    }
    ss_buf_free(&b);
    ss_synth_free(g);
    return NCORPUS;
}

/* Corpus line i, an exact-size heap copy (the caller frees it), so ASan sees overreads. */
static line_t corpus_line(size_t i) {
    ncorpus();
    line_t out = {malloc(CORPUS[i].len), CORPUS[i].len};
    memcpy(out.data, CORPUS[i].data, out.len);
    return out;
}

static void corpus_free(void) {
    for (size_t i = 0; i < NCORPUS; i++) free(CORPUS[i].data);
    NCORPUS = 0;
}

static void assert_str(ss_str got, const char *want, const char *what) {
    if (!want) {
        if (got.p) fail_msg("%s: want absent, got \"%.*s\"", what, (int)got.n, got.p);
        return;
    }
    if (!got.p || got.n != strlen(want) || memcmp(got.p, want, got.n) != 0)
        fail_msg("%s: want \"%s\", got \"%.*s\"", what, want, (int)got.n, got.p ? got.p : "");
}

/* dedup key of golden line 0, pinned */
#define DEDUP_GOLDEN_0 "f4f328ddaf456bef8a9716448c545333"
static ss_decoder *DEC;
static char *LAST; /* the last document decode_str decoded, alive for its event view */

static int setup(void **state) {
    (void)state;
    DEC = ss_decoder_new(NULL);
    return DEC ? 0 : -1;
}
static int teardown(void **state) {
    (void)state;
    ss_decoder_free(DEC);
    free(LAST);
    return 0;
}

/* Decodes an exact-size copy of s (no NUL after the document, so ASan sees overreads). */
static ss_decode_reason decode_str(const char *s, ss_event *ev) {
    size_t n = strlen(s);
    free(LAST);
    LAST = malloc(n ? n : 1);
    memcpy(LAST, s, n);
    return ss_decode(DEC, LAST, n, ev);
}

static void check_expect(const expect *x, const char *buf, size_t len, const ss_event *ev) {
    char what[160];
    snprintf(what, sizeof what, "%s:%d", x->file, x->line);
    assert_str(ev->did, x->did, what);
    assert_true(ev->time_us == x->time_us);
    assert_int_equal(ev->kind, x->kind);
    assert_int_equal(ev->type, x->type);
    assert_int_equal(ev->op, x->op);
    assert_str(ev->collection, x->collection, what);
    assert_str(ev->rkey, x->rkey, what);
    assert_str(ev->rev, x->rev, what);
    assert_str(ev->cid, x->cid, what);
    if (x->rec_len) {
        assert_ptr_equal(ev->record.p, buf + x->rec_off);
        assert_int_equal(ev->record.n, x->rec_len);
        assert_int_equal(ev->record.p[0], '{');
        assert_int_equal(ev->record.p[ev->record.n - 1], '}');
        const struct ss_json_tok *rt = ss_decoder_record(DEC);
        assert_non_null(rt);
        assert_int_equal(rt->type, SS_JSON_OBJECT);
    } else {
        assert_null(ev->record.p);
        assert_null(ss_decoder_record(DEC));
    }
    assert_true(ev->seq == x->seq);
    assert_str(ev->time, x->time, what);
    assert_str(ev->handle, x->handle, what);
    assert_int_equal(ev->active, x->active);
    assert_str(ev->status, x->status, what);
    assert_ptr_equal(ev->raw, buf);
    assert_int_equal(ev->raw_len, len);
}

/* ---- every sample decodes exactly -------------------------------------------------- */

static void test_samples_exact(void **state) {
    (void)state;
    char probe[2048];
    SS_SHARED_OR_SKIP("samples", probe);
    for (size_t i = 0; i < NEXPECT; i++) {
        const expect *x = &EXPECT[i];
        line_t l = sample_line(x->file, x->line);
        ss_event ev;
        memset(&ev, 0x5A, sizeof ev); /* garbage in: every field must be set by the decoder */
        ss_decode_reason r = ss_decode(DEC, l.data, l.len, &ev);
        if (r != SS_DECODE_OK) fail_msg("%s:%d: %s: %s", x->file, x->line, ss_decode_reason_name(r), ss_decoder_errstr(DEC));
        check_expect(x, l.data, l.len, &ev);

        /* the same with "\n" and "\r\n" line ends: raw excludes them */
        char *nl = malloc(l.len + 2);
        memcpy(nl, l.data, l.len);
        memcpy(nl + l.len, "\r\n", 2);
        assert_int_equal(ss_decode(DEC, nl, l.len + 2, &ev), SS_DECODE_OK);
        check_expect(x, nl, l.len, &ev);
        nl[l.len] = '\n';
        assert_int_equal(ss_decode(DEC, nl, l.len + 1, &ev), SS_DECODE_OK);
        check_expect(x, nl, l.len, &ev);
        free(nl);
        free(l.data);
    }
}

/* Every line of every sample file is covered by EXPECT, so a new sample cannot slip by. */
static void test_samples_all_covered(void **state) {
    (void)state;
    char probe[2048];
    SS_SHARED_OR_SKIP("samples", probe);
    char path[1024];
    snprintf(path, sizeof path, "%s/samples", shared_dir());
    DIR *dir = opendir(path);
    assert_non_null(dir);
    struct dirent *de;
    size_t lines = 0, files = 0;
    while ((de = readdir(dir))) {
        size_t n = strlen(de->d_name);
        if (n < 6 || strcmp(de->d_name + n - 6, ".jsonl") != 0) continue;
        files++;
        char fp[2048];
        snprintf(fp, sizeof fp, "%s/%s", path, de->d_name);
        size_t len = 0;
        char *all = read_file(fp, &len);
        assert_non_null(all);
        size_t start = 0;
        int ln = 0;
        for (size_t j = 0; j <= len; j++) {
            if (j < len && all[j] != '\n') continue;
            if (j > start) {
                ss_event ev;
                ss_decode_reason r = ss_decode(DEC, all + start, j - start, &ev);
                if (r != SS_DECODE_OK) fail_msg("%s:%d: %s", de->d_name, ln, ss_decoder_errstr(DEC));
                int found = 0;
                for (size_t k = 0; k < NEXPECT; k++)
                    if (strcmp(EXPECT[k].file, de->d_name) == 0 && EXPECT[k].line == ln) {
                        check_expect(&EXPECT[k], all + start, j - start, &ev);
                        found = 1;
                    }
                if (!found) fail_msg("%s:%d has no expectation in test_event.c", de->d_name, ln);
                lines++;
            }
            ln++;
            start = j + 1;
        }
        free(all);
    }
    closedir(dir);
    assert_int_equal(files, 4);
    assert_int_equal(lines, NEXPECT);
}

/* ---- building events field by field ---------------------------------------------- */

/* A JSON object as a list of members; value NULL means "leave the member out". */
typedef struct {
    const char *key, *value;
} member;

static void build(ss_buf *b, const member *m, size_t n) {
    ss_buf_putc(b, '{');
    int first = 1;
    for (size_t i = 0; i < n; i++) {
        if (!m[i].value) continue;
        if (!first) ss_buf_putc(b, ',');
        first = 0;
        ss_buf_printf(b, "\"%s\":%s", m[i].key, m[i].value);
    }
    ss_buf_putc(b, '}');
}

enum { SHAPE_COMMIT, SHAPE_DELETE, SHAPE_IDENTITY, SHAPE_ACCOUNT };

/* An event of the given shape, with member `override_key` of the envelope or of the
 * payload (written "commit.rkey") set to override_val (NULL: removed). */
static char *make_event(int shape, const char *override_key, const char *override_val, int *found) {
    member env[] = {
        {"did", "\"did:plc:abc\""}, {"time_us", "1725911162329308"}, {"kind", NULL}, {"commit", NULL},
        {"identity", NULL}, {"account", NULL},
    };
    member commit[] = {
        {"rev", "\"3l3qo2vutsw2b\""}, {"operation", shape == SHAPE_DELETE ? "\"delete\"" : "\"create\""},
        {"collection", "\"app.bsky.feed.like\""}, {"rkey", "\"3l3qo2vuowo2b\""},
        {"record", shape == SHAPE_DELETE ? NULL : "{\"$type\":\"app.bsky.feed.like\",\"subject\":{}}"},
        {"cid", shape == SHAPE_DELETE ? NULL : "\"bafyreidwaivazkwu67xztlmuobx35hs2lnfh3kolmgfmucldvhd3sgzcqi\""},
    };
    member ident[] = {{"did", "\"did:plc:abc\""}, {"seq", "1409752997"}, {"time", "\"2024-09-05T06:11:04.870Z\""},
                      {"handle", "\"a.bsky.social\""}};
    member acct[] = {{"active", "false"}, {"did", "\"did:plc:abc\""}, {"seq", "1409753013"},
                     {"time", "\"2024-09-05T06:11:04.870Z\""}, {"status", "\"deactivated\""}};
    member *pl;
    size_t npl;
    const char *plname;
    switch (shape) {
    case SHAPE_COMMIT:
    case SHAPE_DELETE: pl = commit, npl = 6, plname = "commit", env[2].value = "\"commit\""; break;
    case SHAPE_IDENTITY: pl = ident, npl = 4, plname = "identity", env[2].value = "\"identity\""; break;
    default: pl = acct, npl = 5, plname = "account", env[2].value = "\"account\""; break;
    }
    *found = 0;
    const char *dot = override_key ? strchr(override_key, '.') : NULL;
    if (override_key && !dot) {
        for (size_t i = 0; i < 6; i++)
            if (strcmp(env[i].key, override_key) == 0) env[i].value = override_val, *found = 1;
    } else if (dot) {
        for (size_t i = 0; i < npl; i++)
            if (strcmp(pl[i].key, dot + 1) == 0) pl[i].value = override_val, *found = 1;
    }
    ss_buf inner, out;
    ss_buf_init(&inner);
    ss_buf_init(&out);
    build(&inner, pl, npl);
    for (size_t i = 3; i < 6; i++)
        if (strcmp(env[i].key, plname) == 0 && !(override_key && strcmp(override_key, plname) == 0))
            env[i].value = inner.data;
    build(&out, env, 6);
    ss_buf_free(&inner);
    return out.data;
}

static ss_decode_reason decode_variant(int shape, const char *key, const char *val, ss_event *ev) {
    int found;
    char *s = make_event(shape, key, val, &found);
    if (key) assert_true(found);
    ss_decode_reason r = decode_str(s, ev);
    free(s);
    return r;
}

static void test_built_events_ok(void **state) {
    (void)state;
    ss_event ev;
    assert_int_equal(decode_variant(SHAPE_COMMIT, NULL, NULL, &ev), SS_DECODE_OK);
    assert_int_equal(ev.type, SS_TYPE_LIKE);
    assert_int_equal(decode_variant(SHAPE_DELETE, NULL, NULL, &ev), SS_DECODE_OK);
    assert_int_equal(ev.op, SS_OP_DELETE);
    assert_int_equal(decode_variant(SHAPE_IDENTITY, NULL, NULL, &ev), SS_DECODE_OK);
    assert_str(ev.handle, "a.bsky.social", "handle");
    assert_int_equal(decode_variant(SHAPE_ACCOUNT, NULL, NULL, &ev), SS_DECODE_OK);
    assert_int_equal(ev.active, 0);
    /* optional fields may be absent or null */
    assert_int_equal(decode_variant(SHAPE_IDENTITY, "identity.handle", NULL, &ev), SS_DECODE_OK);
    assert_null(ev.handle.p);
    assert_int_equal(decode_variant(SHAPE_IDENTITY, "identity.handle", "null", &ev), SS_DECODE_OK);
    assert_null(ev.handle.p);
    assert_int_equal(decode_variant(SHAPE_ACCOUNT, "account.status", NULL, &ev), SS_DECODE_OK);
    assert_null(ev.status.p);
    assert_int_equal(decode_variant(SHAPE_ACCOUNT, "account.status", "null", &ev), SS_DECODE_OK);
    /* time_us at the int64 edge */
    assert_int_equal(decode_variant(SHAPE_COMMIT, "time_us", "9223372036854775807", &ev), SS_DECODE_OK);
    assert_true(ev.time_us == INT64_MAX);
    assert_int_equal(decode_variant(SHAPE_COMMIT, "time_us", "0", &ev), SS_DECODE_OK);
    /* deletes carrying a record or cid anyway: ignored */
    assert_int_equal(decode_variant(SHAPE_DELETE, "commit.cid", "\"bafy\"", &ev), SS_DECODE_OK);
    assert_null(ev.cid.p);
    assert_null(ev.record.p);
}

static void test_missing_fields(void **state) {
    (void)state;
    static const struct {
        int shape;
        const char *key;
    } cases[] = {
        {SHAPE_COMMIT, "did"},          {SHAPE_COMMIT, "time_us"},        {SHAPE_COMMIT, "kind"},
        {SHAPE_COMMIT, "commit"},       {SHAPE_COMMIT, "commit.rev"},     {SHAPE_COMMIT, "commit.operation"},
        {SHAPE_COMMIT, "commit.collection"}, {SHAPE_COMMIT, "commit.rkey"}, {SHAPE_COMMIT, "commit.record"},
        {SHAPE_COMMIT, "commit.cid"},   {SHAPE_DELETE, "commit.rev"},     {SHAPE_DELETE, "commit.rkey"},
        {SHAPE_DELETE, "commit.collection"}, {SHAPE_DELETE, "commit.operation"},
        {SHAPE_IDENTITY, "identity"},   {SHAPE_IDENTITY, "identity.did"}, {SHAPE_IDENTITY, "identity.seq"},
        {SHAPE_IDENTITY, "identity.time"}, {SHAPE_ACCOUNT, "account"},    {SHAPE_ACCOUNT, "account.active"},
        {SHAPE_ACCOUNT, "account.did"}, {SHAPE_ACCOUNT, "account.seq"},   {SHAPE_ACCOUNT, "account.time"},
        {SHAPE_IDENTITY, "did"},        {SHAPE_ACCOUNT, "time_us"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        ss_event ev;
        ss_decode_reason r = decode_variant(cases[i].shape, cases[i].key, NULL, &ev);
        if (r != SS_DECODE_MISSING_FIELD)
            fail_msg("missing %s: got %s (%s)", cases[i].key, ss_decode_reason_name(r), ss_decoder_errstr(DEC));
        assert_non_null(strstr(ss_decoder_errstr(DEC), "missing field"));
    }
}

static void test_wrong_types(void **state) {
    (void)state;
    static const struct {
        int shape;
        const char *key, *val;
    } cases[] = {
        {SHAPE_COMMIT, "did", "42"},           {SHAPE_COMMIT, "did", "null"},
        {SHAPE_COMMIT, "did", "[\"did:plc:abc\"]"},
        {SHAPE_COMMIT, "time_us", "\"1725911162329308\""}, {SHAPE_COMMIT, "time_us", "1.5"},
        {SHAPE_COMMIT, "time_us", "1e15"},     {SHAPE_COMMIT, "time_us", "true"},
        {SHAPE_COMMIT, "time_us", "null"},     {SHAPE_COMMIT, "kind", "1"},
        {SHAPE_COMMIT, "commit", "\"x\""},     {SHAPE_COMMIT, "commit", "[]"},
        {SHAPE_COMMIT, "commit.rev", "1"},     {SHAPE_COMMIT, "commit.operation", "{}"},
        {SHAPE_COMMIT, "commit.collection", "false"}, {SHAPE_COMMIT, "commit.rkey", "7"},
        {SHAPE_COMMIT, "commit.record", "\"{}\""}, {SHAPE_COMMIT, "commit.record", "[]"},
        {SHAPE_COMMIT, "commit.record", "null"}, {SHAPE_COMMIT, "commit.cid", "{\"$link\":\"bafy\"}"},
        {SHAPE_IDENTITY, "identity", "7"},     {SHAPE_IDENTITY, "identity.did", "1"},
        {SHAPE_IDENTITY, "identity.seq", "\"1\""}, {SHAPE_IDENTITY, "identity.seq", "1.0"},
        {SHAPE_IDENTITY, "identity.time", "1725516665"}, {SHAPE_IDENTITY, "identity.handle", "1"},
        {SHAPE_ACCOUNT, "account", "null"},    {SHAPE_ACCOUNT, "account.active", "\"true\""},
        {SHAPE_ACCOUNT, "account.active", "1"}, {SHAPE_ACCOUNT, "account.did", "{}"},
        {SHAPE_ACCOUNT, "account.seq", "[1]"}, {SHAPE_ACCOUNT, "account.time", "null"},
        {SHAPE_ACCOUNT, "account.status", "3"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        ss_event ev;
        ss_decode_reason r = decode_variant(cases[i].shape, cases[i].key, cases[i].val, &ev);
        if (r != SS_DECODE_WRONG_TYPE)
            fail_msg("%s=%s: got %s (%s)", cases[i].key, cases[i].val, ss_decode_reason_name(r), ss_decoder_errstr(DEC));
    }
    ss_event ev;
    assert_int_equal(decode_str("[]", &ev), SS_DECODE_WRONG_TYPE);
    assert_int_equal(decode_str("\"x\"", &ev), SS_DECODE_WRONG_TYPE);
    assert_int_equal(decode_str("null", &ev), SS_DECODE_WRONG_TYPE);
}

static void test_bad_values(void **state) {
    (void)state;
    static const struct {
        int shape;
        const char *key, *val;
    } cases[] = {
        {SHAPE_COMMIT, "time_us", "-1"},
        {SHAPE_COMMIT, "time_us", "-1725911162329308"},
        {SHAPE_COMMIT, "time_us", "9223372036854775808"},
        {SHAPE_COMMIT, "time_us", "99999999999999999999999999"},
        {SHAPE_COMMIT, "time_us", "-9223372036854775809"},
        {SHAPE_COMMIT, "kind", "\"comit\""},
        {SHAPE_COMMIT, "kind", "\"\""},
        {SHAPE_COMMIT, "commit.operation", "\"insert\""},
        {SHAPE_COMMIT, "commit.operation", "\"c\""},
        {SHAPE_COMMIT, "did", "\"\""},
        {SHAPE_COMMIT, "commit.collection", "\"\""},
        {SHAPE_COMMIT, "commit.rkey", "\"\""},
        {SHAPE_COMMIT, "commit.rev", "\"\""},
        {SHAPE_COMMIT, "commit.cid", "\"\""},
        {SHAPE_IDENTITY, "identity.seq", "-5"},
        {SHAPE_ACCOUNT, "account.seq", "18446744073709551616"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        ss_event ev;
        ss_decode_reason r = decode_variant(cases[i].shape, cases[i].key, cases[i].val, &ev);
        if (r != SS_DECODE_BAD_VALUE)
            fail_msg("%s=%s: got %s (%s)", cases[i].key, cases[i].val, ss_decode_reason_name(r), ss_decoder_errstr(DEC));
    }
    /* duplicate known keys are ambiguous */
    ss_event ev;
    assert_int_equal(decode_str("{\"did\":\"did:plc:a\",\"did\":\"did:plc:b\",\"time_us\":1,\"kind\":\"identity\","
                                "\"identity\":{\"did\":\"did:plc:a\",\"seq\":1,\"time\":\"t\"}}", &ev),
                     SS_DECODE_BAD_VALUE);
    assert_non_null(strstr(ss_decoder_errstr(DEC), "duplicate key did"));
    assert_int_equal(decode_str("{\"did\":\"did:plc:a\",\"time_us\":1,\"kind\":\"identity\","
                                "\"identity\":{\"did\":\"did:plc:a\",\"seq\":1,\"seq\":2,\"time\":\"t\"}}", &ev),
                     SS_DECODE_BAD_VALUE);
    /* quoted input in messages stays one line of valid UTF-8, even when cut */
    ss_buf kb;
    ss_buf_init(&kb);
    ss_buf_puts(&kb, "{\"did\":\"did:plc:a\",\"time_us\":1,\"kind\":\"a\\nb");
    for (int i = 0; i < 200; i++) ss_buf_puts(&kb, "\xe2\x82\xac");
    ss_buf_puts(&kb, "\"}");
    assert_int_equal(decode_str(kb.data, &ev), SS_DECODE_BAD_VALUE);
    const char *es = ss_decoder_errstr(DEC);
    assert_true(ss_utf8_valid(es, strlen(es), NULL));
    assert_null(strchr(es, '\n'));
    assert_non_null(strstr(es, "unknown kind \"a?b\xe2\x82\xac"));
    ss_buf_free(&kb);
    /* a duplicate unknown key is fine */
    assert_int_equal(decode_str("{\"x\":1,\"x\":2,\"did\":\"did:plc:a\",\"time_us\":1,\"kind\":\"identity\","
                                "\"identity\":{\"did\":\"did:plc:a\",\"seq\":1,\"time\":\"t\"}}", &ev),
                     SS_DECODE_OK);
}

static void test_unknown_keys_and_legacy(void **state) {
    (void)state;
    ss_event ev;
    const char *s =
        "{\"cursor\":1725911162329309,\"did\":\"did:plc:abc\",\"extra\":{\"kind\":\"account\",\"did\":5},"
        "\"time_us\":1725911162329308,\"kind\":\"commit\",\"commit\":{\"x\":[1,{\"rev\":2}],\"rev\":\"r1\","
        "\"operation\":\"update\",\"collection\":\"app.bsky.feed.post\",\"rkey\":\"k1\","
        "\"record\":{\"text\":\"hi\"},\"cid\":\"c1\",\"future\":null},\"account\":7}";
    assert_int_equal(decode_str(s, &ev), SS_DECODE_OK);
    assert_int_equal(ev.op, SS_OP_UPDATE);
    assert_int_equal(ev.type, SS_TYPE_POST);
    assert_str(ev.rev, "r1", "rev");
    assert_str(ev.record, "{\"text\":\"hi\"}", "record");

    /* legacy shape, before 2024-10-31 */
    assert_int_equal(decode_str("{\"did\":\"did:plc:abc\",\"time_us\":1725000000000000,\"type\":\"com\","
                                "\"commit\":{\"rev\":\"r\",\"type\":\"c\",\"collection\":\"app.bsky.graph.follow\","
                                "\"rkey\":\"k\",\"record\":{\"subject\":\"did:plc:x\"},\"cid\":\"bafy\"}}", &ev),
                     SS_DECODE_OK);
    assert_int_equal(ev.kind, SS_KIND_COMMIT);
    assert_int_equal(ev.op, SS_OP_CREATE);
    assert_int_equal(ev.type, SS_TYPE_FOLLOW);
    assert_int_equal(decode_str("{\"did\":\"did:plc:abc\",\"time_us\":1,\"type\":\"com\",\"commit\":{\"rev\":\"r\","
                                "\"type\":\"d\",\"collection\":\"app.bsky.feed.like\",\"rkey\":\"k\"}}", &ev),
                     SS_DECODE_OK);
    assert_int_equal(ev.op, SS_OP_DELETE);
    assert_int_equal(decode_str("{\"did\":\"did:plc:abc\",\"time_us\":1,\"type\":\"com\",\"commit\":{\"rev\":\"r\","
                                "\"type\":\"u\",\"collection\":\"app.bsky.feed.like\",\"rkey\":\"k\",\"record\":{},"
                                "\"cid\":\"c\"}}", &ev),
                     SS_DECODE_OK);
    assert_int_equal(ev.op, SS_OP_UPDATE);
    assert_int_equal(decode_str("{\"did\":\"did:plc:abc\",\"time_us\":1,\"type\":\"id\",\"identity\":{\"did\":"
                                "\"did:plc:abc\",\"seq\":9,\"time\":\"t\",\"handle\":\"h\"}}", &ev),
                     SS_DECODE_OK);
    assert_int_equal(ev.kind, SS_KIND_IDENTITY);
    assert_int_equal(ev.seq, 9);
    assert_int_equal(decode_str("{\"did\":\"did:plc:abc\",\"time_us\":1,\"type\":\"acc\",\"account\":{\"did\":"
                                "\"did:plc:abc\",\"seq\":9,\"time\":\"t\",\"active\":true}}", &ev),
                     SS_DECODE_OK);
    assert_int_equal(ev.kind, SS_KIND_ACCOUNT);
    assert_int_equal(ev.active, 1);
    assert_int_equal(decode_str("{\"did\":\"did:plc:abc\",\"time_us\":1,\"type\":\"xyz\"}", &ev), SS_DECODE_BAD_VALUE);
    assert_int_equal(decode_str("{\"did\":\"did:plc:abc\",\"time_us\":1,\"type\":\"com\",\"commit\":{\"rev\":\"r\","
                                "\"type\":\"x\",\"collection\":\"c\",\"rkey\":\"k\"}}", &ev),
                     SS_DECODE_BAD_VALUE);

    /* escaped strings are unescaped (into the decoder's arena) */
    assert_int_equal(decode_str("{\"did\":\"did:plc:\\u0061bc\",\"time_us\":1,\"kind\":\"commit\",\"commit\":{"
                                "\"rev\":\"r\",\"operation\":\"delete\",\"collection\":\"app.bsky.feed\\u002elike\","
                                "\"rkey\":\"k\\/1\"}}", &ev),
                     SS_DECODE_OK);
    assert_str(ev.did, "did:plc:abc", "did");
    assert_str(ev.collection, "app.bsky.feed.like", "collection");
    assert_int_equal(ev.type, SS_TYPE_LIKE);
    assert_str(ev.rkey, "k/1", "rkey");
}

/* ---- malformed bytes ----------------------------------------------------------------- */

static void test_truncated_every_offset(void **state) {
    (void)state;
    size_t total = 0;
    for (size_t i = 0; i < ncorpus(); i++) {
        line_t l = corpus_line(i);
        for (size_t n = 0; n < l.len; n++) {
            char *c = malloc(n ? n : 1);
            memcpy(c, l.data, n);
            ss_event ev;
            ss_decode_reason r = ss_decode(DEC, c, n, &ev);
            if (r != SS_DECODE_NOT_JSON)
                fail_msg("corpus line %zu cut at %zu: got %s (%s)", i, n,
                         ss_decode_reason_name(r), ss_decoder_errstr(DEC));
            free(c);
            total++;
        }
        free(l.data);
    }
    assert_true(total > 10000);
}

/* Replaces the post text of golden line 1 with `text` (raw JSON string body). */
static ss_decode_reason decode_post_text(const char *text, ss_event *ev) {
    char s[1024];
    snprintf(s, sizeof s,
             "{\"did\":\"did:plc:q235v55g5unth4zjjdpacfdr\",\"time_us\":1779719009157119,\"kind\":\"commit\","
             "\"commit\":{\"rev\":\"3mmoojpaqkn2z\",\"operation\":\"create\",\"collection\":\"app.bsky.feed.post\","
             "\"rkey\":\"3mmoojp4cd223\",\"record\":{\"$type\":\"app.bsky.feed.post\",\"langs\":[\"en\"],"
             "\"text\":\"%s\"},\"cid\":\"bafyreicl7rzkxdrm4zz2ehbx52kuk3mvfow6p3gzfys72r5grvskxoswy4\"}}",
             text);
    return decode_str(s, ev);
}

static void test_bad_utf8_and_surrogates(void **state) {
    (void)state;
    static const char *bad[] = {
        "a\xff", "\xfe", "\x80", "x\xbf", "\xc0\xaf", "\xc1\x81", "\xe0\x80\xaf", "\xe0\x9f\xbf",
        "\xf0\x80\x80\xaf", "\xf0\x8f\xbf\xbf", "\xed\xa0\x80", "\xed\xbf\xbf", "\xf4\x90\x80\x80",
        "\xf7\xbf\xbf\xbf", "\xf8\x88\x80\x80\x80", "\xe2\x82", "\xe2\x82x", "\xf0\x9f\x98", "\xc3",
        "\\ud83e", "\\udc00", "\\ud83ex", "\\ud83e\\u0041", "\\udc00\\ud83e", "\\ud83e\\ud83e",
        "0123456789abcdef\\uDFFF",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        ss_event ev;
        ss_decode_reason r = decode_post_text(bad[i], &ev);
        if (r != SS_DECODE_BAD_UTF8) fail_msg("case %zu: got %s (%s)", i, ss_decode_reason_name(r), ss_decoder_errstr(DEC));
    }
    static const char *good[] = {
        "plain", "\xc3\xa9t\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\xa6\x8b butterfly", "\\ud83e\\udd8b",
        "\xef\xbf\xbd", "\xf4\x8f\xbf\xbf", "\\u00e9\\n\\\"q\\\"",
    };
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        ss_event ev;
        ss_decode_reason r = decode_post_text(good[i], &ev);
        if (r != SS_DECODE_OK) fail_msg("good %zu: got %s (%s)", i, ss_decode_reason_name(r), ss_decoder_errstr(DEC));
        assert_int_equal(ev.type, SS_TYPE_POST);
    }
    /* a bad byte in the envelope too */
    ss_event ev;
    assert_int_equal(decode_str("{\"did\":\"did:plc:\xff\",\"time_us\":1,\"kind\":\"identity\"}", &ev), SS_DECODE_BAD_UTF8);
}

static void test_sizes_depth_and_garbage(void **state) {
    (void)state;
    ss_event ev;
    /* a 3 MiB string in the record: over the 2 MiB default */
    size_t big = 3u << 20;
    char *text = malloc(big + 1);
    memset(text, 'a', big);
    text[big] = '\0';
    char *s = malloc(big + 1024);
    int n = snprintf(s, big + 1024,
                     "{\"did\":\"did:plc:a\",\"time_us\":1,\"kind\":\"commit\",\"commit\":{\"rev\":\"r\","
                     "\"operation\":\"create\",\"collection\":\"app.bsky.feed.post\",\"rkey\":\"k\","
                     "\"record\":{\"text\":\"%s\"},\"cid\":\"c\"}}",
                     text);
    assert_int_equal(ss_decode(DEC, s, (size_t)n, &ev), SS_DECODE_TOO_LARGE);
    assert_non_null(strstr(ss_decoder_errstr(DEC), "over the limit"));
    /* the same document passes with a larger limit */
    ss_decode_limits lim = {4u << 20, 0};
    ss_decoder *d4 = ss_decoder_new(&lim);
    assert_int_equal(ss_decode(d4, s, (size_t)n, &ev), SS_DECODE_OK);
    assert_int_equal(ev.record.n, big + strlen("{\"text\":\"\"}"));
    ss_decoder_free(d4);
    /* exactly at a small limit, and one byte over */
    const char *small = "{\"did\":\"did:plc:a\",\"time_us\":1,\"kind\":\"identity\",\"identity\":{\"did\":\"d\",\"seq\":1,\"time\":\"t\"}}";
    ss_decode_limits l2 = {strlen(small), 0};
    ss_decoder *ds = ss_decoder_new(&l2);
    assert_int_equal(ss_decode(ds, small, strlen(small), &ev), SS_DECODE_OK);
    char *small2 = malloc(strlen(small) + 2);
    memcpy(small2, small, strlen(small));
    memcpy(small2 + strlen(small), "\n", 1);
    assert_int_equal(ss_decode(ds, small2, strlen(small) + 1, &ev), SS_DECODE_OK); /* the '\n' is not counted */
    memcpy(small2 + strlen(small), " \n", 2);
    assert_int_equal(ss_decode(ds, small2, strlen(small) + 2, &ev), SS_DECODE_TOO_LARGE);
    free(small2);
    ss_decoder_free(ds);
    free(text);
    free(s);

    /* nesting 10,000 deep inside the record */
    size_t depth = 10000;
    ss_buf b;
    ss_buf_init(&b);
    ss_buf_puts(&b, "{\"did\":\"did:plc:a\",\"time_us\":1,\"kind\":\"commit\",\"commit\":{\"rev\":\"r\","
                    "\"operation\":\"create\",\"collection\":\"x.y\",\"rkey\":\"k\",\"record\":{\"a\":");
    for (size_t i = 0; i < depth; i++) ss_buf_putc(&b, '[');
    for (size_t i = 0; i < depth; i++) ss_buf_putc(&b, ']');
    ss_buf_puts(&b, "},\"cid\":\"c\"}}");
    assert_int_equal(ss_decode(DEC, b.data, b.len, &ev), SS_DECODE_TOO_DEEP);
    ss_buf_free(&b);
    /* depth 64 in total is allowed, 65 is not: envelope(1) commit(2) record(3) + arrays */
    for (int extra = 61; extra <= 62; extra++) {
        ss_buf_init(&b);
        ss_buf_puts(&b, "{\"did\":\"did:plc:a\",\"time_us\":1,\"kind\":\"commit\",\"commit\":{\"rev\":\"r\","
                        "\"operation\":\"create\",\"collection\":\"x.y\",\"rkey\":\"k\",\"record\":{\"a\":");
        for (int i = 0; i < extra; i++) ss_buf_putc(&b, '[');
        for (int i = 0; i < extra; i++) ss_buf_putc(&b, ']');
        ss_buf_puts(&b, "},\"cid\":\"c\"}}");
        assert_int_equal(ss_decode(DEC, b.data, b.len, &ev), extra == 61 ? SS_DECODE_OK : SS_DECODE_TOO_DEEP);
        ss_buf_free(&b);
    }

    /* empty input and whitespace */
    assert_int_equal(ss_decode(DEC, "", 0, &ev), SS_DECODE_NOT_JSON);
    assert_int_equal(ss_decode(DEC, "\n", 1, &ev), SS_DECODE_NOT_JSON);
    assert_int_equal(ss_decode(DEC, "\r\n", 2, &ev), SS_DECODE_NOT_JSON);
    assert_int_equal(decode_str("   ", &ev), SS_DECODE_NOT_JSON);

    /* trailing garbage after a valid event */
    line_t l = corpus_line(0);
    static const char *tails[] = {"x", "}", "{}", ",", "\n{}", " 1", "\n\x01", "\0"};
    for (size_t i = 0; i < sizeof tails / sizeof *tails; i++) {
        size_t tl = i == 7 ? 1 : strlen(tails[i]);
        char *c = malloc(l.len + tl);
        memcpy(c, l.data, l.len);
        memcpy(c + l.len, tails[i], tl);
        ss_decode_reason r = ss_decode(DEC, c, l.len + tl, &ev);
        if (r != SS_DECODE_NOT_JSON) fail_msg("tail %zu: %s", i, ss_decode_reason_name(r));
        free(c);
    }
    /* trailing whitespace (even a blank line) is fine */
    char *c = malloc(l.len + 3);
    memcpy(c, l.data, l.len);
    memcpy(c + l.len, " \n\n", 3);
    assert_int_equal(ss_decode(DEC, c, l.len + 3, &ev), SS_DECODE_OK);
    free(c);
    free(l.data);
}

/* ---- dedup keys ------------------------------------------------------------------- */

/* The buffer's meta field: "<key hex> <time_us>", parsed back exactly; anything else refused. */
static void test_meta_field(void **state) {
    (void)state;
    uint8_t key[16], back[16];
    for (int i = 0; i < 16; i++) key[i] = (uint8_t)(0x11 * i);
    const int64_t times[] = {1754524800000278, 0, -1, 1, INT64_MAX, -INT64_MAX};
    char m[SS_EVENT_META_MAX + 1];
    for (size_t i = 0; i < sizeof times / sizeof times[0]; i++) {
        size_t n = ss_event_meta_format(key, times[i], m);
        assert_true(n <= SS_EVENT_META_MAX);
        m[n] = 0;
        int64_t t = 12345;
        memset(back, 0, sizeof back);
        assert_int_equal(ss_event_meta_parse(m, n, back, &t), 0);
        assert_memory_equal(key, back, 16);
        assert_true(t == times[i]);
    }
    ss_event_meta_format(key, 1754524800000278, m);
    assert_memory_equal(m, "00112233445566778899aabbccddeeff 1754524800000278", 49);
    /* upper-case hex is accepted */
    int64_t t;
    assert_int_equal(ss_event_meta_parse("00112233445566778899AABBCCDDEEFF 7", 34, back, &t), 0);
    assert_memory_equal(key, back, 16);
    assert_true(t == 7);
    static const char *const bad[] = {
        "",
        "00112233445566778899aabbccddeeff",                       /* no time */
        "00112233445566778899aabbccddeeff ",                      /* empty time */
        "00112233445566778899aabbccddeeff -",                     /* sign only */
        "00112233445566778899aabbccddeeffx1754524800000278",      /* wrong separator */
        "00112233445566778899aabbccddeef 1754524800000278",       /* 31 hex */
        "00112233445566778899aabbccddeefg 1754524800000278",      /* not hex */
        "00112233445566778899aabbccddeeff 17545248000002x8",      /* not a number */
        "00112233445566778899aabbccddeeff 1754524800000278 ",     /* trailing space */
        "00112233445566778899aabbccddeeff 9223372036854775808",   /* INT64_MAX + 1 */
        "00112233445566778899aabbccddeeff 99999999999999999999",  /* 20 digits */
        "00112233445566778899aabbccddeeff +1",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(ss_event_meta_parse(bad[i], strlen(bad[i]), back, &t), -1);
}

static void test_dedup_keys(void **state) {
    (void)state;
    ss_event ev;
    char hex[SS_DEDUP_HEX_LEN + 1], hex2[SS_DEDUP_HEX_LEN + 1];
    line_t l = corpus_line(0);
    assert_int_equal(ss_decode(DEC, l.data, l.len, &ev), SS_DECODE_OK);
    ss_event_dedup_hex(&ev, hex);
    assert_int_equal(strlen(hex), 32);
    /* pinned: the key is stored in Redis and must never change */
    if (CORPUS_SHARED) assert_string_equal(hex, DEDUP_GOLDEN_0);
    else print_message("skip - the pinned dedup key of golden line 0: no shared samples\n");

    /* the key covers (did, collection, rkey, rev, operation) and nothing else */
    ss_event a = ev;
    uint8_t k0[16], k1[16];
    ss_event_dedup_key(&a, k0);
    a.time_us = 5, a.record.n = 3, a.cid.n = 1;
    ss_event_dedup_key(&a, k1);
    assert_memory_equal(k0, k1, 16);
    const char *what[] = {"did", "collection", "rkey", "rev", "op"};
    for (int f = 0; f < 5; f++) {
        a = ev;
        switch (f) {
        case 0: a.did.n--; break;
        case 1: a.collection.n--; break;
        case 2: a.rkey.n--; break;
        case 3: a.rev.n--; break;
        case 4: a.op = SS_OP_DELETE; break;
        }
        ss_event_dedup_key(&a, k1);
        if (memcmp(k0, k1, 16) == 0) fail_msg("changing %s does not change the key", what[f]);
    }
    /* field boundaries are unambiguous */
    a = ev;
    a.rkey = (ss_str){"ab", 2}, a.rev = (ss_str){"c", 1};
    ss_event_dedup_key(&a, k0);
    a.rkey = (ss_str){"a", 1}, a.rev = (ss_str){"bc", 2};
    ss_event_dedup_key(&a, k1);
    assert_memory_not_equal(k0, k1, 16);

    /* identity and account: (did, seq, kind) */
    ss_event id = {0}, ac = {0};
    id.kind = SS_KIND_IDENTITY, id.did = (ss_str){"did:plc:x", 9}, id.seq = 42;
    ac = id;
    ac.kind = SS_KIND_ACCOUNT;
    ss_event_dedup_hex(&id, hex);
    ss_event_dedup_hex(&ac, hex2);
    assert_string_not_equal(hex, hex2);
    ss_event id2 = id;
    id2.time = (ss_str){"t", 1}, id2.time_us = 99, id2.handle = (ss_str){"h", 1};
    ss_event_dedup_hex(&id2, hex2);
    assert_string_equal(hex, hex2);
    id2.seq = 43;
    ss_event_dedup_hex(&id2, hex2);
    assert_string_not_equal(hex, hex2);

    /* all samples have distinct keys, and re-decoding gives the same key */
    char keys[NCORPUS_MAX][SS_DEDUP_HEX_LEN + 1];
    for (size_t i = 0; i < ncorpus(); i++) {
        line_t li = corpus_line(i);
        assert_int_equal(ss_decode(DEC, li.data, li.len, &ev), SS_DECODE_OK);
        ss_event_dedup_hex(&ev, keys[i]);
        assert_int_equal(ss_decode(DEC, li.data, li.len, &ev), SS_DECODE_OK);
        ss_event_dedup_hex(&ev, hex);
        assert_string_equal(keys[i], hex);
        for (size_t j = 0; j < i; j++) assert_string_not_equal(keys[i], keys[j]);
        free(li.data);
    }
    free(l.data);
}

/* skyspool's own sync kind: the firehose decoder's shape, its checks, its own dedup key. */
static void test_sync_kind(void **state) {
    (void)state;
    ss_decoder *d = ss_decoder_new(NULL);
    ss_event ev;
    const char *ok = "{\"did\":\"did:plc:s1\",\"time_us\":1750000000000000,\"kind\":\"sync\",\"sync\":{\"did\":"
                     "\"did:plc:s1\",\"rev\":\"3abc\",\"seq\":42,\"time\":\"2026-05-25T14:23:28.778Z\"}}";
    assert_int_equal(ss_decode(d, ok, strlen(ok), &ev), SS_DECODE_OK);
    assert_int_equal(ev.kind, SS_KIND_SYNC);
    assert_int_equal(ev.type, SS_TYPE_SYNC);
    assert_int_equal(ev.seq, 42);
    assert_true(ss_str_eq(ev.rev, "3abc"));
    assert_true(ss_str_eq(ev.claimed_time, "2026-05-25T14:23:28.778Z"));
    uint8_t ks[16], ki[16];
    ss_event_dedup_key(&ev, ks);
    ev.kind = SS_KIND_IDENTITY; /* same did and seq: another key */
    ss_event_dedup_key(&ev, ki);
    assert_memory_not_equal(ks, ki, 16);
    const char *norev = "{\"did\":\"did:plc:s1\",\"time_us\":1,\"kind\":\"sync\",\"sync\":{\"did\":\"did:plc:s1\","
                        "\"seq\":42,\"time\":\"t\"}}";
    assert_int_equal(ss_decode(d, norev, strlen(norev), &ev), SS_DECODE_MISSING_FIELD);
    const char *nobody = "{\"did\":\"did:plc:s1\",\"time_us\":1,\"kind\":\"sync\"}";
    assert_int_equal(ss_decode(d, nobody, strlen(nobody), &ev), SS_DECODE_MISSING_FIELD);
    const char *badseq = "{\"did\":\"did:plc:s1\",\"time_us\":1,\"kind\":\"sync\",\"sync\":{\"did\":\"did:plc:s1\","
                         "\"rev\":\"3abc\",\"seq\":\"42\",\"time\":\"t\"}}";
    assert_int_equal(ss_decode(d, badseq, strlen(badseq), &ev), SS_DECODE_WRONG_TYPE);
    ss_decoder_free(d);
}

static void test_names(void **state) {
    (void)state;
    static const char *names[] = {"post", "like", "repost", "follow", "block", "identity", "account", "other", "sync"};
    assert_int_equal(sizeof names / sizeof names[0], SS_TYPE__COUNT);
    for (int t = 0; t < SS_TYPE__COUNT; t++) {
        assert_string_equal(ss_type_name((ss_type)t), names[t]);
        assert_int_equal(ss_type_from_name(names[t]), t);
    }
    assert_int_equal(ss_type_from_name("likes"), -1);
    assert_int_equal(ss_type_from_collection("app.bsky.feed.post", 18), SS_TYPE_POST);
    assert_int_equal(ss_type_from_collection("app.bsky.feed.like", 18), SS_TYPE_LIKE);
    assert_int_equal(ss_type_from_collection("app.bsky.feed.repost", 20), SS_TYPE_REPOST);
    assert_int_equal(ss_type_from_collection("app.bsky.graph.follow", 21), SS_TYPE_FOLLOW);
    assert_int_equal(ss_type_from_collection("app.bsky.graph.block", 20), SS_TYPE_BLOCK);
    assert_int_equal(ss_type_from_collection("app.bsky.feed.postgate", 22), SS_TYPE_OTHER);
    assert_int_equal(ss_type_from_collection("app.bsky.feed.pos", 17), SS_TYPE_OTHER);
    assert_int_equal(ss_type_from_collection("app.bsky.graph.listitem", 23), SS_TYPE_OTHER);
    assert_string_equal(ss_op_name(SS_OP_CREATE), "create");
    assert_string_equal(ss_op_name(SS_OP_UPDATE), "update");
    assert_string_equal(ss_op_name(SS_OP_DELETE), "delete");
    assert_string_equal(ss_op_name(SS_OP_NONE), "");
    static const char *reasons[] = {"ok", "not_json", "bad_utf8", "missing_field", "wrong_type", "bad_value",
                                    "too_large", "too_deep", "oom"};
    for (int r = 0; r <= SS_DECODE_OOM; r++) assert_string_equal(ss_decode_reason_name((ss_decode_reason)r), reasons[r]);
}


/* Steady state allocates nothing: after one pass the decoder's buffers never move or grow. */
static void test_no_allocation_in_steady_state(void **state) {
    (void)state;
    line_t lines[NCORPUS_MAX];
    const size_t nl = ncorpus();
    ss_event ev;
    ss_decoder *d = ss_decoder_new(NULL);
    for (size_t i = 0; i < nl; i++) {
        lines[i] = corpus_line(i);
        assert_int_equal(ss_decode(d, lines[i].data, lines[i].len, &ev), SS_DECODE_OK);
    }
    const ss_json_doc *doc = ss_decoder_json(d);
    const void *toks = doc->toks, *arena = doc->arena, *stack = doc->stack;
    size_t tokcap = doc->tokcap, arenacap = doc->arenacap;
    for (int rep = 0; rep < 2000; rep++)
        for (size_t i = 0; i < nl; i++) {
            assert_int_equal(ss_decode(d, lines[i].data, lines[i].len, &ev), SS_DECODE_OK);
            /* rejected input does not allocate either */
            ss_decode(d, lines[i].data, lines[i].len / 2, &ev);
        }
    assert_ptr_equal(doc->toks, toks);
    assert_ptr_equal(doc->arena, arena);
    assert_ptr_equal(doc->stack, stack);
    assert_int_equal(doc->tokcap, tokcap);
    assert_int_equal(doc->arenacap, arenacap);
    ss_decoder_free(d);
    for (size_t i = 0; i < nl; i++) free(lines[i].data);
}

/* ---- fuzz --------------------------------------------------------------------------- */

static uint64_t rng_state;
static uint64_t rnd(void) { /* xorshift64* */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1DULL;
}

static int str_in(ss_str s, const char *buf, size_t len, const ss_json_doc *doc) {
    if (!s.p) return 1;
    int in_buf = s.p >= buf && s.p + s.n <= buf + len;
    int in_arena = s.p >= doc->arena && s.p + s.n <= doc->arena + doc->arenacap;
    return (in_buf || in_arena) && ss_utf8_valid(s.p, s.n, NULL);
}

static void test_fuzz_mutations(void **state) {
    (void)state;
    static const char *inserts[] = {"\"", "\\", "{", "}", "[", "]", ",", ":", "\\u", "\\ud83e", "\\udc00",
                                    "\xff", "\xc0\xaf", "\xed\xa0\x80", "\xf0\x9f\xa6\x8b", "null", "-0", "1e999",
                                    "\"kind\":\"commit\"", "\"operation\":\"delete\"", "9223372036854775808", "\n"};
    line_t lines[NCORPUS_MAX];
    const size_t nl = ncorpus();
    for (size_t i = 0; i < nl; i++) lines[i] = corpus_line(i);
    ss_decoder *d2 = ss_decoder_new(NULL);
    ss_json_doc jd;
    ss_json_doc_init(&jd, NULL);
    rng_state = 0x5eed5eed1234ULL;
    const int iters = 200000;
    size_t ok = 0, counts[SS_DECODE_OOM + 1] = {0};
    char *buf = malloc(8192);
    for (int it = 0; it < iters; it++) {
        const line_t *src = &lines[rnd() % nl];
        size_t n = src->len;
        memcpy(buf, src->data, n);
        int muts = 1 + (int)(rnd() % 4);
        for (int m = 0; m < muts; m++) {
            size_t pos = n ? rnd() % n : 0;
            switch (rnd() % 5) {
            case 0: /* flip a bit */
                if (n) buf[pos] ^= (char)(1u << (rnd() % 8));
                break;
            case 1: /* random byte */
                if (n) buf[pos] = (char)rnd();
                break;
            case 2: /* delete a run */
                if (n) {
                    size_t k = 1 + rnd() % 8;
                    if (pos + k > n) k = n - pos;
                    memmove(buf + pos, buf + pos + k, n - pos - k);
                    n -= k;
                }
                break;
            case 3: { /* insert a token */
                const char *ins = inserts[rnd() % (sizeof inserts / sizeof *inserts)];
                size_t k = strlen(ins);
                if (n + k < 8000) {
                    memmove(buf + pos + k, buf + pos, n - pos);
                    memcpy(buf + pos, ins, k);
                    n += k;
                }
                break;
            }
            default: /* truncate */
                n = pos;
                break;
            }
        }
        /* exact-size copy so that ASan sees overreads */
        char *doc = malloc(n ? n : 1);
        memcpy(doc, buf, n);
        ss_event e1, e2;
        ss_decode_reason r1 = ss_decode(DEC, doc, n, &e1);
        ss_decode_reason r2 = ss_decode(d2, doc, n, &e2);
        assert_int_equal(r1, r2);
        counts[r1]++;
        /* the JSON layer alone agrees: NOT_JSON/BAD_UTF8 exactly when parse fails that way */
        ss_json_err je = ss_json_validate(&jd, doc, n && doc[n - 1] == '\n' ? n - 1 - (n >= 2 && doc[n - 2] == '\r') : n);
        if (r1 == SS_DECODE_NOT_JSON) assert_true(je == SS_JSON_ERR_SYNTAX || je == SS_JSON_ERR_TRUNCATED);
        if (r1 == SS_DECODE_BAD_UTF8) assert_true(je == SS_JSON_ERR_UTF8 || je == SS_JSON_ERR_SURROGATE);
        if (r1 == SS_DECODE_OK) {
            assert_int_equal(je, SS_JSON_OK);
            ok++;
            assert_int_equal(e1.kind, e2.kind);
            assert_int_equal(e1.op, e2.op);
            assert_true(e1.time_us == e2.time_us && e1.time_us >= 0);
            assert_int_equal(e1.did.n, e2.did.n);
            assert_memory_equal(e1.did.p, e2.did.p, e1.did.n);
            uint8_t k1[16], k2[16];
            ss_event_dedup_key(&e1, k1);
            ss_event_dedup_key(&e2, k2);
            assert_memory_equal(k1, k2, 16);
            const ss_json_doc *jdoc = ss_decoder_json(d2);
            assert_true(str_in(e2.did, doc, n, jdoc) && str_in(e2.collection, doc, n, jdoc) &&
                        str_in(e2.rkey, doc, n, jdoc) && str_in(e2.rev, doc, n, jdoc) &&
                        str_in(e2.cid, doc, n, jdoc) && str_in(e2.time, doc, n, jdoc) &&
                        str_in(e2.handle, doc, n, jdoc) && str_in(e2.status, doc, n, jdoc));
            if (e1.kind == SS_KIND_COMMIT && e1.op != SS_OP_DELETE) {
                /* the record span is itself a valid JSON object */
                assert_int_equal(ss_json_parse(&jd, e1.record.p, e1.record.n), SS_JSON_OK);
                assert_int_equal(ss_json_root(&jd)->type, SS_JSON_OBJECT);
            }
        } else {
            assert_true(ss_decoder_errstr(DEC)[0] != '\0');
        }
        free(doc);
    }
    free(buf);
    /* the loop exercised both outcomes and most reasons */
    assert_true(ok > 1000);
    assert_true(counts[SS_DECODE_NOT_JSON] > 1000);
    assert_true(counts[SS_DECODE_BAD_UTF8] > 100);
    assert_true(counts[SS_DECODE_WRONG_TYPE] + counts[SS_DECODE_MISSING_FIELD] + counts[SS_DECODE_BAD_VALUE] > 100);
    print_message("fuzz: %d mutations, %zu ok, not_json %zu, bad_utf8 %zu, missing %zu, wrong_type %zu, bad_value %zu\n",
                  iters, ok, counts[SS_DECODE_NOT_JSON], counts[SS_DECODE_BAD_UTF8], counts[SS_DECODE_MISSING_FIELD],
                  counts[SS_DECODE_WRONG_TYPE], counts[SS_DECODE_BAD_VALUE]);
    ss_json_doc_free(&jd);
    ss_decoder_free(d2);
    for (size_t i = 0; i < nl; i++) free(lines[i].data);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_samples_exact),
        cmocka_unit_test(test_samples_all_covered),
        cmocka_unit_test(test_built_events_ok),
        cmocka_unit_test(test_missing_fields),
        cmocka_unit_test(test_wrong_types),
        cmocka_unit_test(test_bad_values),
        cmocka_unit_test(test_unknown_keys_and_legacy),
        cmocka_unit_test(test_truncated_every_offset),
        cmocka_unit_test(test_bad_utf8_and_surrogates),
        cmocka_unit_test(test_sizes_depth_and_garbage),
        cmocka_unit_test(test_dedup_keys),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_sync_kind),
        cmocka_unit_test(test_meta_field),
        cmocka_unit_test(test_no_allocation_in_steady_state),
        cmocka_unit_test(test_fuzz_mutations),
    };
    int failed = cmocka_run_group_tests(tests, setup, teardown);
    corpus_free();
    return SS_SHARED_EXIT(failed);
}
