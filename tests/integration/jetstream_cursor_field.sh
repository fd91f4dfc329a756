#!/usr/bin/env bash
# Newer Jetstreams add an integer "cursor" (the instance's own position) to each event.
# When present, a reconnect resumes from it exactly: with the server closing every
# connection (--close-after) every event arrives exactly once, and each reconnect asked for
# the last event's cursor. Without it the client falls back to time_us minus the 5 s margin
# (duplicates, removed downstream; `record` skips them). Loopback only.
source "$SKYSPOOL_SRC/tests/lib/harness.sh"
source "$SKYSPOOL_SRC/tests/lib/net.sh"
cd "$SS_TMP"
"$SKYSPOOL_BIN" synth --events 1200 --seed 21 |
  awk '{ sub(/"time_us":[0-9]+/, "\"time_us\":" sprintf("%.0f", 1750000000000000 + NR * 100000)); print }' > plain.jsonl
# the newer wire: "cursor" = 500000 + line number, appended at the top level
awk '{ sub(/}$/, ",\"cursor\":" (500000 + NR) "}"); print }' plain.jsonl > v2.jsonl
n=$(wc -l < v2.jsonl)

# 1. With the cursor field: exact resumes.
net_replay v2 --jsonl v2.jsonl --close-after 250
timeout 60 "$SKYSPOOL_BIN" cat --source "jetstream:ws://127.0.0.1:$RP_PORT_v2/subscribe" --wanted-collections '*' \
  --limit "$n" > v2.out 2> v2.log || true
ss_eq "cursor field: every event" "$n" "$(net_unique v2.out)"
ss_eq "cursor field: no duplicates (exact resume)" "$n" "$(wc -l < v2.out)"
ss_check "cursor field: the same events, in order" cmp -s v2.jsonl v2.out
ss_check "cursor field: reconnected ($(grep -c 'connected to' v2.log) connections)" test "$(grep -c 'connected to' v2.log)" -ge 4
ss_check "cursor field: the 2nd connection asked for the 250th event's cursor" grep -q "connected to .*cursor=500250" v2.log
net_stop "$RP_PID_v2"

# 2. Without it: time_us minus the margin, overlap.
net_replay v1 --jsonl plain.jsonl --close-after 250
# (cat shows what the source yields, repeats included; it ends cleanly on timeout's SIGTERM)
timeout 8 "$SKYSPOOL_BIN" cat --source "jetstream:ws://127.0.0.1:$RP_PORT_v1/subscribe" --wanted-collections '*' \
  > v1.out 2> v1.log || true
ss_eq "no cursor field: every event" "$n" "$(net_unique v1.out)"
ss_check "no cursor field: the rewind repeats some ($(wc -l < v1.out) lines)" test "$(wc -l < v1.out)" -gt "$n"
t250=$(sed -n 250p plain.jsonl | jq .time_us)
ss_check "no cursor field: the 2nd connection asked for time_us - 5 s" grep -q "connected to .*cursor=$((t250 - 5000000))" v1.log
# record recognises the repeats by time_us: its capture is the served file
timeout 60 "$SKYSPOOL_BIN" record --source "jetstream:ws://127.0.0.1:$RP_PORT_v1/subscribe" --wanted-collections '*' \
  --limit "$n" --out v1.rec 2> v1rec.log || true
ss_check "no cursor field: record keeps each event once, in order" cmp -s plain.jsonl v1.rec
net_stop "$RP_PID_v1"
ss_done
