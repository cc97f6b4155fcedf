#!/bin/bash
# coach-audit forward --syslog: every event, in id order, one datagram each
# in the local syslog format (facility authpriv, the event as JSON), to a
# receiver on a unix datagram socket (syslog_recv.py stands in for rsyslog
# or journald); a stored cursor so that a restart neither loses nor repeats
# an event: after kill -9 the only repeats are the events sent since the
# cursor was last saved (the documented window, <= 256), after SIGTERM none;
# a receiver that is down, then up again, loses nothing.
. "$(dirname "$0")/lib.sh"
cfs_users
cfs_init || exit 1
cfs_mount || exit 1
A=$BIN/coach-audit
HERE=$(cd "$(dirname "$0")" && pwd)
RECV="python3 $HERE/syslog_recv.py"
CHECK="python3 $HERE/syslog_check.py"
head -c 8388608 /dev/urandom >"$T/big"
cp "$T/big" "$MNT/big.bin"   # class internal: alice (responder) reads it
echo notes >"$MNT/n.md"
mkdir "$MNT/pub" && echo open >"$MNT/pub/p.txt"
setfattr -n user.coachfs.class -v public "$MNT/pub"
chmod -R a+rwX "$MNT/pub"

reads() { # N: about N read rows (4 KiB requests, every read audited)
	as cfs_alice dd if="$MNT/big.bin" of=/dev/null bs=4k count="$1" status=none
}
receiver() { # SOCKET OUT [DELAY] — start one in the background
	rm -f "$1"
	$RECV "$@" &
	RECEIVER=$!
	for _ in $(seq 1 100); do [ -S "$1" ] && return 0; sleep 0.05; done
	return 1
}
lines() { [ -f "$1" ] && wc -l <"$1" || echo 0; }
wait_lines() { # FILE N — until FILE has at least N lines (20 s at most)
	for _ in $(seq 1 400); do [ "$(lines "$1")" -ge "$2" ] && return 0; sleep 0.05; done
	return 1
}
settle() { # FILE — until FILE stops growing
	local a b
	a=$(lines "$1")
	while :; do sleep 0.5; b=$(lines "$1"); [ "$a" = "$b" ] && return 0; a=$b; done
}
cursor_id() { sed -n 's/^coachfs-forward-cursor-1 id=\([0-9]*\) .*/\1/p' "$1"; }
maxid() { audit_q "select max(id) from events"; }
# read rows are queued and committed in batches: wait until they all are
committed() {
	local a b
	a=$(maxid)
	while :; do sleep 0.3; b=$(maxid); [ "$a" = "$b" ] && return 0; a=$b; done
}

# ---- 1. every event, in order, every field, one pass (--once) --------------
as cfs_bob sh -c "echo x >>'$MNT/pub/p.txt'" 2>/dev/null   # a denial: bob may not write
echo damaged >"$MNT/t.md"
flip_byte "$STORE/tree/t.md" 40   # inside the header's nonce: a tamper row
has tamper_refused "$(err_of cat "$MNT/t.md")" "Input/output error"
reads 40
committed
receiver "$T/s1.sock" "$T/r1"
out=$("$A" forward --syslog --socket "$T/s1.sock" --cursor "$T/c1" --once 2>"$T/f1.err")
eq once_exit "$?" 0
M1=$(maxid)
has once_says "$out" "the cursor is at event $M1"
wait_lines "$T/r1" "$M1"
eq once_every_event_in_order "$($CHECK ids "$T/r1" | tr '\n' ' ')" "$(seq 1 "$M1" | tr '\n' ' ')"
"$A" log --json --until +1h >"$T/log.json"
eq once_fields_equal_the_log "$($CHECK fields "$T/r1" "$T/log.json" 2>&1)" ok
has denial_is_warning "$(grep '"user":"cfs_bob"' "$T/r1" | grep '"result":"deny"' | head -n 1)" "<84>"
has tamper_is_critical "$(grep '"action":"tamper"' "$T/r1" | grep '"path":"/t.md"' | head -n 1)" "<82>"
eq cursor_file "$(cat "$T/c1")" \
	"coachfs-forward-cursor-1 id=$M1 hash=$(audit_q "select lower(hex(hash)) from events where id = $M1")"
