/* `skyspool replay-server`: serve a recorded JSONL or frames file, or an archive read back
 * (--archive: the archive: source), over WebSocket, as Jetstream or a relay would. Flag
 * parsing only; the server is src/replay/ws_server.c. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/cli_redis.h"
#include "replay/ws_server.h"
#include "util/log.h"

static const char g_help[] =
    "usage: skyspool replay-server --listen HOST:PORT (--jsonl FILE | --archive DIR | --frames FILE) [options]\n"
    "\n"
    "Serves a recorded file over WebSocket so any skyspool source (or other client) can\n"
    "consume it as if it were live. Loopback addresses are the intended use.\n"
    "\n"
    "  --jsonl FILE            Jetstream v1 events, one per line (FILE may be zstd-compressed);\n"
    "                          served on ws://HOST:PORT/subscribe with Jetstream's parameters:\n"
    "                          wantedCollections (NSID or prefix.*; identity/account always pass),\n"
    "                          cursor=<time_us> (first event with time_us >= cursor onwards),\n"
    "                          maxMessageSizeBytes, compress=true (needs --zstd-dictionary)\n"
    "  --archive DIR[?since=T&until=T&types=L]\n"
    "                          a skyspool archive read back in time order (the archive: source), served\n"
    "                          as --jsonl is: history replayed into any Jetstream consumer\n"
    "  --frames FILE           recorded firehose frames (u32 LE length + frame; FILE may be .zst),\n"
    "                          served on ws://HOST:PORT/xrpc/com.atproto.sync.subscribeRepos with\n"
    "                          cursor=<seq> (frames after that seq)\n"
    "  --listen HOST:PORT      address to listen on (default 127.0.0.1:0); port 0 picks a free port\n"
    "  --port-file FILE        write the port actually listened on to FILE once ready\n"
    "  --rate N                at most N messages per second per connection\n"
    "  --original-timing       pace messages as they were originally spaced (by time_us / frame time)\n"
    "                          (default: as fast as each client reads)\n"
    "  --tls-cert PEM --tls-key PEM\n"
    "                          serve wss:// instead of ws://\n"
    "  --close-after N         close each connection after N messages (code 1001), to test\n"
    "                          reconnects; the server keeps accepting new connections\n"
    "  --fragment BYTES        send each message as WebSocket fragments of at most BYTES (to test\n"
    "                          clients' reassembly); default: one frame per message\n"
    "  --zstd-dictionary FILE  Jetstream's zstd dictionary, for clients asking compress=true\n"
    "                          (bluesky-social/jetstream repository, pkg/models/zstd_dictionary)\n"
    "  --log-level LEVEL       debug, info, warn, error (default info)\n"
    "\n"
    "Protocol emulation (for testing clients against the upstreams' less common paths):\n"
    "  --history N             the first N records are the past: a connection without a cursor\n"
    "                          starts after them, at \"live\" (default: from the first record)\n"
    "  --window N              only the last N records are retained; an older cursor is clamped to\n"
    "                          the oldest retained one, silently, as Jetstream and the relay do\n"
    "  --outdated-cursor       frames: a cursor older than --window first gets #info OutdatedCursor\n"
    "  --future-cursor         frames: a cursor past the last seq gets an error frame FutureCursor,\n"
    "                          then the connection is closed, as the relay does\n"
    "  --seq-reset N:BASE      frames: from frame N+1 on, seqs restart at BASE (a relay reset); a\n"
    "                          cursor then refers to the new numbering\n"
    "  --ping-only DUR         send nothing but a WebSocket ping every DUR (e.g. 200ms): an upstream\n"
    "                          that stalled but keeps the connection alive\n"
    "A record with a top-level integer \"cursor\" (newer Jetstreams) is resumed by it: a request\n"
    "cursor C starts after the record whose cursor is C.\n"
    "\n"
    "At the end of the input a connection stays open and idle, like a quiet live stream.\n"
    "Stop the server with SIGINT or SIGTERM.\n"
    "\n"
    "examples:\n"
    "  skyspool replay-server --jsonl events.jsonl --listen 127.0.0.1:6008 &\n"
    "  skyspool cat --source jetstream:ws://127.0.0.1:6008/subscribe --limit 10\n"
    "\n"
    "  skyspool replay-server --archive 'archive?since=2025-08-07T10:00:00Z' --listen 127.0.0.1:6008 &\n"
    "\n"
    "  skyspool replay-server --frames capture.frames.zst --listen 127.0.0.1:0 --port-file port \\\n"
    "      --original-timing &\n"
    "  skyspool cat --source firehose:ws://127.0.0.1:$(cat port)/xrpc/com.atproto.sync.subscribeRepos \\\n"
    "      --limit 10\n";

static volatile sig_atomic_t g_stop;

/* "127.0.0.1:6008", "[::1]:6008", "localhost:6008" */
static int parse_listen(const char *s, char *host, size_t hostlen, int *port) {
    const char *colon;
    if (*s == '[') {
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':' || (size_t)(close - s - 1) >= hostlen) return -1;
        memcpy(host, s + 1, (size_t)(close - s - 1));
        host[close - s - 1] = '\0';
        colon = close + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon || (size_t)(colon - s) >= hostlen || colon == s) return -1;
        memcpy(host, s, (size_t)(colon - s));
        host[colon - s] = '\0';
        if (strchr(host, ':')) return -1; /* IPv6 needs brackets */
    }
    if (!strcmp(host, "localhost")) snprintf(host, hostlen, "127.0.0.1");
    long long p;
    if (ss_parse_i64(colon + 1, 0, 65535, &p) < 0) return -1;
    *port = (int)p;
    return 0;
}

