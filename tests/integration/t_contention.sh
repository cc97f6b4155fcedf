#!/bin/bash
# Audit-lock fairness. With reads = every, several users read files in 4 KiB
# requests as fast as they can (every request is a queued audit row, every
# open a committed one) while root adds and revokes grants with coach-grant,
# another process appending to the same audit.db. Every grant change must
# succeed — the daemon commits in bounded batches and lets others take the
# write lock between them — and have its row in the log; the log verifies
# after unmount, and the readers never see an error.
. "$(dirname "$0")/lib.sh"
LOAD="/usr/bin/python3 $TOP/tests/integration/crashload.py"
ROUNDS=${CFS_CONTENTION_ROUNDS:-12}
L=$T/logs
mkdir -m 1777 "$L"
export CFS_READS=every
cfs_users
cfs_init || exit 1
cfs_mount || exit 1
PID0=$DAEMON_PID
[ -n "$PID0" ] || PID0=$(pgrep -n -f "^$BIN/coachfs -c $CFG")

# Rows that are dear to commit: the files sit deep (their ~3,000-byte path
# is in every row and in an index) and the readers run a copy of python3
# that sits deep too (its path is in every row), so the daemon's writer is
# busy most of the time even on two CPUs, as on a larger machine with many
# readers.
deep() { local d=$1 k; for k in $(seq 1 14); do d="$d/$(printf "$2%02d%0200d" "$k" 0)"; done; echo "$d"; }
XDIR=$(deep "$T/x" x)
DEEP=$(deep /shared d)
mkdir -p "$XDIR" && cp /usr/bin/python3 "$XDIR/python3" && chmod -R a+rX "$T/x" ||
	{ fail setup "cannot copy python3"; exit 1; }
READ="$XDIR/python3 $TOP/tests/integration/crashload.py read"
mkdir -p "$MNT$DEEP" "$MNT/sens"
$LOAD make "$MNT$DEEP" 3 64 s >/dev/null
chmod 644 "$MNT$DEEP"/s*
$LOAD make "$MNT/sens" 1 4 g >/dev/null
setfattr -n user.coachfs.class -v sensitive "$MNT/sens"

# Readers: responders alice and carol, dave through the admin role; two
# processes each, until the grant loop is done (killed below).
# (setpriv execs python, so $! is the reader itself, which kill can stop)
export CFS_LOAD_SECONDS=600
pids=()
for u in cfs_alice cfs_carol cfs_dave; do
	for k in 1 2; do
		setpriv --reuid="$u" --regid="$(id -g "$u")" --init-groups -- \
			$READ "$MNT$DEEP" "$L/$u.$k" s0 s1 s2 &
		pids+=($!)
	done
done
# wait until the load is on: read rows arriving
for _ in $(seq 1 100); do
	[ "$(audit_q "select count(*) from events where action = 'read'")" -gt 5000 ] && break
	sleep 0.1
done
START=$(audit_q 'select max(id) from events')
t0=$(date +%s%N)

# Root adds and revokes ROUNDS grants while the readers run. Each command
# is timed; none may fail.
bad=0 slowest=0 added=() revoked=()
for i in $(seq 1 "$ROUNDS"); do
	s=$(date +%s%N)
	if id=$("$BIN/coach-grant" add cfs_bob /sens --ttl 1h --reason "contention $i" 2>&1); then
		added+=("$id")
	else
		bad=$((bad + 1)); echo "add $i: $id" >>"$L/grants.err"
		continue
	fi
	s2=$(date +%s%N)
	if out=$("$BIN/coach-grant" revoke "$id" --reason "contention $i" 2>&1); then
		revoked+=("$id")
	else
		bad=$((bad + 1)); echo "revoke $id: $out" >>"$L/grants.err"
	fi
	e=$(date +%s%N)
	for d in $(((s2 - s) / 1000000)) $(((e - s2) / 1000000)); do
		[ "$d" -gt "$slowest" ] && slowest=$d
	done
done
t1=$(date +%s%N)
END=$(audit_q 'select max(id) from events')
reads=$(audit_q "select count(*) from events where id > $START and id <= $END and action = 'read'")
echo "# $reads read rows in $(((t1 - t0) / 1000000)) ms during the grant loop;" \
	"slowest coach-grant: $slowest ms"
[ -f "$L/grants.err" ] && sed 's/^/# /' "$L/grants.err"

still=0
for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && still=$((still + 1)); done
eq readers_ran_throughout "$still" "${#pids[@]}"
for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done

eq grant_changes_all_succeeded "$bad" 0
eq grants_added "${#added[@]}" "$ROUNDS"
eq grants_revoked "${#revoked[@]}" "$ROUNDS"
[ "$reads" -ge 500 ] && pass load_was_heavy || fail load_was_heavy "only $reads read rows"
missing=0
for id in "${added[@]}"; do
	[ "$(audit_q "select count(*) from events where action = 'grant_add' and result = 'allow'
		and grant_id = $id")" = 1 ] || missing=$((missing + 1))
done
for id in "${revoked[@]}"; do
	[ "$(audit_q "select count(*) from events where action = 'grant_revoke' and result = 'allow'
		and grant_id = $id")" = 1 ] || missing=$((missing + 1))
done
eq every_change_has_its_row "$missing" 0
no readers_saw_no_errors grep -h -E '^(garbage|eio|error|denied|hidden|revoked)' "$L"/cfs_*
ok daemon_alive kill -0 "$PID0"

cfs_umount
ok audit_verify "$BIN/coach-audit" verify --pubkey "$T/var/audit.db.pub"
