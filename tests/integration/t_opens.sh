#!/bin/bash
# Opens from many processes at once (the audit rows they commit are grouped
# into shared transactions): every open succeeds and has exactly its own
# committed row, and the log verifies; while another process holds the
# audit database's write lock longer than the busy timeout, an open whose
# row cannot be committed fails (fail closed) and leaves no row, and every
# open that succeeded has its row; once the lock is free, opens are
# recorded again.
. "$(dirname "$0")/lib.sh"
cfs_users
cfs_init || exit 1
cfs_mount || exit 1
PY=/usr/bin/python3

echo "the shift notes" >"$MNT/doc"
echo "the other notes" >"$MNT/doc2"
chmod 644 "$MNT/doc" "$MNT/doc2"

# opener USER FILE N — open and close FILE N times; prints "ok" or the error
opener() {
	as "$1" $PY -c '
import os, sys
for i in range(int(sys.argv[2])):
    try:
        os.close(os.open(sys.argv[1], os.O_RDONLY))
    except OSError as e:
        print("errno", e.errno, "after", i); sys.exit(0)
print("ok")' "$2" "$3"
}

pids=()
for i in 1 2 3 4 5 6; do
	u=cfs_alice; [ $((i % 2)) = 0 ] && u=cfs_carol
	opener "$u" "$MNT/doc" 150 >"$T/opener.$i" 2>&1 &
	pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
eq concurrent_opens_ok "$(cat "$T"/opener.* | sort | uniq -c | awk '{ print $1, $2 }')" "6 ok"
eq a_row_per_open "$(audit_q "select count(*) from events where action in ('open', 'replay') and path='/doc' and result='allow'")" 900
eq rows_per_user "$(audit_q "select user || '=' || count(*) from events where action in ('open', 'replay') and path='/doc' group by user order by user" | tr '\n' ' ')" "cfs_alice=450 cfs_carol=450 "

# Another process holds the write lock for 4 s (the daemon waits 2 s).
db_lock "$T/var/audit.db" 4
pids=()
for i in 1 2 3 4; do
	opener cfs_alice "$MNT/doc2" 1 >"$T/blocked.$i" 2>&1 &
	pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
# the first to lead waits out the timeout and fails, with every row in its
# transaction; rows that came later may be committed once the lock is free
refused=$(cat "$T"/blocked.* | grep -c "errno 13")
okd=$(cat "$T"/blocked.* | grep -c "^ok")
ok locked_open_refused test "$refused" -ge 1
eq locked_opens_all_answered "$((refused + okd))" 4
db_unlock
sleep 0.5   # the writer retries its queue
eq open_after_lock "$(opener cfs_alice "$MNT/doc2" 1)" ok
ok daemon_alive kill -0 "$DAEMON_PID"
cfs_umount
# a row for every open that succeeded, none for one refused
eq refused_opens_no_rows "$(audit_q "select count(*) from events where path='/doc2' and user='cfs_alice' and result='allow'")" $((okd + 1))
out=$("$BIN/coach-audit" verify --pubkey "$("$BIN/coach-admin" pubkey)" 2>&1); rc=$?
eq log_verifies "$rc" 0
