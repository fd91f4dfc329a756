#!/usr/bin/env bash
# `skyspool migrate` (writer/migrate.h): an archive of the old, zero-padded layout (layout 1:
# month=07/day=01/hour=05) becomes the current unpadded one (month=7/day=1/hour=5).
#  - The old archive is made from a real one: its directories renamed to padded names, its
#    ledger's paths padded, its marker set to layout 1; verify proves it consistent first.
#  - Writers refuse it: `write` (exit non-zero, says to migrate, writes and acks nothing) and
#    `convert`.
#  - migrate is killed mid-way twice (after the 3rd directory rename, then after the ledger
#    rewrite, SKYSPOOL_CRASH_AT): each time the marker still says layout 1 and writers still
#    refuse. Run again, it finishes: no padded name left, every file at its new path with its
#    old bytes, the ledger's paths rewritten (verify --deep passes), the marker says layout 2
#    with the same id. A second run changes nothing. Then the writer writes again.
#  - Both names of one directory (month=07 and month=7) are merged.
source "$SKYSPOOL_SRC/tests/lib/harness.sh"
source "$SKYSPOOL_SRC/tests/lib/writer.sh"
mfield() { sed -nE "s/.*\"$1\": *\"?([^\", }]*).*/\1/p" "$A/_skyspool_archive.json"; } # a marker field, no python start-up
B=$SKYSPOOL_BIN
ss_start_redis r
U=$REDIS_URL_r
A="$SS_TMP/arch" DD="$SS_TMP/dd"
W=(--data-dir "$DD" --redis "$U" --once --all)
"$B" synth --events 3000 --seed 21 --start 2025-07-01T05:00:00Z --rate 0.3 > "$SS_TMP/b1.jsonl" # ~3 h: hours 5..7
"$B" ingest --source "file:$SS_TMP/b1.jsonl" --redis "$U" --log-level error
"$B" write --out "$A" "${W[@]}" --log-level error > /dev/null
rows1=$(ws_ledger_rows "$DD")
ss_check "a fresh archive is unpadded" test -d "$A/year=2025/month=7/day=1/hour=5"

# ---- make it an archive of layout 1 --------------------------------------------------------
python3 - "$A" "$DD/ledger.sqlite" <<'PY'
import json, os, re, sqlite3, sys
root, led = sys.argv[1], sys.argv[2]
pad = lambda p: re.sub(r'(month|day|hour)=(\d)(?=/|$)', r'\1=0\2', p)
for y in os.listdir(root):
    if not y.startswith('year='): continue
    for dirpath, dirs, files in os.walk(os.path.join(root, y), topdown=False):
        base = os.path.basename(dirpath)
        if pad(base) != base: os.rename(dirpath, os.path.join(os.path.dirname(dirpath), pad(base)))
db = sqlite3.connect(led)
for (p,) in db.execute("select path from commits where path is not null").fetchall():
    db.execute("update commits set path=? where path=?", (pad(p), p))
db.commit()
m = os.path.join(root, '_skyspool_archive.json')
j = json.load(open(m)); j['layout'] = 1
open(m, 'w').write(json.dumps(j) + '\n')
PY
snap() { (cd "$1" && find . -name '*.parquet' -type f -print0 | sort -z | xargs -0 sha256sum |
  sed -E 's#(month|day|hour)=0([0-9])/#\1=\2/#g' | sort -k2) ; }
snap "$A" > "$SS_TMP/before.sha"
nfiles=$(wc -l < "$SS_TMP/before.sha")
npad=$(find "$A" -type d -regex '.*/\(month\|day\|hour\)=0[0-9]' | wc -l)
ss_log "old-layout archive: $nfiles files, $npad padded directories, $rows1 rows"
ss_check "the old archive has padded directories ($npad) and files ($nfiles)" test "$npad" -ge 5 -a "$nfiles" -ge 10
id=$(mfield archive_id)
rc=0; "$B" verify --out "$A" --data-dir "$DD" > "$SS_TMP/v0.txt" 2>&1 || rc=$?
ss_eq "verify proves the made-up old archive consistent" 0 "$rc"

refused() { # $1 what: write and convert both refuse, say to migrate, write nothing
  local rc=0 before after
  before=$(find "$A" -name '*.parquet' | wc -l)
  "$B" write --out "$A" "${W[@]}" --log-level error > /dev/null 2> "$SS_TMP/w.err" || rc=$?
  ss_check "$1: write refuses (exit $rc)" test "$rc" -ne 0
  ss_check "$1: the message says to run migrate" grep -q "skyspool migrate --out" "$SS_TMP/w.err"
  rc=0; "$B" convert --out "$A" "$SS_TMP/b2.jsonl" > /dev/null 2> "$SS_TMP/c.err" || rc=$?
  ss_eq "$1: convert refuses (exit 1)" 1 "$rc"
  ss_check "$1: convert says to run migrate" grep -q "skyspool migrate --out" "$SS_TMP/c.err"
  after=$(find "$A" -name '*.parquet' | wc -l)
  ss_eq "$1: no file written" "$before" "$after"
}
"$B" synth --events 1500 --seed 22 --start 2025-07-01T09:00:00Z --rate 1 > "$SS_TMP/b2.jsonl"
"$B" ingest --source "file:$SS_TMP/b2.jsonl" --redis "$U" --log-level error
refused "layout 1"
left=$(ws_streams_left "$U"); ss_check "nothing acknowledged: the new entries are still buffered ($left)" test "${left%% *}" -gt 0

