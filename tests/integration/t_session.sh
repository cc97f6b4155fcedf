#!/bin/bash
# Session-bound grants (issue 16): `coach-grant run` starts a command as a
# user with a grant bound to its process tree. Through a real mount, as real
# Unix users: the command, its child and grandchild read; the same user's
# other shell, another user, a process left behind after the command exits,
# and everything after coach-grant is killed with SIGKILL are refused; the
# TTL ends it while the command still runs; the exit status passes through;
# outputs inherit the class; every step is an audit row.
. "$(dirname "$0")/lib.sh"
cfs_users
# refusals are rows only where a caller may see the name; section 8 hides it
CFS_HIDE=no cfs_config
cfs_init || exit 1
cfs_mount || exit 1
G="$BIN/coach-grant"
A="$MNT/sens/a.md"
O=$T/out
mkdir -p "$O" && chmod 777 "$O"
mkdir -p "$MNT/sens" "$MNT/pub"
echo "sensitive notes" >"$A"
chmod -R a+rwX "$MNT/sens" "$MNT/pub"
setfattr -n user.coachfs.class -v sensitive "$MNT/sens"
setfattr -n user.coachfs.class -v public "$MNT/pub"
# waitf FILE — until it exists (10 s at most)
waitf() { for _ in $(seq 1 200); do [ -e "$1" ] && return 0; sleep 0.05; done; return 1; }
json() { "$G" show "$1" --json | python3 -c "import json,sys; r=json.load(sys.stdin); print($2)"; }
lastrow() { audit_q "select result || '|' || reason from events where user = 'cfs_alice'
	and action = '$1' and path = '/sens/a.md' order by id desc limit 1"; }

no no_grant_before as cfs_alice cat "$A"

# ---- 1. the command, its child and grandchild read; the same user's other
# shell (started before the session) and another user are refused ----
as cfs_alice sh -c "while [ ! -e $O/go_other ]; do sleep 0.05; done
	cat $A >$O/other 2>/dev/null; echo \$? >$O/other.rc" &
OTHER=$!
"$G" run --user cfs_alice --path /sens --ttl 1h --reason "assistant, case 7" -- \
	sh -c "echo \$COACHFS_GRANT_ID >$O/id; echo \$\$ >$O/pid
	cat $A >$O/child; sh -c 'cat $A' >$O/grandchild
	(sh -c 'while [ ! -e $O/go_orphan ]; do sleep 0.05; done
	 cat $A >$O/orphan 2>/dev/null; echo \$? >$O/orphan.rc' &)
	touch $O/ready; while [ ! -e $O/go ]; do sleep 0.05; done; exit 7" 2>"$O/run.err" &
RUN=$!
waitf "$O/ready" || fail session_started "$(cat "$O/run.err")"
ID=$(cat "$O/id")
SPID=$(cat "$O/pid")
eq child_reads "$(cat "$O/child")" "sensitive notes"
eq grandchild_reads "$(cat "$O/grandchild")" "sensitive notes"
touch "$O/go_other"
wait "$OTHER"
eq other_shell_refused "$(cat "$O/other.rc")" 1
eq other_shell_read_nothing "$(cat "$O/other")" ""
has other_shell_deny_names_session "$(lastrow open)" \
	"deny|grant $ID is bound to session $SPID (sh) and process"
# a double fork: reparented away from the session while it still runs
touch "$O/go_orphan"
waitf "$O/orphan.rc"
eq orphan_refused "$(cat "$O/orphan.rc")" 1
eq orphan_read_nothing "$(cat "$O/orphan")" ""
no other_user_refused as cfs_bob cat "$A"
eq show_running "$(json "$ID" 'r["session"]["pid"], r["session"]["command"], r["session"]["state"], r["state"]')" \
	"$SPID sh running active"
has list_shows_binding "$("$G" list | awk -v id="$ID" '$1 == id')" "cfs_alice (session $SPID: sh)"
touch "$O/go"
wait "$RUN"
eq exit_status_passed "$?" 7
no after_exit_refused as cfs_alice cat "$A"
eq show_ended "$(json "$ID" 'r["session"]["state"], r["state"], r["revoke_reason"]')" "ended revoked session ended"
has show_session_line "$("$G" show "$ID")" "session:      pid $SPID (sh), ended"

# ---- 2. audit: the add says it is bound, reads name the process, the end is a revoke ----
has add_row_bound "$(audit_q "select reason from events where action = 'grant_add' and grant_id = $ID")" \
	"bound to session pid $SPID (sh)"
has add_row_reason "$(audit_q "select reason from events where action = 'grant_add' and grant_id = $ID")" \
	"reason: assistant, case 7"
eq reads_name_cat "$(audit_q "select count(distinct pid) || '|' || min(exe) from events where action = 'read'
	and grant_id = $ID and result = 'allow'")" "2|/usr/bin/cat"
has open_row_in_session "$(audit_q "select reason from events where action = 'open' and grant_id = $ID
	and result = 'allow' limit 1")" "in session $SPID (sh)"
eq revoke_row "$(audit_q "select result || '|' || user from events where action = 'grant_revoke'
	and grant_id = $ID")" "allow|root"
has revoke_row_reason "$(audit_q "select reason from events where action = 'grant_revoke'
	and grant_id = $ID")" "reason: session ended"

# ---- 3. a process the command leaves behind is refused once it exits, even
# through a descriptor it opened while the session ran ----
"$G" run --user cfs_alice --path /sens --ttl 1h -- sh -c "exec 3<$A
	(while [ ! -e $O/go_bg ]; do sleep 0.05; done
	 cat <&3 >$O/bg_fd 2>/dev/null; echo \$? >$O/bg_fd.rc
	 cat $A >$O/bg 2>/dev/null; echo \$? >$O/bg.rc) &
	exit 0" 2>/dev/null
eq quick_exit_status "$?" 0
sleep 0.3   # past the open handle's recheck interval (revocation reaches handles within 250 ms)
touch "$O/go_bg"
waitf "$O/bg.rc"
eq left_behind_open_refused "$(cat "$O/bg.rc")" 1
eq left_behind_fd_refused "$(cat "$O/bg_fd.rc")" 1
eq left_behind_read_nothing "$(cat "$O/bg" "$O/bg_fd")" ""

# ---- 4. SIGKILL of coach-grant run: the grant stays unrevoked in policy.db
# but its process is gone, so the daemon refuses it (open and open handle) ----
"$G" run --user cfs_alice --path /sens --ttl 1h -- sh -c "echo \$COACHFS_GRANT_ID >$O/k.id
	echo \$\$ >$O/k.pid
	sh -c 'exec 3<$A; touch $O/k.ready; while [ ! -e $O/k.go ]; do sleep 0.05; done
	cat <&3 >$O/k.fd 2>/dev/null; echo \$? >$O/k.fd.rc
	cat $A >$O/k.out 2>/dev/null; echo \$? >$O/k.rc' &
	wait" 2>/dev/null &
KRUN=$!
waitf "$O/k.ready"
KID=$(cat "$O/k.id")
kill -9 "$KRUN"
wait "$KRUN" 2>/dev/null
for _ in $(seq 1 40); do kill -0 "$(cat "$O/k.pid")" 2>/dev/null || break; sleep 0.05; done
no killed_root_is_gone kill -0 "$(cat "$O/k.pid")"
eq killed_not_revoked "$(json "$KID" 'r["revoked_at"], r["state"]')" "None ended"
sleep 0.3   # past the open handle's recheck interval
touch "$O/k.go"
waitf "$O/k.rc"
eq killed_open_refused "$(cat "$O/k.rc")" 1
eq killed_fd_refused "$(cat "$O/k.fd.rc")" 1
has killed_deny_says_ended "$(lastrow open)" "grant $KID is bound to session $(cat "$O/k.pid") (sh), which has ended"

# ---- 4b. SIGTERM to coach-grant run reaches the command; the grant is revoked ----
"$G" run --user cfs_alice --path /sens --ttl 1h -- sh -c "echo \$COACHFS_GRANT_ID >$O/s.id
	trap 'exit 9' TERM; touch $O/s.ready; while :; do sleep 0.05; done" 2>/dev/null &
SRUN=$!
waitf "$O/s.ready"
kill -TERM "$SRUN"
wait "$SRUN"
eq term_forwarded_status "$?" 9
eq term_revoked "$(json "$(cat "$O/s.id")" 'r["state"], r["revoke_reason"]')" "revoked session ended"

# ---- 5. the TTL ends it while the command still runs ----
"$G" run --user cfs_alice --path /sens --ttl 4s -- sh -c "cat $A >$O/t1; sleep 4.5
	cat $A >$O/t2 2>/dev/null; echo \$? >$O/t2.rc" 2>/dev/null
eq ttl_before_reads "$(cat "$O/t1")" "sensitive notes"
eq ttl_after_refused "$(cat "$O/t2.rc")" 1

# ---- 6. outputs inherit the class (the derived rule; tr reads and writes
# itself, where cat's copy_file_range would be an export) ----
"$G" run --user cfs_alice --path /sens --ttl 1h -- sh -c "tr a-z A-Z <$A >$MNT/pub/summary.md" 2>/dev/null
eq derived_output_class "$(getfattr --only-values -n user.coachfs.class "$MNT/pub/summary.md")" sensitive
eq derived_content_written "$(stat -c %s "$MNT/pub/summary.md")" 16
no derived_output_refused_outside as cfs_alice cat "$MNT/pub/summary.md"

# ---- 7. how COMMAND runs: as the user, clean environment, sane directory ----
FOO=leak "$G" run --user cfs_alice --path /sens --ttl 1m -- sh -c 'id -u; id -g; id -G; echo "[$FOO]"; pwd; echo "$PATH"' \
	>"$O/env" 2>/dev/null
eq runs_as_user "$(sed -n 1p "$O/env") $(sed -n 2p "$O/env")" "$(id -u cfs_alice) $(id -g cfs_alice)"
eq runs_with_groups "$(sed -n 3p "$O/env")" "$(id -G cfs_alice)"
eq clean_env "$(sed -n 4p "$O/env")" "[]"
eq cwd_sane "$(sed -n 5p "$O/env")" "/"
eq path_fixed "$(sed -n 6p "$O/env")" "/usr/local/bin:/usr/bin:/bin"
"$G" run --user cfs_alice --path /sens --ttl 1m -- /nonexistent/program 2>/dev/null
eq missing_command_127 "$?" 127
no run_needs_root as cfs_alice "$G" run --user cfs_alice --path /sens --ttl 1m -- true
no run_refuses_root "$G" run --user root --path /sens --ttl 1m -- true
no run_refuses_group "$G" run --user @cfs_soc --path /sens --ttl 1m -- true
no run_needs_command "$G" run --user cfs_alice --path /sens --ttl 1m
eq no_live_session_grant_left "$("$G" list --json | python3 -c 'import json,sys
print(sum(1 for r in json.load(sys.stdin) if r["session"] and r["state"] == "active"))')" 0

# ---- 8. with hide_denied, the session sees the file and the other shell
# does not (visibility is decided on the caller's process too) ----
cfs_umount
sed -i 's/^hide_denied = no$/hide_denied = yes/' "$CFG"
cfs_mount || exit 1
rm -f "$O/ready" "$O/go"
"$G" run --user cfs_alice --path /sens --ttl 1h -- sh -c "ls $MNT/sens >$O/ls; cat $A >$O/hidden_child
	touch $O/ready; while [ ! -e $O/go ]; do sleep 0.05; done" 2>/dev/null &
RUN=$!
waitf "$O/ready"
eq hidden_session_lists "$(cat "$O/ls")" "a.md"
eq hidden_session_reads "$(cat "$O/hidden_child")" "sensitive notes"
eq hidden_other_shell_sees_nothing "$(as cfs_alice ls "$MNT/sens" 2>&1)" ""
has hidden_other_shell_enoent "$(as cfs_alice cat "$A" 2>&1)" "No such file or directory"
touch "$O/go"
wait "$RUN"
