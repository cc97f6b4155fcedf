#!/bin/bash
# make.sh — how tests/golden/v2 was made, kept for the record. It needs a
# build of the store-format-2 code (see README.md for the commit) and root
# (it mounts, and creates the users cfs_gold and cfs_goldadm with fixed
# uids). Usage: make.sh BUILD_BIN_DIR OUT_DIR
# OUT_DIR gets store/ (coachfs.hdr and tree/), var/ (policy.db, audit.db,
# audit.db.pub, state.db) and link-token (the one link's token: a test
# secret). The passphrase is ./passphrase and the configuration is
# ./coachfs.ini.in with @DIR@ for OUT_DIR.
set -eu
BIN=$1; OUT=$2
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/users.sh"
golden_v2_users
mkdir -p "$OUT"; chmod 755 "$OUT"
sed "s|@DIR@|$OUT|g" "$HERE/coachfs.ini.in" >"$OUT/coachfs.ini"
cp "$HERE/passphrase" "$OUT/passphrase"; chmod 600 "$OUT/passphrase"
export COACHFS_CONFIG=$OUT/coachfs.ini
"$BIN/coach-admin" init --kdf interactive
mkdir -p "$OUT/mnt"
"$BIN/coachfs" "$OUT/mnt"
M=$OUT/mnt
printf 'top-level readme\n' >"$M/readme.txt"
: >"$M/empty.txt"
mkdir -p "$M/playbooks/ransomware" "$M/secret" "$M/notes"
printf 'contain: isolate hosts, keep evidence\n' >"$M/playbooks/ransomware/contain.md"
printf 'eradicate step 1\neradicate step 2\n' >"$M/playbooks/ransomware/eradicate.md"
python3 -c 'import sys; sys.stdout.write("".join("line %05d of the big playbook\n" % i for i in range(400)))' >"$M/playbooks/big.md"
printf 'the plan, classified by its folder\n' >"$M/secret/plan.md"
printf 'shift handoff 2026-11-20\n' >"$M/notes/handoff.txt"
printf 'own policy\n' >"$M/notes/own.txt"
setfattr -n user.coachfs.class -v secret "$M/secret"
setfattr -n user.coachfs.class -v sensitive "$M/notes/own.txt"
setfattr -n user.coachfs.export -v deny "$M/notes/own.txt"
setfattr -n user.coachfs.max_opens -v 5 "$M/notes/own.txt"
setfattr -n user.note -v 'a user attribute' "$M/notes/handoff.txt"
ln -s ../playbooks/ransomware/contain.md "$M/notes/contain-link"
# Grants start 2026-12-01 and end 2099-01-01 (26329 days): coach-grant has
# no absolute end, so an absolute start and a TTL within the classes' max_ttl.
G="--start 2026-12-01T00:00:00Z --ttl 26329d"
"$BIN/coach-grant" add cfs_gold /notes $G --reason 'golden plain grant'                    # 1
"$BIN/coach-grant" add cfs_gold /secret $G --approved-by cfs_goldadm --reason 'golden two-person grant'  # 2
"$BIN/coach-grant" add role:contractor /notes/own.txt $G --write --reason 'golden revoked grant'  # 3
"$BIN/coach-grant" revoke 3 --reason 'golden revocation'
setpriv --reuid=cfs_goldadm --regid=100 --clear-groups -- "$BIN/coach-grant" approve 2 --mount "$M"
# A link has no start: it lasts 26000 days from the day it was made (2098).
"$BIN/coach-grant" link /playbooks/big.md --ttl 26000d --uses 1000 --user cfs_gold --mount "$M" |
	sed 's|.*/\.links/||' >"$OUT/link-token"
# reads, so audit.db has open and read rows under each kind of access
gold() { setpriv --reuid=cfs_gold --regid=100 --clear-groups -- "$@"; }
gold cat "$M/readme.txt" "$M/notes/own.txt" "$M/secret/plan.md" >/dev/null
gold cat "$M/.links/$(cat "$OUT/link-token")" >/dev/null
cat "$M/playbooks/big.md" >/dev/null
fusermount3 -u "$M"
sleep 1
rmdir "$M"
rm -f "$OUT/coachfs.ini" "$OUT/passphrase"
