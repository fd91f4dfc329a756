#!/usr/bin/env bash
# The ingester spreads its streams over N Redis connections (ingest-connections). Every
# stream must still hold its entries in exactly the source order: for N = 1, 2, 3 and 5
# (set by flag, --set, environment and config file), each stream's `e` payloads in XRANGE
# order equal that type's input lines in input order (stream_check exact, DLQ included),
# and Redis saw N connections. Then, with N = 3, one of the three connections is killed
# mid-run (CLIENT KILL): all of them are reset and reconnected, and no input event is
# missing, both for a file (rewind to the cursor) and for stdin (re-sent from memory).
# With shards (2 over 4 connections), every shard stream is in input order too.
source "$SKYSPOOL_SRC/tests/lib/harness.sh"
B=$SKYSPOOL_BIN
CHECK=$SKYSPOOL_BUILD/stream_check
cd "$SS_TMP"

ss_start_redis r
URL=$REDIS_URL_r
cli() { redis-cli -p "$REDIS_PORT_r" "$@"; }
conns() { cli info stats | awk -F: '/^total_connections_received:/{print $2+0}'; }

"$B" synth --events 60000 --seed 23 --bad-frac 0.002 > ev.jsonl

# --- order per stream, for several connection counts and every way of setting it ---
printf 'ingest-connections 5\n' > five.conf
base=""
for n in 1 2 3 5; do
  P="n$n:"
  case $n in
    1) set -- --connections 1 ;;
    2) set -- --set ingest-connections=2 ;;
    3) set -- ;;                       # the default
    5) set -- --config five.conf --keep-other ;;
  esac
  c0=$(conns)
  if [ $n = 3 ]; then
    SKYSPOOL_INGEST_CONNECTIONS=3 "$B" ingest --source file:ev.jsonl --redis "$URL" --prefix "$P" --json "$@" \
      > "n$n.json" 2> "n$n.log" || { ss_fail "n=$n: ingest failed"; cat "n$n.log" >&2; }
  else
    "$B" ingest --source file:ev.jsonl --redis "$URL" --prefix "$P" --json "$@" \
      > "n$n.json" 2> "n$n.log" || { ss_fail "n=$n: ingest failed"; cat "n$n.log" >&2; }
  fi
  used=$(( $(conns) - c0 ))
  if [ $n = 1 ]; then base=$used; else ss_eq "n=$n: Redis saw $((n - 1)) more connections than with 1" "$((base + n - 1))" "$used"; fi
  ss_check "n=$n: log names the connection count" grep -q "prefix $P, $n connection" "n$n.log"
  keep=(); [ $n = 5 ] && keep=(--keep-other)
  if "$CHECK" --redis "$URL" --prefix "$P" "${keep[@]}" --input ev.jsonl --mode exact > "check$n.json" 2> "check$n.err"; then
    ss_pass "n=$n: every stream holds its input lines byte for byte, in source order"
  else
    ss_fail "n=$n: stream_check exact: $(cat "check$n.json") $(head -5 "check$n.err")"
  fi
  ss_eq "n=$n: order errors" 0 "$(jq .order_errors "check$n.json")"
  ss_eq "n=$n: missing" 0 "$(jq .missing "check$n.json")"
  ss_check "n=$n: the DLQ got the planted lines" test "$(cli xlen "${P}dlq")" -gt 0
done
ss_eq "n=5 with keep-other: other collections stored" "$(jq .types.other n5.json)" "$(cli xlen n5:other)"

# An independent look at the biggest stream (n=3, where like has a connection of its own):
# each payload, in XRANGE order, is found in the input, at a strictly later line than the one
# before it, and there are as many as ingest wrote.
cli --raw xrange n3:like - + > like.raw
python3 - ev.jsonl like.raw "$(jq .types.like n3.json)" > like.check <<'PY'
import sys
where = {}
for i, line in enumerate(open(sys.argv[1], "rb")):
    where.setdefault(line.rstrip(b"\r\n"), i)
raw = open(sys.argv[2], "rb").read().split(b"\n")
got = raw[2::3]  # per entry: id, meta, event
idx = [where.get(p, -1) for p in got]
unknown = sum(1 for x in idx if x < 0)
backwards = sum(1 for a, b in zip(idx, idx[1:]) if b <= a)
print(len(got), unknown, backwards, int(sys.argv[3]))
PY
read -r nlike unknown backwards wrote < like.check
ss_eq "n=3: like entries read back = written" "$wrote" "$nlike"
ss_check "n=3: like stream is not empty ($nlike)" test "$nlike" -gt 1000
ss_eq "n=3: like payloads not in the input" 0 "$unknown"
ss_eq "n=3: like payloads out of input order" 0 "$backwards"

