#!/usr/bin/env bash
# `skyspool check pressure`, short: a noeviction Redis at 95 % of a small maxmemory makes
# the ingester pause, evicts nothing and loses nothing (PASS); an allkeys-lru Redis FAILs on
# its policy and the report says why (the prototype's finding), and leaves no keys behind.
source "$SKYSPOOL_SRC/tests/lib/harness.sh"
B=$SKYSPOOL_BIN
cd "$SS_TMP"

# --- the embedded server (noeviction by construction), 16 MB, held 2 s ----------------------------
set +e
"$B" check pressure --maxmemory 16mb --duration 2s --json q.json --png q.png > q.txt 2> q.err; rc=$?
set -e
ss_eq "noeviction: exit 0" 0 "$rc"
[ "$rc" = 0 ] || { cat q.txt q.err >&2; }
ss_eq "verdict PASS" PASS "$(jq -r .verdict q.json)"
ss_eq "inputs: policy" noeviction "$(jq -r .inputs.maxmemory_policy q.json)"
ss_eq "inputs: maxmemory" 16777216 "$(jq .inputs.maxmemory_bytes q.json)"
ss_check "memory reached about 95 % (>= 90)" test "$(jq '.figures.peak_used_memory_pct.value >= 90' q.json)" = true
ss_check "the ingester paused" test "$(jq '.figures.pauses.value >= 1' q.json)" = true
ss_check "held for the duration" test "$(jq '.figures.hold_s.value >= 2' q.json)" = true
ss_eq "evicted_keys 0" 0 "$(jq .figures.evicted_keys.value q.json)"
ss_check "entries were confirmed" test "$(jq '.figures.entries_confirmed.value > 10000' q.json)" = true
ss_eq "every confirmed entry drained" "$(jq .figures.entries_confirmed.value q.json)" "$(jq .figures.entries_drained.value q.json)"
ss_eq "nothing lost" 0 "$(jq .figures.entries_lost.value q.json)"
ss_eq "five criteria, all PASS" 5 "$(jq '[.criteria[] | select(.verdict == "PASS")] | length' q.json)"
ss_check "memory series recorded" test "$(jq '.series.used_memory_pct.v | length' q.json)" -gt 5
ss_eq "--png: a PNG of 1000x600" 1000x600 "$(python3 -c 'import struct,sys; d=open(sys.argv[1],"rb").read(24); assert d[:8]==b"\x89PNG\r\n\x1a\n" and d[12:16]==b"IHDR"; print("%dx%d" % struct.unpack(">II", d[16:24]))' q.png 2>/dev/null || echo none)"

# --- an evicting Redis: FAIL, and why ------------------------------------------------------------
ss_start_redis lru --maxmemory 16mb --maxmemory-policy allkeys-lru
set +e
"$B" check pressure --redis "$REDIS_URL_lru" --duration 1s --json l.json > l.txt 2> l.err; rc=$?
set -e
ss_eq "allkeys-lru: exit 1" 1 "$rc"
ss_eq "allkeys-lru: verdict FAIL" FAIL "$(jq -r .verdict l.json)"
ss_eq "allkeys-lru: the policy criterion fails" FAIL "$(jq -r '.criteria[] | select(.name == "maxmemory_policy_noeviction") | .verdict' l.json)"
ss_check "allkeys-lru: why names the fix" grep -q "Set maxmemory-policy noeviction" <<<"$(jq -r '.criteria[] | select(.name == "maxmemory_policy_noeviction") | .why' l.json)"
ss_check "allkeys-lru: the human report says why" grep -q "deletes whole keys\|evicted" l.txt
ss_eq "allkeys-lru: none of its keys left" "" "$(redis-cli -p "$REDIS_PORT_lru" --scan --pattern 'skyspool-check:*')"

# --- a Redis holding other data is not squeezed -----------------------------------------------------
redis-cli -p "$REDIS_PORT_lru" set someone:else keep >/dev/null
set +e
"$B" check pressure --redis "$REDIS_URL_lru" --duration 1s > o.txt 2> o.err; rc=$?
set -e
ss_eq "other keys present: refused (exit 1)" 1 "$rc"
ss_check "and says why" grep -q "refusing to fill" o.err
ss_eq "other key untouched" keep "$(redis-cli -p "$REDIS_PORT_lru" get someone:else)"
ss_done
