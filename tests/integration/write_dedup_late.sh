#!/usr/bin/env bash
# Dedup and late events.
#  1. 60k events with 10% planted duplicates and 2% of events moved up to 15 minutes in
#     time: duplicates are written once; late events land in their own partition.
#  2. Events for windows already written arrive later: they go to extra "late" part files
#     in the right partitions, none dropped, and are counted as late.
#  3. The first input is buffered again (a cursor rewind replaying everything): the dedup
#     horizon survived the restart, so not one row is written again.
source "$SKYSPOOL_SRC/tests/lib/harness.sh"
source "$SKYSPOOL_SRC/tests/lib/writer.sh"
B=$SKYSPOOL_BIN
ss_start_redis r
U=$REDIS_URL_r
# the data spans ~65 min of event time (jitter included): a 3 h horizon covers the replay
W=(--out "$SS_TMP/arch" --data-dir "$SS_TMP/dd" --redis "$U" --dedup-horizon 3h --log-level warn)

"$B" synth --events 60000 --seed 21 --start 2025-06-01T00:00:00Z --rate 20 --dup-frac 0.1 \
  --jitter-frac 0.02 --jitter-us 900000000 --stats "$SS_TMP/st1.json" > "$SS_TMP/a.jsonl"
"$B" ingest --source "file:$SS_TMP/a.jsonl" --redis "$U" --log-level error
"$B" write "${W[@]}" --once --all --json > "$SS_TMP/w1.json"
ws_drained "duplicates + jitter" "$U"
ws_check "duplicates + jitter" "$SS_TMP/arch" "$SS_TMP/a.jsonl" "$SS_TMP/dd"
ingested=$(($(ws_json "$SS_TMP/w1.json" rows) + $(ws_json "$SS_TMP/w1.json" duplicates)))
dups=$(ws_json "$SS_TMP/w1.json" duplicates)
ss_check "duplicates skipped ($dups of $ingested entries)" test "$dups" -ge 5000
late1=$(ws_json "$SS_TMP/w1.json" late_rows)
ss_check "jittered events counted late ($late1)" test "$late1" -gt 0

# 2: more events for the same (already written) hours
"$B" synth --events 3000 --seed 22 --start 2025-06-01T00:10:00Z --rate 2 > "$SS_TMP/b.jsonl"
"$B" ingest --source "file:$SS_TMP/b.jsonl" --redis "$U" --log-level error
"$B" write "${W[@]}" --once --json > "$SS_TMP/w2.json"
cat "$SS_TMP/a.jsonl" "$SS_TMP/b.jsonl" > "$SS_TMP/ab.jsonl"
ws_drained "late arrivals" "$U"
ws_check "late arrivals" "$SS_TMP/arch" "$SS_TMP/ab.jsonl" "$SS_TMP/dd"
late2=$(ws_json "$SS_TMP/w2.json" late_rows); rows2=$(ws_json "$SS_TMP/w2.json" rows)
ss_eq "every late arrival written as late" "$rows2" "$late2"
ss_check "late part files exist" test "$(find "$SS_TMP/arch" -name '*-late.parquet' | wc -l)" -gt 0
"$B" runs --data-dir "$SS_TMP/dd" --limit 0 > "$SS_TMP/runs.txt"
ss_check "runs shows late runs" grep -q ' late ' "$SS_TMP/runs.txt"

# 3: the whole first input again, buffered after a restart of the writer
"$B" ingest --source "file:$SS_TMP/a.jsonl" --redis "$U" --from-start --log-level error
"$B" write "${W[@]}" --once --all --json > "$SS_TMP/w3.json"
ss_eq "a replay writes no row again" 0 "$(ws_json "$SS_TMP/w3.json" rows)"
ss_eq "every replayed entry skipped as a duplicate" "$ingested" "$(ws_json "$SS_TMP/w3.json" duplicates)"
ws_drained "replay" "$U"
ws_check "replay" "$SS_TMP/arch" "$SS_TMP/ab.jsonl" "$SS_TMP/dd"
ss_done
