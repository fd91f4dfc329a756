/* Firehose decoder: round trips through real frames, and every kind of broken frame.
 *
 * Frames come from the test-side encoder (tests/support/fh_encode.c), which writes real
 * DAG-CBOR, CIDs and CARs. The real Jetstream samples in $SKYSPOOL_SHARED/samples go
 * Jetstream JSON -> frames -> decoder and must come back byte for byte (time_us aside):
 * this checks record conversion, key order, escaping, and that the encoder's canonical
 * DAG-CBOR hashes to the very CIDs the PDSes computed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "archive/archive.h"
#include "event/event.h"
#include "fh_encode.h"
#include "ss_shared.h"
#include "source/synth/synth.h"
#include "source/firehose/fh_decode.h"
#include "util/log.h"

/* Removes "time_us":N and ,"time":"..." from an event so events compare without Jetstream's
 * own clock and without the claimed time the decoder adds to commits. */
static char *strip_time(const char *s, size_t n) {
    char *o = malloc(n + 1);
    assert_non_null(o);
    size_t j = 0;
    for (size_t i = 0; i < n;) {
        if (n - i > 10 && !memcmp(s + i, "\"time_us\":", 10)) {
            i += 10;
            while (i < n && (s[i] == '-' || (s[i] >= '0' && s[i] <= '9'))) i++;
            continue;
        }
        /* ,"time":"..." too: the decoder adds the claimed time to commits (commit.time) */
        if (n - i > 9 && !memcmp(s + i, ",\"time\":\"", 9)) {
            i += 9;
            while (i < n && s[i] != '"') i++;
            i++;
            continue;
        }
        o[j++] = s[i++];
    }
    o[j] = 0;
    return o;
}

/* cmocka truncates long messages: print the first difference with some context. */
static void report_diff(size_t i, const char *want, const char *got) {
    size_t k = 0;
    while (want[k] && want[k] == got[k]) k++;
    size_t from = k > 60 ? k - 60 : 0;
    fprintf(stderr, "event %zu differs at byte %zu:\n  want ...%.160s\n  got  ...%.160s\n", i, k, want + from, got + from);
    fail_msg("event %zu differs", i);
}

typedef struct {
    ss_fh_decoder *d;
    char **got; /* every output, "REASON|data" for rejects */
    int64_t *cursors;
    size_t n, cap;
} collector;

static void collect_frame(void *ud, const uint8_t *frame, size_t len) {
    collector *c = ud;
    int n = ss_fh_decode(c->d, frame, len);
    assert_true(n >= 0);
    for (int i = 0; i < n; i++) {
        ss_source_msg m;
        ss_fh_output(c->d, (size_t)i, &m);
        if (c->n == c->cap) {
            c->cap = c->cap ? c->cap * 2 : 64;
            c->got = realloc(c->got, c->cap * sizeof *c->got);
            c->cursors = realloc(c->cursors, c->cap * sizeof *c->cursors);
        }
        size_t rl = m.bad_reason ? strlen(m.bad_reason) + 1 : 0;
        char *s = malloc(rl + m.len + 1);
        if (m.bad_reason) memcpy(s, m.bad_reason, rl - 1), s[rl - 1] = '|';
        memcpy(s + rl, m.data, m.len);
        s[rl + m.len] = 0;
        c->cursors[c->n] = m.cursor;
        c->got[c->n++] = s;
    }
}

static void collector_free(collector *c) {
    for (size_t i = 0; i < c->n; i++) free(c->got[i]);
    free(c->got);
    free(c->cursors);
    ss_fh_decoder_free(c->d);
}

/* Converts JSONL lines to frames, decodes them, and checks the events come back. */
/* Cuts the op's "cid" (the last key of the commit object) off an event. */
static void cut_op_cid(char *s) {
    char *c = strstr(s, "\"commit\":{"), *last = NULL;
    for (char *p = c ? strstr(c, ",\"cid\":\"") : NULL; p; p = strstr(p + 1, ",\"cid\":\"")) last = p;
    if (last && !strchr(last + 8, ':')) *last = 0;
}

static void roundtrip_lines(const char *const *lines, size_t nlines, size_t filler, int exact_cids) {
    collector c = {0};
    c.d = ss_fh_decoder_new(NULL);
    assert_non_null(c.d);
    fhe_conv *conv = fhe_conv_new(collect_frame, &c, filler, 42);
    char err[200];
    for (size_t i = 0; i < nlines; i++) {
        if (fhe_conv_line(conv, lines[i], strlen(lines[i]), err, sizeof err)) fail_msg("line %zu: %s", i, err);
    }
    fhe_conv_free(conv);
    assert_int_equal(c.n, nlines);
    for (size_t i = 0; i < nlines; i++) {
        char *want = strip_time(lines[i], strlen(lines[i]));
        char *got = strip_time(c.got[i], strlen(c.got[i]));
        if (!exact_cids) cut_op_cid(want), cut_op_cid(got);
        if (strcmp(want, got)) report_diff(i, want, got);
        free(want);
        free(got);
    }
    const ss_fh_stats *st = ss_fh_stats_get(c.d);
    assert_int_equal(st->events, nlines);
    assert_int_equal(st->rejects, 0);
    collector_free(&c);
}

static char **read_lines(const char *path, size_t *n) {
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    char **v = NULL, *line = NULL;
    size_t cap = 0, len = 0;
    *n = 0;
    ssize_t r;
    while ((r = getline(&line, &cap, f)) > 0) {
        while (r > 0 && (line[r - 1] == '\n' || line[r - 1] == '\r')) line[--r] = 0;
        if (!r) continue;
        v = realloc(v, (len + 1) * sizeof *v);
        v[len++] = strdup(line);
    }
    free(line);
    fclose(f);
    *n = len;
    return v;
}

/* Generated events (every type, deletes, updates, other collections) go through real frames
 * and back; their CIDs are made up, so only the events are compared. */
static void test_synth_roundtrip(void **state) {
    (void)state;
    ss_synth_params p;
    ss_synth_params_init(&p);
    p.events = 400;
    p.seed = 17;
    p.other_frac = 0.05;
    ss_synth *g = ss_synth_new(&p);
    assert_non_null(g);
    char **lines = calloc((size_t)p.events, sizeof *lines);
    ss_buf b;
    ss_buf_init(&b);
    for (int64_t i = 0; i < p.events; i++) {
        assert_int_equal(ss_synth_line(g, i, &b, NULL), 0);
        lines[i] = strndup(b.data, b.len);
    }
    ss_buf_free(&b);
    ss_synth_free(g);
    roundtrip_lines((const char *const *)lines, (size_t)p.events, 3000, 0);
    for (int64_t i = 0; i < p.events; i++) free(lines[i]);
    free(lines);
}

static void test_shared_samples_roundtrip(void **state) {
    (void)state;
    char probe[1024];
    SS_SHARED_OR_SKIP("samples/jetstream_v1_golden_2026-05-25_10events.jsonl", probe);
    const char *shared = ss_shared_dir();
    /* Verbatim captures must round-trip with the PDS's own CIDs: the encoder's canonical
     * DAG-CBOR then equals the original record bytes. The microcosm strings were
     * re-serialised (a "\\n" doubled), so their records, and CIDs, differ from the originals. */
    static const char *const files[] = {
        "jetstream_v1_golden_2026-05-25_10events.jsonl",
        "jetstream_v1_misc_2025-01_microcosm_7events.jsonl",
        "jetstream_v1_misc_2025-09-10_atproto-crates_5events.jsonl",
        "jetstream_v1_readme_examples_2024-09_4events.jsonl",
    };
    static const int exact[] = {1, 0, 1, 1};
    for (size_t f = 0; f < sizeof files / sizeof *files; f++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/samples/%s", shared, files[f]);
        size_t n = 0;
        char **lines = read_lines(path, &n);
        if (!lines) fail_msg("cannot read %s", path);
        assert_true(n >= 4);
        roundtrip_lines((const char *const *)lines, n, 3000, exact[f]);
        for (size_t i = 0; i < n; i++) free(lines[i]);
        free(lines);
    }
}

