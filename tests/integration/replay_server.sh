#!/usr/bin/env bash
# skyspool replay-server on its own: flags and errors, --port-file, plain HTTP answered
# with 404, concurrent clients that come and go, zstd-compressed JSONL input,
# maxMessageSizeBytes, pacing (--rate and --original-timing), and a clean stop on SIGTERM.
# Loopback only.
source "$SKYSPOOL_SRC/tests/lib/harness.sh"
source "$SKYSPOOL_SRC/tests/lib/net.sh"
cd "$SS_TMP"
B=$SKYSPOOL_BIN

# 1. Help and usage errors.
"$B" replay-server --help > help.txt
ss_check "--help shows examples" grep -q "^examples:" help.txt
usage_rc() { set +e; "$B" replay-server "$@" > /dev/null 2> usage.err; local rc=$?; set -e; echo "$rc"; }
net_gen 1000 2000 in.jsonl
ss_eq "no input: exit 2" 2 "$(usage_rc --listen 127.0.0.1:0)"
ss_eq "two inputs: exit 2" 2 "$(usage_rc --jsonl in.jsonl --frames in.jsonl)"
ss_eq "--rate 0: exit 2" 2 "$(usage_rc --jsonl in.jsonl --rate 0)"
ss_eq "--listen without a port: exit 2" 2 "$(usage_rc --jsonl in.jsonl --listen 127.0.0.1)"
ss_check "the message says what to fix" grep -q "HOST:PORT" usage.err
ss_eq "--tls-cert without --tls-key: exit 2" 2 "$(usage_rc --jsonl in.jsonl --tls-cert x.pem)"
ss_eq "missing input file: exit 1" 1 "$(usage_rc --jsonl nonexistent.jsonl)"
ss_check "the message names the file" grep -q "nonexistent.jsonl" usage.err

# 2. Serving: port file, 404 for plain HTTP, concurrent clients, clients coming and going.
net_expect in.jsonl - > all.exp
n=$(wc -l < all.exp)
net_replay s --jsonl in.jsonl
URL="ws://127.0.0.1:$RP_PORT_s/subscribe"
ss_check "port file holds a port" test "$RP_PORT_s" -gt 0
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$RP_PORT_s/")
ss_eq "plain HTTP gets 404" 404 "$code"
for i in 1 2 3; do
  timeout 60 "$B" cat --source "jetstream:$URL" --wanted-collections '*' --limit "$n" > "c$i.jsonl" 2>/dev/null &
  eval "cpid$i=\$!"
done
wait "$cpid1" "$cpid2" "$cpid3"
for i in 1 2 3; do ss_check "concurrent client $i: the whole stream" cmp -s all.exp "c$i.jsonl"; done
# A client that leaves early, then another that reads everything.
timeout 30 "$B" cat --source "jetstream:$URL" --limit 10 > /dev/null 2>&1
timeout 60 "$B" cat --source "jetstream:$URL" --wanted-collections '*' --limit "$n" > c4.jsonl 2>/dev/null
ss_check "after clients came and went, a new client still gets everything" cmp -s all.exp c4.jsonl
ss_check "the server counted the connections" grep -q "client 5 " "$RP_LOG_s"

# 3. maxMessageSizeBytes: larger events are not sent (Jetstream semantics).
python3 - in.jsonl > small.exp <<'PY'
import sys
for line in open(sys.argv[1], encoding="utf-8"):
    if len(line.rstrip("\n").encode()) <= 400:
        sys.stdout.write(line)
PY
ns=$(wc -l < small.exp)
timeout 30 "$B" cat --source "jetstream:$URL?maxMessageSizeBytes=400" --wanted-collections '*' --limit "$ns" \
  > small.jsonl 2>/dev/null
ss_check "maxMessageSizeBytes=400: exactly the events up to 400 bytes ($ns)" cmp -s small.exp small.jsonl

# 3b. A time cursor into a larger file (> 1 MiB) is found by binary search, not by reading from
# the start, and the first event is the first one at or after the cursor; a file out of time
# order (jittered by up to 60 s, more than the 10 s the seek tolerates) is read from the start
# instead, with the same semantics.
first_at() { python3 - "$1" "$2" <<'PY'
import json, sys
c = int(sys.argv[2])
for line in open(sys.argv[1], "rb"):
    if line.strip() and json.loads(line)["time_us"] >= c:
        print(line.decode().rstrip("\n"))
        break
PY
}
"$B" synth --events 6000 --rate 100 > seek.jsonl
"$B" synth --events 6000 --rate 100 --jitter-frac 0.5 --jitter-us 60000000 > seekj.jsonl
ss_check "the seek input is over 1 MiB" test "$(stat -c %s seek.jsonl)" -gt 1048576
cur=$(( $(head -n1 seek.jsonl | jq .time_us) + 45 * 1000000 ))
for f in seek seekj; do
  net_replay "$f" --jsonl "$f.jsonl"
  port_var="RP_PORT_$f"
  timeout 30 "$B" cat --source "jetstream:ws://127.0.0.1:${!port_var}/subscribe" --cursor "$cur" --wanted-collections '*' \
    --limit 1 > "$f.first" 2>/dev/null || true
  ss_check "$f: the first event is the first at or after the cursor" \
    python3 "$SKYSPOOL_SRC/tests/lib/json_equal.py" <(first_at "$f.jsonl" "$cur") "$f.first"
