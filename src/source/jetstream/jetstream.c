/* jetstream:URL — Bluesky's Jetstream (JSON events over WebSocket).
 *
 * The transport (reconnects, backoff, stall detection, fragment reassembly, bounded
 * queue with TCP backpressure) is ss_ws_client; this file only speaks Jetstream:
 *
 *   - the request: the user's URL plus wantedCollections (the archived types unless
 *     configured or already in the URL; "*" asks for every collection; identity and
 *     account always come), compress=true
 *     when asked, and cursor=<time_us> when resuming;
 *   - the cursor: each event's time_us, read with a cheap top-level peek. After a seek
 *     the request carries the caller's cursor (margin already applied); after a
 *     connection loss we resume ourselves from the last delivered time_us minus
 *     resume_margin, as Jetstream's docs advise (duplicates are removed downstream).
 *     Newer Jetstreams add an integer "cursor" to each event, the instance's own exact
 *     position: when the last event carried one, a reconnect to the same instance asks
 *     for exactly it (no rewind, no overlap). The cursor handed to consumers (and stored)
 *     stays time_us, which any instance understands;
 *   - wanted-dids: up to 10,000 DIDs do not fit a URL, so the request carries
 *     requireHello=true and every connection starts with an options_update message (the
 *     request's collections and size limit plus the DIDs: an update replaces the whole
 *     filter). A DID file is looked at once a second and a changed set sent again on the
 *     open connection; a file that stops reading, or empties, keeps the set in use (an
 *     empty list would mean every DID);
 *   - compress=true: each binary message is one zstd frame made with Jetstream's
 *     dictionary, digested once;
 *   - retention clamping: Jetstream silently starts at its oldest event when a cursor is
 *     older than its window, so the first event of each connection is compared with
 *     the cursor requested; a gap is logged, counted and handed on as an SS_SOURCE_GAP
 *     message just before that event.
 *
 * Failover: the argument may be a comma-separated list of endpoints
 * (jetstream:wss://a/subscribe,wss://b/subscribe). One is used at a time; when a connection
 * attempt fails or a connection stalls, the next one takes over, asked for the last
 * delivered time_us minus the margin (time_us means the same on every instance; an
 * event's own "cursor" does not, so it is not carried). The stored cursor is therefore
 * keyed by the logical stream, "jetstream:<path>", not by the host: switching instances,
 * or listing another, resumes where the archive is. The old host-keyed id is offered as
 * legacy_id, read once on upgrade.
 *
 * Messages it cannot turn into JSON (over the size limit, bad zstd) are still handed
 * on, with bad_reason set, for the dead-letter stream. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "proto/js_proto.h"
#include "net/ws_client.h"
#include "net/ws_url.h"
#include "net/zdict.h"
#include "source/source.h"
#include "source/ws_source.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/clock.h"

#define JS_DEFAULT_URL "wss://jetstream2.us-east.bsky.network/subscribe"
#define JS_RESUME_MARGIN_US (5 * 1000000LL)    /* rewind on resume, as Jetstream's docs advise */
#define JS_CLAMP_GAP_US (60 * 1000000LL)
#define JS_FUTURE_US (3600 * 1000000LL)        /* time_us further ahead of the clock: not a cursor */       /* first event this far past the cursor: clamped */
#define JS_DLQ_CAP (64 * 1024)                 /* raw bytes kept for a dead-letter entry */
#define JS_MAX_ENDPOINTS 16                    /* in a failover list */
#define JS_DIDS_FILE_MAX (16u * 1024 * 1024)   /* a wanted-dids file: 10,000 DIDs with room for comments */
#define JS_DIDS_CHECK_MS 1000                  /* how often a wanted-dids file is looked at for changes */

typedef struct {
    char *url;
    ss_buf base;             /* path + query without cursor */
} js_endpoint;

