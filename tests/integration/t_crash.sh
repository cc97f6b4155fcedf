#!/bin/bash
# SIGKILL the daemon in the middle of a write load, then of a read load, and
# remount: fsync'd files read back intact; files being written read back
# block by block as old or new data or fail with EIO, never garbage, and
# coach-admin check names every damaged one; the audit database is intact,
# every open committed before the kill is still there; policy.db is intact.
. "$(dirname "$0")/lib.sh"
# the system python: the workers run as the throwaway users
LOAD="/usr/bin/python3 $TOP/tests/integration/crashload.py"
L=$T/logs
mkdir -m 1777 "$L"
cfs_users
cfs_init || exit 1
cfs_mount || exit 1
mkdir -p "$MNT/w"
chmod 1777 "$MNT/w"
as cfs_alice true || exit 1

# Files made and fsync'd before anything goes wrong, with their checksums.
$LOAD make "$MNT/w" 12 9 sync >"$T/sums" || { fail make_synced "$(cat "$T/sums")"; exit 1; }
eq synced_files "$(wc -l <"$T/sums")" 12
# Files the writers will be overwriting when the daemon dies (gen 0 fsync'd).
$LOAD make "$MNT/w" 6 16 hot >/dev/null
chown cfs_alice "$MNT/w"/hot* "$MNT/w"/sync*
# A file only less may open: alice's opens of it are refused, and audited.
$LOAD make "$MNT/w" 1 2 lessonly >/dev/null
setfattr -n user.coachfs.readers -v /usr/bin/less "$MNT/w/lessonly0"
# A sensitive file bob reads under a counted grant (open counts go to policy.db).
$LOAD make "$MNT/w" 1 4 granted >/dev/null
setfattr -n user.coachfs.class -v sensitive "$MNT/w/granted0"
GID=$("$BIN/coach-grant" add cfs_bob /w/granted0 --ttl 4h --max-opens 100000 2>&1)
case "$GID" in ''|*[!0-9]*) fail grant_added "$GID"; exit 1 ;; esac

# Controls: the checker tells garbage and EIO apart (a crash may not damage
# anything, so damage is also made on purpose): ctl0 gets a block of zeros
# written through the mount, ctl1 a flipped byte in its ciphertext.
$LOAD make "$MNT/w" 2 4 ctl >/dev/null
dd if=/dev/zero of="$MNT/w/ctl0" bs=4096 seek=1 count=1 conv=notrunc status=none
eq control_garbage_detected "$($LOAD check "$MNT/w" ctl0)" "ctl0 garbage"
rm -f "$MNT/w/ctl0"
CS=$((4096 + $(if grep -q aes256gcm "$T/init.out"; then echo 28; else echo 40; fi)))
flip_byte "$STORE/tree/w/ctl1" $((1024 + 2 * CS + 100))
eq control_eio_detected "$($LOAD check "$MNT/w" ctl1)" "ctl1 eio"

# kill_daemon — SIGKILL the daemon, wait for it to be gone, drop the dead mount
kill_daemon() {
	local pid=$DAEMON_PID
	kill -9 "$pid"
	for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
	no "$1.daemon_gone" kill -0 "$pid"
	fusermount3 -uz "$MNT" 2>/dev/null
	DAEMON_PID=
}

