/* The ingester. See ingest.h for what it writes and guarantees; this comment says how.
 *
 * Pipeline. Messages are decoded and formatted straight into a batch buffer as RESP
 * (no per-event malloc, no hiredis format parsing): a precomputed "XADD <key> *" prefix
 * per stream, then the meta (dedup key and time_us) as the field name and the event bytes
 * as its value. A batch (default 1024 entries, or whatever arrived within flush_ms, 200 ms)
 * is written at once (at the live rate a batch every 50 ms woke Redis, the control commands and
 * the writer four times as often for the same entries; a crash loses nothing either way, the
 * cursor only covers what Redis answered); up to batches_in_flight (8) batches are unanswered at any time, and the
 * oldest batch's replies are read while Redis works on the newer ones. That is ~4 MB ahead
 * of Redis: enough to keep it busy through a few milliseconds in which this process is not
 * scheduled (on a 2-core box, Redis's AOF-rewrite child competes for the cores).
 *
 * Connections. Data goes over `connections` (default 3) connections. Redis pays per read,
 * per event-loop iteration and per AOF/reply write(), so a single deep pipeline costs it ~25 %
 * more CPU per entry than the same data spread over a few connections (measured with
 * redis-benchmark: BENCHMARKS.md, "Ingest: connections"). Each stream (each type, and the
 * DLQ) is pinned to one connection, chosen at start by spreading the types' typical shares
 * (like 47 %, follow 33 %, post 9 %, ...) over the connections, so every stream still gets
 * its entries in source order. A batch therefore has one part per connection; each part is
 * sent, and its replies read, on its own connection, in batch order.
 *
 * Control commands ride in front of a batch's data on the control connection (the one with
 * the lightest streams): the cursor HSET, the Pingest heartbeat and INFO memory (read back
 * asynchronously, so the memory check never stalls the pipe). Synchronous commands (cursor
 * load, pause polling, final state) use it too, with nothing in flight.
 *
 * Cursor. A batch remembers the source cursor after its last message. When every reply of
 * every part of a batch (and of every batch before it) is a success, that cursor becomes
 * "confirmed", and it is written in front of the next batch. Confirmed means Redis has
 * executed those commands, on whichever connection; it appends to its AOF in execution order,
 * so the later cursor HSET lands after the data it covers. A cursor is therefore never
 * written before Redis has accepted everything it covers; in particular an entry refused
 * with OOM can never be covered by a cursor that an OOM-free moment let through.
 *
 * OOM and watermarks. Entries refused with OOM are copied, in order, to a retry batch (to
 * the part of their own connection); the ingester stops reading, drains the pipe, waits
 * (paused) until used_memory is under the low watermark, and re-sends the retry batch before
 * reading on. Passing the high watermark pauses the same way, before any OOM: between INFO
 * replies Redis's memory is estimated from the bytes sent since (estimate_memory).
 *
 * Reconnect. An error on any connection closes all of them; the ingester reconnects them
 * all with exponential backoff and jitter, reads the stored cursor and seeks the source to
 * cursor - resume_margin, discarding what was in flight (it is read again). A source that
 * cannot seek gets its unconfirmed entries (per part: those without a success reply)
 * re-sent from the batches still in memory. */
#include "buffer/ingest.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "buffer/confirmed.h"
#include "buffer/gaps.h"
#include "buffer/persist.h"
#include "buffer/redis.h"
#include "buffer/shard.h"
#include "metrics/metrics.h"
#include "util/clock.h"
#include "util/hash.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/str.h"

#define NSTREAMS (SS_TYPE__COUNT * SS_SHARDS_MAX)
#define KIND_DLQ NSTREAMS /* kind < KIND_DLQ: a stream (type * nshards + shard); else DLQ, reason kind - KIND_DLQ */
#define KIND_GAP (KIND_DLQ + SS_INGEST_MAX_REASONS) /* a gap record; + its reason's index in ss_gap_reasons */
_Static_assert(KIND_GAP + SS_GAP_REASONS <= 256, "a command's kind must fit a byte");
#define CTL_MAX 6
#define MAX_IN_FLIGHT 64
#define PREFIX_MAX 200
#define BATCH_MAX_BYTES (4u << 20) /* a batch closes at this many bytes of RESP, whatever its count */
#define SOURCE_RETRIES 3           /* consecutive source errors retried via seek before giving up */
#define IDLE_PING_MS 10000          /* a connection without data this long gets a PING */
enum { CTL_CURSOR = 1, CTL_STATE, CTL_INFO, CTL_PING, CTL_PERSIST };

/* The commands of one batch that go over one connection. */
typedef struct {
    ss_buf buf;      /* control commands, then data commands, as RESP */
    size_t data_off; /* where data commands start in buf */
    uint32_t *off;   /* data command i is buf[data_off + off[i] .. data_off + off[i+1]) */
    uint8_t *kind;   /* stream index (type * nshards + shard), or KIND_DLQ + reason index */
    uint32_t *ebytes;
    int n, cap;
    int ctl[CTL_MAX], nctl;
    int ctl_done, done; /* replies already read (for partial re-send) */
    uint64_t info_base; /* with a CTL_INFO: bytes sent and answered before it was queued */
} part;

typedef struct {
    part p[SS_INGEST_MAX_CONNECTIONS];
    int has_cursor;
    int64_t end_cursor;
} batch;

struct ss_ingest {
    ss_ingest_opts o;
    ss_redis_target *target;
    redisContext *c[SS_INGEST_MAX_CONNECTIONS];
    int nconn, cc;                     /* connections; cc carries the control commands */
    uint8_t conn_of[SS_TYPE__COUNT * SS_SHARDS_MAX]; /* the connection each stream [type * nshards + shard] is pinned to */
    uint8_t conn_dlq;
    ss_decoder *dec;
    ss_source *src;
    volatile sig_atomic_t *stop;
    char errstr[2048];
    ss_err_class err; /* the class of errstr's failure (util/err.h), when ss_ingest_run fails */

    char prefix[PREFIX_MAX + 1];
    int nshards;                        /* the `shards` setting: streams per type */
    char xadd_prefix[SS_TYPE__COUNT * SS_SHARDS_MAX][PREFIX_MAX + 64]; /* [type * nshards + shard] */
    size_t xadd_prefix_len[SS_TYPE__COUNT * SS_SHARDS_MAX];
    char dlq_key[PREFIX_MAX + 8];
    char gaps_key[PREFIX_MAX + 8];
    char state_key[PREFIX_MAX + 8];
    char cursor_key[PREFIX_MAX + 600];
    char legacy_key[PREFIX_MAX + 600]; /* where an older version stored it; "" once read */

    batch ring[MAX_IN_FLIGHT + 1];
    int nring, head, count; /* in-flight batches: ring[head .. head+count) */
    batch retry;
    int oom_pending, pause_wanted;

    /* memory, from the latest INFO memory, and what was sent since (see estimate_memory) */
    long long used_memory, maxmemory;
    uint64_t sent_bytes;     /* RESP bytes sent, all connections, ever */
    uint64_t mem_base;       /* sent_bytes already reflected in used_memory */
    uint64_t info_queued_at; /* sent_bytes when the last INFO was queued */
    int64_t last_info_ms, last_state_ms;
    /* persistence (buffer/persist.h): the latest verdict, what was warned about, and when
     * INFO persistence was last asked (it rides in front of a batch every SS_PERSIST_CHECK_MS) */
    ss_persist persist;
    unsigned persist_warned;
    int64_t last_persist_ms, last_aof_err_log_ms;
    /* the ids Redis confirmed, per stream and for the DLQ (index NSTREAMS), to count what a
     * restarted Redis lost (confirmed.h); lost: their sum over every detected loss */
    ss_confirmed conf[NSTREAMS + 1];
    uint64_t lost;
    int64_t last_sent_ms[SS_INGEST_MAX_CONNECTIONS]; /* keeps quiet connections alive (Redis `timeout`) */

    int64_t confirmed_cursor;
    int has_confirmed, cursor_written; /* cursor_written: confirmed_cursor is in Redis */
    int64_t start_cursor;
    int has_start_cursor;
    char start_fp[SS_SOURCE_FINGERPRINT_MAX]; /* the fingerprint start_cursor was stored with */
    int cursor_ours; /* the stored cursor is this run's: validated at start, or written by it */
    /* --from-start: re-sent events older than this (µs) may be past the writer's dedup
     * horizon; 0 = no check. old_resent counts them, oldest_resent is the oldest. */
    int64_t horizon_before, horizon_ref, oldest_resent;
    uint64_t old_resent;
    int horizon_on;
    int64_t newest_us; /* newest event time_us ever ingested into this buffer (Pingest newest_us) */
    int newest_stored; /* Pingest had newest_us at start */
    int rewound; /* set by recover() when it seeked the source */
    int ever_connected;
    uint64_t nread_total, skipped_local;
    int64_t last_msg_cursor; /* cursor after the last message read from the source */
    int has_last_msg_cursor, src_errors;

    pthread_mutex_t mu;
    ss_ingest_stats st;
    /* Prometheus families (docs/METRICS.md) */
    ss_histogram *m_wait; /* time blocked on Redis's replies to a batch */
    ss_metric *m_events[SS_TYPE__COUNT], *m_dlq[SS_INGEST_MAX_REASONS], *m_other, *m_paused, *m_pauses_wm, *m_last_event, *m_event_time, *m_src_up, *m_src_reconnects,
        *m_pauses_oom, *m_reconnects, *m_cursor, *m_lost, *m_gaps[SS_GAP_REASONS], *m_sig[4];
    uint64_t sig_seen[4]; /* the source counters already added to m_sig */
    uint64_t backoff_seed;
};

void ss_ingest_opts_init(ss_ingest_opts *o) {
    memset(o, 0, sizeof *o);
    o->prefix = "skyspool:";
    o->high_watermark = 0.8;
    o->low_watermark = 0.6;
    o->max_event_bytes = 2u << 20;
    o->batch_events = 1024;
    o->batches_in_flight = 8;
    o->connections = 3;
    o->memory_check_ms = 1000;
    o->state_interval_ms = 1000;
    o->flush_ms = 200;
    o->reconnect_max_ms = 5000;
    o->initial_wait_ms = 30000;
    o->horizon_us = 3600LL * 1000000;
}

/* ---- time, keys ---------------------------------------------------------------------- */

int ss_ingest_stream_key(const char *prefix, ss_type t, char *out, size_t outlen) {
    return snprintf(out, outlen, "%s%s", prefix, ss_type_name(t));
}

int ss_ingest_cursor_key(const char *prefix, const char *source_id, char *out, size_t outlen) {
    return snprintf(out, outlen, "%scursor:%s", prefix, source_id);
}

/* ---- RESP formatting --------------------------------------------------------------------- */


static int resp_array(ss_buf *b, int n) { return ss_buf_printf(b, "*%d\r\n", n); }

static int resp_bulk(ss_buf *b, const char *p, size_t n) {
    if (ss_buf_reserve(b, n + 32) != 0) return -1;
    char *w = b->data + b->len;
    *w++ = '$';
    w += ss_fmt_i64(w, (int64_t)n);
    *w++ = '\r';
    *w++ = '\n';
    memcpy(w, p, n);
    w += n;
    *w++ = '\r';
    *w++ = '\n';
    b->len = (size_t)(w - b->data);
    b->data[b->len] = '\0';
    return 0;
}

