#!/usr/bin/env bash
# The stall detector counts data messages only: an upstream that sends nothing but
# WebSocket pings (`replay-server --ping-only`) is a stall, detected after --read-timeout,
# for jetstream: and firehose: (and `record`). Before, every byte reset the read timer, so
# such an upstream kept skyspool connected, and silent, forever. Loopback only.
source "$SKYSPOOL_SRC/tests/lib/harness.sh"
source "$SKYSPOOL_SRC/tests/lib/net.sh"

MK=${SKYSPOOL_BUILD:?run through ctest}/fh_mkframes
cd "$SS_TMP"
"$SKYSPOOL_BIN" synth --events 50 --seed 3 > in.jsonl
grep '"kind":"commit"' in.jsonl | "$MK" in.frames 2> mk.log

# 1. jetstream: pings every 200 ms, read timeout 1 s.
net_replay js --jsonl in.jsonl --ping-only 200ms
timeout -s INT 6 "$SKYSPOOL_BIN" cat --source "jetstream:ws://127.0.0.1:$RP_PORT_js/subscribe" --read-timeout 1s \
  > js.out 2> js.log || true
ss_check "jetstream: the ping-only upstream was declared stalled" grep -q "no data for 1000 ms (stalled; the server still sends pings" js.log
ss_check "jetstream: and reconnected ($(grep -c 'connected to' js.log) connections)" test "$(grep -c 'connected to' js.log)" -ge 2
ss_check "jetstream: the server did send pings" grep -q "sending only pings" "$RP_LOG_js"
ss_eq "jetstream: no events" 0 "$(wc -l < js.out)"
net_stop "$RP_PID_js"

# 2. firehose: the same.
net_replay fh --frames in.frames --ping-only 200ms
timeout -s INT 6 "$SKYSPOOL_BIN" cat --source "firehose:ws://127.0.0.1:$RP_PORT_fh/xrpc/com.atproto.sync.subscribeRepos" \
  --read-timeout 1s > fh.out 2> fh.log || true
ss_check "firehose: the ping-only upstream was declared stalled" grep -q "no data for 1000 ms (stalled" fh.log
ss_check "firehose: and reconnected" test "$(grep -c 'connected to' fh.log)" -ge 2

# 3. record (its own client loop) too.
timeout -s INT 6 "$SKYSPOOL_BIN" record --source "firehose:ws://127.0.0.1:$RP_PORT_fh/xrpc/com.atproto.sync.subscribeRepos" \
  --read-timeout 1s --out rec.frames 2> rec.log || true
ss_check "record: the ping-only upstream was declared stalled" grep -q "no data for 1000 ms (stalled" rec.log
net_stop "$RP_PID_fh"

# 4. A slow but real stream is no stall: one message every 0.5 s with a 1 s timeout.
net_replay slow --jsonl in.jsonl --rate 2
timeout -s INT 5 "$SKYSPOOL_BIN" cat --source "jetstream:ws://127.0.0.1:$RP_PORT_slow/subscribe" --read-timeout 1s \
  --wanted-collections '*' > slow.out 2> slow.log || true
ss_check "slow stream: never declared stalled" bash -c "! grep -q stalled slow.log"
net_stop "$RP_PID_slow"

ss_done
