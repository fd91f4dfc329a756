#!/usr/bin/env bash
# `skyspool convert` against DuckDB on the same 1,000,000 synth events (skyspool synth
# --events 1000000 --seed 42), side by side in one run, both single-threaded, both zstd,
# both writing the same 34 columns (raw record JSON included) into the same hive layout:
#   skyspool: `skyspool convert --out DIR FILE`; CPU = user + sys of the process
#             (/usr/bin/time), peak RSS from the same.
#   DuckDB:   tests/js/duck_convert.mjs: COPY (SELECT ... FROM read_json(NDJSON, explicit
#             columns)) TO DIR (FORMAT parquet, PARTITION_BY (year, month, day, hour, type),
#             COMPRESSION zstd), threads=1; CPU = process.cpuUsage() around the COPY alone.
# Runs are interleaved (ours, DuckDB, ours, ...) and medians of RUNS runs are reported.
# Then peak RSS where memory could grow: 3x the events streamed from stdin, an input that
# keeps 16 partitions filling at once (2 hours x 8 types, round robin), and one in no time
# order at all (24 hours x 7 types, round robin).
# Writes bench/results/convert.md.
#   bench/convert.sh               (run by bench/run-all; EVENTS=.. RUNS=.. to change)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${SKYSPOOL_BIN:-$PWD/build/skyspool}
EVENTS=${EVENTS:-1000000}
RUNS=${RUNS:-3}
SEED=42
tmp=$(mktemp -d "${TMPDIR:-/tmp}/skyspool-bench-convert.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
load0=$(cut -d' ' -f1-3 /proc/loadavg)
[ -x "$BIN" ] || { echo "bench/convert: build first (make bench does)" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "bench/convert: needs /usr/bin/time (Debian package 'time')" >&2; exit 2; }

in=$tmp/events.jsonl
"$BIN" synth --events "$EVENTS" --seed "$SEED" > "$in"
in_bytes=$(stat -c %s "$in")

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
jnum() { node -e 'const s=JSON.parse(require("fs").readFileSync(0,"utf8"));console.log(s[process.argv[1]])' "$1"; }
dir_bytes() { find "$1" -name '*.parquet' -printf '%s\n' | awk '{s+=$1} END {print s+0}'; }

ours_cpu=() ours_bytes=() ours_rss=() ours_ev=()
duck_cpu=() duck_bytes=() duck_ev=()
for i in $(seq "$RUNS"); do
  rm -rf "$tmp/ours" "$tmp/duck"
  nice /usr/bin/time -f '%U %S %M' -o "$tmp/time.txt" "$BIN" convert --out "$tmp/ours" --no-progress --json "$in" > "$tmp/ours.json"
  read -r u s m < "$tmp/time.txt"
  ours_cpu+=("$(awk -v u="$u" -v s="$s" 'BEGIN {print u + s}')")
  ours_rss+=("$m")
  ours_bytes+=("$(dir_bytes "$tmp/ours")")
  ours_ev+=("$(jnum events < "$tmp/ours.json")")
  rm -rf "$tmp/ours"
  nice node tests/js/duck_convert.mjs "$in" "$tmp/duck" > "$tmp/duck.json"
  duck_cpu+=("$(jnum cpu_s < "$tmp/duck.json")")
  duck_bytes+=("$(jnum bytes < "$tmp/duck.json")")
  duck_ev+=("$(jnum events < "$tmp/duck.json")")
  rm -rf "$tmp/duck"
  echo "run $i: skyspool ${ours_cpu[-1]} CPU-s ${ours_bytes[-1]} B ${ours_rss[-1]} KB; DuckDB ${duck_cpu[-1]} CPU-s ${duck_bytes[-1]} B" >&2
done
ev=${ours_ev[0]}
[ "$ev" = "${duck_ev[0]}" ] || { echo "bench/convert: row counts differ: skyspool $ev, DuckDB ${duck_ev[0]}" >&2; exit 1; }

oc=$(printf '%s\n' "${ours_cpu[@]}" | median)
ob=$(printf '%s\n' "${ours_bytes[@]}" | median)
orss=$(printf '%s\n' "${ours_rss[@]}" | median)
dc=$(printf '%s\n' "${duck_cpu[@]}" | median)
db=$(printf '%s\n' "${duck_bytes[@]}" | median)
calc() { awk "BEGIN {printf \"$1\", $2}"; }
o_eps=$(calc %.0f "$ev / $oc"); d_eps=$(calc %.0f "$ev / $dc")
o_bpe=$(calc %.1f "$ob / $ev"); d_bpe=$(calc %.1f "$db / $ev")
speed=$(calc %.2f "($d_eps > 0 ? $o_eps / $d_eps : 0)"); size=$(calc %.3f "$ob / $db")

# Memory where it could grow. (1) three times the events, streamed from stdin.
"$BIN" synth --events $((EVENTS * 3)) --seed $((SEED + 1)) |
  nice /usr/bin/time -f '%M' -o "$tmp/rss3.txt" "$BIN" convert --out "$tmp/big" --no-progress --no-fsync --tag big - > /dev/null
rss3=$(cat "$tmp/rss3.txt"); rm -rf "$tmp/big"
# (2) 16 partitions (the default --max-open-files) filling at once: the events' hours
# alternate and other collections are kept, so 2 hours x 8 types stay open and every
# writer buffers up to a full row group.
awk -v OFS= '{ if (match($0, /"time_us":[0-9]+/)) { t = sprintf("%.0f", substr($0, RSTART + 10, RLENGTH - 10) + (NR % 2) * 3600000000);
  $0 = substr($0, 1, RSTART + 9) t substr($0, RSTART + RLENGTH) } print }' "$in" > "$tmp/alt.jsonl"
