#!/usr/bin/env python3
"""structure.py — issue 14's rules, checked on the sources (make lint, and
t_structure in make test):
  - no source file (fs/, tools/, include/) over 700 lines;
  - no function over 80 lines;
  - the include graph follows the layers below: a header includes only
    headers of lower layers, a module's .c file none above its own header's,
    and no tool includes a daemon header.
Prints one line per breach and exits 1 if there is any."""
import glob
import os
import re
import sys

MAX_FILE, MAX_FUNC = 700, 80
# Lower layers first; a module may use its own layer and those before it.
LAYERS = [
    ["util", "meta", "scratch", "action", "bdi"],
    ["crypto", "config", "passphrase"],
    ["store", "content", "state", "workers", "caller", "readahead"],
    ["policy"],
    ["policydb"],
    ["grants", "links", "audit", "requests", "session"],
    ["ctx", "sidecar", "access", "track"],
    ["ops"],
]
DAEMON = {"ctx", "access", "ops"}
LAYER = {m: i for i, names in enumerate(LAYERS) for m in names}


def module_of(path):
    """The module a file belongs to: fs/audit_db.c -> audit, ops_data.c -> ops."""
    base = os.path.basename(path).split(".")[0]
    if base == "main":
        return "ops"
    for m in sorted(LAYER, key=len, reverse=True):
        if base == m or base.startswith(m + "_"):
            return m
    return base


def strip(text):
    """Comments and string/char literals blanked, newlines kept."""
    out = re.sub(r'/\*.*?\*/', lambda m: re.sub(r'[^\n]', ' ', m.group(0)), text, flags=re.S)
    out = re.sub(r'//[^\n]*', '', out)
    out = re.sub(r'"(\\.|[^"\\\n])*"', '""', out)
    return re.sub(r"'(\\.|[^'\\\n])*'", "''", out)


def functions(text):
    """(name, first line, line count) of each function definition."""
    lines = strip(text).split("\n")
    res, depth, start, name = [], 0, None, None
    for n, l in enumerate(lines, 1):
        if depth == 0 and l.startswith("{") and start is None:
            # the signature: back to the line holding "name("
            k = n - 2
            while k >= 0 and not re.search(r'\b([A-Za-z_]\w*)\s*\(', lines[k]):
                k -= 1
            m = re.search(r'\b([A-Za-z_]\w*)\s*\(', lines[k]) if k >= 0 else None
            if m and not lines[k].lstrip().startswith(("struct", "enum", "union", "static const", "const")) \
                    or (m and "(" in lines[k] and not lines[k].rstrip().endswith("=")):
                start, name = k + 1, m.group(1)
        depth += l.count("{") - l.count("}")
        if depth == 0 and start is not None and "}" in l:
            res.append((name, start, n - start + 1))
            start = None
    return res


def main():
    top = sys.argv[1] if len(sys.argv) > 1 else "."
    os.chdir(top)
    bad = []
    srcs = sorted(glob.glob("fs/*.[ch]") + glob.glob("tools/*.[ch]") + glob.glob("include/coachfs/*.h"))
    for f in srcs:
        text = open(f, encoding="utf-8", errors="replace").read()
        n = text.count("\n")
        if n > MAX_FILE:
            bad.append(f"{f}: {n} lines (at most {MAX_FILE})")
        if f.endswith(".c"):
            for name, start, length in functions(text):
                if length > MAX_FUNC:
                    bad.append(f"{f}:{start}: {name}() is {length} lines (at most {MAX_FUNC})")
        incs = re.findall(r'^#include "(?:coachfs/)?([a-z_]+)\.h"', text, re.M)
        mod = module_of(f)
        if f.startswith("tools/"):
            for i in incs:
                if i in DAEMON or i.endswith("_int"):
                    bad.append(f"{f}: a tool includes the daemon header {i}.h")
            continue
        if mod not in LAYER:
            bad.append(f"{f}: module {mod} has no layer in tests/lint/structure.py")
            continue
        for i in incs:
            if i.endswith("_int"):
                if module_of(i[:-4]) != mod:
                    bad.append(f"{f}: includes another module's private {i}.h")
                continue
            im = module_of(i)
            if im not in LAYER:
                bad.append(f"{f}: includes {i}.h, which has no layer")
            elif LAYER[im] > LAYER[mod]:
                bad.append(f"{f}: {mod} (layer {LAYER[mod]}) includes {i}.h (layer {LAYER[im]}): an upward arrow")
    # cycles between modules in the same layer, through headers and .c files
    edges = {}
    for f in srcs:
        if f.startswith("tools/"):
            continue
        text = open(f, encoding="utf-8", errors="replace").read()
        for i in re.findall(r'^#include "(?:coachfs/)?([a-z_]+)\.h"', text, re.M):
            a, b = module_of(f), module_of(i[:-4] if i.endswith("_int") else i)
            if a != b:
                edges.setdefault(a, set()).add(b)
    for a, bs in sorted(edges.items()):
        for b in sorted(bs):
            if a in edges.get(b, set()) and a < b:
                bad.append(f"include cycle: {a} <-> {b}")
    for b in bad:
        print(b)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
