#!/usr/bin/env python3
"""Checks the include graph of src/ against the module table in DEVELOPERS.md.

The table (section "## Layout") has one row per module folder, with two columns this
script reads: the skyspool modules the folder may include, and the external libraries
whose headers it may include. A second table ("### Exceptions") names single files that
may include one more thing (e.g. the one writer file that talks to Redis). Every
`#include "MOD/..."` and `#include <lib/...>` of every .c/.h file under src/ is checked;
libc and POSIX headers are always allowed. Exit 0 when the graph matches the table, 1
with one line per violation otherwise, 2 when the table cannot be read."""
import os
import re
import sys

SYSTEM = set("""assert ctype dirent errno fcntl float getopt glob grp inttypes libgen limits locale
math netdb poll pthread pwd sched setjmp signal spawn stdalign stdarg stdatomic stdbool stddef
stdint stdio stdlib stdnoreturn string strings termios time unistd malloc emmintrin ftw fnmatch wordexp""".split())
SYSTEM_DIRS = {"sys", "arpa", "netinet", "linux"}


def cells(line):
    return [c.strip() for c in line.strip().strip("|").split("|")]


ALL = {"*"}


def names(cell):
    """`a`, `b` ... -> {a, b}; '-' or 'none' -> {}; 'every ...' -> everything."""
    if cell.startswith("every "):
        return ALL
    return set(re.findall(r"`([a-z0-9_.+-]+)/?`", cell))


def read_table(path):
    mods, exc = {}, {}
    section = None
    for line in open(path, encoding="utf-8"):
        if line.startswith("## "):
            section = "layout" if line.strip() == "## Layout" else None
        elif line.startswith("### ") and section in ("layout", "exceptions"):
            section = "exceptions" if line.strip() == "### Exceptions" else "layout"
        if section is None or not line.startswith("|") or line.startswith("|---"):
            continue
        c = cells(line)
        if section == "layout" and len(c) >= 4:
            m = re.match(r"`src/([a-z0-9_]+)/`", c[0])
            if m:
                mods[m.group(1)] = (names(c[2]), names(c[3]))
        elif section == "exceptions" and len(c) >= 2:
            m = re.match(r"`(src/[a-z0-9_/.]+)`", c[0])
            if m:
                exc[m.group(1)] = names(c[1])
    return mods, exc


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "."
    mods, exc = read_table(os.path.join(root, "DEVELOPERS.md"))
    if not mods:
        print("layering: no module table under '## Layout' in DEVELOPERS.md", file=sys.stderr)
        return 2
    bad = []
    src = os.path.join(root, "src")
    for d in sorted(os.listdir(src)):
        if os.path.isdir(os.path.join(src, d)) and d not in mods:
            bad.append(f"src/{d}/: a module that DEVELOPERS.md's table does not list")
    for dirpath, _, files in os.walk(src):
        for f in sorted(files):
            if not f.endswith((".c", ".h", ".def")):
                continue
            path = os.path.join(dirpath, f)
            rel = os.path.relpath(path, root)
            mod = rel.split(os.sep)[1]
            if mod not in mods:
                continue
            may_mods, may_libs = mods[mod]
            extra = exc.get(rel, set())
            for n, line in enumerate(open(path, encoding="utf-8", errors="replace"), 1):
                m = re.match(r'\s*#\s*include\s+"([a-z0-9_]+)/', line)
                if m:
                    dep = m.group(1)
                    if dep != mod and may_mods is not ALL and dep not in may_mods and dep not in extra:
                        bad.append(f"{rel}:{n}: includes {dep}/, which module {mod}/ may not use")
                    continue
                m = re.match(r"\s*#\s*include\s+<([^>]+)>", line)
                if m:
                    h = m.group(1)
                    top = h.split("/")[0]
                    base = top[:-2] if top.endswith(".h") else top
                    if "/" in h and top in SYSTEM_DIRS or base in SYSTEM:
                        continue
                    if may_libs is not ALL and base not in may_libs and base not in extra:
                        bad.append(f"{rel}:{n}: includes <{h}>, a library module {mod}/ may not use")
    for b in bad:
        print(b)
    print(f"layering: {len(mods)} modules, {len(bad)} violations", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
