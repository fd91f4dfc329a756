#!/usr/bin/env bash
# A ledger belongs to one archive (writer/archive_id.h).
#  (a) the ledger of archive A pointed at a second --out is refused (exit non-zero, the
#      message names both directories), writes nothing there and acknowledges nothing: the
#      same entries then go to A, as the duplicates they are.
#  (c) the marker: A has _skyspool_archive.json with the archive id the ledger records and
#      layout 2, ignored by a DuckDB glob; A moved to another path keeps working (same id:
#      accepted, the ledger's root follows, an info line says so) and verify proves it.
#  (d) an archive from before markers (marker and binding removed): adopted, marker written.
#      A fresh data dir joins the marked archive (the writers of another shard do that), and
#      a ledger bound to A is refused by an archive with another id.
source "$SKYSPOOL_SRC/tests/lib/harness.sh"
source "$SKYSPOOL_SRC/tests/lib/writer.sh"
B=$SKYSPOOL_BIN
ss_start_redis r
U=$REDIS_URL_r
A="$SS_TMP/archA" A2="$SS_TMP/archB" DD="$SS_TMP/dd"
W=(--data-dir "$DD" --redis "$U" --once --all)
"$B" synth --events 6000 --seed 11 --start 2025-07-01T08:00:00Z --rate 5 > "$SS_TMP/b1.jsonl"
"$B" ingest --source "file:$SS_TMP/b1.jsonl" --redis "$U" --log-level error
"$B" write --out "$A" "${W[@]}" --log-level error > /dev/null
rows1=$(ws_ledger_rows "$DD")
ss_log "archive A: $rows1 rows"

# ---- (a) the same ledger, a second --out -------------------------------------------------
"$B" ingest --source "file:$SS_TMP/b1.jsonl" --redis "$U" --from-start --log-level error # the same events again
rc=0; "$B" write --out "$A2" "${W[@]}" --log-level warn > /dev/null 2> "$SS_TMP/a.err" || rc=$?
ss_log "second --out: exit $rc: $(head -c 600 "$SS_TMP/a.err")"
ss_check "second --out refused (exit non-zero, was $rc)" test "$rc" -ne 0
ss_check "the message names the second --out" grep -q "$A2" "$SS_TMP/a.err"
ss_check "the message names the ledger's archive" grep -q "$A\b" "$SS_TMP/a.err"
ss_eq "nothing written in the second --out" 0 "$(find "$A2" -name '*.parquet' 2>/dev/null | wc -l)"
left=$(ws_streams_left "$U"); ss_check "nothing acknowledged: the entries are still buffered ($left)" test "${left%% *}" -gt 0
"$B" write --out "$A" "${W[@]}" --log-level error > /dev/null
ws_drained "written to A again (as duplicates)" "$U"
ws_check "A" "$A" "$SS_TMP/b1.jsonl" "$DD"

# ---- (c) the marker; A moves ------------------------------------------------------------
M="$A/_skyspool_archive.json"
ss_check "A has its marker" test -f "$M"
id=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["archive_id"])' "$M")
ss_eq "marker: layout 2" 2 "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["layout"])' "$M")"
ss_eq "the ledger records the marker's archive id" "$id" "$(sqlite3 "$DD/ledger.sqlite" "select value from meta where key='archive_id'")"
ss_eq "a DuckDB glob over A reads only the part files" "$rows1" \
  "$(ss_node duck_query.mjs --scalar "SELECT count(*) FROM read_parquet('$A/**/*.parquet', hive_partitioning=true)")"
mv "$A" "$SS_TMP/moved"
A="$SS_TMP/moved"
"$B" synth --events 3000 --seed 12 --start 2025-07-02T08:00:00Z --rate 5 > "$SS_TMP/b2.jsonl"
"$B" ingest --source "file:$SS_TMP/b2.jsonl" --redis "$U" --log-level error
rc=0; "$B" write --out "$A" "${W[@]}" --log-level info > /dev/null 2> "$SS_TMP/c.err" || rc=$?
ss_eq "the moved archive keeps working (exit 0)" 0 "$rc"
ss_check "an info line says it moved" grep -q "moved from .*archA to .*moved" "$SS_TMP/c.err"
ss_eq "the ledger's root follows" "$(realpath "$A")" \
  "$(sqlite3 "$DD/ledger.sqlite" "select value from meta where key='archive_root'")"
cat "$SS_TMP/b1.jsonl" "$SS_TMP/b2.jsonl" > "$SS_TMP/all.jsonl"
ws_check "moved" "$A" "$SS_TMP/all.jsonl" "$DD"
rc=0; "$B" verify --out "$A" --data-dir "$DD" > "$SS_TMP/v.txt" || rc=$?
ss_eq "verify proves the moved archive" 0 "$rc"

# ---- (d) adoption, joining, another id ---------------------------------------------------
rm "$A/_skyspool_archive.json"
sqlite3 "$DD/ledger.sqlite" "delete from meta where key like 'archive_%'"
"$B" synth --events 2000 --seed 13 --start 2025-07-03T08:00:00Z --rate 5 > "$SS_TMP/b3.jsonl"
"$B" ingest --source "file:$SS_TMP/b3.jsonl" --redis "$U" --log-level error
rc=0; "$B" write --out "$A" "${W[@]}" --log-level info > /dev/null 2> "$SS_TMP/d.err" || rc=$?
ss_eq "an archive from before markers is adopted (exit 0)" 0 "$rc"
ss_check "adopted: marker written" test -f "$A/_skyspool_archive.json"
ss_check "adopted: an info line says so" grep -q "marker written into the existing archive" "$SS_TMP/d.err"
id2=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["archive_id"])' "$A/_skyspool_archive.json")
# (other prefixes: the buffer skyspool: belongs to $DD's ledger)
"$B" write --out "$A" --data-dir "$SS_TMP/dd2" --redis "$U" --prefix j2: --once --all --log-level error > /dev/null
ss_eq "a fresh data dir joins the archive" "$id2" \
  "$(sqlite3 "$SS_TMP/dd2/ledger.sqlite" "select value from meta where key='archive_id'")"
mkdir -p "$SS_TMP/other"
"$B" write --out "$SS_TMP/other" --data-dir "$SS_TMP/dd3" --redis "$U" --prefix j3: --once --all --log-level error > /dev/null
rc=0; "$B" write --out "$SS_TMP/other" "${W[@]}" --log-level error > /dev/null 2> "$SS_TMP/e.err" || rc=$?
ss_check "a ledger bound to A is refused by an archive with another id (exit $rc)" test "$rc" -ne 0
ss_check "the message names both archive ids" grep -q "$id2.*$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["archive_id"])' "$SS_TMP/other/_skyspool_archive.json")" "$SS_TMP/e.err"
rc=0; "$B" verify --out "$SS_TMP/other" --data-dir "$DD" --json > "$SS_TMP/e.json" || rc=$?
ss_eq "verify of the wrong archive: exit 1 with archive_id first" "1 archive_id" \
  "$rc $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["problems"][0]["kind"])' "$SS_TMP/e.json")"
ss_done
