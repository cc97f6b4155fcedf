#!/bin/bash
# The coachfs demo: installs what it needs, builds, creates a store from the
# sample material in etc/sample, mounts it, and shows allowed and denied
# access, a grant and its revocation, a blocked export, derived content and
# the audit trail. Run as root on Debian:  sh tools/demo.sh  (or make demo)
# It leaves everything under /var/tmp/coachfs-demo and unmounts at the end
# (DEMO_KEEP=1 keeps the mount for you to explore).
set -eu
cd "$(dirname "$0")/.."
TOP=$(pwd)
[ "$(id -u)" = 0 ] || { echo "demo: run as root (it mounts FUSE and creates demo users)" >&2; exit 1; }
sh tools/deps.sh --if-missing
make -s all
BIN=$TOP/build/bin
D=/var/tmp/coachfs-demo
MNT=$D/mnt
if mountpoint -q "$MNT" 2>/dev/null; then fusermount3 -u "$MNT" || fusermount3 -uz "$MNT"; sleep 0.5; fi
rm -rf "$D"
mkdir -p "$D/var" "$MNT"
chmod 755 "$D"

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@" 2>&1 | sed 's/^/  /' || true; }
as() { local u=$1; shift; printf '%s$ %s\n' "$u" "$*"; setpriv --reuid="$u" --regid="$(id -g "$u")" --init-groups -- "$@" 2>&1 | sed 's/^/  /' || true; }

say "Demo accounts: maya (responder), jon (contractor)"
for u in maya jon; do id "$u" >/dev/null 2>&1 || useradd -M -N -g users -s /usr/sbin/nologin "$u"; done
echo "  maya: $(id maya)"; echo "  jon:  $(id jon)"

say "Configuration ($D/coachfs.ini)"
head -c 32 /dev/urandom | base64 >"$D/passphrase"; chmod 600 "$D/passphrase"
sed -e "s|^path = .*|path = $D/store|" \
    -e "s|^passphrase_file = .*|passphrase_file = $D/passphrase|" \
    -e "s|^db = /var/lib/coachfs/policy.db.*|db = $D/var/policy.db|" \
    -e "s|^db = /var/lib/coachfs/audit.db.*|db = $D/var/audit.db|" \
    -e "s|^responder = .*|responder = maya|" \
    -e "s|^admin = .*|admin = root|" \
    -e "s|^\[roles\]|[roles]\ncontractor = jon|" \
    etc/coachfs.ini >"$D/coachfs.ini"
export COACHFS_CONFIG=$D/coachfs.ini
sed -n '/^\[roles\]/,$p' "$COACHFS_CONFIG" | grep -v '^;' | grep -v '^$' | sed 's/^/  /'

say "Create the store (Argon2id takes about a second)"
run "$BIN/coach-admin" init

say "Mount it"
run "$BIN/coachfs" "$MNT"
mount | grep " $MNT " | sed 's/^/  /'

say "Load the sample material as root (the admin role) and classify it"
mkdir "$MNT/playbooks" "$MNT/detections" "$MNT/transcripts"
cp etc/sample/playbooks/* "$MNT/playbooks/"
cp etc/sample/detections/* "$MNT/detections/"
cp etc/sample/transcripts/* "$MNT/transcripts/"
chmod -R a+rX "$MNT"
chmod 1777 "$MNT/transcripts"   # responders file their coaching notes here
run setfattr -n user.coachfs.class -v sensitive "$MNT/playbooks"
run getfattr -n user.coachfs.class "$MNT/playbooks/ransomware-containment.md"
run getfattr -n user.coachfs.class "$MNT/transcripts/shift-handoff-2026-11-20.txt"
say "At rest it is ciphertext only"
run ls -l "$D/store/tree/playbooks"
printf '$ grep -rc Isolate %s/store  (the playbook text)\n' "$D"; echo "  $(grep -rl Isolate "$D/store" | wc -l) files contain it"

say "maya (responder) reads an internal transcript; the sensitive playbook needs a grant"
as maya head -n 3 "$MNT/transcripts/shift-handoff-2026-11-20.txt"
as maya cat "$MNT/playbooks/ransomware-containment.md"

say "jon (contractor) sees nothing he may not open"
as jon ls -la "$MNT"
as jon cat "$MNT/transcripts/shift-handoff-2026-11-20.txt"

say "An administrator grants maya two hours on the playbooks"
GID=$("$BIN/coach-grant" add maya /playbooks --ttl 2h --reason "on-call IR, case 1142")
echo "  grant $GID"
run "$BIN/coach-grant" list --active
as maya head -n 4 "$MNT/playbooks/ransomware-containment.md"

say "Copy-out is an export: cp of the sensitive playbook is blocked"
as maya cp "$MNT/playbooks/ransomware-containment.md" /tmp/stolen.md

say "A coaching response written after reading the playbook inherits its class"
echo "  (one process, like an AI coaching assistant: it reads the playbook, then writes a response)"
as maya /usr/bin/python3 -c "
src = open('$MNT/playbooks/ransomware-containment.md').read()
open('$MNT/transcripts/coaching-response.md', 'w').write('Coaching: ' + src.splitlines()[2] + chr(10))"
run getfattr -n user.coachfs.class "$MNT/transcripts/coaching-response.md"
as jon cat "$MNT/transcripts/coaching-response.md"

say "Revocation ends access at once"
run "$BIN/coach-grant" revoke "$GID" --reason "case closed"
as maya cat "$MNT/playbooks/ransomware-containment.md"

say "The audit trail of the playbook"
if [ -x "$BIN/coach-audit" ]; then
	run "$BIN/coach-audit" history /playbooks/ransomware-containment.md
else
	run sqlite3 -column -header "$D/var/audit.db" "select id, datetime(ts/1000000,'unixepoch') as time, user, action, path, result, reason from events where path like '/playbooks/%' order by id"
fi

if [ -z "${DEMO_KEEP:-}" ]; then
	say "Unmount (the audit queue is flushed and sealed)"
	run fusermount3 -u "$MNT"
	for _ in $(seq 1 50); do pgrep -f "$BIN/coachfs $MNT" >/dev/null || break; sleep 0.1; done
	say "Auditors verify the chain and the signed checkpoints with the pinned public key"
	run "$BIN/coach-audit" verify --pubkey "$("$BIN/coach-admin" pubkey)"
else
	say "The mount stays at $MNT (COACHFS_CONFIG=$COACHFS_CONFIG); unmount with: fusermount3 -u $MNT"
fi