# ---- migrate, killed twice -----------------------------------------------------------------
rc=0; SKYSPOOL_CRASH_AT=migrate_rename:3 "$B" migrate --out "$A" --data-dir "$DD" > /dev/null 2>&1 || rc=$?
ss_eq "migrate killed after its 3rd rename (137)" 137 "$rc"
left_pad=$(find "$A" -type d -regex '.*/\(month\|day\|hour\)=0[0-9]' | wc -l)
ss_check "half done: some directories renamed, $left_pad padded left" test "$left_pad" -gt 0 -a "$left_pad" -lt "$npad"
ss_eq "the marker still says layout 1" 1 "$(mfield layout)"
refused "half migrated"
rc=0; SKYSPOOL_CRASH_AT=migrate_ledger "$B" migrate --out "$A" --data-dir "$DD" > /dev/null 2>&1 || rc=$?
ss_eq "migrate killed after the ledger rewrite (137)" 137 "$rc"
ss_eq "no padded directory left" 0 "$(find "$A" -type d -regex '.*/\(month\|day\|hour\)=0[0-9]' | wc -l)"
ss_eq "the marker still says layout 1 (it is the last step)" 1 "$(mfield layout)"
refused "renamed, marker not updated"
rc=0; "$B" migrate --out "$A" --data-dir "$DD" > "$SS_TMP/m3.out" 2>&1 || rc=$?
ss_log "$(cat "$SS_TMP/m3.out")"
ss_eq "migrate resumed and finished (exit 0)" 0 "$rc"
ss_check "it rewrote the marker" grep -q "marker updated" "$SS_TMP/m3.out"
ss_eq "marker: layout 2" 2 "$(mfield layout)"
ss_eq "marker: the same archive id" "$id" "$(mfield archive_id)"
snap "$A" > "$SS_TMP/after.sha"
ss_eq "every file is at its unpadded path with its old bytes ($nfiles files)" "" "$(diff "$SS_TMP/before.sha" "$SS_TMP/after.sha")"
ss_eq "no ledger path is padded" 0 "$(sqlite3 "$DD/ledger.sqlite" "select count(*) from commits where path glob '*=0[0-9]/*'")"
rc=0; "$B" verify --out "$A" --data-dir "$DD" --deep > "$SS_TMP/v1.txt" 2>&1 || rc=$?
ss_eq "verify --deep proves the migrated archive against its ledger" 0 "$rc"
rc=0; "$B" migrate --out "$A" --data-dir "$DD" > "$SS_TMP/m4.out" 2>&1 || rc=$?
ss_eq "a second migrate succeeds" 0 "$rc"
ss_check "and changes nothing" grep -q " 0 directories renamed, 0 merged, 0 ledger paths rewritten" "$SS_TMP/m4.out"

# ---- the writer works again; and a directory under both names is merged -------------------
"$B" write --out "$A" "${W[@]}" --log-level error > /dev/null
ws_drained "the buffered entries are written after migration" "$U"
cat "$SS_TMP/b1.jsonl" "$SS_TMP/b2.jsonl" > "$SS_TMP/all.jsonl"
ws_check "after migration" "$A" "$SS_TMP/all.jsonl" "$DD"
rows2=$(ws_ledger_rows "$DD")
ss_eq "DuckDB reads every row" "$rows2" \
  "$(ss_node duck_query.mjs --scalar "SELECT count(*) FROM read_parquet('$A/**/*.parquet', hive_partitioning=true)")"
ss_eq "DuckDB sees one hour 5 partition, typed as integers" "1 BIGINT" \
  "$(ss_node duck_query.mjs --scalar "SELECT count(DISTINCT hour)::VARCHAR || ' ' || any_value(typeof(hour)) FROM read_parquet('$A/**/*.parquet', hive_partitioning=true) WHERE hour BETWEEN 5 AND 5")"
M="$SS_TMP/m2"
mkdir -p "$M/year=2025/month=07/day=01/hour=05/type=like" "$M/year=2025/month=7/day=1/hour=5/type=like" "$M/year=2025/month=7/day=01/hour=06"
echo a > "$M/year=2025/month=07/day=01/hour=05/type=like/a.parquet"
echo b > "$M/year=2025/month=7/day=1/hour=5/type=like/b.parquet"
echo c > "$M/year=2025/month=7/day=01/hour=06/c.parquet"
rc=0; "$B" migrate --out "$M" > "$SS_TMP/m5.out" 2>&1 || rc=$?
ss_eq "migrate merges both names (exit 0)" 0 "$rc"
ss_eq "merged: both files under the unpadded names, nothing padded" \
  "./year=2025/month=7/day=1/hour=5/type=like/a.parquet ./year=2025/month=7/day=1/hour=5/type=like/b.parquet ./year=2025/month=7/day=1/hour=6/c.parquet" \
  "$(cd "$M" && find . -type f | sort | tr '\n' ' ' | sed 's/ $//')"
ss_done
