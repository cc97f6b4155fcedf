#!/bin/bash
# The audit log through a real mount, as several throwaway users: a row for
# every kind of event (open, replay, read bytes, deny with a reason, grants,
# create/unlink/rename, setxattr old -> new, mount/unmount; reads = open),
# coach-audit's history/log/summary in text, JSON and CSV with every filter,
# verify on the untouched log and on tampered copies (each names the first
# bad event), fail-closed when the database is replaced or its filesystem is
# full, and a kill -9 of the daemon mid-activity (nothing committed is lost,
# the chain continues after a remount). The daemon runs in the foreground so
# its syslog lines (LOG_PERROR) land in $T/daemon.err; under `make SANITIZE=1`
# neither that file nor lib.sh's $T/sanitizer.* may hold a report.
. "$(dirname "$0")/lib.sh"
CFS_FG=1
A="$BIN/coach-audit"
G="$BIN/coach-grant"
DB=$T/var/audit.db
TFS=$T/tfs
BUSY_PID=

t_audit_cleanup() {
	[ -n "$BUSY_PID" ] && kill "$BUSY_PID" 2>/dev/null
	cfs_umount
	# a daemon that never finished mounting, or survived its unmount
	if [ -n "$DAEMON_PID" ] && kill -0 "$DAEMON_PID" 2>/dev/null; then
		kill "$DAEMON_PID"; sleep 0.5; kill -9 "$DAEMON_PID" 2>/dev/null
	fi
	# a killed daemon leaves a dead mount that mountpoint(1) does not see
	grep -qs " $MNT fuse" /proc/mounts && fusermount3 -uz "$MNT"
	if grep -qs " $TFS tmpfs" /proc/mounts; then umount "$TFS" 2>/dev/null || umount -l "$TFS"; fi
	cfs_cleanup
}
trap t_audit_cleanup EXIT

# ids of a JSON array of rows, space separated
ids_json() { python3 -c 'import json,sys; print(" ".join(str(r["id"]) for r in json.load(sys.stdin)))'; }
# ids of the rows matching a WHERE clause, space separated
ids_sql() { audit_q "SELECT coalesce(group_concat(id, ' '), '') FROM (SELECT id FROM events WHERE $1 ORDER BY id)"; }
# acts EXPR WHERE — EXPR of the matching rows in id order, comma separated
acts() { audit_q "SELECT coalesce(group_concat(x, ','), '') FROM (SELECT $1 AS x FROM events WHERE $2 ORDER BY id)"; }
count() { audit_q "SELECT count(*) FROM events WHERE $1"; }
last_row() { audit_q "SELECT $1 FROM events ORDER BY id DESC LIMIT 1"; }
# narrow NAME WHERE ARGS... — `coach-audit log --json ARGS` returns exactly
# the rows WHERE selects (counted after the query, which records itself
# first), some but not all of them
narrow() {
	local n=$1 where=$2 got want total; shift 2
	got=$("$A" log --json "$@" | ids_json)
	want=$(ids_sql "$where")
	total=$(count 1)
	if [ -z "$want" ] || [ "$(echo "$want" | wc -w)" -ge "$total" ]; then
		fail "$n" "the filter $* does not narrow ($(echo "$want" | wc -w) of $total rows)"
	else
		eq "$n" "$got" "$want"
	fi
}
# tampered NAME FIRST_BAD SQL — on a fresh copy of the log, after SQL,
# verify exits 1 naming event FIRST_BAD
tampered() {
	local n=$1 bad=$2 sql=$3 out rc
	rm -f "$T/copy.db"
	sqlite3 "$DB" ".backup '$T/copy.db'"
	if ! sqlite3 "$T/copy.db" "$sql"; then fail "$n" "tampering failed: $sql"; return; fi
	out=$("$A" --db "$T/copy.db" verify --pubkey "$PK" 2>&1); rc=$?
	if [ "$rc" = 1 ]; then has "$n" "$out" "NOT verified: event $bad:"; else fail "$n" "exit $rc: $out"; fi
}
# held_ask — let the held reader read once more; its answer
held_ask() {
	local before; before=$(wc -l <"$T/held.out")
	echo >&4
	for _ in $(seq 1 100); do [ "$(wc -l <"$T/held.out")" -gt "$before" ] && break; sleep 0.05; done
	tail -n 1 "$T/held.out"
}

