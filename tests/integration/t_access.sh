#!/bin/bash
# Access control through a real mount, as real throwaway users: roles for
# grant = no classes, time-bound grants for grant = yes classes (subject,
# path coverage, write bit, start, expiry and revocation reaching open
# handles, open limits, two-person approval, the class max_ttl cap),
# hide_denied listings, root as an ordinary caller, the audit row of every
# decision, and coach-grant's refusals.
# Part 1 mounts with hide_denied = yes (what a caller may see); part 2
# remounts with hide_denied = no so that refused opens reach the daemon and
# come back as EACCES with their audit rows.
. "$(dirname "$0")/lib.sh"
cfs_users
CFS_HIDE=yes cfs_config
cfs_init || exit 1
cfs_mount || exit 1

G=$BIN/coach-grant
unset SUDO_USER SUDO_UID
PY=/usr/bin/python3  # the users cannot reach root's own python
grant() { "$G" add "$@" 2>"$T/grant.err"; local rc=$?; cat "$T/grant.err" >>"$T/tools.err"; return $rc; }  # prints the id
# sql_str TEXT — TEXT as an SQL string literal
sql_str() { printf "'%s'" "${1//\'/\'\'}"; }
# row USER ACTION PATH — result|grant_id|reason of the newest such event
row() {
	audit_q "select result, ifnull(grant_id,'-'), reason from events where user=$(sql_str "$1")
		 and action=$(sql_str "$2") and path=$(sql_str "$3") order by id desc limit 1"
}
# ls_of USER DIR — the names USER sees in DIR, one line, sorted
ls_of() { as "$1" ls -1 "$2" 2>&1 | sort | tr '\n' ' '; }

# ---- the tree, made by root (admin) before it is classified ----
mkdir "$MNT/inc" "$MNT/incident" "$MNT/g" "$MNT/r" "$MNT/w" "$MNT/s" "$MNT/e" "$MNT/v" \
	"$MNT/m" "$MNT/sec" "$MNT/cap" "$MNT/adm"
echo "internal notes" >"$MNT/int.md"
echo "alpha" >"$MNT/inc/a.md"
echo "bravo" >"$MNT/inc/b.md"
echo "xray" >"$MNT/incident/x.md"
for d in g r w s e v m sec adm; do echo "content of $d" >"$MNT/$d/f.md"; done
echo "cap one" >"$MNT/cap/f.md"
echo "cap two" >"$MNT/cap/f2.md"
chmod 666 "$MNT/w/f.md"
ok classify_dir sh -c "setfattr -n user.coachfs.class -v sensitive $MNT/inc &&
	setfattr -n user.coachfs.class -v sensitive $MNT/incident"
for f in g r w s e v m cap adm; do setfattr -n user.coachfs.class -v sensitive "$MNT/$f/f.md"; done
setfattr -n user.coachfs.class -v sensitive "$MNT/cap/f2.md"
setfattr -n user.coachfs.class -v secret "$MNT/sec/f.md"
eq class_inherited "$(getfattr --absolute-names --only-values -n user.coachfs.class "$MNT/inc/b.md")" sensitive
eq class_own_file "$(getfattr --absolute-names --only-values -n user.coachfs.class "$MNT/sec/f.md")" secret

# ---- part 1: hide_denied = yes ----
bob_root=$(ls_of cfs_bob "$MNT")
case " $bob_root" in *" inc "*) fail hide_bob_root_no_inc "bob sees: $bob_root" ;; *) pass hide_bob_root_no_inc ;; esac
case " $bob_root" in *" int.md "*) fail hide_bob_root_no_internal "bob sees: $bob_root" ;; *) pass hide_bob_root_no_internal ;; esac
alice_root=$(ls_of cfs_alice "$MNT")
has hide_alice_sees_internal " $alice_root" " int.md "
case " $alice_root" in *" inc "*) fail hide_alice_no_inc_without_grant "alice sees: $alice_root" ;; *) pass hide_alice_no_inc_without_grant ;; esac
has hide_denied_is_enoent "$(err_of as cfs_alice cat "$MNT/inc/a.md")" "No such file or directory"

