#!/bin/bash
# Local users must not get past the class, through a real mount, as real
# throwaway users: a name the caller may not see is never replaced or
# revealed by create, mkdir, symlink or rename; unlink and rename need
# write rights on the class (audited); a symlink is decided and audited
# like a create; user.* attribute values are read like content; a role
# listed only in a class's writers keeps its write handle; derived-content
# tracking follows the thread group and its children (a reader thread and
# a writer thread, a forked child writing through an inherited descriptor);
# read rows name the process that read.
. "$(dirname "$0")/lib.sh"
cfs_users
CFS_HIDE=yes cfs_config
# scratch: everyone reads and writes (least sensitive); dropbox: responders
# may write but only admins read (between internal and sensitive)
sed -i '/^\[class.public\]/i [class.scratch]\ngrant = no\nroles = *\nwriters = *\nexport = allow\n' "$CFG"
sed -i '/^\[class.sensitive\]/i [class.dropbox]\ngrant = no\nroles = admin\nwriters = responder\nexport = deny\n' "$CFG"
cfs_init || exit 1
cfs_mount || exit 1

G=$BIN/coach-grant
unset SUDO_USER SUDO_UID
PY=/usr/bin/python3
grant() { "$G" add "$@" 2>>"$T/tools.err"; }
sql_str() { printf "'%s'" "${1//\'/\'\'}"; }
# row USER ACTION PATH — result|grant_id|reason of the newest such event
row() {
	audit_q "select result, ifnull(grant_id,'-'), reason from events where user=$(sql_str "$1")
		 and action=$(sql_str "$2") and path=$(sql_str "$3") order by id desc limit 1"
}
# errname USER PYTHON-EXPR-ON-p PATH — the errno name a call raises ("ok" if none)
errname() {
	local u=$1 code=$2 p=$3
	as "$u" "$PY" -c "import os, errno, sys
p = sys.argv[1]
try:
    $code
    print('ok')
except OSError as e:
    print(errno.errorcode[e.errno])" "$p" 2>&1
}
cls() { getfattr --absolute-names --only-values -n user.coachfs.class "$1" 2>&1; }

# ---- the tree, made by root (admin) ----
mkdir -m 777 "$MNT/pub" "$MNT/pubdir" "$MNT/sens" "$MNT/drop" "$MNT/scr"
setfattr -n user.coachfs.class -v public "$MNT/pub"
setfattr -n user.coachfs.class -v public "$MNT/pubdir"
setfattr -n user.coachfs.class -v dropbox "$MNT/drop"
setfattr -n user.coachfs.class -v scratch "$MNT/scr"
echo "hidden plan" >"$MNT/pub/secret.md"
setfattr -n user.coachfs.class -v sensitive "$MNT/pub/secret.md"
chmod 666 "$MNT/pub/secret.md"
echo "public words" >"$MNT/pubdir/p.md"
chmod 666 "$MNT/pubdir/p.md"
mkdir -m 777 "$MNT/pubdir/empty"
echo "sensitive words" >"$MNT/sens/f.md"
echo "sensitive two" >"$MNT/sens/g.md"
chmod 666 "$MNT/sens/f.md" "$MNT/sens/g.md"
setfattr -n user.note -v "case 1142 informant" "$MNT/sens/f.md"
setfattr -n user.coachfs.class -v sensitive "$MNT/sens"
gr=$(grant root /pub/secret.md --ttl 1h)
secret_intact() { [ "$(cat "$MNT/pub/secret.md" 2>&1)" = "hidden plan" ] && [ "$(cls "$MNT/pub/secret.md")" = sensitive ]; }

# ---- 1. a name the caller may not see (hide_denied = yes) ----
no hidden_not_visible as cfs_alice stat "$MNT/pub/secret.md"
has hidden_create_refused "$(as cfs_alice sh -c "echo mine >$MNT/pub/secret.md" 2>&1)" "Permission denied"
ok hidden_create_not_replaced secret_intact
eq hidden_create_audit "$(row cfs_alice create /pub/secret.md)" \
	"deny|-|the name is taken by an entry the caller may not see"