nice /usr/bin/time -f '%M' -o "$tmp/rssalt.txt" "$BIN" convert --out "$tmp/alt" --no-progress --no-fsync --keep-other --json "$tmp/alt.jsonl" > "$tmp/alt.json"
rssalt=$(cat "$tmp/rssalt.txt"); altfiles=$(jnum files < "$tmp/alt.json")
rm -rf "$tmp/alt" "$tmp/alt.jsonl"
# (3) input in no time order at all: the hours rotate over a day, 168 partitions round robin;
# the spill buffer keeps memory bounded and files few.
awk -v OFS= '{ if (match($0, /"time_us":[0-9]+/)) { t = sprintf("%.0f", substr($0, RSTART + 10, RLENGTH - 10) + (NR % 24) * 3600000000);
  $0 = substr($0, 1, RSTART + 9) t substr($0, RSTART + RLENGTH) } print }' "$in" > "$tmp/rot.jsonl"
nice /usr/bin/time -f '%M' -o "$tmp/rssrot.txt" "$BIN" convert --out "$tmp/rot" --no-progress --no-fsync --json "$tmp/rot.jsonl" > "$tmp/rot.json"
rssrot=$(cat "$tmp/rssrot.txt"); rotfiles=$(jnum files < "$tmp/rot.json"); rotparts=$(jnum partitions < "$tmp/rot.json")
rotbpe=$(jnum bytes_per_event < "$tmp/rot.json")
rm -rf "$tmp/rot" "$tmp/rot.jsonl"

# The level choice: one run per zstd level (the default is 2).
sweep=""
for lvl in 1 2 3 5; do
  rm -rf "$tmp/lvl"
  nice /usr/bin/time -f '%U %S' -o "$tmp/time.txt" "$BIN" convert --out "$tmp/lvl" --no-progress --no-fsync --zstd-level "$lvl" "$in" > /dev/null
  read -r u s < "$tmp/time.txt"
  b=$(dir_bytes "$tmp/lvl")
  sweep+="| $lvl | $(calc %.0f "$ev / ($u + $s)") | $(calc %.1f "$b / $ev") |"$'\n'
done
rm -rf "$tmp/lvl"

