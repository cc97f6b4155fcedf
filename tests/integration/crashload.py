#!/usr/bin/env python3
"""crashload.py — load generators and checkers for t_crash.sh and
t_parallel.sh. Every 4 KiB block written carries a recognisable pattern
naming its file, block index and generation, so a reader can tell old data,
new data and garbage apart.

  crashload.py make DIR N BLOCKS PREFIX        files PREFIX0..N-1, gen 0, fsync'd;
                                               prints "SHA256  NAME" per file
  crashload.py write DIR LOG BLOCKS NAME...    loop: open one file O_RDWR,
                                               overwrite a random block with
                                               the next generation, close
  crashload.py create DIR LOG BLOCKS PREFIX    loop: create PREFIX<i>, write
                                               BLOCKS blocks of gen 0
  crashload.py read DIR LOG NAME...            loop: open, read and check every
                                               block, close
  crashload.py check DIR NAME...               per file: "NAME ok|eio|garbage"
                                               (eio: some block failed with EIO)

LOG gets one line per open: "ok" (served) or "denied" (EACCES), for a
create "created" or "create-denied"; and
"hidden" (ENOENT, hide_denied), "revoked" (EACCES on a read or write of an
open file), "eio NAME", "garbage NAME", "error ERRNO". A garbage block ends
the worker with status 3.

With CFS_LOAD_SECONDS=N the loops run for N seconds, hidden files are
retried, and any other error ends the worker with status 4 (t_parallel).
Without it, any error but EACCES means the mount went away: the worker ends
with status 0 (t_crash kills the daemon under it).
"""
import errno
import os
import random
import re
import sys
import time

BS = 4096
HDR = re.compile(rb"^\[(\S+) block (\d+) gen (\d+)\]")
SECONDS = float(os.environ.get("CFS_LOAD_SECONDS", "0") or 0)


class Stop(Exception):
    def __init__(self, status):
        Exception.__init__(self)
        self.status = status


def block(name, idx, gen):
    s = b"[%s block %d gen %d]" % (name.encode(), idx, gen)
    return (s * (BS // len(s) + 1))[:BS]


def valid(name, idx, data):
    """The block is exactly some generation of (name, idx)."""
    m = HDR.match(data)
    if not m or m.group(1) != name.encode() or int(m.group(2)) != idx:
        return False
    return data == block(name, idx, int(m.group(3)))


def log(f, word):
    f.write(word + "\n")
    f.flush()


def failed(lg, e):
    """An unexpected error: the end of this worker."""
    if not SECONDS:
        raise Stop(0)
    log(lg, "error " + errno.errorcode.get(e.errno, str(e.errno)))
    raise Stop(4)


def open_logged(lg, path, flags, served="ok", refused="denied"):
    """A descriptor, or None when this open was refused or the file hidden."""
    try:
        fd = os.open(path, flags, 0o666)
    except OSError as e:
        if e.errno == errno.EACCES:
            log(lg, refused)
            return None
        if SECONDS and e.errno == errno.ENOENT:
            log(lg, "hidden")
            return None
        failed(lg, e)
    log(lg, served)
    return fd


def close(fd):
    try:
        os.close(fd)
    except OSError:
        pass


def loop(fn):
    """Call fn until the time is up (or forever), turning Stop into a status."""
    t0 = time.monotonic()
    try:
        while not SECONDS or time.monotonic() - t0 < SECONDS:
            fn()
    except Stop as s:
        return s.status
    return 0


def cmd_make(d, n, blocks, prefix):
    import hashlib
    for i in range(int(n)):
        name = "%s%d" % (prefix, i)
        data = b"".join(block(name, b, 0) for b in range(int(blocks)))
        fd = os.open(os.path.join(d, name), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
        os.write(fd, data)
        os.fsync(fd)
        os.close(fd)
        print("%s  %s" % (hashlib.sha256(data).hexdigest(), name))


def cmd_write(d, logf, blocks, names):
    gen = {}
    with open(logf, "a") as lg:
        def one():
            name = random.choice(names)
            b = random.randrange(int(blocks))
            g = gen.get((name, b), 0) + 1
            fd = open_logged(lg, os.path.join(d, name), os.O_RDWR)
            if fd is None:
                return
            try:
                os.pwrite(fd, block(name, b, g), b * BS)
                gen[(name, b)] = g
            except OSError as e:
                if e.errno != errno.EACCES:
                    failed(lg, e)
                log(lg, "revoked")
            finally:
                close(fd)
        return loop(one)


def cmd_create(d, logf, blocks, prefix):
    count = [0]
    with open(logf, "a") as lg:
        def one():
            name = "%s%d" % (prefix, count[0])
            fd = open_logged(lg, os.path.join(d, name), os.O_WRONLY | os.O_CREAT | os.O_EXCL,
                             "created", "create-denied")
            if fd is None:
                return
            count[0] += 1
            try:
                for b in range(int(blocks)):
                    os.pwrite(fd, block(name, b, 0), b * BS)
            except OSError as e:
                failed(lg, e)
            finally:
                close(fd)
        return loop(one)


def read_fd(fd, name):
    """'ok', 'eio' or 'garbage' for an open file; raises other errors."""
    state = "ok"
    size = os.fstat(fd).st_size
    nblocks = (size + BS - 1) // BS
    for b in range(nblocks + 1):
        try:
            data = os.pread(fd, BS, b * BS)
        except OSError as e:
            if e.errno == errno.EIO:
                state = "eio"
                continue
            raise
        if b == nblocks:
            if data:
                return "garbage"  # more than its size says
            break
        if not valid(name, b, data):
            return "garbage"
    return state


def cmd_read(d, logf, names):
    with open(logf, "a") as lg:
        def one():
            name = random.choice(names)
            fd = open_logged(lg, os.path.join(d, name), os.O_RDONLY)
            if fd is None:
                return
            try:
                st = read_fd(fd, name)
            except OSError as e:
                if e.errno != errno.EACCES:
                    failed(lg, e)
                log(lg, "revoked")
                return
            finally:
                close(fd)
            if st == "eio":
                log(lg, "eio " + name)
            if st == "garbage":
                log(lg, "garbage " + name)
                raise Stop(3)
        return loop(one)


def cmd_check(d, names):
    for name in names:
        try:
            fd = os.open(os.path.join(d, name), os.O_RDONLY)
            try:
                st = read_fd(fd, name)
            finally:
                close(fd)
        except OSError as e:
            st = "eio" if e.errno == errno.EIO else "error-" + errno.errorcode.get(e.errno, "?")
        print(name, st)


def main(argv):
    try:
        c = argv[1]
        if c == "make":
            cmd_make(argv[2], argv[3], argv[4], argv[5])
        elif c == "write":
            return cmd_write(argv[2], argv[3], argv[4], argv[5:])
        elif c == "create":
            return cmd_create(argv[2], argv[3], argv[4], argv[5])
        elif c == "read":
            return cmd_read(argv[2], argv[3], argv[4:])
        elif c == "check":
            cmd_check(argv[2], argv[3:])
        else:
            raise IndexError
    except IndexError:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