static int resp_str(ss_buf *b, const char *s) { return resp_bulk(b, s, strlen(s)); }

static int resp_i64(ss_buf *b, int64_t v) {
    char tmp[24];
    return resp_bulk(b, tmp, ss_fmt_i64(tmp, v));
}

/* ---- batches ------------------------------------------------------------------------------ */

static void part_reset(part *p) {
    ss_buf_reset(&p->buf);
    p->data_off = 0;
    p->n = p->nctl = p->ctl_done = p->done = 0;
}

static void part_free(part *p) {
    ss_buf_free(&p->buf);
    free(p->off);
    free(p->kind);
    free(p->ebytes);
    memset(p, 0, sizeof *p);
}

static int part_grow(part *p) {
    if (p->n + 1 < p->cap) return 0;
    int cap = p->cap ? p->cap * 2 : 1024;
    uint32_t *off = realloc(p->off, sizeof *off * (size_t)(cap + 1));
    if (!off) return -1;
    p->off = off;
    uint8_t *kind = realloc(p->kind, (size_t)cap);
    if (!kind) return -1;
    p->kind = kind;
    uint32_t *eb = realloc(p->ebytes, sizeof *eb * (size_t)cap);
    if (!eb) return -1;
    p->ebytes = eb;
    p->cap = cap;
    return 0;
}

/* Starts the data section (after the control commands). */
static int part_begin_data(part *p) {
    p->data_off = p->buf.len;
    if (p->cap == 0 && part_grow(p) != 0) return -1;
    p->off[0] = 0;
    return 0;
}

/* Records the command just appended at the end of buf as data command n. */
static int part_commit_cmd(part *p, uint8_t kind, uint32_t ebytes) {
    if (part_grow(p) != 0) return -1;
    p->kind[p->n] = kind;
    p->ebytes[p->n] = ebytes;
    p->n++;
    p->off[p->n] = (uint32_t)(p->buf.len - p->data_off);
    return 0;
}

/* Appends data command i of src to dst (used for re-sends). */
static int part_copy_cmd(part *dst, const part *src, int i) {
    if (dst->n == 0 && dst->nctl == 0 && dst->buf.len == 0 && part_begin_data(dst) != 0) return -1;
    const char *p = src->buf.data + src->data_off + src->off[i];
    size_t n = src->off[i + 1] - src->off[i];
    if (ss_buf_append(&dst->buf, p, n) != 0) return -1;
    return part_commit_cmd(dst, src->kind[i], src->ebytes[i]);
}

static void batch_reset(batch *b, int nconn) {
    for (int i = 0; i < nconn; i++) part_reset(&b->p[i]);
    b->has_cursor = 0;
    b->end_cursor = 0;
}

static int batch_begin_data(batch *b, int nconn) {
    for (int i = 0; i < nconn; i++)
        if (part_begin_data(&b->p[i]) != 0) return -1;
    return 0;
}

/* Data commands in b, over all parts. */
static int batch_entries(const batch *b, int nconn) {
    int n = 0;
    for (int i = 0; i < nconn; i++) n += b->p[i].n;
    return n;
}

static size_t batch_bytes(const batch *b, int nconn) {
    size_t n = 0;
    for (int i = 0; i < nconn; i++) n += b->p[i].buf.len;
    return n;
}

/* ---- formatting one message ---------------------------------------------------------------- */

static int reason_index(ss_ingest *ing, const char *reason) {
    for (int i = 0; i < ing->st.nreasons; i++)
        if (!strcmp(ing->st.reason[i], reason)) return i;
    pthread_mutex_lock(&ing->mu);
    int i = ing->st.nreasons;
    if (i < SS_INGEST_MAX_REASONS) {
        snprintf(ing->st.reason[i], sizeof ing->st.reason[i], "%s", reason);
        ing->st.nreasons++;
        char labels[64];
        snprintf(labels, sizeof labels, "reason=\"%s\"", ing->st.reason[i]);
        ing->m_dlq[i] = ss_metric_get("skyspool_ingest_dlq_total", SS_METRIC_COUNTER,
                                      "inputs sent to the dead-letter stream", labels);
    } else {
        i = SS_INGEST_MAX_REASONS - 1; /* "other reasons" share the last slot */
    }
    pthread_mutex_unlock(&ing->mu);
    return i;
}

static int add_dlq(ss_ingest *ing, batch *bt, const char *reason, const char *detail, const char *raw, size_t rawlen,
                   int64_t cursor) {
    if (rawlen > SS_INGEST_DLQ_RAW_MAX) rawlen = SS_INGEST_DLQ_RAW_MAX;
    int ri = reason_index(ing, reason);
    part *b = &bt->p[ing->conn_dlq];
    int rc = resp_array(&b->buf, 13);
    rc |= resp_str(&b->buf, "XADD");
    rc |= resp_str(&b->buf, ing->dlq_key);
    rc |= resp_str(&b->buf, "*");
    rc |= resp_str(&b->buf, "reason");
    rc |= resp_str(&b->buf, reason);
    rc |= resp_str(&b->buf, "detail");
    rc |= resp_str(&b->buf, detail ? detail : "");
    rc |= resp_str(&b->buf, "raw");
    rc |= resp_bulk(&b->buf, raw ? raw : "", raw ? rawlen : 0);
    rc |= resp_str(&b->buf, "source");
    rc |= resp_str(&b->buf, ing->src->id);
    rc |= resp_str(&b->buf, "cursor");
    rc |= resp_i64(&b->buf, cursor);
    if (rc) return -1;
    return part_commit_cmd(b, (uint8_t)(KIND_DLQ + ri), 0);
}

/* A gap record, on the DLQ's connection (both are rare; any connection keeps the gaps'
 * own order, which is all that matters: the cursor waits for every connection anyway). */
static int add_gap(ss_ingest *ing, batch *bt, const ss_source_gap *g, int64_t cursor) {
    part *b = &bt->p[ing->conn_dlq];
    int ri = ss_gap_reason_index(g->reason);
    int rc = resp_array(&b->buf, 19);
    rc |= resp_str(&b->buf, "XADD");
    rc |= resp_str(&b->buf, ing->gaps_key);
    rc |= resp_str(&b->buf, "*");
    rc |= resp_str(&b->buf, "source");
    rc |= resp_str(&b->buf, g->source ? g->source : ing->src->id);
    rc |= resp_str(&b->buf, "reason");
    rc |= resp_str(&b->buf, ss_gap_reasons[ri]);
    rc |= resp_str(&b->buf, "unit");
    rc |= resp_str(&b->buf, g->unit ? g->unit : "");
    rc |= resp_str(&b->buf, "from");
    rc |= resp_i64(&b->buf, g->from);
    rc |= resp_str(&b->buf, "to");
    rc |= resp_i64(&b->buf, g->to);
    rc |= resp_str(&b->buf, "detected_us");
    rc |= resp_i64(&b->buf, g->detected_us > 0 ? g->detected_us : ss_wall_us());
    rc |= resp_str(&b->buf, "detail");
    size_t dl = g->detail ? strnlen(g->detail, SS_GAP_DETAIL_MAX) : 0;
    rc |= resp_bulk(&b->buf, g->detail ? g->detail : "", dl);
    rc |= resp_str(&b->buf, "cursor");
    rc |= resp_i64(&b->buf, cursor);
    if (rc) return -1;
    return part_commit_cmd(b, (uint8_t)(KIND_GAP + ri), 0);
}

static int add_event(ss_ingest *ing, batch *bt, const ss_event *ev) {
    uint8_t key[16];
    char meta[SS_EVENT_META_MAX];
    ss_event_dedup_key(ev, key);
    size_t ml = ss_event_meta_format(key, ev->time_us, meta);
    /* each stream (a type's shard) rides on its own pinned connection: it keeps source order */
    int sx = (int)ev->type * ing->nshards + (int)ss_shard_of(key, (unsigned)ing->nshards);
    part *b = &bt->p[ing->conn_of[sx]];
    ss_buf *buf = &b->buf;
    size_t plen = ing->xadd_prefix_len[sx];
    size_t need = plen + ev->raw_len + 24 + 16 + 24 + sizeof meta;
    if (ss_buf_reserve(buf, need) != 0) return -1;
    char *w = buf->data + buf->len;
    memcpy(w, ing->xadd_prefix[sx], plen);
    w += plen;
    *w++ = '$';
    w += ss_fmt_i64(w, (int64_t)ml);
    *w++ = '\r';
    *w++ = '\n';
    memcpy(w, meta, ml);
    w += ml;
    *w++ = '\r';
    *w++ = '\n';
    *w++ = '$';
    w += ss_fmt_i64(w, (int64_t)ev->raw_len);
    *w++ = '\r';
    *w++ = '\n';
    memcpy(w, ev->raw, ev->raw_len);
    w += ev->raw_len;
    *w++ = '\r';
    *w++ = '\n';
    buf->len = (size_t)(w - buf->data);
    return part_commit_cmd(b, (uint8_t)sx, (uint32_t)ev->raw_len);
}

static void fmt_time(int64_t us, char out[32]) {
    time_t t = (time_t)(us / 1000000);
    struct tm tm;
    if (!gmtime_r(&t, &tm) || !strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm)) snprintf(out, 32, "%lld us", (long long)us);
}

/* --from-start re-sends an event older than the writers' dedup horizon: said once, when it
 * first happens, and counted (the count and the oldest are reported at the end). */
static void note_past_horizon(ss_ingest *ing, int64_t time_us) {
    if (ing->old_resent++ == 0 || time_us < ing->oldest_resent) ing->oldest_resent = time_us;
    if (ing->old_resent > 1) return;
    char t[32], ref[32], before[32];
    fmt_time(time_us, t);
    fmt_time(ing->horizon_ref, ref);
    fmt_time(ing->horizon_before, before);
    ss_warn("ingest",
            "--from-start re-sends events older than the writers' dedup horizon (%lld s before %s, the newest event "
            "%s): this one is from %s. Rows from before %s that a writer already committed may be written twice",
            (long long)(ing->o.horizon_us / 1000000), ref,
            ing->newest_stored ? "this buffer has seen" : "time: now, as the buffer records none", t, before);
}

/* Decodes and formats one source message into b. Returns 0, or -1 when out of memory. */
static int add_message(ss_ingest *ing, batch *b, const ss_source_msg *m) {
    b->has_cursor = 1;
    b->end_cursor = m->cursor;
    if (m->bad_reason) return add_dlq(ing, b, m->bad_reason, "rejected by the source", m->data, m->len, m->cursor);
    ss_event ev;
    ss_decode_reason r = ss_decode(ing->dec, m->data, m->len, &ev);
    if (r != SS_DECODE_OK)
        return add_dlq(ing, b, ss_decode_reason_name(r), ss_decoder_errstr(ing->dec), m->data, m->len, m->cursor);
    if (ev.type == SS_TYPE_OTHER && !ing->o.keep_other) {
        ing->skipped_local++; /* published per batch */
        return 0;
    }
    if (ev.time_us > ing->newest_us) {
        ing->newest_us = ev.time_us;
        ss_metric_set(ing->m_event_time, (double)ev.time_us / 1e6); /* source lag at scrape time */
    }
    if (ing->horizon_on && ev.time_us < ing->horizon_before) note_past_horizon(ing, ev.time_us);
    /* the stored bytes are the message as given, without a trailing newline */
    ev.raw = m->data;
    ev.raw_len = m->len;
    while (ev.raw_len && (ev.raw[ev.raw_len - 1] == '\n' || ev.raw[ev.raw_len - 1] == '\r')) ev.raw_len--;
    return add_event(ing, b, &ev);
}

