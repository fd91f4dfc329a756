#!/usr/bin/env bash
# The writer reads every form a buffered entry can take, and derives the same dedup key
# and time from each:
#   meta   the ingester's form, one pair: "<key hex> <time_us>" <event>
#   tk     entries buffered by skyspool before 2026-11: e <event> t <time_us> k <key hex>
#   bare   e <event> alone (a hand-made or foreign entry): the writer decodes the JSON
#   badtk  e <event> with a malformed t and k: the writer decodes the JSON
# Every event is buffered twice, in two different forms: exactly one row per event means
# every form yields the same key and time. Entries without an event field, or with one that
# is not JSON, go to the writer's dead-letter stream with their reason.
source "$SKYSPOOL_SRC/tests/lib/harness.sh"
source "$SKYSPOOL_SRC/tests/lib/writer.sh"
B=$SKYSPOOL_BIN
ss_start_redis r
U=$REDIS_URL_r
PORT=${U##*:}

"$B" synth --events 8000 --seed 31 --start 2025-03-01T10:00:00Z --rate 50 > "$SS_TMP/a.jsonl"
# the ingester writes the meta form under a staging prefix; the script below re-buffers each
# entry twice under skyspool: in the forms of its pair
"$B" ingest --source "file:$SS_TMP/a.jsonl" --redis "$U" --prefix stage: --log-level error
staged=0
for t in $WS_TYPES; do staged=$((staged + $(redis-cli -p "$PORT" XLEN "stage:$t"))); done
ss_check "staged every archived event ($staged)" test "$staged" -gt 7000

python3 - "$PORT" $WS_TYPES > "$SS_TMP/forms.txt" <<'PY'
import socket, sys
port, types = int(sys.argv[1]), sys.argv[2:]
s = socket.create_connection(("127.0.0.1", port))
f = s.makefile("rb")

def cmd(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    s.sendall(b"".join(out))
    return reply()

def reply():
    line = f.readline()
    t, rest = line[:1], line[1:-2]
    if t == b"-": raise RuntimeError(rest.decode())
    if t in (b"+", b":"): return rest
    if t == b"$":
        n = int(rest)
        if n < 0: return None
        data = f.read(n + 2)
        return data[:-2]
    if t == b"*":
        n = int(rest)
        return None if n < 0 else [reply() for _ in range(n)]
    raise RuntimeError("bad reply %r" % line)

pairs = [("meta", "tk"), ("tk", "bare"), ("bare", "badtk"), ("badtk", "meta")]
count = {}
i = 0
for t in types:
    for _, fields in cmd("XRANGE", "stage:" + t, "-", "+"):
        assert len(fields) == 2, fields
        meta, e = fields
        key, tus = meta.split(b" ")
        for form in pairs[i % len(pairs)]:
            args = {"meta": [meta, e], "tk": [b"e", e, b"t", tus, b"k", key], "bare": [b"e", e],
                    "badtk": [b"e", e, b"t", b"1e15", b"k", key[:31] + b"g"]}[form]
            cmd("XADD", "skyspool:" + t, "*", *args)
            count[form] = count.get(form, 0) + 1
        i += 1
# two entries the writer must reject
cmd("XADD", "skyspool:like", "*", "x", "0" * 32 + " 1740823200000000")
cmd("XADD", "skyspool:post", "*", "0" * 32 + " 1740823200000000", "{not json")
print(" ".join("%s=%d" % kv for kv in sorted(count.items())), i)
PY
ss_log "re-buffered: $(cat "$SS_TMP/forms.txt")"
read -r _ _ _ _ pairs_n < "$SS_TMP/forms.txt"
ss_eq "every staged event re-buffered" "$staged" "$pairs_n"

"$B" write --out "$SS_TMP/arch" --data-dir "$SS_TMP/dd" --redis "$U" --log-level warn --once --all --json \
  > "$SS_TMP/w.json"
ss_eq "one row per event" "$staged" "$(ws_json "$SS_TMP/w.json" rows)"
ss_eq "the second copy of each event skipped as a duplicate" "$staged" "$(ws_json "$SS_TMP/w.json" duplicates)"
ss_eq "two rejected entries" 2 "$(ws_json "$SS_TMP/w.json" dlq)"
reasons=$(redis-cli -p "$PORT" --raw XRANGE skyspool:dlq - + | awk 'p == "reason" {print} {p = $0}' | sort | tr '\n' ' ')
ss_eq "rejections carry their reasons" "no_event_field not_json " "$reasons"
ws_drained "every form" "$U"
ws_check "every form" "$SS_TMP/arch" "$SS_TMP/a.jsonl" "$SS_TMP/dd"
ss_done
