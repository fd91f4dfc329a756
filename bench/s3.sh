#!/usr/bin/env bash
# The archive into S3 against the same pipeline into a local directory (issue 16): `skyspool
# run` with its private redis-server, one synth source paced at RATE events/s (default 20,000:
# 10x the live peak) for SECS seconds (default 300: one 5-minute window), writing to
#   disk  --out DIR
#   s3    --out s3://archive/bsky: the tests' local S3 (tests/js/s3proxy.mjs: s3rver behind the
#         SigV4-verifying proxy, on loopback; needs `npm ci` in tests/js), s3-part-size 16mb
# one after the other, in the same invocation. The event time runs at the wall rate, so the
# measured 5-minute window (its first SECS s of events) closes SECS + 30 s (the grace) after the
# start, as it would live; the input goes on 45 s past the window only to move event time past
# that close. Sampled every 0.5 s:
# the ledger's commits (rows, bytes, committed_us; read-only) and the skyspool process's RSS.
# Reported per target: events fed, rows and MB committed, committed events/s (rows over the
# wall time from start to the window's last commit), MB/s committed (the window's MB committed
# after its close over the flush time: for s3 what was uploaded then), the flush time (the
# window's close to its last commit), peak RSS (VmHWM of skyspool: ingester and writer; its redis-server
# apart). Writes bench/results/s3.md (--out FILE to write elsewhere).
#   bench/s3.sh [--seconds N] [--rate R] [--bin PATH] [--out FILE]
set -euo pipefail
cd "$(dirname "$0")/.."
B=${SKYSPOOL_BIN:-$PWD/build/skyspool}
SECS=300
RATE=20000
OUT=bench/results/s3.md
args="$*"
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) SECS=$2; shift ;;
    --rate) RATE=$2; shift ;;
    --bin) B=$2; shift ;;
    --out) OUT=$2; shift ;;
    *) echo "usage: bench/s3.sh [--seconds N] [--rate R] [--bin PATH] [--out FILE]" >&2; exit 2 ;;
  esac
  shift
done
[ -x "$B" ] || { echo "bench/s3: no binary $B (build first)" >&2; exit 2; }
[ -d tests/js/node_modules/s3rver ] || { echo "bench/s3: run npm ci in tests/js first" >&2; exit 2; }
tmp=$(mktemp -d)
S3_PID=
cleanup() { [ -n "$S3_PID" ] && kill "$S3_PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
export AWS_ACCESS_KEY_ID=benchkey AWS_SECRET_ACCESS_KEY=bench-secret-0123456789
unset AWS_SESSION_TOKEN
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
node tests/js/s3proxy.mjs serve --port "$PORT" --dir "$tmp/s3" --bucket archive --key "$AWS_ACCESS_KEY_ID" \
  --secret "$AWS_SECRET_ACCESS_KEY" --ready "$tmp/s3.ready" > "$tmp/s3.log" 2>&1 &
S3_PID=$!
for _ in $(seq 100); do [ -s "$tmp/s3.ready" ] && break; sleep 0.2; done
[ -s "$tmp/s3.ready" ] || { echo "bench/s3: the local S3 did not start" >&2; cat "$tmp/s3.log" >&2; exit 1; }
START=2025-08-07T10:00:00Z
load0=$(cut -d' ' -f1-3 /proc/loadavg)

# measure NAME OUT: runs skyspool run into OUT, prints "NAME key value" lines
measure() {
  python3 - "$1" "$2" "$tmp/run-$1" "$B" "$SECS" "$RATE" "$START" "http://127.0.0.1:$PORT" <<'EOF'
import os, sys, time, signal, subprocess, sqlite3
name, out, d, binary, secs, rate, start, endpoint = sys.argv[1:9]
secs, rate = int(secs), int(rate)
os.makedirs(d, exist_ok=True)
src = f'synth:events={rate * (secs + 45)},seed=1,start={start},rate={rate},pace={rate}'  # past the window's end + grace
cmd = [binary, 'run', '--source', src, '--out', out, '--data-dir', f'{d}/dd', '--no-progress', '--log-level', 'warn']
if out.startswith('s3://'):
    cmd += ['--set', f's3-endpoint={endpoint}', '--set', 's3-path-style=yes', '--set', 's3-part-size=16mb']
def say(k, v): print(name, k, v, flush=True)
import datetime
W0 = int(datetime.datetime.fromisoformat(start.replace('Z', '+00:00')).timestamp() * 1e6)  # the measured window
say('cmd', ' '.join(c if ',' not in c else f'"{c}"' for c in cmd).replace(binary, 'skyspool').replace(d + '/', '').replace(os.path.dirname(d) + '/', '').replace(endpoint, 'http://127.0.0.1:PORT'))
log = open(f'{d}/log', 'w')
t_start = time.time()
p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log)
def rss(pid, field):
    try:
        for l in open(f'/proc/{pid}/status'):
            if l.startswith(field + ':'): return int(l.split()[1]) // 1024
    except OSError: pass
    return 0
def ledger():
    try:
        c = sqlite3.connect(f'file:{d}/dd/ledger.sqlite?mode=ro', uri=True, timeout=1)
        r = c.execute('select count(*), coalesce(sum(rows),0), coalesce(sum(bytes),0), min(committed_us), max(committed_us) from commits where path is not null and window_start_us = ?', (W0,)).fetchone()
        c.close()
        return r
    except sqlite3.Error:
        return (0, 0, 0, None, None)
peak = 0
last = (0, 0, 0, None, None)
stable_since = None
close_t = t_start + secs + 30   # the window's end + the 30 s grace: the writer closes it when event time passes that
while True:
    time.sleep(0.5)
    peak = max(peak, rss(p.pid, 'VmHWM'))
    if p.poll() is not None: break
    cur = ledger()
    now = time.time()
    if cur[1] != last[1]: stable_since = now
    last = cur
    # done: past the window's close, its rows committed, nothing new for 120 s (or a timeout).
    # A writer behind the feed commits a window in parts sealed by its memory budget, a minute
    # or more apart, so a short quiet spell does not mean the window is done (15 s did not).
    if now > close_t and cur[1] > 0 and stable_since and now - stable_since > 120: break
    if now > close_t + 600: break
peak = max(peak, rss(p.pid, 'VmHWM'))
p.send_signal(signal.SIGTERM)
try: p.wait(timeout=120)
except subprocess.TimeoutExpired: p.kill(); p.wait()
n, rows, nbytes, first_us, last_us = ledger()
say('events', rate * secs)  # in the measured window (the rest, after it, only moves event time past its close)
say('parts', n); say('rows', rows); say('mb', f'{nbytes / 1e6:.1f}')
say('rss', peak); say('rc', p.returncode)
if last_us:
    t_last = last_us / 1e6
    say('eps', f'{rows / (t_last - t_start):.0f}')
    flush = t_last - close_t
    say('flush', f'{flush:.1f}')
    c = sqlite3.connect(f'file:{d}/dd/ledger.sqlite?mode=ro', uri=True)
    after = c.execute('select coalesce(sum(bytes),0), count(*) from commits where path is not null and window_start_us = ? and committed_us >= ?', (W0, int(close_t * 1e6))).fetchone()
    c.close()
    say('mb_after_close', f'{after[0] / 1e6:.1f}'); say('parts_after_close', after[1])
    say('mbps', f'{after[0] / 1e6 / flush:.1f}' if flush > 0 else '-')
EOF
}