eq cursor_mode "$(stat -c %a "$T/c1")" 600
# nothing new but the log query above and its own audit_query row
out=$("$A" forward --syslog --socket "$T/s1.sock" --cursor "$T/c1" --once 2>&1)
has once_again_two "$out" "forwarded 2 events; the cursor is at event $((M1 + 2))"
wait_lines "$T/r1" $((M1 + 2))
eq once_again_no_repeat "$($CHECK ids "$T/r1" | sort -n | uniq -d | wc -l)" 0
kill "$RECEIVER" 2>/dev/null; wait "$RECEIVER" 2>/dev/null

# ---- 2. kill -9 mid-stream, restart: nothing lost, repeats only in the window
reads 1500
committed
START=$(maxid)
receiver "$T/s2.sock" "$T/r2" 0.002
"$A" forward --syslog --socket "$T/s2.sock" --cursor "$T/c2" 2>"$T/f2.err" &
FWD=$!
wait_lines "$T/r2" 700
kill -9 "$FWD"; wait "$FWD" 2>/dev/null
settle "$T/r2"
C=$(cursor_id "$T/c2")
R=$($CHECK ids "$T/r2" | sort -n | tail -n 1)
ok killed_mid_stream test "$R" -lt "$START"
ok cursor_behind_receiver test "${C:-0}" -le "$R" -a "$((R - ${C:-0}))" -le 256
"$A" forward --syslog --socket "$T/s2.sock" --cursor "$T/c2" --once >/dev/null 2>>"$T/f2.err"
eq restart_exit "$?" 0
M2=$(cursor_id "$T/c2")
wait_lines "$T/r2" $((M2 + R - C))
settle "$T/r2"
$CHECK ids "$T/r2" >"$T/ids2"
eq kill9_nothing_lost "$(sort -nu "$T/ids2" | tr '\n' ' ')" "$(seq 1 "$M2" | tr '\n' ' ')"
eq kill9_repeats_are_the_window "$(sort -n "$T/ids2" | uniq -d | tr '\n' ' ')" \
	"$( ((R > C)) && seq $((C + 1)) "$R" | tr '\n' ' ')"
eq kill9_no_triple "$(sort -n "$T/ids2" | uniq -c | awk '$1 > 2' | wc -l)" 0

# ---- 3. SIGTERM mid-stream: the window is closed, no repeat at all ----------
reads 1500
before=$(lines "$T/r2")
"$A" forward --syslog --socket "$T/s2.sock" --cursor "$T/c2" >"$T/f3.out" 2>>"$T/f3.err" &
FWD=$!
wait_lines "$T/r2" $((before + 500))
kill -TERM "$FWD"; wait "$FWD"
eq sigterm_exit "$?" 0
settle "$T/r2"
C=$(cursor_id "$T/c2")
R=$($CHECK ids "$T/r2" | sort -n | tail -n 1)
ok sigterm_mid_stream test "$R" -lt "$(maxid)"
eq sigterm_cursor_is_last_accepted "$C" "$R"
has sigterm_says "$(cat "$T/f3.out")" "the cursor is at event $C"
"$A" forward --syslog --socket "$T/s2.sock" --cursor "$T/c2" --once >/dev/null 2>>"$T/f3.err"
M3=$(cursor_id "$T/c2")
wait_lines "$T/r2" $((M3 + R - ${M2}))
settle "$T/r2"
$CHECK ids "$T/r2" >"$T/ids3"
eq sigterm_nothing_lost "$(sort -nu "$T/ids3" | tr '\n' ' ')" "$(seq 1 "$M3" | tr '\n' ' ')"
eq sigterm_no_repeat "$(awk -v m="$M2" '$1 > m' "$T/ids3" | sort -n | uniq -d | wc -l)" 0
kill "$RECEIVER" 2>/dev/null; wait "$RECEIVER" 2>/dev/null

