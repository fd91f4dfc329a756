#!/usr/bin/env bash
# jetstream: with a list of endpoints fails over, and its stored cursor belongs to the
# logical stream, not to a host. (1) The first instance dies mid-stream: the next one
# takes over with cursor = last time_us - 5 s; every event arrives, and the overlap holds
# only events already received, with the same content (the dedup keys match, so dedup
# absorbs it). (2) The first instance stalls (only pings): the same. (3) ingest stores
# the cursor under skyspool:cursor:jetstream:/subscribe; a restart against another
# instance resumes from it (before, the key held host:port and the new instance started
# live). (4) A cursor stored under the old host-keyed name is read once, on upgrade.
# Loopback only.
source "$SKYSPOOL_SRC/tests/lib/harness.sh"
source "$SKYSPOOL_SRC/tests/lib/net.sh"
cd "$SS_TMP"
"$SKYSPOOL_BIN" synth --events 3000 --seed 8 |
  awk '{ sub(/"time_us":[0-9]+/, "\"time_us\":" sprintf("%.0f", 1750000000000000 + NR * 10000)); print }' > in.jsonl
n=$(wc -l < in.jsonl)

# 1. A dies.
net_replay a --jsonl in.jsonl --rate 600
net_replay b --jsonl in.jsonl
"$SKYSPOOL_BIN" cat --source "jetstream:ws://127.0.0.1:$RP_PORT_a/subscribe,ws://127.0.0.1:$RP_PORT_b/subscribe" \
  --wanted-collections '*' --connect-timeout 1s > out1 2> cat1.log &
cat1=$!; SS_PIDS+=("$cat1")
net_wait_unique out1 800 30 || true
kill -9 "$RP_PID_a"; wait "$RP_PID_a" 2>/dev/null || true
net_wait_unique out1 "$n" 60 || true
net_stop "$cat1"
ss_eq "A killed: every event" "$n" "$(net_unique out1)"
ss_check "A killed: nothing but input events (the overlap repeats received events byte for byte)" net_same_set in.jsonl out1
ss_check "A killed: switched to B" grep -q "endpoint 1 of 2 failed; switching to ws://127.0.0.1:$RP_PORT_b/subscribe" cat1.log
ss_check "A killed: B was asked for a cursor" grep -q "connected to ws://127.0.0.1:$RP_PORT_b/subscribe.*cursor=" cat1.log
ss_check "A killed: the rewind overlapped ($(wc -l < out1) lines)" test "$(wc -l < out1)" -gt "$n"
net_stop "$RP_PID_b"

# 2. A stalls (pings only).
net_replay sa --jsonl in.jsonl --ping-only 200ms
net_replay sb --jsonl in.jsonl
timeout 60 "$SKYSPOOL_BIN" cat --source "jetstream:ws://127.0.0.1:$RP_PORT_sa/subscribe,ws://127.0.0.1:$RP_PORT_sb/subscribe" \
  --wanted-collections '*' --read-timeout 1s --limit "$n" > out2 2> cat2.log || true
ss_check "A stalls: switched to B" grep -q "endpoint 1 of 2 stalled; switching" cat2.log
ss_check "A stalls: every event, from B" cmp -s in.jsonl out2
net_stop "$RP_PID_sa"; net_stop "$RP_PID_sb"

# 3. The stored cursor is keyed by the stream: ingest from C, stop, ingest from D.
ss_start_redis r
net_replay c --jsonl in.jsonl --rate 1000
net_replay d --jsonl in.jsonl
"$SKYSPOOL_BIN" ingest --source "jetstream:ws://127.0.0.1:$RP_PORT_c/subscribe" --redis "$REDIS_URL_r" 2> ing1.log &
ing=$!; SS_PIDS+=("$ing")
sleep 2
net_stop "$ing"
key="skyspool:cursor:jetstream:/subscribe"
stored=$(redis-cli -p "$REDIS_PORT_r" hget "$key" cursor)
ss_check "ingest: the cursor is stored under $key ($stored)" test -n "$stored"
ss_eq "ingest: no host-keyed cursor" "" "$(redis-cli -p "$REDIS_PORT_r" --scan --pattern 'skyspool:cursor:jetstream:ws*')"
"$SKYSPOOL_BIN" ingest --source "jetstream:ws://127.0.0.1:$RP_PORT_d/subscribe" --redis "$REDIS_URL_r" 2> ing2.log &
ing=$!; SS_PIDS+=("$ing")
ss_wait_for 20 grep -q "connected to" ing2.log || true
net_stop "$ing"
ss_check "ingest on another instance: resumed at the stored cursor minus 5 s" \
  grep -q "connected to ws://127.0.0.1:$RP_PORT_d/subscribe.*cursor=$((stored - 5000000))" ing2.log

# 4. Upgrade: only an old host-keyed cursor exists.
redis-cli -p "$REDIS_PORT_r" del "$key" > /dev/null
redis-cli -p "$REDIS_PORT_r" hset "skyspool:cursor:jetstream:ws://127.0.0.1:$RP_PORT_d/subscribe" cursor 1750000010000000 > /dev/null
"$SKYSPOOL_BIN" ingest --source "jetstream:ws://127.0.0.1:$RP_PORT_d/subscribe" --redis "$REDIS_URL_r" 2> ing3.log &
ing=$!; SS_PIDS+=("$ing")
ss_wait_for 20 grep -q "connected to" ing3.log || true
net_stop "$ing"
ss_check "upgrade: the old-keyed cursor was read" grep -q "stored under the old key" ing3.log
ss_check "upgrade: and used" grep -q "connected to .*cursor=1750000005000000" ing3.log
ss_done
