#!/bin/bash
# make install / make uninstall into a staging root: the programs, the docs,
# the licence, the manual pages, bash completion and a systemd unit that
# names the installed binary for the chosen PREFIX; uninstall removes
# exactly those files (and links) and nothing else.
# Builds once more into its own directory with the default (user) flags.
. "$(dirname "$0")/lib.sh"
ROOT=$T/root
PFX=/opt/cfs-test
mk() { make --no-print-directory -C "$TOP" B="$T/b" PREFIX="$PFX" DESTDIR="$ROOT" "$@"; }
out=$(mk install 2>&1) || { fail install "$(echo "$out" | tail -n 3)"; exit 1; }
pass install
for f in bin/coachfs bin/coach-admin bin/coach-grant bin/coach-audit; do
	ok "installed_${f#bin/}" test -x "$ROOT$PFX/$f"
done
for f in share/doc/coachfs/README.md share/doc/coachfs/LICENSE share/doc/coachfs/coachfs.ini \
	 lib/systemd/system/coachfs.service; do
	ok "installed_$(basename "$f")" test -f "$ROOT$PFX/$f"
done
# the manual pages, where man(1) finds them, and bash completion: one file,
# the tools' names linked to it
for f in man5/coachfs.ini.5 man8/coachfs.8 man8/coach-admin.8 man8/coach-grant.8 man8/coach-audit.8; do
	ok "installed_$(basename "$f")" test -f "$ROOT$PFX/share/man/$f"
done
has man_finds_page "$(MANWIDTH=80 man -M "$ROOT$PFX/share/man" 8 coach-grant 2>&1 | head -n 5)" "coach-grant"
comp=$ROOT$PFX/share/bash-completion/completions
ok installed_completion test -f "$comp/coachfs"
for c in coach-admin coach-grant coach-audit; do
	eq "completion_link_$c" "$(readlink "$comp/$c")" coachfs
done
unit=$ROOT$PFX/lib/systemd/system/coachfs.service
eq unit_execstart "$(grep '^ExecStart=' "$unit")" "ExecStart=$PFX/bin/coachfs /mnt/coaching"
eq unit_no_placeholder "$(grep -c '@' "$unit")" 0
v=$("$ROOT$PFX/bin/coachfs" --version)
has version_release "$v" "coachfs 0.1.0"
if git -C "$TOP" rev-parse --short HEAD >/dev/null 2>&1; then
	has version_commit "$v" "+g$(git -C "$TOP" rev-parse --short HEAD)"
fi
# hardening: a position-independent executable with full RELRO
ok pie sh -c "readelf -h '$ROOT$PFX/bin/coachfs' | grep -q 'DYN'"
ok bind_now sh -c "readelf -d '$ROOT$PFX/bin/coachfs' | grep -q 'BIND_NOW'"
ok relro sh -c "readelf -l '$ROOT$PFX/bin/coachfs' | grep -q 'GNU_RELRO'"
touch "$ROOT$PFX/bin/not-ours"
out=$(mk uninstall 2>&1) || fail uninstall "$(echo "$out" | tail -n 3)"
eq uninstall_leaves_only_others "$(cd "$ROOT" && find . ! -type d | sort)" "./opt/cfs-test/bin/not-ours"
