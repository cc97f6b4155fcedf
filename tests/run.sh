#!/bin/sh
# Run the unit test binaries and the integration scripts, count PASS/FAIL
# lines, and end with "N passed, N failed". A binary or script that exits
# non-zero without reporting a FAIL counts as one failure (a crash, a
# sanitizer report, a mount that never came up).
#   tests/run.sh BUILD_DIR [unit|integration] [NAME-FILTER]
# NAME-FILTER (else $TESTS): words; a test runs when its name contains one.
B=${1:-build}
which=${2:-all}
filter=${3:-${TESTS:-}}
top=$(cd "$(dirname "$0")/.." && pwd)
out=$(mktemp)
trap 'rm -f "$out"' EXIT
pass=0 fail=0

run_one() { # name, command...
	name=$1; shift
	"$@" >"$out" 2>"$out.err"
	rc=$?
	cat "$out"
	p=$(grep -c '^PASS ' "$out"); f=$(grep -c '^FAIL ' "$out")
	pass=$((pass + p)); fail=$((fail + f))
	if [ $rc != 0 ] && [ "$f" = 0 ]; then
		echo "FAIL $name: exited with status $rc"
		fail=$((fail + 1))
	fi
	if [ $rc != 0 ] || [ "$f" != 0 ]; then sed 's/^/  | /' "$out.err" | tail -n 40; fi
	rm -f "$out.err"
}

selected() { # name: does it contain one of the filter's words (or no filter)?
	[ -z "$filter" ] && return 0
	for w in $filter; do
		case "$1" in *"$w"*) return 0 ;; esac
	done
	return 1
}

if [ "$which" = all ] || [ "$which" = unit ]; then
	for t in "$B"/tests/test_*; do
		[ -x "$t" ] || continue
		selected "$(basename "$t")" || continue
		run_one "$(basename "$t")" "$t"
	done
fi
if [ "$which" = all ] || [ "$which" = integration ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "FAIL integration: the integration tests mount FUSE and create users; run as root"
		fail=$((fail + 1))
	else
		for t in "$top"/tests/integration/t_*.sh; do
			[ -f "$t" ] || continue
			selected "$(basename "$t" .sh)" || continue
			run_one "$(basename "$t" .sh)" env CFS_BUILD="$(cd "$B" && pwd)" bash "$t"
		done
	fi
fi
echo "$pass passed, $fail failed"
[ $fail = 0 ]
