#!/bin/bash
# coach-admin upgrade on the golden format-1 store (tests/golden/v1, made by
# the v1 code): refused by the daemon before, converted in place, then every
# plaintext, class and attribute as the old code showed them; a run that was
# interrupted half-way (simulated: part of the tree already converted, a
# leftover temporary file, the header still format 1) finishes when run again.
. "$(dirname "$0")/lib.sh"
G=$TOP/tests/golden/v1
D=$T/g
golden_copy "$D"
CFG=$D/coachfs.ini; export COACHFS_CONFIG=$CFG
mkdir -p "$MNT"; out=$("$BIN/coachfs" -c "$CFG" "$MNT" 2>&1); rc=$?
eq v1_refused_status "$rc" 1
has v1_refused_says_upgrade "$out" "coach-admin upgrade"
no v1_not_mounted mountpoint -q "$MNT"
has v1_check_says_upgrade "$("$BIN/coach-admin" -c "$CFG" check 2>&1)" "coach-admin upgrade"
# a grant the old coach-grant wrote (no row MAC): sealed by the upgrade, the
# administrator's explicit step, and only then honoured
cfs_users
NOW=$(date +%s)
sqlite3 "$D/var/policy.db" "INSERT INTO grants(id, subject, kind, ugid, role, path, write, start, \"end\",
	max_opens, reason, granted_by, approved_by, created, revoked_at, revoked_by, revoke_reason)
	VALUES (1, 'cfs_alice', 1, $(id -u cfs_alice), NULL, '/playbooks', 0, $NOW, $((NOW + 3600)), 0,
	'made by v1', 'root', '', $NOW, 0, '', '')"
out=$("$BIN/coach-admin" -c "$CFG" upgrade 2>&1)
ok upgrade test $? = 0
has upgrade_seals_legacy_rows "$out" "sealed 1 grant and counter rows and 0 link rows from before row MACs"
has upgrade_again_nothing "$("$BIN/coach-admin" -c "$CFG" upgrade 2>&1)" "already format 2"
has legacy_grant_valid "$("$BIN/coach-grant" -c "$CFG" show 1 2>&1)" "made by v1"
no legacy_grant_not_invalid sh -c "'$BIN/coach-grant' -c '$CFG' show 1 2>&1 | grep -q INVALID"
# a row slipped in after the upgrade has no MAC: listed INVALID, grants nothing
sqlite3 "$D/var/policy.db" "INSERT INTO grants(id, subject, kind, ugid, path, write, start, \"end\",
	max_opens, reason, granted_by, approved_by, created, revoked_at) VALUES (2, 'cfs_bob', 1,
	$(id -u cfs_bob), '/', 1, $NOW, $((NOW + 3600)), 0, 'forged', 'root', '', $NOW, 0)"
has forged_after_upgrade_invalid "$("$BIN/coach-grant" -c "$CFG" show 2 2>&1)" "INVALID"
ok upgraded_check_clean "$BIN/coach-admin" -c "$CFG" check
ok every_dir_has_sidecar test -f "$D/store/tree/.coachfs-dir" -a -f "$D/store/tree/playbooks/ransomware/.coachfs-dir" -a -f "$D/store/tree/notes/.coachfs-dir"
cfs_mount || exit 1
expect_golden up
# the upgraded store works like a new one
ok write_after_upgrade sh -c "echo new >$MNT/notes/new.txt && mv $MNT/notes/new.txt $MNT/playbooks/new.txt && mkdir $MNT/notes/sub"
cfs_umount
ok check_after_use "$BIN/coach-admin" -c "$CFG" check
# binding holds on upgraded files too: the folder-classified file moved out fails
mv "$D/store/tree/secret/plan.md" "$D/store/tree/notes/plan.md"
has upgraded_move_detected "$("$BIN/coach-admin" -c "$CFG" check 2>&1)" "BAD /notes/plan.md"
mv "$D/store/tree/notes/plan.md" "$D/store/tree/secret/plan.md"

# An interrupted upgrade: the root and /playbooks already converted (their
# sidecars, big.md), a temporary file left behind, the header still format 1.
F=$T/full; golden_copy "$F"
"$BIN/coach-admin" -c "$F/coachfs.ini" upgrade >/dev/null 2>&1 || fail interrupted_setup "full upgrade failed"
H=$T/half; golden_copy "$H"
cp -a "$F/store/tree/.coachfs-dir" "$H/store/tree/.coachfs-dir"
cp -a "$F/store/tree/playbooks/.coachfs-dir" "$H/store/tree/playbooks/.coachfs-dir"
cp -a "$F/store/tree/playbooks/big.md" "$H/store/tree/playbooks/big.md"
head -c 700 /dev/urandom >"$H/store/tree/playbooks/.coachfs-tmp.0123456789abcdef"
CFG=$H/coachfs.ini; export COACHFS_CONFIG=$CFG
no half_refused "$BIN/coachfs" -c "$CFG" "$MNT"
ok upgrade_rerun "$BIN/coach-admin" -c "$CFG" upgrade
no rerun_removed_leftover test -e "$H/store/tree/playbooks/.coachfs-tmp.0123456789abcdef"
ok rerun_check_clean "$BIN/coach-admin" -c "$CFG" check
cfs_mount || exit 1
expect_golden rerun
cfs_umount
