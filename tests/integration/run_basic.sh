#!/usr/bin/env bash
# `skyspool run`: embedded redis-server + ingester + writer in one process.
#  1. A finite source (synth) runs to its end: run drains the buffer, writes every window
#     and exits; the archive is exactly the source's events (duplicates removed); the
#     private redis-server is stopped again.
#  2. SIGINT in the middle of a larger source: clean exit 0; a second `run` resumes at the
#     stored cursor and finishes; exactly once over both.
source "$SKYSPOOL_SRC/tests/lib/harness.sh"
source "$SKYSPOOL_SRC/tests/lib/writer.sh"
B=$SKYSPOOL_BIN
SRC1="synth:events=40000,seed=51,start=2025-10-01T00:00:00Z,rate=20,dup=0.05"
"$B" synth --events 40000 --seed 51 --start 2025-10-01T00:00:00Z --rate 20 --dup-frac 0.05 > "$SS_TMP/in1.jsonl"
"$B" run --source "$SRC1" --out "$SS_TMP/arch1" --data-dir "$SS_TMP/d1" --no-progress --json \
  > "$SS_TMP/r1.json" 2> "$SS_TMP/r1.err" || { ss_fail "run exited non-zero"; cat "$SS_TMP/r1.err"; }
ss_log "$(cat "$SS_TMP/r1.json")"
ws_check "run to the end" "$SS_TMP/arch1" "$SS_TMP/in1.jsonl" "$SS_TMP/d1"
pid=$(cat "$SS_TMP/d1/redis.pid" 2>/dev/null || echo)
ss_check "the private redis-server was stopped" test -z "$pid" -o ! -e "/proc/${pid:-0}"
[ -n "$pid" ] && [ -e "/proc/$pid" ] && SS_PIDS+=("$pid") # stopped by the harness if run did not

SRC2="synth:events=400000,seed=52,start=2025-10-02T00:00:00Z,rate=100"
"$B" synth --events 400000 --seed 52 --start 2025-10-02T00:00:00Z --rate 100 > "$SS_TMP/in2.jsonl"
"$B" run --source "$SRC2" --out "$SS_TMP/arch2" --data-dir "$SS_TMP/d2" --no-progress 2> "$SS_TMP/r2.err" &
RPID=$!; SS_PIDS+=($RPID)
sleep 3
kill -INT "$RPID"
set +e; wait "$RPID"; rc=$?; set -e
ss_eq "SIGINT: clean exit" 0 "$rc"
ss_check "SIGINT: stopped early" grep -q 'stopped after' "$SS_TMP/r2.err"
"$B" run --source "$SRC2" --out "$SS_TMP/arch2" --data-dir "$SS_TMP/d2" --no-progress 2>> "$SS_TMP/r2.err" ||
  { ss_fail "second run exited non-zero"; tail -5 "$SS_TMP/r2.err"; }
pid=$(cat "$SS_TMP/d2/redis.pid" 2>/dev/null || echo)
[ -n "$pid" ] && [ -e "/proc/$pid" ] && SS_PIDS+=("$pid")
ws_check "interrupted and resumed" "$SS_TMP/arch2" "$SS_TMP/in2.jsonl" "$SS_TMP/d2"
ss_done
