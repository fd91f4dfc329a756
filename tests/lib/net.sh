# Helpers for the live-source tests (jetstream_*, replay_*, firehose_ws_*), sourced after
# harness.sh. Everything listens on 127.0.0.1 only; processes are registered in SS_PIDS so
# the harness stops them by PID.

NET_EVENTS="$SKYSPOOL_SRC/tests/lib/net_events.py"
# Jetstream's real dictionary (optional, from ../shared) and one trained here on synth output.
ZDICT_REAL="$SKYSPOOL_SHARED/jetstream/zstd_dictionary"
ZDICT="$SS_TMP/zstd_dictionary.trained"

# net_train_dict OUT: a zstd dictionary for compress=true, trained with `zstd --train` on
# `skyspool synth` events (one sample per event), 112,640 bytes like Jetstream's.
net_train_dict() {
  local dir="$SS_TMP/dict-train"
  mkdir -p "$dir"
  "$SKYSPOOL_BIN" synth --events 4000 --seed 99 | split -l 1 -a 4 - "$dir/ev."
  zstd -q -f --train "$dir"/ev.* --maxdict=112640 -o "$1" >/dev/null 2>&1 \
    || { ss_fail "zstd --train failed (is the zstd CLI installed? scripts/install-deps)"; exit 1; }
  rm -rf "$dir"
}

# net_gen N SPACING_US OUT: N Jetstream events with increasing time_us.
net_gen() { python3 "$NET_EVENTS" gen "$1" "$2" "$3"; }
# net_expect IN WANTED [CURSOR]: what a Jetstream server sends for these parameters.
net_expect() { python3 "$NET_EVENTS" filter "$@"; }

# net_replay NAME [replay-server args...]: starts a replay server on a free port; sets
# RP_PORT_<NAME>, RP_PID_<NAME>, RP_LOG_<NAME>.
net_replay() {
  local name=$1; shift
  local pf="$SS_TMP/replay-$name.port" log="$SS_TMP/replay-$name.log"
  rm -f "$pf"
  "$SKYSPOOL_BIN" replay-server --listen 127.0.0.1:0 --port-file "$pf" "$@" 2>>"$log" &
  local pid=$!
  SS_PIDS+=("$pid")
  if ! ss_wait_for 20 test -s "$pf"; then
    ss_fail "replay-server $name did not start"; cat "$log" >&2; exit 1
  fi
  printf -v "RP_PORT_$name" '%s' "$(cat "$pf")"
  printf -v "RP_PID_$name" '%s' "$pid"
  printf -v "RP_LOG_$name" '%s' "$log"
}

# net_replay_on NAME PORT [args...]: (re)starts a replay server on a given port.
net_replay_on() {
  local name=$1 port=$2; shift 2
  local log="$SS_TMP/replay-$name.log"
  "$SKYSPOOL_BIN" replay-server --listen "127.0.0.1:$port" "$@" 2>>"$log" &
  local pid=$!
  SS_PIDS+=("$pid")
  printf -v "RP_PID_$name" '%s' "$pid"
  printf -v "RP_LOG_$name" '%s' "$log"
  ss_wait_for 20 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port" || { ss_fail "replay-server $name did not listen on $port"; exit 1; }
}

# net_stop PID: SIGTERM and wait.
net_stop() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

# net_unique FILE: number of distinct lines.
net_unique() { if [ -f "$1" ]; then sort -u "$1" | wc -l; else echo 0; fi; }

# net_wait_unique FILE N SECONDS: waits until FILE holds N distinct lines.
net_wait_unique() {
  local f=$1 n=$2 deadline=$(( $(date +%s) + $3 ))
  while [ "$(net_unique "$f")" -lt "$n" ]; do
    [ "$(date +%s)" -ge "$deadline" ] && return 1
    sleep 0.1
  done
}

# net_same_set A B: the two files hold the same distinct lines.
net_same_set() { cmp -s <(sort -u "$1") <(sort -u "$2"); }
