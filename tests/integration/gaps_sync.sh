#!/usr/bin/env bash
# Gap records and the sync type, end to end: replay-server (tests/integration/replay_emulation.sh
# has the protocol side) makes the live sources detect each kind of gap while `skyspool ingest`
# buffers into a real redis-server; then the writer moves the gaps into its ledger (once, also
# when it is killed between its ledger commit and the delete from Redis) and archives the
# #sync frames as type=sync rows.
#   firehose, --future-cursor      cursor 99999 -> future_cursor 99999..-1, then live (2 #sync)
#   firehose, --outdated-cursor    cursor 3, window 30 -> outdated_cursor 3..oldest-1
#   firehose, --seq-reset          1000.. then 10.. -> seq_reset 1009..10
#   jetstream, --window 40         cursor at event 1 -> clamped_cursor .. first retained - 1
# Asserted: `gaps --json` before (where=redis) and after the writer (where=ledger), the ledger
# table, skyspool_source_gaps_total, `status --json`, and the sync rows read back by DuckDB.
# Fixtures are made here (synth, fh_mkframes). Loopback only.
source "$SKYSPOOL_SRC/tests/lib/harness.sh"
source "$SKYSPOOL_SRC/tests/lib/net.sh"
MK=${SKYSPOOL_BUILD:?run through ctest}/fh_mkframes
B=$SKYSPOOL_BIN
cd "$SS_TMP"
P=/xrpc/com.atproto.sync.subscribeRepos
ss_start_redis r
U=$REDIS_URL_r
RC="redis-cli -p $REDIS_PORT_r"

# 60 commits (distinct revs: one frame each, seqs 1..60), then two #sync frames, seqs 61, 62.
"$B" synth --events 90 --seed 11 > s.jsonl
grep '"kind":"commit"' s.jsonl | awk 'NR <= 60 { sub(/"rev":"[^"]*"/, "\"rev\":\"3g" sprintf("%06d", NR) "\""); print }' > c.jsonl
N=$(wc -l < c.jsonl)
for i in 1 2; do
  printf '{"did":"did:plc:syncrepo%d","time_us":1,"kind":"sync","sync":{"did":"did:plc:syncrepo%d","rev":"3syncrev%d","seq":%d,"time":"2026-05-25T14:23:2%d.000Z"}}\n' \
    "$i" "$i" "$i" $((N + i)) "$i" >> c.jsonl
done
"$MK" --expect exp.jsonl --seqs seqs.txt f.frames < c.jsonl 2> mk.log
F=$(tail -1 seqs.txt)
ss_eq "fixture: $N commits and 2 #sync frames, last seq $F" $((N + 2)) "$F"
ss_eq "fixture: the decoder turns #sync into sync events" 2 "$(grep -c '"kind":"sync"' exp.jsonl)"

ingest() { # NAME SOURCE MAX: ingest MAX messages
  timeout 60 "$B" ingest --redis "$U" --source "$2" --limit "$3" --json > "ing-$1.json" 2> "ing-$1.log" ||
    { echo "ingest $1 failed" >> ing-failed; cat "ing-$1.log" >&2; }
}

