#!/usr/bin/env bash
# The DataWriter into S3 (--out s3://BUCKET/PREFIX), against the local S3 of tests/lib/s3.sh
# (s3rver behind a proxy that verifies every SigV4 signature and injects faults):
#   1. a wrong secret: a clear permission error, exit 1, nothing acknowledged in Redis;
#      a 403 in the middle of the uploads (after the start-up probe passed): the same;
#      a RequestTimeTooSkewed answer: exit 1, a message that says to fix the clock;
#   2. kill -9 at every crash point of the S3 protocol (after_write, after_rename,
#      s3_mid_upload inside a multipart upload, after_upload, after_ledger, after_ack),
#      S3_TRIALS kills in all (default 6, one per step; S3_TRIALS=24 for the long version);
#   3. each injected fault (503 SlowDown, a 500, a connection reset mid-upload, a stalled
#      response) is retried and the run succeeds;
# and after all of it the objects, downloaded and read with DuckDB, are exactly the input
# (multiset of keys: none lost, none twice), no multipart upload is left in progress, no
# intent is left in the ledger, every object carries the SHA-256 the ledger recorded, the
# staging dir holds no part file, and Redis holds nothing;
#   4. `cat --source archive:s3://` reads the same events as the downloaded copy read locally;
#      `verify --out s3://` passes on that archive, and after one object is deleted and another
#      overwritten with other bytes of the same size it reports exactly those two.
source "$SKYSPOOL_SRC/tests/lib/harness.sh"
source "$SKYSPOOL_SRC/tests/lib/writer.sh"
source "$SKYSPOOL_SRC/tests/lib/s3.sh"
B=$SKYSPOOL_BIN
TRIALS=${S3_TRIALS:-6}
ss_start_redis r
U=$REDIS_URL_r
s3_start
s3_env
s3_settings 2s
W=(--out "s3://$S3_BUCKET/bsky/v1" --data-dir "$SS_TMP/dd" --redis "$U" --claim-idle 1s --log-level error "${S3SET[@]}")
: > "$SS_TMP/in.jsonl"
batch=0
feed() { # 6000 events in one 5-minute window: the like file is ~420 KB, a 2-part multipart upload
  batch=$((batch + 1))
  "$B" synth --events "${1:-6000}" --seed "$batch" --start "2025-05-$(printf %02d "$batch")T08:00:00Z" --rate 60 \
    --dup-frac 0.02 > "$SS_TMP/b$batch.jsonl"
  cat "$SS_TMP/b$batch.jsonl" >> "$SS_TMP/in.jsonl"
  "$B" ingest --source "file:$SS_TMP/b$batch.jsonl" --redis "$U" --log-level error
}
pending() { ws_streams_left "$U" | awk '{print $1}'; }

# ---- 1. a wrong secret, then a 403 during the uploads -------------------------------------------
feed
before=$(pending)
set +e
AWS_SECRET_ACCESS_KEY=not-the-secret "$B" write "${W[@]}" --once --all > /dev/null 2> "$SS_TMP/denied.err"
rc=$?
set -e
ss_eq "wrong secret: exit 1" 1 "$rc"
ss_check "wrong secret: the error says permission denied and names the bucket and prefix" \
  grep -q "s3://$S3_BUCKET/bsky/v1.*permission denied" "$SS_TMP/denied.err"
ss_check "wrong secret: the secret is not in the message" bash -c "! grep -q not-the-secret '$SS_TMP/denied.err'"
ss_eq "wrong secret: nothing acknowledged" "$before" "$(pending)"
s3_fault sig403 count=1000 match='^PUT '
set +e
"$B" write "${W[@]}" --once --all > /dev/null 2> "$SS_TMP/denied2.err"
rc=$?
set -e
s3_fault_clear
ss_eq "403 on upload: exit 1" 1 "$rc"
ss_check "403 on upload: a permission error naming the object's key" \
  grep -q "s3://$S3_BUCKET/bsky/v1/year=2025/.*permission denied" "$SS_TMP/denied2.err"
ss_eq "403 on upload: nothing acknowledged" "$before" "$(pending)"
s3_fault skew count=1000
set +e
"$B" write "${W[@]}" --once --all > /dev/null 2> "$SS_TMP/skew.err"
rc=$?
set -e
s3_fault_clear
ss_eq "clock skew: exit 1" 1 "$rc"
ss_check "clock skew: RequestTimeTooSkewed says to fix the clock" grep -q "RequestTimeTooSkewed: this machine's clock" "$SS_TMP/skew.err"
ss_eq "clock skew: nothing acknowledged" "$before" "$(pending)"
rejected0=$(s3_stat rejected) # the wrong secret's requests; none may follow
ss_log "phase 1 done at ${SECONDS}s"