res=$tmp/res
: > "$res"
echo "bench/s3: $RATE events/s for ${SECS}s into disk, then into the local S3" >&2
measure disk "$tmp/disk-archive" | tee -a "$res" >&2
measure s3 s3://archive/bsky | tee -a "$res" >&2
load1=$(cut -d' ' -f1-3 /proc/loadavg)
get() { awk -v k="$1" -v f="$2" '$1 == k && $2 == f {sub(/^[^ ]+ [^ ]+ /, ""); print; exit}' "$res"; }
{
  echo "## The archive into S3 vs to local disk (issue 16)"
  echo
  echo "Command: \`bench/s3.sh $args\`, release build, \`skyspool run\` with its private redis-server, one synth"
  echo "source paced at $RATE events/s (event time at the wall rate) for the $SECS s of one 5-minute window and"
  echo "45 s more (the next window's, not measured: they move event time past the close, $((SECS + 30)) s in after the"
  echo "30 s grace), first into a local directory, then into the tests' local"
  echo "S3 (s3rver behind the SigV4-verifying proxy, loopback, s3-part-size 16mb). 2-core machine, load average"
  echo "(1/5/15 min) at the start: $load0, at the end: $load1."
  echo
  echo "| target | events fed | parts | rows committed | MB committed | committed events/s | flush time of the window | MB/s after the close | peak RSS (goal ≤ 256 MB) | exit |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  for t in disk s3; do
    echo "| $t | $(get $t events) | $(get $t parts) | $(get $t rows) | $(get $t mb) | $(get $t eps) | $(get $t flush) s | $(get $t mbps) ($(get $t mb_after_close) MB in $(get $t parts_after_close) parts) | $(get $t rss) MB | $(get $t rc) |"
  done
  echo
  echo "Committed events/s: rows committed over the wall time from the start to the last commit (the"
  echo "rate is paced, so it cannot exceed $RATE; below it means the writer fell behind). Flush time: from"
  echo "the window's close (start + $((SECS + 30)) s) to its last commit. MB/s after the close: the window's bytes"
  echo "committed after its close over the flush time (parts sealed earlier by the memory budget were"
  echo "committed before). Rows, parts and MB are the measured window's."
  echo "Peak RSS: VmHWM of the skyspool process (ingester and writer), its redis-server not included."
  echo
  echo "Commands: \`$(get disk cmd)\`; \`$(get s3 cmd)\`."
} > "$OUT"
cat "$OUT"