cfs_users
cfs_init || exit 1
cfs_mount || exit 1
PK=$("$BIN/coach-admin" pubkey)
eq pubkey_hex "$(printf '%s' "$PK" | grep -cE '^[0-9a-f]{64}$')" 1

# ---- material: internal (default), public (world-writable mode), secret
mkdir -p "$MNT/pb" "$MNT/pub" "$MNT/sec"
printf 'isolate the host\n' >"$MNT/pb/a.md"
head -c 300000 /dev/urandom >"$MNT/pb/big.bin"
printf 'open to all\n' >"$MNT/pub/p.txt"
printf 'the secret\n' >"$MNT/sec/s.txt"
setfattr -n user.coachfs.class -v public "$MNT/pub"
chmod -R a+rX "$MNT/pb" "$MNT/pub" "$MNT/sec"
chmod a+w "$MNT/pub/p.txt"

# ---- block X (before the time marker): opens, replays, reads, a denial
eq open_a "$(as cfs_alice cat "$MNT/pb/a.md")" "isolate the host"
eq replay_a "$(as cfs_alice cat "$MNT/pb/a.md")" "isolate the host"
eq carol_a "$(as cfs_carol cat "$MNT/pb/a.md")" "isolate the host"
eq read_big_bytes "$(as cfs_alice cat "$MNT/pb/big.bin" | wc -c)" 300000
has bob_write_refused "$(as cfs_bob sh -c "echo x >> '$MNT/pub/p.txt'" 2>&1)" "ermission denied"
eq bob_reads_public "$(as cfs_bob cat "$MNT/pub/p.txt")" "open to all"

sleep 1.2
M=$(date +%s)          # every row above is before M, every row below after M+1
M_ISO=$(date -u -d "@$M" +%Y-%m-%dT%H:%M:%SZ)
sleep 1.2

# ---- block Y: policy and grants, a readers denial, entry changes
setfattr -n user.coachfs.class -v sensitive "$MNT/sec"
setfattr -n user.coachfs.class -v secret "$MNT/sec"
GID=$("$G" add cfs_alice /sec --ttl 1h --approved-by cfs_dave --reason "audit test" 2>/dev/null)
approve "$GID" >/dev/null
eq grant_id_printed "$(printf '%s' "$GID" | grep -cE '^[0-9]+$')" 1
eq secret_head "$(as cfs_alice head -n 1 "$MNT/sec/s.txt")" "the secret"
has secret_cat_refused "$(as cfs_alice cat "$MNT/sec/s.txt" 2>&1)" "ermission denied"
ok grant_revoke "$G" revoke "$GID" --reason "audit done"
GID2=$("$G" add cfs_alice /sec/s.txt --ttl 1h --approved-by cfs_dave --reason "second look" 2>/dev/null)
approve "$GID2" >/dev/null
eq secret_head_new_grant "$(as cfs_alice head -n 1 "$MNT/sec/s.txt")" "the secret"
eq secret_head_new_grant_again "$(as cfs_alice head -n 1 "$MNT/sec/s.txt")" "the secret"
echo draft >"$MNT/pb/new.md"
mv "$MNT/pb/new.md" "$MNT/pb/moved.md"
rm "$MNT/pb/moved.md"
cfs_umount

