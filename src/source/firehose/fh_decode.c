/* Firehose frames to Jetstream v1 events (see fh_decode.h for the contract).
 *
 * A frame is two DAG-CBOR items: a header {op, t} and a body. Bodies are read in two
 * steps: one pass over the body map notes where each known field is (keys come in
 * DAG-CBOR order, so "ops" precedes "blocks"), then the fields are used. For a #commit the
 * CAR is indexed once, the commit block is checked against its CID, and each op becomes
 * one event whose record is the CBOR block named by the op's CID, printed as JSON.
 *
 * Failures are data, not errors: a frame that cannot be parsed becomes one reject; an op
 * whose record is missing, forged or malformed becomes one reject while the other ops of
 * the commit are still emitted. Every reject says why (a stable reason name and a detail
 * with the byte offset) and carries what is known of seq/repo/rev/path, so the dead-letter
 * stream is enough to backfill from the PDS later.
 *
 * All outputs of a frame are appended to one buffer owned by the decoder, which is reused
 * frame after frame: steady-state decoding does not allocate. */
#include "source/firehose/fh_internal.h"
#include "source/firehose/fh_sig.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/log.h"
#include "util/clock.h"

static const char *const g_reason_names[SS_FH_REASON__COUNT] = {
    [SS_FH_OK] = "ok",
    [SS_FH_FRAME_TOO_BIG] = "frame_too_big",
    [SS_FH_TRUNCATED] = "truncated",
    [SS_FH_BAD_CBOR] = "bad_cbor",
    [SS_FH_CBOR_INDEFINITE] = "cbor_indefinite",
    [SS_FH_CBOR_DUP_KEY] = "cbor_duplicate_key",
    [SS_FH_CBOR_TYPE] = "cbor_wrong_type",
    [SS_FH_CBOR_FLOAT] = "cbor_float",
    [SS_FH_TOO_DEEP] = "too_deep",
    [SS_FH_LIMIT] = "limit",
    [SS_FH_BAD_UTF8] = "bad_utf8",
    [SS_FH_BAD_HEADER] = "bad_header",
    [SS_FH_BAD_BODY] = "bad_body",
    [SS_FH_BAD_TIME] = "bad_time",
    [SS_FH_BAD_VARINT] = "bad_varint",
    [SS_FH_BAD_CID] = "bad_cid",
    [SS_FH_BAD_CAR] = "bad_car",
    [SS_FH_CAR_TOO_BIG] = "car_too_big",
    [SS_FH_CID_MISMATCH] = "cid_mismatch",
    [SS_FH_MISSING_BLOCK] = "missing_block",
    [SS_FH_RECORD_TOO_BIG] = "record_too_big",
    [SS_FH_TOO_MANY_OPS] = "too_many_ops",
    [SS_FH_BAD_OP] = "bad_op",
    [SS_FH_BAD_RECORD] = "bad_record",
    [SS_FH_TOO_BIG] = "too_big",
    [SS_FH_ERROR_FRAME] = "error_frame",
    [SS_FH_COMMIT_MISMATCH] = "commit_mismatch",
    [SS_FH_BAD_SIGNATURE] = "bad_signature",
    [SS_FH_OOM] = "oom",
};

const char *ss_fh_reason_name(int reason) {
    if (reason < 0 || reason >= SS_FH_REASON__COUNT) return "unknown";
    return g_reason_names[reason];
}

void ss_fh_opts_init(ss_fh_opts *o) {
    memset(o, 0, sizeof *o);
    o->verify_cids = 1;
    o->max_frame_bytes = SS_FH_MAX_FRAME;
    o->max_record_bytes = SS_FH_MAX_RECORD;
    o->max_ops = 200;
    o->max_car_bytes = 2000000;
    o->max_blocks = 100000;
    o->max_depth = 32;
    o->dlq_raw_cap = 4096;
}

typedef struct {
    size_t off, len;
    int64_t cursor;
    const char *reason;
} ss_fh_out;

typedef struct {
    const char *s;
    size_t n;
} ss_fh_slice;

/* What is known about the frame being decoded, for events and rejects. */
typedef struct {
    const uint8_t *frame;
    size_t frame_len;
    ss_fh_slice t;
    int64_t seq; /* 0 when unknown */
    ss_fh_slice repo, rev, path, action, time;
    int frame_level; /* the reject is about the whole frame: keep its bytes */
} ss_fh_frame;

struct ss_fh_decoder {
    ss_fh_opts o;
    ss_fh_stats st;
    ss_buf out;
    ss_fh_out *outs;
    size_t nouts, outs_cap;
    ss_fh_car car;
    ss_fh_scratch scratch;
    ss_fh_hasher hasher;
    ss_buf tmp;
    int64_t frame_seq;
    int64_t receipt_us;  /* SS_FH_CLOCK_RECEIPT: set by the caller */
    int64_t clock_last;  /* the last time_us given out (-1 none): the clocks never go back */
    int64_t clock_jump;  /* SS_FH_CLOCK_REPLAY: a claim far ahead not yet believed; -1 none */
    int oom;
    char detail[256];
    char last_error[192];
    char last_info[192];
    char last_sync[192];
};

ss_fh_decoder *ss_fh_decoder_new(const ss_fh_opts *opts) {
    ss_fh_decoder *d = calloc(1, sizeof *d);
    if (!d) return NULL;
    if (opts) d->o = *opts;
    else ss_fh_opts_init(&d->o);
    if (d->o.max_depth <= 0 || d->o.max_depth > 64) d->o.max_depth = 32;
    d->scratch.max_depth = d->o.max_depth;
    d->st.last_seq = -1;
    d->clock_last = -1;
    d->clock_jump = -1;
    d->receipt_us = -1;
    if (ss_fh_hasher_init(&d->hasher)) {
        ss_fh_decoder_free(d);
        return NULL;
    }
    return d;
}

void ss_fh_decoder_free(ss_fh_decoder *d) {
    if (!d) return;
    ss_buf_free(&d->out);
    ss_buf_free(&d->tmp);
    free(d->outs);
    free(d->scratch.v);
    ss_fh_car_free(&d->car);
    ss_fh_hasher_free(&d->hasher);
    free(d);
}

