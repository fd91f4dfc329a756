/* Fuzz target: the Jetstream v1 event decoder (ss_decode, src/event/event.h), and the
 * archive mapping (ss_ar_map) of every event it accepts.
 *
 * Invariants checked on every accepted input:
 *   - every ss_str slice lies inside the input or inside the decoder's scratch arena, and
 *     is valid UTF-8; raw is the input without its trailing newline;
 *   - time_us >= 0; kind, type and op agree (commit: op set, type from the collection,
 *     record and cid present exactly for create/update, record is a JSON object;
 *     identity/account: op none, the matching type, seq >= 0, account has active 0/1);
 *   - decoding the same bytes again, from another address, with or without a trailing
 *     "\n" / "\r\n", gives the same fields and the same dedup key (dedup is deterministic
 *     and depends on content only);
 *   - ss_ar_map succeeds and keeps the event's type; its string views are valid UTF-8;
 *   - ss_ar_write_row writes it into a Parquet file (one long-lived writer on a memfd,
 *     finished every 256 rows): never an error, and the finished file has both magics and
 *     the rows written;
 *   - the meta an accepted event is buffered under (ss_event_meta_format) parses back to
 *     its dedup key and time_us;
 *   - on any input, ss_event_meta_parse stays inside the bytes, and what it accepts formats
 *     to a meta that parses to the same key and time;
 *   - the transport's peek (ss_js_peek, src/proto/js_proto.h) finds the same time_us, kind
 *     and collection as the decoder (a peek may be lenient, never different); on any
 *     input it stays inside the bytes.
 * Rejected inputs must carry a known reason and a message. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "archive/archive.h"
#include "event/event.h"
#include "proto/js_proto.h"
#include "util/json.h"
#include "util/utf8.h"

#define CHECK(c, ...)                                                   \
    do {                                                                \
        if (!(c)) {                                                     \
            fprintf(stderr, "fuzz_event: invariant failed: %s: ", #c); \
            fprintf(stderr, __VA_ARGS__);                               \
            fprintf(stderr, "\n");                                      \
            abort();                                                    \
        }                                                               \
    } while (0)

static ss_decoder *dec, *dec2;

/* ---- rows into a Parquet file ---- */
static ss_pq_writer *pw;
static int pq_fd = -1;
static uint64_t pq_rows;

static void pq_finish(void) {
    if (!pw) return;
    ss_pq_stats st;
    char err[256] = "";
    CHECK(ss_pq_close(pw, &st, err, sizeof err) == 0, "closing the archive file: %s", err);
    pw = NULL;
    CHECK(st.rows == pq_rows, "file has %llu rows, %llu written", (unsigned long long)st.rows, (unsigned long long)pq_rows);
    struct stat sb;
    CHECK(fstat(pq_fd, &sb) == 0 && (uint64_t)sb.st_size == st.file_bytes, "file size");
    char head[4], tail[4];
    CHECK(pread(pq_fd, head, 4, 0) == 4 && pread(pq_fd, tail, 4, sb.st_size - 4) == 4 && !memcmp(head, "PAR1", 4) &&
              !memcmp(tail, "PAR1", 4),
          "archive file without its magics");
}

static void pq_write(const ss_event *ev, const ss_ar_row *row) {
    if (!pw) {
        if (pq_fd < 0 && (pq_fd = memfd_create("fuzz-event-pq", 0)) < 0) abort();
        if (ftruncate(pq_fd, 0) != 0) abort();
        char path[64];
        snprintf(path, sizeof path, "/proc/self/fd/%d", pq_fd);
        size_t ncols;
        const ss_pq_column *cols = ss_ar_schema(SS_TYPE_POST, &ncols);
        ss_pq_options o;
        ss_pq_options_init(&o);
        o.codec = SS_PQ_CODEC_NONE;
        o.row_group_rows = 64;
        o.fsync = 0;
        pw = ss_pq_open(path, cols, ncols, &o);
        CHECK(pw && !ss_pq_err(pw), "opening the archive file: %s", pw ? ss_pq_errstr(pw) : "oom");
        pq_rows = 0;
    }
    size_t ncols;
    CHECK(ss_ar_schema(ev->type, &ncols) != NULL, "no schema for type %d", ev->type);
    CHECK(ss_ar_write_row(pw, ev, row) == 0, "ss_ar_write_row failed on a decoded event: %s", ss_pq_errstr(pw));
    if (++pq_rows == 256) pq_finish();
}
static ss_ar_mapper *mapper;

