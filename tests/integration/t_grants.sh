#!/bin/bash
# Grants and links that cannot be forged, links that obey their class, and
# two-person approval by a real second admin — through a real mount, as real
# Unix users. Every check here failed on the code before row MACs (issue 13):
# rows written with sqlite3 were honoured, links ignored approval, max_ttl and
# max_opens, --approved-by took any name, and a link was committed before its
# audit row.
. "$(dirname "$0")/lib.sh"
cfs_users
# a class whose max_ttl a test can outlive, and a second admin (cfs_carol)
cfs_config "
[class.brief]
grant = yes
max_ttl = 3s
export = deny"
sed -i 's/^admin = root, @cfs_admins$/admin = root, @cfs_admins, cfs_carol/' "$CFG"
cfs_init || exit 1
cfs_mount || exit 1
G="$BIN/coach-grant"
P="$T/var/policy.db"
pq() { sqlite3 "$P" "$1"; }
row() { audit_q "select result || '|' || coalesce(grant_id, '-') || '|' || reason from events
	where user = '$1' and path = '$3' and action = '$2' order by id desc limit 1"; }
json() { "$G" show "$1" --json | python3 -c "import json,sys; r=json.load(sys.stdin); print($2)"; }

mkdir -p "$MNT/sens" "$MNT/sec" "$MNT/brief"
echo "sensitive notes" >"$MNT/sens/a.md"
echo "sensitive two" >"$MNT/sens/b.md"
echo "secret plan" >"$MNT/sec/plan.md"
echo "brief note" >"$MNT/brief/n.md"
chmod -R a+rX "$MNT/sens" "$MNT/sec" "$MNT/brief"
setfattr -n user.coachfs.class -v sensitive "$MNT/sens"
setfattr -n user.coachfs.class -v secret "$MNT/sec"
setfattr -n user.coachfs.class -v sensitive "$MNT/brief"

# ---- 1. grants written by hand grant nothing, and are reported ----
no forged_none_before as cfs_bob cat "$MNT/sens/a.md"
pq "INSERT INTO grants(subject, kind, ugid, path, write, start, \"end\", max_opens, granted_by,
	created) VALUES('cfs_bob', 1, $(id -u cfs_bob), '/sens', 0, strftime('%s','now'),
	strftime('%s','now') + 3600, 0, 'root', strftime('%s','now'))"
FID=$(pq "select max(id) from grants")
no forged_insert_refused as cfs_bob cat "$MNT/sens/a.md"
eq forged_insert_no_grant_add "$(audit_q "select count(*) from events where action = 'grant_add'")" 0
has forged_insert_tamper_row "$(audit_q "select result || '|' || grant_id || '|' || reason from events
	where action = 'tamper' and grant_id = $FID")" "error|$FID|policy.db: grant $FID is INVALID (no MAC): ignored"
has forged_insert_listed_invalid "$("$G" list | awk -v id="$FID" '$1 == id')" "INVALID (no MAC)"
eq forged_insert_json "$(json "$FID" 'r["valid"], r["invalid"]')" "False unsealed"
eq forged_insert_not_active "$("$G" list --active --json)" "[]"

# a real, short grant, extended by hand after it ended
# (ends are whole seconds: a 2 s grant could end 1.1 s after it was made,
# before a loaded machine got to read; wait for the end it was given)
g1=$("$G" add cfs_alice /sens/a.md --ttl 5s 2>/dev/null)
eq short_grant_reads "$(as cfs_alice cat "$MNT/sens/a.md")" "sensitive notes"
g1_end=$(pq "select \"end\" from grants where id = $g1")
while [ "$(date +%s)" -le "${g1_end:-0}" ]; do sleep 0.2; done
no short_grant_ended as cfs_alice cat "$MNT/sens/a.md"
pq "UPDATE grants SET \"end\" = \"end\" + 3600 WHERE id = $g1"
no extended_refused as cfs_alice cat "$MNT/sens/a.md"
has extended_listed_invalid "$("$G" list | awk -v id="$g1" '$1 == id')" "INVALID (MAC)"
has extended_tamper_row "$(audit_q "select reason from events where action = 'tamper' and grant_id = $g1")" \
	"grant $g1 is INVALID (MAC)"

# resetting or deleting a used open counter gives no opens back
g2=$("$G" add cfs_carol /sens/b.md --ttl 1h --max-opens 1 2>/dev/null)
eq counted_first "$(as cfs_carol cat "$MNT/sens/b.md")" "sensitive two"
no counted_second_refused as cfs_carol cat "$MNT/sens/b.md"
pq "UPDATE opens SET count = 0 WHERE grant_id = $g2"
has counter_reset_refused "$(err_of as cfs_carol cat "$MNT/sens/b.md")" "Permission denied"
has counter_reset_reason "$(row cfs_carol open /sens/b.md)" "grant $g2 has used its 1 opens"
pq "DELETE FROM opens WHERE grant_id = $g2"
has counter_deleted_refused "$(err_of as cfs_carol cat "$MNT/sens/b.md")" "Permission denied"
has counter_deleted_reason "$(row cfs_carol open /sens/b.md)" "a count was removed or reset"