gv=$(grant cfs_alice /inc/a.md --ttl 10m)
ok hide_grant_file_added test -n "$gv"
alice_root=$(ls_of cfs_alice "$MNT")
has hide_grant_shows_parent " $alice_root" " inc "
case " $alice_root" in *" incident "*) fail hide_grant_not_sibling "alice sees: $alice_root" ;; *) pass hide_grant_not_sibling ;; esac
eq hide_grant_only_granted_file "$(ls_of cfs_alice "$MNT/inc")" "a.md "
eq hide_granted_file_reads "$(as cfs_alice cat "$MNT/inc/a.md" 2>&1)" alpha
has hide_ungranted_file_enoent "$(err_of as cfs_alice cat "$MNT/inc/b.md")" "No such file or directory"
# Nothing cached for one user serves the next (entry/attr timeouts are 0).
a_ls=$(ls_of cfs_alice "$MNT/inc"); b_ls=$(ls_of cfs_bob "$MNT/inc")
eq hide_no_leak_alice_first "$a_ls" "a.md "
has hide_no_leak_bob_after "$b_ls" "No such file or directory"
as cfs_alice stat "$MNT/inc/a.md" >/dev/null 2>&1
no hide_no_leak_stat_bob as cfs_bob stat "$MNT/inc/a.md"
no hide_no_leak_stat_carol as cfs_carol stat "$MNT/inc/a.md"
eq hide_no_leak_cat_bob "$(as cfs_alice cat "$MNT/inc/a.md" 2>&1; as cfs_bob cat "$MNT/inc/a.md" 2>&1)" \
	"alpha
cat: $MNT/inc/a.md: No such file or directory"
ok hide_revoke "$G" revoke "$gv"
case " $(ls_of cfs_alice "$MNT") " in *" inc "*) fail hide_revoked_hides_again ;; *) pass hide_revoked_hides_again ;; esac
# bob's role grant on /r shows /r to bob (a grant below a hidden folder)
gr=$(grant role:contractor /r --ttl 10m)
has hide_role_grant_shows_dir " $(ls_of cfs_bob "$MNT")" " r "
eq role_grant_reads "$(as cfs_bob cat "$MNT/r/f.md" 2>&1)" "content of r"
eq role_grant_audit "$(row cfs_bob open /r/f.md | cut -d'|' -f1,2)" "allow|$gr"

# carol is a responder only through a supplementary group (cfs_soc): the
# daemon decides visibility without groups first and asks again with them
has hide_group_role_lists " $(ls_of cfs_carol "$MNT") " " int.md "
ok hide_group_role_stat as cfs_carol stat "$MNT/int.md"
eq hide_group_role_reads "$(as cfs_carol cat "$MNT/int.md" 2>&1)" "internal notes"
mkdir "$MNT/hg" && echo "content of hg" >"$MNT/hg/f.md" &&
	setfattr -n user.coachfs.class -v sensitive "$MNT/hg/f.md"
eq hide_group_grant_before "$(ls_of cfs_carol "$MNT/hg")" ""
no hide_group_grant_before_stat as cfs_carol stat "$MNT/hg/f.md"
ghg=$(grant @cfs_soc /hg --ttl 10m)
eq hide_group_grant_lists "$(ls_of cfs_carol "$MNT/hg")" "f.md "
ok hide_group_grant_stat as cfs_carol stat "$MNT/hg/f.md"
eq hide_group_grant_reads "$(as cfs_carol cat "$MNT/hg/f.md" 2>&1)" "content of hg"
no hide_group_grant_not_bob as cfs_bob stat "$MNT/hg/f.md"
ok hide_group_grant_revoke "$G" revoke "$ghg"
no hide_group_grant_revoked as cfs_carol stat "$MNT/hg/f.md"

# ---- part 2: hide_denied = no: every refused open reaches the daemon ----
cfs_umount
CFS_HIDE=no cfs_config
cfs_mount || exit 1
part2=$(audit_q "select max(id) from events")

