#!/bin/bash
# The encrypted store through a real mount: round trips, an fsx loop,
# persistence, no plaintext at rest, tamper detection, the POSIX surface,
# and refusing a wrong passphrase.
. "$(dirname "$0")/lib.sh"
cfs_users
cfs_init || exit 1
cfs_mount || exit 1

# Round trips of the sizes around chunk boundaries
for n in 0 1 4095 4096 4097 65536 1048589; do
	head -c "$n" /dev/urandom >"$T/ref.$n"
	cat "$T/ref.$n" >"$MNT/f.$n"
	ok "roundtrip_$n" cmp "$T/ref.$n" "$MNT/f.$n"
	eq "size_$n" "$(stat -c %s "$MNT/f.$n")" "$n"
done
# Written in odd pieces, read back at odd offsets
head -c 300000 /dev/urandom >"$T/ref.odd"
dd if="$T/ref.odd" of="$MNT/odd" bs=777 status=none 2>/dev/null
ok roundtrip_odd_pieces cmp "$T/ref.odd" "$MNT/odd"
ok read_odd_offset cmp <(tail -c +12346 "$T/ref.odd" | head -c 50001) <(tail -c +12346 "$MNT/odd" | head -c 50001)

# fsx-style random operations against a reference, fixed seeds
ok fsx_small "$B/tests/fsx" "$MNT/fsx1" 1 3000 70000
ok fsx_large "$B/tests/fsx" "$MNT/fsx2" 7 1500 1100000

# No plaintext marker anywhere in the store
marker="COACHFS-PLAINTEXT-MARKER-$RANDOM-$RANDOM"
for i in $(seq 1 200); do echo "$marker line $i"; done >"$MNT/marker.txt"
mkdir "$MNT/dir-$marker" 2>/dev/null || true
no no_plaintext_at_rest grep -rqa "$marker line" "$STORE"
has marker_readable "$(cat "$MNT/marker.txt")" "$marker line 200"

# Ownership and POSIX surface, as a throwaway user
mkdir "$MNT/shared" && chmod 1777 "$MNT/shared"
ok user_create as cfs_alice sh -c "echo hello >$MNT/shared/alice.txt"
eq created_as_caller "$(stat -c %U "$MNT/shared/alice.txt")" cfs_alice
eq backing_owner "$(stat -c %U "$(backing /shared/alice.txt)")" cfs_alice
ok mkdir_rmdir sh -c "mkdir $MNT/d1 && mkdir $MNT/d1/d2 && rmdir $MNT/d1/d2 && rmdir $MNT/d1"
mkdir "$MNT/d3" && echo x >"$MNT/d3/x"
no rmdir_not_empty rmdir "$MNT/d3"
ok rename sh -c "echo r >$MNT/r1 && mv $MNT/r1 $MNT/r2 && test ! -e $MNT/r1 && grep -q r $MNT/r2"
echo a >"$MNT/na"; echo b >"$MNT/nb"
no rename_noreplace python3 -c "
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
r = libc.renameat2(-100, b'$MNT/na', -100, b'$MNT/nb', 1)
sys.exit(0 if r == 0 else 1)"
eq rename_noreplace_kept "$(cat "$MNT/nb")" b
ok rename_exchange python3 -c "
import ctypes, sys
libc = ctypes.CDLL(None, use_errno=True)
sys.exit(0 if libc.renameat2(-100, b'$MNT/na', -100, b'$MNT/nb', 2) == 0 else 1)"
eq rename_exchange_swapped "$(cat "$MNT/na")$(cat "$MNT/nb")" ba
ok symlink sh -c "ln -s r2 $MNT/lnk && test \"\$(readlink $MNT/lnk)\" = r2 && grep -q r $MNT/lnk"
has hardlink_refused "$(err_of ln "$MNT/r2" "$MNT/hard")" "Operation not permitted"
has fifo_refused "$(err_of mkfifo "$MNT/fifo")" "Operation not permitted"
has device_refused "$(err_of mknod "$MNT/dev" c 1 3)" "Operation not permitted"
chmod 640 "$MNT/r2"
eq chmod "$(stat -c %a "$MNT/r2")" 640
chown cfs_bob "$MNT/r2"
eq chown "$(stat -c %U "$MNT/r2")" cfs_bob
touch -d '2020-01-02 03:04:05' "$MNT/r2"
eq utimens "$(stat -c %Y "$MNT/r2")" "$(date -d '2020-01-02 03:04:05' +%s)"
ok statfs df "$MNT"
truncate -s 10000 "$MNT/r2"
eq truncate_up "$(stat -c %s "$MNT/r2")" 10000
eq truncate_up_zeros "$(tail -c 9990 "$MNT/r2" | tr -d '\0' | wc -c)" 0
truncate -s 1 "$MNT/r2"
eq truncate_down "$(cat "$MNT/r2")" r
ok append sh -c "echo one >$MNT/ap && echo two >>$MNT/ap && test \"\$(cat $MNT/ap)\" = \"\$(printf 'one\ntwo')\""
# Attributes may be cached for a second, but never stale after a change made
# through the mount: each step is a separate process, stat right after it.
echo 12345 >"$MNT/sz"; stat -c %s "$MNT/sz" >/dev/null
as root sh -c "printf 678 >>$MNT/sz"
eq attr_fresh_after_append "$(stat -c %s "$MNT/sz")" 9
as root truncate -s 3 "$MNT/sz"
eq attr_fresh_after_truncate "$(stat -c %s "$MNT/sz")" 3
as root chmod 604 "$MNT/sz"
eq attr_fresh_after_chmod "$(stat -c %a "$MNT/sz")" 604
as root touch -d '2021-02-03 04:05:06' "$MNT/sz"
eq attr_fresh_after_touch "$(stat -c %Y "$MNT/sz")" "$(date -d '2021-02-03 04:05:06' +%s)"
as root sh -c "echo again >$MNT/sz"
eq attr_fresh_after_rewrite "$(stat -c %s "$MNT/sz")" 6
ok xattr_user_roundtrip sh -c "setfattr -n user.note -v hello $MNT/r2 && test \"\$(getfattr --only-values -n user.note $MNT/r2)\" = hello"
ok xattr_dir_roundtrip sh -c "setfattr -n user.note -v dirnote $MNT/d3 && test \"\$(getfattr --only-values -n user.note $MNT/d3)\" = dirnote"
no xattr_not_in_backing grep -rqa hello "$STORE/tree/r2"
no sidecar_hidden sh -c "ls -a $MNT/d3 | grep -q coachfs"
no reserved_name_refused touch "$MNT/.coachfs-dir"

