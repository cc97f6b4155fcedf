# lib.sh — shared set-up for the integration tests: a throwaway store,
# config and mount under one temporary directory, throwaway Unix users, and
# the PASS/FAIL reporting that tests/run.sh counts. Sourced by t_*.sh.
# Every test acts through a real FUSE mount; if it cannot mount, it fails.
set -u
B=${CFS_BUILD:?CFS_BUILD must name the build directory}
BIN=$B/bin
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
T_NAME=$(basename "$0" .sh)
T=$(mktemp -d "/tmp/cfs-$T_NAME.XXXXXX")
chmod 755 "$T"
CFG=$T/coachfs.ini
STORE=$T/store
MNT=$T/mnt
PASSFILE=$T/passphrase
DAEMON_PID=
export COACHFS_CONFIG=$CFG
# Sanitizer builds: every report (the daemon's stderr is /dev/null once it
# detaches) goes to a file that cfs_cleanup turns into a FAIL line.
export ASAN_OPTIONS="log_path=$T/sanitizer:${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="log_path=$T/sanitizer:print_stacktrace=1:${UBSAN_OPTIONS:-}"
export TSAN_OPTIONS="log_path=$T/sanitizer:${TSAN_OPTIONS:-}"

pass() { echo "PASS $T_NAME.$1"; }
fail() { echo "FAIL $T_NAME.$1${2:+: $2}"; }

# ok NAME CMD...  — passes when CMD exits 0
ok() { local n=$1; shift; local out; if out=$("$@" 2>&1); then pass "$n"; else fail "$n" "$(echo "$out" | tail -n 3 | tr '\n' ' ')"; fi; }
# no NAME CMD...  — passes when CMD exits non-zero
no() { local n=$1; shift; if "$@" >/dev/null 2>&1; then fail "$n" "succeeded but should have failed: $*"; else pass "$n"; fi; }
# eq NAME ACTUAL EXPECTED
eq() { if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "got '$2', expected '$3'"; fi; }
# has NAME HAYSTACK NEEDLE
has() { case "$2" in *"$3"*) pass "$1" ;; *) fail "$1" "'$(echo "$2" | head -c 300)' does not contain '$3'" ;; esac; }
# errno_of CMD... — the strerror text a command printed, for EIO/EACCES checks
err_of() { "$@" 2>&1 >/dev/null | head -n 1; }

# Throwaway users: cfs_alice, cfs_bob, cfs_carol; group cfs_soc (alice, carol).
cfs_users() {
	getent group cfs_soc >/dev/null || groupadd cfs_soc
	getent group cfs_admins >/dev/null || groupadd cfs_admins
	for u in cfs_alice cfs_bob cfs_carol cfs_dave; do
		id "$u" >/dev/null 2>&1 || useradd -M -N -g users -s /usr/sbin/nologin "$u"
	done
	usermod -a -G cfs_soc cfs_alice
	usermod -a -G cfs_soc cfs_carol
	usermod -a -G cfs_admins cfs_dave
}
# as USER CMD... — run as that user with their groups
as() { local u=$1; shift; setpriv --reuid="$u" --regid="$(id -g "$u")" --init-groups -- "$@"; }

# Write the test config. Extra INI text may follow as $1 (appended).
cfs_config() {
	cat >"$CFG" <<INI
[store]
path = $STORE
passphrase_file = $PASSFILE
cipher = ${CFS_CIPHER:-auto}

[mount]
hide_denied = ${CFS_HIDE:-yes}

[policy]
db = $T/var/policy.db
default_class = ${CFS_DEFAULT_CLASS:-internal}

[audit]
db = $T/var/audit.db
reads = ${CFS_READS:-every}
flush_ms = 50

[roles]
responder = cfs_alice, @cfs_soc
contractor = cfs_bob
admin = root, @cfs_admins

[class.public]
grant = no
roles = *
writers = admin, responder
export = allow

[class.internal]
grant = no
roles = responder, admin
writers = responder, admin
export = log

[class.sensitive]
grant = yes
max_ttl = 8h
export = deny

[class.secret]
grant = yes
max_ttl = 1h
approval = two-person
export = deny
readers = /usr/bin/less, /usr/bin/head
max_opens = 3

[export]
tools = /usr/bin/cp, /usr/bin/rsync, /usr/bin/scp, /usr/bin/tar, /usr/bin/dd, /usr/bin/curl
${1:-}
INI
}

