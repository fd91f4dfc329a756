#!/usr/bin/env bash
# The DataWriter against its peer measured in the same run: the bare Redis Streams loop
# (bench/stream_loop.c: XREADGROUP COUNT 1000 + XACK + XDEL, no decoding, no Parquet) on the
# same redis-server (AOF everysec, noeviction).
#   1. drain: DRAIN buffered events (2.7M = the prototype's 8-hour test) -> Parquet, `write --once --all`
#   2. flush: one 5-minute window of FLUSH events (600,000 = twice the live peak), median of RUNS
#   3. end-to-end: `skyspool ingest` (unthrottled synth) and a `skyspool write` daemon together
#      for E2E_SECONDS (60; --full: 600), Redis maxmemory 1 GB: writer events/s, Redis memory
#      (peak share of maxmemory, first vs second half), writer peak RSS; against the producer +
#      consumer loop on the same Redis (the ceiling).
# Writes bench/results/writer.md.
#   bench/writer.sh [--full]        (DRAIN=.. FLUSH=.. RUNS=.. E2E_SECONDS=.. to change)
set -euo pipefail
cd "$(dirname "$0")/.."
B=${SKYSPOOL_BIN:-$PWD/build/skyspool}
DRAIN=${DRAIN:-2700000}
FLUSH=${FLUSH:-600000}
RUNS=${RUNS:-3}
E2E_SECONDS=${E2E_SECONDS:-60}
[ "${1:-}" = --full ] && E2E_SECONDS=600
tmp=$(mktemp -d)
load0=$(cut -d' ' -f1-3 /proc/loadavg)
RPID=
cleanup() { [ -n "$RPID" ] && kill "$RPID" 2>/dev/null; for p in ${BG:-}; do kill "$p" 2>/dev/null || true; done; sleep 0.3; rm -rf "$tmp"; }
trap cleanup EXIT
gcc -O2 -o "$tmp/stream_loop" bench/stream_loop.c -lhiredis -lpthread
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
mkdir -p "$tmp/redis"
redis-server --port "$PORT" --bind 127.0.0.1 --dir "$tmp/redis" --save '' --appendonly yes --appendfsync everysec \
  --maxmemory-policy noeviction --maxmemory 6gb --daemonize no --logfile "$tmp/redis/log" &