# ---- rows
eq row_mount "$(count "action='mount' AND result='allow' AND id=1")" 1
eq row_unmount_last "$(last_row action)" unmount
U=$(last_row id)
eq row_open "$(count "action='open' AND user='cfs_alice' AND path='/pb/a.md' AND result='allow'")" 1
eq row_replay "$(count "action='replay' AND user='cfs_alice' AND path='/pb/a.md' AND result='allow'")" 1
eq row_other_user_not_replay "$(count "action='open' AND user='cfs_carol' AND path='/pb/a.md'")" 1
eq row_open_before_replay "$(acts action "path='/pb/a.md' AND user='cfs_alice' AND action IN ('open','replay')")" "open,replay"
eq row_read_sum "$(audit_q "SELECT sum(length) FROM events WHERE action='read' AND user='cfs_alice' AND path='/pb/big.bin'")" 300000
eq row_read_extent "$(audit_q "SELECT max(\"offset\" + length) FROM events WHERE action='read' AND user='cfs_alice' AND path='/pb/big.bin'")" 300000
has row_deny_write "$(audit_q "SELECT reason FROM events WHERE action='open' AND result='deny' AND user='cfs_bob' AND path='/pub/p.txt'")" "may write class public"
has row_deny_readers "$(audit_q "SELECT reason FROM events WHERE action='open' AND result='deny' AND user='cfs_alice' AND path='/sec/s.txt'")" "is not an allowed reader"
eq row_deny_reasons_words "$(count "result='deny' AND (reason IS NULL OR reason NOT LIKE '% % %')")" 0
eq row_secret_open_grant "$(count "action='open' AND result='allow' AND user='cfs_alice' AND path='/sec/s.txt' AND grant_id=$GID")" 1
eq row_new_grant_not_replay "$(acts action "path='/sec/s.txt' AND action IN ('open','replay') AND grant_id=$GID2")" "open,replay"
has row_grant_add "$(audit_q "SELECT reason FROM events WHERE action='grant_add' AND grant_id=$GID AND path='/sec'")" "reason: audit test"
has row_grant_revoke "$(audit_q "SELECT reason FROM events WHERE action='grant_revoke' AND grant_id=$GID AND path='/sec'")" "reason: audit done"
eq row_create "$(count "action='create' AND result='allow' AND user='root' AND path='/pb/new.md'")" 1
has row_rename "$(audit_q "SELECT reason FROM events WHERE action='rename' AND path='/pb/new.md'")" "/pb/moved.md"
eq row_unlink "$(count "action='unlink' AND result='allow' AND path='/pb/moved.md'")" 1
eq row_setxattr_first "$(audit_q "SELECT reason FROM events WHERE action='setxattr' AND path='/sec' ORDER BY id LIMIT 1")" \
	"user.coachfs.class: (none) -> sensitive"
eq row_setxattr_change "$(audit_q "SELECT reason FROM events WHERE action='setxattr' AND path='/sec' ORDER BY id LIMIT 1 OFFSET 1")" \
	"user.coachfs.class: sensitive -> secret"
eq row_caller_fields "$(count "action IN ('open','replay') AND (uid IS NULL OR pid IS NULL OR exe IS NULL OR host IS NULL)")" 0

# ---- verify the untouched log (sealed at unmount)
out=$("$A" verify --json --pubkey "$PK"); rc=$?
eq verify_untouched_rc "$rc" 0
eq verify_untouched "$(echo "$out" | python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["verified"], r["checkpoints"] > 0, r["last_sealed_id"], r["unsealed"], r["first_bad"])')" \
	"True True $U 1 0"
has verify_text "$("$A" verify --pubkey "$PK")" "audit log verified:"

# ---- text output
out=$("$A" history /pb/a.md)
n=$(count "path='/pb/a.md'")
eq history_lines "$(echo "$out" | sed 1d | wc -l)" "$n"
has history_header "$(echo "$out" | head -n 1)" "ACTION"
eq history_only_path "$(echo "$out" | sed 1d | grep -vc ' /pb/a\.md')" 0
has history_replay "$out" "replay"
eq query_recorded_history "$(last_row "action || ' ' || path || ' ' || reason || ' ' || user")" \
	"audit_query /pb/a.md history /pb/a.md root"
out=$("$A" log)
eq log_lines "$(echo "$out" | sed 1d | wc -l)" "$(count 1)"
has log_unmount "$out" "unmount"
out=$("$A" summary)
has summary_actions "$out" "by action and result:"
has summary_users "$out" "by user:"
has summary_paths "$out" "top paths:"
eq summary_total "$(echo "$out" | sed -n 's/^events: //p')" "$(count 1)"
eq summary_replay "$(echo "$out" | awk '$2 == "replay" && $3 == "allow" {print $1}')" "$(count "action='replay' AND result='allow'")"

