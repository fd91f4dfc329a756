# Shared helpers for integration tests (sourced by tests/integration/*.sh).
#
# Each test gets a private scratch directory and starts the real servers it needs on
# free loopback ports; everything it starts is recorded and stopped by PID on exit,
# whatever way the test ends. Nothing here talks to anything but 127.0.0.1.
set -euo pipefail

: "${SKYSPOOL_SRC:?run through ctest (make test)}"
: "${SKYSPOOL_BIN:?run through ctest (make test)}"
# The real samples: $SKYSPOOL_SHARED (set by hand) over SKYSPOOL_SHARED_DIR (set by CMake) over
# ../shared. They are optional: see ss_shared below. Exported for the helpers tests run.
SKYSPOOL_SHARED=${SKYSPOOL_SHARED:-${SKYSPOOL_SHARED_DIR:-$SKYSPOOL_SRC/../shared}}
export SKYSPOOL_SHARED
SS_TEST_NAME=$(basename "${0%.sh}")
SS_TMP=$(mktemp -d "${TMPDIR:-/tmp}/skyspool-$SS_TEST_NAME.XXXXXX")
# python3 straight, not through a version manager's shim: where python3 is pyenv's shim (as on
# this project's machines), each call runs the shim's own bash scripts first: `python3 -c pass`
# took 3.5 s through the shim against 0.4 s for the interpreter itself (2 cores, load 18), and
# the tests call python3 hundreds of times (ss_free_port, JSON fields, helpers). The shim is asked once
# which interpreter it runs; $SS_TMP/.bin/python3 links to it, first in PATH for the test and
# everything it starts. Same interpreter, same version, same modules.
SS_PY=$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null || true)
if [ -n "$SS_PY" ] && [ -x "$SS_PY" ]; then
  mkdir -p "$SS_TMP/.bin"
  ln -s "$SS_PY" "$SS_TMP/.bin/python3"
  export PATH="$SS_TMP/.bin:$PATH"
fi
SS_PIDS=()
SS_FAILS=0
SS_PASSES=0
SS_SKIPS=0
SS_SHARED_SKIPS=0 # the part of SS_SKIPS for want of the shared samples (ss_done: exit 77)
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

