#!/usr/bin/env bash
# `skyspool check capacity` and `check throughput`, short: events through the real ingester,
# figures and verdicts asserted from the JSON (bytes per event from the memory delta, hours
# derived from it, a sample read back byte for byte; per-phase rates, CV and probe latency),
# a buffer too small FAILs capacity with exit 1, PNGs are 1000x600, no key is left behind.
source "$SKYSPOOL_SRC/tests/lib/harness.sh"
B=$SKYSPOOL_BIN
cd "$SS_TMP"
png_size() { python3 -c 'import struct,sys; d=open(sys.argv[1],"rb").read(24); assert d[:8]==b"\x89PNG\r\n\x1a\n"; print("%dx%d" % struct.unpack(">II", d[16:24]))' "$1" 2>&1; }

# --- capacity ---------------------------------------------------------------------------------------
"$B" check capacity --events 20000 --sample 1000 --min-load-rate 500 --json c.json --png c.png > c.txt 2> c.err ||
  { ss_fail "capacity exit $?"; cat c.txt c.err >&2; }
fig() { jq ".figures.$1.value" "$2"; }
ss_eq "capacity: verdict PASS" PASS "$(jq -r .verdict c.json)"
ss_eq "capacity: inputs: events" 20000 "$(jq .inputs.events c.json)"
ss_eq "capacity: every event read" 20000 "$(fig load_events_read c.json)"
ss_eq "capacity: read = written + DLQ + other skipped" 20000 "$(jq '.figures.load_entries_written.value + .figures.load_dlq_entries.value + .figures.load_other_skipped.value' c.json)"
ss_check "capacity: other collections skipped (~1.9 %)" test "$(jq '.figures.load_other_skipped.value > 200 and .figures.load_other_skipped.value < 600' c.json)" = true
ss_check "capacity: bytes per event = memory delta / entries" test "$(jq '((.figures.used_memory_after_bytes.value - .figures.used_memory_before_bytes.value) / (.figures.load_entries_written.value + .figures.load_dlq_entries.value) - .figures.bytes_per_event.value) | fabs < 0.01' c.json)" = true
ss_check "capacity: an entry costs more than its event bytes, less than 3x" test "$(jq '.figures.bytes_per_event.value > .figures.event_bytes_per_event.value and .figures.bytes_per_event.value < 3 * .figures.event_bytes_per_event.value' c.json)" = true
ss_check "capacity: hours at 1000/s = 0.8 x maxmemory / bytes per event / 3.6e6" test "$(jq '(0.8 * .inputs.maxmemory_bytes / .figures.bytes_per_event.value / 1000 / 3600 - .figures.buffer_hours_at_1000_per_s.value) | fabs < 0.001' c.json)" = true
ss_check "capacity: hours at 2000/s are half of those at 1000/s" test "$(jq '(.figures.buffer_hours_at_1000_per_s.value / 2 - .figures.buffer_hours_at_2000_per_s.value) | fabs < 0.001' c.json)" = true
ss_eq "capacity: 1000 entries read back" 1000 "$(fig sample_entries_checked c.json)"
ss_eq "capacity: none differs from its input line" 0 "$(fig sample_mismatched c.json)"
ss_check "capacity: memory sampled during the load" test "$(jq '.series.used_memory_pct.v | length >= 2' c.json)" = true
ss_eq "capacity: every criterion PASS" "$(jq '.criteria | length' c.json)" "$(jq '[.criteria[] | select(.verdict == "PASS")] | length' c.json)"
ss_eq "capacity: PNG of 1000x600" 1000x600 "$(png_size c.png)"

# a buffer that cannot hold the events: the ingester pauses at its high watermark and capacity FAILs
set +e
"$B" check capacity --events 40000 --maxmemory 12mb --sample 100 --load-timeout 2s --json f.json > f.txt 2> f.err; rcf=$?
set -e
ss_eq "capacity, 12 MB for 40000 events: exit 1" 1 "$rcf"
ss_eq "capacity, 12 MB: verdict FAIL" FAIL "$(jq -r .verdict f.json)"
ss_check "capacity, 12 MB: not every event loaded" test "$(jq '.criteria[] | select(.name == "all_events_loaded") | .verdict == "FAIL" and .measured < 40000' f.json)" = true
ss_check "capacity, 12 MB: the ingester paused" test "$(jq '.figures.load_pauses.value >= 1' f.json)" = true
ss_check "capacity, 12 MB: the sample still matches" test "$(jq '.figures.sample_mismatched.value == 0 and .figures.sample_entries_checked.value >= 100' f.json)" = true

