#!/bin/bash
# run.sh BUILD — coachfs against gocryptfs, bindfs and the raw directory, all
# over one fresh tmpfs, in one run (the README's Performance section; issues 7 and 15).
#
#   make bench                      (deps, build, then this script; as root)
#   BENCH_REPS=3                    repetitions of every workload (median, min–max)
#   BENCH_SIZE=1G                   sequential file size (K/M/G suffix, or MiB)
#   BENCH_RAND_SIZE=256M            file the random reads cover
#   BENCH_RAND_TIME=10              seconds per random-read run
#   BENCH_FILES=5000                small files (4 KiB each)
#   BENCH_OPENS=10000               open+close pairs
#   BENCH_FS="raw bindfs gocryptfs fusefloor coachfs coachfs_open coachfs_nohide"   what to measure
#   BENCH_KEEP=1                    leave the tmpfs mounted (with its mounts) for perf
#   BENCH_OUT=FILE                  where the report goes too (default BUILD/bench/report.md)
#
# fusefloor (tests/bench/fusefloor.c) is a bare passthrough with direct_io on
# every open and nothing else: no crypto, no decision, no audit. It is the
# floor every direct_io FUSE filesystem stands on, so its ratio says how
# much of coachfs's cost is the round trip each request makes.
# Each filesystem gets its own backing directory and mount point on the
# tmpfs; coachfs runs three times: [audit] reads = every and reads = open
# (both hide_denied = yes), and hide_denied = no (the open+close workloads and
# create only: the workloads that setting changes).
# Cold reads drop the page cache first (coachfs uses direct_io, so its reads
# always reach the daemon anyway; the ciphertext itself stays in tmpfs).
# Random reads use O_DIRECT everywhere so that each one reaches the
# filesystem under test rather than a page cache (coachfs never caches).
# Every mount is undone on exit, whatever happens.
set -u
export LC_ALL=C

B=$(cd "${1:-build}" 2>/dev/null && pwd) || { echo "run.sh: no build directory '${1:-build}'" >&2; exit 2; }
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
REPS=${BENCH_REPS:-3}
RAND_TIME=${BENCH_RAND_TIME:-10}
NFILES=${BENCH_FILES:-5000}
NOPENS=${BENCH_OPENS:-10000}
FS_LIST=${BENCH_FS:-raw bindfs gocryptfs fusefloor coachfs coachfs_open coachfs_nohide}
OUT=${BENCH_OUT:-$B/bench/report.md}

