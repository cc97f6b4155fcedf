#!/bin/bash
# Bash completion (etc/bash_completion.d/coachfs): sourced into a plain
# bash, the function each program is registered with is called as bash
# calls it (COMP_WORDS split at COMP_WORDBREAKS, COMP_CWORD, COMP_LINE,
# COMP_POINT), and COMPREPLY must be exactly the table's. Then drift: every
# command and long option a program's --help prints (helpdoc.sh) must be
# offered by its completion, a command's own options after that command;
# the check is proven on a --help that gains a command and an option.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/helpdoc.sh"
COMP_FILE=$TOP/etc/bash_completion.d/coachfs
cfs_users
cfs_config

# shellcheck source=/dev/null
if ! . "$COMP_FILE"; then
	fail sources "cannot source $COMP_FILE"
	exit 1
fi
for p in coachfs coach-admin coach-grant coach-audit; do
	has "registered_$p" "$(complete -p "$p" 2>&1)" "complete -F "
done

# complete PROG WORD... : COMPREPLY, one word a line, for the command line
# PROG WORD... with the cursor at the end of the last WORD (give "" to
# complete an empty word). Words are given as bash splits them: "=" and
# ":" are words of their own ("--db=x" is --db = x).
complete_words() {
	local prog=$1 fn line= w prevw=
	shift
	fn=$(complete -p "$prog" | sed -n 's/.*-F \([^ ]*\) .*/\1/p')
	COMP_WORDS=("$prog" "$@")
	COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
	for w in "${COMP_WORDS[@]}"; do
		if [ -z "$line" ]; then line=$w
		elif [ "$w" = "=" ] || [ "$w" = ":" ] || [ "$prevw" = "=" ] || [ "$prevw" = ":" ]; then line=$line$w
		else line="$line $w"; fi
		prevw=$w
	done
	COMP_LINE=$line
	COMP_POINT=${#line}
	COMPREPLY=()
	"$fn" "$prog" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
	[ ${#COMPREPLY[@]} -eq 0 ] || printf '%s\n' "${COMPREPLY[@]}"
}
# case NAME "EXPECTED WORDS" PROG WORD... : exact COMPREPLY, in order
case_() {
	local name=$1 want=$2
	shift 2
	eq "$name" "$(complete_words "$@" | tr '\n' ' ' | sed 's/ $//')" "$want"
}

# A directory and files to complete.
D=$T/cdir
mkdir -p "$D/mnt-a" "$D/mnt-b"
touch "$D/copy.db" "$D/key.pub"
printf '[class.alpha]\n' >"$D/conf.ini"
cd "$D" || exit 1
export COACHFS_CONFIG=$CFG   # the test configuration: classes and roles

# coachfs
case_ fs_options "--config --foreground --help --version" coachfs --
case_ fs_short "-c --config -f --foreground -o -h --help -V --version" coachfs -
case_ fs_config_file "conf.ini copy.db" coachfs -c c
case_ fs_config_long "conf.ini" coachfs --config con
case_ fs_config_eq "key.pub" coachfs --config = k
case_ fs_mountpoint_dirs "mnt-a mnt-b" coachfs -f mnt
case_ fs_store_then_mnt "mnt-b" coachfs /srv/coachfs mnt-b
case_ fs_o_config "config=" coachfs -o con
case_ fs_o_config_file "conf.ini" coachfs -o config = conf

# coach-admin
case_ admin_commands "init passwd check upgrade pubkey policy" coach-admin ""
case_ admin_commands_p "passwd pubkey policy" coach-admin p
case_ admin_after_c "check" coach-admin -c conf.ini ch
case_ admin_global_opts "--config --help --version" coach-admin --
case_ admin_c_file "conf.ini" coach-admin -c conf
case_ admin_init_opts "--kdf --chunk-size" coach-admin init --
case_ admin_kdf "interactive moderate sensitive" coach-admin init --kdf ""
case_ admin_kdf_eq "sensitive" coach-admin init --kdf = s
case_ admin_chunk "16384 131072 1048576" coach-admin init --chunk-size 1
case_ admin_passwd "--new-passphrase-file" coach-admin passwd -
case_ admin_passwd_file "key.pub" coach-admin passwd --new-passphrase-file k
case_ admin_check "-q --quiet --clean" coach-admin check ""
case_ admin_pubkey "" coach-admin pubkey ""
case_ admin_policy_verbs "get set unset" coach-admin policy ""
case_ admin_policy_mount "--mount" coach-admin policy --
case_ admin_policy_mount_dir "mnt-a mnt-b" coach-admin policy --mount mnt
case_ admin_policy_verb_after_mount "set" coach-admin policy --mount "$D/mnt-a" se
case_ admin_policy_path "" coach-admin policy set ""
case_ admin_policy_keys "class export readers max_opens" coach-admin policy set /inc ""
case_ admin_policy_keys_get "max_opens" coach-admin policy get /inc m
case_ admin_policy_class_values "public internal sensitive secret" coach-admin policy set /inc class ""
case_ admin_policy_class_s "sensitive secret" coach-admin policy set /inc class s
case_ admin_policy_class_other_config "alpha" coach-admin -c "$D/conf.ini" policy set /inc class ""
case_ admin_policy_export_values "allow log deny" coach-admin policy set /inc export ""
case_ admin_policy_readers_file "key.pub" coach-admin policy set /inc readers k
case_ admin_policy_get_no_value "" coach-admin policy get /inc class ""
case_ admin_policy_mount_then_keys "class export readers max_opens" coach-admin policy --mount /m set /inc ""

# coach-grant
case_ grant_commands "add list show revoke link approve run request requests deny breakglass review" coach-grant ""
case_ grant_global "--help --version" coach-grant --
case_ grant_add_opts "--ttl --start --max-opens --write --reason --approved-by -c" coach-grant add -
case_ grant_add_user "cfs_alice" coach-grant add cfs_al
case_ grant_add_group "@cfs_soc" coach-grant add @cfs_s
case_ grant_add_role_split "responder" coach-grant add role : res
case_ grant_add_role_colon "responder contractor admin" coach-grant add role :
case_ grant_add_role_whole "role:admin" coach-grant add role:ad
case_ grant_add_path "" coach-grant add cfs_alice ""
case_ grant_add_after_args "--ttl --start --max-opens --write --reason --approved-by -c" coach-grant add cfs_alice /inc ""
case_ grant_add_ttl_value "" coach-grant add cfs_alice /inc --ttl ""
case_ grant_add_approver "cfs_carol" coach-grant add cfs_alice /inc --ttl 1h --approved-by cfs_ca
case_ grant_c_anywhere "conf.ini" coach-grant add -c conf
case_ grant_list_opts "--active --user --path --json -c" coach-grant list ""
case_ grant_list_user "@cfs_admins" coach-grant list --user @cfs_a
case_ grant_show "--json -c" coach-grant show 12 ""
case_ grant_show_id "" coach-grant show ""
case_ grant_revoke "--reason" coach-grant revoke L7 --r
case_ grant_link_opts "--ttl --uses --user --mount -c" coach-grant link /inc/a.md -
case_ grant_link_user "cfs_bob" coach-grant link /inc/a.md --ttl 15m --user cfs_b
case_ grant_request_opts "--ttl --reason --write --mount -c" coach-grant request /inc/a.md ""
case_ grant_requests_opts "--all --json -c" coach-grant requests ""
case_ grant_review_opts "--note --mount -c" coach-grant review B3 ""
case_ grant_breakglass_opts "--reason --mount -c" coach-grant breakglass /inc/a.md ""
case_ grant_link_mount "mnt-a" coach-grant link /inc/a.md --mount mnt-a
case_ grant_run_opts "--user --path --ttl --reason --write -c" coach-grant run -
case_ grant_run_user "cfs_alice" coach-grant run --user cfs_al
case_ grant_run_ttl_value "" coach-grant run --user cfs_alice --ttl ""
case_ grant_run_command "setpriv" coach-grant run --user cfs_alice --path /inc --ttl 1h -- setpri
case_ grant_run_command_args "key.pub" coach-grant run --user cfs_alice --path /inc --ttl 1h -- cat k
case_ grant_unknown_cmd "" coach-grant frobnicate ""

# coach-audit
case_ audit_commands "history log summary verify head forward report" coach-audit ""
case_ audit_all_opts "-c --config --db --json --csv --pubkey --head --since --until --user --action --result --after --follow --by --syslog --socket --cursor --once --html -h --help -V --version" coach-audit -
case_ audit_db_file "copy.db" coach-audit --db cop
case_ audit_db_eq "copy.db" coach-audit --db = cop
case_ audit_cmd_after_db "verify" coach-audit --db copy.db v
case_ audit_history_path "" coach-audit history ""
case_ audit_history_opts "--since --until --user --action --result --after --follow --config --db --json --csv" coach-audit history /inc --
case_ audit_history_after_path "--since --until --user --action --result --after --follow -c --config --db --json --csv" coach-audit history /inc ""
case_ audit_log_opts "--since --until --user --action --result --after --follow -c --config --db --json --csv" coach-audit log ""
case_ audit_summary_opts "--since --until --user --action --result --by -c --config --db --json --csv" coach-audit summary ""
case_ audit_summary_by "user file action result" coach-audit summary --by ""
case_ audit_summary_by_more "user,file user,action user,result" coach-audit summary --by user,
case_ audit_forward_opts "--syslog --socket --cursor --once -c --config --db" coach-audit forward ""
case_ audit_forward_cursor "key.pub" coach-audit forward --cursor k
case_ audit_report_opts "--html --since --until --pubkey --config --db" coach-audit report --html r.html --
case_ audit_report_path "" coach-audit report --html r.html ""
case_ audit_verify_opts "--pubkey --head -c --config --db --json --csv" coach-audit verify ""
case_ audit_pubkey_file "key.pub" coach-audit verify --pubkey k
case_ audit_head_file "key.pub" coach-audit verify --head k
case_ audit_head_opts "--pubkey -c --config --db --json" coach-audit head ""
case_ audit_actions "grant_add grant_revoke grant_approve grant_request grant_deny" coach-audit log --action grant
case_ audit_actions_all "mount unmount open replay read write release create unlink rename export setxattr tamper grant_add grant_revoke grant_approve grant_request grant_deny breakglass breakglass_review link_issue link_use audit_query" coach-audit log --action ""
case_ audit_results "allow flag deny error" coach-audit log --result ""
case_ audit_result_d "deny" coach-audit summary --result d
case_ audit_user "cfs_dave" coach-audit log --user cfs_d
case_ audit_since "now" coach-audit log --since n
case_ audit_opts_before_cmd "log" coach-audit --since 2h --action open l

# A hostile configuration: nothing in it is expanded or offered unless it
# is a plain name.
cat >"$D/evil.ini" <<'INI'
[class.$(touch pwned)]
[class.`touch pwned2`]
[class.ok-name]
[roles]
$(touch pwned3) = x
fine_role = a
INI
case_ hostile_classes "ok-name" coach-admin -c "$D/evil.ini" policy set /x class ""
case_ hostile_roles "fine_role" coach-grant -c "$D/evil.ini" add role :
ok hostile_nothing_ran test ! -e pwned -a ! -e pwned2 -a ! -e pwned3

# ---- drift: what each --help promises is offered ----

# not_offered PROG HELP-FILE: each command or long option of HELP that the
# completion does not offer, one a line. A command's options are looked
# for after that command, a command's words after it or after one of its
# options; the others anywhere (at the top, or after some command).
not_offered() {
	local prog=$1 help=$2 kind scope what cmds opts all c o
	cmds=$(help_facts <"$help" | awk '$1 == "cmd" { print $2 }')
	opts=$(help_facts <"$help" | awk '$1 == "opt" && $3 ~ /^--/ { print $2, $3 }' | sort -u)
	all=$(complete_words "$prog" -; complete_words "$prog" "")
	for c in $cmds; do all+=$'\n'$(complete_words "$prog" "$c" -); done
	while read -r kind scope what; do
		case $kind in
		cmd) grep -qxF -- "$scope" <<<"$(complete_words "$prog" "")" || echo "command $scope" ;;
		opt)
			[[ $what == --* ]] || continue
			if [ "$scope" = - ]; then
				grep -qxF -- "$what" <<<"$all" || echo "option $what"
			else
				grep -qxF -- "$what" <<<"$(complete_words "$prog" "$scope" -)" ||
					echo "option $what of $scope"
			fi ;;
		word)
			local got
			got=$(complete_words "$prog" "$scope" "")
			for o in $(awk -v s="$scope" '$1 == s { print $2 }' <<<"$opts"); do
				got+=$'\n'$(complete_words "$prog" "$scope" "$o" "")
			done
			grep -qxF -- "$what" <<<"$got" || echo "word '$what' of $scope" ;;
		esac
	done < <(help_facts <"$help")
}