/* Hand-written events in Jetstream's exact output form (Go key order and escaping). */
static const char *const g_events[] = {
    /* post: reply, facets (mention + link + tag), images embed with blobs, langs, negative and big ints */
    "{\"did\":\"did:plc:aaaa\",\"time_us\":1779719009132431,\"kind\":\"commit\",\"commit\":{\"rev\":\"3mmoojp7vgo2g\","
    "\"operation\":\"create\",\"collection\":\"app.bsky.feed.post\",\"rkey\":\"3mmoojp7etg2g\",\"record\":{\"$type\":"
    "\"app.bsky.feed.post\",\"createdAt\":\"2026-05-25T14:23:28.778Z\",\"embed\":{\"$type\":\"app.bsky.embed.images\","
    "\"images\":[{\"alt\":\"a \\u003cb\\u003e \\u0026 c\",\"aspectRatio\":{\"height\":1080,\"width\":1920},\"image\":{\"$type\":"
    "\"blob\",\"ref\":{\"$link\":\"bafkreieajxclqzwk2mczx7hxmoboqpuiveqlbm35gsda5xlaqfmlryu4ri\"},\"mimeType\":\"image/jpeg\","
    "\"size\":720303}}]},\"facets\":[{\"features\":[{\"$type\":\"app.bsky.richtext.facet#mention\",\"did\":\"did:plc:bbbb\"}],"
    "\"index\":{\"byteEnd\":12,\"byteStart\":0}},{\"features\":[{\"$type\":\"app.bsky.richtext.facet#link\",\"uri\":"
    "\"https://example.com/?a=1\\u0026b=2\"}],\"index\":{\"byteEnd\":40,\"byteStart\":13}}],\"langs\":[\"en\",\"pt\"],"
    "\"reply\":{\"parent\":{\"cid\":\"bafyreiainko5un5pbcdosvxpbisjnjzemojnry6nsgtdftdgslbu37kxai\",\"uri\":"
    "\"at://did:plc:cccc/app.bsky.feed.post/3mmojbrjwbs26\"},\"root\":{\"cid\":"
    "\"bafyreiainko5un5pbcdosvxpbisjnjzemojnry6nsgtdftdgslbu37kxai\",\"uri\":\"at://did:plc:cccc/app.bsky.feed.post/3mmojbrjwbs26\"}},"
    "\"text\":\"@alice.test hi \\\"quoted\\\" \\\\ back\\nline\\ttab \\u0001 \\u2028 \\u2029 caf\xc3\xa9 \xf0\x9f\x98\x80 \x7f \\u003c\\u003e\"},"
    "\"cid\":\"bafyreicl7rzkxdrm4zz2ehbx52kuk3mvfow6p3gzfys72r5grvskxoswy4\"}}",
    /* like */
    "{\"did\":\"did:plc:bbbb\",\"time_us\":1779719009132432,\"kind\":\"commit\",\"commit\":{\"rev\":\"3mmoojp7vgo2h\","
    "\"operation\":\"create\",\"collection\":\"app.bsky.feed.like\",\"rkey\":\"3mmoojp7etg2h\",\"record\":{\"$type\":"
    "\"app.bsky.feed.like\",\"createdAt\":\"2026-05-25T14:23:28.778Z\",\"subject\":{\"cid\":"
    "\"bafyreiaxf7tgbfydx3465sckitq6v564thxe2wwydbi7cwxbxvgssje3em\",\"uri\":\"at://did:plc:dddd/app.bsky.feed.post/3mmoodizfwc2j\"}},"
    "\"cid\":\"bafyreidqpc7si3dbimffi64lz3xsx2qt45ip7rpna2qpslcddp23itjjzm\"}}",
    /* repost */
    "{\"did\":\"did:plc:cccc\",\"time_us\":1779719009132433,\"kind\":\"commit\",\"commit\":{\"rev\":\"3mmoojp7vgo2i\","
    "\"operation\":\"create\",\"collection\":\"app.bsky.feed.repost\",\"rkey\":\"3mmoojp7etg2i\",\"record\":{\"$type\":"
    "\"app.bsky.feed.repost\",\"createdAt\":\"2026-05-25T14:23:27.388Z\",\"subject\":{\"cid\":"
    "\"bafyreidklayotpkt5z6dgournsivh4tyouwa6bm7fdfe2i6ciqbnrp23ou\",\"uri\":\"at://did:plc:eeee/app.bsky.feed.post/3mmood3a6hc25\"}},"
    "\"cid\":\"bafyreiedbile4hfy44rhrg5mlpegnvbuolazgxthmho2iredl4ciqdhywy\"}}",
    /* follow, block */
    "{\"did\":\"did:plc:dddd\",\"time_us\":1779719009132434,\"kind\":\"commit\",\"commit\":{\"rev\":\"3mmoojodv7b2s\","
    "\"operation\":\"create\",\"collection\":\"app.bsky.graph.follow\",\"rkey\":\"3mmoojocxvr2s\",\"record\":{\"$type\":"
    "\"app.bsky.graph.follow\",\"createdAt\":\"2026-05-25T14:23:27.319Z\",\"subject\":\"did:plc:anc6s2kher6ltrhhglxrzxsa\"},"
    "\"cid\":\"bafyreib25swk3a6waplk2ie75u4a3qfejnkoiezfowuz7sa74i7tief3di\"}}",
    "{\"did\":\"did:plc:eeee\",\"time_us\":1779719009132435,\"kind\":\"commit\",\"commit\":{\"rev\":\"3mmoojpebea2w\","
    "\"operation\":\"create\",\"collection\":\"app.bsky.graph.block\",\"rkey\":\"3mmoojpduny2w\",\"record\":{\"$type\":"
    "\"app.bsky.graph.block\",\"createdAt\":\"2026-05-25T14:23:27.379Z\",\"subject\":\"did:plc:pgsrzsvisagr7wfqasmu3cgf\"},"
    "\"cid\":\"bafyreibnk2z6xovbsfdcw2ispl7idhen7dxdomemg4i4q6eq6hlb34prte\"}}",
    /* profile update with $bytes, null, booleans, nested arrays, negative numbers */
    "{\"did\":\"did:plc:ffff\",\"time_us\":1779719009132436,\"kind\":\"commit\",\"commit\":{\"rev\":\"3mmoojqsbjf2d\","
    "\"operation\":\"update\",\"collection\":\"app.bsky.actor.profile\",\"rkey\":\"self\",\"record\":{\"$type\":"
    "\"app.bsky.actor.profile\",\"blob\":{\"$bytes\":\"AAECAwT/\"},\"bytes1\":{\"$bytes\":\"YQ\"},\"bytes2\":{\"$bytes\":\"YWI\"},"
    "\"empty\":{\"$bytes\":\"\"},\"flags\":[true,false,null],\"grid\":[[1,-2],[-9007199254740991,9007199254740991]],"
    "\"nothing\":null,\"pinned\":{\"$link\":\"bafyreieq2asvf24347gs4o6fa2kpkpbig5l5i7dhh3szkp2veha5xjnkbq\"},\"z\":{}},"
    "\"cid\":\"bafyreib257dpti3w5iitklrsx66dg3cmg3urfbogfksigjd5ie4r6v5cj4\"}}",
    /* multi-op commit: create, update, delete in one rev (other collections too) */
    "{\"did\":\"did:plc:gggg\",\"time_us\":1779719009132437,\"kind\":\"commit\",\"commit\":{\"rev\":\"3mmoojpae7c2e\","
    "\"operation\":\"create\",\"collection\":\"app.bsky.graph.listitem\",\"rkey\":\"3mmontn3gnc2a\",\"record\":{\"$type\":"
    "\"app.bsky.graph.listitem\",\"createdAt\":\"2026-05-25T14:23:27.379Z\",\"list\":\"at://did:plc:gggg/app.bsky.graph.list/x\","
    "\"subject\":\"did:plc:hhhh\"},\"cid\":\"bafyreibnk2z6xovbsfdcw2ispl7idhen7dxdomemg4i4q6eq6hlb34prte\"}}",
    "{\"did\":\"did:plc:gggg\",\"time_us\":1779719009132437,\"kind\":\"commit\",\"commit\":{\"rev\":\"3mmoojpae7c2e\","
    "\"operation\":\"update\",\"collection\":\"place.stream.broadcast.origin\",\"rkey\":\"did:plc:gggg::did:web:x\",\"record\":{"
    "\"$type\":\"place.stream.broadcast.origin\",\"server\":\"did:web:x\",\"updatedAt\":\"2026-05-25T14:23:29.807Z\"},"
    "\"cid\":\"bafyreibk2m3ujbeckwgyvgi3bjucfnqj35xjynqswmnywd5a3thnrnzv6m\"}}",
    "{\"did\":\"did:plc:gggg\",\"time_us\":1779719009132437,\"kind\":\"commit\",\"commit\":{\"rev\":\"3mmoojpae7c2e\","
    "\"operation\":\"delete\",\"collection\":\"org.hypercerts.claim.activity\",\"rkey\":\"3mmontn3gnc2e\"}}",
    /* deletes of a like and a follow */
    "{\"did\":\"did:plc:hhhh\",\"time_us\":1779719009132438,\"kind\":\"commit\",\"commit\":{\"rev\":\"3lfddpt7vnx24\","
    "\"operation\":\"delete\",\"collection\":\"app.bsky.feed.like\",\"rkey\":\"3lbiu72lczk2w\"}}",
    "{\"did\":\"did:plc:iiii\",\"time_us\":1779719009132439,\"kind\":\"commit\",\"commit\":{\"rev\":\"3lyileto4q52k\","
    "\"operation\":\"delete\",\"collection\":\"app.bsky.graph.follow\",\"rkey\":\"3lxqxntaew32z\"}}",
    /* identity with and without handle, account with and without status */
    "{\"did\":\"did:plc:jjjj\",\"time_us\":1757517628610000,\"kind\":\"identity\",\"identity\":{\"did\":\"did:plc:jjjj\","
    "\"handle\":\"nhieothv.bsky.social\",\"seq\":13206497272,\"time\":\"2025-09-10T15:20:28.610Z\"}}",
    "{\"did\":\"did:plc:kkkk\",\"time_us\":1779719009950000,\"kind\":\"identity\",\"identity\":{\"did\":\"did:plc:kkkk\","
    "\"seq\":30340180350,\"time\":\"2026-05-25T14:23:29.950Z\"}}",
    "{\"did\":\"did:plc:llll\",\"time_us\":1779719009950000,\"kind\":\"account\",\"account\":{\"active\":true,\"did\":"
    "\"did:plc:llll\",\"seq\":30340180351,\"time\":\"2026-05-25T14:23:29.950Z\"}}",
    "{\"did\":\"did:plc:mmmm\",\"time_us\":1757517640439000,\"kind\":\"account\",\"account\":{\"active\":false,\"did\":"
    "\"did:plc:mmmm\",\"seq\":13206502767,\"status\":\"takendown\",\"time\":\"2025-09-10T15:20:40.439Z\"}}",
};

