#!/usr/bin/env bash
# What the whole pipeline costs at the live rate (issue 17): `skyspool run` with its private
# redis-server, fed by a synth source paced like the live firehose, at the peak (2,000
# events/s) and in a quiet hour (200 events/s), for SECONDS (600; --quick: 60) each.
#   - CPU: utime+stime of the skyspool process and of its redis-server, from /proc/PID/stat
#     (children excluded: redis-server is skyspool's child, counted on its own line), over the
#     wall seconds of the measured stretch (from WARMUP s after start to its end), as % of one core;
#   - per thread of skyspool (/proc/PID/task/TID/stat + comm), to see which loop burns it;
#   - peak RSS (VmHWM) of both at the end; Redis commands per second (INFO commandstats);
#   - the saturation cost in the same run: the same pipeline unpaced (SAT_EVENTS events at the
#     same rate= of event time), CPU-s per event of skyspool and of redis-server, start to exit.
# The event time runs at the wall rate (rate=R, pace=R), so windows close as they would live:
# the first 5-minute window is written 330 s in (grace 30 s); a --quick run writes none.
# Writes bench/results/live.md (--out FILE to write elsewhere).
#   bench/live.sh [--quick] [--seconds N] [--bin PATH] [--rates "2000 200"] [--out FILE]
set -euo pipefail
cd "$(dirname "$0")/.."
B=${SKYSPOOL_BIN:-$PWD/build/skyspool}
SECONDS_RUN=600
RATES="2000 200"
WARMUP=${WARMUP:-5}
SAT_EVENTS=${SAT_EVENTS:-600000}
OUT=bench/results/live.md
args="$*"
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) SECONDS_RUN=60 ;;
    --seconds) SECONDS_RUN=$2; shift ;;
    --bin) B=$2; shift ;;
    --rates) RATES=$2; shift ;;
    --out) OUT=$2; shift ;;
    *) echo "usage: bench/live.sh [--quick] [--seconds N] [--bin PATH] [--rates \"2000 200\"] [--out FILE]" >&2; exit 2 ;;
  esac
  shift