# class grant = no: roles admit, others are refused and audited
eq internal_alice "$(as cfs_alice cat "$MNT/int.md" 2>&1)" "internal notes"
eq internal_carol_by_group "$(as cfs_carol cat "$MNT/int.md" 2>&1)" "internal notes"
has internal_bob_refused "$(err_of as cfs_bob cat "$MNT/int.md")" "Permission denied"
bob_row=$(audit_q "select result,reason from events where action='open' and user='cfs_bob' and path='/int.md'")
eq internal_bob_audit "$bob_row" \
	"deny|no role of cfs_bob admits class internal and no grant for cfs_bob covers /int.md"
eq internal_alice_audit "$(row cfs_alice open /int.md)" "allow|-|role responder admits class internal"
eq internal_carol_audit "$(row cfs_carol open /int.md)" "allow|-|role responder admits class internal"
as cfs_alice cat "$MNT/int.md" >/dev/null
eq internal_replay_audit "$(row cfs_alice replay /int.md | cut -d'|' -f1,2)" "allow|-"

# class grant = yes: a grant is needed, and covers only its subtree
has sensitive_no_grant "$(err_of as cfs_alice cat "$MNT/inc/a.md")" "Permission denied"
eq sensitive_no_grant_audit "$(row cfs_alice open /inc/a.md)" \
	"deny|-|no grant for cfs_alice covers /inc/a.md (class sensitive requires a grant)"
gi=$(grant cfs_alice /inc --ttl 2h)
eq grant_add_audit "$(audit_q "select action, result, grant_id, path, user from events where action='grant_add' and grant_id=$gi")" \
	"grant_add|allow|$gi|/inc|root"
eq grant_dir_reads "$(as cfs_alice cat "$MNT/inc/a.md" 2>&1)" alpha
eq grant_dir_audit "$(row cfs_alice open /inc/a.md | cut -d'|' -f1,2)" "allow|$gi"
eq grant_dir_covers_subtree "$(as cfs_alice cat "$MNT/inc/b.md" 2>&1)" bravo
has grant_not_prefix_sibling "$(err_of as cfs_alice cat "$MNT/incident/x.md")" "Permission denied"
eq grant_not_prefix_sibling_audit "$(row cfs_alice open /incident/x.md)" \
	"deny|-|no grant for cfs_alice covers /incident/x.md (class sensitive requires a grant)"
has grant_user_only "$(err_of as cfs_carol cat "$MNT/inc/a.md")" "Permission denied"
as cfs_alice cat "$MNT/inc/a.md" >/dev/null
eq grant_replay_audit "$(row cfs_alice replay /inc/a.md | cut -d'|' -f1,2)" "allow|$gi"
sleep 0.2 # reads are committed in batches within flush_ms
eq grant_read_audit "$(audit_q "select result, grant_id, offset from events where action='read'
	and user='cfs_alice' and path='/inc/a.md' and offset=0 order by id desc limit 1")" "allow|$gi|0"

# group and role grants
has group_grant_before "$(err_of as cfs_carol cat "$MNT/g/f.md")" "Permission denied"
gg=$(grant @cfs_soc /g --ttl 10m)
eq group_grant_carol "$(as cfs_carol cat "$MNT/g/f.md" 2>&1)" "content of g"
eq group_grant_alice "$(as cfs_alice cat "$MNT/g/f.md" 2>&1)" "content of g"
has group_grant_not_bob "$(err_of as cfs_bob cat "$MNT/g/f.md")" "Permission denied"
eq group_grant_audit "$(row cfs_carol open /g/f.md | cut -d'|' -f1,2)" "allow|$gg"
has role_grant_not_alice "$(err_of as cfs_alice cat "$MNT/r/f.md")" "Permission denied"

