#!/usr/bin/env bash
# A live source that cannot connect says where and why, on every retry line: host:port and
# the cause (DNS, refused, TLS, the HTTP status of a refused upgrade). Offline: a closed
# loopback port, a name under .invalid (RFC 6761: never resolves), a loopback HTTP server
# answering 404 or 503 to the upgrade, and wss:// to that plain-TCP server. Also: a bare
# `--source jetstream` (the default endpoint) is accepted by cat and record, as by
# ingest and run.
source "$SKYSPOOL_SRC/tests/lib/harness.sh"
B=$SKYSPOOL_BIN

# retry_line NAME URL: runs `cat --source URL` until its first retry line, prints that line.
retry_line() {
  local log="$SS_TMP/$1.log"
  "$B" cat --source "$2" --limit 1 > /dev/null 2> "$log" &
  local pid=$!
  SS_PIDS+=("$pid")
  ss_wait_for 15 grep -q 'reconnecting in' "$log" || true
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  grep -m1 'reconnecting in' "$log" || echo "(no retry line; log: $(head -c 300 "$log"))"
}

closed=$(ss_free_port)
line=$(retry_line refused "jetstream:ws://127.0.0.1:$closed/subscribe")
ss_check "refused: host:port and cause ($line)" grep -q "cannot connect to 127.0.0.1:$closed: TCP: Connection refused" <<< "$line"

line=$(retry_line dns "jetstream:ws://nonexistent.invalid:6008/subscribe")
ss_check "DNS: host:port and cause ($line)" grep -q "cannot connect to nonexistent.invalid:6008: DNS: cannot resolve 'nonexistent.invalid'" <<< "$line"

# A loopback HTTP server that refuses every upgrade with the status given.
http_refuser() {
  python3 - "$1" "$2" <<'PY' &
import socket, sys
port, code = int(sys.argv[1]), sys.argv[2]
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port))
s.listen(16)
while True:
    c, _ = s.accept()
    try:
        c.recv(65536)
        c.sendall(("HTTP/1.1 %s Refused\r\nContent-Length: 0\r\nConnection: close\r\n\r\n" % code).encode())
    except OSError:
        pass
    c.close()
PY
  SS_PIDS+=("$!")
  ss_wait_for 10 python3 -c "import socket; socket.create_connection(('127.0.0.1', $1)).close()"
}
for code in 404 503; do
  p=$(ss_free_port)
  http_refuser "$p" "$code"
  line=$(retry_line "http$code" "jetstream:ws://127.0.0.1:$p/subscribe")
  ss_check "HTTP $code: host:port and status ($line)" grep -q "handshake with 127.0.0.1:$p failed: upgrade refused: HTTP/1.1 $code" <<< "$line"
done
line=$(retry_line tls "firehose:wss://127.0.0.1:$p/xrpc/com.atproto.sync.subscribeRepos")
ss_check "TLS to a plain server: host:port and cause ($line)" grep -q "cannot connect to 127.0.0.1:$p: TLS handshake failed" <<< "$line"

# A bare scheme is its default endpoint everywhere. Offline it retries (and is stopped
# here), online it may even deliver: either way it is no usage error (exit 2).
for cmd in cat record; do
  args=(--source jetstream --limit 1)
  [ "$cmd" = record ] && args+=(--out "$SS_TMP/bare.jsonl")
  rc=0
  timeout -s TERM 3 "$B" "$cmd" "${args[@]}" > /dev/null 2> "$SS_TMP/bare-$cmd.log" || rc=$?
  ss_check "$cmd --source jetstream is accepted (exit $rc)" test "$rc" != 2
  ss_check "$cmd --source jetstream: no SCHEME:ARGS complaint" bash -c "! grep -q 'SCHEME:ARGS' '$SS_TMP/bare-$cmd.log'"
done
ss_done