typedef struct {
    ss_ws_client *ws;
    js_endpoint ep[JS_MAX_ENDPOINTS];
    size_t nep, cur;         /* endpoints; the one in use */
    ss_source_opts so;       /* client options for switching */
    uint64_t seen_failures, seen_stalls, switches;
    ss_buf base;             /* the current endpoint's path + query without cursor */
    ss_zdict *zd;            /* compress=true */
    ss_buf out;              /* decompressed message */
    size_t max_bytes;
    int64_t seek_cursor;     /* cursor given to seek(); -1 = live */
    int64_t last_time_us;    /* last delivered time_us since the seek; -1 = none */
    int64_t last_exact;      /* the last delivered event's own "cursor" field; -1 = none */
    uint64_t exact_resumes;  /* reconnects that asked for an exact cursor */
    int64_t requested;       /* cursor of the current connection's request; -1 = live */
    uint64_t clamped;        /* connections whose first event came well after the cursor */
    const char *id;          /* the source's id, for gap reports */
    ss_ws_gapq gaps_q;       /* a clamp detected on the message in `held` */
    ss_source_msg held;      /* that message, handed on right after its gap */
    int has_held;
    uint64_t bad;            /* messages handed on as bad */
    /* wanted-dids: sent in an options_update after each connect (requireHello=true holds
     * events back until it arrives), and again when the file changes */
    ss_js_dids dids;         /* empty: no DID filter */
    char *dids_path;         /* the file they came from; NULL for a list */
    struct timespec dids_mtime;
    off_t dids_size;
    ino_t dids_ino;
    int64_t dids_checked_ms;
    uint64_t options_updates;/* options_update messages sent */
} js_source;

static int js_path(void *ud, ss_buf *path) {
    js_source *js = ud;
    if (js->last_exact >= 0) { /* the instance's own position: resume exactly */
        js->requested = -1;     /* not a time: no clamp check */
        js->exact_resumes++;
        return ss_ws_source_path(path, &js->base, js->last_exact);
    }
    int64_t cur = js->last_time_us >= 0 ? js->last_time_us - JS_RESUME_MARGIN_US : js->seek_cursor;
    if (cur < 0 && js->last_time_us >= 0) cur = 0;
    js->requested = cur;
    return ss_ws_source_path(path, &js->base, cur);
}

/* Reads the wanted-dids file into out (finished). 0, or -1 with err. st: its stat. */
static int read_dids_file(const char *path, ss_js_dids *out, struct stat *st, char *err, size_t errlen) {
    FILE *f = fopen(path, "rb");
    if (!f) return snprintf(err, errlen, "wanted-dids: cannot open (%s): %s", strerror(errno), path), -1;
    int rc = -1;
    char *text = NULL;
    if (fstat(fileno(f), st) != 0) {
        snprintf(err, errlen, "wanted-dids: cannot stat %s: %s", path, strerror(errno));
        goto out;
    }
    if (st->st_size > (off_t)JS_DIDS_FILE_MAX) {
        snprintf(err, errlen, "wanted-dids: %s is over %u bytes", path, JS_DIDS_FILE_MAX);
        goto out;
    }
    text = malloc((size_t)st->st_size + 1);
    if (!text) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    size_t n = fread(text, 1, (size_t)st->st_size, f);
    if (ferror(f)) {
        snprintf(err, errlen, "wanted-dids: cannot read %s", path);
        goto out;
    }
    char perr[200];
    if (ss_js_dids_parse(out, text, n, perr, sizeof perr) < 0) {
        snprintf(err, errlen, "wanted-dids: %s: %s", path, perr);
        goto out;
    }
    if (out->n == 0) {
        /* Jetstream reads an empty list as every DID: never let an emptied file mean that */
        snprintf(err, errlen, "wanted-dids: %s holds no DID", path);
        goto out;
    }
    rc = 0;
out:
    free(text);
    fclose(f);
    return rc;
}

static int collect_query(const char *key, const char *value, void *ctx) {
    void **c = ctx;
    ss_js_filter *colls = c[0];
    int64_t *max = c[1];
    char err[100];
    if (!strcmp(key, "wantedCollections") && strcmp(value, "*") != 0) ss_js_filter_add(colls, value, err, sizeof err);
    else if (!strcmp(key, "maxMessageSizeBytes")) *max = strtoll(value, NULL, 10);
    return 0;
}

/* The options_update for the current endpoint: its request's collections and size limit
 * (an options_update replaces the whole filter) plus the DIDs. */
