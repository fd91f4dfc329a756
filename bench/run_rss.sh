#!/usr/bin/env bash
# Peak RSS of `skyspool run` at the live peak with a full dedup horizon: an hour of event time at
# 2,000 events/s (the default horizon is 1 h, so every event's claim is still held at the end),
# fed unpaced through the embedded redis-server. VmHWM of the skyspool process (redis-server
# excluded) is sampled every 2 s; the writer's part buffers are bounded by memory-budget (96 MB
# by default), the dedup claim set is not: it grows with the events inside the horizon.
# Writes bench/results/run_rss.md.
#   bench/run_rss.sh          (EVENTS=.. RATE=.. to change; ~25 min on a loaded 2-core machine)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${SKYSPOOL_BIN:-$PWD/build/skyspool}
EVENTS=${EVENTS:-7200000}
RATE=${RATE:-2000}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/skyspool-bench-runrss.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
[ -x "$BIN" ] || { echo "bench/run_rss: build first" >&2; exit 2; }
load0=$(cut -d' ' -f1-3 /proc/loadavg)
src="synth:events=$EVENTS,seed=1,rate=$RATE"
start=$(date +%s)
"$BIN" run --source "$src" --out "$tmp/arch" --data-dir "$tmp/data" --no-progress --json > "$tmp/run.json" 2> "$tmp/run.err" &
pid=$!
: > "$tmp/poll.txt"
while kill -0 "$pid" 2>/dev/null; do
  h=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
  [ -n "$h" ] && echo "$(( $(date +%s) - start )) $h" >> "$tmp/poll.txt"
  sleep 2
done
wait "$pid"
wall=$(( $(date +%s) - start ))
hwm=$(sort -k2 -n "$tmp/poll.txt" | tail -1 | cut -d' ' -f2)
curve=$(awk -v n="$(wc -l < "$tmp/poll.txt")" 'NR % int(n / 8 + 1) == 0 {printf "%s s: %d MB; ", $1, $2 / 1024}' "$tmp/poll.txt")
rows=$(node -e 'const s=JSON.parse(require("fs").readFileSync(0,"utf8"));console.log(s.writer.rows, s.writer.files)' < "$tmp/run.json")
verdict=$([ "$hwm" -le 262144 ] && echo met || echo "**missed**")
mkdir -p bench/results
{
  echo "# skyspool run: peak RSS at the live peak with a full dedup horizon"
  echo
  echo "\`bench/run_rss.sh\`, $(date -u +%Y-%m-%d), \`skyspool run --source $src\` (embedded redis-server,"
  echo "defaults: memory-budget 96 MB, dedup horizon 1 h), $(nproc) cores, load average $load0 / $(cut -d' ' -f1-3 /proc/loadavg)."
  echo
  echo "| rows, files written | wall s | peak RSS (VmHWM of skyspool) | goal <= 256 MB |"
  echo "|---|---:|---:|---|"
  echo "| ${rows/ /, } | $wall | $(awk -v k="$hwm" 'BEGIN {printf "%.1f", k / 1024}') MB | $verdict |"
  echo
  echo "VmHWM over the run: $curve"
} > bench/results/run_rss.md
cat bench/results/run_rss.md
