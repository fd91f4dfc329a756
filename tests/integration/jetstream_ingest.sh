#!/usr/bin/env bash
# jetstream: into a real redis-server through `skyspool ingest`: the server closes every
# connection after N messages and is later killed and restarted, the ingester itself is
# stopped and restarted (resuming from its stored cursor minus the 5 s margin), and at the
# end every event the server serves is in the streams (duplicates allowed: the writer
# removes them). Then the same over wss:// with compress=true. Loopback only.
source "$SKYSPOOL_SRC/tests/lib/harness.sh"
source "$SKYSPOOL_SRC/tests/lib/net.sh"
CHECK=$SKYSPOOL_BUILD/stream_check
cd "$SS_TMP"

net_gen 8000 10000 in.jsonl
net_expect in.jsonl app.bsky.feed.post,app.bsky.feed.like,app.bsky.feed.repost,app.bsky.graph.follow,app.bsky.graph.block \
  > exp.jsonl
ss_start_redis r
URL=$REDIS_URL_r
cli() { redis-cli -p "$REDIS_PORT_r" "$@"; }
covers() { "$CHECK" --redis "$1" --input exp.jsonl --mode covers > check.json 2> check.err; }

# 1. Server closes every connection after 1500 messages, paced so the run takes a few seconds.
net_replay a --jsonl in.jsonl --close-after 1500 --rate 3000
PORT=$RP_PORT_a
SRC="jetstream:ws://127.0.0.1:$PORT/subscribe"
"$SKYSPOOL_BIN" ingest --source "$SRC" --redis "$URL" --json > ing1.json 2> ing1.log &
ing=$!; SS_PIDS+=("$ing")
ss_wait_for 30 bash -c "[ \$(redis-cli -p $REDIS_PORT_r xlen skyspool:like) -ge 1000 ]" || true
# 2. Stop the ingester mid-stream; start it again: it resumes from the stored cursor.
kill -TERM "$ing"; wait "$ing"; rc=$?
ss_eq "ingest stops cleanly on SIGTERM" 0 "$rc"
key=$(cli --scan --pattern 'skyspool:cursor:jetstream:*' | head -1)
stored=$(cli hget "$key" cursor)
ss_check "a time_us cursor was stored under $key" test -n "$stored" -a "${stored:-0}" -gt 1750000000000000
ss_eq "cursor name" time_us "$(cli hget "$key" name)"
"$SKYSPOOL_BIN" ingest --source "$SRC" --redis "$URL" --json > ing2.json 2> ing2.log &
ing=$!; SS_PIDS+=("$ing")
ss_wait_for 20 grep -q "connected to" ing2.log || true
ss_check "restarted ingester asked for cursor = stored - 5 s" grep -q "cursor=$((stored - 5000000))" ing2.log
# 3. Kill the server mid-stream, restart it on the same port.
sleep 0.5
kill -9 "$RP_PID_a"; wait "$RP_PID_a" 2>/dev/null || true
sleep 1
net_replay_on a2 "$PORT" --jsonl in.jsonl --close-after 1500
ss_wait_for 90 covers "$URL" || true
kill -TERM "$ing"; wait "$ing" || true
if covers "$URL"; then ss_pass "every served event is in the streams (covers)"; else ss_fail "covers: $(cat check.json) $(head -3 check.err)"; fi
ss_eq "no event missing" 0 "$(jq .missing check.json)"
ss_eq "nothing foreign in the streams" 0 "$(jq .extra check.json)"
ss_check "duplicates from the rewinds were stored ($(jq .dups check.json))" test "$(jq .dups check.json)" -gt 0
ss_check "the ingester reconnected several times" test "$(cat ing1.log ing2.log | grep -c 'connected to')" -ge 3
ss_eq "nothing went to the DLQ" 0 "$(cli xlen skyspool:dlq)"
net_stop "$RP_PID_a2"

# 4. wss:// + compress=true into a fresh Redis, settings through --set.
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=127.0.0.1" \
  -addext "subjectAltName=IP:127.0.0.1" -keyout key.pem -out cert.pem 2>/dev/null
ss_start_redis t
net_train_dict "$ZDICT"
net_replay tls --jsonl in.jsonl --tls-cert cert.pem --tls-key key.pem --zstd-dictionary "$ZDICT" --close-after 3000
"$SKYSPOOL_BIN" ingest --source "jetstream:wss://127.0.0.1:$RP_PORT_tls/subscribe" --redis "$REDIS_URL_t" \
  --set tls-ca-file=cert.pem --set compress=yes --set zstd-dictionary="$ZDICT" > ing3.json 2> ing3.log &
ing=$!; SS_PIDS+=("$ing")
ss_wait_for 90 covers "$REDIS_URL_t" || true
kill -TERM "$ing"; wait "$ing" || true
if covers "$REDIS_URL_t"; then ss_pass "wss:// + compress=true: every event in the streams"; else ss_fail "wss covers: $(cat check.json)"; fi
ss_check "wss:// + compress=true: the request asked for compress=true" grep -q "connected to wss://.*compress=true" ing3.log
ss_eq "wss:// + compress=true: nothing went to the DLQ" 0 "$(redis-cli -p "$REDIS_PORT_t" xlen skyspool:dlq)"

ss_done