/* The hand-written events use made-up CIDs; the encoder computes real ones, so compare
 * with the "cid" of each commit event replaced by what the decoder printed. */
static void test_handmade_roundtrip(void **state) {
    (void)state;
    size_t n = sizeof g_events / sizeof *g_events;
    collector c = {0};
    c.d = ss_fh_decoder_new(NULL);
    fhe_conv *conv = fhe_conv_new(collect_frame, &c, 1500, 7);
    char err[200];
    for (size_t i = 0; i < n; i++)
        if (fhe_conv_line(conv, g_events[i], strlen(g_events[i]), err, sizeof err)) fail_msg("event %zu: %s", i, err);
    fhe_conv_free(conv);
    assert_int_equal(c.n, n);
    for (size_t i = 0; i < n; i++) {
        char *want = strip_time(g_events[i], strlen(g_events[i]));
        char *got = strip_time(c.got[i], strlen(c.got[i]));
        char *wc = strstr(want, ",\"cid\":\"bafy"), *gc = strstr(got, ",\"cid\":\"bafy");
        /* the record's own "cid" keys are inside; the op cid is the last one */
        while (wc && strstr(wc + 1, ",\"cid\":\"bafy")) wc = strstr(wc + 1, ",\"cid\":\"bafy");
        while (gc && strstr(gc + 1, ",\"cid\":\"bafy")) gc = strstr(gc + 1, ",\"cid\":\"bafy");
        if (wc && gc && strstr(want, "\"operation\":\"delete\"") == NULL) *wc = 0, *gc = 0;
        if (strcmp(want, got)) report_diff(i, want, got);
        free(want);
        free(got);
    }
    /* time_us: the frame's time, i.e. the event's time_us for commits, the time field for
     * identity/account events. */
    assert_non_null(strstr(c.got[0], "\"time_us\":1779719009132431,"));
    assert_non_null(strstr(c.got[11], "\"time_us\":1757517628610000,"));
    /* multi-op commit: all three share the frame seq; cursors seq-1, seq-1, seq */
    assert_int_equal(c.cursors[6] + 1, c.cursors[8]);
    assert_int_equal(c.cursors[7], c.cursors[6]);
    const ss_fh_stats *st = ss_fh_stats_get(c.d);
    assert_int_equal(st->identity, 2);
    assert_int_equal(st->account, 2);
    assert_int_equal(st->rejects, 0);
    collector_free(&c);
}

/* ---- frames that emit no event ---- */

static int decode1(ss_fh_decoder *d, const ss_buf *f, ss_source_msg *m) {
    int n = ss_fh_decode(d, (const uint8_t *)f->data, f->len);
    if (n > 0 && m) ss_fh_output(d, 0, m);
    return n;
}

static void test_sync_info_error_toobig(void **state) {
    (void)state;
    ss_fh_decoder *d = ss_fh_decoder_new(NULL);
    ss_buf f;
    ss_buf_init(&f);
    ss_source_msg m;

    /* #sync: one sync event (the backfill signal), decoded by the event decoder as type sync */
    fhe_sync_frame(&f, 77, "did:plc:aaaa", "3mmoojp7vgo2g", "2026-05-25T14:23:28.778Z");
    assert_int_equal(decode1(d, &f, &m), 1);
    assert_null(m.bad_reason);
    assert_int_equal(m.cursor, 77);
    assert_non_null(strstr(m.data, "\"kind\":\"sync\",\"sync\":{\"did\":\"did:plc:aaaa\",\"rev\":\"3mmoojp7vgo2g\",\"seq\":77,"
                                   "\"time\":\"2026-05-25T14:23:28.778Z\"}}"));
    {
        ss_decoder *ed = ss_decoder_new(NULL);
        ss_event ev;
        assert_int_equal(ss_decode(ed, m.data, m.len, &ev), SS_DECODE_OK);
        assert_int_equal(ev.kind, SS_KIND_SYNC);
        assert_int_equal(ev.type, SS_TYPE_SYNC);
        assert_int_equal(ev.seq, 77);
        assert_true(ss_str_eq(ev.rev, "3mmoojp7vgo2g"));
        assert_true(ss_str_eq(ev.did, "did:plc:aaaa"));
        assert_true(ss_str_eq(ev.claimed_time, "2026-05-25T14:23:28.778Z"));
        ss_decoder_free(ed);
    }
    assert_int_equal(ss_fh_stats_get(d)->sync, 1);
    assert_string_equal(ss_fh_last_sync(d), "did:plc:aaaa at rev 3mmoojp7vgo2g, seq 77");
    assert_int_equal(ss_fh_last_seq(d), 77);

    ss_buf_reset(&f);
    fhe_info_frame(&f, "OutdatedCursor", "cursor is older than the window");
    assert_int_equal(decode1(d, &f, NULL), 0);
    assert_int_equal(ss_fh_stats_get(d)->info, 1);
    assert_int_equal(ss_fh_stats_get(d)->outdated_cursor, 1);
    assert_string_equal(ss_fh_last_info(d), "OutdatedCursor: cursor is older than the window");

    ss_buf_reset(&f);
    fhe_error_frame(&f, "FutureCursor", "Cursor in the future.");
    assert_int_equal(decode1(d, &f, &m), 1);
    assert_string_equal(m.bad_reason, "error_frame");
    assert_non_null(strstr(m.data, "FutureCursor"));
    assert_int_equal(ss_fh_stats_get(d)->error_frames, 1);
    assert_string_equal(ss_fh_last_error(d), "FutureCursor: Cursor in the future.");

    /* tooBig: no ops (they are not in the frame), one sync event with repo, rev and seq */
    ss_buf_reset(&f);
    fhe_op op = {"create", "app.bsky.feed.like/3abc", (const uint8_t *)"\xa0", 1, 0, 0, 0};
    fhe_commit c = {.seq = 90, .repo = "did:plc:big", .rev = "3bigrev", .time = "2026-05-25T14:23:28.778Z", .ops = &op,
                    .nops = 1, .too_big = 1};
    fhe_commit_frame(&f, &c);
    uint64_t rejects0 = ss_fh_stats_get(d)->rejects;
    assert_int_equal(decode1(d, &f, &m), 1);
    assert_null(m.bad_reason);
    assert_non_null(strstr(m.data, "\"kind\":\"sync\",\"sync\":{\"did\":\"did:plc:big\",\"rev\":\"3bigrev\",\"seq\":90,"));
    assert_int_equal(m.cursor, 90);
    assert_int_equal(ss_fh_stats_get(d)->too_big, 1);
    assert_int_equal(ss_fh_stats_get(d)->rejects, rejects0); /* not dead-lettered */
    /* a #sync without rev cannot say where to backfill: a reject */
    ss_buf_reset(&f);
    fhe_sync_frame(&f, 91, "did:plc:aaaa", "", "2026-05-25T14:23:28.778Z");
    assert_int_equal(decode1(d, &f, &m), 1);
    assert_string_equal(m.bad_reason, "bad_body");

    /* unknown t: ignored, counted */
    ss_buf_reset(&f);
    fhe_map *h = fhe_map_new();
    fhe_int(fhe_map_put(h, "op"), 1);
    fhe_text(fhe_map_put(h, "t"), "#somethingNew");
    fhe_map_write(h, &f);
    fhe_map *b = fhe_map_new();
    fhe_uint(fhe_map_put(b, "seq"), 91);
    fhe_map_write(b, &f);
    assert_int_equal(decode1(d, &f, NULL), 0);
    assert_int_equal(ss_fh_stats_get(d)->unknown, 1);
    assert_int_equal(ss_fh_stats_get(d)->events, 2); /* the #sync and the tooBig commit, nothing else */
    ss_buf_free(&f);
    ss_fh_decoder_free(d);
}