static int build_options_update(js_source *js, ss_buf *msg) {
    ss_js_filter colls;
    ss_js_filter_init(&colls);
    int64_t max = 0;
    void *ctx[2] = {&colls, &max};
    const char *q = strchr(js->base.data, '?');
    if (q) ss_ws_query_each(q + 1, collect_query, ctx);
    int rc = ss_js_options_update(msg, &colls, &js->dids, max);
    ss_js_filter_free(&colls);
    return rc;
}

static int js_hello(void *ud, ss_buf *msg) {
    js_source *js = ud;
    if (js->dids.n == 0) return 0;
    if (build_options_update(js, msg) < 0) return -1;
    js->options_updates++;
    ss_info("jetstream", "sent options_update: %zu wanted DIDs", js->dids.n);
    return 0;
}

/* A wanted-dids file that changed is read again; a different set goes to the open
 * connection as an options_update (and to every later one through js_hello). A file that
 * no longer reads keeps the set in use, with a warning. */
static void check_dids_file(js_source *js) {
    if (!js->dids_path) return;
    int64_t now = ss_mono_ms();
    if (now - js->dids_checked_ms < JS_DIDS_CHECK_MS) return;
    js->dids_checked_ms = now;
    struct stat st;
    if (stat(js->dids_path, &st) != 0) return;
    if (st.st_mtim.tv_sec == js->dids_mtime.tv_sec && st.st_mtim.tv_nsec == js->dids_mtime.tv_nsec &&
        st.st_size == js->dids_size && st.st_ino == js->dids_ino)
        return;
    ss_js_dids nd;
    ss_js_dids_init(&nd);
    char err[300];
    if (read_dids_file(js->dids_path, &nd, &st, err, sizeof err) < 0) {
        ss_warn("jetstream", "%s; keeping the %zu DIDs in use", err, js->dids.n);
        ss_js_dids_free(&nd);
        js->dids_mtime = st.st_mtim, js->dids_size = st.st_size, js->dids_ino = st.st_ino;
        return;
    }
    js->dids_mtime = st.st_mtim, js->dids_size = st.st_size, js->dids_ino = st.st_ino;
    if (ss_js_dids_equal(&nd, &js->dids)) {
        ss_js_dids_free(&nd);
        return;
    }
    size_t was = js->dids.n;
    ss_js_dids_free(&js->dids);
    js->dids = nd;
    ss_buf msg;
    ss_buf_init(&msg);
    if (build_options_update(js, &msg) == 0) {
        int r = ss_ws_client_send_text(js->ws, msg.data, msg.len);
        if (r == 0) js->options_updates++;
        ss_info("jetstream", "wanted-dids changed (%zu DIDs, were %zu): %s", js->dids.n, was,
                r == 0 ? "sent options_update" : "the next connection asks for them");
    }
    ss_buf_free(&msg);
}

/* Builds the request path (without cursor) from the URL and the options into base. */
static int build_base(ss_source *s, js_source *js, ss_buf *base, const ss_ws_url *u, const ss_source_opts *opts,
                      int *compress) {
    int64_t url_cursor = -1;
    if (ss_ws_source_base(u->path, base, &url_cursor) < 0) return ss_source_fail(s, "out of memory");
    if (url_cursor >= 0 && js->seek_cursor < 0) js->seek_cursor = url_cursor;
    int all = opts->wanted_collections && !strcmp(opts->wanted_collections, "*");
    if (!all && !ss_ws_query_has(u->path, "wantedCollections")) {
        const char *list = opts->wanted_collections && *opts->wanted_collections ? opts->wanted_collections
                                                                                 : SS_JS_DEFAULT_COLLECTIONS;
        ss_js_filter f;
        ss_js_filter_init(&f);
        char err[200];
        if (ss_js_filter_add(&f, list, err, sizeof err) < 0) {
            ss_js_filter_free(&f);
            return ss_source_fail(s, "wanted collections: %s", err);
        }
        for (size_t i = 0; i < f.n; i++)
            if (ss_ws_query_add(base, "wantedCollections", f.items[i]) < 0) {
                ss_js_filter_free(&f);
                return ss_source_fail(s, "out of memory");
            }
        ss_js_filter_free(&f);
    }
    if (js->dids.n && !ss_ws_query_has(u->path, "requireHello") && ss_ws_query_add(base, "requireHello", "true") < 0)
        return ss_source_fail(s, "out of memory");
    *compress = opts->compress || strstr(u->path, "compress=true") != NULL;
    if (opts->compress && !ss_ws_query_has(u->path, "compress") &&
        ss_ws_query_add(base, "compress", "true") < 0)
        return ss_source_fail(s, "out of memory");
    return 0;
}

