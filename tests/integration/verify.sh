#!/usr/bin/env bash
# `skyspool verify`: an archive written by the DataWriter is proven against its ledger.
#  1. intact: exit 0, report OK, --json ok:true with every committed file checked and the
#     ledger's row total; --deep too.
#  2. each damage on its own copy of the archive, found with exit 1 and named in the report
#     and in --json: a deleted file (missing), a truncated file (size), a file overwritten
#     with other bytes of the same size (plain verify cannot see it, as documented; --deep:
#     checksum), an unknown extra part file (unknown), a footer claiming other rows (rows),
#     pages overwritten in a file whose committed SHA-256 is then made to match (as a writer
#     that wrote a broken file would have committed it): the checksum passes and only
#     --deep's row decoding finds it (decode).
#  3. usage errors exit 2; a missing ledger exits 1.
source "$SKYSPOOL_SRC/tests/lib/harness.sh"
source "$SKYSPOOL_SRC/tests/lib/writer.sh"
B=$SKYSPOOL_BIN
ss_start_redis r
U=$REDIS_URL_r
OUT="$SS_TMP/arch" DD="$SS_TMP/dd"
"$B" synth --events 20000 --seed 5 --start 2025-06-01T10:00:00Z --rate 5 > "$SS_TMP/in.jsonl"
"$B" ingest --source "file:$SS_TMP/in.jsonl" --redis "$U" --log-level error
"$B" write --out "$OUT" --data-dir "$DD" --redis "$U" --once --all --log-level error > /dev/null
files=$(find "$OUT" -name '*.parquet' | wc -l)
rows=$(ws_ledger_rows "$DD")
ss_log "archive: $files files, $rows rows"

# jv FILE EXPR: a value from verify --json output
jv() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$@"; }

# ---- 1. intact --------------------------------------------------------------------------
rc=0; "$B" verify --out "$OUT" --data-dir "$DD" > "$SS_TMP/ok.txt" || rc=$?
ss_eq "intact archive: exit 0" 0 "$rc"
ss_check "report says OK" grep -q '^OK ' "$SS_TMP/ok.txt"
rc=0; "$B" verify --out "$OUT" --data-dir "$DD" --deep --json > "$SS_TMP/ok.json" || rc=$?
ss_eq "intact archive, --deep --json: exit 0" 0 "$rc"
ss_eq "json: ok, every file checked, the ledger's rows" "True $files $files $rows 0" \
  "$(jv "$SS_TMP/ok.json" '" ".join(str(x) for x in (d["ok"], d["files_checked"], d["files_ok"], d["rows"], len(d["problems"])))')"

# damage NAME: a fresh copy of the archive in $SS_TMP/NAME
damage() { rm -rf "$SS_TMP/$1"; cp -a "$OUT" "$SS_TMP/$1"; }
# expect NAME KIND PATH [--deep]: verify finds exactly that problem, in the report and in --json
expect() {
  local name=$1 kind=$2 rel=$3; shift 3
  local rc=0
  "$B" verify --out "$SS_TMP/$name" --data-dir "$DD" "$@" > "$SS_TMP/$name.txt" || rc=$?
  ss_eq "$name: exit 1" 1 "$rc"
  ss_check "$name: report names $kind $rel" grep -qF "problem  $(printf '%-10s' "$kind") $rel" "$SS_TMP/$name.txt"
  rc=0; "$B" verify --out "$SS_TMP/$name" --data-dir "$DD" --json "$@" > "$SS_TMP/$name.json" || rc=$?
  ss_eq "$name: --json exit 1, ok false, one problem: $kind $rel" "1 False 1 $kind $rel" \
    "$rc $(jv "$SS_TMP/$name.json" '" ".join(str(x) for x in (d["ok"], len(d["problems"]), d["problems"][0]["kind"], d["problems"][0]["path"]))')"
}
mapfile -t all < <(cd "$OUT" && find . -name '*.parquet' -size +8k | sed 's#^\./##' | sort)
f1=${all[0]} f2=${all[1]} f3=${all[2]} f4=${all[3]}

