#!/usr/bin/env bash
# skyspool audit FAILs an allkeys-lru Redis (and one without maxmemory or AOF) and PASSes
# the embedded one; skyspool status shows streams, lag, memory, cursor, ingest state and
# the DLQ, as text and as stable JSON. The embedded redis-server is started in the data
# dir, reused by later commands, and stopped cleanly by the process that started it.
source "$SKYSPOOL_SRC/tests/lib/harness.sh"
B=$SKYSPOOL_BIN
cd "$SS_TMP"
D="$SS_TMP/data"
emb_pid() { cat "$D/redis.pid" 2>/dev/null || true; }
trap 'p=$(emb_pid); [ -n "$p" ] && kill "$p" 2>/dev/null; ss_cleanup' EXIT

# --- without a data dir, the commands that only look refuse instead of starting a fresh Redis ---
mkdir empty
for c in status audit runs; do
  set +e
  (cd empty && "$B" "$c" > /dev/null 2> "../nodd-$c.txt"); rc=$?
  set -e
  ss_eq "$c without a data dir exits 1" 1 "$rc"
  ss_check "$c says: no skyspool data dir at <abs path>; pass --data-dir" \
    grep -q "no skyspool data dir at $SS_TMP/empty/skyspool-data; pass --data-dir" "nodd-$c.txt"
done
ss_eq "and none was created (no Redis started)" "" "$(ls empty)"

# --- audit of a misconfigured Redis --------------------------------------------------------
ss_start_redis lru --maxmemory 2gb --maxmemory-policy allkeys-lru
set +e
"$B" audit --redis "$REDIS_URL_lru" > lru.txt; rc=$?
"$B" audit --redis "$REDIS_URL_lru" --json > lru.json
set -e
ss_eq "audit exits 1 on allkeys-lru" 1 "$rc"
ss_eq "policy check FAILs" FAIL "$(jq -r '.checks[] | select(.name=="maxmemory-policy") | .status' lru.json)"
ss_check "explained as silent data loss" grep -q "SILENT DATA LOSS" lru.txt
ss_check "with the fix" grep -q "CONFIG SET maxmemory-policy noeviction" lru.txt
ss_eq "maxmemory 2gb passes" PASS "$(jq -r '.checks[] | select(.name=="maxmemory") | .status' lru.json)"
ss_eq "JSON ok=false" false "$(jq .ok lru.json)"
ss_check "text result line" grep -q "^result: FAIL (1 required check failed" lru.txt

# the common options may come before the command, as in git
set +e
"$B" --redis "$REDIS_URL_lru" --log-level warn audit --json > pre.json; rc=$?
"$B" --no-such-flag audit > /dev/null 2> pre.err; rc2=$?
set -e
ss_eq "common options before the command: same audit" "$(jq -c .checks lru.json)" "$(jq -c .checks pre.json)"
ss_eq "  and the same exit status" 1 "$rc"
ss_eq "an unknown option before the command is a usage error" 2 "$rc2"
ss_check "  saying where to put it" grep -q "put it after the command" pre.err

ss_start_redis bare --appendonly no --timeout 30 --stream-node-max-bytes 4096
set +e
"$B" audit --redis "$REDIS_URL_bare" --json > bare.json; rc=$?
set -e
ss_eq "audit exits 1 without maxmemory/AOF" 1 "$rc"
st() { jq -r ".checks[] | select(.name==\"$1\") | .status" bare.json; }
ss_eq "maxmemory 0 FAILs" FAIL "$(st maxmemory)"
ss_eq "appendonly no FAILs" FAIL "$(st appendonly)"
ss_eq "timeout 30 WARNs" WARN "$(st timeout)"
ss_eq "4 KB stream nodes WARN" WARN "$(st stream-node-max-bytes)"
ss_eq "two required failures" 2 "$(jq .required_failures bare.json)"
ss_eq "no password: auth WARNs" WARN "$(st auth)"
ss_eq "loopback bind PASSes" PASS "$(st bind)"
ss_eq "protected-mode yes PASSes" PASS "$(st protected-mode)"
ss_eq "auto-aof-rewrite-percentage 100 PASSes" PASS "$(st auto-aof-rewrite-percentage)"
# (a non-loopback bind is not tried: the test must not listen beyond 127.0.0.1)
ss_start_redis open --protected-mode no --auto-aof-rewrite-percentage 0 --maxmemory 64mb
"$B" audit --redis "$REDIS_URL_open" --json > open.json || true
ost() { jq -r ".checks[] | select(.name==\"$1\") | .status" open.json; }
ss_eq "protected-mode no without a password WARNs" WARN "$(ost protected-mode)"
ss_eq "auto-aof-rewrite-percentage 0 WARNs" WARN "$(ost auto-aof-rewrite-percentage)"
ss_check "saying how to fix it" bash -c "jq -r '.checks[] | select(.name==\"auto-aof-rewrite-percentage\") | .recommendation' open.json | grep -q 'CONFIG SET auto-aof-rewrite-percentage 100'"
set +e
"$B" audit --redis "$REDIS_URL_lru" --require-maxmemory 4gb --json > req.json
"$B" audit --require-maxmemory lots 2> bad.txt; rc=$?
set -e
ss_eq "--require-maxmemory 4gb fails a 2gb Redis" FAIL "$(jq -r '.checks[] | select(.name=="maxmemory") | .status' req.json)"
ss_eq "bad --require-maxmemory exits 2" 2 "$rc"

