#!/usr/bin/env bash
# The Parquet writer alone against DuckDB's Parquet writer, on the same 1,000,000 rows of the
# archive's shape (15 columns, see tests/tools/pq_bench.c), both single-threaded, both zstd.
# skyspool: pq_bench's writing loop (CPU seconds of the process). DuckDB: the rows are loaded
# into an in-memory table first (not timed), then only COPY ... TO parquet is timed, threads=1.
# Medians of RUNS runs; writes bench/results/parquet_writer.md.
#   bench/parquet_writer.sh            (run by bench/run-all; ROWS=.. RUNS=.. to change)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${SKYSPOOL_BUILD:-$PWD/build}
ROWS=${ROWS:-1000000}
RUNS=${RUNS:-3}
cmake --build "$BUILD" --target pq_bench -j2 >/dev/null
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$BUILD/pq_bench" "$tmp/gen.parquet" --rows "$ROWS" --ndjson "$tmp/rows.ndjson" >/dev/null
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p"; }

ours() { # codec level [extra pq_bench flags]
  for _ in $(seq "$RUNS"); do nice "$BUILD/pq_bench" "$tmp/ours.parquet" --rows "$ROWS" --codec "$1" --level "$2" ${3:-}; done
}
declare -A RPS BPR
for cfg in "zstd 1" "zstd 2" "zstd 3" "snappy 3" "none 3" "zstd 1 --delta"; do
  set -- $cfg
  out=$(ours "$1" "$2" "${3:-}")
  RPS[$cfg]=$(echo "$out" | field rows_per_cpu_s | median)
  BPR[$cfg]=$(echo "$out" | field bytes_per_row | median)
done
for codec in zstd snappy; do
  out=$(nice node tests/js/pq_bench_duckdb.mjs "$tmp/rows.ndjson" "$tmp/duck.parquet" "$RUNS" "$codec")
  RPS[duck $codec]=$(echo "$out" | field rows_per_cpu_s | median)
  BPR[duck $codec]=$(echo "$out" | field bytes_per_row | median)
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
mkdir -p bench/results
{
  echo "## Parquet writer (skyspool vs DuckDB)"
  echo
  echo "Command: \`bench/parquet_writer.sh\` (ROWS=$ROWS, RUNS=$RUNS, release build, \`nice\`). The same $ROWS rows"
  echo "of the archive's shape (15 columns: dictionary DIDs/collections, random rkeys/revs/CIDs, a ~250-byte"
  echo "raw record JSON, timestamps, optional text, a language list; \`tests/tools/pq_bench.c\`) written by"
  echo "skyspool's writer (\`pq_bench\`, CPU time of the writing loop) and by DuckDB (\`COPY t TO ... (FORMAT"
  echo "parquet)\` from an in-memory table, threads=1, CPU time of the COPY alone; \`tests/js/pq_bench_duckdb.mjs\`)."
  echo "Medians of $RUNS runs. Ratios are skyspool / DuckDB for speed, DuckDB / skyspool for size (higher is better)."
  echo
  echo "| writer | codec | rows per CPU-second | bytes per row | speed ratio | size ratio |"
  echo "|---|---|---:|---:|---:|---:|"
  for cfg in "zstd 1" "zstd 2" "zstd 3"; do
    label="zstd level ${cfg#zstd }"; [ "$cfg" = "zstd 1" ] && label="$label (default)"
    echo "| skyspool | $label | ${RPS[$cfg]} | ${BPR[$cfg]} | $(ratio "${RPS[$cfg]}" "${RPS[duck zstd]}") | $(ratio "${BPR[duck zstd]}" "${BPR[$cfg]}") |"
  done
  cfg="zstd 1 --delta"
  echo "| skyspool | zstd level 1 + delta_int64 | ${RPS[$cfg]} | ${BPR[$cfg]} | $(ratio "${RPS[$cfg]}" "${RPS[duck zstd]}") | $(ratio "${BPR[duck zstd]}" "${BPR[$cfg]}") |"
  echo "| DuckDB | zstd (default level) | ${RPS[duck zstd]} | ${BPR[duck zstd]} | 1.00 | 1.00 |"
  echo "| skyspool | snappy | ${RPS[snappy 3]} | ${BPR[snappy 3]} | $(ratio "${RPS[snappy 3]}" "${RPS[duck snappy]}") | $(ratio "${BPR[duck snappy]}" "${BPR[snappy 3]}") |"
  echo "| DuckDB | snappy | ${RPS[duck snappy]} | ${BPR[duck snappy]} | 1.00 | 1.00 |"
  echo "| skyspool | none | ${RPS[none 3]} | ${BPR[none 3]} | | |"
  echo
  echo "Writer defaults used: 1 MiB pages, 131072-row groups, 4 MiB dictionary limit; \`did\`, \`kind\`, \`operation\`,"
  echo "\`collection\`, \`langs\`, \`embed_type\` dictionary-encoded. Synthetic rows are mostly random identifiers, so"
  echo "sizes are close to their entropy for both writers; zstd is most of skyspool's CPU time (compare the none row)."
} >bench/results/parquet_writer.md
cat bench/results/parquet_writer.md
