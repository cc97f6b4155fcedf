#!/bin/bash
# Privilege hygiene of the running daemon: no core dumps (RLIMIT_CORE 0 even
# when started with an unlimited one), not dumpable (a process with the same
# uid and capabilities but no CAP_SYS_PTRACE cannot inspect it, while it can
# inspect a dumpable process started the same way; other users cannot read
# its environment, maps or memory),
# no passphrase left open; and a symlink or file planted in the backing
# store never leads a client outside the mount nor yields plaintext.
. "$(dirname "$0")/lib.sh"
cfs_users
cfs_init || exit 1
mkdir -p "$MNT"

# Start it the way an operator might: core dumps allowed, and without
# CAP_SYS_PTRACE, so the dumpable flag is all that protects its memory.
NOPTRACE=(setpriv --bounding-set -sys_ptrace)
ulimit -S -c "$(ulimit -H -c)" || { fail core_limit_raised "cannot raise RLIMIT_CORE for the test"; exit 1; }
CORE=$(ulimit -c)
out=$("${NOPTRACE[@]}" "$BIN/coachfs" -c "$CFG" "$MNT" 2>&1) || { fail mount "$out"; exit 1; }
DAEMON_PID=$(pgrep -n -f "^$BIN/coachfs -c $CFG $MNT\$")
[ -n "$DAEMON_PID" ] || { fail daemon_pid "no coachfs process for $MNT"; exit 1; }
"${NOPTRACE[@]}" sleep 60 &
CONTROL=$!
sleep 0.2

if [ "$CORE" = 0 ]; then
	echo "# the hard RLIMIT_CORE is 0 here: the daemon's own lowering cannot be told apart"
else
	# what the daemon inherited, as its dumpable twin shows
	ok control_core_allowed test "$(awk '/^Max core file size/ { print $5 }' "/proc/$CONTROL/limits")" != 0
fi
eq daemon_core_limit_0 "$(awk '/^Max core file size/ { print $5, $6 }' "/proc/$DAEMON_PID/limits")" "0 0"
capprm=$(awk '/^CapPrm:/ { print $2 }' "/proc/$DAEMON_PID/status")
eq daemon_lacks_cap_sys_ptrace "$(( (0x$capprm >> 19) & 1 ))" 0

# Same uid, same capabilities, no CAP_SYS_PTRACE: only dumpability differs,
# and it decides whether the process may be inspected (ptrace attach mode:
# /proc/PID/syscall and /proc/PID/stack).
for f in syscall stack; do
	ok "control_${f}_readable" "${NOPTRACE[@]}" cat "/proc/$CONTROL/$f"
	has "daemon_${f}_refused" "$(err_of "${NOPTRACE[@]}" cat "/proc/$DAEMON_PID/$f")" "Operation not permitted"
done
has daemon_mem_refused "$(err_of "${NOPTRACE[@]}" head -c 1 "/proc/$DAEMON_PID/mem")" "Permission denied"
for f in environ maps mem; do
	no "daemon_${f}_other_user" as cfs_alice head -c 1 "/proc/$DAEMON_PID/$f"
done
# the kernel enforces modes for everyone, and others may use the mount
has mount_options "$(awk -v m="$MNT" '$2 == m { print $4 }' /proc/mounts)" "default_permissions,allow_other"
no passphrase_not_held_open sh -c "ls -l /proc/$DAEMON_PID/fd | grep -F '$PASSFILE'"
kill "$CONTROL"
wait "$CONTROL" 2>/dev/null

# ---- things planted in the backing tree ----
echo "inside" >"$MNT/inside"
mkdir "$MNT/d"
ln -s /etc "$STORE/tree/evil"
ln -s ../../../../../../../../../etc/passwd "$STORE/tree/evil2"
ln -s ../../etc "$STORE/tree/d/evil3"
ln -s ../coachfs.hdr "$STORE/tree/hdrlink"
ln -s d/../.. "$STORE/tree/evil4"
cp /etc/passwd "$STORE/tree/plain"
ln -s inside "$STORE/tree/fine"
for who in root cfs_alice; do
	run() { if [ $who = root ]; then "$@"; else as cfs_alice "$@"; fi; }
	for l in evil evil2 d/evil3 hdrlink evil4; do
		out=$(run cat "$MNT/$l" "$MNT/$l/passwd" 2>&1)
		if echo "$out" | grep -q -e 'root:x:0:0' -e COACHFS; then
			fail "planted_${l//\//_}_$who" "content from outside the mount: $(echo "$out" | head -c 100)"
		else
			has "planted_${l//\//_}_$who" "$out" "Input/output error"
		fi
		no "planted_${l//\//_}_readlink_$who" run readlink "$MNT/$l"
	done
	no "planted_dir_listing_$who" run ls "$MNT/evil/"
	has "planted_plaintext_$who" "$(err_of run cat "$MNT/plain")" "Input/output error"
	eq "inside_link_works_$who" "$(run cat "$MNT/fine")" inside
done
no no_etc_anywhere sh -c "cat '$MNT/evil/hostname' '$MNT/evil2' '$MNT/evil/passwd' 2>/dev/null | grep -q ."
[ "$(audit_q "select count(*) from events where action = 'tamper' and path = '/evil'")" -gt 0 ] &&
	pass tamper_rows || fail tamper_rows "no tamper row for /evil"
# and the mount refuses to make such links itself
has symlink_absolute_refused "$(err_of ln -s /etc "$MNT/new1")" "Operation not permitted"
has symlink_escape_refused "$(err_of ln -s ../../x "$MNT/d/new2")" "Operation not permitted"
has symlink_climb_refused "$(err_of ln -s d/../../x "$MNT/new3")" "Operation not permitted"
ok symlink_inside_allowed ln -s ../inside "$MNT/d/new4"
eq symlink_inside_reads "$(cat "$MNT/d/new4")" inside
cfs_umount
