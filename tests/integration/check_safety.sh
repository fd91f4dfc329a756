#!/usr/bin/env bash
# The safety rules of `skyspool check`: keys already under the check's prefix make it
# refuse and stay untouched; a check interrupted with SIGINT deletes its own keys before it
# exits; --help lists the checks; `check all` prints one summary table.
source "$SKYSPOOL_SRC/tests/lib/harness.sh"
B=$SKYSPOOL_BIN
cd "$SS_TMP"
ss_start_redis r
cli() { redis-cli -p "$REDIS_PORT_r" "$@"; }

# --- --help ------------------------------------------------------------------------------------
"$B" check --help > help.txt
for c in baseline persistence pressure capacity throughput pipeline soak all; do
  ss_check "--help lists $c" grep -q "^  $c " help.txt
done
ss_check "--help has examples" grep -q "^examples:" help.txt

# --- foreign keys under the prefix: refuse, touch nothing ----------------------------------------
cli set skyspool-check:t1:foreign mine >/dev/null
set +e
"$B" check baseline --redis "$REDIS_URL_r" --run-id t1 --seconds 0.2 > f.txt 2> f.err; rc=$?
set -e
ss_eq "foreign keys: exit 1" 1 "$rc"
ss_check "foreign keys: says it refuses" grep -q "refusing to run" f.err
ss_eq "foreign keys: the key is still there" mine "$(cli get skyspool-check:t1:foreign)"
ss_eq "foreign keys: nothing else written" 1 "$(cli --scan --pattern 'skyspool-check:t1:*' | wc -l)"
cli del skyspool-check:t1:foreign >/dev/null
set +e
"$B" check baseline --redis "$REDIS_URL_r" --run-id 'bad id' 2> bad.err; rc=$?
set -e
ss_eq "a bad run id is refused" 1 "$rc"

# --- SIGINT in the middle of a check: its keys are gone afterwards -------------------------------
"$B" check baseline --redis "$REDIS_URL_r" --seconds 30 --clients 2 --json i.json > i.txt 2> i.err &
pid=$!; SS_PIDS+=("$pid")
if ss_wait_for 30 bash -c "[ -n \"\$(redis-cli -p $REDIS_PORT_r --scan --pattern 'skyspool-check:*' | head -1)\" ]"; then
  ss_pass "the check wrote keys under its prefix"
else
  ss_fail "no keys appeared"
fi
sleep 0.5
kill -INT "$pid"
set +e
wait "$pid"; rc=$?
set -e
ss_eq "interrupted: exit 1" 1 "$rc"
ss_eq "interrupted: JSON verdict" INTERRUPTED "$(jq -r .verdict i.json)"
ss_eq "interrupted: none of its keys left" "" "$(cli --scan --pattern 'skyspool-check:*')"

# pressure too (ingester thread, big streams)
ss_start_redis p --maxmemory 16mb
"$B" check pressure --redis "$REDIS_URL_p" --duration 60s > pi.txt 2> pi.err &
pid=$!; SS_PIDS+=("$pid")
ss_wait_for 30 bash -c "[ \"\$(redis-cli -p $REDIS_PORT_p dbsize)\" -gt 5 ]" || true
sleep 1
kill -INT "$pid"
set +e
wait "$pid"; rc=$?
set -e
ss_eq "pressure interrupted: exit 1" 1 "$rc"
ss_eq "pressure interrupted: none of its keys left" "" "$(redis-cli -p "$REDIS_PORT_p" --scan --pattern 'skyspool-check:*')"

# --- check all: one summary table ------------------------------------------------------------------
set +e
"$B" check all --seconds 0.2 --clients 1 --p50-ms 1000 --p95-ms 1000 --p99-ms 1000 --min-ops 1 \
  --events 1000 --pending 10 --maxmemory 16mb --duration 1s --min-load-rate 100 --sample 200 \
  --rate 300 --connections 2 --min-rate-pct 50 --max-cv 10 --min-max-rate 100 --min-rate 10 --json all.json > all.txt 2> all.err; rc=$?
set -e
ss_eq "all: exit 0" 0 "$rc"
[ "$rc" = 0 ] || tail -n 30 all.txt all.err >&2
ss_check "all: summary table" grep -q "^summary:" all.txt
for c in baseline persistence pressure capacity throughput pipeline; do
  ss_check "all: $c in the summary" grep -Eq "^  $c +PASS" all.txt
done
ss_eq "all: JSON holds the six checks" "baseline persistence pressure capacity throughput pipeline" "$(jq -r '[.checks[].check] | join(" ")' all.json)"
ss_eq "all: overall verdict" PASS "$(jq -r .verdict all.json)"
ss_done