/* Splits "URL[,URL...]" at commas that start a new ws:// or wss:// URL (a query may hold
 * commas of its own). Returns the count, or -1 when there are too many. */
static int split_endpoints(const char *args, char **out, size_t max) {
    size_t n = 0;
    const char *p = args;
    while (*p) {
        const char *q = p, *next = NULL;
        for (;; q++) {
            q = strchr(q, ',');
            if (!q) break;
            if (!strncmp(q + 1, "ws://", 5) || !strncmp(q + 1, "wss://", 6)) {
                next = q + 1;
                break;
            }
        }
        size_t len = next ? (size_t)(next - 1 - p) : strlen(p);
        if (n == max) return -1;
        out[n] = strndup(p, len);
        if (!out[n]) return -1;
        n++;
        if (!next) break;
        p = next;
    }
    return (int)n;
}

static int connect_endpoint(ss_source *s, js_source *js, size_t i) {
    char err[256];
    ss_ws_client_free(js->ws);
    js->ws = NULL;
    js->cur = i;
    ss_buf_reset(&js->base);
    if (ss_buf_append(&js->base, js->ep[i].base.data, js->ep[i].base.len) < 0) return ss_source_fail(s, "out of memory");
    ss_ws_client_opts wo;
    ss_ws_source_client_opts(&wo, js->ep[i].url, &js->so);
    wo.max_message_bytes = js->max_bytes;
    wo.path_fn = js_path;
    wo.hello_fn = js_hello;
    wo.ud = js;
    wo.log_name = "jetstream";
    js->ws = ss_ws_client_new(&wo, err, sizeof err);
    if (!js->ws) return ss_source_fail(s, "%s", err);
    js->seen_failures = js->seen_stalls = 0;
    return 0;
}

