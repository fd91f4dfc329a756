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

ss_done