eq hidden_create_excl_eacces "$(errname cfs_alice 'os.open(p, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)' "$MNT/pub/secret.md")" EACCES
eq hidden_mkdir_eacces "$(errname cfs_alice 'os.mkdir(p)' "$MNT/pub/secret.md")" EACCES
eq hidden_symlink_eacces "$(errname cfs_alice 'os.symlink("x.md", p)' "$MNT/pub/secret.md")" EACCES
ok hidden_rename_source as cfs_alice sh -c "echo mine >$MNT/pub/mine.md"
eq hidden_rename_eacces "$(errname cfs_alice 'os.rename(p + "/mine.md", p + "/secret.md")' "$MNT/pub")" EACCES
eq hidden_rename_noreplace_eacces "$(as cfs_alice "$PY" -c 'import ctypes, errno, sys
libc = ctypes.CDLL(None, use_errno=True)
r = libc.renameat2(-100, sys.argv[1].encode(), -100, sys.argv[2].encode(), 1)  # RENAME_NOREPLACE
print("ok" if r == 0 else errno.errorcode[ctypes.get_errno()])' "$MNT/pub/mine.md" "$MNT/pub/secret.md" 2>&1)" EACCES
ok hidden_rename_not_replaced secret_intact
eq hidden_rename_source_kept "$(as cfs_alice cat "$MNT/pub/mine.md" 2>&1)" mine
has hidden_rename_audit "$(row cfs_alice rename /pub/mine.md)" "deny|-|rename onto /pub/secret.md: the name is taken"
# a visible name is answered as ever: EEXIST for O_EXCL, replaced by a rename
ok visible_create as cfs_alice sh -c "echo one >$MNT/pub/one.md && echo two >$MNT/pub/two.md"
eq visible_create_excl_eexist "$(errname cfs_alice 'os.open(p, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)' "$MNT/pub/one.md")" EEXIST
ok visible_rename_replaces as cfs_alice mv "$MNT/pub/one.md" "$MNT/pub/two.md"
eq visible_rename_content "$(as cfs_alice cat "$MNT/pub/two.md" 2>&1)" one
has visible_rename_audit "$(row cfs_alice rename /pub/one.md)" "allow|-|renamed to /pub/two.md (replacing it)"

# ---- part 2: hide_denied = no: refusals reach the daemon ----
cfs_umount
CFS_HIDE=no cfs_config
sed -i '/^\[class.public\]/i [class.scratch]\ngrant = no\nroles = *\nwriters = *\nexport = allow\n' "$CFG"
sed -i '/^\[class.sensitive\]/i [class.dropbox]\ngrant = no\nroles = admin\nwriters = responder\nexport = deny\n' "$CFG"
cfs_mount || exit 1

# rename onto a visible entry of a class the caller may not write
ok visible_noright_source as cfs_alice sh -c "echo three >$MNT/pub/three.md"
eq visible_rename_onto_unwritable "$(errname cfs_alice 'os.rename(p + "/three.md", p + "/secret.md")' "$MNT/pub")" EACCES
ok visible_rename_onto_unwritable_kept secret_intact
has visible_rename_onto_unwritable_audit "$(row cfs_alice rename /pub/secret.md)" \
	"deny|-|replace by rename from /pub/three.md: no grant for cfs_alice covers /pub/secret.md"

# ---- 2. unlink and rename need write rights on the class ----
# bob reads public (roles = *) but may not write it (writers = admin, responder)
eq unlink_reader_refused "$(errname cfs_bob 'os.unlink(p)' "$MNT/pubdir/p.md")" EACCES
eq unlink_reader_kept "$(cat "$MNT/pubdir/p.md")" "public words"
eq unlink_reader_audit "$(row cfs_bob unlink /pubdir/p.md)" \
	"deny|-|remove: no role of cfs_bob may write class public and no grant for cfs_bob covers /pubdir/p.md"
eq rename_reader_refused "$(errname cfs_bob 'os.rename(p, p + ".x")' "$MNT/pubdir/p.md")" EACCES
eq rename_reader_kept "$(cat "$MNT/pubdir/p.md")" "public words"
eq rename_reader_audit "$(row cfs_bob rename /pubdir/p.md)" \
	"deny|-|rename to /pubdir/p.md.x: no role of cfs_bob may write class public and no grant for cfs_bob covers /pubdir/p.md"
eq rmdir_reader_refused "$(errname cfs_bob 'os.rmdir(p)' "$MNT/pubdir/empty")" EACCES
ok rmdir_reader_kept test -d "$MNT/pubdir/empty"
# a read-only grant does not let alice remove a sensitive file; a --write grant does
gro=$(grant cfs_alice /sens --ttl 1h)
eq grant_read_reads "$(as cfs_alice cat "$MNT/sens/f.md" 2>&1)" "sensitive words"
eq unlink_readonly_grant_refused "$(errname cfs_alice 'os.unlink(p)' "$MNT/sens/g.md")" EACCES
eq unlink_readonly_grant_audit "$(row cfs_alice unlink /sens/g.md)" "deny|-|remove: grant $gro does not allow writing"
eq rename_readonly_grant_refused "$(errname cfs_alice 'os.rename(p, p + ".x")' "$MNT/sens/g.md")" EACCES
gwr=$(grant cfs_alice /sens/g.md --ttl 1h --write)
ok unlink_write_grant as cfs_alice rm "$MNT/sens/g.md"
no unlink_write_grant_gone test -e "$MNT/sens/g.md"
eq unlink_write_grant_audit "$(row cfs_alice unlink /sens/g.md | cut -d'|' -f1,2)" "allow|$gwr"
# a writer role removes as before
ok unlink_writer_role as cfs_alice rm "$MNT/pub/two.md"
has unlink_writer_role_audit "$(row cfs_alice unlink /pub/two.md)" "allow|-|removed; role responder may write class public"

# ---- 8. symlinks are decided and audited like a create ----
eq symlink_reader_refused "$(errname cfs_bob 'os.symlink("p.md", p)' "$MNT/pubdir/l")" EACCES
no symlink_reader_not_made test -L "$MNT/pubdir/l"
eq symlink_reader_audit "$(row cfs_bob create /pubdir/l)" \
	"deny|-|no role of cfs_bob may write class public and no grant for cfs_bob covers /pubdir/l"
