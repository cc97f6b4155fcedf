#!/bin/bash
# Mounting at boot: an fstab line of type fuse.coachfs through mount(8) and
# the mount.fuse.coachfs helper (config=FILE among the options, mount(8)'s
# own words such as _netdev and nofail ignored, the store named as the
# source and checked against the config), and coachfs@.service instances,
# two stores side by side, run from the unit's own command lines (this
# machine's PID 1 is not systemd, so the unit files are checked with
# systemd-analyze and their ExecStart/ExecStop lines are run as written).
. "$(dirname "$0")/lib.sh"
cfs_users
cfs_init || exit 1
mkdir -p "$MNT"
GEN=$T/gen
mkdir -p "$GEN"
sed "s|@BINDIR@|$BIN|g" "$TOP/etc/mount.fuse.coachfs.in" >"$GEN/mount.fuse.coachfs"
chmod 755 "$GEN/mount.fuse.coachfs"
sed "s|@BINDIR@|$BIN|g" "$TOP/etc/coachfs@.service.in" >"$GEN/coachfs@.service"

# Some content, written through a plain mount first.
cfs_mount || exit 1
mkdir "$MNT/pub" && setfattr -n user.coachfs.class -v public "$MNT/pub"
echo "boot-time content" >"$MNT/pub/a.txt"
cfs_umount

# 1. The helper, called the way mount(8) calls it.
ok helper_mounts "$GEN/mount.fuse.coachfs" "$STORE" "$MNT" -o "rw,config=$CFG,_netdev,nofail"
DAEMON_PID=$(pgrep -n -f "coachfs.*$MNT\$" || true)
eq helper_reads "$(as cfs_alice cat "$MNT/pub/a.txt" 2>&1)" "boot-time content"
eq helper_fstype "$(awk -v m="$MNT" '$2 == m { print $3 }' /proc/self/mounts)" "fuse.coachfs"
cfs_umount
ok helper_fake "$GEN/mount.fuse.coachfs" "$STORE" "$MNT" -f -o "config=$CFG"
no helper_fake_mounts_nothing mountpoint -q "$MNT"
out=$("$GEN/mount.fuse.coachfs" "$T" "$MNT" -o "config=$CFG" 2>&1)
has wrong_source_refused "$out" "$T: not the store $CFG names ([store] path = $STORE)"
no wrong_source_mounts_nothing mountpoint -q "$MNT"
out=$("$BIN/coachfs" -c "$T/other.ini" -o "config=$CFG" "$MNT" 2>&1)
has two_configs_refused "$out" "-c $T/other.ini and -o config=$CFG name different files"

# 2. Through mount(8) and an fstab file (mount -T), with the helper where
#    mount(8) looks for it. An installed helper is set aside and put back.
HELPER=/sbin/mount.fuse.coachfs
SAVED=
if [ -e "$HELPER" ]; then SAVED=$T/helper.saved; cp -p "$HELPER" "$SAVED"; fi
restore_helper() { if [ -n "$SAVED" ]; then cp -p "$SAVED" "$HELPER"; else rm -f "$HELPER"; fi; }
cp "$GEN/mount.fuse.coachfs" "$HELPER"
printf '%s %s fuse.coachfs config=%s,_netdev,nofail 0 0\n' "$STORE" "$MNT" "$CFG" >"$T/fstab"
out=$(mount -T "$T/fstab" "$MNT" 2>&1)
ok fstab_mount_status test $? = 0
DAEMON_PID=$(pgrep -n -f "coachfs.*$MNT\$" || true)
eq fstab_reads "$(as cfs_alice cat "$MNT/pub/a.txt" 2>&1)" "boot-time content"
eq fstab_audited "$(audit_q "SELECT count(*) FROM events WHERE action='mount'")" 3
cfs_umount
restore_helper
if [ -n "$SAVED" ]; then
	ok helper_restored cmp -s "$SAVED" "$HELPER"
else
	no helper_removed test -e "$HELPER"
fi

# 3. coachfs@NAME instances: /etc/coachfs/NAME.ini, mounted at /mnt/NAME.
if systemd-analyze --help >/dev/null 2>&1; then
	cp "$GEN/coachfs@.service" "$GEN/coachfs@one.service"
	out=$(systemd-analyze verify --man=no "$GEN/coachfs@one.service" 2>&1)
	ok unit_verifies test -z "$(echo "$out" | grep -v -e 'fusermount3' -e '^$')"
fi
unit_line() { # KEY INSTANCE — the unit's line with %i expanded
	sed -n "s/^$1=//p" "$GEN/coachfs@.service" | sed "s/%i/$2/g"
}
eq unit_execstart "$(unit_line ExecStart one)" "$BIN/coachfs -c /etc/coachfs/one.ini /mnt/one"
# Run both instances' lines against two stores, with /etc/coachfs and /mnt
# mapped into the test directory so nothing on the machine is touched.
for i in one two; do
	mkdir -p "$T/inst/etc/$i.var" "$T/inst/mnt/$i"
	sed -e "s|^path = .*|path = $T/inst/$i.store|" \
	    -e "s|$T/var/|$T/inst/etc/$i.var/|" "$CFG" >"$T/inst/etc/$i.ini"
	"$BIN/coach-admin" -c "$T/inst/etc/$i.ini" init --kdf interactive >/dev/null 2>&1 ||
		fail "init_$i"
done
run_unit() { # KEY INSTANCE
	local cmd
	cmd=$(unit_line "$1" "$2" | sed -e "s|/etc/coachfs/|$T/inst/etc/|" -e "s| /mnt/| $T/inst/mnt/|")
	# shellcheck disable=SC2086
	$cmd
}
ok instance_one_starts run_unit ExecStart one
ok instance_two_starts run_unit ExecStart two
echo one >"$T/inst/mnt/one/id.txt" && echo two >"$T/inst/mnt/two/id.txt"
eq instances_apart "$(cat "$T/inst/mnt/one/id.txt") $(cat "$T/inst/mnt/two/id.txt")" "one two"
eq instance_own_store "$(ls "$T/inst/one.store/tree" | grep -c id.txt) $(ls "$T/inst/two.store/tree" | grep -c id.txt)" "1 1"
ok instance_one_stops run_unit ExecStop one
ok instance_two_stops run_unit ExecStop two
for _ in $(seq 1 100); do pgrep -f "coachfs -c $T/inst/" >/dev/null || break; sleep 0.05; done
no instances_gone pgrep -f "coachfs -c $T/inst/"