# ---- 2. kill -9 at every crash point ------------------------------------------------------------------
steps=(after_write after_rename s3_mid_upload after_upload after_ledger after_ack)
kills=0 runs=0 need=0
declare -A hit
while { [ "$kills" -lt "$TRIALS" ] || [ ${#hit[@]} -lt ${#steps[@]} ]; } && [ "$runs" -lt $((TRIALS * 4)) ]; do
  [ "$need" = 1 ] && { feed; need=0; }
  step=${steps[$((runs % ${#steps[@]}))]}
  n=$(( runs % 2 + 1 ))
  # after a kill after the ledger there is nothing new to commit: the ack step gets new data
  [ "$step" = after_ack ] && { n=1; [ "$need" = 0 ] && feed; }
  runs=$((runs + 1))
  set +e
  exec 3>&2 2>/dev/null
  t0=$SECONDS
  SKYSPOOL_CRASH_AT="$step:$n" "$B" write "${W[@]}" --once --all --consumer w1 > /dev/null 2> "$SS_TMP/crash.err"
  rc=$?
  exec 2>&3 3>&-
  set -e
  ss_log "run $step:$n rc=$rc in $((SECONDS - t0))s"
  if [ "$rc" = 137 ]; then
    kills=$((kills + 1)); hit[$step]=1
  else
    need=1
    [ "$rc" = 0 ] || { ss_fail "crash run $step:$n exited $rc"; cat "$SS_TMP/crash.err"; }
  fi
done
ss_log "$kills kills in $runs runs over $batch batches (steps hit: ${!hit[*]})"
ss_check "$TRIALS kills at S3 protocol steps ($kills)" test "$kills" -ge "$TRIALS"
ss_eq "every S3 crash point was reached" ${#steps[@]} ${#hit[@]}
ss_log "phase 2 done at ${SECONDS}s"

# ---- 3. injected faults: retried, the run succeeds ---------------------------------------------------
for f in "slowdown count=3" "error500 count=2" "reset count=2 match=^PUT.*partNumber" "stall count=1 match=^PUT"; do
  case $f in reset*) feed ;; *) feed 3000 ;; esac # the reset cuts a part of a multipart upload
  t0=$SECONDS
  faults0=$(s3_stat faults)
  # shellcheck disable=SC2086
  s3_fault $f
  set +e
  "$B" write "${W[@]}" --once --all --consumer w1 > /dev/null 2> "$SS_TMP/fault.err"
  rc=$?
  set -e
  s3_fault_clear
  ss_log "fault ${f%% *}: rc=$rc in $((SECONDS - t0))s"
  ss_eq "fault ${f%% *}: the run succeeds" 0 "$rc"
  [ "$rc" = 0 ] || cat "$SS_TMP/fault.err"
  ss_check "fault ${f%% *}: it was injected" test "$(s3_stat faults)" -gt "$faults0"
  ss_eq "fault ${f%% *}: nothing left in Redis" "0 0" "$(ws_streams_left "$U")"
done

ss_log "phase 3 done at ${SECONDS}s"
# ---- the archive: exactly the input --------------------------------------------------------------
"$B" write "${W[@]}" --once --all --json --log-level warn > "$SS_TMP/final.json" 2> "$SS_TMP/final.err"
cat "$SS_TMP/final.err" >&2
ws_drained "S3 archive" "$U"
s3_download bsky/v1 "$SS_TMP/dl"
ws_check "S3 archive (downloaded)" "$SS_TMP/dl" "$SS_TMP/in.jsonl" "$SS_TMP/dd"
ss_eq "no multipart upload left in progress" 0 "$(s3_uploads)"
ss_eq "no intents left in the ledger" 0 "$(sqlite3 "$SS_TMP/dd/ledger.sqlite" 'select count(*) from intents')"
ss_eq "no part file left in the staging dir" 0 "$(find "$SS_TMP/dd/s3-staging" -name '*.parquet*' | wc -l)"
s3_list bsky/v1 > "$SS_TMP/objects"
sqlite3 "$SS_TMP/dd/ledger.sqlite" "select 'bsky/v1/' || path || ' ' || sha256 from commits where path is not null order by 1" > "$SS_TMP/ledger"
ss_eq "objects = committed paths, each with the ledger's SHA-256" "$(cat "$SS_TMP/ledger")" \
  "$(awk '{print $1, $3}' "$SS_TMP/objects" | sort)"
ss_check "objects' bytes hash to their SHA-256" bash -c "cd '$SS_TMP/dl' && awk '{sub(\"^bsky/v1/\", \"\", \$1); print \$3 \"  \" \$1}' '$SS_TMP/objects' | sha256sum -c --quiet"
ss_eq "every request but the wrong secret's was signed correctly (the verifying proxy rejected none)" "$rejected0" "$(s3_stat rejected)"
ss_log "archive checked at ${SECONDS}s"

# ---- 4. verify reads the S3 archive: intact, then one object deleted and one overwritten -------------
V=(verify --out "s3://$S3_BUCKET/bsky/v1" --data-dir "$SS_TMP/dd" "${S3SET[@]}")
set +e
"$B" "${V[@]}" > "$SS_TMP/verify.out" 2>&1
rc=$?
set -e
ss_eq "verify s3://: the intact archive passes" 0 "$rc"
[ "$rc" = 0 ] || cat "$SS_TMP/verify.out"
nobj=$(wc -l < "$SS_TMP/objects")
ss_check "verify s3://: every committed object checked ($nobj)" grep -q "checked  $nobj committed files: $nobj intact .*SHA-256 of the download" "$SS_TMP/verify.out"
# the archive: source reads it in place: the same events, in the same order, as from the download
SKYSPOOL_S3_ENDPOINT=$S3_ENDPOINT SKYSPOOL_S3_PATH_STYLE=yes TMPDIR=$SS_TMP \
  "$B" cat --source "archive:s3://$S3_BUCKET/bsky/v1" > "$SS_TMP/cat-s3.jsonl" 2> "$SS_TMP/cat-s3.err"
"$B" cat --source "archive:$SS_TMP/dl" > "$SS_TMP/cat-dl.jsonl" 2> /dev/null
ss_eq "cat archive:s3://: one event per committed row" "$(sqlite3 "$SS_TMP/dd/ledger.sqlite" 'select sum(rows) from commits where path is not null')" \
  "$(wc -l < "$SS_TMP/cat-s3.jsonl")"
ss_check "cat archive:s3://: identical to the downloaded archive read locally" cmp -s "$SS_TMP/cat-s3.jsonl" "$SS_TMP/cat-dl.jsonl"
ss_eq "cat archive:s3://: its scratch dir is gone" 0 "$(find "$SS_TMP" -maxdepth 1 -name 'skyspool-archive-*' | wc -l)"
gone=$(awk 'NR == 1 {print $1}' "$SS_TMP/objects")
changed=$(sort -k2 -n "$SS_TMP/objects" | awk 'END {print $1}') # the largest: a multipart object
cp "$SS_TMP/dl/${changed#bsky/v1/}" "$SS_TMP/changed.parquet"
size=$(stat -c %s "$SS_TMP/changed.parquet")
# other bytes, same size, footer intact: one byte in the middle of the data flipped
python3 -c 'import sys; p=sys.argv[1]; b=bytearray(open(p,"rb").read()); b[len(b)//2]^=0xff; open(p,"wb").write(b)' "$SS_TMP/changed.parquet"
ss_eq "the damaged copy has the same size" "$size" "$(stat -c %s "$SS_TMP/changed.parquet")"
s3_delete "$gone"
s3_put "$changed" "$SS_TMP/changed.parquet"
set +e
"$B" "${V[@]}" --json > "$SS_TMP/verify.json" 2> "$SS_TMP/verify.err"
rc=$?
set -e
ss_eq "verify s3://: a damaged archive fails" 1 "$rc"
ss_eq "verify s3://: exactly the deleted object (missing) and the overwritten one (checksum)" \
  "checksum ${changed#bsky/v1/}
missing ${gone#bsky/v1/}" \
  "$(python3 -c 'import json,sys; [print(p["kind"], p["path"]) for p in sorted(json.load(open(sys.argv[1]))["problems"], key=lambda p: p["kind"])]' "$SS_TMP/verify.json")"
ss_eq "verify s3://: the other objects intact" "$((nobj - 2))" \
  "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["files_ok"])' "$SS_TMP/verify.json")"
ss_done
