#!/usr/bin/env bash
# The Parquet writer, checked by independent readers: pq_gen (tests/tools) writes the fixed
# edge cases and seeded random property cases with the writer alone, pq_check reads every
# file back with DuckDB, hyparquet and arrow-rs (parquet-wasm) and compares value by value,
# walks every page and checks statistics and metadata; pq_prune proves DuckDB skips row
# groups by the `time` and `did` statistics. Seeds are fixed so a failure replays; set
# SS_PQ_SEEDS="7 8" and SS_PQ_RANDOM=N to explore more.
source "$SKYSPOOL_SRC/tests/lib/harness.sh"

GEN="${SKYSPOOL_BUILD:?}/pq_gen"
[ -x "$GEN" ] || { ss_fail "pq_gen not built at $GEN"; ss_done; exit 1; }
SEEDS=${SS_PQ_SEEDS:-"1 2"}
NRANDOM=${SS_PQ_RANDOM:-40}

out="$SS_TMP/cases"
mkdir -p "$out"
ok=1
for seed in $SEEDS; do
  "$GEN" "$out" --seed "$seed" --random "$NRANDOM" >"$SS_TMP/gen-$seed.log" 2>&1 || ok=0
done
if [ "$ok" = 1 ]; then ss_pass "pq_gen wrote $(ls "$out"/*.parquet | wc -l) files (seeds $SEEDS)"
else ss_fail "pq_gen failed: $(cat "$SS_TMP"/gen-*.log | grep -v ': [0-9]* rows' | tail -5)"; fi

if ss_node pq_check.mjs "$out" >"$SS_TMP/check.log" 2>&1; then
  ss_pass "all files read back exactly by DuckDB, hyparquet and arrow-rs ($(tail -1 "$SS_TMP/check.log"))"
else
  grep -v '^ok' "$SS_TMP/check.log" | head -40
  ss_fail "pq_check: $(tail -1 "$SS_TMP/check.log")"
fi

for codec in zstd snappy; do
  if ss_node pq_prune.mjs "$out/many_$codec.parquet" "$out/many_$codec.json" >"$SS_TMP/prune.log" 2>&1; then
    ss_pass "DuckDB prunes row groups by time and did statistics ($codec)"
  else
    cat "$SS_TMP/prune.log"
    ss_fail "row group pruning ($codec)"
  fi
done

# Memory does not grow with the file: 10x the rows (20k-row groups) must not need
# noticeably more memory (peak RSS, ASan quarantine kept small so freed memory is reused).
rss() {
  ASAN_OPTIONS=quarantine_size_mb=8:detect_leaks=1 /usr/bin/time -f '%M' \
    "$SKYSPOOL_BUILD/pq_bench" "$SS_TMP/rss.parquet" --rows "$1" --rg-rows 20000 2>&1 >/dev/null | tail -1
}
small=$(rss 40000); big=$(rss 400000)
if [ -n "$small" ] && [ -n "$big" ] && [ "$big" -lt $((small * 13 / 10)) ]; then
  ss_pass "peak RSS bounded by the row group: ${small} KB for 40k rows, ${big} KB for 400k rows"
else
  ss_fail "peak RSS grows with the file: ${small} KB for 40k rows, ${big} KB for 400k rows"
fi

# The checker must be able to fail: a file with one flipped byte in a data page body
# and one with a wrong num_rows must be caught.
mkdir -p "$SS_TMP/broken"
cp "$out/basic_none.json" "$SS_TMP/broken/basic_none.json"
cp "$out/basic_none.parquet" "$SS_TMP/broken/basic_none.parquet"
python3 - "$SS_TMP/broken/basic_none.parquet" <<'PY'
import sys
p = sys.argv[1]
b = bytearray(open(p, 'rb').read())
# flip a value byte well inside the first (uncompressed) column chunk's page body
b[40] ^= 0x01
open(p, 'wb').write(b)
PY
if ss_node pq_check.mjs "$SS_TMP/broken" >"$SS_TMP/broken.log" 2>&1; then
  ss_fail "pq_check accepted a corrupted file"
else
  ss_pass "pq_check rejects a corrupted file ($(grep -c '^FAIL' "$SS_TMP/broken.log") failures reported)"
fi
ss_done
