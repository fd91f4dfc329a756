#!/usr/bin/env bash
# `skyspool check persistence`, short: events through the real ingester, a consumer group
# with pending entries, BGREWRITEAOF and a restart (embedded; external with --restart-cmd),
# every entry, group and PEL verified from the JSON; --crash kill -9s the embedded server
# and reports what was lost; a restart that loses the data FAILs; usage errors exit 2.
source "$SKYSPOOL_SRC/tests/lib/harness.sh"
B=$SKYSPOOL_BIN
cd "$SS_TMP"

# --- clean restart of the embedded server ------------------------------------------------------
"$B" check persistence --events 3000 --pending 60 --json p.json --png p.png > p.txt 2> p.err || { ss_fail "persistence exit $?"; cat p.err >&2; }
ss_eq "verdict PASS" PASS "$(jq -r .verdict p.json)"
ss_eq "inputs: events" 3000 "$(jq .inputs.events p.json)"
ss_eq "inputs: mode" restart "$(jq -r .inputs.mode p.json)"
ss_eq "the ingester read every event" 3000 "$(jq .figures.load_events_read.value p.json)"
w=$(jq .figures.load_entries_written.value p.json)
ss_eq "read = written + DLQ + other skipped" 3000 "$(jq '.figures.load_entries_written.value + .figures.load_dlq_entries.value + .figures.load_other_skipped.value' p.json)"
ss_eq "entries before the restart = entries confirmed" "$w" "$(jq .figures.entries_before.value p.json)"
ss_eq "every entry recovered" "$w" "$(jq .figures.entries_recovered.value p.json)"
ss_eq "recovered 100 %" 100 "$(jq .figures.entries_recovered_pct.value p.json)"
ss_check "a PEL existed (about --pending entries)" test "$(jq '.figures.pel_before.value >= 60' p.json)" = true
ss_eq "PEL came back whole" "$(jq .figures.pel_before.value p.json)" "$(jq .figures.pel_after.value p.json)"
ss_check "groups on every stream with entries" test "$(jq '.figures.groups_before.value >= 5' p.json)" = true
ss_eq "every group came back" "$(jq .figures.groups_before.value p.json)" "$(jq .figures.groups_recovered.value p.json)"
ss_check "rewrite and restart times measured" test "$(jq '.figures.bgrewriteaof_ms.value > 0 and .figures.restart_ms.value > 0 and .figures.start_ms.value > 0' p.json)" = true
ss_eq "every criterion PASS" "$(jq '.criteria | length' p.json)" "$(jq '[.criteria[] | select(.verdict == "PASS")] | length' p.json)"
png_size=$(python3 -c 'import struct,sys; d=open(sys.argv[1],"rb").read(24); assert d[:8]==b"\x89PNG\r\n\x1a\n" and d[12:16]==b"IHDR"; print("%dx%d" % struct.unpack(">II", d[16:24]))' p.png 2>/dev/null || echo none)
ss_eq "--png: a PNG of 1000x600 (the load's rate)" 1000x600 "$png_size"
ss_check "the load's rate series has points" test "$(jq '.series.load_entries_per_s.v | length >= 2' p.json)" = true
ss_check "criteria include the PEL" test "$(jq '[.criteria[] | select(.name == "pel_streams_mismatched")] | length' p.json)" = 1

# --- --crash: kill -9, then what survived --------------------------------------------------------
"$B" check persistence --events 2000 --pending 20 --crash --tail-seconds 1 --json c.json > c.txt 2> c.err || { ss_fail "crash exit $?"; cat c.err >&2; }
ss_eq "crash: verdict PASS" PASS "$(jq -r .verdict c.json)"
ss_eq "crash: mode" crash "$(jq -r .inputs.mode c.json)"
ss_check "crash: writes were going on at the kill" test "$(jq '.figures.tail_acked.value > 0' c.json)" = true
ss_eq "crash: acked = survived + lost" "$(jq .figures.tail_acked.value c.json)" "$(jq '.figures.tail_survived.value + .figures.tail_lost.value' c.json)"
ss_eq "crash: loaded entries all recovered" 100 "$(jq .figures.entries_recovered_pct.value c.json)"
ss_check "crash: the report says what was lost" grep -q "kill -9 lost" c.txt

