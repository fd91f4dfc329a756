#!/usr/bin/env bash
# Synthetic firehose generation and the file: source, against their peers in the same run:
#   - `skyspool synth` (events/s, MB/s) vs `zstd -1` compressing the same bytes (a C tool doing
#     light per-byte work on the same volume, for scale);
#   - `skyspool cat --source file:X` vs `wc -l X` (the floor for finding lines);
#   - `skyspool cat --source file:X.zst` vs `zstd -dc X.zst | wc -l`.
# Medians of 5 runs, CPU seconds (user+sys) of the measured command. Writes bench/results/synth_cat.md.
#   bench/synth_cat.sh [EVENTS]     (run by bench/run-all; default 1000000)
set -euo pipefail
cd "$(dirname "$0")/.."
B=${SKYSPOOL_BIN:-$PWD/build/skyspool}
N=${1:-1000000}
RUNS=5
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
f=$tmp/synth.jsonl

# cpu CMD...: prints user+sys CPU seconds of the command (stdout discarded).
cpu() {
  local TIMEFORMAT='%U %S' t
  t=$( { time "$@" >/dev/null 2>&1; } 2>&1 )
  awk -v t="$t" 'BEGIN { split(t, a, " "); printf "%.3f", a[1] + a[2] }'
}
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
runs() { local r=() i; for i in $(seq $RUNS); do r+=("$(cpu "$@")"); done; median "${r[@]}"; }

nice "$B" synth --events "$N" --seed 1 >"$f"
bytes=$(stat -c %s "$f")
zstd -q -1 -f "$f" -o "$f.zst"

t_synth=$(runs nice "$B" synth --events "$N" --seed 1)
t_zstd=$(runs nice zstd -q -1 -c "$f")
t_cat=$(runs nice "$B" cat --source "file:$f")
t_wc=$(runs nice wc -l "$f")
t_catz=$(runs nice "$B" cat --source "file:$f.zst")
t_zwc=$(runs nice bash -c "zstd -dc '$f.zst' | wc -l")

rate() { awk -v n="$1" -v t="$2" 'BEGIN { if (t > 0) printf "%.0f", n / t; else print "inf" }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0) printf "%.2f", b / a; else print "inf" }'; }
mkdir -p bench/results
{
  echo "## Synthetic firehose and file source"
  echo
  echo "Command: \`bench/synth_cat.sh $N\` (release build, \`nice\`, median of $RUNS runs, CPU seconds"
  echo "user+sys of the measured command). Corpus: \`skyspool synth --events $N --seed 1\`,"
  echo "$bytes bytes ($(awk -v b="$bytes" -v n="$N" 'BEGIN { printf "%.1f", b / n }') bytes/line)."
  echo
  echo "| what | skyspool CPU s | events/s | peer | peer CPU s | skyspool speed / peer |"
  echo "|---|---|---|---|---|---|"
  echo "| generate | $t_synth | $(rate "$N" "$t_synth") | \`zstd -1\` of the same bytes | $t_zstd | $(ratio "$t_synth" "$t_zstd") |"
  echo "| \`cat --source file:\` | $t_cat | $(rate "$N" "$t_cat") | \`wc -l\` | $t_wc | $(ratio "$t_cat" "$t_wc") |"
  echo "| \`cat --source file:….zst\` | $t_catz | $(rate "$N" "$t_catz") | \`zstd -dc \| wc -l\` | $t_zwc | $(ratio "$t_catz" "$t_zwc") |"
  echo
  echo "Generation: $(awk -v b="$bytes" -v t="$t_synth" 'BEGIN { printf "%.0f", b / t / 1e6 }') MB/s of JSONL per CPU-second."
  echo "A ratio ≥ 1 means skyspool used no more CPU than the peer."
} >bench/results/synth_cat.md
cat bench/results/synth_cat.md
