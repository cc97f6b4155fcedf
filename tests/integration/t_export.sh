#!/bin/bash
# Copy-out and export through a real mount, as throwaway users: the policy
# attributes (admin only, validated, audited old -> new), effective values
# inherited from directories, export by tool and by copy_file_range, reader
# allow-lists, write flags under a read-only grant, derived content, rename
# never downgrading, and `coach-admin policy`.
. "$(dirname "$0")/lib.sh"
cfs_users
cfs_init || exit 1
cfs_mount || exit 1

X=user.coachfs
PY=/usr/bin/python3
OUT=$T/out
mkdir -m 1777 "$OUT"
# effective value of one policy attribute (what getfattr shows)
gx() { getfattr --absolute-names --only-values -n "$X.$2" "$1" 2>&1; }
# newest audit row "result|exe|reason" of ACTION on PATH [by USER]
row() {
	audit_q "SELECT result, exe, reason FROM events WHERE action = '$1' AND path = '$2'
		${3:+AND user = '$3'} ORDER BY id DESC LIMIT 1"
}
nrows() { audit_q "SELECT count(*) FROM events WHERE action = '$1' AND path = '$2'"; }
grant() { "$BIN/coach-grant" -c "$CFG" add "$@" >/dev/null; }

# The layout, written by root while everything is still the default class.
for d in pol inh pub int sens sec pubnew; do mkdir -m 777 "$MNT/$d"; done
for f in pol/f pol/a inh/f pub/existing int/r; do echo "$f data" >"$MNT/$f"; chmod 666 "$MNT/$f"; done
mkdir -m 777 "$MNT/pol/d" "$MNT/pol/da" "$MNT/inh/sub"
echo "inner" >"$MNT/pol/d/inner"
echo "nested" >"$MNT/inh/sub/g"
for f in s1 s2 w r1; do echo "sensitive $f content" >"$MNT/sens/$f"; done
chmod 666 "$MNT/sens/w"
mkdir -m 777 "$MNT/sens/rd"; echo "in a sensitive folder" >"$MNT/sens/rd/f"
head -c 5000 /dev/urandom | base64 >"$T/secx.ref"; cat "$T/secx.ref" >"$MNT/sec/x"
grant cfs_alice /sens --ttl 1h
# two-person class: named approver cfs_dave (an admin) confirms as himself
gsec=$("$BIN/coach-grant" -c "$CFG" add cfs_alice /sec --ttl 30m --approved-by cfs_dave 2>/dev/null)
approve "$gsec" >/dev/null || fail approve_sec_grant "cfs_dave could not approve grant $gsec"

## 1. Setting each attribute: admin only, validated, audited.
eq default_class_file "$(gx "$MNT/pol/f" class)" internal
eq default_export_from_class "$(gx "$MNT/pol/f" export)" log
for t in f d; do
	p=$MNT/pol/$t
	ok "set_class_$t" setfattr -n $X.class -v secret "$p"
	ok "set_export_$t" setfattr -n $X.export -v deny "$p"
	ok "set_readers_$t" setfattr -n $X.readers -v "/usr/bin/less, /usr/bin/head" "$p"
	ok "set_max_opens_$t" setfattr -n $X.max_opens -v 5 "$p"
	eq "get_class_$t" "$(gx "$p" class)" secret
	eq "get_export_$t" "$(gx "$p" export)" deny
	eq "get_readers_$t" "$(gx "$p" readers)" /usr/bin/less,/usr/bin/head
	eq "get_max_opens_$t" "$(gx "$p" max_opens)" 5
done
has set_audited_old_new "$(row setxattr /pol/f root)" "allow|"
has set_audited_reason "$(audit_q "SELECT reason FROM events WHERE action='setxattr' AND path='/pol/f' ORDER BY id LIMIT 1")" \
	"user.coachfs.class: (none) -> secret"
