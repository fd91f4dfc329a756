#!/usr/bin/env bash
# Every source-reading command ends cleanly on SIGINT and SIGTERM with what it received
# written: `cat` (stdout is fully buffered; before, a SIGTERM after ~150 events left 0
# lines), `record` (JSONL and frames) and `ingest`. Also a `cat` reading a pipe whose writer
# stays open and quiet (plain and zstd).
# Loopback only.
source "$SKYSPOOL_SRC/tests/lib/harness.sh"
source "$SKYSPOOL_SRC/tests/lib/net.sh"

MK=${SKYSPOOL_BUILD:?run through ctest}/fh_mkframes
cd "$SS_TMP"
"$SKYSPOOL_BIN" synth --events 3000 --seed 11 > in.jsonl
grep '"kind":"commit"' in.jsonl | "$MK" in.frames 2> mk.log
net_replay js --jsonl in.jsonl --rate 150
net_replay fh --frames in.frames --rate 150
JS="jetstream:ws://127.0.0.1:$RP_PORT_js/subscribe"
FH="firehose:ws://127.0.0.1:$RP_PORT_fh/xrpc/com.atproto.sync.subscribeRepos"

# stop_after SECONDS SIGNAL CMD...: runs CMD in the background, signals it, returns its status.
stop_after() {
  local secs=$1 sig=$2; shift 2
  "$@" &
  local pid=$!
  SS_PIDS+=("$pid")
  sleep "$secs"
  kill "-$sig" "$pid"
  # a command that ignores the signal (a background job ignores SIGINT unless it installs
  # a handler) is killed after 15 s, so the test fails instead of hanging
  ( sleep 15; kill -9 "$pid" 2>/dev/null ) &
  local watchdog=$! rc=0
  wait "$pid" || rc=$?
  kill "$watchdog" 2>/dev/null || true
  return "$rc"
}

for sig in TERM INT; do
  # 1. cat of a live source.
  rc=0; stop_after 1.5 "$sig" "$SKYSPOOL_BIN" cat --source "$JS" --wanted-collections '*' > "cat-$sig.out" 2> "cat-$sig.log" || rc=$?
  n=$(wc -l < "cat-$sig.out")
  ss_eq "cat SIG$sig: exit status 0" 0 "$rc"
  ss_check "cat SIG$sig: the events received were written ($n lines)" test "$n" -ge 50
  ss_check "cat SIG$sig: it says so, with the count" grep -q "stopped by SIG$sig after $n events" "cat-$sig.log"
  ss_check "cat SIG$sig: whole JSON lines only" bash -c "jq -c . 'cat-$sig.out' > /dev/null"
  # 2. record, JSONL and frames.
  rc=0; stop_after 1.5 "$sig" "$SKYSPOOL_BIN" record --source "$JS" --wanted-collections '*' --out "rec-$sig.jsonl" 2> "rec-$sig.log" || rc=$?
  ss_eq "record jsonl SIG$sig: exit status 0" 0 "$rc"
  ss_check "record jsonl SIG$sig: events written ($(wc -l < "rec-$sig.jsonl"))" test "$(wc -l < "rec-$sig.jsonl")" -ge 50
  rc=0; stop_after 1.5 "$sig" "$SKYSPOOL_BIN" record --source "$FH" --out "rec-$sig.frames.zst" 2> "recf-$sig.log" || rc=$?
  ss_eq "record frames SIG$sig: exit status 0" 0 "$rc"
  nf=$(timeout 30 "$SKYSPOOL_BIN" cat --source "frames:rec-$sig.frames.zst" 2>/dev/null | wc -l)
  ss_check "record frames SIG$sig: a complete, decodable recording ($nf events)" test "$nf" -ge 50
done