# With shards, every shard of a type is a stream of its own and may sit on its own
# connection: each shard stream must still be in input order (2 shards over 4 connections).
P="sh:"
"$B" ingest --source file:ev.jsonl --redis "$URL" --prefix "$P" --shards 2 --connections 4 --json > sh.json 2> sh.log \
  || { ss_fail "shards: ingest failed"; cat sh.log >&2; }
: > sh.raw
nstreams=0
for key in $(cli --scan --pattern "${P}*" | grep -v "dlq$" | sort); do
  [ "$(cli type "$key")" = stream ] || continue
  cli --raw xrange "$key" - + >> sh.raw
  nstreams=$((nstreams + 1))
  printf '%s\n' "--end-of-stream--" >> sh.raw
done
ss_check "shards: streams per type x shard exist ($nstreams)" test "$nstreams" -ge 12
python3 - ev.jsonl sh.raw > sh.check <<'PY'
import sys
where = {}
for i, line in enumerate(open(sys.argv[1], "rb")):
    where.setdefault(line.rstrip(b"\r\n"), i)
total = unknown = backwards = 0
for block in open(sys.argv[2], "rb").read().split(b"--end-of-stream--\n"):
    raw = block.split(b"\n")
    got = raw[2::3]  # per entry: id, meta, event
    idx = [where.get(p, -1) for p in got]
    total += len(got)
    unknown += sum(1 for x in idx if x < 0)
    backwards += sum(1 for a, b in zip(idx, idx[1:]) if b <= a)
print(total, unknown, backwards)
PY
read -r total unknown backwards < sh.check
ss_eq "shards: entries read back = written" "$(jq .written sh.json)" "$total"
ss_eq "shards: payloads not in the input" 0 "$unknown"
ss_eq "shards: payloads out of input order within a shard stream" 0 "$backwards"

# --- one connection of three killed mid-run: everything resets, nothing is missing ---
"$B" synth --events 300000 --seed 29 > big.jsonl
progress() { local s=0 t; for t in post like repost follow block identity account; do s=$((s + $(redis-cli -p "$REDIS_PORT_r" xlen "$1$t" 2>/dev/null || echo 0))); done; [ "$s" -gt "$2" ]; }
export -f progress; export REDIS_PORT_r
for mode in file stdin; do
  P="kill-$mode:"
  if [ $mode = stdin ]; then
    "$B" ingest --source file:- --redis "$URL" --prefix "$P" --connections 3 --json < big.jsonl > "k$mode.json" 2> "k$mode.log" &
  else
    "$B" ingest --source file:big.jsonl --redis "$URL" --prefix "$P" --connections 3 --json > "k$mode.json" 2> "k$mode.log" &
  fi
  ING=$!; SS_PIDS+=("$ING")
  ss_wait_for 120 progress "$P" 30000 || ss_fail "$mode: no progress"
  id=$(cli client list | awk '/name=skyspool-ingest-1 /{for(i=1;i<=NF;i++) if ($i ~ /^id=/) {sub("id=","",$i); print $i}}' | head -1)
  ss_check "$mode: found the ingester's connection 1 in CLIENT LIST" test -n "$id"
  [ -n "$id" ] && cli client kill id "$id" > /dev/null
  if wait "$ING"; then ss_pass "$mode: ingest finished after losing a connection"; else ss_fail "$mode: ingest failed"; cat "k$mode.log" >&2; fi
  ss_check "$mode: ingest reconnected" test "$(jq .reconnects "k$mode.json")" -ge 1
  ss_check "$mode: all three connections were reset" grep -q "reconnecting all 3" "k$mode.log"
  if "$CHECK" --redis "$URL" --prefix "$P" --input big.jsonl --mode covers > "kcheck-$mode.json" 2> "kcheck-$mode.err"; then
    ss_pass "$mode: no gap, every input event present"
  else
    ss_fail "$mode: stream_check covers: $(cat "kcheck-$mode.json") $(head -5 "kcheck-$mode.err")"
  fi
  ss_eq "$mode: missing" 0 "$(jq .missing "kcheck-$mode.json")"
  ss_log "$mode: rewinds $(jq .rewinds "k$mode.json"), resent $(jq .resent "k$mode.json"), duplicates $(jq .dups "kcheck-$mode.json")"
done
ss_check "stdin: re-sent from memory" grep -q "cannot rewind; re-sending" kstdin.log
ss_done
