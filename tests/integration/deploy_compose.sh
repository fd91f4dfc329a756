#!/usr/bin/env bash
# deploy/compose: the Docker Compose stack (Redis, skyspool from the Dockerfile, the Redis
# exporter, Prometheus, Alertmanager, Grafana with provisioning) is a valid compose file
# (`docker-compose config -q` needs no Docker engine), every file it mounts exists, and the
# Grafana dashboards import anywhere: no unresolved ${DS_...} inputs, every panel on the
# `ds` datasource variable.
source "$SKYSPOOL_SRC/tests/lib/harness.sh"
C=$SKYSPOOL_SRC/deploy/compose
command -v docker-compose >/dev/null 2>&1 || { ss_fail "docker-compose is missing (scripts/install-deps installs it)"; ss_done; exit 1; }
set +e
docker-compose -f "$C/docker-compose.yml" config -q > "$SS_TMP/config.err" 2>&1; rc=$?
set -e
ss_eq "docker-compose config -q" 0 "$rc"
[ "$rc" = 0 ] || cat "$SS_TMP/config.err" >&2
docker-compose -f "$C/docker-compose.yml" config > "$SS_TMP/config.yml" 2>/dev/null
for s in redis skyspool redis-exporter prometheus alertmanager grafana; do
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
ss_check "the datasource provisioning names Prometheus" grep -q 'url: http://prometheus:9090' "$C/grafana/provisioning/datasources/prometheus.yml"
ss_done
