#!/bin/bash
# Expiring delivery links through a real mount: user-bound and bearer links,
# uses, expiry, revocation, no oracle, nothing but the target, tokens never
# stored, every use and refusal audited.
. "$(dirname "$0")/lib.sh"
cfs_users
cfs_init || exit 1
cfs_mount || exit 1
G="$BIN/coach-grant"

mkdir -p "$MNT/inc"
echo "playbook: isolate the host" >"$MNT/inc/playbook.md"
echo "other material" >"$MNT/inc/other.md"
chmod -R a+rX "$MNT/inc"
setfattr -n user.coachfs.class -v sensitive "$MNT/inc"

no bob_has_no_access as cfs_bob cat "$MNT/inc/playbook.md"

# A user-bound link: opens once for its user, then not again
L=$("$G" link /inc/playbook.md --ttl 15m --user cfs_bob 2>&1); rc=$?
eq link_issued "$rc" 0
has link_under_mount "$L" "$MNT/.links/"
TOKEN=${L##*/}
eq token_length "${#TOKEN}" 22
no other_user_refused as cfs_alice cat "$L"
eq bob_reads_once "$(as cfs_bob cat "$L" 2>&1)" "playbook: isolate the host"
has bob_second_use_refused "$(as cfs_bob cat "$L" 2>&1)" "No such file or directory"

# The link opens nothing but its target, and never for writing
no not_a_directory as cfs_bob ls "$MNT/.links/$TOKEN/"
no sibling_not_reachable as cfs_bob cat "$MNT/inc/other.md"
L2=$("$G" link /inc/playbook.md --ttl 15m --user cfs_bob --uses 3)
has link_read_only "$(as cfs_bob sh -c "echo x >> $L2" 2>&1)" "ermission denied"

# /.links cannot be listed; unknown tokens look like nothing
eq links_list_nothing "$(ls -A "$MNT/.links" 2>/dev/null)" ""
has links_not_listable_by_user "$(as cfs_bob ls "$MNT/.links" 2>&1)" "ermission denied"
has unknown_token "$(as cfs_bob cat "$MNT/.links/AAAAAAAAAAAAAAAAAAAAAA" 2>&1)" "No such file or directory"
has malformed_token "$(as cfs_bob cat "$MNT/.links/nope" 2>&1)" "No such file or directory"

# A bearer link works for anyone within its uses
B=$("$G" link /inc/playbook.md --ttl 15m --uses 2)
eq bearer_alice "$(as cfs_alice cat "$B")" "playbook: isolate the host"
eq bearer_carol "$(as cfs_carol cat "$B")" "playbook: isolate the host"
no bearer_used_up as cfs_bob cat "$B"

# Expired and revoked links are refused
E=$("$G" link /inc/playbook.md --ttl 2s --user cfs_bob)
sleep 2.2
no expired_refused as cfs_bob cat "$E"
R=$("$G" link /inc/playbook.md --ttl 15m --user cfs_bob --uses 5)
RID=$("$G" list | awk '/^L[0-9]/ {print $1}' | head -n 1)
ok revoke_link "$G" revoke "$RID" --reason "sent to the wrong person"
no revoked_refused as cfs_bob cat "$R"
has list_shows_links "$("$G" list)" "LINKS"

# Export rules still apply through a link (sensitive: export deny)
X=$("$G" link /inc/playbook.md --ttl 15m --user cfs_bob)
no export_through_link_denied as cfs_bob cp "$X" /tmp/cfs-stolen.$$
rm -f /tmp/cfs-stolen.$$

# The token is in neither database nor the audit log
cfs_umount
for t in "$TOKEN" "${B##*/}" "${E##*/}" "${R##*/}"; do
	no "token_not_in_dbs_${t:0:4}" grep -rqa -- "$t" "$T/var"
done
eq audit_link_issue "$(audit_q "select count(*) from events where action='link_issue'")" 6
eq audit_use_allow "$(audit_q "select count(*) from events where action='link_use' and result='allow'")" 3
has audit_use_deny_reasons "$(audit_q "select group_concat(reason, ' | ') from events where action='link_use' and result='deny'")" "used up"
has audit_expired "$(audit_q "select group_concat(reason, ' | ') from events where action='link_use' and result='deny'")" "expired"
has audit_revoked "$(audit_q "select group_concat(reason, ' | ') from events where action='link_use' and result='deny'")" "revoked"
has audit_wrong_user "$(audit_q "select group_concat(reason, ' | ') from events where action='link_use' and result='deny'")" "for another user"
