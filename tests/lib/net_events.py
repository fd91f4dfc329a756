#!/usr/bin/env python3
"""Test data for the live-source tests: Jetstream v1 events with distinct identities
and strictly increasing time_us, built from `skyspool synth` events and, when present, the
real sample events in $SKYSPOOL_SHARED/samples (the tests run without them).

usage: net_events.py gen N SPACING_US OUT.jsonl
       net_events.py filter IN.jsonl WANTED [CURSOR]   (prints what a Jetstream server
                                                         would send: WANTED is a comma list
                                                         of NSIDs / prefix.* or '-' for all)
"""
import glob
import json
import os
import subprocess
import sys


def usable(line, out):
    line = line.strip()
    if not line:
        return
    ev = json.loads(line)
    if ev.get("kind") in ("commit", "identity", "account") and "time_us" in ev:
        out.append(ev)


def crafted(synth):
    """Events the tests need that 400 synth events may lack: identity and account events and
    commits outside app.bsky (a prefix filter's second prefix, a collection it drops)."""
    like = next(e for e in synth if e["kind"] == "commit" and e["commit"]["collection"] == "app.bsky.feed.like"
                and "record" in e["commit"])
    out = []
    for coll in ("place.stream.broadcast.origin", "org.hypercerts.claim.activity"):
        ev = json.loads(json.dumps(like))
        ev["commit"]["collection"] = coll
        ev["commit"]["record"]["$type"] = coll
        out.append(ev)
    t = like["time_us"]
    out.append({"did": like["did"], "time_us": t, "kind": "identity",
                "identity": {"did": like["did"], "handle": "crafted.test", "seq": 1, "time": "2025-08-07T00:00:00.000Z"}})
    out.append({"did": like["did"], "time_us": t, "kind": "account",
                "account": {"active": True, "did": like["did"], "seq": 2, "time": "2025-08-07T00:00:00.000Z"}})
    return out


def samples():
    # Generated events: always there (SKYSPOOL_BIN is the binary under test), with a few
    # crafted ones spread among them.
    synth_lines = subprocess.run([os.environ["SKYSPOOL_BIN"], "synth", "--events", "400", "--seed", "21"],
                                 check=True, capture_output=True, text=True).stdout
    synth = []
    for line in synth_lines.splitlines():
        usable(line, synth)
    out = []
    extra = crafted(synth)
    step = len(synth) // (len(extra) + 1)
    for i, ev in enumerate(synth):
        out.append(ev)
        if i % step == step - 1 and extra:
            out.append(extra.pop(0))
    out.extend(extra)
    # The real samples, in addition, when they are next to the repo.
    shared = os.environ.get("SKYSPOOL_SHARED") or os.path.join(os.environ["SKYSPOOL_SRC"], "..", "shared")
    for path in sorted(glob.glob(os.path.join(shared, "samples", "*.jsonl"))):
        with open(path, encoding="utf-8") as f:
            for line in f:
                usable(line, out)
    return out


def gen(n, spacing, out_path):
    base = samples()
    t0 = 1_750_000_000_000_000
    with open(out_path, "w", encoding="utf-8") as f:
        for i in range(n):
            ev = json.loads(json.dumps(base[i % len(base)]))
            ev["time_us"] = t0 + i * spacing
            if ev["kind"] == "commit":
                ev["commit"]["rkey"] = "3k%010d" % i
                ev["commit"]["rev"] = "3r%010d" % i
            else:
                body = ev[ev["kind"]]
                body["seq"] = 1_000_000 + i
            f.write(json.dumps(ev, separators=(",", ":"), ensure_ascii=False) + "\n")


def wanted_match(wanted, coll):
    if wanted is None:
        return True
    for w in wanted:
        if w.endswith(".*"):
            if coll.startswith(w[:-1]):
                return True
        elif w == coll:
            return True
    return False


def filt(in_path, wanted_arg, cursor):
    wanted = None if wanted_arg == "-" else wanted_arg.split(",")
    passed = cursor is None
    with open(in_path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            ev = json.loads(line)
            if not passed:
                if ev["time_us"] < cursor:
                    continue
                passed = True
            if ev["kind"] == "commit" and not wanted_match(wanted, ev["commit"]["collection"]):
                continue
            sys.stdout.write(line + "\n")


if __name__ == "__main__":
    if sys.argv[1] == "gen":
        gen(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
    elif sys.argv[1] == "filter":
        filt(sys.argv[2], sys.argv[3], int(sys.argv[4]) if len(sys.argv) > 4 else None)
    else:
        sys.exit(__doc__)
