#!/usr/bin/env bash
# --verify-signatures end to end: replay-server serves firehose frames whose commits
# fh_mkframes signed with keys it made (one account signs with a key it never published, one
# account rotated: the old key is what a stale cache holds), and `skyspool ingest` checks them
# into a real redis-server, three ways:
#   a. a did-cache directory (stale for the rotated account), did-resolve=no;
#   b. a did-cache directory holding only the rotated account's stale document, the rest
#      resolved live from a local HTTP server standing in for the PLC directory: the rotated
#      account re-resolves after its first failure and verifies; what was resolved is
#      written back into the directory; one account the directory does not know (404: no_key);
#   c. no did-cache and the directory down: counted as resolve failures, commits passed
#      unchecked (the documented no-key policy).
# Asserted: the signature counts (ingest --json, and /metrics in c), the DLQ's bad_signature
# entries, the events that reached the streams, the directory's requests. Loopback only.
source "$SKYSPOOL_SRC/tests/lib/harness.sh"
source "$SKYSPOOL_SRC/tests/lib/net.sh"
MK=${SKYSPOOL_BUILD:?run through ctest}/fh_mkframes
B=$SKYSPOOL_BIN
cd "$SS_TMP"
P=/xrpc/com.atproto.sync.subscribeRepos
ss_start_redis r
U=$REDIS_URL_r
RC="redis-cli -p $REDIS_PORT_r"

# 60 commits of the archived collections, one frame each (distinct revs); the wrong-key and
# the rotated account have 6 commits each.
"$B" synth --events 200 --seed 21 > s.jsonl
grep '"kind":"commit"' s.jsonl | grep '"operation":"create"' |
  grep -E '"collection":"app\.bsky\.(feed\.(post|like|repost)|graph\.(follow|block))"' |
  awk 'NR <= 60 { sub(/"rev":"[^"]*"/, "\"rev\":\"3s" sprintf("%06d", NR) "\""); print }' > c0.jsonl
N=$(wc -l < c0.jsonl)
WRONG=$(jq -r .did c0.jsonl | sed -n 3p)
ROT=$(jq -r .did c0.jsonl | sed -n 8p)
awk -v w="$WRONG" -v r="$ROT" '
  NR % 10 == 3 { sub(/"did":"[^"]*"/, "\"did\":\"" w "\"") }
  NR % 10 == 8 { sub(/"did":"[^"]*"/, "\"did\":\"" r "\"") } { print }' c0.jsonl > c.jsonl
NW=$(jq -r .did c.jsonl | grep -cx "$WRONG")
NR_=$(jq -r .did c.jsonl | grep -cx "$ROT")
NDID=$(jq -r .did c.jsonl | sort -u | wc -l)
"$MK" --sign docs --wrong-key "$WRONG" --rotated "$ROT" f.frames < c.jsonl 2> mk.log ||
  { ss_fail "fh_mkframes --sign failed"; cat mk.log >&2; ss_done; exit 1; }
ss_eq "fixture: $N commits, one document per account ($NDID)" "$NDID" "$(ls docs/*.json | wc -l)"
ss_check "fixture: the rotated account has a stale document" test -s "docs/stale/$ROT.json"
ss_check "fixture: the stale key differs from the current one" \
  test "$(jq -r '.verificationMethod[0].publicKeyMultibase' "docs/stale/$ROT.json")" != \
       "$(jq -r '.verificationMethod[0].publicKeyMultibase' "docs/$ROT.json")"
ss_check "fixture: both curves are used" test "$(jq -r '.verificationMethod[0].publicKeyMultibase[0:4]' docs/*.json | sort -u | wc -l)" -ge 2

net_replay fh --frames f.frames
URL="firehose:ws://127.0.0.1:$RP_PORT_fh$P"

ingest() { # NAME MAX [settings...]: ingest MAX messages from the start, into an empty Redis
  local name=$1 max=$2; shift 2
  $RC FLUSHALL > /dev/null
  timeout 60 "$B" ingest --redis "$U" --source "$URL" --limit "$max" --json \
    --set verify-signatures=yes "$@" > "ing-$name.json" 2> "ing-$name.log" ||
    { ss_fail "ingest $name failed"; cat "ing-$name.log" >&2; }
}
sigs() { jq -r '.signatures | [.verified, .bad, .no_key, .resolve_failed] | join(" ")' "$1"; }
dlq_bad() { $RC XRANGE skyspool:dlq - + | grep -c '^bad_signature$' || true; }
stream_events() { # entries in the event streams (not the DLQ)
  local t=0 k
  for k in $($RC --scan --pattern 'skyspool:*'); do
    [ "$($RC TYPE "$k")" = stream ] || continue
    case $k in *dlq|*gaps) ;; *) t=$((t + $($RC XLEN "$k"))) ;; esac
  done
  echo "$t"
}