# ---- 2. damage ---------------------------------------------------------------------------
damage deleted; rm "$SS_TMP/deleted/$f1"
expect deleted missing "$f1"
damage truncated; truncate -s -1000 "$SS_TMP/truncated/$f2"
expect truncated size "$f2"
# same size, other bytes: a block in the middle of the data (the footer stays intact)
damage overwritten
size=$(stat -c %s "$SS_TMP/overwritten/$f3")
dd if=/dev/urandom of="$SS_TMP/overwritten/$f3" bs=1 seek=$((size / 3)) count=512 conv=notrunc status=none
rc=0; "$B" verify --out "$SS_TMP/overwritten" --data-dir "$DD" > /dev/null || rc=$?
ss_eq "overwritten, same size: plain verify (size + footer) cannot see it (exit 0, documented)" 0 "$rc"
expect overwritten checksum "$f3" --deep
damage extra; cp "$SS_TMP/extra/$f4" "$SS_TMP/extra/${f4%.parquet}-copy.parquet"
expect extra unknown "${f4%.parquet}-copy.parquet"
# a file replaced by another committed file of the same size but other rows is a rows problem;
# simplest honest case: another valid Parquet file at the committed name, padded to the size
damage rows
# the largest file is replaced by the smallest (their order by path depends on the layout)
rb=$(cd "$OUT" && ls -S "${all[@]}" | head -1) rs=$(cd "$OUT" && ls -S "${all[@]}" | tail -1)
python3 - "$SS_TMP/rows/$rb" "$OUT/$rs" <<'PY'
import struct, sys
dst, src = sys.argv[1], sys.argv[2]
want = len(open(dst, 'rb').read()); d = open(src, 'rb').read()
assert len(d) < want, (len(d), want)
# keep src's footer (other rows) and pad its data section up to the committed size
n = struct.unpack('<I', d[-8:-4])[0]
body, foot = d[:-8 - n], d[-8 - n:]
open(dst, 'wb').write(body + b'\0' * (want - len(d)) + foot)
PY
rows_f1=$(sqlite3 "$DD/ledger.sqlite" "select rows from commits where path='$rb'")
rows_f2=$(sqlite3 "$DD/ledger.sqlite" "select rows from commits where path='$rs'")
if [ "$rows_f1" != "$rows_f2" ]; then expect rows rows "$rb"; else ss_log "the two files have the same rows: rows case skipped"; fi

# pages damaged, and the ledger's SHA-256 made to match: only decoding the rows finds it
damage undecodable; rm -rf "$SS_TMP/dd-undecodable"; cp -a "$DD" "$SS_TMP/dd-undecodable"
dd if=/dev/urandom of="$SS_TMP/undecodable/$f4" bs=1 seek=4 count=2048 conv=notrunc status=none
sha=$(sha256sum "$SS_TMP/undecodable/$f4" | cut -d' ' -f1)
sqlite3 "$SS_TMP/dd-undecodable/ledger.sqlite" "update commits set sha256='$sha' where path='$f4'"
rc=0; "$B" verify --out "$SS_TMP/undecodable" --data-dir "$SS_TMP/dd-undecodable" > /dev/null || rc=$?
ss_eq "undecodable pages, matching SHA-256: plain verify passes (footer intact)" 0 "$rc"
DD_SAVE=$DD; DD=$SS_TMP/dd-undecodable
expect undecodable decode "$f4" --deep
DD=$DD_SAVE

# ---- 3. usage and runtime errors --------------------------------------------------------
rc=0; "$B" verify --data-dir "$DD" > /dev/null 2>&1 || rc=$?
ss_eq "no --out: usage error (2)" 2 "$rc"
rc=0; "$B" verify --out "$OUT" --bogus > /dev/null 2>&1 || rc=$?
ss_eq "unknown option: usage error (2)" 2 "$rc"
rc=0; "$B" verify --out "$OUT" --data-dir "$SS_TMP/nope" > /dev/null 2> "$SS_TMP/nope.err" || rc=$?
ss_eq "no ledger: exit 1" 1 "$rc"
ss_check "no ledger: the message names the path" grep -q "no ledger at $SS_TMP/nope/ledger.sqlite" "$SS_TMP/nope.err"
"$B" verify --help | grep -q '"problems"' && ss_pass "--help documents the --json shape" || ss_fail "--help documents --json"
ss_done
