/* `check capacity`: how many hours of the live firehose the buffer holds. The prototype loaded
 * its "8-hour" buffer (2.7 M events) and read 78.5 % of a 2 GB maxmemory; this check does the
 * same with the real ingester (src/buffer/ingest.c, the path `skyspool ingest` takes, in its
 * pipelined batches) reading synth events into the check's prefix, and samples used_memory
 * throughout, so bytes per event is measured on the real entry shape, not estimated.
 *
 * Then it proves that what it measured is the data: a random sample of entries is read back
 * (random positions in random streams, weighted by length) and each one's value is compared
 * byte for byte with the synth line it came from, and its meta field with the dedup key and
 * time_us of that line. Which line an entry came from is found by its dedup key: the synth
 * stream is generated again (it is a pure function of seed and index) and indexed by key.
 *
 * Hours held at R events/s = (high watermark x maxmemory) / (bytes per event x R x 3600): the
 * ingester pauses at the high watermark (0.8), so that is the usable share. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "buffer/ingest.h"
#include "check/check.h"
#include "event/event.h"
#include "source/synth/synth.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/hash.h"

#define CAPACITY_HIGH_WATERMARK 0.8 /* the ingester's default: where it pauses */

void ss_check_capacity_opts_init(ss_check_capacity_opts *o) {
    memset(o, 0, sizeof *o);
    o->events = 2700000;
    o->sample = 1000;
    o->min_events_per_s = 1587;
    o->max_memory_pct = 80;
    o->stall_timeout_s = 30;
    o->seed = 5;
}

typedef struct {
    uint8_t key[16];
    uint32_t slot;
} keyslot;

static int cmp_ks(const void *a, const void *b) { return memcmp(a, b, 16); }

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

/* The sample: *checked entries read, *mismatched of them differ from their synth line. */
static int verify_sample(ss_check_env *e, const ss_check_capacity_opts *o, long long *checked, long long *mismatched,
                         long long *unknown, ss_check_report *r) {
    char args[96], err[256];
    snprintf(args, sizeof args, "events=%lld,seed=%llu", o->events, (unsigned long long)o->seed);
    ss_synth_params sp;
    ss_synth_params_init(&sp);
    if (ss_synth_params_parse(&sp, args, err, sizeof err) != 0 || ss_synth_params_check(&sp, err, sizeof err) != 0)
        return snprintf(e->errstr, sizeof e->errstr, "synth: %s", err), -1;
    ss_synth *g = ss_synth_new(&sp);
    keyslot *ks = malloc((size_t)o->events * sizeof *ks);
    ss_decoder *d = ss_decoder_new(NULL);
    ss_buf line;
    ss_buf_init(&line);
    int rc = -1;
    if (!g || !ks || !d) {
        snprintf(e->errstr, sizeof e->errstr, "out of memory");
        goto out;
    }
    long long nks = 0;
    for (long long i = 0; i < o->events; i++) {
        if ((i & 0x3ffff) == 0) {
            ss_check_progress(e, "capacity: indexing the input by dedup key: %lld / %lld", i, o->events);
            if (ss_check_stopped(e)) goto out;
        }
        if (ss_synth_line(g, i, &line, NULL) != 0) goto oom;
        ss_event ev;
        if (ss_decode(d, line.data, line.len, &ev) != SS_DECODE_OK) continue;
        ss_event_dedup_key(&ev, ks[nks].key);
        ks[nks++].slot = (uint32_t)i;
    }
    qsort(ks, (size_t)nks, sizeof *ks, cmp_ks);
    /* stream lengths: the sample is spread over them by length */
    long long len[SS_TYPE__COUNT] = {0}, total = 0;
    char key[SS_TYPE__COUNT][192];
    long long first_ms[SS_TYPE__COUNT], last_ms[SS_TYPE__COUNT];
    for (int t = 0; t < SS_TYPE__COUNT; t++) {
        ss_ingest_stream_key(e->prefix, (ss_type)t, key[t], sizeof key[t]);
        redisReply *x = ss_check_cmd(e, "XINFO STREAM %s", key[t]);
        first_ms[t] = last_ms[t] = 0;
        if (!x) continue; /* no such stream */
        for (size_t j = 0; j + 1 < x->elements; j += 2) {
            const char *k = x->element[j]->str;
            redisReply *v = x->element[j + 1];
            if (!strcmp(k, "length")) len[t] = v->integer;
            if (!strcmp(k, "first-entry") && v->type == REDIS_REPLY_ARRAY && v->elements == 2)
                first_ms[t] = atoll(v->element[0]->str);
            if (!strcmp(k, "last-entry") && v->type == REDIS_REPLY_ARRAY && v->elements == 2)
                last_ms[t] = atoll(v->element[0]->str);
        }
        freeReplyObject(x);
        total += len[t];
    }
    if (total == 0) {
        snprintf(e->errstr, sizeof e->errstr, "no entries to read back");
        goto out;
    }
    uint64_t seed;
    if (getrandom(&seed, sizeof seed, 0) != (ssize_t)sizeof seed) seed = (uint64_t)ss_check_now();
    ss_check_input_num(r, "sample_seed", (double)(seed & ((1ULL << 52) - 1)));
    seed &= (1ULL << 52) - 1;
    *checked = *mismatched = *unknown = 0;
    int want = o->sample;
    for (int n = 0; n < want * 4 && *checked < want; n++) {
        long long pick = (long long)(ss_splitmix64(&seed) % (uint64_t)total);
        int t = 0;
        while (t < SS_TYPE__COUNT - 1 && pick >= len[t]) pick -= len[t++];
        /* a random position: an id between the stream's first and last entry */
        long long span = last_ms[t] - first_ms[t] + 1;
        long long ms = first_ms[t] + (long long)(ss_splitmix64(&seed) % (uint64_t)(span > 0 ? span : 1));
        redisReply *x = ss_check_cmd(e, "XRANGE %s %lld + COUNT 1", key[t], ms);
        if (!x) goto out;
        if (x->type != REDIS_REPLY_ARRAY || x->elements != 1) {
            freeReplyObject(x);
            continue;
        }
        redisReply *ent = x->element[0];
        redisReply *f = ent->elements == 2 ? ent->element[1] : NULL;
        if (!f || f->elements != 2) {
            (*checked)++;
            (*mismatched)++;
            freeReplyObject(x);
            continue;
        }
        const char *meta = f->element[0]->str;
        keyslot probe;
        int ok = f->element[0]->len > 33;
        for (int i = 0; ok && i < 16; i++) {
            int hi = hexval(meta[2 * i]), lo = hexval(meta[2 * i + 1]);
            if (hi < 0 || lo < 0) ok = 0;
            else probe.key[i] = (uint8_t)(hi << 4 | lo);
        }
        keyslot *hit = ok ? bsearch(&probe, ks, (size_t)nks, sizeof *ks, cmp_ks) : NULL;
        (*checked)++;
        if (!hit) {
            (*unknown)++;
            (*mismatched)++;
            freeReplyObject(x);
            continue;
        }
        if (ss_synth_line(g, hit->slot, &line, NULL) != 0) {
            freeReplyObject(x);
            goto oom;
        }
        ss_event ev;
        char want_meta[SS_EVENT_META_MAX];
        size_t ml = 0;
        if (ss_decode(d, line.data, line.len, &ev) == SS_DECODE_OK) ml = ss_event_meta_format(probe.key, ev.time_us, want_meta);
        int same = f->element[1]->len == line.len && !memcmp(f->element[1]->str, line.data, line.len) &&
                   ml == f->element[0]->len && !memcmp(want_meta, meta, ml);
        if (!same) (*mismatched)++;
        freeReplyObject(x);
    }
    rc = 0;
    goto out;
oom:
    snprintf(e->errstr, sizeof e->errstr, "out of memory");
out:
    ss_buf_free(&line);
    if (d) ss_decoder_free(d);
    free(ks);
    if (g) ss_synth_free(g);
    return rc;
}

