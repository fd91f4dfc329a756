#!/usr/bin/env bash
# Regression: `skyspool convert` must remove _rejects/.rejects-TAG.jsonl.tmp when finishing
# the rejects file fails (fsync / close / rename). finish_rejects() used to close the stream
# and fail without unlinking, and main() only unlinks while the stream is open. Found by
# tests/integration/fault_injection.sh; here every finishing call of the rejects file is
# failed in turn (tests/faultfs shim) and the tree must hold no temporary file afterwards.
source "$SKYSPOOL_SRC/tests/lib/harness.sh"
source "$SKYSPOOL_SRC/tests/faultfs/faultfs.sh"

[ -f "$FAULTFS_LIB" ] || { ss_fail "fault shim not built: $FAULTFS_LIB"; ss_done; }

in=$SS_TMP/in.jsonl
"$SKYSPOOL_BIN" synth --events 30 --seed 3 > "$in"
{ echo '{"did":'; echo 'not json'; } >> "$in"
out=$SS_TMP/out
calls=$(ss_fault_count "$out" "$SKYSPOOL_BIN" convert --out "$out" --no-progress --tag t "$in")
ss_check "counting run wrote a rejects file" test -n "$(ls "$out/_rejects" 2>/dev/null)"
# The calls that finish the rejects temp file: the rename to rejects-t.jsonl (traced by
# its new name) and the write/fsync/close calls on one fd right before it.
mapfile -t targets < <(awk '{op[$1] = $2; arg[$1] = $NF}
  $2 == "rename" && $3 ~ /_rejects\/rejects-/ {
    r = $1; fd = arg[r - 1]; n = r - 1
    while (n > 0 && (op[n] == "write" || op[n] == "fsync" || op[n] == "close") && arg[n] == fd) n--
    for (i = n + 1; i <= r; i++) print i
  }' "$SS_TMP/fault.trace")
ss_check "the trace names finishing calls on the rejects temp file (${#targets[@]})" test "${#targets[@]}" -gt 0
for n in "${targets[@]}"; do
  op=$(sed -n "${n}p" "$SS_TMP/fault.trace" | awk '{print $2}')
  rm -rf "$out"
  rc=0
  ss_fault_run "$n" EIO "$out" "$SKYSPOOL_BIN" convert --out "$out" --no-progress --tag t "$in" || rc=$?
  ss_eq "call $n ($op) failing: exit 1" 1 "$rc"
  ss_check "call $n ($op) failing: the error is named" grep -q "Input/output error" "$SS_TMP/fault.err"
  left=$(find "$out" -name '.*.tmp' | head -3)
  ss_eq "call $n ($op) failing: no temporary file left" "" "$left"
done
ss_done