# ---- 4. the receiver down at the start, then up, then down and up again ----
"$A" forward --syslog --socket "$T/s4.sock" --cursor "$T/c4" >/dev/null 2>"$T/f4.err" &
FWD=$!
sleep 1
has down_reported "$(cat "$T/f4.err")" "retrying with backoff (the cursor stays at event 0)"
eq down_cursor_not_moved "$(cat "$T/c4" 2>/dev/null)" ""
receiver "$T/s4.sock" "$T/r4"
M4=$(maxid)
ok up_all_arrive wait_lines "$T/r4" "$M4"
settle "$T/r4"
kill -9 "$RECEIVER"; wait "$RECEIVER" 2>/dev/null   # its socket file stays: refused
for i in 1 2 3; do as cfs_alice cat "$MNT/n.md" >/dev/null; done
sleep 1
has down_again_reported "$(cat "$T/f4.err")" "Connection refused"
M5=$(maxid)
receiver "$T/s4.sock" "$T/r4"
ok up_again_arrive wait_lines "$T/r4" "$M5"
has up_reported "$(cat "$T/f4.err")" "accepts events again"
kill -TERM "$FWD"; wait "$FWD"
eq down_up_exit "$?" 0
eq down_up_nothing_lost_no_repeat "$($CHECK ids "$T/r4" | tr '\n' ' ')" \
	"$(seq 1 "$(cursor_id "$T/c4")" | tr '\n' ' ')"
kill "$RECEIVER" 2>/dev/null; wait "$RECEIVER" 2>/dev/null

# ---- 5. the defaults: /dev/log and /var/lib/coachfs/forward.cursor ---------
# in a private mount namespace, with tmpfs over /dev and /var/lib
cat >"$T/ns.sh" <<NS
set -e
touch "$T/null"
mount --bind /dev/null "$T/null"
mount -t tmpfs tmpfs /dev
touch /dev/null && mount --bind "$T/null" /dev/null
mount -t tmpfs tmpfs /var/lib
$RECV /dev/log "$T/r5" &
for _ in \$(seq 1 100); do [ -S /dev/log ] && break; sleep 0.05; done
"$A" forward --syslog --once >"$T/f5.out" 2>&1
sleep 0.5
kill \$!
stat -c '%a %n' /var/lib/coachfs /var/lib/coachfs/forward.cursor
NS
out=$(unshare -m --propagation private bash "$T/ns.sh" 2>&1)
eq default_paths "$out" "700 /var/lib/coachfs
600 /var/lib/coachfs/forward.cursor"
eq default_socket_gets_all "$($CHECK ids "$T/r5" | wc -l)" "$(sed -n 's/^forwarded \([0-9]*\) events.*/\1/p' "$T/f5.out")"
ok default_cursor_is_private test ! -e /var/lib/coachfs/forward.cursor -o -n "${CFS_KEEP:-}"

# ---- 6. refusals --------------------------------------------------------------
row_usage() { local o; o=$("$A" "$@" 2>&1); echo "$?:$o"; }
eq forward_needs_syslog "$(row_usage forward)" "2:coach-audit: forward needs a destination: --syslog"
eq once_only_forward "$(row_usage log --once)" \
	"2:coach-audit: --syslog, --cursor, --socket and --once are for forward"
eq forward_no_filters "$(row_usage forward --syslog --user x)" \
	"2:coach-audit: forward ships every event; it takes no filters"
printf 'coachfs-forward-cursor-1 id=12 hash=zz\n' >"$T/bad.cursor"; chmod 600 "$T/bad.cursor"
has bad_cursor_refused "$(row_usage forward --syslog --socket "$T/none" --cursor "$T/bad.cursor" --once)" \
	"1:coach-audit: cursor $T/bad.cursor: not a coach-audit forward cursor"
exec 9>"$T/c1.lock"; flock 9
has second_forwarder_refused "$(row_usage forward --syslog --socket "$T/none" --cursor "$T/c1" --once)" \
	"another coach-audit forward is using it"
exec 9>&-
# another log's cursor (or a log rolled back below it): refused at the start
cfs_umount
sed "s/hash=[0-9a-f]*/hash=$(printf '%064d' 0)/" "$T/c1" >"$T/other.cursor"; chmod 600 "$T/other.cursor"
has other_log_cursor_refused "$(row_usage --db "$T/var/audit.db" forward --syslog --socket "$T/none" --cursor "$T/other.cursor" --once)" \
	"1:coach-audit: forward: the log does not hold event $(cursor_id "$T/c1") as it was sent"
# a log rewritten under the cursor: the next event does not chain, forward stops
C1=$(cursor_id "$T/c1")
sqlite3 "$T/var/audit.db" "drop trigger events_no_update; update events set prev_hash = zeroblob(32) where id = $((C1 + 1))"
has rewritten_log_stops "$(row_usage --db "$T/var/audit.db" forward --syslog --socket "$T/none" --cursor "$T/c1" --once)" \
	"1:coach-audit: forward: event $((C1 + 1)) does not chain to event $C1 sent before"
