#!/bin/bash
# The manual pages (man/): each renders through man(1), groff and mandoc
# without a single warning; each program's page documents every option,
# command and usage word its --help prints (helpdoc.sh); coachfs.ini(5)
# documents every section and key fs/config.c accepts, each under its own
# section, and its example configuration is one the programs accept. So an
# option, command or key added without documentation fails here, naming it;
# so does a page that documents an option its program does not accept.
# Both checks are run once more on altered copies of the pages, to show
# that they fail when a page falls behind. The pages' examples are then run
# as written against a real mount, as root and as a throwaway user.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/helpdoc.sh"
MAN=$TOP/man
PAGES="coachfs.8 coach-admin.8 coach-grant.8 coach-audit.8 coachfs.ini.5"

# ---- the checks, as functions over a page file (so they can be proven) ----

# Every warning man(1), groff and mandoc have about PAGE, one a line.
lint() { # PAGE
	local p=$1
	{
		MANWIDTH=80 LC_ALL=C.UTF-8 man --warnings -l "$p" 2>&1 >/dev/null
		LC_ALL=C.UTF-8 groff -mdoc -ww -z "$p" 2>&1
		# WARNING and worse; STYLE notes such as "referenced manual not
		# found" depend on what this machine has installed
		mandoc -T lint -W warning "$p" 2>&1
	} | sed '/^$/d'
}

# The page as a reader sees it: plain text, no hyphenation, no wrapping of
# long option names.
plain() { # PAGE
	mandoc -T ascii -O width=300 "$1" | sed "s/.\x08//g"
}

# What PROG's --help promises that PAGE does not document, one a line:
# options must appear in the rendered text, commands and usage words as
# commands (Cm) in the source.
undocumented() { # PAGE HELP-FILE
	local text cm kind scope what
	text=$(plain "$1")
	cm=$(mdoc_cm_words "$1")
	while read -r kind scope what; do
		case $kind in
		opt) has_token "$text" "$what" || echo "option $what" ;;
		cmd) grep -qxF -- "$scope" <<<"$cm" || echo "command $scope" ;;
		word) grep -qxF -- "$what" <<<"$cm" || echo "word '$what' of $scope" ;;
		esac
	done < <(help_facts <"$2")
}

# Every "SECTION KEY" fs/config.c accepts: the fixed sections' key table and
# the class keys (SECTION class.NAME). Parsed from the source, so a key
# added there needs its page entry.
config_keys() {
	local src=$TOP/fs/config.c
	sed -n 's/^[[:space:]]*\[K_[A-Z_]*\] = { S_\([A-Z]*\), "\([a-z_]*\)" },.*/\1 \2/p' "$src" |
		tr 'A-Z' 'a-z'
	grep -o '\[C_[A-Z_]*\] = "[a-z_]*"' "$src" | sed 's/.*= "\(.*\)"/class.NAME \1/'
}
config_sections() {
	grep -o '\[S_[A-Z]*\] = "[a-z]*"' "$TOP/fs/config.c" | sed 's/.*= "\(.*\)"/\1/'
	echo class.NAME
}

# What PAGE documents as an option of PROG that PROG does not accept (a
# removed or misspelt option), one a line: each flag must be in --help or
# in the program's source (fs/main.c, tools/PROG.c and tools/NAME-*.c).
unaccepted() { # PAGE HELP-FILE SRC
	local o opts
	opts=$(help_facts <"$2" | awk '$1 == "opt" { print $3 }')
	for o in $(mdoc_fl_words "$1"); do
		grep -qxF -- "$o" <<<"$opts" && continue
		source_accepts "$3" "$o" || echo "option $o"
	done
}

# "SECTION KEY" for each ".It Cm KEY" under ".Ss [SECTION]" in PAGE.
page_keys() { # PAGE
	awk '/^\.Ss / { s = $2; gsub(/^\[|\]$/, "", s); next }
	     /^\.Sh / { s = "" }
	     s != "" && /^\.It Cm / { print s, $3 }' "$1"
}
page_sections() { # PAGE
	awk '/^\.Ss \[/ { s = $2; gsub(/^\[|\]$/, "", s); print s }' "$1"
}

