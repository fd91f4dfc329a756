#!/usr/bin/env bash
# convert, on a directory's worth of synth data: events spanning four UTC hours, out of
# order across hour boundaries, duplicated, with planted malformed lines; small row groups
# and few open files, so that partitions are evicted and reopened into extra part files.
# DuckDB over the whole directory must return exactly the input events per type and hour,
# every column must equal the JSON's (DuckDB, hyparquet, arrow-rs), the rejects file must list
# exactly the malformed lines with their reasons, metadata must show codec, dictionaries
# and statistics, and a filter on `time` must skip row groups.
source "$(dirname "$0")/../lib/harness.sh"

in=$SS_TMP/in.jsonl
"$SKYSPOOL_BIN" synth --events 24000 --seed 11 --start 2025-12-31T22:40:00Z --rate 2.5 \
  --jitter-frac 0.03 --jitter-us 90000000 --dup-frac 0.01 --bad-frac 0.01 --bad-oversize > "$in"
# an event far in the future, one at the epoch, one past year 9999 (rejected: cannot be partitioned)
cat >> "$in" <<'JSONL'
{"did":"did:plc:aaaaaaaaaaaaaaaaaaaaaaaa","time_us":4102444800000000,"kind":"identity","identity":{"did":"did:plc:aaaaaaaaaaaaaaaaaaaaaaaa","seq":7,"time":"2100-01-01T00:00:00Z","handle":"future.example.com"}}
{"did":"did:plc:bbbbbbbbbbbbbbbbbbbbbbbb","time_us":0,"kind":"account","account":{"active":false,"did":"did:plc:bbbbbbbbbbbbbbbbbbbbbbbb","seq":8,"time":"1970-01-01T00:00:00Z","status":"deleted"}}
{"did":"did:plc:cccccccccccccccccccccccc","time_us":253402300800000000,"kind":"account","account":{"active":true,"did":"did:plc:cccccccccccccccccccccccc","seq":9,"time":"10000-01-01T00:00:00Z"}}
JSONL

out=$SS_TMP/out
rc=0
"$SKYSPOOL_BIN" convert --out "$out" --row-group-rows 400 --max-open-files 8 --json "$in" > "$SS_TMP/summary.json" || rc=$?
ss_eq "convert exits 0 on input with malformed lines" 0 "$rc"
jget() { node -e 'const s=JSON.parse(require("fs").readFileSync(process.argv[1]));console.log(s[process.argv[2]])' "$1" "$2"; }
ss_check "partitions were evicted and reopened (bounded open files)" test "$(jget "$SS_TMP/summary.json" evictions)" -gt 0
ss_check "events of partitions without a slot were spilled and replayed" test "$(jget "$SS_TMP/summary.json" spilled)" -gt 0
ss_eq "summary counts the partitions written" "$(find "$out" -type d -name 'type=*' | wc -l)" \
  "$(jget "$SS_TMP/summary.json" partitions)"
ss_check "rejects were counted" test "$(jget "$SS_TMP/summary.json" rejects)" -gt 0
ss_eq "no temporary files left behind" "" "$(find "$out" -name '.*' -print)"
hours=$(find "$out" -type d -name 'hour=*' | wc -l)
ss_check "events span at least 6 hour partitions (got $hours)" test "$hours" -ge 6
ss_check "the year boundary is crossed" test -d "$out/year=2026/month=1/day=1/hour=0"
ss_check "year 2100 partition" test -d "$out/year=2100/month=1/day=1/hour=0/type=identity"
ss_check "epoch partition" test -d "$out/year=1970/month=1/day=1/hour=0/type=account"

if ss_node archive_check.mjs --dir "$out" --jsonl "$in" --full --expect-rejects "$(jget "$SS_TMP/summary.json" rejects)"; then
  ss_pass "directory reads back exactly and field-identical, rejects listed, codec, dictionaries, statistics"
else
  ss_fail "directory reads back exactly and field-identical, rejects listed, codec, dictionaries, statistics"
fi

# Pruning: in time-ordered input (no planted jitter) row groups cover disjoint time ranges,
# and a filter on `time` must skip all but one (archive_check --prune corrupts the others).
"$SKYSPOOL_BIN" synth --events 8000 --seed 12 --start 2025-12-31T22:40:00Z --rate 2.5 > "$SS_TMP/ordered.jsonl"
"$SKYSPOOL_BIN" convert --out "$SS_TMP/ordered" --row-group-rows 200 --no-progress "$SS_TMP/ordered.jsonl" > /dev/null
if ss_node archive_check.mjs --dir "$SS_TMP/ordered" --jsonl "$SS_TMP/ordered.jsonl" --prune; then
  ss_pass "a filter on time skips row groups"
else
  ss_fail "a filter on time skips row groups"
fi

# snappy and uncompressed output declare their codec and read back the same events
for codec in snappy none; do
  "$SKYSPOOL_BIN" convert --out "$SS_TMP/$codec" --codec "$codec" --no-progress "$in" > /dev/null
  if ss_node archive_check.mjs --dir "$SS_TMP/$codec" --jsonl "$in" --codec "$codec" --expect-rejects -1 > "$SS_TMP/$codec.log"; then
    ss_pass "--codec $codec reads back exactly"
  else
    cat "$SS_TMP/$codec.log"; ss_fail "--codec $codec reads back exactly"
  fi
done

ss_done