done
[ -x "$B" ] || { echo "bench/live: no binary $B (build first)" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
load0=$(cut -d' ' -f1-3 /proc/loadavg)
START=2025-08-07T10:00:00Z

# measure MODE RATE DIR: runs skyspool, prints "key value" lines (see the python below)
measure() {
  python3 - "$@" <<'EOF'
import os, sys, time, signal, subprocess, glob
mode, rate, d, binary, secs, warm, start, sat_events = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], \
    float(sys.argv[5]), float(sys.argv[6]), sys.argv[7], int(sys.argv[8])
tck = os.sysconf('SC_CLK_TCK')
def stat(pid, tid=None):
    p = f'/proc/{pid}/task/{tid}/stat' if tid else f'/proc/{pid}/stat'
    with open(p) as f: s = f.read()
    rest = s[s.rindex(')') + 2:].split()
    return (int(rest[11]) + int(rest[12])) / tck, rest[0]     # utime + stime, state
def hwm(pid):
    try:
        for l in open(f'/proc/{pid}/status'):
            if l.startswith('VmHWM:'): return int(l.split()[1]) // 1024
    except OSError: pass
    return 0
def threads(pid):
    out = {}
    for t in glob.glob(f'/proc/{pid}/task/*'):
        tid = t.rsplit('/', 1)[1]
        try: out[tid] = (open(t + '/comm').read().strip(), stat(pid, tid)[0])
        except OSError: pass
    return out
def redis_pid(pid):
    for _ in range(200):
        try:
            kids = open(f'/proc/{pid}/task/{pid}/children').read().split()
            for k in kids:
                if 'redis-server' in open(f'/proc/{k}/comm').read(): return int(k)
        except OSError: pass
        time.sleep(0.05)
    sys.exit('no redis-server child')
def cmdstats():
    pw = open(f'{d}/dd/redis-monitor.password').read().strip()
    r = subprocess.run(['redis-cli', '-s', f'{d}/dd/redis.sock', '--user', 'skyspool-monitor', '--pass', pw,
                        '--no-auth-warning', 'INFO', 'commandstats'], capture_output=True, text=True).stdout
    c = {}
    for l in r.splitlines():
        if l.startswith('cmdstat_'):
            name, kv = l[8:].split(':', 1)
            c[name] = int(dict(x.split('=') for x in kv.split(','))['calls'])
    return c
src = f'synth:events=%d,seed=1,start={start},rate={rate}'
if mode == 'live':
    src = src % int(rate * (secs + warm + 30)) + f',pace={rate}'
else:
    src = src % sat_events
cmd = ['nice', binary, 'run', '--source', src, '--out', f'{d}/arch', '--data-dir', f'{d}/dd', '--no-progress',
       '--log-level', 'warn']
print('cmd', ' '.join(c if ',' not in c else f'"{c}"' for c in cmd[1:]).replace(binary, 'skyspool').replace(d + '/', ''))
log = open(f'{d}/log', 'w')
p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log)
t_start = time.monotonic()
rp = redis_pid(p.pid)
if mode == 'live':
    time.sleep(max(0, warm - (time.monotonic() - t_start)))
    t0 = time.monotonic(); s0, _ = stat(p.pid); r0, _ = stat(rp); th0 = threads(p.pid); c0 = cmdstats()
    time.sleep(secs)
    t1 = time.monotonic(); s1, _ = stat(p.pid); r1, _ = stat(rp); th1 = threads(p.pid); c1 = cmdstats()
    wall = t1 - t0
    print('wall', f'{wall:.1f}')
    print('sky_cpu', f'{s1 - s0:.2f}'); print('redis_cpu', f'{r1 - r0:.2f}')
    print('sky_rss', hwm(p.pid)); print('redis_rss', hwm(rp))
    for tid, (name, c) in sorted(th1.items(), key=lambda kv: -(kv[1][1] - th0.get(kv[0], (0, 0))[1])):
        dc = c - th0.get(tid, ('', 0))[1]
        print('thread', f'{tid}:{name}', f'{dc:.2f}')
    born = sum(1 for t in th1 if t not in th0)
    print('threads_now', len(th1))
    # threads that came and went: the task count is not enough; the process's total vs the live ones
    print('threads_gone_cpu', f'{(s1 - s0) - sum(c - th0.get(t, ("", 0))[1] for t, (_, c) in th1.items()):.2f}')
    for k in sorted(c1, key=lambda k: -(c1[k] - c0.get(k, 0))):
        n = c1[k] - c0.get(k, 0)
        if n: print('redis_cmd', k, f'{n / wall:.1f}')
    p.send_signal(signal.SIGTERM)
    p.wait(timeout=120)
else:
    last_r = 0.0
    while True:   # wait for skyspool's exit without reaping it: its /proc stat stays readable
        try:
            last_r = stat(rp)[0]
        except OSError: pass
        info = os.waitid(os.P_PID, p.pid, os.WEXITED | os.WNOWAIT | os.WNOHANG)
        if info is not None: break
        time.sleep(0.05)
    s, _ = stat(p.pid)
    rss = hwm(p.pid)
    p.wait()
    print('wall', f'{time.monotonic() - t_start:.1f}')
    print('sky_cpu', f'{s:.2f}'); print('redis_cpu', f'{last_r:.2f}'); print('rc', p.returncode)
    rows = 0
    print('events', sat_events)
EOF
}

echo "bench/live: $B, ${SECONDS_RUN}s per rate: $RATES" >&2
res=$tmp/res
: > "$res"
for r in $RATES; do
  echo "bench/live: paced $r events/s for ${SECONDS_RUN}s" >&2
  mkdir -p "$tmp/live$r"
  measure live "$r" "$tmp/live$r" "$B" "$SECONDS_RUN" "$WARMUP" "$START" "$SAT_EVENTS" | sed "s/^/live$r /" >> "$res"
  rm -rf "$tmp/live$r"
