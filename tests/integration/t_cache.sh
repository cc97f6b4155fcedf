#!/bin/bash
# Tiered audit levels (issue 15): a class with audit_reads = open is served
# through the page cache (shared mmap works, no read rows), one with
# audit_reads = every stays direct_io (a row per read, shared mmap ENODEV).
# In both modes: a revoked or expired grant stops reads of a file already
# open (the cached pages are dropped), and a user who may not open the file
# never reads another user's cached pages.
. "$(dirname "$0")/lib.sh"
cfs_users
cfs_config "
[class.briefing]
grant = yes
max_ttl = 8h
export = allow
audit_reads = open
"
cfs_init || exit 1
cfs_mount || exit 1
G=$BIN/coach-grant
unset SUDO_USER SUDO_UID

# the mount's kernel readahead is raised to 1 MiB once the FUSE handshake
# (which leaves 128 KiB) is over: per-open files are read ahead in 1 MiB READs
ra=
for _ in $(seq 1 100); do
	ra=$(cat "/sys/class/bdi/$(mountpoint -d "$MNT")/read_ahead_kb")
	[ "$ra" = 1024 ] && break
	sleep 0.1
done
eq kernel_readahead_1mib "$ra" 1024
PY=/usr/bin/python3

# the content first (root, an admin, may not write grant-only classes), then the classes
mkdir "$MNT/brief" "$MNT/inc"
python3 -c 'import sys; sys.stdout.write("".join("line %06d of the briefing\n" % i for i in range(40000)))' >"$T/doc.md"
cp "$T/doc.md" "$MNT/brief/doc.md" && cp "$T/doc.md" "$MNT/inc/doc.md"
SUM=$(md5sum <"$T/doc.md")
SIZE=$(stat -c %s "$T/doc.md")
setfattr -n user.coachfs.class -v briefing "$MNT/brief"
setfattr -n user.coachfs.class -v sensitive "$MNT/inc"
gb=$("$G" add cfs_alice /brief --ttl 1h 2>>"$T/tools.err")
gi=$("$G" add cfs_alice /inc --ttl 1h 2>>"$T/tools.err")

# mmap_shared USER FILE — "ok" or the errno a shared read-only mapping gets
mmap_shared() {
	as "$1" $PY -c '
import mmap, os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
try:
    m = mmap.mmap(fd, 0, mmap.MAP_SHARED, mmap.PROT_READ); print("ok", m[:4].decode())
except OSError as e:
    print("errno", e.errno)' "$2" 2>&1
}
reads_of() { audit_q "select count(*) from events where action='read' and path='$1' and user='cfs_alice'"; }

for mode in cached direct; do
	case $mode in cached) d=/brief gid=$gb ;; direct) d=/inc gid=$gi ;; esac
	# 4 KiB requests, as less and most parsers issue them (dd would be an export tool)
	eq "${mode}_reads_right" "$(as cfs_alice $PY -c '
import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
while True:
    b = os.read(fd, 4096)
    if not b: break
    sys.stdout.buffer.write(b)' "$MNT$d/doc.md" | md5sum)" "$SUM"
	eq "${mode}_open_row" "$(audit_q "select result from events where action='open' and path='$d/doc.md' and user='cfs_alice' order by id desc limit 1")" allow
done
sleep 0.2   # read rows are queued for flush_ms
eq cached_no_read_rows "$(reads_of /brief/doc.md)" 0
ok direct_read_rows test "$(reads_of /inc/doc.md)" -gt 100
eq cached_shared_mmap "$(mmap_shared cfs_alice "$MNT/brief/doc.md")" "ok line"
eq direct_shared_mmap "$(mmap_shared cfs_alice "$MNT/inc/doc.md")" "errno 19"

# A held reader: opens, reads everything (so a cached file's pages are in
# the cache), then re-reads the start each time it is poked.
held_start() { # FILE
	rm -f "$T/go" "$T/held.out"; mkfifo -m 666 "$T/go"
	as cfs_alice $PY -c '
import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
n = 0
while True:
    b = os.read(fd, 65536)
    if not b: break
    n += len(b)
print("first", n, flush=True)
for line in sys.stdin:
    try:
        print("read", len(os.pread(fd, 4096, 0)), flush=True)
    except OSError as e:
        print("errno", e.errno, flush=True)
' "$1" <"$T/go" >"$T/held.out" 2>&1 &
	HELD=$!
	exec 4>"$T/go"
	for _ in $(seq 1 100); do grep -q first "$T/held.out" && break; sleep 0.05; done
}
held_ask() {
	local before; before=$(wc -l <"$T/held.out")
	echo >&4
	for _ in $(seq 1 100); do [ "$(wc -l <"$T/held.out")" -gt "$before" ] && break; sleep 0.05; done
	tail -n 1 "$T/held.out"
}
held_stop() { exec 4>&-; wait "$HELD" 2>/dev/null; }

for mode in cached direct; do
	case $mode in cached) d=/brief ;; direct) d=/inc ;; esac
	g=$("$G" add cfs_alice "$d/doc.md" --ttl 1h 2>>"$T/tools.err")
	# the wider grant goes, so this one alone admits alice
	"$G" revoke "$( [ $mode = cached ] && echo "$gb" || echo "$gi")" >/dev/null 2>>"$T/tools.err"
	held_start "$MNT$d/doc.md"
	eq "${mode}_held_first" "$(head -n 1 "$T/held.out")" "first $SIZE"
	eq "${mode}_held_again" "$(held_ask)" "read 4096"
	# another user, with no grant: never the cached pages
	has "${mode}_bob_refused" "$(as cfs_bob cat "$MNT$d/doc.md" 2>&1)" "No such file or directory"
	"$G" revoke "$g" --reason "test" >/dev/null 2>>"$T/tools.err"
	sleep 1   # revocation reaches open handles within a second
	eq "${mode}_revoked_stops_reads" "$(held_ask)" "errno 13"
	eq "${mode}_revoked_row" "$(audit_q "select result from events where action='read' and path='$d/doc.md' and result='deny' and grant_id=$g")" deny
	held_stop
	# expiry, the same way
	g=$("$G" add cfs_alice "$d/doc.md" --ttl 5s 2>>"$T/tools.err")
	held_start "$MNT$d/doc.md"
	eq "${mode}_expiring_first" "$(head -n 1 "$T/held.out")" "first $SIZE"
	sleep 6
	eq "${mode}_expired_stops_reads" "$(held_ask)" "errno 13"
	held_stop
done

# a rename of an open cached file: its pages can still be dropped
g=$("$G" add cfs_alice /brief --ttl 1h 2>>"$T/tools.err")
held_start "$MNT/brief/doc.md"
mv "$MNT/brief/doc.md" "$MNT/brief/moved.md"
eq renamed_still_reads "$(held_ask)" "read 4096"
"$G" revoke "$g" >/dev/null 2>>"$T/tools.err"
sleep 1
eq renamed_revoked_stops_reads "$(held_ask)" "errno 13"
held_stop
