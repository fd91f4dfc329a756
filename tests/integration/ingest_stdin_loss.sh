#!/usr/bin/env bash
# From stdin, which cannot be re-read, a Redis that comes back without events it had
# confirmed is reported: Redis is kill -9'd mid-stream (after the first part of the input
# was confirmed) and restarted on an empty dataset. The ingester reconnects, notices that
# its streams' last-generated-ids are behind the ids Redis gave its XADDs, says how many
# events may be lost and how to recover them, ingests the rest of its input, and exits 1
# (before, it re-sent what was unconfirmed and exited 0 as if nothing had happened). A
# clean restart (AOF kept) loses nothing and is not reported (ingest_redis_restart.sh).
source "$SKYSPOOL_SRC/tests/lib/harness.sh"
B=$SKYSPOOL_BIN
cd "$SS_TMP"
ss_start_redis r
P=$REDIS_PORT_r
total() { local s=0 t; for t in post like repost follow block identity account; do s=$((s + $(redis-cli -p "$P" xlen "skyspool:$t" 2>/dev/null || echo 0))); done; echo "$s"; }

"$B" synth --events 30000 --seed 5 > ev.jsonl
head -n 20000 ev.jsonl > part1.jsonl
tail -n +20001 ev.jsonl > part2.jsonl
mkfifo go
# the input: part 1, then a pause (until the test says go), then part 2
{ cat part1.jsonl; read -r _ < go; cat part2.jsonl; } |
  "$B" ingest --source file:- --redis "$REDIS_URL_r" --json > ing.json 2> ing.log & ING=$!
SS_PIDS+=("$ING")
exec 4<> go # keep the fifo open, so the reader waits for the line
ss_wait_for 60 bash -c "s=0; for t in post like repost follow block identity account; do s=\$((s + \$(redis-cli -p $P xlen skyspool:\$t))); done; [ \$s -gt 15000 ]" ||
  ss_fail "no progress"
sleep 1.5 # part 1 confirmed; the ingester waits on stdin
confirmed=$(total)
ss_log "confirmed before the loss: $confirmed"

kill -9 "$REDIS_PID_r"; wait "$REDIS_PID_r" 2>/dev/null || true
rm -rf "$REDIS_DIR_r/appendonlydir" "$REDIS_DIR_r"/*.rdb
ss_check "redis restarted on an empty dataset" ss_restart_redis r
echo go >&4
rc=0; wait "$ING" || rc=$?
exec 4>&-
ss_eq "the ingester exits 1" 1 "$rc"
ss_check "it reports the loss" grep -q "Redis lost up to $confirmed of the events this ingester had buffered" ing.log
ss_check "says stdin cannot be re-read and how to recover" grep -q "stdin cannot be re-read, so they are lost: re-run with the input as a file" ing.log
ss_eq "the count is in --json" "$confirmed" "$(jq .lost ing.json)"
ss_eq "it ingested the rest of its input" "$(jq .read ing.json)" 30000
after=$(total)
ss_check "part 2 is in the new Redis ($after)" test "$after" -ge $((30000 - 20000 - 1000))
ss_done