/* ---- control commands ------------------------------------------------------------------------ */

/* The cursor and, always in the same HSET, the content fingerprint it belongs to (an empty
 * one too: it must not survive from other content). */
static int add_cursor_cmd(ss_ingest *ing, ss_buf *b) {
    int rc = resp_array(b, 10);
    rc |= resp_str(b, "HSET");
    rc |= resp_str(b, ing->cursor_key);
    rc |= resp_str(b, "cursor");
    rc |= resp_i64(b, ing->confirmed_cursor);
    rc |= resp_str(b, "updated_us");
    rc |= resp_i64(b, ss_wall_us());
    rc |= resp_str(b, "name");
    rc |= resp_str(b, ing->src->cursor_name ? ing->src->cursor_name : "index");
    rc |= resp_str(b, "fingerprint");
    rc |= resp_str(b, ing->src->fingerprint);
    return rc;
}

static int add_state_cmd(ss_ingest *ing, ss_buf *b, const char *state, const char *pause_reason) {
    ss_ingest_stats *s = &ing->st;
    int rc = resp_array(b, ing->newest_us > 0 ? 26 : 24);
    rc |= resp_str(b, "HSET");
    rc |= resp_str(b, ing->state_key);
    if (ing->newest_us > 0) {
        rc |= resp_str(b, "newest_us"); /* for --from-start's horizon check (start_horizon_check) */
        rc |= resp_i64(b, ing->newest_us);
    }
    rc |= resp_str(b, "state");
    rc |= resp_str(b, state);
    rc |= resp_str(b, "paused");
    rc |= resp_str(b, s->paused ? "1" : "0");
    rc |= resp_str(b, "pause_reason");
    rc |= resp_str(b, pause_reason ? pause_reason : "");
    rc |= resp_str(b, "pauses_total");
    rc |= resp_i64(b, (int64_t)s->pauses);
    rc |= resp_str(b, "events_total");
    rc |= resp_i64(b, (int64_t)s->written);
    rc |= resp_str(b, "dlq_total");
    rc |= resp_i64(b, (int64_t)s->dlq);
    rc |= resp_str(b, "other_total");
    rc |= resp_i64(b, (int64_t)s->other_skipped);
    rc |= resp_str(b, "reconnects_total");
    rc |= resp_i64(b, (int64_t)s->reconnects);
    rc |= resp_str(b, "heartbeat_us");
    rc |= resp_i64(b, ss_wall_us());
    rc |= resp_str(b, "source");
    rc |= resp_str(b, ing->src->id);
    rc |= resp_str(b, "cursor");
    if (ing->has_confirmed) rc |= resp_i64(b, ing->confirmed_cursor);
    else rc |= resp_str(b, "");
    return rc;
}

static int add_info_cmd(ss_buf *b) {
    return resp_array(b, 2) | resp_str(b, "INFO") | resp_str(b, "memory");
}

static batch *ring_at(ss_ingest *ing, int i) { return &ing->ring[(ing->head + i) % ing->nring]; }

/* RESP bytes sent and not yet answered. */
static uint64_t inflight_bytes(ss_ingest *ing) {
    uint64_t n = 0;
    for (int i = 0; i < ing->count; i++)
        for (int c = 0; c < ing->nconn; c++) n += ring_at(ing, i)->p[c].buf.len;
    return n;
}

/* Control commands for the batch being started, by due time (on the control connection). */
static int add_controls(ss_ingest *ing, batch *bt) {
    part *b = &bt->p[ing->cc];
    int64_t now = ss_mono_ms();
    int rc = 0;
    if (ing->has_confirmed && !ing->cursor_written) {
        rc |= add_cursor_cmd(ing, &b->buf);
        b->ctl[b->nctl++] = CTL_CURSOR;
        ing->cursor_written = 1;
    }
    if (now - ing->last_state_ms >= ing->o.state_interval_ms) {
        rc |= add_state_cmd(ing, &b->buf, "running", NULL);
        b->ctl[b->nctl++] = CTL_STATE;
        ing->last_state_ms = now;
    }
    uint64_t info_every = ing->maxmemory > 0 ? (uint64_t)ing->maxmemory / 64 : UINT64_MAX;
    if (info_every < (1u << 20)) info_every = 1u << 20;
    if (now - ing->last_info_ms >= ing->o.memory_check_ms || ing->sent_bytes - ing->info_queued_at >= info_every) {
        rc |= add_info_cmd(&b->buf);
        b->ctl[b->nctl++] = CTL_INFO;
        b->info_base = ing->sent_bytes - inflight_bytes(ing); /* answered before it was queued */
        ing->last_info_ms = now;
        ing->info_queued_at = ing->sent_bytes;
    }
    if (now - ing->last_persist_ms >= SS_PERSIST_CHECK_MS) { /* AOF still on? (note_persistence) */
        rc |= resp_array(&b->buf, 2) | resp_str(&b->buf, "INFO") | resp_str(&b->buf, "persistence");
        b->ctl[b->nctl++] = CTL_PERSIST;
        ing->last_persist_ms = now;
    }
    for (int i = 0; i < ing->nconn; i++) /* quiet streams' connections: a PING now and then */
        if (i != ing->cc && now - ing->last_sent_ms[i] >= IDLE_PING_MS) {
            part *q = &bt->p[i];
            rc |= resp_array(&q->buf, 1) | resp_str(&q->buf, "PING");
            q->ctl[q->nctl++] = CTL_PING;
        }
    return rc;
}

/* ---- memory ---------------------------------------------------------------------------------- */

/* Redis memory now, at most: used_memory from the latest INFO plus every byte sent since the
 * data that INFO had surely seen. INFO goes out every memory_check_ms (1 s) and every
 * 1/64 of maxmemory sent, but at several hundred thousand entries a second even 100 ms and a
 * pipeline are tens of MB: without the estimate a small Redis would reach OOM before the
 * high watermark was ever seen. Wire bytes overstate Redis's memory per entry slightly
 * (~620 sent for ~600 stored), so the estimate errs on the early side. */
static double estimate_memory(const ss_ingest *ing) {
    return (double)ing->used_memory + (double)(ing->sent_bytes - ing->mem_base);
}

static void check_high_watermark(ss_ingest *ing) {
    if (ing->maxmemory > 0 && ing->o.high_watermark < 1.0 &&
        estimate_memory(ing) > ing->o.high_watermark * (double)ing->maxmemory)
        ing->pause_wanted = 1;
}

/* ---- persistence (buffer/persist.h) ----------------------------------------------------------- */

enum { OK = 0, E_IO = -1, E_FATAL = -2, E_STOP = -3 };

/* A refusal by Redis's ACL (NOPERM in what), worded for the ingest user, as ing's error. */
static void permission_error(ss_ingest *ing, const char *what, char *out, size_t outlen) {
    ss_redis_permission_error(ss_redis_target_user(ing->target, SS_ACL_INGEST), what, out, outlen);
    ing->err = SS_ERR_PERMISSION;
}

enum { SRC_OPEN = 0, SRC_END, SRC_FAILED };

/* Acts on ing->persist, the latest INFO persistence / memory seen: an evicting policy or no
 * AOF is fatal (E_FATAL, errstr says what and how to fix it) unless allowed, then it is
 * warned about once (again if it comes back); a failed AOF write is logged as an error at
 * most every SS_PERSIST_CHECK_MS while it lasts (Redis refuses writes meanwhile). */
static int persist_verdict(ss_ingest *ing) {
    unsigned bad = ing->persist.problems;
    unsigned allowed = (ing->o.allow_eviction ? SS_PERSIST_EVICTING : 0u) | (ing->o.allow_no_aof ? SS_PERSIST_NO_AOF : 0u);
    char why[900];
    for (unsigned bit = SS_PERSIST_NO_AOF; bit <= SS_PERSIST_EVICTING; bit <<= 1) {
        if (!(bad & bit)) continue;
        ss_persist_describe(&ing->persist, bit, why, sizeof why);
        if (!(allowed & bit)) {
            snprintf(ing->errstr, sizeof ing->errstr, "%s%s", why,
                     bit == SS_PERSIST_EVICTING ? " (or run without --redis to use the embedded server). "
                                                  "--allow-eviction overrides this check."
                                                : " (or run without --redis to use the embedded server). "
                                                  "--allow-no-aof overrides this check.");
            return E_FATAL;
        }
        if (!(ing->persist_warned & bit)) {
            if (bit == SS_PERSIST_EVICTING)
                ss_warn("ingest", "maxmemory-policy is %s, not noeviction: Redis may silently drop buffered events "
                        "(--allow-eviction)", ing->persist.policy[0] ? ing->persist.policy : "(unknown)");
            else
                ss_warn("ingest", "Redis runs without its AOF (appendonly no): a Redis restart loses every buffered "
                        "event not yet archived (--allow-no-aof)");
        }
    }
    int64_t now = ss_mono_ms();
    if ((bad & SS_PERSIST_AOF_WRITE_ERR) &&
        (!(ing->persist_warned & SS_PERSIST_AOF_WRITE_ERR) || now - ing->last_aof_err_log_ms >= SS_PERSIST_CHECK_MS)) {
        ss_persist_describe(&ing->persist, SS_PERSIST_AOF_WRITE_ERR, why, sizeof why);
        ss_error("ingest", "%s", why);
        ing->last_aof_err_log_ms = now;
    }
    ing->persist_warned = bad; /* a problem that goes away is warned about again if it returns */
    return OK;
}

/* An INFO persistence reply. */
static int note_persistence(ss_ingest *ing, const char *info) {
    ss_persist_parse(info, &ing->persist);
    return persist_verdict(ing);
}

/* An INFO memory reply; base: the sent bytes it surely reflects. It carries the eviction
 * policy too, so that is checked as often as memory (it costs a scan of the reply). */
static int note_memory(ss_ingest *ing, const char *info, uint64_t base) {
    long long used, max;
    if (ss_redis_info_ll(info, "used_memory", &used) == 0) {
        ing->used_memory = used;
        ing->mem_base = base;
    }
    if (ss_redis_info_ll(info, "maxmemory", &max) == 0) ing->maxmemory = max;
    check_high_watermark(ing);
    ss_persist_parse(info, &ing->persist);
    return persist_verdict(ing);
}

static int below_low_watermark(const ss_ingest *ing) {
    return ing->maxmemory <= 0 || (double)ing->used_memory < ing->o.low_watermark * (double)ing->maxmemory;
}

/* ---- sending and collecting ------------------------------------------------------------------- */

/* Sends every part of b on its connection. */
static int send_batch(ss_ingest *ing, batch *b) {
    for (int i = 0; i < ing->nconn; i++) {
        part *p = &b->p[i];
        if (p->buf.len == 0) continue;
        ing->last_sent_ms[i] = ss_mono_ms();
        if (redisAppendFormattedCommand(ing->c[i], p->buf.data, p->buf.len) != REDIS_OK) return E_IO;
        ing->sent_bytes += p->buf.len;
        int done = 0;
        do {
            if (redisBufferWrite(ing->c[i], &done) != REDIS_OK) return E_IO;
        } while (!done);
    }
    return OK;
}

