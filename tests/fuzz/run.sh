#!/usr/bin/env bash
# Builds the fuzz targets (tests/fuzz/fuzz_*.c) in their own build directory and runs each
# one for a while on its seed corpus. Used by `make fuzz` (long runs) and by the CTest
# smoke test tests/integration/fuzz_smoke.sh (short runs).
#
#   tests/fuzz/run.sh [--seconds S] [--build DIR] [--work DIR] [--seed N] [TARGET...]
#
#   --seconds S  per target (default $FUZZ_SECONDS or 300); small targets get S/2
#   --build DIR  the fuzz build directory (default build-fuzz)
#   --work DIR   corpora and artifacts (default DIR/corpus): WORK/<target>/ keeps what
#                libFuzzer learned, so long runs build on each other
#   --seed N     libFuzzer / driver seed (default 0 = libFuzzer picks one; the driver uses 1)
#   TARGET       json, event, ... (default: every fuzz_*.c)
#
# Engine: clang with libFuzzer when it works, otherwise gcc with the standalone driver
# (FUZZ_CC=gcc forces a compiler for a new build dir)
# (tests/fuzz/standalone.c: corpus replay + seeded random mutations). Either way
# ASan + UBSan + LeakSanitizer watch every input, and the invariant checks inside the
# targets abort on a violation. Exit status: 0 when every target ran its time without a
# crash, leak, UB report, invariant failure or timeout; 1 otherwise (the crashing input is
# saved under WORK/artifacts/ and the reproduction command is printed); 3 when no engine
# could be built at all ("skipped", never a silent pass).
set -euo pipefail
SRC=$(cd "$(dirname "$0")/../.." && pwd)
SECONDS_PER=${FUZZ_SECONDS:-300}
BUILD=$SRC/build-fuzz
WORK=""
SEED=0
TARGETS=()
while [ $# -gt 0 ]; do
  case $1 in
    --seconds) SECONDS_PER=$2; shift 2 ;;
    --build) BUILD=$2; shift 2 ;;
    --work) WORK=$2; shift 2 ;;
    --seed) SEED=$2; shift 2 ;;
    -h|--help) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "run.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) TARGETS+=("$1"); shift ;;
  esac
done
WORK=${WORK:-$BUILD/corpus}
SHARED=${SKYSPOOL_SHARED:-$SRC/../shared}
export SKYSPOOL_SHARED=$SHARED # fuzz_zdict reads the Jetstream dictionary from there
log() { printf '[fuzz] %s\n' "$*" >&2; }

# ---- build ----------------------------------------------------------------------------
configure() { # $1 = C compiler
  CC=$1 cmake -S "$SRC" -B "$BUILD" -DSKYSPOOL_FUZZ=ON -DSKYSPOOL_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$BUILD.configure.log" 2>&1
}
mkdir -p "$(dirname "$BUILD")"
if [ ! -f "$BUILD/CMakeCache.txt" ]; then
  if [ -n "${FUZZ_CC:-}" ]; then
    configure "$FUZZ_CC" || { cat "$BUILD.configure.log" >&2; echo "fuzz: SKIPPED: $FUZZ_CC cannot configure a fuzz build" >&2; exit 3; }
  elif command -v clang >/dev/null 2>&1 && configure clang; then
    :
  else
    rm -rf "$BUILD"
    log "clang/libFuzzer unavailable: falling back to gcc + the standalone mutation driver"
    if ! configure "${CC:-gcc}"; then
      cat "$BUILD.configure.log" >&2
      echo "fuzz: SKIPPED: no compiler could configure a sanitized fuzz build" >&2
      exit 3
    fi
  fi
else
  cmake "$BUILD" >"$BUILD.configure.log" 2>&1 # picks up new targets
fi
ENGINE=$(cat "$BUILD/fuzz-engine.txt")
log "engine: $ENGINE, build: $BUILD"
if ! nice cmake --build "$BUILD" -j "$(nproc 2>/dev/null || echo 2)" --target fuzz_all >"$BUILD.build.log" 2>&1; then
  tail -40 "$BUILD.build.log" >&2
  echo "fuzz: the fuzz build failed (log: $BUILD.build.log)" >&2
  exit 1
