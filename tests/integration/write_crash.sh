#!/usr/bin/env bash
# Crash points: the writer SIGKILLs itself (SKYSPOOL_CRASH_AT) at every step of the commit
# protocol -- after claiming dedup keys, between writing and renaming, between renaming and
# the ledger, between the ledger and the ack, after the ack -- 25 times in all, under a
# fixed consumer name (restart takes its own pending entries back) and under fresh names
# (another process takes the dead consumer's entries over). New events, with planted
# duplicates, arrive between rounds. A final clean pass must leave exactly the input in the
# archive: no row lost, none twice, no stray file, nothing left in Redis.
source "$SKYSPOOL_SRC/tests/lib/harness.sh"
source "$SKYSPOOL_SRC/tests/lib/writer.sh"
B=$SKYSPOOL_BIN
ss_start_redis r
U=$REDIS_URL_r
W=(--out "$SS_TMP/arch" --data-dir "$SS_TMP/dd" --redis "$U" --claim-idle 1s --log-level error)
: > "$SS_TMP/in.jsonl"
kills=0 clean=0 batch=0 need_data=1
steps=(after_claim after_write after_rename after_ledger after_ack)
for run in $(seq 1 60); do
  [ "$kills" -ge 25 ] && break
  if [ "$need_data" = 1 ]; then
    # 6000 events over 40 simulated minutes: 8 windows x 7 types of parts; 5% duplicates
    batch=$((batch + 1))
    "$B" synth --events 6000 --seed "$batch" --start "2025-05-$(printf %02d "$batch")T08:00:00Z" --rate 2.5 \
      --dup-frac 0.05 > "$SS_TMP/b$batch.jsonl"
    cat "$SS_TMP/b$batch.jsonl" >> "$SS_TMP/in.jsonl"
    "$B" ingest --source "file:$SS_TMP/b$batch.jsonl" --redis "$U" --log-level error
    need_data=0
  fi
  step=${steps[$((run % 5))]}
  n=$(( run % 3 + 1 ))
  if [ $((run % 2)) = 0 ]; then cons=(--consumer w1); else cons=(); fi
  set +e
  exec 3>&2 2>/dev/null # keep bash's "Killed" notices out of the log
  SKYSPOOL_CRASH_AT="$step:$n" "$B" write "${W[@]}" --once --all "${cons[@]}" >/dev/null 2>"$SS_TMP/crash.err"
  rc=$?
  exec 2>&3 3>&-
  set -e
  if [ "$rc" = 137 ]; then
    kills=$((kills + 1))
    sleep 1.2 # the killed consumer's heartbeat goes stale (claim-idle 1s)
  else
    clean=$((clean + 1)) need_data=1 # it finished before its crash point: feed more
    [ "$rc" = 0 ] || { ss_fail "crash run $step:$n exited $rc"; cat "$SS_TMP/crash.err"; }
  fi
  # (no wait after a run that finished: it left no dead consumer's entries to go stale)
done
ss_log "$kills kills, $clean runs finished before their crash point"
ss_check "at least 20 kills at protocol steps ($kills in $batch batches)" test "$kills" -ge 20
"$B" write "${W[@]}" --once --all --json --log-level info > "$SS_TMP/final.json" 2> "$SS_TMP/final.err"
grep -E 'warn|error' "$SS_TMP/final.err" >&2 || true
ss_log "final pass: $(cat "$SS_TMP/final.json")"
ws_drained "after 25 crashes" "$U"
ws_check "after 25 crashes" "$SS_TMP/arch" "$SS_TMP/in.jsonl" "$SS_TMP/dd"
# the ledger recorded recoveries: some pending entries were found committed and only acked
rec=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["recovered"])' "$SS_TMP/final.json")
ss_log "final pass recovered $rec committed-but-unacked entries"
ss_eq "no intents left in the ledger" 0 "$(sqlite3 "$SS_TMP/dd/ledger.sqlite" 'select count(*) from intents')"
ss_done
