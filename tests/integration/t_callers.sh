#!/bin/bash
# The caller cache (fs/caller_cache.c) never serves a stale identity,
# through a real mount, as real throwaway users: a process whose groups
# change (setgroups in the same process, or the same user started with
# other groups) is decided on its groups of that moment; a process that
# reuses the pid of one that read more sensitive content (forced with
# /proc/sys/kernel/ns_last_pid) is not taken for it (its file is not
# lifted to the class the other read); rows carry the right user and
# program; and the daemon really serves names and start times from the
# cache (fewer /etc/passwd and /proc/PID/stat reads than opens).
. "$(dirname "$0")/lib.sh"
cfs_users
CFS_HIDE=no cfs_config
cfs_init || exit 1
cfs_mount || exit 1
PY=/usr/bin/python3
USERS_GID=$(getent group users | cut -d: -f3)

mkdir -m 777 "$MNT/int" "$MNT/pub"
setfattr -n user.coachfs.class -v public "$MNT/pub"
echo "internal words" >"$MNT/int/x"
chmod 644 "$MNT/int/x"

# ---- 1. groups are read per request, never cached with the process ----
# cfs_bob is a contractor; with cfs_soc among his groups he is a responder.
# One python process, CAP_SETGID kept, drops the group and takes it back.
out=$(setpriv --reuid=cfs_bob --regid="$USERS_GID" --groups=cfs_soc --inh-caps=+setgid \
	--ambient-caps=+setgid -- "$PY" -c '
import grp, os, sys
p, soc = sys.argv[1], grp.getgrnam("cfs_soc").gr_gid
def try_open():
    try:
        open(p).read()
        return "ok"
    except OSError as e:
        return "denied"
a = try_open()
os.setgroups([])
b = try_open()
os.setgroups([soc])
c = try_open()
print(a, b, c, os.getpid())' "$MNT/int/x" 2>&1)
eq groups_same_process "${out% *}" "ok denied ok"
pypid=${out##* }
eq groups_same_process_rows "$(audit_q "select result from events where pid=$pypid
	and action in ('open', 'replay') and path='/int/x' order by id")" "allow
deny
allow"
# the same user, one process after another, with and without the group
ok groups_new_process_with setpriv --reuid=cfs_bob --regid="$USERS_GID" --groups=cfs_soc cat "$MNT/int/x"
no groups_new_process_without setpriv --reuid=cfs_bob --regid="$USERS_GID" --clear-groups cat "$MNT/int/x"
ok groups_new_process_again setpriv --reuid=cfs_bob --regid="$USERS_GID" --groups=cfs_soc cat "$MNT/int/x"
eq groups_rows_user "$(audit_q "select count(*) from events where user='cfs_bob' and
	path='/int/x' and action='open' and result='deny'")" 2

# ---- 2. a reused pid is not the process that had it ----
# cfs_alice's process (pid P) reads internal content and exits; cfs_carol's
# process is made to get pid P and writes a new file under /pub (public).
# Taken for alice's process, its file would be lifted to internal.
ALICE_GID=$(id -g cfs_alice)
CAROL_GID=$(id -g cfs_carol)
P=$(setpriv --reuid=cfs_alice --regid="$ALICE_GID" --init-groups -- sh -c \
	'echo $$; exec cat "$1" >/dev/null' sh "$MNT/int/x")
eq reuse_reader_row "$(audit_q "select user from events where pid=$P and action='open'
	and path='/int/x' order by id desc limit 1")" cfs_alice
sleep 0.05   # start times count clock ticks: the next process starts in another
got=
for _ in $(seq 1 200); do
	echo $((P - 1)) >/proc/sys/kernel/ns_last_pid
	setpriv --reuid=cfs_carol --regid="$CAROL_GID" --init-groups -- sh -c \
		'[ "$$" = "$1" ] || exit 3; echo "carol words" >"$2"' sh "$P" "$MNT/pub/carol" \
		2>>"$T/reuse.err"
	rc=$?
	[ $rc = 3 ] && continue
	got=$rc
	break
done
eq reuse_pid_obtained "$got" 0
eq reuse_writer_row "$(audit_q "select user from events where pid=$P and action='create'
	and path='/pub/carol' order by id desc limit 1")" cfs_carol
eq reuse_not_lifted "$(getfattr --absolute-names --only-values -n user.coachfs.class \
	"$MNT/pub/carol" 2>&1)" public
# and the check is a real one: the same process, reading first, is lifted
ok reuse_control setpriv --reuid=cfs_carol --regid="$CAROL_GID" --init-groups -- sh -c \
	'read l <"$1"; echo "$l" >"$2"' sh "$MNT/int/x" "$MNT/pub/carol2"
eq reuse_control_lifted "$(getfattr --absolute-names --only-values -n user.coachfs.class \
	"$MNT/pub/carol2" 2>&1)" internal

# ---- 3. the program is read per open: exec changes it ----
setpriv --reuid=cfs_alice --regid="$ALICE_GID" --init-groups -- sh -c \
	'read l <"$1"; exec /usr/bin/head -c 1 "$1" >/dev/null' sh "$MNT/int/x"
eq exe_after_exec "$(audit_q "select exe from events where user='cfs_alice' and
	action in ('open', 'replay') and path='/int/x' order by id desc limit 1")" /usr/bin/head

# ---- 4. the cache is used: a stream of opens reads passwd and stat once ----
if command -v strace >/dev/null; then
	strace -f -q -e trace=openat -p "$DAEMON_PID" -o "$T/strace.out" &
	sp=$!
	sleep 0.5
	for _ in $(seq 1 20); do cat "$MNT/int/x" >/dev/null; done
	as cfs_alice sh -c 'for i in 1 2 3 4 5 6 7 8 9 10; do read l <"$1"; done' sh "$MNT/int/x"
	sleep 0.3
	kill -INT $sp; wait $sp 2>/dev/null
	passwd=$(grep -c '"/etc/passwd"' "$T/strace.out")
	stat=$(grep -c '/stat"' "$T/strace.out")
	status=$(grep -c '/status"' "$T/strace.out")
	# 21 processes (20 cats, one shell) opening 30 times: without the cache
	# 30 passwd and 30 stat reads; with it, a name once per user (root,
	# cfs_alice: at most 2) and a start time once per process (at most 21)
	echo "passwd $passwd stat $stat status $status" >"$T/cache.counts"
	ok cache_passwd_reads test "$passwd" -le 2
	ok cache_stat_reads test "$stat" -le 21
	ok cache_status_reads test "$status" -ge 30
else
	fail cache_strace "strace is not installed"
fi
