/* Fuzz target: the firehose frame decoder (ss_fh_*, src/source/firehose/fh_decode.h).
 *
 * The input's first byte picks a mode; the rest is the payload:
 *   'R' (0x52)  the payload is a DAG-CBOR record: ss_fh_record_to_json(); when accepted, the
 *               JSON must be a valid object, and converting it back with the test-side
 *               encoder (tests/support/fh_encode.h) and again to JSON must give the same text;
 *   'C' (0x43)  a structured commit: the payload is split into fields (repo, rev, time, ops
 *               with actions, paths and record JSON) and encoded as a real #commit frame
 *               with valid CIDs and CAR, so mutations reach the deep checks instead of
 *               dying in the header;
 *   otherwise   the whole input is one frame, as received from the WebSocket.
 * Every frame is decoded by two decoders (ss_fh_decode and the callback style
 * ss_fh_decode_frame), which must produce identical outputs. For every output:
 *   - good events are valid JSON that ss_decode accepts;
 *   - rejects carry a known reason and are a JSON object holding that reason;
 *   - cursors: the last output carries the frame's seq, earlier ones seq - 1;
 *   - the stats grow by exactly the outputs produced;
 *   - the transport's peek (ss_frame_peek, src/proto/frame_peek.h) agrees with the decoder:
 *     same seq, and good events carry the peeked time and a kind matching the header t.
 * Memory is bounded by the decoder's limits; the smoke run sets -malloc_limit_mb. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event/event.h"
#include "fh_encode.h"
#include "proto/frame_peek.h"
#include "source/firehose/fh_decode.h"
#include "util/buf.h"
#include "util/json.h"
#include "util/log.h"

#define CHECK(c, ...)                                                      \
    do {                                                                   \
        if (!(c)) {                                                        \
            fprintf(stderr, "fuzz_firehose: invariant failed: %s: ", #c); \
            fprintf(stderr, __VA_ARGS__);                                  \
            fprintf(stderr, "\n");                                         \
            abort();                                                       \
        }                                                                  \
    } while (0)

static ss_fh_decoder *d1, *d2, *drec;
static ss_decoder *ev_dec;
static ss_json_doc jdoc;

typedef struct {
    char *data[512];
    size_t len[512];
    const char *reason[512];
    int64_t cursor[512];
    size_t n;
} captured;

static captured cap2;

static int capture(void *ud, const ss_source_msg *m) {
    captured *c = ud;
    if (c->n >= 512) return 0;
    c->data[c->n] = malloc(m->len ? m->len : 1);
    if (!c->data[c->n]) abort();
    memcpy(c->data[c->n], m->data, m->len);
    c->len[c->n] = m->len;
    c->reason[c->n] = m->bad_reason;
    c->cursor[c->n] = m->cursor;
    c->n++;
    return 0;
}

static int known_reason(const char *r) {
    for (int i = 1; i < SS_FH_REASON__COUNT; i++)
        if (!strcmp(r, ss_fh_reason_name(i))) return 1;
    return 0;
}

/* FIXED on main (5fb3a6f); the build defines FUZZ_STRICT_FH_VALUES, so the target fails
 * on them again. Were: the decoder emits good events that
 * ss_decode() rejects as bad_value, because it does not check what the event model
 * requires of the frame's fields:
 *   - a frame time before 1970 gives a negative time_us
 *     (tests/fuzz/regressions/firehose/fh-negative-time-us.bin);
 *   - an empty repo gives an empty did, an empty rev or path part an empty rev, collection
 *     or rkey (tests/fuzz/regressions/firehose/fh-empty-repo.bin).
 * The fix belongs in fh_decode.c (reject such frames/ops as bad_time / bad_body / bad_op).
 * Until it lands these two value checks are tolerated, and counted on exit, so the smoke
 * test stays green; any other disagreement with ss_decode fails. Build with
 * -DFUZZ_STRICT_FH_VALUES to fail on them too. */
static unsigned long known_negative, known_empty;
static void known_report(void) {
    if (known_negative || known_empty)
        fprintf(stderr, "fuzz_firehose: KNOWN BUG seen: %lu good events with a negative time_us, %lu with an empty "
                        "required string (ss_decode rejects them)\n", known_negative, known_empty);
}
static int known_bad_value(ss_decode_reason r, const char *why) {
#ifdef FUZZ_STRICT_FH_VALUES
    (void)r, (void)why;
    return 0;
#else
    if (r != SS_DECODE_BAD_VALUE) return 0;
    if (strstr(why, "time_us is negative")) return ++known_negative, 1;
    if (strstr(why, " is empty")) return ++known_empty, 1;
    return 0;
#endif
}