static int js_open(ss_source *s, const char *args, const ss_source_opts *opts) {
    js_source *js = calloc(1, sizeof *js);
    if (!js) return ss_source_fail(s, "out of memory");
    s->impl = js;
    ss_buf_init(&js->base);
    ss_buf_init(&js->out);
    js->seek_cursor = -1;
    js->last_time_us = -1;
    js->last_exact = -1;
    js->requested = -1;
    js->so = *opts;
    js->so.zstd_dictionary = NULL; /* only used here, at open */
    js->max_bytes = opts->max_message_bytes ? opts->max_message_bytes : 2u * 1024 * 1024;
    ss_js_dids_init(&js->dids);
    if (opts->wanted_dids && *opts->wanted_dids) {
        char derr[300];
        if (!strncmp(opts->wanted_dids, "did:", 4)) { /* a list; anything else names a file */
            if (ss_js_dids_parse(&js->dids, opts->wanted_dids, strlen(opts->wanted_dids), derr, sizeof derr) < 0)
                return ss_source_fail(s, "wanted-dids: %s", derr);
        } else {
            struct stat st;
            if (read_dids_file(opts->wanted_dids, &js->dids, &st, derr, sizeof derr) < 0)
                return ss_source_fail(s, "%s", derr);
            if (!(js->dids_path = strdup(opts->wanted_dids))) return ss_source_fail(s, "out of memory");
            js->dids_mtime = st.st_mtim, js->dids_size = st.st_size, js->dids_ino = st.st_ino;
            js->dids_checked_ms = ss_mono_ms();
        }
    }
    char *urls[JS_MAX_ENDPOINTS] = {0};
    int n = split_endpoints(args && *args ? args : JS_DEFAULT_URL, urls, JS_MAX_ENDPOINTS);
    if (n < 0) {
        for (size_t i = 0; i < JS_MAX_ENDPOINTS && urls[i]; i++) free(urls[i]);
        return ss_source_fail(s, "at most %d endpoints in a failover list", JS_MAX_ENDPOINTS);
    }
    char err[256];
    int compress = 0;
    for (int i = 0; i < n; i++) {
        js->ep[i].url = urls[i];
        ss_buf_init(&js->ep[i].base);
        js->nep++;
        ss_ws_url u;
        if (ss_ws_url_parse(urls[i], &u, err, sizeof err) < 0)
            return ss_source_fail(s, "%s%s", n > 1 ? "endpoint: " : "", err);
        int c = 0;
        /* An explicit cursor in the URL is where to start, unless a seek says otherwise. */
        if (build_base(s, js, &js->ep[i].base, &u, opts, &c) < 0) return -1;
        compress |= c;
        if (i == 0) {
            /* The stored cursor belongs to the logical stream (any instance), not the host. */
            const char *q = strchr(u.path, '?');
            snprintf(s->id, sizeof s->id, "jetstream:%.*s", (int)(q ? (size_t)(q - u.path) : strlen(u.path)), u.path);
            ss_ws_source_id(s->legacy_id, sizeof s->legacy_id, "jetstream", &u);
        }
    }
    if (compress) {
        if (!opts->zstd_dictionary)
            return ss_source_fail(s, "compress=true needs Jetstream's zstd dictionary: set zstd-dictionary to its path "
                                     "(get it from the bluesky-social/jetstream repository, pkg/models/zstd_dictionary)");
        js->zd = ss_zdict_open(opts->zstd_dictionary, 0, err, sizeof err);
        if (!js->zd) return ss_source_fail(s, "%s", err);
    }
    js->id = s->id;
    s->cursor_name = "time_us";
    s->resume_margin = JS_RESUME_MARGIN_US;
    return connect_endpoint(s, js, 0);
}

/* Failover: after a failed attempt or a stall on this endpoint, the next one. */
static int maybe_switch(ss_source *s, js_source *js) {
    if (js->nep < 2) return 0;
    const ss_ws_client_stats *st = ss_ws_client_get_stats(js->ws);
    int failed = st->connect_failures > js->seen_failures, stalled = st->stalls > js->seen_stalls;
    js->seen_failures = st->connect_failures;
    js->seen_stalls = st->stalls;
    if (!failed && !stalled) return 0;
    size_t next = (js->cur + 1) % js->nep;
    js->switches++;
    js->last_exact = -1; /* an instance's own cursor means nothing to another */
    ss_warn("jetstream", "endpoint %zu of %zu %s; switching to %s, resuming at %s", js->cur + 1, js->nep,
            stalled ? "stalled" : "failed", js->ep[next].url,
            js->last_time_us >= 0 ? "the last time_us minus the margin" : "the same cursor");
    return connect_endpoint(s, js, next);
}

/* cursor: where the stream stood before this event (the gap message carries it). */
static void check_clamp(js_source *js, int64_t t, int64_t cursor) {
    if (js->requested < 0 || t < 0) return;
    if (t - js->requested > JS_CLAMP_GAP_US) {
        js->clamped++;
        ss_source_gap g = {js->id, "clamped_cursor", "time_us", js->requested, t - 1, 0,
                           "the first event came well after the cursor: clamped to the server's retention window"};
        ss_ws_gapq_push(&js->gaps_q, &g, cursor);
        ss_warn("jetstream",
                "asked for cursor %lld but the first event is %.1f s later (time_us %lld): the cursor is probably "
                "older than the server's retention window, and events in between are missing",
                (long long)js->requested, (double)(t - js->requested) / 1e6, (long long)t);
    }
}

