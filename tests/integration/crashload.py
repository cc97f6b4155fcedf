#!/usr/bin/env python3
"""crashload.py — load generators and checkers for t_crash.sh and
t_parallel.sh. Every 4 KiB block written carries a recognisable pattern
naming its file, block index and generation, so a reader can tell old data,
new data and garbage apart.

  crashload.py make DIR N BLOCKS PREFIX        files PREFIX0..N-1, gen 0, fsync'd;
                                               prints "SHA256  NAME" per file
  crashload.py write DIR LOG BLOCKS NAME...    until an error: open one file
                                               O_RDWR, overwrite a random block
                                               with the next generation, close
  crashload.py create DIR LOG BLOCKS PREFIX    until an error: create PREFIX<i>,
                                               write BLOCKS blocks of gen 0
  crashload.py read DIR LOG NAME...            until an error: open, read all,
                                               check every block, close
  crashload.py check DIR NAME...               per file: "NAME ok|eio|garbage"
                                               (eio: some block failed with EIO)

LOG gets one line per open that succeeded ("ok") or was refused ("denied");
a block that reads back as garbage is written to LOG as "garbage NAME" and the
worker exits 3. Workers exit 0 when the mount goes away under them.
"""
import errno
import os
import random
import re
import sys

BS = 4096
HDR = re.compile(rb"^\[(\S+) block (\d+) gen (\d+)\]")


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


GONE = (errno.ENOTCONN, errno.ECONNABORTED, errno.ENODEV, errno.ENOENT, errno.EIO)


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
        while True:
            name = random.choice(names)
            b = random.randrange(int(blocks))
            g = gen.get((name, b), 0) + 1
            try:
                fd = os.open(os.path.join(d, name), os.O_RDWR)
            except OSError as e:
                if e.errno == errno.EACCES:
                    log(lg, "denied")
                    continue
                return 0
            log(lg, "ok")
            try:
                os.pwrite(fd, block(name, b, g), b * BS)
                gen[(name, b)] = g
            except OSError:
                return 0
            finally:
                try:
                    os.close(fd)
                except OSError:
                    pass


def cmd_create(d, logf, blocks, prefix):
    i = 0
    with open(logf, "a") as lg:
        while True:
            name = "%s%d" % (prefix, i)
            try:
                fd = os.open(os.path.join(d, name), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            except OSError:
                return 0
            log(lg, "created")
            try:
                for b in range(int(blocks)):
                    os.pwrite(fd, block(name, b, 0), b * BS)
            except OSError:
                return 0
            finally:
                try:
                    os.close(fd)
                except OSError:
                    pass
            i += 1


def read_file(path, name):
    """'ok', 'eio' or 'garbage' for the file at path."""
    fd = os.open(path, os.O_RDONLY)
    state = "ok"
    try:
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
    finally:
        os.close(fd)
    return state


def cmd_read(d, logf, names):
    with open(logf, "a") as lg:
        while True:
            name = random.choice(names)
            try:
                st = read_file(os.path.join(d, name), name)
            except OSError as e:
                if e.errno == errno.EACCES:
                    log(lg, "denied")
                    continue
                return 0
            log(lg, "ok")
            if st == "garbage":
                log(lg, "garbage " + name)
                return 3


def cmd_check(d, names):
    for name in names:
        try:
            st = read_file(os.path.join(d, name), name)
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
