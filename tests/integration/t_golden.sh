#!/bin/bash
# The golden v2 store (tests/golden/v2, made by the format-2 code and never
# regenerated) on a copy, with today's daemon and tools: offline check and
# audit verification under the committed public key, every plaintext, class
# and attribute as its users see them through a mount, the committed grants
# and link admitting their subjects and nobody else, and the log still
# verifying after the daemon appended to it. tests/unit/test_golden.c reads
# the same files through the library alone.
. "$(dirname "$0")/lib.sh"
G=$TOP/tests/golden/v2
. "$G/users.sh"
golden_v2_users || { fail users "the golden users cannot be made with their uids"; exit 1; }
D=$T/g
golden_copy "$D"
CFG=$D/coachfs.ini; export COACHFS_CONFIG=$CFG
PUB=$G/var/audit.db.pub
gq() { sqlite3 "$D/var/audit.db" "$1"; }

ok check_clean "$BIN/coach-admin" check
ok verify_pinned_key "$BIN/coach-audit" verify --pubkey "$PUB"
eq pubkey_same "$("$BIN/coach-admin" pubkey 2>&1)" "$(cat "$PUB")"
list=$("$BIN/coach-grant" list 2>&1)
no grants_none_invalid grep -q INVALID <<<"$list"
has grant2_approved "$("$BIN/coach-grant" show 2 2>&1)" "cfs_goldadm"
has grant3_revoked "$("$BIN/coach-grant" show 3 2>&1)" "golden revocation"

cfs_mount || exit 1
expect_golden v2 cfs_gold
# each committed grant admits its subject: the rows name the grant
before=$(gq "SELECT max(id) FROM events")
ok plain_grant_reads as cfs_gold cat "$MNT/notes/own.txt"
ok approved_grant_reads as cfs_gold cat "$MNT/secret/plan.md"
eq rows_name_grants "$(gq "SELECT path || ':' || grant_id FROM events WHERE id > $before AND action IN ('open', 'replay')
	AND user = 'cfs_gold' ORDER BY id")" "/notes/own.txt:1
/secret/plan.md:2"
# and nobody else: an admin without a grant, the revoked write grant
no admin_without_grant as cfs_goldadm cat "$MNT/secret/plan.md"
no revoked_write_grant as cfs_gold sh -c "echo x >>'$MNT/notes/own.txt'"
eq own_unchanged "$(as cfs_gold cat "$MNT/notes/own.txt")" "own policy"
# the committed link opens big.md for cfs_gold only
L=$MNT/.links/$(cat "$G/link-token")
eq link_opens "$(as cfs_gold cat "$L" | sha256sum | cut -c1-64)" \
	"$(awk '$1 == "/playbooks/big.md" { print $3 }' "$G/expected.txt")"
no link_other_user as cfs_goldadm cat "$L"
cfs_umount

ok check_after_use "$BIN/coach-admin" check
ok verify_after_use "$BIN/coach-audit" verify --pubkey "$PUB"
ok appended_to_golden_log test "$(gq "SELECT count(*) FROM events")" -gt 48
ok fixture_untouched git -C "$TOP" diff --quiet -- tests/golden/v2
