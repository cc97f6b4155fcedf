#!/bin/sh
# Build every tests/fuzz/fuzz_*.c as a libFuzzer target (clang, ASan+UBSan)
# linked with the library sources (fs/*.c but main.c and the FUSE glue ops*.c), then run
# each for SECONDS (default 30) on a working copy of its seed corpus
# tests/fuzz/corpus/<target>/ (new inputs land in build/fuzz/corpus/<target>/,
# crashes in build/fuzz/crash/<target>/). A tests/fuzz/<target>.dict is used
# as the dictionary when present. Exits non-zero if any target fails to build
# or finds a crash, leak or sanitizer error.
#   tests/fuzz/run.sh [SECONDS]        FUZZ_TARGETS="fuzz_config" to pick some
set -u
secs=${1:-30}
case "$secs" in ''|*[!0-9]*) echo "run.sh: SECONDS must be a number, not '$secs'" >&2; exit 2 ;; esac
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 2
CC=${FUZZ_CC:-clang}
command -v "$CC" >/dev/null 2>&1 || { echo "run.sh: $CC not found (sh tools/deps.sh --fuzz)" >&2; exit 2; }
PKGS="fuse3 libsodium sqlite3 inih"
pkg_cflags=$(pkg-config --cflags $PKGS) || exit 2
pkg_libs=$(pkg-config --libs $PKGS) || exit 2
B=build/fuzz
SAN="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
CFLAGS="-g -O1 -std=c11 -D_GNU_SOURCE -pthread -Iinclude $pkg_cflags $SAN"
mkdir -p "$B/obj" || exit 2

# The library, once, instrumented for coverage (no libFuzzer main).
objs=""
for src in fs/*.c; do
	case "$src" in fs/main.c|fs/ops*.c) continue ;; esac
	obj="$B/obj/$(basename "$src" .c).o"
	if ! "$CC" $CFLAGS -fsanitize=fuzzer-no-link -c -o "$obj" "$src"; then
		echo "FAIL fuzz: cannot compile $src"
		exit 1
	fi
	objs="$objs $obj"
done

fail=0 ran=0
for src in tests/fuzz/fuzz_*.c; do
	[ -f "$src" ] || continue
	t=$(basename "$src" .c)
	if [ -n "${FUZZ_TARGETS:-}" ]; then
		case " $FUZZ_TARGETS " in *" $t "*) ;; *) continue ;; esac
	fi
	# shellcheck disable=SC2086
	if ! "$CC" $CFLAGS -fsanitize=fuzzer -o "$B/$t" "$src" $objs $pkg_libs -pthread; then
		echo "FAIL fuzz $t: does not build"
		fail=$((fail + 1))
		continue
	fi
	work="$B/corpus/$t"
	crash="$B/crash/$t"
	mkdir -p "$work" "$crash"
	if [ -d "tests/fuzz/corpus/$t" ]; then
		cp -R "tests/fuzz/corpus/$t/." "$work/"
	fi
	dict=""
	[ -f "tests/fuzz/$t.dict" ] && dict="-dict=tests/fuzz/$t.dict"
	log="$B/$t.log"
	ran=$((ran + 1))
	# shellcheck disable=SC2086
	"./$B/$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$crash/" $dict "$work" >"$log" 2>&1
	rc=$?
	stats=$(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}')
	if [ $rc != 0 ]; then
		echo "FAIL fuzz $t: exit $rc after ${stats:-?} runs; artifacts in $crash/, log $log"
		grep -E 'ERROR|SUMMARY|runtime error|Test unit written' "$log" | head -n 10 | sed 's/^/  | /'
		fail=$((fail + 1))
	else
		echo "PASS fuzz $t: ${stats:-?} runs in ${secs}s, corpus $(ls "$work" | wc -l) files"
	fi
done
[ $ran -gt 0 ] || [ $fail -gt 0 ] || { echo "FAIL fuzz: no targets found"; exit 1; }
[ $fail = 0 ]
