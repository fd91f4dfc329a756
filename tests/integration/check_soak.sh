#!/usr/bin/env bash
# `skyspool check soak`, short (about 45 s): the whole stack -- replay-server, ingest and write,
# this binary as child processes -- on the check's own embedded Redis, with one fault of each
# kind: writer and ingester kill -9, a Redis restart, a Redis kill -9 with the AOF's tail cut, a
# source disconnect, a stalled source, and (as root, --disk-faults) a full tmpfs archive disk.
# Asserts the JSON: rows out = distinct events served, and key by key (the archive read back):
# every served key exactly once, nothing lost, doubled or unexpected, every fault
# recovered, the archive verified, the buffer empty; the PNG is a 1000x600 PNG; nothing of
# the check is left behind. On --redis the same, without the two Redis faults, and only the
# check's own keys are touched. Usage errors exit 2.
source "$SKYSPOOL_SRC/tests/lib/harness.sh"
B=$SKYSPOOL_BIN
cd "$SS_TMP"
export TMPDIR=$SS_TMP

disk=() kinds=6
if [ "$(id -u)" = 0 ]; then
  disk=(--disk-faults --disk-size 64mb) kinds=7
else
  echo "skip - disk_full fault: needs root (--disk-faults mounts a tmpfs); the other six kinds run"
fi
# a fault every 5 s: the seventh starts at 35 s and has the rest of the run to recover
"$B" check soak --duration 44s --rate 300 --fault-every 5s --window 10s --grace 1s --stall 3s \
  --aof-cut 64kb "${disk[@]}" --json s.json --png s.png > s.txt 2> s.err || { ss_fail "soak exit $?"; cat s.txt s.err >&2; }
