#!/usr/bin/env bash
# I/O fault injection, SQLite style (tests/faultfs/libssfaultfs.so, LD_PRELOAD): a small
# run of a command is first made with the shim only counting the I/O calls on the files
# under test; then the command is rerun once for every call N, failing exactly that call
# (ENOSPC, EIO, EACCES in turn), and sometimes every call from N on (a disk that stays
# full). Each run must either
#   - fail with exit status 1 and a message that names the error (strerror text), or
#   - succeed with exactly the output of the fault-free run;
# never crash (signal, sanitizer report), and never leave a file under its final name that
# differs from the fault-free run's file (no partial Parquet or rejects file).
#   1. `skyspool convert`: every call of a one-partition run; the open/fsync/rename/close/
#      mkdir calls of a seven-partition run with rejects, plus every 10th write.
#   2. the `file:` and `frames:` sources through `skyspool cat` (plain and .zst): every
#      open/read/close; the output printed before the error is a prefix of the full output.
source "$SKYSPOOL_SRC/tests/lib/harness.sh"
source "$SKYSPOOL_SRC/tests/faultfs/faultfs.sh"

[ -f "$FAULTFS_LIB" ] || { ss_fail "fault shim not built: $FAULTFS_LIB"; ss_done; }
errnos=(ENOSPC EIO EACCES)
declare -A errtext=([ENOSPC]="No space left on device" [EIO]="Input/output error" [EACCES]="Permission denied")

# Final-named files of an output tree with their checksums (temporary files excluded).
snapshot() { [ -d "$1" ] || return 0; (cd "$1" && find . -type f ! -name '.*' -exec sha256sum {} + 2>/dev/null | sort -k2); }
tmpfiles() { find "$1" -name '.*.tmp' 2>/dev/null | wc -l; }

# ---- 1. convert ------------------------------------------------------------------------
in=$SS_TMP/in
mkdir -p "$in"
"$SKYSPOOL_BIN" synth --events 400 --seed 5 --bad-frac 0.05 > "$in/all.jsonl"
# One partition: likes only, plus two malformed lines for the rejects file.
{ grep '"collection":"app.bsky.feed.like"' "$in/all.jsonl" | sed -n 1,40p; echo '{"did":'; echo 'not json'; } > "$in/one.jsonl"
sed -n 1,200p "$in/all.jsonl" > "$in/many.jsonl"

convert_case() { # name input [max calls: sample writes]
  local name=$1 input=$2 sample=${3:-0}
  local out=$SS_TMP/out-$name ref=$SS_TMP/ref-$name
  "$SKYSPOOL_BIN" convert --out "$ref" --no-progress --tag t "$input" >/dev/null 2>&1
  local want
  want=$(snapshot "$ref")
  local calls
  calls=$(ss_fault_count "$out" "$SKYSPOOL_BIN" convert --out "$out" --no-progress --tag t "$input")
  ss_eq "convert $name: counting run output equals the reference" "$want" "$(snapshot "$out")"
  ss_log "convert $name: $calls I/O calls on the output tree"
  [ "${calls:-0}" -gt 10 ] || { ss_fail "convert $name: too few I/O calls counted ($calls)"; return; }
  local bad=0 runs=0 failed_runs=0 known=0 n
  for ((n = 1; n <= calls; n++)); do
    local op
    op=$(sed -n "${n}p" "$SS_TMP/fault.trace" 2>/dev/null | awk '{print $2}')
    if [ "$sample" -gt 0 ] && [ "$op" = write ] && [ $((n % sample)) -ne 0 ]; then continue; fi
    local e=${errnos[$((n % 3))]}
    local persist=0
    [ $((n % 4)) -eq 0 ] && persist=1
    rm -rf "$out"
    local rc=0
    SS_FAULT_PERSIST=$persist ss_fault_run "$n" "$e" "$out" "$SKYSPOOL_BIN" convert --out "$out" --no-progress --tag t "$input" || rc=$?
    runs=$((runs + 1))
    local what="convert $name: call $n ($op) failing with $e (persist $persist)"
    if [ "$rc" -eq 0 ]; then
      if [ "$(snapshot "$out")" != "$want" ]; then
        ss_fail "$what: exit 0 but the output differs from the fault-free run"; bad=$((bad + 1))
      fi
    elif [ "$rc" -eq 1 ] || { [ "$rc" -eq 6 ] && [ "$e" = EACCES ]; }; then # io, or permission (src/cli/exit.c)
      failed_runs=$((failed_runs + 1))
      if ! grep -q "${errtext[$e]}" "$SS_TMP/fault.err"; then
        ss_fail "$what: exit 1 without naming the error: $(head -c 300 "$SS_TMP/fault.err")"; bad=$((bad + 1))
      fi
      # Every final-named file is the complete fault-free one.
      local partial
      partial=$(join -1 2 -2 2 -v 1 <(snapshot "$out") <(echo "$want") | head -3)
      if [ -n "$partial" ]; then
        ss_fail "$what: partial or wrong file under its final name: $partial"; bad=$((bad + 1))
      fi
      if [ "$op" != unlink ] && [ "$persist" = 0 ] && [ "$(tmpfiles "$out")" -ne 0 ]; then
        local left
        left=$(find "$out" -name '.*.tmp' | head -2)
        # Once a known bug (fixed on main): finish_rejects() in src/cli/cmd_convert.c left
        # _rejects/.rejects-TAG.jsonl.tmp behind when finishing the rejects file failed.
        # Strict by default; SS_FAULT_STRICT=0 tolerates it again (counted).
        if [ "${SS_FAULT_STRICT:-1}" != 1 ] && ! echo "$left" | grep -qv '/_rejects/\.rejects-'; then
          known=$((known + 1))
        else
          ss_fail "$what: temporary files left behind: $left"; bad=$((bad + 1))
        fi
      fi
    else
      ss_fail "$what: exit $rc (crash or usage error): $(tail -c 600 "$SS_TMP/fault.err")"; bad=$((bad + 1))
    fi
    [ "$bad" -ge 5 ] && { ss_log "convert $name: stopping after 5 failures"; break; }
  done
  ss_log "convert $name: $runs fault runs, $failed_runs reported an error"
  [ "$known" -eq 0 ] || ss_log "convert $name: KNOWN BUG seen $known times: rejects temp file left after a failed finish"
  ss_eq "convert $name: every injected fault gave a clear error or the full output" 0 "$bad"
  [ "$failed_runs" -gt 0 ] && ss_pass "convert $name: faults were injected ($failed_runs runs failed cleanly)" \
    || ss_fail "convert $name: no fault run failed: the shim did not inject"
}

