#!/usr/bin/env bash
# jetstream: with compress=true: every message is a zstd frame made with a shared
# dictionary: one trained here with `zstd --train` on synth output, and Jetstream's own
# ($SKYSPOOL_SHARED/jetstream/zstd_dictionary) in addition when present; the events
# round-trip byte for byte, fewer bytes cross the wire, and a client without the dictionary
# is told where to get it. Loopback only.
source "$SKYSPOOL_SRC/tests/lib/harness.sh"
source "$SKYSPOOL_SRC/tests/lib/net.sh"

net_train_dict "$ZDICT"
ss_check "the trained dictionary is Jetstream-sized (112640 bytes)" test "$(stat -c %s "$ZDICT")" -eq 112640
IN="$SS_TMP/in.jsonl"
net_gen 20000 1000 "$IN"
net_expect "$IN" app.bsky.feed.post,app.bsky.feed.like,app.bsky.feed.repost,app.bsky.graph.follow,app.bsky.graph.block \
  > "$SS_TMP/exp"
n=$(wc -l < "$SS_TMP/exp")

# compress_run LABEL DICT: the round trips and the byte count with one dictionary.
compress_run() {
local label=$1 ZDICT=$2
net_replay z --jsonl "$IN" --zstd-dictionary "$ZDICT"
URL="ws://127.0.0.1:$RP_PORT_z/subscribe"
timeout 60 "$SKYSPOOL_BIN" cat --source "jetstream:$URL" --compress --zstd-dictionary "$ZDICT" --limit "$n" \
  > "$SS_TMP/out1" 2> "$SS_TMP/cat1.log"
ss_check "$label: compress=true: identical to the input ($n events)" cmp -s "$SS_TMP/exp" "$SS_TMP/out1"
ss_check "the request asked for compress=true" grep -q "compress=true" "$SS_TMP/cat1.log"
ss_check "no message was rejected" grep -q "0 bad messages" "$SS_TMP/cat1.log"
net_replay zf --jsonl "$IN" --zstd-dictionary "$ZDICT" --fragment 100
timeout 60 "$SKYSPOOL_BIN" cat --source "jetstream:ws://127.0.0.1:$RP_PORT_zf/subscribe" --compress \
  --zstd-dictionary "$ZDICT" --limit "$n" > "$SS_TMP/outf" 2>/dev/null
ss_check "$label: compress=true in 100-byte fragments: identical" cmp -s "$SS_TMP/exp" "$SS_TMP/outf"
net_stop "$RP_PID_zf"
net_stop "$RP_PID_z"
zbytes=$(sed -n 's/.*stopping: .* messages, \([0-9]*\) bytes sent.*/\1/p' "$RP_LOG_z")

net_replay plain --jsonl "$IN"
timeout 60 "$SKYSPOOL_BIN" cat --source "jetstream:ws://127.0.0.1:$RP_PORT_plain/subscribe" --limit "$n" \
  > "$SS_TMP/out2" 2>/dev/null
net_stop "$RP_PID_plain"
pbytes=$(sed -n 's/.*stopping: .* messages, \([0-9]*\) bytes sent.*/\1/p' "$RP_LOG_plain")
ss_check "$label: uncompressed run identical too" cmp -s "$SS_TMP/exp" "$SS_TMP/out2"
ss_log "bytes on the wire: compressed $zbytes, plain $pbytes"
ss_check "$label: compressed bytes ($zbytes) under 60% of plain ($pbytes)" test "$zbytes" -gt 0 -a $((zbytes * 100)) -lt $((pbytes * 60))
}
compress_run trained "$ZDICT"
if ss_shared "Jetstream's own dictionary" jetstream/zstd_dictionary; then
  compress_run jetstream "$ZDICT_REAL"
fi
URL="ws://127.0.0.1:$RP_PORT_z/subscribe"

# Without the dictionary the source refuses to start and says where to get it.
set +e
"$SKYSPOOL_BIN" cat --source "jetstream:$URL" --compress --limit 1 > /dev/null 2> "$SS_TMP/nodict.log"
rc=$?
set -e
ss_check "compress without a dictionary fails (exit $rc)" test "$rc" -ne 0
ss_check "the error names pkg/models/zstd_dictionary" grep -q "pkg/models/zstd_dictionary" "$SS_TMP/nodict.log"

# compress=true against a server that has no dictionary: refused with a policy close.
net_replay nodict --jsonl "$IN"
set +e
timeout 3 "$SKYSPOOL_BIN" cat --source "jetstream:ws://127.0.0.1:$RP_PORT_nodict/subscribe" --compress \
  --zstd-dictionary "$ZDICT" --limit 1 > "$SS_TMP/out3" 2> "$SS_TMP/cat3.log"
set -e
ss_eq "server without a dictionary sends nothing compressed" 0 "$(wc -l < "$SS_TMP/out3")"
ss_check "the server says why" grep -q "compress=true needs" "$RP_LOG_nodict"

ss_done