static int write_port_file(const char *path, int port) {
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f) return -1;
    fprintf(f, "%d\n", port);
    if (fclose(f) != 0) return -1;
    return rename(tmp, path);
}

int ss_cmd_replay_server(int argc, char **argv) {
    static const struct option opts[] = {
        {"help", no_argument, 0, 'h'},
        {"listen", required_argument, 0, 'l'},
        {"jsonl", required_argument, 0, 'j'},
        {"frames", required_argument, 0, 'f'},
        {"archive", required_argument, 0, 'a'},
        {"rate", required_argument, 0, 'r'},
        {"original-timing", no_argument, 0, 'o'},
        {"tls-cert", required_argument, 0, 'c'},
        {"tls-key", required_argument, 0, 'k'},
        {"close-after", required_argument, 0, 'n'},
        {"port-file", required_argument, 0, 'p'},
        {"zstd-dictionary", required_argument, 0, 'z'},
        {"fragment", required_argument, 0, 'F'},
        {"log-level", required_argument, 0, 'L'},
        {"history", required_argument, 0, 'H'},
        {"window", required_argument, 0, 'W'},
        {"outdated-cursor", no_argument, 0, 'O'},
        {"future-cursor", no_argument, 0, 'U'},
        {"seq-reset", required_argument, 0, 'S'},
        {"ping-only", required_argument, 0, 'P'},
        {0, 0, 0, 0},
    };
    const char *cmd = "replay-server";
    ss_ws_replay_opts o;
    memset(&o, 0, sizeof o);
    char host[128] = "127.0.0.1";
    const char *port_file = NULL;
    static char archive_spec[4200];
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        switch (c) {
        case 'h':
            fputs(g_help, stdout);
            return 0;
        case 'l':
            if (parse_listen(optarg, host, sizeof host, &o.port) < 0)
                return ss_usage_error(cmd, "--listen wants HOST:PORT such as 127.0.0.1:6008 or [::1]:0, got '%s'",
                                      optarg);
            break;
        case 'j': o.jsonl_path = optarg; break;
        case 'f': o.frames_path = optarg; break;
        case 'a':
            if (snprintf(archive_spec, sizeof archive_spec, "archive:%s", optarg) >= (int)sizeof archive_spec)
                return ss_usage_error(cmd, "--archive: the argument is too long");
            o.source_spec = archive_spec;
            break;
        case 'r':
            if (ss_parse_double(optarg, 0.001, 1e9, &o.rate) < 0)
                return ss_usage_error(cmd, "--rate wants messages per second (a positive number), got '%s'", optarg);
            break;
        case 'o': o.original_timing = 1; break;
        case 'c': o.tls_cert = optarg; break;
        case 'k': o.tls_key = optarg; break;
        case 'n': {
            long long n;
            if (ss_parse_i64(optarg, 1, (long long)1e15, &n) < 0)
                return ss_usage_error(cmd, "--close-after wants a positive count of messages, got '%s'", optarg);
            o.close_after = (uint64_t)n;
            break;
        }
        case 'p': port_file = optarg; break;
        case 'F': {
            long long n;
            if (ss_parse_i64(optarg, 1, 1LL << 30, &n) < 0)
                return ss_usage_error(cmd, "--fragment wants a positive number of bytes, got '%s'", optarg);
            o.fragment = (size_t)n;
            break;
        }
        case 'z': o.zstd_dictionary = optarg; break;
        case 'H':
        case 'W': {
            long long n;
            if (ss_parse_i64(optarg, 1, (long long)1e15, &n) < 0)
                return ss_usage_error(cmd, "--%s wants a positive count of records, got '%s'",
                                      c == 'H' ? "history" : "window", optarg);
            if (c == 'H') o.history = (uint64_t)n;
            else o.window = (uint64_t)n;
            break;
        }
        case 'O': o.outdated_cursor = 1; break;
        case 'U': o.future_cursor = 1; break;
        case 'S': {
            long long n, base;
            const char *colon = strchr(optarg, ':');
            char nbuf[32];
            if (!colon || (size_t)(colon - optarg) >= sizeof nbuf)
                return ss_usage_error(cmd, "--seq-reset wants N:BASE such as 10:10, got '%s'", optarg);
            memcpy(nbuf, optarg, (size_t)(colon - optarg));
            nbuf[colon - optarg] = '\0';
            if (ss_parse_i64(nbuf, 1, (long long)1e15, &n) < 0 || ss_parse_i64(colon + 1, 1, INT64_MAX / 2, &base) < 0)
                return ss_usage_error(cmd, "--seq-reset wants N:BASE, two positive numbers such as 10:10, got '%s'",
                                      optarg);
            o.seq_reset_after = (uint64_t)n;
            o.seq_reset_base = base;
            break;
        }
        case 'P': {
            long long ms;
            if (ss_parse_duration_ms(optarg, &ms) < 0 || ms < 1 || ms > 3600000)
                return ss_usage_error(cmd, "--ping-only wants a duration such as 200ms or 5s, got '%s'", optarg);
            o.ping_only_ms = (int)ms;
            break;
        }
        case 'L': {
            int lvl = ss_log_parse_level(optarg);
            if (lvl < 0) return ss_usage_error(cmd, "--log-level wants debug, info, warn or error, got '%s'", optarg);
            ss_log_set_level((ss_log_level)lvl);
            break;
        }
        default:
            return ss_usage_error(cmd, "unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc) return ss_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    if (!!o.jsonl_path + !!o.frames_path + !!o.source_spec != 1)
        return ss_usage_error(cmd, "give exactly one of --jsonl FILE, --archive DIR or --frames FILE");
    if (!!o.tls_cert != !!o.tls_key) return ss_usage_error(cmd, "--tls-cert and --tls-key go together");
    if (o.rate > 0 && o.original_timing) return ss_usage_error(cmd, "choose one of --rate and --original-timing");
    if (!o.frames_path && (o.future_cursor || o.outdated_cursor || o.seq_reset_after))
        return ss_usage_error(cmd, "--future-cursor, --outdated-cursor and --seq-reset are firehose behaviours: use them "
                                   "with --frames");
    o.host = host;

    /* The stop signals are caught before the server is set up (opening an archive or a big
     * input takes a while): a SIGTERM that arrives then stops the server once it is up,
     * instead of being lost, e.g. when a non-interactive shell started it with SIGINT ignored. */
    ss_cli_stop_on_signals(&g_stop); /* a second signal ends it at once */

    char err[512];
    ss_ws_replay *srv = ss_ws_replay_new(&o, err, sizeof err);
    if (!srv) return ss_cmd_fail(cmd, "%s", err);
    int port = ss_ws_replay_port(srv);
    if (port_file && write_port_file(port_file, port) < 0) {
        ss_ws_replay_free(srv);
        return ss_cmd_fail(cmd, "cannot write --port-file %s: %s", port_file, strerror(errno));
    }
    int v6 = strchr(host, ':') != NULL;
    ss_info("replay-server", "serving %s on %s://%s%s%s:%d%s",
            o.jsonl_path ? o.jsonl_path : o.source_spec ? o.source_spec : o.frames_path,
            o.tls_cert ? "wss" : "ws", v6 ? "[" : "", host, v6 ? "]" : "", port,
            o.frames_path ? SS_REPLAY_FIREHOSE_PATH : SS_REPLAY_JETSTREAM_PATH);

    int rc = g_stop ? 0 : ss_ws_replay_run(srv, &g_stop);
    const ss_ws_replay_stats *st = ss_ws_replay_get_stats(srv);
    ss_info("replay-server", "stopping: %llu connections, %llu messages, %llu bytes sent",
            (unsigned long long)st->connections, (unsigned long long)st->messages, (unsigned long long)st->bytes);
    ss_ws_replay_free(srv);
    return rc == 0 ? 0 : ss_cmd_fail(cmd, "the WebSocket service loop failed");
}