# --write: a read-only grant refuses appends even with mode 0666
gwr=$(grant cfs_alice /w --ttl 10m)
eq write_ro_reads "$(as cfs_alice cat "$MNT/w/f.md" 2>&1)" "content of w"
has write_ro_refused "$(as cfs_alice sh -c "echo x >>$MNT/w/f.md" 2>&1)" "Permission denied"
has write_ro_audit "$(row cfs_alice open /w/f.md)" "does not allow writing"
has write_ro_truncate_refused "$(err_of as cfs_alice truncate -s 0 "$MNT/w/f.md")" "Permission denied"
eq write_ro_unchanged "$(as cfs_alice cat "$MNT/w/f.md" 2>&1)" "content of w"
gw=$(grant cfs_alice /w/f.md --ttl 10m --write)
ok write_rw_appends as cfs_alice sh -c "echo x >>$MNT/w/f.md"
eq write_rw_content "$(as cfs_alice cat "$MNT/w/f.md" 2>&1)" "content of w
x"
# the read-only grant still serves reads; the append was opened under the --write grant
eq write_rw_audit "$(audit_q "select result, grant_id from events where user='cfs_alice' and
	path='/w/f.md' and action in ('open','replay') and result='allow' order by id desc limit 2" | tr '\n' ' ')" \
	"allow|$gwr allow|$gw "

# --start in the future: refused until then (checked again further down)
gs=$(grant cfs_alice /s --ttl 1h --start +3s)
t_start=$(date +%s)
has start_future_refused "$(err_of as cfs_alice cat "$MNT/s/f.md")" "Permission denied"
has start_future_audit "$(row cfs_alice open /s/f.md)" "grant $gs starts at"

# expiry reaching an open handle: a 5 s grant (it ends on a whole second,
# so 4 to 5 s from now: room for a loaded machine's first read), a reader
# that outlives it
ge=$(grant cfs_alice /e --ttl 5s)
as cfs_alice "$PY" - "$MNT/e/f.md" >"$T/expiry.out" 2>&1 <<'PY' &
import os, sys, time
fd = os.open(sys.argv[1], os.O_RDONLY)
print("first", os.pread(fd, 10, 0).decode().strip(), flush=True)
time.sleep(6.2)
try:
    os.pread(fd, 10, 0)
    print("second ok")
except OSError as e:
    print("second", e.strerror)
PY
expiry_pid=$!

# --max-opens 2: the third open is refused, the reason says why
gm=$(grant cfs_alice /m --ttl 10m --max-opens 2)
eq max_opens_1 "$(as cfs_alice cat "$MNT/m/f.md" 2>&1)" "content of m"
eq max_opens_2 "$(as cfs_alice cat "$MNT/m/f.md" 2>&1)" "content of m"
has max_opens_3_refused "$(err_of as cfs_alice cat "$MNT/m/f.md")" "Permission denied"
eq max_opens_audit "$(audit_q "select action, result, ifnull(grant_id,'-'), reason from events
	where user='cfs_alice' and path='/m/f.md' and action in ('open','replay') order by id" |
	cut -d'|' -f1-3 | tr '\n' ' ')" "open|allow|$gm replay|allow|$gm open|deny|- "
has max_opens_reason "$(row cfs_alice open /m/f.md)" "grant $gm has used its 2 opens"
# an open refused because its audit row could not be committed (another
# process holds audit.db's write lock past the daemon's 2 s bound — plus
# the 2 s its writer thread may spend failing first) does not use up one of
# the grant's opens
gm2=$(grant cfs_alice /m --ttl 10m --max-opens 2)
"$G" revoke "$gm" >/dev/null 2>>"$T/tools.err"
eq max_opens_locked_1 "$(as cfs_alice cat "$MNT/m/f.md" 2>&1)" "content of m"
db_lock "$T/var/audit.db" 6
has max_opens_locked_refused "$(err_of as cfs_alice cat "$MNT/m/f.md")" "Permission denied"
db_unlock
eq max_opens_locked_2 "$(as cfs_alice cat "$MNT/m/f.md" 2>&1)" "content of m"
has max_opens_locked_3_refused "$(err_of as cfs_alice cat "$MNT/m/f.md")" "Permission denied"
has max_opens_locked_reason "$(row cfs_alice open /m/f.md)" "grant $gm2 has used its 2 opens"
eq max_opens_locked_rows "$(audit_q "select result from events where user='cfs_alice'
	and path='/m/f.md' and action in ('open','replay') and grant_id = $gm2 order by id" | tr '\n' ' ')" \
	"allow allow "

