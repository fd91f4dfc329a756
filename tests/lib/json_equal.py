#!/usr/bin/env python3
"""JSON equality of two JSONL files, as multisets of events (the lossless proof of
tests/integration/archive_roundtrip.sh).

    json_equal.py EXPECTED ACTUAL [--ordered] [--drop KEY.PATH]... [--show N]

Each line is parsed and re-serialized canonically (keys sorted, strings unescaped and
escaped one way, integers exact), so two lines are equal exactly when they are the same
JSON value; the files are equal when each canonical line occurs as often in one as in the
other. --drop removes a key (dotted path, e.g. identity.did) from the events of both files
before comparing: a difference the archive is documented to make (docs/SCHEMA.md, "Reading
back"); the count of EXPECTED's events it changed is printed, so the test asserts it too.
--ordered also requires ACTUAL's time_us never to decrease.

Prints one summary line "expected=N actual=M equal=E missing=X extra=Y dropped=D
disorder=O" and, for differences, up to --show N (default 5) canonical lines of each
side. Exit status 0 when equal (and ordered when asked), 1 otherwise, 2 on bad input.
"""
import json
import sys
from collections import Counter


def canon(v):
    return json.dumps(v, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def drop(ev, path):
    parts = path.split(".")
    o = ev
    for p in parts[:-1]:
        if not isinstance(o, dict) or p not in o:
            return False
        o = o[p]
    if isinstance(o, dict) and parts[-1] in o:
        del o[parts[-1]]
        return True
    return False


def load(path, drops, counts):
    out = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                ev = json.loads(line)
            except ValueError as e:
                print(f"json_equal: {path}:{n}: not JSON: {e}", file=sys.stderr)
                sys.exit(2)
            if drops:
                changed = False
                for d in drops:
                    changed |= drop(ev, d)
                counts["dropped"] += changed
            out.append(ev)
    return out


def main(argv):
    args, drops, ordered, show = [], [], False, 5
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--ordered":
            ordered = True
        elif a == "--drop":
            i += 1
            drops.append(argv[i])
        elif a == "--show":
            i += 1
            show = int(argv[i])
        else:
            args.append(a)
        i += 1
    if len(args) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    counts = Counter(dropped=0)
    exp = load(args[0], drops, counts)
    act = load(args[1], drops, Counter(dropped=0))
    disorder = 0
    last = None
    for ev in act:
        t = ev.get("time_us") if isinstance(ev, dict) else None
        if last is not None and isinstance(t, int) and t < last:
            disorder += 1
        if isinstance(t, int):
            last = t
    ce = Counter(canon(e) for e in exp)
    ca = Counter(canon(e) for e in act)
    missing = ce - ca
    extra = ca - ce
    equal = sum((ce & ca).values())
    print(f"expected={len(exp)} actual={len(act)} equal={equal} missing={sum(missing.values())} "
          f"extra={sum(extra.values())} dropped={counts['dropped']} disorder={disorder}")
    for name, c in (("missing", missing), ("extra", extra)):
        for line in list(c)[:show]:
            print(f"{name}: {line}")
    ok = not missing and not extra and (not ordered or disorder == 0)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
