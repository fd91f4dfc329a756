#!/usr/bin/env bash
# jetstream: over ws:// from the replay server: what `cat` prints equals the input,
# filtered by wantedCollections as Jetstream filters it (default archived types, NSID
# lists, prefix.* forms; identity/account always pass), and cursor=<time_us> starts at
# the right event. Loopback only.
source "$SKYSPOOL_SRC/tests/lib/harness.sh"
source "$SKYSPOOL_SRC/tests/lib/net.sh"

IN="$SS_TMP/in.jsonl"
net_gen 20000 1000 "$IN"
net_replay js --jsonl "$IN"
URL="ws://127.0.0.1:$RP_PORT_js/subscribe"

# 1. Default wantedCollections: the five archived collections.
net_expect "$IN" app.bsky.feed.post,app.bsky.feed.like,app.bsky.feed.repost,app.bsky.graph.follow,app.bsky.graph.block \
  > "$SS_TMP/exp1"
n1=$(wc -l < "$SS_TMP/exp1")
timeout 60 "$SKYSPOOL_BIN" cat --source "jetstream:$URL" --limit "$n1" > "$SS_TMP/out1" 2> "$SS_TMP/cat1.log"
ss_eq "default filter: event count" "$n1" "$(wc -l < "$SS_TMP/out1")"
ss_check "default filter: identical bytes, same order" cmp -s "$SS_TMP/exp1" "$SS_TMP/out1"
ss_check "default filter drops other collections (profile)" bash -c "! grep -q app.bsky.actor.profile '$SS_TMP/out1'"
ss_check "identity events pass the filter" grep -q '"kind":"identity"' "$SS_TMP/out1"
ss_check "account events pass the filter" grep -q '"kind":"account"' "$SS_TMP/out1"
ss_check "the request asked for the five collections" \
  grep -q 'wantedCollections=app.bsky.feed.post&wantedCollections=app.bsky.feed.like&wantedCollections=app.bsky.feed.repost&wantedCollections=app.bsky.graph.follow&wantedCollections=app.bsky.graph.block' "$SS_TMP/cat1.log"

# 2. A configured NSID list.
net_expect "$IN" app.bsky.feed.like > "$SS_TMP/exp2"
n2=$(wc -l < "$SS_TMP/exp2")
timeout 60 "$SKYSPOOL_BIN" cat --source "jetstream:$URL" --wanted-collections app.bsky.feed.like --limit "$n2" \
  > "$SS_TMP/out2" 2>/dev/null
ss_check "--wanted-collections app.bsky.feed.like: identical" cmp -s "$SS_TMP/exp2" "$SS_TMP/out2"
ss_eq "only likes among commits" 0 "$(grep '"kind":"commit"' "$SS_TMP/out2" | grep -vc '"collection":"app.bsky.feed.like"' || true)"

# 3. The prefix form, given in the URL itself (the URL's own parameters win).
net_expect "$IN" 'app.bsky.graph.*' > "$SS_TMP/exp3"
n3=$(wc -l < "$SS_TMP/exp3")
timeout 60 "$SKYSPOOL_BIN" cat --source "jetstream:$URL?wantedCollections=app.bsky.graph.*" --limit "$n3" \
  > "$SS_TMP/out3" 2>/dev/null
ss_check "wantedCollections=app.bsky.graph.* in the URL: identical" cmp -s "$SS_TMP/exp3" "$SS_TMP/out3"

# 4. cursor=<time_us>: from the first event at or after it.
CUR=$(sed -n '12345p' "$IN" | python3 -c 'import json,sys; print(json.load(sys.stdin)["time_us"])')
net_expect "$IN" 'app.bsky.*,place.stream.*' "$CUR" > "$SS_TMP/exp4"
n4=$(wc -l < "$SS_TMP/exp4")
timeout 60 "$SKYSPOOL_BIN" cat --source "jetstream:$URL?wantedCollections=app.bsky.*&wantedCollections=place.stream.*" \
  --cursor "$CUR" --limit "$n4" > "$SS_TMP/out4" 2> "$SS_TMP/cat4.log"