# --- external Redis restarted by --restart-cmd ----------------------------------------------------
ss_start_redis x
P=$REDIS_PORT_x D=$REDIS_DIR_x
cat > restart.sh <<SH
redis-cli -p $P shutdown >/dev/null 2>&1
while redis-cli -p $P ping >/dev/null 2>&1; do sleep 0.05; done
redis-server --port $P --bind 127.0.0.1 --dir $D --save '' --appendonly yes --appendfsync everysec \
  --maxmemory-policy noeviction --daemonize yes --pidfile $D/restarted.pid --logfile $D/redis2.log
SH
"$B" check persistence --redis "$REDIS_URL_x" --restart-cmd "bash $SS_TMP/restart.sh" --events 2000 --pending 20 --json x.json > x.txt 2> x.err || { ss_fail "external exit $?"; cat x.err >&2; }
[ -f "$D/restarted.pid" ] && SS_PIDS+=("$(cat "$D/restarted.pid")")
ss_eq "external: verdict PASS" PASS "$(jq -r .verdict x.json)"
ss_eq "external: every entry recovered" 100 "$(jq .figures.entries_recovered_pct.value x.json)"
ss_check "external: it really restarted" test -f "$D/restarted.pid"
ss_eq "external: none of its keys left" "" "$(redis-cli -p "$P" --scan --pattern 'skyspool-check:*')"

# --- a restart that loses the data (an operator restoring an empty AOF dir): FAIL, exit 1 --------
ss_start_redis z
PZ=$REDIS_PORT_z DZ=$REDIS_DIR_z
cat > restart_z.sh <<SH
redis-cli -p $PZ shutdown nosave >/dev/null 2>&1
while redis-cli -p $PZ ping >/dev/null 2>&1; do sleep 0.05; done
rm -rf $DZ/appendonlydir
redis-server --port $PZ --bind 127.0.0.1 --dir $DZ --save '' --appendonly yes --appendfsync everysec \
  --maxmemory-policy noeviction --daemonize yes --pidfile $DZ/restarted.pid --logfile $DZ/redis2.log
SH
set +e
"$B" check persistence --redis "$REDIS_URL_z" --restart-cmd "bash $SS_TMP/restart_z.sh" --events 2000 --pending 20 --json z.json > z.txt 2> z.err; rcz=$?
set -e
[ -f "$DZ/restarted.pid" ] && SS_PIDS+=("$(cat "$DZ/restarted.pid")")
ss_eq "data lost at the restart: exit 1" 1 "$rcz"
ss_eq "data lost: verdict FAIL" FAIL "$(jq -r .verdict z.json)"
ss_eq "data lost: nothing recovered, measured" 0 "$(jq .figures.entries_recovered_pct.value z.json)"
ss_eq "data lost: the recovery, group and PEL criteria FAIL" "FAIL FAIL FAIL" \
  "$(jq -r '[.criteria[] | select(.name == "entries_recovered_pct" or .name == "groups_recovered" or .name == "pel_streams_mismatched") | .verdict] | join(" ")' z.json)"
ss_check "data lost: the text report says what to check" grep -q "appendonly yes" z.txt

# --- usage errors ---------------------------------------------------------------------------------
set +e
"$B" check persistence --redis "$REDIS_URL_x" 2> u1.err; rc1=$?
"$B" check persistence --redis "$REDIS_URL_x" --crash --restart-cmd true 2> u2.err; rc2=$?
"$B" check nosuch 2> u3.err; rc3=$?
set -e
ss_eq "external without --restart-cmd: exit 2" 2 "$rc1"
ss_check "and says what to add" grep -q -- "--restart-cmd" u1.err
ss_eq "--crash with --redis: exit 2" 2 "$rc2"
ss_eq "unknown check: exit 2" 2 "$rc3"
ss_done
