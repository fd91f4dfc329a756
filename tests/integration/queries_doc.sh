#!/usr/bin/env bash
# docs/QUERIES.md is tested: 30,000 synth events over 3 hours (rate 2.5/s, so blocks per hour
# and the 10-minute window have several partitions to cut) go through `convert`, and
# tests/js/queries_check.mjs runs every ```sql query=NAME block of the doc with DuckDB and
# compares each result, row by row, with the answer computed independently from the input
# JSONL in JavaScript. It also checks that the synthetic data makes each query meaningful
# (posts liked 20+ times, nested reply threads, unfollows joined back to their follows).
# Then demo_query.mjs, which the README's "Try it" runs, on archives of one type and on an
# empty directory.
source "$SKYSPOOL_SRC/tests/lib/harness.sh"
B=$SKYSPOOL_BIN
cd "$SS_TMP"

"$B" synth --events 30000 --seed 1 --rate 2.5 > ev.jsonl
"$B" convert --out arch --no-progress ev.jsonl > convert.log
if ss_node queries_check.mjs --doc "$SKYSPOOL_SRC/docs/QUERIES.md" --archive arch --input ev.jsonl > check.log 2>&1; then
  ss_pass "every query of docs/QUERIES.md equals its reference ($(grep -c 'equal the reference' check.log) queries)"
else
  ss_fail "docs/QUERIES.md queries"; grep -v '^ok' check.log >&2
fi

# demo_query on the whole archive: the total is every archived event.
archived=$(jq -r 'select(.kind != "commit" or (.commit.collection | test("^app\\.bsky\\.(feed\\.(post|like|repost)|graph\\.(follow|block))$")))' -c ev.jsonl | wc -l)
ss_node demo_query.mjs arch > demo.log 2>&1
ss_eq "demo_query's total on the whole archive is every archived event" "$archived" "$(awk '$1 == "total" { print $2 }' demo.log)"

# only likes, one hour: the rest of the tree is gone
mkdir -p likes && cp -r arch/year=2025 likes/ && find likes -path '*type=*' -type d ! -name 'type=like' -prune -exec rm -rf {} +
find likes -path '*hour=*' -type d -name 'hour=*' ! -name 'hour=1' -prune -exec rm -rf {} +
nlikes=$(jq -r 'select(.commit.collection == "app.bsky.feed.like") | .time_us' ev.jsonl |
  awk '{ h = int($1 / 3600e6) % 24; if (h == 1) n++ } END { print n + 0 }')
rc=0; ss_node demo_query.mjs likes > demo-likes.log 2>&1 || rc=$?
ss_eq "demo_query on an archive of likes of one hour: exit 0" 0 "$rc"
ss_eq "demo_query on an archive of likes of one hour counts them" "$nlikes" "$(awk '$1 == "total" { print $2 }' demo-likes.log)"
ss_check "demo_query on an archive of likes prints only likes" bash -c "! grep -Eq '^(post|follow|repost|block) ' demo-likes.log"

# an empty archive: a clear message, not a DuckDB error
mkdir empty
rc=0; ss_node demo_query.mjs empty > demo-empty.log 2>&1 || rc=$?
ss_eq "demo_query on an empty directory exits 1" 1 "$rc"
ss_check "and says there are no Parquet files" grep -q 'no Parquet files under' demo-empty.log
ss_check "and shows no DuckDB error" bash -c "! grep -qi 'IO Error\\|Binder Error' demo-empty.log"
ss_done
