#!/usr/bin/env bash
# firehose: time_us is skyspool's receipt clock, not the PDS's claimed `time`: a like
# claiming 2099 arrives with time_us = now (it would otherwise pin the Redis buffer, which
# trims by time_us, for decades), never decreasing; the claim is kept verbatim as
# commit.time and lands in the archive's claimed_time column. A frames: replay of the same
# frames is deterministic (the replay clock) and does not believe the 2099 claim either.
# Loopback only.
source "$SKYSPOOL_SRC/tests/lib/harness.sh"
source "$SKYSPOOL_SRC/tests/lib/net.sh"
MK=${SKYSPOOL_BUILD:?run through ctest}/fh_mkframes
cd "$SS_TMP"
"$SKYSPOOL_BIN" synth --events 200 --seed 4 | grep '"kind":"commit"' > in.jsonl
# the 50th event claims 2099-01-01T00:00:00Z
awk 'NR == 50 { sub(/"time_us":[0-9]+/, "\"time_us\":4070908800000000") } { print }' in.jsonl > in2099.jsonl
"$MK" in.frames < in2099.jsonl 2> mk.log
n=$(timeout 30 "$SKYSPOOL_BIN" cat --source frames:in.frames 2>/dev/null | wc -l)

net_replay fh --frames in.frames
t0=$(date +%s%6N)
timeout 60 "$SKYSPOOL_BIN" cat --source "firehose:ws://127.0.0.1:$RP_PORT_fh/xrpc/com.atproto.sync.subscribeRepos" \
  --wanted-collections '*' --limit "$n" > live.jsonl 2> live.log || true
t1=$(date +%s%6N)
net_stop "$RP_PID_fh"
ss_eq "live: every event" "$n" "$(wc -l < live.jsonl)"
ss_check "live: every time_us is the receipt time (between start and end of the run)" \
  bash -c "jq -r .time_us live.jsonl | awk -v a=$t0 -v b=$t1 '\$1 < a || \$1 > b { bad = 1 } END { exit bad }'"
ss_check "live: time_us never decreases" \
  bash -c "jq -r .time_us live.jsonl | awk 'NR > 1 && \$1 < p { bad = 1 } { p = \$1 } END { exit bad }'"
ss_check "live: the 2099 claim is kept as commit.time" grep -q '"time":"2099-01-01T00:00:00' live.jsonl

# the archive: claimed_time holds the claim, time (and the partition) the receipt
"$SKYSPOOL_BIN" convert --out arch live.jsonl > conv.log 2>&1
ss_check "convert: no partition in 2099" bash -c "! find arch -path '*year=2099*' | grep -q ."
cat > q.mjs <<'JS'
import { DuckDBInstance } from '@duckdb/node-api';
const inst = await DuckDBInstance.create(':memory:');
const con = await inst.connect();
const r = await con.runAndReadAll(`SELECT count(*) FILTER (WHERE year(claimed_time) = 2099)::INT AS future,
  count(*) FILTER (WHERE claimed_time IS NULL)::INT AS nulls, max(year("time"))::INT AS maxyear
  FROM read_parquet('${process.argv[2]}/**/*.parquet')`);
console.log(JSON.stringify(r.getRowObjects()[0]));
JS
cp q.mjs "$SKYSPOOL_SRC/tests/js/.q_$$.mjs"
res=$(cd "$SKYSPOOL_SRC/tests/js" && node ".q_$$.mjs" "$SS_TMP/arch" 2>&1); rm -f "$SKYSPOOL_SRC/tests/js/.q_$$.mjs"
ss_log "archive: $res"
ss_eq "archive: one row claims 2099 in claimed_time" 1 "$(jq .future <<< "$res")"
ss_eq "archive: every firehose row has a claimed_time" 0 "$(jq .nulls <<< "$res")"
ss_check "archive: time is the receipt year" test "$(jq .maxyear <<< "$res")" -le "$(date +%Y)"

# frames: replay: deterministic, and the 2099 claim does not move time_us
timeout 30 "$SKYSPOOL_BIN" cat --source frames:in.frames > r1.jsonl 2>/dev/null
timeout 30 "$SKYSPOOL_BIN" cat --source frames:in.frames > r2.jsonl 2>/dev/null
ss_check "replay: twice the same bytes" cmp -s r1.jsonl r2.jsonl
ss_check "replay: no time_us in 2099" bash -c "jq -r .time_us r1.jsonl | awk '\$1 >= 4070908800000000 { bad = 1 } END { exit bad }'"
ss_done
