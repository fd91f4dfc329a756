#!/usr/bin/env bash
# An event dated far in the future (year 2099) must not pin the buffer. Its window could not
# close for decades, so it would stay pending and hold the stream's trim floor: Redis fills
# up behind it and the archive stops. The writer sends such events to the DLQ with reason
# time_in_future (their bytes kept there), so trimming and windows go on. Tested for a
# file: line and for a jetstream: event from a misbehaving instance (served by
# replay-server); firehose: time is skyspool's own receipt clock and cannot be in the future.
source "$SKYSPOOL_SRC/tests/lib/harness.sh"
source "$SKYSPOOL_SRC/tests/lib/writer.sh"
source "$SKYSPOOL_SRC/tests/lib/net.sh"
B=$SKYSPOOL_BIN
"$B" synth --events 6000 --seed 12 --start 2025-06-02T08:00:00Z --rate 20 > "$SS_TMP/base.jsonl"
# two likes re-dated to 2099, in the middle of the input
python3 - "$SS_TMP/base.jsonl" "$SS_TMP/in.jsonl" "$SS_TMP/expected.jsonl" <<'PY'
import json, sys
lines = open(sys.argv[1]).read().splitlines()
out, exp, n = [], [], 0
for i, line in enumerate(lines):
    e = json.loads(line)
    if n < 2 and i > 2000 and e.get("kind") == "commit" and e["commit"].get("collection") == "app.bsky.feed.like":
        e["time_us"] = 4102444800000000 + n  # 2100-01-01
        n += 1
        out.append(json.dumps(e, separators=(",", ":")))
        continue
    out.append(line); exp.append(line)
open(sys.argv[2], "w").write("\n".join(out) + "\n")
open(sys.argv[3], "w").write("\n".join(exp) + "\n")
PY
for src in file jetstream; do
  ss_start_redis "$src"
  pv="REDIS_PORT_$src"; P=${!pv}
  uv="REDIS_URL_$src"; U=${!uv}
  D="$SS_TMP/$src"
  if [ "$src" = file ]; then
    "$B" ingest --source "file:$SS_TMP/in.jsonl" --redis "$U" --log-level error
  else
    net_replay rp --jsonl "$SS_TMP/in.jsonl"
    "$B" ingest --source "jetstream:ws://127.0.0.1:$RP_PORT_rp/subscribe" --redis "$U" --log-level warn \
      2> "$D.ingest.err" & ing=$!; SS_PIDS+=($ing)
    want=$(ws_served_count "$SS_TMP/in.jsonl")
    ss_wait_for 60 bash -c "[ \$(redis-cli -p $P HGET skyspool:ingest events_total) -ge $want ]" ||
      ss_log "$src: ingester has $(redis-cli -p "$P" HGET skyspool:ingest events_total) of $want"
  fi
  # the writer daemon: the buffer must drain completely although 2099 is in it
  "$B" write --out "$D/arch" --data-dir "$D/dd" --redis "$U" --grace 1s --log-level info 2> "$D.write.err" & wr=$!
  SS_PIDS+=($wr)
  ss_check "$src: the daemon trims the whole buffer" ws_wait_drained "$U" skyspool: 90
  kill -TERM $wr; wait $wr || ss_fail "$src: writer exit non-zero"
  if [ "$src" = jetstream ]; then
    net_stop $ing; net_stop "$RP_PID_rp"
    cur=$(redis-cli -p "$P" HGET skyspool:cursor:jetstream:/subscribe cursor)
    ss_check "jetstream: the stored cursor did not jump to 2100 ($cur)" test "${cur:-0}" -lt 4102444800000000
  fi
  "$B" write --out "$D/arch" --data-dir "$D/dd" --redis "$U" --once --all --log-level warn 2>> "$D.write.err" ||
    ss_fail "$src: final write"
  ss_eq "$src: the two future events are in the DLQ as time_in_future" 2 \
    "$(redis-cli -p "$P" XRANGE skyspool:dlq - + | grep -c '^time_in_future$')"
  ws_drained "$src" "$U"
  ws_check "$src: every other event exactly once" "$D/arch" "$SS_TMP/expected.jsonl" "$D/dd"
done
ss_done
