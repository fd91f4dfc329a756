#!/usr/bin/env bash
# The real samples of ../shared are optional for a clone but not for CI: every test makes
# its own fixtures and uses the samples in addition, skipping those cases without them
# (ss_shared in tests/lib/harness.sh, SS_SHARED_OR_SKIP in tests/support/ss_shared.h). So
# that CI cannot pass with them silently skipped, under CI=true this test fails when they
# are absent (and the skips themselves turn into failures). Elsewhere it checks them when
# present and is counted as skipped when they are not.
source "$(dirname "$0")/../lib/harness.sh"

need=(samples/PROVENANCE.txt jetstream/zstd_dictionary)
missing=()
for rel in "${need[@]}"; do [ -r "$SKYSPOOL_SHARED/$rel" ] || missing+=("$rel"); done
compgen -G "$SKYSPOOL_SHARED/samples/*.jsonl" > /dev/null || missing+=("samples/*.jsonl")

if [ "${#missing[@]}" -gt 0 ]; then
  if [ "${CI:-}" = true ]; then
    ss_fail "CI=true but the shared samples are missing in $SKYSPOOL_SHARED: ${missing[*]} (set SKYSPOOL_SHARED or -DSKYSPOOL_SHARED_DIR)"
    ss_done; exit 1
  fi
  ss_skip_test "no shared samples in $SKYSPOOL_SHARED (${missing[*]}); the cases that use them are skipped"
fi

ss_eq "Jetstream's dictionary is the 112640-byte one" 112640 "$(stat -L -c %s "$SKYSPOOL_SHARED/jetstream/zstd_dictionary")"
n=$(cat "$SKYSPOOL_SHARED"/samples/*.jsonl | grep -c .)
ss_check "the samples hold events ($n)" test "$n" -gt 0
rc=0
"$SKYSPOOL_BIN" cat --source "file:$(ls "$SKYSPOOL_SHARED"/samples/*.jsonl | head -1)" > /dev/null 2>&1 || rc=$?
ss_eq "the samples are readable by skyspool" 0 "$rc"
ss_done