# What the configuration accepts that PAGE does not document, one a line.
undocumented_keys() { # PAGE
	local have
	have=$(page_keys "$1")
	while read -r s k; do
		grep -qxF -- "$s $k" <<<"$have" || echo "key [$s] $k"
	done < <(config_keys)
	have=$(page_sections "$1")
	while read -r s; do
		grep -qxF -- "$s" <<<"$have" || echo "section [$s]"
	done < <(config_sections)
}

# ---- the pages as they are ----

prog_of() { case $1 in coachfs.ini.5) echo "" ;; *) echo "${1%.[0-9]}" ;; esac; }
for page in $PAGES; do
	if [ ! -f "$MAN/$page" ]; then
		fail "exists_$page" "man/$page is missing"
		continue
	fi
	w=$(lint "$MAN/$page")
	if [ -z "$w" ]; then pass "renders_clean_$page"; else
		while IFS= read -r l; do fail "renders_clean_$page" "$l"; done <<<"$w"
	fi
	prog=$(prog_of "$page")
	[ -n "$prog" ] || continue
	"$BIN/$prog" --help >"$T/$prog.help" 2>&1 || { fail "help_$prog" "$prog --help failed"; continue; }
	n=$(help_facts <"$T/$prog.help" | grep -c '^opt ')
	[ "$n" -ge 4 ] || fail "help_parsed_$prog" "only $n options found in $prog --help"
	miss=$(undocumented "$MAN/$page" "$T/$prog.help")
	if [ -z "$miss" ]; then pass "documents_all_$page"; else
		while IFS= read -r m; do fail "documents_all_$page" "$prog --help has $m, $page does not"; done <<<"$miss"
	fi
	# a tool's source is tools/PROG.c and its pieces tools/NAME-*.c
	src=$T/$prog.src
	if [ "$prog" = coachfs ]; then cat "$TOP/fs/main.c" >"$src"; else
		cat "$TOP/tools/$prog.c" "$TOP"/tools/"${prog#coach-}"-*.c >"$src" 2>/dev/null; fi
	extra=$(unaccepted "$MAN/$page" "$T/$prog.help" "$src")
	if [ -z "$extra" ]; then pass "documents_only_real_options_$page"; else
		while IFS= read -r m; do fail "documents_only_real_options_$page" "$page documents $m, which $prog does not accept"; done <<<"$extra"
	fi
done

n=$(config_keys | wc -l)
[ "$n" -ge 18 ] || fail config_keys_parsed "only $n keys found in fs/config.c"
miss=$(undocumented_keys "$MAN/coachfs.ini.5")
if [ -z "$miss" ]; then pass documents_all_keys; else
	while IFS= read -r m; do fail documents_all_keys "fs/config.c accepts $m, coachfs.ini.5 does not"; done <<<"$miss"
fi

# The example configuration in coachfs.ini(5) is one the programs accept:
# coachfs reads the configuration before it looks at the mount point.
awk '/^\.Sh EXAMPLES/ { on = 1; next } on && /^\.Bd/ { b = 1; next } b && /^\.Ed/ { exit } b' \
	"$MAN/coachfs.ini.5" >"$T/example.ini"
has example_ini_extracted "$(cat "$T/example.ini")" "[class.secret]"
out=$("$BIN/coachfs" -c "$T/example.ini" "$T/no-such-dir" 2>&1)
eq example_ini_parses "$out" "coachfs: $T/no-such-dir: not a directory"

# ---- the checks fail when a page falls behind ----