done
echo "bench/live: saturation, $SAT_EVENTS events unpaced" >&2
mkdir -p "$tmp/sat"
measure sat 2000 "$tmp/sat" "$B" 0 0 "$START" "$SAT_EVENTS" | sed "s/^/sat /" >> "$res"
rm -rf "$tmp/sat"
load1=$(cut -d' ' -f1-3 /proc/loadavg)
get() { awk -v k="$1" -v f="$2" '$1 == k && $2 == f {print $3; exit}' "$res"; }
pct() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", 100 * a / b}'; }

sat_wall=$(get sat wall); sat_sky=$(get sat sky_cpu); sat_red=$(get sat redis_cpu)
us_sky=$(awk -v a="$sat_sky" -v n="$SAT_EVENTS" 'BEGIN {printf "%.2f", a * 1e6 / n}')
us_red=$(awk -v a="$sat_red" -v n="$SAT_EVENTS" 'BEGIN {printf "%.2f", a * 1e6 / n}')
{
  echo "## The pipeline at the live rate (skyspool run + its redis-server)"
  echo
  echo "Command: \`bench/live.sh $args\` (${SECONDS_RUN} s per rate after a ${WARMUP} s warm-up), release build, \`nice\`,"
  echo "\`skyspool run\` with its private redis-server (AOF everysec), one synth source paced at the rate, the event"
  echo "time running at the wall rate. CPU is utime+stime from /proc/PID/stat over the measured wall seconds"
  echo "(children excluded), as % of one core; RSS is VmHWM at the end. Saturation: the same pipeline unpaced,"
  echo "$SAT_EVENTS events, start to exit. Load average (1/5/15 min) at the start: $load0, at the end: $load1."
  echo
  echo "| rate | wall s | skyspool CPU-s | redis CPU-s | skyspool % core | redis % core | together | goal | skyspool peak RSS | redis peak RSS | work at the saturation cost |"
  echo "|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|"
  for r in $RATES; do
    w=$(get "live$r" wall); s=$(get "live$r" sky_cpu); rd=$(get "live$r" redis_cpu)
    goal="≤ 3 %"; [ "$r" -le 200 ] && goal="≤ 1 %"
    work=$(awk -v r="$r" -v a="$us_sky" -v b="$us_red" 'BEGIN {printf "%.2f", r * (a + b) / 1e4}')
    echo "| $r events/s | $w | $s | $rd | $(pct "$s" "$w") % | $(pct "$rd" "$w") % | **$(pct "$(awk -v a="$s" -v b="$rd" 'BEGIN {print a + b}')" "$w") %** | $goal | $(get "live$r" sky_rss) MB | $(get "live$r" redis_rss) MB | $work % |"
  done
  echo
  echo "Commands: $(awk '$2 == "cmd" {sub(/^[^ ]+ cmd /, ""); printf "%s`%s`", sep, $0; sep="; "}' "$res")."
  echo
  echo "Saturation (unpaced, $SAT_EVENTS events, ${sat_wall} s wall, exit $(get sat rc)): skyspool $sat_sky CPU-s = $us_sky µs per event,"
  echo "redis-server $sat_red CPU-s = $us_red µs per event. \"Work at the saturation cost\" is what the rate would cost at"
  echo "those per-event figures: the rest of the live figure is overhead that does not scale with events."
  echo
  for r in $RATES; do
    w=$(get "live$r" wall)
    echo "Threads at $r events/s (CPU-s in the measured stretch): $(awk -v k="live$r" '$1 == k && $2 == "thread" {printf "%s%s %s", sep, $3, $4; sep=", "}' "$res");"
    echo "threads that ended within it: $(get "live$r" threads_gone_cpu) CPU-s. Redis commands per second:"
    echo "$(awk -v k="live$r" '$1 == k && $2 == "redis_cmd" {printf "%s%s %s", sep, $3, $4; sep=", "}' "$res")."
    echo
  done
} > "$OUT"
cat "$OUT"
