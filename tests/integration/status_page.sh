#!/usr/bin/env bash
# The status page (issue 13): the metrics listener serves "/" and "/api/status". A live
# `ingest` with metrics-listen, over a buffer with entries waiting (some delivered and pending)
# and a ledger holding the runs of an earlier `write --once`; headless Chromium (playwright-core)
# opens the page, waits for its own refresh, and the DOM's per-type length/pending/lag, totals,
# DLQ, ingester fields and run rows must equal `skyspool status --json` / `skyspool runs --json`
# taken right after (the buffer is still: the feed is quiet, no writer is reading). The page
# makes no request off the listener's origin, shows a hostile source name as text (no element
# made from it), and /api/status is the `status --json` document plus the ledger's runs. The
# screenshot must be a well-formed PNG; SKYSPOOL_UPDATE_DOCS=1 also writes docs/img/status-page.png
# (the scratch path masked).
source "$SKYSPOOL_SRC/tests/lib/harness.sh"
B=$SKYSPOOL_BIN
CHROMIUM=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}
[ -n "$CHROMIUM" ] || ss_skip_test "no chromium (scripts/install-deps installs it)"
[ -d "$SKYSPOOL_SRC/tests/js/node_modules/playwright-core" ] || ss_skip_test "no tests/js/node_modules/playwright-core (npm ci in tests/js)"
cd "$SS_TMP"

ss_start_redis r
URL=$REDIS_URL_r
P=$REDIS_PORT_r
old_us=$(( ($(date +%s) - 1800) * 1000000 )) # half an hour old: every window is due
"$B" synth --events 600 --seed 41 --start "$old_us" --rate 2 > a.jsonl
"$B" ingest --source file:a.jsonl --redis "$URL" --data-dir dd > /dev/null 2> ingest-a.log
"$B" write --once --all --out arch --data-dir dd --redis "$URL" 2> write-a.log
nruns=$("$B" runs --ledger dd/ledger.sqlite --json | jq -s '[.[] | select(.started_us)] | length')
ss_check "the ledger holds runs to show ($nruns)" test "$nruns" -gt 3

# The live ingest: its source name carries markup that must be shown, never parsed.
"$B" synth --events 400 --seed 42 --start $((old_us + 400000000)) --rate 2 --bad-frac 0.02 > b.jsonl
FEED='feed<img src=x onerror=alert(1)>'
mkfifo "$FEED"
MP=$(ss_free_port)
"$B" ingest --source "file:$FEED" --redis "$URL" --data-dir dd --set metrics-listen="127.0.0.1:$MP" \
  > /dev/null 2> ingest-b.log &
SS_PIDS+=($!)
{ cat b.jsonl; until [ -e feed.close ]; do sleep 0.2; done; } > "$FEED" &
SS_PIDS+=($!)
M=http://127.0.0.1:$MP
ss_check "ingest serves /api/status" ss_wait_for 20 curl -sf "$M/api/status" -o /dev/null
lines=$(wc -l < b.jsonl)
# The first ingest left its state hash behind ("done", 600 lines): only this ingester's
# ("running") counts are waited for. Polled every 0.2 s, with Redis's own lengths alongside: the
# ingester must report what Redis holds within 3 s of Redis holding it (its source is quiet now:
# the FIFO stays open), not batches_in_flight heartbeats later.
t_redis="" t_state="" final=""
for _ in $(seq 1 100); do
  curl -sf "$M/api/status" > poll.json || { sleep 0.2; continue; }
  now=$(date +%s.%N)
  in_redis=$(jq '.total_length + .dlq.length' poll.json)
  reported=$(jq 'if .ingest.state == "running" then .ingest.events_total + .ingest.dlq_total else -1 end' poll.json)
  seen=$(jq 'if .ingest.state == "running" then .ingest.events_total + .ingest.dlq_total + .ingest.other_total else -1 end' poll.json)
  [ "$in_redis" != "$final" ] && { final=$in_redis; t_redis=$now; t_state=""; }
  [ -z "$t_state" ] && [ "$reported" = "$final" ] && t_state=$now
  [ -n "$t_state" ] && [ "$seen" -ge "$lines" ] && break
  sleep 0.2
done
ss_check "the feed is in ($lines lines, $final entries)" test -n "$t_state" -a "$seen" -ge "$lines"
lagged=$(awk -v a="${t_state:-0}" -v b="${t_redis:-0}" 'BEGIN { printf "%.1f", a - b }')
ss_check "the ingester reported Redis's entries ${lagged} s after Redis held them (at most 3 s)" \
  awk -v d="$lagged" 'BEGIN { exit !(d <= 3) }'
# 7 like entries delivered to a consumer and left pending: pending 7, lag XLEN - 7
redis-cli -p "$P" xreadgroup group writers probe count 7 streams skyspool:like '>' > /dev/null

docs=()
[ "${SKYSPOOL_UPDATE_DOCS:-}" = 1 ] && docs=("$SKYSPOOL_SRC/docs/img/status-page.png" "$SS_TMP/")
ss_node status_page.mjs "$M/?every=1" "$CHROMIUM" shot.png "${docs[@]}" > dom.json 2> node.err || { cat node.err >&2; ss_fail "the page did not load in chromium"; }
"$B" status --redis "$URL" --data-dir dd --json > st.json
"$B" runs --ledger dd/ledger.sqlite --json --limit 20 > runs.json
curl -sf "$M/api/status" > api.json

# every per-type figure the page shows equals status --json
# (one jq for all: "type field status-value dom-value" a line)
while read -r t f want got; do
  ss_eq "$t $f" "$want" "$got"