fig() { jq ".figures.$1.value" s.json; }
ss_eq "verdict PASS" PASS "$(jq -r .verdict s.json)"
ss_eq "inputs: rate" 300 "$(jq .inputs.rate s.json)"
ss_eq "inputs: duration" 44 "$(jq .inputs.duration_s s.json)"
ss_eq "input: rate x duration events" 13200 "$(fig input_events)"
ss_eq "events in = the input's events (distinct keys)" 13200 "$(fig events_in)"
ss_eq "rows out = events in" "$(fig events_in)" "$(fig rows_out)"
ss_eq "nothing lost" 0 "$(fig rows_lost)"
ss_eq "nothing duplicated" 0 "$(fig rows_duplicated)"
ss_eq "the comparison was key by key" 1 "$(fig comparison)"
ss_eq "rows read back = rows in the footers" "$(fig rows_out)" "$(fig rows_read_back)"
ss_eq "nothing unexpected" 0 "$(fig rows_unexpected)"
ss_eq "archive_read_back PASS" PASS "$(jq -r '.criteria[] | select(.name == "archive_read_back") | .verdict' s.json)"
ss_check "part files were committed during the run" test "$(jq '.figures.part_files.value >= 10' s.json)" = true
ss_eq "no footer unreadable" 0 "$(fig footer_errors)"
ss_eq "buffer empty at the end" 0 "$(jq '.figures.buffered_left.value + .figures.pending_left.value' s.json)"
ss_eq "nothing in the DLQ" 0 "$(fig dlq_entries)"
ss_eq "one fault of each kind" "$kinds" "$(fig fault_kinds_injected)"
for k in writer_kill9 ingester_kill9 redis_restart redis_kill9_aof_tail source_disconnect source_stall; do
  ss_check "$k injected and recovered" test "$(jq "[.figures | to_entries[] | select(.key | test(\"^fault_[0-9]+_${k}_recovery_s\$\")) | .value.value] | length >= 1 and all(. >= 0 and . < 30)" s.json)" = true
done
if [ "$kinds" = 7 ]; then
  ss_check "disk_full injected and recovered" test "$(jq '[.figures | to_entries[] | select(.key | test("^fault_[0-9]+_disk_full_recovery_s$")) | .value.value] | length >= 1 and all(. >= 0)' s.json)" = true
  ss_eq "no tmpfs left mounted" "" "$(grep " $SS_TMP/" /proc/mounts || true)"
fi
ss_check "the AOF lost its tail (bytes cut > 0)" test "$(jq '[.figures | to_entries[] | select(.key | test("aof_bytes_cut$")) | .value.value] | .[0] > 0' s.json)" = true
ss_eq "every fault recovered" "$(fig faults_injected)" "$(jq '.criteria[] | select(.name == "faults_recovered") | .measured' s.json)"
ss_check "the source ran at about --rate (median >= 80 %)" test "$(jq '.figures.ingest_events_per_s_median.value >= 240' s.json)" = true
ss_check "worst window lag measured and within window + grace + margin" test "$(jq '.figures.worst_window_lag_s.value > 0 and .figures.worst_window_lag_s.value <= 81' s.json)" = true
ss_check "memory and RSS sampled" test "$(jq '.figures.peak_used_memory_mb.value > 0 and .figures.writer_rss_peak_mb.value > 0 and .figures.ingester_rss_peak_mb.value > 0' s.json)" = true
ss_eq "every criterion PASS" "$(jq '.criteria | length' s.json)" "$(jq '[.criteria[] | select(.verdict == "PASS")] | length' s.json)"
ss_check "criteria have thresholds" test "$(jq '[.criteria[] | select(.threshold == null)] | length' s.json)" = 0
ss_check "versions in the JSON" test "$(jq -r '.versions.skyspool != "" and .versions.redis != ""' s.json)" = true
ss_check "the report says the comparison was key by key" grep -q "compared key by key" s.txt
ss_check "series: rate, lag and memory over time" test "$(jq '[.series.ingest_events_per_s.v, .series.window_lag_s.v, .series.redis_used_memory_mb.v] | all(length >= 32)' s.json)" = true
ss_eq "PNG of 1000x600" "1000x600" "$(python3 -c 'import struct,sys; d=open(sys.argv[1],"rb").read(24); assert d[:8]==b"\x89PNG\r\n\x1a\n"; print("%dx%d" % struct.unpack(">II", d[16:24]))' s.png 2>&1)"
ss_eq "no work dir or redis dir left" "" "$(ls -d "$SS_TMP"/skyspool-soak-* "$SS_TMP"/skyspool-check-* 2>/dev/null || true)"

# --- on a Redis of the operator's (--redis): the same verdict without the two Redis faults --------
ss_start_redis ext
redis-cli -p "$REDIS_PORT_ext" SET operator:key keep > /dev/null
"$B" check soak --redis "$REDIS_URL_ext" --duration 28s --rate 300 --fault-every 5s --window 10s --grace 1s \
  --stall 3s --json x.json > x.txt 2> x.err || { ss_fail "soak --redis exit $?"; cat x.txt x.err >&2; }
xfig() { jq ".figures.$1.value" x.json; }
ss_eq "--redis: verdict PASS" PASS "$(jq -r .verdict x.json)"
ss_eq "--redis: every served event exactly once" "0 0 0 $(xfig events_in)" \
  "$(xfig rows_lost) $(xfig rows_duplicated) $(xfig rows_unexpected) $(xfig rows_out)"
ss_eq "--redis: the four other kinds, each once at least" 4 "$(xfig fault_kinds_injected)"
ss_eq "--redis: no Redis fault injected" 0 \
  "$(jq '[.figures | keys[] | select(test("^fault_[0-9]+_redis_"))] | length' x.json)"
ss_check "--redis: a note says they were left out" jq -e '.notes | any(test("left out"))' x.json
ss_eq "--redis: the operator's key is untouched, the check's are gone" "operator:key" \
  "$(redis-cli -p "$REDIS_PORT_ext" --scan | sort | tr '\n' ' ' | sed 's/ $//')"

# --- usage errors ---------------------------------------------------------------------------------
set +e
"$B" check soak --window 7s 2> u2.err; rc2=$?
set -e
ss_eq "a window that does not divide an hour: exit 2" 2 "$rc2"
ss_done