static redisReply *next_reply(redisContext *c) {
    void *r = NULL;
    if (redisGetReply(c, &r) != REDIS_OK) return NULL;
    return r;
}

static int is_oom(const redisReply *r) {
    return r->type == REDIS_REPLY_ERROR && r->len >= 3 && strncmp(r->str, "OOM", 3) == 0;
}

/* What the replies of one batch confirmed, published once per batch. */
typedef struct {
    uint64_t by_type[SS_TYPE__COUNT], dlq, bytes, ooms;
    uint64_t reasons[SS_INGEST_MAX_REASONS];
    uint64_t gaps[SS_GAP_REASONS];
    int failed;
} tally;

/* Reads the replies of control commands in p. */
static int collect_controls(ss_ingest *ing, redisContext *c, part *p) {
    for (; p->ctl_done < p->nctl; p->ctl_done++) {
        redisReply *r = next_reply(c);
        if (!r) return E_IO;
        int kind = p->ctl[p->ctl_done], rc = OK;
        if (kind == CTL_INFO && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS)) {
            rc = note_memory(ing, r->str, p->info_base);
        } else if (kind == CTL_PERSIST && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS)) {
            rc = note_persistence(ing, r->str);
        } else if (r->type == REDIS_REPLY_ERROR && ss_redis_error_class(r->str) == SS_ERR_PERMISSION) {
            /* a refused cursor or state write would be retried forever, or silently lost */
            permission_error(ing, r->str, ing->errstr, sizeof ing->errstr);
            rc = E_FATAL;
        } else if (kind == CTL_CURSOR && r->type == REDIS_REPLY_ERROR) {
            ing->cursor_written = 0; /* try again with the next batch */
            if (!is_oom(r)) ss_warn("ingest", "storing the cursor failed: %s", r->str);
        } else if (kind == CTL_CURSOR) {
            ing->cursor_ours = 1;
        } else if (r->type == REDIS_REPLY_ERROR && !is_oom(r)) {
            ss_warn("ingest", "Redis refused a control command: %s", r->str);
        }
        freeReplyObject(r);
        if (rc != OK) return rc;
    }
    return OK;
}

/* Reads all replies of part ci of a batch, counts them in t, and queues OOM-refused entries
 * (in order) in the retry batch's part ci. */
static int collect_part(ss_ingest *ing, int ci, part *p, tally *t) {
    redisContext *c = ing->c[ci];
    int rc = collect_controls(ing, c, p);
    if (rc != OK) return rc;
    for (; p->done < p->n; p->done++) {
        redisReply *r = next_reply(c);
        if (!r) return E_IO;
        int i = p->done;
        if (r->type == REDIS_REPLY_ERROR) {
            if (ss_redis_error_class(r->str) == SS_ERR_PERMISSION) {
                permission_error(ing, r->str, ing->errstr, sizeof ing->errstr);
                freeReplyObject(r);
                return E_FATAL;
            }
            if (!is_oom(r)) {
                const char *cmd = p->buf.data + p->data_off + p->off[i];
                snprintf(ing->errstr, sizeof ing->errstr, "Redis refused an entry: %.*s (command starts: %.60s)",
                         (int)r->len, r->str, cmd);
                freeReplyObject(r);
                return E_FATAL;
            }
            t->ooms++;
            t->failed++;
            if (part_copy_cmd(&ing->retry.p[ci], p, i) != 0) {
                freeReplyObject(r);
                snprintf(ing->errstr, sizeof ing->errstr, "out of memory queueing a re-send");
                return E_FATAL;
            }
        } else {
            uint8_t k = p->kind[i];
            uint64_t ms, seq; /* the id Redis gave the entry, to notice a Redis that lost it (recover) */
            if (r->type == REDIS_REPLY_STRING && ss_confirmed_parse_id(r->str, r->len, &ms, &seq) == 0)
                if (k < KIND_GAP) ss_confirmed_note(&ing->conf[k >= KIND_DLQ ? NSTREAMS : k], ms, seq);
            if (k >= KIND_GAP) {
                t->gaps[k - KIND_GAP]++;
            } else if (k >= KIND_DLQ) {
                t->dlq++;
                t->reasons[k - KIND_DLQ]++;
            } else {
                t->by_type[k / ing->nshards]++;
                t->bytes += p->ebytes[i];
            }
        }
        freeReplyObject(r);
    }
    return OK;
}

/* A live source's connection state; its series appear with the first live source. */
static void publish_link(ss_ingest *ing) {
    if (!ing->m_src_up) {
        ing->m_src_up = ss_metric_get("skyspool_source_connected", SS_METRIC_GAUGE,
                                      "1 while the live source has a connection open", NULL);
        ing->m_src_reconnects = ss_metric_get("skyspool_source_reconnects_total", SS_METRIC_COUNTER,
                                              "connections the live source re-established after the first", NULL);
    }
    ss_metric_set(ing->m_src_up, ing->src->link.connected);
    uint64_t c = ing->src->link.connects;
    ss_metric_set(ing->m_src_reconnects, c > 1 ? (double)(c - 1) : 0);
}

static void publish_tally(ss_ingest *ing, const tally *t) {
    pthread_mutex_lock(&ing->mu);
    for (int i = 0; i < SS_TYPE__COUNT; i++) {
        ing->st.by_type[i] += t->by_type[i];
        ing->st.written += t->by_type[i];
    }
    ing->st.dlq += t->dlq;
    for (int i = 0; i < SS_INGEST_MAX_REASONS; i++) ing->st.reason_count[i] += t->reasons[i];
    for (int i = 0; i < SS_GAP_REASONS; i++) ing->st.gaps += t->gaps[i];
    ing->st.bytes += t->bytes;
    ing->st.oom_replies += t->ooms;
    ing->st.has_cursor = ing->has_confirmed;
    ing->st.cursor = ing->confirmed_cursor;
    pthread_mutex_unlock(&ing->mu);
    for (int i = 0; i < SS_TYPE__COUNT; i++)
        if (t->by_type[i]) ss_metric_add(ing->m_events[i], (double)t->by_type[i]);
    for (int i = 0; i < SS_TYPE__COUNT; i++)
        if (t->by_type[i]) {
            ss_metric_set(ing->m_last_event, (double)ss_wall_us() / 1e6); /* /healthz: source stalled? */
            break;
        }
    for (int i = 0; i < SS_INGEST_MAX_REASONS; i++)
        if (t->reasons[i] && ing->m_dlq[i]) ss_metric_add(ing->m_dlq[i], (double)t->reasons[i]);
    for (int i = 0; i < SS_GAP_REASONS; i++)
        if (t->gaps[i]) ss_metric_add(ing->m_gaps[i], (double)t->gaps[i]);
    if (ing->has_confirmed) ss_metric_set(ing->m_cursor, (double)ing->confirmed_cursor);
    ss_source_counters sc;
    ss_source_get_counters(ing->src, &sc);
    uint64_t now[4] = {sc.sig_verified, sc.sig_bad, sc.sig_no_key, sc.sig_resolve_failed};
    for (int i = 0; i < 4; i++)
        if (now[i] > ing->sig_seen[i]) {
            ss_metric_add(ing->m_sig[i], (double)(now[i] - ing->sig_seen[i]));
            ing->sig_seen[i] = now[i];
        }
    pthread_mutex_lock(&ing->mu);
    for (int i = 0; i < 4; i++) ing->st.signatures[i] = ing->sig_seen[i];
    pthread_mutex_unlock(&ing->mu);
}

/* Reads all replies of b on every connection. Its cursor is confirmed only when every part
 * succeeded and nothing earlier waits for a re-send. */
static int collect(ss_ingest *ing, batch *b) {
    tally t;
    memset(&t, 0, sizeof t);
    int rc = OK;
    /* how long this thread blocks on the replies: ~0 when Redis answered while the next batches
     * were read, Redis's own latency plus the network's when it is the bottleneck */
    int64_t t0 = ss_mono_ns();
    for (int i = 0; i < ing->nconn && rc == OK; i++) rc = collect_part(ing, i, &b->p[i], &t);
    if (rc == OK && ing->m_wait) ss_histogram_observe(ing->m_wait, (double)(ss_mono_ns() - t0) / 1e9);
    if (rc == E_FATAL) return rc;
    if (rc == OK) {
        if (t.failed || batch_entries(&ing->retry, ing->nconn)) {
            /* the retry batch now stands for everything up to the end of b */
            ing->retry.has_cursor = b->has_cursor || ing->retry.has_cursor;
            if (b->has_cursor) ing->retry.end_cursor = b->end_cursor;
            if (t.failed) ing->oom_pending = 1;
        } else if (b->has_cursor) {
            ing->confirmed_cursor = b->end_cursor;
            ing->has_confirmed = 1;
            ing->cursor_written = 0;
        }
    }
    publish_tally(ing, &t);
    return rc;
}

static int collect_oldest(ss_ingest *ing) {
    int rc = collect(ing, ring_at(ing, 0));
    if (rc != OK) return rc;
    ing->head = (ing->head + 1) % ing->nring;
    ing->count--;
    return OK;
}

static int drain(ss_ingest *ing) {
    while (ing->count > 0) {
        int rc = collect_oldest(ing);
        if (rc != OK) return rc;
    }
    return OK;
}

/* Synchronous command on the control connection, when nothing is in flight. */
static redisReply *command_now(ss_ingest *ing, int argc, const char **argv) {
    return redisCommandArgv(ing->c[ing->cc], argc, argv, NULL);
}

static void write_state_now(ss_ingest *ing, const char *state, const char *pause_reason) {
    ss_buf b;
    ss_buf_init(&b);
    int n = 1;
    if (ing->has_confirmed && !ing->cursor_written) {
        add_cursor_cmd(ing, &b);
        n = 2;
    }
    add_state_cmd(ing, &b, state, pause_reason);
    redisContext *c = ing->c[ing->cc];
    if (c && redisAppendFormattedCommand(c, b.data, b.len) == REDIS_OK) {
        for (int i = 0; i < n; i++) {
            redisReply *r = next_reply(c);
            if (!r) break;
            if (i == 0 && n == 2 && r->type != REDIS_REPLY_ERROR) ing->cursor_written = ing->cursor_ours = 1;
            freeReplyObject(r);
        }
    }
    ss_buf_free(&b);
}

static int info_memory_now(ss_ingest *ing) {
    const char *argv[2] = {"INFO", "memory"};
    redisReply *r = command_now(ing, 2, argv);
    if (!r) return E_IO;
    int rc = OK;
    if (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS) rc = note_memory(ing, r->str, ing->sent_bytes);
    freeReplyObject(r);
    return rc;
}

/* INFO persistence, synchronously (nothing in flight): at connect and while paused. */
static int info_persistence_now(ss_ingest *ing) {
    const char *argv[2] = {"INFO", "persistence"};
    redisReply *r = command_now(ing, 2, argv);
    if (!r) return E_IO;
    int rc = OK;
    if (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS) rc = note_persistence(ing, r->str);
    freeReplyObject(r);
    ing->last_persist_ms = ss_mono_ms();
    return rc;
}