/* ---- malformed input ---- */

static const char *g_like_json =
    "{\"$type\":\"app.bsky.feed.like\",\"createdAt\":\"2026-05-25T14:23:28.778Z\",\"subject\":{\"cid\":"
    "\"bafyreiaxf7tgbfydx3465sckitq6v564thxe2wwydbi7cwxbxvgssje3em\",\"uri\":\"at://did:plc:dddd/app.bsky.feed.post/3mmoodizfwc2j\"}}";

static void like_cbor(ss_buf *rec) {
    char err[100];
    assert_int_equal(fhe_json_record_to_cbor(rec, g_like_json, strlen(g_like_json), err, sizeof err), 0);
}

/* Builds a one-op commit around a raw record; returns the decoder's first output reason
 * (NULL for an event) after checking the output count. */
static const char *one_op(ss_fh_decoder *d, const ss_buf *rec, fhe_op tweak, fhe_commit ctweak, int *nout,
                          ss_source_msg *out) {
    ss_buf f;
    ss_buf_init(&f);
    fhe_op op = tweak;
    if (!op.action) op.action = "create";
    if (!op.path) op.path = "app.bsky.feed.like/3abc";
    if (!op.record && rec) op.record = (const uint8_t *)rec->data, op.record_len = rec->len;
    fhe_commit c = ctweak;
    c.seq = c.seq ? c.seq : 5;
    c.repo = "did:plc:test";
    c.rev = "3rev";
    c.time = c.time ? c.time : "2026-05-25T14:23:28.778Z";
    c.ops = &op;
    c.nops = 1;
    c.filler_bytes = c.filler_bytes ? c.filler_bytes : 800;
    fhe_commit_frame(&f, &c);
    ss_source_msg m = {0};
    *nout = decode1(d, &f, &m);
    ss_buf_free(&f);
    if (out) *out = m;
    return *nout > 0 ? m.bad_reason : "none";
}

#define EXPECT_REASON(d, rec, op, c, reason)                                                                          \
    do {                                                                                                              \
        int n_;                                                                                                       \
        ss_source_msg m_;                                                                                             \
        const char *r_ = one_op(d, rec, op, c, &n_, &m_);                                                             \
        assert_int_equal(n_, 1);                                                                                      \
        if (!r_ || strcmp(r_, reason)) fail_msg("expected reason %s, got %s: %.*s", reason, r_ ? r_ : "(event)",       \
                                                (int)m_.len, m_.data);                                                 \
    } while (0)

static void test_records_rejected(void **state) {
    (void)state;
    ss_fh_decoder *d = ss_fh_decoder_new(NULL);
    ss_buf rec;
    ss_buf_init(&rec);
    fhe_op op0 = {0};
    fhe_commit c0 = {0};

    /* the good one first */
    like_cbor(&rec);
    int n;
    assert_null(one_op(d, &rec, op0, c0, &n, NULL));

    /* hash mismatch: record block, then commit block */
    fhe_op op = op0;
    op.corrupt_block = 1;
    EXPECT_REASON(d, &rec, op, c0, "cid_mismatch");
    fhe_commit c = c0;
    c.corrupt_commit = 1;
    EXPECT_REASON(d, &rec, op0, c, "cid_mismatch");
    /* ... which passes with verification off (the commit is not used otherwise) */
    {
        ss_fh_opts o;
        ss_fh_opts_init(&o);
        o.verify_cids = 0;
        ss_fh_decoder *nv = ss_fh_decoder_new(&o);
        assert_null(one_op(nv, &rec, op0, c, &n, NULL));
        ss_fh_decoder_free(nv);
    }
    /* block missing; CAR root not the commit; create without cid; bad action; bad path */
    op = op0, op.omit_block = 1;
    EXPECT_REASON(d, &rec, op, c0, "missing_block");
    c = c0, c.wrong_root = 1;
    EXPECT_REASON(d, &rec, op0, c, "bad_car");
    op = op0, op.null_cid = 1;
    EXPECT_REASON(d, &rec, op, c0, "bad_op");
    op = op0, op.action = "upsert";
    EXPECT_REASON(d, &rec, op, c0, "bad_op");
    op = op0, op.path = "no-slash";
    EXPECT_REASON(d, &rec, op, c0, "bad_op");
    /* bad time */
    c = c0, c.time = "yesterday";
    EXPECT_REASON(d, &rec, op0, c, "bad_time");

    /* a float */
    ss_buf_reset(&rec);
    fhe_map *m = fhe_map_new();
    fhe_text(fhe_map_put(m, "$type"), "x.y.z");
    ss_buf_append(fhe_map_put(m, "f"), "\xfb\x40\x09\x21\xfb\x54\x44\x2d\x18", 9);
    fhe_map_write(m, &rec);
    EXPECT_REASON(d, &rec, op0, c0, "cbor_float");
    /* duplicate keys */
    ss_buf_reset(&rec);
    fhe_head(&rec, 5, 2);
    fhe_text(&rec, "a");
    fhe_uint(&rec, 1);
    fhe_text(&rec, "a");
    fhe_uint(&rec, 2);
    EXPECT_REASON(d, &rec, op0, c0, "cbor_duplicate_key");
    /* indefinite-length map and string */
    ss_buf_reset(&rec);
    ss_buf_append(&rec, "\xbf\x61\x61\x01\xff", 5);
    EXPECT_REASON(d, &rec, op0, c0, "cbor_indefinite");
    ss_buf_reset(&rec);
    ss_buf_append(&rec, "\xa1\x61\x61\x7f\x61\x62\xff", 7);
    EXPECT_REASON(d, &rec, op0, c0, "cbor_indefinite");
    /* not a map at the top */
    ss_buf_reset(&rec);
    fhe_head(&rec, 4, 0);
    EXPECT_REASON(d, &rec, op0, c0, "bad_record");
    /* invalid UTF-8 in a string, and in a key */
    ss_buf_reset(&rec);
    fhe_head(&rec, 5, 1);
    fhe_text(&rec, "text");
    fhe_textn(&rec, "ab\xc3\x28", 4);
    EXPECT_REASON(d, &rec, op0, c0, "bad_utf8");
    ss_buf_reset(&rec);
    fhe_head(&rec, 5, 1);
    fhe_textn(&rec, "\xed\xa0\x80", 3); /* a surrogate */
    fhe_uint(&rec, 1);
    EXPECT_REASON(d, &rec, op0, c0, "bad_utf8");
    /* a tag other than 42, a link that is no CID, undefined */
    ss_buf_reset(&rec);
    fhe_head(&rec, 5, 1);
    fhe_text(&rec, "t");
    fhe_head(&rec, 6, 1);
    fhe_uint(&rec, 5);
    EXPECT_REASON(d, &rec, op0, c0, "bad_cbor");
    ss_buf_reset(&rec);
    fhe_head(&rec, 5, 1);
    fhe_text(&rec, "l");
    fhe_head(&rec, 6, 42);
    fhe_bytes(&rec, "\x00\x02\x71\x12\x20", 5);
    EXPECT_REASON(d, &rec, op0, c0, "bad_cid");
    ss_buf_reset(&rec);
    fhe_head(&rec, 5, 1);
    fhe_text(&rec, "u");
    ss_buf_append(&rec, "\xf7", 1);
    EXPECT_REASON(d, &rec, op0, c0, "bad_cbor");
    /* wrong major type where a map key must be a string */
    ss_buf_reset(&rec);
    fhe_head(&rec, 5, 1);
    fhe_uint(&rec, 7);
    fhe_uint(&rec, 1);
    EXPECT_REASON(d, &rec, op0, c0, "cbor_wrong_type");
    /* data-model rules: mixed arrays, empty $type, malformed blob */
    ss_buf_reset(&rec);
    fhe_head(&rec, 5, 1);
    fhe_text(&rec, "a");
    fhe_head(&rec, 4, 2);
    fhe_uint(&rec, 1);
    fhe_text(&rec, "x");
    EXPECT_REASON(d, &rec, op0, c0, "bad_record");
    ss_buf_reset(&rec);
    fhe_head(&rec, 5, 1);
    fhe_text(&rec, "$type");
    fhe_text(&rec, "");
    EXPECT_REASON(d, &rec, op0, c0, "bad_record");
    ss_buf_reset(&rec);
    m = fhe_map_new();
    fhe_text(fhe_map_put(m, "$type"), "blob");
    fhe_text(fhe_map_put(m, "mimeType"), "image/png");
    fhe_uint(fhe_map_put(m, "size"), 10);
    fhe_map_write(m, &rec);
    EXPECT_REASON(d, &rec, op0, c0, "bad_record");
    /* nesting deeper than 32 */
    ss_buf_reset(&rec);
    fhe_head(&rec, 5, 1);
    fhe_text(&rec, "deep");
    for (int i = 0; i < 40; i++) fhe_head(&rec, 4, 1);
    fhe_uint(&rec, 1);
    EXPECT_REASON(d, &rec, op0, c0, "too_deep");
    /* trailing bytes after the record */
    ss_buf_reset(&rec);
    like_cbor(&rec);
    ss_buf_append(&rec, "\x01", 1);
    EXPECT_REASON(d, &rec, op0, c0, "bad_cbor");
    /* record over the limit */
    {
        ss_fh_opts o;
        ss_fh_opts_init(&o);
        o.max_record_bytes = 100;
        ss_fh_decoder *small = ss_fh_decoder_new(&o);
        ss_buf_reset(&rec);
        like_cbor(&rec);
        EXPECT_REASON(small, &rec, op0, c0, "record_too_big");
        ss_fh_decoder_free(small);
    }
    const ss_fh_stats *st = ss_fh_stats_get(d);
    assert_int_equal(st->by_reason[SS_FH_CID_MISMATCH], 2);
    assert_int_equal(st->events, 1);
    ss_buf_free(&rec);
    ss_fh_decoder_free(d);
}

