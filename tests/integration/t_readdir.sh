#!/bin/bash
# Directory listings through the mount: readdir sees the entries (libfuse
# passes readdir no path under nullpath_ok, so opendir must keep it), hides
# the sidecars, and rm -rf empties a tree.
. "$(dirname "$0")/lib.sh"
cfs_users
cfs_init || exit 1
cfs_mount || exit 1

mkdir "$MNT/d" "$MNT/d/sub"
for i in 1 2 3; do echo "$i" >"$MNT/d/f$i"; done
setfattr -n user.note -v x "$MNT/d"
eq readdir_lists "$(ls "$MNT/d" | tr '\n' ' ')" "f1 f2 f3 sub "
eq readdir_root "$(ls "$MNT" | tr '\n' ' ')" "d "
eq readdir_dots "$(ls -a "$MNT/d/sub" | tr '\n' ' ')" ". .. "
no readdir_sidecar_hidden sh -c "ls -a $MNT/d | grep -q coachfs"
ok rm_rf rm -rf "$MNT/d"
eq rm_rf_gone "$(ls -A "$MNT")" ""
cfs_umount
