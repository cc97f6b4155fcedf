#!/bin/bash
# coach-audit report --html: one self-contained page, rendered in headless
# Chromium. Its DOM holds the users, the files, the counts of opens, reads,
# denials and exports per user and file, the grants (from the log's
# grant_add/grant_revoke rows) and the verify status (VERIFIED, or NOT
# VERIFIED for a tampered copy); a hostile file name appears as text, never
# as markup; nothing is fetched; the screenshot is a non-blank PNG.
. "$(dirname "$0")/lib.sh"
cfs_users
cfs_init || exit 1
cfs_mount || exit 1
A=$BIN/coach-audit
G=$BIN/coach-grant
HERE=$(cd "$(dirname "$0")" && pwd)
PK=$("$BIN/coach-admin" pubkey)
command -v chromium >/dev/null || { fail chromium "chromium is not installed (make deps)"; exit 1; }

# material: internal notes, a public file bob may not write, a sensitive
# directory bob gets (and loses) a grant on, and a hostile name
echo notes >"$MNT/n.md"
mkdir "$MNT/pub" && echo open >"$MNT/pub/p.txt"
setfattr -n user.coachfs.class -v public "$MNT/pub"
chmod -R a+rwX "$MNT/pub"
mkdir "$MNT/sens" && echo secret >"$MNT/sens/s.md"
setfattr -n user.coachfs.class -v sensitive "$MNT/sens"
chmod -R a+rX "$MNT/sens"
HOSTILE_DIR='<script>alert(1)<'
HOSTILE_FILE="script>\"q'&amp;.md"
mkdir "$MNT/$HOSTILE_DIR" && echo boo >"$MNT/$HOSTILE_DIR/$HOSTILE_FILE"
chmod -R a+rX "$MNT/$HOSTILE_DIR"
HOSTILE="/$HOSTILE_DIR/$HOSTILE_FILE"

for i in 1 2 3; do as cfs_alice cat "$MNT/n.md" >/dev/null; done
as cfs_alice cat "$MNT$HOSTILE" >/dev/null
for i in 1 2; do as cfs_bob sh -c "echo x >>'$MNT/pub/p.txt'" 2>/dev/null; done
mkdir -m 777 "$T/out"
as cfs_alice cp "$MNT/n.md" "$T/out/n.copy"  # an export (class internal: logged)
GID=$("$G" add cfs_bob /sens --ttl 1h --reason "report test" 2>/dev/null)
as cfs_bob cat "$MNT/sens/s.md" >/dev/null
"$G" revoke "$GID" --reason "report done" >/dev/null
cfs_umount   # every row committed and sealed
q() { audit_q "$1"; }

render() { # HTML OUT — the DOM after layout, and a screenshot OUT.png
	local flags=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run
		--disable-background-networking --disable-component-update --disable-sync
		--user-data-dir="$T/chromium" --window-size=1000,800)
	timeout 60 chromium "${flags[@]}" --dump-dom "file://$1" >"$2.dom" 2>"$2.err" &&
	timeout 60 chromium "${flags[@]}" --screenshot="$2.png" "file://$1" >>"$2.err" 2>&1
}
# the rows of table ID in the DOM, cells joined by |
table() { # DOM ID
	python3 - "$1" "$2" <<'PY'
import html.parser, sys
class P(html.parser.HTMLParser):
    def __init__(s):
        super().__init__(); s.on = 0; s.rows = []; s.cell = None
    def handle_starttag(s, t, a):
        if t == "table" and dict(a).get("id") == sys.argv[2]: s.on = 1
        elif s.on and t == "tr": s.rows.append([])
        elif s.on and t in ("td", "th"): s.cell = ""
    def handle_endtag(s, t):
        if t == "table": s.on = 0
        elif s.on and t in ("td", "th") and s.cell is not None:
            s.rows[-1].append(s.cell); s.cell = None
    def handle_data(s, d):
        if s.cell is not None: s.cell += d
p = P(); p.feed(open(sys.argv[1], encoding="utf-8").read())
for r in p.rows: print("|".join(r))
PY
}
tags() { # DOM — every element name in the DOM, sorted, unique
	python3 -c '
import html.parser, sys
class P(html.parser.HTMLParser):
    def __init__(s): super().__init__(); s.t = set()
    def handle_starttag(s, t, a): s.t.add(t)
p = P(); p.feed(open(sys.argv[1], encoding="utf-8").read()); print(" ".join(sorted(p.t)))' "$1"
}
text_of() { # DOM ID — the text of the element with that id
	python3 - "$1" "$2" <<'PY'
import html.parser, sys
class P(html.parser.HTMLParser):
    def __init__(s): super().__init__(); s.depth = 0; s.text = ""
    def handle_starttag(s, t, a):
        if s.depth or dict(a).get("id") == sys.argv[2]: s.depth += 1
    def handle_endtag(s, t):
        if s.depth: s.depth -= 1
    def handle_data(s, d):
        if s.depth: s.text += d
p = P(); p.feed(open(sys.argv[1], encoding="utf-8").read()); print(p.text)
PY
}

