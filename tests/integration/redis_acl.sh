#!/usr/bin/env bash
# Least privilege and secrets. `skyspool acl` output, applied to a plain redis-server, gives
# each job its own user: each one does its job (ingest a synth file, write --once, status,
# the exporter's scrape, check baseline) and is refused outside it (redis-cli as each user).
# A NOPERM is a permission error naming the command, never retried: a writer daemon and the
# ingester stop at once. The embedded server has the default user off and one user per role.
# Secrets: a password in --redis is warned about, an invalid URL is never echoed with its
# password, a world-readable config file holding one is refused, a 0640 password file is fine.
source "$SKYSPOOL_SRC/tests/lib/harness.sh"
B=$SKYSPOOL_BIN
cd "$SS_TMP"

ss_start_redis acl --maxmemory 256mb
P=$REDIS_PORT_acl
H=127.0.0.1:$P
admin() { redis-cli -p "$P" "$@"; }
# as ROLE: redis-cli logged in as that role's user
as() { local r=$1; shift; redis-cli -p "$P" --user "skyspool-$r" --pass "$(cat "pw/$r.password")" --no-auth-warning "$@" 2>&1; }
url() { echo "redis://skyspool-$1@$H"; }

# --- skyspool acl: the printed lines, applied with redis-cli; --apply gives the same users ----
mkdir -m 700 pw
"$B" acl --password-dir pw > lines.txt 2> acl.err
ss_eq "one ACL SETUSER line per role" 5 "$(grep -c '^ACL SETUSER skyspool-' lines.txt)"
ss_eq "a 0600 password file per role" "600 600 600 600 600" "$(stat -c %a pw/{ingest,write,status,monitor,check}.password | xargs)"
ss_check "the lines carry hashes, never a password" bash -c "grep -q '#[0-9a-f]\{64\}' lines.txt && ! grep -qF \"\$(cat pw/write.password)\" lines.txt"
ss_eq "redis-cli accepts every line" "OK OK OK OK OK" "$(admin < lines.txt | xargs)"
admin acl list | grep skyspool- > list1.txt
"$B" acl --password-dir pw --apply --redis "redis://$H" 2> apply.err || { cat apply.err >&2; ss_fail "acl --apply"; }
admin acl list | grep skyspool- > list2.txt
ss_check "--apply sets the same users as the printed lines" cmp -s list1.txt list2.txt
ss_check "--apply says how to persist them" grep -q "ACL SAVE" apply.err
set +e
"$B" acl --apply > /dev/null 2> noredis.err; rc=$?
set -e
ss_eq "--apply without --redis is a usage error" 2 "$rc"

# --- each role does its job ------------------------------------------------------------------------
"$B" synth --events 3000 --seed 61 --bad-frac 0.01 > ev.jsonl
"$B" ingest --source file:ev.jsonl --redis "$(url ingest)" --redis-password-file pw/ingest.password --json > ing.json 2> ing.err \
  || { cat ing.err >&2; ss_fail "ingest as skyspool-ingest"; }
written=$(jq .written ing.json)
dlq=$(jq .dlq ing.json)
ss_check "ingest: events written ($written)" test "$written" -gt 2500
ss_check "ingest: the DLQ too ($dlq)" test "$dlq" -gt 0
ss_eq "ingest: cursor stored" "$(stat -c %s ev.jsonl)" "$(admin hget "skyspool:cursor:$(jq -r .source ing.json)" cursor)"

"$B" status --redis "$(url status)" --redis-password-file pw/status.password --json > st.json 2> st.err \
  || { cat st.err >&2; ss_fail "status as skyspool-status"; }
ss_eq "status: sees every buffered event" "$written" "$(jq .total_length st.json)"
ss_eq "status: sees the ingest state" done "$(jq -r .ingest.state st.json)"

"$B" write --once --all --out arch --data-dir dd --redis "$(url write)" --redis-password-file pw/write.password 2> w.err \
  || { cat w.err >&2; ss_fail "write --once as skyspool-write"; }
