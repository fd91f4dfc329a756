/* `skyspool record`: capture a live source to a file, to replay later with
 * `skyspool replay-server` or to read with `cat --source frames:` / `file:`.
 *
 *   firehose:URL  -> a frames file: each binary message as received, a u32
 *                    little-endian length then the frame bytes (the frames: format);
 *   anything else -> JSONL, one event per line, exactly as the source yields it (for
 *                    jetstream:, the message text as received, never re-encoded).
 *
 * An output name ending in .zst is written as one zstd stream. Frames are recorded
 * raw, before any decoding, with the frames writer (src/frames/frames.h), so a capture is a faithful corpus even of frames the
 * decoder rejects; the firehose cursor (seq) is peeked from each frame so that a
 * reconnect resumes where the capture stopped.
 *
 * A JSONL capture of jetstream: is faithful too: the source resumes a lost connection 5 s
 * before the last event (Jetstream's advice, for the ingester, whose writer removes the
 * repeats), but a capture has no writer behind it, so the repeats are recognised here (by
 * the event's own "cursor" when it carries one, else by time_us, unique and increasing on
 * one instance) and recorded once. Messages that cannot be lines are not dropped: they go,
 * raw, to OUT.rejects. The limit defaults to replay-server's longest line (8 MiB) rather
 * than the ingester's 2 MiB, so what was received can be served again whole. After a
 * failover to another instance time_us is that instance's, so the overlap there is only as
 * exact as the two instances' clocks. The file is flushed every second, and
 * SIGINT/SIGTERM end the capture cleanly (a .zst is finished properly). */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zstd.h>

#include "cli/cli.h"
#include "proto/frame_peek.h"
#include "proto/js_proto.h"
#include "replay/replay_input.h"
#include "net/ws_client.h"
#include "net/ws_url.h"
#include "frames/frames.h"
#include "source/source.h"
#include "source/ws_source.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/clock.h"

#define RECORD_MAX_FRAME SS_FRAMES_MAX_FRAME
#define RECORD_MAX_JSON SS_REPLAY_MAX_RECORD      /* JSONL default: what replay-server can serve back */
#define RECORD_FUTURE_US (3600 * 1000000LL)       /* time_us further ahead of the clock: not an overlap mark */
#define FIREHOSE_DEFAULT_URL "wss://bsky.network/xrpc/com.atproto.sync.subscribeRepos"

static const char g_help[] =
    "usage: skyspool record --source SRC --out FILE[.zst] [--limit N] [--duration DUR] [options]\n"
    "\n"
    "Captures a live source to a file. A firehose: source is written as a frames file\n"
    "(each frame as received: u32 little-endian length + frame bytes), readable with\n"
    "--source frames:FILE and servable with `skyspool replay-server --frames FILE`.\n"
    "Any other source (jetstream:, file:, synth:) is written as JSONL, one event per line.\n"
    "A FILE ending in .zst is zstd-compressed as a whole. Stop with Ctrl-C (SIGINT) or\n"
    "SIGTERM: the file is finished cleanly. Reconnects resume from the last cursor.\n"
    "\n"
    "options:\n"
    "  --source SRC              firehose:URL, jetstream:URL, ... (see `skyspool cat --help`)\n"
    "  --out FILE                output file (overwritten); '.zst' suffix = compressed\n"
    "  --limit N                 stop after N messages\n"
    "  --duration DUR            stop after this long, e.g. 10m\n"
    "  --cursor C                start at a cursor (firehose: seq, jetstream: time_us)\n"
    "  --wanted-collections L    jetstream: comma-separated NSIDs (default: the archived types)\n"
    "  --wanted-dids L|FILE      jetstream: only these DIDs (comma-separated, or a file of them)\n"
    "  --compress --zstd-dictionary PATH\n"
    "                            jetstream: ask for zstd-compressed messages (dictionary from the\n"
    "                            bluesky-social/jetstream repository, pkg/models/zstd_dictionary)\n"
    "  --connect-timeout DUR     default 10s\n"
    "  --read-timeout DUR        reconnect after this long without data, default 60s\n"
    "  --tls-ca-file PATH        extra CA certificate for wss://\n"
    "  --tls-insecure            accept any certificate (tests only)\n"
    "  --max-message-bytes SIZE  JSONL: longer messages are cut and kept in FILE.rejects\n"
    "                            (default 8mb, the longest line replay-server serves)\n"
    "\n"
    "JSONL captures are faithful: each message as received (decompressed with --compress),\n"
    "once: the events a reconnect repeats (Jetstream resumes 5 s early) are not recorded\n"
    "again. A message that cannot be a line (cut at the size limit, undecodable zstd) is kept\n"
    "raw in FILE.rejects (frames format: u32 LE length + bytes), made on the first one.\n"
    "\n"
    "examples:\n"
    "  skyspool record --source firehose:wss://bsky.network/xrpc/com.atproto.sync.subscribeRepos \\\n"
    "      --out capture.frames.zst --duration 10m   # [net]\n"
    "  skyspool record --source jetstream:wss://jetstream2.us-east.bsky.network/subscribe \\\n"
    "      --out sample.jsonl --limit 100000   # [net]\n"
    "  skyspool replay-server --frames capture.frames.zst --listen 127.0.0.1:6008   # [daemon]\n";

