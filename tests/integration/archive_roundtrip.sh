#!/usr/bin/env bash
# The lossless proof: an archive read back (`cat --source archive:`) gives every event that
# went in, each JSON-equal to its input line (tests/lib/json_equal.py: canonical JSON,
# compared as multisets), in time_us order.
#  1. synth events of every type (posts, likes, reposts, follows, blocks, identity, account,
#     other) and every commit operation (create, update, delete) -> convert --keep-other ->
#     cat archive: -> equal to the input, ordered; the same with snappy and uncompressed
#     files and delta-free tiny row groups (several row groups per file), plus sync events (the
#     firehose's #sync / tooBig, skyspool's own kind). 10,000 events by
#     default; SKYSPOOL_ROUNDTRIP_EVENTS=100000 for the full-size proof.
#  2. filters: since/until (inclusive/exclusive, time_us or RFC 3339) and types= give exactly
#     the matching input events; hours outside the range are pruned before any file is opened
#     (a corrupt file there does not matter, while an unfiltered read fails on it, naming it);
#     hidden temporaries and files not named *.parquet are never read.
#  3. --cursor C gives exactly the events with time_us >= C.
#  4. replay-server --archive serves the same events over WebSocket (jetstream: source).
#  5. every shared real sample (when ../shared is present) round-trips JSON-equal.
#  6. ingest: `run --source archive:` (embedded Redis, DataWriter) re-archives every archived
#     event, read back equal.
#  7. the documented differences (docs/SCHEMA.md, "Reading back"), named: a top-level key the
#     decoder ignores (cursor) is gone, identity.did / account.did come back as the event's did,
#     commit.time comes back in one RFC 3339 form; nothing else differs.
source "$SKYSPOOL_SRC/tests/lib/harness.sh"
source "$SKYSPOOL_SRC/tests/lib/net.sh"
B=$SKYSPOOL_BIN
cd "$SS_TMP"
N=${SKYSPOOL_ROUNDTRIP_EVENTS:-10000}
EQ="python3 $SKYSPOOL_SRC/tests/lib/json_equal.py"

# equal NAME EXPECTED ACTUAL [json_equal args]: JSON-equal as multisets
equal() {
  local name=$1 exp=$2 act=$3; shift 3
  if $EQ "$exp" "$act" "$@" > "eq.out" 2>&1; then
    ss_pass "$name: $(head -1 eq.out)"
  else
    ss_fail "$name"; sed 's/^/    /' eq.out >&2
  fi
}
# filt EXPR < in > out: the input lines whose event e satisfies the Python expression
filt() { python3 -c 'import json,sys
f=eval("lambda e: "+sys.argv[1])
for l in sys.stdin:
    if l.strip() and f(json.loads(l)): sys.stdout.write(l)' "$1"; }

# ---- 1. synth, every type and operation ---------------------------------------------------------
# 2 events per simulated second: 20,000 events span several hours, so several partitions per type
"$B" synth --events "$N" --seed 21 --start 2025-08-07T08:30:00Z --rate 2 --other-frac 0.05 > in.jsonl
# sync events after the last synth event (the comparison is ordered)
python3 - in.jsonl <<'PY'
import json, sys
last = 0
for l in open(sys.argv[1]):
    if l.strip(): last = max(last, json.loads(l)["time_us"])
with open(sys.argv[1], "a") as f:
    for i in range(3):
        d = "did:plc:sync%022d" % i
        f.write(json.dumps({"did": d, "time_us": last + 1 + i, "kind": "sync",
                            "sync": {"did": d, "rev": "3l3qo2vutsw2%d" % i, "seq": 900 + i,
                                     "time": "2025-08-07T12:00:0%d.125Z" % i}}, separators=(",", ":")) + "\n")
PY
for k in identity account sync; do
  ss_check "the input has $k events" test "$(grep -c "\"kind\":\"$k\"" in.jsonl)" -gt 0
done
for op in create update delete; do
  ss_check "the input has $op commits" test "$(grep -c "\"operation\":\"$op\"" in.jsonl)" -gt 0
done
t0=$(date +%s.%N)
"$B" convert --out big --keep-other --no-progress in.jsonl > /dev/null
t1=$(date +%s.%N)
"$B" cat --source archive:big > out.jsonl
t2=$(date +%s.%N)
ss_log "$N events: convert $(printf '%.2f' "$(echo "$t1 - $t0" | bc)") s, cat archive: $(printf '%.2f' "$(echo "$t2 - $t1" | bc)") s"
hours=$(find big -mindepth 4 -maxdepth 4 -name 'hour=*' | wc -l)
ss_check "the archive spans several hours ($hours)" test "$hours" -ge 2
ss_eq "every event read back" "$((N + 3))" "$(wc -l < out.jsonl)"
equal "zstd archive: every event JSON-equal to its input line, in time order" in.jsonl out.jsonl --ordered
for t in post like repost follow block identity account other sync; do
  ss_check "type $t read back" test "$(grep -c . <(ls big/year=*/month=*/day=*/hour=*/type=$t/ 2>/dev/null))" -gt 0