/* PINGs the connections other than the control one that were quiet for IDLE_PING_MS, when
 * nothing is in flight (while paused), so that a Redis `timeout` does not close them. */
static int ping_quiet_now(ss_ingest *ing) {
    int64_t now = ss_mono_ms();
    for (int i = 0; i < ing->nconn; i++) {
        if (i == ing->cc || now - ing->last_sent_ms[i] < IDLE_PING_MS) continue;
        const char *argv[1] = {"PING"};
        redisReply *r = redisCommandArgv(ing->c[i], 1, argv, NULL);
        if (!r) return E_IO;
        freeReplyObject(r);
        ing->last_sent_ms[i] = now;
    }
    return OK;
}

/* ---- connection ------------------------------------------------------------------------------ */

/* Checks, with nothing in flight, that Redis keeps what it acknowledges (persist.h): AOF on,
 * maxmemory-policy noeviction. The same checks then run every SS_PERSIST_CHECK_MS. */
static int check_policy(ss_ingest *ing) {
    memset(&ing->persist, 0, sizeof ing->persist); /* this server's, from scratch */
    int rc = info_persistence_now(ing);
    if (rc != OK) return rc;
    const char *argv[2] = {"INFO", "memory"};
    redisReply *r = command_now(ing, 2, argv);
    if (!r) return E_IO;
    if (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_STATUS) {
        snprintf(ing->errstr, sizeof ing->errstr, "INFO memory failed: %s",
                 r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
        freeReplyObject(r);
        return E_FATAL;
    }
    rc = note_memory(ing, r->str, ing->sent_bytes); /* nothing in flight */
    ing->pause_wanted = 0;
    freeReplyObject(r);
    if (rc != OK) return rc;
    if (!ing->persist.policy_known) { /* as before: a policy we cannot see is not noeviction */
        ing->persist.problems |= SS_PERSIST_EVICTING;
        if ((rc = persist_verdict(ing)) != OK) return rc;
    }
    if (!ing->persist.aof_known)
        ss_warn("ingest", "Redis does not report aof_enabled: cannot check that its AOF is on");
    if (ing->maxmemory == 0)
        ss_warn("ingest", "Redis has no maxmemory: no backpressure until the host runs out of memory "
                          "(set maxmemory, e.g. 2gb)");
    return OK;
}

/* Records the number of shards in Pingest, or refuses a number other than the recorded one
 * (shard.h): a key's copies must all meet in one shard. Checked at every (re)connect. */
static int check_shards(ss_ingest *ing) {
    char err[1024];
    int recorded = 0;
    int rc = ss_shard_record(ing->c[ing->cc], ing->prefix, ing->nshards, ing->o.reshard, &recorded, err, sizeof err);
    if (rc < 0 && ss_err_class_of_rc(rc) == SS_ERR_PERMISSION) {
        permission_error(ing, err, ing->errstr, sizeof ing->errstr);
        return E_FATAL;
    }
    if (rc < 0) return E_IO;
    if (rc > 0) {
        snprintf(ing->errstr, sizeof ing->errstr, "%s", err);
        return E_FATAL;
    }
    if (ing->o.reshard && recorded != ing->nshards)
        ss_warn("ingest", "--reshard: %singest now records shards=%d (was %d); writers must use the new layout",
                ing->prefix, ing->nshards, recorded);
    return OK;
}

/* Reads the stored cursor and the fingerprint stored with it ("" if none): 1 found (in
 * *out, fp), 0 none, E_IO. */
static int load_cursor(ss_ingest *ing, int64_t *out, char fp[SS_SOURCE_FINGERPRINT_MAX]) {
    const char *argv[4] = {"HMGET", ing->cursor_key, "cursor", "fingerprint"};
    redisReply *r = command_now(ing, 4, argv);
    if (!r) return E_IO;
    if (r->type == REDIS_REPLY_ERROR && ss_redis_error_class(r->str) == SS_ERR_PERMISSION) { /* not "no cursor": that re-reads all */
        permission_error(ing, r->str, ing->errstr, sizeof ing->errstr);
        freeReplyObject(r);
        return E_FATAL;
    }
    int rc = 0;
    fp[0] = '\0';
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 && r->element[0]->type == REDIS_REPLY_STRING) {
        const char *str = r->element[0]->str;
        char *end;
        errno = 0;
        long long v = strtoll(str, &end, 10);
        if (!errno && end != str && !*end) {
            *out = v;
            rc = 1;
            if (r->element[1]->type == REDIS_REPLY_STRING)
                snprintf(fp, SS_SOURCE_FINGERPRINT_MAX, "%s", r->element[1]->str);
        } else {
            ss_warn("ingest", "ignoring unreadable stored cursor '%s' in %s", str, ing->cursor_key);
        }
    }
    /* nothing stored under the key (HMGET answers an array of nils) */
    int nil = r->type == REDIS_REPLY_NIL ||
              (r->type == REDIS_REPLY_ARRAY && r->elements >= 1 && r->element[0]->type == REDIS_REPLY_NIL);
    freeReplyObject(r);
    if (nil && ing->legacy_key[0]) { /* an upgrade: the cursor under the source's old id, once */
        const char *largv[3] = {"HGET", ing->legacy_key, "cursor"};
        redisReply *lr = command_now(ing, 3, largv);
        if (!lr) return E_IO;
        if (lr->type == REDIS_REPLY_STRING) {
            char *end;
            errno = 0;
            long long v = strtoll(lr->str, &end, 10);
            if (!errno && end != lr->str && !*end) {
                *out = v;
                rc = 1;
                ss_info("ingest", "read the cursor %lld stored under the old key %s; from now on it is stored under %s",
                        v, ing->legacy_key, ing->cursor_key);
            }
        }
        freeReplyObject(lr);
        ing->legacy_key[0] = '\0';
    }
    return rc;
}

/* Errors that waiting cannot fix: credentials, permissions, a URL user without a password. */
static int permanent_error(ss_err_class c) { return c == SS_ERR_AUTH || c == SS_ERR_PERMISSION || c == SS_ERR_USAGE; }

static void close_all(ss_ingest *ing) {
    for (int i = 0; i < SS_INGEST_MAX_CONNECTIONS; i++) {
        if (ing->c[i]) redisFree(ing->c[i]);
        ing->c[i] = NULL;
    }
}

/* Opens connection i and names it skyspool-ingest-<i> (CLIENT LIST shows which is which; a
 * refused CLIENT SETNAME, e.g. by an ACL, is harmless). Returns NULL + err. */
static redisContext *open_conn(ss_ingest *ing, int i, char *err, size_t errlen, ss_err_class *cls) {
    redisContext *c = ss_redis_target_connect_as(ing->target, SS_ACL_INGEST, err, errlen, cls);
    if (!c) return NULL;
    struct timeval tv = {30, 0}; /* replies may be slowed by AOF fsync stalls */
    redisSetTimeout(c, tv);
    char name[32];
    snprintf(name, sizeof name, "skyspool-ingest-%d", i);
    const char *argv[3] = {"CLIENT", "SETNAME", name};
    redisReply *r = redisCommandArgv(c, 3, argv, NULL);
    if (!r) {
        snprintf(err, errlen, "connection lost during setup: %s", c->errstr);
        redisFree(c);
        return NULL;
    }
    freeReplyObject(r);
    return c;
}

/* Opens all connections and checks the policy; on any failure none stays open. E_FATAL
 * (bad credentials, evicting policy) comes with ing->errstr. */
static int connect_all(ss_ingest *ing, char *err, size_t errlen) {
    for (int i = 0; i < ing->nconn; i++) {
        ss_err_class cls = SS_ERR_IO;
        ing->c[i] = open_conn(ing, i, err, errlen, &cls);
        ing->last_sent_ms[i] = ss_mono_ms();
        if (!ing->c[i]) {
            close_all(ing);
            if (!permanent_error(cls)) return E_IO;
            snprintf(ing->errstr, sizeof ing->errstr, "%.500s", err);
            ing->err = cls;
            return E_FATAL;
        }
    }
    int rc = check_policy(ing);
    if (rc == OK) rc = check_shards(ing);
    if (rc != OK) {
        if (rc != E_FATAL) snprintf(err, errlen, "connection lost during setup");
        close_all(ing);
    }
    return rc;
}

/* Connects and checks the policy, retrying with backoff and jitter: forever (until *stop)
 * after a first success, for at most initial_wait_ms before it, so that a wrong address
 * fails the command instead of hanging it. Bad credentials fail at once. */
static int connect_redis(ss_ingest *ing) {
    int delay = 100, attempt = 0;
    int64_t give_up = ing->ever_connected ? 0 : ss_mono_ms() + ing->o.initial_wait_ms;
    for (;;) {
        char err[512];
        int rc = connect_all(ing, err, sizeof err);
        if (rc == OK) {
            if (attempt) ss_info("ingest", "connected to Redis after %d attempts", attempt + 1);
            ing->ever_connected = 1;
            return OK;
        }
        if (rc == E_FATAL) return E_FATAL;
        attempt++;
        if (give_up && ss_mono_ms() > give_up) {
            snprintf(ing->errstr, sizeof ing->errstr, "Redis unreachable for %d s: %.400s", ing->o.initial_wait_ms / 1000,
                     err);
            return E_FATAL;
        }
        if (*ing->stop) {
            snprintf(ing->errstr, sizeof ing->errstr, "stopped while Redis was unreachable: %.400s", err);
            return E_STOP;
        }
        ing->backoff_seed = ing->backoff_seed * 6364136223846793005ULL + 1442695040888963407ULL;
        int jitter = (int)((ing->backoff_seed >> 33) % (uint64_t)(delay / 2 + 1));
        int wait = delay / 2 + jitter;
        if (attempt == 1 || attempt % 10 == 0)
            ss_warn("ingest", "Redis unavailable (%s); retry %d in %d ms", err, attempt, wait);
        for (int waited = 0; waited < wait && !*ing->stop; waited += 50) ss_sleep_ms(50);
        delay = delay * 2 > ing->o.reconnect_max_ms ? ing->o.reconnect_max_ms : delay * 2;
    }
}

/* Reads Pingest newest_us (the newest event time ever ingested here, kept as a maximum
 * across runs): 1 found, 0 none, E_IO. */
static int load_newest(ss_ingest *ing) {
    const char *argv[3] = {"HGET", ing->state_key, "newest_us"};
    redisReply *r = command_now(ing, 3, argv);
    if (!r) return E_IO;
    int rc = 0;
    if (r->type == REDIS_REPLY_STRING) {
        char *end;
        errno = 0;
        long long v = strtoll(r->str, &end, 10);
        if (!errno && end != r->str && !*end && v > 0) {
            if (v > ing->newest_us) ing->newest_us = v;
            rc = 1;
        }
    }
    freeReplyObject(r);
    return rc;
}

/* --from-start: a writer keeps an event's dedup key for horizon_us of event time behind the
 * newest event it has seen, then forgets it. Re-sent events older than that reference minus
 * the horizon can therefore be written a second time. The reference is the newest event
 * time this buffer has ever been fed (what its writers have seen at most), or, if it records
 * none, now. */