static int inside(const char *p, size_t n, const char *base, size_t len) {
    return p >= base && p <= base + len && n <= (size_t)(base + len - p);
}

static void check_slice(const char *name, ss_str s, const char *buf, size_t len, const ss_decoder *d, int required) {
    if (!s.p) {
        CHECK(!required && s.n == 0, "%s absent (n %zu)", name, s.n);
        return;
    }
    const ss_json_doc *jd = ss_decoder_json(d);
    int in_input = inside(s.p, s.n, buf, len);
    int in_arena = jd->arena && inside(s.p, s.n, jd->arena, jd->arenacap);
    CHECK(in_input || in_arena, "%s points outside the input and the scratch", name);
    CHECK(ss_utf8_valid(s.p, s.n, NULL), "%s is not valid UTF-8", name);
}

static void check_event(const ss_event *ev, const char *buf, size_t len, const ss_decoder *d) {
    CHECK(ev->time_us >= 0, "time_us %lld", (long long)ev->time_us);
    CHECK(ev->raw == buf, "raw is not the input");
    size_t want = len;
    if (want && buf[want - 1] == '\n') {
        want--;
        if (want && buf[want - 1] == '\r') want--;
    }
    CHECK(ev->raw_len == want, "raw_len %zu, expected %zu", ev->raw_len, want);
    check_slice("did", ev->did, buf, len, d, 1);
    CHECK(ev->did.n > 0, "empty did");
    switch (ev->kind) {
    case SS_KIND_COMMIT:
        CHECK(ev->op >= SS_OP_CREATE && ev->op <= SS_OP_DELETE, "commit op %d", ev->op);
        check_slice("collection", ev->collection, buf, len, d, 1);
        check_slice("rkey", ev->rkey, buf, len, d, 1);
        check_slice("rev", ev->rev, buf, len, d, 1);
        CHECK(ev->type == ss_type_from_collection(ev->collection.p, ev->collection.n), "type %d does not match the collection",
              ev->type);
        if (ev->op == SS_OP_DELETE) {
            CHECK(!ev->record.p, "delete with a record");
        } else {
            check_slice("record", ev->record, buf, len, d, 1);
            CHECK(inside(ev->record.p, ev->record.n, buf, len), "record is not verbatim input");
            CHECK(ev->record.n >= 2 && ev->record.p[0] == '{' && ev->record.p[ev->record.n - 1] == '}',
                  "record is not an object");
            check_slice("cid", ev->cid, buf, len, d, 0);
            CHECK(ss_decoder_record(d) != NULL, "no record token for a create/update");
        }
        CHECK(ev->active == -1, "commit with active %d", ev->active);
        break;
    case SS_KIND_IDENTITY:
    case SS_KIND_ACCOUNT:
        CHECK(ev->op == SS_OP_NONE, "identity/account with op %d", ev->op);
        CHECK(ev->type == (ev->kind == SS_KIND_IDENTITY ? SS_TYPE_IDENTITY : SS_TYPE_ACCOUNT), "type %d for kind %d",
              ev->type, ev->kind);
        CHECK(!ev->record.p && !ev->collection.p, "identity/account with commit fields");
        check_slice("time", ev->time, buf, len, d, 0);
        check_slice("handle", ev->handle, buf, len, d, 0);
        check_slice("status", ev->status, buf, len, d, 0);
        if (ev->kind == SS_KIND_ACCOUNT) CHECK(ev->active == 0 || ev->active == 1, "account active %d", ev->active);
        else CHECK(ev->active == -1, "identity active %d", ev->active);
        break;
    case SS_KIND_SYNC:
        CHECK(ev->op == SS_OP_NONE && ev->type == SS_TYPE_SYNC, "sync with op %d, type %d", ev->op, ev->type);
        CHECK(!ev->record.p && !ev->collection.p, "sync with commit fields");
        check_slice("rev", ev->rev, buf, len, d, 1);
        check_slice("time", ev->time, buf, len, d, 0);
        CHECK(ev->active == -1, "sync active %d", ev->active);
        break;
    default:
        CHECK(0, "kind %d", ev->kind);
    }
}