ok symlink_writer as cfs_alice ln -s ../pubdir/./p.md "$MNT/pub/l"
eq symlink_writer_reads "$(as cfs_alice cat "$MNT/pub/l" 2>&1)" "public words"
eq symlink_writer_audit "$(row cfs_alice create /pub/l)" \
	"allow|-|symbolic link to /pubdir/p.md; role responder may write class public"
eq symlink_outside_refused "$(errname cfs_alice 'os.symlink("../../etc/passwd", p)' "$MNT/pub/l2")" EPERM

# ---- 5. user.* attribute values are read like content ----
has xattr_refused "$(as cfs_bob getfattr -n user.note "$MNT/sens/f.md" 2>&1)" "Permission denied"
has xattr_refused_audit "$(row cfs_bob read /sens/f.md)" \
	"deny|-|attribute user.note; no grant for cfs_bob covers /sens/f.md (class sensitive requires a grant)"
eq xattr_policy_still_readable "$(as cfs_bob getfattr --absolute-names --only-values -n user.coachfs.class "$MNT/sens/f.md" 2>&1)" sensitive
has xattr_list_refused "$(as cfs_bob getfattr -d "$MNT/sens/f.md" 2>&1)" "Permission denied"
has xattr_list_refused_audit "$(row cfs_bob read /sens/f.md)" "deny|-|attribute names (listxattr); no grant for cfs_bob"
eq xattr_granted_reads "$(as cfs_alice getfattr --absolute-names --only-values -n user.note "$MNT/sens/f.md" 2>&1)" \
	"case 1142 informant"
sleep 0.2
has xattr_granted_audit "$(row cfs_alice read /sens/f.md)" "allow|$gro|attribute user.note; grant $gro admits cfs_alice"

# ---- 6. a role listed only in writers keeps its write handle ----
ok dropbox_create as cfs_alice sh -c "echo first >$MNT/drop/report.md"
as cfs_alice "$PY" - "$MNT/drop/report.md" >"$T/drop.out" 2>&1 <<'PY'
import os, sys, time
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND)
os.write(fd, b"second\n")
time.sleep(0.6)   # past the 250 ms recheck
try:
    os.write(fd, b"third\n")
    print("later write ok")
except OSError as e:
    print("later write", e.strerror)
PY
eq writer_only_keeps_handle "$(cat "$T/drop.out")" "later write ok"
eq writer_only_content "$(cat "$MNT/drop/report.md")" "first
second
third"
has writer_only_cannot_read "$(as cfs_alice cat "$MNT/drop/report.md" 2>&1)" "Permission denied"

# ---- 3. derived content follows the process: its threads, its children ----
# (alice reads /sens under her read grant; /pub is public, which she may write)
DER=$T/derive
cp "$B/tests/derive" "$DER" && chmod 755 "$DER"
ok derive_threads_runs as cfs_alice "$DER" threads "$MNT/sens/f.md" "$MNT/pub/threads.md"
eq derive_threads_class "$(cls "$MNT/pub/threads.md")" sensitive
ok derive_forkwrite_runs as cfs_alice "$DER" forkwrite "$MNT/sens/f.md" "$MNT/pub/forkwrite.md"
eq derive_forkwrite_class "$(cls "$MNT/pub/forkwrite.md")" sensitive
has derive_forkwrite_audit "$(row cfs_alice setxattr /pub/forkwrite.md)" \
	"derived content: class public -> sensitive (the writing process read class sensitive)"
ok derive_forkread_runs as cfs_alice "$DER" forkread "$MNT/sens/f.md" "$MNT/pub/forkread.md"
eq derive_forkread_class "$(cls "$MNT/pub/forkread.md")" sensitive
has derive_forkread_audit "$(row cfs_alice create /pub/forkread.md)" "class sensitive (derived from what this process read)"
# a process that read nothing above public still writes public
ok derive_plain_runs as cfs_alice sh -c "echo plain >$MNT/pub/plain.md"
eq derive_plain_class "$(cls "$MNT/pub/plain.md")" public

# ---- 7. read rows name the process that read ----
out=$(as cfs_alice "$DER" inherit "$MNT/sens/f.md" 2>&1); echo "$out" >"$T/inherit.out"
opid=$(echo "$out" | sed -n 's/^parent //p')
rpid=$(echo "$out" | sed -n 's/^child //p')
ok reader_pids_known test -n "$opid" -a -n "$rpid"
sleep 0.2
eq reader_open_row "$(audit_q "select count(*) from events where action in ('open','replay') and path='/sens/f.md' and pid=${opid:-0}")" 1
eq reader_read_row "$(audit_q "select count(*), min(exe), min(user) from events where action='read' and path='/sens/f.md' and pid=${rpid:-0}")" \
	"1|$DER|cfs_alice"
eq reader_not_opener "$(audit_q "select count(*) from events where action='read' and path='/sens/f.md' and pid=${opid:-0}")" 0

cfs_umount
no tools_no_sanitizer_report grep -qE 'Sanitizer|runtime error:' "$T/tools.err"