# an approval written by hand is not one
g3=$("$G" add cfs_alice /sec --ttl 30m 2>/dev/null)
pq "UPDATE grants SET approved_by = 'cfs_dave', approved_at = strftime('%s','now') WHERE id = $g3"
no forged_approval_refused as cfs_alice head "$MNT/sec/plan.md"
has forged_approval_row "$(audit_q "select reason from events where action = 'tamper' and grant_id = $g3")" \
	"grant $g3 is INVALID (MAC)"
"$G" revoke "$g3" >/dev/null 2>&1

# ---- 3. two-person approval by a real second admin, as themselves ----
ngrants=$(pq "select count(*) from grants")
out=$("$G" add cfs_alice /sec --ttl 30m --approved-by cfs_nosuchuser 2>&1); rc=$?
eq approver_unknown_status "$rc" 2
has approver_unknown_message "$out" "--approved-by: no user 'cfs_nosuchuser'"
out=$("$G" add cfs_alice /sec --ttl 30m --approved-by cfs_bob 2>&1); rc=$?
eq approver_not_admin_status "$rc" 2
has approver_not_admin_message "$out" "'cfs_bob' is not in the admin role"
eq approver_refusals_stored_nothing "$(pq "select count(*) from grants")" "$ngrants"

g4=$("$G" add cfs_alice /sec --ttl 30m --approved-by cfs_dave 2>"$T/add.err")
has named_pending_note "$(cat "$T/add.err")" "coach-grant approve $g4"
# (hide_denied: an unapproved grant does not even show the file)
no named_not_yet as cfs_alice head "$MNT/sec/plan.md"
# root is a shared identity; the tool refuses, and so does the daemon
out=$("$G" approve "$g4" --mount "$MNT" 2>&1); rc=$?
eq approve_root_tool_refused "$rc" 1
has approve_root_tool_message "$out" "not as root"
no approve_root_daemon_refused setfattr -n user.coachfs.approve -v "$g4" "$MNT/.links/approve"
has approve_root_daemon_row "$(row root grant_approve /.links/approve)" "root is a shared identity"
# a non-admin, and an admin other than the one named
no approve_not_admin approve "$g4" cfs_bob
has approve_not_admin_row "$(row cfs_bob grant_approve /.links/approve)" "cfs_bob is not in the admin role"
no approve_other_admin approve "$g4" cfs_carol
has approve_other_admin_row "$(row cfs_carol grant_approve /.links/approve)" "names cfs_dave as its approver, not cfs_carol"
no still_pending as cfs_alice head "$MNT/sec/plan.md"
# the named admin, as himself
out=$(approve "$g4" 2>&1); rc=$?
eq approve_named_status "$rc" 0
eq approve_named_output "$out" "grant $g4 approved"
eq approved_reads "$(as cfs_alice head "$MNT/sec/plan.md" 2>&1)" "secret plan"
has approved_row "$(row cfs_dave grant_approve /sec)" "allow|-|grant $g4 approved by cfs_dave (granted by root)"
eq approved_show "$(json "$g4" 'r["approved_by"], r["approved_at"] is not None, r["valid"]')" "cfs_dave True True"
out=$(approve "$g4" 2>&1); rc=$?
eq approve_twice_refused "$rc" 1
has approve_twice_message "$out" "already approved"

# the granting admin (sudo) cannot approve his own grant; the subject cannot approve its own
g5=$(SUDO_USER=cfs_dave "$G" add cfs_bob /sec --ttl 30m 2>/dev/null)
eq sudo_granted_by "$(json "$g5" 'r["granted_by"]')" "cfs_dave"
no approve_own_grant approve "$g5" cfs_dave
has approve_own_grant_row "$(row cfs_dave grant_approve /.links/approve)" "cfs_dave granted it and cannot also approve it"
g6=$("$G" add cfs_dave /sec --ttl 30m 2>/dev/null)
no approve_as_subject approve "$g6" cfs_dave
has approve_as_subject_row "$(row cfs_dave grant_approve /.links/approve)" "cfs_dave is its subject"
# a grant on a file of a class that asks for no approval
g7=$("$G" add cfs_bob /sens/a.md --ttl 30m 2>/dev/null)
no approve_needless approve "$g7"
has approve_needless_row "$(row cfs_dave grant_approve /.links/approve)" "class sensitive of /sens/a.md needs no two-person approval"
eq approve_rows_allow "$(audit_q "select count(*) from events where action = 'grant_approve' and result = 'allow'")" 1