verdict() { if awk "BEGIN {exit !($1)}"; then echo "met"; else echo "**missed**"; fi; }
mkdir -p bench/results
{
  echo "## convert: JSONL to the Parquet archive (skyspool vs DuckDB)"
  echo
  echo "Command: \`bench/convert.sh\` (EVENTS=$EVENTS, RUNS=$RUNS, release build, \`nice\`). Input:"
  echo "\`skyspool synth --events $EVENTS --seed $SEED\` ($in_bytes bytes, $(calc %.0f "$in_bytes / $EVENTS") bytes of JSON per line);"
  echo "$ev events are archived (other collections are counted, not written, by both)."
  echo
  echo "- skyspool: \`skyspool convert --out DIR events.jsonl\` (defaults: zstd level 2, 34 columns incl. raw"
  echo "  \`record\`, fsync on); CPU = user + sys of the whole process (\`/usr/bin/time\`), decoding included."
  echo "- DuckDB $(node -e 'console.log(require("./tests/js/node_modules/@duckdb/node-api/package.json").version)'): \`node tests/js/duck_convert.mjs events.jsonl DIR\`: \`COPY (SELECT <the same 34"
  echo "  columns> FROM read_json(events.jsonl, format='newline_delimited', columns={...})) TO DIR (FORMAT parquet,"
  echo "  PARTITION_BY (year, month, day, hour, type), COMPRESSION zstd)\`, \`threads=1\`; CPU = \`process.cpuUsage()\`"
  echo "  around the COPY alone."
  echo
  echo "Medians of $RUNS interleaved runs:"
  echo
  echo "| | events per CPU-second | output bytes | bytes per event | peak RSS |"
  echo "|---|---:|---:|---:|---:|"
  echo "| skyspool convert | $o_eps | $ob | $o_bpe | $((orss / 1024)) MB |"
  echo "| DuckDB COPY | $d_eps | $db | $d_bpe | (not measured: node process) |"
  echo
  echo "| goal | measured | |"
  echo "|---|---|---|"
  echo "| events per CPU-second >= 1.5x DuckDB's | ${speed}x | $(verdict "$speed >= 1.5") |"
  echo "| output bytes per event <= DuckDB's (zstd) | $o_bpe vs $d_bpe ($(calc %.1f "($size - 1) * 100")%) | $(verdict "$size <= 1.0") |"
  echo "| peak RSS <= 256 MB, any input size | $((orss / 1024)) MB at $EVENTS events; $((rss3 / 1024)) MB at $((EVENTS * 3)) events from stdin; $((rssalt / 1024)) MB with 16 partitions filling at once ($altfiles files); $((rssrot / 1024)) MB with the events in no time order ($rotparts partitions round robin: $rotfiles files, $rotbpe bytes per event) | $(verdict "$orss <= 262144 && $rss3 <= 262144 && $rssalt <= 262144 && $rssrot <= 262144") |"
  echo
  echo "Per-run numbers: skyspool CPU-s ${ours_cpu[*]}; DuckDB CPU-s ${duck_cpu[*]}."
  echo "Load average at the start and end of the run: $load0 / $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) cores, a shared machine)."
  echo
  echo "The zstd level (one run per level, same input, \`--no-fsync\`; the default is 2):"
  echo
  echo "| zstd level | events per CPU-second | bytes per event |"
  echo "|---:|---:|---:|"
  printf '%s' "$sweep"
  echo
  echo "Encodings (docs/SCHEMA.md): the identifiers of posts (\`subject_uri\`, \`subject_cid\`, the reply root,"
  echo "\`embed_uri\`) are dictionary-encoded, since likes, reposts, replies and quotes concentrate on popular"
  echo "posts; \`did\`, \`cid\`, \`rkey\` and the other per-event identifiers are PLAIN. Pages hold 4 MiB and"
  echo "zstd's window covers the page, so the raw \`record\` JSON finds a popular post's URI and CID again"
  echo "further back than 1 MiB."
} > bench/results/convert.md
cat bench/results/convert.md