static void start_horizon_check(ss_ingest *ing) {
    if (ing->o.horizon_us <= 0) return;
    ing->horizon_ref = ing->newest_stored ? ing->newest_us : ss_wall_us();
    ing->horizon_before = ing->horizon_ref - ing->o.horizon_us;
    ing->horizon_on = 1;
}

/* Positions the source at stored - margin if the source agrees that the cursor belongs to
 * its content (fp: what was stored with it). Returns 0 there, 1 refused (the source is at
 * its start; the log says why), -1 cannot seek (src->errstr). */
static int seek_to(ss_ingest *ing, int64_t stored, const char *fp) {
    int64_t at = stored - ing->src->resume_margin;
    if (at < 0) at = 0;
    char why[400];
    int r = ss_source_resume(ing->src, at, fp, why, sizeof why);
    if (r < 0) return -1;
    if (r > 0) {
        ss_warn("ingest", "not resuming %s at the stored %s %lld: %s; reading it from the start", ing->src->id,
                ing->src->cursor_name ? ing->src->cursor_name : "cursor", (long long)at, why);
        return 1;
    }
    ss_info("ingest", "resuming %s at %s %lld (stored %lld - margin %lld)", ing->src->id,
            ing->src->cursor_name ? ing->src->cursor_name : "cursor", (long long)at, (long long)stored,
            (long long)ing->src->resume_margin);
    return 0;
}

/* How a source that cannot be re-read is named in a loss report. */
static const char *unrereadable_name(const ss_source *src) {
    return !strcmp(src->id, "file:-") ? "stdin" : src->id;
}

/* A stream's last-generated-id (XINFO STREAM): 0 (in ms/seq; 0-0 when the stream is gone),
 * 1 unknown (Redis refused XINFO: the log says why), E_IO. Waits while Redis is loading. */
static int last_generated(ss_ingest *ing, const char *key, uint64_t *ms, uint64_t *seq) {
    *ms = *seq = 0;
    for (int tries = 0;; tries++) {
        const char *argv[3] = {"XINFO", "STREAM", key};
        redisReply *r = command_now(ing, 3, argv);
        if (!r) return E_IO;
        if (r->type == REDIS_REPLY_ERROR) {
            /* LOADING is the reply's error code (RESP: its first word); a missing key has none
             * (a plain ERR), so it is asked */
            int loading = !strncmp(r->str, "LOADING", 7), nokey = !loading && ss_redis_key_exists(ing->c[ing->cc], key) == 0;
            if (!loading && !nokey) ss_warn("ingest", "XINFO STREAM %s failed: %s; cannot check it for loss", key, r->str);
            freeReplyObject(r);
            if (loading && tries < 600 && !*ing->stop) {
                ss_sleep_ms(100);
                continue;
            }
            return nokey ? 0 : 1;
        }
        int rc = 1;
        for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i + 1 < r->elements; i += 2) {
            const redisReply *k = r->element[i], *v = r->element[i + 1];
            if (k->type == REDIS_REPLY_STRING && !strcmp(k->str, "last-generated-id") && v->type == REDIS_REPLY_STRING &&
                ss_confirmed_parse_id(v->str, v->len, ms, seq) == 0)
                rc = 0;
        }
        freeReplyObject(r);
        return rc;
    }
}

/* After a reconnect: did Redis come back without entries it had confirmed to us (restarted
 * from an AOF that missed its last second, or on an empty dataset)? Per stream, the entries
 * confirmed after its last-generated-id may be gone (confirmed.h). *lost: their sum; detail:
 * the first stream that lost some. The record starts over (what counts from now on is what
 * this Redis confirms). Returns OK or E_IO. */
static int check_lost(ss_ingest *ing, uint64_t *lost, char *detail, size_t detlen) {
    *lost = 0;
    detail[0] = '\0';
    for (int sx = 0; sx <= NSTREAMS; sx++) {
        ss_confirmed *c = &ing->conf[sx];
        if (!c->has_last) continue;
        char key[PREFIX_MAX + 24];
        if (sx == NSTREAMS) snprintf(key, sizeof key, "%s", ing->dlq_key);
        else ss_shard_stream_key(ing->prefix, (ss_type)(sx / ing->nshards), sx % ing->nshards, ing->nshards, key,
                                 sizeof key);
        uint64_t ms, seq;
        int rc = last_generated(ing, key, &ms, &seq);
        if (rc < 0) return rc;
        uint64_t n = rc == 0 ? ss_confirmed_after(c, ms, seq) : 0;
        if (n && !detail[0])
            snprintf(detail, detlen, "%s now ends at %llu-%llu, Redis had confirmed %llu-%llu", key,
                     (unsigned long long)ms, (unsigned long long)seq, (unsigned long long)c->last_ms,
                     (unsigned long long)c->last_seq);
        *lost += n;
    }
    for (int sx = 0; sx <= NSTREAMS; sx++) ss_confirmed_reset(&ing->conf[sx]);
    return OK;
}

/* After a lost connection (any of them): close all, reconnect all, then either rewind the
 * source to the stored cursor or queue everything unconfirmed for re-sending. */
static int recover(ss_ingest *ing) {
    char why[256];
    snprintf(why, sizeof why, "connection lost");
    for (int i = 0; i < ing->nconn; i++)
        if (ing->c[i] && ing->c[i]->err) {
            snprintf(why, sizeof why, "connection %d: %s", i, ing->c[i]->errstr);
            break;
        }
    ss_warn("ingest", "lost the Redis connection (%s); reconnecting all %d", why, ing->nconn);
    close_all(ing);
    pthread_mutex_lock(&ing->mu);
    ing->st.reconnects++;
    pthread_mutex_unlock(&ing->mu);
    ss_metric_inc(ing->m_reconnects);
    int rc = connect_redis(ing);
    if (rc != OK) return rc;
    uint64_t lost = 0;
    char lost_detail[PREFIX_MAX + 160];
    if ((rc = check_lost(ing, &lost, lost_detail, sizeof lost_detail)) != OK) return rc;

    int64_t stored = 0;
    char fp[SS_SOURCE_FINGERPRINT_MAX];
    int found = load_cursor(ing, &stored, fp);
    if (found < 0) return found == E_FATAL ? E_FATAL : E_IO;
    /* A stored cursor this run has not taken over (refused at start, or ignored by
     * --from-start) is not where to go back to, until this run's own cursor replaced it. */
    if (found && !ing->cursor_ours) found = 0;
    int64_t target = stored;
    const char *target_fp = fp;
    int can_target = found;
    if (!found && ing->has_start_cursor) {
        target = ing->start_cursor + ing->src->resume_margin; /* seek_to subtracts it again */
        target_fp = ing->start_fp;
        can_target = 1;
    } else if (!found && ing->src->cursor_name &&
               (!strcmp(ing->src->cursor_name, "offset") || !strcmp(ing->src->cursor_name, "index"))) {
        target = 0;
        can_target = 1;
    }
    int sr = can_target ? seek_to(ing, target, target_fp) : -1;
    if (sr == 1) found = 0; /* at the start: nothing confirmed */
    if (lost && sr >= 0) {
        ss_warn("ingest", "Redis lost up to %llu of the events this ingester had buffered (it restarted without "
                "them: %s); %s is rewound to re-read them", (unsigned long long)lost, lost_detail, ing->src->id);
    } else if (lost) { /* nothing can bring them back: said now, and the run fails at its end */
        ing->lost += lost;
        pthread_mutex_lock(&ing->mu);
        ing->st.lost = ing->lost;
        pthread_mutex_unlock(&ing->mu);
        ss_metric_add(ing->m_lost, (double)lost);
        ss_error("ingest", "Redis lost up to %llu of the events this ingester had buffered (it restarted without "
                 "them: %s); %s cannot be re-read, so they are lost: re-run with the input as a file to recover "
                 "them. Ingesting the rest; this run will exit non-zero", (unsigned long long)lost, lost_detail,
                 unrereadable_name(ing->src));
    }
    if (sr >= 0) {
        for (int i = 0; i < ing->count; i++) batch_reset(ring_at(ing, i), ing->nconn);
        ing->count = 0;
        batch_reset(&ing->retry, ing->nconn);
        ing->oom_pending = 0;
        ing->has_confirmed = found;
        ing->confirmed_cursor = stored;
        ing->cursor_written = 1;
        ing->rewound = 1;
        pthread_mutex_lock(&ing->mu);
        ing->st.rewinds++;
        ing->st.has_cursor = found;
        ing->st.cursor = stored;
        pthread_mutex_unlock(&ing->mu);
        return OK;
    }
    /* cannot rewind: re-send every entry without a success reply, oldest first, each on
     * its own stream's connection (so per-stream order is kept) */
    uint64_t n = 0;
    for (int i = 0; i < ing->count; i++) {
        batch *b = ring_at(ing, i);
        for (int ci = 0; ci < ing->nconn; ci++) {
            part *p = &b->p[ci];
            for (int j = p->done; j < p->n; j++, n++)
                if (part_copy_cmd(&ing->retry.p[ci], p, j) != 0) {
                    snprintf(ing->errstr, sizeof ing->errstr, "out of memory queueing a re-send");
                    return E_FATAL;
                }
        }
        if (b->has_cursor) {
            ing->retry.has_cursor = 1;
            ing->retry.end_cursor = b->end_cursor;
        }
        batch_reset(b, ing->nconn);
    }
    ing->count = 0;
    ing->cursor_written = 0;
    ss_info("ingest", "source %s cannot rewind; re-sending %d unconfirmed entries from memory (%llu in flight)",
            ing->src->id, batch_entries(&ing->retry, ing->nconn), (unsigned long long)n);
    return OK;
}

/* ---- pausing ----------------------------------------------------------------------------------- */

static int pause_until_low(ss_ingest *ing, const char *reason) {
    pthread_mutex_lock(&ing->mu);
    ing->st.paused = 1;
    ing->st.pauses++;
    pthread_mutex_unlock(&ing->mu);
    ss_metric_set(ing->m_paused, 1);
    ss_metric_inc(!strcmp(reason, "oom") ? ing->m_pauses_oom : ing->m_pauses_wm);
    int64_t t0 = ss_mono_ms(), last_log = t0, last_state = 0;
    ss_warn("ingest", "pausing the source (%s): used_memory %lld of maxmemory %lld; resuming below %.0f%%", reason,
            ing->used_memory, ing->maxmemory, ing->o.low_watermark * 100);
    int rc = OK;
    for (;;) {
        int64_t now = ss_mono_ms();
        if (now - last_state >= ing->o.state_interval_ms) {
            write_state_now(ing, "paused", reason); /* may itself be refused under OOM */
            last_state = now;
        }
        if ((rc = info_memory_now(ing)) != OK || (rc = ping_quiet_now(ing)) != OK) break;
        if (now - ing->last_persist_ms >= SS_PERSIST_CHECK_MS && (rc = info_persistence_now(ing)) != OK) break;
        if (below_low_watermark(ing)) break;
        if (*ing->stop) {
            rc = E_STOP;
            break;
        }
        if (now - last_log >= 30000) {
            ss_warn("ingest", "still paused after %lld s: used_memory %lld of %lld; is a writer draining the streams?",
                    (long long)(now - t0) / 1000, ing->used_memory, ing->maxmemory);
            last_log = now;
        }
        ss_sleep_ms(ing->o.memory_check_ms < 100 ? ing->o.memory_check_ms : 100); /* paused: look often */
    }
    pthread_mutex_lock(&ing->mu);
    ing->st.paused = 0;
    pthread_mutex_unlock(&ing->mu);
    ss_metric_set(ing->m_paused, 0);
    ing->pause_wanted = 0;
    ing->last_info_ms = ss_mono_ms();
    if (rc == OK) {
        ss_info("ingest", "resuming after %.1f s paused: used_memory %lld", (double)(ss_mono_ms() - t0) / 1000.0,
                ing->used_memory);
        write_state_now(ing, "running", NULL);
    }
    return rc;
}

