#!/usr/bin/env bash
# `make demo` is the README's first command: run the same script, smaller, and check that it
# ends with Parquet files whose DuckDB row total equals the ledger's (skyspool runs).
source "$SKYSPOOL_SRC/tests/lib/harness.sh"
out=$SS_TMP/demo.out
if DEMO_BIN=$SKYSPOOL_BIN DEMO_DIR=$SS_TMP/demo DEMO_EVENTS=20000 "$SKYSPOOL_SRC/scripts/demo" >"$out" 2>&1; then
  ss_pass "scripts/demo exits 0"
else
  ss_fail "scripts/demo failed"; cat "$out"
fi
ledger=$(sed -n 's/^total: \([0-9]*\) rows.*/\1/p' "$out")
duck=$(awk '$1 == "total" {print $2}' "$out")
ss_check "the ledger reports rows" test -n "$ledger"
ss_eq "DuckDB's total equals the ledger's" "$ledger" "$duck"
ss_check "DuckDB printed rows per type and hour" grep -qE '^like +20[0-9-]+ [0-9:]+ +[0-9]+' "$out"
ss_check "the private redis-server was stopped" bash -c "! pgrep -f 'redis-serve[r] unixsocket:$SS_TMP/demo/data/redis.sock' >/dev/null"
ss_done
