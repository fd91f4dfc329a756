#!/usr/bin/env bash
# convert: every event of `skyspool synth` output (every type, deletes, updates, other
# collections) and, in addition when present, every real Jetstream event in
# $SKYSPOOL_SHARED/samples converts and reads back field-identical through DuckDB and
# hyparquet (expected values computed in JS from the JSON by tests/js/archive_check.mjs);
# the same input from stdin and from a .zst file gives the same rows; usage errors exit 2
# and --help teaches.
source "$(dirname "$0")/../lib/harness.sh"

# Two synth files (different seeds and hours), then the real samples when they are there.
mkdir -p "$SS_TMP/in"
"$SKYSPOOL_BIN" synth --events 1500 --seed 3 --rate 5 --other-frac 0.05 > "$SS_TMP/in/synth_a.jsonl"
"$SKYSPOOL_BIN" synth --events 700 --seed 4 --start 2025-09-01T10:00:00Z --rate 50 > "$SS_TMP/in/synth_b.jsonl"
samples=("$SS_TMP"/in/*.jsonl)
if ss_shared "the real Jetstream samples" 'samples/*.jsonl'; then
  samples+=("$SKYSPOOL_SHARED"/samples/*.jsonl)
fi
jsonl_args=()
for f in "${samples[@]}"; do jsonl_args+=(--jsonl "$f"); done

# jget FILE KEY: a top-level value of a JSON file
jget() { node -e 'const s=JSON.parse(require("fs").readFileSync(process.argv[1]));console.log(s[process.argv[2]])' "$1" "$2"; }

out=$SS_TMP/samples
rc=0
"$SKYSPOOL_BIN" convert --out "$out" --keep-other --json "${samples[@]}" > "$SS_TMP/summary.json" || rc=$?
ss_eq "convert exits 0 on every sample file" 0 "$rc"
lines=$(cat "${samples[@]}" | grep -c .)
ss_eq "summary counts every line as an event" "$lines" "$(jget "$SS_TMP/summary.json" events)"
ss_eq "no rejects" "0" "$(jget "$SS_TMP/summary.json" rejects)"
ss_eq "no temporary files left behind" "" "$(find "$out" -name '.*' -print)"

if ss_node archive_check.mjs --dir "$out" "${jsonl_args[@]}" --full --keep-other; then
  ss_pass "samples read back field-identical (DuckDB, hyparquet, arrow-rs)"
else
  ss_fail "samples read back field-identical (DuckDB, hyparquet, arrow-rs)"
fi

# Without --keep-other, other collections are counted, not written.
"$SKYSPOOL_BIN" convert --out "$SS_TMP/noother" --json "${samples[@]}" > "$SS_TMP/noother.json"
ss_eq "without --keep-other no type=other partition" "" "$(find "$SS_TMP/noother" -type d -name 'type=other')"
if ss_node archive_check.mjs --dir "$SS_TMP/noother" "${jsonl_args[@]}" --full > "$SS_TMP/noother.log"; then
  ss_pass "without --keep-other the archived types still read back field-identical"
else
  cat "$SS_TMP/noother.log"; ss_fail "without --keep-other the archived types still read back field-identical"
fi

# stdin and .zst input give the same rows as the files.
cat "${samples[@]}" > "$SS_TMP/all.jsonl"
zstd -q -f "$SS_TMP/all.jsonl" -o "$SS_TMP/all.jsonl.zst"
"$SKYSPOOL_BIN" convert --out "$SS_TMP/stdin" --keep-other --no-progress --tag from-stdin - < "$SS_TMP/all.jsonl" > /dev/null
"$SKYSPOOL_BIN" convert --out "$SS_TMP/zst" --keep-other --no-progress "$SS_TMP/all.jsonl.zst" > /dev/null
q="SELECT count(*) AS n, sum(hash(did, time_us, rkey, rev, record, text, seq, status, langs)) AS h FROM read_parquet('DIR/**/*.parquet', hive_partitioning = true)"
want=$(ss_node duck_query.mjs "${q//DIR/$out}")
ss_eq "stdin input gives the same rows" "$want" "$(ss_node duck_query.mjs "${q//DIR/$SS_TMP/stdin}")"
ss_eq ".zst input gives the same rows" "$want" "$(ss_node duck_query.mjs "${q//DIR/$SS_TMP/zst}")"

# Converting the same inputs again rewrites the same files (deterministic names): no duplicates.
before=$(cd "$out" && find . -name '*.parquet' | sort | md5sum)
"$SKYSPOOL_BIN" convert --out "$out" --keep-other --no-progress "${samples[@]}" > /dev/null
ss_eq "a second run writes the same file names" "$before" "$(cd "$out" && find . -name '*.parquet' | sort | md5sum)"
ss_eq "a second run adds no duplicate rows" "$lines" \
  "$(ss_node duck_query.mjs --scalar "SELECT count(*) FROM read_parquet('$out/**/*.parquet')")"

# A run that splits partitions differently (few open files: extra part files) followed by
# a run of the same inputs with room for every partition: the second run removes the
# first run's extra files, which are stale.
# (synth: every type in every hour; a file given twice would now be written once, see
# convert_identity.sh, and no longer revisit partitions)
"$SKYSPOOL_BIN" synth --events 3000 --seed 5 --rate 1 > "$SS_TMP/twice.jsonl"
"$SKYSPOOL_BIN" convert --out "$SS_TMP/stale" --keep-other --no-progress --max-open-files 2 --spill-bytes 0 --json "$SS_TMP/twice.jsonl" > "$SS_TMP/stale0.json"
many=$(find "$SS_TMP/stale" -name 'part-*.parquet' ! -name 'part-*-000000.parquet' | wc -l)
ss_check "few open files split partitions into extra part files ($many)" test "$many" -gt 0
"$SKYSPOOL_BIN" convert --out "$SS_TMP/stale" --keep-other --max-open-files 64 --json "$SS_TMP/twice.jsonl" > "$SS_TMP/stale.json"
ss_eq "the normal run removed them" "0" "$(find "$SS_TMP/stale" -name 'part-*.parquet' ! -name 'part-*-000000.parquet' | wc -l)"
ss_eq "the summary says how many" "$many" "$(jget "$SS_TMP/stale.json" stale_removed)"
ss_eq "no duplicate rows after the re-run" "$(jget "$SS_TMP/stale0.json" events)" \
  "$(ss_node duck_query.mjs --scalar "SELECT count(*) FROM read_parquet('$SS_TMP/stale/**/*.parquet')")"
# a temporary left by an interrupted run of the same tag is cleaned up too
first=$(find "$SS_TMP/stale" -name 'part-*-000000.parquet' | head -1)
tmpname="$(dirname "$first")/.$(basename "${first%-000000.parquet}")-000009.parquet.tmp"
: > "$tmpname"
"$SKYSPOOL_BIN" convert --out "$SS_TMP/stale" --keep-other --max-open-files 64 --no-progress "$SS_TMP/twice.jsonl" > /dev/null
ss_check "an interrupted run's temporary is removed" test ! -e "$tmpname"

# Usage errors exit 2 with a message; --help exits 0 with examples.
usage_rc() { "$SKYSPOOL_BIN" convert "$@" > /dev/null 2> "$SS_TMP/err.txt"; echo $?; }
ss_eq "missing --out exits 2" 2 "$(usage_rc "${samples[0]}")"
ss_eq "no input exits 2" 2 "$(usage_rc --out "$SS_TMP/x")"
ss_eq "bad codec exits 2" 2 "$(usage_rc --out "$SS_TMP/x" --codec lz4 "${samples[0]}")"
ss_check "bad codec message names the choices" grep -q "zstd, snappy or none" "$SS_TMP/err.txt"
ss_eq "bad zstd level exits 2" 2 "$(usage_rc --out "$SS_TMP/x" --zstd-level 99 "${samples[0]}")"
ss_eq "bad tag exits 2" 2 "$(usage_rc --out "$SS_TMP/x" --tag ../evil "${samples[0]}")"
ss_eq "stdin twice exits 2" 2 "$(usage_rc --out "$SS_TMP/x" --tag t - -)"
ss_eq "stdin without --tag exits 2" 2 "$(usage_rc --out "$SS_TMP/x" - < /dev/null)"
ss_check "the stdin message asks for --tag" grep -q -- "--tag" "$SS_TMP/err.txt"
ss_eq "missing input file exits 1" 1 "$(usage_rc --out "$SS_TMP/x" "$SS_TMP/does-not-exist.jsonl")"
"$SKYSPOOL_BIN" convert --help > "$SS_TMP/help.txt"
ss_check "--help shows examples" grep -q "skyspool convert --out archive" "$SS_TMP/help.txt"

ss_done
