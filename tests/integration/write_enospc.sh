#!/usr/bin/env bash
# A full output disk: the archive lives on a 2 MB tmpfs. The writer fails with ENOSPC,
# retries with capped exponential backoff, records every attempt in the ledger and never
# acknowledges an entry it has not committed; once space returns (the tmpfs is grown) it
# finishes on its own, exactly once.
source "$SKYSPOOL_SRC/tests/lib/harness.sh"
source "$SKYSPOOL_SRC/tests/lib/writer.sh"
B=$SKYSPOOL_BIN
FULL="$SS_TMP/full"
mkdir -p "$FULL"
if ! mount -t tmpfs -o size=2m skyspool-test "$FULL" 2>/dev/null; then
  echo "skip: cannot mount a tmpfs here (needs root); ENOSPC test not run"
  ss_done; exit 0
fi
trap 'umount -l "$FULL" 2>/dev/null || true; ss_cleanup' EXIT
ss_start_redis r
U=$REDIS_URL_r
"$B" synth --events 40000 --seed 41 --start 2025-09-01T00:00:00Z --rate 20 > "$SS_TMP/in.jsonl"
"$B" ingest --source "file:$SS_TMP/in.jsonl" --redis "$U" --log-level error
total=$(ws_streams_left "$U" | cut -d' ' -f1)
W=(--out "$FULL/arch" --data-dir "$SS_TMP/dd" --redis "$U" --grace 1s --retry-max 1s --log-level info)
"$B" write "${W[@]}" --consumer w1 2> "$SS_TMP/w.err" & WPID=$!; SS_PIDS+=($WPID)
attempts() { sqlite3 "$SS_TMP/dd/ledger.sqlite" "select count(*) from attempts where error like '%space%'" 2>/dev/null || echo 0; }
deadline=$(( $(date +%s) + 60 ))
until [ "$(attempts)" -ge 3 ] || [ "$(date +%s)" -ge "$deadline" ]; do sleep 0.2; done
ss_check "ENOSPC attempts recorded in the ledger ($(attempts))" test "$(attempts)" -ge 3
# nothing acknowledged beyond what is committed: entries gone from Redis == entries in commits
left=$(ws_streams_left "$U" | cut -d' ' -f1)
committed=$(sqlite3 "$SS_TMP/dd/ledger.sqlite" 'select coalesce(sum(entries),0) from commits')
ss_eq "only committed entries were acknowledged" "$committed" "$((total - left))"
ss_check "most entries still buffered while the disk is full ($left of $total)" test "$left" -gt $((total / 2))
ss_check "backoff logged" grep -q 'retrying in' "$SS_TMP/w.err"
mount -o remount,size=200m "$FULL"
ss_check "writer recovered once space returned" ws_wait_drained "$U" skyspool: 120
kill -TERM "$WPID"
wait "$WPID" || ss_fail "writer exited non-zero"
"$B" write "${W[@]}" --consumer w1 --once --all 2>> "$SS_TMP/w.err"
ws_drained "full disk" "$U"
ws_check "full disk" "$FULL/arch" "$SS_TMP/in.jsonl" "$SS_TMP/dd"
"$B" runs --data-dir "$SS_TMP/dd" --limit 0 --json > "$SS_TMP/runs.jsonl"
ss_check "a run shows several attempts and its last error" \
  python3 -c 'import json,sys; r=[json.loads(l) for l in open(sys.argv[1]) if "totals" not in l]; sys.exit(0 if any(x["attempts"]>1 and "space" in (x["error"] or "") and x["status"]=="ok" for x in r) else 1)' "$SS_TMP/runs.jsonl"
ss_done
