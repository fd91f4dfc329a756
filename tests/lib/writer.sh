# Helpers for the DataWriter's integration tests (sourced after tests/lib/harness.sh).
# Every check reads the archive back with DuckDB (tests/js/writer_check.mjs) and asks the
# real redis-server whether anything is left in the streams.

WS_TYPES="post like repost follow block identity account other"

# ws_streams_left URL [PREFIX]: prints "<entries in streams> <pending in group writers>".
ws_streams_left() {
  local port=${1##*:} prefix=${2:-skyspool:} len=0 pend=0 t n
  for t in $WS_TYPES; do
    n=$(redis-cli -p "$port" XLEN "$prefix$t"); [[ $n =~ ^[0-9]+$ ]] || n=999999999
    len=$((len + n))
    n=$(redis-cli -p "$port" XPENDING "$prefix$t" writers 2>/dev/null | head -1)
    [[ $n =~ ^[0-9]+$ ]] || n=0 # NOGROUP: no group on this stream, nothing pending
    pend=$((pend + n))
  done
  echo "$len $pend"
}

# ws_json FILE KEY: one top-level value of a JSON file (e.g. `write --json` output).
ws_json() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$@"; }

# ws_ledger_rows DATA_DIR: the ledger's total committed rows.
ws_ledger_rows() {
  "$SKYSPOOL_BIN" runs --data-dir "$1" --limit 1 --json | tail -1 |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["rows"])'
}

# ws_check NAME OUT INPUT DATA_DIR [extra writer_check args]: exactly-once against the input.
ws_check() {
  local name=$1 out=$2 input=$3 dd=$4; shift 4
  local rows log="$SS_TMP/check-$RANDOM.log"
  rows=$(ws_ledger_rows "$dd")
  if ss_node writer_check.mjs --out "$out" --input "$input" --ledger-rows "$rows" "$@" >"$log" 2>&1; then
    ss_pass "$name: exactly once ($(grep -o 'rows: archive [0-9]*' "$log"))"
  else
    ss_fail "$name: exactly-once check"; sed 's/^/    /' "$log"
  fi
}

# ws_drained NAME URL [PREFIX]: nothing left in the streams, nothing pending.
ws_drained() {
  ss_eq "$1: streams empty, nothing pending" "0 0" "$(ws_streams_left "$2" "${3:-skyspool:}")"
}

# ws_wait_drained URL PREFIX SECONDS: waits until the streams hold no entry.
ws_wait_drained() {
  local port=${1##*:} prefix=$2 deadline=$(( $(date +%s) + $3 )) n t c
  while :; do
    n=0
    for t in $WS_TYPES; do
      c=$(redis-cli -p "$port" XLEN "$prefix$t" 2>/dev/null); [[ $c =~ ^[0-9]+$ ]] || c=1 # LOADING etc.: not yet
      n=$((n + c))
    done
    [ "$n" = 0 ] && return 0
    [ "$(date +%s)" -ge "$deadline" ] && { ss_log "$n entries still buffered"; return 1; }
    sleep 0.3
  done
}

# ws_last_served_us FILE: the newest time_us among the events of a Jetstream JSONL file that a
# replay-server sends to skyspool's default subscription (the five archived collections, plus
# identity and account events, which always pass).
ws_last_served_us() { ws_served "$1" max; }
# ws_served_count FILE: how many events of FILE that subscription receives.
ws_served_count() { ws_served "$1" count; }
ws_served() {
  python3 -c '
import json, sys
want = {"app.bsky.feed.post", "app.bsky.feed.like", "app.bsky.feed.repost", "app.bsky.graph.follow", "app.bsky.graph.block"}
m = n = 0
for line in open(sys.argv[1]):
    e = json.loads(line)
    if e.get("kind") != "commit" or e.get("commit", {}).get("collection") in want:
        m, n = max(m, e["time_us"]), n + 1
print(m if sys.argv[2] == "max" else n)' "$1" "$2"
}