int ss_check_capacity(ss_check_env *e, const ss_check_capacity_opts *o, ss_check_report *r) {
    ss_check_input_num(r, "events", (double)o->events);
    ss_check_input_num(r, "sample", o->sample);
    ss_check_input_num(r, "min_events_per_s", o->min_events_per_s);
    ss_check_input_num(r, "max_memory_pct", o->max_memory_pct);
    ss_check_input_num(r, "seed", (double)o->seed);
    if (o->events > 0xffffffffLL) return snprintf(e->errstr, sizeof e->errstr, "--events: at most 4294967295"), -1;
    long long maxmem = 0, used0 = 0;
    if (ss_check_info_ll(e, "memory", "maxmemory", &maxmem) != 0 || ss_check_info_ll(e, "memory", "used_memory", &used0) != 0)
        return -1;
    if (maxmem <= 0) {
        ss_check_note(r, "Redis has no maxmemory: percentages and hours are of 2 GiB");
        maxmem = 2LL << 30;
    }
    ss_check_input_num(r, "maxmemory_bytes", (double)maxmem);
    char spec[96];
    snprintf(spec, sizeof spec, "synth:events=%lld,seed=%llu", o->events, (unsigned long long)o->seed);
    ss_check_ingester it;
    if (ss_check_ingester_start(e, &it, spec, 0) != 0) return -1;
    ss_check_series *s_mem = ss_check_series_new(r, "used_memory_pct", "%");
    ss_check_series *s_rate = ss_check_series_new(r, "load_events_per_s", "events/s");
    double t0 = ss_check_now(), last_t = t0, last_progress = t0, peak = (double)used0;
    uint64_t last_w = 0;
    int stalled = 0, interrupted = 0;
    ss_ingest_stats st;
    while (!ss_check_ingester_done(&it)) {
        ss_sleep_us(250000);
        double t = ss_check_now();
        ss_ingest_get_stats(it.ing, &st);
        long long used = 0;
        if (ss_check_info_ll(e, "memory", "used_memory", &used) == 0) {
            if ((double)used > peak) peak = (double)used;
            ss_check_series_add(s_mem, t - t0, 100.0 * (double)used / (double)maxmem);
        }
        if (t > last_t) ss_check_series_add(s_rate, t - t0, (double)(st.written - last_w) / (t - last_t));
        if (st.written != last_w) last_progress = t;
        last_w = st.written;
        last_t = t;
        ss_check_progress(e, "capacity: loading through the ingester: %llu / %lld events, %.1f %% of maxmemory",
                          (unsigned long long)st.read, o->events, 100.0 * (double)used / (double)maxmem);
        if (ss_check_stopped(e)) {
            interrupted = 1;
            break;
        }
        if (t - last_progress > o->stall_timeout_s) {
            stalled = 1;
            break;
        }
    }
    double load_s = ss_check_now() - t0;
    if (ss_check_ingester_stop(e, &it, &st) != 0) return -1;
    long long used1 = 0;
    if (ss_check_info_ll(e, "memory", "used_memory", &used1) != 0) return -1;
    if ((double)used1 > peak) peak = (double)used1;
    if (interrupted) {
        r->interrupted = 1;
        return 0;
    }
    long long entries = (long long)(st.written + st.dlq);
    double per_event = entries > 0 ? (double)(used1 - used0) / (double)entries : 0;
    double usable = CAPACITY_HIGH_WATERMARK * (double)maxmem;
    double hours1k = per_event > 0 ? usable / per_event / 1000.0 / 3600.0 : 0;
    double hours2k = per_event > 0 ? usable / per_event / 2000.0 / 3600.0 : 0;
    double rate = load_s > 0 ? (double)st.written / load_s : 0;
    ss_check_figure_add(r, "load_events_read", (double)st.read, "events");
    ss_check_figure_add(r, "load_entries_written", (double)st.written, "entries");
    ss_check_figure_add(r, "load_dlq_entries", (double)st.dlq, "entries");
    ss_check_figure_add(r, "load_other_skipped", (double)st.other_skipped, "events");
    ss_check_figure_add(r, "load_pauses", (double)st.pauses, "pauses");
    ss_check_figure_add(r, "load_s", load_s, "s");
    ss_check_figure_add(r, "load_events_per_s", rate, "events/s");
    ss_check_figure_add(r, "used_memory_before_bytes", (double)used0, "bytes");
    ss_check_figure_add(r, "used_memory_after_bytes", (double)used1, "bytes");
    ss_check_figure_add(r, "peak_used_memory_pct", 100.0 * peak / (double)maxmem, "%");
    ss_check_figure_add(r, "bytes_per_event", per_event, "bytes");
    ss_check_figure_add(r, "event_bytes_per_event", st.written ? (double)st.bytes / (double)st.written : 0, "bytes");
    ss_check_figure_add(r, "buffer_events_at_high_watermark", per_event > 0 ? usable / per_event : 0, "events");
    ss_check_figure_add(r, "buffer_hours_at_1000_per_s", hours1k, "h");
    ss_check_figure_add(r, "buffer_hours_at_2000_per_s", hours2k, "h");
    long long checked = 0, mism = 0, unknown = 0;
    if (verify_sample(e, o, &checked, &mism, &unknown, r) != 0) {
        if (ss_check_stopped(e)) {
            r->interrupted = 1;
            return 0;
        }
        return -1;
    }
    ss_check_figure_add(r, "sample_entries_checked", (double)checked, "entries");
    ss_check_figure_add(r, "sample_mismatched", (double)mism, "entries");
    ss_check_figure_add(r, "sample_unknown_key", (double)unknown, "entries");

    ss_check_criterion_add(r, "all_events_loaded", SS_CMP_EQ, (double)o->events,
                           (double)(st.written + st.dlq + st.other_skipped), "events",
                           stalled ? "the load stopped making progress (the ingester paused at its high watermark: the "
                                     "buffer cannot hold --events; raise --maxmemory)"
                                   : "the ingester did not confirm every event it read");
    ss_check_criterion_add(r, "load_events_per_s", SS_CMP_GE, o->min_events_per_s, rate, "events/s",
                           "the ingester loaded slower than the threshold: it could not catch up after an outage");
    ss_check_criterion_add(r, "peak_used_memory_pct", SS_CMP_LE, o->max_memory_pct, 100.0 * peak / (double)maxmem, "%",
                           "the load filled Redis past the threshold: the buffer holds less than --events");
    ss_check_criterion_add(r, "sample_entries_checked", SS_CMP_GE, o->sample, (double)checked, "entries",
                           "fewer entries than --sample could be read back");
    ss_check_criterion_add(r, "sample_mismatched", SS_CMP_EQ, 0, (double)mism, "entries",
                           "an entry read back differs from the event that went in (or has a key no input event has)");
    ss_check_note(r, "hours = %.0f %% of maxmemory (the ingester's high watermark) / bytes_per_event / rate",
                  CAPACITY_HIGH_WATERMARK * 100);
    return 0;
}
