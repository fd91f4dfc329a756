#!/usr/bin/env bash
# One error model (issue 14): the same failure exits with the same status from every
# command (src/cli/exit.c: 1 io, 2 usage, 5 auth, ...), the message of a 300-character path
# keeps its cause, and each error is printed once. A wrong password is refused at once by
# ingest, write and status (auth, exit 5), a missing file by cat, convert, ingest and verify
# (io, exit 1), a bad flag by every command (usage, exit 2).
source "$SKYSPOOL_SRC/tests/lib/harness.sh"
B=$SKYSPOOL_BIN
cd "$SS_TMP"

# run NAME CMD...: exit status in RC_NAME, stderr in NAME.err (stdout dropped)
run() {
  local n=$1; shift
  set +e
  timeout 60 "$@" > /dev/null 2> "$n.err"
  printf -v "RC_$n" '%s' "$?"
  set -e
}
# lines of NAME.err that carry a message (the usage hint "Run 'skyspool X --help'" is not one)
msgs() { grep -cv "^Run 'skyspool" "$1.err" || true; }

# --- a missing file: io, 1, from every command that reads one --------------------------
seg=$(printf 'x%.0s' $(seq 1 100))
long="$SS_TMP/$seg/$seg/$seg.jsonl" # over 300 characters, each name under NAME_MAX
run cat "$B" cat --source "file:$SS_TMP/missing.jsonl"
run convert "$B" convert --out "$SS_TMP/arch" "$SS_TMP/missing.jsonl"
run ingest "$B" ingest --source "file:$SS_TMP/missing.jsonl" --data-dir "$SS_TMP/dd"
run verify "$B" verify --out "$SS_TMP/arch" --ledger "$SS_TMP/missing.sqlite"
for c in cat convert ingest verify; do
  v="RC_$c"
  ss_eq "missing file: $c exits 1 (io)" 1 "${!v}"
  ss_eq "missing file: $c prints its error once" 1 "$(msgs "$c")"
  ss_check "missing file: $c names the cause" grep -qi "no such file\|does not exist\|no ledger" "$c.err"
done
run catlong "$B" cat --source "file:$long"
run ingestlong "$B" ingest --source "file:$long" --data-dir "$SS_TMP/dd"
for c in catlong ingestlong; do
  v="RC_$c"
  ss_eq "300-character path: $c exits 1" 1 "${!v}"
  ss_check "300-character path: $c keeps the cause" grep -q "No such file or directory" "$c.err"
  ss_check "300-character path: $c keeps the whole path" grep -qF "$long" "$c.err"
done
ss_check "no data dir was created for a source that cannot open" test ! -e "$SS_TMP/dd"

# --- a bad flag, or a bad source spec: usage, 2, everywhere -----------------------------
for c in cat convert ingest verify write status audit runs synth gaps run acl migrate check record; do
  run "flag_$c" "$B" "$c" --no-such-flag
  v="RC_flag_$c"
  ss_eq "bad flag: $c exits 2 (usage)" 2 "${!v}"
  ss_eq "bad flag: $c prints its error once" 1 "$(msgs "flag_$c")"
done
run spec_cat "$B" cat --source "synth:nonsense=1"
run spec_ingest "$B" ingest --source "synth:nonsense=1" --data-dir "$SS_TMP/dd"
# a path holding the word "required" is still a missing file (io), not a usage error
run req_cat "$B" cat --source "file:$SS_TMP/required-must-be.jsonl"
ss_eq "bad source spec: cat exits 2" 2 "$RC_spec_cat"
ss_eq "bad source spec: ingest exits 2" 2 "$RC_spec_ingest"
ss_eq "a missing file named 'required-must-be': still 1 (io)" 1 "$RC_req_cat"

# --- a wrong password: auth, 5, from every command that talks to Redis -----------------
ss_start_redis pw --requirepass s3cret
U="redis://:wrong@127.0.0.1:$REDIS_PORT_pw"
printf '{"did":"did:plc:x"}\n' > one.jsonl
mkdir -p wd
t0=$(date +%s)
run au_ingest "$B" ingest --source file:one.jsonl --redis "$U"
run au_write "$B" write --once --out "$SS_TMP/warch" --data-dir "$SS_TMP/wd" --redis "$U"
run au_status "$B" status --redis "$U"
run na_status "$B" status --redis "redis://127.0.0.1:$REDIS_PORT_pw"
t1=$(date +%s)
for c in au_ingest au_write au_status na_status; do
  v="RC_$c"
  ss_eq "wrong/no password: ${c#*_} exits 5 (auth)" 5 "${!v}"
  ss_eq "wrong/no password: ${c#*_} prints its error once" 1 "$(grep -c 'WRONGPASS\|NOAUTH' "$c.err" || true)"
done
ss_check "refused at once (no retries): $((t1 - t0)) s for four commands" test $((t1 - t0)) -le 20
# Redis unreachable is io, not auth
run down_status "$B" status --redis "redis://127.0.0.1:$(ss_free_port)"
ss_eq "Redis unreachable: status exits 1 (io)" 1 "$RC_down_status"
# a peer on Redis's port that does not speak RESP (here: an HTTP answer) is protocol, 4
pport=$(ss_free_port)
python3 -c '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(4); s.settimeout(30)
open(sys.argv[2], "w").write("listening")
c, _ = s.accept(); c.recv(256); c.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n"); c.close()
' "$pport" proto.ready &
ppid=$!
ss_wait_for 10 test -s proto.ready
run proto_status "$B" status --redis "redis://127.0.0.1:$pport"
wait "$ppid" 2>/dev/null || true
ss_eq "not Redis on the port: status exits 4 (protocol)" 4 "$RC_proto_status"
ss_check "  and quotes what hiredis saw" grep -q "Protocol error" proto_status.err


# --- malformed stored state or input: data, 3 ----------------------------------------------
: > empty.password; chmod 600 empty.password
printf 'one\ntwo\n' > two.password; chmod 600 two.password
run data_empty "$B" status --redis "redis://127.0.0.1:$REDIS_PORT_pw" --redis-password-file empty.password
run data_two "$B" ingest --source file:one.jsonl --redis "redis://127.0.0.1:$REDIS_PORT_pw" --redis-password-file two.password
ss_eq "an empty password file: status exits 3 (data)" 3 "$RC_data_empty"
ss_eq "a multi-line password file: ingest exits 3 (data)" 3 "$RC_data_two"
ss_check "  and says what is wrong with the file" grep -qi "empty\|line" data_empty.err

# --- README's exit-status table is the one in src/cli/exit.c --------------------------------
code=$(grep -o '\[SS_ERR_[A-Z]*\] = [0-9]' "$SKYSPOOL_SRC/src/cli/exit.c" | sed 's/\[SS_ERR_\([A-Z]*\)\] = \([0-9]\)/\2 \1/' | tr 'A-Z' 'a-z' | grep -v ' none$' | sort -n)
doc=$(grep -E '^\| [0-9] \| [a-z]+ \|' "$SKYSPOOL_SRC/README.md" | awk -F'|' '{gsub(/ /, "", $2); gsub(/ /, "", $3); print $2, $3}' | sort -n)
ss_eq "README's exit table has exit.c's 8 classes" 8 "$(echo "$doc" | wc -l)"
ss_eq "README's exit table matches src/cli/exit.c" "$code" "$doc"
ss_done