done
head -3000 in.jsonl > small.jsonl
for codec in snappy none; do
  "$B" convert --out "arch-$codec" --keep-other --no-progress --codec "$codec" small.jsonl > /dev/null
  "$B" cat --source "archive:arch-$codec" > "out-$codec.jsonl"
  equal "$codec archive" small.jsonl "out-$codec.jsonl" --ordered
done

# ---- 2. filters (on a smaller archive spanning 3 hours) ---------------------------------------------
N=5000
"$B" synth --events "$N" --seed 22 --start 2025-08-07T08:30:00Z --rate 0.5 > in.jsonl
"$B" convert --out arch --keep-other --no-progress in.jsonl > /dev/null
lo=$(sed -n "$((N / 3))p" in.jsonl | jq .time_us)
hi=$(sed -n "$((2 * N / 3))p" in.jsonl | jq .time_us)
"$B" cat --source "archive:arch?since=$lo&until=$hi" > f1.jsonl
filt "$lo <= e['time_us'] < $hi" < in.jsonl > f1.exp
ss_check "since/until select a strict subset" test "$(wc -l < f1.exp)" -lt "$N"
equal "since=$lo&until=$hi: exactly the events in [since, until)" f1.exp f1.jsonl --ordered
"$B" cat --source "archive:arch?types=like,identity&since=2025-08-07T09:00:00Z" > f2.jsonl
since_us=$(python3 -c 'import datetime; print(int(datetime.datetime(2025,8,7,9,tzinfo=datetime.timezone.utc).timestamp())*1000000)')
filt "e['time_us'] >= $since_us and (e['kind'] == 'identity' or e.get('commit', {}).get('collection') == 'app.bsky.feed.like')" \
  < in.jsonl > f2.exp
equal "types=like,identity&since=RFC 3339: exactly those" f2.exp f2.jsonl --ordered
# pruning: a corrupt file in the first hour is never opened by a read that starts later
first_hour=$(find arch -mindepth 4 -maxdepth 4 -name 'hour=*' | sort -V | head -1) # -V: hour=9 before hour=10
printf 'PAR1 not really\n' > "$first_hour/type=like/zz-corrupt.parquet"
printf 'junk' > "$first_hour/type=like/.part-x.parquet.tmp"
printf 'junk' > "$first_hour/type=like/notes.txt"
"$B" cat --source "archive:arch?since=2025-08-07T09:00:00Z" > f3.jsonl 2> f3.err
filt "e['time_us'] >= $since_us" < in.jsonl > f3.exp
equal "a corrupt file in a pruned hour is never opened" f3.exp f3.jsonl
rc=0; "$B" cat --source archive:arch > /dev/null 2> f4.err || rc=$?
ss_eq "unfiltered, the corrupt file is an error (exit 1)" 1 "$rc"
ss_check "the error names the file" grep -q "zz-corrupt.parquet" f4.err
rm "$first_hour/type=like/zz-corrupt.parquet"
"$B" cat --source archive:arch > f5.jsonl
equal "hidden temporaries and non-.parquet files are skipped" in.jsonl f5.jsonl --ordered
rc=0; "$B" cat --source "archive:arch?bogus=1" > /dev/null 2>&1 || rc=$?
ss_eq "an unknown key is a usage error" 2 "$rc"
rc=0; "$B" cat --source "archive:arch?types=nope" > /dev/null 2>&1 || rc=$?
ss_eq "an unknown type is a usage error" 2 "$rc"
rc=0; "$B" cat --source "archive:$SS_TMP/nope" > /dev/null 2>&1 || rc=$?
ss_eq "a missing directory is a runtime error" 1 "$rc"

# ---- 3. cursor --------------------------------------------------------------------------------------
c=$(sed -n "$((N / 2))p" in.jsonl | jq .time_us)
"$B" cat --source archive:arch --cursor "$c" > c.jsonl
filt "e['time_us'] >= $c" < in.jsonl > c.exp
equal "--cursor $c: exactly the events with time_us >= cursor" c.exp c.jsonl --ordered

# ---- 4. replay-server --archive -------------------------------------------------------------------
net_replay a --archive "arch?until=$hi"
filt "e['time_us'] < $hi" < in.jsonl > r.exp
timeout 60 "$B" cat --source "jetstream:ws://127.0.0.1:$RP_PORT_a/subscribe" --wanted-collections '*' \
  --limit "$(wc -l < r.exp)" > r.jsonl 2> r.err || true
