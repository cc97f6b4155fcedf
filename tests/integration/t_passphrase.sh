#!/bin/bash
# Where the passphrase comes from: [store] passphrase_command (a program's
# first output line, no shell), a systemd credential
# ($CREDENTIALS_DIRECTORY/coachfs-passphrase) when neither the command nor
# passphrase_file is set, and a failing command that mounts nothing and
# says which program failed.
. "$(dirname "$0")/lib.sh"
cfs_users
cfs_init || exit 1
mkdir -p "$MNT"
PW=$(cat "$PASSFILE")
# the same config without passphrase_file, plus what each case adds
nofile() { grep -v '^passphrase_file' "$CFG" | sed "s|^\[store\]|[store]\n$1|"; }

cat >"$T/getpw" <<SH
#!/bin/sh
# a vault client stand-in: prints the passphrase, then a second line
echo "\$1" >"$T/getpw.args"
printf '%s\nignored\n' "$PW"
SH
chmod 755 "$T/getpw"
nofile "passphrase_command = $T/getpw store-7" >"$T/cmd.ini"
out=$("$BIN/coachfs" -c "$T/cmd.ini" "$MNT" 2>&1)
ok command_mounts mountpoint -q "$MNT"
eq command_args "$(cat "$T/getpw.args" 2>/dev/null)" "store-7"
echo hello >"$MNT/f.txt" 2>/dev/null
eq command_mount_works "$(cat "$MNT/f.txt" 2>&1)" "hello"
fusermount3 -u "$MNT"
for _ in $(seq 1 100); do pgrep -f "coachfs -c $T/cmd.ini" >/dev/null || break; sleep 0.05; done
ok command_check "$BIN/coach-admin" -c "$T/cmd.ini" check -q

cat >"$T/nopw" <<'SH'
#!/bin/sh
echo "vault sealed" >&2
exit 4
SH
chmod 755 "$T/nopw"
nofile "passphrase_command = $T/nopw" >"$T/bad.ini"
out=$("$BIN/coachfs" -c "$T/bad.ini" "$MNT" 2>&1)
has failing_command_named "$out" "coachfs: passphrase_command $T/nopw: exited with status 4"
has failing_command_stderr_shown "$out" "vault sealed"
no failing_command_mounts_nothing mountpoint -q "$MNT"

nofile "" >"$T/cred.ini"
mkdir -p "$T/creds" && chmod 700 "$T/creds"
printf '%s\n' "$PW" >"$T/creds/coachfs-passphrase"
out=$(CREDENTIALS_DIRECTORY=$T/creds "$BIN/coachfs" -c "$T/cred.ini" "$MNT" </dev/null 2>&1)
ok credential_mounts mountpoint -q "$MNT"
eq credential_mount_works "$(cat "$MNT/f.txt" 2>&1)" "hello"
fusermount3 -u "$MNT"
for _ in $(seq 1 100); do pgrep -f "coachfs -c $T/cred.ini" >/dev/null || break; sleep 0.05; done
out=$("$BIN/coachfs" -c "$T/cred.ini" "$MNT" </dev/null 2>&1 </dev/null)
has no_source_says_so "$out" "no passphrase_file in the config and no terminal to ask on"