# a. did-cache directory, no live resolution: the wrong-key and the rotated account fail.
mkdir cache-a
cp docs/*.json cache-a/ && cp "docs/stale/$ROT.json" cache-a/
BAD_A=$((NW + NR_))
ingest a "$N" --set did-cache=cache-a --set did-resolve=no
ss_eq "a: signatures verified/bad/no_key/resolve_failed" "$((N - BAD_A)) $BAD_A 0 0" "$(sigs ing-a.json)"
ss_eq "a: bad_signature entries in the DLQ" "$BAD_A" "$(dlq_bad)"
ss_eq "a: the good commits reached the streams" "$((N - BAD_A))" "$(stream_events)"
ss_check "a: a DLQ entry names the account's key" \
  bash -c "$RC XRANGE skyspool:dlq - + | grep -q 'does not verify with the account'"

# b. the PLC directory: a local HTTP server serving /<did> from docs/, logging each request.
cat > plc.py <<'EOF'
import http.server, os, sys
root, portfile, log = sys.argv[1], sys.argv[2], sys.argv[3]
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        with open(log, "a") as f: f.write(self.path + "\n")
        p = os.path.join(root, self.path.lstrip("/") + ".json")
        if "/" in self.path.lstrip("/") or not os.path.isfile(p):
            self.send_response(404); self.end_headers(); return
        body = open(p, "rb").read()
        self.send_response(200)
        self.send_header("Content-Type", "application/did+ld+json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers(); self.wfile.write(body)
    def log_message(self, *a): pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
open(portfile + ".tmp", "w").write(str(s.server_address[1])); os.rename(portfile + ".tmp", portfile)
s.serve_forever()
EOF
# The directory does not know one account (404): its commits pass unchecked as no_key.
MISSING=$(jq -r .did c.jsonl | grep -vx -e "$WRONG" -e "$ROT" | head -1)
NM=$(jq -r .did c.jsonl | grep -cx "$MISSING")
mkdir plc-docs && cp docs/*.json plc-docs/ && rm "plc-docs/$MISSING.json"
python3 plc.py plc-docs plc.port plc.log &
PLC_PID=$!; SS_PIDS+=("$PLC_PID")
ss_wait_for 20 test -s plc.port || { ss_fail "the PLC stand-in did not start"; ss_done; exit 1; }
PLC="http://127.0.0.1:$(cat plc.port)"
mkdir cache-b
cp "docs/stale/$ROT.json" cache-b/
ingest b "$N" --set did-cache=cache-b --set "plc-directory=$PLC"
ss_eq "b: signatures verified/bad/no_key/resolve_failed" "$((N - NW - NM)) $NW $NM 0" "$(sigs ing-b.json)"
ss_eq "b: bad_signature entries in the DLQ (the wrong key alone)" "$NW" "$(dlq_bad)"
ss_eq "b: the good commits reached the streams" "$((N - NW))" "$(stream_events)"
ss_eq "b: each account not in the cache was fetched once" 1 "$(grep -cx "/$(jq -r .did c.jsonl | grep -vx "$ROT" | tail -1)" plc.log)"
ss_eq "b: the account the directory does not know was asked once (404 cached)" 1 "$(grep -cx "/$MISSING" plc.log)"
ss_eq "b: the rotated account was fetched again after its stale key failed, once" 1 "$(grep -cx "/$ROT" plc.log)"
ss_eq "b: the wrong-key account: fetched once (its failures re-ask within the rate limit: no request)" 1 \
  "$(grep -cx "/$WRONG" plc.log)"
ss_eq "b: requests in all: one per account" "$NDID" "$(wc -l < plc.log)"
ss_eq "b: the resolved documents were written back into the did-cache" "$((NDID - 1))" "$(ls cache-b/*.json | wc -l)"
ss_check "b: the rotated account's document is the current one now" cmp -s "docs/$ROT.json" "cache-b/$ROT.json"
ss_eq "b: no temporary file left" 0 "$(ls -a cache-b | grep -c tmp || true)"
# the written-back cache alone (no network) now gives the same result
ingest b2 "$N" --set did-cache=cache-b --set did-resolve=no
ss_eq "b: the written-back cache alone verifies the same" "$((N - NW - NM)) $NW $NM 0" "$(sigs ing-b2.json)"
net_stop "$PLC_PID"

# c. the directory is down (nothing listens): resolve failures, every commit passes unchecked.
DEAD=$(ss_free_port)
MP=$(ss_free_port)
$RC FLUSHALL > /dev/null
"$B" ingest --redis "$U" --source "$URL" --json --set verify-signatures=yes \
  --set "plc-directory=http://127.0.0.1:$DEAD" --set "metrics-listen=127.0.0.1:$MP" > ing-c.json 2> ing-c.log &
ING_C=$!; SS_PIDS+=("$ING_C")
ss_wait_for 30 bash -c "curl -sf http://127.0.0.1:$MP/metrics | grep -q '^skyspool_source_signatures_total{result=\"resolve_failed\"} $N\$'" || true
curl -sf "http://127.0.0.1:$MP/metrics" > metrics-c.txt || true
net_stop "$ING_C"
ss_eq "c: signatures verified/bad/no_key/resolve_failed" "0 0 0 $N" "$(sigs ing-c.json)"
ss_eq "c: nothing in the DLQ" 0 "$(dlq_bad)"
ss_eq "c: every commit reached the streams, unchecked" "$N" "$(stream_events)"
ss_check "c: /metrics counts resolve_failed $N" grep -qx "skyspool_source_signatures_total{result=\"resolve_failed\"} $N" metrics-c.txt
ss_check "c: /metrics has every result label" \
  test "$(grep -c '^skyspool_source_signatures_total{result="\(verified\|bad\|no_key\|resolve_failed\)"}' metrics-c.txt)" -eq 4
ss_check "c: the network was declared down (no request per commit)" grep -q "treating the network as down" ing-c.log
ss_done