equal "replay-server --archive: the archive's events over WebSocket" r.exp r.jsonl --ordered
net_stop "$RP_PID_a"

# ---- 5. the shared real samples ------------------------------------------------------------------
if ss_shared "samples read back" 'samples/*.jsonl'; then
  for f in "$SKYSPOOL_SHARED"/samples/*.jsonl; do
    n=$(basename "$f" .jsonl)
    "$B" cat --source "file:$f" > "$n.exp" 2>/dev/null # the lines that are events
    "$B" convert --out "s-$n" --keep-other --no-progress "$f" > /dev/null
    "$B" cat --source "archive:s-$n" > "$n.out"
    ss_check "$n: has events" test -s "$n.exp"
    equal "sample $n: every event JSON-equal" "$n.exp" "$n.out"
  done
fi

# ---- 6. ingest from an archive: the whole pipeline re-archives it -------------------------------------
# (run: archive: source -> embedded Redis -> DataWriter; type other is not kept by run's default)
"$B" run --source archive:arch-snappy --out rearch --data-dir rdd --log-level error > run.log 2>&1
"$B" cat --source archive:rearch > rearch.jsonl
filt "e.get('commit', {}).get('collection', 'app.bsky.feed.post').split('.')[2] in ('feed', 'graph') and e.get('commit', {}).get('collection', 'app.bsky.feed.post') in ('app.bsky.feed.post', 'app.bsky.feed.like', 'app.bsky.feed.repost', 'app.bsky.graph.follow', 'app.bsky.graph.block')" \
  < small.jsonl > rearch.exp
equal "run --source archive: re-archives every archived event" rearch.exp rearch.jsonl --ordered

# ---- 7. the documented differences, named ----------------------------------------------------------
D=did:plc:aaaaaaaaaaaaaaaaaaaaaaaa
cat > diff.jsonl <<EOF
{"did":"$D","time_us":1754560000000001,"kind":"commit","cursor":1754560000000001,"commit":{"rev":"3lvr","operation":"create","collection":"app.bsky.feed.like","rkey":"3lvq","record":{"\$type":"app.bsky.feed.like","subject":{"uri":"at://x","cid":"bafy"},"createdAt":"2025-08-07T10:00:00Z"},"cid":"bafyc"}}
{"did":"$D","time_us":1754560000000002,"kind":"identity","identity":{"did":"did:plc:someoneelse","seq":7,"time":"2025-08-07T10:00:00.5+02:00","handle":"h.example"}}
{"did":"$D","time_us":1754560000000003,"kind":"account","account":{"active":false,"did":"$D","seq":8,"time":"2025-08-07T10:00:00Z","status":"takendown"}}
{"did":"$D","time_us":1754560000000004,"kind":"commit","commit":{"rev":"3lvs","operation":"delete","collection":"app.bsky.feed.post","rkey":"3lvt","time":"2025-08-07T10:00:00.123Z"}}
{"did":"$D","time_us":1754560000000005,"kind":"commit","commit":{"rev":"3lvu","operation":"delete","collection":"app.bsky.graph.block","rkey":"3lvv","time":"2025-08-07T12:00:00.5+02:00"}}
EOF
"$B" convert --out diff --no-progress diff.jsonl > /dev/null
"$B" cat --source archive:diff > diff.out
ss_eq "every crafted event read back" 5 "$(wc -l < diff.out)"
rc=0; $EQ diff.jsonl diff.out > /dev/null || rc=$?
ss_eq "without naming the differences the files differ" 1 "$rc"
named=(--drop cursor --drop identity.did --drop account.did --drop commit.time)
equal "the named differences are all there is" diff.jsonl diff.out "${named[@]}" --ordered
# cursor (1 event), identity.did and account.did (2), commit.time (2): 5 events changed
ss_eq "events the named differences touch" "dropped=5" "$($EQ diff.jsonl diff.out "${named[@]}" | grep -o 'dropped=[0-9]*')"
ss_check "identity.did comes back as the event's did" grep -qF "\"identity\":{\"did\":\"$D\"" diff.out
ss_check "commit.time in milliseconds UTC comes back verbatim" grep -qF '"time":"2025-08-07T10:00:00.123Z"' diff.out
ss_check "commit.time with an offset comes back in UTC" grep -qF '"time":"2025-08-07T10:00:00.500Z"' diff.out
ss_check "account: active, seq, status and the relay time text kept" \
  grep -qF "\"account\":{\"active\":false,\"did\":\"$D\",\"seq\":8,\"status\":\"takendown\",\"time\":\"2025-08-07T10:00:00Z\"}" diff.out
ss_check "identity: the relay time text verbatim, not normalized" grep -qF '"time":"2025-08-07T10:00:00.5+02:00"' diff.out
ss_done