# two-person approval (class secret: readers less, head)
g2a=$(grant cfs_alice /sec --ttl 30m)
has two_person_unapproved_refused "$(err_of as cfs_alice head "$MNT/sec/f.md")" "Permission denied"
has two_person_unapproved_audit "$(row cfs_alice open /sec/f.md)" \
	"grant $g2a needs two-person approval (approved by nobody)"
out=$("$G" add cfs_alice /sec --ttl 30m --approved-by root 2>&1); rc=$?
eq two_person_self_status "$rc" 2
has two_person_self_message "$out" "--approved-by must name a second person, not root"
out=$(SUDO_USER=cfs_dave "$G" add cfs_alice /sec --ttl 30m --approved-by cfs_dave 2>&1); rc=$?
eq two_person_sudo_self_status "$rc" 2
has two_person_sudo_self_message "$out" "not cfs_dave"
out=$("$G" add cfs_alice /sec --ttl 30m --approved-by cfs_alice 2>&1); rc=$?
eq two_person_grantee_status "$rc" 2
"$G" revoke "$g2a" >/dev/null 2>>"$T/tools.err"
g2b=$(grant cfs_alice /sec --ttl 30m --approved-by cfs_dave)
eq two_person_granted_by "$("$G" show "$g2b" --json | python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["granted_by"], r["approved_by"])')" \
	"root cfs_dave"
# naming the approver is not approving: nothing opens until cfs_dave confirms
has two_person_named_refused "$(err_of as cfs_alice head "$MNT/sec/f.md")" "Permission denied"
has two_person_named_audit "$(row cfs_alice open /sec/f.md)" \
	"grant $g2b needs two-person approval (waiting for cfs_dave to approve)"
ok two_person_approve approve "$g2b"
eq two_person_approved_reads "$(as cfs_alice head "$MNT/sec/f.md" 2>&1)" "content of sec"
eq two_person_approved_audit "$(row cfs_alice open /sec/f.md | cut -d'|' -f1,2)" "allow|$g2b"
has two_person_reader_only "$(err_of as cfs_alice cat "$MNT/sec/f.md")" "Permission denied"
has two_person_reader_audit "$(row cfs_alice open /sec/f.md)" "program /usr/bin/cat is not an allowed reader"
# root is not a second person, and the granting admin cannot approve his own grant
out=$(SUDO_USER=cfs_dave "$G" add cfs_carol /sec --ttl 30m --approved-by root 2>&1); rc=$?
eq two_person_root_approver_status "$rc" 2
has two_person_root_approver_message "$out" "root is a shared identity"
g2c=$(SUDO_USER=cfs_dave "$G" add cfs_carol /sec --ttl 30m 2>/dev/null)
eq two_person_sudo_granted_by "$("$G" show "$g2c" --json | python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["granted_by"], r["approved_by"])')" \
	"cfs_dave None"
no two_person_granter_cannot_approve approve "$g2c" cfs_dave
has two_person_sudo_unapproved "$(err_of as cfs_carol head "$MNT/sec/f.md")" "Permission denied"

# a long grant is capped by the class's max_ttl (sensitive: 8h)
start9=$(date -u -d '9 hours ago' +%Y-%m-%dT%H:%M:%SZ)
gc=$(grant cfs_carol /cap/f.md --ttl 2d --start "$start9")
ok max_ttl_grant_accepted test -n "$gc"
has max_ttl_tool_warns "$(cat "$T/grant.err")" "max_ttl"
has max_ttl_refused "$(err_of as cfs_carol cat "$MNT/cap/f.md")" "Permission denied"
has max_ttl_audit "$(row cfs_carol open /cap/f.md)" "(class sensitive allows at most 8h)"
start7=$(date -u -d '7 hours ago' +%Y-%m-%dT%H:%M:%SZ)
gc2=$(grant cfs_carol /cap/f2.md --ttl 2d --start "$start7")
eq max_ttl_within_cap_reads "$(as cfs_carol cat "$MNT/cap/f2.md" 2>&1)" "cap two"
eq max_ttl_within_cap_audit "$(row cfs_carol open /cap/f2.md | cut -d'|' -f1,2)" "allow|$gc2"