RPID=$!
until redis-cli -p "$PORT" ping >/dev/null 2>&1; do sleep 0.05; done
U=redis://127.0.0.1:$PORT
rc() { redis-cli -p "$PORT" "$@"; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
TYPES="post like repost follow block identity account"
reset() { rc FLUSHALL >/dev/null; rc BGREWRITEAOF >/dev/null; sleep 1; }
ingest() { nice "$B" ingest --source "$1" --redis "$U" --log-level error; }
peer_drain() { # consume every stream with the bare loop; prints seconds
  local t0 t1; t0=$(date +%s.%N)
  for t in $TYPES; do "$tmp/stream_loop" 127.0.0.1 "$PORT" consume "skyspool:$t" >/dev/null; done
  t1=$(date +%s.%N); awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f", b - a}'
}
timed_write() { # label: runs `write --once --all`, prints "wall user sys maxrss_kb"
  /usr/bin/time -f "%e %U %S %M" -o "$tmp/time.$1" nice "$B" write --out "$tmp/arch" --data-dir "$tmp/dd" \
    --redis "$U" --once --all --log-level warn > /dev/null
  cat "$tmp/time.$1"
}
fmt() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.0f", a / b}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }

# ---- 1. drain ------------------------------------------------------------------------------
echo "bench/writer: drain $DRAIN" >&2
reset; ingest "synth:events=$DRAIN,seed=1,start=2025-01-01T00:00:00Z,rate=94"
n_drain=$(for t in $TYPES; do rc XLEN "skyspool:$t"; done | awk '{s+=$1} END {print s}')
rm -rf "$tmp/arch" "$tmp/dd"
read -r d_wall d_user d_sys d_rss <<<"$(timed_write drain)"
files=$(find "$tmp/arch" -name '*.parquet' | wc -l); bytes=$(du -sb "$tmp/arch" | cut -f1)
reset; ingest "synth:events=$DRAIN,seed=1,start=2025-01-01T00:00:00Z,rate=94"
p_drain=$(peer_drain)
rm -rf "$tmp/arch" "$tmp/dd"

# ---- 2. flush one window -------------------------------------------------------------------
echo "bench/writer: flush $FLUSH x $RUNS" >&2
fw=() fc=() fr=() pf=()
for i in $(seq "$RUNS"); do
  reset; ingest "synth:events=$FLUSH,seed=$((i + 1)),start=2025-02-01T00:00:00Z,rate=2000"
  n_flush=$(for t in $TYPES; do rc XLEN "skyspool:$t"; done | awk '{s+=$1} END {print s}')
  read -r w u s m <<<"$(timed_write flush$i)"
  fw+=("$w"); fc+=("$(awk -v a="$u" -v b="$s" 'BEGIN {print a + b}')"); fr+=("$m")
  rm -rf "$tmp/arch" "$tmp/dd"
  reset; ingest "synth:events=$FLUSH,seed=$((i + 1)),start=2025-02-01T00:00:00Z,rate=2000"
  pf+=("$(peer_drain)")
done
f_wall=$(printf '%s\n' "${fw[@]}" | median); f_cpu=$(printf '%s\n' "${fc[@]}" | median)
f_rss=$(printf '%s\n' "${fr[@]}" | median); f_peer=$(printf '%s\n' "${pf[@]}" | median)

# ---- 3. end-to-end -------------------------------------------------------------------------
echo "bench/writer: end-to-end ${E2E_SECONDS}s" >&2
reset; rc CONFIG SET maxmemory 1gb >/dev/null
maxmem=$((1024 * 1024 * 1024))
rm -rf "$tmp/arch" "$tmp/dd"
nice "$B" write --out "$tmp/arch" --data-dir "$tmp/dd" --redis "$U" --grace 1s --log-level warn 2> "$tmp/e2e-w.err" &
WPID=$!; BG="$WPID"
nice "$B" ingest --source "synth:events=$((E2E_SECONDS * 400000)),seed=9,start=2025-03-01T00:00:00Z,rate=2000" \
  --redis "$U" --log-level warn 2> "$tmp/e2e-i.err" &
IPID=$!; BG="$WPID $IPID"
committed() { sqlite3 "$tmp/dd/ledger.sqlite" 'select coalesce(sum(entries),0) from commits' 2>/dev/null || echo 0; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
sleep 5 # warm-up
c0=$(committed); t0=$(date +%s.%N); k0=$(cpu_ticks "$WPID")
: > "$tmp/mem"
for _ in $(seq "$E2E_SECONDS"); do
  rc INFO memory | sed -n 's/^used_memory:\([0-9]*\).*/\1/p' >> "$tmp/mem"
  sleep 1
done
c1=$(committed); t1=$(date +%s.%N); k1=$(cpu_ticks "$WPID")
hz=$(getconf CLK_TCK)
w_rss=$(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\).*/\1/p' "/proc/$WPID/status")
kill -INT "$IPID"; wait "$IPID" || true
kill -TERM "$WPID"; wait "$WPID" || true
BG=
e2e_rate=$(awk -v a="$c0" -v b="$c1" -v x="$t0" -v y="$t1" 'BEGIN {printf "%.0f", (b - a) / (y - x)}')
e2e_cpu=$(awk -v a="$c0" -v b="$c1" -v x="$k0" -v y="$k1" -v hz="$hz" 'BEGIN {printf "%.0f", (y > x) ? (b - a) / ((y - x) / hz) : 0}')
mem_peak=$(sort -n "$tmp/mem" | tail -1)
half=$((E2E_SECONDS / 2))
mem_h1=$(head -n "$half" "$tmp/mem" | awk '{s+=$1} END {printf "%.0f", s / NR}')
mem_h2=$(tail -n "$half" "$tmp/mem" | awk '{s+=$1} END {printf "%.0f", s / NR}')
reset
ceil_secs=$(( E2E_SECONDS < 30 ? E2E_SECONDS : 30 ))
ceiling=$("$tmp/stream_loop" 127.0.0.1 "$PORT" loop skyspool:ceiling "$ceil_secs" | sed -n 's/.*events_per_s=\([0-9]*\).*/\1/p')

mb() { awk -v a="$1" 'BEGIN {printf "%.0f", a / 1048576}'; }
mkdir -p bench/results
{
  echo "## DataWriter (skyspool write vs the bare Redis Streams loop)"
  echo
  echo "Command: \`bench/writer.sh\` (DRAIN=$DRAIN, FLUSH=$FLUSH, RUNS=$RUNS, E2E_SECONDS=$E2E_SECONDS; \`--full\` for 600 s),"
  echo "release build, \`nice\`, one redis-server with AOF everysec and noeviction. Events come from"
  echo "\`skyspool ingest --source synth:...\` (the default mix; ~650 bytes of JSON per event). The peer is"
  echo "\`bench/stream_loop.c\`: the same Redis work the writer does (XREADGROUP COUNT 1000, XACK, XDEL) with no"
  echo "decoding and no Parquet, on the same data and server in the same run. Wall times on a shared 2-core"
  echo "machine: the CPU-second figures are the steadier ones. Load average (1/5/15 min) at the start: $load0, at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
  echo
  echo "| benchmark | skyspool write | peer (bare stream loop) | ratio | goal |"
  echo "|---|---:|---:|---:|---|"
  echo "| drain $n_drain buffered events (8 h of event time) -> $files files, $(mb "$bytes") MB | $(fmt "$n_drain" "$d_wall") events/s ($d_wall s wall; $(fmt "$n_drain" "$(awk -v a="$d_user" -v b="$d_sys" 'BEGIN{print a+b}')") events per CPU-s; peak RSS $((d_rss / 1024)) MB) | $(fmt "$n_drain" "$p_drain") events/s ($p_drain s) | $(ratio "$p_drain" "$d_wall") | ≥ 150,000 events/s |"
  echo "| flush one 5-minute window of $n_flush events (median of $RUNS) | $f_wall s wall ($f_cpu CPU-s; peak RSS $((f_rss / 1024)) MB) | $f_peer s | $(ratio "$f_peer" "$f_wall") | ≤ 5 s |"
  echo "| end-to-end ingest + write, ${E2E_SECONDS} s, maxmemory 1 GB | $e2e_rate events/s committed ($e2e_cpu events per writer CPU-s) | $ceiling events/s (producer + consumer loop, ${ceil_secs} s) | $(ratio "$e2e_rate" "$ceiling") | ≥ 100,000 events/s |"
  echo
  echo "End-to-end detail: Redis used_memory peak $(mb "$mem_peak") MB = $(awk -v a="$mem_peak" -v b="$maxmem" 'BEGIN{printf "%.0f", 100*a/b}') % of maxmemory"
  echo "(goal < 80 %); mean first half $(mb "$mem_h1") MB, second half $(mb "$mem_h2") MB (flat = similar);"
  echo "writer peak RSS $((w_rss / 1024)) MB (goal ≤ 256 MB). Ratios: peer time / skyspool time for drain and flush"
  echo "(1.00 = as fast as Redis alone allows), skyspool / ceiling for end-to-end."
} > bench/results/writer.md
cat bench/results/writer.md
