#!/bin/bash
# The daemon's read-ahead window for classes that audit every read
# (direct_io): small sequential reads give the exact bytes and each still
# writes its read row; a write through another handle, another user's
# truncate, and a write through the reader's own handle are all seen by the
# very next read through the window (no stale plaintext); revocation stops
# the next read even when the window already holds it.
. "$(dirname "$0")/lib.sh"
cfs_users
cfs_init || exit 1
cfs_mount || exit 1
G=$BIN/coach-grant
unset SUDO_USER SUDO_UID
PY=/usr/bin/python3

N=$((3 * 1048576 + 1234))
head -c "$N" /dev/urandom >"$T/ref"
cp "$T/ref" "$MNT/doc"
chmod 666 "$MNT/doc"

# 4 KiB requests from start to end: exact bytes, one read row per request
out=$(as cfs_alice $PY -c '
import hashlib, os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
h, n = hashlib.md5(), 0
while True:
    b = os.read(fd, 4096)
    n += 1
    if not b: break
    h.update(b)
print(h.hexdigest(), n)' "$MNT/doc")
eq small_reads_exact "${out% *}" "$(md5sum <"$T/ref" | cut -d' ' -f1)"
sleep 0.3   # read rows are queued for flush_ms
eq a_row_per_read "$(audit_q "select count(*) from events where action='read' and path='/doc' and user='cfs_alice'")" "${out#* }"
eq rows_cover_file "$(audit_q "select sum(length) from events where action='read' and path='/doc' and user='cfs_alice'")" "$N"

# A held reader: each line "OFF LEN" on the fifo is one pread through the
# same handle; it prints the md5 of what it got, or the errno.
held_start() { # USER FILE [rw]
	rm -f "$T/go" "$T/held.out"; mkfifo -m 666 "$T/go"
	as "$1" $PY -c '
import hashlib, os, sys
fd = os.open(sys.argv[1], os.O_RDWR if sys.argv[2] == "rw" else os.O_RDONLY)
print("ready", flush=True)
for line in sys.stdin:
    w = line.split()
    try:
        if w[0] == "write":
            print("wrote", os.pwrite(fd, bytes.fromhex(w[2]), int(w[1])), flush=True)
        else:
            print(hashlib.md5(os.pread(fd, int(w[1]), int(w[0]))).hexdigest(), flush=True)
    except OSError as e:
        print("errno", e.errno, flush=True)
' "$2" "${3:-ro}" <"$T/go" >"$T/held.out" 2>&1 &
	HELD=$!
	exec 4>"$T/go"
	for _ in $(seq 1 100); do grep -q ready "$T/held.out" && break; sleep 0.05; done
}
held_ask() { # LINE
	local before; before=$(wc -l <"$T/held.out")
	echo "$1" >&4
	for _ in $(seq 1 200); do [ "$(wc -l <"$T/held.out")" -gt "$before" ] && break; sleep 0.05; done
	tail -n 1 "$T/held.out"
}
held_stop() { exec 4>&-; wait "$HELD" 2>/dev/null; }
ref_md5() { # OFF LEN — of $T/ref
	$PY -c '
import hashlib, sys
f = open(sys.argv[1], "rb"); f.seek(int(sys.argv[2]))
print(hashlib.md5(f.read(int(sys.argv[3]))).hexdigest())' "$T/ref" "$1" "$2"
}
# read 4 KiB requests OFF.. up to END through the held reader, all compared
held_seq() { # NAME OFF END
	local off=$2 bad=""
	while [ "$off" -lt "$3" ]; do
		[ "$(held_ask "$off 4096")" = "$(ref_md5 "$off" 4096)" ] || { bad="at $off"; break; }
		off=$((off + 4096))
	done
	eq "$1" "$bad" ""
}
# patch the reference like the mount: OFF and bytes from stdin
ref_patch() {
	$PY -c '
import sys
d = sys.stdin.buffer.read()
f = open(sys.argv[1], "r+b"); f.seek(int(sys.argv[2])); f.write(d)' "$T/ref" "$1"
}

held_start cfs_alice "$MNT/doc"
held_seq window_first 0 16384            # the window is filled from 4 KiB on
# carol (a writer of the class) writes ahead of the reader, inside the window
head -c 3000 /dev/urandom >"$T/patch"
ref_patch 20000 <"$T/patch"
as cfs_carol $PY -c '
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY); os.pwrite(fd, open(sys.argv[2], "rb").read(), 20000)' \
	"$MNT/doc" "$T/patch"
held_seq other_handle_write_seen 16384 65536
# carol truncates by name inside the next window: the reader sees the end
as cfs_carol truncate -s 100000 "$MNT/doc"
$PY -c 'import sys; open(sys.argv[1], "r+b").truncate(100000)' "$T/ref"
held_seq truncate_seen 65536 98304
eq truncate_short_read "$(held_ask "98304 4096")" "$(ref_md5 98304 4096)"
eq truncate_eof "$(held_ask "100000 4096")" "$(ref_md5 100000 4096)"
held_stop

# a write through the reader's own handle, and a grow back by truncate
cp "$T/ref" "$MNT/own"; chown cfs_alice "$MNT/own"
held_start cfs_alice "$MNT/own" rw
held_seq own_first 0 12288
eq own_write "$(held_ask "write 30000 $(printf 'ab%.0s' $(seq 1 100))")" "wrote 100"
$PY -c 'import sys; sys.stdout.buffer.write(b"\xab" * 100)' | ref_patch 30000
held_seq own_write_seen 12288 40960
truncate -s 200000 "$MNT/own"
$PY -c 'import sys; open(sys.argv[1], "r+b").truncate(200000)' "$T/ref"
held_seq grow_seen 40960 200704
held_stop

# revocation stops the next read even though the window holds its bytes
mkdir "$MNT/inc"
cp "$T/ref" "$MNT/inc/doc"
setfattr -n user.coachfs.class -v sensitive "$MNT/inc"
g=$("$G" add cfs_alice /inc/doc --ttl 1h 2>>"$T/tools.err")
held_start cfs_alice "$MNT/inc/doc"
held_seq granted_reads 0 16384
"$G" revoke "$g" --reason test >/dev/null 2>>"$T/tools.err"
sleep 1   # revocation reaches open handles within a second
eq revoked_stops_window_read "$(held_ask "16384 4096")" "errno 13"
eq revoked_stays_stopped "$(held_ask "20480 4096")" "errno 13"
held_stop
ok daemon_alive kill -0 "$DAEMON_PID"
cfs_umount
eq revoked_row "$(audit_q "select count(*) from events where action='read' and path='/inc/doc' and result='deny' and grant_id=$g")" 1
eq granted_read_rows "$(audit_q "select count(*) from events where action='read' and path='/inc/doc' and result='allow'")" 4