static void check_frame(const uint8_t *frame, size_t len) {
    ss_fh_stats before = *ss_fh_stats_get(d1);
    int n = ss_fh_decode(d1, frame, len);
    CHECK(n >= 0, "ss_fh_decode returned %d (out of memory?)", n);
    CHECK((size_t)n == ss_fh_output_count(d1), "output count %zu, returned %d", ss_fh_output_count(d1), n);
    const ss_fh_stats *after = ss_fh_stats_get(d1);
    CHECK(after->frames == before.frames + 1, "frames counter");
    CHECK(after->events - before.events + after->rejects - before.rejects == (uint64_t)n,
          "stats grew by %llu events + %llu rejects for %d outputs",
          (unsigned long long)(after->events - before.events), (unsigned long long)(after->rejects - before.rejects), n);
    int64_t seq = ss_fh_frame_seq(d1);
    ss_frame_peek_result pk;
    int prc = ss_frame_peek(frame, len, &pk);
    if (prc == 0 && pk.seq >= 0 && seq > 0) CHECK(pk.seq == seq, "peek seq %lld, decoder seq %lld", (long long)pk.seq, (long long)seq);

    for (size_t i = 0; i < cap2.n; i++) free(cap2.data[i]);
    cap2.n = 0;
    int n2 = ss_fh_decode_frame(d2, frame, len, capture, &cap2);
    CHECK(n2 == n, "callback style gave %d outputs, ss_fh_decode %d", n2, n);

    for (int i = 0; i < n; i++) {
        ss_source_msg m;
        ss_fh_output(d1, (size_t)i, &m);
        CHECK(m.data && m.len >= 2, "output %d empty", i);
        CHECK(m.len == cap2.len[i] && !memcmp(m.data, cap2.data[i], m.len), "output %d differs between APIs", i);
        CHECK((m.bad_reason == NULL) == (cap2.reason[i] == NULL) && m.cursor == cap2.cursor[i],
              "output %d reason/cursor differ between APIs", i);
        if (seq > 0) {
            int64_t want = i == n - 1 ? seq : seq - 1;
            CHECK(m.cursor == want, "output %d of %d: cursor %lld, frame seq %lld", i, n, (long long)m.cursor,
                  (long long)seq);
        }
        ss_json_err je = ss_json_parse(&jdoc, m.data, m.len);
        CHECK(je == SS_JSON_OK, "output %d (%s) is not JSON: %s", i, m.bad_reason ? m.bad_reason : "event", jdoc.errstr);
        CHECK(ss_json_root(&jdoc)->type == SS_JSON_OBJECT, "output %d is not an object", i);
        if (m.bad_reason) {
            CHECK(known_reason(m.bad_reason), "unknown reason %s", m.bad_reason);
            CHECK(ss_json_str_eq(&jdoc, ss_json_obj_get(&jdoc, ss_json_root(&jdoc), "reason"), m.bad_reason,
                                 strlen(m.bad_reason)),
                  "reject %d does not name its reason %s", i, m.bad_reason);
        } else {
            ss_event ev;
            ss_decode_reason r = ss_decode(ev_dec, m.data, m.len, &ev);
            if (r != SS_DECODE_OK && known_bad_value(r, ss_decoder_errstr(ev_dec))) continue;
            CHECK(r == SS_DECODE_OK, "good output %d rejected by ss_decode: %s: %.*s", i, ss_decoder_errstr(ev_dec),
                  (int)(m.len < 400 ? m.len : 400), m.data);
            CHECK(prc == 0, "a frame the peek rejects gave a good event");
            if (pk.time_us != -1)
                CHECK(ev.time_us == pk.time_us, "event time_us %lld, peeked frame time %lld", (long long)ev.time_us,
                      (long long)pk.time_us);
            const char *want_t = ev.kind == SS_KIND_COMMIT ? "#commit" : ev.kind == SS_KIND_IDENTITY ? "#identity" : "#account";
            if (ev.kind == SS_KIND_SYNC) /* a #sync frame, or a tooBig #commit */
                CHECK(!strcmp(pk.t, "#sync") || !strcmp(pk.t, "#commit"), "sync event from a frame with t '%s'", pk.t);
            else
                CHECK(!strcmp(pk.t, want_t), "event kind %d from a frame with t '%s'", ev.kind, pk.t);
        }
    }
}

/* ---- structured commits ------------------------------------------------------------ */

typedef struct {
    const uint8_t *p;
    size_t n;
} reader;

static uint8_t rd_byte(reader *r) {
    if (!r->n) return 0;
    r->n--;
    return *r->p++;
}
/* A field: up to the next 0x00 byte (or the end). */
static void rd_field(reader *r, char *out, size_t cap) {
    size_t k = 0;
    while (r->n && *r->p) {
        if (k + 1 < cap) out[k++] = (char)*r->p;
        r->p++, r->n--;
    }
    if (r->n) r->p++, r->n--;
    out[k] = 0;
}

