/* `skyspool record`: capture a live source to a file, to replay later with
 * `skyspool replay-server` or to read with `cat --source frames:` / `file:`.
 *
 *   firehose:URL  -> a frames file: each binary message as received, a u32
 *                    little-endian length then the frame bytes (the frames: format);
 *   anything else -> JSONL, one event per line, exactly as the source yields it.
 *
 * An output name ending in .zst is written as one zstd stream. Frames are recorded
 * raw, before any decoding, with the frames writer (src/source/frames/frames.h), so a capture is a faithful corpus even of frames the
 * decoder rejects; the firehose cursor (seq) is peeked from each frame so that a
 * reconnect resumes where the capture stopped. The file is flushed every second, and
 * SIGINT/SIGTERM end the capture cleanly (a .zst is finished properly). */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "cli/cli.h"
#include "net/frame_peek.h"
#include "net/ws_client.h"
#include "net/ws_url.h"
#include "source/frames/frames.h"
#include "source/source.h"
#include "source/ws_source.h"
#include "util/buf.h"
#include "util/log.h"

#define RECORD_MAX_FRAME SS_FRAMES_MAX_FRAME
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
    "  --compress --zstd-dictionary PATH\n"
    "                            jetstream: ask for zstd-compressed messages (dictionary from the\n"
    "                            bluesky-social/jetstream repository, pkg/models/zstd_dictionary)\n"
    "  --connect-timeout DUR     default 10s\n"
    "  --read-timeout DUR        reconnect after this long without data, default 60s\n"
    "  --tls-ca-file PATH        extra CA certificate for wss://\n"
    "  --tls-insecure            accept any certificate (tests only)\n"
    "\n"
    "examples:\n"
    "  skyspool record --source firehose:wss://bsky.network/xrpc/com.atproto.sync.subscribeRepos \\\n"
    "      --out capture.frames.zst --duration 10m\n"
    "  skyspool record --source jetstream:wss://jetstream2.us-east.bsky.network/subscribe \\\n"
    "      --out sample.jsonl --limit 100000\n"
    "  skyspool replay-server --frames capture.frames.zst --listen 127.0.0.1:6008\n";

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
} fh_rec;

static int fh_path(void *ud, ss_buf *path) {
    fh_rec *r = ud;
    return ss_ws_source_path(path, &r->base, r->seq);
}

typedef struct {
    long long limit, deadline_ms;
    long long count, skipped;
    unsigned long long bytes;
} run_state;

static int64_t now_ms(void) { return ss_ws_now_us() / 1000; }