# An option, a command and a usage word dropped from copies of the pages,
# and an option and a command that --help gains.
sed '/--ttl/d; s/Fl -ttl//g' "$MAN/coach-grant.8" >"$T/coach-grant.8"
has proof_missing_option "$(undocumented "$T/coach-grant.8" "$T/coach-grant.help")" "option --ttl"
sed 's/^\.Cm pubkey$/.Li pubkey/; s/^\.It Cm pubkey$/.It Li pubkey/' "$MAN/coach-admin.8" >"$T/coach-admin.8"
has proof_missing_command "$(undocumented "$T/coach-admin.8" "$T/coach-admin.help")" "command pubkey"
sed 's/Cm unset/Li unset/g' "$MAN/coach-admin.8" >"$T/coach-admin-w.8"
has proof_missing_word "$(undocumented "$T/coach-admin-w.8" "$T/coach-admin.help")" "word 'unset' of policy"
{ cat "$T/coach-audit.help"; printf '  prune          drop old events\n  verify [--prune]\n'; } >"$T/grown.help"
miss=$(undocumented "$MAN/coach-audit.8" "$T/grown.help")
has proof_new_command "$miss" "command prune"
has proof_new_option "$miss" "option --prune"
# an option the program does not have, long and short
{ cat "$MAN/coach-grant.8"; printf '.Sh BUGS\n.Fl -expire-all\nand\n.Fl z\n'; } >"$T/cg-extra.8"
miss=$(unaccepted "$T/cg-extra.8" "$T/coach-grant.help" "$TOP/tools/coach-grant.c")
has proof_unaccepted_long "$miss" "option --expire-all"
has proof_unaccepted_short "$miss" "option -z"
# a key dropped from a section, and one documented under the wrong section
sed '/^\.It Cm flush_ms/d' "$MAN/coachfs.ini.5" >"$T/k1.5"
has proof_missing_key "$(undocumented_keys "$T/k1.5")" "key [audit] flush_ms"
awk '/^\.It Cm hide_denied/ { held = $0; next } /^\.Ss \[policy\]/ { print; print held; next } { print }' \
	"$MAN/coachfs.ini.5" >"$T/k2.5"
has proof_misplaced_key "$(undocumented_keys "$T/k2.5")" "key [mount] hide_denied"
# a page with a mistake in it does not render clean
sed 's/^\.Bl -tag -width Ds$/.Bl -tag -width Ds -bogus/' "$MAN/coachfs.8" >"$T/bad.8"
printf '.Xx unknown\n' >>"$T/bad.8"
w=$(lint "$T/bad.8")
has proof_lint_catches_macro "$w" "Xx"
# the man(1) check alone catches what groff does
printf '.Dd December 3, 2026\n.Dt X 8\n.Os\n.Sh NAME\n.Nm x\n.Nd y\n.Sh DESCRIPTION\n.Xx z\n' >"$T/x.8"
ok proof_man_warns sh -c "MANWIDTH=80 LC_ALL=C.UTF-8 man --warnings -l '$T/x.8' 2>&1 >/dev/null | grep -q ."

# ---- the pages' examples, run as written on a real mount ----
# Each command line of a page's EXAMPLES ("# " root, "$ " a responder) is
# run in the order a new installation would, with the test's users, paths
# and mount put in for the page's; each must succeed, and what it claims
# must hold.

