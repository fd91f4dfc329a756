#!/usr/bin/env bash
# deploy/compose: the Docker Compose stack (Redis, skyspool from the Dockerfile, the Redis
# exporter, Prometheus, Alertmanager, Grafana with provisioning) is a valid compose file
# (`docker-compose config -q` needs no Docker engine), every file it mounts exists, and the
# Grafana dashboards import anywhere: no unresolved ${DS_...} inputs, every panel on the
# `ds` datasource variable. Least privilege: Redis includes the users acl-init.sh makes, every
# skyspool service and the exporter name their user and a password file, no password is in
# the compose file; acl-init.sh itself, run here without Docker against a real redis-server,
# turns `default` off and gives each role a user that works (and only with its password).
source "$SKYSPOOL_SRC/tests/lib/harness.sh"
C=$SKYSPOOL_SRC/deploy/compose
command -v docker-compose >/dev/null 2>&1 || { ss_fail "docker-compose is missing (scripts/install-deps installs it)"; ss_done; exit 1; }
set +e
docker-compose -f "$C/docker-compose.yml" config -q > "$SS_TMP/config.err" 2>&1; rc=$?
set -e
ss_eq "docker-compose config -q" 0 "$rc"
[ "$rc" = 0 ] || cat "$SS_TMP/config.err" >&2
docker-compose -f "$C/docker-compose.yml" config > "$SS_TMP/config.yml" 2>/dev/null
for s in acl-init redis skyspool-ingest skyspool-write redis-exporter prometheus alertmanager grafana; do
  ss_check "service $s" grep -q "^  $s:" "$SS_TMP/config.yml"
done
# every bind-mounted host path exists (a typo would only show on `up`)
python3 - "$SS_TMP/config.yml" > "$SS_TMP/mounts" <<'PY'
import re, sys
for line in open(sys.argv[1]):
    m = re.match(r"\s+- (/[^:]+):", line)  # short syntax, absolute after `config`
    if m: print(m.group(1))
PY
ss_check "the compose file bind-mounts files" test "$(wc -l < "$SS_TMP/mounts")" -ge 5
while IFS= read -r m; do ss_check "mounted path exists: ${m#"$SKYSPOOL_SRC"/}" test -e "$m"; done < "$SS_TMP/mounts"
ss_check "the Dockerfile builds on Debian 12" grep -q '^FROM debian:12 AS build' "$C/Dockerfile"
ss_check "the Dockerfile's build packages are the ones install-deps installs" bash -c "
  for p in \$(sed -n '/apt-get install/,/rm -rf/p' '$C/Dockerfile' | grep -o 'lib[a-z0-9.+-]*-dev'); do
    grep -q -- \"\$p\" '$SKYSPOOL_SRC/scripts/install-deps' || { echo \"not in install-deps: \$p\" >&2; exit 1; }
  done"
