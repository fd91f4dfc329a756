#!/usr/bin/env bash
# Bad input goes to the dead-letter stream and nowhere else: synth plants malformed lines
# (not JSON, truncated, invalid UTF-8, lone surrogates, missing fields, wrong types, lines
# over 2 MiB); the DLQ then holds exactly those lines (raw capped at 64 KiB) with the reason
# synth expects, every good line is in its stream, and ingest goes on. --keep-other keeps
# other collections in skyspool:other; stdin (file:-) works the same way.
source "$SKYSPOOL_SRC/tests/lib/harness.sh"
B=$SKYSPOOL_BIN
CHECK=$SKYSPOOL_BUILD/stream_check
cd "$SS_TMP"

"$B" synth --events 40000 --seed 9 --bad-frac 0.02 --bad-oversize --stats st.json > ev.jsonl
ss_start_redis r
URL=$REDIS_URL_r
cli() { redis-cli -p "$REDIS_PORT_r" "$@"; }

"$B" ingest --source file:ev.jsonl --redis "$URL" --json > ingest.json 2> ingest.log || { cat ingest.log >&2; ss_fail "ingest failed"; }
bad=$(jq .bad st.json)
ss_check "synth planted bad lines ($bad)" test "$bad" -gt 100
ss_eq "DLQ length = planted bad lines" "$bad" "$(cli xlen skyspool:dlq)"
ss_eq "ingest counted them" "$bad" "$(jq .dlq ingest.json)"
ss_eq "ingest hash dlq_total" "$bad" "$(cli hget skyspool:ingest dlq_total)"

# Per reason: the DLQ's reasons agree with what synth says each planted line should get.
cli --raw xrange skyspool:dlq - + | awk 'prev=="reason"{print} {prev=$0}' | sort | uniq -c | awk '{print $2, $1}' > reasons.txt
for r in not_json bad_utf8 missing_field wrong_type too_large; do
  want=$(jq ".bad_reasons.$r" st.json)
  got=$(awk -v r=$r '$1==r{print $2}' reasons.txt); got=${got:-0}
  ss_eq "DLQ reason $r" "$want" "$got"
done
ss_eq "no other reasons in the DLQ" "$(jq '[.bad_reasons[]] | add' st.json)" "$(awk '{s+=$2} END{print s+0}' reasons.txt)"
ss_check "oversize lines were planted" test "$(jq .bad_reasons.too_large st.json)" -gt 0
maxraw=$(cli --raw xrange skyspool:dlq - + | awk 'prev=="raw"{ if (length($0) > m) m = length($0) } {prev=$0} END{print m+0}')
ss_check "DLQ raw capped at 64 KiB ($maxraw)" test "$maxraw" -le 65536
ss_eq "DLQ entries carry the source id" "$bad" "$(cli --raw xrange skyspool:dlq - + | awk 'prev=="source" && /ev.jsonl@/{n++} {prev=$0} END{print n+0}')"

# Exactly: each bad line (capped) in the DLQ with the decoder's reason, each good line in its stream.
if "$CHECK" --redis "$URL" --input ev.jsonl --mode exact > check.json 2> check.err; then
  ss_pass "DLQ holds each bad line and nothing else; streams hold the rest"
else
  ss_fail "stream_check: $(cat check.json) $(head -5 check.err)"
fi
ss_eq "dlq expected = found" "$(jq .dlq_expected check.json)" "$(jq .dlq_found check.json)"
for t in post like follow; do
  ss_eq "XLEN $t = synth count" "$(jq .total.$t st.json)" "$(cli xlen skyspool:$t)"
done

# --keep-other, from stdin, under another prefix.
"$B" synth --events 20000 --seed 4 --stats st2.json > ev2.jsonl
"$B" ingest --source file:- --redis "$URL" --prefix k: --keep-other --json < ev2.jsonl > ingest2.json 2> ingest2.log || { cat ingest2.log >&2; ss_fail "ingest from stdin failed"; }
ss_eq "keep-other: other stream holds the other collections" "$(jq .total.other st2.json)" "$(cli xlen k:other)"
ss_eq "keep-other: nothing skipped" 0 "$(jq .other_skipped ingest2.json)"
ss_eq "stdin: like count" "$(jq .total.like st2.json)" "$(cli xlen k:like)"
if "$CHECK" --redis "$URL" --input ev2.jsonl --prefix k: --keep-other --mode exact > check2.json 2> check2.err; then
  ss_pass "stdin + keep-other entries are exact"
else
  ss_fail "stream_check keep-other: $(cat check2.json) $(head -5 check2.err)"
fi
ss_eq "stdin cursor named" offset "$(cli hget 'k:cursor:file:-' name)"

# Bad flags exit 2 and say what to fix.
set +e
"$B" ingest --redis "$URL" 2> e1.txt; rc1=$?
"$B" ingest --source nosuch:x --redis "$URL" 2> e2.txt; rc2=$?
"$B" ingest --source file:ev.jsonl --redis "http://x" 2> e3.txt; rc3=$?
"$B" ingest --source file:ev.jsonl --batch 0 2> e4.txt; rc4=$?
set -e
ss_eq "missing --source exits 2" 2 "$rc1"
ss_check "missing --source says so" grep -q -- "--source is required" e1.txt
ss_eq "unknown source exits 2" 2 "$rc2"
ss_check "bad URL exits non-zero with a message" bash -c "[ $rc3 -ne 0 ] && grep -q 'Redis URL' e3.txt"
ss_eq "bad --batch exits 2" 2 "$rc4"
ss_done