# --- throughput ---------------------------------------------------------------------------------------
# thresholds are loosened for a sanitized build on a shared machine; the figures are still asserted
"$B" check throughput --duration 2s --rate 600 --connections 3 --min-rate-pct 80 --max-cv 0.5 --p99-ms 500 \
  --min-max-rate 1000 --json t.json --png t.png > t.txt 2> t.err || { ss_fail "throughput exit $?"; cat t.txt t.err >&2; }
ss_eq "throughput: verdict PASS" PASS "$(jq -r .verdict t.json)"
for ph in rate_c1 rate_c3 max_c1 max_c3; do
  ss_check "throughput: $ph ran about 2 s and wrote what its rate says" test "$(jq ".figures.${ph}_seconds.value >= 1.9 and .figures.${ph}_seconds.value < 6 and ((.figures.${ph}_entries_written.value / .figures.${ph}_seconds.value - .figures.${ph}_events_per_s.value) | fabs < 1)" t.json)" = true
  ss_check "throughput: $ph probe latencies ordered p50 <= p95 <= p99 <= p99.9" test "$(jq ".figures.${ph}_probe_p50_ms.value > 0 and .figures.${ph}_probe_p50_ms.value <= .figures.${ph}_probe_p95_ms.value and .figures.${ph}_probe_p95_ms.value <= .figures.${ph}_probe_p99_ms.value and .figures.${ph}_probe_p99_ms.value <= .figures.${ph}_probe_p99_9_ms.value" t.json)" = true
  ss_check "throughput: $ph per-second series" test "$(jq ".series.${ph}_events_per_s.v | length >= 2" t.json)" = true
done
ss_check "throughput: paced phases near --rate (480..720/s)" test "$(jq '[.figures.rate_c1_events_per_s.value, .figures.rate_c3_events_per_s.value] | all(. >= 480 and . <= 720)' t.json)" = true
ss_check "throughput: unpaced beats paced" test "$(jq '.figures.max_events_per_s.value > .figures.rate_c1_events_per_s.value * 1.5' t.json)" = true
ss_eq "throughput: max = the best unpaced phase" "$(jq '[.figures.max_c1_events_per_s.value, .figures.max_c3_events_per_s.value] | max' t.json)" "$(fig max_events_per_s t.json)"
ss_check "throughput: CV criterion carries its threshold" test "$(jq '.criteria[] | select(.name == "rate_c1_cv") | .threshold == 0.5 and .op == "<="' t.json)" = true
ss_eq "throughput: PNG of 1000x600" 1000x600 "$(png_size t.png)"

# an unreachable threshold: exit 1, the criterion says FAIL
set +e
"$B" check throughput --duration 1s --rate 300 --connections 1 --min-max-rate 1e8 --p99-ms 500 --max-cv 1 --json t2.json > t2.txt 2>&1; rc2=$?
set -e
ss_eq "throughput, min-max-rate 1e8: exit 1" 1 "$rc2"
ss_eq "throughput, min-max-rate 1e8: that criterion FAILs" FAIL "$(jq -r '.criteria[] | select(.name == "max_events_per_s") | .verdict' t2.json)"
ss_eq "throughput, 1 connection: two phases only" 2 "$(jq '[.figures | keys[] | select(test("_seconds$"))] | length' t2.json)"

# --- against an external Redis: only our keys, all gone afterwards --------------------------------------
ss_start_redis x
redis-cli -p "$REDIS_PORT_x" SET someone:else 1 > /dev/null
"$B" check capacity --redis "$REDIS_URL_x" --events 3000 --sample 200 --min-load-rate 100 --json x.json > x.txt 2> x.err ||
  { ss_fail "capacity external exit $?"; cat x.err >&2; }
ss_eq "external: verdict PASS" PASS "$(jq -r .verdict x.json)"
ss_eq "external: none of the check's keys left" "" "$(redis-cli -p "$REDIS_PORT_x" --scan --pattern 'skyspool-check:*')"
ss_eq "external: the other key untouched" 1 "$(redis-cli -p "$REDIS_PORT_x" GET someone:else)"
ss_done
