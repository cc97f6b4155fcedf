#!/bin/bash
# perop.sh BUILD [BUILD2 ...] — per-operation cost of the coachfs daemon in
# counts that do not depend on the machine's load: daemon CPU time
# (utime+stime from /proc/PID/stat) and syscalls (strace -c -f) per
# operation, for open+close (hide_denied = yes and no), creating 4 KiB files
# and 4 KiB sequential reads with every read audited. Each BUILD (a build
# directory with bin/ and bench/) is mounted on its own tmpfs directory with
# the configuration of tests/bench/run.sh (config.sh: caller root in role
# responder only); with several builds the runs alternate (A/B). Wall time
# is printed too but moves with the load; the CPU and syscall columns are
# what to compare. Knobs: PEROP_REPS (3), PEROP_OPENS (4000), PEROP_FILES
# (1000), PEROP_READ_MIB (16), PEROP_STRACE (1: also count syscalls).
# Run as root. Owns nothing outside its tmpfs, which is undone on exit.
set -eu
[ "$(id -u)" = 0 ] || { echo "perop.sh: run as root" >&2; exit 2; }
[ $# -ge 1 ] || { echo "usage: perop.sh BUILD [BUILD2 ...]" >&2; exit 2; }
REPS=${PEROP_REPS:-3}
NOPENS=${PEROP_OPENS:-4000}
NFILES=${PEROP_FILES:-1000}
RMIB=${PEROP_READ_MIB:-16}
STRACE=${PEROP_STRACE:-1}
TOP=$(cd "$(dirname "$0")/../.." && pwd)
T=$(mktemp -d /tmp/cfs-perop.XXXXXX)
MOUNTS=()
cleanup() {
	for m in "${MOUNTS[@]}"; do fusermount3 -u "$m" 2>/dev/null || fusermount3 -uz "$m" 2>/dev/null; done
	sleep 0.3
	umount "$T" 2>/dev/null || umount -l "$T" 2>/dev/null
	rmdir "$T" 2>/dev/null || true
}
trap cleanup EXIT
mount -t tmpfs -o size=1024m,mode=0755 cfs-perop "$T"
HZ=$(getconf CLK_TCK)
. "$TOP/tests/bench/config.sh"

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# mount_one NAME BUILD HIDE — a store and mount under $T/NAME; prints the pid
mount_one() {
	local d=$T/$1 b=$2
	mkdir -p "$d/mnt" "$d/var"
	coachfs_config "$d" every "$3"
	"$b/bin/coach-admin" -c "$d/coachfs.ini" init --kdf interactive >"$d/init.log" 2>&1
	"$b/bin/coachfs" -c "$d/coachfs.ini" "$d/mnt"
	MOUNTS+=("$d/mnt")
	pgrep -n -f "^$b/bin/coachfs -c $d/coachfs.ini $d/mnt\$"
}

# measure PID OPS CMD... — "cpu_us_per_op wall_us_per_op" of CMD
measure() {
	local pid=$1 ops=$2; shift 2
	local c0 c1 t0 t1
	c0=$(cpu_ticks "$pid"); t0=$(date +%s%N)
	"$@" >/dev/null
	t1=$(date +%s%N); c1=$(cpu_ticks "$pid")
	awk -v c=$((c1 - c0)) -v t=$((t1 - t0)) -v n="$ops" -v hz="$HZ" \
		'BEGIN { printf "%.1f %.1f", c * 1e6 / hz / n, t / 1e3 / n }'
}

# syscalls PID OPS CMD... — daemon syscalls per op while CMD runs, and the top ones
syscalls() {
	local pid=$1 ops=$2 out=$T/strace.$$; shift 2
	strace -c -f -q -p "$pid" -o "$out" &
	local sp=$!
	sleep 0.5
	"$@" >/dev/null
	sleep 0.2
	kill -INT "$sp"; wait "$sp" 2>/dev/null || true
	awk -v n="$ops" '$1 ~ /^[0-9.]+$/ && $NF != "total" { printf "%s %.2f\n", $NF, $4 / n }
		$NF == "total" { printf "total %.2f\n", $4 / n }' "$out" | sort -k2,2 -g -r |
		awk 'NR == 1 { printf "%s |", $2; next } NR <= 9 { printf " %s %s", $1, $2 }'
	rm -f "$out"
}

i=0
for b in "$@"; do
	b=$(cd "$b" && pwd)
	i=$((i + 1))
	PIDY[$i]=$(mount_one "y$i" "$b" yes)
	PIDN[$i]=$(mount_one "n$i" "$b" no)
	BUILD[$i]=$b
	head -c 4096 /dev/urandom >"$T/y$i/mnt/one.bin"
	cp "$T/y$i/mnt/one.bin" "$T/n$i/mnt/one.bin"
	dd if=/dev/urandom of="$T/y$i/mnt/big.bin" bs=1M count="$RMIB" status=none
done

echo "| build | metric | daemon CPU µs/op (per rep) | wall µs/op (per rep) |"
echo "|---|---|---|---|"
for metric in openclose_hide openclose_nohide create read4k; do
	declare -A CPU=() WALL=()
	for r in $(seq 1 "$REPS"); do
		for k in $(seq 1 "$i"); do
			b=${BUILD[$k]}
			case $metric in
			openclose_hide) res=$(measure "${PIDY[$k]}" "$NOPENS" "$b/bench/openclose" "$T/y$k/mnt/one.bin" "$NOPENS") ;;
			openclose_nohide) res=$(measure "${PIDN[$k]}" "$NOPENS" "$b/bench/openclose" "$T/n$k/mnt/one.bin" "$NOPENS") ;;
			create) rm -rf "$T/y$k/mnt/c"; mkdir "$T/y$k/mnt/c"
				res=$(measure "${PIDY[$k]}" "$NFILES" "$b/bench/smallfiles" create "$T/y$k/mnt/c" "$NFILES" 4096) ;;
			read4k) echo 3 >/proc/sys/vm/drop_caches
				res=$(measure "${PIDY[$k]}" $((RMIB * 256)) dd if="$T/y$k/mnt/big.bin" of=/dev/null bs=4k status=none) ;;
			esac
			CPU[$k]="${CPU[$k]:-}${CPU[$k]:+ }${res% *}"
			WALL[$k]="${WALL[$k]:-}${WALL[$k]:+ }${res#* }"
		done
	done
	for k in $(seq 1 "$i"); do
		echo "| $k | $metric | ${CPU[$k]} | ${WALL[$k]} |"
	done
done
[ "$STRACE" = 1 ] || exit 0
echo
echo "| build | metric | daemon syscalls/op | most frequent, per op |"
echo "|---|---|---|---|"
for k in $(seq 1 "$i"); do
	b=${BUILD[$k]}
	echo "| $k | openclose_hide | $(syscalls "${PIDY[$k]}" 1000 "$b/bench/openclose" "$T/y$k/mnt/one.bin" 1000) |"
	echo "| $k | openclose_nohide | $(syscalls "${PIDN[$k]}" 1000 "$b/bench/openclose" "$T/n$k/mnt/one.bin" 1000) |"
	rm -rf "$T/y$k/mnt/s"; mkdir "$T/y$k/mnt/s"
	echo "| $k | create | $(syscalls "${PIDY[$k]}" 500 "$b/bench/smallfiles" create "$T/y$k/mnt/s" 500 4096) |"
done
