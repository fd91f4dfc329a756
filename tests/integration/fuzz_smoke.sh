#!/usr/bin/env bash
# Fuzz smoke test (labels: integration, fuzz): builds the fuzz targets in their own build
# directory (build-fuzz, next to the sources; clang + libFuzzer, or gcc + the standalone
# mutation driver when libFuzzer is missing) and runs every target for a short time on its
# seed corpus (generated now from the shared samples, the synthetic generator and the
# firehose test encoder, plus the hand-written seeds and every saved regression input).
# Fails on any crash, leak, sanitizer report, invariant violation or timeout, and when a
# target executed too few inputs to count as fuzzing. `make fuzz` runs the same targets
# for longer. FUZZ_SMOKE_SECONDS (default 8) sets the time per target.
source "$SKYSPOOL_SRC/tests/lib/harness.sh"

secs=${FUZZ_SMOKE_SECONDS:-8}
build=${SKYSPOOL_FUZZ_BUILD:-$SKYSPOOL_SRC/build-fuzz}
out=$SS_TMP/run.out
set +e
"$SKYSPOOL_SRC/tests/fuzz/run.sh" --seconds "$secs" --build "$build" --work "$SS_TMP/work" >"$out" 2>"$SS_TMP/run.err"
rc=$?
set -e
cat "$out"
if [ "$rc" -eq 3 ]; then
  cat "$SS_TMP/run.err" >&2
  echo "SKIPPED: no sanitized fuzz build possible on this machine (neither clang+libFuzzer nor gcc+ASan)" >&2
  exit 77 # CTest reports the test as skipped (SKIP_RETURN_CODE), never as passed
fi
[ "$rc" -eq 0 ] || { cat "$SS_TMP/run.err" >&2; SS_KEEP_TMP=1; }
ss_eq "every fuzz target ran clean" 0 "$rc"
# Every target of tests/fuzz/ reported, each with executions.
want=$(ls "$SKYSPOOL_SRC"/tests/fuzz/fuzz_*.c | grep -vc fuzz_seeds)
got=$(grep -cE '^fuzz_[a-z0-9_]+: [0-9]+ runs' "$out" || true)
ss_eq "all $want targets fuzzed" "$want" "$got"
ss_done
