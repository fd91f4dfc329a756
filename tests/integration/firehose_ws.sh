#!/usr/bin/env bash
# firehose: over ws:// and wss:// from `replay-server --frames`: real firehose frames (built
# by tests/tools/fh_mkframes from `skyspool synth` output) decode to exactly the expected
# Jetstream events; cursor=<seq> resumes after a frame; the server closing every connection
# (--close-after) or dying loses nothing (the cursor is exact: no duplicates either); and
# `skyspool record` captures the frames byte for byte. Loopback only.
source "$SKYSPOOL_SRC/tests/lib/harness.sh"
source "$SKYSPOOL_SRC/tests/lib/net.sh"

MK=${SKYSPOOL_BUILD:?run through ctest}/fh_mkframes
[ -x "$MK" ] || { ss_fail "fh_mkframes not built"; ss_done; exit 1; }
cd "$SS_TMP"
"$SKYSPOOL_BIN" synth --events 3000 --seed 5 > synth.jsonl
"$MK" --filler 2000 --expect expect.jsonl --seqs seqs.txt in.frames.zst < synth.jsonl 2> mk.log
n=$(wc -l < expect.jsonl)
nframes=$(sort -u seqs.txt | wc -l)
PATH_FH=/xrpc/com.atproto.sync.subscribeRepos
# Live firehose: time_us is skyspool's receipt clock: compare events without it (and check it
# is monotonic); a frames: replay is deterministic and compares byte for byte.
notime() { sed -E 's/"time_us":[0-9]+,//' "$1"; }
same_events() { cmp -s <(notime "$1") <(notime "$2"); }
monotonic() { jq -r .time_us "$1" | awk 'NR > 1 && $1 < p { bad = 1 } { p = $1 } END { exit bad }'; }

# 1. ws://: every event, byte-identical, in order.
net_replay fh --frames in.frames.zst
URL="ws://127.0.0.1:$RP_PORT_fh$PATH_FH"
timeout 60 "$SKYSPOOL_BIN" cat --source "firehose:$URL" --limit "$n" > out1.jsonl 2> cat1.log
ss_check "firehose over ws://: identical to the expected events ($n), time_us aside" same_events expect.jsonl out1.jsonl
ss_check "firehose over ws://: time_us is the receipt clock, never decreasing" monotonic out1.jsonl
ss_check "firehose over ws://: time_us is now, not the frames' 2025 time" \
  test "$(head -1 out1.jsonl | jq .time_us)" -gt "$(( $(date +%s) - 600 ))000000"

# 2. cursor=<seq>: the frames after that seq.
cur=$(sed -n '1700p' seqs.txt)
paste -d' ' seqs.txt expect.jsonl | awk -v c="$cur" '$1 > c' | cut -d' ' -f2- > tail.expect
nt=$(wc -l < tail.expect)
timeout 60 "$SKYSPOOL_BIN" cat --source "firehose:$URL" --cursor "$cur" --limit "$nt" > tail.jsonl 2> cat2.log
ss_check "--cursor $cur: exactly the later events ($nt)" same_events tail.expect tail.jsonl
ss_check "the request carried cursor=$cur" grep -q "cursor=$cur" cat2.log

# 3. The Jetstream path is refused on a frames server.
set +e
timeout 3 "$SKYSPOOL_BIN" cat --source "firehose:ws://127.0.0.1:$RP_PORT_fh/subscribe" --limit 1 > wrong.jsonl 2>/dev/null
set -e
ss_eq "wrong path: nothing delivered" 0 "$(wc -l < wrong.jsonl)"
ss_check "wrong path: the server says why" grep -q "refused a WebSocket upgrade for '/subscribe'" "$RP_LOG_fh"
net_stop "$RP_PID_fh"