static volatile sig_atomic_t g_stop;
static void on_signal(int sig) {
    (void)sig;
    g_stop = 1;
}

/* ---- JSONL output: a plain or zstd byte sink ---------------------------------------------- */

typedef struct {
    FILE *f;
    ZSTD_CStream *zs;
    ss_buf zout;
    uint64_t bytes_in;
} sink;

static int sink_open(sink *k, const char *path, char *err, size_t errlen) {
    memset(k, 0, sizeof *k);
    ss_buf_init(&k->zout);
    k->f = fopen(path, "wb");
    if (!k->f) {
        snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
        return -1;
    }
    size_t n = strlen(path);
    if (n > 4 && !strcmp(path + n - 4, ".zst")) {
        k->zs = ZSTD_createCStream();
        if (!k->zs || ZSTD_isError(ZSTD_initCStream(k->zs, 3)) || ss_buf_reserve(&k->zout, ZSTD_CStreamOutSize()) < 0) {
            snprintf(err, errlen, "cannot start zstd compression");
            return -1;
        }
    }
    return 0;
}

static int zpump(sink *k, ZSTD_inBuffer *in, ZSTD_EndDirective mode) {
    for (;;) {
        ZSTD_outBuffer out = {k->zout.data, k->zout.cap - 1, 0};
        size_t rem = ZSTD_compressStream2(k->zs, &out, in, mode);
        if (ZSTD_isError(rem)) return -1;
        if (out.pos && fwrite(k->zout.data, 1, out.pos, k->f) != out.pos) return -1;
        if (mode == ZSTD_e_continue ? in->pos == in->size : rem == 0) return 0;
    }
}

static int sink_write(sink *k, const void *p, size_t n) {
    k->bytes_in += n;
    if (!k->zs) return fwrite(p, 1, n, k->f) == n ? 0 : -1;
    ZSTD_inBuffer in = {p, n, 0};
    return zpump(k, &in, ZSTD_e_continue);
}

static int sink_flush(sink *k, int end) {
    if (k->zs) {
        ZSTD_inBuffer in = {NULL, 0, 0};
        if (zpump(k, &in, end ? ZSTD_e_end : ZSTD_e_flush) < 0) return -1;
    }
    return fflush(k->f) == 0 ? 0 : -1;
}

static int sink_close(sink *k) {
    int rc = 0;
    if (k->f) {
        rc = sink_flush(k, 1);
        if (fclose(k->f) != 0) rc = -1;
    }
    ZSTD_freeCStream(k->zs);
    ss_buf_free(&k->zout);
    return rc;
}

