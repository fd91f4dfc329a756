#!/usr/bin/env bash
# `convert --out s3://BUCKET/PREFIX` against the local S3 of tests/lib/s3.sh (s3rver behind
# the proxy that verifies every SigV4 signature and injects faults):
#   1. the objects are byte for byte the files a local convert of the same input writes,
#      each with its SHA-256 as metadata; nothing stays staged;
#   2. injected throttling, server errors and a connection reset are retried: same archive;
#   3. kill -9 in the middle of a multipart upload, then a rerun: the archive is exactly the
#      input, no multipart upload stays in progress; a rerun of the same tag that splits
#      differently removes the earlier run's other objects;
#   4. a wrong secret: a clear error, a non-zero exit, nothing uploaded, nothing staged.
source "$SKYSPOOL_SRC/tests/lib/harness.sh"
source "$SKYSPOOL_SRC/tests/lib/s3.sh"
B=$SKYSPOOL_BIN
s3_start
s3_env
s3_settings 2s
cd "$SS_TMP"
# three hours at 6 events/s: the like file of an hour is ~1 MB, a multipart upload of 4 parts;
# 1 % malformed lines, so there is a rejects file too
"$B" synth --events 60000 --seed 5 --start 2025-06-01T10:00:00Z --rate 6 --dup-frac 0.01 --bad-frac 0.01 > in.jsonl
mkdir -p stage

sha_tree() { (cd "$1" && find . -type f ! -name '.*' -printf '%P\n' | LC_ALL=C sort | xargs -r sha256sum); }
rows() { # the archive's rows as a multiset: count, distinct count and the sum of row hashes
  ss_node duck_query.mjs --scalar "SELECT count(*) || ' ' || count(DISTINCT (type, did, rkey, time_us, operation)) || ' ' ||
    sum(hash(type, did, rkey, time_us, operation)::HUGEINT) FROM read_parquet('$1/**/*.parquet', hive_partitioning = true)"
}

# ---- 1. the same bytes as a local convert --------------------------------------------------------
"$B" convert --out local --no-progress in.jsonl > local.out
rc=0; "$B" convert --out "s3://$S3_BUCKET/conv/v1" --stage-dir stage --no-progress --json "${S3SET[@]}" in.jsonl \
  > s3.json 2> s3.err || rc=$?
ss_eq "convert --out s3://: exit 0" 0 "$rc"
[ "$rc" = 0 ] || cat s3.err >&2
files=$(jq .files s3.json)
ss_check "it wrote files ($files)" test "$files" -gt 10
ss_eq "one object per file, plus the rejects file" "$((files + 1))" "$(jq .uploaded_objects s3.json)"
ss_eq "the summary names the S3 archive" "s3://$S3_BUCKET/conv/v1" "$(jq -r .out s3.json)"
s3_download conv/v1 dl1
sha_tree local > local.sha
sha_tree dl1 > dl1.sha
ss_check "the objects are byte for byte the files of a local convert ($(wc -l < local.sha) files)" cmp -s local.sha dl1.sha
s3_list conv/v1 > objects1
bad_meta=$(awk '$1 ~ /\.parquet$/ && (length($3) != 64 || $3 ~ /[^0-9a-f]/)' objects1 | wc -l)
ss_eq "every Parquet object carries its SHA-256 as metadata" 0 "$bad_meta"
meta_ok=$(awk '$1 ~ /\.parquet$/ {print $3 "  ./" substr($1, length("conv/v1/") + 1)}' objects1 | LC_ALL=C sort -k2 | diff -q - <(grep parquet dl1.sha | awk '{print $1 "  ./" $2}' | LC_ALL=C sort -k2) > /dev/null && echo yes || echo no)
ss_eq "the SHA-256 metadata is the SHA-256 of the bytes" yes "$meta_ok"
ss_eq "nothing stays staged" 0 "$(find stage -mindepth 1 | wc -l)"
rows local > want.rows
ss_eq "DuckDB reads the S3 archive: the rows of the local one ($(cut -d' ' -f1 want.rows) rows)" "$(cat want.rows)" "$(rows dl1)"

# ---- 2. faults are retried --------------------------------------------------------------------
for f in "slowdown count=3" "error500 count=2" "reset count=2 match=^PUT.*partNumber"; do
  faults0=$(s3_stat faults)
  # shellcheck disable=SC2086
  s3_fault $f
  rc=0; "$B" convert --out "s3://$S3_BUCKET/conv/v1" --stage-dir stage --no-progress "${S3SET[@]}" in.jsonl \
    > /dev/null 2> fault.err || rc=$?
  s3_fault_clear
  ss_eq "fault ${f%% *}: the run succeeds" 0 "$rc"
  [ "$rc" = 0 ] || cat fault.err >&2
  ss_check "fault ${f%% *}: it was injected" test "$(s3_stat faults)" -gt "$faults0"