done
ss_check "ordered file: the cursor was found by binary search" grep -q "found by binary search at byte [1-9]" "$RP_LOG_seek"
ss_check "out-of-order file: read from the start, and says why" grep -q "read from the start: the file is not in time order" "$RP_LOG_seekj"
net_stop "$RP_PID_seek"
net_stop "$RP_PID_seekj"

# 4. SIGTERM: clean stop with a summary.
kill -TERM "$RP_PID_s"; set +e; wait "$RP_PID_s"; rc=$?; set -e
ss_eq "SIGTERM: exit 0" 0 "$rc"
ss_check "SIGTERM: summary logged" grep -q "stopping: .* connections, .* messages" "$RP_LOG_s"

# 5. zstd-compressed JSONL input.
zstd -q -f in.jsonl -o in.jsonl.zst
net_replay z --jsonl in.jsonl.zst
timeout 30 "$B" cat --source "jetstream:ws://127.0.0.1:$RP_PORT_z/subscribe" --wanted-collections '*' --limit "$n" \
  > z.jsonl 2>/dev/null
ss_check "zstd-compressed input: the same stream" cmp -s all.exp z.jsonl
net_stop "$RP_PID_z"

# 6. IPv6 loopback, where the machine has it.
if python3 -c 'import socket; s=socket.socket(socket.AF_INET6); s.bind(("::1",0))' 2>/dev/null; then
  rm -f v6.port
  "$B" replay-server --listen '[::1]:0' --port-file v6.port --jsonl in.jsonl 2> v6.log &
  v6pid=$!; SS_PIDS+=("$v6pid")
  ss_wait_for 20 test -s v6.port || true
  timeout 30 "$B" cat --source "jetstream:ws://[::1]:$(cat v6.port)/subscribe" --wanted-collections '*' --limit "$n" \
    > v6.jsonl 2> v6cat.log
  ss_check "IPv6 [::1]: the whole stream" cmp -s all.exp v6.jsonl
  ss_check "IPv6 [::1]: logged with brackets" grep -q "connected to ws://\[::1\]:" v6cat.log
  net_stop "$v6pid"
fi

# 7. Pacing. --rate 500 for 300 events takes >= 0.55 s; --original-timing replays 40 events
#    spaced 50 ms in >= 1.8 s; as fast as possible is much quicker than both.
head -300 in.jsonl > r300.jsonl
net_replay rate --jsonl r300.jsonl --rate 500
t0=$(date +%s.%N)
timeout 30 "$B" cat --source "jetstream:ws://127.0.0.1:$RP_PORT_rate/subscribe" --wanted-collections '*' --limit 300 \
  > rate.jsonl 2>/dev/null
t1=$(date +%s.%N)
ss_eq "--rate: every event" 300 "$(wc -l < rate.jsonl)"
ss_check "--rate 500: 300 events took >= 0.55 s ($(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b-a}') s)" \
  awk -v a="$t0" -v b="$t1" 'BEGIN { exit !(b - a >= 0.55) }'
net_stop "$RP_PID_rate"
net_gen 40 50000 ot.jsonl
net_replay ot --jsonl ot.jsonl --original-timing
t0=$(date +%s.%N)
timeout 30 "$B" cat --source "jetstream:ws://127.0.0.1:$RP_PORT_ot/subscribe" --wanted-collections '*' --limit 40 \
  > ot.out 2>/dev/null
t1=$(date +%s.%N)
ss_check "--original-timing: every event, in order" cmp -s ot.jsonl ot.out
ss_check "--original-timing: 40 events 50 ms apart took >= 1.8 s ($(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b-a}') s)" \
  awk -v a="$t0" -v b="$t1" 'BEGIN { exit !(b - a >= 1.8) }'
net_stop "$RP_PID_ot"
net_replay fast --jsonl ot.jsonl
t0=$(date +%s.%N)
timeout 30 "$B" cat --source "jetstream:ws://127.0.0.1:$RP_PORT_fast/subscribe" --wanted-collections '*' --limit 40 \
  > fast.out 2>/dev/null
t1=$(date +%s.%N)
ss_check "default pacing: the same 40 events in < 1.5 s" awk -v a="$t0" -v b="$t1" 'BEGIN { exit !(b - a < 1.5) }'

ss_done
