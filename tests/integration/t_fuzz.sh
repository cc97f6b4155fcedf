#!/bin/bash
# Every libFuzzer target in tests/fuzz for a short bound (CFS_FUZZ_SECONDS,
# default 5 s each, ~60 s for all) in make test: one PASS or FAIL line per target.
# No clang means FAIL, never a silent skip (sh tools/deps.sh --fuzz).
set -u
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
secs=${CFS_FUZZ_SECONDS:-5}
out=$(sh "$TOP/tests/fuzz/run.sh" "$secs" 2>&1)
rc=$?
# run.sh says "PASS fuzz NAME: ..." / "FAIL fuzz NAME: ..." (and "FAIL fuzz: ...")
echo "$out" | sed -n -e 's/^PASS fuzz \([^:]*\): /PASS t_fuzz.\1: /p' \
	-e 's/^FAIL fuzz \([^:]*\): /FAIL t_fuzz.\1: /p' -e 's/^FAIL fuzz: /FAIL t_fuzz.run: /p' \
	-e 's/^  | /  | /p'
n=$(echo "$out" | grep -c '^PASS fuzz ')
if [ $rc != 0 ] && ! echo "$out" | grep -q '^FAIL fuzz'; then
	echo "FAIL t_fuzz.run: tests/fuzz/run.sh exited $rc: $(echo "$out" | tail -n 3 | tr '\n' ' ')"
fi
for t in "$TOP"/tests/fuzz/fuzz_*.c; do
	name=$(basename "$t" .c)
	echo "$out" | grep -q -E "^(PASS|FAIL) fuzz $name:" ||
		echo "FAIL t_fuzz.$name: not run"
done
[ "$n" -gt 0 ] || echo "FAIL t_fuzz.run: no fuzz target passed"
exit $rc