# Three firehose relays at once (independent sources, so the three ingesters run side by side):
# 1. FutureCursor (its error frame is one message, for the DLQ), then live: the frames after
#    the first 20 (the #sync frames among them).
# 2. OutdatedCursor: 30 retained, cursor 3.
# 3. A seq reset: seqs 1000..1009, then 10..; a reconnect every 15 frames.
W=30
oldest=$(sed -n "$((F - W + 1))p" seqs.txt)
"$MK" --seq-start 1000 --expect rexp.jsonl r.frames < <(head -20 c.jsonl) 2>> mk.log
net_replay fc --frames f.frames --history 20 --future-cursor
net_replay oc --frames f.frames --window $W --outdated-cursor
net_replay sr --frames r.frames --seq-reset 10:10 --close-after 15 --future-cursor
ingest fc "firehose:ws://127.0.0.1:$RP_PORT_fc$P?cursor=99999" $((F - 20 + 1)) &
I1=$!
ingest oc "firehose:ws://127.0.0.1:$RP_PORT_oc$P?cursor=3" $W &
I2=$!
ingest sr "firehose:ws://127.0.0.1:$RP_PORT_sr$P" 20 &
I3=$!
SS_PIDS+=("$I1" "$I2" "$I3")
wait "$I1" "$I2" "$I3" || true
ss_check "the three firehose ingesters ran" test ! -e ing-failed
net_stop "$RP_PID_fc"
net_stop "$RP_PID_oc"
net_stop "$RP_PID_sr"
ss_eq "future cursor: the ingester stored 1 gap" 1 "$(jq .gaps ing-fc.json)"
ss_eq "future cursor: and 2 sync events" 2 "$(jq .types.sync ing-fc.json)"
ss_eq "outdated cursor: 1 gap" 1 "$(jq .gaps ing-oc.json)"
ss_eq "seq reset: 1 gap" 1 "$(jq .gaps ing-sr.json)"

# 4. Jetstream's clamp: events 1 s apart, the last 40 retained, a cursor at the first one.
# This ingester runs until stopped, with its metrics endpoint, which must count the gap.
"$B" synth --events 150 --seed 7 |
  awk '{ sub(/"time_us":[0-9]+/, "\"time_us\":" sprintf("%.0f", 1750000000000000 + NR * 1000000)); print }' > j.jsonl
net_replay jc --jsonl j.jsonl --window 40
MP=$(ss_free_port)
"$B" ingest --redis "$U" --source "jetstream:ws://127.0.0.1:$RP_PORT_jc/subscribe?cursor=1750000001000000" \
  --set 'wanted-collections=*' --set "metrics-listen=127.0.0.1:$MP" > ing-jc.json 2> ing-jc.log &
ING=$!
SS_PIDS+=("$ING")
ss_check "clamp: skyspool_source_gaps_total{reason=\"clamped_cursor\"} 1 on the ingester's /metrics" \
  ss_wait_for 30 bash -c "curl -sf http://127.0.0.1:$MP/metrics | grep -qx 'skyspool_source_gaps_total{reason=\"clamped_cursor\"} 1'"
curl -sf "http://127.0.0.1:$MP/metrics" > metrics.txt || true
ss_eq "clamp: no other reason counted by that ingester" 0 \
  "$(grep '^skyspool_source_gaps_total' metrics.txt | grep -v clamped_cursor | awk '{ s += $2 } END { print s + 0 }')"
net_stop "$ING"
net_stop "$RP_PID_jc"

# Before any writer: all four are in Redis, none in a ledger.
ss_eq "Redis holds 4 gap records" 4 "$($RC xlen skyspool:gaps)"
"$B" gaps --redis "$U" --data-dir dd --json > g0.json 2> g0.err || { ss_fail "gaps failed"; cat g0.err >&2; }
ss_eq "gaps --json before the writer: 4, all only in Redis" "4 0 4 4" \
  "$(jq -r '[.total, .in_ledger, .only_in_redis, ([.gaps[] | select(.where == "redis")] | length)] | join(" ")' g0.json)"
"$B" status --redis "$U" --json > s0.json
ss_eq "status --json before the writer: 4 pending, 0 committed" "4 4 0" \
  "$(jq -r '[.gaps.total, .gaps.pending, .gaps.committed] | join(" ")' s0.json)"

# The writer, killed right after its ledger commit of the gaps, before the delete from Redis.
rc=0
SKYSPOOL_CRASH_AT=after_gap_ledger "$B" write --redis "$U" --out arch --data-dir dd --consumer w1 --once --all \
  > w1.out 2> w1.err || rc=$?
ss_eq "writer killed at after_gap_ledger" 137 "$rc"
ss_eq "killed: the ledger has the 4 gaps" 4 "$(sqlite3 dd/ledger.sqlite 'SELECT count(*) FROM gaps')"
ss_eq "killed: Redis still has them (not deleted before the kill)" 4 "$($RC xlen skyspool:gaps)"
"$B" gaps --redis "$U" --data-dir dd --json > g1.json
ss_eq "gaps --json in between: 4, each shown once, from the ledger" "4 4 0" \
  "$(jq -r '[.total, .in_ledger, .only_in_redis] | join(" ")' g1.json)"

