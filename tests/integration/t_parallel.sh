#!/bin/bash
# Several users at once for ~10 s: cfs_alice and cfs_carol (a responder
# through @cfs_soc) reading and writing the same internal files, cfs_bob and
# cfs_carol reading sensitive files under grants that root adds and revokes
# in a loop with coach-grant. The daemon must not crash or deadlock; every
# open is served or refused as policy says and audited exactly once.
# Under ThreadSanitizer (make SANITIZE=thread) no data race may be reported:
# reports land in $T/tsan.* (TSAN_OPTIONS log_path) and, with CFS_FG=1, in
# $T/daemon.err.
. "$(dirname "$0")/lib.sh"
export TSAN_OPTIONS="log_path=$T/tsan halt_on_error=0 ${TSAN_OPTIONS:-}"
LOAD="/usr/bin/python3 $TOP/tests/integration/crashload.py"
SECS=${CFS_PARALLEL_SECONDS:-10}
L=$T/logs
mkdir -m 1777 "$L"
cfs_users
cfs_init || exit 1
cfs_mount || exit 1
PID0=$DAEMON_PID
[ -n "$PID0" ] || PID0=$(pgrep -n -f "^$BIN/coachfs -c $CFG")

mkdir -m 1777 "$MNT/shared" "$MNT/sens"
$LOAD make "$MNT/shared" 4 8 s >/dev/null
$LOAD make "$MNT/sens" 3 4 g >/dev/null
chmod 666 "$MNT/shared"/s*
chmod 644 "$MNT/sens"/g*
# only less may open lessonly0: every open by python is refused by the daemon
$LOAD make "$MNT/shared" 1 2 lessonly >/dev/null
setfattr -n user.coachfs.readers -v /usr/bin/less "$MNT/shared/lessonly0"
# classifying the folder classifies what is already in it
setfattr -n user.coachfs.class -v sensitive "$MNT/sens"
eq sens_is_sensitive "$(getfattr --only-values -n user.coachfs.class "$MNT/sens/g0" 2>/dev/null)" sensitive
# Grants that stay for the whole run: bob on g0, @cfs_soc on g2 — opens of
# these files are never refused.
for sub_path in cfs_bob:/sens/g0 @cfs_soc:/sens/g2; do
	"$BIN/coach-grant" add "${sub_path%%:*}" "${sub_path#*:}" --ttl 1h >/dev/null ||
		fail "grant_${sub_path%%:*}" "cannot add the standing grant"
done
START=$(audit_q 'select max(id) from events')

# Root grants and revokes in a loop: bob by name, carol through @cfs_soc.
grant_loop() {
	local end=$((SECONDS + SECS)) id n=0 bad=0
	while [ $SECONDS -lt $end ]; do
		for who in cfs_bob @cfs_soc; do
			if id=$("$BIN/coach-grant" add "$who" /sens --ttl 1h --max-opens 1000000 --reason parallel 2>&1); then
				n=$((n + 1))
			else
				bad=$((bad + 1)); echo "add $who: $id" >>"$L/grants.err"; continue
			fi
			sleep 0.$((RANDOM % 3 + 1))
			if "$BIN/coach-grant" revoke "$id" --reason parallel >>"$L/grants.err" 2>&1; then
				n=$((n + 1))
			else
				bad=$((bad + 1))
			fi
		done
		sleep 0.1
	done
	echo "$n $bad" >"$L/grants.count"
}

export CFS_LOAD_SECONDS=$SECS
pids=()
as cfs_alice $LOAD write "$MNT/shared" "$L/alice.w" 8 s0 s1 s2 s3 & pids+=($!)
as cfs_alice $LOAD read "$MNT/shared" "$L/alice.r" s0 s1 s2 s3 & pids+=($!)
as cfs_alice $LOAD read "$MNT/shared" "$L/alice.l" lessonly0 s1 & pids+=($!)
as cfs_carol $LOAD write "$MNT/shared" "$L/carol.w" 8 s2 s3 & pids+=($!)
as cfs_carol $LOAD read "$MNT/shared" "$L/carol.r" s0 s1 s2 s3 & pids+=($!)
as cfs_carol $LOAD read "$MNT/sens" "$L/carol.g" g0 g1 g2 & pids+=($!)
as cfs_bob $LOAD read "$MNT/sens" "$L/bob.g" g0 g1 & pids+=($!)
as cfs_bob $LOAD read "$MNT/sens" "$L/bob.h" g1 g2 & pids+=($!)
# bob has no business in /shared: hidden (never an open, never a row)
as cfs_bob $LOAD read "$MNT/shared" "$L/bob.s" s0 & pids+=($!)
grant_loop & pids+=($!)
# root lists and stats alongside
( end=$((SECONDS + SECS)); while [ $SECONDS -lt $end ]; do
	ls -la "$MNT" "$MNT/shared" "$MNT/sens" >/dev/null 2>&1
	getfattr -d "$MNT/shared/s0" >/dev/null 2>&1
	"$BIN/coach-grant" list --active >/dev/null 2>&1
done ) & pids+=($!)

# No deadlock: everything is done within the load time plus a margin.
deadline=$((SECONDS + SECS + 60))
stuck=0
for p in "${pids[@]}"; do
	while kill -0 "$p" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.2; done
	kill -0 "$p" 2>/dev/null && stuck=$((stuck + 1))
done
eq no_deadlock "$stuck" 0
statuses=""
for p in "${pids[@]}"; do wait "$p"; statuses="$statuses$? "; done
eq workers_exit_0 "$statuses" "$(printf '0 %.0s' "${pids[@]}")"
ok daemon_alive kill -0 "$PID0"
ok mount_answers stat "$MNT/shared/s0"
ok mount_still_reads sh -c "cat '$MNT/shared/s1' >/dev/null"

