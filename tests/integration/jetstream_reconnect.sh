#!/usr/bin/env bash
# jetstream: survives the server going away. (1) The server closes every connection after
# N messages (--close-after): the client reconnects with cursor = last time_us minus the
# resume margin and ends with every event (duplicates allowed). (2) The server is killed
# mid-stream and restarted on the same port: same result. (3) A server that stops sending
# is detected by the read timeout and the client reconnects. (4) A consumer that stops
# reading pushes back (the queue pauses reading) and still gets every event. Loopback only.
source "$SKYSPOOL_SRC/tests/lib/harness.sh"
source "$SKYSPOOL_SRC/tests/lib/net.sh"

IN="$SS_TMP/in.jsonl"
net_gen 8000 10000 "$IN"  # 10 ms apart: the 5 s resume margin is 500 events
net_expect "$IN" app.bsky.feed.post,app.bsky.feed.like,app.bsky.feed.repost,app.bsky.graph.follow,app.bsky.graph.block \
  > "$SS_TMP/exp"
n=$(wc -l < "$SS_TMP/exp")

# 1. --close-after 1500: about six connections.
net_replay ca --jsonl "$IN" --close-after 1500
"$SKYSPOOL_BIN" record --source "jetstream:ws://127.0.0.1:$RP_PORT_ca/subscribe" --out "$SS_TMP/out1" \
  2> "$SS_TMP/rec1.log" &
rec=$!; SS_PIDS+=("$rec")
net_wait_unique "$SS_TMP/out1" "$n" 60 || true
net_stop "$rec"
ss_eq "close-after: every event arrived" "$n" "$(net_unique "$SS_TMP/out1")"
ss_check "close-after: nothing but input events" net_same_set "$SS_TMP/exp" "$SS_TMP/out1"
conns=$(grep -c "connected to" "$SS_TMP/rec1.log")
ss_check "close-after: reconnected ($conns connections)" test "$conns" -ge 5
ss_check "close-after: resumed with a cursor" grep -q "connected to .*cursor=" "$SS_TMP/rec1.log"
# the source rewinds 5 s on each reconnect; record recognises the repeats and keeps each event once
ss_eq "close-after: each event recorded once despite the rewinds" "$n" "$(wc -l < "$SS_TMP/out1")"
ss_check "close-after: record skipped the rewinds' repeats" grep -q "events repeated by reconnects" "$SS_TMP/rec1.log"
ss_check "the server saw close code 1001" grep -q "code 1001" "$SS_TMP/rec1.log"
# The resume cursor is the last delivered time_us minus 5 s.
python3 - "$SS_TMP/rec1.log" "$SS_TMP/out1" <<'PY' && ss_pass "resume cursor = last time_us - 5 s" || ss_fail "resume cursor = last time_us - 5 s"
import json, re, sys
log = open(sys.argv[1]).read()
curs = [int(c) for c in re.findall(r"connected to .*cursor=(\d+)", log)]
times = [json.loads(l)["time_us"] for l in open(sys.argv[2])]
# each connection's cursor must be some delivered time_us minus 5,000,000
ok = curs and all((c + 5_000_000) in set(times) for c in curs)
sys.exit(0 if ok else 1)
PY
net_stop "$RP_PID_ca"

# 2. Kill the server mid-stream, restart it on the same port.
net_replay rs --jsonl "$IN" --rate 1000
PORT=$RP_PORT_rs
"$SKYSPOOL_BIN" record --source "jetstream:ws://127.0.0.1:$PORT/subscribe" --out "$SS_TMP/out2" 2> "$SS_TMP/rec2.log" &
rec=$!; SS_PIDS+=("$rec")
net_wait_unique "$SS_TMP/out2" 2000 30 || true
kill -9 "$RP_PID_rs"; wait "$RP_PID_rs" 2>/dev/null || true
got_at_kill=$(net_unique "$SS_TMP/out2")
sleep 1
net_replay_on rs2 "$PORT" --jsonl "$IN"
net_wait_unique "$SS_TMP/out2" "$n" 60 || true
net_stop "$rec"
ss_check "restart: the first server was killed mid-stream ($got_at_kill of $n)" test "$got_at_kill" -lt "$n"
ss_eq "restart: every event arrived" "$n" "$(net_unique "$SS_TMP/out2")"
ss_check "restart: nothing but input events" net_same_set "$SS_TMP/exp" "$SS_TMP/out2"
ss_check "restart: reconnected with a cursor" grep -q "connected to .*cursor=" "$SS_TMP/rec2.log"
ss_check "restart: failed attempts were retried with backoff" grep -q "reconnecting in" "$SS_TMP/rec2.log"
net_stop "$RP_PID_rs2"

# 3. Stall: the server sends one message then nothing (--rate far below 1/s).
net_replay st --jsonl "$IN" --rate 0.01
"$SKYSPOOL_BIN" record --source "jetstream:ws://127.0.0.1:$RP_PORT_st/subscribe" --read-timeout 1s \
  --out "$SS_TMP/out3" 2> "$SS_TMP/rec3.log" &
rec=$!; SS_PIDS+=("$rec")
ss_wait_for 20 grep -q "stalled.*reconnecting" "$SS_TMP/rec3.log" || true
ss_wait_for 10 bash -c "[ \$(grep -c 'connected to' '$SS_TMP/rec3.log') -ge 2 ]" || true
net_stop "$rec"
ss_check "stall: detected by the read timeout" grep -q "no data for 1000 ms (stalled)" "$SS_TMP/rec3.log"
ss_check "stall: reconnected" test "$(grep -c 'connected to' "$SS_TMP/rec3.log")" -ge 2
ss_check "stall: the server saw the reconnect" test "$(grep -c ' connected' "$RP_LOG_st")" -ge 2
net_stop "$RP_PID_st"

# 4. Backpressure: the consumer is blocked on a full pipe for 4 s. Far more data than all
# the buffers on the way hold: the server must not reach the end of its input before the
# consumer reads again, and every event still arrives in order on one connection.
net_gen 60000 1000 "$SS_TMP/big.jsonl"
net_expect "$SS_TMP/big.jsonl" - > "$SS_TMP/expbig"
nb=$(wc -l < "$SS_TMP/expbig")
net_replay bp --jsonl "$SS_TMP/big.jsonl"
timeout 120 "$SKYSPOOL_BIN" cat --source "jetstream:ws://127.0.0.1:$RP_PORT_bp/subscribe" --wanted-collections '*' \
  --limit "$nb" 2> "$SS_TMP/cat4.log" | { sleep 4; date +%s.%N > "$SS_TMP/resumed"; cat; } > "$SS_TMP/out4"
ss_check "backpressure: every event, in order" cmp -s "$SS_TMP/expbig" "$SS_TMP/out4"
ss_check "backpressure: one connection, no reconnect" grep -q "1 connects, 0 disconnects" "$SS_TMP/cat4.log"
end_iso=$(sed -n 's/^\([^ ]*\) .*end of input after.*/\1/p' "$RP_LOG_bp" | head -1)
end_s=$(date -d "$end_iso" +%s.%N)
ss_log "consumer resumed at $(cat "$SS_TMP/resumed"), server reached its end at $end_s"
ss_check "backpressure: the server was held back until the consumer resumed" \
  python3 -c "import sys; sys.exit(0 if float('$end_s') > float('$(cat "$SS_TMP/resumed")') else 1)"

ss_done
