#!/usr/bin/env bash
# Jetstream over a loopback WebSocket into Redis, against the file: source, same events,
# same run. Each run starts a fresh redis-server (AOF on, appendfsync everysec) on a free
# loopback port and runs `skyspool ingest` to completion:
#   - file:      ingest --source file:EVENTS.jsonl
#   - jetstream: replay-server --jsonl EVENTS.jsonl (as fast as the client reads) and
#                ingest --source jetstream:ws://127.0.0.1:PORT/subscribe --limit N
# Rates are events over wall seconds of the ingest process, and events per CPU-second of
# the ingester plus redis-server (the replay server is a separate process, as Jetstream
# would be, and is not counted). Median of RUNS runs each, interleaved; goal: jetstream
# >= 0.8x file. Writes bench/results/jetstream.md.
#   bench/jetstream_ws.sh [EVENTS] [RUNS]     (run by bench/run-all; default 300000 5)
set -euo pipefail
cd "$(dirname "$0")/.."
B=${SKYSPOOL_BIN:-$PWD/build/skyspool}
N=${1:-300000}
RUNS=${2:-5}
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
now() { date +%s.%N; }

# Only archived types, so both paths carry exactly the same events (Jetstream filters the
# others out at the server by default; file: would read and skip them).
nice "$B" synth --events "$N" --seed 3 --other-frac 0 > "$tmp/ev.jsonl"
bytes=$(stat -c %s "$tmp/ev.jsonl")

start_redis() {
  local port dir
  port=$(free_port)
  dir=$tmp/redis-$1
  rm -rf "$dir"; mkdir -p "$dir"
  redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" --save '' --appendonly yes \
    --appendfsync everysec --maxmemory-policy noeviction --daemonize no --logfile "$dir/log" &
  REDIS_PID=$!
  pids+=("$REDIS_PID")
  REDIS_PORT=$port
  for _ in $(seq 200); do redis-cli -p "$port" ping >/dev/null 2>&1 && return 0; sleep 0.05; done
  echo "redis did not start" >&2; exit 1
}
stop_redis() { redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true; wait "$REDIS_PID" 2>/dev/null || true; }

pf=$tmp/port
"$B" replay-server --jsonl "$tmp/ev.jsonl" --listen 127.0.0.1:0 --port-file "$pf" --log-level warn 2>"$tmp/replay.log" &
pids+=("$!")
for _ in $(seq 200); do [ -s "$pf" ] && break; sleep 0.05; done
WS="ws://127.0.0.1:$(cat "$pf")/subscribe"

# run_ingest NAME SRC [args]: one ingest into a fresh Redis; prints
# "wall_events_per_s cpu_events_per_s" where the CPU is the ingester's plus redis-server's.
run_ingest() {
  local name=$1 src=$2; shift 2
  start_redis "$name"
  local t0 t1 n tm rcpu
  local TIMEFORMAT='%U %S'
  t0=$(now)
  tm=$( { time nice "$B" ingest --source "$src" --redis "redis://127.0.0.1:$REDIS_PORT" --log-level warn --json "$@" \
    > "$tmp/$name.json" 2> "$tmp/$name.log"; } 2>&1 )
  t1=$(now)
  rcpu=$(redis-cli -p "$REDIS_PORT" info cpu | awk -F: '/^used_cpu_(user|sys):/ { s += $2 } END { print s }')
  n=0
  for t in post like repost follow block identity account; do
    n=$((n + $(redis-cli -p "$REDIS_PORT" xlen "skyspool:$t")))
  done
  stop_redis
  [ "$n" -eq "$N" ] || { echo "bench: $name stored $n of $N events" >&2; cat "$tmp/$name.log" >&2; exit 1; }
  awk -v n="$N" -v a="$t0" -v b="$t1" -v tm="$tm" -v r="$rcpu" \
    'BEGIN { split(tm, c, " "); printf "%.0f %.0f %.2f", n / (b - a), n / (c[1] + c[2] + r), c[1] + c[2] }'
}

file_wall=() file_cpu=() js_wall=() js_cpu=() file_icpu=() js_icpu=()
for i in $(seq "$RUNS"); do
  read -r w c ic <<<"$(run_ingest "file$i" "file:$tmp/ev.jsonl")"
  file_wall+=("$w"); file_cpu+=("$c"); file_icpu+=("$ic")
  read -r w c ic <<<"$(run_ingest "js$i" "jetstream:$WS" --limit "$N")"
  js_wall+=("$w"); js_cpu+=("$c"); js_icpu+=("$ic")
  echo "run $i: file ${file_wall[-1]} ev/s (${file_cpu[-1]} per CPU-s), jetstream ${js_wall[-1]} ev/s (${js_cpu[-1]} per CPU-s)" >&2
done
mfw=$(median "${file_wall[@]}"); mjw=$(median "${js_wall[@]}")
mfc=$(median "${file_cpu[@]}"); mjc=$(median "${js_cpu[@]}")
mfi=$(median "${file_icpu[@]}"); mji=$(median "${js_icpu[@]}")
rw=$(awk -v a="$mfw" -v b="$mjw" 'BEGIN { printf "%.2f", b / a }')
rc=$(awk -v a="$mfc" -v b="$mjc" 'BEGIN { printf "%.2f", b / a }')
verdict() { awk -v r="$1" 'BEGIN { print (r >= 0.8 ? "meets the goal" : "MISSES the goal") }'; }
load=$(cut -d' ' -f1-3 /proc/loadavg)

mkdir -p bench/results
{
  echo "## Jetstream over loopback WebSocket into Redis"
  echo
  echo "Command: \`bench/jetstream_ws.sh $N $RUNS\` (release build, \`nice\`). Corpus: \`skyspool synth --events $N"
  echo "--seed 3 --other-frac 0\`, $bytes bytes. Each run ingests all $N events into a fresh redis-server"
  echo "(AOF on, \`appendfsync everysec\`, loopback). Rates: events / wall seconds of \`skyspool ingest\`, and"
  echo "events per CPU-second of the ingester plus redis-server (from \`time\` and \`INFO cpu\`)."
  echo "The jetstream path reads from \`skyspool replay-server --jsonl\` (a separate process, as fast as the"
  echo "client reads) through \`--source jetstream:ws://127.0.0.1:PORT/subscribe\` with the default"
  echo "wantedCollections. Median of $RUNS interleaved runs each."
  echo
  echo "| source | wall events/s (median) | events per CPU-second of ingest + redis-server (median) | ingest CPU s (median) | wall runs | CPU runs |"
  echo "|---|---|---|---|---|---|"
  echo "| \`file:\` (peer) | $mfw | $mfc | $mfi | ${file_wall[*]} | ${file_cpu[*]} |"
  echo "| \`jetstream:\` over ws:// | $mjw | $mjc | $mji | ${js_wall[*]} | ${js_cpu[*]} |"
  echo
  echo "Ratio jetstream / file, wall clock: **$rw** ($(verdict "$rw") of 0.8); per CPU-second: **$rc** ($(verdict "$rc"))."
  echo "Load average during the run: $load on 2 cores. The wall-clock ratio also charges the jetstream"
  echo "path for the replay server, a third process competing for the same cores (a real Jetstream runs"
  echo "elsewhere); the CPU ratio compares what ingesting costs this machine."
} > bench/results/jetstream.md
cat bench/results/jetstream.md