# --- passwords: in the URL, from a 0600 file, ACL users; refused when the file is readable by others ---
ss_start_redis pw --requirepass s3cret --user alice on '>alicepw' '~*' '&*' '+@all'
printf 's3cret\n' > pw.txt; chmod 600 pw.txt
printf 'alicepw\n' > alice.txt; chmod 600 alice.txt
H="127.0.0.1:$REDIS_PORT_pw"
ss_check "password from the URL" bash -c "'$B' status --redis 'redis://:s3cret@$H' --json > /dev/null"
ss_eq "requirepass: audit's auth check PASSes" PASS \
  "$("$B" audit --redis "redis://:s3cret@$H" --json | jq -r '.checks[] | select(.name=="auth") | .status')"
ss_check "password from a 0600 file" bash -c "'$B' status --redis 'redis://$H' --redis-password-file pw.txt --json > /dev/null"
ss_check "ACL user + password file" bash -c "'$B' status --redis 'redis://alice@$H' --redis-password-file alice.txt --json > /dev/null 2> acl.err || { cat acl.err >&2; false; }"
set +e
"$B" status --redis "redis://$H" > /dev/null 2> noauth.txt; rc=$?
chmod 644 pw.txt
"$B" status --redis "redis://$H" --redis-password-file pw.txt > /dev/null 2> perm.txt; rc2=$?
"$B" status --redis "redis://:wrong@$H" > /dev/null 2> wrong.txt; rc3=$?
printf '{"did":"did:plc:x"}\n' > one.jsonl
t0=$(date +%s)
"$B" ingest --source file:one.jsonl --redis "redis://:wrong@$H" > /dev/null 2> ingest-wrong.txt; rc4=$?
t1=$(date +%s)
set -e
ss_eq "no password: exit 5 (auth)" 5 "$rc"
ss_check "no password: says how to give one" grep -q "redis-password-file" noauth.txt
ss_eq "world-readable password file refused: exit 6 (permission)" 6 "$rc2"
ss_check "and says chmod 600" grep -q "chmod 600" perm.txt
ss_eq "wrong password: exit 5 (auth)" 5 "$rc3"
ss_eq "ingest with a wrong password fails (no endless retry): exit 5 (auth)" 5 "$rc4"
ss_check "and at once" test $((t1 - t0)) -le 5
ss_check "saying why" grep -q WRONGPASS ingest-wrong.txt
ss_check "wrong password: Redis's refusal is reported" grep -q "WRONGPASS" wrong.txt
ss_check "the password never appears in messages" bash -c "! grep -q -e ':wrong@' -e s3cret wrong.txt noauth.txt perm.txt"

# --- the embedded server ---------------------------------------------------------------------
"$B" synth --events 20000 --seed 51 --bad-frac 0.005 --stats st.json > ev.jsonl
"$B" ingest --source file:ev.jsonl --data-dir "$D" --json > ingest.json 2> ingest.log || { cat ingest.log >&2; ss_fail "ingest into the embedded server failed"; }
ss_check "embedded server was started" grep -q "started redis-server" ingest.log
ss_check "password files are 0600" test "$(stat -c %a "$D/redis-admin.password" "$D/redis-ingest.password" | sort -u)" = 600
ss_check "config file is 0600" test "$(stat -c %a "$D/redis.conf")" = 600
ss_check "config: noeviction" grep -q "^maxmemory-policy noeviction" "$D/redis.conf"
ss_check "config: AOF everysec" grep -q "^appendfsync everysec" "$D/redis.conf"
ss_check "config: unix socket" grep -q "^unixsocket" "$D/redis.conf"
ss_check "AOF written in the data dir" test -d "$D/appendonlydir"
ss_check "stopped cleanly on exit" grep -q "stopped redis-server" ingest.log
pid=$(emb_pid)
ss_check "no embedded redis-server left running" bash -c "[ -z '$pid' ] || ! kill -0 '$pid' 2>/dev/null"

if "$B" audit --data-dir "$D" > emb.txt 2> emb.log; then ss_pass "audit PASSes the embedded server"; else ss_fail "audit of the embedded server: $(grep -E 'FAIL' emb.txt)"; fi
ss_check "embedded audit: policy PASS" grep -q "^PASS  maxmemory-policy" emb.txt
ss_check "embedded audit: AOF PASS" grep -q "^PASS  appendfsync" emb.txt
"$B" audit --data-dir "$D" --json > emb.json
ss_eq "embedded audit JSON ok" true "$(jq .ok emb.json)"
ss_eq "streams without group are listed" 7 "$(jq '[.streams[] | select(.group==false)] | length' emb.json)"

