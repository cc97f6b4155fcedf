#!/bin/bash
# An attacker who can write audit.db, through a real mount: two sessions of
# activity as throwaway users, then the log tampered with the sqlite3 CLI
# (and a few lines of Python to recompute the plain BLAKE2b chain, which
# needs no key), the way someone with the file would:
#   - checkpoints emptied and history rewritten with a recomputed chain:
#     verify exits 1 ("no valid checkpoint"), and the daemon refuses to
#     mount over it rather than seal it;
#   - a checkpoint deleted from the middle, or two swapped: verify names it;
#   - the newest checkpoints deleted with the rows they sealed (a clean
#     rollback): verify alone cannot tell, verify --head with the head an
#     auditor pinned before (coach-audit head, or the daemon's syslog copy)
#     exits 1 naming the missing events;
#   - a whole forged log with its own key beside it: verify without --pubkey
#     warns loudly that the key proves nothing; with the pinned key it fails.
# The daemon runs in the foreground so its syslog lines land in daemon.err.
. "$(dirname "$0")/lib.sh"
A="$BIN/coach-audit"
DB=$T/var/audit.db

# rechain DB — recompute every row's prev_hash/hash (plain BLAKE2b-256 over
# the canonical encoding, README, "Audit log"): what anyone can do without a key
rechain() {
	python3 - "$1" <<'PY'
import hashlib, sqlite3, struct, sys
db = sqlite3.connect(sys.argv[1])
db.execute("DROP TRIGGER IF EXISTS events_no_update")
rows = db.execute('SELECT id, ts, host, uid, user, pid, exe, action, path, result, reason,'
                  ' grant_id, "offset", length FROM events ORDER BY id').fetchall()
def enc(v):
    if v is None:
        return b"\0" + struct.pack(">I", 0)
    if isinstance(v, int):
        return b"\1" + struct.pack(">I", 8) + struct.pack(">q", v)
    b = v.encode()
    return b"\2" + struct.pack(">I", len(b)) + b
prev = bytes(32)
for r in rows:
    h = hashlib.blake2b(prev + b"".join(enc(c) for c in r), digest_size=32).digest()
    db.execute("UPDATE events SET prev_hash = ?, hash = ? WHERE id = ?", (prev, h, r[0]))
    prev = h
db.commit()
PY
}
# copy NAME — a consistent copy of the live log to tamper with
copy() { rm -f "$T/$1"; sqlite3 "$DB" ".backup '$T/$1'"; }
# verify_fails NAME DB MSG [ARGS...] — verify --pubkey exits 1 naming MSG
verify_fails() {
	local n=$1 db=$2 msg=$3 out rc; shift 3
	out=$("$A" --db "$db" verify --pubkey "$PK" "$@" 2>&1); rc=$?
	if [ "$rc" = 1 ]; then has "$n" "$out" "$msg"; else fail "$n" "exit $rc: $out"; fi
}

cfs_users
cfs_init || exit 1
PK=$("$BIN/coach-admin" pubkey)

# ---- session 1
CFS_FG=1 cfs_mount || exit 1
mkdir -p "$MNT/pb"
printf 'isolate the host\n' >"$MNT/pb/a.md"
chmod -R a+rX "$MNT/pb"
eq s1_alice "$(as cfs_alice cat "$MNT/pb/a.md")" "isolate the host"
eq s1_carol "$(as cfs_carol cat "$MNT/pb/a.md")" "isolate the host"
cfs_umount
eq s1_mount_sealed "$(audit_q "SELECT count(*) FROM checkpoints WHERE seq = 2 AND last_id = (SELECT id FROM events WHERE action = 'mount')")" 1
HEAD1=$("$A" head --pubkey "$PK"); rc=$?
eq head1_rc "$rc" 0
eq head1_shape "$(printf '%s' "$HEAD1" | grep -cE '^coachfs-audit-head-2 seq=[0-9]+ last_id=[0-9]+ ts=[0-9]+ last_hash=[0-9a-f]{64} prev=[0-9a-f]{64} sig=[0-9a-f]{128}$')" 1
S1=$(printf '%s' "$HEAD1" | sed 's/.* seq=\([0-9]*\) .*/\1/')
L1=$(printf '%s' "$HEAD1" | sed 's/.* last_id=\([0-9]*\) .*/\1/')
eq head1_is_unmount "$(audit_q "SELECT action FROM events WHERE id = $L1")" unmount
eq head1_in_db "$(audit_q "SELECT count(*) FROM checkpoints WHERE seq = $S1 AND last_id = $L1")" 1
# the daemon sent every head to syslog (authpriv): the last is the same line
SYSLOG_HEAD=$(grep -o 'audit head coachfs-audit-head-2 .*' "$T/daemon.err" | tail -n 1 | sed 's/^audit head //')
eq head1_syslog_copy "$SYSLOG_HEAD" "$HEAD1"
out=$("$A" head --json --pubkey "$PK" | python3 -c 'import json,sys; h=json.load(sys.stdin); print(h["seq"], h["last_id"], h["line"])')
eq head1_json "$out" "$S1 $L1 $HEAD1"

