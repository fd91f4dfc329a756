#!/usr/bin/env bash
# 1,000,000 synth events -> skyspool ingest -> Redis: every per-type stream length equals
# synth's own per-type count, every entry is its input line byte for byte (in order, with
# t = time_us and k = the dedup key), other collections are skipped and counted, and the
# stored cursor is the file's end. A second run resumes at that cursor and adds nothing.
source "$SKYSPOOL_SRC/tests/lib/harness.sh"
B=$SKYSPOOL_BIN
CHECK=$SKYSPOOL_BUILD/stream_check
cd "$SS_TMP"

N=1000000
"$B" synth --events $N --seed 5 --stats st.json > ev.jsonl
ss_start_redis r --stream-node-max-bytes 65536
URL=$REDIS_URL_r
cli() { redis-cli -p "$REDIS_PORT_r" "$@"; }

before=$(cli info memory | awk -F: '/^used_memory:/{print $2+0}')
"$B" ingest --source file:ev.jsonl --redis "$URL" --json > ingest.json 2> ingest.log || { cat ingest.log >&2; ss_fail "ingest exited non-zero"; }
after=$(cli info memory | awk -F: '/^used_memory:/{print $2+0}')

want() { jq -r ".total.$1" st.json; }
for t in post like repost follow block identity account; do
  ss_eq "XLEN skyspool:$t = synth count" "$(want $t)" "$(cli xlen skyspool:$t)"
done
ss_eq "other collections not stored" 0 "$(cli exists skyspool:other)"
ss_eq "other collections counted" "$(want other)" "$(jq .other_skipped ingest.json)"
ss_eq "ingest read every line" $N "$(jq .read ingest.json)"
ss_eq "nothing went to the DLQ" 0 "$(cli xlen skyspool:dlq)"
written=$(jq .written ingest.json)
ss_eq "written = lines - other" "$((N - $(want other)))" "$written"

# Byte-identical payloads, in input order, with correct t and k.
if "$CHECK" --redis "$URL" --input ev.jsonl --mode exact > check.json 2> check.err; then
  ss_pass "every stream entry equals its input line (exact, in order)"
else
  ss_fail "stream_check exact: $(cat check.json) $(head -5 check.err)"
fi
ss_eq "no missing lines" 0 "$(jq .missing check.json)"
ss_eq "no field errors (t, k)" 0 "$(jq .field_errors check.json)"

# Cursor = byte offset of the end of the file, stored for this file's identity.
size=$(stat -c %s ev.jsonl)
key=$(cli --scan --pattern 'skyspool:cursor:file:*' | head -1)
ss_check "cursor key names the file" grep -q "ev.jsonl@" <<<"$key"
ss_eq "cursor is the file size" "$size" "$(cli hget "$key" cursor)"
ss_eq "cursor name" offset "$(cli hget "$key" name)"
ss_eq "ingest state done" done "$(cli hget skyspool:ingest state)"
ss_eq "ingest hash events_total" "$written" "$(cli hget skyspool:ingest events_total)"

# Memory per buffered event (goal <= 650 B with ~530 B lines and 64 KB nodes).
per=$(( (after - before) / written ))
ss_log "used_memory per buffered event: $per bytes (avg line $((size / N)) bytes)"
ss_check "memory per event <= 650 bytes ($per)" test "$per" -le 650

# A second run resumes at the stored cursor: nothing new.
"$B" ingest --source file:ev.jsonl --redis "$URL" --json > again.json 2> again.log
ss_eq "second run reads nothing" 0 "$(jq .read again.json)"
ss_eq "XLEN like unchanged" "$(want like)" "$(cli xlen skyspool:like)"
ss_done
