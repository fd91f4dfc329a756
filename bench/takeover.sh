#!/usr/bin/env bash
# A writer's takeover of a dead writer's pending entries, in entries/s (the 1-hour soak saw
# ~285/s: 77,687 entries in 273 s). EVENTS synth events (RATE per simulated second, so they
# span several windows) are ingested paced at PACE/s (so Redis ids spread over many
# milliseconds, like a live feed); a `write --once --all` is killed by a crash point after
# its SPILLS-th ledger commit, before acking it: its other entries stay pending next to its
# commits in the ledger.
# A second `write --once --all` takes it over; its "took over" log lines give the rate.
#   bench/takeover.sh        (EVENTS=.. PACE=.. SPILLS=.. RATE=.. SKYSPOOL_BIN=.. to change)
set -euo pipefail
cd "$(dirname "$0")/.."
B=${SKYSPOOL_BIN:-$PWD/build/skyspool}
EVENTS=${EVENTS:-150000}
PACE=${PACE:-20000}
SPILLS=${SPILLS:-6}
RATE=${RATE:-250}
tmp=$(mktemp -d)
RPID=
cleanup() { [ -n "$RPID" ] && kill "$RPID" 2>/dev/null; sleep 0.3; rm -rf "$tmp"; }
trap cleanup EXIT
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
mkdir -p "$tmp/redis"
redis-server --port "$PORT" --bind 127.0.0.1 --dir "$tmp/redis" --save '' --appendonly yes --appendfsync everysec \
  --maxmemory-policy noeviction --daemonize no --logfile "$tmp/redis/log" &
RPID=$!
until redis-cli -p "$PORT" ping >/dev/null 2>&1; do sleep 0.05; done
U=redis://127.0.0.1:$PORT
W=(--out "$tmp/arch" --data-dir "$tmp/dd" --redis "$U")
"$B" ingest --source "synth:events=$EVENTS,seed=5,start=2025-10-01T00:00:00Z,pace=$PACE,rate=$RATE" --redis "$U" --log-level error
set +e
SKYSPOOL_CRASH_AT=after_ledger:$SPILLS "$B" write "${W[@]}" --once --all --log-level error \
  >/dev/null 2>"$tmp/w0.err"
echo "first writer: exit $? (137 = killed by its crash point)"
set -e
t0=$(date +%s.%N)
"$B" write "${W[@]}" --once --all --log-level info >/dev/null 2>"$tmp/w1.err"
t1=$(date +%s.%N)
grep -m1 'is dead' "$tmp/w1.err" || { echo "no takeover happened" >&2; exit 1; }
# rate over the takeover: from the "is dead" line to the last "took over" line
python3 - "$tmp/w1.err" "$t0" "$t1" <<'PY'
import sys, re, datetime
ts = lambda l: datetime.datetime.strptime(l[:23], "%Y-%m-%dT%H:%M:%S.%f").timestamp()
lines = open(sys.argv[1]).read().splitlines()
dead = [l for l in lines if "is dead" in l]
took = [l for l in lines if "took over" in l]
n = sum(int(re.search(r"took over (\d+) pending", l).group(1)) for l in took)
span = ts(took[-1]) - ts(dead[0]) if took else 0
print(f"took over {n} entries in {span:.2f} s: {n / span if span > 0 else float('inf'):.0f} entries/s; "
      f"whole second run {float(sys.argv[3]) - float(sys.argv[2]):.1f} s")
PY
