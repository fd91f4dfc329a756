#!/usr/bin/env bash
# Backpressure, never eviction: a Redis with maxmemory 64mb and noeviction gets more events
# than fit. The ingester pauses (above the high watermark, or on OOM replies when the
# watermark is disabled), keeps its cursor, loses nothing, and completes once a consumer
# drains the streams. An evicting Redis is refused before anything is written.
source "$SKYSPOOL_SRC/tests/lib/harness.sh"
B=$SKYSPOOL_BIN
CHECK=$SKYSPOOL_BUILD/stream_check
cd "$SS_TMP"

ss_start_redis r --maxmemory 64mb --stream-node-max-bytes 65536
URL=$REDIS_URL_r
cli() { redis-cli -p "$REDIS_PORT_r" "$@"; }
total_len() { local s=0 t; for t in post like repost follow block identity account; do s=$((s + $(cli xlen "$1$t"))); done; echo $s; }

"$B" synth --events 150000 --seed 21 > ev.jsonl   # ~79 MB of events: more than fits

# --- 1. high watermark (80 % of 64 MB) ------------------------------------------------------
MPORT=$(ss_free_port)
"$B" ingest --source file:ev.jsonl --redis "$URL" --set metrics-listen=127.0.0.1:$MPORT --json > ingest.json 2> ingest.log &
ING=$!; SS_PIDS+=("$ING")
if ss_wait_for 120 bash -c "[ \"\$(redis-cli -p $REDIS_PORT_r hget skyspool:ingest paused)\" = 1 ]"; then
  ss_pass "ingest reports paused in skyspool:ingest"
else
  ss_fail "ingest never paused"; cat ingest.log >&2
fi
ss_check "ingester still running while paused" kill -0 "$ING"
ss_eq "pause reason" high_watermark "$(cli hget skyspool:ingest pause_reason)"
used=$(cli info memory | awk -F: '/^used_memory:/{print $2+0}')
# the ingester estimates memory between INFO replies (used_memory + bytes sent since), so
# it stops near the 80 % watermark, not at maxmemory (0.85: slack for Redis's own buffers)
ss_check "used_memory stays near the high watermark ($used)" test "$used" -le $((64 * 1024 * 1024 * 85 / 100))
n1=$(total_len skyspool:); sleep 1; n2=$(total_len skyspool:)
ss_eq "nothing is written while paused" "$n1" "$n2"
ss_check "the buffer holds part of the input ($n1)" test "$n1" -gt 50000 -a "$n1" -lt 150000
"$B" status --redis "$URL" --json > status.json
ss_eq "status shows ingest paused" true "$(jq .ingest.paused status.json)"
ss_eq "status: the paused ingester is alive" true "$(jq .ingest.alive status.json)"
curl -s "http://127.0.0.1:$MPORT/metrics" > metrics.txt
ss_check "metrics: paused gauge is 1" grep -q "^skyspool_ingest_paused 1" metrics.txt
ss_check "metrics: a watermark pause counted" grep -q '^skyspool_ingest_pauses_total{reason="watermark"} 1' metrics.txt
like_len=$(cli xlen skyspool:like)
ss_check "metrics: stream length at scrape time" grep -q "^skyspool_stream_length{type=\"like\"} $like_len" metrics.txt
ss_check "metrics: like events counted" grep -q '^skyspool_ingest_events_total{type="like"} [1-9]' metrics.txt

"$CHECK" --redis "$URL" --drain-to drained.txt > drain.json &
DRAIN=$!; SS_PIDS+=("$DRAIN")
wait "$ING"; rc=$?
ss_eq "ingest completes once drained" 0 "$rc"
wait "$DRAIN"
ss_check "ingest counted at least one pause" test "$(jq .pauses ingest.json)" -ge 1
ss_check "the pause was logged" grep -q "pausing the source (high_watermark)" ingest.log
ss_check "the resume was logged" grep -q "resuming after" ingest.log
if "$CHECK" --redis "$URL" --input ev.jsonl --mode covers --also drained.txt > check.json 2> check.err; then
  ss_pass "every event reached Redis (drained + remaining), none lost"
else
  ss_fail "stream_check covers: $(cat check.json) $(head -5 check.err)"
fi
ss_eq "no events missing" 0 "$(jq .missing check.json)"
ss_eq "no duplicates either" 0 "$(jq .dups check.json)"

# --- 2. watermark disabled: Redis answers OOM; refused entries are re-sent after the pause ----
"$B" synth --events 120000 --seed 22 > ev2.jsonl
"$B" ingest --source file:ev2.jsonl --redis "$URL" --prefix o: --set high-watermark=1 --json > ingest2.json 2> ingest2.log &
ING=$!; SS_PIDS+=("$ING")
if ss_wait_for 120 grep -q "pausing the source (oom)" ingest2.log; then
  ss_pass "OOM replies pause the ingester"
else
  ss_fail "no OOM pause"; cat ingest2.log >&2
fi
ss_check "ingester still running at OOM" kill -0 "$ING"
"$CHECK" --redis "$URL" --prefix o: --drain-to drained2.txt > drain2.json &
DRAIN=$!; SS_PIDS+=("$DRAIN")
wait "$ING"; rc=$?
ss_eq "ingest completes after OOM once drained" 0 "$rc"
wait "$DRAIN"
ss_check "OOM replies were counted" test "$(jq .oom_replies ingest2.json)" -gt 0
ss_check "refused entries were re-sent" test "$(jq .resent ingest2.json)" -ge "$(jq .oom_replies ingest2.json)"
if "$CHECK" --redis "$URL" --prefix o: --input ev2.jsonl --mode covers --also drained2.txt > check2.json 2> check2.err; then
  ss_pass "OOM path: every event reached Redis, none lost"
else
  ss_fail "stream_check covers (OOM): $(cat check2.json) $(head -5 check2.err)"
fi
ss_eq "OOM path: no duplicates" 0 "$(jq .dups check2.json)"

# --- 3. an evicting Redis is refused ------------------------------------------------------------
ss_start_redis lru --maxmemory 64mb --maxmemory-policy allkeys-lru
set +e
"$B" ingest --source file:ev2.jsonl --redis "$REDIS_URL_lru" 2> lru.log; rc=$?
set -e
ss_eq "ingest refuses allkeys-lru" 1 "$rc"
ss_check "and explains the silent data loss" grep -q "silently deletes whole streams" lru.log
ss_eq "nothing written to the evicting Redis" 0 "$(redis-cli -p "$REDIS_PORT_lru" dbsize)"
ss_done
