#!/usr/bin/env bash
# frames_cat: `skyspool cat --source frames:FILE[.zst]` prints exactly the Jetstream events
# the frames encode. Frames are real firehose frames (DAG-CBOR, CIDs, CAR with a signed
# commit and MST-like blocks) built by tests/tools/fh_mkframes from `skyspool synth` output
# and from the real Jetstream samples; resume by seq, damaged files and flags are checked.
source "$(dirname "$0")/../lib/harness.sh"

MK=${SKYSPOOL_BUILD:?run through ctest}/fh_mkframes
[ -x "$MK" ] || { ss_fail "fh_mkframes not built"; ss_done; exit 1; }
cd "$SS_TMP"

# 1. synth -> frames (plain and zstd) -> cat == expected (input with frame time_us and real CIDs)
"$SKYSPOOL_BIN" synth --events 3000 --seed 11 > synth.jsonl
"$MK" --filler 3000 --expect expect.jsonl --seqs seqs.txt synth.frames < synth.jsonl 2> mk.log
"$MK" --filler 3000 synth.frames.zst < synth.jsonl 2>> mk.log
ss_eq "expected events, one per input line" "$(wc -l < synth.jsonl)" "$(wc -l < expect.jsonl)"
rc=0
"$SKYSPOOL_BIN" cat --source frames:synth.frames > out.jsonl 2> cat.err || rc=$?
ss_eq "cat frames: exits 0" 0 "$rc"
ss_check "cat frames: byte-identical to the expected events" cmp -s out.jsonl expect.jsonl
rc=0
"$SKYSPOOL_BIN" cat --source frames:synth.frames.zst > outz.jsonl 2>> cat.err || rc=$?
ss_eq "cat frames .zst: exits 0" 0 "$rc"
ss_check "cat frames .zst: byte-identical to the expected events" cmp -s outz.jsonl expect.jsonl
# the only differences from the synth input are time_us (the replay clock), made-up CIDs and
# the claimed time a frame adds to a commit (commit.time; identity/account had theirs)
strip() { sed -E 's/"time_us":[0-9]+//; s/,"time":"[^"]*"\}\}$/}}/; s/,"cid":"[a-z2-7]+"\}\}$/}}/' "$1"; }
ss_check "cat frames: same events as the synth input, time_us, claimed time and op CIDs aside" cmp -s <(strip synth.jsonl) <(strip out.jsonl)
ss_eq "commit time_us equals the synth time_us (frame time)" \
  "$(grep '"kind":"commit"' synth.jsonl | sed -E 's/.*"time_us":([0-9]+).*/\1/' | md5sum)" \
  "$(grep '"kind":"commit"' out.jsonl | sed -E 's/.*"time_us":([0-9]+).*/\1/' | md5sum)"
rc=0
"$SKYSPOOL_BIN" cat --no-verify-cids --source frames:synth.frames > nv.jsonl 2>/dev/null || rc=$?
ss_check "--no-verify-cids gives the same events" cmp -s nv.jsonl expect.jsonl
rc=0
"$SKYSPOOL_BIN" cat --source frames:- < synth.frames.zst > stdin.jsonl 2>/dev/null || rc=$?
ss_check "frames:- reads stdin (zstd detected by magic)" cmp -s stdin.jsonl expect.jsonl

# 2. resume: --cursor C skips every frame with seq <= C
cur=$(sed -n '1700p' seqs.txt)
paste -d' ' seqs.txt expect.jsonl | awk -v c="$cur" '$1 > c' | cut -d' ' -f2- > tail.expect
"$SKYSPOOL_BIN" cat --source frames:synth.frames.zst --cursor "$cur" > tail.jsonl 2>/dev/null
ss_check "resume from cursor $cur gives exactly the later events" cmp -s tail.jsonl tail.expect
ss_eq "resume skipped the first 1700 events" "$(( $(wc -l < expect.jsonl) - 1700 ))" "$(wc -l < tail.jsonl)"

# 3. real Jetstream samples: back byte for byte with the PDSes' own CIDs (time_us aside)
#    (the synth events of 1 carry made-up CIDs, so only real captures can check real ones)
g="$SKYSPOOL_SHARED/samples/jetstream_v1_golden_2026-05-25_10events.jsonl"
if ss_shared "golden samples through real frames" samples/jetstream_v1_golden_2026-05-25_10events.jsonl; then
  "$MK" --filler 4000 golden.frames.zst < "$g" 2>> mk.log
  "$SKYSPOOL_BIN" cat --source frames:golden.frames.zst > golden.out 2>/dev/null
  ss_check "golden samples round-trip through real frames (CIDs included)" \
    cmp -s <(sed -E 's/"time_us":[0-9]+//; s/,"time":"[^"]*"\}\}$/}}/' "$g") \
           <(sed -E 's/"time_us":[0-9]+//; s/,"time":"[^"]*"\}\}$/}}/' golden.out)
fi

# 4. a recording cut short: the whole frames before the cut, a 'truncated' report, exit 0
size=$(stat -c %s synth.frames)
head -c $(( size / 2 )) synth.frames > cut.frames
rc=0
"$SKYSPOOL_BIN" cat --source frames:cut.frames > cut.jsonl 2> cut.err || rc=$?
ss_eq "cut file: exits 0" 0 "$rc"
ss_check "cut file: reports the truncation" grep -q "truncated=1" cut.err
n=$(wc -l < cut.jsonl)
ss_check "cut file: output is a prefix of the expected events ($n lines)" cmp -s cut.jsonl <(head -n "$n" expect.jsonl)
ss_check "cut file: about half the events" test "$n" -gt 1000 -a "$n" -lt 2000

# 5. corruption: a flipped byte inside a record block is a cid_mismatch, the rest flows
python3 - <<'EOF'
data = bytearray(open("synth.frames", "rb").read())
# flip a byte in the middle of frame 10's last bytes region (records follow the filler)
off = 0
for i in range(10):
    n = int.from_bytes(data[off:off+4], "little"); off += 4 + n
n = int.from_bytes(data[off:off+4], "little")
body = data[off+4:off+4+n]
# the record of a like/follow/... contains "createdAt"; flip a byte of its value
k = body.rfind(b"createdAt")
data[off+4+k+14] ^= 0x01
open("flip.frames", "wb").write(bytes(data))
EOF
rc=0
"$SKYSPOOL_BIN" cat --source frames:flip.frames > flip.jsonl 2> flip.err || rc=$?
ss_eq "flipped byte: exits 0" 0 "$rc"
ss_check "flipped byte: reported as cid_mismatch" grep -q "cid_mismatch=1" flip.err
ss_eq "flipped byte: every other event still printed" "$(( $(wc -l < expect.jsonl) - 1 ))" "$(wc -l < flip.jsonl)"

# 6. flags and help
rc=0
"$SKYSPOOL_BIN" cat --source frames: > /dev/null 2> e.err || rc=$?
ss_eq "frames: without a path is a usage error (2)" 2 "$rc"
ss_check "cat --help lists frames:" sh -c '"$0" cat --help | grep -q "frames:PATH"' "$SKYSPOOL_BIN"
ss_done
