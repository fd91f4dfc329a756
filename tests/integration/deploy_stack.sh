#!/usr/bin/env bash
# deploy/stack up|status|down: the whole monitored pipeline (redis-server, skyspool ingest and
# write, redis_exporter, Prometheus, Alertmanager) from Debian packages on free loopback ports;
# Prometheus scrapes skyspool and the exporter and knows the Alertmanager; `down` stops
# every process by its PID (and only those), keeping the data. Redis runs with the ACL users
# of `skyspool acl` and `default` off: each program is connected as its own user, passwords
# come from 0600 files and appear on no command line.
source "$SKYSPOOL_SRC/tests/lib/harness.sh"
S=$SKYSPOOL_SRC/deploy/stack
D=$SS_TMP/stack
trap 'SKYSPOOL_BIN=$SKYSPOOL_BIN "$S" down "$D" >/dev/null 2>&1 || true; ss_cleanup' EXIT
export SKYSPOOL_BIN
set +e
"$S" up "$D" --source "synth:events=200000,seed=3,rate=2,pace=500" --scrape-interval 1s > "$SS_TMP/up.out" 2>&1; rc=$?
set -e
ss_eq "stack up exits 0" 0 "$rc"
[ "$rc" = 0 ] || { cat "$SS_TMP/up.out" "$D"/*.log >&2 || true; ss_done; exit 1; }
"$S" status "$D" --json > "$SS_TMP/st.json"
ss_eq "status: every component up" true "$(jq .ok "$SS_TMP/st.json")"
ss_eq "status: six components" "redis ingest writer exporter prometheus alertmanager" "$(jq -r '.components | keys_unsorted | join(" ")' "$SS_TMP/st.json")"
ss_eq "status --json: the ports stack.env has" "$(grep -E '^(REDIS|INGEST|WRITER|EXPORTER|PROMETHEUS|ALERTMANAGER)_PORT=' "$D/stack.env" | cut -d= -f2 | xargs)" \
  "$(jq -r '.ports | [.redis, .ingest, .writer, .exporter, .prometheus, .alertmanager] | join(" ")' "$SS_TMP/st.json")"
. "$D/stack.env"
for u in "$PROMETHEUS_URL" "$ALERTMANAGER_URL" "$SKYSPOOL_METRICS" "$EXPORTER_METRICS"; do
  ss_check "loopback only: $u" bash -c "[[ '$u' == http://127.0.0.1:* ]]"
done
up_of() { curl -sf --get --data-urlencode "query=up{job=\"$1\"}" "$PROMETHEUS_URL/api/v1/query" | jq -r '.data.result[0].value[1] // empty'; }
export -f up_of; export PROMETHEUS_URL
nup() { curl -sf --get --data-urlencode "query=count(up{job=\"$1\"} == 1)" "$PROMETHEUS_URL/api/v1/query" | jq -r '.data.result[0].value[1] // empty'; }
export -f nup
ss_check "prometheus scrapes both skyspool processes (ingest, write)" ss_wait_for 30 bash -c '[ "$(nup skyspool)" = 2 ]'
ss_check "prometheus scrapes the redis exporter" ss_wait_for 30 bash -c '[ "$(up_of redis)" = 1 ]'
ss_check "prometheus knows the alertmanager" bash -c "curl -sf '$PROMETHEUS_URL/api/v1/alertmanagers' | grep -q '${ALERTMANAGER_URL#http://}'"
ss_check "the shipped rules are loaded" bash -c "curl -sf '$PROMETHEUS_URL/api/v1/rules' | jq -e '[.data.groups[].rules[]] | length > 5' >/dev/null"
ss_check "the exporter sees the skyspool streams" ss_wait_for 30 bash -c "curl -sf '$EXPORTER_METRICS' | grep -q 'redis_stream_length{.*skyspool:'"

# --- least privilege: default off, one user per program, passwords only in files ------------
set +e
noauth=$(redis-cli -p "$REDIS_PORT" xlen skyspool:post 2>&1)
asdef=$(redis-cli -p "$REDIS_PORT" --user default --pass '' --no-auth-warning ping 2>&1)
set -e
ss_check "no command without a user: NOAUTH ($noauth)" bash -c "[[ '$noauth' == *NOAUTH* ]]"
ss_check "AUTH default (no password) fails: $asdef" bash -c "[[ '$asdef' == *WRONGPASS* ]]"
adm() { REDISCLI_AUTH=$(cat "$REDIS_ADMIN_PASSWORD_FILE") redis-cli -p "$REDIS_PORT" --user "$REDIS_ADMIN_USER" "$@"; }
adm acl list > "$SS_TMP/acl.txt"
ss_check "ACL LIST: user default off" grep -q '^user default off ' "$SS_TMP/acl.txt"
ss_eq "ACL LIST: the skyspool roles and the admin" "skyspool-admin skyspool-check skyspool-ingest skyspool-monitor skyspool-status skyspool-write" \
  "$(awk '$2 ~ /^skyspool-/ {print $2}' "$SS_TMP/acl.txt" | sort | xargs)"
ss_check "ACL LIST: only hashes, no password" bash -c "! grep -qF \"\$(cat '$SECRETS_DIR/write.password')\" '$SS_TMP/acl.txt'"
users_connected() { adm client list | grep -o ' user=[a-z-]*' | sort -u | cut -d= -f2 | grep -v skyspool-admin | xargs; }
export -f adm users_connected; export REDIS_PORT REDIS_ADMIN_USER REDIS_ADMIN_PASSWORD_FILE
ss_check "ingest and write are connected as their roles" ss_wait_for 20 bash -c \
  '[[ "$(users_connected)" == *skyspool-ingest*skyspool-write* ]]'
ss_check "the exporter logs in as skyspool-monitor (redis_up 1 with default off)" \
  bash -c "curl -sf '$EXPORTER_METRICS' | grep -q '^redis_up 1' && tr '\\0' ' ' < /proc/$(jq .components.exporter.pid "$SS_TMP/st.json")/cmdline | grep -q -- '-redis.user skyspool-monitor'"
ss_eq "  and nobody as default" "" "$(adm client list | grep ' user=default ' || true)"
ss_eq "the secrets are 0700, their files 0600" "700 600 600 600 600 600 600 600" \
  "$(stat -c %a "$SECRETS_DIR" "$SECRETS_DIR"/{admin,ingest,write,status,monitor,check}.password "$SECRETS_DIR/exporter.json" | xargs)"
leaks=0
for p in $(jq -r '.components[].pid' "$SS_TMP/st.json"); do
  tr '\0' ' ' < "/proc/$p/cmdline" > "$SS_TMP/cmdline.$p"
  grep -qF -f <(cat "$SECRETS_DIR"/*.password) "$SS_TMP/cmdline.$p" && leaks=$((leaks + 1))
done
ss_eq "no password on any component's command line" 0 "$leaks"
ss_eq "the exporter refused nothing (ACL LOG of skyspool-monitor)" 0 "$(adm acl log | grep -c skyspool-monitor || true)"
ss_check "the writer commits as skyspool-write" ss_wait_for 60 bash -c \
  "curl -sf '$WRITER_METRICS' | awk '/^skyspool_writer_rows_total/ {s += \$2} END {exit !(s > 0)}'"

# each component that is up, as PID:STARTTIME: after down, a PID that came back is another
# process only if its start time differs (PIDs are reused fast on a busy machine)
st_of() { sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | awk '{print $20}'; }
ids=""; for p in $(jq -r '.components[] | select(.state == "up") | .pid' "$SS_TMP/st.json"); do ids="$ids $p:$(st_of "$p")"; done
set +e
"$S" up "$D" > "$SS_TMP/up2.out" 2>&1; rc=$?
set -e
ss_eq "a second up on a running stack is refused" 1 "$rc"
"$S" down "$D" > "$SS_TMP/down.out" 2>&1
# a zombie has stopped (exited, not yet reaped by its new parent)
left=0; for id in $ids; do p=${id%%:*}
  kill -0 "$p" 2>/dev/null && [ "$(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null | cut -c1)" != Z ] \
    && [ "$(st_of "$p")" = "${id#*:}" ] && left=$((left + 1)); done
ss_eq "down stops every process it started" 0 "$left"
ss_eq "  and leaves no pid or start-time records" "" "$(ls "$D"/*.pid "$D"/*.start 2>/dev/null || true)"
set +e
"$S" status "$D" > /dev/null 2>&1; rc=$?
"$S" frobnicate > /dev/null 2>&1; rc2=$?
set -e
ss_eq "status after down exits 1" 1 "$rc"
ss_eq "an unknown command is a usage error" 2 "$rc2"
ss_check "the data stays: the archive marker" test -f "$D/archive/_skyspool_archive.json"
ss_done
