#!/usr/bin/env bash
# The DataWriter's full run: 1,000,000 synthetic events over 2 simulated hours -> ingest ->
# `write --once --all`. DuckDB must find, per type and hour partition, exactly the input's
# multiset; the streams must be empty with nothing pending; the ledger's rows must equal the
# files'; every file must sit in the partition of its rows. Also: `skyspool runs` output.
source "$SKYSPOOL_SRC/tests/lib/harness.sh"
source "$SKYSPOOL_SRC/tests/lib/writer.sh"
B=$SKYSPOOL_BIN
ss_start_redis r --maxmemory 3gb
U=$REDIS_URL_r
N=${WS_FULL_EVENTS:-1000000}

"$B" synth --events "$N" --seed 11 --start 2025-03-01T10:00:00Z --rate $((N / 7200)) > "$SS_TMP/in.jsonl"
"$B" ingest --source "file:$SS_TMP/in.jsonl" --redis "$U" --log-level warn
ss_log "ingested $N events"
t0=$(date +%s)
"$B" write --out "$SS_TMP/arch" --data-dir "$SS_TMP/dd" --redis "$U" --once --all --json \
  > "$SS_TMP/w.json" 2> "$SS_TMP/w.err" || { cat "$SS_TMP/w.err"; ss_fail "write --once --all failed"; }
ss_log "write took $(( $(date +%s) - t0 )) s: $(cat "$SS_TMP/w.json")"
ws_drained "full run" "$U"
ws_check "full run" "$SS_TMP/arch" "$SS_TMP/in.jsonl" "$SS_TMP/dd"
# 2 hours x 12 windows x 7 types: at least one file per (type, hour) partition
nfiles=$(find "$SS_TMP/arch" -name '*.parquet' | wc -l)
ss_check "files written ($nfiles)" test "$nfiles" -ge 14
ss_eq "no temporaries left" 0 "$(find "$SS_TMP/arch" -name '*.tmp' | wc -l)"
# the run history: every run ok, rows per run add up to the ledger total
"$B" runs --data-dir "$SS_TMP/dd" --limit 0 --json > "$SS_TMP/runs.jsonl"
ss_eq "every run ok" 0 "$(grep -v '"totals"' "$SS_TMP/runs.jsonl" | grep -vc '"status":"ok"' || true)"
sum=$(grep -v '"totals"' "$SS_TMP/runs.jsonl" | python3 -c 'import json,sys; print(sum(json.loads(l)["rows"] for l in sys.stdin))')
ss_eq "runs add up to the ledger total" "$(ws_ledger_rows "$SS_TMP/dd")" "$sum"
"$B" runs --data-dir "$SS_TMP/dd" --limit 3 > "$SS_TMP/runs.txt"
ss_check "runs table has a header and a total line" grep -q '^total: ' "$SS_TMP/runs.txt"
# a second pass finds nothing to do and writes nothing
"$B" write --out "$SS_TMP/arch" --data-dir "$SS_TMP/dd" --redis "$U" --once --all --json > "$SS_TMP/w2.json" 2>/dev/null
ss_check "second pass writes nothing" grep -q '"rows":0,' "$SS_TMP/w2.json"
# usage errors
set +e
"$B" write --redis "$U" --once >/dev/null 2>&1; rc1=$?
"$B" write --out x --all >/dev/null 2>&1; rc2=$?
"$B" write --out x --window 7m --redis "$U" >/dev/null 2>&1; rc3=$?
set -e
ss_eq "no --out: usage error" 2 "$rc1"
ss_eq "--all without --once: usage error" 2 "$rc2"
ss_eq "a window that does not divide an hour: usage error" 2 "$rc3"
ss_done
