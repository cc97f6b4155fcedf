#!/bin/bash
# A shrinking truncate is crash-safe: the daemon is killed (SIGXFSZ, from a
# file size limit set on it) exactly while it writes the re-sealed last
# chunk, and the file still reads as it was, whole. Shrinks, truncates to 0
# and O_TRUNC opens otherwise keep working, through every handle.
. "$(dirname "$0")/lib.sh"
cfs_users
cfs_init || exit 1
cfs_mount || exit 1
OVH=$(if grep -q aes256gcm "$T/init.out"; then echo 28; else echo 40; fi)
CS=$((4096 + OVH))

head -c 1200000 /dev/urandom >"$T/ref"
cp "$T/ref" "$MNT/big"
ok shrink_through_mount truncate -s 1000000 "$MNT/big"
ok shrink_content cmp <(head -c 1000000 "$T/ref") "$MNT/big"
eq shrink_size "$(stat -c %s "$MNT/big")" 1000000
ok shrink_backing_size test "$(stat -c %s "$(backing /big)")" = $((1024 + 244 * CS + 1000000 - 244 * 4096 + OVH))
# a handle open across a shrink keeps working (it follows the new file)
python3 - "$MNT/big" <<'PY' && pass handle_follows_shrink || fail handle_follows_shrink
import os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
os.ftruncate(fd, 5000)
os.pwrite(fd, b"tail", 5000)
assert os.pread(fd, 10, 4998) == open(sys.argv[1], "rb").read()[4998:5008]
assert os.fstat(fd).st_size == 5004
os.close(fd)
PY
ok otrunc sh -c "echo fresh >$MNT/big && test \"\$(cat $MNT/big)\" = fresh"
ok truncate_zero sh -c "truncate -s 0 $MNT/big && test ! -s $MNT/big"
no no_leftover_tmp sh -c "ls -a $STORE/tree | grep -q coachfs-tmp"

# The crash: 1.2 MB file, shrink to the middle of chunk 250. The daemon may
# write anything below chunk 250's offset (its databases are far smaller),
# but the re-sealed chunk 250 crosses the limit: SIGXFSZ kills it there.
cp "$T/ref" "$MNT/crash"
cfs_umount
CFS_FG=1 cfs_mount || exit 1     # in the foreground: DAEMON_PID is the daemon itself
L=250
LIMIT=$((1024 + L * CS + 100))
prlimit --pid "$DAEMON_PID" --fsize=$LIMIT: || fail prlimit "cannot limit the daemon"
no crashed_truncate_failed truncate -s $((L * 4096 + 2000)) "$MNT/crash"
for _ in $(seq 1 40); do kill -0 "$DAEMON_PID" 2>/dev/null || break; sleep 0.05; done
no daemon_died kill -0 "$DAEMON_PID"
has daemon_died_of_sigxfsz "$(wait "$DAEMON_PID" 2>&1; echo "status $?")" "status $((128 + 25))"
fusermount3 -uz "$MNT" 2>/dev/null
DAEMON_PID=
cfs_mount || exit 1
ok crashed_shrink_left_old_content cmp "$T/ref" "$MNT/crash"
cfs_umount
out=$("$BIN/coach-admin" -c "$CFG" check 2>&1)
no crashed_file_not_bad grep -q "BAD /crash:" <<<"$out"
