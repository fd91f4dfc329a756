#!/usr/bin/env bash
# The second compiler: the whole tree (the program, its libraries and the unit tests) builds
# with clang and -Werror, as it does with gcc. Two compilers' warnings catch different mistakes,
# and a packager may build with either. Then the clang build's own unit tests run, and its
# binary must convert events into an archive that reads back identical to the gcc build's.
source "$SKYSPOOL_SRC/tests/lib/harness.sh"
cd "$SS_TMP"
if ! command -v clang > /dev/null; then
  ss_fail "clang missing: scripts/install-deps installs it"
  ss_done
fi
CC=clang cmake -S "$SKYSPOOL_SRC" -B cb -DCMAKE_BUILD_TYPE=Release -DSKYSPOOL_WERROR=ON > configure.log 2>&1 ||
  { ss_fail "cmake with clang failed"; cat configure.log >&2; }
ss_check "configured with clang" grep -q "CMAKE_C_COMPILER:FILEPATH=.*clang" cb/CMakeCache.txt
cmake --build cb -j "$(nproc)" > build.log 2>&1 || { ss_fail "the clang -Werror build failed"; grep -E "error|warning" build.log | head -40 >&2; }
ss_eq "no warning from clang" 0 "$(grep -c 'warning:' build.log || true)"
ss_check "--version answers" bash -c "cb/skyspool --version | grep -q '^skyspool version'"
# the unit tests of the clang build (the integration tests run the gcc ASan build)
ss_check "the clang build's unit tests pass" bash -c "ctest --test-dir cb -L unit -j $(nproc) > unit.log 2>&1 || { tail -30 unit.log >&2; false; }"
ss_check "  and there were some" grep -Eq "tests passed, 0 tests failed out of [1-9]" unit.log
"$SKYSPOOL_BIN" synth --events 2000 --seed 5 > ev.jsonl
cb/skyspool convert --out clang-arch --no-progress --no-fsync ev.jsonl > /dev/null 2> c1.err
"$SKYSPOOL_BIN" convert --out gcc-arch --no-progress --no-fsync ev.jsonl > /dev/null 2> c2.err
ss_eq "the same files from both compilers' builds" "$(cd gcc-arch && find . -name '*.parquet' | sort)" \
  "$(cd clang-arch && find . -name '*.parquet' | sort)"
"$SKYSPOOL_BIN" cat --source archive:clang-arch > clang.jsonl 2> r1.err
"$SKYSPOOL_BIN" cat --source archive:gcc-arch > gcc.jsonl 2> r2.err
ss_check "  which read back to events" test "$(wc -l < gcc.jsonl)" -gt 1000
ss_check "  identical, event for event" cmp -s gcc.jsonl clang.jsonl
ss_done