# survived PHASE — what must hold after a kill (the mount is down)
survived() {
	local p=$1 want_ids
	ok "$p.audit_integrity" test "$(sqlite3 "$T/var/audit.db" 'pragma integrity_check')" = ok
	ok "$p.policy_integrity" test "$(sqlite3 "$T/var/policy.db" 'pragma integrity_check')" = ok
	# every row committed before the kill is there, in order, none missing
	want_ids=$(cat "$T/$p.maxid")
	eq "$p.rows_before_kill_kept" "$(audit_q "select count(*) from events where id <= $want_ids")" "$want_ids"
	# every open a worker saw served or refused was committed before it
	# returned (a worker killed between commit and reply adds one more row)
	local seen rows what res
	for what in ok:open,replay:allow denied:open:deny created:create:allow; do
		set -- ${what//:/ }
		seen=$(cat "$L/$p".log.* 2>/dev/null | grep -c "^$1\$")
		rows=$(audit_q "select count(*) from events where action in ('${2//,/\',\'}')
			and result = '$3' and user in ('cfs_alice', 'cfs_carol', 'cfs_bob')
			and id > $(cat "$T/$p.firstid")")
		if [ "$rows" -ge "$seen" ] && [ "$rows" -le $((seen + 5)) ] &&
			{ [ "$1" != ok ] || [ "$seen" -gt 0 ]; }; then pass "$p.${1}_audited"
		else fail "$p.${1}_audited" "workers saw $seen ($1), audit has $rows $2/$3 rows"; fi
	done
	no "$p.no_garbage_seen" grep -q garbage "$L/$p".log.*
	ok "$p.grant_survives" sh -c "'$BIN/coach-grant' show $GID | grep -q cfs_bob"
	if [ -x "$BIN/coach-audit" ]; then
		ok "$p.audit_verify" "$BIN/coach-audit" verify
	else
		echo "# $p: coach-audit is not built in this branch; chain verification skipped"
	fi
}

# ---- phase 1: kill during a write load ----
audit_q 'select coalesce(max(id), 0) from events' >"$T/write.firstid"
as cfs_alice $LOAD write "$MNT/w" "$L/write.log.1" 16 hot0 hot1 hot2 &
w1=$!
as cfs_alice $LOAD write "$MNT/w" "$L/write.log.2" 16 hot3 hot4 hot5 &
w2=$!
as cfs_carol $LOAD create "$MNT/w" "$L/write.log.3" 5 new &
w3=$!
as cfs_bob $LOAD read "$MNT/w" "$L/write.log.4" granted0 &
w4=$!
as cfs_alice $LOAD read "$MNT/w" "$L/write.log.5" lessonly0 sync5 &
w5=$!
sleep 2
audit_q 'select max(id) from events' >"$T/write.maxid"
sleep 0.3
kill_daemon write
for w in $w1 $w2 $w3 $w4 $w5; do
	timeout 30 tail --pid="$w" -f /dev/null || fail write.worker_stuck "worker $w still running"
done
wait $w1 $w2 $w3 $w4 $w5
for i in 1 2 3 4 5; do
	ok "write.worker_$i.ran" grep -q -E '^(ok|created)$' "$L/write.log.$i"
done
ok write.alice_denied grep -q '^denied$' "$L/write.log.5"
survived write

cfs_mount || exit 1
ok write.synced_intact sh -c "cd '$MNT/w' && sha256sum --quiet -c '$T/sums'"
ls "$MNT/w" | grep -E '^(hot|new|ctl)[0-9]+$' >"$T/hotnames"
# shellcheck disable=SC2046
$LOAD check "$MNT/w" $(cat "$T/hotnames") >"$T/write.check"
no write.no_garbage grep -v -E ' (ok|eio)$' "$T/write.check"
eq write.all_checked "$(wc -l <"$T/write.check")" "$(wc -l <"$T/hotnames")"
grep ' eio$' "$T/write.check" | cut -d' ' -f1 | sort >"$T/write.eio"
cfs_umount
out=$("$BIN/coach-admin" check 2>&1)
echo "$out" | sed -n 's|^BAD /w/\([^ :]*\).*|\1|p' | grep -v '^\.coachfs-tmp\.' | sort -u >"$T/write.bad"
# coach-admin check names exactly the files that fail a read
eq write.check_names_damaged "$(tr '\n' ' ' <"$T/write.bad")" "$(tr '\n' ' ' <"$T/write.eio")"
# a create cut short leaves its temporary file (never under the real name)
eq write.tmp_files_explained "$(echo "$out" | grep '^BAD .*\.coachfs-tmp\.' | grep -vc 'safe to delete')" 0
# check --clean removes the daemon's leftovers once untouched for an hour;
# it leaves alone a fresh one (a daemon may be writing it), a symlink with
# the same kind of name (never followed) and a name the daemon never makes
TW=$STORE/tree/w
printf x >"$TW/.coachfs-tmp.00112233445566ff"
echo outside >"$T/outside"
ln -s "$T/outside" "$TW/.coachfs-tmp.0123456789abcdef"
printf x >"$TW/.coachfs-tmp.notours"
find "$STORE/tree" -name '.coachfs-tmp.*' -exec touch -h -d '2 hours ago' {} +
printf x >"$TW/.coachfs-tmp.fedcba9876543210"
old=$(find "$STORE/tree" -type f -name '.coachfs-tmp.????????????????' -mmin +60 | wc -l)
out=$("$BIN/coach-admin" check --clean 2>&1); rc=$?
eq clean.exit_1_for_what_is_left "$rc" 1
has clean.says_removed "$out" "removed /w/.coachfs-tmp.00112233445566ff: leftover temporary file"
has clean.counts "$out" ", $old temporary file$([ "$old" = 1 ] || echo s) removed"
eq clean.old_ones_gone "$(find "$STORE/tree" -type f -name '.coachfs-tmp.????????????????' -mmin +60 | wc -l)" 0
ok clean.fresh_left test -f "$TW/.coachfs-tmp.fedcba9876543210"
has clean.fresh_explained "$out" "BAD /w/.coachfs-tmp.fedcba9876543210: temporary file changed within the last hour"
ok clean.symlink_left test -L "$TW/.coachfs-tmp.0123456789abcdef"
eq clean.symlink_target_intact "$(cat "$T/outside")" outside
ok clean.odd_name_left test -f "$TW/.coachfs-tmp.notours"
has clean.odd_name_explained "$out" "BAD /w/.coachfs-tmp.notours: named like a temporary file but not one"
rm -f "$TW/.coachfs-tmp.fedcba9876543210" "$TW/.coachfs-tmp.0123456789abcdef" "$TW/.coachfs-tmp.notours"
eq clean.nothing_left "$(find "$STORE/tree" -name '.coachfs-tmp.*' | wc -l)" 0
echo "# write phase: $(cat "$L"/write.log.* | grep -c '^ok$') opens, $(wc -l <"$T/hotnames") files under load, $(wc -l <"$T/write.eio") damaged"
# damaged files (if any) go; the rest must pass the offline check
while read -r f; do rm -f "$STORE/tree/w/$f"; done <"$T/write.eio"
ok write.check_clean_after_removal "$BIN/coach-admin" check

# ---- phase 2: kill during a read load ----
cfs_mount || exit 1
audit_q 'select max(id) from events' >"$T/read.firstid"
# shellcheck disable=SC2046
as cfs_alice $LOAD read "$MNT/w" "$L/read.log.1" $(cat "$T/hotnames" | grep -vxF -f "$T/write.eio") &
r1=$!
as cfs_carol $LOAD read "$MNT/w" "$L/read.log.2" sync0 sync1 sync2 sync3 &
r2=$!
as cfs_bob $LOAD read "$MNT/w" "$L/read.log.3" granted0 &
r3=$!
as cfs_alice $LOAD read "$MNT/w" "$L/read.log.4" lessonly0 sync4 &
r4=$!
sleep 2
audit_q 'select max(id) from events' >"$T/read.maxid"
sleep 0.3
kill_daemon read
for r in $r1 $r2 $r3 $r4; do
	timeout 30 tail --pid="$r" -f /dev/null || fail read.worker_stuck "worker $r still running"
done
wait $r1 $r2 $r3 $r4
survived read
cfs_mount || exit 1
ok read.synced_intact sh -c "cd '$MNT/w' && sha256sum --quiet -c '$T/sums'"
ok read.listing_works sh -c "ls '$MNT/w' | grep -q sync11"
echo "# read phase: $(cat "$L"/read.log.* | grep -c '^ok$') opens"
cfs_umount
ok read.check_clean "$BIN/coach-admin" check
eq unmount_recorded "$(audit_q "select action from events order by id desc limit 1")" unmount
