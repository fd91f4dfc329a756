#!/usr/bin/env bash
# A host crash under appendfsync everysec: Redis's last second of writes never reached the
# disk. Modelled as kill -9 of redis-server, then a cut off the tail of its AOF increment
# file (Redis loads a truncated AOF), then a restart -- while a Jetstream source served by
# replay-server is being ingested and the writer daemon runs. Lost entries may include
# ones the writer had claimed, written or even committed, and the acknowledgements of
# committed ones. The ingester rewinds to its stored cursor (which Redis rolled back with
# the data) and sends the lost events again. Every trial, with its own cut size and moment,
# must end with each input event in the archive exactly once.
# The trials are independent (each has its own Redis, server, ingester, writer and archive), so
# CTest runs them as several parts (write_host_crash.1 ..; SS_PART, ss_mine in harness.sh):
# each part runs every K-th trial, with that trial's own moment and cut, and all ten run.
source "$SKYSPOOL_SRC/tests/lib/harness.sh"
source "$SKYSPOOL_SRC/tests/lib/writer.sh"
source "$SKYSPOOL_SRC/tests/lib/net.sh"
B=$SKYSPOOL_BIN
TRIALS=${SS_HOST_CRASH_TRIALS:-10}
N=5000

# the newest time_us the ingester's stored cursor says it has buffered (0: none yet)
cursor_of() {
  local port=$1 k
  k=$(redis-cli -p "$port" --scan --pattern 'skyspool:cursor:*' 2>/dev/null | head -1)
  [ -n "$k" ] || { echo 0; return; }
  redis-cli -p "$port" HGET "$k" cursor 2>/dev/null || echo 0
}
wait_cursor() { # PORT TARGET SECONDS
  local deadline=$(( $(date +%s) + $3 )) c
  while :; do
    c=$(cursor_of "$1"); [[ $c =~ ^[0-9]+$ ]] || c=0
    [ "$c" -ge "$2" ] && return 0
    [ "$(date +%s)" -ge "$deadline" ] && { ss_log "cursor $c, want $2"; return 1; }
    sleep 0.2
  done
}

exact=0 mine=0 lost_bytes=()
for trial in $(seq 1 "$TRIALS"); do
  ss_mine $((trial - 1)) || continue
  mine=$((mine + 1))
  T="$SS_TMP/t$trial"; mkdir -p "$T"
  "$B" synth --events "$N" --seed "$((100 + trial))" --start "2025-09-$(printf %02d "$trial")T06:00:00Z" --rate 20 \
    --dup-frac 0.02 > "$T/in.jsonl"
  # the newest event the server sends (other collections are not subscribed to)
  last_t=$(ws_last_served_us "$T/in.jsonl")
  ss_start_redis "r$trial"
  pv="REDIS_PORT_r$trial"; port=${!pv}
  uv="REDIS_URL_r$trial"; U=${!uv}
  dv="REDIS_DIR_r$trial"; dir=${!dv}
  net_replay "rp$trial" --jsonl "$T/in.jsonl" --rate 600
  rpv="RP_PORT_rp$trial"
  SRC="jetstream:ws://127.0.0.1:${!rpv}/subscribe"
  "$B" ingest --source "$SRC" --redis "$U" --log-level info 2> "$T/ingest.err" & ing=$!; SS_PIDS+=("$ing")
  "$B" write --out "$T/arch" --data-dir "$T/dd" --redis "$U" --grace 1s --retry-max 500ms --claim-idle 2s \
    --log-level info 2> "$T/write.err" & wr=$!; SS_PIDS+=("$wr")
  # the crash comes at a different moment of each trial: 1 s .. 5.5 s into the 8 s feed
  ss_wait_for 30 grep -q 'jetstream: connected' "$T/ingest.err" || ss_fail "trial $trial: the ingester did not connect"
  sleep "$(python3 -c "print(0.5 + 0.5 * $trial)")"
  pid_var="REDIS_PID_r$trial"; kill -9 "${!pid_var}" 2>/dev/null || true; wait "${!pid_var}" 2>/dev/null || true
  incr=$(ls "$dir"/appendonlydir/*.incr.aof 2>/dev/null | tail -1)
  size=$(stat -c %s "$incr")
  # cut between 2 % and 60 % of the increment (at least a few KB): a different loss each trial
  cut=$(python3 -c "s=$size; t=$trial; print(max(4096, min(s - 1, int(s * (0.02 + 0.058 * (t - 1))))))")
  truncate -s $((size - cut)) "$incr"
  lost_bytes+=("$cut/$size")
  ss_restart_redis "r$trial" > /dev/null || { ss_fail "trial $trial: redis did not restart"; continue; }
  ok=1 t0=$SECONDS
  wait_cursor "$port" "$last_t" 90 || { ss_fail "trial $trial: the ingester did not catch up"; ok=0; }
  net_stop "$ing"
  t1=$SECONDS
  ws_wait_drained "$U" skyspool: 90 || { ss_fail "trial $trial: the writer did not drain"; ok=0; }
  kill -TERM "$wr"; wait "$wr" || { ss_fail "trial $trial: the writer daemon exited non-zero"; ok=0; }
  "$B" write --out "$T/arch" --data-dir "$T/dd" --redis "$U" --once --all --log-level warn 2>> "$T/write.err" ||
    { ss_fail "trial $trial: the final write failed"; ok=0; }
  ss_log "trial $trial: caught up in $((t1 - t0)) s, drained and closed in $((SECONDS - t1)) s"
  before=$SS_FAILS
  ws_drained "trial $trial (cut $cut of $size AOF bytes)" "$U"
  ws_check "trial $trial (cut $cut of $size AOF bytes)" "$T/arch" "$T/in.jsonl" "$T/dd"
  [ "$SS_FAILS" = "$before" ] && [ "$ok" = 1 ] && exact=$((exact + 1))
  [ "$SS_FAILS" = "$before" ] || { grep -E 'warn|error' "$T/write.err" | head -20 >&2 || true; }
  grep -h 'Redis lost entries' "$T/write.err" | head -1 | cut -c1-200 >&2 || true
  rpid="RP_PID_rp$trial"; net_stop "${!rpid}"
  redis-cli -p "$port" shutdown nosave > /dev/null 2>&1 || true
done
ss_log "AOF bytes cut per trial: ${lost_bytes[*]}"
ss_check "this part ran trials$(ss_part_name)" test "$mine" -gt 0
ss_eq "every trial exact$(ss_part_name)" "$mine" "$exact"
ss_done
