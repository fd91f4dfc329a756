#!/usr/bin/env bash
# replay-server's cursor seek: the time from connecting with a cursor near the end of a big
# JSONL input to the first event, as an ingester reconnecting after a Redis restart sees it.
# The 1-hour soak's replay-server read its 3.8 GB input from the start for every such
# reconnect, longer than the ingester's read timeout. LINES synth events (~527 bytes each)
# are written once; then for each cursor (FRAC of the way through the file's time span) a
# connection to ws://.../subscribe?cursor=C is timed to its first message, whose time_us is
# checked to be the first one >= C (node's WebSocket client, so that no client start-up is
# in the figure).
#   bench/replay_seek.sh      (LINES=.. FRACS=".5 .99" SKYSPOOL_BIN=.. to change)
set -euo pipefail
cd "$(dirname "$0")/.."
B=${SKYSPOOL_BIN:-$PWD/build/skyspool}
LINES=${LINES:-2000000}
FRACS=${FRACS:-".5 .99"}
tmp=${BENCH_TMP:-$(mktemp -d)}
SPID=
cleanup() { [ -n "$SPID" ] && kill "$SPID" 2>/dev/null; wait 2>/dev/null || true; [ -z "${BENCH_TMP:-}" ] && rm -rf "$tmp"; }
trap cleanup EXIT
in=$tmp/seek-$LINES.jsonl
[ -s "$in" ] || "$B" synth --events "$LINES" > "$in"
echo "input: $LINES lines, $(stat -c %s "$in") bytes"
first=$(head -n1 "$in" | python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["time_us"])')
last=$(tail -n1 "$in" | python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["time_us"])')
rm -f "$tmp/port"
"$B" replay-server --jsonl "$in" --listen 127.0.0.1:0 --port-file "$tmp/port" --log-level info 2> "$tmp/server.log" &
SPID=$!
until [ -s "$tmp/port" ]; do sleep 0.05; done
URL="ws://127.0.0.1:$(cat "$tmp/port")/subscribe"
for f in $FRACS; do
  c=$(python3 -c "print(int($first + $f * ($last - $first)))")
  # a bare WebSocket client (node's), timed from before connecting to the first message: a
  # skyspool client's own start-up would dominate the figure
  read -r secs got < <(node --experimental-websocket --no-warnings -e '
    const t0 = process.hrtime.bigint(), ws = new WebSocket(process.argv[1]);
    ws.onmessage = (m) => { console.log((Number(process.hrtime.bigint() - t0) / 1e9).toFixed(3), JSON.parse(m.data).time_us); process.exit(0); };
    ws.onerror = (e) => { console.error(e.message); process.exit(1); };' "$URL?cursor=$c")
  want=$(python3 - "$in" "$c" <<'PY'
import json, sys
c = int(sys.argv[2])
for line in open(sys.argv[1], "rb"):
    t = json.loads(line)["time_us"]
    if t >= c:
        print(t)
        break
PY
)
  ok=$([ "$got" = "$want" ] && echo "right event" || echo "WRONG: want $want")
  printf 'cursor at %s of the file: first event after %s s (time_us %s, %s)\n' "$f" "$secs" "$got" "$ok"
done
grep -o 'cursor given.*' "$tmp/server.log" | sed 's/^/  server: /' || true
