#!/usr/bin/env python3
# Checks what syslog_recv.py received from coach-audit forward.
#   syslog_check.py ids FILE          the event ids received, one per line
#   syslog_check.py fields FILE LOG   every message well formed and equal,
#                                     field for field, to its row in LOG
#                                     (coach-audit log --json); prints ok
import json
import re
import sys

LINE = re.compile(r"^<(\d+)>([A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d) coach-audit\[(\d+)\]: @cee: (\{.*\})$")
SEV = {"allow": 6, "flag": 5, "deny": 4, "error": 3}


def messages(path):
    with open(path, encoding="utf-8") as f:
        for line in f:
            m = LINE.match(line.rstrip("\n"))
            if not m:
                raise SystemExit("malformed message: %r" % line[:200])
            yield int(m.group(1)), json.loads(m.group(4))


if sys.argv[1] == "ids":
    for _, ev in messages(sys.argv[2]):
        print(ev["id"])
elif sys.argv[1] == "fields":
    rows = {r["id"]: r for r in json.load(open(sys.argv[3]))}
    n = 0
    for pri, ev in messages(sys.argv[2]):
        want = rows.get(ev["id"])
        if want != ev:
            raise SystemExit("event %d differs: %r vs %r" % (ev["id"], ev, want))
        sev = 2 if ev["action"] == "tamper" else SEV.get(ev["result"], 6)
        if pri != 10 * 8 + sev:
            raise SystemExit("event %d: priority %d, expected %d" % (ev["id"], pri, 80 + sev))
        n += 1
    print("ok" if n else "none")