/* Sends the retry batch alone and collects it; OOM refusals land in retry again. */
static int resend_retry(ss_ingest *ing) {
    batch *b = ring_at(ing, 0); /* count == 0 here */
    batch tmp = *b;
    *b = ing->retry;
    ing->retry = tmp;
    batch_reset(&ing->retry, ing->nconn);
    pthread_mutex_lock(&ing->mu);
    ing->st.resent += (uint64_t)batch_entries(b, ing->nconn);
    pthread_mutex_unlock(&ing->mu);
    ing->oom_pending = 0;
    ing->count = 1;
    int rc = send_batch(ing, b);
    if (rc != OK) return rc;
    return collect_oldest(ing);
}

/* ---- pinning streams to connections -------------------------------------------------------- */

/* Typical shares of the live firehose, in 0.1 % (issue 2, measured on Jetstream samples). */
static const struct {
    int type; /* ss_type, or -1 for the DLQ */
    int share;
} k_share[] = {
    {SS_TYPE_LIKE, 470},    {SS_TYPE_FOLLOW, 330},  {SS_TYPE_POST, 90},    {SS_TYPE_REPOST, 60},
    {SS_TYPE_OTHER, 19},    {SS_TYPE_BLOCK, 16},    {SS_TYPE_IDENTITY, 3}, {SS_TYPE_ACCOUNT, 3},
    {SS_TYPE_SYNC, 1},      {-1, 1},
};

/* Pins every stream to one connection, biggest share first onto the least loaded one (a
 * stream cannot be split without losing its order), and picks the least loaded connection
 * for the control commands. With 3: like | follow | everything else (~18 %) + controls.
 * With shards, each shard of a type is a stream of its own (a share / shards), so likes no
 * longer need to sit on a single connection. */
static void pin_streams(ss_ingest *ing) {
    int load[SS_INGEST_MAX_CONNECTIONS] = {0};
    for (size_t k = 0; k < sizeof k_share / sizeof k_share[0]; k++) {
        int n = k_share[k].type < 0 ? 1 : ing->nshards;
        for (int s = 0; s < n; s++) {
            int best = 0;
            for (int i = 1; i < ing->nconn; i++)
                if (load[i] < load[best]) best = i;
            load[best] += k_share[k].share * 64 / n;
            if (k_share[k].type < 0) ing->conn_dlq = (uint8_t)best;
            else ing->conn_of[k_share[k].type * ing->nshards + s] = (uint8_t)best;
        }
    }
    ing->cc = 0;
    for (int i = 1; i < ing->nconn; i++)
        if (load[i] < load[ing->cc]) ing->cc = i;
}

/* ---- the loop ------------------------------------------------------------------------------------ */