/* ---- firehose: raw frames over ss_ws_client ----------------------------------------- */

typedef struct {
    ss_buf base;   /* path without cursor */
    int64_t seq;   /* last recorded seq, -1 = none */
} ss_fh_rec;

static int ss_fh_path(void *ud, ss_buf *path) {
    ss_fh_rec *r = ud;
    return ss_ws_source_path(path, &r->base, r->seq);
}

typedef struct {
    long long limit, deadline_ms;
    long long count, skipped;
    long long rejects, overlap; /* JSONL: kept in OUT.rejects; repeats skipped */
    unsigned long long bytes;
} run_state;


static int record_firehose(const char *url, const ss_source_opts *so, long long cursor, const char *out,
                           run_state *st) {
    const char *cmd = "record";
    ss_ws_url u;
    char err[512];
    if (ss_ws_url_parse(url, &u, err, sizeof err) < 0) return ss_usage_error(cmd, "firehose: %s", err);
    ss_frames_writer *w = ss_frames_writer_open(out, -1, err, sizeof err);
    if (!w) return ss_cmd_fail(cmd, "%s", err);
    ss_fh_rec r;
    ss_buf_init(&r.base);
    r.seq = cursor;
    if (ss_ws_query_strip(u.path, "cursor", &r.base) < 0) return ss_cmd_fail(cmd, "out of memory");
    ss_ws_client_opts wo;
    ss_ws_source_client_opts(&wo, url, so);
    wo.max_message_bytes = RECORD_MAX_FRAME;
    wo.path_fn = ss_fh_path;
    wo.ud = &r;
    wo.log_name = "record";
    ss_ws_client *ws = ss_ws_client_new(&wo, err, sizeof err);
    if (!ws) {
        ss_buf_free(&r.base);
        ss_frames_writer_close(w, err, sizeof err);
        return ss_cmd_fail(cmd, "%s", err);
    }
    int rc = 0;
    int64_t last_flush = ss_mono_ms();
    while (!g_stop && (st->limit < 0 || st->count < st->limit) && (!st->deadline_ms || ss_mono_ms() < st->deadline_ms)) {
        ss_ws_msg m;
        int n = ss_ws_client_next(ws, &m, 200);
        if (n == SS_WS_ERR) {
            rc = ss_cmd_fail(cmd, "%s", ss_ws_client_errstr(ws));
            break;
        }
        if (n == SS_WS_MSG) {
            if (!m.binary || m.truncated) {
                st->skipped++;
                ss_warn("record", "skipped a %s message of %zu bytes", m.truncated ? "too large" : "text", m.full_len);
            } else {
                if (ss_frames_writer_append(w, m.data, m.len) < 0) {
                    rc = ss_cmd_fail(cmd, "%s", ss_frames_writer_error(w));
                    break;
                }
                st->count++;
                st->bytes += m.len;
                ss_frame_peek_result fp;
                int ok = ss_frame_peek(m.data, m.len, &fp) == 0;
                if (ok && fp.seq > 0) r.seq = fp.seq; /* error frames carry no seq: the cursor stays */
                if (ok && fp.op == -1 && memmem(m.data, m.len, "FutureCursor", 12)) {
                    /* our cursor is ahead of the relay: only live goes on (the frame is kept) */
                    ss_source_gap g = {"record:firehose", "future_cursor", "seq", r.seq, -1, 0,
                                       "the relay says the cursor is in its future; reconnecting at live"};
                    ss_source_gap_report(&g);
                    r.seq = -1;
                }
            }
        }
        if (ss_mono_ms() - last_flush >= 1000) {
            last_flush = ss_mono_ms();
            if (ss_frames_writer_flush(w) < 0) {
                rc = ss_cmd_fail(cmd, "%s", ss_frames_writer_error(w));
                break;
            }
        }
    }
    ss_ws_client_free(ws);
    ss_buf_free(&r.base);
    if (ss_frames_writer_close(w, err, sizeof err) < 0 && rc == 0) rc = ss_cmd_fail(cmd, "cannot finish %s: %s", out, err);
    if (r.seq >= 0) ss_info("record", "last seq recorded: %lld", (long long)r.seq);
    return rc;
}