# 3. cat of a pipe that stays open (the writer is alive but quiet): before, the signal
# interrupted poll() and the read that followed blocked until the writer closed, so the
# command outlived the signal by as long as the writer did (0 lines written meanwhile).
# Plain and zstd; the reader must be gone within 3 s of the signal, with every line.
head -200 in.jsonl > pipe.jsonl
zstd -q -c pipe.jsonl > pipe.jsonl.zst
for f in pipe.jsonl pipe.jsonl.zst; do
  for sig in TERM INT; do
    rm -f fifo; mkfifo fifo
    ( cat "$f"; sleep 60 ) > fifo &
    writer=$!; SS_PIDS+=("$writer")
    "$SKYSPOOL_BIN" cat --source file:- < fifo > "open-$f-$sig.out" 2> "open-$f-$sig.log" &
    pid=$!; SS_PIDS+=("$pid")
    for _ in $(seq 50); do [ "$(wc -l < "open-$f-$sig.out")" -gt 0 ] 2>/dev/null && break; sleep 0.1; done
    sleep 0.5
    kill "-$sig" "$pid"
    t0=$(date +%s%N); gone=no
    for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || { gone=yes; break; }; sleep 0.1; done
    rc=still-running; [ "$gone" = yes ] && { rc=0; wait "$pid" || rc=$?; }
    ms=$(( ($(date +%s%N) - t0) / 1000000 ))
    ss_check "cat $f on an open pipe, SIG$sig: gone within 3 s of the signal (${ms} ms)" test "$gone" = yes
    ss_eq "cat $f on an open pipe, SIG$sig: exit status 0" 0 "$rc"
    ss_eq "cat $f on an open pipe, SIG$sig: every line written" 200 "$(wc -l < "open-$f-$sig.out")"
    ss_check "cat $f on an open pipe, SIG$sig: it says so" grep -q "stopped by SIG$sig after 200 events" "open-$f-$sig.log"
    kill -9 "$pid" 2>/dev/null || true
    pkill -P "$writer" 2>/dev/null || true; kill "$writer" 2>/dev/null || true; wait "$writer" 2>/dev/null || true
  done
done

# 4. ingest into a real Redis.
ss_start_redis r
rc=0; stop_after 2 TERM "$SKYSPOOL_BIN" ingest --source "$JS" --redis "$REDIS_URL_r" --json \
  > ing.json 2> ing.log || rc=$?
ss_eq "ingest SIGTERM: exit status 0" 0 "$rc"
written=$(jq .written ing.json 2>/dev/null || echo 0)
ss_check "ingest SIGTERM: events written ($written)" test "${written:-0}" -ge 50
key=$(redis-cli -p "$REDIS_PORT_r" --scan --pattern 'skyspool:cursor:*' | head -1)
ss_check "ingest SIGTERM: the cursor was stored" test -n "$(redis-cli -p "$REDIS_PORT_r" hget "$key" cursor)"

# 5. One stop request delivered twice is one request. timeout(1) signals its child and then
# the child's whole process group, so the child gets SIGTERM twice; when the handler ran in
# between, the copy looked like an operator's second signal and killed the process (exit
# 143, seen as help_examples' `write` failing under load). A copy within a second of the
# first is now ignored; the handler still makes a later one end the process at once.
for sig in TERM INT; do
  net_replay dup --jsonl in.jsonl --rate 150
  kill "-$sig" "$RP_PID_dup"; sleep 0.01; kill "-$sig" "$RP_PID_dup" 2>/dev/null || true
  rc=0; wait "$RP_PID_dup" || rc=$?
  ss_eq "replay-server, SIG$sig twice 10 ms apart: one clean stop (exit 0)" 0 "$rc"
done
# timeout(1) itself, group delivery included. Without leak detection here: under ASan the
# group's copy of the signal (and the SIGCONT after it) can reach LeakSanitizer's exit-time
# tracer task, which then never finishes (the process has logged its clean stop and hangs in
# the leak check; seen in CI, reproduced 2 runs in 80 under load). Leaks are checked by the
# cases above, which signal the process alone.
for i in 1 2 3; do
  rc=0; ASAN_OPTIONS="$ASAN_OPTIONS:detect_leaks=0" timeout --preserve-status -s TERM -k 10 1.5 "$SKYSPOOL_BIN" \
    replay-server --listen 127.0.0.1:0 --jsonl in.jsonl > /dev/null 2> "timeout-$i.log" || rc=$?
  ss_eq "replay-server under timeout(1), run $i: its SIGTERM (sent to it and its group) is one clean stop" 0 "$rc"
done

ss_done
