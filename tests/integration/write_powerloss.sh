#!/usr/bin/env bash
# Power loss, not only kill -9 (tests/faultfs/powerloss.c). kill -9 keeps the page cache,
# so it cannot catch a missing or misordered fsync; here, after the process dies, the tree
# is rolled back to what was durable (file data as of its last fsync/fdatasync, directory
# entries as of their directory's last fsync), as a reboot after a power cut would find it.
#   1. the shim itself, on bash and coreutils: unsynced data vanishes, synced data stays, a
#      rename or unlink without a directory fsync is undone, with it it stays; SS_PL_NTH.
#   2. the DataWriter on a real redis-server (Redis itself is not rolled back: what the
#      writer acked is gone from it, so its commit had better be durable): a clean run on a
#      fresh tree then power loss; power loss just before the Nth fsync/fdatasync, for N
#      spread over the run (the only points where the durable state changes); power loss
#      at each SKYSPOOL_CRASH_AT step. After each: the ledger passes integrity_check and
#      every committed part file is on disk. At the end one clean pass: the archive is
#      exactly the input (DuckDB), nothing left in Redis, no intents.
#   3. `skyspool convert`, power loss before each sync, fresh and over a complete earlier
#      output: after a re-run the output is exactly the fault-free one.
source "$SKYSPOOL_SRC/tests/lib/harness.sh"
source "$SKYSPOOL_SRC/tests/lib/writer.sh"
source "$SKYSPOOL_SRC/tests/faultfs/powerloss.sh"
B=$SKYSPOOL_BIN
[ -f "$PL_LIB" ] && [ -x "$PL_TOOL" ] || { ss_fail "power-loss shim not built: $PL_LIB $PL_TOOL"; ss_done; }
t0=$SECONDS

# ---- 1. the shim -----------------------------------------------------------------------
R=$SS_TMP/self
mkdir -p "$R"
echo old > "$R/x"; echo keep > "$R/z"; echo v1 > "$R/cfg"
pl_run "$R" "$SS_TMP/st-self" bash -c '
  cd "$0"
  echo a > nosync                  # data and entry never synced
  echo b > synced; sync synced     # data synced ...
  echo e > emptied                 # entry made durable below, data never synced
  sync .                           # ... entries of nosync, synced, emptied durable
  echo more >> synced              # appended, not synced
  mv x y                           # rename, directory not synced
  rm z                             # unlink, directory not synced
  echo v2 > .cfg.tmp; sync .cfg.tmp; mv .cfg.tmp cfg   # atomic replace without the dir fsync
  mkdir sub; echo s > sub/s; sync sub/s sub            # sub itself never made durable in .
' "$R"
ss_check "self: the commands ran under the shim" grep -q '^dsync ' "$SS_TMP/st-self/journal"
pl_restore "$SS_TMP/st-self"
ss_eq "self: unsynced file with a durable entry is empty" "" "$(cat "$R/emptied")"
ss_eq "self: synced data survives, the unsynced append does not" "b" "$(cat "$R/synced")"
ss_check "self: an undurable rename is undone" test -f "$R/x" -a ! -e "$R/y"
ss_eq "self: an undurable unlink is undone" "keep" "$(cat "$R/z" 2>/dev/null)"
ss_eq "self: an atomic replace without the directory fsync is undone" "v1" "$(cat "$R/cfg")"
ss_check "self: a directory whose parent was not synced vanishes with its synced file" test ! -e "$R/sub"
ss_eq "self: the durable tree" "cfg emptied nosync synced x z" "$(ls "$R" | tr '\n' ' ' | sed 's/ $//')"
pl_run "$R" "$SS_TMP/st-self" bash -c 'cd "$0"; mv x y; sync .; echo n > nosync2; mv cfg cfg2; rm emptied; sync .' "$R"
pl_restore "$SS_TMP/st-self"
ss_eq "self: with the directory fsync, renames, creates and unlinks stay" "cfg2 nosync nosync2 synced y z" \
  "$(ls "$R" | tr '\n' ' ' | sed 's/ $//')"
ss_eq "self: a file that was never synced is empty after its entry is" "" "$(cat "$R/nosync2")"
rc=0
SS_PL_OPS=create SS_PL_NTH=2 pl_run "$R" "$SS_TMP/st-self" bash -c 'cd "$0"; echo 1 > n1; echo 2 > n2; echo 3 > n3' "$R" || rc=$?
ss_eq "self: SS_PL_NTH=2 kills just before the 2nd create" "137 power 2 create n2" \
  "$rc $(grep '^power' "$SS_TMP/st-self/journal")"
ss_check "self: ... so n2 was never created" test -e "$R/n1" -a ! -e "$R/n2"
pl_restore "$SS_TMP/st-self"
ss_check "self: ... and n1 was not durable" test ! -e "$R/n1"