out=$("$A" report --html "$T/r.html" --pubkey "$PK" 2>"$T/report.err")
eq report_exit "$?" 0
has report_says "$out" "wrote $T/r.html"
has report_says_verified "$out" "the log verified"
ok rendered render "$T/r.html" "$T/r"
DOM=$T/r.dom
has verify_ok "$(text_of "$DOM" verify)" "Audit log VERIFIED"
# (the report's own audit_query row included: it is written first)
has verify_counts "$(text_of "$DOM" verify)" "$(q "select count(*) from events") events"
T_ACT=$(table "$DOM" activity)
# user|file|opens|reads|denials|exports|events, each equal to the log's count
row_of() { echo "$T_ACT" | awk -F'|' -v u="$1" -v p="$2" '$1 == u && $2 == p'; }
cnt() { q "select count(*) from events where user = '$1' and path = '$2' and $3"; }
for pair in "cfs_alice|/n.md" "cfs_bob|/pub/p.txt" "cfs_bob|/sens/s.md"; do
	u=${pair%%|*} p=${pair#*|}
	want="$u|$p|$(cnt "$u" "$p" "action in ('open','replay') and result <> 'deny'")|$(cnt "$u" "$p" "action = 'read' and result <> 'deny'")|$(cnt "$u" "$p" "result = 'deny'")|$(cnt "$u" "$p" "action = 'export'")|$(cnt "$u" "$p" 1)"
	eq "activity_row_$u${p//\//_}" "$(row_of "$u" "$p")" "$want"
done
eq bob_denials "$(row_of cfs_bob /pub/p.txt | cut -d'|' -f5)" 2
ok alice_export test "$(row_of cfs_alice /n.md | cut -d'|' -f6)" -ge 1
eq card_denials "$(text_of "$DOM" denials)" "$(q "select count(*) from events where result = 'deny'")denials"
eq card_events "$(text_of "$DOM" events)" "$(q "select count(*) from events")events"
# the grant, as a bar and a row: added, then revoked
G_ROW=$(table "$DOM" grants | awk -F'|' -v g="$GID" '$1 == g')
has grant_row_subject "$G_ROW" "$GID|cfs_bob (uid $(id -u cfs_bob))|/sens|"
ok grant_row_revoked test "$(echo "$G_ROW" | cut -d'|' -f6 | grep -c Z)" = 1
ok grant_bar_drawn grep -q '<rect[^>]*fill="#a0aec0"' "$T/r.html"
# the hostile name: text in the table, never markup
eq hostile_as_text "$(row_of cfs_alice "$HOSTILE" | cut -d'|' -f2)" "$HOSTILE"
eq no_script_element "$(tags "$DOM" | grep -cw script)" 0
eq only_page_elements "$(tags "$DOM")" "b body code div g h1 h2 head html line meta p rect span strong style svg table tbody td text th thead time title tr"
ok hostile_escaped_in_file grep -qF '&lt;script&gt;alert(1)&lt;/script&gt;&quot;q&#39;&amp;amp;.md' "$T/r.html"
no nothing_fetched grep -qiE '(src|href)=|url\(|@import' "$T/r.html"
has csp "$(cat "$T/r.html")" "Content-Security-Policy\" content=\"default-src 'none'"
# a non-blank screenshot of the window's size
read -r size colors nonwhite <<<"$(python3 "$HERE/png_check.py" "$T/r.png")"
eq screenshot_size "$size" 1000x800
ok screenshot_colors test "$colors" -ge 16
ok screenshot_not_blank test "${nonwhite%\%}" -ge 3

# a tampered copy: NOT VERIFIED, prominently
cp "$T/var/audit.db" "$T/copy.db"
sqlite3 "$T/copy.db" "drop trigger events_no_update; update events set path = '/x' where id = 3"
out=$("$A" --db "$T/copy.db" report --html "$T/bad.html" --pubkey "$PK" 2>&1)
eq tampered_exit "$?" 0
has tampered_says "$out" "the log NOT verified"
ok rendered_bad render "$T/bad.html" "$T/bad"
has verify_bad "$(text_of "$T/bad.dom" verify)" "Audit log NOT VERIFIED"
has verify_bad_names_event "$(text_of "$T/bad.dom" verify)" "event 3"

# forged times at both ends of the range: drawn (clamped), no overflow
cp "$T/var/audit.db" "$T/forged.db"
sqlite3 "$T/forged.db" "insert into events(ts, user, path, action, result, prev_hash, hash) values
	(9223372036854775807, 'forger', '/late', 'open', 'allow', x'00', x'00'),
	(-5, 'forger', '/early', 'open', 'deny', x'00', x'00')"
out=$("$A" --db "$T/forged.db" report --html "$T/forged.html" --pubkey "$PK" 2>&1)
eq forged_times_exit "$?" 0
eq forged_times_rows "$(table "$T/forged.html" activity | grep -c '^forger|')" 2
has forged_not_verified "$out" "NOT verified"

# PATH and the time window narrow it; the usage errors
"$A" report --html "$T/p.html" --pubkey "$PK" /pub >/dev/null 2>&1
eq path_narrows "$(grep -c '/n.md' "$T/p.html")" 0
has path_kept "$(cat "$T/p.html")" "/pub/p.txt"
"$A" report --html "$T/f.html" --pubkey "$PK" --since +1h >/dev/null 2>&1
has future_empty "$(cat "$T/f.html")" "<b>0</b>events"
row_usage() { local o; o=$("$A" "$@" 2>&1); echo "$?:$o"; }
eq report_needs_html "$(row_usage report)" "2:coach-audit: report needs --html FILE"
eq html_only_report "$(row_usage log --html x)" "2:coach-audit: --html is for report"
eq report_no_user_filter "$(row_usage report --html x --user a)" \
	"2:coach-audit: report takes --since, --until and a PATH, no other filter"