ss_check "write: every event archived ($written rows)" grep -q "done: $written rows" w.err
ss_eq "write: acked and trimmed, the streams are empty" 0 "$(for t in post like repost follow block identity account; do admin xlen skyspool:$t; done | awk '{s+=$1} END {print s}')"

EP=$(ss_free_port)
REDIS_PASSWORD=$(cat pw/monitor.password) prometheus-redis-exporter -redis.addr "redis://$H" -redis.user skyspool-monitor \
  -web.listen-address "127.0.0.1:$EP" -check-streams 'skyspool:*' > exporter.log 2>&1 &
SS_PIDS+=("$!")
admin acl log reset > /dev/null
ss_wait_for 20 curl -sf "http://127.0.0.1:$EP/metrics"
curl -sf "http://127.0.0.1:$EP/metrics" > metrics.txt
ss_eq "exporter as skyspool-monitor: redis_up" 1 "$(awk '$1=="redis_up"{print $2}' metrics.txt)"
ss_eq "exporter: the DLQ stream length" "$dlq" "$(awk '$1=="redis_stream_length{db=\"db0\",stream=\"skyspool:dlq\"}"{print $2}' metrics.txt)"
ss_check "exporter: maxmemory from CONFIG GET" grep -q '^redis_config_maxmemory 2.68435456e+08' metrics.txt
ss_eq "exporter: refused nothing (ACL LOG)" 0 "$(admin acl log | grep -c skyspool-monitor || true)"

"$B" check baseline --redis "$(url check)" --redis-password-file pw/check.password --seconds 0.3 --clients 2 \
  --p50-ms 1000 --p95-ms 1000 --p99-ms 1000 --min-ops 1 --json base.json > base.txt 2> base.err \
  || { cat base.txt base.err >&2; ss_fail "check baseline as skyspool-check"; }
ss_eq "check baseline: every criterion PASSes" PASS "$(jq -r .verdict base.json)"
ss_check "check baseline: measured XREADGROUP+XACK as skyspool-check" test "$(jq ".figures.xreadgroup_xack_c2_samples.value" base.json)" -gt 0
ss_eq "check baseline: left no key behind" 0 "$(admin --scan --pattern 'skyspool-check:*' | wc -l)"

# --- and is refused outside it ---------------------------------------------------------------------
refused() { local d=$1; shift; local out; out=$(as "$@"); case $out in *NOPERM*) ss_pass "$d";; *) ss_fail "$d: got '$out'";; esac; }
refused "ingest cannot XREADGROUP" ingest xreadgroup group writers x count 1 streams skyspool:post '>'
refused "ingest cannot FLUSHALL" ingest flushall
refused "ingest cannot read events back" ingest xrange skyspool:dlq - + count 1
refused "write cannot XADD to an event stream" write xadd skyspool:post '*' k v
refused "write cannot XADD to a sharded event stream" write xadd skyspool:like:1 '*' k v
ss_check "write may XADD to the DLQ" bash -c "[[ \$(redis-cli -p $P --user skyspool-write --pass \$(cat pw/write.password) --no-auth-warning xadd skyspool:dlq '*' reason test) == *-* ]]"
# gap records (buffer/gaps.h): the ingester adds them, the writer moves them to its ledger, status reads them
gid=$(as ingest xadd skyspool:gaps '*' source t reason other)
ss_check "ingest may XADD a gap record ($gid)" bash -c "[[ '$gid' == *-* ]]"
ss_eq "status may read it" "$gid" "$(as status xrevrange skyspool:gaps + - count 1 | head -1)"
ss_eq "write may read it" "$gid" "$(as write xrange skyspool:gaps - + count 1 | head -1)"
ss_eq "write may note and delete it (the gaps script's commands)" "1 1" "$(as write hincrby skyspool:gaps-seen committed 1) $(as write xdel skyspool:gaps "$gid")"
refused "write cannot FLUSHALL" write flushall
refused "write cannot touch other keys" write hset other:key f v
refused "status cannot write" status hset skyspool:ingest state x
refused "monitor cannot read values (XRANGE)" monitor xrange skyspool:dlq - + count 1
refused "monitor cannot read values (HGETALL)" monitor hgetall skyspool:ingest
refused "monitor cannot CONFIG SET" monitor config set maxmemory 1
refused "check cannot touch skyspool:*" check xlen skyspool:dlq
refused "check cannot FLUSHALL" check flushall
ss_eq "check may use its own keys" OK "$(as check set skyspool-check:probe 1)"
as check unlink skyspool-check:probe > /dev/null