for p in coachfs coach-admin coach-grant coach-audit; do
	"$BIN/$p" --help >"$T/$p.help" 2>&1 || { fail "help_$p" "$p --help failed"; continue; }
	n=$(help_facts <"$T/$p.help" | grep -c '^opt .* --')
	[ "$n" -ge 2 ] || fail "help_parsed_$p" "only $n long options found in $p --help"
	miss=$(not_offered "$p" "$T/$p.help")
	if [ -z "$miss" ]; then pass "offers_all_$p"; else
		while IFS= read -r m; do fail "offers_all_$p" "$p --help has $m, the completion does not offer it"; done <<<"$miss"
	fi
done

# The check fails when --help gains a command, a command's option, or an
# option at the top.
{ cat "$T/coach-audit.help"; printf '  prune          drop old events\n  verify [--prune]\n'; } >"$T/a.help"
miss=$(not_offered coach-audit "$T/a.help")
has proof_new_command "$miss" "command prune"
has proof_new_option "$miss" "option --prune of verify"
{ cat "$T/coach-grant.help"; printf '  renew ID [--note TEXT]\nOptions:\n  --quiet   say less\n'; } >"$T/g.help"
miss=$(not_offered coach-grant "$T/g.help")
has proof_new_command2 "$miss" "command renew"
has proof_new_option2 "$miss" "option --note of renew"
has proof_new_global "$miss" "option --quiet"
{ cat "$T/coach-admin.help"; printf '  policy [--mount DIR] get PATH | freeze PATH\n'; } >"$T/ad.help"
has proof_new_word "$(not_offered coach-admin "$T/ad.help")" "word 'freeze' of policy"