/* ---- any other source: JSONL ---------------------------------------------------------- */

/* jetstream: what was recorded already, to recognise the overlap a reconnect replays. */
typedef struct {
    int64_t max_time_us; /* the highest time_us recorded (not future-dated); -1 none */
    int64_t max_cursor;  /* the highest own "cursor" field recorded; -1 none */
} overlap;

/* 1 when this message was recorded already: a reconnect asked for the last time_us minus the
 * margin (or, when events carry one, exactly the last "cursor"), so its first events repeat
 * the tail of the capture. Jetstream's time_us is unique and increasing on one instance, so
 * anything at or before the highest one recorded is such a repeat. Records the rest. */
static int overlap_seen(overlap *o, const char *p, size_t n) {
    ss_js_peek_result pk;
    ss_js_peek(p, n, SS_JS_PEEK_CURSOR, &pk);
    if (pk.cursor >= 0 && o->max_cursor >= 0) {
        if (pk.cursor <= o->max_cursor) return 1;
    } else if (pk.time_us >= 0 && o->max_time_us >= 0 && pk.time_us <= o->max_time_us) {
        return 1;
    }
    if (pk.cursor > o->max_cursor) o->max_cursor = pk.cursor;
    /* an event dated far ahead (a misbehaving instance) must not hide what follows it */
    if (pk.time_us > o->max_time_us && pk.time_us <= ss_wall_us() + RECORD_FUTURE_US) o->max_time_us = pk.time_us;
    return 0;
}

/* Messages that cannot be a JSONL line (cut at the size limit, a compressed frame that did
 * not decompress, text holding a newline) go to OUT.rejects, a frames file of the raw bytes
 * (as much as the source kept), created on the first one: the capture keeps them. */
static int keep_reject(ss_frames_writer **rej, const char *out, const ss_source_msg *m, char *err, size_t errlen) {
    if (!*rej) {
        char path[4096];
        if (snprintf(path, sizeof path, "%s.rejects", out) >= (int)sizeof path) {
            snprintf(err, errlen, "output path too long");
            return -1;
        }
        if (!(*rej = ss_frames_writer_open(path, 0, err, errlen))) return -1;
        ss_warn("record", "messages that cannot be JSONL lines are kept, raw, in %s", path);
    }
    size_t n = m->len < SS_FRAMES_MAX_FRAME ? m->len : SS_FRAMES_MAX_FRAME; /* what frames readers accept */
    if (ss_frames_writer_append(*rej, m->data, n) < 0) {
        snprintf(err, errlen, "%s", ss_frames_writer_error(*rej));
        return -1;
    }
    return 0;
}

