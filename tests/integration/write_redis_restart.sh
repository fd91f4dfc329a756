#!/usr/bin/env bash
# Redis restarts (AOF, everysec) in the middle of a writer's run: the writer loses its
# connection, records the failed attempt, backs off, reconnects, re-reads its pending
# entries and carries on. Exactly once, nothing left behind.
source "$SKYSPOOL_SRC/tests/lib/harness.sh"
source "$SKYSPOOL_SRC/tests/lib/writer.sh"
B=$SKYSPOOL_BIN
ss_start_redis r
U=$REDIS_URL_r
"$B" synth --events 200000 --seed 31 --start 2025-08-01T00:00:00Z --rate 50 --dup-frac 0.02 > "$SS_TMP/in.jsonl"
"$B" ingest --source "file:$SS_TMP/in.jsonl" --redis "$U" --log-level error
W=(--out "$SS_TMP/arch" --data-dir "$SS_TMP/dd" --redis "$U" --grace 1s --retry-max 1s --log-level info)
"$B" write "${W[@]}" --consumer w1 2> "$SS_TMP/w.err" & WPID=$!; SS_PIDS+=($WPID)
# restart while the writer is busy: once it has committed something but not everything
commits() { sqlite3 "$SS_TMP/dd/ledger.sqlite" 'select count(*) from commits' 2>/dev/null || echo 0; }
deadline=$(( $(date +%s) + 60 ))
until [ "$(commits)" -gt 0 ] || [ "$(date +%s)" -ge "$deadline" ]; do sleep 0.1; done
ss_check "writer committed before the restart ($(commits))" test "$(commits)" -gt 0
ss_check "redis restarted (AOF)" ss_restart_redis r
ss_check "writer drained the buffer after the restart" ws_wait_drained "$U" skyspool: 120
kill -TERM "$WPID"
wait "$WPID" || ss_fail "writer exited non-zero"
"$B" write "${W[@]}" --consumer w1 --once --all 2>> "$SS_TMP/w.err"
ws_drained "redis restart" "$U"
ws_check "redis restart" "$SS_TMP/arch" "$SS_TMP/in.jsonl" "$SS_TMP/dd"
ss_check "the failed attempt was logged" grep -q 'attempt 1 failed' "$SS_TMP/w.err"
ss_check "and recorded in the ledger" test "$(sqlite3 "$SS_TMP/dd/ledger.sqlite" 'select count(*) from attempts')" -ge 1
ss_done