# ---- session 2
CFS_FG=1 cfs_mount || exit 1
eq s2_alice "$(as cfs_alice cat "$MNT/pb/a.md")" "isolate the host"
printf 'second\n' >"$MNT/pb/b.md"
no s2_bob_denied as cfs_bob cat "$MNT/pb/a.md"
cfs_umount
HEAD2=$("$A" head --pubkey "$PK")
S2=$(printf '%s' "$HEAD2" | sed 's/.* seq=\([0-9]*\) .*/\1/')
L2=$(printf '%s' "$HEAD2" | sed 's/.* last_id=\([0-9]*\) .*/\1/')
if [ "$S2" -gt "$((S1 + 1))" ] && [ "$L2" -gt "$L1" ]; then pass head2_later; else fail head2_later "$HEAD1 / $HEAD2"; fi
printf '# pinned by the auditor\n%s\n\n%s\n' "$HEAD1" "$HEAD2" >"$T/pins.txt"

# the untouched log: verifies, with and against its pins
out=$("$A" verify --pubkey "$PK"); rc=$?
eq verify_untouched_rc "$rc" 0
has verify_reports_newest "$out" "newest checkpoint seq $S2 at "
ok verify_head_line "$A" verify --pubkey "$PK" --head "$HEAD2"
out=$("$A" verify --pubkey "$PK" --head "$T/pins.txt"); rc=$?
eq verify_head_file_rc "$rc" 0
has verify_head_file "$out" "2 pinned heads present"
out=$("$A" verify --json --pubkey "$PK" --head "$T/pins.txt" | python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["verified"], r["newest_seq"], r["pinned"], r["pubkey_beside_db"])')
eq verify_json "$out" "True $S2 2 False"

# ---- checkpoints emptied, history rewritten (alice's opens become bob's),
# chain recomputed: before, verify said the log held
copy rechained.db
sqlite3 "$T/rechained.db" "DROP TRIGGER checkpoints_no_delete; DELETE FROM checkpoints;
	DROP TRIGGER events_no_update; UPDATE events SET user = 'cfs_bob' WHERE user = 'cfs_alice'"
rechain "$T/rechained.db"
eq rechain_consistent "$(sqlite3 "$T/rechained.db" "SELECT count(*) FROM events WHERE user = 'cfs_alice'")" 0
verify_fails rechained_no_checkpoint "$T/rechained.db" "NOT verified: event 1: the log has"
has rechained_msg "$("$A" --db "$T/rechained.db" verify --pubkey "$PK" 2>&1)" "but no valid checkpoint at all"

# ... and the daemon will not seal over it at the next mount
cp "$DB" "$T/good.db"
cp "$T/rechained.db" "$DB"
rm -f "$DB-wal" "$DB-shm"
if "$BIN/coachfs" -c "$CFG" "$MNT" 2>"$T/refused.err"; then
	fail daemon_refuses_unsealed_log "mounted over a log whose checkpoints were deleted"
	cfs_umount
else
	has daemon_refuses_unsealed_log "$(cat "$T/refused.err")" "but no checkpoint (checkpoints deleted?); refusing to seal over them"
fi
eq daemon_signed_nothing "$(audit_q "SELECT count(*) FROM checkpoints")" 0
cp "$T/good.db" "$DB"
rm -f "$DB-wal" "$DB-shm"
ok verify_restored "$A" verify --pubkey "$PK" --head "$T/pins.txt"