cfs_init() {
	[ -f "$CFG" ] || cfs_config
	printf 'correct horse battery staple %s\n' "$T_NAME" >"$PASSFILE"
	chmod 600 "$PASSFILE"
	"$BIN/coach-admin" -c "$CFG" init --kdf interactive >"$T/init.out" 2>&1 || {
		fail init "$(cat "$T/init.out")"; return 1; }
}

cfs_mount() {
	mkdir -p "$MNT"
	if [ -n "${CFS_FG:-}" ]; then
		# debugging aid: keep the daemon in the foreground, its stderr in $T/daemon.err
		"$BIN/coachfs" -c "$CFG" -f "$MNT" 2>>"$T/daemon.err" &
		DAEMON_PID=$!
		for _ in $(seq 1 100); do mountpoint -q "$MNT" && break; sleep 0.05; done
		mountpoint -q "$MNT" || { fail mount "$(cat "$T/daemon.err")"; return 1; }
		return 0
	fi
	if ! "$BIN/coachfs" -c "$CFG" "$MNT" 2>"$T/mount.err"; then
		fail mount "coachfs could not mount: $(cat "$T/mount.err")"
		return 1
	fi
	if ! mountpoint -q "$MNT"; then
		fail mount "coachfs returned but $MNT is not a mount point"
		return 1
	fi
	DAEMON_PID=$(pgrep -n -f "^$BIN/coachfs -c $CFG $MNT\$" || true)
}

# Is $MNT in the mount table? (mountpoint(1) fails on the dead mount a
# killed daemon leaves: ENOTCONN.)
cfs_mounted() {
	awk -v m="$MNT" '$2 == m { found = 1 } END { exit !found }' /proc/self/mounts 2>/dev/null
}

# Unmount and wait for the daemon to finish flushing the audit log.
cfs_umount() {
	cfs_mounted || mountpoint -q "$MNT" 2>/dev/null || return 0
	fusermount3 -u "$MNT" 2>/dev/null || fusermount3 -uz "$MNT" 2>/dev/null
	if [ -n "$DAEMON_PID" ]; then
		for _ in $(seq 1 100); do kill -0 "$DAEMON_PID" 2>/dev/null || break; sleep 0.05; done
	fi
	DAEMON_PID=
}

# Stop this test's daemon if it still runs: one that has not unmounted, or
# one started with CFS_FG=1 that mounted after cfs_mount gave up on it.
cfs_stop_daemon() { # pid
	local pid=$1
	[ -n "$pid" ] && grep -qa coachfs "/proc/$pid/cmdline" 2>/dev/null || return 0
	kill "$pid" 2>/dev/null
	for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.05; done
	kill -9 "$pid" 2>/dev/null
}

cfs_cleanup() {
	local pid=$DAEMON_PID
	cfs_umount
	cfs_stop_daemon "$pid"
	# whatever is left (a dead mount after kill -9 included): lazily, regardless
	fusermount3 -uz "$MNT" 2>/dev/null
	cfs_mounted && umount -l "$MNT" 2>/dev/null
	for f in "$T"/sanitizer.*; do
		[ -e "$f" ] || continue
		fail "sanitizer_report_$(basename "$f")" "$(grep -m1 -E 'ERROR|WARNING|runtime error' "$f")"
		sed 's/^/  | /' "$f" | head -n 30 >&2
	done
	[ -n "${CFS_KEEP:-}" ] || rm -rf "$T"
}
trap cfs_cleanup EXIT

# approve ID [USER] — a second admin (cfs_dave unless USER) confirms grant or
# link ID as themselves through the mount (two-person classes)
approve() { as "${2:-cfs_dave}" "$BIN/coach-grant" approve "$1" --mount "$MNT"; }

