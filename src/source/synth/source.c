/* The `synth:` source: the synthetic generator behind the source interface.
 *
 * It yields exactly the lines `skyspool synth` prints for the same parameters (both use
 * ss_synth_line), one message per slot. The cursor is the index of the next slot, and
 * because every slot is a pure function of (parameters, index), seek is O(1): it just
 * moves the index. Lines over the message limit are reported as "too_large" with their
 * first 64 KiB, exactly as the file: source reports them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "source/source.h"
#include "source/synth/synth.h"

#define SYNTH_DEFAULT_MAX_MESSAGE (2u * 1024 * 1024)
#define SYNTH_BAD_CAP (64u * 1024)

typedef struct {
    ss_synth_params p;
    ss_synth *g;
    int64_t next; /* slot to emit next */
    size_t max_message;
    ss_buf line;
} synth_src;

static int synth_open(ss_source *s, const char *args, const ss_source_opts *opts) {
    synth_src *ss = calloc(1, sizeof *ss);
    if (!ss) return ss_source_fail(s, "out of memory"), -1;
    s->impl = ss;
    ss_buf_init(&ss->line);
    ss_synth_params_init(&ss->p);
    char err[256];
    if (ss_synth_params_parse(&ss->p, args, err, sizeof err) != 0) {
        ss_source_fail(s, "%s", err);
        return -1;
    }
    if (ss->p.events < 0) {
        ss_source_fail(s, "events=N is required, e.g. synth:events=100000,seed=7");
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
    return 0;
}

static int synth_next(ss_source *s, ss_source_msg *msg, int timeout_ms) {
    synth_src *ss = s->impl;
    if (ss->next >= ss->p.events) return SS_SOURCE_END;
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
    .usage = "synth:events=N[,seed=S,start=ISO,rate=R,dup=F,bad=F,jitter=F,jitter_us=U,other=F,oversize=1]"
             "  the synthetic firehose (same lines as `skyspool synth`)",
    .open = synth_open,
    .next = synth_next,
    .seek = synth_seek,
    .close = synth_close,
};