# ---- 2. the DataWriter -----------------------------------------------------------------
ss_start_redis r
U=$REDIS_URL_r
ROOT=$SS_TMP/pl
ST=$SS_TMP/st-w
ARCH=$ROOT/arch DD=$ROOT/dd
mkdir -p "$ROOT" # arch and dd do not exist yet: the writer creates them
W=(--out "$ARCH" --data-dir "$DD" --redis "$U" --consumer w1 --log-level error)
: > "$SS_TMP/in.jsonl"
batch=0
# Event time runs on from batch to batch, as it does live: a writer that is down for more
# than twice the dedup horizon while it holds committed-but-unacked entries may write them
# again (ledger.h: commits keep their id blobs for 2 horizons), a limit this test is not about.
tnext=$(date -u -d 2025-05-01T08:00:00Z +%s)
feed() { # N events at 2.5/s of event time, 5% duplicates
  batch=$((batch + 1))
  "$B" synth --events "$1" --seed "$batch" --start "$(date -u -d "@$tnext" +%Y-%m-%dT%H:%M:%SZ)" --rate 2.5 \
    --dup-frac 0.05 > "$SS_TMP/b$batch.jsonl"
  tnext=$((tnext + $1 * 2 / 5 + 60))
  cat "$SS_TMP/b$batch.jsonl" >> "$SS_TMP/in.jsonl"
  "$B" ingest --source "file:$SS_TMP/b$batch.jsonl" --redis "$U" --log-level error
  avail=$(ws_streams_left "$U" | awk '{print $1}') # entries in the streams now
}
bad=0
# After a restore: the ledger is a sound database and every committed file is on disk.
ledger_ok() {
  local what=$1 led=$DD/ledger.sqlite ic missing
  if [ ! -f "$led" ]; then
    local left
    left=$(ws_streams_left "$U" | awk '{print $1}')
    [ "$left" -ge "$avail" ] || { ss_fail "$what: no ledger after the restore, but the writer consumed entries ($left of $avail left)"; bad=$((bad + 1)); }
    return
  fi
  ic=$(sqlite3 "$led" 'pragma integrity_check' 2>&1)
  [ "$ic" = ok ] || { ss_fail "$what: integrity_check: $ic"; bad=$((bad + 1)); }
  missing=$(sqlite3 "$led" 'select path from commits where path is not null' 2>&1 |
    while read -r p; do [ -f "$ARCH/$p" ] || echo "$p"; done)
  [ -z "$missing" ] ||
    { ss_fail "$what: $(echo "$missing" | wc -l) committed files missing on disk, e.g. $(echo "$missing" | sed -n 1p)"; bad=$((bad + 1)); }
}
avail=0
feed 3000
# a clean run on a fresh tree, then the power goes: everything it acked must be durable
rc=0
SS_PL_OPS=sync SS_PL_TRACE=1 pl_run "$ROOT" "$ST" "$B" write "${W[@]}" --once --all >/dev/null 2>"$SS_TMP/w.err" || rc=$?
syncs=$(pl_ops "$ST")
ss_eq "writer: clean run under the shim" 0 "$rc"
ss_log "writer: a run of 3000 events makes $syncs fsync/fdatasync calls"
pl_restore "$ST"
ss_check "writer: after a clean exit and power loss, the archive and the ledger are there" \
  test -f "$DD/ledger.sqlite" -a -d "$ARCH"
ledger_ok "power loss after a clean exit"
[ "${syncs:-0}" -gt 20 ] || ss_fail "writer: too few syncs counted ($syncs)"
# Power loss before sync N, N spread over a run (each run also recovers what the one before
# left pending). New data every other run.
points=${SS_PL_POINTS:-10}
runs=0 lost=0
for ((k = 0; k < points; k++)); do
  [ $((k % 3)) = 0 ] && feed 1500
  n=$(( 1 + (k * syncs / points + k * 7) % syncs ))
  rc=0 avail=$(ws_streams_left "$U" | awk '{print $1}')
  SS_PL_OPS=sync SS_PL_NTH=$n pl_run "$ROOT" "$ST" "$B" write "${W[@]}" --once --all >/dev/null 2>"$SS_TMP/w.err" || rc=$?
  runs=$((runs + 1))
  if [ "$rc" = 137 ]; then lost=$((lost + 1))
  elif [ "$rc" != 0 ]; then ss_fail "writer: run with power loss at sync $n exited $rc: $(head -c 300 "$SS_TMP/w.err")"; bad=$((bad + 1))
  fi
  pl_restore "$ST"
  at=$(grep '^power' "$ST/journal" | cut -d' ' -f3-) || at="the run finished first: power lost after its exit"
  ledger_ok "power loss before sync $n ($at)"