/* One bad op in a commit: the other ops are still emitted, in order, and the cursors let a
 * consumer resume without losing the rest of the commit. */
static void test_multi_op_partial(void **state) {
    (void)state;
    ss_fh_decoder *d = ss_fh_decoder_new(NULL);
    ss_buf rec, f;
    ss_buf_init(&rec);
    ss_buf_init(&f);
    like_cbor(&rec);
    fhe_op ops[4] = {{"create", "app.bsky.feed.like/3a", (const uint8_t *)rec.data, rec.len, 0, 0, 0},
                     {"create", "app.bsky.feed.like/3b", (const uint8_t *)rec.data, rec.len, 0, 1, 0},
                     {"delete", "app.bsky.feed.like/3c", NULL, 0, 0, 0, 0},
                     {"update", "app.bsky.feed.like/3d", (const uint8_t *)rec.data, rec.len, 0, 0, 0}};
    /* op 3b's block is corrupted; 3a and 3d share the record (same CID), so give 3b its own */
    ss_buf rec2;
    ss_buf_init(&rec2);
    const char *j = "{\"$type\":\"app.bsky.feed.like\",\"n\":2}";
    char err[100];
    assert_int_equal(fhe_json_record_to_cbor(&rec2, j, strlen(j), err, sizeof err), 0);
    ops[1].record = (const uint8_t *)rec2.data, ops[1].record_len = rec2.len;
    fhe_commit c = {.seq = 500, .repo = "did:plc:m", .rev = "3m", .time = "2026-05-25T14:23:28.778Z", .ops = ops, .nops = 4,
                    .filler_bytes = 1000};
    fhe_commit_frame(&f, &c);
    assert_int_equal(ss_fh_decode(d, (const uint8_t *)f.data, f.len), 4);
    ss_source_msg m[4];
    for (int i = 0; i < 4; i++) ss_fh_output(d, (size_t)i, &m[i]);
    assert_null(m[0].bad_reason);
    assert_string_equal(m[1].bad_reason, "cid_mismatch");
    assert_non_null(strstr(m[1].data, "\"path\":\"app.bsky.feed.like/3b\",\"action\":\"create\""));
    assert_null(m[2].bad_reason);
    assert_non_null(strstr(m[2].data, "\"operation\":\"delete\",\"collection\":\"app.bsky.feed.like\",\"rkey\":\"3c\",\"time\":\"2026-05-25T14:23:28.778Z\"}}"));
    assert_null(m[3].bad_reason);
    assert_non_null(strstr(m[3].data, "\"operation\":\"update\""));
    assert_int_equal(m[0].cursor, 499);
    assert_int_equal(m[1].cursor, 499);
    assert_int_equal(m[2].cursor, 499);
    assert_int_equal(m[3].cursor, 500);
    assert_int_equal(ss_fh_last_seq(d), 500);
    const ss_fh_stats *st = ss_fh_stats_get(d);
    assert_int_equal(st->ops, 4);
    assert_int_equal(st->events, 3);
    assert_int_equal(st->rejects, 1);
    ss_buf_free(&rec);
    ss_buf_free(&rec2);
    ss_buf_free(&f);
    ss_fh_decoder_free(d);
}

/* A reject is a JSON object with a reason, and for per-op rejects the repo/rev/path. */
static void test_reject_content(void **state) {
    (void)state;
    ss_fh_decoder *d = ss_fh_decoder_new(NULL);
    ss_buf rec;
    ss_buf_init(&rec);
    like_cbor(&rec);
    fhe_op op = {0};
    op.corrupt_block = 1;
    fhe_commit c = {0};
    c.seq = 1234;
    int n;
    ss_source_msg m;
    one_op(d, &rec, op, c, &n, &m);
    assert_int_equal(n, 1);
    char *s = strndup(m.data, m.len);
    assert_non_null(strstr(s, "{\"reason\":\"cid_mismatch\",\"detail\":\"record: block of"));
    assert_non_null(strstr(s, "\"seq\":1234,\"repo\":\"did:plc:test\",\"rev\":\"3rev\",\"path\":\"app.bsky.feed.like/3abc\""));
    assert_null(strstr(s, "frame_b64"));
    assert_int_equal(m.cursor, 1234);
    free(s);
    ss_buf_free(&rec);
    ss_fh_decoder_free(d);
}