# Same data dir = same buffer: a second ingest run resumes at the end; status sees it all.
"$B" ingest --source file:ev.jsonl --data-dir "$D" --json > again.json 2>/dev/null
ss_eq "same data dir: resumed at the stored cursor" 0 "$(jq .read again.json)"
"$B" status --data-dir "$D" --json > status.json 2> status.log
"$B" status --data-dir "$D" > status.txt 2>/dev/null
for t in post like follow; do
  ss_eq "status length $t" "$(jq .total.$t st.json)" "$(jq .streams.$t.length status.json)"
done
ss_eq "status DLQ length" "$(jq .bad st.json)" "$(jq .dlq.length status.json)"
ss_eq "status total" "$(jq .written ingest.json)" "$(jq .total_length status.json)"
ss_eq "status ingest not paused" false "$(jq .ingest.paused status.json)"
ss_eq "status ingest state" done "$(jq -r .ingest.state status.json)"
ss_eq "status cursor = file size" "$(stat -c %s ev.jsonl)" "$(jq '.cursors[0].cursor' status.json)"
ss_eq "status cursor name" offset "$(jq -r '.cursors[0].name' status.json)"
ss_check "status cursor age is known" test "$(jq '.cursors[0].age_s | floor' status.json)" -ge 0
ss_eq "status maxmemory = 2gb default" 2147483648 "$(jq .memory.max status.json)"
ss_eq "status: no group yet" null "$(jq .streams.like.lag status.json)"
ss_check "status text shows the streams" grep -qE "^like +$(jq .total.like st.json) " status.txt
ss_check "status text shows the DLQ" grep -qE "^dlq +$(jq .bad st.json)" status.txt
ss_check "status text shows the cursor" grep -q "offset $(stat -c %s ev.jsonl)" status.txt

# SIGINT: the ingester stops reading, flushes, stores its cursor, stops the embedded server;
# the next run resumes there and completes.
"$B" synth --events 200000 --seed 52 > big.jsonl
"$B" ingest --source file:big.jsonl --data-dir "$D" --prefix sig: --batch 128 --json > sig.json 2> sig.log &
ING=$!
ss_wait_for 60 grep -q "ingesting file:" sig.log
sleep 0.3
kill -INT "$ING"
if wait "$ING"; then ss_pass "SIGINT: ingest exits 0"; else ss_fail "SIGINT: ingest exit status"; cat sig.log >&2; fi
ss_check "SIGINT: embedded server stopped cleanly" grep -q "stopped redis-server" sig.log
read1=$(jq .read sig.json)
ss_check "SIGINT: stopped part-way ($read1 read)" test "$read1" -lt 200000
"$B" ingest --source file:big.jsonl --data-dir "$D" --prefix sig: --json > sig2.json 2> sig2.log
"$B" status --data-dir "$D" --prefix sig: --json > sig-status.json 2>/dev/null
ss_eq "SIGINT: state recorded, then done" done "$(jq -r .ingest.state sig-status.json)"
ss_eq "SIGINT: resumed run + first run cover the file" "$(stat -c %s big.jsonl)" "$(jq '.cursors[0].cursor' sig-status.json)"
ss_check "SIGINT: second run resumed, not restarted" test "$(jq .read sig2.json)" -lt 200000
ss_eq "SIGINT: every line read exactly once across both runs" 200000 "$(( read1 + $(jq .read sig2.json) ))"
ss_eq "SIGINT: buffered = written by both runs" "$(( $(jq .written sig.json) + $(jq .written sig2.json) ))" "$(jq .total_length sig-status.json)"

# Consumer group with pending entries and lag, as the writer would create it.
# Start the data dir's server by hand (as another skyspool process would hold it open).
# By hand, an operator uses the admin user (the default user is off): docs/design/operations.md.
sock="$D/redis.sock"; pw=$(cat "$D/redis-admin.password")
rc() { redis-cli -s "$sock" --user skyspool-admin -a "$pw" --no-auth-warning "$@"; }
redis-server "$D/redis.conf" --daemonize no > /dev/null 2>&1 &
SS_PIDS+=("$!")
ss_wait_for 20 bash -c "[ \"\$(redis-cli -s '$sock' --user skyspool-admin -a '$pw' --no-auth-warning ping)\" = PONG ]"
rc xgroup create skyspool:like writers 0 > /dev/null
rc xreadgroup group writers w1 count 100 streams skyspool:like '>' > /dev/null
"$B" status --data-dir "$D" --json > status2.json 2> status2.log
ss_check "status reused the running server" grep -q "reusing" status2.log
ss_eq "group pending" 100 "$(jq .streams.like.pending status2.json)"
ss_eq "group lag" "$(( $(rc xlen skyspool:like) - 100 ))" "$(jq .streams.like.lag status2.json)"
ss_check "a reused server is left running" rc ping
"$B" audit --data-dir "$D" --json > emb2.json || true
ss_eq "audit lists pending for like" 100 "$(jq '.streams[] | select(.stream=="skyspool:like") | .pending' emb2.json)"
ss_done
