#!/usr/bin/env bash
# Row groups on the live path against `convert`: the same EVENTS synth events (seed 42, 2,000/s,
# the live peak) through `skyspool run --source file:` (private redis-server, ingester and
# DataWriter in one process) and through `skyspool convert`; then the typical queries over
# both archives (DuckDB 2 threads, fresh instance per run, warm page cache, interleaved,
# median of RUNS): count per type per hour (metadata only), a 10-minute range, a full scan.
# The run's peak RSS is VmHWM of the run process (redis-server is a separate process).
# With OLD_BIN set (a build of the code before), its run archive is measured the same way.
# Writes bench/results/rowgroups.md.
#   bench/rowgroups.sh            (EVENTS=.. RUNS=.. OLD_BIN=.. to change)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${SKYSPOOL_BIN:-$PWD/build/skyspool}
EVENTS=${EVENTS:-1000000}
RUNS=${RUNS:-5}
OLD_BIN=${OLD_BIN:-}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/skyspool-bench-rowgroups.XXXXXX")
load0=$(cut -d' ' -f1-3 /proc/loadavg)
trap 'rm -rf "$tmp"' EXIT
[ -x "$BIN" ] || { echo "bench/rowgroups: build first (make bench does)" >&2; exit 2; }

"$BIN" synth --events "$EVENTS" --seed 42 --rate 2000 > "$tmp/events.jsonl"
"$BIN" convert --out "$tmp/convert" --no-progress --no-fsync "$tmp/events.jsonl" > /dev/null

# run_archive BIN NAME: `run` into $tmp/NAME; prints the run's peak RSS in kB
run_archive() {
  "$1" run --out "$tmp/$2" --data-dir "$tmp/$2.dd" --source "file:$tmp/events.jsonl" --no-progress --log-level warn \
    > /dev/null 2> "$tmp/$2.err" &
  local pid=$! hwm=0 v
  while kill -0 "$pid" 2>/dev/null; do
    v=$(awk '/^VmHWM/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
    [ -n "$v" ] && hwm=$v
    sleep 0.2
  done
  wait "$pid" || { cat "$tmp/$2.err" >&2; exit 1; }
  echo "$hwm"
}
rss_new=$(run_archive "$BIN" run)
rss_old=
[ -n "$OLD_BIN" ] && rss_old=$(run_archive "$OLD_BIN" run_old)

q() { node tests/js/duck_query.mjs --scalar "$1"; }
rgstat() { q "SELECT count(DISTINCT file_name) || ' files, ' || count(*) || ' row groups, median ' || median(n)::BIGINT || ' rows (like: ' || coalesce(median(n) FILTER (WHERE file_name LIKE '%type=like%'), 0)::BIGINT || ')'
  FROM (SELECT DISTINCT file_name, row_group_id, row_group_num_rows AS n FROM parquet_metadata('$1/**/*.parquet'))"; }
t0=$(q "SELECT min(time_us) FROM read_parquet('$tmp/convert/**/*.parquet')")
lo=$(( t0 + 120000000 )) hi=$(( t0 + 720000000 ))
Q_HOUR="SELECT type, year, month, day, hour, count(*) AS n FROM SRC GROUP BY ALL ORDER BY ALL"
Q_RANGE="SELECT count(*) AS n, sum(length(record)) AS b FROM SRC WHERE time >= make_timestamp(${lo}::BIGINT) AND time < make_timestamp(${hi}::BIGINT)"
Q_SCAN="SELECT count(*) AS n, sum(length(record)) AS b, count(DISTINCT did) AS dids FROM SRC"
node tests/js/lookup_bench.mjs --runs "$RUNS" --a "$tmp/convert" --b "$tmp/run" "per_type_hour=$Q_HOUR" "range_10min=$Q_RANGE" "full_scan=$Q_SCAN" > "$tmp/new.jsonl"
cat "$tmp/new.jsonl"
[ -n "$OLD_BIN" ] && node tests/js/lookup_bench.mjs --runs "$RUNS" --a "$tmp/convert" --b "$tmp/run_old" "per_type_hour=$Q_HOUR" "range_10min=$Q_RANGE" "full_scan=$Q_SCAN" > "$tmp/old.jsonl" && cat "$tmp/old.jsonl"
col() { node -e 'for (const l of require("fs").readFileSync(process.argv[3],"utf8").trim().split("\n")) { const r = JSON.parse(l); if (r.query === process.argv[1]) console.log(r[process.argv[2]]); }' "$1" "$2" "$3"; }
mkdir -p bench/results
{
  echo "# Row groups: a \`run\` archive against a \`convert\` archive of the same events"
  echo
  echo "\`bench/rowgroups.sh\`, $(date -u +%Y-%m-%d), $EVENTS synth events (seed 42, 2,000/s), $(nproc) cores, DuckDB 2 threads,"
  echo "fresh instance per run, warm page cache, median of $RUNS interleaved runs. Target: archive.h SS_AR_ROW_GROUP_ROWS/BYTES."
  echo
  echo "| archive | layout | run peak RSS | count per type per hour | 10-minute range | full scan |"
  echo "|---|---|---|---|---|---|"
  echo "| convert | $(rgstat "$tmp/convert") | – | $(col per_type_hour a_ms "$tmp/new.jsonl") ms | $(col range_10min a_ms "$tmp/new.jsonl") ms | $(col full_scan a_ms "$tmp/new.jsonl") ms |"
  echo "| run (this build) | $(rgstat "$tmp/run") | $((rss_new / 1024)) MB | $(col per_type_hour b_ms "$tmp/new.jsonl") ms ($(col per_type_hour ratio_b_over_a "$tmp/new.jsonl")x) | $(col range_10min b_ms "$tmp/new.jsonl") ms ($(col range_10min ratio_b_over_a "$tmp/new.jsonl")x) | $(col full_scan b_ms "$tmp/new.jsonl") ms ($(col full_scan ratio_b_over_a "$tmp/new.jsonl")x) |"
  if [ -n "$OLD_BIN" ]; then
    echo "| run (OLD_BIN) | $(rgstat "$tmp/run_old") | $((rss_old / 1024)) MB | $(col per_type_hour b_ms "$tmp/old.jsonl") ms ($(col per_type_hour ratio_b_over_a "$tmp/old.jsonl")x) | $(col range_10min b_ms "$tmp/old.jsonl") ms ($(col range_10min ratio_b_over_a "$tmp/old.jsonl")x) | $(col full_scan b_ms "$tmp/old.jsonl") ms ($(col full_scan ratio_b_over_a "$tmp/old.jsonl")x) |"
  fi
  echo
  echo "(ratio: the run archive's time over the convert archive's; results of every query equal on both.)"
  echo "Load average at the start and end of the run: $load0 / $(cut -d' ' -f1-3 /proc/loadavg) (a shared machine)."
} > bench/results/rowgroups.md
cat bench/results/rowgroups.md
