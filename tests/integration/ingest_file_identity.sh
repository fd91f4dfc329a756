#!/usr/bin/env bash
# A `file:` cursor belongs to content, not to a path: the stored offset is used again only for
# the same content (fingerprint of the first 64 KiB, offset on a line boundary, not past the
# end). Scenarios, each ingested and then written with `write --once --all`, and checked
# exactly-once against the input with DuckDB (ws_check):
#   1. overwritten in place (`synth > ev.jsonl` twice, different seeds: same path, same
#      inode): the second run reads the new content from the start, nothing goes to the DLQ,
#      and every row of both contents is in the archive exactly once. (Before: it resumed at
#      the old offset, 19,903 of 59,657 rows of the second file were never read and a half
#      line went to the DLQ.)
#   2. appended to (`>>`): still resumes at the old offset and reads only the new lines.
#   3. the same two cases for zstd-compressed files (fingerprint on the compressed bytes;
#      appending a zstd frame is an append).
#   4. --from-start warns that events older than the dedup horizon may be written twice.
source "$SKYSPOOL_SRC/tests/lib/harness.sh"
source "$SKYSPOOL_SRC/tests/lib/writer.sh"
B=$SKYSPOOL_BIN
cd "$SS_TMP"
lines() { grep -c . "$1"; }

# run_case NAME: a fresh Redis and archive per case
new_case() {
  ss_start_redis "$1"
  local u="REDIS_URL_$1" p="REDIS_PORT_$1"
  U=${!u} P=${!p}
  W=(--out "$SS_TMP/arch-$1" --data-dir "$SS_TMP/dd-$1" --redis "$U" --log-level error)
}
ingest() { "$B" ingest --source "file:$1" --redis "$U" --json > "$2.json" 2> "$2.log"; }
dlq() { redis-cli -p "$P" XLEN skyspool:dlq; }

# ---- 1. overwritten in place ---------------------------------------------------------------
new_case over
"$B" synth --events 40000 --seed 1 --start 2025-03-01T10:00:00Z --rate 20 > ev.jsonl
ino1=$(stat -c %i ev.jsonl)
ingest ev.jsonl over1
cp ev.jsonl over-all.jsonl
"$B" synth --events 60000 --seed 2 --start 2025-03-02T10:00:00Z --rate 20 > ev.jsonl
ss_eq "overwrite in place keeps the inode" "$ino1" "$(stat -c %i ev.jsonl)"
cat ev.jsonl >> over-all.jsonl
ingest ev.jsonl over2
ss_check "the overwritten file is read from its start, and the log says why" \
  grep -q "not resuming file:.*differ from those the offset .* was stored for.*reading it from the start" over2.log
ss_eq "every line of the new content was read" "$(lines ev.jsonl)" "$(jq .read over2.json)"
ss_eq "nothing went to the DLQ (no half line)" 0 "$(dlq)"
"$B" write "${W[@]}" --once --all
ws_check "overwrite in place" "$SS_TMP/arch-over" over-all.jsonl "$SS_TMP/dd-over"

# ---- 2. appended to ---------------------------------------------------------------------------
new_case app
"$B" synth --events 30000 --seed 3 --start 2025-03-03T10:00:00Z --rate 20 > ap.jsonl
ingest ap.jsonl app1
size1=$(stat -c %s ap.jsonl)
"$B" synth --events 20000 --seed 4 --start 2025-03-04T10:00:00Z --rate 20 > more.jsonl
cat more.jsonl >> ap.jsonl
ingest ap.jsonl app2
ss_check "the appended-to file resumes at the old offset" grep -q "resuming file:.* at offset $size1 " app2.log
ss_eq "only the appended lines were read" "$(lines more.jsonl)" "$(jq .read app2.json)"
ss_eq "the cursor is at the end" "$(stat -c %s ap.jsonl)" "$(jq .cursor app2.json)"
ingest ap.jsonl app3
ss_eq "a third run of the unchanged file reads nothing" 0 "$(jq .read app3.json)"
"$B" write "${W[@]}" --once --all
ws_check "append" "$SS_TMP/arch-app" ap.jsonl "$SS_TMP/dd-app"

# ---- 3. zstd: overwritten in place, then appended (a second frame) ----------------------------
new_case zst
"$B" synth --events 30000 --seed 5 --start 2025-03-05T10:00:00Z --rate 20 > z1.jsonl
zstd -q -c z1.jsonl > ev.zst
ingest ev.zst zst1
"$B" synth --events 45000 --seed 6 --start 2025-03-06T10:00:00Z --rate 20 > z2.jsonl
zstd -q -c z2.jsonl > ev.zst.new && cat ev.zst.new > ev.zst # in place: same inode
ingest ev.zst zst2
ss_check "zstd: the overwritten file is read from its start" grep -q "not resuming file:.*compressed bytes.*reading it from the start" zst2.log
ss_eq "zstd: every line of the new content was read" "$(lines z2.jsonl)" "$(jq .read zst2.json)"
ss_eq "zstd: nothing went to the DLQ" 0 "$(dlq)"
"$B" synth --events 15000 --seed 7 --start 2025-03-07T10:00:00Z --rate 20 > z3.jsonl
zstd -q -c z3.jsonl >> ev.zst
ingest ev.zst zst3
ss_check "zstd: the appended-to file resumes at the old offset" grep -q "resuming file:.* at offset $(stat -c %s z2.jsonl) " zst3.log
ss_eq "zstd: only the appended frame's lines were read" "$(lines z3.jsonl)" "$(jq .read zst3.json)"
cat z1.jsonl z2.jsonl z3.jsonl > zst-all.jsonl
"$B" write "${W[@]}" --once --all
ws_check "zstd overwrite + append" "$SS_TMP/arch-zst" zst-all.jsonl "$SS_TMP/dd-zst"

# ---- 4. --from-start past the dedup horizon ---------------------------------------------------
# ap.jsonl spans two days of event time; the buffer's newest event is its last one, so a re-read
# re-sends events far older than 1 h before it.
U=$REDIS_URL_app P=$REDIS_PORT_app
"$B" ingest --source file:ap.jsonl --redis "$U" --from-start --json > fs.json 2> fs.log
ss_check "--from-start warns about the dedup horizon" grep -q "older than the writers' dedup horizon" fs.log
ss_check "--from-start counts the events re-sent from before the horizon ($(jq .past_horizon fs.json))" \
  test "$(jq .past_horizon fs.json)" -gt 0
# with a horizon covering the whole file, no warning
"$B" ingest --source file:ap.jsonl --redis "$U" --from-start --set dedup-horizon=48h --json > fs2.json 2> fs2.log
ss_check "no horizon warning when every re-sent event is within the horizon" \
  bash -c "! grep -q 'dedup horizon' fs2.log"
ss_eq "past_horizon is 0 then" 0 "$(jq .past_horizon fs2.json)"
ss_done