static int record_jsonl(const char *spec, const ss_source_opts *so, long long cursor, const char *out, sink *k,
                        run_state *st) {
    const char *cmd = "record";
    char err[512];
    int jetstream = !strncmp(spec, "jetstream", 9) && (spec[9] == ':' || !spec[9]);
    ss_source *s = ss_source_open(spec, so, err, sizeof err, NULL);
    if (!s) return ss_cmd_fail(cmd, "%s", err);
    if (cursor >= 0 && ss_source_seek(s, cursor) != 0) {
        int rc = ss_cmd_fail(cmd, "cannot start at cursor %lld: %s", cursor, s->errstr);
        ss_source_close(s);
        return rc;
    }
    int rc = 0;
    int64_t last_flush = ss_mono_ms(), last_cursor = cursor;
    overlap ov = {-1, -1};
    ss_frames_writer *rej = NULL;
    while (!g_stop && (st->limit < 0 || st->count < st->limit) && (!st->deadline_ms || ss_mono_ms() < st->deadline_ms)) {
        ss_source_msg m;
        int n = ss_source_next(s, &m, 200);
        if (n == SS_SOURCE_END) break;
        if (n == SS_SOURCE_ERR) {
            rc = ss_cmd_fail(cmd, "%s", s->errstr);
            break;
        }
        if (n == SS_SOURCE_MSG) {
            last_cursor = m.cursor;
            if (jetstream && overlap_seen(&ov, m.data, m.len)) {
                st->overlap++; /* a cut message peeks too: its time_us comes early */
            } else if (m.bad_reason || memchr(m.data, '\n', m.len)) {
                if (keep_reject(&rej, out, &m, err, sizeof err) < 0) {
                    rc = ss_cmd_fail(cmd, "%s", err);
                    break;
                }
                st->rejects++;
                ss_warn("record", "kept a message that is no JSONL line (%s, %zu bytes) at cursor %lld",
                        m.bad_reason ? m.bad_reason : "holds a newline", m.len, (long long)m.cursor);
            } else if (sink_write(k, m.data, m.len) < 0 || sink_write(k, "\n", 1) < 0) {
                rc = ss_cmd_fail(cmd, "write failed: %s", strerror(errno));
                break;
            } else {
                st->count++;
            }
        }
        if (ss_mono_ms() - last_flush >= 1000) {
            last_flush = ss_mono_ms();
            if (sink_flush(k, 0) < 0 || (rej && ss_frames_writer_flush(rej) < 0)) {
                rc = ss_cmd_fail(cmd, "write failed: %s", strerror(errno));
                break;
            }
        }
    }
    ss_source_close(s);
    if (rej && ss_frames_writer_close(rej, err, sizeof err) < 0 && rc == 0)
        rc = ss_cmd_fail(cmd, "cannot finish %s.rejects: %s", out, err);
    if (st->overlap)
        ss_info("record", "%lld events repeated by reconnects (the rewind margin) were recorded once", st->overlap);
    if (last_cursor >= 0) ss_info("record", "last cursor recorded: %lld", (long long)last_cursor);
    return rc;
}

enum { O_SOURCE = 1, O_OUT, O_LIMIT, O_DURATION, O_CURSOR, O_WANTED, O_COMPRESS, O_DICT, O_CTIMEOUT, O_RTIMEOUT,
       O_CAFILE, O_INSECURE, O_MAXMSG, O_DIDS };