convert_case one "$in/one.jsonl"
convert_case many "$in/many.jsonl" 10

# ---- 2. file: source ---------------------------------------------------------------------
src=$SS_TMP/src
mkdir -p "$src"
sed -n 1,300p "$in/all.jsonl" > "$src/ev.jsonl"
zstd -q -19 "$src/ev.jsonl" -o "$src/ev.jsonl.zst"
# cat_case SCHEME FILE: every open/read/close of FILE read through the source.
cat_case() {
  local scheme=$1 f=$2 calls bad=0 n e op rc what size
  "$SKYSPOOL_BIN" cat --source "$scheme:$src/$f" --quiet > "$SS_TMP/cat.ref" 2>/dev/null
  calls=$(ss_fault_count "$src/$f" "$SKYSPOOL_BIN" cat --source "$scheme:$src/$f" --quiet)
  ss_check "cat $scheme:$f: counting run prints the same events" cmp -s "$SS_TMP/cat.ref" "$SS_TMP/fault.out"
  [ "$(wc -l < "$SS_TMP/cat.ref")" -gt 50 ] || ss_fail "cat $scheme:$f: the reference run printed too little"
  [ "${calls:-0}" -ge 2 ] || ss_fail "cat $scheme:$f: too few I/O calls counted ($calls)"
  for ((n = 1; n <= calls; n++)); do
    e=${errnos[$((n % 3))]}
    op=$(sed -n "${n}p" "$SS_TMP/fault.trace" | awk '{print $2}')
    rc=0
    ss_fault_run "$n" "$e" "$src/$f" "$SKYSPOOL_BIN" cat --source "$scheme:$src/$f" --quiet || rc=$?
    what="cat $scheme:$f: call $n ($op) failing with $e"
    if [ "$rc" -eq 0 ]; then
      cmp -s "$SS_TMP/cat.ref" "$SS_TMP/fault.out" || { ss_fail "$what: exit 0 with different output"; bad=$((bad + 1)); }
    elif [ "$rc" -eq 1 ] || { [ "$rc" -eq 6 ] && [ "$e" = EACCES ]; }; then # io, or permission (src/cli/exit.c)
      grep -q "${errtext[$e]}" "$SS_TMP/fault.err" || { ss_fail "$what: error not named: $(head -c 300 "$SS_TMP/fault.err")"; bad=$((bad + 1)); }
      grep -qF "$src/$f" "$SS_TMP/fault.err" || { ss_fail "$what: error does not name the file: $(head -c 300 "$SS_TMP/fault.err")"; bad=$((bad + 1)); }
      size=$(stat -c %s "$SS_TMP/fault.out")
      cmp -s -n "$size" "$SS_TMP/cat.ref" "$SS_TMP/fault.out" || { ss_fail "$what: output is not a prefix of the full output"; bad=$((bad + 1)); }
    else
      ss_fail "$what: exit $rc: $(tail -c 600 "$SS_TMP/fault.err")"; bad=$((bad + 1))
    fi
  done
  ss_eq "cat $scheme:$f: each of $calls injected faults gave a clear error or the full output" 0 "$bad"
}
cat_case file ev.jsonl
cat_case file ev.jsonl.zst

# ---- 3. frames: source -----------------------------------------------------------------
# Well-formed events only: fh_mkframes is a test tool, not a validator.
"$SKYSPOOL_BIN" synth --events 300 --seed 6 > "$src/good.jsonl"
"$SKYSPOOL_BUILD/fh_mkframes" "$src/ev.frames" < "$src/good.jsonl" 2>/dev/null
"$SKYSPOOL_BUILD/fh_mkframes" "$src/ev.frames.zst" < "$src/good.jsonl" 2>/dev/null
cat_case frames ev.frames
cat_case frames ev.frames.zst

ss_done
