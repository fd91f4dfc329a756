# Helpers for tests that inject I/O faults with libssfaultfs.so (see faultfs.c).
# Source after tests/lib/harness.sh. Needs SKYSPOOL_BUILD (set by CTest) or FAULTFS_LIB.
#
#   ss_fault_count PREFIX cmd args...      runs cmd counting the I/O calls on PREFIX...;
#                                          prints the count (cmd's stdout goes to
#                                          $SS_TMP/fault.out, stderr to $SS_TMP/fault.err;
#                                          line N of $SS_TMP/fault.trace is "N op path")
#   ss_fault_run N ERRNO PREFIX cmd args...  runs cmd failing the Nth such call with ERRNO;
#                                          returns cmd's exit status, same output files
#   SS_FAULT_OPS / SS_FAULT_PERSIST may be set by the caller and are passed through.
FAULTFS_LIB=${FAULTFS_LIB:-$SKYSPOOL_BUILD/tests/faultfs/libssfaultfs.so}

# LD_PRELOAD for a binary: a sanitized binary needs its sanitizer runtime first.
ss_fault_preload() {
  local asan
  asan=$(ldd "$1" 2>/dev/null | awk '/libasan\.so/ {print $3; exit}')
  if [ -n "$asan" ]; then echo "$asan:$FAULTFS_LIB"; else echo "$FAULTFS_LIB"; fi
}

ss_fault_count() {
  local prefix=$1; shift
  local rep=$SS_TMP/fault.report
  rm -f "$rep"
  LD_PRELOAD=$(ss_fault_preload "$1") SS_FAULT_PATH=$prefix SS_FAULT_NTH=0 SS_FAULT_REPORT=$rep SS_FAULT_TRACE=1 \
    "$@" >"$SS_TMP/fault.out" 2>"$SS_TMP/fault.err" || true
  grep -v '^calls=' "$rep" >"$SS_TMP/fault.trace" || true
  sed -n 's/^calls=\([0-9]*\).*/\1/p' "$rep" | tail -1
}

ss_fault_run() {
  local n=$1 err=$2 prefix=$3; shift 3
  local rc=0
  rm -f "$SS_TMP/fault.report"
  LD_PRELOAD=$(ss_fault_preload "$1") SS_FAULT_PATH=$prefix SS_FAULT_NTH=$n SS_FAULT_ERRNO=$err \
    SS_FAULT_REPORT="$SS_TMP/fault.report" SS_FAULT_TRACE=1 \
    "$@" >"$SS_TMP/fault.out" 2>"$SS_TMP/fault.err" || rc=$?
  return $rc
}
