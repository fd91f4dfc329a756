#!/usr/bin/env bash
# What a jetstream: source asks for decides what can arrive: with keep-other and no
# wanted-collections, `ingest` must subscribe to every collection (before, it asked for the
# archived types only, so <prefix>other stayed empty whatever keep-other said); a
# wanted-collections the user set is kept. Loopback only, against replay-server, which
# filters as Jetstream does.
source "$SKYSPOOL_SRC/tests/lib/harness.sh"
source "$SKYSPOOL_SRC/tests/lib/net.sh"
cd "$SS_TMP"

net_gen 2000 1000 in.jsonl
ARCHIVED='app.bsky.feed.post,app.bsky.feed.like,app.bsky.feed.repost,app.bsky.graph.follow,app.bsky.graph.block'
n_other=$(jq -r 'select(.kind=="commit") | .commit.collection' in.jsonl | grep -cvxF -e "${ARCHIVED//,/$'\n'}")
ss_check "the input has events of other collections ($n_other)" test "$n_other" -ge 50
net_replay a --jsonl in.jsonl
SRC="jetstream:ws://127.0.0.1:$RP_PORT_a/subscribe"
ss_start_redis r
cli() { redis-cli -p "$REDIS_PORT_r" "$@"; }

# 1. keep-other, nothing else set: every collection is asked for, every other event kept.
"$SKYSPOOL_BIN" ingest --source "$SRC" --redis "$REDIS_URL_r" --keep-other > ing1.json 2> ing1.log &
ing=$!; SS_PIDS+=("$ing")
ss_wait_for 20 bash -c "[ \"\$(redis-cli -p $REDIS_PORT_r xlen skyspool:other)\" -ge $n_other ]" || true
sleep 0.3
kill -TERM "$ing"; wait "$ing" || true
ss_eq "keep-other: every event of another collection is in skyspool:other" "$n_other" "$(cli xlen skyspool:other)"
ss_check "keep-other: the request named no wantedCollections" \
  bash -c "grep 'connected to' ing1.log | grep -qv wantedCollections"

# 2. keep-other with wanted-collections set: what the user set is asked for, and kept.
cli del skyspool:other > /dev/null
SKYSPOOL_WANTED_COLLECTIONS=app.bsky.graph.listitem "$SKYSPOOL_BIN" ingest --source "$SRC" --redis "$REDIS_URL_r" \
  --keep-other > ing2.json 2> ing2.log &
ing=$!; SS_PIDS+=("$ing")
n_li=$(grep -c '"collection":"app.bsky.graph.listitem"' in.jsonl)
ss_wait_for 20 bash -c "[ \"\$(redis-cli -p $REDIS_PORT_r xlen skyspool:other)\" -ge $n_li ]" || true
sleep 0.3
kill -TERM "$ing"; wait "$ing" || true
ss_eq "keep-other + wanted-collections: exactly the listitem events are kept" "$n_li" "$(cli xlen skyspool:other)"
ss_check "keep-other + wanted-collections: the request asked for them" \
  grep -q "connected to .*wantedCollections=app.bsky.graph.listitem" ing2.log

# 3. wanted-dids: a file of 10,000 DIDs (3 of them in the input), through record.
jq -r .did in.jsonl | awk '!seen[$0]++' > all-dids
A=$(sed -n 1,3p all-dids); B=$(sed -n 4,5p all-dids)
{ echo "# accounts to follow"; echo "$A"
  python3 -c "print('\n'.join('did:plc:%024d' % i for i in range(9997)))"; } > dids.txt
ss_eq "the DID file holds 10,000 DIDs" 10000 "$(grep -c '^did:' dids.txt)"
want_a=$(jq -c --arg a "$A" 'select(.did as $d | $a | split("\n") | index($d))' in.jsonl | wc -l)
"$SKYSPOOL_BIN" record --source "$SRC" --wanted-collections '*' --wanted-dids dids.txt --out dids.jsonl \
  2> rec-dids.log &
