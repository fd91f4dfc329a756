#!/usr/bin/env bash
# kill -9 of the ingester mid-run, then a restart: it resumes at the stored cursor and no
# input event is missing (duplicates from the rewind are allowed; the writer removes them).
source "$SKYSPOOL_SRC/tests/lib/harness.sh"
B=$SKYSPOOL_BIN
CHECK=$SKYSPOOL_BUILD/stream_check
cd "$SS_TMP"

ss_start_redis r
URL=$REDIS_URL_r
cli() { redis-cli -p "$REDIS_PORT_r" "$@"; }
total_len() { local s=0 t; for t in post like repost follow block identity account; do s=$((s + $(cli xlen "skyspool:$t"))); done; echo $s; }

N=300000
"$B" synth --events $N --seed 31 --bad-frac 0.001 > ev.jsonl

for round in 1 2; do
  "$B" ingest --source file:ev.jsonl --redis "$URL" --batch 256 > /dev/null 2> "ingest$round.log" &
  ING=$!; SS_PIDS+=("$ING")
  floor=$((round * 60000))
  if ss_wait_for 120 bash -c "s=0; for t in post like repost follow block identity account; do s=\$((s + \$(redis-cli -p $REDIS_PORT_r xlen skyspool:\$t))); done; [ \$s -gt $floor ]"; then
    kill -9 "$ING"; wait "$ING" 2>/dev/null || true
    ss_pass "round $round: killed the ingester mid-run (kill -9)"
  else
    ss_fail "round $round: no progress"; cat "ingest$round.log" >&2
  fi
  n=$(total_len)
  ss_check "round $round: partial input buffered ($n)" test "$n" -lt $N
done
"$B" status --redis "$URL" --json > status.json
ss_eq "status after kill -9: state still says running" running "$(jq -r .ingest.state status.json)"
sleep 10.5
"$B" status --redis "$URL" --json > status.json
"$B" status --redis "$URL" > status.txt
ss_eq "status after kill -9: not alive (stale heartbeat)" false "$(jq .ingest.alive status.json)"
ss_check "status text says the ingester is not running" grep -q "the ingester is not running" status.txt
key=$(cli --scan --pattern 'skyspool:cursor:file:*' | head -1)
cur=$(cli hget "$key" cursor)
ss_check "a cursor was stored before the crash ($cur)" test "${cur:-0}" -gt 0

"$B" ingest --source file:ev.jsonl --redis "$URL" --json > final.json 2> final.log
ss_check "restart resumed at the stored cursor" grep -q "resuming file:" final.log
ss_check "restart did not re-read the whole file" test "$(jq .read final.json)" -lt $N
ss_eq "cursor now at the end of the file" "$(stat -c %s ev.jsonl)" "$(cli hget "$key" cursor)"
if "$CHECK" --redis "$URL" --input ev.jsonl --mode covers > check.json 2> check.err; then
  ss_pass "no gap: every input event present at least once"
else
  ss_fail "stream_check covers: $(cat check.json) $(head -5 check.err)"
fi
ss_eq "missing" 0 "$(jq .missing check.json)"
ss_eq "nothing foreign" 0 "$(jq .extra check.json)"
ss_log "duplicates from the two rewinds: $(jq .dups check.json)"
ss_done