# --- NOPERM: a permission error naming the command, never retried -----------------------------------
admin acl setuser skyspool-write -xreadgroup > /dev/null
"$B" synth --events 200 --seed 62 > ev2.jsonl
"$B" ingest --source file:ev2.jsonl --redis "$(url ingest)" --redis-password-file pw/ingest.password > /dev/null 2>&1
t0=$(date +%s%N)
set +e
timeout 60 "$B" write --out arch --data-dir dd --redis "$(url write)" --redis-password-file pw/write.password 2> daemon.err; rc=$?
set -e
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
ss_eq "write daemon refused XREADGROUP: exit 6 (permission)" 6 "$rc"
ss_check "  at once (${ms} ms, not retrying for ever)" test "$ms" -lt 10000
ss_check "  as a permission error naming XREADGROUP" grep -q "^skyspool write: permission error: .*XREADGROUP" daemon.err
ss_check "  without a retry" bash -c "! grep -q 'retrying' daemon.err"
admin acl setuser skyspool-write +xreadgroup > /dev/null

admin acl setuser skyspool-ingest -hget > /dev/null
"$B" synth --events 200 --seed 63 > ev3.jsonl
t0=$(date +%s%N)
set +e
timeout 60 "$B" ingest --source file:ev3.jsonl --redis "$(url ingest)" --redis-password-file pw/ingest.password > /dev/null 2> ingperm.err; rc=$?
set -e
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
ss_eq "ingest refused HGET: exit 6 (permission)" 6 "$rc"
ss_check "  at once (${ms} ms, not 'Redis unreachable' for 30 s)" test "$ms" -lt 10000
ss_check "  as a permission error naming HGET" grep -q "permission error: .*may not run HGET" ingperm.err
ss_check "  never called unreachable" bash -c "! grep -qi 'unreachable\|unavailable' ingperm.err"
admin acl setuser skyspool-ingest +hget > /dev/null

