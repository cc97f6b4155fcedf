#!/bin/bash
# Access requests, real two-person approval and break-glass (issue 16),
# through a real mount, as real Unix users: an ordinary user asks without
# root, admins approve or deny as themselves (the daemon takes their uid
# from the kernel), a two-person request needs two distinct admins who are
# not the requester, requests expire, break-glass opens at once with an
# alert, and every step is an audit row. Forged rows act on nothing.
. "$(dirname "$0")/lib.sh"
cfs_users
cfs_config "
[class.crit]
grant = yes
max_ttl = 2h
approval = two-person
breakglass = responder
breakglass_ttl = 20m
export = deny"
# a second admin: cfs_carol (also a responder, through cfs_soc)
sed -i 's/^admin = root, @cfs_admins$/admin = root, @cfs_admins, cfs_carol/' "$CFG"
cfs_init || exit 1
cfs_mount || exit 1
G="$BIN/coach-grant"
P="$T/var/policy.db"
pq() { sqlite3 -cmd '.timeout 5000' "$P" "$1"; }
gr() { as "$1" "$G" "${@:2}" --mount "$MNT"; }
row() { audit_q "select result || '|' || coalesce(grant_id, '-') || '|' || reason from events
	where user = '$1' and action = '$2' order by id desc limit 1"; }
gjson() { "$G" show "$1" --json | python3 -c "import json,sys; r=json.load(sys.stdin); print($2)"; }

mkdir -p "$MNT/sens" "$MNT/sec" "$MNT/crit"
echo "sensitive notes" >"$MNT/sens/a.md"
echo "secret plan" >"$MNT/sec/plan.md"
echo "critical runbook" >"$MNT/crit/x.md"
chmod -R a+rX "$MNT/sens" "$MNT/sec" "$MNT/crit"
setfattr -n user.coachfs.class -v sensitive "$MNT/sens"
setfattr -n user.coachfs.class -v secret "$MNT/sec"
setfattr -n user.coachfs.class -v crit "$MNT/crit"

# ---- 1. a request by an ordinary user, approved by one admin, then used ----
no before_request as cfs_alice cat "$MNT/sens/a.md"
eq request_prints_id "$(gr cfs_alice request /sens/a.md --ttl 2d --reason "case 1142")" R1
has request_row "$(row cfs_alice grant_request)" \
	"allow|-|R1: cfs_alice asks for read-only access for 8h; cfs_alice may request access to class sensitive (asked 172800s: capped by its max_ttl); expires at @"
has request_row_reason "$(row cfs_alice grant_request)" "; reason: case 1142"
eq request_uid "$(pq "select uid || '|' || user || '|' || kind from requests where id = 1")" \
	"$(id -u cfs_alice)|cfs_alice|1"
eq request_readback "$(as cfs_alice getfattr --only-values -n user.coachfs.request "$MNT/.links/approve")" R1
no request_grants_nothing_yet as cfs_alice cat "$MNT/sens/a.md"
out=$(gr cfs_bob approve R1 2>&1); rc=$?
eq non_admin_approve_status "$rc" 1
has non_admin_approve_row "$(row cfs_bob grant_approve)" "deny|-|R1: cfs_bob is not in the admin role"
out=$("$G" approve R1 --mount "$MNT" 2>&1); rc=$?
eq root_tool_refuses "$rc" 1
has root_tool_message "$out" "run it as yourself, not as root"
no root_daemon_refuses setfattr -n user.coachfs.approve -v R1 "$MNT/.links/approve"
has root_daemon_row "$(row root grant_approve)" "deny|-|R1: root is a shared identity, not a second person"
eq approve_one "$(gr cfs_dave approve R1)" "request R1 approved"
G1=$(pq "select grant_id from requests where id = 1")
has approve_row "$(row cfs_dave grant_approve)" "allow|$G1|R1 approved by cfs_dave: granted; asked by cfs_alice for /sens/a.md; grant $G1"
eq request_used "$(as cfs_alice cat "$MNT/sens/a.md")" "sensitive notes"
eq grant_is_normal "$(gjson "$G1" 'r["subject"], r["granted_by"], r["approved_by"], r["end"] - r["start"], r["valid"], r["reason"]')" \
	"cfs_alice cfs_dave None 28800 True request R1: case 1142"
out=$(gr cfs_carol approve R1 2>&1); rc=$?
eq decided_twice_status "$rc" 1
has decided_twice_message "$out" "already decided"

# ---- 2. two-person: the same admin twice, the requester, then a second admin ----
eq two_request "$(gr cfs_alice request /sec/plan.md --ttl 30m --reason "tabletop")" R2
eq two_first "$(gr cfs_dave approve R2)" "request R2 approved"
has two_first_row "$(row cfs_dave grant_approve)" "allow|-|R2 approved by cfs_dave (first of two): a second admin must approve"
no two_first_not_enough as cfs_alice head "$MNT/sec/plan.md"
no two_same_admin_twice gr cfs_dave approve R2
has two_same_admin_row "$(row cfs_dave grant_approve)" "deny|-|R2: cfs_dave already approved it: a second admin must decide"
no two_same_admin_no_grant as cfs_alice head "$MNT/sec/plan.md"
eq self_request "$(gr cfs_carol request /sec/plan.md --ttl 30m --reason "own look")" R3
no requester_approves gr cfs_carol approve R3
has requester_row "$(row cfs_carol grant_approve)" "deny|-|R3: cfs_carol asked for it and cannot also approve it"
eq two_second "$(gr cfs_carol approve R2)" "request R2 approved"
G2=$(pq "select grant_id from requests where id = 2")
has two_second_row "$(row cfs_carol grant_approve)" "allow|$G2|R2 approved by cfs_carol (second of two): granted"
eq two_used "$(as cfs_alice head "$MNT/sec/plan.md")" "secret plan"
eq two_grant_fields "$(gjson "$G2" 'r["granted_by"], r["approved_by"], r["approved_at"] is not None, r["end"] - r["start"]')" \
	"cfs_dave cfs_carol True 1800"

# ---- 3. deny, with its row ----
out=$(gr cfs_dave deny R3 2>&1); rc=$?
eq deny_needs_reason "$rc" 2
eq deny "$(gr cfs_dave deny R3 --reason "not on call")" "request R3 denied"
has deny_row "$(row cfs_dave grant_deny)" "allow|-|R3 denied by cfs_dave; note: not on call; asked by cfs_carol for /sec/plan.md"
no denied_not_approvable gr cfs_alice approve R3
no denied_stays_closed as cfs_carol head "$MNT/sec/plan.md"
eq deny_json "$("$G" requests --all --json | python3 -c 'import json,sys
r=[x for x in json.load(sys.stdin) if x["id"] == "R3"][0]
print(r["state"], r["decision"], r["decided_by"], r["deny_reason"], r["grant_id"], r["approvals"])')" \
	"denied denied cfs_dave not on call None []"

# ---- 4. refused requests: a role-admitted class, a path that is not there, a bad value ----
no request_role_class gr cfs_alice request / --ttl 1h --reason x
has request_role_class_row "$(row cfs_alice grant_request)" "deny|-|a request: class internal admits by role, not by grant"
no request_missing gr cfs_alice request /sens/none.md --ttl 1h --reason x
has request_missing_row "$(row cfs_alice grant_request)" "deny|-|/sens/none.md: No such file or directory"
no request_malformed as cfs_alice setfattr -n user.coachfs.request -v "/sens/a.md" "$MNT/.links/approve"
has request_malformed_row "$(row cfs_alice grant_request)" "deny|-|request: malformed value"
out=$(as cfs_alice "$G" request /sens/a.md --ttl 1h --reason "$(printf 'a\tb')" --mount "$MNT" 2>&1); rc=$?
eq request_control_chars "$rc" 2

# ---- 5. forged and edited rows act on nothing, and are reported ----
pq "INSERT INTO requests(kind, uid, user, path, write, ttl, reason, created, expires)
	VALUES(1, $(id -u cfs_bob), 'cfs_bob', '/sec', 1, 3600, 'forged', strftime('%s','now'),
	strftime('%s','now') + 3600)"
FR=$(pq "select max(id) from requests")
no forged_not_approved gr cfs_dave approve "R$FR"
has forged_tamper_row "$(audit_q "select result || '|' || reason from events where action = 'tamper' order by id desc limit 1")" \
	"error|$P: request R$FR is INVALID (no MAC): it is never acted on"
eq forged_no_grant "$(pq "select count(*) from grants where subject = 'cfs_bob'")" 0
eq request_new "$(gr cfs_bob request /sens/a.md --ttl 1h --reason "edit me")" "R$((FR + 1))"
pq "UPDATE requests SET path = '/sens', write = 1 WHERE id = $((FR + 1))"
no edited_not_approved gr cfs_dave approve "R$((FR + 1))"
has edited_listed_invalid "$("$G" requests | awk -v id="R$((FR + 1))" '$1 == id')" "INVALID (MAC)"
eq edited_json "$("$G" show "R$((FR + 1))" --json | python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["valid"], r["invalid"])')" \
	"False mac"

# ---- 6. break-glass: refused for a role not listed, immediate for one, alerted, reviewed ----
no bg_not_listed gr cfs_bob breakglass /crit/x.md --reason "curious"
has bg_not_listed_row "$(row cfs_bob breakglass)" "deny|-|break-glass: cfs_bob holds no role in class crit's breakglass list"
no bg_other_class gr cfs_alice breakglass /sec/plan.md --reason "x"
has bg_other_class_row "$(row cfs_alice breakglass)" "deny|-|break-glass: cfs_alice holds no role in class secret's breakglass list"
no bg_directory gr cfs_alice breakglass /crit --reason "x"
has bg_directory_row "$(row cfs_alice breakglass)" "deny|-|break-glass: /crit is a directory; it opens one file"
no bg_before as cfs_alice cat "$MNT/crit/x.md"
out=$(gr cfs_alice breakglass /crit/x.md --reason "sev1 outage, on-call")
BG=$(pq "select max(id) from requests where kind = 2")
GB=$(pq "select grant_id from requests where id = $BG")
has bg_prints "$out" "B$BG: grant $GB on /crit/x.md until "
eq bg_immediate "$(as cfs_alice cat "$MNT/crit/x.md")" "critical runbook"
has bg_row "$(row cfs_alice breakglass)" \
	"flag|$GB|B$BG: break-glass by cfs_alice: grant $GB for 20m; break-glass by cfs_alice (role responder) on class crit; reason: sev1 outage, on-call"
eq bg_grant_fields "$(gjson "$GB" 'r["granted_by"], r["approved_by"], r["end"] - r["start"], r["write"]')" \
	"cfs_alice (break-glass) 1200 False"
has bg_listed_unreviewed "$("$G" list | awk -v id="B$BG" '$1 == id')" "unreviewed"
no bg_self_review_nonadmin gr cfs_alice review "B$BG"
has bg_self_review_nonadmin_row "$(row cfs_alice breakglass_review)" "deny|-|B$BG: cfs_alice is not in the admin role"
out=$(gr cfs_carol breakglass /crit/x.md --reason "carol too")
CB=$(pq "select max(id) from requests where kind = 2")
no bg_self_review gr cfs_carol review "B$CB"
has bg_self_review_row "$(row cfs_carol breakglass_review)" "deny|-|B$CB: cfs_carol broke the glass and cannot also review it"
no bg_approve_is_not_review gr cfs_dave approve "R$BG"
has bg_approve_is_not_review_row "$(row cfs_dave grant_approve)" "deny|-|B$BG is a break-glass: review it"
eq bg_review "$(gr cfs_dave review "B$BG" --note "checked with IC")" "break-glass B$BG reviewed"
has bg_review_row "$(row cfs_dave breakglass_review)" "allow|$GB|B$BG reviewed by cfs_dave; note: checked with IC; asked by cfs_alice for /crit/x.md"
no bg_review_twice gr cfs_carol review "B$BG"
has bg_review_twice_row "$(row cfs_carol breakglass_review)" "deny|-|B$BG is already reviewed"
eq bg_no_longer_waiting "$("$G" requests | awk -v id="B$BG" '$1 == id')" ""

# ---- 7. list and show, exactly (times masked) ----
mask() { sed -E 's/[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z/TIME/g; s/ +/ /g'; }
eq show_request "$("$G" show R2 | mask)" "id: R2
kind: request
user: cfs_alice (uid $(id -u cfs_alice))
path: /sec/plan.md
access: read-only
ttl: 30m
reason: tabletop
created: TIME
expires: TIME
approved by: cfs_dave at TIME
granted by: cfs_carol at TIME
grant: $G2
state: granted"
eq show_breakglass "$("$G" show "B$BG" | mask)" "id: B$BG
kind: break-glass
user: cfs_alice (uid $(id -u cfs_alice))
path: /crit/x.md
access: read-only
ttl: 20m
reason: sev1 outage, on-call
created: TIME
ends: TIME
reviewed by: cfs_dave at TIME
review note: checked with IC
grant: $GB
state: reviewed"
eq requests_table "$("$G" requests --all | awk '{print $1, $2, $3, $4, $5}' | sed -n '1p;/^R1 /p;/^R2 /p;/^R3 /p')" \
	"ID USER PATH RW TTL
R3 cfs_carol /sec/plan.md ro 30m
R2 cfs_alice /sec/plan.md ro 30m
R1 cfs_alice /sens/a.md ro 8h"
eq requests_states "$("$G" requests --all --json | python3 -c 'import json,sys
for r in json.load(sys.stdin):
    if r["id"] in ("R1", "R2", "R3"): print(r["id"], r["state"], "+".join(a["by"] for a in r["approvals"]))')" \
	"R3 denied 
R2 granted cfs_dave+cfs_carol
R1 granted cfs_dave"

# ---- 8. an expired request cannot be approved ----
cfs_umount
sed -i 's/^\[class.crit\]$/[grants]\nrequest_ttl = 2s\n\n[class.crit]/' "$CFG"
cfs_mount || exit 1
EX=$(gr cfs_alice request /sens/a.md --ttl 1h --reason "late")
sleep 2.5
out=$(gr cfs_dave approve "$EX" 2>&1); rc=$?
eq expired_status "$rc" 1
has expired_message "$out" "has expired"
has expired_row "$(row cfs_dave grant_approve)" "deny|-|$EX has expired undecided"
has expired_listed "$("$G" requests --all | awk -v id="$EX" '$1 == id')" "expired"
eq expired_not_waiting "$("$G" requests | awk -v id="$EX" '$1 == id')" ""

# ---- 9. break-glass alerts syslog (authpriv, alert): a /dev/log of our own ----
cfs_umount
cat >"$T/ns.sh" <<'NS'
set -u
mount -t tmpfs -o mode=755 none /dev
mknod -m 666 /dev/null c 1 3; mknod -m 666 /dev/zero c 1 5
mknod -m 666 /dev/random c 1 8; mknod -m 666 /dev/urandom c 1 9
mknod -m 666 /dev/fuse c 10 229
python3 -c 'import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.bind("/dev/log")
with open(sys.argv[1], "ab", 0) as f:
    while True: f.write(s.recv(65536) + b"\n")' "$T/syslog.txt" &
LP=$!
for _ in $(seq 1 100); do [ -S /dev/log ] && break; sleep 0.05; done
"$BIN/coachfs" -c "$CFG" "$MNT" || exit 3
setpriv --reuid=cfs_alice --regid="$(id -g cfs_alice)" --init-groups -- \
	"$BIN/coach-grant" breakglass /crit/x.md --reason "pager 77" --mount "$MNT" >"$T/bg.out" 2>&1
setpriv --reuid=cfs_alice --regid="$(id -g cfs_alice)" --init-groups -- cat "$MNT/crit/x.md" >"$T/bg.cat" 2>&1
fusermount3 -u "$MNT"
for _ in $(seq 1 100); do grep -q 'audit head' "$T/syslog.txt" 2>/dev/null && break; sleep 0.05; done
kill $LP
NS
T="$T" BIN="$BIN" CFG="$CFG" MNT="$MNT" unshare -m --propagation private bash "$T/ns.sh"
eq ns_ran "$?" 0
eq ns_read "$(cat "$T/bg.cat")" "critical runbook"
[ -n "${CFS_KEEP:-}" ] && cat "$T/syslog.txt" >&2
NB=$(pq "select max(id) from requests where kind = 2")
alert=$(grep -a 'BREAK-GLASS' "$T/syslog.txt")
# <pri>: authpriv (10) * 8 + alert (1) = 81
has syslog_alert_priority "$alert" "<81>"
has syslog_alert_text "$alert" "coachfs: BREAK-GLASS B$NB: cfs_alice (uid $(id -u cfs_alice), $BIN/coach-grant) took read access to /crit/x.md for 1200s (grant $(pq "select grant_id from requests where id = $NB")), unreviewed; reason: pager 77"