/* Builds a few valid frames of each kind, for truncation and mutation. */
static size_t sample_frames(ss_buf *fr, size_t max) {
    size_t n = 0;
    ss_buf rec;
    ss_buf_init(&rec);
    like_cbor(&rec);
    for (size_t i = 0; i < max; i++) ss_buf_init(&fr[i]);
    fhe_op ops[3] = {{"create", "app.bsky.feed.like/3a", (const uint8_t *)rec.data, rec.len, 0, 0, 0},
                     {"update", "app.bsky.feed.like/3b", (const uint8_t *)rec.data, rec.len, 0, 0, 0},
                     {"delete", "app.bsky.feed.like/3c", NULL, 0, 0, 0, 0}};
    fhe_commit c = {.seq = 10, .repo = "did:plc:x", .rev = "3r", .time = "2026-05-25T14:23:28.778Z", .ops = ops, .nops = 3,
                    .filler_bytes = 600};
    fhe_commit_frame(&fr[n++], &c);
    fhe_identity_frame(&fr[n++], 11, "did:plc:x", "2026-05-25T14:23:28.778Z", "x.test");
    fhe_account_frame(&fr[n++], 12, "did:plc:x", "2026-05-25T14:23:28.778Z", 0, "deactivated");
    fhe_error_frame(&fr[n++], "ConsumerTooSlow", "bye");
    ss_buf_free(&rec);
    return n;
}

static void test_truncated_everywhere(void **state) {
    (void)state;
    ss_fh_decoder *d = ss_fh_decoder_new(NULL);
    ss_buf fr[8];
    size_t nf = sample_frames(fr, 8);
    for (size_t k = 0; k < nf; k++) {
        int full = ss_fh_decode(d, (const uint8_t *)fr[k].data, fr[k].len);
        assert_true(full >= 1);
        for (size_t cut = 0; cut < fr[k].len; cut++) {
            int n = ss_fh_decode(d, (const uint8_t *)fr[k].data, cut);
            if (n != 1) fail_msg("frame %zu cut at %zu: %d outputs", k, cut, n);
            ss_source_msg m;
            ss_fh_output(d, 0, &m);
            if (!m.bad_reason) fail_msg("frame %zu cut at %zu gave an event", k, cut);
        }
    }
    /* the cut frames are counted by reason; "truncated" dominates */
    assert_true(ss_fh_stats_get(d)->by_reason[SS_FH_TRUNCATED] > 100);
    for (size_t k = 0; k < nf; k++) ss_buf_free(&fr[k]);
    ss_fh_decoder_free(d);
}