# --- the embedded server: one user per role, default off ---------------------------------------------
D="$SS_TMP/emb"
"$B" ingest --source file:ev2.jsonl --data-dir "$D" --json > emb.json 2> emb.err || { cat emb.err >&2; ss_fail "embedded ingest"; }
ss_check "embedded: default user off" grep -q "^user default off " "$D/redis.conf"
"$B" write --once --all --out earch --data-dir "$D" 2> ew.err || { cat ew.err >&2; ss_fail "embedded write --once"; }
ss_check "embedded write --once as skyspool-write: every event" grep -q "done: $(jq .written emb.json) rows" ew.err
ss_check "embedded: no requirepass, no plain password in the config" bash -c "! grep -q requirepass '$D/redis.conf' && ! grep -qF \"\$(cat '$D/redis-ingest.password')\" '$D/redis.conf'"
ss_eq "embedded: a 0600 password per role" "600 600 600 600 600 600" "$(stat -c %a "$D"/redis-{ingest,write,status,monitor,check,admin}.password | xargs)"
redis-server "$D/redis.conf" --daemonize no > /dev/null 2>&1 &
SS_PIDS+=("$!")
eadm() { redis-cli -s "$D/redis.sock" --user skyspool-admin --pass "$(cat "$D/redis-admin.password")" --no-auth-warning "$@"; }
ss_wait_for 20 bash -c "[ \"\$(redis-cli -s '$D/redis.sock' --user skyspool-admin --pass \$(cat '$D/redis-admin.password') --no-auth-warning ping)\" = PONG ]"
# the AOF replay runs as the default user: the writer's acks (MULTI/EXEC of its script) must survive it
ss_eq "embedded: acks survive a restart (AOF replayed)" 0 "$(for t in post like repost follow block identity account; do eadm xlen skyspool:$t; done | awk '{s+=$1} END {print s}')"
ss_check "  and the replay refused nothing" bash -c "! grep -q 'CRITICAL' '$D/redis.log'"
ss_check "embedded: no connection without a user" bash -c "redis-cli -s '$D/redis.sock' xlen skyspool:post 2>&1 | grep -q NOAUTH"
ss_check "embedded: the default user cannot log in" bash -c "redis-cli -s '$D/redis.sock' --user default --pass x --no-auth-warning ping 2>&1 | grep -q WRONGPASS"
ss_check "embedded: ingest's user cannot read events" bash -c "redis-cli -s '$D/redis.sock' --user skyspool-ingest --pass \$(cat '$D/redis-ingest.password') --no-auth-warning xrange skyspool:like - + 2>&1 | grep -q NOPERM"
# a second prefix on the running (reused) server: its users get that prefix's keys
"$B" ingest --source file:ev2.jsonl --data-dir "$D" --prefix other: --json > emb2.json 2> emb2.err || { cat emb2.err >&2; ss_fail "embedded ingest, prefix other:"; }
ss_eq "embedded, prefix other:: the same events" "$(jq .written emb.json)" "$(jq .written emb2.json)"
ss_check "  after giving the users that prefix" grep -q "gave skyspool-ingest the keys of prefix other:" emb2.err
"$B" status --data-dir "$D" --prefix other: --json > emb2st.json 2>/dev/null
ss_eq "  status (as skyspool-status) sees them" "$(jq .written emb2.json)" "$(jq .total_length emb2st.json)"
eadm shutdown > /dev/null 2>&1 || true

# --- secrets -----------------------------------------------------------------------------------------
"$B" status --redis "redis://skyspool-status:$(cat pw/status.password)@$H" --json > /dev/null 2> cl.err
ss_check "a password in --redis: warned, naming --redis-password-file" grep -q "warning: .*--redis-password-file" cl.err
"$B" status --redis "$(url status)" --redis-password-file pw/status.password --json > /dev/null 2> nocl.err
ss_check "  no warning with a password file" bash -c "! grep -q warning nocl.err"
set +e
"$B" status --redis "http://alice:hunter2@$H" > /dev/null 2> bad.err; rc=$?
set -e
ss_check "an invalid URL is refused" test "$rc" -ne 0
ss_check "  and never echoed with its password" bash -c "grep -q 'not a Redis URL' bad.err && ! grep -q hunter2 bad.err"
printf 'redis-url redis://skyspool-status:%s@%s\n' "$(cat pw/status.password)" "$H" > sky.conf
chmod 644 sky.conf
set +e
"$B" status --config sky.conf --json > /dev/null 2> conf.err; rc=$?
set -e
ss_eq "a world-readable config file holding a password is refused" 2 "$rc"
ss_check "  saying chmod 640" grep -q "chmod 640" conf.err
ss_check "  without echoing the password" bash -c "! grep -qF \"\$(cat pw/status.password)\" conf.err"
chmod 640 sky.conf
ss_check "  at 0640 it is accepted" bash -c "'$B' status --config sky.conf --json > /dev/null 2>&1"
cp pw/status.password grp.password
chgrp "$(getent group nogroup >/dev/null && echo nogroup || id -gn)" grp.password
chmod 640 grp.password
ss_check "a password file at 0640 with a group is accepted" bash -c "'$B' status --redis '$(url status)' --redis-password-file grp.password --json > /dev/null"
chmod 644 grp.password
set +e
"$B" status --redis "$(url status)" --redis-password-file grp.password > /dev/null 2> grp.err; rc=$?
set -e
ss_eq "  at 0644 it is refused (permission: exit 6)" 6 "$rc"
ss_done