# examples PAGE: "N PROMPT COMMAND" for each command line of example N.
examples() {
	awk '/^\.Sh EXAMPLES/ { on = 1; next } /^\.Sh / { on = 0 }
	     on && /^\.Bd/ { n++; b = 1; next } b && /^\.Ed/ { b = 0; next }
	     b && /^[#$] / { print n, substr($0, 1, 1), substr($0, 3) }' "$1"
}
subst() {
	sed -E -e "s|/mnt/coaching|$MNT|g; s|/evidence/|$T/evidence/|g; s|@soc|@cfs_soc|g" \
		-e 's/\bmaya\b/cfs_alice/g; s/\bjon\b/cfs_carol/g; s/\blee\b/cfs_dave/g' \
		-e 's/\bcontractor1\b/cfs_bob/g; s/revoke 12 /revoke 1 /'
}
# run_example PAGE N: run example N's commands; their output in $T/ex.out
run_example() {
	local page=$1 n=$2 k=0 num prompt cmd rc
	: >"$T/ex.out"
	while read -r num prompt cmd; do
		[ "$num" = "$n" ] || continue
		k=$((k + 1))
		cmd=$(subst <<<"$cmd")
		if [ "$prompt" = '#' ]; then
			(cd "$W" && bash -c "$cmd") >>"$T/ex.out" 2>&1
		else
			(cd "$W" && as cfs_alice bash -c "$cmd") >>"$T/ex.out" 2>&1
		fi
		rc=$?
		if [ $rc = 0 ]; then pass "example_${page}_${n}_$k"; else
			fail "example_${page}_${n}_$k" "'$cmd' exited $rc: $(tail -n 2 "$T/ex.out" | tr '\n' ' ')"
		fi
	done < <(examples "$MAN/$page")
	[ $k -gt 0 ] || fail "example_${page}_$n" "no example $n in $page"
}

cfs_users
cfs_config
W=$T/work
export PATH="$BIN:$PATH"   # the programs as the pages name them
mkdir -p "$W" "$T/evidence"
chmod 755 "$W"
printf 'correct horse battery staple %s\n' "$T_NAME" >"$PASSFILE"
chmod 600 "$PASSFILE"

# A new store: coach-admin init as the page shows it.
run_example coach-admin.8 1
has example_init_prints_key "$(cat "$T/ex.out")" "audit public key"
# the material the examples name (set-up, not from the pages)
cfs_mount || exit 1
mkdir -p "$MNT/playbooks" "$MNT/incidents/2026-11" "$MNT/inc/2026-11"
echo "isolate first, then image" >"$MNT/playbooks/ransomware.md"
echo "call notes" >"$MNT/incidents/2026-11/notes.md"
echo "contain the host" >"$MNT/inc/2026-11/playbook.md"
cfs_umount

run_example coachfs.8 1                 # mount; a responder reads
DAEMON_PID=$(pgrep -n -f "^$BIN/coachfs $MNT\$" || true)
eq example_mount_read "$(cat "$T/ex.out")" "isolate first, then image"
run_example coachfs.8 2                 # classify a folder
has example_class_inherited "$(cat "$T/ex.out")" 'user.coachfs.class="sensitive"'
no example_class_denies as cfs_alice cat "$MNT/incidents/2026-11/notes.md"

run_example coach-admin.8 2             # check --clean
has example_check_counts "$(cat "$T/ex.out")" "0 bad, 0 temporary files removed"
run_example coach-admin.8 3             # policy set, set, get
has example_policy_get "$(cat "$T/ex.out")" "readers=/usr/bin/less,/usr/bin/mpv"
has example_policy_get_class "$(cat "$T/ex.out")" "class=sensitive"

for n in 1 2 3 4; do run_example coach-grant.8 $n; done
link=$(grep '/.links/' "$T/ex.out" | tail -n 1)
has example_link_printed "$link" "$MNT/.links/"
eq example_link_opens "$(as cfs_bob cat "$link" 2>&1)" "contain the host"
eq example_revoked "$(sqlite3 "$T/var/policy.db" 'SELECT revoked_at IS NOT NULL FROM grants WHERE id = 1')" 1
run_example coach-grant.8 5             # a session-bound grant for an assistant
has example_session_read "$(cat "$T/ex.out")" "isolate first, then image"
eq example_session_ended "$(sqlite3 "$T/var/policy.db" "SELECT revoke_reason FROM grants
	WHERE session_pid IS NOT NULL")" "session ended"

run_example coach-audit.8 1             # who opened it, who exported it
has example_history_open "$(grep ' open ' "$T/ex.out")" "cfs_alice"
run_example coach-audit.8 2             # denials as CSV
has example_denials_csv "$(head -n 1 "$W/denials.csv")" "id,ts,host,uid,user"
sqlite3 "$T/var/audit.db" ".backup '$T/evidence/audit-copy.db'"
cp "$T/var/audit.db.pub" "$T/evidence/audit.pub"
run_example coach-audit.8 3             # verify a copy with the pinned key
has example_verify_copy "$(cat "$T/ex.out")" "audit log verified"
run_example coach-audit.8 4             # pin the head, verify against it
has example_verify_pinned "$(cat "$T/ex.out")" "1 pinned head present"
run_example coach-audit.8 5             # counts per user and file, CSV
eq example_summary_by_head "$(head -n 1 "$W/week.csv")" $'user,file,count\r'
has example_summary_by_alice "$(cat "$W/week.csv")" "cfs_alice,/playbooks/ransomware.md,"
run_example coach-audit.8 6             # the weekly page
has example_report_verified "$(cat "$W/week.html")" "Audit log VERIFIED"
# (example 7, forward to /dev/log, runs until stopped: t_audit_forward runs
# it with the default socket and cursor in a private mount namespace)

run_example coachfs.8 3                 # unmount
for _ in $(seq 1 100); do [ -n "$DAEMON_PID" ] && kill -0 "$DAEMON_PID" 2>/dev/null || break; sleep 0.05; done
no example_unmounted cfs_mounted
# sealed at unmount: the one unsealed row is verify's own audit_query row
v=$("$BIN/coach-audit" verify --json 2>&1)
has example_unmount_verified "$v" '"verified":true'
has example_unmount_sealed "$v" '"unsealed":1,'

