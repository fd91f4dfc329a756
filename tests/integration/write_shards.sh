#!/usr/bin/env bash
# Key-routed shards: writers on two "machines" (two data dirs = two run ledgers) on one Redis.
#  1. ingest --shards 2 with 10% planted duplicates; machine A runs two writers on shard 0
#     (one of them SIGKILLs itself between the ledger commit and the ack, so its committed but
#     unacknowledged entries must be recognised by A's other writer), machine B runs one on
#     shard 1 that is killed with kill -9 mid-run and replaced by another. Result: exactly the
#     input's distinct events in the archive (no duplicate, even of a pair split by the crash;
#     no loss), XLEN 0 and nothing pending, and the takeover stayed inside machine A's ledger.
#  2. a writer of machine B on shard 0 is refused (shard 0 belongs to A's ledger), so is a writer
#     without --shard, and so is an ingester with another number of shards (data buffered).
#  3. status, audit and runs show the shard streams; --take-shard moves a shard; --reshard.
#  4. one ledger owning both shards keeps their (colliding) entry ids apart across a crash.
source "$SKYSPOOL_SRC/tests/lib/harness.sh"
source "$SKYSPOOL_SRC/tests/lib/writer.sh"
B=$SKYSPOOL_BIN
ss_start_redis r
U=$REDIS_URL_r
PORT=${U##*:}
P="sh:"
DA="$SS_TMP/ddA" DB="$SS_TMP/ddB" OUT="$SS_TMP/arch" IN="$SS_TMP/in.jsonl"

# shard_left: "<entries in all shard streams> <pending>" for prefix $P, 2 shards
shard_left() {
  local len=0 pend=0 t s n
  for t in $WS_TYPES; do
    for s in 0 1; do
      n=$(redis-cli -p "$PORT" XLEN "$P$t:$s"); [[ $n =~ ^[0-9]+$ ]] || n=999999999
      len=$((len + n))
      n=$(redis-cli -p "$PORT" XPENDING "$P$t:$s" writers 2>/dev/null | head -1); [[ $n =~ ^[0-9]+$ ]] || n=0
      pend=$((pend + n))
    done
  done
  echo "$len $pend"
}
wait_drained() { # SECONDS
  local deadline=$(( $(date +%s) + $1 ))
  while [ "$(shard_left)" != "0 0" ]; do
    [ "$(date +%s)" -ge "$deadline" ] && { ss_log "left: $(shard_left)"; return 1; }
    sleep 0.3
  done
}

# ---- 1. two machines, two shards ---------------------------------------------------------
"$B" synth --events 80000 --seed 77 --start 2025-08-01T00:00:00Z --rate 40 --dup-frac 0.1 > "$IN"
"$B" ingest --source "file:$IN" --redis "$U" --prefix "$P" --shards 2 --log-level error
ss_eq "unsharded streams stay empty" 0 "$(redis-cli -p "$PORT" EXISTS "${P}like" "${P}post" "${P}follow")"
l0=$(redis-cli -p "$PORT" XLEN "${P}like:0"); l1=$(redis-cli -p "$PORT" XLEN "${P}like:1")
ss_check "both shards got likes ($l0, $l1)" test "$l0" -gt 10000 -a "$l1" -gt 10000
ss_eq "the ingester recorded shards=2" 2 "$(redis-cli -p "$PORT" HGET "${P}ingest" shards)"
# every copy of a key sits in one shard: no key appears in both like:0 and like:1
keys() { redis-cli -p "$PORT" --raw XRANGE "$1" - + | awk 'NR % 3 == 2 {print $1}' | sort -u; }
both=$(comm -12 <(keys "${P}like:0") <(keys "${P}like:1") | wc -l)
ss_eq "no dedup key in two shards" 0 "$both"
dupk=$(redis-cli -p "$PORT" --raw XRANGE "${P}like:0" - + | awk 'NR % 3 == 2 {print $1}' | sort | uniq -d | wc -l)
ss_check "planted duplicates met in one shard ($dupk keys twice in like:0)" test "$dupk" -gt 100

W=(--out "$OUT" --redis "$U" --prefix "$P" --grace 1s --claim-idle 5s --log-level warn --json)
SKYSPOOL_CRASH_AT=after_ledger:2 "$B" write "${W[@]}" --data-dir "$DA" --shard 0/2 --consumer a1 \
  > "$SS_TMP/a1.json" 2> "$SS_TMP/a1.err" & A1=$!; SS_PIDS+=($A1)
"$B" write "${W[@]}" --data-dir "$DA" --shard 0/2 --consumer a2 > "$SS_TMP/a2.json" 2> "$SS_TMP/a2.err" &
A2=$!; SS_PIDS+=($A2)
"$B" write "${W[@]}" --data-dir "$DB" --shard 1 --set shards=2 --consumer b1 > /dev/null 2> "$SS_TMP/b1.err" &
B1=$!; SS_PIDS+=($B1)
# b1 is killed as soon as it has committed something and still holds entries
for _ in $(seq 1 200); do
  [ "$(find "$OUT" -name '*-b1.s1-*.parquet' 2>/dev/null | wc -l)" -gt 0 ] && break; sleep 0.1
done
kill -9 "$B1"; wait "$B1" 2>/dev/null || true
ss_check "b1 committed part files before it was killed" test "$(find "$OUT" -name '*-b1.s1-*.parquet' | wc -l)" -gt 0
"$B" write "${W[@]}" --data-dir "$DB" --shard 1/2 --consumer b2 > "$SS_TMP/b2.json" 2> "$SS_TMP/b2.err" &
B2=$!; SS_PIDS+=($B2)
a1rc=0; wait "$A1" || a1rc=$?
ss_eq "a1 killed itself between ledger and ack (SIGKILL)" 137 "$a1rc"
ss_check "both machines drained their shards" wait_drained 120
kill -TERM "$A2" "$B2"
wait "$A2" || ss_fail "a2 exited non-zero"
wait "$B2" || ss_fail "b2 exited non-zero"
# what the daemons left pending (windows open at stop) is written by one last pass per machine
"$B" write "${W[@]}" --data-dir "$DA" --shard 0/2 --consumer fa --once --all > /dev/null 2> "$SS_TMP/fa.err"
"$B" write "${W[@]}" --data-dir "$DB" --shard 1/2 --consumer fb --once --all > /dev/null 2> "$SS_TMP/fb.err"
cat "$SS_TMP"/*.err | grep -E ' error ' >&2 || true
ss_eq "streams empty, nothing pending" "0 0" "$(shard_left)"
rows=$(( $(ws_ledger_rows "$DA") + $(ws_ledger_rows "$DB") ))
if ss_node writer_check.mjs --out "$OUT" --input "$IN" --ledger-rows "$rows" > "$SS_TMP/check.log" 2>&1; then
  ss_pass "exactly once across two machines ($(grep -o 'rows: archive [0-9]*' "$SS_TMP/check.log"))"
else
  ss_fail "exactly-once check"; sed 's/^/    /' "$SS_TMP/check.log"
fi
rec=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["reclaimed"])' "$SS_TMP/a2.json" 2>/dev/null || echo 0)
rec2=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["recovered"])' "$SS_TMP/a2.json" 2>/dev/null || echo 0)
ss_check "a2 took a1's entries over ($rec reclaimed, $rec2 found already committed)" test "$rec" -gt 0 -a "$rec2" -gt 0
ss_eq "machine A's ledger fenced a1" "a1.s0" "$(sqlite3 "$DA/ledger.sqlite" 'select consumer from fenced')"
ss_eq "machine B's ledger fenced only b1" "b1.s1" "$(sqlite3 "$DB/ledger.sqlite" 'select group_concat(consumer) from fenced')"
ss_eq "machine B never committed a shard-0 stream" 0 \
  "$(sqlite3 "$DB/ledger.sqlite" "select count(*) from commits where type like '%:0'")"
ss_eq "machine A never committed a shard-1 stream" 0 \
  "$(sqlite3 "$DA/ledger.sqlite" "select count(*) from commits where type like '%:1'")"
ss_check "a2 wrote part files" test "$(find "$OUT" -name '*-a2.s0-*.parquet' | wc -l)" -gt 0

# ---- 2. refusals ----------------------------------------------------------------------------
"$B" synth --events 5000 --seed 78 --start 2025-08-02T00:00:00Z --rate 40 > "$SS_TMP/more.jsonl"
"$B" ingest --source "file:$SS_TMP/more.jsonl" --redis "$U" --prefix "$P" --shards 2 --log-level error
before=$(shard_left)
rc=0; "$B" write "${W[@]}" --data-dir "$DB" --shard 0/2 --consumer intruder --once 2> "$SS_TMP/intruder.err" > /dev/null || rc=$?
ss_eq "a writer of machine B on shard 0 is refused" 1 "$rc"
ss_check "and told that another ledger owns shard 0" grep -q "shard 0 of prefix sh: is owned by the writers of another ledger" "$SS_TMP/intruder.err"
rc=0; "$B" write "${W[@]}" --data-dir "$DA" --consumer nosh --once 2> "$SS_TMP/nosh.err" > /dev/null || rc=$?
ss_eq "an unsharded writer on a sharded buffer is refused" 1 "$rc"
ss_check "and told to use --shard I/2" grep -q -- "--shard I/2" "$SS_TMP/nosh.err"
rc=0; "$B" write "${W[@]}" --data-dir "$DA" --shard 0/3 --consumer three --once 2> "$SS_TMP/three.err" > /dev/null || rc=$?
ss_eq "a writer with another number of shards is refused" 1 "$rc"
rc=0; "$B" ingest --source "file:$SS_TMP/more.jsonl" --redis "$U" --prefix "$P" --shards 3 --from-start \
  --log-level error 2> "$SS_TMP/reshard.err" || rc=$?
ss_eq "ingest with shards=3 on a shards=2 buffer with data is refused" 1 "$rc"
ss_check "and told why" grep -q "was ingested with shards=2, not 3" "$SS_TMP/reshard.err"
rc=0; "$B" ingest --source "file:$SS_TMP/more.jsonl" --redis "$U" --prefix "$P" --from-start \
  --log-level error 2> "$SS_TMP/reshard1.err" || rc=$?
ss_eq "ingest with the default shards=1 there is refused too" 1 "$rc"
ss_eq "nothing was written by the refused runs" "$before" "$(shard_left)"
ss_eq "still recorded: shards=2" 2 "$(redis-cli -p "$PORT" HGET "${P}ingest" shards)"
ss_eq "no unsharded stream was created" 0 "$(redis-cli -p "$PORT" EXISTS "${P}like" "${P}post" "${P}follow")"
rc=0; "$B" write --out "$OUT" --redis "$U" --prefix "$P" --data-dir "$DA" --shard 2/2 --once 2>/dev/null || rc=$?
ss_eq "--shard 2/2 is a usage error" 2 "$rc"
rc=0; "$B" run --source "file:$SS_TMP/more.jsonl" --out "$OUT" --redis "$U" --prefix "$P" --data-dir "$DA" \
  --set shards=2 --no-progress 2> "$SS_TMP/run.err" || rc=$?
ss_eq "run with shards=2 is a usage error" 2 "$rc"

# ---- 3. status, audit, runs; moving a shard -----------------------------------------------
"$B" status --redis "$U" --prefix "$P" --json > "$SS_TMP/status.json"
py() { python3 -c "import json,sys; s=json.load(open(sys.argv[1])); print($1)" "$SS_TMP/status.json"; }
ss_eq "status: shards" 2 "$(py 's["shards"]')"
ss_eq "status: like total is the sum of its shards" \
  "$(py 's["shard_streams"]["like:0"]["length"] + s["shard_streams"]["like:1"]["length"]')" "$(py 's["streams"]["like"]["length"]')"
ss_check "status: buffered events of the second input are shown" test "$(py 's["total_length"]')" -gt 1000
ss_eq "status: shard owners are the two ledgers" \
  "$(sqlite3 "$DA/ledger.sqlite" "select value from meta where key='ledger_id'") $(sqlite3 "$DB/ledger.sqlite" "select value from meta where key='ledger_id'")" \
  "$(py '" ".join(s["shard_owners"])')"
"$B" status --redis "$U" --prefix "$P" > "$SS_TMP/status.txt"
ss_check "status text lists like:1" grep -q '^  like:1 ' "$SS_TMP/status.txt"
"$B" audit --redis "$U" --prefix "$P" --require-maxmemory 1mb > "$SS_TMP/audit.txt" 2>&1 || true
ss_check "audit sums the shards" grep -q "in 2 shards" "$SS_TMP/audit.txt"
"$B" runs --data-dir "$DA" --limit 0 > "$SS_TMP/runsA.txt"
ss_check "runs names the shard streams" grep -q ' like:0 ' "$SS_TMP/runsA.txt"
# machine A is "gone": B takes shard 0 over explicitly and writes the rest
"$B" write "${W[@]}" --data-dir "$DB" --shard 0/2 --consumer mover --once --all --take-shard > /dev/null 2> "$SS_TMP/mover.err" ||
  ss_fail "--take-shard run failed"
ss_check "--take-shard warns" grep -q "take-shard" "$SS_TMP/mover.err"
"$B" write "${W[@]}" --data-dir "$DB" --shard 1/2 --consumer fb2 --once --all > /dev/null 2>> "$SS_TMP/mover.err"
ss_eq "streams empty after the move" "0 0" "$(shard_left)"
ss_eq "shard 0 now belongs to B's ledger" "$(sqlite3 "$DB/ledger.sqlite" "select value from meta where key='ledger_id'")" \
  "$(redis-cli -p "$PORT" HGET "${P}shard-owner" 0)"
cat "$IN" "$SS_TMP/more.jsonl" > "$SS_TMP/all.jsonl"
rows=$(( $(ws_ledger_rows "$DA") + $(ws_ledger_rows "$DB") ))
if ss_node writer_check.mjs --out "$OUT" --input "$SS_TMP/all.jsonl" --ledger-rows "$rows" > "$SS_TMP/check2.log" 2>&1; then
  ss_pass "exactly once after moving shard 0 ($(grep -o 'rows: archive [0-9]*' "$SS_TMP/check2.log"))"
else
  ss_fail "exactly-once check after the move"; sed 's/^/    /' "$SS_TMP/check2.log"
fi
# --reshard, once drained: an explicit change of M is recorded and routes into the new streams
"$B" ingest --source "file:$SS_TMP/more.jsonl" --redis "$U" --prefix "$P" --shards 3 --reshard --from-start \
  --log-level warn 2> "$SS_TMP/reshard3.err"
ss_eq "--reshard records shards=3" 3 "$(redis-cli -p "$PORT" HGET "${P}ingest" shards)"
ss_check "--reshard warns" grep -q "reshard" "$SS_TMP/reshard3.err"
ss_check "and the third shard's streams receive events" test "$(redis-cli -p "$PORT" XLEN "${P}like:2")" -gt 0

# ---- 4. one machine owning both shards ------------------------------------------------------
# Entry ids of like:0 and like:1 coincide (both streams get entries in the same milliseconds),
# so a ledger holding both shards must keep their commits apart: a shard-1 writer that crashes
# after sealing a file (entries pending, nothing committed) must not take its pending entries
# for shard 0's committed ones on restart.
P2="sh2:" DC="$SS_TMP/ddC" OUT2="$SS_TMP/arch2"
"$B" synth --events 20000 --seed 79 --start 2025-08-03T00:00:00Z --rate 40 --dup-frac 0.05 > "$SS_TMP/c.jsonl"
"$B" ingest --source "file:$SS_TMP/c.jsonl" --redis "$U" --prefix "$P2" --shards 2 --log-level error
common=$(comm -12 <(redis-cli -p "$PORT" --raw XRANGE "${P2}like:0" - + | grep -E '^[0-9]+-[0-9]+$' | sort) \
                  <(redis-cli -p "$PORT" --raw XRANGE "${P2}like:1" - + | grep -E '^[0-9]+-[0-9]+$' | sort) | wc -l)
ss_check "like:0 and like:1 share entry ids ($common)" test "$common" -gt 100
W2=(--out "$OUT2" --data-dir "$DC" --redis "$U" --prefix "$P2" --grace 1s --claim-idle 5s --log-level warn)
"$B" write "${W2[@]}" --shard 0/2 --consumer c0 --once --all 2> "$SS_TMP/c0.err"
rc=0; SKYSPOOL_CRASH_AT=after_write:1 "$B" write "${W2[@]}" --shard 1/2 --consumer c1 --once --all 2> "$SS_TMP/c1.err" || rc=$?
ss_eq "the shard-1 writer crashed after sealing a file" 137 "$rc"
"$B" write "${W2[@]}" --shard 1/2 --consumer c1 --once --all --json > "$SS_TMP/c1.json" 2>> "$SS_TMP/c1.err"
ss_eq "shard 0 being done first makes none of shard 1's windows late" 0 \
  "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["late_rows"])' "$SS_TMP/c1.json")"
ss_eq "both shards drained" "0 0" "$(P="$P2" shard_left)"
if ss_node writer_check.mjs --out "$OUT2" --input "$SS_TMP/c.jsonl" --ledger-rows "$(ws_ledger_rows "$DC")" \
  > "$SS_TMP/check3.log" 2>&1; then
  ss_pass "exactly once with two shards in one ledger ($(grep -o 'rows: archive [0-9]*' "$SS_TMP/check3.log"))"
else
  ss_fail "exactly-once check with two shards in one ledger"; sed 's/^/    /' "$SS_TMP/check3.log"
fi
ss_done
