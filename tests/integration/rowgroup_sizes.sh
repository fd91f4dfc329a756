#!/usr/bin/env bash
# Row groups are the same size on both paths: the same synth events through `convert` and
# through ingest + `write --once --all` (the DataWriter) give row groups of the same number
# of rows (archive.h's SS_AR_ROW_GROUP_* target). All events fall in one 5-minute window, so
# the writer's like files hold several full row groups, as convert's do; only full row
# groups (every one but a file's last) are compared. Before, the writer cut at
# memory-budget/32 (3 MiB, about a fifth of convert's rows).
# Two writers read the same events (two Redis servers): one with a memory budget big enough
# that only the target cuts row groups (the sizes must match convert's), one with the default
# budget, which may cut a row group early when a window's big parts do not all fit at the full
# target (smaller groups are allowed there, more files are not).
source "$SKYSPOOL_SRC/tests/lib/harness.sh"
B=$SKYSPOOL_BIN
ss_start_redis r
ss_start_redis d
U=$REDIS_URL_r
N=150000
"$B" synth --events "$N" --seed 21 --rate 1000 > "$SS_TMP/in.jsonl"
"$B" convert --out "$SS_TMP/conv" --no-progress --no-fsync "$SS_TMP/in.jsonl" > /dev/null
"$B" ingest --source "file:$SS_TMP/in.jsonl" --redis "$U" --log-level warn
"$B" ingest --source "file:$SS_TMP/in.jsonl" --redis "$REDIS_URL_d" --log-level warn
"$B" write --out "$SS_TMP/live" --data-dir "$SS_TMP/dd" --redis "$U" --once --all --log-level warn \
  --memory-budget 512mb > /dev/null || ss_fail "write --once --all --memory-budget 512mb"
"$B" write --out "$SS_TMP/dflt" --data-dir "$SS_TMP/dd2" --redis "$REDIS_URL_d" --once --all --log-level warn \
  > /dev/null || ss_fail "write --once --all (default budget)"

# rows of the full row groups of TYPE's files: "count median min max"
full_rgs() {
  ss_node duck_query.mjs --scalar "WITH g AS (SELECT DISTINCT file_name, row_group_id, row_group_num_rows AS n
      FROM parquet_metadata('$1/**/type=$2/*.parquet')),
    f AS (SELECT *, max(row_group_id) OVER (PARTITION BY file_name) AS last FROM g)
    SELECT count(*) || ' ' || coalesce(median(n)::BIGINT, 0) || ' ' || coalesce(min(n), 0) || ' ' || coalesce(max(n), 0)
    FROM f WHERE row_group_id < last"
}
total() { ss_node duck_query.mjs --scalar "SELECT count(*) FROM read_parquet('$1/**/*.parquet')"; }
ss_eq "both archives hold the same rows" "$(total "$SS_TMP/conv")" "$(total "$SS_TMP/live")"
ss_eq "the default-budget archive holds the same rows" "$(total "$SS_TMP/conv")" "$(total "$SS_TMP/dflt")"
for t in like; do
  read -r cn cmed cmin cmax <<< "$(full_rgs "$SS_TMP/conv" "$t")"
  read -r ln lmed lmin lmax <<< "$(full_rgs "$SS_TMP/live" "$t")"
  ss_log "$t: convert $cn full row groups, median $cmed rows ($cmin..$cmax); write $ln, median $lmed ($lmin..$lmax)"
  ss_check "$t: convert wrote full row groups ($cn)" test "$cn" -ge 1
  ss_check "$t: the writer wrote full row groups ($ln)" test "$ln" -ge 1
  # Tolerance 3 %: the byte bound is checked every 16 rows, and compressed page sizes differ a
  # little with where each path's pages and row groups start; 3 MiB groups were 5x smaller.
  ss_check "$t: the writer's full row groups ($lmed rows) are convert's size ($cmed rows) within 3 %" \
    test $(( (lmed > cmed ? lmed - cmed : cmed - lmed) * 100 )) -le $(( cmed * 3 ))
  ss_check "$t: about 30k rows per row group ($cmed)" test "$cmed" -ge 20000 -a "$cmed" -le 45000
done
# Under the default memory-budget the window's three big parts (like, follow, post) need not
# all fit at the full target: the writer then cuts a row group early rather than starting
# another file, so the window is still one file per type, as in convert's archive.
nf() { find "$1" -name '*.parquet' | wc -l; }
ss_eq "one file per type on both paths" "$(nf "$SS_TMP/conv")" "$(nf "$SS_TMP/live")"
ss_eq "one file per type under the default budget (a cut, not a spill)" "$(nf "$SS_TMP/conv")" "$(nf "$SS_TMP/dflt")"
read -r dn dmed dmin dmax <<< "$(full_rgs "$SS_TMP/dflt" like)"
ss_log "like under the default budget: $dn full row groups, median $dmed rows ($dmin..$dmax)"
ss_check "like under the default budget: row groups no bigger than the target's ($dmax <= $cmax)" test "$dmax" -le "$cmax"
ss_done