static int same_str(ss_str a, ss_str b) {
    if (!a.p || !b.p) return !a.p && !b.p;
    return a.n == b.n && memcmp(a.p, b.p, a.n) == 0;
}

static void same_event(const ss_event *a, const ss_event *b) {
    CHECK(a->kind == b->kind && a->type == b->type && a->op == b->op && a->time_us == b->time_us && a->seq == b->seq &&
              a->active == b->active,
          "re-decoding changed a scalar field");
    CHECK(same_str(a->did, b->did) && same_str(a->collection, b->collection) && same_str(a->rkey, b->rkey) &&
              same_str(a->rev, b->rev) && same_str(a->cid, b->cid) && same_str(a->record, b->record) &&
              same_str(a->time, b->time) && same_str(a->handle, b->handle) && same_str(a->status, b->status),
          "re-decoding changed a string field");
    uint8_t k1[16], k2[16];
    ss_event_dedup_key(a, k1);
    ss_event_dedup_key(b, k2);
    CHECK(memcmp(k1, k2, 16) == 0, "dedup key differs for the same event");
}

static void check_row(const ss_ar_row *row, const ss_event *ev) {
    CHECK(row->type == ev->type, "mapped row type %d, event type %d", row->type, ev->type);
    const ss_str *strs[] = {&row->text, &row->reply_root_uri, &row->reply_root_cid, &row->reply_parent_uri,
                            &row->reply_parent_cid, &row->embed_type, &row->embed_uri, &row->subject_uri,
                            &row->subject_cid, &row->via_uri, &row->via_cid, &row->subject};
    for (size_t i = 0; i < sizeof strs / sizeof *strs; i++)
        if (strs[i]->p) CHECK(ss_utf8_valid(strs[i]->p, strs[i]->n, NULL), "mapped string column %zu is not UTF-8", i);
    const ss_ar_list *lists[] = {&row->langs, &row->mentions, &row->links, &row->tags, &row->labels};
    for (size_t i = 0; i < sizeof lists / sizeof *lists; i++) {
        CHECK(lists[i]->n <= SS_AR_MAX_LIST_ITEMS, "list %zu has %zu items", i, lists[i]->n);
        for (size_t j = 0; j < lists[i]->n; j++)
            CHECK(lists[i]->v[j].p && ss_utf8_valid(lists[i]->v[j].p, lists[i]->v[j].n, NULL), "list %zu item %zu", i, j);
    }
}

/* The input as a meta string (it may be any bytes): accepted ones round-trip. */
static void check_meta_parse(const char *buf, size_t size) {
    uint8_t key[16], key2[16];
    int64_t t, t2;
    if (ss_event_meta_parse(buf, size, key, &t) != 0) return;
    char m[SS_EVENT_META_MAX];
    size_t n = ss_event_meta_format(key, t, m);
    CHECK(n <= SS_EVENT_META_MAX && n <= size, "meta of %zu bytes formats to %zu", size, n);
    CHECK(ss_event_meta_parse(m, n, key2, &t2) == 0 && !memcmp(key, key2, 16) && t == t2, "meta round trip");
}