fi

# ---- seeds ----------------------------------------------------------------------------
GEN=$WORK/generated-seeds
rm -rf "$GEN"
mkdir -p "$GEN" "$WORK/artifacts"
"$BUILD/tests/fuzz/fuzz_seeds" "$GEN" "$SHARED/samples" 2>&1 | sed 's/^/[fuzz] /' >&2

if [ ${#TARGETS[@]} -eq 0 ]; then
  for f in "$SRC"/tests/fuzz/fuzz_*.c; do
    n=$(basename "$f" .c); n=${n#fuzz_}
    [ "$n" = seeds ] || TARGETS+=("$n")
  done
fi

# Parsers of short strings saturate fast: half the time.
small_target() { case $1 in redis_url|rfc3339|ws_url|zdict) return 0 ;; *) return 1 ;; esac; }

export ASAN_OPTIONS=${FUZZ_ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export LSAN_OPTIONS=suppressions=$SRC/tests/fuzz/lsan.supp:print_suppressions=0

FAILED=0
SUMMARY=()
for t in "${TARGETS[@]}"; do
  bin=$BUILD/tests/fuzz/fuzz_$t
  if [ ! -x "$bin" ]; then echo "fuzz: no target fuzz_$t" >&2; FAILED=1; continue; fi
  secs=$SECONDS_PER
  small_target "$t" && secs=$(( (secs + 1) / 2 ))
  corpus=$WORK/$t
  mkdir -p "$corpus"
  dirs=("$corpus")
  for d in "$GEN/$t" "$SRC/tests/fuzz/seeds/$t" "$SRC/tests/fuzz/regressions/$t"; do
    [ -d "$d" ] && dirs+=("$d")
  done
  logf=$WORK/$t.log
  args=(-max_total_time="$secs" -timeout=10 -artifact_prefix="$WORK/artifacts/$t-" -print_final_stats=1
        -rss_limit_mb=2048 -malloc_limit_mb=96 -max_len=131072)
  [ "$SEED" != 0 ] && args+=(-seed="$SEED")
  [ "$ENGINE" = standalone ] && [ "$SEED" = 0 ] && args+=(-seed=1)
  log "fuzz_$t for ${secs}s on ${dirs[*]}"
  set +e
  nice "$bin" "${args[@]}" "${dirs[@]}" >"$logf" 2>&1
  rc=$?
  set -e
  runs=$(grep -oE '(stat::number_of_executed_units: *[0-9]+|Done [0-9]+ runs)' "$logf" | grep -oE '[0-9]+' | tail -1)
  rate=$(grep -oE '(stat::average_exec_per_sec: *[0-9]+|\([0-9]+ exec/s\))' "$logf" | grep -oE '[0-9]+' | tail -1)
  runs=${runs:-0}; rate=${rate:-0}
  if [ "$rc" -ne 0 ]; then
    FAILED=1
    echo "FUZZ FAILURE in fuzz_$t (exit $rc); log $logf" >&2
    grep -E 'invariant failed|ERROR: |SUMMARY: |runtime error|Test unit written|crashing input|timeout' "$logf" | head -20 >&2 || true
    tail -40 "$logf" >&2
    art=$(ls -t "$WORK/artifacts/$t-"* 2>/dev/null | head -1 || true)
    [ -n "$art" ] && echo "reproduce: $bin $art" >&2
    SUMMARY+=("fuzz_$t: FAILED after $runs runs")
  elif [ "$runs" -lt 100 ]; then
    FAILED=1
    echo "fuzz: fuzz_$t ran only $runs inputs; the run did not fuzz (log $logf)" >&2
    tail -20 "$logf" >&2
    SUMMARY+=("fuzz_$t: TOO FEW RUNS ($runs)")
  else
    SUMMARY+=("fuzz_$t: $runs runs in ${secs}s, $rate exec/s, corpus $(ls "$corpus" | wc -l) new + seeds, engine $ENGINE")
  fi
done
printf '%s\n' "${SUMMARY[@]}"
exit $FAILED
