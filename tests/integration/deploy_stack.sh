#!/usr/bin/env bash
# deploy/stack up|status|down: the whole monitored pipeline (redis-server, skyspool run,
# redis_exporter, Prometheus, Alertmanager) from Debian packages on free loopback ports;
# Prometheus scrapes skyspool and the exporter and knows the Alertmanager; `down` stops
# every process by its PID (and only those), keeping the data.
source "$SKYSPOOL_SRC/tests/lib/harness.sh"
S=$SKYSPOOL_SRC/deploy/stack
D=$SS_TMP/stack
trap 'SKYSPOOL_BIN=$SKYSPOOL_BIN "$S" down "$D" >/dev/null 2>&1 || true; ss_cleanup' EXIT
export SKYSPOOL_BIN
set +e
"$S" up "$D" --source "synth:events=200000,seed=3,rate=100,pace=500" --scrape-interval 1s > "$SS_TMP/up.out" 2>&1; rc=$?
set -e
ss_eq "stack up exits 0" 0 "$rc"
[ "$rc" = 0 ] || { cat "$SS_TMP/up.out" "$D"/*.log >&2 || true; ss_done; exit 1; }
"$S" status "$D" --json > "$SS_TMP/st.json"
ss_eq "status: every component up" true "$(jq .ok "$SS_TMP/st.json")"
ss_eq "status: five components" 5 "$(jq '.components | length' "$SS_TMP/st.json")"
. "$D/stack.env"
for u in "$PROMETHEUS_URL" "$ALERTMANAGER_URL" "$SKYSPOOL_METRICS" "$EXPORTER_METRICS"; do
  ss_check "loopback only: $u" bash -c "[[ '$u' == http://127.0.0.1:* ]]"
done
up_of() { curl -sf --get --data-urlencode "query=up{job=\"$1\"}" "$PROMETHEUS_URL/api/v1/query" | jq -r '.data.result[0].value[1] // empty'; }
export -f up_of; export PROMETHEUS_URL
ss_check "prometheus scrapes skyspool" ss_wait_for 30 bash -c '[ "$(up_of skyspool)" = 1 ]'
ss_check "prometheus scrapes the redis exporter" ss_wait_for 30 bash -c '[ "$(up_of redis)" = 1 ]'
ss_check "prometheus knows the alertmanager" bash -c "curl -sf '$PROMETHEUS_URL/api/v1/alertmanagers' | grep -q '${ALERTMANAGER_URL#http://}'"
ss_check "the shipped rules are loaded" bash -c "curl -sf '$PROMETHEUS_URL/api/v1/rules' | jq -e '[.data.groups[].rules[]] | length > 5' >/dev/null"
ss_check "the exporter sees the skyspool streams" ss_wait_for 30 bash -c "curl -sf '$EXPORTER_METRICS' | grep -q 'redis_stream_length{.*skyspool:'"
pids=$(jq -r '.components[].pid' "$SS_TMP/st.json")
set +e
"$S" up "$D" > "$SS_TMP/up2.out" 2>&1; rc=$?
set -e
ss_eq "a second up on a running stack is refused" 1 "$rc"
"$S" down "$D" > "$SS_TMP/down.out" 2>&1
left=0; for p in $pids; do kill -0 "$p" 2>/dev/null && left=$((left + 1)); done
ss_eq "down stops every process it started" 0 "$left"
set +e
"$S" status "$D" > /dev/null 2>&1; rc=$?
"$S" frobnicate > /dev/null 2>&1; rc2=$?
set -e
ss_eq "status after down exits 1" 1 "$rc"
ss_eq "an unknown command is a usage error" 2 "$rc2"
ss_check "the data stays: the archive marker" test -f "$D/archive/_skyspool_archive.json"
ss_done