static int record_firehose(const char *url, const ss_source_opts *so, long long cursor, const char *out,
                           run_state *st) {
    const char *cmd = "record";
    ss_ws_url u;
    char err[512];
    if (ss_ws_url_parse(url, &u, err, sizeof err) < 0) return ss_usage_error(cmd, "firehose: %s", err);
    ss_frames_writer *w = ss_frames_writer_open(out, -1, err, sizeof err);
    if (!w) return ss_cmd_fail(cmd, "%s", err);
    fh_rec r;
    ss_buf_init(&r.base);
    r.seq = cursor;
    if (ss_ws_query_strip(u.path, "cursor", &r.base) < 0) return ss_cmd_fail(cmd, "out of memory");
    ss_ws_client_opts wo;
    ss_ws_source_client_opts(&wo, url, so);
    wo.max_message_bytes = RECORD_MAX_FRAME;
    wo.path_fn = fh_path;
    wo.ud = &r;
    wo.log_name = "record";
    ss_ws_client *ws = ss_ws_client_new(&wo, err, sizeof err);
    if (!ws) {
        ss_buf_free(&r.base);
        ss_frames_writer_close(w, err, sizeof err);
        return ss_cmd_fail(cmd, "%s", err);
    }
    int rc = 0;
    int64_t last_flush = now_ms();
    while (!g_stop && (st->limit < 0 || st->count < st->limit) && (!st->deadline_ms || now_ms() < st->deadline_ms)) {
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
        if (now_ms() - last_flush >= 1000) {
            last_flush = now_ms();
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

static int record_jsonl(const char *spec, const ss_source_opts *so, long long cursor, sink *k, run_state *st) {
    const char *cmd = "record";
    char err[512];
    ss_source *s = ss_source_open(spec, so, err, sizeof err);
    if (!s) return ss_cmd_fail(cmd, "%s", err);
    if (cursor >= 0 && ss_source_seek(s, cursor) != 0) {
        int rc = ss_cmd_fail(cmd, "cannot start at cursor %lld: %s", cursor, s->errstr);
        ss_source_close(s);
        return rc;
    }
    int rc = 0;
    int64_t last_flush = now_ms(), last_cursor = cursor;
    while (!g_stop && (st->limit < 0 || st->count < st->limit) && (!st->deadline_ms || now_ms() < st->deadline_ms)) {
        ss_source_msg m;
        int n = ss_source_next(s, &m, 200);
        if (n == SS_SOURCE_END) break;
        if (n == SS_SOURCE_ERR) {
            rc = ss_cmd_fail(cmd, "%s", s->errstr);
            break;
        }
        if (n == SS_SOURCE_MSG) {
            last_cursor = m.cursor;
            if (m.bad_reason) {
                st->skipped++;
                ss_warn("record", "skipped a bad message (%s) at cursor %lld", m.bad_reason, (long long)m.cursor);
            } else if (sink_write(k, m.data, m.len) < 0 || sink_write(k, "\n", 1) < 0) {
                rc = ss_cmd_fail(cmd, "write failed: %s", strerror(errno));
                break;
            } else {
                st->count++;
            }
        }
        if (now_ms() - last_flush >= 1000) {
            last_flush = now_ms();
            if (sink_flush(k, 0) < 0) {
                rc = ss_cmd_fail(cmd, "write failed: %s", strerror(errno));
                break;
            }
        }
    }
    ss_source_close(s);
    if (last_cursor >= 0) ss_info("record", "last cursor recorded: %lld", (long long)last_cursor);
    return rc;
}

enum { O_SOURCE = 1, O_OUT, O_LIMIT, O_DURATION, O_CURSOR, O_WANTED, O_COMPRESS, O_DICT, O_CTIMEOUT, O_RTIMEOUT,
       O_CAFILE, O_INSECURE };

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
        {0, 0, 0, 0},
    };
    const char *cmd = "record";
    ss_source_opts so;
    ss_source_opts_init(&so);
    const char *spec = NULL, *out = NULL;
    long long cursor = -1, v;
    run_state st = {-1, 0, 0, 0, 0};
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
            st.deadline_ms = now_ms() + v;
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
        default: return ss_usage_error(cmd, "unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc) return ss_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    if (!spec) return ss_usage_error(cmd, "--source is required, e.g. --source firehose:wss://bsky.network/...");
    if (!out) return ss_usage_error(cmd, "--out FILE is required (add .zst to compress)");
    if (!strchr(spec, ':')) return ss_usage_error(cmd, "--source wants SCHEME:ARGS, got '%s'", spec);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    int firehose = !strncmp(spec, "firehose:", 9);
    int rc;
    if (firehose) {
        const char *url = spec[9] ? spec + 9 : FIREHOSE_DEFAULT_URL;
        rc = record_firehose(url, &so, cursor, out, &st);
    } else {
        sink k;
        char err[512];
        if (sink_open(&k, out, err, sizeof err) < 0) {
            sink_close(&k);
            return ss_cmd_fail(cmd, "%s", err);
        }
        rc = record_jsonl(spec, &so, cursor, &k, &st);
        st.bytes = k.bytes_in;
        if (sink_close(&k) < 0 && rc == 0) rc = ss_cmd_fail(cmd, "cannot finish %s: %s", out, strerror(errno));
    }
    ss_info("record", "recorded %lld %s (%llu bytes before compression) to %s; %lld skipped", st.count,
            firehose ? "frames" : "events", st.bytes, out, st.skipped);
    return rc;
}