done
# Power loss at the writer's crash points (it SIGKILLs itself there; then the restore).
steps=(after_claim:1 after_write:2 after_rename:3 after_ledger:2 after_ack:3)
for ((k = 0; k < ${#steps[@]}; k++)); do
  step=${steps[$k]}
  [ $((k % 2)) = 0 ] && feed 1000
  rc=0 avail=$(ws_streams_left "$U" | awk '{print $1}')
  SKYSPOOL_CRASH_AT=$step pl_run "$ROOT" "$ST" "$B" write "${W[@]}" --once --all >/dev/null 2>"$SS_TMP/w.err" || rc=$?
  runs=$((runs + 1))
  [ "$rc" = 137 ] && lost=$((lost + 1))
  [ "$rc" = 137 ] || [ "$rc" = 0 ] || { ss_fail "writer: crash point $step exited $rc"; bad=$((bad + 1)); }
  pl_restore "$ST"
  ledger_ok "power loss at crash point $step"
done
ss_log "writer: $runs runs, $lost lost power (the others finished first), $((SECONDS - t0)) s so far"
ss_check "writer: most runs lost power ($lost of $runs)" test "$lost" -ge $((runs * 2 / 3))
ss_eq "writer: every power loss left a consistent ledger" 0 "$bad"
"$B" write "${W[@]}" --once --all --json > "$SS_TMP/final.json" 2> "$SS_TMP/final.err" ||
  { ss_fail "writer: final clean pass failed"; cat "$SS_TMP/final.err"; }
ss_log "final pass: $(cat "$SS_TMP/final.json")"
ws_drained "after $lost power losses" "$U"
ws_check "after $lost power losses" "$ARCH" "$SS_TMP/in.jsonl" "$DD"
ss_eq "ledger integrity" ok "$(sqlite3 "$DD/ledger.sqlite" 'pragma integrity_check')"
ss_eq "no intents left in the ledger" 0 "$(sqlite3 "$DD/ledger.sqlite" 'select count(*) from intents')"
bad=0; ledger_ok "final"; ss_eq "every committed part file is on disk" 0 "$bad"
ss_log "writer part done at $((SECONDS - t0)) s"

# ---- 3. convert -------------------------------------------------------------------------
snapshot() { [ -d "$1" ] || return 0; (cd "$1" && find . -type f ! -name '.*' -exec sha256sum {} + 2>/dev/null | sort -k2); }
"$B" synth --events 400 --seed 7 --bad-frac 0.05 > "$SS_TMP/conv.jsonl"
IN=$SS_TMP/conv.jsonl C=(convert --no-progress --tag t)
"$B" "${C[@]}" --out "$SS_TMP/conv-ref" "$IN" >/dev/null 2>&1
want=$(snapshot "$SS_TMP/conv-ref")
CR=$SS_TMP/plc
mkdir -p "$CR"
SS_PL_OPS=sync pl_run "$CR" "$SS_TMP/st-c" "$B" "${C[@]}" --out "$CR/out" "$IN" >/dev/null 2>&1 || ss_fail "convert: clean run under the shim"
csyncs=$(pl_ops "$SS_TMP/st-c")
pl_restore "$SS_TMP/st-c"
# convert once created --out and _rejects/ without fsyncing their parents and renamed the
# rejects file without fsyncing _rejects/: after exit 0 and a power cut, 0 of 8 files were
# left. Its output must be durable at exit 0 (util/fs.h).
known=0
ss_eq "convert: exit 0, then power loss: the whole output is there" "$want" "$(snapshot "$CR/out")"
ss_log "convert: $csyncs fsync/fdatasync calls"
[ "${csyncs:-0}" -gt 5 ] || ss_fail "convert: too few syncs counted ($csyncs)"
cbad=0 cruns=0
cstride=$(( (csyncs + 4) / 5 )) # about 5 points, the last one past the end (a clean exit)
for ((n = 1; n <= csyncs + 1; n += cstride)); do
  for over in 0 1; do # from nothing, and over a complete earlier output
    rm -rf "$CR/out"
    [ "$over" = 1 ] && cp -a "$SS_TMP/conv-ref" "$CR/out"
    rc=0
    SS_PL_OPS=sync SS_PL_NTH=$n pl_run "$CR" "$SS_TMP/st-c" "$B" "${C[@]}" --out "$CR/out" "$IN" >/dev/null 2>&1 || rc=$?
    cruns=$((cruns + 1))
    pl_restore "$SS_TMP/st-c"
    [ "$rc" = 137 ] || [ "$rc" = 0 ] || { ss_fail "convert: sync $n exited $rc"; cbad=$((cbad + 1)); }
    "$B" "${C[@]}" --out "$CR/out" "$IN" >/dev/null 2>&1 || { ss_fail "convert: re-run after power loss at sync $n failed"; cbad=$((cbad + 1)); }
    if [ "$(snapshot "$CR/out")" != "$want" ] || [ -n "$(find "$CR/out" -name '.*.tmp')" ]; then
      ss_fail "convert: power loss at sync $n (over=$over): after the re-run the output differs"; cbad=$((cbad + 1))
    fi
  done
done
ss_eq "convert: $cruns power losses, exact after the re-run" 0 "$cbad"
ss_log "total $((SECONDS - t0)) s; known bugs tolerated: $known"
ss_done
