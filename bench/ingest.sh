#!/usr/bin/env bash
# Ingest throughput and Redis memory per buffered event, against the peer measured in the
# same run: `redis-benchmark -P 256 XADD` with a 600-byte value into the same kind of Redis
# (AOF everysec, noeviction, 64 KB stream nodes, fresh server per measurement).
#   bench/ingest.sh                 (run by bench/run-all; writes bench/results/ingest.md)
#   RUNS=7 EVENTS=2000000 bench/ingest.sh     (defaults: RUNS=5 EVENTS=1000000)
#   INGEST_ARGS="--connections 1" bench/ingest.sh   (extra ingest flags, e.g. the one-connection baseline)
# For each run: a fresh redis-server, then the peer (1M XADDs, 50 clients x 256 pipelined);
# a fresh redis-server, then `skyspool ingest --source file:` of a synth file. Reports
# medians of events/s, the ratio, client and server CPU-seconds per million events
# (/usr/bin/time for the client, INFO cpu deltas for the server), and used_memory per
# buffered event. Everything runs under `nice` on loopback.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${SKYSPOOL_BIN:-$PWD/build/skyspool}
RUNS=${RUNS:-5}
EVENTS=${EVENTS:-1000000}
PEER_N=${PEER_N:-1000000}
INGEST_ARGS=${INGEST_ARGS:-}
[ -x "$BIN" ] || { echo "bench/ingest: build first (make bench)" >&2; exit 2; }
out=$PWD/bench/out/ingest
mkdir -p "$out"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/skyspool-bench-ingest.XXXXXX")
RPID=""
cleanup() { [ -n "$RPID" ] && kill "$RPID" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
start_redis() {
  PORT=$(free_port)
  rm -rf "$tmp/r"; mkdir -p "$tmp/r"
  nice redis-server --port "$PORT" --bind 127.0.0.1 --dir "$tmp/r" --save '' --appendonly yes \
    --appendfsync everysec --maxmemory-policy noeviction --stream-node-max-bytes 65536 \
    --stream-node-max-entries 1000 --daemonize no --logfile "$tmp/r/redis.log" &
  RPID=$!
  for _ in $(seq 200); do redis-cli -p "$PORT" ping >/dev/null 2>&1 && return 0; sleep 0.05; done
  echo "redis-server did not start" >&2; exit 1
}
stop_redis() { redis-cli -p "$PORT" shutdown nosave >/dev/null 2>&1 || true; wait "$RPID" 2>/dev/null || true; RPID=""; }
server_cpu() { redis-cli -p "$PORT" info cpu | awk -F: '/^used_cpu_(sys|user):/{s+=$2} END{printf "%.3f", s}'; }
used_mem() { redis-cli -p "$PORT" info memory | awk -F: '/^used_memory:/{print $2+0}'; }

corpus=$tmp/events.jsonl
gen="skyspool synth --events $EVENTS --seed 1"
"$BIN" synth --events "$EVENTS" --seed 1 > "$corpus"
cat "$corpus" > /dev/null   # warm the page cache
avg_line=$(( $(stat -c %s "$corpus") / EVENTS ))
value=$(head -c 600 /dev/zero | tr '\0' 'x')
peer_cmd="redis-benchmark -p PORT -P 256 -n $PEER_N -q XADD bench:stream '*' e <600-byte value>"
ours_cmd="skyspool ingest --source file:events.jsonl --redis redis://127.0.0.1:PORT --json${INGEST_ARGS:+ $INGEST_ARGS}"

results=$tmp/results.txt
: > "$results"
for run in $(seq "$RUNS"); do
  # --- peer ---
  start_redis
  c0=$(server_cpu)
  /usr/bin/time -f "%e %U %S" -o "$tmp/peer.time" nice redis-benchmark -p "$PORT" -P 256 -n "$PEER_N" -q \
    XADD bench:stream '*' e "$value" > "$tmp/peer.out" 2>&1
  c1=$(server_cpu)
  read -r pwall puser psys < "$tmp/peer.time"
  prate=$(tr '\r' '\n' < "$tmp/peer.out" | awk '/requests per second/{for(i=1;i<=NF;i++) if ($(i+1) ~ /^requests/) r=$i} END{print r+0}')
  plen=$(redis-cli -p "$PORT" xlen bench:stream)
  stop_redis
  # --- skyspool ingest ---
  start_redis
  m0=$(used_mem); s0=$(server_cpu)
  /usr/bin/time -f "%e %U %S" -o "$tmp/ours.time" nice "$BIN" ingest --source "file:$corpus" \
    --redis "redis://127.0.0.1:$PORT" --json --log-level warn $INGEST_ARGS > "$tmp/ours.json"
  s1=$(server_cpu); m1=$(used_mem)
  read -r owall ouser osys < "$tmp/ours.time"
  written=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["written"])' "$tmp/ours.json")
  secs=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["seconds"])' "$tmp/ours.json")
  stop_redis
  python3 - "$prate" "$PEER_N" "$plen" "$puser" "$psys" "$c0" "$c1" "$written" "$secs" "$ouser" "$osys" "$s0" "$s1" "$m0" "$m1" >> "$results" <<'PY'
