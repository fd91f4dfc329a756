#!/usr/bin/env bash
# `skyspool check pipeline`, small: 3000 synth events dated over 5 minutes go through the real
# ingester and DataWriter into 1-minute windows, and the archive is read back row by row.
# Asserts the JSON: every input event's key exactly once in the archive, five windows with
# their flush times from the ledger, the buffer empty, the rates, the PNG 1000x600, nothing
# left behind. Then two runs that must FAIL for a real reason: an archive holding a copy of
# one part file (its rows are there twice: rows_duplicated = that file's rows), and an archive
# the writer refuses to write into (files its ledger does not know: the rows are lost).
source "$SKYSPOOL_SRC/tests/lib/harness.sh"
B=$SKYSPOOL_BIN
cd "$SS_TMP"
export TMPDIR=$SS_TMP
small=(--events 3000 --event-rate 10 --window 1m --grace 1s --min-rate 20)

"$B" check pipeline "${small[@]}" --json p.json --png p.png > p.txt 2> p.err || { ss_fail "pipeline exit $?"; cat p.txt p.err >&2; }
fig() { jq ".figures.$1.value" "${2:-p.json}"; }
crit() { jq -r ".criteria[] | select(.name == \"$1\") | .verdict" "${2:-p.json}"; }
ss_eq "verdict PASS" PASS "$(jq -r .verdict p.json)"
ss_eq "inputs: events" 3000 "$(jq .inputs.events p.json)"
ss_eq "inputs: budget = 0.8 x window" 48 "$(jq .inputs.max_flush_s p.json)"
# the synth stream's 3000 lines hold 61 events of other collections, which are not archived
ss_eq "events in = lines less other collections" "$((3000 - $(fig ingest_other_skipped)))" "$(fig events_in)"
ss_check "some other-collection events were skipped" test "$(fig ingest_other_skipped)" -gt 0
ss_eq "the ingester confirmed every archived event" "$(fig events_in)" "$(fig ingest_entries_written)"
ss_eq "rows read back = events in" "$(fig events_in)" "$(fig rows_read_back)"
ss_eq "every key matched once" "$(fig events_in)" "$(fig rows_matched)"
ss_eq "nothing lost" 0 "$(fig rows_lost)"
ss_eq "nothing duplicated" 0 "$(fig rows_duplicated)"
ss_eq "nothing unexpected" 0 "$(fig rows_unexpected)"
ss_eq "the writer's rows = rows read back" "$(fig rows_read_back)" "$(fig write_rows)"
ss_eq "5 minutes of events in 1-minute windows: 5 windows flushed" 5 "$(fig windows_flushed)"
ss_check "a run per window and type, all ok" test "$(jq '.figures.ledger_runs.value >= 5 and .figures.ledger_runs_not_ok.value == 0' p.json)" = true
ss_check "flush times measured (> 0 ms) and within the budget" test "$(jq '.figures.window_flush_ms_max.value > 0 and .figures.window_flush_ms_max.value >= .figures.window_flush_ms_mean.value and .figures.window_flush_ms_max.value < 48000' p.json)" = true
ss_eq "flush series: one point per window" 5 "$(jq '.series.window_flush_ms.v | length' p.json)"
ss_eq "buffer empty" 0 "$(fig buffered_left)"
ss_check "rates measured" test "$(jq '.figures.ingest_events_per_s.value > 20 and .figures.end_to_end_events_per_s.value > 20 and .figures.end_to_end_events_per_s.value <= .figures.ingest_events_per_s.value' p.json)" = true
ss_eq "every criterion PASS" "$(jq '.criteria | length' p.json)" "$(jq '[.criteria[] | select(.verdict == "PASS")] | length' p.json)"
ss_check "criteria have thresholds" test "$(jq '[.criteria[] | select(.threshold == null)] | length' p.json)" = 0
ss_check "versions in the JSON" test "$(jq -r '.versions.skyspool != "" and .versions.redis != ""' p.json)" = true
ss_check "the report says the comparison is key by key" grep -q "compared key by key" p.txt
ss_eq "PNG of 1000x600" "1000x600" "$(python3 -c 'import struct,sys; d=open(sys.argv[1],"rb").read(24); assert d[:8]==b"\x89PNG\r\n\x1a\n"; print("%dx%d" % struct.unpack(">II", d[16:24]))' p.png 2>&1)"
ss_eq "no work dir or redis dir left" "" "$(ls -d "$SS_TMP"/skyspool-pipeline-* "$SS_TMP"/skyspool-check-* 2>/dev/null || true)"

# --- an archive that already holds a copy of one part file: its rows are duplicated -----------------
"$B" check pipeline "${small[@]}" --events 1000 --archive seed --json s.json > s.txt 2>&1 || ss_fail "seeding run: exit $?"
ss_eq "seeding run PASS" PASS "$(jq -r .verdict s.json)"
copy=$(find seed -name 'post-*.parquet' | sort | head -n 1)
ss_check "the seeding run wrote a post part file" test -n "$copy"
mkdir -p dup/year=2025/month=8/day=7/hour=5/type=post
cp "$copy" dup/year=2025/month=8/day=7/hour=5/type=post/
copied_rows=$("$B" cat --source "archive:dup" 2>/dev/null | wc -l)
ss_check "the copy holds rows" test "$copied_rows" -gt 0
set +e
"$B" check pipeline "${small[@]}" --archive dup --json d.json > d.txt 2> d.err; rc=$?
set -e
ss_eq "duplicated rows: exit 1" 1 "$rc"
ss_eq "verdict FAIL" FAIL "$(jq -r .verdict d.json)"
ss_eq "rows_duplicated = the copied file's rows" "$copied_rows" "$(fig rows_duplicated d.json)"
ss_eq "rows_duplicated criterion FAILs" FAIL "$(crit rows_duplicated d.json)"
ss_eq "nothing lost" 0 "$(fig rows_lost d.json)"
ss_eq "nothing unexpected" 0 "$(fig rows_unexpected d.json)"
ss_eq "the writer itself was fine" PASS "$(crit writer_ok d.json)"
ss_check "an example duplicated key is named" grep -q "duplicated row, dedup key [0-9a-f]\{32\}" d.txt
ss_check "the work dir is kept and named" grep -q "kept for inspection" d.txt

# --- an archive the writer must refuse (part files its fresh ledger does not know): rows lost -------
set +e
"$B" check pipeline "${small[@]}" --archive seed --json r.json > r.txt 2> r.err; rc=$?
set -e
ss_eq "refused archive: exit 1" 1 "$rc"
ss_eq "writer_ok FAILs" FAIL "$(crit writer_ok r.json)"
ss_check "and says why" grep -q "does not know" r.txt
ss_check "rows lost > 0" test "$(jq '.figures.rows_lost.value > 0' r.json)" = true
ss_eq "buffer_left FAILs" FAIL "$(crit buffer_left r.json)"

# --- usage errors -----------------------------------------------------------------------------------
set +e
"$B" check pipeline --window 7s 2> u1.err; rc1=$?
"$B" check pipeline --max-flush soon 2> u2.err; rc2=$?
set -e
ss_eq "a window that does not divide an hour: exit 2" 2 "$rc1"
ss_eq "a bad --max-flush: exit 2" 2 "$rc2"
ss_done
