#!/usr/bin/env bash
# Retries give up, and status tells the truth. The archive is on a small tmpfs that is full.
# (1) --max-attempts 3: three consecutive failures of the same work end the writer (a round
#     that reads its pending entries before the write fails is not progress), and the backoff
#     grows between them. (2) SIGTERM during a backoff after failures exits non-zero. (3)
#     `runs` shows every failed attempt with its wall-clock time and error; a window whose
#     commit exists never shows "retrying". (4) Once space returns, exactly once, and the
#     summary counts every row the process committed.
source "$SKYSPOOL_SRC/tests/lib/harness.sh"
source "$SKYSPOOL_SRC/tests/lib/writer.sh"
B=$SKYSPOOL_BIN
FULL="$SS_TMP/full"
mkdir -p "$FULL"
if ! mount -t tmpfs -o size=1m skyspool-retries "$FULL" 2>/dev/null; then
  echo "skip: cannot mount a tmpfs here (needs root); retries test not run"
  ss_done; exit 0
fi
trap 'umount -l "$FULL" 2>/dev/null || true; ss_cleanup' EXIT
ss_start_redis r
U=$REDIS_URL_r
W=(--out "$FULL/arch" --data-dir "$SS_TMP/dd" --redis "$U" --grace 1s --log-level info)
"$B" synth --events 600 --seed 8 --start 2025-11-01T00:00:00Z --rate 2 > "$SS_TMP/a.jsonl"
"$B" ingest --source "file:$SS_TMP/a.jsonl" --redis "$U" --log-level error
"$B" write "${W[@]}" --once --all 2> "$SS_TMP/w0.err" || ss_fail "first small write failed"
dd if=/dev/zero of="$FULL/filler" bs=4k 2>/dev/null || true # the disk is now full
"$B" synth --events 6000 --seed 9 --start 2025-11-01T06:00:00Z --rate 20 > "$SS_TMP/b.jsonl"
"$B" ingest --source "file:$SS_TMP/b.jsonl" --redis "$U" --log-level error

# (1)
set +e
timeout 60 "$B" write "${W[@]}" --max-attempts 3 --retry-max 2s 2> "$SS_TMP/w1.err"; rc=$?
set -e
ss_eq "(1) --max-attempts 3 on a full disk: exit 1" 1 "$rc"
ss_check "(1) gave up after 3 attempts" grep -q 'giving up after 3 failed attempts' "$SS_TMP/w1.err"
ss_check "(1) it counted attempts 1 and 2" bash -c "grep -q 'attempt 1 failed' '$SS_TMP/w1.err' && grep -q 'attempt 2 failed' '$SS_TMP/w1.err'"
d1=$(sed -n 's/.*attempt 1 failed.*retrying in \([0-9]*\) ms.*/\1/p' "$SS_TMP/w1.err" | head -1)
d2=$(sed -n 's/.*attempt 2 failed.*retrying in \([0-9]*\) ms.*/\1/p' "$SS_TMP/w1.err" | head -1)
ss_check "(1) the backoff grows (${d1:-?} ms, then ${d2:-?} ms)" test "${d2:-0}" -ge "${d1:-1}"
# (2)
"$B" write "${W[@]}" --retry-max 3s 2> "$SS_TMP/w2.err" & pid=$!; SS_PIDS+=($pid)
ss_wait_for 60 grep -q 'attempt 2 failed' "$SS_TMP/w2.err" || true
kill -TERM $pid; set +e; wait $pid; rc=$?; set -e
ss_eq "(2) SIGTERM during the backoff after failures: exit 1" 1 "$rc"
ss_check "(2) it says so" grep -q 'stopped while retrying after' "$SS_TMP/w2.err"
# (3)
"$B" runs --data-dir "$SS_TMP/dd" --limit 0 > "$SS_TMP/runs.txt"
ss_check "(3) runs lists the failed attempts" grep -q '^failed attempts' "$SS_TMP/runs.txt"
ss_check "(3) with a UTC time and the error" grep -qE '^20[0-9-]+T[0-9:]+Z .*(space|ENOSPC)' "$SS_TMP/runs.txt"
ss_eq "(3) no committed window shows retrying" 0 \
  "$(sqlite3 "$SS_TMP/dd/ledger.sqlite" "select count(*) from runs where status='retrying' and exists (select 1 from commits where run_id=runs.id)")"
# (4)
rm -f "$FULL/filler"
mount -o remount,size=64m "$FULL"
"$B" write "${W[@]}" --once --all --json 2> "$SS_TMP/w4.err" > "$SS_TMP/w4.json" || ss_fail "(4) final write failed"
cat "$SS_TMP/a.jsonl" "$SS_TMP/b.jsonl" > "$SS_TMP/in.jsonl"
ws_drained "(4) after space returned" "$U"
ws_check "(4) after space returned" "$FULL/arch" "$SS_TMP/in.jsonl" "$SS_TMP/dd"
first=$(sed -n 's/.*done: \([0-9]*\) rows.*/\1/p' "$SS_TMP/w0.err" | tail -1)
last=$(ws_json "$SS_TMP/w4.json" rows)
ss_eq "(4) the summaries count every committed row" "$(ws_ledger_rows "$SS_TMP/dd")" "$((first + last))"
ss_done
