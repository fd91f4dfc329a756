#!/usr/bin/env bash
# Native firehose decoding: `skyspool cat --source frames:F > /dev/null` on realistic frames
# (real DAG-CBOR, CIDs and CARs: signed commit block + MST-node-like blocks + records,
# ~5.4 KB/frame like the live firehose), CID verification on. Goal: >= 50,000 frames/s on
# one core. Peers measured in the same run:
#   - the same events as Jetstream JSONL through `cat --source file:` (the JSON path);
#   - `sha256sum` of the frames file (hashing every byte, for scale);
#   - libcbor 0.8's streaming decoder vs skyspool's strict DAG-CBOR reader on the same bytes
#     (bench/fh_cbor_choice.c), the measurement behind the choice of reader.
# Medians of 5 runs, CPU seconds (user+sys). Writes bench/results/firehose.md.
#   bench/firehose_decode.sh [FRAMES]     (run by bench/run-all; default 50000)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${SKYSPOOL_BUILD:-$PWD/build}
B=${SKYSPOOL_BIN:-$BUILD/skyspool}
N=${1:-50000}
FILLER=4500 # bytes of MST-like blocks per commit: brings frames to ~5.4 KB on synth events
RUNS=5
cmake --build "$BUILD" --target fh_cbor_choice fh_mkframes -j2 >/dev/null
MK=$BUILD/fh_mkframes
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cpu() {
  local TIMEFORMAT='%U %S' t
  t=$( { time "$@" >/dev/null 2>&1; } 2>&1 )
  awk -v t="$t" 'BEGIN { split(t, a, " "); printf "%.3f", a[1] + a[2] }'
}
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

nice "$B" synth --events "$N" --seed 1 >"$tmp/events.jsonl"
nice "$MK" --filler $FILLER --seed 1 --expect "$tmp/expect.jsonl" "$tmp/c.frames" <"$tmp/events.jsonl" 2>"$tmp/mk.log"
nice "$MK" --filler $FILLER --seed 1 "$tmp/c.frames.zst" <"$tmp/events.jsonl" 2>>"$tmp/mk.log"
frames=$(grep -o '[0-9]* frames' "$tmp/mk.log" | head -1 | cut -d' ' -f1)
fbytes=$(stat -c %s "$tmp/c.frames")
zbytes=$(stat -c %s "$tmp/c.frames.zst")
jbytes=$(stat -c %s "$tmp/expect.jsonl")
events=$(wc -l <"$tmp/expect.jsonl")

# correctness first: the benchmarked command prints exactly the expected events
"$B" cat --source "frames:$tmp/c.frames" >"$tmp/out.jsonl" 2>/dev/null
cmp -s "$tmp/out.jsonl" "$tmp/expect.jsonl" || { echo "firehose_decode: output differs from the expected events" >&2; exit 1; }

a=() b=() c=() d=() e=()
for i in $(seq $RUNS); do # interleaved, so load changes hit every row alike
  a+=("$(cpu nice "$B" cat --source "frames:$tmp/c.frames")")
  b+=("$(cpu nice "$B" cat --no-verify-cids --source "frames:$tmp/c.frames")")
  c+=("$(cpu nice "$B" cat --source "frames:$tmp/c.frames.zst")")
  d+=("$(cpu nice "$B" cat --source "file:$tmp/expect.jsonl")")
  e+=("$(cpu nice sha256sum "$tmp/c.frames")")
done
t_v=$(median "${a[@]}") t_nv=$(median "${b[@]}") t_z=$(median "${c[@]}") t_j=$(median "${d[@]}") t_sha=$(median "${e[@]}")
choice=$(nice "$BUILD/fh_cbor_choice" "$tmp/c.frames" --runs $RUNS)

fps() { awk -v n="$frames" -v t="$1" 'BEGIN { if (t > 0) printf "%.0f", n / t; else print "inf" }'; }
mbs() { awk -v b="$2" -v t="$1" 'BEGIN { if (t > 0) printf "%.0f", b / t / 1e6; else print "inf" }'; }
goal=$(awk -v f="$(fps "$t_v")" 'BEGIN { print (f >= 50000) ? "met" : "NOT met" }')
mkdir -p bench/results
{
  echo "## Native firehose decoding (frames: into cat)"
  echo
  echo "Command: \`bench/firehose_decode.sh $N\` (release build, \`nice\`, median of $RUNS interleaved runs, CPU"
  echo "seconds user+sys of the whole command, output to /dev/null). Corpus: \`skyspool synth --events $N --seed 1\`"
  echo "converted by \`fh_mkframes --filler $FILLER\` into $frames real firehose frames (DAG-CBOR, CIDv1 sha-256,"
  echo "CAR v1 with the signed commit block, MST-node-like blocks and the records): $fbytes bytes,"
  echo "$(awk -v b="$fbytes" -v n="$frames" 'BEGIN { printf "%.0f", b / n }') bytes/frame (live frames average ~5,459), $events events; zstd: $zbytes bytes."
  echo "The output was checked byte for byte against the expected events before timing."
  echo
  echo "| what | CPU s | frames/s | frame MB/s | events/s |"
  echo "|---|---:|---:|---:|---:|"
  echo "| \`cat --source frames:F\` (CID verification on) | $t_v | **$(fps "$t_v")** | $(mbs "$t_v" "$fbytes") | $(awk -v n="$events" -v t="$t_v" 'BEGIN { printf "%.0f", n / t }') |"
  echo "| \`cat --no-verify-cids --source frames:F\` | $t_nv | $(fps "$t_nv") | $(mbs "$t_nv" "$fbytes") | $(awk -v n="$events" -v t="$t_nv" 'BEGIN { printf "%.0f", n / t }') |"
  echo "| \`cat --source frames:F.zst\` | $t_z | $(fps "$t_z") | $(mbs "$t_z" "$fbytes") | $(awk -v n="$events" -v t="$t_z" 'BEGIN { printf "%.0f", n / t }') |"
  echo "| peer: \`cat --source file:\` on the same events as Jetstream JSONL ($jbytes bytes) | $t_j | | $(mbs "$t_j" "$jbytes") (JSON) | $(awk -v n="$events" -v t="$t_j" 'BEGIN { printf "%.0f", n / t }') |"
  echo "| peer: \`sha256sum\` of the frames file | $t_sha | $(fps "$t_sha") | $(mbs "$t_sha" "$fbytes") | |"
  echo
  echo "Goal (>= 50,000 frames/s, one core, CID verification on): **$goal** ($(fps "$t_v") frames/s,"
  echo "$(awk -v f="$(fps "$t_v")" 'BEGIN { printf "%.1f", f / 50000 }')x the goal). Verification hashes the blocks that are used (commit + records),"
  echo "not the MST nodes, so it costs far less than hashing every byte (the sha256sum row)."
  echo
  echo "DAG-CBOR reader, same bytes (frame header and body, then every record block), in-process, CPU s:"
  echo
  echo "| reader | CPU s | frames/s | frame MB/s | speed vs libcbor |"
  echo "|---|---:|---:|---:|---:|"
  echo "$choice" | grep '^|'
  echo
  echo "$choice" | grep '^<!--' || true
} >bench/results/firehose.md
cat bench/results/firehose.md