/* ---- outputs ----------------------------------------------------------------------- */

static int push_out(ss_fh_decoder *d, size_t off, const char *reason) {
    if (d->nouts == d->outs_cap) {
        size_t cap = d->outs_cap ? d->outs_cap * 2 : 16;
        ss_fh_out *o = realloc(d->outs, cap * sizeof *o);
        if (!o) return -1;
        d->outs = o, d->outs_cap = cap;
    }
    ss_fh_out *o = &d->outs[d->nouts++];
    o->off = off, o->len = d->out.len - off, o->reason = reason, o->cursor = 0;
    return 0;
}

#define PUT(lit) ss_buf_append(b, lit, sizeof(lit) - 1)

/* Appends ,"key":"value" with lossy escaping (rejects must be printable whatever the input). */
static int put_field(ss_buf *b, const char *key, ss_fh_slice v) {
    if (!v.s) return 0;
    return ss_buf_printf(b, ",\"%s\":", key) || ss_fh_json_str(b, v.s, v.n, 1);
}

/* Emits a reject for the frame or the current op; returns 0 or -1 (out of memory). */
static int reject(ss_fh_decoder *d, ss_fh_frame *f, int reason, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int reject(ss_fh_decoder *d, ss_fh_frame *f, int reason, const char *fmt, ...) {
    char detail[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    ss_buf *b = &d->out;
    size_t off = b->len;
    const char *name = ss_fh_reason_name(reason);
    int e = ss_buf_printf(b, "{\"reason\":\"%s\",\"detail\":", name) || ss_fh_json_str(b, detail, strlen(detail), 1) ||
            put_field(b, "t", f->t);
    if (!e && f->seq > 0) e = PUT(",\"seq\":") || ss_fh_json_i64(b, f->seq);
    e = e || put_field(b, "repo", f->repo) || put_field(b, "rev", f->rev) || put_field(b, "path", f->path) ||
        put_field(b, "action", f->action) || put_field(b, "time", f->time);
    if (!e && f->frame_level && reason != SS_FH_TOO_BIG && reason != SS_FH_ERROR_FRAME) {
        size_t keep = f->frame_len < d->o.dlq_raw_cap ? f->frame_len : d->o.dlq_raw_cap;
        e = ss_buf_printf(b, ",\"frame_len\":%zu,\"frame_b64\":\"", f->frame_len) || ss_fh_base64_raw(b, f->frame, keep) ||
            PUT("\"");
    }
    e = e || PUT("}") || push_out(d, off, name);
    if (e) return -1;
    d->st.rejects++;
    d->st.by_reason[reason]++;
    return 0;
}

/* A frame-level reject carrying the reader's detail. */
static int reject_rd(ss_fh_decoder *d, ss_fh_frame *f, const ss_fh_rd *r, int fallback) {
    int reason = r->err ? r->err : fallback;
    if (reason == SS_FH_OOM) return -1;
    f->frame_level = 1;
    return reject(d, f, reason, "%s", d->detail[0] ? d->detail : ss_fh_reason_name(reason));
}

/* ---- time -------------------------------------------------------------------------- */

static int digits(const char *s, int n, int *v) {
    int x = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        x = x * 10 + (s[i] - '0');
    }
    *v = x;
    return 0;
}

/* Days of month M (1..12) of year Y, proleptic Gregorian: timegm() would silently turn
 * 2026-02-31 into 2026-03-03. */
static int days_in_month(int Y, int M) {
    static const int dm[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (Y % 4 == 0 && Y % 100 != 0) || Y % 400 == 0;
    return M == 2 && leap ? 29 : dm[M - 1];
}

int ss_fh_parse_time_us(const char *s, size_t n, int64_t *out) {
    int Y, M, D, h, m, sec;
    if (n < 20 || n > SS_FH_MAX_TIME_LEN || digits(s, 4, &Y) || s[4] != '-' || digits(s + 5, 2, &M) || s[7] != '-' || digits(s + 8, 2, &D) ||
        (s[10] != 'T' && s[10] != 't') || digits(s + 11, 2, &h) || s[13] != ':' || digits(s + 14, 2, &m) ||
        s[16] != ':' || digits(s + 17, 2, &sec))
        return -1;
    if (M < 1 || M > 12 || D < 1 || D > days_in_month(Y, M) || h > 23 || m > 59 || sec > 60) return -1;
    size_t i = 19;
    int64_t frac = 0;
    if (i < n && s[i] == '.') {
        int nd = 0;
        i++;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            if (nd < 6) frac = frac * 10 + (s[i] - '0');
            nd++, i++;
        }
        if (nd == 0) return -1; /* any longer fraction is truncated to µs, as indigo does */
        for (int k = nd; k < 6; k++) frac *= 10;
    }
    int64_t off = 0;
    if (i < n && (s[i] == 'Z' || s[i] == 'z')) {
        i++;
    } else if (i + 6 == n && (s[i] == '+' || s[i] == '-') && s[i + 3] == ':') {
        int oh, om;
        if (digits(s + i + 1, 2, &oh) || digits(s + i + 4, 2, &om) || oh > 23 || om > 59) return -1;
        off = (oh * 3600 + om * 60) * (s[i] == '-' ? -1 : 1);
        i += 6;
    } else {
        return -1;
    }
    if (i != n) return -1;
    struct tm tm = {0};
    tm.tm_year = Y - 1900, tm.tm_mon = M - 1, tm.tm_mday = D, tm.tm_hour = h, tm.tm_min = m, tm.tm_sec = sec;
    time_t t = timegm(&tm);
    *out = ((int64_t)t - off) * 1000000 + frac;
    return 0;
}

/* ---- bodies ------------------------------------------------------------------------ */

/* Reads a text field; NULL slice when absent. */
static int get_text(ss_fh_rd *r, const uint8_t *at, ss_fh_slice *v) {
    if (!at) return 0;
    r->p = at;
    if (ss_fh_take_null(r)) return 0;
    return ss_fh_text(r, &v->s, &v->n);
}

static int key_eq(const char *k, size_t kn, const char *lit) { return strlen(lit) == kn && !memcmp(k, lit, kn); }

/* Event prefix {"did":...,"time_us":N,"kind":"K","K":{ */
static int event_start(ss_buf *b, ss_fh_slice did, int64_t time_us, const char *kind) {
    if (PUT("{\"did\":")) return -1;
    int e = ss_fh_json_str(b, did.s, did.n, 0);
    if (e) return e;
    size_t kn = strlen(kind);
    if (PUT(",\"time_us\":") || ss_fh_json_i64(b, time_us) || PUT(",\"kind\":\"") || ss_buf_append(b, kind, kn) ||
        PUT("\",\"") || ss_buf_append(b, kind, kn) || PUT("\":{"))
        return -1;
    return 0;
}

/* The event time for a frame whose claimed time is `claimed` (see ss_fh_clock). Called
 * once per frame that has events. */
static int64_t clock_time(ss_fh_decoder *d, int64_t claimed) {
    int64_t t = claimed;
    if (d->o.clock == SS_FH_CLOCK_CLAIMED) return t;
    if (d->o.clock == SS_FH_CLOCK_RECEIPT) {
        t = d->receipt_us >= 0 ? d->receipt_us : ss_wall_us();
    } else if (t > ss_wall_us()) {
        t = d->clock_last >= 0 ? d->clock_last : ss_wall_us(); /* a claim from the future */
    } else if (d->clock_last >= 0 && t > d->clock_last + SS_FH_REPLAY_SKEW_US) {
        /* A jump: one frame's claim is not believed, but two in a row that agree are (the
         * recording really skipped ahead, e.g. two recordings concatenated). */
        int64_t prev = d->clock_jump;
        d->clock_jump = t;
        if (prev < 0 || t < prev - SS_FH_REPLAY_SKEW_US || t > prev + SS_FH_REPLAY_SKEW_US) t = d->clock_last;
        else d->clock_jump = -1;
    } else {
        d->clock_jump = -1;
    }
    if (t < d->clock_last) t = d->clock_last; /* never decreasing */
    d->clock_last = t;
    return t;
}

static int frame_time(ss_fh_decoder *d, ss_fh_frame *f, int64_t *us) {
    if (!f->time.s) return reject(d, f, SS_FH_BAD_BODY, "no time field") ? -1 : 1;
    if (ss_fh_parse_time_us(f->time.s, f->time.n, us)) {
        f->frame_level = 1;
        return reject(d, f, SS_FH_BAD_TIME, "time is not RFC 3339") ? -1 : 1;
    }
    if (*us < 0) { /* the event model's time_us is never negative */
        f->frame_level = 1;
        return reject(d, f, SS_FH_BAD_TIME, "time is before 1970") ? -1 : 1;
    }
    *us = clock_time(d, *us);
    return 0;
}

/* Finishes a good event, or turns a string-escaping failure into a reject. */
static int finish_event(ss_fh_decoder *d, ss_fh_frame *f, size_t off, int e) {
    if (e == 0) {
        if (push_out(d, off, NULL)) return -1;
        d->st.events++;
        return 0;
    }
    d->out.len = off;
    if (e == SS_FH_BAD_UTF8) return reject(d, f, SS_FH_BAD_UTF8, "invalid UTF-8 in a string field");
    return -1;
}

typedef struct {
    const uint8_t *seq, *did, *time, *handle, *active, *status;
} ss_fh_acct_fields;

/* #identity and #account. */
static int decode_identity_account(ss_fh_decoder *d, ss_fh_frame *f, ss_fh_rd *r, int account) {
    ss_fh_acct_fields at = {0};
    uint64_t n;
    if (ss_fh_map(r, &n)) return reject_rd(d, f, r, SS_FH_BAD_BODY);
    for (uint64_t i = 0; i < n; i++) {
        const char *k;
        size_t kn;
        if (ss_fh_text(r, &k, &kn)) return reject_rd(d, f, r, SS_FH_BAD_BODY);
        const uint8_t *v = r->p;
        if (key_eq(k, kn, "seq")) at.seq = v;
        else if (key_eq(k, kn, "did")) at.did = v;
        else if (key_eq(k, kn, "time")) at.time = v;
        else if (key_eq(k, kn, "handle")) at.handle = v;
        else if (key_eq(k, kn, "active")) at.active = v;
        else if (key_eq(k, kn, "status")) at.status = v;
        if (ss_fh_skip(r, d->o.max_depth)) return reject_rd(d, f, r, SS_FH_BAD_BODY);
    }
    if (r->p != r->end) {
        ss_fh_fail(r, SS_FH_BAD_CBOR, "bytes after the body");
        return reject_rd(d, f, r, SS_FH_BAD_CBOR);
    }
    const uint8_t *end_pos = r->p;
    uint64_t seq = 0;
    ss_fh_slice did = {0}, handle = {0}, status = {0};
    int active = 0;
    if (at.seq) {
        r->p = at.seq;
        if (ss_fh_uint(r, &seq) || seq > INT64_MAX) return reject_rd(d, f, r, SS_FH_BAD_BODY);
        f->seq = (int64_t)seq;
    }
    if (get_text(r, at.did, &did) || get_text(r, at.time, &f->time) || get_text(r, at.handle, &handle) ||
        get_text(r, at.status, &status))
        return reject_rd(d, f, r, SS_FH_BAD_BODY);
    f->repo = did;
    if (account) {
        r->p = at.active ? at.active : end_pos;
        if (!at.active || ss_fh_bool(r, &active)) {
            if (!r->err) ss_fh_fail(r, SS_FH_BAD_BODY, "account without active");
            return reject_rd(d, f, r, SS_FH_BAD_BODY);
        }
    }
    r->p = end_pos;
    if (!at.seq || !did.s) {
        f->frame_level = 1;
        return reject(d, f, SS_FH_BAD_BODY, "%s without %s", account ? "#account" : "#identity", at.seq ? "did" : "seq");
    }
    if (did.n == 0) { /* an event's did is never empty */
        f->frame_level = 1;
        return reject(d, f, SS_FH_BAD_BODY, "%s with an empty did", account ? "#account" : "#identity");
    }
    int64_t us;
    int t = frame_time(d, f, &us);
    if (t) return t < 0 ? -1 : 0;
    ss_buf *b = &d->out;
    size_t off = b->len;
    int e = event_start(b, did, us, account ? "account" : "identity");
    if (account) {
        e = e ? e : (active ? PUT("\"active\":true,\"did\":") : PUT("\"active\":false,\"did\":"));
        e = e ? e : ss_fh_json_str(b, did.s, did.n, 0);
    } else {
        e = e ? e : PUT("\"did\":");
        e = e ? e : ss_fh_json_str(b, did.s, did.n, 0);
        if (!e && handle.s) e = PUT(",\"handle\":") ? -1 : ss_fh_json_str(b, handle.s, handle.n, 0);
    }
    e = e ? e : (PUT(",\"seq\":") || ss_fh_json_i64(b, (int64_t)seq)) ? -1 : 0;
    if (!e && account && status.s) e = PUT(",\"status\":") ? -1 : ss_fh_json_str(b, status.s, status.n, 0);
    e = e ? e : PUT(",\"time\":") ? -1 : ss_fh_json_str(b, f->time.s, f->time.n, 0);
    e = e ? e : PUT("}}") ? -1 : 0;
    if (account) d->st.account++;
    else d->st.identity++;
    return finish_event(d, f, off, e);
}

typedef struct {
    const uint8_t *seq, *repo, *rev, *ops, *blocks, *time, *commit, *too_big;
} ss_fh_commit_fields;

/* Verifies a block against its CID when verification is on. Returns 0, or a reason. */
static int check_block(ss_fh_decoder *d, const ss_fh_block *blk, char *why, size_t whylen) {
    ss_fh_cid c;
    int e = ss_fh_cid_parse(blk->cid, blk->cid_len, &c);
    if (e) return snprintf(why, whylen, "malformed CID"), e;
    if (!d->o.verify_cids) return 0;
    int ok = ss_fh_cid_verify(&d->hasher, &c, blk->data, blk->data_len);
    if (ok < 0) return snprintf(why, whylen, "CID hash 0x%llx is not sha2-256", (unsigned long long)c.mh_code), SS_FH_BAD_CID;
    if (!ok) return snprintf(why, whylen, "block of %u bytes does not hash to its CID", blk->data_len), SS_FH_CID_MISMATCH;
    return 0;
}

/* One op of a commit: an event, or a reject for that op alone. */
static int decode_op(ss_fh_decoder *d, ss_fh_frame *f, ss_fh_rd *r, int64_t us) {
    uint64_t n;
    const uint8_t *cid_at = NULL, *action_at = NULL, *path_at = NULL;
    f->path = (ss_fh_slice){0}, f->action = (ss_fh_slice){0};
    if (ss_fh_map(r, &n)) return SS_FH_BAD_OP;
    for (uint64_t i = 0; i < n; i++) {
        const char *k;
        size_t kn;
        if (ss_fh_text(r, &k, &kn)) return SS_FH_BAD_OP;
        if (key_eq(k, kn, "cid")) cid_at = r->p;
        else if (key_eq(k, kn, "action")) action_at = r->p;
        else if (key_eq(k, kn, "path")) path_at = r->p;
        if (ss_fh_skip(r, d->o.max_depth)) return r->err;
    }
    const uint8_t *after = r->p;
    if (get_text(r, action_at, &f->action) || get_text(r, path_at, &f->path)) {
        r->p = after;
        return reject(d, f, SS_FH_BAD_OP, "op action or path is not a string");
    }
    r->p = after;
    int op = 0;
    if (f->action.s) {
        if (key_eq(f->action.s, f->action.n, "create")) op = 1;
        else if (key_eq(f->action.s, f->action.n, "update")) op = 2;
        else if (key_eq(f->action.s, f->action.n, "delete")) op = 3;
    }
    if (!op) return reject(d, f, SS_FH_BAD_OP, "op action is missing or unknown");
    const char *slash = f->path.s ? memchr(f->path.s, '/', f->path.n) : NULL;
    if (!slash || slash == f->path.s || slash + 1 == f->path.s + f->path.n ||
        memchr(slash + 1, '/', (size_t)(f->path.s + f->path.n - slash - 1)))
        return reject(d, f, SS_FH_BAD_OP, "op path is not collection/rkey");
    ss_fh_slice coll = {f->path.s, (size_t)(slash - f->path.s)};
    ss_fh_slice rkey = {slash + 1, (size_t)(f->path.s + f->path.n - slash - 1)};
    const uint8_t *cid = NULL;
    size_t cid_len = 0;
    const ss_fh_block *blk = NULL;
    if (op != 3) {
        ss_fh_rd cr = *r;
        cr.p = cid_at;
        cr.err = 0;
        cr.detail = NULL;
        if (!cid_at || ss_fh_take_null(&cr)) return reject(d, f, SS_FH_BAD_OP, "%s op without a cid", op == 1 ? "create" : "update");
        if (ss_fh_link(&cr, &cid, &cid_len)) return reject(d, f, cr.err == SS_FH_CBOR_TYPE ? SS_FH_BAD_OP : cr.err, "op cid is not a valid CID link");
        blk = ss_fh_car_find(&d->car, cid, cid_len);
        if (!blk) return reject(d, f, SS_FH_MISSING_BLOCK, "record block not in the CAR");
        if (blk->data_len > d->o.max_record_bytes)
            return reject(d, f, SS_FH_RECORD_TOO_BIG, "record of %u bytes (limit %zu)", blk->data_len, d->o.max_record_bytes);
        char why[96];
        int e = check_block(d, blk, why, sizeof why);
        if (e) return reject(d, f, e, "record: %s", why);
        ss_fh_cid c;
        ss_fh_cid_parse(blk->cid, blk->cid_len, &c);
        if (c.codec != FH_CODEC_DAG_CBOR) return reject(d, f, SS_FH_BAD_CID, "record codec 0x%llx is not dag-cbor", (unsigned long long)c.codec);
    }
    ss_buf *b = &d->out;
    size_t off = b->len;
    static const char *const opname[] = {"", "create", "update", "delete"};
    int e = event_start(b, f->repo, us, "commit");
    e = e ? e : PUT("\"rev\":") ? -1 : ss_fh_json_str(b, f->rev.s, f->rev.n, 0);
    e = e ? e : (PUT(",\"operation\":\"") || ss_buf_puts(b, opname[op]) || PUT("\",\"collection\":")) ? -1 : ss_fh_json_str(b, coll.s, coll.n, 0);
    e = e ? e : PUT(",\"rkey\":") ? -1 : ss_fh_json_str(b, rkey.s, rkey.n, 0);
    if (e) return finish_event(d, f, off, e);
    if (op != 3) {
        if (PUT(",\"record\":")) return -1;
        ss_fh_rd rr;
        d->detail[0] = '\0';
        ss_fh_rd_init(&rr, blk->data, blk->data_len, d->detail, sizeof d->detail);
        e = ss_fh_record_json(&rr, b, &d->scratch);
        if (e) {
            b->len = off;
            if (e == SS_FH_OOM) return -1;
            return reject(d, f, e, "record: %s", d->detail);
        }
        if (PUT(",\"cid\":\"") || ss_fh_cid_text(b, cid, cid_len) || PUT("\"")) return -1;
    }
    /* the claimed time, verbatim: the claimed_time column (time_us is the clock's) */
    e = PUT(",\"time\":") ? -1 : ss_fh_json_str(b, f->time.s, f->time.n, 0);
    if (e) return finish_event(d, f, off, e);
    return finish_event(d, f, off, PUT("}}") ? -1 : 0);
}

static int slice_eq(ss_fh_slice a, ss_fh_slice b) { return a.n == b.n && (a.n == 0 || !memcmp(a.s, b.s, a.n)); }

/* The commit's signature against its account's key (o.sig_key). No key known: passed and
 * counted. A failure asks for a fresh key once (a rotated key) before the reject. Returns
 * 0, 1 after a reject, -1 when out of memory. f->frame_level is 1 here. */
static int check_signature(ss_fh_decoder *d, ss_fh_frame *f, const ss_fh_block *cb) {
    ss_buf_reset(&d->tmp);
    if (ss_buf_reserve(&d->tmp, cb->data_len) < 0) return -1;
    const uint8_t *sig = NULL;
    size_t siglen = 0;
    char why[200];
    long ul = ss_fh_commit_unsigned(cb->data, cb->data_len, (uint8_t *)d->tmp.data, cb->data_len, &sig, &siglen, why,
                                    sizeof why);
    if (ul < 0) return d->st.sig_bad++, reject(d, f, SS_FH_BAD_SIGNATURE, "commit: %s", why) ? -1 : 1;
    ss_fh_pubkey key;
    int rc = SS_FH_SIG_BAD;
    for (int refresh = 0; refresh < 2; refresh++) {
        int have = d->o.sig_key(d->o.sig_ud, f->repo.s, f->repo.n, refresh, &key);
        if (have <= 0) {
            if (refresh) break; /* no fresher key: the failure stands */
            if (have < 0) d->st.sig_resolve_failed++;
            else d->st.sig_no_key++;
            return 0;
        }
        why[0] = '\0';
        rc = ss_fh_sig_verify(&key, (const uint8_t *)d->tmp.data, (size_t)ul, sig, siglen, why, sizeof why);
        if (rc == SS_FH_SIG_OK) {
            d->st.sig_ok++;
            return 0;
        }
    }
    d->st.sig_bad++;
    return reject(d, f, SS_FH_BAD_SIGNATURE, "the commit signature does not verify with the account's %s key%s%s",
                  key.curve == SS_FH_CURVE_K256 ? "secp256k1" : "P-256", why[0] ? ": " : "", why)
               ? -1
               : 1;
}

/* The signed commit object must be the frame's: its did and rev equal the frame's repo and
 * rev (what `goat firehose --verify-basic` checks); a relay passing on a commit for
 * another repo, or another revision, is not to be believed. Returns 0 when they agree,
 * 1 after a reject, -1 when out of memory. */
static int check_commit_object(ss_fh_decoder *d, ss_fh_frame *f, const ss_fh_block *cb) {
    ss_fh_rd r;
    d->detail[0] = '\0';
    ss_fh_rd_init(&r, cb->data, cb->data_len, d->detail, sizeof d->detail);
    uint64_t n;
    ss_fh_slice did = {0}, rev = {0};
    int bad = ss_fh_map(&r, &n) != 0;
    for (uint64_t i = 0; !bad && i < n; i++) {
        const char *k;
        size_t kn;
        if (ss_fh_text(&r, &k, &kn)) {
            bad = 1;
            break;
        }
        ss_fh_slice *dst = key_eq(k, kn, "did") ? &did : key_eq(k, kn, "rev") ? &rev : NULL;
        if (dst) bad = ss_fh_text(&r, &dst->s, &dst->n) != 0;
        else bad = ss_fh_skip(&r, d->o.max_depth) != 0;
    }
    f->frame_level = 1;
    if (bad || !did.s || !rev.s)
        return reject(d, f, SS_FH_COMMIT_MISMATCH, "the commit block is not a commit object with did and rev") ? -1 : 1;
    if (!slice_eq(did, f->repo))
        return reject(d, f, SS_FH_COMMIT_MISMATCH, "the commit block's did is %.*s, not the frame's repo",
                      (int)(did.n > 80 ? 80 : did.n), did.s) ? -1 : 1;
    if (!slice_eq(rev, f->rev))
        return reject(d, f, SS_FH_COMMIT_MISMATCH, "the commit block's rev is %.*s, not the frame's rev",
                      (int)(rev.n > 40 ? 40 : rev.n), rev.s) ? -1 : 1;
    if (d->o.sig_key) {
        int e = check_signature(d, f, cb);
        if (e) return e;
    }
    f->frame_level = 0;
    return 0;
}

/* A sync event {"kind":"sync","sync":{"did","rev","seq","time"}} for f (repo, rev, seq and
 * time set): the repo changed in a way the stream does not carry (#sync, a tooBig commit),
 * so a researcher knows which repo to backfill at which rev. */
static int emit_sync(ss_fh_decoder *d, ss_fh_frame *f, const char *what) {
    if (f->seq <= 0 || !f->repo.s || f->repo.n == 0 || !f->rev.s || f->rev.n == 0) {
        f->frame_level = 1;
        return reject(d, f, SS_FH_BAD_BODY, "%s without %s", what,
                      f->seq <= 0 ? "seq" : !f->repo.s || f->repo.n == 0 ? "did" : "rev");
    }
    int64_t us;
    int t = frame_time(d, f, &us);
    if (t) return t < 0 ? -1 : 0;
    ss_buf *b = &d->out;
    size_t off = b->len;
    int e = event_start(b, f->repo, us, "sync");
    e = e ? e : PUT("\"did\":") ? -1 : ss_fh_json_str(b, f->repo.s, f->repo.n, 0);
    e = e ? e : PUT(",\"rev\":") ? -1 : ss_fh_json_str(b, f->rev.s, f->rev.n, 0);
    e = e ? e : (PUT(",\"seq\":") || ss_fh_json_i64(b, f->seq)) ? -1 : 0;
    e = e ? e : PUT(",\"time\":") ? -1 : ss_fh_json_str(b, f->time.s, f->time.n, 0);
    e = e ? e : PUT("}}") ? -1 : 0;
    return finish_event(d, f, off, e);
}

static int decode_commit(ss_fh_decoder *d, ss_fh_frame *f, ss_fh_rd *r) {
    ss_fh_commit_fields at = {0};
    uint64_t n;
    d->st.commits++;
    if (ss_fh_map(r, &n)) return reject_rd(d, f, r, SS_FH_BAD_BODY);
    for (uint64_t i = 0; i < n; i++) {
        const char *k;
        size_t kn;
        if (ss_fh_text(r, &k, &kn)) return reject_rd(d, f, r, SS_FH_BAD_BODY);
        const uint8_t *v = r->p;
        if (key_eq(k, kn, "seq")) at.seq = v;
        else if (key_eq(k, kn, "repo")) at.repo = v;
        else if (key_eq(k, kn, "rev")) at.rev = v;
        else if (key_eq(k, kn, "ops")) at.ops = v;
        else if (key_eq(k, kn, "blocks")) at.blocks = v;
        else if (key_eq(k, kn, "time")) at.time = v;
        else if (key_eq(k, kn, "commit")) at.commit = v;
        else if (key_eq(k, kn, "tooBig")) at.too_big = v;
        if (ss_fh_skip(r, d->o.max_depth)) return reject_rd(d, f, r, SS_FH_BAD_BODY);
    }
    if (r->p != r->end) {
        ss_fh_fail(r, SS_FH_BAD_CBOR, "bytes after the body");
        return reject_rd(d, f, r, SS_FH_BAD_CBOR);
    }
    uint64_t seq = 0;
    if (at.seq) {
        r->p = at.seq;
        if (ss_fh_uint(r, &seq) || seq > INT64_MAX) return reject_rd(d, f, r, SS_FH_BAD_BODY);
        f->seq = (int64_t)seq;
    }
    if (get_text(r, at.repo, &f->repo) || get_text(r, at.rev, &f->rev) || get_text(r, at.time, &f->time))
        return reject_rd(d, f, r, SS_FH_BAD_BODY);
    int too_big = 0;
    if (at.too_big) {
        r->p = at.too_big;
        if (ss_fh_bool(r, &too_big)) return reject_rd(d, f, r, SS_FH_BAD_BODY);
    }
    if (!at.seq || !f->repo.s || !f->rev.s || !at.ops) {
        f->frame_level = 1;
        return reject(d, f, SS_FH_BAD_BODY, "#commit without %s", !at.seq ? "seq" : !f->repo.s ? "repo" : !f->rev.s ? "rev" : "ops");
    }
    if (f->repo.n == 0 || f->rev.n == 0) { /* they become the events' did and rev */
        f->frame_level = 1;
        return reject(d, f, SS_FH_BAD_BODY, "#commit with an empty %s", f->repo.n == 0 ? "repo" : "rev");
    }
    uint64_t nops;
    r->p = at.ops;
    if (ss_fh_array(r, &nops)) return reject_rd(d, f, r, SS_FH_BAD_BODY);
    d->st.ops += nops;
    if (too_big) { /* its ops are not in the frame: archived as a sync event, the backfill signal */
        d->st.too_big++;
        return emit_sync(d, f, "tooBig commit");
    }
    if (nops > d->o.max_ops) {
        f->frame_level = 1;
        return reject(d, f, SS_FH_TOO_MANY_OPS, "%llu ops (limit %zu)", (unsigned long long)nops, d->o.max_ops);
    }
    int64_t us;
    int t = frame_time(d, f, &us);
    if (t) return t < 0 ? -1 : 0;
    if (nops == 0) return 0;
    /* The CAR and the commit block. */
    const uint8_t *car;
    size_t car_len;
    const uint8_t *commit;
    size_t commit_len;
    r->p = at.blocks ? at.blocks : r->end; /* absent: the offset of the body's end */
    if (!at.blocks || ss_fh_bytes(r, &car, &car_len)) {
        if (!r->err) ss_fh_fail(r, SS_FH_BAD_BODY, "#commit without blocks");
        return reject_rd(d, f, r, SS_FH_BAD_BODY);
    }
    r->p = at.commit ? at.commit : r->end;
    if (!at.commit || ss_fh_link(r, &commit, &commit_len)) {
        if (!r->err) ss_fh_fail(r, SS_FH_BAD_BODY, "#commit without commit");
        return reject_rd(d, f, r, SS_FH_BAD_BODY);
    }
    if (car_len > d->o.max_car_bytes) {
        f->frame_level = 1;
        return reject(d, f, SS_FH_CAR_TOO_BIG, "blocks of %zu bytes (limit %zu)", car_len, d->o.max_car_bytes);
    }
    ss_fh_rd cr;
    ss_fh_rd_init(&cr, car, car_len, d->detail, sizeof d->detail);
    d->detail[0] = '\0';
    if (ss_fh_car_index(&d->car, car, car_len, d->o.max_blocks, &cr)) {
        char why[sizeof d->detail + 8];
        snprintf(why, sizeof why, "CAR: %s", d->detail);
        f->frame_level = 1;
        return cr.err == SS_FH_OOM ? -1 : reject(d, f, cr.err, "%s", why);
    }
    if (d->car.root_len != commit_len || memcmp(d->car.root, commit, commit_len)) {
        f->frame_level = 1;
        return reject(d, f, SS_FH_BAD_CAR, "CAR root is not the commit CID");
    }
    const ss_fh_block *cb = ss_fh_car_find(&d->car, commit, commit_len);
    if (!cb) {
        f->frame_level = 1;
        return reject(d, f, SS_FH_MISSING_BLOCK, "commit block not in the CAR");
    }
    char why[96];
    int e = check_block(d, cb, why, sizeof why);
    if (e) {
        f->frame_level = 1;
        return reject(d, f, e, "commit: %s", why);
    }
    e = check_commit_object(d, f, cb);
    if (e) return e < 0 ? -1 : 0;
    /* The ops, in order. */
    r->p = at.ops;
    ss_fh_array(r, &nops);
    for (uint64_t i = 0; i < nops; i++) {
        const uint8_t *op_start = r->p;
        int rc = decode_op(d, f, r, us);
        if (rc < 0) return -1;
        if (rc > 0) { /* the op map itself was malformed: skip it and say so */
            r->p = op_start;
            r->err = 0;
            f->path = (ss_fh_slice){0}, f->action = (ss_fh_slice){0};
            if (reject(d, f, rc, "op %llu is not a map of strings and a CID", (unsigned long long)i)) return -1;
            if (ss_fh_skip(r, d->o.max_depth)) return 0; /* cannot happen: the body was checked */
        }
    }
    f->path = (ss_fh_slice){0}, f->action = (ss_fh_slice){0};
    return 0;
}

static int decode_sync(ss_fh_decoder *d, ss_fh_frame *f, ss_fh_rd *r) {
    uint64_t n, seq;
    d->st.sync++;
    if (ss_fh_map(r, &n)) return reject_rd(d, f, r, SS_FH_BAD_BODY);
    for (uint64_t i = 0; i < n; i++) {
        const char *k;
        size_t kn;
        if (ss_fh_text(r, &k, &kn)) return reject_rd(d, f, r, SS_FH_BAD_BODY);
        if (key_eq(k, kn, "seq")) {
            if (ss_fh_uint(r, &seq) || seq > INT64_MAX) return reject_rd(d, f, r, SS_FH_BAD_BODY);
            f->seq = (int64_t)seq;
        } else if ((key_eq(k, kn, "did") || key_eq(k, kn, "rev") || key_eq(k, kn, "time")) && !ss_fh_take_null(r)) {
            ss_fh_slice *dst = key_eq(k, kn, "did") ? &f->repo : key_eq(k, kn, "rev") ? &f->rev : &f->time;
            if (ss_fh_text(r, &dst->s, &dst->n)) return reject_rd(d, f, r, SS_FH_BAD_BODY);
        } else if (ss_fh_skip(r, d->o.max_depth)) {
            return reject_rd(d, f, r, SS_FH_BAD_BODY);
        }
    }
    /* Kept for the transport to log as well: the repo changed off-stream and needs a
     * backfill at this rev. The event is the durable record of it. */
    snprintf(d->last_sync, sizeof d->last_sync, "%.*s at rev %.*s, seq %lld", (int)(f->repo.n > 80 ? 80 : f->repo.n),
             f->repo.s ? f->repo.s : "", (int)(f->rev.n > 40 ? 40 : f->rev.n), f->rev.s ? f->rev.s : "",
             (long long)f->seq);
    return emit_sync(d, f, "#sync");
}

/* #info and op = -1 errors: {name|error, message}. Kept for the transport to act on. */
static int decode_notice(ss_fh_decoder *d, ss_fh_frame *f, ss_fh_rd *r, int is_error) {
    uint64_t n;
    ss_fh_slice name = {0}, msg = {0};
    if (ss_fh_map(r, &n)) return reject_rd(d, f, r, SS_FH_BAD_BODY);
    for (uint64_t i = 0; i < n; i++) {
        const char *k;
        size_t kn;
        if (ss_fh_text(r, &k, &kn)) return reject_rd(d, f, r, SS_FH_BAD_BODY);
        ss_fh_slice *dst = key_eq(k, kn, is_error ? "error" : "name") ? &name : key_eq(k, kn, "message") ? &msg : NULL;
        if (dst && !ss_fh_take_null(r)) {
            if (ss_fh_text(r, &dst->s, &dst->n)) return reject_rd(d, f, r, SS_FH_BAD_BODY);
        } else if (!dst && ss_fh_skip(r, d->o.max_depth)) {
            return reject_rd(d, f, r, SS_FH_BAD_BODY);
        }
    }
    char *dst = is_error ? d->last_error : d->last_info;
    snprintf(dst, sizeof d->last_error, "%.*s%s%.*s", (int)(name.n > 64 ? 64 : name.n), name.s ? name.s : "",
             msg.s ? ": " : "", (int)(msg.n > 120 ? 120 : msg.n), msg.s ? msg.s : "");
    if (is_error) {
        d->st.error_frames++;
        ss_warn("firehose", "error frame from the server: %s", dst);
        return reject(d, f, SS_FH_ERROR_FRAME, "%s", dst);
    }
    d->st.info++;
    if (name.s && key_eq(name.s, name.n, "OutdatedCursor")) d->st.outdated_cursor++;
    ss_warn("firehose", "#info from the server: %s", dst);
    return 0;
}

/* The header {op, t}; returns 0 and fills op/t, or a reason. */
static int read_header(ss_fh_rd *r, int64_t *op, ss_fh_slice *t) {
    uint64_t n;
    int have_op = 0;
    if (ss_fh_map(r, &n)) return r->err;
    for (uint64_t i = 0; i < n; i++) {
        const char *k;
        size_t kn;
        if (ss_fh_text(r, &k, &kn)) return r->err;
        if (key_eq(k, kn, "op")) {
            if (ss_fh_int(r, op)) return r->err;
            have_op = 1;
        } else if (key_eq(k, kn, "t")) {
            if (ss_fh_text(r, &t->s, &t->n)) return r->err;
        } else if (ss_fh_skip(r, 4)) {
            return r->err;
        }
    }
    if (!have_op) return ss_fh_fail(r, SS_FH_BAD_HEADER, "header without op");
    return 0;
}

static int decode_body(ss_fh_decoder *d, ss_fh_frame *f, ss_fh_rd *r, int64_t op) {
    if (op == -1) return decode_notice(d, f, r, 1);
    if (op != 1) {
        f->frame_level = 1;
        return reject(d, f, SS_FH_BAD_HEADER, "header op %lld (expected 1 or -1)", (long long)op);
    }
    if (!f->t.s) {
        f->frame_level = 1;
        return reject(d, f, SS_FH_BAD_HEADER, "header without t");
    }
    if (key_eq(f->t.s, f->t.n, "#commit")) return decode_commit(d, f, r);
    if (key_eq(f->t.s, f->t.n, "#identity")) return decode_identity_account(d, f, r, 0);
    if (key_eq(f->t.s, f->t.n, "#account")) return decode_identity_account(d, f, r, 1);
    if (key_eq(f->t.s, f->t.n, "#sync")) return decode_sync(d, f, r);
    if (key_eq(f->t.s, f->t.n, "#info")) return decode_notice(d, f, r, 0);
    d->st.unknown++;
    return 0;
}

int ss_fh_decode(ss_fh_decoder *d, const uint8_t *frame, size_t len) {
    ss_fh_frame f;
    memset(&f, 0, sizeof f);
    f.frame = frame, f.frame_len = len;
    ss_buf_reset(&d->out);
    d->nouts = 0;
    d->frame_seq = 0;
    d->detail[0] = '\0';
    d->st.frames++;
    d->st.bytes += len;
    int rc;
    if (len > d->o.max_frame_bytes) {
        f.frame_level = 1;
        rc = reject(d, &f, SS_FH_FRAME_TOO_BIG, "frame of %zu bytes (limit %zu)", len, d->o.max_frame_bytes);
    } else {
        ss_fh_rd r;
        ss_fh_rd_init(&r, frame, len, d->detail, sizeof d->detail);
        int64_t op = 0;
        if (read_header(&r, &op, &f.t)) {
            rc = reject_rd(d, &f, &r, SS_FH_BAD_HEADER);
        } else {
            /* The body is the rest of the frame; offsets in details count from the frame start. */
            rc = decode_body(d, &f, &r, op);
        }
    }
    if (rc < 0) {
        d->nouts = 0;
        return -1;
    }
    d->frame_seq = f.seq;
    int64_t last = f.seq > 0 ? f.seq : d->st.last_seq;
    if (f.seq > 0 && f.seq > d->st.last_seq) d->st.last_seq = f.seq; /* error frames have no seq */
    for (size_t i = 0; i < d->nouts; i++) {
        d->outs[i].cursor = (i + 1 < d->nouts && f.seq > 0) ? f.seq - 1 : last;
        if (d->outs[i].cursor < 0) d->outs[i].cursor = 0;
    }
    return (int)d->nouts;
}

size_t ss_fh_output_count(const ss_fh_decoder *d) { return d->nouts; }

void ss_fh_output(const ss_fh_decoder *d, size_t i, ss_source_msg *msg) {
    const ss_fh_out *o = &d->outs[i];
    msg->data = d->out.data + o->off;
    msg->len = o->len;
    msg->cursor = o->cursor;
    msg->bad_reason = o->reason;
}

int ss_fh_decode_frame(ss_fh_decoder *d, const uint8_t *frame, size_t len, ss_fh_emit_fn emit, void *ud) {
    int n = ss_fh_decode(d, frame, len);
    if (n < 0) return -1;
    for (int i = 0; i < n; i++) {
        ss_source_msg m;
        ss_fh_output(d, (size_t)i, &m);
        if (emit(ud, &m)) return -2;
    }
    return n;
}

int64_t ss_fh_frame_seq(const ss_fh_decoder *d) { return d->frame_seq; }
void ss_fh_set_receipt_us(ss_fh_decoder *d, int64_t us) { d->receipt_us = us; }
int64_t ss_fh_last_seq(const ss_fh_decoder *d) { return d->st.last_seq; }
const ss_fh_stats *ss_fh_stats_get(const ss_fh_decoder *d) { return &d->st; }
const char *ss_fh_last_error(const ss_fh_decoder *d) { return d->last_error; }
const char *ss_fh_last_info(const ss_fh_decoder *d) { return d->last_info; }
const char *ss_fh_last_sync(const ss_fh_decoder *d) { return d->last_sync; }
const char *ss_fh_last_detail(const ss_fh_decoder *d) { return d->detail; }

int ss_fh_record_to_json(ss_fh_decoder *d, const uint8_t *cbor, size_t len, const char **json, size_t *json_len) {
    ss_fh_rd r;
    d->detail[0] = '\0';
    ss_fh_rd_init(&r, cbor, len, d->detail, sizeof d->detail);
    ss_buf_reset(&d->tmp);
    int e = ss_fh_record_json(&r, &d->tmp, &d->scratch);
    if (e) return e;
    *json = d->tmp.data;
    *json_len = d->tmp.len;
    return 0;
}
