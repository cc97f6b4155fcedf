#!/bin/bash
# Audit actions in coach-audit: --action takes only the action table's
# words (exit 2 with a message naming --action and listing them all, for
# every command that filters); a row whose stored action this version does
# not know (a forged row, or one written by a newer version) is neither
# dropped nor fatal: log prints it as stored in text, JSON and CSV, summary
# counts it, report counts it among the events and says how many such
# events there are, and verify judges the row by its hash like any other
# (an edited action fails at that event).
. "$(dirname "$0")/lib.sh"
cfs_init || exit 1
A=$BIN/coach-audit
DB=$T/var/audit.db
PK=$(cat "$DB.pub")
ALL="mount, unmount, open, replay, read, write, release, create, unlink, rename, export, setxattr, tamper, grant_add, grant_revoke, grant_approve, grant_request, grant_deny, breakglass, breakglass_review, link_issue, link_use, audit_query"

# ---- --action: the table's words, and nothing else ---------------------------
for cmd in "log" "history /incidents" "summary"; do
	# shellcheck disable=SC2086
	out=$("$A" $cmd --action frobnicate 2>&1); rc=$?
	eq "bad_action_exit_${cmd%% *}" "$rc" 2
	eq "bad_action_message_${cmd%% *}" "$out" \
		"coach-audit: --action: 'frobnicate' is not an action; the actions are $ALL"
done
# a word of the right kind but the wrong column, and a near miss
has bad_action_result_word "$("$A" log --action allow 2>&1)" "--action: 'allow' is not an action"
has bad_action_case "$("$A" log --action Open 2>&1)" "--action: 'Open' is not an action"
eq bad_action_nothing_recorded "$(audit_q "SELECT count(*) FROM events WHERE action = 'audit_query'")" 0
# each of the table's words is accepted
for a in ${ALL//,/}; do
	"$A" --db "$DB" log --action "$a" >/dev/null 2>"$T/err" || fail "action_accepted_$a" "$(cat "$T/err")"
done
pass every_action_accepted

# ---- a row with an action this version does not know -------------------------
ok grant_add "$BIN/coach-grant" add root /incidents --ttl 1h --reason "actions test"
ok grant_add2 "$BIN/coach-grant" add root /notes --ttl 1h --reason "actions test 2"
GA=$(audit_q "SELECT min(id) FROM events WHERE action = 'grant_add'")
N=$(audit_q "SELECT count(*) FROM events")
cp "$DB" "$T/copy.db"
sqlite3 "$T/copy.db" "DROP TRIGGER events_no_update; UPDATE events SET action = 'frobnicate' WHERE id = $GA"
C=(--db "$T/copy.db")

out=$("$A" "${C[@]}" log 2>&1); rc=$?
eq unknown_log_exit "$rc" 0
eq unknown_log_every_row "$(echo "$out" | grep -cE "^ *[0-9]+ ")" "$N"
has unknown_log_shown "$(echo "$out" | grep -E "^ *$GA ")" " frobnicate "
eq unknown_json "$("$A" "${C[@]}" log --json | python3 -c "
import json, sys
rows = json.load(sys.stdin)
print(len(rows), [r['action'] for r in rows if r['id'] == $GA][0])")" "$N frobnicate"
has unknown_csv "$("$A" "${C[@]}" log --csv | grep "^$GA,")" ",frobnicate,/incidents,allow,"
has unknown_summary "$("$A" "${C[@]}" summary --by action --csv | tr -d '\r')" "frobnicate,1"
# filtering by a known action leaves it out, and finds the others
eq unknown_not_grant_add "$("$A" "${C[@]}" log --action grant_add --json | python3 -c "
import json, sys; print([r['id'] for r in json.load(sys.stdin)])")" "[$((GA + 1))]"

# verify: the edited action breaks the chain at that row
out=$("$A" "${C[@]}" verify --pubkey "$PK" 2>&1); rc=$?
eq unknown_verify_exit "$rc" 1
has unknown_verify_names_event "$out" "event $GA"

# report: counted among the events, and said
out=$("$A" "${C[@]}" report --html "$T/r.html" --pubkey "$PK" 2>&1)
eq unknown_report_exit "$?" 0
has unknown_report_events "$(cat "$T/r.html")" "<div class=\"card\" id=\"events\"><b>$N</b>events</div>"
has unknown_report_note "$(cat "$T/r.html")" \
	"<p class=\"note\" id=\"unknown\">1 event has an action this version does not know"
# the log as written has none
"$A" --db "$DB" report --html "$T/ok.html" --pubkey "$PK" >/dev/null 2>&1
eq known_report_no_note "$(grep -c 'id="unknown"' "$T/ok.html")" 0
