#!/bin/bash
# SIEM streaming: coach-audit log --follow --json prints every committed
# event as one JSON object per line, in id order, as it is committed; a
# follower restarted with --after LAST_ID neither loses nor repeats an event.
. "$(dirname "$0")/lib.sh"
cfs_users
cfs_init || exit 1
cfs_mount || exit 1
A=$BIN/coach-audit
echo "notes" >"$MNT/n.md"   # class internal: role responder (alice) reads it

follower() { # OUTFILE [extra args] — start a follower in the background
	local out=$1; shift
	"$A" log --follow --json "$@" >"$out" 2>"$out.err" &
	FOLLOWER=$!
}
stop_follower() { kill -TERM "$FOLLOWER" 2>/dev/null; wait "$FOLLOWER"; }
wait_for() { # FILE TEXT — until FILE holds TEXT (5 s at most)
	for _ in $(seq 1 100); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done
	return 1
}

follower "$T/f1"
for i in 1 2 3; do as cfs_alice cat "$MNT/n.md" >/dev/null; done
ok follow_sees_new_events wait_for "$T/f1" '"action":"replay"'
stop_follower
eq follow_stops_cleanly "$?" 0
# every line is one JSON object; ids rise by one each line from the first
check=$(python3 -c '
import json, sys
ids = [json.loads(l)["id"] for l in open(sys.argv[1])]
print("ok" if ids and ids == list(range(ids[0], ids[0] + len(ids))) else "bad %r" % ids)' "$T/f1" 2>&1)
eq follow_json_lines_in_order "$check" ok
has follow_open_row "$(grep '"user":"cfs_alice"' "$T/f1" | grep '"action":"open"')" '"path":"/n.md"'
LAST=$(tail -n 1 "$T/f1" | python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])')

# events while nobody follows, then a follower resumed after the last id seen
for i in 1 2; do as cfs_alice cat "$MNT/n.md" >/dev/null; done
follower "$T/f2" --after "$LAST"
as cfs_alice cat "$MNT/n.md" >/dev/null
ok resumed_sees_events wait_for "$T/f2" '"action":"replay"'
sleep 0.5
stop_follower
cfs_umount   # the daemon's last rows: release, unmount
NEWEST=$(audit_q "select max(id) from events where id <= $(tail -n 1 "$T/f2" | python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])')")
got=$(cat "$T/f1" "$T/f2" | python3 -c '
import json, sys
ids = [json.loads(l)["id"] for l in sys.stdin]
print(len(ids), len(set(ids)), min(ids), max(ids))')
FIRST=$(head -n 1 "$T/f1" | python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])')
eq resumed_no_loss_no_repeat "$got" "$((NEWEST - FIRST + 1)) $((NEWEST - FIRST + 1)) $FIRST $NEWEST"
# every streamed line is the row the database holds
eq streamed_equals_log "$(cat "$T/f1" "$T/f2" | python3 -c '
import json, sys; print(sorted(json.loads(l)["hash"] for l in sys.stdin)[:3])')" \
	"$("$A" log --json --after "$((FIRST - 1))" --until "$(date -u +%Y-%m-%dT%H:%M:%SZ -d '+1 hour')" |
	  python3 -c 'import json, sys, itertools
rows = [r for r in json.load(sys.stdin) if r["id"] <= int(sys.argv[1])]
print(sorted(r["hash"] for r in rows)[:3])' "$NEWEST")"
# --after alone, and the usage errors
eq after_alone "$("$A" log --json --after "$NEWEST" --action open)" "[]"
row_usage() { local out; out=$("$A" "$@" 2>&1); echo "$?:$out"; }
eq after_not_number "$(row_usage log --after x1)" "2:coach-audit: --after 'x1': not an event id"
eq follow_not_for_summary "$(row_usage summary --follow)" "2:coach-audit: --after and --follow are for history and log"