# 4. --close-after: reconnects resume from the exact seq: all events, no duplicates.
net_replay ca --frames in.frames.zst --close-after 400
timeout 90 "$SKYSPOOL_BIN" cat --source "firehose:ws://127.0.0.1:$RP_PORT_ca$PATH_FH" --limit "$n" \
  > out4.jsonl 2> cat4.log
ss_check "close-after 400: identical to the expected events, no duplicates" same_events expect.jsonl out4.jsonl
ss_check "close-after 400: several connections ($(grep -c 'connected to' cat4.log))" \
  test "$(grep -c 'connected to' cat4.log)" -ge 3
net_stop "$RP_PID_ca"

# 5. record over wss:// (self-signed, trusted via --tls-ca-file), with the server killed and
#    restarted midway: the recording holds every frame exactly once, byte for byte.
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=127.0.0.1" \
  -addext "subjectAltName=IP:127.0.0.1" -keyout key.pem -out cert.pem 2>/dev/null
net_replay tls --frames in.frames.zst --tls-cert cert.pem --tls-key key.pem --rate 1000
PORT=$RP_PORT_tls
"$SKYSPOOL_BIN" record --source "firehose:wss://127.0.0.1:$PORT$PATH_FH" --tls-ca-file cert.pem \
  --out rec.frames.zst 2> rec.log &
rec=$!; SS_PIDS+=("$rec")
ss_wait_for 30 grep -q "connected to wss" rec.log || true
sleep 0.7
kill -9 "$RP_PID_tls"; wait "$RP_PID_tls" 2>/dev/null || true
sleep 0.5
net_replay_on tls2 "$PORT" --frames in.frames.zst --tls-cert cert.pem --tls-key key.pem
ss_wait_for 60 bash -c "grep -q 'end of input after' '$RP_LOG_tls2'" || true
sleep 1.2 # record flushes every second
net_stop "$rec"
ss_check "record: reconnected after the kill with cursor=" grep -q "connected to wss.*cursor=" rec.log
ss_check "record: the recording equals the served frames file byte for byte" \
  cmp -s <(zstd -dc in.frames.zst) <(zstd -dc rec.frames.zst)
timeout 60 "$SKYSPOOL_BIN" cat --source frames:rec.frames.zst > rec.jsonl 2>/dev/null
ss_check "record: the recording decodes to the expected events" cmp -s expect.jsonl rec.jsonl
net_stop "$RP_PID_tls2"

# 6. Through `skyspool ingest` into a real redis-server, the server closing every
#    connection after 700 frames: every event is in the streams, none twice.
ss_start_redis r
net_replay ing --frames in.frames.zst --close-after 700
"$SKYSPOOL_BIN" ingest --source "firehose:ws://127.0.0.1:$RP_PORT_ing$PATH_FH" --redis "$REDIS_URL_r" \
  > ing.json 2> ing.log &
ing=$!; SS_PIDS+=("$ing")
covers() { "$SKYSPOOL_BUILD/stream_check" --redis "$REDIS_URL_r" --input expect.jsonl --mode covers --any-time-us > check.json 2> check.err; }
ss_wait_for 90 covers || true
kill -TERM "$ing"; wait "$ing" || true
if covers; then ss_pass "ingest: every event in the streams"; else ss_fail "ingest covers: $(cat check.json)"; fi
ss_eq "ingest: no duplicates (the seq cursor is exact)" 0 "$(jq .dups check.json)"
ss_eq "ingest: nothing foreign" 0 "$(jq .extra check.json)"
key=$(redis-cli -p "$REDIS_PORT_r" --scan --pattern 'skyspool:cursor:firehose:*' | head -1)
ss_eq "ingest: the stored cursor is the last seq" "$(tail -1 seqs.txt)" "$(redis-cli -p "$REDIS_PORT_r" hget "$key" cursor)"
ss_check "ingest: reconnected ($(grep -c 'connected to' ing.log) connections)" test "$(grep -c 'connected to' ing.log)" -ge 4
ss_log "frames: $nframes, events: $n"

ss_done
