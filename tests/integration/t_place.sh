#!/bin/bash
# A writer to the ciphertext share (store unmounted, tree edited, store
# mounted again) must not downgrade, move, swap or roll back anything:
# each attack is EIO through the mount, a `tamper` row, and a BAD line from
# `coach-admin check`. Renames, directories and writes made through the
# mount keep working across remounts.
. "$(dirname "$0")/lib.sh"
cfs_users
cfs_init || exit 1
cfs_mount || exit 1
S=$STORE/tree

mkdir "$MNT/cls" "$MNT/pub" "$MNT/other"
echo "inherits secret" >"$MNT/cls/inherit.md"
echo "the other folder" >"$MNT/other/o.md"
setfattr -n user.coachfs.class -v secret "$MNT/cls"
setfattr -n user.coachfs.class -v public "$MNT/pub"
setfattr -n user.coachfs.class -v sensitive "$MNT/other"
echo "file a" >"$MNT/a.txt"
echo "file b" >"$MNT/b.txt"
echo "public note" >"$MNT/pub/p.md"
echo "version one" >"$MNT/roll.md"
echo "content one" >"$MNT/body.md"
eq class_inherited "$(getfattr --only-values -n user.coachfs.class "$MNT/cls/inherit.md")" secret
ok every_dir_has_sidecar test -f "$S/.coachfs-dir" -a -f "$S/cls/.coachfs-dir" -a -f "$S/pub/.coachfs-dir"
ok bob_reads_public as cfs_bob cat "$MNT/pub/p.md"
# renames through the mount, then a remount: all still readable
mkdir -p "$MNT/mv/sub"; echo "moved file" >"$MNT/mv/sub/f.md"; echo "x1" >"$MNT/x1"; echo "x2" >"$MNT/x2"
ok rename_file_in_mount mv "$MNT/mv/sub/f.md" "$MNT/mv/g.md"
ok rename_dir_in_mount mv "$MNT/mv/sub" "$MNT/pub/sub2"
ok rename_exchange_in_mount python3 -c "
import ctypes, sys
libc = ctypes.CDLL(None, use_errno=True)
sys.exit(0 if libc.renameat2(-100, b'$MNT/x1', -100, b'$MNT/x2', 2) == 0 else 1)"
echo "still here" >"$MNT/pub/sub2/h.md"
# rollback material: old copies taken while unmounted, then changed through the mount
cfs_umount
cp -a "$S/roll.md" "$T/roll.v1"
cp -a "$S/body.md" "$T/body.v1"
cp -a "$S/cls/.coachfs-dir" "$T/cls.sidecar.v1"
cfs_mount || exit 1
setfattr -n user.coachfs.class -v secret "$MNT/roll.md"
echo "content two" >"$MNT/body.md"
setfattr -n user.coachfs.export -v allow "$MNT/cls"
cfs_umount
ok check_clean_before "$BIN/coach-admin" -c "$CFG" check
cfs_mount || exit 1
eq renamed_file_reads "$(cat "$MNT/mv/g.md")" "moved file"
eq renamed_dir_child_reads "$(cat "$MNT/pub/sub2/h.md")" "still here"
eq exchanged "$(cat "$MNT/x1")$(cat "$MNT/x2")" x2x1
cfs_umount

# --- the attacks, each on the unmounted store ---
cp -a "$S/cls/.coachfs-dir" "$T/cls.sidecar"
rm "$S/cls/.coachfs-dir"                                      # 1: delete a sidecar
cfs_mount || exit 1
has sidecar_deleted_eio "$(err_of cat "$MNT/cls/inherit.md")" "Input/output error"
has sidecar_deleted_no_downgrade "$(err_of getfattr -n user.coachfs.class "$MNT/cls/inherit.md")" "Input/output error"
cfs_umount
eq sidecar_deleted_tamper_row "$(audit_q "SELECT count(*) > 0 FROM events WHERE action = 'tamper' AND path LIKE '/cls%'")" 1
out=$("$BIN/coach-admin" -c "$CFG" check 2>&1)
has check_sidecar_deleted "$out" "BAD /cls: directory has no sidecar"

cp "$S/other/.coachfs-dir" "$S/cls/.coachfs-dir"              # 1: another directory's sidecar
cfs_mount || exit 1
has sidecar_copied_eio "$(err_of cat "$MNT/cls/inherit.md")" "Input/output error"
cfs_umount
out=$("$BIN/coach-admin" -c "$CFG" check 2>&1)
has check_sidecar_copied "$out" "BAD /cls: directory sidecar"
cp -a "$T/cls.sidecar" "$S/cls/.coachfs-dir"

mv "$S/cls/inherit.md" "$S/pub/inherit.md"                    # 2: move to a lower folder
cfs_mount || exit 1
has moved_file_eio "$(err_of as cfs_bob cat "$MNT/pub/inherit.md")" "Input/output error"
has moved_file_eio_root "$(err_of cat "$MNT/pub/inherit.md")" "Input/output error"
cfs_umount
eq moved_file_tamper_row "$(audit_q "SELECT count(*) > 0 FROM events WHERE action = 'tamper' AND path = '/pub/inherit.md' AND reason LIKE '%moved, copied or swapped%'")" 1
out=$("$BIN/coach-admin" -c "$CFG" check 2>&1)
has check_moved "$out" "BAD /pub/inherit.md"
mv "$S/pub/inherit.md" "$S/cls/inherit.md"

