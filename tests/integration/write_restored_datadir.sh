#!/usr/bin/env bash
# A data dir restored from an older copy (writer/archive_id.h, the partition guard): the
# older ledger does not know the files a newer copy committed. Before writing into a
# partition directory the writer lists it once; a part file of its stream layout that its
# ledger knows neither as a commit nor as an intent is refused (fatal, exit 1) instead of
# being written a second time.
#   synth + ingest + write --once --all (window 1); cp -a the data dir; the same for window 2;
#   restore the old copy; ingest window 2's events again; write: refused, nothing
#   acknowledged, the archive holds each event once (DuckDB); the restored newest copy then
#   writes them as the duplicates they are.
source "$SKYSPOOL_SRC/tests/lib/harness.sh"
source "$SKYSPOOL_SRC/tests/lib/writer.sh"
B=$SKYSPOOL_BIN
ss_start_redis r
U=$REDIS_URL_r
OUT="$SS_TMP/arch" DD="$SS_TMP/dd"
W=(--out "$OUT" --data-dir "$DD" --redis "$U" --once --all --claim-idle 1s)
"$B" synth --events 8000 --seed 21 --start 2025-08-01T08:00:00Z --rate 20 > "$SS_TMP/b1.jsonl"
"$B" ingest --source "file:$SS_TMP/b1.jsonl" --redis "$U" --log-level error
"$B" write "${W[@]}" --log-level error > /dev/null
cp -a "$DD" "$SS_TMP/dd.old"
# window 2: the same hour (its partition directories already hold window 1's files)
"$B" synth --events 8000 --seed 22 --start 2025-08-01T08:20:00Z --rate 20 > "$SS_TMP/b2.jsonl"
"$B" ingest --source "file:$SS_TMP/b2.jsonl" --redis "$U" --log-level error
"$B" write "${W[@]}" --log-level error > /dev/null
cat "$SS_TMP/b1.jsonl" "$SS_TMP/b2.jsonl" > "$SS_TMP/all.jsonl"
rows=$(ss_node duck_query.mjs --scalar "SELECT count(*) FROM read_parquet('$OUT/**/*.parquet')")
ss_log "archive after two windows: $rows rows"
ws_check "two windows" "$OUT" "$SS_TMP/all.jsonl" "$DD"

mv "$DD" "$SS_TMP/dd.new"
cp -a "$SS_TMP/dd.old" "$DD" # the restore
"$B" ingest --source "file:$SS_TMP/b2.jsonl" --redis "$U" --from-start --log-level error # window 2 again
rc=0; "$B" write "${W[@]}" --log-level warn > /dev/null 2> "$SS_TMP/w.err" || rc=$?
after=$(ss_node duck_query.mjs --scalar "SELECT count(*) FROM read_parquet('$OUT/**/*.parquet')")
ss_log "restored data dir: exit $rc, rows $rows -> $after (+$((after - rows))): $(head -c 500 "$SS_TMP/w.err")"
ss_check "the restored (older) ledger is refused (exit non-zero, was $rc)" test "$rc" -ne 0
ss_check "the message says the ledger does not know the part files" grep -q "does not know" "$SS_TMP/w.err"
ss_eq "no duplicate rows (DuckDB count)" "$rows" "$after"
ss_check "no temporaries left" test "$(find "$OUT" -name '.*.tmp' | wc -l)" -eq 0
left=$(ws_streams_left "$U"); ss_check "nothing acknowledged ($left)" test "${left%% *}" -gt 0
# the newest copy of the data dir knows them: written as duplicates, nothing added
rm -rf "$DD"; mv "$SS_TMP/dd.new" "$DD"
sleep 1.5 # the refused writer's entries (read, never acknowledged) are taken over after claim-idle
"$B" write "${W[@]}" --log-level error > /dev/null
ws_drained "the newest ledger took them" "$U"
ws_check "after the restore" "$OUT" "$SS_TMP/all.jsonl" "$DD"
rc=0; "$B" verify --out "$OUT" --data-dir "$DD" > /dev/null || rc=$?
ss_eq "verify with the newest ledger: exit 0" 0 "$rc"
rc=0; "$B" verify --out "$OUT" --ledger "$SS_TMP/dd.old/ledger.sqlite" --json > "$SS_TMP/old.json" || rc=$?
ss_eq "verify with the old ledger: exit 1, the newer files unknown" "1 unknown" \
  "$rc $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["problems"][0]["kind"])' "$SS_TMP/old.json")"
ss_done
