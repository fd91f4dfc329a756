#!/usr/bin/env bash
# Concurrency and scale-out, all on one ledger (the data dir) and one consumer group:
#  A. a daemon plus two concurrent `--once` runs;
#  B. two daemons;  C. three daemons.
# With 5-10% planted duplicates. Each time: exactly once (duplicates removed across
# writers), nothing left in Redis, and every writer wrote part files of its own.
# The scenarios are independent (own prefix, ledger and archive), so CTest runs them as three
# parts (write_scaleout.1 .. .3; SS_PART, ss_mine in harness.sh), each on its own Redis.
source "$SKYSPOOL_SRC/tests/lib/harness.sh"
source "$SKYSPOOL_SRC/tests/lib/writer.sh"
B=$SKYSPOOL_BIN
ss_start_redis r
U=$REDIS_URL_r

scenario() { # NAME PREFIX EVENTS DUPFRAC DAEMONS ONCE_RUNS
  local name=$1 prefix=$2 n=$3 dup=$4 daemons=$5 onces=$6 i pids=()
  local dd="$SS_TMP/dd-$name" out="$SS_TMP/arch-$name" in="$SS_TMP/in-$name.jsonl"
  "$B" synth --events "$n" --seed "$n" --start 2025-07-01T00:00:00Z --rate 40 --dup-frac "$dup" > "$in"
  "$B" ingest --source "file:$in" --redis "$U" --prefix "$prefix" --log-level error
  local W=(--out "$out" --data-dir "$dd" --redis "$U" --prefix "$prefix" --grace 1s --claim-idle 5s --log-level warn)
  for i in $(seq 1 "$daemons"); do
    "$B" write "${W[@]}" --consumer "d$i" 2> "$SS_TMP/$name-d$i.err" & pids+=($!); SS_PIDS+=($!)
  done
  local opids=()
  for i in $(seq 1 "$onces"); do
    "$B" write "${W[@]}" --consumer "o$i" --once 2> "$SS_TMP/$name-o$i.err" & opids+=($!)
  done
  for i in "${opids[@]}"; do wait "$i" || ss_fail "$name: a --once run failed"; done
  ss_check "$name: writers drained the buffer" ws_wait_drained "$U" "$prefix" 90
  for i in "${pids[@]}"; do kill -TERM "$i" 2>/dev/null || ss_fail "$name: daemon pid $i had exited before it was stopped"; done
  for i in "${pids[@]}"; do wait "$i" || ss_fail "$name: a daemon exited non-zero"; done
  # what the daemons left pending (windows still open at stop) is written by one last pass
  "$B" write "${W[@]}" --consumer final --once --all 2> "$SS_TMP/$name-final.err"
  cat "$SS_TMP/$name"-*.err | grep -E ' error ' >&2 || true
  ws_drained "$name" "$U" "$prefix"
  ws_check "$name" "$out" "$in" "$dd"
  for i in $(seq 1 "$daemons"); do
    ss_check "$name: daemon d$i wrote part files" test "$(find "$out" -name "*-d$i-*.parquet" | wc -l)" -gt 0
  done
}

ran=0
if ss_mine 0; then scenario concurrent "c:" 120000 0.05 1 2; ran=$((ran + 1)); fi
if ss_mine 1; then scenario two "s2:" 100000 0.1 2 0; ran=$((ran + 1)); fi
if ss_mine 2; then scenario three "s3:" 100000 0.1 3 0; ran=$((ran + 1)); fi
ss_check "this part ran a scenario$(ss_part_name)" test "$ran" -gt 0
ss_done