# revocation reaching an open handle within one second
gr2=$(grant cfs_alice /v --ttl 10m)
rm -f "$T/revoked"
as cfs_alice "$PY" - "$MNT/v/f.md" "$T/revoked" >"$T/revoke.out" 2>&1 <<'PY' &
import os, sys, time
fd = os.open(sys.argv[1], os.O_RDONLY)
print("first", os.pread(fd, 10, 0).decode().strip(), flush=True)
deadline = time.monotonic() + 10
while not os.path.exists(sys.argv[2]):
    if time.monotonic() > deadline:
        print("never revoked"); sys.exit(1)
    os.pread(fd, 10, 0)   # reads keep working until the revocation
    time.sleep(0.02)
t0 = time.monotonic()
while time.monotonic() - t0 < 3:
    try:
        os.pread(fd, 10, 0)
    except OSError as e:
        print("refused after %.2f s: %s" % (time.monotonic() - t0, e.strerror))
        sys.exit(0)
    time.sleep(0.05)
print("still readable 3 s after the revocation")
PY
revoke_pid=$!
for _ in $(seq 1 100); do grep -q '^first' "$T/revoke.out" && break; sleep 0.05; done
eq revoke_first_read "$(head -n 1 "$T/revoke.out")" "first content of"
"$G" revoke "$gr2" --reason "test revocation" && touch "$T/revoked"
wait "$revoke_pid"
rline=$(tail -n 1 "$T/revoke.out")
has revoke_reaches_handle "$rline" "Permission denied"
secs=$(echo "$rline" | sed -n 's/^refused after \([0-9.]*\) s.*/\1/p')
ok revoke_within_1s python3 -c "import sys; sys.exit(0 if 0 <= float('${secs:-99}') <= 1.0 else 1)"
eq revoke_audit "$(row cfs_alice read /v/f.md | cut -d'|' -f1,2)" "deny|$gr2"
has revoke_audit_reason "$(row cfs_alice read /v/f.md)" "grant $gr2 is revoked"
eq revoke_grant_audit "$(audit_q "select result, user from events where action='grant_revoke' and grant_id=$gr2")" "allow|root"
has revoke_new_open_refused "$(err_of as cfs_alice cat "$MNT/v/f.md")" "Permission denied"

# the future grant has started by now
while [ $(($(date +%s) - t_start)) -lt 4 ]; do sleep 0.2; done
eq start_future_reads_later "$(as cfs_alice cat "$MNT/s/f.md" 2>&1)" "content of s"
eq start_future_audit_later "$(row cfs_alice open /s/f.md | cut -d'|' -f1,2)" "allow|$gs"

wait "$expiry_pid"
eq expiry_first_read "$(head -n 1 "$T/expiry.out")" "first content of"
eq expiry_reaches_handle "$(tail -n 1 "$T/expiry.out")" "second Permission denied"
eq expiry_audit "$(row cfs_alice read /e/f.md | cut -d'|' -f1,2)" "deny|$ge"
has expiry_audit_reason "$(row cfs_alice read /e/f.md)" "grant $ge expired at"
has expiry_new_open_refused "$(err_of as cfs_alice cat "$MNT/e/f.md")" "Permission denied"

# root is a caller like any other for content, but manages entries
has root_no_grant_refused "$(err_of cat "$MNT/adm/f.md")" "Permission denied"
eq root_refused_audit "$(row root open /adm/f.md)" \
	"deny|-|no grant for root covers /adm/f.md (class sensitive requires a grant)"
ok root_setfattr setfattr -n user.coachfs.export -v log "$MNT/adm/f.md"
eq root_setfattr_audit "$(row root setxattr /adm/f.md | cut -d'|' -f1)" allow
ok root_chmod chmod 600 "$MNT/adm/f.md"
eq root_chmod_mode "$(stat -c %a "$MNT/adm/f.md")" 600
ok root_rename mv "$MNT/adm/f.md" "$MNT/adm/g.md"
eq root_rename_keeps_class "$(getfattr --absolute-names --only-values -n user.coachfs.class "$MNT/adm/g.md")" sensitive
ok root_unlink rm "$MNT/adm/g.md"
no root_unlink_gone test -e "$MNT/adm/g.md"
# (on a file the caller may write, so the kernel's permission check lets it through)
has nonadmin_setfattr_refused "$(err_of as cfs_alice setfattr -n user.coachfs.class -v public "$MNT/w/f.md")" \
	"Operation not permitted"