# ---- JSON and CSV
COLS="id ts host uid user pid exe action path result reason grant_id offset length prev_hash hash"
out=$("$A" log --json | COLS=$COLS python3 -c '
import json, os, re, sys
rows = json.load(sys.stdin)
cols = os.environ["COLS"].split()
bad = [r["id"] for r in rows if list(r.keys()) != cols]
hexbad = [r["id"] for r in rows if not (re.fullmatch("[0-9a-f]{64}", r["prev_hash"]) and re.fullmatch("[0-9a-f]{64}", r["hash"]))]
print(len(rows), bad, hexbad)')
eq json_parses_keys_hex "$out" "$(count 1) [] []"
out=$("$A" log --csv | COLS=$COLS python3 -c '
import csv, os, sys
rows = list(csv.reader(sys.stdin))
hdr, body = rows[0], rows[1:]
print(hdr == os.environ["COLS"].split(), len(body), all(len(r) == 16 for r in body), sum(r[7] == "read" for r in body))')
eq csv_parses "$out" "True $(count 1) True $(count "action='read'")"
out=$("$A" history /pb --csv | python3 -c 'import csv,sys; r=list(csv.DictReader(sys.stdin)); print(sorted(set(x["path"] for x in r)))')
eq csv_history_subtree "$out" "['/pb', '/pb/a.md', '/pb/big.bin', '/pb/moved.md', '/pb/new.md']"

# ---- filters narrow, and each query is recorded with its filter
narrow since_iso "ts >= $M * 1000000" --since "$M_ISO"
eq query_recorded_since "$(last_row reason)" "log since=$M_ISO"
narrow until_iso "ts < $M * 1000000" --until "$M_ISO"
narrow since_relative "ts >= $M * 1000000" --since "$(( $(date +%s) - M ))s"
narrow until_relative "ts < $M * 1000000" --until "$(( $(date +%s) - M ))s"
narrow user "user = 'cfs_bob'" --user cfs_bob
eq query_recorded_user "$(last_row "action || ' ' || reason")" "audit_query log user=cfs_bob"
narrow action "action = 'replay'" --action replay
narrow result "result = 'deny'" --result deny
narrow combined "ts >= $M * 1000000 AND user = 'cfs_alice' AND action = 'open'" \
	--since "$M_ISO" --user cfs_alice --action open
eq query_recorded_combined "$(last_row reason)" "log since=$M_ISO user=cfs_alice action=open"
eq query_rows_by_root "$(count "action='audit_query' AND user='root' AND result='allow'")" \
	"$(count "action='audit_query'")"

# ---- tampered copies: exit 1 and the first bad event
K=$(audit_q "SELECT id FROM events WHERE action='replay' AND path='/pb/a.md'")
CP=$(audit_q "SELECT max(id) FROM checkpoints")
LAST=$(last_row id)
ok copy_verifies sh -c "sqlite3 '$DB' \".backup '$T/copy.db'\" && '$A' --db '$T/copy.db' verify --pubkey '$PK'"
tampered tamper_edit "$K" "DROP TRIGGER events_no_update; UPDATE events SET reason = 'nothing to see' WHERE id = $K"
R=$(audit_q "SELECT min(id) FROM events WHERE action='read' AND id > $K")
tampered tamper_edit_length "$R" "DROP TRIGGER events_no_update; UPDATE events SET length = length + 1 WHERE id = $R"
tampered tamper_delete_middle "$K" "DROP TRIGGER events_no_delete; DELETE FROM events WHERE id = $K"
tampered tamper_truncate_sealed "$((U - 2))" "DROP TRIGGER events_no_delete; DELETE FROM events WHERE id > $((U - 3))"
tampered tamper_swap "$K" "DROP TRIGGER events_no_update;
	CREATE TEMP TABLE s AS SELECT * FROM events WHERE id IN ($K, $((K + 3)));
	UPDATE events SET (ts, host, uid, user, pid, exe, action, path, result, reason, grant_id, \"offset\", length, prev_hash, hash) =
	  (SELECT ts, host, uid, user, pid, exe, action, path, result, reason, grant_id, \"offset\", length, prev_hash, hash
	   FROM s WHERE s.id = CASE events.id WHEN $K THEN $((K + 3)) ELSE $K END)
	WHERE id IN ($K, $((K + 3)))"
tampered tamper_forged_checkpoint "$U" "DROP TRIGGER checkpoints_no_update; UPDATE checkpoints SET sig = randomblob(64) WHERE id = $CP"
tampered tamper_forged_new_checkpoint "$LAST" "INSERT INTO checkpoints(id, ts, last_id, last_hash, sig)
	SELECT $CP + 1, ts, id, hash, randomblob(64) FROM events WHERE id = $LAST"
eq tamper_live_untouched "$("$A" verify --pubkey "$PK" >/dev/null 2>&1; echo $?)" 0

# ---- fail closed (a): the database replaced by a read-only copy
cfs_mount || exit 1
eq replaced_before "$(as cfs_alice cat "$MNT/pb/a.md")" "isolate the host"
echo one >"$MNT/pb/v1.md"
echo two >"$MNT/pb/v2.md"
mkdir "$MNT/pb/emptydir"
sleep 0.2               # the write rows above are queued; let them land
BROKEN_FROM=$(last_row id)
mv "$DB" "$DB.away"
cp "$DB.away" "$DB"
chmod 444 "$DB"
DECOY_SUM=$(md5sum <"$DB")
has replaced_open_refused "$(err_of as cfs_alice cat "$MNT/pb/a.md")" "Permission denied"
# nothing that changes the tree or its policy happens unrecorded
no replaced_setxattr_refused setfattr -n user.coachfs.class -v public "$MNT/pb/v1.md"
no replaced_create_refused sh -c "echo x >'$MNT/pb/v3.md'"
no replaced_unlink_refused rm "$MNT/pb/v1.md"
no replaced_rename_refused mv "$MNT/pb/v2.md" "$MNT/pb/v2b.md"
no replaced_mkdir_refused mkdir "$MNT/pb/newdir"
no replaced_rmdir_refused rmdir "$MNT/pb/emptydir"
has replaced_daemon_says "$(cat "$T/daemon.err")" "replaced by another file"
has replaced_daemon_refusing "$(grep "AUDIT FAILURE" "$T/daemon.err" | head -n 1)" "of /pb/a.md: audit database"
eq replaced_decoy_untouched "$(md5sum <"$DB")" "$DECOY_SUM"
rm -f "$DB"
mv "$DB.away" "$DB"
eq replaced_recovers "$(as cfs_alice cat "$MNT/pb/a.md")" "isolate the host"
eq replaced_no_setxattr "$(cd "$MNT/pb" && getfattr --only-values -n user.coachfs.class v1.md 2>&1)" internal
eq replaced_tree_unchanged "$(cd "$MNT/pb" && ls -d v1.md v2.md v2b.md v3.md emptydir newdir 2>/dev/null | tr '\n' ' ')" "emptydir v1.md v2.md "
eq replaced_nothing_recorded "$(acts action "id > $BROKEN_FROM AND user = 'root'")" ""
cfs_umount
ok replaced_verify "$A" verify --pubkey "$PK"

# ---- kill -9 during activity
cfs_mount || exit 1
MOUNT_ID=$(last_row id)
( while :; do as cfs_alice cat "$MNT/pb/a.md" >/dev/null 2>&1; as cfs_carol cat "$MNT/pb/big.bin" >/dev/null 2>&1; sleep 0.05; done ) &
BUSY_PID=$!
sleep 6                 # past the 5 s checkpoint interval
sqlite3 "$DB" ".backup '$T/pre.db'"
sleep 0.2
kill -9 "$DAEMON_PID"
wait "$DAEMON_PID" 2>/dev/null
DAEMON_PID=
kill "$BUSY_PID"; wait "$BUSY_PID" 2>/dev/null; BUSY_PID=
fusermount3 -u "$MNT" 2>/dev/null || fusermount3 -uz "$MNT"
PRE_OPENS=$(sqlite3 "$T/pre.db" "SELECT count(*) FROM events WHERE id > $MOUNT_ID AND action IN ('open','replay')")
PRE_ROWS=$(sqlite3 "$T/pre.db" "SELECT count(*) FROM events")
if [ "$PRE_OPENS" -gt 0 ]; then pass kill_activity_seen; else fail kill_activity_seen "no open rows before the kill"; fi
if [ "$(sqlite3 "$T/pre.db" "SELECT count(*) FROM checkpoints WHERE last_id > $MOUNT_ID")" -gt 0 ]; then
	pass checkpoint_while_running; else fail checkpoint_while_running "no checkpoint after 6 s of activity"; fi
eq kill_integrity "$(audit_q "PRAGMA integrity_check")" ok
eq kill_rows_survive "$(audit_q "ATTACH '$T/pre.db' AS p; SELECT count(*) FROM p.events pe JOIN main.events e ON e.id = pe.id AND e.hash = pe.hash")" "$PRE_ROWS"
if [ "$(count "id > $MOUNT_ID AND action IN ('open','replay')")" -ge "$PRE_OPENS" ]; then pass kill_opens_survive; else fail kill_opens_survive; fi
out=$("$A" verify --pubkey "$PK" 2>&1); rc=$?
eq kill_verify_rc "$rc" 0
has kill_verify_text "$out" "audit log verified:"
# remount with reads = open: the chain continues; opens recorded, reads not
sed -i 's/^reads = every$/reads = open/' "$CFG"
BEFORE=$(last_row id)
cfs_mount || exit 1
eq remount_row "$(audit_q "SELECT action FROM events WHERE id = $((BEFORE + 1))")" mount
eq reads_open_cat "$(as cfs_alice cat "$MNT/pb/big.bin" | wc -c)" 300000
eq reads_open_cat2 "$(as cfs_carol cat "$MNT/pb/a.md")" "isolate the host"
sleep 0.2
cfs_umount
eq reads_open_opens "$(count "id > $BEFORE AND action IN ('open','replay') AND path IN ('/pb/big.bin','/pb/a.md')")" 2
eq reads_open_no_reads "$(count "id > $BEFORE AND action = 'read'")" 0
out=$("$A" verify --json --pubkey "$PK")
eq remount_verify "$(echo "$out" | python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["verified"], r["first_bad"], r["unsealed"])')" "True 0 1"
eq reads_open_new_mount_not_replay "$(acts "user || ' ' || action" "id > $BEFORE AND path IN ('/pb/big.bin','/pb/a.md')")" \
	"cfs_alice open,cfs_carol open"
sed -i 's/^reads = open$/reads = every/' "$CFG"

# ---- fail closed (b): the audit database's filesystem is full
mkdir -p "$TFS"
if mount -t tmpfs -o size=1M,mode=0700 cfs-audit-full "$TFS"; then
	sqlite3 "$DB" ".backup '$TFS/audit.db'"
	cp "$DB.pub" "$TFS/audit.db.pub"
	sed -i "s|^db = $DB\$|db = $TFS/audit.db|" "$CFG"
	cfs_mount || exit 1
	eq full_before "$(as cfs_alice cat "$MNT/pb/a.md")" "isolate the host"
	# a handle opened before the disk fills: its reads stop once rows cannot be kept
	mkfifo -m 666 "$T/go"
	as cfs_alice /usr/bin/python3 -c '
import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
print("first", len(os.read(fd, 4096)), flush=True)
for line in sys.stdin:
    try:
        print("read", len(os.pread(fd, 4096, 8192)), flush=True)
    except OSError as e:
        print("errno", e.errno, flush=True)
' "$MNT/pb/big.bin" <"$T/go" >"$T/held.out" 2>&1 &
	HELD=$!
	exec 4>"$T/go"
	for _ in $(seq 1 100); do grep -q first "$T/held.out" && break; sleep 0.05; done
	eq held_first_read "$(cat "$T/held.out")" "first 4096"
	dd if=/dev/zero of="$TFS/fill" bs=4k 2>/dev/null
	has full_fill_enospc "$(dd if=/dev/zero of="$TFS/fill2" bs=4k count=1 2>&1)" "No space left"
	has full_open_refused "$(err_of as cfs_alice cat "$MNT/pb/a.md")" "Permission denied"
	has full_first_open_refused "$(err_of as cfs_carol cat "$MNT/pb/big.bin")" "Permission denied"
	has full_daemon_says "$(grep "AUDIT FAILURE" "$T/daemon.err" | tail -n 1)" "full"
	eq held_read_refused "$(held_ask)" "errno 5"
	rm -f "$TFS/fill" "$TFS/fill2"
	for _ in $(seq 1 30); do     # the writer probes every 200 ms
		r=$(held_ask); [ "$r" = "read 4096" ] && break; sleep 0.1
	done
	eq held_read_recovers "$r" "read 4096"
	exec 4>&-
	wait "$HELD"
	eq full_recovers "$(as cfs_alice cat "$MNT/pb/a.md")" "isolate the host"
	FULL_ID=$(sqlite3 "$TFS/audit.db" "SELECT max(id) FROM events")
	eq full_first_open_after "$(as cfs_carol cat "$MNT/pb/big.bin" | wc -c)" 300000
	cfs_umount
	eq full_first_open_is_open "$(sqlite3 "$TFS/audit.db" "SELECT action FROM events WHERE id > $FULL_ID AND user = 'cfs_carol' AND action IN ('open','replay')")" open
	eq full_held_reads "$(sqlite3 "$TFS/audit.db" "SELECT count(*) FROM events WHERE action = 'read' AND user = 'cfs_alice' AND path = '/pb/big.bin' AND \"offset\" = 8192")" 1
	ok full_verify "$A" verify --pubkey "$PK"
	umount "$TFS" || umount -l "$TFS"
else
	fail full_tmpfs "cannot mount a tmpfs at $TFS"
fi

# ---- the daemon ran clean (meaningful under make SANITIZE=1)
eq no_sanitizer_output "$(cat "$T/daemon.err" "$T"/sanitizer.* 2>/dev/null | grep -cE 'Sanitizer|runtime error')" 0