# The committed golden stores (tests/golden/vN, made by older code): the test
# sets G to one of them.
golden_copy() { # DIR: a copy of the golden store $G with its config and passphrase
	mkdir -p "$1"
	cp -a "$G/store" "$G/var" "$1/"
	sed "s|@DIR@|$1|g" "$G/coachfs.ini.in" >"$1/coachfs.ini"
	cp "$G/passphrase" "$1/passphrase"; chmod 600 "$1/passphrase"
}
# Compare a mount of the store with $G/expected.txt: plaintexts, classes,
# attributes, link, read as USER (default root).
expect_golden() { # PREFIX [USER]
	local p=$1 u=${2:-root} path class sum
	while read -r path class sum; do
		case "$path" in
		*/) eq "${p}_class_${path//\//_}" "$(as "$u" getfattr --absolute-names --only-values -n user.coachfs.class "$MNT$path" 2>&1)" "$class" ;;
		*) if [ "$class" = "->" ]; then
			eq "${p}_symlink" "$(as "$u" readlink "$MNT$path")" "$sum"
		   else
			eq "${p}_class_${path//\//_}" "$(as "$u" getfattr --absolute-names --only-values -n user.coachfs.class "$MNT$path" 2>&1)" "$class"
			eq "${p}_plain_${path//\//_}" "$(as "$u" cat "$MNT$path" | sha256sum | cut -c1-64)" "$sum"
		   fi ;;
		esac
	done <"$G/expected.txt"
	eq "${p}_user_attr" "$(as "$u" getfattr --absolute-names --only-values -n user.note "$MNT/notes/handoff.txt" 2>&1)" "a user attribute"
	eq "${p}_own_export" "$(as "$u" getfattr --absolute-names --only-values -n user.coachfs.export "$MNT/notes/own.txt" 2>&1)" deny
	eq "${p}_own_max_opens" "$(as "$u" getfattr --absolute-names --only-values -n user.coachfs.max_opens "$MNT/notes/own.txt" 2>&1)" 5
	eq "${p}_big_first_line" "$(as "$u" head -n 1 "$MNT/playbooks/big.md")" "line 00000 of the big playbook"
}

# sqlite3 query on the audit database
audit_q() { sqlite3 "$T/var/audit.db" "$1"; }

# The ciphertext file behind a mount path
backing() { echo "$STORE/tree$1"; }

# flip_byte FILE OFFSET — invert every bit of one byte in place (writing a
# fixed value would leave a byte that already had it unchanged, 1 time in 256)
flip_byte() {
	python3 -c 'import sys
p, o = sys.argv[1], int(sys.argv[2])
with open(p, "r+b") as f:
    f.seek(o); b = f.read(1)
    if len(b) != 1: sys.exit("flip_byte: %s has no byte at %d" % (p, o))
    f.seek(o); f.write(bytes([b[0] ^ 0xff]))' "$1" "$2"
}

# db_lock DB [SECONDS] — another process takes DB's write lock and holds it
# for SECONDS, or until db_unlock when SECONDS is 0 or absent. It waits up to
# 30 s for the lock (the daemon's own writer may hold it for a moment), and
# db_lock returns only once the lock is held, so nothing after it races the
# locker. db_unlock ends the hold early and waits for the locker to exit.
db_lock() {
	rm -f "$T/dblock.fifo" "$T/dblock.ready"
	mkfifo "$T/dblock.fifo" || return 1
	/usr/bin/python3 -c '
import select, sqlite3, sys
db = sqlite3.connect(sys.argv[1], timeout=30, isolation_level=None)
db.execute("BEGIN EXCLUSIVE")
db.execute("CREATE TABLE IF NOT EXISTS zz_lock(x)")
open(sys.argv[2], "w").close()
secs = float(sys.argv[3])
select.select([sys.stdin], [], [], secs if secs > 0 else None)
db.execute("ROLLBACK")
' "$1" "$T/dblock.ready" "${2:-0}" <"$T/dblock.fifo" &
	DB_LOCK_PID=$!
	exec 9>"$T/dblock.fifo"
	local _
	for _ in $(seq 1 400); do
		[ -e "$T/dblock.ready" ] && return 0
		kill -0 "$DB_LOCK_PID" 2>/dev/null || break
		sleep 0.1
	done
	fail "db_lock_$(basename "$1")" "could not take the write lock on $1"
	return 1
}
db_unlock() {
	exec 9>&-
	wait "$DB_LOCK_PID"
	rm -f "$T/dblock.fifo" "$T/dblock.ready"
}