die() { echo "run.sh: $*" >&2; exit 1; }
# size_mib TEXT — "1G", "512M", "65536K" or a bare number of MiB
size_mib() {
	local v=$1 n
	case "$v" in
	*[gG]) n=${v%?}; [[ $n =~ ^[0-9]+$ ]] && echo $((n * 1024)) ;;
	*[mM]) n=${v%?}; [[ $n =~ ^[0-9]+$ ]] && echo "$n" ;;
	*[kK]) n=${v%?}; [[ $n =~ ^[0-9]+$ ]] && echo $((n / 1024)) ;;
	*) [[ $v =~ ^[0-9]+$ ]] && echo "$v" ;;
	esac
}
SIZE_MIB=$(size_mib "${BENCH_SIZE:-1G}") || true
RAND_MIB=$(size_mib "${BENCH_RAND_SIZE:-256M}") || true
[ -n "$SIZE_MIB" ] && [ "$SIZE_MIB" -ge 1 ] || die "BENCH_SIZE '${BENCH_SIZE:-}' is not a size like 1G or 256M"
[ -n "$RAND_MIB" ] && [ "$RAND_MIB" -ge 1 ] || die "BENCH_RAND_SIZE '${BENCH_RAND_SIZE:-}' is not a size"
for v in REPS RAND_TIME NFILES NOPENS; do
	[[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "BENCH_$v must be a positive number, not '${!v}'"
done
[ "$(id -u)" = 0 ] || die "must run as root (it mounts a tmpfs and FUSE filesystems, and drops caches)"
[ -x "$B/bin/coachfs" ] && [ -x "$B/bin/coach-admin" ] || die "$B/bin/coachfs missing: run 'make' first"
for h in openclose smallfiles fusefloor; do
	[ -x "$B/bench/$h" ] || die "$B/bench/$h missing: run 'make bench' (it builds tests/bench/*.c)"
done
for t in fio python3 fusermount3; do
	command -v "$t" >/dev/null || die "$t is missing (tools/deps.sh --bench installs it)"
done

# ---- the tmpfs and the mounts ----------------------------------------------

T=$(mktemp -d /tmp/cfs-bench.XXXXXX) || die "mktemp failed"
TMPFS_MIB=$((SIZE_MIB * 2 + RAND_MIB * 8 + 2048))
MOUNTS=()        # mount points to undo, in order
DAEMONS=()       # coachfs daemon pids (to wait for their audit flush)
cleanup() {
	local m i
	trap - EXIT INT TERM
	if [ -n "${BENCH_KEEP:-}" ]; then
		echo "BENCH_KEEP: left $T mounted; undo with: for m in ${MOUNTS[*]}; do fusermount3 -u \$m; done; umount $T"
		return
	fi
	for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do
		m=${MOUNTS[$i]}
		mountpoint -q "$m" || continue
		fusermount3 -u "$m" 2>/dev/null || fusermount3 -uz "$m" 2>/dev/null || umount -l "$m"
	done
	for p in "${DAEMONS[@]}"; do
		for _ in $(seq 1 200); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
	done
	if mountpoint -q "$T"; then
		umount "$T" 2>/dev/null || umount -l "$T"
	fi
	rmdir "$T" 2>/dev/null
}
trap cleanup EXIT
trap 'echo "run.sh: interrupted" >&2; exit 130' INT TERM

mount -t tmpfs -o "size=${TMPFS_MIB}m,mode=0755" cfs-bench "$T" || die "cannot mount a tmpfs on $T"
MOUNTS+=("$T")
declare -A DIR       # filesystem -> directory the workloads use
declare -A PID       # filesystem -> daemon pid (FUSE ones)
declare -A NOTE      # filesystem -> why it was skipped

wait_mount() { for _ in $(seq 1 100); do mountpoint -q "$1" && return 0; sleep 0.05; done; return 1; }

setup_raw() { mkdir -p "$T/raw/data" && DIR[raw]=$T/raw/data; }

setup_bindfs() {
	command -v bindfs >/dev/null || { NOTE[bindfs]="bindfs not installed"; return 1; }
	mkdir -p "$T/bindfs/back" "$T/bindfs/mnt"
	bindfs --multithreaded "$T/bindfs/back" "$T/bindfs/mnt" 2>"$T/bindfs/err" || {
		NOTE[bindfs]="bindfs failed: $(head -c 200 "$T/bindfs/err")"; return 1; }
	MOUNTS+=("$T/bindfs/mnt")
	wait_mount "$T/bindfs/mnt" || { NOTE[bindfs]="bindfs did not mount"; return 1; }
	PID[bindfs]=$(pgrep -n -f "^bindfs --multithreaded $T/bindfs/back" || true)
	DIR[bindfs]=$T/bindfs/mnt
}

setup_gocryptfs() {
	command -v gocryptfs >/dev/null || { NOTE[gocryptfs]="gocryptfs not installed"; return 1; }
	local g=$T/gocryptfs
	mkdir -p "$g/cipher" "$g/mnt"
	gocryptfs -init -q -extpass 'echo pw' -scryptn 10 "$g/cipher" >"$g/init.log" 2>&1 || {
		NOTE[gocryptfs]="gocryptfs -init failed: $(tail -n 2 "$g/init.log" | tr '\n' ' ')"; return 1; }
	gocryptfs -q -extpass 'echo pw' "$g/cipher" "$g/mnt" >"$g/mount.log" 2>&1 || {
		NOTE[gocryptfs]="gocryptfs mount failed: $(tail -n 2 "$g/mount.log" | tr '\n' ' ')"; return 1; }
	MOUNTS+=("$g/mnt")
	wait_mount "$g/mnt" || { NOTE[gocryptfs]="gocryptfs did not mount"; return 1; }
	PID[gocryptfs]=$(pgrep -n -f "gocryptfs.* $g/cipher $g/mnt" || true)
	DIR[gocryptfs]=$g/mnt
}

setup_fusefloor() {
	local f=$T/fusefloor
	mkdir -p "$f/back" "$f/mnt"
	"$B/bench/fusefloor" "$f/back" "$f/mnt" 2>"$f/err" || {
		NOTE[fusefloor]="fusefloor failed: $(head -c 200 "$f/err")"; return 1; }
	MOUNTS+=("$f/mnt")
	wait_mount "$f/mnt" || { NOTE[fusefloor]="fusefloor did not mount"; return 1; }
	PID[fusefloor]=$(pgrep -n -f "fusefloor $f/back" || true)
	DIR[fusefloor]=$f/mnt
}

# coachfs_config DIR READS [HIDE]: tests/bench/config.sh
. "$(dirname "$0")/config.sh"

setup_coachfs_as() {   # NAME READS [HIDE]
	local name=$1 d=$T/$1
	mkdir -p "$d/mnt" "$d/var"
	coachfs_config "$d" "$2" "${3:-yes}"
	"$B/bin/coach-admin" -c "$d/coachfs.ini" init --kdf interactive >"$d/init.log" 2>&1 || {
		NOTE[$name]="coach-admin init failed: $(tail -n 2 "$d/init.log" | tr '\n' ' ')"; return 1; }
	"$B/bin/coachfs" -c "$d/coachfs.ini" "$d/mnt" 2>"$d/mount.err" || {
		NOTE[$name]="coachfs could not mount: $(head -c 300 "$d/mount.err")"; return 1; }
	MOUNTS+=("$d/mnt")
	PID[$name]=$(pgrep -n -f "^$B/bin/coachfs -c $d/coachfs.ini $d/mnt\$" || true)
	[ -n "${PID[$name]}" ] && DAEMONS+=("${PID[$name]}")
	DIR[$name]=$d/mnt
}
setup_coachfs() { setup_coachfs_as coachfs every; }
setup_coachfs_open() { setup_coachfs_as coachfs_open open; }
setup_coachfs_nohide() { setup_coachfs_as coachfs_nohide every no; }
# Workloads a filesystem runs (default: all).
declare -A ONLY=([coachfs_nohide]="openclose openclose4 create")
runs() { [ -z "${ONLY[$1]:-}" ] || [[ " ${ONLY[$1]} " == *" $2 "* ]]; }

# ---- measuring ---------------------------------------------------------------

declare -A R          # "fs|metric" -> space-separated values
declare -A FAILED     # "fs|metric" -> first error
add() { R["$1|$2"]="${R["$1|$2"]:-}${R["$1|$2"]:+ }$3"; }
failed() { [ -n "${FAILED["$1|$2"]:-}" ] || FAILED["$1|$2"]=$(echo "$3" | tr '\n' ' ' | head -c 200); }
drop() { sync; echo 3 >/proc/sys/vm/drop_caches; }
now() { echo "$EPOCHREALTIME"; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.6f", b - a }'; }
mbps() { awk -v m="$1" -v s="$2" 'BEGIN { printf "%.1f", m * 1048576 / s / 1e6 }'; }

# timed FS METRIC CMD... — wall time of CMD in seconds into $TIMED; 1 on failure
timed() {
	local fs=$1 m=$2 t0 t1 out
	shift 2
	t0=$(now)
	if ! out=$("$@" 2>&1 >/dev/null); then
		failed "$fs" "$m" "$* : $out"
		return 1
	fi
	t1=$(now)
	TIMED=$(elapsed "$t0" "$t1")
}

fio_iops() {   # FILE JOBS -> IOPS on stdout
	fio --name=randread --filename="$1" --rw=randread --bs=4k --ioengine=psync --iodepth=1 \
	    --numjobs="$2" --size="${RAND_MIB}M" --runtime="$RAND_TIME" --time_based --direct=1 \
	    --group_reporting --output-format=json 2>"$T/fio.err" |
		python3 -c 'import json, sys; print("%.0f" % json.load(sys.stdin)["jobs"][0]["read"]["iops"])'
}

prepare() {   # FS — files the read workloads share across repetitions
	local d=${DIR[$1]}
	dd if=/dev/urandom of="$d/rand.bin" bs=1M count="$RAND_MIB" status=none conv=fsync || return 1
	head -c 4096 /dev/urandom >"$d/one.bin" || return 1
}

one_rep() {   # FS
	local fs=$1 d=${DIR[$1]} v out n
	# sequential write, then cold sequential reads of what was written
	rm -f "$d/seq.bin"
	drop
	if runs "$fs" write && timed "$fs" write dd if=/dev/zero of="$d/seq.bin" bs=1M count="$SIZE_MIB" conv=fsync; then
		add "$fs" write "$(mbps "$SIZE_MIB" "$TIMED")"
		drop
		timed "$fs" read1m dd if="$d/seq.bin" of=/dev/null bs=1M && add "$fs" read1m "$(mbps "$SIZE_MIB" "$TIMED")"
		drop
		timed "$fs" read4k dd if="$d/seq.bin" of=/dev/null bs=4k && add "$fs" read4k "$(mbps "$SIZE_MIB" "$TIMED")"
	fi
	rm -f "$d/seq.bin"
	# random 4 KiB reads, O_DIRECT, qd1, one job and four
	for j in 1 4; do
		runs "$fs" "rand$j" || continue
		drop
		if v=$(fio_iops "$d/rand.bin" "$j") && [ -n "$v" ]; then
			add "$fs" "rand$j" "$v"
		else
			failed "$fs" "rand$j" "fio: $(tail -n 3 "$T/fio.err")"
		fi
	done
	# open+close of one file
	if ! runs "$fs" openclose; then :
	elif out=$("$B/bench/openclose" "$d/one.bin" "$NOPENS" 2>&1); then
		add "$fs" openclose "$(echo "$out" | awk '{ print $2 }')"
	else
		failed "$fs" openclose "$out"
	fi
	# the same from four processes at once (coachfs groups their audit rows)
	if ! runs "$fs" openclose4; then :
	elif out=$("$B/bench/openclose" "$d/one.bin" "$((NOPENS / 4))" 4 2>&1); then
		add "$fs" openclose4 "$(echo "$out" | awk '{ print $2 }')"
	else
		failed "$fs" openclose4 "$out"
	fi
	# many small files: create, read back, ls -l, rm -rf
	rm -rf "$d/small"
	drop
	if ! runs "$fs" create; then :
	elif out=$("$B/bench/smallfiles" create "$d/small" "$NFILES" 4096 2>&1); then
		add "$fs" create "$(echo "$out" | awk '{ print $3 }')"
		drop
		if ! runs "$fs" readback; then :
		elif out=$("$B/bench/smallfiles" read "$d/small" "$NFILES" 4096 2>&1); then
			add "$fs" readback "$(echo "$out" | awk '{ print $3 }')"
		else
			failed "$fs" readback "$out"
		fi
		drop
		if ! runs "$fs" ls; then :
		elif timed "$fs" ls ls -l "$d/small"; then
			n=$(ls "$d/small" | wc -l)
			if [ "$n" = "$NFILES" ]; then add "$fs" ls "$TIMED"; else failed "$fs" ls "ls listed $n of $NFILES files"; fi
		fi
		drop
		if timed "$fs" rm rm -rf "$d/small"; then
			if [ -e "$d/small" ]; then failed "$fs" rm "rm -rf left $d/small behind"; else add "$fs" rm "$TIMED"; fi
		fi
	else
		failed "$fs" create "$out"
	fi
	rm -rf "$d/small" 2>/dev/null
}

# ---- the run -----------------------------------------------------------------

START=$(now)
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
mem=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
ver_coachfs=$("$B/bin/coachfs" --version 2>&1 | head -n 1)
ver_gocryptfs=$(gocryptfs -version 2>/dev/null | head -n 1 | cut -d';' -f1-2)
ver_bindfs=$(bindfs --version 2>/dev/null | head -n 1)
ver_fio=$(fio --version 2>/dev/null)
ver_kernel=$(uname -r)
ver_fuse=$(fusermount3 --version 2>&1 | head -n 1)

echo "coachfs benchmark: $REPS repetitions, ${SIZE_MIB} MiB sequential, ${RAND_MIB} MiB x ${RAND_TIME}s random, $NFILES small files, $NOPENS opens"
echo "machine: $cpu, $(nproc) cores, $mem, kernel $ver_kernel; tmpfs ${TMPFS_MIB} MiB at $T"
echo "load average: $LOAD0$(awk -v l="${LOAD0%% *}" 'BEGIN { if (l > 1) print " (busy machine: expect noisy numbers)" }')"

ACTIVE=()
for fs in $FS_LIST; do
	if ! declare -F "setup_$fs" >/dev/null; then
		echo "run.sh: unknown filesystem '$fs' in BENCH_FS (raw bindfs gocryptfs fusefloor coachfs coachfs_open coachfs_nohide)" >&2
		exit 2
	fi
	if "setup_$fs" && prepare "$fs"; then
		ACTIVE+=("$fs")
	else
		[ -n "${NOTE[$fs]:-}" ] || NOTE[$fs]="preparing its files failed"
		echo "skipping $fs: ${NOTE[$fs]}"
	fi
done
for fs in "${ACTIVE[@]}"; do
	[ -n "${PID[$fs]:-}" ] && echo "  $fs: ${DIR[$fs]} (daemon pid ${PID[$fs]})"
done

for ((rep = 1; rep <= REPS; rep++)); do
	for fs in "${ACTIVE[@]}"; do
		t0=$(now)
		one_rep "$fs"
		printf '  rep %d/%d %-13s %6.1f s\n' "$rep" "$REPS" "$fs" "$(elapsed "$t0" "$(now)")"
	done
done

# audit writer alone, and Argon2id unlock at the default (moderate) limits
AUDIT_NOTE=
if [ -x "$B/bench/bench_audit" ]; then
	for ((rep = 1; rep <= REPS; rep++)); do
		if out=$("$B/bench/bench_audit" 2>&1); then
			add audit rows "$(echo "$out" | awk '{ print $3 }')"
		else
			failed audit rows "$out"
		fi
	done
else
	AUDIT_NOTE="skipped: $B/bench/bench_audit is not built"
fi
UNLOCK_NOTE=
if [ -x "$B/bench/bench_unlock" ]; then
	u=$T/unlock
	mkdir -p "$u/var" "$u/mnt"
	coachfs_config "$u" every
	if "$B/bin/coach-admin" -c "$u/coachfs.ini" init >"$u/init.log" 2>&1; then
		for ((rep = 1; rep <= REPS; rep++)); do
			if out=$("$B/bench/bench_unlock" "$u/store/coachfs.hdr" "$u/passphrase" 2>&1); then
				add unlock ms "$(echo "$out" | awk '{ print $2 }')"
			else
				failed unlock ms "$out"
			fi
		done
	else
		UNLOCK_NOTE="coach-admin init failed: $(tail -n 1 "$u/init.log")"
	fi
else
	UNLOCK_NOTE="skipped: $B/bench/bench_unlock is not built"
fi

# ---- the report ----------------------------------------------------------------

# stat VALUES -> "median min max" (nothing for no values)
stat() {
	[ -n "$1" ] || return 0
	echo "$1" | tr ' ' '\n' | sort -g | awk '{ v[NR] = $1 } END {
		m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		print m, v[1], v[NR] }'
}
fmt() {   # VALUE -> short number
	awk -v x="$1" 'BEGIN { a = x < 0 ? -x : x
		if (a >= 1000) printf "%.0f", x; else if (a >= 100) printf "%.1f", x;
		else if (a >= 1) printf "%.2f", x; else printf "%.3f", x }'
}
cell() {   # FS METRIC
	local s
	s=$(stat "${R["$1|$2"]:-}")
	if [ -z "$s" ]; then
		[ -n "${FAILED["$1|$2"]:-}" ] && echo "failed" || echo "-"
		return
	fi
	set -- $s
	if [ "$REPS" -gt 1 ]; then echo "$(fmt "$1") ($(fmt "$2")–$(fmt "$3"))"; else fmt "$1"; fi
}
median() { local s; s=$(stat "${R["$1|$2"]:-}"); [ -n "$s" ] && echo "${s%% *}"; }
# per_rep FS METRIC — FS / gocryptfs in each repetition ("0.91 1.04 1.12");
# nothing when a repetition failed on either side (the pairs would not line up)
per_rep() {
	local c=${R["$1|$2"]:-} g=${R["gocryptfs|$2"]:-}
	[ -n "$c" ] && [ -n "$g" ] || return 0
	awk -v c="$c" -v g="$g" -v n="$REPS" 'BEGIN {
		if (split(c, a, " ") != n || split(g, b, " ") != n) exit
		for (i = 1; i <= n; i++) if (b[i] <= 0) exit
		for (i = 1; i <= n; i++) printf "%s%.2f", (i > 1 ? " " : ""), a[i] / b[i]
		print "" }'
}

