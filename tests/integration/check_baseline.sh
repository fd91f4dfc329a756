#!/usr/bin/env bash
# `skyspool check baseline`, short: the JSON carries every figure (percentiles per operation
# and client count, in order), each criterion with threshold and verdict, and the versions;
# the exit status follows the verdicts; --png draws a real PNG; against --redis it leaves
# no key of its own behind.
source "$SKYSPOOL_SRC/tests/lib/harness.sh"
B=$SKYSPOOL_BIN
cd "$SS_TMP"

# --- thresholds loose enough for a loaded 2-core test machine: PASS, exit 0 ---------------------
set +e
"$B" check baseline --seconds 0.3 --clients 2 --p50-ms 1000 --p95-ms 1000 --p99-ms 1000 --min-ops 1 \
  --json b.json --png b.png > b.txt 2> b.err; rc=$?
set -e
ss_eq "loose thresholds: exit 0" 0 "$rc"
[ "$rc" = 0 ] || cat b.err >&2
ss_eq "verdict PASS" PASS "$(jq -r .verdict b.json)"
ss_eq "check name" baseline "$(jq -r .check b.json)"
ss_eq "skyspool version" "$("$B" --version | awk '{print $3}')" "$(jq -r .versions.skyspool b.json)"
ss_check "redis version" grep -q '^[0-9]' <<<"$(jq -r .versions.redis b.json)"
ss_eq "embedded by default" true "$(jq .redis.embedded b.json)"
ss_eq "inputs: clients" 2 "$(jq .inputs.clients b.json)"
ss_eq "inputs: p99 threshold" 1000 "$(jq .inputs.p99_ms_max b.json)"
for op in set_get xadd xreadgroup_xack; do
  for c in 1 2; do
    f="${op}_c${c}"
    ok=$(jq "[.figures.${f}_p50_ms.value, .figures.${f}_p95_ms.value, .figures.${f}_p99_ms.value, .figures.${f}_p99_9_ms.value, .figures.${f}_max_ms.value] as \$p | (\$p[0] > 0 and \$p[0] <= \$p[1] and \$p[1] <= \$p[2] and \$p[2] <= \$p[3] and \$p[3] <= \$p[4])" b.json)
    ss_eq "$f: 0 < p50 <= p95 <= p99 <= p99.9 <= max" true "$ok"
    ss_check "$f: ops/s > 0 and samples > 0" test "$(jq ".figures.${f}_ops_per_s.value > 0 and .figures.${f}_samples.value > 0" b.json)" = true
  done
done
ss_eq "criteria: 3 latencies x 3 operations x 2 client counts + 3 throughputs" 21 "$(jq '.criteria | length' b.json)"
ss_eq "every criterion PASS" 21 "$(jq '[.criteria[] | select(.verdict == "PASS")] | length' b.json)"
ss_eq "a criterion carries its op, threshold, unit and verdict" '["<",1000,"ms","PASS"]' "$(jq -c '.criteria[] | select(.name == "xadd_c1_p99") | [.op, .threshold, .unit, .verdict]' b.json)"
ss_eq "the measured value is the figure" "$(jq .figures.xadd_c1_p99_ms.value b.json)" "$(jq '.criteria[] | select(.name == "xadd_c1_p99") | .measured' b.json)"
ss_check "human report: one line per criterion" test "$(grep -c '^    PASS ' b.txt)" -eq 21
ss_check "throughput series recorded (6 runs)" test "$(jq '[.series | keys[] | select(endswith("_ops_per_s"))] | length' b.json)" -eq 6
ss_check "latency series over time: p50 and p99 of each run" test "$(jq '[.series | keys[] | select(test("_p(50|99)_ms$"))] | length' b.json)" -eq 12
ss_check "latency series in ms, with points, p50 <= p99 at each sample" test "$(jq '[.series | to_entries[] | select(.key | test("^xadd_c1_p(50|99)_ms$")) | .value] | (.[0].unit == "ms") and (.[0].v | length >= 1) and ([.[0].v, .[1].v] | transpose | all(.[0] <= .[1]))' b.json)" = true
png_size=$(python3 -c 'import struct,sys; d=open(sys.argv[1],"rb").read(24); assert d[:8]==b"\x89PNG\r\n\x1a\n" and d[12:16]==b"IHDR"; print("%dx%d" % struct.unpack(">II", d[16:24]))' b.png 2>/dev/null || echo none)
ss_eq "--png: a PNG of 1000x600" 1000x600 "$png_size"

# --- no threshold flags: the prototype's bars are the defaults (the verdict depends on the box) ---
set +e
"$B" check baseline --seconds 0.2 --clients 1 --json d.json > d.txt 2> d.err; rc=$?
set -e
ss_check "defaults: exit 0 or 1 (a verdict, not a usage error)" test "$rc" -le 1
ss_eq "default thresholds: p50 < 1 ms, p95 < 2 ms, p99 < 5 ms, 15,000 ops/s" '[1,2,5,15000]' \
  "$(jq -c '[.inputs.p50_ms_max, .inputs.p95_ms_max, .inputs.p99_ms_max, .inputs.min_ops_per_s]' d.json)"
ss_eq "  and the criteria use them" '[1,2,5,15000]' \
  "$(jq -c '[(.criteria[] | select(.name == "xadd_c1_p50") | .threshold), (.criteria[] | select(.name == "xadd_c1_p95") | .threshold), (.criteria[] | select(.name == "xadd_c1_p99") | .threshold), ([.criteria[] | select(.unit != "ms")][0].threshold)]' d.json)"

# --- the prototype's throughput bar set impossibly high: FAIL, exit 1, and says so -------------
set +e
"$B" check baseline --seconds 0.2 --clients 1 --p50-ms 1000 --p95-ms 1000 --p99-ms 1000 --min-ops 1e9 --json f.json > f.txt 2>&1; rc=$?
set -e
ss_eq "unreachable --min-ops: exit 1" 1 "$rc"
ss_eq "verdict FAIL" FAIL "$(jq -r .verdict f.json)"
ss_eq "the three throughput criteria fail" 3 "$(jq '[.criteria[] | select(.verdict == "FAIL" and (.name | endswith("_throughput")))] | length' f.json)"
ss_eq "only those" 3 "$(jq '[.criteria[] | select(.verdict == "FAIL")] | length' f.json)"
ss_check "the report prints FAIL lines" grep -q "FAIL  xadd_throughput" f.txt

# --- against an existing Redis: only its own prefix, deleted afterwards ----------------------------
ss_start_redis r
redis-cli -p "$REDIS_PORT_r" set someone:else:key keep >/dev/null
"$B" check baseline --redis "$REDIS_URL_r" --seconds 0.2 --clients 2 --p50-ms 1000 --p95-ms 1000 --p99-ms 1000 --min-ops 1 --json r.json > r.txt 2>&1
ss_eq "external: verdict PASS" PASS "$(jq -r .verdict r.json)"
ss_eq "external: not embedded" false "$(jq .redis.embedded r.json)"
ss_check "external: prefix is skyspool-check:<run id>:" test "$(jq -r .prefix r.json)" = "skyspool-check:$(jq -r .run_id r.json):"
ss_eq "external: none of its keys left" "" "$(redis-cli -p "$REDIS_PORT_r" --scan --pattern 'skyspool-check:*')"
ss_eq "external: other keys untouched" keep "$(redis-cli -p "$REDIS_PORT_r" get someone:else:key)"
ss_done
