#!/usr/bin/env bash
# The monitoring stack, for real: promtool and amtool validate the shipped rules and
# Alertmanager config; then `deploy/stack up` runs the real redis-server (ACL users, default
# off), skyspool ingest and write, prometheus-redis-exporter, Prometheus and Alertmanager on
# loopback ports (`deploy/stack down` stops them by PID); a watched Redis is filled past 80% of
# its maxmemory, and the
# alert must reach a local stand-in for Slack's webhook as a "danger" message, then resolve
# as "good" once memory is freed. A Redis with `appendonly no` and one with `allkeys-lru`, each
# behind its own exporter, must reach Slack as SkyspoolRedisAofOff and SkyspoolRedisEvictionPolicy
# (and the correctly configured ones must not). Inhibition stays on one instance: alerts posted
# to Alertmanager for two hosts, Redis down on one, mute only that host's. Every alert links an
# existing docs/RUNBOOK.md section. Every panel query of every Grafana dashboard (skyspool and
# Redis) must parse in Prometheus and return series from the live pipeline.
source "$SKYSPOOL_SRC/tests/lib/harness.sh"
MON=$SKYSPOOL_SRC/deploy/monitoring

# 1. Static checks of what we ship.
ss_check "promtool check rules" promtool check rules "$MON/skyspool.rules.yml"
ss_check "promtool test rules (every alert fires, and only when it should)" \
  bash -c "cd '$MON' && promtool test rules skyspool.rules.test.yml"
ss_check "amtool check-config" amtool check-config "$MON/alertmanager.yml"
ss_check "critical alerts route to slack-critical" \
  amtool config routes test --config.file="$MON/alertmanager.yml" --verify.receivers=slack-critical severity=critical
ss_check "warnings route to slack-warnings" \
  amtool config routes test --config.file="$MON/alertmanager.yml" --verify.receivers=slack-warnings severity=warning
missing=$(grep -o 'RUNBOOK.md#[a-z]*' "$MON/skyspool.rules.yml" | cut -d'#' -f2 | sort -u |
  comm -23 - <(sed -n 's/^## //p' "$SKYSPOOL_SRC/docs/RUNBOOK.md" | tr 'A-Z' 'a-z' | sort -u) | tr '\n' ' ')
ss_eq "every runbook_url names a docs/RUNBOOK.md section" "" "$missing"
ss_eq "every alert has a runbook_url" "$(grep -c -- '- alert:' "$MON/skyspool.rules.yml")" \
  "$(grep -c 'runbook_url: "https://github.com/skyspool/skyspool/blob/main/docs/RUNBOOK.md#' "$MON/skyspool.rules.yml")"
