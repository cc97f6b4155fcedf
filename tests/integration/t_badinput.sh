#!/bin/bash
# Hostile and malformed input through the real programs, as a table: each
# row names the input, the exit status it must produce and a piece of the
# message it must print. Config errors always name FILE:LINE (or FILE when no
# line applies); a coachfs that refuses to start leaves nothing mounted.
# SHOW=1 prints the first line each passing row printed.
. "$(dirname "$0")/lib.sh"
cfs_users
cfs_init || exit 1
mkdir -p "$MNT"

# row NAME STATUS TEXT CMD... — CMD exits with STATUS and prints TEXT
row() {
	local n=$1 want=$2 text=$3 out rc
	shift 3
	if [ "$1" = as ]; then # lib.sh's as(), in a form timeout can run
		local u=$2
		shift 2
		set -- setpriv --reuid="$u" --regid="$(id -g "$u")" --init-groups -- "$@"
	fi
	out=$(timeout 60 "$@" 2>&1 </dev/null)
	rc=$?
	if [ "$rc" != "$want" ]; then
		fail "$n" "exit $rc, expected $want: $(echo "$out" | head -n 3 | tr '\n' ' ')"
	elif [ -n "$text" ] && case "$out" in *"$text"*) false ;; *) true ;; esac; then
		fail "$n" "'$(echo "$out" | head -c 300 | tr '\n' ' ')' does not contain '$text'"
	else
		pass "$n"
		if [ -n "${SHOW:-}" ]; then echo "  > $(echo "$out" | head -n 1)"; fi
	fi
}
# refuse NAME TEXT [CMD...] — coachfs (default: coachfs -c $CFG $MNT) refuses
# to start with exit 1 and TEXT, and nothing is mounted
refuse() {
	local n=$1 text=$2
	shift 2
	[ $# -gt 0 ] || set -- "$BIN/coachfs" -c "$CFG" "$MNT"
	row "$n" 1 "$text" "$@"
	if mountpoint -q "$MNT"; then
		fail "$n.not_mounted" "$MNT is mounted"
		fusermount3 -u "$MNT" 2>/dev/null || fusermount3 -uz "$MNT"
	else
		pass "$n.not_mounted"
	fi
}

# ---- command lines ----
G=$BIN/coach-grant
A=$BIN/coach-admin
for p in coachfs coach-admin coach-grant coach-audit; do
	row "help_$p" 0 "usage: $p" "$BIN/$p" --help
	row "version_$p" 0 "0." "$BIN/$p" --version
	row "unknown_option_$p" 2 "--bogus" "$BIN/$p" --bogus
done
row coachfs_no_mountpoint 2 "missing MOUNTPOINT" "$BIN/coachfs"
row coachfs_three_arguments 2 "too many arguments" "$BIN/coachfs" "$STORE" "$MNT" "$T"
# two arguments are STORE MOUNTPOINT (as mount(8) passes them): the first must be the store
refuse coachfs_not_the_store "$MNT: not the store $CFG names ([store] path = $STORE)" "$BIN/coachfs" "$MNT" "$T"
row coachfs_bad_config_option 2 "-o rw,,x: empty option" "$BIN/coachfs" -o "rw,,x" "$MNT"
refuse coachfs_mountpoint_missing "$T/nowhere: not a directory" "$BIN/coachfs" "$T/nowhere"
refuse coachfs_mountpoint_file "$CFG: not a directory" "$BIN/coachfs" "$CFG"
refuse coachfs_bad_fuse_option "FUSE rejected the mount options" "$BIN/coachfs" -o no_such_option "$MNT"
row admin_no_command 2 "missing command" "$A"
row admin_unknown_command 2 "unknown command 'frob'" "$A" frob
row admin_bad_kdf 2 "--kdf: expected interactive, moderate or sensitive" "$A" init --kdf fast
row admin_init_twice 1 "a store already exists" "$A" init --kdf interactive
row admin_passwd_missing_file 1 "$T/nofile" "$A" passwd --new-passphrase-file "$T/nofile"
row grant_no_command 2 "no command given" "$G"
row grant_unknown_command 2 "unknown command 'frob'" "$G" frob
row grant_add_no_args 2 "usage: coach-grant add" "$G" add
row grant_add_no_path 2 "usage: coach-grant add" "$G" add cfs_alice
row grant_add_no_ttl 2 "--ttl is required" "$G" add cfs_alice /x
row grant_ttl_missing_value 2 "--ttl" "$G" add cfs_alice /x --ttl
for d in 0s -5m 5y 15 m 1.5h "4h " " 4h" 99999999999d 1h30m ""; do
	row "grant_bad_duration_'$d'" 2 "--ttl: '$d' is not a duration" "$G" add cfs_alice /x --ttl "$d"
done
row grant_bad_start 2 "--start: 'tomorrow' is not a time" "$G" add cfs_alice /x --ttl 5m --start tomorrow
row grant_bad_start_date 2 "--start: '2026-02-31T00:00:00Z' is not a time" \
	"$G" add cfs_alice /x --ttl 5m --start 2026-02-31T00:00:00Z
row grant_bad_max_opens 2 "--max-opens: '-1' is not a number" "$G" add cfs_alice /x --ttl 5m --max-opens -1
row grant_zero_max_opens 2 "--max-opens: '0' is not a number" "$G" add cfs_alice /x --ttl 5m --max-opens 0
row grant_unknown_user 2 "unknown user 'cfs_nobody_zz'" "$G" add cfs_nobody_zz /x --ttl 5m
row grant_unknown_group 2 "unknown group 'cfs_nogroup_zz'" "$G" add @cfs_nogroup_zz /x --ttl 5m
row grant_unknown_role 2 "unknown role 'nosuch'" "$G" add role:nosuch /x --ttl 5m
row grant_relative_path 2 "'x' is not a mount-relative path" "$G" add cfs_alice x --ttl 5m
row grant_dotdot_path 2 "'/a/../b' is not a mount-relative path" "$G" add cfs_alice /a/../b --ttl 5m
row grant_trailing_slash 2 "'/a/' is not a mount-relative path" "$G" add cfs_alice /a/ --ttl 5m
row grant_revoke_no_id 2 "usage: coach-grant revoke" "$G" revoke
row grant_revoke_bad_id 2 "'abc' is not a grant id" "$G" revoke abc
row grant_revoke_negative_id 2 "'-3' is not a grant id" "$G" revoke -- -3
row grant_revoke_unknown_id 1 "no grant 999" "$G" revoke 999
row grant_show_bad_id 2 "'12x' is not a grant id" "$G" show 12x
row grant_list_user_no_value 2 "'--user' needs a value" "$G" list --user
row grant_list_extra_arg 2 "" "$G" list extra
eq no_grant_was_added "$(sqlite3 "$T/var/policy.db" 'select count(*) from grants')" 0
AU=$BIN/coach-audit
row audit_tool_no_command 2 "no command given" "$AU"
row audit_tool_unknown_command 2 "unknown command 'frob'" "$AU" frob
row audit_tool_unknown_option 2 "unknown option '--bogus'" "$AU" log --bogus
row audit_tool_bad_since 2 "--since: 'yesterday' is not a time" "$AU" log --since yesterday
row audit_tool_bad_until 2 "--until: '2026-13-01' is not a time" "$AU" log --until 2026-13-01
row audit_tool_user_no_value 2 "'--user' needs a value" "$AU" log --user
row audit_tool_bad_action 2 "--action: 'deny' is not an action; the actions are mount, unmount, open, replay, read, write, release, create, unlink, rename, export, setxattr, tamper, grant_add, grant_revoke, grant_approve, grant_request, grant_deny, breakglass, breakglass_review, link_issue, link_use, audit_query" "$AU" log --action deny
row audit_tool_bad_action_history 2 "--action: 'opens' is not an action" "$AU" history /x --action opens
row audit_tool_json_and_csv 2 "--json and --csv exclude each other" "$AU" log --json --csv
row audit_tool_history_no_path 2 "usage: coach-audit history PATH" "$AU" history
row audit_tool_bad_pubkey 2 "want 64 hex characters" "$AU" verify --pubkey zz
row audit_tool_pubkey_file_missing 2 "$T/no.pub: No such file or directory" "$AU" verify --pubkey "$T/no.pub"
row audit_tool_db_missing 1 "$T/none.db: No such file or directory" "$AU" --db "$T/none.db" log
head -c 4096 /dev/urandom >"$T/garbage.db"
row audit_tool_db_garbage 1 "$T/garbage.db: cannot read: file is not a database" "$AU" --db "$T/garbage.db" log
row audit_tool_db_garbage_verify 1 "$T/garbage.db: cannot read" "$AU" --db "$T/garbage.db" verify --pubkey "$T/var/audit.db.pub"

# ---- configuration files: every error names FILE:LINE ----
# bad_cfg NAME AFTER LINE — the good config with LINE inserted after the first
# line matching the regex AFTER; F is the file, L the inserted line's number
bad_cfg() {
	F=$T/cfg-$1.ini
	awk -v re="$2" -v ins="$3" '{ print } !done && $0 ~ re { print ins; done = 1 }' "$CFG" >"$F"
	L=$(grep -nxF -- "$3" "$F" | tail -n 1 | cut -d: -f1)
}
# sub_cfg NAME SED MATCH — the good config edited by SED; L is the line matching MATCH
sub_cfg() {
	F=$T/cfg-$1.ini
	sed "$2" "$CFG" >"$F"
	L=$(grep -n -- "$3" "$F" | head -n 1 | cut -d: -f1)
}
# cfg_rows NAME TEXT — every program refuses config $F with "F:L: TEXT"
cfg_rows() {
	local where="$F:$L: $2"
	[ -n "$L" ] || where="$F: $2"
	refuse "config_$1_coachfs" "$where" "$BIN/coachfs" -c "$F" "$MNT"
	row "config_$1_admin" 1 "$where" "$A" -c "$F" check
	row "config_$1_grant" 1 "$where" "$G" -c "$F" list
	row "config_$1_audit" 1 "$where" "$BIN/coach-audit" -c "$F" log
}
bad_cfg unknown_key '^\[mount\]' 'bogus = 1';                cfg_rows unknown_key "unknown key 'bogus' in [mount]"
bad_cfg unknown_section '^\[export\]' '[bogus]';             cfg_rows unknown_section "unknown section [bogus]"
bad_cfg no_equals '^\[policy\]' 'just some words';           cfg_rows no_equals "expected 'key = value'"
bad_cfg bad_bool '^\[mount\]' 'hide_denied = maybe';          cfg_rows bad_bool "[mount] hide_denied: 'maybe' is not yes, no"
bad_cfg flush_ms_word '^\[audit\]' 'flush_ms = abc';         cfg_rows flush_ms_word "[audit] flush_ms: 'abc' is not a number"
bad_cfg flush_ms_zero '^\[audit\]' 'flush_ms = 0';           cfg_rows flush_ms_zero "[audit] flush_ms: '0' is not a number"
bad_cfg cipher '^\[store\]' 'cipher = rot13';                cfg_rows cipher "[store] cipher: 'rot13' is not"
bad_cfg max_ttl '^\[class.sensitive\]' 'max_ttl = 5y';       cfg_rows max_ttl "[class.sensitive] max_ttl: '5y' is not a duration"
bad_cfg export '^\[class.public\]' 'export = sometimes';      cfg_rows export "[class.public] export: 'sometimes' is not allow, log or deny"
bad_cfg readers '^\[class.internal\]' 'readers = less';      cfg_rows readers "[class.internal] readers: 'less' is not an absolute path"
sub_cfg relative_store 's|^path = .*|path = relative/store|' '^path = relative/store$'
cfg_rows relative_store "[store] path: 'relative/store' is not an absolute path"
bad_cfg duplicate_key '^flush_ms' 'flush_ms = 99'
first=$(grep -n '^flush_ms = 50' "$F" | cut -d: -f1);        cfg_rows duplicate_key "duplicate key 'flush_ms' in [audit] (first at line $first)"
bad_cfg duplicate_section '^\[export\]' '[roles]';           cfg_rows duplicate_section "duplicate section [roles]"
sub_cfg unknown_role 's/^roles = responder, admin$/roles = responder, ghost/' '^roles = responder, ghost$'
cfg_rows unknown_role "[class.internal] roles: unknown role 'ghost'"
bad_cfg unknown_writer '^\[class.sensitive\]' 'writers = nobody_role'
cfg_rows unknown_writer "[class.sensitive] writers: unknown role 'nobody_role'"
sub_cfg default_class 's/^default_class = .*/default_class = topsecret/' '^default_class = topsecret$'
cfg_rows default_class "[policy] default_class: unknown class 'topsecret'"
bad_cfg bad_member '^\[roles\]' 'auditor = @'
cfg_rows bad_member "[roles] auditor: '@' is not a login name or @group"
F=$T/cfg-nul.ini; L=2; printf '[store]\npa\0th = x\n' >"$F";  cfg_rows nul "NUL byte in line"
F=$T/cfg-binary.ini; L=1; head -c 4000 /dev/urandom | tr -d '\n' >"$F"
cfg_rows binary "line too long"
F=$T/cfg-missing-key.ini; L=; grep -v '^db = .*policy.db' "$CFG" >"$F"
cfg_rows missing_key "missing required key 'db' in [policy]"
F=$T/no-such.ini; L=;                                         cfg_rows missing_file "cannot open: No such file or directory"
F=$T; L=;                                                     cfg_rows directory "cannot read: Is a directory"
F=$T/cfg-private.ini; L=; cp "$CFG" "$F"; chmod 600 "$F"
row config_unreadable_by_user 1 "$F: cannot open: Permission denied" as cfs_alice "$G" -c "$F" list
row config_from_environment 1 "$T/no-such.ini: cannot open" env COACHFS_CONFIG="$T/no-such.ini" "$G" list

# ---- the passphrase file ----
good_pass=$(cat "$PASSFILE")
: >"$PASSFILE"
refuse passphrase_empty "empty"
echo "not the passphrase" >"$PASSFILE"
refuse passphrase_wrong "wrong passphrase"
rm -f "$PASSFILE"
refuse passphrase_missing "$PASSFILE"
mkdir "$PASSFILE"
refuse passphrase_directory "$PASSFILE"
rmdir "$PASSFILE"
echo "$good_pass" >"$PASSFILE"
chmod 600 "$PASSFILE"

# ---- policy values through the mount: setfattr with a bad value is EINVAL ----
cfs_mount || exit 1
echo hello >"$MNT/f"
mkdir "$MNT/d"
chmod 666 "$MNT/f"
xrows=0
xrow() { # NAME KEY VALUE ERRNO-TEXT [TARGET]
	xrows=$((xrows + 1))
	row "xattr_$1" 1 "$4" setfattr -n "user.coachfs.$2" -v "$3" "${5:-$MNT/f}"
}
xrow unknown_class class nosuch "Invalid argument"
xrow empty_class class "" "Invalid argument"
xrow class_with_nul class 0x696e7465726e616c00 "Invalid argument"
xrow class_on_dir class nosuch "Invalid argument" "$MNT/d"
xrow export_word export maybe "Invalid argument"
xrow export_upper export ALLOW "Invalid argument"
xrow max_opens_zero max_opens 0 "Invalid argument"
xrow max_opens_negative max_opens -1 "Invalid argument"
xrow max_opens_word max_opens abc "Invalid argument"
xrow max_opens_huge max_opens 99999999999 "Invalid argument"
xrow max_opens_space max_opens " 3" "Invalid argument"
xrow readers_relative readers bin/less "Invalid argument"
xrow readers_one_relative readers "/usr/bin/less, less" "Invalid argument"
xrow readers_too_many readers "$(seq -f '/p%g' -s, 1 70)" "Invalid argument"
xrow readers_too_long readers "/$(head -c 2000 /dev/zero | tr '\0' a)" "Invalid argument"
xrow unknown_policy_key frobnicate 1 "Invalid argument"
row xattr_not_user_namespace 1 "Operation not supported" setfattr -n trusted.x -v 1 "$MNT/f"
row xattr_policy_by_non_admin 1 "Operation not permitted" as cfs_alice setfattr -n user.coachfs.class -v public "$MNT/f"
eq xattr_class_unchanged "$(getfattr --only-values -n user.coachfs.class "$MNT/f" 2>/dev/null)" "${CFS_DEFAULT_CLASS:-internal}"
eq xattr_export_unchanged "$(getfattr --only-values -n user.coachfs.export "$MNT/f" 2>/dev/null)" log
no xattr_max_opens_unset getfattr --only-values -n user.coachfs.max_opens "$MNT/f"
eq xattr_refusals_audited "$(audit_q "select count(*) from events where action = 'setxattr' and result = 'deny'")" $((xrows + 1))
row xattr_good_value_accepted 0 "" setfattr -n user.coachfs.max_opens -v 3 "$MNT/f"
setfattr -x user.coachfs.max_opens "$MNT/f"
# a sensitive file bob may open 5 times (open counts live in policy.db)
echo secret >"$MNT/sfile"
chmod 644 "$MNT/sfile"
setfattr -n user.coachfs.class -v sensitive "$MNT/sfile"
"$G" add cfs_bob /sfile --ttl 1h --max-opens 5 >/dev/null
cfs_umount

# ---- a database locked while mounted: the operation is refused (fail closed) ----
CFS_FG=1 cfs_mount || exit 1
row served_before_lock 0 hello as cfs_alice cat "$MNT/f"
# a second daemon for the same integrity record is refused, at another
# mount point or stacked on this one, and says who holds it
mkdir -p "$T/mnt2"
row second_daemon_refused 1 "is held by another coachfs daemon (pid $DAEMON_PID)" \
	"$BIN/coachfs" -c "$CFG" "$T/mnt2"
no second_daemon_not_mounted mountpoint -q "$T/mnt2"
row stacked_daemon_refused 1 "one daemon serves a store on a host" "$BIN/coachfs" -c "$CFG" "$MNT"
eq stacked_daemon_not_stacked "$(awk -v m="$MNT" '$2 == m' /proc/self/mounts | wc -l)" 1
row counted_before_lock 0 secret as cfs_bob cat "$MNT/sfile"
setfattr -n user.coachfs.export -v allow "$MNT/f"
db_lock "$T/var/audit.db"
row audit_locked_open_refused 1 "Permission denied" as cfs_alice cat "$MNT/f"
# a policy change that cannot be recorded does not stand
row audit_locked_setxattr_refused 1 "$MNT/f" setfattr -n user.coachfs.export -v deny "$MNT/f"
row audit_locked_removexattr_refused 1 "$MNT/f" setfattr -x user.coachfs.export "$MNT/f"
db_unlock
row audit_unlocked_open_served 0 hello as cfs_alice cat "$MNT/f"
eq audit_locked_export_unchanged "$(getfattr --only-values -n user.coachfs.export "$MNT/f" 2>/dev/null)" allow
eq audit_locked_no_change_recorded "$(audit_q "select count(*) from events where action = 'setxattr' and path = '/f' and reason like '%-> deny%'")" 0
has audit_locked_logged "$(cat "$T/daemon.err")" "database is locked"
db_lock "$T/var/policy.db"
row policy_locked_uncounted_open_served 0 hello as cfs_alice cat "$MNT/f"
row policy_locked_counted_open_refused 1 "Permission denied" as cfs_bob cat "$MNT/sfile"
db_unlock
row policy_unlocked_counted_open_served 0 secret as cfs_bob cat "$MNT/sfile"
has policy_locked_reason "$(audit_q "select reason from events where user = 'cfs_bob' and path = '/sfile' and result = 'deny'")" "cannot count the open"
cfs_umount
# the daemon's lock goes with it
ok lock_released_on_unmount "$BIN/coachfs" -c "$CFG" "$T/mnt2"
fusermount3 -u "$T/mnt2"

# ---- the store header ----
H=$STORE/coachfs.hdr
cp "$H" "$T/hdr.good"
printf '\x03\x00' | dd of="$H" bs=1 seek=8 conv=notrunc status=none
refuse header_newer_version "store format version 3 is newer than this coachfs supports"
row header_newer_admin 1 "newer" "$A" check
cp "$T/hdr.good" "$H"; printf '\xff\xff' | dd of="$H" bs=1 seek=8 conv=notrunc status=none
refuse header_version_65535 "newer"
cp "$T/hdr.good" "$H"; printf '\x00\x00' | dd of="$H" bs=1 seek=8 conv=notrunc status=none
refuse header_version_0 "$H"
cp "$T/hdr.good" "$H"; truncate -s 100 "$H"
refuse header_truncated "store header is 100 bytes, expected 512"
: >"$H"
refuse header_empty "store header is 0 bytes, expected 512 (truncated)"
cp "$T/hdr.good" "$H"; printf 'XOACHFS' | dd of="$H" bs=1 seek=0 conv=notrunc status=none
refuse header_bad_magic "not a coachfs store header"
cp "$T/hdr.good" "$H"; head -c 100 /dev/urandom >>"$H"
refuse header_padded "expected 512"
rm -f "$H"
refuse header_missing "$H: No such file or directory"
mkdir "$H"
refuse header_directory "$H"
rmdir "$H"
cp "$T/hdr.good" "$H"
mv "$STORE/tree" "$STORE/tree.away"
refuse store_tree_missing "$STORE/tree"
mv "$STORE/tree.away" "$STORE/tree"

# ---- the databases: corrupt, missing, locked ----
for db in policy audit; do
	P=$T/var/$db.db
	cp "$P" "$T/$db.good"
	head -c 8192 /dev/urandom >"$P"
	refuse "${db}_db_garbage" "$P"
	head -c 8192 /dev/urandom >"$P"
	refuse "${db}_db_garbage_says_not_a_database" "not a database"
	# a real SQLite file with its pages scrambled after the header
	cp "$T/$db.good" "$P"
	python3 - "$P" <<'PY'
import sys
p = sys.argv[1]
b = bytearray(open(p, 'rb').read())
for i in range(100, len(b), 7):
    b[i] ^= 0x5a
open(p, 'wb').write(b)
PY
	refuse "${db}_db_scrambled" "malformed"
	rm -f "$P"
	refuse "${db}_db_missing" "$P"
	refuse "${db}_db_missing_says_so" "No such file or directory"
	no "${db}_db_not_recreated" test -e "$P"
	mkdir "$P"
	refuse "${db}_db_directory" "$P"
	rmdir "$P"
	cp "$T/$db.good" "$P"
	# a writer holding the database: coachfs gives up after its busy timeout
	db_lock "$P"
	refuse "${db}_db_locked" "database is locked"
	db_unlock
done
# coach-grant on the same faults
P=$T/var/policy.db
head -c 8192 /dev/urandom >"$P"
row grant_list_garbage_policy_db 1 "$P" "$G" list
row grant_add_garbage_policy_db 1 "$P" "$G" add cfs_alice /x --ttl 5m
rm -f "$P"
row grant_list_missing_policy_db 1 "$P" "$G" list
no grant_missing_policy_db_not_created test -e "$P"
cp "$T/policy.good" "$P"
P=$T/var/audit.db
head -c 8192 /dev/urandom >"$P"
row grant_add_garbage_audit_db 1 "$P" "$G" add cfs_alice /x --ttl 5m
eq grant_not_added_unaudited "$(sqlite3 "$T/var/policy.db" "select count(*) from grants where subject = 'cfs_alice'")" 0
cp "$T/audit.good" "$P"

# and after all that, the untouched originals still mount and work
cfs_mount || exit 1
eq mounts_again "$(cat "$MNT/f")" hello
cfs_umount
# the unmount sealed the log: it verifies, but not under another key
row audit_tool_verifies 0 "audit log verified" "$AU" verify
row audit_tool_wrong_pubkey 1 "" "$AU" verify --pubkey "$(printf '%064d' 0)"