rec=$!; SS_PIDS+=("$rec")
ss_wait_for 20 bash -c "[ -f dids.jsonl ] && [ \$(wc -l < dids.jsonl) -ge $want_a ]" || true
sleep 1.2
kill -TERM "$rec"; wait "$rec" || true
ss_eq "wanted-dids: every event of the 3 accounts arrived, and nothing else" "$want_a" "$(wc -l < dids.jsonl)"
ss_eq "wanted-dids: only those DIDs" "$(printf '%s\n' "$A" | sort)" "$(jq -r .did dids.jsonl | sort -u)"
ss_check "wanted-dids: the request held events back (requireHello=true)" grep -q "connected to .*requireHello=true" rec-dids.log
ss_check "wanted-dids: the server got the options_update with 10,000 DIDs" \
  grep -q "options_update: 0 wanted collections, 10000 wanted DIDs; starting (requireHello)" "$RP_LOG_a"

# 4. The file changes mid-stream: the new set goes out as an options_update on the open connection.
# (paced by time_us: --rate counts only what is sent, and the filter skips the rest at once)
head -1500 in.jsonl | jq -c '.time_us = (.time_us - 1750000000000000) * 2 + 1750000000000000' > slow.jsonl # 2 ms apart: 3 s
net_replay slow --jsonl slow.jsonl --original-timing
jq -r .did slow.jsonl | awk '!seen[$0]++' > slow-dids
A=$(sed -n 1,3p slow-dids); B=$(sed -n 4,5p slow-dids)
printf '%s\n' "$A" > dids2.txt
"$SKYSPOOL_BIN" record --source "jetstream:ws://127.0.0.1:$RP_PORT_slow/subscribe" --wanted-collections '*' \
  --wanted-dids dids2.txt --out dids2.jsonl 2> rec-dids2.log &
rec=$!; SS_PIDS+=("$rec")
ss_wait_for 20 bash -c "[ -s dids2.jsonl ]" || true
printf '# changed\n%s\n' "$B" > dids2.txt.new && mv dids2.txt.new dids2.txt
ss_wait_for 20 grep -q "wanted-dids changed" rec-dids2.log || true
ss_wait_for 20 grep -q "end of input" "$RP_LOG_slow" || true
sleep 1.2
kill -TERM "$rec"; wait "$rec" || true
ss_check "change: the file was read again and sent" grep -q "wanted-dids changed (2 DIDs, were 3): sent options_update" rec-dids2.log
ss_check "change: the server applied it on the same connection" grep -q "options_update: 0 wanted collections, 2 wanted DIDs$" "$RP_LOG_slow"
ss_eq "change: one connection only" 1 "$(grep -c 'connected to' rec-dids2.log)"
python3 - dids2.jsonl "$A" "$B" <<'PY' && ss_pass "change: the first set's events, then the second's, nothing else" || ss_fail "change: events by set ($(jq -r .did dids2.jsonl | uniq -c | tr '\n' ' '))"
import json, sys
a, b = set(sys.argv[2].split()), set(sys.argv[3].split())
dids = [json.loads(l)["did"] for l in open(sys.argv[1])]
first_b = next((i for i, d in enumerate(dids) if d in b), None)
ok = (all(d in a | b for d in dids) and first_b is not None and first_b > 0
      and sum(1 for d in dids[first_b:] if d in a) <= 1)   # at most the one record already loaded
sys.exit(0 if ok else 1)
PY

# 5. Over the limit: 10,001 DIDs are refused with a message saying so.
{ cat dids.txt; echo "did:plc:one-too-many"; } > dids-over.txt
rc=0; "$SKYSPOOL_BIN" cat --source "$SRC" --wanted-dids dids-over.txt --limit 1 > /dev/null 2> over.log || rc=$?
ss_check "10,001 DIDs: refused (exit $rc)" test "$rc" -ne 0
ss_check "10,001 DIDs: the message names the limit" grep -q "too many wanted DIDs: 10001 (Jetstream allows at most 10000)" over.log

ss_done