mv "$S/a.txt" "$T/swap"; mv "$S/b.txt" "$S/a.txt"; mv "$T/swap" "$S/b.txt"   # 2: swap two files
cfs_mount || exit 1
has swapped_a_eio "$(err_of cat "$MNT/a.txt")" "Input/output error"
has swapped_b_eio "$(err_of cat "$MNT/b.txt")" "Input/output error"
cfs_umount
out=$("$BIN/coach-admin" -c "$CFG" check 2>&1)
has check_swapped_a "$out" "BAD /a.txt"
has check_swapped_b "$out" "BAD /b.txt"
mv "$S/a.txt" "$T/swap"; mv "$S/b.txt" "$S/a.txt"; mv "$T/swap" "$S/b.txt"

cp -a "$S/roll.md" "$T/roll.v2"; cp -a "$T/roll.v1" "$S/roll.md"     # 2: undo a reclassification
cp -a "$S/body.md" "$T/body.v2"; cp -a "$T/body.v1" "$S/body.md"     # 2: restore older content
cp -a "$S/cls/.coachfs-dir" "$T/cls.sidecar.v2"; cp -a "$T/cls.sidecar.v1" "$S/cls/.coachfs-dir" # 2: older sidecar
cfs_mount || exit 1
has rollback_header_eio "$(err_of cat "$MNT/roll.md")" "Input/output error"
has rollback_body_eio "$(err_of cat "$MNT/body.md")" "Input/output error"
has rollback_sidecar_eio "$(err_of cat "$MNT/cls/inherit.md")" "Input/output error"
cfs_umount
eq rollback_tamper_row "$(audit_q "SELECT count(*) > 0 FROM events WHERE action = 'tamper' AND path = '/roll.md' AND reason LIKE 'rolled back: header version %'")" 1
eq rollback_sidecar_tamper_row "$(audit_q "SELECT count(*) > 0 FROM events WHERE action = 'tamper' AND reason LIKE '%rolled back%'")" 1
out=$("$BIN/coach-admin" -c "$CFG" check 2>&1)
has check_rollback_header "$out" "BAD /roll.md: rolled back"
has check_rollback_body "$out" "BAD /body.md: rolled back"
has check_rollback_sidecar "$out" "BAD /cls: directory sidecar: rolled back"
cp -a "$T/roll.v2" "$S/roll.md"; cp -a "$T/body.v2" "$S/body.md"; cp -a "$T/cls.sidecar.v2" "$S/cls/.coachfs-dir"

ok check_clean_after "$BIN/coach-admin" -c "$CFG" check
cfs_mount || exit 1
eq restored_reads "$(getfattr --only-values -n user.coachfs.class "$MNT/cls/inherit.md") $(cat "$MNT/body.md")" "secret content two"
eq restored_class "$(getfattr --only-values -n user.coachfs.class "$MNT/roll.md")" secret
cfs_umount

# A directory left under a temporary name by a crash in mkdir or rmdir:
# reported, and removed by check --clean once old (never one with content)
mkdir "$S/.coachfs-tmp.0123456789abcdef" "$S/.coachfs-tmp.fedcba9876543210"
cp "$S/cls/.coachfs-dir" "$S/.coachfs-tmp.0123456789abcdef/.coachfs-dir"
cp "$S/cls/.coachfs-dir" "$S/.coachfs-tmp.fedcba9876543210/keep"
touch -d '2 hours ago' "$S/.coachfs-tmp.0123456789abcdef" "$S/.coachfs-tmp.fedcba9876543210"
has check_tmpdir_reported "$("$BIN/coach-admin" -c "$CFG" check 2>&1)" "BAD /.coachfs-tmp.0123456789abcdef: leftover temporary directory"
out=$("$BIN/coach-admin" -c "$CFG" check --clean 2>&1)
has clean_tmpdir_removed "$out" "removed /.coachfs-tmp.0123456789abcdef"
has clean_tmpdir_kept_nonempty "$out" "BAD /.coachfs-tmp.fedcba9876543210: leftover temporary directory that is not empty"
no clean_tmpdir_gone test -e "$S/.coachfs-tmp.0123456789abcdef"
ok clean_tmpdir_kept test -e "$S/.coachfs-tmp.fedcba9876543210/keep"

# A FIFO planted where a sidecar belongs: EIO and BAD, never a hung daemon
rm "$S/pub/.coachfs-dir"; mkfifo "$S/pub/.coachfs-dir"
cfs_mount || exit 1
has fifo_sidecar_eio "$(timeout 10 cat "$MNT/pub/p.md" 2>&1)" "Input/output error"
cfs_umount
has fifo_sidecar_check "$(timeout 20 "$BIN/coach-admin" -c "$CFG" check 2>&1)" "BAD /pub: directory sidecar"