eq dir_values_reach_inside "$(gx "$MNT/pol/d/inner" class)/$(gx "$MNT/pol/d/inner" export)/$(gx "$MNT/pol/d/inner" max_opens)" secret/deny/5
ok replace_value setfattr -n $X.max_opens -v 7 "$MNT/pol/f"
has replace_audited "$(row setxattr /pol/f)" "user.coachfs.max_opens: 5 -> 7"

# A non-admin is refused with EPERM and a deny row, even on a file (0666)
# and a directory (0777) the kernel lets them write; a member of the admin
# group (cfs_dave) may.
for k in class:public export:allow readers:/usr/bin/cat max_opens:9; do
	key=${k%%:*} val=${k#*:}
	has "nonadmin_set_${key}_file" "$(err_of as cfs_alice setfattr -n $X.$key -v "$val" "$MNT/pol/a")" "Operation not permitted"
	has "nonadmin_set_${key}_dir" "$(err_of as cfs_alice setfattr -n $X.$key -v "$val" "$MNT/pol/da")" "Operation not permitted"
	has "nonadmin_row_${key}" "$(row setxattr /pol/a cfs_alice)" "deny|/usr/bin/setfattr|set $X.$key: only the admin role"
done
has nonadmin_remove "$(err_of as cfs_alice setfattr -x $X.class "$MNT/pol/da")" "Operation not permitted"
has nonadmin_remove_row "$(row setxattr /pol/da cfs_alice)" "deny|"
eq nonadmin_nothing_changed "$(gx "$MNT/pol/a" class)/$(gx "$MNT/pol/a" export)/$(gx "$MNT/pol/da" class)/$(gx "$MNT/pol/d" class)" internal/log/internal/secret
# Without write permission the kernel refuses first (EACCES, before the
# daemon sees it, so no row): still refused, still unchanged.
echo ro >"$MNT/pol/ro"; chmod 644 "$MNT/pol/ro"
has nonadmin_readonly_file "$(err_of as cfs_alice setfattr -n $X.class -v public "$MNT/pol/ro")" "Permission denied"
eq nonadmin_readonly_unchanged "$(gx "$MNT/pol/ro" class)" internal
ok admin_group_member_may as cfs_dave setfattr -n $X.export -v allow "$MNT/pol/a"
eq admin_group_member_set "$(gx "$MNT/pol/a" export)" allow
ok user_attr_still_free as cfs_alice setfattr -n user.note -v hi "$MNT/pol/a"

# Invalid values: EINVAL, audited, nothing changed.
before=$(getfattr -d -m - "$MNT/pol/f" 2>&1)
for kv in class=nosuch class= export=maybe export=ALLOW readers=usr/bin/less "readers=/usr/bin/less,head" \
	max_opens=-1 max_opens=0 max_opens=abc max_opens=1x colour=red; do
	key=${kv%%=*} val=${kv#*=}
	has "invalid_${key}_${val//\//_}" "$(err_of setfattr -n $X.$key -v "$val" "$MNT/pol/f")" "Invalid argument"
done
eq invalid_nothing_changed "$(getfattr -d -m - "$MNT/pol/f" 2>&1)" "$before"
has invalid_audited "$(row setxattr /pol/f)" "deny|/usr/bin/setfattr|set $X.colour refused"
has invalid_reason_class "$(audit_q "SELECT reason FROM events WHERE action='setxattr' AND path='/pol/f' AND reason LIKE '%nosuch%'")" "unknown class 'nosuch'"

## 2. Effective values are inherited from the nearest classified directory.
eq inherit_none_default "$(gx "$MNT/inh/f" class)" internal
setfattr -n $X.class -v public "$MNT/inh"
eq inherit_from_dir "$(gx "$MNT/inh/f" class)" public
eq inherit_from_grandparent "$(gx "$MNT/inh/sub/g" class)" public
setfattr -n $X.class -v secret "$MNT/inh/sub"
eq inherit_nearest "$(gx "$MNT/inh/sub/g" class)/$(gx "$MNT/inh/f" class)" secret/public
eq inherit_class_rules "$(gx "$MNT/inh/sub/g" readers)/$(gx "$MNT/inh/sub/g" max_opens)" /usr/bin/less,/usr/bin/head/3
setfattr -x $X.class "$MNT/inh/sub"
eq inherit_revert_one "$(gx "$MNT/inh/sub/g" class)" public
setfattr -x $X.class "$MNT/inh"
eq inherit_revert_default "$(gx "$MNT/inh/f" class)/$(gx "$MNT/inh/sub/g" class)" internal/internal
has remove_absent "$(err_of setfattr -x $X.class "$MNT/inh")" "No such attribute"

# Classify the folders used below.
setfattr -n $X.class -v public "$MNT/pub"
setfattr -n $X.class -v sensitive "$MNT/sens"
setfattr -n $X.class -v secret "$MNT/sec"
setfattr -n $X.class -v public "$MNT/pubnew"
eq classified_sens "$(gx "$MNT/sens/s1" class)/$(gx "$MNT/sens/s1" export)" sensitive/deny

## 3. Export tools: deny refuses, log flags, cat is an ordinary open.
setfattr -n $X.export -v log "$MNT/sens/s2"
exp1() { # NAME TOOL-COMMAND... (as alice); the source is the last argument's file
	local n=$1; shift
	has "export_deny_$n" "$(err_of as cfs_alice "$@")" "Permission denied"
}
exp1 cp cp "$MNT/sens/s1" "$OUT/s1.cp"
has export_deny_cp_row "$(row export /sens/s1)" "deny|/usr/bin/cp|export of /sens/s1 by /usr/bin/cp denied"
exp1 tar tar -cf "$OUT/s1.tar" -C "$MNT/sens" s1
has export_deny_tar_row "$(row export /sens/s1)" "deny|/usr/bin/tar|"
exp1 dd dd if="$MNT/sens/s1" of="$OUT/s1.dd" status=none
has export_deny_dd_row "$(row export /sens/s1)" "deny|/usr/bin/dd|"
no export_deny_nothing_out test -s "$OUT/s1.cp"
ok export_log_cp as cfs_alice cp "$MNT/sens/s2" "$OUT/s2.cp"
has export_log_cp_row "$(row export /sens/s2)" "flag|/usr/bin/cp|export by /usr/bin/cp flagged"
eq export_log_cp_content "$(cat "$OUT/s2.cp")" "sensitive s2 content"
ok export_log_tar as cfs_alice tar -cf "$OUT/s2.tar" -C "$MNT/sens" s2
has export_log_tar_row "$(row export /sens/s2)" "flag|/usr/bin/tar|"
eq export_log_tar_content "$(tar -xOf "$OUT/s2.tar" s2)" "sensitive s2 content"
ok export_log_dd as cfs_alice dd if="$MNT/sens/s2" of="$OUT/s2.dd" status=none
has export_log_dd_row "$(row export /sens/s2)" "flag|/usr/bin/dd|"
n0=$(nrows export /sens/s1)
eq cat_not_export "$(as cfs_alice cat "$MNT/sens/s1")" "sensitive s1 content"
has cat_open_row "$(audit_q "SELECT action, result, exe FROM events WHERE path='/sens/s1' AND action IN ('open','replay','export') ORDER BY id DESC LIMIT 1")" "allow|/usr/bin/cat"
eq cat_no_export_row "$(nrows export /sens/s1)" "$n0"
ok export_allow_cp as cfs_alice cp "$MNT/pol/a" "$OUT/a.cp"   # export allow, set by dave
has export_allow_row "$(row export /pol/a)" "allow|/usr/bin/cp|export by /usr/bin/cp allowed"
ok export_internal_flag as cfs_alice cp "$MNT/int/r" "$OUT/r.cp"
has export_internal_flag_row "$(row export /int/r)" "flag|/usr/bin/cp|"
has export_uncleared_denied "$(err_of as cfs_carol cp "$MNT/sens/s2" "$OUT/c.cp")" "No such file"

## 4. Reader allow-lists.
has readers_cat_refused "$(err_of as cfs_alice cat "$MNT/sec/x")" "Permission denied"
has readers_deny_row "$(row open /sec/x)" "deny|/usr/bin/cat|program /usr/bin/cat is not an allowed reader of /sec/x (class secret)"
eq readers_head_admitted "$(as cfs_alice head -c 20 "$MNT/sec/x")" "$(head -c 20 "$T/secx.ref")"
ok readers_less_admitted cmp <(as cfs_alice env LESS=-F less "$MNT/sec/x") "$T/secx.ref"
ok readers_third_open as cfs_alice head -c 1 "$MNT/sec/x"
has max_opens_class_spent "$(err_of as cfs_alice head -c 1 "$MNT/sec/x")" "Permission denied"
has max_opens_row "$(row open /sec/x)" "has used its 3 opens"
setfattr -n $X.readers -v /usr/bin/head "$MNT/int/r"
has readers_attr_cat "$(err_of as cfs_alice cat "$MNT/int/r")" "Permission denied"
eq readers_attr_head "$(as cfs_alice head -n 1 "$MNT/int/r")" "int/r data"
setfattr -n $X.max_opens -v 1 "$MNT/sens/s1"
ok max_opens_attr_first as cfs_alice head -c 1 "$MNT/sens/s1"
has max_opens_attr_second "$(err_of as cfs_alice head -c 1 "$MNT/sens/s1")" "Permission denied"
setfattr -x $X.max_opens "$MNT/sens/s1"

## 5. copy_file_range is an export, whatever the program.
cfr() { # SRC DST: open DST (create), then SRC, then copy_file_range
	as cfs_alice $PY -c '
import os, sys
d = os.open(sys.argv[2], os.O_WRONLY | os.O_CREAT, 0o644)
s = os.open(sys.argv[1], os.O_RDONLY)
try:
    n = os.copy_file_range(s, d, 1 << 20)
except OSError as e:
    print(os.strerror(e.errno)); sys.exit(1)
print(n)' "$1" "$2"
}
has cfr_deny "$(cfr "$MNT/sens/s1" "$MNT/pub/c1")" "Permission denied"
has cfr_deny_row "$(row export /sens/s1)" "deny|/usr/bin/python3.11|copy_file_range to /pub/c1: export rule deny"
eq cfr_deny_nothing_copied "$(stat -c %s "$MNT/pub/c1")" 0
eq cfr_log "$(cfr "$MNT/sens/s2" "$MNT/pub/c2")" 21
has cfr_log_row "$(row export /sens/s2)" "flag|/usr/bin/python3.11|copy_file_range to /pub/c2: export rule log"
eq cfr_copy_class "$(gx "$MNT/pub/c2" class)" sensitive
has cfr_copy_uncleared "$(err_of as cfs_carol cat "$MNT/pub/c2")" "No such file"
eq cfr_public_to_public "$(cfr "$MNT/pub/existing" "$MNT/pub/c3")" 18
has cfr_allow_row "$(row export /pub/existing)" "allow|/usr/bin/python3.11|copy_file_range to /pub/c3: export rule allow"
eq cfr_public_stays_public "$(gx "$MNT/pub/c3" class)" public

## 6. Write flags need write rights, whatever the mode bits.
eq wflag_mode "$(stat -c %a "$MNT/sens/w")" 666
for fl in O_WRONLY O_RDWR O_RDONLY\|O_APPEND O_WRONLY\|O_APPEND O_RDONLY\|O_TRUNC O_WRONLY\|O_TRUNC; do
	has "wflag_${fl//|/_}" "$(as cfs_alice $PY -c "
import os, sys
try:
    os.close(os.open(sys.argv[1], os.$(echo "$fl" | sed 's/|/ | os./')))
    print('opened')
except OSError as e:
    print(os.strerror(e.errno))" "$MNT/sens/w")" "Permission denied"
done
eq wflag_unchanged "$(as cfs_alice cat "$MNT/sens/w")" "sensitive w content"
has wflag_row "$(audit_q "SELECT result, reason FROM events WHERE action='open' AND path='/sens/w' AND result='deny' ORDER BY id DESC LIMIT 1")" "does not allow writing"
has wflag_truncate_path "$(err_of as cfs_alice truncate -s 0 "$MNT/sens/w")" "Permission denied"
eq wflag_unchanged_after "$(stat -c %s "$MNT/sens/w")" 20

## 7. Derived content: one process that read sensitive material writes at sensitive.
ok derived_write as cfs_alice sh -c "read l <'$MNT/sens/s2'; echo \"note: \$l\" >'$MNT/pub/derived'; echo \"\$l\" >'$MNT/int/derived'; echo more >>'$MNT/pub/existing'"
eq derived_class_pub "$(gx "$MNT/pub/derived" class)" sensitive
eq derived_class_int "$(gx "$MNT/int/derived" class)" sensitive
eq derived_class_existing "$(gx "$MNT/pub/existing" class)" sensitive
has derived_create_row "$(row create /pub/derived)" "derived from what this process read"
has derived_uncleared "$(err_of as cfs_carol cat "$MNT/pub/derived")" "No such file"
has derived_uncleared_int "$(err_of as cfs_carol cat "$MNT/int/derived")" "No such file"
ok derived_slow_writer as cfs_alice sh -c "read l <'$MNT/sens/s2'; exec 3>'$MNT/int/slow'; echo a >&3; sleep 0.4; echo b >&3"
eq derived_slow_class "$(gx "$MNT/int/slow" class)" sensitive
ok plain_write as cfs_alice sh -c "read l <'$MNT/pub/c3'; echo plain >'$MNT/pub/plain'; echo plain >'$MNT/int/plain'"
eq plain_class_pub "$(gx "$MNT/pub/plain" class)" public
eq plain_class_int "$(gx "$MNT/int/plain" class)" internal
eq plain_readable "$(as cfs_carol cat "$MNT/pub/plain")" plain
eq plain_readable_contractor "$(as cfs_bob cat "$MNT/pub/plain")" plain

## 8. Rename never downgrades.
mv "$MNT/sens/r1" "$MNT/pub/r1"
eq rename_file_keeps "$(gx "$MNT/pub/r1" class)" sensitive
has rename_file_row "$(row setxattr /sens/r1)" "rename to /pub/r1 keeps class sensitive"
has rename_file_uncleared "$(err_of as cfs_carol cat "$MNT/pub/r1")" "No such file"
mv "$MNT/sens/rd" "$MNT/pub/rd"
eq rename_dir_keeps "$(gx "$MNT/pub/rd" class)/$(gx "$MNT/pub/rd/f" class)" sensitive/sensitive
has rename_dir_uncleared "$(err_of as cfs_carol cat "$MNT/pub/rd/f")" "No such file"
mv "$MNT/pub/plain" "$MNT/sens/plain"
eq rename_up_inherits "$(gx "$MNT/sens/plain" class)" sensitive
mv "$MNT/sens/plain" "$MNT/int/plain2"
eq rename_up_then_down_keeps "$(gx "$MNT/int/plain2" class)" sensitive

## 9. A new entry in a classified folder inherits; nothing is written on it.
echo new >"$MNT/pubnew/n"
mkdir "$MNT/pubnew/sub"
eq new_inherits "$(gx "$MNT/pubnew/n" class)/$(gx "$MNT/pubnew/sub" class)" public/public
setfattr -x $X.class "$MNT/pubnew"
eq new_has_no_own "$(gx "$MNT/pubnew/n" class)/$(gx "$MNT/pubnew/sub" class)" internal/internal

## 10. coach-admin policy, through the running mount.
CA="$BIN/coach-admin -c $CFG"
mkdir -m 777 "$MNT/cap"; echo cap >"$MNT/cap/f"; chmod 666 "$MNT/cap/f"
ok ca_set $CA policy set /cap class secret
eq ca_set_seen "$(gx "$MNT/cap" class)/$(gx "$MNT/cap/f" class)" secret/secret
eq ca_get_key "$($CA policy get /cap/f class)" secret
eq ca_get_all "$($CA policy get /cap/f)" "$(printf 'class=secret\nexport=deny\nreaders=/usr/bin/less,/usr/bin/head\nmax_opens=3')"
ok ca_set_relative $CA policy set cap/f max_opens 2
eq ca_get_relative "$($CA policy get cap/f max_opens)" 2
has ca_set_audited "$(row setxattr /cap/f root)" "allow|$BIN/coach-admin|user.coachfs.max_opens: (none) -> 2"
ok ca_unset $CA policy unset /cap class
eq ca_unset_seen "$($CA policy get /cap/f class)" internal
eq ca_get_empty "$($CA policy get /cap readers)" ""
ok ca_mount_option $CA policy --mount "$MNT" set /cap/f export allow
eq ca_mount_option_seen "$(gx "$MNT/cap/f" export)" allow
out=$($CA policy set /cap/f colour red 2>&1); rc=$?
eq ca_unknown_key_status "$rc" 2
has ca_unknown_key_msg "$out" "unknown policy key 'colour'"
out=$($CA policy set /cap/f class nosuch 2>&1); rc=$?
eq ca_invalid_status "$rc" 1
has ca_invalid_msg "$out" "/cap/f: class: unknown class 'nosuch'"
out=$($CA policy set /cap/f max_opens 0 2>&1)
has ca_invalid_max_opens "$out" "/cap/f: max_opens: max_opens must be a number from 1 to 1000000, not '0'"
out=$(as cfs_alice $CA policy --mount "$MNT" set /cap/f class public 2>&1); rc=$?
eq ca_nonadmin_status "$rc" 1
has ca_nonadmin_msg "$out" "/cap/f: class: only the admin role may change policy"
has ca_nonadmin_row "$(row setxattr /cap/f cfs_alice)" "deny|$BIN/coach-admin|"
eq ca_nonadmin_unchanged "$(gx "$MNT/cap/f" class)" internal
has ca_missing "$($CA policy get /cap/nothere class 2>&1)" "/cap/nothere: no such file or directory in the mount"
has ca_unset_absent "$($CA policy unset /cap class 2>&1)" "/cap has no class of its own"
no ca_absolute_symlink_refused as cfs_alice ln -s /etc "$MNT/pub/etc"
as cfs_alice ln -s ../cap "$MNT/pub/capl"
has ca_symlink_refused "$($CA policy set /pub/capl/f class public 2>&1)" "symbolic link"
no ca_symlink_nothing_set getfattr -n $X.class /etc/passwd
has ca_dotdot "$($CA policy get /cap/../.. class 2>&1)" "not a canonical mount path"
out=$($CA policy set /cap 2>&1); rc=$?
eq ca_usage_status "$rc" 2
cp "$T/var/policy.db" "$T/policy.bak"
sqlite3 "$T/var/policy.db" "DELETE FROM meta WHERE key = 'mountpoint'"
out=$($CA policy get /cap class 2>&1); rc=$?
eq ca_no_mount_status "$rc" 1
has ca_no_mount_msg "$out" "no mount recorded"
sqlite3 "$T/var/policy.db" "INSERT INTO meta(key, value) VALUES('mountpoint', '$MNT')"
eq ca_mount_restored "$($CA policy get /cap/f export)" allow

## The audit chain still verifies after all of this.
dpid=$DAEMON_PID
cfs_umount
has ca_not_mounted "$($CA policy get /cap class 2>&1)" "is not a mounted coachfs"
if [ -x "$BIN/coach-audit" ]; then ok audit_verify "$BIN/coach-audit" -c "$CFG" verify; fi
if [ -n "${CFS_FG:-}" ]; then
	# a foreground daemon is our child: wait for its exit (and leak report)
	[ -n "$dpid" ] && wait "$dpid"
	no daemon_sanitizer_clean grep -Eq 'Sanitizer|runtime error' "$T/daemon.err"
fi