done
s3_download conv/v1 dl2
ss_check "after the faults: the same objects, the same bytes" cmp -s local.sha <(sha_tree dl2)

# ---- 3. kill -9 inside a multipart upload, then a rerun ------------------------------------------
faults0=$(s3_stat faults)
s3_fault stall count=1 skip=2 match='^PUT.*partNumber' secs=60
"$B" convert --out "s3://$S3_BUCKET/conv/v2" --stage-dir stage --no-progress --tag kill "${S3SET[@]}" \
  --set s3-stall-timeout=60s in.jsonl > /dev/null 2> kill.err &
pid=$!
SS_PIDS+=("$pid")
ss_wait_for 60 bash -c "[ \$(curl -sf '$S3_ENDPOINT/__stats' | jq .faults) -gt $faults0 ]" || ss_fail "the stall was never reached"
kill -9 "$pid"; wait "$pid" 2>/dev/null || true
s3_fault_clear
ss_check "the killed run left a multipart upload in progress ($(s3_uploads))" test "$(s3_uploads)" -ge 1
ss_check "the killed run left part of the archive ($(s3_list conv/v2 | wc -l) objects)" test "$(s3_list conv/v2 | wc -l)" -lt "$((files + 1))"
rm -rf stage/skyspool-convert-* # what kill -9 left staged (nothing can remove it: the process is gone)
rc=0; "$B" convert --out "s3://$S3_BUCKET/conv/v2" --stage-dir stage --no-progress --tag kill "${S3SET[@]}" in.jsonl \
  > /dev/null 2> rerun.err || rc=$?
ss_eq "the rerun succeeds" 0 "$rc"
[ "$rc" = 0 ] || cat rerun.err >&2
ss_eq "no multipart upload left in progress" 0 "$(s3_uploads)"
s3_download conv/v2 dl3
ss_eq "objects: exactly the files and the rejects file" "$((files + 1))" "$(find dl3 -type f | wc -l)"
ss_eq "the rows: exactly the input, once each" "$(cat want.rows)" "$(rows dl3)"

# ---- 3b. a rerun that splits differently removes the earlier run's other objects ------------------
# the first run also had a later day, so it wrote files of partitions the second one has none of
"$B" synth --events 3000 --seed 6 --start 2025-06-03T10:00:00Z --rate 6 > extra.jsonl
for run in a b; do
  inputs=(in.jsonl); [ "$run" = a ] && inputs+=(extra.jsonl)
  rc=0; "$B" convert --out "s3://$S3_BUCKET/conv/v3" --stage-dir stage --no-progress --tag t3 --json "${S3SET[@]}" \
    "${inputs[@]}" > "$run.json" 2> "$run.err" || rc=$?
  ss_eq "split run $run succeeds" 0 "$rc"
done
n_a=$(jq .files a.json); n_b=$(jq .files b.json)
ss_check "run a wrote more files ($n_a) than run b ($n_b)" test "$n_a" -gt "$n_b"
ss_eq "run b removed run a's other objects" "$((n_a - n_b))" "$(jq .stale_removed b.json)"
s3_download conv/v3 dl4
ss_eq "objects: exactly run b's files and its rejects file" "$((n_b + 1))" "$(find dl4 -type f | wc -l)"
ss_eq "the rows: exactly run b's input" "$(cat want.rows)" "$(rows dl4)"

# ---- 4. a wrong secret ----------------------------------------------------------------------
rc=0; AWS_SECRET_ACCESS_KEY=NotTheSecret42x "$B" convert --out "s3://$S3_BUCKET/conv/v4" --stage-dir stage --no-progress \
  "${S3SET[@]}" in.jsonl > /dev/null 2> denied.err || rc=$?
ss_check "wrong secret: a non-zero exit ($rc)" test "$rc" -ne 0
ss_check "wrong secret: it says permission denied, naming the archive" grep -q "s3://$S3_BUCKET/conv/v4.*permission denied" denied.err
ss_check "wrong secret: the secret is not printed" bash -c "! grep -q NotTheSecret42x denied.err"
ss_eq "wrong secret: nothing uploaded" 0 "$(s3_list conv/v4 | wc -l)"
ss_eq "wrong secret: nothing staged" 0 "$(find stage -mindepth 1 | wc -l)"
rc=0; "$B" convert --out local --stage-dir stage in.jsonl > /dev/null 2> usage.err || rc=$?
ss_eq "--stage-dir without s3:// is a usage error" 2 "$rc"

ss_done
