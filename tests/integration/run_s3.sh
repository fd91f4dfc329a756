#!/usr/bin/env bash
# `skyspool run --out s3://BUCKET/PREFIX`: the embedded redis-server, the ingester and the
# writer in one process, writing into the local S3 of tests/lib/s3.sh (s3rver behind the
# proxy that verifies every SigV4 signature):
#   1. a finite source runs to its end: run exits 0 and the objects are exactly the source's
#      events once each, every object a committed path of the ledger with its SHA-256;
#      nothing stays staged, no multipart upload stays in progress;
#   2. SIGINT in the middle of a larger source, then a second run: exactly once over both;
#   3. a wrong secret: run refuses to start (non-zero exit, permission denied, naming the
#      archive), and nothing is written to the bucket.
source "$SKYSPOOL_SRC/tests/lib/harness.sh"
source "$SKYSPOOL_SRC/tests/lib/writer.sh"
source "$SKYSPOOL_SRC/tests/lib/s3.sh"
B=$SKYSPOOL_BIN
s3_start
s3_env
s3_settings 5s
cd "$SS_TMP"

# stop_redis DD: the private redis-server a run left (none, when run stopped it) is the harness's to stop
stop_redis() { local p; p=$(cat "$1/redis.pid" 2>/dev/null || echo); [ -n "$p" ] && [ -e "/proc/$p" ] && SS_PIDS+=("$p"); true; }

# objects_committed PREFIX DD: the objects under PREFIX are exactly the ledger's committed paths
objects_committed() {
  s3_list "$1" | awk '{print $1, $3}' | sort > objects
  sqlite3 "$2/ledger.sqlite" "select '$1/' || path || ' ' || sha256 from commits where path is not null order by 1" > ledger
  ss_eq "$1: the objects are the ledger's committed paths, each with its SHA-256 ($(wc -l < ledger))" "$(cat ledger)" "$(cat objects)"
}

# ---- 1. to the end of a finite source -------------------------------------------------------------
SRC1="synth:events=30000,seed=61,start=2025-10-01T00:00:00Z,rate=20,dup=0.05"
"$B" synth --events 30000 --seed 61 --start 2025-10-01T00:00:00Z --rate 20 --dup-frac 0.05 > in1.jsonl
rc=0; "$B" run --source "$SRC1" --out "s3://$S3_BUCKET/run/v1" --data-dir d1 --no-progress --json --log-level warn \
  "${S3SET[@]}" > r1.json 2> r1.err || rc=$?
stop_redis d1
ss_eq "run --out s3:// to the end: exit 0" 0 "$rc"
[ "$rc" = 0 ] || cat r1.err >&2
s3_download run/v1 dl1
ws_check "run --out s3:// (downloaded)" dl1 in1.jsonl d1
objects_committed run/v1 d1
ss_eq "no multipart upload left in progress" 0 "$(s3_uploads)"
ss_eq "nothing left staged" 0 "$(find d1/s3-staging -name '*.parquet*' 2>/dev/null | wc -l)"

# ---- 2. SIGINT in the middle, then a second run ----------------------------------------------------
SRC2="synth:events=150000,seed=62,start=2025-10-02T00:00:00Z,rate=100"
"$B" synth --events 150000 --seed 62 --start 2025-10-02T00:00:00Z --rate 100 > in2.jsonl
"$B" run --source "$SRC2" --out "s3://$S3_BUCKET/run/v2" --data-dir d2 --no-progress "${S3SET[@]}" 2> r2.err &
pid=$!
SS_PIDS+=("$pid")
sleep 3
kill -INT "$pid"
rc=0; wait "$pid" || rc=$?
stop_redis d2
ss_eq "SIGINT: clean exit" 0 "$rc"
ss_check "SIGINT: it stopped early" grep -q 'stopped after' r2.err
rc=0; "$B" run --source "$SRC2" --out "s3://$S3_BUCKET/run/v2" --data-dir d2 --no-progress --log-level warn \
  "${S3SET[@]}" 2>> r2.err || rc=$?
stop_redis d2
ss_eq "the second run finishes: exit 0" 0 "$rc"
[ "$rc" = 0 ] || tail -5 r2.err >&2
s3_download run/v2 dl2
ws_check "interrupted and resumed into S3 (downloaded)" dl2 in2.jsonl d2
objects_committed run/v2 d2
ss_eq "no multipart upload left in progress" 0 "$(s3_uploads)"

# ---- 3. a wrong secret ------------------------------------------------------------------------
rc=0; AWS_SECRET_ACCESS_KEY=NotTheSecret42x timeout -k 10 120 "$B" run --source "$SRC1" --out "s3://$S3_BUCKET/run/v3" \
  --data-dir d3 --no-progress "${S3SET[@]}" > /dev/null 2> denied.err || rc=$?
stop_redis d3
ss_check "wrong secret: a non-zero exit ($rc), not a timeout" test "$rc" -ne 0 -a "$rc" -ne 124
ss_check "wrong secret: permission denied, naming the archive" grep -q "s3://$S3_BUCKET/run/v3.*permission denied" denied.err
ss_check "wrong secret: the secret is not printed" bash -c "! grep -q NotTheSecret42x denied.err"
ss_eq "wrong secret: nothing in the bucket" 0 "$(s3_list run/v3 | wc -l)"

ss_done
