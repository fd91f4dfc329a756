#!/usr/bin/env bash
# `record` of jetstream: is a faithful capture: every message once, in order, as received,
# across forced reconnects (the source resumes 5 s early; before, those repeats were recorded
# again: 100 duplicate lines per reconnect here), a malformed line kept like any
# other, a 3 MB event kept whole (before: dropped at the 2 MiB limit), and with a lower limit
# the cut message kept raw in OUT.rejects instead of vanishing. Loopback only.
source "$SKYSPOOL_SRC/tests/lib/harness.sh"
source "$SKYSPOOL_SRC/tests/lib/net.sh"
cd "$SS_TMP"

# 50 ms apart: a reconnect rewinds 5 s = 100 events; each connection serves 400
net_gen 1500 50000 gen.jsonl
# A malformed line and a 3 MB event, in time order among the others.
# (time_us 1 µs after their predecessor's: Jetstream's time_us is unique on an instance)
t1=$(( $(sed -n 500p gen.jsonl | jq .time_us) + 1 )); t2=$(( $(sed -n 1000p gen.jsonl | jq .time_us) + 1 ))
big=$(python3 -c "import json,sys; print(json.dumps({'did':'did:plc:bigbigbigbigbigbigbigbig','time_us':$t2,'kind':'commit','commit':{'rev':'3l','operation':'create','collection':'app.bsky.feed.post','rkey':'3big','record':{'\$type':'app.bsky.feed.post','text':'x'*3000000,'createdAt':'2025-08-07T00:00:00.000Z'},'cid':'bafyrei'}}, separators=(',',':')))")
{ sed -n 1,500p gen.jsonl
  printf '{"did":"did:plc:broken","time_us":%s,"kind":"commit","commit":{"collection":\n' "$t1"
  sed -n 501,1000p gen.jsonl
  printf '%s\n' "$big"
  sed -n '1001,$p' gen.jsonl; } > in.jsonl
n=$(wc -l < in.jsonl)
net_replay a --jsonl in.jsonl --close-after 400
SRC="jetstream:ws://127.0.0.1:$RP_PORT_a/subscribe"

# record_until N OUT [args]: records until OUT has N lines (or 60 s), then SIGTERM.
record_until() {
  local want=$1 out=$2; shift 2
  "$SKYSPOOL_BIN" record --source "$SRC" --wanted-collections '*' --out "$out" "$@" 2> "$out.log" &
  local pid=$!; SS_PIDS+=("$pid")
  ss_wait_for 60 bash -c "[ -f '$out' ] && [ \$(wc -l < '$out') -ge $want ]" || true
  sleep 1.2 # more would arrive now if anything were repeated
  kill -TERM "$pid"; wait "$pid" || true
}

# 1. Default limit: the capture is the served file, byte for byte.
record_until "$n" rec.jsonl
ss_check "the server closed the connection several times" test "$(grep -c 'closing after' "$RP_LOG_a")" -ge 3
ss_eq "every message once: as many lines as served" "$n" "$(wc -l < rec.jsonl)"
ss_check "the capture is the served file byte for byte (order, malformed line, 3 MB event)" cmp -s in.jsonl rec.jsonl
ss_check "it says how many repeats it skipped" grep -q "repeats skipped" rec.jsonl.log
ss_check "no rejects file when nothing was rejected" test ! -e rec.jsonl.rejects

# 2. --max-message-bytes 2mb: the 3 MB event is cut, and kept raw in rec2.jsonl.rejects.
record_until $((n - 1)) rec2.jsonl --max-message-bytes 2mb
ss_check "with a 2 MB limit the capture is the rest of the file" cmp -s <(grep -v bigbigbig in.jsonl) rec2.jsonl
sz=$(stat -c %s rec2.jsonl.rejects 2>/dev/null || echo 0)
ss_eq "one rejected message kept: a 4-byte length and its first 64 KiB" $((4 + 65536)) "$sz"
ss_check "the kept bytes are the event's own" cmp -s <(tail -c +5 rec2.jsonl.rejects) <(printf '%s' "$big" | head -c 65536)

ss_done
