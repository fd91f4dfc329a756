#!/usr/bin/env bash
# Redis loses entries the writer had already claimed: a restart on an empty dataset (no AOF,
# a lagging replica promoted) after the writer died between claiming dedup keys and
# committing. The ingester rewinds and sends the lost events again, with new entry ids. The
# ledger's claims still name the lost entries, so unless the writer notices the loss and
# releases those claims, every re-sent event is dropped as a "duplicate" and never written.
# The archive must hold every input event exactly once, and the loss must be reported.
source "$SKYSPOOL_SRC/tests/lib/harness.sh"
source "$SKYSPOOL_SRC/tests/lib/writer.sh"
B=$SKYSPOOL_BIN
ss_start_redis r
U=$REDIS_URL_r
W=(--out "$SS_TMP/arch" --data-dir "$SS_TMP/dd" --redis "$U" --claim-idle 1s)
"$B" synth --events 30000 --seed 7 --start 2025-06-01T10:00:00Z --rate 20 > "$SS_TMP/in.jsonl"
"$B" ingest --source "file:$SS_TMP/in.jsonl" --redis "$U" --log-level error

set +e
exec 3>&2 2>/dev/null # keep bash's "Killed" notice out of the log
SKYSPOOL_CRASH_AT=after_claim:1 "$B" write "${W[@]}" --once --all --log-level error > /dev/null 2> "$SS_TMP/crash.err"
rc=$?
exec 2>&3 3>&-
set -e
ss_eq "the writer died after claiming its first round" 137 "$rc"
claims=$(sqlite3 "$SS_TMP/dd/ledger.sqlite" 'select coalesce(sum(n),0) from claim_batches')
ss_check "its claims are durable in the ledger ($claims)" test "$claims" -gt 0

# Redis loses everything: stopped without saving, its dataset removed, restarted empty.
port=$REDIS_PORT_r
kill -9 "$REDIS_PID_r"; wait "$REDIS_PID_r" 2>/dev/null || true
rm -rf "$REDIS_DIR_r/appendonlydir" "$REDIS_DIR_r"/*.rdb
ss_check "redis restarted on an empty dataset" ss_restart_redis r
ss_eq "the buffer is gone" 0 "$(redis-cli -p "$port" dbsize)"

"$B" ingest --source "file:$SS_TMP/in.jsonl" --redis "$U" --log-level error
set +e
"$B" write "${W[@]}" --once --all --json --log-level info > "$SS_TMP/w.json" 2> "$SS_TMP/w.err"
rc=$?
set -e
ss_eq "the second writer exits 0" 0 "$rc"
sed 's/^/    /' "$SS_TMP/w.err" | grep -iE 'lost|release|restart' >&2 || true
ws_drained "after the loss" "$U"
ws_check "after the loss" "$SS_TMP/arch" "$SS_TMP/in.jsonl" "$SS_TMP/dd"
dups=$(ws_json "$SS_TMP/w.json" duplicates)
ss_eq "no re-sent event counted as a duplicate" 0 "$dups"
ss_check "the log names the loss" grep -qiE 'redis lost' "$SS_TMP/w.err"
"$B" status --redis "$U" --data-dir "$SS_TMP/dd" > "$SS_TMP/status.txt" 2>&1 || true
ss_check "status reports the loss" grep -qiE 'redis.*lost|data loss' "$SS_TMP/status.txt"
ss_done
