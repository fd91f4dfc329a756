#!/usr/bin/env bash
# /healthz sees the archive's filesystem refusing the writer (issue 13). A `write` daemon whose
# partition directory cannot be made fails every attempt and retries; its process and Redis are
# fine, so before this /healthz said "ok" until health-commit-stall (10 min). Now the last
# archive I/O error (errno class, message, since when) is a 503 reason and a metric while it
# persists, and the next successful commit clears it. Cases, each on the same daemon, with
# windows of a later month so each needs a new partition directory:
#   ENOTDIR  a file where the year directory must go (any user);
#   EACCES   the year directory chmod 0555 (only without root: root is not refused; skipped);
#   ENOSPC   a full 4 MB tmpfs under the archive (only with root, to mount it; skipped);
#   EDQUOT   (a second writer) the part file's rename refused by the faultfs shim, in an archive
#            whose path holds ENOSPC's strerror text: the class is the errno carried from the
#            finishing thread, not the words of the message (issue 14).
# Each time: 200 before, 503 naming the class and the path, the per-class counter counts,
# nothing acknowledged beyond what is committed; fixed, 200 after the next commit and every
# event of the window is in the archive.
source "$SKYSPOOL_SRC/tests/lib/harness.sh"
source "$SKYSPOOL_SRC/tests/lib/writer.sh"
B=$SKYSPOOL_BIN
cd "$SS_TMP"

msum() { awk -v n="$1" '$1 == n || index($1, n "{") == 1 {s += $2; f = 1} END {if (f) printf "%.15g\n", s; else print "absent"}' "$2"; }
skip() { SS_SKIPS=$((SS_SKIPS + 1)); echo "skip - $*"; }

ss_start_redis r
URL=$REDIS_URL_r
mkdir arch
TMPFS=0
if [ "$(id -u)" = 0 ] && mount -t tmpfs -o size=4m skyspool-health "$SS_TMP/arch" 2>/dev/null; then
  TMPFS=1
  trap 'umount -l "$SS_TMP/arch" 2>/dev/null || true; ss_cleanup' EXIT
fi
WP=$(ss_free_port)
H="http://127.0.0.1:$WP/healthz"
"$B" write --out "$SS_TMP/arch" --data-dir dd --redis "$URL" --grace 1s --retry-max 1s \
  --set metrics-listen="127.0.0.1:$WP" > w.log 2>&1 &
WPID=$!
SS_PIDS+=("$WPID")
code() { curl -s -o "$1" -w '%{http_code}' "$H"; }
ss_check "writer serves /healthz" ss_wait_for 30 curl -sf "$H"
ss_eq "healthy before any failure" "200 ok" "$(code h0.txt) $(cat h0.txt)"

# case CLASS MONTH HOW: ingests 300 events of 2025-MONTH (12 min of event time: windows close
# at once), expects 503 with CLASS, runs `fix_CLASS`, expects 200 and every event archived.
n_case=0
case_io() {
  local cls=$1 month=$2 what=$3 before after ing total
  n_case=$((n_case + 1))
  "$B" synth --events 300 --seed $((70 + n_case)) --start "2025-$month-01T00:00:00Z" --rate 0.4 > "e$n_case.jsonl"
  before=$(sqlite3 dd/ledger.sqlite 'select coalesce(sum(rows),0) from commits')
  "$B" ingest --source "file:e$n_case.jsonl" --redis "$URL" --json > "i$n_case.json" 2> "i$n_case.err"
  ing=$(jq .written "i$n_case.json")
  if ss_wait_for 30 bash -c "[ \"\$(curl -s -o h$n_case.txt -w '%{http_code}' '$H')\" = 503 ]"; then
    ss_pass "$what: healthz 503"
  else
    ss_fail "$what: healthz 503 (got $(code "h$n_case.txt") $(cat "h$n_case.txt"))"
  fi
  ss_check "  the reason names the class $cls and the archive path" \
    grep -q "^writer archive I/O error $cls for [0-9]* s (.*failed attempt.*): .*$SS_TMP/arch" "h$n_case.txt"
  curl -s "http://127.0.0.1:${WP}/metrics" > "m$n_case.txt"
  ss_check "  skyspool_writer_io_errors_total{class=\"$cls\"} counts it" \
    awk -v c="$cls" 'index($1, "skyspool_writer_io_errors_total{class=\"" c "\"}") == 1 && $2 >= 1 {f = 1} END {exit !f}' "m$n_case.txt"
  ss_check "  skyspool_writer_io_error_since_timestamp_seconds is set" \
    awk -v now="$(date +%s)" '$1 == "skyspool_writer_io_error_since_timestamp_seconds" && $2 > now - 120 && $2 <= now + 1 {f = 1} END {exit !f}' "m$n_case.txt"
  local left; left=$(ws_streams_left "$URL" | cut -d' ' -f1)
  after=$(sqlite3 dd/ledger.sqlite 'select coalesce(sum(rows),0) from commits')
  ss_eq "  nothing of the window committed or acknowledged" "$before $ing" "$after $left"
  "fix_$cls"
  if ss_wait_for 30 bash -c "[ \"\$(curl -s -o h${n_case}b.txt -w '%{http_code}' '$H')\" = 200 ]"; then
    ss_pass "  fixed: healthz 200 after the next commit"
  else
    ss_fail "  fixed: healthz 200 after the next commit (got $(code "h${n_case}b.txt") $(cat "h${n_case}b.txt"))"
  fi
  curl -s "http://127.0.0.1:${WP}/metrics" > "m${n_case}b.txt"
  ss_eq "  the since gauge is back to 0" 0 "$(msum skyspool_writer_io_error_since_timestamp_seconds "m${n_case}b.txt")"
  ss_check "  every event of the window committed" ss_wait_for 20 bash -c \
    "[ \"\$(sqlite3 dd/ledger.sqlite 'select coalesce(sum(rows),0) from commits')\" -ge $((before + ing - 5)) ] && [ \"\$(ws_streams_left_n)\" = 0 ]"
  total=$(sqlite3 dd/ledger.sqlite 'select coalesce(sum(rows),0) from commits')
  ss_eq "  the rows committed are the events ingested (dedup: synth has none)" "$((before + ing))" "$total"
}
ws_streams_left_n() { ws_streams_left "$URL" | cut -d' ' -f1; }
export -f ws_streams_left ws_streams_left_n
export URL WS_TYPES