done < <(jq -r --slurpfile d dom.json '.streams | to_entries[] | .key as $t | .value as $v |
  ("length", "pending", "lag") | "\($t) \(.) \($v[.]) \($d[0].streams[$t][.])"' st.json)
ss_eq "the page lists the types status lists" "$(jq -c '.streams | keys' st.json)" "$(jq -c '.streams | keys' dom.json)"
ss_eq "like pending is the 7 delivered" 7 "$(jq -r .streams.like.pending dom.json)"
ss_check "entries are waiting ($(jq .total_length st.json))" test "$(jq .total_length st.json)" -gt 200
ss_eq "like lag is length - 7" "$(( $(jq .streams.like.length st.json) - 7 ))" "$(jq -r .streams.like.lag dom.json)"
# the oldest entry ages while we look: the page's figure is at most status's, and close to it
ss_check "oldest like age shown ($(jq -r .streams.like.oldest_age_s dom.json) s; status: $(jq .streams.like.oldest_age_s st.json) s)" \
  jq -e --slurpfile d dom.json '($d[0].streams.like.oldest_age_s | tonumber) as $p | $p > 0 and $p <= .streams.like.oldest_age_s + 0.1 and $p > .streams.like.oldest_age_s - 10' st.json
for f in total_length total_pending; do ss_eq "$f" "$(jq .$f st.json)" "$(jq -r .fields.$f dom.json)"; done
ss_eq "DLQ length" "$(jq .dlq.length st.json)" "$(jq -r .fields.dlq_length dom.json)"
ss_check "the DLQ holds the bad lines" test "$(jq .dlq.length st.json)" -gt 0
ss_eq "ingest state" "$(jq -r .ingest.state st.json)" "$(jq -r .fields.ingest_state dom.json)"
ss_eq "ingest events" "$(jq -r .ingest.events_total st.json)" "$(jq -r .fields.ingest_events dom.json)"
ss_eq "ingest paused" "no" "$(jq -r .fields.ingest_paused dom.json)"
ss_eq "source shown as text, markup included" "$(jq -r .ingest.source st.json)" "$(jq -r .fields.ingest_source dom.json)"
ss_check "the source name holds the markup" grep -q '<img src=x' <(jq -r .fields.ingest_source dom.json)
ss_eq "no element was made from data" 0 "$(jq .imgs dom.json)"
# source lag: now minus the newest event time of the feed
lag=$(jq -r .fields.source_lag dom.json)
newest=$(grep -o '"time_us":[0-9]*' b.jsonl | cut -d: -f2 | sort -n | tail -1)
want=$(( $(date +%s) - newest / 1000000 ))
ss_check "source lag shown ($lag s, newest event $want s old)" awk -v l="$lag" -v w="$want" 'BEGIN {exit !(l > w - 15 && l <= w + 1)}'
ss_eq "writer: no consumer alive" "$(jq .writer.alive_consumers st.json)" "$(jq -r .fields.writer_alive dom.json)"
# the ledger's runs: the page shows the last 20, newest first
ss_eq "run rows" "$(jq -s '[.[] | select(.started_us)] | length' runs.json)" "$(jq '.runs | length' dom.json)"
ss_eq "run rows are the ledger's, newest first" \
  "$(jq -s -c '[.[] | select(.started_us) | [.type, .rows]] | reverse' runs.json)" \
  "$(jq -c '[.runs[] | [.cells[1], (.cells[4] | tonumber)]]' dom.json)"
ss_eq "attempt rows" "$(jq '.failed_attempts | length' api.json)" "$(jq '.attempts | length' dom.json)"
# the page refreshed itself and stayed on its origin
ss_check "the page refreshed itself ($(jq .answers dom.json) answers)" test "$(jq .answers dom.json)" -ge 2
ss_eq "no request off the listener's origin" "[]" "$(jq -c .foreign dom.json)"
ss_eq "no script error" "[]" "$(jq -c .errors dom.json)"
ss_eq "one script, no external links" "1 0" "$(jq -r '"\(.scripts) \(.links)"' dom.json)"
ss_eq "connected" connected "$(jq -r .fields.conn dom.json)"
# /api/status: the status --json document, plus runs; same keys and same buffer figures
ss_eq "/api/status has every key of status --json" "[]" \
  "$(jq -c --slurpfile s st.json '($s[0] | keys) - keys' api.json)"
ss_eq "/api/status adds exactly the runs" '["failed_attempts","live","recent_runs"]' \
  "$(jq -c --slurpfile s st.json 'keys - ($s[0] | keys)' api.json)"
ss_eq "/api/status streams equal status --json" "$(jq -c '.streams | map_values(del(.oldest_age_s))' st.json)" \
  "$(jq -c '.streams | map_values(del(.oldest_age_s))' api.json)"
ss_eq "/api/status runs are the ledger's" "$(jq -s -c '[.[] | select(.started_us) | .started_us]' runs.json)" \
  "$(jq -c '[.recent_runs[].started_us]' api.json)"
ss_eq "an ingest-only process has no watermark" null "$(jq .live.watermark_lag_s api.json)"
ss_eq "/ is html" "text/html; charset=utf-8" "$(curl -s -o /dev/null -w '%{content_type}' "$M/")"
# the screenshot
ss_eq "screenshot is a well-formed PNG" true "$(jq .png.ok dom.json)"
ss_check "of the page ($(jq -c '[.png.width, .png.height, .png.bytes]' dom.json))" \
  test "$(jq .png.width dom.json)" -ge 800 -a "$(jq .png.height dom.json)" -ge 600
touch feed.close
ss_done
