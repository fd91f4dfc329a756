#!/usr/bin/env bash
# replay-server as a protocol emulator, and how skyspool's live sources answer each mode:
#   --history N        no cursor = live: a client without a cursor starts after N records
#   --future-cursor    a cursor past the last seq -> error frame FutureCursor, closed; the
#                      firehose source reports a gap and reconnects at live (not cursor=0)
#   --window N + --outdated-cursor
#                      only N records retained; an older cursor gets #info OutdatedCursor and
#                      the oldest retained onwards; the source reports the gap with its end
#   --window N (JSONL) Jetstream's silent clamp to the oldest retained event; reported as a gap
#   --seq-reset N:BASE the relay's numbering restarts; the source follows it across reconnects
#   --ping-only DUR    see stall_pings.sh
# Fixtures are made here (synth, fh_mkframes). Loopback only.
source "$SKYSPOOL_SRC/tests/lib/harness.sh"
source "$SKYSPOOL_SRC/tests/lib/net.sh"
MK=${SKYSPOOL_BUILD:?run through ctest}/fh_mkframes
cd "$SS_TMP"
P=/xrpc/com.atproto.sync.subscribeRepos
# one event per frame: commits only, distinct revs (synth), frames seq 1..F
"$SKYSPOOL_BIN" synth --events 120 --seed 6 | grep '"kind":"commit"' |
  awk '{ sub(/"rev":"[^"]*"/, "\"rev\":\"3r" sprintf("%06d", NR) "\""); print }' > c.jsonl
"$MK" --expect exp.jsonl --seqs seqs.txt f.frames < c.jsonl 2> mk.log
F=$(tail -1 seqs.txt)
notime() { sed -E 's/"time_us":[0-9]+,//' "$1"; }
after() { paste -d' ' seqs.txt exp.jsonl | awk -v c="$1" '$1 > c' | cut -d' ' -f2- | sed -E 's/"time_us":[0-9]+,//'; }
ss_log "$F frames"

# 1. --history 20: without a cursor, the live tail only.
net_replay h --frames f.frames --history 20
timeout 30 "$SKYSPOOL_BIN" cat --source "firehose:ws://127.0.0.1:$RP_PORT_h$P" --limit $((F - 20)) > h.out 2> h.log || true
ss_check "history: no cursor starts at live (seq 21 on)" cmp -s <(after 20) <(notime h.out)
# with a cursor, history is reachable
timeout 30 "$SKYSPOOL_BIN" cat --source "firehose:ws://127.0.0.1:$RP_PORT_h$P" --cursor 5 --limit $((F - 5)) > h2.out 2> h2.log || true
ss_check "history: a cursor reaches into history (seq 6 on)" cmp -s <(after 5) <(notime h2.out)
net_stop "$RP_PID_h"

# 2. --future-cursor.
net_replay fc --frames f.frames --history 20 --future-cursor
timeout 30 "$SKYSPOOL_BIN" cat --source "firehose:ws://127.0.0.1:$RP_PORT_fc$P" --cursor 99999 --limit $((F - 20)) \
  > fc.out 2> fc.log || true
ss_check "future cursor: the server answered FutureCursor" grep -q "answering FutureCursor" "$RP_LOG_fc"
ss_check "future cursor: a gap is reported" grep -q "gap: source=firehose:.* reason=future_cursor unit=seq from=99999 to=-1" fc.log
ss_check "future cursor: reconnected without a cursor" grep -q "connected to ws://127.0.0.1:$RP_PORT_fc$P\$" fc.log
ss_check "future cursor: never asked for cursor=0" bash -c "! grep -q 'cursor=0' fc.log"
ss_check "future cursor: then the live tail" cmp -s <(after 20) <(notime fc.out)
net_stop "$RP_PID_fc"

# 3. --window 30 --outdated-cursor.
W=30
oldest=$(sed -n "$((F - W + 1))p" seqs.txt)
net_replay oc --frames f.frames --window $W --outdated-cursor
timeout 30 "$SKYSPOOL_BIN" cat --source "firehose:ws://127.0.0.1:$RP_PORT_oc$P" --cursor 3 --limit $W > oc.out 2> oc.log || true
ss_check "outdated: the server sent #info OutdatedCursor" grep -q "cursor outdated" "$RP_LOG_oc"
ss_check "outdated: the source logged it" grep -q "#info from the server: OutdatedCursor" oc.log
ss_check "outdated: a gap 3..$((oldest - 1)) is reported" grep -q "reason=outdated_cursor unit=seq from=3 to=$((oldest - 1))" oc.log
ss_check "outdated: then the oldest retained onwards" cmp -s <(after $((oldest - 1))) <(notime oc.out)
net_stop "$RP_PID_oc"
# without --outdated-cursor the relay clamps silently (indigo#1328): still the retained frames
net_replay ow --frames f.frames --window $W
timeout 30 "$SKYSPOOL_BIN" cat --source "firehose:ws://127.0.0.1:$RP_PORT_ow$P" --cursor 3 --limit $W > ow.out 2> ow.log || true
ss_check "window without notice: the oldest retained onwards" cmp -s <(after $((oldest - 1))) <(notime ow.out)
net_stop "$RP_PID_ow"

# 4. Jetstream's clamp: events 1 s apart, the last 40 retained; a cursor at the first event.
"$SKYSPOOL_BIN" synth --events 150 --seed 7 |
  awk '{ sub(/"time_us":[0-9]+/, "\"time_us\":" sprintf("%.0f", 1750000000000000 + NR * 1000000)); print }' > j.jsonl
net_replay jc --jsonl j.jsonl --window 40
timeout 30 "$SKYSPOOL_BIN" cat --source "jetstream:ws://127.0.0.1:$RP_PORT_jc/subscribe" --wanted-collections '*' \
  --cursor 1750000001000000 --limit 40 > jc.out 2> jc.log || true
ss_check "clamp: the last 40 events" cmp -s <(tail -40 j.jsonl) jc.out
ss_check "clamp: reported as a gap up to the first event" \
  grep -q "reason=clamped_cursor unit=time_us from=1750000001000000 to=1750000110999999" jc.log
net_stop "$RP_PID_jc"

# 5. --seq-reset: seqs 1000..1009, then 10..; a reconnect every 15 frames.
"$MK" --seq-start 1000 --expect rexp.jsonl r.frames < <(head -20 c.jsonl) 2>> mk.log
net_replay sr --frames r.frames --seq-reset 10:10 --close-after 15 --future-cursor
timeout 30 "$SKYSPOOL_BIN" cat --source "firehose:ws://127.0.0.1:$RP_PORT_sr$P" --limit 20 > sr.out 2> sr.log || true
ss_check "seq reset: every event across the reset and the reconnect" cmp -s <(notime rexp.jsonl) <(notime sr.out)
ss_check "seq reset: reported" grep -q "reason=seq_reset unit=seq from=1009 to=10" sr.log
ss_check "seq reset: the reconnect asked for the new numbering (cursor=14)" grep -q "cursor=14\$" sr.log
ss_check "seq reset: never for the old one" bash -c "! grep -q 'cursor=1009' sr.log"
net_stop "$RP_PID_sr"

# 6. Usage: firehose behaviours need --frames.
rc=0; "$SKYSPOOL_BIN" replay-server --jsonl j.jsonl --future-cursor > /dev/null 2> u.err || rc=$?
ss_eq "usage: --future-cursor with --jsonl is refused" 2 "$rc"
ss_done