# ---- 2. links obey their class: max_ttl, max_opens, approval ----
out=$("$G" link /sec/plan.md --ttl 2h --user cfs_alice 2>&1); rc=$?
eq link_over_max_ttl_status "$rc" 2
has link_over_max_ttl_message "$out" "--ttl 2h is longer than max_ttl 1h of class secret"
out=$("$G" link /sec/plan.md --ttl 30m --uses 5 --user cfs_alice 2>&1); rc=$?
eq link_over_max_opens_status "$rc" 2
has link_over_max_opens_message "$out" "--uses 5 is more than max_opens 3"
L1=$("$G" link /sec/plan.md --ttl 30m --uses 2 --user cfs_alice 2>"$T/link.err")
LID=$(awk '/^L[0-9]/ {print $1}' <<<"$("$G" list)" | head -n 1)
has link_pending_note "$(cat "$T/link.err")" "coach-grant approve $LID"
no link_unapproved_refused as cfs_alice head "$L1"
has link_unapproved_row "$(row cfs_alice link_use /sec/plan.md)" "needs two-person approval (approved by nobody)"
no link_approve_by_subject approve "$LID" cfs_alice
ok link_approve approve "$LID"
eq link_approved_reads "$(as cfs_alice head "$L1" 2>&1)" "secret plan"

# the file's own max_opens caps a link's uses (set after issue)
L2=$("$G" link /sens/a.md --ttl 30m --uses 3 --user cfs_bob)
setfattr -n user.coachfs.max_opens -v 1 "$MNT/sens/a.md"
eq link_capped_first "$(as cfs_bob cat "$L2" 2>&1)" "sensitive notes"
no link_capped_second as cfs_bob cat "$L2"
has link_capped_row "$(row cfs_bob link_use /sens/a.md)" "has used its 1 opens"
setfattr -x user.coachfs.max_opens "$MNT/sens/a.md"

# the class's max_ttl cuts a link short when the file moves to a stricter class
L3=$("$G" link /brief/n.md --ttl 30m --uses 5 --user cfs_bob)
setfattr -n user.coachfs.class -v brief "$MNT/brief"
eq link_in_brief_reads "$(as cfs_bob cat "$L3" 2>&1)" "brief note"
sleep 3.2
no link_max_ttl_at_use as cfs_bob cat "$L3"
has link_max_ttl_row "$(row cfs_bob link_use /brief/n.md)" "(class brief allows at most 3s)"

# a link row edited by hand opens nothing, and is a tamper row
L4=$("$G" link /sens/b.md --ttl 30m --user cfs_bob)
L4ID=$(pq "select max(id) from links")
pq "UPDATE links SET uses = 100, \"end\" = \"end\" + 86400 WHERE id = $L4ID"
no edited_link_refused as cfs_bob cat "$L4"
has edited_link_tamper "$(audit_q "select reason from events where action = 'tamper' and path = '/sens/b.md' order by id desc limit 1")" \
	"link $L4ID to /sens/b.md failed authentication: INVALID (MAC)"
has edited_link_listed "$("$G" list | grep "^L$L4ID ")" "INVALID (MAC)"

# ---- 4. text arguments are bounded before anything is written ----
long=$(printf 'r%.0s' $(seq 1 300))
out=$("$G" revoke "L$L4ID" --reason "$long" 2>&1); rc=$?
eq long_reason_status "$rc" 2
has long_reason_message "$out" "--reason: too long (at most 255 bytes)"
ok list_still_readable "$G" list
out=$("$G" list 2>&1)
has long_reason_link_still_listed "$out" "L$L4ID "
no long_reason_no_malformed_row grep -q "is malformed" <<<"$out"
out=$("$G" revoke "L$LID" --reason "$(printf 'a\tb')" 2>&1); rc=$?
eq control_reason_status "$rc" 2

# ---- 5. a link is never stored without its link_issue row ----
before=$(pq "select count(*) from links")
sqlite3 "$T/var/audit.db" "CREATE TRIGGER refuse BEFORE INSERT ON events BEGIN SELECT RAISE(ABORT, 'refused by test'); END"
out=$("$G" link /sens/a.md --ttl 10m --user cfs_bob 2>&1); rc=$?
sqlite3 "$T/var/audit.db" "DROP TRIGGER refuse"
eq link_unaudited_status "$rc" 1
has link_unaudited_message "$out" "the link was not issued: its audit row could not be written"
eq link_unaudited_not_stored "$(pq "select count(*) from links")" "$before"