int ss_cmd_record(int argc, char **argv) {
    static const struct option opts[] = {
        {"help", no_argument, 0, 'h'},
        {"source", required_argument, 0, O_SOURCE},
        {"out", required_argument, 0, O_OUT},
        {"limit", required_argument, 0, O_LIMIT},
        {"duration", required_argument, 0, O_DURATION},
        {"cursor", required_argument, 0, O_CURSOR},
        {"wanted-collections", required_argument, 0, O_WANTED},
        {"compress", no_argument, 0, O_COMPRESS},
        {"zstd-dictionary", required_argument, 0, O_DICT},
        {"connect-timeout", required_argument, 0, O_CTIMEOUT},
        {"read-timeout", required_argument, 0, O_RTIMEOUT},
        {"tls-ca-file", required_argument, 0, O_CAFILE},
        {"tls-insecure", no_argument, 0, O_INSECURE},
        {"max-message-bytes", required_argument, 0, O_MAXMSG},
        {"wanted-dids", required_argument, 0, O_DIDS},
        {0, 0, 0, 0},
    };
    const char *cmd = "record";
    ss_source_opts so;
    ss_source_opts_init(&so);
    so.max_message_bytes = RECORD_MAX_JSON; /* a capture keeps whole what replay-server can serve */
    const char *spec = NULL, *out = NULL;
    long long cursor = -1, v;
    run_state st = {-1, 0, 0, 0, 0, 0, 0};
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        switch (c) {
        case 'h': fputs(g_help, stdout); return 0;
        case O_SOURCE: spec = optarg; break;
        case O_OUT: out = optarg; break;
        case O_LIMIT:
            if (ss_parse_i64(optarg, 1, INT64_MAX, &st.limit) < 0)
                return ss_usage_error(cmd, "--limit wants a positive count, got '%s'", optarg);
            break;
        case O_DURATION:
            if (ss_parse_duration_ms(optarg, &v) < 0 || v < 1)
                return ss_usage_error(cmd, "--duration wants a duration such as 30s or 10m, got '%s'", optarg);
            st.deadline_ms = ss_mono_ms() + v;
            break;
        case O_CURSOR:
            if (ss_parse_i64(optarg, 0, INT64_MAX, &cursor) < 0)
                return ss_usage_error(cmd, "--cursor wants a whole number >= 0, got '%s'", optarg);
            break;
        case O_WANTED: so.wanted_collections = optarg; break;
        case O_COMPRESS: so.compress = 1; break;
        case O_DICT: so.zstd_dictionary = optarg; break;
        case O_CTIMEOUT:
        case O_RTIMEOUT:
            if (ss_parse_duration_ms(optarg, &v) < 0 || v < 1 || v > 86400000)
                return ss_usage_error(cmd, "--%s wants a duration such as 10s or 500ms, got '%s'",
                                      c == O_CTIMEOUT ? "connect-timeout" : "read-timeout", optarg);
            if (c == O_CTIMEOUT) so.connect_timeout_ms = (int)v;
            else so.read_timeout_ms = (int)v;
            break;
        case O_CAFILE: so.tls_ca_file = optarg; break;
        case O_INSECURE: so.tls_insecure = 1; break;
        case O_DIDS: so.wanted_dids = optarg; break;
        case O_MAXMSG:
            if (ss_parse_bytes(optarg, &v) != 0 || v < 1024 || v > (long long)RECORD_MAX_JSON)
                return ss_usage_error(cmd, "--max-message-bytes wants a size between 1kb and 8mb, got '%s'", optarg);
            so.max_message_bytes = (size_t)v;
            break;
        default: return ss_usage_error(cmd, "unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc) return ss_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    if (!spec) return ss_usage_error(cmd, "--source is required, e.g. --source firehose:wss://bsky.network/...");
    if (!out) return ss_usage_error(cmd, "--out FILE is required (add .zst to compress)");

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    /* a bare scheme ("firehose", "jetstream") is its default endpoint, as everywhere */
    int firehose = !strncmp(spec, "firehose", 8) && (spec[8] == ':' || !spec[8]);
    int rc;
    if (firehose) {
        const char *url = spec[8] && spec[9] ? spec + 9 : FIREHOSE_DEFAULT_URL;
        rc = record_firehose(url, &so, cursor, out, &st);
    } else {
        sink k;
        char err[512];
        if (sink_open(&k, out, err, sizeof err) < 0) {
            sink_close(&k);
            return ss_cmd_fail(cmd, "%s", err);
        }
        rc = record_jsonl(spec, &so, cursor, out, &k, &st);
        st.bytes = k.bytes_in;
        if (sink_close(&k) < 0 && rc == 0) rc = ss_cmd_fail(cmd, "cannot finish %s: %s", out, strerror(errno));
    }
    if (firehose)
        ss_info("record", "recorded %lld frames (%llu bytes before compression) to %s; %lld skipped", st.count,
                st.bytes, out, st.skipped);
    else
        ss_info("record", "recorded %lld events (%llu bytes before compression) to %s; %lld kept in %s.rejects, "
                "%lld repeats skipped", st.count, st.bytes, out, st.rejects, out, st.overlap);
    return rc;
}
