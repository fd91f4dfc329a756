#!/usr/bin/env bash
# The DataWriter against its peer measured in the same run: the bare Redis Streams loop
# (bench/stream_loop.c: XREADGROUP COUNT 1000 + the ack script, no decoding, no Parquet) on the
# same redis-server (AOF everysec, noeviction).
#   1. drain: DRAIN buffered events (2.7M = the prototype's 8-hour test) -> Parquet, `write --once --all`
#   2. flush: one 5-minute window of FLUSH events (600,000 = twice the live peak), median of RUNS
#   3. end-to-end: `skyspool ingest` and a `skyspool write` daemon together, Redis maxmemory 2 GB:
#      sustained, a synth feed paced at E2E_OFFER events/s (110k) for E2E_SECONDS (60; --full:
#      600): committed events/s, Redis memory (peak share of maxmemory, first vs second half),
#      writer peak RSS; then saturation, unpaced, for E2E_SAT_SECONDS (30); against the producer
#      + consumer loop on the same Redis (the ceiling).
# Writes bench/results/writer.md.
#   bench/writer.sh [--full]        (DRAIN=.. FLUSH=.. RUNS=.. E2E_SECONDS=.. to change)
set -euo pipefail
cd "$(dirname "$0")/.."
B=${SKYSPOOL_BIN:-$PWD/build/skyspool}
DRAIN=${DRAIN:-2700000}
FLUSH=${FLUSH:-600000}
RUNS=${RUNS:-3}
E2E_SECONDS=${E2E_SECONDS:-60}
E2E_OFFER=${E2E_OFFER:-110000}
E2E_SAT_SECONDS=${E2E_SAT_SECONDS:-30}
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
# (a) sustained: a live-like feed offering E2E_OFFER events/s (synth pace=) for E2E_SECONDS while
#     the writer daemon runs; does the writer keep up, does Redis memory stay flat and low?
# (b) saturation: the same with an unpaced ingester for E2E_SAT_SECONDS: the most it commits.
# Redis maxmemory 2 GB (the embedded default); synth rate=2000 (the live peak in event time).
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
e2e_run() { # label seconds pace(0 = none): sets e2e_* variables
  local label=$1 secs=$2 pace=$3 src events
  reset; rc CONFIG SET maxmemory 2gb >/dev/null
  rm -rf "$tmp/arch" "$tmp/dd"
  nice "$B" write --out "$tmp/arch" --data-dir "$tmp/dd" --redis "$U" --grace 1s --log-level warn 2> "$tmp/e2e-w-$label.err" &
  WPID=$!; BG="$WPID"
  events=$(( (2 * secs + 60) * (pace > 0 ? pace : 400000) )) # more than the run needs: it is stopped
  src="synth:events=$events,seed=9,start=2025-03-01T00:00:00Z,rate=2000"
  [ "$pace" -gt 0 ] && src="$src,pace=$pace"
  nice "$B" ingest --source "$src" --redis "$U" --log-level warn 2> "$tmp/e2e-i-$label.err" &
  IPID=$!; BG="$WPID $IPID"
  sleep 10 # warm-up: the first windows close, the dedup set fills
  local c0 c1 t0 t1 k0 k1
  c0=$(committed); t0=$(date +%s.%N); k0=$(cpu_ticks "$WPID")
  : > "$tmp/mem-$label"; : > "$tmp/buf-$label"
  local tend=$(( $(date +%s) + secs ))
  while [ "$(date +%s)" -lt "$tend" ]; do # one sample a second
    rc INFO memory | sed -n 's/^used_memory:\([0-9]*\).*/\1/p' >> "$tmp/mem-$label"
    for t in $TYPES; do rc XLEN "skyspool:$t"; done | awk '{s+=$1} END {print s}' >> "$tmp/buf-$label"
    sleep 1
  done
  kill -0 "$IPID" 2>/dev/null || { echo "bench/writer: the ingester ended early:" >&2; cat "$tmp/e2e-i-$label.err" >&2; exit 1; }
  c1=$(committed); t1=$(date +%s.%N); k1=$(cpu_ticks "$WPID")
  e2e_rss=$(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\).*/\1/p' "/proc/$WPID/status")
  kill -INT "$IPID" 2>/dev/null || true; wait "$IPID" || true
  kill -TERM "$WPID" 2>/dev/null || true; wait "$WPID" || true
  BG=
  local hz half; hz=$(getconf CLK_TCK); half=$(( $(wc -l < "$tmp/mem-$label") / 2 ))
  e2e_rate=$(awk -v a="$c0" -v b="$c1" -v x="$t0" -v y="$t1" 'BEGIN {printf "%.0f", (b - a) / (y - x)}')
  e2e_cpu=$(awk -v a="$c0" -v b="$c1" -v x="$k0" -v y="$k1" -v hz="$hz" 'BEGIN {printf "%.0f", (y > x) ? (b - a) / ((y - x) / hz) : 0}')
  e2e_peak=$(sort -n "$tmp/mem-$label" | tail -1)
  e2e_h1=$(head -n "$half" "$tmp/mem-$label" | awk '{s+=$1} END {printf "%.0f", s / NR}')
  e2e_h2=$(tail -n "$half" "$tmp/mem-$label" | awk '{s+=$1} END {printf "%.0f", s / NR}')
  e2e_buf_peak=$(sort -n "$tmp/buf-$label" | tail -1)
  e2e_buf_h1=$(head -n "$half" "$tmp/buf-$label" | awk '{s+=$1} END {printf "%.0f", s / NR}')
  e2e_buf_h2=$(tail -n "$half" "$tmp/buf-$label" | awk '{s+=$1} END {printf "%.0f", s / NR}')
}
committed() { sqlite3 "$tmp/dd/ledger.sqlite" 'select coalesce(sum(entries),0) from commits' 2>/dev/null || echo 0; }
maxmem=$((2 * 1024 * 1024 * 1024))
echo "bench/writer: end-to-end sustained ${E2E_SECONDS}s at ${E2E_OFFER}/s" >&2
e2e_run sustained "$E2E_SECONDS" "$E2E_OFFER"
s_rate=$e2e_rate s_cpu=$e2e_cpu s_rss=$e2e_rss s_peak=$e2e_peak s_h1=$e2e_h1 s_h2=$e2e_h2
s_buf_peak=$e2e_buf_peak s_buf_h1=$e2e_buf_h1 s_buf_h2=$e2e_buf_h2
echo "bench/writer: end-to-end saturation ${E2E_SAT_SECONDS}s" >&2
e2e_run saturation "$E2E_SAT_SECONDS" 0
reset
ceil_secs=30
ceiling=$("$tmp/stream_loop" 127.0.0.1 "$PORT" loop skyspool:ceiling "$ceil_secs" | sed -n 's/.*events_per_s=\([0-9]*\).*/\1/p')