# What the workers saw
count() { cat "$@" 2>/dev/null | grep -c "^$W\$"; }
for f in "$L"/*.[wrgshl]; do echo "# $(basename "$f"): $(sort "$f" | uniq -c | tr '\n' ' ')"; done
read -r gn gbad <"$L/grants.count"
echo "# grant changes: $gn, failed: $gbad"
eq grant_changes_all_succeeded "$gbad" 0
[ "$gn" -ge 4 ] && pass grant_loop_ran || fail grant_loop_ran "only $gn grant changes"
no nothing_unexpected grep -h -E '^(garbage|eio|error)' "$L"/*.[wrgshl]

# Policy: responders are always served on internal files; bob never opens them
W=denied; eq alice_never_refused "$(count "$L"/alice.[wr])" 0
W=denied; [ "$(count "$L/alice.l")" -gt 0 ] && pass alice_refused_by_readers || fail alice_refused_by_readers "no refusal"
eq alice_refused_only_lessonly "$(audit_q "select count(*) from events where id > $START
	and user = 'cfs_alice' and result = 'deny' and path != '/shared/lessonly0'")" 0
W=denied; eq carol_never_refused_internal "$(count "$L"/carol.[wr])" 0
W=ok; eq bob_never_served_internal "$(count "$L/bob.s")" 0
W=ok; [ "$(count "$L"/alice.*)" -gt 0 ] && pass alice_served || fail alice_served "no open served"
W=ok; [ "$(count "$L"/bob.[gh])" -gt 0 ] && pass bob_served_under_grant || fail bob_served_under_grant "bob never got in"
W=ok; [ "$(count "$L/carol.g")" -gt 0 ] && pass carol_served_under_group_grant || fail carol_served_under_group_grant "carol never got in"

W=denied; eq bob_never_refused_standing_grant "$(audit_q "select count(*) from events where id > $START
	and user = 'cfs_bob' and path = '/sens/g0' and result = 'deny' and action = 'open'")" 0
eq carol_never_refused_standing_grant "$(audit_q "select count(*) from events where id > $START
	and user = 'cfs_carol' and path = '/sens/g2' and result = 'deny' and action = 'open'")" 0

# Every open audited exactly once: rows by user and result = what workers saw
rows() { audit_q "select count(*) from events where id > $START and user = '$1'
	and action in ('open', 'replay') and result = '$2'"; }
W=ok;     eq alice_allow_rows "$(rows cfs_alice allow)" "$(count "$L"/alice.*)"
W=denied; eq alice_deny_rows "$(rows cfs_alice deny)" "$(count "$L"/alice.*)"
W=ok;     eq carol_allow_rows "$(rows cfs_carol allow)" "$(count "$L"/carol.*)"
W=denied; eq carol_deny_rows "$(rows cfs_carol deny)" "$(count "$L"/carol.*)"
W=ok;     eq bob_allow_rows "$(rows cfs_bob allow)" "$(count "$L"/bob.*)"
W=denied; eq bob_deny_rows "$(rows cfs_bob deny)" "$(count "$L"/bob.*)"
eq no_flagged_opens "$(audit_q "select count(*) from events where id > $START and result = 'flag'")" 0

# Every sensitive open that was served names a grant for that caller that was
# live then (not revoked more than a second before, not started after)
attach="attach '$T/var/policy.db' as p"
eq sens_allows_had_grants "$(sqlite3 "$T/var/audit.db" "$attach;
	select count(*) from events e where e.id > $START and e.action in ('open', 'replay')
	and e.result = 'allow' and e.path like '/sens/%' and not exists (
		select 1 from p.grants g where g.id = e.grant_id
		and (e.path = g.path or e.path like g.path || '/%')
		and g.subject = case e.user when 'cfs_bob' then 'cfs_bob' else '@cfs_soc' end
		and g.start <= e.ts / 1000000
		and (g.revoked_at is null or e.ts / 1000000 <= g.revoked_at + 1))")" 0
eq internal_allows_no_grant "$(audit_q "select count(*) from events where id > $START
	and action in ('open', 'replay') and result = 'allow' and path like '/shared/%'
	and grant_id is not null")" 0
# a denied sensitive open came while the caller had no live grant
eq sens_denies_without_grant "$(sqlite3 "$T/var/audit.db" "$attach;
	select count(*) from events e where e.id > $START and e.action = 'open'
	and e.result = 'deny' and e.path like '/sens/%' and exists (
		select 1 from p.grants g where g.subject = case e.user when 'cfs_bob' then 'cfs_bob' else '@cfs_soc' end
		and (e.path = g.path or e.path like g.path || '/%')
		and g.start <= e.ts / 1000000 - 1
		and (g.revoked_at is null or g.revoked_at > e.ts / 1000000 + 1))")" 0

cfs_umount
ok audit_integrity test "$(sqlite3 "$T/var/audit.db" 'pragma integrity_check')" = ok
ok policy_integrity test "$(sqlite3 "$T/var/policy.db" 'pragma integrity_check')" = ok
ok store_check "$BIN/coach-admin" check
if [ -x "$BIN/coach-audit" ]; then
	ok audit_verify "$BIN/coach-audit" verify
fi

# ThreadSanitizer: no report from the daemon or the tools
tsan=$(cat "$T"/tsan.* "$T/daemon.err" 2>/dev/null | grep -c 'WARNING: ThreadSanitizer')
eq no_data_races "$tsan" 0
if [ "$tsan" != 0 ]; then
	cat "$T"/tsan.* "$T/daemon.err" 2>/dev/null | grep -A 14 'WARNING: ThreadSanitizer' | head -n 80 >&2
fi