# ---- a checkpoint deleted from the middle; two swapped
copy middle.db
MID=$(sqlite3 "$T/middle.db" "SELECT id FROM checkpoints WHERE seq = 2")
sqlite3 "$T/middle.db" "DROP TRIGGER checkpoints_no_delete; DELETE FROM checkpoints WHERE seq = 2"
verify_fails middle_checkpoint_deleted "$T/middle.db" "NOT verified: checkpoint $((MID + 1)): seq 3 where seq 2 was expected"
copy swapped.db
sqlite3 "$T/swapped.db" "DROP TRIGGER checkpoints_no_update;
	UPDATE checkpoints SET id = -1 WHERE id = 2; UPDATE checkpoints SET id = 2 WHERE id = 3;
	UPDATE checkpoints SET id = 3 WHERE id = -1"
verify_fails checkpoints_swapped "$T/swapped.db" "NOT verified: checkpoint 2: seq 3 where seq 2 was expected"

# ---- rolled back to session 1's head: the newest checkpoints deleted with
# every row they sealed
copy rolledback.db
sqlite3 "$T/rolledback.db" "DROP TRIGGER checkpoints_no_delete; DROP TRIGGER events_no_delete;
	DELETE FROM checkpoints WHERE seq > $S1; DELETE FROM events WHERE id > $L1"
eq rollback_is_clean "$(sqlite3 "$T/rolledback.db" "SELECT max(id) FROM events")" "$L1"
# without a pinned head this is a consistent, older log (documented)
out=$("$A" --db "$T/rolledback.db" verify --pubkey "$PK" 2>&1); rc=$?
eq rollback_undetectable_unpinned "$rc" 0
verify_fails rollback_caught_by_head "$T/rolledback.db" \
	"NOT verified: event $((L1 + 1)): missing, but the pinned head (checkpoint seq $S2) sealed events up to $L2 (truncated or rolled back)" \
	--head "$HEAD2"
verify_fails rollback_caught_by_pin_file "$T/rolledback.db" "the pinned head (checkpoint seq $S2)" --head "$T/pins.txt"
verify_fails rollback_caught_by_syslog_copy "$T/rolledback.db" "NOT verified: event $((L1 + 1)): missing" \
	--head "$(grep -o 'coachfs-audit-head-2 .*' "$T/daemon.err" | tail -n 1)"
ok rollback_old_pin_still_holds "$A" --db "$T/rolledback.db" verify --pubkey "$PK" --head "$HEAD1"

# ---- bad pins are bad arguments (exit 2), not a bad log
"$A" verify --pubkey "$PK" --head "coachfs-audit-head-2 seq=1" >/dev/null 2>&1; eq head_line_malformed $? 2
FORGED=$(printf '%s' "$HEAD2" | sed 's/ ts=\([0-9]*\)/ ts=1\1/')
out=$("$A" verify --pubkey "$PK" --head "$FORGED" 2>&1); rc=$?
eq head_not_signed_rc "$rc" 2
has head_not_signed_msg "$out" "is not signed by this public key"
printf 'not a head\n' >"$T/junk.txt"
"$A" verify --pubkey "$PK" --head "$T/junk.txt" >/dev/null 2>&1; eq head_file_junk $? 2

# ---- a whole forged log, with its own key beside it: the key taken from
# beside the database proves nothing, and verify says so
sed -e "s|^path = $STORE\$|path = $T/other-store|" -e "s|^db = $T/var/|db = $T/other-var/|" "$CFG" >"$T/other.ini"
"$BIN/coach-admin" -c "$T/other.ini" init --kdf interactive >/dev/null 2>&1 || fail other_init
cp "$T/other-var/audit.db" "$T/forged.db"
cp "$T/other-var/audit.db.pub" "$T/forged.db.pub"
out=$("$A" --db "$T/forged.db" verify 2>"$T/forged.err"); rc=$?
eq forged_own_key_rc "$rc" 0
has forged_own_key_warns "$(cat "$T/forged.err")" "WARNING: the audit public key was read from $T/forged.db.pub, beside the database: it proves nothing"
verify_fails forged_pinned_key "$T/forged.db" "NOT verified: checkpoint 1 has a bad signature"
