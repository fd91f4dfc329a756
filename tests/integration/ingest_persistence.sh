#!/usr/bin/env bash
# Persistence is checked while running, not only at connect: a running ingest daemon and a
# running write daemon both stop (exit 1, within ~15 s) with a message that says what is
# wrong and the exact fix when someone runs `CONFIG SET appendonly no` or `CONFIG SET
# maxmemory-policy allkeys-lru` on their Redis. --allow-eviction keeps the ingester going
# with a warning instead; --allow-no-aof does the same for a Redis without AOF, which is
# refused at connect otherwise.
source "$SKYSPOOL_SRC/tests/lib/harness.sh"
B=$SKYSPOOL_BIN
cd "$SS_TMP"
SRC=synth:events=1000000,pace=2000

# exits_within SECONDS PID: waits for PID (a child of this shell) to end; sets EXIT to its
# exit status, or to "running".
exits_within() {
  local deadline=$(( $(date +%s) + $1 )) pid=$2
  while kill -0 "$pid" 2>/dev/null; do
    [ "$(date +%s)" -ge "$deadline" ] && { EXIT=running; return; }
    sleep 0.1
  done
  EXIT=0; wait "$pid" || EXIT=$?
}

# scenario NAME CONFIG-NAME VALUE FIX-TEXT: ingest + write daemons, then CONFIG SET mid-run.
scenario() {
  local name=$1 key=$2 val=$3 fix=$4
  ss_start_redis "$name" --maxmemory 256mb
  local port url
  port=$(eval echo "\$REDIS_PORT_$name"); url=$(eval echo "\$REDIS_URL_$name")
  "$B" ingest --source "$SRC" --redis "$url" 2> "$name-ingest.log" & local ING=$!; SS_PIDS+=("$ING")
  "$B" write --out "$SS_TMP/arch-$name" --data-dir "$SS_TMP/dd-$name" --redis "$url" --consumer w1 \
    2> "$name-write.log" & local WR=$!; SS_PIDS+=("$WR")
  ss_wait_for 30 bash -c "[ \$(redis-cli -p $port xlen skyspool:like) -gt 200 ] || [ \$(redis-cli -p $port xinfo groups skyspool:like | grep -c writers) -gt 0 ]"
  sleep 2
  ss_check "$name: both daemons running before the change" kill -0 "$ING" "$WR"
  redis-cli -p "$port" config set "$key" "$val" > /dev/null
  local t0 rc_i rc_w
  t0=$(date +%s)
  exits_within 15 "$ING"; rc_i=$EXIT
  exits_within $((15 - ($(date +%s) - t0))) "$WR"; rc_w=$EXIT
  ss_log "$name: ingest exit $rc_i, write exit $rc_w after $(( $(date +%s) - t0 )) s"
  ss_eq "$name: the ingester stopped with exit 1 within 15 s" 1 "$rc_i"
  ss_eq "$name: the writer stopped with exit 1 within 15 s" 1 "$rc_w"
  ss_check "$name: the ingester says what is wrong and the fix" grep -q "$fix" "$name-ingest.log"
  ss_check "$name: the writer says what is wrong and the fix" grep -q "$fix" "$name-write.log"
  kill "$ING" "$WR" 2>/dev/null || true
}

# --- (a) appendonly no mid-run --------------------------------------------------------------
scenario aof appendonly no "CONFIG SET appendonly yes"
ss_check "aof: the message names the cause" grep -q "appendonly no" aof-ingest.log

# --- (b) an evicting policy mid-run ---------------------------------------------------------
scenario lru maxmemory-policy allkeys-lru "CONFIG SET maxmemory-policy noeviction"
ss_check "lru: the message explains the silent loss" grep -q "silently deletes whole streams" lru-write.log

# --- (b') --allow-eviction: the ingester goes on, with a warning ------------------------------
ss_start_redis allow --maxmemory 256mb
"$B" ingest --source "$SRC" --redis "$REDIS_URL_allow" --allow-eviction --json > allow.json 2> allow.log & ING=$!
SS_PIDS+=("$ING")
ss_wait_for 30 bash -c "[ \$(redis-cli -p $REDIS_PORT_allow xlen skyspool:like 2>/dev/null || echo 0) -gt 200 ]"
redis-cli -p "$REDIS_PORT_allow" config set maxmemory-policy allkeys-lru > /dev/null
n0=$(redis-cli -p "$REDIS_PORT_allow" xlen skyspool:like)
exits_within 13 "$ING"
ss_eq "allow-eviction: the ingester is still running 13 s later" running "$EXIT"
n1=$(redis-cli -p "$REDIS_PORT_allow" xlen skyspool:like)
ss_check "allow-eviction: and still ingesting ($n0 -> $n1 likes)" test "$n1" -gt "$n0"
ss_check "allow-eviction: with a warning" grep -q "maxmemory-policy is allkeys-lru, not noeviction" allow.log
kill -TERM "$ING"; wait "$ING" || ss_fail "allow-eviction: a stopped ingester exits 0"

# --- a Redis without AOF at connect: refused; --allow-no-aof warns -----------------------------
ss_start_redis noaof --appendonly no
set +e
"$B" ingest --source synth:events=100 --redis "$REDIS_URL_noaof" 2> noaof.log; rc=$?
written=$(redis-cli -p "$REDIS_PORT_noaof" exists skyspool:like)
"$B" ingest --source synth:events=100 --redis "$REDIS_URL_noaof" --allow-no-aof 2> noaof-allowed.log; rc2=$?
"$B" write --out "$SS_TMP/arch-noaof" --data-dir "$SS_TMP/dd-noaof" --redis "$REDIS_URL_noaof" --once --all 2> noaof-write.log; rc3=$?
set -e
ss_eq "no AOF at connect: ingest refuses" 1 "$rc"
ss_check "no AOF at connect: with the fix" grep -q "CONFIG SET appendonly yes" noaof.log
ss_check "no AOF at connect: names the override" grep -q -- "--allow-no-aof overrides" noaof.log
ss_eq "no AOF at connect: nothing written" 0 "$written"
ss_eq "--allow-no-aof: ingest runs" 0 "$rc2"
ss_check "--allow-no-aof: with a warning" grep -q "without its AOF" noaof-allowed.log
ss_eq "no AOF at connect: the writer refuses" 1 "$rc3"
ss_check "no AOF at connect: the writer says so" grep -q "CONFIG SET appendonly yes" noaof-write.log
ss_done