ss_ingest *ss_ingest_new(const ss_ingest_opts *o, ss_redis_target *target) {
    ss_ingest *ing = calloc(1, sizeof *ing);
    if (!ing) return NULL;
    ss_ingest_opts_init(&ing->o);
    if (o) ing->o = *o;
    ss_ingest_opts d;
    ss_ingest_opts_init(&d);
    if (!ing->o.prefix) ing->o.prefix = d.prefix;
    if (ing->o.high_watermark <= 0) ing->o.high_watermark = d.high_watermark;
    if (ing->o.low_watermark <= 0) ing->o.low_watermark = d.low_watermark;
    if (ing->o.low_watermark > ing->o.high_watermark) ing->o.low_watermark = ing->o.high_watermark;
    if (!ing->o.max_event_bytes) ing->o.max_event_bytes = d.max_event_bytes;
    if (ing->o.batch_events <= 0) ing->o.batch_events = d.batch_events;
    if (ing->o.batch_events > 100000) ing->o.batch_events = 100000;
    if (ing->o.batches_in_flight <= 0) ing->o.batches_in_flight = d.batches_in_flight;
    if (ing->o.batches_in_flight > MAX_IN_FLIGHT) ing->o.batches_in_flight = MAX_IN_FLIGHT;
    if (ing->o.connections <= 0) ing->o.connections = d.connections;
    if (ing->o.connections > SS_INGEST_MAX_CONNECTIONS) ing->o.connections = SS_INGEST_MAX_CONNECTIONS;
    if (ing->o.memory_check_ms <= 0) ing->o.memory_check_ms = d.memory_check_ms;
    if (ing->o.state_interval_ms <= 0) ing->o.state_interval_ms = d.state_interval_ms;
    if (ing->o.flush_ms <= 0) ing->o.flush_ms = d.flush_ms;
    if (ing->o.reconnect_max_ms <= 0) ing->o.reconnect_max_ms = d.reconnect_max_ms;
    if (ing->o.initial_wait_ms <= 0) ing->o.initial_wait_ms = d.initial_wait_ms;
    snprintf(ing->prefix, sizeof ing->prefix, "%s", ing->o.prefix);
    ing->o.prefix = ing->prefix;
    ing->target = target;
    ing->nring = ing->o.batches_in_flight + 1;
    ing->nconn = ing->o.connections;
    pthread_mutex_init(&ing->mu, NULL);
    ss_decode_limits lim = {.max_bytes = ing->o.max_event_bytes, .max_depth = 64};
    ing->dec = ss_decoder_new(&lim);
    if (!ing->dec) {
        free(ing);
        return NULL;
    }
    ing->nshards = ing->o.shards < 1 ? 1 : ing->o.shards > SS_SHARDS_MAX ? SS_SHARDS_MAX : ing->o.shards;
    pin_streams(ing);
    for (int t = 0; t < SS_TYPE__COUNT; t++)
        for (int s = 0; s < ing->nshards; s++) {
            char key[PREFIX_MAX + 24];
            int sx = t * ing->nshards + s;
            int kl = ss_shard_stream_key(ing->prefix, (ss_type)t, s, ing->nshards, key, sizeof key);
            int n = snprintf(ing->xadd_prefix[sx], sizeof ing->xadd_prefix[sx],
                             "*5\r\n$4\r\nXADD\r\n$%d\r\n%s\r\n$1\r\n*\r\n", kl, key);
            ing->xadd_prefix_len[sx] = (size_t)n;
        }
    for (int t = 0; t < SS_TYPE__COUNT; t++) {
        char labels[48];
        snprintf(labels, sizeof labels, "type=\"%s\"", ss_type_name((ss_type)t));
        ing->m_events[t] = ss_metric_get("skyspool_ingest_events_total", SS_METRIC_COUNTER,
                                         "events written to their Redis stream", labels);
    }
    static const double wait_bounds[] = {0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
    ing->m_wait = ss_histogram_get("skyspool_ingest_redis_wait_seconds",
                                   "time ingest blocked on Redis's replies to a batch (XADD round trip not hidden by pipelining)",
                                   NULL, wait_bounds, sizeof wait_bounds / sizeof wait_bounds[0]);
    ing->m_other = ss_metric_get("skyspool_ingest_other_total", SS_METRIC_COUNTER,
                                 "events of other collections seen (kept only with keep-other)", NULL);
    ing->m_paused = ss_metric_get("skyspool_ingest_paused", SS_METRIC_GAUGE, "1 while ingest is paused by backpressure",
                                  NULL);
    ing->m_pauses_wm = ss_metric_get("skyspool_ingest_pauses_total", SS_METRIC_COUNTER, "backpressure pauses",
                                     "reason=\"watermark\"");
    ing->m_pauses_oom = ss_metric_get("skyspool_ingest_pauses_total", SS_METRIC_COUNTER, "backpressure pauses",
                                      "reason=\"oom\"");
    ing->m_reconnects = ss_metric_get("skyspool_ingest_redis_reconnects_total", SS_METRIC_COUNTER,
                                      "reconnections to Redis", NULL);
    ing->m_lost = ss_metric_get("skyspool_ingest_lost_events_total", SS_METRIC_COUNTER,
                                "confirmed events a restarted Redis came back without, that the source could not "
                                "re-read (at most)", NULL);
    ing->m_cursor = ss_metric_get("skyspool_ingest_cursor", SS_METRIC_GAUGE, "the last source cursor stored in Redis",
                                  NULL);
    ing->m_last_event = ss_metric_get("skyspool_ingest_last_event_timestamp_seconds", SS_METRIC_GAUGE,
                                      "wall clock when events were last written to Redis (0: none yet)", NULL);
    ing->m_event_time = ss_metric_get("skyspool_source_event_timestamp_seconds", SS_METRIC_GAUGE,
                                      "event time of the newest event the source delivered (0: none yet)", NULL);
    snprintf(ing->dlq_key, sizeof ing->dlq_key, "%sdlq", ing->prefix);
    snprintf(ing->gaps_key, sizeof ing->gaps_key, "%s%s", ing->prefix, SS_GAPS_KEY);
    for (int i = 0; i < SS_GAP_REASONS; i++) {
        char labels[48];
        snprintf(labels, sizeof labels, "reason=\"%s\"", ss_gap_reasons[i]);
        ing->m_gaps[i] = ss_metric_get("skyspool_source_gaps_total", SS_METRIC_COUNTER,
                                       "gaps the source reported (stretches the upstream did not deliver), stored in "
                                       "<prefix>gaps", labels);
    }
    for (int i = 0; i < 4; i++) {
        char labels[48];
        snprintf(labels, sizeof labels, "result=\"%s\"", ss_ingest_sig_results[i]);
        ing->m_sig[i] = ss_metric_get("skyspool_source_signatures_total", SS_METRIC_COUNTER,
                                      "firehose commits by signature check (verify-signatures): verified, bad "
                                      "(to the DLQ), no_key and resolve_failed (both passed unchecked)", labels);
    }
    snprintf(ing->state_key, sizeof ing->state_key, "%singest", ing->prefix);
    ing->backoff_seed = (uint64_t)ss_wall_us() ^ ((uint64_t)getpid() << 32);
    return ing;
}

void ss_ingest_free(ss_ingest *ing) {
    if (!ing) return;
    for (int i = 0; i < MAX_IN_FLIGHT + 1; i++)
        for (int j = 0; j < SS_INGEST_MAX_CONNECTIONS; j++) part_free(&ing->ring[i].p[j]);
    for (int j = 0; j < SS_INGEST_MAX_CONNECTIONS; j++) part_free(&ing->retry.p[j]);
    close_all(ing);
    ss_decoder_free(ing->dec);
    pthread_mutex_destroy(&ing->mu);
    free(ing);
}

const char *const ss_ingest_sig_results[4] = {"verified", "bad", "no_key", "resolve_failed"};

const char *ss_ingest_errstr(const ss_ingest *ing) { return ing->errstr; }
ss_err_class ss_ingest_errclass(const ss_ingest *ing) { return ing->err > 0 ? ing->err : SS_ERR_IO; }

void ss_ingest_get_stats(ss_ingest *ing, ss_ingest_stats *out) {
    pthread_mutex_lock(&ing->mu);
    *out = ing->st;
    pthread_mutex_unlock(&ing->mu);
}

/* Flushes everything in flight (and pending re-sends), then stores cursor and state.
 * Returns OK, E_IO (caller recovers and calls again), E_STOP or E_FATAL. */
static int finish(ss_ingest *ing, const char *state) {
    for (int tries = 0;; tries++) {
        int rc = drain(ing);
        if (rc != OK) return rc;
        if (batch_entries(&ing->retry, ing->nconn) == 0) break;
        if (*ing->stop && tries > 0) return E_STOP; /* refused again and asked to stop: cursor stays behind */
        if (ing->oom_pending && (rc = pause_until_low(ing, "oom")) != OK) return rc;
        if ((rc = resend_retry(ing)) != OK) return rc;
    }
    write_state_now(ing, state, NULL);
    for (int i = 0; i < ing->nconn; i++)
        if (!ing->c[i] || ing->c[i]->err) return E_IO;
    return OK;
}

static void publish_read(ss_ingest *ing, uint64_t nread, uint64_t skipped) {
    pthread_mutex_lock(&ing->mu);
    ing->st.read += nread;
    ing->st.other_skipped += skipped;
    pthread_mutex_unlock(&ing->mu);
    if (skipped) ss_metric_add(ing->m_other, (double)skipped);
}

/* Backpressure and re-sends: drain, pause if asked, re-send refused entries. */
static int settle(ss_ingest *ing) {
    int rc = drain(ing);
    if (rc == OK && (ing->oom_pending || ing->pause_wanted))
        rc = pause_until_low(ing, ing->oom_pending ? "oom" : "high_watermark");
    if (rc == OK && batch_entries(&ing->retry, ing->nconn)) rc = resend_retry(ing);
    if (rc == OK && ing->count) rc = drain(ing);
    return rc;
}

/* A source error: sources may be usable again after a seek, so retry a few times from the
 * cursor after the last message before giving up. Returns 1 when the source was re-seeked. */
static int retry_source(ss_ingest *ing) {
    if (ing->src_errors >= SOURCE_RETRIES || !ing->has_last_msg_cursor) return 0;
    ss_warn("ingest", "source %s failed (%s); retrying from cursor %lld", ing->src->id, ing->src->errstr,
            (long long)ing->last_msg_cursor);
    ss_sleep_ms(200 << ing->src_errors);
    if (ss_source_seek(ing->src, ing->last_msg_cursor) != 0) return 0;
    ing->src_errors++;
    return 1;
}

/* Reads one batch from the source into the next ring slot and sends it. */
static int read_and_send(ss_ingest *ing, int *src_state) {
    batch *b = ring_at(ing, ing->count);
    batch_reset(b, ing->nconn);
    if (add_controls(ing, b) != 0 || batch_begin_data(b, ing->nconn) != 0) goto oom;
    int64_t deadline = ss_mono_ms() + ing->o.flush_ms;
    uint64_t nread = 0, skipped0 = ing->skipped_local;
    /* wait up to 200 ms for a first entry, then only for what is left of flush_ms (the
     * clock is read every 32 messages, not per message) */
    int timeout = 200, timed = 0, n = 0, idle = 0;
    while (n < ing->o.batch_events) {
        ss_source_msg m;
        int r = ss_source_next(ing->src, &m, timeout);
        if (ing->src->link.live) publish_link(ing);
        if (r == SS_SOURCE_GAP) { /* stored like an entry: the cursor after it waits for its reply */
            ing->src_errors = 0;
            ing->last_msg_cursor = m.cursor;
            ing->has_last_msg_cursor = 1;
            b->has_cursor = 1;
            b->end_cursor = m.cursor;
            if (add_gap(ing, b, m.gap, m.cursor) != 0) goto oom;
            n = batch_entries(b, ing->nconn);
            continue;
        }
        if (r == SS_SOURCE_MSG) {
            nread++;
            ing->nread_total++;
            ing->src_errors = 0;
            ing->last_msg_cursor = m.cursor;
            ing->has_last_msg_cursor = 1;
            if (add_message(ing, b, &m) != 0) goto oom;
            n = batch_entries(b, ing->nconn);
            if (batch_bytes(b, ing->nconn) >= BATCH_MAX_BYTES) break;
            if (ing->o.max_events && ing->nread_total >= (uint64_t)ing->o.max_events) {
                *src_state = SRC_END;
                break;
            }
            if (n && (!timed || (nread & 31) == 0)) {
                int64_t left = deadline - ss_mono_ms();
                if (left <= 0) break;
                timeout = (int)left;
                timed = 1;
            }
        } else if (r == SS_SOURCE_AGAIN) {
            idle = n == 0; /* quiet for the whole first wait, not a gap at a batch's deadline */
            break;
        } else if (r == SS_SOURCE_END) {
            *src_state = SRC_END;
            break;
        } else if (retry_source(ing)) {
            break;
        } else {
            snprintf(ing->errstr, sizeof ing->errstr, "source %.500s: %.1279s", ing->src->id, ing->src->errstr);
            ing->err = ing->src->err > 0 ? (ss_err_class)ing->src->err : SS_ERR_IO;
            *src_state = SRC_FAILED;
            break;
        }
        if (*ing->stop) break;
    }
    publish_read(ing, nread, ing->skipped_local - skipped0);
    /* A quiet source (nothing for 200 ms): what is in flight is collected now, so the confirmed
     * cursor and the counters (state hash, /metrics) catch up; otherwise the last batches
     * before a lull would wait for batches_in_flight more sends, one per heartbeat. A busy
     * source keeps its pipeline: its batches end at the deadline or the size, never here. */
    if (batch_bytes(b, ing->nconn) == 0 && !b->has_cursor) return idle ? drain(ing) : OK;
    ing->count++;
    int rc = send_batch(ing, b);
    if (rc == OK) check_high_watermark(ing);
    while (rc == OK && ing->count >= ing->o.batches_in_flight) rc = collect_oldest(ing);
    if (rc == OK && idle) rc = drain(ing);
    return rc;
oom:
    snprintf(ing->errstr, sizeof ing->errstr, "out of memory formatting a batch");
    return E_FATAL;
}

int ss_ingest_run(ss_ingest *ing, ss_source *src, volatile sig_atomic_t *stop) {
    static volatile sig_atomic_t never = 0;
    ing->src = src;
    ing->stop = stop ? stop : &never;
    ing->errstr[0] = '\0';
    ing->err = SS_ERR_NONE;
    ss_ingest_cursor_key(ing->prefix, src->id, ing->cursor_key, sizeof ing->cursor_key);
    ing->legacy_key[0] = '\0';
    if (src->legacy_id[0] && strcmp(src->legacy_id, src->id))
        ss_ingest_cursor_key(ing->prefix, src->legacy_id, ing->legacy_key, sizeof ing->legacy_key);

    int rc = connect_redis(ing);
    if (rc != OK) return rc == E_STOP ? 0 : -1;
    /* where to start; a connection lost meanwhile is retried like any outage */
    int nr, found = 0;
    int64_t stored = 0;
    char fp[SS_SOURCE_FINGERPRINT_MAX];
    while ((nr = load_newest(ing)) < 0 || (!ing->o.ignore_cursor && (found = load_cursor(ing, &stored, fp)) < 0)) {
        if (found == E_FATAL) return -1; /* a permission error */
        close_all(ing);
        if ((rc = connect_redis(ing)) != OK) return rc == E_STOP ? 0 : -1;
    }
    ing->newest_stored = nr;
    if (!ing->o.ignore_cursor && found == 1) {
        int sr = seek_to(ing, stored, fp);
        if (sr < 0) {
            ss_warn("ingest", "%s has a stored cursor %lld but cannot seek (%s); reading from its start",
                    src->id, (long long)stored, src->errstr);
        } else if (sr == 0) {
            ing->start_cursor = stored - src->resume_margin;
            ing->has_start_cursor = 1;
            snprintf(ing->start_fp, sizeof ing->start_fp, "%s", fp);
            ing->confirmed_cursor = stored;
            ing->has_confirmed = 1;
            ing->cursor_written = 1;
            ing->cursor_ours = 1;
        }
    } else if (ing->o.ignore_cursor) {
        start_horizon_check(ing);
    }
    char shards[48] = "";
    if (ing->nshards > 1) snprintf(shards, sizeof shards, ", %d shards per type", ing->nshards);
    ss_info("ingest", "ingesting %s into %s (prefix %s, %d connection%s)%s", src->id,
            ss_redis_target_describe(ing->target), ing->prefix, ing->nconn, ing->nconn == 1 ? "" : "s", shards);

    int src_state = SRC_OPEN;
    for (;;) {
        while (src_state == SRC_OPEN && !*ing->stop) {
            if (ing->oom_pending || ing->pause_wanted || batch_entries(&ing->retry, ing->nconn)) rc = settle(ing);
            else rc = read_and_send(ing, &src_state);
            /* a connection lost again while recovering is recovered again, until a stop */
            while (rc == E_IO && !*ing->stop) rc = recover(ing);
            if (rc != OK) break;
            if (ing->rewound) { /* the source was rewound: anything it ended with is read again */
                ing->rewound = 0;
                if (src_state == SRC_END) src_state = SRC_OPEN;
            }
        }
        if (rc == OK)
            rc = finish(ing, src_state == SRC_FAILED ? "failed" : (*ing->stop ? "stopped" : "done"));
        if (rc == E_IO && !*ing->stop) {
            while ((rc = recover(ing)) == E_IO && !*ing->stop) {}
            if (rc == OK) {
                if (ing->rewound) {
                    ing->rewound = 0;
                    if (src_state == SRC_END) src_state = SRC_OPEN;
                }
                continue;
            }
        }
        break;
    }
    if (ing->old_resent) {
        char t[32], before[32];
        fmt_time(ing->oldest_resent, t);
        fmt_time(ing->horizon_before, before);
        ss_warn("ingest", "--from-start re-sent %llu events from before %s (the dedup horizon), the oldest from %s: "
                "those a writer already committed may be in the archive twice",
                (unsigned long long)ing->old_resent, before, t);
    }
    pthread_mutex_lock(&ing->mu);
    ing->st.past_horizon = ing->old_resent;
    pthread_mutex_unlock(&ing->mu);
    if (rc == E_FATAL || src_state == SRC_FAILED) return -1;
    if (ing->lost) { /* everything else was sent; these cannot be */
        snprintf(ing->errstr, sizeof ing->errstr,
                 "Redis lost up to %llu of the events this ingester had buffered (it restarted without them); %.300s "
                 "cannot be re-read, so they are lost: re-run with the input as a file to recover them",
                 (unsigned long long)ing->lost, unrereadable_name(src));
        return -1;
    }
    if (rc == E_STOP || (rc == E_IO && *ing->stop)) {
        ss_warn("ingest", "stopped before everything was confirmed; the next run resumes at the stored cursor");
        return 0;
    }
    if (rc == E_IO) { /* not a clean end: never report it as one */
        if (!ing->errstr[0]) snprintf(ing->errstr, sizeof ing->errstr, "lost the Redis connection and could not recover");
        return -1;
    }
    return 0;
}