import sys
prate, pn, plen, pu, ps, c0, c1, w, secs, ou, os_, s0, s1, m0, m1 = map(float, sys.argv[1:])
orate = w / secs
print(f"{prate:.0f} {orate:.0f} {orate/prate:.3f} {(pu+ps)/pn*1e6:.3f} {(c1-c0)/pn*1e6:.3f} "
      f"{(ou+os_)/w*1e6:.3f} {(s1-s0)/w*1e6:.3f} {(m1-m0)/w:.0f} {int(plen)} {int(w)}")
PY
  echo "run $run: $(tail -1 "$results")" >&2
done

python3 - "$results" "$avg_line" "$RUNS" "$EVENTS" "$gen" "$peer_cmd" "$ours_cmd" > "$tmp/section.md" <<'PY'
import statistics, sys
rows = [list(map(float, l.split())) for l in open(sys.argv[1]) if l.strip()]
avg_line, runs, events, gen, peer_cmd, ours_cmd = sys.argv[2:8]
med = [statistics.median(c) for c in zip(*rows)]
prate, orate, ratio, pcli, psrv, ocli, osrv, mem = med[:8]
print("## Ingest: skyspool ingest vs redis-benchmark XADD")
print()
print(f"Command: `bench/ingest.sh` (RUNS={runs}, EVENTS={events}); release build, everything under `nice`,")
print("a fresh redis-server per measurement with `appendonly yes`, `appendfsync everysec`,")
print("`maxmemory-policy noeviction`, `stream-node-max-bytes 65536`. Peer and skyspool run in the same")
print("loop, alternating, on the same machine.")
print()
print(f"- corpus: `{gen}` (average line {avg_line} bytes; ~1.9 % other collections are skipped)")
print(f"- peer: `{peer_cmd}` (50 clients, the default)")
print(f"- skyspool: `{ours_cmd}` (defaults unless flags above say otherwise: 3 connections, `ingest-connections`, each stream")
print("  pinned to one: like | follow | post, repost and the rest + control commands; 1024-entry batches,")
print("  8 in flight; each entry one pair, `XADD skyspool:<type> * <meta> <event>`, meta = `<dedup key hex> <time_us>`;")
print("  see \"Stream entries\" in docs/design/buffer.md)")
print()
print(f"| median of {len(rows)} runs | redis-benchmark XADD | skyspool ingest |")
print("|---|---:|---:|")
print(f"| entries/s | {prate:,.0f} | {orate:,.0f} |")
print(f"| ratio to peer, median of per-run ratios (goal >= 0.8) | 1 | **{ratio:.2f}** |")
print(f"| client CPU-s per 1M entries | {pcli:.2f} | {ocli:.2f} |")
print(f"| server CPU-s per 1M entries | {psrv:.2f} | {osrv:.2f} |")
print(f"| Redis used_memory per buffered event (goal <= 650 B) | | **{mem:.0f} B** |")
print()
print("Client CPU for skyspool includes reading the file, decoding and validating every event (JSON,")
print("UTF-8), computing the dedup key and formatting; the peer sends one constant command. Per run")
print("(peer/s, ours/s, ratio, peer client, peer server, our client, our server CPU-s per 1M, B/event):")
print()
for r in rows:
    print(f"    {r[0]:.0f} {r[1]:.0f} {r[2]:.3f} {r[3]:.2f} {r[4]:.2f} {r[5]:.2f} {r[6]:.2f} {r[7]:.0f}")
PY
mkdir -p bench/results
cp "$tmp/section.md" bench/results/ingest.md
cat bench/results/ingest.md
