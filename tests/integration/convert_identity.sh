#!/usr/bin/env bash
# convert names its files after the inputs' content, not their paths, and writes each event
# once. Every archive is read back with DuckDB (writer_check.mjs: per (type, hour) exactly the
# input's distinct events, no dedup key twice):
#   1. two different days converted through the same path (day.jsonl) into one DIR: both days
#      are kept exactly; the second run removes nothing. (Before: "stale removed 7 files",
#      2,982 of 5,962 rows lost.)
#   2. identical input converted twice, the second time under another path: exactly one copy
#      (the second run replaces the first run's files). (Before: two copies.)
#   3. planted duplicates (synth --dup-frac 0.05): each event written once, the duplicates
#      counted in the summary.
source "$SKYSPOOL_SRC/tests/lib/harness.sh"
B=$SKYSPOOL_BIN
cd "$SS_TMP"
jget() { jq -r ".$2" "$1"; }
check() { # check NAME DIR INPUT [writer_check args]
  if ss_node writer_check.mjs --out "$2" --input "$3" "${@:4}" > "check-$RANDOM.log" 2>&1; then
    ss_pass "$1: exactly the input, once"
  else
    ss_fail "$1"; sed 's/^/    /' check-*.log | grep -v '^    ok' >&2; rm -f check-*.log
  fi
}

# ---- 1. two days through one path ------------------------------------------------------------
"$B" synth --events 3000 --seed 1 --start 2025-04-01T06:00:00Z --rate 0.5 > day.jsonl
"$B" convert --out one --no-progress --json day.jsonl > c1.json
cp day.jsonl both.jsonl
"$B" synth --events 3000 --seed 2 --start 2025-04-02T06:00:00Z --rate 0.5 > day.jsonl
cat day.jsonl >> both.jsonl
"$B" convert --out one --no-progress --json day.jsonl > c2.json
ss_check "different content through the same path has another tag" test "$(jget c1.json tag)" != "$(jget c2.json tag)"
ss_eq "the second day removed nothing of the first" 0 "$(jget c2.json stale_removed)"
check "two days through one path" one both.jsonl

# ---- 2. identical input twice --------------------------------------------------------------------
cp day.jsonl again.jsonl
# the first run splits partitions into many files (few open at once, no spill), the second does not
"$B" convert --out two --no-progress --json --max-open-files 2 --spill-bytes 0 day.jsonl > c3.json
"$B" convert --out two --no-progress --json again.jsonl > c4.json
ss_eq "the same content under another path has the same tag" "$(jget c3.json tag)" "$(jget c4.json tag)"
ss_check "the second run replaced the first run's files ($(jget c4.json stale_removed) stale removed)" \
  test "$(jget c4.json stale_removed)" -gt 0
check "identical input twice" two day.jsonl
# inputs in another order, and repeated, are the same content
"$B" convert --out three --no-progress --json day.jsonl again.jsonl > c5.json
"$B" convert --out three --no-progress --json again.jsonl day.jsonl day.jsonl > c6.json
ss_eq "order and repeats of inputs do not change the tag" "$(jget c5.json tag)" "$(jget c6.json tag)"
ss_eq "the same file twice in one run: the second copy is all duplicates" "$(grep -c . day.jsonl)" \
  "$(( $(jget c5.json duplicates) + $(jget c5.json skipped_other) / 2 ))"
check "one file given twice" three day.jsonl

# ---- 3. planted duplicates ------------------------------------------------------------------------
"$B" synth --events 6000 --seed 3 --start 2025-04-03T06:00:00Z --rate 1 --dup-frac 0.05 > dups.jsonl
"$B" convert --out four --no-progress --json --keep-other dups.jsonl > c7.json
repeated=$(( $(grep -c . dups.jsonl) - $(sort -u dups.jsonl | wc -l) ))
ss_log "planted: $repeated repeated lines; convert: $(jget c7.json duplicates) duplicates"
ss_check "there are planted duplicates" test "$repeated" -gt 100
ss_eq "every repeated line was counted as a duplicate" "$repeated" "$(jget c7.json duplicates)"
check "planted duplicates" four dups.jsonl --keep-other
ss_check "the summary reports duplicates" bash -c "'$B' convert --out five --no-progress dups.jsonl | grep -q '^duplicates  *[1-9][0-9]* removed'"
ss_done