# ENOTDIR: a file stands where the year directory must go.
echo "not a directory" > arch/year=2025
fix_ENOTDIR() { rm arch/year=2025; }
case_io ENOTDIR 09 "a file where the partition directory must go"

# EACCES: the year directory is read-only to a non-root writer.
if [ "$(id -u)" != 0 ]; then
  chmod 0555 arch/year=2025
  fix_EACCES() { chmod 0755 arch/year=2025; }
  case_io EACCES 10 "the partition parent chmod 0555"
else
  skip "EACCES case: running as root, which a chmod 0555 does not refuse"
fi

# ENOSPC: the archive's tmpfs is full.
if [ "$TMPFS" = 1 ]; then
  dd if=/dev/zero of=arch/filler bs=64k 2>/dev/null || true
  fix_ENOSPC() { rm -f arch/filler; }
  case_io ENOSPC 11 "a full archive filesystem"
else
  skip "ENOSPC case: cannot mount a tmpfs (needs root)"
fi

ss_check "the writer is still up (it retried, never gave up)" kill -0 "$WPID"
kill "$WPID"; wait "$WPID" 2>/dev/null || true
ss_check "and logged the retries" grep -q "retrying in" w.log

# EDQUOT from the finishing thread (issue 14): the part file's rename is refused (faultfs shim,
# any user) in an archive whose path holds ENOSPC's strerror text. The finish job runs on a
# thread of its own; its errno must travel with the error: the class is EDQUOT, never the
# ENOSPC the words of the message would say.
source "$SKYSPOOL_SRC/tests/faultfs/faultfs.sh"
ss_start_redis r2
A2="$SS_TMP/arch2 No space left on device" # strerror(ENOSPC), glibc's and musl's words
mkdir "$A2"
WP2=$(ss_free_port)
LD_PRELOAD=$(ss_fault_preload "$B") SS_FAULT_PATH="$A2" SS_FAULT_OPS=rename SS_FAULT_NTH=1 SS_FAULT_PERSIST=1 \
  SS_FAULT_ERRNO=EDQUOT "$B" write --out "$A2" --data-dir dd2 --redis "$REDIS_URL_r2" --grace 1s --retry-max 1s \
  --set metrics-listen="127.0.0.1:$WP2" > w2.log 2>&1 &
W2PID=$!
SS_PIDS+=("$W2PID")
ss_check "faulty writer serves /healthz" ss_wait_for 30 curl -sf "http://127.0.0.1:$WP2/healthz"
"$B" synth --events 300 --seed 79 --start 2025-12-01T00:00:00Z --rate 0.4 > e9.jsonl
"$B" ingest --source file:e9.jsonl --redis "$REDIS_URL_r2" --log-level error
if ss_wait_for 30 bash -c "[ \"\$(curl -s -o h9.txt -w '%{http_code}' 'http://127.0.0.1:$WP2/healthz')\" = 503 ]"; then
  ss_pass "rename refused with EDQUOT: healthz 503"
else
  ss_fail "rename refused with EDQUOT: healthz 503 (got $(cat h9.txt))"
fi
ss_check "  the reason is the errno's class EDQUOT, from the finishing thread" \
  grep -q "^writer archive I/O error EDQUOT for [0-9]* s (.*): finishing .*cannot rename into (" h9.txt
ss_check "  though the message holds ENOSPC's text (its path)" grep -q "No space left on device" h9.txt
curl -s "http://127.0.0.1:$WP2/metrics" > m9.txt
ss_check "  skyspool_writer_io_errors_total{class=\"EDQUOT\"} counts it" \
  awk 'index($1, "skyspool_writer_io_errors_total{class=\"EDQUOT\"}") == 1 && $2 >= 1 {f = 1} END {exit !f}' m9.txt
ss_eq "  and {class=\"ENOSPC\"} does not" 0 "$(msum 'skyspool_writer_io_errors_total{class="ENOSPC"}' m9.txt)"
kill "$W2PID"; wait "$W2PID" 2>/dev/null || true
ss_done