ss_check "--cursor $CUR with two prefixes: identical from event 12345 on" cmp -s "$SS_TMP/exp4" "$SS_TMP/out4"
ss_check "the second prefix passes its collection" grep -q place.stream.broadcast.origin "$SS_TMP/out4"
ss_check "collections outside both prefixes are dropped" bash -c "! grep -q org.hypercerts '$SS_TMP/out4'"
ss_eq "first event is the one at the cursor" "$CUR" "$(head -1 "$SS_TMP/out4" | python3 -c 'import json,sys; print(json.load(sys.stdin)["time_us"])')"
ss_check "the request carried cursor=$CUR" grep -q "cursor=$CUR" "$SS_TMP/cat4.log"

# 4b. A cursor older than what the server has: Jetstream starts at its oldest event without
#     saying so; the source notices the gap, warns and counts it.
FIRST=$(head -1 "$IN" | python3 -c 'import json,sys; print(json.load(sys.stdin)["time_us"])')
timeout 30 "$SKYSPOOL_BIN" cat --source "jetstream:$URL" --cursor $((FIRST - 3600000000)) --limit 5 \
  > "$SS_TMP/out4b" 2> "$SS_TMP/cat4b.log"
ss_eq "old cursor: served from the oldest event" 5 "$(wc -l < "$SS_TMP/out4b")"
ss_check "old cursor: the gap is reported" grep -q "older than the server's retention window" "$SS_TMP/cat4b.log"
ss_check "old cursor: counted" grep -q " 1 clamped cursors" "$SS_TMP/cat4b.log"

# 5. Fragmented messages are reassembled (the server splits each into 37-byte frames), and
#    messages over --max-message-bytes are reported as too_large, not printed, not lost.
net_replay frag --jsonl "$IN" --fragment 37
timeout 60 "$SKYSPOOL_BIN" cat --source "jetstream:ws://127.0.0.1:$RP_PORT_frag/subscribe" --limit "$n1" \
  > "$SS_TMP/out5" 2>/dev/null
ss_check "37-byte fragments: reassembled, identical" cmp -s "$SS_TMP/exp1" "$SS_TMP/out5"
# Every 50th event of the first 2000 gets a long record field: 40 events over 1 KiB.
python3 - "$IN" "$SS_TMP/big.jsonl" <<'PY'
import json, sys
out = open(sys.argv[2], "w", encoding="utf-8")
for i, line in enumerate(open(sys.argv[1], encoding="utf-8")):
    if i == 2000:
        break
    ev = json.loads(line)
    if i % 50 == 0:
        ev["commit" if ev["kind"] == "commit" else ev["kind"]]["padding"] = "x" * 3000
    out.write(json.dumps(ev, separators=(",", ":"), ensure_ascii=False) + "\n")
PY
LC_ALL=C awk 'length($0) <= 1024' "$SS_TMP/big.jsonl" > "$SS_TMP/exp6"
nover=$(LC_ALL=C awk 'length($0) > 1024' "$SS_TMP/big.jsonl" | wc -l) # the padded 40, and any long post
n6=$(wc -l < "$SS_TMP/exp6")
net_replay big --jsonl "$SS_TMP/big.jsonl" --fragment 300
timeout 60 "$SKYSPOOL_BIN" cat --source "jetstream:ws://127.0.0.1:$RP_PORT_big/subscribe" --wanted-collections '*' \
  --max-message-bytes 1kb --limit "$n6" --quiet > "$SS_TMP/out6" 2> "$SS_TMP/cat6.log"
ss_check "over 1 KiB: the other events are identical ($n6)" cmp -s "$SS_TMP/exp6" "$SS_TMP/out6"
ss_check "over 1 KiB: reported as too_large, not printed" grep -Eq "too_large=[0-9]+" "$SS_TMP/cat6.log"
nbad=$(sed -n 's/.*too_large=\([0-9]*\).*/\1/p' "$SS_TMP/cat6.log")
ss_eq "too_large: exactly the events over 1 KiB (the 40 padded ones and long posts)" "$nover" "${nbad:-0}"
ss_check "too_large: at least the 40 padded events" test "$nover" -ge 40

# 6. Bad URLs are refused before connecting.
set +e
"$SKYSPOOL_BIN" cat --source "jetstream:http://127.0.0.1:$RP_PORT_js/subscribe" --limit 1 > /dev/null 2> "$SS_TMP/bad.log"
rc=$?
set -e
ss_check "http:// URL refused (exit $rc)" test "$rc" -ne 0
ss_check "error says what to fix" grep -q 'ws:// or wss://' "$SS_TMP/bad.log"

ss_done