DASHBOARDS=("$MON"/grafana/*.json)
ss_check "the Redis dashboard ships beside skyspool's" test -f "$MON/grafana/redis-dashboard.json"
for d in "${DASHBOARDS[@]}"; do
  ss_check "Grafana dashboard $(basename "$d") is valid JSON" node -e "JSON.parse(require('fs').readFileSync('$d','utf8'))"
done

# 2. The live path: Redis -> exporter -> Prometheus -> Alertmanager -> (fake) Slack, started by
# `deploy/stack up` (skyspool ingest + write on the stack's own ACL Redis) and stopped by
# `deploy/stack down`, also when the test fails. The stack's exporters also watch three Redis
# servers of the test's own: one filled past 80% of its maxmemory, and two misconfigured ones.
node "$SKYSPOOL_SRC/tests/js/fake-slack.mjs" "$SS_TMP/slack.port" "$SS_TMP/slack.jsonl" &
SS_PIDS+=($!)
ss_wait_for 10 test -s "$SS_TMP/slack.port" || { ss_fail "fake slack did not start"; ss_done; exit 1; }
SLACK_PORT=$(cat "$SS_TMP/slack.port")
ss_start_redis mon --maxmemory 4mb
# Two misconfigured Redis servers that lose data on a restart or under memory pressure.
ss_start_redis noaof --appendonly no --maxmemory 64mb
ss_start_redis lru --maxmemory 64mb --maxmemory-policy allkeys-lru

# skyspool's ingest reads a FIFO so that it stays up while Prometheus scrapes it; synth plants
# bad lines so the DLQ series exist. Only this writer holds the FIFO open (an fd of the test
# shell would leak into every daemon started later and the FIFO would never reach EOF);
# touching feed.close ends the source.
"$SKYSPOOL_BIN" synth --events 20000 --seed 5 --rate 100 --bad-frac 0.01 >"$SS_TMP/ev.jsonl"
mkfifo "$SS_TMP/feed"
{ cat "$SS_TMP/ev.jsonl"; until [ -e "$SS_TMP/feed.close" ]; do sleep 0.2; done; } >"$SS_TMP/feed" &
SS_PIDS+=($!)
STACK=$SKYSPOOL_SRC/deploy/stack
SD=$SS_TMP/stack
export SKYSPOOL_BIN
trap '"$STACK" down "$SD" >/dev/null 2>&1 || true; ss_cleanup' EXIT
set +e
"$STACK" up "$SD" --source "file:$SS_TMP/feed" --slack-url "http://127.0.0.1:$SLACK_PORT/hook" --fast-alerts \
  --scrape-interval 1s --maxmemory 256mb --watch-redis "$REDIS_URL_mon" --watch-redis "$REDIS_URL_noaof" \
  --watch-redis "$REDIS_URL_lru" >"$SS_TMP/up.out" 2>&1; rc=$?
set -e
ss_eq "deploy/stack up" 0 "$rc"
[ "$rc" = 0 ] || { cat "$SS_TMP/up.out" "$SD"/*.log >&2 || true; ss_done; exit 1; }
# shellcheck disable=SC1091
. "$SD/stack.env"
read -r EXP_PORT EXP3_PORT EXP4_PORT <<<"$(echo "$WATCH_EXPORTERS" | sed 's/127\.0\.0\.1://g')"
AM_PORT=$ALERTMANAGER_PORT
PROM=$PROMETHEUS_URL
INGEST_PID=$(cat "$SD/ingest.pid")
ss_eq "the stack watches the three test servers" 3 "$(echo "$WATCH_EXPORTERS" | wc -w)"
ss_check "prometheus ready" ss_wait_for 30 curl -sf "$PROM/-/ready"
ss_check "alertmanager registered in prometheus" ss_wait_for 60 \
  bash -c "curl -sf '$PROM/api/v1/alertmanagers' | grep -q '$AM_PORT'"
ss_check "redis exporter scraped" ss_wait_for 60 \
  bash -c "curl -sf '$PROM/api/v1/query?query=redis_up' | grep -q '\"1\"'"

# Fill Redis past 80% of maxmemory with plain strings (redis-cli reads one command a line;
# once memory is full the rest are refused with OOM, which noeviction guarantees).
fill=$(printf 'x%.0s' $(seq 1000))
for i in $(seq 4000); do printf 'SET fill:%d %s\n' "$i" "$fill"; done | redis-cli -p "$REDIS_PORT_mon" >/dev/null 2>&1 || true
used=$(redis-cli -p "$REDIS_PORT_mon" info memory | awk -F: '/^used_memory:/{print $2+0}')
ss_check "Redis filled past 80% of maxmemory ($used bytes)" test "$used" -gt $((4 * 1024 * 1024 * 8 / 10))
ss_check "SkyspoolRedisMemoryHigh reached Slack as danger" ss_wait_for 90 \
  bash -c "grep -q 'SkyspoolRedisMemoryHigh' '$SS_TMP/slack.jsonl' && grep 'SkyspoolRedisMemoryHigh' '$SS_TMP/slack.jsonl' | grep -q '\"color\":\"danger\"'"
if [ -s "$SS_TMP/slack.jsonl" ]; then
  ss_check "Slack payload has channel, username and attachment text" node -e '
    const l = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map(JSON.parse)
      .find((m) => m.attachments[0].title.includes("SkyspoolRedisMemoryHigh"));
    const a = l.attachments[0];
    if (l.channel !== "#skyspool-alerts" || l.username !== "skyspool-alertmanager" ||
        !a.title.includes("FIRING") || !a.text.includes("above 80% of maxmemory")) process.exit(1);' "$SS_TMP/slack.jsonl"
fi

# The data-losing configurations page, each for its own Redis only.
slack_has() { grep "$1" "$SS_TMP/slack.jsonl" 2>/dev/null | grep '"color":"danger"' | grep -q "$2"; }
ss_check "appendonly no reached Slack as SkyspoolRedisAofOff" ss_wait_for 90 slack_has SkyspoolRedisAofOff "127.0.0.1:$EXP3_PORT"
ss_check "allkeys-lru reached Slack as SkyspoolRedisEvictionPolicy" ss_wait_for 90 slack_has SkyspoolRedisEvictionPolicy "127.0.0.1:$EXP4_PORT"
ss_check "with the policy and the runbook in the message" bash -c \
  "grep SkyspoolRedisEvictionPolicy '$SS_TMP/slack.jsonl' | grep -q 'maxmemory-policy allkeys-lru'"
aof_q='ALERTS{alertname="SkyspoolRedisAofOff",alertstate="firing"}'
pol_q='ALERTS{alertname="SkyspoolRedisEvictionPolicy",alertstate="firing"}'
firing_on() { curl -s --get --data-urlencode "query=$1" "$PROM/api/v1/query" | jq -r '[.data.result[].metric.instance] | sort | join(" ")'; }
ss_eq "AofOff fires for the appendonly-no Redis only" "127.0.0.1:$EXP3_PORT" "$(firing_on "$aof_q")"
ss_eq "EvictionPolicy fires for the allkeys-lru Redis only" "127.0.0.1:$EXP4_PORT" "$(firing_on "$pol_q")"

# The stack's own targets (ingest, write, its Redis exporter) share one instance label, so the
# inhibition below applies to their real alerts: before, each target kept its address as
# instance, and a Redis outage never muted the stack's ingest and writer alerts.
host_instances() { curl -s --get --data-urlencode 'query=up{job="skyspool"} or up{job="redis",instance!~"127.0.0.1:.*"}' "$PROM/api/v1/query" |
  jq -r '[.data.result[].metric | .instance + "/" + .job + "/" + (.role // "")] | sort | join(" ")'; }
inst=$(hostname -s 2>/dev/null || echo skyspool)
ss_check "the stack's ingest, write and exporter targets share the instance label $inst" ss_wait_for 30 bash -c \
  "[ \"\$($(declare -f host_instances); PROM=$PROM host_instances)\" = '$inst/redis/ $inst/skyspool/ingest $inst/skyspool/write' ]"
ss_eq "watched Redis servers keep their own address" 3 "$(curl -s --get --data-urlencode 'query=up{job="redis",instance=~"127.0.0.1:.*"}' "$PROM/api/v1/query" | jq '.data.result | length')"

# Inhibition is per instance: Redis down on h1 mutes h1's ingest alert, not h2's.
AM="http://127.0.0.1:$AM_PORT"
post_alert() { curl -sf -XPOST -H 'Content-Type: application/json' "$AM/api/v2/alerts" \
  -d "[{\"labels\":{\"alertname\":\"$1\",\"instance\":\"$2\",\"severity\":\"critical\"}}]"; }
post_alert SkyspoolRedisDown h1 && post_alert SkyspoolIngestStalled h1 && post_alert SkyspoolIngestStalled h2
inhibited() { curl -s "$AM/api/v2/alerts?filter=alertname%3D%22SkyspoolIngestStalled%22" |
  jq -r --arg i "$1" '.[] | select(.labels.instance == $i) | (.status.inhibitedBy | length > 0)'; }
ss_check "Redis down on h1 inhibits h1's SkyspoolIngestStalled" ss_wait_for 20 bash -c "[ \"\$($(declare -f inhibited); AM=$AM inhibited h1)\" = true ]"
ss_eq "but not h2's" false "$(inhibited h2)"

redis-cli -p "$REDIS_PORT_mon" flushall >/dev/null
ss_check "alert resolved in Slack as good" ss_wait_for 120 \
  bash -c "grep 'SkyspoolRedisMemoryHigh' '$SS_TMP/slack.jsonl' | grep -q '\"color\":\"good\"'"

# 3. Every panel query of every Grafana dashboard parses (HTTP 400 bad_data would mean a
# syntax error). queries.txt: "dashboard<TAB>query" a line.
for d in "${DASHBOARDS[@]}"; do
  node -e '
    const d = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    const walk = (ps) => ps.flatMap((p) => [...(p.targets || []).map((t) => t.expr), ...walk(p.panels || [])]);
    const name = require("path").basename(process.argv[1]);
    for (const e of walk(d.panels)) console.log(name + "\t" + e.replace(/\$__(rate_interval|interval|range)/g, "1m").replace(/\$instance/g, ".*"));
  ' "$d"
done >"$SS_TMP/queries.txt"
nq=0; bad=0
while IFS=$'\t' read -r dash q; do
  nq=$((nq + 1))
  code=$(curl -s -o "$SS_TMP/q.json" -w '%{http_code}' --get --data-urlencode "query=$q" "$PROM/api/v1/query")
  if [ "$code" != 200 ]; then bad=$((bad + 1)); echo "bad query ($code) in $dash: $q" >&2; cat "$SS_TMP/q.json" >&2; fi
done <"$SS_TMP/queries.txt"
ss_check "dashboards have panel queries (collapsed rows included): $nq" test "$nq" -ge 30
ss_check "the skyspool dashboard has its writer panels" test "$(grep -c '^skyspool-dashboard.json' "$SS_TMP/queries.txt")" -ge 22
ss_check "the Redis dashboard has its panels" test "$(grep -c '^redis-dashboard.json' "$SS_TMP/queries.txt")" -ge 15
ss_eq "no dashboard charts XDEL (skyspool never sends it)" 0 "$(grep -ci xdel "$SS_TMP/queries.txt" || true)"
ss_eq "every dashboard query is valid PromQL" 0 "$bad"

# 4. Against the live skyspool, every panel shows data: no query names a metric that no
# process serves (an empty result is how a mistyped metric shows up).
ss_check "prometheus scrapes skyspool's writer and stream metrics" ss_wait_for 60 bash -c \
  "curl -sf --get --data-urlencode 'query=skyspool_writer_rows_total > 0 and on() skyspool_stream_length' '$PROM/api/v1/query' | grep -q '\"value\"'"
sleep 3
empty=0
while IFS=$'\t' read -r dash q; do
  # jq, not node: one process per query (50+), and node's start costs ~0.5 s under ASan load
  n=$(curl -s --get --data-urlencode "query=$q" "$PROM/api/v1/query" |
    jq -r 'if .status == "success" then (.data.result | length) else -1 end' 2>/dev/null || true)
  [[ $n =~ ^-?[0-9]+$ ]] || n=-1 # no answer or not JSON: no data
  if [ "$n" -lt 1 ]; then empty=$((empty + 1)); echo "no data in $dash for: $q" >&2; fi
done <"$SS_TMP/queries.txt"
ss_eq "every query of every dashboard returns data from the live pipeline ($nq queries)" 0 "$empty"
for m in skyspool_ingest_events_total skyspool_ingest_dlq_total skyspool_ingest_paused skyspool_stream_lag \
         skyspool_writer_rows_total skyspool_writer_failures_total skyspool_writer_watermark_lag_seconds; do
  ss_check "METRICS.md documents $m, which skyspool serves" grep -q "\`$m\`" "$SKYSPOOL_SRC/docs/METRICS.md"
done
touch "$SS_TMP/feed.close"
stopped() { ! kill -0 "$1" 2>/dev/null || [ "$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)" = Z ]; }
for _ in $(seq 600); do stopped "$INGEST_PID" && break; sleep 0.1; done
ingested=$(sed -n 's/.*ingest: done: \([0-9]*\) read, \([0-9]*\) written, \([0-9]*\) to the DLQ, \([0-9]*\) other skipped.*/\1 \2 \3 \4/p' "$SD/ingest.log")
ss_eq "skyspool ingest (as skyspool-ingest) read every line when its source ended" "$(wc -l <"$SS_TMP/ev.jsonl")" "${ingested%% *}"
ss_eq "  each one written, to the DLQ or skipped as another collection" "${ingested%% *}" "$(echo "$ingested" | awk '{print $2 + $3 + $4}')"
ss_check "  the DLQ got the planted bad lines" test "$(echo "$ingested" | awk '{print $3}')" -gt 100
"$STACK" status "$SD" --json >"$SS_TMP/st.json" || true
ss_eq "  and exited; the writer is still up" "down up" "$(jq -r '"\(.components.ingest.state) \(.components.writer.state)"' "$SS_TMP/st.json")"
# the components up, as PID:STARTTIME (a PID reused after its process ended is another process)
st_of() { sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | awk '{print $20}'; }
ids=""; for p in $(jq -r '.components[] | select(.state == "up") | .pid' "$SS_TMP/st.json"); do ids="$ids $p:$(st_of "$p")"; done
"$STACK" down "$SD" >"$SS_TMP/down.out" 2>&1
left=0; for id in $ids; do p=${id%%:*}; stopped "$p" || [ "$(st_of "$p")" != "${id#*:}" ] || left=$((left + 1)); done
ss_eq "deploy/stack down stops every process of the stack" 0 "$left"
ss_check "the writer committed as skyspool-write" bash -c "[ \"\$(sqlite3 '$SD/data/ledger.sqlite' 'select coalesce(sum(rows),0) from commits')\" -gt 0 ]"

ss_done
