#!/bin/bash
# coach-audit against a real store made by coach-admin init, with rows from
# coach-grant and from coach-audit itself (no mount needed): verify holds and
# fails on a tampered copy naming the event, queries are recorded on the live
# database only, output formats, filters, usage errors, and a user who may
# read but not write the database (query runs, unrecorded).
. "$(dirname "$0")/lib.sh"
cfs_init || exit 1
A="$BIN/coach-audit"
DB=$T/var/audit.db
PK=$(cat "$DB.pub")

eq pubkey_file_format "$(printf '%s' "$PK" | grep -cE '^[0-9a-f]{64}$')" 1
has init_prints_pubkey "$(cat "$T/init.out")" "$PK"

ok grant_add "$BIN/coach-grant" add root /incidents --ttl 1h --reason "audit tool test"
n=$(audit_q "SELECT count(*) FROM events")

out=$("$A" verify 2>"$T/verify.err"); rc=$?
eq verify_ok_rc "$rc" 0
# init sealed the empty log: one checkpoint, the rows after it unsealed
has verify_ok_text "$out" "audit log verified: $((n + 1)) events, 1 checkpoint; newest checkpoint seq 1 at "
has verify_unsealed_text "$out" "after the last checkpoint are not yet sealed"
# the key came from beside the database: said loudly, on stderr
has verify_pubkey_warning "$(cat "$T/verify.err")" "WARNING: the audit public key was read from $DB.pub, beside the database: it proves nothing"
eq verify_recorded "$(audit_q "SELECT count(*) FROM events WHERE action = 'audit_query' AND reason = 'verify'")" 1
eq verify_pinned_key_no_warning "$("$A" verify --pubkey "$PK" 2>&1 >/dev/null)" ""

# history records itself (before running, so it sees its own row)
out=$("$A" history incidents --action grant_add)
has history_shows_grant "$out" "grant_add"
has history_path "$out" "/incidents"
eq history_recorded "$(audit_q "SELECT path || ' ' || reason FROM events WHERE action = 'audit_query' ORDER BY id DESC LIMIT 1")" \
	"/incidents history /incidents action=grant_add"
eq query_user "$(audit_q "SELECT user FROM events ORDER BY id DESC LIMIT 1")" "$(id -un)"

# formats
out=$("$A" log --csv --action grant_add)
eq csv_header "$(echo "$out" | head -n 1 | tr -d '\r')" \
	"id,ts,host,uid,user,pid,exe,action,path,result,reason,grant_id,offset,length,prev_hash,hash"
eq csv_rows "$(echo "$out" | wc -l)" 2
out=$("$A" log --json --action grant_add)
has json_array "$(echo "$out" | head -n 1)" "["
has json_action "$out" '"action":"grant_add"'
has json_hash "$out" '"prev_hash":"'
eq json_empty "$("$A" log --json --user nobody-at-all)" "[]"
eq text_empty "$("$A" log --user nobody-at-all)" "no matching events"
out=$("$A" summary)
has summary_actions "$out" "by action and result:"
has summary_grant "$out" "grant_add"
has summary_users "$out" "by user:"
has summary_paths "$out" "top paths:"

# a copy: read, never written; verified with the pinned key
cp "$DB" "$T/copy.db"
before=$(audit_q "SELECT count(*) FROM events")
copy_before=$(sqlite3 "$T/copy.db" "SELECT count(*) FROM events")
ok verify_copy "$A" --db "$T/copy.db" verify --pubkey "$PK"
ok log_copy "$A" --db "$T/copy.db" log
eq copy_not_written "$(sqlite3 "$T/copy.db" "SELECT count(*) FROM events")" "$copy_before"
eq live_not_written_by_copy "$(audit_q "SELECT count(*) FROM events")" "$before"
no verify_copy_without_key "$A" --db "$T/copy.db" verify

# tampering with the copy is caught and named
sqlite3 "$T/copy.db" "DROP TRIGGER events_no_update; UPDATE events SET reason = 'nothing to see' WHERE id = 1"
out=$("$A" --db "$T/copy.db" verify --pubkey "$PK" 2>&1); rc=$?
eq tampered_rc "$rc" 1
eq tampered_msg "$out" "coach-audit: audit log NOT verified: event 1: hash does not match its contents (edited)"
out=$("$A" --db "$T/copy.db" verify --json --pubkey "$PK" 2>/dev/null)
has tampered_json "$out" '"verified":false'
has tampered_json_id "$out" '"first_bad":1'
other=$(printf '%064d' 0)
# a key of the right shape but the wrong value: init's checkpoint of the
# empty log does not hold under it
out=$("$A" --db "$DB" verify --pubkey "$other" 2>&1); rc=$?
eq wrong_key_rc "$rc" 1
has wrong_key_msg "$out" "NOT verified: checkpoint 1 has a bad signature"

# usage errors exit 2, failures 1
"$A" frob >/dev/null 2>&1; eq usage_unknown_command $? 2
"$A" history >/dev/null 2>&1; eq usage_history_no_path $? 2
"$A" log --since yesterday >/dev/null 2>&1; eq usage_bad_time $? 2
"$A" log --json --csv >/dev/null 2>&1; eq usage_two_formats $? 2
"$A" verify --user x >/dev/null 2>&1; eq usage_verify_filter $? 2
"$A" --db "$T/nope.db" log >/dev/null 2>&1; eq missing_db $? 1
has version "$("$A" --version)" "coach-audit (coachfs)"
has help "$("$A" --help)" "usage: coach-audit"

# may read, may not write: the query runs and is not recorded
chmod 644 "$DB"
chmod 755 "$T/var"
before=$(audit_q "SELECT count(*) FROM events")
out=$(setpriv --reuid=nobody --regid=nogroup --clear-groups -- "$A" log --action grant_add 2>&1); rc=$?
eq readonly_user_rc "$rc" 0
has readonly_user_rows "$out" "grant_add"
eq readonly_user_unrecorded "$(audit_q "SELECT count(*) FROM events")" "$before"
