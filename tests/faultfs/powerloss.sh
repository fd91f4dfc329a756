# Helpers for power-loss tests with libsspowerloss.so and sspowerloss (see powerloss.c).
# Source after tests/lib/harness.sh. Needs SKYSPOOL_BUILD (set by CTest) or PL_LIB/PL_TOOL.
#
#   pl_run ROOT STATE cmd args...   runs cmd with the shim watching ROOT, STATE emptied
#                                   first (so the tree as it is now is the durable start);
#                                   SS_PL_NTH / SS_PL_OPS / SS_PL_TRACE / SKYSPOOL_CRASH_AT
#                                   set by the caller pass through; returns cmd's status
#                                   (137 when the power was lost, or a crash point hit)
#   pl_restore STATE                rolls ROOT back to its durable state (a reboot)
#   pl_ops STATE                    operations the last process counted (its "exit" line)
PL_LIB=${PL_LIB:-$SKYSPOOL_BUILD/tests/faultfs/libsspowerloss.so}
PL_TOOL=${PL_TOOL:-$SKYSPOOL_BUILD/tests/faultfs/sspowerloss}

# LD_PRELOAD for a binary: a sanitized binary needs its sanitizer runtime first.
pl_preload() {
  local asan
  asan=$(ldd "$1" 2>/dev/null | awk '/libasan\.so/ {print $3; exit}')
  if [ -n "$asan" ]; then echo "$asan:$PL_LIB"; else echo "$PL_LIB"; fi
}

pl_run() {
  local root=$1 state=$2; shift 2
  local rc=0
  rm -rf "$state"
  exec 3>&2 2>/dev/null # keep bash's "Killed" notices out of the log
  LD_PRELOAD=$(pl_preload "$1") SS_PL_PATH=$root SS_PL_STATE=$state "$@" 2>&3 || rc=$?
  exec 2>&3 3>&-
  return $rc
}

pl_restore() { "$PL_TOOL" restore "$1" 2>/dev/null; }

pl_ops() { awk '$1 == "exit" {n = $3} END {print n + 0}' "$1/journal"; }