for d in "$SKYSPOOL_SRC"/deploy/monitoring/grafana/*.json; do
  n=$(basename "$d")
  ss_eq "$n: no unresolved \${DS_...} input" 0 "$(grep -c '\${DS_' "$d" || true)"
  ss_eq "$n: every panel and query variable uses the ds variable" 0 "$(jq '[.. | objects | select(has("targets") or .type == "query") | select((.datasource.uid // "") != "${ds}")] | length' "$d")"
  ss_eq "$n: the ds variable picks a Prometheus datasource" prometheus "$(jq -r '.templating.list[] | select(.name == "ds") | .query' "$d")"
done

# --- least privilege in the compose file ----------------------------------------------------------
cy=$SS_TMP/config.yml
ss_check "redis includes the ACL users of acl-init" grep -q -- '--include /acl/users.conf' "$cy"
ss_check "  and starts after acl-init completed" bash -c "python3 -c 'import sys,yaml; d=yaml.safe_load(open(sys.argv[1])); sys.exit(d[\"services\"][\"redis\"][\"depends_on\"][\"acl-init\"][\"condition\"] != \"service_completed_successfully\")' '$cy'"
ss_eq "ingest and write log in as their roles, each with a password file" \
  "redis://skyspool-ingest@redis:6379 /run/skyspool/ingest.password redis://skyspool-write@redis:6379 /run/skyspool/write.password" \
  "$(python3 -c 'import sys,yaml; d=yaml.safe_load(open(sys.argv[1]))["services"]; print(" ".join(d[s]["environment"][k] for s in ("skyspool-ingest","skyspool-write") for k in ("SKYSPOOL_REDIS_URL","SKYSPOOL_REDIS_PASSWORD_FILE")))' "$cy")"
ss_check "the exporter logs in as skyspool-monitor from a password file" bash -c \
  "grep -q -- '--redis.user=skyspool-monitor' '$cy' && grep -q -- '--redis.password-file=/run/exporter/exporter.json' '$cy'"
ss_eq "no password, requirepass or user:pass URL in the compose file" 0 \
  "$(grep -ciE 'requirepass|REDIS_PASSWORD[^_]|redis://[^@/ ]*:[^@/ ]*@' "$cy" || true)"
ss_check "the Prometheus of compose scrapes both skyspool services" \
  bash -c "grep -q \"targets: \\['skyspool-ingest:9464'\\]\" '$C/prometheus.yml' && grep -q \"targets: \\['skyspool-write:9464'\\]\" '$C/prometheus.yml'"
# one host: the two services and the exporter carry the same instance label, so that
# Alertmanager's inhibitions (equal: [instance]) mute the ingest and writer alerts while Redis is down
ss_eq "all three targets of compose carry instance 'skyspool'" 3 "$(grep -c "labels: {instance: 'skyspool'" "$C/prometheus.yml")"
ss_check "the two skyspool services are told apart by role" \
  bash -c "grep -q \"instance: 'skyspool', role: ingest\" '$C/prometheus.yml' && grep -q \"instance: 'skyspool', role: write\" '$C/prometheus.yml'"

# --- acl-init.sh against a real redis-server (no Docker) -------------------------------------------
mkdir -m 700 "$SS_TMP/sec" && mkdir "$SS_TMP/acl" "$SS_TMP/exp"
RP=$(ss_free_port)
PATH="$(dirname "$SKYSPOOL_BIN"):$PATH" ACL_SECRETS_DIR="$SS_TMP/sec" ACL_REDIS_DIR="$SS_TMP/acl" ACL_EXPORTER_DIR="$SS_TMP/exp" \
  ACL_OWNER="$(id -u):$(id -g)" ACL_EXPORTER_OWNER="$(id -u):$(id -g)" ACL_REDIS_ADDR="redis://127.0.0.1:$RP" \
  sh "$C/acl-init.sh" > "$SS_TMP/init.out" 2> "$SS_TMP/init.err" || { cat "$SS_TMP/init.err" >&2; ss_fail "acl-init.sh"; }
ss_eq "acl-init: a 0600 password per role and the admin, 0700 dir" "700 600 600 600 600 600 600 600" \
  "$(stat -c %a "$SS_TMP/sec" "$SS_TMP"/sec/{admin,ingest,write,status,monitor,check}.password "$SS_TMP/exp/exporter.json" | xargs)"
ss_check "acl-init: users.conf holds hashes, not passwords" bash -c "! grep -qF \"\$(cat '$SS_TMP/sec/ingest.password')\" '$SS_TMP/acl/users.conf'"
mkdir "$SS_TMP/rd"
redis-server --port "$RP" --bind 127.0.0.1 --dir "$SS_TMP/rd" --save '' --appendonly yes --include "$SS_TMP/acl/users.conf" \
  --daemonize no --logfile "$SS_TMP/rd/redis.log" &
SS_PIDS+=("$!")
ss_wait_for 10 bash -c "redis-cli -p $RP ping 2>&1 | grep -q NOAUTH" || { ss_fail "redis-server with users.conf did not start"; cat "$SS_TMP/rd/redis.log" >&2; }
adm() { REDISCLI_AUTH=$(cat "$SS_TMP/sec/admin.password") redis-cli -p "$RP" --user skyspool-admin "$@"; }
ss_check "ACL LIST: user default off" bash -c "$(declare -f adm); SS_TMP='$SS_TMP' RP=$RP adm acl list | grep -q '^user default off '"
set +e
asdef=$(redis-cli -p "$RP" --user default --pass '' --no-auth-warning ping 2>&1)
noauth=$(redis-cli -p "$RP" xlen skyspool:post 2>&1)
set -e
ss_check "AUTH default (no password) fails: $asdef" bash -c "[[ '$asdef' == *WRONGPASS* ]]"
ss_check "no command without a user: $noauth" bash -c "[[ '$noauth' == *NOAUTH* ]]"
"$SKYSPOOL_BIN" synth --events 200 --seed 9 > "$SS_TMP/ev.jsonl"
ss_check "skyspool ingest logs in as skyspool-ingest with its file" "$SKYSPOOL_BIN" ingest --source "file:$SS_TMP/ev.jsonl" \
  --redis "redis://skyspool-ingest@127.0.0.1:$RP" --redis-password-file "$SS_TMP/sec/ingest.password" --log-level error
ss_check "skyspool write --once logs in as skyspool-write with its file" "$SKYSPOOL_BIN" write --once --all --out "$SS_TMP/arch" \
  --data-dir "$SS_TMP/dd" --redis "redis://skyspool-write@127.0.0.1:$RP" --redis-password-file "$SS_TMP/sec/write.password" --log-level error
ss_check "  and wrote the archive" bash -c "ls '$SS_TMP'/arch/year=*/month=*/day=*/hour=*/type=like/*.parquet > /dev/null"
set +e
wrong=$(redis-cli -p "$RP" --user skyspool-ingest --pass "$(cat "$SS_TMP/sec/write.password")" --no-auth-warning ping 2>&1)
set -e
ss_check "a role with another role's password is refused" bash -c "[[ '$wrong' == *WRONGPASS* ]]"
EP=$(ss_free_port)
prometheus-redis-exporter -redis.addr "redis://127.0.0.1:$RP" -redis.user skyspool-monitor \
  -redis.password-file "$SS_TMP/exp/exporter.json" -web.listen-address "127.0.0.1:$EP" -check-streams 'skyspool:*' > "$SS_TMP/exporter.log" 2>&1 &
SS_PIDS+=("$!")
ss_check "the exporter, with acl-init's password file: redis_up 1" ss_wait_for 20 bash -c "curl -sf 'http://127.0.0.1:$EP/metrics' | grep -q '^redis_up 1'"
ss_check "the datasource provisioning names Prometheus" grep -q 'url: http://prometheus:9090' "$C/grafana/provisioning/datasources/prometheus.yml"
ss_done
