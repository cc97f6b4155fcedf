#!/bin/bash
# coach-audit summary --by: counts grouped by any of user, file, action and
# result, busiest first then by key, over --since/--until and the other
# filters, as text, JSON and CSV. Exact output on a log of known rows (a
# copy, read only), hostile names escaped for each format; then the counts
# of a real mount's log equal the database's.
. "$(dirname "$0")/lib.sh"
cfs_users
cfs_init || exit 1
A=$BIN/coach-audit

# ---- a log of known rows: ts in seconds 1000..1011 (microseconds below)
cp "$T/var/audit.db" "$T/k.db"
ins() { # TS USER PATH ACTION RESULT
	sqlite3 "$T/k.db" "insert into events(ts, user, path, action, result, prev_hash, hash)
		values ($1 * 1000000, $2, $3, '$4', '$5', zeroblob(32), zeroblob(32))"
}
ins 1000 "'alice'" "'/a.md'" open allow
ins 1001 "'alice'" "'/a.md'" read allow
ins 1002 "'alice'" "'/a.md'" read allow
ins 1003 "'alice'" "'/b.md'" open allow
ins 1004 "'bob'" "'/a.md'" open deny
ins 1005 "'bob'" "'/a.md'" open deny
ins 1006 "'bob'" "'/b.md'" export flag
ins 1007 "NULL" "NULL" mount allow
ins 1008 "'ev\"il,'||char(10)||'x'" "'/<b>.md'" open allow
ins 1009 "'alice'" "'/a.md'" read allow
ins 1010 "'bob'" "'/a.md'" open deny
ins 1011 "'alice'" "'/a.md'" read allow
K=(--db "$T/k.db")

eq by_user_text "$("$A" "${K[@]}" summary --by user)" "     COUNT  user
         6  alice
         4  bob
         1  -
         1  ev\"il,\\x0ax
events: 12 in 4 groups"
eq by_user_file_text "$("$A" "${K[@]}" summary --by user,file)" "     COUNT  user              file
         5  alice             /a.md
         3  bob               /a.md
         1  -                 -
         1  alice             /b.md
         1  bob               /b.md
         1  ev\"il,\\x0ax       /<b>.md
events: 12 in 6 groups"
eq by_file_action_result_csv "$("$A" "${K[@]}" summary --by file,action,result --csv | tr -d '\r')" \
"file,action,result,count
/a.md,read,allow,4
/a.md,open,deny,3
,mount,allow,1
/<b>.md,open,allow,1
/a.md,open,allow,1
/b.md,export,flag,1
/b.md,open,allow,1"
eq by_user_json "$("$A" "${K[@]}" summary --by result,user --json)" '{"by":["result","user"],
"groups":[
  {"result":"allow","user":"alice","count":6},
  {"result":"deny","user":"bob","count":3},
  {"result":"allow","user":null,"count":1},
  {"result":"allow","user":"ev\"il,\nx","count":1},
  {"result":"flag","user":"bob","count":1}
],
"events":12
}'
ok by_json_parses python3 -c 'import json,sys; json.load(sys.stdin)' \
	< <("$A" "${K[@]}" summary --by user,file --json)
eq by_csv_hostile "$("$A" "${K[@]}" summary --by user --csv | tr -d '\r' | tail -n 2)" '"ev""il,
x",1'
# the time window and the filters narrow it; the words are shown
eq by_since_until "$("$A" "${K[@]}" summary --by action --since @1004 --until @1008 | tr '\n' '|')" \
	"filter: since=1970-01-01T00:16:44Z until=1970-01-01T00:16:48Z|     COUNT  action|         2  open|         1  export|         1  mount|events: 4 in 3 groups|"
eq by_user_filter "$("$A" "${K[@]}" summary --by file --user bob --result deny --csv | tr -d '\r')" \
"file,count
/a.md,3"
eq by_none_text "$("$A" "${K[@]}" summary --by user --since @2000)" "filter: since=1970-01-01T00:33:20Z
     COUNT  user
  (none)
events: 0 in 0 groups"
eq by_none_json "$("$A" "${K[@]}" summary --by user --since @2000 --json)" '{"by":["user"],
"groups":[],
"events":0
}'
row_usage() { local o; o=$("$A" "$@" 2>&1); echo "$?:$o"; }
eq by_unknown "$(row_usage "${K[@]}" summary --by user,host)" \
	"2:coach-audit: --by: 'host' is not one of user, file, action, result"
eq by_twice "$(row_usage "${K[@]}" summary --by user,user)" "2:coach-audit: --by: 'user' twice"
eq by_empty "$(row_usage "${K[@]}" summary --by ,)" \
	"2:coach-audit: --by: name one or more of user, file, action, result"
eq by_only_summary "$(row_usage "${K[@]}" log --by user)" "2:coach-audit: --by is for summary"

# ---- a real mount: the counts are the database's, and the query is recorded
cfs_mount || exit 1
echo notes >"$MNT/n.md"
for i in 1 2 3; do as cfs_alice cat "$MNT/n.md" >/dev/null; done
as cfs_bob cat "$MNT/n.md" >/dev/null 2>&1
cfs_umount
got=$("$A" summary --by user,action --csv | tr -d '\r' | grep '^cfs_alice,read,')
eq live_alice_reads "$got" "cfs_alice,read,$(audit_q "select count(*) from events where user = 'cfs_alice' and action = 'read'")"
eq live_recorded "$(audit_q "select reason from events where action = 'audit_query' order by id desc limit 1")" \
	"summary by=user,action"