static void check_meta_roundtrip(const ss_event *ev) {
    uint8_t key[16], back[16];
    int64_t t;
    char m[SS_EVENT_META_MAX];
    ss_event_dedup_key(ev, key);
    size_t n = ss_event_meta_format(key, ev->time_us, m);
    CHECK(ss_event_meta_parse(m, n, back, &t) == 0, "meta '%.*s' refused", (int)n, m);
    CHECK(!memcmp(key, back, 16) && t == ev->time_us, "meta '%.*s' parses to another key or time", (int)n, m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!dec) {
        dec = ss_decoder_new(NULL);
        dec2 = ss_decoder_new(NULL);
        mapper = ss_ar_mapper_new();
        if (!dec || !dec2 || !mapper) abort();
        atexit(pq_finish);
    }
    const char *buf = (const char *)data;
    ss_event ev;
    memset(&ev, 0xa5, sizeof ev); /* the decoder must set every field */
    ss_decode_reason r = ss_decode(dec, buf, size, &ev);
    CHECK(r >= SS_DECODE_OK && r <= SS_DECODE_OOM, "reason %d", r);
    CHECK(strcmp(ss_decode_reason_name(r), "") != 0, "reason %d has no name", r);
    check_meta_parse(buf, size);
    ss_js_peek_result pk;
    memset(&pk, 0, sizeof pk);
    int prc = ss_js_peek(buf, size, 1, &pk);
    if (pk.collection) CHECK(inside(pk.collection, pk.collection_len, buf, size), "peeked collection outside the input");
    if (r == SS_DECODE_OK) {
        int want_kind = ev.kind == SS_KIND_COMMIT ? SS_JS_KIND_COMMIT
                        : ev.kind == SS_KIND_IDENTITY ? SS_JS_KIND_IDENTITY
                        : ev.kind == SS_KIND_SYNC     ? SS_JS_KIND_SYNC
                                                      : SS_JS_KIND_ACCOUNT;
        CHECK(prc == 0, "ss_js_peek fails on an event the decoder accepts");
        CHECK(pk.time_us == ev.time_us, "peek time_us %lld, decoder %lld", (long long)pk.time_us, (long long)ev.time_us);
        CHECK(pk.kind == want_kind, "peek kind %d, decoder kind %d", pk.kind, ev.kind);
        if (ev.kind == SS_KIND_COMMIT && !memchr(ev.collection.p, '\\', 0) &&
            !memchr(pk.collection ? pk.collection : "", '\\', pk.collection ? pk.collection_len : 0))
            CHECK(pk.collection && pk.collection_len == ev.collection.n &&
                      !memcmp(pk.collection, ev.collection.p, ev.collection.n),
                  "peek collection '%.*s', decoder '%.*s'", (int)(pk.collection ? pk.collection_len : 0),
                  pk.collection ? pk.collection : "", (int)ev.collection.n, ev.collection.p);
    }
    if (r != SS_DECODE_OK) {
        CHECK(ss_decoder_errstr(dec)[0] != 0, "reason %s without a message", ss_decode_reason_name(r));
        return 0;
    }
    check_event(&ev, buf, size, dec);
    char hex1[SS_DEDUP_HEX_LEN + 1], hex2[SS_DEDUP_HEX_LEN + 1];
    ss_event_dedup_hex(&ev, hex1);
    ss_event_dedup_hex(&ev, hex2);
    CHECK(strlen(hex1) == SS_DEDUP_HEX_LEN && strcmp(hex1, hex2) == 0, "dedup hex not deterministic");
    check_meta_roundtrip(&ev);

    ss_ar_row row;
    CHECK(ss_ar_map(mapper, &ev, &row) == 0, "ss_ar_map failed on a decoded event");
    check_row(&row, &ev);
    pq_write(&ev, &row);

    /* The same content elsewhere in memory: without a line ending, with "\n", with "\r\n". */
    size_t body = ev.raw_len;
    char *copy = malloc(body + 2);
    if (!copy) abort();
    memcpy(copy, buf, body);
    static const char *const endings[] = {"", "\n", "\r\n"};
    for (int k = 0; k < 3; k++) {
        size_t el = strlen(endings[k]);
        memcpy(copy + body, endings[k], el);
        ss_event ev2;
        ss_decode_reason r2 = ss_decode(dec2, copy, body + el, &ev2);
        CHECK(r2 == SS_DECODE_OK, "the same event with ending %d rejected: %s", k, ss_decoder_errstr(dec2));
        same_event(&ev, &ev2);
    }
    free(copy);
    return 0;
}
