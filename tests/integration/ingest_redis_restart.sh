#!/usr/bin/env bash
# Redis goes away mid-run (a clean SHUTDOWN, then a kill -9 that loses the AOF's last
# second) and comes back from its AOF: the ingester reconnects with backoff, rewinds to the
# cursor that survived, and no input event is missing. From stdin, which cannot rewind, the
# unconfirmed entries are re-sent from memory across a clean restart. All with three Redis
# connections (ingest-connections 3), which must all be reset together.
source "$SKYSPOOL_SRC/tests/lib/harness.sh"
B=$SKYSPOOL_BIN
CHECK=$SKYSPOOL_BUILD/stream_check
cd "$SS_TMP"

ss_start_redis r
URL=$REDIS_URL_r
progress() { # prefix floor: the streams under prefix hold more than floor entries
  local s=0 t
  for t in post like repost follow block identity account; do s=$((s + $(redis-cli -p "$REDIS_PORT_r" xlen "$1$t" 2>/dev/null || echo 0))); done
  [ "$s" -gt "$2" ]
}
export -f progress; export REDIS_PORT_r

N=200000
"$B" synth --events $N --seed 41 > ev.jsonl

for mode in shutdown kill9 stdin; do
  P="$mode:"
  if [ $mode = stdin ]; then
    "$B" ingest --source file:- --redis "$URL" --prefix "$P" --set ingest-connections=3 --json < ev.jsonl > "$mode.json" 2> "$mode.log" &
  else
    "$B" ingest --source file:ev.jsonl --redis "$URL" --prefix "$P" --set ingest-connections=3 --json > "$mode.json" 2> "$mode.log" &
  fi
  ING=$!; SS_PIDS+=("$ING")
  ss_wait_for 120 progress "$P" 40000 || ss_fail "$mode: no progress"
  if [ $mode = kill9 ]; then
    kill -9 "$REDIS_PID_r"
    wait "$REDIS_PID_r" 2>/dev/null || true
    sleep 0.5
  fi
  ss_restart_redis r
  ss_pass "$mode: redis-server restarted mid-run"
  if wait "$ING"; then ss_pass "$mode: ingest finished after the restart"; else ss_fail "$mode: ingest failed"; cat "$mode.log" >&2; fi
  ss_check "$mode: ingest reconnected" test "$(jq .reconnects "$mode.json")" -ge 1
  ss_check "$mode: the outage was logged" grep -q "lost the Redis connection" "$mode.log"
  ss_check "$mode: ran with three connections" grep -q "3 connections)" "$mode.log"
  if "$CHECK" --redis "$URL" --prefix "$P" --input ev.jsonl --mode covers > "check-$mode.json" 2> "check-$mode.err"; then
    ss_pass "$mode: no gap, every input event present"
  else
    ss_fail "$mode: stream_check covers: $(cat "check-$mode.json") $(head -5 "check-$mode.err")"
  fi
  ss_eq "$mode: missing" 0 "$(jq .missing "check-$mode.json")"
  ss_log "$mode: rewinds $(jq .rewinds "$mode.json"), duplicates $(jq .dups "check-$mode.json")"
done
ss_check "stdin: re-sent from memory, no rewind" grep -q "cannot rewind; re-sending" stdin.log
ss_eq "stdin: no rewinds" 0 "$(jq .rewinds stdin.json)"
ss_done