# The retry: commits the events, finds the gaps committed already, deletes them from Redis.
"$B" write --redis "$U" --out arch --data-dir dd --consumer w1 --once --all > w2.out 2> w2.err ||
  { ss_fail "writer retry failed"; cat w2.err >&2; }
ss_eq "after the retry: the ledger has each gap once (4 rows, 4 distinct ids)" "4 4" \
  "$(sqlite3 dd/ledger.sqlite 'SELECT count(*), count(DISTINCT stream_id) FROM gaps' | tr '|' ' ')"
ss_eq "after the retry: Redis has none left" 0 "$($RC xlen skyspool:gaps)"
ss_eq "after the retry: gaps-seen counts 4 deleted" 4 "$($RC hget skyspool:gaps-seen committed)"

"$B" gaps --redis "$U" --data-dir dd --json > g2.json
ss_eq "gaps --json: 4, all in the ledger" "4 4 0" "$(jq -r '[.total, .in_ledger, .only_in_redis] | join(" ")' g2.json)"
gap() { jq -r --arg r "$1" '[.gaps[] | select(.reason == $r) | "\(.unit) \(.from) \(.to) \(.where)"] | join(",")' g2.json; }
ss_eq "future_cursor: seq 99999..-1" "seq 99999 -1 ledger" "$(gap future_cursor)"
ss_eq "outdated_cursor: seq 3..$((oldest - 1))" "seq 3 $((oldest - 1)) ledger" "$(gap outdated_cursor)"
ss_eq "seq_reset: seq 1009..10" "seq 1009 10 ledger" "$(gap seq_reset)"
ss_eq "clamped_cursor: time_us 1750000001000000..1750000110999999" \
  "time_us 1750000001000000 1750000110999999 ledger" "$(gap clamped_cursor)"
ss_eq "every gap names its source" 4 "$(jq '[.gaps[] | select(.source | test("^(firehose|jetstream):"))] | length' g2.json)"
"$B" gaps --redis "$U" --data-dir dd > g2.txt
ss_check "gaps (text) lists the four and the totals" \
  grep -q '^4 gaps: 4 in the ledger, 0 only in Redis' g2.txt

"$B" status --redis "$U" --json > s1.json
ss_eq "status --json after: 4 committed, 0 pending, latest is the clamp" "4 4 0 clamped_cursor ledger" \
  "$(jq -r '[.gaps.total, .gaps.committed, .gaps.pending, .gaps.last.reason, .gaps.last.where] | join(" ")' s1.json)"
"$B" status --redis "$U" > s1.txt
ss_check "status (text) shows the gap count" grep -q '^gaps     4 (4 in the writer' s1.txt

# The sync rows: one per repo, deduplicated (both firehose runs saw them), with did, rev, seq
# and the claimed time.
q="SELECT count(*) AS n, string_agg(did || ' ' || rev || ' ' || seq || ' ' || strftime(claimed_time, '%S'), ',' ORDER BY seq) AS v,
   bool_and(kind = 'sync') AS k, bool_and(time_us > 0) AS t FROM read_parquet('arch/**/type=sync/*.parquet')"
ss_node duck_query.mjs "$q" > sync.json 2> duck.err || { ss_fail "DuckDB could not read type=sync"; cat duck.err >&2; }
ss_eq "DuckDB: the type=sync partition holds both repos once, with did, rev, seq and claimed time" \
  "2 did:plc:syncrepo1 3syncrev1 $((N + 1)) 21,did:plc:syncrepo2 3syncrev2 $((N + 2)) 22 true true" \
  "$(jq -r '.[0] | "\(.n) \(.v) \(.k) \(.t)"' sync.json)"
ss_check "verify: the archive, type=sync included, matches the ledger" "$B" verify --out arch --data-dir dd
ss_done