ss_cleanup() {
  local pid
  for pid in "${SS_PIDS[@]:-}"; do
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  done
  sleep 0.2
  for pid in "${SS_PIDS[@]:-}"; do
    [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || true
  done
  if [ "${SS_KEEP_TMP:-0}" = 1 ] || [ "$SS_FAILS" -gt 0 ]; then
    echo "scratch kept in $SS_TMP" >&2
  else
    rm -rf "$SS_TMP"
  fi
}
trap ss_cleanup EXIT

ss_log() { printf '[%s] %s\n' "$SS_TEST_NAME" "$*" >&2; }
ss_pass() { SS_PASSES=$((SS_PASSES + 1)); printf 'ok   - %s\n' "$*"; }
ss_fail() { SS_FAILS=$((SS_FAILS + 1)); printf 'FAIL - %s\n' "$*"; }
# ss_check "description" cmd args...: passes when the command succeeds.
ss_check() { local d=$1; shift; if "$@"; then ss_pass "$d"; else ss_fail "$d"; fi; }
# ss_eq "description" expected actual
ss_eq() {
  if [ "$2" = "$3" ]; then ss_pass "$1"; else ss_fail "$1: expected '$2', got '$3'"; fi
}
# Ends the test: prints the plain summary line and exits non-zero on any failure.
# A test that skipped cases for want of the shared samples exits 77 when nothing failed, so
# CTest counts it as skipped, never as passed; its output still lists what passed. (Other
# skips, such as a case that cannot run as root, are listed and counted, not 77.)
ss_done() {
  if [ "$SS_SKIPS" -gt 0 ]; then
    echo "$SS_PASSES passed, $SS_FAILS failed, $SS_SKIPS skipped (no shared samples)"
  else
    echo "$SS_PASSES passed, $SS_FAILS failed"
  fi
  [ "$SS_FAILS" -eq 0 ] || return 1
  if [ "$SS_SHARED_SKIPS" -gt 0 ]; then exit 77; fi
}

# ss_shared "what" PATH...: 0 when every PATH (relative to $SKYSPOOL_SHARED, e.g.
# samples/*.jsonl or jetstream/zstd_dictionary) exists. Otherwise the cases needing them are
# skipped with a one-line notice and it returns 1; under CI=true (CI has ../shared and must
# run them) the skip is a failure instead.
ss_shared() {
  local what=$1 rel f; shift
  for rel in "$@"; do
    for f in "$SKYSPOOL_SHARED"/$rel; do
      [ -r "$f" ] && continue
      if [ "${CI:-}" = true ]; then
        ss_fail "$what: CI=true but $SKYSPOOL_SHARED/$rel is missing (CI must run the shared samples)"
      else
        SS_SKIPS=$((SS_SKIPS + 1)); SS_SHARED_SKIPS=$((SS_SHARED_SKIPS + 1))
        printf 'skip - %s: no %s (the real samples of ../shared; set SKYSPOOL_SHARED)\n' "$what" "$SKYSPOOL_SHARED/$rel"
      fi
      return 1
    done
  done
}

# ss_skip_test "why": the whole test needs what is missing: CTest counts it as skipped (77).
ss_skip_test() {
  echo "skip - $SS_TEST_NAME: $*"
  exit 77
}

# ss_mine INDEX: whether item INDEX (0, 1, ...: a trial, a command) is this process's share.
# A test split into K CTest tests (SS_SPLIT_TESTS in CMakeLists.txt) runs as K processes with
# SS_PART=I/K, and part I takes the items whose INDEX % K is I - 1; without SS_PART every item
# is mine. The parts together run every item, each exactly once.
ss_mine() {
  [ -n "${SS_PART:-}" ] || return 0
  local i=${SS_PART%/*} k=${SS_PART#*/}
  [ $(($1 % k)) -eq $((i - 1)) ]
}
# ss_part_name: " (part I/K)" for a split test's messages, "" otherwise.
ss_part_name() { [ -z "${SS_PART:-}" ] || printf ' (part %s)' "$SS_PART"; }

# A TCP port nothing listens on, picked by the kernel.
ss_free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# ss_wait_for SECONDS cmd args...: polls until the command succeeds.
ss_wait_for() {
  local deadline=$(( $(date +%s) + $1 )); shift
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -ge "$deadline" ] && return 1
    sleep 0.05
  done
}

# ss_start_redis NAME [extra redis-server args...]
# Starts a real redis-server on a free loopback port with its own dir; sets
# REDIS_PORT_<NAME>, REDIS_URL_<NAME>, REDIS_PID_<NAME> and REDIS_DIR_<NAME>.
ss_start_redis() {
  local name=$1; shift
  local port dir
  port=$(ss_free_port)
  dir="$SS_TMP/redis-$name"
  mkdir -p "$dir"
  redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" --save '' \
    --appendonly yes --appendfsync everysec --maxmemory-policy noeviction \
    --daemonize no --logfile "$dir/redis.log" "$@" &
  local pid=$!
  SS_PIDS+=("$pid")
  if ! ss_wait_for 10 redis-cli -p "$port" ping; then
    ss_fail "redis-server $name did not start"; cat "$dir/redis.log" >&2; exit 1
  fi
  printf -v "REDIS_PORT_$name" '%s' "$port"
  printf -v "REDIS_URL_$name" 'redis://127.0.0.1:%s' "$port"
  printf -v "REDIS_PID_$name" '%s' "$pid"
  printf -v "REDIS_DIR_$name" '%s' "$dir"
}

# ss_restart_redis NAME [extra args...]: stops it (SHUTDOWN, AOF kept) and starts it on the same port.
ss_restart_redis() {
  local name=$1; shift
  local pv="REDIS_PID_$name" portv="REDIS_PORT_$name" dirv="REDIS_DIR_$name"
  local port=${!portv} dir=${!dirv}
  redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
  wait "${!pv}" 2>/dev/null || true
  redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" --save '' \
    --appendonly yes --appendfsync everysec --maxmemory-policy noeviction \
    --daemonize no --logfile "$dir/redis.log" "$@" &
  local pid=$!
  SS_PIDS+=("$pid")
  printf -v "REDIS_PID_$name" '%s' "$pid"
  ss_wait_for 20 redis-cli -p "$port" ping
}

# Node checkers (DuckDB, hyparquet, parquet-wasm) live in tests/js.
ss_node() { node "$SKYSPOOL_SRC/tests/js/$1" "${@:2}"; }
