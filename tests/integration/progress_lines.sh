#!/usr/bin/env bash
# Progress lines (util/progress.h) on a terminal, through script(1)'s pseudo-terminal:
# `ingest` has one, with a percentage and an ETA when the input's end is known (synth:
# events=N); --no-progress and a stderr that is no terminal have none; and log lines never
# land on the end of a progress line (run at --log-level debug logs while it draws).
source "$SKYSPOOL_SRC/tests/lib/harness.sh"
B=$SKYSPOOL_BIN
command -v script > /dev/null || ss_skip_test "no script(1) (util-linux) for a pseudo-terminal"
ss_start_redis r
cd "$SS_TMP"

# on_tty OUT cmd...: runs the command with a terminal as stdin, stdout and stderr; OUT gets
# everything the terminal received. Returns the command's exit status.
on_tty() {
  local out=$1; shift
  local q
  printf -v q '%q ' "$@"
  script -qfec "$q" "$out.raw" > /dev/null
}

# glued FILE: log lines that start anywhere but at a line start or right after the erase
# (ESC[K) of a progress line; prints "LINES GLUED DRAWS PCT ETA".
glued() {
  python3 - "$1" <<'PY'
import re, sys
t = open(sys.argv[1], 'rb').read().decode('utf-8', 'replace')
stamp = re.compile(r'\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (debug|info|warn|error) ')
logs = [m.start() for m in stamp.finditer(t)]
bad = [p for p in logs if p and t[p - 1] != '\n' and not t[:p].endswith('\x1b[K')]
for p in bad[:3]:
    print('glued: %r' % t[max(0, p - 60):p + 30], file=sys.stderr)
print(len(logs), len(bad), t.count('\x1b[K'), len(re.findall(r' \d+%', t)), len(re.findall(r'% ETA \d', t)))
PY
}

# 1. ingest on a terminal: a progress line with percentage and ETA, every event stored.
# Paced to last ~5 s whatever the machine's speed: an ETA needs two draws (a line a second)
# after the first confirmed cursor and an unfinished input (an unpaced run can end first).
N=9000
rc=0; on_tty ing "$B" ingest --source "synth:events=$N,seed=5,pace=1800" --redis "$REDIS_URL_r" --prefix a: || rc=$?
ss_eq "ingest on a terminal: exit 0" 0 "$rc"
read -r logs bad draws pct eta <<< "$(glued ing.raw)"
ss_check "ingest: a progress line was drawn ($draws draws)" test "$draws" -ge 2
ss_check "ingest: it shows a percentage ($pct) and an ETA ($eta)" test "$pct" -ge 1 -a "$eta" -ge 1
ss_eq "ingest: no log line on a progress line ($logs log lines)" 0 "$bad"
ss_check "ingest: the progress line ends erased, the summary on its own line" \
  grep -qa $'\e\\[K[0-9T:.-]*Z info  ingest: done: '"$N read" ing.raw
written=$(for t in post like repost follow block identity account sync other; do redis-cli -p "$REDIS_PORT_r" xlen "a:$t"; done | paste -sd+ | bc)
reported=$(grep -ao 'done: [0-9]* read, [0-9]* written' ing.raw | grep -o '[0-9]* written' | cut -d' ' -f1)
ss_eq "ingest: what it reports written is in Redis" "$reported" "$written"

# 2. --no-progress on a terminal, and no terminal at all: no progress line.
on_tty noprog "$B" ingest --source "synth:events=20000,seed=6" --redis "$REDIS_URL_r" --prefix b: --no-progress
read -r logs bad draws pct eta <<< "$(glued noprog.raw)"
ss_eq "ingest --no-progress: nothing drawn" 0 "$draws"
"$B" ingest --source "synth:events=20000,seed=6" --redis "$REDIS_URL_r" --prefix c: 2> pipe.err
ss_eq "ingest, stderr a file: no carriage returns" 0 "$(tr -cd '\r' < pipe.err | wc -c)"

# 2b. cat: a progress line on a terminal; --quiet (only the summary) implies --no-progress, as
# convert's --quiet is --no-progress. Paced (2.5 s whatever the build); stdout goes to a file.
on_tty catp bash -c "\"\$0\" cat --source synth:events=5000,seed=8,pace=2000 > cat.out" "$B"
read -r logs bad draws pct eta <<< "$(glued catp.raw)"
ss_check "cat on a terminal: a progress line ($draws draws)" test "$draws" -gt 0
on_tty catq bash -c "\"\$0\" cat --source synth:events=5000,seed=8,pace=2000 --quiet > catq.out" "$B"
read -r logs bad draws pct eta <<< "$(glued catq.raw)"
ss_eq "cat --quiet on a terminal: nothing drawn" 0 "$draws"
ss_eq "cat --quiet: every event still printed" 5000 "$(wc -l < catq.out)"

# 3. run logs (debug) while its progress line is drawn: never on the line's end.
rc=0; on_tty run "$B" run --source "synth:events=40000,seed=3" --out arch --data-dir dd --redis "$REDIS_URL_r" \
  --prefix d: --log-level debug || rc=$?
ss_eq "run on a terminal: exit 0" 0 "$rc"
read -r logs bad draws pct eta <<< "$(glued run.raw)"
ss_check "run: log lines ($logs) and progress draws ($draws) interleaved" test "$logs" -ge 10 -a "$draws" -ge 2
ss_eq "run: no log line landed on a progress line" 0 "$bad"
ss_check "run: a percentage ($pct)" test "$pct" -ge 1
# 4. check on a terminal: the check's progress line (erased before each report line); with
# stdout a file, the report has no progress drawing in it.
rc=0; on_tty chk "$B" check baseline --redis "$REDIS_URL_r" --seconds 0.5 --clients 2 --p50-ms 1000 --p95-ms 1000 \
  --p99-ms 1000 --min-ops 1 || rc=$?
ss_eq "check baseline on a terminal: exit 0" 0 "$rc"
read -r logs bad draws pct eta <<< "$(glued chk.raw)"
ss_check "check baseline on a terminal: a progress line ($draws draws)" test "$draws" -ge 2
ss_check "  and its report" grep -q "PASS" chk.raw
rc=0; "$B" check baseline --redis "$REDIS_URL_r" --seconds 0.3 --clients 1 --p50-ms 1000 --p95-ms 1000 --p99-ms 1000 \
  --min-ops 1 > chk.txt 2>&1 || rc=$?
ss_eq "check baseline to a file: exit 0" 0 "$rc"
ss_eq "  and no progress drawing in its report" 0 "$(grep -c $'\033\\[K' chk.txt || true)"
ss_done
