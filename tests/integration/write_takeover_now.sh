#!/usr/bin/env bash
# `write --once --all` and exit 0 mean that nothing is left behind.
# (1) A writer kill -9'd on this machine leaves its entries pending; its lock file in the
#     data dir proves it is dead, so the next `write --once --all` takes them over at once
#     (not after claim-idle, 60 s by default) and writes everything.
# (2) A consumer that looks alive on another machine (pending entries, a fresh heartbeat, no
#     lock here) is waited for up to claim-idle, with a progress line, and if it is still
#     there the run fails naming it; once it goes silent, a run takes its entries over.
source "$SKYSPOOL_SRC/tests/lib/harness.sh"
source "$SKYSPOOL_SRC/tests/lib/writer.sh"
B=$SKYSPOOL_BIN
ss_start_redis r
U=$REDIS_URL_r
P=$REDIS_PORT_r
W=(--out "$SS_TMP/arch" --data-dir "$SS_TMP/dd" --redis "$U")
"$B" synth --events 20000 --seed 3 --start 2025-10-01T00:00:00Z --rate 20 > "$SS_TMP/a.jsonl"
"$B" ingest --source "file:$SS_TMP/a.jsonl" --redis "$U" --log-level error
set +e
exec 3>&2 2>/dev/null
SKYSPOOL_CRASH_AT=after_write:2 "$B" write "${W[@]}" --once --all --log-level error > /dev/null 2>&1
rc=$?
exec 2>&3 3>&-
set -e
ss_eq "(1) the first writer was killed" 137 "$rc"
pend=$(ws_streams_left "$U" | cut -d' ' -f2)
ss_check "(1) it left entries pending ($pend)" test "$pend" -gt 0
t0=$SECONDS
"$B" write "${W[@]}" --once --all --json --log-level info > "$SS_TMP/w1.json" 2> "$SS_TMP/w1.err"; rc=$?
ss_eq "(1) the next --once --all exits 0" 0 "$rc"
ss_check "(1) it did not wait for claim-idle ($((SECONDS - t0)) s)" test $((SECONDS - t0)) -lt 40
ss_check "(1) it took the dead consumer over" grep -q 'process on this machine is gone' "$SS_TMP/w1.err"
ws_drained "(1) nothing left behind" "$U"
ws_check "(1) after the takeover" "$SS_TMP/arch" "$SS_TMP/a.jsonl" "$SS_TMP/dd"

# (2) a consumer alive elsewhere
"$B" synth --events 3000 --seed 4 --start 2025-10-01T02:00:00Z --rate 20 > "$SS_TMP/b.jsonl"
cat "$SS_TMP/a.jsonl" "$SS_TMP/b.jsonl" > "$SS_TMP/ab.jsonl"
"$B" ingest --source "file:$SS_TMP/b.jsonl" --redis "$U" --log-level error
redis-cli -p "$P" XREADGROUP GROUP writers remote-7 COUNT 200 STREAMS skyspool:like '>' > /dev/null
beat() { redis-cli -p "$P" HSET skyspool:writers remote-7 "$(date +%s%3N)" > /dev/null; }
beat
( while :; do beat; sleep 0.3; done ) & hb=$!; SS_PIDS+=($hb)
t0=$SECONDS
set +e
"$B" write "${W[@]}" --once --all --claim-idle 3s --log-level info > /dev/null 2> "$SS_TMP/w2.err"; rc=$?
set -e
kill $hb; wait $hb 2>/dev/null || true
ss_eq "(2) a live consumer elsewhere: exit 1" 1 "$rc"
ss_check "(2) it waited claim-idle ($((SECONDS - t0)) s)" test $((SECONDS - t0)) -ge 3
ss_check "(2) with a progress line" grep -q 'waiting for .* pending with consumer remote-7' "$SS_TMP/w2.err"
ss_check "(2) and named what is left" grep -q 'not done: 200 entries are still pending with consumer remote-7' "$SS_TMP/w2.err"
sleep 3.5 # remote-7 goes silent for longer than claim-idle
"$B" write "${W[@]}" --once --all --claim-idle 3s --log-level info > /dev/null 2> "$SS_TMP/w3.err"; rc=$?
ss_eq "(2) once it is silent: exit 0" 0 "$rc"
ss_check "(2) its entries were taken over" grep -q 'consumer remote-7 is dead' "$SS_TMP/w3.err"
ws_drained "(2) nothing left behind" "$U"
ws_check "(2) after the takeover" "$SS_TMP/arch" "$SS_TMP/ab.jsonl" "$SS_TMP/dd"
ss_done
