#!/bin/bash
# make.sh — how tests/golden/v1 was made, kept for the record. It needs a
# build of the v1 code (the commit before store format v2, e.g. f6817f5)
# and root (it mounts). Usage: make.sh BUILD_BIN_DIR OUT_DIR
# OUT_DIR gets store/ (the v1 store: coachfs.hdr and tree/) and var/
# (policy.db, audit.db, audit.db.pub). The passphrase is ./passphrase and the
# configuration is ./coachfs.ini.in with @DIR@ for OUT_DIR.
set -eu
BIN=$1; OUT=$2
HERE=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$OUT"
sed "s|@DIR@|$OUT|g" "$HERE/coachfs.ini.in" >"$OUT/coachfs.ini"
cp "$HERE/passphrase" "$OUT/passphrase"; chmod 600 "$OUT/passphrase"
"$BIN/coach-admin" -c "$OUT/coachfs.ini" init --kdf interactive
mkdir -p "$OUT/mnt"
"$BIN/coachfs" -c "$OUT/coachfs.ini" "$OUT/mnt"
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
fusermount3 -u "$M"
sleep 1
rmdir "$M"
rm -f "$OUT/coachfs.ini" "$OUT/passphrase"