# Persistence across a remount
cfs_umount
cfs_mount || exit 1
ok persist_after_remount cmp "$T/ref.1048589" "$MNT/f.1048589"
eq persist_xattr "$(getfattr --only-values -n user.note "$MNT/d3" 2>/dev/null)" dirnote

# Tampering with ciphertext: every case is EIO, never garbage
mk() { head -c "$2" /dev/urandom >"$MNT/$1"; }
mk t_flip 20000; mk t_swap 20000; mk t_cut 20000; mk t_zero 20000; mk t_hdr 20000; mk t_part 20000
CS=$((4096 + $(if grep -q aes256gcm "$T/init.out"; then echo 28; else echo 40; fi)))
bf() { backing "/$1"; }
# flip every bit of one byte (writing a fixed value would be a no-op 1 time in 256)
python3 - "$(bf t_flip)" $((1024 + CS + 100)) <<'PY'
import sys
p, o = sys.argv[1], int(sys.argv[2])
b = bytearray(open(p, 'rb').read()); b[o] ^= 0xff; open(p, 'wb').write(b)
PY
python3 - "$(bf t_swap)" "$CS" <<'PY'
import sys
p, cs = sys.argv[1], int(sys.argv[2])
b = bytearray(open(p, 'rb').read())
c0, c1 = b[1024:1024+cs], b[1024+cs:1024+2*cs]
b[1024:1024+cs], b[1024+cs:1024+2*cs] = c1, c0
open(p, 'wb').write(b)
PY
truncate -s $((1024 + 2 * CS)) "$(bf t_cut)"
truncate -s $((1024 + 2 * CS + 17)) "$(bf t_part)"
dd if=/dev/zero of="$(bf t_zero)" bs=1 seek=$((1024 + CS)) count=$CS conv=notrunc status=none
flip_byte "$(bf t_hdr)" 40   # inside the header's random nonce
for f in t_flip t_swap t_cut t_zero t_hdr t_part; do
	has "tamper_$f" "$(err_of cat "$MNT/$f")" "Input/output error"
done
eq tamper_first_chunk_still_ok "$(head -c 4096 "$MNT/t_flip" | wc -c)" 4096

# coach-admin check names every damaged file and nothing else
cfs_umount
out=$("$BIN/coach-admin" -c "$CFG" check 2>&1); rc=$?
eq check_exit_status "$rc" 1
for f in t_flip t_swap t_cut t_zero t_hdr t_part; do has "check_names_$f" "$out" "BAD /$f"; done
eq check_only_bad_ones "$(echo "$out" | grep -c '^BAD')" 6
rm -f "$(bf t_flip)" "$(bf t_swap)" "$(bf t_cut)" "$(bf t_zero)" "$(bf t_hdr)" "$(bf t_part)"
ok check_clean "$BIN/coach-admin" -c "$CFG" check

# A wrong passphrase: clear message, exit 1, nothing mounted
cp "$PASSFILE" "$T/good"; echo "not the passphrase" >"$PASSFILE"
out=$("$BIN/coachfs" -c "$CFG" "$MNT" 2>&1); rc=$?
eq wrong_pass_status "$rc" 1
has wrong_pass_message "$out" "wrong passphrase"
no wrong_pass_not_mounted mountpoint -q "$MNT"
cp "$T/good" "$PASSFILE"

# An edited store header is refused
cp "$STORE/coachfs.hdr" "$T/hdr.bak"
printf '\x09' | dd of="$STORE/coachfs.hdr" bs=1 seek=16 conv=notrunc status=none
out=$("$BIN/coachfs" -c "$CFG" "$MNT" 2>&1); rc=$?
eq edited_header_status "$rc" 1
no edited_header_not_mounted mountpoint -q "$MNT"
cp "$T/hdr.bak" "$STORE/coachfs.hdr"

# passwd: the old passphrase stops working, the new one opens the same data
echo "a brand new passphrase" >"$T/newpass"
ok passwd "$BIN/coach-admin" -c "$CFG" passwd --new-passphrase-file "$T/newpass"
no passwd_old_refused "$BIN/coachfs" -c "$CFG" "$MNT"
cp "$T/newpass" "$PASSFILE"
cfs_mount || exit 1
ok passwd_new_opens cmp "$T/ref.65536" "$MNT/f.65536"
cfs_umount
