#!/usr/bin/env python3
# A syslog receiver for the tests: binds a unix datagram socket at PATH (as
# rsyslog's imuxsock or journald bind /dev/log) and appends each datagram
# as one line to OUT, sleeping DELAY seconds after each (a slow receiver, so
# a sender meets backpressure).   syslog_recv.py PATH OUT [DELAY]
import os
import socket
import sys
import time

path, out = sys.argv[1], sys.argv[2]
delay = float(sys.argv[3]) if len(sys.argv) > 3 else 0.0
try:
    os.unlink(path)
except FileNotFoundError:
    pass
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
with open(out, "ab", buffering=0) as f:
    while True:
        d = s.recv(1 << 18)
        f.write(d + b"\n")
        if delay:
            time.sleep(delay)