METRICS="write read1m read4k rand1 rand4 openclose openclose4 create readback ls rm"
declare -A LABEL=(
	[write]="seq write ${SIZE_MIB} MiB (dd 1 MiB, fsync)" [read1m]="cold seq read, 1 MiB requests"
	[read4k]="cold seq read, 4 KiB requests" [rand1]="random 4 KiB reads, qd1, 1 job"
	[rand4]="random 4 KiB reads, qd1, 4 jobs" [openclose]="open+close, one file"
	[openclose4]="open+close, 4 processes at once (per pair)"
	[create]="create $NFILES x 4 KiB files" [readback]="read back $NFILES files (cold)"
	[ls]="ls -l of $NFILES files (cold)" [rm]="rm -rf of $NFILES files")
declare -A UNIT=([write]=MB/s [read1m]=MB/s [read4k]=MB/s [rand1]=IOPS [rand4]=IOPS [openclose]=µs [openclose4]=µs
	[create]=s [readback]=s [ls]=s [rm]=s)
declare -A HIGHER=([write]=1 [read1m]=1 [read4k]=1 [rand1]=1 [rand4]=1)

report() {
	local fs m hdr sep row c g r o e
	echo "## coachfs benchmark, $(date -u +%Y-%m-%dT%H:%MZ)"
	echo
	echo "- machine: $cpu, $(nproc) cores, $mem RAM, kernel $ver_kernel; load average at start $LOAD0, at end $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "- versions: $ver_coachfs; $ver_gocryptfs; $ver_bindfs; $ver_fio; $ver_fuse"
	echo "- all over one tmpfs; coachfs: cipher $(grep -o 'aes256gcm\|xchacha20poly1305' "$T/coachfs/init.log" 2>/dev/null | head -n 1 || echo '?'), 4 KiB chunks, hide_denied = yes, caller in role responder (not admin), audit.db on the same tmpfs"
	echo "- gocryptfs -scryptn 10 (defaults otherwise); bindfs --multithreaded; raw = a directory on the tmpfs; fusefloor = a bare libfuse passthrough with direct_io (no crypto, decision or audit): the floor under coachfs"
	echo "- $REPS repetitions: median (min–max). Random reads: fio psync, O_DIRECT, ${RAND_MIB} MiB file, ${RAND_TIME} s each"
	echo
	hdr="| workload | unit |"
	sep="|---|---|"
	for fs in "${ACTIVE[@]}"; do
		case $fs in coachfs) hdr="$hdr coachfs (reads=every) |" ;; coachfs_open) hdr="$hdr coachfs (reads=open) |" ;;
		coachfs_nohide) hdr="$hdr coachfs (hide_denied=no) |" ;; *) hdr="$hdr $fs |" ;; esac
		sep="$sep---|"
	done
	echo "$hdr coachfs / gocryptfs |"
	echo "$sep---|"
	for m in $METRICS; do
		row="| ${LABEL[$m]} | ${UNIT[$m]} |"
		for fs in "${ACTIVE[@]}"; do row="$row $(cell "$fs" "$m") |"; done
		c=$(median coachfs "$m"); g=$(median gocryptfs "$m")
		if [ -n "$c" ] && [ -n "$g" ]; then
			r=$(awk -v c="$c" -v g="$g" 'BEGIN { printf "%.2f×", c / g }')
			if [ -n "${HIGHER[$m]:-}" ]; then r="$r (speed)"; else r="$r (time)"; fi
		else
			r="-"
		fi
		echo "$row $r |"
	done
	echo
	echo "| alone | unit | value |"
	echo "|---|---|---|"
	echo "| audit writer, 500,000 queued read rows | rows/s | $( [ -n "$AUDIT_NOTE" ] && echo "$AUDIT_NOTE" || cell audit rows) |"
	echo "| Argon2id unlock, default (moderate) limits | ms | $( [ -n "$UNLOCK_NOTE" ] && echo "$UNLOCK_NOTE" || cell unlock ms) |"
	echo
	echo "Ratios are of medians: (speed) = coachfs throughput / gocryptfs throughput, higher is"
	echo "better for coachfs; (time) = coachfs time / gocryptfs time, lower is better."
	echo
	echo "### targets (against gocryptfs in this run)"
	echo
	echo "The verdict is the ratio of the medians; each repetition's ratio (the two measured"
	echo "in the same round, minutes apart) shows how far this machine's noise moves it."
	echo
	echo "| target | measured | each repetition | |"
	echo "|---|---|---|---|"
	target() {   # LABEL METRIC OP LIMIT [COACHFS-VARIANT]
		local c g r ok reps
		c=$(median "${5:-coachfs}" "$2"); g=$(median gocryptfs "$2")
		if [ -z "$c" ] || [ -z "$g" ]; then echo "| $1 | not measured | - | - |"; return; fi
		r=$(awk -v c="$c" -v g="$g" 'BEGIN { printf "%.2f", c / g }')
		ok=$(awk -v r="$r" -v l="$4" -v op="$3" 'BEGIN { print ((op == ">=" ? r >= l : r <= l) ? "met" : "not met") }')
		reps=$(per_rep "${5:-coachfs}" "$2")
		if [ -n "$reps" ]; then
			ok="$ok ($(echo "$reps" | awk -v l="$4" -v op="$3" '{ k = 0
				for (i = 1; i <= NF; i++) k += (op == ">=") ? ($i >= l) : ($i <= l)
				printf "%d of %d repetitions", k, NF }'))"
			reps=$(echo "$reps" | sed 's/ /×, /g; s/$/×/')
		fi
		echo "| $1 | ${r}× | ${reps:--} | $ok |"
	}
	target "cold seq read 1 MiB ≥ 1.5×" read1m ">=" 1.5
	target "seq write ≥ 1.5×" write ">=" 1.5
	target "cold seq read 4 KiB requests ≥ 1.0×, reads audited per open" read4k ">=" 1.0 coachfs_open
	target "cold seq read 4 KiB requests ≥ 0.5×, every read audited" read4k ">=" 0.5
	target "random 4 KiB reads ≥ 1.2× (1 job)" rand1 ">=" 1.2
	target "random 4 KiB reads ≥ 1.2× (4 jobs)" rand4 ">=" 1.2
	target "open+close time ≤ 1.0×, hide_denied = no" openclose "<=" 1.0 coachfs_nohide
	target "open+close time ≤ 1.3×, hide_denied = yes" openclose "<=" 1.3
	target "$NFILES small-file create time ≤ 1.0×" create "<=" 1.0
	target "(floor: a bare direct_io passthrough) cold seq read 4 KiB requests" read4k ">=" 0.5 fusefloor
	target "(floor: a bare direct_io passthrough) open+close time" openclose "<=" 1.0 fusefloor
	a=$(median audit rows)
	if [ -n "$a" ]; then
		echo "| audit writer ≥ 200,000 rows/s | $(fmt "$a") rows/s | - | $(awk -v a="$a" 'BEGIN { print (a >= 200000 ? "met" : "not met") }') |"
	else
		echo "| audit writer ≥ 200,000 rows/s | not measured | - | - |"
	fi
	for m in read1m read4k rand1 rand4; do
		e=$(median coachfs "$m"); o=$(median coachfs_open "$m")
		if [ -z "$e" ] || [ -z "$o" ]; then
			echo "| reads=every vs reads=open ≤ 10% slower (${LABEL[$m]}) | not measured | - | - |"
			continue
		fi
		r=$(awk -v e="$e" -v o="$o" 'BEGIN { printf "%.1f", (o - e) / o * 100 }')
		echo "| reads=every vs reads=open ≤ 10% slower (${LABEL[$m]}) | $(awk -v r="$r" 'BEGIN { if (r < 0) printf "%.1f%% faster", -r; else printf "%.1f%% slower", r }') | - | $(awk -v r="$r" 'BEGIN { print (r <= 10 ? "met" : "not met") }') |"
	done
	local any=0 k
	for k in "${!FAILED[@]}"; do
		[ $any = 1 ] || { echo; echo "### failures"; echo; }
		any=1
		echo "- ${k/|/ }: ${FAILED[$k]}"
	done
	for k in "${!NOTE[@]}"; do
		[ $any = 1 ] || { echo; echo "### notes"; echo; }
		any=1
		echo "- skipped $k: ${NOTE[$k]}"
	done
	echo
	echo "(run took $(printf '%.0f' "$(elapsed "$START" "$(now)")") s)"
}

mkdir -p "$(dirname "$OUT")"
echo
report | tee "$OUT"
echo "(report saved to $OUT)"
[ -z "${FAILED[*]:-}" ]