static void structured_commit(const uint8_t *data, size_t size) {
    reader r = {data, size};
    static char repo[256], rev[64], tm[64], paths[8][256], recjson[8][4096];
    uint8_t flags = rd_byte(&r);
    int64_t seq = (int64_t)rd_byte(&r) << 8 | rd_byte(&r);
    rd_field(&r, repo, sizeof repo);
    rd_field(&r, rev, sizeof rev);
    rd_field(&r, tm, sizeof tm);
    size_t nops = rd_byte(&r) % 9;
    fhe_op ops[8];
    ss_buf recs[8];
    static const char *const actions[] = {"create", "update", "delete", "move"};
    size_t k = 0;
    for (; k < nops && r.n; k++) {
        uint8_t a = rd_byte(&r);
        memset(&ops[k], 0, sizeof ops[k]);
        ss_buf_init(&recs[k]);
        ops[k].action = actions[a & 3];
        ops[k].omit_block = (a >> 2 & 7) == 1;
        ops[k].corrupt_block = (a >> 2 & 7) == 2;
        ops[k].null_cid = (a >> 2 & 7) == 3;
        rd_field(&r, paths[k], sizeof paths[k]);
        rd_field(&r, recjson[k], sizeof recjson[k]);
        ops[k].path = paths[k];
        if (strcmp(ops[k].action, "delete") != 0) {
            char err[128];
            if (fhe_json_record_to_cbor(&recs[k], recjson[k], strlen(recjson[k]), err, sizeof err) != 0) {
                ss_buf_reset(&recs[k]);
                fhe_map *m = fhe_map_new(); /* fall back to a minimal record */
                fhe_text(fhe_map_put(m, "$type"), "app.bsky.feed.like");
                fhe_map_write(m, &recs[k]);
            }
            ops[k].record = (const uint8_t *)recs[k].data;
            ops[k].record_len = recs[k].len;
        }
    }
    fhe_commit c = {.seq = seq, .repo = repo, .rev = rev, .time = tm, .ops = ops, .nops = k,
                    .filler_bytes = (flags & 3) * 64u, .seed = flags, .too_big = (flags >> 2 & 7) == 1,
                    .corrupt_commit = (flags >> 2 & 7) == 2, .wrong_root = (flags >> 2 & 7) == 3};
    ss_buf frame;
    ss_buf_init(&frame);
    fhe_commit_frame(&frame, &c);
    check_frame((const uint8_t *)frame.data, frame.len);
    ss_buf_free(&frame);
    for (size_t i = 0; i < k; i++) ss_buf_free(&recs[i]);
}

/* ---- records ----------------------------------------------------------------------- */

static void record_roundtrip(const uint8_t *data, size_t size) {
    const char *json;
    size_t jl;
    if (ss_fh_record_to_json(drec, data, size, &json, &jl) != SS_FH_OK) return;
    CHECK(ss_json_parse(&jdoc, json, jl) == SS_JSON_OK, "record JSON invalid: %s", jdoc.errstr);
    CHECK(ss_json_root(&jdoc)->type == SS_JSON_OBJECT, "record JSON is not an object");
    char *first = malloc(jl ? jl : 1);
    if (!first) abort();
    memcpy(first, json, jl);
    size_t first_len = jl;
    ss_buf cbor;
    ss_buf_init(&cbor);
    char err[160];
    if (fhe_json_record_to_cbor(&cbor, first, first_len, err, sizeof err) == 0) {
        int rc = ss_fh_record_to_json(drec, (const uint8_t *)cbor.data, cbor.len, &json, &jl);
        CHECK(rc == SS_FH_OK, "re-encoded record rejected: %s (%s)", ss_fh_reason_name(rc), ss_fh_last_detail(drec));
        CHECK(jl == first_len && !memcmp(json, first, jl), "record JSON changed in a round trip:\n%.*s\n%.*s",
              (int)first_len, first, (int)jl, json);
    }
    ss_buf_free(&cbor);
    free(first);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!d1) {
        ss_log_set_level(SS_LOG_OFF);
        atexit(known_report);
        ss_fh_opts o;
        ss_fh_opts_init(&o);
        o.max_frame_bytes = 1 << 20; /* smaller limits than production, reached more often */
        o.max_car_bytes = 1 << 19;
        o.max_record_bytes = 1 << 16;
        o.max_ops = 16;
        o.max_blocks = 256;
        o.max_depth = 16;
        d1 = ss_fh_decoder_new(&o);
        d2 = ss_fh_decoder_new(&o);
        drec = ss_fh_decoder_new(&o);
        ev_dec = ss_decoder_new(NULL);
        if (!d1 || !d2 || !drec || !ev_dec || ss_json_doc_init(&jdoc, NULL)) abort();
    }
    if (size >= 1 && data[0] == 'R') {
        record_roundtrip(data + 1, size - 1);
    } else if (size >= 1 && data[0] == 'C') {
        structured_commit(data + 1, size - 1);
    } else {
        check_frame(data, size);
    }
    return 0;
}