eq nonadmin_setfattr_audit "$(row cfs_alice setxattr /w/f.md | cut -d'|' -f1)" deny
eq nonadmin_setfattr_kept "$(getfattr --absolute-names --only-values -n user.coachfs.class "$MNT/w/f.md" 2>/dev/null)" sensitive

# every open decision has its row: alice's opens of /inc/* since the remount:
# a.md denied, a.md and b.md allowed, a.md replayed
eq audit_open_rows "$(audit_q "select count(*) from events where user='cfs_alice' and
	path like '/inc/%' and action in ('open','replay') and id > $part2")" 4
eq audit_deny_has_reason "$(audit_q "select count(*) from events where result in ('deny','flag')
	and (reason is null or reason = '')")" 0

# ---- coach-grant refusals: exit status and message, nothing stored ----
n_before=$(audit_q "select count(*) from events where action='grant_add'")
cli() { # NAME STATUS MESSAGE ARGS...
	local n=$1 st=$2 msg=$3; shift 3
	local out rc
	out=$("$@" 2>&1); rc=$?
	echo "$out" >>"$T/tools.err"
	eq "cli_${n}_status" "$rc" "$st"
	has "cli_${n}_message" "$out" "$msg"
}
cli unknown_user 2 "unknown user 'cfs_nosuchuser'" "$G" add cfs_nosuchuser /inc --ttl 1h
cli unknown_group 2 "unknown group 'cfs_nosuchgroup'" "$G" add @cfs_nosuchgroup /inc --ttl 1h
cli unknown_role 2 "unknown role 'nosuchrole'" "$G" add role:nosuchrole /inc --ttl 1h
cli bad_duration 2 "--ttl: '5x' is not a duration" "$G" add cfs_alice /inc --ttl 5x
cli negative_duration 2 "--ttl: '-1h' is not a duration" "$G" add cfs_alice /inc --ttl -1h
cli empty_duration 2 "--ttl: '' is not a duration" "$G" add cfs_alice /inc --ttl ""
cli zero_duration 2 "--ttl: '0s' is not a duration" "$G" add cfs_alice /inc --ttl 0s
cli no_ttl 2 "--ttl is required" "$G" add cfs_alice /inc
cli relative_path 2 "PATH: 'inc' is not a mount-relative path" "$G" add cfs_alice inc --ttl 1h
cli trailing_slash 2 "PATH: '/inc/' is not a mount-relative path" "$G" add cfs_alice /inc/ --ttl 1h
cli dotdot_path 2 "PATH: '/inc/../sec' is not a mount-relative path" "$G" add cfs_alice /inc/../sec --ttl 1h
cli max_opens_zero 2 "--max-opens: '0' is not a number" "$G" add cfs_alice /inc --ttl 1h --max-opens 0
cli bad_start 2 "--start: 'yesterday' is not a time" "$G" add cfs_alice /inc --ttl 1h --start yesterday
cli ends_before_now 2 "before now" "$G" add cfs_alice /inc --ttl 1h --start 2h
cli non_root_add 1 "only root" as cfs_bob "$G" add cfs_bob /inc --ttl 1h
cli non_root_revoke 1 "only root" as cfs_bob "$G" revoke "$gi"
cli revoke_unknown 1 "no grant 999999" "$G" revoke 999999
cli revoke_twice 1 "grant $gr2 is already revoked" "$G" revoke "$gr2"
cli bad_id 2 "'12x' is not a grant id" "$G" revoke 12x
eq cli_nothing_added "$(audit_q "select count(*) from events where action='grant_add'")" "$n_before"
eq cli_grant_still_active "$("$G" show "$gi" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])')" active

no tools_no_sanitizer_report grep -qE 'Sanitizer|runtime error:' "$T/tools.err"

cfs_umount
if [ -s "$T/daemon.err" ]; then
	no daemon_stderr_clean grep -qE 'ERROR: (Address|Leak|Undefined)Sanitizer|runtime error:' "$T/daemon.err"
fi