mb() { awk -v a="$1" 'BEGIN {printf "%.0f", a / 1048576}'; }
mkdir -p bench/results
{
  echo "## DataWriter (skyspool write vs the bare Redis Streams loop)"
  echo
  echo "Command: \`bench/writer.sh\` (DRAIN=$DRAIN, FLUSH=$FLUSH, RUNS=$RUNS, E2E_SECONDS=$E2E_SECONDS; \`--full\` for 600 s),"
  echo "release build, \`nice\`, one redis-server with AOF everysec and noeviction. Events come from"
  echo "\`skyspool ingest --source synth:...\` (the default mix; ~650 bytes of JSON per event). The peer is"
  echo "\`bench/stream_loop.c\`: the same Redis work the writer does (XREADGROUP COUNT 1000, then its ack script: XACK + XTRIM) with no"
  echo "decoding and no Parquet, on the same data and server in the same run. Wall times on a shared 2-core"
  echo "machine: the CPU-second figures are the steadier ones. Load average (1/5/15 min) at the start: $load0, at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
  echo
  echo "| benchmark | skyspool write | peer (bare stream loop) | ratio | goal |"
  echo "|---|---:|---:|---:|---|"
  echo "| drain $n_drain buffered events (8 h of event time) -> $files files, $(mb "$bytes") MB | $(fmt "$n_drain" "$d_wall") events/s ($d_wall s wall; $(fmt "$n_drain" "$(awk -v a="$d_user" -v b="$d_sys" 'BEGIN{print a+b}')") events per CPU-s; peak RSS $((d_rss / 1024)) MB) | $(fmt "$n_drain" "$p_drain") events/s ($p_drain s) | $(ratio "$p_drain" "$d_wall") | ≥ 150,000 events/s |"
  echo "| flush one 5-minute window of $n_flush events (median of $RUNS) | $f_wall s wall ($f_cpu CPU-s; peak RSS $((f_rss / 1024)) MB) | $f_peer s | $(ratio "$f_peer" "$f_wall") | ≤ 5 s |"
  echo "| end-to-end, sustained: a feed offering $E2E_OFFER events/s for ${E2E_SECONDS} s, writer daemon alongside | $s_rate events/s committed ($s_cpu events per writer CPU-s) | $ceiling events/s (producer + consumer loop, ${ceil_secs} s) | $(ratio "$s_rate" "$ceiling") | ≥ 100,000 events/s |"
  echo "| end-to-end, saturation: unpaced ingester, ${E2E_SAT_SECONDS} s | $e2e_rate events/s committed ($e2e_cpu events per writer CPU-s) | $ceiling events/s | $(ratio "$e2e_rate" "$ceiling") | (context) |"
  echo
  echo "Sustained detail: Redis used_memory peak $(mb "$s_peak") MB = $(awk -v a="$s_peak" -v b="$maxmem" 'BEGIN{printf "%.0f", 100*a/b}') % of maxmemory 2 GB"
  echo "(goal < 80 %); mean first half $(mb "$s_h1") MB, second half $(mb "$s_h2") MB (goal: flat); entries buffered in the"
  echo "streams (pending + unread + acknowledged above the trim floor) peak $s_buf_peak, mean $s_buf_h1 then $s_buf_h2;"
  echo "writer peak RSS $((s_rss / 1024)) MB (goal ≤ 256 MB). Saturation: Redis peak $(mb "$e2e_peak") MB, writer peak RSS $((e2e_rss / 1024)) MB."
  echo "Ratios: peer time / skyspool time for drain and flush (1.00 = as fast as Redis alone allows),"
  echo "skyspool / ceiling for end-to-end. The synth feed runs at rate=2000 events per simulated second (the"
  echo "live peak), so the 1-hour dedup horizon holds 7.2M keys once an hour of event time has passed (36 s of a"
  echo "110k/s run)."
} > bench/results/writer.md
cat bench/results/writer.md
