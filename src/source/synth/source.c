/* The `synth:` source: the synthetic generator behind the source interface.
 *
 * It yields exactly the lines `skyspool synth` prints for the same parameters (both use
 * ss_synth_line), one message per slot. The cursor is the index of the next slot, and
 * because every slot is a pure function of (parameters, index), seek is O(1): it just
 * moves the index. Lines over the message limit are reported as "too_large" with their
 * first 64 KiB, exactly as the file: source reports them.
 *
 * `pace=R` (source only, not part of the generator's parameters nor of the source id, so it
 * never changes the cursor key) makes it behave like a live feed: at most R messages per
 * wall-clock second, measured from the first message (or the last seek). Benchmarks use it to
 * offer a fixed load. Messages come in bursts of at most PACE_TICK_US's worth, as a live
 * feed's arrive in network reads: a sleep per message (or per millisecond) made the pacing
 * itself cost more CPU than the pipeline it fed at 2,000 messages a second (bench/live.sh). */
#include <errno.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "source/source.h"
#include "source/synth/synth.h"
#include "util/clock.h"

#define SYNTH_DEFAULT_MAX_MESSAGE (2u * 1024 * 1024)
#define SYNTH_BAD_CAP (64u * 1024)
#define PACE_TICK_US 10000 /* a message due within this is emitted now */

typedef struct {
    ss_synth_params p;
    ss_synth *g;
    int64_t next; /* slot to emit next */
    size_t max_message;
    ss_buf line;
    double pace;      /* messages per wall second; 0 = as fast as asked */
    int64_t pace_t0;  /* monotonic us of the pacing origin, 0 = not started */
    int64_t pace_base; /* slot emitted at pace_t0 */
} synth_src;

/* Removes "pace=R" from the comma-separated args (into out); 0, or -1 with err. */
static int take_pace(const char *args, char *out, size_t outlen, double *pace, char *err, size_t errlen) {
    *pace = 0;
    out[0] = '\0';
    size_t used = 0;
    for (const char *p = args ? args : ""; *p;) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n > 5 && !strncmp(p, "pace=", 5)) {
            char num[64], *end;
            if (n - 5 >= sizeof num) return snprintf(err, errlen, "pace: value too long"), -1;
            memcpy(num, p + 5, n - 5);
            num[n - 5] = '\0';
            errno = 0;
            *pace = strtod(num, &end);
            if (errno || *end || !(*pace > 0) || *pace > 1e8)
                return snprintf(err, errlen, "pace must be a number of messages per second in (0, 1e8], got '%s'", num), -1;
        } else if (n) {
            if (used + n + 2 > outlen) return snprintf(err, errlen, "synth arguments too long"), -1;
            if (used) out[used++] = ',';
            memcpy(out + used, p, n);
            used += n;
            out[used] = '\0';
        }
        p += n + (e ? 1 : 0);
    }
    return 0;
}

/* With pace: SS_SOURCE_MSG when the next slot is due (sleeping up to timeout_ms for it), or
 * SS_SOURCE_AGAIN. */
static int pace_wait(synth_src *ss, int timeout_ms) {
    if (!(ss->pace > 0)) return SS_SOURCE_MSG;
    int64_t now = ss_mono_us();
    if (!ss->pace_t0) {
        ss->pace_t0 = now;
        ss->pace_base = ss->next;
    }
    int64_t due = ss->pace_t0 + (int64_t)((double)(ss->next - ss->pace_base) * 1e6 / ss->pace);
    if (due - now <= PACE_TICK_US) return SS_SOURCE_MSG;
    int64_t wait = due - now, limit = (int64_t)(timeout_ms > 0 ? timeout_ms : 0) * 1000;
    if (wait > limit) {
        if (limit > 0) ss_sleep_us_full(limit);
        return SS_SOURCE_AGAIN;
    }
    ss_sleep_us_full(wait);
    return SS_SOURCE_MSG;
}

static int synth_open(ss_source *s, const char *args, const ss_source_opts *opts) {
    synth_src *ss = calloc(1, sizeof *ss);
    if (!ss) return ss_source_fail(s, "out of memory"), -1;
    s->impl = ss;
    ss_buf_init(&ss->line);
    ss_synth_params_init(&ss->p);
    char err[256], rest[1024];
    if (take_pace(args, rest, sizeof rest, &ss->pace, err, sizeof err) != 0) {
        ss_source_failc(s, SS_ERR_USAGE, "%s", err);
        return -1;
    }
    if (ss_synth_params_parse(&ss->p, rest, err, sizeof err) != 0) {
        ss_source_failc(s, SS_ERR_USAGE, "%s", err);
        return -1;
    }
    if (ss->p.events < 0) {
        ss_source_failc(s, SS_ERR_USAGE, "events=N is required, e.g. synth:events=100000,seed=7");
        return -1;
    }
    ss->g = ss_synth_new(&ss->p);
    if (!ss->g) return ss_source_fail(s, "out of memory"), -1;
    ss->max_message = opts && opts->max_message_bytes ? opts->max_message_bytes : SYNTH_DEFAULT_MAX_MESSAGE;
    char canon[400];
    ss_synth_params_canonical(&ss->p, canon, sizeof canon);
    snprintf(s->id, sizeof s->id, "synth:%s", canon);
    s->cursor_name = "index";
    s->resume_margin = 0;
    s->cursor_end = ss->p.events;
    return 0;
}

static int synth_next(ss_source *s, ss_source_msg *msg, int timeout_ms) {
    synth_src *ss = s->impl;
    if (ss->next >= ss->p.events) return SS_SOURCE_END;
    int due = pace_wait(ss, timeout_ms);
    if (due != SS_SOURCE_MSG) return due;
    if (ss_synth_line(ss->g, ss->next, &ss->line, NULL) != 0) return ss_source_fail(s, "out of memory");
    ss->next++;
    msg->data = ss->line.data;
    msg->len = ss->line.len;
    msg->cursor = ss->next;
    if (msg->len > ss->max_message) {
        msg->bad_reason = "too_large";
        if (msg->len > SYNTH_BAD_CAP) msg->len = SYNTH_BAD_CAP;
    }
    return SS_SOURCE_MSG;
}

static int synth_seek(ss_source *s, int64_t cursor) {
    synth_src *ss = s->impl;
    if (cursor < 0 || cursor > ss->p.events) {
        ss_source_fail(s, "cursor %lld is outside 0..%lld", (long long)cursor, (long long)ss->p.events);
        return -1;
    }
    ss->next = cursor;
    ss->pace_t0 = 0; /* pace again from here */
    return 0;
}

static void synth_close(ss_source *s) {
    synth_src *ss = s->impl;
    if (!ss) return;
    ss_synth_free(ss->g);
    ss_buf_free(&ss->line);
    free(ss);
    s->impl = NULL;
}

const ss_source_vtbl ss_source_synth = {
    .scheme = "synth",
    .usage = "synth:events=N[,seed=S,start=ISO,rate=R,dup=F,bad=F,jitter=F,jitter_us=U,other=F,oversize=1,pace=R]"
             "  the synthetic firehose (same lines as `skyspool synth`); pace=R: at most R per wall second",
    .open = synth_open,
    .next = synth_next,
    .seek = synth_seek,
    .close = synth_close,
};