static void test_frame_level_malformed(void **state) {
    (void)state;
    ss_fh_opts o;
    ss_fh_opts_init(&o);
    o.max_frame_bytes = 4000;
    ss_fh_decoder *d = ss_fh_decoder_new(&o);
    ss_buf f;
    ss_buf_init(&f);
    ss_source_msg m;
#define EXPECT_FRAME(reason)                                                                                           \
    do {                                                                                                               \
        assert_int_equal(decode1(d, &f, &m), 1);                                                                      \
        if (strcmp(m.bad_reason ? m.bad_reason : "(event)", reason))                                                  \
            fail_msg("expected %s, got %s: %.*s", reason, m.bad_reason ? m.bad_reason : "(event)", (int)m.len, m.data); \
    } while (0)

    /* oversized frame */
    ss_buf rec;
    ss_buf_init(&rec);
    like_cbor(&rec);
    fhe_op op = {"create", "app.bsky.feed.like/3a", (const uint8_t *)rec.data, rec.len, 0, 0, 0};
    fhe_commit c = {.seq = 10, .repo = "did:plc:x", .rev = "3r", .time = "2026-05-25T14:23:28.778Z", .ops = &op, .nops = 1,
                    .filler_bytes = 5000};
    fhe_commit_frame(&f, &c);
    EXPECT_FRAME("frame_too_big");
    assert_non_null(strstr(m.data, "\"frame_b64\":\""));
    /* header of the wrong major type (an array) */
    ss_buf_reset(&f);
    fhe_head(&f, 4, 2);
    fhe_int(&f, 1);
    fhe_text(&f, "#commit");
    EXPECT_FRAME("cbor_wrong_type");
    /* header without op; unknown op */
    ss_buf_reset(&f);
    fhe_head(&f, 5, 1);
    fhe_text(&f, "t");
    fhe_text(&f, "#commit");
    EXPECT_FRAME("bad_header");
    ss_buf_reset(&f);
    fhe_head(&f, 5, 1);
    fhe_text(&f, "op");
    fhe_int(&f, 7);
    fhe_head(&f, 5, 0);
    EXPECT_FRAME("bad_header");
    /* seq of the wrong type */
    ss_buf_reset(&f);
    fhe_identity_frame(&f, 1, "did:plc:x", "2026-05-25T14:23:28.778Z", NULL);
    {
        /* re-encode with seq as text */
        ss_buf_reset(&f);
        fhe_map *h = fhe_map_new();
        fhe_int(fhe_map_put(h, "op"), 1);
        fhe_text(fhe_map_put(h, "t"), "#identity");
        fhe_map_write(h, &f);
        fhe_map *b = fhe_map_new();
        fhe_text(fhe_map_put(b, "seq"), "12");
        fhe_text(fhe_map_put(b, "did"), "did:plc:x");
        fhe_text(fhe_map_put(b, "time"), "2026-05-25T14:23:28.778Z");
        fhe_map_write(b, &f);
    }
    EXPECT_FRAME("cbor_wrong_type");
    /* account without active */
    ss_buf_reset(&f);
    {
        fhe_map *h = fhe_map_new();
        fhe_int(fhe_map_put(h, "op"), 1);
        fhe_text(fhe_map_put(h, "t"), "#account");
        fhe_map_write(h, &f);
        fhe_map *b = fhe_map_new();
        fhe_uint(fhe_map_put(b, "seq"), 12);
        fhe_text(fhe_map_put(b, "did"), "did:plc:x");
        fhe_text(fhe_map_put(b, "time"), "2026-05-25T14:23:28.778Z");
        fhe_map_write(b, &f);
    }
    EXPECT_FRAME("bad_body");
    /* trailing garbage after the body */
    ss_buf_reset(&f);
    fhe_identity_frame(&f, 1, "did:plc:x", "2026-05-25T14:23:28.778Z", NULL);
    ss_buf_append(&f, "\x00", 1);
    EXPECT_FRAME("bad_cbor");
    /* CAR with a broken varint / version / block CID, built by hand */
    for (int variant = 0; variant < 4; variant++) {
        ss_buf car, commit;
        ss_buf_init(&car);
        ss_buf_init(&commit);
        fhe_text(&commit, "commit-object");
        uint8_t ccid[FHE_CID_LEN];
        fhe_cid(ccid, commit.data, commit.len, 0x71);
        if (variant == 0) {
            ss_buf_append(&car, "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 11); /* varint over 9 bytes */
        } else if (variant == 1) {
            ss_buf h;
            ss_buf_init(&h);
            fhe_map *hm = fhe_map_new();
            ss_buf *roots = fhe_map_put(hm, "roots");
            fhe_head(roots, 4, 1);
            fhe_link(roots, ccid, sizeof ccid);
            fhe_uint(fhe_map_put(hm, "version"), 2);
            fhe_map_write(hm, &h);
            fhe_uvarint(&car, h.len);
            ss_buf_append(&car, h.data, h.len);
            ss_buf_free(&h);
        } else {
            fhe_car_header(&car, ccid, sizeof ccid);
            if (variant == 2) {
                fhe_uvarint(&car, 10);
                ss_buf_append(&car, "\x02\x71\x12\x20xxxxxx", 10); /* CID version 2 */
            } else {
                fhe_uvarint(&car, 1000); /* section longer than what is left */
                ss_buf_append(&car, ccid, sizeof ccid);
            }
        }
        ss_buf_reset(&f);
        fhe_map *h = fhe_map_new();
        fhe_int(fhe_map_put(h, "op"), 1);
        fhe_text(fhe_map_put(h, "t"), "#commit");
        fhe_map_write(h, &f);
        fhe_map *b = fhe_map_new();
        fhe_uint(fhe_map_put(b, "seq"), 99);
        fhe_text(fhe_map_put(b, "repo"), "did:plc:x");
        fhe_text(fhe_map_put(b, "rev"), "3r");
        fhe_link(fhe_map_put(b, "commit"), ccid, sizeof ccid);
        fhe_text(fhe_map_put(b, "time"), "2026-05-25T14:23:28.778Z");
        ss_buf *ops = fhe_map_put(b, "ops");
        fhe_head(ops, 4, 1);
        fhe_map *om = fhe_map_new();
        fhe_text(fhe_map_put(om, "action"), "delete");
        fhe_text(fhe_map_put(om, "path"), "a.b.c/1");
        fhe_null(fhe_map_put(om, "cid"));
        fhe_map_write(om, ops);
        fhe_bytes(fhe_map_put(b, "blocks"), car.data, car.len);
        fhe_map_write(b, &f);
        static const char *const want[] = {"bad_varint", "bad_car", "bad_cid", "truncated"};
        EXPECT_FRAME(want[variant]);
        assert_non_null(strstr(m.data, "\"seq\":99"));
        ss_buf_free(&car);
        ss_buf_free(&commit);
    }
    /* lengths that claim more than the frame holds: refused before any allocation */
    ss_buf_reset(&f);
    ss_buf_append(&f, "\xbb\x0f\xff\xff\xff\xff\xff\xff\xff", 9); /* map of 2^60 entries */
    EXPECT_FRAME("truncated");
    ss_buf_reset(&f);
    fhe_identity_frame(&f, 1, "did:plc:x", "2026-05-25T14:23:28.778Z", NULL);
    f.len -= 3; /* the time string's length now exceeds what is left */
    EXPECT_FRAME("truncated");
    ss_buf_reset(&f);
    {
        fhe_map *h = fhe_map_new();
        fhe_int(fhe_map_put(h, "op"), 1);
        fhe_text(fhe_map_put(h, "t"), "#identity");
        fhe_map_write(h, &f);
        ss_buf_append(&f, "\xa1\x63seq\x5b\x7f\xff\xff\xff\xff\xff\xff\xff", 14); /* bytes of 2^63-1 */
    }
    EXPECT_FRAME("truncated");
    /* too many ops */
    {
        fhe_op ops[201];
        for (int i = 0; i < 201; i++) ops[i] = (fhe_op){"delete", "app.bsky.feed.like/3a", NULL, 0, 0, 0, 0};
        fhe_commit cc = {.seq = 10, .repo = "did:plc:x", .rev = "3r", .time = "2026-05-25T14:23:28.778Z", .ops = ops, .nops = 201};
        ss_buf_reset(&f);
        fhe_commit_frame(&f, &cc);
        ss_fh_decoder_free(d);
        d = ss_fh_decoder_new(NULL);
        EXPECT_FRAME("too_many_ops");
    }
    ss_buf_free(&rec);
    ss_buf_free(&f);
    ss_fh_decoder_free(d);
}

typedef struct {
    ss_buf *v;
    size_t n, cap;
} frame_list;

static void keep_frame(void *ud, const uint8_t *frame, size_t len) {
    frame_list *l = ud;
    if (l->n == l->cap) return;
    ss_buf_init(&l->v[l->n]);
    ss_buf_append(&l->v[l->n++], frame, len);
}

/* Seeded mutation fuzz (SS_FUZZ_SEED, SS_FUZZ_ITERS to run longer): flips, deletes, cuts and
 * overwrites bytes of valid frames.
 * Whatever comes out must be well-formed outputs; ASan/UBSan watch the rest. */
static void test_mutation_fuzz(void **state) {
    (void)state;
    ss_log_set_level(SS_LOG_ERROR); /* error frames are logged as warnings */
    ss_fh_decoder *d = ss_fh_decoder_new(NULL);
    ss_buf fr[40], mut;
    ss_buf_init(&mut);
    size_t nf = sample_frames(fr, 8);
    /* plus the hand-written events' frames: posts with embeds and facets, blobs, bytes, ... */
    frame_list fl = {fr, nf, 40};
    fhe_conv *conv = fhe_conv_new(keep_frame, &fl, 300, 3);
    char err[200];
    for (size_t i = 0; i < sizeof g_events / sizeof *g_events; i++)
        assert_int_equal(fhe_conv_line(conv, g_events[i], strlen(g_events[i]), err, sizeof err), 0);
    fhe_conv_free(conv);
    nf = fl.n;
    assert_true(nf > 15);
    const char *seed_env = getenv("SS_FUZZ_SEED");
    uint64_t s = seed_env ? strtoull(seed_env, NULL, 0) | 1 : 0x5eed5eed12345ULL;
    const char *iters_env = getenv("SS_FUZZ_ITERS");
    long iters = iters_env ? atol(iters_env) : 100000;
    uint64_t events = 0, rejects = 0;
    for (long it = 0; it < iters; it++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        const ss_buf *src = &fr[s % nf];
        ss_buf_reset(&mut);
        ss_buf_append(&mut, src->data, src->len);
        int nmut = 1 + (int)((s >> 8) % 4);
        for (int k = 0; k < nmut && mut.len > 0; k++) {
            s ^= s << 13, s ^= s >> 7, s ^= s << 17;
            size_t pos = (size_t)(s >> 16) % mut.len;
            switch ((s >> 3) % 5) {
            case 0: mut.data[pos] ^= (char)(1u << ((s >> 40) % 8)); break;
            case 1: mut.data[pos] = (char)(s >> 48); break;
            case 2: memmove(mut.data + pos, mut.data + pos + 1, mut.len - pos - 1), mut.len--; break;
            case 3: mut.len = pos; break;
            case 4: {
                static const uint8_t interesting[] = {0x00, 0x18, 0x19, 0x1a, 0x1b, 0x1f, 0x5f, 0x7f, 0x9f, 0xbf,
                                                      0xd8, 0xf7, 0xf9, 0xfa, 0xfb, 0xff, 0x80, 0x2a};
                mut.data[pos] = (char)interesting[(s >> 24) % sizeof interesting];
                break;
            }
            }
        }
        int n = ss_fh_decode(d, (const uint8_t *)mut.data, mut.len);
        assert_true(n >= 0);
        for (int i = 0; i < n; i++) {
            ss_source_msg m;
            ss_fh_output(d, (size_t)i, &m);
            assert_true(m.len >= 2 && m.data[0] == '{' && m.data[m.len - 1] == '}');
            if (m.bad_reason) rejects++;
            else events++;
        }
    }
    /* both paths are exercised */
    assert_true(rejects > 100);
    assert_true(events > 100);
    for (size_t k = 0; k < nf; k++) ss_buf_free(&fr[k]);
    ss_buf_free(&mut);
    ss_fh_decoder_free(d);
}

static void test_time_parse(void **state) {
    (void)state;
    int64_t us;
    assert_int_equal(ss_fh_parse_time_us("2026-05-25T14:23:29.950Z", 24, &us), 0);
    assert_int_equal(us, 1779719009950000LL);
    assert_int_equal(ss_fh_parse_time_us("2026-05-25T14:23:29.132431Z", 27, &us), 0);
    assert_int_equal(us, 1779719009132431LL);
    assert_int_equal(ss_fh_parse_time_us("2026-05-25T14:23:29Z", 20, &us), 0);
    assert_int_equal(us, 1779719009000000LL);
    assert_int_equal(ss_fh_parse_time_us("2026-05-25T16:23:29.5+02:00", 27, &us), 0);
    assert_int_equal(us, 1779719009500000LL);
    assert_int_equal(ss_fh_parse_time_us("2026-05-25T14:23:29.123456789Z", 30, &us), 0);
    assert_int_equal(us, 1779719009123456LL);
    /* more than 9 fractional digits: truncated, as indigo does (was rejected) */
    assert_int_equal(ss_fh_parse_time_us("2026-05-25T14:23:29.1234567891234Z", 34, &us), 0);
    assert_int_equal(us, 1779719009123456LL);
    char longt[SS_FH_MAX_TIME_LEN + 8] = "2026-05-25T14:23:29.";
    while (strlen(longt) < SS_FH_MAX_TIME_LEN) strcat(longt, "1");
    strcat(longt, "Z"); /* one over the limit */
    assert_int_equal(ss_fh_parse_time_us(longt, strlen(longt), &us), -1);
    assert_int_equal(ss_fh_parse_time_us("2026-05-25 14:23:29Z", 20, &us), -1);
    assert_int_equal(ss_fh_parse_time_us("2026-05-25T14:23:29.Z", 21, &us), -1);
    assert_int_equal(ss_fh_parse_time_us("2026-05-25T14:23:29", 19, &us), -1);
}

/* A record of exactly `size` bytes of DAG-CBOR: {"$type": "app.bsky.feed.like", "pad": "xxx..."}. */
static void record_of_size(ss_buf *rec, size_t size) {
    for (size_t pad = size > 64 ? size - 64 : 0;; pad++) {
        char *p = malloc(pad + 1);
        assert_non_null(p);
        memset(p, 'x', pad);
        p[pad] = 0;
        ss_buf_reset(rec);
        fhe_head(rec, 5, 2);
        fhe_text(rec, "pad");
        fhe_text(rec, p);
        fhe_text(rec, "$type");
        fhe_text(rec, "app.bsky.feed.like");
        free(p);
        if (rec->len >= size) break;
    }
    assert_int_equal(rec->len, size);
}

/* Fidelity with the relay: records up to 1 MiB (not 1,000,000 B) are events; a frame time
 * with 10+ fractional digits is an event (truncated); a commit whose signed object names
 * another did or rev is a commit_mismatch reject, as goat firehose --verify-basic says. */
static void test_relay_fidelity(void **state) {
    (void)state;
    ss_fh_decoder *d = ss_fh_decoder_new(NULL);
    ss_buf rec;
    ss_buf_init(&rec);
    fhe_op op0 = {0};
    fhe_commit c0 = {0};
    int n;
    ss_source_msg m;
    record_of_size(&rec, 1000001);
    assert_null(one_op(d, &rec, op0, c0, &n, &m));
    record_of_size(&rec, SS_FH_MAX_RECORD);
    assert_null(one_op(d, &rec, op0, c0, &n, &m));
    record_of_size(&rec, SS_FH_MAX_RECORD + 1);
    EXPECT_REASON(d, &rec, op0, c0, "record_too_big");

    ss_buf_reset(&rec);
    like_cbor(&rec);
    fhe_commit ct = {.time = "2026-05-25T14:23:28.7781234567Z"};
    const char *rt = one_op(d, &rec, op0, ct, &n, &m);
    if (rt) fail_msg("%s: %.*s", rt, (int)m.len, m.data);
    assert_non_null(strstr(m.data, "\"time_us\":1779719008778123"));

    fhe_commit cd = {.commit_did = "did:plc:someoneelse"};
    EXPECT_REASON(d, &rec, op0, cd, "commit_mismatch");
    one_op(d, &rec, op0, cd, &n, &m);
    assert_non_null(strstr(m.data, "did:plc:someoneelse"));
    fhe_commit cr = {.commit_rev = "3older"};
    EXPECT_REASON(d, &rec, op0, cr, "commit_mismatch");
    assert_int_equal(ss_fh_stats_get(d)->by_reason[SS_FH_COMMIT_MISMATCH], 3);
    ss_buf_free(&rec);
    ss_fh_decoder_free(d);
}

static int64_t time_us_of(const ss_source_msg *m) {
    const char *p = strstr(m->data, "\"time_us\":");
    assert_non_null(p);
    return atoll(p + 10);
}

/* One like commit claiming `when`, decoded; the event in *m. */
static void like_at(ss_fh_decoder *d, int64_t seq, const char *when, ss_source_msg *m) {
    ss_buf rec, f;
    ss_buf_init(&rec);
    ss_buf_init(&f);
    like_cbor(&rec);
    fhe_op op = {"create", "app.bsky.feed.like/3k", (const uint8_t *)rec.data, rec.len, 0, 0, 0};
    fhe_commit c = {.seq = seq, .repo = "did:plc:clock", .rev = "3r", .time = when, .ops = &op, .nops = 1};
    fhe_commit_frame(&f, &c);
    assert_int_equal(ss_fh_decode(d, (const uint8_t *)f.data, f.len), 1);
    ss_fh_output(d, 0, m);
    assert_null(m->bad_reason);
    ss_buf_free(&rec);
    ss_buf_free(&f);
}

/* time_us is never the PDS's claim: the receipt clock (firehose:) and the replay clock
 * (frames:) never go back and ignore a claim from 2099; the claim itself stays in the event
 * (commit.time) and becomes the claimed_time column. */
static void test_clocks_and_claimed_time(void **state) {
    (void)state;
    ss_fh_opts o;
    ss_fh_opts_init(&o);
    o.clock = SS_FH_CLOCK_RECEIPT;
    ss_fh_decoder *d = ss_fh_decoder_new(&o);
    ss_source_msg m;
    ss_fh_set_receipt_us(d, 1779719000000000LL);
    like_at(d, 1, "2099-01-01T00:00:00.000Z", &m);
    assert_int_equal(time_us_of(&m), 1779719000000000LL);
    assert_non_null(strstr(m.data, ",\"time\":\"2099-01-01T00:00:00.000Z\"}}"));
    /* the event model and the archive see the claim */
    ss_decoder *ed = ss_decoder_new(NULL);
    ss_event ev;
    assert_int_equal(ss_decode(ed, m.data, m.len, &ev), SS_DECODE_OK);
    assert_int_equal(ev.time_us, 1779719000000000LL);
    assert_true(ev.claimed_time.p && ev.claimed_time.n == 24 && !memcmp(ev.claimed_time.p, "2099", 4));
    ss_ar_mapper *am = ss_ar_mapper_new();
    ss_ar_row row;
    assert_int_equal(ss_ar_map(am, &ev, &row), 0);
    assert_true(row.has_claimed_time);
    assert_int_equal(row.claimed_time, 4070908800000000LL);
    /* a Jetstream commit has no claimed time */
    const char *js = "{\"did\":\"did:plc:x\",\"time_us\":1,\"kind\":\"commit\",\"commit\":{\"rev\":\"3r\",\"operation\":"
                     "\"delete\",\"collection\":\"app.bsky.feed.like\",\"rkey\":\"3k\"}}";
    assert_int_equal(ss_decode(ed, js, strlen(js), &ev), SS_DECODE_OK);
    assert_null(ev.claimed_time.p);
    assert_int_equal(ss_ar_map(am, &ev, &row), 0);
    assert_false(row.has_claimed_time);
    ss_ar_mapper_free(am);
    ss_decoder_free(ed);
    /* a receipt time that goes back (clock step) does not make time_us go back */
    ss_fh_set_receipt_us(d, 1779718000000000LL);
    like_at(d, 2, "2026-05-25T14:23:28.778Z", &m);
    assert_int_equal(time_us_of(&m), 1779719000000000LL);
    ss_fh_decoder_free(d);

    o.clock = SS_FH_CLOCK_REPLAY;
    d = ss_fh_decoder_new(&o);
    like_at(d, 1, "2026-05-25T14:00:00Z", &m);
    assert_int_equal(time_us_of(&m), 1779717600000000LL);
    like_at(d, 2, "2099-01-01T00:00:00Z", &m); /* after the wall clock: not believed */
    assert_int_equal(time_us_of(&m), 1779717600000000LL);
    like_at(d, 3, "2026-05-25T13:59:00Z", &m); /* earlier: never decreasing */
    assert_int_equal(time_us_of(&m), 1779717600000000LL);
    like_at(d, 4, "2026-05-25T14:01:00Z", &m);
    assert_int_equal(time_us_of(&m), 1779717660000000LL);
    like_at(d, 5, "2026-05-25T15:01:00Z", &m); /* a lone claim an hour on: not believed */
    assert_int_equal(time_us_of(&m), 1779717660000000LL);
    like_at(d, 6, "2026-05-25T14:02:00Z", &m);
    assert_int_equal(time_us_of(&m), 1779717720000000LL);
    like_at(d, 7, "2026-05-25T16:00:00Z", &m); /* the recording jumps: two claims agree */
    assert_int_equal(time_us_of(&m), 1779717720000000LL);
    like_at(d, 8, "2026-05-25T16:00:01Z", &m);
    assert_int_equal(time_us_of(&m), 1779724801000000LL);
    ss_fh_decoder_free(d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clocks_and_claimed_time),
        cmocka_unit_test(test_time_parse),
        cmocka_unit_test(test_relay_fidelity),
        cmocka_unit_test(test_synth_roundtrip),
        cmocka_unit_test(test_shared_samples_roundtrip),
        cmocka_unit_test(test_handmade_roundtrip),
        cmocka_unit_test(test_sync_info_error_toobig),
        cmocka_unit_test(test_records_rejected),
        cmocka_unit_test(test_reject_content),
        cmocka_unit_test(test_multi_op_partial),
        cmocka_unit_test(test_truncated_everywhere),
        cmocka_unit_test(test_frame_level_malformed),
        cmocka_unit_test(test_mutation_fuzz),
    };
    return SS_SHARED_EXIT(cmocka_run_group_tests(tests, NULL, NULL));
}