static int js_next(ss_source *s, ss_source_msg *msg, int timeout_ms) {
    js_source *js = s->impl;
    if (js->has_held) { /* the event whose gap went first; its bytes are still the client's */
        js->has_held = 0;
        *msg = js->held;
        return SS_SOURCE_MSG;
    }
    check_dids_file(js);
    ss_ws_msg m;
    int rc = ss_ws_client_next(js->ws, &m, timeout_ms);
    ss_source_link_from_ws(s, js->ws);
    if (rc == SS_WS_AGAIN) return maybe_switch(s, js) < 0 ? SS_SOURCE_ERR : SS_SOURCE_AGAIN;
    if (rc == SS_WS_ERR) return ss_source_fail(s, "%s", ss_ws_client_errstr(js->ws));
    const char *data = (const char *)m.data;
    size_t len = m.len;
    const char *bad = NULL;
    if (m.truncated) {
        bad = "too_large";
    } else if (m.binary && js->zd) {
        if (ss_zdict_decompress(js->zd, m.data, m.len, &js->out, js->max_bytes, &bad) == 0) {
            data = js->out.data;
            len = js->out.len;
        }
    }
    ss_js_peek_result pk;
    if (!bad) {
        ss_js_peek(data, len, SS_JS_PEEK_CURSOR, &pk);
        if (pk.time_us >= 0 && pk.time_us <= ss_wall_us() + JS_FUTURE_US) {
            if (m.first_of_conn) check_clamp(js, pk.time_us, js->last_time_us >= 0 ? js->last_time_us : js->seek_cursor);
            js->last_time_us = pk.time_us;
        } /* an event dated far ahead (a misbehaving instance) is handed on, but does not become
           * the cursor: resuming there would ask for the future, i.e. live, and skip the gap */
        js->last_exact = pk.cursor; /* -1 when this event has none: fall back to time_us */
    }
    msg->cursor = js->last_time_us >= 0 ? js->last_time_us : js->seek_cursor;
    if (bad) {
        js->bad++;
        msg->bad_reason = bad;
        data = (const char *)m.data;
        len = m.len > JS_DLQ_CAP ? JS_DLQ_CAP : m.len;
    }
    msg->data = data;
    msg->len = len;
    if (js->gaps_q.n) { /* the gap first, so it is stored before a cursor passes it */
        js->held = *msg;
        js->has_held = 1;
        return ss_ws_gapq_pop(&js->gaps_q, msg);
    }
    return SS_SOURCE_MSG;
}

static int js_seek(ss_source *s, int64_t cursor) {
    js_source *js = s->impl;
    js->seek_cursor = cursor < 0 ? 0 : cursor;
    js->last_time_us = -1;
    js->last_exact = -1;
    js->has_held = 0;
    js->gaps_q.n = 0;
    ss_ws_client_reconnect(js->ws);
    return 0;
}

static void js_close(ss_source *s) {
    js_source *js = s->impl;
    if (!js) return;
    if (js->ws) {
        const ss_ws_client_stats *st = ss_ws_client_get_stats(js->ws);
        ss_info("jetstream",
                "closing: %llu messages, %llu connects, %llu disconnects, %llu stalls, %llu pauses, "
                "%llu clamped cursors, %llu exact-cursor resumes, %llu endpoint switches, %llu bad messages, "
                "%llu options_updates",
                (unsigned long long)st->messages, (unsigned long long)st->connects,
                (unsigned long long)st->disconnects, (unsigned long long)st->stalls, (unsigned long long)st->pauses,
                (unsigned long long)js->clamped, (unsigned long long)js->exact_resumes,
                (unsigned long long)js->switches, (unsigned long long)js->bad,
                (unsigned long long)js->options_updates);
    }
    ss_js_dids_free(&js->dids);
    free(js->dids_path);
    ss_ws_client_free(js->ws);
    ss_zdict_free(js->zd);
    for (size_t i = 0; i < js->nep; i++) {
        free(js->ep[i].url);
        ss_buf_free(&js->ep[i].base);
    }
    ss_buf_free(&js->base);
    ss_buf_free(&js->out);
    free(js);
    s->impl = NULL;
}

const ss_source_vtbl ss_source_jetstream = {
    .scheme = "jetstream",
    .usage = "jetstream:URL[,URL...]  Jetstream WebSocket (default " JS_DEFAULT_URL "); a list fails over; "
             "cursor = time_us",
    .open = js_open,
    .next = js_next,
    .seek = js_seek,
    .close = js_close,
};
